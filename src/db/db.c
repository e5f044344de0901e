/* db: keyspace operations, lazy and active expiry, LRU/LFU bookkeeping. */
#include "db/db.h"

#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "db/lazyfree.h"
#include "db/lfu.h"

db_hooks db_hooks_installed;

static int64_t now_ms;
static uint32_t lru_clock;
static int lfu_on, lfu_log_factor = 10, lfu_decay_time = 1;
int db_lrm_on;

static sv node_key(const void *n)
{
    return kobj_key((const kobj *)n);
}

static const ktable_type keyspace_type = {util_hash, node_key};

void db_set_time(int64_t ms)
{
    now_ms = ms;
}

int64_t db_time(void)
{
    return now_ms ? now_ms : util_ms();
}

void db_set_lru_clock(uint32_t clock)
{
    lru_clock = clock & 0xFFFFFF;
}

uint32_t db_lru_clock(void)
{
    return lru_clock;
}

void db_set_lfu(int on, int log_factor, int decay_time)
{
    lfu_on = on;
    lfu_log_factor = log_factor;
    lfu_decay_time = decay_time;
}

void db_set_lrm(int on)
{
    db_lrm_on = on;
}

int db_lfu_enabled(void)
{
    return lfu_on;
}

/* ---- LRU / LFU ---- */

/* The LFU minute clock follows the command clock (db_time), so unit tests
 * can move it; the division by a constant compiles to a multiply. */
static uint32_t lfu_now(void)
{
    return (uint32_t)(db_time() / 60000);
}

int db_lfu_counter(kobj *o)
{
    return (int)lfu_decayed(o->lru, lfu_now(), (uint32_t)lfu_decay_time);
}

long long db_lfu_idle_minutes(const kobj *o)
{
    return lfu_idle_minutes(o->lru, lfu_now());
}

/* Runs on every key access, so it stays a handful of integer operations:
 * under LRU a store of the clock; under LRM nothing (changes stamp it, in
 * db_will_change); under LFU a decay, one draw of the cheap PRNG and a
 * multiply (lfu.h). */
void db_touch(kobj *o)
{
    if (!lfu_on) {
        if (!db_lrm_on) {
            o->lru = lru_clock;
        }
        return;
    }
    o->lru = lfu_access(o->lru, lfu_now(), (uint32_t)lfu_log_factor, (uint32_t)lfu_decay_time,
                        (uint32_t)(util_rand64() >> 32));
}

void db_touch_modified(kobj *o)
{
    o->lru = lru_clock;
}

long long db_idle_seconds(const kobj *o)
{
    /* Modular in 24 bits: the clock wraps after 194 days, as Redis's. */
    return (lru_clock - o->lru) & 0xFFFFFF;
}

static void init_access_bits(kobj *o)
{
    o->lru = lfu_on ? lfu_pack(lfu_now(), LFU_INIT_VAL) : lru_clock;
}

int db_set_access(kobj *o, long long idle, long long freq)
{
    if (lfu_on && freq >= 0) {
        o->lru = lfu_pack(lfu_now(), (uint32_t)(freq > LFU_COUNTER_MAX ? LFU_COUNTER_MAX : freq));
        return 1;
    }
    if (!lfu_on && idle >= 0) {
        o->lru = (lru_clock - (uint32_t)(idle > 0xFFFFFF ? 0xFFFFFF : idle)) & 0xFFFFFF;
        return 1;
    }
    return 0;
}

void db_restore_access(kobj *o, long long idle, long long freq)
{
    init_access_bits(o);
    db_set_access(o, idle, freq);
}

/* ---- keyspace ---- */

void db_init(db *d, int id)
{
    memset(d, 0, sizeof(*d));
    d->id = id;
    ktable_init(&d->keys, &keyspace_type);
}

static void free_node(void *n, void *ctx)
{
    (void)ctx;
    kobj_free((kobj *)n);
}

void db_clear(db *d)
{
    db_will_flush(d);
    ktable_clear(&d->keys, free_node, NULL);
    d->expires = 0;
    d->expire_cursor = 0;
    d->avg_ttl = 0;
}

void db_take(db *d, ktable *out, size_t *expires)
{
    db_will_flush(d);
    *out = d->keys;
    *expires = d->expires;
    ktable_init(&d->keys, &keyspace_type);
    d->expires = 0;
    d->expire_cursor = 0;
    d->avg_ttl = 0;
}

uint64_t db_clear_lazy(db *d)
{
    ktable *old = alloc_mem(sizeof(ktable));
    size_t expires;
    db_take(d, old, &expires);
    return lazyfree_table(old);
}

size_t db_size(const db *d)
{
    return ktable_size(&d->keys);
}

int db_is_expired(const kobj *o)
{
    return o->has_expire && kobj_expire(o) <= db_time();
}

/* The value's type is told that it leaves the keyspace (module types'
 * unlink callbacks), while the entry is still whole. */
static void notify_unlink(db *d, kobj *o)
{
    const type_ops *ops = o->type == OBJ_STRING ? NULL : obj_type_ops(o->type);
    if (ops && ops->unlink) {
        ops->unlink(kobj_ptr(o), kobj_key(o), d->id);
    }
}

static void remove_entry(db *d, kobj *o)
{
    sv k = kobj_key(o);
    ktable_unlink(&d->keys, k.ptr, k.len);
    if (o->has_expire) {
        d->expires--;
    }
}

int db_expire_if_needed(db *d, kobj *o)
{
    if (!db_is_expired(o)) {
        return 0;
    }
    if (db_hooks_installed.keep_expired && db_hooks_installed.keep_expired()) {
        return 1; /* hidden, but left for the master's DEL */
    }
    db_expire_now(d, o);
    return 1;
}

void db_expire_now(db *d, kobj *o)
{
    /* The deletion is timed as Redis's "expire-del": it includes saving
     * the entry first when a snapshot has not reached it yet. */
    int64_t start = util_mono_us();
    db_will_change(d, o);
    /* The key bytes live in o: copy before freeing for the hooks. */
    sv k = kobj_key(o);
    char small[128];
    char *kb = k.len <= sizeof(small) ? small : alloc_mem(k.len);
    memcpy(kb, k.ptr, k.len);
    remove_entry(d, o);
    notify_unlink(d, o);
    lazyfree_obj(o, d->id);
    db_report_latency("expire-del", util_mono_us() - start);
    sv key = {kb, k.len};
    if (db_hooks_installed.key_expired) {
        db_hooks_installed.key_expired(d, key);
    }
    if (db_hooks_installed.key_modified) {
        db_hooks_installed.key_modified(d, key);
    }
    if (kb != small) {
        alloc_free(kb);
    }
}

kobj *db_find_raw(db *d, sv key)
{
    return ktable_find(&d->keys, key.ptr, key.len);
}

kobj *db_lookup(db *d, sv key, int flags)
{
    kobj *o = db_find_raw(d, key);
    if (!o) {
        return NULL;
    }
    if (o->has_expire && db_is_expired(o)) {
        int keep = db_hooks_installed.keep_expired ? db_hooks_installed.keep_expired() : 0;
        if (keep != 2) {
            if (flags & LOOKUP_WRITE) {
                /* A writable replica's own write replaces the key: it
                 * must not stay beside the new one (as Redis). */
                db_expire_now(d, o);
            } else if (!(flags & LOOKUP_NOEXPIRE)) {
                db_expire_if_needed(d, o);
            }
            return NULL;
        }
    }
    if (!(flags & LOOKUP_NOTOUCH)) {
        db_touch(o);
    }
    return o;
}

void db_add(db *d, kobj *o)
{
    /* Where expired keys stay hidden (a replica waiting for the primary's
     * DEL), a new key may have an expired namesake: it goes first, so the
     * table never holds the same key twice. */
    if (db_hooks_installed.keep_expired && db_hooks_installed.keep_expired() == 1) {
        kobj *old = db_find_raw(d, kobj_key(o));
        if (old) {
            ASSERT(db_is_expired(old));
            db_expire_now(d, old);
        }
    }
    init_access_bits(o);
    ktable_insert(&d->keys, o);
    if (o->has_expire) {
        d->expires++;
    }
    if (db_hooks_installed.key_new) {
        db_hooks_installed.key_new(d, kobj_key(o));
    }
}

void db_add_loaded(db *d, kobj *o)
{
    init_access_bits(o);
    ktable_insert(&d->keys, o);
    if (o->has_expire) {
        d->expires++;
    }
}

void db_set(db *d, kobj *o)
{
    sv k = kobj_key(o);
    kobj *old = db_find_raw(d, k);
    if (!old) {
        db_add(d, o);
        return;
    }
    db_will_change(d, old);
    /* An overwrite is an access to the key, not a new key: as in Redis (the
     * write lookup touches the old value, which passes its LFU state on),
     * the counter survives, so a key that is written often stays hot. */
    if (lfu_on) {
        o->lru = old->lru;
        db_touch(o);
    } else {
        init_access_bits(o);
    }
    ktable_replace(&d->keys, old, o);
    d->expires += (size_t)o->has_expire - (size_t)old->has_expire;
    notify_unlink(d, old); /* an overwrite is an unlink and an add, as Redis tells modules */
    lazyfree_obj(old, d->id);
}

void db_set_new(db *d, kobj *o)
{
    sv k = kobj_key(o);
    if (!db_find_raw(d, k)) {
        db_add(d, o);
        return;
    }
    db_set(d, o);
    if (db_hooks_installed.key_new) {
        db_hooks_installed.key_new(d, k);
    }
}

void db_swap_entry(db *d, kobj *old, kobj *repl)
{
    db_will_change(d, old);
    ktable_replace(&d->keys, old, repl);
    d->expires += (size_t)repl->has_expire - (size_t)old->has_expire;
}

void db_move_entry(db *d, kobj *old, kobj *repl)
{
    ktable_replace_moved(&d->keys, old, repl);
}

kobj *db_unlink(db *d, sv key)
{
    kobj *o = ktable_unlink(&d->keys, key.ptr, key.len);
    if (o) {
        db_will_change(d, o); /* unlinked, but whole: it can still be saved */
        notify_unlink(d, o);
    }
    if (o && o->has_expire) {
        d->expires--;
    }
    return o;
}

int db_delete(db *d, sv key)
{
    kobj *o = db_unlink(d, key);
    if (!o) {
        return 0;
    }
    lazyfree_obj(o, d->id);
    return 1;
}

kobj *db_set_expire(db *d, kobj *o, int64_t expire)
{
    if (expire < 0 && !o->has_expire) {
        return o;
    }
    db_will_change(d, o);
    if (expire >= 0 && o->has_expire) {
        memcpy(o->data, &expire, sizeof(expire));
        return o;
    }
    /* Adding or removing the inline expiry changes the entry's size: build
     * the new entry, swap it in, then free the old shell. */
    kobj *n = kobj_with_expire(o, expire);
    db_swap_entry(d, o, n);
    kobj_free_shell(o);
    return n;
}

kobj *db_random_key(db *d)
{
    /* An expired pick is deleted and we draw again, so on a master this
     * ends after at most one draw per expired key. Where expired keys are
     * kept (a replica waits for its master's DEL), retries are bounded so a
     * keyspace of only expired keys cannot loop; then one is returned, as
     * Redis does. */
    int kept_tries = 0;
    for (;;) {
        kobj *o = ktable_random(&d->keys);
        if (!o || !db_is_expired(o)) {
            return o;
        }
        if (db_hooks_installed.keep_expired && db_hooks_installed.keep_expired()) {
            if (++kept_tries >= 100) {
                return o;
            }
            continue;
        }
        db_expire_if_needed(d, o);
    }
}

void db_swap(db *a, db *b)
{
    db_will_flush(a);
    db_will_flush(b);
    db t = *a;
    int ida = a->id, idb = b->id;
    *a = *b;
    *b = t;
    a->id = ida;
    b->id = idb;
}

/* ---- active expiry ---- */

typedef struct expire_ctx {
    db *d;
    long sampled;
    long expired;
    double ttl_sum; /* remaining TTLs of the live sampled keys: not an
                       integer, as TTLs near LLONG_MAX ms would overflow it */
    long ttl_live;
} expire_ctx;

static void expire_visit(void *n, void *arg)
{
    expire_ctx *c = arg;
    kobj *o = (kobj *)n;
    if (!o->has_expire) {
        return;
    }
    c->sampled++;
    if (db_expire_if_needed(c->d, o)) {
        c->expired++;
    } else {
        c->ttl_sum += (double)(kobj_expire(o) - db_time());
        c->ttl_live++;
    }
}

/* Each call scans home slots (one per ktable_scan step) until the time budget runs out, with two early
 * stops so that a keyspace with little to reclaim costs little:
 *  - after a fair sample of keys with a TTL, under 10% of them stale: the
 *    TTLs are mostly in the future (many long-TTL keys);
 *  - after EXPIRE_SPARSE_US, fewer than one key reclaimed per
 *    EXPIRE_SPARSE_RATIO slots: keys with a TTL are rare among persistent
 *    ones, and as the table holds both, finding them means walking it.
 *    Walking costs a cache miss per entry (about 0.4 us measured on a 1M
 *    key table), so one unproductive call stays near 1 ms; a 1M-slot
 *    table is still walked in under a minute at hz 10.
 * A wave of expiring keys passes neither test and gets the whole budget
 * (the adaptive part). */
#define EXPIRE_SPARSE_US 1000
#define EXPIRE_SPARSE_RATIO 64

long db_active_expire(db *dbs, int ndb, int64_t budget_us, int *next_db, long *sampled)
{
    int64_t start = util_mono_us();
    long total = 0;
    *sampled = 0;
    for (int i = 0; i < ndb; i++) {
        db *d = &dbs[(*next_db + i) % ndb];
        if (d->expires == 0) {
            d->avg_ttl = 0;
            continue;
        }
        if (db_hooks_installed.keep_expired && db_hooks_installed.keep_expired()) {
            continue;
        }
        expire_ctx c = {d, 0, 0, 0, 0};
        long buckets = 0;
        for (;;) {
            d->expire_cursor = ktable_scan(&d->keys, d->expire_cursor, expire_visit, &c);
            buckets++;
            if (d->expire_cursor == 0 || d->expires == 0) {
                break;
            }
            if ((buckets & 63) == 0) {
                int64_t spent = util_mono_us() - start;
                if (spent > budget_us) {
                    break;
                }
                if (c.sampled >= 200 && c.expired * 10 < c.sampled) {
                    break;
                }
                if (spent > EXPIRE_SPARSE_US && c.expired * EXPIRE_SPARSE_RATIO < buckets) {
                    break;
                }
            }
        }
        total += c.expired;
        *sampled += c.sampled;
        if (d->expires == 0) {
            d->avg_ttl = 0;
        } else if (c.ttl_live) {
            /* INFO's avg_ttl: a running average over the samples, each
             * call weighing 2%, as Redis estimates it. */
            double mean = c.ttl_sum / (double)c.ttl_live;
            long long avg = mean < 9.2e18 ? (long long)mean : 9200000000000000000LL;
            d->avg_ttl = d->avg_ttl ? (d->avg_ttl / 50) * 49 + avg / 50 : avg;
        }
        if (util_mono_us() - start > budget_us) {
            *next_db = (*next_db + i) % ndb;
            return total;
        }
    }
    return total;
}
