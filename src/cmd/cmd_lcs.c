/* LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN]: the longest
 * common subsequence of two strings, by the classic dynamic-programming
 * table, walked back from its corner with Redis 7.0's tie rule (on equal
 * lengths step along key2), so the string and the match ranges are the
 * ones Redis answers.
 *
 * Memory is bounded as Redis bounds it: a table of (len1+1)*(len2+1) 32-bit
 * cells larger than proto-max-bulk-len is refused with Redis's error. Keel
 * stores 16-bit cells when the shorter string is under 65535 bytes (half
 * the memory Redis takes for the same answer), and LEN alone needs no table:
 * it runs bit-parallel, one bit per byte of key2. */
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "server/server.h"

/* One match range, found walking backwards. */
typedef struct lcs_range {
    uint32_t a0, a1, b0, b1;
} lcs_range;

typedef struct lcs_out {
    client *c;
    char *str; /* the LCS, filled from its end (NULL: not wanted) */
    int idx;   /* emit ranges */
    int withlen;
    long long minlen;
    long long nranges;
} lcs_out;

static void emit_range(lcs_out *o, const lcs_range *r)
{
    uint32_t len = r->a1 - r->a0 + 1;
    if (!o->idx || (o->minlen && (long long)len < o->minlen)) {
        return;
    }
    client *c = o->c;
    reply_array(R(c), 2 + o->withlen);
    reply_array(R(c), 2);
    reply_int(R(c), r->a0);
    reply_int(R(c), r->a1);
    reply_array(R(c), 2);
    reply_int(R(c), r->b0);
    reply_int(R(c), r->b1);
    if (o->withlen) {
        reply_int(R(c), len);
    }
    o->nranges++;
}

/* The table and the walk back, for one cell width. Row i (0..alen) holds
 * the LCS lengths of a[0..i) against each prefix b[0..j), j = 0..blen. */
#define LCS_IMPL(T, NAME)                                                                                              \
    static uint32_t NAME(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen, lcs_out *o)                 \
    {                                                                                                                  \
        size_t w = (size_t)blen + 1;                                                                                   \
        T *dp = alloc_mem(sizeof(T) * ((size_t)alen + 1) * w);                                                         \
        memset(dp, 0, sizeof(T) * w);                                                                                  \
        for (uint32_t i = 1; i <= alen; i++) {                                                                         \
            const T *up = dp + (size_t)(i - 1) * w;                                                                    \
            T *row = dp + (size_t)i * w;                                                                               \
            uint8_t ch = a[i - 1];                                                                                     \
            T left = 0;                                                                                                \
            row[0] = 0;                                                                                                \
            for (uint32_t j = 1; j <= blen; j++) {                                                                     \
                T v;                                                                                                   \
                if (b[j - 1] == ch) {                                                                                  \
                    v = (T)(up[j - 1] + 1);                                                                            \
                } else {                                                                                               \
                    v = up[j] > left ? up[j] : left;                                                                   \
                }                                                                                                      \
                row[j] = v;                                                                                            \
                left = v;                                                                                              \
            }                                                                                                          \
        }                                                                                                              \
        uint32_t total = dp[(size_t)alen * w + blen], k = total;                                                       \
        uint32_t i = alen, j = blen;                                                                                   \
        int open = 0;                                                                                                  \
        lcs_range r = {0, 0, 0, 0};                                                                                    \
        while ((o->str || o->idx) && i > 0 && j > 0) {                                                                 \
            if (a[i - 1] == b[j - 1]) {                                                                                \
                if (o->str) {                                                                                          \
                    o->str[--k] = (char)a[i - 1];                                                                      \
                }                                                                                                      \
                if (!open) {                                                                                           \
                    r = (lcs_range){i - 1, i - 1, j - 1, j - 1};                                                       \
                    open = 1;                                                                                          \
                } else {                                                                                               \
                    r.a0 = i - 1; /* contiguous: the walk came diagonally */                                           \
                    r.b0 = j - 1;                                                                                      \
                }                                                                                                      \
                i--;                                                                                                   \
                j--;                                                                                                   \
                if (r.a0 == 0 || r.b0 == 0) {                                                                          \
                    emit_range(o, &r);                                                                                 \
                    open = 0;                                                                                          \
                }                                                                                                      \
            } else {                                                                                                   \
                if (dp[(size_t)(i - 1) * w + j] > dp[(size_t)i * w + j - 1]) {                                         \
                    i--;                                                                                               \
                } else {                                                                                               \
                    j--;                                                                                               \
                }                                                                                                      \
                if (open) {                                                                                            \
                    emit_range(o, &r);                                                                                 \
                    open = 0;                                                                                          \
                }                                                                                                      \
            }                                                                                                          \
        }                                                                                                              \
        alloc_free(dp);                                                                                                \
        return total;                                                                                                  \
    }

LCS_IMPL(uint16_t, lcs_table16)
LCS_IMPL(uint32_t, lcs_table32)

/* LCS length alone, bit-parallel (Allison and Dix, in Hyyro's form): one
 * bit per column of b, 64 columns per word operation. V starts all ones;
 * for each byte of a, with U = V & match(byte), V becomes (V + U) | (V - U),
 * and a zero bit of V marks a column where the LCS length grew. U is a
 * subset of V, so V - U borrows nothing and is V ^ U; only the addition
 * carries from word to word. */
static uint32_t lcs_length(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen)
{
    size_t nw = ((size_t)blen + 63) / 64;
    if (nw == 0 || alen == 0) {
        return 0;
    }
    uint64_t *match = alloc_zero(sizeof(uint64_t) * nw * 256);
    uint64_t *v = alloc_mem(sizeof(uint64_t) * nw);
    for (uint32_t j = 0; j < blen; j++) {
        match[(size_t)b[j] * nw + j / 64] |= UINT64_C(1) << (j % 64);
    }
    memset(v, 0xff, sizeof(uint64_t) * nw);
    for (uint32_t i = 0; i < alen; i++) {
        const uint64_t *m = match + (size_t)a[i] * nw;
        uint64_t carry = 0;
        for (size_t k = 0; k < nw; k++) {
            uint64_t x = v[k], u = x & m[k];
            uint64_t t = x + u;
            uint64_t c1 = t < x;
            uint64_t sum = t + carry;
            carry = c1 | (sum < t);
            v[k] = sum | (x ^ u);
        }
    }
    uint64_t ones = 0;
    for (size_t k = 0; k < nw; k++) {
        uint64_t w = v[k];
        if (k == nw - 1 && blen % 64) {
            w &= (UINT64_C(1) << (blen % 64)) - 1;
        }
        ones += (uint64_t)__builtin_popcountll(w);
    }
    alloc_free(match);
    alloc_free(v);
    return blen - (uint32_t)ones;
}

void cmd_lcs(client *c)
{
    kobj *oa = lookup_read(c, c->argv[1]);
    kobj *ob = lookup_read(c, c->argv[2]);
    if ((oa && oa->type != OBJ_STRING) || (ob && ob->type != OBJ_STRING)) {
        reply_err(c, "ERR The specified keys must contain string values");
        return;
    }
    int getlen = 0, getidx = 0, withlen = 0;
    long long minlen = 0;
    for (int j = 3; j < c->argc; j++) {
        if (arg_is(c, j, "IDX")) {
            getidx = 1;
        } else if (arg_is(c, j, "LEN")) {
            getlen = 1;
        } else if (arg_is(c, j, "WITHMATCHLEN")) {
            withlen = 1;
        } else if (arg_is(c, j, "MINMATCHLEN") && j + 1 < c->argc) {
            if (!arg_ll(c, j + 1, &minlen)) {
                return;
            }
            if (minlen < 0) {
                minlen = 0;
            }
            j++;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    if (getidx && getlen) {
        reply_err(c, "ERR If you want both the length and indexes, please just use IDX.");
        return;
    }
    char bufa[32], bufb[32];
    sv a = oa ? kobj_str(oa, bufa) : (sv){"", 0};
    sv b = ob ? kobj_str(ob, bufb) : (sv){"", 0};
    if (a.len >= UINT32_MAX - 1 || b.len >= UINT32_MAX - 1) {
        reply_err(c, "ERR String too long for LCS");
        return;
    }
    /* Redis's bound: the size of its table of 32-bit cells. */
    unsigned long long cells = ((unsigned long long)a.len + 1) * ((unsigned long long)b.len + 1);
    if (cells > (unsigned long long)server.cfg.proto_max_bulk_len / 4 ||
        cells * 4 > (unsigned long long)server.cfg.proto_max_bulk_len) {
        reply_err(c, "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
        return;
    }
    const uint8_t *pa = (const uint8_t *)a.ptr, *pb = (const uint8_t *)b.ptr;
    uint32_t alen = (uint32_t)a.len, blen = (uint32_t)b.len;
    if (getlen) {
        reply_int(R(c), lcs_length(pa, alen, pb, blen));
        return;
    }
    lcs_out o = {c, NULL, getidx, withlen, minlen, 0};
    size_t defer = 0;
    if (getidx) {
        reply_map(R(c), 2);
        reply_bulk_cstr(R(c), "matches");
        defer = reply_defer(R(c));
    } else {
        /* The LCS is at most the shorter string. */
        o.str = alloc_mem((alen < blen ? alen : blen) + 1);
    }
    uint32_t total =
        (alen < blen ? alen : blen) < 65535 ? lcs_table16(pa, alen, pb, blen, &o) : lcs_table32(pa, alen, pb, blen, &o);
    if (getidx) {
        reply_defer_array(R(c), defer, o.nranges);
        reply_bulk_cstr(R(c), "len");
        reply_int(R(c), total);
    } else {
        reply_bulk(R(c), o.str, total);
        alloc_free(o.str);
    }
}
