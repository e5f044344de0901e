/* module_cmdinfo: Redis 7's command metadata for modules' commands:
 * GetCommand, CreateSubcommand and SetCommandInfo (arity, summary,
 * complexity, since, history, tips, key specs), shown by COMMAND INFO and
 * COMMAND DOCS and used for key extraction (ACL, GETKEYS) as Keel's own
 * commands' are. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "base/alloc.h"
#include "module/module_int.h"

static command *api_get_command(km_ctx *ctx, const char *name)
{
    command *cmd = name ? cmd_lookup_full(name, strlen(name)) : NULL;
    if (!cmd || !(cmd->flags & CMD_MODULE) || km_command_of(cmd)->module != ctx->module) {
        return NULL;
    }
    return cmd;
}

static int api_create_subcommand(command *parent, const char *name, km_cmd_fn fn, const char *strflags, int first,
                                 int last, int step)
{
    return km_create_subcommand(parent, name, fn, strflags, first, last, step);
}

static char *dup_or_null(const char *s)
{
    return s ? alloc_strdup(s) : NULL;
}

/* An element of a module's zero-terminated array, by the stride its
 * header gave. */
static const void *at(const void *base, size_t stride, size_t i)
{
    return (const char *)base + stride * i;
}

/* The key specs of info as the command table's (flag bits are the same). */
static int convert_specs(const km_cmd_info *info, key_spec **out)
{
    size_t stride = info->version->sizeof_keyspec;
    int n = 0;
    while (info->key_specs && ((const km_cmd_key_spec *)at(info->key_specs, stride, (size_t)n))->begin_search_type) {
        n++;
    }
    key_spec *ks = n ? alloc_zero(sizeof(key_spec) * (size_t)n) : NULL;
    for (int i = 0; i < n; i++) {
        const km_cmd_key_spec *m = at(info->key_specs, stride, (size_t)i);
        key_spec *k = &ks[i];
        k->flags = (uint32_t)m->flags & 0x7FF;
        k->notes = dup_or_null(m->notes);
        switch (m->begin_search_type) {
        case KM_KSPEC_BS_INDEX:
            k->begin = KS_BEGIN_INDEX;
            k->begin_at = m->bs.index.pos;
            break;
        case KM_KSPEC_BS_KEYWORD:
            k->begin = KS_BEGIN_KEYWORD;
            k->keyword = dup_or_null(m->bs.keyword.keyword);
            k->begin_at = m->bs.keyword.startfrom;
            break;
        case KM_KSPEC_BS_UNKNOWN: k->begin = KS_BEGIN_UNKNOWN; break;
        default: alloc_free(ks); return -1;
        }
        switch (m->find_keys_type) {
        case KM_KSPEC_FK_OMITTED: /* a single key: the range of one */
        case KM_KSPEC_FK_RANGE:
            k->find = KS_FIND_RANGE;
            if (m->find_keys_type == KM_KSPEC_FK_RANGE) {
                k->a = m->fk.range.lastkey;
                k->b = m->fk.range.keystep;
                k->c = m->fk.range.limit;
            } else {
                k->b = 1;
            }
            break;
        case KM_KSPEC_FK_KEYNUM:
            k->find = KS_FIND_KEYNUM;
            k->a = m->fk.keynum.keynumidx;
            k->b = m->fk.keynum.firstkey;
            k->c = m->fk.keynum.keystep;
            break;
        case KM_KSPEC_FK_UNKNOWN: k->find = KS_FIND_UNKNOWN; break;
        default: alloc_free(ks); return -1;
        }
    }
    *out = ks;
    return n;
}

/* Argument descriptions (COMMAND DOCS has no use for them yet, but a bad
 * one refuses the whole info, as in Redis). */
static int args_valid(const km_cmd_arg *args, size_t stride)
{
    for (size_t i = 0; args && ((const km_cmd_arg *)at(args, stride, i))->name; i++) {
        const km_cmd_arg *a = at(args, stride, i);
        if (a->type < CMD_ARG_STRING || a->type > CMD_ARG_BLOCK || (a->flags & ~7)) {
            return 0;
        }
        if (a->type == CMD_ARG_PURE_TOKEN && !a->token) {
            return 0;
        }
        if (a->type == CMD_ARG_KEY ? a->key_spec_index < 0 : a->key_spec_index != -1 && a->key_spec_index != 0) {
            return 0;
        }
        int container = a->type == CMD_ARG_ONEOF || a->type == CMD_ARG_BLOCK;
        if (container != (a->subargs != NULL) || (a->subargs && !args_valid(a->subargs, stride))) {
            return 0;
        }
    }
    return 1;
}

/* What Redis refuses in an info: no version, a history entry without its
 * changes, key specs with not exactly one of RO/RW/OW/RM or more than one
 * of INSERT/DELETE/UPDATE, a keyword search without its keyword, unknown
 * search kinds, bad arguments. */
static int info_valid(const km_cmd_info *info)
{
    if (!info->version || info->version->version < 1) {
        return 0;
    }
    for (size_t i = 0;
         info->history && ((const km_cmd_history *)at(info->history, info->version->sizeof_historyentry, i))->since;
         i++) {
        if (!((const km_cmd_history *)at(info->history, info->version->sizeof_historyentry, i))->changes) {
            return 0;
        }
    }
    size_t stride = info->version->sizeof_keyspec;
    for (size_t i = 0; info->key_specs && ((const km_cmd_key_spec *)at(info->key_specs, stride, i))->begin_search_type;
         i++) {
        const km_cmd_key_spec *k = at(info->key_specs, stride, i);
        int access = __builtin_popcountll(k->flags & (KS_RO | KS_RW | KS_OW | KS_RM));
        int change = __builtin_popcountll(k->flags & (KS_INSERT | KS_DELETE | KS_UPDATE));
        if (access != 1 || change > 1 || k->begin_search_type > KM_KSPEC_BS_KEYWORD ||
            k->find_keys_type > KM_KSPEC_FK_KEYNUM || k->find_keys_type < 0 ||
            (k->begin_search_type == KM_KSPEC_BS_KEYWORD && !k->bs.keyword.keyword)) {
            return 0;
        }
    }
    return args_valid(info->args, info->version->sizeof_arg);
}

/* The arguments kept for COMMAND DOCS. */
static cmd_doc_arg *copy_args(const km_cmd_arg *args, size_t stride, int *n)
{
    *n = 0;
    while (args && ((const km_cmd_arg *)at(args, stride, (size_t)*n))->name) {
        (*n)++;
    }
    cmd_doc_arg *out = *n ? alloc_zero(sizeof(cmd_doc_arg) * (size_t)*n) : NULL;
    for (int i = 0; i < *n; i++) {
        const km_cmd_arg *a = at(args, stride, (size_t)i);
        cmd_doc_arg *d = &out[i];
        d->name = dup_or_null(a->name);
        d->type = a->type;
        /* Only keys show theirs (a module's other arguments may hold 0). */
        d->key_spec_index = a->type == CMD_ARG_KEY ? a->key_spec_index : -1;
        d->token = dup_or_null(a->token);
        d->summary = dup_or_null(a->summary);
        d->since = dup_or_null(a->since);
        d->deprecated_since = dup_or_null(a->deprecated_since);
        d->flags = a->flags;
        d->subargs = copy_args(a->subargs, stride, &d->nsubargs);
    }
    return out;
}

/* COMMAND INFO's legacy (first, last, step) from the key specs, as Redis
 * 7.0 derives it: one plain range spec is the range; otherwise plain
 * step-1 range specs that follow each other are glued into one. A spec
 * left out (another form, a gap, a step) or an INCOMPLETE one makes the
 * keys movable; so does getkeys-api (set already, never taken back). */
static void legacy_range(command *cmd)
{
    cmd->first_key = cmd->last_key = cmd->key_step = 0;
    int first = INT_MAX, last = 0, glued_last = 0;
    for (int i = 0; i < cmd->nspecs; i++) {
        const key_spec *k = &cmd->specs[i];
        if (k->begin != KS_BEGIN_INDEX || k->find != KS_FIND_RANGE) {
            cmd->flags |= CMD_MOVABLE_KEYS;
            continue;
        }
        if (k->flags & KS_INCOMPLETE) {
            cmd->flags |= CMD_MOVABLE_KEYS;
        }
        int abs_last = k->a >= 0 ? k->begin_at + k->a : k->a;
        if (cmd->nspecs == 1) {
            cmd->first_key = k->begin_at;
            cmd->last_key = abs_last;
            cmd->key_step = k->b;
            return;
        }
        if (k->b != 1 || (glued_last && glued_last != k->begin_at - 1)) {
            cmd->flags |= CMD_MOVABLE_KEYS;
            continue;
        }
        first = k->begin_at < first ? k->begin_at : first;
        /* Compared unsigned, as Redis does: a negative last (counted from
         * the end) reaches past any index. */
        if ((unsigned)abs_last > (unsigned)last) {
            last = abs_last;
        }
        glued_last = last;
    }
    if (first == INT_MAX) {
        if (cmd->nspecs > 0) {
            cmd->flags |= CMD_MOVABLE_KEYS;
        }
        return;
    }
    cmd->first_key = first;
    cmd->last_key = last;
    cmd->key_step = 1;
}

static int api_set_command_info(command *cmd, const km_cmd_info *info)
{
    if (!cmd || !(cmd->flags & CMD_MODULE) || !info || !info_valid(info)) {
        errno = EINVAL;
        return KM_ERR;
    }
    km_command *kc = km_command_of(cmd);
    if (kc->has_info) {
        errno = EEXIST;
        return KM_ERR;
    }
    key_spec *specs = NULL;
    int nspecs = info->key_specs ? convert_specs(info, &specs) : -2;
    if (nspecs == -1) {
        errno = EINVAL;
        return KM_ERR;
    }
    kc->has_info = 1;
    if (info->arity) {
        cmd->arity = info->arity;
    }
    if (info->summary) {
        kc->summary = dup_or_null(info->summary);
        cmd->summary = kc->summary;
    }
    kc->complexity = dup_or_null(info->complexity);
    kc->since = dup_or_null(info->since);
    if (info->tips) {
        kc->tips = dup_or_null(info->tips);
        cmd->tips = kc->tips;
    }
    if (info->history) {
        size_t stride = info->version->sizeof_historyentry;
        int n = 0;
        while (((const km_cmd_history *)at(info->history, stride, (size_t)n))->since) {
            n++;
        }
        kc->history = alloc_zero(sizeof(char *) * 2 * (size_t)n);
        kc->nhistory = n;
        for (int i = 0; i < n; i++) {
            const km_cmd_history *h = at(info->history, stride, (size_t)i);
            kc->history[2 * i] = dup_or_null(h->since);
            kc->history[2 * i + 1] = dup_or_null(h->changes);
        }
    }
    kc->args = copy_args(info->args, info->version->sizeof_arg, &kc->nargs);
    if (nspecs >= 0) {
        alloc_free((void *)cmd->specs);
        cmd->specs = specs;
        cmd->nspecs = nspecs;
        legacy_range(cmd);
    }
    return KM_OK;
}

void module_command_docs(const command *cmd, cmd_docs *d)
{
    const km_command *kc = km_command_of(cmd);
    *d = (cmd_docs){.summary = kc->summary,
                    .since = kc->since,
                    .group = "module",
                    .complexity = kc->complexity,
                    .module = kc->module && kc->module->name ? kc->module->name : "",
                    .history = (const char *const *)kc->history,
                    .nhistory = kc->nhistory,
                    .args = kc->args,
                    .nargs = kc->nargs};
}

/* The positions of a command line's keys (argv[0] its name), in an array
 * for RedisModule_Free, and with out_flags their key-spec flags (the
 * API's bits are the server's); NULL with errno ENOENT (no such command),
 * EINVAL (wrong arity), or 0 (no keys), as Redis. */
static int *api_get_command_keys_with_flags(km_ctx *ctx, km_string **argv, int argc, int *num_keys, int **out_flags)
{
    (void)ctx;
    *num_keys = 0;
    sv *args = alloc_mem(sizeof(sv) * (size_t)(argc > 0 ? argc : 1));
    for (int i = 0; i < argc; i++) {
        args[i] = (sv){argv[i]->s, str_len(argv[i]->s)};
    }
    command *cmd = argc > 0 ? cmd_lookup(args[0].ptr, args[0].len) : NULL;
    cmd = cmd ? cmd_resolve(cmd, args, argc) : NULL;
    int *pos = NULL;
    if (!cmd) {
        errno = ENOENT;
    } else if (!keys_has_any(cmd)) {
        errno = 0;
    } else if ((cmd->arity > 0 && argc != cmd->arity) || argc < -cmd->arity) {
        errno = EINVAL;
    } else {
        key_ref *keys = alloc_mem(sizeof(key_ref) * (size_t)argc);
        int n = keys_find(cmd, args, argc, keys);
        errno = 0;
        if (n > 0) {
            *num_keys = n;
            pos = alloc_mem(sizeof(int) * (size_t)n);
            if (out_flags) {
                *out_flags = alloc_mem(sizeof(int) * (size_t)n);
            }
            for (int i = 0; i < n; i++) {
                pos[i] = keys[i].pos;
                if (out_flags) {
                    (*out_flags)[i] = (int)(keys[i].flags & 0x7FF);
                }
            }
        }
        alloc_free(keys);
    }
    alloc_free(args);
    return pos;
}

static int *api_get_command_keys(km_ctx *ctx, km_string **argv, int argc, int *num_keys)
{
    return api_get_command_keys_with_flags(ctx, argv, argc, num_keys, NULL);
}

const km_api_entry km_api_cmdinfo[] = {
    {"GetCommandKeys", api_get_command_keys}, {"GetCommandKeysWithFlags", api_get_command_keys_with_flags},
    {"GetCommand", api_get_command},          {"CreateSubcommand", api_create_subcommand},
    {"SetCommandInfo", api_set_command_info}, {NULL, NULL}};
