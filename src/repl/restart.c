/* restart: the replication history across a restart, as Redis keeps it.
 * An RDB records the history (aux fields repl-id, repl-offset and
 * repl-stream-db) whenever this server is in a replication chain. Loaded
 * at start-up, it lets a replica continue with a partial resync, and a
 * primary keep it as its secondary ID, so its replicas can: the DELs of
 * the keys that expired while it was down go into its backlog first. */
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "persist/rdb.h"
#include "repl/repl.h"

int repl_rdb_info(char id[41], long long *offset, int *stream_db)
{
    /* Without a backlog this server is in no chain: a replica that comes
     * would need a full sync anyway. */
    if (!repl.bl || !repl.replid[0]) {
        return 0;
    }
    memcpy(id, repl.replid, 41);
    *offset = repl.offset;
    *stream_db = repl.seldb < 0 ? 0 : repl.seldb;
    return 1;
}

/* The keys a restarting primary dropped as expired, as the DELs its
 * replicas must get; up to a backlog's worth (more could not be kept for
 * them, so the history is not continued then). */
static str dels;
static int dels_overflow;
static int dels_db = -1;

static void note_expired(int dbid, sv key)
{
    if (dels_overflow) {
        return;
    }
    sv argv[2] = {SV("DEL"), key};
    dels = resp_append_command_in_db(dels ? dels : str_empty(256), &dels_db, dbid, argv, 2);
    if (str_len(dels) > repl_backlog_bytes()) {
        dels_overflow = 1;
    }
}

void repl_restart_begin_load(void)
{
    int replica = server.cfg.replicaof && server.cfg.replicaof[0];
    rdb_expired_on_load = replica ? NULL : note_expired;
}

void repl_restart_end_load(int loaded)
{
    rdb_expired_on_load = NULL;
    char id[41];
    long long offset;
    int stream_db;
    int have = loaded && rdb_loaded_repl_info(id, &offset, &stream_db);
    if (have && server.cfg.replicaof && server.cfg.replicaof[0]) {
        /* Continue where the snapshot left the primary's stream. */
        memcpy(repl.replid, id, 41);
        repl.offset = offset;
        repl.seldb = stream_db;
        repl_reset_backlog();
        log_msg(LOG_NOTICE, "Restored the replication ID %s and offset %lld from the RDB: a partial resync can follow",
                id, offset);
    } else if (have && !dels_overflow) {
        /* Our old history is the one our replicas follow: keep it as the
         * secondary ID, continued from the same offset. */
        memcpy(repl.replid2, id, 41);
        repl.second_offset = offset + 1;
        repl.offset = offset;
        repl.seldb = -1;
        repl_reset_backlog();
        if (dels) {
            repl_feed_raw(dels, str_len(dels));
        }
        log_msg(LOG_NOTICE, "Restored the replication ID %s as the secondary ID, valid up to offset %lld", id,
                repl.second_offset);
    }
    str_free(dels);
    dels = NULL;
    dels_db = -1;
    dels_overflow = 0;
}
