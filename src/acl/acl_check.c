/* acl_check: may this user run this command on these keys and channels?
 *
 * The default user with every permission costs one flag test (allperm).
 * Otherwise each selector is tried in turn: the command's bit (or an
 * allowed first argument), then every key against the key patterns with
 * the access the command needs, then the channels. Nothing is allocated:
 * keys are walked in place (first/last/step) or through a finder writing
 * argv positions into a buffer that only ever grows.
 *
 * Key access. Redis 7 reads it from per-command key specs; Keel's table has
 * no key specs, so access_table below restates what Redis 7.0's key specs
 * say (checked against its COMMAND output): a CMD_WRITE command writes its
 * keys (%W), anything else reads them (%R); the write commands that also
 * return what they change (INCR, LPOP, GETDEL...; Redis's ACCESS flag) need
 * both; commands with a source and a destination read (or read and write)
 * the source and write the destination (LMOVE, SMOVE, RENAME, COPY, *STORE,
 * SORT ... STORE, GEORADIUS ... STORE); SET needs read access only with GET;
 * commands that only look at a key's existence, type or size (EXISTS, TYPE,
 * STRLEN, LLEN...) need any matching pattern. Shard channels (SSUBSCRIBE,
 * SPUBLISH) are channels, not keys. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "acl/acl.h"
#include "base/alloc.h"
#include "base/util.h"
#include "server/server.h"

enum {
    KA_DEFAULT = 0,  /* write command: W; otherwise R */
    KA_RW,           /* every key read and written */
    KA_SRC_RW_DST_W, /* first key read and written, the rest written */
    KA_SRC_R_DST_W,  /* first key read, the rest written */
    KA_DST_W_SRC_R,  /* first key written, the rest read */
    KA_SET,          /* W, and R too with the GET option */
    KA_NONE,         /* no keys for ACL purposes */
    KA_READ,         /* every key read (whatever the command's flags) */
    KA_META,         /* any matching pattern: metadata, not the value */
    KA_DST_RW_SRC_R, /* first key read and written, the rest read */
};

static const struct {
    const char *name;
    int mode;
} access_table[] = {
    {"incr", KA_RW},
    {"incrby", KA_RW},
    {"incrbyfloat", KA_RW},
    {"decr", KA_RW},
    {"decrby", KA_RW},
    {"getset", KA_RW},
    {"getdel", KA_RW},
    {"getex", KA_RW},
    {"lpop", KA_RW},
    {"rpop", KA_RW},
    {"blpop", KA_RW},
    {"brpop", KA_RW},
    {"lmpop", KA_RW},
    {"blmpop", KA_RW},
    {"spop", KA_RW},
    {"zpopmin", KA_RW},
    {"zpopmax", KA_RW},
    {"bzpopmin", KA_RW},
    {"bzpopmax", KA_RW},
    {"zmpop", KA_RW},
    {"bzmpop", KA_RW},
    {"zincrby", KA_RW},
    {"hincrby", KA_RW},
    {"hincrbyfloat", KA_RW},
    {"bitfield", KA_RW},
    {"setbit", KA_RW},
    {"xreadgroup", KA_READ},
    {"pfdebug", KA_READ},
    {"move", KA_RW},
    {"pfmerge", KA_DST_RW_SRC_R},
    {"eval", KA_RW},
    {"evalsha", KA_RW},
    {"fcall", KA_RW},
    {"lmove", KA_SRC_RW_DST_W},
    {"blmove", KA_SRC_RW_DST_W},
    {"rpoplpush", KA_SRC_RW_DST_W},
    {"brpoplpush", KA_SRC_RW_DST_W},
    {"smove", KA_SRC_RW_DST_W},
    {"rename", KA_SRC_RW_DST_W},
    {"renamenx", KA_SRC_RW_DST_W},
    {"copy", KA_SRC_R_DST_W},
    {"sort", KA_SRC_R_DST_W},
    {"georadius", KA_SRC_R_DST_W},
    {"georadiusbymember", KA_SRC_R_DST_W},
    {"sunionstore", KA_DST_W_SRC_R},
    {"sinterstore", KA_DST_W_SRC_R},
    {"sdiffstore", KA_DST_W_SRC_R},
    {"zunionstore", KA_DST_W_SRC_R},
    {"zinterstore", KA_DST_W_SRC_R},
    {"zdiffstore", KA_DST_W_SRC_R},
    {"zrangestore", KA_DST_W_SRC_R},
    {"geosearchstore", KA_DST_W_SRC_R},
    {"bitop", KA_DST_W_SRC_R},
    {"set", KA_SET},
    {"ssubscribe", KA_NONE},
    {"sunsubscribe", KA_NONE},
    {"spublish", KA_NONE},
    /* What Redis's key specs mark with no access at all (the key's
     * existence, type, length, encoding): any pattern that matches. */
    {"exists", KA_META},
    {"hexists", KA_META},
    {"hlen", KA_META},
    {"hstrlen", KA_META},
    {"llen", KA_META},
    {"memory|usage", KA_META},
    {"object|encoding", KA_META},
    {"object|freq", KA_META},
    {"object|idletime", KA_META},
    {"object|refcount", KA_META},
    {"scard", KA_META},
    {"sismember", KA_META},
    {"strlen", KA_META},
    {"touch", KA_META},
    {"type", KA_META},
    {"watch", KA_META},
    {"xlen", KA_META},
    {"zcard", KA_META},
};

void acl_check_init(void)
{
    int n = cmd_total();
    for (int id = 0; id < n; id++) {
        command *cmd = cmd_by_id(id);
        cmd->key_access = KA_DEFAULT;
        for (size_t i = 0; i < sizeof(access_table) / sizeof(access_table[0]); i++) {
            if (strcmp(access_table[i].name, cmd->name) == 0) {
                cmd->key_access = access_table[i].mode;
            }
        }
    }
}

/* ---- names ---- */

const char *acl_cmd_fullname(const command *cmd)
{
    return cmd->name; /* the table's names are lower case, "config|get" */
}

/* ---- checks ---- */

static int key_needs(const command *cmd, int k, const sv *argv, int argc)
{
    switch (cmd->key_access) {
    case KA_RW: return ACL_KEY_READ | ACL_KEY_WRITE;
    case KA_SRC_RW_DST_W: return k == 0 ? ACL_KEY_READ | ACL_KEY_WRITE : ACL_KEY_WRITE;
    case KA_SRC_R_DST_W: return k == 0 ? ACL_KEY_READ : ACL_KEY_WRITE;
    case KA_DST_W_SRC_R: return k == 0 ? ACL_KEY_WRITE : ACL_KEY_READ;
    case KA_DST_RW_SRC_R: return k == 0 ? ACL_KEY_READ | ACL_KEY_WRITE : ACL_KEY_READ;
    case KA_READ: return ACL_KEY_READ;
    case KA_META: return 0;
    case KA_SET:
        for (int i = 3; i < argc; i++) {
            if (argv[i].len == 3 && strncasecmp(argv[i].ptr, "get", 3) == 0) {
                return ACL_KEY_READ | ACL_KEY_WRITE;
            }
        }
        return ACL_KEY_WRITE;
    default: return (cmd->flags & CMD_WRITE) ? ACL_KEY_WRITE : ACL_KEY_READ;
    }
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

/* The argv positions of cmd's keys. The buffer grows to the largest
 * argc seen and is kept, so a check allocates nothing in steady state. */
static int *keybuf;
static int keybuf_cap;

static int command_keys(const command *cmd, const sv *argv, int argc, int **pos)
{
    if (cmd->key_access == KA_NONE) {
        return 0;
    }
    cmd_keys_fn fn = cmd->keys;
    if (!fn && cmd->parent) {
        fn = cmd->parent->keys;
    }
    if (argc > keybuf_cap) {
        keybuf_cap = argc < 64 ? 64 : argc;
        keybuf = alloc_resize(keybuf, sizeof(int) * (size_t)keybuf_cap);
    }
    *pos = keybuf;
    if (fn) {
        return fn(argv, argc, keybuf, argc);
    }
    if (cmd->first_key <= 0 || cmd->key_step <= 0) {
        return 0;
    }
    int last = cmd->last_key < 0 ? argc + cmd->last_key : cmd->last_key;
    int n = 0;
    for (int i = cmd->first_key; i <= last && i < argc; i += cmd->key_step) {
        keybuf[n++] = i;
    }
    return n;
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
        int *pos;
        int n = command_keys(cmd, argv, argc, &pos);
        for (int k = 0; k < n; k++) {
            if (!key_allowed(s, argv[pos[k]], key_needs(cmd, k, argv, argc))) {
                *errpos = pos[k];
                return ACL_DENIED_KEY;
            }
        }
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

void acl_deny_reply(client *c, const command *cmd, int denial, int pos, int context)
{
    char buf[160];
    sv object = acl_denial_object(cmd, c->argv, denial, pos, buf, sizeof(buf));
    acl_log_add(c, denial, context, object, (sv){c->user->name, str_len(c->user->name)});
    if (denial == ACL_DENIED_CMD) {
        reply_errf(c, "NOPERM this user has no permissions to run the '%s' command", acl_cmd_fullname(cmd));
    } else if (denial == ACL_DENIED_KEY) {
        reply_err(c, "NOPERM this user has no permissions to access one of the keys used as arguments");
    } else {
        reply_err(c, "NOPERM this user has no permissions to access one of the channels used as arguments");
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
