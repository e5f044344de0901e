/* shutdown: Redis 7.0's graceful shutdown. A SHUTDOWN (or SIGTERM/SIGINT)
 * on a primary whose replicas have not acknowledged everything pauses
 * writes, asks them for acks and waits up to shutdown-timeout seconds for
 * them to catch up before saving and exiting, so a failover after a planned
 * stop loses no acknowledged write. SHUTDOWN NOW skips the wait, SHUTDOWN
 * ABORT cancels it, and INFO shows shutdown_in_milliseconds meanwhile. */
#ifndef KEEL_SHUTDOWN_H
#define KEEL_SHUTDOWN_H

#include "server/server.h"

/* Begins a shutdown with SHUTDOWN's flags, for c (NULL: a signal). Exits,
 * or returns 1 while it waits for replicas (c then waits with it), or -1
 * when it failed (the error is logged; c, if any, is not replied). */
int shutdown_begin(int flags, client *c);
/* SHUTDOWN ABORT: 0 when a waiting shutdown was cancelled, -1 if none. */
int shutdown_abort(void);
/* Finishes a waiting shutdown once the replicas caught up or the time is
 * up (cron and before each sleep). */
void shutdown_check(void);
/* INFO server's shutdown_in_milliseconds line, only while waiting. */
str shutdown_info(str s);
void shutdown_init(void);

#endif
