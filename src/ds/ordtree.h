/* ordtree: the order of a big sorted set, as a counted B+tree of pointers
 * to (score, member) elements. Order is by score, then by member bytes
 * (memcmp, shorter first on a common prefix).
 *
 * Each element is one small allocation that holds everything about it:
 *
 *   [hnode][score][mlen:32][member]      (32 bytes for a 12-byte member)
 *
 * hnode is a dict chain link: a sorted set indexes the very same elements
 * by member in an intrusive dict (base/dict.h), so member bytes are stored
 * once and a member lookup needs no second allocation.
 *
 * The tree holds only pointers: a leaf is up to ORDTREE_LEAF_CAP element
 * pointers (8 bytes per element when full), leaves are chained both ways
 * for iteration, and an inner node keeps, per child, the number of
 * elements under it (so rank lookups, rank-to-element lookups and range
 * bounds cost O(log n)) and the child's first element with its score
 * copied beside it (so a descent compares scores inside the node and
 * touches an element only on a tie). A node that falls below a quarter
 * is merged with a neighbour or evened out with it; an insert past the last
 * element (or before the first) splits off a fresh leaf, so sets loaded in
 * order keep their leaves full.
 *
 * Counts are 32-bit (a subtree of more than 4G elements would need
 * ~150GB), which keeps inner nodes small. */
#ifndef KEEL_ORDTREE_H
#define KEEL_ORDTREE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/dict.h"
#include "base/str.h"

typedef struct ordtree_elem {
    dnode hnode; /* first: the dict sees the element as a dnode */
    double score;
    uint32_t mlen; /* ORDTREE_LONG_MEMBER: a 64-bit length leads member[] */
    char member[];
} ordtree_elem;

/* Members of 4 GB or more (as big as Redis allows once proto-max-bulk-len
 * is raised) keep their length in 8 bytes before the member. */
#define ORDTREE_LONG_MEMBER UINT32_MAX

static inline sv ordtree_member(const ordtree_elem *e)
{
    if (e->mlen != ORDTREE_LONG_MEMBER) {
        return (sv){e->member, e->mlen};
    }
    uint64_t len;
    memcpy(&len, e->member, sizeof(len));
    return (sv){e->member + sizeof(len), (size_t)len};
}

/* 125 pointers and the leaf's header make exactly 1024 bytes, one jemalloc
 * size class. */
#define ORDTREE_LEAF_CAP 125

typedef struct ordtree_leaf ordtree_leaf;
struct ordtree_leaf {
    ordtree_leaf *prev, *next;
    uint32_t n;
    ordtree_elem *e[ORDTREE_LEAF_CAP];
};

typedef struct ordtree {
    void *root;    /* a leaf when height is 0; NULL when empty */
    int height;    /* inner levels above the leaves */
    size_t length; /* elements */
    size_t leaves; /* node counts, for memory accounting */
    size_t inners;
} ordtree;

/* A position: a leaf and an index in it. Invalidated by any change to the
 * tree. */
typedef struct ordtree_pos {
    ordtree_leaf *leaf;
    uint32_t i;
} ordtree_pos;

/* Compares (score, member) pairs: <0, 0, >0. */
int ordtree_cmp(double s1, sv m1, double s2, sv m2);

void ordtree_init(ordtree *t);
/* Frees every node and every element; ordtree_init before using t again. */
void ordtree_destroy(ordtree *t);
/* Inserts a new element (allocated here, owned by the tree); the member
 * must not be present. */
ordtree_elem *ordtree_insert(ordtree *t, double score, sv member);
/* Links an element the caller made (hnode, score, mlen and member set; it
 * may sit inside a bigger allocation) and keeps owning; its member must
 * not be present. */
void ordtree_link(ordtree *t, ordtree_elem *e);
/* Frees the nodes but not the elements (for callers that own them). */
void ordtree_destroy_nodes(ordtree *t);
/* Unlinks e without freeing it (the caller frees it with alloc_free). */
void ordtree_unlink(ordtree *t, ordtree_elem *e);
/* Changes e's score, moving it if the order requires; e stays the same
 * allocation, so pointers to it (the member dict) stay valid. */
void ordtree_update_score(ordtree *t, ordtree_elem *e, double score);
/* 0-based rank of e, which must be in the tree. */
size_t ordtree_rank(const ordtree *t, const ordtree_elem *e);
/* The position of 0-based rank (leaf NULL when out of range). */
ordtree_pos ordtree_at(const ordtree *t, size_t rank);
/* Length of the longest prefix whose elements all satisfy pred. pred must
 * be true on a prefix and false after it (a range bound), which makes the
 * answer a descent of O(log n) steps. */
typedef int (*ordtree_pred_fn)(double score, sv member, const void *ctx);
size_t ordtree_prefix_count(const ordtree *t, ordtree_pred_fn pred, const void *ctx);
/* Unlinks the elements of 0-based ranks [start, end) and hands each to fn
 * (which owns it from then on). Returns how many were removed. */
size_t ordtree_delete_ranks(ordtree *t, size_t start, size_t end, void (*fn)(ordtree_elem *e, void *ctx), void *ctx);
/* Active defragmentation, in bounded steps. Offers the elements of ranks
 * [rank, rank + budget) to move, which returns the element's new address
 * (it moved it) or NULL (it stays); the tree then points at the new one,
 * in its leaf and wherever it is a subtree's first element. move must not
 * change the tree. On the way the leaves and inner nodes above those ranks
 * move where alloc_defrag advises. Returns the rank the next call starts
 * from, 0 once the last element was offered; a rank, so the tree may
 * change between calls (an element may then be offered twice or not at
 * all in one pass). Cost: budget elements (at least one) and a descent per
 * leaf. */
typedef ordtree_elem *(*ordtree_move_fn)(ordtree_elem *e, void *ctx);
size_t ordtree_defrag(ordtree *t, size_t rank, size_t budget, ordtree_move_fn move, void *ctx);
/* Bytes allocated for the nodes (not the elements). */
size_t ordtree_node_bytes(const ordtree *t);
/* Bytes asked of the allocator for an element with an mlen-byte member. */
size_t ordtree_elem_size(size_t mlen);
/* Fills in a new element (ordtree_elem_size(member.len) bytes at e). */
void ordtree_elem_init(ordtree_elem *e, double score, sv member);

/* Verifies every invariant of the tree (for tests): 0 when they all hold,
 * else a negative number naming the first one broken (see ordtree.c). */
int ordtree_check(const ordtree *t);

/* Walking positions: the element at p (p.leaf must not be NULL), and the
 * next or previous position (leaf NULL past either end). Inline: they are
 * the inner loop of every range reply. */
static inline ordtree_elem *ordtree_pos_elem(ordtree_pos p)
{
    return p.leaf->e[p.i];
}

static inline ordtree_pos ordtree_pos_next(ordtree_pos p)
{
    if (p.i + 1 < p.leaf->n) {
        return (ordtree_pos){p.leaf, p.i + 1};
    }
    return (ordtree_pos){p.leaf->next, 0};
}

static inline ordtree_pos ordtree_pos_prev(ordtree_pos p)
{
    if (p.i > 0) {
        return (ordtree_pos){p.leaf, p.i - 1};
    }
    ordtree_leaf *l = p.leaf->prev;
    return (ordtree_pos){l, l ? l->n - 1 : 0};
}

#endif
