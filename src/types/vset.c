/* vset: see vset.h. An item is one allocation: its attributes and graph
 * node, then the ordtree_elem with the element bytes that links it into
 * the dict and the order tree; the node points back at the item, so a
 * search result names its element at once. A graph's level generator is
 * seeded at random: levels need not repeat between runs, only be well
 * spread (a copy or a load keeps the levels it is given). */
#include "types/vset.h"

#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "base/digest.h"
#include "base/log.h"
#include "base/util.h"
#include "types/zset.h"

/* VINFO's vset-uid: Redis numbers the sets it makes from 0. */
static uint64_t next_uid;

/* The dict links items by their ordtree_elem, whose dnode comes first. */
static sv item_key(const dnode *n)
{
    return ordtree_member((const ordtree_elem *)n);
}

static vset_item *item_of_node(dnode *n)
{
    return n ? vset_item_of_elem((ordtree_elem *)n) : NULL;
}

static const dict_type item_type = {util_hash, item_key, NULL};

static void item_free(dnode *n, void *ctx)
{
    (void)ctx;
    vset_item *it = item_of_node(n);
    str_free(it->attr);
    alloc_free(it);
}

static vset *make(hnsw *h)
{
    vset *v = alloc_zero(sizeof(*v));
    v->h = h;
    dict_init(&v->items, &item_type);
    ordtree_init(&v->order);
    v->uid = next_uid++;
    return v;
}

vset *vset_new(uint32_t dim, int quant, uint32_t m, uint32_t proj_in)
{
    vset *v = make(hnsw_new(dim, quant, m, util_rand64()));
    if (proj_in > 0) {
        float *p = alloc_mem(sizeof(float) * (size_t)dim * proj_in);
        float scale = 1.0f / sqrtf((float)proj_in);
        for (uint32_t i = 0; i < dim; i++) {
            for (uint32_t j = 0; j < proj_in; j++) {
                p[(size_t)i * proj_in + j] = (__builtin_popcount(i & j) & 1) ? -scale : scale;
            }
        }
        v->proj = p;
        v->proj_in = proj_in;
    }
    return v;
}

void vset_take_projection(vset *v, float *matrix, uint32_t proj_in)
{
    alloc_free(v->proj);
    v->proj = matrix;
    v->proj_in = proj_in;
}

void vset_free(vset *v)
{
    if (!v) {
        return;
    }
    hnsw_free(v->h, NULL);
    dict_clear(&v->items, item_free, NULL);
    ordtree_destroy_nodes(&v->order);
    alloc_free(v->proj);
    alloc_free(v);
}

vset_item *vset_load_item(vset *v, sv ele, str attr)
{
    if (dict_find(&v->items, ele.ptr, ele.len)) {
        return NULL;
    }
    vset_item *it = alloc_mem(sizeof(*it) + ordtree_elem_size(ele.len));
    it->node = NULL;
    it->attr = attr;
    ordtree_elem *e = vset_item_elem(it);
    ordtree_elem_init(e, 0, ele);
    dict_insert(&v->items, &e->hnode);
    ordtree_link(&v->order, e);
    if (attr) {
        v->nattrs++;
    }
    return it;
}

/* The copy goes through the loader's path, so it has the same ids, levels
 * and links: a copied set answers searches exactly as the original. */
vset *vset_dup(const vset *v)
{
    hnsw *src = v->h;
    vset *d = make(hnsw_new(hnsw_dim(src), hnsw_quant(src), hnsw_m(src), util_rand64()));
    if (v->proj) {
        size_t n = sizeof(float) * (size_t)hnsw_dim(src) * v->proj_in;
        float *p = alloc_mem(n);
        memcpy(p, v->proj, n);
        vset_take_projection(d, p, v->proj_in);
    }
    uint32_t nlinks[HNSW_MAX_LEVEL], room[HNSW_MAX_LEVEL];
    uint64_t *ids = NULL;
    size_t cap = 0;
    for (uint64_t i = 0; i < hnsw_count(src); i++) {
        hnsw_node *n = hnsw_node_at(src, i);
        vset_item *it = vset_item_of(n);
        uint32_t level = hnsw_node_level(n);
        size_t total = 0;
        for (uint32_t l = 0; l <= level; l++) {
            hnsw_node *const *links;
            nlinks[l] = hnsw_node_links(n, l, &links);
            room[l] = hnsw_node_max_links(n, l);
            if (total + nlinks[l] > cap) {
                cap = (total + nlinks[l]) * 2;
                ids = alloc_resize(ids, sizeof(uint64_t) * cap);
            }
            for (uint32_t k = 0; k < nlinks[l]; k++) {
                ids[total++] = hnsw_node_id(links[k]);
            }
        }
        vset_item *copy = vset_load_item(d, vset_item_ele(it), it->attr ? str_dup(it->attr) : NULL);
        copy->node = hnsw_load_node(d->h, hnsw_node_id(n), level, hnsw_node_raw(n), hnsw_node_l2(n), hnsw_node_range(n),
                                    nlinks, room, ids, copy);
    }
    alloc_free(ids);
    if (hnsw_load_finish(d->h) < 0) {
        PANIC("vset_dup: a graph that was valid failed to copy");
    }
    return d;
}

size_t vset_len(const vset *v)
{
    return (size_t)hnsw_count(v->h);
}

size_t vset_mem(const vset *v)
{
    size_t n = sizeof(*v) + hnsw_mem(v->h) + dict_slots(&v->items) * sizeof(void *) + ordtree_node_bytes(&v->order);
    if (v->proj) {
        n += sizeof(float) * (size_t)hnsw_dim(v->h) * v->proj_in;
    }
    /* Items: sampled, like Redis's MEMORY USAGE does for big values. */
    uint64_t count = hnsw_count(v->h);
    uint64_t sample = count < 64 ? count : 64;
    size_t items = 0;
    for (uint64_t i = 0; i < sample; i++) {
        vset_item *it = vset_item_of(hnsw_node_at(v->h, i * count / sample));
        items += alloc_usable(it) + (it->attr ? str_len(it->attr) + 8 : 0);
    }
    if (sample) {
        n += items / sample * count;
    }
    return n;
}

/* OBJECT ENCODING: Redis reports a module value as "raw". */
const char *vset_encoding(const vset *v)
{
    (void)v;
    return "raw";
}

/* Order-independent: each element with its attributes and stored vector
 * folds in by XOR. */
void vset_digest(const vset *v, uint8_t d[20])
{
    size_t vb = hnsw_vector_bytes(v->h);
    for (uint64_t i = 0; i < hnsw_count(v->h); i++) {
        hnsw_node *n = hnsw_node_at(v->h, i);
        vset_item *it = vset_item_of(n);
        uint8_t e[20] = {0};
        sv ele = vset_item_ele(it);
        digest_mix(e, ele.ptr, ele.len);
        digest_mix(e, hnsw_node_raw(n), vb);
        if (it->attr) {
            digest_mix(e, it->attr, str_len(it->attr));
        }
        digest_xor(d, e, sizeof(e));
    }
}

uint32_t vset_dim(const vset *v)
{
    return hnsw_dim(v->h);
}

uint32_t vset_input_dim(const vset *v)
{
    return v->proj ? v->proj_in : hnsw_dim(v->h);
}

void vset_project(const vset *v, const float *in, float *out)
{
    uint32_t dim = hnsw_dim(v->h);
    if (!v->proj) {
        memcpy(out, in, sizeof(float) * dim);
        return;
    }
    for (uint32_t i = 0; i < dim; i++) {
        const float *row = v->proj + (size_t)i * v->proj_in;
        float sum = 0;
        for (uint32_t j = 0; j < v->proj_in; j++) {
            sum += row[j] * in[j];
        }
        out[i] = sum;
    }
}

vset_item *vset_find(const vset *v, sv ele)
{
    return item_of_node(dict_find((dict *)&v->items, ele.ptr, ele.len));
}

void vset_set_attr(vset *v, vset_item *it, sv attr)
{
    if (it->attr) {
        str_free(it->attr);
        it->attr = NULL;
        v->nattrs--;
    }
    if (attr.len > 0) {
        it->attr = str_new(attr.ptr, attr.len);
        v->nattrs++;
    }
}

int vset_add(vset *v, sv ele, const float *vec, uint32_t ef, const sv *attr)
{
    vset_item *it = vset_find(v, ele);
    int added = 0;
    if (it) {
        /* A new vector means a new place in the graph. */
        hnsw_delete(v->h, it->node);
    } else {
        it = vset_load_item(v, ele, NULL);
        added = 1;
    }
    it->node = hnsw_insert(v->h, vec, it, ef);
    if (attr) {
        vset_set_attr(v, it, *attr);
    }
    return added;
}

int vset_remove(vset *v, sv ele)
{
    vset_item *it = item_of_node(dict_unlink(&v->items, ele.ptr, ele.len));
    if (!it) {
        return 0;
    }
    ordtree_unlink(&v->order, vset_item_elem(it));
    hnsw_delete(v->h, it->node);
    if (it->attr) {
        v->nattrs--;
    }
    item_free(&vset_item_elem(it)->hnode, NULL);
    return 1;
}

void vset_lex_bounds(const vset *v, const struct zlex_range *r, size_t *start, size_t *end)
{
    *start = ordtree_prefix_count(&v->order, zset_pred_lex_below_min, r);
    *end = ordtree_prefix_count(&v->order, zset_pred_lex_within_max, r);
}

/* ---- active defragmentation ---- */

/* An item (one block: its attributes and graph node pointers, then the
 * ordtree element with the dict link and the element bytes) is pointed at
 * by the dict chain, the order tree (its leaf slot, and inner nodes where
 * it is a subtree's first element) and its graph node's value. The order
 * tree walks by rank and repoints itself; this fixes the other two. */
static ordtree_elem *move_item(ordtree_elem *e, void *ctx)
{
    vset *v = ctx;
    vset_item *it = vset_item_of_elem(e);
    str attr = str_defrag(it->attr);
    if (attr) {
        it->attr = attr;
    }
    vset_item *moved = alloc_defrag(it);
    if (!moved) {
        return NULL;
    }
    if (moved->node) {
        hnsw_node_set_value(moved->node, moved);
    }
    dict_relink_moved(&v->items, &vset_item_elem(it)->hnode, &vset_item_elem(moved)->hnode);
    return vset_item_elem(moved);
}

/* The first call (cursor 0) moves the set's own blocks: its struct, the
 * projection matrix, the graph's struct and arrays and the dict's tables;
 * then every call moves about budget items from rank *cursor on (the
 * order tree's walk gives 0 back only once it is done). The graph's nodes
 * stay where they are (see hnsw_defrag_top): finding every link to one
 * means searching each neighbour's link arrays at each level, O(M^2) per
 * node, and a link missed would be a dangling pointer. */
vset *vset_defrag(vset *v, unsigned long *cursor, size_t budget)
{
    if (*cursor == 0) {
        v = alloc_defrag_keep(v);
        v->proj = alloc_defrag_keep(v->proj);
        v->h = hnsw_defrag_top(v->h);
        dict_defrag_tables(&v->items);
    }
    *cursor = ordtree_defrag(&v->order, *cursor, budget, move_item, v);
    return v;
}
