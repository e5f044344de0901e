/* modules: the list of feature modules started at boot. Each init
 * registers its type operations, hooks and listeners; adding a module is
 * one line here. */
#include "pubsub/pubsub.h"
#include "pubsub/tracking.h"
#include "script/lua.h"
#include "server/block.h"
#include "server/pause.h"
#include "server/server.h"
#include "server/shutdown.h"

void multi_init(void);
/* Each collection family registers its type_ops (in its cmd_<family>.c). */
void hash_type_register(void);
void set_type_register(void);
void list_type_register(void);
void zset_type_register(void);
void stream_type_register(void);
void vset_type_register(void);

void types_init(void)
{
    hash_type_register();
    set_type_register();
    list_type_register();
    zset_type_register();
    stream_type_register();
    vset_type_register();
}

void features_init(void)
{
    multi_init();
    pause_init();
    block_init();
    shutdown_init();
    pubsub_init();
    tracking_init();
    script_init();
}
