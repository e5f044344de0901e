/* persistence: when snapshots are taken and loaded. The data loads from
 * dbfilename in dir at start-up; SAVE writes it; DEBUG RELOAD writes and
 * reads it back; SHUTDOWN (and SIGTERM) write it when save points are
 * configured, as Redis does. The file format is persist/rdb. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "module/module.h"
#include "module/module_abi.h"
#include "persist/aof.h"
#include "persist/rdb.h"
#include "persist/snapshot.h"
#include "repl/repl.h"
#include "script/lua.h"
#include "server/child.h"
#include "server/defrag.h"
#include "server/persistence.h"

static void clear_all(void);
static void clear_all_how(int lazy);

static int last_save_ok = 1;
static long long rdb_saves;
/* The background save (a child process, server/child.h). */
static long long dirty_at_start;
static long long last_bgsave_secs = -1;
static int bgsave_scheduled;
static int64_t last_bgsave_try_ms;
static int64_t bgsave_started_ms;
/* Why the background save is being stopped (FLUSHALL, its replicas gone):
 * stopped is not failed. */
static const char *bgsave_stopping;

/* A background save of either kind: a forkless snapshot or a child. */
static int bgsave_in_progress(void)
{
    return (snapshot_running() && !aof_rewriting()) || child_running() == CHILD_RDB;
}

static const char *rdb_path(void)
{
    return server.cfg.dbfilename && server.cfg.dbfilename[0] ? server.cfg.dbfilename : "dump.rdb";
}

int persistence_save(void)
{
    char err[512];
    int64_t start = util_mono_us();
    module_event_persistence(2); /* SYNC_RDB_START */
    if (rdb_save_file(rdb_path(), RDB_FORM_RDB, err, sizeof(err)) < 0) {
        /* Its caller learns of it (SAVE's error, a shutdown that stays):
         * only a failed background save stops writes (MISCONF), as in
         * Redis. */
        log_msg(LOG_WARNING, "%s", err);
        module_event_persistence(4); /* FAILED */
        return -1;
    }
    module_event_persistence(3); /* ENDED */
    log_msg(LOG_NOTICE, "DB saved on disk (%.3f seconds)", (double)(util_mono_us() - start) / 1e6);
    server.dirty = 0;
    server.lastsave = server_ms() / 1000;
    last_save_ok = 1;
    rdb_saves++;
    return 0;
}

static int bgsave_child(void)
{
    char err[512];
    if (rdb_save_file(rdb_path(), RDB_FORM_RDB, err, sizeof(err)) < 0) {
        log_msg(LOG_WARNING, "%s", err);
        return -1;
    }
    log_msg(LOG_NOTICE, "DB saved on disk");
    return 0;
}

static void bgsave_done(int ok)
{
    module_event_persistence(ok ? 3 : 4);
    last_bgsave_secs = (server_ms() - bgsave_started_ms) / 1000;
    if (bgsave_stopping) {
        log_msg(LOG_WARNING, "Background saving stopped by %s", bgsave_stopping);
    } else {
        last_save_ok = ok;
    }
    if (ok) {
        log_msg(LOG_NOTICE, "Background saving terminated with success");
        server.dirty -= dirty_at_start;
        server.lastsave = server_ms() / 1000;
        rdb_saves++;
    } else {
        log_msg(LOG_WARNING, "Background saving error");
    }
    /* Replicas waiting for this snapshot get it now. */
    repl_snapshot_done(ok);
}

int persistence_bgsave(void)
{
    if (bgsave_in_progress() || snapshot_running()) {
        return -1;
    }
    last_bgsave_try_ms = bgsave_started_ms = server_ms();
    dirty_at_start = server.dirty;
    module_event_persistence(0); /* RDB_START */
    if (server.cfg.bgsave_forkless) {
        if (snapshot_start(rdb_path(), RDB_FORM_RDB, bgsave_done) < 0) {
            last_save_ok = 0;
            return -1;
        }
        log_msg(LOG_NOTICE, "Background saving started (forkless)");
        return 0;
    }
    if (child_start(CHILD_RDB, bgsave_child, bgsave_done) < 0) {
        if (child_running() == CHILD_NONE) {
            last_save_ok = 0; /* fork failed */
        }
        return -1;
    }
    log_msg(LOG_NOTICE, "Background saving started");
    return 0;
}

void persistence_stop_bgsave(const char *why)
{
    if (!bgsave_in_progress()) {
        return;
    }
    bgsave_stopping = why;
    if (child_running() == CHILD_RDB) {
        child_kill();
    } else {
        snapshot_abort();
    }
    bgsave_stopping = NULL;
}

void persistence_save_after_flushall(void)
{
    if (persistence_save_points_set() && !server.loading) {
        persistence_save();
    }
}

void persistence_schedule_bgsave(void)
{
    bgsave_scheduled = 1;
}

/* The save points in `save`: pairs of seconds and changes. */
static int save_point_due(int64_t now_s)
{
    const char *p = server.cfg.save ? server.cfg.save : "";
    for (;;) {
        char *end;
        long long secs = strtoll(p, &end, 10);
        if (end == p) {
            return 0;
        }
        p = end;
        long long changes = strtoll(p, &end, 10);
        if (end == p) {
            return 0;
        }
        p = end;
        if (server.dirty >= changes && now_s - server.lastsave > secs) {
            return 1;
        }
    }
}

void persistence_cron(void)
{
    child_reap();
    if (child_running() != CHILD_NONE || snapshot_running()) {
        return;
    }
    int64_t now = server_ms();
    if (bgsave_scheduled) {
        bgsave_scheduled = 0;
        persistence_bgsave();
        return;
    }
    if (aof_rewrite_run_scheduled()) {
        return;
    }
    /* After a failure, retry no sooner than 5 s later, as Redis does. */
    if (persistence_save_points_set() && (last_save_ok || now - last_bgsave_try_ms > 5000) &&
        save_point_due(now / 1000)) {
        log_msg(LOG_NOTICE, "Save point reached: saving in background...");
        persistence_bgsave();
    }
}

const char *persistence_refuses_writes(void)
{
    if (server.cfg.stop_writes_on_bgsave_error && !last_save_ok && persistence_save_points_set()) {
        return MISCONF_ERROR;
    }
    return aof_write_error();
}

/* BGREWRITEAOF */
void cmd_bgrewriteaof(client *c)
{
    if (aof_rewriting()) {
        reply_err(c, "ERR Background append only file rewriting already in progress");
        return;
    }
    int rc = aof_rewrite();
    if (rc < 0) {
        reply_err(c, "ERR Can't execute an AOF background rewriting. Please check the server logs for more "
                     "information.");
    } else if (rc == 1) {
        reply_status(R(c), "Background append only file rewriting scheduled");
    } else {
        reply_status(R(c), "Background append only file rewriting started");
    }
}

/* BGSAVE [SCHEDULE] */
void cmd_bgsave(client *c)
{
    int schedule = 0;
    if (c->argc == 2 && arg_is(c, 1, "SCHEDULE")) {
        schedule = 1;
    } else if (c->argc > 1) {
        reply_syntax_error(c);
        return;
    }
    if (bgsave_in_progress()) {
        reply_err(c, "ERR Background save already in progress");
        return;
    }
    /* Inside EXEC the snapshot would hold half a transaction: after it. */
    if (child_running() != CHILD_NONE || snapshot_running() || server.in_exec) {
        if (!schedule && !server.in_exec) {
            reply_err(c, "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in "
                         "order to schedule a BGSAVE whenever possible.");
            return;
        }
        bgsave_scheduled = 1;
        reply_status(R(c), "Background saving scheduled");
        return;
    }
    if (persistence_bgsave() < 0) {
        reply_err(c, "ERR");
        return;
    }
    reply_status(R(c), "Background saving started");
}

/* dbfilename into the (empty) databases; a missing file is no data. */
static int load_rdb(void)
{
    char err[512];
    int64_t start = util_mono_us();
    /* Modules hear of a load only when there is a file to load. */
    int exists = access(rdb_path(), F_OK) == 0;
    if (exists) {
        module_event_loading(0); /* RDB_START */
    }
    int rc = rdb_load_file(rdb_path(), err, sizeof(err));
    if (exists) {
        module_event_loading(rc < 0 ? 4 : 3); /* FAILED, ENDED */
    }
    if (rc < 0) {
        log_msg(LOG_WARNING, "Fatal error loading the DB (%s): %s. Exiting.", rdb_path(), err);
        log_msg(LOG_WARNING, "Terminating server after rdb file reading failure."); /* Redis's words */
        return -1;
    }
    if (rc == 0) {
        long long keys = 0;
        for (int i = 0; i < server.cfg.databases; i++) {
            keys += (long long)db_size(&server.dbs[i]);
        }
        log_msg(LOG_NOTICE, "DB loaded from disk: %.3f seconds, %lld keys", (double)(util_mono_us() - start) / 1e6,
                keys);
    }
    return 0;
}

int persistence_load(void)
{
    if (server.cfg.appendonly) {
        /* With an AOF, the AOF is the truth, as in Redis; modules hear of
         * a load only when there is one to load. */
        int exists = aof_on_disk();
        if (exists) {
            module_event_loading(1); /* AOF_START */
        }
        int rc = aof_start();
        if (exists) {
            module_event_loading(rc < 0 ? 4 : 3);
        }
        return rc;
    }
    /* Only at start-up does the RDB's replication history count. */
    repl_restart_begin_load();
    int rc = load_rdb();
    repl_restart_end_load(rc == 0);
    return rc;
}

int persistence_load_replacement(const char *path)
{
    if (rename(path, rdb_path()) < 0) {
        log_msg(LOG_WARNING, "Failed trying to rename the temp DB into %s in MASTER <-> REPLICA synchronization: %s",
                rdb_path(), strerror(errno));
        return -1;
    }
    clear_all_how(server.cfg.replica_lazy_flush);
    char err[512];
    server.loading = 1;
    server.loading_start_ms = server_ms();
    module_event_loading(2); /* REPL_START */
    int rc = rdb_load_file(rdb_path(), err, sizeof(err));
    module_event_loading(rc != 0 ? 4 : 3);
    server.loading = 0;
    if (rc != 0) {
        log_msg(LOG_WARNING, "Error loading the DB received from the master: %s", rc < 0 ? err : "no file");
        clear_all(); /* never serve half a dataset */
        return -1;
    }
    return 0;
}

void persistence_loading_progress(long long done, long long total, int aof)
{
    static int64_t last_ms;
    server.loading_done = done;
    server.loading_total = total;
    module_event_loading_progress(done, total, aof);
    defrag_while_loading();
    if (!server.loading && !server.async_loading) {
        return; /* a load inside a command that serves nobody (a replica's swap) */
    }
    int64_t now = util_mono_us() / 1000;
    if (now - last_ms < 100) {
        return;
    }
    last_ms = now;
    persistence_serve_while_loading();
}

int persistence_serve_while_loading(void)
{
    if (!server.loading && !server.async_loading) {
        return 0;
    }
    server_update_time();
    client_serve_events();
    return 1;
}

int persistence_save_points_set(void)
{
    const char *s = server.cfg.save;
    while (s && *s == ' ') {
        s++;
    }
    return s && *s;
}

/* Empties every database, each key's watchers and trackers told; with
 * lazy (replica-lazy-flush) the tables are freed off the main thread. */
static void clear_all_how(int lazy)
{
    module_event_flush(1, -1, 1);
    for (int i = 0; i < server.cfg.databases; i++) {
        db *d = &server.dbs[i];
        server_key_written(d, (sv){NULL, 0}, NULL); /* before: trackers of existing keys */
        watch_db_replaced(d, NULL);
        if (lazy && db_size(d) > 0) {
            db_clear_lazy(d);
        } else {
            db_clear(d);
        }
    }
    script_functions_clear();
    module_event_flush(0, -1, 1);
}

static void clear_all(void)
{
    clear_all_how(0);
}

/* A swapdb load's own databases and libraries, swapped in at its end. */
static struct {
    db *dbs;
    str *libs;
    size_t nlibs;
    int async; /* the old ones served meanwhile (modules heard STARTED) */
} incoming;

static void incoming_library(str code, void *ctx)
{
    (void)ctx;
    incoming.libs = alloc_resize(incoming.libs, (incoming.nlibs + 1) * sizeof(str));
    incoming.libs[incoming.nlibs++] = code;
}

int persistence_load_stream(const rdb_source *src, uint64_t size, int swap, int async)
{
    rdb_target to = {NULL, incoming_library, NULL};
    if (swap) {
        incoming.dbs = alloc_mem((size_t)server.cfg.databases * sizeof(db));
        for (int i = 0; i < server.cfg.databases; i++) {
            db_init(&incoming.dbs[i], i);
        }
        to.dbs = incoming.dbs;
    } else {
        clear_all_how(server.cfg.replica_lazy_flush);
    }
    char err[512];
    if (swap && async) {
        incoming.async = 1;
        module_event_repl_async_load(KM_SUB_REPL_ASYNC_LOAD_STARTED);
        server.async_loading = 1;
    } else {
        server.loading = 1;
    }
    server.loading_start_ms = server_ms();
    module_event_loading(2); /* REPL_START */
    int rc = rdb_load_source(src, size, swap ? &to : NULL, err, sizeof(err));
    module_event_loading(rc != 0 ? 4 : 3);
    server.loading = server.async_loading = 0;
    if (rc != 0) {
        log_msg(LOG_WARNING, "Error loading the DB received from the master: %s", err);
        log_msg(LOG_WARNING, "Failed trying to load the MASTER synchronization DB from socket, check server logs.");
    }
    return rc;
}

void persistence_load_stream_end(int ok)
{
    if (!incoming.dbs) {
        if (!ok) {
            clear_all_how(1); /* never serve half a data set */
        }
        return;
    }
    if (ok) {
        log_msg(LOG_NOTICE, "MASTER <-> REPLICA sync: Swapping active DB with loaded DB");
        /* A snapshot started meanwhile (async loading serves the old data:
         * save points, an AOF rewrite) describes the old data set; its
         * walk must not meet the new one. */
        if (snapshot_running()) {
            snapshot_abort();
        }
        module_event_flush(1, -1, 1);
        script_functions_clear();
        for (size_t i = 0; i < incoming.nlibs; i++) {
            str err = NULL;
            if (script_functions_load_code(incoming.libs[i], str_len(incoming.libs[i]), 0, &err) < 0) {
                log_msg(LOG_WARNING, "Can't load a function library of the master's: %s", err ? err : "");
            }
            str_free(err);
        }
    } else {
        log_msg(LOG_NOTICE, "MASTER <-> REPLICA sync: Discarding the half-loaded data set, the old one stays");
    }
    for (int i = 0; i < server.cfg.databases; i++) {
        if (ok) {
            db *d = &server.dbs[i];
            server_key_written(d, (sv){NULL, 0}, NULL);
            watch_db_replaced(d, NULL);
            db_swap(d, &incoming.dbs[i]);
        }
        db_clear_lazy(&incoming.dbs[i]);
    }
    if (ok) {
        module_event_flush(0, -1, 1);
    }
    if (incoming.async) {
        module_event_repl_async_load(ok ? KM_SUB_REPL_ASYNC_LOAD_COMPLETED : KM_SUB_REPL_ASYNC_LOAD_ABORTED);
    }
    for (size_t i = 0; i < incoming.nlibs; i++) {
        str_free(incoming.libs[i]);
    }
    alloc_free(incoming.libs);
    alloc_free(incoming.dbs);
    memset(&incoming, 0, sizeof(incoming));
}

/* SAVE */
void cmd_save(client *c)
{
    if (bgsave_in_progress()) {
        reply_err(c, "ERR Background save already in progress");
        return;
    }
    if (persistence_save() < 0) {
        reply_err(c, "ERR");
        return;
    }
    reply_ok(R(c));
}

void cmd_lastsave(client *c)
{
    reply_int(R(c), (long long)server.lastsave);
}

/* DEBUG RELOAD [NOSAVE]: save (unless NOSAVE), empty, load. */
/* DEBUG LOADAOF: the AOF's files into emptied databases, as Redis. */
void persistence_debug_loadaof(client *c)
{
    clear_all();
    module_event_loading(1); /* AOF_START */
    /* Loading, as in Redis: the load serves events (other clients hear
     * -LOADING), so the caller's own reads wait, as a busy script's do,
     * and a kill meanwhile frees it only after. */
    server.loading = 1;
    server.loading_start_ms = server_ms();
    client_hold(c, 1);
    int rc = aof_reload();
    client_hold(c, 0);
    server.loading = 0;
    module_event_loading(rc < 0 ? 4 : 3);
    if (rc < 0) {
        reply_err(c, "ERR Error loading the AOF, check server logs.");
        return;
    }
    server.dirty = 0;
    reply_ok(R(c));
}

void persistence_debug_reload(client *c)
{
    int save = 1, flush = 1, merge = 0;
    for (int i = 2; i < c->argc; i++) {
        if (arg_is(c, i, "NOSAVE")) {
            save = 0;
        } else if (arg_is(c, i, "NOFLUSH")) {
            flush = 0;
        } else if (arg_is(c, i, "MERGE")) {
            merge = 1;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    if (save && persistence_save() < 0) {
        reply_err(c, "ERR Error trying to save the DB");
        return;
    }
    /* The snapshot just written, never the AOF (as Redis): a running log
     * keeps its files and must not see the loaded data again. */
    /* NOFLUSH loads on top of what is in memory: a key or library there
     * already fails the load, unless MERGE lets the file's replace it. */
    if (flush) {
        clear_all();
    }
    rdb_load_merge(merge);
    /* Loading, as DEBUG LOADAOF is (and as in Redis): the load may serve
     * events (its progress, a module's Yield), others hear -LOADING and
     * the caller's own reads wait. */
    server.loading = 1;
    server.loading_start_ms = server_ms();
    client_hold(c, 1);
    int rc = load_rdb();
    client_hold(c, 0);
    server.loading = 0;
    rdb_load_merge(0);
    if (rc < 0) {
        reply_err(c, "ERR Error trying to load the RDB dump, check server logs.");
        return;
    }
    reply_ok(R(c));
}

str persistence_info(str s)
{
    s = str_printf(s, "# Persistence\r\nloading:%d\r\nasync_loading:%d\r\n", server.loading, server.async_loading);
    if (server.loading) {
        int64_t elapsed = server_ms() - server.loading_start_ms;
        double perc = server.loading_total ? 100.0 * (double)server.loading_done / (double)server.loading_total : 0;
        long long eta = server.loading_done ? (long long)((double)elapsed / 1000.0 *
                                                          (double)(server.loading_total - server.loading_done) /
                                                          (double)server.loading_done)
                                            : 1;
        s = str_printf(s,
                       "loading_start_time:%lld\r\nloading_total_bytes:%lld\r\nloading_loaded_bytes:%lld\r\n"
                       "loading_loaded_perc:%.2f\r\nloading_eta_seconds:%lld\r\n",
                       (long long)(server.loading_start_ms / 1000), server.loading_total, server.loading_done, perc,
                       eta);
    }
    /* A forked child's copies are read from /proc; a forkless snapshot
     * copies nothing and reports how far its walk has come. */
    const child_cow *cow = child_cow_info();
    long long saved, total;
    if (!child_progress(&saved, &total)) {
        snapshot_progress(&saved, &total);
    }
    /* A module child's heartbeat says how far it is, as in Redis. */
    double fork_perc = child_fork_progress() > 0 ? child_fork_progress() * 100
                       : total                   ? 100.0 * (double)saved / (double)total
                                                 : 0.0;
    s = str_printf(s,
                   "current_cow_peak:%zu\r\n"
                   "current_cow_size:%zu\r\n"
                   "current_cow_size_age:%lld\r\n"
                   "current_fork_perc:%.2f\r\n"
                   "current_save_keys_processed:%lld\r\n"
                   "current_save_keys_total:%lld\r\n",
                   cow->peak, cow->current, cow->sampled_ms ? (long long)(server_ms() - cow->sampled_ms) / 1000 : 0LL,
                   fork_perc, saved, total);
    s = str_printf(s,
                   "rdb_changes_since_last_save:%lld\r\n"
                   "rdb_bgsave_in_progress:%d\r\n"
                   "rdb_last_save_time:%lld\r\n"
                   "rdb_last_bgsave_status:%s\r\n"
                   "rdb_last_bgsave_time_sec:%lld\r\n"
                   "rdb_current_bgsave_time_sec:%lld\r\n"
                   "rdb_saves:%lld\r\n"
                   "rdb_last_cow_size:%zu\r\n"
                   "rdb_last_load_keys_expired:%lld\r\n"
                   "rdb_last_load_keys_loaded:%lld\r\n",
                   server.dirty, bgsave_in_progress(), (long long)server.lastsave, last_save_ok ? "ok" : "err",
                   last_bgsave_secs,
                   bgsave_in_progress() ? (long long)((server_ms() - bgsave_started_ms) / 1000) : -1LL, rdb_saves,
                   cow->last_rdb, server.stats.rdb_last_load_keys_expired, server.stats.rdb_last_load_keys_loaded);
    s = aof_info(s);
    return str_printf(s, "module_fork_in_progress:%d\r\nmodule_fork_last_cow_size:%zu\r\n",
                      child_running() == CHILD_MODULE, cow->last_module);
}
