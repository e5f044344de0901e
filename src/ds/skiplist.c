/* skiplist: see the header for the node layout and the span invariant.
 * Every update keeps, for each level i, span[i] equal to the rank distance
 * to fwd[i] (or to one past the tail when fwd[i] is NULL, as the header's
 * spans of unused levels are 0 and never read). */
#include "ds/skiplist.h"

#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"

int zsl_cmp(double s1, sv m1, double s2, sv m2)
{
    if (s1 < s2) {
        return -1;
    }
    if (s1 > s2) {
        return 1;
    }
    size_t n = m1.len < m2.len ? m1.len : m2.len;
    int c = n ? memcmp(m1.ptr, m2.ptr, n) : 0;
    if (c) {
        return c;
    }
    return m1.len < m2.len ? -1 : m1.len > m2.len;
}

size_t zsl_node_size(int level, size_t mlen)
{
    return sizeof(zsl_node) + (sizeof(zsl_node *) + sizeof(uint32_t)) * (size_t)level + mlen;
}

static zsl_node *node_new(int level, double score, sv member)
{
    if (member.len > UINT32_MAX) {
        PANIC("sorted set member too long");
    }
    zsl_node *n = alloc_mem(zsl_node_size(level, member.len));
    n->hnode.next = NULL;
    n->score = score;
    n->backward = NULL;
    n->mlen = (uint32_t)member.len;
    n->level = (uint8_t)level;
    for (int i = 0; i < level; i++) {
        n->fwd[i] = NULL;
        zsl_span(n)[i] = 0;
    }
    if (member.len) {
        memcpy((char *)zsl_member(n).ptr, member.ptr, member.len);
    }
    return n;
}

/* p = 1/4: two random bits per level. */
static int random_level(void)
{
    uint64_t r = util_rand64();
    int level = 1;
    while ((r & 3) == 0 && level < ZSL_MAX_LEVEL) {
        level++;
        r >>= 2;
    }
    return level;
}

void zsl_init(zsl *l)
{
    l->header = node_new(ZSL_MAX_LEVEL, 0, (sv){NULL, 0});
    l->tail = NULL;
    l->length = 0;
    l->level = 1;
}

void zsl_destroy(zsl *l)
{
    zsl_node *n = l->header->fwd[0];
    alloc_free(l->header);
    while (n) {
        zsl_node *next = n->fwd[0];
        alloc_free(n);
        n = next;
    }
    l->header = NULL;
    l->tail = NULL;
    l->length = 0;
}

/* Fills update[] with the last node before (score, member) on each level
 * and rank[] with those nodes' ranks. */
static void find_path(const zsl *l, double score, sv member, zsl_node **update, size_t *rank)
{
    zsl_node *x = l->header;
    for (int i = l->level - 1; i >= 0; i--) {
        rank[i] = i == l->level - 1 ? 0 : rank[i + 1];
        while (x->fwd[i] && zsl_cmp(x->fwd[i]->score, zsl_member(x->fwd[i]), score, member) < 0) {
            rank[i] += zsl_span(x)[i];
            x = x->fwd[i];
        }
        update[i] = x;
    }
}

/* find_path for a key known to sort after every node of a previous path
 * (update[], rank[] on entry, still linked, ranks unchanged): on each level
 * the walk resumes from whichever is further right, the node reached from
 * above or the old path's node, so a score that moves up a little costs a
 * few steps instead of a search from the top. */
static void find_path_after(const zsl *l, double score, sv member, zsl_node **update, size_t *rank)
{
    zsl_node *x = l->header;
    size_t r = 0;
    for (int i = l->level - 1; i >= 0; i--) {
        if (rank[i] > r) {
            x = update[i];
            r = rank[i];
        }
        while (x->fwd[i] && zsl_cmp(x->fwd[i]->score, zsl_member(x->fwd[i]), score, member) < 0) {
            r += zsl_span(x)[i];
            x = x->fwd[i];
        }
        update[i] = x;
        rank[i] = r;
    }
}

/* Links n (its level already set) after the given path to its key. */
static void link_at(zsl *l, zsl_node *n, zsl_node **update, size_t *rank)
{
    int level = n->level;
    if (level > l->level) {
        for (int i = l->level; i < level; i++) {
            rank[i] = 0;
            update[i] = l->header;
            zsl_span(l->header)[i] = (uint32_t)l->length;
        }
        l->level = level;
    }
    for (int i = 0; i < level; i++) {
        n->fwd[i] = update[i]->fwd[i];
        update[i]->fwd[i] = n;
        uint32_t *us = zsl_span(update[i]);
        zsl_span(n)[i] = (uint32_t)(us[i] - (rank[0] - rank[i]));
        us[i] = (uint32_t)(rank[0] - rank[i] + 1);
    }
    /* Levels above the new node now jump over one more element. */
    for (int i = level; i < l->level; i++) {
        zsl_span(update[i])[i]++;
    }
    n->backward = update[0] == l->header ? NULL : update[0];
    if (n->fwd[0]) {
        n->fwd[0]->backward = n;
    } else {
        l->tail = n;
    }
    l->length++;
}

static void link_node(zsl *l, zsl_node *n)
{
    zsl_node *update[ZSL_MAX_LEVEL];
    size_t rank[ZSL_MAX_LEVEL];
    find_path(l, n->score, zsl_member(n), update, rank);
    link_at(l, n, update, rank);
}

zsl_node *zsl_insert(zsl *l, double score, sv member)
{
    zsl_node *n = node_new(random_level(), score, member);
    link_node(l, n);
    return n;
}

/* Unlinks x given the path to it. */
static void unlink_with(zsl *l, zsl_node *x, zsl_node **update)
{
    for (int i = 0; i < l->level; i++) {
        uint32_t *us = zsl_span(update[i]);
        if (update[i]->fwd[i] == x) {
            us[i] += zsl_span(x)[i] - 1;
            update[i]->fwd[i] = x->fwd[i];
        } else {
            us[i] -= 1;
        }
    }
    if (x->fwd[0]) {
        x->fwd[0]->backward = x->backward;
    } else {
        l->tail = x->backward;
    }
    while (l->level > 1 && l->header->fwd[l->level - 1] == NULL) {
        l->level--;
    }
    l->length--;
}

/* Finds n's path (left in update[], rank[]) and unlinks it. */
static void unlink_found(zsl *l, zsl_node *n, zsl_node **update, size_t *rank)
{
    find_path(l, n->score, zsl_member(n), update, rank);
    if (update[0]->fwd[0] != n) {
        PANIC("zsl_unlink: node not in the skiplist");
    }
    unlink_with(l, n, update);
    n->backward = NULL;
    for (int i = 0; i < n->level; i++) {
        n->fwd[i] = NULL;
        zsl_span(n)[i] = 0;
    }
}

void zsl_unlink(zsl *l, zsl_node *n)
{
    zsl_node *update[ZSL_MAX_LEVEL];
    size_t rank[ZSL_MAX_LEVEL];
    unlink_found(l, n, update, rank);
}

void zsl_update_score(zsl *l, zsl_node *n, double score)
{
    /* Still between its neighbours: change in place (the common case for
     * small increments), no relinking needed. */
    sv m = zsl_member(n);
    if ((n->backward == NULL || zsl_cmp(n->backward->score, zsl_member(n->backward), score, m) < 0) &&
        (n->fwd[0] == NULL || zsl_cmp(n->fwd[0]->score, zsl_member(n->fwd[0]), score, m) > 0)) {
        n->score = score;
        return;
    }
    zsl_node *update[ZSL_MAX_LEVEL];
    size_t rank[ZSL_MAX_LEVEL];
    int up = score > n->score;
    unlink_found(l, n, update, rank);
    n->score = score;
    if (up) {
        /* The old path's nodes sort before the old key, so before the new. */
        find_path_after(l, score, m, update, rank);
        link_at(l, n, update, rank);
    } else {
        link_node(l, n);
    }
}

size_t zsl_rank(const zsl *l, double score, sv member)
{
    zsl_node *x = l->header;
    size_t rank = 0;
    for (int i = l->level - 1; i >= 0; i--) {
        while (x->fwd[i] && zsl_cmp(x->fwd[i]->score, zsl_member(x->fwd[i]), score, member) <= 0) {
            rank += zsl_span(x)[i];
            x = x->fwd[i];
        }
        if (x != l->header && x->score == score && sv_eq(zsl_member(x), member)) {
            return rank;
        }
    }
    return 0;
}

zsl_node *zsl_at_rank(const zsl *l, size_t rank)
{
    if (rank == 0 || rank > l->length) {
        return NULL;
    }
    zsl_node *x = l->header;
    size_t traversed = 0;
    for (int i = l->level - 1; i >= 0; i--) {
        while (x->fwd[i] && traversed + zsl_span(x)[i] <= rank) {
            traversed += zsl_span(x)[i];
            x = x->fwd[i];
        }
        if (traversed == rank) {
            return x;
        }
    }
    return NULL;
}

size_t zsl_prefix_count(const zsl *l, zsl_pred_fn pred, const void *ctx)
{
    zsl_node *x = l->header;
    size_t traversed = 0;
    for (int i = l->level - 1; i >= 0; i--) {
        while (x->fwd[i] && pred(x->fwd[i]->score, zsl_member(x->fwd[i]), ctx)) {
            traversed += zsl_span(x)[i];
            x = x->fwd[i];
        }
    }
    return traversed;
}

size_t zsl_delete_rank_range(zsl *l, size_t start, size_t end, void (*fn)(zsl_node *n, void *ctx), void *ctx)
{
    if (start == 0) {
        start = 1;
    }
    if (end > l->length) {
        end = l->length;
    }
    if (start > end) {
        return 0;
    }
    zsl_node *update[ZSL_MAX_LEVEL];
    zsl_node *x = l->header;
    size_t traversed = 0;
    for (int i = l->level - 1; i >= 0; i--) {
        while (x->fwd[i] && traversed + zsl_span(x)[i] < start) {
            traversed += zsl_span(x)[i];
            x = x->fwd[i];
        }
        update[i] = x;
    }
    /* update[] now holds the nodes before rank `start` on every level;
     * they stay the predecessors while the range is removed one by one. */
    x = x->fwd[0];
    size_t removed = 0;
    for (size_t r = start; x && r <= end; r++) {
        zsl_node *next = x->fwd[0];
        unlink_with(l, x, update);
        fn(x, ctx);
        removed++;
        x = next;
    }
    return removed;
}
