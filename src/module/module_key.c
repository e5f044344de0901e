/* module_key: the key API (OpenKey and the calls on an open key) for
 * strings, lists, hashes, sorted sets and module types. A key handle
 * keeps the name, not the entry: writes may replace an entry, so every
 * call looks the key up again. As in Redis, these calls emit no keyspace
 * events (a module does that itself) but do tell WATCH, client tracking
 * and blocked clients that the key changed. Streams are module_stream.c's. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "module/module_int.h"
#include "types/hash.h"
#include "types/list.h"
#include "types/set.h"
#include "types/stream.h"
#include "types/zset.h"

static kobj *find(km_key *k)
{
    return db_lookup(k->d, k->name, LOOKUP_NOTOUCH);
}

/* The entry, about to be changed (a snapshot in progress saves it first). */
static kobj *find_for_write(km_key *k)
{
    kobj *o = find(k);
    if (o) {
        db_will_change(k->d, o);
    }
    return o;
}

static void changed(km_key *k)
{
    server.dirty++;
    server_key_written(k->d, k->name, k->ctx ? k->ctx->c : NULL);
}

kobj *km_key_lookup(km_key *k)
{
    return find(k);
}

void km_key_changed(km_key *k)
{
    changed(k);
}

km_key *km_open_key(km_ctx *ctx, km_string *name, int mode)
{
    db *d = &server.dbs[km_ctx_dbid(ctx)];
    sv key = {name->s, str_len(name->s)};
    kobj *o = db_lookup(d, key, (mode & KM_OPEN_KEY_NOTOUCH) ? LOOKUP_NOTOUCH : LOOKUP_NONE);
    if (!(mode & KM_WRITE)) {
        if (o) {
            server.stats.keyspace_hits++;
        } else {
            server.stats.keyspace_misses++;
            return NULL;
        }
    } else if (o) {
        db_will_change(d, o);
    }
    km_key *k = alloc_zero(sizeof(*k));
    k->ctx = ctx;
    k->d = d;
    k->keystr = name;
    name->refs++;
    k->name = (sv){name->s, str_len(name->s)};
    k->mode = mode;
    k->zr_ended = 1; /* no walk yet */
    km_auto_add(ctx, KAUTO_KEY, k);
    return k;
}

void km_key_close(km_key *k)
{
    if (!k) {
        return;
    }
    km_stream_walk_free(k);
    km_string_release(NULL, k->keystr);
    alloc_free(k);
}

static void api_close_key(km_key *k)
{
    if (!k) {
        return;
    }
    km_auto_forget(k->ctx, k);
    km_key_close(k);
}

static int key_type(const kobj *o)
{
    if (!o) {
        return KM_KEYTYPE_EMPTY;
    }
    switch (o->type) {
    case OBJ_STRING: return KM_KEYTYPE_STRING;
    case OBJ_LIST: return KM_KEYTYPE_LIST;
    case OBJ_HASH: return KM_KEYTYPE_HASH;
    case OBJ_SET: return KM_KEYTYPE_SET;
    case OBJ_ZSET: return KM_KEYTYPE_ZSET;
    case OBJ_MODULE:
    case OBJ_VSET: return KM_KEYTYPE_MODULE;
    default: return KM_KEYTYPE_STREAM;
    }
}

static int api_key_type(km_key *k)
{
    return k ? key_type(find(k)) : KM_KEYTYPE_EMPTY;
}

static size_t api_value_length(km_key *k)
{
    kobj *o = k ? find(k) : NULL;
    if (!o) {
        return 0;
    }
    if (o->type == OBJ_STRING) {
        char buf[32];
        return kobj_str(o, buf).len;
    }
    if (o->type == OBJ_MODULE || o->type == OBJ_VSET) {
        return 0;
    }
    return obj_type_ops(o->type)->length(kobj_ptr(o));
}

static int writable(const km_key *k)
{
    return k && (k->mode & KM_WRITE);
}

static int api_delete_key(km_key *k)
{
    if (!writable(k)) {
        return KM_ERR;
    }
    if (find_for_write(k)) {
        db_delete(k->d, k->name);
        changed(k);
    }
    return KM_OK;
}

static int api_unlink_key(km_key *k)
{
    return api_delete_key(k);
}

static long long api_get_expire(km_key *k)
{
    kobj *o = k ? find(k) : NULL;
    int64_t when = o ? kobj_expire(o) : -1;
    if (when < 0) {
        return KM_NO_EXPIRE;
    }
    int64_t left = when - server_ms();
    return left >= 0 ? left : 0;
}

static int api_set_expire(km_key *k, long long ms)
{
    kobj *o = writable(k) ? find_for_write(k) : NULL;
    if (!o || (ms < 0 && ms != KM_NO_EXPIRE)) {
        return KM_ERR;
    }
    db_set_expire(k->d, o, ms == KM_NO_EXPIRE ? -1 : server_ms() + ms);
    changed(k);
    return KM_OK;
}

static int api_set_abs_expire(km_key *k, long long when)
{
    kobj *o = writable(k) ? find_for_write(k) : NULL;
    if (!o || (when < 0 && when != KM_NO_EXPIRE)) {
        return KM_ERR;
    }
    db_set_expire(k->d, o, when == KM_NO_EXPIRE ? -1 : when);
    changed(k);
    return KM_OK;
}

static long long api_get_abs_expire(km_key *k)
{
    kobj *o = k ? find(k) : NULL;
    int64_t when = o ? kobj_expire(o) : -1;
    return when < 0 ? KM_NO_EXPIRE : when;
}

/* ---- strings ---- */

static int api_string_set(km_key *k, km_string *val)
{
    if (!writable(k)) {
        return KM_ERR;
    }
    find_for_write(k); /* any old value goes, whatever its type, as in Redis */
    db_set(k->d, kobj_new_string(k->name, (sv){val->s, str_len(val->s)}, -1));
    changed(k);
    return KM_OK;
}

/* The string as a raw entry the module may write into. */
static kobj *raw_string(km_key *k, kobj *o)
{
    if (!o) {
        kobj *n = kobj_new_raw(k->name, str_empty(0), -1);
        db_add(k->d, n);
        return n;
    }
    if (o->enc == ENC_RAW) {
        return o;
    }
    char buf[32];
    sv v = kobj_str(o, buf);
    kobj *n = kobj_new_raw(k->name, str_new(v.ptr, v.len), kobj_expire(o));
    n->lru = o->lru;
    db_swap_entry(k->d, o, n);
    kobj_free(o);
    return n;
}

static char *api_string_dma(km_key *k, size_t *len, int mode)
{
    static char empty[1];
    kobj *o = k ? find(k) : NULL;
    if (o && o->type != OBJ_STRING) {
        return NULL;
    }
    if (!o && !(mode & KM_WRITE)) {
        *len = 0;
        return empty;
    }
    if ((mode & KM_WRITE) && writable(k)) {
        if (o) {
            db_will_change(k->d, o);
        }
        o = raw_string(k, o);
        str s = kobj_raw(o);
        *len = str_len(s);
        changed(k);
        return s;
    }
    if (o->enc == ENC_RAW) {
        str s = kobj_raw(o);
        *len = str_len(s);
        return s;
    }
    /* Inline and integer forms: become raw so the pointer stays valid
     * while the key is open, as Redis's is. */
    db_will_change(k->d, o);
    o = raw_string(k, o);
    *len = str_len(kobj_raw(o));
    return kobj_raw(o);
}

static int api_string_truncate(km_key *k, size_t newlen)
{
    kobj *o = writable(k) ? find_for_write(k) : NULL;
    if (!writable(k) || (o && o->type != OBJ_STRING) || newlen > 512ull * 1024 * 1024) {
        return KM_ERR;
    }
    if (!o && newlen == 0) {
        return KM_OK;
    }
    o = raw_string(k, o);
    str s = kobj_raw(o);
    size_t cur = str_len(s);
    if (newlen > cur) {
        s = str_grow_zero(s, newlen);
    } else {
        str_set_len(s, newlen);
    }
    kobj_set_raw(o, s);
    changed(k);
    return KM_OK;
}

/* ---- lists ---- */

/* Failing, Push and Pop leave errno as Redis does: EINVAL (no key or
 * element, or an unknown end), ENOTSUP (another type), EBADF (not open
 * for writing). */
static int list_end_errno(km_key *k, int where, const void *ele, kobj *o)
{
    if (!k || !ele || (where != KM_LIST_HEAD && where != KM_LIST_TAIL)) {
        return EINVAL;
    }
    if (o && o->type != OBJ_LIST) {
        return ENOTSUP;
    }
    return writable(k) ? 0 : EBADF;
}

static int api_list_push(km_key *k, int where, km_string *ele)
{
    kobj *o = k ? find(k) : NULL;
    int e = list_end_errno(k, where, ele, o);
    if (e) {
        errno = e;
        return KM_ERR;
    }
    if (o) {
        db_will_change(k->d, o);
    } else {
        o = kobj_new_ptr(k->name, OBJ_LIST, list_new(), -1);
        db_add(k->d, o);
    }
    list_push(kobj_ptr(o), (sv){ele->s, str_len(ele->s)}, where == KM_LIST_HEAD ? LIST_HEAD : LIST_TAIL,
              server_list_limits());
    changed(k);
    return KM_OK;
}

static km_string *api_list_pop(km_key *k, int where)
{
    kobj *o = k ? find(k) : NULL;
    int e = list_end_errno(k, where, "", o);
    if (e || !o) {
        errno = e ? e : ENOTSUP; /* (an empty key too, as Redis) */
        return NULL;
    }
    db_will_change(k->d, o);
    int end = where == KM_LIST_HEAD ? LIST_HEAD : LIST_TAIL;
    list *l = kobj_ptr(o);
    sv v = list_peek(l, end);
    km_string *s = km_string_new(k->ctx, v.ptr, v.len);
    list_pop(l, end, server_list_limits());
    if (list_len(l) == 0) {
        db_delete(k->d, k->name);
    }
    changed(k);
    return s;
}

/* The list at k, for an access by index in mode (KM_READ or KM_WRITE),
 * with index within it; NULL with errno as Redis sets it: EINVAL (no
 * key), ENOTSUP (no list there), EBADF (not opened so), EDOM (out of
 * range). */
static list *list_at(km_key *k, long index, int mode, int insert)
{
    if (!k) {
        errno = EINVAL;
        return NULL;
    }
    kobj *o = find(k);
    if (!o || o->type != OBJ_LIST) {
        errno = ENOTSUP;
        return NULL;
    }
    if (!(k->mode & mode)) {
        errno = EBADF;
        return NULL;
    }
    long len = (long)list_len(kobj_ptr(o));
    if (index < -len - insert || index >= len + insert) {
        errno = EDOM;
        return NULL;
    }
    if (mode == KM_WRITE) {
        db_will_change(k->d, o);
    }
    return kobj_ptr(o);
}

static km_string *api_list_get(km_key *k, long index)
{
    list *l = list_at(k, index, KM_READ, 0);
    sv v;
    if (!l || !list_index(l, index, &v)) {
        return NULL;
    }
    return km_string_new(k->ctx, v.ptr, v.len);
}

static int api_list_set(km_key *k, long index, km_string *value)
{
    if (!value) {
        errno = EINVAL;
        return KM_ERR;
    }
    list *l = list_at(k, index, KM_WRITE, 0);
    if (!l) {
        return KM_ERR;
    }
    list_set(l, index, (sv){value->s, str_len(value->s)}, server_list_limits());
    changed(k);
    return KM_OK;
}

/* The new element ends up before the one at a non-negative index (the
 * length appends) and after the one at a negative index (-1 appends, one
 * past the head prepends), as Redis places it; an empty key takes 0 or
 * -1 as a push. */
static int api_list_insert(km_key *k, long index, km_string *value)
{
    if (!value) {
        errno = EINVAL;
        return KM_ERR;
    }
    if (k && !find(k) && (index == 0 || index == -1)) {
        return api_list_push(k, KM_LIST_TAIL, value);
    }
    list *l = list_at(k, index, KM_WRITE, 1);
    if (!l) {
        return KM_ERR;
    }
    long len = (long)list_len(l);
    long pos = index < 0 ? len + index + 1 : index;
    sv val = {value->s, str_len(value->s)};
    if (pos == len) {
        list_push(l, val, LIST_TAIL, server_list_limits());
    } else if (pos == 0) {
        list_push(l, val, LIST_HEAD, server_list_limits());
    } else {
        list_iter it;
        sv cur;
        list_iter_init(&it, l, pos, LIST_TAIL);
        list_iter_next(&it, &cur);
        list_iter_insert(&it, val, 0, server_list_limits());
    }
    changed(k);
    return KM_OK;
}

static int api_list_delete(km_key *k, long index)
{
    list *l = list_at(k, index, KM_WRITE, 0);
    if (!l) {
        return KM_ERR;
    }
    list_iter it;
    sv cur;
    list_iter_init(&it, l, index, LIST_TAIL);
    list_iter_next(&it, &cur);
    list_iter_delete(&it);
    list_tidy(l, server_list_limits());
    if (list_len(l) == 0) {
        db_delete(k->d, k->name);
    }
    changed(k);
    return KM_OK;
}

/* ---- access times: LRU idle time (milliseconds) and LFU counter ---- */

static int api_get_lru(km_key *k, long long *idle_ms)
{
    *idle_ms = -1;
    kobj *o = k ? find(k) : NULL;
    if (!o) {
        return KM_ERR;
    }
    if (!db_lfu_enabled()) {
        *idle_ms = db_idle_seconds(o) * 1000;
    }
    return KM_OK;
}

static int api_set_lru(km_key *k, long long idle_ms)
{
    kobj *o = k ? find(k) : NULL;
    return o && db_set_access(o, idle_ms < 0 ? -1 : idle_ms / 1000, -1) ? KM_OK : KM_ERR;
}

static int api_get_lfu(km_key *k, long long *freq)
{
    *freq = -1;
    kobj *o = k ? find(k) : NULL;
    if (!o) {
        return KM_ERR;
    }
    if (db_lfu_enabled()) {
        *freq = db_lfu_counter(o);
    }
    return KM_OK;
}

static int api_set_lfu(km_key *k, long long freq)
{
    kobj *o = k ? find(k) : NULL;
    return o && db_set_access(o, -1, freq) ? KM_OK : KM_ERR;
}

/* ---- hashes ---- */

static sv field_of(void *arg, int cfields)
{
    if (cfields) {
        const char *s = arg;
        return (sv){s, strlen(s)};
    }
    km_string *s = arg;
    return (sv){s->s, str_len(s->s)};
}

/* The fields changed or deleted (COUNT_ALL: inserted too); 0 with errno
 * set as Redis sets it: EINVAL (no key, unknown flags), ENOTSUP (not a
 * hash), EBADF (not open for writing), ENOENT (nothing counted). */
static int api_hash_set(km_key *k, int flags, ...)
{
    if (!k || (flags & ~(KM_HASH_NX | KM_HASH_XX | KM_HASH_CFIELDS | KM_HASH_COUNT_ALL))) {
        errno = EINVAL;
        return 0;
    }
    kobj *o = find(k);
    if (o && o->type != OBJ_HASH) {
        errno = ENOTSUP;
        return 0;
    }
    if (!writable(k)) {
        errno = EBADF;
        return 0;
    }
    if (o) {
        db_will_change(k->d, o);
    }
    int cfields = (flags & KM_HASH_CFIELDS) != 0;
    hash_limits lim = {server.cfg.hash_max_listpack_entries, server.cfg.hash_max_listpack_value};
    hash *h = o ? kobj_ptr(o) : NULL;
    int count = 0, any = 0;
    va_list ap;
    va_start(ap, flags);
    for (;;) {
        void *farg = va_arg(ap, void *);
        if (!farg) {
            break;
        }
        km_string *val = va_arg(ap, km_string *);
        sv f = field_of(farg, cfields);
        sv cur;
        int exists = h && hash_get(h, f, &cur);
        if (((flags & KM_HASH_NX) && exists) || ((flags & KM_HASH_XX) && !exists)) {
            continue;
        }
        if ((void *)val == KM_HASH_DELETE) {
            if (exists) {
                int deleted;
                h = hash_del(h, f, &deleted);
                count++;
                any = 1;
            }
            continue;
        }
        if (!h) {
            h = hash_new();
            o = kobj_new_ptr(k->name, OBJ_HASH, h, -1);
            db_add(k->d, o);
        }
        int added;
        h = hash_set(h, f, (sv){val->s, str_len(val->s)}, 0, &lim, &added);
        count += exists || (flags & KM_HASH_COUNT_ALL) ? 1 : 0;
        any = 1;
    }
    va_end(ap);
    if (count == 0) {
        errno = ENOENT;
    }
    if (o) {
        kobj_set_ptr(o, h);
        if (hash_len(h) == 0) {
            db_delete(k->d, k->name);
        }
    }
    if (any) {
        changed(k);
    }
    return count;
}

static int api_hash_get(km_key *k, int flags, ...)
{
    kobj *o = k ? find(k) : NULL;
    if (o && o->type != OBJ_HASH) {
        return KM_ERR;
    }
    int cfields = (flags & KM_HASH_CFIELDS) != 0;
    hash *h = o ? kobj_ptr(o) : NULL;
    va_list ap;
    va_start(ap, flags);
    for (;;) {
        void *farg = va_arg(ap, void *);
        if (!farg) {
            break;
        }
        sv f = field_of(farg, cfields);
        sv v;
        int exists = h && hash_get(h, f, &v);
        if (flags & KM_HASH_EXISTS) {
            int *out = va_arg(ap, int *);
            *out = exists;
        } else {
            km_string **out = va_arg(ap, km_string **);
            *out = exists ? km_string_new(k->ctx, v.ptr, v.len) : NULL;
        }
    }
    va_end(ap);
    return KM_OK;
}

/* ---- sorted sets ---- */

static void zset_limits_now(void)
{
    zset_set_limits((size_t)server.cfg.zset_max_listpack_entries, (size_t)server.cfg.zset_max_listpack_value);
}

static int zadd(km_key *k, double score, km_string *ele, int *flagsptr, int incr, double *newscore)
{
    kobj *o = writable(k) ? find_for_write(k) : NULL;
    if (!writable(k) || !ele || (o && o->type != OBJ_ZSET)) {
        return KM_ERR;
    }
    if (score != score) {
        if (flagsptr) {
            *flagsptr = 0; /* as Redis clears them when the score is NaN */
        }
        return KM_ERR;
    }
    int in = flagsptr ? *flagsptr : 0;
    int flags = (in & KM_ZADD_XX ? ZADD_XX : 0) | (in & KM_ZADD_NX ? ZADD_NX : 0) | (in & KM_ZADD_GT ? ZADD_GT : 0) |
                (in & KM_ZADD_LT ? ZADD_LT : 0) | (incr ? ZADD_INCR : 0);
    if (!o && (flags & ZADD_XX)) {
        if (flagsptr) {
            *flagsptr = KM_ZADD_NOP;
        }
        return KM_OK;
    }
    zset_limits_now();
    zset *z = o ? kobj_ptr(o) : zset_new(1, str_len(ele->s));
    int out = 0;
    double ns = 0;
    z = zset_add(z, score, (sv){ele->s, str_len(ele->s)}, flags, &out, &ns);
    if (o) {
        kobj_set_ptr(o, z);
    } else {
        db_add(k->d, kobj_new_ptr(k->name, OBJ_ZSET, z, -1));
    }
    if (out & ZADD_OUT_NAN) {
        if (flagsptr) {
            *flagsptr = 0;
        }
        return KM_ERR;
    }
    /* A NOP (NX, XX, GT, LT said no) leaves the caller's variable alone. */
    if (newscore && !(out & ZADD_OUT_NOP)) {
        *newscore = ns;
    }
    if (flagsptr) {
        *flagsptr = (out & ZADD_OUT_ADDED ? KM_ZADD_ADDED : 0) | (out & ZADD_OUT_UPDATED ? KM_ZADD_UPDATED : 0) |
                    (out & ZADD_OUT_NOP ? KM_ZADD_NOP : 0);
    }
    if (out & (ZADD_OUT_ADDED | ZADD_OUT_UPDATED)) {
        changed(k);
    }
    return KM_OK;
}

static int api_zset_add(km_key *k, double score, km_string *ele, int *flagsptr)
{
    return zadd(k, score, ele, flagsptr, 0, NULL);
}

static int api_zset_incrby(km_key *k, double score, km_string *ele, int *flagsptr, double *newscore)
{
    return zadd(k, score, ele, flagsptr, 1, newscore);
}

static int api_zset_rem(km_key *k, km_string *ele, int *deleted)
{
    kobj *o = writable(k) ? find_for_write(k) : NULL;
    if (!writable(k) || (o && o->type != OBJ_ZSET)) {
        return KM_ERR;
    }
    int removed = 0;
    if (o) {
        zset *z = zset_remove(kobj_ptr(o), (sv){ele->s, str_len(ele->s)}, &removed);
        kobj_set_ptr(o, z);
        if (zset_len(z) == 0) {
            db_delete(k->d, k->name);
        }
        if (removed) {
            changed(k);
        }
    }
    if (deleted) {
        *deleted = removed;
    }
    return KM_OK;
}

static int api_zset_score(km_key *k, km_string *ele, double *score)
{
    kobj *o = k ? find(k) : NULL;
    if (!o || o->type != OBJ_ZSET) {
        return KM_ERR;
    }
    return zset_score(kobj_ptr(o), (sv){ele->s, str_len(ele->s)}, score) ? KM_OK : KM_ERR;
}

/* ---- sorted-set ranges ----
 * As Redis's: a walk keeps its current element when a step would leave
 * the range (the step returns 0 and the end is reached, yet a step back
 * still moves from there); with no walk, the end counts as reached,
 * except after a lex start refused for its bounds. */

/* Starts a walk over ranks [start, end) at its first (or last) element. */
static void zr_begin(km_key *k, size_t start, size_t end, int from_last)
{
    k->zr_on = 1;
    k->zr_start = start;
    k->zr_end = end;
    k->zr_ended = start >= end;
    k->zr_rank = from_last && end > 0 ? end - 1 : start;
}

static void zr_reset(km_key *k, int ended)
{
    k->zr_on = 0;
    k->zr_ended = ended;
}

static zset *zr_set(km_key *k)
{
    kobj *o = k ? find(k) : NULL;
    return o && o->type == OBJ_ZSET ? kobj_ptr(o) : NULL;
}

static int score_range(km_key *k, double min, double max, int minex, int maxex, int from_last)
{
    zset *z = zr_set(k);
    if (!z) {
        return KM_ERR;
    }
    zscore_range r = {min, max, minex, maxex};
    size_t start, end;
    zset_score_bounds(z, &r, &start, &end);
    zr_begin(k, start, end, from_last);
    return KM_OK;
}

static int api_zset_first_in_score_range(km_key *k, double min, double max, int minex, int maxex)
{
    return score_range(k, min, max, minex, maxex, 0);
}

static int api_zset_last_in_score_range(km_key *k, double min, double max, int minex, int maxex)
{
    return score_range(k, min, max, minex, maxex, 1);
}

static int lex_range(km_key *k, km_string *min, km_string *max, int from_last)
{
    zset *z = zr_set(k);
    if (!z) {
        return KM_ERR;
    }
    zlex_range r;
    if (!min || !max || !zset_parse_lex_bound((sv){min->s, str_len(min->s)}, &r.min, &r.minex, &r.min_kind) ||
        !zset_parse_lex_bound((sv){max->s, str_len(max->s)}, &r.max, &r.maxex, &r.max_kind)) {
        zr_reset(k, 0);
        return KM_ERR;
    }
    size_t start, end;
    zset_lex_bounds(z, &r, &start, &end);
    zr_begin(k, start, end, from_last);
    return KM_OK;
}

static int api_zset_first_in_lex_range(km_key *k, km_string *min, km_string *max)
{
    return lex_range(k, min, max, 0);
}

static int api_zset_last_in_lex_range(km_key *k, km_string *min, km_string *max)
{
    return lex_range(k, min, max, 1);
}

static km_string *api_zset_range_current_element(km_key *k, double *score)
{
    zset *z = zr_set(k);
    if (!z || !k->zr_on || k->zr_start >= k->zr_end || k->zr_rank >= zset_len(z)) {
        return NULL;
    }
    zset_iter it;
    zset_iter_at(&it, z, k->zr_rank, 0);
    sv m;
    double s;
    if (!zset_iter_next(&it, &m, &s)) {
        return NULL;
    }
    if (score) {
        *score = s;
    }
    return km_string_new(k->ctx, m.ptr, m.len);
}

static int api_zset_range_next(km_key *k)
{
    if (!k || !k->zr_on || k->zr_start >= k->zr_end) {
        return 0;
    }
    if (k->zr_rank + 1 >= k->zr_end) {
        k->zr_ended = 1;
        return 0;
    }
    k->zr_rank++;
    return 1;
}

static int api_zset_range_prev(km_key *k)
{
    if (!k || !k->zr_on || k->zr_start >= k->zr_end) {
        return 0;
    }
    if (k->zr_rank <= k->zr_start) {
        k->zr_ended = 1;
        return 0;
    }
    k->zr_rank--;
    return 1;
}

static int api_zset_range_end_reached(km_key *k)
{
    return !k || k->zr_ended;
}

static void api_zset_range_stop(km_key *k)
{
    if (k) {
        zr_reset(k, 1);
    }
}

/* ---- module types ---- */

static int api_module_type_set_value(km_key *k, km_type *t, void *value)
{
    if (!writable(k) || !t) {
        return KM_ERR;
    }
    find_for_write(k);
    kobj *o = find(k);
    int64_t expire = o ? kobj_expire(o) : -1;
    db_set(k->d, kobj_new_ptr(k->name, OBJ_MODULE, km_value_new(t, value), expire));
    changed(k);
    return KM_OK;
}

static km_type *api_module_type_get_type(km_key *k)
{
    kobj *o = k ? find(k) : NULL;
    return o && o->type == OBJ_MODULE ? ((km_value *)kobj_ptr(o))->type : NULL;
}

static void *api_module_type_get_value(km_key *k)
{
    kobj *o = k ? find(k) : NULL;
    if (!o || o->type != OBJ_MODULE) {
        return NULL;
    }
    if (writable(k)) {
        /* The module will change the value in place. */
        db_will_change(k->d, o);
        changed(k);
    }
    return ((km_value *)kobj_ptr(o))->v;
}

static int api_module_type_replace_value(km_key *k, km_type *t, void *value, void **old)
{
    kobj *o = writable(k) ? find_for_write(k) : NULL;
    if (!o || o->type != OBJ_MODULE || ((km_value *)kobj_ptr(o))->type != t) {
        return KM_ERR;
    }
    km_value *mv = kobj_ptr(o);
    if (old) {
        *old = mv->v;
    }
    mv->v = value;
    changed(k);
    return KM_OK;
}

static km_string *api_get_key_name_from_module_key(km_key *k)
{
    return k ? k->keystr : NULL;
}

static int api_get_db_id_from_module_key(km_key *k)
{
    return k ? k->d->id : -1;
}

/* A read, as Redis's: no LRU touch, but a hit or a miss counted, and a
 * miss fires keymiss. */
static int api_key_exists(km_ctx *ctx, km_string *name)
{
    db *d = &server.dbs[km_ctx_dbid(ctx)];
    sv key = {name->s, str_len(name->s)};
    if (db_lookup(d, key, LOOKUP_NOTOUCH)) {
        server.stats.keyspace_hits++;
        return 1;
    }
    server.stats.keyspace_misses++;
    notify_event(NOTIFY_KEY_MISS, "keymiss", key, d->id);
    return 0;
}

const km_api_entry km_api_key[] = {{"OpenKey", km_open_key},
                                   {"CloseKey", api_close_key},
                                   {"KeyType", api_key_type},
                                   {"KeyExists", api_key_exists},
                                   {"ValueLength", api_value_length},
                                   {"DeleteKey", api_delete_key},
                                   {"UnlinkKey", api_unlink_key},
                                   {"GetExpire", api_get_expire},
                                   {"SetExpire", api_set_expire},
                                   {"GetAbsExpire", api_get_abs_expire},
                                   {"SetAbsExpire", api_set_abs_expire},
                                   {"StringSet", api_string_set},
                                   {"StringDMA", api_string_dma},
                                   {"StringTruncate", api_string_truncate},
                                   {"ListPush", api_list_push},
                                   {"ListPop", api_list_pop},
                                   {"ListGet", api_list_get},
                                   {"GetLRU", api_get_lru},
                                   {"SetLRU", api_set_lru},
                                   {"GetLFU", api_get_lfu},
                                   {"SetLFU", api_set_lfu},
                                   {"ListSet", api_list_set},
                                   {"ListInsert", api_list_insert},
                                   {"ListDelete", api_list_delete},
                                   {"HashSet", api_hash_set},
                                   {"HashGet", api_hash_get},
                                   {"ZsetAdd", api_zset_add},
                                   {"ZsetIncrby", api_zset_incrby},
                                   {"ZsetRem", api_zset_rem},
                                   {"ZsetScore", api_zset_score},
                                   {"ZsetFirstInScoreRange", api_zset_first_in_score_range},
                                   {"ZsetLastInScoreRange", api_zset_last_in_score_range},
                                   {"ZsetFirstInLexRange", api_zset_first_in_lex_range},
                                   {"ZsetLastInLexRange", api_zset_last_in_lex_range},
                                   {"ZsetRangeCurrentElement", api_zset_range_current_element},
                                   {"ZsetRangeNext", api_zset_range_next},
                                   {"ZsetRangePrev", api_zset_range_prev},
                                   {"ZsetRangeEndReached", api_zset_range_end_reached},
                                   {"ZsetRangeStop", api_zset_range_stop},
                                   {"ModuleTypeSetValue", api_module_type_set_value},
                                   {"ModuleTypeGetType", api_module_type_get_type},
                                   {"ModuleTypeGetValue", api_module_type_get_value},
                                   {"ModuleTypeReplaceValue", api_module_type_replace_value},
                                   {"GetKeyNameFromModuleKey", api_get_key_name_from_module_key},
                                   {"GetDbIdFromModuleKey", api_get_db_id_from_module_key},
                                   {NULL, NULL}};
