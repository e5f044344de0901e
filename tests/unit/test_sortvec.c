/* sortvec unit test: the weights SORT accepts (strtod's reading, Redis's
 * refusals), and random arrays sorted every way (numeric with many equal
 * weights, -0 and infinities; ALPHA with missing values, equal values and
 * embedded zero bytes; ASC and DESC; sizes around the run and radix
 * thresholds) checked item for item against a stable insertion sort with
 * SORT's comparison written out here. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "ds/sortvec.h"
#include "unit.h"

static int w_ok(const char *s, size_t len, double want)
{
    double d = -12345;
    return sortvec_weight((sv){s, len}, &d) && (d == want || (isinf(d) && isinf(want) && (d > 0) == (want > 0)));
}

static int w_bad(const char *s)
{
    double d;
    return !sortvec_weight((sv){s, strlen(s)}, &d);
}

static void test_weights(void)
{
    CHECK(w_ok("10", 2, 10));
    CHECK(w_ok("-3", 2, -3));
    CHECK(w_ok("007", 3, 7));
    CHECK(w_ok("", 0, 0));
    CHECK(w_ok("  7", 3, 7));
    CHECK(w_ok("+4", 2, 4));
    CHECK(w_ok("2.5", 3, 2.5));
    CHECK(w_ok("1e2", 3, 100));
    CHECK(w_ok("0x10", 4, 16));
    CHECK(w_ok("inf", 3, INFINITY));
    CHECK(w_ok("-Infinity", 9, -INFINITY));
    CHECK(w_ok("-0", 2, 0));
    CHECK(w_ok("9999999999999999", 16, 9999999999999999.0));
    CHECK(w_ok("99999999999999999999", 20, 1e20));
    CHECK(w_ok("12\0zz", 5, 12)); /* read up to the NUL, as strtod does */
    CHECK(w_bad("nan"));
    CHECK(w_bad("-nan"));
    CHECK(w_bad("1e400"));
    CHECK(w_bad("-1e400"));
    CHECK(w_bad("1e-400"));
    CHECK(w_bad("12 "));
    CHECK(w_bad("abc"));
    CHECK(w_bad("-"));
    CHECK(w_bad("1,5"));
    CHECK(w_bad("--1"));
    char big[420]; /* 419 digits: about 1e418, past DBL_MAX */
    memset(big, '1', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK(w_bad(big));
    CHECK(w_ok(big + 200, 219, strtod(big + 200, NULL))); /* 219 digits: fine */
}

/* SORT's comparison, written independently of sortvec.c. */
static int ref_cmp(const sortvec_item *a, const sortvec_item *b, int alpha, int desc)
{
    int r;
    if (!alpha) {
        if (a->u.score != b->u.score) {
            r = a->u.score < b->u.score ? -1 : 1;
        } else {
            size_t n = a->elen < b->elen ? a->elen : b->elen;
            r = memcmp(a->ele, b->ele, n);
            if (r == 0) {
                r = a->elen == b->elen ? 0 : (a->elen < b->elen ? -1 : 1);
            }
        }
    } else if (!a->u.by.p || !b->u.by.p) {
        r = a->u.by.p ? 1 : (b->u.by.p ? -1 : 0);
    } else {
        size_t n = a->u.by.len < b->u.by.len ? a->u.by.len : b->u.by.len;
        r = memcmp(a->u.by.p, b->u.by.p, n);
        if (r == 0) {
            r = a->u.by.len == b->u.by.len ? 0 : (a->u.by.len < b->u.by.len ? -1 : 1);
        }
    }
    r = r < 0 ? -1 : r > 0;
    return desc ? -r : r;
}

static void ref_sort(sortvec_item *v, size_t n, int alpha, int desc)
{
    for (size_t i = 1; i < n; i++) {
        sortvec_item t = v[i];
        size_t j = i;
        while (j > 0 && ref_cmp(&v[j - 1], &t, alpha, desc) > 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = t;
    }
}

static const double SCORES[] = {0, -0.0, 1, -1, 2.5, 1e300, -1e300, INFINITY, -INFINITY, 4.9e-324, 3, 3, 1e-5};

static void test_random_sorts(void)
{
    static char pool[64][8];
    size_t plen[64];
    srand(7);
    for (int i = 0; i < 64; i++) {
        plen[i] = (size_t)(rand() % 5);
        for (size_t k = 0; k < plen[i]; k++) {
            pool[i][k] = "ab\0\xff"[rand() % 4];
        }
    }
    static const size_t sizes[] = {0, 1, 2, 15, 16, 17, 33, 100, 257, 1000};
    for (int round = 0; round < 400; round++) {
        size_t n = sizes[round % 10];
        int alpha = (round / 10) % 2, desc = (round / 20) % 2;
        sortvec_item *v = malloc(sizeof(*v) * (n ? n : 1));
        sortvec_item *w = malloc(sizeof(*w) * (n ? n : 1));
        for (size_t i = 0; i < n; i++) {
            int m = rand() % 64;
            v[i].ele = pool[m];
            v[i].elen = plen[m];
            if (alpha) {
                int b = rand() % 64;
                v[i].u.by.p = rand() % 8 == 0 ? NULL : pool[b];
                v[i].u.by.len = plen[b];
            } else {
                int kind = rand() % 3;
                v[i].u.score = kind == 0   ? SCORES[rand() % (sizeof(SCORES) / sizeof(SCORES[0]))]
                               : kind == 1 ? (double)(rand() % 20 - 10)
                                           : (double)rand() / RAND_MAX * 1e6 - 5e5;
            }
        }
        memcpy(w, v, sizeof(*v) * n);
        sortvec_sort(v, n, alpha, desc);
        ref_sort(w, n, alpha, desc);
        int same = 1;
        for (size_t i = 0; i < n; i++) {
            /* the same item in the same place: stable where SORT is */
            if (v[i].ele != w[i].ele || memcmp(&v[i].u, &w[i].u, sizeof(v[i].u)) != 0) {
                same = 0;
            }
        }
        CHECK(same);
        free(v);
        free(w);
    }
}

int main(void)
{
    test_weights();
    test_random_sorts();
    return unit_report("sortvec");
}
