/* zset unit test: random operations on a sorted set checked against a
 * brute-force model (a sorted array of (score, member) pairs), in both
 * encodings and across the listpack -> big encoding conversion. After every
 * step the whole order is walked both ways and ranks, scores and range
 * bounds are compared with the model's. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "ds/ordtree.h"
#include "types/zset.h"
#include "unit.h"

#define MAXN 400

typedef struct pair {
    double score;
    char m[80];
    size_t len;
} pair;

static pair model[MAXN];
static int n;

static sv msv(const pair *p)
{
    return (sv){p->m, p->len};
}

static int model_find(sv m)
{
    for (int i = 0; i < n; i++) {
        if (sv_eq(msv(&model[i]), m)) {
            return i;
        }
    }
    return -1;
}

static void model_remove(int i)
{
    memmove(&model[i], &model[i + 1], sizeof(pair) * (size_t)(n - i - 1));
    n--;
}

static void model_insert(double score, sv m)
{
    int i = 0;
    while (i < n && ordtree_cmp(model[i].score, msv(&model[i]), score, m) < 0) {
        i++;
    }
    memmove(&model[i + 1], &model[i], sizeof(pair) * (size_t)(n - i));
    model[i].score = score;
    memcpy(model[i].m, m.ptr, m.len);
    model[i].len = m.len;
    n++;
}

/* Members from a small alphabet so adds hit existing members often; a few
 * long ones force the conversion by value size. */
static sv random_member(char *buf)
{
    size_t len = 1 + util_rand64() % 3;
    if (util_rand64() % 50 == 0) {
        len = 65 + util_rand64() % 10;
    }
    for (size_t i = 0; i < len; i++) {
        buf[i] = (char)('a' + util_rand64() % 6);
    }
    return (sv){buf, len};
}

static double random_score(void)
{
    /* Few distinct scores: ties exercise the member order. */
    static const double pool[] = {-INFINITY, -2.5, -1, 0, 1, 1.5, 2, 3, INFINITY};
    return pool[util_rand64() % (sizeof(pool) / sizeof(pool[0]))];
}

static void check_all(zset *z)
{
    CHECK(zset_len(z) == (size_t)n);
    zset_iter it;
    sv m;
    double s;
    int i = 0;
    zset_iter_at(&it, z, 0, 0);
    while (zset_iter_next(&it, &m, &s)) {
        CHECK(i < n && sv_eq(m, msv(&model[i])) && s == model[i].score);
        i++;
    }
    CHECK(i == n);
    i = n - 1;
    if (n) {
        zset_iter_at(&it, z, (size_t)n - 1, 1);
        while (zset_iter_next(&it, &m, &s)) {
            CHECK(i >= 0 && sv_eq(m, msv(&model[i])));
            i--;
        }
    }
    CHECK(i == -1);
    /* Ranks and scores of a few members. */
    for (int k = 0; k < 5 && n; k++) {
        int j = (int)(util_rand64() % (uint64_t)n);
        double sc;
        CHECK(zset_rank(z, msv(&model[j]), &sc) == j);
        CHECK(sc == model[j].score);
    }
    /* Iteration from a random rank. */
    if (n) {
        size_t r = util_rand64() % (uint64_t)n;
        zset_iter_at(&it, z, r, 0);
        CHECK(zset_iter_next(&it, &m, &s) && sv_eq(m, msv(&model[r])));
    }
}

static void check_ranges(zset *z)
{
    zscore_range r = {random_score(), random_score(), (int)(util_rand64() & 1), (int)(util_rand64() & 1)};
    size_t start, end, ms = 0, me = 0;
    zset_score_bounds(z, &r, &start, &end);
    /* Model: first index in range, one past the last. */
    while ((int)ms < n && (r.minex ? model[ms].score <= r.min : model[ms].score < r.min)) {
        ms++;
    }
    while ((int)me < n && (r.maxex ? model[me].score < r.max : model[me].score <= r.max)) {
        me++;
    }
    CHECK(start == ms && end == me);

    /* Iteration from a score: the first element >= r.min, then ascending. */
    {
        size_t k = 0;
        while ((int)k < n && model[k].score < r.min) {
            k++;
        }
        zset_iter si;
        sv sm;
        double ss;
        zset_iter_from_score(&si, z, r.min);
        int steps = 0;
        while (steps < 3 && zset_iter_next(&si, &sm, &ss)) {
            CHECK((int)k < n && sv_eq(sm, msv(&model[k])) && ss == model[k].score);
            k++;
            steps++;
        }
        CHECK(steps == 3 || (int)k == n);
    }

    /* Lex bounds among the members of one score (all same-score members
     * are in member order, which is the case lex ranges are defined for). */
    char b1[80], b2[80];
    zlex_range lr = {random_member(b1),        random_member(b2), (int)(util_rand64() & 1),
                     (int)(util_rand64() & 1), ZLEX_VAL,          ZLEX_VAL};
    if (util_rand64() % 5 == 0) {
        lr.min_kind = ZLEX_NEG;
    }
    if (util_rand64() % 5 == 0) {
        lr.max_kind = ZLEX_POS;
    }
    zset *same = zset_new(0, 0);
    int cnt = 0;
    for (int i = 0; i < n; i++) {
        int out;
        same = zset_add(same, 0, msv(&model[i]), 0, &out, NULL);
        cnt++;
    }
    zset_lex_bounds(same, &lr, &start, &end);
    size_t in = 0, first = (size_t)-1;
    zset_iter it;
    sv m;
    double s;
    size_t idx = 0;
    zset_iter_at(&it, same, 0, 0);
    while (zset_iter_next(&it, &m, &s)) {
        if (zset_lex_gte_min(m, &lr) && zset_lex_lte_max(m, &lr)) {
            in++;
            if (first == (size_t)-1) {
                first = idx;
            }
        }
        idx++;
    }
    CHECK((size_t)cnt == zset_len(same));
    CHECK(end > start ? end - start == in && first == start : in == 0);
    zset_free(same);
}

static void run(size_t entries, size_t value, int steps, uint64_t seed)
{
    util_rand_seed(seed);
    zset_set_limits(entries, value);
    n = 0;
    zset *z = zset_new(0, 0);
    int converted = 0;
    for (int step = 0; step < steps; step++) {
        char buf[80];
        sv m = random_member(buf);
        int op = (int)(util_rand64() % 10);
        if (op <= 4 && n < MAXN - 1) {
            /* ZADD with random flags (never both NX and XX, or GT/LT with NX). */
            static const int flagsets[] = {0,       ZADD_NX,   ZADD_XX,           ZADD_GT,
                                           ZADD_LT, ZADD_INCR, ZADD_XX | ZADD_GT, ZADD_INCR | ZADD_LT};
            int flags = flagsets[util_rand64() % 8];
            double score = random_score();
            int out;
            double ns = NAN;
            z = zset_add(z, score, m, flags, &out, &ns);
            int i = model_find(m);
            if (i >= 0) {
                double cur = model[i].score, want = (flags & ZADD_INCR) ? cur + score : score;
                if (flags & ZADD_NX) {
                    CHECK(out == ZADD_OUT_NOP);
                } else if (isnan(want)) {
                    CHECK(out == ZADD_OUT_NAN);
                } else if (((flags & ZADD_LT) && want >= cur) || ((flags & ZADD_GT) && want <= cur)) {
                    CHECK(out == ZADD_OUT_NOP);
                } else {
                    CHECK(ns == want);
                    CHECK(out == (want != cur ? ZADD_OUT_UPDATED : 0));
                    model_remove(i);
                    model_insert(want, m);
                }
            } else if (flags & ZADD_XX) {
                CHECK(out == ZADD_OUT_NOP);
            } else {
                CHECK(out == ZADD_OUT_ADDED && ns == score);
                model_insert(score, m);
            }
        } else if (op <= 6) {
            int removed;
            int i = model_find(m);
            z = zset_remove(z, m, &removed);
            CHECK(removed == (i >= 0));
            if (i >= 0) {
                model_remove(i);
            }
        } else if (op == 7 && n && util_rand64() % 4 == 0) {
            size_t a = util_rand64() % (uint64_t)n, b = a + util_rand64() % 4;
            z = zset_delete_ranks(z, a, b);
            if ((int)b > n) {
                b = (size_t)n;
            }
            for (size_t k = a; k < b; k++) {
                model_remove((int)a);
            }
        } else if (op == 8) {
            double s;
            int i = model_find(m);
            CHECK(zset_score(z, m, &s) == (i >= 0));
            CHECK(i < 0 || s == model[i].score);
            CHECK(zset_rank(z, m, NULL) == i);
        } else {
            check_ranges(z);
        }
        if (!zset_is_listpack(z)) {
            converted = 1;
        }
        check_all(z);
        if (step % 500 == 0) {
            zset *d = zset_dup(z);
            check_all(d);
            zset_free(z);
            z = d;
        }
    }
    CHECK(entries >= MAXN || converted);
    zset_free(z);
}

/* Scores are replied through util_d2str: its fast paths must print
 * exactly what this plain reading of the rules prints (Redis 7.2+'s
 * d2string: integers below 2^62 as integers, else the shortest digits that
 * read back, plain when the exponent is small enough, else d.ddde+X). */
static int d2str_reference(char *buf, double v)
{
    if (isinf(v)) {
        return sprintf(buf, v > 0 ? "inf" : "-inf");
    }
    if (v == 0) {
        return sprintf(buf, signbit(v) ? "-0" : "0");
    }
    if (fabs(v) <= 4611686018427387903.0 && v == trunc(v)) {
        return sprintf(buf, "%lld", (long long)v);
    }
    char e[64];
    for (int prec = fabs(v) < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
        sprintf(e, "%.*e", prec - 1, fabs(v));
        if (strtod(e, NULL) == fabs(v)) {
            break;
        }
    }
    char d[32];
    int nd = 0;
    char *x = strchr(e, 'e');
    for (char *p = e; p < x; p++) {
        if (*p != '.') {
            d[nd++] = *p;
        }
    }
    while (nd > 1 && d[nd - 1] == '0') {
        nd--;
    }
    d[nd] = '\0';
    int ex = atoi(x + 1), k = ex - (nd - 1), aex = abs(ex);
    const char *sign = v < 0 ? "-" : "";
    if (k >= 0 && aex < nd + 7) {
        return sprintf(buf, "%s%s%.*s", sign, d, k, "0000000000000000000000");
    }
    if (k < 0 && (k > -7 || aex < 4)) {
        if (ex < 0) {
            return sprintf(buf, "%s0.%.*s%s", sign, -ex - 1, "0000000000", d);
        }
        return sprintf(buf, "%s%.*s.%s", sign, ex + 1, d, d + ex + 1);
    }
    return sprintf(buf, "%s%c%s%.*s%se%c%d", sign, d[0], nd > 1 ? "." : "", nd - 1, d + 1, "", ex < 0 ? '-' : '+', aex);
}

static void score_format(void)
{
    util_rand_seed(11);
    static const double fixed[] = {1.1,
                                   0.1,
                                   -0.5,
                                   1e-4,
                                   9.9999e-5,
                                   1e15,
                                   999999999999999.0,
                                   1e14 + 0.5,
                                   123456789012345.0,
                                   1700000000.123,
                                   1e-3,
                                   3.0,
                                   -2.5,
                                   0.30000000000000004};
    char a[64], b[64];
    int same = 1;
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        int la = util_d2str(a, fixed[i]), lb = d2str_reference(b, fixed[i]);
        if (la != lb || strcmp(a, b) != 0) {
            fprintf(stderr, "d2str(%.17g): %s vs %s\n", fixed[i], a, b);
            same = 0;
        }
    }
    for (int i = 0; i < 300000; i++) {
        double v;
        uint64_t r = util_rand64();
        switch (i % 4) {
        case 0: /* short decimals of every scale */
            v = (double)(long long)(r % 100000000) / pow(10, (double)(util_rand64() % 12)) *
                pow(10, (double)(util_rand64() % 10));
            break;
        case 1: /* timestamps with ms */ v = 1.7e9 + (double)(r % 100000000) / 1000; break;
        case 2: /* arbitrary bit patterns */
            memcpy(&v, &r, sizeof(v));
            if (isnan(v)) {
                v = 1;
            }
            break;
        default: v = (double)(r % 1000000) / 997.0;
        }
        if (util_rand64() & 1) {
            v = -v;
        }
        int la = util_d2str(a, v), lb = d2str_reference(b, v);
        if (la != lb || strcmp(a, b) != 0) {
            if (same) {
                fprintf(stderr, "d2str(%.17g): %s vs %s\n", v, a, b);
            }
            same = 0;
        }
    }
    CHECK(same);
}

/* ---- active defragmentation ----
 * A model of its own, for sets of thousands (several tree levels): members
 * "m<id>" (some padded long), present[] and score[] by id. */

#define DMAX 12000

static int d_present[DMAX];
static double d_score[DMAX];
static int d_order[DMAX];

static sv d_member(int id, char *buf)
{
    int len = snprintf(buf, 80, "m%d", id);
    if (id % 13 == 0) {
        len += snprintf(buf + len, 80 - (size_t)len, "-%040d", id); /* a longer element */
    }
    return (sv){buf, (size_t)len};
}

/* The id of member "m<id>..." (member bytes are not NUL-terminated). */
static int d_id(sv m)
{
    int id = 0;
    for (size_t i = 1; i < m.len && m.ptr[i] >= '0' && m.ptr[i] <= '9'; i++) {
        id = id * 10 + (m.ptr[i] - '0');
    }
    return id < DMAX ? id : 0;
}

static int d_cmp(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    char bx[80], by[80];
    return ordtree_cmp(d_score[x], d_member(x, bx), d_score[y], d_member(y, by));
}

/* The present ids in the set's order; returns their number. */
static int d_sorted(void)
{
    int k = 0;
    for (int id = 0; id < DMAX; id++) {
        if (d_present[id]) {
            d_order[k++] = id;
        }
    }
    qsort(d_order, (size_t)k, sizeof(d_order[0]), d_cmp);
    return k;
}

static double d_random_score(void)
{
    return (double)(util_rand64() % 40); /* many ties: member order matters */
}

static zset *d_add(zset *z, int id, double score)
{
    char buf[80];
    int out;
    z = zset_add(z, score, d_member(id, buf), 0, &out, NULL);
    CHECK(out == (d_present[id] ? (score != d_score[id] ? ZADD_OUT_UPDATED : 0) : ZADD_OUT_ADDED));
    d_present[id] = 1;
    d_score[id] = score;
    return z;
}

/* One write, as a command between two defrag calls would make: adds,
 * score changes (moving an element in the order), removals, rank range
 * deletes. */
static zset *d_churn(zset *z, int ids)
{
    int id = (int)(util_rand64() % (uint64_t)ids);
    char buf[80];
    switch (util_rand64() % 4) {
    case 0:
    case 1: return d_add(z, id, d_random_score());
    case 2: {
        int removed;
        z = zset_remove(z, d_member(id, buf), &removed);
        CHECK(removed == d_present[id]);
        d_present[id] = 0;
        return z;
    }
    default: {
        size_t len = zset_len(z);
        if (len == 0) {
            return z;
        }
        size_t start = util_rand64() % len, end = start + util_rand64() % 5;
        zset_iter it;
        sv m;
        double s;
        zset_iter_at(&it, z, start, 0);
        for (size_t r = start; r < end && zset_iter_next(&it, &m, &s); r++) {
            d_present[d_id(m)] = 0;
        }
        return zset_delete_ranks(z, start, end);
    }
    }
}

static void d_scan_mark(sv m, double s, void *ctx)
{
    int *seen = ctx;
    int id = d_id(m);
    seen[id]++;
    CHECK(d_present[id] && d_score[id] == s);
}

/* Everything the set answers, against the model: both walks, rank and
 * score of every member, rank lookups, score bounds, a full scan of the
 * member dict, and members that are not there. */
static void d_check(zset *z)
{
    int k = d_sorted();
    CHECK(zset_len(z) == (size_t)k);
    char buf[80];
    zset_iter it;
    sv m;
    double s;
    int fwd = 1, back = 1, ranks = 1, at = 1, i = 0;
    zset_iter_at(&it, z, 0, 0);
    for (; zset_iter_next(&it, &m, &s); i++) {
        fwd &= i < k && sv_eq(m, d_member(d_order[i], buf)) && s == d_score[d_order[i]];
    }
    fwd &= i == k;
    i = k - 1;
    zset_iter_at(&it, z, (size_t)(k ? k - 1 : 0), 1);
    for (; k && zset_iter_next(&it, &m, &s); i--) {
        back &= i >= 0 && sv_eq(m, d_member(d_order[i], buf));
    }
    back &= i == -1;
    for (i = 0; i < k; i++) {
        double sc = NAN;
        ranks &= zset_rank(z, d_member(d_order[i], buf), &sc) == i && sc == d_score[d_order[i]];
        if (i % 37 == 0) {
            zset_iter_at(&it, z, (size_t)i, 0);
            at &= zset_iter_next(&it, &m, &s) && sv_eq(m, d_member(d_order[i], buf));
        }
    }
    CHECK(fwd && back && ranks && at);
    int absent = 1;
    for (int id = 0; id < DMAX; id += 7) {
        double sc;
        absent &=
            d_present[id] || (!zset_score(z, d_member(id, buf), &sc) && zset_rank(z, d_member(id, buf), NULL) < 0);
    }
    CHECK(absent);
    int bounds = 1;
    for (int q = 0; q < 8; q++) {
        zscore_range r = {d_random_score(), d_random_score() + 5, q & 1, (q >> 1) & 1};
        size_t start, end, ms = 0, me = 0;
        zset_score_bounds(z, &r, &start, &end);
        while ((int)ms < k && (r.minex ? d_score[d_order[ms]] <= r.min : d_score[d_order[ms]] < r.min)) {
            ms++;
        }
        while ((int)me < k && (r.maxex ? d_score[d_order[me]] < r.max : d_score[d_order[me]] <= r.max)) {
            me++;
        }
        bounds &= start == ms && end == me;
    }
    CHECK(bounds);
    static int seen[DMAX];
    memset(seen, 0, sizeof(seen));
    unsigned long cursor = 0;
    do {
        cursor = zset_scan(z, cursor, d_scan_mark, seen);
    } while (cursor != 0);
    int once = 1;
    for (int id = 0; id < DMAX; id++) {
        once &= d_present[id] ? seen[id] >= 1 : seen[id] == 0;
    }
    CHECK(once);
    CHECK(zset_mem(z) > 0);
}

/* Defrag to completion with every block forced to move, in steps of
 * `budget` elements, optionally writing between the steps; then the whole
 * set is checked. Returns the steps taken. */
static zset *d_pass(zset *z, size_t budget, int churn, int ids, int *steps)
{
    unsigned long cursor = 0;
    int calls = 0;
    alloc_defrag_force(1);
    do {
        z = zset_defrag(z, &cursor, budget);
        calls++;
        if (churn) {
            z = d_churn(z, ids);
        }
    } while (cursor != 0 && calls < 1000000);
    alloc_defrag_force(0);
    CHECK(cursor == 0);
    *steps = calls;
    return z;
}

static void defrag(void)
{
    util_rand_seed(21);
    zset_set_limits(128, 64);
    long long hits0, misses0, hits1, misses1;
    int steps;

    /* A listpack: one block, moved whole in one step (whatever cursor it
     * is handed, as after a conversion); the handle changes. */
    memset(d_present, 0, sizeof(d_present));
    zset *z = zset_new(0, 0);
    for (int id = 0; id < 100; id++) {
        z = d_add(z, id, d_random_score());
    }
    CHECK(zset_is_listpack(z));
    zset *was = z;
    unsigned long cursor = 4242;
    alloc_defrag_force(1);
    z = zset_defrag(z, &cursor, 7);
    alloc_defrag_force(0);
    CHECK(cursor == 0 && z != was && zset_is_listpack(z));
    d_check(z);
    z = d_pass(z, 7, 1, 150, &steps);
    CHECK(steps == 1);
    d_check(z);
    zset_free(z);

    /* A small big-encoded set: under the budget, done in one step. */
    memset(d_present, 0, sizeof(d_present));
    z = zset_new(1000, 0);
    for (int id = 0; id < 60; id++) {
        z = d_add(z, id, d_random_score());
    }
    CHECK(!zset_is_listpack(z));
    z = d_pass(z, 100, 0, 0, &steps);
    CHECK(steps == 1);
    d_check(z);
    zset_free(z);

    /* A big set over several tree levels: a quiet pass moves every element
     * and node once (the struct, tables and tree nodes on top), in
     * ceil(n / budget) steps. */
    memset(d_present, 0, sizeof(d_present));
    z = zset_new(0, 0);
    for (int id = 0; id < DMAX; id++) {
        z = d_add(z, id, d_random_score());
    }
    alloc_defrag_counts(&hits0, &misses0);
    z = d_pass(z, 7, 0, 0, &steps);
    alloc_defrag_counts(&hits1, &misses1);
    CHECK(steps == (DMAX + 6) / 7);
    CHECK(hits1 - hits0 > DMAX + DMAX / ORDTREE_LEAF_CAP);
    d_check(z);

    /* Then passes with writes between every step: adds, removals, score
     * moves and rank deletes shift the rank cursor under it. */
    for (int pass = 0; pass < 3; pass++) {
        z = d_pass(z, 7 + (size_t)pass * 50, 1, DMAX, &steps);
        d_check(z);
    }
    /* The set shrinking under the cursor: the next step finds it past the
     * end and finishes. */
    cursor = 0;
    alloc_defrag_force(1);
    for (int i = 0; i < 200; i++) {
        z = zset_defrag(z, &cursor, 7);
    }
    CHECK(cursor > 0);
    size_t len = zset_len(z);
    zset_iter it;
    sv m;
    double s;
    zset_iter_at(&it, z, 100, 0);
    while (zset_iter_next(&it, &m, &s)) {
        d_present[d_id(m)] = 0;
    }
    z = zset_delete_ranks(z, 100, len);
    z = zset_defrag(z, &cursor, 7);
    alloc_defrag_force(0);
    CHECK(cursor == 0);
    d_check(z);

    /* Force off: only what the allocator advises (nothing without
     * jemalloc) moves, and nothing breaks. */
    cursor = 0;
    do {
        z = zset_defrag(z, &cursor, 64);
    } while (cursor != 0);
    d_check(z);
    zset_free(z);
}

int main(void)
{
    defrag();
    score_format();
    run(16, 64, 20000, 1);
    run(128, 64, 20000, 2);
    run(0, 64, 5000, 3);
    run(4, 2, 5000, 4);
    return unit_report("zset");
}
