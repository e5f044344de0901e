/* lazyfree: frees big values on a background thread so one DEL, FLUSHALL
 * ASYNC or overwrite of a huge collection never stalls the event loop. */
#ifndef KEEL_LAZYFREE_H
#define KEEL_LAZYFREE_H

#include <stddef.h>
#include <stdint.h>

#include "base/ktable.h"
#include "db/object.h"

/* Values with more elements than this are freed in the background. */
#define LAZYFREE_THRESHOLD 64

void lazyfree_start(void);
void lazyfree_stop(void);
/* Frees o (a key of database dbid) now, or in the background when its
 * free effort (its type's free_effort, else its length) is above
 * LAZYFREE_THRESHOLD. */
void lazyfree_obj(kobj *o, int dbid);
/* Takes a whole detached key table and frees it in the background.
 * Returns its ticket: lazyfree_done(ticket) is true once it is freed. */
uint64_t lazyfree_table(ktable *t);
int lazyfree_done(uint64_t ticket);
/* An eventfd that becomes readable when a table job ends (-1 if none);
 * the reader drains it with lazyfree_drain_signal(). */
int lazyfree_signal_fd(void);
void lazyfree_drain_signal(void);
size_t lazyfree_pending(void);
size_t lazyfree_freed(void);
/* CONFIG RESETSTAT: lazyfreed_objects starts again from 0. */
void lazyfree_reset_freed(void);

#endif
