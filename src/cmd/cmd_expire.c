/* Expiry commands: EXPIRE family with NX/XX/GT/LT, TTL family, PERSIST.
 * Relative times are propagated as absolute PEXPIREAT so replay is exact. */
#include <limits.h>

#include "base/util.h"
#include "server/server.h"

/* unit_ms: the argument is in ms; absolute: it is a Unix time. */
static void expire_generic(client *c, int unit_ms, int absolute)
{
    /* Options are checked before the time, as Redis does. */
    int nx = 0, xx = 0, gt = 0, lt = 0;
    for (int i = 3; i < c->argc; i++) {
        if (arg_is(c, i, "NX")) {
            nx = 1;
        } else if (arg_is(c, i, "XX")) {
            xx = 1;
        } else if (arg_is(c, i, "GT")) {
            gt = 1;
        } else if (arg_is(c, i, "LT")) {
            lt = 1;
        } else {
            reply_errf(c, "ERR Unsupported option %.*s", (int)c->argv[i].len, c->argv[i].ptr);
            return;
        }
    }
    if (nx && (xx || gt || lt)) {
        reply_err(c, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return;
    }
    if (gt && lt) {
        reply_err(c, "ERR GT and LT options at the same time are not compatible");
        return;
    }
    long long v;
    if (!arg_ll(c, 2, &v)) {
        return;
    }
    const char *name = c->cmd->name;
    if (!unit_ms) {
        if (v > LLONG_MAX / 1000 || v < LLONG_MIN / 1000) {
            reply_errf(c, "ERR invalid expire time in '%s' command", name);
            return;
        }
        v *= 1000;
    }
    if (!absolute) {
        /* The clock is positive, so only a large positive time overflows. */
        if (v > LLONG_MAX - db_time()) {
            reply_errf(c, "ERR invalid expire time in '%s' command", name);
            return;
        }
        v += db_time();
    }
    kobj *o = lookup_write(c, c->argv[1]);
    if (!o) {
        reply_int(R(c), 0);
        return;
    }
    int64_t cur = kobj_expire(o); /* -1: persistent, i.e. infinite TTL */
    if ((nx && cur >= 0) || (xx && cur < 0) || (gt && (cur < 0 || v <= cur)) || (lt && cur >= 0 && v >= cur)) {
        reply_int(R(c), 0);
        return;
    }
    cmd_expire_key(c, o, c->argv[1], v);
    reply_int(R(c), 1);
}

void cmd_expire(client *c)
{
    expire_generic(c, 0, 0);
}

void cmd_pexpire(client *c)
{
    expire_generic(c, 1, 0);
}

void cmd_expireat(client *c)
{
    expire_generic(c, 0, 1);
}

void cmd_pexpireat(client *c)
{
    expire_generic(c, 1, 1);
}

/* ms: reply in ms; absolute: reply the Unix time instead of the TTL. */
static void ttl_generic(client *c, int ms, int absolute)
{
    kobj *o = db_lookup(c->db, c->argv[1], LOOKUP_NOTOUCH);
    /* A read lookup: counted in keyspace hits/misses like Redis's. */
    if (!o) {
        server.stats.keyspace_misses++;
        notify_event(NOTIFY_KEY_MISS, "keymiss", c->argv[1], c->db->id);
        reply_int(R(c), -2);
        return;
    }
    server.stats.keyspace_hits++;
    int64_t when = kobj_expire(o);
    if (when < 0) {
        reply_int(R(c), -1);
        return;
    }
    long long v = absolute ? when : when - db_time();
    if (v < 0) {
        v = 0;
    }
    /* Seconds are rounded to nearest, for EXPIRETIME too. */
    reply_int(R(c), ms ? v : v / 1000 + (v % 1000 >= 500)); /* (v+500)/1000 without overflow */
}

void cmd_ttl(client *c)
{
    ttl_generic(c, 0, 0);
}

void cmd_pttl(client *c)
{
    ttl_generic(c, 1, 0);
}

void cmd_expiretime(client *c)
{
    ttl_generic(c, 0, 1);
}

void cmd_pexpiretime(client *c)
{
    ttl_generic(c, 1, 1);
}

void cmd_persist(client *c)
{
    kobj *o = lookup_write(c, c->argv[1]);
    if (!o || !o->has_expire) {
        reply_int(R(c), 0);
        return;
    }
    db_set_expire(c->db, o, -1);
    signal_write(c, NOTIFY_GENERIC, "persist", c->argv[1]);
    reply_int(R(c), 1);
}
