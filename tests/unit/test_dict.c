/* dict unit test: random insert/delete/find checked against a model (a
 * presence array), with incremental rehashing interleaved; the scan
 * guarantee (a key present for the whole scan is visited at least once)
 * across growth and shrinking; dict_random; iteration with deletion; the
 * string-keyed entry helpers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/dict.h"
#include "base/util.h"
#include "unit.h"

#define NKEYS 5000

typedef struct node {
    dnode link;
    int id;
    size_t klen;
    char key[16];
} node;

static node nodes[NKEYS];
static int present[NKEYS];
static size_t model_count;

static sv node_key(const dnode *n)
{
    const node *x = (const node *)n;
    return (sv){x->key, x->klen};
}

static const dict_type test_type = {util_hash, node_key, NULL};

static void init_nodes(void)
{
    for (int i = 0; i < NKEYS; i++) {
        nodes[i].id = i;
        nodes[i].klen = (size_t)snprintf(nodes[i].key, sizeof(nodes[i].key), "k%d", i);
        nodes[i].link.next = NULL;
        present[i] = 0;
    }
    model_count = 0;
}

static dnode *find(dict *d, int i)
{
    return dict_find(d, nodes[i].key, nodes[i].klen);
}

static void add(dict *d, int i)
{
    dict_insert(d, &nodes[i].link);
    present[i] = 1;
    model_count++;
}

static void del(dict *d, int i)
{
    dnode *n = dict_unlink(d, nodes[i].key, nodes[i].klen);
    CHECK(n == &nodes[i].link);
    present[i] = 0;
    model_count--;
}

/* Every key is found exactly when the model says it is present. */
static void check_model(dict *d)
{
    CHECK(dict_size(d) == model_count);
    for (int i = 0; i < NKEYS; i++) {
        dnode *n = find(d, i);
        CHECK(present[i] ? n == &nodes[i].link : n == NULL);
    }
}

static void test_random_ops(void)
{
    dict d;
    dict_init(&d, &test_type);
    init_nodes();
    CHECK(dict_size(&d) == 0);
    CHECK(find(&d, 0) == NULL);
    CHECK(dict_unlink(&d, "nope", 4) == NULL);
    CHECK(dict_random(&d) == NULL);
    int saw_rehash = 0;
    for (int round = 0; round < 40; round++) {
        /* Alternate growing and shrinking phases so both directions of
         * rehashing run with operations interleaved. */
        int grow = round % 4 != 3;
        for (int op = 0; op < 2000; op++) {
            int i = (int)(util_rand64() % NKEYS);
            int r = (int)(util_rand64() % 10);
            if (r < 5) {
                if (!present[i] && (grow || r < 2)) {
                    add(&d, i);
                }
            } else if (r < 8) {
                if (present[i] && (!grow || r < 7)) {
                    del(&d, i);
                }
            } else {
                dnode *n = find(&d, i);
                CHECK(present[i] ? n == &nodes[i].link : n == NULL);
            }
            if (d.rehash_idx >= 0) {
                saw_rehash = 1;
            }
            if (op % 97 == 0) {
                dict_resize_to_fit(&d);
            }
        }
        check_model(&d);
    }
    CHECK(saw_rehash);
    /* Drain any rehash and check once more in a settled table. */
    while (dict_rehash(&d, 100)) {
    }
    CHECK(d.rehash_idx == -1);
    check_model(&d);
    dict_clear(&d, NULL, NULL);
    CHECK(dict_size(&d) == 0);
    CHECK(dict_slots(&d) == 0);
}

/* Lookups, deletes and inserts while a rehash is in progress (both tables
 * hold nodes). */
static void test_rehash_in_progress(void)
{
    dict d;
    dict_init(&d, &test_type);
    init_nodes();
    /* Fill to exactly the growth point of a 1024 table, then one more key
     * starts a rehash to 2048 with nothing moved yet. */
    for (int i = 0; i < 1024; i++) {
        add(&d, i);
    }
    while (dict_rehash(&d, 1000)) {
    }
    CHECK(d.size[0] == 1024);
    d.pause_rehash = 1; /* keep the rehash from advancing on its own */
    add(&d, 1024);
    CHECK(d.rehash_idx == 0);
    CHECK(d.size[1] == 2048);
    /* Move part of the table. */
    d.pause_rehash = 0;
    dict_rehash(&d, 300);
    d.pause_rehash = 1;
    CHECK(d.rehash_idx > 0);
    CHECK(d.used[0] > 0 && d.used[1] > 0);
    check_model(&d);
    /* Deletes from both tables, inserts go to the new one. */
    for (int i = 0; i < 1025; i += 3) {
        del(&d, i);
    }
    for (int i = 1025; i < 1500; i++) {
        add(&d, i);
    }
    check_model(&d);
    /* dict_replace while rehashing: swap a node for a twin with the same key. */
    node twin = nodes[1];
    twin.link.next = NULL;
    dict_replace(&d, &nodes[1].link, &twin.link);
    CHECK(find(&d, 1) == &twin.link);
    dict_replace(&d, &twin.link, &nodes[1].link);
    CHECK(find(&d, 1) == &nodes[1].link);
    d.pause_rehash = 0;
    while (dict_rehash(&d, 10)) {
    }
    CHECK(d.rehash_idx == -1 && d.used[1] == 0);
    check_model(&d);
    dict_clear(&d, NULL, NULL);
}

/* ---- scan ---- */

static int visits[NKEYS];

static void count_visit(dnode *n, void *ctx)
{
    (void)ctx;
    visits[((node *)n)->id]++;
}

/* Scans while mutating: `stable` keys stay for the whole scan and must each
 * be visited; other keys come and go. mode 0 grows the table mid-scan,
 * mode 1 shrinks it, mode 2 does both with rehash steps between calls. */
static void scan_under_churn(int mode)
{
    dict d;
    dict_init(&d, &test_type);
    init_nodes();
    memset(visits, 0, sizeof(visits));
    int stable = mode == 0 ? 500 : 300;
    for (int i = 0; i < stable; i++) {
        add(&d, i);
    }
    if (mode == 1 || mode == 2) {
        /* Extra keys to delete later, so the table shrinks under the scan. */
        for (int i = stable; i < 4000; i++) {
            add(&d, i);
        }
        while (dict_rehash(&d, 100)) {
        }
    }
    unsigned long cursor = 0;
    int calls = 0, next_new = 4000, next_del = stable;
    size_t sizes_seen[64];
    int nsizes = 0;
    do {
        cursor = dict_scan(&d, cursor, count_visit, NULL);
        calls++;
        /* mode 2 shrinks first, then grows back. */
        int shrinking = mode == 1 || (mode == 2 && calls < 200);
        int growing = mode == 0 || (mode == 2 && calls >= 200);
        if (growing && calls % 3 == 0) {
            /* Grow: add keys between scan calls so the table doubles. */
            for (int k = 0; k < 40 && next_new < NKEYS; k++) {
                add(&d, next_new++);
            }
        }
        if (shrinking && calls % 2 == 0) {
            /* Shrink: delete non-stable keys and let the table resize. */
            for (int k = 0; k < 100 && next_del < 4000; k++) {
                del(&d, next_del++);
            }
            dict_resize_to_fit(&d);
        }
        if (calls % 5 == 0) {
            dict_rehash(&d, 3);
        }

        size_t s = d.size[0] + (d.rehash_idx >= 0 ? d.size[1] * 1000000 : 0);
        if (nsizes < 64 && (nsizes == 0 || sizes_seen[nsizes - 1] != s)) {
            sizes_seen[nsizes++] = s;
        }
    } while (cursor != 0 && calls < 1000000);
    CHECK(cursor == 0);
    int missed = 0;
    for (int i = 0; i < stable; i++) {
        if (visits[i] == 0) {
            missed++;
        }
    }
    CHECK(missed == 0);
    if (missed) {
        fprintf(stderr, "scan mode %d: %d stable keys missed\n", mode, missed);
    }
    /* The table really changed size (and rehashed) during the scan. */
    CHECK(nsizes >= 3);
    if (nsizes < 3) {
        fprintf(stderr, "scan mode %d: %d sizes, calls %d\n", mode, nsizes, calls);
    }
    dict_clear(&d, NULL, NULL);
}

/* The scan callback may delete the node it is given. */
static dict *scan_del_dict;

static void delete_visited(dnode *n, void *ctx)
{
    (void)ctx;
    node *x = (node *)n;
    visits[x->id]++;
    if (x->id % 2 == 0) {
        del(scan_del_dict, x->id);
    }
}

static void test_scan_delete_in_callback(void)
{
    dict d;
    dict_init(&d, &test_type);
    init_nodes();
    memset(visits, 0, sizeof(visits));
    for (int i = 0; i < 1000; i++) {
        add(&d, i);
    }
    scan_del_dict = &d;
    unsigned long cursor = 0;
    do {
        cursor = dict_scan(&d, cursor, delete_visited, NULL);
    } while (cursor);
    int ok = 1;
    for (int i = 0; i < 1000; i++) {
        ok &= visits[i] >= 1;
    }
    CHECK(ok);
    check_model(&d);
    CHECK(dict_size(&d) == 500);
    dict_clear(&d, NULL, NULL);
}

static void test_scan_empty_and_full(void)
{
    dict d;
    dict_init(&d, &test_type);
    init_nodes();
    memset(visits, 0, sizeof(visits));
    CHECK(dict_scan(&d, 0, count_visit, NULL) == 0);
    for (int i = 0; i < 3000; i++) {
        add(&d, i);
    }
    while (dict_rehash(&d, 100)) {
    }
    /* Without changes, a full scan visits every key exactly once. */
    unsigned long cursor = 0;
    do {
        cursor = dict_scan(&d, cursor, count_visit, NULL);
    } while (cursor);
    int once = 1;
    for (int i = 0; i < 3000; i++) {
        once &= visits[i] == 1;
    }
    CHECK(once);
    dict_clear(&d, NULL, NULL);
}

/* ---- random ---- */

static void test_random(void)
{
    dict d;
    dict_init(&d, &test_type);
    init_nodes();
    CHECK(dict_random(&d) == NULL);
    add(&d, 7);
    CHECK(dict_random(&d) == &nodes[7].link);
    for (int i = 0; i < 64; i++) {
        if (!present[i]) {
            add(&d, i);
        }
    }
    int seen[64] = {0};
    int bad = 0;
    for (int t = 0; t < 20000; t++) {
        node *n = (node *)dict_random(&d);
        if (!n || n->id >= 64 || !present[n->id]) {
            bad++;
        } else {
            seen[n->id]++;
        }
    }
    CHECK(bad == 0);
    int all = 1;
    for (int i = 0; i < 64; i++) {
        all &= seen[i] > 0;
    }
    CHECK(all);
    /* While rehashing, picks come from either table and only from members. */
    for (int i = 64; i < 2000; i++) {
        add(&d, i);
    }
    CHECK(d.rehash_idx >= 0 || d.size[0] >= 2048);
    bad = 0;
    for (int t = 0; t < 5000; t++) {
        node *n = (node *)dict_random(&d);
        if (!n || !present[n->id]) {
            bad++;
        }
    }
    CHECK(bad == 0);
    /* After mass deletion (before any shrink), it still finds the few left. */
    for (int i = 0; i < 2000; i++) {
        if (present[i] && i != 1500) {
            del(&d, i);
        }
    }
    for (int t = 0; t < 100; t++) {
        CHECK(dict_random(&d) == &nodes[1500].link);
    }
    dict_clear(&d, NULL, NULL);
}

/* ---- iteration ---- */

static void test_iterator_with_deletion(void)
{
    dict d;
    dict_init(&d, &test_type);
    init_nodes();
    for (int i = 0; i < 2048; i++) {
        add(&d, i);
    }
    while (dict_rehash(&d, 1000)) {
    }
    /* Iterate in the middle of a rehash so both tables are walked. */
    d.pause_rehash = 1;
    for (int i = 2048; i < 2500; i++) {
        add(&d, i);
    }
    d.pause_rehash = 0;
    dict_rehash(&d, 200);
    CHECK(d.rehash_idx > 0 && d.used[0] > 0 && d.used[1] > 0);
    int seen[2500] = {0};
    dict_iter it;
    dict_iter_init(&it, &d);
    dnode *n;
    size_t count = 0;
    while ((n = dict_iter_next(&it))) {
        node *x = (node *)n;
        seen[x->id]++;
        count++;
        if (x->id % 3 == 0) {
            del(&d, x->id); /* the visitor may delete the node it was given */
        }
    }
    dict_iter_done(&it);
    CHECK(count == 2500);
    int once = 1;
    for (int i = 0; i < 2500; i++) {
        once &= seen[i] == 1;
    }
    CHECK(once);
    CHECK(d.pause_rehash == 0);
    check_model(&d);
    /* An empty dict iterates nothing. */
    dict e;
    dict_init(&e, &test_type);
    dict_iter_init(&it, &e);
    CHECK(dict_iter_next(&it) == NULL);
    dict_iter_done(&it);
    dict_clear(&d, NULL, NULL);
}

/* ---- string-keyed entries ---- */

static int freed_vals;

static void count_free(void *v)
{
    (void)v;
    freed_vals++;
}

static void test_entries(void)
{
    dict d;
    dict_init(&d, &dict_type_entry);
    int created;
    dict_entry *e = dict_entry_upsert(&d, "a", 1, &created);
    CHECK(created && e->val == NULL);
    e->val = (void *)1;
    CHECK(dict_entry_upsert(&d, "a", 1, &created) == e && !created);
    CHECK(dict_entry_find(&d, "A", 1) == NULL);
    dict_entry_upsert(&d, "b", 1, NULL)->val = (void *)2;
    int found;
    CHECK(dict_entry_remove(&d, "a", 1, &found) == (void *)1 && found);
    CHECK(dict_entry_remove(&d, "a", 1, &found) == NULL && !found);
    dict_entry_clear(&d, count_free);
    CHECK(freed_vals == 1 && dict_size(&d) == 0);

    dict ci;
    dict_init(&ci, &dict_type_entry_nocase);
    dict_entry_upsert(&ci, "Hello", 5, NULL)->val = (void *)3;
    CHECK(dict_entry_find(&ci, "hELLO", 5) != NULL);
    CHECK(dict_entry_find(&ci, "hELLo!", 6) == NULL);
    dict_entry_clear(&ci, NULL);
}

int main(void)
{
    uint8_t seed[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    util_hash_seed(seed);
    util_rand_seed(12345);
    test_random_ops();
    test_rehash_in_progress();
    for (int mode = 0; mode < 3; mode++) {
        scan_under_churn(mode);
    }
    test_scan_delete_in_callback();
    test_scan_empty_and_full();
    test_random();
    test_iterator_with_deletion();
    test_entries();
    return unit_report("dict");
}
