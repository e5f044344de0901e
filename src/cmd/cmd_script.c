/* Scripting commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT, FCALL,
 * FCALL_RO and FUNCTION. The work happens in src/script/. */
#include "script/lua.h"
#include "server/server.h"

void cmd_eval(client *c)
{
    script_eval_command(c, 0, 0);
}

void cmd_evalsha(client *c)
{
    script_eval_command(c, 1, 0);
}

void cmd_eval_ro(client *c)
{
    script_eval_command(c, 0, 1);
}

void cmd_evalsha_ro(client *c)
{
    script_eval_command(c, 1, 1);
}

void cmd_script(client *c)
{
    script_script_command(c);
}

void cmd_fcall(client *c)
{
    script_fcall_command(c, 0);
}

void cmd_fcall_ro(client *c)
{
    script_fcall_command(c, 1);
}

void cmd_function(client *c)
{
    script_function_command(c);
}
