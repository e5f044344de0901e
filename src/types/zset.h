/* zset: the sorted set value. Two encodings:
 *
 *  - listpack: [member][score] pairs in one listpack, sorted by score then
 *    member; the score is the 8 raw bytes of the double (fixed size, no
 *    parsing on compare). Used while the set has at most max_entries
 *    members, each at most max_value bytes long.
 *  - skiplist (the name Redis reports; OBJECT ENCODING keeps it): each
 *    element one small allocation, ordered by a counted B+tree of
 *    pointers (ds/ordtree.h) for order and rank, and indexed by an
 *    intrusive dict over the same elements for O(1) member lookup.
 *
 * A zset * is a tagged pointer: a listpack itself, or (low bit set) the
 * big encoding's struct, so a small sorted set costs one allocation.
 * Every function that may change the encoding or move the listpack
 * returns the new zset *: callers always reassign.
 *
 * Ranks are 0-based in forward (ascending) order throughout this API;
 * callers translate reverse ranks themselves. */
#ifndef KEEL_ZSET_H
#define KEEL_ZSET_H

#include <stddef.h>
#include <stdint.h>

#include "base/str.h"
#include "ds/ordtree.h"

typedef struct zset zset;

/* The listpack thresholds (zset-max-listpack-entries / -value); the server
 * sets them at start-up and on CONFIG SET. */
void zset_set_limits(size_t max_entries, size_t max_value);

/* An empty set in the encoding fit for n members of at most maxlen bytes. */
zset *zset_new(size_t n, size_t maxlen);
void zset_free(void *z);
void *zset_dup(const void *z);
size_t zset_len(const zset *z);
/* Active defragmentation: type_ops.defrag's contract (db/object.h). */
zset *zset_defrag(zset *v, unsigned long *cursor, size_t budget);
int zset_is_listpack(const zset *z);
const char *zset_encoding(const zset *z);
/* Bytes allocated (sampled for big sets), for MEMORY USAGE. */
size_t zset_mem(const zset *z);
/* Feeds every member and score, in order, to a digest. */
void zset_digest(const zset *z, uint8_t d[20]);
/* Converts to the big ("skiplist") encoding (no-op if already there). */
zset *zset_to_skiplist(zset *z);

/* ZADD's flags. */
#define ZADD_NX (1 << 0)
#define ZADD_XX (1 << 1)
#define ZADD_GT (1 << 2)
#define ZADD_LT (1 << 3)
#define ZADD_INCR (1 << 4)
/* What zset_add did. */
#define ZADD_OUT_NOP (1 << 0)     /* nothing (condition failed or same score) */
#define ZADD_OUT_ADDED (1 << 1)   /* new member */
#define ZADD_OUT_UPDATED (1 << 2) /* score changed */
#define ZADD_OUT_NAN (1 << 3)     /* INCR produced NaN: nothing changed */

/* Adds or updates a member with ZADD's semantics. *newscore (may be NULL)
 * receives the resulting score when the member exists afterwards. */
zset *zset_add(zset *z, double score, sv member, int flags, int *out, double *newscore);
/* Removes member; *removed is set to 1 if it was there. */
zset *zset_remove(zset *z, sv member, int *removed);
/* 1 and the score if member is present. */
int zset_score(zset *z, sv member, double *score);
/* 0-based ascending rank of member, or -1; *score (may be NULL) too. */
long zset_rank(zset *z, sv member, double *score);

/* Ranges. A bound range selects ranks [*start, *end) (empty when
 * start >= end). */
typedef struct zscore_range {
    double min, max;
    int minex, maxex; /* exclusive bounds */
} zscore_range;

/* A lex bound is a value, or "-" (below everything) or "+" (above). */
enum { ZLEX_NEG = -1, ZLEX_VAL = 0, ZLEX_POS = 1 };
typedef struct zlex_range {
    sv min, max;
    int minex, maxex;
    int min_kind, max_kind;
} zlex_range;

/* A lex bound: "[x" inclusive, "(x" exclusive, "-" and "+" the ends; 0
 * when a is none of those. */
int zset_parse_lex_bound(sv a, sv *v, int *ex, int *kind);
void zset_score_bounds(zset *z, const zscore_range *r, size_t *start, size_t *end);
void zset_lex_bounds(zset *z, const zlex_range *r, size_t *start, size_t *end);
int zset_lex_gte_min(sv m, const zlex_range *r);
int zset_lex_lte_max(sv m, const zlex_range *r);
/* The same as ordtree predicates over a range's two ends (ctx is the
 * zlex_range): true below min, true up to max. */
int zset_pred_lex_below_min(double s, sv m, const void *ctx);
int zset_pred_lex_within_max(double s, sv m, const void *ctx);
/* Deletes ranks [start, end). */
zset *zset_delete_ranks(zset *z, size_t start, size_t end);

/* Iteration from a rank, ascending or (rev) descending. The member view
 * is valid until the set changes. */
typedef struct zset_iter {
    zset *z;
    int rev;
    unsigned char *p; /* listpack: the member entry */
    ordtree_pos pos;  /* big encoding (pos.leaf NULL when done) */
} zset_iter;

void zset_iter_at(zset_iter *it, zset *z, size_t rank, int rev);
int zset_iter_next(zset_iter *it, sv *member, double *score);
/* Ascending iteration from the first element whose score is >= min (an
 * empty iteration when there is none): a score range read without
 * counting ranks twice. */
void zset_iter_from_score(zset_iter *it, zset *z, double min);

/* One scan step: listpacks return everything at once (cursor 0); the
 * big encoding walks its dict. fn gets each member and score. */
unsigned long zset_scan(zset *z, unsigned long cursor, void (*fn)(sv member, double score, void *ctx), void *ctx);

#endif
