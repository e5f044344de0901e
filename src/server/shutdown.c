/* shutdown: waiting for replicas before the exit. See shutdown.h. */
#include "server/shutdown.h"

#include "base/alloc.h"
#include "base/log.h"
#include "repl/repl.h"
#include "server/pause.h"

#define SHUTDOWN_FAILED "ERR Errors trying to SHUTDOWN. Check logs."

static struct {
    int waiting;
    int flags;
    int64_t deadline_ms;
    client **clients; /* SHUTDOWN callers waiting with it */
    int nclients, cap;
} sd;

static int replicas_in_sync(int log_lagging)
{
    int total;
    int in_sync = repl_replicas_in_sync(&total, log_lagging);
    if (log_lagging && total > 0) {
        log_msg(LOG_NOTICE, "%d of %d replicas are in sync when shutting down.", in_sync, total);
    }
    return in_sync == total;
}

/* The callers get the error and their commands end. */
static void release_clients(const char *err)
{
    for (int i = 0; i < sd.nclients; i++) {
        client *c = sd.clients[i];
        c->flags &= ~CLIENT_BLOCKED;
        reply_err_to_blocked(c, c->cmd, err);
        client_resume(c);
    }
    sd.nclients = 0;
}

static void stop_waiting(void)
{
    sd.waiting = 0;
    server_shutting_down = 0;
    pause_end(PAUSE_BY_SHUTDOWN);
}

/* Saves and exits (server_shutdown), or reports the failure. */
static int finish(int flags)
{
    if (server_shutdown(flags) == 0) {
        return 0; /* not reached: it exits */
    }
    if (sd.waiting) {
        stop_waiting();
    }
    release_clients(SHUTDOWN_FAILED);
    return -1;
}

static void wait_with(client *c)
{
    if (!c) {
        return;
    }
    if (sd.nclients == sd.cap) {
        sd.cap = sd.cap ? sd.cap * 2 : 4;
        sd.clients = alloc_resize(sd.clients, sizeof(client *) * (size_t)sd.cap);
    }
    sd.clients[sd.nclients++] = c;
    c->flags |= CLIENT_BLOCKED;
}

int shutdown_begin(int flags, client *c)
{
    if (sd.waiting) {
        if (!(flags & SHUTDOWN_NOW)) {
            sd.flags |= flags & SHUTDOWN_FORCE;
            wait_with(c);
            return 1;
        }
        log_msg(LOG_NOTICE, "Shutdown without waiting for the replicas any longer.");
        stop_waiting();
        return finish(flags);
    }
    if ((flags & SHUTDOWN_NOW) || server.cfg.shutdown_timeout <= 0 || server.loading || replicas_in_sync(0)) {
        return finish(flags);
    }
    /* Writes stand still, so the offset the replicas must reach does too. */
    log_msg(LOG_NOTICE, "Waiting for replicas before shutting down.");
    sd.waiting = 1;
    server_shutting_down = 1;
    sd.flags = flags;
    sd.deadline_ms = server_ms() + (int64_t)server.cfg.shutdown_timeout * 1000;
    pause_start(PAUSE_BY_SHUTDOWN, 0, 0);
    repl_request_acks();
    wait_with(c);
    return 1;
}

int shutdown_abort(void)
{
    if (!sd.waiting && server.shutdown_asap) {
        /* A signal asked for it and the cron has not begun it yet. */
        server.shutdown_asap = 0;
        log_msg(LOG_WARNING, "Shutdown manually aborted.");
        return 0;
    }
    if (!sd.waiting) {
        return -1;
    }
    stop_waiting();
    release_clients(SHUTDOWN_FAILED);
    log_msg(LOG_WARNING, "Shutdown manually aborted.");
    return 0;
}

void shutdown_check(void)
{
    if (!sd.waiting) {
        return;
    }
    int timed_out = server_ms() >= sd.deadline_ms;
    if (!timed_out && !replicas_in_sync(0)) {
        return;
    }
    replicas_in_sync(1);
    finish(sd.flags);
}

str shutdown_info(str s)
{
    if (!sd.waiting) {
        return s;
    }
    int64_t left = sd.deadline_ms - server_ms();
    return str_printf(s, "shutdown_in_milliseconds:%lld\r\n", (long long)(left > 0 ? left : 0));
}

static void forget(client *c)
{
    for (int i = 0; i < sd.nclients; i++) {
        if (sd.clients[i] == c) {
            sd.clients[i] = sd.clients[--sd.nclients];
            return;
        }
    }
}

void shutdown_init(void)
{
    client_register_cleanup(forget);
}
