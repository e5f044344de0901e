/* module_notify: keyspace events for modules. A module subscribes to
 * classes of events (SubscribeToKeyspaceEvents) and is called for each,
 * whatever notify-keyspace-events says, as in Redis; it may also emit
 * events of its own (NotifyKeyspaceEvent). */
#include "base/alloc.h"
#include "module/module_int.h"

typedef struct subscriber {
    km_module *module;
    int types;
    km_notify_fn fn;
    int active; /* in its callback: events it causes are not fed back */
} subscriber;

static subscriber *subs;
static int nsubs;
static client *notify_client; /* the callbacks' client: the event's db */

static void on_event(int type, const char *event, sv key, int dbid)
{
    for (int i = 0; i < nsubs; i++) {
        subscriber *s = &subs[i];
        if (!(s->types & type) || s->active) {
            continue;
        }
        if (!notify_client) {
            notify_client = km_reply_client_new();
        }
        client_select_db(notify_client, dbid);
        km_ctx ctx;
        km_ctx_init(&ctx, s->module, notify_client);
        km_string *k = km_string_new(NULL, key.ptr, key.len);
        s->active = 1;
        /* Outside a command (active expiry, eviction) what the callback
         * writes goes out when it returns, as one unit. */
        int top = propagate_unit_open();
        s->fn(&ctx, type, event, k);
        propagate_unit_close(top);
        s = &subs[i]; /* the callback may have subscribed more */
        s->active = 0;
        km_ctx_done(&ctx);
        km_string_release(NULL, k);
        notify_client->out.len = 0;
    }
}

static int api_subscribe_to_keyspace_events(km_ctx *ctx, int types, km_notify_fn fn)
{
    if (!ctx->module || !fn) {
        return KM_ERR;
    }
    subs = alloc_resize(subs, sizeof(*subs) * (size_t)(nsubs + 1));
    subs[nsubs++] = (subscriber){ctx->module, types, fn, 0};
    notify_module_hook = on_event;
    return KM_OK;
}

static int api_notify_keyspace_event(km_ctx *ctx, int type, const char *event, km_string *key)
{
    if (!key || !event) {
        return KM_ERR;
    }
    notify_event(type, event, (sv){key->s, str_len(key->s)}, km_ctx_dbid(ctx));
    return KM_OK;
}

static int api_get_notify_keyspace_events(void)
{
    return server.cfg.notify_keyspace_events;
}

void km_notify_forget(km_module *m)
{
    for (int i = 0; i < nsubs;) {
        if (subs[i].module == m) {
            subs[i] = subs[--nsubs];
        } else {
            i++;
        }
    }
    if (nsubs == 0) {
        notify_module_hook = NULL;
    }
}

const km_api_entry km_api_notify[] = {{"SubscribeToKeyspaceEvents", api_subscribe_to_keyspace_events},
                                      {"NotifyKeyspaceEvent", api_notify_keyspace_event},
                                      {"GetNotifyKeyspaceEvents", api_get_notify_keyspace_events},
                                      {NULL, NULL}};
