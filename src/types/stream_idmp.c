/* stream_idmp: remembered producer iids. See stream_idmp.h.
 *
 * stream_idmp holds a dict of producers; a producer holds a dict of its
 * iids and a ring of the same iids in the order they came, so the oldest
 * (for maxsize and for expiry) is at the ring's head. */
#include "types/stream_idmp.h"

#include <string.h>
#include <xxhash.h>

#include "base/alloc.h"
#include "base/dict.h"
#include "base/util.h"

uint32_t stream_idmp_default_duration = IDMP_DURATION_DEFAULT;
uint32_t stream_idmp_default_maxsize = IDMP_MAXSIZE_DEFAULT;

typedef struct idmp_iid {
    dnode node;
    stream_id id;
    uint32_t len;
    char iid[];
} idmp_iid;

typedef struct idmp_producer {
    dnode node;
    dict index;      /* iid -> idmp_iid */
    idmp_iid **ring; /* oldest first, from head */
    uint32_t cap, head, count;
    uint32_t pidlen;
    char pid[];
} idmp_producer;

struct stream_idmp {
    dict producers;       /* pid -> idmp_producer */
    uint64_t iids;        /* iids remembered across producers */
    unsigned long cursor; /* where the next expiry scan step starts */
};

static sv iid_key(const dnode *n)
{
    const idmp_iid *e = (const idmp_iid *)n;
    return (sv){e->iid, e->len};
}

static sv pid_key(const dnode *n)
{
    const idmp_producer *p = (const idmp_producer *)n;
    return (sv){p->pid, p->pidlen};
}

static const dict_type iid_type = {util_hash, iid_key, NULL};
static const dict_type pid_type = {util_hash, pid_key, NULL};

void stream_idmp_auto_iid(const sv *fv, size_t nfv, unsigned char out[16])
{
    XXH128_hash_t acc = {0, 0};
    char small[512];
    for (size_t i = 0; i + 1 < nfv; i += 2) {
        /* The hash of field and value read as one run of bytes. */
        size_t n = fv[i].len + fv[i + 1].len;
        char *buf = n <= sizeof(small) ? small : alloc_mem(n);
        memcpy(buf, fv[i].ptr, fv[i].len);
        memcpy(buf + fv[i].len, fv[i + 1].ptr, fv[i + 1].len);
        XXH128_hash_t h = XXH3_128bits(buf, n);
        if (buf != small) {
            alloc_free(buf);
        }
        acc.low64 ^= h.low64;
        acc.high64 ^= h.high64;
    }
    memcpy(out, &acc.low64, 8);
    memcpy(out + 8, &acc.high64, 8);
}

/* ---- one producer ---- */

static idmp_iid *ring_at(const idmp_producer *p, uint32_t i)
{
    return p->ring[(p->head + i) % p->cap];
}

static void drop_oldest(stream *s, idmp_producer *p)
{
    idmp_iid *e = p->ring[p->head];
    dict_unlink(&p->index, e->iid, e->len);
    alloc_free(e);
    p->head = (p->head + 1) % p->cap;
    p->count--;
    s->idmp->iids--;
}

static void producer_free(dnode *n, void *ctx)
{
    (void)ctx;
    idmp_producer *p = (idmp_producer *)n;
    dict_clear(&p->index, NULL, NULL); /* unlinks, reading the nodes: before they go */
    for (uint32_t i = 0; i < p->count; i++) {
        alloc_free(ring_at(p, i));
    }
    alloc_free(p->ring);
    alloc_free(p);
}

/* Drops p's iids whose entry is duration or more seconds older than now;
 * forgets p when nothing is left. Returns 0 when p is gone. */
static int producer_expire(stream *s, idmp_producer *p, int64_t now_ms)
{
    uint64_t keep_ms = (uint64_t)s->idmp_duration * 1000;
    if (now_ms > 0 && (uint64_t)now_ms > keep_ms) {
        uint64_t horizon = (uint64_t)now_ms - keep_ms;
        while (p->count && ring_at(p, 0)->id.ms <= horizon) {
            drop_oldest(s, p);
        }
    }
    if (p->count) {
        return 1;
    }
    dict_unlink(&s->idmp->producers, p->pid, p->pidlen);
    producer_free(&p->node, NULL);
    return 0;
}

static idmp_producer *find_producer(stream *s, sv pid)
{
    if (!s->idmp) {
        return NULL;
    }
    return (idmp_producer *)dict_find(&s->idmp->producers, pid.ptr, pid.len);
}

int stream_idmp_find(stream *s, sv pid, sv iid, int64_t now_ms, stream_id *id)
{
    idmp_producer *p = find_producer(s, pid);
    if (!p || !producer_expire(s, p, now_ms)) {
        return 0;
    }
    idmp_iid *e = (idmp_iid *)dict_find(&p->index, iid.ptr, iid.len);
    if (e) {
        *id = e->id;
    }
    return e != NULL;
}

/* Removes iid from p's ring (an iid recorded again moves to the end). */
static void producer_remove(stream *s, idmp_producer *p, idmp_iid *e)
{
    uint32_t i = 0;
    while (ring_at(p, i) != e) {
        i++;
    }
    for (; i + 1 < p->count; i++) {
        p->ring[(p->head + i) % p->cap] = ring_at(p, i + 1);
    }
    p->count--;
    s->idmp->iids--;
    dict_unlink(&p->index, e->iid, e->len);
    alloc_free(e);
}

typedef struct scan_ctx {
    stream *s;
    int64_t now_ms;
    const idmp_producer *keep; /* the producer being written to */
} scan_ctx;

static void scan_expire(dnode *n, void *ctx)
{
    scan_ctx *sc = ctx;
    if ((const idmp_producer *)n != sc->keep) {
        producer_expire(sc->s, (idmp_producer *)n, sc->now_ms);
    }
}

void stream_idmp_record(stream *s, sv pid, sv iid, const stream_id *id, int64_t now_ms)
{
    if (!s->idmp) {
        s->idmp = alloc_zero(sizeof(*s->idmp));
        dict_init(&s->idmp->producers, &pid_type);
    }
    idmp_producer *p = find_producer(s, pid);
    if (!p) {
        p = alloc_zero(sizeof(*p) + pid.len);
        memcpy(p->pid, pid.ptr, pid.len);
        p->pidlen = (uint32_t)pid.len;
        dict_init(&p->index, &iid_type);
        dict_insert(&s->idmp->producers, &p->node);
    }
    idmp_iid *old = (idmp_iid *)dict_find(&p->index, iid.ptr, iid.len);
    if (old) {
        producer_remove(s, p, old);
    }
    uint32_t max = s->idmp_maxsize ? s->idmp_maxsize : 1;
    while (p->count >= max) {
        drop_oldest(s, p);
    }
    if (p->count == p->cap) {
        /* Grow by doubling up to maxsize, unrolling the ring as it goes. */
        uint32_t cap = p->cap ? p->cap * 2 : 4;
        cap = cap > max ? max : cap;
        cap = cap < p->count + 1 ? p->count + 1 : cap;
        idmp_iid **ring = alloc_mem(sizeof(*ring) * cap);
        for (uint32_t i = 0; i < p->count; i++) {
            ring[i] = ring_at(p, i);
        }
        alloc_free(p->ring);
        p->ring = ring;
        p->cap = cap;
        p->head = 0;
    }
    idmp_iid *e = alloc_mem(sizeof(*e) + iid.len);
    e->node.next = NULL;
    e->id = *id;
    e->len = (uint32_t)iid.len;
    memcpy(e->iid, iid.ptr, iid.len);
    dict_insert(&p->index, &e->node);
    p->ring[(p->head + p->count) % p->cap] = e;
    p->count++;
    s->idmp->iids++;
    if (now_ms > 0) {
        /* Two scan steps (a bucket or two each) per new iid. */
        scan_ctx sc = {s, now_ms, p};
        for (int step = 0; step < 2; step++) {
            s->idmp->cursor = dict_scan(&s->idmp->producers, s->idmp->cursor, scan_expire, &sc);
        }
    }
}

/* ---- the whole stream ---- */

/* Calls fn on every producer; fn may forget the one it is given. */
static void each_producer(const stream *s, void (*fn)(stream *s, idmp_producer *p, void *ctx), void *ctx)
{
    if (!s->idmp) {
        return;
    }
    dict_iter it;
    dict_iter_init(&it, &s->idmp->producers);
    dnode *n;
    while ((n = dict_iter_next(&it))) {
        fn((stream *)s, (idmp_producer *)n, ctx);
    }
    dict_iter_done(&it);
}

static void expire_one(stream *s, idmp_producer *p, void *ctx)
{
    producer_expire(s, p, *(const int64_t *)ctx);
}

void stream_idmp_expire(stream *s, int64_t now_ms)
{
    each_producer(s, expire_one, &now_ms);
}

void stream_idmp_clear(stream *s)
{
    if (s->idmp) {
        dict_clear(&s->idmp->producers, producer_free, NULL);
        alloc_free(s->idmp);
        s->idmp = NULL;
    }
}

size_t stream_idmp_pids(const stream *s)
{
    return s->idmp ? dict_size(&s->idmp->producers) : 0;
}

uint64_t stream_idmp_iids(const stream *s)
{
    return s->idmp ? s->idmp->iids : 0;
}

int stream_idmp_in_use(const stream *s)
{
    return stream_idmp_pids(s) || s->iids_added || s->iids_duplicates || s->idmp_duration != IDMP_DURATION_DEFAULT ||
           s->idmp_maxsize != IDMP_MAXSIZE_DEFAULT;
}

typedef struct walk_ctx {
    const stream_idmp_visitor *v;
    void *ctx;
} walk_ctx;

static void walk_one(stream *s, idmp_producer *p, void *ctx)
{
    (void)s;
    walk_ctx *w = ctx;
    w->v->producer(w->ctx, (sv){p->pid, p->pidlen}, p->count);
    for (uint32_t i = 0; i < p->count; i++) {
        const idmp_iid *e = ring_at(p, i);
        w->v->iid(w->ctx, (sv){e->iid, e->len}, &e->id);
    }
}

void stream_idmp_walk(const stream *s, const stream_idmp_visitor *v, void *ctx)
{
    walk_ctx w = {v, ctx};
    each_producer(s, walk_one, &w);
}

typedef struct dup_ctx {
    stream *dst;
    sv pid;
} dup_ctx;

static void dup_producer(void *ctx, sv pid, size_t n)
{
    (void)n;
    ((dup_ctx *)ctx)->pid = pid;
}

static void dup_iid(void *ctx, sv iid, const stream_id *id)
{
    dup_ctx *d = ctx;
    stream_idmp_record(d->dst, d->pid, iid, id, 0);
}

void stream_idmp_dup(stream *dst, const stream *src)
{
    dst->idmp_duration = src->idmp_duration;
    dst->idmp_maxsize = src->idmp_maxsize;
    dst->iids_added = src->iids_added;
    dst->iids_duplicates = src->iids_duplicates;
    static const stream_idmp_visitor v = {dup_producer, dup_iid};
    dup_ctx d = {dst, {NULL, 0}};
    stream_idmp_walk(src, &v, &d);
}

static void mem_one(stream *s, idmp_producer *p, void *ctx)
{
    (void)s;
    size_t n = alloc_usable(p) + dict_slots(&p->index) * sizeof(dnode *) + (p->ring ? alloc_usable(p->ring) : 0);
    for (uint32_t i = 0; i < p->count; i++) {
        n += alloc_usable(ring_at(p, i));
    }
    *(size_t *)ctx += n;
}

size_t stream_idmp_mem(const stream *s)
{
    if (!s->idmp) {
        return 0;
    }
    size_t n = alloc_usable(s->idmp) + dict_slots(&s->idmp->producers) * sizeof(dnode *);
    each_producer(s, mem_one, &n);
    return n;
}

/* ---- active defragmentation ---- */

/* A producer is pointed at by its chain in the producer table, which a
 * defrag scan relinks; an iid by its producer's index chain and ring
 * slot. The walk goes through the producer table with a scan cursor; a
 * scan step covers a bucket (or, while rehashing, the buckets it expands
 * to) whatever its length, so a walk stopped inside one keeps how many of
 * the step's producers it finished and where the next one's ring
 * resumes: *at = {scan cursor, skip << 32 | ring}. ring is 0 when that
 * producer's own blocks still have to move, else 1 + the next iid's ring
 * index. Writes between calls only make the walk miss or repeat some
 * blocks; each call still moves forward. */
typedef struct defrag_walk {
    uint32_t skip, ring; /* from *at */
    uint32_t seen;       /* producers met in this scan step */
    size_t budget, spent;
    int stopped;                /* the budget ran out at producer stop_k ... */
    uint32_t stop_k, stop_ring; /* ... whose ring resumes here (as ring) */
} defrag_walk;

/* A moved iid takes its old place in its ring slot and index chain. */
static void move_iid(idmp_producer *p, uint32_t i)
{
    uint32_t slot = (p->head + i) % p->cap;
    idmp_iid *e = p->ring[slot];
    idmp_iid *m = alloc_defrag(e);
    if (m) {
        p->ring[slot] = m;
        dict_relink_moved(&p->index, &e->node, &m->node);
    }
}

static dnode *move_producer(dnode *n, void *ctx)
{
    defrag_walk *w = ctx;
    uint32_t k = w->seen++;
    if (k < w->skip || w->stopped) {
        return NULL;
    }
    uint32_t ring = k == w->skip ? w->ring : 0;
    if (w->spent >= w->budget) {
        w->stopped = 1;
        w->stop_k = k;
        w->stop_ring = ring;
        return NULL;
    }
    idmp_producer *p = (idmp_producer *)n, *moved = NULL;
    if (ring == 0) {
        /* Nothing points into a producer but its chain: its index (a dict
         * inside it) and ring move with it or on their own. */
        moved = alloc_defrag(p);
        if (moved) {
            p = moved;
        }
        p->ring = alloc_defrag_keep(p->ring);
        dict_defrag_tables(&p->index);
        w->spent++;
        ring = 1;
    }
    uint32_t i = ring - 1;
    for (; i < p->count && w->spent < w->budget; i++, w->spent++) {
        move_iid(p, i);
    }
    if (i < p->count) {
        w->stopped = 1;
        w->stop_k = k;
        w->stop_ring = i + 1;
    }
    return moved ? &moved->node : NULL;
}

void stream_idmp_defrag_top(stream *s)
{
    if (!s->idmp) {
        return;
    }
    s->idmp = alloc_defrag_keep(s->idmp);
    dict_defrag_tables(&s->idmp->producers);
}

int stream_idmp_defrag_step(stream *s, stream_id *at, size_t budget, size_t *spent)
{
    if (!s->idmp) {
        return 0;
    }
    defrag_walk w = {(uint32_t)(at->seq >> 32), (uint32_t)at->seq, 0, budget ? budget : 1, 0, 0, 0, 0};
    unsigned long v = (unsigned long)at->ms;
    int more = 1;
    while (w.spent < w.budget) {
        w.seen = 0;
        unsigned long next = dict_defrag_scan(&s->idmp->producers, v, move_producer, &w);
        if (w.stopped) {
            break;
        }
        v = next;
        w.skip = w.ring = 0;
        if (v == 0) {
            more = 0;
            break;
        }
    }
    *spent += w.spent;
    *at = (stream_id){v, w.stopped ? (uint64_t)w.stop_k << 32 | w.stop_ring : (uint64_t)w.skip << 32 | w.ring};
    return more;
}
