/* dict: an intrusive chained hash table with incremental rehashing and a
 * reverse-binary scan cursor.
 *
 * Intrusive: the table stores pointers to caller-owned nodes whose first
 * field is a dnode. The keyspace uses this to keep key, header and value in
 * one allocation with the chain pointer; other users embed a dnode in their
 * own entry structs. The dict never allocates or frees nodes. */
#ifndef KEEL_DICT_H
#define KEEL_DICT_H

#include <stddef.h>
#include <stdint.h>

#include "base/str.h"

typedef struct dnode {
    struct dnode *next;
} dnode;

typedef struct dict_type {
    uint64_t (*hash)(const void *key, size_t len);
    /* The key bytes of a node (used for comparing and rehashing). */
    sv (*node_key)(const dnode *n);
    /* Optional: custom equality (e.g. case-insensitive); default memcmp. */
    int (*key_eq)(sv a, sv b);
} dict_type;

typedef struct dict {
    const dict_type *type;
    dnode **table[2];
    size_t size[2]; /* power of two, or 0 */
    size_t used[2];
    long rehash_idx; /* -1 when not rehashing */
    int pause_rehash;
    unsigned char no_resize;  /* set while a child process shares pages, later */
    unsigned char rand_chain; /* the longest chain dict_random has met (0: 4) */
} dict;

typedef void (*dict_node_fn)(dnode *n, void *ctx);

void dict_init(dict *d, const dict_type *type);
/* Unlinks every node, calling free_fn on each (may be NULL). */
void dict_clear(dict *d, dict_node_fn free_fn, void *ctx);
size_t dict_size(const dict *d);
/* Slots in the table(s): for memory accounting. */
size_t dict_slots(const dict *d);
dnode *dict_find(dict *d, const char *key, size_t len);
/* Adds a node whose key must not be present. */
void dict_insert(dict *d, dnode *n);
/* Removes and returns the node with this key, or NULL. */
dnode *dict_unlink(dict *d, const char *key, size_t len);
/* Puts `repl` where `old` is (same key); used when an entry is reallocated. */
void dict_replace(dict *d, dnode *old, dnode *repl);
/* repl is a moved copy of old (active defragmentation: old is already
 * freed, so only its address is used): repl takes its place in the chain. */
void dict_relink_moved(dict *d, const dnode *old, dnode *repl);
/* A random node, or NULL if empty. Not perfectly uniform (chains). */
dnode *dict_random(dict *d);
/* Rehash at most n buckets; returns 1 if more remain. */
int dict_rehash(dict *d, int n);
/* Rehash for about ms milliseconds; returns buckets done (x100). */
int dict_rehash_ms(dict *d, int ms);
/* Grows the table for about n nodes at once (a loader that knows the
 * count skips the rehashes of growing step by step). */
void dict_reserve(dict *d, size_t n);
/* Shrink or grow to fit; called by cron so deletes release table memory. */
void dict_resize_to_fit(dict *d);

/* Scan: visits every node of one or two buckets per step. A node present
 * for the whole scan is visited at least once, across resizes. Returns the
 * next cursor (0 when done). fn may not delete nodes other than the one it
 * is given; deleting that one is allowed. */
unsigned long dict_scan(dict *d, unsigned long cursor, dict_node_fn fn, void *ctx);

/* Active defragmentation: the same walk as dict_scan, but fn may return a
 * moved copy of the node it is given (next pointer included), which takes
 * its place in the chain; NULL leaves it. */
typedef dnode *(*dict_move_fn)(dnode *n, void *ctx);
unsigned long dict_defrag_scan(dict *d, unsigned long cursor, dict_move_fn fn, void *ctx);
/* Moves the bucket arrays where the allocator advises (alloc_defrag). */
void dict_defrag_tables(dict *d);
/* For a dict whose nodes are each one whole allocation: moves the tables
 * (when cursor is 0), then the nodes of about `budget` nodes' worth of
 * buckets; returns the cursor to go on from, 0 when done. */
unsigned long dict_defrag_nodes(dict *d, unsigned long cursor, size_t budget);

/* Plain iteration (rehash paused while it lasts; the visitor may delete
 * the node it is given). */
typedef struct dict_iter {
    dict *d;
    int table;
    size_t idx;
    dnode *next;
    int started;
} dict_iter;
void dict_iter_init(dict_iter *it, dict *d);
dnode *dict_iter_next(dict_iter *it);
void dict_iter_done(dict_iter *it);

/* A ready-made node for string-keyed maps: key bytes inline, one value
 * pointer. */
typedef struct dict_entry {
    dnode node;
    void *val;
    size_t keylen;
    char key[];
} dict_entry;

extern const dict_type dict_type_entry;        /* case-sensitive keys */
extern const dict_type dict_type_entry_nocase; /* case-insensitive keys */
dict_entry *dict_entry_new(const char *key, size_t len, void *val);
dict_entry *dict_entry_find(dict *d, const char *key, size_t len);
/* Finds or inserts an entry (val NULL when new). */
dict_entry *dict_entry_upsert(dict *d, const char *key, size_t len, int *created);
/* Unlinks and frees the entry; returns its value (or NULL). */
void *dict_entry_remove(dict *d, const char *key, size_t len, int *found);
/* Frees every entry; val_free (may be NULL) gets each value. */
void dict_entry_clear(dict *d, void (*val_free)(void *));

#endif
