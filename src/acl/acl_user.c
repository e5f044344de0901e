/* acl_user: users (flags, SHA-256 passwords, selectors), the registry of
 * users in name order, the rules that apply to a user rather than to a
 * selector, authentication, and what follows a change of users (closing
 * connections). */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "acl/acl_int.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "pubsub/pubsub.h"
#include "server/server.h"

/* ---- users ---- */

static int op_is(const char *op, size_t len, const char *lit)
{
    return strlen(lit) == len && strncasecmp(op, lit, len) == 0;
}

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
    acl_selector_init(&u->sels[0], ACL_SEL_ROOT | (server.cfg.acl_pubsub_default ? ACL_SEL_ALLCHANNELS : 0));
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
        acl_selector_free(&u->sels[i]);
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
        acl_selector_copy(&dst->sels[i], &u->sels[i]);
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
    /* Ids no command holds yet (room for modules' commands) do not count:
     * a user with every command has the ones a module adds later too. */
    for (int i = 0; all && i < acl_nids; i++) {
        all = acl_bit_get(s, i) || !cmd_by_id(i);
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
    acl_selector_init(&s, 0);
    str args = NULL;
    size_t *off = NULL, *lens = NULL, cap = 0;
    long n = resp_split_args(op + 1, len - 2, &args, &off, &lens, &cap);
    int rc = n < 0 ? -1 : 0;
    if (n < 0) {
        *why = "Syntax error";
    }
    for (long i = 0; i < n && rc == 0; i++) {
        rc = acl_selector_apply(&s, args + off[i], lens[i], why);
    }
    str_free(args);
    alloc_free(off);
    alloc_free(lens);
    if (rc < 0) {
        acl_selector_free(&s);
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
            acl_selector_free(&u->sels[i]);
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
        if (acl_selector_apply(&u->sels[0], op, len, why) < 0) {
            return -1;
        }
    }
    update_allperm(u);
    return 0;
}

/* Redis joins a selector split over several arguments before it applies
 * any rule, so an unmatched "(" is reported before any other bad rule. */
static int selectors_closed(const sv *rules, int n, char *err, size_t errlen)
{
    for (int i = 0; i < n; i++) {
        sv r = rules[i];
        if (r.len && r.ptr[0] == '(' && r.ptr[r.len - 1] != ')') {
            int j = i + 1;
            while (j < n && !(rules[j].len && rules[j].ptr[rules[j].len - 1] == ')')) {
                j++;
            }
            if (j == n) {
                snprintf(err, errlen, "Unmatched parenthesis in acl selector starting at '%.*s'.", (int)r.len, r.ptr);
                return 0;
            }
            i = j;
        }
    }
    return 1;
}

int acl_user_apply_all(acl_user *u, const sv *rules, int n, char *err, size_t errlen)
{
    if (!selectors_closed(rules, n, err, errlen)) {
        return -1;
    }
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
        const char *why = "Syntax error";
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
            client_close_soon(c);
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
        client_close_soon(c); /* the one served gets DELUSER's reply first */
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
    str pw = server.cfg.requirepass; /* may hold a NUL */
    if (pw && str_len(pw)) {
        str op = str_new(">", 1);
        op = str_append(op, pw, str_len(pw));
        acl_user_apply(acl_default_user, op, str_len(op), &why);
        str_free(op);
    } else {
        acl_user_apply(acl_default_user, "nopass", 6, &why);
    }
}

void acl_command_added(command *cmd)
{
    cmd->acl_cats = acl_command_categories(cmd);
}

void acl_init(void)
{
    acl_nids = cmd_total();
    acl_nwords = (acl_nids + 63) / 64;
    for (int i = 0; i < acl_nids; i++) {
        command *cmd = cmd_by_id(i);
        if (cmd) {
            cmd->acl_cats = acl_command_categories(cmd);
        }
    }
    acl_default_user = acl_user_new_detached("default", 7);
    static const char *const steps[] = {"+@all", "~*", "&*", "on", "nopass"};
    const char *why;
    for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
        acl_user_apply(acl_default_user, steps[k], strlen(steps[k]), &why);
    }
    registry_insert(acl_default_user);
    acl_apply_requirepass();
}
