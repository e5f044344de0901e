/* replica: the link to our primary. REPLICAOF starts it; a handshake (PING,
 * AUTH, REPLCONF, PSYNC) asks to continue our history from its offset, and
 * the primary either continues (+CONTINUE) or sends a snapshot
 * (+FULLRESYNC, then the RDB as a sized bulk or with an EOF mark), which is
 * written to a temporary file and loaded whole, or (repl-diskless-load)
 * loaded as it arrives, before the link becomes the master client. The
 * master client's commands run like any client's but reply to nobody; the
 * bytes they came in are passed on unchanged to our own replicas and the
 * backlog, so offsets stay the primary's. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "module/module.h"
#include "net/conn.h"
#include "net/sock.h"
#include "persist/aof.h"
#include "persist/rdb.h"
#include "persist/snapshot.h"
#include "repl/repl.h"
#include "server/block.h"
#include "server/oom_score.h"
#include "server/persistence.h"

enum { LINK_NONE, LINK_CONNECT, LINK_CONNECTING, LINK_HANDSHAKE, LINK_TRANSFER, LINK_CONNECTED };
/* Handshake steps, in order; each sends one command and reads one line. */
enum { HS_PING, HS_AUTH, HS_PORT, HS_IP, HS_CAPA, HS_PSYNC, HS_DONE };

#define EOF_MARK_LEN 40
#define LINE_MAX_LEN 4096

static struct {
    char host[256];
    int port;
    int state;
    int step;
    int fd;
    tls_conn *tls;      /* tls-replication: the link is TLS (NULL: plain) */
    str in;             /* bytes read and not yet consumed */
    int64_t last_io_ms; /* last byte from the primary */
    int64_t down_since_ms;
    client *master;
    /* Full sync. */
    char new_replid[41];
    long long new_offset;
    int have_header;
    int eof_mode;
    char eof_mark[EOF_MARK_LEN];
    char tail[EOF_MARK_LEN];
    long long size, done;
    int tmp_fd;
    char tmp_path[64];
    int diskless;      /* this transfer is loaded from the socket */
    int loading;       /* ...and the load is running (its reads watch the timeout) */
    unsigned long gen; /* counts connections closed: a load sees its own go */
    int64_t sync_start_ms;
    /* The master client's stream inside MULTI waits for EXEC. */
    str multi_bytes;
    int ack_now;
    long long fack_sent; /* the last FACK offset sent (-1: none) */
    int psync_failover;  /* this handshake's PSYNC carries FAILOVER */
} lnk = {.fd = -1, .tmp_fd = -1, .fack_sent = -1};

int repl_is_replica(void)
{
    return lnk.state != LINK_NONE;
}

int repl_link_up(void)
{
    return lnk.state == LINK_CONNECTED;
}

static void link_read(ev_loop *l, int fd, void *data, int mask);

/* Drops the connection (not the master client) and the transfer file. */
static void link_close(void)
{
    lnk.gen++;
    if (lnk.fd >= 0) {
        ev_del(server.loop, lnk.fd, EV_READABLE | EV_WRITABLE);
        tls_conn_free(lnk.tls);
        lnk.tls = NULL;
        close(lnk.fd);
        lnk.fd = -1;
    }
    if (lnk.tmp_fd >= 0) {
        close(lnk.tmp_fd);
        lnk.tmp_fd = -1;
        unlink(lnk.tmp_path);
    }
    str_free(lnk.in);
    lnk.in = NULL;
}

static void link_retry(const char *why)
{
    if (why) {
        log_msg(LOG_WARNING, "%s", why);
    }
    link_close();
    if (lnk.state != LINK_NONE) {
        lnk.state = LINK_CONNECT;
    }
    if (lnk.psync_failover) {
        lnk.psync_failover = 0;
        repl_failover_psync_result(0); /* back to being a primary */
    }
}

static void send_cmd_sv(int argc, const sv *v)
{
    str out = resp_append_command(str_empty(128), v, argc);
    /* Handshake commands are tiny: a fresh socket takes them whole (one
     * TLS record too). */
    ssize_t n = conn_write(lnk.fd, lnk.tls, out, str_len(out));
    if (n != (ssize_t)str_len(out)) {
        str_free(out);
        link_retry("Error sending a command to MASTER during the handshake");
        return;
    }
    str_free(out);
}

static void send_cmd(int argc, const char **argv)
{
    sv v[8];
    for (int i = 0; i < argc && i < 8; i++) {
        v[i] = (sv){argv[i], strlen(argv[i])};
    }
    send_cmd_sv(argc < 8 ? argc : 8, v);
}

/* Sends the command of the current step (skipping the ones not needed). */
static void handshake_send(void)
{
    char a[32], b[32];
    for (;;) {
        switch (lnk.step) {
        case HS_PING: send_cmd(1, (const char *[]){"PING"}); return;
        case HS_AUTH:
            if (!server.cfg.masterauth || !str_len(server.cfg.masterauth)) {
                lnk.step++;
                continue;
            }
            {
                /* masterauth is a str: a binary password goes whole. */
                sv pw = {server.cfg.masterauth, str_len(server.cfg.masterauth)};
                if (server.cfg.masteruser && server.cfg.masteruser[0]) {
                    send_cmd_sv(3, (sv[]){SV("AUTH"), {server.cfg.masteruser, strlen(server.cfg.masteruser)}, pw});
                } else {
                    send_cmd_sv(2, (sv[]){SV("AUTH"), pw});
                }
            }
            return;
        case HS_PORT:
            /* Over TLS the port our own replicas would reach is tls-port. */
            snprintf(a, sizeof(a), "%d",
                     server.cfg.replica_announce_port                    ? server.cfg.replica_announce_port
                     : server.cfg.tls_replication && server.cfg.tls_port ? server.cfg.tls_port
                                                                         : server.cfg.port);
            send_cmd(3, (const char *[]){"REPLCONF", "listening-port", a});
            return;
        case HS_IP:
            if (!server.cfg.replica_announce_ip || !server.cfg.replica_announce_ip[0]) {
                lnk.step++;
                continue;
            }
            send_cmd(3, (const char *[]){"REPLCONF", "ip-address", server.cfg.replica_announce_ip});
            return;
        case HS_CAPA: send_cmd(5, (const char *[]){"REPLCONF", "capa", "eof", "capa", "psync2"}); return;
        case HS_PSYNC:
            if (repl.bl && repl.replid[0]) {
                snprintf(a, sizeof(a), "%lld", repl.offset + 1);
                if (lnk.psync_failover) {
                    send_cmd(4, (const char *[]){"PSYNC", repl.replid, a, "FAILOVER"});
                } else {
                    send_cmd(3, (const char *[]){"PSYNC", repl.replid, a});
                }
                log_msg(LOG_NOTICE, "Trying a partial resynchronization (request %s:%s).", repl.replid, a);
            } else {
                snprintf(b, sizeof(b), "-1");
                send_cmd(3, (const char *[]){"PSYNC", "?", b});
                log_msg(LOG_NOTICE, "Partial resynchronization not possible (no cached master)");
            }
            return;
        }
        return;
    }
}

static void become_connected(const char *rest, size_t len);
static void transfer_bytes(const char *p, size_t len);

/* repl-diskless-load: swapdb always loads from the socket (into databases
 * of its own), on-empty-db only when there is nothing to lose. */
static int diskless_load_wanted(void)
{
    const char *how = server.cfg.repl_diskless_load;
    if (strcmp(how, "swapdb") == 0) {
        return 1;
    }
    if (strcmp(how, "on-empty-db") != 0) {
        return 0;
    }
    for (int i = 0; i < server.cfg.databases; i++) {
        if (db_size(&server.dbs[i]) > 0) {
            return 0;
        }
    }
    return 1;
}

/* The reply of one handshake step. Returns 0 when the link was dropped. */
static int handshake_reply(const char *line)
{
    switch (lnk.step) {
    case HS_PING:
        if (line[0] != '+' && strncmp(line, "-NOAUTH", 7) != 0 && strncmp(line, "-NOPERM", 7) != 0 &&
            strncmp(line, "-ERR operation not permitted", 28) != 0) {
            char msg[LINE_MAX_LEN + 128];
            snprintf(msg, sizeof(msg), "Error reply to PING from master: '%s'", line);
            link_retry(msg);
            return 0;
        }
        log_msg(LOG_NOTICE, "Master replied to PING, replication can continue...");
        break;
    case HS_AUTH:
        if (line[0] == '-') {
            char msg[LINE_MAX_LEN + 128];
            snprintf(msg, sizeof(msg), "Unable to AUTH to MASTER: %s", line);
            link_retry(msg);
            return 0;
        }
        break;
    case HS_PORT:
    case HS_IP:
    case HS_CAPA:
        if (line[0] == '-') {
            log_msg(LOG_NOTICE, "(Non critical) Master does not understand REPLCONF: %s", line);
        }
        break;
    case HS_PSYNC:
        if (strncmp(line, "+FULLRESYNC ", 12) == 0) {
            const char *id = line + 12;
            const char *sp = strchr(id, ' ');
            if (!sp || sp - id != 40) {
                link_retry("Master replied with wrong +FULLRESYNC syntax.");
                return 0;
            }
            memcpy(lnk.new_replid, id, 40);
            lnk.new_replid[40] = '\0';
            lnk.new_offset = strtoll(sp + 1, NULL, 10);
            log_msg(LOG_NOTICE, "Full resync from master: %s:%lld", lnk.new_replid, lnk.new_offset);
            if (lnk.psync_failover) {
                lnk.psync_failover = 0;
                repl_failover_psync_result(1);
            }
            lnk.state = LINK_TRANSFER;
            lnk.have_header = 0;
            lnk.done = 0;
            lnk.sync_start_ms = server_ms();
            lnk.diskless = diskless_load_wanted();
            if (lnk.diskless) {
                return 1;
            }
            snprintf(lnk.tmp_path, sizeof(lnk.tmp_path), "temp-%lld.%d.rdb", (long long)(server_ms() / 1000),
                     (int)getpid());
            lnk.tmp_fd = open(lnk.tmp_path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
            if (lnk.tmp_fd < 0) {
                char msg[256];
                snprintf(msg, sizeof(msg), "Opening the temp file needed for MASTER <-> REPLICA synchronization: %s",
                         strerror(errno));
                link_retry(msg);
                return 0;
            }
            return 1;
        }
        if (strncmp(line, "+CONTINUE", 9) == 0) {
            const char *id = line + 9;
            while (*id == ' ') {
                id++;
            }
            if (strlen(id) >= 40 && memcmp(id, repl.replid, 40) != 0) {
                /* The primary's history has a new name (a failover):
                 * ours continues it. */
                memcpy(repl.replid2, repl.replid, 41);
                repl.second_offset = repl.offset + 1;
                memcpy(repl.replid, id, 40);
                repl.replid[40] = '\0';
                log_msg(LOG_NOTICE, "Master replication ID changed to %s", repl.replid);
                /* Our replicas learn the new ID by reconnecting. */
                repl_drop_replicas();
            }
            log_msg(LOG_NOTICE, "Successful partial resynchronization with master.");
            if (lnk.psync_failover) {
                lnk.psync_failover = 0;
                repl_failover_psync_result(1);
            }
            lnk.state = LINK_CONNECTED;
            module_event_master_link(1);
            return 1;
        }
        if (strncmp(line, "-NOMASTERLINK", 13) == 0 || strncmp(line, "-LOADING", 8) == 0) {
            char msg[LINE_MAX_LEN + 128];
            snprintf(msg, sizeof(msg), "Master is currently unable to PSYNC but should be in the future: %s", line);
            link_retry(msg);
            return 0;
        }
        {
            char msg[LINE_MAX_LEN + 128];
            snprintf(msg, sizeof(msg), "Unexpected reply to PSYNC from master: %s", line);
            link_retry(msg);
        }
        return 0;
    }
    lnk.step++;
    handshake_send();
    return lnk.fd >= 0;
}

/* Consumes lines of the handshake from lnk.in. */
static void handshake_input(void)
{
    size_t pos = 0;
    while (lnk.state == LINK_HANDSHAKE) {
        char *nl = memchr(lnk.in + pos, '\n', str_len(lnk.in) - pos);
        if (!nl) {
            if (str_len(lnk.in) - pos > LINE_MAX_LEN) {
                link_retry("Reply line from MASTER too long");
                return;
            }
            break;
        }
        size_t n = (size_t)(nl - (lnk.in + pos));
        char line[LINE_MAX_LEN + 1];
        n = n < LINE_MAX_LEN ? n : LINE_MAX_LEN;
        memcpy(line, lnk.in + pos, n);
        if (n && line[n - 1] == '\r') {
            n--;
        }
        line[n] = '\0';
        pos = (size_t)(nl - lnk.in) + 1;
        if (n == 0) {
            continue; /* keepalive newline */
        }
        if (!handshake_reply(line)) {
            return;
        }
    }
    if (!lnk.in) {
        return;
    }
    size_t rest = str_len(lnk.in) - pos;
    if (lnk.state == LINK_TRANSFER) {
        str in = lnk.in;
        lnk.in = NULL;
        transfer_bytes(in + pos, rest);
        str_free(in);
    } else if (lnk.state == LINK_CONNECTED) {
        str in = lnk.in;
        lnk.in = NULL;
        become_connected(in + pos, rest);
        str_free(in);
    } else {
        memmove(lnk.in, lnk.in + pos, rest);
        str_set_len(lnk.in, rest);
    }
}

/* ---- the snapshot ---- */

static void transfer_done(void);
static void diskless_load(const char *p, size_t len);

static void transfer_bytes(const char *p, size_t len)
{
    while (len > 0 && !lnk.have_header) {
        /* "$<size>\r\n" or "$EOF:<40 bytes>\r\n", after keepalive newlines. */
        if (p[0] == '\n') {
            p++;
            len--;
            continue;
        }
        lnk.in = lnk.in ? lnk.in : str_empty(64);
        const char *nl = memchr(p, '\n', len);
        size_t take = nl ? (size_t)(nl - p) + 1 : len;
        lnk.in = str_append(lnk.in, p, take);
        p += take;
        len -= take;
        if (!nl) {
            if (str_len(lnk.in) > LINE_MAX_LEN) {
                link_retry("Bad protocol from MASTER, the first byte is not '$' (we received a too long line)");
            }
            return;
        }
        char *h = lnk.in;
        if (h[0] == '-') {
            char msg[LINE_MAX_LEN + 128];
            snprintf(msg, sizeof(msg), "MASTER aborted replication with an error: %.*s", (int)str_len(lnk.in) - 2, h);
            link_retry(msg);
            return;
        }
        if (h[0] != '$') {
            link_retry("Bad protocol from MASTER, the first byte is not '$' (we received something else)");
            return;
        }
        if (strncmp(h, "$EOF:", 5) == 0 && str_len(lnk.in) >= 5 + EOF_MARK_LEN + 1) {
            lnk.eof_mode = 1;
            memcpy(lnk.eof_mark, h + 5, EOF_MARK_LEN);
            memset(lnk.tail, 0, sizeof(lnk.tail));
            log_msg(LOG_NOTICE, "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF %s",
                    lnk.diskless ? "to parser" : "to disk");
        } else {
            char *end;
            lnk.size = strtoll(h + 1, &end, 10);
            if (end == h + 1 || lnk.size < 0) {
                link_retry("Bad protocol from MASTER: bad bulk length");
                return;
            }
            lnk.eof_mode = 0;
            log_msg(LOG_NOTICE, "MASTER <-> REPLICA sync: receiving %lld bytes from master %s", lnk.size,
                    lnk.diskless ? "to parser" : "to disk");
        }
        str_free(lnk.in);
        lnk.in = NULL;
        lnk.have_header = 1;
    }
    if (!lnk.have_header || lnk.state != LINK_TRANSFER) {
        return;
    }
    if (lnk.diskless) {
        diskless_load(p, len);
        return;
    }
    size_t take = len;
    if (!lnk.eof_mode && (long long)take > lnk.size - lnk.done) {
        take = (size_t)(lnk.size - lnk.done);
    }
    size_t off = 0;
    while (off < take) {
        ssize_t n = write(lnk.tmp_fd, p + off, take - off);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            char msg[256];
            snprintf(msg, sizeof(msg),
                     "Write error or short write writing to the DB dump file needed for MASTER <-> REPLICA "
                     "synchronization: %s",
                     strerror(errno));
            link_retry(msg);
            return;
        }
        off += (size_t)n;
    }
    lnk.done += (long long)take;
    int complete;
    if (lnk.eof_mode) {
        /* The mark is the last 40 bytes: keep a window of the newest. */
        if (take >= EOF_MARK_LEN) {
            memcpy(lnk.tail, p + take - EOF_MARK_LEN, EOF_MARK_LEN);
        } else {
            memmove(lnk.tail, lnk.tail + take, EOF_MARK_LEN - take);
            memcpy(lnk.tail + EOF_MARK_LEN - take, p, take);
        }
        complete = lnk.done >= EOF_MARK_LEN && memcmp(lnk.tail, lnk.eof_mark, EOF_MARK_LEN) == 0;
        if (complete && ftruncate(lnk.tmp_fd, lnk.done - EOF_MARK_LEN) < 0) {
            link_retry("Error truncating the RDB file received from the master");
            return;
        }
    } else {
        complete = lnk.done == lnk.size;
    }
    if (!complete) {
        return;
    }
    /* In EOF mode nothing follows the mark in this read: the primary
     * sends the stream only after the replica's first ACK. */
    str after = NULL;
    if (take < len) {
        after = str_new(p + take, len - take);
    }
    transfer_done();
    if (lnk.state == LINK_CONNECTED && after) {
        become_connected(after, str_len(after));
    } else if (lnk.state == LINK_CONNECTED) {
        become_connected("", 0);
    }
    str_free(after);
}

/* Before the new data set loads: loading serves events (clients get
 * -LOADING), so the stream that follows must wait in the socket until the
 * master client reads it; our own snapshot and sub-replicas would describe
 * the old data. */
static void sync_load_begins(int flushing)
{
    ev_del(server.loop, lnk.fd, EV_READABLE);
    if (flushing) {
        log_msg(LOG_NOTICE, "MASTER <-> REPLICA sync: Flushing old data");
    }
    if (snapshot_running()) {
        snapshot_abort();
    }
    repl_drop_replicas();
    log_msg(LOG_NOTICE, "MASTER <-> REPLICA sync: Loading DB in memory");
}

static void sync_load_finished(void);

static void transfer_done(void)
{
    if (fsync(lnk.tmp_fd) < 0) {
        log_msg(LOG_WARNING, "Failed trying to sync the temp DB to disk in MASTER <-> REPLICA synchronization: %s",
                strerror(errno));
    }
    close(lnk.tmp_fd);
    lnk.tmp_fd = -1;
    sync_load_begins(1);
    if (persistence_load_replacement(lnk.tmp_path) < 0) {
        log_msg(LOG_WARNING, "Failed trying to load the MASTER synchronization DB from disk");
        unlink(lnk.tmp_path);
        link_retry(NULL);
        return;
    }
    sync_load_finished();
}

/* ---- diskless load: the snapshot parsed straight from the socket ---- */

/* What the loader reads through: bytes taken from the socket as it asks,
 * never past a sized snapshot's end (the stream may follow it at once). */
typedef struct wire {
    str buf; /* read from the socket, from pos not yet given */
    size_t pos;
    unsigned long gen;      /* the connection this load reads */
    long long left_to_read; /* a sized snapshot's bytes not read yet (-1: EOF mark mode) */
} wire;

/* Waits up to 100 ms for the socket and gives the event loop its turn
 * (at most every 100 ms, however the bytes trickle in); -1 once
 * repl-timeout has passed without a byte. */
static int wire_wait(void)
{
    struct pollfd pf = {.fd = lnk.fd, .events = lnk.tls && tls_read_wants_write(lnk.tls) ? POLLOUT : POLLIN};
    (void)poll(&pf, 1, 100);
    persistence_loading_progress(lnk.done, lnk.eof_mode ? 0 : lnk.size, 0);
    if (server_ms() - lnk.last_io_ms > (int64_t)server.cfg.repl_timeout * 1000) {
        log_msg(LOG_WARNING, "Timeout receiving bulk data from MASTER... If the problem persists try to set the "
                             "'repl-timeout' parameter in redis.conf to a larger value.");
        return -1;
    }
    return 0;
}

static ssize_t wire_read(void *ctx, void *out, size_t len)
{
    wire *w = ctx;
    while (w->pos == str_len(w->buf)) {
        if (lnk.gen != w->gen) {
            return -1; /* the link was dropped while events ran */
        }
        size_t want = 64 * 1024;
        if (w->left_to_read >= 0 && (long long)want > w->left_to_read) {
            want = (size_t)w->left_to_read;
        }
        if (want == 0) {
            return 0;
        }
        str_clear(w->buf);
        w->pos = 0;
        w->buf = str_reserve(w->buf, want);
        ssize_t n = conn_read(lnk.fd, lnk.tls, w->buf, want);
        if (n > 0) {
            str_set_len(w->buf, (size_t)n);
            lnk.last_io_ms = server_ms();
            server.stats.net_repl_input_bytes += n;
            if (w->left_to_read >= 0) {
                w->left_to_read -= n;
            }
            break;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            log_msg(LOG_WARNING, "I/O error trying to sync with MASTER: %s",
                    n == 0 ? "connection lost" : strerror(errno));
            return n == 0 ? 0 : -1;
        }
        if (wire_wait() < 0) {
            return -1;
        }
    }
    size_t have = str_len(w->buf) - w->pos;
    size_t take = have < len ? have : len;
    memcpy(out, w->buf + w->pos, take);
    w->pos += take;
    lnk.done += (long long)take;
    return (ssize_t)take;
}

/* Loads the snapshot as it arrives; p holds its first bytes (and, when
 * sized, maybe the start of the stream after it). */
static void diskless_load(const char *p, size_t len)
{
    int swap = strcmp(server.cfg.repl_diskless_load, "swapdb") == 0;
    size_t first = len;
    if (!lnk.eof_mode && (long long)first > lnk.size) {
        first = (size_t)lnk.size;
    }
    wire w = {str_new(p, first), 0, lnk.gen, lnk.eof_mode ? -1 : lnk.size - (long long)first};
    str after = len > first ? str_new(p + first, len - first) : NULL;
    /* A snapshot of the history we already hold (the primary's ID is
     * ours): the old data set is an earlier point of it, served while the
     * new one loads, as Redis 7's async loading; as there, only when every
     * module said it copes. */
    int async = swap && memcmp(repl.replid, lnk.new_replid, 40) == 0 && module_all_handle_async_load();
    sync_load_begins(!swap);
    rdb_source src = {wire_read, &w};
    lnk.loading = 1;
    int rc = persistence_load_stream(&src, lnk.eof_mode ? 0 : (uint64_t)lnk.size, swap, async);
    lnk.loading = 0;
    if (lnk.gen != w.gen) {
        /* The link was dropped while events ran (its reads then failed). */
        persistence_load_stream_end(rc == 0);
        str_free(w.buf);
        str_free(after);
        return;
    }
    const char *why = NULL;
    if (rc == 0 && lnk.eof_mode) {
        char mark[EOF_MARK_LEN];
        size_t got = 0;
        while (got < EOF_MARK_LEN) {
            ssize_t n = wire_read(&w, mark + got, EOF_MARK_LEN - got);
            if (n <= 0) {
                break;
            }
            got += (size_t)n;
        }
        if (got < EOF_MARK_LEN || memcmp(mark, lnk.eof_mark, EOF_MARK_LEN) != 0) {
            why = "Replication stream EOF marker is broken";
        }
    } else if (rc == 0 && (w.left_to_read > 0 || w.pos < str_len(w.buf))) {
        why = "The master's RDB payload is longer than its snapshot";
    }
    if (rc == 0 && why) {
        log_msg(LOG_WARNING, "%s", why);
        rc = -1;
    }
    persistence_load_stream_end(rc == 0);
    if (rc < 0) {
        str_free(w.buf);
        str_free(after);
        link_retry(NULL);
        return;
    }
    /* Bytes of the stream that came with the snapshot's end. */
    if (w.pos < str_len(w.buf)) {
        str rest = str_new(w.buf + w.pos, str_len(w.buf) - w.pos);
        if (after) {
            rest = str_append(rest, after, str_len(after));
        }
        str_free(after);
        after = rest;
    }
    str_free(w.buf);
    sync_load_finished();
    become_connected(after ? after : "", after ? str_len(after) : 0);
    str_free(after);
}

/* The new data set is in: our history is the primary's from here. */
static void sync_load_finished(void)
{
    memcpy(repl.replid, lnk.new_replid, 41);
    repl.replid2[0] = '\0';
    repl.second_offset = -1;
    repl.offset = lnk.new_offset;
    repl_reset_backlog();
    /* The log restarts from the new data. */
    aof_new_history();
    if (server.cfg.appendonly) {
        aof_rewrite();
    }
    log_msg(LOG_NOTICE, "MASTER <-> REPLICA sync: Finished with success");
    lnk.state = LINK_CONNECTED;
    module_event_master_link(1);
}

/* ---- the master client ---- */

static void send_ack(void)
{
    if (!lnk.master || (lnk.master->flags & CLIENT_CLOSE_ASAP)) {
        return;
    }
    /* What the log has on disk goes too (Redis 7.2's FACK, for WAITAOF):
     * the applied writes are written first, and under `appendfsync always`
     * synced. Older primaries read the ACK and ignore the rest. */
    aof_flush();
    long long fack = aof_fsynced_reploff();
    char off[32], foff[32], buf[160];
    int n = snprintf(off, sizeof(off), "%lld", repl.offset);
    int len;
    if (fack >= 0) {
        int fn = snprintf(foff, sizeof(foff), "%lld", fack);
        len =
            snprintf(buf, sizeof(buf), "*5\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$%d\r\n%s\r\n$4\r\nFACK\r\n$%d\r\n%s\r\n",
                     n, off, fn, foff);
    } else {
        len = snprintf(buf, sizeof(buf), "*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$%d\r\n%s\r\n", n, off);
    }
    lnk.fack_sent = fack;
    reply_raw(R(lnk.master), buf, (size_t)len);
    client_pending_write(lnk.master);
}

/* The link becomes the master client; rest is the stream already read. */
static void become_connected(const char *rest, size_t len)
{
    int fd = lnk.fd;
    tls_conn *tls = lnk.tls;
    ev_del(server.loop, fd, EV_READABLE | EV_WRITABLE);
    lnk.fd = -1;
    lnk.tls = NULL;
    str_free(lnk.in);
    lnk.in = NULL;
    client *c = client_new(fd, CLIENT_MASTER);
    if (!c) {
        tls_conn_free(tls);
        close(fd);
        link_retry("Can't create the master client");
        return;
    }
    c->tls = tls;
    c->authenticated = 1;
    snprintf(c->addr, sizeof(c->addr), "%.100s:%d", lnk.host, lnk.port);
    sock_local_name(fd, c->laddr, sizeof(c->laddr));
    lnk.master = c;
    lnk.last_io_ms = server_ms();
    /* Continue in the db the stream had selected before a short cut. */
    if (lnk.state == LINK_CONNECTED && repl.seldb >= 0 && repl.seldb < server.cfg.databases) {
        client_select_db(c, repl.seldb);
    }
    str_free(lnk.multi_bytes);
    lnk.multi_bytes = NULL;
    log_msg(LOG_NOTICE, "MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization or finished sync.");
    if (len || (tls && tls_pending(tls))) {
        if (c->qcap < len) {
            c->qbuf = alloc_resize(c->qbuf, len);
            c->qcap = len;
        }
        memcpy(c->qbuf, rest, len);
        c->qlen = len;
        /* Stream bytes OpenSSL already decrypted: no event will say so. */
        if (tls && client_drain_tls(c) < 0) {
            client_close_async(c);
            return;
        }
        client *prev = server.current_client;
        server.current_client = c;
        client_process_input(c);
        server.current_client = prev;
    }
    send_ack();
}

void repl_replica_fack_check(void)
{
    if (lnk.state == LINK_CONNECTED && aof_fsynced_reploff() > lnk.fack_sent) {
        send_ack();
    }
}

void repl_ack_requested(void)
{
    lnk.ack_now = 1;
}

void repl_master_applied(client *c, const char *p, size_t len, size_t reply_mark)
{
    /* The master hears nothing back but acks. */
    c->out.len = reply_mark;
    lnk.last_io_ms = server_ms();
    repl.seldb = c->db->id;
    if (c->flags & CLIENT_MULTI) {
        /* Inside MULTI the offset moves only at EXEC, so a cut in the
         * middle replays the whole transaction. */
        lnk.multi_bytes = str_append(lnk.multi_bytes ? lnk.multi_bytes : str_empty(len), p, len);
        return;
    }
    if (lnk.multi_bytes) {
        repl_feed_raw(lnk.multi_bytes, str_len(lnk.multi_bytes));
        str_free(lnk.multi_bytes);
        lnk.multi_bytes = NULL;
    }
    repl_feed_raw(p, len);
    if (lnk.ack_now) {
        lnk.ack_now = 0;
        send_ack();
    }
}

void repl_master_lost(client *c)
{
    if (c != lnk.master) {
        return;
    }
    lnk.master = NULL;
    str_free(lnk.multi_bytes);
    lnk.multi_bytes = NULL;
    lnk.down_since_ms = server_ms();
    if (lnk.state == LINK_CONNECTED) {
        log_msg(LOG_NOTICE, "Connection with master lost.");
        lnk.state = LINK_CONNECT;
        module_event_master_link(0);
    }
}

/* ---- connecting ---- */

static void link_read(ev_loop *l, int fd, void *data, int mask)
{
    (void)l;
    (void)data;
    if (mask & EV_WRITABLE) {
        ev_del(server.loop, fd, EV_WRITABLE); /* a TLS read that had to send first */
    }
    char buf[64 * 1024];
    /* Over TLS a read returns at most one record (16 KB), all of it with a
     * buffer this size, so nothing stays decrypted inside OpenSSL past
     * the loop; the loop still drains whatever would (epoll cannot see
     * it). */
    do {
        ssize_t n = conn_read(fd, lnk.tls, buf, sizeof(buf));
        if (n <= 0) {
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                if (lnk.tls && tls_read_wants_write(lnk.tls)) {
                    ev_add(server.loop, fd, EV_WRITABLE, link_read, NULL);
                }
                return;
            }
            link_retry(lnk.state == LINK_TRANSFER ? "I/O error trying to sync with MASTER: connection lost"
                                                  : "Master closed the connection during the handshake");
            return;
        }
        lnk.last_io_ms = server_ms();
        server.stats.net_repl_input_bytes += n;
        if (lnk.state == LINK_TRANSFER) {
            transfer_bytes(buf, (size_t)n);
        } else {
            lnk.in = str_append(lnk.in ? lnk.in : str_empty((size_t)n), buf, (size_t)n);
            handshake_input();
        }
        /* Still ours and still reading (a finished transfer hands the
         * connection, pending bytes and all, to the master client). */
    } while (lnk.tls && lnk.fd == fd && (lnk.state == LINK_HANDSHAKE || lnk.state == LINK_TRANSFER) &&
             (ev_mask(server.loop, fd) & EV_READABLE) && tls_pending(lnk.tls) > 0);
}

/* The replication handshake starts once the connection is usable. */
static void link_handshake_start(int fd)
{
    lnk.state = LINK_HANDSHAKE;
    lnk.step = HS_PING;
    ev_add(server.loop, fd, EV_READABLE, link_read, NULL);
    handshake_send();
}

/* tls-replication: the TLS handshake with the primary, driven by
 * whichever event it waits for. */
static void link_tls_step(ev_loop *l, int fd, void *data, int mask)
{
    (void)l;
    (void)data;
    (void)mask;
    int rc = tls_handshake(lnk.tls);
    if (rc == TLS_ERROR) {
        char msg[300];
        snprintf(msg, sizeof(msg), "Error condition on socket for SYNC: %s", tls_conn_error(lnk.tls));
        link_retry(msg);
        return;
    }
    lnk.last_io_ms = server_ms();
    if (rc == TLS_OK) {
        ev_del(server.loop, fd, EV_READABLE | EV_WRITABLE);
        link_handshake_start(fd);
        return;
    }
    ev_del(server.loop, fd, rc == TLS_WANT_READ ? EV_WRITABLE : EV_READABLE);
    ev_add(server.loop, fd, rc == TLS_WANT_READ ? EV_READABLE : EV_WRITABLE, link_tls_step, NULL);
}

static void link_connected(ev_loop *l, int fd, void *data, int mask)
{
    (void)l;
    (void)data;
    (void)mask;
    int e = sock_connect_error(fd);
    if (e) {
        char msg[256];
        snprintf(msg, sizeof(msg), "Error condition on socket for SYNC: %s", strerror(e));
        link_retry(msg);
        return;
    }
    ev_del(server.loop, fd, EV_WRITABLE);
    log_msg(LOG_NOTICE, "Non blocking connect for SYNC fired the event.");
    if (server.cfg.tls_replication) {
        lnk.tls = tls_conn_connecting(fd);
        if (!lnk.tls) {
            link_retry("Unable to connect to MASTER: TLS is not configured");
            return;
        }
        link_tls_step(server.loop, fd, NULL, EV_WRITABLE);
        return;
    }
    link_handshake_start(fd);
}

static void link_connect(void)
{
    char err[256] = "";
    log_msg(LOG_NOTICE, "Connecting to MASTER %s:%d", lnk.host, lnk.port);
    /* bind-source-addr: the address the primary sees us coming from. */
    int fd = sock_connect_tcp_from(lnk.host, lnk.port, server.cfg.bind_source_addr, err, sizeof(err));
    if (fd < 0) {
        log_msg(LOG_WARNING, "Unable to connect to MASTER: %s", err);
        return;
    }
    sock_set_nodelay(fd);
    lnk.fd = fd;
    lnk.state = LINK_CONNECTING;
    lnk.last_io_ms = server_ms();
    log_msg(LOG_NOTICE, "MASTER <-> REPLICA sync started");
    ev_add(server.loop, fd, EV_WRITABLE, link_connected, NULL);
}

void repl_set_primary(const char *host, int port)
{
    lnk.psync_failover = 0;
    link_close();
    if (lnk.master) {
        client *m = lnk.master;
        lnk.master = NULL;
        client_close_async(m);
    }
    str_free(lnk.multi_bytes);
    lnk.multi_bytes = NULL;
    if (!host) {
        if (lnk.state != LINK_NONE) {
            if (lnk.state == LINK_CONNECTED) {
                module_event_master_link(0);
            }
            lnk.state = LINK_NONE;
            lnk.host[0] = '\0';
            /* A new history continues ours: replicas that followed the old
             * primary resync partially from us. */
            repl_shift_id();
            repl.seldb = -1;
            repl_drop_replicas();
            repl_forget_tracked(); /* a primary expires every key itself */
            log_msg(LOG_NOTICE, "MASTER MODE enabled (user request from '%s')",
                    server.current_client ? server.current_client->addr : "config");
            module_event_role(0, NULL, 0);
            oom_score_apply(OOM_CLASS_CURRENT);
        }
        return;
    }
    snprintf(lnk.host, sizeof(lnk.host), "%s", host);
    int was_replica = lnk.state != LINK_NONE;
    /* A client blocked here must not take what the primary will send
     * (BLPOP popping a replicated push would fork the data): every wait
     * ends with an error and the connection closes, as in Redis. */
    block_end_all("UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)");
    lnk.port = port;
    lnk.down_since_ms = 0; /* never up with this primary: INFO says -1 */
    /* Our replicas stay (as in Redis 7): if the new primary continues our
     * history they go on; a new history reaches them when it does (a
     * +CONTINUE with a new ID, or a snapshot about to load). */
    repl_forget_tracked();
    lnk.state = LINK_CONNECT;
    log_msg(LOG_NOTICE, "REPLICAOF %s:%d enabled", host, port);
    if (!was_replica) {
        module_event_role(1, host, port);
        oom_score_apply(OOM_CLASS_CURRENT);
    }
    link_connect();
}

void repl_set_primary_failover(const char *host, int port)
{
    repl_set_primary(host, port);
    lnk.psync_failover = 1;
}

int repl_primary_is(const char *host, int port)
{
    return lnk.state != LINK_NONE && lnk.port == port && strcasecmp(lnk.host, host) == 0;
}

/* ---- cron and INFO ---- */

void repl_replica_cron(void)
{
    if (lnk.state == LINK_NONE) {
        return;
    }
    int64_t now = server_ms();
    if ((lnk.state == LINK_CONNECTING || lnk.state == LINK_HANDSHAKE) &&
        now - lnk.last_io_ms > (int64_t)server.cfg.repl_timeout * 1000) {
        link_retry("Timeout connecting to the MASTER...");
    }
    if (lnk.state == LINK_TRANSFER && !lnk.loading && now - lnk.last_io_ms > (int64_t)server.cfg.repl_timeout * 1000) {
        link_retry("Timeout receiving bulk data from MASTER... If the problem persists try to set the "
                   "'repl-timeout' parameter in redis.conf to a larger value.");
    }
    if (lnk.state == LINK_CONNECTED && lnk.master &&
        now - lnk.master->last_interaction > (int64_t)server.cfg.repl_timeout * 1000) {
        log_msg(LOG_WARNING, "MASTER timeout: no data nor PING received...");
        client_close_async(lnk.master);
    }
    if (lnk.state == LINK_CONNECT) {
        link_connect();
    }
    if (lnk.state == LINK_CONNECTED) {
        send_ack();
    }
}

/* Bytes of the primary's stream read but not applied yet (a paused
 * replica's, or a command still arriving): INFO slave_read_repl_offset
 * counts them, slave_repl_offset not. */
static long long read_not_applied(void)
{
    return lnk.master && lnk.state == LINK_CONNECTED ? (long long)lnk.master->qlen : 0;
}

void repl_replica_info(str *s)
{
    int64_t now = server_ms();
    int up = lnk.state == LINK_CONNECTED;
    *s = str_printf(*s,
                    "master_host:%s\r\n"
                    "master_port:%d\r\n"
                    "master_link_status:%s\r\n"
                    "master_last_io_seconds_ago:%lld\r\n"
                    "master_sync_in_progress:%d\r\n"
                    "slave_read_repl_offset:%lld\r\n"
                    "slave_repl_offset:%lld\r\n",
                    lnk.host, lnk.port, up ? "up" : "down",
                    up && lnk.master ? (long long)((now - lnk.master->last_interaction) / 1000) : -1LL,
                    lnk.state == LINK_TRANSFER, repl.offset + read_not_applied(), repl.offset);
    if (lnk.state == LINK_TRANSFER) {
        *s = str_printf(*s,
                        "master_sync_total_bytes:%lld\r\n"
                        "master_sync_read_bytes:%lld\r\n"
                        "master_sync_left_bytes:%lld\r\n"
                        "master_sync_perc:%.2f\r\n"
                        "master_sync_last_io_seconds_ago:%lld\r\n",
                        lnk.eof_mode ? -1LL : lnk.size, lnk.done, lnk.eof_mode ? -1LL : lnk.size - lnk.done,
                        lnk.eof_mode || lnk.size == 0 ? 0.0 : 100.0 * (double)lnk.done / (double)lnk.size,
                        (long long)((now - lnk.last_io_ms) / 1000));
    }
    if (!up) {
        *s = str_printf(*s, "master_link_down_since_seconds:%lld\r\n",
                        lnk.down_since_ms ? (long long)((now - lnk.down_since_ms) / 1000) : -1LL);
    }
    *s = str_printf(*s, "slave_priority:%d\r\nslave_read_only:%d\r\nreplica_announced:%d\r\n",
                    server.cfg.replica_priority, server.cfg.replica_read_only, server.cfg.replica_announced);
}

static const char *link_state_name(void)
{
    switch (lnk.state) {
    case LINK_CONNECT: return "connect";
    case LINK_CONNECTING: return "connecting";
    case LINK_HANDSHAKE: return "handshake";
    case LINK_TRANSFER: return "sync";
    case LINK_CONNECTED: return "connected";
    }
    return "none";
}

void repl_role_replica(client *c)
{
    reply_array(R(c), 5);
    reply_bulk_cstr(R(c), "slave");
    reply_bulk_cstr(R(c), lnk.host);
    reply_int(R(c), lnk.port);
    reply_bulk_cstr(R(c), link_state_name());
    reply_int(R(c), lnk.state == LINK_CONNECTED ? repl.offset : -1);
}

str repl_primary_config(str s)
{
    if (lnk.state != LINK_NONE) {
        s = str_printf(s, "%s %d", lnk.host, lnk.port);
    }
    return s;
}
