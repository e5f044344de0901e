/* client: connection life, reading and parsing requests, writing replies.
 *
 * Reads fill the query buffer and run every complete command in it
 * (pipelining). Replies accumulate in the client's output buffer and are
 * written in before_sleep; a writable event is registered only if the
 * socket would block (partial write). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acl/acl.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "module/module.h"
#include "net/conn.h"
#include "net/ev.h"
#include "net/sock.h"
#include "net/uring.h"
#include "persist/aof.h"
#include "repl/repl.h"
#include "server/io_threads.h"
#include "server/pause.h"
#include "server/server.h"
#include "server/tls_server.h"

#define READ_CHUNK (16 * 1024)
/* Big bulk arguments get an exact-size buffer past this, so a 512 MB value
 * is read into one allocation instead of being copied while it grows. */
#define BIG_ARG (32 * 1024)
/* Cap per write call so one client with a huge reply cannot starve others. */
#define MAX_WRITE_PER_EVENT (64 * 1024 * 1024)
/* Longest inline request or header line without a newline (Redis's). */
#define PROTO_INLINE_MAX (64 * 1024)

static void read_handler(ev_loop *l, int fd, void *data, int mask);
static void write_handler(ev_loop *l, int fd, void *data, int mask);
static size_t read_room(client *c);

/* A new (or RESET) connection is the default user's, and authenticated
 * already when that user is on and needs no password, as in Redis. */
void client_set_default_user(client *c)
{
    c->user = acl_default_user;
    c->authenticated =
        acl_default_user && (acl_default_user->flags & ACL_USER_NOPASS) && (acl_default_user->flags & ACL_USER_ON);
}

client *client_new(int fd, uint32_t flags)
{
    client *c = alloc_zero(sizeof(*c));
    c->id = ++server.next_client_id;
    c->fd = fd;
    c->flags = flags;
    c->resp = 2;
    rbuf_init(&c->out, 2);
    resp_parser_init(&c->parser);
    c->ctime = c->last_interaction = server_ms();
    client_set_default_user(c);
    if (flags & CLIENT_FAKE) {
        /* AOF replay and scripts' fake client act for the server itself
         * (scripts check the caller's user themselves): no ACL user, as
         * Redis's NULL user. */
        c->user = NULL;
    }
    client_select_db(c, 0);
    if (fd >= 0) {
        if (ev_add(server.loop, fd, EV_READABLE, read_handler, c) < 0) {
            alloc_free(c);
            return NULL;
        }
        c->next = server.clients;
        if (server.clients) {
            server.clients->prev = c;
        }
        server.clients = c;
        server.nclients++;
        module_event_client(c, 1);
    }
    return c;
}

void client_select_db(client *c, int id)
{
    c->db = &server.dbs[id];
}

static void free_argv_owned(client *c)
{
    for (int i = 0; i < c->argv_owned_len; i++) {
        str_free(c->argv_owned[i]);
    }
    c->argv_owned_len = 0;
}

/* Per-feature cleanup hooks: modules that hang state on a client register
 * a function called when it is freed. */
#define MAX_FREE_HOOKS 16
static void (*free_hooks[MAX_FREE_HOOKS])(client *c);
static int nfree_hooks;

void client_register_cleanup(void (*fn)(client *c))
{
    ASSERT(nfree_hooks < MAX_FREE_HOOKS);
    free_hooks[nfree_hooks++] = fn;
}

void client_run_cleanups(client *c)
{
    for (int i = 0; i < nfree_hooks; i++) {
        free_hooks[i](c);
    }
}

/* Room for need entries in a growable array of clients (the batches of
 * the I/O threads). */
static void clients_reserve(client ***arr, int *cap, int need)
{
    if (need > *cap) {
        *cap = need * 2 > 64 ? need * 2 : 64;
        *arr = alloc_resize(*arr, sizeof(client *) * (size_t)*cap);
    }
}

/* Reads left for the I/O threads: collected while ev_run handles events,
 * read in one batch and then finished one client at a time from
 * before_sleep. A finishing client may run a busy script whose event
 * processing finishes the others (client_read_deferred nests), as a
 * client whose event fired then would have been served. */
static client **deferred_reads;
static int ndeferred, deferred_cap;
static int deferred_next; /* the next one to finish */
static int deferred_read; /* the batch's sockets have been read */

static void forget_deferred_read(client *c)
{
    for (int i = deferred_next; i < ndeferred; i++) {
        if (deferred_reads[i] == c) {
            deferred_reads[i] = NULL;
            return;
        }
    }
}

/* The master client whose stream waits for a busy script to end. */
static client *held_master;

void client_free(client *c)
{
    if (!c) {
        return;
    }
    if (c->fd >= 0) {
        module_event_client(c, 0);
    }
    client_run_cleanups(c);
    client_evict_forget(c);
    if (server.current_client == c) {
        server.current_client = NULL;
    }
    if (held_master == c) {
        held_master = NULL;
    }
    if (c->fd >= 0) {
        ev_del(server.loop, c->fd, EV_READABLE | EV_WRITABLE);
        tls_conn_free(c->tls);
        c->tls = NULL;
        close(c->fd);
        if (c->prev) {
            c->prev->next = c->next;
        } else if (server.clients == c) {
            server.clients = c->next;
        }
        if (c->next) {
            c->next->prev = c->prev;
        }
        server.nclients--;
    }
    if (c->in_pending) {
        for (client **pp = &server.pending_writes; *pp; pp = &(*pp)->pending_next) {
            if (*pp == c) {
                *pp = c->pending_next;
                break;
            }
        }
    }
    if (c->read_deferred) {
        forget_deferred_read(c);
    }
    free_argv_owned(c);
    alloc_free(c->orig_argv);
    alloc_free(c->argv_owned);
    alloc_free(c->argv);
    alloc_free(c->qbuf);
    resp_parser_free(&c->parser);
    rbuf_free(&c->out);
    str_free(c->name);
    str_free(c->lib_name);
    str_free(c->lib_ver);
    alloc_free(c);
}

/* Clients are freed in cron / before_sleep, never while their own command
 * or a caller up the stack may still touch them. */
static int clients_marked; /* marked CLIENT_CLOSE_ASAP since the last reap */

void client_close_async(client *c)
{
    if (c->flags & CLIENT_CLOSE_ASAP) {
        return;
    }
    c->flags |= CLIENT_CLOSE_ASAP;
    clients_marked++;
    if (c->fd >= 0) {
        ev_del(server.loop, c->fd, EV_READABLE | EV_WRITABLE);
    }
}

void client_kill_now(client *c)
{
    client_close_async(c);
    c->flags |= CLIENT_GONE;
    /* The peer sees the close now, as with Redis, not once the command
     * running (a MULTI with DEBUG SLEEP after the kill) is over. */
    if (c->fd >= 0) {
        shutdown(c->fd, SHUT_RDWR);
    }
}

void client_close_soon(client *c)
{
    if (c == server.current_client) {
        c->flags |= CLIENT_CLOSE_AFTER_REPLY;
    } else {
        client_close_async(c);
    }
}

void client_pending_write(client *c)
{
    if (c->fd < 0 || c->in_pending || (c->flags & CLIENT_CLOSE_ASAP)) {
        return;
    }
    /* Output arrives here also from others' commands (PUBLISH). */
    client_evict_note(c);
    c->in_pending = 1;
    c->pending_next = server.pending_writes;
    server.pending_writes = c;
}

int client_obuf_class(const client *c)
{
    if (c->flags & CLIENT_REPLICA) {
        return OBUF_REPLICA;
    }
    if ((c->flags & CLIENT_PUBSUB) || c->pstate) {
        return OBUF_PUBSUB;
    }
    return OBUF_NORMAL;
}

unsigned long long client_obuf_hard(const client *c)
{
    int cls = client_obuf_class(c);
    unsigned long long hard = server.cfg.obuf[cls].hard;
    /* A replica's hard limit is never below repl-backlog-size, as in Redis:
     * a partial resync queues up to that much from the backlog at once,
     * and a lower limit would drop the replica it just accepted, again
     * and again. */
    if (cls == OBUF_REPLICA && hard && hard < (unsigned long long)server.cfg.repl_backlog_size) {
        hard = (unsigned long long)server.cfg.repl_backlog_size;
    }
    return hard;
}

int client_check_obuf(client *c)
{
    size_t used = rbuf_pending(&c->out) + repl_output_lag(c);
    /* Called after every command with a reply: under every limit and with
     * no soft-limit clock running, there is nothing to check or reset. */
    if ((used < server.cfg.obuf_floor && c->obuf_soft_since == 0) || c->fd < 0 || (c->flags & CLIENT_CLOSE_ASAP)) {
        return 0;
    }
    obuf_limit *l = &server.cfg.obuf[client_obuf_class(c)];
    unsigned long long hard = client_obuf_hard(c);
    int over = 0;
    if (hard && used >= (size_t)hard) {
        over = 1;
    } else if (l->soft && used >= (size_t)l->soft) {
        if (c->obuf_soft_since == 0) {
            c->obuf_soft_since = server_ms();
        } else if (server_ms() - c->obuf_soft_since >= l->soft_seconds * 1000) {
            over = 1;
        }
    } else {
        c->obuf_soft_since = 0;
    }
    if (over) {
        str info = str_empty(256);
        client_info_line(c, &info);
        log_msg(LOG_WARNING, "Client %s scheduled to be closed ASAP for overcoming of output buffer limits.", info);
        str_free(info);
        server.stats.client_outbuf_limit_disconnections++;
        /* Drop what is queued: the client is going away and the memory is
         * what the limit protects. */
        rbuf_free(&c->out);
        client_close_async(c);
    }
    return over;
}

/* The socket part of a write: sends what the output buffer holds, touching
 * nothing but the buffer and the socket, so an I/O thread may run it.
 * Leaves the bytes sent, or -1 on a broken connection, in io_result. */
static void write_io(client *c)
{
    size_t total = 0;
    c->io_result = 0;
    while (rbuf_pending(&c->out) > 0 && total < MAX_WRITE_PER_EVENT) {
        /* Everything queued at once: over TLS the replies of a batch
         * share full 16 KB records (one SSL_write each), never one record
         * per reply. */
        ssize_t n = conn_write(c->fd, c->tls, c->out.data + c->out.sent, rbuf_pending(&c->out));
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            if (errno == EINTR) {
                continue;
            }
            c->io_result = -1;
            return;
        }
        c->out.sent += (size_t)n;
        total += (size_t)n;
    }
    c->io_result = (ssize_t)total;
}

/* The rest of a write, in the main thread: accounting, buffer release,
 * the writable event. Returns -1 if the client was closed. */
static int write_done(client *c)
{
    server.stats.writes_processed++;
    if (c->io_result < 0) {
        client_close_async(c);
        return -1;
    }
    size_t total = (size_t)c->io_result;
    if (c->flags & CLIENT_REPLICA) {
        server.stats.net_repl_output_bytes += (long long)total;
    } else {
        server.stats.net_output_bytes += (long long)total;
    }
    if (rbuf_pending(&c->out) == 0) {
        /* All sent: an idle client holds no output buffer either. */
        rbuf_free(&c->out);
    } else {
        rbuf_compact(&c->out);
    }
    if (total) {
        c->last_interaction = server_ms();
    }
    /* (An online replica's stream waits in the shared blocks: more to
     * write.) */
    if (rbuf_pending(&c->out) == 0 && !(c->rstate && repl_output_more(c))) {
        c->obuf_soft_since = 0;
        if ((ev_mask(server.loop, c->fd) & EV_WRITABLE) && !(c->tls && tls_read_wants_write(c->tls))) {
            ev_del(server.loop, c->fd, EV_WRITABLE);
        }
        if (c->flags & CLIENT_CLOSE_AFTER_REPLY) {
            client_close_async(c);
            return -1;
        }
    } else if (!(ev_mask(server.loop, c->fd) & EV_WRITABLE) && !(c->tls && tls_write_wants_read(c->tls))) {
        /* (A TLS write waiting for the peer's bytes resumes from the read
         * handler: writable would fire without end meanwhile.) */
        ev_add(server.loop, c->fd, EV_WRITABLE, write_handler, c);
    }
    return 0;
}

/* Writes as much pending output as the socket takes. Returns -1 if the
 * client was closed. */
static int write_out(client *c)
{
    /* Replies to writes go out only after the writes are in the log. */
    aof_flush();
    if (!c->rstate) {
        write_io(c);
        return write_done(c);
    }
    /* A replica: its stream, a piece at a time from the shared blocks, for
     * as long as the socket takes each piece whole. */
    ssize_t total = 0;
    do {
        if (rbuf_pending(&c->out) == 0) {
            c->out.len = c->out.sent = 0; /* all sent: the next piece reuses the room */
        }
        repl_output_fill(c);
        write_io(c);
        if (c->io_result < 0) {
            total = -1;
            break;
        }
        total += c->io_result;
    } while (rbuf_pending(&c->out) == 0 && repl_output_more(c) && total < MAX_WRITE_PER_EVENT);
    c->io_result = total;
    return write_done(c);
}

/* TLS needs writable events also when no reply is queued: during the
 * handshake, and when a read must send first. */
static void want_writable(client *c, int on)
{
    int has = ev_mask(server.loop, c->fd) & EV_WRITABLE;
    if (on && !has) {
        ev_add(server.loop, c->fd, EV_WRITABLE, write_handler, c);
    } else if (!on && has && rbuf_pending(&c->out) == 0) {
        ev_del(server.loop, c->fd, EV_WRITABLE);
    }
}

/* Advances a TLS client's handshake from either event; once it is done
 * the connection reads like any other, starting with what may already
 * have come after the handshake. */
static void tls_step(client *c)
{
    int was_established = tls_established(c->tls);
    int rc = tls_handshake(c->tls);
    if (rc == TLS_ERROR) {
        log_msg(LOG_VERBOSE, "Error accepting a client connection: %s (addr=%s laddr=%s)", tls_conn_error(c->tls),
                c->addr, c->laddr);
        client_close_async(c);
        return;
    }
    want_writable(c, rc == TLS_WANT_WRITE);
    if (rc == TLS_OK && protected_mode_denies(c)) {
        /* Over TLS, before any request is read; then closed. */
        reply_raw(&c->out, protected_mode_error, strlen(protected_mode_error));
        c->flags |= CLIENT_CLOSE_AFTER_REPLY;
        server.stats.rejected_conn++;
        write_out(c);
        return;
    }
    if (rc == TLS_OK) {
        if (server.cfg.tls_auth_clients_user && !was_established) {
            tls_server_cert_login(c);
        }
        read_handler(server.loop, c->fd, c, EV_READABLE);
    }
}

static void write_handler(ev_loop *l, int fd, void *data, int mask)
{
    (void)mask;
    client *c = data;
    if (c->tls) {
        if (!tls_established(c->tls)) {
            tls_step(c);
            return;
        }
        if (tls_read_wants_write(c->tls)) {
            read_handler(l, fd, c, EV_READABLE);
            if (c->flags & CLIENT_CLOSE_ASAP) {
                return;
            }
        }
    }
    write_out(c);
}

/* Plain connections of ordinary clients may be served by an I/O thread;
 * TLS sessions, replication links and clients on their way out stay with
 * the main thread. */
static int io_thread_eligible(const client *c)
{
    return c->fd >= 0 && !c->tls && !(c->flags & (CLIENT_MASTER | CLIENT_REPLICA | CLIENT_CLOSE_ASAP));
}

static void write_io_item(void *item)
{
    write_io(item);
}

static client **io_batch;
static int io_batch_cap;

/* Takes the clients waiting to be written off the pending list: those
 * that still want a write go into io_batch (returned count), in the order
 * they queued. */
static int take_pending_writes(void)
{
    int n = 0;
    while (server.pending_writes) {
        client *c = server.pending_writes;
        server.pending_writes = c->pending_next;
        c->in_pending = 0;
        c->pending_next = NULL;
        if (!(c->flags & CLIENT_CLOSE_ASAP) && !(ev_mask(server.loop, c->fd) & EV_WRITABLE)) {
            clients_reserve(&io_batch, &io_batch_cap, n + 1);
            io_batch[n++] = c;
        }
    }
    return n;
}

static uring_op *uring_ops;
static int uring_ops_cap;

static void reserve_uring_ops(int n)
{
    if (n > uring_ops_cap) {
        uring_ops_cap = n * 2 > 64 ? n * 2 : 64;
        uring_ops = alloc_resize(uring_ops, sizeof(uring_op) * (size_t)uring_ops_cap);
    }
}

/* write_io for a batch, one system call for all first sends. */
static void write_io_uring(client **cs, int n)
{
    reserve_uring_ops(n);
    for (int i = 0; i < n; i++) {
        client *c = cs[i];
        uring_ops[i] = (uring_op){c->fd, c->out.data + c->out.sent, rbuf_pending(&c->out), 0};
    }
    uring_send_all(uring_ops, n);
    for (int i = 0; i < n; i++) {
        client *c = cs[i];
        ssize_t res = uring_ops[i].res;
        if (res < 0) {
            c->io_result = res == -EAGAIN || res == -EWOULDBLOCK || res == -EINTR ? 0 : -1;
            continue;
        }
        c->out.sent += (size_t)res;
        c->io_result = res;
        if (res > 0 && rbuf_pending(&c->out) > 0) {
            /* The socket took part of it: the rest as write_io would. */
            write_io(c);
            if (c->io_result >= 0) {
                c->io_result += res;
            }
        }
    }
}

/* read_io for a batch, one system call for all. */
static void read_io_uring(client **cs, int n)
{
    reserve_uring_ops(n);
    for (int i = 0; i < n; i++) {
        client *c = cs[i];
        size_t want = read_room(c);
        uring_ops[i] = (uring_op){c->fd, c->qbuf + c->qlen, want, 0};
    }
    uring_recv_all(uring_ops, n);
    for (int i = 0; i < n; i++) {
        ssize_t res = uring_ops[i].res;
        cs[i]->io_result = res < 0 ? -1 : res;
        cs[i]->io_errno = res < 0 ? (int)-res : 0;
    }
}

void client_flush_pending(void)
{
    if (!server.pending_writes) {
        return;
    }
    int n = take_pending_writes();
    int threads = io_threads_engage(n);
    if (!threads && !(uring_ready() && n > 1)) {
        for (int i = 0; i < n; i++) {
            write_out(io_batch[i]);
        }
        return;
    }
    /* Replies go out only once their writes are logged. */
    aof_flush();
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (io_thread_eligible(io_batch[i])) {
            io_batch[k++] = io_batch[i];
        } else {
            write_out(io_batch[i]);
        }
    }
    if (threads) {
        io_threads_run((void **)io_batch, k, write_io_item);
        server.stats.io_threaded_writes += k;
    } else {
        write_io_uring(io_batch, k);
        server.stats.io_uring_writes += k;
    }
    for (int i = 0; i < k; i++) {
        write_done(io_batch[i]);
    }
}

/* Frees clients marked CLIENT_CLOSE_ASAP. */
void client_reap(void)
{
    /* Runs every loop iteration: skip the walk unless someone was marked. */
    if (clients_marked == 0) {
        return;
    }
    clients_marked = 0;
    client *c = server.clients;
    while (c) {
        client *next = c->next;
        if ((c->flags & CLIENT_CLOSE_ASAP) && (c->flags & CLIENT_PROTECTED)) {
            clients_marked++; /* freed once its command has returned */
        } else if (c->flags & CLIENT_CLOSE_ASAP) {
            client_free(c);
        }
        c = next;
    }
    client_evict_reaped();
}

static void protocol_error(client *c, const char *msg)
{
    char buf[300];
    snprintf(buf, sizeof(buf), "ERR %s", msg);
    reply_err(c, buf);
    log_msg(LOG_VERBOSE, "Protocol error (%s) from client id=%llu addr=%s", msg, (unsigned long long)c->id, c->addr);
    c->flags |= CLIENT_CLOSE_AFTER_REPLY;
    client_pending_write(c);
}

/* A push to the client running a command goes out even when its reply is
 * silenced, as Redis sends subscribe confirmations, messages and
 * invalidations past CLIENT REPLY OFF|SKIP: the silenced bytes before it
 * are dropped now and the mark moves past it. */
void client_push_begin(client *c)
{
    if (c->flags & CLIENT_SILENCED) {
        c->out.len = c->reply_mark;
    }
}

void client_push_end(client *c)
{
    if (c->flags & CLIENT_SILENCED) {
        c->reply_mark = c->out.len;
    }
}

void client_end_command(client *c)
{
    free_argv_owned(c);
    client_forget_original(c);
    c->argc = 0;
    c->cmd = NULL;
    c->propagate_as_is = 0;
}

/* A command of thousands of arguments leaves its argument arrays that
 * big; they go afterwards (Redis frees argv after every command), so an
 * idle client does not keep megabytes. */
static void trim_arg_arrays(client *c)
{
    enum { KEEP_ARGS = 1024 };
    if (c->argv_cap > KEEP_ARGS) {
        alloc_free(c->argv);
        c->argv = NULL;
        c->argv_cap = 0;
    }
    resp_parser_trim(&c->parser, KEEP_ARGS);
}

/* Runs every complete command in the query buffer. */
static void process_input(client *c)
{
    resp_limits lim = {server.cfg.proto_max_bulk_len, INT_MAX, PROTO_INLINE_MAX, 0};
    dispatch_pipeline_open();
    while (c->qpos < c->qlen && !(c->flags & (CLIENT_CLOSE_AFTER_REPLY | CLIENT_CLOSE_ASAP))) {
        if (c->flags & CLIENT_BLOCKED) {
            break; /* resumes when unblocked */
        }
        if ((c->flags & CLIENT_MASTER) && pause_writes_active()) {
            /* A paused replica reads its primary's stream but applies
             * nothing until the pause ends, as in Redis; resumed then. */
            break;
        }
        if ((c->flags & CLIENT_MASTER) && server.busy_caller && server.busy_caller != c) {
            /* A busy script answers others -BUSY; the primary's stream
             * waits for it to end instead, as in Redis. */
            held_master = c;
            break;
        }
        /* Before AUTH a client may send only small commands, so an
         * unauthenticated peer cannot make us buffer much (as Redis). */
        lim.unauth = !c->authenticated;
        if (lim.unauth) {
            lim.max_bulk = lim.max_bulk < 16384 ? lim.max_bulk : 16384;
            lim.max_multibulk = 10;
        } else {
            /* The primary's stream is not held to our limits (as Redis):
             * what it accepted, its replicas must apply. */
            lim.max_bulk = client_must_obey(c) ? LLONG_MAX : server.cfg.proto_max_bulk_len;
            lim.max_multibulk = INT_MAX;
        }
        char err[256];
        if (c->parser.multibulk_left == 0) {
            c->cmd_start = c->qpos;
        }
        int rc = resp_parse(&c->parser, c->qbuf, c->qlen, &c->qpos, &lim, err, sizeof(err));
        if (rc == RESP_INCOMPLETE) {
            break;
        }
        if (rc == RESP_ERROR) {
            protocol_error(c, err);
            resp_parser_reset(&c->parser);
            c->qpos = c->qlen;
            break;
        }
        if (c->parser.argc == 0) {
            continue;
        }
        if ((int)c->parser.argc > c->argv_cap) {
            c->argv_cap = (int)c->parser.argc;
            c->argv = alloc_resize(c->argv, sizeof(sv) * (size_t)c->argv_cap);
        }
        c->argc = (int)c->parser.argc;
        for (int i = 0; i < c->argc; i++) {
            c->argv[i] = resp_parser_arg(&c->parser, c->qbuf, (size_t)i);
        }
        /* CLIENT REPLY SKIP drops the reply of the command after it. */
        if (c->flags & CLIENT_REPLY_SKIP_NEXT) {
            c->flags = (c->flags & ~CLIENT_REPLY_SKIP_NEXT) | CLIENT_REPLY_SKIP;
        }
        if (c->flags & (CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP)) {
            c->flags |= CLIENT_SILENCED;
        }
        size_t reply_mark = c->out.len;
        c->reply_mark = reply_mark;
        dispatch(c);
        /* CLIENT REPLY ON clears the silence (its +OK is sent). */
        if ((c->flags & CLIENT_SILENCED) && !(c->flags & CLIENT_BLOCKED)) {
            c->out.len = c->reply_mark;
        }
        c->flags &= ~(CLIENT_SILENCED | CLIENT_REPLY_SKIP);
        if (c->flags & CLIENT_MASTER) {
            /* The primary's stream: counted, passed on, never answered. */
            repl_master_applied(c, c->qbuf + c->cmd_start, c->qpos - c->cmd_start, reply_mark);
        }
        resp_parser_reset(&c->parser);
        c->query_since = server_ms(); /* the bytes after it are a new command */
        if (!(c->flags & CLIENT_BLOCKED)) {
            client_end_command(c);
            trim_arg_arrays(c);
        }
        if (rbuf_pending(&c->out)) {
            /* The limits hold per command, not per cron tick: a pipeline
             * of big reads from a client that never reads its socket
             * stops at the hard limit instead of growing for 100 ms. */
            client_check_obuf(c);
            client_pending_write(c);
        }
        client_evict_note(c);
    }
    dispatch_pipeline_close();
    /* Drop consumed bytes, keeping a command that is only partly parsed
     * (its arguments are offsets into the buffer) and a blocked client's. */
    size_t drop = c->parser.multibulk_left > 0 ? c->cmd_start : c->qpos;
    if (!(c->flags & CLIENT_BLOCKED) && drop > 0) {
        size_t keep = c->qlen - drop;
        memmove(c->qbuf, c->qbuf + drop, keep);
        resp_parser_shift(&c->parser, drop);
        c->qlen = keep;
        c->qpos -= drop;
        c->cmd_start = 0;
    }
}

void client_resume_held_master(void)
{
    client *m = held_master;
    if (!m || server.busy_caller) {
        return;
    }
    held_master = NULL;
    if (!(m->flags & CLIENT_CLOSE_ASAP)) {
        client *prev = server.current_client;
        server.current_client = m;
        client_process_input(m);
        server.current_client = prev;
    }
}

void client_process_input(client *c)
{
    process_input(c);
}

void client_resume(client *c)
{
    client_end_command(c);
    trim_arg_arrays(c);
    client_pending_write(c);
    if (c->qlen > c->qpos && !(c->flags & CLIENT_CLOSE_ASAP)) {
        process_input(c);
    }
}

void client_hold(client *c, int on)
{
    if (on) {
        c->flags |= CLIENT_PROTECTED;
    } else {
        c->flags &= ~CLIENT_PROTECTED;
    }
    if (c->fd < 0 || (c->flags & CLIENT_CLOSE_ASAP)) {
        return;
    }
    if (on) {
        ev_del(server.loop, c->fd, EV_READABLE);
    } else {
        ev_add(server.loop, c->fd, EV_READABLE, read_handler, c);
    }
}

static int serving_inside;

void client_serve_events(void)
{
    serving_inside++;
    ev_process(server.loop, 0);
    client_read_deferred();
    client_flush_pending();
    client_reap();
    serving_inside--;
}

int client_serving_events_inside(void)
{
    return serving_inside > 0;
}

/* Bytes read: the primary's stream (on a replica) is counted apart, as
 * Redis 7 counts it (total_net_repl_input_bytes). */
static void count_input(const client *c, ssize_t n)
{
    if (c->flags & CLIENT_MASTER) {
        server.stats.net_repl_input_bytes += n;
    } else {
        server.stats.net_input_bytes += n;
    }
}

/* TLS: the rest of a record OpenSSL decrypted but the read had no room
 * for. epoll will not report it, so it joins the query buffer now. */
int client_drain_tls(client *c)
{
    size_t more;
    while ((more = tls_pending(c->tls)) > 0) {
        if (c->qcap - c->qlen < more) {
            c->qcap = c->qlen + more;
            c->qbuf = alloc_resize(c->qbuf, c->qcap);
        }
        ssize_t n = tls_read(c->tls, c->qbuf + c->qlen, more);
        if (n <= 0) {
            return n == 0 || (errno != EAGAIN && errno != EINTR) ? -1 : 0;
        }
        c->qlen += (size_t)n;
        count_input(c, n);
    }
    return 0;
}

/* Room for the next read: grows the query buffer and returns how much to
 * ask for. Touches nothing but the client's buffer. */
static size_t read_room(client *c)
{
    size_t want = READ_CHUNK;
    size_t big = resp_parser_pending_bulk(&c->parser, c->qlen - c->qpos);
    if (big >= BIG_ARG) {
        /* Read a big argument in one go, but size the buffer by what has
         * arrived (at most doubling it), never by what the length prefix
         * promises: "$500000000" alone must not cost 500 MB. */
        size_t arrived = c->qlen > READ_CHUNK ? c->qlen : READ_CHUNK;
        want = big < arrived ? big : arrived;
    }
    if (c->qcap - c->qlen < want) {
        size_t cap = c->qlen + want;
        /* Doubling amortizes many small arguments. The last bytes of a big
         * one (its remainder under BIG_ARG) need only a chunk more: a
         * 3 MB argument must not leave a 6 MB buffer. */
        int in_big_arg = resp_parser_pending_bulk(&c->parser, 0) >= BIG_ARG;
        if (big < BIG_ARG && !in_big_arg && cap < c->qcap * 2) {
            cap = c->qcap * 2;
        }
        c->qbuf = alloc_resize(c->qbuf, cap);
        c->qcap = cap;
    }
    return want;
}

/* The socket part of a read, touching nothing but the client's buffer and
 * socket, so an I/O thread may run it. Leaves the read's result in
 * io_result / io_errno. */
static void read_io(client *c)
{
    size_t want = read_room(c);
    c->io_result = conn_read(c->fd, c->tls, c->qbuf + c->qlen, want);
    c->io_errno = c->io_result < 0 ? errno : 0;
}

/* The rest of a read, in the main thread: limits, accounting, and running
 * the commands that arrived. */
static void read_done(client *c)
{
    ssize_t n = c->io_result;
    server.stats.reads_processed++;
    if (n <= 0) {
        if (n < 0 && (c->io_errno == EAGAIN || c->io_errno == EINTR)) {
            if (c->tls && tls_read_wants_write(c->tls)) {
                want_writable(c, 1);
            }
            return;
        }
        if (c->tls && n < 0) {
            log_msg(LOG_VERBOSE, "Error reading from client %s: %s", c->addr, tls_conn_error(c->tls));
        }
        client_close_async(c);
        return;
    }
    c->qlen += (size_t)n;
    if (c->tls && client_drain_tls(c) < 0) {
        client_close_async(c);
        return;
    }
    if (c->qlen > c->qbuf_peak) {
        c->qbuf_peak = c->qlen;
    }
    count_input(c, n);
    c->last_interaction = server_ms();
    /* Everything buffered counts, including the parsed arguments of a
     * command still arriving (a huge MSET must not evade the limit); the
     * primary's stream alone is exempt, as in Redis. */
    if ((long long)c->qlen > server.cfg.client_query_buffer_limit && !client_must_obey(c)) {
        str info = str_empty(256);
        client_info_line(c, &info);
        log_msg(LOG_WARNING, "Closing client that reached max query buffer length: %s", info);
        str_free(info);
        server.stats.client_qbuf_limit_disconnections++;
        client_close_async(c);
        return;
    }
    if (client_evict_if_over(c)) {
        return;
    }
    server.current_client = c;
    process_input(c);
    server.current_client = NULL;
    /* Everything read was consumed: give the buffer back. An idle
     * connection then costs its client struct and nothing else (a
     * read's allocation comes from the allocator's thread cache, so the
     * hot path pays a few nanoseconds for it); a client waiting in the
     * middle of a command keeps its bytes (qlen > 0). */
    if (c->qlen == 0) {
        alloc_free(c->qbuf);
        c->qbuf = NULL;
        c->qcap = 0;
    }
}

static void read_io_item(void *item)
{
    read_io(item);
}

void client_read_deferred(void)
{
    if (ndeferred == 0) {
        return;
    }
    if (!deferred_read) {
        /* Drop those closed meanwhile, or whose reads were paused (a busy
         * script's caller): epoll reports them again once reads resume. */
        int n = 0;
        for (int i = 0; i < ndeferred; i++) {
            client *c = deferred_reads[i];
            if (!c) {
                continue;
            }
            if (!(c->flags & CLIENT_CLOSE_ASAP) && (ev_mask(server.loop, c->fd) & EV_READABLE)) {
                deferred_reads[n++] = c;
            } else {
                c->read_deferred = 0;
            }
        }
        ndeferred = n;
        if (io_threads_engage(n)) {
            io_threads_run((void **)deferred_reads, n, read_io_item);
            server.stats.io_threaded_reads += n;
        } else if (uring_ready() && n > 1) {
            read_io_uring(deferred_reads, n);
            server.stats.io_uring_reads += n;
        } else {
            for (int i = 0; i < n; i++) {
                read_io(deferred_reads[i]);
            }
        }
        deferred_read = 1;
    }
    while (deferred_next < ndeferred) {
        client *c = deferred_reads[deferred_next++];
        if (!c) {
            continue; /* freed meanwhile */
        }
        c->read_deferred = 0;
        if (!(c->flags & CLIENT_CLOSE_ASAP)) { /* (else killed by a command before it) */
            read_done(c);
        }
    }
    ndeferred = deferred_next = deferred_read = 0;
}

static void read_handler(ev_loop *l, int fd, void *data, int mask)
{
    (void)fd;
    (void)mask;
    client *c = data;
    if (c->tls) {
        if (!tls_established(c->tls)) {
            tls_step(c);
            return;
        }
        if (tls_write_wants_read(c->tls) && write_out(c) < 0) {
            return;
        }
    }
    if (c->qlen == 0) {
        c->query_since = server_ms(); /* a new command begins */
    }
    if (((server.cfg.io_threads_do_reads && io_threads_enabled()) || uring_ready()) && io_thread_eligible(c) &&
        ev_in_main_iteration(l)) {
        /* Left for before_sleep, which hands the batch to the I/O threads
         * when it is big enough, else to one io_uring submission. */
        if (!c->read_deferred) {
            clients_reserve(&deferred_reads, &deferred_cap, ndeferred + 1);
            c->read_deferred = 1;
            deferred_reads[ndeferred++] = c;
        }
        return;
    }
    read_io(c);
    read_done(c);
}

/* Accepts a bounded batch per event so a connection storm cannot starve
 * the clients already served. A TLS client's handshake then runs from its
 * own events, so one that stalls halfway holds up nobody. */
static void accept_batch(int lfd, int tls)
{
    for (int i = 0; i < 1000; i++) {
        char ip[46];
        int port;
        int fd = sock_accept(lfd, ip, sizeof(ip), &port);
        if (fd < 0) {
            return;
        }
        int is_unix = lfd == server.unix_fd;
        if (!is_unix) {
            sock_set_nodelay(fd);
            if (server.cfg.tcp_keepalive > 0) {
                sock_set_keepalive(fd, server.cfg.tcp_keepalive);
            }
        }
        if (server.nclients >= server.cfg.maxclients) {
            /* (A TLS peer could not read it before a handshake.) */
            static const char msg[] = "-ERR max number of clients reached\r\n";
            ssize_t w = tls ? 0 : write(fd, msg, sizeof(msg) - 1);
            (void)w;
            close(fd);
            server.stats.rejected_conn++;
            continue;
        }
        client *c = client_new(fd, is_unix ? CLIENT_UNIX : 0);
        if (!c) {
            close(fd);
            continue;
        }
        if (tls && !(c->tls = tls_conn_accepted(fd, server.cfg.tls_auth_clients))) {
            log_msg(LOG_WARNING, "Error creating a TLS connection for an accepted client");
            client_free(c);
            continue;
        }
        if (is_unix) {
            snprintf(c->addr, sizeof(c->addr), "%s:0", server.cfg.unixsocket);
        } else if (strchr(ip, ':')) {
            snprintf(c->addr, sizeof(c->addr), "[%s]:%d", ip, port);
        } else {
            snprintf(c->addr, sizeof(c->addr), "%s:%d", ip, port);
        }
        sock_local_name(fd, c->laddr, sizeof(c->laddr));
        if (!tls && protected_mode_denies(c)) {
            /* Said at once, before reading anything, as Redis does: the
             * peer learns why and the connection costs nothing more (a TLS
             * peer hears it after its handshake: tls_step). */
            ssize_t w = write(fd, protected_mode_error, strlen(protected_mode_error));
            (void)w;
            server.stats.rejected_conn++;
            client_free(c);
            continue;
        }
        server.stats.numconnections++;
    }
}

void client_accept(ev_loop *l, int lfd, void *data, int mask)
{
    (void)l;
    (void)data;
    (void)mask;
    accept_batch(lfd, 0);
}

void client_accept_tls(ev_loop *l, int lfd, void *data, int mask)
{
    (void)l;
    (void)data;
    (void)mask;
    accept_batch(lfd, 1);
}

static const char *client_flags_str(client *c, char *buf)
{
    char *p = buf;
    if (c->flags & CLIENT_REPLICA) {
        *p++ = 'S';
    }
    if (c->flags & CLIENT_MASTER) {
        *p++ = 'M';
    }
    if (c->flags & CLIENT_PUBSUB) {
        *p++ = 'P';
    }
    if (c->flags & CLIENT_MULTI) {
        *p++ = 'x';
    }
    if (c->flags & CLIENT_BLOCKED) {
        *p++ = 'b';
    }
    if (c->flags & CLIENT_TRACKING) {
        *p++ = 't';
    }
    if (c->flags & CLIENT_DIRTY_CAS) {
        *p++ = 'd';
    }
    if (c->flags & CLIENT_CLOSE_AFTER_REPLY) {
        *p++ = 'c';
    }
    if (c->flags & CLIENT_UNIX) {
        *p++ = 'U';
    }
    if (c->flags & CLIENT_CLOSE_ASAP) {
        *p++ = 'A';
    }
    if (c->flags & CLIENT_NO_EVICT) {
        *p++ = 'e';
    }
    if (p == buf) {
        *p++ = 'N';
    }
    *p = '\0';
    return buf;
}

/* Counts provided by feature modules (pub/sub, MULTI) for CLIENT LIST. */
int (*client_sub_count)(client *c, int patterns);
int (*client_multi_count)(client *c);
int (*client_watch_count)(client *c);
long long (*client_tracking_redir)(client *c);
size_t (*client_multi_mem)(client *c);
size_t (*client_pubsub_mem)(client *c);
size_t (*client_tracking_mem)(client *c);

size_t client_mem(const client *c)
{
    client *m = (client *)c; /* the hooks only read */
    return sizeof(*c) + c->qcap + c->out.cap + repl_output_lag(c) + sizeof(sv) * (size_t)c->argv_cap +
           (client_multi_mem ? client_multi_mem(m) : 0) + (client_pubsub_mem ? client_pubsub_mem(m) : 0) +
           (client_tracking_mem ? client_tracking_mem(m) : 0);
}

void client_info_line(client *c, str *out)
{
    char flags[32];
    int64_t now = server_ms();
    int fd = c->fd;
    *out = str_printf(*out,
                      "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=%d sub=%d psub=%d "
                      "ssub=%d multi=%d watch=%d qbuf=%zu qbuf-free=%zu argv-mem=%zu multi-mem=%zu rbs=%zu rbp=%zu "
                      "obl=%zu oll=0 omem=%zu tot-mem=%zu events=%s cmd=%s user=%s redir=%lld resp=%d "
                      "lib-name=%s lib-ver=%s",
                      (unsigned long long)c->id, c->addr, c->laddr, fd, c->name ? c->name : "",
                      (long long)((now - c->ctime) / 1000), (long long)((now - c->last_interaction) / 1000),
                      client_flags_str(c, flags), c->db->id, client_sub_count ? client_sub_count(c, 0) : 0,
                      client_sub_count ? client_sub_count(c, 1) : 0, client_sub_count ? client_sub_count(c, 2) : 0,
                      client_multi_count ? client_multi_count(c) : -1, client_watch_count ? client_watch_count(c) : 0,
                      c->qlen, c->qcap - c->qlen, (size_t)0, client_multi_mem ? client_multi_mem(c) : 0, c->out.cap,
                      c->out.cap, rbuf_pending(&c->out), rbuf_pending(&c->out) + repl_output_lag(c), client_mem(c),
                      fd >= 0 ? ((ev_mask(server.loop, fd) & EV_WRITABLE) ? "rw" : "r") : "",
                      c->lastcmd ? c->lastcmd->name : "NULL", c->user ? c->user->name : "default",
                      client_tracking_redir ? client_tracking_redir(c) : -1LL, c->resp, c->lib_name ? c->lib_name : "",
                      c->lib_ver ? c->lib_ver : "");
}

client *client_by_id(uint64_t id)
{
    for (client *c = server.clients; c; c = c->next) {
        if (c->id == id) {
            return c;
        }
    }
    return NULL;
}

/* Idle timeout: closes clients idle for longer than `timeout` seconds
 * (never replicas, blocked or subscribed clients). Work per call is capped
 * by the caller's hz, so the scan stays bounded. */
void client_cron(void)
{
    int64_t now = server_ms();
    int64_t limit = (int64_t)server.cfg.timeout * 1000;
    for (client *c = server.clients; c; c = c->next) {
        if (limit > 0 && !(c->flags & (CLIENT_REPLICA | CLIENT_MASTER | CLIENT_BLOCKED))) {
            int idle = !(c->flags & CLIENT_PUBSUB) && !c->pstate && now - c->last_interaction > limit;
            /* Keel's addition to Redis's rule: a command must arrive whole
             * within `timeout`. A peer dribbling a byte a second never
             * looks idle, yet must not hold a connection slot and its
             * partial command forever. */
            int dribbling = c->qlen > 0 && now - c->query_since > limit;
            if (idle || dribbling) {
                log_msg(LOG_VERBOSE, idle ? "Closing idle client" : "Closing client sending a command too slowly");
                client_close_async(c);
                continue;
            }
        }
        if (rbuf_pending(&c->out) || repl_output_lag(c)) {
            client_check_obuf(c);
        }
    }
}
