/* metrics: see metrics.h. Two parts: the snapshot the event loop
 * publishes, and the libmicrohttpd server that serves it (turned into
 * Prometheus text and JSON by metrics_format, once per snapshot). */
#include "server/metrics.h"

#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "net/sock.h"
#include "server/metrics_format.h"
#include "server/metrics_streams.h"
#include "server/server.h"
#include "server/slowlog.h"

/* The page, generated from src/server/dashboard.html by the Makefile. */
#include "dashboard_html.h"

/* An idle or trickling HTTP connection is dropped after this many
 * seconds, so connections held open by a misbehaving scraper free their
 * slot under the cap. */
#define METRICS_TIMEOUT_S 10
/* Per-connection buffer for the request line and headers. */
#define METRICS_CONN_MEMORY (32 * 1024)
/* Slow log entries each snapshot carries to /json. */
#define METRICS_SLOWLOG_ENTRIES 10

/* ---- the snapshot ---- */

/* Immutable once published, except for the renderings, which the HTTP
 * thread fills in once (under render_lock) the first time they are asked
 * for. Freed by whoever drops the last reference: the loop when it
 * replaces a snapshot nobody reads, or the HTTP thread when a response
 * that used it is destroyed. */
typedef struct snapshot {
    int refs; /* atomic */
    int64_t time_ms;
    double ops_per_sec;
    int64_t publish_us; /* the loop's cost of building this snapshot */
    str info;
    str slowlog;
    stream_figures *streams; /* NULL before the first pass completes */
    type_memory types;       /* a copy: the pass's figures change on the loop */
    pthread_mutex_t render_lock;
    str prom;
    str json;
} snapshot;

static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static snapshot *current;

static struct MHD_Daemon *daemon_;
/* The loop's ops/s measurement: commands and time at the last publish. */
static long long last_commands;
static int64_t last_publish_ms;

static void snapshot_release(snapshot *s)
{
    if (!s || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0) {
        return;
    }
    str_free(s->info);
    str_free(s->slowlog);
    metrics_streams_release(s->streams);
    str_free(s->prom);
    str_free(s->json);
    pthread_mutex_destroy(&s->render_lock);
    alloc_free(s);
}

/* A reference to the current snapshot (NULL before the first publish):
 * the only thing a request does under the mutex. */
static snapshot *snapshot_acquire(void)
{
    pthread_mutex_lock(&current_lock);
    snapshot *s = current;
    if (s) {
        __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&current_lock);
    return s;
}

/* On the event loop: the INFO text (everything, as INFO EVERYTHING builds
 * it: walks the clients and the databases' headers, never the keys), the
 * newest slow log entries and the groups of the streams the last pass
 * found (one lookup per stream, at most 1,000). */
static void publish(void)
{
    int64_t start_us = util_us();
    int64_t now = server_ms();
    snapshot *s = alloc_zero(sizeof(*s));
    s->refs = 1;
    s->time_ms = now;
    long long commands = server.stats.numcommands;
    if (last_publish_ms && now > last_publish_ms && commands >= last_commands) {
        s->ops_per_sec = (double)(commands - last_commands) * 1000.0 / (double)(now - last_publish_ms);
    }
    last_commands = commands;
    last_publish_ms = now;
    s->info = info_generate(&(sv){"everything", 10}, 1);
    s->slowlog = slowlog_json(str_empty(256), METRICS_SLOWLOG_ENTRIES);
    metrics_streams_refresh();
    s->streams = metrics_streams_last();
    s->types = *type_memory_last(now);
    pthread_mutex_init(&s->render_lock, NULL);
    s->publish_us = util_us() - start_us;

    pthread_mutex_lock(&current_lock);
    snapshot *old = current;
    current = s;
    pthread_mutex_unlock(&current_lock);
    snapshot_release(old);
}

/* The snapshot at the top of each second, the stream pass's steps on the
 * other ticks: each costs the loop a few hundred microseconds at most, and
 * apart they never add up to one longer pause. */
void metrics_cron(void)
{
    if (!daemon_) {
        return;
    }
    int hz = server.cfg.hz;
    long long phase = server.cron_loops % hz;
    if (phase == 0) {
        publish();
    }
    if (phase != 0 || hz == 1) {
        metrics_streams_step();
    }
}

/* Both renderings, built on the first request that needs one. */
static void snapshot_render(snapshot *s)
{
    pthread_mutex_lock(&s->render_lock);
    if (!s->prom) {
        metrics_figures in = {.info = s->info,
                              .info_len = str_len(s->info),
                              .time_ms = s->time_ms,
                              .ops_per_sec = s->ops_per_sec,
                              .publish_us = s->publish_us,
                              .slowlog_json = s->slowlog,
                              .slowlog_len = str_len(s->slowlog),
                              .streams = s->streams,
                              .types = &s->types};
        metrics_format(&in, &s->prom, &s->json);
    }
    pthread_mutex_unlock(&s->render_lock);
}

/* ---- the HTTP server ---- */

static void release_cb(void *cls)
{
    snapshot_release(cls);
}

static enum MHD_Result send_static(struct MHD_Connection *conn, unsigned code, const char *body, const char *type)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body, MHD_RESPMEM_PERSISTENT);
    if (!r) {
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    if (code == MHD_HTTP_METHOD_NOT_ALLOWED) {
        MHD_add_response_header(r, "Allow", "GET, HEAD");
    }
    enum MHD_Result rc = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return rc;
}

/* The body points into the snapshot, which the response keeps alive with
 * its reference until libmicrohttpd destroys it: no copy. */
static enum MHD_Result send_snapshot(struct MHD_Connection *conn, int json)
{
    snapshot *s = snapshot_acquire();
    if (!s) {
        return send_static(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "no snapshot yet\n", "text/plain");
    }
    snapshot_render(s);
    str body = json ? s->json : s->prom;
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback_cls(str_len(body), body, release_cb, s);
    if (!r) {
        snapshot_release(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", json ? "application/json" : "text/plain; version=0.0.4; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)cls;
    (void)version;
    (void)upload_data;
    (void)con_cls;
    /* Answering on the first call is allowed; a request body, if any, is
     * then discarded by libmicrohttpd. */
    *upload_data_size = 0;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        return send_static(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n", "text/plain");
    }
    if (strcmp(url, "/metrics") == 0) {
        return send_snapshot(conn, 0);
    }
    if (strcmp(url, "/json") == 0) {
        return send_snapshot(conn, 1);
    }
    if (strcmp(url, "/") == 0) {
        return send_static(conn, MHD_HTTP_OK, dashboard_html, "text/html; charset=utf-8");
    }
    return send_static(conn, MHD_HTTP_NOT_FOUND, "not found\n", "text/plain");
}

/* Why the last metrics_start failed, for CONFIG SET's error. */
static char last_error[256];

int metrics_start(void)
{
    if (server.cfg.metrics_port == 0) {
        return 0;
    }
    char err[256];
    const char *bind = server.cfg.metrics_bind && server.cfg.metrics_bind[0] ? server.cfg.metrics_bind : "127.0.0.1";
    int fd = sock_listen_tcp(bind, server.cfg.metrics_port, server.cfg.tcp_backlog, err, sizeof(err));
    if (fd < 0) {
        snprintf(last_error, sizeof(last_error), "%s", err);
        log_msg(LOG_WARNING, "Could not create the metrics listening socket %s:%d: %s", bind, server.cfg.metrics_port,
                err);
        return -1;
    }
    publish();
    /* The HTTP thread inherits this mask: SIGTERM and SIGINT stay with the
     * main thread, whose handler asks the loop to shut down. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    /* epoll: descriptors above FD_SETSIZE (a busy server has thousands of
     * clients) work, which select() would not allow. */
    daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL, on_request, NULL,
                               MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_CONNECTION_LIMIT,
                               (unsigned int)METRICS_MAX_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                               (unsigned int)METRICS_MAX_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT,
                               (unsigned int)METRICS_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                               (size_t)METRICS_CONN_MEMORY, MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!daemon_) {
        close(fd);
        snprintf(last_error, sizeof(last_error), "the HTTP server did not start");
        log_msg(LOG_WARNING, "Could not start the metrics HTTP server on %s:%d", bind, server.cfg.metrics_port);
        metrics_stop();
        return -1;
    }
    log_msg(LOG_NOTICE, "Metrics on http://%s:%d/metrics (dashboard at /)", bind, server.cfg.metrics_port);
    return 0;
}

void metrics_stop(void)
{
    if (daemon_) {
        /* Joins the HTTP thread; destroying its responses drops their
         * snapshot references. */
        MHD_stop_daemon(daemon_);
        daemon_ = NULL;
    }
    pthread_mutex_lock(&current_lock);
    snapshot *s = current;
    current = NULL;
    pthread_mutex_unlock(&current_lock);
    snapshot_release(s);
    metrics_streams_reset();
}

int metrics_move(int port, const char *bind, char *err, size_t errlen)
{
    const char *old_bind = server.cfg.metrics_bind ? server.cfg.metrics_bind : "";
    if (port == server.cfg.metrics_port && strcmp(bind, old_bind) == 0) {
        return 0;
    }
    /* The old listener goes first: the new address may overlap it (the
     * same port on a wider address). */
    int old_port = server.cfg.metrics_port;
    char *saved = server.cfg.metrics_bind;
    metrics_stop();
    server.cfg.metrics_port = port;
    server.cfg.metrics_bind = alloc_strdup(bind);
    if (metrics_start() == 0) {
        alloc_free(saved);
        return 0;
    }
    snprintf(err, errlen, "Unable to listen on this port: %s", last_error);
    alloc_free(server.cfg.metrics_bind);
    server.cfg.metrics_port = old_port;
    server.cfg.metrics_bind = saved;
    if (metrics_start() < 0) {
        log_msg(LOG_WARNING, "The metrics endpoint could not go back to its old address either: it is off");
    }
    return -1;
}
