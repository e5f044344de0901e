/* redis_listpack: see the header for the format. Written from the listpack
 * specification and checked against blobs from redis-server 7.0 (the unit
 * test holds some). Every multi-byte field is assembled byte by byte, so
 * the code is right on any host and never does an unaligned access. */
#include "ds/redis_listpack.h"

#include <limits.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"

#define RLP_HDR 6
#define RLP_END 0xFF

/* Encoding bytes with a fixed first byte. */
#define ENC_STR32 0xF0
#define ENC_INT16 0xF1
#define ENC_INT24 0xF2
#define ENC_INT32 0xF3
#define ENC_INT64 0xF4

/* The largest encoding+data of an integer (0xF4 + 8 bytes) plus its
 * one-byte backlen. */
#define INT_ENTRY_MAX 10
/* A string entry's fixed overhead at most: 0xF0 + u32 length, 5-byte
 * backlen. */
#define STR_OVERHEAD_MAX 10

/* --- internals: little-endian fields ------------------------------------ */

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

/* Two's complement of the low `bits` bits of u, without relying on
 * implementation-defined conversions of out-of-range values. */
static long long sign_extend(uint64_t u, int bits)
{
    if (bits < 64) {
        uint64_t sign = 1ULL << (bits - 1);
        return (u & sign) ? (long long)u - (long long)(sign << 1) : (long long)u;
    }
    return u <= (uint64_t)LLONG_MAX ? (long long)u : -(long long)(~u) - 1;
}

/* --- internals: backlen ------------------------------------------------- */

/* Bytes of backlen for an entry whose encoding+data is l bytes. These are
 * the thresholds Redis's encoder uses: one byte up to 127, but the later
 * bounds are exclusive of the largest value the size could hold (16383
 * takes three bytes, not two). Writers must match it to be byte-identical,
 * and the validator compares against it. */
static int backlen_size(uint64_t l)
{
    if (l <= 127) {
        return 1;
    }
    if (l < 16383) {
        return 2;
    }
    if (l < 2097151) {
        return 3;
    }
    if (l < 268435455) {
        return 4;
    }
    return 5;
}

/* Writes the backlen of l into out (backlen_size(l) bytes) and returns its
 * size. Read backwards from the last byte: low 7 bits first, a set high bit
 * meaning "one more group to the left"; the leftmost byte has it clear. */
static int backlen_put(unsigned char *out, uint64_t l)
{
    int n = backlen_size(l);
    for (int i = 0; i < n; i++) {
        unsigned char group = (unsigned char)((l >> (7 * i)) & 0x7F);
        out[n - 1 - i] = i == n - 1 ? group : (unsigned char)(group | 0x80);
    }
    return n;
}

/* --- internals: entry headers ------------------------------------------- */

/* Sizes of the entry starting at p, where only `avail` bytes may be read:
 * *hdr bytes of encoding (including an integer's value), *data bytes of
 * string after them. Returns 0 for the terminator, an unknown encoding, or
 * an encoding header cut short. */
static int entry_sizes(const unsigned char *p, size_t avail, size_t *hdr, uint64_t *data)
{
    if (avail == 0) {
        return 0;
    }
    unsigned char b = p[0];
    *data = 0;
    if (b < 0x80) {
        *hdr = 1;
    } else if ((b & 0xC0) == 0x80) {
        *hdr = 1;
        *data = b & 0x3F;
    } else if ((b & 0xE0) == 0xC0) {
        *hdr = 2;
    } else if ((b & 0xF0) == 0xE0) {
        *hdr = 2;
        if (avail < 2) {
            return 0;
        }
        *data = (uint64_t)(b & 0x0F) << 8 | p[1];
    } else {
        switch (b) {
        case ENC_STR32:
            *hdr = 5;
            if (avail < 5) {
                return 0;
            }
            *data = get_le(p + 1, 4);
            break;
        case ENC_INT16: *hdr = 3; break;
        case ENC_INT24: *hdr = 4; break;
        case ENC_INT32: *hdr = 5; break;
        case ENC_INT64: *hdr = 9; break;
        default: return 0; /* 0xF5..0xFE unused, 0xFF the terminator */
        }
    }
    return *hdr <= avail;
}

/* --- builder ------------------------------------------------------------ */

void rlp_builder_init(rlp_builder *b)
{
    b->buf = NULL;
    b->len = 0;
    b->cap = 0;
    b->count = 0;
}

/* Room for `more` bytes after the current ones. The header's 6 bytes are
 * reserved on first use and filled in by finish. */
static void reserve(rlp_builder *b, size_t more)
{
    if (!b->buf) {
        b->len = RLP_HDR;
    }
    if (more > SIZE_MAX / 2 - b->len) {
        PANIC("redis listpack too large");
    }
    size_t need = b->len + more;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        while (cap < need) {
            cap *= 2;
        }
        b->buf = alloc_resize(b->buf, cap);
        b->cap = cap;
    }
}

/* Closes the entry whose encoding+data spans [start, b->len). */
static void entry_close(rlp_builder *b, size_t start)
{
    b->len += (size_t)backlen_put(b->buf + b->len, b->len - start);
    /* Past 2^32 entries the header could not hold the total anyway. */
    if (b->count == UINT32_MAX) {
        PANIC("redis listpack has too many entries");
    }
    b->count++;
}

/* Encoding+data bytes of the integer v: the smallest encoding that holds it. */
static size_t int_body_size(long long v)
{
    if (v >= 0 && v <= 127) {
        return 1;
    }
    if (v >= -4096 && v <= 4095) {
        return 2;
    }
    if (v >= INT16_MIN && v <= INT16_MAX) {
        return 3;
    }
    if (v >= -(1LL << 23) && v < (1LL << 23)) {
        return 4;
    }
    return v >= INT32_MIN && v <= INT32_MAX ? 5 : 9;
}

/* Encoding+data bytes of a string stored as a string. */
static size_t str_body_size(size_t len)
{
    return (len < 64 ? 1 : len < 4096 ? 2 : 5) + len;
}

size_t rlp_int_size(long long v)
{
    size_t n = int_body_size(v);
    return n + (size_t)backlen_size(n);
}

size_t rlp_item_size(const char *s, size_t len)
{
    long long v;
    if (util_parse_ll(s, len, &v)) {
        return rlp_int_size(v);
    }
    size_t n = str_body_size(len);
    return n + (size_t)backlen_size(n);
}

void rlp_append_int(rlp_builder *b, long long v)
{
    reserve(b, INT_ENTRY_MAX);
    size_t start = b->len;
    unsigned char *p = b->buf + start;
    /* Conversion to unsigned is modular, giving the two's complement. */
    uint64_t u = (uint64_t)v;
    size_t n = int_body_size(v);
    switch (n) {
    case 1: p[0] = (unsigned char)v; break;
    case 2:
        p[0] = (unsigned char)(0xC0 | ((u >> 8) & 0x1F));
        p[1] = (unsigned char)u;
        break;
    case 3: p[0] = ENC_INT16; break;
    case 4: p[0] = ENC_INT24; break;
    case 5: p[0] = ENC_INT32; break;
    default: p[0] = ENC_INT64; break;
    }
    if (n > 2) {
        put_le(p + 1, u, (int)n - 1);
    }
    b->len += n;
    entry_close(b, start);
}

void rlp_append(rlp_builder *b, const char *s, size_t len)
{
    /* Redis stores any canonical integer text as an integer (the same rule
     * as util_parse_ll: at most 20 characters, no '+', leading zeros or
     * "-0"), so a loaded blob re-encodes to the same bytes. */
    long long v;
    if (util_parse_ll(s, len, &v)) {
        rlp_append_int(b, v);
        return;
    }
    if (len > UINT32_MAX) {
        PANIC("redis listpack string over 4GB");
    }
    reserve(b, STR_OVERHEAD_MAX + len);
    size_t start = b->len;
    unsigned char *p = b->buf + start;
    size_t hdr = str_body_size(len) - len;
    if (hdr == 1) {
        p[0] = (unsigned char)(0x80 | len);
    } else if (hdr == 2) {
        p[0] = (unsigned char)(0xE0 | (len >> 8));
        p[1] = (unsigned char)len;
    } else {
        p[0] = ENC_STR32;
        put_le(p + 1, len, 4);
    }
    b->len += hdr;
    if (len) {
        memcpy(b->buf + b->len, s, len);
        b->len += len;
    }
    entry_close(b, start);
}

unsigned char *rlp_builder_finish(rlp_builder *b, size_t *len)
{
    reserve(b, 1);
    b->buf[b->len++] = RLP_END;
    if (b->len > UINT32_MAX) {
        PANIC("redis listpack over 4GB");
    }
    put_le(b->buf, b->len, 4);
    put_le(b->buf + 4, b->count < RLP_COUNT_UNKNOWN ? b->count : RLP_COUNT_UNKNOWN, 2);
    /* The blob may be kept (a loaded value), so give back the slack. */
    unsigned char *blob = b->len == b->cap ? b->buf : alloc_resize(b->buf, b->len);
    *len = b->len;
    rlp_builder_init(b);
    return blob;
}

void rlp_builder_free(rlp_builder *b)
{
    alloc_free(b->buf);
    rlp_builder_init(b);
}

/* --- validation --------------------------------------------------------- */

int rlp_validate(const unsigned char *p, size_t len, size_t *count)
{
    if (len < RLP_EMPTY_SIZE || get_le(p, 4) != len || p[len - 1] != RLP_END) {
        return 0;
    }
    /* Entries live in [RLP_HDR, end); every bound below is checked as
     * "size <= bytes left" so no sum can wrap. */
    size_t pos = RLP_HDR, end = len - 1, n = 0;
    while (pos < end) {
        size_t left = end - pos, hdr;
        uint64_t data;
        /* An early 0xFF fails here too: nothing may follow the terminator. */
        if (!entry_sizes(p + pos, left, &hdr, &data) || data > left - hdr) {
            return 0;
        }
        size_t body = hdr + (size_t)data;
        unsigned char want[5];
        size_t blen = (size_t)backlen_put(want, body);
        if (blen > left - body || memcmp(p + pos + body, want, blen) != 0) {
            return 0;
        }
        pos += body + blen;
        n++;
    }
    size_t hdr_count = (size_t)get_le(p + 4, 2);
    if (hdr_count != RLP_COUNT_UNKNOWN && hdr_count != n) {
        return 0;
    }
    if (count) {
        *count = n;
    }
    return 1;
}

/* --- iteration ---------------------------------------------------------- */

void rlp_iter_init(rlp_iter *it, const unsigned char *blob, size_t len)
{
    it->p = blob + RLP_HDR;
    it->end = blob + len - 1;
}

int rlp_iter_next(rlp_iter *it, const unsigned char **str, size_t *slen, long long *ival, int *is_int)
{
    /* The blob was validated; the bounds checks only keep a misuse (an
     * unvalidated blob) from reading past the terminator. */
    size_t hdr;
    uint64_t data;
    if (it->p >= it->end || !entry_sizes(it->p, (size_t)(it->end - it->p), &hdr, &data) ||
        data > (size_t)(it->end - it->p) - hdr) {
        return 0;
    }
    const unsigned char *e = it->p;
    unsigned char b = e[0];
    *is_int = 1;
    if (b < 0x80) {
        *ival = b;
    } else if ((b & 0xE0) == 0xC0) {
        *ival = sign_extend((uint64_t)(b & 0x1F) << 8 | e[1], 13);
    } else if (b >= ENC_INT16 && b <= ENC_INT64) {
        int bytes = (int)hdr - 1;
        *ival = sign_extend(get_le(e + 1, bytes), bytes * 8);
    } else {
        *is_int = 0;
        *str = e + hdr;
        *slen = (size_t)data;
    }
    size_t body = hdr + (size_t)data;
    it->p = e + body + backlen_size(body);
    return 1;
}
