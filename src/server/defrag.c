/* defrag: the active defragmentation cycle (see defrag.h). */
#include "server/defrag.h"

#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/str.h"
#include "base/util.h"
#include "db/db.h"
#include "module/module.h"
#include "persist/snapshot.h"
#include "script/lua.h"
#include "server/child.h"
#include "server/latency.h"
#include "server/server.h"

/* Work items between two looks at the clock: a scan step is a few keys,
 * a big value's step active-defrag-max-scan-fields elements. */
#define DEFRAG_CLOCK_EVERY 16
/* How often a server with no cycle running measures its fragmentation. */
#define DEFRAG_CHECK_MS 100
/* How often a running cycle re-reads it to raise its effort. */
#define DEFRAG_EFFORT_MS 1000

/* A value with more elements than one step takes: done after the scan
 * step that met it, a step at a time, found again by its key each time. */
typedef struct big_value {
    int db;
    int type;
    str key;
    unsigned long cursor;
} big_value;

static struct {
    int running; /* CPU percent of the cycle, 0: none */
    int64_t started_us;
    int64_t last_check_ms, last_effort_ms;
    long long total_us; /* of the cycles that ended */
    long long key_hits, key_misses;
    int db;               /* the pass's position: a db and its scan cursor */
    unsigned long cursor; /* 0 with db 0: a pass not yet begun */
    big_value *later;     /* big values met and not finished */
    size_t nlater, cap;
    size_t budget;               /* elements per value step */
    int64_t deadline_us;         /* of the running slice, 0: none */
    int open;                    /* a pass has begun and not ended */
    long long pass_moved_before; /* blocks moved before the pass began */
    int scripts_done;            /* the EVAL script cache, after the keys */
    unsigned long script_cursor;
} st;

static long long moved_so_far(void)
{
    long long hits, misses;
    alloc_defrag_counts(&hits, &misses);
    return hits;
}

static void later_push(int dbid, kobj *o, unsigned long cursor)
{
    if (st.nlater == st.cap) {
        st.cap = st.cap ? st.cap * 2 : 8;
        st.later = alloc_resize(st.later, st.cap * sizeof(*st.later));
    }
    sv k = kobj_key(o);
    st.later[st.nlater++] = (big_value){dbid, o->type, str_new(k.ptr, k.len), cursor};
}

static void later_clear(void)
{
    for (size_t i = 0; i < st.nlater; i++) {
        str_free(st.later[i].key);
    }
    st.nlater = 0;
}

/* One step of a value's own blocks; returns the cursor to go on from. */
static unsigned long value_step(kobj *o, int dbid, unsigned long cursor)
{
    const type_ops *ops = obj_type_ops(o->type);
    if (o->type == OBJ_STRING || !ops || !ops->defrag) {
        return 0;
    }
    void *v = kobj_ptr(o);
    void *moved = ops->defrag(v, kobj_key(o), dbid, &cursor, st.budget);
    if (moved != v) {
        kobj_set_ptr(o, moved);
    }
    return cursor;
}

static void defrag_key(void *node, void *ctx)
{
    db *d = ctx;
    kobj *o = node;
    long long before = moved_so_far();
    kobj *moved = kobj_defrag(o);
    if (moved) {
        db_move_entry(d, o, moved);
        o = moved;
    }
    unsigned long cursor = value_step(o, d->id, 0);
    if (cursor != 0) {
        later_push(d->id, o, cursor);
    }
    if (moved_so_far() > before) {
        st.key_hits++;
    } else {
        st.key_misses++;
    }
}

/* Goes on with the oldest big value left; drops it when done, deleted or
 * replaced by a value of another type. */
static void later_step(void)
{
    big_value *b = &st.later[0];
    kobj *o = db_find_raw(&server.dbs[b->db], (sv){b->key, str_len(b->key)});
    b->cursor = o && o->type == b->type ? value_step(o, b->db, b->cursor) : 0;
    if (b->cursor == 0) {
        str_free(b->key);
        memmove(st.later, st.later + 1, --st.nlater * sizeof(*st.later));
    }
}

/* Advances the pass until deadline_us (0: no deadline) or for max_steps
 * work items (0: no limit); 1 once every key of every database has been
 * seen. */
static int pass_step(int64_t deadline_us, long long max_steps)
{
    /* A pass run step by step (DEBUG DEFRAG STEPS) tells modules to stop
     * at once, so their big values too go a batch per step. */
    st.deadline_us = deadline_us ? deadline_us : max_steps ? 1 : 0;
    for (long long n = 1;; n++) {
        if (st.nlater > 0) {
            later_step();
        } else if (st.db >= server.cfg.databases) {
            if (st.scripts_done) {
                return 1;
            }
            st.script_cursor = script_eval_defrag(st.script_cursor, st.budget);
            st.scripts_done = st.script_cursor == 0;
        } else {
            db *d = &server.dbs[st.db];
            st.cursor = ktable_scan(&d->keys, st.cursor, defrag_key, d);
            if (st.cursor == 0) {
                st.db++;
            }
        }
        if (deadline_us && n % DEFRAG_CLOCK_EVERY == 0 && util_mono_us() >= deadline_us) {
            return 0;
        }
        if (max_steps && n >= max_steps) {
            return st.nlater == 0 && st.db >= server.cfg.databases && st.scripts_done;
        }
    }
}

static void pass_end(void)
{
    st.open = 0;
    later_clear();
}

static void pass_reset(void)
{
    later_clear();
    st.pass_moved_before = moved_so_far();
    st.open = 1;
    st.db = 0;
    st.cursor = 0;
    st.scripts_done = 0;
    st.script_cursor = 0;
    st.budget = server.cfg.defrag_max_scan_fields > 0 ? (size_t)server.cfg.defrag_max_scan_fields : 1;
    module_defrag_globals();
}

/* The allocator's waste: bytes in slabs and extents not in use, and as a
 * percentage of the bytes in use. */
static void fragmentation(double *pct, size_t *bytes)
{
    size_t allocated, active, resident;
    alloc_stats(&allocated, &active, &resident);
    *bytes = active > allocated ? active - allocated : 0;
    *pct = allocated ? 100.0 * (double)active / (double)allocated - 100.0 : 0;
}

/* The cycle's CPU percent: cycle-min at threshold-lower, rising linearly
 * to cycle-max at threshold-upper. */
static int effort(double pct)
{
    int lo = server.cfg.defrag_cycle_min, hi = server.cfg.defrag_cycle_max;
    if (hi < lo) {
        hi = lo;
    }
    double span = server.cfg.defrag_upper - server.cfg.defrag_lower;
    double at = span > 0 ? (pct - server.cfg.defrag_lower) / span : 1;
    int e = lo + (int)(at * (hi - lo));
    return e < lo ? lo : e > hi ? hi : e;
}

static void cycle_end(const char *why)
{
    if (!st.running) {
        return;
    }
    double pct;
    size_t bytes;
    fragmentation(&pct, &bytes);
    int64_t took = util_mono_us() - st.started_us;
    st.total_us += took;
    log_msg(LOG_VERBOSE, "Active defrag %s after %lld ms: fragmentation now %.0f%% (%zu bytes)", why,
            (long long)(took / 1000), pct, bytes);
    st.running = 0;
    pass_end();
}

/* The pass is over: while the waste stays above the thresholds and the
 * pass moved something, another begins at once (as Redis does: a cycle
 * ends only when the fragmentation is down), else the cycle ends. */
static void next_pass_or_end(void)
{
    double pct;
    size_t bytes;
    fragmentation(&pct, &bytes);
    long long moved = moved_so_far();
    int progress = moved > st.pass_moved_before;
    if (progress && pct > server.cfg.defrag_lower && (long long)bytes > server.cfg.defrag_ignore_bytes) {
        log_msg(LOG_VERBOSE, "Active defrag pass done: fragmentation still %.0f%% (%zu bytes), another pass", pct,
                bytes);
        int e = effort(pct);
        st.running = e > st.running ? e : st.running;
        pass_reset();
        return;
    }
    cycle_end("done");
}

/* One cron tick of the cycle. */
static void tick(void)
{
    if (!server.cfg.activedefrag || !alloc_defrag_supported()) {
        cycle_end("stopped");
        return;
    }
    /* A fork's pages or a snapshot's walk: moving now only costs. */
    if (snapshot_running() || child_running() != CHILD_NONE) {
        return;
    }
    int64_t now = server.now_ms;
    if (!st.running) {
        if (now - st.last_check_ms < DEFRAG_CHECK_MS) {
            return;
        }
        st.last_check_ms = now;
        double pct;
        size_t bytes;
        fragmentation(&pct, &bytes);
        if (pct <= server.cfg.defrag_lower || (long long)bytes <= server.cfg.defrag_ignore_bytes) {
            return;
        }
        st.running = effort(pct);
        st.started_us = util_mono_us();
        st.last_effort_ms = now;
        pass_reset();
        log_msg(LOG_VERBOSE, "Active defrag started: fragmentation %.0f%% (%zu bytes), %d%% of the CPU", pct, bytes,
                st.running);
    } else if (now - st.last_effort_ms >= DEFRAG_EFFORT_MS) {
        /* Worse fragmentation raises the effort; it never falls mid-pass. */
        st.last_effort_ms = now;
        double pct;
        size_t bytes;
        fragmentation(&pct, &bytes);
        int e = effort(pct);
        if (e > st.running) {
            st.running = e;
        }
    }
    /* running percent of the cron period, in microseconds. */
    int64_t slice_us = (int64_t)st.running * 10000 / server.cfg.hz;
    int64_t start = util_mono_us();
    int done = pass_step(start + (slice_us > 0 ? slice_us : 1), 0);
    int64_t took = util_mono_us() - start;
    latency_add("active-defrag-cycle", took / 1000);
    if (done) {
        next_pass_or_end();
    }
}

void defrag_cron(void)
{
    if (!server.loading) {
        tick(); /* while loading, the load gives the ticks */
    }
}

void defrag_while_loading(void)
{
    static int64_t last_ms;
    int64_t period = 1000 / server.cfg.hz;
    int64_t now = util_mono_us() / 1000;
    if (now - last_ms > 1000) {
        last_ms = now - period; /* a new load: no ticks owed from before */
    }
    if (now - last_ms < period) {
        return;
    }
    server_update_time();
    while (now - last_ms >= period) {
        last_ms += period;
        tick();
    }
}

long long defrag_pass_now(int force, long long steps)
{
    /* The cycle, if one runs, begins again when it next measures. */
    st.running = 0;
    long long before = moved_so_far();
    alloc_defrag_force(force);
    if (!st.open) {
        pass_reset();
    }
    if (pass_step(0, steps)) {
        pass_end();
    }
    alloc_defrag_force(0);
    return moved_so_far() - before;
}

int64_t defrag_deadline_us(void)
{
    return st.deadline_us;
}

void defrag_reset_stats(void)
{
    alloc_defrag_counts_reset();
    st.pass_moved_before = 0; /* the pass's progress counts from here */
    st.key_hits = st.key_misses = 0;
    st.total_us = 0;
    if (st.running) {
        st.started_us = util_mono_us();
    }
}

void defrag_get_info(defrag_info *out)
{
    long long hits, misses;
    alloc_defrag_counts(&hits, &misses);
    int64_t current = st.running ? util_mono_us() - st.started_us : 0;
    *out = (defrag_info){
        .running = st.running,
        .hits = hits,
        .misses = misses,
        .key_hits = st.key_hits,
        .key_misses = st.key_misses,
        .total_ms = (st.total_us + current) / 1000,
        .current_ms = current / 1000,
    };
}
