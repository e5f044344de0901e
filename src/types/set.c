/* set: encodings, conversions and the operations the set commands need.
 * Handles are tagged pointers: the two low bits hold SET_ENC_*, which is
 * free because every allocation is at least 8-byte aligned. */
#include "types/set.h"

#include <string.h>

#include "base/alloc.h"
#include "base/digest.h"
#include "base/log.h"
#include "base/util.h"
#include "ds/intset.h"
#include "ds/listpack.h"

#define TAG_MASK ((uintptr_t)3)

static int enc_of(const set *s)
{
    return (int)((uintptr_t)s & TAG_MASK);
}

static void *raw(const set *s)
{
    return (void *)((uintptr_t)s & ~TAG_MASK);
}

static set *tag(void *p, int enc)
{
    return (set *)((uintptr_t)p | (uintptr_t)enc);
}

#define LP(s) ((lp *)raw(s))
#define IS(s) ((intset *)raw(s))
#define HT(s) ((dict *)raw(s))

/* ---- hashtable nodes: chain link, length and bytes in one allocation ---- */

typedef struct snode {
    dnode node;
    uint32_t len; /* SNODE_LONG: a 64-bit length leads the data */
    char data[];
} snode;

/* Members of 4 GB or more (as big as Redis allows once proto-max-bulk-len
 * is raised) keep their length in 8 bytes before the member. */
#define SNODE_LONG UINT32_MAX

static sv snode_key(const dnode *n)
{
    const snode *e = (const snode *)n;
    if (e->len != SNODE_LONG) {
        return (sv){e->data, e->len};
    }
    uint64_t len;
    memcpy(&len, e->data, sizeof(len));
    return (sv){e->data + sizeof(len), (size_t)len};
}

static const dict_type snode_type = {util_hash, snode_key, NULL};

static snode *snode_new(sv m)
{
    size_t head = m.len >= SNODE_LONG ? sizeof(uint64_t) : 0;
    snode *e = alloc_mem(sizeof(snode) + head + m.len);
    e->node.next = NULL;
    e->len = head ? SNODE_LONG : (uint32_t)m.len;
    if (head) {
        uint64_t len = m.len;
        memcpy(e->data, &len, sizeof(len));
    }
    if (m.len) {
        memcpy(e->data + head, m.ptr, m.len);
    }
    return e;
}

static void snode_free(dnode *n, void *ctx)
{
    (void)ctx;
    alloc_free(n);
}

static dict *ht_new(void)
{
    dict *d = alloc_mem(sizeof(dict));
    dict_init(d, &snode_type);
    return d;
}

static int parse_int(sv m, long long *v)
{
    return m.len <= 20 && util_parse_ll(m.ptr, m.len, v);
}

static sv int_sv(int64_t v, char *buf)
{
    return (sv){buf, (size_t)util_ll2str(buf, v)};
}

/* ---- life ---- */

set *set_new_intset(void)
{
    return tag(intset_new(), SET_ENC_INTSET);
}

set *set_new(sv first, size_t size_hint, const set_limits *lim)
{
    long long v;
    if (parse_int(first, &v) && (long long)size_hint <= lim->max_intset_entries) {
        return set_new_intset();
    }
    if ((long long)size_hint <= lim->max_listpack_entries) {
        return tag(lp_new(), SET_ENC_LISTPACK);
    }
    return tag(ht_new(), SET_ENC_HT);
}

void set_free(set *s)
{
    if (!s) {
        return;
    }
    switch (enc_of(s)) {
    case SET_ENC_LISTPACK: lp_free(LP(s)); break;
    case SET_ENC_INTSET: intset_free(IS(s)); break;
    default:
        dict_clear(HT(s), snode_free, NULL);
        alloc_free(HT(s));
        break;
    }
}

set *set_dup(const set *s)
{
    switch (enc_of(s)) {
    case SET_ENC_LISTPACK: return tag(lp_dup(LP(s)), SET_ENC_LISTPACK);
    case SET_ENC_INTSET: return tag(intset_dup(IS(s)), SET_ENC_INTSET);
    default: {
        dict *d = ht_new();
        dict_iter it;
        dict_iter_init(&it, HT(s));
        for (dnode *n = dict_iter_next(&it); n; n = dict_iter_next(&it)) {
            dict_insert(d, &snode_new(snode_key(n))->node);
        }
        dict_iter_done(&it);
        return tag(d, SET_ENC_HT);
    }
    }
}

size_t set_len(const set *s)
{
    switch (enc_of(s)) {
    case SET_ENC_LISTPACK: return lp_len(LP(s));
    case SET_ENC_INTSET: return intset_len(IS(s));
    default: return dict_size(HT(s));
    }
}

int set_enc(const set *s)
{
    return enc_of(s);
}

const char *set_encoding(const set *s)
{
    switch (enc_of(s)) {
    case SET_ENC_LISTPACK: return "listpack";
    case SET_ENC_INTSET: return "intset";
    default: return "hashtable";
    }
}

#define SET_MEM_SAMPLES 4096

size_t set_mem(const set *s)
{
    switch (enc_of(s)) {
    case SET_ENC_LISTPACK: return alloc_usable(LP(s));
    case SET_ENC_INTSET: return alloc_usable(IS(s));
    default: {
        dict *d = HT(s);
        size_t n = alloc_usable(d) + dict_slots(d) * sizeof(dnode *);
        /* The first members stand for the rest beyond SET_MEM_SAMPLES, so
         * a huge set is measured in bounded time (as zset_mem does). */
        size_t seen = 0, bytes = 0;
        dict_iter it;
        dict_iter_init(&it, d);
        for (dnode *e = dict_iter_next(&it); e && seen < SET_MEM_SAMPLES; e = dict_iter_next(&it)) {
            bytes += alloc_usable(e);
            seen++;
        }
        dict_iter_done(&it);
        size_t total = dict_size(d);
        return n + (seen < total ? (size_t)((double)bytes / (double)seen * (double)total) : bytes);
    }
    }
}

/* ---- conversions ---- */

static set *to_ht(set *s)
{
    dict *d = ht_new();
    set_iter it;
    sv m;
    set_iter_init(&it, s);
    while (set_iter_next(&it, &m)) {
        dict_insert(d, &snode_new(m)->node);
    }
    set_iter_done(&it);
    set_free(s);
    return tag(d, SET_ENC_HT);
}

static set *intset_to_lp(set *s)
{
    lp *l = lp_new();
    intset *is = IS(s);
    for (size_t i = 0; i < intset_len(is); i++) {
        l = lp_append_ll(l, intset_get(is, i));
    }
    intset_free(is);
    return tag(l, SET_ENC_LISTPACK);
}

set *set_convert_ht(set *s)
{
    return enc_of(s) == SET_ENC_HT ? s : to_ht(s);
}

static size_t digits(int64_t v)
{
    char buf[32];
    return (size_t)util_ll2str(buf, v);
}

/* ---- membership ---- */

set *set_add(set *s, sv m, const set_limits *lim, int *added)
{
    int dummy;
    if (!added) {
        added = &dummy;
    }
    *added = 0;
    switch (enc_of(s)) {
    case SET_ENC_INTSET: {
        intset *is = IS(s);
        long long v;
        if (parse_int(m, &v)) {
            is = intset_add(is, v, added);
            s = tag(is, SET_ENC_INTSET);
            if ((long long)intset_len(is) > lim->max_intset_entries) {
                s = to_ht(s);
            }
            return s;
        }
        /* A non-integer: a listpack if everything fits in one, else a
         * hashtable, sized for one more member. */
        size_t n = intset_len(is);
        size_t widest = n ? digits(intset_min(is)) : 0;
        if (n && digits(intset_max(is)) > widest) {
            widest = digits(intset_max(is));
        }
        if ((long long)n < lim->max_listpack_entries && (long long)m.len <= lim->max_listpack_value &&
            (long long)widest <= lim->max_listpack_value) {
            s = intset_to_lp(s);
        } else {
            s = to_ht(s);
        }
        return set_add(s, m, lim, added);
    }
    case SET_ENC_LISTPACK: {
        lp *l = LP(s);
        unsigned char *first = lp_first(l);
        if (first && lp_find(l, first, m, 0)) {
            return s;
        }
        if ((long long)lp_len(l) < lim->max_listpack_entries && (long long)m.len <= lim->max_listpack_value &&
            lp_safe_to_add(l, m.len)) {
            *added = 1;
            return tag(lp_append(l, m), SET_ENC_LISTPACK);
        }
        s = to_ht(s);
        return set_add(s, m, lim, added);
    }
    default: {
        dict *d = HT(s);
        if (dict_find(d, m.ptr, m.len)) {
            return s;
        }
        dict_insert(d, &snode_new(m)->node);
        *added = 1;
        return s;
    }
    }
}

set *set_remove(set *s, sv m, int *removed)
{
    int dummy;
    if (!removed) {
        removed = &dummy;
    }
    *removed = 0;
    switch (enc_of(s)) {
    case SET_ENC_INTSET: {
        long long v;
        if (!parse_int(m, &v)) {
            return s;
        }
        return tag(intset_remove(IS(s), v, removed), SET_ENC_INTSET);
    }
    case SET_ENC_LISTPACK: {
        lp *l = LP(s);
        unsigned char *p = lp_first(l);
        if (p) {
            p = lp_find(l, p, m, 0);
        }
        if (!p) {
            return s;
        }
        *removed = 1;
        return tag(lp_delete(l, &p), SET_ENC_LISTPACK);
    }
    default: {
        dict *d = HT(s);
        dnode *n = dict_unlink(d, m.ptr, m.len);
        if (n) {
            alloc_free(n);
            *removed = 1;
            /* Shrink after mass removal: keeps random picks and scans fast. */
            dict_resize_to_fit(d);
        }
        return s;
    }
    }
}

int set_contains(const set *s, sv m)
{
    switch (enc_of(s)) {
    case SET_ENC_INTSET: {
        long long v;
        return parse_int(m, &v) && intset_find(IS(s), v);
    }
    case SET_ENC_LISTPACK: {
        lp *l = LP(s);
        unsigned char *p = lp_first(l);
        return p && lp_find(l, p, m, 0) != NULL;
    }
    default: return dict_find(HT(s), m.ptr, m.len) != NULL;
    }
}

/* ---- iteration ---- */

void set_iter_init(set_iter *it, set *s)
{
    it->s = s;
    it->enc = enc_of(s);
    it->i = 0;
    it->p = NULL;
    if (it->enc == SET_ENC_LISTPACK) {
        it->p = lp_first(LP(s));
    } else if (it->enc == SET_ENC_HT) {
        dict_iter_init(&it->di, HT(s));
    }
}

int set_iter_next(set_iter *it, sv *m)
{
    switch (it->enc) {
    case SET_ENC_INTSET:
        if (it->i >= intset_len(IS(it->s))) {
            return 0;
        }
        *m = int_sv(intset_get(IS(it->s), it->i++), it->buf);
        return 1;
    case SET_ENC_LISTPACK:
        if (!it->p) {
            return 0;
        }
        *m = lp_get(it->p);
        it->p = lp_next(LP(it->s), it->p);
        return 1;
    default: {
        dnode *n = dict_iter_next(&it->di);
        if (!n) {
            return 0;
        }
        *m = snode_key(n);
        return 1;
    }
    }
}

void set_iter_done(set_iter *it)
{
    if (it->enc == SET_ENC_HT) {
        dict_iter_done(&it->di);
    }
}

/* ---- random members ---- */

sv set_random(set *s, char buf[32])
{
    switch (enc_of(s)) {
    case SET_ENC_INTSET: {
        intset *is = IS(s);
        return int_sv(intset_get(is, util_rand64() % intset_len(is)), buf);
    }
    case SET_ENC_LISTPACK: {
        lp *l = LP(s);
        return lp_get(lp_seek(l, (long)(util_rand64() % lp_len(l))));
    }
    default: return snode_key(dict_random(HT(s)));
    }
}

void set_sample(set *s, size_t count, int distinct, void (*fn)(sv m, void *ctx), void *ctx)
{
    size_t n = set_len(s);
    char buf[32];
    if (n == 0 || count == 0) {
        return;
    }
    if (!distinct) {
        while (count--) {
            fn(set_random(s, buf), ctx);
        }
        return;
    }
    if (enc_of(s) == SET_ENC_HT && count * 4 < n) {
        /* Few members of a big table: random picks, skipping repeats. */
        dict seen;
        dict_init(&seen, &dict_type_entry);
        while (dict_size(&seen) < count) {
            sv m = set_random(s, buf);
            int created;
            dict_entry_upsert(&seen, m.ptr, m.len, &created);
            if (created) {
                fn(m, ctx);
            }
        }
        dict_entry_clear(&seen, NULL);
        return;
    }
    /* Selection sampling (Knuth's algorithm S): one pass, each member is
     * taken with probability needed/remaining, so every subset of `count`
     * members is equally likely. */
    size_t need = count < n ? count : n, left = n;
    set_iter it;
    sv m;
    set_iter_init(&it, s);
    while (need > 0 && set_iter_next(&it, &m)) {
        if (util_rand64() % left < need) {
            fn(m, ctx);
            need--;
        }
        left--;
    }
    set_iter_done(&it);
}

/* ---- scan ---- */

typedef struct scan_ctx {
    void (*fn)(sv m, void *ctx);
    void *ctx;
} scan_ctx;

static void scan_node(dnode *n, void *ctx)
{
    scan_ctx *sc = ctx;
    sc->fn(snode_key(n), sc->ctx);
}

unsigned long set_scan(set *s, unsigned long cursor, void (*fn)(sv m, void *ctx), void *ctx)
{
    if (enc_of(s) == SET_ENC_HT) {
        scan_ctx sc = {fn, ctx};
        return dict_scan(HT(s), cursor, scan_node, &sc);
    }
    set_iter it;
    sv m;
    set_iter_init(&it, s);
    while (set_iter_next(&it, &m)) {
        fn(m, ctx);
    }
    set_iter_done(&it);
    return 0;
}

/* ---- digest ---- */

void set_digest(const set *s, uint8_t d[20])
{
    /* XOR per member: any encoding, any order. */
    set_iter it;
    sv m;
    set_iter_init(&it, (set *)s);
    while (set_iter_next(&it, &m)) {
        digest_xor(d, m.ptr, m.len);
    }
    set_iter_done(&it);
}

set *set_defrag(set *s, unsigned long *cursor, size_t budget)
{
    int enc = enc_of(s);
    void *p = raw(s);
    if (enc != SET_ENC_HT) {
        /* A listpack or an intset: one block. */
        void *moved = alloc_defrag(p);
        *cursor = 0;
        return moved ? tag(moved, enc) : s;
    }
    if (*cursor == 0) {
        void *moved = alloc_defrag(p);
        if (moved) {
            p = moved;
            s = tag(p, enc);
        }
    }
    *cursor = dict_defrag_nodes(p, *cursor, budget);
    return s;
}
