/* Generic keyspace commands: DEL, UNLINK, EXISTS, TYPE, DBSIZE, FLUSH*,
 * SWAPDB, MOVE, COPY, RENAME(NX), KEYS, RANDOMKEY, TOUCH, SCAN, OBJECT. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "db/lazyfree.h"
#include "module/module.h"
#include "server/free_wait.h"
#include "server/persistence.h"
#include "server/server.h"

/* ---- helpers ---- */

/* A read lookup that counts keyspace hits/misses as Redis does for
 * EXISTS, TYPE, TOUCH and OBJECT; notouch keeps the LRU/LFU unchanged and
 * notify controls the keymiss event. */
static kobj *lookup_counted(client *c, db *d, sv key, int notouch, int notify)
{
    kobj *o = db_lookup(d, key, notouch ? LOOKUP_NOTOUCH : LOOKUP_NONE);
    if (o) {
        server.stats.keyspace_hits++;
    } else {
        server.stats.keyspace_misses++;
        if (notify) {
            notify_event(NOTIFY_KEY_MISS, "keymiss", key, d->id);
        }
    }
    return o;
}

/* signal_write for a key of any database (MOVE, COPY ... DB n). */
static void signal_write_db(client *c, db *d, const char *event, sv key)
{
    if (d == c->db) {
        signal_write(c, NOTIFY_GENERIC, event, key);
        return;
    }
    server.dirty++;
    server_key_written(d, key, c);
    notify_event(NOTIFY_GENERIC, event, key, d->id);
}

/* Parses a DB index that must fit an int (Redis's getIntFromObject); on
 * failure replies `err` (or the standard integer error) and returns 0. */
static db *db_by_index(long long id)
{
    return id >= 0 && id < server.cfg.databases ? &server.dbs[id] : NULL;
}

/* ---- DEL, EXISTS, TYPE, DBSIZE ---- */

static void del_generic(client *c)
{
    long long n = 0;
    for (int i = 1; i < c->argc; i++) {
        /* Lookup first so an expired key counts as absent. */
        if (db_lookup(c->db, c->argv[i], LOOKUP_NOTOUCH) && db_delete(c->db, c->argv[i])) {
            signal_write(c, NOTIFY_GENERIC, "del", c->argv[i]);
            n++;
        }
    }
    reply_int(R(c), n);
}

void cmd_del(client *c)
{
    del_generic(c);
}

void cmd_unlink(client *c)
{
    del_generic(c);
}

void cmd_exists(client *c)
{
    long long n = 0;
    for (int i = 1; i < c->argc; i++) {
        if (lookup_counted(c, c->db, c->argv[i], 1, 1)) {
            n++;
        }
    }
    reply_int(R(c), n);
}

/* TYPE's answer: a module value shows its type's own name, as in Redis. */
static const char *kobj_type_name(const kobj *o)
{
    return o->type == OBJ_MODULE ? module_value_type_name(o) : obj_type_name(o->type);
}

void cmd_type(client *c)
{
    kobj *o = lookup_counted(c, c->db, c->argv[1], 1, 1);
    reply_status(R(c), o ? kobj_type_name(o) : "none");
}

void cmd_dbsize(client *c)
{
    reply_int(R(c), (long long)db_size(c->db));
}

/* ---- FLUSHDB, FLUSHALL, SWAPDB ---- */

/* Parses the optional ASYNC|SYNC argument; -1 after replying an error. */
static int flush_mode(client *c)
{
    if (c->argc == 1) {
        return server.cfg.lazyfree_lazy_user_flush;
    }
    if (c->argc == 2 && arg_is(c, 1, "ASYNC")) {
        return 1;
    }
    if (c->argc == 2 && arg_is(c, 1, "SYNC")) {
        return 0;
    }
    reply_syntax_error(c);
    return -1;
}

/* Empties one db; the keys of a big one are freed off the main thread.
 * Returns the ticket of that free, or 0 when nothing is left to free. */
static uint64_t empty_db(client *c, db *d, int async)
{
    size_t n = db_size(d);
    /* Every key's watchers and trackers must learn of the flush (the
     * trackers even of an empty db's: Redis sends them a flush then too). */
    server_key_written(d, (sv){NULL, 0}, c);
    watch_db_replaced(d, NULL);
    if (n == 0) {
        return 0;
    }
    server.dirty += (long long)n;
    if (async || n > 10000) {
        return db_clear_lazy(d);
    }
    db_clear(d);
    return 0;
}

/* ASYNC replies at once; a synchronous flush replies once the memory is
 * freed (free_wait), without stalling other clients. */
static void flush_reply(client *c, int async, uint64_t ticket)
{
    if (async || ticket == 0) {
        reply_ok(R(c));
    } else {
        free_wait_reply_ok(c, ticket);
    }
}

void cmd_flushdb(client *c)
{
    int async = flush_mode(c);
    if (async < 0) {
        return;
    }
    module_event_flush(1, c->db->id, !async);
    uint64_t ticket = empty_db(c, c->db, async);
    propagate_also(c, c->argv, c->argc); /* even when nothing was there, as Redis */
    module_event_flush(0, c->db->id, !async);
    flush_reply(c, async, ticket);
}

uint64_t keyspace_flush_all(client *by, int async)
{
    uint64_t last = 0;
    module_event_flush(1, -1, !async);
    persistence_stop_bgsave("FLUSHALL");
    for (int i = 0; i < server.cfg.databases; i++) {
        uint64_t t = empty_db(by, &server.dbs[i], async);
        last = t ? t : last;
    }
    /* Propagated even when nothing was there or the save below reset the
     * change count; the count grows by the keys removed, as in Redis. */
    if (by) {
        propagate_also(by, by->argv, by->argc);
    }
    persistence_save_after_flushall();
    module_event_flush(0, -1, !async);
    return last;
}

void cmd_flushall(client *c)
{
    int async = flush_mode(c);
    if (async < 0) {
        return;
    }
    flush_reply(c, async, keyspace_flush_all(c, async));
}

void cmd_swapdb(client *c)
{
    long long id1, id2;
    if (!arg_int(c, 1, &id1, "ERR invalid first DB index") || !arg_int(c, 2, &id2, "ERR invalid second DB index")) {
        return;
    }
    db *a = db_by_index(id1), *b = db_by_index(id2);
    if (!a || !b) {
        reply_err(c, "ERR DB index is out of range");
        return;
    }
    if (a != b) {
        /* Clients see other contents under the same db numbers: tracked
         * keys changed (hence a signal before and after), WATCHed ones as
         * watch_db_replaced says, and keys blocked clients wait for may
         * have appeared. */
        server_key_written(a, (sv){NULL, 0}, c);
        server_key_written(b, (sv){NULL, 0}, c);
        watch_db_replaced(a, b);
        watch_db_replaced(b, a);
        db_swap(a, b);
        server_key_written(a, (sv){NULL, 0}, c);
        server_key_written(b, (sv){NULL, 0}, c);
    }
    module_event_swapdb((int)id1, (int)id2);
    server.dirty++;
    reply_ok(R(c));
}

/* ---- MOVE, COPY, RENAME ---- */

void cmd_move(client *c)
{
    long long id;
    if (!arg_int(c, 2, &id, NULL)) {
        return;
    }
    db *dst = db_by_index(id);
    if (!dst) {
        reply_err(c, "ERR DB index is out of range");
        return;
    }
    if (dst == c->db) {
        reply_err(c, "ERR source and destination objects are the same");
        return;
    }
    sv key = c->argv[1];
    if (!lookup_write(c, key) || db_lookup(dst, key, LOOKUP_NOTOUCH)) {
        reply_int(R(c), 0);
        return;
    }
    /* The entry holds its key and TTL, so it moves as it is. */
    kobj *o = db_unlink(c->db, key);
    uint32_t lru = o->lru;
    db_add(dst, o);
    o->lru = lru;
    signal_write(c, NOTIFY_GENERIC, "move_from", key);
    server_key_written(dst, key, c);
    notify_event(NOTIFY_GENERIC, "move_to", key, dst->id);
    reply_int(R(c), 1);
}

void cmd_copy(client *c)
{
    db *dst = c->db;
    int replace = 0;
    for (int i = 3; i < c->argc; i++) {
        if (arg_is(c, i, "REPLACE")) {
            replace = 1;
        } else if (arg_is(c, i, "DB") && i + 1 < c->argc) {
            long long id;
            if (!arg_int(c, i + 1, &id, NULL)) {
                return;
            }
            dst = db_by_index(id);
            if (!dst) {
                reply_err(c, "ERR DB index is out of range");
                return;
            }
            i++;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    sv key = c->argv[1], newkey = c->argv[2];
    if (dst == c->db && sv_eq(key, newkey)) {
        reply_err(c, "ERR source and destination objects are the same");
        return;
    }
    kobj *o = lookup_counted(c, c->db, key, 0, 1);
    if (!o) {
        reply_int(R(c), 0);
        return;
    }
    kobj *old = db_lookup(dst, newkey, LOOKUP_NOTOUCH);
    if (old && !replace) {
        reply_int(R(c), 0);
        return;
    }
    kobj *n;
    if (o->type == OBJ_MODULE) {
        void *v;
        int rc = module_value_copy(o, c->db->id, newkey, dst->id, &v);
        if (rc < 0) {
            reply_err(c, rc == -1 ? "ERR not supported for this module key" : "ERR module key failed to copy");
            return;
        }
        n = kobj_new_ptr(newkey, OBJ_MODULE, v, kobj_expire(o));
    } else {
        n = kobj_dup_as(o, newkey, kobj_expire(o));
    }
    db_set_new(dst, n); /* frees any old value, lazily when big */
    if (old) {
        db_restore_access(n, -1, -1); /* a copy is a new key, not an access */
    }
    signal_write_db(c, dst, "copy_to", newkey);
    reply_int(R(c), 1);
}

static void rename_generic(client *c, int nx)
{
    sv from = c->argv[1], to = c->argv[2];
    kobj *o = lookup_write(c, from);
    if (!o) {
        reply_err(c, "ERR no such key");
        return;
    }
    if (sv_eq(from, to)) {
        if (nx) {
            reply_int(R(c), 0);
        } else {
            reply_ok(R(c));
        }
        return;
    }
    kobj *target = lookup_write(c, to);
    if (target && nx) {
        reply_int(R(c), 0);
        return;
    }
    /* A value at the target goes first (freed lazily when big), then the
     * source: the order in which Redis 7.0 tells module types of them. */
    if (target) {
        db_delete(c->db, to);
    }
    int64_t expire = kobj_expire(o);
    uint32_t lru = o->lru;
    o = db_unlink(c->db, from);
    /* The value moves to an entry with the new key. */
    kobj *n = kobj_rekey(o, to, expire);
    db_set_new(c->db, n);
    n->lru = lru;
    signal_write(c, NOTIFY_GENERIC, "rename_from", from);
    signal_write(c, NOTIFY_GENERIC, "rename_to", to);
    if (nx) {
        reply_int(R(c), 1);
    } else {
        reply_ok(R(c));
    }
}

void cmd_rename(client *c)
{
    rename_generic(c, 0);
}

void cmd_renamenx(client *c)
{
    rename_generic(c, 1);
}

/* ---- KEYS, RANDOMKEY, TOUCH ---- */

void cmd_keys(client *c)
{
    sv pat = c->argv[1];
    int all = pat.len == 1 && pat.ptr[0] == '*';
    size_t h = reply_defer(R(c));
    long long n = 0;
    ktable_iter it;
    ktable_iter_init(&it, &c->db->keys);
    kobj *o;
    while ((o = ktable_iter_next(&it))) {
        sv k = kobj_key(o);
        if ((all || util_glob_match(pat.ptr, pat.len, k.ptr, k.len, 0)) && !db_is_expired(o)) {
            reply_bulk(R(c), k.ptr, k.len);
            n++;
        }
    }
    ktable_iter_done(&it);
    reply_defer_array(R(c), h, n);
}

void cmd_randomkey(client *c)
{
    int was = propagate_removals_alone(1);
    kobj *o = db_random_key(c->db);
    propagate_removals_alone(was);
    if (!o) {
        reply_null(R(c));
        return;
    }
    sv k = kobj_key(o);
    reply_bulk(R(c), k.ptr, k.len);
}

void cmd_touch(client *c)
{
    long long n = 0;
    for (int i = 1; i < c->argc; i++) {
        if (lookup_counted(c, c->db, c->argv[i], 0, 1)) {
            n++;
        }
    }
    reply_int(R(c), n);
}

/* ---- SCAN ---- */

/* Nodes one SCAN call visited, before filtering. */
typedef struct scan_batch {
    kobj **items;
    size_t len, cap;
} scan_batch;

static void scan_collect(void *n, void *ctx)
{
    scan_batch *b = ctx;
    if (b->len == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        b->items = alloc_resize(b->items, b->cap * sizeof(*b->items));
    }
    b->items[b->len++] = (kobj *)n;
}

void cmd_scan(client *c)
{
    unsigned long cursor;
    if (!arg_scan_cursor(c, 1, &cursor)) {
        return;
    }
    long long count = 10;
    sv pat = {NULL, 0};
    sv type = {NULL, 0};
    for (int i = 2; i < c->argc; i += 2) {
        int has_val = i + 1 < c->argc;
        if (arg_is(c, i, "COUNT") && has_val) {
            if (!arg_ll(c, i + 1, &count)) {
                return;
            }
            if (count < 1) {
                reply_syntax_error(c);
                return;
            }
        } else if (arg_is(c, i, "MATCH") && has_val) {
            pat = c->argv[i + 1];
            if (pat.len == 1 && pat.ptr[0] == '*') {
                pat.ptr = NULL; /* matches everything */
            }
        } else if (arg_is(c, i, "TYPE") && has_val) {
            type = c->argv[i + 1];
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    /* Visit buckets until COUNT entries were seen; the iteration cap bounds
     * the work on a sparse table (mostly empty buckets). */
    scan_batch b = {NULL, 0, 0};
    long long iterations = scan_budget(count);
    do {
        cursor = ktable_scan(&c->db->keys, cursor, scan_collect, &b);
    } while (cursor && iterations-- && b.len < (unsigned long long)count);

    /* Filter after the walk: expired entries are deleted here (never while
     * ktable_scan runs, which allows only the visited node to go). */
    size_t kept = 0;
    for (size_t i = 0; i < b.len; i++) {
        kobj *o = b.items[i];
        if (db_is_expired(o)) {
            int was = propagate_removals_alone(1);
            db_expire_if_needed(c->db, o);
            propagate_removals_alone(was);
            continue;
        }
        sv k = kobj_key(o);
        if (pat.ptr && !util_glob_match(pat.ptr, pat.len, k.ptr, k.len, 0)) {
            continue;
        }
        if (type.ptr && !sv_eq_ci(type, kobj_type_name(o))) {
            continue;
        }
        b.items[kept++] = o;
    }
    char cbuf[32];
    int clen = snprintf(cbuf, sizeof(cbuf), "%lu", cursor);
    reply_array(R(c), 2);
    reply_bulk(R(c), cbuf, (size_t)clen);
    reply_array(R(c), (long long)kept);
    for (size_t i = 0; i < kept; i++) {
        sv k = kobj_key(b.items[i]);
        reply_bulk(R(c), k.ptr, k.len);
    }
    alloc_free(b.items);
}

/* ---- OBJECT ---- */

static const char *const object_help[] = {
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    How the value is stored in memory (listpack, hashtable, int, ...).",
    "FREQ <key>",
    "    The key's logarithmic access counter (with an LFU maxmemory-policy).",
    "IDLETIME <key>",
    "    Seconds since the key was last read or written (not with an LFU policy).",
    "REFCOUNT <key>",
    "    How many references the value has (always 1 here: values are not shared).",
    "HELP",
    "    Prints this help.",
    NULL,
};

#define POLICY_NOTE                                                                                                    \
    "Please note that when switching between policies at runtime LRU and LFU data will take some "                     \
    "time to adjust."

void cmd_object(client *c)
{
    static const char *const subs[] = {"encoding", "refcount", "idletime", "freq"};
    int sub = subcommand_pick(c, subs, 4, object_help);
    if (sub < 0) {
        return;
    }
    kobj *o = lookup_counted(c, c->db, c->argv[2], 1, 0);
    if (!o) {
        reply_null(R(c));
        return;
    }
    switch (sub) {
    case 0: reply_bulk_cstr(R(c), kobj_encoding(o)); break;
    case 1: reply_int(R(c), 1); break;
    case 2:
        if (db_lfu_enabled()) {
            reply_err(c, "ERR An LFU maxmemory policy is selected, idle time not tracked. " POLICY_NOTE);
            return;
        }
        reply_int(R(c), db_idle_seconds(o));
        break;
    default:
        if (!db_lfu_enabled()) {
            reply_err(c, "ERR An LFU maxmemory policy is not selected, access frequency not tracked. " POLICY_NOTE);
            return;
        }
        reply_int(R(c), db_lfu_counter(o));
        break;
    }
}
