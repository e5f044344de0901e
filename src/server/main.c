/* main: start-up, the cron timer, the before-sleep hook and shutdown. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acl/acl.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "db/lazyfree.h"
#include "db/type_memory.h"
#include "module/module.h"
#include "net/sock.h"
#include "net/tls.h"
#include "net/uring.h"
#include "persist/aof.h"
#include "persist/snapshot.h"
#include "pubsub/tracking.h"
#include "repl/repl.h"
#include "script/lua.h"
#include "server/block.h"
#include "server/child.h"
#include "server/crash.h"
#include "server/defrag.h"
#include "server/hotkeys.h"
#include "server/instant.h"
#include "server/io_threads.h"
#include "server/latency.h"
#include "server/metrics.h"
#include "server/oom_score.h"
#include "server/persistence.h"
#include "server/proctitle.h"
#include "server/server.h"
#include "server/shutdown.h"
#include "server/supervise.h"
#include "server/tls_server.h"
#include "server/watchdog.h"

server_state server;

/* Feature modules' start-up functions (each registers its hooks). */
void types_init(void);
void features_init(void);

int64_t server_ms(void)
{
    return server.now_ms ? server.now_ms : util_ms();
}

/* Wall time minus monotonic time, re-read before each sleep and by the
 * cron: a command then costs one monotonic clock reading, which serves
 * both its cached wall time and its duration, and a step of the wall clock
 * shows within one loop iteration. */
static int64_t wall_offset_us;

void server_sync_clock(void)
{
    wall_offset_us = util_us() - util_mono_us();
}

void server_set_time(int64_t mono_us)
{
    server.now_mono_us = mono_us;
    server.now_ms = (mono_us + wall_offset_us) / 1000;
    db_set_lru_clock((uint32_t)(server.now_ms / 1000));
}

void server_update_time(void)
{
    server_set_time(util_mono_us());
}

/* ---- expiry hooks from the keyspace ---- */

static void on_key_expired(db *d, sv key)
{
    server.stats.expiredkeys++;
    /* The event first: what a module writes on it replays before the DEL,
     * as in Redis. */
    notify_event(NOTIFY_EXPIRED, "expired", key, d->id);
    propagate_removal(d->id, key);
}

static void on_key_modified(db *d, sv key)
{
    server_key_written(d, key, NULL);
}

static void on_keyspace_latency(const char *event, int64_t us)
{
    latency_add(event, us / 1000);
}

/* notify-keyspace-events "n": before the command's own event, as Redis. */
static void on_key_new(db *d, sv key)
{
    notify_event(NOTIFY_NEW, "new", key, d->id);
    block_key_created(d, key);
}

/* ---- cron ---- */

/* While a table is being resized, an idle server (no command since the
 * last call) moves entries 1 ms at a time every millisecond, so both tables
 * do not linger for the ~10 s the cron's 1% would take on 1M keys; a busy
 * one leaves it to the cron, whose share is Redis's. */
static long long idle_rehash_timer;

static long idle_rehash(ev_loop *loop, long long id, void *data)
{
    (void)loop;
    (void)id;
    (void)data;
    static long long seen = -1;
    if (server.stats.numcommands != seen) {
        seen = server.stats.numcommands;
        return 1;
    }
    /* One database per tick, in turn: a request arriving meanwhile waits
     * at most one millisecond, however many tables are moving. */
    static int next_db;
    int more = 0, stepped = 0;
    for (int k = 0; k < server.cfg.databases; k++) {
        int i = (next_db + k) % server.cfg.databases;
        ktable *t = &server.dbs[i].keys;
        if (!server.cfg.activerehashing || !ktable_is_rehashing(t) || server.in_script) {
            continue;
        }
        if (!stepped) {
            ktable_rehash_ms(t, 1);
            next_db = i + 1;
            stepped = 1;
        }
        more |= ktable_is_rehashing(t);
    }
    if (!more) {
        idle_rehash_timer = 0;
        return -1;
    }
    return 1;
}

/* The SHUTDOWN flags for a shutdown a signal asked for (shutdown-on-sigint,
 * shutdown-on-sigterm). */
static int signal_shutdown_flags(void)
{
    return server.shutdown_asap == SIGINT ? server.cfg.shutdown_on_sigint : server.cfg.shutdown_on_sigterm;
}

static long cron(ev_loop *l, long long id, void *data)
{
    (void)l;
    (void)id;
    (void)data;
    watchdog_cron();
    if (server.cron_paused) {
        return 1000 / (server.cfg.hz > 0 ? server.cfg.hz : 10);
    }
    server_sync_clock();
    module_event_cron();
    server_update_time();
    db_set_time(server.now_ms);
    server.cron_loops++;
    instant_sample();
    /* Cron runs inside a busy script only because the script serves
     * events: no expiry, rehash or client reaping may happen under it. */
    if (server.in_script) {
        if (server.shutdown_asap) {
            if (server_shutdown(signal_shutdown_flags()) < 0) {
                server.shutdown_asap = 0;
            }
        }
        return 1000 / server.cfg.hz;
    }
    /* Active expiry: up to 25% of the cron period, as Redis budgets it. */
    if (server.cfg.active_expire) {
        /* active-expire-effort 1-10 raises it by 2 points a step, as Redis. */
        int64_t budget = (250000 + 20000 * (int64_t)(server.cfg.active_expire_effort - 1)) / server.cfg.hz;
        int64_t start = util_mono_us();
        long sampled;
        /* Each DEL, and what modules write on its event, unwrapped. */
        int was = propagate_no_multi(1);
        long expired = db_active_expire(server.dbs, server.cfg.databases, budget, &server.expire_next_db, &sampled);
        propagate_no_multi(was);
        if (sampled > 0) {
            /* INFO expired_stale_perc: the share of sampled keys found
             * expired, a running average weighing each cycle 5%, as Redis
             * estimates how much of the keyspace is expired but not yet
             * reclaimed. */
            double perc = 100.0 * (double)expired / (double)sampled;
            server.stats.expired_stale_perc = server.stats.expired_stale_perc * 0.95 + perc * 0.05;
        }
        if (repl_is_replica()) {
            repl_expire_tracked();
        }
        int64_t took = util_mono_us() - start;
        latency_add("expire-cycle", took / 1000);
        server.stats.expire_cycle_us += took;
        server.stats.expire_cycle_cap_reached += took > budget;
    }
    /* Hash fields with TTLs that nobody reads: a bounded sweep. */
    hash_active_expire();
    defrag_cron();
    /* Bytes per type: a bounded step of the pass (db/type_memory.h). */
    type_memory_step(server.dbs, server.cfg.databases, server.now_ms);
    /* Keyspace tables: resize after deletes, rehash 1 ms per db at most. */
    int rehashing = 0;
    for (int i = 0; i < server.cfg.databases; i++) {
        db *d = &server.dbs[i];
        ktable_resize_to_fit(&d->keys);
        if (server.cfg.activerehashing && ktable_is_rehashing(&d->keys)) {
            ktable_rehash_ms(&d->keys, 1);
            rehashing |= ktable_is_rehashing(&d->keys);
        }
    }
    if (rehashing && !idle_rehash_timer) {
        idle_rehash_timer = ev_timer_add(server.loop, 1, idle_rehash, NULL);
    }
    /* Finish evictions a command's time budget cut short. */
    if (server.cfg.maxmemory > 0) {
        server_over_memory();
    }
    client_cron();
    tracking_cron();
    /* Replication's timers run once a second, as Redis's do. */
    if (server.cron_loops % server.cfg.hz == 0) {
        repl_cron();
    }
    /* The metrics endpoint's figures, published once a second and never on
     * demand, so scrapers cannot add work to the loop (the other ticks
     * advance its bounded keyspace pass for stream groups). */
    metrics_cron();
    hotkeys_cron();
    migrate_cron();
    aof_cron();
    /* A background fsync may have finished: WAITAOF-ers, here and on the
     * primary of this replica, hear of it within a tick. */
    repl_wait_aof_check();
    repl_replica_fack_check();
    persistence_cron();
    script_ldb_reap();
    client_reap();
    if (server.shutdown_asap) {
        int flags = signal_shutdown_flags();
        server.shutdown_asap = 0;
        if (shutdown_begin(flags, NULL) < 0) {
            log_msg(LOG_WARNING, "SIGTERM received but errors trying to shut down the server, check the logs for more "
                                 "information");
        }
    }
    shutdown_check();
    return 1000 / server.cfg.hz;
}

void (*before_sleep_broadcast)(void);

static void before_sleep(ev_loop *l)
{
    (void)l;
    server_sync_clock();
    module_event_loop(0);
    /* First: the commands these reads bring may wake blocked clients. */
    client_read_deferred();
    client_resume_held_master();
    block_handle_ready();
    repl_before_sleep();
    if (before_sleep_broadcast) {
        before_sleep_broadcast();
    }
    /* The log first: a reply may leave only once its write is logged. */
    aof_flush();
    repl_wait_aof_check();
    /* A quick expiry pass when the last cron pass ran out of budget is left
     * to cron; here only replies and closes. */
    client_flush_pending();
    client_evict_check();
    client_reap();
}

/* ---- start-up ---- */

static void on_signal(int sig)
{
    /* A second SIGINT while the first shutdown is still under way (saving
     * a big data set, waiting for replicas): exit now, leaving no
     * temporary file, as Redis does. Only async-signal-safe calls. */
    if (sig == SIGINT && (server.shutdown_asap || server_shutting_down)) {
        static const char msg[] = "You insist... exiting now.\n";
        ssize_t w = write(log_fd(), msg, sizeof(msg) - 1);
        (void)w;
        rdb_remove_temp_from_signal();
        _exit(1);
    }
    server.shutdown_asap = sig; /* which signal: signal_shutdown_flags */
}

static void write_pidfile(void)
{
    if (!server.cfg.pidfile || !server.cfg.pidfile[0]) {
        return;
    }
    FILE *f = fopen(server.cfg.pidfile, "w");
    if (f) {
        fprintf(f, "%d\n", (int)getpid());
        fclose(f);
    }
}

/* The start-up banner: with always-show-logo, or on a terminal with no log
 * file, as Redis shows its logo. Tools that start servers (Redis's own test
 * suite among them) wait for its "PID: n" to know the server is up. */
static void show_banner(void)
{
    int tty = !server.cfg.syslog_enabled && !(server.cfg.logfile && server.cfg.logfile[0]) && isatty(STDOUT_FILENO);
    if (!server.cfg.always_show_logo && !tty) {
        log_msg(LOG_NOTICE, "Running mode=standalone, port=%d.", server.cfg.port);
        return;
    }
    log_msg(LOG_NOTICE, "   _  __          _ ");
    log_msg(LOG_NOTICE, "  | |/ /___  ___ | |   Keel %s (Redis %s compatible), %d bits", KEEL_VERSION,
            KEEL_REDIS_COMPAT_VERSION, (int)(sizeof(void *) * 8));
    log_msg(LOG_NOTICE, "  | ' </ -_)/ -_)| |   Running in standalone mode");
    log_msg(LOG_NOTICE, "  |_|\\_\\___|\\___||_|   Port: %d PID: %d", server.cfg.port, (int)getpid());
}

static void daemonize(void)
{
    if (fork() != 0) {
        exit(0);
    }
    setsid();
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO) {
            close(fd);
        }
    }
}

/* Descriptors beyond maxclients: the server's own (32) and the loop's
 * slack (128), plus what the metrics HTTP server may hold, so a flood of
 * scrapers never takes a descriptor a client of the command port needs. */
static int reserved_fds(void)
{
    return 32 + 128 + (server.cfg.metrics_port ? METRICS_FD_RESERVE : 0);
}

static void raise_fd_limit(void)
{
    rlim_t want = (rlim_t)server.cfg.maxclients + (rlim_t)reserved_fds();
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) < 0 || lim.rlim_cur >= want) {
        return;
    }
    lim.rlim_cur = want;
    if (lim.rlim_max < want) {
        lim.rlim_max = want;
    }
    if (setrlimit(RLIMIT_NOFILE, &lim) < 0) {
        getrlimit(RLIMIT_NOFILE, &lim);
        long long possible = (long long)lim.rlim_cur - reserved_fds();
        if (possible < 1) {
            possible = 1;
        }
        log_msg(LOG_WARNING,
                "You requested maxclients of %lld requiring at least %llu max file descriptors; "
                "maxclients lowered to %lld.",
                server.cfg.maxclients, (unsigned long long)want, possible);
        server.cfg.maxclients = possible;
    }
}

int server_loop_size(void)
{
    long long want = server.cfg.maxclients + 128 + (server.cfg.metrics_port ? METRICS_FD_RESERVE : 0);
    struct rlimit lim;
    /* Every descriptor is below the fd limit, so a maxclients beyond it
     * (CONFIG SET takes up to 2^32-1, as Redis) needs no bigger table. */
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY && (rlim_t)want > lim.rlim_cur) {
        want = (long long)lim.rlim_cur;
    }
    return want > INT_MAX ? INT_MAX : (int)want;
}

/* Binds port on every bind address (a '-' prefix marks one that may be
 * missing, as ::1 on a host without IPv6). */
int server_listen_tcp(int port, int *fds, int *count)
{
    char err[256];
    *count = 0;
    char *addrs = alloc_strdup(server.cfg.bind ? server.cfg.bind : "");
    char *save = NULL;
    for (char *a = strtok_r(addrs, " ", &save); a; a = strtok_r(NULL, " ", &save)) {
        int optional = a[0] == '-';
        if (optional) {
            a++;
        }
        int fd = sock_listen_tcp(a, port, server.cfg.tcp_backlog, err, sizeof(err));
        if (fd < 0) {
            if (optional) {
                continue;
            }
            log_msg(LOG_WARNING, "Warning: Could not create server TCP listening socket %s:%d: %s", a, port, err);
            alloc_free(addrs);
            return -1;
        }
        if (*count < 16) {
            fds[(*count)++] = fd;
        }
    }
    alloc_free(addrs);
    return 0;
}

/* Replaces a set of TCP listeners with ones on port over the configured
 * bind addresses (port 0: none). The old sockets close first, since the
 * same address and port may be wanted again. */
static int relisten(int port, int *fds, int *count, ev_file_fn accept)
{
    for (int i = 0; i < *count; i++) {
        ev_del(server.loop, fds[i], EV_READABLE);
        close(fds[i]);
    }
    *count = 0;
    int n = 0;
    if (port != 0 && server_listen_tcp(port, fds, &n) < 0) {
        return -1;
    }
    for (int i = 0; i < n; i++) {
        ev_add(server.loop, fds[i], EV_READABLE, accept, NULL);
    }
    *count = n;
    return 0;
}

/* CONFIG SET port / bind at run time, as in Redis: the listeners move;
 * if the new ones cannot open, the old configuration is listened on again
 * and the change refused. */
int server_set_listen(int port, const char *bind, char *err, size_t errlen)
{
    int old_port = server.cfg.port;
    char *old_bind = server.cfg.bind;
    int rebind = strcmp(bind, old_bind ? old_bind : "") != 0;
    if (port == old_port && !rebind) {
        return 0;
    }
    server.cfg.port = port;
    server.cfg.bind = alloc_strdup(bind);
    int ok = relisten(port, server.listen_fds, &server.listen_count, client_accept) == 0;
    if (ok && rebind) {
        ok = relisten(server.cfg.tls_port, server.tls_listen_fds, &server.tls_listen_count, client_accept_tls) == 0;
    }
    if (ok) {
        alloc_free(old_bind);
        return 0;
    }
    alloc_free(server.cfg.bind);
    server.cfg.port = old_port;
    server.cfg.bind = old_bind;
    relisten(old_port, server.listen_fds, &server.listen_count, client_accept);
    if (rebind) {
        relisten(server.cfg.tls_port, server.tls_listen_fds, &server.tls_listen_count, client_accept_tls);
    }
    snprintf(err, errlen, "%s",
             rebind ? "Failed to bind to specified addresses." : "Unable to listen on this port. Check server logs.");
    return -1;
}

static int open_listeners(void)
{
    char err[256];
    server.listen_count = 0;
    server.tls_listen_count = 0;
    server.unix_fd = -1;
    if (server.cfg.port != 0 && server_listen_tcp(server.cfg.port, server.listen_fds, &server.listen_count) < 0) {
        return -1;
    }
    /* TLS beside plain TCP, on the same addresses (port 0 with a tls-port
     * serves TLS only). */
    if (server.cfg.tls_port != 0 &&
        server_listen_tcp(server.cfg.tls_port, server.tls_listen_fds, &server.tls_listen_count) < 0) {
        return -1;
    }
    if (server.cfg.unixsocket && server.cfg.unixsocket[0]) {
        server.unix_fd = sock_listen_unix(server.cfg.unixsocket, server.cfg.unixsocketperm, server.cfg.tcp_backlog, err,
                                          sizeof(err));
        if (server.unix_fd < 0) {
            log_msg(LOG_WARNING, "Failed opening Unix socket: %s", err);
            return -1;
        }
    }
    if (server.listen_count == 0 && server.tls_listen_count == 0 && server.unix_fd < 0) {
        log_msg(LOG_WARNING, "Configured to not listen anywhere, exiting.");
        return -1;
    }
    for (int i = 0; i < server.listen_count; i++) {
        ev_add(server.loop, server.listen_fds[i], EV_READABLE, client_accept, NULL);
    }
    for (int i = 0; i < server.tls_listen_count; i++) {
        ev_add(server.loop, server.tls_listen_fds[i], EV_READABLE, client_accept_tls, NULL);
    }
    if (server.unix_fd >= 0) {
        ev_add(server.loop, server.unix_fd, EV_READABLE, client_accept, NULL);
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "Usage: ./keel-server [/path/to/keel.conf] [options] [-]\n"
                    "       ./keel-server - (read config from stdin)\n"
                    "       ./keel-server -v or --version\n"
                    "       ./keel-server -h or --help\n\n"
                    "Examples:\n"
                    "       ./keel-server (run the server with default config)\n"
                    "       ./keel-server /etc/keel/6379.conf\n"
                    "       ./keel-server --port 7777\n"
                    "       ./keel-server /etc/mykeel.conf --loglevel verbose\n");
}

/* Keyspace entries keep a collection's value pointer right after the key
 * bytes, so it is often not 8-byte aligned; LeakSanitizer must scan
 * unaligned words too or it reports every collection alive at exit as
 * leaked. Only sanitizer builds ever call this. */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
    return "use_unaligned=1";
}
/* Sanitizer builds free everything before exiting so leak checking sees
 * real leaks: the keyspace table holds tagged pointers and values hold
 * pointers at unaligned offsets, neither of which the leak scanner can
 * follow. */
static void free_at_exit(void)
{
#ifdef KEEL_FREE_AT_EXIT
    /* A module value the lazy-free thread frees takes the GIL first: let
     * go of it while the thread finishes. */
    module_gil_release();
    lazyfree_stop();
    module_gil_acquire();
    while (server.clients) {
        client_free(server.clients);
    }
    for (int i = 0; i < server.cfg.databases; i++) {
        db_clear(&server.dbs[i]);
    }
    tls_cleanup();
#endif
}

void server_close_listeners(void)
{
    for (int i = 0; i < server.listen_count; i++) {
        close(server.listen_fds[i]);
    }
    for (int i = 0; i < server.tls_listen_count; i++) {
        close(server.tls_listen_fds[i]);
    }
    if (server.unix_fd >= 0) {
        close(server.unix_fd);
    }
    server.listen_count = server.tls_listen_count = 0;
    server.unix_fd = -1;
}

volatile int server_shutting_down;

int server_shutdown(int flags)
{
    log_msg(LOG_WARNING, "User requested shutdown...");
    server_shutting_down = 1;
    /* Exiting before the log's first base is written would lose the data
     * (Redis refuses too, unless FORCE). */
    if (aof_initial_rewrite_pending()) {
        if (!(flags & SHUTDOWN_FORCE)) {
            log_msg(LOG_WARNING, "Writing initial AOF, can't exit.");
            log_msg(LOG_WARNING, "Errors trying to shut down the server. Check the logs for more information.");
            server_shutting_down = 0;
            return -1;
        }
        log_msg(LOG_WARNING, "Writing initial AOF. Exit anyway.");
    }
    supervise_stopping(server.cfg.supervised);
    aof_stop();
    child_kill();
    script_ldb_kill_children();
    snapshot_abort();
    /* A dataset still loading is not saved over the files it comes from. */
    if (!server.loading && ((flags & SHUTDOWN_SAVE) || (persistence_save_points_set() && !(flags & SHUTDOWN_NOSAVE)))) {
        log_msg(LOG_NOTICE, "Saving the final RDB snapshot before exiting.");
        if (persistence_save() < 0 && !(flags & SHUTDOWN_FORCE)) {
            log_msg(LOG_WARNING, "Error trying to save the DB, can't exit.");
            log_msg(LOG_WARNING, "Errors trying to shut down the server. Check the logs for more information.");
            server_shutting_down = 0;
            return -1;
        }
    }
    module_event_shutdown();
    /* Past the point where shutdown may still be refused: the HTTP thread
     * is joined, so nothing runs beside exit's clean-up. */
    metrics_stop();
    client_flush_pending();
    /* From here a new connection is refused, not accepted and then
     * dropped while exit's clean-up runs (as Redis). */
    server_close_listeners();
    if (server.cfg.unixsocket && server.cfg.unixsocket[0]) {
        unlink(server.cfg.unixsocket);
    }
    if (server.cfg.pidfile && server.cfg.pidfile[0]) {
        unlink(server.cfg.pidfile);
    }
    free_at_exit();
    log_msg(LOG_WARNING, "Keel is now ready to exit, bye bye...");
    exit(0);
}

int main(int argc, char **argv)
{
    /* keel-check-aof: the log checker, as redis-check-aof is to Redis. */
    const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    if ((argc >= 2 && strcmp(argv[1], "--check-aof") == 0) || strcmp(prog, "keel-check-aof") == 0) {
        int first = strcmp(prog, "keel-check-aof") == 0 ? 1 : 2;
        int fix = first < argc && strcmp(argv[first], "--fix") == 0;
        if (first + fix >= argc) {
            fprintf(stderr, "Usage: keel-check-aof [--fix] <file.manifest|file.aof>\n");
            return 1;
        }
        /* An RDB in the log is walked by the server's loader, which reads
         * the configuration's defaults and the registered types. */
        config_defaults();
        types_init();
        log_set_level(LOG_WARNING); /* not the loader's progress notes */
        return aof_check(argv[first + fix], fix) == 0 ? 0 : 1;
    }
    proctitle_init(argc, argv);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--version") == 0) {
            printf("Keel server v=%s (redis-compatible %s) malloc=%s bits=%d\n", KEEL_VERSION,
                   KEEL_REDIS_COMPAT_VERSION, alloc_name(), (int)(sizeof(long) * 8));
            return 0;
        }
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage();
            return 0;
        }
    }
    uint8_t seed[16];
    util_os_random(seed, sizeof(seed));
    util_hash_seed(seed);
    uint64_t rs;
    util_os_random(&rs, sizeof(rs));
    util_rand_seed(rs);
    uint8_t rid[20];
    util_os_random(rid, sizeof(rid));
    for (int i = 0; i < 20; i++) {
        sprintf(server.runid + i * 2, "%02x", rid[i]);
    }

    config_defaults();
    char err[1024];
    int argi = 1;
    if (argi < argc && argv[argi][0] != '-') {
        if (config_load_file(argv[argi], err, sizeof(err)) < 0) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        /* Absolute and free of symlinks: the server chdirs to `dir`, and
         * CONFIG REWRITE renames its new file over the real one. */
        static char config_path[PATH_MAX];
        server.config_file = realpath(argv[argi], config_path) ? config_path : argv[argi];
        argi++;
    } else if (argi < argc && strcmp(argv[argi], "-") == 0) {
        if (config_load_file("-", err, sizeof(err)) < 0) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        argi++;
    }
    /* The options become directive lines, read as a file's, as Redis 7
     * builds them: "--name" starts a line and the arguments after it are
     * its values, quoted. An argument right after a bare "--name" is its
     * value even when it starts with "--" (--proc-title-template --x--);
     * "--name value" in one argument is a whole line; "--save" with no
     * value reads as save "". */
    str options = str_empty(256);
    int have_value = 1, have_option = 0;
    for (; argi < argc; argi++) {
        const char *a = argv[argi];
        if (have_value && strncmp(a, "--", 2) == 0) {
            if (have_option) {
                options = str_append(options, "\n", 1);
            }
            options = str_append_cstr(options, a + 2);
            have_option = 1;
            have_value = strchr(a + 2, ' ') != NULL; /* name and value in one argument */
            if (!have_value && strcasecmp(a, "--save") == 0 &&
                (argi + 1 == argc || strncmp(argv[argi + 1], "--", 2) == 0)) {
                options = str_append_cstr(options, " \"\"");
                have_value = 1;
            }
        } else {
            /* (Before any "--name", words form a line of their own, as
             * Redis reads "loglevel verbose" there.) */
            if (have_option) {
                options = str_append(options, " ", 1);
            }
            options = str_append_quoted(options, a, strlen(a));
            have_option = have_value = 1;
        }
    }
    if (config_load_options(options, str_len(options), err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        str_free(options);
        return 1;
    }
    str_free(options);

    /* OpenSSL allocates through base/alloc on a server with TLS from the
     * start (before anything has used OpenSSL); one without keeps its
     * used_memory as before, though its SHA1 digests use OpenSSL too. */
    if (tls_server_wanted()) {
        tls_init();
    }
    if (server.cfg.logfile && server.cfg.logfile[0] && log_set_file(server.cfg.logfile) < 0) {
        fprintf(stderr, "Can't open the log file: %s\n", server.cfg.logfile);
        return 1;
    }
    if (server.cfg.daemonize) {
        daemonize();
    }
    crash_install();
    if (server.cfg.dir && server.cfg.dir[0] && chdir(server.cfg.dir) < 0) {
        log_msg(LOG_WARNING, "Can't chdir to '%s': %s", server.cfg.dir, strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    raise_fd_limit();
    server.loop = ev_new(server_loop_size());
    server_sync_clock();
    server_update_time();
    server.start_ms = server.now_ms;
    server.lastsave = server.now_ms / 1000;
    server.dbs = alloc_zero(sizeof(db) * (size_t)server.cfg.databases);
    for (int i = 0; i < server.cfg.databases; i++) {
        db_init(&server.dbs[i], i);
    }
    db_hooks_installed.key_expired = on_key_expired;
    db_hooks_installed.key_modified = on_key_modified;
    db_hooks_installed.key_new = on_key_new;
    db_hooks_installed.latency = on_keyspace_latency;
    cmd_table_init();
    acl_init();
    types_init();
    features_init();
    module_init();
    /* Before the modules load, as in Redis: what a failing one logs comes
     * after the PID (test harnesses wait for it). */
    show_banner();
    /* Modules before the users: ACL rules may name their commands. */
    if (module_load_queued() < 0) {
        fprintf(stderr, "Keel could not load a module given by loadmodule: see the log\n");
        return 1;
    }
    if (acl_load_startup(err, sizeof(err)) < 0) {
        log_msg(LOG_WARNING, "Aborting Keel startup because of ACL errors: %s", err);
        fprintf(stderr, "Aborting Keel startup because of ACL errors: %s\n", err);
        return 1;
    }
    repl_init();
    lazyfree_start();
    /* A bad certificate or key stops start-up before anything listens. */
    if (tls_server_start() < 0) {
        return 1;
    }
    /* Listen first: while the data loads, clients get -LOADING instead of
     * a refused connection, as in Redis. */
    if (open_listeners() < 0) {
        return 1;
    }
    proctitle_start();
    if (oom_score_apply(OOM_CLASS_CURRENT) < 0) {
        log_msg(LOG_WARNING, "Failed to set oom_score_adj: oom-score-adj is left as it is");
    }
    server.loading = 1;
    server.loading_start_ms = server_ms();
    int loaded = persistence_load();
    server.loading = 0;
    if (loaded < 0) {
        free_at_exit(); /* a log refused halfway left keys behind */
        return 1;
    }
    server.dirty = 0;
    if (metrics_start() < 0) {
        free_at_exit();
        return 1;
    }
    repl_start();
    io_threads_start(server.cfg.io_threads);
    if (server.cfg.io_backend != IO_BACKEND_EPOLL) {
        int rc = uring_open();
        if (rc < 0 && server.cfg.io_backend == IO_BACKEND_URING) {
            log_msg(LOG_WARNING, "io-backend uring: the kernel refuses io_uring (%s)", strerror(-rc));
            free_at_exit();
            return 1;
        }
        if (rc < 0) {
            log_msg(LOG_NOTICE, "io_uring is not available (%s): socket I/O uses read and write calls", strerror(-rc));
        }
    }
    write_pidfile();
    ev_timer_add(server.loop, 1, cron, NULL);
    ev_set_before_sleep(server.loop, before_sleep);
    ev_set_wait_hooks(server.loop, module_gil_release, module_after_wait);
    ev_set_busy_poll(server.loop, server.cfg.busy_poll_us);
    log_msg(LOG_NOTICE, "Keel %s (redis-compatible %s) started, pid=%d, port=%d", KEEL_VERSION,
            KEEL_REDIS_COMPAT_VERSION, (int)getpid(), server.cfg.port);
    log_msg(LOG_NOTICE, "Ready to accept connections");
    supervise_ready(server.cfg.supervised);
    ev_run(server.loop);
    return 0;
}
