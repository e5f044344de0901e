/* CL.THROTTLE key max_burst count_per_period period [quantity]: a rate
 * limiter in one O(1) command, replying as redis-cell does:
 *
 *   [limited 0|1, limit (max_burst + 1), remaining, retry_after s (-1 when
 *    allowed), reset_after s]
 *
 * The state is one string key per subject holding its theoretical arrival
 * time (integer ns since the epoch, as redis-cell keeps it) with an expiry at
 * that time, so an idle subject's key vanishes by itself: after its TAT the
 * key means the same as no key. The arithmetic is in types/gcra.c.
 *
 * Replay must not depend on when it happens (an AOF loaded tomorrow, a
 * replica that is behind), so the command never propagates as itself: an
 * allowed request propagates the state it produced, SET key <tat> PXAT <ms>,
 * and a denied one (or a quantity 0 peek) changes nothing and propagates
 * nothing. */
#include "base/util.h"
#include "server/server.h"
#include "types/gcra.h"

#define NS_PER_MS 1000000LL

/* The TAT in the key: an integer. Anything else (a string the user SET by
 * mistake) is refused rather than guessed at. Returns 1 with *tat set. */
static int stored_tat(kobj *o, int64_t *tat)
{
    long long v;
    if (!kobj_get_int(o, &v)) {
        char buf[32];
        sv s = kobj_str(o, buf);
        if (!util_parse_ll(s.ptr, s.len, &v)) {
            return 0;
        }
    }
    *tat = v;
    return 1;
}

/* Stores tat with an expiry at tat rounded up to the millisecond (the
 * first moment the key is worthless), reusing the entry when it is already
 * an integer with a TTL: the common case of a busy subject allocates
 * nothing. */
static void store_tat(client *c, sv key, kobj *o, int64_t tat)
{
    int64_t at = tat / NS_PER_MS + (tat % NS_PER_MS > 0);
    if (o && o->enc == ENC_INT && o->has_expire) {
        kobj_set_int(o, tat);
        db_set_expire(c->db, o, at);
    } else {
        db_set(c->db, kobj_new_int(key, tat, at));
    }
    signal_write(c, NOTIFY_STRING, "set", key);
    notify_event(NOTIFY_GENERIC, "expire", key, c->db->id);
    char vbuf[32], tbuf[32];
    sv argv[5] = {
        SV("SET"), key, {vbuf, (size_t)util_ll2str(vbuf, tat)}, SV("PXAT"), {tbuf, (size_t)util_ll2str(tbuf, at)}};
    propagate_also(c, argv, 5);
}

void cmd_cl_throttle(client *c)
{
    if (c->argc > 6) {
        reply_syntax_error(c);
        return;
    }
    long long burst, count, period, quantity = 1;
    if (!arg_ll(c, 2, &burst) || !arg_ll(c, 3, &count) || !arg_ll(c, 4, &period) ||
        (c->argc == 6 && !arg_ll(c, 5, &quantity))) {
        return;
    }
    gcra_limit lim;
    int rc = gcra_limit_init(&lim, burst, count, period, quantity);
    if (rc != GCRA_OK) {
        reply_err(c, gcra_strerror(rc));
        return;
    }
    sv key = c->argv[1];
    int bad;
    kobj *o = lookup_typed(c, key, OBJ_STRING, 1, &bad);
    if (bad) {
        return;
    }
    int64_t tat = 0;
    if (o && !stored_tat(o, &tat)) {
        reply_err(c, "ERR value is not an integer or out of range");
        return;
    }
    /* The command's clock (one per command, transaction or script), so a
     * MULTI of many requests sees one instant. */
    int64_t now;
    gcra_result res;
    if (__builtin_mul_overflow(db_time(), NS_PER_MS, &now) || gcra_step(&lim, o != NULL, tat, now, &res) != GCRA_OK) {
        reply_err(c, gcra_strerror(GCRA_ERR_RANGE));
        return;
    }
    if (res.changed) {
        store_tat(c, key, o, res.tat);
    }
    reply_array(R(c), 5);
    reply_int(R(c), res.limited);
    reply_int(R(c), res.limit);
    reply_int(R(c), res.remaining);
    reply_int(R(c), gcra_seconds(res.retry_after));
    reply_int(R(c), gcra_seconds(res.reset_after));
}
