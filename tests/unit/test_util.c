/* util unit test: strict integer parsing at its edges, shortest round-trip
 * double formatting, memory sizes, and glob matching over a table of
 * patterns (classes, ranges, escapes, nocase) plus a pathological pattern
 * that must finish fast. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "base/util.h"
#include "unit.h"

static int ll_ok(const char *s, long long want)
{
    long long v = 0;
    return util_parse_ll(s, strlen(s), &v) && v == want;
}

static int ll_bad(const char *s)
{
    long long v = 0;
    return !util_parse_ll(s, strlen(s), &v);
}

static void test_parse_ll(void)
{
    CHECK(ll_ok("0", 0));
    CHECK(ll_ok("1", 1));
    CHECK(ll_ok("-1", -1));
    CHECK(ll_ok("12345", 12345));
    CHECK(ll_ok("9223372036854775807", LLONG_MAX));
    CHECK(ll_ok("-9223372036854775808", LLONG_MIN));
    CHECK(ll_bad("9223372036854775808"));
    CHECK(ll_bad("-9223372036854775809"));
    CHECK(ll_bad("18446744073709551616"));
    CHECK(ll_bad("99999999999999999999"));
    CHECK(ll_bad("123456789012345678901"));
    CHECK(ll_bad(""));
    CHECK(ll_bad("-"));
    CHECK(ll_bad("-0"));
    CHECK(ll_bad("00"));
    CHECK(ll_bad("01"));
    CHECK(ll_bad("+1"));
    CHECK(ll_bad(" 1"));
    CHECK(ll_bad("1 "));
    CHECK(ll_bad("1a"));
    CHECK(ll_bad("0x10"));
    CHECK(ll_bad("1.0"));
    CHECK(ll_bad("1e3"));
    CHECK(ll_bad("--1"));
    /* length is explicit: bytes past it are ignored, NULs inside refused */
    long long v = 0;
    CHECK(util_parse_ll("123xyz", 3, &v) && v == 123);
    CHECK(!util_parse_ll("1\0"
                         "2",
                         3, &v));

    char buf[32];
    long long samples[] = {0, 1, -1, 10, -10, LLONG_MAX, LLONG_MIN, 1234567890123LL};
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        int n = util_ll2str(buf, samples[i]);
        CHECK(n == (int)strlen(buf));
        CHECK(util_parse_ll(buf, (size_t)n, &v) && v == samples[i]);
    }
}

/* The digit-pair formatter against printf: every value below 100,000,
 * each power of ten and its neighbours (where the digit count changes),
 * the extremes and a spread of random 64-bit values, both signs. */
static int same_as_printf(long long v)
{
    char got[32], want[32];
    memset(got, 'x', sizeof(got));
    int n = util_ll2str(got, v);
    int m = snprintf(want, sizeof(want), "%lld", v);
    return n == m && memcmp(got, want, (size_t)m + 1) == 0;
}

static int same_as_printf_u(unsigned long long u)
{
    char got[32], want[32];
    memset(got, 'x', sizeof(got));
    int n = util_ull2str(got, u);
    int m = snprintf(want, sizeof(want), "%llu", u);
    return n == m && memcmp(got, want, (size_t)m + 1) == 0;
}

static void test_ll2str(void)
{
    for (long long v = -100000; v < 100000; v++) {
        CHECK(same_as_printf(v));
    }
    unsigned long long p = 1;
    for (int k = 0; k < 20; k++, p *= 10) {
        for (int d = -1; d <= 1; d++) {
            unsigned long long u = p + (unsigned long long)d;
            CHECK(same_as_printf_u(u));
            if (u <= (unsigned long long)LLONG_MAX) {
                CHECK(same_as_printf((long long)u));
                CHECK(same_as_printf(-(long long)u));
            }
        }
    }
    CHECK(same_as_printf(LLONG_MAX));
    CHECK(same_as_printf(LLONG_MIN));
    CHECK(same_as_printf(LLONG_MIN + 1));
    CHECK(same_as_printf_u(ULLONG_MAX));
    CHECK(same_as_printf_u(0));
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        CHECK(same_as_printf_u(x));
        CHECK(same_as_printf((long long)x));
        CHECK(same_as_printf((long long)(x >> (i % 64))));
    }
}

static void test_parse_double(void)
{
    double d;
    CHECK(util_parse_double("1.5", 3, &d) && d == 1.5);
    CHECK(util_parse_double("-0.25", 5, &d) && d == -0.25);
    CHECK(util_parse_double("1e3", 3, &d) && d == 1000);
    CHECK(util_parse_double("inf", 3, &d) && isinf(d) && d > 0);
    CHECK(util_parse_double("-inf", 4, &d) && isinf(d) && d < 0);
    CHECK(!util_parse_double("nan", 3, &d));
    CHECK(!util_parse_double("", 0, &d));
    CHECK(!util_parse_double(" 1", 2, &d));
    CHECK(!util_parse_double("1 ", 2, &d));
    CHECK(!util_parse_double("1x", 2, &d));
    CHECK(!util_parse_double("1e999", 5, &d));
}

/* d2str output must read back exactly and, but for integers (printed
 * whole below 2^62), be the shortest such text. */
static void check_d2str(double x)
{
    char buf[64], shorter[400];
    int n = util_d2str(buf, x);
    CHECK(n == (int)strlen(buf));
    CHECK(strtod(buf, NULL) == x || (x == 0 && strtod(buf, NULL) == 0));
    if (isinf(x) || x == 0 || (fabs(x) <= 4611686018427387903.0 && x == trunc(x))) {
        return;
    }
    /* No precision with fewer significant digits reads back exactly. */
    int digits = 0;
    for (const char *p = buf; *p && *p != 'e'; p++) {
        if (*p >= '0' && *p <= '9') {
            digits++;
        }
    }
    /* leading zeros of 0.00x and trailing zeros of 1300 are not
     * significant */
    for (const char *p = buf; *p && (*p == '-' || *p == '0' || *p == '.'); p++) {
        if (*p == '0') {
            digits--;
        }
    }
    const char *e = strchr(buf, 'e');
    for (const char *p = (e ? e : buf + n) - 1; p > buf && (*p == '0' || *p == '.'); p--) {
        if (*p == '0') {
            digits--;
        }
    }
    if (digits > 1) {
        snprintf(shorter, sizeof(shorter), "%.*g", digits - 1, x);
        CHECK(strtod(shorter, NULL) != x);
        if (strtod(shorter, NULL) == x) {
            fprintf(stderr, "  d2str(%.17g) = %s but %s also round-trips\n", x, buf, shorter);
        }
    }
}

static void test_d2str(void)
{
    char buf[64];
    util_d2str(buf, 0.1);
    CHECK(strcmp(buf, "0.1") == 0);
    util_d2str(buf, 1.5);
    CHECK(strcmp(buf, "1.5") == 0);
    util_d2str(buf, 100);
    CHECK(strcmp(buf, "100") == 0);
    util_d2str(buf, -3);
    CHECK(strcmp(buf, "-3") == 0);
    util_d2str(buf, 0.0);
    CHECK(strcmp(buf, "0") == 0);
    util_d2str(buf, INFINITY);
    CHECK(strcmp(buf, "inf") == 0);
    util_d2str(buf, -INFINITY);
    CHECK(strcmp(buf, "-inf") == 0);
    util_d2str(buf, 0.1 + 0.2);
    CHECK(strcmp(buf, "0.30000000000000004") == 0);
    util_d2str(buf, 1.0 / 3);
    CHECK(strcmp(buf, "0.3333333333333333") == 0);
    util_d2str(buf, 5e-324);
    CHECK(strcmp(buf, "5e-324") == 0);
    /* Redis 7.2+'s layout: integers whole up to 2^62, decimals plain while
     * the fraction has under 7 digits or the point is in the first 4
     * places, else d.ddde+X with the exponent unpadded. */
    static const struct {
        double v;
        const char *text;
    } layout[] = {
        {4171231148697020.0, "4171231148697020"}, /* a geohash score */
        {1e8, "100000000"},
        {123456789012345678.0, "123456789012345680"},
        {4611686018427387904.0, "4611686018427387904"},
        {9223372036854775808.0, "9223372036854776000"}, /* shortest digits, zeros */
        {1e19, "1e+19"},
        {12345678e10, "123456780000000000"},
        {1e20, "1e+20"},
        {1.5e20, "1.5e+20"},
        {1e21, "1e+21"},
        {-1e100, "-1e+100"},
        {1.5e-7, "1.5e-7"},
        {1e-5, "0.00001"},
        {1.5e-6, "1.5e-6"},
        {0.000123, "0.000123"},
        {0.0001234567, "1.234567e-4"},
        {12345.1234567, "1.23451234567e+4"},
        {123.1234567, "123.1234567"},
        {-0.5, "-0.5"},
        {-0.0, "-0"},
        {DBL_MAX, "1.7976931348623157e+308"},
        {1e-300, "1e-300"},
    };
    for (size_t i = 0; i < sizeof(layout) / sizeof(layout[0]); i++) {
        util_d2str(buf, layout[i].v);
        CHECK(strcmp(buf, layout[i].text) == 0);
        if (strcmp(buf, layout[i].text) != 0) {
            fprintf(stderr, "  d2str(%.17g) = %s, want %s\n", layout[i].v, buf, layout[i].text);
        }
    }
    double fixed[] = {0.1,
                      0.2,
                      0.3,
                      1.0 / 3,
                      2.0 / 3,
                      1e21,
                      1e-7,
                      123456789.125,
                      DBL_MAX,
                      DBL_MIN,
                      -DBL_MIN,
                      5e-324,
                      3.141592653589793,
                      9007199254740993.0,
                      1e15,
                      1e16,
                      1e17,
                      4.35,
                      0.000123};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        check_d2str(fixed[i]);
    }
    util_rand_seed(42);
    for (int i = 0; i < 20000; i++) {
        uint64_t bits = util_rand64();
        double x;
        memcpy(&x, &bits, sizeof(x));
        if (isnan(x)) {
            continue;
        }
        check_d2str(x);
        /* and "human" values with few digits */
        check_d2str((double)(long long)(util_rand64() % 2000000) / 1000.0);
    }
}

static void test_parse_memory(void)
{
    long long v;
    CHECK(util_parse_memory("100", &v) && v == 100);
    CHECK(util_parse_memory("1k", &v) && v == 1000);
    CHECK(util_parse_memory("1kb", &v) && v == 1024);
    CHECK(util_parse_memory("2MB", &v) && v == 2 * 1024 * 1024);
    CHECK(util_parse_memory("1m", &v) && v == 1000000);
    CHECK(util_parse_memory("1gb", &v) && v == 1LL << 30);
    CHECK(util_parse_memory("1g", &v) && v == 1000000000);
    CHECK(util_parse_memory("5b", &v) && v == 5);
    CHECK(!util_parse_memory("", &v));
    CHECK(!util_parse_memory("mb", &v));
    CHECK(!util_parse_memory("1xb", &v));
    CHECK(!util_parse_memory("-1mb", &v));
    CHECK(!util_parse_memory("99999999999gb", &v));
}

typedef struct gcase {
    const char *pat;
    const char *s;
    int nocase;
    int want;
} gcase;

static const gcase globs[] = {
    {"*", "", 0, 0}, /* as Redis: callers that mean "everything" check for "*" first */
    {"*", "anything", 0, 1},
    {"", "", 0, 1},
    {"", "a", 0, 0},
    {"abc", "abc", 0, 1},
    {"abc", "abd", 0, 0},
    {"abc", "ab", 0, 0},
    {"a*", "a", 0, 1},
    {"a*", "abc", 0, 1},
    {"a*", "ba", 0, 0},
    {"*c", "abc", 0, 1},
    {"a*c", "ac", 0, 1},
    {"a*c", "abbbc", 0, 1},
    {"a*c", "abbbd", 0, 0},
    {"a*b*c", "axxbyyc", 0, 1},
    {"a*b*c", "axxcyyb", 0, 0},
    {"**", "x", 0, 1},
    {"h?llo", "hello", 0, 1},
    {"h?llo", "hllo", 0, 0},
    {"???", "abc", 0, 1},
    {"???", "ab", 0, 0},
    {"h[ae]llo", "hello", 0, 1},
    {"h[ae]llo", "hallo", 0, 1},
    {"h[ae]llo", "hillo", 0, 0},
    {"h[^e]llo", "hallo", 0, 1},
    {"h[^e]llo", "hello", 0, 0},
    {"h[a-b]llo", "hbllo", 0, 1},
    {"h[a-b]llo", "hcllo", 0, 0},
    {"[z-a]", "m", 0, 1}, /* reversed range */
    {"[a-z]*", "keel", 0, 1},
    {"[0-9]", "5", 0, 1},
    {"[0-9]", "x", 0, 0},
    {"[abc]", "b", 0, 1},
    {"[abc]", "d", 0, 0},
    {"[\\]]", "]", 0, 1},
    {"[\\-]", "-", 0, 1},
    /* As Redis reads a class: "x-]" is the range x..']' (the class then
     * ends unclosed), and only "" or "*" match an empty string. */
    {"[a-]", "-", 0, 0},
    {"k[0-]", "k5", 0, 1},
    {"[[-]", "\\", 0, 1},
    {"[[-]", "-", 0, 0},
    {"**", "", 0, 0},
    {"?*", "", 0, 0},
    {"\\*", "*", 0, 1},
    {"\\*", "a", 0, 0},
    {"\\?", "?", 0, 1},
    {"\\?", "x", 0, 0},
    {"a\\[b", "a[b", 0, 1},
    {"\\a", "a", 0, 1},
    {"HeLLo", "hello", 1, 1},
    {"HeLLo", "hello", 0, 0},
    {"[A-Z]", "q", 1, 1},
    {"[A-Z]", "q", 0, 0},
    {"[^A-Z]", "q", 1, 0},
    {"*MAX*", "maxmemory", 1, 1},
    {"user:*:name", "user:42:name", 0, 1},
    {"user:*:name", "user:42:age", 0, 0},
    {"*.*", "a.b.c", 0, 1},
    {"*?", "", 0, 0},
    {"*?", "x", 0, 1},
};

static void test_glob(void)
{
    for (size_t i = 0; i < sizeof(globs) / sizeof(globs[0]); i++) {
        const gcase *g = &globs[i];
        int got = util_glob_match(g->pat, strlen(g->pat), g->s, strlen(g->s), g->nocase);
        CHECK(got == g->want);
        if (got != g->want) {
            fprintf(stderr, "  glob '%s' vs '%s' (nocase %d): %d, want %d\n", g->pat, g->s, g->nocase, got, g->want);
        }
    }
    /* binary-safe: explicit lengths, NUL bytes match like any byte */
    CHECK(util_glob_match("a?c", 3, "a\0c", 3, 0));
    CHECK(!util_glob_match("a*", 2, "b\0", 2, 0));

    /* Pathological: many stars against a long non-matching subject must
     * not backtrack exponentially. */
    char pat[400], s[20001];
    size_t pl = 0;
    for (int i = 0; i < 100; i++) {
        pat[pl++] = '*';
        pat[pl++] = 'a';
    }
    pat[pl++] = 'b';
    memset(s, 'a', 20000);
    s[20000] = '\0';
    int64_t start = util_mono_us();
    CHECK(!util_glob_match(pat, pl, s, 20000, 0));
    char stars[300];
    memset(stars, '*', sizeof(stars));
    CHECK(util_glob_match(stars, sizeof(stars), s, 20000, 0));
    stars[299] = 'b';
    CHECK(!util_glob_match(stars, sizeof(stars), s, 20000, 0));
    int64_t took = util_mono_us() - start;
    CHECK(took < 2000000);
    if (took >= 2000000) {
        fprintf(stderr, "  pathological globs took %lld us\n", (long long)took);
    }
}

/* str_append_quoted: Redis's quoting (MONITOR, CONFIG REWRITE, the Lua
 * debugger). */
static int quotes_as(const char *in, size_t len, const char *want)
{
    str s = str_append_quoted(str_new("x=", 2), in, len);
    int ok = str_len(s) == strlen(want) && memcmp(s, want, str_len(s)) == 0;
    str_free(s);
    return ok;
}

static void test_quoted(void)
{
    CHECK(quotes_as("", 0, "x=\"\""));
    CHECK(quotes_as("plain text", 10, "x=\"plain text\""));
    CHECK(quotes_as("a\"b\\c", 5, "x=\"a\\\"b\\\\c\""));
    CHECK(quotes_as("\n\r\t\a\b", 5, "x=\"\\n\\r\\t\\a\\b\""));
    CHECK(quotes_as("\x01\x7f\xff ~", 5, "x=\"\\x01\\x7f\\xff ~\""));
    CHECK(quotes_as("a\0b", 3, "x=\"a\\x00b\""));
}

int main(void)
{
    test_quoted();
    test_parse_ll();
    test_ll2str();
    test_parse_double();
    test_d2str();
    test_parse_memory();
    test_glob();
    return unit_report("util");
}
