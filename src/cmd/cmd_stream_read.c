/* XREAD and XREADGROUP: reading several streams at once, optionally
 * waiting (BLOCK) on the framework in server/block.h. XREADGROUP's CLAIM
 * (Redis 8.4) first takes over pending entries idle long enough, then
 * reads new ones. A waiting command is
 * re-run whole when one of its streams is written, so what it serves then
 * follows the same rules as an immediate read. For XREAD, "$" and "+" are
 * turned into concrete IDs before waiting, so entries that arrive while
 * the client waits are what it gets. */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "cmd/cmd_stream.h"
#include "server/block.h"

typedef struct xread_args {
    int64_t deadline;
    int block;
    long long count;
    int streams_at, nstreams;
    int group_at; /* argv index of the group name (0: XREAD) */
    int noack;
    int claim;              /* CLAIM given: pending entries idle at least */
    long long claim_min_ms; /* this long are served first */
} xread_args;

static int parse_args(client *c, xread_args *a, int group)
{
    memset(a, 0, sizeof(*a));
    for (int i = 1; i < c->argc; i++) {
        int more = c->argc - i - 1;
        if (arg_is(c, i, "BLOCK") && more) {
            if (c->flags & CLIENT_IN_SCRIPT) {
                reply_errf(c, "ERR %.*s command is not allowed with BLOCK option from scripts", (int)c->argv[0].len,
                           c->argv[0].ptr);
                return 0;
            }
            i++;
            if (!block_parse_timeout_ms(c, i, &a->deadline)) {
                return 0;
            }
            a->block = 1;
        } else if (arg_is(c, i, "COUNT") && more) {
            i++;
            if (!arg_ll(c, i, &a->count)) {
                return 0;
            }
            if (a->count < 0) {
                a->count = 0;
            }
        } else if (arg_is(c, i, "STREAMS") && more) {
            a->streams_at = i + 1;
            a->nstreams = c->argc - a->streams_at;
            if (a->nstreams % 2) {
                reply_err(c, "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be "
                             "specified.");
                return 0;
            }
            a->nstreams /= 2;
            break;
        } else if (arg_is(c, i, "GROUP") && more >= 2) {
            if (!group) {
                reply_err(c, "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.");
                return 0;
            }
            a->group_at = i + 1;
            i += 2;
        } else if (arg_is(c, i, "CLAIM") && more) {
            if (!group) {
                reply_err(c, "ERR The CLAIM option is only supported by XREADGROUP. You called XREAD instead.");
                return 0;
            }
            i++;
            if (!util_parse_ll(c->argv[i].ptr, c->argv[i].len, &a->claim_min_ms)) {
                reply_err(c, "ERR min-idle-time is not an integer");
                return 0;
            }
            if (a->claim_min_ms < 0) {
                reply_err(c, "ERR min-idle-time must be a positive integer");
                return 0;
            }
            a->claim = 1;
        } else if (arg_is(c, i, "NOACK")) {
            if (!group) {
                reply_err(c, "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.");
                return 0;
            }
            a->noack = 1;
        } else {
            reply_syntax_error(c);
            return 0;
        }
    }
    if (!a->streams_at) {
        reply_syntax_error(c);
        return 0;
    }
    if (group && !a->group_at) {
        reply_err(c, "ERR Missing GROUP option for XREADGROUP");
        return 0;
    }
    return 1;
}

/* What to read from one stream. */
typedef struct xread_target {
    stream *s;
    stream_group *g;
    stream_id after; /* serve entries with IDs above this */
    int newest;      /* ">" (XREADGROUP) */
    int last_entry;  /* "+" (XREAD): the last entry itself */
} xread_target;

static int is_lit(sv a, char ch)
{
    return a.len == 1 && a.ptr[0] == ch;
}

/* Resolves every stream's ID (and group); 0 after replying an error. A
 * re-run of a waiting XREAD treats a key of another type as not ready. */
static int resolve_targets(client *c, const xread_args *a, xread_target *t)
{
    sv gname = a->group_at ? c->argv[a->group_at] : (sv){NULL, 0};
    for (int i = 0; i < a->nstreams; i++) {
        sv key = c->argv[a->streams_at + i], idarg = c->argv[a->streams_at + a->nstreams + i];
        /* XREADGROUP changes the group, but like Redis counts a read. */
        kobj *o = a->group_at ? lookup_read_write(c, key) : lookup_read(c, key);
        memset(&t[i], 0, sizeof(t[i]));
        if (o && o->type != OBJ_STREAM) {
            if (block_is_rerun(c) && a->group_at) {
                reply_err(c, "UNBLOCKED the stream key no longer exists");
                return 0;
            } else if (block_is_rerun(c)) {
                o = NULL;
            } else {
                reply_wrongtype(c);
                return 0;
            }
        }
        t[i].s = o ? kobj_ptr(o) : NULL;
        if (a->group_at) {
            t[i].g = t[i].s ? stream_group_find(t[i].s, gname) : NULL;
            if (!t[i].g) {
                if (block_is_rerun(c)) {
                    reply_err(c, t[i].s ? "NOGROUP the consumer group this client was blocked on no longer exists"
                                        : "UNBLOCKED the stream key no longer exists");
                    return 0;
                }
                reply_errf(c, "NOGROUP No such key '%.*s' or consumer group '%.*s' in XREADGROUP with GROUP option",
                           (int)key.len, key.ptr, (int)gname.len, gname.ptr);
                return 0;
            }
        }
        if (is_lit(idarg, '$')) {
            if (a->group_at) {
                reply_err(c, "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history "
                             "of this consumer by specifying a proper ID, or use the > ID to get new messages. The "
                             "$ ID would just return an empty result set.");
                return 0;
            }
            t[i].after = t[i].s ? t[i].s->last_id : (stream_id){0, 0};
        } else if (is_lit(idarg, '>')) {
            if (!a->group_at) {
                reply_err(c, "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> "
                             "<consumer> option.");
                return 0;
            }
            t[i].newest = 1;
        } else if (is_lit(idarg, '+') && !a->group_at) {
            t[i].last_entry = 1;
            t[i].after = t[i].s ? t[i].s->last_id : (stream_id){0, 0};
        } else if (!xarg_id(c, a->streams_at + a->nstreams + i, &t[i].after, 0, NULL)) {
            return 0;
        } else if (a->group_at && t[i].after.ms == UINT64_MAX && t[i].after.seq == UINT64_MAX) {
            t[i].newest = 1; /* Redis 7.0 reads the largest ID as ">" (it stands for it inside) */
        }
    }
    return 1;
}

/* The consumer named in XREADGROUP, created (and propagated) if new. */
static stream_consumer *consumer_for(client *c, const xread_args *a, sv key, stream_group *g)
{
    sv gname = c->argv[a->group_at], cname = c->argv[a->group_at + 1];
    stream_consumer *cons = stream_consumer_find(g, cname);
    if (!cons) {
        cons = stream_consumer_add(g, cname, server.now_ms);
        xpropagate_create_consumer(c, key, gname, cname);
        notify_event(NOTIFY_STREAM, "xgroup-createconsumer", key, c->db->id);
    }
    cons->seen_time = server.now_ms;
    return cons;
}

/* A consumer's own pending entries after `after` (XREADGROUP with an ID):
 * each counts as delivered again (propagated as XCLAIM, so a replica's
 * delivery counts stay exact, which Redis 7.0 does not do); entries
 * deleted meanwhile read as [id, nil]. */
static void reply_history(client *c, const xread_args *a, sv key, stream_group *g, stream *s, stream_consumer *cons,
                          const stream_id *after, long long count)
{
    stream_id from = *after;
    size_t h = reply_defer(R(c));
    long n = 0;
    if (stream_id_incr(&from)) {
        idtree_pos p;
        for (int ok = idtree_seek_ge(&cons->pel, &from, &p); ok && (count == 0 || n < count); ok = idtree_next(&p)) {
            stream_id id = idtree_key(&p);
            stream_nack *k = idtree_val(&p);
            if (xreply_entry(c, s, &id, NULL)) {
                k->delivery_time = server.now_ms;
                k->delivery_count++;
                xpropagate_claim(c, key, c->argv[a->group_at], &id, k, &g->last_id);
            }
            n++;
        }
    }
    reply_defer_array(R(c), h, n);
}

/* ---- CLAIM ---- */

typedef struct claimable {
    stream_id id;
    stream_nack *n;
} claimable;

static int by_delivery(const void *a, const void *b)
{
    const claimable *x = a, *y = b;
    if (x->n->delivery_time != y->n->delivery_time) {
        return x->n->delivery_time < y->n->delivery_time ? -1 : 1;
    }
    return stream_id_cmp(&x->id, &y->id);
}

static int idle_enough(const stream_nack *k, long long min_ms)
{
    return server.now_ms - k->delivery_time >= min_ms;
}

/* Sift-down in a max-heap of claimables by delivery order. */
static void heap_down(claimable *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, top = i;
        if (l < n && by_delivery(&h[l], &h[top]) > 0) {
            top = l;
        }
        if (r < n && by_delivery(&h[r], &h[top]) > 0) {
            top = r;
        }
        if (top == i) {
            return;
        }
        claimable t = h[i];
        h[i] = h[top];
        h[top] = t;
        i = top;
    }
}

static void heap_up(claimable *h, size_t i)
{
    while (i > 0 && by_delivery(&h[i], &h[(i - 1) / 2]) > 0) {
        claimable t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

/* The group's pending entries idle at least min_ms that still exist in the
 * stream, oldest delivery first (Redis's order), at most limit of them (0:
 * all). One pass over the PEL, as XPENDING's IDLE filter makes; memory
 * stays within limit entries (a max-heap keeps the oldest seen so far). */
static claimable *claimable_entries(stream *s, stream_group *g, long long min_ms, long long limit, size_t *n)
{
    size_t cap = 0, bound = limit > 0 && (unsigned long long)limit < idtree_count(&g->pel) ? (size_t)limit : 0;
    claimable *h = NULL;
    *n = 0;
    idtree_pos p;
    stream_id zero = {0, 0};
    for (int ok = idtree_seek_ge(&g->pel, &zero, &p); ok; ok = idtree_next(&p)) {
        stream_nack *k = idtree_val(&p);
        claimable e = {idtree_key(&p), k};
        if (!idle_enough(k, min_ms) || (bound && *n == bound && by_delivery(&e, &h[0]) >= 0) ||
            !xentry_exists(s, &e.id)) {
            continue;
        }
        if (bound && *n == bound) {
            h[0] = e; /* replaces the newest delivery kept so far */
            heap_down(h, *n, 0);
            continue;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            h = alloc_resize(h, sizeof(*h) * cap);
        }
        h[(*n)++] = e;
        heap_up(h, *n - 1);
    }
    if (*n > 1) {
        qsort(h, *n, sizeof(*h), by_delivery);
    }
    return h;
}

/* Whether some entry of the stream can be claimed now. */
static int any_claimable(const xread_target *t, long long min_ms)
{
    idtree_pos p;
    stream_id zero = {0, 0};
    for (int ok = idtree_seek_ge(&t->g->pel, &zero, &p); ok; ok = idtree_next(&p)) {
        stream_id id = idtree_key(&p);
        if (idle_enough(idtree_val(&p), min_ms) && xentry_exists(t->s, &id)) {
            return 1;
        }
    }
    return 0;
}

/* Serves up to count (0: all) claimable entries to the consumer as
 * [id, fields, idle ms, deliveries so far], then counts the delivery:
 * owner, time and count change, propagated as XCLAIM. Entries deleted from
 * the stream stay pending and are skipped. Returns how many it served. */
static long serve_claimed(client *c, const xread_args *a, xread_target *t, sv key, stream_consumer *cons)
{
    size_t n;
    claimable *e = claimable_entries(t->s, t->g, a->claim_min_ms, a->count, &n);
    long served = 0;
    for (size_t i = 0; i < n; i++) {
        stream_nack *k = e[i].n;
        long long claim[2] = {server.now_ms - k->delivery_time, (long long)k->delivery_count};
        xreply_entry(c, t->s, &e[i].id, claim);
        if (k->consumer != cons) {
            stream_pel_assign(t->g, k, &e[i].id, cons);
        }
        k->delivery_time = server.now_ms;
        k->delivery_count++;
        xpropagate_claim(c, key, c->argv[a->group_at], &e[i].id, k, &t->g->last_id);
        served++;
    }
    alloc_free(e);
    return served;
}

/* Whether target t has new entries to serve now (or, for a consumer's
 * history, anything). */
static int ready_new(const xread_target *t, int group)
{
    if (!t->s || t->s->length == 0) {
        return group && !t->newest; /* history is always served */
    }
    if (group && !t->newest) {
        return 1;
    }
    if (t->last_entry) {
        return 1; /* a stream with entries has a last one */
    }
    const stream_id *after = t->newest ? &t->g->last_id : &t->after;
    /* Nothing was ever added past `after`: no need to find the last live
     * entry (which decodes the last block). */
    if (stream_id_cmp(&t->s->last_id, after) <= 0) {
        return 0;
    }
    stream_id top;
    return stream_edge_id(t->s, 0, &top) && stream_id_cmp(&top, after) > 0;
}

/* Whether target t has something to serve now: new entries, or with
 * CLAIM pending entries idle long enough. */
static int ready(const xread_target *t, const xread_args *a)
{
    if (ready_new(t, a->group_at != 0)) {
        return 1;
    }
    return a->claim && t->newest && t->s && any_claimable(t, a->claim_min_ms);
}

static void serve_one(client *c, const xread_args *a, xread_target *t, sv key)
{
    if (c->resp == 2) {
        reply_array(R(c), 2);
    }
    reply_sv(c, key);
    if (!a->group_at) {
        stream_id start = t->after, end = {UINT64_MAX, UINT64_MAX};
        if (t->last_entry) {
            stream_edge_id(t->s, 0, &start);
        } else {
            stream_id_incr(&start);
        }
        xreply_range(c, t->s, &start, &end, a->count, 0, NULL);
        return;
    }
    stream_consumer *cons = consumer_for(c, a, key, t->g);
    if (!t->newest) {
        reply_history(c, a, key, t->g, t->s, cons, &t->after, a->count);
    } else {
        stream_id start = t->g->last_id, end = {UINT64_MAX, UINT64_MAX};
        stream_id_incr(&start);
        xdelivery d = {key, c->argv[a->group_at], t->g, cons, a->noack, 0};
        if (!a->claim) {
            if (xreply_range(c, t->s, &start, &end, a->count, 0, &d) > 0) {
                cons->active_time = server.now_ms;
            }
        } else {
            /* Claimed entries first, then new ones, COUNT for both. */
            size_t h = reply_defer(R(c));
            long n = serve_claimed(c, a, t, key, cons);
            if (a->count == 0 || n < a->count) {
                d.claim_shape = 1;
                n += xreply_range_items(c, t->s, &start, &end, a->count ? a->count - n : 0, 0, &d);
            }
            reply_defer_array(R(c), h, n);
            if (n > 0) {
                cons->active_time = server.now_ms;
            }
        }
    }
    server.dirty++;
}

static void read_generic(client *c, int group)
{
    xread_args a;
    if (!parse_args(c, &a, group)) {
        return;
    }
    xread_target *t = alloc_mem(sizeof(*t) * (size_t)a.nstreams);
    if (!resolve_targets(c, &a, t)) {
        alloc_free(t);
        return;
    }
    if (group) {
        propagate_none(c); /* the group changes propagate in their own forms */
    }
    if (!block_is_rerun(c)) {
        /* Redis looks every stream up a second time to serve it: its
         * keyspace hits, misses and keymiss events count both. */
        for (int i = 0; i < a.nstreams; i++) {
            lookup_read(c, c->argv[a.streams_at + i]);
        }
    }
    int any = 0;
    for (int i = 0; i < a.nstreams && !any; i++) {
        any = ready(&t[i], &a);
    }
    if (any) {
        /* Readiness is checked again as each stream is served: serving a
         * stream named twice moves its group past what the second name
         * would have read (Redis then leaves that name out too). */
        size_t h = reply_defer(R(c));
        long n = 0;
        for (int i = 0; i < a.nstreams; i++) {
            if (ready(&t[i], &a)) {
                serve_one(c, &a, &t[i], c->argv[a.streams_at + i]);
                n++;
            }
        }
        if (c->resp == 2) {
            reply_defer_array(R(c), h, n);
        } else {
            reply_defer_map(R(c), h, n);
        }
        alloc_free(t);
        return;
    }
    if (!a.block) {
        alloc_free(t);
        reply_null_array(R(c));
        return;
    }
    /* Waiting: "$" and "+" must mean the stream's end as it is now. */
    if (!group) {
        for (int i = 0; i < a.nstreams; i++) {
            sv idarg = c->argv[a.streams_at + a.nstreams + i];
            if (is_lit(idarg, '$') || is_lit(idarg, '+')) {
                char buf[48];
                client_rewrite_arg(c, a.streams_at + a.nstreams + i,
                                   (sv){buf, (size_t)stream_id_format(buf, &t[i].after)});
            }
        }
    }
    alloc_free(t);
    if (!block_on_keys(c, &c->argv[a.streams_at], a.nstreams, a.deadline, BLOCK_REPLY_NULL_ARRAY)) {
        reply_null_array(R(c));
    }
}

/* XREAD [COUNT n] [BLOCK ms] STREAMS key ... id ... */
void cmd_xread(client *c)
{
    read_generic(c, 0);
}

/* XREADGROUP GROUP g consumer [COUNT n] [BLOCK ms] [CLAIM min-idle-ms] [NOACK]
 * STREAMS key ... id ... */
void cmd_xreadgroup(client *c)
{
    read_generic(c, 1);
}
