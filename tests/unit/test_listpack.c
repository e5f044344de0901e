/* listpack unit test: random operations checked against a simple model
 * (an array of strings), walking both directions after every step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "ds/listpack.h"
#include "unit.h"

#define MAXN 300

static char model[MAXN][200];
static size_t mlen[MAXN];
static int n;

static void check(lp *l)
{
    CHECK(lp_len(l) == (size_t)n);
    unsigned char *p = lp_first(l);
    for (int i = 0; i < n; i++) {
        CHECK(p != NULL);
        sv v = lp_get(p);
        CHECK(v.len == mlen[i] && memcmp(v.ptr, model[i], v.len) == 0);
        p = lp_next(l, p);
    }
    CHECK(p == NULL);
    p = lp_last(l);
    for (int i = n - 1; i >= 0; i--) {
        CHECK(p != NULL);
        CHECK(lp_get(p).len == mlen[i]);
        p = lp_prev(l, p);
    }
    CHECK(p == NULL);
}

static void random_value(char *buf, size_t *len)
{
    /* Mix of short and long (multi-byte varint) lengths. */
    size_t l = util_rand64() % 4 == 0 ? 130 + util_rand64() % 60 : util_rand64() % 20;
    for (size_t i = 0; i < l; i++) {
        buf[i] = (char)(util_rand64() & 0xFF);
    }
    *len = l;
}

int main(void)
{
    util_rand_seed(42);
    lp *l = lp_new();
    check(l);
    for (int step = 0; step < 20000; step++) {
        int op = (int)(util_rand64() % 4);
        if ((op == 0 || n == 0) && n < MAXN) {
            int at = (int)(util_rand64() % (uint64_t)(n + 1));
            char buf[200];
            size_t len;
            random_value(buf, &len);
            unsigned char *p = at == n ? NULL : lp_seek(l, at);
            unsigned char *pos;
            l = lp_insert(l, p, (sv){buf, len}, &pos);
            CHECK(lp_get(pos).len == len);
            memmove(model[at + 1], model[at], sizeof(model[0]) * (size_t)(n - at));
            memmove(mlen + at + 1, mlen + at, sizeof(mlen[0]) * (size_t)(n - at));
            memcpy(model[at], buf, len);
            mlen[at] = len;
            n++;
        } else if (op == 1 && n > 0) {
            int at = (int)(util_rand64() % (uint64_t)n);
            unsigned char *p = lp_seek(l, at);
            l = lp_delete(l, &p);
            memmove(model[at], model[at + 1], sizeof(model[0]) * (size_t)(n - at - 1));
            memmove(mlen + at, mlen + at + 1, sizeof(mlen[0]) * (size_t)(n - at - 1));
            n--;
            CHECK(at == n ? p == NULL : p != NULL);
        } else if (op == 2 && n > 0) {
            int at = (int)(util_rand64() % (uint64_t)n);
            char buf[200];
            size_t len;
            random_value(buf, &len);
            unsigned char *p = lp_seek(l, at);
            l = lp_replace(l, &p, (sv){buf, len});
            memcpy(model[at], buf, len);
            mlen[at] = len;
        } else if (op == 3 && n > 2) {
            int at = (int)(util_rand64() % (uint64_t)n);
            int cnt = (int)(util_rand64() % 3);
            l = lp_delete_range(l, at, (unsigned long)cnt);
            if (at + cnt > n) {
                cnt = n - at;
            }
            memmove(model[at], model[at + cnt], sizeof(model[0]) * (size_t)(n - at - cnt));
            memmove(mlen + at, mlen + at + cnt, sizeof(mlen[0]) * (size_t)(n - at - cnt));
            n -= cnt;
        }
        check(l);
    }
    /* find with skip over pairs */
    lp_free(l);
    l = lp_new();
    l = lp_append(l, SV("f1"));
    l = lp_append(l, SV("f2"));
    l = lp_append(l, SV("f2"));
    l = lp_append(l, SV("v2"));
    unsigned char *p = lp_find(l, lp_first(l), SV("f2"), 1);
    CHECK(p == lp_seek(l, 2));
    CHECK(lp_find(l, lp_first(l), SV("v2"), 1) == NULL);
    l = lp_append_ll(l, -42);
    long long v;
    CHECK(lp_get_ll(lp_last(l), &v) && v == -42);
    lp *d = lp_dup(l);
    CHECK(lp_bytes(d) == lp_bytes(l));
    lp_free(d);
    lp_free(l);
    CHECK(alloc_used() == 0);
    return unit_report("listpack");
}
