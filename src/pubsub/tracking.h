/* tracking: client-side caching support (CLIENT TRACKING). The server
 * remembers which keys a tracking client read (default mode) or which key
 * prefixes it watches (BCAST mode) and sends an invalidation when such a
 * key changes: a RESP3 push ["invalidate", [key]] or, for a RESP2 client
 * redirected to a subscriber, a message on __redis__:invalidate. */
#ifndef KEEL_TRACKING_H
#define KEEL_TRACKING_H

#include <stddef.h>

/* Registers the CLIENT subcommands (TRACKING, CACHING, GETREDIR,
 * TRACKINGINFO), the key-write listener, the after-command hook and the
 * INFO fields. Called once from features_init, after pubsub_init. */
void tracking_init(void);

/* Counts for INFO: keys in the table, (key, client) pairs, BCAST prefixes,
 * clients with tracking on. */
size_t tracking_total_keys(void);
size_t tracking_total_items(void);
size_t tracking_total_prefixes(void);
size_t tracking_clients(void);
/* Every cron tick: a table over tracking-table-max-keys (lowered by CONFIG
 * SET, say) sheds keys, each invalidated for its readers, as in Redis. */
void tracking_cron(void);

#endif
