/* hnsw: see the header for the model and the distances.
 *
 * A node is one allocation: a 40-byte header, the stored vector padded to
 * 8 bytes, a table of (count, room) pairs, one per level, and then the
 * link arrays of every level one after another (level 0 first: searches
 * spend most of their time there, and its links start at a fixed offset).
 * The room of a node never changes, so links come and go in place.
 *
 * Searches keep their heaps and scratch arrays in the graph and grow them
 * as needed, and mark visited nodes with an epoch number kept in the node,
 * so a search allocates nothing per node it looks at.
 *
 * While a saved graph is loaded, link slots hold the saved node ids (a
 * slot is 8 bytes either way) until hnsw_load_finish turns them into
 * pointers; until it has succeeded, nothing here follows a link. */
#include "ds/hnsw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"

/* Link slots hold ids before loading resolves them. */
_Static_assert(sizeof(hnsw_node *) == sizeof(uint64_t), "link slots must hold a 64-bit id");

/* How many links a node may have at one level, and how many it has. Room
 * is at most 4 * HNSW_MAX_M = 16384, so 16 bits each suffice. */
typedef struct hnsw_lv {
    uint16_t n;
    uint16_t max;
} hnsw_lv;

/* 40 bytes: at dim 100 and M 16 a level-0 F32 node takes 40 + 400 + 8 +
 * 32 * 8 = 704 bytes (768 with jemalloc's size class). */
struct hnsw_node {
    void *value;
    uint64_t id;
    uint64_t index; /* place in the node array */
    uint32_t epoch; /* search that last visited it */
    float l2;       /* length before normalization */
    float range;    /* Q8 scale (0 in the other forms) */
    unsigned level : 4;
    unsigned vwords : 28; /* stored vector, in 8-byte words: the level table follows it */
    uint64_t data[];      /* vector, level table, links */
};
_Static_assert(sizeof(hnsw_node) == 40, "the node header is meant to take 40 bytes");

/* A heap of (node, distance) pairs, smallest dist on top. The result heap
 * stores negated distances, so its top is the farthest result. */
typedef struct hnsw_heap {
    hnsw_hit *a;
    size_t n, cap;
} hnsw_heap;

struct hnsw {
    uint32_t dim;
    uint32_t m;
    int quant;
    int loading; /* nodes were loaded whose links are still ids */
    int broken;  /* hnsw_load_finish failed: only hnsw_free is safe */
    uint32_t max_level;
    uint32_t epoch;
    size_t vbytes; /* stored vector */
    size_t vpad;   /* the same rounded up to 8 */
    uint64_t rng;
    uint64_t last_id;
    hnsw_node **nodes;
    uint64_t count, cap;
    hnsw_node *entry;
    uint64_t level_count[HNSW_MAX_LEVEL]; /* nodes whose top level is l */
    size_t node_mem;                      /* usable bytes of all nodes */
    /* Scratch, kept between calls. */
    hnsw_heap cand; /* candidates, nearest on top */
    hnsw_heap res;  /* results, farthest on top */
    hnsw_hit *w;    /* a level's results sorted, or repair candidates */
    size_t w_cap;
    hnsw_node **tmp; /* a deleted node's former neighbours */
    size_t tmp_cap;
    float *fbuf;    /* a normalized copy of a vector */
    uint64_t *qbuf; /* a query in stored form */
};

/* ---- internals: node layout ---- */

static inline hnsw_lv *node_lv(const hnsw_node *n)
{
    return (hnsw_lv *)(void *)(n->data + n->vwords);
}

static inline hnsw_node **node_links(const hnsw_node *n, uint32_t level)
{
    hnsw_lv *lv = node_lv(n);
    /* The table has level + 1 four-byte entries, padded to 8 bytes. */
    hnsw_node **links = (hnsw_node **)(void *)(n->data + n->vwords + (n->level + 2) / 2);
    for (uint32_t l = 0; l < level; l++) {
        links += lv[l].max;
    }
    return links;
}

static uint32_t default_room(const hnsw *h, uint32_t level)
{
    return level == 0 ? 2 * h->m : h->m;
}

/* A node with room[l] link slots at each level, counts 0, in the node
 * array and the level counts. The caller fills in the vector. */
static hnsw_node *node_new(hnsw *h, uint32_t level, const uint32_t *room)
{
    size_t slots = 0;
    for (uint32_t l = 0; l <= level; l++) {
        slots += room[l];
    }
    size_t size = sizeof(hnsw_node) + h->vpad + (size_t)(level + 2) / 2 * 8 + slots * sizeof(hnsw_node *);
    hnsw_node *n = alloc_mem(size);
    n->value = NULL;
    n->id = 0;
    n->epoch = 0;
    n->l2 = 1.0f;
    n->range = 0.0f;
    n->level = level;
    n->vwords = (unsigned)(h->vpad / 8);
    if (h->vpad > 0) {
        n->data[h->vpad / 8 - 1] = 0; /* the padding after the vector */
    }
    hnsw_lv *lv = node_lv(n);
    for (uint32_t l = 0; l <= level; l++) {
        lv[l].n = 0;
        lv[l].max = (uint16_t)room[l];
    }
    if (level % 2 == 0) {
        lv[level + 1].n = lv[level + 1].max = 0; /* the table's padding */
    }
    h->node_mem += alloc_usable(n);
    if (h->count == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 16;
        h->nodes = alloc_resize(h->nodes, h->cap * sizeof(*h->nodes));
    }
    n->index = h->count;
    h->nodes[h->count++] = n;
    h->level_count[level]++;
    return n;
}

/* ---- internals: vectors and distances ---- */

/* Eight independent sums, which the compiler keeps in two vector
 * registers: a single float sum could not be vectorized without
 * reassociating it (-ffast-math). Pointers rather than 32-bit indexes: an
 * index that might wrap keeps the loads from being seen as contiguous.
 * (Measured: 10 ns at dim 100, against 21 with sixteen sums, which the
 * compiler keeps in memory.) */
static float dot_f32(const float *a, const float *b, uint32_t dim)
{
    float s[8] = {0};
    const float *end = a + (dim & ~(uint32_t)7);
    for (; a < end; a += 8, b += 8) {
        for (int j = 0; j < 8; j++) {
            s[j] += a[j] * b[j];
        }
    }
    float t = 0.0f;
    for (uint32_t i = 0; i < (dim & 7); i++) {
        t += a[i] * b[i];
    }
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7])) + t;
}

/* Sixteen sums here (13 ns at dim 100; eight take 28). */
static int32_t dot_q8(const int8_t *a, const int8_t *b, uint32_t dim)
{
    int32_t s[16] = {0};
    const int8_t *end = a + (dim & ~(uint32_t)15);
    for (; a < end; a += 16, b += 16) {
        for (int j = 0; j < 16; j++) {
            s[j] += (int32_t)a[j] * (int32_t)b[j];
        }
    }
    int32_t t = 0;
    for (uint32_t i = 0; i < (dim & 15); i++) {
        t += (int32_t)a[i] * (int32_t)b[i];
    }
    for (int j = 0; j < 16; j++) {
        t += s[j];
    }
    return t;
}

/* Distance between two vectors in stored form (ra, rb: their Q8 ranges). */
static inline float dist_raw(const hnsw *h, const void *a, float ra, const void *b, float rb)
{
    switch (h->quant) {
    case HNSW_QUANT_F32: return 1.0f - dot_f32(a, b, h->dim);
    case HNSW_QUANT_Q8: {
        if (ra == 0.0f || rb == 0.0f) {
            return 1.0f;
        }
        float scale = (ra / 127.0f) * (rb / 127.0f);
        float d = 1.0f - (float)dot_q8(a, b, h->dim) * scale;
        return d < 0.0f ? 0.0f : d > 2.0f ? 2.0f : d;
    }
    default: {
        const uint64_t *x = a, *y = b;
        size_t words = h->vbytes / 8;
        uint64_t bits = 0;
        for (size_t i = 0; i < words; i++) {
            bits += (uint64_t)__builtin_popcountll(x[i] ^ y[i]);
        }
        return (float)bits * 2.0f / (float)h->dim;
    }
    }
}

static inline float node_dist(const hnsw *h, const hnsw_node *a, const hnsw_node *b)
{
    return dist_raw(h, a->data, a->range, b->data, b->range);
}

/* Normalizes vec and writes it in the graph's stored form to out (vpad
 * bytes, padding included), with its length and Q8 range. The numbers
 * must match Redis's exactly, so this follows its formulas: the length
 * as a float sum, a division per component, one scale per vector. */
static void encode(hnsw *h, const float *vec, void *out, float *l2_out, float *range_out)
{
    uint32_t dim = h->dim;
    float *v = h->fbuf;
    float ss = 0.0f;
    for (uint32_t j = 0; j < dim; j++) {
        ss += vec[j] * vec[j];
    }
    float l2 = sqrtf(ss);
    if (l2 == 0.0f) {
        memcpy(v, vec, (size_t)dim * sizeof(float));
        *l2_out = 1.0f;
    } else {
        for (uint32_t j = 0; j < dim; j++) {
            v[j] = vec[j] / l2;
        }
        *l2_out = l2;
    }
    *range_out = 0.0f;
    memset((char *)out + h->vpad - 8, 0, 8);
    switch (h->quant) {
    case HNSW_QUANT_F32: memcpy(out, v, (size_t)dim * sizeof(float)); break;
    case HNSW_QUANT_Q8: {
        int8_t *q = out;
        float range = 0.0f;
        for (uint32_t j = 0; j < dim; j++) {
            float a = fabsf(v[j]);
            if (a > range) {
                range = a;
            }
        }
        *range_out = range;
        if (range == 0.0f) {
            memset(q, 0, dim);
            break;
        }
        float scale = 127.0f / range;
        if (isinf(scale)) {
            /* A vector so small that its squares sum to 0 is kept as is;
             * if its largest component is below about 4e-37, 127 / range
             * overflows and the product would be inf or NaN. */
            for (uint32_t j = 0; j < dim; j++) {
                q[j] = (int8_t)roundf(v[j] / range * 127.0f);
            }
            break;
        }
        for (uint32_t j = 0; j < dim; j++) {
            q[j] = (int8_t)roundf(v[j] * scale);
        }
        break;
    }
    default: {
        uint64_t *bits = out;
        memset(bits, 0, h->vbytes);
        for (uint32_t j = 0; j < dim; j++) {
            if (v[j] > 0.0f) {
                bits[j / 64] |= (uint64_t)1 << (j % 64);
            }
        }
        break;
    }
    }
}

/* ---- internals: heaps ---- */

static void heap_push(hnsw_heap *hp, float key, hnsw_node *node)
{
    if (hp->n == hp->cap) {
        hp->cap = hp->cap ? hp->cap * 2 : 64;
        hp->a = alloc_resize(hp->a, hp->cap * sizeof(*hp->a));
    }
    hnsw_hit *a = hp->a;
    size_t i = hp->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!(key < a[p].dist)) {
            break;
        }
        a[i] = a[p];
        i = p;
    }
    a[i].node = node;
    a[i].dist = key;
}

/* Puts x at the top and sifts it down (pop and replace share this). */
static void heap_sift_top(hnsw_heap *hp, hnsw_hit x)
{
    hnsw_hit *a = hp->a;
    size_t n = hp->n, i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) {
            break;
        }
        /* Branch-free: which child is smaller is a coin toss. */
        c += (size_t)(c + 1 < n && a[c + 1].dist < a[c].dist);
        if (!(a[c].dist < x.dist)) {
            break;
        }
        a[i] = a[c];
        i = c;
    }
    a[i] = x;
}

static hnsw_hit heap_pop(hnsw_heap *hp)
{
    hnsw_hit top = hp->a[0];
    hp->n--;
    if (hp->n > 0) {
        heap_sift_top(hp, hp->a[hp->n]);
    }
    return top;
}

static void heap_replace_top(hnsw_heap *hp, float key, hnsw_node *node)
{
    hnsw_hit x = {node, key};
    heap_sift_top(hp, x);
}

/* p with room for need elements (at least one, so it is never NULL). */
static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need > *cap || !p) {
        size_t c = *cap ? *cap : 64;
        while (c < need) {
            c *= 2;
        }
        p = alloc_resize(p, c * elem);
        *cap = c;
    }
    return p;
}

/* A search with a selective filter, a huge k or a huge ef can grow the
 * heaps to the size of the graph; past this many entries (1 MB) they are
 * freed after the search rather than kept for the next. */
#define HNSW_HEAP_KEEP 65536

static void heap_trim(hnsw_heap *hp)
{
    if (hp->cap > HNSW_HEAP_KEEP) {
        alloc_free(hp->a);
        hp->a = NULL;
        hp->cap = hp->n = 0;
    }
}

/* A fresh visit mark. When the counter wraps, every node's mark is reset
 * so an old mark cannot be taken for a current one. */
static uint32_t new_epoch(hnsw *h)
{
    if (++h->epoch == 0) {
        for (uint64_t i = 0; i < h->count; i++) {
            h->nodes[i]->epoch = 0;
        }
        h->epoch = 1;
    }
    return h->epoch;
}

/* ---- internals: searching ---- */

/* Moves *ep to the nearest node reachable at level by steps that each get
 * closer to q (a beam of width 1). */
static void greedy(const hnsw *h, const void *q, float qr, uint32_t level, hnsw_node **ep, float *epd, size_t *visits)
{
    hnsw_node *cur = *ep;
    float curd = *epd;
    for (;;) {
        hnsw_node *best = cur;
        hnsw_node **links = node_links(cur, level);
        uint32_t nl = node_lv(cur)[level].n;
        for (uint32_t i = 0; i < nl; i++) {
            float d = dist_raw(h, q, qr, links[i]->data, links[i]->range);
            (*visits)++;
            if (d < curd) {
                curd = d;
                best = links[i];
            }
        }
        if (best == cur) {
            break;
        }
        cur = best;
    }
    *ep = cur;
    *epd = curd;
}

/* Neighbours handled per batch in search_layer. */
#define HNSW_BATCH 32

/* The first lines of x's vector (the header's line holds its start); the
 * hardware prefetcher follows a long vector on its own. */
static inline void prefetch_vector(const hnsw *h, const hnsw_node *x)
{
    const char *p = (const char *)x->data;
    size_t end = h->vbytes < 512 ? h->vbytes : 512;
    for (size_t off = 64; off < end; off += 64) {
        __builtin_prefetch(p + off);
    }
}

/* Beam search at one level from the entries the caller pushed on both
 * heaps (and marked with the current epoch), keeping at most ef results.
 *
 * A node joins the candidates when it is nearer than the worst result or
 * the results are not full yet, whether or not it passes the filter: a
 * failing node may lead to passing ones. Only passing nodes join the
 * results, and the search stops when the nearest candidate is farther
 * than the worst of ef results. So with a selective filter the results
 * fill slowly and the search goes on widening (nearest first) until ef
 * passing nodes are found: recall stays that of an unfiltered search of
 * the passing nodes, and the cost is bounded by max_visit (every node
 * whose distance is computed counts; 0: no bound). Stopping once k
 * results are in would be cheaper, but then the beam would be k wide. */
static void search_layer(hnsw *h, const void *q, float qr, uint32_t level, size_t ef, hnsw_filter_fn filter, void *fctx,
                         size_t max_visit, size_t *visits)
{
    hnsw_heap *cand = &h->cand, *res = &h->res;
    uint32_t epoch = h->epoch;
    while (cand->n > 0) {
        hnsw_hit c = heap_pop(cand);
        if (res->n >= ef && c.dist > -res->a[0].dist) {
            break;
        }
        hnsw_node **links = node_links(c.node, level);
        uint32_t nl = node_lv(c.node)[level].n;
        /* Headers first, all at once, then the vectors of the unvisited:
         * the cache misses overlap instead of coming one by one (5% off
         * insertion time at 10k nodes of dim 100, more on bigger sets). */
        for (uint32_t i = 0; i < nl; i++) {
            __builtin_prefetch(links[i]);
        }
        for (uint32_t i0 = 0; i0 < nl; i0 += HNSW_BATCH) {
            hnsw_node *todo[HNSW_BATCH];
            uint32_t nt = 0, end = nl - i0 < HNSW_BATCH ? nl : i0 + HNSW_BATCH;
            for (uint32_t i = i0; i < end; i++) {
                hnsw_node *x = links[i];
                if (x->epoch != epoch) {
                    x->epoch = epoch;
                    todo[nt++] = x;
                    prefetch_vector(h, x);
                }
            }
            for (uint32_t i = 0; i < nt; i++) {
                hnsw_node *x = todo[i];
                float d = dist_raw(h, q, qr, x->data, x->range);
                (*visits)++;
                if (res->n < ef || d < -res->a[0].dist) {
                    heap_push(cand, d, x);
                    if (!filter || filter(x->value, fctx)) {
                        if (res->n < ef) {
                            heap_push(res, -d, x);
                        } else {
                            heap_replace_top(res, -d, x);
                        }
                    }
                }
                if (max_visit && *visits >= max_visit) {
                    return;
                }
            }
        }
    }
}

/* Empties the result heap into out[0..n) nearest first, true distances. */
static size_t drain_results(hnsw *h, hnsw_hit *out)
{
    size_t n = h->res.n;
    for (size_t i = n; i > 0; i--) {
        hnsw_hit x = heap_pop(&h->res);
        out[i - 1].node = x.node;
        out[i - 1].dist = -x.dist;
    }
    return n;
}

/* ---- internals: links ---- */

static void link_add(hnsw_node *a, hnsw_node *b, uint32_t level)
{
    hnsw_lv *lv = &node_lv(a)[level];
    node_links(a, level)[lv->n++] = b;
}

static void link_remove(hnsw_node *a, hnsw_node *b, uint32_t level)
{
    hnsw_lv *lv = &node_lv(a)[level];
    hnsw_node **links = node_links(a, level);
    for (uint32_t i = 0; i < lv->n; i++) {
        if (links[i] == b) {
            links[i] = links[--lv->n];
            return;
        }
    }
}

static int has_room(const hnsw_node *n, uint32_t level)
{
    const hnsw_lv *lv = &node_lv(n)[level];
    return lv->n < lv->max;
}

static int links_hold(const hnsw_node *n, uint32_t level, const hnsw_node *x)
{
    hnsw_node **links = node_links(n, level);
    uint32_t nl = node_lv(n)[level].n;
    for (uint32_t i = 0; i < nl; i++) {
        if (links[i] == x) {
            return 1;
        }
    }
    return 0;
}

/* Links the new node n and b (at distance d) both ways if b can take it:
 * when b is full it gives up its farthest link w for n, but only when n
 * is nearer to b than w is, or when forced (and w gives up b too: links
 * stay reciprocal). Returns whether the link was made.
 *
 * A w left with no link at all at this level could no longer be reached
 * there, so it is linked to n instead when n has room: n is near b, and
 * w was. (Without this, sets with many equal vectors, whose links tie,
 * left about 1 node in 5000 unreachable.) Such a w gets the current
 * epoch, the mark link_neighbours gives the nodes n is done with. */
static int link_new(hnsw *h, hnsw_node *n, hnsw_node *b, float d, uint32_t level, int force)
{
    if (has_room(b, level)) {
        link_add(n, b, level);
        link_add(b, n, level);
        return 1;
    }
    hnsw_node **links = node_links(b, level);
    uint32_t nl = node_lv(b)[level].n;
    float worst = -1.0f;
    uint32_t wi = 0;
    for (uint32_t i = 0; i < nl; i++) {
        float dx = node_dist(h, b, links[i]);
        if (dx > worst) {
            worst = dx;
            wi = i;
        }
    }
    if (nl == 0 || (!force && !(d < worst))) {
        return 0;
    }
    hnsw_node *w = links[wi];
    link_remove(w, b, level);
    links[wi] = n;
    link_add(n, b, level);
    if (node_lv(w)[level].n == 0 && has_room(n, level) && !links_hold(n, level, w)) {
        link_add(n, w, level);
        link_add(w, n, level);
        w->epoch = h->epoch;
    }
    return 1;
}

/* Links new node n at level to up to M of the candidates w[0..wn)
 * (sorted nearest first), chosen by the HNSW heuristic: a candidate is
 * kept only if it is strictly nearer to n than to every neighbour kept
 * before it, so the links point in different directions rather than all
 * into the nearest cluster. A kept candidate that refuses the link (full,
 * and n not nearer than its farthest link) is passed over for the next.
 *
 * M at level 0 too, although the room there is 2 * M: the other M slots
 * take the links later nodes make, so early nodes do not fill up at once
 * and trade links away on every insertion. Measured on 10k uniform
 * vectors of dim 100 (M 16, ef 200), picking 2 * M cost 55% more
 * distance computations per insertion and bought 2 to 3 points of
 * recall@10 at equal search work (also at dim 32); on clustered data, where the heuristic
 * keeps fewer than M anyway, the two are the same.
 *
 * Discarded candidates do not fill the slots left: measured, that lowered
 * recall on clustered data, and with many equal vectors it filled nodes
 * with their twins (distance 0), which then refused every newcomer.
 *
 * Last, n must not be left without a link: then the nearest candidate
 * with room takes it, or else the nearest candidate at all, which drops
 * its farthest link for it. */
static void link_neighbours(hnsw *h, hnsw_node *n, const hnsw_hit *w, size_t wn, uint32_t level)
{
    hnsw_lv *lv = &node_lv(n)[level];
    hnsw_node **mine = node_links(n, level);
    uint32_t want = h->m;
    /* Marks the nodes linked to n, or refused (link_new marks the nodes
     * it links to n besides). */
    uint32_t epoch = new_epoch(h);
    for (size_t i = 0; i < wn && lv->n < want; i++) {
        hnsw_node *c = w[i].node;
        if (c->epoch == epoch) {
            continue;
        }
        int diverse = 1;
        for (uint32_t j = 0; j < lv->n; j++) {
            if (node_dist(h, c, mine[j]) <= w[i].dist) {
                diverse = 0;
                break;
            }
        }
        if (diverse) {
            c->epoch = epoch;
            link_new(h, n, c, w[i].dist, level, 0);
        }
    }
    for (size_t i = 0; i < wn && lv->n == 0; i++) {
        if (has_room(w[i].node, level)) {
            link_new(h, n, w[i].node, w[i].dist, level, 0);
        }
    }
    if (lv->n == 0 && wn > 0) {
        link_new(h, n, w[0].node, w[0].dist, level, 1);
    }
}

/* ---- API: the graph ---- */

hnsw *hnsw_new(uint32_t dim, int quant, uint32_t m, uint64_t seed)
{
    if (dim < 1 || m < HNSW_MIN_M || m > HNSW_MAX_M ||
        (quant != HNSW_QUANT_F32 && quant != HNSW_QUANT_Q8 && quant != HNSW_QUANT_BIN)) {
        PANIC("hnsw_new: bad dim %u, quant %d or m %u", dim, quant, m);
    }
    hnsw *h = alloc_zero(sizeof(*h));
    h->dim = dim;
    h->m = m;
    h->quant = quant;
    h->vbytes = quant == HNSW_QUANT_F32 ? (size_t)dim * 4 : quant == HNSW_QUANT_Q8 ? dim : ((size_t)dim + 63) / 64 * 8;
    h->vpad = (h->vbytes + 7) / 8 * 8;
    if (h->vpad / 8 >= ((size_t)1 << 28)) {
        PANIC("hnsw_new: dim %u too large", dim);
    }
    h->rng = seed;
    h->fbuf = alloc_mem((size_t)dim * sizeof(float));
    h->qbuf = alloc_mem(h->vpad);
    return h;
}

/* Only the graph points at its struct's blocks; the scratch holds no
 * state between calls, so it moves like the rest. */
hnsw *hnsw_defrag_top(hnsw *h)
{
    h = alloc_defrag_keep(h);
    h->nodes = alloc_defrag_keep(h->nodes);
    h->cand.a = alloc_defrag_keep(h->cand.a);
    h->res.a = alloc_defrag_keep(h->res.a);
    h->w = alloc_defrag_keep(h->w);
    h->tmp = alloc_defrag_keep(h->tmp);
    h->fbuf = alloc_defrag_keep(h->fbuf);
    h->qbuf = alloc_defrag_keep(h->qbuf);
    return h;
}

void hnsw_free(hnsw *h, void (*free_value)(void *value))
{
    if (!h) {
        return;
    }
    /* Walks the array, never the links: they may still be ids. */
    for (uint64_t i = 0; i < h->count; i++) {
        if (free_value) {
            free_value(h->nodes[i]->value);
        }
        alloc_free(h->nodes[i]);
    }
    alloc_free(h->nodes);
    alloc_free(h->cand.a);
    alloc_free(h->res.a);
    alloc_free(h->w);
    alloc_free(h->tmp);
    alloc_free(h->fbuf);
    alloc_free(h->qbuf);
    alloc_free(h);
}

uint32_t hnsw_dim(const hnsw *h)
{
    return h->dim;
}

int hnsw_quant(const hnsw *h)
{
    return h->quant;
}

uint32_t hnsw_m(const hnsw *h)
{
    return h->m;
}

uint64_t hnsw_count(const hnsw *h)
{
    return h->count;
}

uint32_t hnsw_max_level(const hnsw *h)
{
    return h->max_level;
}

uint64_t hnsw_last_id(const hnsw *h)
{
    return h->last_id;
}

size_t hnsw_vector_bytes(const hnsw *h)
{
    return h->vbytes;
}

/* The nodes' usable sizes are summed as they come and go, so this is O(1);
 * the scratch buffers count too, since the graph holds them. */
size_t hnsw_mem(const hnsw *h)
{
    return alloc_usable(h) + h->node_mem + alloc_usable(h->nodes) + alloc_usable(h->cand.a) + alloc_usable(h->res.a) +
           alloc_usable(h->w) + alloc_usable(h->tmp) + alloc_usable(h->fbuf) + alloc_usable(h->qbuf);
}

/* 2 bits of one 64-bit draw per level: each further level has chance 1/4. */
static uint32_t random_level(hnsw *h)
{
    /* splitmix64 */
    uint64_t z = (h->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    uint32_t level = 0;
    while (level < HNSW_MAX_LEVEL - 1 && (z & 3) == 0) {
        level++;
        z >>= 2;
    }
    return level;
}

/* Descends greedily to the new node's top level, then at each of its
 * levels searches ef wide from the previous level's results and links to
 * neighbours picked among them (link_neighbours). */
hnsw_node *hnsw_insert(hnsw *h, const float *vec, void *value, uint32_t ef)
{
    ASSERT(!h->loading && !h->broken);
    uint32_t level = random_level(h);
    uint32_t room[HNSW_MAX_LEVEL];
    for (uint32_t l = 0; l <= level; l++) {
        room[l] = default_room(h, l);
    }
    hnsw_node *n = node_new(h, level, room);
    encode(h, vec, n->data, &n->l2, &n->range);
    n->id = ++h->last_id;
    n->value = value;
    if (!h->entry) {
        h->entry = n;
        h->max_level = level;
        return n;
    }
    const void *q = n->data;
    float qr = n->range;
    hnsw_node *ep = h->entry;
    float epd = dist_raw(h, q, qr, ep->data, ep->range);
    size_t visits = 0;
    for (uint32_t l = h->max_level; l > level; l--) {
        greedy(h, q, qr, l, &ep, &epd, &visits);
    }
    size_t width = ef < h->m ? h->m : ef;
    h->w = grow(h->w, &h->w_cap, 1, sizeof(*h->w));
    h->w[0].node = ep;
    h->w[0].dist = epd;
    size_t wn = 1;
    for (int l = (int)(level < h->max_level ? level : h->max_level); l >= 0; l--) {
        uint32_t epoch = new_epoch(h);
        h->cand.n = h->res.n = 0;
        for (size_t i = 0; i < wn; i++) {
            h->w[i].node->epoch = epoch;
            heap_push(&h->cand, h->w[i].dist, h->w[i].node);
            heap_push(&h->res, -h->w[i].dist, h->w[i].node);
        }
        /* The previous level's results can outnumber this width. */
        while (h->res.n > width) {
            heap_pop(&h->res);
        }
        search_layer(h, q, qr, (uint32_t)l, width, NULL, NULL, 0, &visits);
        h->w = grow(h->w, &h->w_cap, h->res.n, sizeof(*h->w));
        wn = drain_results(h, h->w);
        link_neighbours(h, n, h->w, wn, (uint32_t)l);
    }
    if (level > h->max_level) {
        h->max_level = level;
        h->entry = n;
    }
    return n;
}

static int hit_cmp(const void *a, const void *b)
{
    float x = ((const hnsw_hit *)a)->dist, y = ((const hnsw_hit *)b)->dist;
    return (x > y) - (x < y);
}

/* After a deletion, the former neighbours f[0..fn) at level have a free
 * slot each (at least): each one with room is linked to the nearest
 * others that also have room and are not linked to it yet, so the hole
 * the deleted node leaves is bridged. */
static void repair(hnsw *h, hnsw_node **f, uint32_t fn, uint32_t level)
{
    h->w = grow(h->w, &h->w_cap, fn, sizeof(*h->w));
    for (uint32_t i = 0; i < fn; i++) {
        hnsw_node *x = f[i];
        if (!has_room(x, level)) {
            continue;
        }
        /* Mark x and its links: those are not candidates. */
        uint32_t epoch = new_epoch(h);
        x->epoch = epoch;
        hnsw_node **links = node_links(x, level);
        uint32_t nl = node_lv(x)[level].n;
        for (uint32_t j = 0; j < nl; j++) {
            links[j]->epoch = epoch;
        }
        size_t cn = 0;
        for (uint32_t j = 0; j < fn; j++) {
            hnsw_node *y = f[j];
            if (y->epoch != epoch && has_room(y, level)) {
                h->w[cn].node = y;
                h->w[cn].dist = node_dist(h, x, y);
                cn++;
            }
        }
        qsort(h->w, cn, sizeof(*h->w), hit_cmp);
        for (size_t j = 0; j < cn && has_room(x, level); j++) {
            link_add(x, h->w[j].node, level);
            link_add(h->w[j].node, x, level);
        }
    }
}

/* A former neighbour x of the deleted node d left with no link at level
 * (the others were full, or d was its only link there) could no longer be
 * reached there: it is linked as a new node would be, from a search of
 * width M started at the other former neighbours f[0..fn), or when there
 * are none at any other node of that level. This is rare (2 nodes left
 * unlinked out of 5000 deleted, in a set where half the vectors repeat
 * others) and costs one small search. */
static void reattach(hnsw *h, hnsw_node *x, hnsw_node *d, hnsw_node **f, uint32_t fn, uint32_t level)
{
    uint32_t epoch = new_epoch(h);
    h->cand.n = h->res.n = 0;
    x->epoch = epoch;
    d->epoch = epoch;
    for (uint32_t i = 0; i < fn; i++) {
        hnsw_node *s = f[i];
        if (s->epoch != epoch) {
            s->epoch = epoch;
            float dist = node_dist(h, x, s);
            heap_push(&h->cand, dist, s);
            heap_push(&h->res, -dist, s);
        }
    }
    for (uint64_t i = 0; i < h->count && h->cand.n == 0; i++) {
        hnsw_node *s = h->nodes[i];
        if (s->epoch != epoch && s->level >= level) {
            s->epoch = epoch;
            float dist = node_dist(h, x, s);
            heap_push(&h->cand, dist, s);
            heap_push(&h->res, -dist, s);
        }
    }
    if (h->cand.n == 0) {
        return; /* x is alone at this level */
    }
    while (h->res.n > h->m) {
        heap_pop(&h->res);
    }
    size_t visits = 0;
    search_layer(h, x->data, x->range, level, h->m, NULL, NULL, 0, &visits);
    h->w = grow(h->w, &h->w_cap, h->res.n, sizeof(*h->w));
    size_t wn = drain_results(h, h->w);
    link_neighbours(h, x, h->w, wn, level);
}

void *hnsw_delete(hnsw *h, hnsw_node *d)
{
    ASSERT(!h->loading && !h->broken);
    hnsw_node *heir = NULL;
    for (int l = (int)d->level; l >= 0; l--) {
        uint32_t fn = node_lv(d)[l].n;
        h->tmp = grow(h->tmp, &h->tmp_cap, fn, sizeof(*h->tmp));
        memcpy(h->tmp, node_links(d, (uint32_t)l), fn * sizeof(*h->tmp));
        node_lv(d)[l].n = 0;
        for (uint32_t i = 0; i < fn; i++) {
            link_remove(h->tmp[i], d, (uint32_t)l);
        }
        if (l == (int)d->level && fn > 0) {
            heir = h->tmp[0]; /* its level is d's at least */
        }
        repair(h, h->tmp, fn, (uint32_t)l);
        for (uint32_t i = 0; i < fn; i++) {
            if (node_lv(h->tmp[i])[l].n == 0) {
                reattach(h, h->tmp[i], d, h->tmp, fn, (uint32_t)l);
            }
        }
    }
    h->level_count[d->level]--;
    uint64_t i = d->index;
    h->nodes[i] = h->nodes[--h->count];
    h->nodes[i]->index = i;
    if (h->entry == d) {
        /* The entry point had the highest level: a neighbour at that level
         * has it too; without one, the highest level left is found from
         * the counts and a node of it by a scan. */
        while (h->max_level > 0 && h->level_count[h->max_level] == 0) {
            h->max_level--;
        }
        h->entry = NULL;
        if (heir) {
            h->entry = heir;
        } else {
            for (uint64_t j = 0; j < h->count; j++) {
                if (h->nodes[j]->level == h->max_level) {
                    h->entry = h->nodes[j];
                    break;
                }
            }
        }
    }
    h->node_mem -= alloc_usable(d);
    void *value = d->value;
    alloc_free(d);
    return value;
}

size_t hnsw_search(hnsw *h, const float *query, size_t k, uint32_t ef, hnsw_filter_fn filter, void *fctx,
                   size_t max_visit, hnsw_hit *out)
{
    if (k == 0 || !h->entry || h->loading || h->broken) {
        return 0;
    }
    size_t width = ef < k ? k : ef;
    float l2, qr;
    encode(h, query, h->qbuf, &l2, &qr);
    const void *q = h->qbuf;
    hnsw_node *ep = h->entry;
    float epd = dist_raw(h, q, qr, ep->data, ep->range);
    size_t visits = 1;
    for (uint32_t l = h->max_level; l > 0; l--) {
        greedy(h, q, qr, l, &ep, &epd, &visits);
    }
    uint32_t epoch = new_epoch(h);
    h->cand.n = h->res.n = 0;
    ep->epoch = epoch;
    heap_push(&h->cand, epd, ep);
    if (!filter || filter(ep->value, fctx)) {
        heap_push(&h->res, -epd, ep);
    }
    if (!filter || max_visit == 0 || visits < max_visit) {
        search_layer(h, q, qr, 0, width, filter, fctx, filter ? max_visit : 0, &visits);
    }
    while (h->res.n > k) {
        heap_pop(&h->res);
    }
    size_t n = drain_results(h, out);
    heap_trim(&h->cand);
    heap_trim(&h->res);
    return n;
}

size_t hnsw_search_exact(hnsw *h, const float *query, size_t k, hnsw_filter_fn filter, void *fctx, hnsw_hit *out)
{
    if (k == 0 || h->loading || h->broken) {
        return 0;
    }
    float l2, qr;
    encode(h, query, h->qbuf, &l2, &qr);
    const void *q = h->qbuf;
    h->res.n = 0;
    for (uint64_t i = 0; i < h->count; i++) {
        hnsw_node *x = h->nodes[i];
        float d = dist_raw(h, q, qr, x->data, x->range);
        if (h->res.n < k) {
            if (!filter || filter(x->value, fctx)) {
                heap_push(&h->res, -d, x);
            }
        } else if (d < -h->res.a[0].dist && (!filter || filter(x->value, fctx))) {
            heap_replace_top(&h->res, -d, x);
        }
    }
    size_t n = drain_results(h, out);
    heap_trim(&h->res);
    return n;
}

float hnsw_distance(const hnsw *h, const hnsw_node *a, const hnsw_node *b)
{
    return node_dist(h, a, b);
}

/* ---- API: nodes ---- */

void hnsw_node_vector(const hnsw *h, const hnsw_node *n, float *out)
{
    uint32_t dim = h->dim;
    switch (h->quant) {
    case HNSW_QUANT_F32: {
        const float *v = (const float *)(const void *)n->data;
        for (uint32_t j = 0; j < dim; j++) {
            out[j] = v[j] * n->l2;
        }
        break;
    }
    case HNSW_QUANT_Q8: {
        const int8_t *q = (const int8_t *)(const void *)n->data;
        for (uint32_t j = 0; j < dim; j++) {
            out[j] = ((float)q[j] * n->range) / 127.0f * n->l2;
        }
        break;
    }
    default:
        for (uint32_t j = 0; j < dim; j++) {
            out[j] = (n->data[j / 64] >> (j % 64)) & 1 ? 1.0f : -1.0f;
        }
        break;
    }
}

void *hnsw_node_value(const hnsw_node *n)
{
    return n->value;
}

void hnsw_node_set_value(hnsw_node *n, void *value)
{
    n->value = value;
}

uint64_t hnsw_node_id(const hnsw_node *n)
{
    return n->id;
}

uint32_t hnsw_node_level(const hnsw_node *n)
{
    return n->level;
}

const void *hnsw_node_raw(const hnsw_node *n)
{
    return n->data;
}

float hnsw_node_l2(const hnsw_node *n)
{
    return n->l2;
}

float hnsw_node_range(const hnsw_node *n)
{
    return n->range;
}

uint32_t hnsw_node_links(const hnsw_node *n, uint32_t level, hnsw_node *const **links)
{
    if (level > n->level) {
        *links = NULL;
        return 0;
    }
    *links = node_links(n, level);
    return node_lv(n)[level].n;
}

uint32_t hnsw_node_max_links(const hnsw_node *n, uint32_t level)
{
    return level > n->level ? 0 : node_lv(n)[level].max;
}

hnsw_node *hnsw_node_at(const hnsw *h, uint64_t i)
{
    return i < h->count ? h->nodes[i] : NULL;
}

/* ---- API: loading ---- */

/* A graph being loaded starts empty: nodes that were inserted would have
 * pointer links where loaded ones have ids. */
hnsw_node *hnsw_load_node(hnsw *h, uint64_t id, uint32_t level, const void *raw, float l2, float range,
                          const uint32_t *nlinks, const uint32_t *max_links, const uint64_t *link_ids, void *value)
{
    if (id == 0 || level >= HNSW_MAX_LEVEL || !isfinite(l2) || !isfinite(range) || h->broken ||
        (h->count > 0 && !h->loading)) {
        return NULL;
    }
    uint32_t room[HNSW_MAX_LEVEL];
    for (uint32_t l = 0; l <= level; l++) {
        if (nlinks[l] > max_links[l] || max_links[l] > 4 * HNSW_MAX_M) {
            return NULL;
        }
        room[l] = max_links[l] < default_room(h, l) ? default_room(h, l) : max_links[l];
    }
    hnsw_node *n = node_new(h, level, room);
    memcpy(n->data, raw, h->vbytes);
    if (h->quant == HNSW_QUANT_BIN && h->dim % 64) {
        /* Bits past dim would count in every distance. */
        n->data[h->dim / 64] &= ((uint64_t)1 << (h->dim % 64)) - 1;
    }
    n->id = id;
    n->l2 = l2;
    n->range = range;
    n->value = value;
    const uint64_t *ids = link_ids;
    for (uint32_t l = 0; l <= level; l++) {
        if (nlinks[l] > 0) {
            memcpy(node_links(n, l), ids, (size_t)nlinks[l] * sizeof(uint64_t));
        }
        node_lv(n)[l].n = (uint16_t)nlinks[l];
        ids += nlinks[l];
    }
    if (id > h->last_id) {
        h->last_id = id;
    }
    h->loading = 1;
    return n;
}

static uint64_t id_hash(uint64_t id)
{
    id ^= id >> 33;
    id *= 0xff51afd7ed558ccdULL;
    id ^= id >> 33;
    return id;
}

static int index_cmp(const void *a, const void *b)
{
    uint64_t x = (*(hnsw_node *const *)a)->index, y = (*(hnsw_node *const *)b)->index;
    return (x > y) - (x < y);
}

/* Link lists up to this long are searched by a scan when loading; longer
 * ones are sorted first (see hnsw_load_finish). */
#define HNSW_LOAD_SCAN_MAX 64

/* Whether n's list at level holds x: by binary search over node indexes
 * when the list is long (it was sorted), else by a scan. */
static int load_has_link(const hnsw_node *n, uint32_t level, const hnsw_node *x)
{
    hnsw_node **links = node_links(n, level);
    uint32_t nl = node_lv(n)[level].n;
    if (nl <= HNSW_LOAD_SCAN_MAX) {
        for (uint32_t i = 0; i < nl; i++) {
            if (links[i] == x) {
                return 1;
            }
        }
        return 0;
    }
    uint32_t lo = 0, hi = nl;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (links[mid]->index < x->index) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < nl && links[lo] == x;
}

/* Resolves ids through an open-addressing table built once, finds
 * duplicate links by marking each list's targets with a fresh epoch, and
 * looks for the reverse of every link in the target's list. A scan of
 * that list is quick for the usual lists (2 * M = 32 at level 0) but
 * quadratic in the room a hostile file may give (up to 16384), so lists
 * longer than HNSW_LOAD_SCAN_MAX are sorted by node index and searched by
 * bisection: O(links * 64) at worst. Shorter lists keep their saved
 * order, so a graph saved again after loading is saved the same. */
int hnsw_load_finish(hnsw *h)
{
    if (h->broken) {
        return -1;
    }
    if (!h->loading) {
        return 0;
    }
    size_t cap = 16;
    while (cap < h->count * 2) {
        cap *= 2;
    }
    hnsw_node **table = alloc_zero(cap * sizeof(*table));
    int ok = 0;
    for (uint64_t i = 0; i < h->count; i++) {
        hnsw_node *n = h->nodes[i];
        size_t s = id_hash(n->id) & (cap - 1);
        while (table[s] && table[s]->id != n->id) {
            s = (s + 1) & (cap - 1);
        }
        if (table[s]) {
            goto done; /* two nodes with one id */
        }
        table[s] = n;
    }
    for (uint64_t i = 0; i < h->count; i++) {
        hnsw_node *n = h->nodes[i];
        for (uint32_t l = 0; l <= n->level; l++) {
            hnsw_node **links = node_links(n, l);
            uint32_t nl = node_lv(n)[l].n;
            for (uint32_t j = 0; j < nl; j++) {
                uint64_t id;
                memcpy(&id, &links[j], sizeof(id));
                size_t s = id_hash(id) & (cap - 1);
                while (table[s] && table[s]->id != id) {
                    s = (s + 1) & (cap - 1);
                }
                hnsw_node *t = table[s];
                if (!t || t == n || t->level < l) {
                    goto done;
                }
                links[j] = t;
            }
        }
    }
    /* Every slot holds a pointer from here on. */
    for (uint64_t i = 0; i < h->count; i++) {
        hnsw_node *n = h->nodes[i];
        for (uint32_t l = 0; l <= n->level; l++) {
            hnsw_node **links = node_links(n, l);
            uint32_t nl = node_lv(n)[l].n;
            uint32_t epoch = new_epoch(h);
            for (uint32_t j = 0; j < nl; j++) {
                if (links[j]->epoch == epoch) {
                    goto done; /* linked twice */
                }
                links[j]->epoch = epoch;
            }
            if (nl > HNSW_LOAD_SCAN_MAX) {
                qsort(links, nl, sizeof(*links), index_cmp);
            }
        }
    }
    for (uint64_t i = 0; i < h->count; i++) {
        hnsw_node *n = h->nodes[i];
        for (uint32_t l = 0; l <= n->level; l++) {
            hnsw_node **links = node_links(n, l);
            uint32_t nl = node_lv(n)[l].n;
            for (uint32_t j = 0; j < nl; j++) {
                if (!load_has_link(links[j], l, n)) {
                    goto done;
                }
            }
        }
    }
    h->max_level = 0;
    for (uint32_t l = 0; l < HNSW_MAX_LEVEL; l++) {
        if (h->level_count[l] > 0) {
            h->max_level = l;
        }
    }
    h->entry = NULL;
    for (uint64_t i = 0; i < h->count; i++) {
        if (h->nodes[i]->level == h->max_level) {
            h->entry = h->nodes[i];
            break;
        }
    }
    h->loading = 0;
    ok = 1;
done:
    alloc_free(table);
    if (!ok) {
        h->broken = 1;
        return -1;
    }
    return 0;
}

/* ---- API: checking ---- */

int hnsw_check(const hnsw *h)
{
    if (h->loading || h->broken) {
        return -1;
    }
    uint64_t per_level[HNSW_MAX_LEVEL] = {0};
    uint32_t top = 0;
    size_t mem = 0;
    for (uint64_t i = 0; i < h->count; i++) {
        const hnsw_node *n = h->nodes[i];
        if (!n || n->index != i) {
            return -2;
        }
        if (n->id == 0 || n->id > h->last_id) {
            return -3;
        }
        per_level[n->level]++;
        if (n->level > top) {
            top = n->level;
        }
        mem += alloc_usable(n);
        for (uint32_t l = 0; l <= n->level; l++) {
            const hnsw_lv *lv = &node_lv(n)[l];
            if (lv->n > lv->max) {
                return -4;
            }
            hnsw_node **links = node_links(n, l);
            for (uint32_t j = 0; j < lv->n; j++) {
                const hnsw_node *t = links[j];
                if (!t || t == n || t->index >= h->count || h->nodes[t->index] != t) {
                    return -5;
                }
                if (t->level < l) {
                    return -6;
                }
                for (uint32_t k = 0; k < j; k++) {
                    if (links[k] == t) {
                        return -7;
                    }
                }
                if (!links_hold(t, l, n)) {
                    return -8;
                }
            }
        }
    }
    for (uint32_t l = 0; l < HNSW_MAX_LEVEL; l++) {
        if (per_level[l] != h->level_count[l]) {
            return -9;
        }
    }
    if (mem != h->node_mem) {
        return -10;
    }
    if (h->count == 0) {
        return h->entry || h->max_level != 0 ? -11 : 0;
    }
    if (top != h->max_level || !h->entry || h->entry->level != top || h->entry->index >= h->count ||
        h->nodes[h->entry->index] != h->entry) {
        return -12;
    }
    return 0;
}
