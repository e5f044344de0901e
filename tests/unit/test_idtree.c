/* idtree unit test: random inserts, removes and seeks checked against a
 * model (a sorted array of keys), with full walks in both directions, for
 * append-only, front-trimming and random key patterns. */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "ds/idtree.h"
#include "unit.h"

#define MAXN 20000

static stream_id model[MAXN];
static int n;

static int model_find(const stream_id *k)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (stream_id_cmp(&model[mid], k) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* Values encode their key so a mix-up shows. */
static void *val_of(const stream_id *k)
{
    return (void *)(uintptr_t)(k->ms * 1000003u + k->seq + 1);
}

static void check_walks(idtree *t)
{
    CHECK(idtree_count(t) == (size_t)n);
    idtree_pos p;
    int ok = idtree_first(t, &p), i = 0;
    for (; ok && i < n; i++, ok = idtree_next(&p)) {
        stream_id k = idtree_key(&p);
        CHECK(stream_id_cmp(&k, &model[i]) == 0);
        CHECK(idtree_val(&p) == val_of(&model[i]));
    }
    CHECK(i == n && !ok);
    ok = idtree_last(t, &p);
    for (i = n - 1; ok && i >= 0; i--, ok = idtree_prev(&p)) {
        stream_id k = idtree_key(&p);
        CHECK(stream_id_cmp(&k, &model[i]) == 0);
    }
    CHECK(i == -1 && !ok);
}

static void check_seeks(idtree *t, stream_id k)
{
    int i = model_find(&k);
    idtree_pos p;
    int ok = idtree_seek_ge(t, &k, &p);
    CHECK(ok == (i < n));
    if (ok && i < n) {
        stream_id got = idtree_key(&p);
        CHECK(stream_id_cmp(&got, &model[i]) == 0);
    }
    int j = (i < n && stream_id_cmp(&model[i], &k) == 0) ? i : i - 1;
    ok = idtree_seek_le(t, &k, &p);
    CHECK(ok == (j >= 0));
    if (ok && j >= 0) {
        stream_id got = idtree_key(&p);
        CHECK(stream_id_cmp(&got, &model[j]) == 0);
    }
    void *f = idtree_find(t, &k);
    CHECK(f == ((i < n && stream_id_cmp(&model[i], &k) == 0) ? val_of(&k) : NULL));
}

static stream_id random_key(int pattern, int step)
{
    stream_id k;
    switch (pattern) {
    case 0: /* append-only, like stream blocks */
        k.ms = (uint64_t)step / 3;
        k.seq = (uint64_t)(step % 3);
        break;
    case 1: /* narrow random keys: many duplicates */
        k.ms = (uint64_t)(rand() % 500);
        k.seq = (uint64_t)(rand() % 4);
        break;
    default: /* wide keys, including the extremes */
        k.ms = rand() % 50 == 0 ? UINT64_MAX : ((uint64_t)rand() << 32) ^ (uint64_t)rand();
        k.seq = rand() % 50 == 0 ? UINT64_MAX : (uint64_t)(rand() % 8);
        break;
    }
    return k;
}

static void run(int pattern, int steps, int remove_front)
{
    idtree t;
    idtree_init(&t);
    n = 0;
    for (int s = 0; s < steps; s++) {
        int op = rand() % 10;
        if (op < 6 && n < MAXN) {
            stream_id k = random_key(pattern, s);
            int i = model_find(&k);
            int exists = i < n && stream_id_cmp(&model[i], &k) == 0;
            CHECK(idtree_insert(&t, &k, val_of(&k)) == !exists);
            if (!exists) {
                memmove(&model[i + 1], &model[i], sizeof(stream_id) * (size_t)(n - i));
                model[i] = k;
                n++;
            }
        } else if (op < 9 && n > 0) {
            int i = remove_front ? 0 : rand() % n;
            stream_id k = model[i];
            CHECK(idtree_remove(&t, &k) == val_of(&k));
            CHECK(idtree_remove(&t, &k) == NULL);
            memmove(&model[i], &model[i + 1], sizeof(stream_id) * (size_t)(n - i - 1));
            n--;
        } else {
            check_seeks(&t, random_key(pattern, rand() % (s + 1)));
            if (n > 0) {
                check_seeks(&t, model[rand() % n]);
            }
        }
        if (s % 997 == 0) {
            check_walks(&t);
        }
    }
    check_walks(&t);
    /* Drain to empty: the tree must give back every node. */
    while (n > 0) {
        stream_id k = model[--n];
        CHECK(idtree_remove(&t, &k) == val_of(&k));
    }
    CHECK(idtree_count(&t) == 0 && idtree_mem(&t) == 0);
    idtree_pos p;
    CHECK(!idtree_first(&t, &p));
    idtree_clear(&t);
}

/* Defragmentation in steps of a few values with every node and value
 * moved (forced), keys inserted and removed between the steps: the tree
 * must stay whole (walks, seeks, the leaf chain) and every value must be
 * the one its move gave. Values here are fake pointers, so the move
 * function maps a key's value to a second fake one. */
static void *val2_of(const stream_id *k)
{
    return (void *)((uintptr_t)val_of(k) | ((uintptr_t)1 << 62));
}

static void *move_val(void *val, const stream_id *key, void *ctx)
{
    (*(size_t *)ctx)++;
    CHECK(val == val_of(key) || val == val2_of(key));
    return val == val_of(key) ? val2_of(key) : NULL;
}

static void test_defrag(int pattern, size_t budget)
{
    idtree t;
    idtree_init(&t);
    n = 0;
    for (int s = 0; s < 5000; s++) {
        stream_id k = random_key(pattern, s);
        int i = model_find(&k);
        if (!(i < n && stream_id_cmp(&model[i], &k) == 0) && idtree_insert(&t, &k, val_of(&k))) {
            memmove(&model[i + 1], &model[i], sizeof(stream_id) * (size_t)(n - i));
            model[i] = k;
            n++;
        }
    }
    alloc_defrag_force(1);
    stream_id at = {0, 0};
    size_t offered = 0, moves = 0, calls = 0;
    int more = 1;
    while (more && calls < 100000) {
        size_t before = offered;
        more = idtree_defrag_step(&t, &at, budget, move_val, &moves, &offered);
        CHECK(offered - before <= budget && (offered > before || !more || n == 0));
        calls++;
        /* Writes between the steps, before and after the position. */
        int op = more ? rand() % 4 : 3;
        if (op == 0 && n > 0) {
            stream_id k = model[rand() % n];
            int i = model_find(&k);
            idtree_remove(&t, &k);
            memmove(&model[i], &model[i + 1], sizeof(stream_id) * (size_t)(n - i - 1));
            n--;
        } else if (op == 1 && n < MAXN) {
            stream_id k = random_key(pattern, rand() % 5000);
            int i = model_find(&k);
            /* A new key gets the moved form when it is behind the walk. */
            void *v = stream_id_cmp(&k, &at) < 0 ? val2_of(&k) : val_of(&k);
            if (!(i < n && stream_id_cmp(&model[i], &k) == 0) && idtree_insert(&t, &k, v)) {
                memmove(&model[i + 1], &model[i], sizeof(stream_id) * (size_t)(n - i));
                model[i] = k;
                n++;
            }
        }
    }
    alloc_defrag_force(0);
    CHECK(!more);
    CHECK(moves == offered);
    CHECK(idtree_count(&t) == (size_t)n);
    /* Every key the walk was still to reach got moved; a walk never steps
     * back, so each value is in its moved form. */
    idtree_pos p;
    int ok = idtree_first(&t, &p), i = 0;
    for (; ok && i < n; i++, ok = idtree_next(&p)) {
        stream_id k = idtree_key(&p);
        CHECK(stream_id_cmp(&k, &model[i]) == 0);
        CHECK(idtree_val(&p) == val2_of(&model[i]));
    }
    CHECK(i == n && !ok);
    ok = idtree_last(&t, &p);
    for (i = n - 1; ok && i >= 0; i--, ok = idtree_prev(&p)) {
        stream_id k = idtree_key(&p);
        CHECK(stream_id_cmp(&k, &model[i]) == 0);
    }
    CHECK(i == -1 && !ok);
    for (int j = 0; j < 200 && n > 0; j++) {
        stream_id k = model[rand() % n];
        CHECK(idtree_find(&t, &k) == val2_of(&k));
        CHECK(idtree_seek_ge(&t, &k, &p) && idtree_val(&p) == val2_of(&k));
    }
    /* An empty tree and a one-leaf tree are done in one step. */
    idtree e;
    idtree_init(&e);
    stream_id z = {0, 0};
    size_t o = 0;
    CHECK(idtree_defrag_step(&e, &z, budget, move_val, &moves, &o) == 0 && o == 0);
    idtree_insert(&e, &z, val_of(&z));
    alloc_defrag_force(1);
    CHECK(idtree_defrag_step(&e, &z, budget, move_val, &moves, &o) == 0 && o == 1);
    alloc_defrag_force(0);
    CHECK(idtree_find(&e, &z) == val2_of(&z));
    idtree_clear(&e);
    idtree_clear(&t);
}

int main(void)
{
    srand(12345);
    for (int pattern = 0; pattern < 3; pattern++) {
        test_defrag(pattern, 1);
        test_defrag(pattern, 7);
        test_defrag(pattern, 1000);
    }
    for (int pattern = 0; pattern < 3; pattern++) {
        run(pattern, 40000, 0);
        run(pattern, 40000, 1);
    }
    /* Sequential inserts fill nodes: about ORDER items per leaf. */
    idtree t;
    idtree_init(&t);
    for (int i = 0; i < 10000; i++) {
        stream_id k = {(uint64_t)i, 0};
        idtree_insert(&t, &k, val_of(&k));
    }
    CHECK(idtree_mem(&t) < 10000 / (IDTREE_ORDER - 1) * 800 + 4000);
    idtree_clear(&t);
    CHECK(alloc_used() == 0);
    return unit_report("idtree");
}
