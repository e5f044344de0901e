/* defrag: active defragmentation (activedefrag), with Redis 7's configs
 * and INFO fields.
 *
 * A cache that churns leaves its allocator's slabs partly empty: memory
 * the process holds but the data does not use (INFO allocator_frag_ratio).
 * When that waste passes active-defrag-threshold-lower percent and
 * active-defrag-ignore-bytes, a cycle walks the keyspace from cron, a
 * slice per tick, and moves each block the allocator says sits in an
 * emptier-than-average slab (base/alloc.h: alloc_defrag), so emptied
 * slabs give their pages back. The slice takes between active-defrag-
 * cycle-min and -max percent of the CPU, more as the waste nears
 * active-defrag-threshold-upper; a value of more than
 * active-defrag-max-scan-fields elements is done over several slices.
 *
 * Nothing is moved while a snapshot or a child process runs (a fork's
 * pages would be copied for nothing). Commands never hold an entry across
 * a slice (db/object.h), so only the keyspace and the values' own
 * pointers need fixing. */
#ifndef KEEL_DEFRAG_H
#define KEEL_DEFRAG_H

#include <stdint.h>

/* Runs from cron, every tick: starts, advances or ends the cycle. */
void defrag_cron(void);
/* A load (start-up, DEBUG RELOAD/LOADAOF, a replica's full sync) blocks
 * the event loop, so cron does not run: it calls this between keys, and
 * the cycle gets the ticks it missed since, as in Redis 7.0, so a dataset
 * loaded from a fragmenting AOF is defragmented as it arrives. */
void defrag_while_loading(void);

/* DEBUG DEFRAG: the pass, now, whatever the configs: all of it (steps 0)
 * or that many work items of it (a few keys, or one step of a big value),
 * going on from where the last call stopped, so tests interleave writes;
 * with force, every block is moved (tests: pointer fix-ups). Returns the
 * blocks moved. */
long long defrag_pass_now(int force, long long steps);

/* When the running slice must end (util_mono_us), 0 for none: a module's
 * DefragShouldStop asks. */
int64_t defrag_deadline_us(void);

/* CONFIG RESETSTAT: the counts and times INFO shows start again from 0. */
void defrag_reset_stats(void);

typedef struct defrag_info {
    int running;          /* CPU percent of the running cycle, 0 if none */
    long long hits;       /* blocks moved */
    long long misses;     /* blocks asked about and left */
    long long key_hits;   /* keys with a block moved */
    long long key_misses; /* keys left as they were */
    long long total_ms;   /* time cycles have been running */
    long long current_ms; /* of the running cycle */
} defrag_info;
void defrag_get_info(defrag_info *out);

#endif
