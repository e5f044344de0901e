/* list: a chain of bounded listpack nodes; see the header for the
 * encodings and invariants. Growth at the ends opens a new node when the
 * end node is full; writes in the middle (LINSERT, LSET) grow a node in
 * place and split it when it overflows; bulk deletes merge neighbours
 * back together (list_tidy). */
#include "types/list.h"

#include <liblzf/lzf.h>
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "base/digest.h"
#include "base/log.h"
#include "base/util.h"

/* With a count limit, nodes are still kept under this many bytes so a
 * handful of huge elements cannot make one node enormous. */
#define LIST_SAFETY_BYTES 8192u

/* A packed node's lp points at [u32 count][u32 plain bytes][u32 LZF
 * bytes][LZF data]. Nodes under PACK_MIN_BYTES are not worth the work, and
 * packing must save at least PACK_MIN_GAIN bytes to be kept. */
#define PACK_HDR 12u
#define PACK_MIN_BYTES 48u
#define PACK_MIN_GAIN 8u

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

static int is_large(size_t len, list_limits lim)
{
    return lim.plain_min > 0 && len >= lim.plain_min;
}

static int fits(size_t bytes, size_t count, long fill)
{
    size_t maxbytes, maxcount;
    fill_limits(fill, &maxbytes, &maxcount);
    return bytes <= maxbytes && count <= maxcount;
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
    n->gap = 0;
    n->packed = n->incompressible = n->plain = 0;
    return n;
}

/* The head node of a list of two nodes or more keeps a gap of free bytes
 * before its listpack once it holds GAP_MIN bytes, so LPUSH and LPOP move
 * the 8-byte header instead of every entry (a memmove of up to the node
 * size per call). The gap is an eighth of the node when made; pops widen
 * it until it outgrows the entries, and a node that stops being the head
 * gives it back. Below GAP_MIN moving the entries costs less than the
 * slack. Every lp_* call that may reallocate needs the listpack at the
 * start of its block: node_write closes the gap first. A one-node list
 * has none, since its tail writes (the other end of an LPUSH/RPOP queue)
 * would close it each time. */
#define GAP_MIN 512

static unsigned char *node_block(const list_node *n)
{
    return n->lp - n->gap;
}

static void node_close_gap(list_node *n)
{
    if (n->gap) {
        unsigned char *block = node_block(n);
        memmove(block, n->lp, lp_bytes(n->lp));
        n->lp = block;
        n->gap = 0;
    }
}

static void node_free(list_node *n)
{
    alloc_free(node_block(n));
    alloc_free(n);
}

static size_t node_count(const list_node *n)
{
    return n->packed ? util_get_u32(n->lp) : lp_len(n->lp);
}

/* Bytes of the entries unpacked (what the fill limit measures). */
static size_t node_plain_bytes(const list_node *n)
{
    return n->packed ? util_get_u32(n->lp + 4) : lp_bytes(n->lp);
}

/* Bytes the node's data occupies now. */
static size_t node_held_bytes(const list_node *n)
{
    return n->packed ? PACK_HDR + util_get_u32(n->lp + 8) : lp_bytes(n->lp);
}

static void node_pack(list_node *n)
{
    if (n->packed || n->incompressible) {
        return;
    }
    size_t plain = lp_bytes(n->lp);
    if (plain < PACK_MIN_BYTES || plain > UINT32_MAX) {
        n->incompressible = 1; /* not worth it at this size */
        return;
    }
    /* The output room is what packing must save, so LZF gives up early on
     * data that would not shrink enough. */
    size_t room = plain - PACK_HDR - PACK_MIN_GAIN;
    unsigned char *blob = alloc_mem(PACK_HDR + room);
    unsigned int z = lzf_compress(n->lp, (unsigned int)plain, blob + PACK_HDR, (unsigned int)room);
    if (z == 0) {
        alloc_free(blob);
        n->incompressible = 1;
        return;
    }
    util_put_u32(blob, (uint32_t)lp_len(n->lp));
    util_put_u32(blob + 4, (uint32_t)plain);
    util_put_u32(blob + 8, z);
    blob = alloc_resize(blob, PACK_HDR + z);
    alloc_free(node_block(n));
    n->lp = blob;
    n->gap = 0;
    n->packed = 1;
}

/* The entries of a packed node, as a new listpack. */
static lp *unpacked_copy(const list_node *n)
{
    size_t plain = util_get_u32(n->lp + 4);
    lp *p = alloc_mem(plain);
    unsigned int got = lzf_decompress(n->lp + PACK_HDR, util_get_u32(n->lp + 8), p, (unsigned int)plain);
    if (got != plain) {
        PANIC("list node failed to unpack: %u of %zu bytes", got, plain);
    }
    return p;
}

static void node_unpack(list_node *n)
{
    if (!n->packed) {
        return;
    }
    lp *p = unpacked_copy(n);
    alloc_free(n->lp);
    n->lp = p;
    n->packed = 0;
}

/* Whether n has at least depth nodes on each side: an inner node, which
 * compression packs. */
static int node_inner(const list_node *n, int depth)
{
    if (depth <= 0) {
        return 0;
    }
    const list_node *a = n, *b = n;
    for (int i = 0; i < depth; i++) {
        a = a->prev;
        b = b->next;
        if (!a || !b) {
            return 0;
        }
    }
    return 1;
}

/* The entries of n for reading. A read leaves at most one inner node
 * unpacked: the one before it is packed again here. */
static lp *node_read(list *l, list_node *n)
{
    if (n->packed) {
        node_unpack(n);
        if (l->open && l->open != n && node_inner(l->open, l->depth)) {
            node_pack(l->open);
        }
        l->open = n;
    }
    return n->lp;
}

/* The entries of n for a change; the caller settles the list after. */
static lp *node_write(list_node *n)
{
    node_unpack(n);
    node_close_gap(n);
    n->incompressible = 0;
    return n->lp;
}

/* Pushes val at the front of n, the head node, using its gap. */
static void head_push(list_node *n, sv val)
{
    node_unpack(n);
    n->incompressible = 0;
    size_t esz = lp_entry_bytes(val.len);
    if (n->gap >= esz) {
        n->lp = lp_push_front(n->lp, val);
        n->gap -= (uint32_t)esz;
        return;
    }
    size_t bytes = lp_bytes(n->lp);
    if (bytes < GAP_MIN) {
        node_close_gap(n);
        n->lp = lp_prepend(n->lp, val);
        return;
    }
    /* A new block with the entries after a gap of an eighth of them. */
    size_t gap = bytes / 8 + esz;
    unsigned char *block = alloc_mem(gap + bytes);
    memcpy(block + gap, n->lp, bytes);
    unsigned char *old = node_block(n);
    n->lp = lp_push_front(block + gap, val);
    n->gap = (uint32_t)(gap - esz);
    alloc_free(old);
}

/* Drops the first entry of n, the head node, widening its gap; once the
 * gap outgrows the entries the node moves back to a block of its size. */
static void head_pop(list_node *n)
{
    node_unpack(n);
    n->incompressible = 0;
    /* A node losing its last entry goes, so it keeps no gap (a plain
     * one's would not fit 32 bits). */
    if (lp_len(n->lp) == 1 || (!n->gap && lp_bytes(n->lp) < GAP_MIN)) {
        node_close_gap(n);
        unsigned char *p = lp_first(n->lp);
        n->lp = lp_delete(n->lp, &p);
        return;
    }
    lp *was = n->lp;
    n->lp = lp_pop_front(n->lp);
    n->gap += (uint32_t)(n->lp - was);
    if (n->gap > lp_bytes(n->lp) && lp_len(n->lp)) {
        node_close_gap(n);
        n->lp = alloc_resize(n->lp, lp_bytes(n->lp));
    }
}

/* A node that stopped being the head gives its gap back. */
static void node_drop_gap(list_node *n)
{
    if (n && n->gap) {
        node_close_gap(n);
        n->lp = alloc_resize(n->lp, lp_bytes(n->lp));
    }
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
    if (l->open == n) {
        l->open = NULL;
    }
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

/* After a change at the ends: the node that moved to `depth` from an end
 * is packed (the others already are, or are within depth, or were found
 * incompressible). O(depth). */
static void settle_ends(list *l, int depth)
{
    l->depth = depth;
    if (depth <= 0 || l->nodes <= 2 * (size_t)depth) {
        return;
    }
    list_node *h = l->head, *t = l->tail;
    for (int i = 0; i < depth; i++) {
        h = h->next;
        t = t->prev;
    }
    node_pack(h);
    node_pack(t);
}

/* After a change in the middle (or a new depth): every inner node is
 * packed. O(nodes), as the changes that call it already are. */
static void settle_all(list *l, int depth)
{
    l->depth = depth;
    if (depth <= 0 || l->nodes <= 2 * (size_t)depth) {
        return;
    }
    size_t i = 0, last = l->nodes - (size_t)depth;
    for (list_node *n = l->head; n; n = n->next, i++) {
        if (i >= (size_t)depth && i < last) {
            node_pack(n);
        }
    }
    l->open = NULL;
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
    list_node *n = l->head;
    if (!n->plain && fits(node_plain_bytes(n) * 2, node_count(n) * 2, fill)) {
        l->compact = 1;
    }
}

/* Merges b (a's successor) into a when both fit in one node. */
static int try_merge(list *l, list_node *a, long fill)
{
    list_node *b = a ? a->next : NULL;
    if (!a || !b || a->plain || b->plain) {
        return 0;
    }
    size_t bytes = node_plain_bytes(a) + node_plain_bytes(b) - lp_overhead();
    if (!fits(bytes, node_count(a) + node_count(b), fill)) {
        return 0;
    }
    node_write(a);
    lp *bp = node_write(b);
    for (unsigned char *p = lp_first(bp); p; p = lp_next(bp, p)) {
        a->lp = lp_append(a->lp, lp_get(p));
    }
    unlink_node(l, b);
    node_free(b);
    return 1;
}

/* Called after n changed in place (LSET, LINSERT). A large element must
 * end up alone in a plain node and n must fit the limit: otherwise n is cut
 * into pieces (greedily, each large element a plain piece of its own),
 * which are then offered to their neighbours. A plain node whose element
 * was replaced by a small one becomes an ordinary node and is offered to
 * its neighbours too. */
static void reshape(list *l, list_node *n, list_limits lim)
{
    long fill = lim.fill;
    size_t count = lp_len(n->lp);
    int large = 0;
    for (unsigned char *p = lp_first(n->lp); p && !large; p = lp_next(n->lp, p)) {
        large = is_large(lp_get(p).len, lim);
    }
    if (count <= 1) {
        int was_plain = n->plain;
        n->plain = (uint8_t)large;
        if (large || !fits(lp_bytes(n->lp), count, fill)) {
            l->compact = 0; /* one large or oversized element lives alone */
        } else if (was_plain) {
            list_node *prev = n->prev;
            try_merge(l, n, fill);
            try_merge(l, prev, fill);
        }
        return;
    }
    if (!large && fits(lp_bytes(n->lp), count, fill)) {
        return;
    }
    l->compact = 0;
    list_node *prev = n->prev, *at = n;
    lp *cur = lp_new();
    for (unsigned char *p = lp_first(n->lp); p; p = lp_next(n->lp, p)) {
        sv v = lp_get(p);
        int big = is_large(v.len, lim);
        if (lp_len(cur) > 0 && (big || !fits(lp_bytes(cur) + lp_entry_bytes(v.len), lp_len(cur) + 1, fill))) {
            list_node *piece = node_new(cur);
            link_after(l, at, piece);
            at = piece;
            cur = lp_new();
        }
        cur = lp_append(cur, v);
        if (big) {
            list_node *piece = node_new(cur);
            piece->plain = 1;
            link_after(l, at, piece);
            at = piece;
            cur = lp_new();
        }
    }
    if (lp_len(cur) > 0) {
        list_node *piece = node_new(cur);
        link_after(l, at, piece);
        at = piece;
    } else {
        lp_free(cur);
    }
    unlink_node(l, n);
    node_free(n);
    try_merge(l, at, fill);
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
        size_t held = node_held_bytes(n);
        lp *copy = alloc_mem(held);
        memcpy(copy, n->lp, held);
        list_node *c = node_new(copy);
        c->packed = n->packed;
        c->incompressible = n->incompressible;
        c->plain = n->plain;
        link_after(d, d->tail, c);
    }
    d->len = l->len;
    d->compact = l->compact;
    settle_all(d, l->depth); /* the copy of a node a read left open */
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
        m += sizeof(*n) + node_held_bytes(n) + n->gap;
    }
    return m;
}

size_t list_node_count(const list_node *n)
{
    return node_count(n);
}

size_t list_node_bytes(const list_node *n)
{
    size_t bytes = node_plain_bytes(n);
    if (!n->plain) {
        return bytes;
    }
    /* The element's length: the one whose entry fills the listpack. */
    size_t body = bytes - lp_overhead();
    for (size_t len = body > 20 ? body - 20 : 0; len <= body; len++) {
        if (lp_entry_bytes(len) == body) {
            return len;
        }
    }
    return bytes;
}

size_t list_packed_nodes(const list *l)
{
    size_t k = 0;
    for (list_node *n = l->head; n; n = n->next) {
        k += n->packed;
    }
    return k;
}

const char *list_encoding(const list *l)
{
    return l->compact ? "listpack" : "quicklist";
}

void list_digest(const list *l, uint8_t d[20])
{
    /* A const walk: packed nodes are read from a scratch copy. */
    for (list_node *n = l->head; n; n = n->next) {
        lp *np = n->packed ? unpacked_copy(n) : n->lp;
        for (unsigned char *p = lp_first(np); p; p = lp_next(np, p)) {
            sv v = lp_get(p);
            digest_mix(d, v.ptr, v.len);
        }
        if (np != n->lp) {
            lp_free(np);
        }
    }
}

/* ---- ends ---- */

void list_push(list *l, sv val, int where, list_limits lim)
{
    long fill = lim.fill;
    list_node *n = where == LIST_HEAD ? l->head : l->tail;
    size_t esz = lp_entry_bytes(val.len);
    int large = is_large(val.len, lim);
    if (n && !large && !n->plain && fits(node_plain_bytes(n) + esz, node_count(n) + 1, fill)) {
        if (where == LIST_HEAD && n != l->tail) {
            head_push(n, val);
        } else {
            node_write(n);
            n->lp = where == LIST_HEAD ? lp_prepend(n->lp, val) : lp_append(n->lp, val);
        }
    } else {
        if (where == LIST_HEAD) {
            node_drop_gap(n);
        }
        lp *p = lp_append(lp_new(), val);
        if (n || large || !fits(lp_bytes(p), 1, fill)) {
            l->compact = 0; /* a second node, or a first element already over the limit */
        }
        list_node *nn = node_new(p);
        nn->plain = (uint8_t)large;
        link_after(l, where == LIST_HEAD ? NULL : l->tail, nn);
    }
    l->len++;
    settle_ends(l, lim.depth);
}

void list_append_plain(list *l, sv val, list_limits lim)
{
    list_node *n = node_new(lp_append(lp_new(), val));
    n->plain = 1;
    link_after(l, l->tail, n);
    l->compact = 0;
    l->len++;
    settle_ends(l, lim.depth);
}

sv list_peek(list *l, int where)
{
    if (!l->head) {
        PANIC("list_peek on an empty list");
    }
    lp *p = node_read(l, where == LIST_HEAD ? l->head : l->tail);
    return lp_get(where == LIST_HEAD ? lp_first(p) : lp_last(p));
}

/* Drops n when a delete emptied it. */
static void drop_if_empty(list *l, list_node *n)
{
    if (node_count(n) == 0) {
        unlink_node(l, n);
        node_free(n);
    }
}

int list_pop(list *l, int where, list_limits lim)
{
    list_node *n = where == LIST_HEAD ? l->head : l->tail;
    if (!n) {
        return 0;
    }
    if (where == LIST_HEAD && n != l->tail) {
        head_pop(n);
    } else {
        lp *np = node_write(n);
        unsigned char *p = where == LIST_HEAD ? lp_first(np) : lp_last(np);
        n->lp = lp_delete(np, &p);
    }
    l->len--;
    drop_if_empty(l, n);
    maybe_compact(l, lim.fill);
    settle_ends(l, lim.depth);
    return 1;
}

void list_trim(list *l, size_t nhead, size_t ntail, list_limits lim)
{
    if (nhead + ntail >= l->len) {
        nhead = l->len;
        ntail = 0;
    }
    l->len -= nhead + ntail;
    while (nhead > 0) {
        list_node *n = l->head;
        size_t cnt = node_count(n);
        if (cnt <= nhead) {
            unlink_node(l, n);
            node_free(n);
            nhead -= cnt;
        } else {
            n->lp = lp_delete_range(node_write(n), 0, (unsigned long)nhead);
            nhead = 0;
        }
    }
    while (ntail > 0) {
        list_node *n = l->tail;
        size_t cnt = node_count(n);
        if (cnt <= ntail) {
            unlink_node(l, n);
            node_free(n);
            ntail -= cnt;
        } else {
            n->lp = lp_delete_range(node_write(n), -(long)ntail, (unsigned long)ntail);
            ntail = 0;
        }
    }
    maybe_compact(l, lim.fill);
    settle_ends(l, lim.depth);
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
        while ((size_t)index >= node_count(n)) {
            index -= (long)node_count(n);
            n = n->next;
        }
        in_node = index;
    } else {
        long ridx = (long)l->len - 1 - index;
        n = l->tail;
        while ((size_t)ridx >= node_count(n)) {
            ridx -= (long)node_count(n);
            n = n->prev;
        }
        in_node = (long)node_count(n) - 1 - ridx;
    }
    lp *np = node_read(l, n);
    *off = (size_t)(lp_seek(np, in_node) - np);
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

int list_set(list *l, long index, sv val, list_limits lim)
{
    size_t off;
    list_node *n = locate(l, index, &off);
    if (!n) {
        return 0;
    }
    unsigned char *p = node_write(n) + off;
    n->lp = lp_replace(n->lp, &p, val);
    reshape(l, n, lim);
    settle_all(l, lim.depth);
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
    /* The next node is opened only now, when the caller is done with the
     * element returned before (opening may pack the node it lives in). */
    lp *np = node_read(it->l, n);
    if (it->off == LIST_ITER_NODE_START) {
        it->off = (size_t)((it->dir == LIST_TAIL ? lp_first(np) : lp_last(np)) - np);
    }
    unsigned char *p = np + it->off;
    *val = lp_get(p);
    it->lnode = n;
    it->loff = it->off;
    unsigned char *q = it->dir == LIST_TAIL ? lp_next(np, p) : lp_prev(np, p);
    if (q) {
        it->off = (size_t)(q - np);
    } else {
        it->node = it->dir == LIST_TAIL ? n->next : n->prev;
        it->off = LIST_ITER_NODE_START;
    }
    return 1;
}

int list_iter_in_plain(const list_iter *it)
{
    return it->lnode && it->lnode->plain;
}

void list_iter_delete(list_iter *it)
{
    list_node *n = it->lnode;
    if (!n) {
        PANIC("list_iter_delete without a current element");
    }
    unsigned char *p = node_write(n) + it->loff;
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

void list_iter_insert(list_iter *it, sv val, int after, list_limits lim)
{
    list_node *n = it->lnode;
    if (!n) {
        PANIC("list_iter_insert without a current element");
    }
    it->node = it->lnode = NULL;
    it->l->len++;
    if (n->plain) {
        /* A plain node takes no second element, whatever the threshold is
         * now: val goes beside it, offered to the neighbour on its side. */
        list_node *nn = node_new(lp_append(lp_new(), val));
        nn->plain = (uint8_t)is_large(val.len, lim);
        link_after(it->l, after ? n : n->prev, nn);
        try_merge(it->l, after ? nn : nn->prev, lim.fill);
        settle_all(it->l, lim.depth);
        return;
    }
    unsigned char *p = node_write(n) + it->loff;
    if (after) {
        p = lp_next(n->lp, p); /* NULL: append */
    }
    n->lp = lp_insert(n->lp, p, val, NULL);
    reshape(it->l, n, lim);
    settle_all(it->l, lim.depth);
}

void list_tidy(list *l, list_limits lim)
{
    for (list_node *n = l->head; n;) {
        if (!try_merge(l, n, lim.fill)) {
            n = n->next;
        }
    }
    maybe_compact(l, lim.fill);
    settle_all(l, lim.depth);
}

/* ---- active defragmentation ---- */

/* The node holding element index (in range), and the index of its first
 * element, walking from the nearer end over the node counts (a packed
 * node's is in its header: nothing is unpacked). */
static list_node *node_of_index(const list *l, size_t index, size_t *first)
{
    if (index < l->len / 2) {
        size_t at = 0;
        list_node *n = l->head;
        while (index >= at + node_count(n)) {
            at += node_count(n);
            n = n->next;
        }
        *first = at;
        return n;
    }
    size_t end = l->len; /* one past n's last element */
    list_node *n = l->tail;
    while (index < end - node_count(n)) {
        end -= node_count(n);
        n = n->prev;
    }
    *first = end - node_count(n);
    return n;
}

/* Moves n and its data block (front gap included; packed or not) where
 * the allocator advises, and points the neighbours, the list's ends and
 * its open node at the new node. Returns n's address now. */
static list_node *defrag_node(list *l, list_node *n)
{
    unsigned char *block = alloc_defrag(node_block(n));
    if (block) {
        n->lp = block + n->gap;
    }
    int open = l->open == n;
    list_node *moved = alloc_defrag(n);
    if (!moved) {
        return n;
    }
    if (moved->prev) {
        moved->prev->next = moved;
    } else {
        l->head = moved;
    }
    if (moved->next) {
        moved->next->prev = moved;
    } else {
        l->tail = moved;
    }
    if (open) {
        l->open = moved;
    }
    return moved;
}

/* The cursor is the index of the first element of the next node to do, so
 * writes between calls only shift which node that is (one may be done
 * twice or missed in a pass). The budget counts elements: whole nodes are
 * done until it is spent (at least one node per call), and the list struct
 * moves on the first call. */
list *list_defrag(list *l, unsigned long *cursor, size_t budget)
{
    if (*cursor == 0) {
        l = alloc_defrag_keep(l);
    }
    if (*cursor >= l->len) {
        *cursor = 0;
        return l;
    }
    size_t at, done = 0;
    list_node *n = node_of_index(l, *cursor, &at);
    do {
        n = defrag_node(l, n);
        size_t count = node_count(n);
        at += count;
        done += count;
        n = n->next;
    } while (n && done < budget);
    *cursor = n ? at : 0;
    return l;
}
