/* XINFO STREAM [FULL [COUNT n]], XINFO GROUPS, XINFO CONSUMERS, XINFO HELP:
 * Redis 7's reply shapes (with 7.2's consumer activity fields), so
 * monitoring that reads lag and pending counts works unchanged. */
#include "cmd/cmd_stream.h"
#include "types/stream_idmp.h"

static const char *const xinfo_help[] = {"XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                                         "CONSUMERS <key> <groupname>",
                                         "    The consumers of the group, with their pending counts and idle times.",
                                         "GROUPS <key>",
                                         "    The stream's consumer groups and where each has read up to.",
                                         "STREAM <key> [FULL [COUNT <count>]",
                                         "    The stream's length, IDs and first and last entries (FULL: its",
                                         "    entries, groups and pending lists, up to <count> of each).",
                                         "HELP",
                                         "    Print this help.",
                                         NULL};

static void field(client *c, const char *name)
{
    reply_bulk_cstr(R(c), name);
}

static void reply_lag(client *c, stream *s, stream_group *g)
{
    long long lag;
    if (stream_group_lag(s, g, &lag)) {
        reply_int(R(c), lag);
    } else {
        reply_null(R(c));
    }
}

static void reply_entries_read(client *c, stream_group *g)
{
    if (g->entries_read != STREAM_ENTRIES_READ_UNKNOWN) {
        reply_int(R(c), g->entries_read);
    } else {
        reply_null(R(c));
    }
}

static void reply_stream_head(client *c, stream *s)
{
    field(c, "length");
    reply_int(R(c), (long long)s->length);
    field(c, "radix-tree-keys");
    reply_int(R(c), (long long)stream_block_count(s));
    field(c, "radix-tree-nodes");
    reply_int(R(c), (long long)stream_index_nodes(s));
    field(c, "last-generated-id");
    xreply_id(c, &s->last_id);
    field(c, "max-deleted-entry-id");
    xreply_id(c, &s->max_deleted_id);
    field(c, "entries-added");
    reply_int(R(c), (long long)s->entries_added);
    field(c, "recorded-first-entry-id");
    xreply_id(c, &s->first_id);
    /* Idempotent production (Redis 8.6), counted after dropping what
     * expired. */
    stream_idmp_expire(s, server.now_ms);
    field(c, "idmp-duration");
    reply_int(R(c), s->idmp_duration);
    field(c, "idmp-maxsize");
    reply_int(R(c), s->idmp_maxsize);
    field(c, "pids-tracked");
    reply_int(R(c), (long long)stream_idmp_pids(s));
    field(c, "iids-tracked");
    reply_int(R(c), (long long)stream_idmp_iids(s));
    field(c, "iids-added");
    reply_int(R(c), (long long)s->iids_added);
    field(c, "iids-duplicates");
    reply_int(R(c), (long long)s->iids_duplicates);
}

/* The first (or last) entry as XINFO STREAM shows it, nil when empty. */
static void reply_edge(client *c, stream *s, int last)
{
    stream_id id;
    if (!stream_edge_id(s, !last, &id)) {
        reply_null(R(c));
        return;
    }
    xreply_entry(c, s, &id, NULL);
}

/* PEL records from a tree, at most count (0: all); with_consumer adds the
 * owner's name (group PEL) and leaves it out (a consumer's own PEL). */
static void reply_pel(client *c, const idtree *pel, long long count, int with_consumer)
{
    long long n = (long long)idtree_count(pel);
    if (count && n > count) {
        n = count;
    }
    reply_array(R(c), n);
    idtree_pos p;
    int ok = idtree_first(pel, &p);
    for (long long i = 0; i < n && ok; i++, ok = idtree_next(&p)) {
        stream_id id = idtree_key(&p);
        stream_nack *k = idtree_val(&p);
        reply_array(R(c), with_consumer ? 4 : 3);
        xreply_id(c, &id);
        if (with_consumer) {
            reply_bulk(R(c), k->consumer->name, str_len(k->consumer->name));
        }
        reply_int(R(c), k->delivery_time);
        reply_int(R(c), (long long)k->delivery_count);
    }
}

static void info_stream_full(client *c, stream *s, long long count)
{
    reply_map(R(c), 15);
    reply_stream_head(c, s);
    field(c, "entries");
    stream_id lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX};
    xreply_range(c, s, &lo, &hi, count, 0, NULL);
    field(c, "groups");
    reply_array(R(c), s->ngroups);
    for (int i = 0; i < s->ngroups; i++) {
        stream_group *g = s->groups[i];
        reply_map(R(c), 7);
        field(c, "name");
        reply_bulk(R(c), g->name, str_len(g->name));
        field(c, "last-delivered-id");
        xreply_id(c, &g->last_id);
        field(c, "entries-read");
        reply_entries_read(c, g);
        field(c, "lag");
        reply_lag(c, s, g);
        field(c, "pel-count");
        reply_int(R(c), (long long)idtree_count(&g->pel));
        field(c, "pending");
        reply_pel(c, &g->pel, count, 1);
        field(c, "consumers");
        reply_array(R(c), g->nconsumers);
        for (int j = 0; j < g->nconsumers; j++) {
            stream_consumer *k = g->consumers[j];
            reply_map(R(c), 5);
            field(c, "name");
            reply_bulk(R(c), k->name, str_len(k->name));
            field(c, "seen-time");
            reply_int(R(c), k->seen_time);
            field(c, "active-time");
            reply_int(R(c), k->active_time);
            field(c, "pel-count");
            reply_int(R(c), (long long)idtree_count(&k->pel));
            field(c, "pending");
            reply_pel(c, &k->pel, count, 0);
        }
    }
}

static void info_stream(client *c, stream *s)
{
    long long count = 10;
    int full = 0;
    if (c->argc > 3) {
        if (!arg_is(c, 3, "FULL") || (c->argc > 4 && (c->argc != 6 || !arg_is(c, 4, "COUNT")))) {
            reply_subcommand_syntax_error(c);
            return;
        }
        full = 1;
        if (c->argc > 4) {
            if (!arg_ll(c, 5, &count)) {
                return;
            }
            if (count < 0) {
                count = 0;
            }
        }
    }
    if (full) {
        info_stream_full(c, s, count);
        return;
    }
    reply_map(R(c), 16);
    reply_stream_head(c, s);
    field(c, "groups");
    reply_int(R(c), s->ngroups);
    field(c, "first-entry");
    reply_edge(c, s, 0);
    field(c, "last-entry");
    reply_edge(c, s, 1);
}

static void info_groups(client *c, stream *s)
{
    reply_array(R(c), s->ngroups);
    for (int i = 0; i < s->ngroups; i++) {
        stream_group *g = s->groups[i];
        reply_map(R(c), 6);
        field(c, "name");
        reply_bulk(R(c), g->name, str_len(g->name));
        field(c, "consumers");
        reply_int(R(c), g->nconsumers);
        field(c, "pending");
        reply_int(R(c), (long long)idtree_count(&g->pel));
        field(c, "last-delivered-id");
        xreply_id(c, &g->last_id);
        field(c, "entries-read");
        reply_entries_read(c, g);
        field(c, "lag");
        reply_lag(c, s, g);
    }
}

static void info_consumers(client *c, stream *s)
{
    sv key = c->argv[2], gname = c->argv[3];
    stream_group *g = stream_group_find(s, gname);
    if (!g) {
        reply_errf(c, "NOGROUP No such consumer group '%.*s' for key name '%.*s'", (int)gname.len, gname.ptr,
                   (int)key.len, key.ptr);
        return;
    }
    int64_t now = server.now_ms;
    reply_array(R(c), g->nconsumers);
    for (int i = 0; i < g->nconsumers; i++) {
        stream_consumer *k = g->consumers[i];
        reply_map(R(c), 4);
        field(c, "name");
        reply_bulk(R(c), k->name, str_len(k->name));
        field(c, "pending");
        reply_int(R(c), (long long)idtree_count(&k->pel));
        field(c, "idle");
        reply_int(R(c), now > k->seen_time ? now - k->seen_time : 0);
        field(c, "inactive");
        reply_int(R(c), k->active_time < 0 ? -1 : (now > k->active_time ? now - k->active_time : 0));
    }
}

void cmd_xinfo(client *c)
{
    static const char *const subs[] = {"STREAM", "GROUPS", "CONSUMERS"};
    int sub = subcommand_pick(c, subs, 3, xinfo_help);
    if (sub < 0) {
        return;
    }
    int bad;
    stream *s = xlookup(c, c->argv[2], 0, &bad);
    if (bad) {
        return;
    }
    if (!s) {
        reply_err(c, "ERR no such key");
        return;
    }
    switch (sub) {
    case 0: info_stream(c, s); break;
    case 1: info_groups(c, s); break;
    default: info_consumers(c, s); break;
    }
}
