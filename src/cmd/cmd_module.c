/* cmd_module: MODULE, so that tools probing for modules get Redis's
 * answers. Keel has no module API: the list is always empty and loading
 * always fails. LOAD, LOADEX and UNLOAD are gated by enable-module-command
 * in dispatch (CMD_PROTECTED), before they get here. */
#include "base/log.h"
#include "server/server.h"

static const char *const module_help[] = {"MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                                          "LIST",
                                          "    The loaded modules (none: Keel does not load Redis modules).",
                                          "LOAD <path> [<arg> ...]",
                                          "    Load a module; refused, as Keel has no module API.",
                                          "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
                                          "    The same with module parameters; refused likewise.",
                                          "UNLOAD <name>",
                                          "    Unload a module; there is none to unload.",
                                          "HELP",
                                          "    Prints this help.",
                                          NULL};

void cmd_module(client *c)
{
    if (arg_is(c, 1, "HELP")) {
        reply_help(c, module_help);
    } else if (arg_is(c, 1, "LIST")) {
        reply_array(R(c), 0);
    } else if (arg_is(c, 1, "LOAD") || arg_is(c, 1, "LOADEX")) {
        log_msg(LOG_WARNING, "Module %.*s failed to load: Keel has no module API", (int)c->argv[2].len, c->argv[2].ptr);
        reply_err(c, "ERR Error loading the extension. Please check the server logs.");
    } else if (arg_is(c, 1, "UNLOAD")) {
        reply_err(c, "ERR Error unloading module: no such module with that name");
    } else {
        reply_subcommand_unknown(c);
    }
}
