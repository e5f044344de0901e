/* rdb: snapshots in Redis's RDB format, version 10 (what Redis 7.0 writes),
 * so a dump.rdb moves between Keel and Redis both ways.
 *
 * Keel writes every key in a form Redis 7.0 loads: strings (integer and LZF
 * forms when they are shorter), lists as quicklists of listpacks, sets,
 * sorted sets and hashes as plain element lists, streams with their groups
 * and pending entries (STREAM_LISTPACKS_2), function libraries, expiry
 * times, aux fields and the CRC64 trailer. A hash with field TTLs uses
 * Redis 7.4's HASH_METADATA type, which only 7.4+ reads (as in Redis), and
 * a stream with idempotent producers Redis 8.6's STREAM_LISTPACKS_4.
 * Keel loads all of those and the compact encodings Redis 7.x writes
 * (listpack, intset, quicklist, set listpack), validating every length and
 * every compact encoding against the file before using it. */
#ifndef KEEL_RDB_H
#define KEEL_RDB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/str.h"

#define RDB_VERSION 10

/* What a snapshot is written as: an RDB file, or the commands that
 * rebuild each key (an AOF base with aof-use-rdb-preamble no). */
typedef enum { RDB_FORM_RDB, RDB_FORM_COMMANDS } rdb_form;

/* Writes every database to path atomically (a temporary file renamed over
 * it). Returns 0, or -1 with a message in err. */
int rdb_save_file(const char *path, rdb_form form, char *err, size_t errlen);
/* Loads path into the databases (which the caller has emptied). Returns 0,
 * 1 when there is no such file, or -1 with a message in err. */
int rdb_load_file(const char *path, char *err, size_t errlen);
/* The replication history the last loaded RDB recorded (Redis's repl-id,
 * repl-offset and repl-stream-db aux fields): 1 with them, 0 when it had
 * none. */
int rdb_loaded_repl_info(char id[41], long long *offset, int *stream_db);
/* While set, a key the load drops because it expired while the server was
 * down is passed to it (a restarted primary tells its replicas). */
extern void (*rdb_expired_on_load)(int dbid, sv key);
/* While on, a key or function library the file holds replaces the one in
 * memory (DEBUG RELOAD NOFLUSH MERGE); off, it fails the load. */
void rdb_load_merge(int on);
/* The same, telling in *end where the snapshot ended: an AOF of Redis 6
 * (one file, RDB preamble) goes on with commands after it. */
int rdb_load_file_end(const char *path, uint64_t *end, char *err, size_t errlen);
/* Bytes pulled on demand (a replica's diskless load reads its primary's
 * socket): read fills buf with 1 to len bytes and returns how many, 0 at
 * the end of the input, -1 on an error. */
typedef struct rdb_source {
    ssize_t (*read)(void *ctx, void *buf, size_t len);
    void *ctx;
} rdb_source;
/* Where a load puts what it reads instead of the live data set (a
 * replica's swapdb load): databases of its own (server.cfg.databases of
 * them, empty), and each function library's code, handed over (owned). */
typedef struct db db;
typedef struct rdb_target {
    db *dbs;
    void (*library)(str code, void *ctx);
    void *ctx;
} rdb_target;
/* Loads one snapshot from src, reading no byte past its CRC trailer; size
 * is its length when known, else 0; to is NULL for the live data set.
 * Returns 0, or -1 with a message in err. */
int rdb_load_source(const rdb_source *src, uint64_t size, const rdb_target *to, char *err, size_t errlen);
/* keel-check-aof: reads every value of path and keeps none, telling in
 * *end where the snapshot ended. Needs only the configuration's defaults
 * and the registered types. Returns 0, or -1 with a message in err. */
int rdb_check_file(const char *path, uint64_t *end, char *err, size_t errlen);

/* A snapshot written a key at a time (forkless BGSAVE): open writes the
 * header, aux fields and function libraries to a temporary file; keys may
 * come from any db in any order; close ends the file, syncs it and renames
 * it over path. */
typedef struct rdb_stream rdb_stream;
typedef struct kobj kobj;
rdb_stream *rdb_stream_open(rdb_form form, char *err, size_t errlen);
/* Removes temp-<pid>.rdb if a stream is writing it; async-signal-safe (a
 * second SIGINT during a shutdown's save exits at once, as in Redis). */
void rdb_remove_temp_from_signal(void);
/* The same snapshot handed to fn in chunks instead of a file (a diskless
 * full sync); close then takes no path. */
typedef void (*rdb_sink_fn)(const char *p, size_t len, void *ctx);
rdb_stream *rdb_stream_open_sink(rdb_sink_fn fn, void *ctx);
/* A snapshot with no key in it, in memory: the header, the aux fields and,
 * if functions, the function libraries (a replica's REPLCONF
 * rdb-filter-only). NULL if it could not be written. */
str rdb_snapshot_no_keys(int functions);
/* SELECTDB with a RESIZEDB size hint, so a loader sizes its table once. */
void rdb_stream_select(rdb_stream *s, int dbid, size_t keys, size_t expires);
void rdb_stream_key(rdb_stream *s, int dbid, kobj *o);
/* rdb-key-save-delay and key-load-delay, as Redis's test suites use them
 * to stretch a save or a load: d > 0 waits d microseconds (a key's worth),
 * d < 0 one microsecond every -d calls. */
void rdb_debug_delay(int d);
/* After the last key, before close (which may run on another thread):
 * what comes after the keys (modules' MODULE_AUX_AFTER_RDB aux data). */
void rdb_stream_keys_done(rdb_stream *s);
int rdb_stream_close(rdb_stream *s, const char *path, char *err, size_t errlen);
void rdb_stream_abort(rdb_stream *s);
/* Bytes of a file snapshot handed over and not yet written (0 for a sink):
 * the walk waits while the disk is this far behind. */
size_t rdb_stream_backlog(rdb_stream *s);

/* DUMP / RESTORE payloads: a value in RDB form, the RDB version (2 bytes,
 * little endian) and a CRC64 of everything before it (8 bytes). */
str rdb_dump_value(kobj *o, int dbid);
/* A new keyspace entry for key from payload, after checking its trailer
 * and every encoding in it; NULL with Redis's error text in err. */
kobj *rdb_restore_value(const char *payload, size_t len, sv key, int dbid, int64_t expire, char *err, size_t errlen);
/* FUNCTION DUMP / RESTORE payloads, as Redis writes them: each library's
 * source after a FUNCTION2 opcode, then the same trailer. parse calls fn
 * for each library; -1 with Redis's error text when the payload is bad. */
str rdb_dump_functions(void);
int rdb_parse_functions(const char *payload, size_t len, void (*fn)(const char *code, size_t len, void *ctx), void *ctx,
                        char *err, size_t errlen);

#endif
