/* crc64 unit test: the catalogue check value, agreement with a plain
 * bit-at-a-time reference (every length and alignment the sliced loop
 * handles differently), incremental use, and DUMP payloads captured from
 * redis-server 7.0.15, whose last 8 bytes are the CRC of the rest. */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/crc64.h"
#include "base/util.h"
#include "unit.h"

/* The definition itself, one bit at a time: reflected input, so the
 * register shifts right with the bit-reversed polynomial. */
static uint64_t crc64_bitwise(uint64_t crc, const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int bit = 0; bit < 8; bit++) {
            crc = (crc & 1) ? (crc >> 1) ^ 0x95ac9329ac4bc9b5ULL : crc >> 1;
        }
    }
    return crc;
}

static unsigned char *from_hex(const char *hex, size_t *len)
{
    size_t n = strlen(hex) / 2;
    unsigned char *p = alloc_mem(n);
    for (size_t i = 0; i < n; i++) {
        char byte[3] = {hex[2 * i], hex[2 * i + 1], 0};
        p[i] = (unsigned char)strtoul(byte, NULL, 16);
    }
    *len = n;
    return p;
}

static void test_check_value(void)
{
    CHECK(crc64(0, "123456789", 9) == 0xe9c6d914c4b8d9caULL);
    CHECK(crc64_bitwise(0, (const unsigned char *)"123456789", 9) == 0xe9c6d914c4b8d9caULL);
    CHECK(crc64(0, "", 0) == 0);
    CHECK(crc64(0x1234, NULL, 0) == 0x1234);
}

static void test_against_bitwise(void)
{
    enum { N = 4096 };
    unsigned char *buf = alloc_mem(N + 8);
    for (size_t i = 0; i < N + 8; i++) {
        buf[i] = (unsigned char)util_rand64();
    }
    int bad = 0;
    /* Every start alignment and every length up to 100, then longer ones. */
    for (size_t off = 0; off < 8; off++) {
        for (size_t len = 0; len <= 100; len++) {
            bad += crc64(0, buf + off, len) != crc64_bitwise(0, buf + off, len);
        }
    }
    for (int i = 0; i < 200; i++) {
        size_t off = (size_t)(util_rand64() % 8), len = (size_t)(util_rand64() % N);
        uint64_t seed = util_rand64();
        bad += crc64(seed, buf + off, len) != crc64_bitwise(seed, buf + off, len);
    }
    CHECK(bad == 0);
    alloc_free(buf);
}

static void test_incremental(void)
{
    unsigned char buf[300];
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (unsigned char)(i * 7 + 3);
    }
    uint64_t whole = crc64(0, buf, sizeof(buf));
    int bad = 0;
    for (size_t cut = 0; cut <= sizeof(buf); cut++) {
        bad += crc64(crc64(0, buf, cut), buf + cut, sizeof(buf) - cut) != whole;
    }
    /* Byte at a time, as a streaming reader might feed it. */
    uint64_t c = 0;
    for (size_t i = 0; i < sizeof(buf); i++) {
        c = crc64(c, buf + i, 1);
    }
    CHECK(c == whole);
    CHECK(bad == 0);
}

/* DUMP payloads: [value bytes][RDB version 10 LE][CRC-64 LE of all before].
 * From SET k hello, HSET h a 1 b hello c -5 d 100000, ZADD z 1.5 m 2 n,
 * RPUSH l x 1 2 3, two XADDs, and a 350-byte string saved LZF-compressed. */
static const char *const dumps[] = {
    "000568656c6c6f0a006372df766534200a",
    "102424000000080081610201018162028568656c6c6f06816302dffb02816402f2a0860104ff0a005b26111bc49a3e96",
    "1114140000000400816d0283312e3504816e020201ff0a00f1b03a6d585f6938",
    "12010210100000000400817802010102010301ff0a0091c85bf390f9c635",
    "130110000000000000000100000000000000013131000000120002010001020181610281620200010201000100010101826869030501020"
    "100010101dffd028178020501ff0201020101000002000a002b8e2b7785a78fee",
    "00c311415e017878e0ff00e019000079e026000179790a008dd0d840504b0a3d",
};

static void test_dump_payloads(void)
{
    for (size_t d = 0; d < sizeof(dumps) / sizeof(dumps[0]); d++) {
        size_t len;
        unsigned char *p = from_hex(dumps[d], &len);
        uint64_t stored = 0;
        for (int i = 7; i >= 0; i--) {
            stored = stored << 8 | p[len - 8 + (size_t)i];
        }
        CHECK(p[len - 10] == 10 && p[len - 9] == 0); /* RDB version 10 */
        CHECK(crc64(0, p, len - 8) == stored);
        /* A payload damaged in one bit no longer matches. */
        p[0] ^= 1;
        CHECK(crc64(0, p, len - 8) != stored);
        alloc_free(p);
    }
}

int main(void)
{
    util_rand_seed(64);
    test_check_value();
    test_against_bitwise();
    test_incremental();
    test_dump_payloads();
    return unit_report("crc64");
}
