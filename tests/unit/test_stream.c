/* stream unit test: random appends (same-shape and odd-shape entries,
 * integer and string values, small and huge ID gaps), deletes, trims and
 * range walks in both directions, checked against a model (an array of
 * live entries), under small and default block limits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "types/stream.h"
#include "types/stream_group.h"
#include "unit.h"

#define MAXE 6000
#define MAXF 4

typedef struct mentry {
    stream_id id;
    int nf;
    char f[MAXF][24], v[MAXF][40];
} mentry;

static mentry model[MAXE];
static int n;

static void make_value(char *buf, int kind)
{
    switch (kind % 6) {
    case 0: sprintf(buf, "%d", rand() % 100); break;
    case 1: sprintf(buf, "%d", -(rand() % 100000)); break;
    case 2: sprintf(buf, "0%d", rand() % 10); break; /* not canonical: a string */
    case 3: sprintf(buf, "%lld", (long long)((unsigned long long)rand() * (unsigned long long)rand() * 4u)); break;
    case 4: buf[0] = '\0'; break;
    default: sprintf(buf, "value-%d-%s", rand(), rand() % 2 ? "xxxxxxxxxxxx" : ""); break;
    }
}

static int find_model(const stream_id *id)
{
    for (int i = 0; i < n; i++) {
        if (stream_id_cmp(&model[i].id, id) == 0) {
            return i;
        }
    }
    return -1;
}

static void check_range(stream *s, stream_id lo, stream_id hi, int rev)
{
    stream_iter it;
    stream_iter_init(&it, s, &lo, &hi, rev);
    int i = rev ? n - 1 : 0;
    stream_id id;
    size_t nf;
    for (;;) {
        /* the next model entry inside [lo, hi] */
        while (i >= 0 && i < n && (stream_id_cmp(&model[i].id, &lo) < 0 || stream_id_cmp(&model[i].id, &hi) > 0)) {
            i += rev ? -1 : 1;
        }
        int more = stream_iter_next(&it, &id, &nf);
        int want = i >= 0 && i < n;
        CHECK(more == want);
        if (!more || !want) {
            break;
        }
        CHECK(stream_id_cmp(&id, &model[i].id) == 0);
        CHECK(nf == (size_t)model[i].nf);
        for (size_t k = 0; k < nf && k < MAXF; k++) {
            sv f, v;
            stream_iter_field(&it, &f, &v);
            CHECK(f.len == strlen(model[i].f[k]) && memcmp(f.ptr, model[i].f[k], f.len) == 0);
            CHECK(v.len == strlen(model[i].v[k]) && memcmp(v.ptr, model[i].v[k], v.len) == 0);
        }
        i += rev ? -1 : 1;
    }
    stream_iter_done(&it);
}

static stream_id random_bound(void)
{
    if (n > 0 && rand() % 2) {
        stream_id id = model[rand() % n].id;
        if (rand() % 3 == 0) {
            stream_id_incr(&id);
        }
        return id;
    }
    return (stream_id){(uint64_t)(rand() % 3 == 0 ? UINT64_MAX : (uint64_t)rand() % 100000), (uint64_t)(rand() % 3)};
}

static void run(const stream_limits *lim, int steps)
{
    stream *s = stream_new();
    n = 0;
    stream_id last = {0, 0};
    for (int step = 0; step < steps; step++) {
        int op = rand() % 100;
        if (op < 60 && n < MAXE) {
            mentry *e = &model[n];
            stream_id id = last;
            int gap = rand() % 10;
            if (id.ms > UINT64_MAX / 2) {
                gap = 0; /* the ID space must last the whole run */
            }
            if (gap < 5) {
                stream_id_incr(&id);
            } else if (gap < 9) {
                id.ms += (uint64_t)(rand() % 1000) + 1;
                id.seq = (uint64_t)(rand() % 3);
            } else {
                id.ms += (1ull << 61) / 64; /* beyond a block's delta range now and then */
                id.seq = 0;
            }
            e->id = id;
            int odd = rand() % 8 == 0;
            e->nf = odd ? 1 + rand() % MAXF : 3;
            sv fv[2 * MAXF];
            for (int k = 0; k < e->nf; k++) {
                if (odd) {
                    sprintf(e->f[k], "%s%d", rand() % 2 ? "f" : "", rand() % 5);
                } else {
                    sprintf(e->f[k], "%s", k == 0 ? "sensor" : k == 1 ? "temp" : "7");
                }
                make_value(e->v[k], rand());
                fv[2 * k] = (sv){e->f[k], strlen(e->f[k])};
                fv[2 * k + 1] = (sv){e->v[k], strlen(e->v[k])};
            }
            stream_append(s, &id, fv, (size_t)(2 * e->nf), lim);
            last = id;
            n++;
        } else if (op < 75 && n > 0) {
            int i = rand() % n;
            stream_id id = model[i].id;
            CHECK(stream_has(s, &id));
            CHECK(stream_delete(s, &id) == 1);
            CHECK(stream_delete(s, &id) == 0);
            CHECK(!stream_has(s, &id));
            memmove(&model[i], &model[i + 1], sizeof(mentry) * (size_t)(n - i - 1));
            n--;
        } else if (op < 80) {
            stream_trim t = {0};
            t.approx = rand() % 2;
            int cut;
            if (rand() % 2) {
                t.strategy = STREAM_TRIM_MAXLEN;
                t.maxlen = n ? rand() % (n + 1) : 0;
                cut = n - (int)t.maxlen;
            } else {
                t.strategy = STREAM_TRIM_MINID;
                t.minid = random_bound();
                cut = 0;
                while (cut < n && stream_id_cmp(&model[cut].id, &t.minid) < 0) {
                    cut++;
                }
            }
            long long removed = stream_trim_run(s, &t);
            if (t.approx) {
                CHECK(removed >= 0 && removed <= cut);
            } else {
                CHECK(removed == cut);
            }
            memmove(&model[0], &model[removed], sizeof(mentry) * (size_t)(n - removed));
            n -= (int)removed;
        } else {
            stream_id lo = random_bound(), hi = random_bound();
            if (rand() % 4 == 0) {
                lo = (stream_id){0, 0};
            }
            if (rand() % 4 == 0) {
                hi = (stream_id){UINT64_MAX, UINT64_MAX};
            }
            check_range(s, lo, hi, 0);
            check_range(s, lo, hi, 1);
        }
        CHECK(stream_len(s) == (size_t)n);
        if (n > 0) {
            CHECK(stream_id_cmp(&s->first_id, &model[0].id) == 0);
            stream_id e;
            CHECK(stream_edge_id(s, 0, &e) && stream_id_cmp(&e, &model[n - 1].id) == 0);
        } else {
            CHECK(stream_id_is_zero(&s->first_id));
        }
        CHECK(stream_id_cmp(&s->last_id, &last) == 0);
    }
    /* A copy reads the same and is independent. */
    stream *d = stream_dup(s);
    check_range(d, (stream_id){0, 0}, (stream_id){UINT64_MAX, UINT64_MAX}, 0);
    stream_free(s);
    check_range(d, (stream_id){0, 0}, (stream_id){UINT64_MAX, UINT64_MAX}, 1);
    stream_free(d);
    CHECK(find_model(&(stream_id){UINT64_MAX, UINT64_MAX}) < 0 || 1);
}

static void test_ids(void)
{
    stream_id id;
    int star;
    CHECK(stream_id_parse((sv){"5", 1}, &id, 0, NULL) && id.ms == 5 && id.seq == 0);
    CHECK(stream_id_parse((sv){"5", 1}, &id, UINT64_MAX, NULL) && id.seq == UINT64_MAX);
    CHECK(stream_id_parse((sv){"5-3", 3}, &id, 0, NULL) && id.ms == 5 && id.seq == 3);
    CHECK(stream_id_parse((sv){"5-*", 3}, &id, 0, &star) && star && id.ms == 5);
    CHECK(!stream_id_parse((sv){"5-*", 3}, &id, 0, NULL));
    CHECK(!stream_id_parse((sv){"1-", 2}, &id, 0, NULL));
    CHECK(!stream_id_parse((sv){"-1", 2}, &id, 0, NULL));
    CHECK(!stream_id_parse((sv){"18446744073709551616-0", 22}, &id, 0, NULL));
    CHECK(stream_id_parse((sv){"18446744073709551615-18446744073709551615", 41}, &id, 0, NULL) && id.ms == UINT64_MAX &&
          id.seq == UINT64_MAX);
    CHECK(stream_id_parse((sv){"000000012345", 12}, &id, 0, NULL) && id.ms == 12345);
    CHECK(!stream_id_parse((sv){"1-2-3", 5}, &id, 0, NULL));
    CHECK(!stream_id_parse((sv){"abc", 3}, &id, 0, NULL));
    char buf[42];
    id = (stream_id){UINT64_MAX, UINT64_MAX};
    CHECK(stream_id_format(buf, &id) == 41 && strcmp(buf, "18446744073709551615-18446744073709551615") == 0);
    stream_id z = {0, 0};
    CHECK(!stream_id_decr(&z));
    stream_id m = {UINT64_MAX, UINT64_MAX};
    CHECK(!stream_id_incr(&m));
    stream_id w = {1, UINT64_MAX};
    CHECK(stream_id_incr(&w) && w.ms == 2 && w.seq == 0);
}

/* Groups: pending entries shared between a group and its consumers. */
static void test_groups(void)
{
    stream *s = stream_new();
    stream_limits lim = {4096, 100};
    for (uint64_t i = 1; i <= 10; i++) {
        stream_id id = {i, 0};
        sv fv[2] = {{"f", 1}, {"v", 1}};
        stream_append(s, &id, fv, 2, &lim);
    }
    stream_id zero = {0, 0};
    stream_group *g = stream_group_add(s, (sv){"g", 1}, &zero, STREAM_ENTRIES_READ_UNKNOWN);
    CHECK(g && !stream_group_add(s, (sv){"g", 1}, &zero, 0));
    CHECK(stream_group_add(s, (sv){"a", 1}, &zero, 0) && s->groups[0] != g);
    stream_consumer *c1 = stream_consumer_add(g, (sv){"c1", 2}, 0);
    stream_consumer *c2 = stream_consumer_add(g, (sv){"c2", 2}, 0);
    long long lag;
    CHECK(stream_group_lag(s, g, &lag) && lag == 10);
    for (uint64_t i = 1; i <= 4; i++) {
        stream_id id = {i, 0};
        stream_pel_deliver(g, i % 2 ? c1 : c2, &id, 100);
        stream_group_advance(s, g, &id);
    }
    CHECK(g->entries_read == 4 && stream_group_lag(s, g, &lag) && lag == 6);
    CHECK(idtree_count(&g->pel) == 4 && idtree_count(&c1->pel) == 2);
    stream_id one = {1, 0};
    stream_pel_assign(g, stream_pel_find(g, &one), &one, c2);
    CHECK(idtree_count(&c1->pel) == 1 && idtree_count(&c2->pel) == 3);
    CHECK(stream_pel_ack(g, &one) == 1 && stream_pel_ack(g, &one) == 0);
    stream *d = stream_dup(s);
    CHECK(stream_consumer_del(g, (sv){"c2", 2}) == 2);
    CHECK(idtree_count(&g->pel) == 1);
    /* A deletion ahead of the group makes its lag unknown. */
    stream_id seven = {7, 0};
    stream_delete(s, &seven);
    CHECK(!stream_group_lag(s, g, &lag));
    stream_group *dg = stream_group_find(d, (sv){"g", 1});
    CHECK(dg && idtree_count(&dg->pel) == 3 && dg->nconsumers == 2);
    CHECK(stream_group_del(s, (sv){"g", 1}) && !stream_group_find(s, (sv){"g", 1}));
    stream_free(s);
    stream_free(d);
}

int main(void)
{
    srand(777);
    test_ids();
    test_groups();
    stream_limits tiny = {64, 3}, dflt = {4096, 100}, none = {0, 0};
    run(&tiny, 20000);
    run(&dflt, 20000);
    run(&none, 8000);
    CHECK(alloc_used() == 0);
    return unit_report("stream");
}
