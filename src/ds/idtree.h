/* idtree: an ordered map from 128-bit stream IDs (ms, seq) to pointers, as
 * a B+tree. Streams index their entry blocks with it, and consumer groups
 * keep their pending-entry lists in it.
 *
 * Values live only in the leaves; leaves are chained both ways, so a range
 * walk is a seek followed by steps along the chain. Inner nodes keep each
 * child's smallest key. Nodes hold up to IDTREE_ORDER items and are merged
 * or rebalanced with a neighbour when they fall below a quarter, so the
 * tree stays shallow (3 levels for a million items) and small
 * (about 24 bytes per item when full, 48 in the worst case). */
#ifndef KEEL_IDTREE_H
#define KEEL_IDTREE_H

#include <stddef.h>
#include <stdint.h>

typedef struct stream_id {
    uint64_t ms;
    uint64_t seq;
} stream_id;

static inline int stream_id_cmp(const stream_id *a, const stream_id *b)
{
    if (a->ms != b->ms) {
        return a->ms < b->ms ? -1 : 1;
    }
    if (a->seq != b->seq) {
        return a->seq < b->seq ? -1 : 1;
    }
    return 0;
}

/* 31 items make a node exactly 768 bytes, one jemalloc size class. */
#define IDTREE_ORDER 31

typedef struct idtree_node idtree_node;

typedef struct idtree {
    idtree_node *root;
    size_t count;
    size_t nodes;
} idtree;

/* A position in the tree: a leaf and an index in it. Invalidated by any
 * insert or remove (take the key and seek again). */
typedef struct idtree_pos {
    idtree_node *leaf;
    int i;
} idtree_pos;

void idtree_init(idtree *t);
/* Frees the tree's nodes; values are the caller's (free them first, e.g.
 * with idtree_first / idtree_next). */
void idtree_clear(idtree *t);
size_t idtree_count(const idtree *t);
/* Bytes of the tree's own nodes. */
size_t idtree_mem(const idtree *t);

/* The value stored under key, or NULL. */
void *idtree_find(const idtree *t, const stream_id *key);
/* Inserts key -> val; returns 0 (and changes nothing) if key exists. */
int idtree_insert(idtree *t, const stream_id *key, void *val);
/* Replaces the value of an existing key; returns 0 if absent. */
int idtree_replace(idtree *t, const stream_id *key, void *val);
/* Removes key; returns its value, or NULL if it was absent. */
void *idtree_remove(idtree *t, const stream_id *key);

/* Positioning: each returns 1 and sets *p when such an item exists. */
int idtree_first(const idtree *t, idtree_pos *p);
int idtree_last(const idtree *t, idtree_pos *p);
/* The first item with key >= key. */
int idtree_seek_ge(const idtree *t, const stream_id *key, idtree_pos *p);
/* The last item with key <= key. */
int idtree_seek_le(const idtree *t, const stream_id *key, idtree_pos *p);
/* Steps along the leaves; 0 past either end. */
int idtree_next(idtree_pos *p);
int idtree_prev(idtree_pos *p);
stream_id idtree_key(const idtree_pos *p);
void *idtree_val(const idtree_pos *p);
void idtree_set_val(const idtree_pos *p, void *val);

/* Active defragmentation, one leaf per call. Moves (alloc_defrag) the
 * nodes on the way from the root to the leaf holding the first key >=
 * *from, then offers that leaf's values from there on, at most max of
 * them (at least one), to move (NULL: the values stay), which returns a
 * value's new address, or NULL when it stays; the tree then holds the new
 * one. move must not change this tree. Adds the values offered to
 * *offered. Returns 1 and sets *from to the next key when more follow, 0
 * at the tree's end. A key, not a position, carries the walk on, so the
 * tree may change between calls. */
typedef void *(*idtree_move_fn)(void *val, const stream_id *key, void *ctx);
int idtree_defrag_step(idtree *t, stream_id *from, size_t max, idtree_move_fn move, void *ctx, size_t *offered);

#endif
