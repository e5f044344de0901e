/* rdb_legacy: ziplists and zipmaps to listpacks. See rdb_legacy.h. */
#include "persist/rdb_legacy.h"

#include <stdint.h>

#include "base/util.h"
#include "ds/redis_listpack.h"

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Signed little-endian integer of n bytes. */
static long long sle(const unsigned char *p, int n)
{
    uint64_t u = 0;
    for (int i = n - 1; i >= 0; i--) {
        u = u << 8 | p[i];
    }
    if (n < 8 && (u >> (8 * n - 1)) & 1) {
        u |= ~(uint64_t)0 << (8 * n); /* sign-extend */
    }
    return (long long)u;
}

/* Reads the ziplist entry at p (end: one past the last byte before the
 * terminator) into b; returns its size, or 0 when it is malformed. */
static size_t zl_entry(const unsigned char *p, const unsigned char *end, size_t prev_size, rlp_builder *b)
{
    const unsigned char *q = p;
    if (q >= end) {
        return 0;
    }
    size_t prevlen = *q++;
    if (prevlen == 0xFE) {
        if (end - q < 4) {
            return 0;
        }
        prevlen = le32(q);
        q += 4;
    } else if (prevlen == 0xFF) {
        return 0;
    }
    if (prevlen != prev_size || q >= end) {
        return 0;
    }
    unsigned char enc = *q++;
    size_t slen = 0;
    int ilen = 0;
    switch (enc >> 6) {
    case 0: slen = enc & 0x3F; break;
    case 1:
        if (q >= end) {
            return 0;
        }
        slen = (size_t)(enc & 0x3F) << 8 | *q++;
        break;
    case 2:
        if (enc != 0x80 || end - q < 4) {
            return 0;
        }
        slen = (size_t)q[0] << 24 | (size_t)q[1] << 16 | (size_t)q[2] << 8 | q[3];
        q += 4;
        break;
    default:
        if (enc == 0xC0) {
            ilen = 2;
        } else if (enc == 0xD0) {
            ilen = 4;
        } else if (enc == 0xE0) {
            ilen = 8;
        } else if (enc == 0xF0) {
            ilen = 3;
        } else if (enc == 0xFE) {
            ilen = 1;
        } else if (enc >= 0xF1 && enc <= 0xFD) {
            rlp_append_int(b, (long long)(enc & 0x0F) - 1);
            return (size_t)(q - p);
        } else {
            return 0;
        }
        if (end - q < ilen) {
            return 0;
        }
        rlp_append_int(b, sle(q, ilen));
        return (size_t)(q - p) + (size_t)ilen;
    }
    if ((size_t)(end - q) < slen) {
        return 0;
    }
    rlp_append(b, (const char *)q, slen);
    return (size_t)(q - p) + slen;
}

unsigned char *ziplist_to_listpack(const unsigned char *zl, size_t len, size_t *out_len, size_t *count)
{
    enum { HEADER = 10 };
    if (len < HEADER + 1 || le32(zl) != len || zl[len - 1] != 0xFF) {
        return NULL;
    }
    size_t tail = le32(zl + 4), declared = (size_t)zl[8] | (size_t)zl[9] << 8;
    rlp_builder b;
    rlp_builder_init(&b);
    const unsigned char *p = zl + HEADER, *end = zl + len - 1;
    size_t n = 0, prev = 0, last = HEADER;
    while (p < end) {
        size_t size = zl_entry(p, end, prev, &b);
        if (size == 0) {
            rlp_builder_free(&b);
            return NULL;
        }
        last = (size_t)(p - zl);
        p += size;
        prev = size;
        n++;
    }
    if (tail != last || (declared != 0xFFFF && declared != n)) {
        rlp_builder_free(&b);
        return NULL;
    }
    *count = n;
    return rlp_builder_finish(&b, out_len);
}

/* A zipmap length: 1 byte below 254, or 254 and 4 bytes; 0 when past end. */
static int zm_len(const unsigned char **p, const unsigned char *end, size_t *out)
{
    if (*p >= end || **p == 0xFF) {
        return 0;
    }
    if (**p < 254) {
        *out = *(*p)++;
        return 1;
    }
    if (**p != 254 || end - *p < 5) {
        return 0;
    }
    *out = le32(*p + 1);
    *p += 5;
    return 1;
}

unsigned char *zipmap_to_listpack(const unsigned char *zm, size_t len, size_t *out_len, size_t *count)
{
    if (len < 2 || zm[len - 1] != 0xFF) {
        return NULL;
    }
    rlp_builder b;
    rlp_builder_init(&b);
    const unsigned char *p = zm + 1, *end = zm + len - 1;
    size_t pairs = 0;
    while (p < end) {
        size_t klen, vlen;
        if (!zm_len(&p, end, &klen) || (size_t)(end - p) < klen) {
            goto bad;
        }
        const unsigned char *field = p;
        p += klen;
        if (!zm_len(&p, end, &vlen) || p >= end) {
            goto bad;
        }
        size_t free_bytes = *p++;
        if ((size_t)(end - p) < vlen || (size_t)(end - p) - vlen < free_bytes) {
            goto bad;
        }
        rlp_append(&b, (const char *)field, klen);
        rlp_append(&b, (const char *)p, vlen);
        p += vlen + free_bytes;
        pairs++;
    }
    if (zm[0] < 254 && zm[0] != pairs) {
        goto bad;
    }
    *count = pairs * 2;
    return rlp_builder_finish(&b, out_len);
bad:
    rlp_builder_free(&b);
    return NULL;
}
