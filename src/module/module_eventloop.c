/* module_eventloop: a module's own hands on the event loop. EventLoopAdd
 * and EventLoopDel watch the module's file descriptors, EventLoopAddOneShot
 * runs a callback on the main thread at its next turn (from any thread),
 * and Yield lets the server serve events while a module command works for
 * long.
 *
 * Yield follows Redis: nothing happens until the command has run for
 * busy-reply-threshold; from then on each call (at most hz times a
 * second) serves events. The server is "busy" until the context that
 * yielded ends: commands wait (a pause holds them, the primary's stream
 * too) and run in order afterwards, except during a Yield with the
 * CLIENTS flag, where they are refused with -BUSY (unless allow-busy).
 * A module thread's Yield (under the lock) lets the main thread take a
 * turn of its loop instead of running the loop itself. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/util.h"
#include "module/module_int.h"
#include "server/pause.h"
#include "server/persistence.h"

/* ---- file descriptors ---- */

typedef struct {
    km_eventloop_fn rfn, wfn;
    void *data;
} watched_fd;

static watched_fd *watched; /* by fd */
static int nwatched;

static void on_fd_event(ev_loop *l, int fd, void *data, int mask)
{
    (void)l, (void)data;
    watched_fd *w = &watched[fd];
    km_eventloop_fn fn = mask & EV_READABLE ? w->rfn : w->wfn;
    if (fn) {
        fn(fd, w->data, mask);
    }
}

static int check_fd(int fd)
{
    if (fd < 0 || fd >= ev_setsize(server.loop)) {
        errno = ERANGE;
        return KM_ERR;
    }
    return KM_OK;
}

static int api_eventloop_add(int fd, int mask, km_eventloop_fn fn, void *data)
{
    if (check_fd(fd) != KM_OK) {
        return KM_ERR;
    }
    if (!fn || mask & ~(EV_READABLE | EV_WRITABLE)) {
        errno = EINVAL;
        return KM_ERR;
    }
    if (fd >= nwatched) {
        int n = fd + 1 > nwatched * 2 ? fd + 1 : nwatched * 2;
        watched = alloc_resize(watched, sizeof(*watched) * (size_t)n);
        memset(watched + nwatched, 0, sizeof(*watched) * (size_t)(n - nwatched));
        nwatched = n;
    }
    if (ev_add(server.loop, fd, mask, on_fd_event, NULL) < 0) {
        return KM_ERR;
    }
    watched_fd *w = &watched[fd];
    w->data = data;
    if (mask & EV_READABLE) {
        w->rfn = fn;
    }
    if (mask & EV_WRITABLE) {
        w->wfn = fn;
    }
    errno = 0;
    return KM_OK;
}

/* Deleting what was never added is no error, as in Redis. */
static int api_eventloop_del(int fd, int mask)
{
    if (check_fd(fd) != KM_OK) {
        return KM_ERR;
    }
    if (mask & ~(EV_READABLE | EV_WRITABLE)) {
        errno = EINVAL;
        return KM_ERR;
    }
    if (fd < nwatched) {
        ev_del(server.loop, fd, mask);
        if (mask & EV_READABLE) {
            watched[fd].rfn = NULL;
        }
        if (mask & EV_WRITABLE) {
            watched[fd].wfn = NULL;
        }
    }
    errno = 0;
    return KM_OK;
}

/* ---- one-shot callbacks ---- */

typedef struct oneshot {
    km_oneshot_fn fn;
    void *data;
    struct oneshot *next;
} oneshot;

static pthread_mutex_t oneshot_lock = PTHREAD_MUTEX_INITIALIZER;
static oneshot *oneshot_head, *oneshot_tail;

static int api_eventloop_add_oneshot(km_oneshot_fn fn, void *data)
{
    if (!fn) {
        errno = EINVAL;
        return KM_ERR;
    }
    oneshot *o = alloc_zero(sizeof(*o));
    o->fn = fn;
    o->data = data;
    pthread_mutex_lock(&oneshot_lock);
    if (oneshot_tail) {
        oneshot_tail->next = o;
    } else {
        oneshot_head = o;
    }
    oneshot_tail = o;
    pthread_mutex_unlock(&oneshot_lock);
    km_wake_main();
    errno = 0;
    return KM_OK;
}

void km_eventloop_run_oneshots(void)
{
    pthread_mutex_lock(&oneshot_lock);
    while (oneshot_head) {
        oneshot *o = oneshot_head;
        oneshot_head = o->next;
        if (!oneshot_head) {
            oneshot_tail = NULL;
        }
        /* Unlocked while it runs: the callback may add another. */
        pthread_mutex_unlock(&oneshot_lock);
        o->fn(o->data);
        alloc_free(o);
        pthread_mutex_lock(&oneshot_lock);
    }
    pthread_mutex_unlock(&oneshot_lock);
}

/* ---- Yield ---- */

static km_ctx *busy_ctx;        /* the context whose Yield made the server busy */
static client *busy_held;       /* its client, kept from reading meanwhile */
static const char *busy_reply;  /* the -BUSY text of the Yield under way */
static int yield_clients;       /* the Yield under way has the CLIENTS flag */
static long long release_timer; /* ends the pause at the loop's next turn */

static long release_paused(ev_loop *l, long long id, void *data)
{
    (void)l, (void)id, (void)data;
    release_timer = 0;
    if (!busy_ctx) {
        pause_end(PAUSE_BY_MODULE);
    }
    return -1;
}

void km_yield_ctx_done(km_ctx *ctx)
{
    if (ctx != busy_ctx) {
        return;
    }
    busy_ctx = NULL;
    if (busy_held) {
        client_hold(busy_held, 0);
        busy_held = NULL;
    }
    /* The held commands run from the loop, not inside this command. */
    if (!release_timer) {
        release_timer = ev_timer_add(server.loop, 0, release_paused, NULL);
    }
}

static int busy_gate(client *c, command *cmd)
{
    if (!busy_ctx || !yield_clients || c == busy_held || (cmd->flags & CMD_ALLOW_BUSY)) {
        return 0; /* outside a CLIENTS Yield the pause holds the command */
    }
    if (busy_reply) {
        char msg[256];
        snprintf(msg, sizeof(msg), "BUSY %s", busy_reply);
        command_refuse(c, cmd, msg);
    } else {
        command_refuse(c, cmd, "BUSY Redis is busy running a module command.");
    }
    return 1;
}

/* One cron tick: how often Yield serves events at most. */
static int64_t tick_us(void)
{
    return 1000000 / (server.cfg.hz > 0 ? server.cfg.hz : 10);
}

static void api_yield(km_ctx *ctx, int flags, const char *reply)
{
    static int nesting;
    static int64_t yield_at_without_ctx; /* an rdb_load callback's call */
    int64_t *at = ctx ? &ctx->yield_at_us : &yield_at_without_ctx;
    int64_t now = util_mono_us();
    if (nesting || now < *at) {
        return;
    }
    int64_t next = now + tick_us();
    nesting++;
    /* In a load (a module's rdb_load busy for long) clients are served
     * as the loader's progress serves them: -LOADING for most. */
    if (server.loading || server.async_loading || !ctx) {
        if (persistence_serve_while_loading()) {
            *at = next;
        }
        nesting--;
        return;
    }
    int main_thread = km_on_main_thread();
    if (!busy_ctx) {
        busy_ctx = ctx;
        pause_start(PAUSE_BY_MODULE, 0, 1);
        client *c = server.current_client;
        if (main_thread && c && c->fd >= 0 && !(c->flags & CLIENT_PROTECTED)) {
            busy_held = c;
            client_hold(c, 1);
        }
    }
    const char *prev_reply = busy_reply;
    int prev_clients = yield_clients;
    busy_reply = reply;
    yield_clients = (flags & KM_YIELD_FLAG_CLIENTS) != 0;
    pause_lift(PAUSE_BY_MODULE, yield_clients); /* the busy gate answers instead */
    if (main_thread) {
        client *saved = server.current_client;
        client_serve_events();
        server.current_client = saved;
    } else {
        /* A module thread holding the lock: the main thread, waiting for
         * it between its loop's wait and its events, gets a turn. */
        pthread_mutex_unlock(&km_gil);
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
        pthread_mutex_lock(&km_gil);
    }
    busy_reply = prev_reply;
    yield_clients = prev_clients;
    pause_lift(PAUSE_BY_MODULE, yield_clients);
    *at = next;
    nesting--;
}

void km_yield_ctx_init(km_ctx *ctx)
{
    int64_t wait_us = server.loading ? tick_us() : server.cfg.busy_reply_threshold * 1000;
    ctx->yield_at_us = util_mono_us() + wait_us;
}

void km_eventloop_init(void)
{
    dispatch_add_busy_gate(busy_gate);
}

const km_api_entry km_api_eventloop[] = {{"EventLoopAdd", api_eventloop_add},
                                         {"EventLoopDel", api_eventloop_del},
                                         {"EventLoopAddOneShot", api_eventloop_add_oneshot},
                                         {"Yield", api_yield},
                                         {NULL, NULL}};
