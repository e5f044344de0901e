/* vset_filter: the FILTER expressions of VSIM, run against an element's
 * JSON attributes, e.g. `.year >= 1980 and .genre in ["action", "drama"]`.
 *
 * Values are numbers (doubles), strings, tuples ([1, "a"], for `in`) and
 * null. `.name` reads a top-level field of the attributes object: a JSON
 * number gives a number, a string a string, true / false 1 / 0, an array
 * of numbers, strings and booleans a tuple; a missing field or any other
 * JSON value makes the whole expression false, as does invalid JSON in
 * what had to be read (the object is read up to the last field needed,
 * and a skipped value may nest at most 1024 containers deep).
 *
 * Operators, loosest first (all left-associative but `**`):
 *   or ||   |   and &&   |   > >= < <= == != in   |   + -   |   * / %   |
 *   **   |   not !   |   ( )
 * Arithmetic and ordering work on numbers (a string counts as the number
 * it spells, else 0); == and != compare strings as bytes and null only
 * equals null. `a in b` tests membership when b is a tuple and substring
 * when both are strings. */
#ifndef KEEL_VSET_FILTER_H
#define KEEL_VSET_FILTER_H

#include <stddef.h>

typedef struct vfilter vfilter;

/* Compiles expr (len bytes, need not end in NUL). On a syntax error
 * returns NULL and sets *errpos (when errpos is not NULL) to the offset of
 * the token to blame, always < len, 0 for an empty expression. */
vfilter *vfilter_compile(const char *expr, size_t len, size_t *errpos);
/* 1 when the attributes json (len bytes, need not end in NUL) satisfy the
 * expression, else 0. An expression without selectors never reads json.
 * Safe to call from several threads on one vfilter. */
int vfilter_match(const vfilter *f, const char *json, size_t len);
void vfilter_free(vfilter *f);

#endif
