/* module_event: server events for modules (SubscribeToServerEvent): the
 * server calls module_event_* at the points Redis fires them, and each
 * module subscribed to the event gets its callback with the event's data
 * in Redis's layout. A module has at most one callback per event (a new
 * one replaces it, NULL removes it). */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "module/module_int.h"
#include "repl/repl.h"

typedef struct listener {
    km_module *module;
    km_event_fn fn;
} listener;

static listener *listeners[KM_EVENT_COUNT];
static int nlisteners[KM_EVENT_COUNT];
static client *event_client; /* the callbacks' client */
static int firing;           /* events inside a callback are not fired again */

static int api_subscribe_to_server_event(km_ctx *ctx, km_event e, km_event_fn fn)
{
    if (!ctx->module || e.id >= KM_EVENT_COUNT) {
        return KM_ERR;
    }
    int id = (int)e.id;
    for (int i = 0; i < nlisteners[id]; i++) {
        if (listeners[id][i].module == ctx->module) {
            if (fn) {
                listeners[id][i].fn = fn;
            } else {
                listeners[id][i] = listeners[id][--nlisteners[id]];
            }
            return KM_OK;
        }
    }
    if (fn) {
        listeners[id] = alloc_resize(listeners[id], sizeof(listener) * (size_t)(nlisteners[id] + 1));
        listeners[id][nlisteners[id]++] = (listener){ctx->module, fn};
    }
    return KM_OK;
}

/* Redis 7.0's answer: the event is one it knows and the subevent is below
 * its count of subevents, compared signed (so -1 passes). Keel accepts
 * subscriptions to all of them; the ones it never fires are listed in
 * docs/MODULES.md. */
static int api_is_sub_event_supported(km_event e, int64_t sub)
{
    static const int8_t subs[] = {2, 6, 2, 5, 2, 0, 2, 2, 0, 2, 2, 0, -1, 2, 3, 2, 1};
    if (e.id >= sizeof(subs) || subs[e.id] < 0) {
        return 0;
    }
    return sub < subs[e.id];
}

void km_events_forget(km_module *m)
{
    for (int id = 0; id < KM_EVENT_COUNT; id++) {
        for (int i = 0; i < nlisteners[id];) {
            if (listeners[id][i].module == m) {
                listeners[id][i] = listeners[id][--nlisteners[id]];
            } else {
                i++;
            }
        }
    }
}

static void fire(int id, uint64_t sub, void *data)
{
    if (nlisteners[id] == 0 || firing) {
        return;
    }
    if (!event_client) {
        event_client = km_reply_client_new();
    }
    firing = 1;
    km_event e = {(uint64_t)id, 1};
    for (int i = 0; i < nlisteners[id]; i++) {
        km_ctx ctx;
        km_ctx_init(&ctx, listeners[id][i].module, event_client);
        int top = propagate_unit_open(); /* what it writes, as one unit */
        listeners[id][i].fn(&ctx, e, sub, data);
        propagate_unit_close(top);
        km_ctx_done(&ctx);
        event_client->out.len = 0;
    }
    firing = 0;
}

/* ---- what the server calls ---- */

void module_event_flush(int start, int dbnum, int sync)
{
    km_flush_info fi = {1, sync, dbnum};
    fire(KM_EVENT_FLUSHDB, start ? KM_SUB_FLUSHDB_START : KM_SUB_FLUSHDB_END, &fi);
}

static int64_t progress_reported_ms; /* 0: not yet in this load */

void module_event_loading(int sub)
{
    if (sub == KM_SUB_LOADING_RDB_START || sub == KM_SUB_LOADING_AOF_START || sub == KM_SUB_LOADING_REPL_START) {
        progress_reported_ms = 0;
    }
    fire(KM_EVENT_LOADING, (uint64_t)sub, NULL);
}

void module_event_repl_async_load(int sub)
{
    fire(KM_EVENT_REPL_ASYNC_LOAD, (uint64_t)sub, NULL);
}

void module_event_persistence(int sub)
{
    fire(KM_EVENT_PERSISTENCE, (uint64_t)sub, NULL);
}

void km_client_info_fill(const client *c, km_client_info *ci)
{
    memset(ci, 0, sizeof(*ci));
    ci->version = 1;
    ci->id = c->id;
    ci->db = (uint16_t)c->db->id;
    ci->flags = (c->tls ? 1u << 0 : 0) | ((c->flags & CLIENT_PUBSUB) ? 1u << 1 : 0) |
                ((c->flags & CLIENT_BLOCKED) ? 1u << 2 : 0) | ((c->flags & CLIENT_TRACKING) ? 1u << 3 : 0) |
                ((c->flags & CLIENT_UNIX) ? 1u << 4 : 0) | ((c->flags & (CLIENT_MULTI | CLIENT_IN_EXEC)) ? 1u << 5 : 0);
    /* addr is "ip:port" or "[ipv6]:port": split at the last colon. */
    const char *colon = strrchr(c->addr, ':');
    size_t n = colon ? (size_t)(colon - c->addr) : strlen(c->addr);
    const char *ip = c->addr;
    if (n >= 2 && ip[0] == '[' && ip[n - 1] == ']') {
        ip++;
        n -= 2;
    }
    if (!(c->flags & CLIENT_UNIX)) {
        memcpy(ci->addr, ip, n < sizeof(ci->addr) - 1 ? n : sizeof(ci->addr) - 1);
        ci->port = colon ? (uint16_t)atoi(colon + 1) : 0;
    }
}

void module_event_client(const client *c, int connected)
{
    if (nlisteners[KM_EVENT_CLIENT_CHANGE] == 0) {
        return;
    }
    km_client_info ci;
    km_client_info_fill(c, &ci);
    fire(KM_EVENT_CLIENT_CHANGE, connected ? KM_SUB_CLIENT_CONNECTED : KM_SUB_CLIENT_DISCONNECTED, &ci);
}

void module_event_shutdown(void)
{
    fire(KM_EVENT_SHUTDOWN, 0, NULL);
}

void module_event_cron(void)
{
    km_cron_loop cl = {1, server.cfg.hz};
    fire(KM_EVENT_CRON_LOOP, 0, &cl);
}

void module_event_swapdb(int a, int b)
{
    km_swapdb_info si = {1, a, b};
    fire(KM_EVENT_SWAPDB, 0, &si);
}

void module_event_role(int now_replica, const char *host, int port)
{
    km_replication_info ri;
    memset(&ri, 0, sizeof(ri));
    ri.version = 1;
    ri.master = !now_replica;
    ri.masterhost = now_replica ? (char *)host : (char *)"";
    ri.masterport = now_replica ? port : 0;
    ri.replid1 = (char *)"";
    ri.replid2 = (char *)"";
    fire(KM_EVENT_REPLICATION_ROLE_CHANGED, now_replica ? KM_SUB_ROLE_NOW_REPLICA : KM_SUB_ROLE_NOW_MASTER, &ri);
}

void module_event_replica(int online)
{
    fire(KM_EVENT_REPLICA_CHANGE, online ? KM_SUB_REPLICA_ONLINE : KM_SUB_REPLICA_OFFLINE, NULL);
}

void module_event_master_link(int up)
{
    fire(KM_EVENT_MASTER_LINK_CHANGE, up ? KM_SUB_MASTER_LINK_UP : KM_SUB_MASTER_LINK_DOWN, NULL);
}

void module_event_loading_progress(long long done, long long total, int aof)
{
    if (nlisteners[KM_EVENT_LOADING_PROGRESS] == 0) {
        return;
    }
    int64_t now = util_mono_us() / 1000;
    if (progress_reported_ms && now - progress_reported_ms < 1000 / (server.cfg.hz > 0 ? server.cfg.hz : 10)) {
        return;
    }
    progress_reported_ms = now;
    km_loading_progress lp = {1, server.cfg.hz, total > 0 ? (int32_t)(done * 1024 / total) : -1};
    fire(KM_EVENT_LOADING_PROGRESS, aof ? KM_SUB_LOADING_PROGRESS_AOF : KM_SUB_LOADING_PROGRESS_RDB, &lp);
}

void module_event_fork_child(int born)
{
    fire(KM_EVENT_FORK_CHILD, born ? KM_SUB_FORK_CHILD_BORN : KM_SUB_FORK_CHILD_DIED, NULL);
}

void module_event_loop(int after_sleep)
{
    if (nlisteners[KM_EVENT_EVENTLOOP] > 0) {
        fire(KM_EVENT_EVENTLOOP, after_sleep ? KM_SUB_EVENTLOOP_AFTER_SLEEP : KM_SUB_EVENTLOOP_BEFORE_SLEEP, NULL);
    }
}

void module_event_config(const char **names, int n)
{
    km_config_change cc = {1, (uint32_t)n, names};
    fire(KM_EVENT_CONFIG, KM_SUB_CONFIG_CHANGE, &cc);
}

void km_event_module_change(const km_module *m, int loaded)
{
    km_module_change mc = {1, m->name, m->ver};
    fire(KM_EVENT_MODULE_CHANGE, loaded ? KM_SUB_MODULE_LOADED : KM_SUB_MODULE_UNLOADED, &mc);
}

const km_api_entry km_api_event[] = {{"SubscribeToServerEvent", api_subscribe_to_server_event},
                                     {"IsSubEventSupported", api_is_sub_event_supported},
                                     {NULL, NULL}};
