/* persistence: when snapshots are taken and loaded. The data loads from
 * dbfilename in dir at start-up; SAVE writes it; DEBUG RELOAD writes and
 * reads it back; SHUTDOWN (and SIGTERM) write it when save points are
 * configured, as Redis does. The file format is persist/rdb. */
#include <errno.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "persist/rdb.h"
#include "script/lua.h"
#include "server/persistence.h"

static int last_save_ok = 1;
static long long rdb_saves;

static const char *rdb_path(void)
{
    return server.cfg.dbfilename && server.cfg.dbfilename[0] ? server.cfg.dbfilename : "dump.rdb";
}

int persistence_save(void)
{
    char err[512];
    int64_t start = util_mono_us();
    if (rdb_save_file(rdb_path(), err, sizeof(err)) < 0) {
        log_msg(LOG_WARNING, "%s", err);
        last_save_ok = 0;
        return -1;
    }
    log_msg(LOG_NOTICE, "DB saved on disk (%.3f seconds)", (double)(util_mono_us() - start) / 1e6);
    server.dirty = 0;
    server.lastsave = server_ms() / 1000;
    last_save_ok = 1;
    rdb_saves++;
    return 0;
}

int persistence_load(void)
{
    char err[512];
    int64_t start = util_mono_us();
    int rc = rdb_load_file(rdb_path(), err, sizeof(err));
    if (rc < 0) {
        log_msg(LOG_WARNING, "Fatal error loading the DB (%s): %s. Exiting.", rdb_path(), err);
        return -1;
    }
    if (rc == 0) {
        long long keys = 0;
        for (int i = 0; i < server.cfg.databases; i++) {
            keys += (long long)db_size(&server.dbs[i]);
        }
        log_msg(LOG_NOTICE, "DB loaded from disk: %.3f seconds, %lld keys", (double)(util_mono_us() - start) / 1e6,
                keys);
    }
    return 0;
}

int persistence_save_points_set(void)
{
    const char *s = server.cfg.save;
    while (s && *s == ' ') {
        s++;
    }
    return s && *s;
}

/* Empties every database and the function libraries (DEBUG RELOAD). */
static void clear_all(void)
{
    for (int i = 0; i < server.cfg.databases; i++) {
        db_clear(&server.dbs[i]);
        server_key_written(&server.dbs[i], (sv){NULL, 0}, NULL);
    }
    script_functions_clear();
}

/* SAVE */
void cmd_save(client *c)
{
    if (persistence_save() < 0) {
        reply_err(c, "ERR");
        return;
    }
    reply_ok(R(c));
}

void cmd_lastsave(client *c)
{
    reply_int(R(c), (long long)server.lastsave);
}

/* DEBUG RELOAD [NOSAVE]: save (unless NOSAVE), empty, load. */
void persistence_debug_reload(client *c)
{
    int save = 1;
    for (int i = 2; i < c->argc; i++) {
        if (arg_is(c, i, "NOSAVE")) {
            save = 0;
        } else if (!arg_is(c, i, "MERGE") && !arg_is(c, i, "NOFLUSH")) {
            reply_syntax_error(c);
            return;
        }
    }
    if (save && persistence_save() < 0) {
        reply_err(c, "ERR Error trying to save the DB");
        return;
    }
    clear_all();
    if (persistence_load() < 0) {
        reply_err(c, "ERR Error trying to load the RDB dump, check server logs.");
        return;
    }
    reply_ok(R(c));
}

str persistence_info(str s)
{
    return str_printf(s,
                      "# Persistence\r\n"
                      "loading:0\r\n"
                      "async_loading:0\r\n"
                      "current_cow_peak:0\r\n"
                      "current_cow_size:0\r\n"
                      "current_cow_size_age:0\r\n"
                      "current_fork_perc:0.00\r\n"
                      "current_save_keys_processed:0\r\n"
                      "current_save_keys_total:0\r\n"
                      "rdb_changes_since_last_save:%lld\r\n"
                      "rdb_bgsave_in_progress:0\r\n"
                      "rdb_last_save_time:%lld\r\n"
                      "rdb_last_bgsave_status:%s\r\n"
                      "rdb_last_bgsave_time_sec:-1\r\n"
                      "rdb_current_bgsave_time_sec:-1\r\n"
                      "rdb_saves:%lld\r\n"
                      "rdb_last_cow_size:0\r\n"
                      "aof_enabled:%d\r\n"
                      "aof_rewrite_in_progress:0\r\n"
                      "aof_rewrite_scheduled:0\r\n"
                      "aof_last_rewrite_time_sec:-1\r\n"
                      "aof_current_rewrite_time_sec:-1\r\n"
                      "aof_last_bgrewrite_status:ok\r\n"
                      "aof_rewrites:0\r\n"
                      "aof_rewrites_consecutive_failures:0\r\n"
                      "aof_last_write_status:ok\r\n"
                      "aof_last_cow_size:0\r\n"
                      "module_fork_in_progress:0\r\n"
                      "module_fork_last_cow_size:0\r\n",
                      server.dirty, (long long)server.lastsave, last_save_ok ? "ok" : "err", rdb_saves,
                      server.cfg.appendonly);
}
