/* evict: sampling eviction with a candidate pool.
 *
 * Each round samples maxmemory-samples keys from every database (from
 * random scan cursors) into one pool of the POOL_SIZE best victims seen so
 * far, across databases, and evicts the best. The pool remembers names, not
 * entries, so a candidate is looked up (and rescored) before it goes. */
#include "db/evict.h"

#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "db/lazyfree.h"

#define POOL_SIZE 16
/* Names up to this long are kept inline; longer ones get their own copy. */
#define KEY_INLINE 64

typedef struct candidate {
    unsigned long long score; /* higher = evict first */
    int dbid;
    int used;
    size_t keylen;
    char *key; /* inline, or an allocation for a long name */
    char inline_key[KEY_INLINE];
} candidate;

static candidate pool[POOL_SIZE];

static void candidate_set_key(candidate *cd, sv k)
{
    if (cd->key && cd->key != cd->inline_key) {
        alloc_free(cd->key);
    }
    cd->key = k.len <= KEY_INLINE ? cd->inline_key : alloc_mem(k.len);
    memcpy(cd->key, k.ptr, k.len);
    cd->keylen = k.len;
}

static int volatile_only(int policy)
{
    return policy == EVICT_VOLATILE_LRU || policy == EVICT_VOLATILE_LFU || policy == EVICT_VOLATILE_RANDOM ||
           policy == EVICT_VOLATILE_TTL || policy == EVICT_VOLATILE_LRM;
}

static int random_policy(int policy)
{
    return policy == EVICT_ALLKEYS_RANDOM || policy == EVICT_VOLATILE_RANDOM;
}

/* Higher = a better victim. LFU ranks by the decayed counter and, among
 * equal counters (most keys, since the counter is logarithmic), by minutes
 * since the last access, so the staler of two equally used keys goes. */
static unsigned long long score_of(kobj *o, int policy)
{
    switch (policy) {
    case EVICT_ALLKEYS_LRU:
    case EVICT_VOLATILE_LRU:
    case EVICT_ALLKEYS_LRM: /* the same clock, moved by changes only */
    case EVICT_VOLATILE_LRM: return (unsigned long long)db_idle_seconds(o);
    case EVICT_ALLKEYS_LFU:
    case EVICT_VOLATILE_LFU: {
        unsigned long long idle = (unsigned long long)db_lfu_idle_minutes(o);
        return ((255 - (unsigned long long)db_lfu_counter(o)) << 16) | (idle > 0xFFFF ? 0xFFFF : idle);
    }
    case EVICT_VOLATILE_TTL: return ~0ULL - (unsigned long long)kobj_expire(o);
    default: return util_rand64();
    }
}

/* Inserts into the pool if better than its worst entry (a name already
 * there only gets the new score). */
static void pool_offer(int dbid, kobj *o, int policy)
{
    sv k = kobj_key(o);
    unsigned long long s = score_of(o, policy);
    int slot = -1;
    for (int i = 0; i < POOL_SIZE; i++) {
        candidate *cd = &pool[i];
        if (!cd->used) {
            if (slot < 0 || pool[slot].used) {
                slot = i;
            }
            continue;
        }
        if (cd->dbid == dbid && cd->keylen == k.len && memcmp(cd->key, k.ptr, k.len) == 0) {
            cd->score = s;
            return;
        }
        if (slot < 0 || (pool[slot].used && cd->score < pool[slot].score)) {
            slot = i;
        }
    }
    candidate *cd = &pool[slot];
    if (cd->used && cd->score >= s) {
        return;
    }
    cd->used = 1;
    cd->score = s;
    cd->dbid = dbid;
    candidate_set_key(cd, k);
}

typedef struct sample_ctx {
    int dbid;
    int policy;
    int want;
    int got;
} sample_ctx;

static void sample_visit(void *n, void *arg)
{
    sample_ctx *s = arg;
    kobj *o = (kobj *)n;
    if (s->got >= s->want) {
        return;
    }
    if (volatile_only(s->policy) && !o->has_expire) {
        return;
    }
    pool_offer(s->dbid, o, s->policy);
    s->got++;
}

/* Samples up to `samples` keys from each db starting at random cursors.
 * The number of buckets visited is bounded so a sparse table cannot stall;
 * under a volatile policy the bound grows (up to 64 times) with the share
 * of keys without a TTL, since those are skipped: Redis samples a separate
 * table of keys with TTLs, we sample the one keyspace. */
static void fill_pool(db *dbs, int ndb, int policy, int samples)
{
    for (int i = 0; i < ndb; i++) {
        db *d = &dbs[i];
        size_t size = db_size(d);
        if (size == 0 || (volatile_only(policy) && d->expires == 0)) {
            continue;
        }
        size_t spread = volatile_only(policy) ? size / d->expires : 1;
        if (spread > 64) {
            spread = 64;
        }
        sample_ctx s = {i, policy, samples, 0};
        /* A random place in the hash order (cursors are below 2^48). */
        unsigned long cursor = (unsigned long)(util_rand64() >> 16);
        size_t buckets = (size_t)samples * 8 * (spread ? spread : 1);
        for (size_t b = 0; b < buckets && s.got < s.want; b++) {
            cursor = ktable_scan(&d->keys, cursor, sample_visit, &s);
        }
    }
}

/* Whether any key could be a victim under the policy. */
static int has_candidates(db *dbs, int ndb, int policy)
{
    for (int i = 0; i < ndb; i++) {
        if (volatile_only(policy) ? dbs[i].expires > 0 : db_size(&dbs[i]) > 0) {
            return 1;
        }
    }
    return 0;
}

/* Takes the best live candidate out of the pool. A name in the pool may be
 * stale: the key deleted, or used (or rewritten, or given another TTL)
 * since it was sampled. So the best entry is looked up and scored again
 * before it goes; if its score dropped, the entry keeps its place with the
 * new score and the pool is asked again. Refreshes are capped per call
 * (each costs a lookup), after which the best entry goes as it is. */
static kobj *pool_take(db *dbs, int policy, int *dbid)
{
    int refreshes = 0;
    for (;;) {
        int best = -1;
        for (int i = 0; i < POOL_SIZE; i++) {
            if (pool[i].used && (best < 0 || pool[i].score > pool[best].score)) {
                best = i;
            }
        }
        if (best < 0) {
            return NULL;
        }
        candidate *cd = &pool[best];
        kobj *o = db_find_raw(&dbs[cd->dbid], (sv){cd->key, cd->keylen});
        if (!o || (volatile_only(policy) && !o->has_expire)) {
            cd->used = 0;
            continue;
        }
        if (!random_policy(policy) && refreshes < POOL_SIZE) {
            unsigned long long now = score_of(o, policy);
            if (now < cd->score) {
                cd->score = now;
                refreshes++;
                continue;
            }
        }
        cd->used = 0;
        *dbid = cd->dbid;
        return o;
    }
}

long evict_run(db *dbs, int ndb, const evict_params *p, size_t (*used_fn)(void), evict_notify_fn notify,
               int *still_over)
{
    long evicted = 0;
    size_t used = p->used;
    *still_over = used > p->limit;
    if (!*still_over || p->policy == EVICT_NONE) {
        return 0;
    }
    /* Tenacity scales the time one call may spend: 10 (default) = 0.5 ms,
     * 100 = effectively until done (bounded at 50 ms for latency). */
    int64_t budget_us = p->tenacity >= 100 ? 50000 : 50 * (int64_t)(p->tenacity ? p->tenacity : 1);
    int64_t start = util_mono_us();
    int out_of_time = 0;
    /* As Redis: free what was over when the pass began, counting only what
     * the deletions themselves give back. The news of each eviction (the
     * DEL for replicas, invalidations to tracking clients) takes memory
     * too; counting it would evict more to make room for the news of
     * evicting, and could drain the database. */
    size_t to_free = used - p->limit, freed = 0;
    while (freed < to_free) {
        int dbid = 0;
        kobj *o = NULL;
        for (;;) {
            fill_pool(dbs, ndb, p->policy, p->samples);
            o = pool_take(dbs, p->policy, &dbid);
            if (o || !has_candidates(dbs, ndb, p->policy)) {
                break;
            }
            /* Candidates exist but this round's samples missed them (a
             * pool of stale names, or a few keys with a TTL among many
             * without): sample again while the time budget lasts. */
            if (util_mono_us() - start > budget_us) {
                out_of_time = 1;
                break;
            }
        }
        if (!o) {
            break; /* nothing evictable: writes get OOM (or out of time) */
        }
        db *d = &dbs[dbid];
        sv k = kobj_key(o);
        /* The notification needs the name after the entry is gone. */
        char small[KEY_INLINE];
        char *name = k.len <= KEY_INLINE ? small : alloc_mem(k.len);
        size_t klen = k.len;
        memcpy(name, k.ptr, klen);
        /* Timed as Redis's "eviction-del": the deletion alone, including
         * saving the entry first when a snapshot has not reached it. */
        int64_t del_start = util_mono_us();
        size_t before = used_fn();
        db_delete(d, k);
        size_t after = used_fn();
        db_report_latency("eviction-del", util_mono_us() - del_start);
        freed += before > after ? before - after : 0;
        evicted++;
        if (notify) {
            notify(d, (sv){name, klen});
        }
        if (name != small) {
            alloc_free(name);
        }
        /* A big value is freed in the background: its memory returns
         * later, so every 16 evictions the real figure decides. */
        if ((evicted & 15) == 0 && used_fn() <= p->limit) {
            break;
        }
        if (util_mono_us() - start > budget_us) {
            out_of_time = 1;
            break;
        }
    }
    /* Out of time is not out of candidates: let the write through and keep
     * evicting from cron, as Redis does; only "nothing left" means OOM. */
    *still_over = freed < to_free && used_fn() > p->limit && !out_of_time;
    return evicted;
}
