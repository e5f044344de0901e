/* script_int: what the pieces of the scripting module share. lua.c owns
 * the Lua VMs (sandbox, redis.* API, conversions, the run loop with its
 * busy/kill handling); eval.c keeps the EVAL script cache; functions.c
 * keeps FUNCTION libraries. Nothing outside src/script/ includes this. */
#ifndef KEEL_SCRIPT_INT_H
#define KEEL_SCRIPT_INT_H

#include <lua.h>

#include "script/lua.h"
#include "server/server.h"

/* Script flags, from an EVAL shebang or a function's registration. */
#define SCRIPT_FLAG_NO_WRITES (1 << 0)
#define SCRIPT_FLAG_ALLOW_OOM (1 << 1)
#define SCRIPT_FLAG_ALLOW_STALE (1 << 2)
#define SCRIPT_FLAG_NO_CLUSTER (1 << 3)
#define SCRIPT_FLAG_ALLOW_CROSS_SLOT (1 << 4)
/* An EVAL script without a shebang: legacy rules (writes allowed, memory
 * checked only at the first write). */
#define SCRIPT_FLAG_EVAL_COMPAT (1 << 5)

/* Flag names as Redis spells them; returns the flag or 0. */
int script_flag_from_name(const char *name, size_t len);
/* Writes the names of the flags set into out (at most max). */
int script_flag_names(int flags, const char **out, int max);

/* One Lua interpreter with the sandbox and the redis API installed. */
typedef struct svm {
    lua_State *L;
    size_t mem;       /* bytes the interpreter holds */
    int is_functions; /* the FUNCTION VM (has the load-time redis table) */
    int64_t load_start;
    /* Registry references to what every call needs, so a call interns no
     * name and allocates no closure for them. */
    int ref_globals, ref_err_handler, ref_keys_name, ref_argv_name;
    /* The KEYS and ARGV tables of the last EVAL, and how many they held. */
    int ref_keys, ref_argv, keys_len, argv_len;
} svm;

svm *svm_new(int is_functions);
void svm_free(svm *vm);
/* Compiles code as a chunk called chunkname ("@user_script"). Returns a
 * registry reference to the function, or LUA_NOREF with the Lua message
 * in *err (owned by the caller). */
int svm_compile(svm *vm, const char *code, size_t len, const char *chunkname, str *err);
void svm_unref(svm *vm, int ref);

/* One invocation of a script or function. */
typedef struct script_call {
    svm *vm;
    int ref;          /* the function, in the registry */
    const char *name; /* the SHA1 or the function name, for errors */
    int is_function;
    int flags; /* SCRIPT_FLAG_* */
    int ro;    /* writes refused (EVAL_RO, FCALL_RO, no-writes) */
    sv *keys;
    int nkeys;
    sv *args;
    int nargs;
} script_call;

/* Runs the call for client c and writes the reply (or the error) to c. */
void svm_call(client *c, script_call *sc);

/* Runs library code at FUNCTION LOAD (with a time limit). Returns 0, or
 * -1 with the error text ("ERR ...") in *err. */
int svm_run_load(svm *vm, int ref, str *err);

/* redis.register_function, provided by functions.c, installed in the
 * load-time redis table of the FUNCTION VM. */
int functions_lua_register(lua_State *L);
/* Pushes {err=msg} and raises it (never returns). */
int svm_raise(lua_State *L, const char *msg);

/* struct.pack / struct.unpack / struct.size (struct.c). */
int script_open_struct(lua_State *L);
/* cmsgpack.pack / unpack / unpack_one / unpack_limit (cmsgpack.c). */
int script_open_cmsgpack(lua_State *L);

/* Shebang parsing shared by EVAL and FUNCTION LOAD: on "#!lua ..." sets
 * *body_off to the first newline (so line numbers stay right) and returns
 * 1; returns 0 if there is no shebang. */
int script_has_shebang(const char *code, size_t len);

/* Compiles source (never bytecode) as loadstring does: 1 with the function
 * pushed, or 2 with nil and the message pushed. */
int svm_load_chunk(lua_State *L, const char *s, size_t len, const char *name);

/* The Lua debugger (ldb.c). A session wraps one EVAL of a connection with
 * SCRIPT DEBUG set: start returns 0 when this process has nothing more to
 * do for it (the forked child runs it, or the fork failed and an error was
 * replied), else 1, and end follows the EVAL (in a child it never
 * returns). */
int ldb_session_start(client *c);
void ldb_session_end(client *c);
int ldb_active(void);
/* The hook scripts run under during a session (lines, and a count for
 * the timeout). */
#define LDB_HOOK_COUNT 100000
void ldb_hook(lua_State *L, lua_Debug *ar);
/* True while redis.call should log what it runs (stepping). */
int ldb_tracing(void);
void ldb_log_call(const sv *argv, int argc);
void ldb_log_call_error(const char *msg);
void ldb_log_reply(const char *resp, size_t len);
/* redis.debug() and redis.breakpoint(). */
int ldb_lua_debug(lua_State *L);
int ldb_lua_breakpoint(lua_State *L);

/* True while a function (not an EVAL script) runs. */
int script_running_is_function(void);

/* Parses numkeys at argv[i] (keys follow it); replies the error and
 * returns 0 on bad input. */
int script_parse_numkeys(client *c, int i, long long *numkeys);
/* EVAL/FCALL after the script is found: refuses it on its flags (write
 * flag under *_RO, maxmemory) or runs compiled function ref of vm with the
 * keys and args after numkeys at argv[2]; replies either way. name is the
 * SHA1 or the function name, for errors. */
void script_start(client *c, svm *vm, int ref, const char *name, int is_function, int flags, int ro, long long numkeys);

/* A loaded function's declared flags: 1 with *flags, 0 when not found. */
int script_function_flags(sv name, int *flags);

#endif
