/* topk unit test: exact counts while the keys fit; on a skewed weighted
 * stream of many more keys than counters, the true heaviest keys are found
 * with counts that never underestimate and overestimate by at most
 * total / capacity (Space-Saving's bounds), against exact counts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "ds/topk.h"
#include "unit.h"

#define NKEYS 5000

static uint64_t exact[NKEYS];

static size_t key_of(char *buf, int i)
{
    return (size_t)snprintf(buf, 16, "key:%d", i);
}

static int key_index(const topk_item *it)
{
    char buf[16];
    memcpy(buf, it->key, it->len);
    buf[it->len] = '\0';
    return atoi(buf + 4);
}

static void test_exact_when_it_fits(void)
{
    topk *t = topk_new(16);
    char buf[16];
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 10; i++) {
            topk_add(t, buf, key_of(buf, i), (uint64_t)(i + 1));
        }
    }
    topk_item out[16];
    size_t n = topk_list(t, 16, out);
    CHECK(n == 10 && topk_count(t) == 10);
    for (size_t j = 0; j < n; j++) {
        CHECK(key_index(&out[j]) == 9 - (int)j);
        CHECK(out[j].weight == (uint64_t)(5 * (10 - j)));
    }
    CHECK(topk_list(t, 3, out) == 3 && key_index(&out[0]) == 9);
    topk_free(t);
}

static void test_skewed_stream(size_t capacity)
{
    memset(exact, 0, sizeof(exact));
    topk *t = topk_new(capacity);
    uint64_t total = 0;
    char buf[16];
    for (int step = 0; step < 200000; step++) {
        /* 80% of the draws go to 20 keys, the rest spread over all. */
        int i = rand() % 10 < 8 ? rand() % 20 : rand() % NKEYS;
        uint64_t w = 1 + (uint64_t)(rand() % 100);
        exact[i] += w;
        total += w;
        topk_add(t, buf, key_of(buf, i), w);
    }
    CHECK(topk_count(t) == capacity);
    topk_item out[20];
    size_t n = topk_list(t, 20, out);
    CHECK(n == 20);
    uint64_t bound = total / capacity;
    int hot = 0;
    for (size_t j = 0; j < n; j++) {
        int i = key_index(&out[j]);
        hot += i < 20;
        CHECK(out[j].weight >= exact[i]);
        CHECK(out[j].weight - exact[i] <= bound);
        if (j > 0) {
            CHECK(out[j].weight <= out[j - 1].weight);
        }
    }
    CHECK(hot == 20);
    CHECK(topk_mem(t) > capacity * sizeof(uint64_t));
    topk_free(t);
}

int main(void)
{
    srand(99);
    test_exact_when_it_fits();
    test_skewed_stream(256);
    test_skewed_stream(1024);
    CHECK(alloc_used() == 0);
    return unit_report("topk");
}
