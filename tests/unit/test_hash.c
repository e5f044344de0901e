/* hash unit tests: random operations checked against a model (a value per
 * possible field, plus a TTL), in both encodings, across the conversion,
 * and the field-expiry sweep (full and bounded). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "types/hash.h"
#include "unit.h"

#define UNIVERSE 400

static int present[UNIVERSE];
static char values[UNIVERSE][96];
static int64_t ttls[UNIVERSE];
static size_t model_n;

static sv field(int i, char *buf)
{
    return (sv){buf, (size_t)snprintf(buf, 32, "field:%d", i)};
}

static int field_index(sv f)
{
    if (f.len < 7 || memcmp(f.ptr, "field:", 6) != 0) {
        return -1;
    }
    int n = 0;
    for (size_t k = 6; k < f.len; k++) {
        n = n * 10 + (f.ptr[k] - '0');
    }
    return n;
}

static void check(hash *h)
{
    char buf[32];
    CHECK(hash_len(h) == model_n);
    for (int i = 0; i < UNIVERSE; i += 5) {
        sv v;
        int got = hash_get(h, field(i, buf), &v);
        CHECK(got == present[i]);
        if (got && present[i]) {
            CHECK(v.len == strlen(values[i]) && memcmp(v.ptr, values[i], v.len) == 0);
            int found;
            CHECK(hash_field_expire(h, field(i, buf), &found) == ttls[i] && found);
        }
    }
    hash_iter it;
    sv f, v;
    size_t n = 0;
    hash_iter_init(&it, h);
    while (hash_iter_next(&it, &f, &v)) {
        int idx = field_index(f);
        CHECK(idx >= 0 && idx < UNIVERSE && present[idx]);
        if (idx >= 0 && idx < UNIVERSE) {
            CHECK(v.len == strlen(values[idx]) && memcmp(v.ptr, values[idx], v.len) == 0);
            CHECK(hash_iter_expire(&it) == ttls[idx]);
        }
        n++;
    }
    hash_iter_done(&it);
    CHECK(n == model_n);
    size_t with_ttl = 0;
    int64_t min = INT64_MAX;
    for (int i = 0; i < UNIVERSE; i++) {
        with_ttl += present[i] && ttls[i] >= 0;
        if (present[i] && ttls[i] >= 0 && ttls[i] < min) {
            min = ttls[i];
        }
    }
    CHECK(hash_ttl_count(h) == with_ttl);
    /* The listpackex keeps its minimum exact; the hashtable a lower bound. */
    if (hash_enc(h) == HASH_ENC_LPEX) {
        CHECK(hash_min_expire(h) == min);
    } else {
        CHECK(hash_min_expire(h) <= min);
    }
}

static void count_pair(sv f, sv v, void *ctx)
{
    (void)f;
    (void)v;
    (*(size_t *)ctx)++;
}

static void expired_cb(sv f, void *ctx)
{
    int idx = field_index(f);
    CHECK(idx >= 0 && present[idx] && ttls[idx] >= 0 && ttls[idx] < *(int64_t *)ctx);
    if (idx >= 0) {
        present[idx] = 0;
        ttls[idx] = -1;
        model_n--;
    }
}

static void run_model(const hash_limits *lim, int steps, int with_ttls)
{
    char buf[32];
    memset(present, 0, sizeof(present));
    for (int i = 0; i < UNIVERSE; i++) {
        ttls[i] = -1;
    }
    model_n = 0;
    hash *h = hash_new();
    for (int step = 0; step < steps; step++) {
        int i = (int)(util_rand64() % UNIVERSE);
        sv f = field(i, buf);
        unsigned op = (unsigned)(util_rand64() % 10);
        if (op < 5) {
            char v[96];
            size_t vl = util_rand64() % 8 == 0 ? 70 : util_rand64() % 12;
            for (size_t k = 0; k < vl; k++) {
                v[k] = (char)('a' + util_rand64() % 26);
            }
            v[vl] = '\0';
            int keep = with_ttls && util_rand64() % 2;
            int added;
            h = hash_set(h, f, (sv){v, vl}, keep ? HASH_KEEP_TTL : 0, lim, &added);
            CHECK(added == !present[i]);
            model_n += (size_t)added;
            present[i] = 1;
            memcpy(values[i], v, vl + 1);
            if (!keep) {
                ttls[i] = -1;
            }
        } else if (op < 8) {
            int deleted;
            h = hash_del(h, f, &deleted);
            CHECK(deleted == present[i]);
            model_n -= (size_t)deleted;
            present[i] = 0;
            ttls[i] = -1;
        } else if (with_ttls && present[i]) {
            int64_t when = op == 8 ? (int64_t)(1000 + util_rand64() % 1000) : -1;
            h = hash_set_field_expire(h, f, when);
            ttls[i] = when;
        }
        if (step % 101 == 0) {
            check(h);
        }
    }
    check(h);
    hash *d = hash_dup(h);
    uint8_t a[20] = {0}, b[20] = {0};
    hash_digest(h, a);
    hash_digest(d, b);
    CHECK(memcmp(a, b, sizeof(a)) == 0);
    hash_free(d);
    size_t cnt = 0;
    hash_sample(h, model_n + 5, 1, count_pair, &cnt);
    CHECK(cnt == model_n);
    if (model_n) {
        cnt = 0;
        hash_sample(h, 20, 0, count_pair, &cnt);
        CHECK(cnt == 20);
        sv f, v;
        hash_random(h, &f, &v);
        CHECK(present[field_index(f)]);
    }
    cnt = 0;
    unsigned long cur = 0;
    do {
        cur = hash_scan(h, cur, count_pair, &cnt);
    } while (cur);
    CHECK(cnt >= model_n);
    if (with_ttls) {
        /* Bounded sweeps until the min passes, then a full pass. */
        int64_t now = 1500;
        CHECK(hash_min_expire(h) >= 1000 || hash_ttl_count(h) == 0);
        for (int k = 0; k < 200 && hash_min_expire(h) < now; k++) {
            hash_expire_fields(h, now, 16, expired_cb, &now);
        }
        check(h);
        for (int i = 0; i < UNIVERSE; i++) {
            CHECK(!(present[i] && ttls[i] >= 0 && ttls[i] < now));
        }
        now = 5000;
        hash_expire_fields(h, now, 0, expired_cb, &now);
        CHECK(hash_ttl_count(h) == 0 && hash_min_expire(h) == INT64_MAX);
        check(h);
    }
    CHECK(hash_mem(h) > 0);
    hash_free(h);
}

/* Past 4096 fields hash_mem extrapolates from the first ones: for fields
 * of one size it grows with the count as the exact sum would. */
static void test_mem_of_big_hash(void)
{
    hash_limits dflt = {128, 64};
    hash *h = hash_new();
    size_t at4k = 0;
    for (int i = 0; i < 40000; i++) {
        char f[32];
        int added;
        h = hash_set(h, (sv){f, (size_t)snprintf(f, sizeof(f), "field:%08d", i)}, SV("value-of-16-b"), 0, &dflt,
                     &added);
        if (i == 3999) {
            at4k = hash_mem(h);
        }
    }
    size_t at40k = hash_mem(h);
    /* Bytes per field, measured at 4000 and extrapolated at 40000, agree
     * but for the table's slots (which grow by powers of two). */
    double exact = (double)at4k / 4000, estimated = (double)at40k / 40000;
    CHECK(estimated > 0.9 * exact && estimated < 1.3 * exact);
    hash_free(h);
}

int main(void)
{
    test_mem_of_big_hash();
    util_rand_seed(11);
    hash_limits dflt = {128, 64};
    run_model(&dflt, 20000, 0);
    run_model(&dflt, 20000, 1);
    hash_limits tiny = {4, 8};
    run_model(&tiny, 5000, 1);
    hash_limits small_only = {1000, 1000};
    run_model(&small_only, 3000, 0);

    /* Conversion points. */
    hash *h = hash_new();
    int added;
    for (int i = 0; i < 4; i++) {
        char f[8];
        h = hash_set(h, (sv){f, (size_t)snprintf(f, sizeof(f), "f%d", i)}, SV("v"), 0, &tiny, &added);
    }
    CHECK(strcmp(hash_encoding(h), "listpack") == 0);
    h = hash_set(h, SV("f4"), SV("v"), 0, &tiny, &added);
    CHECK(strcmp(hash_encoding(h), "hashtable") == 0 && hash_len(h) == 5);
    hash_free(h);
    h = hash_new();
    h = hash_set(h, SV("f"), SV("123456789"), 0, &tiny, &added);
    CHECK(strcmp(hash_encoding(h), "hashtable") == 0);
    hash_free(h);
    /* A TTL makes a listpack hash a listpackex. */
    h = hash_new();
    h = hash_set(h, SV("f"), SV("v"), 0, &dflt, &added);
    h = hash_set_field_expire(h, SV("f"), 10);
    CHECK(strcmp(hash_encoding(h), "listpackex") == 0 && hash_ttl_count(h) == 1 && hash_min_expire(h) == 10);
    /* Overwriting with HSET semantics drops the TTL; HINCRBY keeps it. */
    h = hash_set(h, SV("f"), SV("w"), HASH_KEEP_TTL, &dflt, &added);
    CHECK(hash_ttl_count(h) == 1);
    h = hash_set(h, SV("f"), SV("x"), 0, &dflt, &added);
    CHECK(hash_ttl_count(h) == 0);
    hash_free(h);
    return unit_report("hash");
}
