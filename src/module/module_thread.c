/* module_thread: what lets a module work outside a command: the global
 * lock (GIL) its threads take to touch data, thread-safe contexts,
 * blocked clients answered later (from a thread or a timer), and timers.
 *
 * The main thread holds the GIL whenever it runs and lets go only while
 * it waits for events, so a module thread that locks runs between two
 * loop iterations, never beside a command. A thread hands a finished
 * blocked client back through a queue and an eventfd; the main thread
 * then runs the reply callback and resumes the client. */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "module/module_int.h"
#include "server/block.h"

pthread_mutex_t km_gil = PTHREAD_MUTEX_INITIALIZER;
static int gil_on; /* a module is loaded: the main thread holds the GIL */
static pthread_t main_thread;
static _Thread_local int gil_locked_here; /* a module thread took it */

int km_on_main_thread(void)
{
    return !gil_on || pthread_equal(pthread_self(), main_thread);
}

int km_gil_held_here(void)
{
    return km_on_main_thread() || gil_locked_here;
}

void module_gil_acquire(void)
{
    if (gil_on) {
        pthread_mutex_lock(&km_gil);
    }
}

void module_gil_release(void)
{
    if (gil_on) {
        pthread_mutex_unlock(&km_gil);
    }
}

void module_after_wait(void)
{
    module_gil_acquire();
    module_event_loop(1);
}

/* ---- thread-safe contexts ---- */

static km_ctx *api_get_thread_safe_context(km_blocked *bc)
{
    km_ctx *ctx = alloc_mem(sizeof(*ctx));
    km_ctx_init(ctx, bc ? bc->module : NULL, bc ? bc->reply_client : NULL);
    ctx->flags |= KCTX_THREAD_SAFE;
    ctx->blocked = bc;
    return ctx;
}

static km_ctx *api_get_detached_thread_safe_context(km_ctx *from)
{
    km_ctx *ctx = api_get_thread_safe_context(NULL);
    ctx->module = from ? from->module : NULL;
    return ctx;
}

static void api_free_thread_safe_context(km_ctx *ctx)
{
    if (!ctx) {
        return;
    }
    km_ctx_done(ctx);
    alloc_free(ctx);
}

/* What a thread writes between lock and unlock replicates as one unit, as
 * in Redis: the main thread is asleep then, in no unit of its own. The
 * unit belongs to the lock, not to a thread (a module may unlock from
 * another thread than the one that locked): the GIL guards these. The
 * main thread's own unlock and lock again (a module letting its threads
 * run in the middle of a command, as RediSearch does) is no unit: it is
 * inside its command's. */
static int unit_open, unit_top;

static void lock_unit_open(void)
{
    if (km_on_main_thread()) {
        return;
    }
    unit_top = propagate_unit_open();
    unit_open = 1;
}

static void lock_unit_close(void)
{
    if (unit_open) {
        unit_open = 0;
        propagate_unit_close(unit_top);
    }
}

static void api_thread_safe_context_lock(km_ctx *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&km_gil);
    gil_locked_here = 1;
    lock_unit_open();
}

static int api_thread_safe_context_try_lock(km_ctx *ctx)
{
    (void)ctx;
    if (pthread_mutex_trylock(&km_gil) != 0) {
        errno = EBUSY;
        return KM_ERR;
    }
    gil_locked_here = 1;
    lock_unit_open();
    return KM_OK;
}

/* A Yield under this lock made the server busy: that ends here, as in
 * Redis. */
static void api_thread_safe_context_unlock(km_ctx *ctx)
{
    km_yield_ctx_done(ctx);
    lock_unit_close();
    gil_locked_here = 0;
    pthread_mutex_unlock(&km_gil);
}

/* ---- blocked clients ---- */

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static km_blocked *queue_head, *queue_tail;
static int wake_fd = -1;
static km_blocked **blocked; /* every blocked client not yet answered */
static int nblocked, cap_blocked;

client *km_reply_client_new(void)
{
    client *rc = client_new(-1, CLIENT_FAKE);
    rc->authenticated = 1;
    return rc;
}

static void forget_blocked(km_blocked *bc)
{
    for (int i = 0; i < nblocked; i++) {
        if (blocked[i] == bc) {
            blocked[i] = blocked[--nblocked];
            return;
        }
    }
}

/* The module's callback for bc's client, with the command's arguments
 * (and the key that is ready, for a client blocked on keys). What it
 * replicates goes out as one unit, as a command's would. */
static int run_callback(km_blocked *bc, km_cmd_fn fn, int flag, const sv *ready_key)
{
    client *c = bc->c;
    km_ctx ctx;
    km_ctx_init(&ctx, bc->module, c);
    ctx.flags |= flag;
    ctx.blocked = bc;
    if (ready_key) {
        ctx.ready_key = km_string_new(NULL, ready_key->ptr, ready_key->len);
        ctx.flags |= KCTX_IN_COMMAND; /* ReplicateVerbatim replicates the blocked command */
    }
    int argc = c->argc;
    km_string **argv = alloc_mem(sizeof(*argv) * (size_t)(argc > 0 ? argc : 1));
    for (int i = 0; i < argc; i++) {
        argv[i] = km_string_new(NULL, c->argv[i].ptr, c->argv[i].len);
    }
    int top = propagate_unit_open();
    int rc = fn(&ctx, argv, argc);
    propagate_unit_close(top);
    km_ctx_done(&ctx);
    for (int i = 0; i < argc; i++) {
        km_string_release(NULL, argv[i]);
    }
    alloc_free(argv);
    if (ctx.ready_key) {
        km_string_release(NULL, ctx.ready_key);
    }
    return rc;
}

/* As Redis's, the free callback's context has the private data but no
 * handle, and says whether the client went away (or timed out) first. */
void km_blocked_free_privdata(km_blocked *bc)
{
    if (bc->free_privdata && bc->privdata) {
        km_ctx ctx;
        km_ctx_init(&ctx, bc->module, bc->c);
        ctx.blocked_privdata = bc->privdata;
        if (!bc->c) {
            ctx.flags |= KCTX_BLOCKED_DISCONNECTED;
        }
        bc->free_privdata(&ctx, bc->privdata);
        km_ctx_done(&ctx);
    }
    bc->privdata = NULL;
}

/* The client waits no more: what the thread-safe context wrote follows
 * the callback's reply, then the client goes on with its pipeline. */
static void release_client(km_blocked *bc)
{
    client *c = bc->c;
    if (!c) {
        return;
    }
    if (bc->reply_client && bc->reply_client->out.len > 0) {
        reply_raw(R(c), bc->reply_client->out.data, bc->reply_client->out.len);
        client_check_obuf(c); /* a thread's reply is held to the limits too */
    }
    bc->c = NULL;
    c->flags &= ~CLIENT_BLOCKED;
    client_resume(c);
}

void km_blocked_free(km_blocked *bc)
{
    if (bc->timer) {
        ev_timer_del(server.loop, bc->timer);
    }
    if (bc->reply_client) {
        client_free(bc->reply_client);
    }
    alloc_free(bc);
}

static void handle_unblocked(km_blocked *bc)
{
    if (bc->on_keys) {
        /* UnblockClient on a client blocked on keys: it times out, as in
         * Redis (keys_ended frees bc). A handle whose wait is over already
         * was freed then; one without a client never waited. */
        if (bc->c) {
            bc->unblocked = 1;
            block_end_early(bc->c, NULL);
        } else {
            forget_blocked(bc);
            km_blocked_free_privdata(bc);
            km_blocked_free(bc);
        }
        return;
    }
    forget_blocked(bc);
    if (bc->auth_entry) {
        km_auth_unblocked(bc); /* the AUTH or HELLO goes on (module_auth.c) */
        return;
    }
    if (bc->c) {
        /* As Redis's updateStatsOnUnblock: the command's time gains what
         * the module measured in the background and the reply callback's
         * own, and an error the callback or the module's thread replied
         * makes it a failed call. */
        int64_t start = util_mono_us();
        unsigned errors = bc->c->errors_replied;
        if (bc->reply_cb) {
            run_callback(bc, bc->reply_cb, KCTX_BLOCKED_REPLY, NULL);
        }
        if (bc->cmd) {
            int64_t dur = bc->measured_us + (util_mono_us() - start);
            bc->cmd->st.usec += dur;
            if (bc->c->errors_replied > errors || bc->reply_client->errors_replied > 0) {
                bc->cmd->st.failed_calls++;
            }
            dispatch_observe_unblocked(bc->c, bc->cmd, dur);
        }
        km_blocked_free_privdata(bc);
        release_client(bc);
    } else {
        km_blocked_free_privdata(bc);
    }
    km_blocked_free(bc);
}

static void on_wake(ev_loop *l, int fd, void *data, int mask)
{
    (void)l, (void)data, (void)mask;
    uint64_t n;
    while (read(fd, &n, sizeof(n)) > 0) {
    }
    pthread_mutex_lock(&queue_lock);
    km_blocked *list = queue_head;
    queue_head = queue_tail = NULL;
    pthread_mutex_unlock(&queue_lock);
    while (list) {
        km_blocked *next = list->next;
        handle_unblocked(list);
        list = next;
    }
    km_eventloop_run_oneshots();
}

/* The wait ends before the thread answers: with err, or the timeout
 * callback's reply. The client is answered; the thread still owns bc
 * until it unblocks it (then only its private data is freed). */
static void end_early(km_blocked *bc, const char *err)
{
    if (err) {
        reply_err_to_blocked(bc->c, bc->cmd, err);
    } else if (bc->timeout_cb) {
        run_callback(bc, bc->timeout_cb, KCTX_BLOCKED_TIMEOUT, NULL);
    } else {
        reply_null(R(bc->c));
    }
    if (bc->timer) {
        ev_timer_del(server.loop, bc->timer);
        bc->timer = 0;
    }
    if (bc->cmd) {
        /* The command took what the thread measured so far, a measure
         * under way included. */
        int64_t start = bc->measure_start_us;
        int64_t dur = bc->measured_us + (start ? util_mono_us() - start : 0);
        bc->cmd->st.usec += dur;
        dispatch_observe_unblocked(bc->c, bc->cmd, dur);
    }
    bc->reply_client->out.len = 0;
    release_client(bc);
}

static long on_timeout(ev_loop *l, long long id, void *data)
{
    (void)l, (void)id;
    km_blocked *bc = data;
    bc->timer = 0;
    if (bc->c) {
        end_early(bc, NULL);
    }
    return -1;
}

/* CLIENT UNBLOCK of a client a module's thread holds: only one with a
 * timeout callback (as Redis: a command that cannot time out does not
 * expect to be ended early). */
static int unblock_early(client *c, const char *err)
{
    for (int i = 0; i < nblocked; i++) {
        km_blocked *bc = blocked[i];
        if (bc->c == c && !bc->on_keys && !bc->auth_entry) {
            if (!bc->timeout_cb) {
                return 0;
            }
            end_early(bc, err);
            return 1;
        }
    }
    return 0;
}

/* A client that goes away while blocked: the module hears of it through
 * its disconnect callback, and its bc lives on without the client. A
 * timeout or an unblock has let go of the client already: no call then. */
static void on_client_gone(client *c)
{
    for (int i = 0; i < nblocked; i++) {
        km_blocked *bc = blocked[i];
        if (bc->c != c || bc->on_keys) {
            continue; /* the block framework ends a wait on keys (keys_ended) */
        }
        if (bc->disconnect_cb) {
            km_ctx ctx;
            km_ctx_init(&ctx, bc->module, c);
            ctx.blocked_privdata = bc->privdata;
            bc->disconnect_cb(&ctx, bc);
            km_ctx_done(&ctx);
        }
        bc->c = NULL;
        c->flags &= ~(CLIENT_BLOCKED | CLIENT_AUTH_BLOCKED);
    }
}

static int wake_setup(void)
{
    if (wake_fd >= 0) {
        return 0;
    }
    wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd < 0 || ev_add(server.loop, wake_fd, EV_READABLE, on_wake, NULL) < 0) {
        log_msg(LOG_WARNING, "Modules cannot block clients: no eventfd (%s)", strerror(errno));
        return -1;
    }
    client_register_cleanup(on_client_gone);
    block_register_unblocker(unblock_early);
    return 0;
}

/* A new handle for ctx's client; NULL, with the error replied, where it
 * may not block (MULTI, a script): the handle then has no client. */
static km_blocked *new_blocked(km_ctx *ctx, km_cmd_fn reply_cb, km_cmd_fn timeout_cb, void (*free_cb)(km_ctx *, void *),
                               km_blocked **out)
{
    client *c = ctx->c;
    km_blocked *bc = alloc_zero(sizeof(*bc));
    bc->module = ctx->module;
    bc->reply_cb = reply_cb;
    bc->timeout_cb = timeout_cb;
    bc->free_privdata = free_cb;
    bc->reply_client = km_reply_client_new();
    wake_setup();
    if (nblocked == cap_blocked) {
        cap_blocked = cap_blocked ? cap_blocked * 2 : 8;
        blocked = alloc_resize(blocked, sizeof(*blocked) * (size_t)cap_blocked);
    }
    blocked[nblocked++] = bc;
    int deny = !c || c->fd < 0 || (c->flags & (CLIENT_MULTI | CLIENT_IN_EXEC | CLIENT_IN_SCRIPT)) || server.in_script;
    if (deny) {
        if (c) {
            reply_err(c, server.in_script || (c->flags & CLIENT_IN_SCRIPT)
                             ? "ERR Blocking module command called from Lua script"
                             : "ERR Blocking module command called from transaction");
        }
        *out = bc;
        return NULL;
    }
    bc->c = c;
    bc->cmd = c->cmd;
    client_select_db(bc->reply_client, c->db->id); /* its thread works in the client's db */
    bc->reply_client->resp = c->resp;
    bc->reply_client->out.resp = c->resp;
    *out = bc;
    return bc;
}

km_blocked *km_block_client(km_ctx *ctx, km_cmd_fn reply_cb, km_cmd_fn timeout_cb, void (*free_cb)(km_ctx *, void *),
                            long long timeout_ms)
{
    km_blocked *bc;
    if (!new_blocked(ctx, reply_cb, timeout_cb, free_cb, &bc)) {
        return bc;
    }
    bc->c->flags |= CLIENT_BLOCKED;
    client_own_argv(bc->c);
    if (timeout_ms > 0) {
        bc->timer = ev_timer_add(server.loop, (long)timeout_ms, on_timeout, bc);
    }
    return bc;
}

/* ---- clients blocked on keys: the block framework keeps them waiting,
 * in line with BLPOP's, and calls back here ---- */

/* As Redis, a key that does not exist serves no one. */
static int keys_serve(client *c, void *data, sv key)
{
    km_blocked *bc = data;
    if (!db_lookup(c->db, key, LOOKUP_NOTOUCH)) {
        return 0;
    }
    return run_callback(bc, bc->reply_cb, KCTX_BLOCKED_REPLY, &key) == KM_OK;
}

static void keys_timed_out(client *c, void *data)
{
    (void)c;
    km_blocked *bc = data;
    if (bc->timeout_cb) {
        run_callback(bc, bc->timeout_cb, KCTX_BLOCKED_TIMEOUT, NULL);
    } else {
        reply_null(R(bc->c));
    }
}

/* CLIENT UNBLOCK ends only a wait that has a timeout callback; the
 * module's UnblockClient any. */
static int keys_may_end_early(client *c, void *data)
{
    (void)c;
    km_blocked *bc = data;
    return bc->timeout_cb != NULL || bc->unblocked;
}

static void keys_ended(client *c, void *data, int why)
{
    km_blocked *bc = data;
    if (why == BLOCK_CLIENT_GONE && bc->disconnect_cb) {
        km_ctx ctx;
        km_ctx_init(&ctx, bc->module, c);
        ctx.blocked_privdata = bc->privdata;
        bc->disconnect_cb(&ctx, bc);
        km_ctx_done(&ctx);
    }
    if (why == BLOCK_CLIENT_GONE) {
        bc->c = NULL;
    }
    forget_blocked(bc);
    km_blocked_free_privdata(bc);
    km_blocked_free(bc);
}

static const block_handler keys_handler = {keys_serve, keys_timed_out, keys_may_end_early, keys_ended};

static int api_unblock_client(km_blocked *bc, void *privdata);

static km_blocked *api_block_client_on_keys(km_ctx *ctx, km_cmd_fn reply_cb, km_cmd_fn timeout_cb,
                                            void (*free_cb)(km_ctx *, void *), long long timeout_ms, km_string **keys,
                                            int numkeys, void *privdata)
{
    km_blocked *bc;
    int waits = new_blocked(ctx, reply_cb, timeout_cb, free_cb, &bc) != NULL;
    bc->on_keys = 1;
    bc->privdata = privdata;
    if (!waits) {
        /* Nothing will end a wait that never began: the handle goes as if
         * unblocked, its private data through the free callback (Redis
         * 7.0 keeps both for good). */
        api_unblock_client(bc, NULL);
        return bc;
    }
    sv *names = alloc_mem(sizeof(sv) * (size_t)(numkeys > 0 ? numkeys : 1));
    for (int i = 0; i < numkeys; i++) {
        names[i] = (sv){keys[i]->s, str_len(keys[i]->s)};
    }
    int64_t deadline = timeout_ms > 0 ? server_ms() + timeout_ms : 0;
    block_on_keys_handled(bc->c, names, numkeys, deadline, &keys_handler, bc);
    alloc_free(names);
    return bc;
}

static void api_signal_key_as_ready(km_ctx *ctx, km_string *key)
{
    if (ctx->c) {
        block_signal_key(ctx->c->db, (sv){key->s, str_len(key->s)});
    }
}

static km_string *api_get_blocked_client_ready_key(km_ctx *ctx)
{
    return ctx->ready_key;
}

static int api_blocked_client_measure_time_start(km_blocked *bc)
{
    bc->measure_start_us = util_mono_us();
    return KM_OK;
}

static int api_blocked_client_measure_time_end(km_blocked *bc)
{
    if (!bc->measure_start_us) {
        return KM_ERR;
    }
    bc->measured_us += util_mono_us() - bc->measure_start_us;
    bc->measure_start_us = 0;
    return KM_OK;
}

static int api_unblock_client(km_blocked *bc, void *privdata)
{
    if (!bc) {
        return KM_ERR;
    }
    pthread_mutex_lock(&queue_lock);
    if (!bc->on_keys) {
        bc->privdata = privdata; /* a wait on keys keeps the data it was given */
    }
    bc->next = NULL;
    if (queue_tail) {
        queue_tail->next = bc;
    } else {
        queue_head = bc;
    }
    queue_tail = bc;
    pthread_mutex_unlock(&queue_lock);
    km_wake_main();
    return KM_OK;
}

void km_wake_main(void)
{
    uint64_t one = 1;
    if (wake_fd >= 0 && write(wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
        log_msg(LOG_WARNING, "Modules: cannot wake the main thread (%s)", strerror(errno));
    }
}

static int api_abort_block(km_blocked *bc)
{
    if (!bc) {
        return KM_ERR;
    }
    bc->reply_cb = NULL;
    bc->auth_reply_cb = NULL; /* an aborted auth block is not handled: the next callback goes on */
    bc->disconnect_cb = NULL;
    return api_unblock_client(bc, NULL);
}

static int api_is_blocked_reply_request(km_ctx *ctx)
{
    return (ctx->flags & KCTX_BLOCKED_REPLY) != 0;
}

static int api_is_blocked_timeout_request(km_ctx *ctx)
{
    return (ctx->flags & KCTX_BLOCKED_TIMEOUT) != 0;
}

static void *api_get_blocked_client_private_data(km_ctx *ctx)
{
    return ctx->blocked ? ctx->blocked->privdata : ctx->blocked_privdata;
}

static km_blocked *api_get_blocked_client_handle(km_ctx *ctx)
{
    return ctx->blocked;
}

/* Only a free callback's context can say so, as in Redis. */
static int api_blocked_client_disconnected(km_ctx *ctx)
{
    return (ctx->flags & KCTX_BLOCKED_DISCONNECTED) != 0;
}

static void api_set_disconnect_callback(km_blocked *bc, void (*callback)(km_ctx *, km_blocked *))
{
    bc->disconnect_cb = callback;
}

/* ---- timers ---- */

typedef struct km_timer {
    km_timer_id id;
    long long ev_id;
    km_module *module;
    km_timer_fn fn;
    void *data;
    int64_t when_us; /* monotonic */
    int dbid;        /* the creator's db: the callback runs there */
} km_timer;

static client *timer_client;

static km_timer **timers;
static int ntimers;
static km_timer_id next_timer_id = 1;

static void timer_remove(int i)
{
    alloc_free(timers[i]);
    timers[i] = timers[--ntimers];
}

static long on_timer(ev_loop *l, long long ev_id, void *data)
{
    (void)l, (void)ev_id;
    km_timer_id id = (km_timer_id)(uintptr_t)data;
    for (int i = 0; i < ntimers; i++) {
        if (timers[i]->id == id) {
            km_timer t = *timers[i];
            timer_remove(i);
            if (!timer_client) {
                timer_client = km_reply_client_new();
            }
            client_select_db(timer_client, t.dbid < server.cfg.databases ? t.dbid : 0);
            km_ctx ctx;
            km_ctx_init(&ctx, t.module, timer_client);
            /* What the callback writes replicates as one unit. */
            int top = propagate_unit_open();
            t.fn(&ctx, t.data);
            propagate_unit_close(top);
            km_ctx_done(&ctx);
            timer_client->out.len = 0;
            break;
        }
    }
    return -1;
}

static km_timer_id api_create_timer(km_ctx *ctx, long long period, km_timer_fn fn, void *data)
{
    km_timer *t = alloc_zero(sizeof(*t));
    t->id = next_timer_id++;
    t->module = ctx->module;
    t->fn = fn;
    t->data = data;
    t->when_us = util_mono_us() + period * 1000;
    t->dbid = km_ctx_dbid(ctx);
    t->ev_id = ev_timer_add(server.loop, (long)(period > 0 ? period : 0), on_timer, (void *)(uintptr_t)t->id);
    timers = alloc_resize(timers, sizeof(*timers) * (size_t)(ntimers + 1));
    timers[ntimers++] = t;
    return t->id;
}

static int find_timer(km_ctx *ctx, km_timer_id id)
{
    for (int i = 0; i < ntimers; i++) {
        if (timers[i]->id == id && (!ctx || timers[i]->module == ctx->module)) {
            return i;
        }
    }
    return -1;
}

static int api_stop_timer(km_ctx *ctx, km_timer_id id, void **data)
{
    int i = find_timer(ctx, id);
    if (i < 0) {
        return KM_ERR;
    }
    if (data) {
        *data = timers[i]->data;
    }
    ev_timer_del(server.loop, timers[i]->ev_id);
    timer_remove(i);
    return KM_OK;
}

static int api_get_timer_info(km_ctx *ctx, km_timer_id id, uint64_t *remaining, void **data)
{
    int i = find_timer(ctx, id);
    if (i < 0) {
        return KM_ERR;
    }
    if (remaining) {
        /* whole milliseconds left, as Redis counts them (a 10 s timer
         * just made has 9999 left) */
        int64_t left = (timers[i]->when_us - util_mono_us()) / 1000;
        *remaining = left > 0 ? (uint64_t)left : 0;
    }
    if (data) {
        *data = timers[i]->data;
    }
    return KM_OK;
}

int km_has_blocked(const km_module *m)
{
    for (int i = 0; i < nblocked; i++) {
        if (blocked[i]->module == m) {
            return 1;
        }
    }
    return 0;
}

int km_has_timers(const km_module *m)
{
    for (int i = 0; i < ntimers; i++) {
        if (timers[i]->module == m) {
            return 1;
        }
    }
    return 0;
}

void km_timers_forget(km_module *m)
{
    for (int i = 0; i < ntimers;) {
        if (timers[i]->module == m) {
            ev_timer_del(server.loop, timers[i]->ev_id);
            timer_remove(i);
        } else {
            i++;
        }
    }
}

void km_thread_init(void)
{
    if (!gil_on) {
        main_thread = pthread_self();
        pthread_mutex_lock(&km_gil);
        gil_on = 1;
        wake_setup(); /* threads may wake the loop from now on */
    }
}

const km_api_entry km_api_thread[] = {{"GetThreadSafeContext", api_get_thread_safe_context},
                                      {"GetDetachedThreadSafeContext", api_get_detached_thread_safe_context},
                                      {"FreeThreadSafeContext", api_free_thread_safe_context},
                                      {"ThreadSafeContextLock", api_thread_safe_context_lock},
                                      {"ThreadSafeContextTryLock", api_thread_safe_context_try_lock},
                                      {"ThreadSafeContextUnlock", api_thread_safe_context_unlock},
                                      {"BlockClient", km_block_client},
                                      {"BlockClientOnKeys", api_block_client_on_keys},
                                      {"SignalKeyAsReady", api_signal_key_as_ready},
                                      {"GetBlockedClientReadyKey", api_get_blocked_client_ready_key},
                                      {"UnblockClient", api_unblock_client},
                                      {"BlockedClientMeasureTimeStart", api_blocked_client_measure_time_start},
                                      {"BlockedClientMeasureTimeEnd", api_blocked_client_measure_time_end},
                                      {"AbortBlock", api_abort_block},
                                      {"IsBlockedReplyRequest", api_is_blocked_reply_request},
                                      {"IsBlockedTimeoutRequest", api_is_blocked_timeout_request},
                                      {"GetBlockedClientPrivateData", api_get_blocked_client_private_data},
                                      {"GetBlockedClientHandle", api_get_blocked_client_handle},
                                      {"BlockedClientDisconnected", api_blocked_client_disconnected},
                                      {"SetDisconnectCallback", api_set_disconnect_callback},
                                      {"CreateTimer", api_create_timer},
                                      {"StopTimer", api_stop_timer},
                                      {"GetTimerInfo", api_get_timer_info},
                                      {NULL, NULL}};
