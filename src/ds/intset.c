/* intset: see the header for the layout. Values are read and written with
 * memcpy at the current width, so the array needs no alignment. */
#include "ds/intset.h"

#include <string.h>

#include "base/alloc.h"

struct intset {
    uint32_t width;
    uint32_t len;
    unsigned char data[];
};

static uint32_t width_for(int64_t v)
{
    if (v >= INT16_MIN && v <= INT16_MAX) {
        return 2;
    }
    if (v >= INT32_MIN && v <= INT32_MAX) {
        return 4;
    }
    return 8;
}

static int64_t get_at(const unsigned char *data, uint32_t width, size_t i)
{
    switch (width) {
    case 2: {
        int16_t v;
        memcpy(&v, data + i * 2, 2);
        return v;
    }
    case 4: {
        int32_t v;
        memcpy(&v, data + i * 4, 4);
        return v;
    }
    default: {
        int64_t v;
        memcpy(&v, data + i * 8, 8);
        return v;
    }
    }
}

static void set_at(unsigned char *data, uint32_t width, size_t i, int64_t v)
{
    switch (width) {
    case 2: {
        int16_t x = (int16_t)v;
        memcpy(data + i * 2, &x, 2);
        break;
    }
    case 4: {
        int32_t x = (int32_t)v;
        memcpy(data + i * 4, &x, 4);
        break;
    }
    default: memcpy(data + i * 8, &v, 8); break;
    }
}

intset *intset_new(void)
{
    intset *is = alloc_mem(sizeof(intset));
    is->width = 2;
    is->len = 0;
    return is;
}

void intset_free(intset *is)
{
    alloc_free(is);
}

size_t intset_bytes(const intset *is)
{
    return sizeof(intset) + (size_t)is->width * is->len;
}

intset *intset_dup(const intset *is)
{
    intset *n = alloc_mem(intset_bytes(is));
    memcpy(n, is, intset_bytes(is));
    return n;
}

size_t intset_len(const intset *is)
{
    return is->len;
}

/* Binary search: returns 1 and the index if found, else 0 and the index
 * where v would be inserted. */
static int search(const intset *is, int64_t v, size_t *pos)
{
    size_t lo = 0, hi = is->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t cur = get_at(is->data, is->width, mid);
        if (cur == v) {
            *pos = mid;
            return 1;
        }
        if (cur < v) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *pos = lo;
    return 0;
}

/* Rewrites every value at a wider width. Going back to front lets the
 * widening happen in place in the grown buffer. */
static intset *widen(intset *is, uint32_t width)
{
    uint32_t old = is->width;
    is = alloc_resize(is, sizeof(intset) + (size_t)width * (is->len + 1));
    for (size_t i = is->len; i-- > 0;) {
        set_at(is->data, width, i, get_at(is->data, old, i));
    }
    is->width = width;
    return is;
}

intset *intset_add(intset *is, int64_t v, int *added)
{
    size_t pos;
    if (added) {
        *added = 0;
    }
    uint32_t w = width_for(v);
    if (w > is->width) {
        /* A value wider than all others is the new minimum or maximum. */
        is = widen(is, w);
        pos = v < 0 ? 0 : is->len;
    } else {
        if (search(is, v, &pos)) {
            return is;
        }
        is = alloc_resize(is, sizeof(intset) + (size_t)is->width * (is->len + 1));
    }
    memmove(is->data + (pos + 1) * is->width, is->data + pos * is->width, (is->len - pos) * is->width);
    set_at(is->data, is->width, pos, v);
    is->len++;
    if (added) {
        *added = 1;
    }
    return is;
}

intset *intset_remove(intset *is, int64_t v, int *removed)
{
    size_t pos;
    if (removed) {
        *removed = 0;
    }
    if (width_for(v) > is->width || !search(is, v, &pos)) {
        return is;
    }
    memmove(is->data + pos * is->width, is->data + (pos + 1) * is->width, (is->len - pos - 1) * is->width);
    is->len--;
    if (removed) {
        *removed = 1;
    }
    return alloc_resize(is, intset_bytes(is));
}

int intset_find(const intset *is, int64_t v)
{
    size_t pos;
    return width_for(v) <= is->width && search(is, v, &pos);
}

int64_t intset_get(const intset *is, size_t i)
{
    return get_at(is->data, is->width, i);
}

int64_t intset_min(const intset *is)
{
    return get_at(is->data, is->width, 0);
}

int64_t intset_max(const intset *is)
{
    return get_at(is->data, is->width, is->len - 1);
}

/* ---- Redis's serialized intset (RDB and DUMP payloads) ---- */

static uint64_t le_read(const unsigned char *p, uint32_t n)
{
    uint64_t u = 0;
    for (uint32_t b = 0; b < n; b++) {
        u |= (uint64_t)p[b] << (8 * b);
    }
    return u;
}

int64_t intset_blob_get(const unsigned char *p, size_t i)
{
    uint32_t width = (uint32_t)le_read(p, 4);
    uint64_t u = le_read(p + 8 + i * width, width);
    return width == 2 ? (int16_t)u : width == 4 ? (int32_t)u : (int64_t)u;
}

long long intset_blob_validate(const unsigned char *p, size_t len)
{
    if (len < 8) {
        return INTSET_BLOB_BAD;
    }
    uint32_t width = (uint32_t)le_read(p, 4);
    uint32_t count = (uint32_t)le_read(p + 4, 4);
    /* The length must be exactly what the header says: nothing is read
     * past the blob, and no trailing bytes hide inside it. */
    if ((width != 2 && width != 4 && width != 8) || (uint64_t)count * width + 8 != len) {
        return INTSET_BLOB_BAD;
    }
    for (uint32_t i = 1; i < count; i++) {
        if (intset_blob_get(p, i) <= intset_blob_get(p, i - 1)) {
            return INTSET_BLOB_UNSORTED;
        }
    }
    return count;
}
