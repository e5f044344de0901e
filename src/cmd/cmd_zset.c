/* Sorted-set commands: ZADD and friends, range queries by rank, score and
 * lex, removals, pops (plain, multi-key and blocking), random members, the
 * union/intersection/difference family and ZSCAN. Replies and errors
 * follow Redis 7.2 exactly; the storage lives in types/zset. */
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "server/block.h"
#include "server/server.h"
#include "types/set.h"
#include "types/zset.h"

/* ---- shared helpers ---- */

static void sync_limits(void)
{
    zset_set_limits((size_t)server.cfg.zset_max_listpack_entries, (size_t)server.cfg.zset_max_listpack_value);
}

static zset *zobj(kobj *o)
{
    return kobj_ptr(o);
}

/* Stores z back into o after a change; deletes the key (with its "del"
 * event) when the set became empty. Returns 1 if the key was deleted. */
static int store_back(client *c, kobj *o, zset *z, sv key)
{
    kobj_set_ptr(o, z);
    return cmd_drop_if_empty(c, key, zset_len(z));
}

/* Array header for n (member, score) items: flat in RESP2, pairs in RESP3
 * when scores are included (as Redis 7 replies). */
static void reply_items_header(client *c, size_t n, int withscores)
{
    reply_array(R(c), (long long)(withscores && c->resp == 2 ? n * 2 : n));
}

static void reply_item(client *c, sv m, double s, int withscores)
{
    if (withscores && c->resp == 3) {
        reply_array(R(c), 2);
    }
    reply_bulk(R(c), m.ptr, m.len);
    if (withscores) {
        reply_double(R(c), s);
    }
}

/* Score bound: "(" for exclusive, -inf/+inf allowed. Redis reads bounds
 * with a bare strtod on the C string, so it takes leading spaces, "" as 0,
 * overflow as +-inf, underflow as 0 and ignores anything after a NUL byte;
 * only trailing junk and NaN are errors. Do the same. */
static int parse_score_bound(sv a, double *v, int *ex)
{
    *ex = 0;
    if (a.len && a.ptr[0] == '(') {
        *ex = 1;
        a.ptr++;
        a.len--;
    }
    const char *nul = memchr(a.ptr, '\0', a.len);
    size_t n = nul ? (size_t)(nul - a.ptr) : a.len;
    if (util_parse_double(a.ptr, n, v)) {
        return 1; /* well formed: what strtod would read too, only faster */
    }
    char small[128];
    char *buf = n < sizeof(small) ? small : alloc_mem(n + 1);
    memcpy(buf, a.ptr, n);
    buf[n] = '\0';
    char *end;
    *v = strtod(buf, &end);
    int ok = *end == '\0' && !isnan(*v);
    if (buf != small) {
        alloc_free(buf);
    }
    return ok;
}

static int parse_score_range(client *c, int mini, int maxi, zscore_range *r)
{
    if (!parse_score_bound(c->argv[mini], &r->min, &r->minex) ||
        !parse_score_bound(c->argv[maxi], &r->max, &r->maxex)) {
        reply_err(c, "ERR min or max is not a float");
        return 0;
    }
    return 1;
}

static int parse_lex_range(client *c, int mini, int maxi, zlex_range *r)
{
    if (!zset_parse_lex_bound(c->argv[mini], &r->min, &r->minex, &r->min_kind) ||
        !zset_parse_lex_bound(c->argv[maxi], &r->max, &r->maxex, &r->max_kind)) {
        reply_err(c, "ERR min or max not valid string range item");
        return 0;
    }
    return 1;
}

/* Normalises a rank range like Redis (negative from the end, clamped).
 * Returns 0 when it selects nothing; else the forward ranks [*s, *e]. */
static int clamp_ranks(long long start, long long end, size_t len, size_t *s, size_t *e)
{
    long long l = (long long)len;
    if (start < 0) {
        start += l;
    }
    if (end < 0) {
        end += l;
    }
    if (start < 0) {
        start = 0;
    }
    if (start > end || start >= l) {
        return 0;
    }
    if (end >= l) {
        end = l - 1;
    }
    *s = (size_t)start;
    *e = (size_t)end;
    return 1;
}

/* Puts a freshly built result set at dst (replacing any value and TTL),
 * or deletes dst when the result is empty; replies the count. */
static void store_result(client *c, sv dst, zset *z, const char *event)
{
    size_t n = z ? zset_len(z) : 0;
    if (n) {
        db_set(c->db, kobj_new_ptr(dst, OBJ_ZSET, z, -1));
        signal_write(c, NOTIFY_ZSET, event, dst);
    } else {
        if (z) {
            zset_free(z);
        }
        if (db_delete(c->db, dst)) {
            signal_write(c, NOTIFY_GENERIC, "del", dst);
        }
    }
    reply_int(R(c), (long long)n);
}

/* ---- ZADD / ZINCRBY ---- */

static void zadd_generic(client *c, int flags)
{
    int ch = 0, idx = 2;
    for (; idx < c->argc; idx++) {
        sv a = c->argv[idx];
        if (sv_eq_ci(a, "nx")) {
            flags |= ZADD_NX;
        } else if (sv_eq_ci(a, "xx")) {
            flags |= ZADD_XX;
        } else if (sv_eq_ci(a, "ch")) {
            ch = 1;
        } else if (sv_eq_ci(a, "incr")) {
            flags |= ZADD_INCR;
        } else if (sv_eq_ci(a, "gt")) {
            flags |= ZADD_GT;
        } else if (sv_eq_ci(a, "lt")) {
            flags |= ZADD_LT;
        } else {
            break;
        }
    }
    int incr = (flags & ZADD_INCR) != 0;
    int elements = c->argc - idx;
    if (elements == 0 || elements % 2) {
        reply_syntax_error(c);
        return;
    }
    elements /= 2;
    if ((flags & ZADD_NX) && (flags & ZADD_XX)) {
        reply_err(c, "ERR XX and NX options at the same time are not compatible");
        return;
    }
    if (((flags & ZADD_GT) && (flags & ZADD_NX)) || ((flags & ZADD_LT) && (flags & ZADD_NX)) ||
        ((flags & ZADD_GT) && (flags & ZADD_LT))) {
        reply_err(c, "ERR GT, LT, and/or NX options at the same time are not compatible");
        return;
    }
    if (incr && elements > 1) {
        reply_err(c, "ERR INCR option supports a single increment-element pair");
        return;
    }
    /* All scores are checked before anything changes. */
    double stack_scores[16];
    double *scores = elements <= 16 ? stack_scores : alloc_mem(sizeof(double) * (size_t)elements);
    size_t maxlen = 0;
    for (int i = 0; i < elements; i++) {
        sv s = c->argv[idx + 2 * i];
        if (!util_parse_double(s.ptr, s.len, &scores[i])) {
            reply_not_float(c);
            goto done;
        }
        if (c->argv[idx + 2 * i + 1].len > maxlen) {
            maxlen = c->argv[idx + 2 * i + 1].len;
        }
    }
    sv key = c->argv[1];
    int bad;
    kobj *o = lookup_typed(c, key, OBJ_ZSET, 1, &bad);
    if (bad) {
        goto done;
    }
    sync_limits();
    long long added = 0, updated = 0, processed = 0;
    double score = 0;
    zset *z = NULL;
    if (!o && !(flags & ZADD_XX)) {
        z = zset_new((size_t)elements, maxlen);
    } else if (o) {
        z = zobj(o);
    }
    int nan_error = 0;
    for (int i = 0; z && i < elements; i++) {
        int out;
        double ns = 0;
        z = zset_add(z, scores[i], c->argv[idx + 2 * i + 1], flags, &out, &ns);
        if (out & ZADD_OUT_NAN) {
            nan_error = 1;
            break;
        }
        if (out & ZADD_OUT_ADDED) {
            added++;
        }
        if (out & ZADD_OUT_UPDATED) {
            updated++;
        }
        if (!(out & ZADD_OUT_NOP)) {
            processed++;
        }
        score = ns;
    }
    if (z) {
        if (o) {
            kobj_set_ptr(o, z);
        } else if (zset_len(z)) {
            db_add(c->db, kobj_new_ptr(key, OBJ_ZSET, z, -1));
        } else {
            zset_free(z);
        }
    }
    if (nan_error) {
        reply_err(c, "ERR resulting score is not a number (NaN)");
    } else if (incr) {
        if (processed) {
            reply_double(R(c), score);
        } else {
            reply_null(R(c));
        }
    } else {
        reply_int(R(c), ch ? added + updated : added);
    }
    if (added || updated) {
        signal_write(c, NOTIFY_ZSET, incr ? "zincr" : "zadd", key);
    }
done:
    if (scores != stack_scores) {
        alloc_free(scores);
    }
}

void cmd_zadd(client *c)
{
    zadd_generic(c, 0);
}

void cmd_zincrby(client *c)
{
    zadd_generic(c, ZADD_INCR);
}

/* ---- point reads and removal ---- */

void cmd_zrem(client *c)
{
    sv key = c->argv[1];
    int bad;
    kobj *o = lookup_typed(c, key, OBJ_ZSET, 1, &bad);
    if (bad) {
        return;
    }
    if (!o) {
        reply_int(R(c), 0);
        return;
    }
    zset *z = zobj(o);
    long long deleted = 0;
    for (int i = 2; i < c->argc && zset_len(z); i++) {
        int removed;
        z = zset_remove(z, c->argv[i], &removed);
        deleted += removed;
    }
    if (deleted) {
        signal_write(c, NOTIFY_ZSET, "zrem", key);
        store_back(c, o, z, key);
    }
    reply_int(R(c), deleted);
}

void cmd_zscore(client *c)
{
    int bad;
    kobj *o = lookup_typed(c, c->argv[1], OBJ_ZSET, 0, &bad);
    double s;
    if (bad) {
        return;
    }
    if (!o || !zset_score(zobj(o), c->argv[2], &s)) {
        reply_null(R(c));
        return;
    }
    reply_double(R(c), s);
}

void cmd_zmscore(client *c)
{
    int bad;
    kobj *o = lookup_typed(c, c->argv[1], OBJ_ZSET, 0, &bad);
    if (bad) {
        return;
    }
    reply_array(R(c), c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        double s;
        if (o && zset_score(zobj(o), c->argv[i], &s)) {
            reply_double(R(c), s);
        } else {
            reply_null(R(c));
        }
    }
}

void cmd_zcard(client *c)
{
    int bad;
    kobj *o = lookup_typed(c, c->argv[1], OBJ_ZSET, 0, &bad);
    if (!bad) {
        reply_int(R(c), o ? (long long)zset_len(zobj(o)) : 0);
    }
}

/* ZCOUNT (a score range) and ZLEXCOUNT (lex). */
static void zcount_generic(client *c, int lex)
{
    zscore_range sr;
    zlex_range lr;
    if (lex ? !parse_lex_range(c, 2, 3, &lr) : !parse_score_range(c, 2, 3, &sr)) {
        return;
    }
    int bad;
    kobj *o = lookup_typed(c, c->argv[1], OBJ_ZSET, 0, &bad);
    if (bad) {
        return;
    }
    size_t s = 0, e = 0;
    if (o && lex) {
        zset_lex_bounds(zobj(o), &lr, &s, &e);
    } else if (o) {
        zset_score_bounds(zobj(o), &sr, &s, &e);
    }
    reply_int(R(c), e > s ? (long long)(e - s) : 0);
}

void cmd_zcount(client *c)
{
    zcount_generic(c, 0);
}

void cmd_zlexcount(client *c)
{
    zcount_generic(c, 1);
}

static void zrank_generic(client *c, int rev)
{
    if (c->argc > 4) {
        reply_arity_error(c);
        return;
    }
    int withscore = 0;
    if (c->argc == 4) {
        if (!sv_eq_ci(c->argv[3], "withscore")) {
            reply_syntax_error(c);
            return;
        }
        withscore = 1;
    }
    int bad;
    kobj *o = lookup_typed(c, c->argv[1], OBJ_ZSET, 0, &bad);
    if (bad) {
        return;
    }
    double s = 0;
    long rank = o ? zset_rank(zobj(o), c->argv[2], &s) : -1;
    if (rank < 0) {
        if (withscore) {
            reply_null_array(R(c));
        } else {
            reply_null(R(c));
        }
        return;
    }
    if (rev) {
        rank = (long)zset_len(zobj(o)) - 1 - rank;
    }
    if (withscore) {
        reply_array(R(c), 2);
        reply_int(R(c), rank);
        reply_double(R(c), s);
    } else {
        reply_int(R(c), rank);
    }
}

void cmd_zrank(client *c)
{
    zrank_generic(c, 0);
}

void cmd_zrevrank(client *c)
{
    zrank_generic(c, 1);
}

/* ---- ranges ---- */

enum { RANGE_AUTO, RANGE_RANK, RANGE_SCORE, RANGE_LEX };

/* Emits `count` elements starting at forward rank `first`, walking down
 * when rev, to the client or (dst != NULL) into a new set. */
static void emit_range(client *c, zset *z, size_t first, size_t count, int rev, int withscores, zset **dst)
{
    if (dst) {
        *dst = count ? zset_new(count, 0) : NULL;
    } else {
        reply_items_header(c, count, withscores);
    }
    zset_iter it;
    sv m;
    double s;
    zset_iter_at(&it, z, first, rev);
    for (size_t i = 0; i < count && zset_iter_next(&it, &m, &s); i++) {
        if (dst) {
            int out;
            *dst = zset_add(*dst, s, m, 0, &out, NULL);
        } else {
            reply_item(c, m, s, withscores);
        }
    }
}

/* The whole Z*RANGE* family. key_idx is the source key's position; dst_idx
 * the destination's for ZRANGESTORE (0 otherwise); type and rev are fixed
 * by legacy commands (RANGE_AUTO / -1 let options choose). */
static void zrange_generic(client *c, int key_idx, int dst_idx, int type, int rev)
{
    int minidx = key_idx + 1, maxidx = key_idx + 2;
    int withscores = 0;
    long long offset = 0, limit = -1;
    for (int j = key_idx + 3; j < c->argc; j++) {
        int left = c->argc - j - 1;
        sv a = c->argv[j];
        if (!dst_idx && sv_eq_ci(a, "withscores")) {
            withscores = 1;
        } else if (sv_eq_ci(a, "limit") && left >= 2) {
            if (!arg_ll(c, j + 1, &offset) || !arg_ll(c, j + 2, &limit)) {
                return;
            }
            j += 2;
        } else if (rev == -1 && sv_eq_ci(a, "rev")) {
            rev = 1;
        } else if (type == RANGE_AUTO && sv_eq_ci(a, "bylex")) {
            type = RANGE_LEX;
        } else if (type == RANGE_AUTO && sv_eq_ci(a, "byscore")) {
            type = RANGE_SCORE;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    if (rev == -1) {
        rev = 0;
    }
    if (type == RANGE_AUTO) {
        type = RANGE_RANK;
    }
    if (limit != -1 && type == RANGE_RANK) {
        reply_err(c, "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
        return;
    }
    if (withscores && type == RANGE_LEX) {
        reply_err(c, "ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return;
    }
    if (rev && type != RANGE_RANK) {
        /* Reverse score/lex ranges are written max first. */
        int t = minidx;
        minidx = maxidx;
        maxidx = t;
    }
    long long start = 0, end = 0;
    zscore_range sr;
    zlex_range lr;
    if (type == RANGE_RANK) {
        if (!arg_ll(c, minidx, &start) || !arg_ll(c, maxidx, &end)) {
            return;
        }
    } else if (type == RANGE_SCORE) {
        if (!parse_score_range(c, minidx, maxidx, &sr)) {
            return;
        }
    } else if (!parse_lex_range(c, minidx, maxidx, &lr)) {
        return;
    }
    int bad;
    kobj *o = lookup_typed(c, c->argv[key_idx], OBJ_ZSET, 0, &bad);
    if (bad) {
        return;
    }
    zset *dst = NULL;
    if (!o) {
        if (dst_idx) {
            store_result(c, c->argv[dst_idx], NULL, "zrangestore");
        } else {
            reply_empty_array(R(c));
        }
        return;
    }
    if (dst_idx) {
        sync_limits();
    }
    zset *z = zobj(o);
    size_t len = zset_len(z), first = 0, count = 0;
    if (type == RANGE_RANK) {
        size_t s, e;
        if (clamp_ranks(start, end, len, &s, &e)) {
            count = e - s + 1;
            first = rev ? len - 1 - s : s;
        }
    } else {
        size_t a, b;
        if (type == RANGE_SCORE) {
            zset_score_bounds(z, &sr, &a, &b);
        } else {
            zset_lex_bounds(z, &lr, &a, &b);
        }
        size_t n = b > a ? b - a : 0;
        if (offset >= 0 && (unsigned long long)offset < n) {
            count = n - (size_t)offset;
            if (limit >= 0 && (unsigned long long)limit < count) {
                count = (size_t)limit;
            }
            first = rev ? b - 1 - (size_t)offset : a + (size_t)offset;
        }
    }
    emit_range(c, z, first, count, rev, withscores, dst_idx ? &dst : NULL);
    if (dst_idx) {
        store_result(c, c->argv[dst_idx], dst, "zrangestore");
    }
}

void cmd_zrange(client *c)
{
    zrange_generic(c, 1, 0, RANGE_AUTO, -1);
}

void cmd_zrangestore(client *c)
{
    zrange_generic(c, 2, 1, RANGE_AUTO, -1);
}

void cmd_zrevrange(client *c)
{
    zrange_generic(c, 1, 0, RANGE_RANK, 1);
}

void cmd_zrangebyscore(client *c)
{
    zrange_generic(c, 1, 0, RANGE_SCORE, 0);
}

void cmd_zrevrangebyscore(client *c)
{
    zrange_generic(c, 1, 0, RANGE_SCORE, 1);
}

void cmd_zrangebylex(client *c)
{
    zrange_generic(c, 1, 0, RANGE_LEX, 0);
}

void cmd_zrevrangebylex(client *c)
{
    zrange_generic(c, 1, 0, RANGE_LEX, 1);
}

/* ---- range removal ---- */

static void zremrange_generic(client *c, int type)
{
    long long start = 0, end = 0;
    zscore_range sr;
    zlex_range lr;
    if (type == RANGE_RANK) {
        if (!arg_ll(c, 2, &start) || !arg_ll(c, 3, &end)) {
            return;
        }
    } else if (type == RANGE_SCORE) {
        if (!parse_score_range(c, 2, 3, &sr)) {
            return;
        }
    } else if (!parse_lex_range(c, 2, 3, &lr)) {
        return;
    }
    sv key = c->argv[1];
    int bad;
    kobj *o = lookup_typed(c, key, OBJ_ZSET, 1, &bad);
    if (bad) {
        return;
    }
    if (!o) {
        reply_int(R(c), 0);
        return;
    }
    zset *z = zobj(o);
    size_t a = 0, b = 0;
    if (type == RANGE_RANK) {
        size_t s, e;
        if (clamp_ranks(start, end, zset_len(z), &s, &e)) {
            a = s;
            b = e + 1;
        }
    } else if (type == RANGE_SCORE) {
        zset_score_bounds(z, &sr, &a, &b);
    } else {
        zset_lex_bounds(z, &lr, &a, &b);
    }
    size_t n = b > a ? b - a : 0;
    if (n) {
        z = zset_delete_ranks(z, a, b);
        static const char *events[] = {NULL, "zremrangebyrank", "zremrangebyscore", "zremrangebylex"};
        signal_write(c, NOTIFY_ZSET, events[type], key);
        store_back(c, o, z, key);
    }
    reply_int(R(c), (long long)n);
}

void cmd_zremrangebyrank(client *c)
{
    zremrange_generic(c, RANGE_RANK);
}

void cmd_zremrangebyscore(client *c)
{
    zremrange_generic(c, RANGE_SCORE);
}

void cmd_zremrangebylex(client *c)
{
    zremrange_generic(c, RANGE_LEX);
}

/* ---- pops ---- */

/* Pops up to count elements from the first non-empty key of keys. Reply
 * shapes as Redis: ZPOPMIN flat (nested in RESP3 with a count), BZPOP*
 * [key, member, score], Z*MPOP [key, [[member, score], ...]]. Returns 1 if
 * something was popped, 0 if all keys were empty, -1 on an error reply.
 * When nothing is there and `quiet` is set, no reply is written (the
 * blocking commands decide what to do). */
static int pop_generic(client *c, sv *keys, int nkeys, int max, int emitkey, long long count, int nested,
                       int nil_when_empty, int quiet)
{
    kobj *o = NULL;
    sv key = {0};
    int at = lookup_first_ready(c, keys, nkeys, OBJ_ZSET, &o);
    if (at == -2) {
        return -1;
    }
    if (at >= 0) {
        key = keys[at];
    }
    if (!o) {
        if (!quiet) {
            if (nil_when_empty) {
                reply_null_array(R(c));
            } else {
                reply_empty_array(R(c));
            }
        }
        return 0;
    }
    if (count == 0) {
        reply_empty_array(R(c));
        return 1;
    }
    zset *z = zobj(o);
    size_t len = zset_len(z);
    size_t n = (unsigned long long)count > len ? len : (size_t)count;
    if (!emitkey) {
        reply_array(R(c), (long long)(nested ? n : n * 2));
    } else if (!nested) {
        reply_array(R(c), (long long)(n * 2 + 1));
        reply_bulk(R(c), key.ptr, key.len);
    } else {
        reply_array(R(c), 2);
        reply_bulk(R(c), key.ptr, key.len);
        reply_array(R(c), (long long)n);
    }
    zset_iter it;
    sv m;
    double s;
    zset_iter_at(&it, z, max ? len - 1 : 0, max);
    for (size_t i = 0; i < n && zset_iter_next(&it, &m, &s); i++) {
        if (nested) {
            reply_array(R(c), 2);
        }
        reply_bulk(R(c), m.ptr, m.len);
        reply_double(R(c), s);
    }
    z = max ? zset_delete_ranks(z, len - n, len) : zset_delete_ranks(z, 0, n);
    /* Propagated as the plain pop, whatever form was called. */
    char nbuf[32];
    sv argv[3] = {max ? SV("ZPOPMAX") : SV("ZPOPMIN"), key, {nbuf, (size_t)util_ll2str(nbuf, (long long)n)}};
    propagate_also(c, argv, 3);
    signal_write(c, NOTIFY_ZSET, max ? "zpopmax" : "zpopmin", key);
    store_back(c, o, z, key);
    return 1;
}

static void zpop_command(client *c, int max)
{
    if (c->argc > 3) {
        reply_syntax_error(c);
        return;
    }
    long long count = -1;
    if (c->argc == 3) {
        sv a = c->argv[2];
        if (!util_parse_ll(a.ptr, a.len, &count) || count < 0) {
            reply_err(c, "ERR value is out of range, must be positive");
            return;
        }
    }
    int nested = c->resp > 2 && count != -1;
    pop_generic(c, &c->argv[1], 1, max, 0, count == -1 ? 1 : count, nested, 0, 0);
}

void cmd_zpopmin(client *c)
{
    zpop_command(c, 0);
}

void cmd_zpopmax(client *c)
{
    zpop_command(c, 1);
}

void cmd_zmpop(client *c)
{
    long long count;
    int numkeys, max;
    if (!arg_mpop(c, 1, "MIN", "MAX", &numkeys, &max, &count)) {
        return;
    }
    pop_generic(c, &c->argv[2], numkeys, max, 1, count, 1, 1, 0);
}

static void bzpop_command(client *c, int max)
{
    int64_t deadline;
    if (!block_parse_timeout(c, c->argc - 1, &deadline)) {
        return;
    }
    sv *keys = &c->argv[1];
    int nkeys = c->argc - 2;
    int rc = pop_generic(c, keys, nkeys, max, 1, 1, 0, 1, 1);
    if (rc != 0) {
        return;
    }
    if (!block_on_keys(c, keys, nkeys, deadline, BLOCK_REPLY_NULL_ARRAY)) {
        reply_null_array(R(c));
    }
}

void cmd_bzpopmin(client *c)
{
    bzpop_command(c, 0);
}

void cmd_bzpopmax(client *c)
{
    bzpop_command(c, 1);
}

void cmd_bzmpop(client *c)
{
    /* Redis reads the timeout after the other arguments. */
    int64_t deadline;
    long long count;
    int numkeys, max;
    if (!arg_mpop(c, 2, "MIN", "MAX", &numkeys, &max, &count) || !block_parse_timeout(c, 1, &deadline)) {
        return;
    }
    sv *keys = &c->argv[3];
    int rc = pop_generic(c, keys, numkeys, max, 1, count, 1, 1, 1);
    if (rc != 0) {
        return;
    }
    if (!block_on_keys(c, keys, numkeys, deadline, BLOCK_REPLY_NULL_ARRAY)) {
        reply_null_array(R(c));
    }
}

/* ---- ZRANDMEMBER ---- */

/* Random access by rank: a listpack is copied into arrays once (so repeated
 * picks are O(1)); the big encoding answers by rank in O(log n). */
typedef struct rank_access {
    zset *z;
    sv *m;
    double *s;
} rank_access;

static void ra_init(rank_access *ra, zset *z)
{
    ra->z = z;
    ra->m = NULL;
    ra->s = NULL;
    if (zset_is_listpack(z)) {
        size_t n = zset_len(z);
        ra->m = alloc_mem(sizeof(sv) * n);
        ra->s = alloc_mem(sizeof(double) * n);
        zset_iter it;
        zset_iter_at(&it, z, 0, 0);
        for (size_t i = 0; i < n; i++) {
            zset_iter_next(&it, &ra->m[i], &ra->s[i]);
        }
    }
}

static void ra_get(rank_access *ra, size_t rank, sv *m, double *s)
{
    if (ra->m) {
        *m = ra->m[rank];
        *s = ra->s[rank];
        return;
    }
    zset_iter it;
    zset_iter_at(&it, ra->z, rank, 0);
    zset_iter_next(&it, m, s);
}

static void ra_free(rank_access *ra)
{
    alloc_free(ra->m);
    alloc_free(ra->s);
}

static void zrandmember_count(client *c, long long l, int withscores)
{
    int bad;
    kobj *o = lookup_typed(c, c->argv[1], OBJ_ZSET, 0, &bad);
    if (bad) {
        return;
    }
    if (!o || l == 0) {
        reply_empty_array(R(c));
        return;
    }
    zset *z = zobj(o);
    size_t size = zset_len(z);
    int uniq = l > 0;
    unsigned long long count = l > 0 ? (unsigned long long)l : (unsigned long long)-l;
    sv m;
    double s;
    rank_access ra;
    if (!uniq || count == 1) {
        /* Repeats allowed: independent picks. */
        ra_init(&ra, z);
        reply_items_header(c, count, withscores);
        for (unsigned long long i = 0; i < count; i++) {
            ra_get(&ra, util_rand64() % size, &m, &s);
            reply_item(c, m, s, withscores);
        }
        ra_free(&ra);
        return;
    }
    if (count >= size) {
        /* The whole set. */
        reply_items_header(c, size, withscores);
        zset_iter it;
        zset_iter_at(&it, z, 0, 0);
        while (zset_iter_next(&it, &m, &s)) {
            reply_item(c, m, s, withscores);
        }
        return;
    }
    /* Distinct ranks: a partial shuffle when many are wanted, else random
     * picks with a small open-addressing set to reject repeats. */
    size_t *ranks = alloc_mem(sizeof(size_t) * (size_t)count);
    if (count * 3 > size) {
        size_t *all = alloc_mem(sizeof(size_t) * size);
        for (size_t i = 0; i < size; i++) {
            all[i] = i;
        }
        for (size_t i = 0; i < count; i++) {
            size_t j = i + util_rand64() % (size - i);
            size_t t = all[i];
            all[i] = all[j];
            all[j] = t;
            ranks[i] = all[i];
        }
        alloc_free(all);
    } else {
        size_t cap = 16;
        while (cap < count * 2) {
            cap <<= 1;
        }
        size_t *seen = alloc_zero(sizeof(size_t) * cap); /* rank + 1; 0 = empty */
        size_t got = 0;
        while (got < count) {
            size_t r = util_rand64() % size;
            size_t h = (r * 0x9E3779B97F4A7C15ULL) & (cap - 1);
            while (seen[h] && seen[h] != r + 1) {
                h = (h + 1) & (cap - 1);
            }
            if (!seen[h]) {
                seen[h] = r + 1;
                ranks[got++] = r;
            }
        }
        alloc_free(seen);
    }
    ra_init(&ra, z);
    reply_items_header(c, count, withscores);
    for (size_t i = 0; i < count; i++) {
        ra_get(&ra, ranks[i], &m, &s);
        reply_item(c, m, s, withscores);
    }
    ra_free(&ra);
    alloc_free(ranks);
}

void cmd_zrandmember(client *c)
{
    if (c->argc >= 3) {
        long long l;
        if (!arg_ll_range(c, 2, -LLONG_MAX, LLONG_MAX, &l, NULL)) {
            return;
        }
        int withscores = 0;
        if (c->argc > 4 || (c->argc == 4 && !sv_eq_ci(c->argv[3], "withscores"))) {
            reply_syntax_error(c);
            return;
        }
        if (c->argc == 4) {
            withscores = 1;
            if (l < -LLONG_MAX / 2 || l > LLONG_MAX / 2) {
                reply_err(c, "ERR value is out of range");
                return;
            }
        }
        zrandmember_count(c, l, withscores);
        return;
    }
    int bad;
    kobj *o = lookup_typed(c, c->argv[1], OBJ_ZSET, 0, &bad);
    if (bad) {
        return;
    }
    if (!o) {
        reply_null(R(c));
        return;
    }
    zset_iter it;
    sv m;
    double s;
    zset_iter_at(&it, zobj(o), util_rand64() % zset_len(zobj(o)), 0);
    zset_iter_next(&it, &m, &s);
    reply_bulk(R(c), m.ptr, m.len);
}

/* ---- union / intersection / difference ---- */

enum { OP_UNION, OP_INTER, OP_DIFF };
enum { AGG_SUM, AGG_MIN, AGG_MAX };

/* One input: a sorted set, or a plain set whose members score 1. */
typedef struct zsrc {
    zset *z;
    set *set;
    size_t len;
    double weight;
} zsrc;

/* Accumulated result: member -> score in a dict of inline-keyed nodes. */
typedef struct acc_node {
    dnode node;
    double score;
    size_t len;
    char m[];
} acc_node;

static sv acc_key(const dnode *n)
{
    const acc_node *a = (const acc_node *)n;
    return (sv){a->m, a->len};
}

static const dict_type acc_type = {util_hash, acc_key, NULL};

static void acc_add(dict *d, sv m, double score)
{
    acc_node *a = alloc_mem(sizeof(acc_node) + m.len);
    a->score = score;
    a->len = m.len;
    if (m.len) {
        memcpy(a->m, m.ptr, m.len);
    }
    dict_insert(d, &a->node);
}

static void aggregate(double *target, double v, int agg)
{
    if (agg == AGG_SUM) {
        *target += v;
        /* inf + -inf: Redis defines the sum as 0. */
        if (isnan(*target)) {
            *target = 0;
        }
    } else if (agg == AGG_MIN) {
        if (v < *target) {
            *target = v;
        }
    } else if (v > *target) {
        *target = v;
    }
}

static double weighted(double s, double w)
{
    double v = s * w;
    return isnan(v) ? 0 : v;
}

static int src_score(zsrc *s, sv m, double *score)
{
    if (s->z) {
        return zset_score(s->z, m, score);
    }
    if (s->set && set_contains(s->set, m)) {
        *score = 1.0;
        return 1;
    }
    return 0;
}

typedef void (*src_visit_fn)(sv m, double s, void *ctx);

static void src_foreach(zsrc *s, src_visit_fn fn, void *ctx)
{
    sv m;
    if (s->z) {
        zset_iter it;
        double sc;
        zset_iter_at(&it, s->z, 0, 0);
        while (zset_iter_next(&it, &m, &sc)) {
            fn(m, sc, ctx);
        }
    } else if (s->set) {
        /* Plain sets: every member scores 1. */
        set_iter it;
        set_iter_init(&it, s->set);
        while (set_iter_next(&it, &m)) {
            fn(m, 1.0, ctx);
        }
        set_iter_done(&it);
    }
}

typedef struct setop_ctx {
    dict *acc;
    zsrc *srcs;
    int n;
    int agg;
    double weight;
    unsigned long long count; /* ZINTERCARD */
    unsigned long long limit; /* 0 = none */
} setop_ctx;

static void union_visit(sv m, double s, void *ctx)
{
    setop_ctx *x = ctx;
    double v = weighted(s, x->weight);
    acc_node *a = (acc_node *)dict_find(x->acc, m.ptr, m.len);
    if (a) {
        aggregate(&a->score, v, x->agg);
    } else {
        acc_add(x->acc, m, v);
    }
}

static void inter_visit(sv m, double s, void *ctx)
{
    setop_ctx *x = ctx;
    if (x->limit && x->count >= x->limit) {
        return;
    }
    double v = weighted(s, x->srcs[0].weight);
    for (int j = 1; j < x->n; j++) {
        double o;
        if (!src_score(&x->srcs[j], m, &o)) {
            return;
        }
        /* Only the first input's product is cleaned of NaN (inf * 0), as
         * in Redis: a later NaN sums to 0 and never wins MIN or MAX. */
        aggregate(&v, o * x->srcs[j].weight, x->agg);
    }
    x->count++;
    if (x->acc) {
        acc_add(x->acc, m, v);
    }
}

static void diff_visit(sv m, double s, void *ctx)
{
    setop_ctx *x = ctx;
    for (int j = 1; j < x->n; j++) {
        double o;
        if (src_score(&x->srcs[j], m, &o)) {
            return;
        }
    }
    acc_add(x->acc, m, s);
}

static int cmp_src_len(const void *a, const void *b)
{
    const zsrc *x = a, *y = b;
    return x->len < y->len ? -1 : x->len > y->len;
}

static int cmp_acc(const void *a, const void *b)
{
    const acc_node *x = *(acc_node *const *)a, *y = *(acc_node *const *)b;
    return ordtree_cmp(x->score, (sv){x->m, x->len}, y->score, (sv){y->m, y->len});
}

static void collect_node(dnode *n, void *ctx)
{
    acc_node ***p = ctx;
    *(*p)++ = (acc_node *)n;
}

/* ZUNION/ZINTER/ZDIFF[STORE] and ZINTERCARD. numkeys_idx is where numkeys
 * is; dst_idx the destination for the STORE forms (0 otherwise). */
static void setop_generic(client *c, int numkeys_idx, int dst_idx, int op, int card_only)
{
    long long numkeys;
    if (!arg_ll(c, numkeys_idx, &numkeys)) {
        return;
    }
    if (numkeys < 1) {
        char name[64];
        size_t n = c->argv[0].len < sizeof(name) - 1 ? c->argv[0].len : sizeof(name) - 1;
        for (size_t i = 0; i < n; i++) {
            name[i] = (char)tolower((unsigned char)c->argv[0].ptr[i]);
        }
        name[n] = '\0';
        reply_errf(c, "ERR at least 1 input key is needed for '%s' command", name);
        return;
    }
    if (numkeys > c->argc - numkeys_idx - 1) {
        reply_syntax_error(c);
        return;
    }
    int n = (int)numkeys;
    zsrc *srcs = alloc_zero(sizeof(zsrc) * (size_t)n);
    int j = numkeys_idx + 1;
    for (int i = 0; i < n; i++, j++) {
        kobj *o = lookup_read(c, c->argv[j]);
        srcs[i].weight = 1.0;
        if (!o) {
            continue;
        }
        if (o->type == OBJ_ZSET) {
            srcs[i].z = zobj(o);
            srcs[i].len = zset_len(srcs[i].z);
        } else if (o->type == OBJ_SET) {
            srcs[i].set = kobj_ptr(o);
            srcs[i].len = set_len(srcs[i].set);
        } else {
            reply_wrongtype(c);
            goto out;
        }
    }
    int agg = AGG_SUM, withscores = 0;
    unsigned long long limit = 0;
    while (j < c->argc) {
        int remaining = c->argc - j;
        sv a = c->argv[j];
        if (op != OP_DIFF && !card_only && remaining >= n + 1 && sv_eq_ci(a, "weights")) {
            j++;
            for (int i = 0; i < n; i++, j++) {
                if (!util_parse_double(c->argv[j].ptr, c->argv[j].len, &srcs[i].weight)) {
                    reply_err(c, "ERR weight value is not a float");
                    goto out;
                }
            }
        } else if (op != OP_DIFF && !card_only && remaining >= 2 && sv_eq_ci(a, "aggregate")) {
            sv v = c->argv[j + 1];
            if (sv_eq_ci(v, "sum")) {
                agg = AGG_SUM;
            } else if (sv_eq_ci(v, "min")) {
                agg = AGG_MIN;
            } else if (sv_eq_ci(v, "max")) {
                agg = AGG_MAX;
            } else {
                reply_syntax_error(c);
                goto out;
            }
            j += 2;
        } else if (!dst_idx && !card_only && sv_eq_ci(a, "withscores")) {
            withscores = 1;
            j++;
        } else if (card_only && remaining >= 2 && sv_eq_ci(a, "limit")) {
            long long l;
            /* Redis gives this one text for a non-integer LIMIT too. */
            if (!arg_ll_range(c, j + 1, 0, LLONG_MAX, &l, "ERR LIMIT can't be negative")) {
                goto out;
            }
            limit = (unsigned long long)l;
            j += 2;
        } else {
            reply_syntax_error(c);
            goto out;
        }
    }
    dict acc;
    dict_init(&acc, &acc_type);
    setop_ctx x = {&acc, srcs, n, agg, 1.0, 0, limit};
    if (op == OP_UNION) {
        for (int i = 0; i < n; i++) {
            x.weight = srcs[i].weight;
            src_foreach(&srcs[i], union_visit, &x);
        }
    } else if (op == OP_INTER) {
        /* Walk the smallest input, probe the others. */
        qsort(srcs, (size_t)n, sizeof(zsrc), cmp_src_len);
        if (card_only) {
            x.acc = NULL;
        }
        if (srcs[0].len) {
            src_foreach(&srcs[0], inter_visit, &x);
        }
    } else if (srcs[0].len) {
        src_foreach(&srcs[0], diff_visit, &x);
    }
    if (card_only) {
        reply_int(R(c), (long long)x.count);
        goto out;
    }
    /* Order the result like a sorted set. */
    size_t total = dict_size(&acc);
    acc_node **items = alloc_mem(sizeof(acc_node *) * (total ? total : 1));
    acc_node **fill = items;
    {
        dict_iter it;
        dict_iter_init(&it, &acc);
        dnode *dn;
        while ((dn = dict_iter_next(&it))) {
            collect_node(dn, &fill);
        }
        dict_iter_done(&it);
    }
    qsort(items, total, sizeof(acc_node *), cmp_acc);
    if (dst_idx) {
        sync_limits();
        size_t maxlen = 0;
        for (size_t i = 0; i < total; i++) {
            if (items[i]->len > maxlen) {
                maxlen = items[i]->len;
            }
        }
        zset *z = total ? zset_new(total, maxlen) : NULL;
        for (size_t i = 0; i < total; i++) {
            int out;
            z = zset_add(z, items[i]->score, (sv){items[i]->m, items[i]->len}, 0, &out, NULL);
        }
        static const char *events[] = {"zunionstore", "zinterstore", "zdiffstore"};
        store_result(c, c->argv[dst_idx], z, events[op]);
    } else {
        reply_items_header(c, total, withscores);
        for (size_t i = 0; i < total; i++) {
            reply_item(c, (sv){items[i]->m, items[i]->len}, items[i]->score, withscores);
        }
    }
    /* Unlink first: dict_clear walks the chains through the nodes. */
    dict_clear(&acc, NULL, NULL);
    for (size_t i = 0; i < total; i++) {
        alloc_free(items[i]);
    }
    alloc_free(items);
out:
    alloc_free(srcs);
}

void cmd_zunion(client *c)
{
    setop_generic(c, 1, 0, OP_UNION, 0);
}

void cmd_zinter(client *c)
{
    setop_generic(c, 1, 0, OP_INTER, 0);
}

void cmd_zdiff(client *c)
{
    setop_generic(c, 1, 0, OP_DIFF, 0);
}

void cmd_zintercard(client *c)
{
    setop_generic(c, 1, 0, OP_INTER, 1);
}

void cmd_zunionstore(client *c)
{
    setop_generic(c, 2, 1, OP_UNION, 0);
}

void cmd_zinterstore(client *c)
{
    setop_generic(c, 2, 1, OP_INTER, 0);
}

void cmd_zdiffstore(client *c)
{
    setop_generic(c, 2, 1, OP_DIFF, 0);
}

/* ---- ZSCAN ---- */

typedef struct scan_item {
    str m;
    double s;
} scan_item;

typedef struct scan_acc {
    scan_item *items;
    size_t n, cap;
} scan_acc;

static void scan_collect(sv m, double s, void *ctx)
{
    scan_acc *a = ctx;
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        a->items = alloc_resize(a->items, sizeof(scan_item) * a->cap);
    }
    a->items[a->n].m = str_new(m.ptr, m.len);
    a->items[a->n].s = s;
    a->n++;
}

void cmd_zscan(client *c)
{
    unsigned long cursor;
    if (!arg_scan_cursor(c, 2, &cursor)) {
        return;
    }
    int bad;
    kobj *o = lookup_typed(c, c->argv[1], OBJ_ZSET, 0, &bad);
    if (bad) {
        return;
    }
    long long count;
    sv pat;
    if (!arg_scan_opts(c, 3, &count, &pat, NULL)) {
        return;
    }
    if (pat.len == 1 && pat.ptr[0] == '*') {
        pat.ptr = NULL; /* matches everything */
    }
    if (!o) {
        reply_array(R(c), 2);
        reply_bulk(R(c), "0", 1);
        reply_empty_array(R(c));
        return;
    }
    scan_acc acc = {0};
    zset *z = zobj(o);
    if (zset_is_listpack(z)) {
        cursor = zset_scan(z, cursor, scan_collect, &acc);
    } else {
        /* Bounded work per call, as SCAN: at most 10 buckets per wanted item. */
        long long budget = scan_budget(count);
        do {
            cursor = zset_scan(z, cursor, scan_collect, &acc);
        } while (cursor && budget-- > 0 && (long long)acc.n < count);
    }
    size_t keep = 0;
    for (size_t i = 0; i < acc.n; i++) {
        str m = acc.items[i].m;
        if (pat.ptr && !util_glob_match(pat.ptr, pat.len, m, str_len(m), 0)) {
            str_free(m);
            continue;
        }
        acc.items[keep++] = acc.items[i];
    }
    char cbuf[32];
    int cl = snprintf(cbuf, sizeof(cbuf), "%lu", cursor);
    reply_array(R(c), 2);
    reply_bulk(R(c), cbuf, (size_t)cl);
    reply_array(R(c), (long long)keep * 2);
    for (size_t i = 0; i < keep; i++) {
        reply_bulk(R(c), acc.items[i].m, str_len(acc.items[i].m));
        reply_bulk_double(R(c), acc.items[i].s);
        str_free(acc.items[i].m);
    }
    alloc_free(acc.items);
}

/* ---- type registration ---- */

TYPE_OPS_DEFINE(zset_ops, "zset", zset);

void zset_type_register(void)
{
    obj_register_type(OBJ_ZSET, &zset_ops);
    sync_limits();
}
