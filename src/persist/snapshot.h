/* snapshot: a point-in-time snapshot without fork. The keyspace is walked
 * a slice at a time between commands; a write about to change (or delete)
 * a key the walk has not reached saves that key first, and keys created
 * after the start are never saved. So the file holds the data exactly as
 * it was when the snapshot began, and the only extra memory is the write
 * buffer, where a fork can double the memory under writes.
 *
 * "Saved" is one bit per entry compared with a parity that flips when a
 * snapshot begins (kobj_snap_parity, db/object.h). */
#ifndef KEEL_SNAPSHOT_H
#define KEEL_SNAPSHOT_H

#include "persist/rdb.h"

/* Begins a snapshot into path, in the given form; done(ok) runs when it has been written (or
 * has failed). Returns -1 when one is already running or the file cannot
 * be created. */
int snapshot_start(const char *path, rdb_form form, void (*done)(int ok));
/* The same walk into a sink (a diskless full sync): throttle, when set,
 * returns 1 to hold the walk while the readers are behind. */
int snapshot_start_sink(rdb_sink_fn fn, void *ctx, int (*throttle)(void), void (*done)(int ok));
int snapshot_running(void);
/* The running snapshot's keys written and keys to write (INFO
 * current_save_keys_*); 0 and zeros when none runs. */
int snapshot_progress(long long *saved, long long *total);
/* Stops a running snapshot and deletes its temporary file (done(0)). */
void snapshot_abort(void);
/* Finishes a running snapshot at once (shutdown, SAVE). */
void snapshot_finish_now(void);

#endif
