/* MIGRATE: moves keys to another server (Keel or Redis) as RESTORE
 * commands carrying DUMP payloads, then deletes them here (unless COPY).
 *
 * As in Redis's standalone MIGRATE, the command runs synchronously: the
 * loop waits on the target, at most `timeout` ms at a time without
 * progress. Connections are kept per host:port for the next MIGRATE (the
 * usual caller moves a keyspace in many calls), remember the database last
 * selected on them, and are closed after 10 s unused; a reused connection
 * that fails before any reply was read is reopened once. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/util.h"
#include "net/sock.h"
#include "persist/rdb.h"
#include "server/server.h"

#define CONN_CACHE_MAX 64
#define CONN_IDLE_MS 10000
#define REPLY_LINE_MAX 1024

typedef struct target_conn {
    str name; /* "host:port", as the client wrote them */
    int fd;
    long long last_db; /* -1: SELECT before the next RESTORE */
    int64_t last_use_ms;
} target_conn;

static target_conn conns[CONN_CACHE_MAX];
static int nconns;

static void conn_close(target_conn *t)
{
    close(t->fd);
    str_free(t->name);
    *t = conns[--nconns];
}

static target_conn *conn_find(sv name)
{
    for (int i = 0; i < nconns; i++) {
        if (sv_eq((sv){conns[i].name, str_len(conns[i].name)}, name)) {
            return &conns[i];
        }
    }
    return NULL;
}

/* Waits until fd is ready for events; 0 when it is, else -1 with errno
 * (ETIMEDOUT after timeout_ms). */
static int wait_fd(int fd, short events, long long timeout_ms)
{
    struct pollfd p = {fd, events, 0};
    for (;;) {
        int rc = poll(&p, 1, timeout_ms > INT32_MAX ? INT32_MAX : (int)timeout_ms);
        if (rc > 0) {
            return 0;
        }
        if (rc == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (errno != EINTR) {
            return -1;
        }
    }
}

static target_conn *conn_open(sv host, long long port, sv name, long long timeout_ms)
{
    if (port < 0 || port > 65535 || host.len >= 256) {
        return NULL;
    }
    char h[256], err[128] = "";
    memcpy(h, host.ptr, host.len);
    h[host.len] = '\0';
    int fd = sock_connect_tcp(h, (int)port, err, sizeof(err));
    if (fd < 0) {
        return NULL;
    }
    /* A refused connection is not noticed here but at the first write,
     * as in Redis, whose error then says "writing" (the socket reports
     * itself writable either way). */
    if (wait_fd(fd, POLLOUT, timeout_ms) < 0) {
        close(fd);
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (nconns == CONN_CACHE_MAX) {
        conn_close(&conns[util_rand64() % CONN_CACHE_MAX]);
    }
    target_conn *t = &conns[nconns++];
    *t = (target_conn){str_new(name.ptr, name.len), fd, -1, 0};
    return t;
}

int migrate_cached(void)
{
    return nconns;
}

void migrate_cron(void)
{
    int64_t now = server_ms();
    for (int i = 0; i < nconns;) {
        if (now - conns[i].last_use_ms > CONN_IDLE_MS) {
            conn_close(&conns[i]);
        } else {
            i++;
        }
    }
}

static int send_all(int fd, const char *p, size_t len, long long timeout_ms)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            return -1;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (wait_fd(fd, POLLOUT, timeout_ms) < 0) {
            return -1;
        }
    }
    return 0;
}

/* The target's replies, read a line at a time. */
typedef struct reply_reader {
    int fd;
    char buf[16384];
    size_t start, end;
} reply_reader;

/* One reply line into line (cut to REPLY_LINE_MAX - 1 bytes), without its
 * CRLF; 0, or -1 on a closed, failed or silent connection. */
static int read_line(reply_reader *r, char *line, long long timeout_ms)
{
    size_t len = 0;
    for (;;) {
        while (r->start < r->end) {
            char ch = r->buf[r->start++];
            if (ch == '\n') {
                if (len > 0 && line[len - 1] == '\r') {
                    len--;
                }
                line[len] = '\0';
                return 0;
            }
            if (len < REPLY_LINE_MAX - 1) {
                line[len++] = ch;
            }
        }
        ssize_t n = read(r->fd, r->buf, sizeof(r->buf));
        if (n > 0) {
            r->start = 0;
            r->end = (size_t)n;
        } else if (n == 0) {
            errno = ECONNRESET;
            return -1;
        } else if (errno == EINTR) {
            continue;
        } else if ((errno != EAGAIN && errno != EWOULDBLOCK) || wait_fd(r->fd, POLLIN, timeout_ms) < 0) {
            return -1;
        }
    }
}

static str append_cmd(str out, const sv *argv, int argc)
{
    out = str_printf(out, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        out = str_printf(out, "$%zu\r\n", argv[i].len);
        out = str_append(out, argv[i].ptr, argv[i].len);
        out = str_append(out, "\r\n", 2);
    }
    return out;
}

typedef struct migrate_args {
    sv host, user, pass;
    long long port, db, timeout_ms;
    int copy, replace, auth;
    int first, nkeys; /* the keys' argv range */
} migrate_args;

/* MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE]
 * [AUTH password | AUTH2 username password] [KEYS key [key ...]] */
static int parse_args(client *c, migrate_args *a)
{
    memset(a, 0, sizeof(*a));
    a->first = 3;
    a->nkeys = 1;
    for (int i = 6; i < c->argc; i++) {
        int more = c->argc - i - 1;
        if (arg_is(c, i, "COPY")) {
            a->copy = 1;
        } else if (arg_is(c, i, "REPLACE")) {
            a->replace = 1;
        } else if (arg_is(c, i, "AUTH") && more >= 1) {
            a->auth = 1;
            a->user = (sv){0};
            a->pass = c->argv[++i];
        } else if (arg_is(c, i, "AUTH2") && more >= 2) {
            a->auth = 1;
            a->user = c->argv[++i];
            a->pass = c->argv[++i];
        } else if (arg_is(c, i, "KEYS")) {
            if (c->argv[3].len != 0) {
                reply_err(c, "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string");
                return 0;
            }
            a->first = i + 1;
            a->nkeys = more;
            break;
        } else {
            reply_syntax_error(c);
            return 0;
        }
    }
    /* Redis reads the timeout before the database. */
    if (!arg_ll(c, 5, &a->timeout_ms) || !arg_ll(c, 4, &a->db)) {
        return 0;
    }
    if (a->timeout_ms <= 0) {
        a->timeout_ms = 1000;
    }
    a->host = c->argv[1];
    if (!util_parse_ll(c->argv[2].ptr, c->argv[2].len, &a->port)) {
        a->port = -1; /* connecting fails: Redis's IOERR */
    }
    return 1;
}

/* The commands for the target: AUTH, SELECT when the connection is on
 * another database, then a RESTORE per key that still exists; the keys
 * sent go to sent[] (their argv indexes). */
static str build_commands(client *c, const migrate_args *a, int select, int *sent, int *nsent)
{
    str out = str_empty(256);
    if (a->auth) {
        sv argv[3] = {SV("AUTH"), a->user, a->pass};
        out = a->user.ptr ? append_cmd(out, argv, 3) : append_cmd(out, (sv[]){argv[0], a->pass}, 2);
    }
    if (select) {
        char dbbuf[32];
        int n = snprintf(dbbuf, sizeof(dbbuf), "%lld", a->db);
        out = append_cmd(out, (sv[]){SV("SELECT"), {dbbuf, (size_t)n}}, 2);
    }
    *nsent = 0;
    for (int i = a->first; i < a->first + a->nkeys; i++) {
        kobj *o = db_lookup(c->db, c->argv[i], LOOKUP_NOTOUCH);
        if (!o) {
            continue;
        }
        long long ttl = 0;
        if (kobj_expire(o) >= 0) {
            ttl = kobj_expire(o) - db_time();
            ttl = ttl < 1 ? 1 : ttl;
        }
        char ttlbuf[32];
        int n = snprintf(ttlbuf, sizeof(ttlbuf), "%lld", ttl);
        str payload = rdb_dump_value(o, c->db->id);
        sv argv[5] = {SV("RESTORE"), c->argv[i], {ttlbuf, (size_t)n}, {payload, str_len(payload)}, SV("REPLACE")};
        out = append_cmd(out, argv, a->replace ? 5 : 4);
        str_free(payload);
        sent[(*nsent)++] = i;
    }
    return out;
}

void cmd_migrate(client *c)
{
    migrate_args a;
    if (!parse_args(c, &a)) {
        return;
    }
    int found = 0;
    for (int i = a.first; i < a.first + a.nkeys; i++) {
        found += lookup_read(c, c->argv[i]) != NULL;
    }
    if (found == 0) {
        reply_status(R(c), "NOKEY");
        return;
    }
    str name = str_empty(64);
    name = str_printf(name, "%.*s:%.*s", (int)c->argv[1].len, c->argv[1].ptr, (int)c->argv[2].len, c->argv[2].ptr);
    sv namev = {name, str_len(name)};
    int *sent = alloc_mem(sizeof(int) * (size_t)a.nkeys);
    int retried = 0, writing = 0;
    for (;;) {
        target_conn *t = conn_find(namev);
        if (!t && !(t = conn_open(a.host, a.port, namev, a.timeout_ms))) {
            reply_err(c, "IOERR error or timeout connecting to the client");
            break;
        }
        t->last_use_ms = server_ms();
        int select = t->last_db != a.db, nsent;
        str out = build_commands(c, &a, select, sent, &nsent);
        writing = 1;
        int rc = send_all(t->fd, out, str_len(out), a.timeout_ms);
        str_free(out);
        int replies = 0, target_error = 0, setup_error = 0;
        if (rc == 0) {
            writing = 0;
            reply_reader *r = alloc_mem(sizeof(*r));
            r->fd = t->fd;
            r->start = r->end = 0;
            char line[REPLY_LINE_MAX];
            int steps = a.auth + select + nsent;
            for (int k = 0; k < steps && rc == 0; k++) {
                if ((rc = read_line(r, line, a.timeout_ms)) < 0) {
                    break;
                }
                replies++;
                int key_reply = k >= a.auth + select;
                if (line[0] == '-') {
                    /* The first error is the one reported. A failed AUTH or
                     * SELECT fails every key; a failed RESTORE its own. */
                    if (!target_error) {
                        reply_errf(c, "ERR Target instance replied with error: %s", line + 1);
                    }
                    target_error = 1;
                    setup_error |= !key_reply;
                    t->last_db = -1;
                } else if (key_reply && !setup_error && !a.copy) {
                    cmd_delete_key(c, c->argv[sent[k - a.auth - select]]);
                }
            }
            alloc_free(r);
        }
        if (rc == 0) {
            if (!target_error) {
                t->last_db = a.db;
                reply_ok(R(c));
            }
            break;
        }
        int timed_out = errno == ETIMEDOUT;
        conn_close(t);
        if (target_error) {
            break; /* already answered */
        }
        /* A cached connection the target closed meanwhile fails at once:
         * open a new one, once, unless the target answered something. */
        if (!retried && replies == 0 && !timed_out) {
            retried = 1;
            continue;
        }
        reply_errf(c, "IOERR error or timeout %s to target instance", writing ? "writing" : "reading");
        break;
    }
    alloc_free(sent);
    str_free(name);
}

/* Key positions for ACL checks and COMMAND GETKEYS: argv[3], or with KEYS
 * the arguments after it (AUTH and AUTH2 values skipped while looking). */
int migrate_keys(const command *cmd, const sv *argv, int argc, key_ref *out, int max)
{
    int first = 3, last = 3;
    for (int i = 6; i < argc; i++) {
        if (sv_eq_ci(argv[i], "keys")) {
            if (argv[3].len != 0) {
                return 0;
            }
            first = i + 1;
            last = argc - 1;
            break;
        }
        if (sv_eq_ci(argv[i], "auth")) {
            i += 1;
        } else if (sv_eq_ci(argv[i], "auth2")) {
            i += 2;
        }
    }
    int n = 0;
    for (int i = first; i <= last && n < max; i++) {
        out[n].pos = i;
        out[n++].flags = cmd->specs[first == 3 ? 0 : 1].flags;
    }
    return n;
}
