/* testmod: a Redis module for Keel's module API tests.
 *
 * It is built against Keel's ABI header only (src/module/module_abi.h),
 * never against redismodule.h, and loads unchanged into Redis 7.0 and into
 * Keel, so tests/integration/test_modules.py can run the same commands on
 * both and compare the replies. Every command is small and deterministic;
 * the names start with "tm.".
 *
 * Like any module, it looks each API function up by name through the
 * function whose address is the first word of the context OnLoad gets,
 * and keeps the pointers in static variables. A function the server does
 * not offer leaves its pointer NULL: OnLoad logs the names (tm.missing
 * lists them too) and goes on, as modules built with Redis's header do.
 * The commands of the newer API groups (sorted-set iterators, Dict, server
 * events, command filters, server info, INFO sections, Scan, configs,
 * command metadata and the like) answer "ERR the server lacks
 * RedisModule_X" then instead of calling a NULL pointer.
 *
 * The section "API coverage: the second batch" (tests/integration/
 * test_modules_api2.py) holds the commands for the functions the others
 * leave out, a second data type (testtype2) among them; its functions
 * have their own table (TM_API2).
 *
 * The section "API coverage: data type callbacks" (tests/integration/
 * test_modules_types2.py) registers two more types, testtype4 (method
 * version 4) and testtype3 (version 3), for tm.dt; its functions are
 * TM_API5's.
 *
 * A load that succeeds subscribes to the server events tm.events logs,
 * makes the global dict of "tm.dict global" and registers the INFO
 * callback (tm.infomode). OnLoad also creates the commands that carry
 * command metadata (tm.container with its subcommands sub1 and sub2,
 * tm.described, tm.keynum, tm.badinfo) and registers the module's configs
 * (testmod.*, see "module configs"), then calls LoadConfigs: a config
 * value given at load that is refused fails the load.
 *
 * OnLoad arguments (all kept for tm.args): "notype" registers no data type
 * (so MODULE UNLOAD can succeed), "fail" makes OnLoad fail after it has
 * created its commands, "refuseunload" makes OnUnload refuse; "aux",
 * "auxbefore" and "auxafter" register the aux data type (see "streams and
 * aux data"), "aux2" the same type with aux_save2 in place of aux_save,
 * "persistev" subscribes to the Persistence events (tm.persistlog),
 * "asyncload" declares REDISMODULE_OPTIONS_HANDLE_IO_ERRORS and
 * _HANDLE_REPL_ASYNC_LOAD (so a swapdb sync may serve the old data set).
 *
 * Build: cc -O2 -g -fPIC -shared -std=c11 -Wall -I src -o testmod.so \
 *        tests/modules/testmod.c -lpthread
 */
#define _GNU_SOURCE /* pthread_tryjoin_np */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "module/module_abi.h"

/* ------------------------------------------------------------------ the API table */

/* Callback types the header leaves to the module. */
typedef int (*blk_reply_fn)(km_ctx *ctx, km_string **argv, int argc);
typedef void (*blk_free_fn)(km_ctx *ctx, void *privdata);

/* What the header does not hold yet for server events, command filters
 * and server info, written here from the API reference (Redis 7.0's
 * numbers and layouts). */

/* RedisModuleEvent, passed by value: the event's id and the version of the
 * structure its callback gets as data (1 for every event in Redis 7.0). */
typedef km_event tm_event; /* module_abi.h's, checked against Redis by these tests */
typedef void (*tm_event_fn)(km_ctx *ctx, tm_event eid, uint64_t subevent, void *data);

/* RedisModuleEvent_* ids. */
#define TM_EVENT_REPLICATION_ROLE_CHANGED 0
#define TM_EVENT_PERSISTENCE 1
#define TM_EVENT_FLUSHDB 2
#define TM_EVENT_LOADING 3
#define TM_EVENT_CLIENT_CHANGE 4
#define TM_EVENT_SHUTDOWN 5
#define TM_EVENT_REPLICA_CHANGE 6
#define TM_EVENT_MASTER_LINK_CHANGE 7
#define TM_EVENT_CRON_LOOP 8
#define TM_EVENT_MODULE_CHANGE 9
#define TM_EVENT_LOADING_PROGRESS 10
#define TM_EVENT_SWAPDB 11

/* Subevents: FlushDB start 0 / end 1; Loading rdb-start 0, aof-start 1,
 * repl-start 2, ended 3, failed 4; ClientChange connected 0 / disconnected
 * 1; ReplicationRoleChanged now-master 0 / now-replica 1. Shutdown,
 * CronLoop and SwapDB have none (subevent 0). */
#define TM_SUB_FLUSHDB_START 0
#define TM_SUB_FLUSHDB_END 1
#define TM_SUB_CLIENT_CONNECTED 0
#define TM_SUB_ROLE_NOW_MASTER 0

/* The data of FlushDB (RedisModuleFlushInfoV1): sync is 1 for a
 * synchronous flush, dbnum -1 for FLUSHALL. */
typedef km_flush_info tm_flush_info; /* module_abi.h's, checked against Redis by these tests */

/* RedisModuleClientInfoV1: ClientChange's data, GetClientInfoById's out. */
#define TM_CLIENTINFO_VERSION 1
#define TM_CLIENTINFO_FLAG_SSL (1 << 0)
#define TM_CLIENTINFO_FLAG_PUBSUB (1 << 1)
#define TM_CLIENTINFO_FLAG_BLOCKED (1 << 2)
#define TM_CLIENTINFO_FLAG_TRACKING (1 << 3)
#define TM_CLIENTINFO_FLAG_UNIXSOCKET (1 << 4)
#define TM_CLIENTINFO_FLAG_MULTI (1 << 5)
typedef km_client_info tm_client_info; /* module_abi.h's, checked against Redis by these tests */

/* RedisModuleReplicationInfoV1: ReplicationRoleChanged's data. */
typedef km_replication_info tm_repl_info; /* module_abi.h's, checked against Redis by these tests */

/* RedisModuleCronLoopV1 and RedisModuleSwapDbInfoV1. */
typedef km_cron_loop tm_cron_info;     /* module_abi.h's, checked against Redis by these tests */
typedef km_swapdb_info tm_swapdb_info; /* module_abi.h's, checked against Redis by these tests */

/* Command filters: the filter handle, the context a filter callback gets,
 * REDISMODULE_CMDFILTER_NOSELF (not applied to the module's own Calls). */
typedef struct tm_cmd_filter tm_cmd_filter;
typedef struct tm_filter_ctx tm_filter_ctx;
typedef void (*tm_filter_fn)(tm_filter_ctx *fctx);
#define TM_CMDFILTER_NOSELF (1 << 0)

/* GetServerInfo's answer; REDISMODULE_OPTIONS_HANDLE_IO_ERRORS. */
typedef struct tm_server_info tm_server_info;
#define TM_OPTIONS_HANDLE_IO_ERRORS (1 << 0)
#define TM_OPTIONS_HANDLE_REPL_ASYNC_LOAD (1 << 2)

/* The later server events (RedisModuleEvent_ForkChild, _ReplAsyncLoad,
 * _EventLoop, _Config; id 12 ReplBackup is not used here) and the
 * subevents of the ones tm.events logs since the third batch. */
#define TM_EVENT_FORK_CHILD 13
#define TM_EVENT_REPL_ASYNC_LOAD 14
#define TM_EVENT_EVENTLOOP 15
#define TM_EVENT_CONFIG 16
#define TM_SUB_REPLICA_CHANGE_ONLINE 0  /* REDISMODULE_SUBEVENT_REPLICA_CHANGE_ONLINE */
#define TM_SUB_REPLICA_CHANGE_OFFLINE 1 /* ..._OFFLINE */
#define TM_SUB_MASTER_LINK_UP 0         /* REDISMODULE_SUBEVENT_MASTER_LINK_UP */
#define TM_SUB_MASTER_LINK_DOWN 1       /* ..._DOWN */
#define TM_SUB_LOADING_PROGRESS_RDB 0   /* REDISMODULE_SUBEVENT_LOADING_PROGRESS_RDB */
#define TM_SUB_LOADING_PROGRESS_AOF 1   /* ..._AOF */
#define TM_SUB_FORK_CHILD_BORN 0        /* REDISMODULE_SUBEVENT_FORK_CHILD_BORN */
#define TM_SUB_FORK_CHILD_DIED 1        /* ..._DIED */
#define TM_SUB_EVENTLOOP_BEFORE_SLEEP 0 /* REDISMODULE_SUBEVENT_EVENTLOOP_BEFORE_SLEEP */
#define TM_SUB_EVENTLOOP_AFTER_SLEEP 1  /* ..._AFTER_SLEEP */
#define TM_SUB_CONFIG_CHANGE 0          /* REDISMODULE_SUBEVENT_CONFIG_CHANGE */

/* RedisModuleLoadingProgressV1: LoadingProgress's data; progress is
 * 0..1024 (loaded bytes * 1024 / total), -1 when unknown. */
typedef km_loading_progress tm_loading_progress; /* module_abi.h's, checked against Redis by these tests */

/* RedisModuleConfigChangeV1: Config's data. Note the order: the count
 * comes before the array of names (the API reference's prose lists them
 * the other way round; the structure is this one). */
typedef km_config_change tm_config_change; /* module_abi.h's, checked against Redis by these tests */

/* INFO sections (RegisterInfoFunc): RedisModuleInfoCtx and
 * RedisModuleInfoFunc (for_crash_report is 1 when the server prints the
 * INFO of a crash report). */
typedef struct tm_info_ctx tm_info_ctx;
typedef void (*tm_info_fn)(tm_info_ctx *ictx, int for_crash_report);

/* The Scan API: RedisModuleScanCursor, RedisModuleScanCB (one key of the
 * selected db; key may be NULL) and RedisModuleScanKeyCB (one element of a
 * hash, set or sorted set; value NULL for a set). Both return void. */
typedef struct tm_scan_cursor tm_scan_cursor;
typedef void (*tm_scan_fn)(km_ctx *ctx, km_string *keyname, km_key *key, void *privdata);
typedef void (*tm_scankey_fn)(km_key *key, km_string *field, km_string *value, void *privdata);

/* Module configs: REDISMODULE_CONFIG_* flags (an unsigned int argument)
 * and the callback types RedisModuleConfigGet{String,Bool,Numeric,Enum}Func,
 * RedisModuleConfigSet{String,Bool,Numeric,Enum}Func and
 * RedisModuleConfigApplyFunc. A setter or apply callback that fails may
 * set *err to a string the server frees. */
#define TM_CONFIG_DEFAULT 0
#define TM_CONFIG_IMMUTABLE (1U << 0)
#define TM_CONFIG_SENSITIVE (1U << 1)
#define TM_CONFIG_HIDDEN (1U << 4)
#define TM_CONFIG_PROTECTED (1U << 5)
#define TM_CONFIG_DENY_LOADING (1U << 6)
#define TM_CONFIG_MEMORY (1U << 7)
#define TM_CONFIG_BITFLAGS (1U << 8)
typedef km_string *(*tm_cfg_get_string_fn)(const char *name, void *privdata);
typedef long long (*tm_cfg_get_numeric_fn)(const char *name, void *privdata);
typedef int (*tm_cfg_get_bool_fn)(const char *name, void *privdata);
typedef int (*tm_cfg_get_enum_fn)(const char *name, void *privdata);
typedef int (*tm_cfg_set_string_fn)(const char *name, km_string *val, void *privdata, km_string **err);
typedef int (*tm_cfg_set_numeric_fn)(const char *name, long long val, void *privdata, km_string **err);
typedef int (*tm_cfg_set_bool_fn)(const char *name, int val, void *privdata, km_string **err);
typedef int (*tm_cfg_set_enum_fn)(const char *name, int val, void *privdata, km_string **err);
typedef int (*tm_cfg_apply_fn)(km_ctx *ctx, void *privdata, km_string **err);

/* Command metadata (GetCommand, CreateSubcommand, SetCommandInfo), Redis
 * 7.0's structures, field by field in Redis's order. RedisModuleCommand is
 * opaque. The server steps through the history, key-spec and argument
 * arrays by the sizes the version structure gives, so each array may
 * grow in later versions; every array ends with an all-zero element (for
 * key specs: begin_search_type 0). */
typedef struct tm_command tm_command;

/* RedisModuleCommandArgType (an enum, so an int). */
enum {
    TM_ARG_TYPE_STRING = 0,
    TM_ARG_TYPE_INTEGER = 1,
    TM_ARG_TYPE_DOUBLE = 2,
    TM_ARG_TYPE_KEY = 3,
    TM_ARG_TYPE_PATTERN = 4,
    TM_ARG_TYPE_UNIX_TIME = 5,
    TM_ARG_TYPE_PURE_TOKEN = 6,
    TM_ARG_TYPE_ONEOF = 7, /* needs subargs */
    TM_ARG_TYPE_BLOCK = 8  /* needs subargs */
};
/* REDISMODULE_CMD_ARG_* (an int field). */
#define TM_CMD_ARG_NONE 0
#define TM_CMD_ARG_OPTIONAL (1 << 0)
#define TM_CMD_ARG_MULTIPLE (1 << 1)
#define TM_CMD_ARG_MULTIPLE_TOKEN (1 << 2)

/* RedisModuleKeySpecBeginSearchType and RedisModuleKeySpecFindKeysType
 * (enums: ints); 0 marks "absent" in both. */
enum { TM_KSPEC_BS_INVALID = 0, TM_KSPEC_BS_UNKNOWN = 1, TM_KSPEC_BS_INDEX = 2, TM_KSPEC_BS_KEYWORD = 3 };
enum { TM_KSPEC_FK_OMITTED = 0, TM_KSPEC_FK_UNKNOWN = 1, TM_KSPEC_FK_RANGE = 2, TM_KSPEC_FK_KEYNUM = 3 };

/* REDISMODULE_CMD_KEY_* key-spec flags (a uint64_t field). */
#define TM_CMD_KEY_RO (1ULL << 0)
#define TM_CMD_KEY_RW (1ULL << 1)
#define TM_CMD_KEY_OW (1ULL << 2)
#define TM_CMD_KEY_RM (1ULL << 3)
#define TM_CMD_KEY_ACCESS (1ULL << 4)
#define TM_CMD_KEY_UPDATE (1ULL << 5)
#define TM_CMD_KEY_INSERT (1ULL << 6)
#define TM_CMD_KEY_DELETE (1ULL << 7)
#define TM_CMD_KEY_NOT_KEY (1ULL << 8)
#define TM_CMD_KEY_INCOMPLETE (1ULL << 9)
#define TM_CMD_KEY_VARIABLE_FLAGS (1ULL << 10)

/* RedisModuleCommandArg, Redis 7.0's fields in order (7.2 appends
 * `const char *display_text` after subargs). On x86-64: name 0, type 8,
 * key_spec_index 12, token 16, summary 24, since 32, flags 40,
 * deprecated_since 48, subargs 56; 64 bytes. */
typedef km_cmd_arg tm_cmd_arg; /* module_abi.h's, checked against Redis by these tests */

/* RedisModuleCommandHistoryEntry: since, then changes; 16 bytes. */
typedef km_cmd_history tm_cmd_history; /* module_abi.h's, checked against Redis by these tests */

/* RedisModuleCommandKeySpec. On x86-64: notes 0, flags 8,
 * begin_search_type 16, the bs union at 24 (index.pos: an int;
 * keyword.keyword a pointer at 24, keyword.startfrom an int at 32), 16
 * bytes; find_keys_type 40, the fk union at 44 (range: lastkey, keystep,
 * limit; keynum: keynumidx, firstkey, keystep; three ints each), 12
 * bytes; 56 bytes in all. */
typedef km_cmd_key_spec tm_cmd_keyspec; /* module_abi.h's, checked against Redis by these tests */

/* RedisModuleCommandInfoVersion: version 1 and the sizes of one history
 * entry, key spec and argument as the module was built (x86-64: int at 0,
 * size_t at 8, 16, 24; 32 bytes). REDISMODULE_COMMAND_INFO_VERSION points
 * at such a structure holding {1, 16, 56, 64}. */
typedef km_cmd_info_version tm_cmd_info_version; /* module_abi.h's, checked against Redis by these tests */

/* RedisModuleCommandInfo (x86-64 offsets: version 0, summary 8,
 * complexity 16, since 24, history 32, tips 40, arity 48, key_specs 56,
 * args 64; 72 bytes). Every field but version is optional; arity 0 means
 * -2 for a command with subcommands and -1 otherwise. */
typedef km_cmd_info tm_cmd_info; /* module_abi.h's, checked against Redis by these tests */

static const tm_cmd_info_version tm_cmd_info_v1 = {1, sizeof(tm_cmd_history), sizeof(tm_cmd_keyspec),
                                                   sizeof(tm_cmd_arg)};

/* X(return type, name without the RedisModule_ prefix, parameter list) */
#define TM_API(X)                                                                                                      \
    X(void *, Alloc, (size_t bytes))                                                                                   \
    X(void *, Calloc, (size_t nmemb, size_t size))                                                                     \
    X(void *, Realloc, (void *ptr, size_t bytes))                                                                      \
    X(void, Free, (void *ptr))                                                                                         \
    X(char *, Strdup, (const char *str))                                                                               \
    X(void, SetModuleAttribs, (km_ctx * ctx, const char *name, int ver, int apiver))                                   \
    X(int, IsModuleNameBusy, (const char *name))                                                                       \
    X(int, CreateCommand,                                                                                              \
      (km_ctx * ctx, const char *name, km_cmd_fn fn, const char *flags, int first, int last, int step))                \
    X(void, Log, (km_ctx * ctx, const char *level, const char *fmt, ...))                                              \
    X(void, AutoMemory, (km_ctx * ctx))                                                                                \
    X(int, WrongArity, (km_ctx * ctx))                                                                                 \
    X(int, ReplyWithLongLong, (km_ctx * ctx, long long ll))                                                            \
    X(int, ReplyWithSimpleString, (km_ctx * ctx, const char *msg))                                                     \
    X(int, ReplyWithError, (km_ctx * ctx, const char *err))                                                            \
    X(int, ReplyWithArray, (km_ctx * ctx, long len))                                                                   \
    X(void, ReplySetArrayLength, (km_ctx * ctx, long len))                                                             \
    X(int, ReplyWithMap, (km_ctx * ctx, long len))                                                                     \
    X(int, ReplyWithSet, (km_ctx * ctx, long len))                                                                     \
    X(int, ReplyWithNull, (km_ctx * ctx))                                                                              \
    X(int, ReplyWithNullArray, (km_ctx * ctx))                                                                         \
    X(int, ReplyWithEmptyArray, (km_ctx * ctx))                                                                        \
    X(int, ReplyWithEmptyString, (km_ctx * ctx))                                                                       \
    X(int, ReplyWithBool, (km_ctx * ctx, int b))                                                                       \
    X(int, ReplyWithDouble, (km_ctx * ctx, double d))                                                                  \
    X(int, ReplyWithBigNumber, (km_ctx * ctx, const char *bignum, size_t len))                                         \
    X(int, ReplyWithVerbatimString, (km_ctx * ctx, const char *buf, size_t len))                                       \
    X(int, ReplyWithCString, (km_ctx * ctx, const char *buf))                                                          \
    X(int, ReplyWithStringBuffer, (km_ctx * ctx, const char *buf, size_t len))                                         \
    X(int, ReplyWithString, (km_ctx * ctx, km_string * str))                                                           \
    X(int, ReplyWithCallReply, (km_ctx * ctx, km_call_reply * reply))                                                  \
    X(km_string *, CreateString, (km_ctx * ctx, const char *ptr, size_t len))                                          \
    X(km_string *, CreateStringFromLongLong, (km_ctx * ctx, long long ll))                                             \
    X(km_string *, CreateStringFromString, (km_ctx * ctx, const km_string *str))                                       \
    X(km_string *, CreateStringPrintf, (km_ctx * ctx, const char *fmt, ...))                                           \
    X(void, FreeString, (km_ctx * ctx, km_string * str))                                                               \
    X(const char *, StringPtrLen, (const km_string *str, size_t *len))                                                 \
    X(int, StringToLongLong, (const km_string *str, long long *ll))                                                    \
    X(int, StringToDouble, (const km_string *str, double *d))                                                          \
    X(int, StringAppendBuffer, (km_ctx * ctx, km_string * str, const char *buf, size_t len))                           \
    X(int, StringCompare, (km_string * a, km_string * b))                                                              \
    X(km_key *, OpenKey, (km_ctx * ctx, km_string * name, int mode))                                                   \
    X(void, CloseKey, (km_key * key))                                                                                  \
    X(int, KeyType, (km_key * key))                                                                                    \
    X(size_t, ValueLength, (km_key * key))                                                                             \
    X(int, DeleteKey, (km_key * key))                                                                                  \
    X(int, StringSet, (km_key * key, km_string * str))                                                                 \
    X(char *, StringDMA, (km_key * key, size_t * len, int mode))                                                       \
    X(long long, GetExpire, (km_key * key))                                                                            \
    X(int, SetExpire, (km_key * key, long long ms))                                                                    \
    X(int, HashSet, (km_key * key, int flags, ...))                                                                    \
    X(int, HashGet, (km_key * key, int flags, ...))                                                                    \
    X(int, ListPush, (km_key * key, int where, km_string *ele))                                                        \
    X(km_string *, ListPop, (km_key * key, int where))                                                                 \
    X(km_string *, ListGet, (km_key * key, long index))                                                                \
    X(int, ListSet, (km_key * key, long index, km_string *value))                                                      \
    X(int, ListInsert, (km_key * key, long index, km_string *value))                                                   \
    X(int, ListDelete, (km_key * key, long index))                                                                     \
    X(int *, GetCommandKeys, (km_ctx * ctx, km_string * *argv, int argc, int *num_keys))                               \
    X(int, GetDbIdFromModuleKey, (km_key * key))                                                                       \
    X(int *, GetCommandKeysWithFlags, (km_ctx * ctx, km_string * *argv, int argc, int *num_keys, int **out_flags))     \
    X(int, GetLRU, (km_key * key, long long *lru_idle))                                                                \
    X(int, SetLRU, (km_key * key, long long lru_idle))                                                                 \
    X(int, GetLFU, (km_key * key, long long *lfu_freq))                                                                \
    X(int, SetLFU, (km_key * key, long long lfu_freq))                                                                 \
    X(int, ZsetAdd, (km_key * key, double score, km_string *ele, int *flags))                                          \
    X(int, ZsetScore, (km_key * key, km_string * ele, double *score))                                                  \
    X(km_call_reply *, Call, (km_ctx * ctx, const char *cmd, const char *fmt, ...))                                    \
    X(int, CallReplyType, (km_call_reply * reply))                                                                     \
    X(size_t, CallReplyLength, (km_call_reply * reply))                                                                \
    X(km_call_reply *, CallReplyArrayElement, (km_call_reply * reply, size_t idx))                                     \
    X(const char *, CallReplyStringPtr, (km_call_reply * reply, size_t * len))                                         \
    X(long long, CallReplyInteger, (km_call_reply * reply))                                                            \
    X(void, FreeCallReply, (km_call_reply * reply))                                                                    \
    X(int, ReplicateVerbatim, (km_ctx * ctx))                                                                          \
    X(km_type *, CreateDataType, (km_ctx * ctx, const char *name, int encver, km_type_methods *methods))               \
    X(int, ModuleTypeSetValue, (km_key * key, km_type * mt, void *value))                                              \
    X(km_type *, ModuleTypeGetType, (km_key * key))                                                                    \
    X(void *, ModuleTypeGetValue, (km_key * key))                                                                      \
    X(void, SaveUnsigned, (km_io * io, uint64_t value))                                                                \
    X(uint64_t, LoadUnsigned, (km_io * io))                                                                            \
    X(void, SaveSigned, (km_io * io, int64_t value))                                                                   \
    X(int64_t, LoadSigned, (km_io * io))                                                                               \
    X(void, SaveString, (km_io * io, km_string * s))                                                                   \
    X(void, SaveStringBuffer, (km_io * io, const char *str, size_t len))                                               \
    X(km_string *, LoadString, (km_io * io))                                                                           \
    X(char *, LoadStringBuffer, (km_io * io, size_t * len))                                                            \
    X(void, SaveDouble, (km_io * io, double value))                                                                    \
    X(double, LoadDouble, (km_io * io))                                                                                \
    X(void, SaveLongDouble, (km_io * io, long double value))                                                           \
    X(long double, LoadLongDouble, (km_io * io))                                                                       \
    X(void, SaveFloat, (km_io * io, float value))                                                                      \
    X(float, LoadFloat, (km_io * io))                                                                                  \
    X(void, EmitAOF, (km_io * io, const char *cmd, const char *fmt, ...))                                              \
    X(void, DigestAddStringBuffer, (km_digest * md, const char *ele, size_t len))                                      \
    X(void, DigestAddLongLong, (km_digest * md, long long ll))                                                         \
    X(void, DigestEndSequence, (km_digest * md))                                                                       \
    X(km_blocked *, BlockClient,                                                                                       \
      (km_ctx * ctx, blk_reply_fn reply, blk_reply_fn timeout, blk_free_fn free_privdata, long long ms))               \
    X(int, UnblockClient, (km_blocked * bc, void *privdata))                                                           \
    X(int, BlockedClientMeasureTimeStart, (km_blocked * bc))                                                           \
    X(int, BlockedClientMeasureTimeEnd, (km_blocked * bc))                                                             \
    X(void *, GetBlockedClientPrivateData, (km_ctx * ctx))                                                             \
    X(km_ctx *, GetThreadSafeContext, (km_blocked * bc))                                                               \
    X(void, FreeThreadSafeContext, (km_ctx * ctx))                                                                     \
    X(void, ThreadSafeContextLock, (km_ctx * ctx))                                                                     \
    X(void, ThreadSafeContextUnlock, (km_ctx * ctx))                                                                   \
    X(int, GetContextFlags, (km_ctx * ctx))                                                                            \
    X(km_timer_id, CreateTimer, (km_ctx * ctx, long long period, km_timer_fn callback, void *data))                    \
    X(int, ZsetFirstInScoreRange, (km_key * key, double min, double max, int minex, int maxex))                        \
    X(int, ZsetLastInScoreRange, (km_key * key, double min, double max, int minex, int maxex))                         \
    X(int, ZsetFirstInLexRange, (km_key * key, km_string * min, km_string * max))                                      \
    X(int, ZsetLastInLexRange, (km_key * key, km_string * min, km_string * max))                                       \
    X(km_string *, ZsetRangeCurrentElement, (km_key * key, double *score))                                             \
    X(int, ZsetRangeNext, (km_key * key))                                                                              \
    X(int, ZsetRangePrev, (km_key * key))                                                                              \
    X(int, ZsetRangeEndReached, (km_key * key))                                                                        \
    X(void, ZsetRangeStop, (km_key * key))                                                                             \
    X(km_dict *, CreateDict, (km_ctx * ctx))                                                                           \
    X(void, FreeDict, (km_ctx * ctx, km_dict * d))                                                                     \
    X(uint64_t, DictSize, (km_dict * d))                                                                               \
    X(int, DictSetC, (km_dict * d, void *key, size_t keylen, void *ptr))                                               \
    X(int, DictReplaceC, (km_dict * d, void *key, size_t keylen, void *ptr))                                           \
    X(int, DictSet, (km_dict * d, km_string * key, void *ptr))                                                         \
    X(int, DictReplace, (km_dict * d, km_string * key, void *ptr))                                                     \
    X(void *, DictGetC, (km_dict * d, void *key, size_t keylen, int *nokey))                                           \
    X(void *, DictGet, (km_dict * d, km_string * key, int *nokey))                                                     \
    X(int, DictDelC, (km_dict * d, void *key, size_t keylen, void *oldval))                                            \
    X(int, DictDel, (km_dict * d, km_string * key, void *oldval))                                                      \
    X(km_dict_iter *, DictIteratorStartC, (km_dict * d, const char *op, void *key, size_t keylen))                     \
    X(km_dict_iter *, DictIteratorStart, (km_dict * d, const char *op, km_string *key))                                \
    X(void, DictIteratorStop, (km_dict_iter * di))                                                                     \
    X(int, DictIteratorReseekC, (km_dict_iter * di, const char *op, void *key, size_t keylen))                         \
    X(int, DictIteratorReseek, (km_dict_iter * di, const char *op, km_string *key))                                    \
    X(void *, DictNextC, (km_dict_iter * di, size_t * keylen, void **dataptr))                                         \
    X(void *, DictPrevC, (km_dict_iter * di, size_t * keylen, void **dataptr))                                         \
    X(km_string *, DictNext, (km_ctx * ctx, km_dict_iter * di, void **dataptr))                                        \
    X(km_string *, DictPrev, (km_ctx * ctx, km_dict_iter * di, void **dataptr))                                        \
    X(int, DictCompareC, (km_dict_iter * di, const char *op, void *key, size_t keylen))                                \
    X(int, DictCompare, (km_dict_iter * di, const char *op, km_string *key))                                           \
    X(int, SubscribeToServerEvent, (km_ctx * ctx, tm_event event, tm_event_fn callback))                               \
    X(int, IsSubEventSupported, (tm_event event, int64_t subevent))                                                    \
    X(tm_cmd_filter *, RegisterCommandFilter, (km_ctx * ctx, tm_filter_fn callback, int flags))                        \
    X(int, UnregisterCommandFilter, (km_ctx * ctx, tm_cmd_filter * filter))                                            \
    X(int, CommandFilterArgsCount, (tm_filter_ctx * fctx))                                                             \
    X(km_string *, CommandFilterArgGet, (tm_filter_ctx * fctx, int pos))                                               \
    X(int, CommandFilterArgInsert, (tm_filter_ctx * fctx, int pos, km_string *arg))                                    \
    X(int, CommandFilterArgReplace, (tm_filter_ctx * fctx, int pos, km_string *arg))                                   \
    X(int, CommandFilterArgDelete, (tm_filter_ctx * fctx, int pos))                                                    \
    X(tm_server_info *, GetServerInfo, (km_ctx * ctx, const char *section))                                            \
    X(void, FreeServerInfo, (km_ctx * ctx, tm_server_info * data))                                                     \
    X(km_string *, ServerInfoGetField, (km_ctx * ctx, tm_server_info * data, const char *field))                       \
    X(const char *, ServerInfoGetFieldC, (tm_server_info * data, const char *field))                                   \
    X(long long, ServerInfoGetFieldSigned, (tm_server_info * data, const char *field, int *out_err))                   \
    X(unsigned long long, ServerInfoGetFieldUnsigned, (tm_server_info * data, const char *field, int *out_err))        \
    X(double, ServerInfoGetFieldDouble, (tm_server_info * data, const char *field, int *out_err))                      \
    X(unsigned long long, GetClientId, (km_ctx * ctx))                                                                 \
    X(int, GetClientInfoById, (void *ci, uint64_t id))                                                                 \
    X(km_string *, GetClientNameById, (km_ctx * ctx, uint64_t id))                                                     \
    X(int, GetServerVersion, (void))                                                                                   \
    X(int, GetTypeMethodVersion, (void))                                                                               \
    X(long long, Milliseconds, (void))                                                                                 \
    X(uint64_t, MonotonicMicroseconds, (void))                                                                         \
    X(int, AvoidReplicaTraffic, (void))                                                                                \
    X(int, GetKeyspaceNotificationFlagsAll, (void))                                                                    \
    X(void, SetModuleOptions, (km_ctx * ctx, int options))                                                             \
    X(int, RegisterInfoFunc, (km_ctx * ctx, tm_info_fn cb))                                                            \
    X(int, InfoAddSection, (tm_info_ctx * ictx, const char *name))                                                     \
    X(int, InfoBeginDictField, (tm_info_ctx * ictx, const char *name))                                                 \
    X(int, InfoEndDictField, (tm_info_ctx * ictx))                                                                     \
    X(int, InfoAddFieldString, (tm_info_ctx * ictx, const char *field, km_string *value))                              \
    X(int, InfoAddFieldCString, (tm_info_ctx * ictx, const char *field, const char *value))                            \
    X(int, InfoAddFieldDouble, (tm_info_ctx * ictx, const char *field, double value))                                  \
    X(int, InfoAddFieldLongLong, (tm_info_ctx * ictx, const char *field, long long value))                             \
    X(int, InfoAddFieldULongLong, (tm_info_ctx * ictx, const char *field, unsigned long long value))                   \
    X(tm_scan_cursor *, ScanCursorCreate, (void))                                                                      \
    X(void, ScanCursorRestart, (tm_scan_cursor * cursor))                                                              \
    X(void, ScanCursorDestroy, (tm_scan_cursor * cursor))                                                              \
    X(int, Scan, (km_ctx * ctx, tm_scan_cursor * cursor, tm_scan_fn fn, void *privdata))                               \
    X(int, ScanKey, (km_key * key, tm_scan_cursor * cursor, tm_scankey_fn fn, void *privdata))                         \
    X(int, RegisterStringConfig,                                                                                       \
      (km_ctx * ctx, const char *name, const char *default_val, unsigned int flags, tm_cfg_get_string_fn getfn,        \
       tm_cfg_set_string_fn setfn, tm_cfg_apply_fn applyfn, void *privdata))                                           \
    X(int, RegisterBoolConfig,                                                                                         \
      (km_ctx * ctx, const char *name, int default_val, unsigned int flags, tm_cfg_get_bool_fn getfn,                  \
       tm_cfg_set_bool_fn setfn, tm_cfg_apply_fn applyfn, void *privdata))                                             \
    X(int, RegisterNumericConfig,                                                                                      \
      (km_ctx * ctx, const char *name, long long default_val, unsigned int flags, long long min, long long max,        \
       tm_cfg_get_numeric_fn getfn, tm_cfg_set_numeric_fn setfn, tm_cfg_apply_fn applyfn, void *privdata))             \
    X(int, RegisterEnumConfig,                                                                                         \
      (km_ctx * ctx, const char *name, int default_val, unsigned int flags, const char **enum_values,                  \
       const int *int_values, int num_enum_vals, tm_cfg_get_enum_fn getfn, tm_cfg_set_enum_fn setfn,                   \
       tm_cfg_apply_fn applyfn, void *privdata))                                                                       \
    X(int, LoadConfigs, (km_ctx * ctx))                                                                                \
    X(tm_command *, GetCommand, (km_ctx * ctx, const char *name))                                                      \
    X(int, CreateSubcommand,                                                                                           \
      (tm_command * parent, const char *name, km_cmd_fn fn, const char *flags, int first, int last, int step))         \
    X(int, SetCommandInfo, (tm_command * command, const tm_cmd_info *info))                                            \
    X(unsigned long long, DbSize, (km_ctx * ctx))                                                                      \
    X(km_string *, RandomKey, (km_ctx * ctx))                                                                          \
    X(const char *, GetCurrentCommandName, (km_ctx * ctx))                                                             \
    X(int, SignalModifiedKey, (km_ctx * ctx, km_string * keyname))                                                     \
    X(int, PublishMessage, (km_ctx * ctx, km_string * channel, km_string * message))                                   \
    X(int, PublishMessageShard, (km_ctx * ctx, km_string * channel, km_string * message))                              \
    X(int, SetClientNameById, (uint64_t id, km_string * name))                                                         \
    X(float, GetUsedMemoryRatio, (void))                                                                               \
    X(void, LatencyAddSample, (const char *event, long long latency))                                                  \
    X(void *, TryAlloc, (size_t bytes))                                                                                \
    X(size_t, MallocSize, (void *ptr))                                                                                 \
    X(size_t, MallocUsableSize, (void *ptr))                                                                           \
    X(size_t, MallocSizeString, (km_string * str))                                                                     \
    X(int, GetContextFlagsAll, (void))                                                                                 \
    X(km_string *, CreateStringFromULongLong, (km_ctx * ctx, unsigned long long ull))                                  \
    X(km_string *, CreateStringFromLongDouble, (km_ctx * ctx, long double ld, int humanfriendly))                      \
    X(int, StringToULongLong, (const km_string *str, unsigned long long *ull))                                         \
    X(int, StringToLongDouble, (const km_string *str, long double *d))                                                 \
    X(void, _Assert, (const char *estr, const char *file, int line))

#define TM_DECLARE(ret, name, params) static ret(*RedisModule_##name) params;
TM_API(TM_DECLARE)
#undef TM_DECLARE

/* The names OnLoad could not find, for the log and tm.missing. */
static char missing_apis[8192];

static void fetch_api(km_get_api_fn getapi, const char *name, void *out)
{
    if (getapi(name, out) != KM_OK || *(void **)out == NULL) {
        *(void **)out = NULL;
        size_t used = strlen(missing_apis);
        snprintf(missing_apis + used, sizeof(missing_apis) - used, "%s%s", used ? " " : "", name);
    }
}

#define TM_FETCH(ret, name, params) fetch_api(getapi, "RedisModule_" #name, (void *)&RedisModule_##name);

/* ------------------------------------------------------------------ helpers */

#define WRONGTYPE_MSG "WRONGTYPE Operation against a key holding the wrong kind of value"

static const char *str_of(km_string *s, size_t *len)
{
    return RedisModule_StringPtrLen(s, len);
}

/* Case-insensitive comparison of an argument with a word. */
static int arg_is(km_string *s, const char *word)
{
    size_t len;
    const char *p = str_of(s, &len);
    return len == strlen(word) && strncasecmp(p, word, len) == 0;
}

/* A copy of an argument as a NUL-terminated string (RedisModule_Alloc'd). */
static char *arg_dup(km_string *s)
{
    size_t len;
    const char *p = str_of(s, &len);
    char *out = RedisModule_Alloc(len + 1);
    memcpy(out, p, len);
    out[len] = '\0';
    return out;
}

static void sleep_ms(long long ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

/* Threads the module starts. They are joined, not detached: a detached
 * thread may still be running the module's last instructions (its return
 * after UnblockClient) when MODULE UNLOAD unmaps the library. OnUnload
 * joins them all; each start joins those already done. */
typedef struct tm_thread {
    pthread_t tid;
    struct tm_thread *next;
} tm_thread;

static tm_thread *threads;
static pthread_mutex_t threads_lock = PTHREAD_MUTEX_INITIALIZER;

/* Joins the threads that have ended; with wait_ms > 0 waits up to that
 * long for the others. Nonzero while some are left. */
static int threads_join(long long wait_ms)
{
    pthread_mutex_lock(&threads_lock);
    for (;;) {
        for (tm_thread **pp = &threads; *pp;) {
            tm_thread *t = *pp;
            if (pthread_tryjoin_np(t->tid, NULL) == 0) {
                *pp = t->next;
                free(t);
            } else {
                pp = &t->next;
            }
        }
        if (!threads || wait_ms <= 0)
            break;
        pthread_mutex_unlock(&threads_lock);
        sleep_ms(1);
        wait_ms--;
        pthread_mutex_lock(&threads_lock);
    }
    int left = threads != NULL;
    pthread_mutex_unlock(&threads_lock);
    return left;
}

/* Runs fn(arg) on a new thread: 0, or pthread_create's error. */
static int thread_start(void *(*fn)(void *), void *arg)
{
    threads_join(0);
    tm_thread *t = calloc(1, sizeof(*t));
    if (!t)
        return ENOMEM;
    pthread_mutex_lock(&threads_lock);
    int rc = pthread_create(&t->tid, NULL, fn, arg);
    if (rc == 0) {
        t->next = threads;
        threads = t;
    }
    pthread_mutex_unlock(&threads_lock);
    if (rc != 0)
        free(t);
    return rc;
}

/* ------------------------------------------------------------------ tm.reply */

/* tm.reply <kind>: one reply of each kind the reply API can build. */
static int cmd_reply(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    km_string *k = argv[1];
    if (arg_is(k, "longlong"))
        return RedisModule_ReplyWithLongLong(ctx, -1234567890123LL);
    if (arg_is(k, "simple"))
        return RedisModule_ReplyWithSimpleString(ctx, "hello simple");
    if (arg_is(k, "error"))
        return RedisModule_ReplyWithError(ctx, "ERR custom failure");
    if (arg_is(k, "errcode"))
        return RedisModule_ReplyWithError(ctx, "MYCODE something went wrong");
    if (arg_is(k, "array")) {
        /* [1, "two", [3, "four", null], null, [], -5] */
        RedisModule_ReplyWithArray(ctx, 6);
        RedisModule_ReplyWithLongLong(ctx, 1);
        RedisModule_ReplyWithCString(ctx, "two");
        RedisModule_ReplyWithArray(ctx, 3);
        RedisModule_ReplyWithLongLong(ctx, 3);
        RedisModule_ReplyWithSimpleString(ctx, "four");
        RedisModule_ReplyWithNull(ctx);
        RedisModule_ReplyWithNull(ctx);
        RedisModule_ReplyWithArray(ctx, 0);
        return RedisModule_ReplyWithLongLong(ctx, -5);
    }
    if (arg_is(k, "postponed")) {
        /* [10, [20, 21], "x"] with both lengths set after the elements. */
        RedisModule_ReplyWithArray(ctx, KM_POSTPONED_LEN);
        RedisModule_ReplyWithLongLong(ctx, 10);
        RedisModule_ReplyWithArray(ctx, KM_POSTPONED_LEN);
        RedisModule_ReplyWithLongLong(ctx, 20);
        RedisModule_ReplyWithLongLong(ctx, 21);
        RedisModule_ReplySetArrayLength(ctx, 2);
        RedisModule_ReplyWithCString(ctx, "x");
        RedisModule_ReplySetArrayLength(ctx, 3);
        return KM_OK;
    }
    if (arg_is(k, "postponed-empty")) {
        RedisModule_ReplyWithArray(ctx, KM_POSTPONED_LEN);
        RedisModule_ReplySetArrayLength(ctx, 0);
        return KM_OK;
    }
    if (arg_is(k, "null"))
        return RedisModule_ReplyWithNull(ctx);
    if (arg_is(k, "double")) {
        RedisModule_ReplyWithArray(ctx, 6);
        RedisModule_ReplyWithDouble(ctx, 3.14);
        RedisModule_ReplyWithDouble(ctx, 1e300);
        RedisModule_ReplyWithDouble(ctx, -0.5);
        RedisModule_ReplyWithDouble(ctx, 10.0);
        RedisModule_ReplyWithDouble(ctx, INFINITY);
        return RedisModule_ReplyWithDouble(ctx, -INFINITY);
    }
    if (arg_is(k, "cstring"))
        return RedisModule_ReplyWithCString(ctx, "a c string");
    if (arg_is(k, "buffer"))
        return RedisModule_ReplyWithStringBuffer(ctx, "ab\0cd", 5);
    if (arg_is(k, "printf")) {
        km_string *s = RedisModule_CreateStringPrintf(ctx, "%s-%lld", "printf", 42LL);
        RedisModule_ReplyWithString(ctx, s);
        RedisModule_FreeString(ctx, s);
        return KM_OK;
    }
    if (arg_is(k, "fromll")) {
        km_string *s = RedisModule_CreateStringFromLongLong(ctx, -9007199254740993LL);
        RedisModule_ReplyWithString(ctx, s);
        RedisModule_FreeString(ctx, s);
        return KM_OK;
    }
    if (arg_is(k, "empties")) {
        RedisModule_ReplyWithArray(ctx, 3);
        RedisModule_ReplyWithEmptyArray(ctx);
        RedisModule_ReplyWithEmptyString(ctx);
        return RedisModule_ReplyWithNullArray(ctx);
    }
    if (arg_is(k, "map")) {
        /* {"a": 1, "b": [true, false]} (a flat array in RESP2) */
        RedisModule_ReplyWithMap(ctx, 2);
        RedisModule_ReplyWithCString(ctx, "a");
        RedisModule_ReplyWithLongLong(ctx, 1);
        RedisModule_ReplyWithCString(ctx, "b");
        RedisModule_ReplyWithArray(ctx, 2);
        RedisModule_ReplyWithBool(ctx, 1);
        return RedisModule_ReplyWithBool(ctx, 0);
    }
    if (arg_is(k, "set")) {
        RedisModule_ReplyWithSet(ctx, 2);
        RedisModule_ReplyWithCString(ctx, "m1");
        return RedisModule_ReplyWithCString(ctx, "m2");
    }
    if (arg_is(k, "bignumber"))
        return RedisModule_ReplyWithBigNumber(ctx, "123456789012345678901234567890", 30);
    if (arg_is(k, "verbatim"))
        return RedisModule_ReplyWithVerbatimString(ctx, "verbatim text", 13);
    return RedisModule_ReplyWithError(ctx, "ERR unknown reply kind");
}

/* ------------------------------------------------------------------ strings */

/* tm.str.tonum s: [StringToLongLong's value or "no-ll",
 *                  StringToDouble's value or "no-double"] */
static int cmd_str_tonum(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    long long ll;
    double d;
    RedisModule_ReplyWithArray(ctx, 2);
    if (RedisModule_StringToLongLong(argv[1], &ll) == KM_OK)
        RedisModule_ReplyWithLongLong(ctx, ll);
    else
        RedisModule_ReplyWithSimpleString(ctx, "no-ll");
    if (RedisModule_StringToDouble(argv[1], &d) == KM_OK)
        RedisModule_ReplyWithDouble(ctx, d);
    else
        RedisModule_ReplyWithSimpleString(ctx, "no-double");
    return KM_OK;
}

/* tm.str.append a b: [a copy of a with b appended, a itself] */
static int cmd_str_append(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 3)
        return RedisModule_WrongArity(ctx);
    km_string *s = RedisModule_CreateStringFromString(ctx, argv[1]);
    size_t blen;
    const char *b = str_of(argv[2], &blen);
    if (RedisModule_StringAppendBuffer(ctx, s, b, blen) != KM_OK) {
        RedisModule_FreeString(ctx, s);
        return RedisModule_ReplyWithError(ctx, "ERR StringAppendBuffer failed");
    }
    /* A second append of the same bytes, to see the buffer grow. */
    RedisModule_StringAppendBuffer(ctx, s, "|", 1);
    RedisModule_ReplyWithArray(ctx, 2);
    RedisModule_ReplyWithString(ctx, s);
    RedisModule_ReplyWithString(ctx, argv[1]);
    RedisModule_FreeString(ctx, s);
    return KM_OK;
}

/* tm.str.compare a b: the sign of StringCompare(a, b) */
static int cmd_str_compare(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 3)
        return RedisModule_WrongArity(ctx);
    int c = RedisModule_StringCompare(argv[1], argv[2]);
    return RedisModule_ReplyWithLongLong(ctx, c < 0 ? -1 : c > 0 ? 1 : 0);
}

/* ------------------------------------------------------------------ key API on native types */

/* Replies WRONGTYPE and closes the key; for `return wrongtype(ctx, key);`. */
static int wrongtype(km_ctx *ctx, km_key *key)
{
    RedisModule_CloseKey(key);
    return RedisModule_ReplyWithError(ctx, WRONGTYPE_MSG);
}

/* tm.kset k v */
static int cmd_kset(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 3)
        return RedisModule_WrongArity(ctx);
    km_key *key = RedisModule_OpenKey(ctx, argv[1], KM_WRITE);
    int rc = RedisModule_StringSet(key, argv[2]);
    RedisModule_CloseKey(key);
    if (rc != KM_OK)
        return RedisModule_ReplyWithError(ctx, "ERR StringSet failed");
    RedisModule_ReplicateVerbatim(ctx);
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

/* tm.kget k: the string through StringDMA (READ), nil when missing */
static int cmd_kget(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    km_key *key = RedisModule_OpenKey(ctx, argv[1], KM_READ);
    int type = RedisModule_KeyType(key);
    if (type == KM_KEYTYPE_EMPTY) {
        RedisModule_CloseKey(key);
        return RedisModule_ReplyWithNull(ctx);
    }
    if (type != KM_KEYTYPE_STRING)
        return wrongtype(ctx, key);
    size_t len;
    char *p = RedisModule_StringDMA(key, &len, KM_READ);
    RedisModule_ReplyWithStringBuffer(ctx, p, len);
    RedisModule_CloseKey(key);
    return KM_OK;
}

/* tm.kupper k: upper-cases the string's ASCII letters in place through a
 * WRITE StringDMA; the length, nil when the key is missing. */
static int cmd_kupper(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    km_key *key = RedisModule_OpenKey(ctx, argv[1], KM_READ | KM_WRITE);
    int type = RedisModule_KeyType(key);
    if (type == KM_KEYTYPE_EMPTY) {
        RedisModule_CloseKey(key);
        return RedisModule_ReplyWithNull(ctx);
    }
    if (type != KM_KEYTYPE_STRING)
        return wrongtype(ctx, key);
    size_t len;
    char *p = RedisModule_StringDMA(key, &len, KM_WRITE);
    for (size_t i = 0; i < len; i++)
        if (p[i] >= 'a' && p[i] <= 'z')
            p[i] = (char)(p[i] - 'a' + 'A');
    RedisModule_CloseKey(key);
    RedisModule_ReplicateVerbatim(ctx);
    return RedisModule_ReplyWithLongLong(ctx, (long long)len);
}

/* tm.ktype k: KeyType's number */
static int cmd_ktype(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    km_key *key = RedisModule_OpenKey(ctx, argv[1], KM_READ);
    int type = RedisModule_KeyType(key);
    RedisModule_CloseKey(key);
    return RedisModule_ReplyWithLongLong(ctx, type);
}

/* tm.klen k: ValueLength */
static int cmd_klen(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    km_key *key = RedisModule_OpenKey(ctx, argv[1], KM_READ);
    size_t len = RedisModule_ValueLength(key);
    RedisModule_CloseKey(key);
    return RedisModule_ReplyWithLongLong(ctx, (long long)len);
}

/* tm.kdel k: 1 if the key was there (DeleteKey), else 0 */
static int cmd_kdel(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    km_key *key = RedisModule_OpenKey(ctx, argv[1], KM_WRITE);
    int existed = RedisModule_KeyType(key) != KM_KEYTYPE_EMPTY;
    int rc = RedisModule_DeleteKey(key);
    RedisModule_CloseKey(key);
    if (rc != KM_OK)
        return RedisModule_ReplyWithError(ctx, "ERR DeleteKey failed");
    RedisModule_ReplicateVerbatim(ctx);
    return RedisModule_ReplyWithLongLong(ctx, existed);
}

/* tm.kexpire k ms: SetExpire (-1 is REDISMODULE_NO_EXPIRE) */
static int cmd_kexpire(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 3)
        return RedisModule_WrongArity(ctx);
    long long ms;
    if (RedisModule_StringToLongLong(argv[2], &ms) != KM_OK)
        return RedisModule_ReplyWithError(ctx, "ERR invalid milliseconds");
    km_key *key = RedisModule_OpenKey(ctx, argv[1], KM_WRITE);
    int rc = RedisModule_SetExpire(key, ms);
    RedisModule_CloseKey(key);
    if (rc != KM_OK)
        return RedisModule_ReplyWithError(ctx, "ERR SetExpire failed");
    RedisModule_ReplicateVerbatim(ctx);
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

/* tm.kttl k: GetExpire (remaining milliseconds, or -1), -2 when the key
 * is missing (READ gives no key handle then: Redis 7.0's GetExpire would
 * crash on it) */
static int cmd_kttl(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    km_key *key = RedisModule_OpenKey(ctx, argv[1], KM_READ);
    if (RedisModule_KeyType(key) == KM_KEYTYPE_EMPTY) {
        RedisModule_CloseKey(key);
        return RedisModule_ReplyWithLongLong(ctx, -2);
    }
    long long ttl = RedisModule_GetExpire(key);
    RedisModule_CloseKey(key);
    return RedisModule_ReplyWithLongLong(ctx, ttl);
}

/* tm.hset k f v [f v ...]: HashSet per pair (KM_HASH_NONE), the sum of
 * what it returned; a value of ":delete:" removes the field. */
static int cmd_hset(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc < 4 || argc % 2 != 0)
        return RedisModule_WrongArity(ctx);
    km_key *key = RedisModule_OpenKey(ctx, argv[1], KM_WRITE);
    int type = RedisModule_KeyType(key);
    if (type != KM_KEYTYPE_EMPTY && type != KM_KEYTYPE_HASH)
        return wrongtype(ctx, key);
    long long total = 0;
    for (int i = 2; i < argc; i += 2) {
        void *value = arg_is(argv[i + 1], ":delete:") ? KM_HASH_DELETE : (void *)argv[i + 1];
        total += RedisModule_HashSet(key, KM_HASH_NONE, argv[i], value, NULL);
    }
    RedisModule_CloseKey(key);
    RedisModule_ReplicateVerbatim(ctx);
    return RedisModule_ReplyWithLongLong(ctx, total);
}

static const char *errno_name(int e)
{
    switch (e) {
    case 0: return "0";
    case EINVAL: return "EINVAL";
    case ENOENT: return "ENOENT";
    case EDOM: return "EDOM";
    case ENOTSUP: return "ENOTSUP";
    case EBADF: return "EBADF";
    default: return "other";
    }
}

/* An error reply naming errno ("ERR EDOM"). */
static int reply_errno(km_ctx *ctx)
{
    char msg[32];
    snprintf(msg, sizeof(msg), "ERR %s", errno_name(errno));
    return RedisModule_ReplyWithError(ctx, msg);
}

/* tm.hsetflags k flags f v [f v]: one HashSet with the flags ("n" NX,
 * "x" XX, "a" COUNT_ALL, "r": the key opened for reading only, "?" an
 * unknown flag bit); its count, or for 0 what errno said. */
static int cmd_hsetflags(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 5 && argc != 7)
        return RedisModule_WrongArity(ctx);
    size_t n;
    const char *fl = RedisModule_StringPtrLen(argv[2], &n);
    int flags = 0, mode = KM_WRITE;
    for (size_t i = 0; i < n; i++) {
        flags |= fl[i] == 'n'   ? KM_HASH_NX
                 : fl[i] == 'x' ? KM_HASH_XX
                 : fl[i] == 'a' ? KM_HASH_COUNT_ALL
                 : fl[i] == '?' ? (1 << 12)
                                : 0;
        mode = fl[i] == 'r' ? KM_READ : mode;
    }
    km_key *key = RedisModule_OpenKey(ctx, argv[1], mode);
    void *v1 = arg_is(argv[4], ":delete:") ? KM_HASH_DELETE : (void *)argv[4];
    errno = 0;
    int count;
    if (argc == 5) {
        count = RedisModule_HashSet(key, flags, argv[3], v1, NULL);
    } else {
        void *v2 = arg_is(argv[6], ":delete:") ? KM_HASH_DELETE : (void *)argv[6];
        count = RedisModule_HashSet(key, flags, argv[3], v1, argv[5], v2, NULL);
    }
    RedisModule_CloseKey(key);
    if (count == 0)
        return reply_errno(ctx);
    return RedisModule_ReplyWithLongLong(ctx, count);
}

/* tm.lidx get|getro|set|setro|insert|delete|pop k [index] [value]: the list
 * API by index (ListGet, ListSet, ListInsert, ListDelete) and ListPop at
 * the head; the element, OK, or the errno a failure left. The "ro" forms
 * open the key for reading only. */
static int cmd_lidx(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc < 3)
        return RedisModule_WrongArity(ctx);
    RedisModule_AutoMemory(ctx);
    int ro = arg_is(argv[1], "getro") || arg_is(argv[1], "setro");
    km_key *key = RedisModule_OpenKey(ctx, argv[2], ro ? KM_READ : KM_READ | KM_WRITE);
    long long index = 0;
    if (argc > 3 && RedisModule_StringToLongLong(argv[3], &index) != KM_OK)
        return RedisModule_ReplyWithError(ctx, "ERR bad index");
    errno = 0;
    if (arg_is(argv[1], "get") || arg_is(argv[1], "getro") || arg_is(argv[1], "pop")) {
        km_string *v =
            arg_is(argv[1], "pop") ? RedisModule_ListPop(key, KM_LIST_HEAD) : RedisModule_ListGet(key, (long)index);
        return v ? RedisModule_ReplyWithString(ctx, v) : reply_errno(ctx);
    }
    int rc;
    if (arg_is(argv[1], "delete"))
        rc = RedisModule_ListDelete(key, (long)index);
    else if (argc != 5)
        return RedisModule_WrongArity(ctx);
    else if (arg_is(argv[1], "insert"))
        rc = RedisModule_ListInsert(key, (long)index, argv[4]);
    else
        rc = RedisModule_ListSet(key, (long)index, argv[4]);
    return rc == KM_OK ? RedisModule_ReplyWithSimpleString(ctx, "OK") : reply_errno(ctx);
}

/* tm.access getlru|getlfu key | setlru key ms | setlfu key freq: [OK 1 or
 * ERR 0, the value read (getters)] */
static int cmd_access(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 3 && argc != 4)
        return RedisModule_WrongArity(ctx);
    km_key *key = RedisModule_OpenKey(ctx, argv[2], KM_READ | KM_WRITE | KM_OPEN_KEY_NOTOUCH);
    long long v = 0;
    int rc;
    if (arg_is(argv[1], "getlru"))
        rc = RedisModule_GetLRU(key, &v);
    else if (arg_is(argv[1], "getlfu"))
        rc = RedisModule_GetLFU(key, &v);
    else if (argc != 4 || RedisModule_StringToLongLong(argv[3], &v) != KM_OK)
        rc = -1;
    else
        rc = arg_is(argv[1], "setlru") ? RedisModule_SetLRU(key, v) : RedisModule_SetLFU(key, v);
    RedisModule_CloseKey(key);
    if (rc == -1)
        return RedisModule_ReplyWithError(ctx, "ERR bad arguments");
    RedisModule_ReplyWithArray(ctx, 2);
    RedisModule_ReplyWithLongLong(ctx, rc == KM_OK);
    return RedisModule_ReplyWithLongLong(ctx, v);
}

/* tm.dbid key: GetDbIdFromModuleKey of the key opened (in the selected
 * database) */
static int cmd_keydb(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    km_key *key = RedisModule_OpenKey(ctx, argv[1], KM_READ | KM_WRITE);
    int id = RedisModule_GetDbIdFromModuleKey(key);
    RedisModule_CloseKey(key);
    return RedisModule_ReplyWithLongLong(ctx, id);
}

/* tm.getkeys 0|1 cmd args...: GetCommandKeys (0) or GetCommandKeysWithFlags
 * (1) of the command line: [position...] or [[position, flags]...]; an
 * empty array for none, or the errno for NULL when errno is set. */
static int cmd_getkeys(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc < 3)
        return RedisModule_WrongArity(ctx);
    int with_flags = arg_is(argv[1], "1");
    int n = 0, *flags = NULL;
    errno = 0;
    int *pos = with_flags ? RedisModule_GetCommandKeysWithFlags(ctx, argv + 2, argc - 2, &n, &flags)
                          : RedisModule_GetCommandKeys(ctx, argv + 2, argc - 2, &n);
    if (!pos)
        return errno ? reply_errno(ctx) : RedisModule_ReplyWithEmptyArray(ctx);
    RedisModule_ReplyWithArray(ctx, n);
    for (int i = 0; i < n; i++) {
        if (with_flags) {
            RedisModule_ReplyWithArray(ctx, 2);
            RedisModule_ReplyWithLongLong(ctx, pos[i]);
            RedisModule_ReplyWithLongLong(ctx, flags[i]);
        } else {
            RedisModule_ReplyWithLongLong(ctx, pos[i]);
        }
    }
    RedisModule_Free(pos);
    if (flags)
        RedisModule_Free(flags);
    return KM_OK;
}

/* tm.assert 0|1: RedisModule_Assert (the "_Assert" API when false) */
static int cmd_assert(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    if (!arg_is(argv[1], "1"))
        RedisModule__Assert("tm-condition", "testmod.c", 42);
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

/* tm.hsetc k f v: HashSet with KM_HASH_CFIELDS (field as a C string) */
static int cmd_hsetc(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 4)
        return RedisModule_WrongArity(ctx);
    km_key *key = RedisModule_OpenKey(ctx, argv[1], KM_WRITE);
    int type = RedisModule_KeyType(key);
    if (type != KM_KEYTYPE_EMPTY && type != KM_KEYTYPE_HASH)
        return wrongtype(ctx, key);
    char *field = arg_dup(argv[2]);
    int n = RedisModule_HashSet(key, KM_HASH_CFIELDS, field, argv[3], NULL);
    RedisModule_Free(field);
    RedisModule_CloseKey(key);
    RedisModule_ReplicateVerbatim(ctx);
    return RedisModule_ReplyWithLongLong(ctx, n);
}

/* tm.hget k f: HashGet, nil when the key or field is absent */
static int cmd_hget(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 3)
        return RedisModule_WrongArity(ctx);
    km_key *key = RedisModule_OpenKey(ctx, argv[1], KM_READ);
    int type = RedisModule_KeyType(key);
    if (type == KM_KEYTYPE_EMPTY) {
        RedisModule_CloseKey(key);
        return RedisModule_ReplyWithNull(ctx);
    }
    if (type != KM_KEYTYPE_HASH)
        return wrongtype(ctx, key);
    km_string *value = NULL;
    RedisModule_HashGet(key, KM_HASH_NONE, argv[2], &value, NULL);
    if (value) {
        RedisModule_ReplyWithString(ctx, value);
        RedisModule_FreeString(ctx, value);
    } else {
        RedisModule_ReplyWithNull(ctx);
    }
    RedisModule_CloseKey(key);
    return KM_OK;
}

/* tm.hexists k f: HashGet with KM_HASH_EXISTS */
static int cmd_hexists(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 3)
        return RedisModule_WrongArity(ctx);
    km_key *key = RedisModule_OpenKey(ctx, argv[1], KM_READ);
    int type = RedisModule_KeyType(key);
    if (type == KM_KEYTYPE_EMPTY) {
        RedisModule_CloseKey(key);
        return RedisModule_ReplyWithLongLong(ctx, 0);
    }
    if (type != KM_KEYTYPE_HASH)
        return wrongtype(ctx, key);
    int exists = -1;
    RedisModule_HashGet(key, KM_HASH_EXISTS, argv[2], &exists, NULL);
    RedisModule_CloseKey(key);
    return RedisModule_ReplyWithLongLong(ctx, exists);
}

/* tm.lpush k v: ListPush at the head, the new length */
static int cmd_lpush(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 3)
        return RedisModule_WrongArity(ctx);
    km_key *key = RedisModule_OpenKey(ctx, argv[1], KM_READ | KM_WRITE);
    int type = RedisModule_KeyType(key);
    if (type != KM_KEYTYPE_EMPTY && type != KM_KEYTYPE_LIST)
        return wrongtype(ctx, key);
    if (RedisModule_ListPush(key, KM_LIST_HEAD, argv[2]) != KM_OK) {
        RedisModule_CloseKey(key);
        return RedisModule_ReplyWithError(ctx, "ERR ListPush failed");
    }
    long long len = (long long)RedisModule_ValueLength(key);
    RedisModule_CloseKey(key);
    RedisModule_ReplicateVerbatim(ctx);
    return RedisModule_ReplyWithLongLong(ctx, len);
}

/* tm.rpop k: ListPop at the tail, nil when empty */
static int cmd_rpop(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    km_key *key = RedisModule_OpenKey(ctx, argv[1], KM_READ | KM_WRITE);
    int type = RedisModule_KeyType(key);
    if (type == KM_KEYTYPE_EMPTY) {
        RedisModule_CloseKey(key);
        return RedisModule_ReplyWithNull(ctx);
    }
    if (type != KM_KEYTYPE_LIST)
        return wrongtype(ctx, key);
    km_string *ele = RedisModule_ListPop(key, KM_LIST_TAIL);
    RedisModule_CloseKey(key);
    if (!ele)
        return RedisModule_ReplyWithNull(ctx);
    RedisModule_ReplyWithString(ctx, ele);
    RedisModule_FreeString(ctx, ele);
    RedisModule_ReplicateVerbatim(ctx);
    return KM_OK;
}

/* tm.zadd k score member [NX|XX|GT|LT ...]: ZsetAdd, the out-flags */
static int cmd_zadd(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc < 4)
        return RedisModule_WrongArity(ctx);
    double score;
    if (RedisModule_StringToDouble(argv[2], &score) != KM_OK)
        return RedisModule_ReplyWithError(ctx, "ERR invalid score");
    int flags = 0;
    for (int i = 4; i < argc; i++) {
        if (arg_is(argv[i], "NX"))
            flags |= KM_ZADD_NX;
        else if (arg_is(argv[i], "XX"))
            flags |= KM_ZADD_XX;
        else if (arg_is(argv[i], "GT"))
            flags |= KM_ZADD_GT;
        else if (arg_is(argv[i], "LT"))
            flags |= KM_ZADD_LT;
        else
            return RedisModule_ReplyWithError(ctx, "ERR unknown flag");
    }
    km_key *key = RedisModule_OpenKey(ctx, argv[1], KM_READ | KM_WRITE);
    int type = RedisModule_KeyType(key);
    if (type != KM_KEYTYPE_EMPTY && type != KM_KEYTYPE_ZSET)
        return wrongtype(ctx, key);
    int rc = RedisModule_ZsetAdd(key, score, argv[3], &flags);
    RedisModule_CloseKey(key);
    if (rc != KM_OK)
        return RedisModule_ReplyWithError(ctx, "ERR ZsetAdd failed");
    RedisModule_ReplicateVerbatim(ctx);
    return RedisModule_ReplyWithLongLong(ctx, flags);
}

/* tm.zscore k member: ZsetScore, nil when absent */
static int cmd_zscore(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 3)
        return RedisModule_WrongArity(ctx);
    km_key *key = RedisModule_OpenKey(ctx, argv[1], KM_READ);
    int type = RedisModule_KeyType(key);
    if (type == KM_KEYTYPE_EMPTY) {
        RedisModule_CloseKey(key);
        return RedisModule_ReplyWithNull(ctx);
    }
    if (type != KM_KEYTYPE_ZSET)
        return wrongtype(ctx, key);
    double score;
    int rc = RedisModule_ZsetScore(key, argv[2], &score);
    RedisModule_CloseKey(key);
    if (rc != KM_OK)
        return RedisModule_ReplyWithNull(ctx);
    return RedisModule_ReplyWithDouble(ctx, score);
}

/* ------------------------------------------------------------------ Call */

/* The error a failed Call (NULL reply) turns into, from errno. */
static int reply_call_failure(km_ctx *ctx)
{
    const char *why = errno == ENOENT     ? "ENOENT"
                      : errno == EINVAL   ? "EINVAL"
                      : errno == EPERM    ? "EPERM"
                      : errno == EROFS    ? "EROFS"
                      : errno == ENETDOWN ? "ENETDOWN"
                      : errno == ENOSPC   ? "ENOSPC"
                      : errno == ESPIPE   ? "ESPIPE"
                      : errno == EACCES   ? "EACCES"
                                          : "other";
    char msg[64];
    snprintf(msg, sizeof(msg), "ERR Call failed: %s", why);
    return RedisModule_ReplyWithError(ctx, msg);
}

/* The command name of tm.call's argv[1] as a C string. */
static int call_and_forward(km_ctx *ctx, km_string **argv, int argc, const char *fmt)
{
    if (argc < 2)
        return RedisModule_WrongArity(ctx);
    RedisModule_AutoMemory(ctx);
    char *cmd = arg_dup(argv[1]);
    errno = 0;
    km_call_reply *reply = RedisModule_Call(ctx, cmd, fmt, argv + 2, (size_t)(argc - 2));
    RedisModule_Free(cmd);
    if (!reply)
        return reply_call_failure(ctx);
    RedisModule_ReplyWithCallReply(ctx, reply);
    RedisModule_FreeCallReply(reply);
    return KM_OK;
}

/* tm.call cmd args...: Call with "v", the reply forwarded as it is */
static int cmd_call(km_ctx *ctx, km_string **argv, int argc)
{
    return call_and_forward(ctx, argv, argc, "v");
}

/* tm.callrepl cmd args...: the same with "!" (the write replicates) */
static int cmd_callrepl(km_ctx *ctx, km_string **argv, int argc)
{
    return call_and_forward(ctx, argv, argc, "!v");
}

/* tm.callwith flags cmd args...: Call with the format flags given ("E",
 * "3", "SW"...) then "v"; the reply forwarded, or "ERR not forwarded"
 * when ReplyWithCallReply refuses it (RESP3 to a RESP2 client). */
static int cmd_callwith(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc < 3)
        return RedisModule_WrongArity(ctx);
    RedisModule_AutoMemory(ctx);
    char fmt[32];
    size_t flen;
    const char *flags = RedisModule_StringPtrLen(argv[1], &flen);
    if (flen > sizeof(fmt) - 2)
        return RedisModule_ReplyWithError(ctx, "ERR too many flags");
    memcpy(fmt, flags, flen);
    memcpy(fmt + flen, "v", 2);
    char *cmd = arg_dup(argv[2]);
    errno = 0;
    km_call_reply *reply = RedisModule_Call(ctx, cmd, fmt, argv + 3, (size_t)(argc - 3));
    RedisModule_Free(cmd);
    if (!reply)
        return reply_call_failure(ctx);
    /* (Redis 7.0 learns the reply is RESP3 only once it is read) */
    (void)RedisModule_CallReplyType(reply);
    if (RedisModule_ReplyWithCallReply(ctx, reply) != KM_OK)
        RedisModule_ReplyWithError(ctx, "ERR not forwarded");
    return KM_OK;
}

/* tm.callargs cmd args...: Call with the arguments passed one by one in
 * every format letter that fits: "s" for the strings, "l" for those that
 * are integers, "c" for the first, "b" for the last. */
static int cmd_callargs(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc < 2 || argc > 5)
        return RedisModule_WrongArity(ctx);
    char *cmd = arg_dup(argv[1]);
    km_call_reply *reply = NULL;
    errno = 0;
    if (argc == 2) {
        reply = RedisModule_Call(ctx, cmd, "");
    } else if (argc == 3) {
        long long ll;
        if (RedisModule_StringToLongLong(argv[2], &ll) == KM_OK)
            reply = RedisModule_Call(ctx, cmd, "l", ll);
        else
            reply = RedisModule_Call(ctx, cmd, "s", argv[2]);
    } else if (argc == 4) {
        char *first = arg_dup(argv[2]);
        reply = RedisModule_Call(ctx, cmd, "cs", first, argv[3]);
        RedisModule_Free(first);
    } else {
        char *first = arg_dup(argv[2]);
        size_t blen;
        const char *b = str_of(argv[4], &blen);
        reply = RedisModule_Call(ctx, cmd, "csb", first, argv[3], b, blen);
        RedisModule_Free(first);
    }
    RedisModule_Free(cmd);
    if (!reply)
        return reply_call_failure(ctx);
    RedisModule_ReplyWithCallReply(ctx, reply);
    RedisModule_FreeCallReply(reply);
    return KM_OK;
}

/* One CallReply element as a reply: strings and errors as bulk strings,
 * integers as integers, anything else as its type number in a simple
 * string "type:N". */
static void reply_element(km_ctx *ctx, km_call_reply *r)
{
    if (!r) {
        RedisModule_ReplyWithSimpleString(ctx, "none");
        return;
    }
    int t = RedisModule_CallReplyType(r);
    if (t == KM_REPLY_STRING || t == KM_REPLY_ERROR) {
        size_t len;
        const char *p = RedisModule_CallReplyStringPtr(r, &len);
        RedisModule_ReplyWithStringBuffer(ctx, p, len);
    } else if (t == KM_REPLY_INTEGER) {
        RedisModule_ReplyWithLongLong(ctx, RedisModule_CallReplyInteger(r));
    } else if (t == KM_REPLY_NULL) {
        RedisModule_ReplyWithNull(ctx);
    } else {
        char buf[32];
        snprintf(buf, sizeof(buf), "type:%d", t);
        RedisModule_ReplyWithSimpleString(ctx, buf);
    }
}

/* tm.callinfo cmd args...: [type, length, first element (for an array)
 * or the reply itself (otherwise), last element or "none"] */
static int cmd_callinfo(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc < 2)
        return RedisModule_WrongArity(ctx);
    char *cmd = arg_dup(argv[1]);
    errno = 0;
    km_call_reply *reply = RedisModule_Call(ctx, cmd, "v", argv + 2, (size_t)(argc - 2));
    RedisModule_Free(cmd);
    if (!reply)
        return reply_call_failure(ctx);
    int type = RedisModule_CallReplyType(reply);
    size_t len = RedisModule_CallReplyLength(reply);
    RedisModule_ReplyWithArray(ctx, 4);
    RedisModule_ReplyWithLongLong(ctx, type);
    RedisModule_ReplyWithLongLong(ctx, (long long)len);
    if (type == KM_REPLY_ARRAY) {
        reply_element(ctx, len ? RedisModule_CallReplyArrayElement(reply, 0) : NULL);
        reply_element(ctx, len ? RedisModule_CallReplyArrayElement(reply, len - 1) : NULL);
    } else {
        reply_element(ctx, reply);
        RedisModule_ReplyWithSimpleString(ctx, "none");
    }
    RedisModule_FreeCallReply(reply);
    return KM_OK;
}

/* ------------------------------------------------------------------ the data type */

typedef struct {
    long long n;
    double d;
    float f;
    char *s;
    size_t slen;
} tm_record;

typedef struct {
    size_t count, cap;
    tm_record *recs;
} tm_value;

static km_type *tm_type;

static tm_value *tval_new(void)
{
    tm_value *v = RedisModule_Alloc(sizeof(*v));
    v->count = v->cap = 0;
    v->recs = NULL;
    return v;
}

/* Appends a record; takes ownership of s (RedisModule_Alloc'd). */
static void tval_push(tm_value *v, long long n, double d, char *s, size_t slen)
{
    if (v->count == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 4;
        v->recs = RedisModule_Realloc(v->recs, v->cap * sizeof(tm_record));
    }
    tm_record *r = &v->recs[v->count++];
    r->n = n;
    r->d = d;
    r->f = (float)d;
    r->s = s;
    r->slen = slen;
}

static void tval_free(void *value)
{
    tm_value *v = value;
    for (size_t i = 0; i < v->count; i++)
        RedisModule_Free(v->recs[i].s);
    RedisModule_Free(v->recs);
    RedisModule_Free(v);
}

/* The format: count (unsigned), then per record n (signed), d (double),
 * f (float) and s; the strings of even records go through
 * SaveStringBuffer/LoadStringBuffer, those of odd records through
 * SaveString/LoadString. */
static void tval_rdb_save(km_io *io, void *value)
{
    tm_value *v = value;
    RedisModule_SaveUnsigned(io, v->count);
    for (size_t i = 0; i < v->count; i++) {
        tm_record *r = &v->recs[i];
        RedisModule_SaveSigned(io, r->n);
        RedisModule_SaveDouble(io, r->d);
        RedisModule_SaveFloat(io, r->f);
        if (i % 2 == 0) {
            RedisModule_SaveStringBuffer(io, r->s, r->slen);
        } else {
            km_string *s = RedisModule_CreateString(NULL, r->s, r->slen);
            RedisModule_SaveString(io, s);
            RedisModule_FreeString(NULL, s);
        }
    }
}

static void *tval_rdb_load(km_io *io, int encver)
{
    if (encver != 1)
        return NULL;
    tm_value *v = tval_new();
    uint64_t count = RedisModule_LoadUnsigned(io);
    for (uint64_t i = 0; i < count; i++) {
        long long n = (long long)RedisModule_LoadSigned(io);
        double d = RedisModule_LoadDouble(io);
        float f = RedisModule_LoadFloat(io);
        char *s;
        size_t slen;
        if (i % 2 == 0) {
            char *loaded = RedisModule_LoadStringBuffer(io, &slen);
            s = RedisModule_Alloc(slen + 1);
            memcpy(s, loaded, slen);
            RedisModule_Free(loaded);
        } else {
            km_string *str = RedisModule_LoadString(io);
            const char *p = str_of(str, &slen);
            s = RedisModule_Alloc(slen + 1);
            memcpy(s, p, slen);
            RedisModule_FreeString(NULL, str);
        }
        s[slen] = '\0';
        tval_push(v, n, d, s, slen);
        v->recs[v->count - 1].f = f;
    }
    return v;
}

static void tval_aof_rewrite(km_io *aof, km_string *key, void *value)
{
    tm_value *v = value;
    for (size_t i = 0; i < v->count; i++) {
        tm_record *r = &v->recs[i];
        char d[64];
        snprintf(d, sizeof(d), "%.17g", r->d);
        RedisModule_EmitAOF(aof, "tm.tadd", "slcb", key, r->n, d, r->s, r->slen);
    }
}

static size_t tval_mem_usage(const void *value)
{
    const tm_value *v = value;
    size_t size = sizeof(*v) + v->cap * sizeof(tm_record);
    for (size_t i = 0; i < v->count; i++)
        size += v->recs[i].slen + 1;
    return size;
}

static void tval_digest(km_digest *md, void *value)
{
    tm_value *v = value;
    for (size_t i = 0; i < v->count; i++) {
        tm_record *r = &v->recs[i];
        char d[64];
        int dlen = snprintf(d, sizeof(d), "%.17g", r->d);
        RedisModule_DigestAddLongLong(md, r->n);
        RedisModule_DigestAddStringBuffer(md, d, (size_t)dlen);
        RedisModule_DigestAddStringBuffer(md, r->s, r->slen);
        RedisModule_DigestEndSequence(md);
    }
}

/* Opens key for the data type commands: *keyp is the key (NULL for a
 * missing key opened READ, as Redis answers), *out its value (NULL when
 * the key is empty). Replies WRONGTYPE and returns -1 when the key holds
 * anything else (an error when the type is not registered); 0 otherwise. */
static int open_tkey(km_ctx *ctx, km_string *name, int mode, km_key **keyp, tm_value **out)
{
    *keyp = NULL;
    *out = NULL;
    if (!tm_type) {
        RedisModule_ReplyWithError(ctx, "ERR testtype1 is not registered (loaded with notype)");
        return -1;
    }
    km_key *key = RedisModule_OpenKey(ctx, name, mode);
    int type = RedisModule_KeyType(key);
    *keyp = key;
    *out = NULL;
    if (type == KM_KEYTYPE_EMPTY)
        return 0;
    if (type != KM_KEYTYPE_MODULE || RedisModule_ModuleTypeGetType(key) != tm_type) {
        wrongtype(ctx, key);
        return -1;
    }
    *out = RedisModule_ModuleTypeGetValue(key);
    return 0;
}

/* tm.tadd key n d s: appends a record (creating the key), the new count */
static int cmd_tadd(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 5)
        return RedisModule_WrongArity(ctx);
    long long n;
    double d;
    if (RedisModule_StringToLongLong(argv[2], &n) != KM_OK)
        return RedisModule_ReplyWithError(ctx, "ERR n is not an integer");
    if (RedisModule_StringToDouble(argv[3], &d) != KM_OK)
        return RedisModule_ReplyWithError(ctx, "ERR d is not a double");
    km_key *key;
    tm_value *v;
    if (open_tkey(ctx, argv[1], KM_READ | KM_WRITE, &key, &v) != 0)
        return KM_OK;
    if (!v) {
        v = tval_new();
        RedisModule_ModuleTypeSetValue(key, tm_type, v);
    }
    size_t slen;
    const char *p = str_of(argv[4], &slen);
    char *s = RedisModule_Alloc(slen + 1);
    memcpy(s, p, slen);
    s[slen] = '\0';
    tval_push(v, n, d, s, slen);
    size_t count = v->count;
    RedisModule_CloseKey(key);
    RedisModule_ReplicateVerbatim(ctx);
    return RedisModule_ReplyWithLongLong(ctx, (long long)count);
}

/* tm.tget key: [[n, d, f, s], ...], nil when the key is missing */
static int cmd_tget(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    km_key *key;
    tm_value *v;
    if (open_tkey(ctx, argv[1], KM_READ, &key, &v) != 0)
        return KM_OK;
    if (!v) {
        RedisModule_CloseKey(key);
        return RedisModule_ReplyWithNull(ctx);
    }
    RedisModule_ReplyWithArray(ctx, (long)v->count);
    for (size_t i = 0; i < v->count; i++) {
        tm_record *r = &v->recs[i];
        RedisModule_ReplyWithArray(ctx, 4);
        RedisModule_ReplyWithLongLong(ctx, r->n);
        RedisModule_ReplyWithDouble(ctx, r->d);
        RedisModule_ReplyWithDouble(ctx, (double)r->f);
        RedisModule_ReplyWithStringBuffer(ctx, r->s, r->slen);
    }
    RedisModule_CloseKey(key);
    return KM_OK;
}

/* tm.tlen key: the number of records, 0 when the key is missing */
static int cmd_tlen(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    km_key *key;
    tm_value *v;
    if (open_tkey(ctx, argv[1], KM_READ, &key, &v) != 0)
        return KM_OK;
    size_t count = v ? v->count : 0;
    RedisModule_CloseKey(key);
    return RedisModule_ReplyWithLongLong(ctx, (long long)count);
}

/* ------------------------------------------------------------------ blocking from a thread */

typedef struct {
    km_blocked *bc;
    long long ms;
    char *value;
} tm_block_job;

static int block_reply(km_ctx *ctx, km_string **argv, int argc)
{
    (void)argv;
    (void)argc;
    tm_block_job *job = RedisModule_GetBlockedClientPrivateData(ctx);
    return RedisModule_ReplyWithCString(ctx, job->value);
}

static int block_timeout(km_ctx *ctx, km_string **argv, int argc)
{
    (void)argv;
    (void)argc;
    return RedisModule_ReplyWithError(ctx, "ERR tm.block timed out");
}

static void block_free(km_ctx *ctx, void *privdata)
{
    (void)ctx;
    tm_block_job *job = privdata;
    RedisModule_Free(job->value);
    RedisModule_Free(job);
}

static void *block_thread(void *arg)
{
    tm_block_job *job = arg;
    /* The sleep is the command's work: INFO commandstats count it. */
    RedisModule_BlockedClientMeasureTimeStart(job->bc);
    sleep_ms(job->ms);
    RedisModule_BlockedClientMeasureTimeEnd(job->bc);
    km_ctx *tctx = RedisModule_GetThreadSafeContext(job->bc);
    RedisModule_ThreadSafeContextLock(tctx);
    km_call_reply *r = RedisModule_Call(tctx, "INCR", "c", "tm:counter");
    if (r)
        RedisModule_FreeCallReply(r);
    RedisModule_ThreadSafeContextUnlock(tctx);
    RedisModule_FreeThreadSafeContext(tctx);
    RedisModule_UnblockClient(job->bc, job);
    return NULL;
}

/* tm.block ms value [timeout_ms]: replies value after a thread has slept
 * ms milliseconds (measured with BlockedClientMeasureTimeStart / End) and
 * INCRed tm:counter (in the client's db) under the GIL; "-ERR tm.block
 * timed out" once timeout_ms (0: none) have passed. */
static int cmd_block(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 3 && argc != 4)
        return RedisModule_WrongArity(ctx);
    long long ms, timeout = 0;
    if (RedisModule_StringToLongLong(argv[1], &ms) != KM_OK || ms < 0 ||
        (argc == 4 && (RedisModule_StringToLongLong(argv[3], &timeout) != KM_OK || timeout < 0)))
        return RedisModule_ReplyWithError(ctx, "ERR invalid milliseconds");
    tm_block_job *job = RedisModule_Alloc(sizeof(*job));
    job->ms = ms;
    job->value = arg_dup(argv[2]);
    job->bc = RedisModule_BlockClient(ctx, block_reply, block_timeout, block_free, timeout);
    if (thread_start(block_thread, job) != 0) {
        RedisModule_UnblockClient(job->bc, job);
        return KM_OK;
    }
    return KM_OK;
}

typedef struct {
    char *key;
    long long times;
} tm_count_job;

static void *count_thread(void *arg)
{
    tm_count_job *job = arg;
    km_ctx *tctx = RedisModule_GetThreadSafeContext(NULL);
    for (long long i = 0; i < job->times; i++) {
        RedisModule_ThreadSafeContextLock(tctx);
        km_call_reply *r = RedisModule_Call(tctx, "INCR", "c", job->key);
        if (r)
            RedisModule_FreeCallReply(r);
        RedisModule_ThreadSafeContextUnlock(tctx);
    }
    RedisModule_FreeThreadSafeContext(tctx);
    RedisModule_Free(job->key);
    RedisModule_Free(job);
    return NULL;
}

/* tm.threadcount key [times]: a thread INCRs key (db 0) times
 * times (default 100), taking the GIL for each; replies OK at once. */
static int cmd_threadcount(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 2 && argc != 3)
        return RedisModule_WrongArity(ctx);
    long long times = 100;
    if (argc == 3 && RedisModule_StringToLongLong(argv[2], &times) != KM_OK)
        return RedisModule_ReplyWithError(ctx, "ERR invalid count");
    tm_count_job *job = RedisModule_Alloc(sizeof(*job));
    job->key = arg_dup(argv[1]);
    job->times = times;
    if (thread_start(count_thread, job) != 0) {
        RedisModule_Free(job->key);
        RedisModule_Free(job);
        return RedisModule_ReplyWithError(ctx, "ERR pthread_create failed");
    }
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

/* ------------------------------------------------------------------ context flags, timers, args */

#define TM_CTXFLAGS_MASK                                                                                               \
    (KM_CTX_FLAGS_MULTI | KM_CTX_FLAGS_LUA | KM_CTX_FLAGS_MASTER | KM_CTX_FLAGS_SLAVE | KM_CTX_FLAGS_READONLY |        \
     KM_CTX_FLAGS_AOF | KM_CTX_FLAGS_RDB | KM_CTX_FLAGS_MAXMEMORY | KM_CTX_FLAGS_EVICT | KM_CTX_FLAGS_DENY_BLOCKING |  \
     KM_CTX_FLAGS_OOM | KM_CTX_FLAGS_OOM_WARNING)

/* tm.ctxflags: GetContextFlags() & the mask above, as flag names */
static int cmd_ctxflags(km_ctx *ctx, km_string **argv, int argc)
{
    (void)argv;
    if (argc != 1)
        return RedisModule_WrongArity(ctx);
    static const struct {
        int bit;
        const char *name;
    } names[] = {
        {KM_CTX_FLAGS_MULTI, "multi"},       {KM_CTX_FLAGS_LUA, "lua"},
        {KM_CTX_FLAGS_MASTER, "master"},     {KM_CTX_FLAGS_SLAVE, "slave"},
        {KM_CTX_FLAGS_READONLY, "readonly"}, {KM_CTX_FLAGS_AOF, "aof"},
        {KM_CTX_FLAGS_RDB, "rdb"},           {KM_CTX_FLAGS_MAXMEMORY, "maxmemory"},
        {KM_CTX_FLAGS_EVICT, "evict"},       {KM_CTX_FLAGS_DENY_BLOCKING, "deny-blocking"},
        {KM_CTX_FLAGS_OOM, "oom"},           {KM_CTX_FLAGS_OOM_WARNING, "oom-warning"},
    };
    int flags = RedisModule_GetContextFlags(ctx) & TM_CTXFLAGS_MASK;
    RedisModule_ReplyWithArray(ctx, KM_POSTPONED_LEN);
    long n = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (flags & names[i].bit) {
            RedisModule_ReplyWithCString(ctx, names[i].name);
            n++;
        }
    }
    RedisModule_ReplySetArrayLength(ctx, n);
    return KM_OK;
}

static void timer_fired(km_ctx *ctx, void *data)
{
    char *key = data;
    km_call_reply *r = RedisModule_Call(ctx, "SET", "cc", key, "fired");
    if (r)
        RedisModule_FreeCallReply(r);
    RedisModule_Free(key);
}

/* tm.timer ms key: a timer that SETs key to "fired" after ms, in the db
 * the client had selected when it created the timer */
static int cmd_timer(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 3)
        return RedisModule_WrongArity(ctx);
    long long ms;
    if (RedisModule_StringToLongLong(argv[1], &ms) != KM_OK || ms < 0)
        return RedisModule_ReplyWithError(ctx, "ERR invalid milliseconds");
    RedisModule_CreateTimer(ctx, ms, timer_fired, arg_dup(argv[2]));
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

/* The OnLoad arguments joined by spaces. */
static char *load_args;
static int refuse_unload;

static int cmd_args(km_ctx *ctx, km_string **argv, int argc)
{
    (void)argv;
    if (argc != 1)
        return RedisModule_WrongArity(ctx);
    return RedisModule_ReplyWithCString(ctx, load_args ? load_args : "");
}

/* tm.missing: the API functions the server did not provide */
/* tm.misc2 what args...: the API's smaller functions, one per `what`
 * (dbsize, randomkey, cmdname, signal key, publish/spublish channel msg,
 * setname id name, memratio, latency event ms, alloc n, strsize s,
 * flagsall, ull s, ld s human). */
static int cmd_misc2(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc < 2)
        return RedisModule_WrongArity(ctx);
    RedisModule_AutoMemory(ctx);
    if (arg_is(argv[1], "dbsize"))
        return RedisModule_ReplyWithLongLong(ctx, (long long)RedisModule_DbSize(ctx));
    if (arg_is(argv[1], "randomkey")) {
        km_string *k = RedisModule_RandomKey(ctx);
        return k ? RedisModule_ReplyWithString(ctx, k) : RedisModule_ReplyWithNull(ctx);
    }
    if (arg_is(argv[1], "cmdname"))
        return RedisModule_ReplyWithCString(ctx, RedisModule_GetCurrentCommandName(ctx));
    if (arg_is(argv[1], "flagsall"))
        return RedisModule_ReplyWithLongLong(ctx, RedisModule_GetContextFlagsAll());
    if (arg_is(argv[1], "memratio"))
        return RedisModule_ReplyWithDouble(ctx, RedisModule_GetUsedMemoryRatio());
    if (argc < 3)
        return RedisModule_WrongArity(ctx);
    if (arg_is(argv[1], "signal")) {
        RedisModule_SignalModifiedKey(ctx, argv[2]);
        return RedisModule_ReplyWithSimpleString(ctx, "OK");
    }
    if (arg_is(argv[1], "alloc")) {
        long long n;
        if (RedisModule_StringToLongLong(argv[2], &n) != KM_OK || n < 1)
            return RedisModule_ReplyWithError(ctx, "ERR bad size");
        void *p = RedisModule_TryAlloc((size_t)n);
        int ok = p && RedisModule_MallocSize(p) >= (size_t)n && RedisModule_MallocUsableSize(p) >= (size_t)n;
        RedisModule_Free(p);
        return RedisModule_ReplyWithLongLong(ctx, ok);
    }
    if (arg_is(argv[1], "strsize")) {
        size_t len;
        RedisModule_StringPtrLen(argv[2], &len);
        return RedisModule_ReplyWithLongLong(ctx, RedisModule_MallocSizeString(argv[2]) > len);
    }
    if (arg_is(argv[1], "ull")) {
        unsigned long long v;
        if (RedisModule_StringToULongLong(argv[2], &v) != KM_OK)
            return RedisModule_ReplyWithError(ctx, "ERR not an unsigned long long");
        return RedisModule_ReplyWithString(ctx, RedisModule_CreateStringFromULongLong(ctx, v));
    }
    if (argc < 4)
        return RedisModule_WrongArity(ctx);
    if (arg_is(argv[1], "publish"))
        return RedisModule_ReplyWithLongLong(ctx, RedisModule_PublishMessage(ctx, argv[2], argv[3]));
    if (arg_is(argv[1], "spublish"))
        return RedisModule_ReplyWithLongLong(ctx, RedisModule_PublishMessageShard(ctx, argv[2], argv[3]));
    if (arg_is(argv[1], "setname")) {
        long long id;
        if (RedisModule_StringToLongLong(argv[2], &id) != KM_OK)
            return RedisModule_ReplyWithError(ctx, "ERR bad id");
        errno = 0;
        if (RedisModule_SetClientNameById((uint64_t)id, argv[3]) != KM_OK)
            return RedisModule_ReplyWithError(ctx, errno == ENOENT   ? "ERR ENOENT"
                                                   : errno == EINVAL ? "ERR EINVAL"
                                                                     : "ERR other");
        return RedisModule_ReplyWithSimpleString(ctx, "OK");
    }
    if (arg_is(argv[1], "latency")) {
        long long ms;
        char *event = arg_dup(argv[2]);
        if (RedisModule_StringToLongLong(argv[3], &ms) == KM_OK)
            RedisModule_LatencyAddSample(event, ms);
        RedisModule_Free(event);
        return RedisModule_ReplyWithSimpleString(ctx, "OK");
    }
    if (arg_is(argv[1], "ld")) {
        long double v;
        if (RedisModule_StringToLongDouble(argv[2], &v) != KM_OK)
            return RedisModule_ReplyWithError(ctx, "ERR not a long double");
        return RedisModule_ReplyWithString(ctx, RedisModule_CreateStringFromLongDouble(ctx, v, arg_is(argv[3], "1")));
    }
    return RedisModule_ReplyWithError(ctx, "ERR unknown what");
}

static int cmd_missing(km_ctx *ctx, km_string **argv, int argc)
{
    (void)argv;
    if (argc != 1)
        return RedisModule_WrongArity(ctx);
    return RedisModule_ReplyWithCString(ctx, missing_apis);
}

/* ------------------------------------------------------------------ sorted-set range iteration */

/* Replies an error and returns 1 when the server lacks one of the API
 * functions named (space-separated, without the RedisModule_ prefix): the
 * commands of the newer API groups answer so instead of calling through a
 * NULL pointer. */
static int lacks(km_ctx *ctx, const char *names)
{
    const char *p = names;
    while (*p) {
        size_t n = strcspn(p, " ");
        char want[96];
        snprintf(want, sizeof(want), "RedisModule_%.*s", (int)n, p);
        size_t wlen = strlen(want);
        for (const char *m = strstr(missing_apis, want); m; m = strstr(m + 1, want)) {
            if ((m == missing_apis || m[-1] == ' ') && (m[wlen] == ' ' || m[wlen] == '\0')) {
                char msg[128];
                snprintf(msg, sizeof(msg), "ERR the server lacks %s", want);
                RedisModule_ReplyWithError(ctx, msg);
                return 1;
            }
        }
        p += n;
        while (*p == ' ')
            p++;
    }
    return 0;
}

#define ZITER_APIS                                                                                                     \
    "ZsetFirstInScoreRange ZsetLastInScoreRange ZsetFirstInLexRange ZsetLastInLexRange ZsetRangeCurrentElement "       \
    "ZsetRangeNext ZsetRangePrev ZsetRangeEndReached ZsetRangeStop"

/* Opens key for the iterator commands. Redis gives no handle for a missing
 * key opened READ, so an empty key is opened again for WRITE (nothing is
 * written to it): the iterator functions then answer for an empty key. */
static km_key *open_zkey(km_ctx *ctx, km_string *name)
{
    km_key *key = RedisModule_OpenKey(ctx, name, KM_READ);
    if (RedisModule_KeyType(key) == KM_KEYTYPE_EMPTY) {
        RedisModule_CloseKey(key);
        key = RedisModule_OpenKey(ctx, name, KM_READ | KM_WRITE);
    }
    return key;
}

/* Starts a range on key: by score (a: min max [minex maxex], the flags 0
 * when left out) or by lex (a: min max), at its first element or its last.
 * *what names the function called. Returns its answer (KM_OK / KM_ERR), or
 * -1 when a score bound or flag is not a number. */
static int zrange_begin(km_key *key, int lex, int last, km_string **a, int na, const char **what)
{
    if (lex) {
        *what = last ? "ZsetLastInLexRange" : "ZsetFirstInLexRange";
        return last ? RedisModule_ZsetLastInLexRange(key, a[0], a[1])
                    : RedisModule_ZsetFirstInLexRange(key, a[0], a[1]);
    }
    *what = last ? "ZsetLastInScoreRange" : "ZsetFirstInScoreRange";
    double min, max;
    long long minex = 0, maxex = 0;
    if (RedisModule_StringToDouble(a[0], &min) != KM_OK || RedisModule_StringToDouble(a[1], &max) != KM_OK)
        return -1;
    if (na == 4 &&
        (RedisModule_StringToLongLong(a[2], &minex) != KM_OK || RedisModule_StringToLongLong(a[3], &maxex) != KM_OK))
        return -1;
    return last ? RedisModule_ZsetLastInScoreRange(key, min, max, (int)minex, (int)maxex)
                : RedisModule_ZsetFirstInScoreRange(key, min, max, (int)minex, (int)maxex);
}

/* Replies the iterator's current element as [member, score], nil when
 * ZsetRangeCurrentElement gives none. */
static void reply_zcurrent(km_ctx *ctx, km_key *key)
{
    double score = 0;
    km_string *ele = RedisModule_ZsetRangeCurrentElement(key, &score);
    if (!ele) {
        RedisModule_ReplyWithNull(ctx);
        return;
    }
    RedisModule_ReplyWithArray(ctx, 2);
    RedisModule_ReplyWithString(ctx, ele);
    RedisModule_ReplyWithDouble(ctx, score);
    RedisModule_FreeString(ctx, ele);
}

/* tm.zrange key score|lex first|last min max [minex maxex]: walks the
 * range as modules usually do (while !ZsetRangeEndReached: the current
 * element, then ZsetRangeNext from the first element or ZsetRangePrev
 * from the last), and replies [member, score, ...] in the order walked;
 * "ERR <function> failed" when the start refuses (a key of another type,
 * an empty key, an invalid lex range). */
static int cmd_zrange(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, ZITER_APIS))
        return KM_OK;
    if (argc != 6 && argc != 8)
        return RedisModule_WrongArity(ctx);
    int lex = arg_is(argv[2], "lex"), last = arg_is(argv[3], "last");
    if ((!lex && !arg_is(argv[2], "score")) || (!last && !arg_is(argv[3], "first")) || (lex && argc != 6))
        return RedisModule_ReplyWithError(ctx, "ERR syntax: tm.zrange key score|lex first|last min max [minex maxex]");
    km_key *key = open_zkey(ctx, argv[1]);
    const char *what;
    int rc = zrange_begin(key, lex, last, argv + 4, argc - 4, &what);
    if (rc != KM_OK) {
        RedisModule_CloseKey(key);
        if (rc < 0)
            return RedisModule_ReplyWithError(ctx, "ERR a score bound or flag is not a number");
        char msg[64];
        snprintf(msg, sizeof(msg), "ERR %s failed", what);
        return RedisModule_ReplyWithError(ctx, msg);
    }
    RedisModule_ReplyWithArray(ctx, KM_POSTPONED_LEN);
    long n = 0;
    /* The bound only keeps a broken iterator from looping for ever. */
    for (int guard = 0; guard < 100000 && !RedisModule_ZsetRangeEndReached(key); guard++) {
        double score = 0;
        km_string *ele = RedisModule_ZsetRangeCurrentElement(key, &score);
        if (!ele) {
            RedisModule_ReplyWithSimpleString(ctx, "no current element before the end");
            n++;
            break;
        }
        RedisModule_ReplyWithString(ctx, ele);
        RedisModule_ReplyWithDouble(ctx, score);
        RedisModule_FreeString(ctx, ele);
        n += 2;
        if (last)
            RedisModule_ZsetRangePrev(key);
        else
            RedisModule_ZsetRangeNext(key);
    }
    RedisModule_ZsetRangeStop(key);
    RedisModule_ReplySetArrayLength(ctx, n);
    RedisModule_CloseKey(key);
    return KM_OK;
}

/* tm.zwalk key step...: the iterator functions one call per step, one
 * reply element per step: sfirst|slast min max minex maxex and
 * lfirst|llast min max (the start's return code), next and prev (their
 * return), cur ([member, score] or nil), end (ZsetRangeEndReached), stop
 * (ZsetRangeStop: OK). A bad step ends the walk with an error element. */
static int cmd_zwalk(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, ZITER_APIS))
        return KM_OK;
    if (argc < 3)
        return RedisModule_WrongArity(ctx);
    km_key *key = open_zkey(ctx, argv[1]);
    RedisModule_ReplyWithArray(ctx, KM_POSTPONED_LEN);
    long n = 0;
    for (int i = 2; i < argc; n++) {
        km_string *step = argv[i++];
        int starts = arg_is(step, "sfirst") || arg_is(step, "slast") || arg_is(step, "lfirst") || arg_is(step, "llast");
        if (starts) {
            int lex = arg_is(step, "lfirst") || arg_is(step, "llast");
            int last = arg_is(step, "slast") || arg_is(step, "llast");
            int na = lex ? 2 : 4;
            const char *what;
            int rc = i + na <= argc ? zrange_begin(key, lex, last, argv + i, na, &what) : -1;
            i += na;
            if (rc < 0) {
                RedisModule_ReplyWithError(ctx, "ERR bad range arguments");
                n++;
                break;
            }
            RedisModule_ReplyWithLongLong(ctx, rc);
        } else if (arg_is(step, "next")) {
            RedisModule_ReplyWithLongLong(ctx, RedisModule_ZsetRangeNext(key));
        } else if (arg_is(step, "prev")) {
            RedisModule_ReplyWithLongLong(ctx, RedisModule_ZsetRangePrev(key));
        } else if (arg_is(step, "cur")) {
            reply_zcurrent(ctx, key);
        } else if (arg_is(step, "end")) {
            RedisModule_ReplyWithLongLong(ctx, RedisModule_ZsetRangeEndReached(key));
        } else if (arg_is(step, "stop")) {
            RedisModule_ZsetRangeStop(key);
            RedisModule_ReplyWithSimpleString(ctx, "OK");
        } else {
            RedisModule_ReplyWithError(ctx, "ERR unknown step");
            n++;
            break;
        }
    }
    RedisModule_ZsetRangeStop(key);
    RedisModule_ReplySetArrayLength(ctx, n);
    RedisModule_CloseKey(key);
    return KM_OK;
}

/* ------------------------------------------------------------------ the Dict API */

#define DICT_APIS                                                                                                      \
    "CreateDict FreeDict DictSize DictSetC DictReplaceC DictSet DictReplace DictGetC DictGet DictDelC DictDel "        \
    "DictIteratorStartC DictIteratorStart DictIteratorStop DictIteratorReseekC DictIteratorReseek DictNextC "          \
    "DictPrevC DictNext DictPrev DictCompareC DictCompare"

/* A value in a dict: a copy of the script's value argument. */
typedef struct {
    size_t len;
    char bytes[];
} tm_dval;

static tm_dval *dval_new(km_string *s)
{
    size_t len;
    const char *p = str_of(s, &len);
    tm_dval *v = RedisModule_Alloc(sizeof(*v) + len);
    v->len = len;
    memcpy(v->bytes, p, len);
    return v;
}

static void reply_dval(km_ctx *ctx, void *data)
{
    tm_dval *v = data;
    if (v)
        RedisModule_ReplyWithStringBuffer(ctx, v->bytes, v->len);
    else
        RedisModule_ReplyWithNull(ctx);
}

/* The dict "tm.dict global ..." works on: made with a NULL context once
 * the module has loaded, kept across calls, freed by OnUnload. */
static km_dict *global_dict;

/* Empties d, freeing its values (entries are taken off one at a time from
 * a fresh iterator each: changing a dict under an iterator is not safe). */
static void dict_clear(km_dict *d)
{
    for (;;) {
        km_dict_iter *it = RedisModule_DictIteratorStartC(d, "^", NULL, 0);
        size_t klen;
        void *data = NULL;
        char *k = RedisModule_DictNextC(it, &klen, &data);
        char *copy = NULL;
        if (k) {
            copy = RedisModule_Alloc(klen + 1);
            memcpy(copy, k, klen);
        }
        RedisModule_DictIteratorStop(it);
        if (!copy)
            return;
        RedisModule_DictDelC(d, copy, klen, NULL);
        RedisModule_Free(copy);
        RedisModule_Free(data);
    }
}

/* Frees a value that a set or delete may have left unreferenced: `v` is no
 * longer in d under key (DictGetC says what is). */
static void dval_drop_unless_stored(km_dict *d, const char *k, size_t klen, void *v)
{
    if (v && RedisModule_DictGetC(d, (void *)k, klen, NULL) != v)
        RedisModule_Free(v);
}

/* tm.dict [global] op...: a small script on a dict (a fresh one made with
 * CreateDict(ctx) and freed at the end, or the module's global one), one
 * reply element per op. Ops ("c" variants take the key as a C buffer, the
 * others as a RedisModuleString):
 *   set|setc|replace|replacec k v   the function's return code
 *   get|getc k                      [value or nil, *nokey]
 *   getn k                          DictGetC with nokey NULL: value or nil
 *   del|delc k                      [return code, *oldval or nil]
 *   deln k                          DictDelC with oldval NULL: return code
 *   size                            DictSize
 *   iter|iterc op k                 DictIteratorStart (ending the last
 *                                   iterator): OK
 *   seek|seekc op k                 DictIteratorReseek's return code
 *   next|nextc|prev|prevc           [key, value] or nil at the end
 *   nextk                           DictNextC with dataptr NULL: key or nil
 *   cmp|cmpc op k                   DictCompare's return code
 *   stop                            DictIteratorStop: OK
 *   keys                            every key, from a new "^" iterator
 *   clear                           deletes every entry: OK
 * A bad op or a missing argument ends the script with an error element. */
static int cmd_dict(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, DICT_APIS))
        return KM_OK;
    int global = argc > 1 && arg_is(argv[1], "global");
    if (global && !global_dict)
        return RedisModule_ReplyWithError(ctx, "ERR no global dict");
    km_dict *d = global ? global_dict : RedisModule_CreateDict(ctx);
    km_dict_iter *it = NULL;
    RedisModule_ReplyWithArray(ctx, KM_POSTPONED_LEN);
    long n = 0;
    for (int i = 1 + global; i < argc; n++) {
        km_string *op = argv[i++];
        int left = argc - i;
        int cvar = 0;
        size_t klen = 0;
        const char *k = left > 0 ? str_of(argv[i], &klen) : NULL;
#define OP(word) (arg_is(op, word) || (arg_is(op, word "c") && (cvar = 1)))
#define NEEDS(count)                                                                                                   \
    if (left < (count)) {                                                                                              \
        RedisModule_ReplyWithError(ctx, "ERR missing argument");                                                       \
        n++;                                                                                                           \
        break;                                                                                                         \
    }
        if (OP("set") || OP("replace")) {
            NEEDS(2);
            int replace = arg_is(op, "replace") || arg_is(op, "replacec");
            void *old = RedisModule_DictGetC(d, (void *)k, klen, NULL);
            tm_dval *v = dval_new(argv[i + 1]);
            int rc;
            if (replace)
                rc = cvar ? RedisModule_DictReplaceC(d, (void *)k, klen, v) : RedisModule_DictReplace(d, argv[i], v);
            else
                rc = cvar ? RedisModule_DictSetC(d, (void *)k, klen, v) : RedisModule_DictSet(d, argv[i], v);
            dval_drop_unless_stored(d, k, klen, v);
            dval_drop_unless_stored(d, k, klen, old);
            i += 2;
            RedisModule_ReplyWithLongLong(ctx, rc);
        } else if (OP("get")) {
            NEEDS(1);
            int nokey = -1;
            void *v = cvar ? RedisModule_DictGetC(d, (void *)k, klen, &nokey) : RedisModule_DictGet(d, argv[i], &nokey);
            i++;
            RedisModule_ReplyWithArray(ctx, 2);
            reply_dval(ctx, v);
            RedisModule_ReplyWithLongLong(ctx, nokey);
        } else if (arg_is(op, "getn")) {
            NEEDS(1);
            reply_dval(ctx, RedisModule_DictGetC(d, (void *)k, klen, NULL));
            i++;
        } else if (OP("del")) {
            NEEDS(1);
            void *stored = RedisModule_DictGetC(d, (void *)k, klen, NULL);
            void *old = NULL;
            int rc = cvar ? RedisModule_DictDelC(d, (void *)k, klen, &old) : RedisModule_DictDel(d, argv[i], &old);
            i++;
            RedisModule_ReplyWithArray(ctx, 2);
            RedisModule_ReplyWithLongLong(ctx, rc);
            if (old && old != stored)
                RedisModule_ReplyWithSimpleString(ctx, "oldval is not the value stored");
            else
                reply_dval(ctx, old);
            dval_drop_unless_stored(d, k, klen, stored);
        } else if (arg_is(op, "deln")) {
            NEEDS(1);
            void *stored = RedisModule_DictGetC(d, (void *)k, klen, NULL);
            RedisModule_ReplyWithLongLong(ctx, RedisModule_DictDelC(d, (void *)k, klen, NULL));
            dval_drop_unless_stored(d, k, klen, stored);
            i++;
        } else if (arg_is(op, "size")) {
            RedisModule_ReplyWithLongLong(ctx, (long long)RedisModule_DictSize(d));
        } else if (OP("iter") || OP("seek") || OP("cmp")) {
            NEEDS(2);
            char *sop = arg_dup(argv[i]);
            size_t plen;
            const char *p = str_of(argv[i + 1], &plen);
            if (arg_is(op, "iter") || arg_is(op, "iterc")) {
                if (it)
                    RedisModule_DictIteratorStop(it);
                it = cvar ? RedisModule_DictIteratorStartC(d, sop, (void *)p, plen)
                          : RedisModule_DictIteratorStart(d, sop, argv[i + 1]);
                RedisModule_ReplyWithSimpleString(ctx, "OK");
            } else if (!it) {
                RedisModule_ReplyWithError(ctx, "ERR no iterator");
            } else if (arg_is(op, "seek") || arg_is(op, "seekc")) {
                RedisModule_ReplyWithLongLong(ctx, cvar ? RedisModule_DictIteratorReseekC(it, sop, (void *)p, plen)
                                                        : RedisModule_DictIteratorReseek(it, sop, argv[i + 1]));
            } else {
                RedisModule_ReplyWithLongLong(ctx, cvar ? RedisModule_DictCompareC(it, sop, (void *)p, plen)
                                                        : RedisModule_DictCompare(it, sop, argv[i + 1]));
            }
            RedisModule_Free(sop);
            i += 2;
        } else if (OP("next") || OP("prev") || arg_is(op, "nextk")) {
            if (!it) {
                RedisModule_ReplyWithError(ctx, "ERR no iterator");
                continue;
            }
            int prev = arg_is(op, "prev") || arg_is(op, "prevc");
            void *data = NULL;
            if (arg_is(op, "nextk")) {
                char *key = RedisModule_DictNextC(it, &klen, NULL);
                if (key)
                    RedisModule_ReplyWithStringBuffer(ctx, key, klen);
                else
                    RedisModule_ReplyWithNull(ctx);
            } else if (cvar) {
                char *key = prev ? RedisModule_DictPrevC(it, &klen, &data) : RedisModule_DictNextC(it, &klen, &data);
                if (key) {
                    RedisModule_ReplyWithArray(ctx, 2);
                    RedisModule_ReplyWithStringBuffer(ctx, key, klen);
                    reply_dval(ctx, data);
                } else {
                    RedisModule_ReplyWithNull(ctx);
                }
            } else {
                km_string *key = prev ? RedisModule_DictPrev(ctx, it, &data) : RedisModule_DictNext(ctx, it, &data);
                if (key) {
                    RedisModule_ReplyWithArray(ctx, 2);
                    RedisModule_ReplyWithString(ctx, key);
                    reply_dval(ctx, data);
                    RedisModule_FreeString(ctx, key);
                } else {
                    RedisModule_ReplyWithNull(ctx);
                }
            }
        } else if (arg_is(op, "stop")) {
            if (it)
                RedisModule_DictIteratorStop(it);
            it = NULL;
            RedisModule_ReplyWithSimpleString(ctx, "OK");
        } else if (arg_is(op, "keys")) {
            km_dict_iter *all = RedisModule_DictIteratorStartC(d, "^", NULL, 0);
            RedisModule_ReplyWithArray(ctx, KM_POSTPONED_LEN);
            long nk = 0;
            char *key;
            while ((key = RedisModule_DictNextC(all, &klen, NULL)) != NULL && nk < 100000) {
                RedisModule_ReplyWithStringBuffer(ctx, key, klen);
                nk++;
            }
            RedisModule_ReplySetArrayLength(ctx, nk);
            RedisModule_DictIteratorStop(all);
        } else if (arg_is(op, "clear")) {
            if (it)
                RedisModule_DictIteratorStop(it);
            it = NULL;
            dict_clear(d);
            RedisModule_ReplyWithSimpleString(ctx, "OK");
        } else {
            RedisModule_ReplyWithError(ctx, "ERR unknown op");
            n++;
            break;
        }
#undef OP
#undef NEEDS
    }
    if (it)
        RedisModule_DictIteratorStop(it);
    if (!global) {
        dict_clear(d);
        RedisModule_FreeDict(ctx, d);
    }
    RedisModule_ReplySetArrayLength(ctx, n);
    return KM_OK;
}

/* ------------------------------------------------------------------ server events */

/* The events OnLoad subscribes to (CronLoop, LoadingProgress and
 * EventLoop are counted, not logged: they come too often). */
static const uint64_t subscribed_events[] = {
    TM_EVENT_REPLICATION_ROLE_CHANGED,
    TM_EVENT_FLUSHDB,
    TM_EVENT_LOADING,
    TM_EVENT_CLIENT_CHANGE,
    TM_EVENT_SHUTDOWN,
    TM_EVENT_REPLICA_CHANGE,
    TM_EVENT_MASTER_LINK_CHANGE,
    TM_EVENT_CRON_LOOP,
    TM_EVENT_LOADING_PROGRESS,
    TM_EVENT_SWAPDB,
    TM_EVENT_FORK_CHILD,
    TM_EVENT_REPL_ASYNC_LOAD,
    TM_EVENT_EVENTLOOP,
    TM_EVENT_CONFIG,
};

/* The log tm.events replies: one line per event, oldest first, up to a
 * bound (past it events are only counted in event_dropped). Only the main
 * thread touches it. */
#define TM_EVENT_LOG_MAX 10000
static char *event_log[TM_EVENT_LOG_MAX];
static size_t event_count, event_dropped;
static long long cron_count;
static long long cron_hz;
/* LoadingProgress: events per subevent (rdb, aof), what the last one said. */
static long long progress_count[2];
static long long progress_hz, progress_last;
/* EventLoop: events per subevent (before sleep, after sleep). */
static long long eventloop_count[2];

static void log_event(const char *fmt, ...)
{
    if (event_count == TM_EVENT_LOG_MAX) {
        event_dropped++;
        return;
    }
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    event_log[event_count++] = RedisModule_Strdup(line);
}

static void event_log_reset(void)
{
    for (size_t i = 0; i < event_count; i++)
        RedisModule_Free(event_log[i]);
    event_count = event_dropped = 0;
    cron_count = 0;
    cron_hz = 0;
    progress_count[0] = progress_count[1] = 0;
    progress_hz = progress_last = 0;
}

static void on_server_event(km_ctx *ctx, tm_event eid, uint64_t sub, void *data)
{
    static const char *loading[] = {"rdb-start", "aof-start", "repl-start", "ended", "failed"};
    switch (eid.id) {
    case TM_EVENT_FLUSHDB: {
        tm_flush_info *fi = data;
        const char *what = sub == TM_SUB_FLUSHDB_START ? "start" : sub == TM_SUB_FLUSHDB_END ? "end" : "?";
        if (fi)
            log_event("flushdb %s sync=%d db=%d", what, (int)fi->sync, (int)fi->dbnum);
        else
            log_event("flushdb %s (no data)", what);
        break;
    }
    case TM_EVENT_LOADING: log_event("loading %s", sub < 5 ? loading[sub] : "?"); break;
    case TM_EVENT_CLIENT_CHANGE: {
        tm_client_info *ci = data;
        log_event("client %s %llu", sub == TM_SUB_CLIENT_CONNECTED ? "connected" : "disconnected",
                  ci ? (unsigned long long)ci->id : 0ULL);
        break;
    }
    case TM_EVENT_SHUTDOWN:
        log_event("shutdown");
        RedisModule_Log(ctx, "warning", "testmod: got the shutdown event");
        break;
    case TM_EVENT_REPLICATION_ROLE_CHANGED: {
        tm_repl_info *ri = data;
        if (sub == TM_SUB_ROLE_NOW_MASTER)
            log_event("role master");
        else if (ri && ri->masterhost)
            log_event("role replica of %s:%d", ri->masterhost, ri->masterport);
        else
            log_event("role replica");
        break;
    }
    case TM_EVENT_CRON_LOOP: {
        tm_cron_info *ci = data;
        cron_count++;
        cron_hz = ci ? ci->hz : -1;
        break;
    }
    case TM_EVENT_SWAPDB: {
        tm_swapdb_info *si = data;
        log_event("swapdb %d %d", si ? (int)si->dbnum_first : -9, si ? (int)si->dbnum_second : -9);
        break;
    }
    case TM_EVENT_REPLICA_CHANGE:
        log_event("replica %s", sub == TM_SUB_REPLICA_CHANGE_ONLINE    ? "online"
                                : sub == TM_SUB_REPLICA_CHANGE_OFFLINE ? "offline"
                                                                       : "?");
        break;
    case TM_EVENT_MASTER_LINK_CHANGE:
        log_event("masterlink %s", sub == TM_SUB_MASTER_LINK_UP ? "up" : sub == TM_SUB_MASTER_LINK_DOWN ? "down" : "?");
        break;
    case TM_EVENT_LOADING_PROGRESS: {
        tm_loading_progress *lp = data;
        if (sub <= TM_SUB_LOADING_PROGRESS_AOF)
            progress_count[sub]++;
        progress_hz = lp ? lp->hz : -9;
        progress_last = lp ? lp->progress : -9;
        break;
    }
    case TM_EVENT_FORK_CHILD:
        log_event("fork %s", sub == TM_SUB_FORK_CHILD_BORN ? "born" : sub == TM_SUB_FORK_CHILD_DIED ? "died" : "?");
        break;
    case TM_EVENT_REPL_ASYNC_LOAD: {
        static const char *what[] = {"started", "aborted", "completed"};
        log_event("asyncload %s", sub < 3 ? what[sub] : "?");
        break;
    }
    case TM_EVENT_EVENTLOOP:
        if (sub <= TM_SUB_EVENTLOOP_AFTER_SLEEP)
            eventloop_count[sub]++;
        break;
    case TM_EVENT_CONFIG: {
        /* "config N name1 name2 ...", the names as the server gave them. */
        tm_config_change *cc = data;
        char line[256];
        size_t used = 0;
        if (!cc) {
            log_event("config sub %llu (no data)", (unsigned long long)sub);
            break;
        }
        used += (size_t)snprintf(line, sizeof(line), "config%s %u", sub == TM_SUB_CONFIG_CHANGE ? "" : " ?",
                                 (unsigned)cc->num_changes);
        for (uint32_t i = 0; i < cc->num_changes && used < sizeof(line) - 1; i++)
            used += (size_t)snprintf(line + used, sizeof(line) - used, " %s", cc->config_names[i]);
        log_event("%s", line);
        break;
    }
    default: log_event("event %llu sub %llu", (unsigned long long)eid.id, (unsigned long long)sub);
    }
}

/* Subscribes to subscribed_events; a refusal goes into the log. */
static void subscribe_events(km_ctx *ctx)
{
    if (!RedisModule_SubscribeToServerEvent)
        return;
    for (size_t i = 0; i < sizeof(subscribed_events) / sizeof(subscribed_events[0]); i++) {
        tm_event e = {subscribed_events[i], 1};
        if (RedisModule_SubscribeToServerEvent(ctx, e, on_server_event) != KM_OK)
            log_event("subscribing to event %llu failed", (unsigned long long)e.id);
    }
}

/* tm.events [reset|cron|progress]: the events logged since the last reset,
 * oldest first (with "(N dropped)" last if the log filled up); reset
 * empties the log and the CronLoop and LoadingProgress counts: OK; cron:
 * [CronLoop events counted, the hz the last one gave]; progress:
 * [LoadingProgress rdb events, aof events, the last one's hz, its
 * progress]. */
static int cmd_events(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, "SubscribeToServerEvent"))
        return KM_OK;
    if (argc > 2)
        return RedisModule_WrongArity(ctx);
    if (argc == 2 && arg_is(argv[1], "reset")) {
        event_log_reset();
        return RedisModule_ReplyWithSimpleString(ctx, "OK");
    }
    if (argc == 2 && arg_is(argv[1], "cron")) {
        RedisModule_ReplyWithArray(ctx, 2);
        RedisModule_ReplyWithLongLong(ctx, cron_count);
        return RedisModule_ReplyWithLongLong(ctx, cron_hz);
    }
    if (argc == 2 && arg_is(argv[1], "progress")) {
        RedisModule_ReplyWithArray(ctx, 4);
        RedisModule_ReplyWithLongLong(ctx, progress_count[0]);
        RedisModule_ReplyWithLongLong(ctx, progress_count[1]);
        RedisModule_ReplyWithLongLong(ctx, progress_hz);
        return RedisModule_ReplyWithLongLong(ctx, progress_last);
    }
    if (argc == 2)
        return RedisModule_ReplyWithError(ctx, "ERR syntax: tm.events [reset|cron|progress]");
    RedisModule_ReplyWithArray(ctx, (long)(event_count + (event_dropped ? 1 : 0)));
    for (size_t i = 0; i < event_count; i++)
        RedisModule_ReplyWithCString(ctx, event_log[i]);
    if (event_dropped) {
        char line[64];
        snprintf(line, sizeof(line), "(%zu dropped)", event_dropped);
        RedisModule_ReplyWithCString(ctx, line);
    }
    return KM_OK;
}

/* tm.eventloop [reset]: [EventLoop before-sleep events, after-sleep
 * events] counted since the last reset (reset: OK) */
static int cmd_eventloop(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, "SubscribeToServerEvent"))
        return KM_OK;
    if (argc > 2 || (argc == 2 && !arg_is(argv[1], "reset")))
        return RedisModule_WrongArity(ctx);
    if (argc == 2) {
        eventloop_count[0] = eventloop_count[1] = 0;
        return RedisModule_ReplyWithSimpleString(ctx, "OK");
    }
    RedisModule_ReplyWithArray(ctx, 2);
    RedisModule_ReplyWithLongLong(ctx, eventloop_count[0]);
    return RedisModule_ReplyWithLongLong(ctx, eventloop_count[1]);
}

/* tm.subevent id subevent: IsSubEventSupported for {id, version 1} */
static int cmd_subevent(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, "IsSubEventSupported"))
        return KM_OK;
    if (argc != 3)
        return RedisModule_WrongArity(ctx);
    long long id, sub;
    if (RedisModule_StringToLongLong(argv[1], &id) != KM_OK || RedisModule_StringToLongLong(argv[2], &sub) != KM_OK)
        return RedisModule_ReplyWithError(ctx, "ERR id and subevent must be integers");
    tm_event e = {(uint64_t)id, 1};
    return RedisModule_ReplyWithLongLong(ctx, RedisModule_IsSubEventSupported(e, (int64_t)sub));
}

/* ------------------------------------------------------------------ command filters */

#define FILTER_APIS                                                                                                    \
    "RegisterCommandFilter UnregisterCommandFilter CommandFilterArgsCount CommandFilterArgGet "                        \
    "CommandFilterArgInsert CommandFilterArgReplace CommandFilterArgDelete"

static tm_cmd_filter *cmd_filter;

/* What the filter saw: the commands whose first argument was tm:filtered,
 * as they reached it, oldest first. */
#define TM_FILTER_LOG_MAX 1000
static char *filter_log[TM_FILTER_LOG_MAX];
static size_t filter_count;

static void filter_log_reset(void)
{
    for (size_t i = 0; i < filter_count; i++)
        RedisModule_Free(filter_log[i]);
    filter_count = 0;
}

static int filter_arg_is(tm_filter_ctx *fctx, int pos, const char *word)
{
    km_string *s = RedisModule_CommandFilterArgGet(fctx, pos);
    return s && arg_is(s, word);
}

static void filter_replace_c(tm_filter_ctx *fctx, int pos, const char *buf, size_t len)
{
    /* The filtered command keeps the string: no context, no auto memory. */
    RedisModule_CommandFilterArgReplace(fctx, pos, RedisModule_CreateString(NULL, buf, len));
}

/* The filter: applies to commands whose first argument is tm:filtered.
 * It logs the command, then rewrites it:
 *   - a command named tm:ping becomes PING (argument 0 replaced);
 *   - every later argument "tm:drop" is deleted;
 *   - after every later argument "tm:ins" the argument "inserted" goes in;
 *   - SET's value (argument 2) gets "-filtered" appended. */
static void tm_command_filter(tm_filter_ctx *fctx)
{
    int argc = RedisModule_CommandFilterArgsCount(fctx);
    if (argc < 2 || !filter_arg_is(fctx, 1, "tm:filtered"))
        return;
    if (filter_count < TM_FILTER_LOG_MAX) {
        char line[512];
        size_t used = 0;
        for (int i = 0; i < argc && used < sizeof(line) - 1; i++) {
            size_t len;
            const char *p = str_of(RedisModule_CommandFilterArgGet(fctx, i), &len);
            used += (size_t)snprintf(line + used, sizeof(line) - used, "%s%.*s", i ? " " : "", (int)len, p);
        }
        if (used < sizeof(line) && RedisModule_CommandFilterArgGet(fctx, argc) != NULL)
            snprintf(line + used, sizeof(line) - used, " (an argument past the end!)");
        filter_log[filter_count++] = RedisModule_Strdup(line);
    }
    if (filter_arg_is(fctx, 0, "tm:ping"))
        filter_replace_c(fctx, 0, "PING", 4);
    for (int i = RedisModule_CommandFilterArgsCount(fctx) - 1; i >= 2; i--)
        if (filter_arg_is(fctx, i, "tm:drop"))
            RedisModule_CommandFilterArgDelete(fctx, i);
    for (int i = RedisModule_CommandFilterArgsCount(fctx) - 1; i >= 2; i--)
        if (filter_arg_is(fctx, i, "tm:ins"))
            RedisModule_CommandFilterArgInsert(fctx, i + 1, RedisModule_CreateString(NULL, "inserted", 8));
    if (filter_arg_is(fctx, 0, "set") && RedisModule_CommandFilterArgsCount(fctx) >= 3) {
        size_t len;
        const char *p = str_of(RedisModule_CommandFilterArgGet(fctx, 2), &len);
        char *buf = RedisModule_Alloc(len + 9);
        memcpy(buf, p, len);
        memcpy(buf + len, "-filtered", 9);
        filter_replace_c(fctx, 2, buf, len + 9);
        RedisModule_Free(buf);
    }
}

/* tm.filter on [noself] | off | log | reset: registers the filter above
 * (REDISMODULE_CMDFILTER_NOSELF with noself) or unregisters it (OK, or
 * "ERR UnregisterCommandFilter failed"); log: what it saw; reset: empties
 * that log. */
static int cmd_filter_cmd(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, FILTER_APIS))
        return KM_OK;
    if (argc < 2 || argc > 3)
        return RedisModule_WrongArity(ctx);
    if (arg_is(argv[1], "on")) {
        int noself = argc == 3 && arg_is(argv[2], "noself");
        if (argc == 3 && !noself)
            return RedisModule_ReplyWithError(ctx, "ERR syntax: tm.filter on [noself]");
        if (cmd_filter)
            return RedisModule_ReplyWithError(ctx, "ERR the filter is on already");
        cmd_filter = RedisModule_RegisterCommandFilter(ctx, tm_command_filter, noself ? TM_CMDFILTER_NOSELF : 0);
        if (!cmd_filter)
            return RedisModule_ReplyWithError(ctx, "ERR RegisterCommandFilter failed");
        return RedisModule_ReplyWithSimpleString(ctx, "OK");
    }
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    if (arg_is(argv[1], "off")) {
        if (!cmd_filter)
            return RedisModule_ReplyWithError(ctx, "ERR the filter is off");
        int rc = RedisModule_UnregisterCommandFilter(ctx, cmd_filter);
        cmd_filter = NULL;
        if (rc != KM_OK)
            return RedisModule_ReplyWithError(ctx, "ERR UnregisterCommandFilter failed");
        return RedisModule_ReplyWithSimpleString(ctx, "OK");
    }
    if (arg_is(argv[1], "log")) {
        RedisModule_ReplyWithArray(ctx, (long)filter_count);
        for (size_t i = 0; i < filter_count; i++)
            RedisModule_ReplyWithCString(ctx, filter_log[i]);
        return KM_OK;
    }
    if (arg_is(argv[1], "reset")) {
        filter_log_reset();
        return RedisModule_ReplyWithSimpleString(ctx, "OK");
    }
    return RedisModule_ReplyWithError(ctx, "ERR syntax: tm.filter on [noself] | off | log | reset");
}

/* ------------------------------------------------------------------ server info, clients, misc */

/* tm.info section field: what GetServerInfo(section; "-" for NULL, the
 * default sections) says of field: [ServerInfoGetField (nil when absent),
 * ServerInfoGetFieldC (nil when absent), [ServerInfoGetFieldSigned, its
 * out_err], [...Unsigned, out_err], [...Double, out_err]] */
static int cmd_info(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, "GetServerInfo FreeServerInfo ServerInfoGetField ServerInfoGetFieldC ServerInfoGetFieldSigned "
                   "ServerInfoGetFieldUnsigned ServerInfoGetFieldDouble"))
        return KM_OK;
    if (argc != 3)
        return RedisModule_WrongArity(ctx);
    char *section = arg_is(argv[1], "-") ? NULL : arg_dup(argv[1]);
    char *field = arg_dup(argv[2]);
    tm_server_info *info = RedisModule_GetServerInfo(ctx, section);
    RedisModule_Free(section);
    if (!info) {
        RedisModule_Free(field);
        return RedisModule_ReplyWithError(ctx, "ERR GetServerInfo failed");
    }
    RedisModule_ReplyWithArray(ctx, 5);
    km_string *s = RedisModule_ServerInfoGetField(ctx, info, field);
    if (s) {
        RedisModule_ReplyWithString(ctx, s);
        RedisModule_FreeString(ctx, s);
    } else {
        RedisModule_ReplyWithNull(ctx);
    }
    const char *c = RedisModule_ServerInfoGetFieldC(info, field);
    if (c)
        RedisModule_ReplyWithCString(ctx, c);
    else
        RedisModule_ReplyWithNull(ctx);
    int err = -1;
    long long sv = RedisModule_ServerInfoGetFieldSigned(info, field, &err);
    RedisModule_ReplyWithArray(ctx, 2);
    RedisModule_ReplyWithLongLong(ctx, sv);
    RedisModule_ReplyWithLongLong(ctx, err);
    err = -1;
    unsigned long long uv = RedisModule_ServerInfoGetFieldUnsigned(info, field, &err);
    RedisModule_ReplyWithArray(ctx, 2);
    RedisModule_ReplyWithLongLong(ctx, (long long)uv);
    RedisModule_ReplyWithLongLong(ctx, err);
    err = -1;
    double dv = RedisModule_ServerInfoGetFieldDouble(info, field, &err);
    RedisModule_ReplyWithArray(ctx, 2);
    RedisModule_ReplyWithDouble(ctx, dv);
    RedisModule_ReplyWithLongLong(ctx, err);
    RedisModule_FreeServerInfo(ctx, info);
    RedisModule_Free(field);
    return KM_OK;
}

/* tm.clientinfo [id [exists|v2]]: GetClientInfoById for id (by default the
 * caller, GetClientId) as [flag names, id, addr, port, db]; "ERR
 * GetClientInfoById failed" when it fails. With "exists" ci is NULL (the
 * return code alone: 0 or 1); "v2" asks for a structure version the
 * server does not know. */
static int cmd_clientinfo(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, "GetClientInfoById GetClientId"))
        return KM_OK;
    if (argc > 3)
        return RedisModule_WrongArity(ctx);
    long long id = (long long)RedisModule_GetClientId(ctx);
    if (argc >= 2 && RedisModule_StringToLongLong(argv[1], &id) != KM_OK)
        return RedisModule_ReplyWithError(ctx, "ERR id must be an integer");
    if (argc == 3 && arg_is(argv[2], "exists"))
        return RedisModule_ReplyWithLongLong(ctx, RedisModule_GetClientInfoById(NULL, (uint64_t)id));
    tm_client_info ci;
    memset(&ci, 0, sizeof(ci));
    ci.version = argc == 3 && arg_is(argv[2], "v2") ? 2 : TM_CLIENTINFO_VERSION;
    if (RedisModule_GetClientInfoById(&ci, (uint64_t)id) != KM_OK)
        return RedisModule_ReplyWithError(ctx, "ERR GetClientInfoById failed");
    static const struct {
        uint64_t bit;
        const char *name;
    } flags[] = {
        {TM_CLIENTINFO_FLAG_SSL, "ssl"},
        {TM_CLIENTINFO_FLAG_PUBSUB, "pubsub"},
        {TM_CLIENTINFO_FLAG_BLOCKED, "blocked"},
        {TM_CLIENTINFO_FLAG_TRACKING, "tracking"},
        {TM_CLIENTINFO_FLAG_UNIXSOCKET, "unixsocket"},
        {TM_CLIENTINFO_FLAG_MULTI, "multi"},
    };
    RedisModule_ReplyWithArray(ctx, 5);
    RedisModule_ReplyWithArray(ctx, KM_POSTPONED_LEN);
    long n = 0;
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        if (ci.flags & flags[i].bit) {
            RedisModule_ReplyWithCString(ctx, flags[i].name);
            n++;
        }
    }
    RedisModule_ReplySetArrayLength(ctx, n);
    RedisModule_ReplyWithLongLong(ctx, (long long)ci.id);
    ci.addr[sizeof(ci.addr) - 1] = '\0';
    RedisModule_ReplyWithCString(ctx, ci.addr);
    RedisModule_ReplyWithLongLong(ctx, ci.port);
    return RedisModule_ReplyWithLongLong(ctx, ci.db);
}

/* tm.clientname [id]: GetClientNameById (by default for the caller), nil
 * when it gives NULL */
static int cmd_clientname(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, "GetClientNameById GetClientId"))
        return KM_OK;
    if (argc > 2)
        return RedisModule_WrongArity(ctx);
    long long id = (long long)RedisModule_GetClientId(ctx);
    if (argc == 2 && RedisModule_StringToLongLong(argv[1], &id) != KM_OK)
        return RedisModule_ReplyWithError(ctx, "ERR id must be an integer");
    km_string *name = RedisModule_GetClientNameById(ctx, (uint64_t)id);
    if (!name)
        return RedisModule_ReplyWithNull(ctx);
    RedisModule_ReplyWithString(ctx, name);
    RedisModule_FreeString(ctx, name);
    return KM_OK;
}

/* tm.version: [GetServerVersion, GetTypeMethodVersion] */
static int cmd_version(km_ctx *ctx, km_string **argv, int argc)
{
    (void)argv;
    if (lacks(ctx, "GetServerVersion GetTypeMethodVersion"))
        return KM_OK;
    if (argc != 1)
        return RedisModule_WrongArity(ctx);
    RedisModule_ReplyWithArray(ctx, 2);
    RedisModule_ReplyWithLongLong(ctx, RedisModule_GetServerVersion());
    return RedisModule_ReplyWithLongLong(ctx, RedisModule_GetTypeMethodVersion());
}

/* tm.time: [Milliseconds, MonotonicMicroseconds] */
static int cmd_time(km_ctx *ctx, km_string **argv, int argc)
{
    (void)argv;
    if (lacks(ctx, "Milliseconds MonotonicMicroseconds"))
        return KM_OK;
    if (argc != 1)
        return RedisModule_WrongArity(ctx);
    RedisModule_ReplyWithArray(ctx, 2);
    RedisModule_ReplyWithLongLong(ctx, RedisModule_Milliseconds());
    return RedisModule_ReplyWithLongLong(ctx, (long long)RedisModule_MonotonicMicroseconds());
}

/* tm.avoidrepl: AvoidReplicaTraffic */
static int cmd_avoidrepl(km_ctx *ctx, km_string **argv, int argc)
{
    (void)argv;
    if (lacks(ctx, "AvoidReplicaTraffic"))
        return KM_OK;
    if (argc != 1)
        return RedisModule_WrongArity(ctx);
    return RedisModule_ReplyWithLongLong(ctx, RedisModule_AvoidReplicaTraffic());
}

/* tm.notifyall: GetKeyspaceNotificationFlagsAll */
static int cmd_notifyall(km_ctx *ctx, km_string **argv, int argc)
{
    (void)argv;
    if (lacks(ctx, "GetKeyspaceNotificationFlagsAll"))
        return KM_OK;
    if (argc != 1)
        return RedisModule_WrongArity(ctx);
    return RedisModule_ReplyWithLongLong(ctx, RedisModule_GetKeyspaceNotificationFlagsAll());
}

/* tm.options: SetModuleOptions(REDISMODULE_OPTIONS_HANDLE_IO_ERRORS): OK */
static int cmd_options(km_ctx *ctx, km_string **argv, int argc)
{
    (void)argv;
    if (lacks(ctx, "SetModuleOptions"))
        return KM_OK;
    if (argc != 1)
        return RedisModule_WrongArity(ctx);
    RedisModule_SetModuleOptions(ctx, TM_OPTIONS_HANDLE_IO_ERRORS);
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

/* ------------------------------------------------------------------ INFO sections */

#define INFO_APIS                                                                                                      \
    "RegisterInfoFunc InfoAddSection InfoBeginDictField InfoEndDictField InfoAddFieldString InfoAddFieldCString "      \
    "InfoAddFieldDouble InfoAddFieldLongLong InfoAddFieldULongLong"

/* What the INFO callback adds, chosen by tm.infomode:
 *   normal: section NULL (the default one: plain=yes), section "stats"
 *           (str, cstr, dbl, neg, big, ll, ull, the dict field
 *           dict:a=1,b=two,c=1.5), section "extra" (n=7);
 *   empty:  the same with "" for the first section's name;
 *   early:  a field (early=x) before any section, then as normal;
 *   nodictend: as normal, but neither dict field is ended (the second is
 *           still open when the callback returns);
 *   none:   nothing at all.
 * Each call's answer goes into the log tm.infolog replies. */
enum { INFO_NORMAL, INFO_EMPTY, INFO_EARLY, INFO_NODICTEND, INFO_NONE };
static int info_mode = INFO_NORMAL;
static int info_unsafe_field; /* tm.prop.infounsafe */

#define TM_INFO_LOG_MAX 64
static char *info_log[TM_INFO_LOG_MAX];
static size_t info_log_count;
static long long info_calls;

static void info_log_reset(void)
{
    for (size_t i = 0; i < info_log_count; i++)
        RedisModule_Free(info_log[i]);
    info_log_count = 0;
}

static void info_note(const char *what, int rc)
{
    if (info_log_count == TM_INFO_LOG_MAX)
        return;
    char line[128];
    snprintf(line, sizeof(line), "%s=%s", what, rc == KM_OK ? "ok" : rc == KM_ERR ? "err" : "?");
    info_log[info_log_count++] = RedisModule_Strdup(line);
}

static void tm_info_func(tm_info_ctx *ictx, int for_crash_report)
{
    info_log_reset();
    info_calls++;
    char line[64];
    snprintf(line, sizeof(line), "crash=%d", for_crash_report);
    info_log[info_log_count++] = RedisModule_Strdup(line);
    if (info_mode == INFO_NONE)
        return;
    if (info_mode == INFO_EARLY)
        info_note("early", RedisModule_InfoAddFieldCString(ictx, "early", "x"));

    info_note(info_mode == INFO_EMPTY ? "section:\"\"" : "section:NULL",
              RedisModule_InfoAddSection(ictx, info_mode == INFO_EMPTY ? "" : NULL));
    info_note("plain", RedisModule_InfoAddFieldCString(ictx, "plain", "yes"));

    info_note("section:stats", RedisModule_InfoAddSection(ictx, "stats"));
    km_string *s = RedisModule_CreateString(NULL, "hello world", 11);
    info_note("str", RedisModule_InfoAddFieldString(ictx, "str", s));
    RedisModule_FreeString(NULL, s);
    info_note("cstr", RedisModule_InfoAddFieldCString(ictx, "cstr", "c-value"));
    info_note("dbl", RedisModule_InfoAddFieldDouble(ictx, "dbl", 3.14));
    info_note("neg", RedisModule_InfoAddFieldDouble(ictx, "neg", -0.5));
    info_note("big", RedisModule_InfoAddFieldDouble(ictx, "big", 1e300));
    info_note("ll", RedisModule_InfoAddFieldLongLong(ictx, "ll", -42));
    info_note("ull", RedisModule_InfoAddFieldULongLong(ictx, "ull", 18446744073709551615ULL));
    info_note("dict", RedisModule_InfoBeginDictField(ictx, "dict"));
    info_note("a", RedisModule_InfoAddFieldLongLong(ictx, "a", 1));
    info_note("b", RedisModule_InfoAddFieldCString(ictx, "b", "two"));
    info_note("c", RedisModule_InfoAddFieldDouble(ictx, "c", 1.5));
    if (info_mode != INFO_NODICTEND)
        info_note("enddict", RedisModule_InfoEndDictField(ictx));

    info_note("section:extra", RedisModule_InfoAddSection(ictx, "extra"));
    if (info_mode == INFO_NODICTEND) {
        info_note("open", RedisModule_InfoBeginDictField(ictx, "open"));
        info_note("x", RedisModule_InfoAddFieldLongLong(ictx, "x", 1));
    }
    info_note("n", RedisModule_InfoAddFieldLongLong(ictx, "n", 7));
    if (info_unsafe_field) {
        RedisModule_InfoAddSection(ictx, "unsafe");
        RedisModule_InfoBeginDictField(ictx, "un:safe#field");
        RedisModule_InfoAddFieldLongLong(ictx, "value", 1);
        RedisModule_InfoEndDictField(ictx);
    }
}

/* tm.infomode normal|empty|early|nodictend|none: what the INFO callback
 * adds from now on: OK */
static int cmd_infomode(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, INFO_APIS))
        return KM_OK;
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    static const char *modes[] = {"normal", "empty", "early", "nodictend", "none"};
    for (int i = 0; i < (int)(sizeof(modes) / sizeof(modes[0])); i++) {
        if (arg_is(argv[1], modes[i])) {
            info_mode = i;
            return RedisModule_ReplyWithSimpleString(ctx, "OK");
        }
    }
    return RedisModule_ReplyWithError(ctx, "ERR syntax: tm.infomode normal|empty|early|nodictend|none");
}

/* tm.infolog: what the INFO callback's last run did: "crash=<its
 * for_crash_report>", then "<call>=ok|err" for each Info* call in order;
 * tm.infolog calls: how many times it ran. */
static int cmd_infolog(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, INFO_APIS))
        return KM_OK;
    if (argc == 2 && arg_is(argv[1], "calls"))
        return RedisModule_ReplyWithLongLong(ctx, info_calls);
    if (argc != 1)
        return RedisModule_WrongArity(ctx);
    RedisModule_ReplyWithArray(ctx, (long)info_log_count);
    for (size_t i = 0; i < info_log_count; i++)
        RedisModule_ReplyWithCString(ctx, info_log[i]);
    return KM_OK;
}

/* ------------------------------------------------------------------ the Scan API */

#define SCAN_APIS "ScanCursorCreate ScanCursorRestart ScanCursorDestroy Scan ScanKey"

/* What a scan collects: one line per key (or per element) as bytes. */
typedef struct {
    char **items;
    size_t *lens;
    size_t n, cap;
    km_ctx *ctx;
    int with_types; /* tm.scan types: "name type length" */
    int deleting;   /* tm.scan delete: keys named del:* are deleted */
    long long deleted;
} scan_acc;

static void acc_push(scan_acc *a, const char *p, size_t len)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 64;
        a->items = RedisModule_Realloc(a->items, a->cap * sizeof(*a->items));
        a->lens = RedisModule_Realloc(a->lens, a->cap * sizeof(*a->lens));
    }
    a->items[a->n] = RedisModule_Alloc(len + 1);
    memcpy(a->items[a->n], p, len);
    a->items[a->n][len] = '\0';
    a->lens[a->n++] = len;
}

static void acc_free(scan_acc *a)
{
    for (size_t i = 0; i < a->n; i++)
        RedisModule_Free(a->items[i]);
    RedisModule_Free(a->items);
    RedisModule_Free(a->lens);
    memset(a, 0, sizeof(*a));
}

static int bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen < blen ? -1 : alen > blen ? 1 : 0);
}

/* Sorts the items (byte order) and replies them as an array. */
static void acc_reply_sorted(km_ctx *ctx, scan_acc *a)
{
    for (size_t i = 1; i < a->n; i++) { /* insertion sort: small inputs, no qsort context needed */
        char *it = a->items[i];
        size_t len = a->lens[i], j = i;
        while (j > 0 && bytes_cmp(a->items[j - 1], a->lens[j - 1], it, len) > 0) {
            a->items[j] = a->items[j - 1];
            a->lens[j] = a->lens[j - 1];
            j--;
        }
        a->items[j] = it;
        a->lens[j] = len;
    }
    RedisModule_ReplyWithArray(ctx, (long)a->n);
    for (size_t i = 0; i < a->n; i++)
        RedisModule_ReplyWithStringBuffer(ctx, a->items[i], a->lens[i]);
}

static void scan_collect(km_ctx *ctx, km_string *keyname, km_key *key, void *privdata)
{
    scan_acc *a = privdata;
    size_t len;
    const char *p = str_of(keyname, &len);
    if (a->deleting && len >= 4 && memcmp(p, "del:", 4) == 0) {
        /* The API reference: deleting the current key is safe. */
        km_key *k = RedisModule_OpenKey(ctx, keyname, KM_READ | KM_WRITE);
        if (RedisModule_DeleteKey(k) == KM_OK)
            a->deleted++;
        RedisModule_CloseKey(k);
        return;
    }
    if (!a->with_types) {
        acc_push(a, p, len);
        return;
    }
    /* The key handle is given "as best effort": open it when it is not. */
    km_key *k = key ? key : RedisModule_OpenKey(ctx, keyname, KM_READ);
    char line[600];
    int n = snprintf(line, sizeof(line), "%.*s %d %zu%s", (int)(len > 500 ? 500 : len), p, RedisModule_KeyType(k),
                     RedisModule_ValueLength(k), key ? "" : " (no handle)");
    if (!key)
        RedisModule_CloseKey(k);
    acc_push(a, line, (size_t)n);
}

/* tm.scan [types|steps|restart|delete]: Scan over the selected db.
 *   (none):  every key name, sorted;
 *   types:   "name type length" for every key, sorted (KeyType and
 *            ValueLength of the handle the callback gets);
 *   steps:   [the number of Scan calls it took (each call 1 until the
 *            last, which answers 0), the sorted names];
 *   restart: [keys seen by a full scan, what one more Scan then answers
 *            and its errno, keys seen by it, keys seen by a full scan
 *            after ScanCursorRestart];
 *   delete:  deletes every key named del:* from inside the callback:
 *            [the number deleted, the sorted names of the others]. */
static int cmd_scan(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, SCAN_APIS))
        return KM_OK;
    if (argc > 2)
        return RedisModule_WrongArity(ctx);
    scan_acc a;
    memset(&a, 0, sizeof(a));
    tm_scan_cursor *c = RedisModule_ScanCursorCreate();
    if (argc == 1 || arg_is(argv[1], "types") || arg_is(argv[1], "steps") || arg_is(argv[1], "delete")) {
        a.with_types = argc == 2 && arg_is(argv[1], "types");
        a.deleting = argc == 2 && arg_is(argv[1], "delete");
        long long calls = 1;
        while (RedisModule_Scan(ctx, c, scan_collect, &a))
            calls++;
        if (argc == 2 && (arg_is(argv[1], "steps") || a.deleting)) {
            RedisModule_ReplyWithArray(ctx, 2);
            RedisModule_ReplyWithLongLong(ctx, a.deleting ? a.deleted : calls);
        }
        acc_reply_sorted(ctx, &a);
    } else if (arg_is(argv[1], "restart")) {
        while (RedisModule_Scan(ctx, c, scan_collect, &a)) {
        }
        size_t first = a.n;
        errno = 0;
        int rc = RedisModule_Scan(ctx, c, scan_collect, &a);
        int err = errno;
        size_t after = a.n - first;
        RedisModule_ScanCursorRestart(c);
        while (RedisModule_Scan(ctx, c, scan_collect, &a)) {
        }
        RedisModule_ReplyWithArray(ctx, 5);
        RedisModule_ReplyWithLongLong(ctx, (long long)first);
        RedisModule_ReplyWithLongLong(ctx, rc);
        RedisModule_ReplyWithCString(ctx, errno_name(err));
        RedisModule_ReplyWithLongLong(ctx, (long long)after);
        RedisModule_ReplyWithLongLong(ctx, (long long)(a.n - first - after));
    } else {
        RedisModule_ReplyWithError(ctx, "ERR syntax: tm.scan [types|steps|restart|delete]");
    }
    RedisModule_ScanCursorDestroy(c);
    acc_free(&a);
    return KM_OK;
}

static void scankey_collect(km_key *key, km_string *field, km_string *value, void *privdata)
{
    (void)key;
    scan_acc *a = privdata;
    size_t flen, vlen = 0;
    const char *f = str_of(field, &flen);
    const char *v = value ? str_of(value, &vlen) : NULL;
    /* field, a NUL byte, then "=value" or "(null)": sorts by field. */
    char *buf = RedisModule_Alloc(flen + vlen + 8);
    memcpy(buf, f, flen);
    buf[flen] = '\0';
    size_t n = flen + 1;
    if (v) {
        buf[n++] = '=';
        memcpy(buf + n, v, vlen);
        n += vlen;
    } else {
        memcpy(buf + n, "(null)", 6);
        n += 6;
    }
    acc_push(a, buf, n);
    RedisModule_Free(buf);
}

/* tm.scankey key: ScanKey over key (opened READ) until it answers 0:
 * [the number of calls, the errno of the last one, the elements sorted
 * by field as [field, value] (value nil when the callback got NULL), [what
 * one more ScanKey answers, its errno]]. */
static int cmd_scankey(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, SCAN_APIS))
        return KM_OK;
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    km_key *key = RedisModule_OpenKey(ctx, argv[1], KM_READ);
    tm_scan_cursor *c = RedisModule_ScanCursorCreate();
    scan_acc a;
    memset(&a, 0, sizeof(a));
    long long calls = 0;
    int rc, err;
    do {
        errno = 0;
        rc = RedisModule_ScanKey(key, c, scankey_collect, &a);
        err = errno;
        calls++;
    } while (rc && calls < 1000000);
    errno = 0;
    int again = RedisModule_ScanKey(key, c, scankey_collect, &a);
    int again_err = errno;
    RedisModule_ScanCursorDestroy(c);
    if (key)
        RedisModule_CloseKey(key);
    /* Sort the "field\0..." items, then reply each as [field, value]. */
    for (size_t i = 1; i < a.n; i++) {
        char *it = a.items[i];
        size_t len = a.lens[i], j = i;
        while (j > 0 && bytes_cmp(a.items[j - 1], a.lens[j - 1], it, len) > 0) {
            a.items[j] = a.items[j - 1];
            a.lens[j] = a.lens[j - 1];
            j--;
        }
        a.items[j] = it;
        a.lens[j] = len;
    }
    RedisModule_ReplyWithArray(ctx, 4);
    RedisModule_ReplyWithLongLong(ctx, calls);
    RedisModule_ReplyWithCString(ctx, errno_name(err));
    RedisModule_ReplyWithArray(ctx, (long)a.n);
    for (size_t i = 0; i < a.n; i++) {
        size_t flen = strlen(a.items[i]); /* up to the NUL written after the field */
        const char *rest = a.items[i] + flen + 1;
        size_t rlen = a.lens[i] - flen - 1;
        RedisModule_ReplyWithArray(ctx, 2);
        RedisModule_ReplyWithStringBuffer(ctx, a.items[i], flen);
        if (rlen && rest[0] == '=')
            RedisModule_ReplyWithStringBuffer(ctx, rest + 1, rlen - 1);
        else
            RedisModule_ReplyWithNull(ctx);
    }
    RedisModule_ReplyWithArray(ctx, 2);
    RedisModule_ReplyWithLongLong(ctx, again);
    RedisModule_ReplyWithCString(ctx, errno_name(again_err));
    acc_free(&a);
    return KM_OK;
}

/* ------------------------------------------------------------------ module configs */

#define CONFIG_APIS "RegisterStringConfig RegisterBoolConfig RegisterNumericConfig RegisterEnumConfig LoadConfigs"

/* The module's side of its configs (the server asks the getters and tells
 * the setters). Their names in CONFIG are testmod.<name>:
 *   str     string, default "hello"; the setter refuses "bad" ("the value
 *           bad is refused") and logs every value it gets;
 *   fixed   string IMMUTABLE, default "stone";
 *   secret  string SENSITIVE, default "pw";
 *   flag    bool, default yes;
 *   noload  bool DENY_LOADING, default no;
 *   num     numeric -5..1000, default 10; the setter refuses 13 ("13 is
 *           unlucky"); apply callback A, which fails while num is 666
 *           ("apply refused 666");
 *   mem     numeric MEMORY 0..2^40, default 1024; apply callback A (the
 *           same function and privdata as num's: one call for both);
 *   hidden  numeric HIDDEN, default 7;
 *   prot    numeric PROTECTED, default 1;
 *   mode    enum low=1 mid=2 high=4, default mid; apply callback B;
 *   bits    enum BITFLAGS a=1 b=2 c=4, default 5;
 *   strmem  string with the MEMORY flag (meant for numeric configs; Redis
 *           7.0 takes it), default "x".
 * Every setter and apply call is logged (tm.config log). */
typedef struct {
    km_string *val;
} cfg_string;
static cfg_string cfg_str, cfg_fixed, cfg_secret, cfg_strmem;
static int cfg_flag, cfg_noload;
static long long cfg_num, cfg_mem, cfg_hidden, cfg_prot;
static int cfg_mode, cfg_bits;
/* The apply callbacks' privdata. The server runs an apply callback once
 * per CONFIG SET for each distinct (function, privdata) pair, and a
 * config's privdata also goes to its getter and setter: so those find
 * their value by the config's name, not by privdata. */
static int cfg_apply_a, cfg_apply_b;

#define TM_CFG_LOG_MAX 256
static char *cfg_log[TM_CFG_LOG_MAX];
static size_t cfg_log_count;
/* Registration results, in order: "name ok|err errno". */
static char cfg_registered[1024];

static void cfg_note(const char *fmt, ...)
{
    if (cfg_log_count == TM_CFG_LOG_MAX)
        return;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    cfg_log[cfg_log_count++] = RedisModule_Strdup(line);
}

static void cfg_log_reset(void)
{
    for (size_t i = 0; i < cfg_log_count; i++)
        RedisModule_Free(cfg_log[i]);
    cfg_log_count = 0;
}

/* The config's own name, whether the callback got "name" or
 * "testmod.name". */
static const char *cfg_short(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot ? dot + 1 : name;
}

static cfg_string *cfg_string_slot(const char *name)
{
    name = cfg_short(name);
    return !strcmp(name, "fixed")    ? &cfg_fixed
           : !strcmp(name, "secret") ? &cfg_secret
           : !strcmp(name, "strmem") ? &cfg_strmem
                                     : &cfg_str;
}

static int *cfg_int_slot(const char *name)
{
    name = cfg_short(name);
    return !strcmp(name, "noload") ? &cfg_noload
           : !strcmp(name, "mode") ? &cfg_mode
           : !strcmp(name, "bits") ? &cfg_bits
                                   : &cfg_flag;
}

static long long *cfg_numeric_slot(const char *name)
{
    name = cfg_short(name);
    return !strcmp(name, "mem")      ? &cfg_mem
           : !strcmp(name, "hidden") ? &cfg_hidden
           : !strcmp(name, "prot")   ? &cfg_prot
                                     : &cfg_num;
}

static km_string *cfg_get_string(const char *name, void *privdata)
{
    (void)privdata;
    return cfg_string_slot(name)->val;
}

static int cfg_set_string(const char *name, km_string *val, void *privdata, km_string **err)
{
    (void)privdata;
    size_t len;
    const char *p = str_of(val, &len);
    cfg_note("set %s %.*s", name, (int)len, p);
    if (arg_is(val, "bad")) {
        *err = RedisModule_CreateString(NULL, "the value bad is refused", 24);
        return KM_ERR;
    }
    cfg_string *c = cfg_string_slot(name);
    if (c->val)
        RedisModule_FreeString(NULL, c->val);
    c->val = RedisModule_CreateString(NULL, p, len); /* val is freed after the call */
    return KM_OK;
}

static int cfg_get_int(const char *name, void *privdata)
{
    (void)privdata;
    return *cfg_int_slot(name);
}

static int cfg_set_int(const char *name, int val, void *privdata, km_string **err)
{
    (void)privdata;
    (void)err;
    cfg_note("set %s %d", name, val);
    *cfg_int_slot(name) = val;
    return KM_OK;
}

static long long cfg_get_numeric(const char *name, void *privdata)
{
    (void)privdata;
    return *cfg_numeric_slot(name);
}

static int cfg_set_numeric(const char *name, long long val, void *privdata, km_string **err)
{
    (void)privdata;
    cfg_note("set %s %lld", name, val);
    if (val == 13) {
        *err = RedisModule_CreateString(NULL, "13 is unlucky", 13);
        return KM_ERR;
    }
    *cfg_numeric_slot(name) = val;
    return KM_OK;
}

static int cfg_apply(km_ctx *ctx, void *privdata, km_string **err)
{
    (void)ctx;
    int which_a = privdata == &cfg_apply_a;
    cfg_note("apply %s", which_a ? "a" : privdata == &cfg_apply_b ? "b" : "?");
    if (which_a && cfg_num == 666) {
        *err = RedisModule_CreateString(NULL, "apply refused 666", 17);
        return KM_ERR;
    }
    return KM_OK;
}

static void cfg_registered_note(const char *name, int rc, int err)
{
    size_t used = strlen(cfg_registered);
    snprintf(cfg_registered + used, sizeof(cfg_registered) - used, "%s%s %s %s", used ? "," : "", name,
             rc == KM_OK ? "ok" : "err",
             rc == KM_OK       ? "-"
             : err == EINVAL   ? "EINVAL"
             : err == EALREADY ? "EALREADY"
             : err == EBUSY    ? "EBUSY"
                               : "other");
}

static const char *mode_names[] = {"low", "mid", "high"};
static int prop_skip_load_configs; /* see "API coverage: propagation and ACL" */
static const int mode_values[] = {1, 2, 4};
static const char *bits_names[] = {"a", "b", "c"};
static const int bits_values[] = {1, 2, 4};

/* Registers the configs above, then a few the server must refuse (their
 * answers go to cfg_registered too), then LoadConfigs. Returns
 * LoadConfigs's answer (KM_OK when the server lacks the API). */
static int register_configs(km_ctx *ctx)
{
    cfg_registered[0] = '\0';
    cfg_log_reset(); /* the log starts with what LoadConfigs does */
    if (!RedisModule_RegisterStringConfig || !RedisModule_RegisterBoolConfig || !RedisModule_RegisterNumericConfig ||
        !RedisModule_RegisterEnumConfig || !RedisModule_LoadConfigs)
        return KM_OK;
    int rc;
#define REG(name, call)                                                                                                \
    do {                                                                                                               \
        errno = 0;                                                                                                     \
        rc = (call);                                                                                                   \
        cfg_registered_note(name, rc, errno);                                                                          \
    } while (0)
    REG("str", RedisModule_RegisterStringConfig(ctx, "str", "hello", TM_CONFIG_DEFAULT, cfg_get_string, cfg_set_string,
                                                NULL, NULL));
    REG("fixed", RedisModule_RegisterStringConfig(ctx, "fixed", "stone", TM_CONFIG_IMMUTABLE, cfg_get_string,
                                                  cfg_set_string, NULL, NULL));
    REG("secret", RedisModule_RegisterStringConfig(ctx, "secret", "pw", TM_CONFIG_SENSITIVE, cfg_get_string,
                                                   cfg_set_string, NULL, NULL));
    REG("flag",
        RedisModule_RegisterBoolConfig(ctx, "flag", 1, TM_CONFIG_DEFAULT, cfg_get_int, cfg_set_int, NULL, NULL));
    REG("noload",
        RedisModule_RegisterBoolConfig(ctx, "noload", 0, TM_CONFIG_DENY_LOADING, cfg_get_int, cfg_set_int, NULL, NULL));
    REG("num", RedisModule_RegisterNumericConfig(ctx, "num", 10, TM_CONFIG_DEFAULT, -5, 1000, cfg_get_numeric,
                                                 cfg_set_numeric, cfg_apply, &cfg_apply_a));
    REG("mem", RedisModule_RegisterNumericConfig(ctx, "mem", 1024, TM_CONFIG_MEMORY, 0, 1LL << 40, cfg_get_numeric,
                                                 cfg_set_numeric, cfg_apply, &cfg_apply_a));
    REG("hidden", RedisModule_RegisterNumericConfig(ctx, "hidden", 7, TM_CONFIG_HIDDEN, 0, 100, cfg_get_numeric,
                                                    cfg_set_numeric, NULL, NULL));
    REG("prot", RedisModule_RegisterNumericConfig(ctx, "prot", 1, TM_CONFIG_PROTECTED, 0, 100, cfg_get_numeric,
                                                  cfg_set_numeric, NULL, NULL));
    REG("mode", RedisModule_RegisterEnumConfig(ctx, "mode", 2, TM_CONFIG_DEFAULT, mode_names, mode_values, 3,
                                               cfg_get_int, cfg_set_int, cfg_apply, &cfg_apply_b));
    REG("bits", RedisModule_RegisterEnumConfig(ctx, "bits", 5, TM_CONFIG_BITFLAGS, bits_names, bits_values, 3,
                                               cfg_get_int, cfg_set_int, NULL, NULL));
    /* A name taken and a name with a character other than letters, digits
     * and dashes: refused. MEMORY on a string config: accepted. */
    REG("num(again)", RedisModule_RegisterNumericConfig(ctx, "num", 1, TM_CONFIG_DEFAULT, 0, 10, cfg_get_numeric,
                                                        cfg_set_numeric, NULL, NULL));
    REG("bad name",
        RedisModule_RegisterBoolConfig(ctx, "bad name", 1, TM_CONFIG_DEFAULT, cfg_get_int, cfg_set_int, NULL, NULL));
    REG("str-memory", RedisModule_RegisterStringConfig(ctx, "strmem", "x", TM_CONFIG_MEMORY, cfg_get_string,
                                                       cfg_set_string, NULL, NULL));
#undef REG
    if (prop_skip_load_configs)
        return KM_OK; /* "propnoloadcfg": the server must refuse the load */
    errno = 0;
    rc = RedisModule_LoadConfigs(ctx);
    cfg_registered_note("LoadConfigs", rc, errno);
    return rc;
}

/* tm.config log|reset|values|registered:
 *   log:        the setter and apply calls since the last reset ("set
 *               <name as the callback got it> <value>", "apply a|b");
 *   reset:      empties that log: OK;
 *   values:     what the module holds: [str, fixed, secret, flag, noload,
 *               num, mem, hidden, prot, mode, bits];
 *   registered: the Register*Config and LoadConfigs answers at load, as
 *               "name ok|err errno" joined by commas. */
static int cmd_config(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, CONFIG_APIS))
        return KM_OK;
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    if (arg_is(argv[1], "log")) {
        RedisModule_ReplyWithArray(ctx, (long)cfg_log_count);
        for (size_t i = 0; i < cfg_log_count; i++)
            RedisModule_ReplyWithCString(ctx, cfg_log[i]);
        return KM_OK;
    }
    if (arg_is(argv[1], "reset")) {
        cfg_log_reset();
        return RedisModule_ReplyWithSimpleString(ctx, "OK");
    }
    if (arg_is(argv[1], "registered"))
        return RedisModule_ReplyWithCString(ctx, cfg_registered);
    if (arg_is(argv[1], "values")) {
        RedisModule_ReplyWithArray(ctx, 11);
        cfg_string *strs[] = {&cfg_str, &cfg_fixed, &cfg_secret};
        for (int i = 0; i < 3; i++) {
            if (strs[i]->val)
                RedisModule_ReplyWithString(ctx, strs[i]->val);
            else
                RedisModule_ReplyWithNull(ctx);
        }
        RedisModule_ReplyWithLongLong(ctx, cfg_flag);
        RedisModule_ReplyWithLongLong(ctx, cfg_noload);
        RedisModule_ReplyWithLongLong(ctx, cfg_num);
        RedisModule_ReplyWithLongLong(ctx, cfg_mem);
        RedisModule_ReplyWithLongLong(ctx, cfg_hidden);
        RedisModule_ReplyWithLongLong(ctx, cfg_prot);
        RedisModule_ReplyWithLongLong(ctx, cfg_mode);
        return RedisModule_ReplyWithLongLong(ctx, cfg_bits);
    }
    return RedisModule_ReplyWithError(ctx, "ERR syntax: tm.config log|reset|values|registered");
}

static void configs_free(void)
{
    cfg_string *strs[] = {&cfg_str, &cfg_fixed, &cfg_secret, &cfg_strmem};
    for (int i = 0; i < 4; i++) {
        if (strs[i]->val)
            RedisModule_FreeString(NULL, strs[i]->val);
        strs[i]->val = NULL;
    }
    cfg_log_reset();
}

/* ------------------------------------------------------------------ command metadata */

#define CMDINFO_APIS "GetCommand CreateSubcommand SetCommandInfo"

/* tm.container sub1 key / tm.container sub2 key1 key2: [the subcommand's
 * name as called, argc] */
static int cmd_container_sub(km_ctx *ctx, km_string **argv, int argc)
{
    RedisModule_ReplyWithArray(ctx, 2);
    RedisModule_ReplyWithString(ctx, argv[1]);
    return RedisModule_ReplyWithLongLong(ctx, argc);
}

/* tm.described key [COUNT n] [STORE dest] [FAST|SLOW] and tm.keynum
 * numkeys key [key ...]: their arguments, as given (the server checked
 * the arity declared in their command info). */
static int cmd_echo_args(km_ctx *ctx, km_string **argv, int argc)
{
    RedisModule_ReplyWithArray(ctx, argc);
    for (int i = 0; i < argc; i++)
        RedisModule_ReplyWithString(ctx, argv[i]);
    return KM_OK;
}

/* tm.described's command info: everything a version 1 info holds. */
static tm_cmd_history described_history[] = {
    {"1.2.4", "Added the `COUNT` argument."},
    {"2.0.0", "Added the `STORE` and `FAST`/`SLOW` arguments."},
    {NULL, NULL},
};
static tm_cmd_keyspec described_keyspecs[] = {
    {.notes = "the key read",
     .flags = TM_CMD_KEY_RO | TM_CMD_KEY_ACCESS,
     .begin_search_type = TM_KSPEC_BS_INDEX,
     .bs.index.pos = 1,
     .find_keys_type = TM_KSPEC_FK_RANGE,
     .fk.range = {0, 1, 0}},
    {.flags = TM_CMD_KEY_OW | TM_CMD_KEY_UPDATE,
     .begin_search_type = TM_KSPEC_BS_KEYWORD,
     .bs.keyword = {"STORE", 2},
     .find_keys_type = TM_KSPEC_FK_RANGE,
     .fk.range = {0, 1, 0}},
    {0},
};
static tm_cmd_arg described_mode_args[] = {
    {.name = "fast", .type = TM_ARG_TYPE_PURE_TOKEN, .key_spec_index = -1, .token = "FAST"},
    {.name = "slow", .type = TM_ARG_TYPE_PURE_TOKEN, .key_spec_index = -1, .token = "SLOW", .since = "2.0.0"},
    {0},
};
static tm_cmd_arg described_args[] = {
    {.name = "key", .type = TM_ARG_TYPE_KEY, .key_spec_index = 0, .summary = "the key to read"},
    {.name = "count",
     .type = TM_ARG_TYPE_INTEGER,
     .key_spec_index = -1,
     .token = "COUNT",
     .since = "1.2.4",
     .flags = TM_CMD_ARG_OPTIONAL},
    {.name = "dest",
     .type = TM_ARG_TYPE_KEY,
     .key_spec_index = 1,
     .token = "STORE",
     .since = "2.0.0",
     .flags = TM_CMD_ARG_OPTIONAL},
    {.name = "mode",
     .type = TM_ARG_TYPE_ONEOF,
     .key_spec_index = -1,
     .flags = TM_CMD_ARG_OPTIONAL,
     .deprecated_since = "3.0.0",
     .subargs = described_mode_args},
    {.name = "extra",
     .type = TM_ARG_TYPE_STRING,
     .key_spec_index = -1,
     .flags = TM_CMD_ARG_OPTIONAL | TM_CMD_ARG_MULTIPLE},
    {0},
};
static tm_cmd_info described_info = {
    .version = &tm_cmd_info_v1,
    .summary = "Reads a key, maybe stores it.",
    .complexity = "O(N) where N is the count",
    .since = "1.0.0",
    .history = described_history,
    .tips = "nondeterministic_output request_policy:all_shards",
    .arity = -2,
    .key_specs = described_keyspecs,
    .args = described_args,
};

/* tm.container sub2: two keys from argument 2, arity 4. */
static tm_cmd_keyspec sub2_keyspecs[] = {
    {.flags = TM_CMD_KEY_RW | TM_CMD_KEY_INSERT,
     .begin_search_type = TM_KSPEC_BS_INDEX,
     .bs.index.pos = 2,
     .find_keys_type = TM_KSPEC_FK_RANGE,
     .fk.range = {1, 1, 0}},
    {0},
};
static tm_cmd_info sub2_info = {
    .version = &tm_cmd_info_v1,
    .summary = "The second subcommand.",
    .arity = 4,
    .key_specs = sub2_keyspecs,
};

/* tm.keynum numkeys key...: the keys counted by argument 1. The command is
 * created with the legacy (first, last, step) 2, 2, 1, which the info may
 * still replace. */
static tm_cmd_keyspec keynum_keyspecs[] = {
    {.flags = TM_CMD_KEY_RO | TM_CMD_KEY_ACCESS,
     .begin_search_type = TM_KSPEC_BS_INDEX,
     .bs.index.pos = 1,
     .find_keys_type = TM_KSPEC_FK_KEYNUM,
     .fk.keynum = {0, 1, 1}},
    {0},
};
static tm_cmd_info keynum_info = {.version = &tm_cmd_info_v1, .arity = -3, .key_specs = keynum_keyspecs};

/* What the metadata calls OnLoad makes answered, "what ok|err [errno]"
 * joined by commas (tm.cmdinfo log); SetCommandInfo's errno only. */
static char cmdinfo_log[2048];

static void cmdinfo_note(const char *what, int rc, int err)
{
    size_t used = strlen(cmdinfo_log);
    const char *e = rc == KM_OK || err < 0 ? "" : err == EINVAL ? " EINVAL" : err == EEXIST ? " EEXIST" : " other";
    snprintf(cmdinfo_log + used, sizeof(cmdinfo_log) - used, "%s%s %s%s", used ? "," : "", what,
             rc == KM_OK ? "ok" : "err", e);
}

/* Invalid infos SetCommandInfo must refuse (each on tm.badinfo), then a
 * valid one, then the valid one again. */
static void try_bad_infos(tm_command *cmd)
{
    static tm_cmd_history no_changes[] = {{"1.0.0", NULL}, {NULL, NULL}};
    static tm_cmd_keyspec two_access[] = {
        {.flags = TM_CMD_KEY_RO | TM_CMD_KEY_RW, .begin_search_type = TM_KSPEC_BS_INDEX, .bs.index.pos = 1}, {0}};
    static tm_cmd_keyspec no_access[] = {
        {.flags = TM_CMD_KEY_ACCESS, .begin_search_type = TM_KSPEC_BS_INDEX, .bs.index.pos = 1}, {0}};
    static tm_cmd_keyspec two_writes[] = {{.flags = TM_CMD_KEY_RW | TM_CMD_KEY_INSERT | TM_CMD_KEY_DELETE,
                                           .begin_search_type = TM_KSPEC_BS_INDEX,
                                           .bs.index.pos = 1},
                                          {0}};
    static tm_cmd_keyspec no_keyword[] = {
        {.flags = TM_CMD_KEY_RO, .begin_search_type = TM_KSPEC_BS_KEYWORD, .bs.keyword = {NULL, 1}}, {0}};
    static tm_cmd_keyspec bad_bs[] = {{.flags = TM_CMD_KEY_RO, .begin_search_type = 7}, {0}};
    static tm_cmd_keyspec bad_fk[] = {
        {.flags = TM_CMD_KEY_RO, .begin_search_type = TM_KSPEC_BS_INDEX, .bs.index.pos = 1, .find_keys_type = 9}, {0}};
    static tm_cmd_arg bad_type[] = {{.name = "x", .type = 42, .key_spec_index = -1}, {0}};
    static tm_cmd_arg token_missing[] = {{.name = "x", .type = TM_ARG_TYPE_PURE_TOKEN, .key_spec_index = -1}, {0}};
    static tm_cmd_arg key_no_spec[] = {{.name = "x", .type = TM_ARG_TYPE_KEY, .key_spec_index = -1}, {0}};
    static tm_cmd_arg spec_not_key[] = {{.name = "x", .type = TM_ARG_TYPE_STRING, .key_spec_index = 3}, {0}};
    static tm_cmd_arg bad_flags[] = {{.name = "x", .type = TM_ARG_TYPE_STRING, .key_spec_index = -1, .flags = 1 << 5},
                                     {0}};
    static tm_cmd_arg oneof_empty[] = {{.name = "x", .type = TM_ARG_TYPE_ONEOF, .key_spec_index = -1}, {0}};
    static tm_cmd_arg string_subargs[] = {
        {.name = "x", .type = TM_ARG_TYPE_STRING, .key_spec_index = -1, .subargs = bad_flags}, {0}};
    static tm_cmd_arg nested_bad[] = {
        {.name = "x", .type = TM_ARG_TYPE_BLOCK, .key_spec_index = -1, .subargs = token_missing}, {0}};
    const struct {
        const char *what;
        tm_cmd_info info;
    } cases[] = {
        {"no-version", {.version = NULL, .summary = "x"}},
        {"history-without-changes", {.version = &tm_cmd_info_v1, .history = no_changes}},
        {"keyspec-ro-and-rw", {.version = &tm_cmd_info_v1, .key_specs = two_access}},
        {"keyspec-no-ro-rw-ow-rm", {.version = &tm_cmd_info_v1, .key_specs = no_access}},
        {"keyspec-insert-and-delete", {.version = &tm_cmd_info_v1, .key_specs = two_writes}},
        {"keyspec-keyword-null", {.version = &tm_cmd_info_v1, .key_specs = no_keyword}},
        {"keyspec-bs-7", {.version = &tm_cmd_info_v1, .key_specs = bad_bs}},
        {"keyspec-fk-9", {.version = &tm_cmd_info_v1, .key_specs = bad_fk}},
        {"arg-type-42", {.version = &tm_cmd_info_v1, .args = bad_type}},
        {"arg-pure-token-without-token", {.version = &tm_cmd_info_v1, .args = token_missing}},
        {"arg-key-without-spec", {.version = &tm_cmd_info_v1, .args = key_no_spec}},
        {"arg-spec-not-key", {.version = &tm_cmd_info_v1, .args = spec_not_key}},
        {"arg-bad-flags", {.version = &tm_cmd_info_v1, .args = bad_flags}},
        {"arg-oneof-without-subargs", {.version = &tm_cmd_info_v1, .args = oneof_empty}},
        {"arg-string-with-subargs", {.version = &tm_cmd_info_v1, .args = string_subargs}},
        {"arg-nested-invalid", {.version = &tm_cmd_info_v1, .args = nested_bad}},
        {"valid", {.version = &tm_cmd_info_v1, .summary = "Every earlier info was refused.", .arity = 2}},
        {"valid-again", {.version = &tm_cmd_info_v1, .summary = "A second info.", .arity = 3}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        errno = 0;
        int rc = RedisModule_SetCommandInfo(cmd, &cases[i].info);
        cmdinfo_note(cases[i].what, rc, errno);
    }
}

/* Creates tm.container (sub1, sub2), tm.described, tm.keynum and
 * tm.badinfo; the answers that are not OK go into cmdinfo_log. Returns
 * KM_ERR when a command cannot be created at all. */
static int register_command_metadata(km_ctx *ctx)
{
    cmdinfo_log[0] = '\0';
    if (!RedisModule_GetCommand || !RedisModule_CreateSubcommand || !RedisModule_SetCommandInfo)
        return KM_OK;
    if (RedisModule_CreateCommand(ctx, "tm.container", NULL, "", 0, 0, 0) != KM_OK ||
        RedisModule_CreateCommand(ctx, "tm.described", cmd_echo_args, "readonly", 0, 0, 0) != KM_OK ||
        RedisModule_CreateCommand(ctx, "tm.keynum", cmd_echo_args, "readonly", 2, 2, 1) != KM_OK ||
        RedisModule_CreateCommand(ctx, "tm.badinfo", cmd_echo_args, "readonly fast", 0, 0, 0) != KM_OK)
        return KM_ERR;
    tm_command *container = RedisModule_GetCommand(ctx, "tm.container");
    if (!container)
        return KM_ERR;
    int rc;
    rc = RedisModule_CreateSubcommand(container, "sub1", cmd_container_sub, "readonly fast", 2, 2, 1);
    cmdinfo_note("create-sub1", rc, -1);
    rc = RedisModule_CreateSubcommand(container, "sub2", cmd_container_sub, "write", 0, 0, 0);
    cmdinfo_note("create-sub2", rc, -1);
    rc = RedisModule_CreateSubcommand(container, "sub1", cmd_container_sub, "readonly", 0, 0, 0);
    cmdinfo_note("create-sub1-again", rc, -1);
    tm_command *sub1 = RedisModule_GetCommand(ctx, "tm.container|sub1");
    rc = sub1 ? RedisModule_CreateSubcommand(sub1, "deeper", cmd_container_sub, "", 0, 0, 0) : -1;
    cmdinfo_note("create-sub1-deeper", rc, -1);
    tm_command *described = RedisModule_GetCommand(ctx, "tm.described");
    rc = RedisModule_CreateSubcommand(described, "sub", cmd_container_sub, "", 0, 0, 0);
    cmdinfo_note("create-sub-of-described", rc, -1);
    tm_command *sub2 = RedisModule_GetCommand(ctx, "tm.container|sub2");
    rc = sub2 ? RedisModule_SetCommandInfo(sub2, &sub2_info) : -1;
    cmdinfo_note("info-sub2", rc, errno);
    rc = RedisModule_SetCommandInfo(described, &described_info);
    cmdinfo_note("info-described", rc, errno);
    rc = RedisModule_SetCommandInfo(RedisModule_GetCommand(ctx, "tm.keynum"), &keynum_info);
    cmdinfo_note("info-keynum", rc, errno);
    try_bad_infos(RedisModule_GetCommand(ctx, "tm.badinfo"));
    return KM_OK;
}

/* tm.cmdinfo log: what the metadata calls at load answered ("what ok|err
 * [errno]", joined by commas); tm.cmdinfo get <name>: 1 when GetCommand
 * finds name, else 0. */
static int cmd_cmdinfo(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, CMDINFO_APIS))
        return KM_OK;
    if (argc == 2 && arg_is(argv[1], "log"))
        return RedisModule_ReplyWithCString(ctx, cmdinfo_log);
    if (argc == 3 && arg_is(argv[1], "get")) {
        char *name = arg_dup(argv[2]);
        tm_command *cmd = RedisModule_GetCommand(ctx, name);
        RedisModule_Free(name);
        return RedisModule_ReplyWithLongLong(ctx, cmd != NULL);
    }
    if (argc != 2 && argc != 3)
        return RedisModule_WrongArity(ctx);
    return RedisModule_ReplyWithError(ctx, "ERR syntax: tm.cmdinfo log | get <name>");
}

/* ------------------------------------------------------------------ API coverage: the second batch */

/* Commands for the API functions the sections above leave out: the side
 * calls of blocked clients (AbortBlock, what the reply, timeout, free and
 * disconnect callbacks' contexts say), TryLock and detached thread-safe
 * contexts, the typed CallReply readers, more strings, replies and key
 * calls, ModuleTypeReplaceValue, a second data type (testtype2) whose
 * callbacks read their IO (key name, context, errors), keyspace events,
 * timers, SelectDb, random bytes, a getkeys-api command, PoolAlloc,
 * Replicate and the cluster answers. Their functions have a table of
 * their own (TM_API2), fetched in OnLoad like the first. */

typedef void (*tm_disconnect_fn)(km_ctx *ctx, km_blocked *bc);
typedef void (*tm_cluster_msg_fn)(km_ctx *ctx, const char *sender_id, uint8_t type, const unsigned char *payload,
                                  uint32_t len);

/* REDISMODULE_CLUSTER_FLAG_NO_FAILOVER, ..._NO_REDIRECTION */
#define TM_CLUSTER_FLAG_NO_FAILOVER (1 << 1)
#define TM_CLUSTER_FLAG_NO_REDIRECTION (1 << 2)

#define TM_API2(X)                                                                                                     \
    X(int, AbortBlock, (km_blocked * bc))                                                                              \
    X(int, BlockedClientDisconnected, (km_ctx * ctx))                                                                  \
    X(km_blocked *, GetBlockedClientHandle, (km_ctx * ctx))                                                            \
    X(int, IsBlockedReplyRequest, (km_ctx * ctx))                                                                      \
    X(int, IsBlockedTimeoutRequest, (km_ctx * ctx))                                                                    \
    X(void, SetDisconnectCallback, (km_blocked * bc, tm_disconnect_fn callback))                                       \
    X(int, ThreadSafeContextTryLock, (km_ctx * ctx))                                                                   \
    X(km_ctx *, GetDetachedThreadSafeContext, (km_ctx * ctx))                                                          \
    X(const char *, CallReplyBigNumber, (km_call_reply * reply, size_t * len))                                         \
    X(int, CallReplyBool, (km_call_reply * reply))                                                                     \
    X(double, CallReplyDouble, (km_call_reply * reply))                                                                \
    X(int, CallReplyMapElement, (km_call_reply * reply, size_t idx, km_call_reply * *key, km_call_reply * *val))       \
    X(const char *, CallReplyProto, (km_call_reply * reply, size_t * len))                                             \
    X(km_call_reply *, CallReplySetElement, (km_call_reply * reply, size_t idx))                                       \
    X(const char *, CallReplyVerbatim, (km_call_reply * reply, size_t * len, const char **format))                     \
    X(km_string *, CreateStringFromCallReply, (km_call_reply * reply))                                                 \
    X(km_string *, CreateStringFromDouble, (km_ctx * ctx, double d))                                                   \
    X(km_string *, HoldString, (km_ctx * ctx, km_string * str))                                                        \
    X(void, RetainString, (km_ctx * ctx, km_string * str))                                                             \
    X(void, TrimStringAllocation, (km_string * str))                                                                   \
    X(int, ReplyWithLongDouble, (km_ctx * ctx, long double ld))                                                        \
    X(int, ReplyWithVerbatimStringType, (km_ctx * ctx, const char *buf, size_t len, const char *ext))                  \
    X(void, ReplySetMapLength, (km_ctx * ctx, long len))                                                               \
    X(void, ReplySetSetLength, (km_ctx * ctx, long len))                                                               \
    X(long long, GetAbsExpire, (km_key * key))                                                                         \
    X(int, SetAbsExpire, (km_key * key, long long when))                                                               \
    X(int, KeyExists, (km_ctx * ctx, km_string * name))                                                                \
    X(int, UnlinkKey, (km_key * key))                                                                                  \
    X(int, StringTruncate, (km_key * key, size_t newlen))                                                              \
    X(int, ZsetIncrby, (km_key * key, double score, km_string *ele, int *flags, double *newscore))                     \
    X(int, ZsetRem, (km_key * key, km_string * ele, int *deleted))                                                     \
    X(int, ModuleTypeReplaceValue, (km_key * key, km_type * mt, void *value, void **old))                              \
    X(km_string *, GetKeyNameFromModuleKey, (km_key * key))                                                            \
    X(km_ctx *, GetContextFromIO, (km_io * io))                                                                        \
    X(const km_string *, GetKeyNameFromIO, (km_io * io))                                                               \
    X(int, IsIOError, (km_io * io))                                                                                    \
    X(void, LogIOError, (km_io * io, const char *level, const char *fmt, ...))                                         \
    X(int, SubscribeToKeyspaceEvents, (km_ctx * ctx, int types, km_notify_fn callback))                                \
    X(int, NotifyKeyspaceEvent, (km_ctx * ctx, int type, const char *event, km_string *key))                           \
    X(int, GetNotifyKeyspaceEvents, (void))                                                                            \
    X(int, GetTimerInfo, (km_ctx * ctx, km_timer_id id, uint64_t * remaining, void **data))                            \
    X(int, StopTimer, (km_ctx * ctx, km_timer_id id, void **data))                                                     \
    X(int, SelectDb, (km_ctx * ctx, int id))                                                                           \
    X(int, GetSelectedDb, (km_ctx * ctx))                                                                              \
    X(void, GetRandomBytes, (unsigned char *dst, size_t len))                                                          \
    X(void, GetRandomHexChars, (char *dst, size_t len))                                                                \
    X(int, IsKeysPositionRequest, (km_ctx * ctx))                                                                      \
    X(void, KeyAtPos, (km_ctx * ctx, int pos))                                                                         \
    X(void *, PoolAlloc, (km_ctx * ctx, size_t bytes))                                                                 \
    X(int, Replicate, (km_ctx * ctx, const char *cmdname, const char *fmt, ...))                                       \
    X(size_t, GetClusterSize, (void))                                                                                  \
    X(const char *, GetMyClusterID, (void))                                                                            \
    X(char **, GetClusterNodesList, (km_ctx * ctx, size_t * numnodes))                                                 \
    X(void, FreeClusterNodesList, (char **ids))                                                                        \
    X(int, GetClusterNodeInfo, (km_ctx * ctx, const char *id, char *ip, char *master_id, int *port, int *flags))       \
    X(void, SetClusterFlags, (km_ctx * ctx, uint64_t flags))                                                           \
    X(void, RegisterClusterMessageReceiver, (km_ctx * ctx, uint8_t type, tm_cluster_msg_fn callback))                  \
    X(int, SendClusterMessage, (km_ctx * ctx, const char *target_id, uint8_t type, const char *msg, uint32_t len))

#define TM_DECLARE2(ret, name, params) static ret(*RedisModule_##name) params;
TM_API2(TM_DECLARE2)
#undef TM_DECLARE2

/* A log of short lines the tests read back and clear (tm.bc log, tm.t2
 * log, tm.notify log). Threads write the blocked clients' one, so it locks. */
#define TM_LOG_LINES 32
typedef struct {
    pthread_mutex_t lock;
    char lines[TM_LOG_LINES][200];
    int n;
} tm_log;

static tm_log bc_log = {PTHREAD_MUTEX_INITIALIZER, {{0}}, 0};
static tm_log io_log = {PTHREAD_MUTEX_INITIALIZER, {{0}}, 0};
static tm_log ks_log = {PTHREAD_MUTEX_INITIALIZER, {{0}}, 0};

static void log_add(tm_log *l, const char *fmt, ...)
{
    pthread_mutex_lock(&l->lock);
    if (l->n < TM_LOG_LINES) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(l->lines[l->n++], sizeof(l->lines[0]), fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&l->lock);
}

/* Replies the lines logged so far and empties the log. */
static int log_reply(km_ctx *ctx, tm_log *l)
{
    pthread_mutex_lock(&l->lock);
    RedisModule_ReplyWithArray(ctx, l->n);
    for (int i = 0; i < l->n; i++)
        RedisModule_ReplyWithCString(ctx, l->lines[i]);
    l->n = 0;
    pthread_mutex_unlock(&l->lock);
    return KM_OK;
}

/* ---- blocked clients */

#define BC_APIS                                                                                                        \
    "AbortBlock BlockedClientDisconnected GetBlockedClientHandle IsBlockedReplyRequest IsBlockedTimeoutRequest "       \
    "SetDisconnectCallback"

typedef struct {
    km_blocked *bc;
    long long ms;
    int abort; /* answer through a thread-safe context, then AbortBlock */
    char value[32];
} tm_bc_job;

static km_blocked *bc_last; /* the handle tm.bc made last */

/* What a context says the blocked client it serves is. */
static const char *handle_of(km_ctx *ctx)
{
    km_blocked *h = RedisModule_GetBlockedClientHandle(ctx);
    return h == NULL ? "null" : h == bc_last ? "bc" : "other";
}

static int bc_on_reply(km_ctx *ctx, km_string **argv, int argc)
{
    (void)argv;
    (void)argc;
    tm_bc_job *job = RedisModule_GetBlockedClientPrivateData(ctx);
    log_add(&bc_log, "reply reply=%d timeout=%d handle=%s privdata=%s", RedisModule_IsBlockedReplyRequest(ctx),
            RedisModule_IsBlockedTimeoutRequest(ctx), handle_of(ctx), job ? job->value : "null");
    return RedisModule_ReplyWithCString(ctx, job ? job->value : "no privdata");
}

static int bc_on_timeout(km_ctx *ctx, km_string **argv, int argc)
{
    (void)argv;
    (void)argc;
    log_add(&bc_log, "timeout reply=%d timeout=%d handle=%s privdata=%s", RedisModule_IsBlockedReplyRequest(ctx),
            RedisModule_IsBlockedTimeoutRequest(ctx), handle_of(ctx),
            RedisModule_GetBlockedClientPrivateData(ctx) ? "set" : "null");
    return RedisModule_ReplyWithError(ctx, "ERR tm.bc timed out");
}

static void bc_on_free(km_ctx *ctx, void *privdata)
{
    void *p = RedisModule_GetBlockedClientPrivateData(ctx);
    log_add(&bc_log, "free disconnected=%d handle=%s privdata=%s", RedisModule_BlockedClientDisconnected(ctx),
            handle_of(ctx),
            p == privdata ? "same"
            : p           ? "other"
                          : "null");
    RedisModule_Free(privdata);
}

static void bc_on_disconnect(km_ctx *ctx, km_blocked *bc)
{
    log_add(&bc_log, "disconnect disconnected=%d handle=%s arg=%s", RedisModule_BlockedClientDisconnected(ctx),
            handle_of(ctx), bc == bc_last ? "bc" : "other");
}

static void *bc_thread(void *arg)
{
    tm_bc_job *job = arg;
    sleep_ms(job->ms);
    if (!job->abort) {
        RedisModule_UnblockClient(job->bc, job);
        return NULL;
    }
    km_blocked *bc = job->bc;
    RedisModule_Free(job);
    km_ctx *tctx = RedisModule_GetThreadSafeContext(bc);
    RedisModule_ReplyWithCString(tctx, "from the thread");
    RedisModule_FreeThreadSafeContext(tctx);
    RedisModule_AbortBlock(bc);
    return NULL;
}

/* tm.bc reply|abort|now ms [timeout_ms] | tm.bc log: blocks the client
 * with a disconnect callback. A thread sleeps ms, then ("reply") unblocks
 * it with private data the reply callback answers (the value "done"), or
 * ("abort") answers through a thread-safe context and calls AbortBlock;
 * "now" calls AbortBlock before the command returns and answers
 * "aborted" itself. Every callback logs what its context says; "log"
 * replies the lines and empties the log. */
static int cmd_bc(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, BC_APIS))
        return KM_OK;
    if (argc == 2 && arg_is(argv[1], "log"))
        return log_reply(ctx, &bc_log);
    if (argc != 3 && argc != 4)
        return RedisModule_WrongArity(ctx);
    long long ms, timeout = 0;
    if (RedisModule_StringToLongLong(argv[2], &ms) != KM_OK || ms < 0 ||
        (argc == 4 && (RedisModule_StringToLongLong(argv[3], &timeout) != KM_OK || timeout < 0)))
        return RedisModule_ReplyWithError(ctx, "ERR invalid milliseconds");
    int now = arg_is(argv[1], "now"), abort = arg_is(argv[1], "abort");
    if (!now && !abort && !arg_is(argv[1], "reply"))
        return RedisModule_ReplyWithError(ctx, "ERR unknown mode");
    km_blocked *bc = RedisModule_BlockClient(ctx, bc_on_reply, bc_on_timeout, bc_on_free, timeout);
    bc_last = bc;
    RedisModule_SetDisconnectCallback(bc, bc_on_disconnect);
    log_add(&bc_log, "command reply=%d timeout=%d handle=%s", RedisModule_IsBlockedReplyRequest(ctx),
            RedisModule_IsBlockedTimeoutRequest(ctx), handle_of(ctx));
    if (now) {
        RedisModule_AbortBlock(bc);
        return RedisModule_ReplyWithSimpleString(ctx, "aborted");
    }
    tm_bc_job *job = RedisModule_Alloc(sizeof(*job));
    job->bc = bc;
    job->ms = ms;
    job->abort = abort;
    snprintf(job->value, sizeof(job->value), "done");
    if (thread_start(bc_thread, job) != 0) {
        RedisModule_Free(job);
        RedisModule_AbortBlock(bc);
        return RedisModule_ReplyWithError(ctx, "ERR pthread_create failed");
    }
    return KM_OK;
}

/* ---- TryLock and detached thread-safe contexts */

typedef struct {
    km_ctx *tctx;
    km_blocked *bc;
    int rc, err;
    long tries;
} tm_lock_job;

static void *trylock_once(void *arg)
{
    tm_lock_job *job = arg;
    errno = 0;
    job->rc = RedisModule_ThreadSafeContextTryLock(job->tctx);
    job->err = errno;
    if (job->rc == KM_OK)
        RedisModule_ThreadSafeContextUnlock(job->tctx);
    return NULL;
}

static int lock_reply(km_ctx *ctx, km_string **argv, int argc)
{
    (void)argv;
    (void)argc;
    tm_lock_job *job = RedisModule_GetBlockedClientPrivateData(ctx);
    RedisModule_ReplyWithArray(ctx, 2);
    RedisModule_ReplyWithSimpleString(ctx, job->rc == KM_OK ? "locked" : "not locked");
    return RedisModule_ReplyWithLongLong(ctx, job->tries > 0);
}

static void lock_free(km_ctx *ctx, void *privdata)
{
    (void)ctx;
    RedisModule_Free(privdata);
}

/* Tries until the lock is free (the main thread waits for events), at
 * most about 5 s, then unblocks the client. */
static void *trylock_until(void *arg)
{
    tm_lock_job *job = arg;
    job->tctx = RedisModule_GetThreadSafeContext(job->bc);
    for (job->tries = 1; job->tries <= 5000; job->tries++) {
        job->rc = RedisModule_ThreadSafeContextTryLock(job->tctx);
        if (job->rc == KM_OK)
            break;
        sleep_ms(1);
    }
    if (job->rc == KM_OK) {
        km_call_reply *r = RedisModule_Call(job->tctx, "INCR", "c", "tm:trylock");
        if (r)
            RedisModule_FreeCallReply(r);
        RedisModule_ThreadSafeContextUnlock(job->tctx);
    }
    RedisModule_FreeThreadSafeContext(job->tctx);
    RedisModule_UnblockClient(job->bc, job);
    return NULL;
}

/* tm.trylock busy: a thread's TryLock while this command holds the lock,
 * [rc, errno name]; tm.trylock idle: blocks the client while a thread
 * tries until it gets the lock (then INCRs tm:trylock), ["locked", 1]. */
static int cmd_trylock(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, "ThreadSafeContextTryLock"))
        return KM_OK;
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    pthread_t tid;
    if (arg_is(argv[1], "busy")) {
        tm_lock_job job = {RedisModule_GetThreadSafeContext(NULL), NULL, -1, 0, 0};
        if (pthread_create(&tid, NULL, trylock_once, &job) != 0)
            return RedisModule_ReplyWithError(ctx, "ERR pthread_create failed");
        pthread_join(tid, NULL);
        RedisModule_FreeThreadSafeContext(job.tctx);
        RedisModule_ReplyWithArray(ctx, 2);
        RedisModule_ReplyWithLongLong(ctx, job.rc);
        return RedisModule_ReplyWithSimpleString(ctx, job.err == EBUSY ? "EBUSY" : job.err ? strerror(job.err) : "0");
    }
    if (!arg_is(argv[1], "idle"))
        return RedisModule_ReplyWithError(ctx, "ERR unknown mode");
    tm_lock_job *job = RedisModule_Calloc(1, sizeof(*job));
    job->rc = -1;
    job->bc = RedisModule_BlockClient(ctx, lock_reply, NULL, lock_free, 0);
    if (thread_start(trylock_until, job) != 0) {
        RedisModule_AbortBlock(job->bc);
        RedisModule_Free(job);
        return RedisModule_ReplyWithError(ctx, "ERR pthread_create failed");
    }
    return KM_OK;
}

typedef struct {
    km_ctx *tctx;
    char *key, *value;
} tm_detached_job;

static void *detached_thread(void *arg)
{
    tm_detached_job *job = arg;
    RedisModule_ThreadSafeContextLock(job->tctx);
    char value[128];
    snprintf(value, sizeof(value), "%s db=%d", job->value, RedisModule_GetSelectedDb(job->tctx));
    km_call_reply *r = RedisModule_Call(job->tctx, "SET", "cc", job->key, value);
    if (r)
        RedisModule_FreeCallReply(r);
    RedisModule_ThreadSafeContextUnlock(job->tctx);
    RedisModule_FreeThreadSafeContext(job->tctx);
    RedisModule_Free(job->key);
    RedisModule_Free(job->value);
    RedisModule_Free(job);
    return NULL;
}

/* tm.detached key value: a thread with a detached thread-safe context
 * (made here) SETs key to "value db=<its selected db>"; replies OK at once. */
static int cmd_detached(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, "GetDetachedThreadSafeContext GetSelectedDb"))
        return KM_OK;
    if (argc != 3)
        return RedisModule_WrongArity(ctx);
    tm_detached_job *job = RedisModule_Alloc(sizeof(*job));
    job->tctx = RedisModule_GetDetachedThreadSafeContext(ctx);
    job->key = arg_dup(argv[1]);
    job->value = arg_dup(argv[2]);
    if (thread_start(detached_thread, job) != 0) {
        RedisModule_FreeThreadSafeContext(job->tctx);
        RedisModule_Free(job->key);
        RedisModule_Free(job->value);
        RedisModule_Free(job);
        return RedisModule_ReplyWithError(ctx, "ERR pthread_create failed");
    }
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

/* ---- the typed CallReply readers */

#define CR_APIS                                                                                                        \
    "CallReplyBigNumber CallReplyBool CallReplyDouble CallReplyMapElement CallReplyProto CallReplySetElement "         \
    "CallReplyVerbatim CreateStringFromCallReply"

/* A reply element as text ("string:abc", "double:1.5", ...), aggregates
 * as arrays headed "array:N" / "set:N" / "map:N" (N from
 * CallReplyLength), read through the reader of their type. */
static void describe_reply(km_ctx *ctx, km_call_reply *r)
{
    if (!r) {
        RedisModule_ReplyWithSimpleString(ctx, "NULL element");
        return;
    }
    int t = RedisModule_CallReplyType(r);
    size_t len = RedisModule_CallReplyLength(r), n = 0;
    char buf[256];
    const char *p;
    if (t == KM_REPLY_ARRAY || t == KM_REPLY_SET) {
        RedisModule_ReplyWithArray(ctx, (long)len + 1);
        snprintf(buf, sizeof(buf), "%s:%zu", t == KM_REPLY_ARRAY ? "array" : "set", len);
        RedisModule_ReplyWithCString(ctx, buf);
        for (size_t i = 0; i < len; i++)
            describe_reply(ctx, t == KM_REPLY_ARRAY ? RedisModule_CallReplyArrayElement(r, i)
                                                    : RedisModule_CallReplySetElement(r, i));
        return;
    }
    if (t == KM_REPLY_MAP) {
        RedisModule_ReplyWithArray(ctx, 2 * (long)len + 1);
        snprintf(buf, sizeof(buf), "map:%zu", len);
        RedisModule_ReplyWithCString(ctx, buf);
        for (size_t i = 0; i < len; i++) {
            km_call_reply *k = NULL, *v = NULL;
            if (RedisModule_CallReplyMapElement(r, i, &k, &v) != KM_OK)
                k = v = NULL;
            describe_reply(ctx, k);
            describe_reply(ctx, v);
        }
        return;
    }
    switch (t) {
    case KM_REPLY_STRING:
    case KM_REPLY_ERROR:
        p = RedisModule_CallReplyStringPtr(r, &n);
        snprintf(buf, sizeof(buf), "%s:%.*s", t == KM_REPLY_STRING ? "string" : "error", (int)n, p);
        break;
    case KM_REPLY_INTEGER: snprintf(buf, sizeof(buf), "integer:%lld", RedisModule_CallReplyInteger(r)); break;
    case KM_REPLY_NULL: snprintf(buf, sizeof(buf), "null"); break;
    case KM_REPLY_BOOL: snprintf(buf, sizeof(buf), "bool:%d", RedisModule_CallReplyBool(r)); break;
    case KM_REPLY_DOUBLE: snprintf(buf, sizeof(buf), "double:%.17g", RedisModule_CallReplyDouble(r)); break;
    case KM_REPLY_BIG_NUMBER:
        p = RedisModule_CallReplyBigNumber(r, &n);
        snprintf(buf, sizeof(buf), "bignumber:%.*s", (int)n, p ? p : "NULL");
        break;
    case KM_REPLY_VERBATIM_STRING: {
        const char *format = NULL;
        p = RedisModule_CallReplyVerbatim(r, &n, &format);
        snprintf(buf, sizeof(buf), "verbatim:%.3s:%.*s", format ? format : "NULL", (int)n, p ? p : "NULL");
        break;
    }
    default: snprintf(buf, sizeof(buf), "type:%d", t);
    }
    size_t used = strlen(buf);
    snprintf(buf + used, sizeof(buf) - used, " len=%zu", len);
    RedisModule_ReplyWithCString(ctx, buf);
}

/* tm.cr 2|3 cmd args...: Call (in RESP3 with "3"), then [the reply
 * described, its CallReplyProto, CreateStringFromCallReply of it (nil
 * when it gives NULL), and what every typed reader answers for it:
 * [Integer, Double (%.17g), Bool, BigNumber, Verbatim, ArrayElement(0),
 * SetElement(0), MapElement(0), MapElement(length)] (pointers as 1/0)]. */
static int cmd_cr(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, CR_APIS))
        return KM_OK;
    if (argc < 3)
        return RedisModule_WrongArity(ctx);
    char *cmd = arg_dup(argv[2]);
    errno = 0;
    km_call_reply *r = RedisModule_Call(ctx, cmd, arg_is(argv[1], "3") ? "3v" : "v", argv + 3, (size_t)(argc - 3));
    RedisModule_Free(cmd);
    if (!r)
        return reply_call_failure(ctx);
    RedisModule_ReplyWithArray(ctx, 4);
    describe_reply(ctx, r);
    size_t plen = 0;
    const char *proto = RedisModule_CallReplyProto(r, &plen);
    RedisModule_ReplyWithStringBuffer(ctx, proto ? proto : "", plen);
    km_string *s = RedisModule_CreateStringFromCallReply(r);
    if (s) {
        RedisModule_ReplyWithString(ctx, s);
        RedisModule_FreeString(ctx, s);
    } else {
        RedisModule_ReplyWithNull(ctx);
    }
    char d[64];
    size_t n;
    const char *format;
    km_call_reply *k, *v;
    RedisModule_ReplyWithArray(ctx, 9);
    RedisModule_ReplyWithLongLong(ctx, RedisModule_CallReplyInteger(r));
    snprintf(d, sizeof(d), "%.17g", RedisModule_CallReplyDouble(r));
    RedisModule_ReplyWithCString(ctx, d);
    RedisModule_ReplyWithLongLong(ctx, RedisModule_CallReplyBool(r));
    RedisModule_ReplyWithLongLong(ctx, RedisModule_CallReplyBigNumber(r, &n) != NULL);
    RedisModule_ReplyWithLongLong(ctx, RedisModule_CallReplyVerbatim(r, &n, &format) != NULL);
    RedisModule_ReplyWithLongLong(ctx, RedisModule_CallReplyArrayElement(r, 0) != NULL);
    RedisModule_ReplyWithLongLong(ctx, RedisModule_CallReplySetElement(r, 0) != NULL);
    RedisModule_ReplyWithLongLong(ctx, RedisModule_CallReplyMapElement(r, 0, &k, &v) == KM_OK);
    RedisModule_ReplyWithLongLong(ctx,
                                  RedisModule_CallReplyMapElement(r, RedisModule_CallReplyLength(r), &k, &v) == KM_OK);
    RedisModule_FreeCallReply(r);
    return KM_OK;
}

/* ---- strings */

static km_string *kept_string; /* what tm.str2 keep ... holds between commands */

/* tm.str2 double <d>: CreateStringFromDouble of StringToDouble(d);
 * tm.str2 retain <v>: (auto memory) a string made, retained, appended
 * "+" to (a retained string is the module's alone) and kept;
 * tm.str2 hold <v>: HoldString(NULL, the argument), kept;
 * tm.str2 holdauto <v>: (auto memory) HoldString(ctx, a new string):
 * [same pointer or copy, its text], both left to the context;
 * tm.str2 get / free: the kept string (nil when none) / FreeString of it;
 * tm.str2 trim <v>: v with 1000 "x" appended, after TrimStringAllocation,
 * and the kept string's text after trimming it too (nil when none). */
static int cmd_str2(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, "CreateStringFromDouble HoldString RetainString TrimStringAllocation"))
        return KM_OK;
    if (argc != 2 && argc != 3)
        return RedisModule_WrongArity(ctx);
    km_string *arg = argc == 3 ? argv[2] : NULL;
    if (arg_is(argv[1], "double") && arg) {
        double d;
        if (RedisModule_StringToDouble(arg, &d) != KM_OK)
            return RedisModule_ReplyWithError(ctx, "ERR not a double");
        km_string *s = RedisModule_CreateStringFromDouble(ctx, d);
        RedisModule_ReplyWithString(ctx, s);
        RedisModule_FreeString(ctx, s);
        return KM_OK;
    }
    if ((arg_is(argv[1], "retain") || arg_is(argv[1], "hold")) && arg) {
        if (kept_string)
            RedisModule_FreeString(NULL, kept_string);
        if (arg_is(argv[1], "hold")) {
            kept_string = RedisModule_HoldString(NULL, arg);
        } else {
            RedisModule_AutoMemory(ctx);
            size_t len;
            const char *p = str_of(arg, &len);
            km_string *s = RedisModule_CreateString(ctx, p, len);
            RedisModule_RetainString(ctx, s);
            RedisModule_StringAppendBuffer(ctx, s, "+", 1);
            kept_string = s;
        }
        return RedisModule_ReplyWithSimpleString(ctx, "OK");
    }
    if (arg_is(argv[1], "holdauto") && arg) {
        RedisModule_AutoMemory(ctx);
        size_t len;
        const char *p = str_of(arg, &len);
        km_string *s = RedisModule_CreateString(ctx, p, len);
        km_string *h = RedisModule_HoldString(ctx, s);
        RedisModule_ReplyWithArray(ctx, 2);
        RedisModule_ReplyWithSimpleString(ctx, h == s ? "same" : "copy");
        return RedisModule_ReplyWithString(ctx, h);
    }
    if (arg_is(argv[1], "get") && !arg)
        return kept_string ? RedisModule_ReplyWithString(ctx, kept_string) : RedisModule_ReplyWithNull(ctx);
    if (arg_is(argv[1], "free") && !arg) {
        if (kept_string)
            RedisModule_FreeString(NULL, kept_string);
        kept_string = NULL;
        return RedisModule_ReplyWithSimpleString(ctx, "OK");
    }
    if (arg_is(argv[1], "trim") && arg) {
        size_t len;
        const char *p = str_of(arg, &len);
        km_string *s = RedisModule_CreateString(NULL, p, len);
        char xs[1000];
        memset(xs, 'x', sizeof(xs));
        RedisModule_StringAppendBuffer(NULL, s, xs, sizeof(xs));
        RedisModule_TrimStringAllocation(s);
        RedisModule_ReplyWithArray(ctx, 2);
        RedisModule_ReplyWithString(ctx, s);
        RedisModule_FreeString(NULL, s);
        if (!kept_string)
            return RedisModule_ReplyWithNull(ctx);
        RedisModule_TrimStringAllocation(kept_string);
        return RedisModule_ReplyWithString(ctx, kept_string);
    }
    return RedisModule_ReplyWithError(ctx, "ERR unknown subcommand");
}

/* ---- replies */

/* tm.reply2 longdouble <v> | verbatim | postmap | postset | postnested:
 * ReplyWithLongDouble(strtold(v)); ReplyWithVerbatimStringType with
 * "mkd"; postponed map, set and nested lengths set by ReplySetMapLength /
 * ReplySetSetLength / ReplySetArrayLength. */
static int cmd_reply2(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, "ReplyWithLongDouble ReplyWithVerbatimStringType ReplySetMapLength ReplySetSetLength"))
        return KM_OK;
    if (argc == 3 && arg_is(argv[1], "longdouble")) {
        char *s = arg_dup(argv[2]);
        long double ld = strtold(s, NULL);
        RedisModule_Free(s);
        return RedisModule_ReplyWithLongDouble(ctx, ld);
    }
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    if (arg_is(argv[1], "verbatim"))
        return RedisModule_ReplyWithVerbatimStringType(ctx, "# title\nbody", 12, "mkd");
    if (arg_is(argv[1], "postmap")) {
        /* {"a": {"x", "y", "z"}, "b": 1} */
        RedisModule_ReplyWithMap(ctx, KM_POSTPONED_LEN);
        RedisModule_ReplyWithCString(ctx, "a");
        RedisModule_ReplyWithSet(ctx, KM_POSTPONED_LEN);
        RedisModule_ReplyWithCString(ctx, "x");
        RedisModule_ReplyWithCString(ctx, "y");
        RedisModule_ReplyWithCString(ctx, "z");
        RedisModule_ReplySetSetLength(ctx, 3);
        RedisModule_ReplyWithCString(ctx, "b");
        RedisModule_ReplyWithLongLong(ctx, 1);
        RedisModule_ReplySetMapLength(ctx, 2);
        return KM_OK;
    }
    if (arg_is(argv[1], "postset")) {
        RedisModule_ReplyWithSet(ctx, KM_POSTPONED_LEN);
        RedisModule_ReplyWithLongLong(ctx, 1);
        RedisModule_ReplyWithLongLong(ctx, 2);
        RedisModule_ReplySetSetLength(ctx, 2);
        return KM_OK;
    }
    if (arg_is(argv[1], "postnested")) {
        /* [{"k": []}, {"m"}] */
        RedisModule_ReplyWithArray(ctx, KM_POSTPONED_LEN);
        RedisModule_ReplyWithMap(ctx, KM_POSTPONED_LEN);
        RedisModule_ReplyWithCString(ctx, "k");
        RedisModule_ReplyWithArray(ctx, KM_POSTPONED_LEN);
        RedisModule_ReplySetArrayLength(ctx, 0);
        RedisModule_ReplySetMapLength(ctx, 1);
        RedisModule_ReplyWithSet(ctx, KM_POSTPONED_LEN);
        RedisModule_ReplyWithCString(ctx, "m");
        RedisModule_ReplySetSetLength(ctx, 1);
        RedisModule_ReplySetArrayLength(ctx, 2);
        return KM_OK;
    }
    return RedisModule_ReplyWithError(ctx, "ERR unknown reply kind");
}

/* ---- the key API */

#define OKEY_APIS                                                                                                      \
    "GetAbsExpire SetAbsExpire KeyExists UnlinkKey StringTruncate ZsetIncrby ZsetRem GetKeyNameFromModuleKey"

/* tm.okey <op> key [args]: one key call on key opened READ|WRITE (a
 * missing key too), or READ only when op ends in ".ro" (nil for a missing
 * key then):
 *   exists: KeyExists (no key opened)     absexpire: GetAbsExpire
 *   setabsexpire <ms>: its result          unlink: [result, KeyType after]
 *   truncate <len>: its result              keyname: [name, same/copy]
 *   zincr <score> <member> [NX|XX|GT|LT]...: [result, out-flags, new score]
 *   zrem <member>: [result, deleted] */
static int cmd_okey(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, OKEY_APIS))
        return KM_OK;
    if (argc < 3)
        return RedisModule_WrongArity(ctx);
    size_t oplen;
    const char *op = str_of(argv[1], &oplen);
    int ro = oplen > 3 && strncasecmp(op + oplen - 3, ".ro", 3) == 0;
    char name[32];
    snprintf(name, sizeof(name), "%.*s", (int)(ro ? oplen - 3 : oplen), op);
    if (strcasecmp(name, "exists") == 0)
        return RedisModule_ReplyWithLongLong(ctx, RedisModule_KeyExists(ctx, argv[2]));
    km_key *key = RedisModule_OpenKey(ctx, argv[2], ro ? KM_READ : KM_READ | KM_WRITE);
    if (!key)
        return RedisModule_ReplyWithNull(ctx);
    long long ll;
    double d;
    if (strcasecmp(name, "absexpire") == 0 && argc == 3) {
        RedisModule_ReplyWithLongLong(ctx, RedisModule_GetAbsExpire(key));
    } else if (strcasecmp(name, "setabsexpire") == 0 && argc == 4 &&
               RedisModule_StringToLongLong(argv[3], &ll) == KM_OK) {
        RedisModule_ReplyWithLongLong(ctx, RedisModule_SetAbsExpire(key, ll));
    } else if (strcasecmp(name, "unlink") == 0 && argc == 3) {
        int rc = RedisModule_UnlinkKey(key);
        RedisModule_ReplyWithArray(ctx, 2);
        RedisModule_ReplyWithLongLong(ctx, rc);
        RedisModule_ReplyWithLongLong(ctx, RedisModule_KeyType(key));
    } else if (strcasecmp(name, "truncate") == 0 && argc == 4 && RedisModule_StringToLongLong(argv[3], &ll) == KM_OK) {
        RedisModule_ReplyWithLongLong(ctx, RedisModule_StringTruncate(key, (size_t)ll));
    } else if (strcasecmp(name, "keyname") == 0 && argc == 3) {
        km_string *kn = RedisModule_GetKeyNameFromModuleKey(key);
        RedisModule_ReplyWithArray(ctx, 2);
        RedisModule_ReplyWithString(ctx, kn);
        RedisModule_ReplyWithSimpleString(ctx, kn == argv[2] ? "same" : "copy");
    } else if (strcasecmp(name, "zincr") == 0 && argc >= 5 && RedisModule_StringToDouble(argv[3], &d) == KM_OK) {
        int flags = 0;
        for (int i = 5; i < argc; i++) {
            flags |= arg_is(argv[i], "NX")   ? KM_ZADD_NX
                     : arg_is(argv[i], "XX") ? KM_ZADD_XX
                     : arg_is(argv[i], "GT") ? KM_ZADD_GT
                     : arg_is(argv[i], "LT") ? KM_ZADD_LT
                                             : 0;
        }
        double newscore = -12345;
        int rc = RedisModule_ZsetIncrby(key, d, argv[4], &flags, &newscore);
        char buf[64];
        snprintf(buf, sizeof(buf), "%.17g", newscore);
        RedisModule_ReplyWithArray(ctx, 3);
        RedisModule_ReplyWithLongLong(ctx, rc);
        RedisModule_ReplyWithLongLong(ctx, flags);
        RedisModule_ReplyWithCString(ctx, buf);
    } else if (strcasecmp(name, "zrem") == 0 && argc == 4) {
        int deleted = -1;
        int rc = RedisModule_ZsetRem(key, argv[3], &deleted);
        RedisModule_ReplyWithArray(ctx, 2);
        RedisModule_ReplyWithLongLong(ctx, rc);
        RedisModule_ReplyWithLongLong(ctx, deleted);
    } else {
        RedisModule_ReplyWithError(ctx, "ERR unknown op or bad arguments");
    }
    RedisModule_CloseKey(key);
    return KM_OK;
}

/* tm.treplace key s: ModuleTypeReplaceValue(key, testtype1, a new value
 * holding one record (0, 0, s)) whatever key holds: [result, the count
 * of records the old value had (it is freed), or -1]. */
static int cmd_treplace(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, "ModuleTypeReplaceValue"))
        return KM_OK;
    if (argc != 3)
        return RedisModule_WrongArity(ctx);
    if (!tm_type)
        return RedisModule_ReplyWithError(ctx, "ERR testtype1 is not registered (loaded with notype)");
    km_key *key = RedisModule_OpenKey(ctx, argv[1], KM_READ | KM_WRITE);
    tm_value *nv = tval_new();
    size_t slen;
    const char *p = str_of(argv[2], &slen);
    char *s = RedisModule_Alloc(slen + 1);
    memcpy(s, p, slen);
    s[slen] = '\0';
    tval_push(nv, 0, 0, s, slen);
    void *old = NULL;
    int rc = RedisModule_ModuleTypeReplaceValue(key, tm_type, nv, &old);
    long long count = -1;
    if (rc == KM_OK) {
        count = (long long)((tm_value *)old)->count;
        tval_free(old);
    } else {
        tval_free(nv);
    }
    RedisModule_CloseKey(key);
    RedisModule_ReplicateVerbatim(ctx);
    RedisModule_ReplyWithArray(ctx, 2);
    RedisModule_ReplyWithLongLong(ctx, rc);
    return RedisModule_ReplyWithLongLong(ctx, count);
}

/* ---- testtype2: a data type whose callbacks read their IO */

/* A string; a "short" value claims two strings in the RDB but saves one,
 * so loading it runs out of data; an "ld" value is a number saved with
 * SaveLongDouble (marked by a count of 1000) and read back as %.17Lg. */
typedef struct {
    char *s;
    size_t len;
    int short_save;
    int as_long_double;
} tm_t2;

static km_type *tm_type2;

static void t2_free(void *value)
{
    tm_t2 *v = value;
    RedisModule_Free(v->s);
    RedisModule_Free(v);
}

/* Logs what the IO says: the key name, whether it gives a context (the
 * same one twice), its error flag. */
static void io_note(km_io *io, const char *what)
{
    const km_string *k = RedisModule_GetKeyNameFromIO(io);
    size_t klen = 0;
    const char *kp = k ? RedisModule_StringPtrLen(k, &klen) : "(null)";
    km_ctx *c1 = RedisModule_GetContextFromIO(io);
    km_ctx *c2 = RedisModule_GetContextFromIO(io);
    log_add(&io_log, "%s key=%.*s ctx=%s error=%d", what, (int)(k ? klen : 6), kp,
            c1 == NULL ? "null"
            : c1 == c2 ? "stable"
                       : "changing",
            RedisModule_IsIOError(io));
}

static void t2_rdb_save(km_io *io, void *value)
{
    tm_t2 *v = value;
    io_note(io, "save");
    if (v->as_long_double) {
        RedisModule_SaveUnsigned(io, 1000);
        RedisModule_SaveLongDouble(io, strtold(v->s, NULL));
        return;
    }
    RedisModule_SaveUnsigned(io, v->short_save ? 2 : 1);
    RedisModule_SaveStringBuffer(io, v->s, v->len);
}

static void *t2_rdb_load(km_io *io, int encver)
{
    if (encver != 1)
        return NULL;
    io_note(io, "load");
    uint64_t n = RedisModule_LoadUnsigned(io);
    tm_t2 *v = NULL;
    if (n == 1000) {
        long double ld = RedisModule_LoadLongDouble(io);
        char buf[128];
        int len = snprintf(buf, sizeof(buf), "%.17Lg", ld);
        v = RedisModule_Alloc(sizeof(*v));
        v->s = RedisModule_Strdup(buf);
        v->len = (size_t)len;
        v->short_save = 0;
        v->as_long_double = 1;
        return v;
    }
    for (uint64_t i = 0; i < n; i++) {
        size_t len = 0;
        char *p = RedisModule_LoadStringBuffer(io, &len);
        if (RedisModule_IsIOError(io)) {
            const km_string *k = RedisModule_GetKeyNameFromIO(io);
            size_t klen = 0;
            const char *kp = k ? RedisModule_StringPtrLen(k, &klen) : "";
            RedisModule_LogIOError(io, "warning", "testtype2: short read for key %.*s", (int)klen, kp);
            io_note(io, "ioerror");
            if (p)
                RedisModule_Free(p);
            if (v)
                t2_free(v);
            return NULL;
        }
        if (v) {
            RedisModule_Free(p);
            continue;
        }
        v = RedisModule_Alloc(sizeof(*v));
        v->s = p;
        v->len = len;
        v->short_save = 0;
        v->as_long_double = 0;
    }
    return v;
}

static void t2_aof_rewrite(km_io *aof, km_string *key, void *value)
{
    (void)key;
    tm_t2 *v = value;
    /* The key as the IO names it. */
    RedisModule_EmitAOF(aof, "tm.t2", "csb", "set", RedisModule_GetKeyNameFromIO(aof), v->s, v->len);
}

static size_t t2_mem_usage(const void *value)
{
    const tm_t2 *v = value;
    return sizeof(*v) + v->len;
}

/* tm.t2 set key value [short|ld] | get key | log: a testtype2 value (a
 * "short" one loads with an IO error, an "ld" one is saved as a long
 * double); its text (nil for a missing key);
 * the lines its callbacks logged, emptied. */
static int cmd_t2(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, "GetContextFromIO GetKeyNameFromIO IsIOError LogIOError"))
        return KM_OK;
    if (argc == 2 && arg_is(argv[1], "log"))
        return log_reply(ctx, &io_log);
    if (!tm_type2)
        return RedisModule_ReplyWithError(ctx, "ERR testtype2 is not registered (loaded with notype)");
    if (argc < 3)
        return RedisModule_WrongArity(ctx);
    int set = arg_is(argv[1], "set");
    if ((set && argc != 4 && argc != 5) || (!set && (argc != 3 || !arg_is(argv[1], "get"))))
        return RedisModule_WrongArity(ctx);
    km_key *key = RedisModule_OpenKey(ctx, argv[2], set ? KM_READ | KM_WRITE : KM_READ);
    int type = RedisModule_KeyType(key);
    if (type != KM_KEYTYPE_EMPTY && RedisModule_ModuleTypeGetType(key) != tm_type2) {
        RedisModule_CloseKey(key);
        return RedisModule_ReplyWithError(ctx, WRONGTYPE_MSG);
    }
    if (!set) {
        tm_t2 *v = type == KM_KEYTYPE_EMPTY ? NULL : RedisModule_ModuleTypeGetValue(key);
        if (v)
            RedisModule_ReplyWithStringBuffer(ctx, v->s, v->len);
        else
            RedisModule_ReplyWithNull(ctx);
        RedisModule_CloseKey(key);
        return KM_OK;
    }
    tm_t2 *v = RedisModule_Alloc(sizeof(*v));
    v->s = arg_dup(argv[3]);
    str_of(argv[3], &v->len);
    v->short_save = argc == 5 && arg_is(argv[4], "short");
    v->as_long_double = argc == 5 && arg_is(argv[4], "ld");
    RedisModule_ModuleTypeSetValue(key, tm_type2, v);
    RedisModule_CloseKey(key);
    RedisModule_ReplicateVerbatim(ctx);
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

/* ---- keyspace events */

static int ks_subscribed;

static int notify_on_event(km_ctx *ctx, int type, const char *event, km_string *key)
{
    size_t len;
    const char *p = str_of(key, &len);
    log_add(&ks_log, "%d %s %.*s db=%d", type, event, (int)len, p, RedisModule_GetSelectedDb(ctx));
    return KM_OK;
}

/* tm.notify sub <types> | log | emit <type> <event> <key> | flags: subscribes
 * (once) to the event classes in the bit mask types, logging each event
 * as "type event key db=N"; the log, emptied; NotifyKeyspaceEvent's
 * result; GetNotifyKeyspaceEvents. */
static int cmd_notify(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, "SubscribeToKeyspaceEvents NotifyKeyspaceEvent GetNotifyKeyspaceEvents GetSelectedDb"))
        return KM_OK;
    long long ll;
    if (argc == 2 && arg_is(argv[1], "log"))
        return log_reply(ctx, &ks_log);
    if (argc == 2 && arg_is(argv[1], "flags"))
        return RedisModule_ReplyWithLongLong(ctx, RedisModule_GetNotifyKeyspaceEvents());
    if (argc == 3 && arg_is(argv[1], "sub") && RedisModule_StringToLongLong(argv[2], &ll) == KM_OK) {
        if (ks_subscribed)
            return RedisModule_ReplyWithError(ctx, "ERR already subscribed");
        ks_subscribed = 1;
        return RedisModule_ReplyWithLongLong(ctx, RedisModule_SubscribeToKeyspaceEvents(ctx, (int)ll, notify_on_event));
    }
    if (argc == 5 && arg_is(argv[1], "emit") && RedisModule_StringToLongLong(argv[2], &ll) == KM_OK) {
        char *event = arg_dup(argv[3]);
        int rc = RedisModule_NotifyKeyspaceEvent(ctx, (int)ll, event, argv[4]);
        RedisModule_Free(event);
        return RedisModule_ReplyWithLongLong(ctx, rc);
    }
    return RedisModule_ReplyWithError(ctx, "ERR unknown subcommand or bad arguments");
}

/* ---- timers */

/* tm.tmr create <ms> <key> | info <id> | stop <id>: a timer (the callback
 * SETs key to "fired"), its id; [remaining ms, its data] or an error;
 * its data (freed) or an error. */
static int cmd_tmr(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, "GetTimerInfo StopTimer"))
        return KM_OK;
    long long ll;
    if (argc == 4 && arg_is(argv[1], "create") && RedisModule_StringToLongLong(argv[2], &ll) == KM_OK && ll >= 0) {
        km_timer_id id = RedisModule_CreateTimer(ctx, ll, timer_fired, arg_dup(argv[3]));
        return RedisModule_ReplyWithLongLong(ctx, (long long)id);
    }
    if (argc != 3 || RedisModule_StringToLongLong(argv[2], &ll) != KM_OK)
        return RedisModule_ReplyWithError(ctx, "ERR bad arguments");
    void *data = NULL;
    if (arg_is(argv[1], "info")) {
        uint64_t remaining = 0;
        if (RedisModule_GetTimerInfo(ctx, (km_timer_id)ll, &remaining, &data) != KM_OK)
            return RedisModule_ReplyWithError(ctx, "ERR no such timer");
        RedisModule_ReplyWithArray(ctx, 2);
        RedisModule_ReplyWithLongLong(ctx, (long long)remaining);
        return RedisModule_ReplyWithCString(ctx, data);
    }
    if (arg_is(argv[1], "stop")) {
        if (RedisModule_StopTimer(ctx, (km_timer_id)ll, &data) != KM_OK)
            return RedisModule_ReplyWithError(ctx, "ERR no such timer");
        RedisModule_ReplyWithCString(ctx, data);
        RedisModule_Free(data);
        return KM_OK;
    }
    return RedisModule_ReplyWithError(ctx, "ERR unknown subcommand");
}

/* ---- databases, random bytes, keys by API, pool memory */

/* tm.db <n>: [GetSelectedDb, SelectDb(n)'s result, GetSelectedDb]; the
 * client stays in the db selected. */
static int cmd_db(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, "SelectDb GetSelectedDb"))
        return KM_OK;
    long long n;
    if (argc != 2 || RedisModule_StringToLongLong(argv[1], &n) != KM_OK)
        return RedisModule_WrongArity(ctx);
    int before = RedisModule_GetSelectedDb(ctx);
    int rc = RedisModule_SelectDb(ctx, (int)n);
    RedisModule_ReplyWithArray(ctx, 3);
    RedisModule_ReplyWithLongLong(ctx, before);
    RedisModule_ReplyWithLongLong(ctx, rc);
    return RedisModule_ReplyWithLongLong(ctx, RedisModule_GetSelectedDb(ctx));
}

/* tm.rand <n>: [GetRandomBytes(n) in hex, GetRandomHexChars(n)] */
static int cmd_rand(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, "GetRandomBytes GetRandomHexChars"))
        return KM_OK;
    long long n;
    if (argc != 2 || RedisModule_StringToLongLong(argv[1], &n) != KM_OK || n < 0 || n > 4096)
        return RedisModule_WrongArity(ctx);
    unsigned char *bytes = RedisModule_Alloc((size_t)n + 1);
    char *hex = RedisModule_Alloc(2 * (size_t)n + 1);
    RedisModule_GetRandomBytes(bytes, (size_t)n);
    for (long long i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
    RedisModule_ReplyWithArray(ctx, 2);
    RedisModule_ReplyWithStringBuffer(ctx, hex, 2 * (size_t)n);
    RedisModule_GetRandomHexChars(hex, (size_t)n);
    RedisModule_ReplyWithStringBuffer(ctx, hex, (size_t)n);
    RedisModule_Free(bytes);
    RedisModule_Free(hex);
    return KM_OK;
}

/* tm.gk [KEY k | VAL v]...: (getkeys-api) the keys are the arguments
 * after each KEY; asked for them, it names their positions with KeyAtPos;
 * run, it replies [IsKeysPositionRequest, the keys...]. */
static int cmd_gk(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, "IsKeysPositionRequest KeyAtPos"))
        return KM_OK;
    int keys_request = RedisModule_IsKeysPositionRequest(ctx);
    /* A keys request has no client to answer (WrongArity would crash Redis
     * 7.0): it names the keys it finds. */
    if (argc % 2 != 1 && !keys_request)
        return RedisModule_WrongArity(ctx);
    if (!keys_request)
        RedisModule_ReplyWithArray(ctx, KM_POSTPONED_LEN);
    long n = 0;
    if (!keys_request) {
        RedisModule_ReplyWithLongLong(ctx, keys_request);
        n++;
    }
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!arg_is(argv[i], "KEY"))
            continue;
        if (keys_request) {
            RedisModule_KeyAtPos(ctx, i + 1);
        } else {
            RedisModule_ReplyWithString(ctx, argv[i + 1]);
            n++;
        }
    }
    if (!keys_request)
        RedisModule_ReplySetArrayLength(ctx, n);
    return KM_OK;
}

/* tm.pool <count> <size>: count PoolAlloc blocks of size bytes, each
 * filled and checked after all were made: [all intact, every block of 8
 * bytes or more 8-aligned, PoolAlloc(0) is NULL]. */
static int cmd_pool(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, "PoolAlloc"))
        return KM_OK;
    long long count, size;
    if (argc != 3 || RedisModule_StringToLongLong(argv[1], &count) != KM_OK ||
        RedisModule_StringToLongLong(argv[2], &size) != KM_OK || count < 1 || count > 1000 || size < 1 || size > 100000)
        return RedisModule_WrongArity(ctx);
    unsigned char **blocks = RedisModule_PoolAlloc(ctx, sizeof(*blocks) * (size_t)count);
    int aligned = ((uintptr_t)blocks % sizeof(void *)) == 0;
    for (long long i = 0; i < count; i++) {
        blocks[i] = RedisModule_PoolAlloc(ctx, (size_t)size);
        if (size >= 8 && (uintptr_t)blocks[i] % 8 != 0)
            aligned = 0;
        memset(blocks[i], (int)(i & 0xff), (size_t)size);
    }
    int intact = 1;
    for (long long i = 0; i < count; i++)
        for (long long j = 0; j < size; j++)
            if (blocks[i][j] != (unsigned char)(i & 0xff))
                intact = 0;
    RedisModule_ReplyWithArray(ctx, 3);
    RedisModule_ReplyWithLongLong(ctx, intact);
    RedisModule_ReplyWithLongLong(ctx, aligned);
    return RedisModule_ReplyWithLongLong(ctx, RedisModule_PoolAlloc(ctx, 0) == NULL);
}

/* ---- Replicate */

/* tm.rep <-|A|R> <times> cmd args...: Replicate(cmd args) times times
 * (format "v", "Av": not to the AOF, "Rv": not to replicas) without
 * running it; the last result. */
static int cmd_rep(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, "Replicate"))
        return KM_OK;
    long long times;
    if (argc < 4 || RedisModule_StringToLongLong(argv[2], &times) != KM_OK || times < 1)
        return RedisModule_WrongArity(ctx);
    const char *fmt = arg_is(argv[1], "A") ? "Av" : arg_is(argv[1], "R") ? "Rv" : "v";
    char *cmd = arg_dup(argv[3]);
    int rc = KM_OK;
    for (long long i = 0; i < times; i++)
        rc = RedisModule_Replicate(ctx, cmd, fmt, argv + 4, (size_t)(argc - 4));
    RedisModule_Free(cmd);
    return RedisModule_ReplyWithLongLong(ctx, rc);
}

/* ---- the cluster answers */

static void cluster_receiver(km_ctx *ctx, const char *sender_id, uint8_t type, const unsigned char *payload,
                             uint32_t len)
{
    (void)ctx, (void)sender_id, (void)type, (void)payload, (void)len;
}

/* tm.cluster: [GetClusterSize, GetMyClusterID (nil for NULL),
 * GetClusterNodesList NULL or not, its numnodes (99 before), result of
 * GetClusterNodeInfo("nosuch") with its port and flags (-7 before),
 * SendClusterMessage's result]; SetClusterFlags,
 * RegisterClusterMessageReceiver and FreeClusterNodesList are called
 * too. */
static int cmd_cluster(km_ctx *ctx, km_string **argv, int argc)
{
    (void)argv;
    if (lacks(ctx, "GetClusterSize GetMyClusterID GetClusterNodesList FreeClusterNodesList GetClusterNodeInfo "
                   "SetClusterFlags RegisterClusterMessageReceiver SendClusterMessage"))
        return KM_OK;
    if (argc != 1)
        return RedisModule_WrongArity(ctx);
    RedisModule_SetClusterFlags(ctx, TM_CLUSTER_FLAG_NO_FAILOVER | TM_CLUSTER_FLAG_NO_REDIRECTION);
    RedisModule_RegisterClusterMessageReceiver(ctx, 7, cluster_receiver);
    size_t numnodes = 99;
    char **ids = RedisModule_GetClusterNodesList(ctx, &numnodes);
    char ip[64] = "", master[64] = "";
    int port = -7, flags = -7;
    int info = RedisModule_GetClusterNodeInfo(ctx, "nosuch", ip, master, &port, &flags);
    const char *myid = RedisModule_GetMyClusterID();
    RedisModule_ReplyWithArray(ctx, 8);
    RedisModule_ReplyWithLongLong(ctx, (long long)RedisModule_GetClusterSize());
    if (myid)
        RedisModule_ReplyWithCString(ctx, myid);
    else
        RedisModule_ReplyWithNull(ctx);
    RedisModule_ReplyWithSimpleString(ctx, ids ? "list" : "NULL");
    RedisModule_ReplyWithLongLong(ctx, (long long)numnodes);
    RedisModule_ReplyWithLongLong(ctx, info);
    RedisModule_ReplyWithLongLong(ctx, port);
    RedisModule_ReplyWithLongLong(ctx, flags);
    RedisModule_ReplyWithLongLong(ctx, RedisModule_SendClusterMessage(ctx, NULL, 7, "hi", 2));
    RedisModule_FreeClusterNodesList(ids);
    return KM_OK;
}

/* ------------------------------------------------------------------ streams and aux data */

/* The third batch (tests/integration/test_modules_stream.py): the stream
 * key API (StreamAdd, StreamDelete, the entry iterator, the trims, the
 * ID / string conversions) and a data type with aux data (tmauxtype,
 * registered only when the module is loaded with "aux", "auxbefore" or
 * "auxafter": its aux_save writes the module's aux state into every RDB
 * file, before the keys, after them or both, and aux_load logs what it
 * read back). The functions have their own table (TM_API3). */

/* RedisModuleStreamID and the flags, module_abi.h's. */
typedef km_stream_id tm_stream_id;

#define TM_API3(X)                                                                                                     \
    X(int, StreamAdd, (km_key * key, int flags, tm_stream_id *id, km_string **argv, int64_t numfields))                \
    X(int, StreamDelete, (km_key * key, tm_stream_id * id))                                                            \
    X(int, StreamIteratorStart, (km_key * key, int flags, tm_stream_id *startid, tm_stream_id *endid))                 \
    X(int, StreamIteratorStop, (km_key * key))                                                                         \
    X(int, StreamIteratorNextID, (km_key * key, tm_stream_id * id, long *numfields))                                   \
    X(int, StreamIteratorNextField, (km_key * key, km_string * *field_ptr, km_string * *value_ptr))                    \
    X(int, StreamIteratorDelete, (km_key * key))                                                                       \
    X(long long, StreamTrimByLength, (km_key * key, int flags, long long length))                                      \
    X(long long, StreamTrimByID, (km_key * key, int flags, tm_stream_id *id))                                          \
    X(km_string *, CreateStringFromStreamID, (km_ctx * ctx, const tm_stream_id *id))                                   \
    X(int, StringToStreamID, (const km_string *str, tm_stream_id *id))

#define TM_DECLARE3(ret, name, params) static ret(*RedisModule_##name) params;
TM_API3(TM_DECLARE3)
#undef TM_DECLARE3

#define STREAM_APIS                                                                                                    \
    "StreamAdd StreamDelete StreamIteratorStart StreamIteratorStop StreamIteratorNextID StreamIteratorNextField "      \
    "StreamIteratorDelete StreamTrimByLength StreamTrimByID CreateStringFromStreamID StringToStreamID Replicate"

/* errno as its name: what the stream functions set when they fail. */
static const char *stream_errno(int e)
{
    static char other[32];
    switch (e) {
    case EINVAL: return "EINVAL";
    case ENOTSUP: return "ENOTSUP";
    case EBADF: return "EBADF";
    case EDOM: return "EDOM";
    case EFBIG: return "EFBIG";
    case ENOENT: return "ENOENT";
    case ERANGE: return "ERANGE";
    case 0: return "errno=0";
    default: snprintf(other, sizeof(other), "errno=%d", e); return other;
    }
}

/* "name: ERRNO" as an error reply, for a function that failed. */
static int reply_failed(km_ctx *ctx, const char *fn)
{
    char msg[96];
    snprintf(msg, sizeof(msg), "ERR %s: %s", fn, stream_errno(errno));
    return RedisModule_ReplyWithError(ctx, msg);
}

/* An ID argument: "null" is no ID (a NULL pointer), anything else goes
 * through StringToStreamID. Returns 0 (after replying) when invalid. */
static int stream_id_arg(km_ctx *ctx, km_string *arg, tm_stream_id *id, tm_stream_id **out)
{
    if (arg_is(arg, "null")) {
        *out = NULL;
        return 1;
    }
    if (RedisModule_StringToStreamID(arg, id) != KM_OK) {
        RedisModule_ReplyWithError(ctx, "ERR invalid stream ID");
        return 0;
    }
    *out = id;
    return 1;
}

static void reply_stream_id(km_ctx *ctx, const tm_stream_id *id)
{
    km_string *s = RedisModule_CreateStringFromStreamID(ctx, id);
    RedisModule_ReplyWithString(ctx, s);
    RedisModule_FreeString(ctx, s);
}

/* The key for mode "r" (READ: a missing key gives NULL, which the stream
 * functions refuse with EINVAL) or "w" (READ|WRITE). */
static km_key *open_skey(km_ctx *ctx, km_string *name, km_string *mode)
{
    return RedisModule_OpenKey(ctx, name, arg_is(mode, "r") ? KM_READ : KM_READ | KM_WRITE);
}

/* One step of tm.stream iter, replied as one element of its array. */
static int stream_iter_op(km_ctx *ctx, km_key *key, km_string **a, int na)
{
    tm_stream_id id;
    long nf = -1;
    if (arg_is(a[0], "next")) {
        if (RedisModule_StreamIteratorNextID(key, &id, &nf) != KM_OK)
            return RedisModule_ReplyWithSimpleString(ctx, stream_errno(errno)), 1;
        RedisModule_ReplyWithArray(ctx, 2);
        reply_stream_id(ctx, &id);
        RedisModule_ReplyWithLongLong(ctx, nf);
        return 1;
    }
    if (arg_is(a[0], "nextnull")) {
        int rc = RedisModule_StreamIteratorNextID(key, NULL, NULL);
        RedisModule_ReplyWithSimpleString(ctx, rc == KM_OK ? "OK" : stream_errno(errno));
        return 1;
    }
    if (arg_is(a[0], "field") || arg_is(a[0], "fieldnull")) {
        km_string *f = NULL, *v = NULL;
        int null = arg_is(a[0], "fieldnull");
        if (RedisModule_StreamIteratorNextField(key, null ? NULL : &f, null ? NULL : &v) != KM_OK)
            return RedisModule_ReplyWithSimpleString(ctx, stream_errno(errno)), 1;
        if (null)
            return RedisModule_ReplyWithSimpleString(ctx, "OK"), 1;
        RedisModule_ReplyWithArray(ctx, 2);
        RedisModule_ReplyWithString(ctx, f);
        RedisModule_ReplyWithString(ctx, v);
        RedisModule_FreeString(ctx, f);
        RedisModule_FreeString(ctx, v);
        return 1;
    }
    if (arg_is(a[0], "fields")) {
        long n = 0;
        km_string *f, *v;
        RedisModule_ReplyWithArray(ctx, KM_POSTPONED_LEN);
        while (RedisModule_StreamIteratorNextField(key, &f, &v) == KM_OK) {
            RedisModule_ReplyWithString(ctx, f);
            RedisModule_ReplyWithString(ctx, v);
            RedisModule_FreeString(ctx, f);
            RedisModule_FreeString(ctx, v);
            n += 2;
        }
        RedisModule_ReplySetArrayLength(ctx, n);
        return 1;
    }
    if (arg_is(a[0], "all")) {
        /* The rest of the walk: [[id, [f, v, ...]], ...] */
        long n = 0;
        RedisModule_ReplyWithArray(ctx, KM_POSTPONED_LEN);
        while (RedisModule_StreamIteratorNextID(key, &id, &nf) == KM_OK) {
            RedisModule_ReplyWithArray(ctx, 2);
            reply_stream_id(ctx, &id);
            RedisModule_ReplyWithArray(ctx, nf * 2);
            for (long i = 0; i < nf; i++) {
                km_string *f, *v;
                if (RedisModule_StreamIteratorNextField(key, &f, &v) != KM_OK) {
                    RedisModule_ReplyWithNull(ctx);
                    RedisModule_ReplyWithNull(ctx);
                    continue;
                }
                RedisModule_ReplyWithString(ctx, f);
                RedisModule_ReplyWithString(ctx, v);
                RedisModule_FreeString(ctx, f);
                RedisModule_FreeString(ctx, v);
            }
            n++;
        }
        RedisModule_ReplySetArrayLength(ctx, n);
        return 1;
    }
    if (arg_is(a[0], "del") || arg_is(a[0], "stop")) {
        int rc = arg_is(a[0], "del") ? RedisModule_StreamIteratorDelete(key) : RedisModule_StreamIteratorStop(key);
        RedisModule_ReplyWithSimpleString(ctx, rc == KM_OK ? "OK" : stream_errno(errno));
        return 1;
    }
    if (arg_is(a[0], "sdel") && na >= 2) {
        /* StreamDelete while the iterator runs. */
        if (RedisModule_StringToStreamID(a[1], &id) != KM_OK)
            return RedisModule_ReplyWithSimpleString(ctx, "bad id"), 2;
        int rc = RedisModule_StreamDelete(key, &id);
        RedisModule_ReplyWithSimpleString(ctx, rc == KM_OK ? "OK" : stream_errno(errno));
        return 2;
    }
    if (arg_is(a[0], "start") && na >= 4) {
        long long flags;
        tm_stream_id s, e, *ps, *pe;
        if (RedisModule_StringToLongLong(a[1], &flags) != KM_OK ||
            (!arg_is(a[2], "null") && RedisModule_StringToStreamID(a[2], &s) != KM_OK) ||
            (!arg_is(a[3], "null") && RedisModule_StringToStreamID(a[3], &e) != KM_OK))
            return RedisModule_ReplyWithSimpleString(ctx, "bad start"), 4;
        ps = arg_is(a[2], "null") ? NULL : &s;
        pe = arg_is(a[3], "null") ? NULL : &e;
        int rc = RedisModule_StreamIteratorStart(key, (int)flags, ps, pe);
        RedisModule_ReplyWithSimpleString(ctx, rc == KM_OK ? "OK" : stream_errno(errno));
        return 4;
    }
    RedisModule_ReplyWithSimpleString(ctx, "unknown op");
    return 1;
}

/* tm.stream <op> key ...: one stream function on key, opened "r" (READ)
 * or "w" (READ|WRITE); a failure answers "ERR <function>: <errno name>".
 *   add key mode flags id|null [field value ...]  StreamAdd: the ID it
 *       set (OK when given none); flags is the raw flags word
 *   addrep key field value ...  StreamAdd with AUTOID, then Replicate of
 *       "XADD key <that ID> field value ...", as modules are told to do
 *   del key mode id|null        StreamDelete
 *   trimlen key mode flags n    StreamTrimByLength: how many went
 *   trimid key mode flags id|null  StreamTrimByID
 *   iter key mode flags start|null end|null [step ...]  StreamIteratorStart
 *       then each step (next, nextnull, field, fieldnull, fields, all,
 *       del, stop, sdel <id>, start <flags> <start> <end>): an array of
 *       their answers, the start's first (OK or the errno name). The key
 *       is closed with the iterator left running unless a step stopped it.
 *   conv str                    StringToStreamID then
 *       CreateStringFromStreamID: the ID as the server reads it */
static int cmd_stream(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, STREAM_APIS))
        return KM_OK;
    if (argc == 3 && arg_is(argv[1], "conv")) {
        tm_stream_id id;
        if (RedisModule_StringToStreamID(argv[2], &id) != KM_OK)
            return RedisModule_ReplyWithError(ctx, "ERR invalid stream ID");
        reply_stream_id(ctx, &id);
        return KM_OK;
    }
    if (argc < 4)
        return RedisModule_WrongArity(ctx);
    km_string *op = argv[1];
    tm_stream_id id, *pid;
    long long flags = 0, n;
    if (arg_is(op, "addrep")) {
        if ((argc - 3) % 2)
            return RedisModule_WrongArity(ctx);
        km_key *key = RedisModule_OpenKey(ctx, argv[2], KM_READ | KM_WRITE);
        int rc = RedisModule_StreamAdd(key, KM_STREAM_ADD_AUTOID, &id, argv + 3, (argc - 3) / 2);
        RedisModule_CloseKey(key);
        if (rc != KM_OK)
            return reply_failed(ctx, "StreamAdd");
        km_string *ids = RedisModule_CreateStringFromStreamID(ctx, &id);
        RedisModule_Replicate(ctx, "XADD", "ssv", argv[2], ids, argv + 3, (size_t)(argc - 3));
        RedisModule_ReplyWithString(ctx, ids);
        RedisModule_FreeString(ctx, ids);
        return KM_OK;
    }
    if (arg_is(op, "add")) {
        if (argc < 6 || (argc - 6) % 2 || RedisModule_StringToLongLong(argv[4], &flags) != KM_OK)
            return RedisModule_WrongArity(ctx);
        if (!stream_id_arg(ctx, argv[5], &id, &pid))
            return KM_OK;
        km_key *key = open_skey(ctx, argv[2], argv[3]);
        errno = 0;
        int rc = RedisModule_StreamAdd(key, (int)flags, pid, argv + 6, (argc - 6) / 2);
        RedisModule_CloseKey(key);
        if (rc != KM_OK)
            return reply_failed(ctx, "StreamAdd");
        if (!pid)
            return RedisModule_ReplyWithSimpleString(ctx, "OK");
        reply_stream_id(ctx, pid);
        return KM_OK;
    }
    if (arg_is(op, "del")) {
        if (argc != 5)
            return RedisModule_WrongArity(ctx);
        if (!stream_id_arg(ctx, argv[4], &id, &pid))
            return KM_OK;
        km_key *key = open_skey(ctx, argv[2], argv[3]);
        errno = 0;
        int rc = RedisModule_StreamDelete(key, pid);
        RedisModule_CloseKey(key);
        return rc == KM_OK ? RedisModule_ReplyWithSimpleString(ctx, "OK") : reply_failed(ctx, "StreamDelete");
    }
    if (arg_is(op, "trimlen") || arg_is(op, "trimid")) {
        int bylen = arg_is(op, "trimlen");
        if (argc != 6 || RedisModule_StringToLongLong(argv[4], &flags) != KM_OK)
            return RedisModule_WrongArity(ctx);
        if (bylen && RedisModule_StringToLongLong(argv[5], &n) != KM_OK)
            return RedisModule_ReplyWithError(ctx, "ERR invalid length");
        if (!bylen && !stream_id_arg(ctx, argv[5], &id, &pid))
            return KM_OK;
        km_key *key = open_skey(ctx, argv[2], argv[3]);
        errno = 0;
        long long got = bylen ? RedisModule_StreamTrimByLength(key, (int)flags, n)
                              : RedisModule_StreamTrimByID(key, (int)flags, pid);
        RedisModule_CloseKey(key);
        if (got < 0)
            return reply_failed(ctx, bylen ? "StreamTrimByLength" : "StreamTrimByID");
        return RedisModule_ReplyWithLongLong(ctx, got);
    }
    if (arg_is(op, "iter")) {
        tm_stream_id s, e, *ps, *pe;
        if (argc < 7 || RedisModule_StringToLongLong(argv[4], &flags) != KM_OK)
            return RedisModule_WrongArity(ctx);
        if (!stream_id_arg(ctx, argv[5], &s, &ps) || !stream_id_arg(ctx, argv[6], &e, &pe))
            return KM_OK;
        km_key *key = open_skey(ctx, argv[2], argv[3]);
        errno = 0;
        int rc = RedisModule_StreamIteratorStart(key, (int)flags, ps, pe);
        RedisModule_ReplyWithArray(ctx, KM_POSTPONED_LEN);
        RedisModule_ReplyWithSimpleString(ctx, rc == KM_OK ? "OK" : stream_errno(errno));
        long replied = 1;
        for (int i = 7; i < argc; replied++) {
            errno = 0;
            i += stream_iter_op(ctx, key, argv + i, argc - i);
        }
        RedisModule_ReplySetArrayLength(ctx, replied);
        RedisModule_CloseKey(key); /* a running iterator goes with the key */
        return KM_OK;
    }
    return RedisModule_ReplyWithError(ctx, "ERR unknown op");
}

/* ---- aux data */

/* The aux state: a string the tests set; aux_save writes it with the
 * "when" it was called for and a few numbers derived from it, aux_load
 * reads them back, logs them and takes the string back. A value of
 * "fail" makes aux_load fail (the load with it). */
static km_type *tm_aux_type;
static char *aux_value;
static tm_log aux_log = {PTHREAD_MUTEX_INITIALIZER, {{0}}, 0};

/* ---- persistence events: with the OnLoad argument "persistev" the
 * module hears every Persistence event from its load on (so the AOF base
 * a start-up makes too); tm.persistlog gives them, emptied. */
static tm_log persist_log = {PTHREAD_MUTEX_INITIALIZER, {{0}}, 0};

static void on_persistence(km_ctx *ctx, tm_event eid, uint64_t sub, void *data)
{
    (void)ctx;
    (void)eid;
    (void)data;
    static const char *names[] = {"rdb-start", "aof-start", "sync-rdb-start", "ended", "failed", "sync-aof-start"};
    log_add(&persist_log, "%s", sub < 6 ? names[sub] : "?");
}

static int cmd_persistlog(km_ctx *ctx, km_string **argv, int argc)
{
    (void)argv;
    if (argc != 1)
        return RedisModule_WrongArity(ctx);
    return log_reply(ctx, &persist_log);
}

static void aux_set(const char *p, size_t len)
{
    char *v = RedisModule_Alloc(len + 1);
    memcpy(v, p, len);
    v[len] = '\0';
    if (aux_value)
        RedisModule_Free(aux_value);
    aux_value = v;
}

static void aux_save(km_io *io, int when)
{
    const char *v = aux_value ? aux_value : "";
    log_add(&aux_log, "save when=%d value=%s", when, v);
    RedisModule_SaveUnsigned(io, (uint64_t)when);
    RedisModule_SaveStringBuffer(io, v, strlen(v));
    RedisModule_SaveSigned(io, -7 * (int64_t)when);
    RedisModule_SaveDouble(io, when + 0.5);
    RedisModule_SaveFloat(io, 0.25f * (float)when);
}

static int aux_load(km_io *io, int encver, int when)
{
    uint64_t saved_when = RedisModule_LoadUnsigned(io);
    size_t len = 0;
    char *v = RedisModule_LoadStringBuffer(io, &len);
    int64_t sg = RedisModule_LoadSigned(io);
    double d = RedisModule_LoadDouble(io);
    float f = RedisModule_LoadFloat(io);
    int error = RedisModule_IsIOError(io);
    log_add(&aux_log, "load when=%d encver=%d saved_when=%llu value=%.*s signed=%lld double=%g float=%g error=%d", when,
            encver, (unsigned long long)saved_when, (int)len, v ? v : "", (long long)sg, d, (double)f, error);
    int fail = error || (len == 4 && memcmp(v, "fail", 4) == 0);
    if (!fail && v)
        aux_set(v, len);
    if (v)
        RedisModule_Free(v);
    return fail ? KM_ERR : KM_OK;
}

/* aux_save2 (Redis 7.2): the same, but nothing while the state is empty,
 * so that the file then holds no record of this module. */
static void aux_save2(km_io *io, int when)
{
    if (aux_value && aux_value[0])
        aux_save(io, when);
}

/* No value of this type is ever made: it exists for its aux data. */
static void *aux_rdb_load(km_io *io, int encver)
{
    (void)io;
    (void)encver;
    return NULL;
}

static void aux_rdb_save(km_io *io, void *value)
{
    (void)io;
    (void)value;
}

static void aux_free(void *value)
{
    (void)value;
}

/* tm.aux set value | get | log: the aux state; what it is now; the lines
 * aux_save and aux_load logged, emptied. */
static int cmd_aux(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc == 2 && arg_is(argv[1], "log"))
        return log_reply(ctx, &aux_log);
    if (!tm_aux_type)
        return RedisModule_ReplyWithError(ctx, "ERR tmauxtype is not registered (load with aux)");
    if (argc == 2 && arg_is(argv[1], "get"))
        return RedisModule_ReplyWithCString(ctx, aux_value ? aux_value : "");
    if (argc == 3 && arg_is(argv[1], "set")) {
        size_t len;
        const char *p = str_of(argv[2], &len);
        aux_set(p, len);
        return RedisModule_ReplyWithSimpleString(ctx, "OK");
    }
    return RedisModule_WrongArity(ctx);
}

/* OnLoad: the aux type for the arguments "aux" (before and after the
 * keys), "auxbefore" and "auxafter"; encver 2. */
static int register_aux_type(km_ctx *ctx, int triggers, int use_save2)
{
    km_type_methods methods = {
        .version = KM_TYPE_METHOD_VERSION,
        .rdb_load = aux_rdb_load,
        .rdb_save = aux_rdb_save,
        .free = aux_free,
        .aux_load = aux_load,
        .aux_save = use_save2 ? NULL : aux_save,
        .aux_save_triggers = triggers,
        .aux_save2 = use_save2 ? aux_save2 : NULL,
    };
    tm_aux_type = RedisModule_CreateDataType(ctx, "tmauxtype", 2, &methods);
    return tm_aux_type ? KM_OK : KM_ERR;
}

/* ------------------------------------------------------------------ API coverage: the fourth batch */

/* Commands for the Redis 7.0 functions Keel added last (tests/
 * integration/test_modules_api4.py): clients blocked on keys, the event
 * loop (file descriptors, one-shot callbacks) and Yield. Their functions
 * have their own table (TM_API4). */

typedef void (*tm_eventloop_fn)(int fd, void *data, int mask);
typedef void (*tm_oneshot_fn)(void *data);
#define TM_EVENTLOOP_READABLE 1
#define TM_EVENTLOOP_WRITABLE 2
#define TM_YIELD_FLAG_NONE (1 << 0)
#define TM_YIELD_FLAG_CLIENTS (1 << 1)

#define TM_API4(X)                                                                                                     \
    X(km_blocked *, BlockClientOnKeys,                                                                                 \
      (km_ctx * ctx, blk_reply_fn reply_cb, blk_reply_fn timeout_cb, blk_free_fn free_cb, long long timeout_ms,        \
       km_string **keys, int numkeys, void *privdata))                                                                 \
    X(void, SignalKeyAsReady, (km_ctx * ctx, km_string * key))                                                         \
    X(km_string *, GetBlockedClientReadyKey, (km_ctx * ctx))                                                           \
    X(int, EventLoopAdd, (int fd, int mask, tm_eventloop_fn fn, void *data))                                           \
    X(int, EventLoopDel, (int fd, int mask))                                                                           \
    X(int, EventLoopAddOneShot, (tm_oneshot_fn fn, void *data))                                                        \
    X(void, Yield, (km_ctx * ctx, int flags, const char *busy_reply))                                                  \
    X(void, ResetDataset, (int restart_aof, int async))                                                                \
    X(size_t, MallocSizeDict, (km_dict * d))                                                                           \
    X(km_string *, GetClientCertificate, (km_ctx * ctx, uint64_t client_id))

#define TM_DECLARE4(ret, name, params) static ret(*RedisModule_##name) params;
TM_API4(TM_DECLARE4)
#undef TM_DECLARE4

/* ---- clients blocked on keys */

static tm_log bk_log = {PTHREAD_MUTEX_INITIALIZER, {{0}}, 0};

/* Pops the n last elements of the list key (tail first) as the reply;
 * 0 when it holds fewer. */
static int bk_try_pop(km_ctx *ctx, km_string *name, long long n)
{
    km_key *key = RedisModule_OpenKey(ctx, name, KM_READ | KM_WRITE);
    if (RedisModule_KeyType(key) != KM_KEYTYPE_LIST || (long long)RedisModule_ValueLength(key) < n) {
        RedisModule_CloseKey(key);
        return 0;
    }
    RedisModule_ReplyWithArray(ctx, n);
    for (long long i = 0; i < n; i++) {
        km_string *e = RedisModule_ListPop(key, KM_LIST_TAIL);
        RedisModule_ReplyWithString(ctx, e);
        RedisModule_FreeString(ctx, e);
    }
    RedisModule_CloseKey(key);
    RedisModule_ReplicateVerbatim(ctx);
    return 1;
}

static int bk_on_reply(km_ctx *ctx, km_string **argv, int argc)
{
    (void)argc;
    long long n = 0;
    RedisModule_StringToLongLong(argv[3], &n);
    km_string *ready = RedisModule_GetBlockedClientReadyKey(ctx);
    const char *pd = RedisModule_GetBlockedClientPrivateData(ctx);
    int served = bk_try_pop(ctx, ready, n);
    log_add(&bk_log, "reply key=%s privdata=%s %s", str_of(ready, NULL), pd ? pd : "null", served ? "served" : "waits");
    return served ? KM_OK : KM_ERR;
}

static int bk_on_timeout(km_ctx *ctx, km_string **argv, int argc)
{
    (void)argv;
    (void)argc;
    log_add(&bk_log, "timeout timeout=%d", RedisModule_IsBlockedTimeoutRequest(ctx));
    return RedisModule_ReplyWithError(ctx, "ERR tm.bk timed out");
}

static void bk_free(km_ctx *ctx, void *privdata)
{
    (void)ctx;
    log_add(&bk_log, "free privdata=%s", (char *)privdata);
    RedisModule_Free(privdata);
}

/* tm.bk pop key n timeout-ms [notocb]: the n last elements of the list
 * key, waiting (BlockClientOnKeys) until it has them; notocb: no timeout
 * callback. tm.bk signal key: SignalKeyAsReady. tm.bk log: what the
 * callbacks saw, since the last call. */
static int cmd_bk(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, "BlockClientOnKeys SignalKeyAsReady GetBlockedClientReadyKey"))
        return KM_OK;
    if (argc == 2 && arg_is(argv[1], "log"))
        return log_reply(ctx, &bk_log);
    if (argc == 3 && arg_is(argv[1], "signal")) {
        RedisModule_SignalKeyAsReady(ctx, argv[2]);
        return RedisModule_ReplyWithSimpleString(ctx, "OK");
    }
    long long n, ms;
    if ((argc != 5 && argc != 6) || !arg_is(argv[1], "pop"))
        return RedisModule_WrongArity(ctx);
    if (RedisModule_StringToLongLong(argv[3], &n) != KM_OK || n < 1 ||
        RedisModule_StringToLongLong(argv[4], &ms) != KM_OK || ms < 0)
        return RedisModule_ReplyWithError(ctx, "ERR n and timeout must be integers");
    if (argc == 6 && !arg_is(argv[5], "notocb"))
        return RedisModule_ReplyWithError(ctx, "ERR syntax error");
    if (bk_try_pop(ctx, argv[2], n))
        return KM_OK;
    char *pd = RedisModule_Alloc(64);
    snprintf(pd, 64, "pd:%s", str_of(argv[2], NULL));
    RedisModule_BlockClientOnKeys(ctx, bk_on_reply, argc == 6 ? NULL : bk_on_timeout, bk_free, ms, &argv[2], 1, pd);
    return KM_OK;
}

/* ---- the event loop */

typedef struct {
    km_blocked *bc;
    int fds[2];
} tm_el_job;

static void el_answer(tm_el_job *job, const char *text)
{
    km_ctx *ts = RedisModule_GetThreadSafeContext(job->bc);
    RedisModule_ReplyWithCString(ts, text);
    RedisModule_FreeThreadSafeContext(ts);
    RedisModule_UnblockClient(job->bc, NULL);
    RedisModule_Free(job);
}

static void el_on_readable(int fd, void *data, int mask)
{
    tm_el_job *job = data;
    char buf[64];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    if (n <= 0)
        return;
    buf[n] = '\0';
    char text[128];
    snprintf(text, sizeof(text), "read %s mask=%d", buf, mask);
    RedisModule_EventLoopDel(fd, TM_EVENTLOOP_READABLE);
    close(job->fds[0]);
    close(job->fds[1]);
    el_answer(job, text);
}

static void el_on_writable(int fd, void *data, int mask)
{
    (void)mask;
    /* Writable at once: write the bytes, stop watching for it. */
    RedisModule_EventLoopDel(fd, TM_EVENTLOOP_WRITABLE);
    if (write(fd, "ping", 4) != 4)
        el_answer(data, "write failed");
}

static void el_oneshot(void *data)
{
    el_answer(data, "oneshot");
}

/* As el_oneshot, an error through the thread-safe context. */
static void el_oneshot_error(void *data)
{
    tm_el_job *job = data;
    km_ctx *ts = RedisModule_GetThreadSafeContext(job->bc);
    RedisModule_ReplyWithError(ts, "ERR from the loop");
    RedisModule_FreeThreadSafeContext(ts);
    RedisModule_UnblockClient(job->bc, NULL);
    RedisModule_Free(job);
}

static void *el_thread(void *arg)
{
    RedisModule_EventLoopAddOneShot(el_oneshot, arg);
    return NULL;
}

/* The errors EventLoopAdd / Del / AddOneShot report, as "call=errno"
 * words: a bad mask, no callback, a bad fd, deleting what was never
 * added. */
static int el_checks(km_ctx *ctx)
{
    int fds[2];
    if (pipe(fds) != 0)
        return RedisModule_ReplyWithError(ctx, "ERR pipe failed");
    char out[512];
    int n = 0;
#define EL_CHECK(name, call)                                                                                           \
    do {                                                                                                               \
        errno = 12345;                                                                                                 \
        int rc = (call);                                                                                               \
        n += snprintf(out + n, sizeof(out) - (size_t)n, "%s%s=%s:%s", n ? " " : "", name, rc == KM_OK ? "ok" : "err",  \
                      errno == 0        ? "0"                                                                          \
                      : errno == EINVAL ? "EINVAL"                                                                     \
                      : errno == ERANGE ? "ERANGE"                                                                     \
                                        : "other");                                                                    \
    } while (0)
    EL_CHECK("badmask", RedisModule_EventLoopAdd(fds[0], 4, el_on_readable, NULL));
    EL_CHECK("nofn", RedisModule_EventLoopAdd(fds[0], TM_EVENTLOOP_READABLE, NULL, NULL));
    EL_CHECK("negfd", RedisModule_EventLoopAdd(-1, TM_EVENTLOOP_READABLE, el_on_readable, NULL));
    EL_CHECK("hugefd", RedisModule_EventLoopAdd(99999999, TM_EVENTLOOP_READABLE, el_on_readable, NULL));
    EL_CHECK("delnever", RedisModule_EventLoopDel(fds[0], TM_EVENTLOOP_READABLE));
    EL_CHECK("delbadmask", RedisModule_EventLoopDel(fds[0], 8));
    EL_CHECK("delnegfd", RedisModule_EventLoopDel(-1, TM_EVENTLOOP_READABLE));
    EL_CHECK("add", RedisModule_EventLoopAdd(fds[0], TM_EVENTLOOP_READABLE, el_on_readable, NULL));
    EL_CHECK("addagain", RedisModule_EventLoopAdd(fds[0], TM_EVENTLOOP_READABLE, el_on_readable, NULL));
    EL_CHECK("del", RedisModule_EventLoopDel(fds[0], TM_EVENTLOOP_READABLE));
    EL_CHECK("oneshotnofn", RedisModule_EventLoopAddOneShot(NULL, NULL));
#undef EL_CHECK
    close(fds[0]);
    close(fds[1]);
    return RedisModule_ReplyWithCString(ctx, out);
}

/* tm.el pipe: a pipe watched both ways; the writable callback writes
 * "ping", the readable one answers "read ping mask=1". tm.el oneshot: a
 * thread asks for a one-shot callback, which answers "oneshot"; tm.el
 * error: a one-shot callback answers "ERR from the loop". tm.el checks:
 * el_checks. */
static int cmd_el(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, "EventLoopAdd EventLoopDel EventLoopAddOneShot"))
        return KM_OK;
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    if (arg_is(argv[1], "checks"))
        return el_checks(ctx);
    tm_el_job *job = RedisModule_Alloc(sizeof(*job));
    if (arg_is(argv[1], "pipe")) {
        if (pipe(job->fds) != 0) {
            RedisModule_Free(job);
            return RedisModule_ReplyWithError(ctx, "ERR pipe failed");
        }
        job->bc = RedisModule_BlockClient(ctx, NULL, NULL, NULL, 0);
        RedisModule_EventLoopAdd(job->fds[0], TM_EVENTLOOP_READABLE, el_on_readable, job);
        RedisModule_EventLoopAdd(job->fds[1], TM_EVENTLOOP_WRITABLE, el_on_writable, job);
        return KM_OK;
    }
    if (arg_is(argv[1], "error")) {
        job->bc = RedisModule_BlockClient(ctx, NULL, NULL, NULL, 0);
        RedisModule_EventLoopAddOneShot(el_oneshot_error, job);
        return KM_OK;
    }
    if (arg_is(argv[1], "oneshot")) {
        job->bc = RedisModule_BlockClient(ctx, NULL, NULL, NULL, 0);
        if (thread_start(el_thread, job) != 0) {
            el_answer(job, "no thread");
            return KM_OK;
        }
        return KM_OK;
    }
    RedisModule_Free(job);
    return RedisModule_ReplyWithError(ctx, "ERR unknown tm.el subcommand");
}

/* ---- smaller functions */

/* tm.misc4 reset restart_aof async: ResetDataset. tm.misc4 dictsize n:
 * MallocSizeDict of a new dict of n keys. tm.misc4 cert: this client's
 * GetClientCertificate (nil without one). tm.misc4 err text: ReplyWith-
 * Error(text) as given. */
static int cmd_misc4(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, "ResetDataset MallocSizeDict GetClientCertificate"))
        return KM_OK;
    if (argc == 4 && arg_is(argv[1], "reset")) {
        long long aof, async;
        RedisModule_StringToLongLong(argv[2], &aof);
        RedisModule_StringToLongLong(argv[3], &async);
        RedisModule_ResetDataset((int)aof, (int)async);
        return RedisModule_ReplyWithSimpleString(ctx, "OK");
    }
    if (argc == 3 && arg_is(argv[1], "dictsize")) {
        long long n;
        RedisModule_StringToLongLong(argv[2], &n);
        km_dict *d = RedisModule_CreateDict(NULL);
        for (long long i = 0; i < n; i++) {
            char key[32];
            int len = snprintf(key, sizeof(key), "key:%lld", i);
            RedisModule_DictSetC(d, key, (size_t)len, NULL);
        }
        size_t size = RedisModule_MallocSizeDict(d);
        RedisModule_FreeDict(NULL, d);
        return RedisModule_ReplyWithLongLong(ctx, (long long)size);
    }
    if (argc == 2 && arg_is(argv[1], "cert")) {
        km_string *cert = RedisModule_GetClientCertificate(ctx, RedisModule_GetClientId(ctx));
        if (!cert)
            return RedisModule_ReplyWithNull(ctx);
        RedisModule_ReplyWithString(ctx, cert);
        RedisModule_FreeString(ctx, cert);
        return KM_OK;
    }
    if (argc == 3 && arg_is(argv[1], "err"))
        return RedisModule_ReplyWithError(ctx, str_of(argv[2], NULL));
    return RedisModule_WrongArity(ctx);
}

/* tm.weird:cmd: a name with a ':' (INFO commandstats writes '_'). */
static int cmd_weird(km_ctx *ctx, km_string **argv, int argc)
{
    (void)argv;
    (void)argc;
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

/* ---- Yield */

static volatile int slow_stop;

/* tm.slow ms clients|none: works for ms milliseconds (0: until
 * tm.slowstop), yielding every millisecond with the CLIENTS flag or
 * none, "tm is busy" as the -BUSY text. Replies the loops it made > 0. */
static int cmd_slow(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, "Yield"))
        return KM_OK;
    long long ms;
    if (argc != 3 || RedisModule_StringToLongLong(argv[1], &ms) != KM_OK)
        return RedisModule_WrongArity(ctx);
    int flags = arg_is(argv[2], "clients") ? TM_YIELD_FLAG_CLIENTS : TM_YIELD_FLAG_NONE;
    uint64_t start = RedisModule_MonotonicMicroseconds();
    long long loops = 0;
    slow_stop = 0;
    while (!slow_stop && (ms == 0 || RedisModule_MonotonicMicroseconds() - start < (uint64_t)ms * 1000)) {
        RedisModule_Yield(ctx, flags, "tm is busy");
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        loops++;
    }
    slow_stop = 0;
    return RedisModule_ReplyWithSimpleString(ctx, loops > 0 ? "done" : "none");
}

/* tm.slowbg clients|none: as tm.slow 0, in a thread holding the lock
 * (a thread-safe context's Yield); the blocked client gets "done". */
static void *slowbg_thread(void *arg)
{
    tm_el_job *job = arg;
    km_ctx *ts = RedisModule_GetThreadSafeContext(job->bc);
    RedisModule_ThreadSafeContextLock(ts);
    while (!slow_stop) {
        RedisModule_Yield(ts, job->fds[0], "tm is busy");
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
    slow_stop = 0;
    RedisModule_ThreadSafeContextUnlock(ts);
    RedisModule_ReplyWithSimpleString(ts, "done");
    RedisModule_FreeThreadSafeContext(ts);
    RedisModule_UnblockClient(job->bc, NULL);
    RedisModule_Free(job);
    return NULL;
}

static int cmd_slowbg(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, "Yield"))
        return KM_OK;
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    tm_el_job *job = RedisModule_Alloc(sizeof(*job));
    job->fds[0] = arg_is(argv[1], "clients") ? TM_YIELD_FLAG_CLIENTS : TM_YIELD_FLAG_NONE;
    slow_stop = 0;
    job->bc = RedisModule_BlockClient(ctx, NULL, NULL, NULL, 0);
    if (thread_start(slowbg_thread, job) != 0) {
        el_answer(job, "no thread");
        return KM_OK;
    }
    return KM_OK;
}

/* tm.slowstop (allow-busy): ends a tm.slow 0. */
static int cmd_slowstop(km_ctx *ctx, km_string **argv, int argc)
{
    (void)argv;
    (void)argc;
    slow_stop = 1;
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

/* ------------------------------------------------------------------ API coverage: replies and key positions */

/* Commands for RESP3 attributes (ReplyWithAttribute, ReplySetAttribute-
 * Length, CallReplyAttribute(Element)) and for commands that name their
 * keys or channels when asked (KeyAtPosWithFlags, IsChannelsPosition-
 * Request, ChannelAtPosWithFlags); tests/integration/
 * test_modules_replies.py. Their functions have their own table (TM_API6).
 * OnLoad gives tm.posspec its key spec (register_keypos_info). */

#define TM_API6(X)                                                                                                     \
    X(int, ReplyWithAttribute, (km_ctx * ctx, long len))                                                               \
    X(void, ReplySetAttributeLength, (km_ctx * ctx, long len))                                                         \
    X(km_call_reply *, CallReplyAttribute, (km_call_reply * reply))                                                    \
    X(int, CallReplyAttributeElement, (km_call_reply * reply, size_t idx, km_call_reply * *key, km_call_reply * *val)) \
    X(void, KeyAtPosWithFlags, (km_ctx * ctx, int pos, int flags))                                                     \
    X(int, IsChannelsPositionRequest, (km_ctx * ctx))                                                                  \
    X(void, ChannelAtPosWithFlags, (km_ctx * ctx, int pos, int flags))

#define TM_DECLARE6(ret, name, params) static ret(*RedisModule_##name) params;
TM_API6(TM_DECLARE6)
#undef TM_DECLARE6

/* ---- attributes */

/* tm.attr <n> [POSTPONED]: an attribute of n pairs ("k<i>" -> i, its
 * length given at once or postponed), then the reply it describes, the
 * bulk "value". A client speaking RESP2 gets "ERR no attributes in RESP2".
 * tm.attr NESTED: an array (postponed) holding an attribute (postponed,
 * one pair) before its first element, ReplyWithAttribute's answer (1 when
 * it refused), then "x"; ReplySetAttributeLength is called either way.
 * tm.attr LIE: an attribute said to hold a billion pairs, holding one
 * (only for tm.attrcall: a client would wait for the rest). */
static int cmd_attr(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, "ReplyWithAttribute ReplySetAttributeLength"))
        return KM_OK;
    if (argc == 2 && arg_is(argv[1], "NESTED")) {
        RedisModule_ReplyWithArray(ctx, KM_POSTPONED_LEN);
        int refused = RedisModule_ReplyWithAttribute(ctx, KM_POSTPONED_LEN) != KM_OK;
        if (!refused) {
            RedisModule_ReplyWithCString(ctx, "source");
            RedisModule_ReplyWithCString(ctx, "tm");
        }
        /* A no-op after a refusal: the array's length stays open. */
        RedisModule_ReplySetAttributeLength(ctx, 1);
        RedisModule_ReplyWithLongLong(ctx, refused);
        RedisModule_ReplyWithCString(ctx, "x");
        RedisModule_ReplySetArrayLength(ctx, 2);
        return KM_OK;
    }
    if (argc == 2 && arg_is(argv[1], "LIE")) {
        /* A length it does not keep to: a billion pairs, then one. */
        if (RedisModule_ReplyWithAttribute(ctx, 1000000000L) != KM_OK)
            return RedisModule_ReplyWithError(ctx, "ERR no attributes in RESP2");
        RedisModule_ReplyWithCString(ctx, "k");
        RedisModule_ReplyWithLongLong(ctx, 1);
        return RedisModule_ReplyWithCString(ctx, "value");
    }
    long long n;
    if ((argc != 2 && argc != 3) || (argc == 3 && !arg_is(argv[2], "POSTPONED")))
        return RedisModule_WrongArity(ctx);
    if (RedisModule_StringToLongLong(argv[1], &n) != KM_OK || n < 0 || n > 100)
        return RedisModule_ReplyWithError(ctx, "ERR bad attribute count");
    if (RedisModule_ReplyWithAttribute(ctx, argc == 3 ? KM_POSTPONED_LEN : (long)n) != KM_OK)
        return RedisModule_ReplyWithError(ctx, "ERR no attributes in RESP2");
    for (long long i = 0; i < n; i++) {
        char key[32];
        snprintf(key, sizeof(key), "k%lld", i);
        RedisModule_ReplyWithCString(ctx, key);
        RedisModule_ReplyWithLongLong(ctx, i);
    }
    if (argc == 3)
        RedisModule_ReplySetAttributeLength(ctx, (long)n);
    return RedisModule_ReplyWithCString(ctx, "value");
}

/* A call reply's bytes as a bulk string. */
static void reply_with_proto(km_ctx *ctx, km_call_reply *r)
{
    size_t len = 0;
    const char *p = r ? RedisModule_CallReplyProto(r, &len) : NULL;
    if (p)
        RedisModule_ReplyWithStringBuffer(ctx, p, len);
    else
        RedisModule_ReplyWithNull(ctx);
}

/* tm.attrcall READ <command> [arg ...]: calls the command for a RESP3
 * reply and describes it: [its type, its bytes, its attribute or -1]; an
 * attribute as [its type, its length, each pair as [key bytes, value
 * bytes] or "ERR" where CallReplyAttributeElement refused, whether the
 * element past the last is refused (1), whether the reply itself is
 * refused as an attribute (1)].
 * tm.attrcall FORWARD <command> [arg ...]: passes the reply on
 * (ReplyWithCallReply), or "ERR refused" when that refuses it. Both read
 * the reply's type first, as Redis 7.0 needs (see ATTRFIRST).
 * tm.attrcall ATTRFIRST <command> [arg ...]: the length of the reply's
 * attribute (-1: none) asked before anything else is read. */
static int cmd_attrcall(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, "CallReplyAttribute CallReplyAttributeElement"))
        return KM_OK;
    if (argc < 3)
        return RedisModule_WrongArity(ctx);
    char *name = arg_dup(argv[2]);
    km_call_reply *r = RedisModule_Call(ctx, name, "3v", argv + 3, (size_t)(argc - 3));
    RedisModule_Free(name);
    if (!r)
        return RedisModule_ReplyWithError(ctx, "ERR call failed");
    if (arg_is(argv[1], "ATTRFIRST")) {
        km_call_reply *early = RedisModule_CallReplyAttribute(r);
        RedisModule_ReplyWithLongLong(ctx, early ? (long long)RedisModule_CallReplyLength(early) : -1);
        RedisModule_FreeCallReply(r);
        return KM_OK;
    }
    /* Redis 7.0 parses a call reply when it is first read: before that it
     * knows of no attribute, nor that the reply is RESP3. */
    int type = RedisModule_CallReplyType(r);
    if (arg_is(argv[1], "FORWARD")) {
        if (RedisModule_ReplyWithCallReply(ctx, r) != KM_OK)
            RedisModule_ReplyWithError(ctx, "ERR refused");
        RedisModule_FreeCallReply(r);
        return KM_OK;
    }
    km_call_reply *attr = RedisModule_CallReplyAttribute(r);
    km_call_reply *k, *v;
    RedisModule_ReplyWithArray(ctx, 3);
    RedisModule_ReplyWithLongLong(ctx, type);
    reply_with_proto(ctx, r);
    if (!attr) {
        RedisModule_ReplyWithLongLong(ctx, -1);
    } else {
        size_t n = RedisModule_CallReplyLength(attr);
        RedisModule_ReplyWithArray(ctx, (long)n + 4);
        RedisModule_ReplyWithLongLong(ctx, RedisModule_CallReplyType(attr));
        RedisModule_ReplyWithLongLong(ctx, (long long)n);
        for (size_t i = 0; i < n; i++) {
            if (RedisModule_CallReplyAttributeElement(attr, i, &k, &v) != KM_OK) {
                RedisModule_ReplyWithCString(ctx, "ERR");
                continue;
            }
            RedisModule_ReplyWithArray(ctx, 2);
            reply_with_proto(ctx, k);
            reply_with_proto(ctx, v);
        }
        RedisModule_ReplyWithLongLong(ctx, RedisModule_CallReplyAttributeElement(attr, n, &k, &v) == KM_ERR);
        RedisModule_ReplyWithLongLong(ctx, RedisModule_CallReplyAttributeElement(r, 0, &k, &v) == KM_ERR);
    }
    RedisModule_FreeCallReply(r);
    return KM_OK;
}

/* ---- key positions */

/* A key's flags by name: RO (read), OW (overwritten unread), RM
 * (removed), RW (read and changed); 0 for LEGACY (KeyAtPos, which says
 * RW access update), -1 for an unknown word. */
static int pos_flags(km_string *how)
{
    if (arg_is(how, "RO"))
        return (int)(TM_CMD_KEY_RO | TM_CMD_KEY_ACCESS);
    if (arg_is(how, "OW"))
        return (int)(TM_CMD_KEY_OW | TM_CMD_KEY_UPDATE);
    if (arg_is(how, "RM"))
        return (int)(TM_CMD_KEY_RM | TM_CMD_KEY_DELETE);
    if (arg_is(how, "RW"))
        return (int)(TM_CMD_KEY_RW | TM_CMD_KEY_ACCESS | TM_CMD_KEY_INSERT);
    return arg_is(how, "LEGACY") ? 0 : -1;
}

/* tm.posflags / tm.posrange / tm.posspec <how> <key> [<how> <key> ...]
 * (getkeys-api; how: pos_flags' words): asked for its keys, names each
 * with its flags; run, replies [IsKeysPositionRequest (0), the keys].
 * tm.posrange also gave the legacy range (2, -1, 2), tm.posspec a key
 * spec (the argument at 2, RO access): the spec is preferred to asking.
 * The word PAST names a position past the arguments instead (Keel leaves
 * it out; Redis 7.0 would read past argv). */
static int cmd_posflags(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, "IsKeysPositionRequest KeyAtPos KeyAtPosWithFlags"))
        return KM_OK;
    if (RedisModule_IsKeysPositionRequest(ctx)) {
        for (int i = 1; i + 1 < argc; i += 2) {
            int flags = pos_flags(argv[i]);
            if (arg_is(argv[i], "PAST"))
                RedisModule_KeyAtPosWithFlags(ctx, argc + 3, (int)(TM_CMD_KEY_RO | TM_CMD_KEY_ACCESS));
            else if (flags > 0)
                RedisModule_KeyAtPosWithFlags(ctx, i + 1, flags);
            else if (flags == 0)
                RedisModule_KeyAtPos(ctx, i + 1);
        }
        return KM_OK;
    }
    if (argc % 2 != 1)
        return RedisModule_WrongArity(ctx);
    RedisModule_ReplyWithArray(ctx, (argc - 1) / 2 + 1);
    RedisModule_ReplyWithLongLong(ctx, RedisModule_IsKeysPositionRequest(ctx));
    for (int i = 2; i < argc; i += 2)
        RedisModule_ReplyWithString(ctx, argv[i]);
    return KM_OK;
}

static tm_cmd_keyspec posspec_keyspecs[] = {
    {.flags = TM_CMD_KEY_RO | TM_CMD_KEY_ACCESS,
     .begin_search_type = TM_KSPEC_BS_INDEX,
     .bs.index.pos = 2,
     .find_keys_type = TM_KSPEC_FK_RANGE,
     .fk.range = {0, 1, 0}},
    {0},
};
static tm_cmd_info posspec_info = {.version = &tm_cmd_info_v1, .key_specs = posspec_keyspecs};

static int register_keypos_info(km_ctx *ctx)
{
    if (!RedisModule_GetCommand || !RedisModule_SetCommandInfo)
        return KM_OK;
    return RedisModule_SetCommandInfo(RedisModule_GetCommand(ctx, "tm.posspec"), &posspec_info);
}

/* ---- channel positions */

/* tm.chan <how> <channel> [<how> <channel> ...] (getchannels-api; how:
 * letters P publish, S subscribe, U unsubscribe, * a pattern): asked for
 * its channels, names each with its flags. It replies either way (a
 * request's replies go nowhere): [IsChannelsPositionRequest,
 * IsKeysPositionRequest, the number of channels]. */
static int cmd_chan(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, "IsChannelsPositionRequest ChannelAtPosWithFlags"))
        return KM_OK;
    if (argc % 2 != 1)
        return RedisModule_WrongArity(ctx);
    int request = RedisModule_IsChannelsPositionRequest(ctx);
    for (int i = 1; request && i + 1 < argc; i += 2) {
        size_t len;
        const char *how = str_of(argv[i], &len);
        int flags = 0;
        for (size_t j = 0; j < len; j++) {
            flags |= how[j] == 'P'   ? KM_CMD_CHANNEL_PUBLISH
                     : how[j] == 'S' ? KM_CMD_CHANNEL_SUBSCRIBE
                     : how[j] == 'U' ? KM_CMD_CHANNEL_UNSUBSCRIBE
                     : how[j] == '*' ? KM_CMD_CHANNEL_PATTERN
                                     : 0;
        }
        RedisModule_ChannelAtPosWithFlags(ctx, i + 1, flags);
    }
    RedisModule_ReplyWithArray(ctx, 3);
    RedisModule_ReplyWithLongLong(ctx, request);
    RedisModule_ReplyWithLongLong(ctx, RedisModule_IsKeysPositionRequest(ctx));
    return RedisModule_ReplyWithLongLong(ctx, (argc - 1) / 2);
}

/* ------------------------------------------------------------------ API coverage: data type callbacks */

/* Commands for the data-type functions of Redis 7.0 Keel added last
 * (tests/integration/test_modules_types2.py): a value to and from a
 * string (SaveDataTypeToString, LoadDataTypeFromString(Encver)), the key
 * and db an IO or a digest is for, and the callbacks a type is told a
 * key's fate by: unlink and free_effort (version 3), and mem_usage2,
 * free_effort2, unlink2 and copy2 (version 4) with their context's
 * getters. Two types hold the same value: testtype4 gives both the
 * version 3 and the version 4 forms (the server must take the version 4
 * ones: the version 3 ones log "v3" lines that must not appear),
 * testtype3 only the version 3 forms. Their rdb_load can also wait,
 * yielding (Yield), for tm.dtyield. Their functions have their own table
 * (TM_API5). */

#define TM_API5(X)                                                                                                     \
    X(km_string *, SaveDataTypeToString, (km_ctx * ctx, void *data, const km_type *mt))                                \
    X(void *, LoadDataTypeFromString, (const km_string *str, const km_type *mt))                                       \
    X(void *, LoadDataTypeFromStringEncver, (const km_string *str, const km_type *mt, int encver))                     \
    X(int, GetDbIdFromIO, (km_io * io))                                                                                \
    X(const km_string *, GetKeyNameFromDigest, (km_digest * md))                                                       \
    X(int, GetDbIdFromDigest, (km_digest * md))                                                                        \
    X(const km_string *, GetKeyNameFromOptCtx, (km_key_opt_ctx * ctx))                                                 \
    X(const km_string *, GetToKeyNameFromOptCtx, (km_key_opt_ctx * ctx))                                               \
    X(int, GetDbIdFromOptCtx, (km_key_opt_ctx * ctx))                                                                  \
    X(int, GetToDbIdFromOptCtx, (km_key_opt_ctx * ctx))                                                                \
    X(void, Yield, (km_ctx * ctx, int flags, const char *busy_reply))

#define TM_DECLARE5(ret, name, params) static ret(*RedisModule_##name) params;
TM_API5(TM_DECLARE5)
#undef TM_DECLARE5

#define DT_APIS                                                                                                        \
    "SaveDataTypeToString LoadDataTypeFromString LoadDataTypeFromStringEncver GetDbIdFromIO GetKeyNameFromDigest "     \
    "GetDbIdFromDigest GetKeyNameFromOptCtx GetToKeyNameFromOptCtx GetDbIdFromOptCtx GetToDbIdFromOptCtx"

/* A value: the free effort its callbacks report, and a word saying where
 * it came from (given to tm.dt set, or "aof:db<n>" when an AOF rewrite
 * remade it). failcopy makes copy and copy2 fail. */
typedef struct {
    long long effort;
    char *origin;
    int fail_copy;
} tm_dt;

static km_type *tm_dt4, *tm_dt3;
/* What the callbacks saw, one line each (tm.dt log). free_effort is
 * asked only on the lazy-free paths in Redis, so it is not logged there:
 * the last key and db it was told are kept apart (tm.dt lasteffort). */
static tm_log dt_log = {PTHREAD_MUTEX_INITIALIZER, {{0}}, 0};
/* tm.dtyield: rdb_load waits (yielding) while slow_load is set; in_slow_load
 * says it is waiting. */
static volatile int dt_slow_load, dt_in_slow_load;
static char dt_effort_key[64] = "";
static int dt_effort_db = -2;

static tm_dt *dt_new(long long effort, const char *origin, size_t len)
{
    tm_dt *v = RedisModule_Alloc(sizeof(*v));
    v->effort = effort;
    v->origin = RedisModule_Alloc(len + 1);
    memcpy(v->origin, origin, len);
    v->origin[len] = '\0';
    v->fail_copy = 0;
    return v;
}

static void dt_free(void *value)
{
    tm_dt *v = value;
    RedisModule_Free(v->origin);
    RedisModule_Free(v);
}

/* A key name as text for the log ("(null)" for none). */
static const char *dt_name(const km_string *s, char *buf, size_t size)
{
    if (!s)
        return "(null)";
    size_t len;
    const char *p = RedisModule_StringPtrLen(s, &len);
    snprintf(buf, size, "%.*s", (int)len, p);
    return buf;
}

static void dt_rdb_save(km_io *io, void *value)
{
    tm_dt *v = value;
    char k[64];
    log_add(&dt_log, "save key=%s db=%d", dt_name(RedisModule_GetKeyNameFromIO(io), k, sizeof(k)),
            RedisModule_GetDbIdFromIO(io));
    RedisModule_SaveSigned(io, v->effort);
    RedisModule_SaveStringBuffer(io, v->origin, strlen(v->origin));
}

static void *dt_rdb_load(km_io *io, int encver)
{
    char k[64];
    log_add(&dt_log, "load key=%s db=%d encver=%d", dt_name(RedisModule_GetKeyNameFromIO(io), k, sizeof(k)),
            RedisModule_GetDbIdFromIO(io), encver);
    long long effort = RedisModule_LoadSigned(io);
    if (RedisModule_IsIOError(io))
        return NULL;
    size_t len;
    char *origin = RedisModule_LoadStringBuffer(io, &len);
    if (RedisModule_IsIOError(io)) {
        if (origin)
            RedisModule_Free(origin);
        return NULL;
    }
    tm_dt *v = dt_new(effort, origin, len);
    RedisModule_Free(origin);
    /* Waits, letting the server serve its clients, until tm.dtyield slow 0
     * (or 10 seconds, so that a failed test cannot hang the server). */
    km_ctx *ctx = RedisModule_GetContextFromIO(io);
    dt_in_slow_load = dt_slow_load;
    for (int waited = 0; dt_slow_load && waited < 10000; waited++) {
        RedisModule_Yield(ctx, KM_YIELD_FLAG_CLIENTS, "testmod is loading slowly");
        sleep_ms(1);
    }
    dt_in_slow_load = 0;
    return v;
}

/* Remade as "tm.dt set4|set3 key effort aof:db<n>": the db the IO names. */
static void dt_aof_rewrite(km_io *aof, km_string *key, void *value)
{
    tm_dt *v = value;
    char origin[32];
    snprintf(origin, sizeof(origin), "aof:db%d", RedisModule_GetDbIdFromIO(aof));
    RedisModule_EmitAOF(aof, "tm.dt", "cslc", v->origin[0] == '3' ? "set3" : "set4", key, v->effort, origin);
}

/* The key and db folded in after the value, so the same value under
 * another name or in another db digests differently. */
static void dt_digest(km_digest *md, void *value)
{
    tm_dt *v = value;
    char k[64];
    const km_string *key = RedisModule_GetKeyNameFromDigest(md);
    int db = RedisModule_GetDbIdFromDigest(md);
    log_add(&dt_log, "digest key=%s db=%d", dt_name(key, k, sizeof(k)), db);
    RedisModule_DigestAddLongLong(md, v->effort);
    RedisModule_DigestAddStringBuffer(md, v->origin, strlen(v->origin));
    if (key) {
        size_t len;
        const char *p = RedisModule_StringPtrLen(key, &len);
        RedisModule_DigestAddStringBuffer(md, p, len);
    }
    RedisModule_DigestAddLongLong(md, db);
    RedisModule_DigestEndSequence(md);
}

/* mem_usage (version 1) is never asked when mem_usage2 is given. */
static size_t dt_mem_usage(const void *value)
{
    (void)value;
    log_add(&dt_log, "mem v1");
    return 0;
}

/* MEMORY USAGE's share: 1000000 per db number (from 1), 1000 while the
 * key is still the name the value was set under, and the sample count
 * (999 at most). */
static size_t dt_mem_usage2(km_key_opt_ctx *ctx, const void *value, size_t samples)
{
    (void)value;
    size_t n = 1000000 * (size_t)(RedisModule_GetDbIdFromOptCtx(ctx) + 1) + (samples > 999 ? 999 : samples);
    size_t len;
    const char *p = RedisModule_StringPtrLen(RedisModule_GetKeyNameFromOptCtx(ctx), &len);
    const tm_dt *v = value;
    const char *at = strchr(v->origin, '@');
    if (at && strlen(at + 1) == len && memcmp(at + 1, p, len) == 0)
        n += 1000;
    return n;
}

static void dt_note_effort(const km_string *key, int db)
{
    char k[64];
    snprintf(dt_effort_key, sizeof(dt_effort_key), "%s", dt_name(key, k, sizeof(k)));
    dt_effort_db = db;
}

static size_t dt_free_effort(km_string *key, const void *value)
{
    const tm_dt *v = value;
    if (v->origin[0] != '3')
        log_add(&dt_log, "effort v3");
    dt_note_effort(key, -1);
    return (size_t)v->effort;
}

static size_t dt_free_effort2(km_key_opt_ctx *ctx, const void *value)
{
    const tm_dt *v = value;
    dt_note_effort(RedisModule_GetKeyNameFromOptCtx(ctx), RedisModule_GetDbIdFromOptCtx(ctx));
    return (size_t)v->effort;
}

static void dt_unlink(km_string *key, const void *value)
{
    (void)value;
    char k[64];
    log_add(&dt_log, "unlink v3 key=%s", dt_name(key, k, sizeof(k)));
}

static void dt_unlink2(km_key_opt_ctx *ctx, const void *value)
{
    (void)value;
    char k[64], t[64];
    log_add(&dt_log, "unlink2 key=%s db=%d to=%s/%d", dt_name(RedisModule_GetKeyNameFromOptCtx(ctx), k, sizeof(k)),
            RedisModule_GetDbIdFromOptCtx(ctx), dt_name(RedisModule_GetToKeyNameFromOptCtx(ctx), t, sizeof(t)),
            RedisModule_GetToDbIdFromOptCtx(ctx));
}

static void *dt_copy_of(const tm_dt *v)
{
    if (v->fail_copy)
        return NULL;
    return dt_new(v->effort, v->origin, strlen(v->origin));
}

static void *dt_copy(km_string *fromkey, km_string *tokey, const void *value)
{
    char f[64], t[64];
    log_add(&dt_log, "copy v3 from=%s to=%s", dt_name(fromkey, f, sizeof(f)), dt_name(tokey, t, sizeof(t)));
    return dt_copy_of(value);
}

static void *dt_copy2(km_key_opt_ctx *ctx, const void *value)
{
    char f[64], t[64];
    log_add(&dt_log, "copy2 from=%s/%d to=%s/%d", dt_name(RedisModule_GetKeyNameFromOptCtx(ctx), f, sizeof(f)),
            RedisModule_GetDbIdFromOptCtx(ctx), dt_name(RedisModule_GetToKeyNameFromOptCtx(ctx), t, sizeof(t)),
            RedisModule_GetToDbIdFromOptCtx(ctx));
    return dt_copy_of(value);
}

static int dt_register(km_ctx *ctx)
{
    km_type_methods m4 = {
        .version = KM_TYPE_METHOD_VERSION,
        .rdb_load = dt_rdb_load,
        .rdb_save = dt_rdb_save,
        .aof_rewrite = dt_aof_rewrite,
        .mem_usage = dt_mem_usage,
        .digest = dt_digest,
        .free = dt_free,
        .free_effort = dt_free_effort,
        .unlink = dt_unlink,
        .copy = dt_copy,
        .mem_usage2 = dt_mem_usage2,
        .free_effort2 = dt_free_effort2,
        .unlink2 = dt_unlink2,
        .copy2 = dt_copy2,
    };
    tm_dt4 = RedisModule_CreateDataType(ctx, "testtype4", 1, &m4);
    /* Version 3: what lies beyond (the version 4 fields) is not read. */
    km_type_methods m3 = {
        .version = 3,
        .rdb_load = dt_rdb_load,
        .rdb_save = dt_rdb_save,
        .aof_rewrite = dt_aof_rewrite,
        .digest = dt_digest,
        .free = dt_free,
        .free_effort = dt_free_effort,
        .unlink = dt_unlink,
        .copy = dt_copy,
        .unlink2 = dt_unlink2,
    };
    tm_dt3 = RedisModule_CreateDataType(ctx, "testtype3", 1, &m3);
    return tm_dt4 && tm_dt3 ? KM_OK : KM_ERR;
}

/* The key's testtype4 or testtype3 value (NULL, and an error replied,
 * when it holds something else or nothing). */
static tm_dt *dt_value(km_ctx *ctx, km_key *key)
{
    km_type *t = RedisModule_KeyType(key) == KM_KEYTYPE_MODULE ? RedisModule_ModuleTypeGetType(key) : NULL;
    if (RedisModule_KeyType(key) == KM_KEYTYPE_EMPTY) {
        RedisModule_ReplyWithError(ctx, "ERR no such key");
        return NULL;
    }
    if (!t || (t != tm_dt4 && t != tm_dt3)) {
        RedisModule_ReplyWithError(ctx, WRONGTYPE_MSG);
        return NULL;
    }
    return RedisModule_ModuleTypeGetValue(key);
}

static int dt_set(km_ctx *ctx, km_string *name, km_type *t, tm_dt *v)
{
    km_key *key = RedisModule_OpenKey(ctx, name, KM_READ | KM_WRITE);
    RedisModule_ModuleTypeSetValue(key, t, v);
    RedisModule_CloseKey(key);
    RedisModule_ReplicateVerbatim(ctx);
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

/* tm.dt set4|set3 key effort [origin|failcopy]: a testtype4 / testtype3
 * value (origin defaults to "<3|4>@<key>", which mem_usage2 compares with
 * the key it is told; the origin of a testtype3 value starts with 3).
 * tm.dt get key: [effort, origin]. tm.dt dump key: SaveDataTypeToString
 * of its value. tm.dt restore key bytes [encver]: a testtype4 value from
 * LoadDataTypeFromStringEncver (LoadDataTypeFromString without encver),
 * "ERR Invalid payload" when it gives none. tm.dt log: the callbacks'
 * lines, emptied. tm.dt lasteffort: [key, db] the last free_effort(2)
 * was told (db -1 for the version 3 form), then forgotten. */
static int cmd_dt(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, DT_APIS))
        return KM_OK;
    if (!tm_dt4)
        return RedisModule_ReplyWithError(ctx, "ERR testtype4 is not registered (loaded with notype)");
    if (argc == 2 && arg_is(argv[1], "log"))
        return log_reply(ctx, &dt_log);
    if (argc == 2 && arg_is(argv[1], "lasteffort")) {
        RedisModule_ReplyWithArray(ctx, 2);
        RedisModule_ReplyWithCString(ctx, dt_effort_key);
        RedisModule_ReplyWithLongLong(ctx, dt_effort_db);
        dt_effort_key[0] = '\0';
        dt_effort_db = -2;
        return KM_OK;
    }
    if (argc < 3)
        return RedisModule_WrongArity(ctx);
    int set4 = arg_is(argv[1], "set4"), set3 = arg_is(argv[1], "set3");
    if (set4 || set3) {
        long long effort;
        if (argc != 4 && argc != 5)
            return RedisModule_WrongArity(ctx);
        if (RedisModule_StringToLongLong(argv[3], &effort) != KM_OK || effort < 0)
            return RedisModule_ReplyWithError(ctx, "ERR effort must be a non-negative integer");
        size_t klen;
        const char *kp = str_of(argv[2], &klen);
        char origin[512];
        int failcopy = argc == 5 && arg_is(argv[4], "failcopy");
        if (argc == 5 && !failcopy) {
            size_t olen;
            const char *op = str_of(argv[4], &olen);
            snprintf(origin, sizeof(origin), "%s%.*s", set3 && op[0] != '3' ? "3" : "", (int)olen, op);
        } else {
            snprintf(origin, sizeof(origin), "%c@%.*s", set3 ? '3' : '4', (int)klen, kp);
        }
        km_key *key = RedisModule_OpenKey(ctx, argv[2], KM_READ | KM_WRITE);
        int type = RedisModule_KeyType(key);
        RedisModule_CloseKey(key);
        if (type != KM_KEYTYPE_EMPTY && type != KM_KEYTYPE_MODULE)
            return RedisModule_ReplyWithError(ctx, WRONGTYPE_MSG);
        tm_dt *v = dt_new(effort, origin, strlen(origin));
        v->fail_copy = failcopy;
        return dt_set(ctx, argv[2], set3 ? tm_dt3 : tm_dt4, v);
    }
    if (arg_is(argv[1], "restore")) {
        long long encver = -1;
        if (argc != 4 && argc != 5)
            return RedisModule_WrongArity(ctx);
        if (argc == 5 && RedisModule_StringToLongLong(argv[4], &encver) != KM_OK)
            return RedisModule_ReplyWithError(ctx, "ERR encver must be an integer");
        tm_dt *v = argc == 5 ? RedisModule_LoadDataTypeFromStringEncver(argv[3], tm_dt4, (int)encver)
                             : RedisModule_LoadDataTypeFromString(argv[3], tm_dt4);
        if (!v)
            return RedisModule_ReplyWithError(ctx, "ERR Invalid payload");
        return dt_set(ctx, argv[2], tm_dt4, v);
    }
    if (argc != 3 || (!arg_is(argv[1], "get") && !arg_is(argv[1], "dump")))
        return RedisModule_WrongArity(ctx);
    km_key *key = RedisModule_OpenKey(ctx, argv[2], KM_READ);
    tm_dt *v = dt_value(ctx, key);
    if (v && arg_is(argv[1], "get")) {
        RedisModule_ReplyWithArray(ctx, 2);
        RedisModule_ReplyWithLongLong(ctx, v->effort);
        RedisModule_ReplyWithCString(ctx, v->origin);
    } else if (v) {
        km_string *s = RedisModule_SaveDataTypeToString(ctx, v, RedisModule_ModuleTypeGetType(key));
        if (s) {
            RedisModule_ReplyWithString(ctx, s);
            RedisModule_FreeString(ctx, s); /* no automatic memory here */
        } else {
            RedisModule_ReplyWithError(ctx, "ERR SaveDataTypeToString failed");
        }
    }
    RedisModule_CloseKey(key);
    return KM_OK;
}

/* tm.dtyield slow 0|1: whether testtype4/3 values load slowly (their
 * rdb_load yields until slow 0). tm.dtyield state: 1 while one waits. It
 * may run while the server loads (allow-loading). */
static int cmd_dtyield(km_ctx *ctx, km_string **argv, int argc)
{
    if (lacks(ctx, "Yield"))
        return KM_OK;
    if (argc == 2 && arg_is(argv[1], "state"))
        return RedisModule_ReplyWithLongLong(ctx, dt_in_slow_load);
    long long on;
    if (argc != 3 || !arg_is(argv[1], "slow") || RedisModule_StringToLongLong(argv[2], &on) != KM_OK)
        return RedisModule_WrongArity(ctx);
    dt_slow_load = on != 0;
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

/* ------------------------------------------------------------------ API coverage: propagation and ACL */

/* What a module writes outside a command (a timer, a thread holding the
 * lock, a keyspace-event callback during active expiry or eviction) and
 * through a Call without "!" of a key found expired: how it reaches
 * replicas and the AOF; tests/integration/test_modules_propagate.py. The
 * keys written are named "prop:..." so the tests can read the stream. */

static void prop_timer_fired(km_ctx *ctx, void *data)
{
    (void)data;
    RedisModule_Replicate(ctx, "INCR", "c", "prop:timer-a");
    km_call_reply *r = RedisModule_Call(ctx, "INCR", "c!", "prop:timer-b");
    if (r)
        RedisModule_FreeCallReply(r);
    RedisModule_Replicate(ctx, "INCR", "c", "prop:timer-c");
}

/* tm.prop.timer: in 1 ms a timer replicates INCR prop:timer-a, runs INCR
 * prop:timer-b with "!" and replicates INCR prop:timer-c. */
static int cmd_prop_timer(km_ctx *ctx, km_string **argv, int argc)
{
    (void)argv;
    if (argc != 1)
        return RedisModule_WrongArity(ctx);
    RedisModule_CreateTimer(ctx, 1, prop_timer_fired, NULL);
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

typedef struct {
    km_ctx *tctx;
    int db;
} tm_prop_job;

static void *prop_thread(void *arg)
{
    tm_prop_job *job = arg;
    RedisModule_SelectDb(job->tctx, job->db);
    RedisModule_ThreadSafeContextLock(job->tctx);
    RedisModule_Replicate(job->tctx, "INCR", "c", "prop:thread-a");
    km_call_reply *r = RedisModule_Call(job->tctx, "INCR", "c!", "prop:thread-b");
    if (r)
        RedisModule_FreeCallReply(r);
    RedisModule_ThreadSafeContextUnlock(job->tctx);
    RedisModule_FreeThreadSafeContext(job->tctx);
    RedisModule_Free(job);
    return NULL;
}

/* tm.prop.thread db: a thread with a detached thread-safe context selects
 * db and, holding the lock, replicates INCR prop:thread-a and runs INCR
 * prop:thread-b with "!". Replies OK at once. */
static int cmd_prop_thread(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    long long db;
    if (RedisModule_StringToLongLong(argv[1], &db) != KM_OK || db < 0 || db > 1000000)
        return RedisModule_ReplyWithError(ctx, "ERR invalid db");
    tm_prop_job *job = RedisModule_Alloc(sizeof(*job));
    job->tctx = RedisModule_GetDetachedThreadSafeContext(ctx);
    job->db = (int)db;
    if (thread_start(prop_thread, job) != 0) {
        RedisModule_FreeThreadSafeContext(job->tctx);
        RedisModule_Free(job);
        return RedisModule_ReplyWithError(ctx, "ERR pthread_create failed");
    }
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

static int prop_watching, prop_subscribed;

static int prop_on_removed(km_ctx *ctx, int type, const char *event, km_string *key)
{
    (void)type, (void)event, (void)key;
    if (!prop_watching)
        return KM_OK;
    km_call_reply *r = RedisModule_Call(ctx, "INCR", "c!", "prop:seen");
    if (r)
        RedisModule_FreeCallReply(r);
    return KM_OK;
}

/* tm.prop.watch on|off: while on, every key expired or evicted makes the
 * module run INCR prop:seen with "!" from its event callback. */
static int cmd_prop_watch(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    if (!arg_is(argv[1], "on") && !arg_is(argv[1], "off"))
        return RedisModule_ReplyWithError(ctx, "ERR on or off");
    if (!prop_subscribed) {
        if (RedisModule_SubscribeToKeyspaceEvents(ctx, KM_NOTIFY_EXPIRED | KM_NOTIFY_EVICTED, prop_on_removed) != KM_OK)
            return RedisModule_ReplyWithError(ctx, "ERR subscribe failed");
        prop_subscribed = 1;
    }
    prop_watching = arg_is(argv[1], "on");
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

/* tm.prop.quiet key: INCR key through Call without "!" (nothing of it
 * replicates), replying what INCR replied. */
static int cmd_prop_quiet(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    km_call_reply *r = RedisModule_Call(ctx, "INCR", "s", argv[1]);
    if (!r)
        return RedisModule_ReplyWithError(ctx, "ERR call failed");
    RedisModule_ReplyWithCallReply(ctx, r);
    RedisModule_FreeCallReply(r);
    return KM_OK;
}

/* tm.prop.infounsafe on|off: while on, the INFO callback ends with a
 * section "unsafe" holding a dict field named "un:safe#field". */
static int cmd_prop_infounsafe(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    if (!arg_is(argv[1], "on") && !arg_is(argv[1], "off"))
        return RedisModule_ReplyWithError(ctx, "ERR on or off");
    info_unsafe_field = arg_is(argv[1], "on");
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

/* Load argument "propcfg": an extra enum parameter testmod.combo with
 * BITFLAGS whose first name covers two bits (ac=5, a=1, b=2, c=4),
 * default 3, registered before the others (LoadConfigs loads it with
 * them). "propnoloadcfg": LoadConfigs is never called. */
static int prop_combo;
static const char *prop_combo_names[] = {"ac", "a", "b", "c"};
static const int prop_combo_values[] = {5, 1, 2, 4};

static int prop_combo_get(const char *name, void *privdata)
{
    (void)name, (void)privdata;
    return prop_combo;
}

static int prop_combo_set(const char *name, int val, void *privdata, km_string **err)
{
    (void)name, (void)privdata, (void)err;
    prop_combo = val;
    return KM_OK;
}

static void prop_register_combo(km_ctx *ctx)
{
    if (RedisModule_RegisterEnumConfig)
        RedisModule_RegisterEnumConfig(ctx, "combo", 3, TM_CONFIG_BITFLAGS, prop_combo_names, prop_combo_values, 4,
                                       prop_combo_get, prop_combo_set, NULL, NULL);
}

/* ------------------------------------------------------------------ loading */

static const struct {
    const char *name;
    km_cmd_fn fn;
    const char *flags;
    int first, last, step;
} commands[] = {
    {"tm.reply", cmd_reply, "readonly fast", 0, 0, 0},
    {"tm.str.tonum", cmd_str_tonum, "readonly fast", 0, 0, 0},
    {"tm.str.append", cmd_str_append, "readonly fast", 0, 0, 0},
    {"tm.str.compare", cmd_str_compare, "readonly fast", 0, 0, 0},
    {"tm.kset", cmd_kset, "write deny-oom", 1, 1, 1},
    {"tm.kget", cmd_kget, "readonly fast", 1, 1, 1},
    {"tm.kupper", cmd_kupper, "write", 1, 1, 1},
    {"tm.ktype", cmd_ktype, "readonly fast", 1, 1, 1},
    {"tm.klen", cmd_klen, "readonly fast", 1, 1, 1},
    {"tm.kdel", cmd_kdel, "write", 1, 1, 1},
    {"tm.kexpire", cmd_kexpire, "write", 1, 1, 1},
    {"tm.kttl", cmd_kttl, "readonly fast", 1, 1, 1},
    {"tm.hset", cmd_hset, "write deny-oom", 1, 1, 1},
    {"tm.hsetflags", cmd_hsetflags, "write deny-oom", 1, 1, 1},
    {"tm.assert", cmd_assert, "", 0, 0, 0},
    {"tm.getkeys", cmd_getkeys, "", 0, 0, 0},
    {"tm.persistlog", cmd_persistlog, "", 0, 0, 0},
    {"tm.dbid", cmd_keydb, "readonly", 1, 1, 1},
    {"tm.access", cmd_access, "write", 2, 2, 1},
    {"tm.lidx", cmd_lidx, "write", 2, 2, 1},
    {"tm.hsetc", cmd_hsetc, "write deny-oom", 1, 1, 1},
    {"tm.hget", cmd_hget, "readonly fast", 1, 1, 1},
    {"tm.hexists", cmd_hexists, "readonly fast", 1, 1, 1},
    {"tm.lpush", cmd_lpush, "write deny-oom", 1, 1, 1},
    {"tm.rpop", cmd_rpop, "write", 1, 1, 1},
    {"tm.zadd", cmd_zadd, "write deny-oom", 1, 1, 1},
    {"tm.zscore", cmd_zscore, "readonly fast", 1, 1, 1},
    {"tm.call", cmd_call, "", 0, 0, 0},
    {"tm.callrepl", cmd_callrepl, "", 0, 0, 0},
    {"tm.callwith", cmd_callwith, "", 0, 0, 0},
    {"tm.callargs", cmd_callargs, "", 0, 0, 0},
    {"tm.callinfo", cmd_callinfo, "", 0, 0, 0},
    {"tm.tadd", cmd_tadd, "write deny-oom", 1, 1, 1},
    {"tm.tget", cmd_tget, "readonly", 1, 1, 1},
    {"tm.tlen", cmd_tlen, "readonly fast", 1, 1, 1},
    {"tm.block", cmd_block, "", 0, 0, 0},
    {"tm.threadcount", cmd_threadcount, "", 0, 0, 0},
    {"tm.ctxflags", cmd_ctxflags, "readonly fast", 0, 0, 0},
    {"tm.timer", cmd_timer, "", 0, 0, 0},
    {"tm.args", cmd_args, "readonly fast", 0, 0, 0},
    {"tm.missing", cmd_missing, "readonly fast", 0, 0, 0},
    {"tm.misc2", cmd_misc2, "", 0, 0, 0},
    {"tm.zrange", cmd_zrange, "readonly", 1, 1, 1},
    {"tm.zwalk", cmd_zwalk, "readonly", 1, 1, 1},
    {"tm.dict", cmd_dict, "readonly fast", 0, 0, 0},
    {"tm.events", cmd_events, "readonly fast", 0, 0, 0},
    {"tm.subevent", cmd_subevent, "readonly fast", 0, 0, 0},
    {"tm.filter", cmd_filter_cmd, "readonly fast", 0, 0, 0},
    {"tm.info", cmd_info, "readonly", 0, 0, 0},
    {"tm.clientinfo", cmd_clientinfo, "readonly fast", 0, 0, 0},
    {"tm.clientname", cmd_clientname, "readonly fast", 0, 0, 0},
    {"tm.version", cmd_version, "readonly fast", 0, 0, 0},
    {"tm.time", cmd_time, "readonly fast", 0, 0, 0},
    {"tm.avoidrepl", cmd_avoidrepl, "readonly fast", 0, 0, 0},
    {"tm.notifyall", cmd_notifyall, "readonly fast", 0, 0, 0},
    {"tm.options", cmd_options, "readonly fast", 0, 0, 0},
    {"tm.eventloop", cmd_eventloop, "readonly fast", 0, 0, 0},
    {"tm.infomode", cmd_infomode, "readonly fast", 0, 0, 0},
    {"tm.infolog", cmd_infolog, "readonly fast", 0, 0, 0},
    {"tm.scan", cmd_scan, "write", 0, 0, 0},
    {"tm.scankey", cmd_scankey, "readonly", 1, 1, 1},
    {"tm.config", cmd_config, "readonly fast", 0, 0, 0},
    {"tm.cmdinfo", cmd_cmdinfo, "readonly fast", 0, 0, 0},
    {"tm.bc", cmd_bc, "", 0, 0, 0},
    {"tm.trylock", cmd_trylock, "", 0, 0, 0},
    {"tm.detached", cmd_detached, "", 0, 0, 0},
    {"tm.cr", cmd_cr, "", 0, 0, 0},
    {"tm.str2", cmd_str2, "readonly fast", 0, 0, 0},
    {"tm.reply2", cmd_reply2, "readonly fast", 0, 0, 0},
    {"tm.okey", cmd_okey, "write", 2, 2, 1},
    {"tm.treplace", cmd_treplace, "write deny-oom", 1, 1, 1},
    {"tm.t2", cmd_t2, "write deny-oom", 0, 0, 0},
    {"tm.notify", cmd_notify, "", 0, 0, 0},
    {"tm.tmr", cmd_tmr, "", 0, 0, 0},
    {"tm.db", cmd_db, "", 0, 0, 0},
    {"tm.rand", cmd_rand, "readonly fast", 0, 0, 0},
    {"tm.gk", cmd_gk, "readonly getkeys-api", 0, 0, 0},
    {"tm.pool", cmd_pool, "readonly fast", 0, 0, 0},
    {"tm.rep", cmd_rep, "", 0, 0, 0},
    {"tm.cluster", cmd_cluster, "readonly fast", 0, 0, 0},
    {"tm.stream", cmd_stream, "write deny-oom", 2, 2, 1},
    {"tm.aux", cmd_aux, "readonly fast", 0, 0, 0},
    {"tm.bk", cmd_bk, "write", 0, 0, 0},
    {"tm.el", cmd_el, "", 0, 0, 0},
    {"tm.slow", cmd_slow, "", 0, 0, 0},
    {"tm.slowstop", cmd_slowstop, "allow-busy", 0, 0, 0},
    {"tm.slowbg", cmd_slowbg, "", 0, 0, 0},
    {"tm.misc4", cmd_misc4, "write", 0, 0, 0},
    {"tm.weird:cmd", cmd_weird, "readonly", 0, 0, 0},
    {"tm.attr", cmd_attr, "readonly fast", 0, 0, 0},
    {"tm.attrcall", cmd_attrcall, "", 0, 0, 0},
    {"tm.posflags", cmd_posflags, "readonly getkeys-api", 0, 0, 0},
    {"tm.posrange", cmd_posflags, "readonly getkeys-api", 2, -1, 2},
    {"tm.posspec", cmd_posflags, "readonly getkeys-api", 0, 0, 0},
    {"tm.chan", cmd_chan, "readonly getchannels-api", 0, 0, 0},
    {"tm.dt", cmd_dt, "write deny-oom", 2, 2, 1},
    {"tm.dtyield", cmd_dtyield, "allow-loading", 0, 0, 0},
    {"tm.prop.timer", cmd_prop_timer, "", 0, 0, 0},
    {"tm.prop.thread", cmd_prop_thread, "", 0, 0, 0},
    {"tm.prop.watch", cmd_prop_watch, "", 0, 0, 0},
    {"tm.prop.quiet", cmd_prop_quiet, "write deny-oom", 1, 1, 1},
    {"tm.prop.infounsafe", cmd_prop_infounsafe, "", 0, 0, 0},
};

/* A failed load is unloaded: what OnLoad allocated goes first. */
static int give_up(void)
{
    RedisModule_Free(load_args);
    load_args = NULL;
    configs_free();
    return KM_ERR;
}

int RedisModule_OnLoad(km_ctx *ctx, km_string **argv, int argc)
{
    km_get_api_fn getapi = (km_get_api_fn)((void **)ctx)[0];
    missing_apis[0] = '\0';
    TM_API(TM_FETCH)
    TM_API2(TM_FETCH)
    TM_API3(TM_FETCH)
    TM_API4(TM_FETCH)
    TM_API6(TM_FETCH)
    TM_API5(TM_FETCH)
    if (!RedisModule_SetModuleAttribs || !RedisModule_CreateCommand || !RedisModule_StringPtrLen ||
        !RedisModule_Alloc) {
        fprintf(stderr, "testmod: the server lacks a core API function: %s\n", missing_apis);
        return KM_ERR;
    }
    if (RedisModule_IsModuleNameBusy && RedisModule_IsModuleNameBusy("testmod"))
        return KM_ERR;
    RedisModule_SetModuleAttribs(ctx, "testmod", 1, KM_APIVER_1);
    if (missing_apis[0]) {
        if (RedisModule_Log)
            RedisModule_Log(ctx, "warning", "testmod: missing API functions: %s", missing_apis);
        else
            fprintf(stderr, "testmod: missing API functions: %s\n", missing_apis);
    }

    /* The arguments, joined by spaces, and the ones that change loading. */
    int with_type = 1, fail = 0, aux_triggers = 0, aux_use_save2 = 0;
    size_t total = 1;
    for (int i = 0; i < argc; i++) {
        size_t len;
        str_of(argv[i], &len);
        total += len + 1;
    }
    if (load_args)
        RedisModule_Free(load_args);
    load_args = RedisModule_Alloc(total);
    load_args[0] = '\0';
    refuse_unload = 0;
    for (int i = 0; i < argc; i++) {
        size_t len, used = strlen(load_args);
        const char *p = str_of(argv[i], &len);
        if (i)
            load_args[used++] = ' ';
        memcpy(load_args + used, p, len);
        load_args[used + len] = '\0';
        if (arg_is(argv[i], "notype"))
            with_type = 0;
        if (arg_is(argv[i], "fail"))
            fail = 1;
        if (arg_is(argv[i], "refuseunload"))
            refuse_unload = 1;
        if (arg_is(argv[i], "propcfg"))
            prop_register_combo(ctx);
        if (arg_is(argv[i], "propnoloadcfg"))
            prop_skip_load_configs = 1;
        if (arg_is(argv[i], "persistev"))
            RedisModule_SubscribeToServerEvent(ctx, (tm_event){TM_EVENT_PERSISTENCE, 1}, on_persistence);
        if (arg_is(argv[i], "asyncload"))
            RedisModule_SetModuleOptions(ctx, TM_OPTIONS_HANDLE_IO_ERRORS | TM_OPTIONS_HANDLE_REPL_ASYNC_LOAD);
        if (arg_is(argv[i], "aux"))
            aux_triggers = KM_AUX_BEFORE_RDB | KM_AUX_AFTER_RDB;
        if (arg_is(argv[i], "auxbefore"))
            aux_triggers = KM_AUX_BEFORE_RDB;
        if (arg_is(argv[i], "auxafter"))
            aux_triggers = KM_AUX_AFTER_RDB;
        if (arg_is(argv[i], "aux2")) {
            aux_triggers = KM_AUX_BEFORE_RDB | KM_AUX_AFTER_RDB;
            aux_use_save2 = 1;
        }
    }

    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (RedisModule_CreateCommand(ctx, commands[i].name, commands[i].fn, commands[i].flags, commands[i].first,
                                      commands[i].last, commands[i].step) != KM_OK)
            return give_up();
    }

    if (with_type) {
        km_type_methods methods = {
            .version = KM_TYPE_METHOD_VERSION,
            .rdb_load = tval_rdb_load,
            .rdb_save = tval_rdb_save,
            .aof_rewrite = tval_aof_rewrite,
            .mem_usage = tval_mem_usage,
            .digest = tval_digest,
            .free = tval_free,
        };
        tm_type = RedisModule_CreateDataType(ctx, "testtype1", 1, &methods);
        if (!tm_type)
            return give_up();
        km_type_methods methods2 = {
            .version = KM_TYPE_METHOD_VERSION,
            .rdb_load = t2_rdb_load,
            .rdb_save = t2_rdb_save,
            .aof_rewrite = t2_aof_rewrite,
            .mem_usage = t2_mem_usage,
            .free = t2_free,
        };
        tm_type2 = RedisModule_CreateDataType(ctx, "testtype2", 1, &methods2);
        if (!tm_type2)
            return give_up();
        if (dt_register(ctx) != KM_OK)
            return give_up();
    }
    if (aux_triggers && register_aux_type(ctx, aux_triggers, aux_use_save2) != KM_OK)
        return give_up();
    if (register_command_metadata(ctx) != KM_OK || register_keypos_info(ctx) != KM_OK)
        return give_up();
    if (fail)
        return give_up();
    /* A config value given at load (--testmod.x, MODULE LOADEX ... CONFIG)
     * that a setter or the server refuses makes LoadConfigs fail, and the
     * load with it. */
    if (register_configs(ctx) != KM_OK)
        return give_up();
    /* Only a load that succeeds subscribes to events and makes the global
     * dict: Redis 7.0 keeps the subscriptions of a module whose OnLoad
     * fails, with callbacks into the unloaded library. */
    subscribe_events(ctx);
    if (RedisModule_CreateDict && !global_dict)
        global_dict = RedisModule_CreateDict(NULL);
    if (RedisModule_RegisterInfoFunc)
        RedisModule_RegisterInfoFunc(ctx, tm_info_func);
    return KM_OK;
}

int RedisModule_OnUnload(km_ctx *ctx)
{
    (void)ctx;
    if (refuse_unload)
        return KM_ERR;
    /* A thread still at work (one waiting for the lock this call holds)
     * keeps the module: unmapping its code would crash it. */
    if (threads_join(2000)) {
        RedisModule_Log(ctx, "warning", "testmod: a thread is still running, unload refused");
        return KM_ERR;
    }
    RedisModule_Free(load_args);
    load_args = NULL;
    /* The server drops the module's event subscriptions and filters. */
    event_log_reset();
    filter_log_reset();
    info_log_reset();
    configs_free();
    cmd_filter = NULL;
    if (global_dict) {
        dict_clear(global_dict);
        RedisModule_FreeDict(NULL, global_dict);
        global_dict = NULL;
    }
    return KM_OK;
}
