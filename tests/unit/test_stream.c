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
#include "types/stream_idmp.h"
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

/* ---- active defragmentation ----
 * A stream of many blocks, with deleted entries, consumer groups whose
 * PELs are shared with their consumers (one consumer with more pending
 * entries than a step may fix up at once) and IDMP producers, is
 * defragmented with every block forced to move, in small steps, while it
 * is written between the steps through the types' APIs. Then everything
 * is checked against a model: entries, lengths and IDs, each group's PEL
 * from both sides (one shared record, owned by the right consumer), the
 * consumers, and the producers' iids in ring order. A pointer left to a
 * freed block shows under ASan, or as wrong contents. */

#define DG_GROUPS 4
#define DG_CONS 4
#define DG_PEL 1600
#define DG_PIDS 12
#define DG_IIDS 40

typedef struct mpel {
    stream_id id;
    int cons;
    int64_t time;
    uint64_t count;
} mpel;

typedef struct mgroup {
    int live;
    int cons[DG_CONS]; /* consumer c exists */
    mpel pel[DG_PEL];
    int npel;
} mgroup;

static mgroup mg[DG_GROUPS];
static int mpid_n[DG_PIDS];
static int mpid_iid[DG_PIDS][DG_IIDS];
static stream_id mpid_id[DG_PIDS][DG_IIDS];
static stream_id dg_last;
static int64_t dg_now;

static sv dg_name(char *buf, char prefix, int i)
{
    return (sv){buf, (size_t)sprintf(buf, "%c%d", prefix, i)};
}

static void dg_append(stream *s, const stream_limits *lim)
{
    if (n >= MAXE) {
        return;
    }
    mentry *e = &model[n];
    if (rand() % 3) {
        stream_id_incr(&dg_last);
    } else {
        dg_last.ms += (uint64_t)(rand() % 50) + 1;
        dg_last.seq = 0;
    }
    e->id = dg_last;
    e->nf = 1 + rand() % 3;
    sv fv[2 * MAXF];
    for (int k = 0; k < e->nf; k++) {
        sprintf(e->f[k], "f%d", k);
        make_value(e->v[k], rand());
        fv[2 * k] = (sv){e->f[k], strlen(e->f[k])};
        fv[2 * k + 1] = (sv){e->v[k], strlen(e->v[k])};
    }
    stream_append(s, &e->id, fv, (size_t)(2 * e->nf), lim);
    n++;
}

static void dg_delete(stream *s)
{
    if (n == 0) {
        return;
    }
    int i = rand() % n;
    CHECK(stream_delete(s, &model[i].id) == 1);
    memmove(&model[i], &model[i + 1], sizeof(mentry) * (size_t)(n - i - 1));
    n--;
}

static void dg_trim(stream *s, int keep)
{
    if (n <= keep) {
        return;
    }
    stream_trim t = {0};
    t.strategy = STREAM_TRIM_MAXLEN;
    t.maxlen = keep;
    CHECK(stream_trim_run(s, &t) == n - keep);
    memmove(&model[0], &model[n - keep], sizeof(mentry) * (size_t)keep);
    n = keep;
}

static int mpel_find(const mgroup *m, const stream_id *id)
{
    for (int i = 0; i < m->npel; i++) {
        if (stream_id_cmp(&m->pel[i].id, id) == 0) {
            return i;
        }
    }
    return -1;
}

static void mpel_drop(mgroup *m, int i)
{
    m->pel[i] = m->pel[--m->npel];
}

static void dg_group_add(stream *s, int gi)
{
    char b[16];
    stream_id zero = {0, 0};
    CHECK(stream_group_add(s, dg_name(b, 'g', gi), &zero, 0) != NULL);
    memset(&mg[gi], 0, sizeof(mg[gi]));
    mg[gi].live = 1;
}

static void dg_consumer_add(stream *s, int gi, int ci)
{
    char b[16], cb[16];
    stream_group *g = stream_group_find(s, dg_name(b, 'g', gi));
    CHECK(stream_consumer_add(g, dg_name(cb, 'c', ci), dg_now) != NULL);
    mg[gi].cons[ci] = 1;
}

/* XREADGROUP's delivery of an entry (new to the PEL, or taken over). */
static void dg_deliver(stream *s, int gi, int ci, const stream_id *id)
{
    char b[16], cb[16];
    stream_group *g = stream_group_find(s, dg_name(b, 'g', gi));
    mgroup *m = &mg[gi];
    if (m->npel == DG_PEL && mpel_find(m, id) < 0) {
        return;
    }
    stream_pel_deliver(g, stream_consumer_find(g, dg_name(cb, 'c', ci)), id, ++dg_now);
    int i = mpel_find(m, id);
    if (i < 0) {
        i = m->npel++;
        m->pel[i].id = *id;
    }
    m->pel[i].cons = ci;
    m->pel[i].time = dg_now;
    m->pel[i].count = 1;
}

static int dg_any_group(void)
{
    int gi = rand() % DG_GROUPS;
    return mg[gi].live ? gi : -1;
}

static int dg_any_consumer(int gi)
{
    int ci = rand() % DG_CONS;
    return mg[gi].cons[ci] ? ci : -1;
}

static void dg_idmp_record(stream *s, int p, int iid)
{
    char pb[16], ib[16];
    stream_id id = {(uint64_t)++dg_now, 0};
    stream_idmp_record(s, dg_name(pb, 'p', p), dg_name(ib, 'i', iid), &id, 0);
    for (int i = 0; i < mpid_n[p]; i++) {
        if (mpid_iid[p][i] == iid) {
            memmove(&mpid_iid[p][i], &mpid_iid[p][i + 1], sizeof(int) * (size_t)(mpid_n[p] - i - 1));
            memmove(&mpid_id[p][i], &mpid_id[p][i + 1], sizeof(stream_id) * (size_t)(mpid_n[p] - i - 1));
            mpid_n[p]--;
            break;
        }
    }
    mpid_iid[p][mpid_n[p]] = iid;
    mpid_id[p][mpid_n[p]] = id;
    mpid_n[p]++;
}

/* One random write, of the kinds a stream sees between two steps. */
static void dg_mutate(stream *s, const stream_limits *lim)
{
    char b[16], cb[16];
    int op = rand() % 12, gi = dg_any_group(), ci = gi >= 0 ? dg_any_consumer(gi) : -1;
    switch (op) {
    case 0:
    case 1: dg_append(s, lim); break;
    case 2: dg_delete(s); break;
    case 3:
        if (rand() % 8 == 0) {
            dg_trim(s, n - n / 10);
        }
        break;
    case 4:
        if (gi >= 0 && ci >= 0 && n > 0) {
            dg_deliver(s, gi, ci, &model[rand() % n].id);
        }
        break;
    case 5: /* XACK */
        if (gi >= 0 && mg[gi].npel > 0) {
            int i = rand() % mg[gi].npel;
            CHECK(stream_pel_ack(stream_group_find(s, dg_name(b, 'g', gi)), &mg[gi].pel[i].id) == 1);
            mpel_drop(&mg[gi], i);
        }
        break;
    case 6: /* XCLAIM */
        if (gi >= 0 && ci >= 0 && mg[gi].npel > 0) {
            int i = rand() % mg[gi].npel;
            stream_group *g = stream_group_find(s, dg_name(b, 'g', gi));
            stream_pel_assign(g, stream_pel_find(g, &mg[gi].pel[i].id), &mg[gi].pel[i].id,
                              stream_consumer_find(g, dg_name(cb, 'c', ci)));
            mg[gi].pel[i].cons = ci;
        }
        break;
    case 7: /* XGROUP CREATE / DESTROY */
        if (gi >= 0 && rand() % 4 == 0) {
            CHECK(stream_group_del(s, dg_name(b, 'g', gi)) == 1);
            mg[gi].live = 0;
        } else if (gi < 0) {
            for (gi = 0; mg[gi].live; gi++) {
            }
            dg_group_add(s, gi);
        }
        break;
    case 8: /* XGROUP CREATECONSUMER / DELCONSUMER */
        if (gi >= 0 && ci >= 0 && rand() % 3 == 0) {
            CHECK(stream_consumer_del(stream_group_find(s, dg_name(b, 'g', gi)), dg_name(cb, 'c', ci)) >= 0);
            mg[gi].cons[ci] = 0;
            for (int i = 0; i < mg[gi].npel; i++) {
                if (mg[gi].pel[i].cons == ci) {
                    mpel_drop(&mg[gi], i--);
                }
            }
        } else if (gi >= 0 && ci < 0) {
            for (ci = 0; mg[gi].cons[ci]; ci++) {
            }
            dg_consumer_add(s, gi, ci);
        }
        break;
    default: dg_idmp_record(s, rand() % DG_PIDS, rand() % DG_IIDS); break;
    }
}

static void dg_check(stream *s)
{
    check_range(s, (stream_id){0, 0}, (stream_id){UINT64_MAX, UINT64_MAX}, 0);
    check_range(s, (stream_id){0, 0}, (stream_id){UINT64_MAX, UINT64_MAX}, 1);
    CHECK(stream_len(s) == (size_t)n);
    CHECK(stream_id_cmp(&s->last_id, &dg_last) == 0);
    CHECK(n == 0 || stream_id_cmp(&s->first_id, &model[0].id) == 0);
    char b[16], cb[16];
    int live = 0;
    for (int gi = 0; gi < DG_GROUPS; gi++) {
        mgroup *m = &mg[gi];
        stream_group *g = stream_group_find(s, dg_name(b, 'g', gi));
        CHECK((g != NULL) == m->live);
        if (!g || !m->live) {
            continue;
        }
        live++;
        CHECK(idtree_count(&g->pel) == (size_t)m->npel);
        for (int i = 0; i < m->npel; i++) {
            stream_nack *k = stream_pel_find(g, &m->pel[i].id);
            CHECK(k != NULL);
            if (!k) {
                continue;
            }
            stream_consumer *c = stream_consumer_find(g, dg_name(cb, 'c', m->pel[i].cons));
            CHECK(k->consumer == c && k->delivery_time == m->pel[i].time && k->delivery_count == m->pel[i].count);
            CHECK(c && idtree_find(&c->pel, &m->pel[i].id) == k);
        }
        int ncons = 0;
        for (int ci = 0; ci < DG_CONS; ci++) {
            stream_consumer *c = stream_consumer_find(g, dg_name(cb, 'c', ci));
            CHECK((c != NULL) == m->cons[ci]);
            if (!c) {
                continue;
            }
            ncons++;
            CHECK(str_len(c->name) == 2 && c->name[1] == '0' + ci);
            size_t mine = 0, walked = 0;
            for (int i = 0; i < m->npel; i++) {
                mine += m->pel[i].cons == ci;
            }
            idtree_pos p;
            for (int ok = idtree_first(&c->pel, &p); ok; ok = idtree_next(&p)) {
                stream_id id = idtree_key(&p);
                stream_nack *k = idtree_val(&p);
                CHECK(k->consumer == c && stream_pel_find(g, &id) == k);
                walked++;
            }
            CHECK(idtree_count(&c->pel) == mine && walked == mine);
        }
        CHECK(g->nconsumers == ncons);
    }
    CHECK(s->ngroups == live);
    /* The producers' iids, each in its ring's order. */
    uint64_t iids = 0;
    size_t pids = 0;
    for (int p = 0; p < DG_PIDS; p++) {
        char pb[16], ib[16];
        iids += (uint64_t)mpid_n[p];
        pids += mpid_n[p] > 0;
        for (int i = 0; i < mpid_n[p]; i++) {
            stream_id got;
            CHECK(stream_idmp_find(s, dg_name(pb, 'p', p), dg_name(ib, 'i', mpid_iid[p][i]), 0, &got) &&
                  stream_id_cmp(&got, &mpid_id[p][i]) == 0);
        }
    }
    CHECK(stream_idmp_iids(s) == iids && stream_idmp_pids(s) == pids);
}

typedef struct ring_check {
    int p, i, bad;
} ring_check;

/* The number in "p12" or "i7" (not NUL-terminated). */
static int dg_num(sv name)
{
    int x = 0;
    for (size_t i = 1; i < name.len; i++) {
        x = x * 10 + (name.ptr[i] - '0');
    }
    return x;
}

static void ring_producer(void *ctx, sv pid, size_t cnt)
{
    ring_check *r = ctx;
    r->p = dg_num(pid);
    r->i = 0;
    r->bad += cnt != (size_t)mpid_n[r->p];
}

static void ring_iid(void *ctx, sv iid, const stream_id *id)
{
    ring_check *r = ctx;
    int i = r->i++;
    r->bad += i >= mpid_n[r->p] || dg_num(iid) != mpid_iid[r->p][i] || stream_id_cmp(id, &mpid_id[r->p][i]) != 0;
}

static void test_defrag(size_t budget, int writes)
{
    stream_limits lim = {0, 2};
    stream *s = stream_new();
    n = 0;
    dg_last = (stream_id){1, 0};
    memset(mg, 0, sizeof(mg));
    memset(mpid_n, 0, sizeof(mpid_n));
    for (int i = 0; i < 3000; i++) {
        dg_append(s, &lim);
    }
    for (int i = 0; i < 300; i++) {
        dg_delete(s);
    }
    for (int gi = 0; gi < DG_GROUPS - 1; gi++) {
        dg_group_add(s, gi);
        for (int ci = 0; ci < DG_CONS - (gi == 1); ci++) {
            dg_consumer_add(s, gi, ci);
        }
    }
    /* Group 0's c0 owns more than one step fixes up at once. */
    for (int i = 0; i < 1200; i++) {
        dg_deliver(s, 0, 0, &model[i].id);
    }
    for (int i = 0; i < 600; i++) {
        int gi = rand() % (DG_GROUPS - 1), ci = dg_any_consumer(gi);
        if (ci >= 0) {
            dg_deliver(s, gi, ci, &model[rand() % n].id);
        }
    }
    for (int i = 0; i < 200; i++) {
        dg_idmp_record(s, rand() % DG_PIDS, rand() % DG_IIDS);
    }
    dg_check(s);

    alloc_defrag_force(1);
    long long hits0, misses0, hits1, misses1;
    alloc_defrag_counts(&hits0, &misses0);
    stream *before = s;
    unsigned long cursor = 0;
    long calls = 0;
    do {
        s = stream_defrag(s, &cursor, budget);
        calls++;
        if (calls == 1) {
            CHECK(s != before); /* forced: even the struct moved */
        }
        if (writes && cursor) {
            dg_mutate(s, &lim);
        }
        if (calls % 211 == 0) {
            dg_check(s);
        }
    } while (cursor && calls < 1000000);
    alloc_defrag_counts(&hits1, &misses1);
    alloc_defrag_force(0);
    CHECK(cursor == 0);
    CHECK(hits1 - hits0 > n / 2 && misses1 == misses0);
    /* A big budget does it all in one call. */
    CHECK(budget < 100000 || calls == 1);
    dg_check(s);
    ring_check r = {0, 0, 0};
    static const stream_idmp_visitor rv = {ring_producer, ring_iid};
    stream_idmp_walk(s, &rv, &r);
    CHECK(r.bad == 0);

    /* A second pass with no writes, in steps of one, and a copy. */
    alloc_defrag_force(1);
    cursor = 0;
    calls = 0;
    do {
        s = stream_defrag(s, &cursor, 1);
        calls++;
    } while (cursor && calls < 1000000);
    alloc_defrag_force(0);
    CHECK(cursor == 0 && calls > n / 2);
    dg_check(s);
    stream *d = stream_dup(s);
    stream_free(s);
    dg_check(d);
    stream_free(d);
}

/* A stream of one block, without groups, is done in one step of a small
 * budget; an empty one too. */
static void test_defrag_small(void)
{
    stream_limits lim = {4096, 100};
    stream *s = stream_new();
    unsigned long cursor = 0;
    s = stream_defrag(s, &cursor, 16);
    CHECK(cursor == 0);
    n = 0;
    dg_last = (stream_id){1, 0};
    memset(mg, 0, sizeof(mg));
    memset(mpid_n, 0, sizeof(mpid_n));
    for (int i = 0; i < 20; i++) {
        dg_append(s, &lim);
    }
    alloc_defrag_force(1);
    s = stream_defrag(s, &cursor, 16);
    alloc_defrag_force(0);
    CHECK(cursor == 0);
    dg_check(s);
    stream_free(s);
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
    test_defrag_small();
    test_defrag(3, 1);
    test_defrag(1, 1);
    test_defrag(64, 1);
    test_defrag(1000000, 0);
    CHECK(alloc_used() == 0);
    return unit_report("stream");
}
