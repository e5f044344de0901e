/* Vector set commands (Redis 8): VADD, VREM, VSIM, VCARD, VDIM, VEMB,
 * VLINKS, VINFO, VSETATTR, VGETATTR, VRANDMEMBER, VISMEMBER, VRANGE. Argument
 * order, defaults, replies and error texts are Redis's.
 *
 * Differences, on purpose: every command runs on the main thread (Redis
 * runs VSIM, and VADD with CAS, on helper threads; CAS and NOTHREAD are
 * accepted and change nothing here), and a VADD that updates an existing
 * element is propagated like one that adds (Redis 8.0 replicates only
 * additions, so a replica kept the old vector). Writes fire no keyspace
 * events, as in Redis, but do count as changes (dirty, WATCH, tracking). */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/util.h"
#include "server/server.h"
#include "types/vset.h"
#include "types/vset_filter.h"
#include "types/zset.h"

#define VSET_DEFAULT_BUILD_EF 200
#define VSET_DEFAULT_SEARCH_EF 100
#define VSET_DEFAULT_COUNT 10
#define VSET_MAX_EF 1000000

/* ---- type operations ---- */

TYPE_OPS_DEFINE(vset_ops, "vectorset", vset);

void vset_type_register(void)
{
    obj_register_type(OBJ_VSET, &vset_ops);
}

/* ---- helpers ---- */

static vset *vset_of(kobj *o)
{
    return (vset *)kobj_ptr(o);
}

/* Infinities and NaNs (a FP32 blob's bytes, a double too big for a float,
 * a projection that overflowed) would make every distance NaN. */
static int all_finite(const float *v, uint32_t n)
{
    for (uint32_t j = 0; j < n; j++) {
        if (!isfinite(v[j])) {
            return 0;
        }
    }
    return 1;
}

/* A vector argument at argv[at]: FP32 <blob> or VALUES <n> <v1..vn>,
 * after REDUCE <dim> when reduce is not NULL. Returns the floats (owned)
 * with *dim, *reduce (0 without REDUCE) and *used (arguments read), or
 * NULL when the specification is bad. */
static float *parse_vector(client *c, int at, uint32_t *reduce, uint32_t *dim, int *used)
{
    int start = at;
    if (reduce) {
        *reduce = 0;
        if (c->argc > at + 2 && arg_is(c, at, "REDUCE")) {
            long long r;
            if (!util_parse_ll(c->argv[at + 1].ptr, c->argv[at + 1].len, &r) || r <= 0 || r > VSET_MAX_DIM) {
                return NULL;
            }
            *reduce = (uint32_t)r;
            at += 2;
        }
    }
    if (at + 1 >= c->argc) {
        return NULL;
    }
    float *vec = NULL;
    if (arg_is(c, at, "FP32")) {
        sv blob = c->argv[at + 1];
        if (blob.len < 4 || blob.len % 4 || blob.len / 4 > VSET_MAX_DIM) {
            return NULL;
        }
        *dim = (uint32_t)(blob.len / 4);
        vec = alloc_mem(blob.len);
        memcpy(vec, blob.ptr, blob.len);
        at += 2;
    } else if (arg_is(c, at, "VALUES")) {
        long long n;
        if (!util_parse_ll(c->argv[at + 1].ptr, c->argv[at + 1].len, &n) || n < 1 || n > VSET_MAX_DIM ||
            n > c->argc - at - 2) {
            return NULL;
        }
        vec = alloc_mem(sizeof(float) * (size_t)n);
        for (long long j = 0; j < n; j++) {
            double d;
            sv a = c->argv[at + 2 + j];
            if (!util_parse_double(a.ptr, a.len, &d)) {
                alloc_free(vec);
                return NULL;
            }
            vec[j] = (float)d;
        }
        *dim = (uint32_t)n;
        at += 2 + (int)n;
    } else {
        return NULL;
    }
    if (!all_finite(vec, *dim)) {
        alloc_free(vec);
        return NULL;
    }
    *used = at - start;
    return vec;
}

/* vec (owned, *dim floats) at the set's size: projected when the set has
 * a projection and vec is not already at its size. NULL after replying. */
static float *fit_vector(client *c, vset *v, float *vec, uint32_t *dim, int allow_projected_size)
{
    if (v->proj && !(allow_projected_size && *dim == vset_dim(v))) {
        if (*dim != v->proj_in) {
            reply_errf(c, "ERR Input dimension mismatch for projection - got %u but projection expects %u", *dim,
                       v->proj_in);
            alloc_free(vec);
            return NULL;
        }
        float *out = alloc_mem(sizeof(float) * vset_dim(v));
        vset_project(v, vec, out);
        alloc_free(vec);
        vec = out;
        *dim = vset_dim(v);
        if (!all_finite(vec, *dim)) {
            reply_err(c, "ERR invalid vector specification");
            alloc_free(vec);
            return NULL;
        }
    }
    if (*dim != vset_dim(v)) {
        reply_errf(c, "ERR Vector dimension mismatch - got %u but set has %u", *dim, vset_dim(v));
        alloc_free(vec);
        return NULL;
    }
    return vec;
}

/* argv[j] as an integer in [min, max] into *out; else replies err, 0. */
static int int_opt(client *c, int j, long long min, long long max, long long *out, const char *err)
{
    long long n;
    if (!util_parse_ll(c->argv[j].ptr, c->argv[j].len, &n) || n < min || n > max) {
        reply_err(c, err);
        return 0;
    }
    *out = n;
    return 1;
}

static const char *quant_name(int q)
{
    return q == HNSW_QUANT_F32 ? "f32" : q == HNSW_QUANT_Q8 ? "int8" : "bin";
}

/* ---- VADD / VREM / attributes ---- */

/* VADD key [REDUCE dim] FP32|VALUES vector element [CAS] [NOQUANT|Q8|BIN]
 *      [EF n] [SETATTR json] [M n] */
void cmd_vadd(client *c)
{
    uint32_t reduce, dim;
    int used;
    float *vec = parse_vector(c, 2, &reduce, &dim, &used);
    if (!vec) {
        reply_err(c, "ERR invalid vector specification");
        return;
    }
    int ele_at = 2 + used;
    if (ele_at >= c->argc) {
        alloc_free(vec);
        reply_arity_error(c);
        return;
    }
    long long ef = VSET_DEFAULT_BUILD_EF, m = HNSW_DEFAULT_M;
    int quant = HNSW_QUANT_Q8;
    sv attr;
    int has_attr = 0;
    for (int j = ele_at + 1; j < c->argc; j++) {
        int more = j + 1 < c->argc;
        if (arg_is(c, j, "CAS")) {
            continue;
        } else if (arg_is(c, j, "EF") && more) {
            if (!int_opt(c, ++j, 1, VSET_MAX_EF, &ef, "ERR invalid EF")) {
                alloc_free(vec);
                return;
            }
        } else if (arg_is(c, j, "M") && more) {
            if (!int_opt(c, ++j, HNSW_MIN_M, HNSW_MAX_M, &m, "ERR invalid M")) {
                alloc_free(vec);
                return;
            }
        } else if (arg_is(c, j, "SETATTR") && more) {
            attr = c->argv[++j];
            has_attr = 1;
        } else if (arg_is(c, j, "NOQUANT")) {
            quant = HNSW_QUANT_F32;
        } else if (arg_is(c, j, "BIN")) {
            quant = HNSW_QUANT_BIN;
        } else if (arg_is(c, j, "Q8")) {
            quant = HNSW_QUANT_Q8;
        } else {
            alloc_free(vec);
            reply_err(c, "ERR invalid option after element");
            return;
        }
    }
    int bad;
    sv key = c->argv[1];
    kobj *o = lookup_typed(c, key, OBJ_VSET, LOOKUP_FOR_WRITE, &bad);
    if (bad) {
        alloc_free(vec);
        return;
    }
    vset *v;
    if (!o) {
        if (reduce && (uint64_t)reduce * dim > VSET_MAX_PROJECTION) {
            alloc_free(vec);
            reply_err(c, "ERR projection matrix too large");
            return;
        }
        v = vset_new(reduce ? reduce : dim, quant, (uint32_t)m, reduce ? dim : 0);
    } else {
        v = vset_of(o);
        if (hnsw_quant(v->h) != quant) {
            alloc_free(vec);
            reply_err(c, "ERR asked quantization mismatch with existing vector set");
            return;
        }
        if (hnsw_m(v->h) != (uint32_t)m) {
            alloc_free(vec);
            reply_err(c, "ERR asked M value mismatch with existing vector set");
            return;
        }
        if ((!v->proj && vset_dim(v) != dim) || (v->proj && vset_dim(v) != reduce)) {
            alloc_free(vec);
            reply_errf(c, "ERR Vector dimension mismatch - got %u but set has %u", dim, vset_dim(v));
            return;
        }
    }
    /* A new set's vector is projected like any later one; the set joins
     * the keyspace only once its first vector is known to be good (an
     * empty set must not exist). */
    vec = fit_vector(c, v, vec, &dim, 0);
    if (!vec) {
        if (!o) {
            vset_free(v);
        }
        return;
    }
    if (!o) {
        db_add(c->db, kobj_new_ptr(key, OBJ_VSET, v, -1));
    }
    int added = vset_add(v, c->argv[ele_at], vec, (uint32_t)ef, has_attr ? &attr : NULL);
    alloc_free(vec);
    signal_write(c, 0, NULL, key);
    reply_bool(R(c), added);
}

void cmd_vrem(client *c)
{
    int bad;
    sv key = c->argv[1];
    kobj *o = lookup_typed(c, key, OBJ_VSET, LOOKUP_FOR_WRITE, &bad);
    if (bad) {
        return;
    }
    if (!o || !vset_remove(vset_of(o), c->argv[2])) {
        reply_bool(R(c), 0);
        return;
    }
    signal_write(c, 0, NULL, key);
    cmd_drop_if_empty(c, key, vset_len(vset_of(o)));
    reply_bool(R(c), 1);
}

void cmd_vsetattr(client *c)
{
    int bad;
    sv key = c->argv[1];
    kobj *o = lookup_typed(c, key, OBJ_VSET, LOOKUP_FOR_WRITE, &bad);
    if (bad) {
        return;
    }
    vset_item *it = o ? vset_find(vset_of(o), c->argv[2]) : NULL;
    if (!it) {
        reply_bool(R(c), 0);
        return;
    }
    vset_set_attr(vset_of(o), it, c->argv[3]);
    signal_write(c, 0, NULL, key);
    reply_bool(R(c), 1);
}

/* The vector set at argv[1] for a read; NULL with *bad after WRONGTYPE. */
static vset *read_set(client *c, int *bad)
{
    kobj *o = lookup_typed(c, c->argv[1], OBJ_VSET, LOOKUP_FOR_READ, bad);
    return o && !*bad ? vset_of(o) : NULL;
}

void cmd_vgetattr(client *c)
{
    int bad;
    vset *v = read_set(c, &bad);
    if (bad) {
        return;
    }
    vset_item *it = v ? vset_find(v, c->argv[2]) : NULL;
    if (!it || !it->attr) {
        reply_null(R(c));
        return;
    }
    reply_bulk(R(c), it->attr, str_len(it->attr));
}

/* ---- VSIM ---- */

typedef struct vsim_opts {
    int withscores, withattribs, truth;
    long long count, ef, filter_ef;
    double epsilon;
    vfilter *filter;
} vsim_opts;

static int filter_item(void *value, void *ctx)
{
    vset_item *it = value;
    return it->attr && vfilter_match(ctx, it->attr, str_len(it->attr));
}

/* Options after the query; replies and returns 0 when one is bad. */
static int vsim_options(client *c, int j, vsim_opts *o)
{
    for (; j < c->argc; j++) {
        int more = j + 1 < c->argc;
        if (arg_is(c, j, "WITHSCORES")) {
            o->withscores = 1;
        } else if (arg_is(c, j, "WITHATTRIBS")) {
            o->withattribs = 1;
        } else if (arg_is(c, j, "TRUTH")) {
            o->truth = 1;
        } else if (arg_is(c, j, "NOTHREAD")) {
            continue;
        } else if (arg_is(c, j, "COUNT") && more) {
            if (!int_opt(c, ++j, 1, LLONG_MAX, &o->count, "ERR invalid COUNT")) {
                return 0;
            }
        } else if (arg_is(c, j, "EPSILON") && more) {
            double e;
            if (!util_parse_double(c->argv[j + 1].ptr, c->argv[j + 1].len, &e) || e <= 0) {
                reply_err(c, "ERR invalid EPSILON");
                return 0;
            }
            o->epsilon = e;
            j++;
        } else if (arg_is(c, j, "EF") && more) {
            if (!int_opt(c, ++j, 1, LLONG_MAX, &o->ef, "ERR invalid EF")) {
                return 0;
            }
        } else if (arg_is(c, j, "FILTER-EF") && more) {
            if (!int_opt(c, ++j, 1, LLONG_MAX, &o->filter_ef, "ERR invalid FILTER-EF")) {
                return 0;
            }
        } else if (arg_is(c, j, "FILTER") && more) {
            sv e = c->argv[j + 1];
            size_t pos = 0;
            vfilter_free(o->filter);
            o->filter = vfilter_compile(e.ptr, e.len, &pos);
            if (!o->filter) {
                if (pos >= e.len) {
                    pos = 0;
                }
                reply_errf(c, "ERR syntax error in FILTER expression near: %.*s", (int)(e.len - pos), e.ptr + pos);
                return 0;
            }
            j++;
        } else {
            reply_err(c, "ERR syntax error in VSIM command");
            return 0;
        }
    }
    return 1;
}

static void vsim_reply(client *c, const hnsw_hit *hits, size_t n, const vsim_opts *o)
{
    int resp3 = R(c)->resp == 3;
    int as_map = resp3 && (o->withscores || o->withattribs);
    size_t shown = 0;
    while (shown < n && hits[shown].dist / 2 <= o->epsilon) {
        shown++;
    }
    if (as_map) {
        reply_map(R(c), (long long)shown);
    } else {
        reply_array(R(c), (long long)(shown * (size_t)(1 + o->withscores + o->withattribs)));
    }
    for (size_t i = 0; i < shown; i++) {
        vset_item *it = vset_item_of(hits[i].node);
        reply_sv(c, vset_item_ele(it));
        if (resp3 && o->withscores && o->withattribs) {
            reply_array(R(c), 2);
        }
        if (o->withscores) {
            reply_double(R(c), 1.0 - (double)hits[i].dist / 2.0);
        }
        if (o->withattribs) {
            if (it->attr) {
                reply_bulk(R(c), it->attr, str_len(it->attr));
            } else {
                reply_null(R(c));
            }
        }
    }
}

/* VSIM key ELE|FP32|VALUES query [WITHSCORES] [WITHATTRIBS] [COUNT n]
 *      [EPSILON d] [EF n] [FILTER expr] [FILTER-EF n] [TRUTH] [NOTHREAD] */
void cmd_vsim(client *c)
{
    int bad;
    vset *v = read_set(c, &bad);
    if (bad) {
        return;
    }
    if (!v) {
        reply_empty_array(R(c));
        return;
    }
    float *vec;
    uint32_t dim;
    int used;
    if (arg_is(c, 2, "ELE")) {
        vset_item *it = vset_find(v, c->argv[3]);
        if (!it) {
            reply_err(c, "ERR element not found in set");
            return;
        }
        dim = vset_dim(v);
        vec = alloc_mem(sizeof(float) * dim);
        hnsw_node_vector(v->h, it->node, vec);
        used = 2;
    } else {
        if (!arg_is(c, 2, "FP32") && !arg_is(c, 2, "VALUES")) {
            reply_err(c, "ERR vector type must be ELE, FP32 or VALUES");
            return;
        }
        vec = parse_vector(c, 2, NULL, &dim, &used);
        if (!vec) {
            reply_err(c, "ERR invalid vector specification");
            return;
        }
        vec = fit_vector(c, v, vec, &dim, 1);
        if (!vec) {
            return;
        }
    }
    vsim_opts o = {0, 0, 0, VSET_DEFAULT_COUNT, 0, 0, 2.0, NULL};
    if (!vsim_options(c, 2 + used, &o)) {
        vfilter_free(o.filter);
        alloc_free(vec);
        return;
    }
    /* Nothing beyond the set's size is ever returned, so no buffer or
     * search width needs to exceed it, whatever COUNT or EF say. */
    uint64_t size = vset_len(v);
    size_t k = (uint64_t)o.count < size ? (size_t)o.count : (size_t)size;
    long long ef = o.ef ? o.ef : VSET_DEFAULT_SEARCH_EF;
    if (ef < o.count) {
        ef = o.count;
    }
    if ((uint64_t)ef > size) {
        ef = (long long)size;
    }
    long long filter_ef = o.filter_ef ? o.filter_ef : (o.count > LLONG_MAX / 100 ? LLONG_MAX : o.count * 100);
    hnsw_hit *hits = alloc_mem(sizeof(hnsw_hit) * (k ? k : 1));
    size_t n;
    if (o.truth) {
        n = hnsw_search_exact(v->h, vec, k, o.filter ? filter_item : NULL, o.filter, hits);
    } else {
        n = hnsw_search(v->h, vec, k, (uint32_t)ef, o.filter ? filter_item : NULL, o.filter, (size_t)filter_ef, hits);
    }
    vsim_reply(c, hits, n, &o);
    alloc_free(hits);
    vfilter_free(o.filter);
    alloc_free(vec);
}

/* ---- introspection ---- */

void cmd_vcard(client *c)
{
    int bad;
    vset *v = read_set(c, &bad);
    if (!bad) {
        reply_int(R(c), v ? (long long)vset_len(v) : 0);
    }
}

void cmd_vdim(client *c)
{
    int bad;
    vset *v = read_set(c, &bad);
    if (bad) {
        return;
    }
    if (!v) {
        reply_err(c, "ERR key does not exist");
        return;
    }
    reply_int(R(c), vset_dim(v));
}

void cmd_vismember(client *c)
{
    int bad;
    vset *v = read_set(c, &bad);
    if (!bad) {
        reply_bool(R(c), v && vset_find(v, c->argv[2]));
    }
}

/* VEMB key element [RAW] */
void cmd_vemb(client *c)
{
    int raw = 0;
    for (int j = 3; j < c->argc; j++) {
        if (!arg_is(c, j, "RAW")) {
            reply_err(c, "ERR invalid option");
            return;
        }
        raw = 1;
    }
    int bad;
    vset *v = read_set(c, &bad);
    if (bad) {
        return;
    }
    vset_item *it = v ? vset_find(v, c->argv[2]) : NULL;
    if (!it) {
        reply_null(R(c));
        return;
    }
    if (raw) {
        int q8 = hnsw_quant(v->h) == HNSW_QUANT_Q8;
        reply_array(R(c), 3 + q8);
        reply_status(R(c), quant_name(hnsw_quant(v->h)));
        reply_bulk(R(c), hnsw_node_raw(it->node), hnsw_vector_bytes(v->h));
        reply_double(R(c), hnsw_node_l2(it->node));
        if (q8) {
            reply_double(R(c), hnsw_node_range(it->node));
        }
        return;
    }
    uint32_t dim = vset_dim(v);
    float *vec = alloc_mem(sizeof(float) * dim);
    hnsw_node_vector(v->h, it->node, vec);
    reply_array(R(c), dim);
    for (uint32_t i = 0; i < dim; i++) {
        reply_double(R(c), vec[i]);
    }
    alloc_free(vec);
}

/* VLINKS key element [WITHSCORES]: neighbours per level, top level first. */
void cmd_vlinks(client *c)
{
    int withscores = 0;
    if (c->argc == 4) {
        if (!arg_is(c, 3, "WITHSCORES")) {
            reply_arity_error(c);
            return;
        }
        withscores = 1;
    } else if (c->argc > 4) {
        reply_arity_error(c);
        return;
    }
    int bad;
    vset *v = read_set(c, &bad);
    if (bad) {
        return;
    }
    vset_item *it = v ? vset_find(v, c->argv[2]) : NULL;
    if (!it) {
        reply_null(R(c));
        return;
    }
    uint32_t level = hnsw_node_level(it->node);
    reply_array(R(c), level + 1);
    for (int l = (int)level; l >= 0; l--) {
        hnsw_node *const *links;
        uint32_t n = hnsw_node_links(it->node, (uint32_t)l, &links);
        if (withscores) {
            reply_map(R(c), n);
        } else {
            reply_array(R(c), n);
        }
        for (uint32_t j = 0; j < n; j++) {
            vset_item *nb = vset_item_of(links[j]);
            reply_sv(c, vset_item_ele(nb));
            if (withscores) {
                float d = hnsw_distance(v->h, it->node, links[j]);
                reply_double(R(c), 1.0 - d / 2.0);
            }
        }
    }
}

void cmd_vinfo(client *c)
{
    int bad;
    vset *v = read_set(c, &bad);
    if (bad) {
        return;
    }
    if (!v) {
        reply_null_array(R(c));
        return;
    }
    reply_map(R(c), 9);
    reply_status(R(c), "quant-type");
    reply_status(R(c), quant_name(hnsw_quant(v->h)));
    reply_status(R(c), "hnsw-m");
    reply_int(R(c), hnsw_m(v->h));
    reply_status(R(c), "vector-dim");
    reply_int(R(c), vset_dim(v));
    reply_status(R(c), "projection-input-dim");
    reply_int(R(c), v->proj_in);
    reply_status(R(c), "size");
    reply_int(R(c), (long long)vset_len(v));
    reply_status(R(c), "max-level");
    reply_int(R(c), hnsw_max_level(v->h));
    reply_status(R(c), "attributes-count");
    reply_int(R(c), (long long)v->nattrs);
    reply_status(R(c), "vset-uid");
    reply_int(R(c), (long long)v->uid);
    reply_status(R(c), "hnsw-max-node-uid");
    reply_int(R(c), (long long)hnsw_last_id(v->h));
}

static void reply_item(client *c, hnsw_node *n)
{
    reply_sv(c, vset_item_ele(vset_item_of(n)));
}

/* VRANDMEMBER key [count]: SRANDMEMBER's semantics. Members are drawn
 * uniformly from the node array; distinct ones by rejecting repeats when
 * few are asked for, else by a partial shuffle of the indexes. */
void cmd_vrandmember(client *c)
{
    long long count = 1;
    int has_count = c->argc == 3;
    if (c->argc > 3) {
        reply_arity_error(c);
        return;
    }
    if (has_count) {
        if (!util_parse_ll(c->argv[2].ptr, c->argv[2].len, &count) || count == LLONG_MIN) {
            reply_err(c, "ERR COUNT value is not an integer");
            return;
        }
        if (count == 0) {
            reply_empty_array(R(c));
            return;
        }
    }
    int bad;
    vset *v = read_set(c, &bad);
    if (bad) {
        return;
    }
    if (!v) {
        if (has_count) {
            reply_empty_array(R(c));
        } else {
            reply_null(R(c));
        }
        return;
    }
    uint64_t size = vset_len(v);
    if (!has_count) {
        reply_item(c, hnsw_node_at(v->h, util_rand64() % size));
        return;
    }
    if (count < 0) {
        uint64_t n = (uint64_t)(-count);
        reply_array(R(c), (long long)n);
        for (uint64_t i = 0; i < n; i++) {
            reply_item(c, hnsw_node_at(v->h, util_rand64() % size));
        }
        return;
    }
    uint64_t n = (uint64_t)count < size ? (uint64_t)count : size;
    reply_array(R(c), (long long)n);
    if (n == size) {
        for (uint64_t i = 0; i < n; i++) {
            reply_item(c, hnsw_node_at(v->h, i));
        }
        return;
    }
    if (n * 4 <= size) {
        /* Few of many: draw, skipping repeats, remembered in a small open
         * table of indexes (+1, so 0 means empty) sized for n. */
        uint64_t cap = 16;
        while (cap < n * 2) {
            cap <<= 1;
        }
        uint64_t *seen = alloc_zero(sizeof(uint64_t) * cap);
        for (uint64_t got = 0; got < n;) {
            uint64_t i = util_rand64() % size, slot = (i * 0x9E3779B97F4A7C15ull) & (cap - 1);
            while (seen[slot] && seen[slot] != i + 1) {
                slot = (slot + 1) & (cap - 1);
            }
            if (!seen[slot]) {
                seen[slot] = i + 1;
                reply_item(c, hnsw_node_at(v->h, i));
                got++;
            }
        }
        alloc_free(seen);
        return;
    }
    /* Many of them: a partial Fisher-Yates over all the indexes. */
    uint64_t *idx = alloc_mem(sizeof(uint64_t) * size);
    for (uint64_t i = 0; i < size; i++) {
        idx[i] = i;
    }
    for (uint64_t i = 0; i < n; i++) {
        uint64_t j = i + util_rand64() % (size - i);
        uint64_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
        reply_item(c, hnsw_node_at(v->h, idx[i]));
    }
    alloc_free(idx);
}

/* VRANGE key start end [count]: elements in byte order between two
 * ZRANGEBYLEX-style bounds, at most count of them (all when count is
 * negative or not given), through the order tree: O(log N + M). */
void cmd_vrange(client *c)
{
    if (c->argc > 5) {
        reply_arity_error(c);
        return;
    }
    zlex_range r;
    if (!zset_parse_lex_bound(c->argv[2], &r.min, &r.minex, &r.min_kind) ||
        !zset_parse_lex_bound(c->argv[3], &r.max, &r.maxex, &r.max_kind)) {
        reply_err(c, "ERR invalid start or end range");
        return;
    }
    long long count = -1;
    if (c->argc == 5 && !util_parse_ll(c->argv[4].ptr, c->argv[4].len, &count)) {
        reply_err(c, "ERR invalid count");
        return;
    }
    int bad;
    vset *v = read_set(c, &bad);
    if (bad) {
        return;
    }
    size_t start = 0, end = 0;
    if (v && count != 0) {
        vset_lex_bounds(v, &r, &start, &end);
    }
    if (end > start && count > 0 && (uint64_t)count < end - start) {
        end = start + (size_t)count;
    }
    reply_array(R(c), end > start ? (long long)(end - start) : 0);
    if (end > start) {
        ordtree_pos p = ordtree_at(&v->order, start);
        for (size_t i = start; i < end; i++, p = ordtree_pos_next(p)) {
            reply_sv(c, ordtree_member(ordtree_pos_elem(p)));
        }
    }
}
