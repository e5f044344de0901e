/* Hash commands: fields and values, counters, random fields, HSCAN, and
 * per-field expiry (HEXPIRE family) with lazy and active reclamation.
 *
 * Field expiry: an expired field is invisible to every command because
 * each lookup here first purges the hash's expired fields (propagating
 * HDEL and firing "hexpired", deleting the key when nothing is left).
 * That purge runs only when the hash's earliest TTL has passed, so hashes
 * without due fields pay one comparison. Hashes that have field TTLs are
 * also remembered by name per database, and a bounded sweep from the
 * server cron reclaims fields nobody reads. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "server/server.h"
#include "types/hash.h"

static hash_limits limits(void)
{
    return (hash_limits){server.cfg.hash_max_listpack_entries, server.cfg.hash_max_listpack_value};
}

static hash *hash_of(kobj *o)
{
    return (hash *)kobj_ptr(o);
}

/* ---- field expiry: registry, purge, cron ---- */

/* Per database, the names of hashes that have (or had) field TTLs. Entries
 * are hints: the sweep drops a name whose key is gone or has no TTLs left,
 * and commands re-add a hash with TTLs whenever they touch it (so a renamed
 * hash is found again). */
static dict *ttl_names;
static unsigned long *ttl_cursor;

static void track(db *d, sv key)
{
    if (!ttl_names) {
        int n = server.cfg.databases;
        ttl_names = alloc_mem(sizeof(dict) * (size_t)n);
        ttl_cursor = alloc_zero(sizeof(unsigned long) * (size_t)n);
        for (int i = 0; i < n; i++) {
            dict_init(&ttl_names[i], &dict_type_entry);
        }
    }
    int created;
    dict_entry_upsert(&ttl_names[d->id], key.ptr, key.len, &created);
}

typedef struct purge_ctx {
    sv *argv;
    int argc, cap;
} purge_ctx;

static void collect_field(sv field, void *arg)
{
    purge_ctx *p = arg;
    if (p->argc == p->cap) {
        p->cap *= 2;
        p->argv = alloc_resize(p->argv, sizeof(sv) * (size_t)p->cap);
    }
    /* The node is freed right after this call: keep a copy. */
    str s = str_new(field.ptr, field.len);
    p->argv[p->argc++] = (sv){s, str_len(s)};
}

/* Deletes the expired fields of the hash at o (all of them when max_visit
 * is 0). Propagates HDEL, notifies, and deletes the key if it emptied.
 * Returns o, or NULL when the key is gone. */
static kobj *purge(db *d, kobj *o, size_t max_visit)
{
    hash *h = hash_of(o);
    purge_ctx p = {alloc_mem(sizeof(sv) * 8), 2, 8};
    sv key = kobj_key(o);
    str keycopy = str_new(key.ptr, key.len);
    key = (sv){keycopy, str_len(keycopy)};
    p.argv[0] = SV("HDEL");
    p.argv[1] = key;
    size_t n = hash_expire_fields(h, db_time(), max_visit, collect_field, &p);
    if (n) {
        int top = server.propagate_depth == 0;
        if (top) {
            propagate_begin();
        }
        propagate_cmd(d->id, p.argv, p.argc);
        if (top) {
            propagate_end();
        }
        notify_event(NOTIFY_HASH, "hexpired", key, d->id);
        if (hash_len(h) == 0) {
            db_delete(d, key);
            notify_event(NOTIFY_GENERIC, "del", key, d->id);
            o = NULL;
        }
        server_key_written(d, key, NULL);
    }
    for (int i = 2; i < p.argc; i++) {
        str_free((str)p.argv[i].ptr);
    }
    alloc_free(p.argv);
    str_free(keycopy);
    return o;
}

/* Typed lookup that makes expired fields vanish first. */
static kobj *lookup_hash(client *c, sv key, int write, int *bad)
{
    kobj *o = lookup_typed(c, key, OBJ_HASH, write, bad);
    if (o && hash_ttl_count(hash_of(o))) {
        track(c->db, key);
        if (hash_min_expire(hash_of(o)) < db_time()) {
            o = purge(c->db, o, 0);
        }
    }
    return o;
}

/* The active sweep: per call at most SWEEP_KEYS registry names and about
 * SWEEP_FIELDS field visits over all databases, so a cron tick stays well
 * under a millisecond however many hashes carry TTLs. */
#define SWEEP_KEYS 64
#define SWEEP_FIELDS 2000

typedef struct name_batch {
    str names[SWEEP_KEYS];
    int n;
} name_batch;

static void collect_name(dnode *n, void *arg)
{
    name_batch *b = arg;
    dict_entry *e = (dict_entry *)n;
    if (b->n < SWEEP_KEYS) {
        b->names[b->n++] = str_new(e->key, e->keylen);
    }
}

void hash_active_expire(void)
{
    if (!ttl_names || !server.cfg.active_expire) {
        return;
    }
    /* A replica waits for its primary's HDEL. */
    if (db_hooks_installed.keep_expired && db_hooks_installed.keep_expired()) {
        return;
    }
    size_t fields_left = SWEEP_FIELDS;
    int keys_left = SWEEP_KEYS;
    for (int i = 0; i < server.cfg.databases && keys_left > 0 && fields_left > 0; i++) {
        dict *names = &ttl_names[i];
        db *d = &server.dbs[i];
        if (dict_size(names) == 0) {
            continue;
        }
        unsigned long start = ttl_cursor[i];
        do {
            name_batch b = {.n = 0};
            ttl_cursor[i] = dict_scan(names, ttl_cursor[i], collect_name, &b);
            for (int k = 0; k < b.n; k++) {
                sv key = {b.names[k], str_len(b.names[k])};
                keys_left--;
                kobj *o = db_lookup(d, key, LOOKUP_NOTOUCH);
                if (o && o->type == OBJ_HASH && hash_ttl_count(hash_of(o))) {
                    if (hash_min_expire(hash_of(o)) < db_time()) {
                        size_t visit = fields_left < 500 ? fields_left : 500;
                        db_will_change(d, o);
                        o = purge(d, o, visit);
                        fields_left -= visit;
                        server.dirty++;
                    }
                }
                if (!o || o->type != OBJ_HASH || hash_ttl_count(hash_of(o)) == 0) {
                    dict_entry_remove(names, key.ptr, key.len, NULL);
                }
                str_free(b.names[k]);
            }
        } while (ttl_cursor[i] != 0 && ttl_cursor[i] != start && keys_left > 0 && fields_left > 0);
        dict_resize_to_fit(names);
    }
}

/* ---- type operations ---- */

TYPE_OPS_DEFINE(hash_ops, "hash", hash);

void hash_type_register(void)
{
    obj_register_type(OBJ_HASH, &hash_ops);
}

/* ---- helpers ---- */

/* The hash at key for writing, created empty (not yet in the keyspace)
 * when absent: *o stays NULL and store_new adds it. */
static hash *open_write(client *c, sv key, kobj **o, int *bad)
{
    *o = lookup_hash(c, key, 1, bad);
    if (*bad) {
        return NULL;
    }
    return *o ? hash_of(*o) : hash_new();
}

/* Stores the (possibly moved) hash back in its key. */
static void put_back(client *c, sv key, kobj *o, hash *h)
{
    if (o) {
        kobj_set_ptr(o, h);
    } else {
        db_add(c->db, kobj_new_ptr(key, OBJ_HASH, h, -1));
    }
}

/* Deletes the key if the hash is empty; returns 1 if it did. */
static int drop_if_empty(client *c, sv key, kobj *o)
{
    return o && cmd_drop_if_empty(c, key, hash_len(hash_of(o)));
}

/* ---- HSET family ---- */

static int hset_generic(client *c)
{
    if (c->argc % 2 != 0) {
        reply_arity_error(c);
        return -1;
    }
    kobj *o;
    int bad;
    sv key = c->argv[1];
    hash *h = open_write(c, key, &o, &bad);
    if (bad) {
        return -1;
    }
    hash_limits lim = limits();
    /* Convert up front when the arguments cannot fit a listpack. */
    if (hash_enc(h) != HASH_ENC_HT) {
        int big = (c->argc - 2) / 2 > lim.max_listpack_entries;
        for (int i = 2; i < c->argc && !big; i++) {
            big = (long long)c->argv[i].len > lim.max_listpack_value;
        }
        if (big) {
            h = hash_convert_ht(h);
        }
    }
    int added = 0;
    for (int i = 2; i < c->argc; i += 2) {
        int a;
        h = hash_set(h, c->argv[i], c->argv[i + 1], 0, &lim, &a);
        added += a;
    }
    put_back(c, key, o, h);
    signal_write(c, NOTIFY_HASH, "hset", key);
    return added;
}

void cmd_hset(client *c)
{
    int added = hset_generic(c);
    if (added >= 0) {
        reply_int(R(c), added);
    }
}

void cmd_hmset(client *c)
{
    if (hset_generic(c) >= 0) {
        reply_ok(R(c));
    }
}

void cmd_hsetnx(client *c)
{
    kobj *o;
    int bad;
    sv key = c->argv[1];
    hash *h = open_write(c, key, &o, &bad);
    if (bad) {
        return;
    }
    sv v;
    if (o && hash_get(h, c->argv[2], &v)) {
        reply_int(R(c), 0);
        return;
    }
    hash_limits lim = limits();
    int added;
    h = hash_set(h, c->argv[2], c->argv[3], 0, &lim, &added);
    put_back(c, key, o, h);
    signal_write(c, NOTIFY_HASH, "hset", key);
    reply_int(R(c), 1);
}

/* ---- reads ---- */

/* The field's value, or nil (o NULL: no hash); returns whether it exists. */
static int reply_field(client *c, kobj *o, sv field)
{
    sv v;
    if (o && hash_get(hash_of(o), field, &v)) {
        reply_sv(c, v);
        return 1;
    }
    reply_null(R(c));
    return 0;
}

void cmd_hget(client *c)
{
    int bad;
    kobj *o = lookup_hash(c, c->argv[1], 0, &bad);
    if (!bad) {
        reply_field(c, o, c->argv[2]);
    }
}

void cmd_hmget(client *c)
{
    int bad;
    kobj *o = lookup_hash(c, c->argv[1], 0, &bad);
    if (bad) {
        return;
    }
    reply_array(R(c), c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        reply_field(c, o, c->argv[i]);
    }
}

void cmd_hlen(client *c)
{
    int bad;
    kobj *o = lookup_hash(c, c->argv[1], 0, &bad);
    if (!bad) {
        reply_int(R(c), o ? (long long)hash_len(hash_of(o)) : 0);
    }
}

void cmd_hexists(client *c)
{
    int bad;
    kobj *o = lookup_hash(c, c->argv[1], 0, &bad);
    sv v;
    if (!bad) {
        reply_int(R(c), o && hash_get(hash_of(o), c->argv[2], &v));
    }
}

void cmd_hstrlen(client *c)
{
    int bad;
    kobj *o = lookup_hash(c, c->argv[1], 0, &bad);
    sv v;
    if (!bad) {
        reply_int(R(c), o && hash_get(hash_of(o), c->argv[2], &v) ? (long long)v.len : 0);
    }
}

#define GET_FIELDS 1
#define GET_VALUES 2

static void getall_generic(client *c, int what)
{
    int bad;
    kobj *o = lookup_hash(c, c->argv[1], 0, &bad);
    if (bad) {
        return;
    }
    size_t n = o ? hash_len(hash_of(o)) : 0;
    if (what == (GET_FIELDS | GET_VALUES)) {
        reply_map(R(c), (long long)n);
    } else {
        reply_array(R(c), (long long)n);
    }
    if (!o) {
        return;
    }
    hash_iter it;
    sv f, v;
    hash_iter_init(&it, hash_of(o));
    while (hash_iter_next(&it, &f, &v)) {
        if (what & GET_FIELDS) {
            reply_sv(c, f);
        }
        if (what & GET_VALUES) {
            reply_sv(c, v);
        }
    }
    hash_iter_done(&it);
}

void cmd_hgetall(client *c)
{
    getall_generic(c, GET_FIELDS | GET_VALUES);
}

void cmd_hkeys(client *c)
{
    getall_generic(c, GET_FIELDS);
}

void cmd_hvals(client *c)
{
    getall_generic(c, GET_VALUES);
}

/* ---- HDEL ---- */

void cmd_hdel(client *c)
{
    int bad;
    sv key = c->argv[1];
    kobj *o = lookup_hash(c, key, 1, &bad);
    if (bad) {
        return;
    }
    if (!o) {
        reply_int(R(c), 0);
        return;
    }
    hash *h = hash_of(o);
    int deleted = 0;
    for (int i = 2; i < c->argc && hash_len(h) > 0; i++) {
        int d;
        h = hash_del(h, c->argv[i], &d);
        deleted += d;
    }
    kobj_set_ptr(o, h);
    if (deleted) {
        signal_write(c, NOTIFY_HASH, "hdel", key);
        drop_if_empty(c, key, o);
    }
    reply_int(R(c), deleted);
}

/* ---- counters ---- */

void cmd_hincrby(client *c)
{
    long long by, cur = 0;
    if (!arg_ll(c, 3, &by)) {
        return;
    }
    kobj *o;
    int bad;
    sv key = c->argv[1];
    hash *h = open_write(c, key, &o, &bad);
    if (bad) {
        return;
    }
    sv v;
    if (o && hash_get(h, c->argv[2], &v) && !util_parse_ll(v.ptr, v.len, &cur)) {
        reply_err(c, "ERR hash value is not an integer");
        return;
    }
    if ((by < 0 && cur < 0 && by < LLONG_MIN - cur) || (by > 0 && cur > 0 && by > LLONG_MAX - cur)) {
        reply_err(c, "ERR increment or decrement would overflow");
        if (!o) {
            hash_free(h);
        }
        return;
    }
    cur += by;
    char buf[32];
    sv nv = {buf, (size_t)util_ll2str(buf, cur)};
    hash_limits lim = limits();
    int added;
    h = hash_set(h, c->argv[2], nv, HASH_KEEP_TTL, &lim, &added);
    put_back(c, key, o, h);
    signal_write(c, NOTIFY_HASH, "hincrby", key);
    reply_int(R(c), cur);
}

void cmd_hincrbyfloat(client *c)
{
    long double by, cur = 0;
    if (!util_parse_long_double(c->argv[3].ptr, c->argv[3].len, &by)) {
        reply_not_float(c);
        return;
    }
    if (isnan(by) || isinf(by)) {
        reply_err(c, "ERR value is NaN or Infinity");
        return;
    }
    kobj *o;
    int bad;
    sv key = c->argv[1];
    hash *h = open_write(c, key, &o, &bad);
    if (bad) {
        return;
    }
    sv v;
    if (o && hash_get(h, c->argv[2], &v) && !util_parse_long_double(v.ptr, v.len, &cur)) {
        reply_err(c, "ERR hash value is not a float");
        return;
    }
    cur += by;
    char out[5 * 1024];
    int n = isnan(cur) || isinf(cur) ? -1 : util_ld2str(out, sizeof(out), cur);
    if (n < 0) {
        reply_err(c, "ERR increment would produce NaN or Infinity");
        if (!o) {
            hash_free(h);
        }
        return;
    }
    sv nv = {out, (size_t)n};
    hash_limits lim = limits();
    int added;
    h = hash_set(h, c->argv[2], nv, HASH_KEEP_TTL, &lim, &added);
    put_back(c, key, o, h);
    signal_write(c, NOTIFY_HASH, "hincrbyfloat", key);
    /* Replay must not redo float arithmetic: propagate the result, and
     * the field's TTL again since HSET would clear it. */
    sv argv[4] = {SV("HSET"), key, c->argv[2], nv};
    propagate_also(c, argv, 4);
    int found;
    kobj *now = db_lookup(c->db, key, LOOKUP_NOTOUCH);
    int64_t when = now ? hash_field_expire(hash_of(now), c->argv[2], &found) : -1;
    if (when >= 0) {
        char tbuf[32];
        sv ex[6] = {SV("HPEXPIREAT"), key, {tbuf, (size_t)util_ll2str(tbuf, when)}, SV("FIELDS"), SV("1"), c->argv[2]};
        propagate_also(c, ex, 6);
    }
    reply_bulk(R(c), out, (size_t)n);
}

/* ---- HRANDFIELD ---- */

typedef struct rand_ctx {
    client *c;
    int withvalues;
} rand_ctx;

static void reply_pick(sv f, sv v, void *arg)
{
    rand_ctx *r = arg;
    if (r->withvalues && r->c->resp == 3) {
        reply_array(R(r->c), 2);
    }
    reply_sv(r->c, f);
    if (r->withvalues) {
        reply_sv(r->c, v);
    }
}

void cmd_hrandfield(client *c)
{
    long long count = 0;
    int withvalues = 0, has_count = c->argc >= 3;
    if (c->argc > 4 || (c->argc == 4 && !arg_is(c, 3, "WITHVALUES"))) {
        reply_syntax_error(c);
        return;
    }
    if (has_count) {
        if (!arg_signed_count(c, 2, &count)) {
            return;
        }
        withvalues = c->argc == 4;
        if (withvalues && (count < -LLONG_MAX / 2 || count > LLONG_MAX / 2)) {
            reply_err(c, "ERR value is out of range");
            return;
        }
    }
    int bad;
    kobj *o = lookup_hash(c, c->argv[1], 0, &bad);
    if (bad) {
        return;
    }
    if (!has_count) {
        if (!o) {
            reply_null(R(c));
            return;
        }
        sv f, v;
        hash_random(hash_of(o), &f, &v);
        reply_sv(c, f);
        return;
    }
    if (!o || count == 0) {
        reply_array(R(c), 0);
        return;
    }
    hash *h = hash_of(o);
    int distinct = count > 0;
    size_t n = distinct ? (size_t)count : (size_t)(-count);
    if (distinct && n > hash_len(h)) {
        n = hash_len(h);
    }
    long long items = (long long)n;
    if (withvalues && c->resp == 2) {
        items *= 2;
    }
    reply_array(R(c), items);
    rand_ctx r = {c, withvalues};
    hash_sample(h, n, distinct, reply_pick, &r);
}

/* ---- HSCAN ---- */

typedef struct scan_acc {
    sv *items;
    size_t n, cap;
} scan_acc;

static void scan_push(scan_acc *a, sv x)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 32;
        a->items = alloc_resize(a->items, sizeof(sv) * a->cap);
    }
    a->items[a->n++] = x;
}

static void scan_pair(sv f, sv v, void *arg)
{
    scan_acc *a = arg;
    scan_push(a, f);
    scan_push(a, v);
}

void cmd_hscan(client *c)
{
    unsigned long cursor;
    if (!arg_scan_cursor(c, 2, &cursor)) {
        return;
    }
    int bad;
    kobj *o = lookup_hash(c, c->argv[1], 0, &bad);
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
    int novalues;
    if (!arg_scan_opts(c, 3, &count, &pat, &novalues)) {
        return;
    }
    hash *h = hash_of(o);
    scan_acc acc = {0};
    if (hash_enc(h) != HASH_ENC_HT) {
        cursor = hash_scan(h, 0, scan_pair, &acc);
    } else {
        /* Bounded: at most 10 buckets per requested element. */
        long long budget = scan_budget(count);
        do {
            cursor = hash_scan(h, cursor, scan_pair, &acc);
        } while (cursor && --budget > 0 && (long long)acc.n / 2 < count);
    }
    int match_all = pat.ptr == NULL || (pat.len == 1 && pat.ptr[0] == '*');
    size_t kept = 0;
    for (size_t i = 0; i < acc.n; i += 2) {
        if (match_all || util_glob_match(pat.ptr, pat.len, acc.items[i].ptr, acc.items[i].len, 0)) {
            acc.items[kept++] = acc.items[i];
            acc.items[kept++] = acc.items[i + 1];
        }
    }
    char cbuf[32];
    snprintf(cbuf, sizeof(cbuf), "%lu", cursor);
    reply_array(R(c), 2);
    reply_bulk_cstr(R(c), cbuf);
    reply_array(R(c), (long long)(novalues ? kept / 2 : kept));
    for (size_t i = 0; i < kept; i += 2) {
        reply_sv(c, acc.items[i]);
        if (!novalues) {
            reply_sv(c, acc.items[i + 1]);
        }
    }
    alloc_free(acc.items);
}

/* ---- field expiry commands ---- */

/* Largest absolute field expiry Redis accepts (2^46 - 1 ms). */
#define HFE_MAX_MS ((1LL << 46) - 1)

#define COND_NX 1
#define COND_XX 2
#define COND_GT 4
#define COND_LT 8

/* Checks "FIELDS numfields field..." starting at argv[at]; returns the
 * index of the first field or 0 after replying an error. */
static int parse_fields(client *c, int at, const char *count_err)
{
    if (at >= c->argc || !sv_eq_ci(c->argv[at], "FIELDS")) {
        reply_err(c, "ERR Mandatory argument FIELDS is missing or not at the right position");
        return 0;
    }
    long long n;
    if (at + 1 >= c->argc || !util_parse_ll(c->argv[at + 1].ptr, c->argv[at + 1].len, &n) || n < 1) {
        reply_err(c, count_err);
        return 0;
    }
    if (n != c->argc - at - 2) {
        reply_err(c, "ERR The `numfields` parameter must match the number of arguments");
        return 0;
    }
    return at + 2;
}

/* argv[i] as an absolute field expiry in ms (seconds unless unit_ms,
 * relative to now unless absolute), within Redis's bounds; 0 after
 * replying an error. */
static int field_expire_time(client *c, int i, int unit_ms, int absolute, long long *out)
{
    long long when;
    if (!arg_ll(c, i, &when)) {
        return 0;
    }
    if (when < 0) {
        reply_err(c, "ERR invalid expire time, must be >= 0");
        return 0;
    }
    if (!unit_ms) {
        if (when > HFE_MAX_MS / 1000) {
            reply_errf(c, "ERR invalid expire time in '%s' command", c->cmd->name);
            return 0;
        }
        when *= 1000;
    }
    long long base = absolute ? 0 : db_time();
    if (when > HFE_MAX_MS - base) {
        reply_errf(c, "ERR invalid expire time in '%s' command", c->cmd->name);
        return 0;
    }
    *out = when + base;
    return 1;
}

/* EX / PX / EXAT / PXAT at argv[i]: sets *unit_ms and *absolute; 0 if
 * argv[i] is none of them. */
static int ttl_option(client *c, int i, int *unit_ms, int *absolute)
{
    static const char *names[] = {"EX", "PX", "EXAT", "PXAT"};
    for (int k = 0; k < 4; k++) {
        if (arg_is(c, i, names[k])) {
            *unit_ms = k % 2;
            *absolute = k >= 2;
            return 1;
        }
    }
    return 0;
}

/* Propagates HDEL key <fields>, the form of fields a command deleted. */
static void propagate_hdel(client *c, sv key, const sv *fields, int n)
{
    sv *argv = alloc_mem(sizeof(sv) * (size_t)(n + 2));
    argv[0] = SV("HDEL");
    argv[1] = key;
    memcpy(argv + 2, fields, sizeof(sv) * (size_t)n);
    propagate_also(c, argv, n + 2);
    alloc_free(argv);
}

static void hexpire_generic(client *c, int unit_ms, int absolute)
{
    int bad;
    sv key = c->argv[1];
    kobj *o = lookup_hash(c, key, 1, &bad);
    if (bad) {
        return;
    }
    long long when;
    if (!field_expire_time(c, 2, unit_ms, absolute, &when)) {
        return;
    }
    int cond = 0, at = 3;
    if (arg_is(c, 3, "NX")) {
        cond = COND_NX;
    } else if (arg_is(c, 3, "XX")) {
        cond = COND_XX;
    } else if (arg_is(c, 3, "GT")) {
        cond = COND_GT;
    } else if (arg_is(c, 3, "LT")) {
        cond = COND_LT;
    }
    if (cond) {
        at++;
    }
    int first = parse_fields(c, at, "ERR Parameter `numFields` should be greater than 0");
    if (!first) {
        return;
    }
    int nfields = c->argc - first;
    reply_array(R(c), nfields);
    if (!o) {
        for (int i = 0; i < nfields; i++) {
            reply_int(R(c), -2);
        }
        return;
    }
    hash *h = hash_of(o);
    /* Propagated form: HPEXPIREAT key ms FIELDS n <fields set>. */
    sv *prop = alloc_mem(sizeof(sv) * (size_t)(nfields + 5));
    char tbuf[32], nbuf[32];
    prop[0] = SV("HPEXPIREAT");
    prop[1] = key;
    prop[2] = (sv){tbuf, (size_t)util_ll2str(tbuf, when)};
    prop[3] = SV("FIELDS");
    int nset = 0, deleted = 0;
    for (int i = first; i < c->argc; i++) {
        sv f = c->argv[i];
        int found;
        int64_t cur = hash_field_expire(h, f, &found);
        if (!found) {
            reply_int(R(c), -2);
            continue;
        }
        /* No TTL counts as an infinite one: GT never beats it, LT does. */
        int ok = !((cond == COND_NX && cur >= 0) || (cond == COND_XX && cur < 0) ||
                   (cond == COND_GT && (cur < 0 || when <= cur)) || (cond == COND_LT && cur >= 0 && when >= cur));
        if (!ok) {
            reply_int(R(c), 0);
            continue;
        }
        if (expire_time_passed(when)) {
            int d;
            h = hash_del(h, f, &d);
            sv del[3] = {SV("HDEL"), key, f};
            propagate_cmd(c->db->id, del, 3);
            deleted++;
            reply_int(R(c), 2);
            continue;
        }
        h = hash_set_field_expire(h, f, when);
        prop[5 + nset++] = f;
        reply_int(R(c), 1);
    }
    kobj_set_ptr(o, h);
    propagate_none(c);
    if (nset) {
        prop[4] = (sv){nbuf, (size_t)util_ll2str(nbuf, nset)};
        propagate_also(c, prop, nset + 5);
        track(c->db, key);
    }
    if (nset || deleted) {
        signal_write(c, NOTIFY_HASH, deleted ? "hdel" : "hexpire", key);
        drop_if_empty(c, key, o);
    }
    alloc_free(prop);
}

void cmd_hexpire(client *c)
{
    hexpire_generic(c, 0, 0);
}

void cmd_hpexpire(client *c)
{
    hexpire_generic(c, 1, 0);
}

void cmd_hexpireat(client *c)
{
    hexpire_generic(c, 0, 1);
}

void cmd_hpexpireat(client *c)
{
    hexpire_generic(c, 1, 1);
}

/* unit_ms and absolute select among HTTL, HPTTL, HEXPIRETIME, HPEXPIRETIME. */
static void httl_generic(client *c, int unit_ms, int absolute)
{
    int bad;
    kobj *o = lookup_hash(c, c->argv[1], 0, &bad);
    if (bad) {
        return;
    }
    int first = parse_fields(c, 2, "ERR Number of fields must be a positive integer");
    if (!first) {
        return;
    }
    reply_array(R(c), c->argc - first);
    for (int i = first; i < c->argc; i++) {
        int found = 0;
        int64_t when = o ? hash_field_expire(hash_of(o), c->argv[i], &found) : -1;
        if (!found) {
            reply_int(R(c), -2);
        } else if (when < 0) {
            reply_int(R(c), -1);
        } else {
            long long v = absolute ? when : when - db_time();
            if (!unit_ms) {
                v = (v + 999) / 1000; /* TTLs round up, as Redis's do */
            }
            reply_int(R(c), v);
        }
    }
}

void cmd_httl(client *c)
{
    httl_generic(c, 0, 0);
}

void cmd_hpttl(client *c)
{
    httl_generic(c, 1, 0);
}

void cmd_hexpiretime(client *c)
{
    httl_generic(c, 0, 1);
}

void cmd_hpexpiretime(client *c)
{
    httl_generic(c, 1, 1);
}

void cmd_hpersist(client *c)
{
    int bad;
    sv key = c->argv[1];
    kobj *o = lookup_hash(c, key, 1, &bad);
    if (bad) {
        return;
    }
    int first = parse_fields(c, 2, "ERR Number of fields must be a positive integer");
    if (!first) {
        return;
    }
    reply_array(R(c), c->argc - first);
    int changed = 0;
    for (int i = first; i < c->argc; i++) {
        int found = 0;
        int64_t when = o ? hash_field_expire(hash_of(o), c->argv[i], &found) : -1;
        if (!found) {
            reply_int(R(c), -2);
        } else if (when < 0) {
            reply_int(R(c), -1);
        } else {
            kobj_set_ptr(o, hash_set_field_expire(hash_of(o), c->argv[i], -1));
            changed = 1;
            reply_int(R(c), 1);
        }
    }
    if (changed) {
        signal_write(c, NOTIFY_HASH, "hpersist", key);
    } else {
        propagate_none(c);
    }
}

/* ---- Redis 8: HGETDEL, HGETEX, HSETEX ---- */

/* HGETDEL key FIELDS numfields field...: the values, then the fields go
 * (propagated as HDEL of those that existed). */
void cmd_hgetdel(client *c)
{
    int first = parse_fields(c, 2, "ERR Number of fields must be a positive integer");
    if (!first) {
        return;
    }
    int bad;
    sv key = c->argv[1];
    kobj *o = lookup_hash(c, key, 1, &bad);
    if (bad) {
        return;
    }
    reply_array(R(c), c->argc - first);
    int ndel = 0;
    sv *gone = alloc_mem(sizeof(sv) * (size_t)(c->argc - first));
    for (int i = first; i < c->argc; i++) {
        if (!reply_field(c, o, c->argv[i])) {
            continue;
        }
        int d;
        kobj_set_ptr(o, hash_del(hash_of(o), c->argv[i], &d));
        gone[ndel++] = c->argv[i];
    }
    if (ndel) {
        propagate_hdel(c, key, gone, ndel);
        signal_write(c, NOTIFY_HASH, "hdel", key);
        drop_if_empty(c, key, o);
    }
    alloc_free(gone);
}

/* HGETEX key [EX s | PX ms | EXAT s | PXAT ms | PERSIST] FIELDS n field...:
 * the values, then the fields' TTLs are set (a time already past deletes
 * them) or removed. Propagated as HPEXPIREAT, HDEL or HPERSIST of the
 * fields that exist. */
void cmd_hgetex(client *c)
{
    int unit_ms, absolute, persist = 0, set_ttl = 0, at = 2;
    long long when = 0;
    if (ttl_option(c, 2, &unit_ms, &absolute)) {
        if (!field_expire_time(c, 3, unit_ms, absolute, &when)) {
            return;
        }
        set_ttl = 1;
        at = 4;
    } else if (arg_is(c, 2, "PERSIST")) {
        persist = 1;
        at = 3;
    }
    int first = parse_fields(c, at, "ERR Number of fields must be a positive integer");
    if (!first) {
        return;
    }
    int bad;
    sv key = c->argv[1];
    kobj *o = lookup_hash(c, key, set_ttl || persist, &bad);
    if (bad) {
        return;
    }
    int nfields = c->argc - first;
    reply_array(R(c), nfields);
    /* Fields the option applies to: HPEXPIREAT key ms FIELDS n <fields>
     * (HPERSIST key FIELDS n <fields>) with the fields from prop[5]. */
    sv *prop = alloc_mem(sizeof(sv) * (size_t)(nfields + 5));
    int n = 0;
    for (int i = first; i < c->argc; i++) {
        if (!reply_field(c, o, c->argv[i])) {
            continue;
        }
        int found;
        if (persist && hash_field_expire(hash_of(o), c->argv[i], &found) < 0) {
            continue; /* nothing to remove */
        }
        prop[5 + n++] = c->argv[i];
    }
    if (!n || !(set_ttl || persist)) {
        alloc_free(prop);
        return;
    }
    hash *h = hash_of(o);
    const char *event;
    if (persist) {
        for (int k = 0; k < n; k++) {
            h = hash_set_field_expire(h, prop[5 + k], -1);
        }
        event = "hpersist";
    } else if (expire_time_passed(when)) {
        for (int k = 0; k < n; k++) {
            int d;
            h = hash_del(h, prop[5 + k], &d);
        }
        event = "hexpired";
    } else {
        for (int k = 0; k < n; k++) {
            h = hash_set_field_expire(h, prop[5 + k], when);
        }
        track(c->db, key);
        event = "hexpire";
    }
    kobj_set_ptr(o, h);
    char tbuf[32], nbuf[32];
    sv count = {nbuf, (size_t)util_ll2str(nbuf, n)};
    if (persist) {
        prop[1] = SV("HPERSIST");
        prop[2] = key;
        prop[3] = SV("FIELDS");
        prop[4] = count;
        propagate_also(c, prop + 1, n + 4);
    } else if (expire_time_passed(when)) {
        propagate_hdel(c, key, prop + 5, n);
    } else {
        prop[0] = SV("HPEXPIREAT");
        prop[1] = key;
        prop[2] = (sv){tbuf, (size_t)util_ll2str(tbuf, when)};
        prop[3] = SV("FIELDS");
        prop[4] = count;
        propagate_also(c, prop, n + 5);
    }
    signal_write(c, NOTIFY_HASH, event, key);
    drop_if_empty(c, key, o);
    alloc_free(prop);
}

/* HSETEX key [FNX | FXX] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL]
 * FIELDS n field value...: sets all the fields, or none when FNX (none may
 * exist) or FXX (all must) fails; replies 1 if it set them. Without a TTL
 * option the fields lose theirs, as with HSET. Propagated as HSET (no
 * option), HSETEX key PXAT ms / KEEPTTL FIELDS ..., or, for a time
 * already past, HDEL of the fields that existed. */
void cmd_hsetex(client *c)
{
    enum { ANY, FNX, FXX } cond = ANY;
    int ttl = 0, keepttl = 0, first = 0;
    long long when = 0;
    for (int i = 2; i < c->argc && !first;) {
        int unit_ms = 0, absolute = 0;
        if (arg_is(c, i, "FNX") || arg_is(c, i, "FXX")) {
            if (cond != ANY) {
                reply_err(c, "ERR Only one of FXX or FNX arguments can be specified");
                return;
            }
            cond = arg_is(c, i, "FNX") ? FNX : FXX;
            i++;
        } else if (arg_is(c, i, "KEEPTTL") || ttl_option(c, i, &unit_ms, &absolute)) {
            if (ttl || keepttl) {
                reply_err(c, "ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified");
                return;
            }
            if (arg_is(c, i, "KEEPTTL")) {
                keepttl = 1;
                i++;
                continue;
            }
            if (i + 1 >= c->argc) {
                reply_err(c, "ERR missing expire time");
                return;
            }
            if (!field_expire_time(c, i + 1, unit_ms, absolute, &when)) {
                return;
            }
            ttl = 1;
            i += 2;
        } else if (arg_is(c, i, "FIELDS")) {
            long long n;
            if (i + 1 >= c->argc || !util_parse_ll(c->argv[i + 1].ptr, c->argv[i + 1].len, &n) || n < 1) {
                reply_err(c, "ERR invalid number of fields");
                return;
            }
            if (n > (c->argc - i - 2) / 2 || c->argc - i - 2 != 2 * n) {
                reply_arity_error(c);
                return;
            }
            first = i + 2;
        } else {
            reply_errf(c, "ERR unknown argument: %.*s", (int)(c->argv[i].len < 128 ? c->argv[i].len : 128),
                       c->argv[i].ptr);
            return;
        }
    }
    if (!first) {
        reply_err(c, "ERR Mandatory argument FIELDS is missing or not at the right position");
        return;
    }
    int bad;
    sv key = c->argv[1];
    kobj *o = lookup_hash(c, key, 1, &bad);
    if (bad) {
        return;
    }
    if (cond != ANY) {
        for (int i = first; i < c->argc; i += 2) {
            sv v;
            int exists = o && hash_get(hash_of(o), c->argv[i], &v);
            if (exists != (cond == FXX)) {
                reply_int(R(c), 0);
                return;
            }
        }
    }
    int nfields = (c->argc - first) / 2;
    if (ttl && expire_time_passed(when)) {
        /* Set and at once expired: only fields that existed change. */
        sv *gone = alloc_mem(sizeof(sv) * (size_t)nfields);
        int ndel = 0;
        for (int i = first; o && i < c->argc; i += 2) {
            int d;
            kobj_set_ptr(o, hash_del(hash_of(o), c->argv[i], &d));
            if (d) {
                gone[ndel++] = c->argv[i];
            }
        }
        if (ndel) {
            propagate_hdel(c, key, gone, ndel);
            signal_write(c, NOTIFY_HASH, "hexpired", key);
            drop_if_empty(c, key, o);
        } else {
            propagate_none(c);
        }
        alloc_free(gone);
        reply_int(R(c), 1);
        return;
    }
    hash *h = o ? hash_of(o) : hash_new();
    hash_limits lim = limits();
    for (int i = first; i < c->argc; i += 2) {
        int added;
        h = hash_set(h, c->argv[i], c->argv[i + 1], keepttl ? HASH_KEEP_TTL : 0, &lim, &added);
        if (ttl) {
            h = hash_set_field_expire(h, c->argv[i], when);
        }
    }
    put_back(c, key, o, h);
    /* The propagated form: the option decided here, the TTL absolute. */
    sv *prop = alloc_mem(sizeof(sv) * (size_t)(c->argc + 4));
    char tbuf[32], nbuf[32];
    int k = 0;
    if (!ttl && !keepttl) {
        prop[k++] = SV("HSET");
        prop[k++] = key;
    } else {
        prop[k++] = SV("HSETEX");
        prop[k++] = key;
        if (keepttl) {
            prop[k++] = SV("KEEPTTL");
        } else {
            prop[k++] = SV("PXAT");
            prop[k++] = (sv){tbuf, (size_t)util_ll2str(tbuf, when)};
        }
        prop[k++] = SV("FIELDS");
        prop[k++] = (sv){nbuf, (size_t)util_ll2str(nbuf, nfields)};
    }
    memcpy(prop + k, c->argv + first, sizeof(sv) * (size_t)(c->argc - first));
    propagate_also(c, prop, k + c->argc - first);
    alloc_free(prop);
    signal_write(c, NOTIFY_HASH, "hset", key);
    if (ttl) {
        track(c->db, key);
        notify_event(NOTIFY_HASH, "hexpire", key, c->db->id);
    }
    reply_int(R(c), 1);
}
