/* repl: replication with Redis's protocol (PSYNC2), so Redis replicas,
 * Sentinel and the tools around them work with Keel unchanged.
 *
 * Both roles share one history: a replication ID, an offset (bytes of the
 * stream so far) and the backlog of its last bytes. A primary produces the
 * stream from the propagation point (primary.c); a replica applies its
 * primary's stream and passes the same bytes on to its own replicas
 * (replica.c), so a promoted replica keeps the history and the others
 * resync partially. */
#ifndef KEEL_REPL_H
#define KEEL_REPL_H

#include "repl/backlog.h"
#include "server/server.h"

typedef struct repl_history {
    char replid[41];
    char replid2[41];        /* the history this one continues */
    long long offset;        /* master_repl_offset */
    long long second_offset; /* replid2 is valid up to here (-1: none) */
    backlog *bl;             /* NULL until a replica first attaches */
    int seldb;               /* db the stream last selected (-1: none) */
} repl_history;

extern repl_history repl;

void repl_init(void);
/* After the data has loaded: follows `replicaof` from the configuration. */
void repl_start(void);
/* INFO's Replication section. */
str repl_info(str s);
/* CONFIG GET replicaof: "host port", or empty on a primary. */
str repl_primary_config(str s);
int repl_primary_is(const char *host, int port);
/* Every second: pings, acks, reconnects, timeouts, backlog TTL. */
void repl_cron(void);
/* Before the loop sleeps: acks WAIT is waiting for. */
void repl_before_sleep(void);
/* A new random replication ID; the old one becomes replid2 (promotion). */
void repl_shift_id(void);
void repl_new_id(void);

/* ---- across a restart (restart.c) ---- */
/* What an RDB records of the history (repl-id, repl-offset, repl-stream-db):
 * 1 when this server is in a replication chain. */
int repl_rdb_info(char id[41], long long *offset, int *stream_db);
/* Around the start-up load of the RDB: a replica continues the history it
 * recorded (a partial resync can follow); a primary keeps it as its
 * secondary ID with the DELs of the keys that expired meanwhile in its
 * backlog, so its replicas can. loaded: the load succeeded. */
void repl_restart_begin_load(void);
void repl_restart_end_load(int loaded);

/* ---- primary side (primary.c) ---- */
/* Appends raw stream bytes to the backlog and every replica. */
void repl_feed_raw(const char *p, size_t len);
/* Replicas are dropped (history changed: full sync or promotion). */
void repl_drop_replicas(void);
int repl_replica_count(void);
/* Replicas in sync with a recent ack (min-replicas-to-write). */
int repl_good_replicas(void);
/* NOREPLICAS while too few good replicas, else NULL. */
const char *repl_refuses_writes(void);
/* A full sync's snapshot has been written (ok or not). */
void repl_snapshot_done(int ok);
void repl_primary_info(str *s);
void repl_role_replicas(client *c);
void cmd_sync_impl(client *c, int psync);
void repl_replconf(client *c);
void repl_wait(client *c, long long numreplicas, long long timeout_ms);
/* WAITAOF: until the local log (numlocal > 0) and numreplicas replicas'
 * logs have c's writes on disk. */
void repl_waitaof(client *c, int numlocal, long long numreplicas, long long timeout_ms);
/* After the local log synced: answers the WAITAOF-ers it satisfies. */
void repl_wait_aof_check(void);
/* Creates the backlog (and, on a primary, a new replication ID) when the
 * first replica attaches. */
void repl_ensure_backlog(void);
/* A new empty backlog at the current offset (a replica after a full sync). */
void repl_reset_backlog(void);
/* Answers the WAIT-ers whose replicas have acknowledged enough. */
void repl_wait_check(void);
/* INFO stats: sync_full, sync_partial_ok, sync_partial_err. */
str repl_sync_stats(str s);
/* CONFIG RESETSTAT. */
void repl_sync_stats_reset(void);
void repl_primary_cron(void);
void repl_primary_init(void);
/* CONFIG SET repl-backlog-size (Redis's floor: 16 KB). */
void repl_backlog_resized(void);
size_t repl_backlog_bytes(void);
/* The stream's shared blocks (INFO mem_total_replication_buffers), 0
 * before the first replica made a backlog. */
size_t repl_buffer_memory(void);
/* Their part the backlog's limit accounts for (INFO
 * mem_replication_backlog). */
size_t repl_backlog_memory(void);
/* The rest, kept for lagging replicas, and replicas' output buffers (INFO
 * mem_clients_slaves; not counted for maxmemory). */
size_t repl_replica_buffers_memory(void);
/* A replica client's stream not yet in its output buffer (it counts
 * toward its output limits), and the next piece of it copied there
 * before a write. */
size_t repl_output_lag(const client *c);
void repl_output_fill(client *c);
/* Whether an online replica has stream left to write. */
int repl_output_more(const client *c);

/* Keys a writable replica's own clients gave a TTL (replica_expires.c):
 * noted after such a write, deleted by the cron once expired, forgotten
 * when the replica is promoted. */
void repl_track_expires(client *c, const command *cmd);
void repl_expire_tracked(void);
void repl_forget_tracked(void);
size_t repl_tracked_expires(void);

/* FAILOVER (failover.c) and what it asks of the primary side. */
const char *repl_failover_state(void);
void repl_failover_check(void);
void repl_failover_psync_result(int ok);
void repl_request_acks(void);
/* Replicas whose acknowledged offset is the primary's (total: all of
 * them); with log_lagging, each other one is logged as Redis logs it when
 * shutting down. */
int repl_replicas_in_sync(int *total, int log_lagging);
int repl_find_replica(const char *host, int port, int *online);
/* A replica (host NULL: any) that has acked the whole stream. */
int repl_replica_caught_up(const char *host, int port, char *out, size_t outlen, int *out_port);

/* ---- replica side (replica.c) ---- */
int repl_is_replica(void);
/* REPLICAOF host port; host NULL = NO ONE. */
void repl_set_primary(const char *host, int port);
/* Same, asking the new primary (our replica until now) to promote itself
 * first ("PSYNC ... FAILOVER"). */
void repl_set_primary_failover(const char *host, int port);
/* The master client has applied len bytes of the stream (client.c). */
void repl_master_applied(client *c, const char *p, size_t len, size_t reply_mark);
/* REPLCONF GETACK from our primary: ack after this command. */
void repl_ack_requested(void);
/* Every tick: the primary hears at once when the log synced more of its
 * stream (WAITAOF waits on it). */
void repl_replica_fack_check(void);
/* Whether the link to the primary is up (serve-stale-data, INFO). */
int repl_link_up(void);
void repl_replica_info(str *s);
void repl_role_replica(client *c);
/* The master client went away: keep the history for a partial resync. */
void repl_master_lost(client *c);

#endif
