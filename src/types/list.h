/* list: the list type. A list is a doubly linked chain of listpack nodes.
 * While it is small it is a single node and reports the "listpack"
 * encoding; once a write would push that node past the size limit it
 * becomes a "quicklist": more nodes, each bounded by the same limit.
 *
 * The limits travel with every function that may change the list (so a
 * CONFIG SET applies at once): `fill` is list-max-listpack-size: positive
 * = at most that many entries per node (and, as a safety net, at most
 * 8 KB), negative -1..-5 = at most 4/8/16/32/64 KB per node; `depth` is
 * list-compress-depth: 0 = no compression, else the `depth` nodes at each
 * end stay plain and the inner nodes are kept LZF-compressed ("packed").
 *
 * An element of at least `plain_min` bytes (Redis's packed threshold, 1 GB
 * unless DEBUG QUICKLIST-PACKED-THRESHOLD changed it) is "plain": it lives
 * alone in a node marked plain, which is never merged with a neighbour and
 * never takes another element, and the list is a quicklist while it has
 * one; snapshots write such a node as Redis 7's PLAIN quicklist node.
 *
 * Invariants: no node is empty; len is the sum of the node counts; a
 * compact list has exactly one node, never a plain one; a plain node holds
 * one element. A single element bigger than the limit lives alone in its
 * own node. Pushes and pops at the ends touch one
 * node and are O(1) in the list's length. A packed node is unpacked when
 * it is read or written; at most one inner node a read unpacked stays so
 * (it is packed again when a read moves on to another packed node, or by
 * the next write), so reading a long list never unpacks all of it. */
#ifndef KEEL_LIST_H
#define KEEL_LIST_H

#include <stddef.h>
#include <stdint.h>

#include "base/str.h"
#include "ds/listpack.h"

enum { LIST_HEAD = 0, LIST_TAIL = 1 };

typedef struct list_node {
    struct list_node *prev, *next;
    lp *lp;                 /* the entries, or their packed form (list.c) */
    uint32_t gap;           /* free bytes before lp in its block (list.c) */
    uint8_t packed;         /* lp holds the LZF-compressed form */
    uint8_t incompressible; /* packing did not pay; retried once it changes */
    uint8_t plain;          /* one large element, alone (see above) */
} list_node;

typedef struct list {
    list_node *head, *tail;
    size_t len;
    size_t nodes;
    list_node *open; /* an inner node a read unpacked, or NULL */
    int compact;     /* 1: "listpack" encoding (one node) */
    int depth;       /* the compress depth of the last write */
} list;

/* Redis's default packed threshold: 1 GB. */
#define LIST_PLAIN_MIN_DEFAULT ((size_t)1 << 30)

typedef struct list_limits {
    long fill;
    int depth;
    size_t plain_min; /* elements this big get a plain node; 0: none do */
} list_limits;

list *list_new(void);
void list_free(list *l);
list *list_dup(const list *l);
size_t list_len(const list *l);
/* Active defragmentation: type_ops.defrag's contract (db/object.h); the
 * budget counts elements, done a whole node at a time. */
list *list_defrag(list *v, unsigned long *cursor, size_t budget);
size_t list_mem(const list *l);
/* Inspection, for MEMORY/DEBUG and tests: packed nodes in the list, and a
 * node's entry count and unpacked bytes, whichever its form (for a plain
 * node, its element's length, as Redis reports it). */
size_t list_packed_nodes(const list *l);
size_t list_node_count(const list_node *n);
size_t list_node_bytes(const list_node *n);
/* "listpack" or "quicklist". */
const char *list_encoding(const list *l);
void list_digest(const list *l, uint8_t d[20]);

/* ---- ends: O(1) ---- */
void list_push(list *l, sv val, int where, list_limits lim);
/* Appends val at the tail in a plain node of its own, whatever its size
 * (a snapshot's PLAIN node loads as one, as in Redis). */
void list_append_plain(list *l, sv val, list_limits lim);
/* The element at an end (the list must not be empty); valid until the
 * list changes. */
sv list_peek(list *l, int where);
/* Removes the element at an end; returns 0 if the list was empty. */
int list_pop(list *l, int where, list_limits lim);
/* Removes nhead elements from the head and ntail from the tail. */
void list_trim(list *l, size_t nhead, size_t ntail, list_limits lim);

/* ---- by index (negative counts from the tail): O(nodes) ---- */
/* Returns 0 if index is out of range. */
int list_index(list *l, long index, sv *out);
int list_set(list *l, long index, sv val, list_limits lim);

/* ---- iteration ---- */
/* Positions are node + byte offset (not pointers), so they survive the
 * reallocation of a node's listpack. */
typedef struct list_iter {
    list *l;
    int dir;          /* LIST_TAIL: head to tail; LIST_HEAD: tail to head */
    list_node *node;  /* where the next entry is (NULL: done) */
    size_t off;       /* LIST_ITER_NODE_START: its first entry in dir */
    list_node *lnode; /* the entry last returned */
    size_t loff;
} list_iter;

#define LIST_ITER_NODE_START ((size_t)-1)

/* Starts at index (negative from the tail) going in direction dir; an
 * out-of-range index gives an iterator that returns nothing. */
void list_iter_init(list_iter *it, list *l, long index, int dir);
/* The next element; 0 when done. val is valid until the list changes. */
int list_iter_next(list_iter *it, sv *val);
/* Whether the element last returned lives in a plain node. */
int list_iter_in_plain(const list_iter *it);
/* Deletes the element last returned; iteration continues after it. */
void list_iter_delete(list_iter *it);
/* Inserts val before or after (after=1) the element last returned. The
 * iterator must not be used afterwards. */
void list_iter_insert(list_iter *it, sv val, int after, list_limits lim);

/* After bulk deletes (LREM): merges neighbouring nodes that fit in one and
 * goes back to the compact encoding when the list is small again. */
void list_tidy(list *l, list_limits lim);

#endif
