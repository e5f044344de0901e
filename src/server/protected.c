/* protected: who may reach the server and its dangerous parts. Protected
 * mode turns away non-local peers while the default user has no password;
 * enable-debug-command, enable-module-command and enable-protected-configs
 * (each no, yes or local) gate DEBUG, MODULE and the configs that could
 * make the server write files of an attacker's choosing. */
#include <string.h>

#include "acl/acl.h"
#include "server/server.h"

int client_is_local(const client *c)
{
    if (c->flags & (CLIENT_UNIX | CLIENT_FAKE)) {
        return 1;
    }
    /* addr is "ip:port" or "[ipv6]:port": all of 127.0.0.0/8 is loopback,
     * and so is an IPv4-mapped loopback address on a dual-stack socket. */
    return strncmp(c->addr, "127.", 4) == 0 || strncmp(c->addr, "[::1]:", 6) == 0 ||
           strncmp(c->addr, "[::ffff:127.", 12) == 0;
}

/* "Does the default user have no password?": the ACL default user's
 * nopass flag (requirepass sets or clears it, as in Redis 7.0). */
static int default_user_nopass(void)
{
    return acl_default_user == NULL || (acl_default_user->flags & ACL_USER_NOPASS) != 0;
}

int protected_mode_denies(const client *c)
{
    return server.cfg.protected_mode && default_user_nopass() && !client_is_local(c);
}

/* Redis 7.0's text, byte for byte (its typos included: clients and
 * operators search for it). */
const char protected_mode_error[] =
    "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the "
    "default user. In this mode connections are only accepted from the loopback interface. If you want to connect "
    "from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode "
    "sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the "
    "same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. "
    "Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by "
    "editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the "
    "server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' "
    "option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above "
    "things in order for the server to start accepting connections from the outside.\r\n";

int server_allows_protected(int mode, const client *c)
{
    return mode == PROTECTED_YES || (mode == PROTECTED_LOCAL && client_is_local(c));
}

int server_has_debug_access(client *c)
{
    return server_allows_protected(server.cfg.enable_debug_command, c);
}

int protected_command_allowed(client *c, const command *cmd)
{
    if (cmd->fn == cmd_module) {
        return server_allows_protected(server.cfg.enable_module_command, c);
    }
    return server_has_debug_access(c);
}
