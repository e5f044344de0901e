/* acl_user: users, their selectors and the rules that change them, the
 * command categories, and the textual forms of all of these (ACL LIST,
 * GETUSER, the aclfile).
 *
 * A selector's command permissions are a bitmap indexed by the command's
 * ACL id (cmd_table_init numbers commands, then subcommands). A container
 * command (CONFIG) has a bit of its own and one per subcommand: "+config"
 * sets them all, "+config|get" one; a call is checked against the bit of
 * what runs (the subcommand). Rules are not stored: the rule text of
 * ACL LIST is recomputed from the bitmap the way Redis 7.0 does it (the
 * categories that best cover the bitmap, then single commands), so equal
 * permissions always print the same way. */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "acl/acl.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "pubsub/pubsub.h"
#include "server/server.h"

#define ACL_USER_SANITIZE (1u << 3)

/* ---- categories ---- */

/* Redis's order: ACL CAT lists them so, and the rule description tries
 * them so. */
static const char *const categories[] = {
    "keyspace", "read",   "write",       "set",       "sortedset",  "list",        "hash",
    "string",   "bitmap", "hyperloglog", "geo",       "stream",     "pubsub",      "admin",
    "fast",     "slow",   "blocking",    "dangerous", "connection", "transaction", "scripting"};
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
static uint32_t command_categories(const command *cmd)
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

static int nids, nwords;

int acl_cmd_ids(void)
{
    return nids;
}

static inline int bit_get(const acl_selector *s, int id)
{
    return (int)((s->bits[id >> 6] >> (id & 63)) & 1);
}

static inline void bit_set(acl_selector *s, int id, int on)
{
    if (on) {
        s->bits[id >> 6] |= 1ull << (id & 63);
    } else {
        s->bits[id >> 6] &= ~(1ull << (id & 63));
    }
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
static void change_perm(acl_selector *s, const command *cmd, int allow)
{
    bit_set(s, cmd->acl_id, allow);
    firstargs_clear(s, cmd->acl_id);
    for (int i = 0; i < cmd->nsubs; i++) {
        bit_set(s, cmd->subs[i].acl_id, allow);
        firstargs_clear(s, cmd->subs[i].acl_id);
    }
}

/* Every command (and subcommand) of a category; a container in the
 * category takes its subcommands along, as in Redis. */
static void change_category(acl_selector *s, uint32_t cat, int allow)
{
    for (int i = 0; i < cmd_count(); i++) {
        command *cmd = cmd_at(i);
        if (cmd->acl_cats & cat) {
            change_perm(s, cmd, allow);
        }
        for (int j = 0; j < cmd->nsubs; j++) {
            if (cmd->subs[j].acl_cats & cat) {
                change_perm(s, &cmd->subs[j], allow);
            }
        }
    }
}

/* ---- selectors ---- */

static void selector_init(acl_selector *s, uint32_t flags)
{
    memset(s, 0, sizeof(*s));
    s->flags = flags;
    s->bits = alloc_zero(sizeof(uint64_t) * (size_t)nwords);
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

static void selector_free(acl_selector *s)
{
    selector_clear_keys(s);
    selector_clear_channels(s);
    firstargs_clear(s, -1);
    alloc_free(s->firstargs);
    alloc_free(s->bits);
}

static void selector_copy(acl_selector *dst, const acl_selector *src)
{
    selector_init(dst, src->flags);
    memcpy(dst->bits, src->bits, sizeof(uint64_t) * (size_t)nwords);
    if (src->nkeys) {
        dst->keys = alloc_mem(sizeof(acl_keypat) * (size_t)src->nkeys);
        for (int i = 0; i < src->nkeys; i++) {
            dst->keys[i].pat = str_dup(src->keys[i].pat);
            dst->keys[i].flags = src->keys[i].flags;
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
        change_perm(s, cmd, 1);
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
        change_perm(s, sub, 1);
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

static int selector_apply(acl_selector *s, const char *op, size_t len, const char **why)
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
        memset(s->bits, 0xff, sizeof(uint64_t) * (size_t)nwords);
        s->flags |= ACL_SEL_ALLCOMMANDS;
        firstargs_clear(s, -1);
    } else if (op_is(op, len, "nocommands") || op_is(op, len, "-@all")) {
        memset(s->bits, 0, sizeof(uint64_t) * (size_t)nwords);
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
        change_category(s, cat, op[0] == '+');
    } else if (op[0] == '+') {
        return allow_command(s, op + 1, len - 1, why);
    } else if (op[0] == '-') {
        command *cmd = cmd_lookup_full(op + 1, len - 1);
        if (!cmd) {
            *why = ERR_UNKNOWN;
            return -1;
        }
        change_perm(s, cmd, 0);
    } else {
        *why = ERR_SYNTAX;
        return -1;
    }
    return 0;
}

/* ---- users ---- */

static acl_user **users;
static int nusers;
acl_user *acl_default_user;

static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen < blen ? -1 : alen > blen);
}

/* The index of name in users, or -(insertion point) - 1. */
static int user_index(const char *name, size_t len)
{
    int lo = 0, hi = nusers - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int c = name_cmp(users[mid]->name, str_len(users[mid]->name), name, len);
        if (c == 0) {
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return -lo - 1;
}

acl_user *acl_user_find(const char *name, size_t len)
{
    int i = user_index(name, len);
    return i >= 0 ? users[i] : NULL;
}

int acl_user_count(void)
{
    return nusers;
}

acl_user *acl_user_at(int i)
{
    return i >= 0 && i < nusers ? users[i] : NULL;
}

/* A user as Redis creates one: off, no passwords, no permissions, and
 * the channels acl-pubsub-default gives (Redis 7's default: none). */
acl_user *acl_user_new_detached(const char *name, size_t len)
{
    acl_user *u = alloc_zero(sizeof(*u));
    u->name = str_new(name, len);
    u->sels = alloc_mem(sizeof(acl_selector));
    selector_init(&u->sels[0], ACL_SEL_ROOT | (server.cfg.acl_pubsub_default ? ACL_SEL_ALLCHANNELS : 0));
    u->nsels = 1;
    return u;
}

static void user_clear(acl_user *u)
{
    for (int i = 0; i < u->npasswords; i++) {
        str_free(u->passwords[i]);
    }
    alloc_free(u->passwords);
    for (int i = 0; i < u->nsels; i++) {
        selector_free(&u->sels[i]);
    }
    alloc_free(u->sels);
    u->passwords = NULL;
    u->npasswords = 0;
    u->sels = NULL;
    u->nsels = 0;
}

void acl_user_free_detached(acl_user *u)
{
    if (!u) {
        return;
    }
    user_clear(u);
    str_free(u->name);
    alloc_free(u);
}

/* Copies u's rules (not its name) into dst, which must be empty. */
static void user_copy_rules(acl_user *dst, const acl_user *u)
{
    dst->flags = u->flags;
    dst->npasswords = u->npasswords;
    dst->passwords = u->npasswords ? alloc_mem(sizeof(str) * (size_t)u->npasswords) : NULL;
    for (int i = 0; i < u->npasswords; i++) {
        dst->passwords[i] = str_dup(u->passwords[i]);
    }
    dst->nsels = u->nsels;
    dst->sels = alloc_mem(sizeof(acl_selector) * (size_t)u->nsels);
    for (int i = 0; i < u->nsels; i++) {
        selector_copy(&dst->sels[i], &u->sels[i]);
    }
    dst->allperm = u->allperm;
}

/* Moves src's rules into dst (dst's old rules are freed), src is left
 * without rules. */
static void user_move_rules(acl_user *dst, acl_user *src)
{
    user_clear(dst);
    dst->flags = src->flags;
    dst->passwords = src->passwords;
    dst->npasswords = src->npasswords;
    dst->sels = src->sels;
    dst->nsels = src->nsels;
    dst->allperm = src->allperm;
    src->passwords = NULL;
    src->npasswords = 0;
    src->sels = NULL;
    src->nsels = 0;
}

static void update_allperm(acl_user *u)
{
    const acl_selector *s = &u->sels[0];
    int all = (s->flags & ACL_SEL_ALLKEYS) && (s->flags & ACL_SEL_ALLCHANNELS);
    for (int i = 0; all && i < nids; i++) {
        all = bit_get(s, i);
    }
    u->allperm = all;
}

static void registry_insert(acl_user *u)
{
    int i = user_index(u->name, str_len(u->name));
    if (i >= 0) {
        return;
    }
    i = -i - 1;
    users = alloc_resize(users, sizeof(acl_user *) * (size_t)(nusers + 1));
    memmove(users + i + 1, users + i, sizeof(acl_user *) * (size_t)(nusers - i));
    users[i] = u;
    nusers++;
}

void acl_user_adopt(acl_user *u)
{
    acl_user *old = acl_user_find(u->name, str_len(u->name));
    if (!old) {
        registry_insert(u);
        return;
    }
    user_move_rules(old, u);
    acl_user_free_detached(u);
}

acl_user *acl_user_get_or_create(const char *name, size_t len, int *created)
{
    acl_user *u = acl_user_find(name, len);
    if (created) {
        *created = u == NULL;
    }
    if (!u) {
        u = acl_user_new_detached(name, len);
        registry_insert(u);
    }
    return u;
}

void acl_hash_password(const char *p, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(p, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        PANIC("SHA-256 failed");
    }
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[i * 2] = hex[md[i] >> 4];
        out[i * 2 + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

static int valid_hash(const char *p, size_t len)
{
    if (len != 64) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

static int find_password(const acl_user *u, const char *hash)
{
    for (int i = 0; i < u->npasswords; i++) {
        if (memcmp(u->passwords[i], hash, 64) == 0) {
            return i;
        }
    }
    return -1;
}

/* Splits the inside of "( ... )" into rules as Redis's sdssplitargs
 * would, and applies them to a new selector. */
static int add_selector(acl_user *u, const char *op, size_t len, const char **why)
{
    acl_selector s;
    selector_init(&s, 0);
    str args = NULL;
    size_t *off = NULL, *lens = NULL, cap = 0;
    long n = resp_split_args(op + 1, len - 2, &args, &off, &lens, &cap);
    int rc = n < 0 ? -1 : 0;
    if (n < 0) {
        *why = ERR_SYNTAX;
    }
    for (long i = 0; i < n && rc == 0; i++) {
        rc = selector_apply(&s, args + off[i], lens[i], why);
    }
    str_free(args);
    alloc_free(off);
    alloc_free(lens);
    if (rc < 0) {
        selector_free(&s);
        return -1;
    }
    u->sels = alloc_resize(u->sels, sizeof(acl_selector) * (size_t)(u->nsels + 1));
    u->sels[u->nsels++] = s;
    return 0;
}

int acl_user_apply(acl_user *u, const char *op, size_t len, const char **why)
{
    if (len == 0) {
        return 0;
    }
    if (op_is(op, len, "on")) {
        u->flags |= ACL_USER_ON;
    } else if (op_is(op, len, "off")) {
        u->flags &= ~ACL_USER_ON;
    } else if (op_is(op, len, "skip-sanitize-payload")) {
        u->flags = (u->flags | ACL_USER_SKIP_SANITIZE) & ~ACL_USER_SANITIZE;
    } else if (op_is(op, len, "sanitize-payload")) {
        u->flags = (u->flags | ACL_USER_SANITIZE) & ~ACL_USER_SKIP_SANITIZE;
    } else if (op_is(op, len, "nopass") || op_is(op, len, "resetpass")) {
        for (int i = 0; i < u->npasswords; i++) {
            str_free(u->passwords[i]);
        }
        u->npasswords = 0;
        if (op_is(op, len, "nopass")) {
            u->flags |= ACL_USER_NOPASS;
        } else {
            u->flags &= ~ACL_USER_NOPASS;
        }
    } else if (op[0] == '>' || op[0] == '#' || op[0] == '<' || op[0] == '!') {
        char hash[65];
        if (op[0] == '>' || op[0] == '<') {
            acl_hash_password(op + 1, len - 1, hash);
        } else if (!valid_hash(op + 1, len - 1)) {
            *why = "The password hash must be exactly 64 characters and contain only lowercase hexadecimal "
                   "characters";
            return -1;
        } else {
            memcpy(hash, op + 1, 64);
            hash[64] = '\0';
        }
        int at = find_password(u, hash);
        if (op[0] == '>' || op[0] == '#') {
            if (at < 0) {
                u->passwords = alloc_resize(u->passwords, sizeof(str) * (size_t)(u->npasswords + 1));
                u->passwords[u->npasswords++] = str_new(hash, 64);
            }
            u->flags &= ~ACL_USER_NOPASS;
        } else {
            if (at < 0) {
                *why = "The password you are trying to remove from the user does not exist";
                return -1;
            }
            str_free(u->passwords[at]);
            memmove(u->passwords + at, u->passwords + at + 1, sizeof(str) * (size_t)(u->npasswords - at - 1));
            u->npasswords--;
        }
    } else if (op[0] == '(' && op[len - 1] == ')') {
        if (add_selector(u, op, len, why) < 0) {
            return -1;
        }
    } else if (op_is(op, len, "clearselectors")) {
        for (int i = 1; i < u->nsels; i++) {
            selector_free(&u->sels[i]);
        }
        u->nsels = 1;
    } else if (op_is(op, len, "reset")) {
        const char *ignored;
        static const char *const steps[] = {"resetpass",        "resetkeys",      "resetchannels", "off",
                                            "sanitize-payload", "clearselectors", "-@all"};
        for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
            acl_user_apply(u, steps[i], strlen(steps[i]), &ignored);
        }
        if (server.cfg.acl_pubsub_default) {
            acl_user_apply(u, "allchannels", 11, &ignored);
        }
    } else {
        if (selector_apply(&u->sels[0], op, len, why) < 0) {
            return -1;
        }
    }
    update_allperm(u);
    return 0;
}

int acl_user_apply_all(acl_user *u, const sv *rules, int n, char *err, size_t errlen)
{
    acl_user tmp = {0};
    user_copy_rules(&tmp, u);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const char *op = rules[i].ptr;
        size_t len = rules[i].len;
        str merged = NULL;
        /* A selector split over several arguments ("(+get", "~x)") is
         * joined back with spaces, as Redis joins it. */
        if (len && op[0] == '(' && op[len - 1] != ')') {
            merged = str_new(op, len);
            int j = i + 1;
            for (; j < n; j++) {
                merged = str_append(merged, " ", 1);
                merged = str_append(merged, rules[j].ptr, rules[j].len);
                if (rules[j].len && rules[j].ptr[rules[j].len - 1] == ')') {
                    break;
                }
            }
            if (j == n) {
                snprintf(err, errlen, "Unmatched parenthesis in acl selector starting at '%.*s'.", (int)len, op);
                str_free(merged);
                rc = -1;
                break;
            }
            i = j;
            op = merged;
            len = str_len(merged);
        }
        const char *why = ERR_SYNTAX;
        if (acl_user_apply(&tmp, op, len, &why) < 0) {
            snprintf(err, errlen, "Error in ACL SETUSER modifier '%.*s': %s", (int)(len > 256 ? 256 : len), op, why);
            rc = -1;
        }
        str_free(merged);
    }
    if (rc == 0) {
        user_move_rules(u, &tmp);
    }
    user_clear(&tmp);
    return rc;
}

static int channel_revoked(sv name, void *u)
{
    return !acl_check_channel(u, name, 0);
}

static int pattern_revoked(sv name, void *u)
{
    return !acl_check_channel(u, name, 1);
}

/* Redis 7 closes the connections of u whose subscriptions its channel
 * rules no longer allow (after SETUSER or LOAD). */
void acl_kill_revoked_subscribers(acl_user *u)
{
    for (client *c = server.clients; c; c = c->next) {
        if (c->user != u || !c->pstate) {
            continue;
        }
        if (pubsub_client_any(c, PUBSUB_CHANNEL, channel_revoked, u) ||
            pubsub_client_any(c, PUBSUB_SHARD, channel_revoked, u) ||
            pubsub_client_any(c, PUBSUB_PATTERN, pattern_revoked, u)) {
            if (c == server.current_client) {
                c->flags |= CLIENT_CLOSE_AFTER_REPLY;
            } else {
                client_close_async(c);
            }
        }
    }
}

void acl_kill_clients_of(acl_user *u)
{
    for (client *c = server.clients; c; c = c->next) {
        if (c->user != u) {
            continue;
        }
        c->user = acl_default_user;
        c->authenticated = 0;
        if (c == server.current_client) {
            c->flags |= CLIENT_CLOSE_AFTER_REPLY; /* it gets DELUSER's reply first */
        } else {
            client_close_async(c);
        }
    }
}

void acl_user_delete(acl_user *u)
{
    if (u == acl_default_user) {
        return;
    }
    int i = user_index(u->name, str_len(u->name));
    if (i < 0) {
        return;
    }
    memmove(users + i, users + i + 1, sizeof(acl_user *) * (size_t)(nusers - i - 1));
    nusers--;
    acl_kill_clients_of(u);
    acl_user_free_detached(u);
}

void acl_users_replace(acl_user **set, int n)
{
    acl_user *newdef = NULL;
    for (int i = 0; i < n; i++) {
        if (str_len(set[i]->name) == 7 && memcmp(set[i]->name, "default", 7) == 0) {
            newdef = set[i];
        }
    }
    /* Every other user goes, with its connections (Redis 7.0 does the
     * same on ACL LOAD); the default user keeps its object. */
    for (int i = nusers - 1; i >= 0; i--) {
        if (users[i] != acl_default_user) {
            acl_user *old = users[i];
            acl_kill_clients_of(old);
            acl_user_free_detached(old);
        }
    }
    nusers = 0;
    if (newdef) {
        user_move_rules(acl_default_user, newdef);
        acl_user_free_detached(newdef);
    } else {
        /* A file without a default user gets the usual one. */
        const char *why;
        acl_user_apply(acl_default_user, "reset", 5, &why);
        static const char *const steps[] = {"+@all", "~*", "&*", "on", "nopass"};
        for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
            acl_user_apply(acl_default_user, steps[k], strlen(steps[k]), &why);
        }
        acl_default_user->flags &= ~(ACL_USER_SANITIZE | ACL_USER_SKIP_SANITIZE);
    }
    registry_insert(acl_default_user);
    for (int i = 0; i < n; i++) {
        if (set[i] != newdef) {
            registry_insert(set[i]);
        }
    }
    acl_kill_revoked_subscribers(acl_default_user);
}

acl_user *acl_check_credentials(sv name, sv pass)
{
    acl_user *u = acl_user_find(name.ptr, name.len);
    if (!u || !(u->flags & ACL_USER_ON)) {
        return NULL;
    }
    if (u->flags & ACL_USER_NOPASS) {
        return u;
    }
    char hash[65];
    acl_hash_password(pass.ptr, pass.len, hash);
    for (int i = 0; i < u->npasswords; i++) {
        if (CRYPTO_memcmp(u->passwords[i], hash, 64) == 0) {
            return u;
        }
    }
    return NULL;
}

void acl_apply_requirepass(void)
{
    if (!acl_default_user) {
        return; /* acl_init applies it */
    }
    const char *why;
    acl_user_apply(acl_default_user, "resetpass", 9, &why);
    const char *pw = server.cfg.requirepass;
    if (pw && pw[0]) {
        str op = str_new(">", 1);
        op = str_append_cstr(op, pw);
        acl_user_apply(acl_default_user, op, str_len(op), &why);
        str_free(op);
    } else {
        acl_user_apply(acl_default_user, "nopass", 6, &why);
    }
}

void acl_check_init(void);

void acl_init(void)
{
    nids = cmd_total();
    nwords = (nids + 63) / 64;
    for (int i = 0; i < nids; i++) {
        command *cmd = cmd_by_id(i);
        cmd->acl_cats = command_categories(cmd);
    }
    acl_check_init();
    acl_default_user = acl_user_new_detached("default", 7);
    static const char *const steps[] = {"+@all", "~*", "&*", "on", "nopass"};
    const char *why;
    for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
        acl_user_apply(acl_default_user, steps[k], strlen(steps[k]), &why);
    }
    registry_insert(acl_default_user);
    acl_apply_requirepass();
}

/* ---- descriptions ---- */

static void count_category(const acl_selector *s, uint32_t cat, long *on, long *off)
{
    *on = *off = 0;
    for (int i = 0; i < nids; i++) {
        if (cmd_by_id(i)->acl_cats & cat) {
            if (bit_get(s, i)) {
                (*on)++;
            } else {
                (*off)++;
            }
        }
    }
}

static str describe_singles(str out, const acl_selector *s, acl_selector *fake, command *cmds, int n, int stride)
{
    for (int i = 0; i < n; i++) {
        command *cmd = stride ? &cmds[i] : cmd_at(i);
        int ub = bit_get(s, cmd->acl_id), fb = bit_get(fake, cmd->acl_id);
        if (ub != fb) {
            out = str_printf(out, "%c%s ", ub ? '+' : '-', acl_cmd_fullname(cmd));
            change_perm(fake, cmd, ub);
        }
        if (cmd->nsubs) {
            out = describe_singles(out, s, fake, cmd->subs, cmd->nsubs, 1);
        }
        if (!ub) {
            for (int j = 0; j < s->nfirstargs; j++) {
                if (s->firstargs[j].id == cmd->acl_id) {
                    out = str_printf(out, "+%s|%s ", acl_cmd_fullname(cmd), s->firstargs[j].arg);
                }
            }
        }
    }
    return out;
}

str acl_selector_describe_commands(str out, const acl_selector *s)
{
    int additive = !(s->flags & ACL_SEL_ALLCOMMANDS);
    acl_selector fake, temp;
    selector_init(&fake, 0);
    selector_init(&temp, 0);
    memcpy(temp.bits, s->bits, sizeof(uint64_t) * (size_t)nwords);
    const char *why;
    selector_apply(&fake, additive ? "-@all" : "+@all", 5, &why);
    size_t start = str_len(out);
    out = str_append_cstr(out, additive ? "-@all " : "+@all ");
    /* Greedy: the category that matches the most commands with the fewest
     * exceptions, until none covers more than it gets wrong. */
    char applied[32] = {0};
    for (;;) {
        int best = -1;
        long mindiff = 1L << 30, maxsame = 0;
        for (int j = 0; j < NCATS; j++) {
            if (applied[j]) {
                continue;
            }
            long on, off;
            count_category(&temp, 1u << j, &on, &off);
            long diff = additive ? off : on, same = additive ? on : off;
            if (same > diff && (diff < mindiff || (diff == mindiff && same > maxsame))) {
                best = j;
                mindiff = diff;
                maxsame = same;
            }
        }
        if (best < 0) {
            break;
        }
        change_category(&fake, 1u << best, additive);
        change_category(&temp, 1u << best, !additive);
        out = str_printf(out, "%c@%s ", additive ? '+' : '-', categories[best]);
        applied[best] = 1;
    }
    out = describe_singles(out, s, &fake, NULL, cmd_count(), 0);
    if (str_len(out) > start) {
        str_set_len(out, str_len(out) - 1); /* the last space */
    }
    selector_free(&fake);
    selector_free(&temp);
    return out;
}

static str keypat_describe(str out, const acl_keypat *k)
{
    if (k->flags == (ACL_KEY_READ | ACL_KEY_WRITE)) {
        out = str_append(out, "~", 1);
    } else if (k->flags == ACL_KEY_READ) {
        out = str_append(out, "%R~", 3);
    } else if (k->flags == ACL_KEY_WRITE) {
        out = str_append(out, "%W~", 3);
    }
    return str_append(out, k->pat, str_len(k->pat));
}

str acl_selector_describe_keys(str out, const acl_selector *s)
{
    if (s->flags & ACL_SEL_ALLKEYS) {
        return str_append(out, "~*", 2);
    }
    for (int i = 0; i < s->nkeys; i++) {
        if (i) {
            out = str_append(out, " ", 1);
        }
        out = keypat_describe(out, &s->keys[i]);
    }
    return out;
}

str acl_selector_describe_channels(str out, const acl_selector *s)
{
    if (s->flags & ACL_SEL_ALLCHANNELS) {
        return str_append(out, "&*", 2);
    }
    for (int i = 0; i < s->nchannels; i++) {
        out = str_printf(out, "%s&", i ? " " : "");
        out = str_append(out, s->channels[i], str_len(s->channels[i]));
    }
    return out;
}

static str selector_describe(str out, const acl_selector *s)
{
    if (s->flags & ACL_SEL_ALLKEYS) {
        out = str_append(out, "~* ", 3);
    } else {
        for (int i = 0; i < s->nkeys; i++) {
            out = keypat_describe(out, &s->keys[i]);
            out = str_append(out, " ", 1);
        }
    }
    if (s->flags & ACL_SEL_ALLCHANNELS) {
        out = str_append(out, "&* ", 3);
    } else {
        out = str_append_cstr(out, "resetchannels ");
        for (int i = 0; i < s->nchannels; i++) {
            out = str_append(out, "&", 1);
            out = str_append(out, s->channels[i], str_len(s->channels[i]));
            out = str_append(out, " ", 1);
        }
    }
    return acl_selector_describe_commands(out, s);
}

str acl_user_describe(str out, const acl_user *u)
{
    out = str_append_cstr(out, "user ");
    out = str_append(out, u->name, str_len(u->name));
    out = str_append_cstr(out, (u->flags & ACL_USER_ON) ? " on " : " off ");
    if (u->flags & ACL_USER_NOPASS) {
        out = str_append_cstr(out, "nopass ");
    }
    if (u->flags & ACL_USER_SKIP_SANITIZE) {
        out = str_append_cstr(out, "skip-sanitize-payload ");
    }
    if (u->flags & ACL_USER_SANITIZE) {
        out = str_append_cstr(out, "sanitize-payload ");
    }
    for (int i = 0; i < u->npasswords; i++) {
        out = str_append(out, "#", 1);
        out = str_append(out, u->passwords[i], 64);
        out = str_append(out, " ", 1);
    }
    for (int i = 0; i < u->nsels; i++) {
        if (i) {
            out = str_append(out, " (", 2);
        }
        out = selector_describe(out, &u->sels[i]);
        if (i) {
            out = str_append(out, ")", 1);
        }
    }
    return out;
}

/* GETUSER's flags, in Redis's order. */
int acl_user_flag_names(const acl_user *u, const char **out)
{
    int n = 0;
    out[n++] = (u->flags & ACL_USER_ON) ? "on" : "off";
    if (u->flags & ACL_USER_NOPASS) {
        out[n++] = "nopass";
    }
    if (u->flags & ACL_USER_SKIP_SANITIZE) {
        out[n++] = "skip-sanitize-payload";
    }
    if (u->flags & ACL_USER_SANITIZE) {
        out[n++] = "sanitize-payload";
    }
    return n;
}
