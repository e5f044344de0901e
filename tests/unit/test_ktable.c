/* ktable unit test: random inserts, deletes, finds and replaces checked
 * against a model, with resizes interleaved; the scan promise (an entry
 * present for the whole scan is visited exactly once) across growth and
 * shrinking, with the visited entry deleted by the callback; cursors stay
 * below 2^48; iteration with deletion; random picks; and all of it again
 * with a hash so poor that runs pass the 255-slot distance field. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/ktable.h"
#include "base/util.h"
#include "unit.h"

#define NKEYS 6000

typedef struct node {
    int id;
    size_t klen;
    char key[16];
} node;

/* Two entries per key, so replace can swap one for the other. */
static node nodes[2][NKEYS];
static int present[NKEYS]; /* 0 absent, else 1 + which copy is in */
static size_t model_count;

static sv node_key(const void *n)
{
    const node *x = n;
    return (sv){x->key, x->klen};
}

/* Only 4 distinct hashes: every key lands in one of four long runs. */
static uint64_t poor_hash(const void *p, size_t len)
{
    uint64_t h = util_hash(p, len);
    return (h & 3) * 0x4000000000000000ULL + 0x1234;
}

static const ktable_type good_type = {util_hash, node_key};
static const ktable_type poor_type = {poor_hash, node_key};

static void init_nodes(void)
{
    for (int c = 0; c < 2; c++) {
        for (int i = 0; i < NKEYS; i++) {
            nodes[c][i].id = i;
            nodes[c][i].klen = (size_t)snprintf(nodes[c][i].key, sizeof(nodes[c][i].key), "k%d", i);
        }
    }
}

static void model_reset(void)
{
    memset(present, 0, sizeof(present));
    model_count = 0;
}

static void do_insert(ktable *t, int i)
{
    ktable_insert(t, &nodes[0][i]);
    present[i] = 1;
    model_count++;
}

static void do_delete(ktable *t, int i)
{
    void *p = ktable_unlink(t, nodes[0][i].key, nodes[0][i].klen);
    CHECK(p == &nodes[present[i] - 1][i]);
    present[i] = 0;
    model_count--;
}

static int check_all(ktable *t, int nkeys)
{
    int bad = 0;
    for (int i = 0; i < nkeys; i++) {
        void *p = ktable_find(t, nodes[0][i].key, nodes[0][i].klen);
        void *want = present[i] ? &nodes[present[i] - 1][i] : NULL;
        bad += p != want;
    }
    return bad;
}

static void random_ops(const ktable_type *type, int nkeys, int ops)
{
    ktable t;
    ktable_init(&t, type);
    model_reset();
    int recent[3] = {0, 0, 0};
    for (int op = 0; op < ops; op++) {
        /* Half the operations reuse one of the last three keys, as a
         * command does (look up, then replace or unlink), so the table's
         * remembered slot is used, also after other keys moved it. */
        int i = (int)(util_rand64() % (uint64_t)nkeys);
        if (util_rand64() % 2) {
            i = recent[util_rand64() % 3];
        }
        recent[op % 3] = i;
        int r = (int)(util_rand64() % 100);
        if (r < 45) {
            if (!present[i]) {
                do_insert(&t, i);
            }
        } else if (r < 75) {
            if (present[i]) {
                do_delete(&t, i);
            } else {
                CHECK(ktable_unlink(&t, nodes[0][i].key, nodes[0][i].klen) == NULL);
            }
        } else if (r < 85) {
            if (present[i]) {
                int cur = present[i] - 1;
                ktable_replace(&t, &nodes[cur][i], &nodes[1 - cur][i]);
                present[i] = 2 - cur;
            }
        } else if (r < 95) {
            void *p = ktable_find(&t, nodes[0][i].key, nodes[0][i].klen);
            CHECK(p == (present[i] ? &nodes[present[i] - 1][i] : NULL));
        } else if (r < 97) {
            ktable_resize_to_fit(&t);
        } else if (r < 98) {
            ktable_rehash(&t, 50);
        } else {
            node *p = ktable_random(&t);
            CHECK(model_count == 0 ? p == NULL
                                   : (p != NULL && present[p->id] && p == &nodes[present[p->id] - 1][p->id]));
        }
        CHECK(ktable_size(&t) == model_count);
        /* Mass deletion now and then, so shrinking is exercised. */
        if (op % 20000 == 19999) {
            for (int k = 0; k < nkeys; k++) {
                if (present[k] && util_rand64() % 10 != 0) {
                    do_delete(&t, k);
                }
            }
            ktable_resize_to_fit(&t);
        }
    }
    CHECK(check_all(&t, nkeys) == 0);
    ktable_clear(&t, NULL, NULL);
    CHECK(ktable_size(&t) == 0 && ktable_slots(&t) == 0);
}

/* ---- scan ---- */

typedef struct scan_ctx {
    ktable *t;
    int *seen;
    int delete_odd; /* the callback deletes odd stable keys it is given */
} scan_ctx;

static void scan_visit(void *n, void *arg)
{
    scan_ctx *c = arg;
    node *x = n;
    c->seen[x->id]++;
    if (c->delete_odd && x->id % 2 == 1 && x->id < NKEYS / 2) {
        do_delete(c->t, x->id);
    }
}

/* Keys below NKEYS/2 are stable (present throughout); the upper half comes
 * and goes in waves that grow the table 8-fold and shrink it back. */
static void scan_test(const ktable_type *type, int delete_odd)
{
    ktable t;
    ktable_init(&t, type);
    model_reset();
    int stable = NKEYS / 2;
    for (int i = 0; i < stable; i++) {
        do_insert(&t, i);
    }
    static int seen[NKEYS];
    memset(seen, 0, sizeof(seen));
    scan_ctx c = {&t, seen, delete_odd};
    unsigned long cur = 0, max_cursor = 0;
    int steps = 0;
    do {
        cur = ktable_scan(&t, cur, scan_visit, &c);
        if (cur > max_cursor) {
            max_cursor = cur;
        }
        steps++;
        int phase = (steps / 300) % 3;
        for (int k = 0; k < 30; k++) {
            int i = stable + (int)(util_rand64() % (uint64_t)(NKEYS - stable));
            if (phase == 0 && !present[i]) {
                do_insert(&t, i);
            } else if (phase == 1 && present[i]) {
                do_delete(&t, i);
            }
        }
        if (phase == 2) {
            ktable_resize_to_fit(&t);
            ktable_rehash(&t, 20);
        }
    } while (cur != 0 && steps < 1000000);
    int missed = 0, twice = 0;
    for (int i = 0; i < stable; i++) {
        missed += seen[i] == 0;
        twice += seen[i] > 1;
    }
    CHECK(cur == 0);
    CHECK(missed == 0);
    CHECK(twice == 0);
    CHECK(max_cursor < (1UL << 48));
    CHECK(check_all(&t, NKEYS) == 0);
    ktable_clear(&t, NULL, NULL);
}

/* A scan over a table with no changes visits everything once, and a
 * cursor past 2^48 ends it. */
static void scan_plain(void)
{
    ktable t;
    ktable_init(&t, &good_type);
    model_reset();
    for (int i = 0; i < 1000; i++) {
        do_insert(&t, i);
    }
    static int seen[NKEYS];
    memset(seen, 0, sizeof(seen));
    scan_ctx c = {&t, seen, 0};
    unsigned long cur = 0;
    int steps = 0;
    do {
        cur = ktable_scan(&t, cur, scan_visit, &c);
        steps++;
    } while (cur);
    int once = 0;
    for (int i = 0; i < 1000; i++) {
        once += seen[i] == 1;
    }
    CHECK(once == 1000);
    CHECK(steps > 100); /* one home slot per step, not the whole table */
    CHECK(ktable_scan(&t, 1UL << 48, scan_visit, &c) == 0);
    ktable_clear(&t, NULL, NULL);
}

/* ---- iteration ---- */

static void iter_test(const ktable_type *type)
{
    ktable t;
    ktable_init(&t, type);
    model_reset();
    for (int i = 0; i < 3000; i++) {
        do_insert(&t, i);
    }
    /* Start a resize so the iteration spans both tables. */
    for (int i = 3000; i < 3200; i++) {
        do_insert(&t, i);
    }
    static int seen[NKEYS];
    memset(seen, 0, sizeof(seen));
    ktable_iter it;
    ktable_iter_init(&it, &t);
    node *n;
    while ((n = ktable_iter_next(&it))) {
        seen[n->id]++;
        if (n->id % 3 == 0) {
            do_delete(&t, n->id);
        }
    }
    ktable_iter_done(&it);
    int once = 0;
    for (int i = 0; i < 3200; i++) {
        once += seen[i] == 1;
    }
    CHECK(once == 3200);
    CHECK(ktable_size(&t) == model_count);
    CHECK(check_all(&t, 3200) == 0);
    ktable_clear(&t, NULL, NULL);
}

/* Random picks reach every entry and only entries. */
static void random_test(void)
{
    ktable t;
    ktable_init(&t, &good_type);
    model_reset();
    CHECK(ktable_random(&t) == NULL);
    for (int i = 0; i < 100; i++) {
        do_insert(&t, i);
    }
    static int seen[NKEYS];
    memset(seen, 0, sizeof(seen));
    for (int k = 0; k < 20000; k++) {
        node *n = ktable_random(&t);
        seen[n->id]++;
    }
    int min = 1 << 30, max = 0;
    for (int i = 0; i < 100; i++) {
        min = seen[i] < min ? seen[i] : min;
        max = seen[i] > max ? seen[i] : max;
    }
    CHECK(min > 100 && max < 350); /* 200 expected each */
    ktable_clear(&t, NULL, NULL);
}

/* Reserving sizes the table at once: no resize while the entries go in. */
static void reserve_test(void)
{
    ktable t;
    ktable_init(&t, &good_type);
    model_reset();
    ktable_reserve(&t, 5000);
    size_t slots = ktable_slots(&t);
    CHECK(slots >= 5000 && slots < 5000 * 2);
    for (int i = 0; i < 5000; i++) {
        do_insert(&t, i);
    }
    CHECK(!ktable_is_rehashing(&t));
    CHECK(ktable_slots(&t) == slots);
    CHECK(check_all(&t, 5000) == 0);
    ktable_clear(&t, NULL, NULL);
}

/* Another hash of the same keys, so two tables place one key apart. */
static uint64_t other_hash(const void *p, size_t len)
{
    return util_hash(p, len) * 0x9e3779b97f4a7c15ULL + 77;
}

static const ktable_type other_type = {other_hash, node_key};

/* The last-hashed-key memo: a buffer reused for another key of the same
 * length, and the same key hashed for two tables with different hash
 * functions, must each get their own hash. */
static void memo_test(void)
{
    ktable a, b;
    ktable_init(&a, &good_type);
    ktable_init(&b, &other_type);
    char buf[16];
    for (int i = 0; i < 1000; i++) {
        /* Look up k<i> through buf in a, then store k<i> in b and k<i+1>
         * (same buffer, new bytes) in a. */
        int n = snprintf(buf, sizeof(buf), "k%d", i);
        CHECK(ktable_find(&a, buf, (size_t)n) == (i ? &nodes[0][i] : NULL));
        ktable_insert(&b, &nodes[0][i]);
        n = snprintf(buf, sizeof(buf), "k%d", i + 1);
        CHECK(ktable_find(&a, buf, (size_t)n) == NULL);
        ktable_insert(&a, &nodes[0][i + 1]);
    }
    for (int i = 0; i < 1000; i++) {
        CHECK(ktable_find(&b, nodes[0][i].key, nodes[0][i].klen) == &nodes[0][i]);
        CHECK(ktable_find(&a, nodes[0][i + 1].key, nodes[0][i + 1].klen) == &nodes[0][i + 1]);
        CHECK(other_hash(nodes[0][i].key, nodes[0][i].klen) != util_hash(nodes[0][i].key, nodes[0][i].klen));
    }
    CHECK(ktable_find(&a, "k0", 2) == NULL);
    CHECK(ktable_size(&a) == 1000 && ktable_size(&b) == 1000);
    ktable_clear(&a, NULL, NULL);
    ktable_clear(&b, NULL, NULL);
}

/* Keys deleted in hash order (as the expiry scan and SCAN + DEL delete
 * them) leave the rest bunched in one part of the hash range: shrinking to
 * fit their count alone packed that part into one run of tens of
 * thousands of slots. The shrink now keeps every stretch under full; keys
 * deleted at random still let the table shrink to fit. */
#define BUNCH_N 200000

typedef struct {
    char key[16];
    size_t klen;
} bunch_node;

static sv bunch_key(const void *n)
{
    const bunch_node *b = n;
    return (sv){b->key, b->klen};
}

static const ktable_type bunch_type = {util_hash, bunch_key};

/* BUNCH_N keys "b<i>" in nodes_b, inserted into t, the move finished. */
static void fill_bunch(ktable *t, bunch_node *nodes_b)
{
    for (size_t i = 0; i < BUNCH_N; i++) {
        nodes_b[i].klen = (size_t)snprintf(nodes_b[i].key, sizeof(nodes_b[i].key), "b%zu", i);
        ktable_insert(t, &nodes_b[i]);
    }
    while (ktable_rehash(t, 1000)) {
    }
}

static void shrink_test(int hash_order)
{
    bunch_node *nodes_b = alloc_mem(sizeof(*nodes_b) * BUNCH_N);
    ktable t;
    ktable_init(&t, &bunch_type);
    fill_bunch(&t, nodes_b);
    size_t before = ktable_slots(&t), run_before = ktable_longest_run(&t), kept = 0;
    for (size_t i = 0; i < BUNCH_N; i++) {
        uint64_t h = util_hash(nodes_b[i].key, nodes_b[i].klen);
        /* Hash order: the lowest four fifths of the range go; at random:
         * one key in five stays. */
        int keep = hash_order ? h >= UINT64_MAX / 5 * 4 : i % 5 == 0;
        if (keep) {
            kept++;
        } else {
            CHECK(ktable_unlink(&t, nodes_b[i].key, nodes_b[i].klen) == &nodes_b[i]);
        }
    }
    ktable_resize_to_fit(&t);
    while (ktable_rehash(&t, 1000)) {
    }
    CHECK(ktable_size(&t) == kept);
    /* Deleting only shortens runs; a shrink must not lengthen them. */
    CHECK(ktable_longest_run(&t) <= run_before);
    if (!hash_order) {
        CHECK(ktable_slots(&t) * 2 < before); /* it did shrink */
    }
    for (size_t i = 0; i < BUNCH_N; i += 97) {
        uint64_t h = util_hash(nodes_b[i].key, nodes_b[i].klen);
        int kept_i = hash_order ? h >= UINT64_MAX / 5 * 4 : i % 5 == 0;
        CHECK((ktable_find(&t, nodes_b[i].key, nodes_b[i].klen) != NULL) == kept_i);
    }
    ktable_clear(&t, NULL, NULL);
    alloc_free(nodes_b);
}

/* The growth path after the same hash-ordered delete (what a SCAN + DEL
 * sweep leaves): the remaining keys are bunched in a fifth of the hash
 * range, then twice as many new keys make the table grow. Growing spreads
 * every key over a table at least as large, so no run may end up much longer
 * than in a table filled evenly; a packing bug would leave runs of
 * thousands. */
#define CROWDED_RUN_BOUND 4096

static void growth_test(void)
{
    size_t n = BUNCH_N * 3;
    bunch_node *nodes_b = alloc_mem(sizeof(*nodes_b) * n);
    ktable t;
    ktable_init(&t, &bunch_type);
    fill_bunch(&t, nodes_b);
    size_t run_even = ktable_longest_run(&t), kept = 0;
    for (size_t i = 0; i < BUNCH_N; i++) {
        if (util_hash(nodes_b[i].key, nodes_b[i].klen) >= UINT64_MAX / 5 * 4) {
            kept++;
        } else {
            CHECK(ktable_unlink(&t, nodes_b[i].key, nodes_b[i].klen) == &nodes_b[i]);
        }
    }
    size_t slots_before = ktable_slots(&t);
    size_t run_during = 0;
    for (size_t i = BUNCH_N; i < n; i++) {
        nodes_b[i].klen = (size_t)snprintf(nodes_b[i].key, sizeof(nodes_b[i].key), "g%zu", i);
        ktable_insert(&t, &nodes_b[i]);
        if (i % 5000 == 0) {
            size_t r = ktable_longest_run(&t);
            run_during = r > run_during ? r : run_during;
        }
    }
    /* Without the crowding check: runs of over 100,000 slots here. */
    CHECK(run_during < 4 * CROWDED_RUN_BOUND);
    while (ktable_rehash(&t, 1000)) {
    }
    CHECK(ktable_slots(&t) > slots_before); /* it did grow */
    CHECK(ktable_size(&t) == kept + n - BUNCH_N);
    size_t run_after = ktable_longest_run(&t);
    CHECK(run_after <= 2 * run_even);
    printf("  inserts after a hash-ordered delete: longest run %zu while inserting, %zu after (evenly filled %zu)\n",
           run_during, run_after, run_even);
    for (size_t i = 0; i < n; i += 89) {
        int present = i >= BUNCH_N || util_hash(nodes_b[i].key, nodes_b[i].klen) >= UINT64_MAX / 5 * 4;
        CHECK((ktable_find(&t, nodes_b[i].key, nodes_b[i].klen) != NULL) == present);
    }
    ktable_clear(&t, NULL, NULL);
    alloc_free(nodes_b);
}

/* Keys with equal homes crowd the table whatever its size: growth for
 * crowding stops at 16 times what the count needs, so memory stays
 * bounded. */
static void equal_homes_test(void)
{
    static const ktable_type poor_bunch_type = {poor_hash, bunch_key};
    size_t n = 30000;
    bunch_node *nodes_b = alloc_mem(sizeof(*nodes_b) * n);
    ktable t;
    ktable_init(&t, &poor_bunch_type);
    for (size_t i = 0; i < n; i++) {
        nodes_b[i].klen = (size_t)snprintf(nodes_b[i].key, sizeof(nodes_b[i].key), "e%zu", i);
        ktable_insert(&t, &nodes_b[i]);
    }
    while (ktable_rehash(&t, 1000)) {
    }
    CHECK(ktable_size(&t) == n);
    printf("  equal homes: %zu keys in %zu slots\n", n, ktable_slots(&t));
    CHECK(ktable_slots(&t) < 32 * n);
    for (size_t i = 0; i < n; i += 101) {
        CHECK(ktable_find(&t, nodes_b[i].key, nodes_b[i].klen) == &nodes_b[i]);
    }
    ktable_clear(&t, NULL, NULL);
    alloc_free(nodes_b);
}

int main(void)
{
    init_nodes();
    random_ops(&good_type, NKEYS, 200000);
    random_ops(&good_type, 40, 20000); /* tiny tables */
    random_ops(&poor_type, 1500, 40000);
    scan_plain();
    scan_test(&good_type, 0);
    scan_test(&good_type, 1);
    scan_test(&poor_type, 1);
    iter_test(&good_type);
    iter_test(&poor_type);
    random_test();
    reserve_test();
    memo_test();
    shrink_test(1);
    shrink_test(0);
    growth_test();
    equal_homes_test();
    return unit_report("ktable");
}
