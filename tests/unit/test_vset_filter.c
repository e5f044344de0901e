/* vset_filter unit test: every operator and its precedence (also against a
 * reference evaluator over random expression trees printed with the fewest
 * parentheses), literals, tuples and `in`, selectors over every JSON type,
 * invalid and hostile JSON, compile errors and their offsets, deep nesting
 * in both languages, and a fuzz loop of random bytes and token soup that
 * only has to survive (run it under ASan). Ends with the cost of a match. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "types/vset_filter.h"
#include "unit.h"

/* Compiles expr and matches it against json: 1 or 0, or -1 when expr does
 * not compile. */
static int mlen(const char *expr, size_t elen, const char *json, size_t jlen)
{
    size_t errpos = 12345;
    vfilter *f = vfilter_compile(expr, elen, &errpos);
    if (f == NULL) {
        return -1;
    }
    int r = vfilter_match(f, json, jlen);
    vfilter_free(f);
    return r;
}

static int m(const char *expr, const char *json)
{
    return mlen(expr, strlen(expr), json, json ? strlen(json) : 0);
}

/* A constant expression (the JSON is never read). */
static int t(const char *expr)
{
    return m(expr, "{}");
}

/* The offset a malformed expression is blamed at, or -1 if it compiles. */
static long errat(const char *expr, size_t len)
{
    size_t errpos = 12345;
    vfilter *f = vfilter_compile(expr, len, &errpos);
    if (f != NULL) {
        vfilter_free(f);
        return -1;
    }
    return (long)errpos;
}

static void test_operators(void)
{
    CHECK(t("1 + 2 * 3 == 7"));
    CHECK(t("(1 + 2) * 3 == 9"));
    CHECK(t("10 - 4 - 3 == 3"));
    CHECK(t("100 / 10 / 5 == 2"));
    CHECK(t("7 % 4 == 3"));
    CHECK(t("-7 % 4 == -3"));
    CHECK(t("7.5 % 2 == 1.5"));
    CHECK(t("2 ** 10 == 1024"));
    CHECK(t("2 ** 3 ** 2 == 512"));
    CHECK(t("(2 ** 3) ** 2 == 64"));
    CHECK(t("2 ** -1 == 0.5"));
    CHECK(t("2 * 3 ** 2 == 18"));
    CHECK(t("-2 ** 2 == 4")); /* -2 is one literal */
    CHECK(t("1 / 0 > 1000000"));
    CHECK(t("-1 / 0 < -1000000"));
    CHECK(t("0 / 0 != 0 / 0")); /* NaN */
    CHECK(t("0 / 0"));          /* NaN is not 0: true */
    CHECK(t("3 > 2") && !t("2 > 2") && t("2 >= 2") && !t("1 >= 2"));
    CHECK(t("2 < 3") && !t("2 < 2") && t("2 <= 2") && !t("3 <= 2"));
    CHECK(t("2 == 2") && !t("2 == 3") && t("2 != 3") && !t("2 != 2"));
    CHECK(t("(3 > 2) + (2 > 1) + (1 > 2) == 2"));
    CHECK(t("(5 and 7) == 1") && t("(0 or 9) == 1") && t("(0 and 1) == 0"));
    CHECK(t("1 and 1") && !t("1 and 0") && !t("0 and 1") && !t("0 and 0"));
    CHECK(t("1 or 0") && t("0 or 1") && !t("0 or 0"));
    CHECK(t("1 && 1") && !t("1 && 0") && t("0 || 1") && !t("0 || 0"));
    CHECK(t("not 0") && !t("not 1") && t("!0") && !t("!5") && t("not not 3") && t("!!1"));
    CHECK(t("(not 7) == 0") && t("(not 0) == 1"));
    /* Precedence across levels. */
    CHECK(t("1 + 2 > 2"));       /* (1+2) > 2 */
    CHECK(t("1 < 2 == 1"));      /* (1<2) == 1 */
    CHECK(t("1 == 1 in [1]"));   /* (1==1) in [1] */
    CHECK(t("1 or 1 and 0"));    /* 1 or (1 and 0) */
    CHECK(!t("0 and 1 or 0"));   /* (0 and 1) or 0 */
    CHECK(t("1 || 0 && 0"));     /* same with symbols */
    CHECK(!t("not 0 == 5"));     /* (not 0) == 5, not not (0 == 5) */
    CHECK(t("not 2 + 3 == 3"));  /* (not 2) + 3 */
    CHECK(t("not 2 ** 2 == 0")); /* (not 2) ** 2 */
    CHECK(t("2 ** not 0 == 2")); /* not binds its operand after ** */
    CHECK(t("1 + not 0 == 2"));
    CHECK(t("1 + 2 * 3 ** 2 - 4 / 2 == 17"));
    CHECK(t("((((1))))"));
    /* A '-' begins a number only where an operand is due. */
    CHECK(t("-5 + 3 == -2"));
    CHECK(t("3 * -2 == -6"));
    CHECK(t("(1) -2 == -1"));
    CHECK(t("5 -2 == 3"));
    CHECK(t("1 - -2 == 3"));
    CHECK(t("1--2 == 3"));
    CHECK(t("(-3) == -3"));
    CHECK(t("1e3 == 1000") && t("1.5e2 == 150") && t("1. == 1") && t("0.25 * 4 == 1"));
    CHECK(t("12345678901234567890 > 12345678901234500000"));
    CHECK(t("0.1 + 0.2 != 0.3"));
    CHECK(t("5 == 5.0") && t("007 == 7"));
    CHECK(t(" \t\n1\n+\t1 == 2 "));
    /* Operators need no spaces. */
    CHECK(t("1+2*3==7") && t("(1)==1") && t("not(0)") && t("1in[1]"));
}

static void test_strings(void)
{
    CHECK(t("\"a\\\"b\" == 'a\"b'"));
    CHECK(t("'it\\'s' == \"it's\""));
    CHECK(t("'a\\\\b' == \"a\\\\b\""));
    CHECK(!t("'a\\\\b' == 'ab'"));
    CHECK(t("'x\\ny' == 'xny'")); /* \x is x, whatever x is */
    CHECK(t("'abc' != 'abd'") && !t("'abc' == 'ab'"));
    CHECK(!t("''") && t("'a'") && t("'0'") && t("' '"));
    CHECK(!t("null") && t("[]") && t("[0]"));
    /* Strings as numbers: all of a string must parse. */
    CHECK(t("'10' > 9"));
    CHECK(t("\"10\" == 10") && t("10 == '10'") && t("'1e3' == 1000"));
    CHECK(t("'10x' == 0") && t("'abc' == 0") && t("'' == 0"));
    CHECK(!t("'b' > 'a'")); /* both 0 */
    CHECK(t("'2' * '3' == 6") && t("'7' - 2 == 5"));
    /* Strings with NUL bytes. */
    static const char nul[] = "'a\0b' == \"a\0b\"";
    CHECK(mlen(nul, sizeof nul - 1, "{}", 2) == 1);
    static const char nul2[] = "'a\0b' == 'a'";
    CHECK(mlen(nul2, sizeof nul2 - 1, "{}", 2) == 0);
    static const char nul3[] = "'\0' in 'x\0y'";
    CHECK(mlen(nul3, sizeof nul3 - 1, "{}", 2) == 1);
    /* The expression need not end at a NUL: only len bytes count. */
    CHECK(mlen("1 == 1 garbage", 6, "{}", 2) == 1);
    CHECK(mlen("2 > 10", 5, "{}", 2) == 1); /* reads `2 > 1` */
}

static void test_tuples_in_null(void)
{
    CHECK(t("1 in [1, \"foo\", -2.5]"));
    CHECK(t("-2.5 in [1, \"foo\", -2.5]"));
    CHECK(t("'foo' in [1, \"foo\", -2.5]"));
    CHECK(!t("'bar' in [1, \"foo\", -2.5]"));
    CHECK(!t("2 in [1, \"foo\", -2.5]"));
    CHECK(t("'1' in [1]") && t("1 in ['1']") && t("1 in ['1.0']"));
    CHECK(!t("1 in []") && !t("'' in []"));
    CHECK(t("'x' in ['a', 'b', 'x']") && t("'x' in [ 'a' ,'x' ]"));
    CHECK(t("0 in ['abc']"));         /* 'abc' counts as 0 */
    CHECK(t("not 3 in [1, 2]") == 0); /* (not 3) in [1, 2]: 0 */
    CHECK(t("(not (3 in [1, 2]))"));
    /* Substrings. */
    CHECK(t("'oo' in 'foo'") && t("'foo' in 'foo'") && !t("'fooo' in 'foo'"));
    CHECK(t("'' in 'foo'") && t("'' in ''") && !t("'x' in ''"));
    CHECK(!t("1 in '1'") && !t("'1' in 1") && !t("1 in 1") && !t("null in null"));
    CHECK(!t("null in [1, 'a']"));
    CHECK(t("[1] in [0]") && !t("[1] in [1]")); /* a tuple counts as 0 */
    /* null equals only null. */
    CHECK(t("null == null") && !t("null != null"));
    CHECK(!t("null == 0") && t("null != 0") && !t("0 == null") && !t("null == ''"));
    CHECK(t("[1, 2] == 0")); /* tuples count as 0 when compared */
    CHECK(t("null + 1 == 1") && t("null < 1"));
}

static void test_selectors(void)
{
    const char *movie = "{\"year\": 1985, \"genre\": \"action\", \"rating\": 8.5, \"director\": \"Nolan\"}";
    CHECK(m(".year >= 1980 and .year < 1990", movie) == 1);
    CHECK(m(".genre == \"action\" and .rating > 8.0", movie) == 1);
    CHECK(m(".director in [\"Spielberg\", \"Nolan\"]", movie) == 1);
    CHECK(m(".director in [\"Spielberg\", \"Lucas\"]", movie) == 0);
    CHECK(m("(.year - 2000) ** 2 < 100 and .rating / 2 > 4", movie) == 0);
    CHECK(m("(.year - 2000) ** 2 < 100 and .rating / 2 > 4", "{\"year\": 2005, \"rating\": 9}") == 1);
    CHECK(m(".year == 1985", movie) == 1 && m(".rating == 8.5", movie) == 1);
    CHECK(m(".year + .rating == 1993.5", movie) == 1);
    CHECK(m("'ct' in .genre", movie) == 1);

    /* Numbers. */
    CHECK(m(".a == -12.5e2", "{\"a\":-1250}") == 1);
    CHECK(m(".a == 1250", "{\"a\":1.25E+3}") == 1);
    CHECK(m(".a == 0.001", "{\"a\":1e-3}") == 1);
    CHECK(m(".a == 0", "{\"a\":-0}") == 1);
    CHECK(m(".a > 1e300", "{\"a\":1e999}") == 1);
    CHECK(m(".a == 123456789012345678", "{\"a\":123456789012345678}") == 1);
    CHECK(m(".a == 0.1", "{\"a\":0.1}") == 1);
    CHECK(m(".a == 3.14159", "{\"a\":3.14159}") == 1);

    /* Strings and their escapes. */
    CHECK(m(".s == \"a\\\"b\\\\c/d\n\t\"", "{\"s\":\"a\\\"b\\\\c\\/d\\n\\t\"}") == 1);
    CHECK(m(".s == '\b\f\r'", "{\"s\":\"\\b\\f\\r\"}") == 1);
    CHECK(m(".s == 'caf\xc3\xa9'", "{\"s\":\"caf\\u00e9\"}") == 1);
    CHECK(m(".s == 'caf\xc3\xa9'", "{\"s\":\"caf\\u00E9\"}") == 1);
    CHECK(m(".s == 'caf\xc3\xa9'", "{\"s\":\"caf\xc3\xa9\"}") == 1); /* raw UTF-8 */
    CHECK(m(".s == '\xe2\x82\xac'", "{\"s\":\"\\u20ac\"}") == 1);
    CHECK(m(".s == '\xf0\x9f\x98\x80'", "{\"s\":\"\\ud83d\\ude00\"}") == 1);
    CHECK(m(".s == 'x\xef\xbf\xbdy'", "{\"s\":\"x\\ud83dy\"}") == 1);     /* lone high half */
    CHECK(m(".s == '\xef\xbf\xbd'", "{\"s\":\"\\ude00\"}") == 1);         /* lone low half */
    CHECK(m(".s == '\xef\xbf\xbd!'", "{\"s\":\"\\ud83d\\u0021\"}") == 1); /* high half, then no low */
    CHECK(m(".s == 'AB'", "{\"s\":\"\\u0041\\u0042\"}") == 1);
    static const char nulx[] = ".s == 'a\0b'";
    const char *nulj = "{\"s\":\"a\\u0000b\"}";
    CHECK(mlen(nulx, sizeof nulx - 1, nulj, strlen(nulj)) == 1);
    CHECK(m(".s == 'a'", nulj) == 0);
    CHECK(m(".s", "{\"s\":\"\"}") == 0 && m(".s", "{\"s\":\"x\"}") == 1);
    CHECK(m(".s > 9", "{\"s\":\"10\"}") == 1);
    CHECK(m(".s == 10", "{\"s\":\"1\\u0030\"}") == 1);

    /* Booleans and null. */
    const char *bools = "{\"t\":true,\"f\":false,\"n\":null}";
    CHECK(m(".t", bools) == 1 && m(".f", bools) == 0 && m(".n", bools) == 0);
    CHECK(m(".t == 1 and .f == 0", bools) == 1);
    CHECK(m(".n == null and .t != null", bools) == 1);
    CHECK(m(".n == 0", bools) == 0);

    /* Arrays of scalars are tuples. */
    const char *tags = "{\"tags\": [\"a\", 2, true, false, \"x\\u00e9\", -1.5e1, \"q\\\"\"]}";
    CHECK(m("'a' in .tags", tags) == 1);
    CHECK(m("2 in .tags", tags) == 1);
    CHECK(m("'2' in .tags", tags) == 1);
    CHECK(m("1 in .tags", tags) == 1); /* true */
    CHECK(m("0 in .tags", tags) == 1); /* false, and 'a' counts as 0 too */
    CHECK(m("-15 in .tags", tags) == 1);
    CHECK(m("'x\xc3\xa9' in .tags", tags) == 1);
    CHECK(m("'q\"' in .tags", tags) == 1);
    CHECK(m("'b' in .tags", tags) == 1); /* 'b' counts as 0, as false does */
    CHECK(m("'b' in .s", "{\"s\":[\"a\",\"c\",1]}") == 0);
    CHECK(m("3 in .tags", tags) == 0);
    CHECK(m(".tags", tags) == 1);
    CHECK(m(".tags == 0", tags) == 1);
    CHECK(m("'a' in .tags and 'b' in .tags or 2 in .tags", tags) == 1);
    CHECK(m("1 in .e", "{\"e\":[]}") == 0 && m(".e", "{\"e\": [ ] }") == 1);
    CHECK(m("3 in .e", "{\"e\":[ 1 , 2 ,3 ]}") == 1);
    /* Any other array, or an object, makes the field unusable. */
    CHECK(m(".a or 1", "{\"a\":[1,{\"b\":2}]}") == 0);
    CHECK(m(".a or 1", "{\"a\":[1,null]}") == 0);
    CHECK(m(".a or 1", "{\"a\":[[1]]}") == 0);
    CHECK(m(".a or 1", "{\"a\":{\"x\":1}}") == 0);
    CHECK(m(".a or 1", "{\"a\":{}}") == 0);
    CHECK(m(".b == 1", "{\"a\":{\"x\":[1,{\"y\":null}]},\"b\":1}") == 1); /* skipped: fine */

    /* A missing field fails the whole match. */
    CHECK(m(".missing or 1", movie) == 0);
    CHECK(m("not .missing", movie) == 0);
    CHECK(m(".year == 1985 or .missing", movie) == 0);
    CHECK(m(".a", "{}") == 0);
    /* Keys are matched whole, and after decoding. */
    CHECK(m(".a == 5", "{\"ab\":1,\"\":2,\"A\":3,\"a\":5}") == 1);
    CHECK(m(".a == 5", "{\"\\u0061\":5}") == 1);
    CHECK(m(".a == 2", "{\"a\\\"\":1,\"a\":2}") == 1);
    CHECK(m(".ab == 2", "{\"a\\u0062\":2}") == 1);
    CHECK(m(".my-field_2 == 7", "{\"my-field_2\":7}") == 1);
    CHECK(m(".0 == 7", "{\"0\":7}") == 1);
    /* Duplicate keys: the first one counts. */
    CHECK(m(".a == 1", "{\"a\":1,\"a\":2}") == 1);
    CHECK(m(".a == 2", "{\"a\":1,\"a\":2}") == 0);
    CHECK(m(".a", "{\"a\":{},\"a\":1}") == 0);
    CHECK(m(".b == 2", "{\"a\":1,\"b\":2,\"a\":[}") == 1); /* read no further than needed */
    /* The same selector twice reads one field. */
    CHECK(m(".a + .a == 4 and .a > 1", "{\"a\":2}") == 1);
    /* Whitespace everywhere JSON allows it. */
    CHECK(m(".a == 1 and 2 in .b", " \r\n\t{ \"a\" : 1 ,\n \"b\" : [ 1 , 2 ] } ") == 1);
    /* Not an object. */
    CHECK(m(".a", "[1]") == 0 && m(".a", "5") == 0 && m(".a", "\"a\"") == 0);
    CHECK(m(".a", "") == 0 && m(".a", NULL) == 0 && m(".a", "null") == 0);
    /* Without selectors the JSON is never read. */
    CHECK(m("1", "not json") == 1 && m("1", NULL) == 1 && m("0", "{}") == 0);
}

static void test_invalid_json(void)
{
    static const char *bad[] = {
        "{\"a\":1",
        "{\"a\":",
        "{\"a\"",
        "{\"a",
        "{",
        "{\"x\":1,",
        "{\"x\":01,\"a\":1}",
        "{\"x\":1.,\"a\":1}",
        "{\"x\":-,\"a\":1}",
        "{\"x\":1e,\"a\":1}",
        "{\"x\":.5,\"a\":1}",
        "{\"x\":+1,\"a\":1}",
        "{\"x\":\"abc}",
        "{\"x\":\"\\x\",\"a\":1}",
        "{\"x\":\"\\u12\",\"a\":1}",
        "{\"x\":\"\\u12g4\",\"a\":1}",
        "{\"x\":\"a\nb\",\"a\":1}",
        "{\"x\":1 2,\"a\":1}",
        "{\"x\":1,,\"a\":1}",
        "{,\"a\":1}",
        "{\"x\" 1,\"a\":1}",
        "{x:1,\"a\":1}",
        "{\"x\":tru,\"a\":1}",
        "{\"x\":nul,\"a\":1}",
        "{\"x\":[1,2},\"a\":1}",
        "{\"x\":{\"y\":1],\"a\":1}",
        "{\"x\":{\"y\"},\"a\":1}",
        "{\"x\":{,},\"a\":1}",
        "{\"x\":[1,],\"a\":1}",
        "{\"x\":[,1],\"a\":1}",
        "{\"x\":[1 2],\"a\":1}",
        "{\"x\":{\"y\":1,},\"a\":1}",
        "{\"x\":truex,\"a\":1}",
        "{\"x\":1}x{\"a\":1}",
        "{\"x\":\"\\",
        "{\"x\":[",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":-}",
        "{\"a\":\"x}",
        "{\"a\":[1,]}",
        "{\"a\":[1 2]}",
        "{\"a\":[\"x]}",
        "{\"a\":[1",
        "{\"a\":tru}",
        "{\"a\":falsy}",
        "{\"a\":\"\\q\"}",
        "{\"a\":\"\x01\"}",
        "{\"a\":[1]x}",
        "{\"a\":1x}",
        "{\"a\" : }",
        "{\"a\":1e+}",
        "{\"a\":truex}",
        "{\"a\":1",
        "{\"a\":\"x\"",
        "{\"a\":1 2}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int r = m(".a or 1", bad[i]);
        if (r != 0) {
            fprintf(stderr, "accepted bad JSON: %s\n", bad[i]);
        }
        CHECK(r == 0);
    }
    /* Only len bytes count (exact-size copies let ASan catch a read past
     * them). */
    char *exact = malloc(8);
    memcpy(exact, "{\"a\":12}", 8);
    CHECK(mlen(".a == 12", 8, exact, 8) == 1);
    CHECK(mlen(".a == 12", 8, exact, 7) == 0); /* `{"a":12`: the value's end is unknown */
    CHECK(mlen(".a == 1", 7, exact, 6) == 0);
    CHECK(mlen(".a", 2, exact, 4) == 0);
    free(exact);
    CHECK(mlen(".b", 2, "{\"a\":1,\"b\":1}", 8) == 0);
    /* Trailing garbage after the fields needed is not read. */
    CHECK(m(".a == 1", "{\"a\":1, garbage") == 1);
    CHECK(m(".a == 1", "{\"a\":1} trailing") == 1);
}

static char *repeat_json(const char *pre, const char *open, const char *close, size_t depth, const char *post)
{
    size_t lo = strlen(open), lc = strlen(close), lp = strlen(pre), lq = strlen(post);
    char *s = malloc(lp + depth * (lo + lc) + lq + 1);
    char *w = s;
    memcpy(w, pre, lp);
    w += lp;
    for (size_t i = 0; i < depth; i++, w += lo) {
        memcpy(w, open, lo);
    }
    for (size_t i = 0; i < depth; i++, w += lc) {
        memcpy(w, close, lc);
    }
    memcpy(w, post, lq + 1);
    return s;
}

static void test_deep_json(void)
{
    /* Up to the documented cap of 1024 containers a skipped value works;
     * deeper counts as invalid; neither crashes. */
    char *s = repeat_json("{\"a\":", "[", "]", 1000, ",\"b\":1}");
    CHECK(m(".b == 1", s) == 1);
    free(s);
    s = repeat_json("{\"a\":", "[", "]", 1024, ",\"b\":1}");
    CHECK(m(".b == 1", s) == 1);
    free(s);
    s = repeat_json("{\"a\":", "[", "]", 1025, ",\"b\":1}");
    CHECK(m(".b == 1", s) == 0);
    free(s);
    s = repeat_json("{\"a\":", "[", "]", 200000, ",\"b\":1}");
    CHECK(m(".b == 1", s) == 0);
    free(s);
    s = repeat_json("{\"a\":", "{\"k\":[", "]}", 500, ",\"b\":1}");
    CHECK(m(".b == 1", s) == 1);
    free(s);
    s = repeat_json("{\"a\":", "{\"k\":[", "]}", 600, ",\"b\":1}"); /* 1200 deep */
    CHECK(m(".b == 1", s) == 0);
    free(s);
    /* Unbalanced at depth. */
    s = repeat_json("{\"a\":", "[", "", 100000, "");
    CHECK(m(".b == 1", s) == 0);
    free(s);
    s = repeat_json("{\"a\":", "[", "}", 500, ",\"b\":1}");
    CHECK(m(".b == 1", s) == 0);
    free(s);
}

/* Values past the buffers on the C stack: long escaped strings, many of
 * them, wide programs and deep ones. */
static void test_big(void)
{
    char *json = malloc(200000), *expr = malloc(200000);
    /* A 10000-character string made of escapes, and one of plain bytes. */
    char *w = json;
    w += sprintf(w, "{\"s\":\"");
    for (int i = 0; i < 10000; i++) {
        w += sprintf(w, "\\u0041");
    }
    w += sprintf(w, "\",\"p\":\"");
    for (int i = 0; i < 10000; i++) {
        *w++ = 'A';
    }
    w += sprintf(w, "\",\"arr\":[");
    for (int i = 0; i < 300; i++) {
        w += sprintf(w, "%s\"\\u00e9%d\"", i ? "," : "", i);
    }
    w += sprintf(w, "]}");
    CHECK(m(".s == .p", json) == 1);
    CHECK(m("'AAAA' in .s and .p in .s and .s in .p", json) == 1);
    CHECK(m("'\xc3\xa9"
            "299' in .arr and '\xc3\xa9"
            "0' in .arr and not ('\xc3\xa9"
            "300' in .arr)",
            json) == 1);
    CHECK(m("'\xc3\xa9"
            "150' in .arr and .s == .p and '\xc3\xa9"
            "7' in .arr",
            json) == 1);
    /* A small decoded field stays on the C stack while a long element of
     * an array, decoded only to be compared, moves decoding to the heap. */
    w = json;
    w += sprintf(w, "{\"s\":\"\\u0041\",\"arr\":[\"");
    for (int i = 0; i < 400; i++) {
        w += sprintf(w, "\\u00e9");
    }
    sprintf(w, "\",\"x\\u0021\"]}");
    CHECK(m(".s == 'A' and 'x!' in .arr and not ('zz' in .arr) and 'x!' in .arr and .s == 'A'", json) == 1);
    /* 100 distinct selectors (the index grows; slots outrun the stack). */
    w = json;
    char *x = expr;
    w += sprintf(w, "{");
    for (int i = 0; i < 100; i++) {
        w += sprintf(w, "%s\"f%d\":%d", i ? "," : "", 99 - i, i);
        x += sprintf(x, "%s.f%d", i ? " + " : "", i);
    }
    w += sprintf(w, "}");
    x += sprintf(x, " == 4950 and .f0 == 99 and .f99 == 0");
    CHECK(m(expr, json) == 1);
    strcpy(json + strlen(json) - 1, ", not json");
    CHECK(m(expr, json) == 1); /* nothing after the last field needed is read */
    CHECK(m(".f100", json) == 0);
    /* A program 5000 values deep: 1 + (1 + (1 + ... )). */
    x = expr;
    for (int i = 0; i < 5000; i++) {
        x += sprintf(x, "1 + (");
    }
    x += sprintf(x, ".a");
    for (int i = 0; i < 5000; i++) {
        *x++ = ')';
    }
    sprintf(x, " == 5007");
    CHECK(m(expr, "{\"a\":7}") == 1);
    free(json);
    free(expr);
}

static void test_compile_errors(void)
{
    static const struct {
        const char *expr;
        long pos;
    } cases[] = {
        {"", 0},       {"   ", 0},   {"1 2", 2},       {"1 2 3", 2},     {"1 2 +", 2},     {"1 +", 2},
        {"1 +\n ", 2}, {"+ 1", 0},   {"1 + * 2", 4},   {"1 ** ** 2", 5}, {"(1", 0},        {"((1)", 0},
        {"1 + (2", 4}, {"(1))", 3},  {")", 0},         {"()", 1},        {"(1) (2)", 4},   {"1 (2)", 2},
        {"foo", 0},    {"true", 0},  {"1 andx 2", 2},  {"1 AND 2", 2},   {"1 & 2", 2},     {"1 | 2", 2},
        {"1 = 2", 2},  {"1 # 2", 2}, {"@", 0},         {"\"abc", 0},     {"1 == 'abc", 5}, {"'a\\", 0},
        {"1e", 0},     {"1e-5", 0},  {"1.2.3", 0},     {"2 + 1e5e", 4},  {".", 0},         {". == 1", 0},
        {".$a", 0},    {"[1 2]", 0}, {"1 in [1,]", 5}, {"1 in [,1]", 5}, {"[1", 0},        {"[", 0},
        {"[.a]", 0},   {"[[1]]", 0}, {"[null]", 0},    {"[-]", 0},       {"[1e]", 0},      {"['a' 'b']", 0},
        {"['a", 0},    {"not", 0},   {"1 not", 2},     {"1 !", 2},       {"not not", 4},   {"- 5", 0},
        {"-(1)", 0},   {"-.5", 0},   {"3 * - 2", 4},   {"1 in", 2},      {"null null", 5}, {"1 == ", 2},
        {".a .b", 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        long got = errat(cases[i].expr, strlen(cases[i].expr));
        if (got != cases[i].pos) {
            fprintf(stderr, "errpos of \"%s\": %ld, expected %ld\n", cases[i].expr, got, cases[i].pos);
        }
        CHECK(got == cases[i].pos);
    }
    CHECK(errat(NULL, 0) == 0);
    CHECK(errat("1", 0) == 0);
    CHECK(errat("1 + 2", 4) == 2); /* only len bytes: `1 + ` */

    /* 100k '(': no stack overflow, blamed on the last one. */
    size_t n = 100000;
    char *deep = malloc(2 * n + 8);
    memset(deep, '(', n);
    CHECK(errat(deep, n) == (long)n - 1);
    deep[n] = '1';
    memset(deep + n + 1, ')', n);
    CHECK(mlen(deep, 2 * n + 1, "{}", 2) == 1);
    CHECK(errat(deep, 2 * n) == 0); /* one ')' short: the outermost '(' is open */
    /* 100k `not`: compiled without recursion, applied 100k times. */
    char *nots = malloc(4 * n + 8);
    for (size_t i = 0; i < n; i++) {
        memcpy(nots + 4 * i, "not ", 4);
    }
    nots[4 * n] = '0';
    CHECK(mlen(nots, 4 * n + 1, "{}", 2) == 0);
    CHECK(mlen(nots + 4, 4 * n - 3, "{}", 2) == 1);
    /* 100k operators of one level, and 100k right-associative **. */
    char *chain = malloc(4 * n + 8);
    for (size_t i = 0; i < n; i++) {
        memcpy(chain + 4 * i, "1 + ", 4);
    }
    memcpy(chain + 4 * n, "1", 1);
    CHECK(mlen(chain, 4 * n + 1, "{}", 2) == 1);
    for (size_t i = 0; i < n; i++) {
        memcpy(chain + 4 * i, "1**", 3);
        chain[4 * i + 3] = ' ';
    }
    CHECK(mlen(chain, 4 * n + 1, "{}", 2) == 1);
    free(deep);
    free(nots);
    free(chain);
}

/* ---- Random expression trees against a reference evaluator ---- */

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static unsigned rn(unsigned n)
{
    return (unsigned)(rnd() % n);
}

enum { N_NUM, N_NOT, N_BIN };

static const struct {
    const char *text;
    int prec;
} bin_ops[] = {
    {"or", 0}, {"||", 0}, {"and", 1}, {"&&", 1}, {">", 2}, {">=", 2}, {"<", 2}, {"<=", 2},
    {"==", 2}, {"!=", 2}, {"+", 3},   {"-", 3},  {"*", 4}, {"/", 4},  {"%", 4}, {"**", 5},
};

/* Builds a random tree, appends its text with the fewest parentheses
 * precedence and associativity allow, and returns its value. */
static double gen_tree(int depth, char **w, int *prec_out)
{
    unsigned kind = depth <= 0 ? N_NUM : rn(8) == 0 ? N_NOT : rn(4) == 0 ? N_NUM : N_BIN;
    if (kind == N_NUM) {
        static const double nums[] = {0, 1, 2, 3, -1, -2, 0.5, 10, -0.25, 7};
        double v = nums[rn(10)];
        *w += sprintf(*w, "%g", v);
        *prec_out = 9;
        return v;
    }
    if (kind == N_NOT) {
        char buf[4096], *b = buf;
        int p;
        double v = gen_tree(depth - 1, &b, &p);
        *w += sprintf(*w, rn(2) ? "not " : "!");
        if (p < 6) {
            *w += sprintf(*w, "(%.*s)", (int)(b - buf), buf);
        } else {
            *w += sprintf(*w, "%.*s", (int)(b - buf), buf);
        }
        *prec_out = 6;
        return v == 0; /* NaN is truthy, so not NaN is 0 */
    }
    unsigned op = rn(sizeof bin_ops / sizeof *bin_ops);
    int prec = bin_ops[op].prec, right_assoc = prec == 5;
    char lb[4096], rb[4096], *l = lb, *r = rb;
    int lp, rp;
    double a = gen_tree(depth - 1, &l, &lp), b = gen_tree(depth - 1, &r, &rp);
    int lparen = lp < prec || (lp == prec && right_assoc);
    int rparen = rp < prec || (rp == prec && !right_assoc);
    /* A right operand that is a `not` needs no parentheses, but a left
     * one does when the operator binds looser than not's operand would
     * swallow: `not 1 + 2` is (not 1) + 2, as the tree wants anyway. */
    *w += sprintf(*w, lparen ? "(%.*s)" : "%.*s", (int)(l - lb), lb);
    *w += sprintf(*w, " %s ", bin_ops[op].text);
    *w += sprintf(*w, rparen ? "(%.*s)" : "%.*s", (int)(r - rb), rb);
    *prec_out = prec;
    int ta = a != 0, tb = b != 0;
    switch (op) {
    case 0:
    case 1: return ta || tb;
    case 2:
    case 3: return ta && tb;
    case 4: return a > b;
    case 5: return a >= b;
    case 6: return a < b;
    case 7: return a <= b;
    case 8: return a == b;
    case 9: return a != b;
    case 10: return a + b;
    case 11: return a - b;
    case 12: return a * b;
    case 13: return a / b;
    case 14: return fmod(a, b);
    default: return pow(a, b);
    }
}

static void test_random_trees(void)
{
    char expr[8192], full[2 * 8192 + 32], json[128];
    for (int i = 0; i < 20000; i++) {
        char *w = expr;
        int p;
        double v = gen_tree(1 + (int)rn(5), &w, &p);
        *w = '\0';
        int ok;
        if (isnan(v)) {
            /* NaN is truthy and equals nothing. */
            snprintf(full, sizeof full, "%s", expr);
            ok = m(full, "{}") == 1;
            snprintf(full, sizeof full, "(%s) != (%s)", expr, expr);
            ok = ok && m(full, "{}") == 1;
        } else {
            /* strtod reads %.17g back exactly, inf included. */
            snprintf(json, sizeof json, "{\"v\":\"%.17g\"}", v);
            snprintf(full, sizeof full, "(%s) == .v", expr);
            ok = m(full, json) == 1;
        }
        if (!ok) {
            fprintf(stderr, "tree %s: expected %.17g\n", expr, v);
        }
        CHECK(ok);
    }
}

/* ---- Fuzz: only has to survive, and keep errpos in range ---- */

/* Token soup: mostly in grammatical order (an operand, then an operator),
 * so that much of it compiles, with junk mixed in. */
static const char *soup_values[] = {
    "1",  "-2.5", "0",  "1e3",  "\"foo\"", "'a\\'b'", "[1, \"a\"]", "[]",    ".a",
    ".b", ".t",   ".s", "null", "\"\"",    "'x'",     "-0",         "\"1\"",
};
static const char *soup_prefix[] = {"(", "!", "not", "not("};
static const char *soup_binops[] = {
    "**", "*", "/", "%", "+", "-", ">", ">=", "<", "<=", "==", "!=", "in", "and", "&&", "or", "||", ")", ") or"};
static const char *soup_junk[] = {"[", "\"", "1e", "=", "&", "-", ".", "]", ",", "\\", "\t", "(", ")", "true"};

#define PICK(a) a[rn(sizeof a / sizeof *a)]

static size_t gen_json(char *buf, size_t cap)
{
    static const char *keys[] = {"a", "b", "t", "s", "x", "\\u0061"};
    static const char *vals[] = {"1",
                                 "-2.5e3",
                                 "\"foo\"",
                                 "\"\\u00e9\\ud83d\\ude00\"",
                                 "true",
                                 "false",
                                 "null",
                                 "[1,\"a\",true]",
                                 "[]",
                                 "[1,[2]]",
                                 "{\"y\":[{}]}",
                                 "\"a\\\"b\"",
                                 "0",
                                 "[\"\\n\",-0]",
                                 "{}"};
    size_t n = 0;
    n += (size_t)snprintf(buf + n, cap - n, "{");
    unsigned fields = rn(6);
    for (unsigned i = 0; i < fields && n < cap - 64; i++) {
        n += (size_t)snprintf(buf + n, cap - n, "%s\"%s\":%s", i ? "," : "", keys[rn(6)], vals[rn(15)]);
    }
    n += (size_t)snprintf(buf + n, cap - n, "}");
    /* Mutate now and then: flip, drop or cut bytes. */
    unsigned muts = rn(3) == 0 ? 1 + rn(3) : 0;
    for (unsigned i = 0; i < muts && n > 0; i++) {
        switch (rn(3)) {
        case 0: buf[rn((unsigned)n)] = (char)rnd(); break;
        case 1: n = rn((unsigned)n); break;
        default: {
            size_t at = rn((unsigned)n);
            memmove(buf + at, buf + at + 1, n - at - 1);
            n--;
        }
        }
    }
    return n;
}

static void fuzz_one(const char *expr, size_t len, char *json, size_t cap)
{
    size_t errpos = 12345;
    vfilter *f = vfilter_compile(expr, len, &errpos);
    if (f == NULL) {
        CHECK(len == 0 ? errpos == 0 : errpos < len);
        return;
    }
    for (int j = 0; j < 4; j++) {
        size_t jl = gen_json(json, cap);
        int r = vfilter_match(f, json, jl);
        CHECK(r == 0 || r == 1);
    }
    vfilter_free(f);
}

static void test_fuzz(void)
{
    char expr[1024], json[1024];
    size_t compiled = 0;
    for (int i = 0; i < 100000; i++) {
        size_t len = rn(40);
        for (size_t k = 0; k < len; k++) {
            expr[k] = (char)rnd();
        }
        fuzz_one(expr, len, json, sizeof json);
    }
    for (int i = 0; i < 200000; i++) {
        size_t len = 0;
        unsigned toks = 1 + rn(14);
        int want_operand = 1;
        for (unsigned k = 0; k < toks; k++) {
            const char *s;
            if (rn(16) == 0) {
                s = PICK(soup_junk);
            } else if (!want_operand) {
                s = PICK(soup_binops);
                want_operand = s[0] != ')';
            } else if (rn(4) == 0) {
                s = PICK(soup_prefix);
            } else {
                s = PICK(soup_values);
                want_operand = 0;
            }
            size_t sl = strlen(s);
            memcpy(expr + len, s, sl);
            len += sl;
            if (rn(3)) {
                expr[len++] = ' ';
            }
        }
        size_t errpos;
        vfilter *f = vfilter_compile(expr, len, &errpos);
        compiled += f != NULL;
        vfilter_free(f);
        fuzz_one(expr, len, json, sizeof json);
    }
    /* The soup must reach the matcher often enough to mean something. */
    printf("vset_filter: %zu of 200000 token soups compiled\n", compiled);
    CHECK(compiled > 10000);
}

static void test_no_leaks_of_count(void)
{
    size_t before = alloc_used();
    for (int i = 0; i < 100; i++) {
        const char *e = ".a in ['x', 1] and .b > 2", *j = "{\"a\":\"x\",\"b\":3}";
        vfilter *f = vfilter_compile(e, strlen(e), NULL);
        CHECK(f != NULL);
        CHECK(vfilter_match(f, j, strlen(j)) == 1);
        vfilter_free(f);
        size_t errpos;
        CHECK(vfilter_compile(e, 18, &errpos) == NULL && errpos == 15);
    }
    vfilter_free(NULL);
    CHECK(alloc_used() == before);
}

static void bench(void)
{
    const char *expr = ".year >= 1980 and .year < 1990 and .genre == \"action\"";
    const char *json = "{\"year\": 1985, \"genre\": \"action\", \"rating\": 8.5}";
    vfilter *f = vfilter_compile(expr, strlen(expr), NULL);
    size_t jl = strlen(json);
    long n = 1000000, hits = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < n; i++) {
        hits += vfilter_match(f, json, jl);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(hits == n);
    double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / (double)n;
    printf("vset_filter: %.0f ns per match of `%s` on %s\n", ns, expr, json);
    vfilter_free(f);
}

int main(void)
{
    test_operators();
    test_strings();
    test_tuples_in_null();
    test_selectors();
    test_invalid_json();
    test_deep_json();
    test_big();
    test_compile_errors();
    test_random_trees();
    test_fuzz();
    test_no_leaks_of_count();
    bench();
    return unit_report("vset_filter");
}
