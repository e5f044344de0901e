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

int main(void)
{
    srand(4242);
    test_auto_iid();
    test_idle_producers_go();
    run(1, 100, 3000);
    run(5, 100, 20000);
    run(8, 2, 20000);
    run(MAXN, 1, 20000);
    CHECK(alloc_used() == 0);
    return unit_report("stream_idmp");
}
