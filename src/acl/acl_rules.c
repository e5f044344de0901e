/* acl_rules: the command categories, selectors (a command bitmap, key
 * patterns with read/write flags, channel patterns) and the rules that
 * change a selector ("+get", "-@write", "~key:*", "%R~r*", "&news.*" ...).
 *
 * A selector's command permissions are a bitmap indexed by the command's
 * ACL id (cmd_table_init numbers commands, then subcommands). A container
 * command (CONFIG) has a bit of its own and one per subcommand: "+config"
 * sets them all, "+config|get" one; a call is checked against the bit of
 * what runs (the subcommand). */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "acl/acl_int.h"
#include "base/alloc.h"
#include "server/server.h"

/* ---- categories ---- */

/* Redis's order: ACL CAT lists them so, and the rule description tries
 * them so. */
static const char *const categories[] = {
    "keyspace", "read",        "write",      "set",         "sortedset", "list",     "hash", "string",
    "bitmap",   "hyperloglog", "geo",        "stream",      "pubsub",    "admin",    "fast", "slow",
    "blocking", "dangerous",   "connection", "transaction", "scripting", "vectorset"};
#define NCATS ((int)(sizeof(categories) / sizeof(categories[0])))
#define CAT(name) acl_category_flag(name, strlen(name))

int acl_category_count(void)
{
    return NCATS;
}

const char *acl_category_name(int i)
{
    return i >= 0 && i < NCATS ? categories[i] : NULL;
}

uint32_t acl_category_flag(const char *name, size_t len)
{
    for (int i = 0; i < NCATS; i++) {
        if (strlen(categories[i]) == len && strncasecmp(categories[i], name, len) == 0) {
            return 1u << i;
        }
    }
    return 0;
}

/* A command's categories: its table line's, plus what Redis derives from
 * its flags (write, read-only outside scripting, admin is dangerous,
 * pub/sub, fast or else slow, blocking). */
uint32_t acl_command_categories(const command *cmd)
{
    uint32_t cats = 0;
    const char *p = cmd->acl;
    while (p && *p) {
        while (*p == ' ') {
            p++;
        }
        const char *e = p;
        while (*e && *e != ' ') {
            e++;
        }
        if (e - p > 1 && *p == '@') {
            cats |= acl_category_flag(p + 1, (size_t)(e - p - 1));
        }
        p = e;
    }
    if (cmd->flags & CMD_CONTAINER) {
        /* A container has no flags of its own in Redis: only its table
         * line counts (@slow), its subcommands carry the rest. */
        return cats ? cats : CAT("slow");
    }
    if (cmd->flags & CMD_WRITE) {
        cats |= CAT("write");
    }
    if ((cmd->flags & CMD_READONLY) && !(cats & CAT("scripting"))) {
        cats |= CAT("read");
    }
    if (cmd->flags & CMD_ADMIN) {
        cats |= CAT("admin") | CAT("dangerous");
    }
    if (cmd->flags & CMD_PUBSUB) {
        cats |= CAT("pubsub");
    }
    if (cmd->flags & CMD_FAST) {
        cats |= CAT("fast");
    }
    if (cmd->flags & CMD_BLOCKING) {
        cats |= CAT("blocking");
    }
    if (!(cats & CAT("fast"))) {
        cats |= CAT("slow");
    }
    return cats;
}

/* ---- command bits ---- */

int acl_nids, acl_nwords;

int acl_cmd_ids(void)
{
    return acl_nids;
}

static void firstargs_clear(acl_selector *s, int id)
{
    int w = 0;
    for (int i = 0; i < s->nfirstargs; i++) {
        if (id < 0 || s->firstargs[i].id == id) {
            str_free(s->firstargs[i].arg);
        } else {
            s->firstargs[w++] = s->firstargs[i];
        }
    }
    s->nfirstargs = w;
}

/* Allows or denies cmd and, for a container, all its subcommands. */
void acl_change_perm(acl_selector *s, const command *cmd, int allow)
{
    acl_bit_set(s, cmd->acl_id, allow);
    firstargs_clear(s, cmd->acl_id);
    for (int i = 0; i < cmd->nsubs; i++) {
        acl_bit_set(s, cmd->subs[i].acl_id, allow);
        firstargs_clear(s, cmd->subs[i].acl_id);
    }
}

/* Every command (and subcommand) of a category; a container in the
 * category takes its subcommands along, as in Redis. */
void acl_change_category(acl_selector *s, uint32_t cat, int allow)
{
    for (int i = 0; i < cmd_count(); i++) {
        command *cmd = cmd_at(i);
        if (cmd->acl_cats & cat) {
            acl_change_perm(s, cmd, allow);
        }
        for (int j = 0; j < cmd->nsubs; j++) {
            if (cmd->subs[j].acl_cats & cat) {
                acl_change_perm(s, &cmd->subs[j], allow);
            }
        }
    }
}

/* ---- selectors ---- */

void acl_selector_init(acl_selector *s, uint32_t flags)
{
    memset(s, 0, sizeof(*s));
    s->flags = flags;
    s->bits = alloc_zero(sizeof(uint64_t) * (size_t)acl_nwords);
}

static void selector_clear_keys(acl_selector *s)
{
    for (int i = 0; i < s->nkeys; i++) {
        str_free(s->keys[i].pat);
    }
    alloc_free(s->keys);
    s->keys = NULL;
    s->nkeys = 0;
}

static void selector_clear_channels(acl_selector *s)
{
    for (int i = 0; i < s->nchannels; i++) {
        str_free(s->channels[i]);
    }
    alloc_free(s->channels);
    s->channels = NULL;
    s->nchannels = 0;
}

void acl_selector_free(acl_selector *s)
{
    selector_clear_keys(s);
    selector_clear_channels(s);
    firstargs_clear(s, -1);
    alloc_free(s->firstargs);
    alloc_free(s->bits);
}

void acl_selector_copy(acl_selector *dst, const acl_selector *src)
{
    acl_selector_init(dst, src->flags);
    memcpy(dst->bits, src->bits, sizeof(uint64_t) * (size_t)acl_nwords);
    if (src->nkeys) {
        dst->keys = alloc_mem(sizeof(acl_keypat) * (size_t)src->nkeys);
        for (int i = 0; i < src->nkeys; i++) {
            dst->keys[i].pat = str_dup(src->keys[i].pat);
            dst->keys[i].flags = src->keys[i].flags;
            dst->keys[i].prefix = src->keys[i].prefix;
        }
        dst->nkeys = src->nkeys;
    }
    if (src->nchannels) {
        dst->channels = alloc_mem(sizeof(str) * (size_t)src->nchannels);
        for (int i = 0; i < src->nchannels; i++) {
            dst->channels[i] = str_dup(src->channels[i]);
        }
        dst->nchannels = src->nchannels;
    }
    if (src->nfirstargs) {
        dst->firstargs = alloc_mem(sizeof(acl_firstarg) * (size_t)src->nfirstargs);
        for (int i = 0; i < src->nfirstargs; i++) {
            dst->firstargs[i].id = src->firstargs[i].id;
            dst->firstargs[i].arg = str_dup(src->firstargs[i].arg);
        }
        dst->nfirstargs = src->nfirstargs;
    }
}

static int has_space(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (isspace((unsigned char)p[i])) {
            return 1;
        }
    }
    return 0;
}

static const char *const ERR_SYNTAX = "Syntax error";
static const char *const ERR_UNKNOWN = "Unknown command or category name in ACL";
static const char *const ERR_AFTER_ALLKEYS =
    "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try "
    "'resetkeys' to start with an empty list of patterns";
static const char *const ERR_AFTER_ALLCHANNELS =
    "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. "
    "Try 'resetchannels' to start with an empty list of channels";
static const char *const ERR_SUBCMD_FIRSTARG = "Allowing first-arg of a subcommand is not supported";

static int op_is(const char *op, size_t len, const char *lit)
{
    return strlen(lit) == len && strncasecmp(op, lit, len) == 0;
}

static int add_key_pattern(acl_selector *s, const char *op, size_t len, const char **why)
{
    if (s->flags & ACL_SEL_ALLKEYS) {
        *why = ERR_AFTER_ALLKEYS;
        return -1;
    }
    int flags = 0;
    size_t off = 1;
    if (op[0] == '%') {
        /* %R~, %W~, %RW~ (each letter at most once); without a '~' the
         * pattern is empty, as Redis reads it. */
        for (; off < len; off++) {
            char ch = (char)toupper((unsigned char)op[off]);
            if (ch == 'R' && !(flags & ACL_KEY_READ)) {
                flags |= ACL_KEY_READ;
            } else if (ch == 'W' && !(flags & ACL_KEY_WRITE)) {
                flags |= ACL_KEY_WRITE;
            } else if (op[off] == '~') {
                off++;
                break;
            } else {
                *why = ERR_SYNTAX;
                return -1;
            }
        }
        if (!flags) {
            *why = ERR_SYNTAX; /* "%~x" */
            return -1;
        }
    } else {
        flags = ACL_KEY_READ | ACL_KEY_WRITE;
    }
    if (has_space(op + off, len - off)) {
        *why = ERR_SYNTAX;
        return -1;
    }
    for (int i = 0; i < s->nkeys; i++) {
        if (str_len(s->keys[i].pat) == len - off && memcmp(s->keys[i].pat, op + off, len - off) == 0) {
            s->keys[i].flags |= flags;
            return 0;
        }
    }
    s->keys = alloc_resize(s->keys, sizeof(acl_keypat) * (size_t)(s->nkeys + 1));
    s->keys[s->nkeys].pat = str_new(op + off, len - off);
    s->keys[s->nkeys].flags = flags;
    s->keys[s->nkeys].prefix = acl_keypat_prefix(op + off, len - off);
    s->nkeys++;
    return 0;
}

static int add_channel(acl_selector *s, const char *op, size_t len, const char **why)
{
    if (s->flags & ACL_SEL_ALLCHANNELS) {
        *why = ERR_AFTER_ALLCHANNELS;
        return -1;
    }
    if (has_space(op + 1, len - 1)) {
        *why = ERR_SYNTAX;
        return -1;
    }
    for (int i = 0; i < s->nchannels; i++) {
        if (str_len(s->channels[i]) == len - 1 && memcmp(s->channels[i], op + 1, len - 1) == 0) {
            return 0;
        }
    }
    s->channels = alloc_resize(s->channels, sizeof(str) * (size_t)(s->nchannels + 1));
    s->channels[s->nchannels++] = str_new(op + 1, len - 1);
    return 0;
}

/* "+name", "+container|sub" or "+cmd|firstarg". */
static int allow_command(acl_selector *s, const char *name, size_t len, const char **why)
{
    const char *bar = NULL;
    for (size_t i = len; i > 0; i--) {
        if (name[i - 1] == '|') {
            bar = name + i - 1;
            break;
        }
    }
    if (!bar) {
        command *cmd = cmd_lookup(name, len);
        if (!cmd) {
            *why = ERR_UNKNOWN;
            return -1;
        }
        acl_change_perm(s, cmd, 1);
        return 0;
    }
    size_t head = (size_t)(bar - name), sublen = len - head - 1;
    command *cmd = cmd_lookup_full(name, head);
    if (!cmd) {
        *why = ERR_UNKNOWN;
        return -1;
    }
    if (cmd->parent) {
        *why = ERR_SUBCMD_FIRSTARG;
        return -1;
    }
    if (sublen == 0) {
        *why = ERR_SYNTAX;
        return -1;
    }
    if (cmd->nsubs) {
        command *sub = cmd_lookup_sub(cmd, bar + 1, sublen);
        if (!sub) {
            *why = ERR_UNKNOWN;
            return -1;
        }
        acl_change_perm(s, sub, 1);
        return 0;
    }
    for (int i = 0; i < s->nfirstargs; i++) {
        if (s->firstargs[i].id == cmd->acl_id && str_len(s->firstargs[i].arg) == sublen &&
            strncasecmp(s->firstargs[i].arg, bar + 1, sublen) == 0) {
            return 0;
        }
    }
    s->firstargs = alloc_resize(s->firstargs, sizeof(acl_firstarg) * (size_t)(s->nfirstargs + 1));
    s->firstargs[s->nfirstargs].id = cmd->acl_id;
    s->firstargs[s->nfirstargs].arg = str_new(bar + 1, sublen);
    s->nfirstargs++;
    return 0;
}

int acl_selector_apply(acl_selector *s, const char *op, size_t len, const char **why)
{
    if (op_is(op, len, "allkeys") || op_is(op, len, "~*")) {
        s->flags |= ACL_SEL_ALLKEYS;
        selector_clear_keys(s);
    } else if (op_is(op, len, "resetkeys")) {
        s->flags &= ~ACL_SEL_ALLKEYS;
        selector_clear_keys(s);
    } else if (op_is(op, len, "allchannels") || op_is(op, len, "&*")) {
        s->flags |= ACL_SEL_ALLCHANNELS;
        selector_clear_channels(s);
    } else if (op_is(op, len, "resetchannels")) {
        s->flags &= ~ACL_SEL_ALLCHANNELS;
        selector_clear_channels(s);
    } else if (op_is(op, len, "allcommands") || op_is(op, len, "+@all")) {
        memset(s->bits, 0xff, sizeof(uint64_t) * (size_t)acl_nwords);
        s->flags |= ACL_SEL_ALLCOMMANDS;
        firstargs_clear(s, -1);
    } else if (op_is(op, len, "nocommands") || op_is(op, len, "-@all")) {
        memset(s->bits, 0, sizeof(uint64_t) * (size_t)acl_nwords);
        s->flags &= ~ACL_SEL_ALLCOMMANDS;
        firstargs_clear(s, -1);
    } else if (op[0] == '~' || op[0] == '%') {
        return add_key_pattern(s, op, len, why);
    } else if (op[0] == '&') {
        return add_channel(s, op, len, why);
    } else if ((op[0] == '+' || op[0] == '-') && len >= 2 && op[1] == '@') {
        uint32_t cat = acl_category_flag(op + 2, len - 2);
        if (!cat) {
            *why = ERR_UNKNOWN;
            return -1;
        }
        acl_change_category(s, cat, op[0] == '+');
    } else if (op[0] == '+') {
        return allow_command(s, op + 1, len - 1, why);
    } else if (op[0] == '-') {
        command *cmd = cmd_lookup_full(op + 1, len - 1);
        if (!cmd) {
            *why = ERR_UNKNOWN;
            return -1;
        }
        acl_change_perm(s, cmd, 0);
    } else {
        *why = ERR_SYNTAX;
        return -1;
    }
    return 0;
}
