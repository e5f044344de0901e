/* topk: Space-Saving over a dict of counters and a min-heap of the same
 * counters by weight (the lightest at the root, the one a new key takes
 * over). See topk.h. */
#include "ds/topk.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/dict.h"
#include "base/util.h"

typedef struct counter {
    dnode node;
    uint64_t weight;
    size_t heap_at;
    size_t len;
    char key[];
} counter;

struct topk {
    dict index;     /* key -> counter */
    counter **heap; /* min-heap by weight */
    size_t n, cap;
};

static sv counter_key(const dnode *n)
{
    const counter *c = (const counter *)n;
    return (sv){c->key, c->len};
}

static const dict_type counter_type = {util_hash, counter_key, NULL};

topk *topk_new(size_t capacity)
{
    topk *t = alloc_zero(sizeof(*t));
    dict_init(&t->index, &counter_type);
    t->cap = capacity ? capacity : 1;
    t->heap = alloc_mem(sizeof(*t->heap) * t->cap);
    return t;
}

void topk_free(topk *t)
{
    if (!t) {
        return;
    }
    dict_clear(&t->index, NULL, NULL);
    for (size_t i = 0; i < t->n; i++) {
        alloc_free(t->heap[i]);
    }
    alloc_free(t->heap);
    alloc_free(t);
}

static void place(topk *t, size_t i, counter *c)
{
    t->heap[i] = c;
    c->heap_at = i;
}

static void sift_up(topk *t, size_t i)
{
    counter *c = t->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (t->heap[parent]->weight <= c->weight) {
            break;
        }
        place(t, i, t->heap[parent]);
        i = parent;
    }
    place(t, i, c);
}

static void sift_down(topk *t, size_t i)
{
    counter *c = t->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= t->n) {
            break;
        }
        if (child + 1 < t->n && t->heap[child + 1]->weight < t->heap[child]->weight) {
            child++;
        }
        if (t->heap[child]->weight >= c->weight) {
            break;
        }
        place(t, i, t->heap[child]);
        i = child;
    }
    place(t, i, c);
}

static counter *counter_new(const char *key, size_t len, uint64_t weight)
{
    counter *c = alloc_mem(sizeof(*c) + len);
    c->node.next = NULL;
    c->weight = weight;
    c->len = len;
    memcpy(c->key, key, len);
    return c;
}

void topk_add(topk *t, const char *key, size_t len, uint64_t weight)
{
    counter *c = (counter *)dict_find(&t->index, key, len);
    if (c) {
        c->weight += weight;
        sift_down(t, c->heap_at);
        return;
    }
    if (t->n < t->cap) {
        c = counter_new(key, len, weight);
        dict_insert(&t->index, &c->node);
        place(t, t->n++, c);
        sift_up(t, c->heap_at);
        return;
    }
    /* Full: the lightest counter is handed to the new key, keeping its
     * weight (the most the new key may have been seen before). */
    counter *old = t->heap[0];
    dict_unlink(&t->index, old->key, old->len);
    c = counter_new(key, len, old->weight + weight);
    alloc_free(old);
    dict_insert(&t->index, &c->node);
    place(t, 0, c);
    sift_down(t, 0);
}

static int heavier_first(const void *a, const void *b)
{
    const topk_item *x = a, *y = b;
    if (x->weight != y->weight) {
        return x->weight < y->weight ? 1 : -1;
    }
    size_t n = x->len < y->len ? x->len : y->len;
    int r = memcmp(x->key, y->key, n);
    return r ? r : (x->len > y->len) - (x->len < y->len);
}

size_t topk_list(const topk *t, size_t k, topk_item *out)
{
    topk_item *all = alloc_mem(sizeof(*all) * (t->n ? t->n : 1));
    for (size_t i = 0; i < t->n; i++) {
        all[i] = (topk_item){t->heap[i]->key, t->heap[i]->len, t->heap[i]->weight};
    }
    qsort(all, t->n, sizeof(*all), heavier_first);
    size_t n = k < t->n ? k : t->n;
    memcpy(out, all, sizeof(*out) * n);
    alloc_free(all);
    return n;
}

size_t topk_count(const topk *t)
{
    return t->n;
}

size_t topk_mem(const topk *t)
{
    size_t n = alloc_usable(t) + alloc_usable(t->heap) + dict_slots(&t->index) * sizeof(dnode *);
    for (size_t i = 0; i < t->n; i++) {
        n += alloc_usable(t->heap[i]);
    }
    return n;
}
