/* modules: the list of feature modules started at boot. Each init
 * registers its type operations, hooks and listeners; adding a module is
 * one line here. */
#include "script/lua.h"
#include "server/server.h"

void types_init(void)
{
}

void features_init(void)
{
    script_init();
}
