/* free_wait: the waiting clients and their tickets, released when the
 * lazyfree thread's eventfd says a table job ended. */
#include "server/free_wait.h"

#include "base/alloc.h"
#include "db/lazyfree.h"
#include "proto/reply.h"

typedef struct waiter {
    client *c;
    uint64_t ticket;
} waiter;

static waiter *waiters;
static int nwaiters, cap_waiters, listening;

static void finish(int i)
{
    client *c = waiters[i].c;
    waiters[i] = waiters[--nwaiters];
    c->flags &= ~CLIENT_BLOCKED;
    reply_ok(R(c));
    client_resume(c);
}

static void on_signal(ev_loop *l, int fd, void *data, int mask)
{
    (void)l, (void)fd, (void)data, (void)mask;
    lazyfree_drain_signal();
    for (int i = 0; i < nwaiters;) {
        if (lazyfree_done(waiters[i].ticket)) {
            finish(i);
        } else {
            i++;
        }
    }
}

static void forget(client *c)
{
    for (int i = 0; i < nwaiters; i++) {
        if (waiters[i].c == c) {
            waiters[i] = waiters[--nwaiters];
            return;
        }
    }
}

void free_wait_reply_ok(client *c, uint64_t ticket)
{
    int may_wait = c->fd >= 0 && !(c->flags & (CLIENT_MULTI | CLIENT_IN_EXEC | CLIENT_IN_SCRIPT | CLIENT_MASTER)) &&
                   !server.in_script;
    if (!may_wait || lazyfree_done(ticket) || lazyfree_signal_fd() < 0) {
        reply_ok(R(c));
        return;
    }
    if (!listening) {
        if (ev_add(server.loop, lazyfree_signal_fd(), EV_READABLE, on_signal, NULL) < 0) {
            reply_ok(R(c));
            return;
        }
        client_register_cleanup(forget);
        listening = 1;
    }
    if (nwaiters == cap_waiters) {
        cap_waiters = cap_waiters ? cap_waiters * 2 : 4;
        waiters = alloc_resize(waiters, sizeof(waiter) * (size_t)cap_waiters);
    }
    waiters[nwaiters++] = (waiter){c, ticket};
    c->flags |= CLIENT_BLOCKED;
}
