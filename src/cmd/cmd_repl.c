/* Replication commands: REPLICAOF / SLAVEOF, ROLE, WAIT, and the ones
 * replicas send (REPLCONF, PSYNC, SYNC). The protocol is in src/repl/. */
#include <stdio.h>
#include <string.h>

#include "repl/repl.h"
#include "server/server.h"

void cmd_replicaof(client *c)
{
    if (arg_is(c, 1, "NO") && arg_is(c, 2, "ONE")) {
        repl_set_primary(NULL, 0);
        reply_ok(R(c));
        return;
    }
    long long port;
    if (!arg_ll_range(c, 2, 0, 65535, &port, "ERR Invalid master port")) {
        return;
    }
    char host[256];
    size_t n = c->argv[1].len < sizeof(host) - 1 ? c->argv[1].len : sizeof(host) - 1;
    memcpy(host, c->argv[1].ptr, n);
    host[n] = '\0';
    if (repl_primary_is(host, (int)port)) {
        reply_status(R(c), "OK Already connected to specified master");
        return;
    }
    repl_set_primary(host, (int)port);
    reply_ok(R(c));
}

void cmd_role(client *c)
{
    if (repl_is_replica()) {
        repl_role_replica(c);
        return;
    }
    reply_array(R(c), 3);
    reply_bulk_cstr(R(c), "master");
    reply_int(R(c), repl.offset);
    repl_role_replicas(c);
}

/* WAIT's and WAITAOF's timeout (ms, 0: for ever); 0 after replying. */
static int wait_timeout(client *c, int i, long long *timeout)
{
    if (!arg_ll_range(c, i, LLONG_MIN, LLONG_MAX, timeout, "ERR timeout is not an integer or out of range")) {
        return 0;
    }
    if (*timeout < 0) {
        reply_err(c, "ERR timeout is negative");
        return 0;
    }
    return 1;
}

void cmd_wait(client *c)
{
    if (repl_is_replica()) {
        reply_err(c, "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a "
                     "replica is configured to be writable (which is not the default) writes to replicas are just "
                     "local and are not propagated.");
        return;
    }
    long long numreplicas, timeout;
    if (!arg_ll(c, 1, &numreplicas)) {
        return;
    }
    if (!wait_timeout(c, 2, &timeout)) {
        return;
    }
    repl_wait(c, numreplicas, timeout);
}

/* WAITAOF numlocal numreplicas timeout (Redis 7.2) */
void cmd_waitaof(client *c)
{
    if (repl_is_replica()) {
        reply_err(c, "ERR WAITAOF cannot be used with replica instances. Please also note that writes to replicas "
                     "are just local and are not propagated.");
        return;
    }
    long long numlocal, numreplicas, timeout;
    if (!arg_ll(c, 1, &numlocal) || !arg_ll(c, 2, &numreplicas)) {
        return;
    }
    if (numlocal < 0 || numreplicas < 0) {
        reply_err(c, "ERR value is out of range, must be positive");
        return;
    }
    if (!wait_timeout(c, 3, &timeout)) {
        return;
    }
    if (numlocal && !server.cfg.appendonly) {
        reply_err(c, "ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.");
        return;
    }
    repl_waitaof(c, numlocal > 0, numreplicas, timeout);
}

void cmd_replconf(client *c)
{
    repl_replconf(c);
}

void cmd_psync(client *c)
{
    cmd_sync_impl(c, 1);
}

void cmd_sync(client *c)
{
    cmd_sync_impl(c, 0);
}
