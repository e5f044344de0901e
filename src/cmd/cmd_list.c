/* List commands: pushes and pops at both ends, index and range access,
 * LINSERT/LREM/LTRIM/LPOS, moves between lists, LMPOP, and the blocking
 * forms (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) on the framework in
 * server/block.h. The data structure is types/list; this file owns the
 * list's keyspace type registration too. */
#include <limits.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "server/block.h"
#include "server/server.h"
#include "types/list.h"

/* ---- type registration ---- */

TYPE_OPS_DEFINE(list_ops, "list", list);

void list_type_register(void)
{
    obj_register_type(OBJ_LIST, &list_ops);
}

/* ---- shared helpers ---- */

static list *get_list(client *c, sv key, int write, int *bad)
{
    kobj *o = lookup_typed(c, key, OBJ_LIST, write, bad);
    return o ? kobj_ptr(o) : NULL;
}

static list *create_list(client *c, sv key)
{
    list *l = list_new();
    db_add(c->db, kobj_new_ptr(key, OBJ_LIST, l, -1));
    return l;
}

/* Empty lists do not exist: delete the key (and say so). */
static void delete_if_empty(client *c, sv key, list *l)
{
    cmd_drop_if_empty(c, key, list_len(l));
}

static const char *pop_event(int where)
{
    return where == LIST_HEAD ? "lpop" : "rpop";
}

static const char *push_event(int where)
{
    return where == LIST_HEAD ? "lpush" : "rpush";
}

/* LEFT / RIGHT at argv[i]; replies a syntax error otherwise. */
static int parse_where(client *c, int i, int *where)
{
    if (arg_is(c, i, "LEFT")) {
        *where = LIST_HEAD;
    } else if (arg_is(c, i, "RIGHT")) {
        *where = LIST_TAIL;
    } else {
        reply_syntax_error(c);
        return 0;
    }
    return 1;
}

/* Replies up to count elements popped from one end as an array. */
static long pop_many_reply(client *c, list *l, int where, long count)
{
    long n = (size_t)count > list_len(l) ? (long)list_len(l) : count;
    reply_array(R(c), n);
    for (long i = 0; i < n; i++) {
        reply_sv(c, list_peek(l, where));
        list_pop(l, where, server_list_limits());
    }
    return n;
}

/* Propagates "LPOP|RPOP key [count]": the deterministic form of the
 * blocking and multi-key pops. */
static void propagate_pop(client *c, sv key, int where, long count)
{
    char buf[32];
    sv argv[3] = {where == LIST_HEAD ? SV("LPOP") : SV("RPOP"), key, {buf, 0}};
    int argc = 2;
    if (count >= 0) {
        argv[2].len = (size_t)util_ll2str(buf, count);
        argc = 3;
    }
    propagate_also(c, argv, argc);
}

/* Index of the first of keys holding a (non-empty) list (see
 * lookup_first_ready). */
static int first_ready_key(client *c, sv *keys, int n)
{
    kobj *o;
    return lookup_first_ready(c, keys, n, OBJ_LIST, &o);
}

/* ---- pushes ---- */

static void push_generic(client *c, int where, int only_existing)
{
    sv key = c->argv[1];
    int bad;
    list *l = get_list(c, key, 1, &bad);
    if (bad) {
        return;
    }
    if (!l) {
        if (only_existing) {
            reply_int(R(c), 0);
            return;
        }
        l = create_list(c, key);
    }
    for (int i = 2; i < c->argc; i++) {
        list_push(l, c->argv[i], where, server_list_limits());
    }
    reply_int(R(c), (long long)list_len(l));
    signal_write(c, NOTIFY_LIST, push_event(where), key);
}

void cmd_lpush(client *c)
{
    push_generic(c, LIST_HEAD, 0);
}

void cmd_rpush(client *c)
{
    push_generic(c, LIST_TAIL, 0);
}

void cmd_lpushx(client *c)
{
    push_generic(c, LIST_HEAD, 1);
}

void cmd_rpushx(client *c)
{
    push_generic(c, LIST_TAIL, 1);
}

/* ---- pops ---- */

static void pop_generic(client *c, int where)
{
    long long count = -1;
    if (c->argc > 3) {
        reply_arity_error(c);
        return;
    }
    if (c->argc == 3) {
        if (!util_parse_ll(c->argv[2].ptr, c->argv[2].len, &count) || count < 0) {
            reply_err(c, "ERR value is out of range, must be positive");
            return;
        }
    }
    sv key = c->argv[1];
    int bad;
    list *l = get_list(c, key, 1, &bad);
    if (bad) {
        return;
    }
    if (!l) {
        /* With a count the reply is an array, so "none" is a null array. */
        if (count >= 0) {
            reply_null_array(R(c));
        } else {
            reply_null(R(c));
        }
        return;
    }
    if (count == 0) {
        reply_empty_array(R(c));
        return;
    }
    if (count < 0) {
        reply_sv(c, list_peek(l, where));
        list_pop(l, where, server_list_limits());
    } else {
        pop_many_reply(c, l, where, (long)(count > LONG_MAX ? LONG_MAX : count));
    }
    signal_write(c, NOTIFY_LIST, pop_event(where), key);
    delete_if_empty(c, key, l);
}

void cmd_lpop(client *c)
{
    pop_generic(c, LIST_HEAD);
}

void cmd_rpop(client *c)
{
    pop_generic(c, LIST_TAIL);
}

/* ---- reads ---- */

void cmd_llen(client *c)
{
    int bad;
    list *l = get_list(c, c->argv[1], 0, &bad);
    if (!bad) {
        reply_int(R(c), l ? (long long)list_len(l) : 0);
    }
}

void cmd_lindex(client *c)
{
    long long index;
    int bad;
    list *l = get_list(c, c->argv[1], 0, &bad);
    if (bad) {
        return;
    }
    if (!l) {
        reply_null(R(c));
        return;
    }
    if (!arg_ll(c, 2, &index)) {
        return;
    }
    sv v;
    if (index < LONG_MIN || index > LONG_MAX || !list_index(l, (long)index, &v)) {
        reply_null(R(c));
        return;
    }
    reply_sv(c, v);
}

/* Clamps [start, end] (negative from the tail) to the list; returns 0 when
 * the range is empty. */
static int clamp_range(long long len, long long *start, long long *end)
{
    if (*start < 0) {
        *start += len;
    }
    if (*end < 0) {
        *end += len;
    }
    if (*start < 0) {
        *start = 0;
    }
    if (*start > *end || *start >= len) {
        return 0;
    }
    if (*end >= len) {
        *end = len - 1;
    }
    return 1;
}

void cmd_lrange(client *c)
{
    long long start, end;
    if (!arg_ll(c, 2, &start) || !arg_ll(c, 3, &end)) {
        return;
    }
    int bad;
    list *l = get_list(c, c->argv[1], 0, &bad);
    if (bad) {
        return;
    }
    if (!l || !clamp_range((long long)list_len(l), &start, &end)) {
        reply_empty_array(R(c));
        return;
    }
    long long n = end - start + 1;
    reply_array(R(c), n);
    list_iter it;
    list_iter_init(&it, l, (long)start, LIST_TAIL);
    sv v;
    for (long long i = 0; i < n && list_iter_next(&it, &v); i++) {
        reply_sv(c, v);
    }
}

/* LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len] */
void cmd_lpos(client *c)
{
    long long rank = 1, count = -1, maxlen = 0;
    for (int i = 3; i < c->argc; i++) {
        int more = i + 1 < c->argc;
        if (arg_is(c, i, "RANK") && more) {
            if (!arg_signed_count(c, ++i, &rank)) {
                return;
            }
            if (rank == 0) {
                reply_err(c, "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
                             "or use negative to start from the end of the list");
                return;
            }
        } else if (arg_is(c, i, "COUNT") && more) {
            i++;
            if (!util_parse_ll(c->argv[i].ptr, c->argv[i].len, &count) || count < 0) {
                reply_err(c, "ERR COUNT can't be negative");
                return;
            }
        } else if (arg_is(c, i, "MAXLEN") && more) {
            i++;
            if (!util_parse_ll(c->argv[i].ptr, c->argv[i].len, &maxlen) || maxlen < 0) {
                reply_err(c, "ERR MAXLEN can't be negative");
                return;
            }
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    int bad;
    list *l = get_list(c, c->argv[1], 0, &bad);
    if (bad) {
        return;
    }
    if (!l) {
        if (count >= 0) {
            reply_empty_array(R(c));
        } else {
            reply_null(R(c));
        }
        return;
    }
    /* Walk from the end the rank's sign names; skip |rank|-1 matches. */
    int dir = rank > 0 ? LIST_TAIL : LIST_HEAD;
    unsigned long long skip = (unsigned long long)(rank > 0 ? rank : -rank) - 1;
    long long len = (long long)list_len(l);
    size_t handle = 0;
    if (count >= 0) {
        handle = reply_defer(R(c));
    }
    long long found = 0, seen = 0;
    list_iter it;
    list_iter_init(&it, l, dir == LIST_TAIL ? 0 : -1, dir);
    sv v;
    sv elem = c->argv[2];
    while ((maxlen == 0 || seen < maxlen) && list_iter_next(&it, &v)) {
        long long pos = dir == LIST_TAIL ? seen : len - 1 - seen;
        seen++;
        if (!sv_eq(v, elem)) {
            continue;
        }
        if (skip > 0) {
            skip--;
            continue;
        }
        found++;
        reply_int(R(c), pos);
        if (count <= 0 ? count < 0 : found == count) {
            break; /* no COUNT: the first match; COUNT n: n matches */
        }
    }
    if (count >= 0) {
        reply_defer_array(R(c), handle, found);
    } else if (found == 0) {
        reply_null(R(c));
    }
}

/* ---- writes in the middle ---- */

void cmd_lset(client *c)
{
    sv key = c->argv[1];
    int bad;
    list *l = get_list(c, key, 1, &bad);
    if (bad) {
        return;
    }
    if (!l) {
        reply_err(c, "ERR no such key");
        return;
    }
    long long index;
    if (!arg_ll(c, 2, &index)) {
        return;
    }
    if (index < LONG_MIN || index > LONG_MAX || !list_set(l, (long)index, c->argv[3], server_list_limits())) {
        reply_err(c, "ERR index out of range");
        return;
    }
    reply_ok(R(c));
    signal_write(c, NOTIFY_LIST, "lset", key);
}

/* LINSERT key BEFORE|AFTER pivot element */
void cmd_linsert(client *c)
{
    int after;
    if (arg_is(c, 2, "AFTER")) {
        after = 1;
    } else if (arg_is(c, 2, "BEFORE")) {
        after = 0;
    } else {
        reply_syntax_error(c);
        return;
    }
    sv key = c->argv[1];
    int bad;
    list *l = get_list(c, key, 1, &bad);
    if (bad) {
        return;
    }
    if (!l) {
        reply_int(R(c), 0);
        return;
    }
    list_iter it;
    list_iter_init(&it, l, 0, LIST_TAIL);
    sv v;
    while (list_iter_next(&it, &v)) {
        if (sv_eq(v, c->argv[3])) {
            list_iter_insert(&it, c->argv[4], after, server_list_limits());
            reply_int(R(c), (long long)list_len(l));
            signal_write(c, NOTIFY_LIST, "linsert", key);
            return;
        }
    }
    reply_int(R(c), -1);
}

/* LREM key count element: count > 0 from the head, < 0 from the tail,
 * 0 all. */
void cmd_lrem(client *c)
{
    long long count;
    if (!arg_ll(c, 2, &count)) {
        return;
    }
    sv key = c->argv[1];
    int bad;
    list *l = get_list(c, key, 1, &bad);
    if (bad) {
        return;
    }
    if (!l) {
        reply_int(R(c), 0);
        return;
    }
    int dir = count < 0 ? LIST_HEAD : LIST_TAIL;
    unsigned long long limit = count < 0 ? (unsigned long long)-(count + 1) + 1 : (unsigned long long)count;
    unsigned long long removed = 0;
    list_iter it;
    list_iter_init(&it, l, dir == LIST_TAIL ? 0 : -1, dir);
    sv v;
    while (list_iter_next(&it, &v)) {
        if (sv_eq(v, c->argv[3])) {
            list_iter_delete(&it);
            removed++;
            if (limit && removed == limit) {
                break;
            }
        }
    }
    reply_int(R(c), (long long)removed);
    if (removed) {
        list_tidy(l, server_list_limits());
        signal_write(c, NOTIFY_LIST, "lrem", key);
        delete_if_empty(c, key, l);
    }
}

void cmd_ltrim(client *c)
{
    long long start, end;
    if (!arg_ll(c, 2, &start) || !arg_ll(c, 3, &end)) {
        return;
    }
    sv key = c->argv[1];
    int bad;
    list *l = get_list(c, key, 1, &bad);
    if (bad) {
        return;
    }
    if (!l) {
        reply_ok(R(c));
        return;
    }
    long long len = (long long)list_len(l);
    if (clamp_range(len, &start, &end)) {
        list_trim(l, (size_t)start, (size_t)(len - end - 1), server_list_limits());
    } else {
        list_trim(l, (size_t)len, 0, server_list_limits());
    }
    reply_ok(R(c));
    signal_write(c, NOTIFY_LIST, "ltrim", key);
    delete_if_empty(c, key, l);
}

/* ---- moves ---- */

/* Moves one element from src's `from` end to dst's `to` end and replies
 * it. Returns 1 if done, 0 if src is empty (nothing replied), -1 after an
 * error reply. A wrong-typed destination is reported only when there is
 * something to move, as in Redis. */
static int move_one(client *c, sv src, sv dst, int from, int to)
{
    int bad;
    list *sl = get_list(c, src, 1, &bad);
    if (bad) {
        return -1;
    }
    if (!sl) {
        return 0;
    }
    list *dl = get_list(c, dst, 1, &bad);
    if (bad) {
        return -1;
    }
    /* Copy first: the push may move the bytes the peek points at. */
    sv v = list_peek(sl, from);
    str val = str_new(v.ptr, v.len);
    list_pop(sl, from, server_list_limits());
    if (!dl) {
        dl = create_list(c, dst);
    }
    list_push(dl, (sv){val, str_len(val)}, to, server_list_limits());
    reply_bulk(R(c), val, str_len(val));
    str_free(val);
    signal_write(c, NOTIFY_LIST, push_event(to), dst);
    signal_write(c, NOTIFY_LIST, pop_event(from), src);
    delete_if_empty(c, src, sl);
    return 1;
}

void cmd_lmove(client *c)
{
    int from, to;
    if (!parse_where(c, 3, &from) || !parse_where(c, 4, &to)) {
        return;
    }
    if (move_one(c, c->argv[1], c->argv[2], from, to) == 0) {
        reply_null(R(c));
    }
}

void cmd_rpoplpush(client *c)
{
    if (move_one(c, c->argv[1], c->argv[2], LIST_TAIL, LIST_HEAD) == 0) {
        reply_null(R(c));
    }
}

/* ---- multi-key pops ---- */

/* Parses "numkeys key... LEFT|RIGHT [COUNT n]" starting at argv[at]. */
static int parse_mpop(client *c, int at, int *nkeys, int *where, long *count)
{
    int right;
    long long cnt;
    if (!arg_mpop(c, at, "LEFT", "RIGHT", nkeys, &right, &cnt)) {
        return 0;
    }
    *where = right ? LIST_TAIL : LIST_HEAD;
    *count = (long)cnt;
    return 1;
}

/* Pops from the first non-empty of keys and replies [key, [elements]].
 * Returns 1 if served, 0 if all empty, -1 after an error reply. */
static int mpop_serve(client *c, sv *keys, int nkeys, int where, long count)
{
    int i = first_ready_key(c, keys, nkeys);
    if (i < 0) {
        return i == -2 ? -1 : 0;
    }
    sv key = keys[i];
    list *l = kobj_ptr(lookup_write(c, key));
    reply_array(R(c), 2);
    reply_sv(c, key);
    long n = pop_many_reply(c, l, where, count);
    signal_write(c, NOTIFY_LIST, pop_event(where), key);
    propagate_pop(c, key, where, n);
    delete_if_empty(c, key, l);
    return 1;
}

void cmd_lmpop(client *c)
{
    int nkeys, where;
    long count;
    if (!parse_mpop(c, 1, &nkeys, &where, &count)) {
        return;
    }
    if (mpop_serve(c, &c->argv[2], nkeys, where, count) == 0) {
        reply_null_array(R(c));
    }
}

/* ---- blocking ---- */

/* BLPOP/BRPOP key [key ...] timeout */
static void bpop_generic(client *c, int where)
{
    int64_t deadline;
    if (!block_parse_timeout(c, c->argc - 1, &deadline)) {
        return;
    }
    sv *keys = &c->argv[1];
    int nkeys = c->argc - 2;
    int i = first_ready_key(c, keys, nkeys);
    if (i == -2) {
        return;
    }
    if (i >= 0) {
        sv key = keys[i];
        list *l = kobj_ptr(lookup_write(c, key));
        reply_array(R(c), 2);
        reply_sv(c, key);
        reply_sv(c, list_peek(l, where));
        list_pop(l, where, server_list_limits());
        signal_write(c, NOTIFY_LIST, pop_event(where), key);
        propagate_pop(c, key, where, -1);
        delete_if_empty(c, key, l);
        return;
    }
    if (!block_on_keys(c, keys, nkeys, deadline, BLOCK_REPLY_NULL_ARRAY)) {
        reply_null_array(R(c));
    }
}

void cmd_blpop(client *c)
{
    bpop_generic(c, LIST_HEAD);
}

void cmd_brpop(client *c)
{
    bpop_generic(c, LIST_TAIL);
}

/* BLMOVE / BRPOPLPUSH: served at once, or after waiting on the source;
 * served, it goes on as LMOVE, or as RPOPLPUSH (as_rpoplpush), as in
 * Redis. */
static void bmove_generic(client *c, int from, int to, int timeout_at, int as_rpoplpush)
{
    int64_t deadline;
    if (!block_parse_timeout(c, timeout_at, &deadline)) {
        return;
    }
    sv src = c->argv[1], dst = c->argv[2];
    /* On a re-run, a source that became another type is not ready. */
    if (block_is_rerun(c)) {
        kobj *o = lookup_write(c, src);
        if (o && o->type != OBJ_LIST) {
            block_on_keys(c, &src, 1, deadline, BLOCK_REPLY_NULL_ARRAY);
            return;
        }
    }
    int rc = move_one(c, src, dst, from, to);
    if (rc < 0) {
        return;
    }
    if (rc == 1 && as_rpoplpush) {
        sv argv[3] = {SV("RPOPLPUSH"), src, dst};
        propagate_also(c, argv, 3);
        return;
    }
    if (rc == 1) {
        char fbuf[8], tbuf[8];
        strcpy(fbuf, from == LIST_HEAD ? "LEFT" : "RIGHT");
        strcpy(tbuf, to == LIST_HEAD ? "LEFT" : "RIGHT");
        sv argv[5] = {SV("LMOVE"), src, dst, {fbuf, strlen(fbuf)}, {tbuf, strlen(tbuf)}};
        propagate_also(c, argv, 5);
        return;
    }
    if (!block_on_keys(c, &src, 1, deadline, BLOCK_REPLY_NULL_ARRAY)) {
        reply_null(R(c)); /* inside MULTI: a null bulk, as Redis replies */
    }
}

void cmd_blmove(client *c)
{
    int from, to;
    if (!parse_where(c, 3, &from) || !parse_where(c, 4, &to)) {
        return;
    }
    bmove_generic(c, from, to, 5, 0);
}

void cmd_brpoplpush(client *c)
{
    bmove_generic(c, LIST_TAIL, LIST_HEAD, 3, 1);
}

/* BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count] */
void cmd_blmpop(client *c)
{
    /* Redis checks the key list and options before the timeout. */
    int nkeys, where;
    long count;
    int64_t deadline;
    if (!parse_mpop(c, 2, &nkeys, &where, &count) || !block_parse_timeout(c, 1, &deadline)) {
        return;
    }
    int rc = mpop_serve(c, &c->argv[3], nkeys, where, count);
    if (rc != 0) {
        return;
    }
    if (!block_on_keys(c, &c->argv[3], nkeys, deadline, BLOCK_REPLY_NULL_ARRAY)) {
        reply_null_array(R(c));
    }
}
