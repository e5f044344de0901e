/* LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN]: the longest
 * common subsequence of two strings. The answer is the one Redis 7.0 gives:
 * its dynamic-programming table L(i, j) (the LCS length of the first i
 * bytes of key1 and the first j of key2) walked back from its corner, a
 * match stepping diagonally and a mismatch stepping along key1 only when
 * L(i-1, j) > L(i, j-1), so the string and the match ranges are Redis's.
 *
 * Keel computes the table bit-parallel (Allison and Dix, in Hyyro's form):
 * row i is a bit vector over key2's bytes whose zero bits mark the columns
 * where L(i, .) grows, so L(i, j) is the count of zero bits below j, a row
 * costs len2/64 word operations, and the whole table takes one bit per
 * cell where Redis takes 32. LEN keeps only the last row.
 *
 * Memory is still bounded as Redis bounds it, so the same calls are
 * refused: a table of (len1+1)*(len2+1) 32-bit cells larger than
 * proto-max-bulk-len gets Redis's error. */
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

/* match[c * nw + k]: word k of the bit set of the columns of b holding
 * byte c. */
static uint64_t *lcs_masks(const uint8_t *b, uint32_t blen, size_t nw)
{
    uint64_t *match = alloc_zero(sizeof(uint64_t) * nw * 256);
    for (uint32_t j = 0; j < blen; j++) {
        match[(size_t)b[j] * nw + j / 64] |= UINT64_C(1) << (j % 64);
    }
    return match;
}

/* Row i+1 from row i for byte ch of a: with U = V & match(ch), V becomes
 * (V + U) | (V - U). U is a subset of V, so V - U borrows nothing and is
 * V ^ U; only the addition carries from word to word. dst may be src. */
static void lcs_row(uint64_t *dst, const uint64_t *src, const uint64_t *m, size_t nw)
{
    uint64_t carry = 0;
    for (size_t k = 0; k < nw; k++) {
        uint64_t x = src[k], u = x & m[k];
        uint64_t t = x + u;
        uint64_t c1 = t < x;
        uint64_t sum = t + carry;
        carry = c1 | (sum < t);
        dst[k] = sum | (x ^ u);
    }
}

/* L(i, j) from row i: the zero bits among columns 0..j-1. */
static uint32_t lcs_prefix(const uint64_t *row, uint32_t j)
{
    uint32_t ones = 0, k = 0;
    for (; k < j / 64; k++) {
        ones += (uint32_t)__builtin_popcountll(row[k]);
    }
    if (j % 64) {
        ones += (uint32_t)__builtin_popcountll(row[k] & ((UINT64_C(1) << (j % 64)) - 1));
    }
    return j - ones;
}

/* The LCS length; with o, also the walk back that writes the string and
 * the ranges (every row kept: (alen+1) * blen bits). */
static uint32_t lcs_run(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen, lcs_out *o)
{
    if (alen == 0 || blen == 0) {
        return 0;
    }
    size_t nw = ((size_t)blen + 63) / 64;
    uint64_t *match = lcs_masks(b, blen, nw);
    size_t nrows = o ? (size_t)alen + 1 : 1;
    uint64_t *rows = alloc_mem(sizeof(uint64_t) * nw * nrows);
    memset(rows, 0xff, sizeof(uint64_t) * nw); /* row 0: no growth anywhere */
    for (uint32_t i = 0; i < alen; i++) {
        const uint64_t *src = o ? rows + (size_t)i * nw : rows;
        uint64_t *dst = o ? rows + (size_t)(i + 1) * nw : rows;
        lcs_row(dst, src, match + (size_t)a[i] * nw, nw);
    }
    alloc_free(match);
    uint32_t total = lcs_prefix(o ? rows + (size_t)alen * nw : rows, blen);
    if (!o) {
        alloc_free(rows);
        return total;
    }
    uint32_t i = alen, j = blen, cur = total, k = total;
    int open = 0;
    lcs_range r = {0, 0, 0, 0};
    while (i > 0 && j > 0) {
        if (a[i - 1] == b[j - 1]) {
            if (o->str) {
                o->str[--k] = (char)a[i - 1];
            }
            if (!open) {
                r = (lcs_range){i - 1, i - 1, j - 1, j - 1};
                open = 1;
            } else {
                r.a0 = i - 1; /* contiguous: the walk came diagonally */
                r.b0 = j - 1;
            }
            i--;
            j--;
            cur--;
            if (r.a0 == 0 || r.b0 == 0) {
                emit_range(o, &r);
                open = 0;
            }
            continue;
        }
        const uint64_t *row = rows + (size_t)i * nw;
        uint32_t grew = !((row[(j - 1) / 64] >> ((j - 1) % 64)) & 1);
        uint32_t left = cur - grew;                               /* L(i, j-1) */
        uint32_t up = lcs_prefix(rows + (size_t)(i - 1) * nw, j); /* L(i-1, j) */
        if (up > left) {
            i--;
            cur = up;
        } else {
            j--;
            cur = left;
        }
        if (open) {
            emit_range(o, &r);
            open = 0;
        }
    }
    alloc_free(rows);
    return total;
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
        reply_int(R(c), lcs_run(pa, alen, pb, blen, NULL));
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
    uint32_t total = lcs_run(pa, alen, pb, blen, &o);
    if (getidx) {
        reply_defer_array(R(c), defer, o.nranges);
        reply_bulk_cstr(R(c), "len");
        reply_int(R(c), total);
    } else {
        reply_bulk(R(c), o.str, total);
        alloc_free(o.str);
    }
}
