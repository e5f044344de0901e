/* listpack: the compact encoding for small collections. A sequence of byte
 * strings packed in one allocation, walkable in both directions:
 *
 *   [u32 total bytes][u32 count][entry]...[0xFF]
 *   entry = [len: LEB128 varint][bytes][backlen: size of len+bytes, varint
 *            stored back to front so it can be read from the entry's end]
 *
 * A listpack past 4 GB (a list's plain node holding an element that big)
 * keeps UINT32_MAX as its total and walks its entries to find it.
 *
 * A 16-byte member costs 18 bytes. Positions are pointers into the buffer;
 * any function that returns a new lp may move it, so callers reassign and
 * re-derive positions (insert/delete hand back the updated position). */
#ifndef KEEL_LISTPACK_H
#define KEEL_LISTPACK_H

#include <stddef.h>
#include <stdint.h>

#include "base/str.h"

typedef unsigned char lp;

lp *lp_new(void);
void lp_free(lp *l);
lp *lp_dup(const lp *l);
size_t lp_bytes(const lp *l);
size_t lp_len(const lp *l);

/* Walking: NULL past either end. */
unsigned char *lp_first(lp *l);
unsigned char *lp_last(lp *l);
unsigned char *lp_next(lp *l, unsigned char *p);
unsigned char *lp_prev(lp *l, unsigned char *p);
/* Entry at index (negative counts from the end), or NULL. */
unsigned char *lp_seek(lp *l, long index);
/* The bytes of the entry at p (valid until the lp changes). */
sv lp_get(const unsigned char *p);
/* The entry parsed as a strict integer; returns 1 on success. */
int lp_get_ll(const unsigned char *p, long long *v);

/* Inserts val before p (p NULL: append). *pos (may be NULL) receives the
 * new entry's position in the returned lp. */
lp *lp_insert(lp *l, unsigned char *p, sv val, unsigned char **pos);
lp *lp_append(lp *l, sv val);
lp *lp_prepend(lp *l, sv val);
/* Replaces the entry at *p; *p is updated to its new position. */
lp *lp_replace(lp *l, unsigned char **p, sv val);
/* Deletes the entry at *p; *p becomes the following entry (or NULL). */
lp *lp_delete(lp *l, unsigned char **p);
/* Deletes count entries starting at index (negative from end). */
lp *lp_delete_range(lp *l, long index, unsigned long count);
/* First entry equal to val, starting at p and stepping over `skip`
 * entries after each comparison (skip 1 for hash fields). NULL if none. */
unsigned char *lp_find(lp *l, unsigned char *p, sv val, unsigned skip);

/* Bytes an entry holding len bytes takes. */
size_t lp_entry_bytes(size_t len);

/* A collection keeps its listpack under 1 GB, as Redis (lpSafeToAdd):
 * past it, whatever the *-max-listpack-value settings, it takes its big
 * encoding, so the 32-bit lengths never wrap and an RDB can carry it to
 * Redis. 1 when adding `add` bytes keeps l (NULL: none yet) within it. */
#define LP_SAFE_BYTES_DEFAULT ((size_t)1 << 30)
int lp_safe_to_add(const lp *l, size_t add);
/* DEBUG LISTPACK-SAFE-LIMIT: a lower bound, so tests need not move gigabytes
 * (0 restores the default). */
void lp_set_safe_limit(size_t bytes);

/* Front operations on a listpack that has free bytes before it in its
 * block (a list's head node keeps such a gap, so pushing and popping at
 * the front move the 8-byte header instead of every entry). Neither
 * reallocates. lp_push_front writes val's entry and the header into the
 * lp_entry_bytes(val.len) bytes before l, which the caller owns, and
 * returns the new start; val must not point into those bytes.
 * lp_pop_front drops the first entry (there must be one) by moving the
 * header over it and returns the new start; the bytes before it are free. */
lp *lp_push_front(lp *l, sv val);
lp *lp_pop_front(lp *l);

/* Convenience for integer members. */
lp *lp_append_ll(lp *l, long long v);

#endif
