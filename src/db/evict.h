/* evict: enforcing maxmemory with Redis's policies (the eight of 7.0 and
 * 8.6's two LRM ones). Candidates are
 * sampled (maxmemory-samples per round) into a small pool that keeps the
 * best ones between rounds, so the choice approximates true LRU/LFU/TTL
 * order without per-key bookkeeping beyond the 24 bits in each entry. */
#ifndef KEEL_EVICT_H
#define KEEL_EVICT_H

#include <stddef.h>

#include "db/db.h"

enum {
    EVICT_NONE = 0,
    EVICT_ALLKEYS_LRU,
    EVICT_VOLATILE_LRU,
    EVICT_ALLKEYS_LFU,
    EVICT_VOLATILE_LFU,
    EVICT_ALLKEYS_RANDOM,
    EVICT_VOLATILE_RANDOM,
    EVICT_VOLATILE_TTL,
    EVICT_ALLKEYS_LRM, /* Redis 8.6: least recently modified */
    EVICT_VOLATILE_LRM
};

typedef struct evict_params {
    int policy;
    int samples;
    int tenacity; /* 0..100: how long one call may keep evicting */
    size_t used;  /* memory counted against the limit now */
    size_t limit;
} evict_params;

/* Called for each evicted key (after it was removed from d). */
typedef void (*evict_notify_fn)(db *d, sv key);

/* Evicts until under the limit or out of candidates / time. Returns the
 * number of keys evicted; *still_over is set when nothing more can be
 * evicted while still over the limit (writes then get OOM). used_fn re-measures memory after each eviction. */
long evict_run(db *dbs, int ndb, const evict_params *p, size_t (*used_fn)(void), evict_notify_fn notify,
               int *still_over);

#endif
