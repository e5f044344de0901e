/* idtree: a B+tree from stream IDs to pointers. See idtree.h.
 *
 * Invariants: every leaf is at the same depth; an inner node's keys[i] is
 * the smallest key under ptrs[i]; every node but the root holds at least
 * MIN_FILL items after each public operation, except that a node emptied
 * down to MIN_FILL - 1 is repaired by its parent on the way back up. */
#include "ds/idtree.h"

#include <string.h>

#include "base/alloc.h"

#define ORDER IDTREE_ORDER
#define MIN_FILL (ORDER / 4)

struct idtree_node {
    uint16_t n;
    uint8_t leaf;
    idtree_node *prev, *next; /* leaf chain (unused in inner nodes) */
    stream_id keys[ORDER];
    void *ptrs[ORDER]; /* values in leaves, children in inner nodes */
};

/* ---- internals ---- */

static idtree_node *node_new(idtree *t, int leaf)
{
    idtree_node *x = alloc_mem(sizeof(*x));
    x->n = 0;
    x->leaf = (uint8_t)leaf;
    x->prev = x->next = NULL;
    t->nodes++;
    return x;
}

static void node_free(idtree *t, idtree_node *x)
{
    alloc_free(x);
    t->nodes--;
}

/* Index of the first key >= k (n if none). */
static int lower_bound(const idtree_node *x, const stream_id *k)
{
    int lo = 0, hi = x->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (stream_id_cmp(&x->keys[mid], k) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* The child of inner node x whose range holds k: the last with a smallest
 * key <= k, or the first when k is below them all. */
static int child_index(const idtree_node *x, const stream_id *k)
{
    int i = lower_bound(x, k);
    if (i < x->n && stream_id_cmp(&x->keys[i], k) == 0) {
        return i;
    }
    return i > 0 ? i - 1 : 0;
}

static void insert_at(idtree_node *x, int i, const stream_id *k, void *v)
{
    memmove(&x->keys[i + 1], &x->keys[i], sizeof(stream_id) * (size_t)(x->n - i));
    memmove(&x->ptrs[i + 1], &x->ptrs[i], sizeof(void *) * (size_t)(x->n - i));
    x->keys[i] = *k;
    x->ptrs[i] = v;
    x->n++;
}

static void remove_at(idtree_node *x, int i)
{
    memmove(&x->keys[i], &x->keys[i + 1], sizeof(stream_id) * (size_t)(x->n - i - 1));
    memmove(&x->ptrs[i], &x->ptrs[i + 1], sizeof(void *) * (size_t)(x->n - i - 1));
    x->n--;
}

/* Moves the items of x from index `from` on into a new right sibling. */
static idtree_node *split(idtree *t, idtree_node *x, int from)
{
    idtree_node *r = node_new(t, x->leaf);
    r->n = (uint16_t)(x->n - from);
    memcpy(r->keys, &x->keys[from], sizeof(stream_id) * r->n);
    memcpy(r->ptrs, &x->ptrs[from], sizeof(void *) * r->n);
    x->n = (uint16_t)from;
    if (x->leaf) {
        r->next = x->next;
        r->prev = x;
        if (x->next) {
            x->next->prev = r;
        }
        x->next = r;
    }
    return r;
}

/* Inserts into a node that may be full; returns the new right sibling when
 * it split. Appends (i == n) split off an empty sibling, so IDs that only
 * grow (the stream's case) fill every node completely. */
static idtree_node *insert_into(idtree *t, idtree_node *x, int i, const stream_id *k, void *v)
{
    if (x->n < ORDER) {
        insert_at(x, i, k, v);
        return NULL;
    }
    int from = i == x->n ? x->n : x->n / 2;
    idtree_node *r = split(t, x, from);
    if (i < from) {
        insert_at(x, i, k, v);
    } else {
        insert_at(r, i - from, k, v);
    }
    return r;
}

static idtree_node *insert_rec(idtree *t, idtree_node *x, const stream_id *k, void *v, int *ok)
{
    if (x->leaf) {
        int i = lower_bound(x, k);
        if (i < x->n && stream_id_cmp(&x->keys[i], k) == 0) {
            *ok = 0;
            return NULL;
        }
        *ok = 1;
        return insert_into(t, x, i, k, v);
    }
    int ci = child_index(x, k);
    idtree_node *child = x->ptrs[ci];
    idtree_node *r = insert_rec(t, child, k, v, ok);
    x->keys[ci] = child->keys[0];
    if (!r) {
        return NULL;
    }
    return insert_into(t, x, ci + 1, &r->keys[0], r);
}

/* Repairs x's child ci after it fell below MIN_FILL: merges it with a
 * neighbour when both fit in one node, else evens the two out. */
static void rebalance(idtree *t, idtree_node *x, int ci)
{
    int li, ri;
    if (ci + 1 < x->n) {
        li = ci;
        ri = ci + 1;
    } else if (ci > 0) {
        li = ci - 1;
        ri = ci;
    } else {
        return; /* an only child: the root collapses it */
    }
    idtree_node *l = x->ptrs[li], *r = x->ptrs[ri];
    if (l->n + r->n <= ORDER) {
        memcpy(&l->keys[l->n], r->keys, sizeof(stream_id) * r->n);
        memcpy(&l->ptrs[l->n], r->ptrs, sizeof(void *) * r->n);
        l->n = (uint16_t)(l->n + r->n);
        if (l->leaf) {
            l->next = r->next;
            if (r->next) {
                r->next->prev = l;
            }
        }
        node_free(t, r);
        remove_at(x, ri);
        x->keys[li] = l->keys[0];
        return;
    }
    int total = l->n + r->n, want = total / 2;
    if (l->n < want) {
        int m = want - l->n; /* move r's first m items to l's end */
        memcpy(&l->keys[l->n], r->keys, sizeof(stream_id) * (size_t)m);
        memcpy(&l->ptrs[l->n], r->ptrs, sizeof(void *) * (size_t)m);
        memmove(r->keys, &r->keys[m], sizeof(stream_id) * (size_t)(r->n - m));
        memmove(r->ptrs, &r->ptrs[m], sizeof(void *) * (size_t)(r->n - m));
        l->n = (uint16_t)(l->n + m);
        r->n = (uint16_t)(r->n - m);
    } else {
        int m = l->n - want; /* move l's last m items to r's front */
        memmove(&r->keys[m], r->keys, sizeof(stream_id) * r->n);
        memmove(&r->ptrs[m], r->ptrs, sizeof(void *) * r->n);
        memcpy(r->keys, &l->keys[want], sizeof(stream_id) * (size_t)m);
        memcpy(r->ptrs, &l->ptrs[want], sizeof(void *) * (size_t)m);
        l->n = (uint16_t)want;
        r->n = (uint16_t)(r->n + m);
    }
    x->keys[li] = l->keys[0];
    x->keys[ri] = r->keys[0];
}

static void *remove_rec(idtree *t, idtree_node *x, const stream_id *k)
{
    if (x->leaf) {
        int i = lower_bound(x, k);
        if (i >= x->n || stream_id_cmp(&x->keys[i], k) != 0) {
            return NULL;
        }
        void *v = x->ptrs[i];
        remove_at(x, i);
        return v;
    }
    int ci = child_index(x, k);
    idtree_node *child = x->ptrs[ci];
    void *v = remove_rec(t, child, k);
    if (!v) {
        return NULL;
    }
    if (child->n > 0) {
        x->keys[ci] = child->keys[0];
    }
    if (child->n < MIN_FILL) {
        rebalance(t, x, ci);
    }
    return v;
}

static void free_rec(idtree *t, idtree_node *x)
{
    if (!x->leaf) {
        for (int i = 0; i < x->n; i++) {
            free_rec(t, x->ptrs[i]);
        }
    }
    node_free(t, x);
}

/* The leaf whose range holds k. */
static idtree_node *find_leaf(const idtree *t, const stream_id *k)
{
    idtree_node *x = t->root;
    while (x && !x->leaf) {
        x = x->ptrs[child_index(x, k)];
    }
    return x;
}

/* ---- API ---- */

void idtree_init(idtree *t)
{
    t->root = NULL;
    t->count = 0;
    t->nodes = 0;
}

void idtree_clear(idtree *t)
{
    if (t->root) {
        free_rec(t, t->root);
    }
    idtree_init(t);
}

size_t idtree_count(const idtree *t)
{
    return t->count;
}

size_t idtree_mem(const idtree *t)
{
    return t->nodes * sizeof(idtree_node);
}

void *idtree_find(const idtree *t, const stream_id *key)
{
    idtree_node *x = find_leaf(t, key);
    if (!x) {
        return NULL;
    }
    int i = lower_bound(x, key);
    return i < x->n && stream_id_cmp(&x->keys[i], key) == 0 ? x->ptrs[i] : NULL;
}

int idtree_insert(idtree *t, const stream_id *key, void *val)
{
    if (!t->root) {
        t->root = node_new(t, 1);
    }
    int ok = 0;
    idtree_node *r = insert_rec(t, t->root, key, val, &ok);
    if (r) {
        idtree_node *root = node_new(t, 0);
        root->n = 2;
        root->keys[0] = t->root->keys[0];
        root->ptrs[0] = t->root;
        root->keys[1] = r->keys[0];
        root->ptrs[1] = r;
        t->root = root;
    }
    t->count += (size_t)ok;
    return ok;
}

int idtree_replace(idtree *t, const stream_id *key, void *val)
{
    idtree_pos p;
    if (!idtree_seek_ge(t, key, &p) || stream_id_cmp(&p.leaf->keys[p.i], key) != 0) {
        return 0;
    }
    p.leaf->ptrs[p.i] = val;
    return 1;
}

void *idtree_remove(idtree *t, const stream_id *key)
{
    if (!t->root) {
        return NULL;
    }
    void *v = remove_rec(t, t->root, key);
    if (!v) {
        return NULL;
    }
    t->count--;
    while (!t->root->leaf && t->root->n == 1) {
        idtree_node *only = t->root->ptrs[0];
        node_free(t, t->root);
        t->root = only;
    }
    if (t->root->leaf && t->root->n == 0) {
        node_free(t, t->root);
        t->root = NULL;
    }
    return v;
}

int idtree_first(const idtree *t, idtree_pos *p)
{
    idtree_node *x = t->root;
    if (!x) {
        return 0;
    }
    while (!x->leaf) {
        x = x->ptrs[0];
    }
    p->leaf = x;
    p->i = 0;
    return x->n > 0;
}

int idtree_last(const idtree *t, idtree_pos *p)
{
    idtree_node *x = t->root;
    if (!x) {
        return 0;
    }
    while (!x->leaf) {
        x = x->ptrs[x->n - 1];
    }
    p->leaf = x;
    p->i = x->n - 1;
    return x->n > 0;
}

int idtree_seek_ge(const idtree *t, const stream_id *key, idtree_pos *p)
{
    idtree_node *x = find_leaf(t, key);
    if (!x) {
        return 0;
    }
    int i = lower_bound(x, key);
    if (i == x->n) {
        x = x->next;
        i = 0;
        if (!x) {
            return 0;
        }
    }
    p->leaf = x;
    p->i = i;
    return 1;
}

int idtree_seek_le(const idtree *t, const stream_id *key, idtree_pos *p)
{
    idtree_node *x = find_leaf(t, key);
    if (!x) {
        return 0;
    }
    int i = lower_bound(x, key);
    if (i == x->n || stream_id_cmp(&x->keys[i], key) != 0) {
        i--;
    }
    if (i < 0) {
        x = x->prev;
        if (!x) {
            return 0;
        }
        i = x->n - 1;
    }
    p->leaf = x;
    p->i = i;
    return 1;
}

int idtree_next(idtree_pos *p)
{
    if (p->i + 1 < p->leaf->n) {
        p->i++;
        return 1;
    }
    if (!p->leaf->next) {
        return 0;
    }
    p->leaf = p->leaf->next;
    p->i = 0;
    return 1;
}

int idtree_prev(idtree_pos *p)
{
    if (p->i > 0) {
        p->i--;
        return 1;
    }
    if (!p->leaf->prev) {
        return 0;
    }
    p->leaf = p->leaf->prev;
    p->i = p->leaf->n - 1;
    return 1;
}

stream_id idtree_key(const idtree_pos *p)
{
    return p->leaf->keys[p->i];
}

void *idtree_val(const idtree_pos *p)
{
    return p->leaf->ptrs[p->i];
}

void idtree_set_val(const idtree_pos *p, void *val)
{
    p->leaf->ptrs[p->i] = val;
}

/* ---- active defragmentation ---- */

/* Moves the nodes from the root down to the leaf whose range holds k,
 * repointing each one's parent (or the root) and, for the leaf, its
 * neighbours in the chain: nothing else points at a node. */
static idtree_node *defrag_way(idtree *t, const stream_id *k)
{
    idtree_node *x = t->root, *parent = NULL;
    int ci = 0;
    for (;;) {
        idtree_node *m = alloc_defrag(x);
        if (m) {
            x = m;
            if (parent) {
                parent->ptrs[ci] = x;
            } else {
                t->root = x;
            }
            if (x->leaf && x->prev) {
                x->prev->next = x;
            }
            if (x->leaf && x->next) {
                x->next->prev = x;
            }
        }
        if (x->leaf) {
            return x;
        }
        parent = x;
        ci = child_index(x, k);
        x = x->ptrs[ci];
    }
}

int idtree_defrag_step(idtree *t, stream_id *from, size_t max, idtree_move_fn move, void *ctx, size_t *offered)
{
    if (!t->root) {
        return 0;
    }
    idtree_node *x = defrag_way(t, from);
    int i = lower_bound(x, from);
    if (i == x->n) {
        /* Past this leaf's keys: the next leaf is the one to do. */
        if (!x->next) {
            return 0;
        }
        *from = x->next->keys[0];
        x = defrag_way(t, from);
        i = lower_bound(x, from);
    }
    size_t done = 0;
    max = max ? max : 1;
    for (; i < x->n && done < max; i++, done++) {
        void *m = move ? move(x->ptrs[i], &x->keys[i], ctx) : NULL;
        if (m) {
            x->ptrs[i] = m;
        }
    }
    *offered += done;
    if (i < x->n) {
        *from = x->keys[i];
        return 1;
    }
    if (!x->next) {
        return 0;
    }
    *from = x->next->keys[0];
    return 1;
}
