/* table: the command table built from the .def files, and lookup by name
 * through a case-insensitive hash map built at start-up. */
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/dict.h"
#include "cmd/cmd.h"

static command table[] = {
#define CMD(fn_, name_, arity_, flags_, first_, last_, step_, acl_, group_, summary_)                                  \
    {name_, fn_, arity_, flags_, first_, last_, step_, acl_, group_, summary_, {0, 0, 0, 0}, NULL, 0},
#include "cmd/table_all.def"
#undef CMD
};

#define TABLE_LEN ((int)(sizeof(table) / sizeof(table[0])))

/* The key finders of movable-key commands, matched to their table entries
 * by handler at start-up (the last entry only keeps the array non-empty). */
static const struct {
    cmd_fn fn;
    cmd_keys_fn keys;
} finders[] = {
#define CMD(fn_, name_, arity_, flags_, first_, last_, step_, acl_, group_, summary_)
#define KEYS(handler_, finder_) {handler_, finder_},
#include "cmd/table_all.def"
#undef KEYS
#undef CMD
    {NULL, NULL}};

static dict by_name;

void cmd_table_init(void)
{
    dict_init(&by_name, &dict_type_entry_nocase);
    for (int i = 0; i < TABLE_LEN; i++) {
        dict_entry *e = dict_entry_new(table[i].name, strlen(table[i].name), &table[i]);
        dict_insert(&by_name, &e->node);
        for (size_t f = 0; finders[f].fn; f++) {
            if (finders[f].fn == table[i].fn) {
                table[i].keys = finders[f].keys;
            }
        }
    }
}

command *cmd_lookup(const char *name, size_t len)
{
    dict_entry *e = dict_entry_find(&by_name, name, len);
    return e ? e->val : NULL;
}

int cmd_count(void)
{
    return TABLE_LEN;
}

command *cmd_at(int i)
{
    return i >= 0 && i < TABLE_LEN ? &table[i] : NULL;
}

int cmd_flag_names(uint32_t flags, const char **out, int max)
{
    static const struct {
        uint32_t flag;
        const char *name;
    } names[] = {{CMD_WRITE, "write"},
                 {CMD_READONLY, "readonly"},
                 {CMD_DENYOOM, "denyoom"},
                 {CMD_ADMIN, "admin"},
                 {CMD_PUBSUB, "pubsub"},
                 {CMD_NOSCRIPT, "noscript"},
                 {CMD_BLOCKING, "blocking"},
                 {CMD_LOADING, "loading"},
                 {CMD_STALE, "stale"},
                 {CMD_SKIP_MONITOR, "skip_monitor"},
                 {CMD_SKIP_SLOWLOG, "skip_slowlog"},
                 {CMD_NO_AUTH, "no_auth"},
                 {CMD_FAST, "fast"},
                 {CMD_MOVABLE_KEYS, "movablekeys"},
                 {CMD_NO_MULTI, "no_multi"},
                 {CMD_ALLOW_BUSY, "allow_busy"},
                 {CMD_MAY_REPLICATE, "may_replicate"}};
    int n = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && n < max; i++) {
        if (flags & names[i].flag) {
            out[n++] = names[i].name;
        }
    }
    return n;
}

/* Subcommand names are letters and dashes (NO-EVICT, MALLOC-STATS). */
static int plausible_sub(const char *s, size_t len)
{
    if (len == 0 || len > 24) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '-')) {
            return 0;
        }
    }
    return 1;
}

cmd_stats *cmd_stats_for(command *cmd, const char *sub, size_t len, int create)
{
    if (!(cmd->flags & CMD_CONTAINER) || !sub || !plausible_sub(sub, len)) {
        return &cmd->st;
    }
    size_t plen = strlen(cmd->name);
    for (int i = 0; i < cmd->nsubs; i++) {
        const char *n = cmd->subs[i].name + plen + 1;
        if (strlen(n) == len && strncasecmp(n, sub, len) == 0) {
            return &cmd->subs[i].st;
        }
    }
    if (!create || cmd->nsubs >= CMD_MAX_SUBS) {
        return &cmd->st;
    }
    cmd->subs = alloc_resize(cmd->subs, sizeof(cmd_sub) * (size_t)(cmd->nsubs + 1));
    cmd_sub *s = &cmd->subs[cmd->nsubs++];
    memset(s, 0, sizeof(*s));
    memcpy(s->name, cmd->name, plen);
    s->name[plen] = '|';
    for (size_t i = 0; i < len; i++) {
        char ch = sub[i];
        s->name[plen + 1 + i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    return &s->st;
}

static void stats_reset(cmd_stats *st)
{
    alloc_free(st->hist);
    memset(st, 0, sizeof(*st));
}

void cmd_stats_reset(void)
{
    for (int i = 0; i < TABLE_LEN; i++) {
        stats_reset(&table[i].st);
        for (int j = 0; j < table[i].nsubs; j++) {
            stats_reset(&table[i].subs[j].st);
        }
    }
}
