/* zset: sorted-set storage in two encodings behind one API (see the
 * header). The listpack holds [member][score] pairs in order; the big
 * encoding keeps each element in a single allocation that an ordtree
 * orders and a dict indexes by member. */
#include "types/zset.h"

#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "base/dict.h"
#include "base/digest.h"
#include "base/util.h"
#include "ds/listpack.h"

typedef struct zbig {
    dict d; /* member -> element (the elements themselves, intrusive) */
    ordtree t;
} zbig;

static size_t max_entries = 128;
static size_t max_value = 64;

void zset_set_limits(size_t entries, size_t value)
{
    max_entries = entries;
    max_value = value;
}

/* ---- tagged pointer ---- */

static int is_big(const zset *z)
{
    return ((uintptr_t)z & 1) != 0;
}

static zbig *big(const zset *z)
{
    return (zbig *)((uintptr_t)z & ~(uintptr_t)1);
}

static lp *lpk(const zset *z)
{
    return (lp *)z;
}

static zset *from_big(zbig *b)
{
    return (zset *)((uintptr_t)b | 1);
}

static zset *from_lp(lp *l)
{
    return (zset *)l;
}

/* ---- the member dict over the tree's elements ---- */

static sv node_key(const dnode *n)
{
    return ordtree_member((const ordtree_elem *)n);
}

static const dict_type member_dict_type = {util_hash, node_key, NULL};

static zbig *big_new(void)
{
    zbig *b = alloc_mem(sizeof(*b));
    dict_init(&b->d, &member_dict_type);
    ordtree_init(&b->t);
    return b;
}

static ordtree_elem *big_find(zbig *b, sv member)
{
    return (ordtree_elem *)dict_find(&b->d, member.ptr, member.len);
}

static void big_insert(zbig *b, double score, sv member)
{
    ordtree_elem *e = ordtree_insert(&b->t, score, member);
    dict_insert(&b->d, &e->hnode);
}

/* ---- listpack helpers ---- */

static double lp_score_at(const unsigned char *p)
{
    sv s = lp_get(p);
    double d;
    memcpy(&d, s.ptr, sizeof(d));
    return d;
}

static sv score_sv(const double *d)
{
    return (sv){(const char *)d, sizeof(*d)};
}

/* The member entry of `member`, or NULL. */
static unsigned char *lp_find_member(lp *l, sv member)
{
    return lp_find(l, lp_first(l), member, 1);
}

/* Inserts the pair at its place in the order. */
static lp *lp_insert_sorted(lp *l, double score, sv member)
{
    if (score == 0) {
        score = 0; /* the compact form keeps no -0, as Redis's listpack (the skiplist form does) */
    }
    unsigned char *p = lp_first(l);
    while (p) {
        unsigned char *sp = lp_next(l, p);
        if (ordtree_cmp(lp_score_at(sp), lp_get(p), score, member) > 0) {
            break;
        }
        p = lp_next(l, sp);
    }
    unsigned char *pos;
    l = lp_insert(l, p, member, &pos);
    l = lp_insert(l, lp_next(l, pos), score_sv(&score), NULL);
    return l;
}

static lp *lp_delete_pair(lp *l, unsigned char *p)
{
    l = lp_delete(l, &p);
    l = lp_delete(l, &p);
    return l;
}

/* ---- life cycle ---- */

zset *zset_new(size_t n, size_t maxlen)
{
    if (n > max_entries || maxlen > max_value || max_entries == 0) {
        return from_big(big_new());
    }
    return from_lp(lp_new());
}

void zset_free(void *v)
{
    zset *z = v;
    if (!z) {
        return;
    }
    if (!is_big(z)) {
        lp_free(lpk(z));
        return;
    }
    zbig *b = big(z);
    /* The elements belong to the tree; the dict only links them. */
    dict_clear(&b->d, NULL, NULL);
    ordtree_destroy(&b->t);
    alloc_free(b);
}

void *zset_dup(const void *v)
{
    const zset *z = v;
    if (!is_big(z)) {
        return from_lp(lp_dup(lpk(z)));
    }
    zbig *src = big(z), *b = big_new();
    dict_reserve(&b->d, src->t.length);
    for (ordtree_pos p = ordtree_at(&src->t, 0); p.leaf; p = ordtree_pos_next(p)) {
        ordtree_elem *e = ordtree_pos_elem(p);
        big_insert(b, e->score, ordtree_member(e));
    }
    return from_big(b);
}

size_t zset_len(const zset *z)
{
    return is_big(z) ? big(z)->t.length : lp_len(lpk(z)) / 2;
}

int zset_is_listpack(const zset *z)
{
    return !is_big(z);
}

const char *zset_encoding(const zset *z)
{
    return is_big(z) ? "skiplist" : "listpack";
}

size_t zset_mem(const zset *z)
{
    if (!is_big(z)) {
        return alloc_usable(lpk(z));
    }
    zbig *b = big(z);
    size_t total = alloc_usable(b) + ordtree_node_bytes(&b->t) + dict_slots(&b->d) * sizeof(dnode *);
    /* Sample the first elements and extrapolate, so MEMORY USAGE of a huge
     * set stays cheap. */
    size_t seen = 0, bytes = 0;
    for (ordtree_pos p = ordtree_at(&b->t, 0); p.leaf && seen < 4096; p = ordtree_pos_next(p)) {
        bytes += alloc_usable(ordtree_pos_elem(p));
        seen++;
    }
    if (seen) {
        total += (size_t)((double)bytes / (double)seen * (double)b->t.length);
    }
    return total;
}

void zset_digest(const zset *z, uint8_t d[20])
{
    zset_iter it;
    sv m;
    double s;
    zset_iter_at(&it, (zset *)z, 0, 0);
    while (zset_iter_next(&it, &m, &s)) {
        uint8_t e[20] = {0};
        digest_mix(e, m.ptr, m.len);
        digest_mix_double(e, s);
        digest_xor(d, e, 20);
    }
}

zset *zset_to_skiplist(zset *z)
{
    if (is_big(z)) {
        return z;
    }
    lp *l = lpk(z);
    zbig *b = big_new();
    for (unsigned char *p = lp_first(l); p;) {
        unsigned char *sp = lp_next(l, p);
        big_insert(b, lp_score_at(sp), lp_get(p));
        p = lp_next(l, sp);
    }
    lp_free(l);
    return from_big(b);
}

/* ---- point operations ---- */

int zset_score(zset *z, sv member, double *score)
{
    if (is_big(z)) {
        ordtree_elem *e = big_find(big(z), member);
        if (!e) {
            return 0;
        }
        *score = e->score;
        return 1;
    }
    lp *l = lpk(z);
    unsigned char *p = lp_find_member(l, member);
    if (!p) {
        return 0;
    }
    *score = lp_score_at(lp_next(l, p));
    return 1;
}

zset *zset_add(zset *z, double score, sv member, int flags, int *out, double *newscore)
{
    int incr = flags & ZADD_INCR, nx = flags & ZADD_NX, xx = flags & ZADD_XX;
    int gt = flags & ZADD_GT, lt = flags & ZADD_LT;
    *out = 0;
    if (isnan(score)) {
        *out = ZADD_OUT_NAN;
        return z;
    }
    double cur;
    if (zset_score(z, member, &cur)) {
        if (nx) {
            *out = ZADD_OUT_NOP;
            return z;
        }
        if (incr) {
            score += cur;
            if (isnan(score)) {
                *out = ZADD_OUT_NAN;
                return z;
            }
        }
        if ((lt && score >= cur) || (gt && score <= cur)) {
            *out = ZADD_OUT_NOP;
            return z;
        }
        if (newscore) {
            *newscore = score;
        }
        if (score == cur) {
            return z;
        }
        if (is_big(z)) {
            zbig *b = big(z);
            ordtree_update_score(&b->t, big_find(b, member), score);
        } else {
            lp *l = lpk(z);
            l = lp_delete_pair(l, lp_find_member(l, member));
            z = from_lp(lp_insert_sorted(l, score, member));
        }
        *out = ZADD_OUT_UPDATED;
        return z;
    }
    if (xx) {
        *out = ZADD_OUT_NOP;
        return z;
    }
    if (!is_big(z) &&
        (zset_len(z) + 1 > max_entries || member.len > max_value || !lp_safe_to_add(lpk(z), member.len))) {
        z = zset_to_skiplist(z);
    }
    if (is_big(z)) {
        big_insert(big(z), score, member);
    } else {
        z = from_lp(lp_insert_sorted(lpk(z), score, member));
    }
    if (newscore) {
        *newscore = score;
    }
    *out = ZADD_OUT_ADDED;
    return z;
}

zset *zset_remove(zset *z, sv member, int *removed)
{
    *removed = 0;
    if (is_big(z)) {
        zbig *b = big(z);
        ordtree_elem *e = (ordtree_elem *)dict_unlink(&b->d, member.ptr, member.len);
        if (e) {
            ordtree_unlink(&b->t, e);
            alloc_free(e);
            *removed = 1;
        }
        return z;
    }
    lp *l = lpk(z);
    unsigned char *p = lp_find_member(l, member);
    if (p) {
        l = lp_delete_pair(l, p);
        *removed = 1;
    }
    return from_lp(l);
}

long zset_rank(zset *z, sv member, double *score)
{
    if (is_big(z)) {
        zbig *b = big(z);
        ordtree_elem *e = big_find(b, member);
        if (!e) {
            return -1;
        }
        if (score) {
            *score = e->score;
        }
        return (long)ordtree_rank(&b->t, e);
    }
    lp *l = lpk(z);
    long rank = 0;
    for (unsigned char *p = lp_first(l); p; rank++) {
        unsigned char *sp = lp_next(l, p);
        if (sv_eq(lp_get(p), member)) {
            if (score) {
                *score = lp_score_at(sp);
            }
            return rank;
        }
        p = lp_next(l, sp);
    }
    return -1;
}

/* ---- ranges ---- */

static int pred_below_min(double s, sv m, const void *ctx)
{
    const zscore_range *r = ctx;
    return r->minex ? s <= r->min : s < r->min;
}

static int pred_within_max(double s, sv m, const void *ctx)
{
    const zscore_range *r = ctx;
    return r->maxex ? s < r->max : s <= r->max;
}

int zset_lex_gte_min(sv m, const zlex_range *r)
{
    if (r->min_kind != ZLEX_VAL) {
        return r->min_kind == ZLEX_NEG;
    }
    int c = sv_cmp(m, r->min);
    return r->minex ? c > 0 : c >= 0;
}

int zset_lex_lte_max(sv m, const zlex_range *r)
{
    if (r->max_kind != ZLEX_VAL) {
        return r->max_kind == ZLEX_POS;
    }
    int c = sv_cmp(m, r->max);
    return r->maxex ? c < 0 : c <= 0;
}

int zset_pred_lex_below_min(double s, sv m, const void *ctx)
{
    return !zset_lex_gte_min(m, ctx);
}

int zset_pred_lex_within_max(double s, sv m, const void *ctx)
{
    return zset_lex_lte_max(m, ctx);
}

/* Length of the prefix satisfying pred (true on a prefix, then false). */
static size_t prefix_count(zset *z, ordtree_pred_fn pred, const void *ctx)
{
    if (is_big(z)) {
        return ordtree_prefix_count(&big(z)->t, pred, ctx);
    }
    lp *l = lpk(z);
    size_t count = 0;
    for (unsigned char *p = lp_first(l); p; count++) {
        unsigned char *sp = lp_next(l, p);
        if (!pred(lp_score_at(sp), lp_get(p), ctx)) {
            break;
        }
        p = lp_next(l, sp);
    }
    return count;
}

void zset_score_bounds(zset *z, const zscore_range *r, size_t *start, size_t *end)
{
    *start = prefix_count(z, pred_below_min, r);
    *end = prefix_count(z, pred_within_max, r);
}

void zset_lex_bounds(zset *z, const zlex_range *r, size_t *start, size_t *end)
{
    *start = prefix_count(z, zset_pred_lex_below_min, r);
    *end = prefix_count(z, zset_pred_lex_within_max, r);
}

static void free_unlinked(ordtree_elem *e, void *ctx)
{
    zbig *b = ctx;
    sv m = ordtree_member(e);
    dict_unlink(&b->d, m.ptr, m.len);
    alloc_free(e);
}

zset *zset_delete_ranks(zset *z, size_t start, size_t end)
{
    size_t len = zset_len(z);
    if (end > len) {
        end = len;
    }
    if (start >= end) {
        return z;
    }
    if (is_big(z)) {
        zbig *b = big(z);
        ordtree_delete_ranks(&b->t, start, end, free_unlinked, b);
        dict_resize_to_fit(&b->d);
        return z;
    }
    return from_lp(lp_delete_range(lpk(z), (long)(2 * start), 2 * (end - start)));
}

/* ---- iteration ---- */

void zset_iter_at(zset_iter *it, zset *z, size_t rank, int rev)
{
    it->z = z;
    it->rev = rev;
    it->p = NULL;
    it->pos = (ordtree_pos){NULL, 0};
    if (rank >= zset_len(z)) {
        return;
    }
    if (is_big(z)) {
        it->pos = ordtree_at(&big(z)->t, rank);
    } else {
        it->p = lp_seek(lpk(z), (long)(2 * rank));
    }
}

int zset_iter_next(zset_iter *it, sv *member, double *score)
{
    if (it->pos.leaf) {
        ordtree_elem *e = ordtree_pos_elem(it->pos);
        *member = ordtree_member(e);
        *score = e->score;
        it->pos = it->rev ? ordtree_pos_prev(it->pos) : ordtree_pos_next(it->pos);
        return 1;
    }
    if (it->p) {
        lp *l = lpk(it->z);
        unsigned char *sp = lp_next(l, it->p);
        *member = lp_get(it->p);
        *score = lp_score_at(sp);
        if (it->rev) {
            unsigned char *prev = lp_prev(l, it->p);
            it->p = prev ? lp_prev(l, prev) : NULL;
        } else {
            it->p = lp_next(l, sp);
        }
        return 1;
    }
    return 0;
}

void zset_iter_from_score(zset_iter *it, zset *z, double min)
{
    it->z = z;
    it->rev = 0;
    it->p = NULL;
    it->pos = (ordtree_pos){NULL, 0};
    zscore_range r = {min, 0, 0, 0};
    if (is_big(z)) {
        ordtree *t = &big(z)->t;
        it->pos = ordtree_at(t, ordtree_prefix_count(t, pred_below_min, &r));
        return;
    }
    lp *l = lpk(z);
    for (unsigned char *p = lp_first(l); p;) {
        unsigned char *sp = lp_next(l, p);
        if (lp_score_at(sp) >= min) {
            it->p = p;
            return;
        }
        p = lp_next(l, sp);
    }
}

/* ---- scan ---- */

typedef struct scan_ctx {
    void (*fn)(sv member, double score, void *ctx);
    void *ctx;
} scan_ctx;

static void scan_node(dnode *d, void *ctx)
{
    scan_ctx *sc = ctx;
    ordtree_elem *e = (ordtree_elem *)d;
    sc->fn(ordtree_member(e), e->score, sc->ctx);
}

unsigned long zset_scan(zset *z, unsigned long cursor, void (*fn)(sv member, double score, void *ctx), void *ctx)
{
    if (is_big(z)) {
        scan_ctx sc = {fn, ctx};
        return dict_scan(&big(z)->d, cursor, scan_node, &sc);
    }
    zset_iter it;
    sv m;
    double s;
    zset_iter_at(&it, z, 0, 0);
    while (zset_iter_next(&it, &m, &s)) {
        fn(m, s, ctx);
    }
    return 0;
}

/* Lex bound: "[x" inclusive, "(x" exclusive, "-" and "+" the ends. */
int zset_parse_lex_bound(sv a, sv *v, int *ex, int *kind)
{
    if (a.len == 0) {
        return 0;
    }
    *ex = 0;
    *kind = ZLEX_VAL;
    switch (a.ptr[0]) {
    case '+':
    case '-':
        if (a.len != 1) {
            return 0;
        }
        *kind = a.ptr[0] == '+' ? ZLEX_POS : ZLEX_NEG;
        *v = (sv){NULL, 0};
        return 1;
    case '(':
    case '[':
        *ex = a.ptr[0] == '(';
        *v = (sv){a.ptr + 1, a.len - 1};
        return 1;
    default: return 0;
    }
}

/* ---- active defragmentation ---- */

/* The element moves, then its dict link is found by its old address in
 * the bucket its member hashes to (the old memory is not read). */
static ordtree_elem *defrag_elem(ordtree_elem *e, void *ctx)
{
    ordtree_elem *moved = alloc_defrag(e);
    if (moved) {
        dict_relink_moved(ctx, &e->hnode, &moved->hnode);
    }
    return moved;
}

/* A listpack is one block, done in one call. The big encoding goes by
 * rank (the cursor; ordtree_defrag): its struct and dict tables move on the
 * first call, then each call offers `budget` elements in order, with the
 * tree nodes above them. */
zset *zset_defrag(zset *z, unsigned long *cursor, size_t budget)
{
    if (!is_big(z)) {
        lp *moved = alloc_defrag(lpk(z));
        *cursor = 0;
        return moved ? from_lp(moved) : z;
    }
    zbig *b = big(z);
    if (*cursor == 0) {
        zbig *moved = alloc_defrag(b);
        if (moved) {
            b = moved;
            z = from_big(b);
        }
        dict_defrag_tables(&b->d);
    }
    *cursor = ordtree_defrag(&b->t, *cursor, budget, defrag_elem, &b->d);
    return z;
}
