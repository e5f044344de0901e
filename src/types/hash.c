/* hash: encodings, conversion, field TTLs and the operations the hash
 * commands need. See the header for the shape of things. */
#include "types/hash.h"

#include <string.h>

#include "base/alloc.h"
#include "base/digest.h"
#include "base/log.h"
#include "base/util.h"
#include "ds/listpack.h"

#define TAG_MASK ((uintptr_t)3)

/* ---- hashtable encoding ---- */

/* One allocation per field: [link][flen][vlen|ttl bit][expire?][field][value].
 * The 8-byte expiry is present only for fields that have a TTL. A field
 * or value of 2 GB or more (as big as Redis allows once
 * proto-max-bulk-len is raised) makes a long node: flen HNODE_LONG, and
 * both lengths in 8 bytes each after the expiry. */
typedef struct hnode {
    dnode node;
    uint32_t flen;
    uint32_t vlen; /* top bit: the node carries an expiry */
    char data[];
} hnode;

#define HNODE_TTL 0x80000000u
#define HNODE_LONG UINT32_MAX

typedef struct hash_ht {
    dict d;
    size_t nttl;          /* fields with a TTL */
    int64_t min_expire;   /* lower bound of their expiries */
    int64_t cycle_min;    /* earliest expiry seen by the current bounded sweep */
    unsigned long cursor; /* where the bounded sweep resumes */
} hash_ht;

/* ---- listpackex encoding ---- */

/* Triples field, value, expiry: the expiry entry is 8 bytes (an int64 in
 * host order; the listpack never leaves memory) or empty for none. The
 * minimum is exact, so lookups know at once whether anything expired. */
typedef struct hash_lpex {
    lp *l;
    size_t nttl;        /* fields with a TTL */
    int64_t min_expire; /* their earliest expiry; INT64_MAX when none */
} hash_lpex;

static int enc_of(const hash *h)
{
    return (int)((uintptr_t)h & TAG_MASK);
}

static void *raw(const hash *h)
{
    return (void *)((uintptr_t)h & ~TAG_MASK);
}

#define LP(h) ((lp *)raw(h))
#define HT(h) ((hash_ht *)raw(h))
#define LPX(h) ((hash_lpex *)raw(h))

static hash *tag_lpex(hash_lpex *x)
{
    return (hash *)((uintptr_t)x | HASH_ENC_LPEX);
}

static sv ttl_entry(char buf[8], int64_t when)
{
    if (when < 0) {
        return (sv){buf, 0};
    }
    memcpy(buf, &when, sizeof(when));
    return (sv){buf, sizeof(when)};
}

static int64_t ttl_at(const unsigned char *p)
{
    sv v = lp_get(p);
    if (v.len != sizeof(int64_t)) {
        return -1;
    }
    int64_t t;
    memcpy(&t, v.ptr, sizeof(t));
    return t;
}

static void lpex_recount(hash_lpex *x)
{
    x->nttl = 0;
    x->min_expire = INT64_MAX;
    for (unsigned char *p = lp_first(x->l); p; p = lp_next(x->l, lp_next(x->l, lp_next(x->l, p)))) {
        int64_t t = ttl_at(lp_next(x->l, lp_next(x->l, p)));
        if (t >= 0) {
            x->nttl++;
            if (t < x->min_expire) {
                x->min_expire = t;
            }
        }
    }
}

/* The field's entry in a listpackex, or NULL. */
static unsigned char *lpex_field(hash_lpex *x, sv field)
{
    unsigned char *p = lp_first(x->l);
    return p ? lp_find(x->l, p, field, 2) : NULL;
}

/* A listpack hash gains the room for expiries (none set yet). */
static hash *to_lpex(hash *h)
{
    lp *src = LP(h), *l = lp_new();
    char buf[8];
    for (unsigned char *p = lp_first(src); p; p = lp_next(src, lp_next(src, p))) {
        l = lp_append(l, lp_get(p));
        l = lp_append(l, lp_get(lp_next(src, p)));
        l = lp_append(l, ttl_entry(buf, -1));
    }
    lp_free(src);
    hash_lpex *x = alloc_mem(sizeof(*x));
    x->l = l;
    x->nttl = 0;
    x->min_expire = INT64_MAX;
    return tag_lpex(x);
}

static int hnode_has_ttl(const hnode *n)
{
    return (n->vlen & HNODE_TTL) != 0;
}

static size_t ttl_size(const hnode *n)
{
    return hnode_has_ttl(n) ? sizeof(int64_t) : 0;
}

static int64_t hnode_expire(const hnode *n)
{
    if (!hnode_has_ttl(n)) {
        return -1;
    }
    int64_t t;
    memcpy(&t, n->data, sizeof(t));
    return t;
}

/* The field's and value's lengths, and where the field starts. */
static const char *hnode_lens(const hnode *n, size_t *flen, size_t *vlen)
{
    const char *p = n->data + ttl_size(n);
    if (n->flen != HNODE_LONG) {
        *flen = n->flen;
        *vlen = n->vlen & ~HNODE_TTL;
        return p;
    }
    uint64_t l[2];
    memcpy(l, p, sizeof(l));
    *flen = (size_t)l[0];
    *vlen = (size_t)l[1];
    return p + sizeof(l);
}

static sv hnode_field(const hnode *n)
{
    size_t flen, vlen;
    const char *p = hnode_lens(n, &flen, &vlen);
    return (sv){p, flen};
}

static sv hnode_val(const hnode *n)
{
    size_t flen, vlen;
    const char *p = hnode_lens(n, &flen, &vlen);
    return (sv){p + flen, vlen};
}

static sv hnode_key(const dnode *n)
{
    return hnode_field((const hnode *)n);
}

static const dict_type hnode_type = {util_hash, hnode_key, NULL};

static hnode *hnode_new(sv f, sv v, int64_t expire)
{
    size_t ts = expire >= 0 ? sizeof(int64_t) : 0;
    int is_long = f.len >= HNODE_TTL || v.len >= HNODE_TTL;
    size_t head = ts + (is_long ? 2 * sizeof(uint64_t) : 0);
    hnode *n = alloc_mem(sizeof(hnode) + head + f.len + v.len);
    n->node.next = NULL;
    n->flen = is_long ? HNODE_LONG : (uint32_t)f.len;
    n->vlen = (is_long ? 0 : (uint32_t)v.len) | (ts ? HNODE_TTL : 0);
    if (ts) {
        memcpy(n->data, &expire, sizeof(expire));
    }
    if (is_long) {
        uint64_t l[2] = {f.len, v.len};
        memcpy(n->data + ts, l, sizeof(l));
    }
    if (f.len) {
        memcpy(n->data + head, f.ptr, f.len);
    }
    if (v.len) {
        memcpy(n->data + head + f.len, v.ptr, v.len);
    }
    return n;
}

static void hnode_free(dnode *n, void *ctx)
{
    (void)ctx;
    alloc_free(n);
}

static hash_ht *ht_new(void)
{
    hash_ht *t = alloc_mem(sizeof(hash_ht));
    dict_init(&t->d, &hnode_type);
    t->nttl = 0;
    t->min_expire = INT64_MAX;
    t->cycle_min = INT64_MAX;
    t->cursor = 0;
    return t;
}

static hash *tag_ht(hash_ht *t)
{
    return (hash *)((uintptr_t)t | 1);
}

/* Notes a new TTL for the bounds the sweeps rely on. */
static void note_expire(hash_ht *t, int64_t when)
{
    if (when < t->min_expire) {
        t->min_expire = when;
    }
    if (when < t->cycle_min) {
        t->cycle_min = when;
    }
}

/* ---- life ---- */

hash *hash_new(void)
{
    return (hash *)lp_new();
}

void hash_free(hash *h)
{
    if (!h) {
        return;
    }
    if (enc_of(h) == HASH_ENC_LISTPACK) {
        lp_free(LP(h));
        return;
    }
    if (enc_of(h) == HASH_ENC_LPEX) {
        lp_free(LPX(h)->l);
        alloc_free(LPX(h));
        return;
    }
    hash_ht *t = HT(h);
    dict_clear(&t->d, hnode_free, NULL);
    alloc_free(t);
}

hash *hash_dup(const hash *h)
{
    if (enc_of(h) == HASH_ENC_LISTPACK) {
        return (hash *)lp_dup(LP(h));
    }
    if (enc_of(h) == HASH_ENC_LPEX) {
        hash_lpex *x = alloc_mem(sizeof(*x));
        *x = *LPX(h);
        x->l = lp_dup(x->l);
        return tag_lpex(x);
    }
    hash_ht *src = HT(h), *t = ht_new();
    dict_iter it;
    dict_iter_init(&it, &src->d);
    for (dnode *d = dict_iter_next(&it); d; d = dict_iter_next(&it)) {
        hnode *n = (hnode *)d;
        dict_insert(&t->d, &hnode_new(hnode_field(n), hnode_val(n), hnode_expire(n))->node);
    }
    dict_iter_done(&it);
    t->nttl = src->nttl;
    t->min_expire = src->min_expire;
    return tag_ht(t);
}

size_t hash_len(const hash *h)
{
    switch (enc_of(h)) {
    case HASH_ENC_LISTPACK: return lp_len(LP(h)) / 2;
    case HASH_ENC_LPEX: return lp_len(LPX(h)->l) / 3;
    default: return dict_size(&HT(h)->d);
    }
}

int hash_enc(const hash *h)
{
    return enc_of(h);
}

const char *hash_encoding(const hash *h)
{
    static const char *const names[] = {"listpack", "hashtable", "listpackex"};
    return names[enc_of(h)];
}

#define HASH_MEM_SAMPLES 4096

size_t hash_mem(const hash *h)
{
    if (enc_of(h) == HASH_ENC_LISTPACK) {
        return alloc_usable(LP(h));
    }
    if (enc_of(h) == HASH_ENC_LPEX) {
        return alloc_usable(LPX(h)) + alloc_usable(LPX(h)->l);
    }
    hash_ht *t = HT(h);
    size_t n = alloc_usable(t) + dict_slots(&t->d) * sizeof(dnode *);
    /* The first fields stand for the rest beyond HASH_MEM_SAMPLES, so a
     * huge hash is measured in bounded time (as zset_mem does). */
    size_t seen = 0, bytes = 0;
    dict_iter it;
    dict_iter_init(&it, &t->d);
    for (dnode *d = dict_iter_next(&it); d && seen < HASH_MEM_SAMPLES; d = dict_iter_next(&it)) {
        bytes += alloc_usable(d);
        seen++;
    }
    dict_iter_done(&it);
    size_t total = dict_size(&t->d);
    return n + (seen < total ? (size_t)((double)bytes / (double)seen * (double)total) : bytes);
}

hash *hash_convert_ht(hash *h)
{
    if (enc_of(h) == HASH_ENC_HT) {
        return h;
    }
    hash_ht *t = ht_new();
    if (enc_of(h) == HASH_ENC_LPEX) {
        hash_lpex *x = LPX(h);
        lp *l = x->l;
        for (unsigned char *p = lp_first(l); p; p = lp_next(l, lp_next(l, lp_next(l, p)))) {
            unsigned char *v = lp_next(l, p);
            int64_t e = ttl_at(lp_next(l, v));
            dict_insert(&t->d, &hnode_new(lp_get(p), lp_get(v), e)->node);
            if (e >= 0) {
                t->nttl++;
                note_expire(t, e);
            }
        }
        lp_free(l);
        alloc_free(x);
        return tag_ht(t);
    }
    lp *l = LP(h);
    for (unsigned char *p = lp_first(l); p; p = lp_next(l, lp_next(l, p))) {
        sv f = lp_get(p), v = lp_get(lp_next(l, p));
        dict_insert(&t->d, &hnode_new(f, v, -1)->node);
    }
    lp_free(l);
    return tag_ht(t);
}

/* ---- fields ---- */

/* The listpack entry of field, or NULL. */
static unsigned char *lp_field(lp *l, sv field)
{
    unsigned char *p = lp_first(l);
    return p ? lp_find(l, p, field, 1) : NULL;
}

int hash_get(hash *h, sv field, sv *val)
{
    if (enc_of(h) == HASH_ENC_LISTPACK) {
        lp *l = LP(h);
        unsigned char *p = lp_field(l, field);
        if (!p) {
            return 0;
        }
        *val = lp_get(lp_next(l, p));
        return 1;
    }
    if (enc_of(h) == HASH_ENC_LPEX) {
        hash_lpex *x = LPX(h);
        unsigned char *p = lpex_field(x, field);
        if (!p) {
            return 0;
        }
        *val = lp_get(lp_next(x->l, p));
        return 1;
    }
    hnode *n = (hnode *)dict_find(&HT(h)->d, field.ptr, field.len);
    if (!n) {
        return 0;
    }
    *val = hnode_val(n);
    return 1;
}

/* hash_set on a listpackex that stays one. */
static hash *lpex_set(hash *h, sv field, sv val, int flags, const hash_limits *lim, int *added)
{
    hash_lpex *x = LPX(h);
    char buf[8];
    unsigned char *p = lpex_field(x, field);
    if (p) {
        p = lp_next(x->l, p);
        x->l = lp_replace(x->l, &p, val);
        p = lp_next(x->l, p);
        int64_t e = ttl_at(p);
        if (e >= 0 && !(flags & HASH_KEEP_TTL)) {
            x->l = lp_replace(x->l, &p, ttl_entry(buf, -1));
            x->nttl--;
            if (e == x->min_expire) {
                lpex_recount(x);
            }
        }
        return h;
    }
    x->l = lp_append(x->l, field);
    x->l = lp_append(x->l, val);
    x->l = lp_append(x->l, ttl_entry(buf, -1));
    *added = 1;
    if ((long long)lp_len(x->l) / 3 > lim->max_listpack_entries) {
        h = hash_convert_ht(h);
    }
    return h;
}

/* Whether field and val may go into the listpack l. */
static int lp_takes(const lp *l, sv field, sv val, const hash_limits *lim)
{
    return (long long)field.len <= lim->max_listpack_value && (long long)val.len <= lim->max_listpack_value &&
           lp_safe_to_add(l, field.len + val.len);
}

hash *hash_set(hash *h, sv field, sv val, int flags, const hash_limits *lim, int *added)
{
    *added = 0;
    if (enc_of(h) == HASH_ENC_LPEX) {
        if (!lp_takes(LPX(h)->l, field, val, lim)) {
            h = hash_convert_ht(h);
        } else {
            return lpex_set(h, field, val, flags, lim, added);
        }
    }
    if (enc_of(h) == HASH_ENC_LISTPACK) {
        if (!lp_takes(LP(h), field, val, lim)) {
            h = hash_convert_ht(h);
        } else {
            lp *l = LP(h);
            unsigned char *p = lp_field(l, field);
            if (p) {
                p = lp_next(l, p);
                return (hash *)lp_replace(l, &p, val);
            }
            l = lp_append(l, field);
            l = lp_append(l, val);
            *added = 1;
            h = (hash *)l;
            if ((long long)lp_len(l) / 2 > lim->max_listpack_entries) {
                h = hash_convert_ht(h);
            }
            return h;
        }
    }
    hash_ht *t = HT(h);
    hnode *old = (hnode *)dict_find(&t->d, field.ptr, field.len);
    if (!old) {
        dict_insert(&t->d, &hnode_new(field, val, -1)->node);
        *added = 1;
        return h;
    }
    int64_t expire = hnode_expire(old);
    if (expire >= 0 && !(flags & HASH_KEEP_TTL)) {
        t->nttl--;
        expire = -1;
    }
    hnode *n = hnode_new(field, val, expire);
    dict_replace(&t->d, &old->node, &n->node);
    alloc_free(old);
    return h;
}

hash *hash_del(hash *h, sv field, int *deleted)
{
    *deleted = 0;
    if (enc_of(h) == HASH_ENC_LISTPACK) {
        lp *l = LP(h);
        unsigned char *p = lp_field(l, field);
        if (!p) {
            return h;
        }
        l = lp_delete(l, &p);
        l = lp_delete(l, &p);
        *deleted = 1;
        return (hash *)l;
    }
    if (enc_of(h) == HASH_ENC_LPEX) {
        hash_lpex *x = LPX(h);
        unsigned char *p = lpex_field(x, field);
        if (!p) {
            return h;
        }
        int64_t e = ttl_at(lp_next(x->l, lp_next(x->l, p)));
        for (int i = 0; i < 3; i++) {
            x->l = lp_delete(x->l, &p);
        }
        if (e >= 0) {
            x->nttl--;
            if (e == x->min_expire) {
                lpex_recount(x);
            }
        }
        *deleted = 1;
        return h;
    }
    hash_ht *t = HT(h);
    hnode *n = (hnode *)dict_unlink(&t->d, field.ptr, field.len);
    if (!n) {
        return h;
    }
    if (hnode_has_ttl(n)) {
        t->nttl--;
    }
    alloc_free(n);
    *deleted = 1;
    dict_resize_to_fit(&t->d);
    return h;
}

/* ---- field TTLs ---- */

int64_t hash_field_expire(hash *h, sv field, int *found)
{
    if (enc_of(h) == HASH_ENC_LISTPACK) {
        *found = lp_field(LP(h), field) != NULL;
        return -1;
    }
    if (enc_of(h) == HASH_ENC_LPEX) {
        hash_lpex *x = LPX(h);
        unsigned char *p = lpex_field(x, field);
        *found = p != NULL;
        return p ? ttl_at(lp_next(x->l, lp_next(x->l, p))) : -1;
    }
    hnode *n = (hnode *)dict_find(&HT(h)->d, field.ptr, field.len);
    *found = n != NULL;
    return n ? hnode_expire(n) : -1;
}

hash *hash_set_field_expire(hash *h, sv field, int64_t when)
{
    if (enc_of(h) == HASH_ENC_LISTPACK) {
        if (when < 0) {
            return h;
        }
        h = to_lpex(h); /* a listpack fits a listpackex */
    }
    if (enc_of(h) == HASH_ENC_LPEX) {
        hash_lpex *x = LPX(h);
        unsigned char *p = lpex_field(x, field);
        if (!p) {
            return h;
        }
        p = lp_next(x->l, lp_next(x->l, p));
        int64_t old = ttl_at(p);
        char buf[8];
        x->l = lp_replace(x->l, &p, ttl_entry(buf, when));
        x->nttl += (when >= 0) - (old >= 0);
        if (old >= 0 && old == x->min_expire && (when < 0 || when > old)) {
            lpex_recount(x); /* the minimum itself moved up or went */
        } else if (when >= 0 && when < x->min_expire) {
            x->min_expire = when;
        }
        return h;
    }
    hash_ht *t = HT(h);
    hnode *old = (hnode *)dict_find(&t->d, field.ptr, field.len);
    if (!old) {
        return h;
    }
    if (hnode_has_ttl(old)) {
        t->nttl--;
    }
    hnode *n = hnode_new(hnode_field(old), hnode_val(old), when);
    dict_replace(&t->d, &old->node, &n->node);
    alloc_free(old);
    if (when >= 0) {
        t->nttl++;
        note_expire(t, when);
    }
    return h;
}

size_t hash_ttl_count(const hash *h)
{
    switch (enc_of(h)) {
    case HASH_ENC_LISTPACK: return 0;
    case HASH_ENC_LPEX: return LPX(h)->nttl;
    default: return HT(h)->nttl;
    }
}

int64_t hash_min_expire(const hash *h)
{
    switch (enc_of(h)) {
    case HASH_ENC_LISTPACK: return INT64_MAX;
    case HASH_ENC_LPEX: return LPX(h)->min_expire;
    default: return HT(h)->nttl ? HT(h)->min_expire : INT64_MAX;
    }
}

/* Expired fields of a listpackex, all at once: it is small. */
static size_t lpex_expire_fields(hash_lpex *x, int64_t now, void (*fn)(sv field, void *ctx), void *ctx)
{
    size_t removed = 0;
    unsigned char *p = lp_first(x->l);
    while (p) {
        int64_t e = ttl_at(lp_next(x->l, lp_next(x->l, p)));
        if (e >= 0 && e < now) {
            if (fn) {
                fn(lp_get(p), ctx);
            }
            for (int i = 0; i < 3; i++) {
                x->l = lp_delete(x->l, &p);
            }
            removed++;
        } else {
            p = lp_next(x->l, lp_next(x->l, lp_next(x->l, p)));
        }
    }
    lpex_recount(x);
    return removed;
}

typedef struct expire_ctx {
    hash_ht *t;
    int64_t now;
    int64_t min; /* earliest surviving expiry among visited fields */
    size_t visited, removed;
    void (*fn)(sv field, void *ctx);
    void *ctx;
} expire_ctx;

/* Visits one node: deletes it if expired (allowed for the node a scan or
 * an iterator hands over), else folds its expiry into the minimum. */
static void expire_node(dnode *d, void *arg)
{
    expire_ctx *x = arg;
    hnode *n = (hnode *)d;
    x->visited++;
    int64_t e = hnode_expire(n);
    if (e < 0) {
        return;
    }
    if (e >= x->now) {
        if (e < x->min) {
            x->min = e;
        }
        return;
    }
    sv f = hnode_field(n);
    if (x->fn) {
        x->fn(f, x->ctx);
    }
    dict_unlink(&x->t->d, f.ptr, f.len);
    x->t->nttl--;
    x->removed++;
    alloc_free(n);
}

size_t hash_expire_fields(hash *h, int64_t now, size_t max_visit, void (*fn)(sv field, void *ctx), void *ctx)
{
    if (enc_of(h) == HASH_ENC_LPEX) {
        return LPX(h)->nttl ? lpex_expire_fields(LPX(h), now, fn, ctx) : 0;
    }
    if (enc_of(h) == HASH_ENC_LISTPACK || HT(h)->nttl == 0) {
        return 0;
    }
    hash_ht *t = HT(h);
    expire_ctx x = {t, now, INT64_MAX, 0, 0, fn, ctx};
    if (max_visit == 0) {
        /* A full pass: afterwards the minimum is exact, so a hash whose
         * earliest TTL is still ahead costs nothing until then. */
        dict_iter it;
        dict_iter_init(&it, &t->d);
        for (dnode *d = dict_iter_next(&it); d; d = dict_iter_next(&it)) {
            expire_node(d, &x);
        }
        dict_iter_done(&it);
        t->min_expire = x.min;
        t->cycle_min = INT64_MAX;
        t->cursor = 0;
    } else {
        /* A bounded step of a sweep that resumes at t->cursor. The sweep
         * covers every field present throughout it; TTLs set meanwhile are
         * folded into cycle_min by note_expire. When it wraps, cycle_min is
         * a valid lower bound for the whole hash. */
        if (x.min > t->cycle_min) {
            x.min = t->cycle_min;
        }
        /* Empty buckets count too, so a sparse table cannot stretch a step. */
        size_t steps = 0;
        do {
            t->cursor = dict_scan(&t->d, t->cursor, expire_node, &x);
            steps++;
        } while (t->cursor != 0 && x.visited + steps < max_visit && t->nttl > 0);
        t->cycle_min = x.min;
        if (t->cursor == 0) {
            t->min_expire = t->cycle_min;
            t->cycle_min = INT64_MAX;
        }
    }
    if (x.removed) {
        dict_resize_to_fit(&t->d);
    }
    return x.removed;
}

/* ---- iteration, sampling, scan ---- */

void hash_iter_init(hash_iter *it, hash *h)
{
    it->h = h;
    it->enc = enc_of(h);
    it->p = NULL;
    it->expire = -1;
    if (it->enc == HASH_ENC_LISTPACK) {
        it->p = lp_first(LP(h));
    } else if (it->enc == HASH_ENC_LPEX) {
        it->p = lp_first(LPX(h)->l);
    } else {
        dict_iter_init(&it->di, &HT(h)->d);
    }
}

int hash_iter_next(hash_iter *it, sv *field, sv *val)
{
    if (it->enc == HASH_ENC_LISTPACK) {
        if (!it->p) {
            return 0;
        }
        lp *l = LP(it->h);
        unsigned char *v = lp_next(l, it->p);
        *field = lp_get(it->p);
        *val = lp_get(v);
        it->p = lp_next(l, v);
        return 1;
    }
    if (it->enc == HASH_ENC_LPEX) {
        if (!it->p) {
            return 0;
        }
        lp *l = LPX(it->h)->l;
        unsigned char *v = lp_next(l, it->p), *t = lp_next(l, v);
        *field = lp_get(it->p);
        *val = lp_get(v);
        it->expire = ttl_at(t);
        it->p = lp_next(l, t);
        return 1;
    }
    hnode *n = (hnode *)dict_iter_next(&it->di);
    if (!n) {
        return 0;
    }
    *field = hnode_field(n);
    *val = hnode_val(n);
    it->expire = hnode_expire(n);
    return 1;
}

int64_t hash_iter_expire(const hash_iter *it)
{
    return it->expire;
}

void hash_iter_done(hash_iter *it)
{
    if (it->enc == HASH_ENC_HT) {
        dict_iter_done(&it->di);
    }
}

void hash_random(hash *h, sv *field, sv *val)
{
    if (enc_of(h) == HASH_ENC_LISTPACK) {
        lp *l = LP(h);
        unsigned char *p = lp_seek(l, (long)(2 * (util_rand64() % (lp_len(l) / 2))));
        *field = lp_get(p);
        *val = lp_get(lp_next(l, p));
        return;
    }
    if (enc_of(h) == HASH_ENC_LPEX) {
        lp *l = LPX(h)->l;
        unsigned char *p = lp_seek(l, (long)(3 * (util_rand64() % (lp_len(l) / 3))));
        *field = lp_get(p);
        *val = lp_get(lp_next(l, p));
        return;
    }
    hnode *n = (hnode *)dict_random(&HT(h)->d);
    *field = hnode_field(n);
    *val = hnode_val(n);
}

void hash_sample(hash *h, size_t count, int distinct, void (*fn)(sv f, sv v, void *ctx), void *ctx)
{
    size_t n = hash_len(h);
    sv f, v;
    if (n == 0 || count == 0) {
        return;
    }
    if (!distinct) {
        while (count--) {
            hash_random(h, &f, &v);
            fn(f, v, ctx);
        }
        return;
    }
    if (enc_of(h) == HASH_ENC_HT && count * 4 < n) {
        /* Few fields of a big table: random picks, skipping repeats. */
        dict seen;
        dict_init(&seen, &dict_type_entry);
        while (dict_size(&seen) < count) {
            hash_random(h, &f, &v);
            int created;
            dict_entry_upsert(&seen, f.ptr, f.len, &created);
            if (created) {
                fn(f, v, ctx);
            }
        }
        dict_entry_clear(&seen, NULL);
        return;
    }
    /* Selection sampling: each field taken with probability needed/left. */
    size_t need = count < n ? count : n, left = n;
    hash_iter it;
    hash_iter_init(&it, h);
    while (need > 0 && hash_iter_next(&it, &f, &v)) {
        if (util_rand64() % left < need) {
            fn(f, v, ctx);
            need--;
        }
        left--;
    }
    hash_iter_done(&it);
}

typedef struct scan_ctx {
    void (*fn)(sv f, sv v, void *ctx);
    void *ctx;
} scan_ctx;

static void scan_node(dnode *d, void *arg)
{
    scan_ctx *sc = arg;
    hnode *n = (hnode *)d;
    sc->fn(hnode_field(n), hnode_val(n), sc->ctx);
}

unsigned long hash_scan(hash *h, unsigned long cursor, void (*fn)(sv f, sv v, void *ctx), void *ctx)
{
    if (enc_of(h) == HASH_ENC_HT) {
        scan_ctx sc = {fn, ctx};
        return dict_scan(&HT(h)->d, cursor, scan_node, &sc);
    }
    hash_iter it;
    sv f, v;
    hash_iter_init(&it, h);
    while (hash_iter_next(&it, &f, &v)) {
        fn(f, v, ctx);
    }
    hash_iter_done(&it);
    return 0;
}

/* A pair as Redis digests it (field, then value, mixed into their own
 * digest XORed into the hash's); a field TTL, which Redis 7.0 lacks, is
 * mixed in after them so reloads that lost it would show. */
static void digest_pair(uint8_t d[20], sv f, sv v, int64_t expire)
{
    uint8_t e[20] = {0};
    digest_mix(e, f.ptr, f.len);
    digest_mix(e, v.ptr, v.len);
    if (expire >= 0) {
        digest_mix_ll(e, expire);
    }
    digest_xor(d, e, 20);
}

void hash_digest(const hash *h, uint8_t d[20])
{
    if (enc_of(h) == HASH_ENC_LISTPACK) {
        lp *l = LP(h);
        for (unsigned char *p = lp_first(l); p; p = lp_next(l, lp_next(l, p))) {
            digest_pair(d, lp_get(p), lp_get(lp_next(l, p)), -1);
        }
    } else if (enc_of(h) == HASH_ENC_LPEX) {
        lp *l = LPX(h)->l;
        for (unsigned char *p = lp_first(l); p; p = lp_next(l, lp_next(l, lp_next(l, p)))) {
            unsigned char *v = lp_next(l, p);
            digest_pair(d, lp_get(p), lp_get(v), ttl_at(lp_next(l, v)));
        }
    } else {
        dict_iter it;
        dict_iter_init(&it, &HT(h)->d);
        for (dnode *n = dict_iter_next(&it); n; n = dict_iter_next(&it)) {
            hnode *hn = (hnode *)n;
            digest_pair(d, hnode_field(hn), hnode_val(hn), hnode_expire(hn));
        }
        dict_iter_done(&it);
    }
}

hash *hash_defrag(hash *h, unsigned long *cursor, size_t budget)
{
    switch (enc_of(h)) {
    case HASH_ENC_LISTPACK: {
        lp *l = alloc_defrag(LP(h));
        *cursor = 0;
        return l ? (hash *)l : h;
    }
    case HASH_ENC_LPEX: {
        hash_lpex *x = LPX(h);
        x->l = alloc_defrag_keep(x->l);
        hash_lpex *moved = alloc_defrag(x);
        *cursor = 0;
        return moved ? tag_lpex(moved) : h;
    }
    default: {
        hash_ht *t = HT(h);
        if (*cursor == 0) {
            hash_ht *moved = alloc_defrag(t);
            if (moved) {
                t = moved;
                h = tag_ht(t);
            }
        }
        /* Nodes hold the field, value and TTL in one block. */
        *cursor = dict_defrag_nodes(&t->d, *cursor, budget);
        return h;
    }
    }
}
