/* Server commands: COMMAND, CONFIG, INFO, TIME, LASTSAVE, SHUTDOWN, DEBUG. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "cmd/cmd_docs.h"
#include "db/lazyfree.h"
#include "module/module.h"
#include "repl/repl.h"
#include "server/defrag.h"
#include "server/server.h"
#include "server/shutdown.h"

/* ---- COMMAND ---- */

/* A table string of space-separated words as an array: ACL categories are
 * status replies, command tips bulk strings, as in Redis. */
static void reply_words(client *c, const char *words, int as_status)
{
    size_t h = reply_defer(R(c));
    long long n = 0;
    const char *p = words;
    while (p && *p) {
        while (*p == ' ') {
            p++;
        }
        const char *e = p;
        while (*e && *e != ' ') {
            e++;
        }
        if (e > p) {
            if (as_status) {
                reply_status_len(R(c), p, (size_t)(e - p));
            } else {
                reply_bulk(R(c), p, (size_t)(e - p));
            }
            n++;
        }
        p = e;
    }
    reply_defer_set(R(c), h, n);
}

static void reply_key_flags(client *c, uint32_t flags)
{
    const char *names[16];
    int n = cmd_key_flag_names(flags, names, 16);
    reply_array(R(c), n);
    for (int i = 0; i < n; i++) {
        reply_status(R(c), names[i]);
    }
}

/* One key spec as Redis 7 describes it in COMMAND INFO: a map of flags,
 * begin_search and find_keys, each search a map of its type and spec. */
static void reply_key_spec(client *c, const key_spec *s)
{
    reply_map(R(c), s->notes ? 4 : 3);
    if (s->notes) {
        reply_bulk_cstr(R(c), "notes");
        reply_bulk_cstr(R(c), s->notes);
    }
    reply_bulk_cstr(R(c), "flags");
    reply_key_flags(c, s->flags);
    reply_bulk_cstr(R(c), "begin_search");
    reply_map(R(c), 2);
    reply_bulk_cstr(R(c), "type");
    if (s->begin == KS_BEGIN_INDEX) {
        reply_bulk_cstr(R(c), "index");
        reply_bulk_cstr(R(c), "spec");
        reply_map(R(c), 1);
        reply_bulk_cstr(R(c), "index");
        reply_int(R(c), s->begin_at);
    } else if (s->begin == KS_BEGIN_KEYWORD) {
        reply_bulk_cstr(R(c), "keyword");
        reply_bulk_cstr(R(c), "spec");
        reply_map(R(c), 2);
        reply_bulk_cstr(R(c), "keyword");
        reply_bulk_cstr(R(c), s->keyword);
        reply_bulk_cstr(R(c), "startfrom");
        reply_int(R(c), s->begin_at);
    } else {
        reply_bulk_cstr(R(c), "unknown");
        reply_bulk_cstr(R(c), "spec");
        reply_map(R(c), 0);
    }
    reply_bulk_cstr(R(c), "find_keys");
    reply_map(R(c), 2);
    reply_bulk_cstr(R(c), "type");
    if (s->find == KS_FIND_RANGE) {
        reply_bulk_cstr(R(c), "range");
        reply_bulk_cstr(R(c), "spec");
        reply_map(R(c), 3);
        reply_bulk_cstr(R(c), "lastkey");
        reply_int(R(c), s->a);
        reply_bulk_cstr(R(c), "keystep");
        reply_int(R(c), s->b);
        reply_bulk_cstr(R(c), "limit");
        reply_int(R(c), s->c);
    } else if (s->find == KS_FIND_KEYNUM) {
        reply_bulk_cstr(R(c), "keynum");
        reply_bulk_cstr(R(c), "spec");
        reply_map(R(c), 3);
        reply_bulk_cstr(R(c), "keynumidx");
        reply_int(R(c), s->a);
        reply_bulk_cstr(R(c), "firstkey");
        reply_int(R(c), s->b);
        reply_bulk_cstr(R(c), "keystep");
        reply_int(R(c), s->c);
    } else {
        reply_bulk_cstr(R(c), "unknown");
        reply_bulk_cstr(R(c), "spec");
        reply_map(R(c), 0);
    }
}

static void reply_command_info(client *c, command *cmd)
{
    /* A container that needs a subcommand shows no flags of its own (its
     * subcommands have them); COMMAND, which also runs alone, shows its. */
    const char *flags[24];
    int bare = (cmd->flags & CMD_CONTAINER) && cmd->arity == -2;
    int nf = bare ? 0 : cmd_flag_names(cmd->flags, flags, 24);
    reply_array(R(c), 10);
    reply_bulk_cstr(R(c), cmd->name);
    reply_int(R(c), cmd->arity);
    reply_set(R(c), nf);
    for (int i = 0; i < nf; i++) {
        reply_status(R(c), flags[i]);
    }
    reply_int(R(c), cmd->first_key);
    reply_int(R(c), cmd->last_key);
    reply_int(R(c), cmd->key_step);
    reply_words(c, cmd->acl, 1);
    reply_words(c, cmd->tips, 0);
    reply_array(R(c), cmd->nspecs);
    for (int i = 0; i < cmd->nspecs; i++) {
        reply_key_spec(c, &cmd->specs[i]);
    }
    reply_array(R(c), cmd->nsubs); /* a container's subcommands, each described alike */
    for (int i = 0; i < cmd->nsubs; i++) {
        reply_command_info(c, &cmd->subs[i]);
    }
}

/* COMMAND LIST's filters: none, PATTERN (on full names, "config|get"
 * included) or ACLCAT (a category named without its "@", as Redis). */
static int list_match(const command *cmd, sv pattern, sv aclcat, sv module)
{
    if (module.ptr) {
        const char *owner = (cmd->flags & CMD_MODULE) ? module_command_owner(cmd) : NULL;
        return owner && strlen(owner) == module.len && strncasecmp(owner, module.ptr, module.len) == 0;
    }
    if (pattern.ptr) {
        return util_glob_match(pattern.ptr, pattern.len, cmd->name, strlen(cmd->name), 1);
    }
    if (aclcat.ptr) {
        for (const char *p = strchr(cmd->acl, '@'); p; p = strchr(p + 1, '@')) {
            size_t n = strcspn(p + 1, " ");
            if (n == aclcat.len && strncasecmp(p + 1, aclcat.ptr, n) == 0) {
                return 1;
            }
        }
        return 0;
    }
    return 1;
}

/* COMMAND GETKEYS and GETKEYSANDFLAGS <command> [args...]: the keys the
 * same finder as the ACL checks sees, with Redis 7.0's errors in its order
 * (unknown command, no keys at all, wrong arity, no keys in these args). */
static void command_getkeys(client *c, int with_flags)
{
    const sv *argv = c->argv + 2;
    int argc = c->argc - 2;
    command *cmd = cmd_lookup(argv[0].ptr, argv[0].len);
    if (cmd && cmd->nsubs && argc >= 2) {
        cmd = cmd_lookup_sub(cmd, argv[1].ptr, argv[1].len);
    }
    if (!cmd) {
        reply_err(c, "ERR Invalid command specified");
        return;
    }
    if (!keys_has_any(cmd)) {
        reply_err(c, "ERR The command has no key arguments");
        return;
    }
    if ((cmd->arity > 0 && argc != cmd->arity) || argc < -cmd->arity) {
        reply_err(c, "ERR Invalid number of arguments specified for command");
        return;
    }
    key_ref *keys = alloc_mem(sizeof(key_ref) * (size_t)argc);
    int n = keys_find(cmd, argv, argc, keys);
    if (n == 0) {
        if (cmd->flags & CMD_NO_MANDATORY_KEYS) {
            reply_array(R(c), 0);
        } else {
            reply_err(c, "ERR Invalid arguments specified for command");
        }
        alloc_free(keys);
        return;
    }
    reply_array(R(c), n);
    for (int i = 0; i < n; i++) {
        if (with_flags) {
            reply_array(R(c), 2);
            reply_sv(c, argv[keys[i].pos]);
            reply_key_flags(c, keys[i].flags);
        } else {
            reply_sv(c, argv[keys[i].pos]);
        }
    }
    alloc_free(keys);
}

static const char *const command_help[] = {"COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                                           "(no subcommand)",
                                           "    Return details about all commands.",
                                           "COUNT",
                                           "    Return the total number of commands in this server.",
                                           "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
                                           "    Return a list of all commands in this server.",
                                           "INFO [<command-name> ...]",
                                           "    Return details about multiple commands.",
                                           "DOCS [<command-name> ...]",
                                           "    Return documentation details about multiple commands.",
                                           "GETKEYS <full-command>",
                                           "    Return the keys from a full command.",
                                           "GETKEYSANDFLAGS <full-command>",
                                           "    Return the keys and the access flags from a full command.",
                                           "HELP",
                                           "    Print this help.",
                                           NULL};

static const char *const config_help[] = {"CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                                          "GET <pattern>",
                                          "    Each parameter whose name matches the glob <pattern>, with its value.",
                                          "SET <directive> <value>",
                                          "    Change parameters at run time (several pairs at once, all or none).",
                                          "RESETSTAT",
                                          "    Zero the counters INFO reports (commands, errors, hits, ...).",
                                          "REWRITE",
                                          "    Write the running configuration back into the file it came from.",
                                          "HELP",
                                          "    Prints this help.",
                                          NULL};

/* Commands a client can reach: not those rename-command turned off. */
static int reachable_count(void)
{
    int n = 0;
    for (int i = 0; i < cmd_count(); i++) {
        n += !cmd_at(i)->gone;
    }
    return n;
}

static void reply_all_info(client *c)
{
    reply_array(R(c), reachable_count());
    for (int i = 0; i < cmd_count(); i++) {
        if (!cmd_at(i)->gone) {
            reply_command_info(c, cmd_at(i));
        }
    }
}

/* Subcommand names and arities are checked before a container runs: by
 * dispatch, and for scripts by lua.c (the SUB lines of the table). */
void cmd_command(client *c)
{
    if (arg_is(c, 1, "HELP")) {
        reply_help(c, command_help);
    } else if (c->argc == 1) {
        reply_all_info(c);
    } else if (arg_is(c, 1, "COUNT")) {
        reply_int(R(c), reachable_count());
    } else if (arg_is(c, 1, "INFO")) {
        if (c->argc == 2) {
            reply_all_info(c);
            return;
        }
        reply_array(R(c), c->argc - 2);
        for (int i = 2; i < c->argc; i++) {
            command *cmd = cmd_lookup_full(c->argv[i].ptr, c->argv[i].len);
            if (cmd) {
                reply_command_info(c, cmd);
            } else {
                reply_null(R(c));
            }
        }
    } else if (arg_is(c, 1, "DOCS")) {
        if (c->argc == 2) {
            reply_map(R(c), reachable_count());
            for (int i = 0; i < cmd_count(); i++) {
                if (!cmd_at(i)->gone) {
                    reply_bulk_cstr(R(c), cmd_at(i)->name);
                    cmd_docs_reply(c, cmd_at(i));
                }
            }
            return;
        }
        size_t h = reply_defer(R(c));
        long long n = 0;
        for (int i = 2; i < c->argc; i++) {
            command *cmd = cmd_lookup_full(c->argv[i].ptr, c->argv[i].len);
            if (cmd) {
                reply_bulk_cstr(R(c), cmd->name);
                cmd_docs_reply(c, cmd);
                n++;
            }
        }
        reply_defer_map(R(c), h, n);
    } else if (arg_is(c, 1, "LIST")) {
        sv pattern = {0}, aclcat = {0}, module = {0};
        if (c->argc == 5 && arg_is(c, 2, "FILTERBY") && arg_is(c, 3, "PATTERN")) {
            pattern = c->argv[4];
        } else if (c->argc == 5 && arg_is(c, 2, "FILTERBY") && arg_is(c, 3, "ACLCAT")) {
            aclcat = c->argv[4];
        } else if (c->argc == 5 && arg_is(c, 2, "FILTERBY") && arg_is(c, 3, "MODULE")) {
            module = c->argv[4];
        } else if (c->argc != 2) {
            reply_syntax_error(c);
            return;
        }
        /* Subcommands are listed too ("config|get"), as Redis 7 does. */
        size_t h = reply_defer(R(c));
        long long n = 0;
        for (int i = 0; i < cmd_count(); i++) {
            command *cmd = cmd_at(i);
            for (int j = -1; j < cmd->nsubs && !cmd->gone; j++) {
                command *e = j < 0 ? cmd : &cmd->subs[j];
                if (list_match(e, pattern, aclcat, module)) {
                    reply_bulk_cstr(R(c), e->name);
                    n++;
                }
            }
        }
        reply_defer_array(R(c), h, n);
    } else if (arg_is(c, 1, "GETKEYS")) {
        command_getkeys(c, 0);
    } else if (arg_is(c, 1, "GETKEYSANDFLAGS")) {
        command_getkeys(c, 1);
    } else {
        reply_subcommand_unknown(c); /* not reached: dispatch and lua.c admit only SUB names */
    }
}

/* ---- CONFIG ---- */

static char *cstr(sv v)
{
    return alloc_strndup(v.ptr, v.len);
}

/* Modules subscribed to Config events hear which parameters changed, by
 * their names in lower case. */
static void config_set_event(client *c, int npairs)
{
    const char *small[16];
    const char **names = npairs <= 16 ? small : alloc_mem(sizeof(char *) * (size_t)npairs);
    for (int i = 0; i < npairs; i++) {
        char *n = cstr(c->argv[2 + 2 * i]);
        for (char *p = n; *p; p++) {
            *p = (*p >= 'A' && *p <= 'Z') ? (char)(*p + 32) : *p;
        }
        names[i] = n;
    }
    module_event_config(names, npairs);
    for (int i = 0; i < npairs; i++) {
        alloc_free((char *)names[i]);
    }
    if (names != small) {
        alloc_free(names);
    }
}

static void config_set_cmd(client *c)
{
    /* (dispatch has checked the arity: at least one name and value) */
    if ((c->argc - 2) % 2 != 0) {
        reply_err(c, "ERR syntax error");
        return;
    }
    /* All pairs are validated and applied together; on any failure the
     * earlier ones are restored, as Redis 7 does. */
    int npairs = (c->argc - 2) / 2;
    str *old = alloc_zero(sizeof(str) * (size_t)npairs);
    char err[512];
    int failed = -1, unknown = 0, loading = 0;
    for (int i = 0; i < npairs; i++) {
        char *name = cstr(c->argv[2 + 2 * i]);
        int found;
        old[i] = config_get_value(name, &found);
        int refused =
            found && config_is_protected(name) && !server_allows_protected(server.cfg.enable_protected_configs, c);
        loading = found && config_denied_while_loading(name);
        alloc_free(name);
        if (!found) {
            failed = i;
            unknown = 1;
            break;
        }
        if (refused) {
            failed = i;
            snprintf(err, sizeof(err), "can't set protected config");
            break;
        }
        if (loading) {
            failed = i;
            break;
        }
    }
    for (int i = 0; failed < 0 && i < npairs; i++) {
        for (int j = 0; j < i; j++) {
            if (c->argv[2 + 2 * i].len == c->argv[2 + 2 * j].len &&
                strncasecmp(c->argv[2 + 2 * i].ptr, c->argv[2 + 2 * j].ptr, c->argv[2 + 2 * j].len) == 0) {
                failed = i;
                snprintf(err, sizeof(err), "duplicate parameter");
            }
        }
        if (failed >= 0) {
            break; /* nothing applied yet: validation of names runs first */
        }
    }
    for (int i = 0; failed < 0 && i < npairs; i++) {
        char *name = cstr(c->argv[2 + 2 * i]), *val = cstr(c->argv[3 + 2 * i]);
        if (config_set_len(name, val, c->argv[3 + 2 * i].len, err, sizeof(err), 0) < 0) {
            failed = i;
        }
        alloc_free(name);
        alloc_free(val);
        if (failed >= 0) {
            for (int j = 0; j < i; j++) {
                char *n2 = cstr(c->argv[2 + 2 * j]);
                char e2[256];
                config_set_len(n2, old[j], str_len(old[j]), e2, sizeof(e2), 1);
                alloc_free(n2);
            }
        }
    }
    /* Directives applied once for the whole batch (TLS): if that fails,
     * every pair goes back to its old value, as Redis restores them. */
    if (failed < 0 && config_commit(err, sizeof(err)) < 0) {
        for (int i = 0; i < npairs; i++) {
            char *n2 = cstr(c->argv[2 + 2 * i]);
            if (failed < 0 && config_deferred(n2)) {
                failed = i;
            }
            char e2[256];
            config_set_len(n2, old[i], str_len(old[i]), e2, sizeof(e2), 1);
            alloc_free(n2);
        }
        log_msg(LOG_WARNING,
                "Failed applying new configuration. Possibly related to new %.*s setting. Restoring previous "
                "settings.",
                (int)c->argv[2 + 2 * failed].len, c->argv[2 + 2 * failed].ptr);
    }
    /* Modules' apply callbacks, once each, after all the pairs are set; one
     * refusing puts every pair back (Redis names the parameter by its name
     * inside the module). */
    const char *apply_failed = NULL;
    char apply_name[256] = "";
    if (failed < 0 && module_config_apply(err, sizeof(err), &apply_failed) < 0) {
        snprintf(apply_name, sizeof(apply_name), "%s", apply_failed);
        for (int i = 0; i < npairs; i++) {
            char *n2 = cstr(c->argv[2 + 2 * i]);
            char e2[256];
            config_set_len(n2, old[i], str_len(old[i]), e2, sizeof(e2), 1);
            alloc_free(n2);
        }
        char e3[256];
        module_config_apply(e3, sizeof(e3), &apply_failed); /* the old values applied again */
    }
    module_config_apply_abandon();
    config_commit_abandon();
    if (apply_name[0]) {
        reply_errf(c, "ERR CONFIG SET failed (possibly related to argument '%s') - %s", apply_name, err);
    } else if (failed < 0) {
        config_set_event(c, npairs);
        reply_ok(R(c));
    } else if (loading) {
        reply_err(c, "LOADING Redis is loading the dataset in memory"); /* before ERR: clients retry it */
    } else if (unknown) {
        sv n = c->argv[2 + 2 * failed];
        reply_errf(c, "ERR Unknown option or number of arguments for CONFIG SET - '%.*s'", (int)n.len, n.ptr);
    } else {
        sv n = c->argv[2 + 2 * failed];
        reply_errf(c, "ERR CONFIG SET failed (possibly related to argument '%.*s') - %s", (int)n.len, n.ptr, err);
    }
    for (int i = 0; i < npairs; i++) {
        str_free(old[i]);
    }
    alloc_free(old);
}

void cmd_config(client *c)
{
    if (arg_is(c, 1, "HELP")) {
        reply_help(c, config_help);
    } else if (arg_is(c, 1, "GET")) {
        config_get_matching(c, c->argv + 2, c->argc - 2);
    } else if (arg_is(c, 1, "SET")) {
        config_set_cmd(c);
    } else if (arg_is(c, 1, "RESETSTAT")) {
        memset(&server.stats, 0, sizeof(server.stats));
        errorstats_reset();
        cmd_stats_reset();
        rbuf_resizes_reset();
        lazyfree_reset_freed();
        repl_sync_stats_reset();
        alloc_reset_peak();
        defrag_reset_stats();
        reply_ok(R(c));
    } else {
        config_rewrite_reply(c, 0);
    }
}

/* ---- INFO, TIME, LASTSAVE, SHUTDOWN ---- */

void cmd_info(client *c)
{
    str out = info_generate(c->argv + 1, c->argc - 1);
    if (c->argc > 1) {
        /* Modules' own sections come once, after the server's. */
        out = module_info_sections(out, c->argv + 1, c->argc - 1);
    }
    reply_verbatim(R(c), out, str_len(out), "txt");
    str_free(out);
}

void cmd_time(client *c)
{
    int64_t us = util_us();
    reply_array(R(c), 2);
    reply_bulk_ll(R(c), us / 1000000);
    reply_bulk_ll(R(c), us % 1000000);
}

/* LOLWUT [VERSION v]: a small generated picture and the version, as
 * Redis answers it (verbatim text). The picture is a hull on waves whose
 * length follows the version asked for. */
void cmd_lolwut(client *c)
{
    long long v = 1;
    if (c->argc >= 3 && arg_is(c, 1, "VERSION") && !arg_ll_range(c, 2, LLONG_MIN, LLONG_MAX, &v, NULL)) {
        return; /* other arguments are ignored, as Redis does */
    }
    int len = (int)(v < 1 ? 1 : v > 40 ? 40 : v) + 8;
    str out = str_empty(512);
    out = str_printf(out, "%*s|\n%*s/|\\\n%*s/_|_\\\n", len / 2 + 2, "", len / 2 + 1, "", len / 2, "");
    out = str_append_cstr(out, "\\");
    for (int i = 0; i < len + 2; i++) {
        out = str_append(out, "_", 1);
    }
    out = str_append_cstr(out, "/\n");
    for (int i = 0; i < len + 4; i++) {
        out = str_append(out, i % 2 ? "^" : "~", 1);
    }
    out = str_printf(out, "\n\nKeel ver. %s\n", KEEL_VERSION);
    reply_verbatim(R(c), out, str_len(out), "txt");
    str_free(out);
}

void cmd_shutdown(client *c)
{
    int flags = 0, abort = 0;
    for (int i = 1; i < c->argc; i++) {
        if (arg_is(c, i, "NOSAVE")) {
            flags |= SHUTDOWN_NOSAVE;
        } else if (arg_is(c, i, "SAVE")) {
            flags |= SHUTDOWN_SAVE;
        } else if (arg_is(c, i, "FORCE")) {
            flags |= SHUTDOWN_FORCE;
        } else if (arg_is(c, i, "NOW")) {
            flags |= SHUTDOWN_NOW;
        } else if (arg_is(c, i, "ABORT")) {
            abort = 1;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    if ((abort && flags) || ((flags & SHUTDOWN_SAVE) && (flags & SHUTDOWN_NOSAVE))) {
        reply_syntax_error(c);
        return;
    }
    if (abort) {
        if (shutdown_abort() < 0) {
            reply_err(c, "ERR No shutdown in progress.");
        } else {
            reply_ok(R(c));
        }
        return;
    }
    /* Inside a transaction or a script nothing may wait: no waiting for
     * replicas then, as in Redis. */
    if (c->flags & (CLIENT_IN_EXEC | CLIENT_IN_SCRIPT)) {
        flags |= SHUTDOWN_NOW;
    }
    if (shutdown_begin(flags, c) < 0) {
        reply_err(c, "ERR Errors trying to SHUTDOWN. Check logs.");
    }
}
