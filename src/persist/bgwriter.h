/* bgwriter: a file written by a helper thread. Snapshots hand it their
 * bytes and go on; the thread does the write() calls and starts the
 * disk's writeback as it goes (sync_file_range), which measured up to 5 ms
 * per call on the event loop and so made the p99 latency of every client
 * during a snapshot. At most 8 MB wait for the thread (a writer past that
 * waits); bgwriter_pending says how many do, so a caller can pause first. */
#ifndef KEEL_BGWRITER_H
#define KEEL_BGWRITER_H

#include <stddef.h>

typedef struct bgwriter bgwriter;

/* Takes fd (closed by bgwriter_close / _abort). incremental_sync: start
 * the writeback of every 8 MB written (rdb-save-incremental-fsync).
 * NULL if the thread cannot start. */
bgwriter *bgwriter_open(int fd, int incremental_sync);
/* Queues a copy of n bytes (waiting while 8 MB are queued). */
void bgwriter_write(bgwriter *w, const void *p, size_t n);
/* Bytes queued and not yet written. */
size_t bgwriter_pending(bgwriter *w);
/* Writes what is queued, syncs the file and closes it: 0, or the errno of
 * the first failure. */
int bgwriter_close(bgwriter *w);
/* Stops at once; the file is closed, what was queued is dropped. */
void bgwriter_abort(bgwriter *w);

#endif
