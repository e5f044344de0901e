/* ordtree unit test: random inserts, removals, score updates and rank-range
 * deletes checked against a model (a sorted array of elements), at sizes
 * from a handful to several levels of inner nodes, so that leaf and inner
 * splits, merges and rebalances all happen. After the steps the tree's own
 * invariants (ordtree_check) hold, both walks match the model, and ranks,
 * rank lookups and prefix counts agree with it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "ds/ordtree.h"
#include "unit.h"

/* The model: the tree's elements in order. */
static ordtree_elem **model;
static size_t model_n, model_cap;

static size_t model_lower_bound(double s, sv m)
{
    size_t lo = 0, hi = model_n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ordtree_cmp(model[mid]->score, ordtree_member(model[mid]), s, m) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static void model_insert(ordtree_elem *e)
{
    if (model_n == model_cap) {
        model_cap = model_cap ? model_cap * 2 : 1024;
        model = alloc_resize(model, sizeof(*model) * model_cap);
    }
    size_t i = model_lower_bound(e->score, ordtree_member(e));
    memmove(&model[i + 1], &model[i], sizeof(*model) * (model_n - i));
    model[i] = e;
    model_n++;
}

static void model_remove_at(size_t i)
{
    memmove(&model[i], &model[i + 1], sizeof(*model) * (model_n - i - 1));
    model_n--;
}

/* Members are unique by a serial number; their lengths vary (0 to 40
 * bytes) so that ties on score compare members of every shape. */
static unsigned long serial;

static sv make_member(char *buf)
{
    unsigned long id = serial++;
    int len = snprintf(buf, 64, "%lu", id);
    int pad = (int)(util_rand64() % 5) == 0 ? (int)(util_rand64() % 30) : 0;
    memset(buf + len, 'x', (size_t)pad);
    return (sv){buf, (size_t)(len + pad)};
}

static double draw_score(int ties)
{
    if (ties) {
        return (double)(util_rand64() % 3); /* mostly ties: a lex-like set */
    }
    return (double)(util_rand64() % 100000) / 7.0;
}

static ordtree_elem *insert_new(ordtree *t, double score)
{
    char buf[64];
    ordtree_elem *e = ordtree_insert(t, score, make_member(buf));
    model_insert(e);
    return e;
}

static void free_counted(ordtree_elem *e, void *ctx)
{
    (*(size_t *)ctx)++;
    alloc_free(e);
}

typedef struct below {
    double max;
} below;

static int pred_below(double s, sv m, const void *ctx)
{
    return s < ((const below *)ctx)->max;
}

/* Everything the tree answers, against the model. */
static void check_against_model(ordtree *t)
{
    CHECK(ordtree_check(t) == 0);
    CHECK(t->length == model_n);
    int fwd = 1, back = 1, ranks = 1, at = 1;
    size_t i = 0;
    for (ordtree_pos p = ordtree_at(t, 0); p.leaf; p = ordtree_pos_next(p), i++) {
        if (i >= model_n || ordtree_pos_elem(p) != model[i]) {
            fwd = 0;
            break;
        }
    }
    fwd = fwd && i == model_n;
    i = model_n;
    for (ordtree_pos p = ordtree_at(t, model_n - 1); model_n && p.leaf; p = ordtree_pos_prev(p)) {
        if (i == 0 || ordtree_pos_elem(p) != model[i - 1]) {
            back = 0;
            break;
        }
        i--;
    }
    back = back && i == 0;
    size_t step = model_n / 500 + 1;
    for (size_t r = 0; r < model_n; r += step) {
        if (ordtree_rank(t, model[r]) != r) {
            ranks = 0;
        }
        ordtree_pos p = ordtree_at(t, r);
        if (!p.leaf || ordtree_pos_elem(p) != model[r]) {
            at = 0;
        }
    }
    if (model_n && ordtree_rank(t, model[model_n - 1]) != model_n - 1) {
        ranks = 0;
    }
    CHECK(fwd && back && ranks && at);
    CHECK(ordtree_at(t, model_n).leaf == NULL);
    int prefix = 1;
    for (int k = 0; k < 20; k++) {
        below b = {draw_score(0)};
        if (k == 0) {
            b.max = -1; /* below everything */
        } else if (k == 1) {
            b.max = 1e9; /* above everything */
        }
        size_t want = 0;
        while (want < model_n && model[want]->score < b.max) {
            want++;
        }
        if (ordtree_prefix_count(t, pred_below, &b) != want) {
            prefix = 0;
        }
    }
    CHECK(prefix);
}

/* One random session growing the tree to about `size` elements and back
 * down, with every kind of change along the way. */
static void random_session(size_t size, int ties, unsigned long seed)
{
    util_rand_seed(seed);
    ordtree t;
    ordtree_init(&t);
    model_n = 0;
    size_t steps = size * 6 + 200, checks = 12;
    for (size_t step = 0; step < steps; step++) {
        int growing = step < steps / 2;
        uint64_t op = util_rand64() % 100;
        if (op < (growing ? 55u : 25u)) {
            insert_new(&t, draw_score(ties));
        } else if (op < 80 && model_n) {
            size_t i = util_rand64() % model_n;
            ordtree_elem *e = model[i];
            ordtree_unlink(&t, e);
            model_remove_at(i);
            alloc_free(e);
        } else if (op < 95 && model_n) {
            size_t i = util_rand64() % model_n;
            ordtree_elem *e = model[i];
            model_remove_at(i);
            double d = util_rand64() % 2 ? draw_score(ties) : e->score + (util_rand64() % 2 ? 1e-9 : -1e-9);
            ordtree_update_score(&t, e, d);
            model_insert(e);
        } else if (model_n) {
            size_t start = util_rand64() % model_n;
            size_t len = util_rand64() % 4 == 0 ? util_rand64() % (model_n - start + 1) : util_rand64() % 300;
            size_t end = start + len, freed = 0;
            size_t want = (end > model_n ? model_n : end) - start;
            size_t got = ordtree_delete_ranks(&t, start, end, free_counted, &freed);
            CHECK(got == want && freed == want);
            memmove(&model[start], &model[start + want], sizeof(*model) * (model_n - start - want));
            model_n -= want;
        }
        if (step % (steps / checks + 1) == 0) {
            check_against_model(&t);
        }
    }
    check_against_model(&t);
    ordtree_destroy(&t);
    CHECK(t.root == NULL && t.length == 0);
}

/* Loads in ascending and in descending order keep every leaf full, and
 * grow the tree to three inner levels; then it is emptied in random
 * order, merging its way back down to nothing. */
static void ordered_loads(void)
{
    util_rand_seed(5);
    ordtree t;
    ordtree_init(&t);
    model_n = 0;
    enum { N = 200000 };
    for (int i = 0; i < N; i++) {
        insert_new(&t, (double)i);
    }
    CHECK(t.height == 3);
    CHECK(t.leaves == (N + ORDTREE_LEAF_CAP - 1) / ORDTREE_LEAF_CAP);
    check_against_model(&t);
    for (int i = 0; i < N; i++) {
        insert_new(&t, (double)(-1 - i));
    }
    CHECK(t.leaves == 2 * ((N + ORDTREE_LEAF_CAP - 1) / ORDTREE_LEAF_CAP));
    check_against_model(&t);
    /* The bytes per element of a full tree: 8 for the pointer, a little
     * for the inner nodes. */
    CHECK(ordtree_node_bytes(&t) < (size_t)(2 * N) * 9);
    /* Empty it in random order (the model picks the victims). */
    size_t checks = 0;
    while (model_n) {
        size_t i = util_rand64() % model_n;
        ordtree_elem *e = model[i];
        ordtree_unlink(&t, e);
        model_remove_at(i);
        alloc_free(e);
        if (model_n % 40000 == 0) {
            check_against_model(&t);
            checks++;
        }
    }
    CHECK(checks == 10 && t.root == NULL && t.height == 0 && t.leaves == 0 && t.inners == 0);
    ordtree_destroy(&t);
}

/* Deleting everything by rank at once, and the middle of a big tree. */
static void rank_ranges(void)
{
    util_rand_seed(9);
    ordtree t;
    ordtree_init(&t);
    model_n = 0;
    for (int i = 0; i < 50000; i++) {
        insert_new(&t, draw_score(0));
    }
    size_t freed = 0;
    CHECK(ordtree_delete_ranks(&t, 1000, 41000, free_counted, &freed) == 40000 && freed == 40000);
    memmove(&model[1000], &model[41000], sizeof(*model) * (model_n - 41000));
    model_n -= 40000;
    check_against_model(&t);
    CHECK(ordtree_delete_ranks(&t, 5, 5, free_counted, &freed) == 0);
    CHECK(ordtree_delete_ranks(&t, model_n, model_n + 10, free_counted, &freed) == 0);
    freed = 0;
    CHECK(ordtree_delete_ranks(&t, 0, (size_t)-1, free_counted, &freed) == 10000 && freed == 10000);
    model_n = 0;
    check_against_model(&t);
    CHECK(t.root == NULL && t.leaves == 0 && t.inners == 0);
    ordtree_destroy(&t);
}

/* Score updates that keep the place change the score in place, also for
 * the first element of a leaf, whose score inner nodes copy. */
static void in_place_updates(void)
{
    util_rand_seed(13);
    ordtree t;
    ordtree_init(&t);
    model_n = 0;
    for (int i = 0; i < 20000; i++) {
        insert_new(&t, (double)(i * 10));
    }
    for (size_t i = 0; i < model_n; i++) {
        /* Stays between its neighbours (which are 10 apart). */
        ordtree_update_score(&t, model[i], model[i]->score + 0.5);
    }
    CHECK(model[0]->score == 0.5 && model[model_n - 1]->score == 199990.5);
    check_against_model(&t);
    ordtree_destroy(&t);
}

/* Appends alternating with removals of the last element (a queue at its
 * tail) settle: no leaf is allocated and freed on every step. */
static void tail_churn(void)
{
    ordtree t;
    ordtree_init(&t);
    model_n = 0;
    for (int i = 0; i < 10 * ORDTREE_LEAF_CAP; i++) {
        insert_new(&t, (double)i);
    }
    size_t leaves = 0;
    int steady = 1;
    for (int i = 0; i < 1000; i++) {
        insert_new(&t, (double)(1000000 + i));
        if (i > 0 && t.leaves != leaves) {
            steady = 0;
        }
        ordtree_elem *e = model[model_n - 1];
        ordtree_unlink(&t, e);
        model_n--;
        alloc_free(e);
        if (i == 0) {
            leaves = t.leaves;
        } else if (t.leaves != leaves) {
            steady = 0;
        }
    }
    CHECK(steady);
    check_against_model(&t);
    ordtree_destroy(&t);
}

static void member_order(void)
{
    CHECK(ordtree_cmp(1, (sv){"b", 1}, 2, (sv){"a", 1}) < 0);
    CHECK(ordtree_cmp(1, (sv){"a", 1}, 1, (sv){"ab", 2}) < 0);
    CHECK(ordtree_cmp(1, (sv){"", 0}, 1, (sv){"a", 1}) < 0);
    CHECK(ordtree_cmp(1, (sv){"ab", 2}, 1, (sv){"ab", 2}) == 0);
    CHECK(ordtree_cmp(-1, (sv){"z", 1}, 0, (sv){"", 0}) < 0);
    CHECK(ordtree_cmp(1, (sv){"\xff", 1}, 1, (sv){"\x01", 1}) > 0);
    CHECK(ordtree_elem_size(12) == 32);
}

/* Elements the caller allocates (inside a bigger block, as vector sets
 * do) are linked in order, unlinked, and outlive ordtree_destroy_nodes. */
static void caller_owned(void)
{
    enum { N = 1000 };
    char **blocks = alloc_mem(sizeof(char *) * N);
    ordtree t;
    ordtree_init(&t);
    for (int i = 0; i < N; i++) {
        char name[16];
        int len = snprintf(name, sizeof(name), "m%05d", (i * 7919) % N);
        blocks[i] = alloc_mem(16 + ordtree_elem_size((size_t)len));
        ordtree_elem *e = (ordtree_elem *)(void *)(blocks[i] + 16);
        e->hnode.next = NULL;
        e->score = 0;
        e->mlen = (uint32_t)len;
        memcpy(e->member, name, (size_t)len);
        ordtree_link(&t, e);
    }
    CHECK(t.length == N && ordtree_check(&t) == 0);
    ordtree_pos p = ordtree_at(&t, 0);
    int sorted = 1;
    for (int i = 0; i < N; i++, p = ordtree_pos_next(p)) {
        char want[16];
        snprintf(want, sizeof(want), "m%05d", i);
        sv m = ordtree_member(ordtree_pos_elem(p));
        sorted &= m.len == strlen(want) && memcmp(m.ptr, want, m.len) == 0;
    }
    CHECK(sorted && p.leaf == NULL);
    for (int i = 0; i < N; i += 2) {
        ordtree_unlink(&t, (ordtree_elem *)(void *)(blocks[i] + 16));
    }
    CHECK(t.length == N / 2 && ordtree_check(&t) == 0);
    ordtree_destroy_nodes(&t);
    CHECK(t.length == 0 && t.root == NULL);
    for (int i = 0; i < N; i++) {
        alloc_free(blocks[i]); /* still the caller's, whole */
    }
    alloc_free(blocks);
}

/* ---- defragmentation ---- */

typedef struct defrag_stats {
    size_t offered, moved, model_misses;
} defrag_stats;

/* Moves e where alloc_defrag says and follows it in the model, which the
 * checks then compare with the tree pointer by pointer: an element the
 * tree did not repoint shows as a mismatch (and, freed, to ASan). */
static ordtree_elem *defrag_move(ordtree_elem *e, void *ctx)
{
    defrag_stats *st = ctx;
    st->offered++;
    size_t i = model_lower_bound(e->score, ordtree_member(e));
    if (i >= model_n || model[i] != e) {
        st->model_misses++;
        return NULL;
    }
    ordtree_elem *moved = alloc_defrag(e);
    if (moved) {
        model[i] = moved;
        st->moved++;
    }
    return moved;
}

/* One random change, as a write between two defrag calls would make. */
static void defrag_churn(ordtree *t, int ties)
{
    uint64_t op = util_rand64() % 4;
    if (op == 0 || model_n == 0) {
        insert_new(t, draw_score(ties));
    } else if (op == 1) {
        size_t i = util_rand64() % model_n;
        ordtree_elem *e = model[i];
        ordtree_unlink(t, e);
        model_remove_at(i);
        alloc_free(e);
    } else if (op == 2) {
        size_t i = util_rand64() % model_n;
        ordtree_elem *e = model[i];
        model_remove_at(i);
        ordtree_update_score(t, e, draw_score(ties));
        model_insert(e);
    } else {
        size_t start = util_rand64() % model_n, len = util_rand64() % 40, freed = 0;
        size_t want = (start + len > model_n ? model_n : start + len) - start;
        ordtree_delete_ranks(t, start, start + len, free_counted, &freed);
        memmove(&model[start], &model[start + want], sizeof(*model) * (model_n - start - want));
        model_n -= want;
    }
}

/* With every block moving (alloc_defrag_force), a pass in steps of a few
 * elements, with or without changes between the steps, leaves a tree
 * that still matches the model (so every pointer to a moved element or
 * node was fixed); without changes every element is offered exactly once,
 * each step offers at most the budget and every node moves at least once.
 * With force off nothing is disturbed. */
static void defrag_session(size_t size, int ties, int churn, unsigned long seed)
{
    util_rand_seed(seed);
    ordtree t;
    ordtree_init(&t);
    model_n = 0;
    for (size_t i = 0; i < size; i++) {
        insert_new(&t, draw_score(ties));
    }
    size_t before = t.length, nodes = t.leaves + t.inners;
    long long hits0, misses0, hits1, misses1;
    alloc_defrag_counts(&hits0, &misses0);
    alloc_defrag_force(1);
    defrag_stats st = {0};
    size_t rank = 0, calls = 0, within = 1;
    do {
        size_t was = st.offered;
        rank = ordtree_defrag(&t, rank, 7, defrag_move, &st);
        within &= st.offered - was <= 7 && (st.offered > was || rank == 0);
        calls++;
        if (churn) {
            defrag_churn(&t, ties);
        }
    } while (rank != 0 && calls < 1000000);
    alloc_defrag_force(0);
    alloc_defrag_counts(&hits1, &misses1);
    CHECK(rank == 0 && within && st.model_misses == 0);
    if (!churn) {
        CHECK(st.offered == before && st.moved == before);
        CHECK(calls == (before + 6) / 7 + (before == 0));
        CHECK((size_t)(hits1 - hits0) >= before + nodes);
    }
    check_against_model(&t);
    /* Force off: whatever the allocator advises (nothing without jemalloc). */
    st = (defrag_stats){0};
    rank = 0;
    do {
        rank = ordtree_defrag(&t, rank, 100, defrag_move, &st);
    } while (rank != 0);
    CHECK(st.offered == t.length && st.model_misses == 0);
    check_against_model(&t);
    ordtree_destroy(&t);
}

int main(void)
{
    size_t defrag_sizes[] = {0, 1, 7, 124, 126, 2000, 12000};
    for (size_t i = 0; i < sizeof(defrag_sizes) / sizeof(defrag_sizes[0]); i++) {
        for (int churn = 0; churn <= 1; churn++) {
            defrag_session(defrag_sizes[i], (int)i & 1, churn, 300 + i);
        }
    }
    caller_owned();
    member_order();
    size_t sizes[] = {0, 1, 3, 20, 124, 126, 400, 3000, 12000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        random_session(sizes[i], 0, 100 + i);
        random_session(sizes[i], 1, 200 + i);
    }
    ordered_loads();
    rank_ranges();
    in_place_updates();
    tail_churn();
    alloc_free(model);
    return unit_report("ordtree");
}
