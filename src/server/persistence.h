/* persistence: snapshot policy (start-up load, SAVE, DEBUG RELOAD, saving
 * at shutdown) on top of persist/rdb. */
#ifndef KEEL_PERSISTENCE_H
#define KEEL_PERSISTENCE_H

#include "server/server.h"

/* Writes dbfilename in dir now; 0, or -1 (logged, and INFO reports it). */
int persistence_save(void);
/* Loads dbfilename at start-up (a missing file is an empty dataset); -1
 * after logging why the file cannot be loaded. */
int persistence_load(void);
/* Whether `save` has save points (Redis then saves at shutdown). */
int persistence_save_points_set(void);
void persistence_debug_reload(client *c);
/* INFO's Persistence section. */
str persistence_info(str s);

#endif
