/* aof: the append-only file as Redis 7 writes it. A directory (appenddirname)
 * holds a manifest naming a base file (an RDB snapshot) and incremental files
 * of RESP commands; every write the propagation point emits is appended to
 * the last incremental file. Replies to writes leave the server only after
 * the commands are written to the file (and, under `appendfsync always`,
 * synced), so an acknowledged write is in the log. */
#ifndef KEEL_AOF_H
#define KEEL_AOF_H

#include "base/str.h"

typedef struct kobj kobj;

/* At start-up with appendonly yes: loads the manifest's files (or, without
 * an AOF, the RDB snapshot, from which a new AOF is made), then starts
 * appending. -1 after logging why the server cannot start. */
int aof_start(void);
/* Whether an AOF (its manifest) exists to be loaded. */
int aof_on_disk(void);
/* DEBUG LOADAOF: the log is flushed and its files loaded again into the
 * (emptied) databases, the AOF state left as it is. -1 on a bad file. */
int aof_reload(void);
/* Writes what is buffered (and syncs under `always`); the server calls it
 * before it sends replies. Cheap when nothing is buffered. */
void aof_flush(void);
/* Once a second under `everysec`: a background sync of what was written. */
void aof_cron(void);
/* At shutdown: write and sync everything. */
/* appendonly was turned on (or a full sync restarted the log) and the
 * rewrite that writes its first base has not finished: the files on disk
 * do not hold the data set yet. */
int aof_initial_rewrite_pending(void);
void aof_stop(void);
/* BGREWRITEAOF: a forked child writes a new base while writes go to a new
 * incremental file; the manifest then retires the old files. 0 started,
 * 1 scheduled (another child runs), -1 failed or AOF off. */
int aof_rewrite(void);
/* Whether a rewrite is writing its new base right now. */
int aof_rewriting(void);
/* Starts a scheduled rewrite when no child runs; 1 if it did. */
int aof_rewrite_run_scheduled(void);
/* CONFIG SET appendonly yes|no at run time. */
int aof_enable(void);
void aof_disable(void);
/* Test hook (DEBUG AOF-WRITE-ERROR ON|OFF): make log writes fail. */
void aof_debug_fail_writes(int on);
/* Test hook (DEBUG AOF-FLUSH-SLEEP <microseconds>, 0: off): each write of
 * the log's buffer waits first. */
void aof_debug_flush_sleep(long long us);
/* While the log cannot be written: the MISCONF text for refused writes
 * ("Errors writing to the AOF file: ..."), else NULL. */
const char *aof_write_error(void);
/* keel-check-aof (keel-server --check-aof [--fix] <file>): checks a
 * manifest and its files, or one file; --fix cuts the last incremental
 * file back to its last complete command. 0 when everything is valid. */
int aof_check(const char *path, int fix);
/* The commands that rebuild o (aof_commands.c), appended to out: the form
 * of an AOF base written with aof-use-rdb-preamble no. */
str aof_key_commands(str out, kobj *o, int dbid);
/* WAITAOF: bytes of commands fed to the log so far, and whether all of
 * the first seq are on disk (never while the log is off, or before the
 * first base of a log turned on at run time is in place). */
long long aof_fed(void);
int aof_synced_through(long long seq);
/* A replica's FACK: its primary's stream is on disk up to this offset
 * (-1: no log). */
long long aof_fsynced_reploff(void);
/* A replica's full sync replaced the data and the stream's offsets:
 * nothing counts as synced until the log's new base is in place. */
void aof_new_history(void);
/* INFO persistence's AOF fields. */
str aof_info(str s);
/* Memory of the commands waiting to be written (INFO mem_aof_buffer). */
size_t aof_buffer_memory(void);

#endif
