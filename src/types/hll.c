/* hll: HyperLogLog values in Redis's byte format (see hll.h for the
 * layout). The sparse update follows Redis's rewriting rules step by step
 * (which opcode splits how, which neighbours merge afterwards), because the
 * bytes it leaves must be the bytes Redis leaves: a value moved between
 * the two servers must keep comparing equal after the same additions. */
#include "types/hll.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"

/* ---- sparse opcodes ---- */

#define OP_IS_ZERO(b) (((b)&0xc0) == 0)
#define OP_IS_XZERO(b) (((b)&0xc0) == 0x40)
#define OP_IS_VAL(b) ((b)&0x80)
#define OP_ZERO_LEN(b) (((b)&0x3f) + 1)
#define OP_XZERO_LEN(p) (((((p)[0]) & 0x3f) << 8 | (p)[1]) + 1)
#define OP_VAL_VALUE(b) ((((b) >> 2) & 0x1f) + 1)
#define OP_VAL_LEN(b) (((b)&0x3) + 1)
#define ZERO_MAX_LEN 64
#define VAL_MAX_LEN 4

static inline void op_val(uint8_t *p, int val, int len)
{
    *p = (uint8_t)(0x80 | (val - 1) << 2 | (len - 1));
}

static inline void op_zero(uint8_t *p, int len)
{
    *p = (uint8_t)(len - 1);
}

static inline void op_xzero(uint8_t *p, int len)
{
    p[0] = (uint8_t)(0x40 | (len - 1) >> 8);
    p[1] = (uint8_t)((len - 1) & 0xff);
}

/* A zero run of len registers: ZERO when it fits, else XZERO; returns
 * the bytes written. */
static int op_zero_run(uint8_t *p, int len)
{
    if (len > ZERO_MAX_LEN) {
        op_xzero(p, len);
        return 2;
    }
    op_zero(p, len);
    return 1;
}

/* ---- hashing ---- */

static inline uint64_t load_le64(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t k;
    memcpy(&k, p, 8);
    return k;
#else
    uint64_t k = 0;
    for (int i = 7; i >= 0; i--) {
        k = k << 8 | p[i];
    }
    return k;
#endif
}

uint64_t hll_murmur64a(const void *key, size_t len, uint32_t seed)
{
    const uint64_t m = 0xc6a4a7935bd1e995ULL;
    const int r = 47;
    const uint8_t *d = key;
    uint64_t h = (uint64_t)seed ^ ((uint64_t)len * m);
    for (size_t n = len / 8; n > 0; n--, d += 8) {
        uint64_t k = load_le64(d);
        k *= m;
        k ^= k >> r;
        k *= m;
        h ^= k;
        h *= m;
    }
    switch (len & 7) {
    case 7:
        h ^= (uint64_t)d[6] << 48;
        /* fall through */
    case 6:
        h ^= (uint64_t)d[5] << 40;
        /* fall through */
    case 5:
        h ^= (uint64_t)d[4] << 32;
        /* fall through */
    case 4:
        h ^= (uint64_t)d[3] << 24;
        /* fall through */
    case 3:
        h ^= (uint64_t)d[2] << 16;
        /* fall through */
    case 2:
        h ^= (uint64_t)d[1] << 8;
        /* fall through */
    case 1:
        h ^= (uint64_t)d[0];
        h *= m;
        break;
    default: break;
    }
    h ^= h >> r;
    h *= m;
    h ^= h >> r;
    return h;
}

int hll_pattern(const void *ele, size_t len, long *index)
{
    uint64_t h = hll_murmur64a(ele, len, (uint32_t)HLL_SEED);
    *index = (long)(h & (HLL_REGISTERS - 1));
    /* The sentinel bit caps the run at HLL_Q + 1 when the rest is zero. */
    h = h >> HLL_P | 1ULL << HLL_Q;
    return __builtin_ctzll(h) + 1;
}

/* ---- dense registers ---- */

/* Register i starts at bit 6i; it spills into the next byte only when it
 * starts past bit 2 of its byte (so the last one never reads past the end). */
int hll_dense_get(const uint8_t *regs, long i)
{
    size_t bit = (size_t)i * HLL_BITS;
    size_t b = bit >> 3;
    unsigned fb = bit & 7;
    unsigned v = (unsigned)regs[b] >> fb;
    if (fb > 2) {
        v |= (unsigned)regs[b + 1] << (8 - fb);
    }
    return (int)(v & HLL_REGISTER_MAX);
}

void hll_dense_set(uint8_t *regs, long i, int val)
{
    size_t bit = (size_t)i * HLL_BITS;
    size_t b = bit >> 3;
    unsigned fb = bit & 7;
    unsigned v = (unsigned)val & HLL_REGISTER_MAX;
    regs[b] = (uint8_t)((regs[b] & ~(HLL_REGISTER_MAX << fb)) | v << fb);
    if (fb > 2) {
        unsigned hb = 8 - fb;
        regs[b + 1] = (uint8_t)((regs[b + 1] & ~(HLL_REGISTER_MAX >> hb)) | v >> hb);
    }
}

/* Four registers are three bytes: whole-array walks read them so. */
#define DENSE_GROUP(r) ((uint32_t)(r)[0] | (uint32_t)(r)[1] << 8 | (uint32_t)(r)[2] << 16)

/* Histograms count into four lanes (one per register of a group) summed at
 * the end, so that equal neighbouring values do not wait on each other's
 * increment. */
static void dense_histo(const uint8_t *r, int *h)
{
    int lane[4][64] = {{0}};
    for (int g = 0; g < HLL_REGISTERS / 4; g++, r += 3) {
        uint32_t w = DENSE_GROUP(r);
        lane[0][w & 63]++;
        lane[1][(w >> 6) & 63]++;
        lane[2][(w >> 12) & 63]++;
        lane[3][w >> 18]++;
    }
    for (int j = 0; j < 64; j++) {
        h[j] += lane[0][j] + lane[1][j] + lane[2][j] + lane[3][j];
    }
}

/* Sixteen registers (twelve bytes) are unpacked, then maxed in one
 * branch-free pass the compiler can vectorise. */
static void dense_merge(uint8_t *regs, const uint8_t *r)
{
    uint8_t v[16];
    for (int g = 0; g < HLL_REGISTERS / 16; g++, r += 12, regs += 16) {
        for (int q = 0; q < 4; q++) {
            uint32_t w = DENSE_GROUP(r + 3 * q);
            v[4 * q] = (uint8_t)(w & 63);
            v[4 * q + 1] = (uint8_t)((w >> 6) & 63);
            v[4 * q + 2] = (uint8_t)((w >> 12) & 63);
            v[4 * q + 3] = (uint8_t)(w >> 18);
        }
        for (int k = 0; k < 16; k++) {
            regs[k] = v[k] > regs[k] ? v[k] : regs[k];
        }
    }
}

/* ---- values ---- */

int hll_encoding(const char *p)
{
    return (uint8_t)p[4];
}

int hll_header_ok(const char *p, size_t len)
{
    if (len < HLL_HDR_SIZE || memcmp(p, "HYLL", 4) != 0) {
        return 0;
    }
    int enc = hll_encoding(p);
    if (enc == HLL_DENSE) {
        return len == HLL_DENSE_SIZE;
    }
    return enc == HLL_SPARSE;
}

/* Opcodes covering exactly HLL_REGISTERS, the last one complete. */
static int sparse_ok(const uint8_t *p, const uint8_t *end)
{
    long idx = 0;
    while (p < end) {
        uint8_t b = *p;
        if (OP_IS_VAL(b)) {
            idx += OP_VAL_LEN(b);
            p++;
        } else if (OP_IS_ZERO(b)) {
            idx += OP_ZERO_LEN(b);
            p++;
        } else {
            if (end - p < 2) {
                return 0;
            }
            idx += OP_XZERO_LEN(p);
            p += 2;
        }
        if (idx > HLL_REGISTERS) {
            return 0;
        }
    }
    return idx == HLL_REGISTERS;
}

int hll_valid(const char *p, size_t len)
{
    if (!hll_header_ok(p, len)) {
        return 0;
    }
    if (hll_encoding(p) == HLL_DENSE) {
        return 1;
    }
    const uint8_t *u = (const uint8_t *)p;
    return sparse_ok(u + HLL_HDR_SIZE, u + len);
}

str hll_new(void)
{
    uint8_t v[HLL_HDR_SIZE + 2] = {'H', 'Y', 'L', 'L', HLL_SPARSE};
    op_xzero(v + HLL_HDR_SIZE, HLL_REGISTERS);
    return str_new((const char *)v, sizeof(v));
}

int hll_cache_get(const char *p, uint64_t *card)
{
    const uint8_t *c = (const uint8_t *)p + 8;
    if (c[7] & 0x80) {
        return 0;
    }
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = v << 8 | c[i];
    }
    *card = v;
    return 1;
}

void hll_cache_set(char *p, uint64_t card)
{
    uint8_t *c = (uint8_t *)p + 8;
    for (int i = 0; i < 8; i++, card >>= 8) {
        c[i] = (uint8_t)(card & 0xff);
    }
}

void hll_cache_invalidate(char *p)
{
    ((uint8_t *)p)[15] |= 0x80;
}

str hll_to_dense(str s)
{
    if (hll_encoding(s) == HLL_DENSE) {
        return s;
    }
    const uint8_t *p = (const uint8_t *)s + HLL_HDR_SIZE, *end = (const uint8_t *)s + str_len(s);
    if (!sparse_ok(p, end)) {
        return NULL;
    }
    str d = str_grow_zero(str_empty(HLL_DENSE_SIZE), HLL_DENSE_SIZE);
    memcpy(d, s, HLL_HDR_SIZE); /* magic, unused bytes and cache carry over */
    d[4] = HLL_DENSE;
    uint8_t *regs = (uint8_t *)d + HLL_HDR_SIZE;
    long idx = 0;
    while (p < end) {
        uint8_t b = *p;
        if (OP_IS_VAL(b)) {
            int v = OP_VAL_VALUE(b);
            for (int n = OP_VAL_LEN(b); n > 0; n--) {
                hll_dense_set(regs, idx++, v);
            }
            p++;
        } else if (OP_IS_ZERO(b)) {
            idx += OP_ZERO_LEN(b);
            p++;
        } else {
            idx += OP_XZERO_LEN(p);
            p += 2;
        }
    }
    str_free(s);
    return d;
}

/* Redis's in-place sparse update. The opcode covering index is split into
 * (at most) three: the registers before it, the new VAL of length 1, the
 * registers after it; then up to five opcodes from the one before are
 * scanned to merge neighbouring VALs of equal value (lengths up to 4).
 * Growth past sparse_max bytes, or a value above 32, turns it dense.
 *
 * Like Redis it reads only as far as the opcode it changes, so one update
 * costs half a walk on average: a corrupt value is noticed (-1) when the
 * opcodes end before index, the opcode found is cut, or a promotion finds
 * the whole not adding up. Whatever the bytes, it reads and writes only
 * inside the value and the 3 bytes reserved after it. */
static int sparse_set(str *sp, long index, int count, size_t sparse_max)
{
    if (count > HLL_SPARSE_VAL_MAX) {
        goto promote;
    }
    str s = str_reserve(*sp, 3); /* the worst split grows by 3 bytes */
    *sp = s;
    uint8_t *base = (uint8_t *)s + HLL_HDR_SIZE;
    uint8_t *end = (uint8_t *)s + str_len(s);
    uint8_t *p = base, *prev = NULL;
    long first = 0, span = 0;
    int oplen = 1;
    while (p < end) {
        oplen = 1;
        if (OP_IS_ZERO(*p)) {
            span = OP_ZERO_LEN(*p);
        } else if (OP_IS_VAL(*p)) {
            span = OP_VAL_LEN(*p);
        } else {
            span = OP_XZERO_LEN(p);
            oplen = 2;
        }
        if (index <= first + span - 1) {
            break;
        }
        prev = p;
        p += oplen;
        first += span;
    }
    if (p >= end || p + oplen > end) {
        return -1; /* the opcodes end before index, or the last one is cut */
    }
    uint8_t *next = p + oplen < end ? p + oplen : NULL;
    int is_val = OP_IS_VAL(*p) != 0, is_xzero = OP_IS_XZERO(*p);

    if (is_val) {
        int old = OP_VAL_VALUE(*p);
        if (old >= count) {
            return 0;
        }
        if (span == 1) {
            op_val(p, count, 1);
            goto merge;
        }
    } else if (!is_xzero && span == 1) {
        op_val(p, count, 1);
        goto merge;
    }

    /* The general case: split the opcode at p. */
    uint8_t seq[5], *n = seq;
    long last = first + span - 1;
    if (is_val) {
        int cur = OP_VAL_VALUE(*p);
        if (index != first) {
            op_val(n++, cur, (int)(index - first));
        }
        op_val(n++, count, 1);
        if (index != last) {
            op_val(n++, cur, (int)(last - index));
        }
    } else {
        if (index != first) {
            n += op_zero_run(n, (int)(index - first));
        }
        op_val(n++, count, 1);
        if (index != last) {
            n += op_zero_run(n, (int)(last - index));
        }
    }
    long seqlen = n - seq;
    long delta = seqlen - oplen;
    if (delta > 0 && str_len(s) + (size_t)delta > sparse_max) {
        goto promote;
    }
    if (delta && next) {
        memmove(next + delta, next, (size_t)(end - next));
    }
    str_set_len(s, (size_t)((long)str_len(s) + delta));
    memcpy(p, seq, (size_t)seqlen);
    end += delta;

merge:
    p = prev ? prev : base;
    for (int scan = 5; p < end && scan > 0; scan--) {
        if (OP_IS_XZERO(*p)) {
            p += 2;
            continue;
        }
        if (OP_IS_ZERO(*p)) {
            p++;
            continue;
        }
        if (p + 1 < end && OP_IS_VAL(p[1])) {
            int v = OP_VAL_VALUE(p[0]);
            int len = OP_VAL_LEN(p[0]) + OP_VAL_LEN(p[1]);
            if (v == OP_VAL_VALUE(p[1]) && len <= VAL_MAX_LEN) {
                op_val(p + 1, v, len);
                memmove(p, p + 1, (size_t)(end - p - 1));
                end--;
                str_set_len(s, str_len(s) - 1);
                continue; /* the merged opcode may merge again */
            }
        }
        p++;
    }
    return 1;

promote:;
    str d = hll_to_dense(*sp);
    if (!d) {
        return -1;
    }
    *sp = d;
    hll_dense_set((uint8_t *)d + HLL_HDR_SIZE, index, count);
    return 1;
}

int hll_set(str *s, long index, int count, size_t sparse_max)
{
    if (hll_encoding(*s) == HLL_DENSE) {
        uint8_t *regs = (uint8_t *)*s + HLL_HDR_SIZE;
        if (count > hll_dense_get(regs, index)) {
            hll_dense_set(regs, index, count);
            return 1;
        }
        return 0;
    }
    return sparse_set(s, index, count, sparse_max);
}

int hll_add(str *s, const void *ele, size_t len, size_t sparse_max)
{
    long index;
    int count = hll_pattern(ele, len, &index);
    return hll_set(s, index, count, sparse_max);
}

int hll_merge(uint8_t *regs, const char *p, size_t len)
{
    const uint8_t *u = (const uint8_t *)p + HLL_HDR_SIZE;
    if (hll_encoding(p) == HLL_DENSE) {
        dense_merge(regs, u);
        return 0;
    }
    const uint8_t *end = (const uint8_t *)p + len;
    long idx = 0;
    while (u < end) {
        uint8_t b = *u;
        long run;
        if (OP_IS_VAL(b)) {
            run = OP_VAL_LEN(b);
            if (idx + run > HLL_REGISTERS) {
                return -1;
            }
            uint8_t v = (uint8_t)OP_VAL_VALUE(b);
            for (long n = 0; n < run; n++, idx++) {
                regs[idx] = v > regs[idx] ? v : regs[idx];
            }
            u++;
            continue;
        }
        if (OP_IS_ZERO(b)) {
            run = OP_ZERO_LEN(b);
            u++;
        } else {
            if (end - u < 2) {
                return -1;
            }
            run = OP_XZERO_LEN(u);
            u += 2;
        }
        idx += run;
        if (idx > HLL_REGISTERS) {
            return -1;
        }
    }
    return idx == HLL_REGISTERS ? 0 : -1;
}

/* ---- the estimate (Ertl, "New cardinality estimation algorithms for
 * HyperLogLog sketches", the improved raw estimator): sigma corrects for
 * registers still at zero, tau for registers at the hash's maximum. Both
 * series are summed until the sum stops changing. ---- */

#define HLL_ALPHA_INF 0.721347520444481703680 /* 1 / (2 ln 2) */

static double est_sigma(double x)
{
    if (x == 1.) {
        return INFINITY;
    }
    double prev, y = 1, z = x;
    do {
        x *= x;
        prev = z;
        z += x * y;
        y += y;
    } while (prev != z);
    return z;
}

static double est_tau(double x)
{
    if (x == 0. || x == 1.) {
        return 0.;
    }
    double prev, y = 1.0, z = 1 - x;
    do {
        x = sqrt(x);
        prev = z;
        y *= 0.5;
        z -= pow(1 - x, 2) * y;
    } while (prev != z);
    return z / 3;
}

/* h: how many registers hold each value (values above HLL_Q + 1 can only
 * come from a hand-made dense value; they are counted but not used). */
static uint64_t estimate(const int *h)
{
    double m = HLL_REGISTERS;
    double z = m * est_tau((m - h[HLL_Q + 1]) / m);
    for (int j = HLL_Q; j >= 1; j--) {
        z += h[j];
        z *= 0.5;
    }
    z += m * est_sigma(h[0] / m);
    return (uint64_t)llround(HLL_ALPHA_INF * m * m / z);
}

int hll_count(const char *p, size_t len, uint64_t *card)
{
    int h[64] = {0};
    const uint8_t *u = (const uint8_t *)p + HLL_HDR_SIZE;
    if (hll_encoding(p) == HLL_DENSE) {
        dense_histo(u, h);
        *card = estimate(h);
        return 0;
    }
    /* The sparse walk checks as it counts: it stops as soon as the runs
     * pass 16384 registers (so no sum can grow without bound). */
    const uint8_t *end = (const uint8_t *)p + len;
    long idx = 0;
    while (u < end) {
        uint8_t b = *u;
        int run;
        if (OP_IS_VAL(b)) {
            run = OP_VAL_LEN(b);
            h[OP_VAL_VALUE(b)] += run;
            u++;
        } else if (OP_IS_ZERO(b)) {
            run = OP_ZERO_LEN(b);
            h[0] += run;
            u++;
        } else {
            if (end - u < 2) {
                return -1;
            }
            run = OP_XZERO_LEN(u);
            h[0] += run;
            u += 2;
        }
        idx += run;
        if (idx > HLL_REGISTERS) {
            return -1;
        }
    }
    if (idx != HLL_REGISTERS) {
        return -1;
    }
    *card = estimate(h);
    return 0;
}

uint64_t hll_count_regs(const uint8_t *regs)
{
    int h[64] = {0}, lane[4][64] = {{0}};
    for (int i = 0; i < HLL_REGISTERS; i += 4) {
        lane[0][regs[i] & 63]++;
        lane[1][regs[i + 1] & 63]++;
        lane[2][regs[i + 2] & 63]++;
        lane[3][regs[i + 3] & 63]++;
    }
    for (int j = 0; j < 64; j++) {
        h[j] = lane[0][j] + lane[1][j] + lane[2][j] + lane[3][j];
    }
    return estimate(h);
}

/* ---- debugging ---- */

str hll_decode(str out, const char *p, size_t len)
{
    const uint8_t *u = (const uint8_t *)p + HLL_HDR_SIZE, *end = (const uint8_t *)p + len;
    int any = 0;
    while (u < end) {
        uint8_t b = *u;
        out = any ? str_append(out, " ", 1) : out;
        any = 1;
        if (OP_IS_VAL(b)) {
            out = str_printf(out, "v:%d,%d", OP_VAL_VALUE(b), OP_VAL_LEN(b));
            u++;
        } else if (OP_IS_ZERO(b)) {
            out = str_printf(out, "z:%d", OP_ZERO_LEN(b));
            u++;
        } else {
            /* A cut XZERO reads its missing byte as zero, as Redis does
             * (its strings end with a NUL). */
            uint8_t two[2] = {b, u + 1 < end ? u[1] : 0};
            out = str_printf(out, "Z:%d", OP_XZERO_LEN(two));
            u += 2;
        }
    }
    return out;
}

/* A small deterministic generator for the self-test. */
static uint64_t st_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

int hll_selftest(char *err, size_t errlen)
{
    /* 1. Packed registers against a byte per register. */
    uint8_t *model = alloc_zero(HLL_REGISTERS);
    uint8_t *packed = alloc_zero(HLL_DENSE_SIZE - HLL_HDR_SIZE);
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    int rc = 0;
    for (int round = 0; round < 64 && rc == 0; round++) {
        for (long i = 0; i < HLL_REGISTERS; i++) {
            int v = (int)(st_next(&x) & HLL_REGISTER_MAX);
            model[i] = (uint8_t)v;
            hll_dense_set(packed, i, v);
        }
        for (long i = 0; i < HLL_REGISTERS; i++) {
            if (hll_dense_get(packed, i) != model[i]) {
                snprintf(err, errlen, "TESTFAILED Register error at %ld", i);
                rc = -1;
                break;
            }
        }
    }
    alloc_free(model);
    alloc_free(packed);
    if (rc) {
        return rc;
    }

    /* 2. The same elements in a sparse value (which turns dense on the
     * way) and a dense one: equal estimates, within the expected error. */
    str sp = hll_new(), de = hll_to_dense(hll_new());
    uint64_t a = 0, b = 0;
    long long checkpoint = 1;
    double relerr = 1.04 / sqrt((double)HLL_REGISTERS);
    for (long long j = 1; j <= 200000 && rc == 0; j++) {
        uint8_t ele[8];
        uint64_t v = (uint64_t)j ^ 0x5bd1e995c6a4a793ULL;
        for (int k = 0; k < 8; k++) {
            ele[k] = (uint8_t)(v >> (8 * k));
        }
        hll_add(&sp, ele, sizeof(ele), 3000);
        hll_add(&de, ele, sizeof(ele), 3000);
        if (j != checkpoint) {
            continue;
        }
        checkpoint *= 10;
        hll_count(sp, str_len(sp), &a);
        hll_count(de, str_len(de), &b);
        double maxerr = j <= 10 ? 1.0 : (j <= 100 ? relerr * 8 * (double)j : relerr * 6 * (double)j);
        if (a != b) {
            snprintf(err, errlen, "TESTFAILED sparse and dense estimates differ at %lld: %llu vs %llu", j,
                     (unsigned long long)a, (unsigned long long)b);
            rc = -1;
        } else if (fabs((double)j - (double)b) > maxerr) {
            snprintf(err, errlen, "TESTFAILED too big error. card:%llu abserr:%f", (unsigned long long)j,
                     fabs((double)j - (double)b));
            rc = -1;
        }
    }
    str_free(sp);
    str_free(de);
    return rc;
}
