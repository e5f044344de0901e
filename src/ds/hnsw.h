/* hnsw: a hierarchical navigable small world graph over vectors compared
 * by cosine similarity, the index behind vector sets (types/vset).
 *
 * Vectors are normalized to unit length when added (the length is kept
 * so the original can be given back) and stored in one of three forms:
 * 32-bit floats, signed bytes scaled by the vector's largest magnitude
 * (Q8), or one sign bit per component (BIN). The distance between two
 * nodes runs from 0 (same direction) to 2 (opposite):
 *   F32: 1 - dot(a, b)
 *   Q8:  1 - dot(qa, qb) * (range_a / 127) * (range_b / 127), clamped to
 *        [0, 2]; 1 when either range is 0 (a zero vector)
 *   BIN: 2 * popcount(a xor b) / dim
 * These, the stored bytes and the quantization numbers are those of
 * Redis 8's vector sets, so a saved graph moves between the two servers.
 *
 * Every link is reciprocal: when a links to b at level l, b links to a at
 * level l. Insertions and deletions keep this, and loading checks it,
 * since Redis refuses a graph without it.
 *
 * Nodes live in an array as well as in the graph, so a uniformly random
 * node and iteration cost O(1) per node. The graph is used by one thread
 * (a node keeps the epoch it was last visited in). */
#ifndef KEEL_HNSW_H
#define KEEL_HNSW_H

#include <stddef.h>
#include <stdint.h>

/* Quantization kinds; the numbers are those RDB files carry. */
enum { HNSW_QUANT_F32 = 0, HNSW_QUANT_Q8 = 1, HNSW_QUANT_BIN = 2 };

#define HNSW_DEFAULT_M 16
#define HNSW_MIN_M 4
#define HNSW_MAX_M 4096
/* Levels run from 0 to HNSW_MAX_LEVEL - 1. */
#define HNSW_MAX_LEVEL 16

typedef struct hnsw hnsw;
typedef struct hnsw_node hnsw_node;

typedef struct hnsw_hit {
    hnsw_node *node;
    float dist;
} hnsw_hit;

/* A search filter: nonzero when the node whose value is given may be
 * returned. */
typedef int (*hnsw_filter_fn)(void *value, void *ctx);

/* An empty graph of dim-component vectors (dim >= 1) in form quant, whose
 * nodes keep m links per level above 0 and 2 * m at level 0
 * (HNSW_MIN_M <= m <= HNSW_MAX_M). seed starts the level generator. */
hnsw *hnsw_new(uint32_t dim, int quant, uint32_t m, uint64_t seed);
/* Frees the graph; free_value (may be NULL) is called on each node's value. */
void hnsw_free(hnsw *h, void (*free_value)(void *value));

uint32_t hnsw_dim(const hnsw *h);
int hnsw_quant(const hnsw *h);
uint32_t hnsw_m(const hnsw *h);
uint64_t hnsw_count(const hnsw *h);
/* The highest level any node has (0 when empty). */
uint32_t hnsw_max_level(const hnsw *h);
/* The largest node id given out or loaded so far. */
uint64_t hnsw_last_id(const hnsw *h);
/* Bytes of one stored vector: 4 * dim, dim, or (dim + 63) / 64 * 8. */
size_t hnsw_vector_bytes(const hnsw *h);
/* Bytes the graph holds (nodes, vectors, links, the node array), for
 * MEMORY USAGE; values are the caller's to count. */
size_t hnsw_mem(const hnsw *h);
/* Active defragmentation of the graph's own blocks: its struct, the node
 * array and the search scratch move where alloc_defrag advises. Returns
 * the graph, moved or not. The nodes stay: each is pointed at from the
 * link arrays of all its neighbours, the node array, the entry point and
 * its value's owner. */
hnsw *hnsw_defrag_top(hnsw *h);

/* Adds vec (dim finite floats; it is copied, normalized and quantized here) with
 * value, linking it to neighbours found with a search of width ef
 * (ef >= 1). The node gets the next id. */
hnsw_node *hnsw_insert(hnsw *h, const float *vec, void *value, uint32_t ef);
/* Unlinks n, links its former neighbours among themselves where they
 * have room, frees n and returns its value. */
void *hnsw_delete(hnsw *h, hnsw_node *n);

/* The k nodes nearest to query (dim floats, normalized and quantized here
 * as a stored vector would be), nearest first, into out (k slots); returns
 * how many. ef (raised to k when smaller) is the search width at level 0.
 * With a filter, only nodes whose value passes are returned, and the
 * search stops after max_visit nodes have been looked at (0: no limit). */
size_t hnsw_search(hnsw *h, const float *query, size_t k, uint32_t ef, hnsw_filter_fn filter, void *fctx,
                   size_t max_visit, hnsw_hit *out);
/* The same by comparing query with every node: the exact answer. */
size_t hnsw_search_exact(hnsw *h, const float *query, size_t k, hnsw_filter_fn filter, void *fctx, hnsw_hit *out);

/* Distance between two nodes of h, as above. */
float hnsw_distance(const hnsw *h, const hnsw_node *a, const hnsw_node *b);

/* The node's vector as given, as far as storage kept it: dequantized and
 * multiplied back by its length (BIN gives +1 / -1 per component, unscaled). */
void hnsw_node_vector(const hnsw *h, const hnsw_node *n, float *out);
void *hnsw_node_value(const hnsw_node *n);
void hnsw_node_set_value(hnsw_node *n, void *value);
uint64_t hnsw_node_id(const hnsw_node *n);
uint32_t hnsw_node_level(const hnsw_node *n);
/* The stored vector: hnsw_vector_bytes(h) bytes. */
const void *hnsw_node_raw(const hnsw_node *n);
/* Length before normalization (1 for a zero vector). */
float hnsw_node_l2(const hnsw_node *n);
/* Q8's scale: the largest component magnitude after normalization. */
float hnsw_node_range(const hnsw_node *n);
/* Links at level (<= the node's level): sets *links, returns the count. */
uint32_t hnsw_node_links(const hnsw_node *n, uint32_t level, hnsw_node *const **links);
/* Room for links at level: for a loaded node, the larger of what was
 * saved and this graph's default. */
uint32_t hnsw_node_max_links(const hnsw_node *n, uint32_t level);

/* Node i (0 <= i < hnsw_count) of the node array. Deletions move the last
 * node into the freed place, so walk it only while nothing changes. */
hnsw_node *hnsw_node_at(const hnsw *h, uint64_t i);

/* ---- loading a saved graph ---- */

/* Adds a node exactly as saved: its id (>= 1), level (< HNSW_MAX_LEVEL),
 * stored vector (hnsw_vector_bytes(h) bytes), l2 and range, and for each
 * level 0..level its link count nlinks[l], room max_links[l] (>= nlinks[l],
 * <= 4 * HNSW_MAX_M) and link ids (all levels' ids one after another in
 * link_ids). Links are resolved by hnsw_load_finish. NULL on bad numbers. */
hnsw_node *hnsw_load_node(hnsw *h, uint64_t id, uint32_t level, const void *raw, float l2, float range,
                          const uint32_t *nlinks, const uint32_t *max_links, const uint64_t *link_ids, void *value);
/* Turns link ids into links and checks the graph: every id names a node
 * of at least that level, ids are unique, no node links to itself or twice
 * to one node, and every link is reciprocal. Sets the entry point (a node
 * of the highest level). 0, or -1 when the graph is bad (free it then). */
int hnsw_load_finish(hnsw *h);

/* Checks the invariants (reciprocal links, levels, counts, the node array)
 * for tests: 0 when they hold. */
int hnsw_check(const hnsw *h);

#endif
