/* type_memory: the dataset's bytes per type (strings, lists, sets, sorted
 * sets, hashes, streams) for /metrics, the dashboard and MEMORY STATS.
 *
 * Measured, not maintained. Collections grow and shrink in place through
 * dozens of type operations; exact counters would put bookkeeping on every
 * write. Instead a pass over the keyspace, advanced from cron in slices of
 * at most TYPE_MEMORY_BUDGET_US, adds up each entry's bytes (kobj_mem:
 * what MEMORY USAGE reports, less the table slot) by type. A complete pass
 * replaces the published figures; a new one starts at most once a second,
 * so the write path pays nothing and the loop at most 2.5 ms a second.
 * While nobody reads the figures (no metrics endpoint, no MEMORY STATS for
 * TYPE_MEMORY_WANTED_MS) and the last pass counted about as many keys as
 * there are (within 10%, or 100 keys), the slices shrink
 * to TYPE_MEMORY_IDLE_US: the pass goes on ten times slower, and a cron
 * tick no longer holds every client's reply back by a quarter of a
 * millisecond (measured with 100k keys: a tick took 260 us on average,
 * now 40 us).
 *
 * Accuracy, stated with the figures: each key counts as it was when the
 * pass reached it (a key added during a pass may or may not count), so
 * the figures are as old as the pass is long (its duration is published;
 * measured at hz 10: 6 s for 21k keys of which 1k collections of 200
 * elements, 4 to 5 minutes for 1M small strings; a higher hz runs more
 * slices a second); hashes, sets
 * and sorted sets of more than 4096 elements are measured from their first
 * 4096 and extrapolated, as MEMORY USAGE does; a table resized during a
 * pass may have a few keys visited twice (every key present for the whole
 * pass is visited at least once). The sum leaves out the table slots
 * (used_memory_overhead), so it sits just under used_memory_dataset, which
 * also holds the server's own structures (about 0.5 MB when empty). */
#ifndef KEEL_TYPE_MEMORY_H
#define KEEL_TYPE_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

/* Loop time one cron step may spend: 250 us at hz 10 is 0.25% of it. */
#define TYPE_MEMORY_BUDGET_US 250
/* The same while nobody reads the figures. */
#define TYPE_MEMORY_IDLE_US 25
/* How long a reading (MEMORY STATS, a metrics snapshot) keeps the pass at
 * full pace. */
#define TYPE_MEMORY_WANTED_MS (5 * 60 * 1000)
/* dict_scan steps between two looks at the clock. */
#define TYPE_MEMORY_CLOCK_EVERY 16
/* A new pass starts no sooner than this after the last one started. */
#define TYPE_MEMORY_INTERVAL_MS 1000

typedef struct type_memory {
    size_t bytes[OBJ_TYPES]; /* by type number (OBJ_STRING ...) */
    size_t keys[OBJ_TYPES];
    int64_t pass_ms; /* how long the pass took, start to end */
    int64_t done_ms; /* when it ended */
    int known;       /* 0 until the first pass ends */
} type_memory;

/* From cron: one bounded step of the pass over dbs[0..ndb) (starting a
 * new one when the interval has passed). now_ms is the server's clock. */
void type_memory_step(db *dbs, int ndb, int64_t now_ms);
/* The figures of the last complete pass. now_ms (the server's clock)
 * marks them as wanted: the pass runs at full pace for a while. */
const type_memory *type_memory_last(int64_t now_ms);
/* The types the figures cover, in the order reports list them, with
 * their TYPE names (fixed here: the HTTP thread and unit tests read them
 * without the types' registration). */
#define TYPE_MEMORY_NTYPES 7
extern const struct type_memory_type {
    int type;
    const char *name;
} type_memory_types[TYPE_MEMORY_NTYPES];

#endif
