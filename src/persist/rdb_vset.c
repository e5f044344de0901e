/* rdb_vset: see rdb_vset.h. The layout, item by item (each a module
 * item: an opcode, then the value):
 *
 *   uint dim, uint count, uint quant | M << 8, uint flags (1: projection,
 *   2: attributes), [uint input dim, string matrix (floats)],
 *   then per element: string element, [string attributes ("" for none)
 *   when flag 2], string stored vector, uint nparams, nparams uints:
 *     id, level | version << 24, per level 0..level: link count, room,
 *     the linked ids, (worst distance's float bits << 32) | worst index;
 *     then (range's float bits << 32) | l2's float bits.
 *
 * The graph is saved as it is, so loading rebuilds it without a search;
 * the loader checks every number against what the file can hold and the
 * graph (hnsw_load_finish) before the set is used. Floats are written in
 * the machine's order, little-endian here as on every machine Redis runs. */
#include "persist/rdb_vset.h"

#include <string.h>

#include "base/alloc.h"

enum { FLAG_PROJECTION = 1, FLAG_ATTRIBUTES = 2 };
/* Version 1 of a node's numbers carries each level's worst link. */
#define NODE_VERSION 1
/* The most numbers a node can have: id, level, the last word, and per
 * level count, room, worst and up to 4 * HNSW_MAX_M links. */
#define MAX_PARAMS (3 + HNSW_MAX_LEVEL * (3 + 4 * HNSW_MAX_M))

static uint64_t type_id(void)
{
    return rdb_module_type_id("vectorset", 0);
}

int vset_rdb_is_type(uint64_t id)
{
    return (id >> 10) == (type_id() >> 10);
}

static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof(u));
    return u;
}

static float bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof(f));
    return f;
}

/* The numbers describing node n (see the top comment) into *p. */
static size_t node_params(const hnsw *h, const hnsw_node *n, uint64_t **p, size_t *cap)
{
    uint32_t level = hnsw_node_level(n);
    size_t need = 3;
    for (uint32_t l = 0; l <= level; l++) {
        hnsw_node *const *links;
        need += 3 + hnsw_node_links(n, l, &links);
    }
    if (need > *cap) {
        *cap = need;
        *p = alloc_resize(*p, sizeof(uint64_t) * need);
    }
    uint64_t *q = *p;
    size_t i = 0;
    q[i++] = hnsw_node_id(n);
    q[i++] = (uint64_t)level | ((uint64_t)NODE_VERSION << 24);
    for (uint32_t l = 0; l <= level; l++) {
        hnsw_node *const *links;
        uint32_t count = hnsw_node_links(n, l, &links);
        q[i++] = count;
        q[i++] = hnsw_node_max_links(n, l);
        uint32_t worst = 0;
        float worst_dist = 0;
        for (uint32_t k = 0; k < count; k++) {
            q[i++] = hnsw_node_id(links[k]);
            float d = hnsw_distance(h, n, links[k]);
            if (k == 0 || d > worst_dist) {
                worst = k;
                worst_dist = d;
            }
        }
        q[i++] = ((uint64_t)float_bits(worst_dist) << 32) | worst;
    }
    q[i++] = ((uint64_t)float_bits(hnsw_node_range(n)) << 32) | float_bits(hnsw_node_l2(n));
    return i;
}

void vset_rdb_save(rdb_out *w, const vset *v)
{
    const hnsw *h = v->h;
    rdb_out_len(w, type_id());
    rdb_out_mod_uint(w, hnsw_dim(h));
    rdb_out_mod_uint(w, hnsw_count(h));
    rdb_out_mod_uint(w, (uint64_t)hnsw_quant(h) | ((uint64_t)hnsw_m(h) << 8));
    rdb_out_mod_uint(w, (v->proj ? FLAG_PROJECTION : 0) | (v->nattrs ? FLAG_ATTRIBUTES : 0));
    if (v->proj) {
        rdb_out_mod_uint(w, v->proj_in);
        rdb_out_mod_string(w, (const char *)v->proj, sizeof(float) * (size_t)hnsw_dim(h) * v->proj_in);
    }
    uint64_t *params = NULL;
    size_t cap = 0;
    for (uint64_t i = 0; i < hnsw_count(h); i++) {
        hnsw_node *n = hnsw_node_at(h, i);
        vset_item *it = vset_item_of(n);
        sv ele = vset_item_ele(it);
        rdb_out_mod_string(w, ele.ptr, ele.len);
        if (v->nattrs) {
            rdb_out_mod_string(w, it->attr ? it->attr : "", it->attr ? str_len(it->attr) : 0);
        }
        rdb_out_mod_string(w, hnsw_node_raw(n), hnsw_vector_bytes(h));
        size_t np = node_params(h, n, &params, &cap);
        rdb_out_mod_uint(w, np);
        for (size_t k = 0; k < np; k++) {
            rdb_out_mod_uint(w, params[k]);
        }
    }
    alloc_free(params);
    rdb_out_len(w, RDB_MOD_EOF);
}

/* ---- loading ---- */

typedef struct load_state {
    rdb_in *r;
    vset *v;
    uint64_t *params;
    size_t cap;
    uint64_t *ids;
    size_t ids_cap;
} load_state;

static int bad(load_state *s, const char *why)
{
    return rdb_in_fail(s->r, "Bad vector set in the RDB: %s", why);
}

/* One element: its strings and numbers, then its node. */
static int load_element(load_state *s, int with_attrs)
{
    vset *v = s->v;
    str ele = rdb_in_mod_string(s->r);
    str attr = NULL, raw = NULL;
    int rc = -1;
    uint64_t np;
    if (!ele || (with_attrs && !(attr = rdb_in_mod_string(s->r))) || !(raw = rdb_in_mod_string(s->r)) ||
        rdb_in_mod_uint(s->r, &np) < 0) {
        bad(s, "truncated element");
        goto done;
    }
    if (str_len(raw) != hnsw_vector_bytes(v->h)) {
        bad(s, "vector of the wrong size");
        goto done;
    }
    if (np < 3 || np > MAX_PARAMS) {
        bad(s, "bad node description");
        goto done;
    }
    if (np > s->cap) {
        s->cap = np;
        s->params = alloc_resize(s->params, sizeof(uint64_t) * np);
    }
    uint64_t *p = s->params;
    for (uint64_t k = 0; k < np; k++) {
        if (rdb_in_mod_uint(s->r, &p[k]) < 0) {
            bad(s, "truncated node description");
            goto done;
        }
    }
    uint32_t level = (uint32_t)(p[1] & 0xff), version = (uint32_t)((p[1] >> 24) & 0xff);
    if (version > NODE_VERSION || level >= HNSW_MAX_LEVEL) {
        bad(s, "bad node level or version");
        goto done;
    }
    uint32_t nlinks[HNSW_MAX_LEVEL], room[HNSW_MAX_LEVEL];
    size_t at = 2, nids = 0;
    for (uint32_t l = 0; l <= level; l++) {
        if (at + 2 > np || p[at] > p[at + 1] || p[at + 1] > 4 * HNSW_MAX_M) {
            bad(s, "bad link counts");
            goto done;
        }
        nlinks[l] = (uint32_t)p[at];
        room[l] = (uint32_t)p[at + 1];
        at += 2;
        if (at + nlinks[l] + (version > 0) > np) {
            bad(s, "bad link counts");
            goto done;
        }
        if (nids + nlinks[l] > s->ids_cap) {
            s->ids_cap = (nids + nlinks[l]) * 2;
            s->ids = alloc_resize(s->ids, sizeof(uint64_t) * s->ids_cap);
        }
        for (uint32_t k = 0; k < nlinks[l]; k++) {
            s->ids[nids++] = p[at + k];
        }
        at += nlinks[l] + (version > 0); /* the worst link is worked out again */
    }
    if (at + 1 != np) {
        bad(s, "bad node description");
        goto done;
    }
    float l2 = bits_float((uint32_t)p[at]), range = bits_float((uint32_t)(p[at] >> 32));
    if (attr && str_len(attr) == 0) {
        str_free(attr);
        attr = NULL;
    }
    vset_item *it = vset_load_item(v, (sv){ele, str_len(ele)}, attr);
    if (!it) {
        bad(s, "an element twice");
        goto done;
    }
    attr = NULL; /* the item has it */
    it->node = hnsw_load_node(v->h, p[0], level, raw, l2, range, nlinks, room, s->ids, it);
    if (!it->node) {
        bad(s, "bad node");
        goto done;
    }
    rc = 0;
done:
    str_free(ele);
    str_free(attr);
    str_free(raw);
    return rc;
}

vset *vset_rdb_load(rdb_in *r, int encver)
{
    load_state s = {r, NULL, NULL, 0, NULL, 0};
    uint64_t dim, count, config, flags;
    if (encver != 0) {
        rdb_in_fail(r, "Bad vector set in the RDB: %s", "unknown encoding version");
        return NULL;
    }
    if (rdb_in_mod_uint(r, &dim) < 0 || rdb_in_mod_uint(r, &count) < 0 || rdb_in_mod_uint(r, &config) < 0 ||
        rdb_in_mod_uint(r, &flags) < 0) {
        bad(&s, "truncated header");
        return NULL;
    }
    uint64_t quant = config & 0xff, m = (config >> 8) & 0xffff;
    if (m == 0) {
        m = HNSW_DEFAULT_M; /* files from before M was configurable */
    }
    if (dim < 1 || dim > VSET_MAX_DIM || quant > HNSW_QUANT_BIN || m < HNSW_MIN_M || m > HNSW_MAX_M) {
        bad(&s, "bad dimension, quantization or M");
        return NULL;
    }
    s.v = vset_new((uint32_t)dim, (int)quant, (uint32_t)m, 0);
    if (flags & FLAG_PROJECTION) {
        uint64_t in;
        if (rdb_in_mod_uint(r, &in) < 0 || in < 1 || in > VSET_MAX_DIM || in * dim > VSET_MAX_PROJECTION) {
            bad(&s, "bad projection size");
            goto fail;
        }
        str m_bytes = rdb_in_mod_string(r);
        if (!m_bytes || str_len(m_bytes) != sizeof(float) * in * dim) {
            str_free(m_bytes);
            bad(&s, "bad projection matrix");
            goto fail;
        }
        float *matrix = alloc_mem(str_len(m_bytes));
        memcpy(matrix, m_bytes, str_len(m_bytes));
        str_free(m_bytes);
        vset_take_projection(s.v, matrix, (uint32_t)in);
    }
    for (uint64_t i = 0; i < count; i++) {
        if (load_element(&s, (flags & FLAG_ATTRIBUTES) != 0) < 0) {
            goto fail;
        }
    }
    uint64_t eof;
    if (hnsw_load_finish(s.v->h) < 0) {
        bad(&s, "its graph does not hold together");
        goto fail;
    }
    if (rdb_in_len(r, &eof) < 0 || eof != RDB_MOD_EOF) {
        bad(&s, "no end marker");
        goto fail;
    }
    alloc_free(s.params);
    alloc_free(s.ids);
    return s.v;
fail:
    alloc_free(s.params);
    alloc_free(s.ids);
    vset_free(s.v);
    return NULL;
}
