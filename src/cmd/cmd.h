/* cmd: the command table and what handlers share.
 *
 * The table is declared once, in src/cmd/table_<family>.def files, each line
 *   CMD(handler, "name", arity, flags, first_key, last_key, key_step,
 *       "acl categories", "group", "summary")
 * and, after a container (CONFIG, CLIENT, ...), one line per subcommand
 *   SUB(container's handler, "container|sub", arity, flags, first_key,
 *       last_key, key_step, "acl categories", "summary")
 * and, after a command or subcommand that takes keys, one line per key spec
 * (Redis 7's: where the keys are and what the command does to them)
 *   SPEC("name", KS_* flags, begin search, find keys)
 * (SPECN("name", flags, begin search, find keys, "notes") for a spec that
 * Redis explains, COMMAND INFO showing the notes)
 * and, for the few whose keys or key flags only their syntax can tell,
 *   KEYS("name", finder)
 * and, for a command with Redis 7's command tips (what a cluster client or
 * a test should know of its reply: nondeterministic_output, request_policy
 * and response_policy), one line of space-separated tips
 *   TIPS("name", "tip tip ...")
 * and, for COMMAND DOCS, the Redis version that brought the command, its
 * time complexity and its arguments (their syntax: src/cmd/cmd_docs.c)
 *   DOCS("name", "since", "complexity", "arguments")
 * and, for a deprecated command or one meant for servers, not users,
 *   DOCFLAGS("name", "deprecated syscmd", "deprecated since", "replaced by")
 * Subcommands are entries of their own: dispatch checks their arity and
 * gates on their flags, and they have their own stats, as in Redis 7.
 * This header turns those lines into handler prototypes; table.c turns them
 * into the table that dispatch, COMMAND and docs/COMMANDS.md read. */
#ifndef KEEL_CMD_H
#define KEEL_CMD_H

#include <stdint.h>

#include "base/str.h"

typedef struct client client;
typedef void (*cmd_fn)(client *c);

/* Command flags: every gate in dispatch reads these. */
#define CMD_WRITE (1u << 0)
#define CMD_READONLY (1u << 1)
#define CMD_DENYOOM (1u << 2)
#define CMD_FAST (1u << 3)
#define CMD_ADMIN (1u << 4)
#define CMD_NOSCRIPT (1u << 5)
#define CMD_PUBSUB (1u << 6)
#define CMD_BLOCKING (1u << 7)
#define CMD_LOADING (1u << 8)
#define CMD_STALE (1u << 9)
#define CMD_MAY_REPLICATE (1u << 10)
#define CMD_NO_AUTH (1u << 11)    /* allowed before AUTH */
#define CMD_NO_MULTI (1u << 12)   /* refused inside MULTI */
#define CMD_ALLOW_BUSY (1u << 13) /* allowed while a script is busy */
#define CMD_SKIP_MONITOR (1u << 14)
#define CMD_MOVABLE_KEYS (1u << 15)
#define CMD_SUBSCRIBED (1u << 16) /* allowed in RESP2 subscribed mode */
#define CMD_MULTI_CTRL (1u << 17) /* MULTI/EXEC/DISCARD/WATCH: not queued */
#define CMD_SENTINEL (1u << 18)
#define CMD_PROTECTED (1u << 19) /* DEBUG: needs enable-debug-command */
#define CMD_CONTAINER (1u << 20) /* argv[1] names a subcommand (CLIENT, CONFIG...) */
#define CMD_SKIP_SLOWLOG (1u << 21)
#define CMD_NO_MANDATORY_KEYS (1u << 22) /* EVAL, FCALL: zero keys is fine */
/* Shown by COMMAND as Redis shows them; nothing here depends on them. */
#define CMD_ASKING (1u << 23)
#define CMD_NO_ASYNC_LOADING (1u << 24)
#define CMD_MODULE (1u << 25) /* a module's command */

/* INFO commandstats counters. */
typedef struct cmd_stats {
    long long calls;
    long long usec;
    long long rejected_calls;
    long long failed_calls;
    uint32_t *hist; /* latency histogram (server/latency.c), made on first call */
} cmd_stats;

/* Key-spec flags, Redis 7's. Exactly one of RO (the value is only read), RW
 * (read and changed), OW (overwritten, the old value unread) or RM (removed);
 * then what the command does with the data: ACCESS (returns or depends on
 * the value), UPDATE, INSERT, DELETE; NOT_KEY marks a channel written like
 * a key (SPUBLISH); INCOMPLETE a spec that may miss keys; VARIABLE_FLAGS
 * flags that depend on the arguments (SET ... GET). ACL derives a key's
 * read/write permission from them, COMMAND GETKEYSANDFLAGS shows them. */
#define KS_RO (1u << 0)
#define KS_RW (1u << 1)
#define KS_OW (1u << 2)
#define KS_RM (1u << 3)
#define KS_ACCESS (1u << 4)
#define KS_UPDATE (1u << 5)
#define KS_INSERT (1u << 6)
#define KS_DELETE (1u << 7)
#define KS_NOT_KEY (1u << 8)
#define KS_INCOMPLETE (1u << 9)
#define KS_VARIABLE_FLAGS (1u << 10)

/* How a spec finds its first key, then the rest. */
enum { KS_BEGIN_INDEX = 1, KS_BEGIN_KEYWORD, KS_BEGIN_UNKNOWN };
enum { KS_FIND_RANGE = 1, KS_FIND_KEYNUM, KS_FIND_UNKNOWN };

typedef struct key_spec {
    uint32_t flags;
    int begin;           /* KS_BEGIN_* */
    int begin_at;        /* the index; or where the keyword search starts (negative: from the end, backwards) */
    const char *keyword; /* KS_BEGIN_KEYWORD: the argument just before the first key */
    int find;            /* KS_FIND_* */
    /* range: the last key relative to the first (negative: from the end of
     * argv, or, with limit > 1, from the end of the first 1/limit of what
     * follows), the step, limit; keynum: where the count is (relative to the
     * first), where the keys start (relative to the first), the step. */
    int a, b, c;
    const char *notes; /* a module's words on it; NULL for the table's */
} key_spec;

/* Channel flags, Redis 7's: what a command does with a channel argument.
 * PATTERN: the argument is a pattern (PSUBSCRIBE's), not one channel. */
#define CH_PATTERN (1u << 0)
#define CH_PUBLISH (1u << 1)
#define CH_SUBSCRIBE (1u << 2)
#define CH_UNSUBSCRIBE (1u << 3)

/* The begin-search and find-keys halves of a SPEC line. */
#define KS_INDEX(i) KS_BEGIN_INDEX, (i), NULL
#define KS_KEYWORD(word, from) KS_BEGIN_KEYWORD, (from), (word)
#define KS_UNKNOWN_BEGIN KS_BEGIN_UNKNOWN, 0, NULL
#define KS_RANGE(last, step, limit) KS_FIND_RANGE, (last), (step), (limit)
#define KS_KEYNUM(count_at, first, step) KS_FIND_KEYNUM, (count_at), (first), (step)
#define KS_UNKNOWN_FIND KS_FIND_UNKNOWN, 0, 0, 0

/* One key of a command line: its argv index (argv[0] is the command's name)
 * and the flags of the spec that found it. */
typedef struct key_ref {
    int pos;
    uint32_t flags;
} key_ref;

typedef struct command command;

/* A command's DOCS and DOCFLAGS lines; NULL: not given. */
typedef struct cmd_doc {
    const char *since, *complexity, *args;
    const char *flags, *deprecated_since, *replaced_by;
} cmd_doc;

/* A finder, for a command whose specs cannot say it all (SORT's STORE may
 * come anywhere; SET's flags depend on GET): writes up to max keys to out,
 * in the order Redis lists them, and returns how many. */
typedef int (*cmd_keys_fn)(const command *cmd, const sv *argv, int argc, key_ref *out, int max);
/* A finder of channel arguments (key_ref flags: CH_*): an array the caller
 * frees with alloc_free (NULL when there are none), the count in *n. */
typedef key_ref *(*cmd_channels_fn)(const command *cmd, const sv *argv, int argc, int *n);

struct command {
    const char *name;
    cmd_fn fn;
    int arity; /* negative: at least -arity */
    uint32_t flags;
    int first_key, last_key, key_step;
    const char *acl;
    const char *group;
    const char *summary;
    cmd_stats st;         /* INFO commandstats */
    struct command *subs; /* a container's subcommands ("config|get"...) */
    int nsubs;
    struct command *parent; /* a subcommand's container */
    const key_spec *specs;  /* its SPEC lines, in order */
    int nspecs;
    cmd_keys_fn keys; /* its KEYS line's finder; NULL: the specs say it all */
    /* A module command's channels ("getchannels-api"); NULL for the rest:
     * ACL knows Keel's own pub/sub commands by name. */
    cmd_channels_fn channels;
    const char *tips; /* its TIPS line's words; NULL: none */
    /* ACL (src/acl/): the command's id in user bitmaps and its categories
     * as bits (the table line's plus those Redis derives from flags). Set
     * at start-up. */
    int acl_id;
    uint32_t acl_cats;
    int gone;          /* renamed to "" by rename-command: out of COMMAND's lists */
    void *module_data; /* a module's command (CMD_MODULE): src/module/'s record */
    cmd_doc doc;
};

#define CMD(fn, name, arity, flags, first, last, step, acl, group, summary) void fn(client *c);
#define KEYS(name, finder) int finder(const command *cmd, const sv *argv, int argc, key_ref *out, int max);
#include "cmd/table_all.def"
#undef KEYS
#undef CMD

/* Case-insensitive lookup of a command (not a subcommand); NULL if unknown. */
command *cmd_lookup(const char *name, size_t len);
/* A command by the name it has in the table, whatever rename-command did
 * (the log replay and the primary's stream use internal names). */
command *cmd_lookup_original(const char *name, size_t len);
/* rename-command from to ("" as to: the command disappears). Returns -1
 * with Redis's message in *err when from is unknown or to is taken. Only
 * at start-up: the lookup map is not meant to change under clients. */
int cmd_table_rename(const char *from, size_t flen, const char *to, size_t tlen, const char **err);
/* A container's subcommand named sub ("get" for config|get); NULL if none. */
command *cmd_lookup_sub(const command *container, const char *sub, size_t len);
/* A command or a subcommand by its full name ("get", "config|get"), as
 * COMMAND INFO and LATENCY HISTOGRAM take them; NULL if unknown. */
command *cmd_lookup_full(const char *name, size_t len);
/* What argv runs: cmd itself, or the subcommand argv[1] names (NULL when
 * cmd is a container and argv[1] names none of its subcommands). */
command *cmd_resolve(command *cmd, const sv *argv, int argc);
/* Commands added at run time (a module's): at most this many, ever. */
#define CMD_EXTRA_MAX 1024
/* Adds cmd (which must outlive the table) under its name: -1 when the
 * name is taken or no room is left. Its acl_id is set here. */
int cmd_table_add(command *cmd);
/* Gives an added container's subcommand (in its parent's subs) an ACL id;
 * -1 when no room is left. */
int cmd_table_add_sub(command *sub);
/* Takes an added command's name away; the entry stays (clients may still
 * point at it as their last command) but is gone from every listing. */
void cmd_table_remove(command *cmd);
/* Commands and subcommands together, by ACL id (0 .. cmd_total()-1; an id
 * of the room for added commands that none has taken yet gives NULL). */
int cmd_total(void);
command *cmd_by_id(int id);
/* Iteration over the table. */
int cmd_count(void);
command *cmd_at(int i);
/* Flag names for COMMAND INFO ("write", "readonly", ...). */
int cmd_flag_names(uint32_t flags, const char **out, int max);
/* Key-spec flag names as Redis writes them ("RW", "access", ...). */
int cmd_key_flag_names(uint32_t flags, const char **out, int max);

/* keys.c: the keys of argv (argv[0] the command's name, argc already
 * checked against the arity) for cmd, found by its finder or else by its
 * specs (NOT_KEY specs, shard channels, find none). out has room for argc
 * entries. Returns how many, 0 also when a key count in argv is not a
 * usable number (Redis's "Invalid arguments"). */
int keys_find(const command *cmd, const sv *argv, int argc, key_ref *out);
/* The keys cmd's specs alone find (a finder may prefer them, as Redis
 * prefers specs to a module's getkeys-api): -1 when they cannot say (no
 * spec for keys, one with VARIABLE_FLAGS, an unknown or INCOMPLETE one
 * that applies, a bad count). out has room for argc entries. */
int keys_find_by_specs(const command *cmd, const sv *argv, int argc, key_ref *out);
/* Whether cmd has keys at all (a finder, or a spec that is not NOT_KEY):
 * COMMAND GETKEYS answers "The command has no key arguments" otherwise. */
int keys_has_any(const command *cmd);
void cmd_table_init(void);
/* CONFIG RESETSTAT: zero every command's and subcommand's counters. */
void cmd_stats_reset(void);
/* FLUSHALL's work (by: the client whose FLUSHALL is propagated, or NULL:
 * nothing is): every db emptied, the save FLUSHALL makes when save
 * points are set. Returns the ticket of a background free, or 0. */
uint64_t keyspace_flush_all(client *by, int async);

#endif
