/* script/lua: the Lua 5.1 engine behind EVAL scripts and FUNCTION
 * libraries.
 *
 * Sandbox. Only base, table, string, math, coroutine, cjson, bit and
 * struct are opened, and the global table scripts see is a read-only
 * proxy over an allow-list of names (what Redis 7 exposes): reading a
 * missing global raises "Script attempted to access nonexistent global
 * variable", writing one raises "Attempt to modify a readonly table". The
 * library tables are read-only proxies too, so one script cannot change
 * what the next one runs. rawset/rawget/next/pairs/setmetatable are
 * wrapped so the proxies cannot be bypassed, loadstring/load refuse
 * precompiled chunks (the Lua 5.1 undumper trusts its input), and os, io,
 * package, require, debug, dofile, loadfile, getfenv, setfenv and newproxy
 * are not reachable at all.
 *
 * Running. A script runs inside the caller's dispatch_call; redis.call
 * runs commands on a fake client through dispatch_call too, so their
 * writes propagate as effects, wrapped with the rest of the script's. A
 * count hook watches the clock: past busy-reply-threshold it processes
 * events, so other clients get BUSY and SCRIPT KILL / SHUTDOWN NOSAVE can
 * be served; the caller's socket is paused meanwhile so its own next
 * commands never run inside its script.
 *
 * Memory. The interpreters allocate through base/alloc, so their bytes
 * count in used_memory, and each keeps its own total for INFO. */
#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl/acl.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/sha1.h"
#include "base/util.h"
#include "repl/repl.h"
#include "script/script_int.h"
#include "server/persistence.h"

int luaopen_cjson(lua_State *L);
int luaopen_bit(lua_State *L);

/* Instructions between two hook calls: about a tenth of a millisecond of
 * plain Lua, so the clock is read often enough and costs nothing. */
#define HOOK_COUNT 100000
/* Library code at FUNCTION LOAD must finish in this many ms. */
#define LOAD_TIMEOUT_MS 500
/* Deepest nesting converted between Lua tables and replies. */
#define MAX_NESTING 1000

/* Registry keys. */
static const char *RK_GLOBALS = "keel.globals"; /* the real globals scripts see */
static const char *RK_RO = "keel.readonly";     /* proxy -> real table */
static const char *RK_REDIS_LOAD = "keel.redis_load";
static const char *RK_GLOBALS_MT = "keel.globals_mt"; /* the proxy's metatable */

/* ---- the current run ---- */

typedef struct script_run {
    client *caller;
    svm *vm;
    const char *name;
    int is_function;
    int flags;
    int ro;
    int resp;  /* redis.setresp */
    int oom;   /* over maxmemory when the script started */
    int wrote; /* a write command ran: SCRIPT KILL refuses */
    int busy;  /* past busy-reply-threshold: serving events */
    int killed;
    int64_t start_ms; /* monotonic, from the calling command's start */
    sv *argv;         /* the caller's command, for FUNCTION STATS */
    int argc;
} script_run;

static script_run *cur;
static client *fake;

int script_running_is_function(void)
{
    return cur && cur->is_function;
}

/* ---- flags ---- */

static const struct {
    int flag;
    const char *name;
} flag_names[] = {{SCRIPT_FLAG_NO_WRITES, "no-writes"},
                  {SCRIPT_FLAG_ALLOW_OOM, "allow-oom"},
                  {SCRIPT_FLAG_ALLOW_STALE, "allow-stale"},
                  {SCRIPT_FLAG_NO_CLUSTER, "no-cluster"},
                  {SCRIPT_FLAG_ALLOW_CROSS_SLOT, "allow-cross-slot-keys"}};

int script_flag_from_name(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++) {
        if (strlen(flag_names[i].name) == len && memcmp(flag_names[i].name, name, len) == 0) {
            return flag_names[i].flag;
        }
    }
    return 0;
}

int script_flag_names(int flags, const char **out, int max)
{
    int n = 0;
    for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]) && n < max; i++) {
        if (flags & flag_names[i].flag) {
            out[n++] = flag_names[i].name;
        }
    }
    return n;
}

int script_has_shebang(const char *code, size_t len)
{
    return len >= 2 && code[0] == '#' && code[1] == '!';
}

/* ---- allocator ---- */

static void *vm_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    svm *vm = ud;
    if (nsize == 0) {
        if (ptr) {
            vm->mem -= osize;
            alloc_free_sized(ptr, osize);
        }
        return NULL;
    }
    void *p = alloc_resize_sized(ptr, osize, nsize);
    vm->mem += nsize;
    if (ptr) {
        vm->mem -= osize;
    }
    return p;
}

/* ---- errors ---- */

/* Marks the error table on top of the stack as counted in the error
 * statistics already (the command's own error reply was): passed on by
 * the script, it is not counted again. Redis's field name, which scripts
 * can see. */
static void mark_counted(lua_State *L)
{
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "ignore_error_stats_update");
}

static int is_counted(lua_State *L, int idx)
{
    lua_getfield(L, idx, "ignore_error_stats_update");
    int counted = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return counted;
}

int svm_raise(lua_State *L, const char *msg)
{
    lua_newtable(L);
    lua_pushstring(L, msg);
    lua_setfield(L, -2, "err");
    return lua_error(L);
}

/* The message handler of every pcall into a script: turns the error into
 * {err=..., source=..., line=...} with the place it was raised (skipping a
 * C function such as redis.call or error itself). */
static int err_handler(lua_State *L)
{
    lua_Debug ar;
    const char *source = NULL;
    int line = -1;
    if (lua_getstack(L, 1, &ar)) {
        lua_getinfo(L, "Sl", &ar);
        if (strcmp(ar.what, "C") == 0) {
            if (lua_getstack(L, 2, &ar)) {
                lua_getinfo(L, "Sl", &ar);
                source = ar.source;
                line = ar.currentline;
            }
        } else {
            source = ar.source;
            line = ar.currentline;
        }
    }
    lua_newtable(L);
    int t = lua_gettop(L);
    if (lua_type(L, 1) == LUA_TTABLE) {
        if (is_counted(L, 1)) {
            mark_counted(L);
        }
        lua_getfield(L, 1, "err");
        if (lua_type(L, -1) != LUA_TSTRING) {
            lua_pop(L, 1);
            lua_pushstring(L, "ERR unknown error");
        }
    } else if (lua_type(L, 1) == LUA_TSTRING || lua_type(L, 1) == LUA_TNUMBER) {
        lua_pushfstring(L, "ERR %s", lua_tostring(L, 1));
    } else {
        lua_pushstring(L, "ERR unknown error");
    }
    lua_setfield(L, t, "err");
    if (source) {
        lua_pushstring(L, source);
        lua_setfield(L, t, "source");
        lua_pushinteger(L, line);
        lua_setfield(L, t, "line");
    }
    return 1;
}

/* Formats the handler's table (or a bare message) into one error line;
 * *counted (if given) tells whether it was counted where it arose. */
static str error_text(lua_State *L, int idx, const char *name, int *counted)
{
    str out = str_empty(128);
    if (idx < 0) {
        idx = lua_gettop(L) + idx + 1;
    }
    if (counted) {
        *counted = lua_type(L, idx) == LUA_TTABLE && is_counted(L, idx);
    }
    if (lua_type(L, idx) == LUA_TTABLE) {
        lua_getfield(L, idx, "err");
        lua_getfield(L, idx, "source");
        lua_getfield(L, idx, "line");
        size_t len = 0;
        const char *e = lua_tolstring(L, -3, &len);
        out = str_append(out, e ? e : "ERR unknown error", e ? len : 17);
        while (str_len(out) && (out[str_len(out) - 1] == '\n' || out[str_len(out) - 1] == '\r')) {
            str_set_len(out, str_len(out) - 1);
        }
        if (name && lua_type(L, -2) == LUA_TSTRING) {
            out = str_printf(out, " script: %s, on %s:%d.", name, lua_tostring(L, -2), (int)lua_tointeger(L, -1));
        }
        lua_pop(L, 3);
    } else {
        const char *e = lua_tostring(L, idx);
        out = str_printf(out, "ERR %s", e ? e : "unknown error");
    }
    return out;
}

/* ---- RESP reply (from the fake client) -> Lua ---- */

static const char *read_line(const char *p, const char *end, const char **line_end)
{
    const char *q = memchr(p, '\r', (size_t)(end - p));
    if (!q || q + 1 >= end) {
        *line_end = end;
        return end;
    }
    *line_end = q;
    return q + 2;
}

static long long line_ll(const char *p, const char *e)
{
    long long v = 0;
    util_parse_ll(p, (size_t)(e - p), &v);
    return v;
}

/* Pushes one value parsed from p; returns the position after it. The
 * buffer is what our own reply code wrote, so it is well formed. */
static const char *resp_to_lua(lua_State *L, const char *p, const char *end, int depth)
{
    if (p >= end) {
        lua_pushnil(L);
        return end;
    }
    luaL_checkstack(L, 8, "reply too deeply nested");
    char type = *p++;
    const char *le;
    const char *next = read_line(p, end, &le);
    switch (type) {
    case '+':
        lua_newtable(L);
        lua_pushlstring(L, p, (size_t)(le - p));
        lua_setfield(L, -2, "ok");
        return next;
    case '-':
        lua_newtable(L);
        lua_pushlstring(L, p, (size_t)(le - p));
        lua_setfield(L, -2, "err");
        mark_counted(L);
        return next;
    case ':': lua_pushnumber(L, (lua_Number)line_ll(p, le)); return next;
    case '(':
        lua_newtable(L);
        lua_pushlstring(L, p, (size_t)(le - p));
        lua_setfield(L, -2, "big_number");
        return next;
    case ',': {
        char buf[64];
        size_t n = (size_t)(le - p) < sizeof(buf) - 1 ? (size_t)(le - p) : sizeof(buf) - 1;
        memcpy(buf, p, n);
        buf[n] = '\0';
        lua_newtable(L);
        lua_pushnumber(L, strtod(buf, NULL));
        lua_setfield(L, -2, "double");
        return next;
    }
    case '#': lua_pushboolean(L, *p == 't'); return next;
    case '_': lua_pushnil(L); return next;
    case '$':
    case '=': {
        long long n = line_ll(p, le);
        if (n < 0) {
            lua_pushboolean(L, 0);
            return next;
        }
        if (type == '=' && n >= 4) {
            lua_newtable(L);
            lua_newtable(L);
            lua_pushlstring(L, next, 3);
            lua_setfield(L, -2, "format");
            lua_pushlstring(L, next + 4, (size_t)n - 4);
            lua_setfield(L, -2, "string");
            lua_setfield(L, -2, "verbatim_string");
        } else {
            lua_pushlstring(L, next, (size_t)n);
        }
        return next + n + 2;
    }
    case '*':
    case '>':
    case '~':
    case '%':
    case '|': {
        long long n = line_ll(p, le);
        if (n < 0) {
            lua_pushboolean(L, 0);
            return next;
        }
        if (type == '|') {
            /* Attributes are out-of-band: skip them, read the value. */
            for (long long i = 0; i < n * 2; i++) {
                next = resp_to_lua(L, next, end, depth + 1);
                lua_pop(L, 1);
            }
            return resp_to_lua(L, next, end, depth);
        }
        lua_createtable(L, type == '*' || type == '>' ? (int)n : 0, 0);
        int t = lua_gettop(L);
        for (long long i = 0; i < n; i++) {
            if (type == '%') {
                next = resp_to_lua(L, next, end, depth + 1);
                next = resp_to_lua(L, next, end, depth + 1);
                if (lua_isnil(L, -2)) {
                    lua_pop(L, 2);
                } else {
                    lua_settable(L, t);
                }
            } else if (type == '~') {
                next = resp_to_lua(L, next, end, depth + 1);
                if (lua_isnil(L, -1)) {
                    lua_pop(L, 1);
                } else {
                    lua_pushboolean(L, 1);
                    lua_settable(L, t);
                }
            } else {
                next = resp_to_lua(L, next, end, depth + 1);
                lua_rawseti(L, t, (int)i + 1);
            }
        }
        if (type == '%' || type == '~') {
            lua_newtable(L);
            lua_pushvalue(L, t);
            lua_setfield(L, -2, type == '%' ? "map" : "set");
            lua_replace(L, t);
        }
        return next;
    }
    default: lua_pushnil(L); return end;
    }
}

/* ---- Lua value -> reply to the caller ---- */

/* A Lua number as an integer reply. Out of range (and NaN) it is what
 * Redis's unchecked cast gives on x86-64, LLONG_MIN, without the undefined
 * behaviour. */
static long long num_to_ll(lua_Number d)
{
    if (isnan(d) || d >= 9223372036854775808.0 || d < -9223372036854775808.0) {
        return INT64_MIN;
    }
    return (long long)d;
}

/* Field `name` of the table at idx when it has type `type` (left pushed,
 * returns 1), else nothing is pushed and 0 returned. */
static int table_field(lua_State *L, int idx, const char *name, int type)
{
    lua_pushstring(L, name);
    lua_rawget(L, idx);
    if (lua_type(L, -1) == type) {
        return 1;
    }
    lua_pop(L, 1);
    return 0;
}

static void lua_to_reply(client *c, lua_State *L, int idx, int resp, int depth)
{
    rbuf *r = R(c);
    if (idx < 0) {
        idx = lua_gettop(L) + idx + 1;
    }
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        reply_bulk(r, s, len);
        return;
    }
    case LUA_TBOOLEAN:
        if (resp == 3) {
            reply_bool(r, lua_toboolean(L, idx));
        } else if (lua_toboolean(L, idx)) {
            reply_int(r, 1);
        } else {
            reply_null(r);
        }
        return;
    case LUA_TNUMBER: reply_int(r, num_to_ll(lua_tonumber(L, idx))); return;
    case LUA_TTABLE: break;
    default: reply_null(r); return;
    }
    if (depth > MAX_NESTING || !lua_checkstack(L, 8)) {
        reply_err(c, "ERR reached lua stack limit");
        return;
    }
    if (table_field(L, idx, "err", LUA_TSTRING)) {
        int counted = is_counted(L, idx);
        (counted ? reply_err_counted : reply_err)(c, lua_tostring(L, -1));
        lua_pop(L, 1);
        return;
    }
    if (table_field(L, idx, "ok", LUA_TSTRING)) {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        reply_status_len(r, s, len);
        lua_pop(L, 1);
        return;
    }
    if (table_field(L, idx, "double", LUA_TNUMBER)) {
        reply_double(r, lua_tonumber(L, -1));
        lua_pop(L, 1);
        return;
    }
    if (table_field(L, idx, "big_number", LUA_TSTRING)) {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        reply_big_number(r, s, len);
        lua_pop(L, 1);
        return;
    }
    if (table_field(L, idx, "verbatim_string", LUA_TTABLE)) {
        int v = lua_gettop(L);
        lua_getfield(L, v, "format");
        lua_getfield(L, v, "string");
        size_t len = 0;
        const char *fmt = lua_tostring(L, -2);
        const char *s = lua_tolstring(L, -1, &len);
        if (s) {
            reply_verbatim(r, s, len, fmt && strlen(fmt) == 3 ? fmt : "txt");
        } else {
            reply_null(r);
        }
        lua_pop(L, 3);
        return;
    }
    int is_map = table_field(L, idx, "map", LUA_TTABLE);
    if (is_map || table_field(L, idx, "set", LUA_TTABLE)) {
        int t = lua_gettop(L);
        long long n = 0;
        lua_pushnil(L);
        while (lua_next(L, t)) {
            n++;
            lua_pop(L, 1);
        }
        if (is_map) {
            reply_map(r, n);
        } else {
            reply_set(r, n);
        }
        lua_pushnil(L);
        while (lua_next(L, t)) {
            lua_to_reply(c, L, -2, resp, depth + 1);
            if (is_map) {
                lua_to_reply(c, L, -1, resp, depth + 1);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        return;
    }
    /* A plain array: up to the first nil. */
    long long n = 0;
    for (;;) {
        lua_rawgeti(L, idx, (int)n + 1);
        int nil = lua_isnil(L, -1);
        lua_pop(L, 1);
        if (nil) {
            break;
        }
        n++;
    }
    reply_array(r, n);
    for (long long i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, (int)i);
        lua_to_reply(c, L, -1, resp, depth + 1);
        lua_pop(L, 1);
    }
}

/* ---- the redis table ---- */

/* Fails a redis.call/pcall with {err=msg}: raised for call, returned
 * for pcall; counted marks it as already in the error statistics. */
static int call_error(lua_State *L, int raise, const char *msg, int counted)
{
    if (ldb_tracing()) {
        ldb_log_call_error(msg);
    }
    lua_newtable(L);
    lua_pushstring(L, msg);
    lua_setfield(L, -2, "err");
    if (counted) {
        mark_counted(L);
    }
    return raise ? lua_error(L) : 1;
}

static int call_fail(lua_State *L, int raise, const char *msg)
{
    return call_error(L, raise, msg, 0);
}

/* A command refused before it ran (unknown, arity, ACL, read-only...):
 * counted now as Redis's scriptCall counts it, an error and a rejected
 * call, so the script passing the error on does not count it again. */
static int call_refuse(lua_State *L, int raise, command *cmd, const char *msg)
{
    errorstats_count(msg);
    stats_count_rejected(cmd);
    return call_error(L, raise, msg, 1);
}

static void fake_reset_reply(void)
{
    fake->out.len = 0;
    fake->out.sent = 0;
}

/* Scripts name the same few commands on every call: a small cache of
 * name -> command saves a hash of the name per redis.call. Entries are
 * checked by content, so a reused string address can never mislead it. */
#define CALL_CACHE_SIZE 64
#define CALL_CACHE_NAME 24

static struct {
    size_t len;
    char name[CALL_CACHE_NAME];
    command *cmd;
} call_cache[CALL_CACHE_SIZE];

static command *script_cmd_lookup(const char *p, size_t len)
{
    if (len > CALL_CACHE_NAME) {
        return cmd_lookup(p, len);
    }
    size_t slot = ((uintptr_t)p >> 4) % CALL_CACHE_SIZE;
    if (call_cache[slot].len == len && memcmp(call_cache[slot].name, p, len) == 0) {
        return call_cache[slot].cmd;
    }
    command *cmd = cmd_lookup(p, len);
    if (cmd) {
        call_cache[slot].len = len;
        memcpy(call_cache[slot].name, p, len);
        call_cache[slot].cmd = cmd;
    }
    return cmd;
}

/* Numbers become arguments as Redis writes them, "%.17g" (0.1 is
 * "0.10000000000000001"); an integer below 1e17 prints as itself, which
 * util_ll2str writes far faster than printf. buf holds 32 bytes. */
static sv number_arg(lua_State *L, int i, char *buf)
{
    lua_Number n = lua_tonumber(L, i);
    if (n > -1e17 && n < 1e17 && n == (lua_Number)(long long)n && !(n == 0 && signbit(n))) {
        return (sv){buf, (size_t)util_ll2str(buf, (long long)n)};
    }
    return (sv){buf, (size_t)snprintf(buf, 32, "%.17g", (double)n)};
}

static int redis_call_run(lua_State *L, int raise, script_run *r, int argc);

static int redis_call_common(lua_State *L, int raise)
{
    script_run *r = cur;
    int argc = lua_gettop(L);
    if (!r) {
        return call_fail(L, raise, "ERR redis.call can only be used inside a script invocation");
    }
    if (argc == 0) {
        return call_fail(L, raise, "ERR Please specify at least one argument for this redis lib call");
    }
    if (argc > fake->argv_cap) {
        fake->argv_cap = argc < 16 ? 16 : argc * 2;
        fake->argv = alloc_resize(fake->argv, sizeof(sv) * (size_t)fake->argv_cap);
    }
    /* The text of the first numbers lives here for the call (an error
     * may longjmp out of it, so nothing is allocated); later ones are
     * pushed as Lua strings, which Lua keeps on its stack. */
    char digits[8][32];
    for (int i = 1; i <= argc; i++) {
        int t = lua_type(L, i);
        if (t == LUA_TNUMBER) {
            if (i <= 8) {
                fake->argv[i - 1] = number_arg(L, i, digits[i - 1]);
                continue;
            }
            char tmp[32];
            sv v = number_arg(L, i, tmp);
            lua_pushlstring(L, v.ptr, v.len);
            lua_replace(L, i);
        }
        if (t == LUA_TSTRING || t == LUA_TNUMBER) {
            size_t len;
            const char *p = lua_tolstring(L, i, &len);
            fake->argv[i - 1] = (sv){p, len};
        } else {
            return call_fail(L, raise, "ERR Lua redis lib command arguments must be strings or integers");
        }
    }
    return redis_call_run(L, raise, r, argc);
}

/* The command itself, once its arguments are in fake->argv. */
static int redis_call_run(lua_State *L, int raise, script_run *r, int argc)
{
    if (ldb_tracing()) {
        ldb_log_call(fake->argv, argc);
    }
    if (dispatch_filter) {
        /* Modules' command filters see scripts' calls too, as in Redis. */
        fake->argc = argc;
        dispatch_filter(fake);
        argc = fake->argc;
        if (argc == 0) {
            return call_refuse(L, raise, NULL, "ERR Unknown Redis command called from script");
        }
    }
    command *cmd = script_cmd_lookup(fake->argv[0].ptr, fake->argv[0].len);
    if (!cmd) {
        return call_refuse(L, raise, NULL, "ERR Unknown Redis command called from script");
    }
    if (cmd->arity > 0 ? argc != cmd->arity : argc < -cmd->arity) {
        return call_refuse(L, raise, cmd, "ERR Wrong number of args calling Redis command from script");
    }
    /* A container's subcommand decides (CONFIG GET, OBJECT ENCODING ...);
     * a name it does not have is an unknown command, as in Redis. */
    command *sub = cmd_resolve(cmd, fake->argv, argc);
    if (!sub) {
        return call_refuse(L, raise, NULL, "ERR Unknown Redis command called from script");
    }
    if (sub != cmd) {
        if (sub->arity > 0 ? argc != sub->arity : argc < -sub->arity) {
            return call_refuse(L, raise, sub, "ERR Wrong number of args calling Redis command from script");
        }
        cmd = sub;
    }
    /* (A script from a script stays refused even then: one runs at a time.) */
    if ((cmd->flags & CMD_NOSCRIPT) && (!server.script_allow_noscript || command_runs_script(cmd))) {
        return call_refuse(L, raise, cmd, "ERR This Redis command is not allowed from script");
    }
    /* The caller's ACL user decides, with Redis's script texts; the denial
     * is logged in the "lua" context. */
    if (r->caller && r->caller->user && !r->caller->user->allperm) {
        int pos = 0;
        int denial = acl_check(r->caller->user, cmd, fake->argv, argc, &pos);
        if (denial != ACL_OK) {
            char buf[160];
            sv object = acl_denial_object(cmd, fake->argv, denial, pos, buf, sizeof(buf));
            acl_user *u = r->caller->user;
            acl_log_add(r->caller, denial, ACL_CTX_LUA, object, (sv){u->name, str_len(u->name)});
            return call_refuse(L, raise, cmd, acl_script_error(denial));
        }
    }
    /* may_replicate commands (PUBLISH, PFCOUNT) count as writes here, as
     * in Redis: a read-only script may run on a replica. */
    if ((cmd->flags & (CMD_WRITE | CMD_MAY_REPLICATE)) && r->ro) {
        return call_refuse(L, raise, cmd, "ERR Write commands are not allowed from read-only scripts.");
    }
    /* Past maxmemory a script may not start writing (it could not be
     * stopped half-way later), unless it declared allow-oom. */
    if ((cmd->flags & CMD_DENYOOM) && r->oom && !r->wrote && !(r->flags & SCRIPT_FLAG_ALLOW_OOM)) {
        return call_refuse(L, raise, cmd, OOM_ERROR);
    }
    /* Once the script wrote, the server's state (a replica gone below
     * min-replicas-to-write, a failed save) no longer stops it half-way:
     * its writes so far are made, as in Redis. */
    const char *refusal = (cmd->flags & CMD_WRITE) && !r->wrote ? server_write_refusal(fake, 0) : NULL;
    if (refusal) {
        return call_refuse(L, raise, cmd, refusal); /* as at the top level */
    }
    /* An allow-stale script on a replica that serves no stale data runs
     * only commands that may (INFO, ...), as in Redis. */
    if (server_stale_for(fake) && !(cmd->flags & CMD_STALE)) {
        return call_refuse(L, raise, cmd, "ERR Can not execute the command on a stale replica");
    }
    if (cmd->flags & CMD_WRITE) {
        r->wrote = 1;
    }
    fake->argc = argc;
    /* The command runs as the caller's user where it looks (SORT's BY and
     * GET); its permissions were checked above. */
    fake->user = r->caller ? r->caller->user : NULL;
    fake->resp = r->resp;
    fake->out.resp = r->resp;
    fake_reset_reply();
    dispatch_call(fake, cmd);
    fake->user = NULL;
    client_end_command(fake);
    if (ldb_tracing()) {
        ldb_log_reply(fake->out.data, fake->out.len);
    }
    /* The arguments are done with: their stack slots go to the reply (an
     * unpack of 7999 values leaves no room for it otherwise). */
    lua_settop(L, 0);
    resp_to_lua(L, fake->out.data, fake->out.data + fake->out.len, 0);
    fake_reset_reply();
    if (raise && lua_type(L, -1) == LUA_TTABLE) {
        lua_getfield(L, -1, "err");
        int is_err = lua_type(L, -1) == LUA_TSTRING;
        lua_pop(L, 1);
        if (is_err) {
            return lua_error(L);
        }
    }
    return 1;
}

static int l_redis_call(lua_State *L)
{
    return redis_call_common(L, 1);
}

static int l_redis_pcall(lua_State *L)
{
    return redis_call_common(L, 0);
}

/* redis.error_reply / status_reply given something else than one string:
 * like Redis, they return (not raise) an error reply, so the script goes on
 * and, if it returns it, the client gets the bare text. */
static int bad_reply_args(lua_State *L)
{
    lua_newtable(L);
    lua_pushliteral(L, "ERR wrong number or type of arguments");
    lua_setfield(L, -2, "err");
    return 1;
}

static int l_redis_error_reply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TSTRING) {
        return bad_reply_args(L);
    }
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    if (len && s[0] == '-') {
        s++;
        len--;
    }
    lua_newtable(L);
    /* A message without its own error code gets ERR, as Redis does. */
    if (memchr(s, ' ', len)) {
        lua_pushlstring(L, s, len);
    } else {
        lua_pushfstring(L, "ERR %s", s);
    }
    lua_setfield(L, -2, "err");
    return 1;
}

static int l_redis_status_reply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TSTRING) {
        return bad_reply_args(L);
    }
    lua_newtable(L);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "ok");
    return 1;
}

static int l_redis_sha1hex(lua_State *L)
{
    if (lua_gettop(L) != 1) {
        return svm_raise(L, "ERR wrong number of arguments");
    }
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    uint8_t d[20];
    char hex[41];
    sha1(s ? s : "", s ? len : 0, d);
    sha1_hex(d, hex);
    lua_pushstring(L, hex);
    return 1;
}

static int l_redis_log(lua_State *L)
{
    int argc = lua_gettop(L);
    if (argc < 2) {
        return svm_raise(L, "ERR redis.log() requires two arguments or more.");
    }
    if (!lua_isnumber(L, 1)) {
        return svm_raise(L, "ERR First argument must be a number (log level).");
    }
    int level = (int)lua_tointeger(L, 1);
    if (level < LOG_DEBUG || level > LOG_WARNING) {
        return svm_raise(L, "ERR Invalid debug level.");
    }
    if (level < log_get_level()) {
        return 0;
    }
    str msg = str_empty(64);
    for (int i = 2; i <= argc; i++) {
        size_t len;
        const char *s = lua_tolstring(L, i, &len);
        if (s) {
            if (i > 2) {
                msg = str_append(msg, " ", 1);
            }
            msg = str_append(msg, s, len);
        }
    }
    log_msg(level, "%s", msg);
    str_free(msg);
    return 0;
}

static int l_redis_setresp(lua_State *L)
{
    if (lua_gettop(L) != 1) {
        return svm_raise(L, "ERR redis.setresp() requires one argument.");
    }
    int v = (int)lua_tointeger(L, 1);
    if (v != 2 && v != 3) {
        return svm_raise(L, "ERR RESP version must be 2 or 3.");
    }
    if (cur) {
        cur->resp = v;
    }
    return 0;
}

/* Where the script's next writes go: AOF, replicas, both or neither. */
static int l_redis_set_repl(lua_State *L)
{
    if (!cur) {
        return svm_raise(L, "ERR redis.set_repl can only be called inside a script invocation");
    }
    if (lua_gettop(L) != 1) {
        return svm_raise(L, "ERR redis.set_repl() requires two arguments.");
    }
    int all = PROPAGATE_AOF | PROPAGATE_REPL;
    lua_Integer v = lua_tointeger(L, 1);
    if (v & ~(lua_Integer)all) {
        return svm_raise(L, "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
    }
    fake->propagate_skip = all & ~(int)v;
    return 0;
}

static int l_redis_acl_check_cmd(lua_State *L)
{
    if (lua_gettop(L) < 1 || lua_type(L, 1) != LUA_TSTRING) {
        return svm_raise(L, "ERR Please specify at least one argument for this redis lib call");
    }
    size_t len;
    const char *name = lua_tolstring(L, 1, &len);
    command *cmd = cmd_lookup(name, len);
    if (!cmd) {
        return svm_raise(L, "ERR Invalid command passed to redis.acl_check_cmd()");
    }
    int argc = lua_gettop(L);
    sv argv[64];
    if (argc > 64) {
        return svm_raise(L, "ERR Too many arguments passed to redis.acl_check_cmd()");
    }
    for (int i = 1; i <= argc; i++) {
        size_t l;
        const char *p = lua_tolstring(L, i, &l);
        if (!p) {
            return svm_raise(L, "ERR Lua redis lib command arguments must be strings or integers");
        }
        argv[i - 1] = (sv){p, l};
    }
    /* No arity check, as in Redis: only the keys present are checked. */
    command *sub = cmd_resolve(cmd, argv, argc);
    if (!sub) {
        return svm_raise(L, "ERR Invalid command passed to redis.acl_check_cmd()");
    }
    acl_user *u = cur && cur->caller ? cur->caller->user : NULL;
    int pos = 0;
    lua_pushboolean(L, !u || acl_check(u, sub, argv, argc, &pos) == ACL_OK);
    return 1;
}

static int l_redis_true(lua_State *L)
{
    lua_pushboolean(L, 1);
    return 1;
}

static void set_fn(lua_State *L, const char *name, lua_CFunction fn)
{
    lua_pushcfunction(L, fn);
    lua_setfield(L, -2, name);
}

static void set_int(lua_State *L, const char *name, int v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, name);
}

/* Fields shared by the run-time and the load-time redis tables. */
/* The fields library code also sees while FUNCTION LOAD runs it: Redis
 * gives load time only logging and the version (besides register_function). */
static void redis_load_fields(lua_State *L)
{
    set_fn(L, "log", l_redis_log);
    set_int(L, "LOG_DEBUG", LOG_DEBUG);
    set_int(L, "LOG_VERBOSE", LOG_VERBOSE);
    set_int(L, "LOG_NOTICE", LOG_NOTICE);
    set_int(L, "LOG_WARNING", LOG_WARNING);
    lua_pushstring(L, KEEL_REDIS_COMPAT_VERSION);
    lua_setfield(L, -2, "REDIS_VERSION");
    int maj = 0, min = 0, pat = 0;
    sscanf(KEEL_REDIS_COMPAT_VERSION, "%d.%d.%d", &maj, &min, &pat);
    set_int(L, "REDIS_VERSION_NUM", (maj << 16) | (min << 8) | pat);
}

static void push_redis_table(lua_State *L)
{
    lua_newtable(L);
    redis_load_fields(L);
    set_fn(L, "sha1hex", l_redis_sha1hex);
    set_fn(L, "error_reply", l_redis_error_reply);
    set_fn(L, "status_reply", l_redis_status_reply);
    set_fn(L, "setresp", l_redis_setresp);
    set_fn(L, "call", l_redis_call);
    set_fn(L, "pcall", l_redis_pcall);
    set_fn(L, "acl_check_cmd", l_redis_acl_check_cmd);
    /* Effects replication is the only mode: kept for scripts written for
     * older servers, it does nothing. */
    set_fn(L, "replicate_commands", l_redis_true);
    set_fn(L, "set_repl", l_redis_set_repl);
    set_fn(L, "breakpoint", ldb_lua_breakpoint);
    set_fn(L, "debug", ldb_lua_debug);
    set_int(L, "REPL_NONE", 0);
    set_int(L, "REPL_AOF", 1);
    set_int(L, "REPL_SLAVE", 2);
    set_int(L, "REPL_REPLICA", 2);
    set_int(L, "REPL_ALL", 3);
}

/* ---- read-only proxies and the guarded base functions ---- */

static int ro_newindex(lua_State *L)
{
    return luaL_error(L, "Attempt to modify a readonly table");
}

/* Pushes the real table behind proxy at idx, or nothing (returns 0). */
static int ro_real(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TTABLE) {
        return 0;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, RK_RO);
    lua_pushvalue(L, idx < 0 ? idx - 1 : idx);
    lua_rawget(L, -2);
    lua_remove(L, -2);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    return 1;
}

static int readonly_error(lua_State *L)
{
    lua_pushstring(L, "Attempt to modify a readonly table");
    return lua_error(L);
}

static int l_rawset(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    if (ro_real(L, 1)) {
        return readonly_error(L);
    }
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

static int l_rawget(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    if (ro_real(L, 1)) {
        lua_replace(L, 1);
    }
    lua_settop(L, 2);
    lua_rawget(L, 1);
    return 1;
}

static int l_setmetatable(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    if (ro_real(L, 1)) {
        return readonly_error(L);
    }
    int t = lua_type(L, 2);
    luaL_argcheck(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table expected");
    if (luaL_getmetafield(L, 1, "__metatable")) {
        return luaL_error(L, "cannot change a protected metatable");
    }
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

/* next() that walks a proxy's real table without handing it out. */
static int l_next(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    int t = 1;
    if (ro_real(L, 1)) {
        t = 3;
    }
    lua_pushvalue(L, 2);
    if (lua_next(L, t)) {
        return 2;
    }
    lua_pushnil(L);
    return 1;
}

static int l_pairs(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushvalue(L, lua_upvalueindex(1)); /* our next */
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* Compiles source chunk s as loadstring/load do: the function, or nil and
 * the error message (bytecode is refused). */
int svm_load_chunk(lua_State *L, const char *s, size_t len, const char *name)
{
    if (len > 0 && s[0] == '\033') {
        lua_pushnil(L);
        lua_pushstring(L, "loading precompiled chunks is not allowed");
        return 2;
    }
    if (luaL_loadbuffer(L, s, len, name) == 0) {
        return 1;
    }
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}

static int l_loadstring(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    const char *name = luaL_optstring(L, 2, s);
    return svm_load_chunk(L, s, len, name);
}

/* load(func [, name]): gathers the pieces first, so the bytecode check
 * sees the chunk's first byte. */
static int l_load(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    const char *name = luaL_optstring(L, 2, "=(load)");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (;;) {
        lua_pushvalue(L, 1);
        lua_call(L, 0, 1);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        if (!lua_isstring(L, -1)) {
            return luaL_error(L, "reader function must return a string");
        }
        if (lua_objlen(L, -1) == 0) {
            lua_pop(L, 1);
            break;
        }
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    return svm_load_chunk(L, s, len, name);
}

/* What getmetatable() shows of a proxy: an empty table that cannot be
 * written either, so `getmetatable(_G).__index = ...` fails as in Redis
 * ("Attempt to modify a readonly table"). */
static void push_sealed_metatable(lua_State *L)
{
    lua_newtable(L);
    lua_newtable(L);
    lua_pushcfunction(L, ro_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
}

/* Replaces the value at the top of the stack (the proxy's __index) by a
 * read-only proxy of the table at `real`, recorded in the RK_RO registry. */
static void push_readonly_proxy(lua_State *L, int real)
{
    int index = lua_gettop(L);
    lua_newtable(L); /* proxy */
    lua_newtable(L); /* its metatable */
    lua_pushvalue(L, index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, ro_newindex);
    lua_setfield(L, -2, "__newindex");
    push_sealed_metatable(L);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_getfield(L, LUA_REGISTRYINDEX, RK_RO);
    lua_pushvalue(L, -2);
    lua_pushvalue(L, real);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_replace(L, index);
}

/* Replaces the table at the top of the stack by a read-only proxy. */
static void make_readonly(lua_State *L, lua_CFunction index_fn)
{
    int real = lua_gettop(L);
    lua_pushvalue(L, real);
    if (index_fn) {
        lua_pushcclosure(L, index_fn, 1);
    }
    push_readonly_proxy(L, real);
    lua_replace(L, real);
}

/* __index of tables whose missing fields are errors (the globals and the
 * load-time redis table). Upvalue 1: the real table. */
static int strict_index(lua_State *L)
{
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    if (!lua_isnil(L, -1)) {
        return 1;
    }
    const char *name = lua_tostring(L, 2);
    return luaL_error(L, "Script attempted to access nonexistent global variable '%s'", name ? name : "?");
}

/* __index of the real globals: a name not there is an error. */
static int missing_global(lua_State *L)
{
    const char *name = lua_tostring(L, 2);
    return luaL_error(L, "Script attempted to access nonexistent global variable '%s'", name ? name : "?");
}

/* __index of the globals proxy while library code runs at FUNCTION LOAD:
 * as in Redis, the load-time `redis` table is the only global then (the
 * functions it registers see every global when they are called).
 * Otherwise the proxy's __index is the real globals table itself, which
 * Lua follows without calling C. */
static int globals_index_loading(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TSTRING && strcmp(lua_tostring(L, 2), "redis") == 0) {
        lua_getfield(L, LUA_REGISTRYINDEX, RK_REDIS_LOAD);
        return 1;
    }
    return missing_global(L);
}

static const char *const allowed_globals[] = {"assert",       "collectgarbage", "coroutine", "error",    "gcinfo",
                                              "getmetatable", "ipairs",         "math",      "pcall",    "rawequal",
                                              "select",       "string",         "table",     "tonumber", "tostring",
                                              "type",         "unpack",         "xpcall",    "_VERSION", NULL};

static void open_lib(lua_State *L, const char *name, lua_CFunction fn)
{
    lua_pushcfunction(L, fn);
    lua_pushstring(L, name);
    lua_call(L, 1, 0);
}

/* Calls a library opener and stores the table it returns as field name of
 * the table at `into`. */
static void open_module(lua_State *L, int into, const char *name, lua_CFunction fn)
{
    lua_pushcfunction(L, fn);
    lua_call(L, 0, 1);
    lua_setfield(L, into, name);
}

/* An error outside any protected call is a bug in this file: say where. */
static int vm_panic(lua_State *L)
{
    PANIC("Lua error outside a protected call: %s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
    return 0;
}

svm *svm_new(int is_functions)
{
    svm *vm = alloc_zero(sizeof(*vm));
    vm->is_functions = is_functions;
    lua_State *L = lua_newstate(vm_alloc, vm);
    ASSERT(L != NULL);
    lua_atpanic(L, vm_panic);
    vm->L = L;
    open_lib(L, "", luaopen_base);
    open_lib(L, LUA_TABLIBNAME, luaopen_table);
    open_lib(L, LUA_STRLIBNAME, luaopen_string);
    open_lib(L, LUA_MATHLIBNAME, luaopen_math);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, RK_RO);

    /* The globals scripts see: an allow-list copied from the full base
     * environment, plus the guarded replacements and the modules. */
    lua_newtable(L);
    int g = lua_gettop(L);
    for (int i = 0; allowed_globals[i]; i++) {
        lua_getglobal(L, allowed_globals[i]);
        lua_setfield(L, g, allowed_globals[i]);
    }
    open_module(L, g, "cjson", luaopen_cjson);
    open_module(L, g, "bit", luaopen_bit);
    open_module(L, g, "struct", script_open_struct);
    open_module(L, g, "cmsgpack", script_open_cmsgpack);
    set_fn(L, "rawset", l_rawset);
    set_fn(L, "rawget", l_rawget);
    set_fn(L, "setmetatable", l_setmetatable);
    set_fn(L, "next", l_next);
    lua_getfield(L, g, "next");
    lua_pushcclosure(L, l_pairs, 1);
    lua_setfield(L, g, "pairs");
    set_fn(L, "loadstring", l_loadstring);
    set_fn(L, "load", l_load);
    push_redis_table(L);
    lua_setfield(L, g, "redis");

    /* Library tables become read-only proxies. */
    static const char *const libs[] = {"string", "table",  "math",     "coroutine", "cjson",
                                       "bit",    "struct", "cmsgpack", "redis",     NULL};
    for (int i = 0; libs[i]; i++) {
        lua_getfield(L, g, libs[i]);
        make_readonly(L, NULL);
        if (strcmp(libs[i], "string") == 0) {
            /* Strings' methods go through the proxy too, and their
             * metatable is hidden, so the real table stays unreachable. */
            lua_pushliteral(L, "");
            lua_getmetatable(L, -1);
            lua_pushvalue(L, -3);
            lua_setfield(L, -2, "__index");
            /* getmetatable('') shows a sealed table whose __index is the
             * proxy: writing through it fails as in Redis. */
            push_sealed_metatable(L);
            lua_pushliteral(L, "__index");
            lua_pushvalue(L, -5);
            lua_rawset(L, -3);
            lua_setfield(L, -2, "__metatable");
            lua_pop(L, 2);
        }
        lua_setfield(L, g, libs[i]);
    }
    if (is_functions) {
        lua_newtable(L);
        redis_load_fields(L);
        set_fn(L, "register_function", functions_lua_register);
        make_readonly(L, strict_index);
        lua_setfield(L, LUA_REGISTRYINDEX, RK_REDIS_LOAD);
    }
    lua_pushvalue(L, g);
    lua_setfield(L, LUA_REGISTRYINDEX, RK_GLOBALS);
    lua_pushvalue(L, g);
    vm->ref_globals = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushcfunction(L, err_handler);
    vm->ref_err_handler = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushliteral(L, "KEYS");
    vm->ref_keys_name = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushliteral(L, "ARGV");
    vm->ref_argv_name = luaL_ref(L, LUA_REGISTRYINDEX);
    vm->ref_keys = vm->ref_argv = LUA_NOREF;

    /* The real globals end in an error for missing names; their metatable
     * is as hidden as the proxy's. */
    lua_newtable(L);
    lua_pushcfunction(L, missing_global);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, g);

    /* The proxy every compiled chunk gets as its environment; reads fall
     * through to the real table (a table __index: no C call per global). */
    lua_pushvalue(L, g);
    push_readonly_proxy(L, g);
    lua_getmetatable(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, RK_GLOBALS_MT);
    lua_pushvalue(L, -1);
    lua_setfield(L, g, "_G");
    lua_replace(L, LUA_GLOBALSINDEX);
    lua_settop(L, 0);
    /* A script call leaves a few hundred bytes of garbage on a live heap
     * of tens of kilobytes, so Lua's default (a cycle each time the heap
     * doubles) marks and sweeps the whole live heap every hundred calls
     * or so. Waiting until it has grown fivefold costs a few hundred
     * kilobytes and a fraction of that work. */
    lua_gc(L, LUA_GCSETPAUSE, 500);
    return vm;
}

void svm_free(svm *vm)
{
    if (!vm) {
        return;
    }
    lua_close(vm->L);
    alloc_free(vm);
}

int svm_compile(svm *vm, const char *code, size_t len, const char *chunkname, str *err)
{
    lua_State *L = vm->L;
    if (len > 0 && code[0] == '\033') {
        *err = str_new("user_script:1: loading precompiled chunks is not allowed", 56);
        return LUA_NOREF;
    }
    if (luaL_loadbuffer(L, code, len, chunkname) != 0) {
        size_t n;
        const char *m = lua_tolstring(L, -1, &n);
        *err = str_new(m ? m : "unknown error", m ? n : 13);
        lua_pop(L, 1);
        return LUA_NOREF;
    }
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

void svm_unref(svm *vm, int ref)
{
    if (vm && ref != LUA_NOREF && ref != LUA_REFNIL) {
        luaL_unref(vm->L, LUA_REGISTRYINDEX, ref);
    }
}

/* ---- running ---- */

static void raise_killed(lua_State *L)
{
    /* The caller set the hook to fire on every line: a pcall in the
     * script cannot swallow the kill and carry on. */
    svm_raise(L, "ERR Script killed by user with SCRIPT KILL...");
}

static void run_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    script_run *r = cur;
    if (!r) {
        return;
    }
    if (r->killed) {
        lua_sethook(L, run_hook, LUA_MASKLINE | LUA_MASKCOUNT, 1);
        raise_killed(L);
        return;
    }
    int64_t elapsed = util_mono_us() / 1000 - r->start_ms;
    if (!r->busy && server.cfg.busy_reply_threshold > 0 && elapsed >= server.cfg.busy_reply_threshold) {
        r->busy = 1;
        server.busy_caller = r->caller;
        log_msg(LOG_WARNING,
                "Slow script detected: still in execution after %lld milliseconds. You can try killing the "
                "script using the %s KILL command.",
                (long long)elapsed, r->is_function ? "FUNCTION" : "SCRIPT");
        client_hold(r->caller, 1);
    }
    if (r->busy) {
        /* The client whose command called the script, when that is not
         * its caller (a module's call), must outlive the events too. */
        client *saved = server.current_client;
        uint32_t kept = saved ? saved->flags & CLIENT_PROTECTED : 0;
        if (saved) {
            saved->flags |= CLIENT_PROTECTED;
        }
        client_serve_events();
        if (saved) {
            saved->flags = (saved->flags & ~CLIENT_PROTECTED) | kept;
        }
        server.current_client = saved;
        if (r->killed) {
            lua_sethook(L, run_hook, LUA_MASKLINE | LUA_MASKCOUNT, 1);
            raise_killed(L);
        }
    }
}

/* The VM running library code at FUNCTION LOAD, for its time limit. */
static svm *loading_vm;

static void load_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    svm *vm = loading_vm;
    if (vm && util_ms() - vm->load_start > LOAD_TIMEOUT_MS) {
        lua_sethook(L, load_hook, LUA_MASKLINE | LUA_MASKCOUNT, 1);
        svm_raise(L, "ERR FUNCTION LOAD timeout");
    }
}

static client *fake_client(void)
{
    if (!fake) {
        fake = client_new(-1, CLIENT_FAKE | CLIENT_IN_SCRIPT);
        fake->authenticated = 1;
    }
    return fake;
}

static void push_array(lua_State *L, sv *v, int n)
{
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushlstring(L, v[i].ptr, v[i].len);
        lua_rawseti(L, -2, i + 1);
    }
}

/* Refills the table on top of the stack with v, if the script left it as
 * it was given; returns 0 (table untouched or half-filled) if not. Far
 * fewer values than last time also say no, so the array part of one long
 * call is not scanned by every short call after it. */
static int refill_args_table(lua_State *L, int len, sv *v, int n)
{
    if (len > 2 * n + 8) {
        return 0;
    }
    if (lua_getmetatable(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        lua_pushlstring(L, v[i].ptr, v[i].len);
        lua_rawseti(L, -2, i + 1);
    }
    for (int i = n + 1; i <= len; i++) {
        lua_pushnil(L);
        lua_rawseti(L, -2, i);
    }
    if (n > 0) {
        lua_pushinteger(L, n);
    } else {
        lua_pushnil(L);
    }
    if (lua_next(L, -2) == 0) {
        return 1; /* nothing after n */
    }
    lua_pop(L, 2);
    return 0;
}

/* KEYS or ARGV for an EVAL: the last call's table refilled, if the script
 * left it as it was given (no metatable, nothing but 1..n), else a new
 * one. A script cannot keep a reference past its call (globals and
 * libraries are read-only, and an EVAL chunk has no upvalues), so the
 * reuse cannot be seen; it saves two tables per call and their collection.
 * (FCALL passes new tables: a library's functions share upvalues.) */
static void push_args_table(lua_State *L, int *ref, int *len, sv *v, int n)
{
    if (*ref != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, *ref);
        if (refill_args_table(L, *len, v, n)) {
            *len = n;
            return;
        }
        lua_pop(L, 1);
        luaL_unref(L, LUA_REGISTRYINDEX, *ref);
    }
    push_array(L, v, n);
    lua_pushvalue(L, -1);
    *ref = luaL_ref(L, LUA_REGISTRYINDEX);
    *len = n;
}

void svm_call(client *c, script_call *sc)
{
    lua_State *L = sc->vm->L;
    script_run run = {0};
    run.caller = c;
    run.vm = sc->vm;
    run.name = sc->name;
    run.is_function = sc->is_function;
    run.flags = sc->flags;
    run.ro = sc->ro;
    run.resp = 2;
    run.oom = server.cfg.maxmemory > 0 && server_over_memory();
    /* The command's own start: no second clock reading per script. */
    run.start_ms = (server.cmd_start_us ? server.cmd_start_us : util_mono_us()) / 1000;
    run.argv = c->argv;
    run.argc = c->argc;
    client *f = fake_client();
    f->db = c->db;
    f->flags |= CLIENT_IN_SCRIPT;
    f->propagate_skip = 0;

    lua_settop(L, 0);
    svm *vm = sc->vm;
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->ref_err_handler);
    lua_rawgeti(L, LUA_REGISTRYINDEX, sc->ref);
    int nargs = 0;
    if (sc->is_function) {
        push_array(L, sc->keys, sc->nkeys);
        push_array(L, sc->args, sc->nargs);
        nargs = 2;
    } else {
        /* (The real globals have no __newindex: a raw set is a set.) */
        lua_rawgeti(L, LUA_REGISTRYINDEX, vm->ref_globals);
        lua_rawgeti(L, LUA_REGISTRYINDEX, vm->ref_keys_name);
        push_args_table(L, &vm->ref_keys, &vm->keys_len, sc->keys, sc->nkeys);
        lua_rawset(L, -3);
        lua_rawgeti(L, LUA_REGISTRYINDEX, vm->ref_argv_name);
        push_args_table(L, &vm->ref_argv, &vm->argv_len, sc->args, sc->nargs);
        lua_rawset(L, -3);
        lua_pop(L, 1);
    }
    cur = &run;
    server.in_script = 1;
    if (ldb_active()) {
        lua_sethook(L, ldb_hook, LUA_MASKLINE | LUA_MASKCOUNT, LDB_HOOK_COUNT);
    } else {
        lua_sethook(L, run_hook, LUA_MASKCOUNT, HOOK_COUNT);
    }
    int rc = lua_pcall(L, nargs, 1, 1);
    lua_sethook(L, NULL, 0, 0);
    cur = NULL;
    server.in_script = 0;
    if (run.busy) {
        server.busy_caller = NULL;
        client_hold(c, 0);
        log_msg(LOG_WARNING, "Slow script finished after %lld milliseconds.",
                (long long)(util_mono_us() / 1000 - run.start_ms));
    }
    if (rc != 0) {
        int counted;
        str msg = error_text(L, -1, sc->name, &counted);
        (counted ? reply_err_counted : reply_err)(c, msg);
        str_free(msg);
    } else {
        lua_to_reply(c, L, -1, run.resp, 0);
    }
    lua_settop(L, 0);
    /* The script's writes were propagated one by one as they ran. */
    propagate_none(c);
}

/* The globals proxy's __index: the load-time function while library code
 * loads, else the real table. */
static void globals_index_set(lua_State *L, int loading)
{
    lua_getfield(L, LUA_REGISTRYINDEX, RK_GLOBALS_MT);
    if (loading) {
        lua_pushcfunction(L, globals_index_loading);
    } else {
        lua_getfield(L, LUA_REGISTRYINDEX, RK_GLOBALS);
    }
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

int svm_run_load(svm *vm, int ref, str *err)
{
    lua_State *L = vm->L;
    lua_settop(L, 0);
    lua_pushcfunction(L, err_handler);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    vm->load_start = util_ms();
    loading_vm = vm;
    globals_index_set(L, 1);
    lua_sethook(L, load_hook, LUA_MASKCOUNT, HOOK_COUNT);
    int rc = lua_pcall(L, 0, 0, 1);
    lua_sethook(L, NULL, 0, 0);
    globals_index_set(L, 0);
    loading_vm = NULL;
    if (rc != 0) {
        *err = error_text(L, -1, NULL, NULL);
    }
    lua_settop(L, 0);
    return rc == 0 ? 0 : -1;
}

/* ---- busy gate, kill, stats ---- */

static int busy_gate(client *c, command *cmd)
{
    if (!cur || !cur->busy || c == cur->caller) {
        return 0;
    }
    /* A subcommand's own flag decides (SCRIPT KILL, FUNCTION KILL and
     * STATS); a container's says only that some of its subcommands may. */
    int allowed = (cmd->flags & CMD_ALLOW_BUSY) && !cmd->nsubs;
    if (allowed) {
        return 0;
    }
    char msg[128];
    snprintf(msg, sizeof(msg), "BUSY Redis is busy running a script. You can only call %s KILL or SHUTDOWN NOSAVE.",
             cur->is_function ? "FUNCTION" : "SCRIPT");
    command_refuse(c, cmd, msg);
    return 1;
}

void script_kill(client *c, int function_kill)
{
    if (!cur) {
        reply_err(c, "NOTBUSY No scripts in execution right now.");
        return;
    }
    if (cur->wrote) {
        reply_err(c, "UNKILLABLE Sorry the script already executed write commands against the dataset. You can "
                     "either wait the script termination or kill the server in a hard way using the SHUTDOWN "
                     "NOSAVE command.");
        return;
    }
    if (cur->is_function != function_kill) {
        reply_errf(c, "BUSY Redis is busy running a script. You can only call %s KILL or SHUTDOWN NOSAVE.",
                   cur->is_function ? "FUNCTION" : "SCRIPT");
        return;
    }
    cur->killed = 1;
    reply_ok(R(c));
}

void script_reply_running(client *c)
{
    if (!cur || !cur->is_function) {
        reply_null(R(c));
        return;
    }
    reply_map(R(c), 3);
    reply_bulk_cstr(R(c), "name");
    reply_bulk_cstr(R(c), cur->name);
    reply_bulk_cstr(R(c), "command");
    reply_array(R(c), cur->argc);
    for (int i = 0; i < cur->argc; i++) {
        reply_bulk(R(c), cur->argv[i].ptr, cur->argv[i].len);
    }
    reply_bulk_cstr(R(c), "duration_ms");
    reply_int(R(c), util_mono_us() / 1000 - cur->start_ms);
}

void script_init(void)
{
    dispatch_add_busy_gate(busy_gate);
    script_eval_init();
    script_functions_init();
}
