/* module_api: contexts, automatic memory, the look-up of API functions by
 * name, and the API's general functions (allocation, logging, time,
 * context flags, replication, the cluster questions). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "cmd/cmd.h"
#include "module/module_int.h"
#include "net/tls.h"
#include "persist/aof.h"
#include "persist/snapshot.h"
#include "pubsub/pubsub.h"
#include "repl/repl.h"
#include "server/child.h"
#include "server/latency.h"
#include "server/persistence.h"

/* ---- contexts ---- */

void km_ctx_init(km_ctx *ctx, km_module *m, client *c)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->getapi = km_get_api;
    ctx->module = m;
    ctx->c = c;
    km_yield_ctx_init(ctx);
}

/* Puts p on ctx's list of what its end frees, automatic memory or not. */
static void auto_push(km_ctx *ctx, int kind, void *p)
{
    if (ctx->nautos == ctx->cap_autos) {
        ctx->cap_autos = ctx->cap_autos ? ctx->cap_autos * 2 : 16;
        ctx->autos = alloc_resize(ctx->autos, sizeof(*ctx->autos) * (size_t)ctx->cap_autos);
    }
    ctx->autos[ctx->nautos].kind = kind;
    ctx->autos[ctx->nautos++].p = p;
}

void km_auto_add(km_ctx *ctx, int kind, void *p)
{
    if (ctx && (ctx->flags & KCTX_AUTO_MEMORY)) {
        auto_push(ctx, kind, p);
    }
}

int km_auto_forget(km_ctx *ctx, void *p)
{
    if (!ctx) {
        return 0;
    }
    for (int i = ctx->nautos - 1; i >= 0; i--) {
        if (ctx->autos[i].p == p) {
            ctx->autos[i] = ctx->autos[--ctx->nautos];
            return 1;
        }
    }
    return 0;
}

void km_ctx_done(km_ctx *ctx)
{
    /* Keys first: closing one may still read strings the module made. */
    for (int pass = 0; pass < 3; pass++) {
        static const int order[3] = {KAUTO_KEY, KAUTO_REPLY, KAUTO_STRING};
        for (int i = 0; i < ctx->nautos; i++) {
            void *p = ctx->autos[i].p;
            if (ctx->autos[i].kind != order[pass] || !p) {
                continue;
            }
            ctx->autos[i].p = NULL;
            switch (order[pass]) {
            case KAUTO_KEY: km_key_close(p); break;
            case KAUTO_REPLY: km_call_reply_free(p); break;
            default: km_string_release(NULL, p); break;
            }
        }
    }
    for (int i = 0; i < ctx->nautos; i++) {
        if (ctx->autos[i].kind == KAUTO_POOL && ctx->autos[i].p) {
            alloc_free(ctx->autos[i].p);
        }
    }
    alloc_free(ctx->autos);
    ctx->autos = NULL;
    ctx->nautos = ctx->cap_autos = 0;
    alloc_free(ctx->postponed);
    ctx->postponed = NULL;
    alloc_free(ctx->positions);
    ctx->positions = NULL;
    km_yield_ctx_done(ctx);
}

/* ---- allocation ---- */

static void *api_alloc(size_t n)
{
    return alloc_mem(n ? n : 1);
}

static void *api_calloc(size_t n, size_t size)
{
    size_t bytes = n * size;
    return alloc_zero(bytes ? bytes : 1);
}

static void *api_realloc(void *p, size_t n)
{
    return alloc_resize(p, n ? n : 1);
}

static void api_free(void *p)
{
    alloc_free(p);
}

static char *api_strdup(const char *s)
{
    return alloc_strdup(s);
}

/* Memory that lives until the command returns; none for 0 bytes (NULL,
 * as Redis answers). */
static void *api_pool_alloc(km_ctx *ctx, size_t n)
{
    if (n == 0) {
        return NULL;
    }
    void *p = alloc_zero(n);
    auto_push(ctx, KAUTO_POOL, p);
    return p;
}

/* ---- module information ---- */

static int api_is_module_name_busy(const char *name)
{
    return km_module_by_name(name) != NULL;
}

static void api_set_module_attribs(km_ctx *ctx, const char *name, int ver, int apiver)
{
    (void)apiver;
    if (!ctx->module || ctx->module->name) {
        return;
    }
    ctx->module->name = alloc_strdup(name);
    ctx->module->ver = ver;
}

static int api_create_command(km_ctx *ctx, const char *name, km_cmd_fn fn, const char *flags, int first, int last,
                              int step)
{
    return km_create_command(ctx, name, fn, flags, first, last, step);
}

/* Named as the table names the running command (a subcommand by its
 * full name, "container|sub"), as Redis 7 names it. */
static int api_wrong_arity(km_ctx *ctx)
{
    if (ctx->c && ctx->c->cmd) {
        reply_errf(ctx->c, "ERR wrong number of arguments for '%s' command", ctx->c->cmd->name);
    } else if (ctx->c && ctx->c->argc > 0) {
        reply_errf(ctx->c, "ERR wrong number of arguments for '%.*s' command", (int)ctx->c->argv[0].len,
                   ctx->c->argv[0].ptr);
    }
    return KM_OK;
}

static int log_level(const char *level)
{
    if (!level || strcasecmp(level, "notice") == 0) {
        return LOG_NOTICE;
    }
    if (strcasecmp(level, "debug") == 0) {
        return LOG_DEBUG;
    }
    if (strcasecmp(level, "verbose") == 0) {
        return LOG_VERBOSE;
    }
    return strcasecmp(level, "warning") == 0 ? LOG_WARNING : LOG_NOTICE;
}

static void log_va(const km_module *m, const char *level, const char *fmt, va_list ap)
{
    char msg[4096];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    log_msg(log_level(level), "<%s> %s", m && m->name ? m->name : "module", msg);
}

static void api_log(km_ctx *ctx, const char *level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_va(ctx ? ctx->module : NULL, level, fmt, ap);
    va_end(ap);
}

static void api_log_io_error(km_io *io, const char *level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_va(io && io->type ? io->type->module : NULL, level, fmt, ap);
    va_end(ap);
}

/* The wall clock, as Redis's (mstime). */
static long long api_milliseconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static unsigned long long api_get_client_id(km_ctx *ctx)
{
    return ctx->c && !(ctx->c->flags & CLIENT_FAKE) ? ctx->c->id : 0;
}

int km_ctx_dbid(const km_ctx *ctx)
{
    return ctx->c ? ctx->c->db->id : ctx->dbid;
}

static int api_get_selected_db(km_ctx *ctx)
{
    return km_ctx_dbid(ctx);
}

static int api_select_db(km_ctx *ctx, int id)
{
    if (id < 0 || id >= server.cfg.databases) {
        return KM_ERR;
    }
    if (!ctx->c) {
        ctx->dbid = id; /* a thread's context: its Calls and Replicates go there */
        return KM_OK;
    }
    client_select_db(ctx->c, id);
    return KM_OK;
}

static int api_get_context_flags(km_ctx *ctx)
{
    int f = 0;
    client *c = ctx ? ctx->c : NULL;
    if (c) {
        if (c->flags & (CLIENT_IN_SCRIPT)) {
            f |= KM_CTX_FLAGS_LUA;
        }
        if (c->flags & (CLIENT_MULTI | CLIENT_IN_EXEC)) {
            f |= KM_CTX_FLAGS_MULTI;
        }
        if (c->flags & CLIENT_MASTER) {
            f |= KM_CTX_FLAGS_REPLICATED;
        }
        if (c->resp == 3) {
            f |= KM_CTX_FLAGS_RESP3;
        }
        if (c->flags & (CLIENT_IN_SCRIPT | CLIENT_IN_EXEC | CLIENT_MULTI | CLIENT_FAKE)) {
            f |= KM_CTX_FLAGS_DENY_BLOCKING; /* a Call's client cannot block either */
        }
    }
    if (server.in_script) {
        f |= KM_CTX_FLAGS_LUA | KM_CTX_FLAGS_DENY_BLOCKING;
    }
    if (server.in_exec) {
        f |= KM_CTX_FLAGS_MULTI | KM_CTX_FLAGS_DENY_BLOCKING;
    }
    if (repl_is_replica()) {
        f |= KM_CTX_FLAGS_SLAVE;
        if (server.cfg.replica_read_only) {
            f |= KM_CTX_FLAGS_READONLY;
        }
    } else {
        f |= KM_CTX_FLAGS_MASTER;
    }
    if (server.cfg.appendonly) {
        f |= KM_CTX_FLAGS_AOF;
    }
    if (persistence_save_points_set()) {
        f |= KM_CTX_FLAGS_RDB;
    }
    if (server.cfg.maxmemory > 0) {
        f |= KM_CTX_FLAGS_MAXMEMORY;
        if (server.cfg.maxmemory_policy != 0) { /* 0: noeviction */
            f |= KM_CTX_FLAGS_EVICT;
        }
    }
    if (server.loading) {
        f |= KM_CTX_FLAGS_LOADING;
    }
    if (server.cfg.maxmemory > 0) {
        size_t used = server_memory_counted();
        if (used > (size_t)server.cfg.maxmemory) {
            f |= KM_CTX_FLAGS_OOM;
        }
        if ((double)used > 0.75 * (double)server.cfg.maxmemory) {
            f |= KM_CTX_FLAGS_OOM_WARNING;
        }
    }
    if (child_running() != CHILD_NONE || snapshot_running()) { /* a forkless BGSAVE stands for Redis's child */
        f |= KM_CTX_FLAGS_ACTIVE_CHILD;
    }
    return f;
}

/* The flags GetContextFlags can set (Redis's GetContextFlagsAll answers
 * which ones the server knows). */
static int api_get_context_flags_all(void)
{
    return KM_CTX_FLAGS_LUA | KM_CTX_FLAGS_MULTI | KM_CTX_FLAGS_MASTER | KM_CTX_FLAGS_SLAVE | KM_CTX_FLAGS_READONLY |
           KM_CTX_FLAGS_CLUSTER | KM_CTX_FLAGS_AOF | KM_CTX_FLAGS_RDB | KM_CTX_FLAGS_MAXMEMORY | KM_CTX_FLAGS_EVICT |
           KM_CTX_FLAGS_OOM | KM_CTX_FLAGS_OOM_WARNING | KM_CTX_FLAGS_REPLICATED | KM_CTX_FLAGS_LOADING |
           KM_CTX_FLAGS_ACTIVE_CHILD | KM_CTX_FLAGS_DENY_BLOCKING | KM_CTX_FLAGS_RESP3;
}

/* ---- the keyspace and the server at large ---- */

/* NULL for a client without TLS or a certificate, or no such client. */
static km_string *api_get_client_certificate(km_ctx *ctx, uint64_t id)
{
    client *c = client_by_id(id);
    if (!c || !c->tls) {
        return NULL;
    }
    size_t len = 0;
    char *pem = tls_peer_cert_pem(c->tls, &len);
    if (!pem) {
        return NULL;
    }
    km_string *s = km_string_new(ctx, pem, len);
    alloc_free(pem);
    return s;
}

/* FLUSHALL without its propagation (functions stay); restart_aof with
 * the AOF on: the log starts again from the empty data set. */
static void api_reset_dataset(int restart_aof, int async)
{
    keyspace_flush_all(NULL, async);
    if (restart_aof && server.cfg.appendonly) {
        aof_new_history();
        aof_rewrite();
    }
}

static unsigned long long api_db_size(km_ctx *ctx)
{
    return ctx->c ? (unsigned long long)db_size(ctx->c->db) : 0;
}

static km_string *api_random_key(km_ctx *ctx)
{
    kobj *o = ctx->c ? db_random_key(ctx->c->db) : NULL;
    if (!o) {
        return NULL;
    }
    sv k = kobj_key(o);
    return km_string_new(ctx, k.ptr, k.len);
}

static const char *api_get_current_command_name(km_ctx *ctx)
{
    return ctx && ctx->c && ctx->c->cmd ? ctx->c->cmd->name : NULL;
}

static int api_signal_modified_key(km_ctx *ctx, km_string *key)
{
    if (ctx->c) {
        server_key_written(ctx->c->db, (sv){key->s, str_len(key->s)}, ctx->c);
    }
    return KM_OK;
}

static int api_publish_message(km_ctx *ctx, km_string *channel, km_string *message)
{
    (void)ctx;
    return (int)pubsub_publish((sv){channel->s, str_len(channel->s)}, (sv){message->s, str_len(message->s)}, 0);
}

static int api_publish_message_shard(km_ctx *ctx, km_string *channel, km_string *message)
{
    (void)ctx;
    return (int)pubsub_publish((sv){channel->s, str_len(channel->s)}, (sv){message->s, str_len(message->s)}, 1);
}

static int api_set_client_name_by_id(uint64_t id, km_string *name)
{
    client *c = client_by_id(id);
    if (!name) {
        errno = EINVAL;
        return KM_ERR;
    }
    if (!c) {
        errno = ENOENT;
        return KM_ERR;
    }
    if (client_name_set(c, (sv){name->s, str_len(name->s)}) < 0) {
        errno = EINVAL;
        return KM_ERR;
    }
    return KM_OK;
}

static float api_get_used_memory_ratio(void)
{
    return server.cfg.maxmemory > 0 ? (float)server_memory_counted() / (float)server.cfg.maxmemory : 0;
}

static void api_latency_add_sample(const char *event, long long latency_ms)
{
    latency_add(event, latency_ms); /* (kept only past latency-monitor-threshold) */
}

/* RedisModule_Assert's failure: the module found the server in a state
 * it cannot go on from, and the server stops as on its own failed
 * assertion (the report names the module's file and line). */
static void api_assert(const char *estr, const char *file, int line)
{
    PANIC("=== ASSERTION FAILED (module) === %s:%d '%s' is not true", file, line, estr);
}

/* ---- memory ---- */

static void *api_try_alloc(size_t n)
{
    return alloc_try(n);
}

static size_t api_malloc_size(void *p)
{
    return alloc_usable(p);
}

static size_t api_malloc_size_string(km_string *s)
{
    return alloc_usable(s) + str_mem(s->s);
}

static void api_auto_memory(km_ctx *ctx)
{
    ctx->flags |= KCTX_AUTO_MEMORY;
}

static void api_get_random_bytes(unsigned char *dst, size_t len)
{
    util_os_random(dst, len);
}

static void api_get_random_hex_chars(char *dst, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    api_get_random_bytes((unsigned char *)dst, len);
    for (size_t i = 0; i < len; i++) {
        dst[i] = hex[(unsigned char)dst[i] & 15];
    }
}

/* ---- replication ---- */

static int api_replicate(km_ctx *ctx, const char *cmdname, const char *fmt, ...)
{
    /* Only a command the server knows replicates, as in Redis. */
    if (!cmd_lookup(cmdname, strlen(cmdname))) {
        return KM_ERR;
    }
    va_list ap;
    va_start(ap, fmt);
    sv *argv;
    str *owned;
    int flags = 0;
    int argc = km_build_argv(ctx, cmdname, fmt, ap, &argv, &owned, &flags);
    va_end(ap);
    if (argc < 0) {
        return KM_ERR;
    }
    /* "A": not to the AOF, "R": not to replicas (km_build_argv's bits). */
    int targets = (flags & km_call_flag('A') ? 0 : PROPAGATE_AOF) | (flags & km_call_flag('R') ? 0 : PROPAGATE_REPL);
    int dbid = km_ctx_dbid(ctx);
    int top = propagate_unit_open();
    propagate_cmd_to(dbid, argv, argc, targets);
    propagate_unit_close(top);
    km_free_argv(argv, owned, argc);
    return KM_OK;
}

static int api_replicate_verbatim(km_ctx *ctx)
{
    client *c = ctx->c;
    if (!c || !(ctx->flags & KCTX_IN_COMMAND)) {
        return KM_ERR;
    }
    propagate_cmd(c->db->id, c->argv, c->argc);
    return KM_OK;
}

/* ---- cluster: Keel runs no cluster, and says so as Redis does when
 * cluster mode is off. ---- */

static size_t api_get_cluster_size(void)
{
    return 0;
}

static const char *api_get_my_cluster_id(void)
{
    return NULL;
}

/* NULL, numnodes left alone (as Redis with cluster mode off). */
static char **api_get_cluster_nodes_list(km_ctx *ctx, size_t *numnodes)
{
    (void)ctx, (void)numnodes;
    return NULL;
}

static void api_free_cluster_nodes_list(char **ids)
{
    (void)ids;
}

static int api_get_cluster_node_info(km_ctx *ctx, const char *id, char *ip, char *primary, int *port, int *flags)
{
    (void)ctx, (void)id, (void)ip, (void)primary, (void)port, (void)flags;
    return KM_ERR;
}

static void api_set_cluster_flags(km_ctx *ctx, uint64_t flags)
{
    (void)ctx, (void)flags;
}

static void api_register_cluster_message_receiver(km_ctx *ctx, uint8_t type, void *callback)
{
    (void)ctx, (void)type, (void)callback;
}

static int api_send_cluster_message(km_ctx *ctx, const char *target, uint8_t type, const char *msg, uint32_t len)
{
    (void)ctx, (void)target, (void)type, (void)msg, (void)len;
    return KM_ERR;
}

const km_api_entry km_api_core[] = {{"Alloc", api_alloc},
                                    {"Calloc", api_calloc},
                                    {"Realloc", api_realloc},
                                    {"Free", api_free},
                                    {"Strdup", api_strdup},
                                    {"PoolAlloc", api_pool_alloc},
                                    {"IsModuleNameBusy", api_is_module_name_busy},
                                    {"SetModuleAttribs", api_set_module_attribs},
                                    {"CreateCommand", api_create_command},
                                    {"WrongArity", api_wrong_arity},
                                    {"Log", api_log},
                                    {"LogIOError", api_log_io_error},
                                    {"Milliseconds", api_milliseconds},
                                    {"GetClientId", api_get_client_id},
                                    {"GetSelectedDb", api_get_selected_db},
                                    {"SelectDb", api_select_db},
                                    {"GetContextFlags", api_get_context_flags},
                                    {"GetContextFlagsAll", api_get_context_flags_all},
                                    {"DbSize", api_db_size},
                                    {"ResetDataset", api_reset_dataset},
                                    {"GetClientCertificate", api_get_client_certificate},
                                    {"RandomKey", api_random_key},
                                    {"GetCurrentCommandName", api_get_current_command_name},
                                    {"SignalModifiedKey", api_signal_modified_key},
                                    {"PublishMessage", api_publish_message},
                                    {"PublishMessageShard", api_publish_message_shard},
                                    {"SetClientNameById", api_set_client_name_by_id},
                                    {"GetUsedMemoryRatio", api_get_used_memory_ratio},
                                    {"LatencyAddSample", api_latency_add_sample},
                                    {"TryAlloc", api_try_alloc},
                                    {"_Assert", api_assert},
                                    {"MallocSize", api_malloc_size},
                                    {"MallocUsableSize", api_malloc_size},
                                    {"MallocSizeString", api_malloc_size_string},
                                    {"AutoMemory", api_auto_memory},
                                    {"GetRandomBytes", api_get_random_bytes},
                                    {"GetRandomHexChars", api_get_random_hex_chars},
                                    {"Replicate", api_replicate},
                                    {"ReplicateVerbatim", api_replicate_verbatim},
                                    {"GetClusterSize", api_get_cluster_size},
                                    {"GetMyClusterID", api_get_my_cluster_id},
                                    {"GetClusterNodesList", api_get_cluster_nodes_list},
                                    {"FreeClusterNodesList", api_free_cluster_nodes_list},
                                    {"GetClusterNodeInfo", api_get_cluster_node_info},
                                    {"SetClusterFlags", api_set_cluster_flags},
                                    {"RegisterClusterMessageReceiver", api_register_cluster_message_receiver},
                                    {"SendClusterMessage", api_send_cluster_message},
                                    {NULL, NULL}};

/* ---- the look-up ---- */

static const km_api_entry *const tables[] = {
    km_api_core,   km_api_string, km_api_reply,  km_api_key,     km_api_call,      km_api_type,
    km_api_thread, km_api_notify, km_api_dict,   km_api_event,   km_api_info,      km_api_filter,
    km_api_infofn, km_api_scan,   km_api_config, km_api_cmdinfo, km_api_fork,      km_api_shared,
    km_api_acl,    km_api_stream, km_api_auth,   km_api_defrag,  km_api_eventloop, km_api_keypos,
};

int km_get_api(const char *name, void *out)
{
    if (!name || strncmp(name, "RedisModule_", 12) != 0) {
        return KM_ERR;
    }
    const char *want = name + 12;
    if (strcmp(want, "GetApi") == 0) {
        void *fn = (void *)(uintptr_t)km_get_api;
        memcpy(out, &fn, sizeof(fn));
        return KM_OK;
    }
    for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
        for (const km_api_entry *e = tables[t]; e->name; e++) {
            if (strcmp(e->name, want) == 0) {
                memcpy(out, &e->fn, sizeof(e->fn));
                return KM_OK;
            }
        }
    }
    return KM_ERR;
}
