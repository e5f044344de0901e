/* client_evict: maxmemory-clients, Redis 7's client eviction. When all
 * clients together hold more memory than the limit (bytes, or a percent of
 * maxmemory), the ones holding the most are disconnected until the rest
 * fit. Replicas and the primary's link neither count nor go; clients that
 * ran CLIENT NO-EVICT ON count but are never chosen.
 *
 * The total is kept as each client's last measured memory: measured for
 * the client whose command just ran, for a client a message or an
 * invalidation was pushed to (as it gets it), and for every client once a
 * millisecond at most before the loop sleeps. Before each command, as in
 * Redis, clients over the limit go first, so keys are never evicted for
 * memory clients hold. An evicted client's socket is shut at once and it
 * is gone to CLIENT LIST (CLIENT_GONE); what it holds counts as gone
 * until it is freed. */
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

/* Clients whose memory counts toward the limit. */
static int counted(const client *c)
{
    return c->fd >= 0 && !(c->flags & (CLIENT_MASTER | CLIENT_REPLICA | CLIENT_CLOSE_ASAP));
}

static int evictable(const client *c)
{
    return counted(c) && !(c->flags & CLIENT_NO_EVICT);
}

static size_t tracked;       /* the sum of counted clients' mem_seen */
static size_t closing_bytes; /* held by clients evicted, not yet freed */

/* Measures every client afresh: the exact total. */
static size_t measure_all(int *nevictable)
{
    size_t total = 0;
    int n = 0;
    for (client *c = server.clients; c; c = c->next) {
        c->mem_seen = counted(c) ? client_mem(c) : 0;
        total += c->mem_seen;
        n += evictable(c);
    }
    tracked = total;
    *nevictable = n;
    return total;
}

static void evict_over(size_t max)
{
    int n;
    size_t total = measure_all(&n);
    if (total <= max || n == 0) {
        return;
    }
    candidate *cand = alloc_mem(sizeof(candidate) * (size_t)n);
    int k = 0;
    for (client *c = server.clients; c; c = c->next) {
        if (evictable(c)) {
            cand[k++] = (candidate){c, c->mem_seen};
        }
    }
    qsort(cand, (size_t)k, sizeof(candidate), by_memory_desc);
    for (int i = 0; i < k && total > max; i++) {
        log_msg(LOG_VERBOSE,
                "Evicting client %s (id %llu, %zu bytes): all clients hold %zu bytes, over "
                "maxmemory-clients (%zu)",
                cand[i].c->addr, (unsigned long long)cand[i].c->id, cand[i].mem, total, max);
        total -= cand[i].mem;
        tracked -= cand[i].mem;
        closing_bytes += cand[i].mem;
        cand[i].c->mem_seen = 0;
        server.stats.evicted_clients++;
        client_kill_now(cand[i].c);
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

void client_evict_note(client *c)
{
    if (limit() && counted(c)) {
        size_t m = client_mem(c);
        tracked += m - c->mem_seen;
        c->mem_seen = m;
    }
}

int client_evict_if_over(client *c)
{
    /* When the clients over the limit cannot go (CLIENT NO-EVICT), the
     * scan is not redone before every command: once a millisecond. */
    static int64_t stuck_ms = -1;
    size_t max = limit();
    if (max == 0) {
        return 0;
    }
    client_evict_note(c);
    if (tracked <= max || stuck_ms == server.now_ms) {
        return 0;
    }
    evict_over(max);
    stuck_ms = tracked > max ? server.now_ms : -1;
    return (c->flags & CLIENT_CLOSE_ASAP) != 0;
}

void client_evict_forget(client *c)
{
    tracked -= c->mem_seen < tracked ? c->mem_seen : tracked;
    c->mem_seen = 0;
}

size_t client_evict_closing_bytes(void)
{
    return closing_bytes;
}

void client_evict_reaped(void)
{
    closing_bytes = 0;
}
