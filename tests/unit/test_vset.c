/* vset unit test: active defragmentation of a vector set. Every block is
 * forced to move (alloc_defrag_force), in steps of a small budget with
 * adds and removes between steps, with and without a projection; after
 * it every element is found by name with its attributes, its graph node
 * points back at it, the graph and the order tree pass their checks, and
 * a search returns items the dict knows. */
#include "base/alloc.h"
#include "types/vset.h"
#include "unit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 3000
static int live[N];
static int attr_of[N];

static sv nm(char *b, int i)
{
    return (sv){b, (size_t)sprintf(b, "e%d", i)};
}

static void add(vset *v, int i)
{
    char b[16], a[32];
    float vec[8];
    for (int k = 0; k < 8; k++)
        vec[k] = (float)((i * 7 + k * 13) % 17) - 8.0f;
    int at = rand() % 3;
    sv attr = {a, (size_t)sprintf(a, "{\"x\":%d}", i)};
    vset_add(v, nm(b, i), vec, 50, at ? &attr : NULL);
    if (at)
        attr_of[i] = 1;
    else if (!live[i])
        attr_of[i] = 0;
    live[i] = 1;
}

static void check(vset *v)
{
    size_t cnt = 0;
    for (int i = 0; i < N; i++) {
        char b[16], a[32];
        vset_item *it = vset_find(v, nm(b, i));
        CHECK((it != NULL) == live[i]);
        if (!it)
            continue;
        cnt++;
        sv e = vset_item_ele(it);
        CHECK(e.len == strlen(b) && memcmp(e.ptr, b, e.len) == 0);
        CHECK(vset_item_of(it->node) == it);
        if (attr_of[i]) {
            int n = sprintf(a, "{\"x\":%d}", i);
            CHECK(it->attr && str_len(it->attr) == (size_t)n && memcmp(it->attr, a, n) == 0);
        } else {
            CHECK(it->attr == NULL);
        }
    }
    CHECK(vset_len(v) == cnt);
    CHECK(hnsw_check(v->h) == 0);
    CHECK(ordtree_check(&v->order) == 0);
    float q[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    hnsw_hit out[10];
    size_t k = hnsw_search(v->h, q, 10, 50, NULL, NULL, 0, out);
    for (size_t i = 0; i < k; i++) {
        vset_item *it = vset_item_of(out[i].node);
        CHECK(vset_find(v, vset_item_ele(it)) == it);
    }
}

static void run(size_t budget, int writes, int proj)
{
    memset(live, 0, sizeof(live));
    vset *v = vset_new(8, HNSW_QUANT_F32, 16, proj ? 16 : 0);
    for (int i = 0; i < N / 2; i++)
        add(v, rand() % N);
    check(v);
    alloc_defrag_force(1);
    unsigned long cursor = 0;
    long calls = 0;
    vset *before = v;
    do {
        v = vset_defrag(v, &cursor, budget);
        if (calls++ == 0)
            CHECK(v != before);
        if (writes && cursor) {
            int i = rand() % N, op = rand() % 3;
            char b[16];
            if (op == 0) {
                add(v, i);
            } else if (op == 1 && live[i]) {
                CHECK(vset_remove(v, nm(b, i)) == 1);
                live[i] = 0;
            }
        }
        if (calls % 97 == 0)
            check(v);
    } while (cursor && calls < 1000000);
    alloc_defrag_force(0);
    CHECK(cursor == 0);
    check(v);
    vset_free(v);
}

int main(void)
{
    srand(99);
    run(3, 1, 0);
    run(1, 1, 1);
    run(100000, 0, 1);
    CHECK(alloc_used() == 0);
    return unit_report("vset_defrag");
}
