/* str: binary-safe growable byte strings.
 * A str is a pointer to its bytes (always NUL-terminated for convenience),
 * with the length and capacity stored just before them, so a str can be
 * passed wherever a const char * is read. Functions that may reallocate
 * return the new pointer: callers always reassign. */
#ifndef KEEL_STR_H
#define KEEL_STR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef char *str;

str str_new(const char *p, size_t len);
str str_empty(size_t reserve);
str str_from_ll(long long v);
str str_dup(const str s);
void str_free(str s);
size_t str_len(const str s);
size_t str_cap(const str s);
str str_append(str s, const char *p, size_t len);
str str_append_cstr(str s, const char *p);
str str_printf(str s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends p in double quotes with C escapes (\\ \" \n \r \t \a \b, and
 * \xHH for other bytes outside printable ASCII), as Redis quotes a value in
 * MONITOR, CONFIG REWRITE and the Lua debugger. */
str str_append_quoted(str s, const char *p, size_t len);
/* Make room for at least `extra` more bytes without changing the length. */
str str_reserve(str s, size_t extra);
/* Set the length (must fit in capacity); writes the terminating NUL. */
void str_set_len(str s, size_t len);
/* Grow to len bytes, padding with zeros. */
str str_grow_zero(str s, size_t len);
void str_clear(str s);
/* Bytes the allocation really uses (for memory accounting). */
size_t str_mem(const str s);
/* Active defragmentation (alloc_defrag): the moved str, or NULL when s
 * stays where it is. */
str str_defrag(str s);
/* Release unused capacity. */
str str_shrink(str s);

/* A borrowed view of bytes: argv entries, dictionary keys in lookups. */
typedef struct sv {
    const char *ptr;
    size_t len;
} sv;

#define SV(lit) ((sv){(lit), sizeof(lit) - 1})
int sv_eq(sv a, sv b);
/* Byte order (memcmp), a prefix before the longer string: <0, 0, >0.
 * Inline: sorted-set descents call it on every tie. */
static inline int sv_cmp(sv a, sv b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
    if (c) {
        return c;
    }
    return a.len < b.len ? -1 : a.len > b.len;
}
/* Case-insensitive compare against a C string; the usual way to match
 * command options. */
int sv_eq_ci(sv a, const char *lit);

#endif
