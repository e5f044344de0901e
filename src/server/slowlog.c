/* slowlog: see slowlog.h. A ring would do, but slowlog-max-len changes at
 * run time, so entries are a doubly-ended array kept newest first. */
#include <string.h>

#include "base/alloc.h"
#include "server/metrics_format.h"
#include "server/slowlog.h"

/* Redis's bounds on what an entry keeps of a command. */
#define KEEP_ARGS 32
#define KEEP_BYTES 128

typedef struct slow_entry {
    long long id;
    int64_t time;     /* unix seconds */
    int64_t duration; /* microseconds */
    str *argv;
    int argc;
    str addr, name;
} slow_entry;

static struct {
    slow_entry *e; /* e[0] is the newest */
    long n, cap;
    long long next_id;
} slog;

static void entry_free(slow_entry *e)
{
    for (int i = 0; i < e->argc; i++) {
        str_free(e->argv[i]);
    }
    alloc_free(e->argv);
    str_free(e->addr);
    str_free(e->name);
}

void slowlog_trim(void)
{
    long max = server.cfg.slowlog_max_len < 0 ? 0 : (long)server.cfg.slowlog_max_len;
    while (slog.n > max) {
        entry_free(&slog.e[--slog.n]);
    }
}

/* One argument as kept: at most KEEP_BYTES, then how much was cut. */
static str keep_arg(sv a)
{
    if (a.len <= KEEP_BYTES) {
        return str_new(a.ptr, a.len);
    }
    str s = str_new(a.ptr, KEEP_BYTES);
    return str_printf(s, "... (%zu more bytes)", a.len - KEEP_BYTES);
}

int slowlog_wants(int64_t duration_us)
{
    long long limit = server.cfg.slowlog_log_slower_than;
    return limit >= 0 && duration_us >= limit && server.cfg.slowlog_max_len > 0;
}

void slowlog_record(client *c, const sv *argv, int argc, int64_t duration_us)
{
    if (!slowlog_wants(duration_us)) {
        return;
    }
    if (slog.n == slog.cap) {
        slog.cap = slog.cap ? slog.cap * 2 : 16;
        slog.e = alloc_resize(slog.e, sizeof(*slog.e) * (size_t)slog.cap);
    }
    memmove(slog.e + 1, slog.e, sizeof(*slog.e) * (size_t)slog.n);
    slog.n++;
    slow_entry *e = &slog.e[0];
    e->id = slog.next_id++;
    e->time = server_ms() / 1000;
    e->duration = duration_us;
    /* The 32nd kept argument says how many more there were. */
    e->argc = argc > KEEP_ARGS ? KEEP_ARGS : argc;
    e->argv = alloc_mem(sizeof(str) * (size_t)e->argc);
    for (int i = 0; i < e->argc; i++) {
        if (i == KEEP_ARGS - 1 && argc > KEEP_ARGS) {
            e->argv[i] = str_printf(str_empty(32), "... (%d more arguments)", argc - KEEP_ARGS + 1);
        } else {
            e->argv[i] = keep_arg(argv[i]);
        }
    }
    /* Script calls have no peer: Redis shows "?:0". */
    int fake = c->fd < 0;
    e->addr = str_new(fake ? "?:0" : c->addr, strlen(fake ? "?:0" : c->addr));
    e->name = !fake && c->name ? str_dup(c->name) : str_empty(0);
    slowlog_trim();
}

str slowlog_json(str out, long max)
{
    long n = max < slog.n ? max : slog.n;
    out = str_append_cstr(out, "[");
    for (long i = 0; i < n; i++) {
        const slow_entry *e = &slog.e[i];
        out = str_printf(out, "%s{\"id\":%lld,\"time\":%lld,\"duration_us\":%lld,\"args\":[", i ? "," : "", e->id,
                         (long long)e->time, (long long)e->duration);
        for (int j = 0; j < e->argc; j++) {
            out = str_append_cstr(out, j ? "," : "");
            out = metrics_json_string(out, e->argv[j], str_len(e->argv[j]));
        }
        out = str_append_cstr(out, "],\"client\":");
        out = metrics_json_string(out, e->addr, str_len(e->addr));
        out = str_append_cstr(out, ",\"name\":");
        out = metrics_json_string(out, e->name, str_len(e->name));
        out = str_append_cstr(out, "}");
    }
    return str_append_cstr(out, "]");
}

static const char *const help[] = {
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    The <count> newest logged calls (10 if not given, all with -1), each as:",
    "    id, unix time, duration in microseconds, the arguments, the client's",
    "    address and the client's name.",
    "LEN",
    "    How many calls the log holds.",
    "RESET",
    "    Empty the log.",
    "HELP",
    "    Prints this help.",
    NULL,
};

static void reply_entries(client *c, long count)
{
    long n = count < 0 || count > slog.n ? slog.n : count;
    reply_array(R(c), n);
    for (long i = 0; i < n; i++) {
        const slow_entry *e = &slog.e[i];
        reply_array(R(c), 6);
        reply_int(R(c), e->id);
        reply_int(R(c), e->time);
        reply_int(R(c), e->duration);
        reply_array(R(c), e->argc);
        for (int j = 0; j < e->argc; j++) {
            reply_bulk(R(c), e->argv[j], str_len(e->argv[j]));
        }
        reply_bulk(R(c), e->addr, str_len(e->addr));
        reply_bulk(R(c), e->name, str_len(e->name));
    }
}

void cmd_slowlog(client *c)
{
    static const char *const subs[] = {"get", "len", "reset"};
    int which = subcommand_pick(c, subs, 3, help);
    if (which == 0) {
        long long count = 10;
        if (c->argc > 3) {
            reply_subcommand_syntax_error(c);
            return;
        }
        if (c->argc == 3 &&
            !arg_ll_range(c, 2, -1, LLONG_MAX, &count, "ERR count should be greater than or equal to -1")) {
            return;
        }
        reply_entries(c, count < 0 ? -1 : (long)(count > slog.n ? slog.n : count));
    } else if (which == 1) {
        reply_int(R(c), slog.n);
    } else if (which == 2) {
        while (slog.n > 0) {
            entry_free(&slog.e[--slog.n]);
        }
        reply_ok(R(c));
    }
}
