/* redis_listpack unit test: real blobs captured from redis-server 7.0
 * (DUMP of small hashes, sorted sets, lists and a stream, with the listpack
 * cut out of the payload by hand) must validate, iterate to the expected
 * values and be rebuilt byte for byte; random round trips are checked
 * against a model and an independent backward walk; hostile blobs must be
 * rejected, each held in an exact-size allocation so the sanitizers see any
 * read past its end. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "ds/redis_listpack.h"
#include "unit.h"

/* --- helpers ------------------------------------------------------------ */

/* Hex text to an exact-size allocation. */
static unsigned char *from_hex(const char *hex, size_t *len)
{
    size_t n = strlen(hex) / 2;
    unsigned char *p = alloc_mem(n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        char byte[3] = {hex[2 * i], hex[2 * i + 1], 0};
        p[i] = (unsigned char)strtoul(byte, NULL, 16);
    }
    *len = n;
    return p;
}

/* A copy in an allocation of exactly len bytes (ASan's redzone follows). */
static unsigned char *exact_copy(const unsigned char *p, size_t len)
{
    unsigned char *q = alloc_mem(len ? len : 1);
    if (len) {
        memcpy(q, p, len);
    }
    return q;
}

static int validate_exact(const unsigned char *p, size_t len, size_t *count)
{
    unsigned char *q = exact_copy(p, len);
    int ok = rlp_validate(q, len, count);
    alloc_free(q);
    return ok;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

/* Walks the blob from its end using only the backlens, recording where
 * each entry starts; returns the number found. Independent of the module's
 * reader: it checks that what the builder writes reads backwards. */
static size_t walk_back(const unsigned char *blob, size_t len, size_t *starts, size_t max)
{
    size_t pos = len - 1, n = 0;
    while (pos > 6 && n < max) {
        uint64_t v = 0;
        int shift = 0;
        size_t q = pos;
        for (;;) {
            unsigned char b = blob[--q];
            v |= (uint64_t)(b & 0x7F) << shift;
            shift += 7;
            if (!(b & 0x80)) {
                break;
            }
        }
        pos = q - (size_t)v;
        starts[n++] = pos;
    }
    return n;
}

/* Expected entries as text: "i:<n>" an integer, "s:<bytes>" a string. */
static void check_entries(const unsigned char *blob, size_t len, const char *const *exp, size_t n)
{
    size_t count = 0;
    CHECK(validate_exact(blob, len, &count));
    CHECK(count == n);
    rlp_iter it;
    rlp_iter_init(&it, blob, len);
    const unsigned char *s;
    size_t slen;
    long long v;
    int is_int;
    for (size_t i = 0; i < n; i++) {
        CHECK(rlp_iter_next(&it, &s, &slen, &v, &is_int) == 1);
        if (exp[i][0] == 'i') {
            long long want = strtoll(exp[i] + 2, NULL, 10);
            CHECK(is_int == 1 && v == want);
        } else {
            CHECK(is_int == 0 && slen == strlen(exp[i] + 2) && memcmp(s, exp[i] + 2, slen) == 0);
        }
    }
    CHECK(rlp_iter_next(&it, &s, &slen, &v, &is_int) == 0);
    CHECK(rlp_iter_next(&it, &s, &slen, &v, &is_int) == 0);
}

/* Rebuilds from the entries' text (integers given as decimal text, so the
 * string-to-integer rule is exercised) and compares bytes. */
static void check_rebuild(const unsigned char *blob, size_t len, const char *const *exp, size_t n)
{
    rlp_builder b;
    rlp_builder_init(&b);
    for (size_t i = 0; i < n; i++) {
        rlp_append(&b, exp[i] + 2, strlen(exp[i] + 2));
    }
    size_t blen;
    unsigned char *mine = rlp_builder_finish(&b, &blen);
    CHECK(blen == len && memcmp(mine, blob, len) == 0);
    alloc_free(mine);
}

static void check_real(const char *hex, const char *const *exp, size_t n)
{
    size_t len;
    unsigned char *blob = from_hex(hex, &len);
    check_entries(blob, len, exp, n);
    check_rebuild(blob, len, exp, n);
    alloc_free(blob);
}

/* --- real blobs from redis-server 7.0.15 -------------------------------- */

/* HSET h a 1 b hello c -5 d 100000: DUMP is 10 24 <36 bytes> 0a00 <crc>. */
static const char *const hash_exp[] = {"s:a", "i:1", "s:b", "s:hello", "s:c", "i:-5", "s:d", "i:100000"};
static const char hash_hex[] = "24000000080081610201018162028568656c6c6f06816302dffb02816402f2a0860104ff";

/* ZADD z 1.5 m 2 n: 11 14 <20 bytes>; scores are member-then-score text. */
static const char *const zset_exp[] = {"s:m", "s:1.5", "s:n", "i:2"};
static const char zset_hex[] = "140000000400816d0283312e3504816e020201ff";

/* RPUSH l x 1 2 3: 12 01 02 10 <16 bytes> (quicklist: one node, packed). */
static const char *const list_exp[] = {"s:x", "i:1", "i:2", "i:3"};
static const char list_hex[] = "100000000400817802010102010301ff";

/* XADD s 1-1 a 1 b hi; XADD s 1-2 a -3 b x: 13 01 10 <node key: master
 * ID 1-1> 31 <49 bytes>. A stream node: entry and deleted counts, the
 * master fields and a 0, then per entry its flags (2: same fields as the
 * master), ms and seq deltas from the master ID, the values, and the
 * entry's own count of listpack entries for walking back. */
static const char *const stream_exp[] = {"i:2", "i:0",  "i:2", "s:a", "s:b", "i:0", "i:2",  "i:0", "i:0",
                                         "i:1", "s:hi", "i:5", "i:2", "i:0", "i:1", "i:-3", "s:x", "i:5"};
static const char stream_hex[] = "31000000120002010001020181610281620200010201000100010101826869030501020100010101"
                                 "dffd028178020501ff";

/* RPUSH of every integer encoding boundary (one quicklist node). */
/* clang-format off */
static const char *const ints_exp[] = {
    "i:127", "i:-127", "i:-128", "i:128", "i:-128", "i:-129",
    "i:4095", "i:-4095", "i:-4096", "i:4096", "i:-4096", "i:-4097",
    "i:32767", "i:-32767", "i:-32768", "i:32768", "i:-32768", "i:-32769",
    "i:8388607", "i:-8388607", "i:-8388608", "i:8388608", "i:-8388608", "i:-8388609",
    "i:2147483647", "i:-2147483647", "i:-2147483648", "i:2147483648", "i:-2147483648", "i:-2147483649",
    "i:0", "i:-1", "i:9223372036854775807", "i:-9223372036854775807", "i:-9223372036854775808",
};
/* clang-format on */
static const char ints_hex[] =
    "b500000023007f01df8102df8002c08002df8002df7f02cfff02d00102d00002f1001003d00002f1ffef03f1ff7f03f1018003f1008003"
    "f200800004f1008003f2ff7fff04f2ffff7f04f201008004f200008004f30000800005f200008004f3ffff7fff05f3ffffff7f05f30100"
    "008005f30000008005f4000000800000000009f30000008005f4ffffff7fffffffff090001dfff02f4ffffffffffffff7f09f401000000"
    "0000008009f4000000000000008009ff";

/* RPUSH of texts that are not canonical integers (and two that are). */
static const char *const texts_exp[] = {
    "s:012", "s:+1", "s:-0", "s: 1", "s:1 ", "s:", "s:-", "s:00", "s:9223372036854775808", "s:-9223372036854775809",
    "s:1.5", "i:12", "i:-7"};
static const char texts_hex[] = "5a0000000d008330313204822b3103822d300382203103823120038001812d0282303003933932323333"
                                "373230333638353437373538303814942d393232333337323033363835343737353830391583312e3504"
                                "0c01dff902ff";

static void test_real_blobs(void)
{
#define REAL(hex, exp) check_real(hex, exp, sizeof(exp) / sizeof(exp[0]))
    REAL(hash_hex, hash_exp);
    REAL(zset_hex, zset_exp);
    REAL(list_hex, list_exp);
    REAL(stream_hex, stream_exp);
    REAL(ints_hex, ints_exp);
    REAL(texts_hex, texts_exp);
#undef REAL
}

/* One-string lists from redis-server 7.0 (RPUSH one <len x 'x'>): the
 * encoding bytes and the backlen bytes around the data. 16378 shows that a
 * backlen of 16383 takes three bytes, as Redis writes it. */
static const struct {
    size_t len;
    const char *enc, *backlen;
} str_cases[] = {
    {0, "80", "01"},
    {1, "81", "02"},
    {63, "bf", "40"},
    {64, "e040", "42"},
    {125, "e07d", "7f"},
    {126, "e07e", "0180"},
    {4095, "efff", "2081"},
    {4096, "f000100000", "2085"},
    {16377, "f0f93f0000", "7ffe"},
    {16378, "f0fa3f0000", "00ffff"},
    {70000, "f070110100", "04a2f5"},
};

static void test_string_sizes(void)
{
    for (size_t c = 0; c < sizeof(str_cases) / sizeof(str_cases[0]); c++) {
        size_t L = str_cases[c].len, elen, blen;
        unsigned char *enc = from_hex(str_cases[c].enc, &elen);
        unsigned char *bl = from_hex(str_cases[c].backlen, &blen);
        char *s = alloc_mem(L + 1);
        memset(s, 'x', L);
        rlp_builder b;
        rlp_builder_init(&b);
        rlp_append(&b, s, L);
        size_t len;
        unsigned char *blob = rlp_builder_finish(&b, &len);
        CHECK(len == 6 + elen + L + blen + 1);
        CHECK(rlp_item_size(s, L) == elen + L + blen);
        CHECK(memcmp(blob + 6, enc, elen) == 0);
        CHECK(memcmp(blob + 6 + elen + L, bl, blen) == 0);
        size_t count;
        CHECK(validate_exact(blob, len, &count) && count == 1);
        rlp_iter it;
        rlp_iter_init(&it, blob, len);
        const unsigned char *str;
        size_t slen;
        long long v;
        int is_int;
        CHECK(rlp_iter_next(&it, &str, &slen, &v, &is_int) == 1 && !is_int && slen == L && memcmp(str, s, L) == 0);
        CHECK(rlp_iter_next(&it, &str, &slen, &v, &is_int) == 0);
        alloc_free(blob);
        alloc_free(s);
        alloc_free(enc);
        alloc_free(bl);
    }
}

/* --- integers and the string-to-integer rule ---------------------------- */

/* Each boundary integer, alone: the encoding byte (high bits for the two
 * one-byte-prefix forms) and entry size without backlen. */
static const struct {
    long long v;
    unsigned char first, mask;
    size_t size;
} int_cases[] = {
    {0, 0x00, 0x80, 1},
    {127, 0x7F, 0xFF, 1},
    {128, 0xC0, 0xE0, 2},
    {-1, 0xC0, 0xE0, 2},
    {4095, 0xCF, 0xFF, 2},
    {4096, 0xF1, 0xFF, 3},
    {-4096, 0xD0, 0xFF, 2},
    {-4097, 0xF1, 0xFF, 3},
    {INT16_MAX, 0xF1, 0xFF, 3},
    {INT16_MAX + 1, 0xF2, 0xFF, 4},
    {INT16_MIN, 0xF1, 0xFF, 3},
    {INT16_MIN - 1, 0xF2, 0xFF, 4},
    {(1 << 23) - 1, 0xF2, 0xFF, 4},
    {1 << 23, 0xF3, 0xFF, 5},
    {-(1 << 23), 0xF2, 0xFF, 4},
    {-(1 << 23) - 1, 0xF3, 0xFF, 5},
    {INT32_MAX, 0xF3, 0xFF, 5},
    {(long long)INT32_MAX + 1, 0xF4, 0xFF, 9},
    {INT32_MIN, 0xF3, 0xFF, 5},
    {(long long)INT32_MIN - 1, 0xF4, 0xFF, 9},
    {LLONG_MAX, 0xF4, 0xFF, 9},
    {LLONG_MIN, 0xF4, 0xFF, 9},
};

static void test_int_boundaries(void)
{
    for (size_t c = 0; c < sizeof(int_cases) / sizeof(int_cases[0]); c++) {
        /* Both doors: as an integer and as its decimal text. */
        for (int as_text = 0; as_text < 2; as_text++) {
            rlp_builder b;
            rlp_builder_init(&b);
            if (as_text) {
                char buf[32];
                int n = util_ll2str(buf, int_cases[c].v);
                rlp_append(&b, buf, (size_t)n);
                CHECK(rlp_item_size(buf, (size_t)n) == int_cases[c].size + 1);
            } else {
                rlp_append_int(&b, int_cases[c].v);
                CHECK(rlp_int_size(int_cases[c].v) == int_cases[c].size + 1);
            }
            size_t len;
            unsigned char *blob = rlp_builder_finish(&b, &len);
            CHECK((blob[6] & int_cases[c].mask) == int_cases[c].first);
            CHECK(len == 6 + int_cases[c].size + 1 + 1);
            CHECK(blob[6 + int_cases[c].size] == int_cases[c].size);
            rlp_iter it;
            rlp_iter_init(&it, blob, len);
            const unsigned char *s;
            size_t slen;
            long long v = 0;
            int is_int = 0;
            CHECK(validate_exact(blob, len, NULL));
            CHECK(rlp_iter_next(&it, &s, &slen, &v, &is_int) == 1 && is_int && v == int_cases[c].v);
            alloc_free(blob);
        }
    }
}

static void test_canonical(void)
{
    static const char *const as_int[] = {"0", "12", "-7", "127", "-9223372036854775808", "9223372036854775807"};
    static const char *const as_str[] = {"012",
                                         "+1",
                                         "-0",
                                         " 1",
                                         "1 ",
                                         "",
                                         "-",
                                         "00",
                                         "-00",
                                         "1.0",
                                         "1e3",
                                         "0x1",
                                         "9223372036854775808",
                                         "-9223372036854775809",
                                         "123456789012345678901",
                                         "1\0"};
    for (size_t i = 0; i < sizeof(as_int) / sizeof(as_int[0]); i++) {
        const char *exp[] = {NULL};
        char buf[40];
        snprintf(buf, sizeof(buf), "i:%s", as_int[i]);
        exp[0] = buf;
        rlp_builder b;
        rlp_builder_init(&b);
        rlp_append(&b, as_int[i], strlen(as_int[i]));
        size_t len;
        unsigned char *blob = rlp_builder_finish(&b, &len);
        check_entries(blob, len, exp, 1);
        alloc_free(blob);
    }
    for (size_t i = 0; i < sizeof(as_str) / sizeof(as_str[0]); i++) {
        /* "1\0" is two bytes: a digit and a NUL. */
        size_t n = strcmp(as_str[i], "1") == 0 ? 2 : strlen(as_str[i]);
        rlp_builder b;
        rlp_builder_init(&b);
        rlp_append(&b, as_str[i], n);
        size_t len;
        unsigned char *blob = rlp_builder_finish(&b, &len);
        rlp_iter it;
        rlp_iter_init(&it, blob, len);
        const unsigned char *s = NULL;
        size_t slen = 0;
        long long v;
        int is_int = 1;
        CHECK(validate_exact(blob, len, NULL));
        CHECK(rlp_iter_next(&it, &s, &slen, &v, &is_int) == 1 && !is_int && slen == n && memcmp(s, as_str[i], n) == 0);
        alloc_free(blob);
    }
}

/* --- random round trips ------------------------------------------------- */

typedef struct model_entry {
    int is_int;
    long long v;
    char *s;
    size_t len;
} model_entry;

static long long random_int(void)
{
    /* Every width equally likely, so each encoding gets its share. */
    int bits = (int)(util_rand64() % 64);
    long long v = (long long)(util_rand64() >> (63 - bits) >> 1);
    return util_rand64() & 1 ? -v - (long long)(util_rand64() & 1) : v;
}

static size_t random_len(void)
{
    static const size_t sizes[] = {0, 1, 62, 63, 64, 65, 125, 126, 127, 4094, 4095, 4096, 4097, 16377, 16378, 70000};
    switch (util_rand64() % 4) {
    case 0: return sizes[util_rand64() % (sizeof(sizes) / sizeof(sizes[0]))];
    case 1: return (size_t)(util_rand64() % 5000);
    default: return (size_t)(util_rand64() % 70);
    }
}

static void roundtrip_once(int n)
{
    model_entry *m = alloc_mem(sizeof(*m) * (size_t)(n ? n : 1));
    rlp_builder b;
    rlp_builder_init(&b);
    for (int i = 0; i < n; i++) {
        int kind = (int)(util_rand64() % 4);
        m[i].s = NULL;
        if (kind == 0) {
            m[i].is_int = 1;
            m[i].v = random_int();
            rlp_append_int(&b, m[i].v);
        } else if (kind == 1) {
            /* An integer given as text reads back as the integer. */
            char buf[32];
            m[i].is_int = 1;
            m[i].v = random_int();
            int len = util_ll2str(buf, m[i].v);
            rlp_append(&b, buf, (size_t)len);
        } else {
            size_t len = random_len();
            char *s = alloc_mem(len + 1);
            for (size_t j = 0; j < len; j++) {
                s[j] = (char)(kind == 2 ? '0' + util_rand64() % 10 : util_rand64() & 0xFF);
            }
            rlp_append(&b, s, len);
            /* Digit strings are often canonical integers: the model expects
             * what Redis would store. */
            long long v;
            if (util_parse_ll(s, len, &v)) {
                m[i].is_int = 1;
                m[i].v = v;
                alloc_free(s);
            } else {
                m[i].is_int = 0;
                m[i].s = s;
                m[i].len = len;
            }
        }
    }
    size_t len;
    unsigned char *blob = rlp_builder_finish(&b, &len);
    CHECK(b.buf == NULL && b.len == 0 && b.count == 0);
    size_t count = 0;
    CHECK(validate_exact(blob, len, &count));
    CHECK(count == (size_t)n);
    CHECK((size_t)(blob[4] | blob[5] << 8) == (n < 65535 ? (size_t)n : 65535));

    size_t *starts = alloc_mem(sizeof(size_t) * (size_t)(n + 1));
    size_t nb = walk_back(blob, len, starts, (size_t)n + 1);
    CHECK(nb == (size_t)n);

    rlp_iter it;
    rlp_iter_init(&it, blob, len);
    int bad = 0;
    for (int i = 0; i < n; i++) {
        const unsigned char *s;
        size_t slen;
        long long v;
        int is_int;
        if (nb == (size_t)n && it.p != blob + starts[n - 1 - i]) {
            bad++;
        }
        if (rlp_iter_next(&it, &s, &slen, &v, &is_int) != 1 || is_int != m[i].is_int) {
            bad++;
            break;
        }
        if (is_int ? v != m[i].v : slen != m[i].len || (slen && memcmp(s, m[i].s, slen) != 0)) {
            bad++;
        }
    }
    CHECK(bad == 0);
    const unsigned char *s;
    size_t slen;
    long long v;
    int is_int;
    CHECK(rlp_iter_next(&it, &s, &slen, &v, &is_int) == 0);
    for (int i = 0; i < n; i++) {
        alloc_free(m[i].s);
    }
    alloc_free(m);
    alloc_free(starts);
    alloc_free(blob);
}

static void test_roundtrips(void)
{
    for (int round = 0; round < 300; round++) {
        roundtrip_once((int)(util_rand64() % 40));
    }
    roundtrip_once(2000);
}

/* 65535 entries or more: the header says "count them", and validation
 * counts. */
static void test_many(void)
{
    static const size_t counts[] = {65534, 65535, 65536, 100000};
    for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
        rlp_builder b;
        rlp_builder_init(&b);
        for (size_t i = 0; i < counts[c]; i++) {
            rlp_append_int(&b, (long long)i * 37 - 5000);
        }
        size_t len, count = 0;
        unsigned char *blob = rlp_builder_finish(&b, &len);
        size_t hdr = (size_t)(blob[4] | blob[5] << 8);
        CHECK(hdr == (counts[c] < 65535 ? counts[c] : 65535));
        CHECK(validate_exact(blob, len, &count) && count == counts[c]);
        rlp_iter it;
        rlp_iter_init(&it, blob, len);
        const unsigned char *s;
        size_t slen, i = 0;
        long long v;
        int is_int, bad = 0;
        while (rlp_iter_next(&it, &s, &slen, &v, &is_int)) {
            bad += !is_int || v != (long long)i * 37 - 5000;
            i++;
        }
        CHECK(bad == 0 && i == counts[c]);
        alloc_free(blob);
    }
}

static void test_builder_edges(void)
{
    rlp_builder b;
    rlp_builder_init(&b);
    size_t len, count = 99;
    unsigned char *blob = rlp_builder_finish(&b, &len);
    static const unsigned char empty[] = {7, 0, 0, 0, 0, 0, 0xFF};
    CHECK(len == sizeof(empty) && memcmp(blob, empty, len) == 0);
    CHECK(validate_exact(blob, len, &count) && count == 0);
    rlp_iter it;
    rlp_iter_init(&it, blob, len);
    const unsigned char *s;
    size_t slen;
    long long v;
    int is_int;
    CHECK(rlp_iter_next(&it, &s, &slen, &v, &is_int) == 0);
    alloc_free(blob);

    /* A finished builder is reusable; a free after finish is harmless. */
    rlp_append(&b, "abc", 3);
    blob = rlp_builder_finish(&b, &len);
    rlp_builder_free(&b);
    CHECK(validate_exact(blob, len, &count) && count == 1);
    alloc_free(blob);

    /* Abandoned builders, empty and grown. */
    rlp_builder_free(&b);
    for (int i = 0; i < 1000; i++) {
        rlp_append(&b, "hello world", 11);
    }
    rlp_builder_free(&b);
    CHECK(b.buf == NULL && b.count == 0);
}

/* --- hostile input ------------------------------------------------------ */

static unsigned char *sample_blob(size_t *len)
{
    rlp_builder b;
    rlp_builder_init(&b);
    rlp_append(&b, "field", 5);
    rlp_append_int(&b, 5);
    rlp_append_int(&b, -3000);
    rlp_append_int(&b, 40000);
    rlp_append_int(&b, 9000000);
    rlp_append_int(&b, 3000000000LL);
    rlp_append_int(&b, 1000);
    rlp_append_int(&b, -40000);
    rlp_append_int(&b, -2000000000);
    char big[5000];
    memset(big, 'q', sizeof(big));
    rlp_append(&b, big, 100);
    rlp_append(&b, big, 5000);
    rlp_append(&b, "", 0);
    return rlp_builder_finish(&b, len);
}

static void test_truncated(void)
{
    size_t len;
    unsigned char *blob = sample_blob(&len);
    CHECK(validate_exact(blob, len, NULL));
    int accepted = 0, patched_accepted = 0;
    for (size_t l = 0; l < len; l++) {
        accepted += validate_exact(blob, l, NULL);
        if (l >= 7) {
            /* Make the header and terminator agree with the cut, so the
             * entry walk itself must catch it. The header count still says
             * 12, so even a cut at an entry boundary is refused. */
            unsigned char *q = exact_copy(blob, l);
            put32(q, (uint32_t)l);
            q[l - 1] = 0xFF;
            patched_accepted += rlp_validate(q, l, NULL);
            /* With "count unknown", a cut that happens to end on an entry
             * boundary is a valid shorter listpack; anything else is not.
             * Either way nothing may be read out of bounds. */
            q[4] = q[5] = 0xFF;
            size_t count = 0;
            if (rlp_validate(q, l, &count)) {
                rlp_iter it;
                rlp_iter_init(&it, q, l);
                const unsigned char *s;
                size_t slen, n = 0;
                long long v;
                int is_int;
                while (rlp_iter_next(&it, &s, &slen, &v, &is_int)) {
                    n++;
                }
                CHECK(n == count && count < 12);
            }
            alloc_free(q);
        }
    }
    CHECK(accepted == 0);
    CHECK(patched_accepted == 0);
    alloc_free(blob);
}

/* Any single corrupted byte in the header, an encoding or a backlen. */
static void test_corrupt_bytes(void)
{
    size_t len;
    unsigned char *blob = sample_blob(&len);
    unsigned char *q = exact_copy(blob, len);
    long flips = 0;
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(q, blob, len);
            q[i] ^= (unsigned char)(1 << bit);
            size_t count = 0;
            if (rlp_validate(q, len, &count)) {
                /* Flipping bits of string data or of an integer's value
                 * leaves a valid blob; it must still iterate cleanly. */
                rlp_iter it;
                rlp_iter_init(&it, q, len);
                const unsigned char *s;
                size_t slen, n = 0;
                long long v;
                int is_int;
                while (rlp_iter_next(&it, &s, &slen, &v, &is_int)) {
                    n++;
                }
                CHECK(n == count);
            } else {
                flips++;
            }
        }
    }
    /* Header and terminator bits alone give well over 50 rejections. */
    CHECK(flips > 50);
    alloc_free(q);
    alloc_free(blob);
}

/* Hex blobs for the hostile cases. A leading TOTAL is replaced by the
 * blob's real size, so each case fails for the one reason it is about. */
#define TOTAL "TTTTTTTT"

static unsigned char *hostile_blob(const char *hex, size_t *len)
{
    unsigned char *p = from_hex(hex, len);
    if (strncmp(hex, TOTAL, 8) == 0) {
        put32(p, (uint32_t)*len);
    }
    return p;
}

static void check_rejects(const char *hex)
{
    size_t len;
    unsigned char *p = hostile_blob(hex, &len);
    size_t count = 12345;
    CHECK(rlp_validate(p, len, &count) == 0);
    CHECK(count == 12345);
    alloc_free(p);
}

static void check_accepts(const char *hex, size_t want)
{
    size_t len, count = 0;
    unsigned char *p = hostile_blob(hex, &len);
    CHECK(rlp_validate(p, len, &count) == 1 && count == want);
    alloc_free(p);
}

static void test_hostile(void)
{
    /* Baselines the cases below are variations of. */
    check_accepts("07000000"
                  "0000"
                  "ff",
                  0);
    check_accepts("0b000000"
                  "0100"
                  "826869"
                  "03"
                  "ff",
                  1);
    check_accepts(TOTAL "ffff"
                        "826869"
                        "03"
                        "ff",
                  1); /* count unknown */
    check_accepts(TOTAL "ffff"
                        "ff",
                  0);
    /* Non-minimal encodings are legal listpack (Redis never writes them). */
    check_accepts(TOTAL "0100"
                        "f0020000006869"
                        "07"
                        "ff",
                  1);
    check_accepts(TOTAL "0100"
                        "f10100"
                        "03"
                        "ff",
                  1);
    check_accepts(TOTAL "0100"
                        "e0026869"
                        "04"
                        "ff",
                  1);

    /* Too short to hold a header and terminator. */
    check_rejects("");
    check_rejects("ff");
    check_rejects("06000000"
                  "00ff");
    check_rejects("06000000"
                  "0000");
    /* Header total disagrees with the length. */
    check_rejects("08000000"
                  "0000"
                  "ff");
    check_rejects("06000000"
                  "0000"
                  "ff");
    check_rejects("00000000"
                  "0000"
                  "ff");
    check_rejects("ffffffff"
                  "0000"
                  "ff");
    check_rejects("0c000000"
                  "0100"
                  "826869"
                  "03"
                  "ff");
    check_rejects("0a000000"
                  "0100"
                  "826869"
                  "03"
                  "ff");
    check_rejects("0b000001"
                  "0100"
                  "826869"
                  "03"
                  "ff");
    /* Missing terminator, bytes after it, an early one. */
    check_rejects(TOTAL "0000"
                        "00");
    check_rejects(TOTAL "0100"
                        "826869"
                        "03"
                        "00");
    check_rejects(TOTAL "0000"
                        "ff"
                        "00");
    check_rejects(TOTAL "0000"
                        "ff"
                        "ff");
    check_rejects(TOTAL "0100"
                        "ff"
                        "826869"
                        "03"
                        "ff");
    check_rejects(TOTAL "0100"
                        "826869"
                        "03"
                        "ff"
                        "ff");
    check_rejects(TOTAL "ffff"
                        "826869"
                        "03"
                        "ff"
                        "ff");
    /* Count mismatch. */
    check_rejects(TOTAL "0200"
                        "826869"
                        "03"
                        "ff");
    check_rejects(TOTAL "0000"
                        "826869"
                        "03"
                        "ff");
    check_rejects(TOTAL "0100"
                        "ff");
    check_rejects(TOTAL "feff"
                        "ff");
    /* String lengths pointing past the end (into or over the terminator). */
    check_rejects(TOTAL "0100"
                        "836869"
                        "03"
                        "ff");
    check_rejects(TOTAL "0100"
                        "bf6869"
                        "03"
                        "ff");
    check_rejects(TOTAL "0100"
                        "e0ff6869"
                        "03"
                        "ff");
    check_rejects(TOTAL "0100"
                        "efff6869"
                        "03"
                        "ff");
    check_rejects(TOTAL "0100"
                        "f0ffffffff"
                        "69"
                        "07"
                        "ff");
    check_rejects(TOTAL "0100"
                        "f0fbffffff"
                        "69"
                        "07"
                        "ff");
    check_rejects(TOTAL "0100"
                        "f003000000"
                        "6869"
                        "08"
                        "ff");
    check_rejects(TOTAL "0100"
                        "f000000080"
                        "6161616161"
                        "ff");
    /* Encoding headers cut by the terminator. */
    check_rejects(TOTAL "0100"
                        "e0"
                        "ff");
    check_rejects(TOTAL "0100"
                        "f00100"
                        "ff");
    check_rejects(TOTAL "0100"
                        "f401020304"
                        "ff");
    check_rejects(TOTAL "0100"
                        "f101"
                        "ff");
    check_rejects(TOTAL "0100"
                        "f2"
                        "ff");
    check_rejects(TOTAL "0100"
                        "c0"
                        "ff");
    /* Backlen missing, wrong value, or in a form Redis never writes. */
    check_rejects(TOTAL "0100"
                        "826869"
                        "ff");
    check_rejects(TOTAL "0100"
                        "826869"
                        "02"
                        "ff");
    check_rejects(TOTAL "0100"
                        "826869"
                        "04"
                        "ff");
    check_rejects(TOTAL "0100"
                        "826869"
                        "83"
                        "ff");
    check_rejects(TOTAL "0100"
                        "826869"
                        "0083"
                        "ff");
    check_rejects(TOTAL "0100"
                        "826869"
                        "8003"
                        "ff");
    check_rejects(TOTAL "0200"
                        "826869"
                        "03"
                        "05"
                        "ff");
    check_rejects(TOTAL "0100"
                        "f10100"
                        "02"
                        "ff");
    /* Unknown encodings (0xF5..0xFE), first or after a good entry. */
    for (int enc = 0xF5; enc <= 0xFE; enc++) {
        char hex[64];
        snprintf(hex, sizeof(hex),
                 TOTAL "0100"
                       "%02x"
                       "0001"
                       "ff",
                 enc);
        check_rejects(hex);
        snprintf(hex, sizeof(hex),
                 TOTAL "0200"
                       "0101"
                       "%02x"
                       "01"
                       "ff",
                 enc);
        check_rejects(hex);
    }
}

int main(void)
{
    util_rand_seed(7);
    test_real_blobs();
    test_string_sizes();
    test_int_boundaries();
    test_canonical();
    test_roundtrips();
    test_many();
    test_builder_edges();
    test_truncated();
    test_corrupt_bytes();
    test_hostile();
    return unit_report("redis_listpack");
}
