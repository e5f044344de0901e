/* pubsub: subscriptions and message delivery.
 *
 * Three registries (channels, patterns, shard channels) map a name to the
 * set of subscribed clients, a dict keyed by client id so that subscribe
 * and unsubscribe are O(1) however many clients share a channel. Each
 * client keeps the mirror image (its own names per kind) in its
 * pubsub_state, which exists only while it holds a subscription: the
 * output-buffer class "pubsub" and CLIENT_PUBSUB follow from it.
 *
 * A message is appended to each subscriber's output buffer, after which
 * the buffer limit is checked at once: a subscriber that never reads is
 * dropped when it passes the limit, so a publisher cannot grow the
 * server's memory without bound through it. */
#include "pubsub/pubsub.h"

#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "pubsub/tracking.h"
#include "server/server.h"

struct pubsub_state {
    dict names[PUBSUB_KINDS]; /* dict_entry: name -> NULL */
    size_t bytes;             /* the records of the names, for client memory */
};

/* name -> dict* of subscribers (dict_entry: 8-byte client id -> client*) */
static dict registry[PUBSUB_KINDS];

/* ---- held-back pushes for the running client ---- */

/* Frames addressed to the client whose command is executing go here and
 * are appended after its reply (Redis 7.2 orders them the same way). Only
 * one client runs a command at a time, so one buffer is enough. */
static rbuf held;
static client *held_owner;

static void held_release(void)
{
    client *c = held_owner;
    held_owner = NULL;
    if (!c || rbuf_pending(&held) == 0) {
        held.len = held.sent = 0;
        return;
    }
    if (!(c->flags & CLIENT_CLOSE_ASAP)) {
        client_push_begin(c);
        reply_raw(&c->out, held.data + held.sent, rbuf_pending(&held));
        client_push_end(c);
        client_pending_write(c);
        client_evict_note(c);
        client_check_obuf(c);
    }
    held.len = held.sent = 0;
    if (held.cap > 64 * 1024) {
        rbuf_free(&held);
    }
}

rbuf *pubsub_push_begin(client *t)
{
    if (t->flags & CLIENT_CLOSE_ASAP) {
        return NULL;
    }
    if (t == server.current_client && server.propagate_depth > 0) {
        if (held_owner != t) {
            held_release();
            held_owner = t;
        }
        held.resp = t->resp;
        return &held;
    }
    return &t->out;
}

void pubsub_push_end(client *t)
{
    if (t == held_owner) {
        return;
    }
    client_pending_write(t);
    /* Measured now that it holds the message (client_pending_write
     * measures only a client that had nothing pending): the next command
     * finds a subscriber over maxmemory-clients, as in Redis. */
    client_evict_note(t);
    client_check_obuf(t);
}

void pubsub_after_command(client *c)
{
    if (held_owner) {
        held_release();
    }
}

/* ---- registries ---- */

static struct pubsub_state *state_get(client *c)
{
    if (!c->pstate) {
        struct pubsub_state *st = alloc_zero(sizeof(*st));
        for (int k = 0; k < PUBSUB_KINDS; k++) {
            dict_init(&st->names[k], &dict_type_entry);
        }
        c->pstate = st;
    }
    return c->pstate;
}

int pubsub_count(client *c, int kind)
{
    return c->pstate ? (int)dict_size(&c->pstate->names[kind]) : 0;
}

static int total_count(client *c)
{
    return pubsub_count(c, PUBSUB_CHANNEL) + pubsub_count(c, PUBSUB_PATTERN) + pubsub_count(c, PUBSUB_SHARD);
}

/* The count a (un)subscribe confirmation carries: shard subscriptions are
 * counted apart from channels and patterns, as Redis does. */
int pubsub_confirm_count(client *c, int kind)
{
    if (kind == PUBSUB_SHARD) {
        return pubsub_count(c, PUBSUB_SHARD);
    }
    return pubsub_count(c, PUBSUB_CHANNEL) + pubsub_count(c, PUBSUB_PATTERN);
}

/* Keeps CLIENT_PUBSUB and the state's existence in step with the count;
 * called when a command has finished changing subscriptions. */
void pubsub_settle(client *c)
{
    if (total_count(c) > 0) {
        c->flags |= CLIENT_PUBSUB;
        return;
    }
    c->flags &= ~CLIENT_PUBSUB;
    if (c->pstate) {
        for (int k = 0; k < PUBSUB_KINDS; k++) {
            dict_clear(&c->pstate->names[k], NULL, NULL);
        }
        alloc_free(c->pstate);
        c->pstate = NULL;
    }
}

int pubsub_subscribe(client *c, int kind, sv name)
{
    struct pubsub_state *st = state_get(c);
    int created;
    dict_entry_upsert(&st->names[kind], name.ptr, name.len, &created);
    if (!created) {
        return 0;
    }
    st->bytes += sizeof(dict_entry) + name.len;
    dict_entry *e = dict_entry_upsert(&registry[kind], name.ptr, name.len, &created);
    if (created) {
        dict *subs = alloc_mem(sizeof(dict));
        dict_init(subs, &dict_type_entry);
        e->val = subs;
    }
    dict_entry *s = dict_entry_new((const char *)&c->id, sizeof(c->id), c);
    dict_insert(e->val, &s->node);
    return 1;
}

/* Removes c from the registry entry of name (the client's own record is
 * the caller's business). */
static void registry_remove(client *c, int kind, const char *name, size_t len)
{
    dict_entry *e = dict_entry_find(&registry[kind], name, len);
    if (!e) {
        return;
    }
    dict *subs = e->val;
    dict_entry_remove(subs, (const char *)&c->id, sizeof(c->id), NULL);
    if (dict_size(subs) == 0) {
        dict_clear(subs, NULL, NULL);
        alloc_free(subs);
        dict_entry_remove(&registry[kind], name, len, NULL);
        dict_resize_to_fit(&registry[kind]);
    } else {
        dict_resize_to_fit(subs);
    }
}

int pubsub_unsubscribe(client *c, int kind, sv name)
{
    if (!c->pstate) {
        return 0;
    }
    int found;
    dict_entry_remove(&c->pstate->names[kind], name.ptr, name.len, &found);
    if (!found) {
        return 0;
    }
    c->pstate->bytes -= sizeof(dict_entry) + name.len;
    registry_remove(c, kind, name.ptr, name.len);
    return 1;
}

/* Drops every subscription of one kind, calling fn (may be NULL) after
 * each removal; returns how many there were. */
int pubsub_unsubscribe_all(client *c, int kind, pubsub_name_fn fn)
{
    int n = 0;
    if (!c->pstate) {
        return 0;
    }
    dict *mine = &c->pstate->names[kind];
    dict_iter it;
    dict_iter_init(&it, mine);
    dnode *node;
    while ((node = dict_iter_next(&it))) {
        dict_entry *e = (dict_entry *)node;
        registry_remove(c, kind, e->key, e->keylen);
        dict_unlink(mine, e->key, e->keylen);
        c->pstate->bytes -= sizeof(dict_entry) + e->keylen;
        if (fn) {
            fn(c, kind, (sv){e->key, e->keylen});
        }
        alloc_free(e);
        n++;
    }
    dict_iter_done(&it);
    return n;
}

int pubsub_client_any(client *c, int kind, int (*pred)(sv name, void *ctx), void *ctx)
{
    if (!c->pstate) {
        return 0;
    }
    dict_iter it;
    dict_iter_init(&it, &c->pstate->names[kind]);
    dnode *node;
    int found = 0;
    while (!found && (node = dict_iter_next(&it))) {
        dict_entry *e = (dict_entry *)node;
        found = pred((sv){e->key, e->keylen}, ctx);
    }
    dict_iter_done(&it);
    return found;
}

static void cleanup(client *c)
{
    if (held_owner == c) {
        held_owner = NULL;
        held.len = held.sent = 0;
    }
    if (!c->pstate) {
        return;
    }
    for (int k = 0; k < PUBSUB_KINDS; k++) {
        pubsub_unsubscribe_all(c, k, NULL);
    }
    pubsub_settle(c);
}

size_t pubsub_total(int kind)
{
    return dict_size(&registry[kind]);
}

long long pubsub_numsub(int kind, sv name)
{
    dict_entry *e = dict_entry_find(&registry[kind], name.ptr, name.len);
    return e ? (long long)dict_size(e->val) : 0;
}

void pubsub_each(int kind, void (*fn)(sv name, void *ctx), void *ctx)
{
    dict_iter it;
    dict_iter_init(&it, &registry[kind]);
    dnode *node;
    while ((node = dict_iter_next(&it))) {
        dict_entry *e = (dict_entry *)node;
        fn((sv){e->key, e->keylen}, ctx);
    }
    dict_iter_done(&it);
}

/* ---- delivery ---- */

static void deliver(client *t, const char *type, sv pattern, sv channel, sv message)
{
    rbuf *rb = pubsub_push_begin(t);
    if (!rb) {
        return;
    }
    reply_push(rb, pattern.ptr ? 4 : 3);
    reply_bulk_cstr(rb, type);
    if (pattern.ptr) {
        reply_bulk(rb, pattern.ptr, pattern.len);
    }
    reply_bulk(rb, channel.ptr, channel.len);
    reply_bulk(rb, message.ptr, message.len);
    pubsub_push_end(t);
}

/* Sends to every client in subs; delivery never frees a client (a client
 * over its limit is only marked), so iterating is safe. */
static long long deliver_all(dict *subs, const char *type, sv pattern, sv channel, sv message)
{
    long long n = 0;
    dict_iter it;
    dict_iter_init(&it, subs);
    dnode *node;
    while ((node = dict_iter_next(&it))) {
        deliver(((dict_entry *)node)->val, type, pattern, channel, message);
        n++;
    }
    dict_iter_done(&it);
    return n;
}

long long pubsub_publish(sv channel, sv message, int shard)
{
    int kind = shard ? PUBSUB_SHARD : PUBSUB_CHANNEL;
    long long receivers = 0;
    dict_entry *e = dict_entry_find(&registry[kind], channel.ptr, channel.len);
    if (e) {
        receivers += deliver_all(e->val, shard ? "smessage" : "message", (sv){NULL, 0}, channel, message);
    }
    if (!shard && dict_size(&registry[PUBSUB_PATTERN]) > 0) {
        dict_iter it;
        dict_iter_init(&it, &registry[PUBSUB_PATTERN]);
        dnode *node;
        while ((node = dict_iter_next(&it))) {
            dict_entry *p = (dict_entry *)node;
            if (util_glob_match(p->key, p->keylen, channel.ptr, channel.len, 0)) {
                receivers += deliver_all(p->val, "pmessage", (sv){p->key, p->keylen}, channel, message);
            }
        }
        dict_iter_done(&it);
    }
    return receivers;
}

static void notify_publisher(sv channel, sv message)
{
    pubsub_publish(channel, message, 0);
}

/* ---- wiring ---- */

static str info_stats(str s)
{
    return str_printf(s,
                      "pubsub_channels:%zu\r\n"
                      "pubsub_patterns:%zu\r\n"
                      "pubsubshard_channels:%zu\r\n"
                      "tracking_total_keys:%zu\r\n"
                      "tracking_total_items:%zu\r\n"
                      "tracking_total_prefixes:%zu\r\n",
                      pubsub_total(PUBSUB_CHANNEL), pubsub_total(PUBSUB_PATTERN), pubsub_total(PUBSUB_SHARD),
                      tracking_total_keys(), tracking_total_items(), tracking_total_prefixes());
}

static int sub_count(client *c, int kind)
{
    return kind >= 0 && kind < PUBSUB_KINDS ? pubsub_count(c, kind) : 0;
}

/* The client's subscriptions, in its memory for maxmemory-clients (the
 * names' records and, for the registry, one entry each). */
static size_t pubsub_mem(client *c)
{
    return c->pstate ? sizeof(*c->pstate) + 2 * c->pstate->bytes : 0;
}

void pubsub_init(void)
{
    for (int k = 0; k < PUBSUB_KINDS; k++) {
        dict_init(&registry[k], &dict_type_entry);
    }
    rbuf_init(&held, 3);
    client_register_cleanup(cleanup);
    client_sub_count = sub_count;
    client_pubsub_mem = pubsub_mem;
    notify_publish = notify_publisher;
    info_stats_extra = info_stats;
}
