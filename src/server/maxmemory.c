/* maxmemory: the server side of eviction. Dispatch asks before every
 * denyoom command whether memory is over the limit; we evict first (per
 * maxmemory-policy) and answer "still over" only when nothing more could
 * go, so the command gets Redis's OOM error. */
#include "base/alloc.h"
#include "base/util.h"
#include "db/evict.h"
#include "repl/repl.h"
#include "server/latency.h"
#include "server/server.h"

static size_t counted_memory(void)
{
    return alloc_used();
}

static void on_evicted(db *d, sv key)
{
    server.stats.evictedkeys++;
    propagate_removal(d->id, key);
    server_key_written(d, key, NULL);
    notify_event(NOTIFY_EVICTED, "evicted", key, d->id);
}

int server_evict(void)
{
    /* A replica's keys are its primary's: it deletes what the primary
     * evicts (the DELs in the stream), unless replica-ignore-maxmemory no. */
    if (server.cfg.maxmemory <= 0 || (server.cfg.replica_ignore_maxmemory && repl_is_replica())) {
        return 0;
    }
    evict_params p = {server.cfg.maxmemory_policy, server.cfg.maxmemory_samples, server.cfg.maxmemory_eviction_tenacity,
                      counted_memory(), (size_t)server.cfg.maxmemory};
    int still_over;
    int64_t start = util_mono_us();
    if (evict_run(server.dbs, server.cfg.databases, &p, counted_memory, on_evicted, &still_over) > 0) {
        latency_add("eviction-cycle", (util_mono_us() - start) / 1000);
    }
    return still_over;
}

int server_over_memory(void)
{
    return server_evict();
}

int server_refuses_for_memory(const command *cmd)
{
    return (cmd->flags & CMD_DENYOOM) && server.cfg.maxmemory > 0 && server_over_memory();
}
