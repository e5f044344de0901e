/* script: Lua scripting. EVAL/EVALSHA scripts and FUNCTION libraries run
 * atomically (one dispatch_call each) in sandboxed Lua 5.1 interpreters.
 * Command handlers in cmd/cmd_script.c call these. */
#ifndef KEEL_SCRIPT_LUA_H
#define KEEL_SCRIPT_LUA_H

#include "base/str.h"
#include <stddef.h>

#include "server/server.h"

/* Creates the interpreters and installs the busy gate; called at boot. */
void script_init(void);

/* EVAL / EVALSHA / EVAL_RO / EVALSHA_RO. */
void script_eval_command(client *c, int by_sha, int ro);
/* SCRIPT LOAD|EXISTS|FLUSH|KILL|HELP. */
void script_script_command(client *c);
/* FCALL / FCALL_RO. */
void script_fcall_command(client *c, int ro);
/* The flags a command runs under: for EVAL, EVALSHA and FCALL (and their
 * _RO forms) of a script that declares flags (a shebang, a function's),
 * as Redis derives them, its own write, deny-oom and stale flags instead of
 * the command's, and no may-replicate; any other command's table flags. */
uint32_t script_command_flags(client *c, const command *cmd);
/* FUNCTION LOAD|LIST|DELETE|FLUSH|DUMP|RESTORE|STATS|KILL|HELP. */
void script_function_command(client *c);

/* SCRIPT KILL / FUNCTION KILL: replies OK, NOTBUSY, UNKILLABLE or BUSY. */
void script_kill(client *c, int function_kill);
/* FUNCTION STATS running_script entry (a map or a null). */
void script_reply_running(client *c);

/* INFO memory figures. */
size_t script_eval_vm_memory(void);
size_t script_functions_vm_memory(void);
size_t script_eval_cached_count(void);
size_t script_eval_cache_memory(void);
/* Active defragmentation: moves the cached EVAL scripts' bodies and
 * entries of about `budget` scripts from cursor on; returns the cursor to
 * go on from, 0 when done. (Their compiled functions live in the VM's
 * heap, which is not moved, as in Redis.) */
unsigned long script_eval_defrag(unsigned long cursor, size_t budget);
size_t script_functions_memory(void);
size_t script_functions_count(void);
size_t script_libraries_count(void);
/* Snapshots: every function library's source, in load order; and loading
 * one library from source (0, or -1 with *err set, a new str). */
void script_functions_each(void (*fn)(const char *code, size_t len, void *ctx), void *ctx);
int script_functions_load_code(const char *code, size_t len, int replace, str *err);
/* Removes every function library (DEBUG RELOAD). */
void script_functions_clear(void);

/* Lua debugger sessions forked by SCRIPT DEBUG YES: the cron reaps the
 * ended ones, shutdown ends the rest. */
void script_ldb_reap(void);
void script_ldb_kill_children(void);

/* Internal between eval.c/functions.c and lua.c. */
void script_eval_init(void);
void script_functions_init(void);

#endif
