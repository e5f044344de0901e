/* acl: Redis 7's access control lists. Users (acl_user.c) hold passwords
 * and selectors: a selector (acl_rules.c) is a command bitmap, key patterns
 * with read/write flags, and channel patterns; acl_describe.c prints them
 * back as rules; a user may run a command when any of its selectors
 * allows the command, all its keys and all its channels (acl_check.c). Denials are recorded in the ACL LOG (acl_log.c);
 * users are loaded from and saved to an aclfile or the config's `user` lines (acl_file.c). The ACL command itself is
 * src/cmd/cmd_acl.c. */
#ifndef KEEL_ACL_H
#define KEEL_ACL_H

#include <stdint.h>

#include "base/str.h"
#include "cmd/cmd.h"

/* User flags. */
#define ACL_USER_ON (1u << 0)
#define ACL_USER_NOPASS (1u << 1)
#define ACL_USER_SKIP_SANITIZE (1u << 2)
#define ACL_USER_SANITIZE (1u << 3) /* set by reset: shown as sanitize-payload */

/* Selector flags. */
#define ACL_SEL_ROOT (1u << 0)
#define ACL_SEL_ALLKEYS (1u << 1)
#define ACL_SEL_ALLCHANNELS (1u << 2)
#define ACL_SEL_ALLCOMMANDS (1u << 3) /* +@all: also commands added later */

/* Key pattern permissions (%R~, %W~, %RW~ and ~). */
#define ACL_KEY_READ 1
#define ACL_KEY_WRITE 2

/* Outcomes of a check, ordered as Redis orders them: when no selector
 * allows a command, the highest denial (the one that got furthest) is the
 * one reported. */
enum { ACL_OK = 0, ACL_DENIED_CMD = 1, ACL_DENIED_KEY = 2, ACL_DENIED_AUTH = 3, ACL_DENIED_CHANNEL = 4 };

/* Where a denial happened (the ACL LOG's context field). */
enum { ACL_CTX_TOPLEVEL = 0, ACL_CTX_MULTI = 1, ACL_CTX_LUA = 2, ACL_CTX_MODULE = 3 };

typedef struct acl_keypat {
    str pat;
    int flags;  /* ACL_KEY_READ | ACL_KEY_WRITE */
    int prefix; /* "literal*": the literal's length, matched by memcmp; else -1 */
} acl_keypat;

/* The literal part of a "literal*" pattern (no other glob character), or
 * -1: most key patterns are of that shape and need no glob matcher. */
int acl_keypat_prefix(const char *pat, size_t len);

/* "+select|0": a first argument allowed for an otherwise blocked command
 * (deprecated in Redis 7 but still accepted). */
typedef struct acl_firstarg {
    int id; /* the command's ACL id */
    str arg;
} acl_firstarg;

typedef struct acl_selector {
    uint32_t flags;
    uint64_t *bits; /* one bit per command id (acl_cmd_ids()) */
    acl_keypat *keys;
    int nkeys;
    str *channels;
    int nchannels;
    acl_firstarg *firstargs;
    int nfirstargs;
} acl_selector;

typedef struct acl_user {
    str name;
    uint32_t flags;
    str *passwords; /* SHA-256 hex digests, 64 characters */
    int npasswords;
    acl_selector *sels; /* sels[0] is the root selector */
    int nsels;
    /* Every command, key and channel allowed by the root selector: the
     * check is one flag test (the default user's usual state). */
    int allperm;
} acl_user;

/* ---- users (acl_user.c) ---- */
/* Creates the default user (on nopass ~* &* +@all) with requirepass's
 * password if one is set. Call after cmd_table_init. */
void acl_init(void);
/* A command added after start-up (a module's): its categories, from its flags. */
void acl_command_added(command *cmd);
extern acl_user *acl_default_user;
acl_user *acl_user_find(const char *name, size_t len);
/* The users in name order (as ACL LIST and ACL USERS show them). */
int acl_user_count(void);
acl_user *acl_user_at(int i);
/* Applies one rule to u. Returns 0, or -1 with Redis's reason ("Syntax
 * error", ...) in *why. The user is changed only by a successful rule. */
int acl_user_apply(acl_user *u, const char *op, size_t len, const char **why);
/* Applies rules in order to a copy of u and, when all are valid, makes the
 * copy u's state: a bad rule changes nothing. Rules may be split selectors
 * ("(+get", "~x)"), joined as Redis joins them. On error returns -1 and
 * writes Redis's whole error text (without "ERR ") into err. */
int acl_user_apply_all(acl_user *u, const sv *rules, int n, char *err, size_t errlen);
/* Deletes a user (not the default one) and closes its connections. */
void acl_user_delete(acl_user *u);
/* Whether user/pass are valid credentials of an enabled user. */
acl_user *acl_check_credentials(sv user, sv pass);
/* requirepass (config file or CONFIG SET) sets the default user's only
 * password, or makes it nopass when empty. */
void acl_apply_requirepass(void);
/* SHA-256 of p as 64 lowercase hex characters plus a NUL. */
void acl_hash_password(const char *p, size_t len, char out[65]);
/* Replaces all users by the given set (ACL LOAD); the default user object
 * is kept and takes the new rules (or the usual ones when the set has no
 * default user) so its connections stay; every other old user's
 * connections are closed, as Redis 7.0 does. */
void acl_users_replace(acl_user **users, int n);
/* A new user (off, no permissions) outside the registry, to build and
 * check rules on before it is adopted or freed. */
acl_user *acl_user_new_detached(const char *name, size_t len);
/* Registers a detached user; when one of that name exists it takes u's
 * rules instead (and u is freed). */
void acl_user_adopt(acl_user *u);
void acl_user_free_detached(acl_user *u);
/* Closes the connections authenticated as u (after DELUSER, ACL LOAD). */
void acl_kill_clients_of(acl_user *u);
/* Closes u's connections holding subscriptions u may no longer have. */
void acl_kill_revoked_subscribers(acl_user *u);

/* ---- descriptions (acl_describe.c) ---- */
/* "user <name> on #... ~* &* +@all" as ACL LIST shows it. */
str acl_user_describe(str out, const acl_user *u);
/* The command rules of a selector ("-@all +get"), as GETUSER shows them. */
str acl_selector_describe_commands(str out, const acl_selector *s);
/* The key patterns of a selector ("~a %R~b"), "" when none. */
str acl_selector_describe_keys(str out, const acl_selector *s);
str acl_selector_describe_channels(str out, const acl_selector *s);
/* GETUSER's flags ("on", "nopass", ...) into out (room for 4). */
int acl_user_flag_names(const acl_user *u, const char **out);

/* ---- categories and command ids (acl_rules.c) ---- */
int acl_category_count(void);
const char *acl_category_name(int i);
/* The category bit of a name (without '@'), 0 if unknown. */
uint32_t acl_category_flag(const char *name, size_t len);
/* How many command ids there are (commands and subcommands). */
int acl_cmd_ids(void);

/* ---- checks (acl_check.c) ---- */
/* Whether u may run cmd with argv. Returns ACL_OK or the denial; *errpos
 * gets the argv index of the denied key or channel. No allocation. */
int acl_check(const acl_user *u, const command *cmd, const sv *argv, int argc, int *errpos);
/* Whether u (NULL: the server itself) may read any key with cmd: a
 * selector allowing cmd has allkeys or a read pattern "*" (SORT's BY and
 * GET patterns need it, as in Redis). */
int acl_full_key_access(const acl_user *u, const command *cmd);
/* Whether u may access key as a key spec with flags (KS_ACCESS, KS_INSERT,
 * KS_UPDATE, KS_DELETE) would: some selector allows all keys or has a
 * pattern matching key with the access they need (any access for none). */
int acl_check_key(const acl_user *u, sv key, uint32_t ks_flags);
/* Whether u may publish to / subscribe to channel (literal: a pattern as
 * PSUBSCRIBE gives it must be allowed literally). */
int acl_check_channel(const acl_user *u, sv channel, int literal);
/* Logs a denial at top level or in MULTI (ACL LOG) and writes its NOPERM
 * error text to text, for dispatch to refuse the command with. */
void acl_deny_log(struct client *c, const command *cmd, int denial, int pos, int context, char *text, size_t len);
/* The error text redis.call gets for a denial (Redis's script texts). */
const char *acl_script_error(int denial);
/* The object of a denial as ACL LOG and DRYRUN name it. */
sv acl_denial_object(const command *cmd, const sv *argv, int denial, int pos, char *buf, size_t buflen);
/* The command's full name in lower case ("config|get"). */
const char *acl_cmd_fullname(const command *cmd);

/* ---- log (acl_log.c) ---- */
void acl_log_add(struct client *c, int reason, int context, sv object, sv username);
void acl_log_reply(struct client *c, long long count);
void acl_log_reset(void);

/* ---- files (acl_file.c) ---- */
/* A `user` line of the config file, kept until acl_load_startup. */
void acl_config_user_line(const sv *args, int n, const char *file, int line);
/* Applies the config's user lines, then the aclfile; on error fills err
 * and returns -1 (start-up fails). */
int acl_load_startup(char *err, size_t errlen);
/* ACL LOAD: 0, or -1 with Redis's error text in err. */
int acl_load_file(const char *path, char *err, size_t errlen);
/* ACL SAVE: 0, or -1 with the error in err. */
int acl_save_file(const char *path, char *err, size_t errlen);

#endif
