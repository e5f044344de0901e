/* failover: FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms], Redis 7's
 * coordinated switch. Writes pause; once a replica has acknowledged every
 * byte of the stream (or the timeout passes with FORCE), this server becomes
 * that replica's replica with "PSYNC <id> <offset> FAILOVER", which tells
 * the replica to promote itself first, so the history continues without a
 * full sync. Any failure on the way returns the server to being a primary. */
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "repl/repl.h"
#include "server/pause.h"

enum { FO_NONE, FO_WAIT_SYNC, FO_IN_PROGRESS };

static struct {
    int state;
    char host[256]; /* the chosen target ("" until chosen without TO) */
    int port;
    int64_t deadline_ms; /* 0: none */
    int force;
} fo;

const char *repl_failover_state(void)
{
    return fo.state == FO_WAIT_SYNC     ? "waiting-for-sync"
           : fo.state == FO_IN_PROGRESS ? "failover-in-progress"
                                        : "no-failover";
}

static void finish(void)
{
    fo.state = FO_NONE;
    fo.host[0] = '\0';
    pause_end(PAUSE_BY_FAILOVER);
}

static void abort_failover(const char *why)
{
    if (fo.state == FO_NONE) {
        return;
    }
    log_msg(LOG_NOTICE, "FAILOVER to %s:%d aborted: %s", fo.host[0] ? fo.host : "any", fo.port, why);
    if (fo.state == FO_IN_PROGRESS) {
        repl_set_primary(NULL, 0);
    }
    finish();
}

void repl_failover_psync_result(int ok)
{
    if (fo.state != FO_IN_PROGRESS) {
        return;
    }
    if (ok) {
        log_msg(LOG_NOTICE, "Failover target %s:%d is now the primary", fo.host, fo.port);
        finish();
    } else {
        abort_failover("Failover target rejected psync request");
    }
}

int repl_failover_in_progress(void)
{
    return fo.state == FO_IN_PROGRESS;
}

static void switch_to(const char *host, int port)
{
    if (host != fo.host) {
        snprintf(fo.host, sizeof(fo.host), "%s", host);
    }
    fo.port = port;
    fo.state = FO_IN_PROGRESS;
    log_msg(LOG_NOTICE, "FAILOVER: switching to %s:%d", host, port);
    repl_set_primary_failover(host, port);
}

/* Runs on every ack and from cron. */
void repl_failover_check(void)
{
    if (fo.state != FO_WAIT_SYNC) {
        if (fo.state == FO_IN_PROGRESS && fo.deadline_ms && server_ms() > fo.deadline_ms + 10000) {
            abort_failover("the target did not answer");
        }
        return;
    }
    char host[256];
    int port;
    if (repl_replica_caught_up(fo.host[0] ? fo.host : NULL, fo.port, host, sizeof(host), &port)) {
        switch_to(host, port);
        return;
    }
    if (fo.deadline_ms && server_ms() >= fo.deadline_ms) {
        if (fo.force && fo.host[0]) {
            log_msg(LOG_NOTICE, "FAILOVER to %s:%d: time out exceeded, failing over.", fo.host, fo.port);
            switch_to(fo.host, fo.port);
        } else {
            abort_failover("Replica never caught up before timeout");
        }
    }
}

void cmd_failover(client *c)
{
    char host[256] = "";
    long long port = 0, timeout = 0;
    int force = 0, abort_it = 0, has_timeout = 0;
    for (int i = 1; i < c->argc; i++) {
        if (arg_is(c, i, "TO") && i + 2 < c->argc && !host[0]) {
            size_t n = c->argv[i + 1].len < sizeof(host) - 1 ? c->argv[i + 1].len : sizeof(host) - 1;
            memcpy(host, c->argv[i + 1].ptr, n);
            host[n] = '\0';
            if (!arg_ll(c, i + 2, &port)) {
                return;
            }
            i += 2;
        } else if (arg_is(c, i, "TIMEOUT") && i + 1 < c->argc && !has_timeout) {
            if (!arg_ll(c, i + 1, &timeout)) {
                return;
            }
            if (timeout <= 0) {
                reply_err(c, "ERR FAILOVER timeout must be greater than 0");
                return;
            }
            has_timeout = 1;
            i++;
        } else if (arg_is(c, i, "FORCE") && !force) {
            force = 1;
        } else if (arg_is(c, i, "ABORT") && !abort_it) {
            abort_it = 1;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    if (abort_it) {
        if (c->argc != 2) {
            reply_syntax_error(c);
            return;
        }
        if (fo.state == FO_NONE) {
            reply_err(c, "ERR No failover in progress.");
            return;
        }
        abort_failover("Failover manually aborted");
        reply_ok(R(c));
        return;
    }
    if (repl_is_replica()) {
        reply_err(c, "ERR FAILOVER is not valid when server is a replica.");
        return;
    }
    if (repl_replica_count() == 0) {
        reply_err(c, "ERR FAILOVER requires connected replicas.");
        return;
    }
    if (force && (!has_timeout || !host[0])) {
        reply_err(c, "ERR FAILOVER with force option requires both a timeout and target HOST and IP.");
        return;
    }
    if (fo.state != FO_NONE) {
        reply_err(c, "ERR FAILOVER already in progress.");
        return;
    }
    if (host[0]) {
        int online;
        if (!repl_find_replica(host, (int)port, &online)) {
            reply_err(c, "ERR FAILOVER target HOST and PORT is not a replica.");
            return;
        }
        if (!online) {
            reply_err(c, "ERR FAILOVER target replica is not online.");
            return;
        }
    }
    snprintf(fo.host, sizeof(fo.host), "%s", host);
    fo.port = (int)port;
    fo.force = force;
    fo.deadline_ms = has_timeout ? server_ms() + timeout : 0;
    fo.state = FO_WAIT_SYNC;
    log_msg(LOG_NOTICE, "FAILOVER requested to %s:%lld.", host[0] ? host : "any", port);
    pause_start(PAUSE_BY_FAILOVER, 0, 0);
    repl_request_acks();
    reply_ok(R(c));
}
