/* persistence: snapshot policy (start-up load, SAVE, DEBUG RELOAD, saving
 * at shutdown) on top of persist/rdb. */
#ifndef KEEL_PERSISTENCE_H
#define KEEL_PERSISTENCE_H

#include "server/server.h"

/* Writes dbfilename in dir now; 0, or -1 (logged, and INFO reports it). */
int persistence_save(void);
/* Loads dbfilename at start-up (a missing file is an empty dataset); -1
 * after logging why the file cannot be loaded. */
int persistence_load(void);
/* Replaces the dataset with the snapshot a primary sent (renamed to
 * dbfilename first, as Redis does); -1 leaves the databases empty. */
int persistence_load_replacement(const char *path);
/* A replica's diskless load (repl-diskless-load): loads the snapshot from
 * src as it arrives (size: its length, 0 when unknown). Without swap the
 * databases are emptied first; with swap (swapdb) the load fills
 * databases of its own, and with async the old data set is served
 * meanwhile (INFO async_loading) instead of -LOADING.
 * persistence_load_stream_end must follow: with ok the new data set
 * replaces the old; without, a swap load is dropped and the old stays,
 * other loads leave the databases empty. */
typedef struct rdb_source rdb_source;
int persistence_load_stream(const rdb_source *src, uint64_t size, int swap, int async);
void persistence_load_stream_end(int ok);
/* Loaders report their progress (bytes done of total) every so often;
 * during start-up this also serves clients (with -LOADING). */
void persistence_loading_progress(long long done, long long total, int aof);
/* Serves clients now if a load is under way (start-up, a full sync,
 * DEBUG RELOAD or LOADAOF): for a module's Yield. 0 when none is. */
int persistence_serve_while_loading(void);
/* Whether `save` has save points (Redis then saves at shutdown). */
int persistence_save_points_set(void);
void persistence_debug_reload(client *c);
void persistence_debug_loadaof(client *c);
/* BGSAVE: a forked child writes the snapshot; 0 started, -1 not (already
 * running, or fork failed). The cron reaps it and runs the save points. */
int persistence_bgsave(void);
/* Stops a background save (a BGSAVE, or the snapshot of a full sync; not
 * an AOF rewrite), as Redis kills its RDB child; why ("FLUSHALL") goes to
 * the log. FLUSHALL stops it because its file would bring the flushed keys
 * back (and a forkless walk would first save every key the flush deletes);
 * a full sync's, once no replica waits for it. Stopped is not failed: no
 * MISCONF follows. */
void persistence_stop_bgsave(const char *why);
/* FLUSHALL with save points set saves the emptied dataset at once, so a
 * restart cannot bring the flushed keys back (as Redis does; not while the
 * AOF replays). */
void persistence_save_after_flushall(void);
/* BGSAVE SCHEDULE: run a BGSAVE as soon as the running child ends. */
void persistence_schedule_bgsave(void);
void persistence_cron(void);
/* The MISCONF error writes get while the data cannot be persisted (the
 * last snapshot failed under stop-writes-on-bgsave-error, or the AOF cannot
 * be written); NULL when writes are fine. */
const char *persistence_refuses_writes(void);
#define MISCONF_ERROR                                                                                                  \
    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that "  \
    "may modify the data set are disabled, because this instance is configured to report errors during writes if RDB " \
    "snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB "  \
    "error."
/* INFO's Persistence section. */
str persistence_info(str s);

#endif
