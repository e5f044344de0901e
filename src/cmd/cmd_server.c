/* Server commands: COMMAND, CONFIG, INFO, TIME, LASTSAVE, SHUTDOWN, DEBUG. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "server/server.h"

/* ---- COMMAND ---- */

static void reply_acl_categories(client *c, const char *acl)
{
    size_t h = reply_defer(R(c));
    long long n = 0;
    const char *p = acl;
    while (p && *p) {
        while (*p == ' ') {
            p++;
        }
        const char *e = p;
        while (*e && *e != ' ') {
            e++;
        }
        if (e > p) {
            reply_status_len(R(c), p, (size_t)(e - p));
            n++;
        }
        p = e;
    }
    reply_defer_set(R(c), h, n);
}

static void reply_command_info(client *c, command *cmd)
{
    const char *flags[24];
    int nf = cmd_flag_names(cmd->flags, flags, 24);
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
    reply_acl_categories(c, cmd->acl);
    reply_empty_array(R(c)); /* tips */
    if (cmd->first_key > 0) {
        /* One range key spec, the shape clients read key positions from. */
        reply_array(R(c), 1);
        reply_map(R(c), 3);
        reply_bulk_cstr(R(c), "flags");
        reply_empty_array(R(c));
        reply_bulk_cstr(R(c), "begin_search");
        reply_map(R(c), 2);
        reply_bulk_cstr(R(c), "type");
        reply_bulk_cstr(R(c), "index");
        reply_bulk_cstr(R(c), "spec");
        reply_map(R(c), 1);
        reply_bulk_cstr(R(c), "index");
        reply_int(R(c), cmd->first_key);
        reply_bulk_cstr(R(c), "find_keys");
        reply_map(R(c), 2);
        reply_bulk_cstr(R(c), "type");
        reply_bulk_cstr(R(c), "range");
        reply_bulk_cstr(R(c), "spec");
        reply_map(R(c), 3);
        reply_bulk_cstr(R(c), "lastkey");
        reply_int(R(c), cmd->last_key < 0 ? cmd->last_key : cmd->last_key - cmd->first_key);
        reply_bulk_cstr(R(c), "keystep");
        reply_int(R(c), cmd->key_step);
        reply_bulk_cstr(R(c), "limit");
        reply_int(R(c), 0);
    } else {
        reply_empty_array(R(c));
    }
    reply_empty_array(R(c)); /* subcommands */
}

static void reply_command_docs(client *c, command *cmd)
{
    reply_bulk_cstr(R(c), cmd->name);
    reply_map(R(c), 3);
    reply_bulk_cstr(R(c), "summary");
    reply_bulk_cstr(R(c), cmd->summary);
    reply_bulk_cstr(R(c), "since");
    reply_bulk_cstr(R(c), "1.0.0");
    reply_bulk_cstr(R(c), "group");
    reply_bulk_cstr(R(c), cmd->group);
}

static void command_getkeys(client *c)
{
    command *cmd = cmd_lookup(c->argv[2].ptr, c->argv[2].len);
    int argc = c->argc - 2;
    if (!cmd) {
        reply_err(c, "ERR Invalid command specified");
        return;
    }
    if ((cmd->arity > 0 && argc != cmd->arity) || (cmd->arity < 0 && argc < -cmd->arity)) {
        reply_err(c, "ERR Invalid number of arguments specified for command");
        return;
    }
    if (cmd->first_key <= 0) {
        reply_err(c, "ERR The command has no key arguments");
        return;
    }
    int last = cmd->last_key < 0 ? argc + cmd->last_key : cmd->last_key;
    size_t h = reply_defer(R(c));
    long long n = 0;
    for (int i = cmd->first_key; i <= last && i < argc; i += cmd->key_step) {
        sv k = c->argv[2 + i];
        reply_bulk(R(c), k.ptr, k.len);
        n++;
    }
    reply_defer_array(R(c), h, n);
}

void cmd_command(client *c)
{
    if (c->argc == 1) {
        reply_array(R(c), cmd_count());
        for (int i = 0; i < cmd_count(); i++) {
            reply_command_info(c, cmd_at(i));
        }
    } else if (arg_is(c, 1, "COUNT") && c->argc == 2) {
        reply_int(R(c), cmd_count());
    } else if (arg_is(c, 1, "INFO")) {
        if (c->argc == 2) {
            reply_array(R(c), cmd_count());
            for (int i = 0; i < cmd_count(); i++) {
                reply_command_info(c, cmd_at(i));
            }
            return;
        }
        reply_array(R(c), c->argc - 2);
        for (int i = 2; i < c->argc; i++) {
            command *cmd = cmd_lookup(c->argv[i].ptr, c->argv[i].len);
            if (cmd) {
                reply_command_info(c, cmd);
            } else {
                reply_null_array(R(c));
            }
        }
    } else if (arg_is(c, 1, "DOCS")) {
        if (c->argc == 2) {
            reply_map(R(c), cmd_count());
            for (int i = 0; i < cmd_count(); i++) {
                reply_command_docs(c, cmd_at(i));
            }
            return;
        }
        size_t h = reply_defer(R(c));
        long long n = 0;
        for (int i = 2; i < c->argc; i++) {
            command *cmd = cmd_lookup(c->argv[i].ptr, c->argv[i].len);
            if (cmd) {
                reply_command_docs(c, cmd);
                n++;
            }
        }
        reply_defer_map(R(c), h, n);
    } else if (arg_is(c, 1, "LIST")) {
        sv pattern = {0};
        if (c->argc == 5 && arg_is(c, 2, "FILTERBY") && arg_is(c, 3, "PATTERN")) {
            pattern = c->argv[4];
        } else if (c->argc != 2) {
            reply_syntax_error(c);
            return;
        }
        size_t h = reply_defer(R(c));
        long long n = 0;
        for (int i = 0; i < cmd_count(); i++) {
            command *cmd = cmd_at(i);
            if (pattern.ptr && !util_glob_match(pattern.ptr, pattern.len, cmd->name, strlen(cmd->name), 1)) {
                continue;
            }
            reply_bulk_cstr(R(c), cmd->name);
            n++;
        }
        reply_defer_array(R(c), h, n);
    } else if (arg_is(c, 1, "GETKEYS") && c->argc >= 3) {
        command_getkeys(c);
    } else {
        reply_errf(c, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try COMMAND HELP.",
                   (int)c->argv[1].len, c->argv[1].ptr);
    }
}

/* ---- CONFIG ---- */

static char *cstr(sv v)
{
    return alloc_strndup(v.ptr, v.len);
}

static void config_set_cmd(client *c)
{
    if (c->argc < 4 || (c->argc - 2) % 2 != 0) {
        reply_arity_error(c);
        return;
    }
    /* All pairs are validated and applied together; on any failure the
     * earlier ones are restored, as Redis 7 does. */
    int npairs = (c->argc - 2) / 2;
    str *old = alloc_zero(sizeof(str) * (size_t)npairs);
    char err[512];
    int failed = -1, unknown = 0;
    for (int i = 0; i < npairs; i++) {
        char *name = cstr(c->argv[2 + 2 * i]);
        int found;
        old[i] = config_get_value(name, &found);
        alloc_free(name);
        if (!found) {
            failed = i;
            unknown = 1;
            break;
        }
    }
    for (int i = 0; failed < 0 && i < npairs; i++) {
        char *name = cstr(c->argv[2 + 2 * i]), *val = cstr(c->argv[3 + 2 * i]);
        if (config_set(name, val, err, sizeof(err), 0) < 0) {
            failed = i;
        }
        alloc_free(name);
        alloc_free(val);
        if (failed >= 0) {
            for (int j = 0; j < i; j++) {
                char *n2 = cstr(c->argv[2 + 2 * j]);
                char e2[256];
                config_set(n2, old[j], e2, sizeof(e2), 1);
                alloc_free(n2);
            }
        }
    }
    if (failed < 0) {
        reply_ok(R(c));
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
    if (arg_is(c, 1, "GET") && c->argc >= 3) {
        config_get_matching(c, c->argv + 2, c->argc - 2);
    } else if (arg_is(c, 1, "SET")) {
        config_set_cmd(c);
    } else if (arg_is(c, 1, "RESETSTAT") && c->argc == 2) {
        memset(&server.stats, 0, sizeof(server.stats));
        for (int i = 0; i < cmd_count(); i++) {
            command *cmd = cmd_at(i);
            cmd->calls = cmd->usec = cmd->rejected_calls = cmd->failed_calls = 0;
        }
        alloc_reset_peak();
        reply_ok(R(c));
    } else if (arg_is(c, 1, "REWRITE") && c->argc == 2) {
        if (!server.config_file) {
            reply_err(c, "ERR The server is running without a config file");
        } else {
            reply_err(c, "ERR Rewriting config file is not supported yet");
        }
    } else {
        reply_errf(c, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try CONFIG HELP.",
                   (int)c->argv[1].len, c->argv[1].ptr);
    }
}

/* ---- INFO, TIME, LASTSAVE, SHUTDOWN ---- */

void cmd_info(client *c)
{
    str out;
    if (c->argc == 1) {
        out = info_generate("default", 0, 0);
    } else {
        out = str_empty(1024);
        for (int i = 1; i < c->argc; i++) {
            char name[64];
            snprintf(name, sizeof(name), "%.*s", (int)c->argv[i].len, c->argv[i].ptr);
            int all = strcasecmp(name, "all") == 0, every = strcasecmp(name, "everything") == 0;
            str part = info_generate(name, all, every);
            if (str_len(out) && str_len(part)) {
                out = str_append_cstr(out, "\r\n");
            }
            out = str_append(out, part, str_len(part));
            str_free(part);
        }
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

void cmd_lastsave(client *c)
{
    reply_int(R(c), (long long)server.lastsave);
}

void cmd_shutdown(client *c)
{
    int nosave = 0;
    for (int i = 1; i < c->argc; i++) {
        if (arg_is(c, i, "NOSAVE")) {
            nosave = 1;
        } else if (arg_is(c, i, "SAVE") || arg_is(c, i, "NOW") || arg_is(c, i, "FORCE") || arg_is(c, i, "ABORT")) {
            continue;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    server_shutdown(nosave);
}
