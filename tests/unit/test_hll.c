/* hll unit tests: the estimate's error at many sizes, sparse and dense
 * forms agreeing register for register (and across promotion), random
 * register updates checked against a plain array, and malformed values
 * refused by the validator. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "types/hll.h"
#include "unit.h"

static uint64_t rng = 0x2545f4914f6cdd1dULL;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static size_t ele(char *buf, long long i)
{
    return (size_t)snprintf(buf, 32, "element:%lld", i);
}

/* The registers of a valid value as one byte each. */
static void regs_of(str s, uint8_t *out)
{
    memset(out, 0, HLL_REGISTERS);
    CHECK(hll_merge(out, s, str_len(s)) == 0);
}

/* The estimate of a valid value. */
static uint64_t count(str s)
{
    uint64_t card = ~0ULL;
    CHECK(hll_count(s, str_len(s), &card) == 0);
    return card;
}

static void test_format(void)
{
    str s = hll_new();
    CHECK(str_len(s) == HLL_HDR_SIZE + 2);
    CHECK(memcmp(s, "HYLL\x01\0\0\0", 8) == 0);
    CHECK((uint8_t)s[16] == 0x7f && (uint8_t)s[17] == 0xff);
    CHECK(hll_valid(s, str_len(s)));
    uint64_t card = 99;
    CHECK(hll_cache_get(s, &card) && card == 0);
    CHECK(count(s) == 0);
    hll_cache_set(s, 0x0102030405060708ULL);
    CHECK(hll_cache_get(s, &card) && card == 0x0102030405060708ULL);
    CHECK((uint8_t)s[8] == 0x08 && (uint8_t)s[15] == 0x01);
    hll_cache_invalidate(s);
    CHECK(!hll_cache_get(s, &card));
    CHECK((uint8_t)s[15] == 0x81);
    str d = str_empty(0);
    d = hll_decode(d, s, str_len(s));
    CHECK(strcmp(d, "Z:16384") == 0);
    str_free(d);
    s = hll_to_dense(s);
    CHECK(str_len(s) == HLL_DENSE_SIZE && hll_encoding(s) == HLL_DENSE);
    CHECK(!hll_cache_get(s, &card)); /* the header carries over */
    CHECK(hll_valid(s, str_len(s)));
    CHECK(count(s) == 0);
    str_free(s);
}

static void test_pattern(void)
{
    /* Both fields cover their whole ranges over many elements. */
    char buf[32];
    int maxc = 0, seen_hi = 0, seen_lo = 0;
    for (long long i = 0; i < 200000; i++) {
        long idx;
        int c = hll_pattern(buf, ele(buf, i), &idx);
        CHECK(idx >= 0 && idx < HLL_REGISTERS);
        CHECK(c >= 1 && c <= HLL_Q + 1);
        maxc = c > maxc ? c : maxc;
        seen_hi |= idx == HLL_REGISTERS - 1;
        seen_lo |= idx == 0;
    }
    CHECK(maxc > 10 && seen_hi && seen_lo);
    /* Every tail length of MurmurHash64A is read. */
    uint64_t prev = 0;
    for (size_t n = 0; n < 20; n++) {
        uint64_t h = hll_murmur64a("abcdefghijklmnopqrst", n, (uint32_t)HLL_SEED);
        CHECK(h != prev);
        prev = h;
    }
}

static void test_dense_registers(void)
{
    uint8_t *packed = alloc_zero(HLL_DENSE_SIZE - HLL_HDR_SIZE + 1);
    uint8_t model[HLL_REGISTERS] = {0};
    packed[HLL_DENSE_SIZE - HLL_HDR_SIZE] = 0xAB; /* a guard byte */
    for (int round = 0; round < 20; round++) {
        for (long i = 0; i < HLL_REGISTERS; i++) {
            if (next_rand() % 3 == 0) {
                model[i] = (uint8_t)(next_rand() & 63);
                hll_dense_set(packed, i, model[i]);
            }
        }
        int bad = 0;
        for (long i = 0; i < HLL_REGISTERS; i++) {
            bad += hll_dense_get(packed, i) != model[i];
        }
        CHECK(bad == 0);
    }
    CHECK(packed[HLL_DENSE_SIZE - HLL_HDR_SIZE] == 0xAB);
    alloc_free(packed);
}

/* Estimates of n distinct elements, in a sparse value that turns dense. */
static void test_accuracy(void)
{
    str s = hll_new();
    char buf[32];
    long long checks[] = {1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 5000, 10000, 50000, 100000, 500000, 1000000};
    size_t ci = 0;
    double worst = 0;
    for (long long i = 1; i <= 1000000; i++) {
        hll_add(&s, buf, ele(buf, i), 3000);
        if (i != checks[ci]) {
            continue;
        }
        ci++;
        uint64_t e = count(s);
        double rel = fabs((double)e - (double)i) / (double)i;
        if (i <= 10) {
            CHECK(e == (uint64_t)i); /* small counts are exact */
        } else if (i <= 1000) {
            CHECK(rel <= 0.01);
        } else {
            CHECK(rel <= 3 * 0.0081); /* three standard errors */
        }
        worst = i > 1000 && rel > worst ? rel : worst;
    }
    printf("  worst relative error above 1000 elements: %.3f%%\n", worst * 100);
    CHECK(hll_encoding(s) == HLL_DENSE);
    /* Adding the same elements again changes nothing. */
    int changed = 0;
    for (long long i = 1; i <= 1000; i++) {
        changed += hll_add(&s, buf, ele(buf, i), 3000);
    }
    CHECK(changed == 0);
    str_free(s);
}

/* The standard error is 1.04 / sqrt(16384) = 0.81%: over several
 * independent sets of 1M distinct elements the mean relative error must
 * stay within it (any one set may miss it, as one in three does). */
static void test_standard_error(void)
{
    char buf[48];
    double sum = 0;
    int sets = 8;
    for (int k = 0; k < sets; k++) {
        str s = hll_to_dense(hll_new());
        for (long long i = 1; i <= 1000000; i++) {
            size_t n = (size_t)snprintf(buf, sizeof(buf), "set%d:%lld", k, i);
            hll_add(&s, buf, n, 3000);
        }
        double rel = fabs((double)count(s) - 1e6) / 1e6;
        CHECK(rel <= 3 * 0.0081);
        sum += rel;
        str_free(s);
    }
    printf("  mean relative error over %d sets of 1M: %.3f%%\n", sets, sum / sets * 100);
    CHECK(sum / sets <= 0.0081);
}

/* A sparse value and a dense one fed the same elements hold the same
 * registers at every step, through the sparse value's promotion. */
static void test_promotion(void)
{
    str sp = hll_new(), de = hll_to_dense(hll_new());
    uint8_t *a = alloc_mem(HLL_REGISTERS), *b = alloc_mem(HLL_REGISTERS);
    char buf[32];
    int was_sparse_at = 0;
    for (long long i = 1; i <= 6000; i++) {
        size_t n = ele(buf, i * 7919);
        int r1 = hll_add(&sp, buf, n, 3000);
        int r2 = hll_add(&de, buf, n, 3000);
        CHECK(r1 == r2);
        CHECK(str_len(sp) <= 3000 || hll_encoding(sp) == HLL_DENSE);
        if (hll_encoding(sp) == HLL_SPARSE) {
            was_sparse_at = (int)i;
            CHECK(hll_valid(sp, str_len(sp)));
        }
        if (i % 97 == 0 || hll_encoding(sp) == HLL_SPARSE) {
            CHECK(count(sp) == count(de));
        }
    }
    CHECK(was_sparse_at > 500 && was_sparse_at < 6000);
    regs_of(sp, a);
    regs_of(de, b);
    CHECK(memcmp(a, b, HLL_REGISTERS) == 0);
    CHECK(hll_count_regs(a) == count(de));
    str_free(sp);
    str_free(de);
    alloc_free(a);
    alloc_free(b);
}

/* Random register raises on a sparse value (never promoted by size) and
 * on its dense twin, checked against a plain array; the sparse value stays
 * valid and decodes back to the same registers. */
static void test_random_roundtrip(void)
{
    uint8_t model[HLL_REGISTERS], got[HLL_REGISTERS];
    for (int round = 0; round < 30; round++) {
        memset(model, 0, sizeof(model));
        str sp = hll_new(), de = hll_to_dense(hll_new());
        int ops = 1 + (int)(next_rand() % 3000);
        int clustered = round % 3 == 0; /* neighbouring registers: VAL runs merge */
        long base = (long)(next_rand() % HLL_REGISTERS);
        for (int k = 0; k < ops; k++) {
            long idx =
                clustered ? (base + (long)(next_rand() % 64)) % HLL_REGISTERS : (long)(next_rand() % HLL_REGISTERS);
            int val = 1 + (int)(next_rand() % (round % 2 ? 32 : 4));
            int want = val > model[idx];
            model[idx] = want ? (uint8_t)val : model[idx];
            CHECK(hll_set(&sp, idx, val, 1 << 20) == want);
            CHECK(hll_set(&de, idx, val, 1 << 20) == want);
        }
        CHECK(hll_encoding(sp) == HLL_SPARSE);
        CHECK(hll_valid(sp, str_len(sp)));
        regs_of(sp, got);
        CHECK(memcmp(got, model, sizeof(model)) == 0);
        regs_of(de, got);
        CHECK(memcmp(got, model, sizeof(model)) == 0);
        CHECK(count(sp) == count(de));
        CHECK(hll_count_regs(model) == count(de));
        /* Values above 32 need the dense form. */
        long idx = (long)(next_rand() % HLL_REGISTERS);
        CHECK(hll_set(&sp, idx, 40, 1 << 20) == 1);
        CHECK(hll_encoding(sp) == HLL_DENSE);
        model[idx] = 40;
        regs_of(sp, got);
        CHECK(memcmp(got, model, sizeof(model)) == 0);
        str_free(sp);
        str_free(de);
    }
}

/* A sparse value from raw opcode bytes. */
static str sparse_from(const uint8_t *ops, size_t n)
{
    str s = hll_new();
    str_set_len(s, HLL_HDR_SIZE);
    return str_append(s, (const char *)ops, n);
}

/* Every reader agrees with the validator on s. */
static void check_readers(str s, int valid)
{
    uint64_t card;
    uint8_t *regs = alloc_zero(HLL_REGISTERS);
    CHECK((hll_count(s, str_len(s), &card) == 0) == valid);
    CHECK((hll_merge(regs, s, str_len(s)) == 0) == valid);
    alloc_free(regs);
    str copy = str_dup(s);
    str d = hll_to_dense(copy);
    CHECK((d != NULL) == valid);
    str_free(d ? d : copy);
}

static void test_malformed(void)
{
    str good = hll_new();
    CHECK(hll_header_ok(good, str_len(good)));
    CHECK(!hll_header_ok(good, 15));
    CHECK(!hll_header_ok("HYLL", 4));
    good[0] = 'h';
    CHECK(!hll_header_ok(good, str_len(good)));
    good[0] = 'H';
    good[4] = 2;
    CHECK(!hll_header_ok(good, str_len(good)));
    good[4] = HLL_DENSE; /* dense with a sparse body: wrong size */
    CHECK(!hll_header_ok(good, str_len(good)));
    str_free(good);

    str d = hll_to_dense(hll_new());
    CHECK(hll_valid(d, str_len(d)));
    CHECK(!hll_valid(d, str_len(d) - 1));
    d = str_append(d, "x", 1);
    CHECK(!hll_valid(d, str_len(d)));
    str_free(d);

    struct {
        uint8_t ops[8];
        size_t n;
        int ok;
    } cases[] = {
        {{0x7f, 0xff}, 2, 1},             /* XZERO 16384 */
        {{0}, 0, 0},                      /* no opcodes */
        {{0x7f, 0xfe}, 2, 0},             /* 16383 registers */
        {{0x7f, 0xfe, 0x00}, 3, 1},       /* 16383 + ZERO 1 */
        {{0x7f, 0xfe, 0x80}, 3, 1},       /* 16383 + VAL 1x1 */
        {{0x7f, 0xfe, 0x81}, 3, 0},       /* 16383 + VAL 1x2: too many */
        {{0x7f, 0xff, 0x00}, 3, 0},       /* one register left over */
        {{0x7f}, 1, 0},                   /* cut XZERO */
        {{0x00, 0x7f}, 2, 0},             /* cut XZERO after a ZERO */
        {{0x7f, 0xfc, 0xfc}, 3, 0},       /* 16381 + VAL 32x1 = 16382 */
        {{0x7f, 0xfc, 0xfe}, 3, 1},       /* 16381 + VAL 32x3 */
        {{0x3f, 0x7f, 0xbf}, 3, 1},       /* ZERO 64 + XZERO 16320 */
        {{0x40, 0x00, 0x7f, 0xfe}, 4, 1}, /* XZERO 1 + XZERO 16383 */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        str s = sparse_from(cases[i].ops, cases[i].n);
        CHECK(hll_header_ok(s, str_len(s)));
        if (hll_valid(s, str_len(s)) != cases[i].ok) {
            fprintf(stderr, "malformed case %zu\n", i);
            CHECK(0);
        }
        check_readers(s, cases[i].ok);
        str dec = hll_decode(str_empty(0), s, str_len(s)); /* never unsafe */
        str_free(dec);
        str_free(s);
    }

    /* Random bytes: the validator agrees with a plain re-count, and a value
     * it accepts can be updated, counted and converted. */
    int accepted = 0;
    for (int t = 0; t < 20000; t++) {
        uint8_t ops[16];
        size_t n = 1 + next_rand() % sizeof(ops);
        for (size_t i = 0; i < n; i++) {
            ops[i] = (uint8_t)next_rand();
        }
        /* Bias towards sums near 16384: start with a big XZERO. */
        if (t % 2) {
            ops[0] = (uint8_t)(0x40 | (0x3f & (0x3f - (next_rand() % 2))));
        }
        long idx = 0;
        size_t i = 0;
        int complete = 1;
        while (i < n) {
            if (ops[i] & 0x80) {
                idx += (ops[i] & 3) + 1;
                i++;
            } else if (ops[i] & 0x40) {
                if (i + 1 >= n) {
                    complete = 0;
                    break;
                }
                idx += ((ops[i] & 0x3f) << 8 | ops[i + 1]) + 1;
                i += 2;
            } else {
                idx += (ops[i] & 0x3f) + 1;
                i++;
            }
        }
        str s = sparse_from(ops, n);
        int want = complete && idx == HLL_REGISTERS;
        CHECK(hll_valid(s, str_len(s)) == want);
        check_readers(s, want);
        accepted += want;
        /* Updates stay inside the value whatever its bytes (ASan watches);
         * a valid value stays valid. */
        char buf[32];
        size_t max = t % 3 ? 3000 : 20;
        for (int k = 0; k < 50; k++) {
            if (hll_add(&s, buf, ele(buf, k), max) < 0) {
                CHECK(!want);
                break;
            }
        }
        if (want) {
            CHECK(hll_valid(s, str_len(s)));
        }
        str_free(s);
    }
    CHECK(accepted > 0);
}

static void test_selftest(void)
{
    char err[128] = "";
    CHECK(hll_selftest(err, sizeof(err)) == 0);
    if (err[0]) {
        fprintf(stderr, "%s\n", err);
    }
}

int main(void)
{
    test_format();
    test_pattern();
    test_dense_registers();
    test_accuracy();
    test_standard_error();
    test_promotion();
    test_random_roundtrip();
    test_malformed();
    test_selftest();
    return unit_report("hll");
}
