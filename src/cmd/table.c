/* table: the command table built from the .def files, and lookup by name
 * through a case-insensitive hash map built at start-up. */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/dict.h"
#include "base/log.h"
#include "cmd/cmd.h"

static command table[] = {
#define CMD(fn_, name_, arity_, flags_, first_, last_, step_, acl_, group_, summary_)                                  \
    {name_, fn_, arity_, flags_, first_, last_, step_, acl_, group_, summary_, {0}, NULL, 0, NULL, NULL, 0, NULL},
#include "cmd/table_all.def"
#undef CMD
};

#define TABLE_LEN ((int)(sizeof(table) / sizeof(table[0])))

/* Subcommands, each container's together in .def order; matched to their
 * container (by handler) at start-up. The group is the container's. */
static command subtable[] = {
#define CMD(fn_, name_, arity_, flags_, first_, last_, step_, acl_, group_, summary_)
#define SUB(fn_, name_, arity_, flags_, first_, last_, step_, acl_, summary_)                                          \
    {name_, fn_, arity_, flags_, first_, last_, step_, acl_, NULL, summary_, {0}, NULL, 0, NULL, NULL, 0, NULL},
#include "cmd/table_all.def"
#undef SUB
#undef CMD
};

#define SUBTABLE_LEN ((int)(sizeof(subtable) / sizeof(subtable[0])))

/* The key specs, each command's together in .def order (SPEC lines), and
 * the finders (KEYS lines); matched to their commands by name at start-up.
 * The last entries only keep the arrays non-empty. */
static const key_spec specs[] = {
#define CMD(fn_, name_, arity_, flags_, first_, last_, step_, acl_, group_, summary_)
#define SPEC(name_, flags_, begin_, find_) {flags_, begin_, find_},
#define SPECN(name_, flags_, begin_, find_, notes_) {flags_, begin_, find_, notes_},
#include "cmd/table_all.def"
#undef SPECN
#undef SPEC
#undef CMD
    {0}};

/* Whose each spec is (a command's specs are one run of specs[]). */
static const char *const spec_names[] = {
#define CMD(fn_, name_, arity_, flags_, first_, last_, step_, acl_, group_, summary_)
#define SPEC(name_, flags_, begin_, find_) name_,
#define SPECN(name_, flags_, begin_, find_, notes_) name_,
#include "cmd/table_all.def"
#undef SPECN
#undef SPEC
#undef CMD
    NULL};

static const struct {
    const char *name;
    cmd_keys_fn keys;
} finders[] = {
#define CMD(fn_, name_, arity_, flags_, first_, last_, step_, acl_, group_, summary_)
#define KEYS(name_, finder_) {name_, finder_},
#include "cmd/table_all.def"
#undef KEYS
#undef CMD
    {NULL, NULL}};

static const struct {
    const char *name;
    const char *tips;
} tip_lines[] = {
#define CMD(fn_, name_, arity_, flags_, first_, last_, step_, acl_, group_, summary_)
#define TIPS(name_, tips_) {name_, tips_},
#include "cmd/table_all.def"
#undef TIPS
#undef CMD
    {NULL, NULL}};

static const struct {
    const char *name;
    cmd_doc doc;
} doc_lines[] = {
#define CMD(fn_, name_, arity_, flags_, first_, last_, step_, acl_, group_, summary_)
#define DOCS(name_, since_, complexity_, args_) {name_, {since_, complexity_, args_, NULL, NULL, NULL}},
#define DOCFLAGS(name_, flags_, deprecated_since_, replaced_by_)                                                       \
    {name_, {NULL, NULL, NULL, flags_, deprecated_since_, replaced_by_}},
#include "cmd/table_all.def"
#undef DOCFLAGS
#undef DOCS
#undef CMD
    {NULL, {0}}};

static dict by_name;

/* Commands added at run time (modules): each keeps its place, and so its
 * ACL id, for good; an unloaded module's are only unnamed (gone). */
static command *extra[CMD_EXTRA_MAX]; /* by ACL id, subcommands too */
static int nextra;
static command *extra_tops[CMD_EXTRA_MAX]; /* the top-level ones, for listings */
static int nextra_tops;

/* Links each container to its run of subcommands. */
static void link_subcommands(void)
{
    for (int i = 0; i < SUBTABLE_LEN; i++) {
        command *s = &subtable[i];
        for (int j = 0; j < TABLE_LEN; j++) {
            command *parent = &table[j];
            if (parent->fn == s->fn && (parent->flags & CMD_CONTAINER)) {
                s->parent = parent;
                s->group = parent->group;
                if (!parent->subs) {
                    parent->subs = s;
                }
                parent->nsubs = (int)(s - parent->subs) + 1;
                break;
            }
        }
    }
}

/* A SPEC, KEYS, TIPS, DOCS or DOCFLAGS line naming no command is a typo in
 * the table. */
static command *named(const char *name)
{
    command *cmd = cmd_lookup_full(name, strlen(name));
    if (!cmd) {
        PANIC("command table: a SPEC, KEYS, TIPS, DOCS or DOCFLAGS line names no command: %s", name);
    }
    return cmd;
}

static void link_key_specs(void)
{
    for (size_t i = 0; spec_names[i]; i++) {
        command *cmd = named(spec_names[i]);
        if (!cmd->specs) {
            cmd->specs = &specs[i];
        } else if (cmd->specs + cmd->nspecs != &specs[i]) {
            PANIC("command table: the SPEC lines of %s are not together", spec_names[i]);
        }
        cmd->nspecs++;
    }
    for (size_t i = 0; finders[i].name; i++) {
        named(finders[i].name)->keys = finders[i].keys;
    }
    for (size_t i = 0; tip_lines[i].name; i++) {
        named(tip_lines[i].name)->tips = tip_lines[i].tips;
    }
    for (size_t i = 0; doc_lines[i].name; i++) {
        cmd_doc *d = &named(doc_lines[i].name)->doc;
        const cmd_doc *line = &doc_lines[i].doc;
        if (line->since) { /* a DOCS line */
            d->since = line->since;
            d->complexity = line->complexity;
            d->args = line->args;
        } else {
            d->flags = line->flags;
            d->deprecated_since = line->deprecated_since;
            d->replaced_by = line->replaced_by;
        }
    }
}

/* Every command line is looked up here, so the name table is a flat
 * open-addressing array at most a quarter full, rebuilt from by_name
 * whenever that changes (start-up and rename-command). A name's first 16
 * bytes are taken as two words with their ASCII letters lower-cased eight at
 * a time; the hash mixes the words and the length, and a probe compares
 * words, so a lookup costs a few dozen instructions whatever the name's case.
 * SipHash guards tables that clients fill; this one is fixed before any
 * client connects, so no input can lengthen a probe. */
typedef struct {
    const char *name; /* NULL: empty */
    size_t len;
    command *cmd;
    uint64_t w[2]; /* name_words of the name */
} name_slot;

static name_slot *slots;
static size_t slot_mask;

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* 0x20 in each byte of x that holds 'A'..'Z', 0 elsewhere: adding a bias to
 * each byte's low seven bits sets its top bit past a bound, without carries
 * between bytes. */
static uint64_t upper_bits(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ULL;
    uint64_t low7 = x & (0x7F * ones);
    uint64_t from_a = low7 + (0x80 - 'A') * ones; /* top bit: >= 'A' */
    uint64_t past_z = low7 + (0x7F - 'Z') * ones; /* top bit: > 'Z' */
    return (from_a & ~past_z & ~x & (0x80 * ones)) >> 2;
}

/* The first 16 bytes of a name, zero-padded, letters lower-cased. */
static void name_words(const char *p, size_t len, uint64_t w[2])
{
    unsigned char b[16] = {0};
    memcpy(b, p, len < 16 ? len : 16);
    for (int i = 0; i < 2; i++) {
        uint64_t x;
        memcpy(&x, b + 8 * i, 8);
        w[i] = x | upper_bits(x);
    }
}

static size_t name_hash(const uint64_t w[2], size_t len)
{
    uint64_t h = (w[0] ^ (w[1] * 0x9E3779B97F4A7C15ULL) ^ len) * 0xFF51AFD7ED558CCDULL;
    return (size_t)(h ^ (h >> 32));
}

/* strncasecmp's answer for names without NULs. */
static int same_name(const char *a, const char *b, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i])) {
            return 0;
        }
    }
    return 1;
}

static void slots_build(void)
{
    size_t n = 16;
    while (n < 4 * dict_size(&by_name)) {
        n *= 2;
    }
    alloc_free(slots);
    slots = alloc_zero(n * sizeof(*slots));
    slot_mask = n - 1;
    dict_iter it;
    dict_iter_init(&it, &by_name);
    for (dnode *d; (d = dict_iter_next(&it)) != NULL;) {
        dict_entry *e = (dict_entry *)d;
        name_slot ns = {e->key, e->keylen, e->val, {0, 0}};
        name_words(e->key, e->keylen, ns.w);
        size_t i = name_hash(ns.w, ns.len) & slot_mask;
        while (slots[i].name) {
            i = (i + 1) & slot_mask;
        }
        slots[i] = ns;
    }
    dict_iter_done(&it);
}

void cmd_table_init(void)
{
    /* Run by rename-command while the config is read, then by main. */
    static int done;
    if (done) {
        return;
    }
    done = 1;
    link_subcommands();
    for (int i = 0; i < TABLE_LEN; i++) {
        table[i].acl_id = i;
    }
    for (int i = 0; i < SUBTABLE_LEN; i++) {
        subtable[i].acl_id = TABLE_LEN + i;
    }
    dict_init(&by_name, &dict_type_entry_nocase);
    for (int i = 0; i < TABLE_LEN; i++) {
        dict_entry *e = dict_entry_new(table[i].name, strlen(table[i].name), &table[i]);
        dict_insert(&by_name, &e->node);
    }
    slots_build();
    link_key_specs();
}

command *cmd_lookup(const char *name, size_t len)
{
    if (!slots) {
        return NULL; /* before cmd_table_init */
    }
    uint64_t w[2];
    name_words(name, len, w);
    for (size_t i = name_hash(w, len) & slot_mask; slots[i].name; i = (i + 1) & slot_mask) {
        const name_slot *ns = &slots[i];
        if (ns->len == len && ns->w[0] == w[0] && ns->w[1] == w[1] &&
            (len <= 16 || same_name(ns->name + 16, name + 16, len - 16))) {
            return ns->cmd;
        }
    }
    return NULL;
}

command *cmd_lookup_original(const char *name, size_t len)
{
    for (int i = 0; i < TABLE_LEN; i++) {
        if (strlen(table[i].name) == len && strncasecmp(table[i].name, name, len) == 0) {
            return &table[i];
        }
    }
    return NULL;
}

/* rename-command: the command keeps its identity (its name in COMMAND
 * INFO and LIST, INFO commandstats and error texts, as in Redis) and is
 * reached by the new name only; an empty new name leaves it unreachable
 * and out of COMMAND's listings. */
int cmd_table_rename(const char *from, size_t flen, const char *to, size_t tlen, const char **err)
{
    cmd_table_init();
    command *cmd = cmd_lookup(from, flen);
    if (!cmd) {
        *err = "No such command in rename-command";
        return -1;
    }
    if (tlen > 0 && cmd_lookup(to, tlen) && !(tlen == flen && strncasecmp(from, to, flen) == 0)) {
        *err = "Target command name already exists";
        return -1;
    }
    dict_entry_remove(&by_name, from, flen, NULL);
    if (tlen > 0) {
        dict_entry *e = dict_entry_new(to, tlen, cmd);
        dict_insert(&by_name, &e->node);
    } else {
        cmd->gone = 1;
    }
    slots_build();
    return 0;
}

command *cmd_lookup_sub(const command *container, const char *sub, size_t len)
{
    size_t plen = strlen(container->name) + 1; /* "config|" */
    for (int i = 0; i < container->nsubs; i++) {
        const char *n = container->subs[i].name + plen;
        if (strlen(n) == len && strncasecmp(n, sub, len) == 0) {
            return &container->subs[i];
        }
    }
    return NULL;
}

command *cmd_lookup_full(const char *name, size_t len)
{
    const char *bar = memchr(name, '|', len);
    if (!bar) {
        return cmd_lookup(name, len);
    }
    /* "config|get" names the subcommand even when CONFIG was renamed (as
     * Redis's COMMAND INFO does). */
    command *parent = cmd_lookup_original(name, (size_t)(bar - name));
    if (!parent) {
        parent = cmd_lookup(name, (size_t)(bar - name)); /* a module's container */
    }
    return parent ? cmd_lookup_sub(parent, bar + 1, len - (size_t)(bar - name) - 1) : NULL;
}

command *cmd_resolve(command *cmd, const sv *argv, int argc)
{
    if (cmd->nsubs == 0 || argc < 2) {
        return cmd;
    }
    return cmd_lookup_sub(cmd, argv[1].ptr, argv[1].len);
}

int cmd_total(void)
{
    return TABLE_LEN + SUBTABLE_LEN + CMD_EXTRA_MAX;
}

command *cmd_by_id(int id)
{
    if (id < 0 || id >= TABLE_LEN + SUBTABLE_LEN + nextra) {
        return NULL;
    }
    if (id >= TABLE_LEN + SUBTABLE_LEN) {
        return extra[id - TABLE_LEN - SUBTABLE_LEN];
    }
    return id < TABLE_LEN ? &table[id] : &subtable[id - TABLE_LEN];
}

int cmd_count(void)
{
    return TABLE_LEN + nextra_tops;
}

command *cmd_at(int i)
{
    if (i >= TABLE_LEN && i < TABLE_LEN + nextra_tops) {
        return extra_tops[i - TABLE_LEN];
    }
    return i >= 0 && i < TABLE_LEN ? &table[i] : NULL;
}

int cmd_table_add(command *cmd)
{
    if (nextra == CMD_EXTRA_MAX || cmd_lookup(cmd->name, strlen(cmd->name))) {
        return -1;
    }
    cmd->acl_id = TABLE_LEN + SUBTABLE_LEN + nextra;
    extra[nextra++] = cmd;
    extra_tops[nextra_tops++] = cmd;
    dict_entry *e = dict_entry_new(cmd->name, strlen(cmd->name), cmd);
    dict_insert(&by_name, &e->node);
    slots_build();
    return 0;
}

int cmd_table_add_sub(command *sub)
{
    if (nextra == CMD_EXTRA_MAX) {
        return -1;
    }
    sub->acl_id = TABLE_LEN + SUBTABLE_LEN + nextra;
    extra[nextra++] = sub;
    return 0;
}

void cmd_table_remove(command *cmd)
{
    if (cmd_lookup(cmd->name, strlen(cmd->name)) == cmd) {
        dict_entry_remove(&by_name, cmd->name, strlen(cmd->name), NULL);
        slots_build();
    }
    cmd->gone = 1;
}

typedef struct flag_name {
    uint32_t flag;
    const char *name;
} flag_name;

/* The names of the flags set in flags, in the table's order. */
static int names_of(const flag_name *names, size_t len, uint32_t flags, const char **out, int max)
{
    int n = 0;
    for (size_t i = 0; i < len && n < max; i++) {
        if (flags & names[i].flag) {
            out[n++] = names[i].name;
        }
    }
    return n;
}

/* In Redis's order; may_replicate is hidden, as Redis hides it. */
int cmd_flag_names(uint32_t flags, const char **out, int max)
{
    static const flag_name names[] = {{CMD_WRITE, "write"},
                                      {CMD_READONLY, "readonly"},
                                      {CMD_DENYOOM, "denyoom"},
                                      {CMD_MODULE, "module"},
                                      {CMD_ADMIN, "admin"},
                                      {CMD_PUBSUB, "pubsub"},
                                      {CMD_NOSCRIPT, "noscript"},
                                      {CMD_BLOCKING, "blocking"},
                                      {CMD_LOADING, "loading"},
                                      {CMD_STALE, "stale"},
                                      {CMD_SKIP_MONITOR, "skip_monitor"},
                                      {CMD_SKIP_SLOWLOG, "skip_slowlog"},
                                      {CMD_ASKING, "asking"},
                                      {CMD_FAST, "fast"},
                                      {CMD_NO_AUTH, "no_auth"},
                                      {CMD_NO_MANDATORY_KEYS, "no_mandatory_keys"},
                                      {CMD_NO_ASYNC_LOADING, "no_async_loading"},
                                      {CMD_NO_MULTI, "no_multi"},
                                      {CMD_MOVABLE_KEYS, "movablekeys"},
                                      {CMD_ALLOW_BUSY, "allow_busy"}};
    return names_of(names, sizeof(names) / sizeof(names[0]), flags, out, max);
}

int cmd_key_flag_names(uint32_t flags, const char **out, int max)
{
    static const flag_name names[] = {{KS_RO, "RO"},
                                      {KS_RW, "RW"},
                                      {KS_OW, "OW"},
                                      {KS_RM, "RM"},
                                      {KS_ACCESS, "access"},
                                      {KS_UPDATE, "update"},
                                      {KS_INSERT, "insert"},
                                      {KS_DELETE, "delete"},
                                      {KS_NOT_KEY, "not_key"},
                                      {KS_INCOMPLETE, "incomplete"},
                                      {KS_VARIABLE_FLAGS, "variable_flags"}};
    return names_of(names, sizeof(names) / sizeof(names[0]), flags, out, max);
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
    }
    for (int i = 0; i < SUBTABLE_LEN; i++) {
        stats_reset(&subtable[i].st);
    }
    /* Modules' commands and subcommands too, as Redis resets every
     * command's. */
    for (int i = 0; i < nextra; i++) {
        stats_reset(&extra[i]->st);
    }
}
