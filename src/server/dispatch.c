/* dispatch: every command passes here. Lookup in the table, then the gates
 * in a fixed order (arity, auth, subscribed context, MULTI queueing,
 * memory), then the call with its statistics and propagation. Gates read
 * the table's flags; no handler re-implements one. */
#include <stdio.h>
#include <string.h>

#include "acl/acl.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "repl/repl.h"
#include "script/lua.h"
#include "server/block.h"
#include "server/hotkeys.h"
#include "server/latency.h"
#include "server/monitor.h"
#include "server/pause.h"
#include "server/persistence.h"
#include "server/server.h"
#include "server/slowlog.h"

int (*gate_multi)(client *c, command *cmd);
void (*dispatch_after_call)(client *c, command *cmd, int top);
void (*dispatch_before_command)(void);
/* Who refuses commands while something runs for long: a script, a
 * module command that yields. */
#define MAX_BUSY_GATES 2
static int (*busy_gates[MAX_BUSY_GATES])(client *c, command *cmd);
static int nbusy_gates;

void dispatch_add_busy_gate(int (*fn)(client *c, command *cmd))
{
    if (nbusy_gates < MAX_BUSY_GATES) {
        busy_gates[nbusy_gates++] = fn;
    }
}

static int busy_gate(client *c, command *cmd)
{
    for (int i = 0; i < nbusy_gates; i++) {
        if (busy_gates[i](c, cmd)) {
            return 1;
        }
    }
    return 0;
}
/* total_error_replies when the last command started or ended: the
 * errors past it are the running command's own. */
static long long errors_seen;
/* The running command replied an error counted where it arose. */
static int error_passed_on;

void reply_err_counted(client *c, const char *msg)
{
    error_passed_on = 1;
    c->errors_replied++;
    reply_error(R(c), msg);
}

void stats_count_rejected(command *cmd)
{
    if (cmd) {
        cmd->st.rejected_calls++;
    }
    errors_seen = server.stats.total_error_replies;
}

void reply_err_to_blocked(client *c, command *cmd, const char *msg)
{
    long long before = server.stats.total_error_replies;
    reply_err(c, msg);
    errors_seen += server.stats.total_error_replies - before;
    if (cmd) {
        cmd->st.failed_calls++;
    }
}

void command_refuse(client *c, command *cmd, const char *err)
{
    if (cmd->fn == cmd_exec && (c->flags & CLIENT_MULTI)) {
        multi_abort_exec(c, err);
    } else {
        reply_err(c, err);
        if (c->flags & CLIENT_MULTI) {
            c->flags |= CLIENT_DIRTY_EXEC;
        }
    }
    cmd->st.rejected_calls++;
}

/* A container's name in capitals, as Redis's "Try X HELP" says it. */
static void container_upper(sv container, char name[64])
{
    size_t n = container.len < 63 ? container.len : 63;
    for (size_t i = 0; i < n; i++) {
        char ch = container.ptr[i];
        name[i] = (char)(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
    }
    name[n] = '\0';
}

str command_unknown_error(const sv *argv, int argc, int subcommand)
{
    if (subcommand) {
        char name[64];
        container_upper(argv[0], name);
        return str_printf(str_empty(64), "ERR unknown subcommand '%.*s'. Try %s HELP.",
                          (int)(argv[1].len < 128 ? argv[1].len : 128), argv[1].ptr, name);
    }
    /* As Redis: the quoted arguments together show at most ~128 bytes. */
    str args = str_empty(128);
    for (int i = 1; i < argc && str_len(args) < 128; i++) {
        size_t room = 128 - str_len(args);
        args = str_printf(args, "'%.*s' ", (int)(argv[i].len < room ? argv[i].len : room), argv[i].ptr);
    }
    str e = str_printf(str_empty(64), "ERR unknown command '%.*s', with args beginning with: %s",
                       (int)(argv[0].len < 128 ? argv[0].len : 128), argv[0].ptr, args);
    str_free(args);
    return e;
}

static void reply_unknown(client *c)
{
    str e = command_unknown_error(c->argv, c->argc, 0);
    reply_err(c, e);
    str_free(e);
}

void reply_help(client *c, const char *const *lines)
{
    long long n = 0;
    while (lines[n]) {
        n++;
    }
    reply_array(R(c), n);
    for (long long i = 0; i < n; i++) {
        const char *rest = i == 0 ? strstr(lines[0], " <subcommand>") : NULL;
        if (rest && c->argc > 0) {
            /* "CONFIG <subcommand> ...": the container as the client named
             * it (rename-command), upper-cased as Redis does. */
            str line = str_empty(128);
            for (size_t k = 0; k < c->argv[0].len && k < 64; k++) {
                char ch = c->argv[0].ptr[k];
                line = str_printf(line, "%c", ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
            }
            line = str_append_cstr(line, rest);
            reply_status_len(R(c), line, str_len(line));
            str_free(line);
        } else {
            reply_status(R(c), lines[i]);
        }
    }
}

void reply_subcommand_unknown(client *c)
{
    str e = command_unknown_error(c->argv, c->argc, 1);
    reply_err(c, e);
    str_free(e);
}

void reply_subcommand_syntax_error(client *c)
{
    char name[64];
    container_upper(c->argv[0], name);
    reply_errf(c, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try %s HELP.",
               (int)(c->argv[1].len < 128 ? c->argv[1].len : 128), c->argv[1].ptr, name);
}

/* A command's gates in Redis's order (a script's write is judged by
 * server_write_refusal, in the order Redis gives scripts): OOM, MISCONF,
 * NOREPLICAS, READONLY. MISCONF refuses PING too, as in Redis, so Sentinel
 * takes a primary that cannot persist for down. */
static const char *server_refusal(client *c, command *cmd, uint32_t flags)
{
    const char *e = (flags & CMD_WRITE) || cmd->fn == cmd_ping ? persistence_refuses_writes() : NULL;
    if (c->flags & CLIENT_MASTER) {
        /* The primary's writes are applied whatever our state, but, as in
         * Redis 7.0, a replica that cannot persist them stops rather than
         * drift from its files, unless replica-ignore-disk-write-errors. */
        if (e && cmd->fn != cmd_ping && !server.cfg.replica_ignore_disk_errors) {
            PANIC("Replica was unable to write command to disk.");
        }
        if (e) {
            static int64_t logged_ms;
            if (server.now_ms - logged_ms > 10000) {
                logged_ms = server.now_ms;
                log_msg(LOG_WARNING, "Replica is applying a command even though it is unable to write to disk.");
            }
        }
        return NULL;
    }
    if (server_refuses_for_memory(flags)) {
        return OOM_ERROR;
    }
    if (e || !(flags & CMD_WRITE)) {
        return e;
    }
    return repl_refuses_writes(); /* READONLY comes after, from replica_refusal */
}

const char *server_write_refusal(client *c, int ro)
{
    int obey = c && (c->flags & CLIENT_MASTER); /* the primary's writes are not ours to refuse */
    if (!obey && repl_is_replica() && server.cfg.replica_read_only) {
        return READONLY_ERROR;
    }
    const char *e = obey ? NULL : persistence_refuses_writes();
    if (e) {
        return e;
    }
    if (ro) {
        return "ERR Can not execute a script with write flag using *_ro command.";
    }
    return obey ? NULL : repl_refuses_writes();
}

int server_stale_for(const client *c)
{
    return !(c && (c->flags & CLIENT_MASTER)) && repl_is_replica() && !repl_link_up() &&
           !server.cfg.replica_serve_stale_data;
}

/* Replication's gates, checked before MULTI queues a command (Redis's
 * order): writes on a read-only replica, and everything but CMD_STALE
 * commands while the link is down with replica-serve-stale-data no. */
static const char *replica_refusal(client *c, uint32_t flags)
{
    if (!repl_is_replica() || (c->flags & CLIENT_MASTER)) {
        return NULL;
    }
    if ((flags & CMD_WRITE) && server.cfg.replica_read_only) {
        return READONLY_ERROR;
    }
    if (server_stale_for(c) && !(flags & CMD_STALE)) {
        return MASTERDOWN_ERROR;
    }
    return NULL;
}

int subcommand_pick(client *c, const char *const *names, int n, const char *const *help)
{
    if (help && arg_is(c, 1, "HELP")) {
        reply_help(c, help);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (arg_is(c, 1, names[i])) {
            return i;
        }
    }
    reply_subcommand_unknown(c); /* not reached: only SUB names get here */
    return -1;
}

static int arity_ok(const command *cmd, int argc)
{
    return cmd->arity > 0 ? argc == cmd->arity : argc >= -cmd->arity;
}

int command_runs_script(const command *cmd)
{
    return cmd->fn == cmd_eval || cmd->fn == cmd_evalsha || cmd->fn == cmd_eval_ro || cmd->fn == cmd_evalsha_ro ||
           cmd->fn == cmd_fcall || cmd->fn == cmd_fcall_ro;
}

/* Scripts show in MONITOR before the commands they run, as in Redis;
 * everything else once it has run (so EXEC follows its commands). */
static int monitor_first(const command *cmd)
{
    return command_runs_script(cmd);
}

/* Whether MONITOR shows a call: not admin commands, not AOF loading, not
 * a blocked command run again when it is served. Scripts are flagged
 * skip_monitor, as in Redis, because they are shown before they run. */
static int monitor_shows(const client *c, const command *cmd, int rerun)
{
    return monitor_count > 0 && !rerun && !(cmd->flags & CMD_ADMIN) &&
           (!(cmd->flags & CMD_SKIP_MONITOR) || monitor_first(cmd)) &&
           (!(c->flags & CLIENT_FAKE) || (c->flags & CLIENT_IN_SCRIPT));
}

/* After a call: the slow log, the latency monitor, the histogram. A call
 * that blocked is not logged (it has not run yet); it is when it is
 * served, as it was sent, as in Redis. */
static void observe_ended(client *c, command *cmd, int64_t dur);

static void observe(client *c, command *cmd, cmd_stats *st, int64_t dur)
{
    int waits = (c->flags & CLIENT_BLOCKED) && !block_rerun_served(c);
    /* A module command its thread holds is timed when the thread is done
     * (dispatch_observe_unblocked), as Redis times it. */
    if (st && !(waits && (cmd->flags & CMD_MODULE) && !c->bstate)) {
        latency_track(st, dur);
    }
    if (waits) {
        return;
    }
    observe_ended(c, cmd, dur);
}

void dispatch_observe_unblocked(client *c, command *cmd, int64_t dur)
{
    latency_track(&cmd->st, dur);
    observe_ended(c, cmd, dur);
}

/* SLOWLOG and the latency monitor's command events. */
static void observe_ended(client *c, command *cmd, int64_t dur)
{
    if (slowlog_wants(dur) && !(cmd->flags & CMD_SKIP_SLOWLOG) &&
        !((c->flags & CLIENT_FAKE) && !(c->flags & CLIENT_IN_SCRIPT))) {
        int argc;
        sv *argv = client_sent_argv(c, &argc);
        sv tmp[8];
        sv *red = argc <= 8 ? tmp : alloc_mem(sizeof(sv) * (size_t)argc);
        slowlog_record(c, monitor_redact(c, argv, argc, red), argc, dur);
        if (red != tmp) {
            alloc_free(red);
        }
    }
    if (dur >= 1000) {
        latency_add((cmd->flags & CMD_FAST) ? "fast-command" : "command", dur / 1000);
    }
}

/* dispatch's clock reading, for the one call it makes next: the reading
 * that refreshed the cached time also starts the command's duration. */
static int64_t given_start_us;

/* The clock reading that ended the last call. Within one client's
 * pipeline the next command starts from it, so a pipelined command costs
 * one reading instead of two; only its parse lies between the two. It is
 * used once, and only while the pipeline is open: never across a wait. */
static int64_t last_end_us;
static int64_t chained_us;
static int pipeline_open;

void dispatch_pipeline_open(void)
{
    pipeline_open = 1;
    chained_us = 0;
}

void dispatch_pipeline_close(void)
{
    pipeline_open = 0;
    chained_us = 0;
}

/* Runs a command that passed the gates: time, stats, propagation. */
void dispatch_call(client *c, command *cmd)
{
    int64_t start = given_start_us ? given_start_us : util_mono_us();
    given_start_us = 0;
    int64_t outer_start = server.cmd_start_us;
    server.cmd_start_us = start;
    int rerun = (c->flags & CLIENT_BLOCKED) != 0;
    int served_later = block_is_rerun(c); /* a command blocked on keys, run again */
    int show = monitor_shows(c, cmd, rerun);
    if (show && monitor_first(cmd)) {
        monitor_feed(c, c->argv, c->argc);
        show = 0;
    }
    long long dirty = server.dirty;
    errors_seen = server.stats.total_error_replies;
    int top = server.propagate_depth == 0;
    if (top) {
        propagate_begin();
    }
    server.propagate_depth++;
    c->cmd = cmd; /* c->lastcmd was set at look-up: EXEC's commands leave it EXEC */
    size_t out_before = c->out.len;
    cmd->fn(c);
    last_end_us = util_mono_us();
    int64_t dur = last_end_us - start;
    if (hotkeys_on && !(c->flags & CLIENT_BLOCKED)) {
        hotkeys_record(c, cmd, dur, c->out.len > out_before ? c->out.len - out_before : 0, top);
    }
    server.cmd_start_us = outer_start;
    cmd_stats *st = &cmd->st;
    /* An AUTH or HELLO a module's auth callback blocked is counted when it
     * ends (run again then), and not at all if the client goes first, as
     * in Redis 7.2. */
    int counted = (c->flags & (CLIENT_BLOCKED | CLIENT_AUTH_BLOCKED)) != (CLIENT_BLOCKED | CLIENT_AUTH_BLOCKED);
    if (counted) {
        /* A blocked command served later is one call, as in Redis: its
         * re-run adds only its time and whether it failed. */
        if (!served_later) {
            st->calls++;
            server.stats.numcommands++;
        }
        st->usec += dur;
        /* Failed: an error counted since the last command (nested ones
         * too) ended, or one passed on uncounted. So EXEC or a script is
         * failed for its own error, not for one a command inside it
         * replied, as in Redis. */
        if (server.stats.total_error_replies > errors_seen || error_passed_on) {
            st->failed_calls++;
        }
    }
    errors_seen = server.stats.total_error_replies;
    error_passed_on = 0;
    observe(c, cmd, counted ? st : NULL, dur);
    if (show) {
        /* As sent, not as rewritten for the replicas (XADD's ID). */
        int argc;
        sv *argv = client_sent_argv(c, &argc);
        monitor_feed(c, argv, argc);
    }
    client_forget_original(c);
    if (server.dirty > dirty && (cmd->flags & CMD_WRITE)) {
        if (!c->propagate_as_is) {
            propagate_cmd_for(c, c->argv, c->argc);
        }
        /* A writable replica's own write: its TTLs are ours to expire. */
        if (!(c->flags & CLIENT_MASTER) && repl_is_replica()) {
            repl_track_expires(c, cmd);
        }
    }
    c->propagate_as_is = 0;
    server.propagate_depth--;
    if (top) {
        propagate_end();
    }
    if (dispatch_after_call) {
        dispatch_after_call(c, cmd, top);
    }
}

void (*dispatch_filter)(client *c);

static void dispatch_gated(client *c);

void dispatch(client *c)
{
    size_t out_before = c->out.len;
    int was_replica = (c->flags & CLIENT_REPLICA) != 0;
    dispatch_gated(c);
    if (was_replica && c->out.len > out_before) {
        /* A replica's connection carries the replication stream: a reply
         * (an error too) would land among its bytes. A replica that sends
         * a command that replies is dropped instead, as in Redis. */
        c->out.len = out_before;
        str info = str_empty(256);
        client_info_line(c, &info);
        log_msg(LOG_WARNING, "Replica generated a reply to command '%s', disconnecting it: %s",
                c->lastcmd ? c->lastcmd->name : "<unknown>", info);
        str_free(info);
        client_close_async(c);
    }
}

/* Looks the command up and runs it if every gate lets it through. */
static void dispatch_gated(client *c)
{
    int64_t start = 0;
    if (!(c->flags & CLIENT_IN_EXEC)) {
        if (pipeline_open && chained_us) {
            server_set_time(chained_us);
        } else {
            server_update_time();
        }
        chained_us = 0;
        db_set_time(server.now_ms);
        start = server.now_mono_us;
    }
    /* Modules' command filters see what clients and primaries send (not
     * the AOF replay, as in Redis). */
    if (dispatch_filter && !(c->flags & CLIENT_FAKE)) {
        dispatch_filter(c);
        if (c->argc == 0) {
            reply_err(c, "ERR unknown command '', with args beginning with: ");
            return;
        }
    }
    command *cmd = cmd_lookup(c->argv[0].ptr, c->argv[0].len);
    if (!cmd && (c->flags & CLIENT_MASTER)) {
        /* The primary's stream holds commands by their internal names
         * (DEL of an expired key...) whatever rename-command says here. */
        cmd = cmd_lookup_original(c->argv[0].ptr, c->argv[0].len);
    }
    /* CLIENT LIST's cmd= and ACL LOG's client info name the command from
     * the moment it is looked up, refused or not, as in Redis. */
    c->lastcmd = cmd;
    if (!cmd) {
        reply_unknown(c);
        if (c->flags & CLIENT_MULTI) {
            c->flags |= CLIENT_DIRTY_EXEC;
        }
        return;
    }
    if (!arity_ok(cmd, c->argc)) {
        /* Named as the table names it, so a renamed command's error
         * still says what it is (as Redis). */
        reply_errf(c, "ERR wrong number of arguments for '%s' command", cmd->name);
        cmd->st.rejected_calls++;
        if (c->flags & CLIENT_MULTI) {
            c->flags |= CLIENT_DIRTY_EXEC;
        }
        return;
    }
    /* A container runs the subcommand argv[1] names: from here on its
     * arity, flags and counters are the ones that count, as in Redis 7. */
    if (cmd->nsubs && c->argc >= 2) {
        command *sub = cmd_lookup_sub(cmd, c->argv[1].ptr, c->argv[1].len);
        c->lastcmd = sub;
        if (!sub || !arity_ok(sub, c->argc)) {
            if (sub) {
                reply_errf(c, "ERR wrong number of arguments for '%s' command", sub->name);
                sub->st.rejected_calls++;
            } else {
                reply_subcommand_unknown(c);
            }
            if (c->flags & CLIENT_MULTI) {
                c->flags |= CLIENT_DIRTY_EXEC;
            }
            return;
        }
        cmd = sub;
    }
    if (!c->authenticated && !(cmd->flags & CMD_NO_AUTH)) {
        reply_err(c, "NOAUTH Authentication required.");
        cmd->st.rejected_calls++;
        return;
    }
    /* ACL: before MULTI queues the command, as in Redis (a denied command
     * inside MULTI aborts the EXEC). The default user with every
     * permission passes on one flag. */
    if (c->user && !c->user->allperm && !(c->flags & CLIENT_MASTER)) {
        int pos = 0;
        int denial = acl_check(c->user, cmd, c->argv, c->argc, &pos);
        if (denial != ACL_OK) {
            /* (a refused EXEC discards its transaction, as in Redis) */
            char text[256];
            acl_deny_log(c, cmd, denial, pos, (c->flags & CLIENT_MULTI) ? ACL_CTX_MULTI : ACL_CTX_TOPLEVEL, text,
                         sizeof(text));
            command_refuse(c, cmd, text);
            return;
        }
    }
    if ((c->flags & CLIENT_PUBSUB) && c->resp == 2 && !(cmd->flags & CMD_SUBSCRIBED)) {
        reply_errf(c,
                   "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are "
                   "allowed in this context",
                   cmd->name);
        cmd->st.rejected_calls++;
        return;
    }
    if ((cmd->flags & CMD_PROTECTED) && !protected_command_allowed(c, cmd)) {
        int debug = cmd->fn == cmd_debug;
        reply_errf(c,
                   "ERR %s command not allowed. If the enable-%s-command option is set to \"local\", you can "
                   "run it from a local connection, otherwise you need to set this option in the "
                   "configuration file, and then restart the server.",
                   debug ? "DEBUG" : "MODULE", debug ? "debug" : "module");
        cmd->st.rejected_calls++;
        return;
    }
    /* Clients over maxmemory-clients go before keys are evicted, as in
     * Redis; if c is one of them, its command does not run. */
    if (c->fd >= 0 && !(c->flags & CLIENT_IN_EXEC) && client_evict_if_over(c)) {
        return;
    }
    /* The server's state gates (OOM, MISCONF, NOREPLICAS, READONLY,
     * MASTERDOWN, LOADING), before MULTI queues a command, as in Redis: a
     * command refused there fails the transaction, and EXEC is judged by
     * the commands it would run, so none is refused halfway through it. */
    if (dispatch_before_command) {
        dispatch_before_command();
    }
    uint32_t flags = script_command_flags(c, cmd);
    if (cmd->fn == cmd_exec && (c->flags & CLIENT_MULTI)) {
        flags = (flags & ~CMD_STALE) | multi_queued_flags(c);
    } else if ((c->flags & CLIENT_MULTI) && cmd->fn != cmd_discard && cmd->fn != cmd_quit && cmd->fn != cmd_reset) {
        flags |= CMD_DENYOOM; /* the queue itself takes memory */
    }
    const char *refusal = server_refusal(c, cmd, flags);
    if (!refusal) {
        refusal = replica_refusal(c, flags);
    }
    if (!refusal && ((server.loading && !(cmd->flags & CMD_LOADING)) ||
                     (server.async_loading && (cmd->flags & CMD_NO_ASYNC_LOADING)))) {
        refusal = "LOADING Redis is loading the dataset in memory";
    }
    if (refusal) {
        command_refuse(c, cmd, refusal);
        return;
    }
    /* After them, as in Redis: a write to a read-only replica or during a
     * load is refused for that, not for a busy script. */
    if (busy_gate(c, cmd)) {
        return;
    }
    /* A replica's connection is for acknowledgements: one that read or
     * wrote keys would slip past CLIENT PAUSE, which replicas are exempt
     * from (Redis's rule, and its words). */
    if ((c->flags & CLIENT_REPLICA) && (flags & (CMD_READONLY | CMD_WRITE | CMD_MAY_REPLICATE))) {
        command_refuse(c, cmd, "ERR Replica can't interact with the keyspace");
        return;
    }
    if (pause_gate(c, cmd)) {
        return; /* runs when CLIENT PAUSE or FAILOVER's pause ends */
    }
    if (gate_multi && gate_multi(c, cmd)) {
        return;
    }
    given_start_us = start;
    dispatch_call(c, cmd);
    /* Serve clients blocked on keys this command fed, before the next
     * command can take the data (Redis's ordering). Never while a busy
     * script serves events: that would run commands inside the script. */
    if (!(c->flags & (CLIENT_IN_EXEC | CLIENT_IN_SCRIPT)) && !server.in_script) {
        block_handle_ready();
    }
    if (pipeline_open) {
        chained_us = last_end_us;
    }
}
