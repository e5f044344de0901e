/* list: a chain of bounded listpack nodes; see the header for the
 * encodings and invariants. Growth at the ends opens a new node when the
 * end node is full; writes in the middle (LINSERT, LSET) grow a node in
 * place and split it when it overflows; bulk deletes merge neighbours
 * back together (list_tidy). */
#include "types/list.h"

#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "base/digest.h"
#include "base/log.h"

/* With a count limit, nodes are still kept under this many bytes so a
 * handful of huge elements cannot make one node enormous. */
#define LIST_SAFETY_BYTES 8192u

/* ---- limits ---- */

static void fill_limits(long fill, size_t *maxbytes, size_t *maxcount)
{
    if (fill >= 0) {
        *maxcount = fill ? (size_t)fill : 1;
        *maxbytes = LIST_SAFETY_BYTES;
    } else {
        long level = -fill > 5 ? 5 : -fill;
        *maxbytes = (size_t)4096 << (level - 1);
        *maxcount = SIZE_MAX;
    }
}

static int fits(size_t bytes, size_t count, long fill)
{
    size_t maxbytes, maxcount;
    fill_limits(fill, &maxbytes, &maxcount);
    return bytes <= maxbytes && count <= maxcount;
}

static size_t varint_len(size_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Bytes an element of len bytes takes in a listpack (length varint, the
 * bytes, back-length varint). */
static size_t entry_bytes(size_t len)
{
    size_t body = varint_len(len) + len;
    return body + varint_len(body);
}

/* A listpack's fixed part (header and end byte), which merging saves. */
static size_t lp_overhead(void)
{
    static size_t cached;
    if (!cached) {
        lp *e = lp_new();
        cached = lp_bytes(e);
        lp_free(e);
    }
    return cached;
}

/* ---- nodes ---- */

static list_node *node_new(lp *p)
{
    list_node *n = alloc_mem(sizeof(*n));
    n->prev = n->next = NULL;
    n->lp = p;
    return n;
}

static void node_free(list_node *n)
{
    lp_free(n->lp);
    alloc_free(n);
}

/* Links n after `at` (at NULL: at the head). */
static void link_after(list *l, list_node *at, list_node *n)
{
    n->prev = at;
    n->next = at ? at->next : l->head;
    if (n->next) {
        n->next->prev = n;
    } else {
        l->tail = n;
    }
    if (at) {
        at->next = n;
    } else {
        l->head = n;
    }
    l->nodes++;
}

static void unlink_node(list *l, list_node *n)
{
    if (n->prev) {
        n->prev->next = n->next;
    } else {
        l->head = n->next;
    }
    if (n->next) {
        n->next->prev = n->prev;
    } else {
        l->tail = n->prev;
    }
    l->nodes--;
}

/* Goes back to the compact encoding once a single node is at most half
 * the limit; the gap between convert-up and convert-down stops a list at
 * the boundary from flipping on every push/pop. */
static void maybe_compact(list *l, long fill)
{
    if (l->nodes == 0) {
        l->compact = 1;
        return;
    }
    if (l->compact || l->nodes > 1) {
        return;
    }
    lp *p = l->head->lp;
    if (fits(lp_bytes(p) * 2, lp_len(p) * 2, fill)) {
        l->compact = 1;
    }
}

/* Merges b (a's successor) into a when both fit in one node. */
static int try_merge(list *l, list_node *a, long fill)
{
    list_node *b = a ? a->next : NULL;
    if (!a || !b) {
        return 0;
    }
    size_t bytes = lp_bytes(a->lp) + lp_bytes(b->lp) - lp_overhead();
    if (!fits(bytes, lp_len(a->lp) + lp_len(b->lp), fill)) {
        return 0;
    }
    for (unsigned char *p = lp_first(b->lp); p; p = lp_next(b->lp, p)) {
        a->lp = lp_append(a->lp, lp_get(p));
    }
    unlink_node(l, b);
    node_free(b);
    return 1;
}

/* Called after n grew in place: if it is over the limit, the list stops
 * being compact and n is cut into pieces that each fit (greedily), which
 * are then offered to their neighbours. */
static void split_if_needed(list *l, list_node *n, long fill)
{
    if (fits(lp_bytes(n->lp), lp_len(n->lp), fill)) {
        return;
    }
    l->compact = 0;
    if (lp_len(n->lp) <= 1) {
        return; /* one oversized element lives alone */
    }
    list_node *prev = n->prev, *at = n;
    lp *cur = lp_new();
    for (unsigned char *p = lp_first(n->lp); p; p = lp_next(n->lp, p)) {
        sv v = lp_get(p);
        if (lp_len(cur) > 0 && !fits(lp_bytes(cur) + entry_bytes(v.len), lp_len(cur) + 1, fill)) {
            list_node *piece = node_new(cur);
            link_after(l, at, piece);
            at = piece;
            cur = lp_new();
        }
        cur = lp_append(cur, v);
    }
    list_node *last = node_new(cur);
    link_after(l, at, last);
    unlink_node(l, n);
    node_free(n);
    try_merge(l, last, fill);
    try_merge(l, prev, fill);
}

/* ---- whole list ---- */

list *list_new(void)
{
    list *l = alloc_zero(sizeof(*l));
    l->compact = 1;
    return l;
}

void list_free(list *l)
{
    if (!l) {
        return;
    }
    list_node *n = l->head;
    while (n) {
        list_node *next = n->next;
        node_free(n);
        n = next;
    }
    alloc_free(l);
}

list *list_dup(const list *l)
{
    list *d = list_new();
    for (list_node *n = l->head; n; n = n->next) {
        link_after(d, d->tail, node_new(lp_dup(n->lp)));
    }
    d->len = l->len;
    d->compact = l->compact;
    return d;
}

size_t list_len(const list *l)
{
    return l->len;
}

size_t list_mem(const list *l)
{
    size_t m = sizeof(*l);
    for (list_node *n = l->head; n; n = n->next) {
        m += sizeof(*n) + lp_bytes(n->lp);
    }
    return m;
}

const char *list_encoding(const list *l)
{
    return l->compact ? "listpack" : "quicklist";
}

void list_digest(const list *l, uint8_t d[20])
{
    for (list_node *n = l->head; n; n = n->next) {
        for (unsigned char *p = lp_first(n->lp); p; p = lp_next(n->lp, p)) {
            sv v = lp_get(p);
            digest_mix(d, v.ptr, v.len);
        }
    }
}

/* ---- ends ---- */

void list_push(list *l, sv val, int where, long fill)
{
    list_node *n = where == LIST_HEAD ? l->head : l->tail;
    size_t esz = entry_bytes(val.len);
    if (n && fits(lp_bytes(n->lp) + esz, lp_len(n->lp) + 1, fill)) {
        n->lp = where == LIST_HEAD ? lp_prepend(n->lp, val) : lp_append(n->lp, val);
    } else {
        if (n) {
            l->compact = 0;
        }
        lp *p = lp_append(lp_new(), val);
        if (!n && !fits(lp_bytes(p), 1, fill)) {
            l->compact = 0; /* a first element already over the limit */
        }
        link_after(l, where == LIST_HEAD ? NULL : l->tail, node_new(p));
    }
    l->len++;
}

sv list_peek(list *l, int where)
{
    if (!l->head) {
        PANIC("list_peek on an empty list");
    }
    lp *p = where == LIST_HEAD ? l->head->lp : l->tail->lp;
    return lp_get(where == LIST_HEAD ? lp_first(p) : lp_last(p));
}

/* Drops n when a delete emptied it. */
static void drop_if_empty(list *l, list_node *n)
{
    if (lp_len(n->lp) == 0) {
        unlink_node(l, n);
        node_free(n);
    }
}

int list_pop(list *l, int where, long fill)
{
    list_node *n = where == LIST_HEAD ? l->head : l->tail;
    if (!n) {
        return 0;
    }
    unsigned char *p = where == LIST_HEAD ? lp_first(n->lp) : lp_last(n->lp);
    n->lp = lp_delete(n->lp, &p);
    l->len--;
    drop_if_empty(l, n);
    maybe_compact(l, fill);
    return 1;
}

void list_trim(list *l, size_t nhead, size_t ntail, long fill)
{
    if (nhead + ntail >= l->len) {
        nhead = l->len;
        ntail = 0;
    }
    l->len -= nhead + ntail;
    while (nhead > 0) {
        list_node *n = l->head;
        size_t cnt = lp_len(n->lp);
        if (cnt <= nhead) {
            unlink_node(l, n);
            node_free(n);
            nhead -= cnt;
        } else {
            n->lp = lp_delete_range(n->lp, 0, (unsigned long)nhead);
            nhead = 0;
        }
    }
    while (ntail > 0) {
        list_node *n = l->tail;
        size_t cnt = lp_len(n->lp);
        if (cnt <= ntail) {
            unlink_node(l, n);
            node_free(n);
            ntail -= cnt;
        } else {
            n->lp = lp_delete_range(n->lp, -(long)ntail, (unsigned long)ntail);
            ntail = 0;
        }
    }
    maybe_compact(l, fill);
}

/* ---- by index ---- */

/* Node and byte offset of the element at index (normalised, in range),
 * walking from the nearer end. */
static list_node *locate(list *l, long index, size_t *off)
{
    if (index < 0) {
        index += (long)l->len;
    }
    if (index < 0 || (size_t)index >= l->len) {
        return NULL;
    }
    list_node *n;
    long in_node;
    if ((size_t)index < l->len / 2) {
        n = l->head;
        while ((size_t)index >= lp_len(n->lp)) {
            index -= (long)lp_len(n->lp);
            n = n->next;
        }
        in_node = index;
    } else {
        long ridx = (long)l->len - 1 - index;
        n = l->tail;
        while ((size_t)ridx >= lp_len(n->lp)) {
            ridx -= (long)lp_len(n->lp);
            n = n->prev;
        }
        in_node = (long)lp_len(n->lp) - 1 - ridx;
    }
    *off = (size_t)(lp_seek(n->lp, in_node) - n->lp);
    return n;
}

int list_index(list *l, long index, sv *out)
{
    size_t off;
    list_node *n = locate(l, index, &off);
    if (!n) {
        return 0;
    }
    *out = lp_get(n->lp + off);
    return 1;
}

int list_set(list *l, long index, sv val, long fill)
{
    size_t off;
    list_node *n = locate(l, index, &off);
    if (!n) {
        return 0;
    }
    unsigned char *p = n->lp + off;
    n->lp = lp_replace(n->lp, &p, val);
    split_if_needed(l, n, fill);
    return 1;
}

/* ---- iteration ---- */

void list_iter_init(list_iter *it, list *l, long index, int dir)
{
    it->l = l;
    it->dir = dir;
    it->lnode = NULL;
    it->loff = 0;
    it->node = locate(l, index, &it->off);
}

int list_iter_next(list_iter *it, sv *val)
{
    list_node *n = it->node;
    if (!n) {
        return 0;
    }
    unsigned char *p = n->lp + it->off;
    *val = lp_get(p);
    it->lnode = n;
    it->loff = it->off;
    unsigned char *q = it->dir == LIST_TAIL ? lp_next(n->lp, p) : lp_prev(n->lp, p);
    if (q) {
        it->off = (size_t)(q - n->lp);
    } else {
        it->node = it->dir == LIST_TAIL ? n->next : n->prev;
        if (it->node) {
            lp *np = it->node->lp;
            it->off = (size_t)((it->dir == LIST_TAIL ? lp_first(np) : lp_last(np)) - np);
        }
    }
    return 1;
}

void list_iter_delete(list_iter *it)
{
    list_node *n = it->lnode;
    if (!n) {
        PANIC("list_iter_delete without a current element");
    }
    unsigned char *p = n->lp + it->loff;
    n->lp = lp_delete(n->lp, &p);
    it->l->len--;
    /* Going forward, the next element slid into the deleted one's place;
     * going backward it sits before it and its offset is unchanged. */
    if (it->node == n && it->dir == LIST_TAIL) {
        it->off = it->loff;
    }
    it->lnode = NULL;
    drop_if_empty(it->l, n); /* if emptied, the next element is elsewhere */
}

void list_iter_insert(list_iter *it, sv val, int after, long fill)
{
    list_node *n = it->lnode;
    if (!n) {
        PANIC("list_iter_insert without a current element");
    }
    unsigned char *p = n->lp + it->loff;
    if (after) {
        p = lp_next(n->lp, p); /* NULL: append */
    }
    n->lp = lp_insert(n->lp, p, val, NULL);
    it->l->len++;
    it->node = it->lnode = NULL;
    split_if_needed(it->l, n, fill);
}

void list_tidy(list *l, long fill)
{
    for (list_node *n = l->head; n;) {
        if (!try_merge(l, n, fill)) {
            n = n->next;
        }
    }
    maybe_compact(l, fill);
}
