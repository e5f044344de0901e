/* snapshot: forkless point-in-time snapshots. See snapshot.h.
 *
 * Invariant while a snapshot runs: an entry whose snap bit equals
 * kobj_snap_parity is either already in the file or did not exist when the
 * snapshot began; every other entry still holds its value from the start,
 * because the db layer calls before_change (db_will_change) before any
 * change to it. The walk and the hooks save an entry at most once, so the
 * file has every key of the start exactly once.
 *
 * Work is bounded: each step walks buckets for at most STEP_US of time and
 * then lets the event loop serve clients (a timer that fires again at once
 * keeps the loop from sleeping until the snapshot is done). A write to a
 * not yet saved key pays for saving that one key first. */
#include "persist/snapshot.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "persist/rdb.h"
#include "server/server.h"

/* 250 us of walking per step: a client waits about that much longer for
 * a reply while a snapshot runs (DESIGN §6). Measured with 50 clients
 * reading flat out during a 1 GB snapshot: 1 ms steps gave a p99 of 2.7 ms,
 * 250 us gives 1.3 ms (and more reads per second than Redis's fork). */
#define STEP_US 250

static struct {
    int active;
    rdb_stream *out;
    char *path;
    void (*done)(int ok);
    int db;
    unsigned long cursor;
    long long timer;
    /* The end: the file is closed, synced and renamed on a helper thread
     * (a sync of a big file would stall the loop), then done runs here. */
    pthread_t closer;
    atomic_int closing; /* 1 while the helper works, 2 when it is done */
    int sink;           /* to replicas, not a file: closed right here */
    int (*throttle)(void);
    int close_ok;
    char close_err[512];
    long long saved, total; /* keys written so far, of the keys at the start */
    /* rdb-key-save-delay (a test knob that makes a snapshot last): the
     * walk waits until then before its next step, instead of spinning the
     * delay away on the main thread as a child or a helper thread may.
     * Every key saved is charged, by the walk or by a write that saved it
     * first, so the snapshot lasts as long as a child's would however
     * many keys writes touch meanwhile. */
    int64_t resume_us;
    long long charged;
} snap;

static void save_entry(int dbid, kobj *o)
{
    /* Once the walk is over every entry is saved; the file belongs to the
     * closing helper then. */
    if (o->snap == kobj_snap_parity || atomic_load(&snap.closing)) {
        return;
    }
    rdb_stream_key(snap.out, dbid, o);
    snap.saved++;
    o->snap = kobj_snap_parity;
}

static void before_change(db *d, kobj *o)
{
    if (snap.active) {
        save_entry(d->id, o);
    }
}

static void save_whole_db(db *d)
{
    ktable_iter it;
    ktable_iter_init(&it, &d->keys);
    void *n;
    while ((n = ktable_iter_next(&it))) {
        save_entry(d->id, (kobj *)n);
    }
    ktable_iter_done(&it);
}

static void before_flush(db *d)
{
    if (snap.active) {
        save_whole_db(d);
    }
}

static void visit(void *n, void *ctx)
{
    save_entry(*(int *)ctx, (kobj *)n);
    if (server.cfg.rdb_key_save_delay < 0) {
        rdb_debug_delay(server.cfg.rdb_key_save_delay); /* a microsecond every so many keys */
    }
}

/* The snapshot is over (its stream closed or aborted): tell its owner. */
static void ended(int ok)
{
    snap.out = NULL;
    snap.active = 0;
    alloc_free(snap.path);
    snap.path = NULL;
    void (*done)(int) = snap.done;
    snap.done = NULL;
    if (done) {
        done(ok);
    }
}

static void finish(int ok)
{
    char err[512] = "";
    if (ok && rdb_stream_close(snap.out, snap.sink ? NULL : snap.path, err, sizeof(err)) < 0) {
        log_msg(LOG_WARNING, "%s", err);
        ok = 0;
    } else if (!ok) {
        rdb_stream_abort(snap.out);
    }
    ended(ok);
}

/* Walks buckets until the budget is spent; 1 when the walk is complete. */
static int walk(int64_t budget_us)
{
    int64_t start = util_mono_us();
    int n = 0;
    int delay = budget_us >= 0 ? server.cfg.rdb_key_save_delay : 0;
    while (snap.db < server.cfg.databases) {
        db *d = &server.dbs[snap.db];
        int id = snap.db;
        if (delay > 0 && util_mono_us() < snap.resume_us) {
            return 0;
        }
        if (snap.cursor == 0 && db_size(d) > 0) {
            rdb_stream_select(snap.out, id, db_size(d), d->expires); /* entering a db: a size hint */
        }
        snap.cursor = ktable_scan(&d->keys, snap.cursor, visit, &id);
        if (delay > 0) {
            snap.resume_us = util_mono_us() + (int64_t)delay * (snap.saved - snap.charged);
            snap.charged = snap.saved;
        }
        if (snap.cursor == 0) {
            snap.db++;
        }
        if (budget_us >= 0 && (++n & 63) == 0 && util_mono_us() - start > budget_us) {
            return 0;
        }
    }
    return 1;
}

static void *close_main(void *arg)
{
    (void)arg;
    snap.close_ok = rdb_stream_close(snap.out, snap.path, snap.close_err, sizeof(snap.close_err)) == 0;
    atomic_store(&snap.closing, 2);
    return NULL;
}

/* After the helper closed the file: report as finish() does. */
static void closed(void)
{
    pthread_join(snap.closer, NULL);
    atomic_store(&snap.closing, 0);
    if (!snap.close_ok) {
        log_msg(LOG_WARNING, "%s", snap.close_err);
    }
    ended(snap.close_ok); /* the helper's rdb_stream_close freed the stream */
}

static long step(ev_loop *l, long long id, void *data)
{
    (void)l;
    (void)id;
    (void)data;
    if (!snap.active) {
        snap.timer = 0;
        return -1;
    }
    int c = atomic_load(&snap.closing);
    if (c == 2) {
        snap.timer = 0;
        closed();
        return -1;
    }
    if (c == 1) {
        return 5; /* the helper is still syncing */
    }
    if (snap.throttle && snap.throttle()) {
        return 1; /* the replicas or the disk are behind: let them catch up */
    }
    if (!walk(STEP_US)) {
        int64_t wait = snap.resume_us - util_mono_us();
        return wait > 0 ? (long)((wait + 999) / 1000) : 0; /* else again at once, after serving clients */
    }
    rdb_stream_keys_done(snap.out); /* here: module code runs on the main thread only */
    if (snap.sink) {
        snap.timer = 0;
        finish(1); /* nothing to sync: the sink gets the last bytes now */
        return -1;
    }
    atomic_store(&snap.closing, 1);
    if (pthread_create(&snap.closer, NULL, close_main, NULL) != 0) {
        atomic_store(&snap.closing, 0);
        snap.timer = 0;
        finish(1); /* no thread: close here */
        return -1;
    }
    return 5;
}

static void stop_timer(void)
{
    if (snap.timer) {
        ev_timer_del(server.loop, snap.timer);
        snap.timer = 0;
    }
}

/* A close in progress completes before anything else happens. */
static int wait_closing(void)
{
    if (atomic_load(&snap.closing) == 0) {
        return 0;
    }
    while (atomic_load(&snap.closing) != 2) {
        usleep(1000);
    }
    stop_timer();
    closed();
    return 1;
}

static void begin(const char *path, void (*done)(int ok));

/* The walk waits while the disk is more than this behind, so writes to
 * keys not yet saved rarely have to wait for the writer's 8 MB bound. */
#define DISK_BACKLOG_MAX (4u << 20)

static int disk_behind(void)
{
    return rdb_stream_backlog(snap.out) > DISK_BACKLOG_MAX;
}

int snapshot_start(const char *path, rdb_form form, void (*done)(int ok))
{
    if (snap.active) {
        return -1;
    }
    char err[512];
    snap.out = rdb_stream_open(form, err, sizeof(err));
    if (!snap.out) {
        log_msg(LOG_WARNING, "%s", err);
        return -1;
    }
    snap.sink = 0;
    snap.throttle = disk_behind;
    begin(path, done);
    return 0;
}

int snapshot_start_sink(rdb_sink_fn fn, void *ctx, int (*throttle)(void), void (*done)(int ok))
{
    if (snap.active) {
        return -1;
    }
    snap.out = rdb_stream_open_sink(fn, ctx);
    if (!snap.out) {
        return -1;
    }
    snap.sink = 1;
    snap.throttle = throttle;
    begin("", done);
    return 0;
}

static void begin(const char *path, void (*done)(int ok))
{
    db_hooks_installed.before_change = before_change;
    db_hooks_installed.before_flush = before_flush;
    kobj_snap_parity ^= 1; /* every entry now reads as not yet saved */
    snap.active = 1;
    snap.path = alloc_strdup(path);
    snap.done = done;
    snap.db = 0;
    snap.cursor = 0;
    snap.saved = snap.total = snap.charged = 0;
    snap.resume_us = 0;
    for (int i = 0; i < server.cfg.databases; i++) {
        snap.total += (long long)db_size(&server.dbs[i]);
    }
    snap.timer = ev_timer_add(server.loop, 0, step, NULL);
}

int snapshot_progress(long long *saved, long long *total)
{
    if (!snap.active) {
        *saved = *total = 0;
        return 0;
    }
    *saved = snap.saved;
    *total = snap.total;
    return 1;
}

int snapshot_running(void)
{
    return snap.active;
}

void snapshot_abort(void)
{
    if (!snap.active || wait_closing()) {
        return;
    }
    stop_timer();
    /* Mark what was not reached as saved: the next snapshot flips the
     * parity and must find every entry unsaved. */
    for (int i = 0; i < server.cfg.databases; i++) {
        ktable_iter it;
        ktable_iter_init(&it, &server.dbs[i].keys);
        void *n;
        while ((n = ktable_iter_next(&it))) {
            ((kobj *)n)->snap = kobj_snap_parity;
        }
        ktable_iter_done(&it);
    }
    finish(0);
}

void snapshot_finish_now(void)
{
    if (!snap.active || wait_closing()) {
        return;
    }
    stop_timer();
    walk(-1);
    rdb_stream_keys_done(snap.out);
    finish(1);
}
