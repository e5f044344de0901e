/* type_memory: see type_memory.h. Only the event loop calls in here; the
 * pass holds no pointer into the keyspace between steps, only a database
 * number and a scan cursor, so keys deleted between steps leave nothing
 * dangling. */
#include "db/type_memory.h"

#include <string.h>

#include "base/util.h"

const struct type_memory_type type_memory_types[TYPE_MEMORY_NTYPES] = {
    {OBJ_STRING, "string"}, {OBJ_LIST, "list"},     {OBJ_SET, "set"},        {OBJ_ZSET, "zset"},
    {OBJ_HASH, "hash"},     {OBJ_STREAM, "stream"}, {OBJ_VSET, "vectorset"},
};

static struct {
    int running;
    int db;
    unsigned long cursor;
    int64_t started_ms;
    int64_t wanted_ms; /* when the figures were last read */
    type_memory building;
    type_memory last;
} pass;

static void visit(void *n, void *ctx)
{
    (void)ctx;
    kobj *o = (kobj *)n;
    pass.building.bytes[o->type] += kobj_mem(o, pass.db);
    pass.building.keys[o->type]++;
}

/* Whether the last figures counted keys far from today's number (a load,
 * a bulk import or a flush since): the pass then runs at full pace. */
static int figures_stale(db *dbs, int ndb)
{
    size_t now = 0, then = 0;
    for (int i = 0; i < ndb; i++) {
        now += db_size(&dbs[i]);
    }
    for (int t = 0; t < OBJ_TYPES; t++) {
        then += pass.last.keys[t];
    }
    size_t lo = then < now ? then : now, hi = then < now ? now : then;
    return hi - lo > 100 + lo / 10;
}

void type_memory_step(db *dbs, int ndb, int64_t now_ms)
{
    if (!pass.running) {
        if (pass.last.known && now_ms - pass.started_ms < TYPE_MEMORY_INTERVAL_MS) {
            return;
        }
        memset(&pass.building, 0, sizeof(pass.building));
        pass.running = 1;
        pass.db = 0;
        pass.cursor = 0;
        pass.started_ms = now_ms;
    }
    int wanted = !pass.last.known || (pass.wanted_ms && now_ms - pass.wanted_ms < TYPE_MEMORY_WANTED_MS) ||
                 figures_stale(dbs, ndb);
    int64_t deadline = util_mono_us() + (wanted ? TYPE_MEMORY_BUDGET_US : TYPE_MEMORY_IDLE_US);
    for (int steps = 1;; steps++) {
        if (pass.db >= ndb) {
            /* Complete (or the databases shrank under it): publish. */
            pass.building.pass_ms = now_ms - pass.started_ms;
            pass.building.done_ms = now_ms;
            pass.building.known = 1;
            pass.last = pass.building;
            pass.running = 0;
            return;
        }
        pass.cursor = ktable_scan(&dbs[pass.db].keys, pass.cursor, visit, NULL);
        if (pass.cursor == 0) {
            pass.db++;
        }
        if (steps % TYPE_MEMORY_CLOCK_EVERY == 0 && util_mono_us() >= deadline) {
            return;
        }
    }
}

const type_memory *type_memory_last(int64_t now_ms)
{
    pass.wanted_ms = now_ms;
    return &pass.last;
}
