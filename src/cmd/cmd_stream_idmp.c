/* Idempotent production's own commands (Redis 8.6): XCFGSET, a stream's
 * IDMP settings, and XIDMPRECORD, which rebuilds a remembered iid (the AOF
 * rewrite writes it). XADD IDMP / IDMPAUTO live with XADD (cmd_stream.c). */
#include "cmd/cmd_stream.h"
#include "types/stream_idmp.h"

/* XCFGSET key [IDMP-DURATION seconds] [IDMP-MAXSIZE n] */
void cmd_xcfgset(client *c)
{
    long long duration = -1, maxsize = -1;
    if (c->argc == 2) {
        reply_err(c, "ERR At least one parameter must be specified");
        return;
    }
    for (int i = 2; i < c->argc; i += 2) {
        int is_duration = arg_is(c, i, "IDMP-DURATION");
        if ((!is_duration && !arg_is(c, i, "IDMP-MAXSIZE")) || i + 1 >= c->argc) {
            reply_syntax_error(c);
            return;
        }
        long long v;
        if (!arg_ll(c, i + 1, &v)) {
            return;
        }
        long long max = is_duration ? IDMP_DURATION_MAX : IDMP_MAXSIZE_MAX;
        if (v < 1 || v > max) {
            reply_errf(c, "ERR %s must be between 1 and %lld", is_duration ? "IDMP-DURATION" : "IDMP-MAXSIZE", max);
            return;
        }
        *(is_duration ? &duration : &maxsize) = v;
    }
    stream *s = xlookup_existing(c, c->argv[1]);
    if (!s) {
        return;
    }
    /* New values start a new history; the same values keep it. */
    if ((duration > 0 && (uint32_t)duration != s->idmp_duration) ||
        (maxsize > 0 && (uint32_t)maxsize != s->idmp_maxsize)) {
        stream_idmp_clear(s);
    }
    if (duration > 0) {
        s->idmp_duration = (uint32_t)duration;
    }
    if (maxsize > 0) {
        s->idmp_maxsize = (uint32_t)maxsize;
    }
    reply_ok(R(c));
    signal_write(c, NOTIFY_STREAM, "xcfgset", c->argv[1]);
}

/* XIDMPRECORD key pid iid id: producer pid's iid names entry id, as if an
 * XADD IDMP had added it. The ID must not be past the stream's last. */
void cmd_xidmprecord(client *c)
{
    stream_id id;
    if (!xarg_id(c, 4, &id, 0, NULL)) {
        return;
    }
    sv pid = c->argv[2], iid = c->argv[3];
    if (pid.len == 0 || iid.len == 0) {
        reply_err(c, "ERR XIDMPRECORD requires a non-empty producer ID and idempotent ID");
        return;
    }
    stream *s = xlookup_existing(c, c->argv[1]);
    if (!s) {
        return;
    }
    if (stream_id_cmp(&id, &s->last_id) > 0) {
        reply_err(c, "ERR The ID specified in XIDMPRECORD is greater than the stream's last ID");
        return;
    }
    stream_idmp_record(s, pid, iid, &id, server.now_ms);
    reply_ok(R(c));
    signal_write(c, NOTIFY_STREAM, "xidmprecord", c->argv[1]);
}
