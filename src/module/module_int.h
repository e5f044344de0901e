/* module_int: what the files of src/module/ share. A loaded module, its
 * commands and data types, and the objects the API hands out (contexts,
 * strings, keys, call replies, RDB/AOF IO). */
#ifndef KEEL_MODULE_INT_H
#define KEEL_MODULE_INT_H

#include <pthread.h>
#include <stdarg.h>

#include "cmd/cmd_docs.h"
#include "module/module.h"
#include "module/module_abi.h"
#include "server/server.h"

typedef struct km_module km_module;

/* A module command: the table entry dispatch sees, and the module's
 * function behind it. */
typedef struct km_command {
    command cmd;    /* a top-level command's entry */
    command *entry; /* the entry: &cmd, or a slot of the parent's subs */
    km_module *module;
    km_cmd_fn fn;
    char *name;
    /* SetCommandInfo's documentation (NULL when not given). */
    char *summary, *complexity, *since, *tips;
    char **history; /* since, changes pairs */
    int nhistory;
    int has_info;      /* SetCommandInfo was called (once is all Redis allows) */
    cmd_doc_arg *args; /* SetCommandInfo's, for COMMAND DOCS */
    int nargs;
} km_command;

struct km_type {
    km_module *module;
    char name[10];
    int encver;
    uint64_t id; /* name and encver, as RDB files name the type */
    km_type_methods m;
};

struct km_module {
    char *name;
    int ver;
    char *path;
    void *handle;
    str *args; /* as MODULE LIST shows them */
    int nargs;
    km_command **cmds;
    int ncmds;
    km_type **types;
    int ntypes;
    int loading;                                       /* in OnLoad: data types may be created */
    int options;                                       /* SetModuleOptions' bits */
    void (*info_fn)(void *ictx, int for_crash_report); /* RegisterInfoFunc's */
    km_defrag_fn defrag_fn;                            /* RegisterDefragFunc's */
    int nfilters;
};

/* Strings: reference counted byte strings. */
struct km_string {
    str s;
    int refs;
};

/* What a context was made for. */
#define KCTX_AUTO_MEMORY (1 << 0)
#define KCTX_THREAD_SAFE (1 << 1)
#define KCTX_BLOCKED_REPLY (1 << 2)
#define KCTX_BLOCKED_TIMEOUT (1 << 3)
#define KCTX_KEYS_POS (1 << 4)
#define KCTX_IN_COMMAND (1 << 5)
#define KCTX_BLOCKED_DISCONNECTED (1 << 6) /* a free callback: the client went away */
#define KCTX_CHANNELS_POS (1 << 7)

/* Objects freed when an auto-memory context ends. */
enum { KAUTO_STRING, KAUTO_KEY, KAUTO_REPLY, KAUTO_POOL };

struct km_ctx {
    km_get_api_fn getapi; /* first: a module's Init reads it */
    km_module *module;
    client *c; /* who replies go to (a private client for thread-safe contexts) */
    int flags;
    struct {
        int kind;
        void *p;
    } * autos;
    int nautos, cap_autos;
    size_t *postponed; /* defer handles of open postponed arrays */
    int npostponed, cap_postponed;
    km_blocked *blocked;    /* the blocked client being answered, or the thread-safe one's */
    void *blocked_privdata; /* the free and disconnect callbacks' (they get no handle) */
    /* What KeyAtPos(WithFlags) or ChannelAtPosWithFlags reported during a
     * keys or channels request (module_keypos.c). */
    key_ref *positions;
    int npositions, cap_positions;
    long long replies;     /* top-level replies written */
    km_string *ready_key;  /* a client blocked on keys: the key that is ready */
    int64_t yield_at_us;   /* when Yield next serves events (monotonic) */
    struct acl_user *user; /* SetContextUser's: Call runs as this user */
    int dbid;              /* SelectDb of a context without a client (a thread's) */
};

struct km_key {
    km_ctx *ctx;
    db *d;
    sv name; /* points into keystr */
    km_string *keystr;
    int mode;
    int written; /* a change was made: signal it on close */
    /* A sorted-set range being walked: ranks [zr_start, zr_end), the
     * current one, and whether the walk went past the range. */
    int zr_on, zr_ended;
    size_t zr_start, zr_end, zr_rank;
    struct km_stream_walk *sw; /* a stream iterator (module_stream.c), or NULL */
};

struct km_io {
    km_type *type;
    void *out; /* rdb_out or the AOF rewrite's str */
    void *in;  /* rdb_in while loading */
    int error;
    km_string *key;
    int dbid; /* the key's database, -1 when there is none (aux data, strings) */
    km_ctx *ctx;
    int is_aof;
    str *aof; /* the rewrite's output */
};

/* A digest being made: the open sequence (acc_seq) and what the ended
 * sequences folded into acc, as Redis composes module digests. */
struct km_digest {
    uint8_t acc[20];
    uint8_t acc_seq[20];
    km_string *key; /* the key whose value is digested, and its db */
    int dbid;
};

/* The version 4 type callbacks' context: to_key and to_dbid only for
 * copy2 (NULL and -1 otherwise). */
struct km_key_opt_ctx {
    km_string *from_key, *to_key;
    int from_dbid, to_dbid;
};

struct km_blocked {
    km_module *module;
    client *c; /* NULL once the client went away */
    km_cmd_fn reply_cb, timeout_cb;
    void (*free_privdata)(km_ctx *ctx, void *privdata);
    void (*disconnect_cb)(km_ctx *ctx, km_blocked *bc); /* SetDisconnectCallback's */
    void *privdata;
    int64_t deadline; /* monotonic ms, 0: none */
    long long timer;
    client *reply_client; /* what a thread-safe context wrote meanwhile */
    /* BlockClientOnAuth's: the reply callback, and the auth callback entry
     * that blocked (module_auth.c; NULL for other blocks). */
    km_auth_fn auth_reply_cb;
    void *auth_entry;
    int unblocked;
    /* The command that blocked (its INFO commandstats get the time the
     * module measured and the reply callback's), and BlockedClientMeasure-
     * TimeStart / End's clock: started at (monotonic us, 0: stopped) and
     * the sum so far; only the module's thread touches them until it
     * unblocks the client, whose queue lock orders them for the loop. */
    struct command *cmd;
    int on_keys; /* BlockClientOnKeys': the block framework waits for it */
    int64_t measure_start_us;
    int64_t measured_us;
    struct km_blocked *next; /* the queue of unblocked ones */
};

/* ---- module_api.c ---- */
void km_ctx_init(km_ctx *ctx, km_module *m, client *c);
/* Frees what an auto-memory context still holds and closes it. */
void km_ctx_done(km_ctx *ctx);
/* The db ctx works in: its client's, else the one SelectDb chose. */
int km_ctx_dbid(const km_ctx *ctx);
void km_auto_add(km_ctx *ctx, int kind, void *p);
/* Takes p off the context's list: 1 if it was there. */
int km_auto_forget(km_ctx *ctx, void *p);
int km_get_api(const char *name, void *out);
/* The registry of API functions by name (module_api.c builds it from
 * each file's table). */
typedef struct km_api_entry {
    const char *name;
    void *fn;
} km_api_entry;
extern const km_api_entry km_api_core[], km_api_string[], km_api_reply[], km_api_key[], km_api_call[], km_api_type[],
    km_api_thread[], km_api_notify[], km_api_dict[], km_api_event[], km_api_info[], km_api_filter[], km_api_infofn[],
    km_api_scan[], km_api_config[], km_api_cmdinfo[], km_api_fork[], km_api_shared[], km_api_acl[], km_api_stream[],
    km_api_auth[], km_api_defrag[], km_api_eventloop[], km_api_keypos[];

/* ---- module_string.c ---- */
km_string *km_string_new(km_ctx *ctx, const char *p, size_t len);
void km_string_release(km_ctx *ctx, km_string *s);

/* argv for a command from Call's / Replicate's / EmitAOF's format and
 * arguments; letters that are flags, not arguments, go into *flags (their
 * km_call_flag bits) when flags is not NULL, else they are an error (-1). */
int km_build_argv(km_ctx *ctx, const char *cmdname, const char *fmt, va_list ap, sv **argv, str **owned, int *flags);
/* A format flag letter's bit in km_build_argv's *flags (one each for
 * "!AR30CSWMEKDX"), 0 for a letter that is not a flag. */
int km_call_flag(char ch);
void km_free_argv(sv *argv, str *owned, int argc);
/* A call reply's bytes, and whether they are RESP3 (the call's client
 * spoke it); -1 for no reply, -2 for one that could not be read (a
 * module's reply that broke its own lengths: not to be passed on). */
int km_call_reply_proto_of(const km_call_reply *r, const char **p, size_t *len, int *resp3);
/* An error reply a command made is counted where it arose; one Call made
 * itself (an unknown command, an ACL refusal) when it is passed on. */
int km_call_reply_counted(const km_call_reply *r);
int km_create_command(km_ctx *ctx, const char *name, km_cmd_fn fn, const char *strflags, int first, int last, int step);
int km_create_subcommand(command *parent, const char *name, km_cmd_fn fn, const char *strflags, int first, int last,
                         int step);

/* ---- module_key.c ---- */
void km_key_close(km_key *k);
km_key *km_open_key(km_ctx *ctx, km_string *name, int mode);
/* The key's entry now (NULL: none), without touching its LRU. */
kobj *km_key_lookup(km_key *k);
/* A write through k: dirty, WATCH, tracking and blocked clients told. */
void km_key_changed(km_key *k);

/* ---- module_stream.c ---- */
/* Ends k's stream iterator, if it has one (CloseKey, StreamIteratorStop). */
void km_stream_walk_free(km_key *k);

/* ---- module_keypos.c ---- */
/* The finders of a command made with "getkeys-api" / "getchannels-api":
 * the module's function is asked, in a request context of its own. */
int km_keys_by_module(const command *cmd, const sv *argv, int argc, key_ref *out, int max);
key_ref *km_channels_by_module(const command *cmd, const sv *argv, int argc, int *n);

/* ---- module_call.c ---- */
void km_call_reply_free(km_call_reply *r);

/* ---- module_type.c ---- */
km_type *km_type_by_id(uint64_t id);
void km_types_forget(km_module *m);
/* The value behind an OBJ_MODULE entry. */
typedef struct km_value {
    km_type *type;
    void *v;
} km_value;
km_value *km_value_new(km_type *t, void *v);
void km_value_free(km_value *mv);
/* ---- module_defrag.c: type_ops.defrag for module values ---- */
void *km_value_defrag(km_value *mv, sv key, int dbid, unsigned long *cursor, size_t budget);

/* ---- module_thread.c ---- */
extern pthread_mutex_t km_gil;
void km_thread_init(void);
int km_on_main_thread(void);
/* Whether m has clients blocked and not yet unblocked by its threads. */
int km_has_blocked(const km_module *m);
int km_has_timers(const km_module *m); /* an unfired timer holds a module, as in Redis */
/* Cancels m's pending timers (it is being unloaded). */
void km_timers_forget(km_module *m);
/* A private client that gathers replies (thread-safe contexts). */
client *km_reply_client_new(void);
/* BlockClient: c blocked (bc->c set), or, in MULTI or a script, an error
 * replied and a handle without a client. */
km_blocked *km_block_client(km_ctx *ctx, km_cmd_fn reply_cb, km_cmd_fn timeout_cb, void (*free_cb)(km_ctx *, void *),
                            long long timeout_ms);
/* A handled bc's end: its private data through the module's free
 * callback, then the handle itself (it is off the blocked list). */
void km_blocked_free_privdata(km_blocked *bc);
void km_blocked_free(km_blocked *bc);

/* Wakes the main thread's loop (from any thread): it then runs the
 * unblocked clients' callbacks and the one-shot callbacks. */
void km_wake_main(void);
/* Whether this thread holds the GIL (the main thread, or a module thread
 * that locked it). */
int km_gil_held_here(void);

/* ---- module_eventloop.c ---- */
void km_eventloop_run_oneshots(void);
/* When a context may first yield; the end of the one that made the
 * server busy. */
void km_yield_ctx_init(km_ctx *ctx);
void km_yield_ctx_done(km_ctx *ctx);
void km_eventloop_init(void);

/* ---- module_auth.c ---- */
/* An auth block the module's thread unblocked: the client's AUTH or HELLO
 * runs again from the callback that blocked (or, the client gone, only
 * the private data is freed). */
void km_auth_unblocked(km_blocked *bc);
/* AuthenticateClientWithUser did authenticate c: an auth callback under
 * way for c has handled it with success. */
void km_auth_note_authenticated(client *c);
/* m's auth callbacks go (it is being unloaded). */
void km_auth_forget(km_module *m);

/* ---- module_notify.c ---- */
void km_notify_forget(km_module *m);

/* ---- module_filter.c ---- */
void km_filters_forget(km_module *m);
/* Filters c's argv (caller: the module whose Call runs it, or NULL). */
void km_filter_run(client *c, const km_module *caller);

/* ---- module_config.c ---- */
void km_configs_forget(km_module *m);
/* Whether m registered parameters and never called LoadConfigs. */
int km_configs_unloaded(const km_module *m);

/* ---- module_event.c ---- */
void km_events_forget(km_module *m);
void km_event_module_change(const km_module *m, int loaded);
void km_client_info_fill(const client *c, km_client_info *ci);

/* ---- module_shared.c ---- */
/* Whether another module (or m itself) uses one of m's shared APIs. */
int km_shared_in_use(const km_module *m);
/* m's APIs go, and it uses no others' (it is being unloaded). */
void km_shared_forget(km_module *m);
/* INFO modules' "[a|b]": the modules using m's APIs (usedby) or the ones
 * whose APIs m uses. */
str km_shared_info(str s, const km_module *m, int usedby);

/* ---- module_acl.c ---- */
/* The clients m authenticated with a callback lose their user and are
 * closed (m is being unloaded), its callbacks told first. */
void km_acl_forget(km_module *m);

/* ---- module.c ---- */
km_module *km_module_by_name(const char *name);
km_module *km_module_at(int i); /* 0 .. module_count()-1 */
/* The module whose OnLoad or command is running (for log lines). */
km_command *km_command_of(const command *cmd);

#endif
