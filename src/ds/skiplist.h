/* skiplist: an ordered index of (score, member) pairs with span counts, so
 * that rank lookups, rank-to-node lookups and range bounds all cost
 * O(log n). Order is by score, then by member bytes (memcmp, shorter
 * first on a common prefix).
 *
 * One allocation per element holds everything about it:
 *
 *   [hnode][score][backward][mlen:32 level:8][fwd[level]][span[level]][member]
 *
 * hnode is a dict chain link: a sorted set indexes the very same nodes by
 * member in an intrusive dict (base/dict.h), so the member bytes are stored
 * once and a member lookup needs no second allocation. Spans are 32-bit
 * (a sorted set of more than 4G members would need ~300GB anyway), which
 * keeps a level at 12 bytes instead of 16.
 *
 * span[i] of node x is the number of elements between x and x->fwd[i]
 * (that is, rank(fwd[i]) - rank(x)); the header has rank 0 and the first
 * element rank 1. Levels are drawn with p = 1/4 (1.33 levels per node on
 * average), the memory/speed trade-off Redis also chose. */
#ifndef KEEL_SKIPLIST_H
#define KEEL_SKIPLIST_H

#include <stddef.h>
#include <stdint.h>

#include "base/dict.h"
#include "base/str.h"

#define ZSL_MAX_LEVEL 32

typedef struct zsl_node {
    dnode hnode; /* first: the dict sees the node as a dnode */
    double score;
    struct zsl_node *backward;
    uint32_t mlen;
    uint8_t level;
    struct zsl_node *fwd[]; /* then uint32_t span[level], then the member */
} zsl_node;

typedef struct zsl {
    zsl_node *header;
    zsl_node *tail;
    size_t length;
    int level;
} zsl;

static inline uint32_t *zsl_span(const zsl_node *n)
{
    return (uint32_t *)(void *)((char *)n->fwd + sizeof(zsl_node *) * n->level);
}

static inline sv zsl_member(const zsl_node *n)
{
    return (sv){(const char *)(zsl_span(n) + n->level), n->mlen};
}

/* Compares (score, member) pairs: <0, 0, >0. */
int zsl_cmp(double s1, sv m1, double s2, sv m2);

void zsl_init(zsl *l);
/* Frees every node and the header; zsl_init before using l again. */
void zsl_destroy(zsl *l);
/* Inserts a new element; the member must not be present. */
zsl_node *zsl_insert(zsl *l, double score, sv member);
/* Unlinks n (found by its score and member) without freeing it. */
void zsl_unlink(zsl *l, zsl_node *n);
/* Changes n's score, moving it if the order requires; n stays the same
 * allocation, so pointers to it (the member dict) stay valid. */
void zsl_update_score(zsl *l, zsl_node *n, double score);
/* 1-based rank of the element, or 0 if absent. */
size_t zsl_rank(const zsl *l, double score, sv member);
/* The element at 1-based rank, or NULL when out of range. */
zsl_node *zsl_at_rank(const zsl *l, size_t rank);
/* Length of the longest prefix whose elements all satisfy pred. pred must
 * be true on a prefix and false after it (a range bound), which makes the
 * answer a descent of O(log n) steps. */
typedef int (*zsl_pred_fn)(double score, sv member, const void *ctx);
size_t zsl_prefix_count(const zsl *l, zsl_pred_fn pred, const void *ctx);
/* Unlinks the elements of 1-based ranks [start, end] and hands each to
 * fn (which owns it from then on). Returns how many were removed. */
size_t zsl_delete_rank_range(zsl *l, size_t start, size_t end, void (*fn)(zsl_node *n, void *ctx), void *ctx);
/* Bytes allocated for a node. */
size_t zsl_node_size(int level, size_t mlen);

#endif
