/* listpack: see the header for the layout. All sizes are recomputed from
 * the bytes themselves, so the structure is self-describing and one
 * allocation holds everything (no per-element headers). */
#include "ds/listpack.h"

#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "ds/varint.h"

#define HDR 8
#define END 0xFF

/* The total length is 32 bits. A listpack past it (only a list's plain
 * node grows so, holding one element over 4 GB, as Redis's lists keep)
 * stores BYTES_WALKED there, and its size is found by walking its
 * entries: one step for such a node. */
#define BYTES_WALKED UINT32_MAX

static size_t entry_size(const unsigned char *p);

static size_t walked_bytes(const lp *l)
{
    const unsigned char *p = l + HDR;
    for (size_t i = util_get_u32(l + 4); i > 0; i--) {
        p += entry_size(p);
    }
    return (size_t)(p - l) + 1;
}

size_t lp_bytes(const lp *l)
{
    uint32_t b = util_get_u32(l);
    return b != BYTES_WALKED ? b : walked_bytes(l);
}

static void set_bytes(lp *l, size_t bytes)
{
    util_put_u32(l, bytes < BYTES_WALKED ? (uint32_t)bytes : BYTES_WALKED);
}

static size_t safe_bytes = LP_SAFE_BYTES_DEFAULT;

int lp_safe_to_add(const lp *l, size_t add)
{
    size_t have = l ? lp_bytes(l) : 0;
    return add <= safe_bytes && have <= safe_bytes - add;
}

void lp_set_safe_limit(size_t bytes)
{
    safe_bytes = bytes ? bytes : LP_SAFE_BYTES_DEFAULT;
}

size_t lp_len(const lp *l)
{
    return util_get_u32(l + 4);
}

lp *lp_new(void)
{
    lp *l = alloc_mem(HDR + 1);
    util_put_u32(l, HDR + 1);
    util_put_u32(l + 4, 0);
    l[HDR] = END;
    return l;
}

void lp_free(lp *l)
{
    alloc_free(l);
}

lp *lp_dup(const lp *l)
{
    lp *n = alloc_mem(lp_bytes(l));
    memcpy(n, l, lp_bytes(l));
    return n;
}

/* Back length: written so the byte nearest the next entry holds the low
 * 7 bits, each earlier byte the next 7, with 0x80 meaning "more before". */
static size_t back_put(unsigned char *end, uint64_t v)
{
    size_t n = varint_size(v);
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)(v & 0x7F);
        v >>= 7;
        if (i + 1 < n) {
            b |= 0x80;
        }
        end[-(long)i - 1] = b;
    }
    return n;
}

static uint64_t back_get(const unsigned char *end, size_t *n)
{
    uint64_t v = 0;
    size_t i = 0;
    int shift = 0;
    for (;;) {
        unsigned char b = end[-(long)i - 1];
        i++;
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            break;
        }
        shift += 7;
    }
    *n = i;
    return v;
}

/* Whole size of the entry at p. */
static size_t entry_size(const unsigned char *p)
{
    size_t n;
    uint64_t len = varint_get(p, &n);
    size_t body = n + (size_t)len;
    return body + varint_size(body);
}

static size_t encoded_size(size_t len)
{
    size_t body = varint_size(len) + len;
    return body + varint_size(body);
}

size_t lp_entry_bytes(size_t len)
{
    return encoded_size(len);
}

static void encode(unsigned char *p, sv val)
{
    size_t n = varint_put(p, val.len);
    if (val.len) {
        memcpy(p + n, val.ptr, val.len);
    }
    size_t body = n + val.len;
    back_put(p + body + varint_size(body), body);
}

/* The end is found by position, never by the END byte's value: a length
 * varint can start with 0xFF too (lengths 255, 383, ...). */
static int is_end(const lp *l, const unsigned char *p)
{
    return p == l + lp_bytes(l) - 1;
}

unsigned char *lp_first(lp *l)
{
    return lp_len(l) == 0 ? NULL : l + HDR;
}

unsigned char *lp_next(lp *l, unsigned char *p)
{
    p += entry_size(p);
    return is_end(l, p) ? NULL : p;
}

unsigned char *lp_prev(lp *l, unsigned char *p)
{
    if (p == l + HDR) {
        return NULL;
    }
    size_t n;
    uint64_t body = back_get(p, &n);
    return p - n - body;
}

unsigned char *lp_last(lp *l)
{
    unsigned char *end = l + lp_bytes(l) - 1;
    if (end == l + HDR) {
        return NULL;
    }
    size_t n;
    uint64_t body = back_get(end, &n);
    return end - n - body;
}

unsigned char *lp_seek(lp *l, long index)
{
    long len = (long)lp_len(l);
    if (index < 0) {
        index += len;
    }
    if (index < 0 || index >= len) {
        return NULL;
    }
    unsigned char *p;
    if (index < len / 2) {
        p = lp_first(l);
        while (index--) {
            p = lp_next(l, p);
        }
    } else {
        p = lp_last(l);
        for (long i = len - 1; i > index; i--) {
            p = lp_prev(l, p);
        }
    }
    return p;
}

sv lp_get(const unsigned char *p)
{
    size_t n;
    uint64_t len = varint_get(p, &n);
    return (sv){(const char *)p + n, (size_t)len};
}

int lp_get_ll(const unsigned char *p, long long *v)
{
    sv s = lp_get(p);
    return util_parse_ll(s.ptr, s.len, v);
}

/* Replaces `oldsz` bytes at offset `off` with room for `newsz` bytes. */
static lp *splice(lp *l, size_t off, size_t oldsz, size_t newsz)
{
    size_t total = lp_bytes(l);
    size_t ntotal = total - oldsz + newsz;
    if (newsz > oldsz) {
        l = alloc_resize(l, ntotal);
    }
    memmove(l + off + newsz, l + off + oldsz, total - off - oldsz);
    if (newsz < oldsz) {
        l = alloc_resize(l, ntotal);
    }
    set_bytes(l, ntotal);
    return l;
}

lp *lp_insert(lp *l, unsigned char *p, sv val, unsigned char **pos)
{
    size_t off = p ? (size_t)(p - l) : lp_bytes(l) - 1;
    size_t sz = encoded_size(val.len);
    l = splice(l, off, 0, sz);
    encode(l + off, val);
    util_put_u32(l + 4, util_get_u32(l + 4) + 1);
    if (pos) {
        *pos = l + off;
    }
    return l;
}

lp *lp_append(lp *l, sv val)
{
    return lp_insert(l, NULL, val, NULL);
}

lp *lp_prepend(lp *l, sv val)
{
    return lp_insert(l, lp_first(l), val, NULL);
}

lp *lp_push_front(lp *l, sv val)
{
    size_t sz = encoded_size(val.len), bytes = lp_bytes(l);
    lp *n = l - sz;
    memmove(n, l, HDR); /* the old header's bytes become the entry's tail */
    encode(n + HDR, val);
    set_bytes(n, bytes + sz);
    util_put_u32(n + 4, (uint32_t)(lp_len(n) + 1));
    return n;
}

lp *lp_pop_front(lp *l)
{
    size_t sz = entry_size(l + HDR), bytes = lp_bytes(l);
    lp *n = l + sz;
    memmove(n, l, HDR);
    set_bytes(n, bytes - sz);
    util_put_u32(n + 4, (uint32_t)(lp_len(n) - 1));
    return n;
}

lp *lp_append_ll(lp *l, long long v)
{
    char buf[32];
    int n = util_ll2str(buf, v);
    return lp_append(l, (sv){buf, (size_t)n});
}

lp *lp_replace(lp *l, unsigned char **p, sv val)
{
    size_t off = (size_t)(*p - l);
    size_t oldsz = entry_size(*p), newsz = encoded_size(val.len);
    /* val may point into l itself: copy it out first if so. */
    char stackbuf[256];
    char *copy = NULL;
    if (val.len && val.ptr >= (const char *)l && val.ptr < (const char *)l + lp_bytes(l)) {
        copy = val.len <= sizeof(stackbuf) ? stackbuf : alloc_mem(val.len);
        memcpy(copy, val.ptr, val.len);
        val.ptr = copy;
    }
    l = splice(l, off, oldsz, newsz);
    encode(l + off, val);
    if (copy && copy != stackbuf) {
        alloc_free(copy);
    }
    *p = l + off;
    return l;
}

lp *lp_delete(lp *l, unsigned char **p)
{
    size_t off = (size_t)(*p - l);
    l = splice(l, off, entry_size(*p), 0);
    util_put_u32(l + 4, util_get_u32(l + 4) - 1);
    *p = is_end(l, l + off) ? NULL : l + off;
    return l;
}

lp *lp_delete_range(lp *l, long index, unsigned long count)
{
    unsigned char *p = lp_seek(l, index);
    if (!p || count == 0) {
        return l;
    }
    size_t off = (size_t)(p - l);
    unsigned char *q = p;
    unsigned long n = 0;
    while (q && n < count) {
        q += entry_size(q);
        n++;
        if (is_end(l, q)) {
            break;
        }
    }
    l = splice(l, off, (size_t)(q - p), 0);
    util_put_u32(l + 4, util_get_u32(l + 4) - (uint32_t)n);
    return l;
}

unsigned char *lp_find(lp *l, unsigned char *p, sv val, unsigned skip)
{
    while (p) {
        sv e = lp_get(p);
        if (e.len == val.len && (val.len == 0 || memcmp(e.ptr, val.ptr, val.len) == 0)) {
            return p;
        }
        p = lp_next(l, p);
        for (unsigned i = 0; i < skip && p; i++) {
            p = lp_next(l, p);
        }
    }
    return NULL;
}
