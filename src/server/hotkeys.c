/* hotkeys: HOTKEYS (Redis 8.6). START begins a session that charges each
 * command's time (CPU metric) and bytes in and out (NET metric) to the
 * keys it names, split evenly among them, into two bounded top-K
 * summaries (ds/topk.h); STOP ends it, keeping the results; GET reports
 * them with the session's totals; RESET drops them.
 *
 * A command's bytes are its request as RESP plus the reply it produced.
 * Commands inside EXEC and scripts are charged too (a script's own keys
 * get the script's time as well); the totals count top-level commands
 * once. SAMPLE n charges keys for one command in n, chosen at random; the
 * totals still count every command. Keys longer than HK_KEY_MAX are not
 * tracked (a summary holds copies of its keys). */
#include "server/hotkeys.h"

#include <limits.h>
#include <string.h>
#include <sys/resource.h>

#include "base/alloc.h"
#include "base/util.h"
#include "cmd/cmd.h"
#include "ds/topk.h"

#define HK_COUNT_DEFAULT 10
#define HK_COUNT_MAX 64
#define HK_SUMMARY 1024 /* counters per metric: the top 64 of a skewed load come out right */
#define HK_KEY_MAX 4096 /* longer keys are not tracked: at most 8 MB of copies */

int hotkeys_on;

static struct {
    int have;     /* a session started and was not reset */
    int cpu, net; /* the metrics asked for */
    long long k;  /* keys GET lists per metric */
    long long sample;
    int64_t start_ms, stop_ms, duration_ms; /* stop_ms 0 while active; duration 0: until STOP */
    struct rusage ru_start, ru_stop;
    long long net_start, net_stop;
    uint64_t all_us, all_bytes;
    topk *by_cpu, *by_net; /* weights in ns and bytes */
} hk;

static long long net_bytes_now(void)
{
    return server.stats.net_input_bytes + server.stats.net_output_bytes;
}

static void session_stop(void)
{
    hotkeys_on = 0;
    hk.stop_ms = server_ms();
    getrusage(RUSAGE_SELF, &hk.ru_stop);
    hk.net_stop = net_bytes_now();
}

static void session_drop(void)
{
    topk_free(hk.by_cpu);
    topk_free(hk.by_net);
    memset(&hk, 0, sizeof(hk));
}

static void expire_check(void)
{
    if (hotkeys_on && hk.duration_ms && server_ms() - hk.start_ms >= hk.duration_ms) {
        session_stop();
    }
}

void hotkeys_cron(void)
{
    expire_check();
}

/* The bytes of argv as a RESP request. */
static size_t request_bytes(const sv *argv, int argc)
{
    char buf[24];
    size_t n = 3 + (size_t)util_ll2str(buf, argc);
    for (int i = 0; i < argc; i++) {
        n += argv[i].len + 5 + (size_t)util_ll2str(buf, (long long)argv[i].len);
    }
    return n;
}

void hotkeys_record(client *c, command *cmd, int64_t dur_us, size_t out_bytes, int top)
{
    expire_check();
    if (!hotkeys_on) {
        return;
    }
    uint64_t bytes = request_bytes(c->argv, c->argc) + out_bytes;
    if (top) {
        hk.all_us += (uint64_t)(dur_us > 0 ? dur_us : 0);
        hk.all_bytes += bytes;
    }
    if (hk.sample > 1 && util_rand64() % (uint64_t)hk.sample != 0) {
        return;
    }
    key_ref small[16];
    key_ref *refs = c->argc <= 16 ? small : alloc_mem(sizeof(*refs) * (size_t)c->argc);
    int n = keys_find(cmd, c->argv, c->argc, refs);
    for (int i = 0; i < n; i++) {
        sv key = c->argv[refs[i].pos];
        if (key.len > HK_KEY_MAX) {
            continue;
        }
        if (hk.cpu) {
            topk_add(hk.by_cpu, key.ptr, key.len, (uint64_t)(dur_us > 0 ? dur_us : 0) * 1000 / (uint64_t)n);
        }
        if (hk.net) {
            topk_add(hk.by_net, key.ptr, key.len, (bytes + (uint64_t)n - 1) / (uint64_t)n);
        }
    }
    if (refs != small) {
        alloc_free(refs);
    }
}

/* ---- the command ---- */

static const char *const help[] = {
    "HOTKEYS <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "START METRICS <count> [CPU] [NET] [COUNT <k>] [DURATION <seconds>] [SAMPLE <ratio>]",
    "    Start tracking the keys that cost the most command time (CPU) and",
    "    network bytes (NET); COUNT keys are reported per metric (10, at most 64).",
    "STOP",
    "    Stop tracking, keeping the results.",
    "GET",
    "    The results of the current or last session (nil when there are none).",
    "RESET",
    "    Drop the results of a stopped session.",
    NULL};

/* METRICS count name...: unknown names are allowed (for metrics a later
 * version adds) as long as one is known. Returns 0 after replying. */
static int parse_metrics(client *c, int *i, int *cpu, int *net)
{
    long long count;
    if (*i + 1 >= c->argc || !util_parse_ll(c->argv[*i + 1].ptr, c->argv[*i + 1].len, &count) || count < 1 ||
        count > 2) {
        reply_err(c, "ERR METRICS count must be 1 or 2");
        return 0;
    }
    if (*i + 1 + count >= c->argc) {
        reply_err(c, "ERR METRICS count does not match number of metric types provided");
        return 0;
    }
    for (long long j = 0; j < count; j++) {
        int at = *i + 2 + (int)j;
        int *flag = arg_is(c, at, "CPU") ? cpu : arg_is(c, at, "NET") ? net : NULL;
        if (flag && *flag) {
            reply_errf(c, "ERR METRICS %s given more than once", flag == cpu ? "CPU" : "NET");
            return 0;
        }
        if (flag) {
            *flag = 1;
        }
    }
    if (!*cpu && !*net) {
        reply_err(c, "ERR METRICS no valid metrics given (CPU, NET)");
        return 0;
    }
    *i += 1 + (int)count;
    return 1;
}

static void start(client *c)
{
    int cpu = 0, net = 0, metrics = 0;
    long long k = HK_COUNT_DEFAULT, seconds = 0, sample = 1;
    for (int i = 2; i < c->argc; i++) {
        int more = i + 1 < c->argc;
        if (arg_is(c, i, "METRICS") && !metrics) {
            if (!parse_metrics(c, &i, &cpu, &net)) {
                return;
            }
            metrics = 1;
        } else if (arg_is(c, i, "COUNT") && more) {
            if (!arg_ll_range(c, ++i, 1, HK_COUNT_MAX, &k, "ERR COUNT must be between 1 and 64")) {
                return;
            }
        } else if (arg_is(c, i, "DURATION") && more) {
            if (!arg_ll_range(c, ++i, 1, 1000000000LL, &seconds, "ERR DURATION must be positive")) {
                return;
            }
        } else if (arg_is(c, i, "SAMPLE") && more) {
            if (!arg_ll_range(c, ++i, 1, LLONG_MAX, &sample, "ERR SAMPLE ratio must be positive")) {
                return;
            }
        } else if (arg_is(c, i, "SLOTS")) {
            reply_err(c, "ERR SLOTS parameter cannot be used in non-cluster mode");
            return;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    if (!metrics) {
        reply_err(c, "ERR METRICS parameter is required");
        return;
    }
    if (hotkeys_on) {
        reply_err(c, "ERR hotkey tracking session already in progress");
        return;
    }
    session_drop();
    hk.have = 1;
    hk.cpu = cpu;
    hk.net = net;
    hk.k = k;
    hk.sample = sample;
    hk.duration_ms = seconds * 1000;
    hk.start_ms = server_ms();
    getrusage(RUSAGE_SELF, &hk.ru_start);
    hk.net_start = net_bytes_now();
    hk.by_cpu = cpu ? topk_new(HK_SUMMARY) : NULL;
    hk.by_net = net ? topk_new(HK_SUMMARY) : NULL;
    hotkeys_on = 1;
    reply_ok(R(c));
}

static long long tv_ms(const struct timeval *a, const struct timeval *b)
{
    return (long long)(b->tv_sec - a->tv_sec) * 1000 + (long long)(b->tv_usec - a->tv_usec) / 1000;
}

/* A flat [key, weight, ...] list, heaviest first. */
static void reply_top(client *c, const topk *t, uint64_t unit)
{
    topk_item items[HK_COUNT_MAX];
    size_t n = topk_list(t, (size_t)hk.k, items);
    reply_array(R(c), (long long)n * 2);
    for (size_t i = 0; i < n; i++) {
        reply_bulk(R(c), items[i].key, items[i].len);
        reply_int(R(c), (long long)(items[i].weight / unit));
    }
}

static void get(client *c)
{
    expire_check();
    if (!hk.have) {
        reply_null(R(c));
        return;
    }
    struct rusage now;
    const struct rusage *end = &hk.ru_stop;
    long long net_end = hk.net_stop;
    int64_t end_ms = hk.stop_ms;
    if (hotkeys_on) {
        getrusage(RUSAGE_SELF, &now);
        end = &now;
        net_end = net_bytes_now();
        end_ms = server_ms();
    }
    /* An array holding the session's map, as Redis answers (a cluster
     * client merges one such map per node). */
    reply_array(R(c), 1);
    reply_map(R(c), 7 + (hk.cpu ? 3 : 0) + (hk.net ? 2 : 0));
    reply_bulk_cstr(R(c), "tracking-active");
    reply_int(R(c), hotkeys_on);
    reply_bulk_cstr(R(c), "sample-ratio");
    reply_int(R(c), hk.sample);
    reply_bulk_cstr(R(c), "selected-slots");
    reply_array(R(c), 1);
    reply_array(R(c), 2);
    reply_int(R(c), 0);
    reply_int(R(c), 16383);
    reply_bulk_cstr(R(c), "all-commands-all-slots-us");
    reply_int(R(c), (long long)hk.all_us);
    reply_bulk_cstr(R(c), "net-bytes-all-commands-all-slots");
    reply_int(R(c), (long long)hk.all_bytes);
    reply_bulk_cstr(R(c), "collection-start-time-unix-ms");
    reply_int(R(c), hk.start_ms);
    reply_bulk_cstr(R(c), "collection-duration-ms");
    reply_int(R(c), end_ms - hk.start_ms);
    if (hk.cpu) {
        reply_bulk_cstr(R(c), "total-cpu-time-user-ms");
        reply_int(R(c), tv_ms(&hk.ru_start.ru_utime, &end->ru_utime));
        reply_bulk_cstr(R(c), "total-cpu-time-sys-ms");
        reply_int(R(c), tv_ms(&hk.ru_start.ru_stime, &end->ru_stime));
    }
    if (hk.net) {
        reply_bulk_cstr(R(c), "total-net-bytes");
        reply_int(R(c), net_end - hk.net_start);
    }
    if (hk.cpu) {
        reply_bulk_cstr(R(c), "by-cpu-time-us");
        reply_top(c, hk.by_cpu, 1000);
    }
    if (hk.net) {
        reply_bulk_cstr(R(c), "by-net-bytes");
        reply_top(c, hk.by_net, 1);
    }
}

void cmd_hotkeys(client *c)
{
    static const char *const subs[] = {"start", "stop", "get", "reset"};
    int which = subcommand_pick(c, subs, 4, help);
    if (which < 0) {
        return;
    }
    if (which == 0) {
        start(c);
    } else if (which == 1) {
        expire_check();
        if (!hotkeys_on) {
            reply_err(c, "ERR no hotkey tracking session in progress");
            return;
        }
        session_stop();
        reply_ok(R(c));
    } else if (which == 2) {
        get(c);
    } else {
        if (hotkeys_on) {
            reply_err(c, "ERR hotkey tracking session in progress, stop tracking first");
            return;
        }
        session_drop();
        reply_ok(R(c));
    }
}
