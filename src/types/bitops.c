/* bitops: bit counting and searching, BITOP and BITFIELD arithmetic on byte
 * arrays (see bitops.h). Everything runs a 64-bit word at a time where the
 * data allows; bit numbering is MSB-first, so words are read big-endian
 * when the position of a bit matters. */
#include "types/bitops.h"

#include <string.h>

/* ---- internals ---- */

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static inline void store64(uint8_t *p, uint64_t w)
{
    memcpy(p, &w, 8);
}

/* The 8 bytes at p as a big-endian number: bit 0 of the bitmap is the
 * word's top bit, so __builtin_clzll finds the first set bit. */
static inline uint64_t load64_be(const uint8_t *p)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return __builtin_bswap64(load64(p));
#else
    return load64(p);
#endif
}

/* The same loop twice: once compiled for CPUs with POPCNT, once for any
 * x86-64 (where the builtin becomes a bit-twiddling routine). The choice
 * is made once, at the first call. */
#define COUNT_WORDS_BODY                                                                                               \
    uint64_t a = 0, b = 0, c = 0, d = 0;                                                                               \
    size_t i = 0;                                                                                                      \
    for (; i + 32 <= len; i += 32) {                                                                                   \
        a += (uint64_t)__builtin_popcountll(load64(p + i));                                                            \
        b += (uint64_t)__builtin_popcountll(load64(p + i + 8));                                                        \
        c += (uint64_t)__builtin_popcountll(load64(p + i + 16));                                                       \
        d += (uint64_t)__builtin_popcountll(load64(p + i + 24));                                                       \
    }                                                                                                                  \
    for (; i + 8 <= len; i += 8) {                                                                                     \
        a += (uint64_t)__builtin_popcountll(load64(p + i));                                                            \
    }                                                                                                                  \
    for (; i < len; i++) {                                                                                             \
        b += (uint64_t)__builtin_popcount(p[i]);                                                                       \
    }                                                                                                                  \
    return a + b + c + d;

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("popcnt"))) static uint64_t count_hw(const uint8_t *p, size_t len)
{
    COUNT_WORDS_BODY
}
#endif

static uint64_t count_sw(const uint8_t *p, size_t len)
{
    COUNT_WORDS_BODY
}

typedef uint64_t (*count_fn)(const uint8_t *p, size_t len);

static count_fn pick_count(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("popcnt")) {
        return count_hw;
    }
#endif
    return count_sw;
}

/* ---- counting and searching ---- */

uint64_t bitops_count(const uint8_t *p, size_t len)
{
    static count_fn fn;
    if (!fn) {
        fn = pick_count();
    }
    return len ? fn(p, len) : 0;
}

uint64_t bitops_count_bits(const uint8_t *p, uint64_t first, uint64_t last)
{
    uint64_t fb = first >> 3, lb = last >> 3;
    uint8_t head = (uint8_t)(0xffu >> (first & 7));      /* bits first..7 of byte fb */
    uint8_t tail = (uint8_t)(0xffu << (7 - (last & 7))); /* bits 0..last of byte lb */
    if (fb == lb) {
        return (uint64_t)__builtin_popcount(p[fb] & head & tail);
    }
    return (uint64_t)__builtin_popcount(p[fb] & head) + bitops_count(p + fb + 1, (size_t)(lb - fb - 1)) +
           (uint64_t)__builtin_popcount(p[lb] & tail);
}

int64_t bitops_pos(const uint8_t *p, uint64_t first, uint64_t last, int bit)
{
    if (first > last) {
        return -1;
    }
    /* Looking for 0 is looking for 1 in the complement. */
    uint8_t flip8 = bit ? 0 : 0xff;
    uint64_t flip64 = bit ? 0 : ~(uint64_t)0;
    uint64_t fb = first >> 3, lb = last >> 3;
    uint8_t head = (uint8_t)(0xffu >> (first & 7));
    uint8_t tail = (uint8_t)(0xffu << (7 - (last & 7)));
    uint8_t v = (uint8_t)((p[fb] ^ flip8) & head);
    if (fb == lb) {
        v &= tail;
    }
    if (v) {
        return (int64_t)(fb * 8 + (uint64_t)(__builtin_clz(v) - 24));
    }
    if (fb == lb) {
        return -1;
    }
    uint64_t i = fb + 1;
    for (; i + 8 <= lb; i += 8) {
        uint64_t w = load64_be(p + i) ^ flip64;
        if (w) {
            return (int64_t)(i * 8 + (uint64_t)__builtin_clzll(w));
        }
    }
    for (; i < lb; i++) {
        v = (uint8_t)(p[i] ^ flip8);
        if (v) {
            return (int64_t)(i * 8 + (uint64_t)(__builtin_clz(v) - 24));
        }
    }
    v = (uint8_t)((p[lb] ^ flip8) & tail);
    if (v) {
        return (int64_t)(lb * 8 + (uint64_t)(__builtin_clz(v) - 24));
    }
    return -1;
}

/* ---- BITOP ---- */

/* The result is built in blocks small enough to stay in the L1 cache while
 * every source is folded into them. */
#define BLOCK 4096

/* The part of source s (slen bytes) that falls in [at, at + n). */
static size_t avail(size_t slen, size_t at, size_t n)
{
    if (slen <= at) {
        return 0;
    }
    return slen - at < n ? slen - at : n;
}

static void copy_in(uint8_t *d, const uint8_t *s, size_t slen, size_t at, size_t n)
{
    size_t k = avail(slen, at, n);
    if (k) {
        memcpy(d, s + at, k);
    }
    memset(d + k, 0, n - k);
}

enum { F_AND, F_OR, F_XOR, F_ANDNOT, F_NOTAND, F_ONE };

/* d[i] = d[i] <f> s[i] over n bytes, s zero past its end. F_ANDNOT is
 * d & ~s, F_NOTAND is ~d & s; F_ONE folds s into "seen once" (d) and "seen
 * twice or more" (twice). */
static void fold(int f, uint8_t *d, const uint8_t *s, size_t slen, size_t at, size_t n, uint64_t *twice)
{
    size_t k = avail(slen, at, n), i = 0;
    const uint8_t *q = s ? s + at : NULL;
    switch (f) {
    case F_AND:
        for (; i + 8 <= k; i += 8) {
            store64(d + i, load64(d + i) & load64(q + i));
        }
        for (; i < k; i++) {
            d[i] &= q[i];
        }
        memset(d + k, 0, n - k);
        break;
    case F_OR:
        for (; i + 8 <= k; i += 8) {
            store64(d + i, load64(d + i) | load64(q + i));
        }
        for (; i < k; i++) {
            d[i] |= q[i];
        }
        break;
    case F_XOR:
        for (; i + 8 <= k; i += 8) {
            store64(d + i, load64(d + i) ^ load64(q + i));
        }
        for (; i < k; i++) {
            d[i] ^= q[i];
        }
        break;
    case F_ANDNOT:
        for (; i + 8 <= k; i += 8) {
            store64(d + i, load64(d + i) & ~load64(q + i));
        }
        for (; i < k; i++) {
            d[i] &= (uint8_t)~q[i];
        }
        break;
    case F_NOTAND:
        for (; i + 8 <= k; i += 8) {
            store64(d + i, ~load64(d + i) & load64(q + i));
        }
        for (; i < k; i++) {
            d[i] = (uint8_t)(~d[i] & q[i]);
        }
        memset(d + k, 0, n - k);
        break;
    case F_ONE: {
        uint8_t *t = (uint8_t *)twice;
        for (; i + 8 <= k; i += 8) {
            uint64_t once = load64(d + i), w = load64(q + i);
            store64(t + i, load64(t + i) | (once & w));
            store64(d + i, once | w);
        }
        for (; i < k; i++) {
            t[i] |= (uint8_t)(d[i] & q[i]);
            d[i] |= q[i];
        }
        break;
    }
    }
}

void bitops_op(int op, uint8_t *dst, size_t dlen, const uint8_t *const *src, const size_t *lens, int n)
{
    uint64_t twice[BLOCK / 8];
    for (size_t at = 0; at < dlen; at += BLOCK) {
        size_t m = dlen - at < BLOCK ? dlen - at : BLOCK;
        uint8_t *d = dst + at;
        switch (op) {
        case BITOP_AND:
        case BITOP_OR:
        case BITOP_XOR: {
            int f = op == BITOP_AND ? F_AND : op == BITOP_OR ? F_OR : F_XOR;
            copy_in(d, src[0], lens[0], at, m);
            for (int j = 1; j < n; j++) {
                fold(f, d, src[j], lens[j], at, m, NULL);
            }
            break;
        }
        case BITOP_NOT: {
            copy_in(d, src[0], lens[0], at, m);
            size_t i = 0;
            for (; i + 8 <= m; i += 8) {
                store64(d + i, ~load64(d + i));
            }
            for (; i < m; i++) {
                d[i] = (uint8_t)~d[i];
            }
            break;
        }
        case BITOP_DIFF:
        case BITOP_DIFF1:
        case BITOP_ANDOR: {
            /* The union of the others first, then X against it. */
            copy_in(d, n > 1 ? src[1] : NULL, n > 1 ? lens[1] : 0, at, m);
            for (int j = 2; j < n; j++) {
                fold(F_OR, d, src[j], lens[j], at, m, NULL);
            }
            if (op == BITOP_DIFF) {
                /* X & ~union: computed as ~(union) & X. */
                fold(F_NOTAND, d, src[0], lens[0], at, m, NULL);
            } else if (op == BITOP_DIFF1) {
                fold(F_ANDNOT, d, src[0], lens[0], at, m, NULL);
            } else {
                fold(F_AND, d, src[0], lens[0], at, m, NULL);
            }
            break;
        }
        case BITOP_ONE: {
            copy_in(d, src[0], lens[0], at, m);
            memset(twice, 0, m);
            for (int j = 1; j < n; j++) {
                fold(F_ONE, d, src[j], lens[j], at, m, twice);
            }
            const uint8_t *t = (const uint8_t *)twice;
            for (size_t i = 0; i < m; i++) {
                d[i] &= (uint8_t)~t[i];
            }
            break;
        }
        }
    }
}

/* ---- BITFIELD ---- */

uint64_t bitops_field_get_u(const uint8_t *p, size_t len, uint64_t off, int bits)
{
    uint64_t byte = off >> 3;
    unsigned s = (unsigned)(off & 7);
    uint8_t b[9] = {0};
    if (byte < len) {
        uint64_t have = len - byte;
        memcpy(b, p + byte, have < 9 ? (size_t)have : 9);
    }
    uint64_t w = load64_be(b);
    if (s) {
        w = (w << s) | (uint64_t)(b[8] >> (8 - s));
    }
    return w >> (64 - bits);
}

int64_t bitops_field_get_i(const uint8_t *p, size_t len, uint64_t off, int bits)
{
    uint64_t u = bitops_field_get_u(p, len, off, bits);
    if (bits < 64 && (u >> (bits - 1)) & 1) {
        u |= ~(uint64_t)0 << bits; /* sign-extend */
    }
    return (int64_t)u;
}

void bitops_field_set(uint8_t *p, uint64_t off, int bits, uint64_t v)
{
    uint64_t byte = off >> 3;
    unsigned s = (unsigned)(off & 7);
    unsigned nb = (s + (unsigned)bits + 7) / 8; /* 1..9 bytes */
    unsigned __int128 acc = 0;
    for (unsigned i = 0; i < nb; i++) {
        acc = (acc << 8) | p[byte + i];
    }
    unsigned shift = nb * 8 - s - (unsigned)bits;
    unsigned __int128 ones = bits == 64 ? (unsigned __int128)~(uint64_t)0 : (((unsigned __int128)1 << bits) - 1);
    unsigned __int128 mask = ones << shift;
    acc = (acc & ~mask) | (((unsigned __int128)v << shift) & mask);
    for (unsigned i = nb; i-- > 0;) {
        p[byte + i] = (uint8_t)acc;
        acc >>= 8;
    }
}

int bitops_add_signed(int64_t value, int64_t incr, int bits, int ow, int64_t *out)
{
    int64_t max = bits == 64 ? INT64_MAX : (int64_t)((UINT64_C(1) << (bits - 1)) - 1);
    int64_t min = -max - 1;
    int64_t sum;
    int dir = 0;
    if (__builtin_add_overflow(value, incr, &sum)) {
        dir = incr > 0 ? 1 : -1;
    } else if (sum > max) {
        dir = 1;
    } else if (sum < min) {
        dir = -1;
        /* Redis 7.0's quirk (see bitops.h): only a SET value below the
         * range gets here, and max - value may not fit in 64 bits. */
        if (bits < 64 && value < min && (uint64_t)max - (uint64_t)value > (uint64_t)INT64_MAX) {
            dir = 1;
        }
    }
    if (!dir) {
        *out = sum;
        return 0;
    }
    if (ow == BITOPS_WRAP) {
        uint64_t c = (uint64_t)value + (uint64_t)incr;
        if (bits < 64) {
            uint64_t high = ~(uint64_t)0 << bits;
            c = (c >> (bits - 1)) & 1 ? c | high : c & ~high;
        }
        *out = (int64_t)c;
    } else if (ow == BITOPS_SAT) {
        *out = dir > 0 ? max : min;
    }
    return dir;
}

int bitops_add_unsigned(uint64_t value, int64_t incr, int bits, int ow, uint64_t *out)
{
    uint64_t max = (UINT64_C(1) << bits) - 1; /* bits <= 63 */
    int dir = 0;
    if (value > max) {
        dir = 1;
    } else if (incr >= 0 && (uint64_t)incr > max - value) {
        dir = 1;
    } else if (incr < 0 && (uint64_t)0 - (uint64_t)incr > value) {
        dir = -1;
    }
    uint64_t sum = value + (uint64_t)incr;
    if (!dir) {
        *out = sum;
        return 0;
    }
    if (ow == BITOPS_WRAP) {
        *out = sum & max;
    } else if (ow == BITOPS_SAT) {
        *out = dir > 0 ? max : 0;
    }
    return dir;
}
