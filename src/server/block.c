/* block: clients waiting on keys. See block.h for the model.
 *
 * Registry: a map from (db id, key) to the FIFO of clients waiting on it.
 * Writes to a key with waiters put it on the ready list (deduplicated);
 * block_handle_ready re-runs the waiters' commands in order. Each waiting
 * client has one loop timer for its deadline, so timeouts fire on time even
 * when the server is otherwise idle. */
#include "server/block.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "module/module.h"

typedef struct waiter {
    client *c;
    struct waiter *next;
} waiter;

typedef struct key_waiters {
    waiter *head, *tail;
    int ready;     /* already on the ready list */
    int signalled; /* block_signal_key woke it: the handled waiters run too */
} key_waiters;

struct block_state {
    str *keys; /* "dbid:key" registry names */
    int nkeys;
    int64_t deadline;
    int timeout_reply;
    long long timer;
    int rerun;              /* the framework is re-running the command */
    int reblocked;          /* the re-run asked to keep waiting */
    const block_handler *h; /* NULL: re-run the command */
    void *hdata;
};

static dict registry; /* registry name -> key_waiters */
static str *ready;    /* registry names of keys that were written */
static int nready, cap_ready;
static int nblocked;

static str reg_name(int dbid, sv key)
{
    str s = str_empty(key.len + 12);
    s = str_printf(s, "%d:", dbid);
    return str_append(s, key.ptr, key.len);
}

int block_count(void)
{
    return nblocked;
}

int block_rerun_served(client *c)
{
    return c->bstate && c->bstate->rerun && !c->bstate->reblocked;
}

int block_is_rerun(client *c)
{
    return c->bstate && c->bstate->rerun;
}

static int parse_timeout(client *c, int i, int64_t *deadline, double scale)
{
    double v;
    if (!util_parse_double(c->argv[i].ptr, c->argv[i].len, &v) || isinf(v)) {
        reply_err(c, "ERR timeout is not a float or out of range");
        return 0;
    }
    if (v < 0) {
        reply_err(c, "ERR timeout is negative");
        return 0;
    }
    double ms = v * scale;
    if (ms > 1e15) {
        reply_err(c, "ERR timeout is out of range");
        return 0;
    }
    *deadline = ms > 0 ? server_ms() + (int64_t)ceil(ms) : 0;
    return 1;
}

int block_parse_timeout(client *c, int i, int64_t *deadline)
{
    return parse_timeout(c, i, deadline, 1000.0);
}

int block_parse_timeout_ms(client *c, int i, int64_t *deadline)
{
    long long v;
    if (!util_parse_ll(c->argv[i].ptr, c->argv[i].len, &v)) {
        reply_err(c, "ERR timeout is not an integer or out of range");
        return 0;
    }
    if (v < 0) {
        reply_err(c, "ERR timeout is negative");
        return 0;
    }
    *deadline = v > 0 ? server_ms() + v : 0;
    return 1;
}

static void remove_waiter(str name, client *c)
{
    dict_entry *e = dict_entry_find(&registry, name, str_len(name));
    if (!e) {
        return;
    }
    key_waiters *kw = e->val;
    waiter *prev = NULL;
    for (waiter *w = kw->head; w; prev = w, w = w->next) {
        if (w->c == c) {
            if (prev) {
                prev->next = w->next;
            } else {
                kw->head = w->next;
            }
            if (kw->tail == w) {
                kw->tail = prev;
            }
            alloc_free(w);
            break;
        }
    }
    if (!kw->head && !kw->ready) {
        dict_entry_remove(&registry, name, str_len(name), NULL);
        alloc_free(kw);
    }
}

/* Leaves the waiting state (without replying). */
static void unblock(client *c)
{
    struct block_state *b = c->bstate;
    if (!b) {
        return;
    }
    for (int i = 0; i < b->nkeys; i++) {
        remove_waiter(b->keys[i], c);
        str_free(b->keys[i]);
    }
    alloc_free(b->keys);
    if (b->timer) {
        ev_timer_del(server.loop, b->timer);
    }
    alloc_free(b);
    c->bstate = NULL;
    if (c->flags & CLIENT_BLOCKED) {
        c->flags &= ~CLIENT_BLOCKED;
        nblocked--;
    }
}

static void reply_timeout(client *c, int kind)
{
    if (kind == BLOCK_REPLY_NULL) {
        reply_null(R(c));
    } else {
        reply_null_array(R(c));
    }
}

/* Ends c's wait on keys: with err (a failed call), or NULL for the reply
 * its timeout gives. */
static void end_wait(client *c, const char *err)
{
    struct block_state *b = c->bstate;
    const block_handler *h = b->h;
    void *hdata = b->hdata;
    int kind = b->timeout_reply;
    if (err) {
        reply_err_to_blocked(c, c->cmd, err);
    } else if (h) {
        h->timed_out(c, hdata);
    } else {
        reply_timeout(c, kind);
    }
    unblock(c);
    if (h) {
        h->ended(c, hdata, err ? BLOCK_ENDED_WITH_ERROR : BLOCK_TIMED_OUT);
    }
    client_resume(c);
}

static long on_deadline(ev_loop *l, long long id, void *data)
{
    (void)l;
    (void)id;
    client *c = data;
    if (!c->bstate) {
        return -1;
    }
    c->bstate->timer = 0; /* this timer is being removed by the loop */
    end_wait(c, NULL);
    return -1;
}

static int wait_on_keys(client *c, sv *keys, int nkeys, int64_t deadline, int timeout_reply, const block_handler *h,
                        void *hdata)
{
    if (c->flags & (CLIENT_IN_EXEC | CLIENT_IN_SCRIPT | CLIENT_MULTI) || c->fd < 0) {
        return 0;
    }
    if (c->bstate && c->bstate->rerun) {
        c->bstate->reblocked = 1; /* keep its place in line */
        return 1;
    }
    struct block_state *b = alloc_zero(sizeof(*b));
    b->keys = alloc_mem(sizeof(str) * (size_t)(nkeys > 0 ? nkeys : 1));
    b->deadline = deadline;
    b->timeout_reply = timeout_reply;
    b->h = h;
    b->hdata = hdata;
    for (int i = 0; i < nkeys; i++) {
        str name = reg_name(c->db->id, keys[i]);
        int dup = 0;
        for (int j = 0; j < b->nkeys && !dup; j++) {
            dup = str_len(b->keys[j]) == str_len(name) && memcmp(b->keys[j], name, str_len(name)) == 0;
        }
        if (dup) {
            str_free(name);
            continue;
        }
        b->keys[b->nkeys++] = name;
        int created;
        dict_entry *e = dict_entry_upsert(&registry, name, str_len(name), &created);
        if (created) {
            e->val = alloc_zero(sizeof(key_waiters));
        }
        key_waiters *kw = e->val;
        waiter *w = alloc_zero(sizeof(*w));
        w->c = c;
        if (kw->tail) {
            kw->tail->next = w;
        } else {
            kw->head = w;
        }
        kw->tail = w;
    }
    c->bstate = b;
    c->flags |= CLIENT_BLOCKED;
    nblocked++;
    /* The command outlives its query buffer now. */
    client_own_argv(c);
    if (deadline) {
        int64_t wait = deadline - server_ms();
        b->timer = ev_timer_add(server.loop, wait > 0 ? (long)wait : 0, on_deadline, c);
    }
    return 1;
}

int block_on_keys(client *c, sv *keys, int nkeys, int64_t deadline, int timeout_reply)
{
    return wait_on_keys(c, keys, nkeys, deadline, timeout_reply, NULL, NULL);
}

int block_on_keys_handled(client *c, sv *keys, int nkeys, int64_t deadline, const block_handler *h, void *data)
{
    return wait_on_keys(c, keys, nkeys, deadline, BLOCK_REPLY_NULL, h, data);
}

static void mark_ready(str name, int signalled)
{
    dict_entry *e = dict_entry_find(&registry, name, str_len(name));
    if (!e) {
        return;
    }
    key_waiters *kw = e->val;
    kw->signalled |= signalled;
    if (kw->ready) {
        return;
    }
    kw->ready = 1;
    if (nready == cap_ready) {
        cap_ready = cap_ready ? cap_ready * 2 : 16;
        ready = alloc_resize(ready, sizeof(str) * (size_t)cap_ready);
    }
    ready[nready++] = str_dup(name);
}

/* A write that wakes the handled waiters too: as Redis signals a key of
 * a type clients wait for when it appears (here: after a FLUSHDB or
 * SWAPDB), and a stream on every change. */
static int wakes_handled(db *d, sv key, int whole_db)
{
    kobj *o = db_find_raw(d, key);
    if (!o) {
        return 0;
    }
    return o->type == OBJ_STREAM || (whole_db && (o->type == OBJ_LIST || o->type == OBJ_ZSET || o->type == OBJ_MODULE));
}

void block_signal_key(db *d, sv key)
{
    if (dict_size(&registry) == 0) {
        return;
    }
    str name = reg_name(d->id, key);
    mark_ready(name, 1);
    str_free(name);
}

void block_key_created(db *d, sv key)
{
    if (dict_size(&registry) > 0 && wakes_handled(d, key, 1)) {
        block_signal_key(d, key);
    }
}

/* The key part of a registry name. */
static sv name_key(str name)
{
    const char *colon = memchr(name, ':', str_len(name));
    return (sv){colon + 1, str_len(name) - (size_t)(colon + 1 - name)};
}

static void on_key_write(db *d, sv key, client *by)
{
    (void)by;
    if (dict_size(&registry) == 0) {
        return;
    }
    if (key.ptr == NULL) {
        /* A whole db changed (FLUSHDB, SWAPDB): every waiter in it re-checks. */
        char prefix[16];
        int pl = snprintf(prefix, sizeof(prefix), "%d:", d->id);
        dict_iter it;
        dict_iter_init(&it, &registry);
        dnode *n;
        str *names = NULL;
        int nn = 0;
        while ((n = dict_iter_next(&it))) {
            dict_entry *e = (dict_entry *)n;
            if (e->keylen >= (size_t)pl && memcmp(e->key, prefix, (size_t)pl) == 0) {
                names = alloc_resize(names, sizeof(str) * (size_t)(nn + 1));
                names[nn++] = str_new(e->key, e->keylen);
            }
        }
        dict_iter_done(&it);
        for (int i = 0; i < nn; i++) {
            mark_ready(names[i], wakes_handled(d, name_key(names[i]), 1));
            str_free(names[i]);
        }
        alloc_free(names);
        return;
    }
    str name = reg_name(d->id, key);
    mark_ready(name, wakes_handled(d, key, 0));
    str_free(name);
}

/* Re-runs the command of c (or asks its handler); returns 1 if it was
 * served. */
static int rerun(client *c, str name)
{
    struct block_state *b = c->bstate;
    if (b->h) {
        return b->h->serve(c, b->hdata, name_key(name));
    }
    b->rerun = 1;
    b->reblocked = 0;
    server_update_time();
    db_set_time(server.now_ms);
    dispatch_call(c, c->cmd);
    if (!c->bstate) {
        return 1; /* unblocked meanwhile (CLIENT UNBLOCK from itself?) */
    }
    c->bstate->rerun = 0;
    return !c->bstate->reblocked;
}

void block_handle_ready(void)
{
    while (nready > 0) {
        str *batch = ready;
        int nbatch = nready;
        ready = NULL;
        nready = cap_ready = 0;
        for (int i = 0; i < nbatch; i++) {
            str name = batch[i];
            dict_entry *e = dict_entry_find(&registry, name, str_len(name));
            if (e) {
                key_waiters *kw = e->val;
                int signalled = kw->signalled;
                kw->ready = kw->signalled = 0;
                /* Snapshot: serving a client removes it from the queue. */
                int n = 0;
                for (waiter *w = kw->head; w; w = w->next) {
                    n++;
                }
                client **order = alloc_mem(sizeof(client *) * (size_t)(n ? n : 1));
                n = 0;
                for (waiter *w = kw->head; w; w = w->next) {
                    order[n++] = w->c;
                }
                for (int j = 0; j < n; j++) {
                    client *c = order[j];
                    if (!c->bstate || (c->flags & CLIENT_CLOSE_ASAP) || (c->bstate->h && !signalled)) {
                        continue;
                    }
                    server.current_client = c;
                    const block_handler *h = c->bstate->h;
                    void *hdata = c->bstate->hdata;
                    if (rerun(c, name)) {
                        unblock(c);
                        if (h) {
                            h->ended(c, hdata, BLOCK_SERVED);
                        }
                        client_resume(c);
                    }
                    server.current_client = NULL;
                }
                alloc_free(order);
                /* Drop the entry if nobody waits any more. */
                e = dict_entry_find(&registry, name, str_len(name));
                if (e && !((key_waiters *)e->val)->head && !((key_waiters *)e->val)->ready) {
                    alloc_free(dict_entry_remove(&registry, name, str_len(name), NULL));
                }
            }
            str_free(name);
        }
        alloc_free(batch);
    }
}

void block_check_timeouts(void)
{
    /* Deadlines are loop timers (on_deadline); nothing to poll. */
}

static void cleanup(client *c)
{
    struct block_state *b = c->bstate;
    const block_handler *h = b ? b->h : NULL;
    void *hdata = b ? b->hdata : NULL;
    unblock(c);
    if (h) {
        h->ended(c, hdata, BLOCK_CLIENT_GONE);
    }
}

/* CLIENT UNBLOCK id [TIMEOUT|ERROR] */
static int client_unblock(client *c)
{
    if (!arg_is(c, 1, "UNBLOCK")) {
        return 0;
    }
    /* Too many arguments is Redis's generic subcommand error (too few
     * never get here: the arity of client|unblock). */
    if (c->argc > 4) {
        reply_subcommand_syntax_error(c);
        return 1;
    }
    long long id;
    if (!arg_ll(c, 2, &id)) {
        return 1;
    }
    int as_error = 0;
    if (c->argc == 4) {
        if (arg_is(c, 3, "ERROR")) {
            as_error = 1;
        } else if (!arg_is(c, 3, "TIMEOUT")) {
            reply_err(c, "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
            return 1;
        }
    }
    client *t = client_by_id((uint64_t)id);
    reply_int(R(c), t && block_end_early(t, as_error ? "UNBLOCKED client unblocked via CLIENT UNBLOCK" : NULL));
    return 1;
}

#define MAX_UNBLOCKERS 4
static int (*unblockers[MAX_UNBLOCKERS])(client *c, const char *err);
static int nunblockers;

void block_register_unblocker(int (*fn)(client *c, const char *err))
{
    if (nunblockers < MAX_UNBLOCKERS) {
        unblockers[nunblockers++] = fn;
    }
}

int block_end_early(client *c, const char *err)
{
    if (!(c->flags & CLIENT_BLOCKED)) {
        return 0;
    }
    if (c->bstate) {
        if (c->bstate->h && !c->bstate->h->may_end_early(c, c->bstate->hdata)) {
            return 0;
        }
        end_wait(c, err);
        return 1;
    }
    for (int i = 0; i < nunblockers; i++) {
        if (unblockers[i](c, err)) {
            return 1;
        }
    }
    return 0;
}

void block_end_all(const char *err)
{
    for (client *c = server.clients; c; c = c->next) {
        if (block_end_early(c, err)) {
            c->flags |= CLIENT_CLOSE_AFTER_REPLY;
        }
    }
}

void block_init(void)
{
    dict_init(&registry, &dict_type_entry);
    server_on_key_write(on_key_write);
    client_register_cleanup(cleanup);
    cmd_client_register(client_unblock);
}
