/* server: the process-wide state, the client, and the functions command
 * handlers use to talk to the server (replies, key-change signals,
 * propagation). Only cmd/ and server/ include this header. */
#ifndef KEEL_SERVER_H
#define KEEL_SERVER_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/dict.h"
#include "base/str.h"
#include "cmd/cmd.h"
#include "db/db.h"
#include "net/ev.h"
#include "proto/reply.h"
#include "proto/resp_parse.h"
#include "types/list.h"

#define KEEL_VERSION "0.1.0"
/* The Redis version we report to clients that check features by version. */
#define KEEL_REDIS_COMPAT_VERSION "7.2.4"

/* Client flags. */
#define CLIENT_CLOSE_AFTER_REPLY (1u << 0)
#define CLIENT_CLOSE_ASAP (1u << 1)
#define CLIENT_MULTI (1u << 2)
#define CLIENT_DIRTY_CAS (1u << 3)  /* a WATCHed key changed */
#define CLIENT_DIRTY_EXEC (1u << 4) /* a queued command was refused */
#define CLIENT_BLOCKED (1u << 5)
#define CLIENT_PUBSUB (1u << 6) /* RESP2 subscribed mode */
#define CLIENT_PENDING_WRITE (1u << 7)
#define CLIENT_UNIX (1u << 8)
#define CLIENT_FAKE (1u << 9) /* scripts, AOF load: no socket */
#define CLIENT_IN_EXEC (1u << 10)
#define CLIENT_IN_SCRIPT (1u << 11)
#define CLIENT_MONITOR (1u << 12)
#define CLIENT_REPLICA (1u << 13)
#define CLIENT_MASTER (1u << 14)
#define CLIENT_TRACKING (1u << 15)
#define CLIENT_NO_EVICT (1u << 16)
#define CLIENT_REPLY_OFF (1u << 17)
#define CLIENT_REPLY_SKIP (1u << 18)      /* CLIENT REPLY SKIP: this command's reply goes */
#define CLIENT_REPLY_SKIP_NEXT (1u << 19) /* set by SKIP itself: the next one's goes */
#define CLIENT_REPLAY (1u << 20)          /* the AOF replay's: an error reply is unexpected */
#define CLIENT_LUA_DEBUG (1u << 21)       /* SCRIPT DEBUG YES or SYNC: EVAL runs under the debugger */
#define CLIENT_LUA_DEBUG_SYNC (1u << 22)  /* ... SYNC: in this process */
/* Blocked in a module's auth callback (BlockClientOnAuth): its AUTH or
 * HELLO is counted in INFO commandstats when it ends, as in Redis 7.2. */
#define CLIENT_AUTH_BLOCKED (1u << 23)
/* The running command's reply is dropped from reply_mark on (CLIENT REPLY
 * OFF|SKIP); pushes to the client are not (client_push_begin/end). */
#define CLIENT_SILENCED (1u << 24)
/* Its command serves events (DEBUG LOADAOF): killed meanwhile, it is freed
 * only once the flag is gone (Redis's protectClient). */
#define CLIENT_PROTECTED (1u << 25)
/* Killed or evicted by another client's command: freed at the next reap,
 * but gone already to CLIENT LIST and CLIENT KILL, as Redis frees such a
 * client at once. */
#define CLIENT_GONE (1u << 26)

/* Keyspace notification classes (notify-keyspace-events letters). */
#define NOTIFY_KEYSPACE (1 << 0)  /* K */
#define NOTIFY_KEYEVENT (1 << 1)  /* E */
#define NOTIFY_GENERIC (1 << 2)   /* g */
#define NOTIFY_STRING (1 << 3)    /* $ */
#define NOTIFY_LIST (1 << 4)      /* l */
#define NOTIFY_SET (1 << 5)       /* s */
#define NOTIFY_HASH (1 << 6)      /* h */
#define NOTIFY_ZSET (1 << 7)      /* z */
#define NOTIFY_EXPIRED (1 << 8)   /* x */
#define NOTIFY_EVICTED (1 << 9)   /* e */
#define NOTIFY_STREAM (1 << 10)   /* t */
#define NOTIFY_KEY_MISS (1 << 11) /* m */
#define NOTIFY_LOADED (1 << 12)   /* module only */
#define NOTIFY_MODULE (1 << 13)   /* d */
#define NOTIFY_NEW (1 << 14)      /* n */
#define NOTIFY_ALL                                                                                                     \
    (NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET | NOTIFY_HASH | NOTIFY_ZSET | NOTIFY_EXPIRED |          \
     NOTIFY_EVICTED | NOTIFY_STREAM | NOTIFY_MODULE) /* A */

/* Per-feature client state lives in the feature's own module. */
struct multi_state;
struct block_state;
struct pubsub_state;
struct tracking_state;
struct watch_state;
struct replica;

struct client {
    uint64_t id;
    int fd;
    struct tls_conn *tls; /* NULL: plain TCP or unix socket (net/conn.h) */
    uint32_t flags;
    db *db;
    int resp; /* 2 or 3 */
    int authenticated;
    struct acl_user *user; /* ACL user (src/acl/); the default user until AUTH */
    void *module_auth;     /* a module's user-changed callback (module_acl.c) */
    str name;
    str lib_name;
    str lib_ver;
    char addr[128]; /* ip:port, [ipv6]:port or unix-path:0 (sun_path is 108) */
    char laddr[128];

    /* Input: query buffer with a parse position, parser state, argv. */
    char *qbuf;
    size_t qlen, qcap, qpos;
    size_t cmd_start;  /* where the command being parsed begins */
    size_t reply_mark; /* out.len when the running command began (or after its last push) */
    size_t qbuf_peak;
    int64_t query_since; /* ms: when the bytes still in qbuf began arriving */
    resp_parser parser;
    sv *argv;
    int argc;
    int argv_cap;
    /* Strings owned by the current argv (rewrites, queued commands). */
    str *argv_owned;
    int argv_owned_len, argv_owned_cap;
    /* argv as the client sent it, saved by the command's first rewrite
     * (MONITOR and SLOWLOG show it, as Redis does) while orig_kept; the
     * array stays with the client, so a rewrite allocates nothing. */
    sv *orig_argv;
    int orig_argc, orig_cap, orig_kept;
    command *cmd;
    command *lastcmd;

    /* Output. */
    rbuf out;
    int64_t obuf_soft_since; /* ms when the soft limit was first exceeded */

    int64_t ctime;            /* ms */
    int64_t last_interaction; /* ms */

    /* Propagation override set by a handler (deterministic rewrite). */
    int propagate_as_is;
    /* Its memory as last measured for maxmemory-clients (client_evict.c). */
    size_t mem_seen;
    /* PROPAGATE_* targets this client's writes skip (a script's fake
     * client after redis.set_repl). */
    int propagate_skip;
    /* Error replies written so far (a module's blocked command fails
     * when its thread replied one). */
    unsigned errors_replied;

    struct multi_state *mstate;
    struct block_state *bstate;
    struct pubsub_state *pstate;
    struct tracking_state *tstate;
    struct watch_state *wstate;
    struct replica *rstate; /* a replica of ours (repl/primary.c) */

    struct client *prev, *next;  /* all clients */
    struct client *pending_next; /* clients with replies to write */
    int in_pending;
    int read_deferred; /* in the batch of reads for the I/O threads */
    /* An I/O step's outcome, kept for the main thread to act on: bytes
     * moved or -1, and errno of a failed read. */
    ssize_t io_result;
    int io_errno;
};

/* The primary's stream and the AOF replay: what they send was accepted
 * once already, so size limits meant for clients do not apply (as Redis's
 * mustObeyClient). */
static inline int client_must_obey(const client *c)
{
    return (c->flags & (CLIENT_MASTER | CLIENT_REPLAY)) != 0;
}

/* Client-output-buffer-limit classes. */
enum { OBUF_NORMAL = 0, OBUF_REPLICA = 1, OBUF_PUBSUB = 2, OBUF_CLASSES = 3 };
typedef struct obuf_limit {
    unsigned long long hard, soft; /* bytes; unsigned as in Redis */
    long long soft_seconds;
} obuf_limit;

typedef struct server_config {
    int port;
    char *bind;             /* space-separated addresses */
    char *bind_source_addr; /* local address of the replication link ("": any) */
    int metrics_port;       /* HTTP /metrics, /json and dashboard; 0 = off */
    char *metrics_bind;     /* one address */
    char *unixsocket;
    int unixsocketperm;
    str requirepass;      /* binary-safe: a password may hold a NUL */
    long long maxclients; /* 1..2^32-1 as Redis reads it; the fd limit caps it in use */
    int timeout;          /* idle seconds, 0 = never */
    int tcp_keepalive;
    int tcp_backlog;
    int databases;
    int hz;
    int watchdog_period;  /* ms; 0: off (server/watchdog.c) */
    int shutdown_timeout; /* seconds a shutdown waits for lagging replicas */
    int dynamic_hz;
    int busy_poll_us;
    int io_threads; /* I/O threads, the main thread included */
    int io_threads_do_reads;
    int io_backend;             /* IO_BACKEND_* */
    int io_threads_min_clients; /* batch size that engages them; 0: 2 per thread */
    int loglevel;
    char *logfile;
    char *dir;
    int daemonize;
    char *pidfile;
    int protected_mode;
    unsigned long long maxmemory; /* unsigned, as Redis's: 99999999999999999999 reads back 2^64-1 */
    /* maxmemory-clients: all clients' memory at most this many bytes, or
     * this percent of maxmemory (client_evict.c); 0 both: no limit. */
    long long maxmemory_clients;
    int maxmemory_clients_perc;
    int maxmemory_policy;
    int maxmemory_samples;
    int maxmemory_eviction_tenacity;
    int lfu_log_factor;
    int lfu_decay_time;
    long long proto_max_bulk_len;
    long long client_query_buffer_limit;
    obuf_limit obuf[OBUF_CLASSES];
    size_t obuf_floor;            /* the smallest limit set in obuf: below it none can trip */
    int enable_debug_command;     /* PROTECTED_NO, _YES or _LOCAL */
    int enable_module_command;    /* the same for MODULE LOAD|LOADEX|UNLOAD */
    int enable_protected_configs; /* the same for CONFIG SET of dir, dbfilename */
    int active_expire;            /* DEBUG SET-ACTIVE-EXPIRE */
    size_t list_plain_min;        /* DEBUG QUICKLIST-PACKED-THRESHOLD (list.h's plain_min) */
    int lazyfree_lazy_user_del;
    int lazyfree_lazy_user_flush;
    int lazyfree_lazy_expire;
    int lazyfree_lazy_eviction;
    int lazyfree_lazy_server_del;
    char *notify_keyspace_events_str;
    int notify_keyspace_events;
    /* persistence (stored now, enforced by the persistence layer) */
    char *save;
    int appendonly;
    char *appendfsync;
    char *appendfilename;
    char *appenddirname;
    int aof_load_truncated;
    int auto_aof_rewrite_percentage;
    long long auto_aof_rewrite_min_size;
    char *dbfilename;
    int rdbcompression;
    int stop_writes_on_bgsave_error;
    int bgsave_forkless;
    int rdb_key_save_delay;         /* test knob: microseconds per key saved */
    int key_load_delay;             /* test knob: microseconds per key loaded */
    int use_exit_on_panic;          /* hidden: a PANIC/ASSERT ends in exit(1), not SIGABRT (tests) */
    int propagation_error_behavior; /* PROPAGATION_ERR_* */
    int loading_events_interval;    /* bytes loaded between two looks at the clients */
    int rdbchecksum;
    /* collections encodings */
    long long list_max_listpack_size;
    int list_compress_depth;
    long long hash_max_listpack_entries;
    long long hash_max_listpack_value;
    long long set_max_intset_entries;
    long long set_max_listpack_entries;
    long long set_max_listpack_value;
    long long zset_max_listpack_entries;
    long long zset_max_listpack_value;
    long long stream_node_max_bytes;
    long long stream_node_max_entries;
    long long stream_idmp_duration; /* a new stream's IDMP-DURATION (seconds) */
    long long stream_idmp_maxsize;  /* a new stream's IDMP-MAXSIZE */
    /* scripting */
    long long busy_reply_threshold;
    long long tracking_table_max_keys;
    /* slowlog */
    long long slowlog_log_slower_than;
    long long slowlog_max_len;
    long long latency_monitor_threshold;
    int latency_tracking;
    double *latency_percentiles; /* latency-tracking-info-percentiles (any number, as Redis) */
    int latency_percentiles_n;
    char *replicaof;
    int replica_read_only;
    int replica_ignore_disk_errors; /* replica-ignore-disk-write-errors */
    int repl_diskless_sync;
    long long repl_backlog_size;
    str masterauth; /* binary-safe too */
    char *masteruser;
    char *sanitize_dump_payload; /* stored: Keel always sanitizes */
    int min_replicas_to_write;
    int min_replicas_max_lag;
    int repl_ping_replica_period;
    int repl_timeout;
    long long repl_backlog_ttl;
    char *replica_announce_ip;
    int replica_announce_port;
    int replica_announced;
    /* Directives of Redis's default redis.conf, so it starts Keel unchanged.
     * Persistence, rehashing and HyperLogLog ones are enforced; the
     * replication and ACL ones are stored for the layers that will read
     * them; the cosmetic and OS ones (logo, process title, OOM score, THP,
     * jemalloc's background thread) keep Redis's default behaviour. */
    int aof_use_rdb_preamble;  /* a rewrite's base: RDB (yes) or commands */
    int aof_timestamp_enabled; /* "#TS:<unix time>" lines in the log */
    int no_appendfsync_on_rewrite;
    int rdb_save_incremental_fsync;
    int aof_rewrite_incremental_fsync;
    int rdb_del_sync_files;
    int activerehashing;
    int replica_serve_stale_data;
    int repl_diskless_sync_delay;
    int repl_diskless_sync_max_replicas;
    char *repl_diskless_load;
    int repl_disable_tcp_nodelay;
    int replica_priority;
    int replica_lazy_flush;
    long long acllog_max_len;
    long long hll_sparse_max_bytes;
    int always_show_logo;
    int set_proc_title;
    char *proc_title_template;
    char *oom_score_adj;
    char *oom_score_adj_values;
    int disable_thp;
    int jemalloc_bg_thread;
    int supervised;           /* SUPERVISED_* (server/supervise.h) */
    int active_expire_effort; /* 1-10: the expiry cycle's share of the cron period */
    /* Active defragmentation (server/defrag.h): thresholds in percent of
     * fragmentation, effort in percent of the CPU. */
    int activedefrag;
    long long defrag_ignore_bytes;
    int defrag_lower, defrag_upper;
    int defrag_cycle_min, defrag_cycle_max;
    long long defrag_max_scan_fields;
    int replica_ignore_maxmemory; /* a replica leaves eviction to its primary */
    int shutdown_on_sigint;       /* SHUTDOWN_* flags for the signal's shutdown */
    int shutdown_on_sigterm;
    int syslog_enabled;
    char *syslog_ident;
    int syslog_facility; /* index into config.c's facility names */
    char *acllog_max_len_str;
    char *aclfile;
    int acl_pubsub_default; /* 0 resetchannels, 1 allchannels */
    /* TLS (server/tls_server.c): listening beside port, and the links a
     * replica opens to its primary when tls_replication is on. */
    int tls_port;
    char *tls_cert_file, *tls_key_file, *tls_key_file_pass;
    char *tls_client_cert_file, *tls_client_key_file, *tls_client_key_file_pass;
    char *tls_dh_params_file, *tls_ca_cert_file, *tls_ca_cert_dir;
    int tls_auth_clients;      /* TLS_AUTH_NO, TLS_AUTH_YES, TLS_AUTH_OPTIONAL */
    int tls_auth_clients_user; /* 1: a client's certificate CN names its ACL user (Redis 8.6) */
    char *tls_protocols, *tls_ciphers, *tls_ciphersuites;
    int tls_prefer_server_ciphers;
    int tls_session_caching;
    long long tls_session_cache_size, tls_session_cache_timeout;
    int tls_replication;
    int tls_cluster; /* stored: Keel has no cluster bus */
} server_config;

typedef struct server_stats {
    long long numconnections;
    long long numcommands;
    long long rejected_conn;
    long long expiredkeys;
    long long expire_cycle_us;          /* time the active expiry cycles took */
    long long expire_cycle_cap_reached; /* cycles that ran out of their time budget */
    long long evictedkeys;
    long long evicted_clients;
    /* Redis 7.2's acl_access_denied_*, indexed by ACL_DENIED_* reason */
    long long acl_denied[5];
    long long acl_denied_tls_cert; /* 8.6's: a certificate CN naming no enabled user */
    long long keyspace_hits;
    long long keyspace_misses;
    /* INFO's totals are the sums with the repl counters, as in Redis 7.0;
     * its instantaneous_*_kbps rates are of these alone. */
    long long net_input_bytes;       /* from clients, not the primary's stream */
    long long net_output_bytes;      /* to clients, not replicas */
    long long net_repl_input_bytes;  /* the primary's stream and snapshot */
    long long net_repl_output_bytes; /* streams and snapshots to replicas */
    long long total_forks;
    long long latest_fork_usec;
    long long eviction_exceeded_ms;  /* time over maxmemory, periods that ended */
    int64_t eviction_exceeded_since; /* monotonic ms the current one began; 0: none */
    long long rdb_last_load_keys_loaded, rdb_last_load_keys_expired;
    long long reads_processed, writes_processed;
    long long io_threaded_reads, io_threaded_writes;
    long long io_uring_reads, io_uring_writes; /* socket steps done in an io_uring batch */
    long long total_error_replies;
    long long unexpected_error_replies;
    long long client_qbuf_limit_disconnections;
    long long client_outbuf_limit_disconnections;
    double expired_stale_perc;
    long long expire_cycle_cpu_ms;
    long long pubsub_messages;
} server_stats;

typedef struct server_state {
    server_config cfg;
    server_stats stats;
    char *config_file;
    char *executable; /* argv[0] made absolute at start, as Redis's INFO gives it */
    ev_loop *loop;
    int listen_fds[16];
    int listen_count;
    int tls_listen_fds[16]; /* tls-port's, beside port's */
    int tls_listen_count;
    int unix_fd;
    db *dbs;
    client *clients; /* doubly linked list head */
    int nclients;
    client *pending_writes;
    uint64_t next_client_id;
    int64_t start_ms;
    int64_t now_ms;       /* cached at each command and loop iteration */
    int64_t now_mono_us;  /* the monotonic reading now_ms was derived from */
    int64_t cmd_start_us; /* monotonic start of the command running now */
    long long dirty;      /* changes since the last save */
    int64_t lastsave;     /* seconds */
    int shutdown_asap;
    int expire_next_db;
    char runid[41];
    long long cron_loops;
    int cron_paused; /* DEBUG PAUSE-CRON 1: the periodic work stops (tests) */
    client *current_client;
    int in_exec;
    int in_script;
    /* The client whose script runs past busy-reply-threshold (others get
     * -BUSY; the primary's stream waits instead), or NULL. */
    client *busy_caller;
    /* DEBUG SET-DISABLE-DENY-SCRIPTS 1: scripts may call noscript
     * commands (Redis's test hook). */
    int script_allow_noscript;
    /* DEBUG SET-SKIP-CHECKSUM-VALIDATION 1: DUMP payloads and RDB files
     * load whatever their CRC (tests feeding corrupt data). */
    int skip_checksum_validation;
    /* The client whose command is running right now, for propagation. */
    int propagate_depth;
    struct propagation *prop;
    int sentinel_mode;
    /* Loading the dataset at start-up: clients are served -LOADING. */
    int loading;
    /* A replica's swapdb load of a snapshot of the same history: the old
     * data set is served meanwhile, commands flagged no-async-loading
     * are refused -LOADING. */
    int async_loading;
    int64_t loading_start_ms;
    long long loading_total, loading_done;
} server_state;

extern server_state server;

/* ---- replies: handlers use these; RESP version is handled inside ---- */
#define R(c) (&(c)->out)
void reply_syntax_error(client *c);
void reply_wrongtype(client *c);
void reply_not_integer(client *c);
void reply_not_float(client *c);
/* The list node limits in force now (list-max-listpack-size and
 * list-compress-depth); CONFIG SET applies to the next write. */
list_limits server_list_limits(void);
void reply_arity_error(client *c);
/* A bulk string from an sv. */
void reply_sv(client *c, sv v);
/* Container commands (CLIENT, CONFIG, ...): "ERR unknown subcommand 'x'.
 * Try CLIENT HELP." for argv[1]. */
void reply_subcommand_unknown(client *c);
/* Redis's error for a command the table lacks ("ERR unknown command 'x',
 * with args beginning with: ...") or, with subcommand, a container's
 * subcommand it lacks (argv[1]); the caller frees it. */
str command_unknown_error(const sv *argv, int argc, int subcommand);
/* A container's HELP: each line of a NULL-terminated list as a status. */
void reply_help(client *c, const char *const *lines);
/* Which of names argv[1] is, for a container's handler. The subcommand's
 * name and arity are its SUB line's and were checked before the handler
 * ran (by dispatch, lua.c and the AOF replay), so one matches; HELP, when
 * help is given, is answered here. Returns the index in names, or -1 when
 * it replied. */
int subcommand_pick(client *c, const char *const *names, int n, const char *const *help);
/* "unknown subcommand or wrong number of arguments for 'kill'. Try CLIENT
 * HELP.": Redis's reply to argument counts a subcommand checks beyond its
 * arity (an upper bound, pairs). */
void reply_subcommand_syntax_error(client *c);
/* EVAL, EVALSHA, FCALL and their _RO forms. */
int command_runs_script(const command *cmd);
/* Error reply that also counts in stats (all errors should go through). */
void reply_err(client *c, const char *msg);
/* Counts an error in total_error_replies and errorstats (by its first
 * word) without replying it. */
void errorstats_count(const char *msg);
/* INFO errorstats: counts per error code; reset by CONFIG RESETSTAT. */
str errorstats_info(str out);
void errorstats_reset(void);
void reply_errf(client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- argument helpers ---- */
/* Parse argv[i] as an integer / double; on failure reply the standard error
 * and return 0. */
int arg_ll(client *c, int i, long long *v);
int arg_ll_range(client *c, int i, long long min, long long max, long long *v, const char *err);
/* An int argument as Redis's getIntFromObjectOrReply reads it: err (or the
 * not-an-integer text) when unparsable, err (or "value is out of range,
 * value must between INT_MIN and INT_MAX") when outside int. */
int arg_int(client *c, int i, long long *v, const char *err);
int arg_double(client *c, int i, double *v);
/* A count whose sign is meaningful (SRANDMEMBER, HRANDFIELD, LPOS RANK):
 * any long long but LLONG_MIN, which has no positive twin; Redis's texts. */
int arg_signed_count(client *c, int i, long long *v);
/* argv[i] equals lit, case-insensitively. */
int arg_is(client *c, int i, const char *lit);
/* HSCAN/SSCAN/ZSCAN arguments. arg_scan_cursor parses argv[i] as strtoull
 * does (a minus sign wraps), replying "ERR invalid cursor" if it is not a
 * cursor. arg_scan_opts parses the options from argv[first]: COUNT n (n >= 1;
 * 10 without it), MATCH pattern ({0} without it) and, when novalues is not
 * NULL, the NOVALUES flag; it replies the error and returns 0 on a bad one. */
int arg_scan_cursor(client *c, int i, unsigned long *out);
int arg_scan_opts(client *c, int first, long long *count, sv *pat, int *novalues);
/* The work cap of one SCAN step: 10 buckets per wanted item, saturating
 * (COUNT may be as big as LLONG_MAX). */
static inline long long scan_budget(long long count)
{
    return count > LLONG_MAX / 10 ? LLONG_MAX : count * 10;
}
/* LMPOP/ZMPOP arguments from argv[at]: "numkeys key... END [COUNT n]", END
 * being end0 (*end = 0) or end1 (*end = 1); *count is 1 without COUNT.
 * Replies Redis's error and returns 0 when they are bad. */
int arg_mpop(client *c, int at, const char *end0, const char *end1, int *nkeys, int *end, long long *count);

/* ---- key lookup for commands: hit/miss stats, type check ---- */
kobj *lookup_read(client *c, sv key);
kobj *lookup_write(client *c, sv key);
/* A read that may then change the key (GETDEL, GETEX, XREADGROUP, ...:
 * commands Redis looks their key up for as reads): counted and notified
 * (keymiss) as a read, prepared for a change as a write. */
kobj *lookup_read_write(client *c, sv key);
enum { LOOKUP_FOR_READ = 0, LOOKUP_FOR_WRITE = 1, LOOKUP_FOR_READ_WRITE = 2 };
/* Looks up a key expecting `type` (`mode` one of LOOKUP_FOR_*); on type
 * mismatch replies WRONGTYPE and sets *bad. NULL without *bad means absent. */
kobj *lookup_typed(client *c, sv key, int type, int mode, int *bad);
/* The blocking pops' lookup: index of the first of keys holding a value of
 * `type` (*out: it, looked up for writing); -1 if none; -2 after replying
 * WRONGTYPE. While the blocking framework re-runs a waiting command, a key
 * of another type is just not ready: the client keeps waiting, as in Redis. */
int lookup_first_ready(client *c, const sv *keys, int n, int type, kobj **out);
/* The string entry o of key (NULL: absent, created empty) as a raw,
 * mutable str entry, swapped in if it had another form; edit it with
 * kobj_raw / kobj_set_raw. o must be a string looked up for writing. */
kobj *string_make_raw(client *c, sv key, kobj *o);
/* o (NULL: absent) made raw and at least len bytes long, zero-filled; a new
 * key is allocated at its exact size. *grew: created or grew. */
kobj *string_grow(client *c, sv key, kobj *o, size_t len, int *grew);

/* ---- the write path ---- */
/* Every change to a key calls this once: counts dirty, invalidates WATCH
 * and tracking, wakes blocked clients, emits the keyspace event. */
void signal_write(client *c, int notify_class, const char *event, sv key);
/* Modules subscribed to keyspace events (src/module/); NULL while none
 * is: called for every event, whatever notify-keyspace-events says. */
extern void (*notify_module_hook)(int notify_class, const char *event, sv key, int dbid);
/* The keyspace notification alone (e.g. for extra events). */
void notify_event(int notify_class, const char *event, sv key, int dbid);
/* Deletes key (returns 0 if absent), propagating DEL and signalling "del":
 * for commands whose own form would not replay the deletion. */
int cmd_delete_key(client *c, sv key);
/* Empty collections do not exist: deletes key, whose collection a command
 * has just changed, when len is 0, with the "del" keyspace event (no DEL is
 * propagated). Returns 1 if it deleted the key. */
int cmd_drop_if_empty(client *c, sv key, size_t len);
/* Whether an expiry time a command gives is already past, so the key (or
 * field) goes at once. Never while the AOF replays (its later writes were
 * made before the time passed) nor on a replica (the primary's DEL
 * decides), as Redis: there the time is set and the key expires later. */
int expire_time_passed(int64_t when);
/* Sets an absolute expiry on o (deleting the key if it is in the past),
 * propagating PEXPIREAT and signalling "expire". */
void cmd_expire_key(client *c, kobj *o, sv key, int64_t when);
/* Propagate this command as `argv` instead of the client's own argv (may be
 * called several times: all are propagated, in order). */
void propagate_also(client *c, sv *argv, int argc);
/* Propagate nothing for the current command even though it wrote. */
void propagate_none(client *c);
/* Replace argv[i] of the current command (owned copy kept until the
 * command ends); used for deterministic rewrites. */
void client_rewrite_arg(client *c, int i, sv val);
void client_rewrite_argv(client *c, sv *argv, int argc);
/* Drops the argv kept by the first rewrite (at the end of each call). */
void client_forget_original(client *c);
/* The argv as the client sent it (before any rewrite). */
sv *client_sent_argv(client *c, int *argc);
/* Argument i reads "(redacted)" in MONITOR and SLOWLOG (the command
 * itself still gets it). */
void client_redact_arg(client *c, int i);

/* Hooks other modules register for propagated writes (AOF, replicas). */
typedef void (*propagate_fn)(int dbid, sv *argv, int argc);
#define PROPAGATE_AOF 1
#define PROPAGATE_REPL 2
/* targets: which propagated commands the listener gets (PUBLISH goes to
 * replicas only, as in Redis). */
void propagate_register(propagate_fn fn, int targets);
/* Called by dispatch: the writes of one top-level command. */
void propagate_begin(void);
void propagate_end(void);
/* A unit of writes run outside a command (a module's timer, thread or
 * notification callback): opened when none is, its writes go out together
 * when the one that opened it closes. open returns what close takes. */
int propagate_unit_open(void);
void propagate_unit_close(int top);
/* While on, units go out without MULTI/EXEC around them. Returns the
 * previous setting. */
int propagate_no_multi(int on);
void propagate_cmd(int dbid, sv *argv, int argc);
void propagate_cmd_to(int dbid, sv *argv, int argc, int targets);
/* A command of c's, to the targets c has not turned off. */
void propagate_cmd_for(client *c, sv *argv, int argc);
/* While on, nothing propagates (a log replayed into memory by DEBUG
 * LOADAOF, inside a command, must not be logged or sent again). */
int propagate_suspend(int on); /* returns the state before */
/* While on (a module's Call without "!"), nothing propagates but the DELs
 * of keys the server removes. Returns the state before. */
int propagate_quiet(int on);
/* The current command goes to replicas as it is, though it wrote nothing
 * (PUBLISH: subscribers of replicas hear it too). */
void propagate_to_replicas(client *c);
/* A key removed by the server itself (expiry, eviction) replays as DEL;
 * standalone when no command is running, else inside its batch. */
void propagate_removal(int dbid, sv key);
/* While on (SCAN and RANDOMKEY walking the keyspace), the keys found
 * expired go out at once, each DEL alone, never wrapped with the running
 * command's writes, as Redis sends them. Returns the previous setting. */
int propagate_removals_alone(int on);
/* DEBUG PROPAGATION-LOG ON|OFF|GET: record what propagates (tests). */
void propagate_debug_log(client *c, sv mode);

/* ---- clients ---- */
client *client_new(int fd, uint32_t flags);
void client_free(client *c);
void client_set_default_user(client *c);
void client_close_async(client *c);
/* CLIENT KILL of another client: closed like client_close_async, but its
 * connection is shut at once. */
void client_kill_now(client *c);
/* Closes c: after its reply when it is the client being served (the
 * command that closes it answers it first), else as client_close_async. */
void client_close_soon(client *c);
void client_select_db(client *c, int id);
/* Queue c for writing before the loop sleeps. */
void client_pending_write(client *c);
/* Enforce output buffer limits; returns 1 if c was scheduled to close. */
int client_check_obuf(client *c);
int client_obuf_class(const client *c);
/* The hard output limit c is held to, 0: none. */
unsigned long long client_obuf_hard(const client *c);
/* Run one already-parsed command (argv set) through dispatch. */
void dispatch(client *c);
/* Around one client's pipeline (process_input): while open, a command
 * dispatched right after another starts from that call's end reading. */
void dispatch_pipeline_open(void);
void dispatch_pipeline_close(void);
/* Run argv as a command on c; used by MULTI/EXEC and scripts. */
void dispatch_call(client *c, command *cmd);
void client_info_line(client *c, str *out);
/* The memory a client holds (CLIENT LIST tot-mem, maxmemory-clients). */
size_t client_mem(const client *c);
/* maxmemory-clients (client_evict.c): disconnects the biggest clients
 * while all together hold more than the limit. Every client is measured
 * before the loop sleeps (once a millisecond at most)... */
void client_evict_check(void);
/* ...and c after a read and before each command (Redis's order: clients
 * go before keys are evicted); 1 when c itself was evicted. */
int client_evict_if_over(client *c);
/* c's memory changed (its command's reply, a message for it): the new
 * figure counts at once. */
void client_evict_note(client *c);
/* c is being freed: its memory no longer counts. */
void client_evict_forget(client *c);
/* What evicted clients hold until they are freed (maxmemory discounts
 * it), and their freeing (client_reap). */
size_t client_evict_closing_bytes(void);
void client_evict_reaped(void);
client *client_by_id(uint64_t id);
/* CLIENT SETNAME's rule and effect (an empty name clears it); -1 for a
 * name with spaces, newlines or special characters. */
int client_name_set(client *c, sv name);
/* Copies argv into owned strings (a command that outlives its query
 * buffer: blocked clients, queued MULTI commands). */
void client_own_argv(client *c);
/* Feature modules release their per-client state here; called when a
 * client is freed and on RESET (so it must leave the client usable). */
void client_register_cleanup(void (*fn)(client *c));
void client_run_cleanups(client *c);
void client_accept(ev_loop *l, int lfd, void *data, int mask);
/* tls-port's listeners: each accepted connection starts a TLS handshake. */
void client_accept_tls(ev_loop *l, int lfd, void *data, int mask);
void client_flush_pending(void);
/* Runs the reads read_handler left for the I/O threads (before_sleep). */
void client_read_deferred(void);
void client_reap(void);
void client_cron(void);
/* Closes MIGRATE's target connections unused for 10 s. */
void migrate_cron(void);
/* MIGRATE's open target connections (INFO migrate_cached_sockets). */
int migrate_cached(void);
void client_process_input(client *c);
/* The primary's stream held while a script was busy: applied once it
 * ended (from before_sleep, never inside another command). */
void client_resume_held_master(void);
/* After a waiting client got its answer (blocked, paused, WAIT, a flush):
 * finishes the command and goes on with what it pipelined behind it. */
void client_resume(client *c);
/* Moves what OpenSSL decrypted beyond the last read into c's query buffer
 * (epoll cannot report it); -1 when the connection failed. */
int client_drain_tls(client *c);
/* While c's command serves events (a busy script, DEBUG LOADAOF's load),
 * c is held (on=1): its socket is not read (it must not be re-entered) and
 * a kill meanwhile frees it only once the hold ends. */
void client_hold(client *c, int on);
/* One turn of the event loop from inside a long command: other clients
 * are read, answered, and freed if they went (a replica that left is seen
 * gone, as in Redis). Hold the command's own client first. */
void client_serve_events(void);
/* Whether events are being served that way right now (a load, a busy
 * script): the event loop is not having its own turn. */
int client_serving_events_inside(void);
/* Counts provided by feature modules for CLIENT LIST (may be NULL). */
extern int (*client_sub_count)(client *c, int kind);
extern int (*client_multi_count)(client *c);
/* A refused EXEC: replies "EXECABORT Transaction discarded because of:
 * <err>" and discards the transaction, as Redis does. */
void multi_abort_exec(client *c, const char *err);
/* A gate refuses cmd with err: replied, counted as rejected, and inside
 * MULTI the transaction fails (EXEC itself answers EXECABORT with err and
 * ends it), as in Redis. */
void command_refuse(client *c, command *cmd, const char *err);
/* The command flags of c's queued transaction, together; CMD_STALE only
 * when every one of them has it (EXEC itself has it). */
uint32_t multi_queued_flags(client *c);
extern int (*client_watch_count)(client *c);
/* The tracking redirect target id, or -1 (CLIENT LIST redir=). */
extern long long (*client_tracking_redir)(client *c);
/* Memory a client holds in MULTI's queue and WATCH (CLIENT LIST multi-mem),
 * in its subscriptions and in its tracking prefixes: counted by client_mem,
 * as Redis counts them. */
extern size_t (*client_multi_mem)(client *c);
extern size_t (*client_pubsub_mem)(client *c);
extern size_t (*client_tracking_mem)(client *c);

/* Key-write listeners (WATCH, tracking, blocked clients, keyspace events
 * register here); called by signal_write and by expiry/eviction. */
typedef void (*key_write_fn)(db *d, sv key, client *by);
void server_on_key_write(key_write_fn fn);
/* WATCH: d's keys are about to be replaced by with's (SWAPDB) or dropped
 * (with NULL). A watched key that exists on either side changed, unless it
 * had expired when watched and is now gone or expired still; a missing key
 * that becomes an expired one is watched as expired, as in Redis 7.0. */
void watch_db_replaced(db *d, db *with);
/* key.ptr == NULL means every key of d changed (FLUSHDB, SWAPDB). */
void server_key_written(db *d, sv key, client *by);
/* The keyspace-event publisher (installed by pub/sub). */
extern void (*notify_publish)(sv channel, sv message);

/* Rewrites a command's argv before it is looked up (modules' command
 * filters); NULL while there is none. */
extern void (*dispatch_filter)(client *c);
/* Dispatch gates other modules provide (NULL until they exist). Each
 * returns 1 when it handled the command itself (e.g. queued it). */
extern int (*gate_multi)(client *c, command *cmd);
/* Runs after every command's handler (top: not nested in EXEC/scripts);
 * client tracking remembers reads here and pushes held back during the
 * command are released. May be NULL. */
extern void (*dispatch_after_call)(client *c, command *cmd, int top);
/* Runs before each command a client sends is checked (queued ones too);
 * client tracking brings its table back within tracking-table-max-keys
 * here, as Redis does. May be NULL. */
extern void (*dispatch_before_command)(void);
/* Replies an error already counted in the error statistics where it
 * arose (a command's error a script passes on): not counted again, but
 * the running command is failed, as in Redis. */
void reply_err_counted(client *c, const char *msg);
/* A command a script called was refused before it ran (its error already
 * counted): counts a rejected call of cmd (NULL: unknown). */
void stats_count_rejected(command *cmd);
/* Replies an error to a client blocked in cmd, ending it (CLIENT UNBLOCK
 * ... ERROR): cmd failed, not the command that is running. */
void reply_err_to_blocked(client *c, command *cmd, const char *msg);
/* Runs before the event loop sleeps, ahead of the replies' writes: client
 * tracking sends the BCAST invalidations gathered meanwhile. May be NULL. */
extern void (*before_sleep_broadcast)(void);
/* While a script runs past busy-reply-threshold: refuses what is not
 * CMD_ALLOW_BUSY with a BUSY error (installed by scripting). */
/* Refuses c's command (replying) while a script or module command
 * runs for long: 1 when refused. */
void dispatch_add_busy_gate(int (*fn)(client *c, command *cmd));
/* A module command its thread held is done after dur us in all: its
 * latency percentiles, SLOWLOG and latency events. */
void dispatch_observe_unblocked(client *c, command *cmd, int64_t dur);
/* Resets per-command state after a command completes. */
void client_end_command(client *c);
void client_push_begin(client *c);
void client_push_end(client *c);

/* CLIENT subcommands added by feature modules (TRACKING, UNBLOCK...): the
 * function returns 1 if it handled the subcommand. */
void cmd_client_register(int (*fn)(client *c));
/* Extra INFO sections from feature modules: append "# Name\r\n..." when
 * the section is asked for. */
/* Extra "field:value\r\n" lines at the end of INFO's Stats section (pub/sub
 * and tracking counters). May be NULL. */
extern str (*info_stats_extra)(str s);

/* ---- feature crons ---- */
/* Reclaims expired hash fields (cmd_hash.c); bounded work per call. */
void hash_active_expire(void);

/* ---- misc ---- */
int64_t server_ms(void);
void server_update_time(void);
/* The same from a monotonic reading the caller already has. */
void server_set_time(int64_t mono_us);
/* Re-reads the wall clock's offset from the monotonic one (before each
 * sleep and in the cron); server_update_time derives wall time from it. */
void server_sync_clock(void);
/* ---- protected mode and dangerous parts (server/protected.c) ---- */
/* A unix-socket, internal or loopback (127.0.0.0/8, ::1) client. */
int client_is_local(const client *c);
/* Protected mode refuses c: it is on, the default user has no password and
 * c is not local. The connection then gets protected_mode_error (a whole
 * RESP error line) and is closed. */
int protected_mode_denies(const client *c);
extern const char protected_mode_error[];
/* enable-debug-command / enable-module-command / enable-protected-configs. */
enum { PROTECTED_NO = 0, PROTECTED_YES = 1, PROTECTED_LOCAL = 2 };
/* io-backend, in its enum's order. */
enum { IO_BACKEND_AUTO = 0, IO_BACKEND_EPOLL = 1, IO_BACKEND_URING = 2 };
enum { PROPAGATION_ERR_IGNORE = 0, PROPAGATION_ERR_PANIC = 1, PROPAGATION_ERR_PANIC_ON_REPLICAS = 2 };
int server_allows_protected(int mode, const client *c);
int server_has_debug_access(client *c);
/* A CMD_PROTECTED command (DEBUG; MODULE LOAD, LOADEX, UNLOAD) that the
 * matching enable-*-command setting allows c to run. */
int protected_command_allowed(client *c, const command *cmd);
/* Listening sockets for port on every bind address, into fds (at most
 * 16); -1 (logged) when one that must exist cannot be bound. */
int server_listen_tcp(int port, int *fds, int *count);
int server_set_listen(int port, const char *bind, char *err, size_t errlen);
/* Closes every listening socket (TCP, TLS, unix): at exit, and in a child. */
void server_close_listeners(void);
str info_generate(const sv *names, int n);
int config_load_file(const char *path, char *err, size_t errlen);
/* The same for a config text in memory (the fuzz target's entry). */
int config_load_string(const char *text, size_t len, char *err, size_t errlen);
/* The command line's options, turned into directive lines (main.c): read
 * as a file's, with errors that name no file. */
int config_load_options(const char *text, size_t len, char *err, size_t errlen);
/* The i-th directive's name, NULL past the last. */
const char *config_name_at(int i);
int config_set(const char *name, const char *value, char *err, size_t errlen, int at_startup);
/* The same for a value of len bytes: requirepass and masterauth keep a NUL
 * (binary passwords, as in Redis); any other stops at it. */
int config_set_len(const char *name, const char *value, size_t len, char *err, size_t errlen, int at_startup);
/* A directive of a config file or the command line: config_set_len at
 * start-up, except that save lines accumulate as in Redis 7 (the first
 * replaces the default points). config_defaults starts over. */
int config_set_directive(const char *name, const char *value, size_t len, char *err, size_t errlen);
str config_get_value(const char *name, int *found);
/* A config CONFIG SET refuses unless enable-protected-configs allows the
 * client (dir, dbfilename: they choose where the server writes files). */
int config_is_protected(const char *name);
/* appendonly and dir cannot change while a data set loads (sync or async). */
int config_denied_while_loading(const char *name);
/* Directives whose change takes effect once per CONFIG SET, after all its
 * pairs are set (the TLS files: a new certificate and its key are only
 * valid together). config_commit applies them: -1 with err when that
 * failed (the caller restores the old values, then calls
 * config_commit_abandon, and the running state stays the old one). */
int config_deferred(const char *name);
int config_commit(char *err, size_t errlen);
void config_commit_abandon(void);
void config_defaults(void);
int config_rewrite(const char *path, int force_all, char *err, size_t errlen);
/* CONFIG REWRITE (force_all 0) or DEBUG CONFIG-REWRITE-FORCE-ALL (1) of
 * the server's config file, logged and replied as Redis does each. */
void config_rewrite_reply(client *c, int force_all);
void config_get_matching(client *c, sv *patterns, int n);
/* The event loop's size for maxclients, capped by the process's fd limit
 * (main.c). */
int server_loop_size(void);
/* Memory limit check for denyoom commands: evicts per maxmemory-policy,
 * then 1 = still over the limit (reply OOM). */
int server_over_memory(void);
/* The maxmemory gate of dispatch: a command with these flags is denyoom
 * while over the limit after evicting. */
int server_refuses_for_memory(uint32_t cmd_flags);
/* Over maxmemory right now (nothing evicted to find out). */
int server_memory_exceeded(void);
/* The memory maxmemory judges: used_memory less what it does not count. */
size_t server_memory_counted(void);
/* What maxmemory does not count (INFO mem_not_counted_for_evict). */
size_t server_memory_not_counted(void);
/* Where the memory that is not the dataset goes, as INFO memory and
 * MEMORY STATS both report it (Redis's overhead breakdown). */
typedef struct memory_overhead {
    size_t repl_backlog;     /* replication.backlog */
    size_t clients_replicas; /* clients.slaves */
    size_t clients_normal;
    size_t aof_buffer;
    size_t lua_caches;       /* the EVAL scripts' bodies */
    size_t functions_caches; /* the function libraries' */
    size_t db_tables;        /* the key tables' slots, and the server's own structs */
    size_t total;
} memory_overhead;
void server_memory_overhead(memory_overhead *m);
/* How long memory has stayed over maxmemory after eviction, now (ms). */
long long server_eviction_exceeded_current_ms(void);
#define OOM_ERROR "OOM command not allowed when used memory > 'maxmemory'."
/* Why a write by c may not happen now (a read-only replica, MISCONF,
 * NOREPLICAS), or NULL: also checked by scripts before each write and
 * before one with the write flag starts. ro: c's command may not write at
 * all (*_RO running such a script), refused in Redis's place among them,
 * before NOREPLICAS. */
const char *server_write_refusal(client *c, int ro); /* c may be NULL: not the primary */
#define READONLY_ERROR "READONLY You can't write against a read only replica."
#define MASTERDOWN_ERROR "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
/* A replica whose link is down with replica-serve-stale-data no: only
 * commands flagged stale run (for c unless it is the primary's link). */
int server_stale_for(const client *c);
/* SHUTDOWN flags. */
#define SHUTDOWN_NOSAVE 1
#define SHUTDOWN_SAVE 2
#define SHUTDOWN_FORCE 4
/* Do not wait for lagging replicas first (server/shutdown.h). */
#define SHUTDOWN_NOW 8
/* Saves (with SAVE, or save points and no NOSAVE) and exits; returns -1
 * and stays up when the save failed and FORCE was not given. The waiting
 * for replicas before it is server/shutdown.h's. */
int server_shutdown(int flags);
/* Set while a shutdown saves or waits for replicas: a SIGINT then exits at
 * once (main.c's handler). */
extern volatile int server_shutting_down; /* (sig_atomic_t is int here) */

#endif
