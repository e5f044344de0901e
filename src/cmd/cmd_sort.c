/* Generic commands: SORT and SORT_RO.
 *
 *   SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC]
 *        [ALPHA] [STORE destination]
 *
 * sorts the members of a list, set or sorted set as Redis 7.0 does: by
 * their value as a double, or (ALPHA) by their bytes, or by the value of
 * the key or hash field a pattern names for each member ("w_*",
 * "h_*->field": the member replaces the pattern's first '*'). A BY pattern
 * without '*' ("nosort") keeps the container's own order. GET patterns
 * (and "#", the member itself) choose what is returned for each member.
 * STORE writes the result to a list instead of replying it.
 *
 * Redis reads patterns and ALPHA operands as C strings (strchr, strcoll
 * with the C locale: bytes up to the first NUL), so this file does too;
 * with STORE, ALPHA compares whole values byte by byte, as Redis does.
 * Equal numeric weights are ordered by the members' bytes; other ties keep
 * the container's order (the sort is stable).
 *
 * Speed: members are loaded as views (nothing the command reads changes
 * while it runs; intset members and integer values, which have no bytes of
 * their own, are copied to a small arena), pattern keys are built in one
 * reused buffer and looked up without copies (integer-encoded weights are
 * read as stored), an array of 32-byte items is sorted by ds/sortvec
 * (radix passes for numeric weights, a merge sort for ALPHA), and the
 * reply's bulks are written from the views in 8 KB batches. */
#include <string.h>

#include "acl/acl.h"
#include "base/alloc.h"
#include "base/util.h"
#include "ds/sortvec.h"
#include "server/server.h"
#include "types/hash.h"
#include "types/list.h"
#include "types/set.h"
#include "types/zset.h"

/* ---- patterns ---- */

enum {
    PAT_SELF,  /* "#": the member itself */
    PAT_NONE,  /* no '*': names no key, always missing */
    PAT_KEY,   /* pre*post: a string key */
    PAT_FIELD, /* pre*post->field: a field of a hash */
};

typedef struct pattern {
    int kind;
    sv pre, post, field;
} pattern;

/* Splits a pattern as Redis reads it: the '*' and the "->" are searched in
 * the C string (up to a NUL); the field (non-empty) runs to the end of the
 * argument, and so does the part after '*' when there is no field. */
static pattern pattern_parse(sv p)
{
    pattern r = {PAT_NONE, {0}, {0}, {0}};
    size_t clen = sortvec_clen(p);
    if (clen == 1 && p.ptr[0] == '#') {
        r.kind = PAT_SELF;
        return r;
    }
    const char *star = memchr(p.ptr, '*', clen);
    if (!star) {
        return r;
    }
    size_t s = (size_t)(star - p.ptr);
    r.kind = PAT_KEY;
    r.pre = (sv){p.ptr, s};
    r.post = (sv){star + 1, p.len - s - 1};
    for (size_t i = s + 1; i + 2 < clen; i++) {
        if (p.ptr[i] == '-' && p.ptr[i + 1] == '>') {
            r.kind = PAT_FIELD;
            r.post = (sv){star + 1, i - s - 1};
            r.field = (sv){p.ptr + i + 2, p.len - i - 2};
            break;
        }
    }
    return r;
}

/* ---- per-command state ---- */

/* Integers have no bytes to point at: their text is kept here. */
#define ARENA_CHUNK 4096
typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used;
    char data[ARENA_CHUNK];
} arena_chunk;

typedef struct sort_ctx {
    client *c;
    char kstack[256]; /* pattern keys are built here... */
    char *kbuf;       /* ...or in a heap buffer when longer */
    size_t kcap;
    arena_chunk *arena;
} sort_ctx;

static const char *arena_copy(sort_ctx *x, const char *p, size_t len)
{
    if (!x->arena || x->arena->used + len > ARENA_CHUNK) {
        arena_chunk *a = alloc_mem(sizeof(*a));
        a->next = x->arena;
        a->used = 0;
        x->arena = a;
    }
    char *d = x->arena->data + x->arena->used;
    memcpy(d, p, len);
    x->arena->used += len;
    return d;
}

static void ctx_done(sort_ctx *x)
{
    if (x->kbuf != x->kstack) {
        alloc_free(x->kbuf);
    }
    while (x->arena) {
        arena_chunk *n = x->arena->next;
        alloc_free(x->arena);
        x->arena = n;
    }
}

/* The key p names for member e, in the context's buffer. */
static sv pattern_key(sort_ctx *x, const pattern *p, sv e)
{
    size_t n = p->pre.len + e.len + p->post.len;
    if (n > x->kcap) {
        if (x->kbuf != x->kstack) {
            alloc_free(x->kbuf);
        }
        x->kcap = n + n / 2;
        x->kbuf = alloc_mem(x->kcap);
    }
    memcpy(x->kbuf, p->pre.ptr, p->pre.len);
    memcpy(x->kbuf + p->pre.len, e.ptr, e.len);
    memcpy(x->kbuf + p->pre.len + e.len, p->post.ptr, p->post.len);
    return (sv){x->kbuf, n};
}

/* The value pattern p names for member e: 1 with a view in *out (integers
 * are written to buf, 32 bytes), 0 when the key or field is missing or of
 * another type. Keys are read as GET/HGET read them (hit/miss stats, lazy
 * expiry); a hash field past its TTL counts as missing. */
static int pattern_value(sort_ctx *x, const pattern *p, sv e, sv *out, char *buf)
{
    if (p->kind == PAT_SELF) {
        *out = e;
        return 1;
    }
    if (p->kind == PAT_NONE) {
        return 0;
    }
    kobj *o = lookup_read(x->c, pattern_key(x, p, e));
    if (!o) {
        return 0;
    }
    if (p->kind == PAT_KEY) {
        if (o->type != OBJ_STRING) {
            return 0;
        }
        *out = kobj_str(o, buf);
        return 1;
    }
    if (o->type != OBJ_HASH) {
        return 0;
    }
    hash *h = kobj_ptr(o);
    if (!hash_get(h, p->field, out)) {
        return 0;
    }
    if (hash_ttl_count(h)) {
        int found;
        int64_t when = hash_field_expire(h, p->field, &found);
        if (when >= 0 && when < db_time()) {
            return 0;
        }
    }
    return 1;
}

/* The numeric weight pattern p gives member e: 1 with *w, 0 when missing,
 * -1 when the value is not a number. Integer-encoded strings are read as
 * they are stored, never formatted to be parsed again. */
static int pattern_weight(sort_ctx *x, const pattern *p, sv e, double *w)
{
    if (p->kind == PAT_KEY) {
        kobj *o = lookup_read(x->c, pattern_key(x, p, e));
        if (!o || o->type != OBJ_STRING) {
            return 0;
        }
        long long ll;
        if (kobj_get_int(o, &ll)) {
            *w = (double)ll;
            return 1;
        }
        char buf[32];
        return sortvec_weight(kobj_str(o, buf), w) ? 1 : -1;
    }
    sv val;
    char buf[32];
    if (!pattern_value(x, p, e, &val, buf)) {
        return 0;
    }
    return sortvec_weight(val, w) ? 1 : -1;
}

/* ---- loading the members ---- */

static void item_set(sortvec_item *it, sv e)
{
    it->ele = e.ptr;
    it->elen = e.len;
    it->u.by.p = NULL;
    it->u.by.len = 0;
}

/* count members of list l from position start (0-based, counted from the
 * tail when rev) in that direction. */
static size_t load_list(sortvec_item *v, list *l, long long start, long long count, int rev)
{
    list_iter it;
    long idx = rev ? (long)((long long)list_len(l) - start - 1) : (long)start;
    list_iter_init(&it, l, idx, rev ? LIST_HEAD : LIST_TAIL);
    size_t n = 0;
    sv e;
    while ((long long)n < count && list_iter_next(&it, &e)) {
        item_set(&v[n++], e);
    }
    return n;
}

static size_t load_zset(sortvec_item *v, zset *z, long long start, long long count, int rev)
{
    zset_iter it;
    size_t rank = rev ? (size_t)((long long)zset_len(z) - start - 1) : (size_t)start;
    zset_iter_at(&it, z, rank, rev);
    size_t n = 0;
    sv e;
    double score;
    while ((long long)n < count && zset_iter_next(&it, &e, &score)) {
        item_set(&v[n++], e);
    }
    return n;
}

static size_t load_set(sort_ctx *x, sortvec_item *v, set *s)
{
    set_iter it;
    set_iter_init(&it, s);
    size_t n = 0;
    sv e;
    while (set_iter_next(&it, &e)) {
        if (e.ptr >= it.buf && e.ptr < it.buf + sizeof(it.buf)) {
            e.ptr = arena_copy(x, e.ptr, e.len);
        }
        item_set(&v[n++], e);
    }
    set_iter_done(&it);
    return n;
}

/* ---- the reply ---- */

/* Bulk strings gathered in a local block and handed to the reply buffer
 * 8 KB at a time: a SORT reply is mostly many short bulks, whose headers
 * cost more than their bytes when written one call each. The bulk shape is
 * the same in RESP2 and RESP3; nulls (which differ) go through reply_null. */
typedef struct bulk_out {
    client *c;
    size_t len;
    char buf[8192];
} bulk_out;

static void out_flush(bulk_out *b)
{
    if (b->len) {
        reply_raw(R(b->c), b->buf, b->len);
        b->len = 0;
    }
}

static void out_bulk(bulk_out *b, const char *p, size_t n)
{
    if (n > 1024) {
        out_flush(b);
        reply_bulk(R(b->c), p, n);
        return;
    }
    if (b->len + n + 9 > sizeof(b->buf)) {
        out_flush(b);
    }
    char *d = b->buf + b->len;
    *d++ = '$';
    if (n >= 1000) {
        *d++ = (char)('0' + n / 1000);
    }
    if (n >= 100) {
        *d++ = (char)('0' + n / 100 % 10);
    }
    if (n >= 10) {
        *d++ = (char)('0' + n / 10 % 10);
    }
    *d++ = (char)('0' + n % 10);
    *d++ = '\r';
    *d++ = '\n';
    memcpy(d, p, n);
    d += n;
    *d++ = '\r';
    *d++ = '\n';
    b->len = (size_t)(d - b->buf);
}

static void out_null(bulk_out *b)
{
    out_flush(b);
    reply_null(R(b->c));
}

/* ---- the command ---- */

static void sort_generic(client *c, int readonly)
{
    int desc = 0, alpha = 0, dontsort = 0, nget = 0;
    long long limit_start = 0, limit_count = -1;
    sv by = {NULL, 0}, store = {NULL, 0};
    int store_set = 0, by_set = 0;
    pattern *gets = NULL;

    for (int j = 2; j < c->argc; j++) {
        int left = c->argc - j - 1;
        if (arg_is(c, j, "asc")) {
            desc = 0;
        } else if (arg_is(c, j, "desc")) {
            desc = 1;
        } else if (arg_is(c, j, "alpha")) {
            alpha = 1;
        } else if (arg_is(c, j, "limit") && left >= 2) {
            if (!arg_ll(c, j + 1, &limit_start) || !arg_ll(c, j + 2, &limit_count)) {
                alloc_free(gets);
                return;
            }
            j += 2;
        } else if (!readonly && arg_is(c, j, "store") && left >= 1) {
            store = c->argv[++j];
            store_set = 1;
        } else if (arg_is(c, j, "by") && left >= 1) {
            by = c->argv[++j];
            by_set = 1;
            /* A BY without '*' names no keys: keep the container's order
             * (even if a later BY has one, as in Redis). */
            if (!memchr(by.ptr, '*', sortvec_clen(by))) {
                dontsort = 1;
            } else if (!acl_full_key_access(c->user, c->cmd)) {
                /* A BY pattern reads keys no ACL check has seen. */
                reply_err(c, "ERR BY option of SORT denied due to insufficient ACL permissions.");
                alloc_free(gets);
                return;
            }
        } else if (arg_is(c, j, "get") && left >= 1) {
            if (!acl_full_key_access(c->user, c->cmd)) {
                reply_err(c, "ERR GET option of SORT denied due to insufficient ACL permissions.");
                alloc_free(gets);
                return;
            }
            if (!gets) {
                gets = alloc_mem(sizeof(pattern) * (size_t)c->argc);
            }
            gets[nget++] = pattern_parse(c->argv[++j]);
        } else {
            reply_syntax_error(c);
            alloc_free(gets);
            return;
        }
    }

    kobj *o = lookup_read(c, c->argv[1]);
    if (o && o->type != OBJ_LIST && o->type != OBJ_SET && o->type != OBJ_ZSET) {
        reply_wrongtype(c);
        alloc_free(gets);
        return;
    }
    int type = o ? (int)o->type : OBJ_LIST;
    long long n = 0;
    if (o) {
        n = type == OBJ_LIST  ? (long long)list_len(kobj_ptr(o))
            : type == OBJ_SET ? (long long)set_len(kobj_ptr(o))
                              : (long long)zset_len(kobj_ptr(o));
    }

    /* A set has no order of its own that replicas and scripts could rely
     * on: unsorted output that is stored or seen by a script is sorted by
     * the members' bytes instead. */
    if (dontsort && type == OBJ_SET && (store_set || (c->flags & CLIENT_IN_SCRIPT))) {
        dontsort = 0;
        alpha = 1;
        by_set = 0;
    }

    /* LIMIT as Redis clamps it: offset below 0 is 0, count below 0 is all;
     * both are bounded by the length first, so nothing overflows. */
    long long start = limit_start < 0 ? 0 : limit_start;
    if (start > n) {
        start = n;
    }
    long long count = limit_count < 0 ? -1 : (limit_count > n ? n : limit_count);
    long long end = count < 0 ? n - 1 : start + count - 1;
    if (start >= n) {
        start = n - 1;
        end = n - 2;
    }
    if (end >= n) {
        end = n - 1;
    }

    /* Lists and sorted sets left unsorted load just the range asked for. */
    long long vlen = n;
    int direct = dontsort && type != OBJ_SET && (start != 0 || end != n - 1);
    if (direct) {
        vlen = end - start + 1;
    }
    sort_ctx x;
    x.c = c;
    x.kbuf = x.kstack;
    x.kcap = sizeof(x.kstack);
    x.arena = NULL;
    sortvec_item *v = alloc_mem(sizeof(sortvec_item) * (size_t)(vlen > 0 ? vlen : 1));
    size_t loaded = 0;
    if (o && vlen > 0) {
        if (type == OBJ_LIST) {
            loaded = dontsort ? load_list(v, kobj_ptr(o), start, vlen, desc) : load_list(v, kobj_ptr(o), 0, n, 0);
        } else if (type == OBJ_ZSET) {
            loaded = dontsort ? load_zset(v, kobj_ptr(o), start, vlen, desc) : load_zset(v, kobj_ptr(o), 0, n, 0);
        } else {
            loaded = load_set(&x, v, kobj_ptr(o));
        }
    }
    if (dontsort && type != OBJ_SET && end >= start) {
        /* The range is already in v, in output order. */
        end -= start;
        start = 0;
    }
    (void)loaded;

    if (!dontsort) {
        pattern bp = by_set ? pattern_parse(by) : (pattern){PAT_SELF, {0}, {0}, {0}};
        for (long long j = 0; j < vlen; j++) {
            sortvec_item *it = &v[j];
            sv e = {it->ele, it->elen};
            if (alpha) {
                sv val;
                char buf[32];
                if (!pattern_value(&x, &bp, e, &val, buf)) {
                    continue; /* missing: first */
                }
                if (val.ptr == buf) {
                    val.ptr = arena_copy(&x, buf, val.len);
                }
                /* Without STORE Redis compares with strcoll: C strings. */
                it->u.by.p = val.ptr;
                it->u.by.len = store_set ? val.len : sortvec_clen(val);
                continue;
            }
            double w = 0; /* missing: 0 */
            if (pattern_weight(&x, &bp, e, &w) >= 0) {
                it->u.score = w;
            } else {
                reply_err(c, "ERR One or more scores can't be converted into double");
                alloc_free(v);
                alloc_free(gets);
                ctx_done(&x);
                return;
            }
        }
        sortvec_sort(v, (size_t)vlen, alpha, desc);
    }

    long long rows = end - start + 1;
    long long outlen = nget ? nget * rows : rows;
    if (!store_set) {
        reply_array(R(c), outlen);
        bulk_out *b = alloc_mem(sizeof(*b));
        b->c = c;
        b->len = 0;
        for (long long j = start; j <= end; j++) {
            sv e = {v[j].ele, v[j].elen};
            if (!nget) {
                out_bulk(b, e.ptr, e.len);
            }
            for (int g = 0; g < nget; g++) {
                sv val;
                char buf[32];
                if (pattern_value(&x, &gets[g], e, &val, buf)) {
                    out_bulk(b, val.ptr, val.len);
                } else {
                    out_null(b);
                }
            }
        }
        out_flush(b);
        alloc_free(b);
    } else {
        list_limits lim = server_list_limits();
        list *l = list_new();
        for (long long j = start; j <= end; j++) {
            sv e = {v[j].ele, v[j].elen};
            if (!nget) {
                list_push(l, e, LIST_TAIL, lim);
            }
            for (int g = 0; g < nget; g++) {
                sv val;
                char buf[32];
                if (!pattern_value(&x, &gets[g], e, &val, buf)) {
                    val = (sv){"", 0};
                }
                list_push(l, val, LIST_TAIL, lim);
            }
        }
        /* Every view above is dead once the destination (which may be the
         * sorted key itself) is replaced. */
        if (outlen > 0) {
            db_set(c->db, kobj_new_ptr(store, OBJ_LIST, l, -1));
            signal_write(c, NOTIFY_LIST, "sortstore", store);
        } else {
            list_free(l);
            if (db_delete(c->db, store)) {
                signal_write(c, NOTIFY_GENERIC, "del", store);
            }
        }
        reply_int(R(c), outlen);
    }
    alloc_free(v);
    alloc_free(gets);
    ctx_done(&x);
}

void cmd_sort(client *c)
{
    sort_generic(c, 0);
}

void cmd_sort_ro(client *c)
{
    sort_generic(c, 1);
}

/* SORT's keys (its KEYS line): the sorted key, then the destination of the
 * last STORE, each with its spec's flags (the first and the third: the
 * second stands for the BY/GET keys, which derive from data). Option
 * arguments are skipped as Redis skips them (LIMIT's two, BY's and GET's
 * one), so a pattern spelled "store" is no key. */
int sort_keys(const command *cmd, const sv *argv, int argc, key_ref *out, int max)
{
    int n = 0, dst = 0;
    for (int i = 2; i < argc; i++) {
        if (sv_eq_ci(argv[i], "limit")) {
            i += 2;
        } else if (sv_eq_ci(argv[i], "get") || sv_eq_ci(argv[i], "by")) {
            i += 1;
        } else if (sv_eq_ci(argv[i], "store") && i + 1 < argc) {
            dst = i + 1;
        }
    }
    if (n < max) {
        out[n].pos = 1;
        out[n++].flags = cmd->specs[0].flags;
    }
    if (dst && n < max) {
        out[n].pos = dst;
        out[n++].flags = cmd->specs[2].flags;
    }
    return n;
}
