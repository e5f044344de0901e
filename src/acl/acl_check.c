/* acl_check: may this user run this command on these keys and channels?
 *
 * The default user with every permission costs one flag test (allperm).
 * Otherwise each selector is tried in turn: the command's bit (or an
 * allowed first argument), then every key against the key patterns with
 * the access the command needs, then the channels. Nothing is allocated:
 * keys_find (src/cmd/keys.c) writes them into a buffer that only grows.
 *
 * Key access comes from the key spec that found the key (the command
 * table's SPEC lines, or a finder where the arguments decide, as SET ...
 * GET), as Redis 7 derives it: ACCESS (the command returns or depends on
 * the value) needs read permission; INSERT, UPDATE or DELETE need write
 * permission; a key that is only looked at (EXISTS, TYPE, LLEN: no data
 * flag) needs any pattern that matches. NOT_KEY specs (SPUBLISH's shard
 * channel) are channels, not keys. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "acl/acl.h"
#include "base/alloc.h"
#include "base/util.h"
#include "server/server.h"

/* ---- names ---- */

const char *acl_cmd_fullname(const command *cmd)
{
    return cmd->name; /* the table's names are lower case, "config|get" */
}

/* ---- checks ---- */

/* The permission a key needs, from its spec's flags. */
static int key_needs(uint32_t flags)
{
    int need = 0;
    if (flags & KS_ACCESS) {
        need |= ACL_KEY_READ;
    }
    if (flags & (KS_INSERT | KS_UPDATE | KS_DELETE)) {
        need |= ACL_KEY_WRITE;
    }
    return need;
}

int acl_keypat_prefix(const char *pat, size_t len)
{
    if (len == 0 || len > INT_MAX || pat[len - 1] != '*') {
        return -1;
    }
    for (size_t i = 0; i + 1 < len; i++) {
        if (pat[i] == '*' || pat[i] == '?' || pat[i] == '[' || pat[i] == '\\') {
            return -1;
        }
    }
    return (int)(len - 1);
}

static int key_allowed(const acl_selector *s, sv key, int need)
{
    for (int i = 0; i < s->nkeys; i++) {
        const acl_keypat *p = &s->keys[i];
        if ((p->flags & need) != need) {
            continue;
        }
        if (p->prefix >= 0 ? key.len >= (size_t)p->prefix && memcmp(key.ptr, p->pat, (size_t)p->prefix) == 0
                           : util_glob_match(p->pat, str_len(p->pat), key.ptr, key.len, 0)) {
            return 1;
        }
    }
    return 0;
}

/* The keys of a command line. The buffer grows to the largest argc seen
 * and is kept, so a check allocates nothing in steady state. */
static key_ref *keybuf;
static int keybuf_cap;

static int command_keys(const command *cmd, const sv *argv, int argc, key_ref **keys)
{
    if (argc > keybuf_cap) {
        keybuf_cap = argc < 64 ? 64 : argc;
        keybuf = alloc_resize(keybuf, sizeof(key_ref) * (size_t)keybuf_cap);
    }
    *keys = keybuf;
    return keys_find(cmd, argv, argc, keybuf);
}

static int channel_allowed(const acl_selector *s, sv ch, int literal)
{
    if (s->flags & ACL_SEL_ALLCHANNELS) {
        return 1;
    }
    for (int i = 0; i < s->nchannels; i++) {
        str p = s->channels[i];
        if (literal ? (str_len(p) == ch.len && memcmp(p, ch.ptr, ch.len) == 0)
                    : util_glob_match(p, str_len(p), ch.ptr, ch.len, 0)) {
            return 1;
        }
    }
    return 0;
}

/* Which arguments of cmd are channels: 0 none, else from *first on (all
 * of them, or only argv[1] for PUBLISH); *literal for PSUBSCRIBE. */
static int command_channels(const command *cmd, int *first, int *only_one, int *literal)
{
    const char *n = cmd->name;
    *first = 1;
    *only_one = 0;
    *literal = 0;
    if (!strcmp(n, "publish") || !strcmp(n, "spublish")) {
        *only_one = 1;
        return 1;
    }
    if (!strcmp(n, "subscribe") || !strcmp(n, "ssubscribe")) {
        return 1;
    }
    if (!strcmp(n, "psubscribe")) {
        *literal = 1;
        return 1;
    }
    return 0;
}

/* The channels a module command names when asked (getchannels-api), as
 * Redis 7.0 checks them: only those it publishes or subscribes to (leaving
 * one is always allowed), a pattern matched literally as PSUBSCRIBE's. */
static int module_channels_check(const acl_selector *s, const command *cmd, const sv *argv, int argc, int *errpos)
{
    int n = 0;
    key_ref *chans = cmd->channels(cmd, argv, argc, &n);
    int result = ACL_OK;
    for (int i = 0; i < n && result == ACL_OK; i++) {
        if ((chans[i].flags & (CH_PUBLISH | CH_SUBSCRIBE)) &&
            !channel_allowed(s, argv[chans[i].pos], (chans[i].flags & CH_PATTERN) != 0)) {
            *errpos = chans[i].pos;
            result = ACL_DENIED_CHANNEL;
        }
    }
    alloc_free(chans);
    return result;
}

static int selector_check(const acl_selector *s, const command *cmd, const sv *argv, int argc, int *errpos)
{
    int id = cmd->acl_id;
    if (!((s->bits[id >> 6] >> (id & 63)) & 1)) {
        int ok = 0;
        if (argc > 1 && !cmd->parent) {
            for (int i = 0; i < s->nfirstargs && !ok; i++) {
                ok = s->firstargs[i].id == id && str_len(s->firstargs[i].arg) == argv[1].len &&
                     strncasecmp(s->firstargs[i].arg, argv[1].ptr, argv[1].len) == 0;
            }
        }
        if (!ok) {
            *errpos = 0;
            return ACL_DENIED_CMD;
        }
    }
    if (!(s->flags & ACL_SEL_ALLKEYS)) {
        key_ref *keys;
        int n = command_keys(cmd, argv, argc, &keys);
        for (int k = 0; k < n; k++) {
            if (!key_allowed(s, argv[keys[k].pos], key_needs(keys[k].flags))) {
                *errpos = keys[k].pos;
                return ACL_DENIED_KEY;
            }
        }
    }
    if (!(s->flags & ACL_SEL_ALLCHANNELS) && cmd->channels) {
        return module_channels_check(s, cmd, argv, argc, errpos);
    }
    if (!(s->flags & ACL_SEL_ALLCHANNELS)) {
        int first, only_one, literal;
        if (command_channels(cmd, &first, &only_one, &literal)) {
            int last = only_one ? first : argc - 1;
            for (int i = first; i <= last && i < argc; i++) {
                if (!channel_allowed(s, argv[i], literal)) {
                    *errpos = i;
                    return ACL_DENIED_CHANNEL;
                }
            }
        }
    }
    return ACL_OK;
}

int acl_check(const acl_user *u, const command *cmd, const sv *argv, int argc, int *errpos)
{
    /* AUTH, HELLO, QUIT and RESET work for every user, as in Redis: a
     * connection can always change its user or leave. */
    if (u->allperm || (cmd->flags & CMD_NO_AUTH)) {
        return ACL_OK;
    }
    int worst = ACL_OK, worst_pos = -1;
    for (int i = 0; i < u->nsels; i++) {
        int pos = 0;
        int r = selector_check(&u->sels[i], cmd, argv, argc, &pos);
        if (r == ACL_OK) {
            return ACL_OK;
        }
        /* The denial that got furthest is the one to report. */
        if (r > worst || (r == worst && pos > worst_pos)) {
            worst = r;
            worst_pos = pos;
        }
    }
    *errpos = worst_pos;
    return worst;
}

int acl_full_key_access(const acl_user *u, const command *cmd)
{
    if (!u || u->allperm) {
        return 1;
    }
    for (int i = 0; i < u->nsels; i++) {
        const acl_selector *s = &u->sels[i];
        if (!((s->bits[cmd->acl_id >> 6] >> (cmd->acl_id & 63)) & 1)) {
            continue;
        }
        if (s->flags & ACL_SEL_ALLKEYS) {
            return 1;
        }
        for (int k = 0; k < s->nkeys; k++) {
            if ((s->keys[k].flags & ACL_KEY_READ) && str_len(s->keys[k].pat) == 1 && s->keys[k].pat[0] == '*') {
                return 1;
            }
        }
    }
    return 0;
}

int acl_check_key(const acl_user *u, sv key, uint32_t ks_flags)
{
    for (int i = 0; i < u->nsels; i++) {
        const acl_selector *s = &u->sels[i];
        if ((s->flags & ACL_SEL_ALLKEYS) || key_allowed(s, key, key_needs(ks_flags))) {
            return 1;
        }
    }
    return 0;
}

int acl_check_channel(const acl_user *u, sv channel, int literal)
{
    for (int i = 0; i < u->nsels; i++) {
        if (channel_allowed(&u->sels[i], channel, literal)) {
            return 1;
        }
    }
    return 0;
}

sv acl_denial_object(const command *cmd, const sv *argv, int denial, int pos, char *buf, size_t buflen)
{
    if (denial == ACL_DENIED_CMD) {
        snprintf(buf, buflen, "%s", acl_cmd_fullname(cmd));
        return (sv){buf, strlen(buf)};
    }
    return argv[pos];
}

void acl_deny_log(client *c, const command *cmd, int denial, int pos, int context, char *text, size_t len)
{
    char buf[160];
    sv object = acl_denial_object(cmd, c->argv, denial, pos, buf, sizeof(buf));
    acl_log_add(c, denial, context, object, (sv){c->user->name, str_len(c->user->name)});
    if (denial == ACL_DENIED_CMD) {
        snprintf(text, len, "NOPERM this user has no permissions to run the '%s' command", acl_cmd_fullname(cmd));
    } else if (denial == ACL_DENIED_KEY) {
        snprintf(text, len, "NOPERM this user has no permissions to access one of the keys used as arguments");
    } else {
        snprintf(text, len, "NOPERM this user has no permissions to access one of the channels used as arguments");
    }
}

const char *acl_script_error(int denial)
{
    switch (denial) {
    case ACL_DENIED_CMD: return "ERR The user executing the script can't run this command or subcommand";
    case ACL_DENIED_KEY:
        return "ERR The user executing the script can't access at least one of the keys mentioned in the command "
               "arguments";
    default: return "ERR The user executing the script can't publish to the channel mentioned in the command";
    }
}
