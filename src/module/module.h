/* module: Redis modules in Keel. A module is a shared object built for
 * Redis 7's module API (module_abi.h): MODULE LOAD or the loadmodule
 * directive opens it and runs its OnLoad, which registers commands and
 * data types through the API functions it looks up by name. Its commands
 * go through dispatch like any other; its data types live in the
 * keyspace as OBJ_MODULE values and persist in RDB files, AOF rewrites
 * and DUMP payloads in Redis's own form, so a dump.rdb holding module
 * data moves between Keel and Redis with the same module loaded. */
#ifndef KEEL_MODULE_H
#define KEEL_MODULE_H

#include <stddef.h>
#include <stdint.h>

#include "base/str.h"
#include "persist/rdb_io.h"

typedef struct client client;
typedef struct kobj kobj;
typedef struct command command;
typedef struct cmd_docs cmd_docs;

/* Keyspace type number of module values (Redis's OBJ_MODULE). */
#define OBJ_MODULE 5

/* Registers the module value type with the keyspace; once at start-up. */
void module_init(void);
/* Loads the module at path with its arguments. Returns 0, or -1 with the
 * reason logged. */
int module_load(const char *path, const sv *args, int nargs);
/* Unloads the module loaded last, whatever it holds (a LOADEX whose
 * configuration it did not take). */
void module_unload_last(void);
/* Unloads a module by name: 0, or -1 with Redis's reason in *err. */
int module_unload(const char *name, const char **err);
/* What COMMAND DOCS shows of a module's command (CMD_MODULE). */
void module_command_docs(const command *cmd, cmd_docs *d);
/* The name of the module a command (CMD_MODULE) belongs to. */
const char *module_command_owner(const command *cmd);
/* MODULE LIST's reply. */
void module_list_reply(client *c);
int module_count(void);
/* Modules' configuration parameters ("<module>.<name>"). set: 0, -1 with
 * err, -2 when no module has it (at start-up a dotted name waits for its
 * module instead); apply runs the apply callbacks the sets since the last
 * apply asked for (-1 with err and the parameter's name). */
int module_config_set(const char *name, const char *value, size_t len, char *err, size_t errlen, int at_startup);
int module_config_apply(char *err, size_t errlen, const char **failed);
void module_config_apply_abandon(void);
str module_config_get(const char *name, int *found);
int module_config_protected(const char *name);
/* CONFIG GET: the module parameters the patterns match, as reply pairs. */
long long module_config_reply_matching(client *c, const sv *patterns, int n);
/* CONFIG REWRITE: a module parameter's directive (NULL: no such one); the
 * parameters not written in place that differ from their defaults. */
str module_config_directive(const char *name);
void module_config_rewrite_begin(void);
str module_config_rewrite_rest(str out, int *has_signature, const char *signature);
/* CONFIG REWRITE's "loadmodule <path> <args...>" lines, one per module
 * loaded now (at start-up or by MODULE LOAD), as Redis writes them. */
str module_loadmodule_lines(str out);
/* A value given for a module parameter no loaded module has (1, *name). */
int module_config_unclaimed(const char **name);
void module_config_drop_waiting(void);
/* Modules' own INFO sections for INFO's section argument. */
str module_info_sections(str s, const sv *sections, int n);
/* INFO modules: "module:name=...,ver=...,api=1,..." per module. */
str module_info_lines(str s);
/* loadmodule directives seen while reading the configuration, loaded
 * once the server is set up (before the dataset, which may hold their
 * types). */
void module_queue_load(const char *line);
int module_load_queued(void);
/* The lock module threads take to touch data (ThreadSafeContextLock):
 * the main thread holds it except while it waits for events. */
void module_gil_release(void);
void module_gil_acquire(void);
/* Server events for modules that subscribed (no-ops otherwise). Loading
 * and persistence subevents are module_abi.h's KM_SUB_LOADING_* and
 * KM_SUB_PERSISTENCE_* numbers. */
void module_event_flush(int start, int dbnum, int sync);
void module_event_loading(int sub);
/* A swapdb full sync that serves the old data while it loads:
 * KM_SUB_REPL_ASYNC_LOAD_* (started, aborted, completed). */
void module_event_repl_async_load(int sub);
/* Whether every loaded module declared it copes with such a load
 * (REDISMODULE_OPTIONS_HANDLE_REPL_ASYNC_LOAD): Redis serves the old data
 * set during a swapdb sync only then. */
int module_all_handle_async_load(void);
void module_event_persistence(int sub);
void module_event_client(const client *c, int connected);
void module_event_shutdown(void);
void module_event_cron(void);
/* Each module's RegisterDefragFunc callback: a defrag pass begins. */
void module_defrag_globals(void);
void module_event_swapdb(int a, int b);
void module_event_role(int now_replica, const char *host, int port);
void module_event_replica(int online);
void module_event_master_link(int up);
/* At most hz times a second; aof: the AOF's commands are being read (an
 * AOF's RDB base reports as an RDB load, as in Redis). */
void module_event_loading_progress(long long done, long long total, int aof);
void module_event_fork_child(int born);
/* EventLoop: before the loop sleeps (0) and after it wakes (1). */
void module_event_loop(int after_sleep);
void module_event_config(const char **names, int n);
/* The event loop's hook after each wait: the GIL back, then EventLoop. */
void module_after_wait(void);
/* dispatch_filter while command filters exist: runs them over c's argv. */
void module_filter_command(client *c);
/* c's user changes (AUTH, HELLO's AUTH): the module callback that
 * AuthenticateClientWithUser left on it, if any, is told once. */
void module_user_changed(client *c);
/* AUTH's and HELLO's AUTH: modules' auth callbacks (Redis 7.2's
 * RegisterAuthCallback), the last registered first. NOT_HANDLED: none
 * decided, the password check is next; OK: a callback authenticated c;
 * FAILED: one refused, its error already replied; BLOCKED: one blocked c
 * (BlockClientOnAuth), and the command runs again when the module
 * answers, taking up from that callback. */
enum { MODULE_AUTH_NOT_HANDLED = 0, MODULE_AUTH_OK = 1, MODULE_AUTH_FAILED = 2, MODULE_AUTH_BLOCKED = 3 };
/* The refusal AUTH and HELLO reply when no better reason is given. */
#define AUTH_WRONGPASS "WRONGPASS invalid username-password pair or user is disabled."
int module_auth(client *c, sv user, sv pass);
/* The type name TYPE shows for a module value (its module's 9 letters). */
const char *module_value_type_name(const kobj *o);

/* RDB: a module value is its type's 64-bit id, then what the type's
 * rdb_save wrote (each item after an opcode), then an EOF opcode, through
 * the primitives of persist/rdb_io.h. */
void module_rdb_save_value(rdb_out *w, const kobj *o, int dbid);
/* The value of an RDB_TYPE_MODULE_2 key whose type id (already read) is
 * id (for the keyspace type OBJ_MODULE), or NULL after rdb_in_fail. dbid:
 * the key's database (-1: unknown), as GetDbIdFromIO tells the type. */
void *module_rdb_load_value(rdb_in *r, sv key, uint64_t id, int dbid);
/* Modules' aux data for an RDB file (not the commands form): the
 * RDB_OPCODE_MODULE_AUX records of the types whose aux_save_triggers hold
 * when (MODULE_AUX_BEFORE_RDB: after the header's aux fields, before the
 * function libraries; MODULE_AUX_AFTER_RDB: after the last key). */
enum { MODULE_AUX_BEFORE_RDB = 1, MODULE_AUX_AFTER_RDB = 2 }; /* the API's KM_AUX_* */
void module_rdb_save_aux(rdb_out *w, int when);
/* A module's aux data (RDB_OPCODE_MODULE_AUX, after the opcode): handed
 * to its type's aux_load; -1 after rdb_in_fail. */
int module_rdb_load_aux(rdb_in *r);
/* COPY of a module value in database from_db to newkey in to_db (copy2,
 * else copy): 0, -1 when its type has neither method, -2 when the method
 * failed (returned NULL). */
int module_value_copy(const kobj *o, int from_db, sv newkey, int to_db, void **out);
/* A key's module value (of database dbid) as the commands that rebuild it
 * (the type's aof_rewrite), appended to out in RESP. */
str module_aof_rewrite(str out, const kobj *o, int dbid);

#endif
