/* testmod_auth: a Redis module for Redis 7.2's module authentication
 * (RegisterAuthCallback, BlockClientOnAuth), for
 * tests/integration/test_modules_auth.py.
 *
 * Built against Keel's ABI header only (src/module/module_abi.h), like
 * testmod.c and testmod_acl.c; it looks each API function up by name.
 *
 * OnLoad arguments: "name <module name>" and "prefix <command prefix>"
 * (defaults testmod_auth and tauth), so that a second copy of the .so
 * loads as a module of its own and the order between modules shows.
 *
 * Commands (<p> is the prefix):
 *   <p>.register plain|block  RegisterAuthCallback with the plain or the
 *                             blocking callback (again for one more turn)
 *   <p>.stats                 [plain calls, block calls, reply calls,
 *                             free_privdata calls] of this module
 *   <p>.blockoutside          BlockClientOnAuth from a plain command:
 *                             "NULL" or "handle"
 *
 * The plain callback, by password:
 *   allow          authenticates as the user given (ACL user) -> HANDLED
 *   deny           HANDLED, err "Auth denied by <name>.", and an ACL LOG
 *                  entry (ACLAddLogEntryByUserName, object "Module Auth")
 *   denycode       HANDLED, err "-DENIED by <name>" (its own error code)
 *   denysilent     HANDLED without err (WRONGPASS)
 *   who            authenticates as the user named <name> -> HANDLED
 *   <name>:allow   allow, by this module only
 *   <name>:deny    deny, by this module only
 *   anything else  NOT_HANDLED
 * The blocking callback handles passwords that start with "block_":
 * it blocks the client (BlockClientOnAuth), answers HANDLED, and a thread
 * sleeps 200 ms (1000 ms for block_slow_<what>) then unblocks it with the
 * result the reply callback answers:
 *   block_allow       authenticate as the user given
 *   block_deny        err "Blocked auth denied by <name>."
 *   block_denysilent  HANDLED without err
 *   block_who         authenticate as the user named "<name>-b"
 *   block_abort       AbortBlock instead of UnblockClient
 *   block_<other>     NOT_HANDLED (the next callbacks, then the password)
 * free_privdata frees the thread's result and counts.
 *
 * Build: cc -O2 -g -fPIC -shared -std=c11 -Wall -I src -o testmod_auth.so \
 *        tests/modules/testmod_auth.c -lpthread
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "module/module_abi.h"

#define AU_API(X)                                                                                                      \
    X(void *, Alloc, (size_t bytes))                                                                                   \
    X(void, Free, (void *ptr))                                                                                         \
    X(void, SetModuleAttribs, (km_ctx * ctx, const char *name, int ver, int apiver))                                   \
    X(int, CreateCommand,                                                                                              \
      (km_ctx * ctx, const char *name, km_cmd_fn fn, const char *flags, int first, int last, int step))                \
    X(int, WrongArity, (km_ctx * ctx))                                                                                 \
    X(const char *, StringPtrLen, (const km_string *s, size_t *len))                                                   \
    X(km_string *, CreateString, (km_ctx * ctx, const char *ptr, size_t len))                                          \
    X(km_string *, CreateStringFromString, (km_ctx * ctx, const km_string *s))                                         \
    X(void, FreeString, (km_ctx * ctx, km_string * s))                                                                 \
    X(int, ReplyWithError, (km_ctx * ctx, const char *err))                                                            \
    X(int, ReplyWithSimpleString, (km_ctx * ctx, const char *msg))                                                     \
    X(int, ReplyWithLongLong, (km_ctx * ctx, long long ll))                                                            \
    X(int, ReplyWithArray, (km_ctx * ctx, long len))                                                                   \
    X(int, ACLAddLogEntryByUserName, (km_ctx * ctx, km_string * user, km_string * object, int reason))                 \
    X(int, AuthenticateClientWithACLUser,                                                                              \
      (km_ctx * ctx, const char *name, size_t len, km_user_changed_fn cb, void *privdata, uint64_t *client_id))        \
    X(void, RegisterAuthCallback, (km_ctx * ctx, km_auth_fn cb))                                                       \
    X(km_blocked *, BlockClientOnAuth, (km_ctx * ctx, km_auth_fn reply_cb, void (*free_cb)(km_ctx *, void *)))         \
    X(int, UnblockClient, (km_blocked * bc, void *privdata))                                                           \
    X(int, AbortBlock, (km_blocked * bc))                                                                              \
    X(void *, GetBlockedClientPrivateData, (km_ctx * ctx))

#define AU_DECLARE(ret, name, params) static ret(*RedisModule_##name) params;
AU_API(AU_DECLARE)

#define AU_FETCH(ret, name, params)                                                                                    \
    if (getapi("RedisModule_" #name, (void **)&RedisModule_##name) != KM_OK) {                                         \
        fprintf(stderr, "testmod_auth: the server lacks RedisModule_%s\n", #name);                                     \
        return KM_ERR;                                                                                                 \
    }

static char module_name[64] = "testmod_auth";
static char prefix[32] = "tauth";
static long long n_plain, n_block, n_reply, n_free;

enum { R_ALLOW, R_DENY, R_DENY_SILENT, R_WHO, R_SKIP };

static int is(const km_string *s, const char *word)
{
    size_t len;
    const char *p = RedisModule_StringPtrLen(s, &len);
    return len == strlen(word) && memcmp(p, word, len) == 0;
}

static int auth_as(km_ctx *ctx, const char *name, size_t len)
{
    RedisModule_AuthenticateClientWithACLUser(ctx, name, len, NULL, NULL, NULL);
    return KM_AUTH_HANDLED;
}

static int auth_as_given(km_ctx *ctx, km_string *username)
{
    size_t len;
    const char *name = RedisModule_StringPtrLen(username, &len);
    return auth_as(ctx, name, len);
}

static int deny(km_ctx *ctx, const char *what, km_string **err)
{
    char msg[128];
    snprintf(msg, sizeof(msg), "%s by %s.", what, module_name);
    *err = RedisModule_CreateString(ctx, msg, strlen(msg));
    return KM_AUTH_HANDLED;
}

/* ------------------------------------------------------------------ plain */

static int plain_cb(km_ctx *ctx, km_string *username, km_string *password, km_string **err)
{
    n_plain++;
    char mine[96];
    snprintf(mine, sizeof(mine), "%s:allow", module_name);
    if (is(password, "allow") || is(password, mine)) {
        return auth_as_given(ctx, username);
    }
    snprintf(mine, sizeof(mine), "%s:deny", module_name);
    if (is(password, "deny") || is(password, mine)) {
        km_string *object = RedisModule_CreateString(ctx, "Module Auth", 11);
        RedisModule_ACLAddLogEntryByUserName(ctx, username, object, KM_ACL_LOG_AUTH);
        RedisModule_FreeString(ctx, object);
        return deny(ctx, "Auth denied", err);
    }
    if (is(password, "denycode")) {
        char msg[128];
        snprintf(msg, sizeof(msg), "-DENIED by %s", module_name);
        *err = RedisModule_CreateString(ctx, msg, strlen(msg));
        return KM_AUTH_HANDLED;
    }
    if (is(password, "denysilent")) {
        return KM_AUTH_HANDLED;
    }
    if (is(password, "who")) {
        return auth_as(ctx, module_name, strlen(module_name));
    }
    return KM_AUTH_NOT_HANDLED;
}

/* ------------------------------------------------------------------ blocking */

typedef struct job {
    km_blocked *bc;
    int result;
    int abort;
    long ms;
} job;

/* The job threads, joined before the module is unloaded: a thread still
 * returning from job_main after its UnblockClient must not run in code
 * that dlclose has unmapped. (Only the main thread starts and joins them.) */
#define MAX_THREADS 64
static pthread_t threads[MAX_THREADS];
static int nthreads;

static void join_threads(void)
{
    for (int i = 0; i < nthreads; i++) {
        pthread_join(threads[i], NULL);
    }
    nthreads = 0;
}

static void keep_thread(pthread_t tid)
{
    if (nthreads == MAX_THREADS) {
        join_threads(); /* old jobs: long finished */
    }
    threads[nthreads++] = tid;
}

static void *job_main(void *arg)
{
    job *j = arg;
    struct timespec ts = {j->ms / 1000, (j->ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    if (j->abort) {
        RedisModule_AbortBlock(j->bc);
    } else {
        int *result = RedisModule_Alloc(sizeof(int));
        *result = j->result;
        RedisModule_UnblockClient(j->bc, result);
    }
    free(j);
    return NULL;
}

static int reply_cb(km_ctx *ctx, km_string *username, km_string *password, km_string **err)
{
    (void)password;
    n_reply++;
    int *result = RedisModule_GetBlockedClientPrivateData(ctx);
    switch (result ? *result : R_SKIP) {
    case R_ALLOW: return auth_as_given(ctx, username);
    case R_DENY: return deny(ctx, "Blocked auth denied", err);
    case R_DENY_SILENT: return KM_AUTH_HANDLED;
    case R_WHO: {
        char name[80];
        snprintf(name, sizeof(name), "%s-b", module_name);
        return auth_as(ctx, name, strlen(name));
    }
    default: return KM_AUTH_NOT_HANDLED;
    }
}

static void free_cb(km_ctx *ctx, void *privdata)
{
    (void)ctx;
    n_free++;
    RedisModule_Free(privdata);
}

static int block_cb(km_ctx *ctx, km_string *username, km_string *password, km_string **err)
{
    (void)username, (void)err;
    n_block++;
    size_t len;
    const char *p = RedisModule_StringPtrLen(password, &len);
    if (len < 6 || memcmp(p, "block_", 6) != 0) {
        return KM_AUTH_NOT_HANDLED;
    }
    job *j = calloc(1, sizeof(*j));
    j->ms = 200;
    const char *what = p + 6;
    if (len >= 11 && memcmp(p, "block_slow_", 11) == 0) {
        j->ms = 1000;
        what = p + 11;
    }
    size_t wlen = len - (size_t)(what - p);
#define WHAT_IS(w) (wlen == strlen(w) && memcmp(what, w, wlen) == 0)
    if (WHAT_IS("allow")) {
        j->result = R_ALLOW;
    } else if (WHAT_IS("deny")) {
        j->result = R_DENY;
    } else if (WHAT_IS("denysilent")) {
        j->result = R_DENY_SILENT;
    } else if (WHAT_IS("who")) {
        j->result = R_WHO;
    } else if (WHAT_IS("abort")) {
        j->abort = 1;
    } else {
        j->result = R_SKIP;
    }
#undef WHAT_IS
    j->bc = RedisModule_BlockClientOnAuth(ctx, reply_cb, free_cb);
    if (!j->bc) {
        free(j);
        return KM_AUTH_NOT_HANDLED;
    }
    /* In MULTI the handle has no client (the server replied an error):
     * the thread unblocks it all the same, as every handle must be. */
    pthread_t tid;
    if (pthread_create(&tid, NULL, job_main, j) != 0) {
        RedisModule_AbortBlock(j->bc);
        free(j);
        return KM_AUTH_HANDLED;
    }
    keep_thread(tid);
    return KM_AUTH_HANDLED;
}

/* ------------------------------------------------------------------ commands */

static int cmd_register(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 2) {
        return RedisModule_WrongArity(ctx);
    }
    if (is(argv[1], "plain")) {
        RedisModule_RegisterAuthCallback(ctx, plain_cb);
    } else if (is(argv[1], "block")) {
        RedisModule_RegisterAuthCallback(ctx, block_cb);
    } else {
        return RedisModule_ReplyWithError(ctx, "ERR plain or block");
    }
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

static int cmd_stats(km_ctx *ctx, km_string **argv, int argc)
{
    (void)argv, (void)argc;
    RedisModule_ReplyWithArray(ctx, 4);
    RedisModule_ReplyWithLongLong(ctx, n_plain);
    RedisModule_ReplyWithLongLong(ctx, n_block);
    RedisModule_ReplyWithLongLong(ctx, n_reply);
    return RedisModule_ReplyWithLongLong(ctx, n_free);
}

static int cmd_blockoutside(km_ctx *ctx, km_string **argv, int argc)
{
    (void)argv, (void)argc;
    km_blocked *bc = RedisModule_BlockClientOnAuth(ctx, reply_cb, free_cb);
    if (bc) {
        RedisModule_AbortBlock(bc);
        return RedisModule_ReplyWithSimpleString(ctx, "handle");
    }
    return RedisModule_ReplyWithSimpleString(ctx, "NULL");
}

static void cstr(km_string *s, char *buf, size_t cap)
{
    size_t len;
    const char *p = RedisModule_StringPtrLen(s, &len);
    if (len >= cap) {
        len = cap - 1;
    }
    memcpy(buf, p, len);
    buf[len] = '\0';
}

int RedisModule_OnLoad(km_ctx *ctx, km_string **argv, int argc)
{
    km_get_api_fn getapi = (km_get_api_fn)((void **)ctx)[0];
    AU_API(AU_FETCH)
    for (int i = 0; i + 1 < argc; i += 2) {
        if (is(argv[i], "name")) {
            cstr(argv[i + 1], module_name, sizeof(module_name));
        } else if (is(argv[i], "prefix")) {
            cstr(argv[i + 1], prefix, sizeof(prefix));
        }
    }
    RedisModule_SetModuleAttribs(ctx, module_name, 1, KM_APIVER_1);
    static const struct {
        const char *name;
        km_cmd_fn fn;
    } commands[] = {{"register", cmd_register}, {"stats", cmd_stats}, {"blockoutside", cmd_blockoutside}};
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        char name[96];
        snprintf(name, sizeof(name), "%s.%s", prefix, commands[i].name);
        if (RedisModule_CreateCommand(ctx, name, commands[i].fn, "", 0, 0, 0) != KM_OK) {
            return KM_ERR;
        }
    }
    return KM_OK;
}

int RedisModule_OnUnload(km_ctx *ctx)
{
    (void)ctx;
    join_threads();
    return KM_OK;
}
