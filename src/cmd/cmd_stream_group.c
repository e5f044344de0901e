/* Consumer-group commands: XGROUP (CREATE, SETID, DESTROY, CREATECONSUMER,
 * DELCONSUMER, HELP), XACK, XACKDEL, XPENDING, XCLAIM and XAUTOCLAIM.
 * Reading through a group is in cmd_stream_read.c. Changes to groups
 * propagate in the forms Redis uses (XCLAIM ... FORCE JUSTID LASTID,
 * XGROUP SETID ... ENTRIESREAD), so a replay rebuilds PELs exactly. */
#include <limits.h>
#include <string.h>

#include "base/alloc.h"
#include "cmd/cmd_stream.h"

/* ---- XGROUP ---- */

static const char *const xgroup_help[] = {"XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                                          "CREATE <key> <groupname> <id|$> [option]",
                                          "    Add a group that reads from after <id> ($: the last entry). Options:",
                                          "    * MKSTREAM",
                                          "      Create the stream, empty, when the key does not exist.",
                                          "    * ENTRIESREAD entries_read",
                                          "      How many entries the group has read so far (for its lag).",
                                          "CREATECONSUMER <key> <groupname> <consumer>",
                                          "    Add a consumer to the group (1 if it is new, else 0).",
                                          "DELCONSUMER <key> <groupname> <consumer>",
                                          "    Drop a consumer, and its pending entries with it.",
                                          "DESTROY <key> <groupname>",
                                          "    Drop the group and all its consumers.",
                                          "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
                                          "    Move the group's last delivered ID (and its read counter).",
                                          "HELP",
                                          "    Print this help.",
                                          NULL};

enum { XG_CREATE, XG_SETID, XG_DESTROY, XG_CREATECONSUMER, XG_DELCONSUMER };

static int parse_entries_read(client *c, int i, long long *v)
{
    if (!arg_ll(c, i, v)) {
        return 0;
    }
    if (*v < 0 && *v != STREAM_ENTRIES_READ_UNKNOWN) {
        reply_err(c, "ERR value for ENTRIESREAD must be positive or -1");
        return 0;
    }
    return 1;
}

static void subcommand_syntax_error(client *c)
{
    reply_subcommand_syntax_error(c);
}

void cmd_xgroup(client *c)
{
    static const char *const subs[] = {"CREATE", "SETID", "DESTROY", "CREATECONSUMER", "DELCONSUMER"};
    int sub = subcommand_pick(c, subs, 5, xgroup_help);
    if (sub < 0) {
        return;
    }
    sv key = c->argv[2], gname = c->argv[3];
    int mkstream = 0;
    long long entries_read = STREAM_ENTRIES_READ_UNKNOWN;
    if (sub == XG_CREATE || sub == XG_SETID) {
        /* Options before the key, as Redis checks them. */
        for (int i = 5; i < c->argc;) {
            if (sub == XG_CREATE && arg_is(c, i, "MKSTREAM")) {
                mkstream = 1;
                i++;
            } else if (arg_is(c, i, "ENTRIESREAD") && i + 1 < c->argc) {
                if (!parse_entries_read(c, i + 1, &entries_read)) {
                    return;
                }
                i += 2;
            } else {
                subcommand_syntax_error(c);
                return;
            }
        }
    }
    int bad;
    stream *s = xlookup(c, key, 1, &bad);
    if (bad) {
        return;
    }
    stream_group *g = NULL;
    if (!mkstream) {
        if (!s) {
            reply_err(c, "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want "
                         "to use the MKSTREAM option to create an empty stream automatically.");
            return;
        }
        g = stream_group_find(s, gname);
        if (!g && sub != XG_CREATE && sub != XG_DESTROY) {
            reply_errf(c, "NOGROUP No such consumer group '%.*s' for key name '%.*s'", (int)gname.len, gname.ptr,
                       (int)key.len, key.ptr);
            return;
        }
    }
    switch (sub) {
    case XG_CREATE: {
        stream_id id;
        if (c->argv[4].len == 1 && c->argv[4].ptr[0] == '$') {
            id = s ? s->last_id : (stream_id){0, 0};
        } else if (!xarg_id(c, 4, &id, 0, NULL)) {
            return;
        }
        if (!s) {
            s = stream_new();
            db_add(c->db, kobj_new_ptr(key, OBJ_STREAM, s, -1));
            server_key_written(c->db, key, c);
        }
        if (!stream_group_add(s, gname, &id, entries_read)) {
            reply_err(c, "BUSYGROUP Consumer Group name already exists");
            return;
        }
        reply_ok(R(c));
        server.dirty++;
        notify_event(NOTIFY_STREAM, "xgroup-create", key, c->db->id);
        break;
    }
    case XG_SETID: {
        stream_id id;
        if (c->argc != 5 && c->argc != 7) {
            subcommand_syntax_error(c);
            return;
        }
        if (c->argv[4].len == 1 && c->argv[4].ptr[0] == '$') {
            id = s->last_id;
        } else if (c->argv[4].len == 1 && (c->argv[4].ptr[0] == '-' || c->argv[4].ptr[0] == '+')) {
            /* SETID, unlike CREATE, reads its ID loosely in Redis: "-" is
             * the smallest ID and "+" the largest. */
            id = c->argv[4].ptr[0] == '-' ? (stream_id){0, 0} : (stream_id){UINT64_MAX, UINT64_MAX};
        } else if (!xarg_id(c, 4, &id, 0, NULL)) {
            return;
        }
        g->last_id = id;
        g->entries_read = entries_read;
        reply_ok(R(c));
        server.dirty++;
        notify_event(NOTIFY_STREAM, "xgroup-setid", key, c->db->id);
        break;
    }
    case XG_DESTROY:
        if (!g) {
            reply_int(R(c), 0);
            return;
        }
        stream_group_del(s, gname);
        reply_int(R(c), 1);
        /* Clients blocked on the group wake up to learn it is gone. */
        signal_write(c, NOTIFY_STREAM, "xgroup-destroy", key);
        break;
    case XG_CREATECONSUMER:
        if (!stream_consumer_add(g, c->argv[4], server.now_ms)) {
            reply_int(R(c), 0);
            return;
        }
        reply_int(R(c), 1);
        server.dirty++;
        notify_event(NOTIFY_STREAM, "xgroup-createconsumer", key, c->db->id);
        break;
    case XG_DELCONSUMER: {
        long long pending = stream_consumer_del(g, c->argv[4]);
        reply_int(R(c), pending < 0 ? 0 : pending);
        if (pending >= 0) {
            server.dirty++;
            notify_event(NOTIFY_STREAM, "xgroup-delconsumer", key, c->db->id);
        }
        break;
    }
    }
}

/* ---- XACK / XACKDEL ---- */

/* XACK key group id ... */
void cmd_xack(client *c)
{
    int bad;
    stream *s = xlookup(c, c->argv[1], LOOKUP_FOR_READ_WRITE, &bad);
    if (bad) {
        return;
    }
    stream_group *g = s ? stream_group_find(s, c->argv[2]) : NULL;
    if (!g) {
        reply_int(R(c), 0);
        return;
    }
    int n = c->argc - 3;
    stream_id *ids = alloc_mem(sizeof(stream_id) * (size_t)n);
    for (int i = 0; i < n; i++) {
        if (!xarg_id(c, 3 + i, &ids[i], 0, NULL)) {
            alloc_free(ids);
            return;
        }
    }
    long long acked = 0;
    for (int i = 0; i < n; i++) {
        acked += stream_pel_ack(g, &ids[i]);
    }
    alloc_free(ids);
    if (acked) {
        server.dirty += acked;
    }
    reply_int(R(c), acked);
}

/* XACKDEL key group [KEEPREF|DELREF|ACKED] IDS numids id ... (Redis 8.2):
 * acknowledges each ID in the group, then deletes it from the stream as
 * the policy allows; per ID -1 (no such entry), 1 (deleted) or 2 (kept:
 * ACKED and another group has not read or acknowledged it). */
void cmd_xackdel(client *c)
{
    int policy, n;
    stream_id *ids = xarg_delete_opts(c, 3, &policy, &n);
    if (!ids) {
        return;
    }
    /* A missing key answers -1 for every ID; a missing group is NOGROUP. */
    int bad;
    stream *s = xlookup(c, c->argv[1], LOOKUP_FOR_READ_WRITE, &bad);
    stream_group *g = NULL;
    if (bad || (s && !(g = xlookup_group(c, LOOKUP_FOR_READ_WRITE, &s)))) {
        alloc_free(ids);
        return;
    }
    reply_array(R(c), n);
    long long deleted = 0, changed = 0;
    for (int i = 0; i < n; i++) {
        if (!s) {
            reply_int(R(c), -1);
            continue;
        }
        changed += stream_pel_ack(g, &ids[i]);
        int r = xdelete_with_policy(s, &ids[i], policy);
        deleted += r == 1;
        reply_int(R(c), r);
    }
    alloc_free(ids);
    if (deleted) {
        signal_write(c, NOTIFY_STREAM, "xdel", c->argv[1]);
    }
    server.dirty += changed;
}

/* ---- XPENDING ---- */

/* XPENDING key group [[IDLE min] start end count [consumer]] */
void cmd_xpending(client *c)
{
    int summary = c->argc == 3;
    if (c->argc != 3 && (c->argc < 6 || c->argc > 9)) {
        reply_syntax_error(c);
        return;
    }
    long long count = 0, minidle = 0;
    stream_id lo = {0, 0}, hi = {0, 0};
    sv cname = {NULL, 0};
    if (!summary) {
        int at = 3, ex;
        if (arg_is(c, 3, "IDLE")) {
            if (!arg_ll(c, 4, &minidle)) {
                return;
            }
            if (c->argc < 8) {
                reply_syntax_error(c);
                return;
            }
            at += 2;
        }
        if (!arg_ll(c, at + 2, &count)) {
            return;
        }
        if (count < 0) {
            count = 0;
        }
        if (!xarg_bound(c, at, &lo, 0, &ex)) {
            return;
        }
        if (ex && !stream_id_incr(&lo)) {
            reply_err(c, "ERR invalid start ID for the interval");
            return;
        }
        if (!xarg_bound(c, at + 1, &hi, UINT64_MAX, &ex)) {
            return;
        }
        if (ex && !stream_id_decr(&hi)) {
            reply_err(c, "ERR invalid end ID for the interval");
            return;
        }
        if (at + 3 < c->argc) {
            cname = c->argv[at + 3];
        }
    }
    stream *s;
    stream_group *g = xlookup_group(c, LOOKUP_FOR_READ, &s);
    if (!g) {
        return;
    }
    if (summary) {
        reply_array(R(c), 4);
        reply_int(R(c), (long long)idtree_count(&g->pel));
        idtree_pos p;
        if (!idtree_first(&g->pel, &p)) {
            reply_null(R(c));
            reply_null(R(c));
            reply_null_array(R(c));
            return;
        }
        stream_id first = idtree_key(&p), last;
        idtree_last(&g->pel, &p);
        last = idtree_key(&p);
        xreply_id(c, &first);
        xreply_id(c, &last);
        size_t h = reply_defer(R(c));
        long n = 0;
        for (int i = 0; i < g->nconsumers; i++) {
            stream_consumer *k = g->consumers[i];
            if (idtree_count(&k->pel) == 0) {
                continue;
            }
            reply_array(R(c), 2);
            reply_bulk(R(c), k->name, str_len(k->name));
            reply_bulk_ll(R(c), (long long)idtree_count(&k->pel));
            n++;
        }
        reply_defer_array(R(c), h, n);
        return;
    }
    const idtree *pel = &g->pel;
    if (cname.ptr) {
        stream_consumer *k = stream_consumer_find(g, cname);
        if (!k) {
            reply_empty_array(R(c));
            return;
        }
        pel = &k->pel;
    }
    size_t h = reply_defer(R(c));
    long n = 0;
    idtree_pos p;
    for (int ok = idtree_seek_ge(pel, &lo, &p); ok && count > 0; ok = idtree_next(&p)) {
        stream_id id = idtree_key(&p);
        if (stream_id_cmp(&id, &hi) > 0) {
            break;
        }
        stream_nack *k = idtree_val(&p);
        long long idle = server.now_ms - k->delivery_time;
        if (minidle && idle < minidle) {
            continue;
        }
        reply_array(R(c), 4);
        xreply_id(c, &id);
        reply_bulk(R(c), k->consumer->name, str_len(k->consumer->name));
        reply_int(R(c), idle < 0 ? 0 : idle);
        reply_int(R(c), (long long)k->delivery_count);
        n++;
        count--;
    }
    reply_defer_array(R(c), h, n);
}

/* ---- XCLAIM / XAUTOCLAIM ---- */

/* Drops the pending entry of an entry that no longer exists, propagating
 * the drop as an XCLAIM (which does the same on replay). */
static void drop_stale(client *c, stream_group *g, const stream_id *id, stream_nack *k)
{
    xpropagate_claim(c, c->argv[1], c->argv[2], id, k, &g->last_id);
    stream_pel_ack(g, id);
    server.dirty++;
}

/* The consumer a claim goes to (created on first use). */
static stream_consumer *claimer(client *c, stream_group *g, stream_consumer **cache)
{
    if (!*cache) {
        *cache = stream_consumer_find(g, c->argv[3]);
        if (!*cache) {
            *cache = stream_consumer_add(g, c->argv[3], server.now_ms);
            xpropagate_create_consumer(c, c->argv[1], c->argv[2], c->argv[3]);
            notify_event(NOTIFY_STREAM, "xgroup-createconsumer", c->argv[1], c->db->id);
        }
        (*cache)->seen_time = server.now_ms;
        (*cache)->active_time = server.now_ms;
    }
    return *cache;
}

/* XCLAIM key group consumer min-idle id ... [IDLE ms] [TIME ms]
 * [RETRYCOUNT n] [FORCE] [JUSTID] [LASTID id] */
void cmd_xclaim(client *c)
{
    stream *s;
    stream_group *g = xlookup_group(c, LOOKUP_FOR_READ_WRITE, &s);
    if (!g) {
        return;
    }
    long long minidle;
    if (!arg_ll_range(c, 4, LLONG_MIN, LLONG_MAX, &minidle, "ERR Invalid min-idle-time argument for XCLAIM")) {
        return;
    }
    if (minidle < 0) {
        minidle = 0;
    }
    /* IDs up to the first argument that is not one; options after. */
    int j = 5;
    stream_id tmp;
    while (j < c->argc && stream_id_parse(c->argv[j], &tmp, 0, NULL)) {
        j++;
    }
    int last_id_at = j;
    long long now = server.now_ms, dtime = -1, retry = -1;
    int force = 0, justid = 0;
    stream_id lastid = {0, 0};
    for (; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        if (arg_is(c, j, "FORCE")) {
            force = 1;
        } else if (arg_is(c, j, "JUSTID")) {
            justid = 1;
        } else if (arg_is(c, j, "IDLE") && more) {
            if (!arg_ll_range(c, ++j, LLONG_MIN, LLONG_MAX, &dtime, "ERR Invalid IDLE option argument for XCLAIM")) {
                return;
            }
            /* A negative idle time means "now" (the time is clamped to now
             * below); clamp first so LLONG_MIN cannot overflow. */
            dtime = dtime <= 0 ? now : now - dtime;
        } else if (arg_is(c, j, "TIME") && more) {
            if (!arg_ll_range(c, ++j, LLONG_MIN, LLONG_MAX, &dtime, "ERR Invalid TIME option argument for XCLAIM")) {
                return;
            }
        } else if (arg_is(c, j, "RETRYCOUNT") && more) {
            if (!arg_ll_range(c, ++j, LLONG_MIN, LLONG_MAX, &retry,
                              "ERR Invalid RETRYCOUNT option argument for XCLAIM")) {
                return;
            }
        } else if (arg_is(c, j, "LASTID") && more) {
            if (!xarg_id(c, ++j, &lastid, 0, NULL)) {
                return;
            }
        } else {
            reply_errf(c, "ERR Unrecognized XCLAIM option '%.*s'", (int)c->argv[j].len, c->argv[j].ptr);
            return;
        }
    }
    propagate_none(c);
    int propagate_last = 0;
    if (stream_id_cmp(&lastid, &g->last_id) > 0) {
        g->last_id = lastid;
        propagate_last = 1;
    }
    if (dtime < 0 || dtime > now) {
        dtime = now; /* a bogus time (or none) means now, as Redis does */
    }
    stream_consumer *cons = NULL;
    size_t h = reply_defer(R(c));
    long n = 0;
    for (int i = 5; i < last_id_at; i++) {
        stream_id id;
        stream_id_parse(c->argv[i], &id, 0, NULL);
        stream_nack *k = stream_pel_find(g, &id);
        if (!stream_has(s, &id)) {
            if (k) {
                drop_stale(c, g, &id, k);
                propagate_last = 0;
            }
            continue;
        }
        if (!k && !force) {
            continue;
        }
        if (k && minidle && now - k->delivery_time < minidle) {
            continue;
        }
        stream_consumer *to = claimer(c, g, &cons);
        if (!k) {
            k = stream_pel_deliver(g, to, &id, now); /* FORCE: a new record, as if delivered once */
        } else {
            stream_pel_assign(g, k, &id, to);
        }
        k->delivery_time = dtime;
        if (retry >= 0) {
            k->delivery_count = (uint64_t)retry;
        } else if (!justid) {
            k->delivery_count++;
        }
        if (justid) {
            xreply_id(c, &id);
        } else {
            xreply_entry(c, s, &id, NULL);
        }
        n++;
        xpropagate_claim(c, c->argv[1], c->argv[2], &id, k, &g->last_id);
        propagate_last = 0;
        server.dirty++;
    }
    reply_defer_array(R(c), h, n);
    if (propagate_last) {
        xpropagate_setid(c, c->argv[1], c->argv[2], g);
        server.dirty++;
    }
}

/* XAUTOCLAIM key group consumer min-idle start [COUNT n] [JUSTID]:
 * [next-cursor, [claimed...], [deleted ids...]]. Scans at most 10 pending
 * entries per entry it may claim, so one call's work is bounded. */
void cmd_xautoclaim(client *c)
{
    /* Redis looks the key up before parsing (its keymiss event comes
     * first) and checks the type and group after. */
    kobj *o = lookup_read_write(c, c->argv[1]);
    long long minidle, count = 100;
    if (!arg_ll_range(c, 4, LLONG_MIN, LLONG_MAX, &minidle, "ERR Invalid min-idle-time argument for XAUTOCLAIM")) {
        return;
    }
    if (minidle < 0) {
        minidle = 0;
    }
    stream_id cur;
    int ex, justid = 0;
    if (!xarg_bound(c, 5, &cur, 0, &ex)) {
        return;
    }
    if (ex && !stream_id_incr(&cur)) {
        reply_err(c, "ERR invalid start ID for the interval");
        return;
    }
    for (int j = 6; j < c->argc; j++) {
        if (arg_is(c, j, "COUNT") && j + 1 < c->argc) {
            if (!arg_ll_range(c, j + 1, 1, LONG_MAX / 16, &count, "ERR COUNT must be > 0")) {
                return;
            }
            j++;
        } else if (arg_is(c, j, "JUSTID")) {
            justid = 1;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    if (o && o->type != OBJ_STREAM) {
        reply_wrongtype(c);
        return;
    }
    stream *s = o ? kobj_ptr(o) : NULL;
    stream_group *g = xfind_group(c, s);
    if (!g) {
        return;
    }
    propagate_none(c);
    /* First claim (bounded: 10 PEL entries scanned per claimable one), then
     * reply, since the reply starts with the cursor where the scan ended. */
    long long attempts = count * 10, now = server.now_ms;
    stream_consumer *cons = NULL;
    stream_id *claimed = NULL, *deleted = NULL;
    long nclaimed = 0, ndeleted = 0, cap = 0;
    idtree_pos p;
    int more = 1;
    while (attempts-- > 0 && count > 0 && (more = idtree_seek_ge(&g->pel, &cur, &p))) {
        stream_id id = idtree_key(&p);
        stream_nack *k = idtree_val(&p);
        cur = id;
        int at_end = !stream_id_incr(&cur);
        int stale = !stream_has(s, &id);
        if (stale || !minidle || now - k->delivery_time >= minidle) {
            if (nclaimed + ndeleted == cap) {
                cap = cap ? cap * 2 : 16;
                claimed = alloc_resize(claimed, sizeof(stream_id) * (size_t)cap);
                deleted = alloc_resize(deleted, sizeof(stream_id) * (size_t)cap);
            }
            count--;
        }
        if (stale) {
            drop_stale(c, g, &id, k);
            deleted[ndeleted++] = id;
        } else if (!minidle || now - k->delivery_time >= minidle) {
            stream_pel_assign(g, k, &id, claimer(c, g, &cons));
            k->delivery_time = now;
            if (!justid) {
                k->delivery_count++;
            }
            claimed[nclaimed++] = id;
            xpropagate_claim(c, c->argv[1], c->argv[2], &id, k, &g->last_id);
            server.dirty++;
        }
        if (at_end) {
            more = 0;
            break;
        }
    }
    /* The cursor: the next pending entry, or 0-0 when the scan is done. */
    stream_id next = {0, 0};
    if (more && idtree_seek_ge(&g->pel, &cur, &p)) {
        next = idtree_key(&p);
    }
    reply_array(R(c), 3);
    xreply_id(c, &next);
    reply_array(R(c), nclaimed);
    for (long i = 0; i < nclaimed; i++) {
        if (justid) {
            xreply_id(c, &claimed[i]);
        } else {
            xreply_entry(c, s, &claimed[i], NULL);
        }
    }
    reply_array(R(c), ndeleted);
    for (long i = 0; i < ndeleted; i++) {
        xreply_id(c, &deleted[i]);
    }
    alloc_free(claimed);
    alloc_free(deleted);
}
