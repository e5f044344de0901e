/* free_wait: a client waiting for the background free of a flushed
 * keyspace. FLUSHDB and FLUSHALL SYNC of a big keyspace hand its keys to
 * the lazyfree thread and the caller gets its OK only once they are freed
 * (as Redis 7.4 does), so the memory is back when the reply arrives and
 * other clients are served meanwhile. */
#ifndef KEEL_FREE_WAIT_H
#define KEEL_FREE_WAIT_H

#include <stdint.h>

#include "server/server.h"

/* Replies OK to c once lazyfree_done(ticket); at once if it already is or
 * c may not wait here (MULTI, scripts, the primary's link, AOF replay). */
void free_wait_reply_ok(client *c, uint64_t ticket);

#endif
