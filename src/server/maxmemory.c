/* maxmemory: the server side of eviction. Dispatch asks before every
 * denyoom command whether memory is over the limit; we evict first (per
 * maxmemory-policy) and answer "still over" only when nothing more could
 * go, so the command gets Redis's OOM error. */
#include "base/alloc.h"
#include "base/util.h"
#include "db/evict.h"
#include "persist/aof.h"
#include "repl/repl.h"
#include "server/latency.h"
#include "server/server.h"

/* The most keys one eviction round samples per database (the old bound of
 * maxmemory-samples, which now takes any int as in Redis). */
#define MAX_SAMPLES 64

/* Memory eviction leaves out, as Redis does: replicas' output buffers and
 * the AOF's pending buffer. Evicting grows both (each eviction is a DEL for
 * them), so counting them would evict more to make room for the news of
 * evicting. */
size_t server_memory_not_counted(void)
{
    return repl_replica_buffers_memory() + aof_buffer_memory();
}

size_t server_memory_counted(void)
{
    /* (Clients just evicted for maxmemory-clients are as good as gone.) */
    size_t used = alloc_used(), skip = server_memory_not_counted() + client_evict_closing_bytes();
    return used > skip ? used - skip : 0;
}

/* INFO's eviction_exceeded times: how long memory stayed over the limit
 * after an eviction pass, the current period and the finished ones. */
static void note_exceeded(int still_over)
{
    int64_t now = util_mono_us() / 1000;
    if (still_over && !server.stats.eviction_exceeded_since) {
        server.stats.eviction_exceeded_since = now ? now : 1;
    } else if (!still_over && server.stats.eviction_exceeded_since) {
        server.stats.eviction_exceeded_ms += now - server.stats.eviction_exceeded_since;
        server.stats.eviction_exceeded_since = 0;
    }
}

long long server_eviction_exceeded_current_ms(void)
{
    return server.stats.eviction_exceeded_since ? util_mono_us() / 1000 - server.stats.eviction_exceeded_since : 0;
}

static void on_evicted(db *d, sv key)
{
    server.stats.evictedkeys++;
    server_key_written(d, key, NULL);
    /* The event first: what a module writes on it replays before the DEL,
     * as in Redis. */
    notify_event(NOTIFY_EVICTED, "evicted", key, d->id);
    propagate_removal(d->id, key);
}

int server_evict(void)
{
    /* A replica's keys are its primary's: it deletes what the primary
     * evicts (the DELs in the stream), unless replica-ignore-maxmemory no. */
    if (server.cfg.maxmemory == 0 || (server.cfg.replica_ignore_maxmemory && repl_is_replica())) {
        return 0;
    }
    /* Capped so that one round stays within the command's time budget. */
    int samples = server.cfg.maxmemory_samples > MAX_SAMPLES ? MAX_SAMPLES : server.cfg.maxmemory_samples;
    evict_params p = {server.cfg.maxmemory_policy, samples, server.cfg.maxmemory_eviction_tenacity,
                      server_memory_counted(), (size_t)server.cfg.maxmemory};
    int still_over;
    int64_t start = util_mono_us();
    int was = propagate_no_multi(1); /* each DEL with its event's writes, unwrapped */
    long evicted = evict_run(server.dbs, server.cfg.databases, &p, server_memory_counted, on_evicted, &still_over);
    propagate_no_multi(was);
    if (evicted > 0) {
        latency_add("eviction-cycle", (util_mono_us() - start) / 1000);
    }
    note_exceeded(still_over);
    return still_over;
}

int server_over_memory(void)
{
    return server_evict();
}

int server_memory_exceeded(void)
{
    return server.cfg.maxmemory > 0 && server_memory_counted() > (size_t)server.cfg.maxmemory;
}

int server_refuses_for_memory(uint32_t cmd_flags)
{
    /* Every command evicts first, as in Redis: what it reads, and the
     * invalidations of what was evicted, come after; only a deny-oom one
     * is refused. Never under a busy script, whose keys must stay. */
    if (server.cfg.maxmemory == 0 || server.in_script) {
        return 0;
    }
    int over = server_over_memory();
    return (cmd_flags & CMD_DENYOOM) && over;
}
