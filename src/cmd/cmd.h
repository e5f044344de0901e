/* cmd: the command table and what handlers share.
 *
 * The table is declared once, in src/cmd/table_<family>.def files, each line
 *   CMD(handler, "name", arity, flags, first_key, last_key, key_step,
 *       "acl categories", "group", "summary")
 * and, after a container (CONFIG, CLIENT, ...), one line per subcommand
 *   SUB(container's handler, "container|sub", arity, flags, first_key,
 *       last_key, key_step, "acl categories", "summary")
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

/* INFO commandstats counters. */
typedef struct cmd_stats {
    long long calls;
    long long usec;
    long long rejected_calls;
    long long failed_calls;
    uint32_t *hist; /* latency histogram (server/latency.c), made on first call */
} cmd_stats;

/* Where the keys of a CMD_MOVABLE_KEYS command are when first/last/step
 * cannot say it (SORT's STORE may come anywhere): a family's .def names one
 * with a line KEYS(handler, finder), and COMMAND GETKEYS calls it. The
 * finder writes up to max argv indexes (argv[0] is the command's name) of
 * keys to pos, in the order Redis lists them, and returns how many. */
typedef int (*cmd_keys_fn)(const sv *argv, int argc, int *pos, int max);

typedef struct command {
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
    cmd_keys_fn keys;       /* NULL: the table line's key positions say it all */
    /* ACL (src/acl/): the command's id in user bitmaps, its categories as
     * bits (the table line's plus those Redis derives from flags), and how
     * its keys are accessed (ACL_KA_* in acl_check.c). Set at start-up. */
    int acl_id;
    uint32_t acl_cats;
    int key_access;
    int gone; /* renamed to "" by rename-command: out of COMMAND's lists */
} command;

#define CMD(fn, name, arity, flags, first, last, step, acl, group, summary) void fn(client *c);
#define KEYS(handler, finder) int finder(const sv *argv, int argc, int *pos, int max);
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
/* Commands and subcommands together, by ACL id (0 .. cmd_total()-1). */
int cmd_total(void);
command *cmd_by_id(int id);
/* Iteration over the table. */
int cmd_count(void);
command *cmd_at(int i);
/* Flag names for COMMAND INFO ("write", "readonly", ...). */
int cmd_flag_names(uint32_t flags, const char **out, int max);
void cmd_table_init(void);
/* CONFIG RESETSTAT: zero every command's and subcommand's counters. */
void cmd_stats_reset(void);

#endif
