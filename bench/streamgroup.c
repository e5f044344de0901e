/* streamgroup: a consumer-group benchmark client (XREADGROUP + XACK).
 *
 * Usage: streamgroup PORT KEY NENTRIES NCONSUMERS PIPELINE
 *
 * Set-up (not timed), on one connection: DEL KEY, then NENTRIES entries
 * XADD KEY <i>-0 f1 v1 f2 v2 f3 v3 for i = 1..NENTRIES (pipelined in
 * batches of 1,000), then XGROUP CREATE KEY g 0.
 *
 * Timed part: NCONSUMERS connections, consumer c<i> on connection i, all
 * driven from one epoll loop. Each connection repeats one step until the
 * group has nothing left to deliver:
 *   - send PIPELINE commands XREADGROUP GROUP g c<i> COUNT 1 STREAMS KEY >
 *     in one write and read the PIPELINE replies;
 *   - send one XACK KEY g <id> per entry received (so up to PIPELINE
 *     commands, again in one write) and read those replies.
 * So with PIPELINE 1 a consumer has one command in flight at a time, and
 * with PIPELINE 16 sixteen; every command handles one entry either way.
 * A connection stops after a step in which some XREADGROUP returned no
 * entry (a nil reply: the group's last-delivered ID is at the end).
 *
 * It prints one line:
 *   entries=N delivered=D acked=A seconds=S
 * where D is the number of entries the XREADGROUPs returned, A the sum of
 * the XACK replies, and S the time from the first command sent to the last
 * reply of the last connection. A run is valid when D == A == N (every
 * entry delivered once and acknowledged). Finally it deletes KEY.
 * Any error reply or lost connection is reported on stderr, exit status 1.
 *
 * Like subcount.c it uses raw sockets and a minimal RESP2 reader, so that
 * the client costs little CPU: it must not be what limits the rate. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_WAIT_MS 300000
#define BUF_SIZE (256 * 1024)
#define MAX_PIPELINE 64
#define ID_MAX 48
#define LOAD_BATCH 1000

typedef struct conn {
    int fd;
    char name[16];
    char *buf;
    size_t len;
    int acking;    /* 0: waiting for XREADGROUP replies, 1: for XACK replies */
    int pending;   /* replies still expected in this phase */
    int nids;      /* IDs received in this step */
    int exhausted; /* a XREADGROUP of this step returned nothing */
    int done;
    char ids[MAX_PIPELINE][ID_MAX];
} conn;

static const char *key;
static long delivered, acked;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "streamgroup: %s%s%.300s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        die("socket failed", NULL);
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        die("connect failed", NULL);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) {
            die("write failed", NULL);
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Appends one command in RESP to out (which has room: callers size it). */
static size_t put_cmd(char *out, int argc, const char **argv)
{
    size_t n = (size_t)sprintf(out, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        n += (size_t)sprintf(out + n, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
    }
    return n;
}

/* ---- a minimal RESP2 reader over a buffer ----
 * Each function returns the position after what it read, or NULL when the
 * buffer does not hold all of it yet. */

static const char *read_line(const char *p, const char *end, long long *num)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (nl == NULL) {
        return NULL;
    }
    *num = strtoll(p + 1, NULL, 10);
    return nl + 1;
}

static const char *skip_value(const char *p, const char *end)
{
    if (p >= end) {
        return NULL;
    }
    long long n;
    const char *q = read_line(p, end, &n);
    if (q == NULL) {
        return NULL;
    }
    switch (*p) {
    case '$':
        if (n < 0) {
            return q;
        }
        return end - q >= n + 2 ? q + n + 2 : NULL;
    case '*':
        for (long long i = 0; i < n && q; i++) {
            q = skip_value(q, end);
        }
        return q;
    default: /* + - : _ */ return q;
    }
}

/* A bulk string into dst (at most cap-1 bytes); NULL if incomplete. */
static const char *read_bulk(const char *p, const char *end, char *dst, size_t cap)
{
    if (p >= end) {
        return NULL;
    }
    if (*p != '$') {
        die("unexpected reply", p);
    }
    long long n;
    const char *q = read_line(p, end, &n);
    if (q == NULL) {
        return NULL;
    }
    if (n < 0 || (size_t)n >= cap) {
        die("bad entry ID in reply", p);
    }
    if (end - q < n + 2) {
        return NULL;
    }
    memcpy(dst, q, (size_t)n);
    dst[n] = 0;
    return q + n + 2;
}

static const char *expect_array(const char *p, const char *end, long long *n)
{
    if (p >= end) {
        return NULL;
    }
    if (*p != '*') {
        die("unexpected reply", p);
    }
    return read_line(p, end, n);
}

/* One XREADGROUP reply: nil, or [[key, [[id, fields], ...]], ...]. The IDs
 * go to c->ids. Returns the end of the reply or NULL if incomplete. */
static const char *read_xreadgroup(conn *c, const char *p, const char *end)
{
    if (p < end && *p == '-') {
        die("XREADGROUP error", p);
    }
    long long nstreams, nentries, two;
    const char *q = expect_array(p, end, &nstreams);
    int got = 0;
    char ids[MAX_PIPELINE][ID_MAX];
    for (long long s = 0; q && s < nstreams; s++) {
        q = expect_array(q, end, &two);
        q = q ? skip_value(q, end) : NULL; /* the key */
        q = q ? expect_array(q, end, &nentries) : NULL;
        for (long long e = 0; q && e < nentries; e++) {
            q = expect_array(q, end, &two);
            if (got >= MAX_PIPELINE) {
                die("too many entries in one reply", NULL);
            }
            q = q ? read_bulk(q, end, ids[got], ID_MAX) : NULL;
            q = q ? skip_value(q, end) : NULL; /* the fields */
            got++;
        }
    }
    if (q == NULL) {
        return NULL;
    }
    if (got == 0) {
        c->exhausted = 1;
    }
    for (int i = 0; i < got; i++) {
        if (c->nids >= MAX_PIPELINE) {
            die("too many entries in one step", NULL);
        }
        memcpy(c->ids[c->nids++], ids[i], ID_MAX);
    }
    delivered += got;
    return q;
}

static void send_reads(conn *c, int pipeline)
{
    static char out[MAX_PIPELINE * 256];
    const char *argv[] = {"XREADGROUP", "GROUP", "g", c->name, "COUNT", "1", "STREAMS", key, ">"};
    size_t one = put_cmd(out, 9, argv);
    for (int i = 1; i < pipeline; i++) {
        memcpy(out + one * (size_t)i, out, one);
    }
    write_all(c->fd, out, one * (size_t)pipeline);
    c->acking = 0;
    c->pending = pipeline;
    c->nids = 0;
}

static void send_acks(conn *c)
{
    static char out[MAX_PIPELINE * 256];
    size_t n = 0;
    for (int i = 0; i < c->nids; i++) {
        const char *argv[] = {"XACK", key, "g", c->ids[i]};
        n += put_cmd(out + n, 4, argv);
    }
    write_all(c->fd, out, n);
    c->acking = 1;
    c->pending = c->nids;
}

/* Consumes complete replies from c->buf; advances the step. */
static void process(conn *c, int pipeline)
{
    const char *p = c->buf, *end = c->buf + c->len;
    while (c->pending > 0 && p < end) {
        const char *q;
        if (c->acking) {
            long long v;
            if (*p != ':') {
                if (memchr(p, '\n', (size_t)(end - p)) == NULL) {
                    break;
                }
                die("XACK error", p);
            }
            q = read_line(p, end, &v);
            if (q) {
                acked += v;
            }
        } else {
            q = read_xreadgroup(c, p, end);
        }
        if (q == NULL) {
            break;
        }
        p = q;
        if (--c->pending == 0) {
            if (!c->acking && c->nids > 0) {
                send_acks(c);
            } else if (c->exhausted) {
                c->done = 1;
            } else {
                send_reads(c, pipeline);
            }
        }
    }
    c->len = (size_t)(end - p);
    memmove(c->buf, p, c->len);
}

/* Reads until `want` complete replies have arrived; returns how many of
 * them were errors (the first is printed). */
static long read_replies(int fd, long want)
{
    static char buf[BUF_SIZE];
    size_t len = 0;
    long errors = 0;
    while (want > 0) {
        ssize_t r = read(fd, buf + len, sizeof(buf) - len);
        if (r <= 0) {
            die("connection lost during set-up", NULL);
        }
        len += (size_t)r;
        const char *p = buf, *end = buf + len, *q;
        while (want > 0 && (q = skip_value(p, end)) != NULL) {
            if (*p == '-' && errors++ == 0) {
                fprintf(stderr, "streamgroup: set-up error: %.*s", (int)(q - p), p);
            }
            p = q;
            want--;
        }
        len = (size_t)(end - p);
        memmove(buf, p, len);
    }
    return errors;
}

static void setup(int port, long n)
{
    int fd = connect_to(port);
    char *out = malloc(LOAD_BATCH * 128);
    const char *del[] = {"DEL", key};
    size_t len = put_cmd(out, 2, del);
    write_all(fd, out, len);
    read_replies(fd, 1);
    for (long i = 1; i <= n;) {
        len = 0;
        long batch = 0;
        for (; i <= n && batch < LOAD_BATCH; i++, batch++) {
            char id[32];
            snprintf(id, sizeof(id), "%ld-0", i);
            const char *argv[] = {"XADD", key, id, "f1", "v1", "f2", "v2", "f3", "v3"};
            len += put_cmd(out + len, 9, argv);
        }
        write_all(fd, out, len);
        if (read_replies(fd, batch) > 0) {
            die("XADD failed", NULL);
        }
    }
    const char *create[] = {"XGROUP", "CREATE", key, "g", "0"};
    len = put_cmd(out, 5, create);
    write_all(fd, out, len);
    if (read_replies(fd, 1) > 0) {
        die("XGROUP CREATE failed", NULL);
    }
    free(out);
    close(fd);
}

static void teardown(int port)
{
    int fd = connect_to(port);
    char out[256];
    const char *del[] = {"DEL", key};
    write_all(fd, out, put_cmd(out, 2, del));
    read_replies(fd, 1);
    close(fd);
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: streamgroup PORT KEY NENTRIES NCONSUMERS PIPELINE\n");
        return 2;
    }
    int port = atoi(argv[1]);
    key = argv[2];
    long n = atol(argv[3]);
    int ncons = atoi(argv[4]);
    int pipeline = atoi(argv[5]);
    if (n < 1 || ncons < 1 || pipeline < 1 || pipeline > MAX_PIPELINE || strlen(key) > 100) {
        fprintf(stderr, "streamgroup: bad arguments\n");
        return 2;
    }
    setup(port, n);

    conn *conns = calloc((size_t)ncons, sizeof(conn));
    int ep = epoll_create1(0);
    for (int i = 0; i < ncons; i++) {
        conns[i].fd = connect_to(port);
        conns[i].buf = malloc(BUF_SIZE);
        snprintf(conns[i].name, sizeof(conns[i].name), "c%d", i);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
    }
    double start = now_s(), last = start;
    for (int i = 0; i < ncons; i++) {
        send_reads(&conns[i], pipeline);
    }
    int active = ncons;
    struct epoll_event evs[64];
    while (active > 0) {
        int k = epoll_wait(ep, evs, 64, 1000);
        double t = now_s();
        if ((t - start) * 1000 >= MAX_WAIT_MS) {
            die("timed out", NULL);
        }
        for (int i = 0; i < k; i++) {
            conn *c = evs[i].data.ptr;
            ssize_t r = read(c->fd, c->buf + c->len, BUF_SIZE - c->len);
            if (r <= 0) {
                die("connection lost", NULL);
            }
            c->len += (size_t)r;
            process(c, pipeline);
            if (c->done) {
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                active--;
                last = t;
            }
        }
    }
    printf("entries=%ld delivered=%ld acked=%ld seconds=%.6f\n", n, delivered, acked, last - start);
    fflush(stdout);
    for (int i = 0; i < ncons; i++) {
        close(conns[i].fd);
    }
    teardown(port);
    return 0;
}
