/* cmd_module: MODULE. LOAD, LOADEX and UNLOAD are gated by
 * enable-module-command in dispatch (CMD_PROTECTED), before they get
 * here; the work is src/module/'s. */
#include <stdio.h>

#include "base/log.h"
#include "module/module.h"
#include "server/server.h"

static const char *const module_help[] = {"MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                                          "LIST",
                                          "    The loaded modules: name, version, path and arguments of each.",
                                          "LOAD <path> [<arg> ...]",
                                          "    Load the module at path, handing it the arguments.",
                                          "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
                                          "    The same with the arguments after ARGS (module configs are refused).",
                                          "UNLOAD <name>",
                                          "    Unload a module that has no data types.",
                                          "HELP",
                                          "    Prints this help.",
                                          NULL};

static void load(client *c, int first_arg)
{
    char path[4096];
    snprintf(path, sizeof(path), "%.*s", (int)c->argv[2].len, c->argv[2].ptr);
    if (module_load(path, c->argv + first_arg, c->argc - first_arg) < 0) {
        reply_err(c, "ERR Error loading the extension. Please check the server logs.");
        return;
    }
    reply_ok(R(c));
}

/* MODULE LOADEX path [CONFIG name value ...] [ARGS arg ...]: the values
 * wait for the module's LoadConfigs; any it did not take fails the load. */
static void loadex(client *c)
{
    int i = 3;
    char err[256];
    while (i + 2 < c->argc && arg_is(c, i, "CONFIG")) {
        char name[256];
        snprintf(name, sizeof(name), "%.*s", (int)c->argv[i + 1].len, c->argv[i + 1].ptr);
        /* Only the module being loaded takes them: a loaded module's
         * parameter is not set this way, as in Redis. */
        int loaded = 0;
        str_free(module_config_get(name, &loaded));
        /* The value as given, NULs and all (a string parameter is binary). */
        str value = str_new(c->argv[i + 2].ptr, c->argv[i + 2].len);
        int rc = loaded ? -1 : module_config_set(name, value, str_len(value), err, sizeof(err), 1);
        str_free(value);
        if (rc < 0) {
            module_config_drop_waiting();
            reply_err(c, "ERR Error loading the extension. Please check the server logs.");
            return;
        }
        i += 3;
    }
    if (i < c->argc && !arg_is(c, i, "ARGS")) {
        module_config_drop_waiting();
        reply_err(c, "ERR Error loading the extension. Please check the server logs.");
        return;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%.*s", (int)c->argv[2].len, c->argv[2].ptr);
    int first = i < c->argc ? i + 1 : i;
    if (module_load(path, c->argv + first, c->argc - first) < 0) {
        module_config_drop_waiting();
        reply_err(c, "ERR Error loading the extension. Please check the server logs.");
        return;
    }
    const char *orphan;
    if (module_config_unclaimed(&orphan)) {
        log_msg(LOG_WARNING,
                "Module Configurations were not set, likely a missing LoadConfigs call (%s). Unloading "
                "the module.",
                orphan);
        module_config_drop_waiting();
        module_unload_last();
        reply_err(c, "ERR Error loading the extension. Please check the server logs.");
        return;
    }
    reply_ok(R(c));
}

void cmd_module(client *c)
{
    if (arg_is(c, 1, "HELP")) {
        reply_help(c, module_help);
    } else if (arg_is(c, 1, "LIST")) {
        module_list_reply(c);
    } else if (arg_is(c, 1, "LOAD")) {
        load(c, 3);
    } else if (arg_is(c, 1, "LOADEX")) {
        loadex(c);
    } else if (arg_is(c, 1, "UNLOAD")) {
        char name[256];
        snprintf(name, sizeof(name), "%.*s", (int)c->argv[2].len, c->argv[2].ptr);
        const char *why;
        if (module_unload(name, &why) < 0) {
            reply_errf(c, "ERR Error unloading module: %s", why);
            return;
        }
        reply_ok(R(c));
    } else {
        reply_subcommand_unknown(c);
    }
}
