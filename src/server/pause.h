/* pause: CLIENT PAUSE, and the pauses FAILOVER and a shutdown take while
 * replicas catch up. Paused commands wait (their clients look blocked) and run in
 * arrival order when every pause has ended. A WRITE pause holds what may
 * change data or be replicated; ALL holds everything. Replicas and the
 * master link are never paused. While writes are paused, keys are neither
 * expired nor evicted, so the dataset (and the replication offset) stands
 * still. */
#ifndef KEEL_PAUSE_H
#define KEEL_PAUSE_H

#include <stdint.h>

#include "server/server.h"

/* PAUSE_BY_MODULE: a module command that yields (module_eventloop.c). */
enum { PAUSE_BY_CLIENT = 0, PAUSE_BY_FAILOVER = 1, PAUSE_BY_SHUTDOWN = 2, PAUSE_BY_MODULE = 3, PAUSE_PURPOSES = 4 };

/* Until until_ms (0: until pause_end); all = every command, not only writes. */
void pause_start(int purpose, int64_t until_ms, int all);
void pause_end(int purpose);
/* Lifted, a pause holds no new command, and the ones it held wait on
 * until it ends (a module's Yield that serves clients meanwhile). */
void pause_lift(int purpose, int lifted);
int pause_writes_active(void);
int pause_all_active(void);
/* Dispatch's gate: 1 when c's command was held. */
int pause_gate(client *c, const command *cmd);
void pause_init(void);

#endif
