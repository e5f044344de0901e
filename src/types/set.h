/* set: the set type. Three encodings, chosen as Redis chooses them:
 *   intset    all members are integers and there are few enough
 *             (set-max-intset-entries);
 *   listpack  few, short members (set-max-listpack-entries/-value);
 *   hashtable a dict of one-allocation nodes otherwise.
 * Sets only ever move to a bigger encoding.
 *
 * A set is a tagged pointer to its structure (the low bits name the
 * encoding), so a small set costs exactly its compact buffer. Functions
 * that may change the structure return the new handle: callers always
 * reassign and store it back in the key. */
#ifndef KEEL_SET_H
#define KEEL_SET_H

#include <stddef.h>
#include <stdint.h>

#include "base/dict.h"
#include "base/str.h"

typedef struct set set;

enum { SET_ENC_LISTPACK = 0, SET_ENC_INTSET = 1, SET_ENC_HT = 2 };

typedef struct set_limits {
    long long max_intset_entries;
    long long max_listpack_entries;
    long long max_listpack_value;
} set_limits;

/* An empty set in the encoding Redis picks for a set whose first member is
 * `first` and that will hold about size_hint members. */
set *set_new(sv first, size_t size_hint, const set_limits *lim);
/* An empty intset-encoded set (for computed results). */
set *set_new_intset(void);
void set_free(set *s);
set *set_dup(const set *s);
size_t set_len(const set *s);
/* Active defragmentation: type_ops.defrag's contract (db/object.h). */
set *set_defrag(set *v, unsigned long *cursor, size_t budget);
int set_enc(const set *s);
const char *set_encoding(const set *s);
size_t set_mem(const set *s);

set *set_add(set *s, sv m, const set_limits *lim, int *added);
set *set_remove(set *s, sv m, int *removed);
int set_contains(const set *s, sv m);
/* Moves to the hashtable encoding (no-op if already there). */
set *set_convert_ht(set *s);

/* Iteration in encoding order; members stay valid until the set changes.
 * The set must not change during the iteration. */
typedef struct set_iter {
    set *s;
    int enc;
    size_t i;
    unsigned char *p;
    dict_iter di;
    char buf[32];
} set_iter;
void set_iter_init(set_iter *it, set *s);
int set_iter_next(set_iter *it, sv *m);
void set_iter_done(set_iter *it);

/* A random member (the set must not be empty); buf holds integers. */
sv set_random(set *s, char buf[32]);
/* Calls fn for `count` random members: distinct members (at most the set's
 * size) when distinct, else with repetitions. */
void set_sample(set *s, size_t count, int distinct, void (*fn)(sv m, void *ctx), void *ctx);
/* One SSCAN step: compact encodings are returned whole (cursor 0). */
unsigned long set_scan(set *s, unsigned long cursor, void (*fn)(sv m, void *ctx), void *ctx);
/* Order-independent digest of the members. */
void set_digest(const set *s, uint8_t d[20]);

#endif
