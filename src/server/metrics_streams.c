/* metrics_streams: see metrics_streams.h. Only the event loop calls in
 * here (the HTTP thread only reads published figures and drops its
 * references), so the pass in progress needs no lock. Figures are copied
 * out of the streams (names duplicated), never pointed to, so a key
 * deleted after a pass leaves nothing dangling. */
#include "server/metrics_streams.h"

#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "db/db.h"
#include "db/object.h"
#include "server/server.h"
#include "types/stream.h"
#include "types/stream_group.h"

static struct {
    int db;
    unsigned long cursor;
    int64_t started_ms;
    stream_figures *building;
    stream_figures *last;  /* the last complete pass: which streams exist */
    stream_figures *fresh; /* those streams' groups, looked up again */
} pass;

static stream_figures *figures_new(void)
{
    stream_figures *f = alloc_zero(sizeof(*f));
    f->refs = 1;
    return f;
}

void metrics_streams_release(stream_figures *f)
{
    if (!f || __atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL) != 0) {
        return;
    }
    for (int i = 0; i < f->n; i++) {
        str_free(f->g[i].key);
        str_free(f->g[i].group);
    }
    alloc_free(f->g);
    alloc_free(f);
}

/* Appends the groups of stream o (key `key` in db) to f, up to the cap.
 * A stream's groups are appended together, so a figures list names each
 * stream in one run of records. */
static void add_stream(stream_figures *f, int db, sv key, kobj *o)
{
    stream *s = kobj_ptr(o);
    for (int i = 0; i < s->ngroups; i++) {
        if (f->n == METRICS_STREAM_MAX_GROUPS) {
            f->omitted += s->ngroups - i;
            return;
        }
        if ((f->n & (f->n - 1)) == 0) {
            f->g = alloc_resize(f->g, sizeof(*f->g) * (size_t)(f->n ? f->n * 2 : 1));
        }
        const stream_group *g = s->groups[i];
        stream_group_figures *x = &f->g[f->n++];
        x->db = db;
        x->key = str_new(key.ptr, key.len);
        x->group = str_dup(g->name);
        x->lag_known = stream_group_lag(s, g, &x->lag);
        x->pending = (long long)idtree_count(&g->pel);
        x->consumers = g->nconsumers;
    }
}

static int is_live_stream(kobj *o)
{
    return o && o->type == OBJ_STREAM && !db_is_expired(o);
}

static void visit(void *n, void *ctx)
{
    kobj *o = (kobj *)n;
    if (is_live_stream(o)) {
        add_stream(pass.building, *(int *)ctx, kobj_key(o), o);
    }
}

void metrics_streams_step(void)
{
    if (!pass.building) {
        pass.building = figures_new();
        pass.started_ms = server_ms();
    }
    int64_t deadline = util_us() + METRICS_STREAM_BUDGET_US;
    for (int steps = 0; steps < METRICS_STREAM_SCAN_STEPS; steps++) {
        if (steps % METRICS_STREAM_CLOCK_EVERY == METRICS_STREAM_CLOCK_EVERY - 1 && util_us() >= deadline) {
            break;
        }
        int db = pass.db;
        pass.cursor = ktable_scan(&server.dbs[db].keys, pass.cursor, visit, &db);
        if (pass.cursor != 0) {
            continue;
        }
        if (++pass.db < server.cfg.databases) {
            continue;
        }
        /* A pass is complete: it replaces the last one. */
        pass.building->pass_ms = server_ms() - pass.started_ms;
        metrics_streams_release(pass.last);
        pass.last = pass.building;
        pass.building = NULL;
        pass.db = 0;
        break;
    }
}

void metrics_streams_refresh(void)
{
    const stream_figures *known = pass.last;
    if (!known) {
        return;
    }
    stream_figures *f = figures_new();
    f->pass_ms = known->pass_ms;
    for (int i = 0; i < known->n; i++) {
        const stream_group_figures *k = &known->g[i];
        if (i > 0 && k->db == known->g[i - 1].db && str_len(k->key) == str_len(known->g[i - 1].key) &&
            memcmp(k->key, known->g[i - 1].key, str_len(k->key)) == 0) {
            continue; /* the same stream's next group */
        }
        sv key = {k->key, str_len(k->key)};
        kobj *o = k->db < server.cfg.databases ? db_find_raw(&server.dbs[k->db], key) : NULL;
        if (is_live_stream(o)) {
            add_stream(f, k->db, key, o);
        }
    }
    /* Groups the pass could not hold are still unknown here. */
    f->omitted += known->omitted;
    metrics_streams_release(pass.fresh);
    pass.fresh = f;
}

stream_figures *metrics_streams_last(void)
{
    stream_figures *f = pass.fresh ? pass.fresh : pass.last;
    if (f) {
        __atomic_add_fetch(&f->refs, 1, __ATOMIC_RELAXED);
    }
    return f;
}

void metrics_streams_reset(void)
{
    metrics_streams_release(pass.building);
    metrics_streams_release(pass.last);
    metrics_streams_release(pass.fresh);
    memset(&pass, 0, sizeof(pass));
}
