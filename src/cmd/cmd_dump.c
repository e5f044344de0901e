/* DUMP and RESTORE: a key's value as Redis's DUMP payload (the RDB form of
 * the value, the RDB version and a CRC64), so values move between Keel and
 * Redis with the tools people use for migrations. The format is
 * persist/rdb's; RESTORE checks the payload and every encoding in it before
 * the keyspace changes. */
#include <limits.h>

#include "base/alloc.h"
#include "base/util.h"
#include "persist/rdb.h"
#include "server/server.h"

void cmd_dump(client *c)
{
    kobj *o = lookup_read(c, c->argv[1]);
    if (!o) {
        reply_null(R(c));
        return;
    }
    str payload = rdb_dump_value(o, c->db->id);
    reply_bulk(R(c), payload, str_len(payload));
    str_free(payload);
}

/* RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f] */
void cmd_restore(client *c)
{
    int replace = 0, absttl = 0;
    long long idle = -1, freq = -1;
    for (int i = 4; i < c->argc; i++) {
        int more = i + 1 < c->argc;
        if (arg_is(c, i, "REPLACE")) {
            replace = 1;
        } else if (arg_is(c, i, "ABSTTL")) {
            absttl = 1;
        } else if (arg_is(c, i, "IDLETIME") && more && freq < 0) {
            if (!arg_ll(c, ++i, &idle)) {
                return;
            }
            if (idle < 0) {
                reply_err(c, "ERR Invalid IDLETIME value, must be >= 0");
                return;
            }
        } else if (arg_is(c, i, "FREQ") && more && idle < 0) {
            if (!arg_ll(c, ++i, &freq)) {
                return;
            }
            if (freq < 0 || freq > 255) {
                reply_err(c, "ERR Invalid FREQ value, must be >= 0 and <= 255");
                return;
            }
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    sv key = c->argv[1];
    kobj *old = lookup_write(c, key);
    if (old && !replace) {
        reply_err(c, "BUSYKEY Target key name already exists.");
        return;
    }
    long long ttl;
    if (!arg_ll(c, 2, &ttl)) {
        return;
    }
    if (ttl < 0) {
        reply_err(c, "ERR Invalid TTL value, must be >= 0");
        return;
    }
    int64_t expire = -1;
    if (ttl > 0) {
        /* A relative TTL past the clock's range wraps to the past in
         * Redis: the key is restored as already expired. */
        expire = absttl ? ttl : ttl > LLONG_MAX - server.now_ms ? 0 : server.now_ms + ttl;
    }
    char err[128];
    kobj *o = rdb_restore_value(c->argv[3].ptr, c->argv[3].len, key, c->db->id, expire, err, sizeof(err));
    if (!o) {
        reply_err(c, err);
        return;
    }
    if (expire >= 0 && expire <= server.now_ms) {
        /* Already expired: the key ends up deleted, not restored. */
        kobj_free(o);
        if (old) {
            cmd_delete_key(c, key);
        }
        reply_ok(R(c));
        return;
    }
    db_set_new(c->db, o);
    /* A restored key is a new key (the old one's LFU counter does not
     * carry over); IDLETIME applies under LRU, FREQ under LFU. */
    db_restore_access(o, idle, freq);
    signal_write(c, NOTIFY_GENERIC, "restore", key);
    if (ttl > 0 && !absttl) {
        /* Replicas and the log get the absolute time. */
        char buf[32];
        client_rewrite_arg(c, 2, (sv){buf, (size_t)util_ll2str(buf, expire)});
        sv *argv = alloc_mem(sizeof(sv) * (size_t)(c->argc + 1));
        for (int i = 0; i < c->argc; i++) {
            argv[i] = c->argv[i];
        }
        argv[c->argc] = SV("ABSTTL");
        client_rewrite_argv(c, argv, c->argc + 1);
        alloc_free(argv);
    }
    reply_ok(R(c));
}
