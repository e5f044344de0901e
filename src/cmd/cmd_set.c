/* Set commands: membership, random members and pops, moves, the algebra
 * (SINTER/SUNION/SDIFF, their STORE forms, SINTERCARD) and SSCAN.
 * Random pops propagate as SREM of the members chosen, so replay does not
 * depend on the random generator. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "server/server.h"
#include "types/set.h"

static set_limits limits(void)
{
    return (set_limits){server.cfg.set_max_intset_entries, server.cfg.set_max_listpack_entries,
                        server.cfg.set_max_listpack_value};
}

static set *set_of(kobj *o)
{
    return (set *)kobj_ptr(o);
}

/* ---- type operations ---- */

TYPE_OPS_DEFINE(set_ops, "set", set);

void set_type_register(void)
{
    obj_register_type(OBJ_SET, &set_ops);
}

/* ---- helpers ---- */

/* Members collected from set_sample/set_scan (SPOP, SSCAN). */
typedef struct member_list {
    str *members;
    size_t n, cap;
} member_list;

/* Members are copied: intset members live in a reused buffer. */
static void collect_member(sv m, void *arg)
{
    member_list *p = arg;
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->members = alloc_resize(p->members, sizeof(str) * p->cap);
    }
    p->members[p->n++] = str_new(m.ptr, m.len);
}

/* Deletes the key when its set emptied (with the "del" event); 1 if so. */
static int drop_if_empty(client *c, sv key, kobj *o)
{
    return o && cmd_drop_if_empty(c, key, set_len(set_of(o)));
}

/* ---- SADD / SREM / membership ---- */

void cmd_sadd(client *c)
{
    int bad;
    sv key = c->argv[1];
    kobj *o = lookup_typed(c, key, OBJ_SET, 1, &bad);
    if (bad) {
        return;
    }
    set_limits lim = limits();
    set *s = o ? set_of(o) : set_new(c->argv[2], (size_t)(c->argc - 2), &lim);
    int added = 0;
    for (int i = 2; i < c->argc; i++) {
        int a;
        s = set_add(s, c->argv[i], &lim, &a);
        added += a;
    }
    if (o) {
        kobj_set_ptr(o, s);
    } else {
        db_add(c->db, kobj_new_ptr(key, OBJ_SET, s, -1));
    }
    if (added) {
        signal_write(c, NOTIFY_SET, "sadd", key);
    }
    reply_int(R(c), added);
}

void cmd_srem(client *c)
{
    int bad;
    sv key = c->argv[1];
    kobj *o = lookup_typed(c, key, OBJ_SET, 1, &bad);
    if (bad) {
        return;
    }
    if (!o) {
        reply_int(R(c), 0);
        return;
    }
    set *s = set_of(o);
    int removed = 0;
    for (int i = 2; i < c->argc && set_len(s) > 0; i++) {
        int r;
        s = set_remove(s, c->argv[i], &r);
        removed += r;
    }
    kobj_set_ptr(o, s);
    if (removed) {
        signal_write(c, NOTIFY_SET, "srem", key);
        drop_if_empty(c, key, o);
    }
    reply_int(R(c), removed);
}

void cmd_sismember(client *c)
{
    int bad;
    kobj *o = lookup_typed(c, c->argv[1], OBJ_SET, 0, &bad);
    if (!bad) {
        reply_int(R(c), o && set_contains(set_of(o), c->argv[2]));
    }
}

void cmd_smismember(client *c)
{
    int bad;
    kobj *o = lookup_typed(c, c->argv[1], OBJ_SET, 0, &bad);
    if (bad) {
        return;
    }
    reply_array(R(c), c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        reply_int(R(c), o && set_contains(set_of(o), c->argv[i]));
    }
}

void cmd_scard(client *c)
{
    int bad;
    kobj *o = lookup_typed(c, c->argv[1], OBJ_SET, 0, &bad);
    if (!bad) {
        reply_int(R(c), o ? (long long)set_len(set_of(o)) : 0);
    }
}

static void reply_members(client *c, set *s)
{
    reply_set(R(c), (long long)set_len(s));
    set_iter it;
    sv m;
    set_iter_init(&it, s);
    while (set_iter_next(&it, &m)) {
        reply_sv(c, m);
    }
    set_iter_done(&it);
}

void cmd_smembers(client *c)
{
    int bad;
    kobj *o = lookup_typed(c, c->argv[1], OBJ_SET, 0, &bad);
    if (bad) {
        return;
    }
    if (!o) {
        reply_set(R(c), 0);
        return;
    }
    reply_members(c, set_of(o));
}

/* ---- SMOVE ---- */

void cmd_smove(client *c)
{
    sv src = c->argv[1], dst = c->argv[2], m = c->argv[3];
    kobj *so = lookup_write(c, src);
    kobj *dobj = lookup_write(c, dst);
    if (!so) {
        reply_int(R(c), 0);
        return;
    }
    if (so->type != OBJ_SET || (dobj && dobj->type != OBJ_SET)) {
        reply_wrongtype(c);
        return;
    }
    if (so == dobj) {
        reply_int(R(c), set_contains(set_of(so), m));
        return;
    }
    int removed;
    kobj_set_ptr(so, set_remove(set_of(so), m, &removed));
    if (!removed) {
        reply_int(R(c), 0);
        return;
    }
    signal_write(c, NOTIFY_SET, "srem", src);
    drop_if_empty(c, src, so);
    /* The source may have been deleted: look the destination up again. */
    dobj = db_lookup(c->db, dst, LOOKUP_NOTOUCH);
    set_limits lim = limits();
    int added;
    if (dobj) {
        kobj_set_ptr(dobj, set_add(set_of(dobj), m, &lim, &added));
    } else {
        set *s = set_add(set_new(m, 1, &lim), m, &lim, &added);
        db_add(c->db, kobj_new_ptr(dst, OBJ_SET, s, -1));
    }
    if (added) {
        signal_write(c, NOTIFY_SET, "sadd", dst);
    }
    reply_int(R(c), 1);
}

/* ---- SPOP / SRANDMEMBER ---- */

/* Propagates "SREM key m..." in chunks so one huge pop does not build one
 * huge command. */
#define SREM_CHUNK 1024

void cmd_spop(client *c)
{
    long long count = 1;
    int has_count = c->argc == 3;
    if (c->argc > 3) {
        reply_syntax_error(c);
        return;
    }
    if (has_count && !arg_ll_range(c, 2, 0, LLONG_MAX, &count, "ERR value is out of range, must be positive")) {
        return;
    }
    int bad;
    sv key = c->argv[1];
    kobj *o = lookup_typed(c, key, OBJ_SET, 1, &bad);
    if (bad) {
        return;
    }
    if (!o) {
        if (has_count) {
            reply_set(R(c), 0);
        } else {
            reply_null(R(c));
        }
        return;
    }
    if (count == 0) {
        reply_set(R(c), 0);
        return;
    }
    set *s = set_of(o);
    member_list p = {0};
    set_sample(s, (size_t)count, 1, collect_member, &p);
    if (has_count) {
        reply_set(R(c), (long long)p.n);
    }
    sv *argv = alloc_mem(sizeof(sv) * (SREM_CHUNK + 2));
    argv[0] = SV("SREM");
    argv[1] = key;
    int argc = 2;
    for (size_t i = 0; i < p.n; i++) {
        sv m = {p.members[i], str_len(p.members[i])};
        reply_sv(c, m);
        s = set_remove(s, m, NULL);
        argv[argc++] = m;
        if (argc == SREM_CHUNK + 2 || i + 1 == p.n) {
            propagate_also(c, argv, argc);
            argc = 2;
        }
    }
    kobj_set_ptr(o, s);
    signal_write(c, NOTIFY_SET, "spop", key);
    drop_if_empty(c, key, o);
    for (size_t i = 0; i < p.n; i++) {
        str_free(p.members[i]);
    }
    alloc_free(p.members);
    alloc_free(argv);
}

static void reply_member(sv m, void *arg)
{
    reply_sv((client *)arg, m);
}

void cmd_srandmember(client *c)
{
    long long count = 0;
    int has_count = c->argc == 3;
    if (c->argc > 3) {
        reply_syntax_error(c);
        return;
    }
    if (has_count && !arg_signed_count(c, 2, &count)) {
        return;
    }
    int bad;
    kobj *o = lookup_typed(c, c->argv[1], OBJ_SET, 0, &bad);
    if (bad) {
        return;
    }
    if (!has_count) {
        if (!o) {
            reply_null(R(c));
            return;
        }
        char buf[32];
        reply_sv(c, set_random(set_of(o), buf));
        return;
    }
    if (!o || count == 0) {
        reply_array(R(c), 0);
        return;
    }
    set *s = set_of(o);
    int distinct = count > 0;
    size_t n = distinct ? (size_t)count : (size_t)(-count);
    if (distinct && n > set_len(s)) {
        n = set_len(s);
    }
    reply_array(R(c), (long long)n);
    set_sample(s, n, distinct, reply_member, c);
}

/* ---- algebra ---- */

enum { OP_INTER, OP_UNION, OP_DIFF };

/* Looks up the source sets argv[first..first+n); a missing key is NULL (an
 * empty set). Returns NULL after replying WRONGTYPE. */
static set **load_sets(client *c, int first, int n)
{
    set **sets = alloc_zero(sizeof(set *) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        kobj *o = lookup_read(c, c->argv[first + i]);
        if (o && o->type != OBJ_SET) {
            reply_wrongtype(c);
            alloc_free(sets);
            return NULL;
        }
        sets[i] = o ? set_of(o) : NULL;
    }
    return sets;
}

static int by_size(const void *a, const void *b)
{
    size_t x = set_len(*(set *const *)a), y = set_len(*(set *const *)b);
    return x < y ? -1 : x > y;
}

/* Computes the operation into a new set (possibly empty). For OP_INTER the
 * set list is reordered (smallest first). limit > 0 stops an intersection
 * early (SINTERCARD). */
static set *compute(set **sets, int n, int op, size_t limit)
{
    set_limits lim = limits();
    set *out = set_new_intset();
    set_iter it;
    sv m;
    if (op == OP_INTER) {
        for (int i = 0; i < n; i++) {
            if (!sets[i]) {
                return out;
            }
        }
        qsort(sets, (size_t)n, sizeof(set *), by_size);
        set_iter_init(&it, sets[0]);
        while (set_iter_next(&it, &m)) {
            int all = 1;
            for (int i = 1; i < n && all; i++) {
                all = set_contains(sets[i], m);
            }
            if (all) {
                out = set_add(out, m, &lim, NULL);
                if (limit && set_len(out) >= limit) {
                    break;
                }
            }
        }
        set_iter_done(&it);
        return out;
    }
    if (op == OP_UNION) {
        for (int i = 0; i < n; i++) {
            if (!sets[i]) {
                continue;
            }
            set_iter_init(&it, sets[i]);
            while (set_iter_next(&it, &m)) {
                out = set_add(out, m, &lim, NULL);
            }
            set_iter_done(&it);
        }
        return out;
    }
    if (!sets[0]) {
        return out;
    }
    set_iter_init(&it, sets[0]);
    while (set_iter_next(&it, &m)) {
        int in_other = 0;
        for (int i = 1; i < n && !in_other; i++) {
            in_other = sets[i] && set_contains(sets[i], m);
        }
        if (!in_other) {
            out = set_add(out, m, &lim, NULL);
        }
    }
    set_iter_done(&it);
    return out;
}

static void algebra(client *c, int op)
{
    set **sets = load_sets(c, 1, c->argc - 1);
    if (!sets) {
        return;
    }
    set *out = compute(sets, c->argc - 1, op, 0);
    reply_members(c, out);
    set_free(out);
    alloc_free(sets);
}

static void algebra_store(client *c, int op, const char *event)
{
    sv dst = c->argv[1];
    set **sets = load_sets(c, 2, c->argc - 2);
    if (!sets) {
        return;
    }
    set *out = compute(sets, c->argc - 2, op, 0);
    alloc_free(sets);
    size_t n = set_len(out);
    if (n == 0) {
        set_free(out);
        if (db_delete(c->db, dst)) {
            signal_write(c, NOTIFY_GENERIC, "del", dst);
        }
    } else {
        db_set(c->db, kobj_new_ptr(dst, OBJ_SET, out, -1));
        signal_write(c, NOTIFY_SET, event, dst);
    }
    reply_int(R(c), (long long)n);
}

void cmd_sinter(client *c)
{
    algebra(c, OP_INTER);
}

void cmd_sunion(client *c)
{
    algebra(c, OP_UNION);
}

void cmd_sdiff(client *c)
{
    algebra(c, OP_DIFF);
}

void cmd_sinterstore(client *c)
{
    algebra_store(c, OP_INTER, "sinterstore");
}

void cmd_sunionstore(client *c)
{
    algebra_store(c, OP_UNION, "sunionstore");
}

void cmd_sdiffstore(client *c)
{
    algebra_store(c, OP_DIFF, "sdiffstore");
}

void cmd_sintercard(client *c)
{
    long long numkeys, limit = 0;
    if (!arg_ll_range(c, 1, 1, LLONG_MAX, &numkeys, "ERR numkeys should be greater than 0")) {
        return;
    }
    if (numkeys > c->argc - 2) {
        reply_err(c, "ERR Number of keys can't be greater than number of args");
        return;
    }
    for (int i = 2 + (int)numkeys; i < c->argc; i++) {
        if (arg_is(c, i, "LIMIT") && i + 1 < c->argc) {
            if (!arg_ll_range(c, i + 1, 0, LLONG_MAX, &limit, "ERR LIMIT can't be negative")) {
                return;
            }
            i++;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    set **sets = load_sets(c, 2, (int)numkeys);
    if (!sets) {
        return;
    }
    set *out = compute(sets, (int)numkeys, OP_INTER, (size_t)limit);
    reply_int(R(c), (long long)set_len(out));
    set_free(out);
    alloc_free(sets);
}

/* ---- SSCAN ---- */

void cmd_sscan(client *c)
{
    unsigned long cursor;
    if (!arg_scan_cursor(c, 2, &cursor)) {
        return;
    }
    int bad;
    kobj *o = lookup_typed(c, c->argv[1], OBJ_SET, 0, &bad);
    if (bad) {
        return;
    }
    if (!o) {
        reply_array(R(c), 2);
        reply_bulk_cstr(R(c), "0");
        reply_array(R(c), 0);
        return;
    }
    long long count;
    sv pat;
    if (!arg_scan_opts(c, 3, &count, &pat, NULL)) {
        return;
    }
    set *s = set_of(o);
    member_list acc = {0};
    if (set_enc(s) != SET_ENC_HT) {
        cursor = set_scan(s, 0, collect_member, &acc);
    } else {
        /* Bounded: at most 10 buckets per requested element. */
        long long budget = scan_budget(count);
        do {
            cursor = set_scan(s, cursor, collect_member, &acc);
        } while (cursor && --budget > 0 && (long long)acc.n < count);
    }
    int match_all = pat.ptr == NULL || (pat.len == 1 && pat.ptr[0] == '*');
    size_t kept = 0;
    for (size_t i = 0; i < acc.n; i++) {
        if (match_all || util_glob_match(pat.ptr, pat.len, acc.members[i], str_len(acc.members[i]), 0)) {
            acc.members[kept++] = acc.members[i];
        } else {
            str_free(acc.members[i]);
        }
    }
    char cbuf[32];
    snprintf(cbuf, sizeof(cbuf), "%lu", cursor);
    reply_array(R(c), 2);
    reply_bulk_cstr(R(c), cbuf);
    reply_array(R(c), (long long)kept);
    for (size_t i = 0; i < kept; i++) {
        reply_bulk(R(c), acc.members[i], str_len(acc.members[i]));
        str_free(acc.members[i]);
    }
    alloc_free(acc.members);
}
