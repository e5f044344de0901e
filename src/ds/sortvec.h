/* sortvec: the order of Redis's SORT over an array of items, each a member
 * with either a numeric weight or (ALPHA) the bytes it is compared by.
 *
 *   numeric  by weight; equal weights by the members' bytes (memcmp, then
 *            the shorter first), as Redis breaks ties;
 *   ALPHA    by the bytes of u.by, a missing value (p NULL) first; equal
 *            values keep their input order (the sort is stable).
 * DESC reverses the comparison (ties included, as Redis negates it).
 *
 * Also the numbers SORT accepts as weights. Pure: no server, no
 * allocation kept after a call. */
#ifndef KEEL_SORTVEC_H
#define KEEL_SORTVEC_H

#include <stddef.h>

#include "base/str.h"

typedef struct sortvec_item {
    const char *ele; /* the member */
    size_t elen;
    union {
        double score; /* numeric sort */
        struct {
            const char *p; /* ALPHA: what is compared (NULL: missing) */
            size_t len;
        } by;
    } u;
} sortvec_item;

/* Sorts v in place. Numeric weights are radix-sorted (no comparisons of
 * random doubles, so no mispredicted branches), ALPHA items merge-sorted. */
void sortvec_sort(sortvec_item *v, size_t n, int alpha, int desc);

/* A weight as Redis reads one: strtod over the value up to its first NUL,
 * which must consume all of it ("" is 0, leading blanks, hex and inf are
 * fine); NaN and out-of-range values (ERANGE) are refused (returns 0). */
int sortvec_weight(sv v, double *out);

/* The length of v as a C string (up to its first NUL): what Redis's strchr
 * and strcoll see of a value. */
size_t sortvec_clen(sv v);

#endif
