/* module_abi: the binary interface a Redis module is built against, as the
 * Redis module API reference documents it: the numbers a module passes
 * and gets back, the layout of the structures it hands over, and the
 * signatures of its callbacks. A module compiled for Redis 7 finds here
 * the same values, so Keel loads it unchanged. Keel's own tests build
 * their modules against this header. */
#ifndef KEEL_MODULE_ABI_H
#define KEEL_MODULE_ABI_H

#include <stddef.h>
#include <stdint.h>

#define KM_OK 0
#define KM_ERR 1
#define KM_APIVER_1 1

/* OpenKey modes. */
#define KM_READ (1 << 0)
#define KM_WRITE (1 << 1)
#define KM_OPEN_KEY_NOTOUCH (1 << 16)

#define KM_LIST_HEAD 0
#define KM_LIST_TAIL 1

/* KeyType answers. */
enum {
    KM_KEYTYPE_EMPTY = 0,
    KM_KEYTYPE_STRING = 1,
    KM_KEYTYPE_LIST = 2,
    KM_KEYTYPE_HASH = 3,
    KM_KEYTYPE_SET = 4,
    KM_KEYTYPE_ZSET = 5,
    KM_KEYTYPE_MODULE = 6,
    KM_KEYTYPE_STREAM = 7
};

/* CallReplyType answers. */
enum {
    KM_REPLY_UNKNOWN = -1,
    KM_REPLY_STRING = 0,
    KM_REPLY_ERROR = 1,
    KM_REPLY_INTEGER = 2,
    KM_REPLY_ARRAY = 3,
    KM_REPLY_NULL = 4,
    KM_REPLY_MAP = 5,
    KM_REPLY_SET = 6,
    KM_REPLY_BOOL = 7,
    KM_REPLY_DOUBLE = 8,
    KM_REPLY_BIG_NUMBER = 9,
    KM_REPLY_VERBATIM_STRING = 10,
    KM_REPLY_ATTRIBUTE = 11
};

/* ReplyWithArray's length not known yet (set later by ReplySetArrayLength). */
#define KM_POSTPONED_LEN (-1L)
#define KM_NO_EXPIRE (-1LL)

/* HashSet / HashGet flags; a HashSet value that deletes the field. */
#define KM_HASH_NONE 0
#define KM_HASH_NX (1 << 0)
#define KM_HASH_XX (1 << 1)
#define KM_HASH_CFIELDS (1 << 2)
#define KM_HASH_EXISTS (1 << 3)
#define KM_HASH_COUNT_ALL (1 << 4)
#define KM_HASH_DELETE ((void *)(intptr_t)1)

/* ZsetAdd flags (in and out). */
#define KM_ZADD_XX (1 << 0)
#define KM_ZADD_NX (1 << 1)
#define KM_ZADD_ADDED (1 << 2)
#define KM_ZADD_UPDATED (1 << 3)
#define KM_ZADD_NOP (1 << 4)
#define KM_ZADD_GT (1 << 5)
#define KM_ZADD_LT (1 << 6)

/* GetContextFlags bits. */
#define KM_CTX_FLAGS_LUA (1 << 0)
#define KM_CTX_FLAGS_MULTI (1 << 1)
#define KM_CTX_FLAGS_MASTER (1 << 2)
#define KM_CTX_FLAGS_SLAVE (1 << 3)
#define KM_CTX_FLAGS_READONLY (1 << 4)
#define KM_CTX_FLAGS_CLUSTER (1 << 5)
#define KM_CTX_FLAGS_AOF (1 << 6)
#define KM_CTX_FLAGS_RDB (1 << 7)
#define KM_CTX_FLAGS_MAXMEMORY (1 << 8)
#define KM_CTX_FLAGS_EVICT (1 << 9)
#define KM_CTX_FLAGS_OOM (1 << 10)
#define KM_CTX_FLAGS_OOM_WARNING (1 << 11)
#define KM_CTX_FLAGS_REPLICATED (1 << 12)
#define KM_CTX_FLAGS_LOADING (1 << 13)
#define KM_CTX_FLAGS_ACTIVE_CHILD (1 << 18)
#define KM_CTX_FLAGS_MULTI_DIRTY (1 << 19)
#define KM_CTX_FLAGS_DENY_BLOCKING (1 << 21)
#define KM_CTX_FLAGS_RESP3 (1 << 22)

/* Keyspace notification classes: the same bits as the server's. */
#define KM_NOTIFY_GENERIC (1 << 2)
#define KM_NOTIFY_STRING (1 << 3)
#define KM_NOTIFY_LIST (1 << 4)
#define KM_NOTIFY_SET (1 << 5)
#define KM_NOTIFY_HASH (1 << 6)
#define KM_NOTIFY_ZSET (1 << 7)
#define KM_NOTIFY_EXPIRED (1 << 8)
#define KM_NOTIFY_EVICTED (1 << 9)
#define KM_NOTIFY_STREAM (1 << 10)
#define KM_NOTIFY_KEY_MISS (1 << 11)
#define KM_NOTIFY_LOADED (1 << 12)
#define KM_NOTIFY_MODULE (1 << 13)
#define KM_NOTIFY_NEW (1 << 14)

/* The data type methods structure's versions: 1 ends at free, 2 adds the
 * aux fields, 3 free_effort .. defrag, 4 the "2" variants, 5 aux_save2
 * (Redis 7.2). */
#define KM_TYPE_METHOD_VERSION 5

/* Aux data triggers. */
#define KM_AUX_BEFORE_RDB (1 << 0)
#define KM_AUX_AFTER_RDB (1 << 1)

/* Streams: an entry's ID (RedisModuleStreamID) and the flags of
 * StreamAdd, StreamIteratorStart and StreamTrimByLength / ByID. */
typedef struct km_stream_id {
    uint64_t ms;
    uint64_t seq;
} km_stream_id;
#define KM_STREAM_ADD_AUTOID (1 << 0)
#define KM_STREAM_ITERATOR_EXCLUSIVE (1 << 0)
#define KM_STREAM_ITERATOR_REVERSE (1 << 1)
#define KM_STREAM_TRIM_APPROX (1 << 0)

/* The objects a module holds pointers to; their insides are Keel's. */
typedef struct km_ctx km_ctx;
typedef struct km_string km_string;
typedef struct km_key km_key;
typedef struct km_call_reply km_call_reply;
typedef struct km_io km_io;
typedef struct km_type km_type;
typedef struct km_digest km_digest;
typedef struct km_blocked km_blocked;
typedef struct km_dict km_dict;
typedef struct km_dict_iter km_dict_iter;
typedef struct km_defrag_ctx km_defrag_ctx;
/* What the version 4 type callbacks are told: the key (and, for copy2,
 * the target key) and their databases. */
typedef struct km_key_opt_ctx km_key_opt_ctx;
typedef uint64_t km_timer_id;

typedef int (*km_cmd_fn)(km_ctx *ctx, km_string **argv, int argc);
typedef int (*km_onload_fn)(km_ctx *ctx, km_string **argv, int argc);
typedef void *(*km_type_load_fn)(km_io *rdb, int encver);
typedef void (*km_type_save_fn)(km_io *rdb, void *value);
typedef void (*km_type_rewrite_fn)(km_io *aof, km_string *key, void *value);
typedef size_t (*km_type_mem_fn)(const void *value);
typedef void (*km_type_digest_fn)(km_digest *md, void *value);
typedef void (*km_type_free_fn)(void *value);
typedef int (*km_type_aux_load_fn)(km_io *rdb, int encver, int when);
typedef void (*km_type_aux_save_fn)(km_io *rdb, int when);
typedef size_t (*km_type_free_effort_fn)(km_string *key, const void *value);
typedef void (*km_type_unlink_fn)(km_string *key, const void *value);
typedef void *(*km_type_copy_fn)(km_string *fromkey, km_string *tokey, const void *value);
typedef size_t (*km_type_mem2_fn)(km_key_opt_ctx *ctx, const void *value, size_t sample_size);
typedef size_t (*km_type_free_effort2_fn)(km_key_opt_ctx *ctx, const void *value);
typedef void (*km_type_unlink2_fn)(km_key_opt_ctx *ctx, const void *value);
typedef void *(*km_type_copy2_fn)(km_key_opt_ctx *ctx, const void *value);
typedef void (*km_timer_fn)(km_ctx *ctx, void *data);
/* EventLoopAdd's callback (mask: KM_EVENTLOOP_*), AddOneShot's. */
typedef void (*km_eventloop_fn)(int fd, void *data, int mask);
typedef void (*km_oneshot_fn)(void *data);
#define KM_EVENTLOOP_READABLE 1
#define KM_EVENTLOOP_WRITABLE 2
/* Yield's flags. */
#define KM_YIELD_FLAG_NONE (1 << 0)
#define KM_YIELD_FLAG_CLIENTS (1 << 1)
/* RegisterDefragFunc's callback: a module's global data. */
typedef void (*km_defrag_fn)(km_defrag_ctx *ctx);
typedef int (*km_notify_fn)(km_ctx *ctx, int type, const char *event, km_string *key);

/* What CreateDataType reads; a module fills the fields of its version. */
typedef struct km_type_methods {
    uint64_t version;
    km_type_load_fn rdb_load;
    km_type_save_fn rdb_save;
    km_type_rewrite_fn aof_rewrite;
    km_type_mem_fn mem_usage;
    km_type_digest_fn digest;
    km_type_free_fn free;
    /* version 2 */
    km_type_aux_load_fn aux_load;
    km_type_aux_save_fn aux_save;
    int aux_save_triggers;
    /* version 3 */
    km_type_free_effort_fn free_effort;
    km_type_unlink_fn unlink;
    km_type_copy_fn copy;
    void *defrag;
    /* version 4: the same four told the key and db (preferred when given) */
    km_type_mem2_fn mem_usage2;
    km_type_free_effort2_fn free_effort2;
    km_type_unlink2_fn unlink2;
    km_type_copy2_fn copy2;
    /* version 5: aux_save's twin, whose record is left out of the file
     * when it writes nothing (so the file loads without the module); it
     * is used instead of aux_save when both are given */
    km_type_aux_save_fn aux_save2;
} km_type_methods;

/* Server events (SubscribeToServerEvent): an event is passed by value as
 * its id and the version of its data structure. */
typedef struct km_event {
    uint64_t id;
    uint64_t dataver;
} km_event;

enum {
    KM_EVENT_REPLICATION_ROLE_CHANGED = 0,
    KM_EVENT_PERSISTENCE = 1,
    KM_EVENT_FLUSHDB = 2,
    KM_EVENT_LOADING = 3,
    KM_EVENT_CLIENT_CHANGE = 4,
    KM_EVENT_SHUTDOWN = 5,
    KM_EVENT_REPLICA_CHANGE = 6,
    KM_EVENT_MASTER_LINK_CHANGE = 7,
    KM_EVENT_CRON_LOOP = 8,
    KM_EVENT_MODULE_CHANGE = 9,
    KM_EVENT_LOADING_PROGRESS = 10,
    KM_EVENT_SWAPDB = 11,
    KM_EVENT_COUNT = 17 /* ids 0..16, Redis 7.0's (12 is unused) */
};

/* Subevents. */
enum { KM_SUB_ROLE_NOW_MASTER = 0, KM_SUB_ROLE_NOW_REPLICA = 1 };
enum {
    KM_SUB_PERSISTENCE_RDB_START = 0,
    KM_SUB_PERSISTENCE_AOF_START = 1,
    KM_SUB_PERSISTENCE_SYNC_RDB_START = 2,
    KM_SUB_PERSISTENCE_ENDED = 3,
    KM_SUB_PERSISTENCE_FAILED = 4,
    KM_SUB_PERSISTENCE_SYNC_AOF_START = 5
};
enum { KM_SUB_FLUSHDB_START = 0, KM_SUB_FLUSHDB_END = 1 };
enum {
    KM_SUB_LOADING_RDB_START = 0,
    KM_SUB_LOADING_AOF_START = 1,
    KM_SUB_LOADING_REPL_START = 2,
    KM_SUB_LOADING_ENDED = 3,
    KM_SUB_LOADING_FAILED = 4
};
enum { KM_SUB_CLIENT_CONNECTED = 0, KM_SUB_CLIENT_DISCONNECTED = 1 };
enum { KM_SUB_MODULE_LOADED = 0, KM_SUB_MODULE_UNLOADED = 1 };
enum { KM_SUB_REPLICA_ONLINE = 0, KM_SUB_REPLICA_OFFLINE = 1 };
enum { KM_SUB_MASTER_LINK_UP = 0, KM_SUB_MASTER_LINK_DOWN = 1 };
enum { KM_SUB_LOADING_PROGRESS_RDB = 0, KM_SUB_LOADING_PROGRESS_AOF = 1 };
enum { KM_SUB_FORK_CHILD_BORN = 0, KM_SUB_FORK_CHILD_DIED = 1 };
enum { KM_SUB_EVENTLOOP_BEFORE_SLEEP = 0, KM_SUB_EVENTLOOP_AFTER_SLEEP = 1 };
enum { KM_SUB_CONFIG_CHANGE = 0 };
enum { KM_SUB_REPL_ASYNC_LOAD_STARTED = 0, KM_SUB_REPL_ASYNC_LOAD_ABORTED = 1, KM_SUB_REPL_ASYNC_LOAD_COMPLETED = 2 };
enum { KM_EVENT_FORK_CHILD = 13, KM_EVENT_REPL_ASYNC_LOAD = 14, KM_EVENT_EVENTLOOP = 15, KM_EVENT_CONFIG = 16 };
/* SetModuleOptions' bits. */
enum {
    KM_OPT_HANDLE_IO_ERRORS = 1 << 0,
    KM_OPT_NO_IMPLICIT_SIGNAL_MODIFIED = 1 << 1,
    KM_OPT_HANDLE_REPL_ASYNC_LOAD = 1 << 2
};

/* The data some events carry (each at version 1). */
typedef struct km_flush_info {
    uint64_t version;
    int32_t sync;
    int32_t dbnum; /* -1: every db (FLUSHALL) */
} km_flush_info;

typedef struct km_client_info {
    uint64_t version;
    uint64_t flags;
    uint64_t id;
    char addr[46];
    uint16_t port;
    uint16_t db;
} km_client_info;

typedef struct km_replication_info {
    uint64_t version;
    int master; /* 1 when now a primary */
    char *masterhost;
    int masterport;
    char *replid1;
    char *replid2;
    uint64_t repl1_offset;
    uint64_t repl2_offset;
} km_replication_info;

typedef struct km_cron_loop {
    uint64_t version;
    int32_t hz;
} km_cron_loop;

typedef struct km_module_change {
    uint64_t version;
    const char *module_name;
    int32_t module_version;
} km_module_change;

typedef struct km_loading_progress {
    uint64_t version;
    int32_t hz;
    int32_t progress; /* 0..1024, or -1 when unknown */
} km_loading_progress;

typedef struct km_config_change {
    uint64_t version;
    uint32_t num_changes;
    const char **config_names;
} km_config_change;

typedef struct km_swapdb_info {
    uint64_t version;
    int32_t dbnum_first;
    int32_t dbnum_second;
} km_swapdb_info;

typedef void (*km_event_fn)(km_ctx *ctx, km_event e, uint64_t subevent, void *data);

/* SetCommandInfo's structures (Redis 7.0's layouts). Arrays end with a
 * zeroed element; their strides come from the version structure, so a
 * module built against a later header still reads right. */
typedef struct km_cmd_info_version {
    int version;
    size_t sizeof_historyentry;
    size_t sizeof_keyspec;
    size_t sizeof_arg;
} km_cmd_info_version;

typedef struct km_cmd_history {
    const char *since;
    const char *changes;
} km_cmd_history;

/* Key spec begin-search and find-keys kinds. */
enum { KM_KSPEC_BS_INVALID = 0, KM_KSPEC_BS_UNKNOWN = 1, KM_KSPEC_BS_INDEX = 2, KM_KSPEC_BS_KEYWORD = 3 };
enum { KM_KSPEC_FK_OMITTED = 0, KM_KSPEC_FK_UNKNOWN = 1, KM_KSPEC_FK_RANGE = 2, KM_KSPEC_FK_KEYNUM = 3 };

typedef struct km_cmd_key_spec {
    const char *notes;
    uint64_t flags; /* the same bits as the server's key-spec flags (RO, RW, ...) */
    int begin_search_type;
    union {
        struct {
            int pos;
        } index;
        struct {
            const char *keyword;
            int startfrom;
        } keyword;
    } bs;
    int find_keys_type;
    union {
        struct {
            int lastkey;
            int keystep;
            int limit;
        } range;
        struct {
            int keynumidx;
            int firstkey;
            int keystep;
        } keynum;
    } fk;
} km_cmd_key_spec;

typedef struct km_cmd_arg {
    const char *name;
    int type;
    int key_spec_index;
    const char *token;
    const char *summary;
    const char *since;
    int flags;
    const char *deprecated_since;
    struct km_cmd_arg *subargs; /* (7.2 appends display_text; 7.0 has none) */
} km_cmd_arg;

typedef struct km_cmd_info {
    const km_cmd_info_version *version;
    const char *summary;
    const char *complexity;
    const char *since;
    km_cmd_history *history;
    const char *tips;
    int arity;
    km_cmd_key_spec *key_specs;
    km_cmd_arg *args;
} km_cmd_info;

/* Module users and ACL checks. ACLCheckKeyPermissions takes the key spec
 * flags (only ACCESS, UPDATE, INSERT, DELETE); ACLCheckChannelPermissions
 * the channel flags; ACLAddLogEntry a reason. */
typedef struct km_user km_user;
typedef void (*km_user_changed_fn)(uint64_t client_id, void *privdata);
#define KM_CMD_KEY_RO (1ULL << 0)
#define KM_CMD_KEY_RW (1ULL << 1)
#define KM_CMD_KEY_OW (1ULL << 2)
#define KM_CMD_KEY_RM (1ULL << 3)
#define KM_CMD_KEY_ACCESS (1ULL << 4)
#define KM_CMD_KEY_UPDATE (1ULL << 5)
#define KM_CMD_KEY_INSERT (1ULL << 6)
#define KM_CMD_KEY_DELETE (1ULL << 7)
#define KM_CMD_CHANNEL_PATTERN (1ULL << 0)
#define KM_CMD_CHANNEL_PUBLISH (1ULL << 1)
#define KM_CMD_CHANNEL_SUBSCRIBE (1ULL << 2)
#define KM_CMD_CHANNEL_UNSUBSCRIBE (1ULL << 3)
enum { KM_ACL_LOG_AUTH = 0, KM_ACL_LOG_CMD = 1, KM_ACL_LOG_KEY = 2, KM_ACL_LOG_CHANNEL = 3 };

/* RegisterAuthCallback (Redis 7.2): a callback's answers. */
#define KM_AUTH_HANDLED 0
#define KM_AUTH_NOT_HANDLED 1
typedef int (*km_auth_fn)(km_ctx *ctx, km_string *username, km_string *password, km_string **err);

/* The fork API: the done handler the server calls when the child ended. */
typedef void (*km_fork_done_fn)(int exitcode, int bysignal, void *user_data);

/* A module's RedisModule_Init reads the first word of the context it gets
 * in OnLoad: the function that looks API functions up by name. */
typedef int (*km_get_api_fn)(const char *name, void *out);

#endif
