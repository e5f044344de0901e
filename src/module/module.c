/* module: loading and unloading modules, their commands, and the calls
 * into a module command from dispatch. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "acl/acl.h"
#include "base/alloc.h"
#include "base/log.h"
#include "module/module_int.h"
#include "proto/resp_parse.h"

static km_module **modules;
static int nmodules;
static str *queued; /* loadmodule lines, until the server is set up */
static int nqueued;

int module_count(void)
{
    return nmodules;
}

km_module *km_module_at(int i)
{
    return modules[i];
}

str module_loadmodule_lines(str out)
{
    for (int i = 0; i < nmodules; i++) {
        km_module *m = modules[i];
        out = str_append_cstr(out, "loadmodule ");
        out = str_append_quoted(out, m->path, strlen(m->path));
        for (int a = 0; a < m->nargs; a++) {
            out = str_append(out, " ", 1);
            out = str_append_quoted(out, m->args[a], str_len(m->args[a]));
        }
        out = str_append(out, "\n", 1);
    }
    return out;
}

km_module *km_module_by_name(const char *name)
{
    for (int i = 0; i < nmodules; i++) {
        if (modules[i]->name && strcasecmp(modules[i]->name, name) == 0) {
            return modules[i];
        }
    }
    return NULL;
}

km_command *km_command_of(const command *cmd)
{
    return cmd->module_data;
}

/* ---- commands ---- */

const char *module_command_owner(const command *cmd)
{
    const km_module *m = km_command_of(cmd)->module;
    return m && m->name ? m->name : "";
}

/* Dispatch's handler of every module command: argv becomes module
 * strings, the module's function runs in a context of its own. */
static void run_command(client *c)
{
    km_command *kc = km_command_of(c->cmd);
    km_ctx ctx;
    km_ctx_init(&ctx, kc->module, c);
    ctx.flags |= KCTX_IN_COMMAND;
    /* A module command propagates only what it asks to (Replicate,
     * ReplicateVerbatim, Call with "!"), as in Redis. */
    propagate_none(c);
    km_string *small[16];
    km_string **argv = c->argc <= 16 ? small : alloc_mem(sizeof(*argv) * (size_t)c->argc);
    for (int i = 0; i < c->argc; i++) {
        argv[i] = km_string_new(NULL, c->argv[i].ptr, c->argv[i].len);
    }
    kc->fn(&ctx, argv, c->argc);
    km_ctx_done(&ctx);
    for (int i = 0; i < c->argc; i++) {
        km_string_release(NULL, argv[i]);
    }
    if (argv != small) {
        alloc_free(argv);
    }
}

/* The command flags a module names in CreateCommand's strflags (and
 * whether it asked for getkeys-api / getchannels-api); -1 for a word Redis
 * does not know. */
static int parse_flags(const char *s, uint32_t *flags, int *getkeys, int *getchannels)
{
    static const struct {
        const char *word;
        uint32_t flag;
    } words[] = {{"write", CMD_WRITE},
                 {"readonly", CMD_READONLY},
                 {"admin", CMD_ADMIN},
                 {"deny-oom", CMD_DENYOOM},
                 {"deny-script", CMD_NOSCRIPT},
                 {"allow-loading", CMD_LOADING},
                 {"pubsub", CMD_PUBSUB},
                 {"random", 0},
                 {"allow-stale", CMD_STALE},
                 {"no-monitor", CMD_SKIP_MONITOR},
                 {"no-slowlog", CMD_SKIP_SLOWLOG},
                 {"fast", CMD_FAST},
                 {"no-auth", CMD_NO_AUTH},
                 {"may-replicate", CMD_MAY_REPLICATE},
                 {"no-mandatory-keys", CMD_NO_MANDATORY_KEYS},
                 {"blocking", CMD_BLOCKING},
                 {"allow-busy", CMD_ALLOW_BUSY},
                 {"no-cluster", 0},
                 {"no-async-loading", CMD_NO_ASYNC_LOADING}};
    *flags = 0;
    *getkeys = *getchannels = 0;
    const char *p = s ? s : "";
    while (*p) {
        while (*p == ' ') {
            p++;
        }
        const char *e = p;
        while (*e && *e != ' ') {
            e++;
        }
        size_t len = (size_t)(e - p);
        if (len == 0) {
            break;
        }
        int known = 0;
        if (len == 11 && strncasecmp(p, "getkeys-api", 11) == 0) {
            *getkeys = known = 1;
        }
        if (len == 15 && strncasecmp(p, "getchannels-api", 15) == 0) {
            *getchannels = known = 1;
        }
        for (size_t i = 0; !known && i < sizeof(words) / sizeof(words[0]); i++) {
            if (strlen(words[i].word) == len && strncasecmp(words[i].word, p, len) == 0) {
                *flags |= words[i].flag;
                known = 1;
            }
        }
        if (!known) {
            return -1;
        }
        p = e;
    }
    return 0;
}

/* Fills cmd, a command entry for a module's function, with kc its module
 * side: name (lower case), flags and the legacy first/last/step key range.
 * -1 when strflags is bad. */
static int fill_command(km_command *kc, command *cmd, km_module *m, const char *name, km_cmd_fn fn,
                        const char *strflags, int first, int last, int step)
{
    uint32_t flags;
    int getkeys, getchannels;
    if (parse_flags(strflags, &flags, &getkeys, &getchannels) < 0) {
        return -1;
    }
    /* Redis takes any numbers here; a first key of 0 or less means none. */
    if (first > 0 && step <= 0) {
        step = 1;
    }
    kc->module = m;
    kc->fn = fn;
    kc->entry = cmd;
    kc->name = alloc_strdup(name);
    for (char *q = kc->name; *q; q++) {
        *q = (*q >= 'A' && *q <= 'Z') ? (char)(*q + 32) : *q;
    }
    cmd->module_data = kc;
    cmd->name = kc->name;
    cmd->fn = run_command;
    cmd->arity = -1;
    /* A command that names its keys when asked may name any: movable. */
    cmd->flags = flags | CMD_MODULE | (getkeys ? CMD_MOVABLE_KEYS : 0);
    cmd->first_key = first;
    cmd->last_key = last;
    cmd->key_step = step;
    cmd->acl = "";
    cmd->group = "module";
    cmd->summary = "";
    cmd->keys = getkeys ? km_keys_by_module : NULL;
    cmd->channels = getchannels ? km_channels_by_module : NULL;
    if (first > 0 && (last >= first || last < 0)) {
        /* The range after the first key: up to last (relative to first),
         * or, for a negative last, that many from the end. Redis cannot
         * tell what a legacy module command does with its keys, so it says
         * read-write for all, and so does Keel (ACL included); with
         * getkeys-api the module tells each key's flags instead (the spec
         * says VARIABLE_FLAGS, so the module is asked). */
        key_spec *ks = alloc_zero(sizeof(*ks));
        *ks = (key_spec){KS_RW | KS_ACCESS | KS_UPDATE | (getkeys ? KS_VARIABLE_FLAGS : 0), KS_INDEX(first),
                         KS_RANGE(last < 0 ? last : last - first, step, 0)};
        cmd->specs = ks;
        cmd->nspecs = 1;
    }
    return 0;
}

static void remember(km_module *m, km_command *kc)
{
    m->cmds = alloc_resize(m->cmds, sizeof(*m->cmds) * (size_t)(m->ncmds + 1));
    m->cmds[m->ncmds++] = kc;
}

int km_create_command(km_ctx *ctx, const char *name, km_cmd_fn fn, const char *strflags, int first, int last, int step)
{
    if (!ctx || !ctx->module || !name || strchr(name, ' ') || strchr(name, '|') || cmd_lookup(name, strlen(name))) {
        return KM_ERR;
    }
    km_command *kc = alloc_zero(sizeof(*kc));
    if (fill_command(kc, &kc->cmd, ctx->module, name, fn, strflags, first, last, step) < 0 ||
        cmd_table_add(&kc->cmd) < 0) {
        alloc_free((void *)kc->cmd.specs);
        alloc_free(kc->name);
        alloc_free(kc);
        return KM_ERR;
    }
    if (!fn) {
        kc->cmd.arity = -2; /* a container: only its subcommands run */
    }
    acl_command_added(&kc->cmd);
    remember(ctx->module, kc);
    return KM_OK;
}

/* Subcommands live in their parent's array (the command table's layout
 * for containers), allocated once at this size. */
#define KM_SUBS_MAX 64

int km_create_subcommand(command *parent, const char *name, km_cmd_fn fn, const char *strflags, int first, int last,
                         int step)
{
    km_command *pk = parent && (parent->flags & CMD_MODULE) ? km_command_of(parent) : NULL;
    if (!pk || pk->fn || parent->parent || !name || !fn || strchr(name, ' ') || strchr(name, '|') ||
        parent->nsubs == KM_SUBS_MAX) {
        return KM_ERR;
    }
    char full[512];
    snprintf(full, sizeof(full), "%s|%s", parent->name, name);
    if (cmd_lookup_sub(parent, name, strlen(name))) {
        return KM_ERR;
    }
    if (!parent->subs) {
        parent->subs = alloc_zero(sizeof(command) * KM_SUBS_MAX);
    }
    command *sub = &parent->subs[parent->nsubs];
    km_command *kc = alloc_zero(sizeof(*kc));
    if (fill_command(kc, sub, pk->module, full, fn, strflags, first, last, step) < 0 || cmd_table_add_sub(sub) < 0) {
        alloc_free((void *)sub->specs);
        alloc_free(kc->name);
        alloc_free(kc);
        memset(sub, 0, sizeof(*sub));
        return KM_ERR;
    }
    sub->parent = parent;
    sub->arity = -2; /* the container's name and its own, at least */
    parent->nsubs++;
    acl_command_added(sub);
    remember(pk->module, kc);
    return KM_OK;
}

/* ---- loading ---- */

/* Everything of m's that the server holds: its types, subscriptions,
 * timers, filters and configuration parameters. */
static void forget_state(km_module *m)
{
    km_types_forget(m);
    km_notify_forget(m);
    km_timers_forget(m);
    km_events_forget(m);
    km_filters_forget(m);
    km_configs_forget(m);
    km_shared_forget(m);
    km_acl_forget(m);
    km_auth_forget(m);
}

static void module_free(km_module *m)
{
    for (int i = 0; i < m->ncmds; i++) {
        cmd_table_remove(m->cmds[i]->entry); /* the entries stay: see cmd_table_remove */
    }
    alloc_free(m->cmds);
    alloc_free(m->types);
    alloc_free(m->name);
    alloc_free(m->path);
    for (int i = 0; i < m->nargs; i++) {
        str_free(m->args[i]);
    }
    alloc_free(m->args);
    alloc_free(m);
}

static int call_onunload(km_module *m);

int module_load(const char *path, const sv *args, int nargs)
{
    /* As Redis 7.0: a file nobody may execute is not loaded. */
    struct stat st;
    if (stat(path, &st) == 0 && !(st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH))) {
        log_msg(LOG_WARNING, "Module %s failed to load: It does not have execute permissions.", path);
        return -1;
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        log_msg(LOG_WARNING, "Module %s failed to load: %s", path, dlerror());
        return -1;
    }
    km_onload_fn onload = (km_onload_fn)(uintptr_t)dlsym(h, "RedisModule_OnLoad");
    if (!onload) {
        log_msg(LOG_WARNING, "Module %s does not export RedisModule_OnLoad() symbol. Module not loaded.", path);
        dlclose(h);
        return -1;
    }
    km_thread_init(); /* from now on the main thread holds the GIL */
    km_module *m = alloc_zero(sizeof(*m));
    m->path = alloc_strdup(path);
    m->handle = h;
    m->args = alloc_mem(sizeof(str) * (size_t)(nargs > 0 ? nargs : 1));
    m->nargs = nargs;
    m->loading = 1;
    km_ctx ctx;
    km_ctx_init(&ctx, m, NULL);
    km_string **argv = alloc_mem(sizeof(*argv) * (size_t)(nargs > 0 ? nargs : 1));
    for (int i = 0; i < nargs; i++) {
        argv[i] = km_string_new(NULL, args[i].ptr, args[i].len);
        m->args[i] = str_new(args[i].ptr, args[i].len);
    }
    m->handle = h;
    /* Listed before OnLoad runs, so its commands and types find it. */
    modules = alloc_resize(modules, sizeof(*modules) * (size_t)(nmodules + 1));
    modules[nmodules++] = m;
    int rc = onload(&ctx, argv, nargs);
    km_ctx_done(&ctx);
    for (int i = 0; i < nargs; i++) {
        km_string_release(NULL, argv[i]);
    }
    alloc_free(argv);
    m->loading = 0;
    if (rc == KM_OK && m->name && km_configs_unloaded(m)) {
        /* Its parameters would keep no value: refused, as in Redis. */
        log_msg(LOG_NOTICE, "Module '%s' loaded from %s", m->name, path);
        log_msg(LOG_WARNING, "Module Configurations were not set, likely a missing LoadConfigs call. Unloading the "
                             "module.");
        call_onunload(m); /* it loaded: it frees what it made, as an unload would */
        rc = KM_ERR;
    }
    if (rc != KM_OK || !m->name) {
        log_msg(LOG_WARNING, "Module %s initialization failed. Module not loaded", path);
        nmodules--;
        forget_state(m);
        module_free(m);
        dlclose(h);
        return -1;
    }
    km_event_module_change(m, 1);
    log_msg(LOG_NOTICE, "Module '%s' loaded from %s", m->name, path);
    return 0;
}

/* The module's OnUnload, if it has one: KM_ERR when it refuses. */
static int call_onunload(km_module *m)
{
    int (*onunload)(km_ctx *) = (int (*)(km_ctx *))(uintptr_t)dlsym(m->handle, "RedisModule_OnUnload");
    if (!onunload) {
        return KM_OK;
    }
    km_ctx ctx;
    km_ctx_init(&ctx, m, NULL);
    int rc = onunload(&ctx);
    km_ctx_done(&ctx);
    return rc;
}

int module_unload(const char *name, const char **err)
{
    km_module *m = km_module_by_name(name);
    if (!m) {
        *err = "no such module with that name";
        return -1;
    }
    if (m->ntypes > 0) {
        *err = "the module exports one or more module-side data types, can't unload";
        return -1;
    }
    if (km_shared_in_use(m)) {
        *err = "the module exports APIs used by other modules. Please unload them first and try again";
        return -1;
    }
    if (km_has_blocked(m)) {
        *err = "the module has blocked clients. Please wait them unblocked and try again";
        return -1;
    }
    if (km_has_timers(m)) {
        *err = "the module holds timer that is not fired. Please stop the timer or wait until it fires.";
        return -1;
    }
    if (call_onunload(m) == KM_ERR) {
        *err = "operation not possible.";
        return -1;
    }
    for (int i = 0; i < nmodules; i++) {
        if (modules[i] == m) {
            modules[i] = modules[--nmodules];
            break;
        }
    }
    forget_state(m); /* no data types: nothing of the keyspace is its */
    km_event_module_change(m, 0);
    log_msg(LOG_NOTICE, "Module %s unloaded", m->name);
    void *h = m->handle;
    module_free(m);
    dlclose(h);
    return 0;
}

void module_unload_last(void)
{
    if (nmodules == 0) {
        return;
    }
    km_module *m = modules[--nmodules];
    call_onunload(m); /* its answer does not matter: it goes */
    forget_state(m);
    void *h = m->handle;
    module_free(m);
    dlclose(h);
}

void module_list_reply(client *c)
{
    reply_array(R(c), nmodules);
    for (int i = 0; i < nmodules; i++) {
        km_module *m = modules[i];
        reply_map(R(c), 4);
        reply_bulk_cstr(R(c), "name");
        reply_bulk_cstr(R(c), m->name);
        reply_bulk_cstr(R(c), "ver");
        reply_int(R(c), m->ver);
        reply_bulk_cstr(R(c), "path");
        reply_bulk_cstr(R(c), m->path);
        reply_bulk_cstr(R(c), "args");
        reply_array(R(c), m->nargs);
        for (int j = 0; j < m->nargs; j++) {
            reply_bulk(R(c), m->args[j], str_len(m->args[j]));
        }
    }
}

/* SetModuleOptions' bits by name, '|' between them, as Redis's INFO. */
static str options_info(str s, int options)
{
    static const struct {
        int bit;
        const char *name;
    } names[] = {{KM_OPT_HANDLE_IO_ERRORS, "handle-io-errors"},
                 {KM_OPT_HANDLE_REPL_ASYNC_LOAD, "handle-repl-async-load"},
                 {KM_OPT_NO_IMPLICIT_SIGNAL_MODIFIED, "no-implicit-signal-modified"}};
    const char *sep = "";
    s = str_append_cstr(s, ",options=[");
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (options & names[i].bit) {
            s = str_printf(s, "%s%s", sep, names[i].name);
            sep = "|";
        }
    }
    return str_append_cstr(s, "]\r\n");
}

str module_info_lines(str s)
{
    for (int i = 0; i < nmodules; i++) {
        s = str_printf(s, "module:name=%s,ver=%d,api=1,filters=%d,usedby=", modules[i]->name, modules[i]->ver,
                       modules[i]->nfilters);
        s = km_shared_info(s, modules[i], 1);
        s = str_append_cstr(s, ",using=");
        s = km_shared_info(s, modules[i], 0);
        s = options_info(s, modules[i]->options);
    }
    return s;
}

int module_all_handle_async_load(void)
{
    for (int i = 0; i < nmodules; i++) {
        if (!(modules[i]->options & KM_OPT_HANDLE_REPL_ASYNC_LOAD)) {
            return 0;
        }
    }
    return 1;
}

void module_queue_load(const char *line)
{
    queued = alloc_resize(queued, sizeof(*queued) * (size_t)(nqueued + 1));
    queued[nqueued++] = str_new(line, strlen(line));
}

int module_load_queued(void)
{
    int rc = 0;
    str words = NULL;
    size_t *off = NULL, *lens = NULL, cap = 0;
    for (int i = 0; i < nqueued && rc == 0; i++) {
        /* The directive's words, each quoted by the configuration reader. */
        if (words) {
            str_clear(words);
        }
        long n = resp_split_args(queued[i], str_len(queued[i]), &words, &off, &lens, &cap);
        if (n < 1 || n > 256) {
            log_msg(LOG_WARNING, "Bad loadmodule directive: %s", queued[i]);
            rc = -1;
            break;
        }
        sv parts[256];
        for (long j = 0; j < n; j++) {
            parts[j] = (sv){words + off[j], lens[j]};
        }
        char path[4096];
        snprintf(path, sizeof(path), "%.*s", (int)parts[0].len, parts[0].ptr);
        if (module_load(path, parts + 1, (int)n - 1) < 0) {
            log_msg(LOG_WARNING, "Can't load module from %s: server aborting", path);
            rc = -1;
        }
    }
    for (int i = 0; i < nqueued; i++) {
        str_free(queued[i]);
    }
    str_free(words);
    alloc_free(off);
    alloc_free(lens);
    alloc_free(queued);
    queued = NULL;
    nqueued = 0;
    const char *orphan;
    if (rc == 0 && module_config_unclaimed(&orphan)) {
        log_msg(LOG_WARNING,
                "Module Configuration detected without loadmodule directive or no ApplyConfig call: aborting (%s)",
                orphan);
        rc = -1;
    }
    return rc;
}
