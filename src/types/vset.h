/* vset: the vector set type (Redis 8's VADD / VSIM family). Elements are
 * strings, each with a vector and optional JSON attributes; the vectors
 * live in an HNSW graph (ds/hnsw) and the elements in a dict, so lookups
 * by element and searches by similarity are both cheap.
 *
 * A set created with REDUCE keeps a projection matrix: vectors given at the
 * input size are multiplied by it down to the set's size. The matrix is the
 * deterministic {+1, -1} Hadamard pattern Redis uses (row i, column j:
 * +1 when popcount(i & j) is even), scaled by 1/sqrt(input size), so a
 * replica or an AOF replay builds the very same one. */
#ifndef KEEL_VSET_H
#define KEEL_VSET_H

#include <stddef.h>
#include <stdint.h>

#include "base/dict.h"
#include "base/str.h"
#include "ds/hnsw.h"
#include "ds/ordtree.h"

/* Redis's limit on vector components. */
#define VSET_MAX_DIM 65536
/* A projection matrix holds output * input floats; beyond this many (1 GB)
 * it is refused rather than allowed to exhaust memory. */
#define VSET_MAX_PROJECTION (256u * 1024 * 1024)

/* An element: this, then in the same allocation the ordtree_elem that
 * holds the element's bytes and links it into the dict (by element) and
 * the order tree (by element bytes, every score 0). */
typedef struct vset_item {
    hnsw_node *node;
    str attr; /* JSON attributes, or NULL */
} vset_item;

static inline ordtree_elem *vset_item_elem(const vset_item *it)
{
    return (ordtree_elem *)(void *)(it + 1);
}

static inline vset_item *vset_item_of_elem(const ordtree_elem *e)
{
    return (vset_item *)(void *)e - 1;
}

static inline sv vset_item_ele(const vset_item *it)
{
    return ordtree_member(vset_item_elem(it));
}

typedef struct vset {
    hnsw *h;
    dict items;    /* element -> its ordtree_elem */
    ordtree order; /* the elements in byte order, for VRANGE */
    float *proj;   /* dim rows of proj_in floats, or NULL */
    uint32_t proj_in;
    uint64_t uid;    /* VINFO vset-uid: unique per set made */
    uint64_t nattrs; /* elements with attributes */
} vset;

/* A set of dim-component vectors (after projection) stored as quant with
 * HNSW parameter m; proj_in > 0 adds a projection from proj_in components. */
vset *vset_new(uint32_t dim, int quant, uint32_t m, uint32_t proj_in);
/* The same set with a projection matrix as saved (dim * proj_in floats,
 * taken over), for loaders. */
void vset_take_projection(vset *v, float *matrix, uint32_t proj_in);
void vset_free(vset *v);
/* A copy with the same graph, ids and all (COPY, keys moved by modules). */
vset *vset_dup(const vset *v);
size_t vset_len(const vset *v);
/* Active defragmentation: type_ops.defrag's contract (db/object.h). */
vset *vset_defrag(vset *v, unsigned long *cursor, size_t budget);
size_t vset_mem(const vset *v);
const char *vset_encoding(const vset *v);
void vset_digest(const vset *v, uint8_t d[20]);

uint32_t vset_dim(const vset *v);
/* The size vectors are given in: proj_in for a projected set, else dim. */
uint32_t vset_input_dim(const vset *v);
/* in (vset_input_dim floats) as the set stores it (vset_dim floats in out). */
void vset_project(const vset *v, const float *in, float *out);

vset_item *vset_find(const vset *v, sv ele);
/* Adds ele with vec (vset_dim floats) or, when present, gives it vec in a
 * new place in the graph. attr NULL keeps the attributes; an empty one
 * removes them. Returns 1 when added, 0 when updated. */
int vset_add(vset *v, sv ele, const float *vec, uint32_t ef, const sv *attr);
/* 1 when ele was there and is gone. */
int vset_remove(vset *v, sv ele);
/* Sets (or, when empty, removes) an item's attributes. */
void vset_set_attr(vset *v, vset_item *it, sv attr);
/* The 0-based ranks [*start, *end) of the elements within r (a zlex_range
 * of types/zset.h: "[x", "(x", "-", "+" bounds over element bytes). */
struct zlex_range;
void vset_lex_bounds(const vset *v, const struct zlex_range *r, size_t *start, size_t *end);

/* The item of a graph node. */
static inline vset_item *vset_item_of(const hnsw_node *n)
{
    return (vset_item *)hnsw_node_value(n);
}

/* Loading: the item for ele with attributes attr (taken over; NULL for
 * none), not yet in the graph: the loader adds its node with
 * hnsw_load_node(v->h, ..., item) and sets item->node. NULL when ele is
 * already there. */
vset_item *vset_load_item(vset *v, sv ele, str attr);

#endif
