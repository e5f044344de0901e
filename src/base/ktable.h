/* ktable: an open-addressing hash table of pointers to caller-owned
 * entries, built for the keyspace, where a chained table's link pointer
 * would be 8 of a small key's ~40 bytes.
 *
 * Each slot is one 64-bit word: the entry pointer in the low 48 bits, its
 * distance from its home slot (saturating at 255) and 8 bits of its hash
 * above. Robin Hood placement keeps probes short at 90% load; deletion
 * shifts the run back, so there are no tombstones. Sizes need not be powers
 * of two: the home slot is the hash scaled to the size, so the table can sit
 * between 70% and 90% full at any size, and the home order is the hash
 * order, which is what lets a scan cursor (a hash position) survive any
 * resize. Growing and shrinking are incremental, as in dict: two tables
 * while entries move, new entries going to the new one. */
#ifndef KEEL_KTABLE_H
#define KEEL_KTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "base/str.h"

typedef struct ktable_type {
    uint64_t (*hash)(const void *key, size_t len);
    sv (*node_key)(const void *node); /* the entry's key bytes */
} ktable_type;

typedef struct ktable {
    const ktable_type *type;
    uint64_t *slots[2];
    size_t size[2];  /* home slots; the array has spill[t] more at its end */
    size_t spill[2]; /* room for runs that pass the last home slot */
    size_t used[2];
    size_t rehash_idx; /* table 0's slots below this have moved */
    int rehashing;
    int pause_rehash; /* iterators and scans in progress */
    int crowded;      /* an insert walked CROWDED_WALK slots (ktable.c) */
    /* The slot of the last entry found or replaced: a command looks its key
     * up, then replaces or unlinks it (SET over a key, INCR). Trusted only
     * while that slot still holds that entry, so nothing need reset it. */
    int last_tab;
    size_t last_pos;
    const void *last_node;
    uint64_t last_hash;
} ktable;

typedef void (*ktable_fn)(void *node, void *ctx);

void ktable_init(ktable *t, const ktable_type *type);
/* Empties the table, calling free_fn (may be NULL) on each entry. */
void ktable_clear(ktable *t, ktable_fn free_fn, void *ctx);
size_t ktable_size(const ktable *t);
/* Slots allocated (memory accounting: 8 bytes each). */
size_t ktable_slots(const ktable *t);
/* The longest run of occupied slots in either table (tests). */
size_t ktable_longest_run(const ktable *t);
void *ktable_find(ktable *t, const char *key, size_t len);
/* Adds an entry whose key must not be present. */
void ktable_insert(ktable *t, void *node);
/* Removes and returns the entry with this key, or NULL. */
void *ktable_unlink(ktable *t, const char *key, size_t len);
/* Puts `repl` where `old` is (same key): an entry was reallocated. */
void ktable_replace(ktable *t, void *old, void *repl);
/* The same when old is a moved entry's former address (active
 * defragmentation): old is only compared, never read. */
void ktable_replace_moved(ktable *t, const void *old, void *repl);
/* A random entry (uniform unless the table is very sparse), or NULL. */
void *ktable_random(ktable *t);
int ktable_is_rehashing(const ktable *t);
/* Moves at most n entries; returns 1 if more remain. */
int ktable_rehash(ktable *t, int n);
/* Moves entries for about ms milliseconds; returns entries moved. */
int ktable_rehash_ms(ktable *t, int ms);
/* Sizes the table for about n entries at once (a loader that knows the
 * count skips the resizes of growing step by step). */
void ktable_reserve(ktable *t, size_t n);
/* Shrinks a table left mostly empty by deletions; called by cron. */
void ktable_resize_to_fit(ktable *t);

/* Scan: each step visits the entries of one hash range; the cursor is the
 * range's end (a hash position, below 2^48 so every client keeps it exact),
 * 0 when done. An entry present for the whole scan is visited exactly once,
 * across any resizes. fn may delete the entry it is given, no other. */
unsigned long ktable_scan(ktable *t, unsigned long cursor, ktable_fn fn, void *ctx);

/* Plain iteration; moving entries is paused while it lasts. The caller may
 * delete the entry it was just given; an insert may make one come twice. */
typedef struct ktable_iter {
    ktable *t;
    int table;
    size_t idx;
    void *last;
} ktable_iter;
void ktable_iter_init(ktable_iter *it, ktable *t);
void *ktable_iter_next(ktable_iter *it);
void ktable_iter_done(ktable_iter *it);

#endif
