/* testmod_acl: a Redis module for the module API's shared APIs, fork API
 * and module users / ACL calls (tests/integration/test_modules_acl.py).
 *
 * Like testmod.c it is built against Keel's ABI header only
 * (src/module/module_abi.h), never against redismodule.h, and loads
 * unchanged into Redis 7.0 and into Keel, so the tests run the same
 * commands on both and compare the replies. It looks each API function up
 * by name; one the server does not offer stays NULL and the commands that
 * need it answer "ERR the server lacks RedisModule_X".
 *
 * OnLoad arguments: "name <module name>" and "prefix <command prefix>"
 * (defaults testmod_acl and ta), so that two copies of the .so (loaded
 * from two paths, as two modules) can share APIs with each other.
 *
 * Commands (<p> is the prefix, "ta" by default):
 *   <p>.export NAME         ExportSharedAPI: a function answering this
 *                           module's name
 *   <p>.import NAME         GetSharedAPI and call it (nil when absent)
 *   ta.fork KEY PATH CODE MS [heartbeat]
 *                           Fork: the child sends a heartbeat of 0.5 if
 *                           asked, sleeps MS ms, writes "<pid> <value of
 *                           KEY>" to PATH and exits with CODE; the server
 *                           replies the child's pid (or -1)
 *   ta.forkdone             [handler calls, last exitcode, last bysignal]
 *   ta.killfork PID         KillForkChild
 *   ta.activechild          GetContextFlags' ACTIVE_CHILD bit (0/1)
 *   ta.forkevents           the ForkChild events since the last call
 *   ta.user create|free|set|setstr|getstr NAME [RULE ...]
 *                           module users, kept by name
 *   ta.auth NAME / ta.authacl NAME
 *                           AuthenticateClientWithUser (a module user) /
 *                           AuthenticateClientWithACLUser, with a callback;
 *                           reply the client id
 *   ta.changes              the ids the user-changed callback got since
 *   ta.deauth ID            DeauthenticateAndCloseClient
 *   ta.whoami / ta.username ID
 *                           GetCurrentUserName / GetClientUserNameById
 *   ta.checkcmd USER CMD [ARG ...], ta.checkkey USER KEY [FLAG ...],
 *   ta.checkchan USER CHANNEL [FLAG ...]
 *                           the ACL checks: OK, or ENOENT / EACCES /
 *                           EINVAL; USER "m:<name>" is a module user,
 *                           else a registered one (GetModuleUserFromUserName)
 *   ta.log USER REASON OBJECT, ta.logbyname NAME REASON OBJECT
 *                           ACLAddLogEntry / ACLAddLogEntryByUserName
 *   ta.redact POS ...       RedactClientCommandArgument for each POS
 *
 * Build: cc -O2 -g -fPIC -shared -std=c11 -Wall -I src -o testmod_acl.so \
 *        tests/modules/testmod_acl.c
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "module/module_abi.h"

/* ------------------------------------------------------------------ the API table */

#define TA_API(X)                                                                                                      \
    X(void *, Alloc, (size_t bytes))                                                                                   \
    X(void, Free, (void *ptr))                                                                                         \
    X(char *, Strdup, (const char *str))                                                                               \
    X(void, SetModuleAttribs, (km_ctx * ctx, const char *name, int ver, int apiver))                                   \
    X(int, CreateCommand,                                                                                              \
      (km_ctx * ctx, const char *name, km_cmd_fn fn, const char *flags, int first, int last, int step))                \
    X(void, Log, (km_ctx * ctx, const char *level, const char *fmt, ...))                                              \
    X(int, WrongArity, (km_ctx * ctx))                                                                                 \
    X(const char *, StringPtrLen, (const km_string *s, size_t *len))                                                   \
    X(km_string *, CreateString, (km_ctx * ctx, const char *ptr, size_t len))                                          \
    X(void, FreeString, (km_ctx * ctx, km_string * s))                                                                 \
    X(int, StringToLongLong, (const km_string *s, long long *ll))                                                      \
    X(int, ReplyWithError, (km_ctx * ctx, const char *err))                                                            \
    X(int, ReplyWithSimpleString, (km_ctx * ctx, const char *msg))                                                     \
    X(int, ReplyWithLongLong, (km_ctx * ctx, long long ll))                                                            \
    X(int, ReplyWithNull, (km_ctx * ctx))                                                                              \
    X(int, ReplyWithArray, (km_ctx * ctx, long len))                                                                   \
    X(int, ReplyWithString, (km_ctx * ctx, km_string * s))                                                             \
    X(int, ReplyWithStringBuffer, (km_ctx * ctx, const char *buf, size_t len))                                         \
    X(km_key *, OpenKey, (km_ctx * ctx, km_string * name, int mode))                                                   \
    X(void, CloseKey, (km_key * key))                                                                                  \
    X(char *, StringDMA, (km_key * key, size_t * len, int mode))                                                       \
    X(int, GetContextFlags, (km_ctx * ctx))                                                                            \
    X(int, SubscribeToServerEvent, (km_ctx * ctx, km_event event, km_event_fn cb))                                     \
    X(int, ExportSharedAPI, (km_ctx * ctx, const char *name, void *func))                                              \
    X(void *, GetSharedAPI, (km_ctx * ctx, const char *name))                                                          \
    X(int, Fork, (km_fork_done_fn cb, void *user_data))                                                                \
    X(void, SendChildHeartbeat, (double progress))                                                                     \
    X(int, ExitFromChild, (int retcode))                                                                               \
    X(int, KillForkChild, (int child_pid))                                                                             \
    X(km_user *, CreateModuleUser, (const char *name))                                                                 \
    X(int, FreeModuleUser, (km_user * user))                                                                           \
    X(int, SetModuleUserACL, (km_user * user, const char *acl))                                                        \
    X(int, SetModuleUserACLString, (km_ctx * ctx, km_user * user, const char *acl, km_string **error))                 \
    X(km_string *, GetModuleUserACLString, (km_user * user))                                                           \
    X(km_string *, GetCurrentUserName, (km_ctx * ctx))                                                                 \
    X(km_user *, GetModuleUserFromUserName, (km_string * name))                                                        \
    X(int, ACLCheckCommandPermissions, (km_user * user, km_string * *argv, int argc))                                  \
    X(int, ACLCheckKeyPermissions, (km_user * user, km_string * key, int flags))                                       \
    X(int, ACLCheckChannelPermissions, (km_user * user, km_string * ch, int flags))                                    \
    X(int, ACLAddLogEntry, (km_ctx * ctx, km_user * user, km_string * object, int reason))                             \
    X(int, ACLAddLogEntryByUserName, (km_ctx * ctx, km_string * user, km_string * object, int reason))                 \
    X(int, AuthenticateClientWithUser,                                                                                 \
      (km_ctx * ctx, km_user * user, km_user_changed_fn cb, void *privdata, uint64_t *client_id))                      \
    X(int, AuthenticateClientWithACLUser,                                                                              \
      (km_ctx * ctx, const char *name, size_t len, km_user_changed_fn cb, void *privdata, uint64_t *client_id))        \
    X(int, DeauthenticateAndCloseClient, (km_ctx * ctx, uint64_t client_id))                                           \
    X(int, RedactClientCommandArgument, (km_ctx * ctx, int pos))                                                       \
    X(km_string *, GetClientUserNameById, (km_ctx * ctx, uint64_t id))                                                 \
    X(void, SetContextUser, (km_ctx * ctx, const km_user *user))                                                       \
    X(km_call_reply *, Call, (km_ctx * ctx, const char *cmd, const char *fmt, ...))                                    \
    X(int, ReplyWithCallReply, (km_ctx * ctx, km_call_reply * reply))                                                  \
    X(void, FreeCallReply, (km_call_reply * reply))

#define TA_DECLARE(ret, name, params) static ret(*RedisModule_##name) params;
TA_API(TA_DECLARE)

static char missing_apis[4096];

static void fetch_api(km_get_api_fn getapi, const char *name, void **out)
{
    if (getapi(name, out) != KM_OK) {
        *out = NULL;
        size_t used = strlen(missing_apis);
        snprintf(missing_apis + used, sizeof(missing_apis) - used, "%s%s", used ? " " : "", name);
    }
}

#define TA_FETCH(ret, name, params) fetch_api(getapi, "RedisModule_" #name, (void **)&RedisModule_##name);

/* ------------------------------------------------------------------ helpers */

static char module_name[64] = "testmod_acl";
static char prefix[32] = "ta";

static const char *str_of(km_string *s, size_t *len)
{
    return RedisModule_StringPtrLen(s, len);
}

static int arg_is(km_string *s, const char *word)
{
    size_t len;
    const char *p = str_of(s, &len);
    return len == strlen(word) && strncasecmp(p, word, len) == 0;
}

/* The argument as a NUL-terminated copy in buf. */
static const char *cstr(km_string *s, char *buf, size_t cap)
{
    size_t len;
    const char *p = str_of(s, &len);
    snprintf(buf, cap, "%.*s", (int)len, p);
    return buf;
}

/* Replies an error and returns 1 when the server lacks one of the API
 * functions named (space-separated, without the RedisModule_ prefix). */
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

static const char *errno_name(int e)
{
    switch (e) {
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EINVAL: return "EINVAL";
    case ENOTSUP: return "ENOTSUP";
    default: return "EOTHER";
    }
}

/* ------------------------------------------------------------------ shared APIs */

/* What this module exports: its own name, so the importer sees whose code
 * ran. */
static const char *shared_whoami(void)
{
    return module_name;
}

/* Export names live as long as the module: the API keeps the pointer. */
static char export_names[16][64];
static int nexport_names;

static int cmd_export(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    if (lacks(ctx, "ExportSharedAPI"))
        return KM_OK;
    if (nexport_names == 16)
        return RedisModule_ReplyWithError(ctx, "ERR too many exports");
    char *name = export_names[nexport_names++];
    cstr(argv[1], name, sizeof(export_names[0]));
    if (RedisModule_ExportSharedAPI(ctx, name, (void *)shared_whoami) != KM_OK)
        return RedisModule_ReplyWithError(ctx, "ERR ExportSharedAPI failed");
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

static int cmd_import(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    if (lacks(ctx, "GetSharedAPI"))
        return KM_OK;
    char buf[128];
    const char *(*fn)(void) = (const char *(*)(void))RedisModule_GetSharedAPI(ctx, cstr(argv[1], buf, sizeof(buf)));
    if (!fn)
        return RedisModule_ReplyWithNull(ctx);
    const char *answer = fn();
    return RedisModule_ReplyWithStringBuffer(ctx, answer, strlen(answer));
}

/* ------------------------------------------------------------------ fork */

static long long fork_done_calls;
static int fork_last_code, fork_last_signal;

static void fork_done(int exitcode, int bysignal, void *user_data)
{
    (void)user_data;
    fork_done_calls++;
    fork_last_code = exitcode;
    fork_last_signal = bysignal;
}

static void sleep_ms(long long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static int cmd_fork(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 5 && argc != 6)
        return RedisModule_WrongArity(ctx);
    if (lacks(ctx, "Fork ExitFromChild SendChildHeartbeat"))
        return KM_OK;
    long long code, ms;
    if (RedisModule_StringToLongLong(argv[3], &code) != KM_OK || RedisModule_StringToLongLong(argv[4], &ms) != KM_OK)
        return RedisModule_ReplyWithError(ctx, "ERR bad number");
    int heartbeat = argc == 6 && arg_is(argv[5], "heartbeat");
    int pid = RedisModule_Fork(fork_done, NULL);
    if (pid != 0)
        return RedisModule_ReplyWithLongLong(ctx, pid);
    /* The child: it sleeps first, so that the server changes KEY meanwhile
     * and the child still reads the dataset as it was at the fork. */
    if (heartbeat)
        RedisModule_SendChildHeartbeat(0.5);
    sleep_ms(ms);
    char path[512];
    cstr(argv[2], path, sizeof(path));
    km_key *key = RedisModule_OpenKey(ctx, argv[1], KM_READ);
    size_t len = 0;
    const char *val = key ? RedisModule_StringDMA(key, &len, KM_READ) : NULL;
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "%ld %.*s", (long)getpid(), (int)len, val ? val : "");
        fclose(f);
    }
    if (key)
        RedisModule_CloseKey(key);
    RedisModule_ExitFromChild((int)code);
    return KM_OK; /* not reached */
}

static int cmd_forkdone(km_ctx *ctx, km_string **argv, int argc)
{
    (void)argv;
    if (argc != 1)
        return RedisModule_WrongArity(ctx);
    RedisModule_ReplyWithArray(ctx, 3);
    RedisModule_ReplyWithLongLong(ctx, fork_done_calls);
    RedisModule_ReplyWithLongLong(ctx, fork_last_code);
    return RedisModule_ReplyWithLongLong(ctx, fork_last_signal);
}

static int cmd_killfork(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    if (lacks(ctx, "KillForkChild"))
        return KM_OK;
    long long pid;
    if (RedisModule_StringToLongLong(argv[1], &pid) != KM_OK)
        return RedisModule_ReplyWithError(ctx, "ERR bad pid");
    if (RedisModule_KillForkChild((int)pid) != KM_OK)
        return RedisModule_ReplyWithError(ctx, "ERR KillForkChild failed");
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

static int cmd_activechild(km_ctx *ctx, km_string **argv, int argc)
{
    (void)argv;
    if (argc != 1)
        return RedisModule_WrongArity(ctx);
    return RedisModule_ReplyWithLongLong(ctx, (RedisModule_GetContextFlags(ctx) & KM_CTX_FLAGS_ACTIVE_CHILD) != 0);
}

static char fork_events[32][8];
static int nfork_events;

static void on_fork_child(km_ctx *ctx, km_event e, uint64_t sub, void *data)
{
    (void)ctx, (void)e, (void)data;
    if (nfork_events < 32)
        snprintf(fork_events[nfork_events++], sizeof(fork_events[0]), "%s",
                 sub == KM_SUB_FORK_CHILD_BORN ? "born" : "died");
}

static int cmd_forkevents(km_ctx *ctx, km_string **argv, int argc)
{
    (void)argv;
    if (argc != 1)
        return RedisModule_WrongArity(ctx);
    RedisModule_ReplyWithArray(ctx, nfork_events);
    for (int i = 0; i < nfork_events; i++)
        RedisModule_ReplyWithSimpleString(ctx, fork_events[i]);
    nfork_events = 0;
    return KM_OK;
}

/* ------------------------------------------------------------------ module users */

#define MAX_USERS 8
static struct {
    char name[64];
    km_user *user;
} users[MAX_USERS];

static int user_slot(km_string *name)
{
    char buf[64];
    cstr(name, buf, sizeof(buf));
    for (int i = 0; i < MAX_USERS; i++) {
        if (users[i].user && strcmp(users[i].name, buf) == 0)
            return i;
    }
    return -1;
}

#define USER_APIS "CreateModuleUser FreeModuleUser SetModuleUserACL"

static int cmd_user(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc < 3)
        return RedisModule_WrongArity(ctx);
    if (lacks(ctx, USER_APIS))
        return KM_OK;
    int slot = user_slot(argv[2]);
    if (arg_is(argv[1], "create")) {
        if (slot >= 0)
            return RedisModule_ReplyWithError(ctx, "ERR exists");
        for (slot = 0; slot < MAX_USERS && users[slot].user; slot++) {
        }
        if (slot == MAX_USERS)
            return RedisModule_ReplyWithError(ctx, "ERR too many users");
        cstr(argv[2], users[slot].name, sizeof(users[slot].name));
        users[slot].user = RedisModule_CreateModuleUser(users[slot].name);
        return RedisModule_ReplyWithSimpleString(ctx, "OK");
    }
    if (slot < 0)
        return RedisModule_ReplyWithError(ctx, "ERR no such module user");
    km_user *u = users[slot].user;
    if (arg_is(argv[1], "free")) {
        users[slot].user = NULL;
        return RedisModule_ReplyWithLongLong(ctx, RedisModule_FreeModuleUser(u) == KM_OK);
    }
    if (arg_is(argv[1], "set")) {
        RedisModule_ReplyWithArray(ctx, argc - 3);
        for (int i = 3; i < argc; i++) {
            char rule[256];
            int rc = RedisModule_SetModuleUserACL(u, cstr(argv[i], rule, sizeof(rule)));
            RedisModule_ReplyWithSimpleString(ctx, rc == KM_OK ? "OK" : "ERR");
        }
        return KM_OK;
    }
    if (arg_is(argv[1], "setstr") && argc == 4) {
        if (lacks(ctx, "SetModuleUserACLString"))
            return KM_OK;
        char rules[512];
        km_string *err = NULL;
        if (RedisModule_SetModuleUserACLString(ctx, u, cstr(argv[3], rules, sizeof(rules)), &err) == KM_OK)
            return RedisModule_ReplyWithSimpleString(ctx, "OK");
        if (!err)
            return RedisModule_ReplyWithError(ctx, "ERR failed without a reason");
        size_t len;
        const char *p = str_of(err, &len);
        char msg[600];
        snprintf(msg, sizeof(msg), "ERR %.*s", (int)len, p);
        RedisModule_FreeString(ctx, err);
        return RedisModule_ReplyWithError(ctx, msg);
    }
    if (arg_is(argv[1], "getstr") && argc == 3) {
        if (lacks(ctx, "GetModuleUserACLString"))
            return KM_OK;
        km_string *s = RedisModule_GetModuleUserACLString(u);
        RedisModule_ReplyWithString(ctx, s);
        RedisModule_FreeString(NULL, s);
        return KM_OK;
    }
    return RedisModule_ReplyWithError(ctx, "ERR unknown subcommand");
}

/* The user a check names: "m:<name>" a module user (*owned 0), else a
 * registered one by name (*owned 1: the handle is freed after the check).
 * NULL after an error reply. */
static km_user *user_arg(km_ctx *ctx, km_string *arg, int *owned)
{
    size_t len;
    const char *p = str_of(arg, &len);
    if (len > 2 && p[0] == 'm' && p[1] == ':') {
        km_string *name = RedisModule_CreateString(ctx, p + 2, len - 2);
        int slot = user_slot(name);
        RedisModule_FreeString(ctx, name);
        if (slot < 0) {
            RedisModule_ReplyWithError(ctx, "ERR no such module user");
            return NULL;
        }
        *owned = 0;
        return users[slot].user;
    }
    if (lacks(ctx, "GetModuleUserFromUserName"))
        return NULL;
    km_user *u = RedisModule_GetModuleUserFromUserName(arg);
    if (!u) {
        RedisModule_ReplyWithError(ctx, "ERR GetModuleUserFromUserName gave NULL");
        return NULL;
    }
    *owned = 1;
    return u;
}

static int reply_check(km_ctx *ctx, int rc, km_user *u, int owned)
{
    int e = errno;
    if (owned)
        RedisModule_FreeModuleUser(u);
    return RedisModule_ReplyWithSimpleString(ctx, rc == KM_OK ? "OK" : errno_name(e));
}

static int cmd_checkcmd(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc < 3)
        return RedisModule_WrongArity(ctx);
    if (lacks(ctx, "ACLCheckCommandPermissions " USER_APIS))
        return KM_OK;
    int owned;
    km_user *u = user_arg(ctx, argv[1], &owned);
    if (!u)
        return KM_OK;
    errno = 0;
    int rc = RedisModule_ACLCheckCommandPermissions(u, argv + 2, argc - 2);
    return reply_check(ctx, rc, u, owned);
}

static int cmd_checkkey(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc < 3)
        return RedisModule_WrongArity(ctx);
    if (lacks(ctx, "ACLCheckKeyPermissions " USER_APIS))
        return KM_OK;
    int flags = 0;
    for (int i = 3; i < argc; i++) {
        if (arg_is(argv[i], "access"))
            flags |= (int)KM_CMD_KEY_ACCESS;
        else if (arg_is(argv[i], "update"))
            flags |= (int)KM_CMD_KEY_UPDATE;
        else if (arg_is(argv[i], "insert"))
            flags |= (int)KM_CMD_KEY_INSERT;
        else if (arg_is(argv[i], "delete"))
            flags |= (int)KM_CMD_KEY_DELETE;
        else if (arg_is(argv[i], "rw"))
            flags |= (int)KM_CMD_KEY_RW; /* not a flag the call takes */
        else
            return RedisModule_ReplyWithError(ctx, "ERR unknown flag");
    }
    int owned;
    km_user *u = user_arg(ctx, argv[1], &owned);
    if (!u)
        return KM_OK;
    errno = 0;
    int rc = RedisModule_ACLCheckKeyPermissions(u, argv[2], flags);
    return reply_check(ctx, rc, u, owned);
}

static int cmd_checkchan(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc < 3)
        return RedisModule_WrongArity(ctx);
    if (lacks(ctx, "ACLCheckChannelPermissions " USER_APIS))
        return KM_OK;
    int flags = 0;
    for (int i = 3; i < argc; i++) {
        if (arg_is(argv[i], "pattern"))
            flags |= (int)KM_CMD_CHANNEL_PATTERN;
        else if (arg_is(argv[i], "publish"))
            flags |= (int)KM_CMD_CHANNEL_PUBLISH;
        else if (arg_is(argv[i], "subscribe"))
            flags |= (int)KM_CMD_CHANNEL_SUBSCRIBE;
        else if (arg_is(argv[i], "unsubscribe"))
            flags |= (int)KM_CMD_CHANNEL_UNSUBSCRIBE;
        else if (arg_is(argv[i], "bogus"))
            flags |= 1 << 8;
        else
            return RedisModule_ReplyWithError(ctx, "ERR unknown flag");
    }
    int owned;
    km_user *u = user_arg(ctx, argv[1], &owned);
    if (!u)
        return KM_OK;
    errno = 0;
    int rc = RedisModule_ACLCheckChannelPermissions(u, argv[2], flags);
    return reply_check(ctx, rc, u, owned);
}

static int cmd_log(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 4)
        return RedisModule_WrongArity(ctx);
    if (lacks(ctx, "ACLAddLogEntry " USER_APIS))
        return KM_OK;
    long long reason;
    if (RedisModule_StringToLongLong(argv[2], &reason) != KM_OK)
        return RedisModule_ReplyWithError(ctx, "ERR bad reason");
    int owned;
    km_user *u = user_arg(ctx, argv[1], &owned);
    if (!u)
        return KM_OK;
    int rc = RedisModule_ACLAddLogEntry(ctx, u, argv[3], (int)reason);
    if (owned)
        RedisModule_FreeModuleUser(u);
    return RedisModule_ReplyWithSimpleString(ctx, rc == KM_OK ? "OK" : "ERR");
}

static int cmd_logbyname(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 4)
        return RedisModule_WrongArity(ctx);
    if (lacks(ctx, "ACLAddLogEntryByUserName"))
        return KM_OK;
    long long reason;
    if (RedisModule_StringToLongLong(argv[2], &reason) != KM_OK)
        return RedisModule_ReplyWithError(ctx, "ERR bad reason");
    int rc = RedisModule_ACLAddLogEntryByUserName(ctx, argv[1], argv[3], (int)reason);
    return RedisModule_ReplyWithSimpleString(ctx, rc == KM_OK ? "OK" : "ERR");
}

/* ------------------------------------------------------------------ authentication */

static char changes[64][24];
static int nchanges;

static void user_changed(uint64_t client_id, void *privdata)
{
    (void)privdata;
    if (nchanges < 64)
        snprintf(changes[nchanges++], sizeof(changes[0]), "%llu", (unsigned long long)client_id);
}

static int cmd_auth(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    if (lacks(ctx, "AuthenticateClientWithUser"))
        return KM_OK;
    int slot = user_slot(argv[1]);
    if (slot < 0)
        return RedisModule_ReplyWithError(ctx, "ERR no such module user");
    uint64_t id = 0;
    if (RedisModule_AuthenticateClientWithUser(ctx, users[slot].user, user_changed, NULL, &id) != KM_OK)
        return RedisModule_ReplyWithError(ctx, "ERR AuthenticateClientWithUser failed");
    return RedisModule_ReplyWithLongLong(ctx, (long long)id);
}

static int cmd_authacl(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    if (lacks(ctx, "AuthenticateClientWithACLUser"))
        return KM_OK;
    size_t len;
    const char *name = str_of(argv[1], &len);
    uint64_t id = 0;
    if (RedisModule_AuthenticateClientWithACLUser(ctx, name, len, user_changed, NULL, &id) != KM_OK)
        return RedisModule_ReplyWithError(ctx, "ERR AuthenticateClientWithACLUser failed");
    return RedisModule_ReplyWithLongLong(ctx, (long long)id);
}

static int cmd_changes(km_ctx *ctx, km_string **argv, int argc)
{
    (void)argv;
    if (argc != 1)
        return RedisModule_WrongArity(ctx);
    RedisModule_ReplyWithArray(ctx, nchanges);
    for (int i = 0; i < nchanges; i++)
        RedisModule_ReplyWithSimpleString(ctx, changes[i]);
    nchanges = 0;
    return KM_OK;
}

static int cmd_deauth(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    if (lacks(ctx, "DeauthenticateAndCloseClient"))
        return KM_OK;
    long long id;
    if (RedisModule_StringToLongLong(argv[1], &id) != KM_OK)
        return RedisModule_ReplyWithError(ctx, "ERR bad id");
    if (RedisModule_DeauthenticateAndCloseClient(ctx, (uint64_t)id) != KM_OK)
        return RedisModule_ReplyWithError(ctx, "ERR DeauthenticateAndCloseClient failed");
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

static int cmd_whoami(km_ctx *ctx, km_string **argv, int argc)
{
    (void)argv;
    if (argc != 1)
        return RedisModule_WrongArity(ctx);
    if (lacks(ctx, "GetCurrentUserName"))
        return KM_OK;
    km_string *s = RedisModule_GetCurrentUserName(ctx);
    if (!s)
        return RedisModule_ReplyWithNull(ctx);
    RedisModule_ReplyWithString(ctx, s);
    RedisModule_FreeString(ctx, s);
    return KM_OK;
}

static int cmd_username(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 2)
        return RedisModule_WrongArity(ctx);
    if (lacks(ctx, "GetClientUserNameById"))
        return KM_OK;
    long long id;
    if (RedisModule_StringToLongLong(argv[1], &id) != KM_OK)
        return RedisModule_ReplyWithError(ctx, "ERR bad id");
    errno = 0;
    km_string *s = RedisModule_GetClientUserNameById(ctx, (uint64_t)id);
    if (!s) {
        char msg[64];
        snprintf(msg, sizeof(msg), "ERR %s", errno_name(errno));
        return RedisModule_ReplyWithError(ctx, msg);
    }
    RedisModule_ReplyWithString(ctx, s);
    RedisModule_FreeString(ctx, s);
    return KM_OK;
}

static int cmd_redact(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc < 2)
        return RedisModule_WrongArity(ctx);
    if (lacks(ctx, "RedactClientCommandArgument"))
        return KM_OK;
    RedisModule_ReplyWithArray(ctx, argc - 1);
    for (int i = 1; i < argc; i++) {
        long long pos;
        if (RedisModule_StringToLongLong(argv[i], &pos) != KM_OK)
            pos = -100;
        int rc = RedisModule_RedactClientCommandArgument(ctx, (int)pos);
        RedisModule_ReplyWithSimpleString(ctx, rc == KM_OK ? "OK" : "ERR");
    }
    return KM_OK;
}

/* ------------------------------------------------------------------ loading */

/* ta.callas <m:user|-> <flags> cmd args...: SetContextUser (the module
 * user, or none for "-"), then Call with the flags given and "Ev"; the
 * reply forwarded, or "ERR Call failed: <errno>". */
static int cmd_callas(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc < 4)
        return RedisModule_WrongArity(ctx);
    if (lacks(ctx, "SetContextUser Call ReplyWithCallReply FreeCallReply"))
        return KM_OK;
    if (!arg_is(argv[1], "-")) {
        int owned;
        km_user *u = user_arg(ctx, argv[1], &owned);
        if (!u)
            return KM_OK;
        RedisModule_SetContextUser(ctx, u);
    }
    char fmt[32], cmd[64];
    size_t flen;
    const char *flags = str_of(argv[2], &flen);
    if (flen > sizeof(fmt) - 3)
        return RedisModule_ReplyWithError(ctx, "ERR too many flags");
    memcpy(fmt, flags, flen);
    memcpy(fmt + flen, "Ev", 3);
    errno = 0;
    km_call_reply *reply = RedisModule_Call(ctx, cstr(argv[3], cmd, sizeof(cmd)), fmt, argv + 4, (size_t)(argc - 4));
    if (!reply) {
        char msg[64];
        snprintf(msg, sizeof(msg), "ERR Call failed: %s", errno_name(errno));
        return RedisModule_ReplyWithError(ctx, msg);
    }
    RedisModule_ReplyWithCallReply(ctx, reply);
    RedisModule_FreeCallReply(reply);
    return KM_OK;
}

static const struct {
    const char *name; /* after the prefix and a dot */
    km_cmd_fn fn;
    const char *flags;
    int all_prefixes; /* also for a copy with another prefix */
} commands[] = {
    {"export", cmd_export, "", 1},         {"import", cmd_import, "", 1},       {"fork", cmd_fork, "", 0},
    {"forkdone", cmd_forkdone, "", 0},     {"killfork", cmd_killfork, "", 0},   {"activechild", cmd_activechild, "", 0},
    {"forkevents", cmd_forkevents, "", 0}, {"user", cmd_user, "", 0},           {"checkcmd", cmd_checkcmd, "", 0},
    {"checkkey", cmd_checkkey, "", 0},     {"checkchan", cmd_checkchan, "", 0}, {"log", cmd_log, "", 0},
    {"logbyname", cmd_logbyname, "", 0},   {"auth", cmd_auth, "no-auth", 0},    {"authacl", cmd_authacl, "no-auth", 0},
    {"changes", cmd_changes, "", 0},       {"deauth", cmd_deauth, "", 0},       {"whoami", cmd_whoami, "", 0},
    {"username", cmd_username, "", 0},     {"redact", cmd_redact, "", 0},       {"callas", cmd_callas, "", 0},
};

int RedisModule_OnLoad(km_ctx *ctx, km_string **argv, int argc)
{
    km_get_api_fn getapi = (km_get_api_fn)((void **)ctx)[0];
    missing_apis[0] = '\0';
    TA_API(TA_FETCH)
    if (!RedisModule_SetModuleAttribs || !RedisModule_CreateCommand || !RedisModule_StringPtrLen) {
        fprintf(stderr, "testmod_acl: the server lacks a core API function: %s\n", missing_apis);
        return KM_ERR;
    }
    for (int i = 0; i + 1 < argc; i += 2) {
        if (arg_is(argv[i], "name"))
            cstr(argv[i + 1], module_name, sizeof(module_name));
        else if (arg_is(argv[i], "prefix"))
            cstr(argv[i + 1], prefix, sizeof(prefix));
    }
    RedisModule_SetModuleAttribs(ctx, module_name, 1, KM_APIVER_1);
    if (missing_apis[0] && RedisModule_Log)
        RedisModule_Log(ctx, "warning", "testmod_acl: missing API functions: %s", missing_apis);
    int main_copy = strcmp(prefix, "ta") == 0;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (!main_copy && !commands[i].all_prefixes)
            continue;
        char name[96];
        snprintf(name, sizeof(name), "%s.%s", prefix, commands[i].name);
        if (RedisModule_CreateCommand(ctx, name, commands[i].fn, commands[i].flags, 0, 0, 0) != KM_OK)
            return KM_ERR;
    }
    if (main_copy && RedisModule_SubscribeToServerEvent)
        RedisModule_SubscribeToServerEvent(ctx, (km_event){KM_EVENT_FORK_CHILD, 1}, on_fork_child);
    return KM_OK;
}

/* Module users are the module's to free (Redis would keep them). */
int RedisModule_OnUnload(km_ctx *ctx)
{
    (void)ctx;
    for (int i = 0; i < MAX_USERS; i++) {
        if (users[i].user && RedisModule_FreeModuleUser)
            RedisModule_FreeModuleUser(users[i].user);
        users[i].user = NULL;
    }
    return KM_OK;
}
