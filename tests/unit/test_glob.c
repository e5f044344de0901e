/* Unit test for util_glob_match: a table of cases (each checked against
 * Redis 7's matcher) and patterns built to make a backtracking matcher
 * take exponential time, which must finish at once. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/util.h"
#include "unit.h"

typedef struct glob_case {
    const char *pat, *s;
    int nocase, want;
} glob_case;

static const glob_case cases[] = {
    /* literals and ? */
    {"hello", "hello", 0, 1},
    {"hello", "hell", 0, 0},
    {"hello", "helloo", 0, 0},
    {"h?llo", "hello", 0, 1},
    {"h?llo", "hllo", 0, 0},
    {"?", "", 0, 0},
    {"???", "abc", 0, 1},
    /* stars */
    {"*", "anything", 0, 1},
    {"a*", "a", 0, 1},
    {"a*", "ab", 0, 1},
    {"a*", "ba", 0, 0},
    {"*a", "ba", 0, 1},
    {"*a*", "xax", 0, 1},
    {"**", "x", 0, 1},
    {"h*llo", "hllo", 0, 1},
    {"h*llo", "heeeello", 0, 1},
    {"*a*a*b", "aab", 0, 1},
    {"*a*a*b", "ab", 0, 0},
    {"a*b*c", "aXbYc", 0, 1},
    {"a*b*c", "aXbY", 0, 0},
    {"?*?", "ab", 0, 1},
    {"?*?", "a", 0, 0},
    /* classes */
    {"h[ae]llo", "hello", 0, 1},
    {"h[ae]llo", "hallo", 0, 1},
    {"h[ae]llo", "hillo", 0, 0},
    {"h[^e]llo", "hallo", 0, 1},
    {"h[^e]llo", "hello", 0, 0},
    {"h[a-b]llo", "hbllo", 0, 1},
    {"h[a-b]llo", "hcllo", 0, 0},
    {"[z-a]", "m", 0, 1}, /* reversed range */
    {"[-a]", "-", 0, 1},
    {"[]]", "]", 0, 0}, /* an empty class, then "]" */
    {"[^]]x", "]x", 0, 0},
    {"[^]]x", "a]x", 0, 1},
    {"[^]]x", "ax", 0, 0},
    {"[\\]]", "]", 0, 1},
    {"[a-", "[a-", 0, 0},
    {"[a-", "a", 0, 1}, /* unterminated class: what is there counts */
    /* escapes */
    {"h\\*llo", "h*llo", 0, 1},
    {"h\\*llo", "hello", 0, 0},
    {"a\\", "a\\", 0, 1},
    {"\\?", "?", 0, 1},
    {"\\?", "a", 0, 0},
    /* case folding */
    {"HeLLo", "hello", 1, 1},
    {"HeLLo", "hello", 0, 0},
    {"[A-C]x", "bX", 1, 1},
    {"[a-c]x", "BX", 0, 0},
};

/* Work is the product of pattern and string lengths, at worst. */
static void check_bounded(void)
{
    size_t n = 20000;
    char *s = malloc(n + 2);
    memset(s, 'a', n);
    s[n] = '\0';
    char *pat = malloc(4002);
    for (int i = 0; i < 2000; i++) {
        pat[2 * i] = 'a';
        pat[2 * i + 1] = '*';
    }
    pat[4000] = 'b';
    pat[4001] = '\0';
    clock_t t0 = clock();
    CHECK(util_glob_match(pat, 4001, s, n, 0) == 0);
    s[n] = 'b';
    CHECK(util_glob_match(pat, 4001, s, n + 1, 0) == 1);
    char stars[5000];
    memset(stars, '*', sizeof(stars));
    CHECK(util_glob_match(stars, sizeof(stars), s, n, 0) == 1);
    CHECK((double)(clock() - t0) / CLOCKS_PER_SEC < 5.0);
    free(s);
    free(pat);
}

int main(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const glob_case *c = &cases[i];
        int got = util_glob_match(c->pat, strlen(c->pat), c->s, strlen(c->s), c->nocase);
        if (got != c->want) {
            fprintf(stderr, "glob case %zu: pattern '%s' string '%s' nocase=%d: got %d want %d\n", i, c->pat, c->s,
                    c->nocase, got, c->want);
        }
        CHECK(got == c->want);
    }
    check_bounded();
    return unit_report("glob");
}
