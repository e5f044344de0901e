/* intset: a sorted array of distinct integers in one allocation, the
 * compact encoding for small sets of integers.
 *
 *   [u32 width (2, 4 or 8 bytes)][u32 count][values, ascending]
 *
 * Every value uses the width of the widest one, so a set of small numbers
 * costs 2 bytes per member; adding a value that does not fit widens the
 * whole array once. Lookups are binary searches. Functions that may
 * reallocate return the new intset: callers always reassign. */
#ifndef KEEL_INTSET_H
#define KEEL_INTSET_H

#include <stddef.h>
#include <stdint.h>

typedef struct intset intset;

intset *intset_new(void);
void intset_free(intset *is);
intset *intset_dup(const intset *is);
size_t intset_len(const intset *is);
/* Bytes of the allocation (header and values). */
size_t intset_bytes(const intset *is);
/* Adds v; *added (may be NULL) is 1 if it was absent. */
intset *intset_add(intset *is, int64_t v, int *added);
/* Removes v; *removed (may be NULL) is 1 if it was present. */
intset *intset_remove(intset *is, int64_t v, int *removed);
int intset_find(const intset *is, int64_t v);
/* The value at index i (0 <= i < len), in ascending order. */
int64_t intset_get(const intset *is, size_t i);
int64_t intset_min(const intset *is);
int64_t intset_max(const intset *is);

/* Redis's serialized intset, as RDB files and DUMP payloads hold it:
 * [u32 width][u32 count][count values of width bytes, strictly ascending],
 * little endian. intset_blob_validate returns the count of a well-formed
 * blob, else INTSET_BLOB_BAD (width, count and length disagree) or
 * INTSET_BLOB_UNSORTED; intset_blob_get reads value i of a validated one. */
#define INTSET_BLOB_BAD (-1)
#define INTSET_BLOB_UNSORTED (-2)
long long intset_blob_validate(const unsigned char *p, size_t len);
int64_t intset_blob_get(const unsigned char *p, size_t i);

#endif
