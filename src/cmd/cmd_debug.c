/* DEBUG: a subset for tests and operators. Allowed per enable-debug-command
 * (checked in dispatch through the command's protected flag). */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/digest.h"
#include "base/log.h"
#include "base/sha1.h"
#include "base/util.h"
#include "ds/listpack.h"
#include "persist/aof.h"
#include "server/defrag.h"
#include "server/persistence.h"
#include "server/server.h"

/* A value's digest as Redis's DEBUG DIGEST-VALUE computes it: its type,
 * its content, and a mark when it has a TTL (only the fact, not the time). */
static void value_digest(kobj *o, int dbid, uint8_t d[20])
{
    uint32_t type = htonl((uint32_t)o->type);
    digest_mix(d, &type, sizeof(type));
    if (o->type == OBJ_STRING) {
        char buf[32];
        sv v = kobj_str(o, buf);
        digest_mix(d, v.ptr, v.len);
    } else {
        const type_ops *ops = obj_type_ops(o->type);
        if (ops && ops->digest) {
            ops->digest(kobj_ptr(o), kobj_key(o), dbid, d);
        }
    }
    if (o->has_expire) {
        digest_xor(d, "!!expire!!", 10);
    }
}

/* DEBUG DIGEST: each db that has keys mixes in its number, then XORs in
 * the digest of each key (its name mixed in before its value's). All zero
 * when empty. Keys past their TTL but not yet removed count, as in Redis. */
static void dataset_digest(uint8_t out[20])
{
    memset(out, 0, 20);
    for (int i = 0; i < server.cfg.databases; i++) {
        db *d = &server.dbs[i];
        if (db_size(d) == 0) {
            continue;
        }
        uint32_t id = htonl((uint32_t)i);
        digest_mix(out, &id, sizeof(id));
        ktable_iter it;
        ktable_iter_init(&it, &d->keys);
        void *n;
        while ((n = ktable_iter_next(&it))) {
            kobj *o = (kobj *)n;
            uint8_t kd[20] = {0};
            sv k = kobj_key(o);
            digest_mix(kd, k.ptr, k.len);
            value_digest(o, i, kd);
            digest_xor(out, kd, 20);
        }
        ktable_iter_done(&it);
    }
}

static void debug_object(client *c)
{
    /* The stored key, expired or not (a replica keeps expired keys for
     * the primary's DEL), as Redis finds it. */
    kobj *o = db_find_raw(c->db, c->argv[2]);
    if (!o) {
        reply_err(c, "ERR no such key");
        return;
    }
    char buf[512];
    int n = snprintf(buf, sizeof(buf),
                     "Value at:%p refcount:1 encoding:%s serializedlength:%zu lru:%u lru_seconds_idle:%lld", (void *)o,
                     kobj_encoding(o), kobj_mem(o, c->db->id), (unsigned)o->lru, db_idle_seconds(o));
    if (o->type == OBJ_LIST && strcmp(kobj_encoding(o), "quicklist") == 0) {
        /* Redis's quicklist fields; ql_compressed says whether inner
         * nodes are compressed (1 for any depth), as Redis 7.0 prints it. */
        list *l = kobj_ptr(o);
        size_t plain = 0;
        for (list_node *nd = l->head; nd; nd = nd->next) {
            plain += list_node_bytes(nd);
        }
        snprintf(buf + n, sizeof(buf) - (size_t)n,
                 " ql_nodes:%zu ql_avg_node:%.2f ql_listpack_max:%lld ql_compressed:%d ql_uncompressed_size:%zu",
                 l->nodes, l->nodes ? (double)l->len / (double)l->nodes : 0.0, server.cfg.list_max_listpack_size,
                 l->depth != 0, plain);
    }
    reply_status(R(c), buf);
}

/* DEBUG QUICKLIST-PACKED-THRESHOLD <size>: list elements of at least
 * this many bytes get a plain node of their own. As Redis: a memory value
 * ("100", "1k", "1mb"), 0 (or "") restores the 1 GB default, and it must stay
 * below 4 GB less 1 MB (Redis's bound: its plain node has 32-bit lengths in places). */
/* A size argument under 4 GB ("" and "0" are 0); -1 when not one. */
static long long size_under_4gb(sv a)
{
    char buf[64];
    long long v;
    if (a.len == 0) {
        return 0;
    }
    if (a.len >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, a.ptr, a.len);
    buf[a.len] = '\0';
    if (!util_parse_memory(buf, &v) || v < 0 || v > (1LL << 32) - (1LL << 20)) {
        return -1;
    }
    return v;
}

static void debug_packed_threshold(client *c)
{
    long long v = size_under_4gb(c->argv[2]);
    if (v < 0) {
        reply_err(c, "ERR argument must be a memory value bigger than 1 and smaller than 4gb");
        return;
    }
    server.cfg.list_plain_min = v == 0 ? LIST_PLAIN_MIN_DEFAULT : (size_t)v;
    reply_ok(R(c));
}

/* DEBUG LISTPACK-SAFE-LIMIT <size>: the size past which a hash, set or
 * sorted set leaves its listpack (1 GB, as Redis); lowered by tests. */
static void debug_listpack_safe_limit(client *c)
{
    long long v = size_under_4gb(c->argv[2]);
    if (v < 0) {
        reply_err(c, "ERR argument must be a memory value bigger than 1 and smaller than 4gb");
        return;
    }
    lp_set_safe_limit((size_t)v);
    reply_ok(R(c));
}

static void debug_populate(client *c)
{
    long long count, size = 0;
    if (!arg_ll(c, 2, &count)) {
        return;
    }
    if (count < 0) {
        reply_err(c, "ERR count must be non-negative");
        return;
    }
    sv prefix = c->argc >= 4 ? c->argv[3] : SV("key");
    if (c->argc >= 5 && !arg_ll(c, 4, &size)) {
        return;
    }
    str key = str_empty(prefix.len + 24), val = str_empty(64);
    for (long long i = 0; i < count; i++) {
        str_clear(key);
        key = str_append(key, prefix.ptr, prefix.len);
        key = str_printf(key, ":%lld", i);
        if (db_find_raw(c->db, (sv){key, str_len(key)})) {
            continue;
        }
        str_clear(val);
        val = str_printf(val, "value:%lld", i);
        if (size > 0) {
            val = str_grow_zero(val, (size_t)size);
            str_set_len(val, (size_t)size);
        }
        db_add(c->db, kobj_new_string((sv){key, str_len(key)}, (sv){val, str_len(val)}, -1));
        server.dirty++;
    }
    str_free(key);
    str_free(val);
    reply_ok(R(c));
}

/* DEBUG PROTOCOL <type>: one reply of each RESP type, so clients and
 * tests can check how every shape is encoded under RESP2 and RESP3. */
static void debug_protocol(client *c)
{
    sv t = c->argv[2];
    if (sv_eq_ci(t, "string")) {
        reply_bulk_cstr(R(c), "Hello World");
    } else if (sv_eq_ci(t, "integer")) {
        reply_int(R(c), 12345);
    } else if (sv_eq_ci(t, "double")) {
        reply_double(R(c), 3.141);
    } else if (sv_eq_ci(t, "bignum")) {
        static const char big[] = "1234567999999999999999999999999999999";
        if (c->resp == 3) {
            reply_raw(R(c), "(", 1);
            reply_raw(R(c), big, sizeof(big) - 1);
            reply_raw(R(c), "\r\n", 2);
        } else {
            reply_bulk(R(c), big, sizeof(big) - 1);
        }
    } else if (sv_eq_ci(t, "null")) {
        reply_null(R(c));
    } else if (sv_eq_ci(t, "array") || sv_eq_ci(t, "set")) {
        if (sv_eq_ci(t, "array")) {
            reply_array(R(c), 3);
        } else {
            reply_set(R(c), 3);
        }
        for (int i = 0; i < 3; i++) {
            reply_int(R(c), i);
        }
    } else if (sv_eq_ci(t, "map")) {
        reply_map(R(c), 3);
        for (int i = 0; i < 3; i++) {
            reply_int(R(c), i);
            reply_bool(R(c), i == 1);
        }
    } else if (sv_eq_ci(t, "push")) {
        if (c->resp < 3) {
            reply_err(c, "ERR RESP2 is not supported by this command");
            return;
        }
        reply_push(R(c), 2);
        reply_bulk_cstr(R(c), "server-cpu-usage");
        reply_int(R(c), 42);
        /* A push is out of band: the command itself still answers. */
        reply_bulk_cstr(R(c), "Some real reply following the push reply");
    } else if (sv_eq_ci(t, "attrib")) {
        /* An attribute (RESP3 only; RESP2 gets the reply alone). */
        if (c->resp == 3) {
            reply_raw(R(c), "|1\r\n", 4);
            reply_bulk_cstr(R(c), "key-popularity");
            reply_array(R(c), 2);
            reply_bulk_cstr(R(c), "key:123");
            reply_int(R(c), 90);
        }
        reply_bulk_cstr(R(c), "Some real reply following the attribute");
    } else if (sv_eq_ci(t, "verbatim")) {
        static const char txt[] = "This is a verbatim\nstring";
        reply_verbatim(R(c), txt, sizeof(txt) - 1, "txt");
    } else if (sv_eq_ci(t, "true") || sv_eq_ci(t, "false")) {
        reply_bool(R(c), sv_eq_ci(t, "true"));
    } else {
        reply_err(c, "ERR Wrong protocol type name. Please use one of the following: "
                     "string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false");
    }
}

static const char *const debug_help[] = {
    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "AOF-WRITE-ERROR <ON|OFF>",
    "    Make every AOF write fail (ON) or work again (OFF), to test the error paths.",
    "AOF-FLUSH-SLEEP <microsec>",
    "    Sleep before each write of the AOF buffer (0: don't), to test reply ordering.",
    "CONFIG-REWRITE-FORCE-ALL",
    "    Like CONFIG REWRITE but writes every directive, defaults included.",
    "DEFRAG [FORCE] [STEPS <n>]",
    "    Run the active defragmentation pass now: all of it, or <n> steps of it (a few",
    "    keys, or part of a big value) from where the last call stopped. FORCE moves",
    "    every block (to test pointer fix-ups). Replies with the blocks moved.",
    "DIGEST",
    "    Output a hex signature of the whole dataset.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of each key's value.",
    "LOADAOF",
    "    Flush the AOF and load it back into memory.",
    "LOG <message>",
    "    Write a message to the server log.",
    "OBJECT <key>",
    "    Show low level details of the key's value (encoding, quicklist nodes).",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named <prefix>:<num> (default prefix 'key'),",
    "    with values of <size> bytes if given. Existing keys are left alone.",
    "SEGFAULT",
    "    Crash the server with SIGSEGV (the crash report's test).",
    "PANIC",
    "    Crash the server as a failed internal check does (use-exit-on-panic: exit 1).",
    "ASSERT",
    "    Crash the server with a failed assertion.",
    "LISTPACK-SAFE-LIMIT <size>",
    "    Hashes, sets and sorted sets leave their listpack past <size> bytes.",
    "    1GB by default (as Redis), less than 4GB allowed; 0 restores the default.",
    "PAUSE-CRON <0|1>",
    "    Stop (1) or resume (0) the server's periodic work.",
    "PROPAGATION-LOG <ON|OFF|GET>",
    "    Record what commands propagate to the AOF and replicas, and show them.",
    "PROTOCOL <type>",
    "    Reply with a test value of the type: string, integer, double, bignum, null,",
    "    array, set, map, attrib, push, verbatim, true, false.",
    "QUICKLIST-PACKED-THRESHOLD <size>",
    "    List elements of at least <size> bytes get a plain node of their own.",
    "    1GB by default, less than 4GB allowed; 0 restores the default.",
    "RELOAD [NOSAVE|MERGE|NOFLUSH ...]",
    "    Save the RDB (unless NOSAVE) and load it back into memory.",
    "REPLICATE <command> [<arg> ...]",
    "    Send the command to the replicas (not the AOF) without running it here.",
    "MALLCTL <key> [<val>]",
    "    Get or set a jemalloc integer control (jemalloc builds).",
    "MALLCTL-STR <key> [<val>]",
    "    Get or set a jemalloc string control; <val> VOID runs one that takes nothing.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    0 stops expiring keys in the background; 1 starts again.",
    "SET-DISABLE-DENY-SCRIPTS <0|1>",
    "    1 lets scripts call commands flagged noscript (tests only); 0 refuses them again.",
    "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
    "    1 accepts DUMP payloads and RDB files whatever their checksum (tests only).",
    "HTSTATS <dbid> [full]",
    "    The keyspace table's size and element count, and the table it is moving to, if any.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "HELP",
    "    Print this help.",
    NULL};

/* DEBUG HTSTATS <dbid> [full]: the keyspace table's size and count, and
 * those of the table it is moving to, in Redis 7.0's layout (tests wait
 * for "rehashing target" to go). Expiry times live in the entries, so
 * there is no expires table to describe. */
static void debug_htstats(client *c)
{
    long long id;
    if (!arg_ll(c, 2, &id)) {
        return;
    }
    if (id < 0 || id >= server.cfg.databases) {
        reply_err(c, "ERR Out of range database");
        return;
    }
    const ktable *t = &server.dbs[id].keys;
    str out = str_empty(256);
    out = str_append_cstr(out, "[Dictionary HT]\n");
    if (ktable_size(t) == 0) {
        out = str_append_cstr(out, "No stats available for empty dictionaries\n");
    }
    for (int i = 0; i < 2 && ktable_size(t) > 0; i++) {
        if (i == 1 && !ktable_is_rehashing(t)) {
            break;
        }
        out = str_printf(out, "Hash table %d stats (%s):\n table size: %zu\n number of elements: %zu\n", i,
                         i == 0 ? "main hash table" : "rehashing target", t->size[i], t->used[i]);
    }
    out = str_append_cstr(out, "[Expires HT]\nNo stats available for empty dictionaries\n");
    reply_verbatim(R(c), out, str_len(out), "txt");
    str_free(out);
}

/* DEBUG DEFRAG [FORCE] [STEPS <n>] */
static void debug_defrag(client *c)
{
    int force = 0;
    long long steps = 0;
    for (int i = 2; i < c->argc; i++) {
        if (arg_is(c, i, "FORCE")) {
            force = 1;
        } else if (arg_is(c, i, "STEPS") && i + 1 < c->argc) {
            if (!arg_ll(c, ++i, &steps)) {
                return;
            }
            if (steps < 1) {
                reply_err(c, "ERR STEPS must be positive");
                return;
            }
        } else {
            reply_err(c, "ERR syntax error");
            return;
        }
    }
    reply_int(R(c), defrag_pass_now(force, steps));
}

/* DEBUG MALLCTL|MALLCTL-STR <name> [<value>]: reads (and sets) one of
 * jemalloc's controls, as Redis's tests do. */
static void debug_mallctl(client *c, int is_str)
{
    char name[128];
    if (c->argv[2].len >= sizeof(name)) {
        reply_err(c, "ERR control name too long");
        return;
    }
    memcpy(name, c->argv[2].ptr, c->argv[2].len);
    name[c->argv[2].len] = '\0';
    int write_only, rc;
    if (is_str) {
        str val = c->argc == 4 ? str_new(c->argv[3].ptr, c->argv[3].len) : NULL;
        const char *old;
        rc = alloc_ctl_str(name, val, &old, &write_only);
        str_free(val);
        if (rc == 0 && !write_only) {
            reply_bulk_cstr(R(c), old);
            return;
        }
    } else {
        long long v, old;
        if (c->argc == 4 && !arg_ll(c, 3, &v)) {
            return;
        }
        rc = alloc_ctl_int(name, c->argc == 4 ? &v : NULL, &old, &write_only);
        if (rc == 0 && !write_only) {
            reply_int(R(c), old);
            return;
        }
    }
    if (rc == 0) {
        reply_ok(R(c));
    } else {
        reply_errf(c, "ERR %s", strerror(rc));
    }
}

/* The on/off switches DEBUG <name> <0|1> sets (Redis's test hooks). */
static int *debug_toggle(sv name)
{
    static const struct {
        const char *name;
        int *flag;
    } toggles[] = {
        {"PAUSE-CRON", &server.cron_paused},
        {"SET-DISABLE-DENY-SCRIPTS", &server.script_allow_noscript},
        {"SET-ACTIVE-EXPIRE", &server.cfg.active_expire},
        {"SET-SKIP-CHECKSUM-VALIDATION", &server.skip_checksum_validation},
    };
    for (size_t i = 0; i < sizeof(toggles) / sizeof(toggles[0]); i++) {
        if (sv_eq_ci(name, toggles[i].name)) {
            return toggles[i].flag;
        }
    }
    return NULL;
}

void cmd_debug(client *c)
{
    int *toggle;
    if (arg_is(c, 1, "HELP") && c->argc == 2) {
        reply_help(c, debug_help);
    } else if (arg_is(c, 1, "SLEEP") && c->argc == 3) {
        double secs;
        if (!arg_double(c, 2, &secs)) {
            return;
        }
        /* The whole time, through signals (the watchdog's among them). */
        secs = secs < 1e9 ? secs : 1e9;
        struct timespec left = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
        while (secs > 0 && nanosleep(&left, &left) != 0 && errno == EINTR) {
        }
        reply_ok(R(c));
    } else if (arg_is(c, 1, "REPLICATE") && c->argc >= 3) {
        propagate_cmd_to(c->db->id, c->argv + 2, c->argc - 2, PROPAGATE_REPL);
        reply_ok(R(c));
    } else if (arg_is(c, 1, "LOG") && c->argc == 3) {
        log_msg(LOG_WARNING, "DEBUG LOG: %.*s", (int)c->argv[2].len, c->argv[2].ptr);
        reply_ok(R(c));
    } else if (arg_is(c, 1, "AOF-FLUSH-SLEEP") && c->argc == 3) {
        long long us;
        if (!arg_ll(c, 2, &us)) {
            return;
        }
        aof_debug_flush_sleep(us);
        reply_ok(R(c));
    } else if (arg_is(c, 1, "AOF-WRITE-ERROR") && c->argc == 3) {
        aof_debug_fail_writes(arg_is(c, 2, "ON"));
        reply_ok(R(c));
    } else if (arg_is(c, 1, "RELOAD")) {
        persistence_debug_reload(c);
    } else if (arg_is(c, 1, "LOADAOF") && c->argc == 2) {
        persistence_debug_loadaof(c);
    } else if (arg_is(c, 1, "OBJECT") && c->argc == 3) {
        debug_object(c);
    } else if (arg_is(c, 1, "CONFIG-REWRITE-FORCE-ALL") && c->argc == 2) {
        config_rewrite_reply(c, 1);
    } else if (arg_is(c, 1, "SEGFAULT") && c->argc == 2) {
        raise(SIGSEGV); /* the crash report's own test, as Redis's */
    } else if (arg_is(c, 1, "PANIC") && c->argc == 2) {
        PANIC("DEBUG PANIC called at Unix time %lld", (long long)(server_ms() / 1000));
    } else if (arg_is(c, 1, "ASSERT") && c->argc == 2) {
        ASSERT(1 == 2);
    } else if ((arg_is(c, 1, "MALLCTL") || arg_is(c, 1, "MALLCTL-STR")) && (c->argc == 3 || c->argc == 4)) {
        debug_mallctl(c, arg_is(c, 1, "MALLCTL-STR"));
    } else if (c->argc == 3 && (toggle = debug_toggle(c->argv[1])) != NULL) {
        long long v;
        if (!arg_ll(c, 2, &v)) {
            return;
        }
        *toggle = v != 0;
        reply_ok(R(c));
    } else if (arg_is(c, 1, "DIGEST") && c->argc == 2) {
        uint8_t d[20];
        char hex[41];
        dataset_digest(d);
        sha1_hex(d, hex);
        reply_status(R(c), hex);
    } else if (arg_is(c, 1, "DIGEST-VALUE")) {
        reply_array(R(c), c->argc - 2);
        for (int i = 2; i < c->argc; i++) {
            uint8_t d[20] = {0};
            char hex[41];
            kobj *o = db_lookup(c->db, c->argv[i], LOOKUP_NOTOUCH);
            if (o) {
                value_digest(o, c->db->id, d);
            }
            sha1_hex(d, hex);
            reply_status(R(c), hex);
        }
    } else if (arg_is(c, 1, "PROTOCOL") && c->argc == 3) {
        debug_protocol(c);
    } else if (arg_is(c, 1, "PROPAGATION-LOG") && c->argc == 3) {
        propagate_debug_log(c, c->argv[2]);
    } else if (arg_is(c, 1, "QUICKLIST-PACKED-THRESHOLD") && c->argc == 3) {
        debug_packed_threshold(c);
    } else if (arg_is(c, 1, "LISTPACK-SAFE-LIMIT") && c->argc == 3) {
        debug_listpack_safe_limit(c);
    } else if (arg_is(c, 1, "POPULATE") && c->argc >= 3 && c->argc <= 5) {
        debug_populate(c);
    } else if (arg_is(c, 1, "HTSTATS") && (c->argc == 3 || c->argc == 4)) {
        debug_htstats(c);
    } else if (arg_is(c, 1, "DEFRAG")) {
        debug_defrag(c);
    } else {
        reply_subcommand_syntax_error(c);
    }
}
