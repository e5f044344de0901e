/* bitops unit test: every function checked against a naive bit-by-bit model
 * on random arrays (lengths around the word and block sizes, contents
 * biased to long runs so searches cross many words), and the BITFIELD
 * overflow rules against 128-bit arithmetic. */
#include <stdlib.h>
#include <string.h>

#include "types/bitops.h"
#include "unit.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static uint64_t rnd_below(uint64_t n)
{
    return n ? rnd() % n : 0;
}

/* Random bytes: uniform, or mostly zeros, or mostly ones. */
static void fill(uint8_t *p, size_t len)
{
    int kind = (int)rnd_below(3);
    for (size_t i = 0; i < len; i++) {
        uint8_t b = (uint8_t)rnd();
        if (kind == 1) {
            b = rnd_below(40) == 0 ? (uint8_t)(1u << rnd_below(8)) : 0;
        } else if (kind == 2) {
            b = rnd_below(40) == 0 ? (uint8_t) ~(1u << rnd_below(8)) : 0xff;
        }
        p[i] = b;
    }
}

static size_t rnd_len(void)
{
    switch (rnd_below(4)) {
    case 0: return rnd_below(17);
    case 1: return rnd_below(130);
    case 2: return 4090 + rnd_below(12);
    default: return rnd_below(9000);
    }
}

static int nbit(const uint8_t *p, size_t len, uint64_t i)
{
    return (i >> 3) < len ? (p[i >> 3] >> (7 - (i & 7))) & 1 : 0;
}

static void test_count_and_pos(void)
{
    static uint8_t buf[9100];
    for (int round = 0; round < 3000; round++) {
        size_t len = rnd_len();
        fill(buf, len);
        uint64_t want = 0;
        for (uint64_t i = 0; i < len * 8; i++) {
            want += (uint64_t)nbit(buf, len, i);
        }
        CHECK(bitops_count(buf, len) == want);
        if (len == 0) {
            continue;
        }
        for (int k = 0; k < 4; k++) {
            uint64_t a = rnd_below(len * 8), b = rnd_below(len * 8);
            if (rnd_below(4) == 0) {
                b = a + rnd_below(70);
                if (b >= len * 8) {
                    b = len * 8 - 1;
                }
            }
            if (a > b) {
                uint64_t t = a;
                a = b;
                b = t;
            }
            uint64_t c = 0;
            int64_t first[2] = {-1, -1};
            for (uint64_t i = a; i <= b; i++) {
                int v = nbit(buf, len, i);
                c += (uint64_t)v;
                if (first[v] < 0) {
                    first[v] = (int64_t)i;
                }
            }
            CHECK(bitops_count_bits(buf, a, b) == c);
            CHECK(bitops_pos(buf, a, b, 0) == first[0]);
            CHECK(bitops_pos(buf, a, b, 1) == first[1]);
        }
        CHECK(bitops_pos(buf, 5, 4, 1) == -1);
    }
}

static int model_op(int op, const int *bits, int n)
{
    int cnt = 0, rest = 0;
    for (int j = 0; j < n; j++) {
        cnt += bits[j];
    }
    for (int j = 1; j < n; j++) {
        rest |= bits[j];
    }
    switch (op) {
    case BITOP_AND: return cnt == n;
    case BITOP_OR: return cnt > 0;
    case BITOP_XOR: return cnt & 1;
    case BITOP_NOT: return !bits[0];
    case BITOP_DIFF: return bits[0] && !rest;
    case BITOP_DIFF1: return !bits[0] && rest;
    case BITOP_ANDOR: return bits[0] && rest;
    default: return cnt == 1;
    }
}

static void test_bitop(void)
{
    static uint8_t srcbuf[6][9100];
    static uint8_t dst[9100];
    for (int round = 0; round < 600; round++) {
        int op = (int)rnd_below(8);
        int n = op == BITOP_NOT ? 1 : (int)(1 + rnd_below(6));
        if ((op == BITOP_DIFF || op == BITOP_DIFF1 || op == BITOP_ANDOR) && n < 2) {
            n = 2;
        }
        const uint8_t *src[6];
        size_t lens[6], dlen = 0;
        for (int j = 0; j < n; j++) {
            lens[j] = rnd_len();
            fill(srcbuf[j], lens[j]);
            src[j] = rnd_below(8) == 0 && lens[j] == 0 ? NULL : srcbuf[j];
            if (lens[j] > dlen) {
                dlen = lens[j];
            }
        }
        memset(dst, 0xa5, sizeof(dst));
        bitops_op(op, dst, dlen, src, lens, n);
        int ok = 1;
        for (uint64_t i = 0; i < dlen * 8 && ok; i++) {
            int bits[6];
            for (int j = 0; j < n; j++) {
                bits[j] = src[j] ? nbit(src[j], lens[j], i) : 0;
            }
            ok = nbit(dst, dlen, i) == model_op(op, bits, n);
        }
        CHECK(ok);
        CHECK(dst[dlen] == 0xa5); /* nothing written past dlen */
    }
}

static void test_fields(void)
{
    uint8_t buf[64], ref[64];
    for (int round = 0; round < 200000; round++) {
        size_t len = rnd_below(40);
        fill(buf, len);
        int bits = (int)(1 + rnd_below(64));
        uint64_t off = rnd_below(len * 8 + 80);
        /* read: bytes past len are zero */
        uint64_t want = 0;
        for (int i = 0; i < bits; i++) {
            want = (want << 1) | (uint64_t)nbit(buf, len, off + (uint64_t)i);
        }
        CHECK(bitops_field_get_u(buf, len, off, bits) == want);
        int64_t swant = (int64_t)want;
        if (bits < 64 && (want >> (bits - 1))) {
            swant = (int64_t)(want | (~(uint64_t)0 << bits));
        }
        CHECK(bitops_field_get_i(buf, len, off, bits) == swant);
        /* write inside the array; the rest stays as it was */
        size_t full = 40;
        fill(buf, full);
        memcpy(ref, buf, full);
        off = rnd_below(full * 8 - (uint64_t)bits + 1);
        uint64_t v = rnd();
        bitops_field_set(buf, off, bits, v);
        int ok = 1;
        for (uint64_t i = 0; i < full * 8; i++) {
            int b = nbit(buf, full, i);
            if (i >= off && i < off + (uint64_t)bits) {
                ok &= b == (int)((v >> (bits - 1 - (int)(i - off))) & 1);
            } else {
                ok &= b == nbit(ref, full, i);
            }
        }
        CHECK(ok);
        uint64_t mask = bits == 64 ? ~(uint64_t)0 : (UINT64_C(1) << bits) - 1;
        CHECK(bitops_field_get_u(buf, full, off, bits) == (v & mask));
    }
}

/* ---- overflow rules against 128-bit arithmetic ---- */

typedef __int128 i128;

static int64_t rnd_i64(void)
{
    switch (rnd_below(4)) {
    case 0: return (int64_t)rnd_below(7) - 3;
    case 1: return (int64_t)rnd();
    case 2: return (int64_t)(rnd() >> rnd_below(64)) * (rnd_below(2) ? 1 : -1);
    default: return rnd_below(2) ? INT64_MAX - (int64_t)rnd_below(3) : INT64_MIN + (int64_t)rnd_below(3);
    }
}

static void test_signed_overflow(void)
{
    for (int round = 0; round < 400000; round++) {
        int bits = (int)(1 + rnd_below(64));
        i128 max = ((i128)1 << (bits - 1)) - 1, min = -max - 1;
        int is_set = rnd_below(3) == 0;
        int64_t value, incr;
        if (is_set) {
            value = rnd_i64();
            incr = 0;
        } else {
            /* INCRBY: the current value is a field's, so in range */
            uint64_t u = rnd();
            if (bits < 64) {
                u = (u >> (bits - 1)) & 1 ? u | (~(uint64_t)0 << bits) : u & ~(~(uint64_t)0 << bits);
            }
            value = (int64_t)u;
            if (rnd_below(4) == 0) {
                value = rnd_below(2) ? (int64_t)max : (int64_t)min;
            }
            incr = rnd_i64();
        }
        i128 sum = (i128)value + incr;
        int dir = sum > max ? 1 : sum < min ? -1 : 0;
        /* Redis 7.0's 64-bit difference (see bitops.h). */
        if (dir < 0 && is_set && bits < 64 && (i128)max - value > (i128)INT64_MAX) {
            dir = 1;
        }
        for (int ow = BITOPS_WRAP; ow <= BITOPS_FAIL; ow++) {
            int64_t out = 12345;
            int rc = bitops_add_signed(value, incr, bits, ow, &out);
            CHECK(rc == dir);
            if (!dir) {
                CHECK(out == (int64_t)sum);
            } else if (ow == BITOPS_WRAP) {
                i128 m = (i128)1 << bits;
                i128 w = ((sum % m) + m) % m;
                if (w > max) {
                    w -= m;
                }
                CHECK(out == (int64_t)w);
            } else if (ow == BITOPS_SAT) {
                CHECK(out == (int64_t)(dir > 0 ? max : min));
            } else {
                CHECK(out == 12345);
            }
        }
    }
    /* The cases probed on redis-server 7.0.15. */
    int64_t out;
    CHECK(bitops_add_signed(INT64_MIN, 0, 63, BITOPS_SAT, &out) == 1 && out == (INT64_C(1) << 62) - 1);
    CHECK(bitops_add_signed(-6917529027641081857LL, 0, 62, BITOPS_SAT, &out) == 1 && out == (INT64_C(1) << 61) - 1);
    CHECK(bitops_add_signed(-6917529027641081856LL, 0, 62, BITOPS_SAT, &out) == -1 && out == -(INT64_C(1) << 61));
    CHECK(bitops_add_signed(100, 100, 8, BITOPS_WRAP, &out) == 1 && out == -56);
    CHECK(bitops_add_signed(INT64_MAX, 1, 64, BITOPS_SAT, &out) == 1 && out == INT64_MAX);
    CHECK(bitops_add_signed(INT64_MAX, 1, 64, BITOPS_WRAP, &out) == 1 && out == INT64_MIN);
}

static void test_unsigned_overflow(void)
{
    for (int round = 0; round < 400000; round++) {
        int bits = (int)(1 + rnd_below(63));
        i128 max = ((i128)1 << bits) - 1;
        uint64_t value;
        int64_t incr;
        if (rnd_below(3) == 0) {
            value = (uint64_t)rnd_i64(); /* SET: the integer read as unsigned */
            incr = 0;
        } else {
            value = rnd() & (uint64_t)max;
            if (rnd_below(4) == 0) {
                value = rnd_below(2) ? (uint64_t)max : 0;
            }
            incr = rnd_i64();
        }
        i128 sum = (i128)value + incr;
        int dir = sum > max ? 1 : sum < 0 ? -1 : 0;
        for (int ow = BITOPS_WRAP; ow <= BITOPS_FAIL; ow++) {
            uint64_t out = 12345;
            int rc = bitops_add_unsigned(value, incr, bits, ow, &out);
            CHECK(rc == dir);
            if (!dir) {
                CHECK(out == (uint64_t)sum);
            } else if (ow == BITOPS_WRAP) {
                CHECK(out == (uint64_t)(sum & max));
            } else if (ow == BITOPS_SAT) {
                CHECK(out == (dir > 0 ? (uint64_t)max : 0));
            } else {
                CHECK(out == 12345);
            }
        }
    }
    uint64_t out;
    CHECK(bitops_add_unsigned((uint64_t)-1, 0, 8, BITOPS_SAT, &out) == 1 && out == 255);
    CHECK(bitops_add_unsigned((uint64_t)-3, 0, 8, BITOPS_WRAP, &out) == 1 && out == 253);
    CHECK(bitops_add_unsigned(0, INT64_MIN, 63, BITOPS_SAT, &out) == -1 && out == 0);
}

int main(void)
{
    test_count_and_pos();
    test_bitop();
    test_fields();
    test_signed_overflow();
    test_unsigned_overflow();
    return unit_report("bitops");
}
