/* repl: the replication history both roles share, the INFO section and the
 * hooks replication installs in the server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "repl/repl.h"
#include "server/pause.h"

repl_history repl = {.second_offset = -1, .seldb = -1};

void repl_primary_cron(void);
void repl_replica_cron(void);

void repl_new_id(void)
{
    unsigned char raw[20];
    util_os_random(raw, sizeof(raw));
    for (int i = 0; i < 20; i++) {
        snprintf(repl.replid + i * 2, 3, "%02x", raw[i]);
    }
}

void repl_shift_id(void)
{
    memcpy(repl.replid2, repl.replid, sizeof(repl.replid));
    /* The old history is valid up to the last byte we have. */
    repl.second_offset = repl.offset + 1;
    repl_new_id();
    log_msg(LOG_NOTICE, "Setting secondary replication ID to %s, valid up to offset: %lld. New replication ID is %s",
            repl.replid2, repl.second_offset, repl.replid);
}

/* Expired keys on a replica wait for the primary's DEL: hidden from
 * clients (1), alive for the master client (2), whose commands must find
 * what the primary sees. The AOF's replay sees keys alive too (2): the log
 * holds the DEL of every key that expired before a later write, so a key
 * it writes had not expired then, and keeps its TTL. */
static int keep_expired(void)
{
    if (server.loading) {
        return 2;
    }
    if (!repl_is_replica()) {
        /* Paused writes: nothing may change, not even by expiring. */
        return pause_writes_active() ? 1 : 0;
    }
    client *c = server.current_client;
    return c && (c->flags & CLIENT_MASTER) ? 2 : 1;
}

static void cleanup(client *c)
{
    if (c->flags & CLIENT_MASTER) {
        repl_master_lost(c);
    }
}

void repl_init(void)
{
    repl_new_id();
    memset(repl.replid2, '0', 40);
    repl.replid2[40] = '\0';
    repl_primary_init();
    client_register_cleanup(cleanup);
    db_hooks_installed.keep_expired = keep_expired;
}

void repl_start(void)
{
    /* replicaof in the configuration: "host port". */
    const char *cfg = server.cfg.replicaof;
    if (!cfg || !cfg[0]) {
        return;
    }
    char host[256];
    int port;
    if (sscanf(cfg, "%255s %d", host, &port) == 2) {
        repl_set_primary(host, port);
    }
}

void repl_cron(void)
{
    repl_primary_cron();
    repl_replica_cron();
}

str repl_info(str s)
{
    s = str_printf(s, "# Replication\r\nrole:%s\r\n", repl_is_replica() ? "slave" : "master");
    if (repl_is_replica()) {
        repl_replica_info(&s);
    }
    repl_primary_info(&s);
    const char *id2 = repl.replid2[0] ? repl.replid2 : "0000000000000000000000000000000000000000";
    s = str_printf(s,
                   "master_failover_state:%s\r\n"
                   "master_replid:%s\r\n"
                   "master_replid2:%s\r\n"
                   "master_repl_offset:%lld\r\n"
                   "second_repl_offset:%lld\r\n"
                   "repl_backlog_active:%d\r\n"
                   "repl_backlog_size:%zu\r\n"
                   "repl_backlog_first_byte_offset:%lld\r\n"
                   "repl_backlog_histlen:%zu\r\n",
                   repl_failover_state(), repl.replid, id2, repl.offset, repl.second_offset, repl.bl != NULL,
                   repl_backlog_bytes(), repl.bl ? backlog_first_offset(repl.bl) : 0LL,
                   repl.bl ? repl.bl->histlen : (size_t)0);
    return s;
}
