/* latency: see latency.h.
 *
 * Histograms are log-linear over microseconds: exact below 16 us, then 16
 * sub-buckets per power of two (about 6% wide), so recording is a few
 * instructions and a command's histogram is a few KB, made on its first
 * call. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/util.h"
#include "server/latency.h"

/* ---- events ---- */

#define HISTORY_LEN 160
#define MAX_EVENTS 24 /* Keel records 14 kinds (README) */

typedef struct sample {
    int64_t time; /* unix seconds */
    int64_t ms;
} sample;

typedef struct event {
    char name[32];
    sample hist[HISTORY_LEN]; /* a ring; idx is the next slot */
    int idx, n;
    int64_t max;
} event;

static event events[MAX_EVENTS];
static int nevents;

static event *event_find(const char *name, int create)
{
    for (int i = 0; i < nevents; i++) {
        if (strcmp(events[i].name, name) == 0) {
            return &events[i];
        }
    }
    if (!create || nevents == MAX_EVENTS) {
        return NULL;
    }
    event *e = &events[nevents++];
    memset(e, 0, sizeof(*e));
    snprintf(e->name, sizeof(e->name), "%s", name);
    return e;
}

void latency_add(const char *name, int64_t ms)
{
    if (server.cfg.latency_monitor_threshold <= 0 || ms < server.cfg.latency_monitor_threshold) {
        return;
    }
    event *e = event_find(name, 1);
    if (!e) {
        return;
    }
    int64_t now = server_ms() / 1000;
    e->max = ms > e->max ? ms : e->max;
    int last = (e->idx + HISTORY_LEN - 1) % HISTORY_LEN;
    if (e->n > 0 && e->hist[last].time == now) {
        /* One sample per second: its worst. */
        e->hist[last].ms = ms > e->hist[last].ms ? ms : e->hist[last].ms;
        return;
    }
    e->hist[e->idx] = (sample){now, ms};
    e->idx = (e->idx + 1) % HISTORY_LEN;
    e->n += e->n < HISTORY_LEN;
}

static const sample *event_sample(const event *e, int i) /* 0: oldest */
{
    return &e->hist[(e->idx - e->n + i + HISTORY_LEN) % HISTORY_LEN];
}

static const sample *event_last(const event *e)
{
    return event_sample(e, e->n - 1);
}

/* ---- histograms ---- */

#define SUB 16
#define EXACT 16
#define EXPONENTS 40 /* up to 2^44 us: beyond any real call */
#define BUCKETS (EXACT + EXPONENTS * SUB)

static int bucket_of(uint64_t us)
{
    if (us < EXACT) {
        return (int)us;
    }
    int e = 63 - __builtin_clzll(us); /* >= 4 */
    int idx = EXACT + (e - 4) * SUB + (int)((us >> (e - 4)) & (SUB - 1));
    return idx < BUCKETS ? idx : BUCKETS - 1;
}

/* The largest value that falls in bucket i. */
static uint64_t bucket_top(int i)
{
    if (i < EXACT) {
        return (uint64_t)i;
    }
    int e = (i - EXACT) / SUB + 4, sub = (i - EXACT) % SUB;
    return ((uint64_t)(SUB + sub) << (e - 4)) + ((uint64_t)1 << (e - 4)) - 1;
}

void latency_track(cmd_stats *st, int64_t us)
{
    if (!server.cfg.latency_tracking) {
        return;
    }
    if (!st->hist) {
        st->hist = alloc_zero(sizeof(uint32_t) * BUCKETS);
    }
    st->hist[bucket_of(us < 0 ? 0 : (uint64_t)us)]++;
}

static uint64_t hist_total(const uint32_t *h)
{
    uint64_t n = 0;
    for (int i = 0; i < BUCKETS; i++) {
        n += h[i];
    }
    return n;
}

/* The value at percentile p (0..100): the top of the bucket holding it. */
static uint64_t hist_percentile(const uint32_t *h, uint64_t total, double p)
{
    uint64_t want = (uint64_t)(p / 100.0 * (double)total + 0.5), seen = 0;
    want = want == 0 ? 1 : want;
    for (int i = 0; i < BUCKETS; i++) {
        seen += h[i];
        if (seen >= want) {
            return bucket_top(i);
        }
    }
    return 0;
}

/* Every command and subcommand with a histogram, by INFO's name. */
typedef void (*hist_fn)(const char *name, const cmd_stats *st, void *ctx);

static void each_histogram(hist_fn fn, void *ctx)
{
    for (int i = 0; i < cmd_count(); i++) {
        command *cmd = cmd_at(i);
        if (cmd->st.hist) {
            fn(cmd->name, &cmd->st, ctx);
        }
        for (int j = 0; j < cmd->nsubs; j++) {
            if (cmd->subs[j].st.hist) {
                fn(cmd->subs[j].name, &cmd->subs[j].st, ctx);
            }
        }
    }
}

static void info_one(const char *name, const cmd_stats *st, void *ctx)
{
    str *out = ctx;
    uint64_t total = hist_total(st->hist);
    if (total == 0) {
        return;
    }
    *out = str_printf(*out, "latency_percentiles_usec_%s:", name);
    for (int i = 0; i < server.cfg.latency_percentiles_n; i++) {
        double p = server.cfg.latency_percentiles[i];
        char pbuf[32];
        util_d2str(pbuf, p);
        *out = str_printf(*out, "%sp%s=%.3f", i ? "," : "", pbuf, (double)hist_percentile(st->hist, total, p));
    }
    *out = str_append(*out, "\r\n", 2);
}

str latency_info(str out)
{
    each_histogram(info_one, &out);
    return out;
}

static void reset_one(const char *name, const cmd_stats *st, void *ctx)
{
    memset(st->hist, 0, sizeof(uint32_t) * BUCKETS);
}

void latency_reset_histograms(void)
{
    each_histogram(reset_one, NULL);
}

/* ---- LATENCY ---- */

static const char *const help[] = {
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    A plain-text report on the spikes recorded and what may cause them.",
    "GRAPH <event>",
    "    The <event>'s recorded spikes drawn as a text chart.",
    "HISTORY <event>",
    "    The <event>'s recorded spikes as (unix time, milliseconds) pairs.",
    "LATEST",
    "    For each event: its last spike's time and size, and its largest.",
    "RESET [<event> ...]",
    "    Forget the spikes of the named events (of every event if none is named).",
    "HISTOGRAM [COMMAND ...]",
    "    Per command (the named ones, or every command called so far): its call",
    "    count and the cumulative distribution of its durations in microseconds.",
    NULL,
};

static void histogram_reply(const char *name, const cmd_stats *st, client *c)
{
    uint64_t total = hist_total(st->hist);
    reply_bulk_cstr(R(c), name);
    reply_map(R(c), 2);
    reply_bulk_cstr(R(c), "calls");
    reply_int(R(c), (long long)total);
    reply_bulk_cstr(R(c), "histogram_usec");
    /* Power-of-two buckets with cumulative counts, those that gained any. */
    uint64_t cum = 0, prev = 0;
    size_t h = reply_defer(R(c));
    long long n = 0;
    int b = 0;
    for (uint64_t top = 1; cum < total && top != 0; top <<= 1) {
        while (b < BUCKETS && bucket_top(b) <= top) {
            cum += st->hist[b++];
        }
        if (cum > prev) {
            reply_int(R(c), (long long)top);
            reply_int(R(c), (long long)cum);
            prev = cum;
            n++;
        }
    }
    reply_defer_map(R(c), h, n);
}

typedef struct hist_ctx {
    client *c;
    long long n;
} hist_ctx;

static void histogram_all(const char *name, const cmd_stats *st, void *ctx)
{
    hist_ctx *hc = ctx;
    if (hist_total(st->hist) > 0) {
        histogram_reply(name, st, hc->c);
        hc->n++;
    }
}

static void latency_histogram(client *c)
{
    if (c->argc == 2) {
        size_t h = reply_defer(R(c));
        hist_ctx hc = {c, 0};
        each_histogram(histogram_all, &hc);
        reply_defer_map(R(c), h, hc.n);
        return;
    }
    size_t h = reply_defer(R(c));
    hist_ctx hc = {c, 0};
    for (int i = 2; i < c->argc; i++) {
        command *cmd = cmd_lookup_full(c->argv[i].ptr, c->argv[i].len);
        if (!cmd) {
            continue; /* unknown names are skipped, as Redis does */
        }
        /* A container stands for its subcommands ("client": client|id...). */
        for (int j = 0; j < cmd->nsubs; j++) {
            if (cmd->subs[j].st.hist) {
                histogram_all(cmd->subs[j].name, &cmd->subs[j].st, &hc);
            }
        }
        if (cmd->st.hist) {
            histogram_all(cmd->name, &cmd->st, &hc);
        }
    }
    reply_defer_map(R(c), h, hc.n);
}

static void latency_graph(client *c, const event *e)
{
    /* Newest on the right, as Redis draws it: one column per sample, the
     * height scaled between the smallest and the largest. */
    int64_t lo = INT64_MAX, hi = 0;
    for (int i = 0; i < e->n; i++) {
        const sample *s = event_sample(e, i);
        lo = s->ms < lo ? s->ms : lo;
        hi = s->ms > hi ? s->ms : hi;
    }
    str out = str_printf(str_empty(1024), "%s - high %lld ms, low %lld ms (all time high %lld ms)\n", e->name,
                         (long long)hi, (long long)lo, (long long)e->max);
    out = str_append_cstr(out, "--------------------------------------------------------------------------------\n");
    enum { ROWS = 4 };
    for (int row = ROWS; row >= 1; row--) {
        for (int i = 0; i < e->n; i++) {
            const sample *s = event_sample(e, i);
            double level = hi == lo ? ROWS : 1.0 + (double)(s->ms - lo) * (ROWS - 1) / (double)(hi - lo);
            out = str_append(out, level >= row ? "#" : " ", 1);
        }
        out = str_append(out, "\n", 1);
    }
    out = str_append(out, "\n", 1);
    /* The age of each sample, one digit per row, read downwards. */
    int64_t now = server_ms() / 1000;
    for (int i = 0; i < e->n; i++) {
        char age[24];
        snprintf(age, sizeof(age), "%llds", (long long)(now - event_sample(e, i)->time));
        out = str_append(out, age, 1);
    }
    out = str_append(out, "\n", 1);
    reply_verbatim(R(c), out, str_len(out), "txt");
    str_free(out);
}

static int event_seen(const char *name)
{
    const event *e = event_find(name, 0);
    return e && e->n > 0;
}

static void latency_doctor(client *c)
{
    str out = str_empty(512);
    if (nevents == 0 || server.cfg.latency_monitor_threshold <= 0) {
        out = str_append_cstr(out, "Latency doctor: no latency spike was recorded since this Keel instance "
                                   "started. ");
        if (server.cfg.latency_monitor_threshold <= 0) {
            out = str_append_cstr(out, "(The latency monitor is off: set latency-monitor-threshold to a number of "
                                       "milliseconds to enable it.)");
        }
        out = str_append(out, "\n", 1);
    } else {
        out = str_append_cstr(out, "Latency doctor: this Keel instance recorded latency spikes.\n\n");
        for (int i = 0; i < nevents; i++) {
            const event *e = &events[i];
            if (e->n == 0) {
                continue;
            }
            int64_t sum = 0;
            for (int j = 0; j < e->n; j++) {
                sum += event_sample(e, j)->ms;
            }
            out = str_printf(out,
                             "%d. %s: %d latency spikes (average %lldms, mean deviation n/a, period n/a). Worst "
                             "all time event %lldms.\n",
                             i + 1, e->name, e->n, (long long)(sum / e->n), (long long)e->max);
        }
        out = str_append_cstr(out, "\nWhat to look at:\n\n- Check SLOWLOG GET for the slow commands, "
                                   "and avoid O(N) commands on big values; run big deletes with UNLINK.\n");
        if (event_seen("eviction-del") || event_seen("expire-del")) {
            out = str_append_cstr(out, "- Evicted or expired keys were slow to delete. Keel frees values of more than "
                                       "64 elements in the background; what stays slow is a big string (its pages "
                                       "go back to the kernel) or a key a running snapshot had not saved yet (it is "
                                       "saved before it goes).\n");
        }
        if (event_seen("rdb-unlink-temp-file")) {
            out = str_append_cstr(out, "- Unlinking the temporary file of a cancelled snapshot or AOF rewrite was "
                                       "slow: the filesystem frees a big file's blocks synchronously.\n");
        }
        if (event_seen("aof-rename")) {
            out = str_append_cstr(out, "- Installing a rewritten AOF (syncing its manifest and the directory) was "
                                       "slow: the disk is slow to sync.\n");
        }
    }
    reply_verbatim(R(c), out, str_len(out), "txt");
    str_free(out);
}

void cmd_latency(client *c)
{
    static const char *const subs[] = {"latest", "history", "reset", "graph", "doctor", "histogram"};
    int which = subcommand_pick(c, subs, 6, help);
    if (which < 0) {
        return;
    }
    if (which == 0) {
        reply_array(R(c), nevents);
        for (int i = 0; i < nevents; i++) {
            const event *e = &events[i];
            const sample *s = event_last(e);
            reply_array(R(c), 4);
            reply_bulk_cstr(R(c), e->name);
            reply_int(R(c), s->time);
            reply_int(R(c), s->ms);
            reply_int(R(c), e->max);
        }
    } else if (which == 1) {
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)c->argv[2].len, c->argv[2].ptr);
        const event *e = event_find(name, 0);
        reply_array(R(c), e ? e->n : 0);
        for (int i = 0; e && i < e->n; i++) {
            reply_array(R(c), 2);
            reply_int(R(c), event_sample(e, i)->time);
            reply_int(R(c), event_sample(e, i)->ms);
        }
    } else if (which == 2) {
        long long n = 0;
        for (int i = nevents - 1; i >= 0; i--) {
            int hit = c->argc == 2;
            for (int j = 2; j < c->argc && !hit; j++) {
                hit = strlen(events[i].name) == c->argv[j].len &&
                      strncasecmp(events[i].name, c->argv[j].ptr, c->argv[j].len) == 0;
            }
            if (hit) {
                events[i] = events[--nevents];
                n++;
            }
        }
        reply_int(R(c), n);
    } else if (which == 3) {
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)c->argv[2].len, c->argv[2].ptr);
        const event *e = event_find(name, 0);
        if (!e || e->n == 0) {
            reply_errf(c, "ERR No samples available for event '%s'", name);
            return;
        }
        latency_graph(c, e);
    } else if (which == 4) {
        latency_doctor(c);
    } else {
        latency_histogram(c);
    }
}
