/* list unit test: random pushes, pops, inserts, deletes, sets, trims and
 * index reads checked against an array model, for several node limits so
 * the list crosses the listpack -> quicklist boundary (and back) many
 * times, and with compression (list-compress-depth) off and on. After
 * every step the structure's invariants are checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "types/list.h"
#include "unit.h"

#define MAXN 2000
#define MAXV 300

typedef struct {
    char *p;
    size_t len;
} mval;

static mval model[MAXN];
static int n;

static int same(sv v, mval m)
{
    return v.len == m.len && memcmp(v.ptr, m.p, m.len) == 0;
}

static mval mk(const char *p, size_t len)
{
    mval m = {malloc(len ? len : 1), len};
    memcpy(m.p, p, len);
    return m;
}

static void model_insert(int at, mval m)
{
    memmove(&model[at + 1], &model[at], sizeof(mval) * (size_t)(n - at));
    model[at] = m;
    n++;
}

static void model_delete(int at)
{
    free(model[at].p);
    memmove(&model[at], &model[at + 1], sizeof(mval) * (size_t)(n - at - 1));
    n--;
}

#define LIM(fill) ((list_limits){(fill), 0, 0})

static size_t gaps; /* checks that met a node with a front gap */

static size_t limit_bytes(long fill)
{
    return fill >= 0 ? 8192 : (size_t)4096 << (-fill - 1);
}

/* Structure invariants plus a full walk both ways against the model. */
static void check(list *l, list_limits lim, int strict)
{
    long fill = lim.fill;
    CHECK(list_len(l) == (size_t)n);
    size_t sum = 0, nodes = 0;
    list_node *prev = NULL;
    for (list_node *nd = l->head; nd; nd = nd->next) {
        CHECK(nd->prev == prev);
        size_t cnt = list_node_count(nd);
        CHECK(cnt > 0);
        /* With a fixed threshold: exactly the large elements are plain,
         * each alone, and a compact list has none. */
        if (nd->plain) {
            CHECK(cnt == 1 && !l->compact);
        }
        if (lim.plain_min > 0) {
            lp *np = nd->packed ? NULL : nd->lp;
            for (unsigned char *p = np ? lp_first(np) : NULL; p; p = lp_next(np, p)) {
                CHECK((lp_get(p).len >= lim.plain_min) == (nd->plain != 0));
            }
        }
        if (strict && cnt > 1) {
            CHECK(list_node_bytes(nd) <= limit_bytes(fill));
            if (fill > 0) {
                CHECK(cnt <= (size_t)fill);
            }
        }
        /* Compression: every inner node is packed, except one a read
         * opened and those packing did not shrink. */
        size_t idx = nodes;
        int inner = lim.depth > 0 && idx >= (size_t)lim.depth && idx + (size_t)lim.depth < l->nodes;
        if (inner && !nd->packed && !nd->incompressible) {
            if (nd != l->open && getenv("LDEBUG")) {
                fprintf(stderr, "node %zu of %zu unpacked: %zu bytes, %zu entries\n", idx, l->nodes,
                        list_node_bytes(nd), cnt);
            }
            CHECK(nd == l->open);
        }
        if (lim.depth == 0) {
            CHECK(!nd->packed);
        }
        /* The front gap: never on a packed node, never wider than the
         * entries it sits before. */
        if (nd->packed) {
            CHECK(nd->gap == 0);
        } else {
            CHECK(nd->gap <= lp_bytes(nd->lp));
            gaps += nd->gap > 0;
        }
        sum += cnt;
        nodes++;
        prev = nd;
    }
    CHECK(l->tail == prev);
    CHECK(sum == (size_t)n);
    CHECK(nodes == l->nodes);
    if (l->compact) {
        CHECK(l->nodes <= 1);
    }
    list_iter it;
    sv v;
    list_iter_init(&it, l, 0, LIST_TAIL);
    for (int i = 0; i < n; i++) {
        CHECK(list_iter_next(&it, &v) && same(v, model[i]));
    }
    CHECK(!list_iter_next(&it, &v));
    list_iter_init(&it, l, -1, LIST_HEAD);
    for (int i = n - 1; i >= 0; i--) {
        CHECK(list_iter_next(&it, &v) && same(v, model[i]));
    }
    CHECK(!list_iter_next(&it, &v));
}

static mval random_value(void)
{
    char buf[MAXV];
    size_t len;
    int k = (int)(util_rand64() % 20);
    if (k < 3) {
        len = 130 + util_rand64() % (MAXV - 130); /* two-byte varints */
    } else if (k == 1) {
        len = 0;
    } else {
        len = 1 + util_rand64() % 12;
    }
    /* Half the values repeat one letter, so nodes compress. */
    int runs = util_rand64() % 2;
    char letter = (char)('a' + util_rand64() % 26);
    for (size_t i = 0; i < len; i++) {
        buf[i] = runs ? letter : (char)('a' + util_rand64() % 26);
    }
    return mk(buf, len);
}

static void run(long fill, int depth, size_t plain_min, int steps, int maxlen)
{
    list_limits lim = {fill, depth, plain_min};
    size_t most_packed = 0;
    list *l = list_new();
    n = 0;
    int saw_quick = 0, saw_back = 0, grow = 1;
    for (int s = 0; s < steps; s++) {
        /* Phases: grow to maxlen, then shrink to near empty, so each
         * run crosses the encoding boundary both ways. */
        if (grow && n >= maxlen) {
            grow = 0;
        } else if (!grow && (n == 0 || (n <= 3 && util_rand64() % 4 == 0))) {
            grow = 1;
        }
        int r = (int)(util_rand64() % 100);
        int op;
        if (grow) {
            op = r < 50 ? (r & 3) : r < 60 ? 6 : r < 70 ? 8 : r < 85 ? 10 : 11;
        } else {
            op = r < 50 ? 4 + (r & 1) : r < 53 ? 7 : r < 56 ? 9 : r < 61 ? 6 : r < 70 ? 8 : r < 85 ? 10 : 11;
        }
        if (op <= 3) {
            mval m = random_value();
            int where = op & 1 ? LIST_TAIL : LIST_HEAD;
            list_push(l, (sv){m.p, m.len}, where, lim);
            model_insert(where == LIST_HEAD ? 0 : n, m);
        } else if (op <= 5 && n > 0) {
            int where = op & 1 ? LIST_TAIL : LIST_HEAD;
            sv v = list_peek(l, where);
            CHECK(same(v, model[where == LIST_HEAD ? 0 : n - 1]));
            CHECK(list_pop(l, where, lim));
            model_delete(where == LIST_HEAD ? 0 : n - 1);
        } else if (op == 6 && n > 0) {
            /* insert before/after a random element, reached from either end */
            int at = (int)(util_rand64() % (size_t)n);
            int after = (int)(util_rand64() % 2);
            int dir = util_rand64() % 2 ? LIST_TAIL : LIST_HEAD;
            list_iter it;
            sv v;
            list_iter_init(&it, l, dir == LIST_TAIL ? at : at - n, dir);
            CHECK(list_iter_next(&it, &v) && same(v, model[at]));
            mval m = random_value();
            list_iter_insert(&it, (sv){m.p, m.len}, after, lim);
            model_insert(at + after, m);
        } else if (op == 7 && n > 0) {
            /* delete every k-th element while walking (like LREM) */
            int dir = util_rand64() % 2 ? LIST_TAIL : LIST_HEAD;
            int k = 2 + (int)(util_rand64() % 5);
            list_iter it;
            sv v;
            list_iter_init(&it, l, dir == LIST_TAIL ? 0 : -1, dir);
            int idx = 0;
            int pos = dir == LIST_TAIL ? 0 : n - 1;
            while (list_iter_next(&it, &v)) {
                CHECK(same(v, model[pos]));
                if (idx % k == 0) {
                    list_iter_delete(&it);
                    model_delete(pos);
                    if (dir == LIST_HEAD) {
                        pos--;
                    }
                } else {
                    pos += dir == LIST_TAIL ? 1 : -1;
                }
                idx++;
            }
            list_tidy(l, lim);
        } else if (op == 8 && n > 0) {
            int at = (int)(util_rand64() % (size_t)n);
            mval m = random_value();
            long idx = util_rand64() % 2 ? at : at - n;
            CHECK(list_set(l, idx, (sv){m.p, m.len}, lim));
            free(model[at].p);
            model[at] = m;
        } else if (op == 9 && n > 0) {
            size_t h = util_rand64() % (size_t)(n / 4 + 1), t = util_rand64() % (size_t)(n / 4 + 1);
            list_trim(l, h, t, lim);
            for (size_t i = 0; i < h && n > 0; i++) {
                model_delete(0);
            }
            for (size_t i = 0; i < t && n > 0; i++) {
                model_delete(n - 1);
            }
        } else if (op == 10) {
            long idx = (long)(util_rand64() % (size_t)(2 * n + 3)) - n - 1;
            sv v;
            int ok = list_index(l, idx, &v);
            int norm = idx < 0 ? (int)idx + n : (int)idx;
            CHECK(ok == (norm >= 0 && norm < n));
            if (ok) {
                CHECK(same(v, model[norm]));
            }
            CHECK(!list_set(l, n, SV("x"), lim));
        } else if (op == 11 && n > 0) {
            /* ranged walk from a random start */
            int at = (int)(util_rand64() % (size_t)n);
            list_iter it;
            sv v;
            list_iter_init(&it, l, at, LIST_TAIL);
            for (int i = at; i < n && i < at + 50; i++) {
                CHECK(list_iter_next(&it, &v) && same(v, model[i]));
            }
        }
        if (!l->compact) {
            saw_quick = 1;
        } else if (saw_quick) {
            saw_back = 1;
        }
        if (getenv("LDEBUG")) {
            fprintf(stderr, "step %d op %d n %d\n", s, op, n);
        }
        check(l, lim, 1);
        if (list_packed_nodes(l) > most_packed) {
            most_packed = list_packed_nodes(l);
        }
    }
    /* dup is deep and equal */
    list *d = list_dup(l);
    list_free(l);
    check(d, lim, 1);
    CHECK(list_mem(d) > 0);
    list_free(d);
    while (n > 0) {
        model_delete(n - 1);
    }
    CHECK(saw_quick);
    CHECK(saw_back);
    if (depth > 0 && fill != 1) {
        CHECK(most_packed > 0); /* compression really happened */
    }
    printf("  fill %ld depth %d: quicklist seen %d, back to listpack %d, most packed nodes %zu\n", fill, depth,
           saw_quick, saw_back, most_packed);
}

/* Encoding boundary with a count limit: exactly fill entries stay compact. */
static void boundary(void)
{
    /* Regression: a 255-byte element's length varint starts with 0xFF,
     * the listpack end byte; the listpack must not take it for the end. */
    char b255[383];
    memset(b255, 'q', sizeof(b255));
    lp *p = lp_append(lp_new(), (sv){b255, 255});
    p = lp_append(p, (sv){b255, 383});
    CHECK(lp_first(p) != NULL && lp_get(lp_first(p)).len == 255);
    CHECK(lp_next(p, lp_first(p)) != NULL && lp_get(lp_next(p, lp_first(p))).len == 383);
    unsigned char *q = lp_first(p);
    p = lp_delete(p, &q);
    CHECK(q != NULL && lp_get(q).len == 383);
    lp_free(p);

    list *l = list_new();
    for (int i = 0; i < 4; i++) {
        list_push(l, SV("x"), LIST_TAIL, LIM(4));
    }
    CHECK(strcmp(list_encoding(l), "listpack") == 0);
    list_push(l, SV("x"), LIST_TAIL, LIM(4));
    CHECK(strcmp(list_encoding(l), "quicklist") == 0);
    CHECK(l->nodes == 2);
    list_pop(l, LIST_TAIL, LIM(4)); /* 4 left in one node: still above half */
    CHECK(strcmp(list_encoding(l), "quicklist") == 0);
    list_pop(l, LIST_TAIL, LIM(4));
    list_pop(l, LIST_TAIL, LIM(4));
    CHECK(strcmp(list_encoding(l), "listpack") == 0);
    list_free(l);

    /* An element over the byte limit makes a quicklist at once. */
    char big[5000];
    memset(big, 'b', sizeof(big));
    l = list_new();
    list_push(l, (sv){big, sizeof(big)}, LIST_TAIL, LIM(-1));
    CHECK(strcmp(list_encoding(l), "quicklist") == 0);
    list_free(l);

    /* Changing the limit on a live list: nodes may exceed it, still valid. */
    l = list_new();
    for (int i = 0; i < 100; i++) {
        list_push(l, SV("abc"), i % 2 ? LIST_TAIL : LIST_HEAD, LIM(128));
    }
    CHECK(strcmp(list_encoding(l), "listpack") == 0);
    list_push(l, SV("abc"), LIST_TAIL, LIM(2));
    CHECK(strcmp(list_encoding(l), "quicklist") == 0);
    CHECK(list_len(l) == 101);
    list_trim(l, 50, 50, LIM(2));
    CHECK(list_len(l) == 1);
    CHECK(strcmp(list_encoding(l), "listpack") == 0);
    list_trim(l, 1, 0, LIM(2));
    CHECK(list_len(l) == 0 && l->head == NULL && l->tail == NULL);
    list_free(l);
}

/* The head node's front gap: LPUSH then LPOP of many small values, as a
 * queue does, keep their order, and the gap stays within its bounds (an
 * eighth of the node when made, never wider than the entries) so the
 * list's memory stays near its bytes. */
static void front_gap(void)
{
    list *l = list_new();
    list_limits lim = LIM(-2);
    char buf[32];
    int total = 20000, most = 0;
    for (int i = 0; i < total; i++) {
        int len = snprintf(buf, sizeof(buf), "job:%d", i);
        list_push(l, (sv){buf, (size_t)len}, LIST_HEAD, lim);
        most = l->head->gap > (uint32_t)most ? (int)l->head->gap : most;
        CHECK(l->head->gap <= lp_bytes(l->head->lp) / 8 + 16);
        for (list_node *nd = l->head->next; nd; nd = nd->next) {
            CHECK(nd->gap == 0); /* a node that stopped being the head gave it back */
        }
    }
    CHECK(most > 0);
    CHECK(list_len(l) == (size_t)total);
    sv v;
    CHECK(list_index(l, 0, &v) && v.len == 9 && memcmp(v.ptr, "job:19999", 9) == 0);
    CHECK(list_index(l, -1, &v) && v.len == 5 && memcmp(v.ptr, "job:0", 5) == 0);
    int ordered = 1, bounded = 1;
    for (int i = total - 1; i >= 0; i--) {
        int len = snprintf(buf, sizeof(buf), "job:%d", i);
        v = list_peek(l, LIST_HEAD);
        ordered &= v.len == (size_t)len && memcmp(v.ptr, buf, v.len) == 0;
        list_pop(l, LIST_HEAD, lim);
        if (l->head) {
            bounded &= l->head->gap <= lp_bytes(l->head->lp) || lp_len(l->head->lp) == 0;
            size_t bytes = 0;
            for (list_node *nd = l->head; nd; nd = nd->next) {
                bytes += lp_bytes(nd->lp);
            }
            bounded &= list_mem(l) <= 2 * bytes + sizeof(list) + l->nodes * sizeof(list_node) + 8192;
        }
    }
    CHECK(ordered);
    CHECK(bounded);
    CHECK(list_len(l) == 0 && l->head == NULL);
    /* A one-node queue (LPUSH at one end, RPOP at the other) keeps no gap,
     * which every RPOP would have to close. */
    int gapless = 1;
    for (int i = 0; i < 2000; i++) {
        int len = snprintf(buf, sizeof(buf), "queued:%d", i);
        list_push(l, (sv){buf, (size_t)len}, LIST_HEAD, lim);
        if (i >= 300) {
            list_pop(l, LIST_TAIL, lim);
        }
        gapless &= l->nodes == 1 && l->head->gap == 0;
    }
    CHECK(gapless);
    CHECK(list_len(l) == 300);
    list_trim(l, 300, 0, lim);
    /* Mixed ends: a tail write closes the gap first. */
    for (int i = 0; i < 400; i++) {
        int len = snprintf(buf, sizeof(buf), "v%d", i);
        list_push(l, (sv){buf, (size_t)len}, (i % 3) ? LIST_HEAD : LIST_TAIL, lim);
        if (i % 7 == 0) {
            list_pop(l, LIST_HEAD, lim);
        }
    }
    list_iter it;
    list_iter_init(&it, l, 0, LIST_TAIL);
    size_t seen = 0;
    while (list_iter_next(&it, &v)) {
        seen++;
    }
    CHECK(seen == list_len(l));
    list_free(l);
    printf("  front gap: widest %d bytes\n", most);
}

/* ---- active defragmentation ---- */

/* One write between two defrag steps: pushes and pops at both ends (the
 * head's front gap comes and goes), inserts and sets in the middle (nodes
 * split), trims, and index reads (which leave an inner node open). */
static void defrag_churn(list *l, list_limits lim)
{
    int op = (int)(util_rand64() % 8);
    if ((op <= 1 || n < 4) && n < MAXN - 1) {
        mval m = random_value();
        int where = op & 1 ? LIST_TAIL : LIST_HEAD;
        list_push(l, (sv){m.p, m.len}, where, lim);
        model_insert(where == LIST_HEAD ? 0 : n, m);
    } else if (op <= 3) {
        int where = op & 1 ? LIST_TAIL : LIST_HEAD;
        CHECK(list_pop(l, where, lim));
        model_delete(where == LIST_HEAD ? 0 : n - 1);
    } else if (op == 4 && n < MAXN - 1) {
        int at = (int)(util_rand64() % (size_t)n);
        list_iter it;
        sv v;
        list_iter_init(&it, l, at, LIST_TAIL);
        CHECK(list_iter_next(&it, &v) && same(v, model[at]));
        mval m = random_value();
        list_iter_insert(&it, (sv){m.p, m.len}, 1, lim);
        model_insert(at + 1, m);
    } else if (op == 5) {
        int at = (int)(util_rand64() % (size_t)n);
        mval m = random_value();
        CHECK(list_set(l, at, (sv){m.p, m.len}, lim));
        free(model[at].p);
        model[at] = m;
    } else if (op == 6 && util_rand64() % 8 == 0) {
        list_trim(l, 1, 1, lim);
        model_delete(0);
        model_delete(n - 1);
    } else {
        int at = (int)(util_rand64() % (size_t)n);
        sv v;
        CHECK(list_index(l, at, &v) && same(v, model[at]));
    }
}

/* Builds a list of `len` elements, then defrags it to the end with every
 * block forced to move, `budget` elements per step, writing between the
 * steps when churn is set; then checks every structural invariant (links
 * both ways, head, tail, the open node, packing, gaps) and the contents.
 * A quiet pass takes one step per `budget` elements' worth of nodes, and
 * moves every node and its data. Force off: nothing changes. */
static void defrag_run(list_limits lim, int len, size_t budget, int churn, unsigned long seed)
{
    util_rand_seed(seed);
    list *l = list_new();
    n = 0;
    for (int i = 0; i < len; i++) {
        mval m = random_value();
        int where = util_rand64() % 3 ? LIST_TAIL : LIST_HEAD;
        list_push(l, (sv){m.p, m.len}, where, lim);
        model_insert(where == LIST_HEAD ? 0 : n, m);
    }
    if (n > 2) {
        sv v;
        CHECK(list_index(l, n / 2, &v) && same(v, model[n / 2])); /* opens a packed node */
    }
    check(l, lim, 1);
    size_t nodes = l->nodes;
    long long hits0, misses0, hits1, misses1;
    alloc_defrag_counts(&hits0, &misses0);
    alloc_defrag_force(1);
    unsigned long cursor = 0;
    int calls = 0, moved_struct = 0;
    do {
        list *was = l;
        l = list_defrag(l, &cursor, budget);
        moved_struct |= l != was;
        calls++;
        if (churn) {
            defrag_churn(l, lim);
        }
    } while (cursor != 0 && calls < 1000000);
    alloc_defrag_force(0);
    alloc_defrag_counts(&hits1, &misses1);
    CHECK(cursor == 0 && moved_struct);
    if (!churn) {
        /* Each step does whole nodes until budget elements are done. */
        int want = 0;
        size_t acc = 0;
        for (list_node *nd = l->head; nd; nd = nd->next) {
            acc += list_node_count(nd);
            if (acc >= budget || !nd->next) {
                want++;
                acc = 0;
            }
        }
        CHECK(calls == (want ? want : 1));
        CHECK((size_t)(hits1 - hits0) == 1 + 2 * nodes);
    }
    check(l, lim, 1);
    cursor = 0;
    do {
        l = list_defrag(l, &cursor, budget);
    } while (cursor != 0);
    check(l, lim, 1);
    list_free(l);
    while (n > 0) {
        model_delete(n - 1);
    }
}

static void defrag(void)
{
    for (int churn = 0; churn <= 1; churn++) {
        defrag_run(LIM(16), 1000, 7, churn, 31);                   /* nodes of 16: one node a step */
        defrag_run(LIM(3), 1500, 7, churn, 32);                    /* several nodes a step */
        defrag_run(LIM(-2), 1500, 40, churn, 33);                  /* 8 KB nodes, front gap at the head */
        defrag_run(LIM(128), 60, 7, churn, 34);                    /* the compact encoding: one node */
        defrag_run(LIM(128), 60, 100, churn, 35);                  /* under the budget: one step */
        defrag_run((list_limits){16, 1, 0}, 1500, 7, churn, 36);   /* packed inner nodes */
        defrag_run((list_limits){-1, 2, 0}, 1500, 25, churn, 37);  /* packed, by bytes */
        defrag_run((list_limits){8, 1, 130}, 1000, 7, churn, 38);  /* plain nodes among packed ones */
        defrag_run((list_limits){-2, 0, 130}, 1000, 7, churn, 39); /* plain nodes, front gap */
    }
}

int main(void)
{
    boundary();
    front_gap();
    long fills[] = {1, 3, 16, 128, -1, -2, -3};
    for (size_t i = 0; i < sizeof(fills) / sizeof(fills[0]); i++) {
        run(fills[i], 0, 0, 8000, fills[i] == -3 ? 1200 : 500);
    }
    /* Compressed: nodes of 16 entries or 4 KB, 1-3 plain nodes per end. */
    run(16, 1, 0, 8000, 500);
    run(-1, 1, 0, 8000, 1200);
    run(3, 2, 0, 8000, 500);
    run(-2, 3, 0, 8000, 1200);
    /* Plain nodes: values of 130 bytes and more are large. */
    run(-2, 0, 130, 8000, 500);
    run(16, 1, 130, 8000, 500);
    run(2, 0, 200, 8000, 500);
    CHECK(gaps > 0); /* the random runs met front gaps */
    printf("  checks that met a front gap: %zu\n", gaps);
    defrag(); /* last: the runs above depend on the random sequence from the start */
    return unit_report("list");
}
