/* modules: the list of feature modules started at boot. Each init
 * registers its type operations, hooks and listeners; adding a module is
 * one line here. */
#include "server/block.h"
#include "server/server.h"

void multi_init(void);

void types_init(void)
{
}

void features_init(void)
{
    multi_init();
    block_init();
}
