/* primary: serving replicas. A replica says SYNC or PSYNC; if its offset is
 * still in the backlog it continues from there (+CONTINUE), otherwise it
 * gets a snapshot (+FULLRESYNC, then the RDB file as one bulk) and the
 * stream from the moment the snapshot began. Every write reaches the
 * replicas through the propagation point, encoded once, in the order it
 * happened; WAIT counts the replicas that acknowledged an offset. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "module/module.h"
#include "net/conn.h"
#include "persist/aof.h"
#include "persist/rdb.h"
#include "persist/snapshot.h"
#include "proto/resp_parse.h"
#include "repl/repl.h"
#include "server/block.h"
#include "server/child.h"
#include "server/pause.h"
#include "server/persistence.h"

/* RS_NONE: only REPLCONF so far (its settings wait for SYNC/PSYNC). */
/* RS_WAIT_ACK: a diskless snapshot was sent; the stream follows the
 * replica's first ACK (its EOF-mark reader must see the mark last). */
/* RS_RDB_SENT: one that wanted the snapshot alone (REPLCONF rdb-only 1)
 * has it, and goes. */
enum { RS_NONE, RS_WAIT_BGSAVE_START, RS_WAIT_BGSAVE_END, RS_SEND_BULK, RS_WAIT_ACK, RS_ONLINE, RS_RDB_SENT };

typedef struct replica {
    client *c;
    int state;
    long long ack_off;
    long long fack_off; /* on disk in its AOF (REPLCONF ACK .. FACK), -1: never said */
    int64_t ack_ms;     /* monotonic: lag is a duration, immune to wall-clock steps */
    int listening_port;
    char announce_ip[64];
    int capa_eof, capa_psync2;
    int old_sync;             /* SYNC: no +FULLRESYNC line */
    int rdb_only;             /* REPLCONF rdb-only 1: no stream after it */
    int no_keys;              /* REPLCONF rdb-filter-only: a snapshot without keys, */
    int with_functions;       /* ... with the function libraries or not */
    int diskless;             /* gets the snapshot straight from the walk */
    long long initial_offset; /* where its stream starts */
    /* Its place in the stream, from the moment its snapshot began (held
     * back until the snapshot is sent) or its partial resync was
     * accepted; while reading, the blocks from there on stay. */
    backlog_reader rd;
    int reading;
    int rdb_fd;
    off_t rdb_sent, rdb_size;
    char hdr[32];
    size_t hdr_len, hdr_sent;
    /* Over TLS the file goes through OpenSSL instead of sendfile: a piece
     * read from it, kept until written whole (a retried SSL_write must be
     * given the same bytes). */
    char *piece;
    size_t piece_len, piece_sent;
} replica;

const char *replica_ip(replica *r, char *buf, size_t len);

static replica **replicas;
static int nreplicas;
static int snap_for_replicas; /* the running snapshot feeds replicas */
static int snap_diskless;     /* ... through their sockets, not a file */
static char eof_mark[41];
static int64_t first_waiting_ms; /* when the oldest waiting replica came */
static int64_t no_replicas_since_ms;
static long long sync_full, sync_partial_ok, sync_partial_err;

/* WAIT and WAITAOF */
typedef struct waiter {
    client *c;
    long long offset, want;
    long long timer;
    int aof;           /* WAITAOF: replicas count once their AOF has it */
    int want_local;    /* WAITAOF: the local log must have it on disk */
    long long aof_seq; /* ... up to here (aof_fed) */
} waiter;
static waiter *waiters;
static int nwaiters, cap_waiters, naof_waiters;
static int need_getack;

static replica *replica_of(client *c, int create)
{
    if (!c->rstate && create) {
        replica *r = alloc_zero(sizeof(*r));
        r->c = c;
        r->rdb_fd = -1;
        r->fack_off = -1;
        c->rstate = r;
    }
    return c->rstate;
}

int repl_replica_count(void)
{
    int n = 0;
    for (int i = 0; i < nreplicas; i++) {
        n += replicas[i]->state == RS_ONLINE;
    }
    return n;
}

/* ---- the stream ---- */

static void feed(int dbid, sv *argv, int argc);

/* A fresh backlog ending at the current offset. Writes are copied for the
 * stream only from the first one on. */
void repl_reset_backlog(void)
{
    static int listening;
    /* A new history: a replica still reading the old one (every caller
     * has dropped them already) cannot go on. */
    for (int i = 0; i < nreplicas; i++) {
        if (replicas[i]->reading) {
            replicas[i]->reading = 0;
            client_close_async(replicas[i]->c);
        }
    }
    backlog_free(repl.bl);
    repl.bl = backlog_new(repl_backlog_bytes(), repl.offset);
    if (!listening) {
        propagate_register(feed, PROPAGATE_REPL);
        listening = 1;
    }
}

void repl_ensure_backlog(void)
{
    if (repl.bl) {
        return;
    }
    if (!repl_is_replica()) {
        /* Offsets counted from here on cannot continue an older history. */
        repl_new_id();
        repl.replid2[0] = '\0';
        repl.second_offset = -1;
    }
    repl_reset_backlog();
}

size_t repl_backlog_bytes(void)
{
    return server.cfg.repl_backlog_size < 16384 ? 16384 : (size_t)server.cfg.repl_backlog_size;
}

size_t repl_buffer_memory(void)
{
    return repl.bl ? repl.bl->mem : 0;
}

/* The blocks are the backlog's up to its limit; beyond it, replicas keep
 * them (Redis 7's split of one buffer between the two figures). */
size_t repl_backlog_memory(void)
{
    size_t mem = repl_buffer_memory();
    return nreplicas > 0 && mem > repl_backlog_bytes() ? repl_backlog_bytes() : mem;
}

size_t repl_replica_buffers_memory(void)
{
    size_t n = repl_buffer_memory() - repl_backlog_memory();
    for (int i = 0; i < nreplicas; i++) {
        n += replicas[i]->c->out.cap;
    }
    return n;
}

/* Frees the blocks neither the backlog nor a replica needs. */
static void trim(void)
{
    if (!backlog_over_limit(repl.bl)) {
        return; /* the common case, before looking at the replicas */
    }
    long long keep_from = repl.bl->end_offset + 1;
    for (int i = 0; i < nreplicas; i++) {
        if (replicas[i]->reading && replicas[i]->rd.offset < keep_from) {
            keep_from = replicas[i]->rd.offset;
        }
    }
    backlog_trim(repl.bl, keep_from);
}

void repl_backlog_resized(void)
{
    if (repl.bl) {
        repl.bl->limit = repl_backlog_bytes();
        trim();
    }
}

static void start_reading(replica *r, long long offset)
{
    backlog_reader_start(repl.bl, &r->rd, offset);
    r->reading = 1;
}

static void stop_reading(replica *r)
{
    if (r->reading) {
        r->reading = 0;
        if (repl.bl) {
            trim();
        }
    }
}

size_t repl_output_lag(const client *c)
{
    replica *r = c->rstate;
    return r && r->reading && repl.bl ? backlog_reader_lag(repl.bl, &r->rd) : 0;
}

int repl_output_more(const client *c)
{
    replica *r = c->rstate;
    return r && r->state == RS_ONLINE && repl_output_lag(c) > 0;
}

static void copy_to_client(const char *p, size_t len, void *ctx)
{
    reply_raw(R((client *)ctx), p, len);
}

/* Bytes of the stream copied to an online replica's output at a time: the
 * rest waits in the shared blocks, not in a buffer of its own. */
#define FILL_MAX (256 * 1024)

void repl_output_fill(client *c)
{
    replica *r = c->rstate;
    size_t have = rbuf_pending(&c->out);
    if (!r || r->state != RS_ONLINE || !r->reading || !repl.bl || have >= FILL_MAX || (c->flags & CLIENT_CLOSE_ASAP)) {
        return;
    }
    backlog_block *was = r->rd.blk;
    backlog_read(repl.bl, &r->rd, FILL_MAX - have, copy_to_client, c);
    if (r->rd.blk != was) {
        trim(); /* it left a block behind: maybe the last to need it */
    }
}

void repl_feed_raw(const char *p, size_t len)
{
    if (!repl.bl) {
        return; /* nobody has ever asked for the stream */
    }
    backlog_append(repl.bl, p, len);
    repl.offset += (long long)len;
    for (int i = 0; i < nreplicas; i++) {
        replica *r = replicas[i];
        if (!r->reading || (r->c->flags & CLIENT_CLOSE_ASAP)) {
            continue;
        }
        if (r->state == RS_ONLINE) {
            client_pending_write(r->c);
        }
        client_check_obuf(r->c); /* what it lags by counts as its output */
    }
    trim();
}

static str encoded;

/* The propagation listener. On a replica the stream comes from the primary
 * byte for byte (repl_master_applied), not from here. */
static void feed(int dbid, sv *argv, int argc)
{
    if (!repl.bl || repl_is_replica()) {
        return;
    }
    encoded = encoded ? encoded : str_empty(256);
    str_set_len(encoded, 0);
    encoded = resp_append_command_in_db(encoded, &repl.seldb, dbid, argv, argc);
    repl_feed_raw(encoded, str_len(encoded));
}

/* A command that is not a write but travels in the stream (PING, GETACK). */
static void feed_control(sv *argv, int argc)
{
    if (!repl.bl || repl_is_replica()) {
        return;
    }
    encoded = encoded ? encoded : str_empty(256);
    str_set_len(encoded, 0);
    encoded = resp_append_command(encoded, argv, argc);
    repl_feed_raw(encoded, str_len(encoded));
}

/* ---- full sync ---- */

/* Client cleanup hook: a replica's or a WAIT-er's state goes with it. */
static void wait_forget(client *c);

/* A replica that waited for the running snapshot is gone: with none left
 * waiting, the snapshot is stopped (as Redis kills its child), so it takes
 * no more time and the next full sync can start at once. One made for
 * sockets is of no use to anyone now; one made to a file is kept when
 * save points are set, as the file is worth having. */
static void snapshot_unwanted(void)
{
    if (!snap_for_replicas) {
        return;
    }
    for (int i = 0; i < nreplicas; i++) {
        if (replicas[i]->state == RS_WAIT_BGSAVE_END && !(replicas[i]->c->flags & CLIENT_CLOSE_ASAP)) {
            return;
        }
    }
    if (snap_diskless) {
        log_msg(LOG_WARNING, "Diskless rdb transfer, last replica dropped, killing fork child.");
        snapshot_abort();
    } else if (!persistence_save_points_set()) {
        persistence_stop_bgsave("its replicas going");
    }
}

static void replica_cleanup(client *c)
{
    wait_forget(c);
    replica *r = c->rstate;
    if (!r) {
        return;
    }
    c->rstate = NULL;
    for (int i = 0; i < nreplicas; i++) {
        if (replicas[i] == r) {
            log_msg(LOG_NOTICE, "Connection with replica %s lost.", c->addr);
            if (r->state == RS_ONLINE) {
                module_event_replica(0);
            }
            replicas[i] = replicas[--nreplicas];
            if (nreplicas == 0) {
                no_replicas_since_ms = server_ms();
            }
            break;
        }
    }
    if (r->rdb_fd >= 0) {
        close(r->rdb_fd);
    }
    stop_reading(r);
    if (r->state == RS_WAIT_BGSAVE_END) {
        snapshot_unwanted();
    }
    alloc_free(r->piece);
    alloc_free(r);
}

/* The replica will load the snapshot that began at offset. */
static void fullresync_line(replica *r, long long offset)
{
    r->state = RS_WAIT_BGSAVE_END;
    r->initial_offset = offset;
    start_reading(r, offset + 1);
    if (!r->old_sync) {
        char line[96];
        int n = snprintf(line, sizeof(line), "+FULLRESYNC %s %lld\r\n", repl.replid, offset);
        reply_raw(R(r->c), line, (size_t)n);
        client_pending_write(r->c);
    }
}

/* Starts the snapshot every replica waiting for one will load. */
static void diskless_done(int ok);

/* The diskless snapshot's bytes go to every replica that waits for it. */
static void diskless_sink(const char *p, size_t len, void *ctx)
{
    (void)ctx;
    for (int i = 0; i < nreplicas; i++) {
        replica *r = replicas[i];
        if (r->diskless && r->state == RS_WAIT_BGSAVE_END && !(r->c->flags & CLIENT_CLOSE_ASAP)) {
            reply_raw(R(r->c), p, len);
            client_pending_write(r->c);
        }
    }
}

/* The walk waits while a replica has more than 8 MB of it unsent. */
static int diskless_throttle(void)
{
    for (int i = 0; i < nreplicas; i++) {
        replica *r = replicas[i];
        if (r->diskless && r->state == RS_WAIT_BGSAVE_END && rbuf_pending(&r->c->out) > (8u << 20)) {
            return 1;
        }
    }
    return 0;
}

/* 0 started, 1 not yet (repl-diskless-sync-delay), -1 failed. */
static int start_diskless(int waiting, long long offset)
{
    int delay_ms = server.cfg.repl_diskless_sync_delay * 1000;
    int enough =
        server.cfg.repl_diskless_sync_max_replicas > 0 && waiting >= server.cfg.repl_diskless_sync_max_replicas;
    if (delay_ms > 0 && !enough && server_ms() - first_waiting_ms < delay_ms) {
        return 1; /* more replicas may come to share it; cron asks again */
    }
    unsigned char raw[20];
    util_os_random(raw, sizeof(raw));
    for (int i = 0; i < 20; i++) {
        snprintf(eof_mark + i * 2, 3, "%02x", raw[i]);
    }
    if (snapshot_start_sink(diskless_sink, NULL, diskless_throttle, diskless_done) < 0) {
        return -1;
    }
    snap_for_replicas = snap_diskless = 1;
    log_msg(LOG_NOTICE, "Starting BGSAVE for SYNC with target: replicas sockets");
    for (int i = 0; i < nreplicas; i++) {
        replica *r = replicas[i];
        if (r->state == RS_WAIT_BGSAVE_START) {
            r->diskless = 1;
            fullresync_line(r, offset);
            char hdr[64];
            int n = snprintf(hdr, sizeof(hdr), "$EOF:%s\r\n", eof_mark);
            reply_raw(R(r->c), hdr, (size_t)n);
            client_pending_write(r->c);
        }
    }
    return 0;
}

static void start_snapshot(void)
{
    if (snapshot_running() || child_running() != CHILD_NONE) {
        return; /* again when it ends */
    }
    int waiting = 0, all_eof = 1;
    for (int i = 0; i < nreplicas; i++) {
        if (replicas[i]->state == RS_WAIT_BGSAVE_START) {
            waiting++;
            all_eof &= replicas[i]->capa_eof;
        }
    }
    if (!waiting) {
        return;
    }
    long long offset = repl.offset;
    /* Diskless when every waiting replica reads the EOF-mark form. */
    if (server.cfg.repl_diskless_sync && all_eof) {
        int rc = start_diskless(waiting, offset);
        if (rc == 0) {
            repl.seldb = -1; /* the stream after the snapshot starts with a SELECT */
        }
        if (rc >= 0) {
            return;
        }
    }
    repl.seldb = -1;
    if (persistence_bgsave() < 0) {
        for (int i = 0; i < nreplicas; i++) {
            if (replicas[i]->state == RS_WAIT_BGSAVE_START) {
                log_msg(LOG_WARNING, "BGSAVE for replication failed");
                client_close_async(replicas[i]->c);
            }
        }
        return;
    }
    snap_for_replicas = 1;
    snap_diskless = 0;
    log_msg(LOG_NOTICE, "Starting BGSAVE for SYNC with target: disk");
    for (int i = 0; i < nreplicas; i++) {
        if (replicas[i]->state == RS_WAIT_BGSAVE_START) {
            fullresync_line(replicas[i], offset);
        }
    }
}

static void write_bulk(ev_loop *l, int fd, void *data, int mask);

#define TLS_PIECE (64 * 1024)

/* Sends up to want bytes of the snapshot file from r->rdb_sent on; as
 * sendfile(2) returns. */
static ssize_t send_rdb(replica *r, int fd, size_t want)
{
    tls_conn *t = r->c->tls;
    if (!t) {
        return sendfile(fd, r->rdb_fd, &r->rdb_sent, want);
    }
    if (r->piece_sent == r->piece_len) {
        if (!r->piece) {
            r->piece = alloc_mem(TLS_PIECE);
        }
        ssize_t got = pread(r->rdb_fd, r->piece, want < TLS_PIECE ? want : TLS_PIECE, r->rdb_sent);
        if (got <= 0) {
            return got;
        }
        r->piece_len = (size_t)got;
        r->piece_sent = 0;
    }
    ssize_t n = tls_write(t, r->piece + r->piece_sent, r->piece_len - r->piece_sent);
    if (n > 0) {
        r->piece_sent += (size_t)n;
        r->rdb_sent += n;
    }
    return n;
}

/* The snapshot file is sent: write_bulk's file and event go. */
static void end_bulk(replica *r)
{
    if (r->rdb_fd >= 0) {
        close(r->rdb_fd);
        r->rdb_fd = -1;
    }
    if (r->state == RS_SEND_BULK) {
        ev_del(server.loop, r->c->fd, EV_WRITABLE);
    }
}

/* The snapshot was all an rdb-only replica (redis-cli --rdb) wanted: it
 * goes once that is written, as from Redis. */
static void rdb_only_done(replica *r)
{
    client *c = r->c;
    end_bulk(r);
    r->state = RS_RDB_SENT;
    stop_reading(r);
    log_msg(LOG_NOTICE, "RDB transfer completed, rdb only replica (%s) should be disconnected asap", c->addr);
    c->flags |= CLIENT_CLOSE_AFTER_REPLY;
    client_pending_write(c);
}

static void go_online(replica *r)
{
    client *c = r->c;
    if (r->rdb_only) {
        rdb_only_done(r);
        return;
    }
    end_bulk(r);
    r->state = RS_ONLINE;
    r->ack_ms = util_mono_us() / 1000;
    module_event_replica(1);
    if (repl_output_lag(c)) {
        client_pending_write(c);
    }
    log_msg(LOG_NOTICE, "Synchronization with replica %s succeeded", c->addr);
}

/* Sends what is left of the output buffer, the bulk header, then the file. */
static void write_bulk(ev_loop *l, int fd, void *data, int mask)
{
    (void)l;
    (void)mask;
    client *c = data; /* the fd's data is its client's, for both events */
    replica *r = c->rstate;
    while (rbuf_pending(&c->out)) {
        ssize_t n = conn_write(fd, c->tls, c->out.data + c->out.sent, rbuf_pending(&c->out));
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                return;
            }
            client_close_async(c);
            return;
        }
        c->out.sent += (size_t)n;
        server.stats.net_repl_output_bytes += n;
    }
    rbuf_compact(&c->out);
    while (r->hdr_sent < r->hdr_len) {
        ssize_t n = conn_write(fd, c->tls, r->hdr + r->hdr_sent, r->hdr_len - r->hdr_sent);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                return;
            }
            client_close_async(c);
            return;
        }
        r->hdr_sent += (size_t)n;
        server.stats.net_repl_output_bytes += n;
    }
    /* A bounded piece per event, so other clients are served meanwhile. */
    size_t budget = 1 << 20;
    while (r->rdb_sent < r->rdb_size && budget > 0) {
        size_t want = (size_t)(r->rdb_size - r->rdb_sent);
        want = want < budget ? want : budget;
        ssize_t n = send_rdb(r, fd, want);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                return;
            }
            log_msg(LOG_WARNING, "Write error sending DB to replica: %s", strerror(errno));
            client_close_async(c);
            return;
        }
        if (n == 0) {
            log_msg(LOG_WARNING, "Premature EOF reading the DB file for a replica");
            client_close_async(c);
            return;
        }
        budget -= (size_t)n;
        server.stats.net_repl_output_bytes += n;
    }
    if (r->rdb_sent == r->rdb_size) {
        go_online(r);
    }
}

static void diskless_done(int ok)
{
    snap_for_replicas = snap_diskless = 0;
    for (int i = 0; i < nreplicas; i++) {
        replica *r = replicas[i];
        if (!r->diskless || r->state != RS_WAIT_BGSAVE_END || (r->c->flags & CLIENT_CLOSE_ASAP)) {
            continue;
        }
        if (!ok) {
            log_msg(LOG_WARNING, "Diskless snapshot for replica %s failed", r->c->addr);
            client_close_async(r->c);
            continue;
        }
        reply_raw(R(r->c), eof_mark, 40);
        client_pending_write(r->c);
        if (r->rdb_only) {
            rdb_only_done(r); /* no ACK to wait for */
            continue;
        }
        r->state = RS_WAIT_ACK;
        r->ack_ms = util_mono_us() / 1000; /* its lag counts from here */
        log_msg(LOG_NOTICE,
                "Streamed RDB transfer with replica %s succeeded (socket). Waiting for REPLCONF ACK from replica to "
                "enable streaming",
                r->c->addr);
    }
    start_snapshot();
}

void repl_snapshot_done(int ok)
{
    if (!snap_for_replicas || snap_diskless) {
        return;
    }
    snap_for_replicas = 0;
    const char *path = server.cfg.dbfilename && server.cfg.dbfilename[0] ? server.cfg.dbfilename : "dump.rdb";
    for (int i = 0; i < nreplicas; i++) {
        replica *r = replicas[i];
        if (r->state != RS_WAIT_BGSAVE_END || (r->c->flags & CLIENT_CLOSE_ASAP)) {
            continue;
        }
        struct stat st;
        int fd = ok ? open(path, O_RDONLY | O_CLOEXEC) : -1;
        if (fd < 0 || fstat(fd, &st) < 0) {
            log_msg(LOG_WARNING, "SYNC failed. BGSAVE child returned an error");
            if (fd >= 0) {
                close(fd);
            }
            client_close_async(r->c);
            continue;
        }
        r->rdb_fd = fd;
        r->rdb_size = st.st_size;
        r->rdb_sent = 0;
        r->hdr_len = (size_t)snprintf(r->hdr, sizeof(r->hdr), "$%lld\r\n", (long long)st.st_size);
        r->hdr_sent = 0;
        r->state = RS_SEND_BULK;
        ev_add(server.loop, r->c->fd, EV_WRITABLE, write_bulk, r->c);
    }
    /* Replicas that arrived while it ran need a snapshot of their own. */
    start_snapshot();
}

/* ---- SYNC / PSYNC ---- */

/* A replica that asked for a snapshot without keys (REPLCONF
 * rdb-filter-only) gets it at once: a few bytes of header and function
 * libraries, made in memory and sent as a bulk, never shared with the
 * others' snapshot. */
static void send_without_keys(replica *r)
{
    client *c = r->c;
    str rdb = rdb_snapshot_no_keys(r->with_functions);
    if (!rdb) {
        log_msg(LOG_WARNING, "SYNC failed: could not write the filtered snapshot for replica %s", c->addr);
        client_close_async(c);
        return;
    }
    repl.seldb = -1; /* the stream after it starts with a SELECT */
    fullresync_line(r, repl.offset);
    char hdr[32];
    int n = snprintf(hdr, sizeof(hdr), "$%zu\r\n", str_len(rdb));
    reply_raw(R(c), hdr, (size_t)n);
    reply_raw(R(c), rdb, str_len(rdb));
    client_pending_write(c);
    server.stats.net_repl_output_bytes += n + (long long)str_len(rdb);
    str_free(rdb);
    log_msg(LOG_NOTICE, "Sending a snapshot without keys (%s) to replica %s",
            r->with_functions ? "function libraries only" : "empty", c->addr);
    go_online(r);
}

static int try_partial(client *c, replica *r)
{
    sv id = c->argv[1];
    long long off;
    if (!util_parse_ll(c->argv[2].ptr, c->argv[2].len, &off)) {
        return 0;
    }
    int same = id.len == 40 && memcmp(id.ptr, repl.replid, 40) == 0;
    int older = id.len == 40 && repl.replid2[0] && memcmp(id.ptr, repl.replid2, 40) == 0 && off <= repl.second_offset;
    if (!same && !older) {
        if (!(id.len == 1 && id.ptr[0] == '?')) {
            log_msg(LOG_NOTICE,
                    "Partial resynchronization not accepted: Replication ID mismatch (Replica asked for '%.*s', my "
                    "replication IDs are '%s' and '%s')",
                    (int)(id.len < 64 ? id.len : 64), id.ptr, repl.replid, repl.replid2);
        }
        return 0;
    }
    if (!repl.bl || !backlog_has(repl.bl, off)) {
        log_msg(LOG_NOTICE, "Unable to partial resync with replica %s for lack of backlog (Replica request was: %lld).",
                c->addr, off);
        return 0;
    }
    unsigned long long hard = client_obuf_hard(c);
    if (hard && (unsigned long long)(repl.offset + 1 - off) >= hard) {
        /* It would be over its output limit at once, dropped, and back. */
        log_msg(LOG_NOTICE,
                "Unable to partial resync with replica %s: the %lld bytes it lacks exceed its output buffer limit.",
                c->addr, repl.offset + 1 - off);
        return 0;
    }
    char line[96];
    int n = r->capa_psync2 ? snprintf(line, sizeof(line), "+CONTINUE %s\r\n", repl.replid)
                           : snprintf(line, sizeof(line), "+CONTINUE\r\n");
    reply_raw(R(c), line, (size_t)n);
    r->state = RS_ONLINE;
    r->ack_ms = util_mono_us() / 1000;
    module_event_replica(1);
    start_reading(r, off);
    client_pending_write(c);
    log_msg(
        LOG_NOTICE,
        "Partial resynchronization request from %s accepted. Sending %lld bytes of backlog starting from offset %lld.",
        c->addr, repl.offset + 1 - off, off);
    return 1;
}

void cmd_sync_impl(client *c, int psync)
{
    if (c->flags & CLIENT_REPLICA) {
        return; /* already one: ignore, as Redis */
    }
    /* PSYNC ... FAILOVER: our primary hands over to us (FAILOVER TO). */
    if (psync && c->argc > 3 && arg_is(c, 3, "FAILOVER")) {
        if (c->argv[1].len != 40 || memcmp(c->argv[1].ptr, repl.replid, 40) != 0) {
            reply_err(c, "ERR PSYNC FAILOVER replid must match my replid.");
            return;
        }
        log_msg(LOG_NOTICE, "Failover request received for replid %s.", repl.replid);
        repl_set_primary(NULL, 0);
    }
    if (repl_is_replica() && !repl_link_up()) {
        reply_err(c, "NOMASTERLINK Can't SYNC while not connected with my master");
        return;
    }
    if (rbuf_pending(&c->out)) {
        /* Replies still queued would be read as part of the stream. */
        reply_err(c, "ERR SYNC and PSYNC are invalid with pending output");
        return;
    }
    replica *r = replica_of(c, 1);
    if (r->no_keys && !r->capa_eof) {
        /* (Redis sends these through sockets only, with the EOF mark.) */
        reply_err(c, "ERR Filtered replica requires EOF capability");
        return;
    }
    log_msg(LOG_NOTICE, "Replica %s asks for synchronization", c->addr);
    long long offset;
    if (psync && !util_parse_ll(c->argv[2].ptr, c->argv[2].len, &offset)) {
        /* Refused before it becomes a replica, as Redis does. */
        log_msg(LOG_WARNING, "Replica %s asks for synchronization but with a wrong offset", c->addr);
        reply_err(c, "ERR value is not an integer or out of range");
        return;
    }
    c->flags |= CLIENT_REPLICA;
    replicas = alloc_resize(replicas, sizeof(replica *) * (size_t)(nreplicas + 1));
    replicas[nreplicas++] = r;
    if (psync) {
        if (try_partial(c, r)) {
            sync_partial_ok++;
            return;
        }
        if (!(c->argv[1].len == 1 && c->argv[1].ptr[0] == '?')) {
            sync_partial_err++;
        }
    } else {
        r->old_sync = 1; /* no +FULLRESYNC, no PSYNC stream features */
    }
    sync_full++;
    repl_ensure_backlog();
    if (r->no_keys) {
        send_without_keys(r);
        return;
    }
    int others_waiting = 0;
    for (int i = 0; i < nreplicas; i++) {
        others_waiting += replicas[i] != r && replicas[i]->state == RS_WAIT_BGSAVE_START;
    }
    if (!others_waiting) {
        first_waiting_ms = server_ms();
    }
    r->state = RS_WAIT_BGSAVE_START;
    /* A snapshot already running for replicas: join it, with a copy of the
     * stream another waiting replica has collected since it began. */
    if (snap_for_replicas && !snap_diskless) {
        for (int i = 0; i < nreplicas; i++) {
            replica *o = replicas[i];
            if (o != r && o->state == RS_WAIT_BGSAVE_END) {
                fullresync_line(r, o->initial_offset); /* o keeps the stream since then */
                log_msg(LOG_NOTICE, "Waiting for end of BGSAVE for SYNC");
                return;
            }
        }
    }
    start_snapshot();
}

/* REPLCONF rdb-filter-only "<filter> ...": what to keep of the snapshot,
 * whose keys always go; "functions" (the only filter) keeps the function
 * libraries, none ("") keeps nothing. Returns 0 after an error reply. */
static int replconf_filter(client *c, sv filters)
{
    str buf = NULL;
    size_t *off = NULL, *lens = NULL, cap = 0;
    long n = resp_split_args(filters.ptr, filters.len, &buf, &off, &lens, &cap);
    int ok = n >= 0, functions = 0;
    if (!ok) {
        reply_err(c, "ERR Missing rdb-filter-only values");
    }
    for (long i = 0; ok && i < n; i++) {
        sv f = {buf + off[i], lens[i]};
        if (sv_eq_ci(f, "functions")) {
            functions = 1;
        } else {
            reply_errf(c, "ERR Unsupported rdb-filter-only option: %.*s", (int)(f.len < 128 ? f.len : 128), f.ptr);
            ok = 0;
        }
    }
    if (ok) {
        replica *r = replica_of(c, 1);
        r->no_keys = 1;
        r->with_functions = functions;
    }
    str_free(buf);
    alloc_free(off);
    alloc_free(lens);
    return ok;
}

/* REPLCONF <option> <value> ... */
void repl_replconf(client *c)
{
    if (c->argc % 2 == 0) {
        reply_syntax_error(c);
        return;
    }
    for (int i = 1; i < c->argc; i += 2) {
        if (arg_is(c, i, "listening-port")) {
            long long port;
            if (!arg_ll_range(c, i + 1, 0, 65535, &port, NULL)) {
                return;
            }
            replica_of(c, 1)->listening_port = (int)port;
        } else if (arg_is(c, i, "ip-address")) {
            replica *r = replica_of(c, 1);
            sv v = c->argv[i + 1];
            size_t n = v.len < sizeof(r->announce_ip) - 1 ? v.len : sizeof(r->announce_ip) - 1;
            memcpy(r->announce_ip, v.ptr, n);
            r->announce_ip[n] = '\0';
        } else if (arg_is(c, i, "capa")) {
            if (arg_is(c, i + 1, "eof")) {
                replica_of(c, 1)->capa_eof = 1;
            } else if (arg_is(c, i + 1, "psync2")) {
                replica_of(c, 1)->capa_psync2 = 1;
            }
        } else if (arg_is(c, i, "ack") || arg_is(c, i, "fack")) {
            /* From a replica, no reply: the offset it has applied, and
             * (FACK, Redis 7.2) how much of it its AOF has on disk. */
            replica *r = c->rstate;
            long long off, foff;
            if (r && (c->flags & CLIENT_REPLICA) && arg_is(c, i, "ack") &&
                util_parse_ll(c->argv[i + 1].ptr, c->argv[i + 1].len, &off)) {
                if (off > r->ack_off) {
                    r->ack_off = off;
                }
                if (i + 3 < c->argc && arg_is(c, i + 2, "fack") &&
                    util_parse_ll(c->argv[i + 3].ptr, c->argv[i + 3].len, &foff) && foff > r->fack_off) {
                    r->fack_off = foff;
                }
                r->ack_ms = util_mono_us() / 1000;
                if (r->state == RS_WAIT_ACK) {
                    go_online(r);
                }
                repl_wait_check();
            }
            return;
        } else if (arg_is(c, i, "getack")) {
            if (c->flags & CLIENT_MASTER) {
                repl_ack_requested();
            }
            return;
        } else if (arg_is(c, i, "rdb-only")) {
            long long v;
            if (!arg_ll(c, i + 1, &v)) {
                return;
            }
            if (v < 0 || v > 1) {
                reply_err(c, "ERR value is out of range, value must between 0 and 1");
                return;
            }
            replica_of(c, 1)->rdb_only = (int)v;
        } else if (arg_is(c, i, "rdb-filter-only")) {
            if (!replconf_filter(c, c->argv[i + 1])) {
                return;
            }
        } else {
            reply_errf(c, "ERR Unrecognized REPLCONF option: %.*s", (int)(c->argv[i].len < 128 ? c->argv[i].len : 128),
                       c->argv[i].ptr);
            return;
        }
    }
    reply_ok(R(c));
}

/* ---- WAIT ---- */

/* Online replicas that have applied (or, aof, have on disk) offset. */
static long long acked(long long offset, int aof)
{
    long long n = 0;
    for (int i = 0; i < nreplicas; i++) {
        replica *r = replicas[i];
        n += r->state == RS_ONLINE && (aof ? r->fack_off : r->ack_off) >= offset;
    }
    return n;
}

static void wait_remove(int i)
{
    if (waiters[i].timer) {
        ev_timer_del(server.loop, waiters[i].timer);
    }
    naof_waiters -= waiters[i].aof;
    waiters[i] = waiters[--nwaiters];
}

/* WAITAOF's reply: [the local log has it (0|1), replicas' logs that have it] */
static void reply_waitaof(client *c, long long aof_seq, long long offset)
{
    reply_array(R(c), 2);
    reply_int(R(c), aof_synced_through(aof_seq));
    reply_int(R(c), acked(offset, 1));
}

static int wait_satisfied(const waiter *w)
{
    if (w->aof && w->want_local && !aof_synced_through(w->aof_seq)) {
        return 0;
    }
    return acked(w->offset, w->aof) >= w->want;
}

/* Ends waiter i: with the counts, or with err (a failed call). */
static void wait_finish(int i, const char *err)
{
    waiter w = waiters[i];
    client *c = w.c;
    wait_remove(i);
    c->flags &= ~CLIENT_BLOCKED;
    if (err) {
        reply_err_to_blocked(c, c->cmd, err);
    } else if (w.aof) {
        reply_waitaof(c, w.aof_seq, w.offset);
    } else {
        reply_int(R(c), acked(w.offset, 0));
    }
    client_resume(c);
}

static void wait_forget(client *c)
{
    for (int i = 0; i < nwaiters; i++) {
        if (waiters[i].c == c) {
            wait_remove(i);
            return;
        }
    }
}

/* CLIENT UNBLOCK, or the instance becoming a replica: a WAIT or WAITAOF
 * ends now, with err or with the counts so far. */
static int wait_end_early(client *c, const char *err)
{
    for (int i = 0; i < nwaiters; i++) {
        if (waiters[i].c == c) {
            wait_finish(i, err);
            return 1;
        }
    }
    return 0;
}

static long wait_deadline(ev_loop *l, long long id, void *data)
{
    (void)l;
    for (int i = 0; i < nwaiters; i++) {
        if (waiters[i].timer == id && waiters[i].c == data) {
            waiters[i].timer = 0; /* the loop removes this timer */
            wait_finish(i, NULL);
            break;
        }
    }
    return -1;
}

void repl_request_acks(void)
{
    need_getack = 1;
}

int repl_find_replica(const char *host, int port, int *online)
{
    for (int i = 0; i < nreplicas; i++) {
        char ip[128];
        if (replicas[i]->listening_port == port && strcmp(replica_ip(replicas[i], ip, sizeof(ip)), host) == 0) {
            *online = replicas[i]->state == RS_ONLINE;
            return 1;
        }
    }
    return 0;
}

int repl_replica_caught_up(const char *host, int port, char *out, size_t outlen, int *out_port)
{
    for (int i = 0; i < nreplicas; i++) {
        replica *r = replicas[i];
        char ip[128];
        const char *rip = replica_ip(r, ip, sizeof(ip));
        if (r->state != RS_ONLINE || r->ack_off != repl.offset ||
            (host && (r->listening_port != port || strcmp(rip, host) != 0))) {
            continue;
        }
        snprintf(out, outlen, "%s", rip);
        *out_port = r->listening_port;
        return 1;
    }
    return 0;
}

void repl_wait_check(void)
{
    repl_failover_check();
    for (int i = 0; i < nwaiters;) {
        if (wait_satisfied(&waiters[i])) {
            wait_finish(i, NULL);
        } else {
            i++;
        }
    }
}

void repl_wait_aof_check(void)
{
    if (naof_waiters) {
        repl_wait_check();
    }
}

/* Blocks c until w is satisfied or the timeout ends; contexts that cannot
 * block (MULTI, scripts) get the count at once. */
static void wait_block(client *c, waiter w, long long timeout_ms)
{
    if (wait_satisfied(&w) || (c->flags & (CLIENT_MULTI | CLIENT_IN_EXEC | CLIENT_IN_SCRIPT)) || server.in_script) {
        if (w.aof) {
            reply_waitaof(c, w.aof_seq, w.offset);
        } else {
            reply_int(R(c), acked(w.offset, 0));
        }
        return;
    }
    if (nwaiters == cap_waiters) {
        cap_waiters = cap_waiters ? cap_waiters * 2 : 4;
        waiters = alloc_resize(waiters, sizeof(waiter) * (size_t)cap_waiters);
    }
    w.c = c;
    w.timer = timeout_ms > 0 ? ev_timer_add(server.loop, (long)timeout_ms, wait_deadline, c) : 0;
    waiters[nwaiters++] = w;
    naof_waiters += w.aof;
    c->flags |= CLIENT_BLOCKED;
    if (w.want > 0) {
        need_getack = 1;
    }
}

void repl_wait(client *c, long long numreplicas, long long timeout_ms)
{
    wait_block(c, (waiter){.offset = repl.offset, .want = numreplicas}, timeout_ms);
}

void repl_waitaof(client *c, int numlocal, long long numreplicas, long long timeout_ms)
{
    wait_block(
        c, (waiter){.offset = repl.offset, .want = numreplicas, .aof = 1, .want_local = numlocal, .aof_seq = aof_fed()},
        timeout_ms);
}

void repl_before_sleep(void)
{
    if (need_getack) {
        need_getack = 0;
        sv argv[3] = {SV("REPLCONF"), SV("GETACK"), SV("*")};
        feed_control(argv, 3);
    }
}

/* ---- state for INFO, ROLE, CLIENT LIST ---- */

static const char *state_name(int s)
{
    switch (s) {
    case RS_WAIT_BGSAVE_START:
    case RS_WAIT_BGSAVE_END: return "wait_bgsave";
    case RS_SEND_BULK: return "send_bulk";
    case RS_WAIT_ACK: /* as Redis shows it */
    case RS_ONLINE: return "online";
    case RS_RDB_SENT: return "rdb_transmitted";
    }
    return "none";
}

int repl_replicas_in_sync(int *total, int log_lagging)
{
    int in_sync = 0;
    for (int i = 0; i < nreplicas; i++) {
        replica *r = replicas[i];
        if (r->ack_off == repl.offset) {
            in_sync++;
        } else if (log_lagging) {
            char ip[128];
            long lag = r->state == RS_ONLINE ? (long)((util_mono_us() / 1000 - r->ack_ms) / 1000) : 0;
            log_msg(LOG_WARNING, "Lagging replica %s:%d reported offset %lld behind master, lag=%ld, state=%s.",
                    replica_ip(r, ip, sizeof(ip)), r->listening_port, repl.offset - r->ack_off, lag,
                    state_name(r->state));
        }
    }
    *total = nreplicas;
    return in_sync;
}

const char *replica_ip(replica *r, char *buf, size_t len)
{
    if (r->announce_ip[0]) {
        return r->announce_ip;
    }
    snprintf(buf, len, "%s", r->c->addr);
    char *colon = strrchr(buf, ':');
    if (colon) {
        *colon = '\0';
    }
    if (buf[0] == '[') {
        memmove(buf, buf + 1, strlen(buf));
        char *b = strchr(buf, ']');
        if (b) {
            *b = '\0';
        }
    }
    return buf;
}

int repl_good_replicas(void)
{
    int n = 0;
    int64_t now = util_mono_us() / 1000;
    for (int i = 0; i < nreplicas; i++) {
        replica *r = replicas[i];
        /* One that has its snapshot is good while its first ACK is on the
         * way, as Redis counts it online from then. */
        int online = r->state == RS_ONLINE || r->state == RS_WAIT_ACK;
        n += online && (now - r->ack_ms) / 1000 <= server.cfg.min_replicas_max_lag;
    }
    return n;
}

const char *repl_refuses_writes(void)
{
    if (server.cfg.min_replicas_to_write > 0 && server.cfg.min_replicas_max_lag > 0 && !repl_is_replica() &&
        repl_good_replicas() < server.cfg.min_replicas_to_write) {
        return "NOREPLICAS Not enough good replicas to write.";
    }
    return NULL;
}

void repl_primary_info(str *s)
{
    *s = str_printf(*s, "connected_slaves:%d\r\n", nreplicas);
    if (server.cfg.min_replicas_to_write > 0 && server.cfg.min_replicas_max_lag > 0) {
        *s = str_printf(*s, "min_slaves_good_slaves:%d\r\n", repl_good_replicas());
    }
    int64_t now = util_mono_us() / 1000;
    for (int i = 0; i < nreplicas; i++) {
        replica *r = replicas[i];
        char ip[128];
        *s = str_printf(*s, "slave%d:ip=%s,port=%d,state=%s,offset=%lld,lag=%lld\r\n", i, replica_ip(r, ip, sizeof(ip)),
                        r->listening_port, state_name(r->state), r->ack_off, (long long)((now - r->ack_ms) / 1000));
    }
}

void repl_role_replicas(client *c)
{
    int n = 0;
    for (int i = 0; i < nreplicas; i++) {
        n += replicas[i]->state == RS_ONLINE;
    }
    reply_array(R(c), n);
    for (int i = 0; i < nreplicas; i++) {
        replica *r = replicas[i];
        if (r->state != RS_ONLINE) {
            continue;
        }
        char ip[128];
        reply_array(R(c), 3);
        reply_bulk_cstr(R(c), replica_ip(r, ip, sizeof(ip)));
        reply_bulk_ll(R(c), r->listening_port);
        reply_bulk_ll(R(c), r->ack_off);
    }
}

str repl_sync_stats(str s)
{
    return str_printf(s, "sync_full:%lld\r\nsync_partial_ok:%lld\r\nsync_partial_err:%lld\r\n", sync_full,
                      sync_partial_ok, sync_partial_err);
}

void repl_sync_stats_reset(void)
{
    sync_full = sync_partial_ok = sync_partial_err = 0;
}

void repl_drop_replicas(void)
{
    for (int i = 0; i < nreplicas; i++) {
        client_close_async(replicas[i]->c);
    }
}

/* ---- cron ---- */

void repl_primary_cron(void)
{
    static int64_t last_ping;
    int64_t now = server_ms();
    if (nreplicas == 0 || last_ping == 0) {
        last_ping = now; /* the first PING comes a period after a replica attaches */
    } else if (now - last_ping >= (int64_t)server.cfg.repl_ping_replica_period * 1000 && !pause_writes_active()) {
        /* (not while writes are paused: the offset stands still then) */
        last_ping = now;
        sv ping = SV("PING");
        feed_control(&ping, 1);
    }
    /* Replicas that went silent (no ack for repl-timeout) are dropped. */
    for (int i = 0; i < nreplicas; i++) {
        replica *r = replicas[i];
        if (r->state == RS_ONLINE && util_mono_us() / 1000 - r->ack_ms > (int64_t)server.cfg.repl_timeout * 1000 &&
            !(r->c->flags & CLIENT_CLOSE_ASAP)) {
            log_msg(LOG_WARNING, "Disconnecting timedout replica (streaming sync): %s", r->c->addr);
            client_close_async(r->c);
        }
    }
    repl_failover_check();
    /* Snapshots for replicas that waited for a busy one. */
    if (!snap_for_replicas) {
        start_snapshot();
    }
    /* A backlog nobody has used for repl-backlog-ttl is freed (as Redis;
     * never on a replica, whose backlog is its history). */
    if (repl.bl && nreplicas == 0 && !repl_is_replica() && server.cfg.repl_backlog_ttl > 0 &&
        now - no_replicas_since_ms > server.cfg.repl_backlog_ttl * 1000) {
        backlog_free(repl.bl);
        repl.bl = NULL;
        repl_new_id();
        repl.replid2[0] = '\0';
        repl.second_offset = -1;
        log_msg(LOG_NOTICE, "Replication backlog freed after %lld seconds without connected replicas.",
                server.cfg.repl_backlog_ttl);
    }
}

void repl_primary_init(void)
{
    client_register_cleanup(replica_cleanup);
    block_register_unblocker(wait_end_early);
    no_replicas_since_ms = server_ms();
}
