/* set and intset unit tests: random operations checked against a simple
 * model (a boolean per possible member), in every encoding and across the
 * conversions between them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "ds/intset.h"
#include "types/set.h"
#include "unit.h"

#define UNIVERSE 700

static int model[UNIVERSE];
static size_t model_n;

/* Member i: an integer, a short string, or (rarely) a long string. */
static sv member(int i, char *buf)
{
    if (i < 500) {
        return (sv){buf, (size_t)util_ll2str(buf, (long long)i * 1000003LL - 250000000LL)};
    }
    if (i < 680) {
        return (sv){buf, (size_t)snprintf(buf, 64, "m%d", i)};
    }
    return (sv){
        buf, (size_t)snprintf(buf, 100, "long-member-%d-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", i)};
}

static int member_index(sv m)
{
    char buf[128];
    for (int i = 0; i < UNIVERSE; i++) {
        sv x = member(i, buf);
        if (sv_eq(x, m)) {
            return i;
        }
    }
    return -1;
}

static void check(set *s)
{
    char buf[128];
    CHECK(set_len(s) == model_n);
    for (int i = 0; i < UNIVERSE; i += 7) {
        CHECK(set_contains(s, member(i, buf)) == model[i]);
    }
    int seen[UNIVERSE] = {0};
    set_iter it;
    sv m;
    size_t n = 0;
    set_iter_init(&it, s);
    while (set_iter_next(&it, &m)) {
        int idx = member_index(m);
        CHECK(idx >= 0 && model[idx] && !seen[idx]);
        if (idx >= 0) {
            seen[idx] = 1;
        }
        n++;
    }
    set_iter_done(&it);
    CHECK(n == model_n);
}

static void count_cb(sv m, void *ctx)
{
    (void)m;
    (*(size_t *)ctx)++;
}

static void test_intset(void)
{
    /* Against a sorted model, across the three widths. */
    intset *is = intset_new();
    long long vals[] = {5, -3, 40000, -70000, 1LL << 40, -(1LL << 50), 0, 5, 32767, -32768};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        int added;
        is = intset_add(is, vals[i], &added);
        CHECK(added == (i != 7));
    }
    CHECK(intset_len(is) == 9);
    for (size_t i = 1; i < intset_len(is); i++) {
        CHECK(intset_get(is, i - 1) < intset_get(is, i));
    }
    CHECK(intset_min(is) == -(1LL << 50) && intset_max(is) == (1LL << 40));
    CHECK(intset_find(is, 40000) && !intset_find(is, 40001) && !intset_find(is, 1LL << 62));
    int removed;
    is = intset_remove(is, 40000, &removed);
    CHECK(removed && !intset_find(is, 40000) && intset_len(is) == 8);
    is = intset_remove(is, 1LL << 62, &removed);
    CHECK(!removed);
    intset *d = intset_dup(is);
    CHECK(intset_bytes(d) == intset_bytes(is));
    intset_free(d);
    intset_free(is);

    /* Random against a presence array. */
    is = intset_new();
    static char present[2000];
    memset(present, 0, sizeof(present));
    size_t n = 0;
    for (int i = 0; i < 20000; i++) {
        int v = (int)(util_rand64() % 2000);
        long long x = (long long)v * 3000000LL - 3000000000LL; /* spans all widths */
        if (util_rand64() % 3) {
            int a;
            is = intset_add(is, x, &a);
            CHECK(a == !present[v]);
            n += (size_t)a;
            present[v] = 1;
        } else {
            int r;
            is = intset_remove(is, x, &r);
            CHECK(r == present[v]);
            n -= (size_t)r;
            present[v] = 0;
        }
    }
    CHECK(intset_len(is) == n);
    for (int v = 0; v < 2000; v++) {
        CHECK(intset_find(is, (long long)v * 3000000LL - 3000000000LL) == present[v]);
    }
    intset_free(is);
}

static void run_model(const set_limits *lim, int universe, int steps)
{
    char buf[128];
    memset(model, 0, sizeof(model));
    model_n = 0;
    set *s = set_new(member(0, buf), 1, lim);
    int saw[3] = {0};
    for (int step = 0; step < steps; step++) {
        int i = (int)(util_rand64() % (uint64_t)universe);
        sv m = member(i, buf);
        if (util_rand64() % 4) {
            int added;
            s = set_add(s, m, lim, &added);
            CHECK(added == !model[i]);
            model_n += (size_t)added;
            model[i] = 1;
        } else {
            int removed;
            s = set_remove(s, m, &removed);
            CHECK(removed == model[i]);
            model_n -= (size_t)removed;
            model[i] = 0;
        }
        saw[set_enc(s)] = 1;
        if (step % 97 == 0) {
            check(s);
        }
    }
    check(s);
    /* Copies, digests, sampling and scanning agree with the original. */
    set *d = set_dup(s);
    CHECK(set_len(d) == set_len(s));
    uint8_t a[20] = {0}, b[20] = {0};
    set_digest(s, a);
    set_digest(d, b);
    CHECK(memcmp(a, b, sizeof(a)) == 0);
    set_free(d);
    if (model_n > 0) {
        size_t cnt = 0;
        set_sample(s, model_n + 10, 1, count_cb, &cnt);
        CHECK(cnt == model_n);
        cnt = 0;
        set_sample(s, 3, 1, count_cb, &cnt);
        CHECK(cnt == (model_n < 3 ? model_n : 3));
        cnt = 0;
        set_sample(s, 50, 0, count_cb, &cnt);
        CHECK(cnt == 50);
        char rb[32];
        CHECK(member_index(set_random(s, rb)) >= 0);
    }
    size_t scanned = 0;
    unsigned long cur = 0;
    do {
        cur = set_scan(s, cur, count_cb, &scanned);
    } while (cur);
    CHECK(scanned >= model_n);
    CHECK(set_mem(s) > 0);
    (void)saw;
    set_free(s);
}

int main(void)
{
    util_rand_seed(7);
    test_intset();
    set_limits dflt = {512, 128, 64};
    /* Integers only: intset, then a hashtable past 512. */
    run_model(&dflt, 300, 3000);
    run_model(&dflt, 500, 8000);
    /* Mixed members: listpack then hashtable. */
    run_model(&dflt, 700, 8000);
    set_limits tiny = {4, 6, 8};
    run_model(&tiny, 700, 4000);

    /* Encoding choices at creation and on conversion. */
    char buf[128];
    set *s = set_new(SV("12"), 1, &dflt);
    CHECK(strcmp(set_encoding(s), "intset") == 0);
    s = set_add(s, SV("12"), &dflt, NULL);
    s = set_add(s, SV("abc"), &dflt, NULL);
    CHECK(strcmp(set_encoding(s), "listpack") == 0);
    CHECK(set_contains(s, SV("12")) && set_contains(s, SV("abc")));
    s = set_convert_ht(s);
    CHECK(strcmp(set_encoding(s), "hashtable") == 0 && set_len(s) == 2);
    set_free(s);
    s = set_new(SV("abc"), 1000, &dflt);
    CHECK(strcmp(set_encoding(s), "hashtable") == 0);
    set_free(s);
    s = set_new(SV("1"), 200, &dflt);
    CHECK(strcmp(set_encoding(s), "intset") == 0);
    set_free(s);
    s = set_new(SV("1"), 600, &dflt);
    CHECK(strcmp(set_encoding(s), "hashtable") == 0);
    set_free(s);
    (void)buf;
    return unit_report("set");
}
