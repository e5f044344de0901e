/* Stream commands on entries: XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM,
 * XSETID and XDELEX, plus what the other stream command files share
 * (cmd_stream.h) and the stream's keyspace type registration. */
#include <limits.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "cmd/cmd_stream.h"
#include "types/stream_idmp.h"

/* ---- type registration ---- */

TYPE_OPS_DEFINE(stream_ops, "stream", stream);

void stream_type_register(void)
{
    obj_register_type(OBJ_STREAM, &stream_ops);
}

/* ---- shared helpers ---- */

stream *xlookup(client *c, sv key, int write, int *bad)
{
    kobj *o = lookup_typed(c, key, OBJ_STREAM, write, bad);
    return o ? kobj_ptr(o) : NULL;
}

stream *xlookup_existing(client *c, sv key)
{
    int bad;
    stream *s = xlookup(c, key, 1, &bad);
    if (!s && !bad) {
        reply_err(c, "ERR no such key");
    }
    return s;
}

stream_limits xlimits(void)
{
    return (stream_limits){server.cfg.stream_node_max_bytes, server.cfg.stream_node_max_entries};
}

int xarg_id(client *c, int i, stream_id *id, uint64_t missing_seq, int *star)
{
    if (!stream_id_parse(c->argv[i], id, missing_seq, star)) {
        reply_err(c, XERR_INVALID_ID);
        return 0;
    }
    return 1;
}

int xarg_bound(client *c, int i, stream_id *id, uint64_t missing_seq, int *excl)
{
    sv a = c->argv[i];
    *excl = a.len > 1 && a.ptr[0] == '(';
    if (*excl) {
        if (!stream_id_parse((sv){a.ptr + 1, a.len - 1}, id, missing_seq, NULL)) {
            reply_err(c, XERR_INVALID_ID);
            return 0;
        }
        return 1;
    }
    if (a.len == 1 && a.ptr[0] == '-') {
        *id = (stream_id){0, 0};
        return 1;
    }
    if (a.len == 1 && a.ptr[0] == '+') {
        *id = (stream_id){UINT64_MAX, UINT64_MAX};
        return 1;
    }
    return xarg_id(c, i, id, missing_seq, NULL);
}

void xreply_id(client *c, const stream_id *id)
{
    char buf[48];
    reply_bulk(R(c), buf, (size_t)stream_id_format(buf, id));
}

/* The current entry of it as [id, [f, v, ...]]. */
/* [id, [f, v, ...]], or with claim (XREADGROUP CLAIM's shape) [id,
 * [f, v, ...], idle ms, delivery count]. */
static void reply_current(client *c, stream_iter *it, const stream_id *id, size_t nf, const long long *claim)
{
    reply_array(R(c), claim ? 4 : 2);
    xreply_id(c, id);
    reply_array(R(c), (long long)nf * 2);
    for (size_t i = 0; i < nf; i++) {
        sv f, v;
        stream_iter_field(it, &f, &v);
        reply_sv(c, f);
        reply_sv(c, v);
    }
    if (claim) {
        reply_int(R(c), claim[0]);
        reply_int(R(c), claim[1]);
    }
}

long xreply_range(client *c, stream *s, const stream_id *start, const stream_id *end, long long count, int rev,
                  xdelivery *d)
{
    size_t h = reply_defer(R(c));
    long n = xreply_range_items(c, s, start, end, count, rev, d);
    reply_defer_array(R(c), h, n);
    return n;
}

long xreply_range_items(client *c, stream *s, const stream_id *start, const stream_id *end, long long count, int rev,
                        xdelivery *d)
{
    static const long long fresh[2] = {0, 0}; /* a first delivery: never idle, never delivered */
    stream_iter it;
    stream_iter_init(&it, s, start, end, rev);
    stream_id id;
    size_t nf;
    long n = 0;
    int advanced = 0;
    while ((count == 0 || n < count) && stream_iter_next(&it, &id, &nf)) {
        if (d && stream_id_cmp(&id, &d->g->last_id) > 0) {
            stream_group_advance(s, d->g, &id);
            advanced = 1;
        }
        reply_current(c, &it, &id, nf, d && d->claim_shape ? fresh : NULL);
        if (d && !d->noack) {
            stream_nack *k = stream_pel_deliver(d->g, d->consumer, &id, server.now_ms);
            xpropagate_claim(c, d->key, d->group_name, &id, k, &d->g->last_id);
        }
        n++;
    }
    stream_iter_done(&it);
    if (d && advanced) {
        xpropagate_setid(c, d->key, d->group_name, d->g);
    }
    return n;
}

int xreply_entry(client *c, stream *s, const stream_id *id, const long long *claim)
{
    stream_iter it;
    stream_iter_init(&it, s, id, id, 0);
    stream_id got;
    size_t nf;
    int found = stream_iter_next(&it, &got, &nf);
    if (found) {
        reply_current(c, &it, &got, nf, claim);
    } else if (!claim) {
        reply_array(R(c), 2);
        xreply_id(c, id);
        reply_null_array(R(c));
    }
    stream_iter_done(&it);
    return found;
}

int xentry_exists(stream *s, const stream_id *id)
{
    stream_iter it;
    stream_iter_init(&it, s, id, id, 0);
    stream_id got;
    size_t nf;
    int found = stream_iter_next(&it, &got, &nf);
    stream_iter_done(&it);
    return found;
}

/* XCLAIM key group consumer 0 id TIME ms RETRYCOUNT n FORCE JUSTID LASTID
 * last: how Redis replays a delivery, so the PEL rebuilds exactly. */
void xpropagate_claim(client *c, sv key, sv group, const stream_id *id, const stream_nack *n, const stream_id *last)
{
    char idb[48], timeb[32], cntb[32], lastb[48];
    sv argv[14] = {SV("XCLAIM"),
                   key,
                   group,
                   {n->consumer->name, str_len(n->consumer->name)},
                   SV("0"),
                   {idb, (size_t)stream_id_format(idb, id)},
                   SV("TIME"),
                   {timeb, (size_t)util_ll2str(timeb, n->delivery_time)},
                   SV("RETRYCOUNT"),
                   {cntb, (size_t)util_ll2str(cntb, (long long)n->delivery_count)},
                   SV("FORCE"),
                   SV("JUSTID"),
                   SV("LASTID"),
                   {lastb, (size_t)stream_id_format(lastb, last)}};
    propagate_also(c, argv, 14);
}

void xpropagate_setid(client *c, sv key, sv group, const stream_group *g)
{
    char idb[48], rb[32];
    sv argv[7] = {SV("XGROUP"),
                  SV("SETID"),
                  key,
                  group,
                  {idb, (size_t)stream_id_format(idb, &g->last_id)},
                  SV("ENTRIESREAD"),
                  {rb, (size_t)util_ll2str(rb, g->entries_read)}};
    propagate_also(c, argv, 7);
}

void xpropagate_create_consumer(client *c, sv key, sv group, sv consumer)
{
    sv argv[5] = {SV("XGROUP"), SV("CREATECONSUMER"), key, group, consumer};
    propagate_also(c, argv, 5);
}

stream_group *xfind_group(client *c, stream *s)
{
    stream_group *g = s ? stream_group_find(s, c->argv[2]) : NULL;
    if (!g) {
        reply_errf(c, "NOGROUP No such key '%.*s' or consumer group '%.*s'", (int)c->argv[1].len, c->argv[1].ptr,
                   (int)c->argv[2].len, c->argv[2].ptr);
    }
    return g;
}

stream_group *xlookup_group(client *c, int write, stream **sp)
{
    int bad;
    stream *s = xlookup(c, c->argv[1], write, &bad);
    if (bad) {
        return NULL;
    }
    *sp = s;
    return xfind_group(c, s);
}

/* ---- XADD / XTRIM arguments ---- */

typedef struct trim_args {
    stream_trim t;
    int arg_at; /* argv index of the threshold (0: no trimming) */
    int nomkstream;
    int id_at; /* XADD: argv index of the ID */
    int id_given, seq_given;
    stream_id id;
    int idmp;    /* XADD: IDMP_* (idempotent production) */
    sv pid, iid; /* IDMP's producer and idempotent IDs (IDMPAUTO: pid) */
} trim_args;

enum { IDMP_NONE, IDMP_GIVEN, IDMP_AUTO };

/* XADD's IDMP pid iid / IDMPAUTO pid at argv[*i]; returns 0 after replying
 * an error. */
static int parse_idmp(client *c, trim_args *a, int *i)
{
    int aut = arg_is(c, *i, "IDMPAUTO");
    const char *name = aut ? "IDMPAUTO" : "IDMP";
    if (a->idmp) {
        reply_err(c, "ERR IDMP/IDMPAUTO specified multiple times");
        return 0;
    }
    a->idmp = aut ? IDMP_AUTO : IDMP_GIVEN;
    a->pid = c->argv[++*i];
    if (a->pid.len == 0) {
        reply_errf(c, "ERR %s requires a non-empty producer ID", name);
        return 0;
    }
    if (!aut) {
        a->iid = c->argv[++*i];
        if (a->iid.len == 0) {
            reply_err(c, "ERR IDMP requires a non-empty idempotent ID");
            return 0;
        }
    }
    return 1;
}

/* Parses XADD's options (xadd) or XTRIM's from argv[2]; returns 0 after
 * replying an error. Mirrors Redis's order of checks and texts. */
static int parse_trim_args(client *c, trim_args *a, int xadd)
{
    memset(a, 0, sizeof(*a));
    int limit_given = 0;
    int i = 2;
    for (; i < c->argc; i++) {
        int more = c->argc - 1 - i;
        if (xadd && c->argv[i].len == 1 && c->argv[i].ptr[0] == '*') {
            break;
        }
        int maxlen = arg_is(c, i, "MAXLEN"), minid = arg_is(c, i, "MINID");
        if ((maxlen || minid) && more) {
            if (a->t.strategy) {
                reply_err(c, "ERR syntax error, MAXLEN and MINID options at the same time are not compatible");
                return 0;
            }
            a->t.approx = 0;
            if (more >= 2 && arg_is(c, i + 1, "~")) {
                a->t.approx = 1;
                i++;
            } else if (more >= 2 && arg_is(c, i + 1, "=")) {
                i++;
            }
            if (maxlen) {
                if (!arg_ll(c, i + 1, &a->t.maxlen)) {
                    return 0;
                }
                if (a->t.maxlen < 0) {
                    reply_err(c, "ERR The MAXLEN argument must be >= 0.");
                    return 0;
                }
                a->t.strategy = STREAM_TRIM_MAXLEN;
            } else {
                if (!xarg_id(c, i + 1, &a->t.minid, 0, NULL)) {
                    return 0;
                }
                a->t.strategy = STREAM_TRIM_MINID;
            }
            i++;
            a->arg_at = i;
        } else if (arg_is(c, i, "LIMIT") && more) {
            if (!arg_ll(c, i + 1, &a->t.limit)) {
                return 0;
            }
            if (a->t.limit < 0) {
                reply_err(c, "ERR The LIMIT argument must be >= 0.");
                return 0;
            }
            limit_given = 1;
            i++;
        } else if (arg_is(c, i, "KEEPREF") || arg_is(c, i, "DELREF") || arg_is(c, i, "ACKED")) {
            a->t.refs = arg_is(c, i, "KEEPREF")  ? STREAM_REFS_KEEP
                        : arg_is(c, i, "DELREF") ? STREAM_REFS_DELETE
                                                 : STREAM_REFS_ACKED;
        } else if (xadd && arg_is(c, i, "NOMKSTREAM")) {
            a->nomkstream = 1;
        } else if (xadd && ((arg_is(c, i, "IDMP") && more >= 2) || (arg_is(c, i, "IDMPAUTO") && more >= 1))) {
            if (!parse_idmp(c, a, &i)) {
                return 0;
            }
        } else if (xadd) {
            int star;
            if (!xarg_id(c, i, &a->id, 0, &star)) {
                return 0;
            }
            a->id_given = 1;
            a->seq_given = !star;
            break;
        } else {
            reply_syntax_error(c);
            return 0;
        }
    }
    a->id_at = i;
    /* A replica and the AOF get the ID the entry was given. */
    if (a->idmp && a->id_given && !client_must_obey(c)) {
        reply_err(c, "ERR IDMP/IDMPAUTO can be used only with auto-generated IDs");
        return 0;
    }
    if (a->t.limit && !a->t.strategy) {
        reply_err(c, "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
        return 0;
    }
    if (!xadd && !a->t.strategy) {
        reply_err(c, "ERR syntax error, XTRIM must be called with a trimming strategy");
        return 0;
    }
    if (client_must_obey(c)) {
        /* The primary's stream and the AOF carry the exact threshold an
         * approximate trim reached, with its LIMIT: trim exactly, as Redis. */
        a->t.limit = 0;
    } else if (limit_given) {
        if (!a->t.approx) {
            reply_err(c, "ERR syntax error, LIMIT cannot be used without the special ~ option");
            return 0;
        }
    } else if (a->t.approx) {
        /* Redis bounds `~` trimming to 100 blocks' worth of entries. */
        a->t.limit = 100 * server.cfg.stream_node_max_entries;
        if (a->t.limit <= 0 || a->t.limit > 1000000) {
            a->t.limit = 10000;
        }
    }
    return 1;
}

/* After an approximate trim: propagate the exact result ("= <length>" or
 * "= <first id>") so a replay trims to the same place. */
static void rewrite_trim_exact(client *c, stream *s, const trim_args *a)
{
    client_rewrite_arg(c, a->arg_at - 1, SV("="));
    char buf[48];
    if (a->t.strategy == STREAM_TRIM_MAXLEN) {
        client_rewrite_arg(c, a->arg_at, (sv){buf, (size_t)util_ll2str(buf, (long long)s->length)});
    } else {
        /* An entry-by-entry trim may have stepped over entries a group
         * needs: the replay must stop where this one did, not before them. */
        stream_id first = a->t.by_entry ? a->t.next : s->length ? s->first_id : (stream_id){UINT64_MAX, UINT64_MAX};
        client_rewrite_arg(c, a->arg_at, (sv){buf, (size_t)stream_id_format(buf, &first)});
    }
}

/* ---- commands ---- */

/* XADD key [NOMKSTREAM] [KEEPREF|DELREF|ACKED] [MAXLEN|MINID [=|~] threshold
 * [LIMIT n]] *|id f v ... */
void cmd_xadd(client *c)
{
    trim_args a;
    if (!parse_trim_args(c, &a, 1)) {
        return;
    }
    int fpos = a.id_at + 1, nfv = c->argc - fpos;
    if (nfv < 2 || nfv % 2) {
        reply_errf(c, "ERR wrong number of arguments for 'xadd' command");
        return;
    }
    if (a.id_given && a.seq_given && stream_id_is_zero(&a.id)) {
        reply_err(c, "ERR The ID specified in XADD must be greater than 0-0");
        return;
    }
    sv key = c->argv[1];
    int bad;
    stream *s = xlookup(c, key, 1, &bad);
    if (bad) {
        return;
    }
    if (!s && a.nomkstream) {
        reply_null(R(c));
        return;
    }
    unsigned char auto_iid[16];
    if (a.idmp == IDMP_AUTO) {
        stream_idmp_auto_iid(&c->argv[fpos], (size_t)nfv, auto_iid);
        a.iid = (sv){(const char *)auto_iid, sizeof(auto_iid)};
    }
    stream_id first;
    if (a.idmp && s && !a.id_given && stream_idmp_find(s, a.pid, a.iid, server.now_ms, &first)) {
        /* A retry: the entry is there already. Nothing is written. */
        s->iids_duplicates++;
        xreply_id(c, &first);
        return;
    }
    stream_id last = s ? s->last_id : (stream_id){0, 0};
    if (last.ms == UINT64_MAX && last.seq == UINT64_MAX) {
        reply_err(c, "ERR The stream has exhausted the last possible ID, unable to add more items");
        return;
    }
    stream_id id;
    if (!a.id_given) {
        stream_auto_id(&last, (uint64_t)server.now_ms, &id); /* last is not the greatest: checked above */
    } else if (!a.seq_given && a.id.ms == last.ms) {
        if (last.seq == UINT64_MAX) {
            reply_err(c, "ERR The ID specified in XADD is equal or smaller than the target stream top item");
            return;
        }
        id = (stream_id){last.ms, last.seq + 1};
    } else {
        id = a.id;
    }
    if (stream_id_cmp(&id, &last) <= 0) {
        reply_err(c, "ERR The ID specified in XADD is equal or smaller than the target stream top item");
        return;
    }
    if (stream_entry_too_large(&c->argv[fpos], (size_t)nfv)) {
        /* Checked after the ID, as Redis; but no empty key is left. */
        reply_err(c, "ERR Elements are too large to be stored");
        return;
    }
    if (!s) {
        s = stream_new();
        db_add(c->db, kobj_new_ptr(key, OBJ_STREAM, s, -1));
    }
    stream_limits lim = xlimits();
    stream_append(s, &id, &c->argv[fpos], (size_t)nfv, &lim);
    if (a.idmp) {
        stream_idmp_record(s, a.pid, a.iid, &id, server.now_ms);
        s->iids_added++;
    }
    xreply_id(c, &id);
    signal_write(c, NOTIFY_STREAM, "xadd", key);
    if (a.t.strategy) {
        if (stream_trim_run(s, &a.t)) {
            notify_event(NOTIFY_STREAM, "xtrim", key, c->db->id);
        }
        if (a.t.approx) {
            rewrite_trim_exact(c, s, &a);
        }
    }
    if (!a.id_given || !a.seq_given) {
        char buf[48];
        client_rewrite_arg(c, a.id_at, (sv){buf, (size_t)stream_id_format(buf, &id)});
    }
}

void cmd_xlen(client *c)
{
    int bad;
    stream *s = xlookup(c, c->argv[1], 0, &bad);
    if (!bad) {
        reply_int(R(c), s ? (long long)s->length : 0);
    }
}

/* XRANGE key start end [COUNT n] / XREVRANGE key end start [COUNT n] */
static void range_generic(client *c, int rev)
{
    int lo_at = rev ? 3 : 2, hi_at = rev ? 2 : 3;
    stream_id lo, hi;
    int ex;
    if (!xarg_bound(c, lo_at, &lo, 0, &ex)) {
        return;
    }
    if (ex && !stream_id_incr(&lo)) {
        reply_err(c, "ERR invalid start ID for the interval");
        return;
    }
    if (!xarg_bound(c, hi_at, &hi, UINT64_MAX, &ex)) {
        return;
    }
    if (ex && !stream_id_decr(&hi)) {
        reply_err(c, "ERR invalid end ID for the interval");
        return;
    }
    long long count = -1;
    for (int i = 4; i < c->argc; i++) {
        if (arg_is(c, i, "COUNT") && i + 1 < c->argc) {
            if (!arg_ll(c, i + 1, &count)) {
                return;
            }
            if (count < 0) {
                count = 0;
            }
            i++;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    int bad;
    stream *s = xlookup(c, c->argv[1], 0, &bad);
    if (bad) {
        return;
    }
    if (!s) {
        reply_empty_array(R(c));
        return;
    }
    if (count == 0) {
        reply_null_array(R(c));
        return;
    }
    xreply_range(c, s, &lo, &hi, count < 0 ? 0 : count, rev, NULL);
}

void cmd_xrange(client *c)
{
    range_generic(c, 0);
}

void cmd_xrevrange(client *c)
{
    range_generic(c, 1);
}

/* Parses argv[from..] as IDs into a new array (NULL after replying). */
static stream_id *parse_ids(client *c, int from, int n)
{
    stream_id *ids = alloc_mem(sizeof(stream_id) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        if (!xarg_id(c, from + i, &ids[i], 0, NULL)) {
            alloc_free(ids);
            return NULL;
        }
    }
    return ids;
}

void cmd_xdel(client *c)
{
    int bad;
    stream *s = xlookup(c, c->argv[1], 1, &bad);
    if (bad) {
        return;
    }
    if (!s) {
        reply_int(R(c), 0); /* Redis looks at the key before the IDs */
        return;
    }
    int n = c->argc - 2;
    stream_id *ids = parse_ids(c, 2, n);
    if (!ids) {
        return;
    }
    long long deleted = 0;
    for (int i = 0; i < n; i++) {
        deleted += stream_delete(s, &ids[i]);
    }
    alloc_free(ids);
    if (deleted) {
        signal_write(c, NOTIFY_STREAM, "xdel", c->argv[1]);
        server.dirty += deleted - 1;
    }
    reply_int(R(c), deleted);
}

/* XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT n] */
void cmd_xtrim(client *c)
{
    /* The arguments first, as Redis: a missing key does not excuse them. */
    trim_args a;
    if (!parse_trim_args(c, &a, 0)) {
        return;
    }
    int bad;
    stream *s = xlookup(c, c->argv[1], 1, &bad);
    if (bad) {
        return;
    }
    if (!s) {
        reply_int(R(c), 0);
        return;
    }
    long long deleted = stream_trim_run(s, &a.t);
    if (deleted) {
        signal_write(c, NOTIFY_STREAM, "xtrim", c->argv[1]);
        server.dirty += deleted - 1;
        if (a.t.approx) {
            rewrite_trim_exact(c, s, &a);
        }
    }
    reply_int(R(c), deleted);
}

/* XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id] */
void cmd_xsetid(client *c)
{
    stream_id id, maxdel = {0, 0};
    long long added = -1;
    if (!xarg_id(c, 2, &id, 0, NULL)) {
        return;
    }
    for (int i = 3; i < c->argc; i += 2) {
        int more = i + 1 < c->argc;
        if (arg_is(c, i, "ENTRIESADDED") && more) {
            if (!arg_ll(c, i + 1, &added)) {
                return;
            }
            if (added < 0) {
                reply_err(c, "ERR entries_added must be positive");
                return;
            }
        } else if (arg_is(c, i, "MAXDELETEDID") && more) {
            if (!xarg_id(c, i + 1, &maxdel, 0, NULL)) {
                return;
            }
            if (stream_id_cmp(&id, &maxdel) < 0) {
                reply_err(c, "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id");
                return;
            }
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    stream *s = xlookup_existing(c, c->argv[1]);
    if (!s) {
        return;
    }
    stream_id top;
    if (s->length > 0 && stream_edge_id(s, 0, &top)) {
        /* As Redis 7.0: only a stream with entries has a top item to stay
         * above; the last deletion's ID is not compared. */
        if (stream_id_cmp(&id, &top) < 0) {
            reply_err(c, "ERR The ID specified in XSETID is smaller than the target stream top item");
            return;
        }
        if (added != -1 && s->length > (uint64_t)added) {
            reply_err(c, "ERR The entries_added specified in XSETID is smaller than the target stream length");
            return;
        }
    }
    s->last_id = id;
    if (added != -1) {
        s->entries_added = (uint64_t)added;
    }
    if (!stream_id_is_zero(&maxdel)) {
        s->max_deleted_id = maxdel;
    }
    reply_ok(R(c));
    signal_write(c, NOTIFY_STREAM, "xsetid", c->argv[1]);
}

/* ---- XDELEX / XACKDEL (Redis 8.2) ---- */

stream_id *xarg_delete_opts(client *c, int at, int *policy, int *n)
{
    *policy = XREF_KEEPREF;
    stream_id *ids = NULL;
    for (int i = at; i < c->argc; i++) {
        if (arg_is(c, i, "KEEPREF")) {
            *policy = XREF_KEEPREF;
        } else if (arg_is(c, i, "DELREF")) {
            *policy = XREF_DELREF;
        } else if (arg_is(c, i, "ACKED")) {
            *policy = XREF_ACKED;
        } else if (arg_is(c, i, "IDS") && !ids && i + 1 < c->argc) {
            long long num;
            if (!arg_ll_range(c, i + 1, 1, LLONG_MAX, &num, "ERR Number of IDs must be a positive integer")) {
                return NULL;
            }
            if (num > c->argc - i - 2) {
                reply_err(c, "ERR The `numids` parameter must match the number of arguments");
                return NULL;
            }
            *n = (int)num;
            ids = parse_ids(c, i + 2, *n);
            if (!ids) {
                return NULL;
            }
            i += 1 + *n;
        } else {
            alloc_free(ids);
            reply_syntax_error(c);
            return NULL;
        }
    }
    if (!ids) {
        reply_syntax_error(c);
    }
    return ids;
}

int xdelete_with_policy(stream *s, const stream_id *id, int policy)
{
    if (!stream_has(s, id)) {
        /* DELREF still clears references left dangling by earlier deletes. */
        for (int i = 0; policy == XREF_DELREF && i < s->ngroups; i++) {
            stream_pel_ack(s->groups[i], id);
        }
        return -1;
    }
    if (policy == XREF_ACKED) {
        for (int i = 0; i < s->ngroups; i++) {
            stream_group *g = s->groups[i];
            /* Not yet delivered to g, or delivered but not acknowledged. */
            if (stream_id_cmp(id, &g->last_id) > 0 || stream_pel_find(g, id)) {
                return 2;
            }
        }
    }
    stream_delete(s, id);
    if (policy == XREF_DELREF) {
        for (int i = 0; i < s->ngroups; i++) {
            stream_pel_ack(s->groups[i], id);
        }
    }
    return 1;
}

/* XDELEX key [KEEPREF|DELREF|ACKED] IDS numids id ... */
void cmd_xdelex(client *c)
{
    int policy, n;
    stream_id *ids = xarg_delete_opts(c, 2, &policy, &n);
    if (!ids) {
        return;
    }
    int bad;
    stream *s = xlookup(c, c->argv[1], 1, &bad);
    if (bad) {
        alloc_free(ids);
        return;
    }
    reply_array(R(c), n);
    long long deleted = 0;
    for (int i = 0; i < n; i++) {
        int r = s ? xdelete_with_policy(s, &ids[i], policy) : -1;
        deleted += r == 1;
        reply_int(R(c), r);
    }
    alloc_free(ids);
    if (deleted) {
        signal_write(c, NOTIFY_STREAM, "xdel", c->argv[1]);
        server.dirty += deleted - 1;
    }
}
