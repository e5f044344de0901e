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

int main(void)
{
    score_format();
    run(16, 64, 20000, 1);
    run(128, 64, 20000, 2);
    run(0, 64, 5000, 3);
    run(4, 2, 5000, 4);
    return unit_report("zset");
}
