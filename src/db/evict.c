/* evict: sampling eviction with a candidate pool. */
#include "db/evict.h"

#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "db/lazyfree.h"

#define POOL_SIZE 16
#define KEY_COPY_MAX 255

typedef struct candidate {
    unsigned long long score; /* higher = evict first */
    int dbid;
    size_t keylen;
    char key[KEY_COPY_MAX];
    int used;
} candidate;

static candidate pool[POOL_SIZE];

static int volatile_only(int policy)
{
    return policy == EVICT_VOLATILE_LRU || policy == EVICT_VOLATILE_LFU || policy == EVICT_VOLATILE_RANDOM ||
           policy == EVICT_VOLATILE_TTL;
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
    case EVICT_VOLATILE_LRU: return (unsigned long long)db_idle_seconds(o);
    case EVICT_ALLKEYS_LFU:
    case EVICT_VOLATILE_LFU: {
        unsigned long long idle = (unsigned long long)db_lfu_idle_minutes(o);
        return ((255 - (unsigned long long)db_lfu_counter(o)) << 16) | (idle > 0xFFFF ? 0xFFFF : idle);
    }
    case EVICT_VOLATILE_TTL: return ~0ULL - (unsigned long long)kobj_expire(o);
    default: return util_rand64();
    }
}

/* Inserts into the pool if better than its worst entry. */
static void pool_offer(int dbid, kobj *o, int policy)
{
    sv k = kobj_key(o);
    if (k.len > KEY_COPY_MAX) {
        return; /* very long keys are still reachable through other samples */
    }
    unsigned long long s = score_of(o, policy);
    int worst = -1;
    for (int i = 0; i < POOL_SIZE; i++) {
        if (pool[i].used && pool[i].dbid == dbid && pool[i].keylen == k.len && memcmp(pool[i].key, k.ptr, k.len) == 0) {
            pool[i].score = s;
            return;
        }
        if (!pool[i].used) {
            worst = i;
            break;
        }
        if (worst < 0 || pool[i].score < pool[worst].score) {
            worst = i;
        }
    }
    if (pool[worst].used && pool[worst].score >= s) {
        return;
    }
    pool[worst].used = 1;
    pool[worst].score = s;
    pool[worst].dbid = dbid;
    pool[worst].keylen = k.len;
    memcpy(pool[worst].key, k.ptr, k.len);
}

typedef struct sample_ctx {
    int dbid;
    int policy;
    int want;
    int got;
} sample_ctx;

static void sample_visit(dnode *n, void *arg)
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

/* Samples up to `samples` keys from each db starting at random cursors. */
static void fill_pool(db *dbs, int ndb, int policy, int samples)
{
    for (int i = 0; i < ndb; i++) {
        db *d = &dbs[i];
        if (db_size(d) == 0 || (volatile_only(policy) && d->expires == 0)) {
            continue;
        }
        sample_ctx s = {i, policy, samples, 0};
        unsigned long cursor = (unsigned long)util_rand64();
        /* A bounded number of buckets, so a sparse table cannot stall. */
        for (int b = 0; b < samples * 8 && s.got < s.want; b++) {
            cursor = dict_scan(&d->keys, cursor, sample_visit, &s);
        }
    }
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
    while (used > p->limit) {
        fill_pool(dbs, ndb, p->policy, p->samples);
        int dbid = 0;
        kobj *o = pool_take(dbs, p->policy, &dbid);
        if (!o) {
            /* The pool may have held only stale names (keys deleted since,
             * e.g. by FLUSHALL) that kept fresh samples out; it is empty
             * now, so sample once more before concluding. */
            fill_pool(dbs, ndb, p->policy, p->samples);
            o = pool_take(dbs, p->policy, &dbid);
        }
        if (!o) {
            break; /* nothing evictable: writes get OOM */
        }
        db *d = &dbs[dbid];
        sv k = kobj_key(o);
        char buf[KEY_COPY_MAX];
        size_t klen = k.len;
        memcpy(buf, k.ptr, klen);
        db_delete(d, k);
        evicted++;
        if (notify) {
            notify(d, (sv){buf, klen});
        }
        used = used_fn();
        if (util_mono_us() - start > budget_us) {
            out_of_time = 1;
            break;
        }
    }
    /* Out of time is not out of candidates: let the write through and keep
     * evicting from cron, as Redis does; only "nothing left" means OOM. */
    *still_over = used > p->limit && !out_of_time;
    return evicted;
}
