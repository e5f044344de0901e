/* ordtree: a counted B+tree of element pointers. See ordtree.h.
 *
 * Invariants, after every public operation: all leaves are at the same
 * depth (t->height inner levels above them); an inner node's count[i] is
 * the number of elements under child[i], min[i] is the first of them and
 * min_score[i] == min[i]->score; no node is empty; every node but the root
 * holds at least a quarter of its capacity, except the first and last
 * leaves, which an insert at either end of the whole order starts afresh
 * with one element.
 *
 * Updates go down once, remembering the way (a path), then repair the
 * nodes on it bottom-up: counts, first elements, splits and underflows. */
#include "ds/ordtree.h"

#include <string.h>

#include "base/alloc.h"
#include "base/log.h"

#define LEAF_CAP ORDTREE_LEAF_CAP
#define LEAF_MIN (LEAF_CAP / 4)
/* 36 children (count, score, first element and child: 28 bytes each) and
 * the header make 1016 bytes, in the 1024-byte size class. */
#define INNER_CAP 36
#define INNER_MIN (INNER_CAP / 4)
/* Each level multiplies the elements by at least INNER_MIN (leaves hold at
 * least LEAF_MIN), so 16 levels cover far more than 32-bit counts allow. */
#define MAX_HEIGHT 16

typedef ordtree_leaf leaf;

typedef struct inner {
    uint32_t n;
    uint32_t count[INNER_CAP];
    double min_score[INNER_CAP];
    ordtree_elem *min[INNER_CAP];
    void *child[INNER_CAP];
} inner;

_Static_assert(sizeof(leaf) == 1024, "a leaf fills its size class");
_Static_assert(sizeof(inner) <= 1024 && sizeof(inner) > 896, "an inner node fills its size class");

/* The way down to a place: node[0] is the root, node[height] the leaf;
 * idx[] is the child taken at each inner level and the position in the
 * leaf. */
typedef struct path {
    void *node[MAX_HEIGHT + 1];
    uint32_t idx[MAX_HEIGHT + 1];
} path;

/* ---- elements and comparisons ---- */

int ordtree_cmp(double s1, sv m1, double s2, sv m2)
{
    if (s1 < s2) {
        return -1;
    }
    if (s1 > s2) {
        return 1;
    }
    return sv_cmp(m1, m2);
}

static int elem_cmp(const ordtree_elem *e, double s, sv m)
{
    return ordtree_cmp(e->score, ordtree_member(e), s, m);
}

size_t ordtree_elem_size(size_t mlen)
{
    return offsetof(ordtree_elem, member) + (mlen >= ORDTREE_LONG_MEMBER ? sizeof(uint64_t) : 0) + mlen;
}

void ordtree_elem_init(ordtree_elem *e, double score, sv member)
{
    e->hnode.next = NULL;
    e->score = score;
    size_t head = 0;
    if (member.len >= ORDTREE_LONG_MEMBER) {
        uint64_t len = member.len;
        memcpy(e->member, &len, sizeof(len));
        head = sizeof(len);
        e->mlen = ORDTREE_LONG_MEMBER;
    } else {
        e->mlen = (uint32_t)member.len;
    }
    if (member.len) {
        memcpy(e->member + head, member.ptr, member.len);
    }
}

static ordtree_elem *elem_new(double score, sv member)
{
    ordtree_elem *e = alloc_mem(ordtree_elem_size(member.len));
    ordtree_elem_init(e, score, member);
    return e;
}

/* ---- nodes ---- */

static leaf *leaf_new(ordtree *t)
{
    leaf *l = alloc_mem(sizeof(*l));
    l->prev = l->next = NULL;
    l->n = 0;
    t->leaves++;
    return l;
}

static inner *inner_new(ordtree *t)
{
    inner *x = alloc_mem(sizeof(*x));
    x->n = 0;
    t->inners++;
    return x;
}

static void leaf_free(ordtree *t, leaf *l)
{
    alloc_free(l);
    t->leaves--;
}

static void inner_free(ordtree *t, inner *x)
{
    alloc_free(x);
    t->inners--;
}

static uint32_t node_n(const void *node, int is_leaf)
{
    return is_leaf ? ((const leaf *)node)->n : ((const inner *)node)->n;
}

static ordtree_elem *node_first(const void *node, int is_leaf)
{
    return is_leaf ? ((const leaf *)node)->e[0] : ((const inner *)node)->min[0];
}

static uint32_t node_count(const void *node, int is_leaf)
{
    if (is_leaf) {
        return ((const leaf *)node)->n;
    }
    const inner *x = node;
    uint32_t c = 0;
    for (uint32_t i = 0; i < x->n; i++) {
        c += x->count[i];
    }
    return c;
}

/* Re-reads child i's first element (the child must not be empty). */
static void refresh_min(inner *x, uint32_t i, int child_is_leaf)
{
    ordtree_elem *f = node_first(x->child[i], child_is_leaf);
    x->min[i] = f;
    x->min_score[i] = f->score;
}

static void leaf_put(leaf *l, uint32_t pos, ordtree_elem *e)
{
    memmove(&l->e[pos + 1], &l->e[pos], sizeof(l->e[0]) * (l->n - pos));
    l->e[pos] = e;
    l->n++;
}

/* Copies k entries of src from si to dst at di (counts, scores, firsts and
 * children travel together). */
static void inner_copy(inner *dst, uint32_t di, const inner *src, uint32_t si, uint32_t k)
{
    memcpy(&dst->count[di], &src->count[si], sizeof(src->count[0]) * k);
    memcpy(&dst->min_score[di], &src->min_score[si], sizeof(src->min_score[0]) * k);
    memcpy(&dst->min[di], &src->min[si], sizeof(src->min[0]) * k);
    memcpy(&dst->child[di], &src->child[si], sizeof(src->child[0]) * k);
}

/* Opens (k > 0) or closes (k < 0) a gap of |k| entries at i: entries
 * [i, n) move to i + k. */
static void inner_shift(inner *x, uint32_t i, int k)
{
    uint32_t tail = x->n - i, to = (uint32_t)((int)i + k);
    memmove(&x->count[to], &x->count[i], sizeof(x->count[0]) * tail);
    memmove(&x->min_score[to], &x->min_score[i], sizeof(x->min_score[0]) * tail);
    memmove(&x->min[to], &x->min[i], sizeof(x->min[0]) * tail);
    memmove(&x->child[to], &x->child[i], sizeof(x->child[0]) * tail);
    x->n = (uint32_t)((int)x->n + k);
}

static void inner_put(inner *x, uint32_t i, void *child, uint32_t count, ordtree_elem *first)
{
    inner_shift(x, i, 1);
    x->count[i] = count;
    x->min[i] = first;
    x->min_score[i] = first->score;
    x->child[i] = child;
}

/* ---- descents ---- */

/* Whether child i's first element sorts at or before (s, m). The copied
 * score settles it unless the scores tie. */
static int min_le(const inner *x, uint32_t i, double s, sv m)
{
    if (x->min_score[i] != s) {
        return x->min_score[i] < s;
    }
    return sv_cmp(ordtree_member(x->min[i]), m) <= 0;
}

/* The child whose range holds (s, m): the last whose first element is at
 * or before it, or the first child when it sorts before them all. */
static uint32_t child_index(const inner *x, double s, sv m)
{
    uint32_t lo = 1, hi = x->n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (min_le(x, mid, s, m)) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo - 1;
}

/* How many elements of l sort before (s, m). */
static uint32_t leaf_lower_bound(const leaf *l, double s, sv m)
{
    uint32_t lo = 0, hi = l->n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (elem_cmp(l->e[mid], s, m) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static void descend_key(const ordtree *t, double s, sv m, path *p)
{
    void *x = t->root;
    for (int h = 0; h < t->height; h++) {
        inner *in = x;
        uint32_t i = child_index(in, s, m);
        p->node[h] = in;
        p->idx[h] = i;
        x = in->child[i];
    }
    p->node[t->height] = x;
    p->idx[t->height] = leaf_lower_bound(x, s, m);
}

/* The way to e itself; e must be in the tree. Inner levels go by its key;
 * in the leaf a scan for the pointer reads one contiguous array instead of
 * the ~7 scattered elements a binary search by key would touch. */
static void descend_elem(const ordtree *t, const ordtree_elem *e, path *p)
{
    sv m = ordtree_member(e);
    void *x = t->root;
    for (int h = 0; h < t->height; h++) {
        inner *in = x;
        uint32_t i = child_index(in, e->score, m);
        p->node[h] = in;
        p->idx[h] = i;
        x = in->child[i];
    }
    const leaf *l = x;
    uint32_t pos = 0;
    while (pos < l->n && l->e[pos] != e) {
        pos++;
    }
    if (pos == l->n) {
        PANIC("ordtree: element not in the tree");
    }
    p->node[t->height] = x;
    p->idx[t->height] = pos;
}

/* The way to 0-based rank (< t->length). */
static void descend_rank(const ordtree *t, size_t rank, path *p)
{
    void *x = t->root;
    for (int h = 0; h < t->height; h++) {
        inner *in = x;
        uint32_t i = 0;
        while (rank >= in->count[i]) {
            rank -= in->count[i];
            i++;
        }
        p->node[h] = in;
        p->idx[h] = i;
        x = in->child[i];
    }
    p->node[t->height] = x;
    p->idx[t->height] = (uint32_t)rank;
}

/* ---- insert ---- */

/* Inserts e at pos of the full leaf l by splitting it; returns the new
 * right sibling. At the very end (or start) of the whole order the old
 * leaf stays full and the new element starts a leaf of its own, so
 * ascending (or descending) loads leave every leaf full. */
static leaf *leaf_split_put(ordtree *t, leaf *l, uint32_t pos, ordtree_elem *e)
{
    int at_end = pos == l->n && !l->next, at_start = pos == 0 && !l->prev;
    leaf *r = leaf_new(t);
    r->prev = l;
    r->next = l->next;
    if (l->next) {
        l->next->prev = r;
    }
    l->next = r;
    if (at_end) {
        r->e[0] = e;
        r->n = 1;
        return r;
    }
    uint32_t from = at_start ? 0 : l->n / 2;
    memcpy(r->e, &l->e[from], sizeof(l->e[0]) * (l->n - from));
    r->n = l->n - from;
    l->n = from;
    if (pos <= from) {
        leaf_put(l, pos, e);
    } else {
        leaf_put(r, pos - from, e);
    }
    return r;
}

/* Puts a child entry at i of x, splitting x when full; returns x's new
 * right sibling, if any. */
static inner *inner_split_put(ordtree *t, inner *x, uint32_t i, void *child, uint32_t count, ordtree_elem *first)
{
    if (x->n < INNER_CAP) {
        inner_put(x, i, child, count, first);
        return NULL;
    }
    inner *r = inner_new(t);
    uint32_t half = x->n / 2;
    inner_copy(r, 0, x, half, x->n - half);
    r->n = x->n - half;
    x->n = half;
    if (i <= half) {
        inner_put(x, i, child, count, first);
    } else {
        inner_put(r, i - half, child, count, first);
    }
    return r;
}

/* Inserts e at the leaf position p leads to, then repairs the way up. */
static void insert_at(ordtree *t, path *p, ordtree_elem *e)
{
    int h = t->height;
    leaf *l = p->node[h];
    uint32_t pos = p->idx[h];
    void *split = NULL; /* a new right sibling of the node below */
    if (l->n < LEAF_CAP) {
        leaf_put(l, pos, e);
    } else {
        split = leaf_split_put(t, l, pos, e);
    }
    for (int lvl = h - 1; lvl >= 0; lvl--) {
        inner *x = p->node[lvl];
        uint32_t i = p->idx[lvl];
        int child_is_leaf = lvl + 1 == h;
        refresh_min(x, i, child_is_leaf);
        if (!split) {
            x->count[i]++;
            continue;
        }
        x->count[i] = node_count(x->child[i], child_is_leaf);
        split = inner_split_put(t, x, i + 1, split, node_count(split, child_is_leaf), node_first(split, child_is_leaf));
    }
    if (split) {
        if (h >= MAX_HEIGHT) {
            PANIC("ordtree: too high");
        }
        int root_is_leaf = h == 0;
        inner *root = inner_new(t);
        inner_put(root, 0, t->root, node_count(t->root, root_is_leaf), node_first(t->root, root_is_leaf));
        inner_put(root, 1, split, node_count(split, root_is_leaf), node_first(split, root_is_leaf));
        t->root = root;
        t->height++;
    }
    t->length++;
}

/* ---- remove ---- */

/* Repairs x's child i after it fell below a quarter: merges it with a
 * neighbour when both fit in three quarters of a node, else evens the two
 * out. The slack keeps a merged node from splitting again on the next
 * insert (appends at the end alternating with pops from it would otherwise
 * allocate and free a leaf each time). */
static void fix_underflow(ordtree *t, inner *x, uint32_t i, int is_leaf)
{
    if (x->n == 1) {
        /* An only child: x is the root, which collapses onto it. */
        if (node_n(x->child[i], is_leaf)) {
            refresh_min(x, i, is_leaf);
        }
        return;
    }
    uint32_t li = i + 1 < x->n ? i : i - 1, ri = li + 1;
    uint32_t cap = is_leaf ? LEAF_CAP : INNER_CAP;
    void *lv = x->child[li], *rv = x->child[ri];
    uint32_t ln = node_n(lv, is_leaf), rn = node_n(rv, is_leaf);
    if (ln + rn <= cap * 3 / 4) {
        if (is_leaf) {
            leaf *l = lv, *r = rv;
            memcpy(&l->e[l->n], r->e, sizeof(r->e[0]) * r->n);
            l->n += r->n;
            l->next = r->next;
            if (r->next) {
                r->next->prev = l;
            }
            leaf_free(t, r);
        } else {
            inner *l = lv, *r = rv;
            inner_copy(l, l->n, r, 0, r->n);
            l->n += r->n;
            inner_free(t, r);
        }
        x->count[li] += x->count[ri];
        inner_shift(x, ri + 1, -1);
        refresh_min(x, li, is_leaf);
        return;
    }
    uint32_t want = (ln + rn) / 2;
    if (is_leaf) {
        leaf *l = lv, *r = rv;
        if (l->n < want) {
            uint32_t k = want - l->n; /* r's first k to l's end */
            memcpy(&l->e[l->n], r->e, sizeof(r->e[0]) * k);
            memmove(r->e, &r->e[k], sizeof(r->e[0]) * (r->n - k));
            l->n += k;
            r->n -= k;
        } else {
            uint32_t k = l->n - want; /* l's last k to r's front */
            memmove(&r->e[k], r->e, sizeof(r->e[0]) * r->n);
            memcpy(r->e, &l->e[want], sizeof(l->e[0]) * k);
            l->n = want;
            r->n += k;
        }
        x->count[li] = l->n;
        x->count[ri] = r->n;
    } else {
        inner *l = lv, *r = rv;
        if (l->n < want) {
            uint32_t k = want - l->n; /* r's first k to l's end */
            inner_copy(l, l->n, r, 0, k);
            l->n += k;
            inner_shift(r, k, -(int)k);
        } else {
            uint32_t k = l->n - want; /* l's last k to r's front */
            inner_shift(r, 0, (int)k);
            inner_copy(r, 0, l, want, k);
            l->n = want;
        }
        x->count[li] = node_count(l, 0);
        x->count[ri] = node_count(r, 0);
    }
    refresh_min(x, li, is_leaf);
    refresh_min(x, ri, is_leaf);
}

/* Removes k elements from the leaf position p leads to (all in that
 * leaf), handing each to fn when given, then repairs the way up. */
static void remove_at(ordtree *t, path *p, uint32_t k, void (*fn)(ordtree_elem *e, void *ctx), void *ctx)
{
    int h = t->height;
    leaf *l = p->node[h];
    uint32_t pos = p->idx[h];
    if (fn) {
        for (uint32_t j = pos; j < pos + k; j++) {
            fn(l->e[j], ctx);
        }
    }
    memmove(&l->e[pos], &l->e[pos + k], sizeof(l->e[0]) * (l->n - pos - k));
    l->n -= k;
    for (int lvl = h - 1; lvl >= 0; lvl--) {
        inner *x = p->node[lvl];
        uint32_t i = p->idx[lvl];
        int child_is_leaf = lvl + 1 == h;
        x->count[i] -= k;
        uint32_t n = node_n(x->child[i], child_is_leaf);
        if (n < (child_is_leaf ? LEAF_MIN : INNER_MIN)) {
            fix_underflow(t, x, i, child_is_leaf);
        } else {
            refresh_min(x, i, child_is_leaf);
        }
    }
    t->length -= k;
    while (t->height > 0 && ((inner *)t->root)->n == 1) {
        inner *old = t->root;
        t->root = old->child[0];
        inner_free(t, old);
        t->height--;
    }
    if (t->height == 0 && ((leaf *)t->root)->n == 0) {
        leaf_free(t, t->root);
        t->root = NULL;
    }
}

/* ---- API ---- */

void ordtree_init(ordtree *t)
{
    t->root = NULL;
    t->height = 0;
    t->length = 0;
    t->leaves = 0;
    t->inners = 0;
}

static void free_subtree(ordtree *t, void *node, int height, int elems)
{
    if (height == 0) {
        leaf *l = node;
        for (uint32_t i = 0; elems && i < l->n; i++) {
            alloc_free(l->e[i]);
        }
        leaf_free(t, l);
        return;
    }
    inner *x = node;
    for (uint32_t i = 0; i < x->n; i++) {
        free_subtree(t, x->child[i], height - 1, elems);
    }
    inner_free(t, x);
}

void ordtree_destroy(ordtree *t)
{
    if (t->root) {
        free_subtree(t, t->root, t->height, 1);
    }
    ordtree_init(t);
}

void ordtree_destroy_nodes(ordtree *t)
{
    if (t->root) {
        free_subtree(t, t->root, t->height, 0);
    }
    ordtree_init(t);
}

ordtree_elem *ordtree_insert(ordtree *t, double score, sv member)
{
    ordtree_elem *e = elem_new(score, member);
    ordtree_link(t, e);
    return e;
}

void ordtree_link(ordtree *t, ordtree_elem *e)
{
    sv member = ordtree_member(e);
    double score = e->score;
    if (!t->root) {
        t->root = leaf_new(t);
    }
    path p;
    descend_key(t, score, member, &p);
    insert_at(t, &p, e);
}

void ordtree_unlink(ordtree *t, ordtree_elem *e)
{
    path p;
    descend_elem(t, e, &p);
    remove_at(t, &p, 1, NULL, NULL);
}

void ordtree_update_score(ordtree *t, ordtree_elem *e, double score)
{
    path p;
    descend_elem(t, e, &p);
    int h = t->height;
    leaf *l = p.node[h];
    uint32_t pos = p.idx[h];
    sv m = ordtree_member(e);
    ordtree_pos at = {l, pos};
    ordtree_pos before = ordtree_pos_prev(at), after = ordtree_pos_next(at);
    /* Still between its neighbours: change in place (the common case for
     * small increments); only the copied scores above need the news. */
    if ((!before.leaf || elem_cmp(ordtree_pos_elem(before), score, m) < 0) &&
        (!after.leaf || elem_cmp(ordtree_pos_elem(after), score, m) > 0)) {
        e->score = score;
        for (int lvl = h - 1; lvl >= 0 && pos == 0; lvl--) {
            inner *x = p.node[lvl];
            refresh_min(x, p.idx[lvl], lvl + 1 == h);
            pos = p.idx[lvl];
        }
        return;
    }
    remove_at(t, &p, 1, NULL, NULL);
    e->score = score;
    if (!t->root) {
        t->root = leaf_new(t);
    }
    descend_key(t, score, m, &p);
    insert_at(t, &p, e);
}

size_t ordtree_rank(const ordtree *t, const ordtree_elem *e)
{
    path p;
    descend_elem(t, e, &p);
    size_t rank = p.idx[t->height];
    for (int h = 0; h < t->height; h++) {
        const inner *x = p.node[h];
        for (uint32_t i = 0; i < p.idx[h]; i++) {
            rank += x->count[i];
        }
    }
    return rank;
}

ordtree_pos ordtree_at(const ordtree *t, size_t rank)
{
    if (rank >= t->length) {
        return (ordtree_pos){NULL, 0};
    }
    path p;
    descend_rank(t, rank, &p);
    return (ordtree_pos){p.node[t->height], p.idx[t->height]};
}

size_t ordtree_prefix_count(const ordtree *t, ordtree_pred_fn pred, const void *ctx)
{
    if (!t->root) {
        return 0;
    }
    size_t count = 0;
    const void *node = t->root;
    for (int h = 0; h < t->height; h++) {
        const inner *x = node;
        /* The first child whose first element fails pred; the prefix ends
         * inside the child before it. */
        uint32_t lo = 0, hi = x->n;
        while (lo < hi) {
            uint32_t mid = (lo + hi) / 2;
            if (pred(x->min_score[mid], ordtree_member(x->min[mid]), ctx)) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if (lo == 0) {
            return count;
        }
        for (uint32_t i = 0; i + 1 < lo; i++) {
            count += x->count[i];
        }
        node = x->child[lo - 1];
    }
    const leaf *l = node;
    uint32_t lo = 0, hi = l->n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (pred(l->e[mid]->score, ordtree_member(l->e[mid]), ctx)) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return count + lo;
}

size_t ordtree_delete_ranks(ordtree *t, size_t start, size_t end, void (*fn)(ordtree_elem *e, void *ctx), void *ctx)
{
    if (end > t->length) {
        end = t->length;
    }
    size_t removed = 0;
    /* A leaf's worth at a time: each round removes the rest of the range
     * that lies in one leaf, so the cost is one descent per leaf. */
    while (start < end) {
        path p;
        descend_rank(t, start, &p);
        const leaf *l = p.node[t->height];
        uint32_t pos = p.idx[t->height];
        size_t k = l->n - pos;
        if (k > end - start) {
            k = end - start;
        }
        remove_at(t, &p, (uint32_t)k, fn, ctx);
        end -= k;
        removed += k;
    }
    return removed;
}

/* ---- defragmentation ---- */

/* Moves the nodes on the way p where the allocator advises and points
 * their parents (or the root) and, for a leaf, its neighbours at the new
 * address; p follows. Nodes also on `done`, the way of the leaf before in
 * the same call, were offered already. */
static void defrag_way(ordtree *t, path *p, const path *done)
{
    int h = t->height;
    for (int lvl = 0; lvl <= h; lvl++) {
        if (done && p->node[lvl] == done->node[lvl]) {
            continue;
        }
        void *moved = alloc_defrag(p->node[lvl]);
        if (!moved) {
            continue;
        }
        p->node[lvl] = moved;
        if (lvl == 0) {
            t->root = moved;
        } else {
            ((inner *)p->node[lvl - 1])->child[p->idx[lvl - 1]] = moved;
        }
        if (lvl == h) {
            leaf *l = moved;
            if (l->prev) {
                l->prev->next = l;
            }
            if (l->next) {
                l->next->prev = l;
            }
        }
    }
}

/* e, now at position 0 of the leaf p leads to, moved: every inner node
 * whose subtree starts with it keeps it as min (its score is the same). */
static void repoint_first(const ordtree *t, const path *p, ordtree_elem *e)
{
    for (int lvl = t->height - 1; lvl >= 0; lvl--) {
        ((inner *)p->node[lvl])->min[p->idx[lvl]] = e;
        if (p->idx[lvl] != 0) {
            break; /* not the first of the levels above */
        }
    }
}

size_t ordtree_defrag(ordtree *t, size_t rank, size_t budget, ordtree_move_fn move, void *ctx)
{
    if (budget == 0) {
        budget = 1; /* every call makes progress */
    }
    path p, done;
    int have_done = 0;
    size_t offered = 0;
    while (rank < t->length && offered < budget) {
        descend_rank(t, rank, &p);
        defrag_way(t, &p, have_done ? &done : NULL);
        leaf *l = p.node[t->height];
        for (uint32_t i = p.idx[t->height]; i < l->n && offered < budget; i++) {
            ordtree_elem *moved = move(l->e[i], ctx);
            if (moved) {
                l->e[i] = moved;
                if (i == 0) {
                    repoint_first(t, &p, moved);
                }
            }
            offered++;
            rank++;
        }
        done = p;
        have_done = 1;
    }
    return rank < t->length ? rank : 0;
}

size_t ordtree_node_bytes(const ordtree *t)
{
    return t->leaves * sizeof(leaf) + t->inners * sizeof(inner);
}

/* ---- checking ---- */

typedef struct check_state {
    const ordtree *t;
    const leaf *last; /* the leaf visited before, for the chain */
    size_t leaves, inners;
} check_state;

/* Checks the subtree at node (height levels above its leaves) and returns
 * its element count, or a negative code:
 *   -1 a leaf at the wrong depth     -2 an empty node
 *   -3 a node below a quarter        -4 a wrong count
 *   -5 a wrong first element/score   -6 the leaf chain broken
 *   -7 elements out of order */
static long check_node(check_state *cs, const void *node, int height, int is_root)
{
    if (height < 0) {
        return -1;
    }
    if (height == 0) {
        const leaf *l = node;
        cs->leaves++;
        if (l->n == 0) {
            return -2;
        }
        int edge = !l->prev || !l->next;
        if (!is_root && !edge && l->n < LEAF_MIN) {
            return -3;
        }
        if (l->prev != cs->last || (cs->last && cs->last->next != l)) {
            return -6;
        }
        const ordtree_elem *before = cs->last ? cs->last->e[cs->last->n - 1] : NULL;
        for (uint32_t i = 0; i < l->n; i++) {
            if (before && elem_cmp(before, l->e[i]->score, ordtree_member(l->e[i])) >= 0) {
                return -7;
            }
            before = l->e[i];
        }
        cs->last = l;
        return l->n;
    }
    const inner *x = node;
    cs->inners++;
    if (x->n == 0) {
        return -2;
    }
    if (!is_root && x->n < INNER_MIN) {
        return -3;
    }
    if (is_root && x->n < 2) {
        return -3;
    }
    long total = 0;
    for (uint32_t i = 0; i < x->n; i++) {
        long c = check_node(cs, x->child[i], height - 1, 0);
        if (c < 0) {
            return c;
        }
        if ((uint32_t)c != x->count[i]) {
            return -4;
        }
        if (x->min[i] != node_first(x->child[i], height == 1) || x->min_score[i] != x->min[i]->score) {
            return -5;
        }
        total += c;
    }
    return total;
}

int ordtree_check(const ordtree *t)
{
    if (!t->root) {
        return t->length || t->height || t->leaves || t->inners ? -4 : 0;
    }
    check_state cs = {t, NULL, 0, 0};
    long c = check_node(&cs, t->root, t->height, 1);
    if (c < 0) {
        return (int)c;
    }
    if ((size_t)c != t->length || cs.leaves != t->leaves || cs.inners != t->inners) {
        return -4;
    }
    return cs.last->next ? -6 : 0;
}
