/* stream_idmp unit test: random records, lookups and expiry over a few
 * producers, checked against a model (per producer, the list of (iid, id)
 * in arrival order, at most maxsize long, none older than the duration).
 * Also: IDMPAUTO's iid ignores pair order, dup copies everything, clear
 * forgets producers but not counters, and nothing leaks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "types/stream.h"
#include "types/stream_idmp.h"
#include "unit.h"

#define NPIDS 4
#define NIIDS 40 /* iid names drawn from i0..i39 */
#define MAXN 64

typedef struct model_item {
    int iid;
    stream_id id;
} model_item;

static model_item model[NPIDS][MAXN];
static int model_n[NPIDS];

static sv name(char *buf, char prefix, int i)
{
    int n = snprintf(buf, 16, "%c%d", prefix, i);
    return (sv){buf, (size_t)n};
}

static void model_drop(int p, int at)
{
    memmove(&model[p][at], &model[p][at + 1], sizeof(model_item) * (size_t)(model_n[p] - at - 1));
    model_n[p]--;
}

static void model_expire(int p, int64_t now, uint32_t duration)
{
    uint64_t keep = (uint64_t)duration * 1000;
    while (model_n[p] && now > 0 && (uint64_t)now > keep && model[p][0].id.ms <= (uint64_t)now - keep) {
        model_drop(p, 0);
    }
}

static void model_record(int p, int iid, stream_id id, uint32_t maxsize)
{
    for (int i = 0; i < model_n[p]; i++) {
        if (model[p][i].iid == iid) {
            model_drop(p, i);
            break;
        }
    }
    while (model_n[p] >= (int)maxsize) {
        model_drop(p, 0);
    }
    model[p][model_n[p]++] = (model_item){iid, id};
}

static uint64_t model_total(void)
{
    uint64_t n = 0;
    for (int p = 0; p < NPIDS; p++) {
        n += (uint64_t)model_n[p];
    }
    return n;
}

static void run(uint32_t maxsize, uint32_t duration, int steps)
{
    memset(model_n, 0, sizeof(model_n));
    stream *s = stream_new();
    s->idmp_maxsize = maxsize;
    s->idmp_duration = duration;
    int64_t now = 1000000;
    for (int step = 0; step < steps; step++) {
        now += rand() % 300; /* entries age: some expire */
        int p = rand() % NPIDS, iid = rand() % NIIDS;
        char pb[16], ib[16];
        sv pid = name(pb, 'p', p), iv = name(ib, 'i', iid);
        model_expire(p, now, duration);
        stream_id got;
        int found = stream_idmp_find(s, pid, iv, now, &got);
        int mi = -1;
        for (int i = 0; i < model_n[p]; i++) {
            if (model[p][i].iid == iid) {
                mi = i;
            }
        }
        CHECK(found == (mi >= 0));
        if (found && mi >= 0) {
            CHECK(stream_id_cmp(&got, &model[p][mi].id) == 0);
        }
        if (!found || rand() % 8 == 0) { /* a new entry, or a replica's replay */
            stream_id id = {(uint64_t)now, (uint64_t)step};
            stream_idmp_record(s, pid, iv, &id, rand() % 2 ? now : 0);
            model_record(p, iid, id, maxsize);
        }
        if (step % 97 == 0) {
            for (int q = 0; q < NPIDS; q++) {
                model_expire(q, now, duration);
            }
            stream_idmp_expire(s, now);
            int live = 0;
            for (int q = 0; q < NPIDS; q++) {
                live += model_n[q] > 0;
            }
            CHECK(stream_idmp_iids(s) == model_total());
            CHECK(stream_idmp_pids(s) == (size_t)live);
        }
    }
    stream *d = stream_dup(s);
    CHECK(stream_idmp_iids(d) == stream_idmp_iids(s) && stream_idmp_pids(d) == stream_idmp_pids(s));
    CHECK(d->idmp_maxsize == maxsize && d->idmp_duration == duration);
    CHECK(stream_idmp_mem(d) > 0 || stream_idmp_iids(d) == 0);
    s->iids_added = 7;
    stream_idmp_clear(s);
    CHECK(stream_idmp_iids(s) == 0 && stream_idmp_pids(s) == 0 && s->iids_added == 7 && stream_idmp_mem(s) == 0);
    stream_free(s);
    stream_free(d);
}

/* Producers that stop writing are forgotten while others write on, with
 * no XINFO or lookup of theirs. */
static void test_idle_producers_go(void)
{
    stream *s = stream_new();
    s->idmp_duration = 1;
    char pb[16], ib[16];
    for (int i = 0; i < 1000; i++) {
        stream_id id = {1000, (uint64_t)i};
        stream_idmp_record(s, name(pb, 'p', i), name(ib, 'i', 0), &id, 1000);
    }
    CHECK(stream_idmp_pids(s) == 1000);
    for (int i = 0; i < 1000; i++) {
        stream_id id = {5000, (uint64_t)i};
        stream_idmp_record(s, name(pb, 'q', 0), name(ib, 'i', i), &id, 5000);
    }
    CHECK(stream_idmp_pids(s) == 1);
    CHECK(stream_idmp_iids(s) == 100);
    stream_free(s);
}

static void test_auto_iid(void)
{
    sv a[4] = {{"f1", 2}, {"x", 1}, {"f2", 2}, {"y", 1}};
    sv b[4] = {{"f2", 2}, {"y", 1}, {"f1", 2}, {"x", 1}};
    sv c[4] = {{"f1", 2}, {"y", 1}, {"f2", 2}, {"x", 1}};
    unsigned char ha[16], hb[16], hc[16];
    stream_idmp_auto_iid(a, 4, ha);
    stream_idmp_auto_iid(b, 4, hb);
    stream_idmp_auto_iid(c, 4, hc);
    CHECK(memcmp(ha, hb, 16) == 0);
    CHECK(memcmp(ha, hc, 16) != 0);
    /* A pair longer than the stack buffer hashes as the same run of bytes. */
    static char big[2000];
    memset(big, 'z', sizeof(big));
    sv l1[2] = {{big, 1000}, {big, 1000}}, l2[2] = {{big, 1500}, {big, 500}};
    unsigned char h1[16], h2[16];
    stream_idmp_auto_iid(l1, 2, h1);
    stream_idmp_auto_iid(l2, 2, h2);
    CHECK(memcmp(h1, h2, 16) == 0);
}

/* ---- active defragmentation ----
 * Many producers (so the producer table has chains and rehashes), each
 * with up to DP_IIDS iids, defragmented with every block forced to move in
 * steps of a few blocks, while producers are added, written, expired and
 * forgotten between the steps. Then each producer's iids must be found,
 * and be in its ring in arrival order; a ring slot or index chain left
 * pointing at a freed iid shows under ASan or as a wrong answer. */

#define DP_PIDS 300
#define DP_IIDS 50

static int dp_n[DP_PIDS];
static int dp_iid[DP_PIDS][DP_IIDS];
static stream_id dp_id[DP_PIDS][DP_IIDS];
static uint64_t dp_clock;

static void dp_drop(int p, int at)
{
    memmove(&dp_iid[p][at], &dp_iid[p][at + 1], sizeof(int) * (size_t)(dp_n[p] - at - 1));
    memmove(&dp_id[p][at], &dp_id[p][at + 1], sizeof(stream_id) * (size_t)(dp_n[p] - at - 1));
    dp_n[p]--;
}

static void dp_record(stream *s, int p, int iid)
{
    char pb[16], ib[16];
    stream_id id = {++dp_clock, 0};
    stream_idmp_record(s, name(pb, 'p', p), name(ib, 'i', iid), &id, 0);
    for (int i = 0; i < dp_n[p]; i++) {
        if (dp_iid[p][i] == iid) {
            dp_drop(p, i);
            break;
        }
    }
    if (dp_n[p] == (int)s->idmp_maxsize) {
        dp_drop(p, 0);
    }
    dp_iid[p][dp_n[p]] = iid;
    dp_id[p][dp_n[p]] = id;
    dp_n[p]++;
}

/* Everything older than the last `keep` ms goes (duration 1 s). */
static void dp_expire(stream *s, uint64_t keep)
{
    int64_t now = (int64_t)(dp_clock - keep + 1000);
    stream_idmp_expire(s, now);
    for (int p = 0; p < DP_PIDS; p++) {
        while (dp_n[p] && dp_id[p][0].ms <= (uint64_t)now - 1000) {
            dp_drop(p, 0);
        }
    }
}

typedef struct dp_walk {
    int p, i, bad;
} dp_walk;

static int dp_num(sv name)
{
    int x = 0;
    for (size_t i = 1; i < name.len; i++) {
        x = x * 10 + (name.ptr[i] - '0');
    }
    return x;
}

static void dp_producer(void *ctx, sv pid, size_t cnt)
{
    dp_walk *w = ctx;
    w->p = dp_num(pid);
    w->i = 0;
    w->bad += cnt != (size_t)dp_n[w->p];
}

static void dp_iid_seen(void *ctx, sv iid, const stream_id *id)
{
    dp_walk *w = ctx;
    int i = w->i++;
    w->bad += i >= dp_n[w->p] || dp_num(iid) != dp_iid[w->p][i] || stream_id_cmp(id, &dp_id[w->p][i]) != 0;
}

static void dp_check(stream *s)
{
    uint64_t iids = 0;
    size_t pids = 0;
    for (int p = 0; p < DP_PIDS; p++) {
        char pb[16], ib[16];
        iids += (uint64_t)dp_n[p];
        pids += dp_n[p] > 0;
        for (int i = 0; i < dp_n[p]; i++) {
            stream_id got;
            CHECK(stream_idmp_find(s, name(pb, 'p', p), name(ib, 'i', dp_iid[p][i]), 0, &got) &&
                  stream_id_cmp(&got, &dp_id[p][i]) == 0);
        }
    }
    CHECK(stream_idmp_iids(s) == iids && stream_idmp_pids(s) == pids);
    dp_walk w = {0, 0, 0};
    static const stream_idmp_visitor v = {dp_producer, dp_iid_seen};
    stream_idmp_walk(s, &v, &w);
    CHECK(w.bad == 0);
}

static void test_defrag(size_t budget, int writes)
{
    memset(dp_n, 0, sizeof(dp_n));
    dp_clock = 100000;
    stream *s = stream_new();
    s->idmp_maxsize = DP_IIDS;
    s->idmp_duration = 1;
    for (int i = 0; i < 6000; i++) {
        int p = rand() % (DP_PIDS / 2);
        dp_record(s, p, rand() % (p % 7 == 0 ? 80 : 10));
    }
    dp_check(s);
    alloc_defrag_force(1);
    unsigned long cursor = 0;
    long calls = 0;
    do {
        s = stream_defrag(s, &cursor, budget);
        calls++;
        int op = rand() % 10;
        if (!writes || !cursor) {
            continue;
        }
        if (op < 6) { /* new producers too: the table grows and rehashes */
            dp_record(s, rand() % DP_PIDS, rand() % 60);
        } else if (op == 6) { /* producers forgotten under the walk */
            dp_expire(s, 3000);
        }
        if (calls % 101 == 0) {
            dp_check(s);
        }
    } while (cursor && calls < 1000000);
    alloc_defrag_force(0);
    CHECK(cursor == 0);
    dp_check(s);
    stream_free(s);
}

int main(void)
{
    srand(4242);
    test_defrag(3, 1);
    test_defrag(1, 1);
    test_defrag(40, 1);
    test_defrag(1000000, 0);
    test_auto_iid();
    test_idle_producers_go();
    run(1, 100, 3000);
    run(5, 100, 20000);
    run(8, 2, 20000);
    run(MAXN, 1, 20000);
    CHECK(alloc_used() == 0);
    return unit_report("stream_idmp");
}
