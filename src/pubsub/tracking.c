/* tracking: client-side caching (CLIENT TRACKING and friends).
 *
 * Default mode: after a read-only command of a tracking client, the keys
 * it named (from the command table's key positions) go into one table,
 * key -> set of client ids, shared by all databases as in Redis. When a
 * key changes, its entry is removed and every client in it gets one
 * invalidation: the client must read the key again to be told again.
 * Ids rather than pointers are stored so that a client leaving needs no
 * sweep of the table; stale ids are skipped when an invalidation is sent.
 *
 * BCAST mode: clients register prefixes; a changed key with such a prefix
 * is noted under the prefix, and before the event loop sleeps each prefix
 * sends its clients one invalidation listing its changed keys, once each,
 * sorted (as Redis does: fewer pushes when writes come in bursts). Lookups
 * try each distinct registered prefix length, so the cost per write is the
 * number of distinct lengths, not the number of prefixes.
 *
 * The table is bounded by tracking-table-max-keys (default 1M, as Redis;
 * 0 = unbounded): past it, random keys are invalidated early,
 * which is always safe for the clients' caches. */
#include "pubsub/tracking.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "pubsub/pubsub.h"
#include "server/server.h"

/* Keys evicted from a full table per command: bounds the work one read
 * can cause while still catching up over a few commands. */
#define TRACKING_EVICT_PER_CALL 100

#define TRK_BCAST (1u << 0)
#define TRK_OPTIN (1u << 1)
#define TRK_OPTOUT (1u << 2)
#define TRK_CACHING (1u << 3) /* CLIENT CACHING yes/no for the next command */
#define TRK_NOLOOP (1u << 4)
#define TRK_BROKEN (1u << 5) /* redirect target gone (reported once) */

struct tracking_state {
    unsigned flags;
    uint64_t redirect;   /* 0: none */
    dict prefixes;       /* BCAST prefixes of this client (dict_entry -> NULL) */
    size_t prefix_bytes; /* their entries' bytes, for maxmemory-clients */
};

/* key -> dict* of client ids (8-byte keys, no value) */
static dict keys_table;
static size_t total_items;
/* A BCAST prefix: its clients and the keys changed since the last send,
 * each with the id of its last writer (NOLOOP clients skip their own). */
typedef struct bcast_prefix {
    dict clients; /* client id -> client* */
    dict changed; /* key -> (void *)(uintptr_t) writer id, 0: none */
} bcast_prefix;
/* prefix -> bcast_prefix* */
static dict bcast_table;
/* Prefixes with changed keys to send (a count: the loop's check is free). */
static size_t bcast_dirty;
/* Distinct prefix lengths registered in bcast_table, with reference
 * counts; few in practice, so a small array. */
typedef struct plen {
    size_t len, refs;
} plen;
static plen *plens;
static int nplens, plens_cap;
/* id -> client*: clients with tracking on */
static dict trackers;
/* id -> client*: redirect targets found so far (dropped when they leave) */
static dict redir_cache;
/* The client whose CLIENT CACHING just ran: its flag survives that one
 * command's end. */
static client *caching_just_set;
/* Command number of the last flush invalidation: FLUSHALL empties each db
 * in turn but clients get one message. */
static long long last_flush_cmd = -1;

static sv id_key(const uint64_t *id)
{
    return (sv){(const char *)id, sizeof(*id)};
}

static dict *id_set_new(void)
{
    dict *d = alloc_mem(sizeof(dict));
    dict_init(d, &dict_type_entry);
    return d;
}

static void id_set_free(dict *d)
{
    dict_entry_clear(d, NULL);
    alloc_free(d);
}

/* ---- sending ---- */

static client *redirect_client(uint64_t id)
{
    dict_entry *e = dict_entry_find(&redir_cache, (const char *)&id, sizeof(id));
    if (e) {
        return e->val;
    }
    client *t = client_by_id(id);
    if (t) {
        e = dict_entry_new((const char *)&id, sizeof(id), t);
        dict_insert(&redir_cache, &e->node);
    }
    return t;
}

/* One invalidation to tracking client t: n keys, or keys NULL for "flush
 * everything". Goes to the redirect target if t has one. */
static void send_invalidation(client *t, const sv *keys, size_t n)
{
    struct tracking_state *st = t->tstate;
    client *to = t;
    if (st->redirect) {
        to = redirect_client(st->redirect);
        if (!to) {
            if (t->resp == 3 && !(st->flags & TRK_BROKEN)) {
                rbuf *rb = pubsub_push_begin(t);
                if (rb) {
                    reply_push(rb, 2);
                    reply_bulk_cstr(rb, "tracking-redir-broken");
                    reply_int(rb, (long long)st->redirect);
                    pubsub_push_end(t);
                }
            }
            st->flags |= TRK_BROKEN;
            return;
        }
    }
    /* A RESP2 connection can only take it as a pub/sub message, which it
     * reads only while subscribed (the redirect target's usual state). */
    if (to->resp != 3 && !(st->redirect && (to->flags & CLIENT_PUBSUB))) {
        return;
    }
    rbuf *rb = pubsub_push_begin(to);
    if (!rb) {
        return;
    }
    if (to->resp == 3) {
        reply_push(rb, 2);
        reply_bulk_cstr(rb, "invalidate");
    } else {
        reply_array(rb, 3);
        reply_bulk_cstr(rb, "message");
        reply_bulk_cstr(rb, "__redis__:invalidate");
    }
    if (keys) {
        reply_array(rb, (long long)n);
        for (size_t i = 0; i < n; i++) {
            reply_bulk(rb, keys[i].ptr, keys[i].len);
        }
    } else {
        reply_null(rb);
    }
    pubsub_push_end(to);
}

/* Removes key from the table and tells every client that read it. */
static void invalidate_key(sv key, client *by)
{
    dict_entry *e = (dict_entry *)dict_unlink(&keys_table, key.ptr, key.len);
    if (!e) {
        return;
    }
    dict *ids = e->val;
    total_items -= dict_size(ids);
    dict_iter it;
    dict_iter_init(&it, ids);
    dnode *n;
    while ((n = dict_iter_next(&it))) {
        dict_entry *ie = (dict_entry *)n;
        dict_entry *te = dict_entry_find(&trackers, ie->key, ie->keylen);
        if (!te) {
            continue; /* stopped tracking since it read the key */
        }
        client *t = te->val;
        struct tracking_state *st = t->tstate;
        if ((st->flags & TRK_BCAST) || ((st->flags & TRK_NOLOOP) && t == by)) {
            continue;
        }
        send_invalidation(t, &key, 1);
    }
    dict_iter_done(&it);
    id_set_free(ids);
    alloc_free(e);
}

/* Notes key under every prefix it has; sent by send_broadcasts. */
static void invalidate_bcast(sv key, client *by)
{
    for (int i = 0; i < nplens; i++) {
        if (plens[i].len > key.len) {
            continue;
        }
        dict_entry *e = dict_entry_find(&bcast_table, key.ptr, plens[i].len);
        if (!e) {
            continue;
        }
        bcast_prefix *bp = e->val;
        bcast_dirty += dict_size(&bp->changed) == 0;
        int created;
        dict_entry *k = dict_entry_upsert(&bp->changed, key.ptr, key.len, &created);
        k->val = (void *)(uintptr_t)(by ? by->id : 0);
    }
}

static int entry_order(const void *a, const void *b)
{
    const dict_entry *x = *(dict_entry *const *)a, *y = *(dict_entry *const *)b;
    return sv_cmp((sv){x->key, x->keylen}, (sv){y->key, y->keylen});
}

/* The entries of d in key byte order (as Redis's radix trees keep keys
 * and prefixes), in an array the caller frees. */
static dict_entry **sorted_entries(dict *d)
{
    size_t n = dict_size(d), i = 0;
    dict_entry **v = alloc_mem(sizeof(*v) * (n ? n : 1));
    dict_iter it;
    dict_iter_init(&it, d);
    dnode *nd;
    while ((nd = dict_iter_next(&it))) {
        v[i++] = (dict_entry *)nd;
    }
    dict_iter_done(&it);
    qsort(v, n, sizeof(*v), entry_order);
    return v;
}

/* One prefix's changed keys to each of its clients, emptying the set. A
 * NOLOOP client gets the keys others changed last (nothing if none). */
static void send_prefix(bcast_prefix *bp)
{
    size_t n = dict_size(&bp->changed);
    dict_entry **ents = sorted_entries(&bp->changed);
    sv *keys = alloc_mem(sizeof(*keys) * n), *mine = NULL;
    for (size_t i = 0; i < n; i++) {
        keys[i] = (sv){ents[i]->key, ents[i]->keylen};
    }
    dict_iter it;
    dict_iter_init(&it, &bp->clients);
    dnode *nd;
    while ((nd = dict_iter_next(&it))) {
        client *t = ((dict_entry *)nd)->val;
        if (!(t->tstate->flags & TRK_NOLOOP)) {
            send_invalidation(t, keys, n);
            continue;
        }
        if (!mine) {
            mine = alloc_mem(sizeof(*mine) * n);
        }
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            if ((uint64_t)(uintptr_t)ents[i]->val != t->id) {
                mine[m++] = keys[i];
            }
        }
        if (m) {
            send_invalidation(t, mine, m);
        }
    }
    dict_iter_done(&it);
    alloc_free(mine);
    alloc_free(keys);
    alloc_free(ents);
    dict_entry_clear(&bp->changed, NULL);
}

/* Before the loop sleeps: every prefix with changed keys, in prefix order
 * (a key under two prefixes goes out once per prefix, as in Redis). */
static void send_broadcasts(void)
{
    if (!bcast_dirty) {
        return;
    }
    dict_entry **prefixes = sorted_entries(&bcast_table);
    for (size_t i = 0, n = dict_size(&bcast_table); i < n; i++) {
        bcast_prefix *bp = prefixes[i]->val;
        if (dict_size(&bp->changed)) {
            send_prefix(bp);
        }
    }
    alloc_free(prefixes);
    bcast_dirty = 0;
}

static void bcast_prefix_free(bcast_prefix *bp)
{
    bcast_dirty -= dict_size(&bp->changed) > 0;
    dict_entry_clear(&bp->clients, NULL);
    dict_entry_clear(&bp->changed, NULL);
    alloc_free(bp);
}

static void drop_table(void)
{
    dict_iter it;
    dict_iter_init(&it, &keys_table);
    dnode *n;
    while ((n = dict_iter_next(&it))) {
        dict_entry *e = (dict_entry *)n;
        dict_unlink(&keys_table, e->key, e->keylen);
        id_set_free(e->val);
        alloc_free(e);
    }
    dict_iter_done(&it);
    dict_clear(&keys_table, NULL, NULL);
    total_items = 0;
}

/* Every database or key change lands here (key.ptr NULL: a whole db). */
static void on_key_write(db *d, sv key, client *by)
{
    (void)d;
    if (dict_size(&trackers) == 0) {
        return;
    }
    /* A script's (or module's) call writes for the client that ran it:
     * NOLOOP skips that client, as in Redis. */
    if (by && (by->flags & CLIENT_FAKE) && server.current_client) {
        by = server.current_client;
    }
    if (!key.ptr) {
        int in_cmd = server.propagate_depth > 0;
        if (!in_cmd || last_flush_cmd != server.stats.numcommands) {
            last_flush_cmd = in_cmd ? server.stats.numcommands : -1;
            dict_iter it;
            dict_iter_init(&it, &trackers);
            dnode *n;
            while ((n = dict_iter_next(&it))) {
                send_invalidation(((dict_entry *)n)->val, NULL, 0);
            }
            dict_iter_done(&it);
        }
        drop_table();
        return;
    }
    if (nplens) {
        invalidate_bcast(key, by);
    }
    if (dict_size(&keys_table)) {
        invalidate_key(key, by);
    }
}

/* ---- remembering reads ---- */

static void remember_key(client *c, sv key)
{
    int created;
    dict_entry *e = dict_entry_upsert(&keys_table, key.ptr, key.len, &created);
    if (created) {
        e->val = id_set_new();
    }
    sv id = id_key(&c->id);
    if (!dict_entry_find(e->val, id.ptr, id.len)) {
        dict_insert(e->val, &dict_entry_new(id.ptr, id.len, NULL)->node);
        total_items++;
    }
}

static void evict_if_full(void)
{
    for (int i = 0; i < TRACKING_EVICT_PER_CALL && server.cfg.tracking_table_max_keys > 0 &&
                    dict_size(&keys_table) > (size_t)server.cfg.tracking_table_max_keys;
         i++) {
        dict_entry *e = (dict_entry *)dict_random(&keys_table);
        if (!e) {
            break;
        }
        /* Copy: invalidate_key frees the entry holding the key bytes. */
        str k = str_new(e->key, e->keylen);
        invalidate_key((sv){k, str_len(k)}, NULL);
        str_free(k);
    }
}

/* A script's call ran a read command (for the script's caller). */
static int script_read_seen;

/* Remembers the keys a read-only command named, found as COMMAND GETKEYS
 * finds them (so ZUNION's and XREAD's count too); a script the keys it
 * declares, and only when it called a read command, as in Redis. OPTIN
 * tracks only after CLIENT CACHING yes, OPTOUT skips only after CLIENT
 * CACHING no. */
static void remember_reads(client *c, command *cmd)
{
    struct tracking_state *st = c->tstate;
    int script = command_runs_script(cmd);
    int read = script ? script_read_seen : (cmd->flags & CMD_READONLY) != 0;
    if (script) {
        script_read_seen = 0;
    }
    if (!read || !keys_has_any(cmd) || (st->flags & TRK_BCAST)) {
        return;
    }
    if ((st->flags & TRK_OPTIN) && !(st->flags & TRK_CACHING)) {
        return;
    }
    if ((st->flags & TRK_OPTOUT) && (st->flags & TRK_CACHING)) {
        return;
    }
    /* Most reads name a few keys: no allocation for them. */
    key_ref few[16];
    key_ref *keys = c->argc <= 16 ? few : alloc_mem(sizeof(key_ref) * (size_t)c->argc);
    int n = keys_find(cmd, c->argv, c->argc, keys);
    for (int i = 0; i < n; i++) {
        remember_key(c, c->argv[keys[i].pos]);
    }
    if (keys != few) {
        alloc_free(keys);
    }
    evict_if_full();
}

/* Runs after every command (top: the client's own command, not one inside
 * EXEC): remember reads, end CLIENT CACHING's one-command scope, release
 * pushes held for this client. */
static void after_call(client *c, command *cmd, int top)
{
    if ((c->flags & (CLIENT_FAKE | CLIENT_IN_SCRIPT)) == (CLIENT_FAKE | CLIENT_IN_SCRIPT) &&
        (cmd->flags & CMD_READONLY)) {
        script_read_seen = 1;
    }
    if (command_runs_script(cmd) && !((c->flags & CLIENT_TRACKING) && c->tstate)) {
        script_read_seen = 0;
    }
    if ((c->flags & CLIENT_TRACKING) && c->tstate) {
        remember_reads(c, cmd);
        if (top) {
            if (caching_just_set == c) {
                caching_just_set = NULL;
            } else if (!(c->flags & CLIENT_MULTI)) {
                c->tstate->flags &= ~TRK_CACHING;
            }
        }
    }
    if (top) {
        pubsub_after_command(c);
    }
}

/* ---- enabling and disabling ---- */

static void plen_ref(size_t len, int delta)
{
    for (int i = 0; i < nplens; i++) {
        if (plens[i].len == len) {
            plens[i].refs += (size_t)delta;
            if (plens[i].refs == 0) {
                plens[i] = plens[--nplens];
            }
            return;
        }
    }
    if (nplens == plens_cap) {
        plens_cap = plens_cap ? plens_cap * 2 : 8;
        plens = alloc_resize(plens, sizeof(*plens) * (size_t)plens_cap);
    }
    plens[nplens++] = (plen){len, 1};
}

static void bcast_add(client *c, sv prefix)
{
    int created;
    dict_entry_upsert(&c->tstate->prefixes, prefix.ptr, prefix.len, &created);
    if (!created) {
        return;
    }
    /* The client's entry and its share of the shared prefix's table. */
    c->tstate->prefix_bytes += 2 * (sizeof(dict_entry) + prefix.len) + sizeof(dict_entry) + sizeof(c->id);
    dict_entry *e = dict_entry_upsert(&bcast_table, prefix.ptr, prefix.len, &created);
    if (created) {
        bcast_prefix *bp = alloc_mem(sizeof(*bp));
        dict_init(&bp->clients, &dict_type_entry);
        dict_init(&bp->changed, &dict_type_entry);
        e->val = bp;
        plen_ref(prefix.len, 1);
    }
    sv id = id_key(&c->id);
    dict_insert(&((bcast_prefix *)e->val)->clients, &dict_entry_new(id.ptr, id.len, c)->node);
}

static void bcast_remove_all(client *c)
{
    struct tracking_state *st = c->tstate;
    dict_iter it;
    dict_iter_init(&it, &st->prefixes);
    dnode *n;
    while ((n = dict_iter_next(&it))) {
        dict_entry *p = (dict_entry *)n;
        dict_entry *e = dict_entry_find(&bcast_table, p->key, p->keylen);
        if (e) {
            bcast_prefix *bp = e->val;
            dict_entry_remove(&bp->clients, (const char *)&c->id, sizeof(c->id), NULL);
            if (dict_size(&bp->clients) == 0) {
                bcast_prefix_free(bp);
                dict_entry_remove(&bcast_table, p->key, p->keylen, NULL);
                plen_ref(p->keylen, -1);
            }
        }
    }
    dict_iter_done(&it);
    dict_entry_clear(&st->prefixes, NULL);
    st->prefix_bytes = 0;
}

static void disable(client *c)
{
    if (!c->tstate) {
        c->flags &= ~CLIENT_TRACKING;
        return;
    }
    bcast_remove_all(c);
    dict_entry_remove(&trackers, (const char *)&c->id, sizeof(c->id), NULL);
    alloc_free(c->tstate);
    c->tstate = NULL;
    c->flags &= ~CLIENT_TRACKING;
    if (caching_just_set == c) {
        caching_just_set = NULL;
    }
    /* Nobody left to tell: the remembered keys are dead weight. */
    if (dict_size(&trackers) == 0) {
        drop_table();
    }
}

static void cleanup(client *c)
{
    disable(c);
    dict_entry_remove(&redir_cache, (const char *)&c->id, sizeof(c->id), NULL);
}

/* ---- CLIENT subcommands ---- */

static int sv_starts(sv s, sv prefix)
{
    return s.len >= prefix.len && memcmp(s.ptr, prefix.ptr, prefix.len) == 0;
}

static int overlap(sv a, sv b)
{
    return sv_starts(a, b) || sv_starts(b, a);
}

/* A client's BCAST prefixes in byte order, as TRACKINGINFO lists them.
 * The views point into the table; free the array. */
static sv *sorted_prefixes(const struct tracking_state *st, size_t *n)
{
    *n = dict_size(&st->prefixes);
    dict_entry **ents = sorted_entries((dict *)&st->prefixes);
    sv *out = alloc_mem(sizeof(sv) * (*n ? *n : 1));
    for (size_t i = 0; i < *n; i++) {
        out[i] = (sv){ents[i]->key, ents[i]->keylen};
    }
    alloc_free(ents);
    return out;
}

/* The first (in byte order, as Redis names it) of the client's prefixes
 * that p overlaps; found = 0 when none. One pass, no sorting: a client
 * adding prefixes one at a time pays for the ones it has, not for
 * sorting them each time. */
static sv overlapping_prefix(const struct tracking_state *st, sv p, int *found)
{
    sv first = {NULL, 0};
    *found = 0;
    dict_iter it;
    dict_iter_init(&it, (dict *)&st->prefixes);
    dnode *n;
    while ((n = dict_iter_next(&it))) {
        dict_entry *e = (dict_entry *)n;
        sv q = {e->key, e->keylen};
        if (overlap(p, q) && (!*found || sv_cmp(q, first) < 0)) {
            first = q;
            *found = 1;
        }
    }
    dict_iter_done(&it);
    return first;
}

/* Refuses a prefix that contains or is contained by another one of the
 * same client (it would get each invalidation twice). */
static int prefixes_ok(client *c, sv *prefixes, int n)
{
    for (int i = 0; i < n; i++) {
        int found = 0;
        sv mine = c->tstate ? overlapping_prefix(c->tstate, prefixes[i], &found) : (sv){NULL, 0};
        if (found) {
            reply_errf(c,
                       "ERR Prefix '%.*s' overlaps with an existing prefix '%.*s'. Prefixes for a single "
                       "client must not overlap.",
                       (int)prefixes[i].len, prefixes[i].ptr, (int)mine.len, mine.ptr);
            return 0;
        }
        for (int j = i + 1; j < n; j++) {
            if (overlap(prefixes[i], prefixes[j])) {
                reply_errf(c,
                           "ERR Prefix '%.*s' overlaps with another provided prefix '%.*s'. Prefixes for a "
                           "single client must not overlap.",
                           (int)prefixes[i].len, prefixes[i].ptr, (int)prefixes[j].len, prefixes[j].ptr);
                return 0;
            }
        }
    }
    return 1;
}

/* CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN]
 * [OPTOUT] [NOLOOP] */
static void client_tracking(client *c)
{
    int on;
    if (arg_is(c, 2, "ON")) {
        on = 1;
    } else if (arg_is(c, 2, "OFF")) {
        on = 0;
    } else {
        reply_syntax_error(c);
        return;
    }
    unsigned opts = 0;
    long long redirect = 0;
    int nprefix = 0;
    sv *prefixes = alloc_mem(sizeof(sv) * (size_t)c->argc);
    for (int i = 3; i < c->argc; i++) {
        int more = i + 1 < c->argc;
        if (arg_is(c, i, "REDIRECT") && more) {
            if (redirect) {
                reply_err(c, "ERR A client can only redirect to a single other client");
                goto out;
            }
            if (!arg_ll(c, ++i, &redirect)) {
                goto out;
            }
            if (redirect <= 0 || !client_by_id((uint64_t)redirect)) {
                reply_err(c, "ERR The client ID you want redirect to does not exist");
                goto out;
            }
        } else if (arg_is(c, i, "BCAST")) {
            opts |= TRK_BCAST;
        } else if (arg_is(c, i, "OPTIN")) {
            opts |= TRK_OPTIN;
        } else if (arg_is(c, i, "OPTOUT")) {
            opts |= TRK_OPTOUT;
        } else if (arg_is(c, i, "NOLOOP")) {
            opts |= TRK_NOLOOP;
        } else if (arg_is(c, i, "PREFIX") && more) {
            prefixes[nprefix++] = c->argv[++i];
        } else {
            reply_syntax_error(c);
            goto out;
        }
    }
    if (!on) {
        disable(c);
        reply_ok(R(c));
        goto out;
    }
    unsigned cur = (c->flags & CLIENT_TRACKING) && c->tstate ? c->tstate->flags : 0;
    int tracking = (c->flags & CLIENT_TRACKING) != 0;
    if (nprefix && !(opts & TRK_BCAST)) {
        reply_err(c, "ERR PREFIX option requires BCAST mode to be enabled");
        goto out;
    }
    if (tracking && ((opts ^ cur) & TRK_BCAST)) {
        reply_err(c, "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and "
                     "then re-enabling it with a different mode.");
        goto out;
    }
    if ((opts & TRK_BCAST) && (opts & (TRK_OPTIN | TRK_OPTOUT))) {
        reply_err(c, "ERR OPTIN and OPTOUT are not compatible with BCAST");
        goto out;
    }
    if ((opts & TRK_OPTIN) && (opts & TRK_OPTOUT)) {
        reply_err(c, "ERR You can't specify both OPTIN mode and OPTOUT mode");
        goto out;
    }
    if (tracking && (((opts & TRK_OPTIN) && (cur & TRK_OPTOUT)) || ((opts & TRK_OPTOUT) && (cur & TRK_OPTIN)))) {
        reply_err(c, "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and "
                     "then re-enabling it with a different mode.");
        goto out;
    }
    if (!prefixes_ok(c, prefixes, nprefix)) {
        goto out;
    }
    if (!c->tstate) {
        c->tstate = alloc_zero(sizeof(*c->tstate));
        dict_init(&c->tstate->prefixes, &dict_type_entry);
        dict_entry *e = dict_entry_new((const char *)&c->id, sizeof(c->id), c);
        dict_insert(&trackers, &e->node);
    }
    struct tracking_state *st = c->tstate;
    st->flags = (st->flags & TRK_CACHING) | opts;
    st->redirect = (uint64_t)redirect;
    c->flags |= CLIENT_TRACKING;
    for (int i = 0; i < nprefix; i++) {
        bcast_add(c, prefixes[i]);
    }
    if ((opts & TRK_BCAST) && nprefix == 0) {
        bcast_add(c, (sv){"", 0}); /* every key (also beside earlier prefixes, as in Redis) */
    }
    reply_ok(R(c));
out:
    alloc_free(prefixes);
}

static void client_caching(client *c)
{
    struct tracking_state *st = c->tstate;
    if (!(c->flags & CLIENT_TRACKING) || !st) {
        reply_err(c, "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or "
                     "OPTOUT mode enabled");
        return;
    }
    if (arg_is(c, 2, "YES")) {
        if (!(st->flags & TRK_OPTIN)) {
            reply_err(c, "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.");
            return;
        }
    } else if (arg_is(c, 2, "NO")) {
        if (!(st->flags & TRK_OPTOUT)) {
            reply_err(c, "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.");
            return;
        }
    } else {
        reply_syntax_error(c);
        return;
    }
    st->flags |= TRK_CACHING;
    caching_just_set = c;
    reply_ok(R(c));
}

static void client_trackinginfo(client *c)
{
    struct tracking_state *st = (c->flags & CLIENT_TRACKING) ? c->tstate : NULL;
    reply_map(R(c), 3);
    reply_bulk_cstr(R(c), "flags");
    if (!st) {
        reply_set(R(c), 1);
        reply_bulk_cstr(R(c), "off");
    } else {
        const char *f[8];
        int n = 0;
        f[n++] = "on";
        if (st->flags & TRK_BCAST) {
            f[n++] = "bcast";
        }
        if (st->flags & TRK_OPTIN) {
            f[n++] = "optin";
            if (st->flags & TRK_CACHING) {
                f[n++] = "caching-yes";
            }
        }
        if (st->flags & TRK_OPTOUT) {
            f[n++] = "optout";
            if (st->flags & TRK_CACHING) {
                f[n++] = "caching-no";
            }
        }
        if (st->flags & TRK_NOLOOP) {
            f[n++] = "noloop";
        }
        if (st->flags & TRK_BROKEN) {
            f[n++] = "broken_redirect";
        }
        reply_set(R(c), n);
        for (int i = 0; i < n; i++) {
            reply_bulk_cstr(R(c), f[i]);
        }
    }
    reply_bulk_cstr(R(c), "redirect");
    reply_int(R(c), st ? (long long)st->redirect : -1);
    reply_bulk_cstr(R(c), "prefixes");
    if (!st) {
        reply_empty_array(R(c));
        return;
    }
    size_t np;
    sv *pre = sorted_prefixes(st, &np);
    reply_array(R(c), (long long)np);
    for (size_t i = 0; i < np; i++) {
        reply_bulk(R(c), pre[i].ptr, pre[i].len);
    }
    alloc_free(pre);
}

/* The CLIENT extension: returns 1 if the subcommand is one of ours. */
static int client_ext(client *c)
{
    if (arg_is(c, 1, "TRACKING")) {
        client_tracking(c);
    } else if (arg_is(c, 1, "CACHING")) {
        client_caching(c);
    } else if (arg_is(c, 1, "GETREDIR")) {
        reply_int(R(c), (c->flags & CLIENT_TRACKING) && c->tstate ? (long long)c->tstate->redirect : -1);
    } else if (arg_is(c, 1, "TRACKINGINFO")) {
        client_trackinginfo(c);
    } else {
        return 0;
    }
    return 1;
}

/* ---- wiring ---- */

size_t tracking_total_keys(void)
{
    return dict_size(&keys_table);
}

size_t tracking_total_items(void)
{
    return total_items;
}

size_t tracking_total_prefixes(void)
{
    return dict_size(&bcast_table);
}

size_t tracking_clients(void)
{
    return dict_size(&trackers);
}

static long long redir_of(client *c)
{
    return c->tstate && (c->flags & CLIENT_TRACKING) ? (long long)c->tstate->redirect : -1;
}

void tracking_cron(void)
{
    evict_if_full();
}

/* What a client's tracking state holds: its BCAST prefixes, counted for
 * maxmemory-clients (a client adding prefixes without end is evicted, as
 * in Redis). */
static size_t tracking_mem(client *c)
{
    struct tracking_state *st = c->tstate;
    return st ? sizeof(*st) + dict_slots(&st->prefixes) * sizeof(void *) + st->prefix_bytes : 0;
}

void tracking_init(void)
{
    client_tracking_redir = redir_of;
    client_tracking_mem = tracking_mem;
    dict_init(&keys_table, &dict_type_entry);
    dict_init(&bcast_table, &dict_type_entry);
    dict_init(&trackers, &dict_type_entry);
    dict_init(&redir_cache, &dict_type_entry);
    client_register_cleanup(cleanup);
    cmd_client_register(client_ext);
    server_on_key_write(on_key_write);
    dispatch_after_call = after_call;
    dispatch_before_command = evict_if_full;
    before_sleep_broadcast = send_broadcasts;
}
