/* client_evict: maxmemory-clients, Redis 7's client eviction. When all
 * clients together hold more memory than the limit (bytes, or a percent of
 * maxmemory), the ones holding the most are disconnected until the rest
 * fit. Replicas, the primary's link and clients that ran CLIENT NO-EVICT ON
 * are never chosen (their memory still counts). The check runs before the
 * loop sleeps, once a millisecond at most: a scan of the client list,
 * and a sort only when something must go. */
#include <stdlib.h>

#include "base/alloc.h"
#include "base/log.h"
#include "server/server.h"

typedef struct candidate {
    client *c;
    size_t mem;
} candidate;

static int by_memory_desc(const void *a, const void *b)
{
    size_t x = ((const candidate *)a)->mem, y = ((const candidate *)b)->mem;
    return x < y ? 1 : x > y ? -1 : 0;
}

static size_t limit(void)
{
    if (server.cfg.maxmemory_clients_perc) {
        return (size_t)(server.cfg.maxmemory / 100 * server.cfg.maxmemory_clients_perc);
    }
    return (size_t)server.cfg.maxmemory_clients;
}

static int evictable(const client *c)
{
    return c->fd >= 0 && !(c->flags & (CLIENT_NO_EVICT | CLIENT_MASTER | CLIENT_REPLICA | CLIENT_CLOSE_ASAP));
}

static void evict_over(size_t max)
{
    size_t total = 0;
    int n = 0;
    for (client *c = server.clients; c; c = c->next) {
        total += client_mem(c);
        n += evictable(c);
    }
    if (total <= max || n == 0) {
        return;
    }
    candidate *cand = alloc_mem(sizeof(candidate) * (size_t)n);
    int k = 0;
    for (client *c = server.clients; c; c = c->next) {
        if (evictable(c)) {
            cand[k++] = (candidate){c, client_mem(c)};
        }
    }
    qsort(cand, (size_t)k, sizeof(candidate), by_memory_desc);
    for (int i = 0; i < k && total > max; i++) {
        log_msg(LOG_VERBOSE,
                "Evicting client %s (id %llu, %zu bytes): all clients hold %zu bytes, over "
                "maxmemory-clients (%zu)",
                cand[i].c->addr, (unsigned long long)cand[i].c->id, cand[i].mem, total, max);
        total -= cand[i].mem;
        server.stats.evicted_clients++;
        client_close_async(cand[i].c);
    }
    alloc_free(cand);
}

void client_evict_check(void)
{
    static int64_t last_ms;
    size_t max = limit();
    if (max == 0 || server.now_ms == last_ms) {
        return;
    }
    last_ms = server.now_ms;
    evict_over(max);
}

int client_evict_after_read(client *c)
{
    size_t max = limit();
    if (max == 0 || !evictable(c) || client_mem(c) <= max) {
        return 0;
    }
    evict_over(max);
    return (c->flags & CLIENT_CLOSE_ASAP) != 0;
}
