/* db: the keyspace. Numbered databases of keyspace entries (kobj) with lazy
 * expiry on access, the active expiry cycle, and hooks through which the
 * server learns of every change (WATCH, keyspace events, blocked clients,
 * propagation of expirations). */
#ifndef KEEL_DB_H
#define KEEL_DB_H

#include <stddef.h>
#include <stdint.h>

#include "base/ktable.h"
#include "db/object.h"

typedef struct db {
    int id;
    ktable keys;
    size_t expires;              /* keys with a TTL */
    unsigned long expire_cursor; /* where the active cycle resumes */
    long long avg_ttl;
} db;

/* Lookup flags. */
#define LOOKUP_NONE 0
#define LOOKUP_NOTOUCH 1  /* do not update LRU/LFU (TYPE, OBJECT, TTL...) */
#define LOOKUP_NOEXPIRE 2 /* do not delete an expired key (still hidden) */
#define LOOKUP_WRITE 4    /* a client's write: an expired key a replica keeps for the primary's DEL goes now */

/* Hooks the server installs; each may be NULL. */
typedef struct db_hooks {
    /* A key was written, deleted or expired (WATCH, tracking). */
    void (*key_modified)(db *d, sv key);
    /* A key expired and was removed (propagate DEL, keyspace event). */
    void (*key_expired)(db *d, sv key);
    /* A key was created (not replaced): the "new" keyspace event. */
    void (*key_new)(db *d, sv key);
    /* Refuse lazy deletion (on a replica): 1 keeps an expired key hidden,
     * 2 keeps it visible (the replica's master client sees what its
     * primary sees until the primary's DEL arrives). */
    int (*keep_expired)(void);
    /* A key's value is about to change or go away (forkless snapshots save
     * it first); called only while o->snap differs from kobj_snap_parity. */
    void (*before_change)(db *d, kobj *o);
    /* Every key of d is about to change (FLUSHDB, SWAPDB). */
    void (*before_flush)(db *d);
    /* A timed step of the keyspace's own work took us microseconds: the
     * latency monitor's "expire-del" and "eviction-del" events. */
    void (*latency)(const char *event, int64_t us);
} db_hooks;

extern db_hooks db_hooks_installed;

/* Set under the LRM policies (Redis 8.6): the 24 access bits then hold
 * the time of the last change, which db_touch_modified stamps. */
extern int db_lrm_on;
void db_touch_modified(kobj *o);

/* Every path that changes or removes an existing entry calls this first
 * (the db functions below do; commands get it through lookup_write). */
static inline void db_will_change(db *d, kobj *o)
{
    if (o->snap != kobj_snap_parity && db_hooks_installed.before_change) {
        db_hooks_installed.before_change(d, o);
    }
    if (db_lrm_on) {
        db_touch_modified(o);
    }
}

static inline void db_report_latency(const char *event, int64_t us)
{
    if (db_hooks_installed.latency) {
        db_hooks_installed.latency(event, us);
    }
}

static inline void db_will_flush(db *d)
{
    if (db_hooks_installed.before_flush) {
        db_hooks_installed.before_flush(d);
    }
}

/* The time expiry decisions use: set by dispatch once per command so a
 * command, a transaction or a script sees one consistent clock. */
void db_set_time(int64_t ms);
int64_t db_time(void);
/* LRU clock (seconds, 24 bits) kept in each entry on access. */
void db_set_lru_clock(uint32_t clock);
/* 0 = LRU, 1 = LFU (with log factor and decay time in minutes). */
void db_set_lfu(int on, int log_factor, int decay_time);
/* 1 = LRM: like LRU, but only changes move a key's clock, not reads. */
void db_set_lrm(int on);
int db_lfu_enabled(void);
uint32_t db_lru_clock(void);

void db_init(db *d, int id);
/* Frees every key (synchronously). */
void db_clear(db *d);
size_t db_size(const db *d);

kobj *db_lookup(db *d, sv key, int flags);
/* Lookup that ignores expiry entirely (for internal moves). */
kobj *db_find_raw(db *d, sv key);
/* Adds an entry whose key is absent. Counts its TTL. */
void db_add(db *d, kobj *o);
/* The same for a key a snapshot load brings in: no keyspace event (Redis
 * sends none while loading), the table may not be the live one (a
 * replica's swapdb load) and holds no namesake (the loader checks). */
void db_add_loaded(db *d, kobj *o);
/* Adds or overwrites; the old entry (if any) is freed. */
void db_set(db *d, kobj *o);
/* db_set for a key that replaces any old one as a new key (RENAME, COPY
 * and RESTORE REPLACE delete the target and add anew in Redis): the
 * key_new hook runs whether or not there was an old entry. */
void db_set_new(db *d, kobj *o);
/* Puts `repl` in place of `old` (same key); frees neither. */
void db_swap_entry(db *d, kobj *old, kobj *repl);
/* The entry was moved in memory (active defragmentation): `repl` takes
 * the place of old, which is already freed (only its address is used);
 * nothing about the key changed, so no hook runs. */
void db_move_entry(db *d, kobj *old, kobj *repl);
/* Removes a key; returns 1 if it existed. Frees it (lazily when asked). */
int db_delete(db *d, sv key);
/* Removes and returns the entry without freeing it (RENAME and MOVE
 * take it elsewhere); its type is told it left (type_ops.unlink), as
 * Redis 7.0 tells a module of a key renamed or moved away. */
kobj *db_unlink(db *d, sv key);
/* Sets or clears (expire < 0) the TTL; returns the (possibly new) entry. */
kobj *db_set_expire(db *d, kobj *o, int64_t expire);
int db_is_expired(const kobj *o);
/* Deletes o if expired (calling key_expired); returns 1 if it was. */
int db_expire_if_needed(db *d, kobj *o);
/* Deletes expired o as expiry does (hooks called), whoever keeps keys. */
void db_expire_now(db *d, kobj *o);
kobj *db_random_key(db *d);
/* Swaps the contents of two databases (SWAPDB). */
void db_swap(db *a, db *b);
/* Moves all keys out, leaving d empty; returns the old table for freeing. */
void db_take(db *d, ktable *out, size_t *expires);
/* Empties d, its keys freed on the lazyfree thread; returns the ticket
 * (lazyfree_done). */
uint64_t db_clear_lazy(db *d);

/* One bounded round of active expiry over the given databases: samples
 * keys with TTLs and deletes the expired; stops after time_budget_us.
 * Returns keys expired; *sampled gets how many keys with a TTL it looked at. */
long db_active_expire(db *dbs, int ndb, int64_t time_budget_us, int *next_db, long *sampled);

/* Update LRU/LFU on access. */
void db_touch(kobj *o);
/* Idle seconds (LRU) and LFU counter for OBJECT IDLETIME/FREQ. */
long long db_idle_seconds(const kobj *o);
int db_lfu_counter(kobj *o);
/* Minutes since the last access under LFU (the eviction tie-break). */
long long db_lfu_idle_minutes(const kobj *o);
/* Fresh access bits for a restored entry, then RESTORE's IDLETIME (under
 * LRU) or FREQ (under LFU) when given (>= 0), as Redis applies them. */
void db_restore_access(kobj *o, long long idle, long long freq);
/* Sets the idle time in seconds (under an LRU policy) or the LFU counter
 * (under an LFU one; -1 leaves it) of an entry; 1 if the policy tracks the
 * one given. */
int db_set_access(kobj *o, long long idle, long long freq);

#endif
