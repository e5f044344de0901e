/* cmd_api: the helpers command handlers share: standard error replies,
 * argument parsing, and typed key lookup with hit/miss statistics. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "repl/repl.h"
#include "server/block.h"
#include "server/server.h"

/* Error replies counted by their code (the first word: ERR, WRONGTYPE,
 * NOSCRIPT...), for INFO errorstats. Codes are few, so a short array. */
#define MAX_ERROR_CODES 64
static struct {
    char code[32];
    long long count;
} error_codes[MAX_ERROR_CODES];
static int nerror_codes;

static void count_error(const char *msg)
{
    if (msg[0] == '-') {
        msg++;
    }
    size_t n = 0;
    while (msg[n] && msg[n] != ' ' && n < sizeof(error_codes[0].code) - 1) {
        n++;
    }
    for (int i = 0; i < nerror_codes; i++) {
        if (strlen(error_codes[i].code) == n && memcmp(error_codes[i].code, msg, n) == 0) {
            error_codes[i].count++;
            return;
        }
    }
    if (nerror_codes < MAX_ERROR_CODES) {
        memcpy(error_codes[nerror_codes].code, msg, n);
        error_codes[nerror_codes].code[n] = '\0';
        error_codes[nerror_codes].count = 1;
        nerror_codes++;
    }
}

str errorstats_info(str out)
{
    /* In code order, as Redis lists them (from a radix tree). */
    int order[MAX_ERROR_CODES];
    for (int i = 0; i < nerror_codes; i++) {
        int j = i;
        for (; j > 0 && strcmp(error_codes[order[j - 1]].code, error_codes[i].code) > 0; j--) {
            order[j] = order[j - 1];
        }
        order[j] = i;
    }
    out = str_append_cstr(out, "# Errorstats\r\n");
    for (int i = 0; i < nerror_codes; i++) {
        out = str_printf(out, "errorstat_%s:count=%lld\r\n", error_codes[order[i]].code, error_codes[order[i]].count);
    }
    return out;
}

void errorstats_reset(void)
{
    nerror_codes = 0;
}

void errorstats_count(const char *msg)
{
    server.stats.total_error_replies++;
    count_error(msg);
}

void reply_err(client *c, const char *msg)
{
    errorstats_count(msg);
    c->errors_replied++;
    if (c->flags & (CLIENT_MASTER | CLIENT_REPLICA | CLIENT_REPLAY)) {
        /* The stream or the log holds a command this server refuses: the
         * two sides (or the file and this build) disagree. Redis's words,
         * which operators grep for. */
        server.stats.unexpected_error_replies++;
        const char *from = c->flags & CLIENT_MASTER ? "replica" : c->flags & CLIENT_REPLICA ? "master" : "server";
        const char *to = c->flags & CLIENT_MASTER    ? "master"
                         : c->flags & CLIENT_REPLICA ? "replica"
                                                     : "AOF-loading-client";
        /* (the command looked up last: a refused one never became c->cmd) */
        const command *named = c->lastcmd ? c->lastcmd : c->cmd;
        const char *cmd = named ? named->name : "<unknown>";
        /* The generic code is implied, as in Redis's log ("ERR x" as "x"). */
        const char *text = strncmp(msg, "ERR ", 4) == 0 ? msg + 4 : msg;
        log_msg(LOG_WARNING,
                "== CRITICAL == This %s is sending an error to its %s: '%s' after processing the command '%s'", from,
                to, text, cmd);
        /* propagation-error-behavior: panic stops on both, panic-on-replicas
         * on the replication stream only; ignore (the default) goes on. A
         * writable replica diverges by design: it never stops, as in Redis. */
        int mode = server.cfg.propagation_error_behavior;
        if ((c->flags & CLIENT_MASTER && server.cfg.replica_read_only && mode != PROPAGATION_ERR_IGNORE) ||
            (c->flags & CLIENT_REPLAY && mode == PROPAGATION_ERR_PANIC)) {
            PANIC("This %s panicked sending an error to its %s after processing the command '%s'", from, to, cmd);
        }
    }
    reply_error(R(c), msg);
}

void reply_errf(client *c, const char *fmt, ...)
{
    /* Redis quotes an argument in full (an unknown option of 64 KB comes
     * back whole), so a message longer than the stack buffer is formatted
     * again into one of its size. */
    char small[1024], *buf = small;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        n = 0;
        small[0] = '\0';
    } else if ((size_t)n >= sizeof(small)) {
        buf = alloc_mem((size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(buf, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    /* Like Redis, drop line breaks at the end (an argument quoted last)
     * rather than turning them into trailing spaces. */
    size_t len = (size_t)n;
    while (len && (buf[len - 1] == '\r' || buf[len - 1] == '\n')) {
        buf[--len] = '\0';
    }
    reply_err(c, buf);
    if (buf != small) {
        alloc_free(buf);
    }
}

void reply_syntax_error(client *c)
{
    reply_err(c, "ERR syntax error");
}

void reply_wrongtype(client *c)
{
    reply_err(c, "WRONGTYPE Operation against a key holding the wrong kind of value");
}

void reply_not_integer(client *c)
{
    reply_err(c, "ERR value is not an integer or out of range");
}

void reply_not_float(client *c)
{
    reply_err(c, "ERR value is not a valid float");
}

list_limits server_list_limits(void)
{
    return (list_limits){(long)server.cfg.list_max_listpack_size, server.cfg.list_compress_depth,
                         server.cfg.list_plain_min};
}

void reply_sv(client *c, sv v)
{
    reply_bulk(R(c), v.ptr, v.len);
}

void reply_arity_error(client *c)
{
    char name[128];
    size_t n = c->argv[0].len < sizeof(name) - 1 ? c->argv[0].len : sizeof(name) - 1;
    for (size_t i = 0; i < n; i++) {
        char ch = c->argv[0].ptr[i];
        name[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    name[n] = '\0';
    reply_errf(c, "ERR wrong number of arguments for '%s' command", name);
}

int arg_ll(client *c, int i, long long *v)
{
    if (!util_parse_ll(c->argv[i].ptr, c->argv[i].len, v)) {
        reply_not_integer(c);
        return 0;
    }
    return 1;
}

int arg_int(client *c, int i, long long *v, const char *err)
{
    if (!util_parse_ll(c->argv[i].ptr, c->argv[i].len, v)) {
        reply_err(c, err ? err : "ERR value is not an integer or out of range");
        return 0;
    }
    if (*v < INT_MIN || *v > INT_MAX) {
        if (err) {
            reply_err(c, err);
        } else {
            reply_errf(c, "ERR value is out of range, value must between %d and %d", INT_MIN, INT_MAX);
        }
        return 0;
    }
    return 1;
}

int arg_ll_range(client *c, int i, long long min, long long max, long long *v, const char *err)
{
    if (!util_parse_ll(c->argv[i].ptr, c->argv[i].len, v)) {
        reply_err(c, err ? err : "ERR value is not an integer or out of range");
        return 0;
    }
    if (*v < min || *v > max) {
        reply_err(c, err ? err : "ERR value is out of range");
        return 0;
    }
    return 1;
}

int arg_signed_count(client *c, int i, long long *v)
{
    if (!arg_ll(c, i, v)) {
        return 0;
    }
    if (*v == LLONG_MIN) {
        reply_err(c, "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807");
        return 0;
    }
    return 1;
}

int arg_double(client *c, int i, double *v)
{
    if (!util_parse_double(c->argv[i].ptr, c->argv[i].len, v)) {
        reply_not_float(c);
        return 0;
    }
    return 1;
}

int arg_is(client *c, int i, const char *lit)
{
    return i < c->argc && sv_eq_ci(c->argv[i], lit);
}

int arg_scan_cursor(client *c, int i, unsigned long *out)
{
    /* Redis reads the cursor with strtoul: "+5", "-1" (wraps) and ""
     * (zero) are accepted; leading space, trailing bytes and overflow are
     * not. Longer than any number (leading zeros aside): overflow. */
    sv a = c->argv[i];
    char buf[64];
    int ok = a.len < sizeof(buf);
    if (ok) {
        memcpy(buf, a.ptr, a.len);
        buf[a.len] = '\0';
        ok = !(a.len && (buf[0] == ' ' || (buf[0] >= '\t' && buf[0] <= '\r')));
    }
    if (ok) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(buf, &end, 10);
        ok = *end == '\0' && errno != ERANGE && (size_t)(end - buf) == a.len;
        *out = (unsigned long)v;
    }
    if (!ok) {
        reply_err(c, "ERR invalid cursor");
    }
    return ok;
}

int arg_mpop(client *c, int at, const char *end0, const char *end1, int *nkeys, int *end, long long *count)
{
    long long n;
    if (!arg_ll_range(c, at, 1, LONG_MAX, &n, "ERR numkeys should be greater than 0")) {
        return 0;
    }
    if (n > c->argc - at - 2) {
        reply_syntax_error(c);
        return 0;
    }
    int end_at = at + 1 + (int)n;
    if (arg_is(c, end_at, end0)) {
        *end = 0;
    } else if (arg_is(c, end_at, end1)) {
        *end = 1;
    } else {
        reply_syntax_error(c);
        return 0;
    }
    *count = -1;
    for (int i = end_at + 1; i < c->argc; i++) {
        if (*count == -1 && arg_is(c, i, "COUNT") && i + 1 < c->argc) {
            i++;
            if (!arg_ll_range(c, i, 1, LONG_MAX, count, "ERR count should be greater than 0")) {
                return 0;
            }
        } else {
            reply_syntax_error(c);
            return 0;
        }
    }
    if (*count == -1) {
        *count = 1;
    }
    *nkeys = (int)n;
    return 1;
}

int arg_scan_opts(client *c, int first, long long *count, sv *pat, int *novalues)
{
    *count = 10;
    *pat = (sv){0};
    if (novalues) {
        *novalues = 0;
    }
    for (int i = first; i < c->argc; i++) {
        int more = i + 1 < c->argc;
        if (arg_is(c, i, "COUNT") && more) {
            if (!arg_ll(c, i + 1, count)) {
                return 0;
            }
            if (*count < 1) {
                reply_syntax_error(c);
                return 0;
            }
            i++;
        } else if (arg_is(c, i, "MATCH") && more) {
            *pat = c->argv[++i];
        } else if (novalues && arg_is(c, i, "NOVALUES")) {
            *novalues = 1;
        } else {
            reply_syntax_error(c);
            return 0;
        }
    }
    return 1;
}

kobj *lookup_read(client *c, sv key)
{
    kobj *o = db_lookup(c->db, key, LOOKUP_NONE);
    if (o) {
        server.stats.keyspace_hits++;
    } else {
        server.stats.keyspace_misses++;
        notify_event(NOTIFY_KEY_MISS, "keymiss", key, c->db->id);
    }
    return o;
}

kobj *lookup_write(client *c, sv key)
{
    kobj *o = db_lookup(c->db, key, LOOKUP_WRITE);
    if (o) {
        db_will_change(c->db, o); /* the command may change it next */
    }
    return o;
}

kobj *lookup_read_write(client *c, sv key)
{
    kobj *o = lookup_read(c, key);
    if (o) {
        db_will_change(c->db, o);
    }
    return o;
}

kobj *lookup_typed(client *c, sv key, int type, int mode, int *bad)
{
    *bad = 0;
    kobj *o = mode == LOOKUP_FOR_READ    ? lookup_read(c, key)
              : mode == LOOKUP_FOR_WRITE ? lookup_write(c, key)
                                         : lookup_read_write(c, key);
    if (o && (int)o->type != type) {
        reply_wrongtype(c);
        *bad = 1;
        return NULL;
    }
    return o;
}

int lookup_first_ready(client *c, const sv *keys, int n, int type, kobj **out)
{
    for (int i = 0; i < n; i++) {
        kobj *o = lookup_write(c, keys[i]);
        if (!o) {
            continue;
        }
        if ((int)o->type != type) {
            if (block_is_rerun(c)) {
                continue;
            }
            reply_wrongtype(c);
            return -2;
        }
        *out = o;
        return i;
    }
    return -1;
}

/* ---- shared write helpers ---- */

int cmd_delete_key(client *c, sv key)
{
    if (!db_delete(c->db, key)) {
        return 0;
    }
    sv argv[2] = {SV("DEL"), key};
    propagate_also(c, argv, 2);
    signal_write(c, NOTIFY_GENERIC, "del", key);
    return 1;
}

int cmd_drop_if_empty(client *c, sv key, size_t len)
{
    if (len != 0) {
        return 0;
    }
    db_delete(c->db, key);
    notify_event(NOTIFY_GENERIC, "del", key, c->db->id);
    return 1;
}

int expire_time_passed(int64_t when)
{
    return when <= db_time() && !server.loading && !repl_is_replica();
}

void cmd_expire_key(client *c, kobj *o, sv key, int64_t when)
{
    if (expire_time_passed(when)) {
        cmd_delete_key(c, key);
        return;
    }
    db_set_expire(c->db, o, when);
    char tbuf[32];
    sv argv[3] = {SV("PEXPIREAT"), key, {tbuf, (size_t)util_ll2str(tbuf, when)}};
    propagate_also(c, argv, 3);
    signal_write(c, NOTIFY_GENERIC, "expire", key);
}
