/* multi: MULTI/EXEC/DISCARD and optimistic locking with WATCH.
 *
 * Queued commands are copied (argv owned) and run by EXEC through
 * dispatch_call, so they share EXEC's clock and their writes propagate
 * together, wrapped in MULTI/EXEC. WATCH registers (db, key) -> clients;
 * any write to a watched key (signal_write, expiry, FLUSH*, SWAPDB) marks
 * its watchers dirty and their EXEC fails with a null reply. A key that had
 * expired when it was watched changes only when it comes back. */
#include <stdio.h>
#include <string.h>

#include "acl/acl.h"
#include "base/alloc.h"
#include "script/lua.h"
#include "server/server.h"

typedef struct queued {
    command *cmd;
    uint32_t flags; /* the command's as queued (a script's declared ones) */
    int argc;
    str *argv;
} queued;

struct multi_state {
    queued *cmds;
    int n, cap;
    size_t bytes; /* the queued commands' arguments and records */
};

typedef struct watched {
    str name; /* "dbid:key" */
    int dbid;
    size_t prefix; /* length of "dbid:" */
    int expired;   /* the key had expired (not yet reclaimed) when watched */
    struct watched *next;
} watched;

struct watch_state {
    watched *keys;
    int n;
    size_t bytes; /* the records of the watched keys */
};

typedef struct watcher {
    client *c;
    watched *wk; /* c's record of the key */
    struct watcher *next;
} watcher;

static dict watch_registry; /* "dbid:key" -> watcher list */

static str reg_name(int dbid, sv key, size_t *prefix)
{
    str s = str_empty(key.len + 12);
    s = str_printf(s, "%d:", dbid);
    if (prefix) {
        *prefix = str_len(s);
    }
    return str_append(s, key.ptr, key.len);
}

/* ---- queue ---- */

static void free_state(struct multi_state *m)
{
    for (int i = 0; i < m->n; i++) {
        for (int j = 0; j < m->cmds[i].argc; j++) {
            str_free(m->cmds[i].argv[j]);
        }
        alloc_free(m->cmds[i].argv);
    }
    alloc_free(m->cmds);
    alloc_free(m);
}

static void free_queue(client *c)
{
    struct multi_state *m = c->mstate;
    if (!m) {
        return;
    }
    free_state(m);
    c->mstate = NULL;
    c->flags &= ~(CLIENT_MULTI | CLIENT_DIRTY_EXEC);
}

static int gate(client *c, command *cmd)
{
    if (!(c->flags & CLIENT_MULTI) || (cmd->flags & CMD_MULTI_CTRL)) {
        return 0;
    }
    if (cmd->flags & CMD_NO_MULTI) {
        reply_err(c, "ERR Command not allowed inside a transaction");
        c->flags |= CLIENT_DIRTY_EXEC;
        return 1;
    }
    struct multi_state *m = c->mstate;
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 8;
        m->cmds = alloc_resize(m->cmds, sizeof(queued) * (size_t)m->cap);
    }
    queued *q = &m->cmds[m->n++];
    q->cmd = cmd;
    q->flags = script_command_flags(c, cmd);
    q->argc = c->argc;
    q->argv = alloc_mem(sizeof(str) * (size_t)c->argc);
    m->bytes += sizeof(queued) + sizeof(str) * (size_t)c->argc;
    for (int i = 0; i < c->argc; i++) {
        q->argv[i] = str_new(c->argv[i].ptr, c->argv[i].len);
        m->bytes += c->argv[i].len;
    }
    reply_status(R(c), "QUEUED");
    return 1;
}

/* ---- WATCH ---- */

static void unwatch_all(client *c)
{
    struct watch_state *w = c->wstate;
    if (!w) {
        return;
    }
    for (watched *k = w->keys; k;) {
        watched *next = k->next;
        dict_entry *e = dict_entry_find(&watch_registry, k->name, str_len(k->name));
        if (e) {
            watcher **pp = (watcher **)&e->val;
            while (*pp) {
                if ((*pp)->c == c) {
                    watcher *dead = *pp;
                    *pp = dead->next;
                    alloc_free(dead);
                    break;
                }
                pp = &(*pp)->next;
            }
            if (!e->val) {
                dict_entry_remove(&watch_registry, k->name, str_len(k->name), NULL);
            }
        }
        str_free(k->name);
        alloc_free(k);
        k = next;
    }
    alloc_free(w);
    c->wstate = NULL;
    c->flags &= ~CLIENT_DIRTY_CAS;
}

/* key is stored in d (NULL: none) but has expired, not yet reclaimed. */
static int is_expired_in(db *d, sv key)
{
    kobj *o = d ? db_find_raw(d, key) : NULL;
    return o && db_is_expired(o);
}

static void watch_key(client *c, sv key)
{
    if (!c->wstate) {
        c->wstate = alloc_zero(sizeof(struct watch_state));
    }
    size_t prefix;
    str name = reg_name(c->db->id, key, &prefix);
    for (watched *k = c->wstate->keys; k; k = k->next) {
        if (str_len(k->name) == str_len(name) && memcmp(k->name, name, str_len(name)) == 0) {
            str_free(name);
            return;
        }
    }
    watched *k = alloc_zero(sizeof(*k));
    k->name = name;
    k->dbid = c->db->id;
    k->prefix = prefix;
    k->expired = is_expired_in(c->db, key);
    k->next = c->wstate->keys;
    c->wstate->keys = k;
    c->wstate->n++;
    c->wstate->bytes += sizeof(watched) + sizeof(watcher) + str_len(name);
    dict_entry *e = dict_entry_upsert(&watch_registry, name, str_len(name), NULL);
    watcher *w = alloc_zero(sizeof(*w));
    w->c = c;
    w->wk = k;
    w->next = e->val;
    e->val = w;
}

/* The watched key e was written in d. As in Redis, a key that had already
 * expired when it was watched and is now gone (reclaimed or deleted) did
 * not change: it is watched from then on as a missing key. */
static void touch_entry(dict_entry *e, db *d, sv key)
{
    int gone = -1;
    for (watcher *w = e->val; w; w = w->next) {
        if (w->wk->expired) {
            if (gone < 0) {
                gone = db_find_raw(d, key) == NULL;
            }
            if (gone) {
                w->wk->expired = 0;
                continue;
            }
        }
        w->c->flags |= CLIENT_DIRTY_CAS;
    }
}

static void on_key_write(db *d, sv key, client *by)
{
    (void)by;
    if (dict_size(&watch_registry) == 0 || key.ptr == NULL) {
        return; /* whole databases: watch_db_replaced */
    }
    str name = reg_name(d->id, key, NULL);
    dict_entry *e = dict_entry_find(&watch_registry, name, str_len(name));
    if (e) {
        touch_entry(e, d, key);
    }
    str_free(name);
}

void watch_db_replaced(db *d, db *with)
{
    if (dict_size(&watch_registry) == 0) {
        return;
    }
    char prefix[16];
    int pl = snprintf(prefix, sizeof(prefix), "%d:", d->id);
    dict_iter it;
    dict_iter_init(&it, &watch_registry);
    dnode *n;
    while ((n = dict_iter_next(&it))) {
        dict_entry *e = (dict_entry *)n;
        if (e->keylen < (size_t)pl || memcmp(e->key, prefix, (size_t)pl) != 0) {
            continue;
        }
        sv key = {e->key + pl, e->keylen - (size_t)pl};
        int in_old = db_find_raw(d, key) != NULL, in_new = with && db_find_raw(with, key) != NULL;
        if (!in_old && !in_new) {
            continue;
        }
        int new_expired = in_new && is_expired_in(with, key);
        for (watcher *w = e->val; w; w = w->next) {
            if (w->wk->expired && (!in_new || new_expired)) {
                w->wk->expired = in_new; /* gone, or expired still */
            } else if (!w->wk->expired && !in_old && new_expired) {
                w->wk->expired = 1; /* a missing key became an expired one */
            } else {
                w->c->flags |= CLIENT_DIRTY_CAS;
            }
        }
    }
    dict_iter_done(&it);
}

/* A watched key that has expired but was not yet reclaimed counts as
 * changed, as in Redis. */
static int watched_key_expired(client *c)
{
    for (watched *k = c->wstate ? c->wstate->keys : NULL; k; k = k->next) {
        db *d = &server.dbs[k->dbid];
        sv key = {k->name + k->prefix, str_len(k->name) - k->prefix};
        if (!k->expired && is_expired_in(d, key)) {
            return 1;
        }
    }
    return 0;
}

/* ---- commands ---- */

void cmd_multi(client *c)
{
    if (c->flags & CLIENT_MULTI) {
        reply_err(c, "ERR MULTI calls can not be nested");
        return;
    }
    c->flags |= CLIENT_MULTI;
    c->mstate = alloc_zero(sizeof(struct multi_state));
    reply_ok(R(c));
}

void cmd_discard(client *c)
{
    if (!(c->flags & CLIENT_MULTI)) {
        reply_err(c, "ERR DISCARD without MULTI");
        return;
    }
    free_queue(c);
    unwatch_all(c);
    reply_ok(R(c));
}

uint32_t multi_queued_flags(client *c)
{
    uint32_t f = 0, all = CMD_STALE;
    for (int i = 0; c->mstate && i < c->mstate->n; i++) {
        f |= c->mstate->cmds[i].flags;
        all &= c->mstate->cmds[i].flags;
    }
    return (f & ~CMD_STALE) | all;
}

void multi_abort_exec(client *c, const char *err)
{
    reply_errf(c, "EXECABORT Transaction discarded because of: %s", err);
    free_queue(c);
    unwatch_all(c);
}

void cmd_exec(client *c)
{
    if (!(c->flags & CLIENT_MULTI)) {
        reply_err(c, "ERR EXEC without MULTI");
        return;
    }
    if (c->flags & CLIENT_DIRTY_EXEC) {
        reply_err(c, "EXECABORT Transaction discarded because of previous errors.");
        free_queue(c);
        unwatch_all(c);
        return;
    }
    if ((c->flags & CLIENT_DIRTY_CAS) || watched_key_expired(c)) {
        reply_null_array(R(c));
        free_queue(c);
        unwatch_all(c);
        return;
    }
    unwatch_all(c);
    struct multi_state *m = c->mstate;
    c->mstate = NULL;
    c->flags &= ~CLIENT_MULTI;
    /* Run the queue with argv pointing at the queued copies. */
    sv *saved_argv = c->argv;
    int saved_argc = c->argc, saved_cap = c->argv_cap;
    command *saved_cmd = c->cmd;
    c->argv = NULL;
    c->argv_cap = 0;
    reply_array(R(c), m->n);
    c->flags |= CLIENT_IN_EXEC;
    server.in_exec++;
    for (int i = 0; i < m->n; i++) {
        queued *q = &m->cmds[i];
        if (q->argc > c->argv_cap) {
            c->argv = alloc_resize(c->argv, sizeof(sv) * (size_t)q->argc);
            c->argv_cap = q->argc;
        }
        for (int j = 0; j < q->argc; j++) {
            c->argv[j] = (sv){q->argv[j], str_len(q->argv[j])};
        }
        c->argc = q->argc;
        /* The user's rules may have changed since the command was queued:
         * checked again, as Redis does. */
        int pos = 0, denial = c->user ? acl_check(c->user, q->cmd, c->argv, c->argc, &pos) : ACL_OK;
        if (denial != ACL_OK) {
            char buf[160];
            sv object = acl_denial_object(q->cmd, c->argv, denial, pos, buf, sizeof(buf));
            acl_log_add(c, denial, ACL_CTX_MULTI, object, (sv){c->user->name, str_len(c->user->name)});
            reply_errf(c,
                       "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC "
                       "call. This command is no longer allowed for the following reason: %s",
                       denial == ACL_DENIED_CMD   ? "no permission to execute the command or subcommand"
                       : denial == ACL_DENIED_KEY ? "no permission to touch the specified keys"
                                                  : "no permission to access one of the channels used as arguments");
            continue;
        }
        dispatch_call(c, q->cmd);
    }
    c->flags &= ~CLIENT_IN_EXEC;
    server.in_exec--;
    alloc_free(c->argv);
    c->argv = saved_argv;
    c->argc = saved_argc;
    c->argv_cap = saved_cap;
    c->cmd = saved_cmd;
    free_state(m);
}

void cmd_watch(client *c)
{
    if (c->flags & CLIENT_MULTI) {
        reply_err(c, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    for (int i = 1; i < c->argc; i++) {
        watch_key(c, c->argv[i]);
    }
    reply_ok(R(c));
}

void cmd_unwatch(client *c)
{
    unwatch_all(c);
    reply_ok(R(c));
}

static void cleanup(client *c)
{
    free_queue(c);
    unwatch_all(c);
}

static int multi_count(client *c)
{
    return c->mstate ? c->mstate->n : -1;
}

static int watch_count(client *c)
{
    return c->wstate ? c->wstate->n : 0;
}

/* CLIENT LIST multi-mem, and part of the client's memory for
 * maxmemory-clients: the queue and the watched keys, as Redis counts. */
static size_t multi_mem(client *c)
{
    return (c->mstate ? c->mstate->bytes : 0) + (c->wstate ? c->wstate->bytes : 0);
}

void multi_init(void)
{
    dict_init(&watch_registry, &dict_type_entry);
    gate_multi = gate;
    server_on_key_write(on_key_write);
    client_register_cleanup(cleanup);
    client_multi_count = multi_count;
    client_watch_count = watch_count;
    client_multi_mem = multi_mem;
}
