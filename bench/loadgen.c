/* loadgen: a lean closed-loop RESP2 load generator (bench/patterns.py).
 *
 * Usage: loadgen [-h HOST] [-p PORT] [-c CONNS] [-n REQUESTS] [-P PIPELINE]
 *                [-r KEYSPACE] [--allow-errors] WORD...
 *
 * Why not redis-benchmark alone: at pipeline 1 on a small machine it spends
 * most of its CPU adding and removing the write event (epoll_ctl) around
 * every request, so it saturates before the server does and the figures
 * measure the client. Here each of CONNS connections keeps exactly PIPELINE
 * requests outstanding; when replies arrive (level-triggered read events
 * only), as many new requests as were completed are written at once with
 * send(). The write event is registered only while a short write has left
 * bytes behind, so a request normally costs one send and a share of one recv.
 *
 * With -r, each "__rand_int__" in a word becomes, per request, a random
 * number below KEYSPACE written as 12 zero-padded digits (as redis-benchmark
 * does); without -r the words are sent as given. Every reply is parsed in
 * full (RESP2, nested arrays included) and counted; if any reply was an
 * error the exit status is 1 and the first error's text is printed, unless
 * --allow-errors.
 *
 * It prints one line: requests=N seconds=S rps=R user=U sys=S cpu=C
 * p50=… p99=… p999=… max=… (milliseconds), where cpu is this
 * process's (user + sys) / wall time, from the moment every connection is
 * up and the first requests go out: near 1.00 means the load generator,
 * not the server, was the bottleneck. The latencies are exact order
 * statistics over every request: from the loop iteration that sent it to
 * the one that parsed its reply (one clock reading per iteration). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PLACEHOLDER "__rand_int__"
/* The placeholder and the number replacing it have the same length, so a
 * request's bulk lengths never change and it can be built once. */
#define RAND_DIGITS 12
#define MAX_KEYSPACE 1000000000000LL
/* Room kept free for each recv: small replies arrive in one call; a buffer
 * that fills up is doubled, so large replies grow it as needed. */
#define READ_ROOM 16384
#define MAX_EVENTS 256
#define ERROR_TEXT_MAX 256
/* Latencies are kept one per request, so their count is bounded. */
#define MAX_LATENCIES 100000000L

/* A growable byte buffer. */
typedef struct {
    char *data;
    size_t len, cap;
} buf_t;

typedef struct {
    int fd;
    buf_t in;      /* received bytes; [parsed, len) is an unfinished reply */
    size_t parsed; /* start of the first reply not yet complete */
    buf_t out;     /* what a short send left behind, sent on EPOLLOUT */
    size_t out_off;
    long outstanding; /* requests sent whose replies have not arrived */
    int want_write;   /* EPOLLOUT registered */
    /* When each outstanding request went out (ns): a ring of PIPELINE
     * slots, oldest at sent_head. */
    uint64_t *sent_ns;
    long sent_head;
} conn_t;

/* The command as RESP bytes, and where its placeholders sit in them. */
typedef struct {
    buf_t bytes;
    size_t *slots;
    size_t nslots;
} request_t;

static struct {
    int epfd;
    conn_t *conns;
    long nconns;
    request_t req;
    uint64_t keyspace; /* 0: no placeholder replacement */
    long pipeline;
    long total, issued, completed, errors;
    char *scratch; /* room for one batch of up to PIPELINE requests */
    uint64_t rng;
    char first_error[ERROR_TEXT_MAX];
    uint64_t now_ns;     /* this loop iteration's clock reading */
    uint32_t *latencies; /* one per completed request, in ns (capped) */
} lg;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("loadgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        die("out of memory");
    }
    return p;
}

/* Makes room for at least `extra` more bytes. */
static void buf_reserve(buf_t *b, size_t extra)
{
    if (b->cap - b->len >= extra) {
        return;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra) {
        cap *= 2;
    }
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

static void buf_append(buf_t *b, const char *p, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void buf_printf(buf_t *b, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    buf_append(b, tmp, (size_t)n);
}

/* splitmix64: cheap and well mixed; a fixed seed makes runs repeatable. */
static uint64_t rng_next(void)
{
    uint64_t z = (lg.rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double cpu_s(const struct timeval *tv)
{
    return tv->tv_sec + tv->tv_usec / 1e6;
}

/* ---- the request ---- */

static void request_build(request_t *rq, int argc, char **argv)
{
    buf_printf(&rq->bytes, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]);
        buf_printf(&rq->bytes, "$%zu\r\n", n);
        size_t start = rq->bytes.len;
        buf_append(&rq->bytes, argv[i], n);
        buf_append(&rq->bytes, "\r\n", 2);
        if (!lg.keyspace) {
            continue;
        }
        for (const char *p = argv[i]; (p = strstr(p, PLACEHOLDER)) != NULL; p += RAND_DIGITS) {
            rq->slots = xrealloc(rq->slots, (rq->nslots + 1) * sizeof(*rq->slots));
            rq->slots[rq->nslots++] = start + (size_t)(p - argv[i]);
        }
    }
}

/* Writes k requests to dst, each placeholder with its own random number. */
static void request_fill(const request_t *rq, char *dst, long k)
{
    for (long i = 0; i < k; i++, dst += rq->bytes.len) {
        memcpy(dst, rq->bytes.data, rq->bytes.len);
        for (size_t s = 0; s < rq->nslots; s++) {
            uint64_t v = rng_next() % lg.keyspace;
            char *d = dst + rq->slots[s];
            for (int j = RAND_DIGITS - 1; j >= 0; j--, v /= 10) {
                d[j] = (char)('0' + v % 10);
            }
        }
    }
}

/* ---- the reply parser ---- */

/* A decimal integer filling [p, end); 0 on success. Limited to 18 digits,
 * far above any real length, so no arithmetic here can overflow. */
static int parse_int(const char *p, const char *end, long long *out)
{
    int neg = p < end && *p == '-';
    p += neg;
    if (p == end || end - p > 18) {
        return -1;
    }
    long long v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9') {
            return -1;
        }
        v = v * 10 + (*p - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

/* The length of the whole reply at the start of buf, 0 if it has not all
 * arrived, -1 if the bytes are not RESP2. Nesting needs no stack: only the
 * count of elements still to read matters, and an array header adds its
 * length to it. */
static long reply_parse(const char *buf, size_t len)
{
    size_t pos = 0;
    long long pending = 1;
    while (pending > 0) {
        if (pos >= len) {
            return 0;
        }
        const char *line = buf + pos;
        const char *cr = memchr(line, '\r', len - pos);
        if (!cr || (size_t)(cr - buf) + 1 >= len) {
            return 0;
        }
        if (cr[1] != '\n') {
            return -1;
        }
        size_t next = (size_t)(cr - buf) + 2;
        long long n = 0;
        pending--;
        switch (line[0]) {
        case '+':
        case '-': break;
        case ':':
            if (parse_int(line + 1, cr, &n)) {
                return -1;
            }
            break;
        case '$':
            if (parse_int(line + 1, cr, &n) || n < -1) {
                return -1;
            }
            if (n >= 0) {
                if (len - next < (size_t)n + 2) {
                    return 0;
                }
                if (buf[next + n] != '\r' || buf[next + n + 1] != '\n') {
                    return -1;
                }
                next += (size_t)n + 2;
            }
            break;
        case '*':
            if (parse_int(line + 1, cr, &n) || n < -1) {
                return -1;
            }
            if (n > 0) {
                pending += n;
            }
            break;
        default: return -1;
        }
        pos = next;
    }
    return (long)pos;
}

/* ---- connections ---- */

static void conn_watch(conn_t *c, int op, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(lg.epfd, op, c->fd, &ev) < 0) {
        die("epoll_ctl: %s", strerror(errno));
    }
}

static int conn_open(const struct addrinfo *ai, const char *host, const char *port)
{
    int fd = -1, err = 0;
    for (; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            break;
        }
        err = errno;
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        die("cannot connect to %s:%s: %s", host, port, strerror(err));
    }
    /* Without NODELAY a small request can wait for the previous one's ACK. */
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
        die("socket options: %s", strerror(errno));
    }
    return fd;
}

/* Makes k new requests at scratch, noting when they went out; returns
 * their length in bytes. */
static size_t conn_make(conn_t *c, long k)
{
    request_fill(&lg.req, lg.scratch, k);
    for (long i = 0; i < k; i++) {
        c->sent_ns[(c->sent_head + c->outstanding + i) % lg.pipeline] = lg.now_ns;
    }
    lg.issued += k;
    c->outstanding += k;
    return (size_t)k * lg.req.bytes.len;
}

/* Sends k new requests. Normally one send() takes them all; what a short
 * send leaves waits in c->out behind EPOLLOUT, and later requests queue
 * behind it so the byte order holds. */
static void conn_send(conn_t *c, long k)
{
    size_t n = conn_make(c, k);
    if (c->want_write) {
        buf_append(&c->out, lg.scratch, n);
        return;
    }
    ssize_t w;
    do {
        w = send(c->fd, lg.scratch, n, MSG_NOSIGNAL);
    } while (w < 0 && errno == EINTR);
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        die("send: %s", strerror(errno));
    }
    size_t sent = w < 0 ? 0 : (size_t)w;
    if (sent < n) {
        buf_append(&c->out, lg.scratch + sent, n - sent);
        c->want_write = 1;
        conn_watch(c, EPOLL_CTL_MOD, EPOLLIN | EPOLLOUT);
    }
}

/* On EPOLLOUT: sends what is left; once drained, back to read events only. */
static void conn_flush(conn_t *c)
{
    ssize_t w = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
    if (w < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            return;
        }
        die("send: %s", strerror(errno));
    }
    c->out_off += (size_t)w;
    if (c->out_off == c->out.len) {
        c->out.len = c->out_off = 0;
        c->want_write = 0;
        conn_watch(c, EPOLL_CTL_MOD, EPOLLIN);
    }
}

/* Reads what has arrived, records the latencies of the replies it
 * completed and returns how many they were. */
static long conn_read(conn_t *c)
{
    for (;;) {
        buf_reserve(&c->in, READ_ROOM);
        ssize_t r = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
        if (r > 0) {
            c->in.len += (size_t)r;
            /* A full buffer may mean more is waiting; else the next read
             * event (level-triggered) brings the rest. */
            if (c->in.len < c->in.cap) {
                break;
            }
            continue;
        }
        if (r == 0) {
            die("the server closed a connection after %ld replies", lg.completed);
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
        }
        die("lost a connection after %ld replies: %s", lg.completed, strerror(errno));
    }
    long done = 0;
    for (;;) {
        const char *p = c->in.data + c->parsed;
        long n = reply_parse(p, c->in.len - c->parsed);
        if (n < 0) {
            size_t left = c->in.len - c->parsed;
            die("protocol error in a reply starting: %.*s", (int)(left < 40 ? left : 40), p);
        }
        if (n == 0) {
            break;
        }
        if (*p == '-' && lg.errors++ == 0) {
            const char *cr = memchr(p, '\r', (size_t)n);
            snprintf(lg.first_error, sizeof(lg.first_error), "%.*s", (int)(cr - p - 1), p + 1);
        }
        c->parsed += (size_t)n;
        done++;
        if (done > c->outstanding) {
            die("more replies than requests (%ld for %ld outstanding)", done, c->outstanding);
        }
        uint64_t took = lg.now_ns - c->sent_ns[c->sent_head];
        c->sent_head = (c->sent_head + 1) % lg.pipeline;
        if (lg.latencies) {
            lg.latencies[lg.completed + done - 1] = took > UINT32_MAX ? UINT32_MAX : (uint32_t)took;
        }
    }
    c->outstanding -= done;
    /* Keep an unfinished reply; move it to the front only once it sits in
     * the back half, so a large reply is not copied on every read. */
    if (c->parsed == c->in.len) {
        c->parsed = c->in.len = 0;
    } else if (c->parsed >= c->in.cap / 2) {
        memmove(c->in.data, c->in.data + c->parsed, c->in.len - c->parsed);
        c->in.len -= c->parsed;
        c->parsed = 0;
    }
    return done;
}

/* The closed loop: every reply that comes in sends a new request. */
static void run(void)
{
    lg.epfd = epoll_create1(0);
    if (lg.epfd < 0) {
        die("epoll_create1: %s", strerror(errno));
    }
    for (long i = 0; i < lg.nconns; i++) {
        conn_watch(&lg.conns[i], EPOLL_CTL_ADD, EPOLLIN);
    }
    lg.now_ns = now_ns();
    for (long i = 0; i < lg.nconns && lg.issued < lg.total; i++) {
        long k = lg.total - lg.issued < lg.pipeline ? lg.total - lg.issued : lg.pipeline;
        conn_send(&lg.conns[i], k);
    }
    struct epoll_event evs[MAX_EVENTS];
    while (lg.completed < lg.total) {
        int nev = epoll_wait(lg.epfd, evs, MAX_EVENTS, -1);
        if (nev < 0) {
            if (errno == EINTR) {
                continue;
            }
            die("epoll_wait: %s", strerror(errno));
        }
        lg.now_ns = now_ns();
        for (int i = 0; i < nev; i++) {
            conn_t *c = evs[i].data.ptr;
            if (evs[i].events & EPOLLOUT) {
                conn_flush(c);
            }
            /* A hang-up or error shows itself in recv. */
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                long done = conn_read(c);
                lg.completed += done;
                long k = lg.total - lg.issued < done ? lg.total - lg.issued : done;
                if (k > 0) {
                    conn_send(c, k);
                }
            }
        }
    }
    close(lg.epfd);
}

/* ---- main ---- */

static long long parse_count(const char *s, const char *what, long long min, long long max)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *s == '\0' || *end != '\0' || v < min || v > max) {
        die("%s must be an integer from %lld to %lld, not '%s'", what, min, max, s);
    }
    return v;
}

static void usage(void)
{
    fprintf(stderr, "usage: loadgen [-h host] [-p port] [-c conns] [-n requests] [-P pipeline]\n"
                    "               [-r keyspace] [--allow-errors] command [arg...]\n");
    exit(2);
}

static int by_value(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The q-quantile of the sorted latencies, in milliseconds (nearest rank). */
static double quantile_ms(double q)
{
    long rank = (long)(q * (double)lg.completed + 0.999999);
    if (rank < 1) {
        rank = 1;
    }
    return lg.latencies[rank - 1] / 1e6;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *port = "6379";
    int allow_errors = 0;
    lg.nconns = 50;
    lg.total = 100000;
    lg.pipeline = 1;
    lg.rng = 0x2545f4914f6cdd1dULL;
    static const struct option longopts[] = {
        {"allow-errors", no_argument, NULL, 'E'}, {"help", no_argument, NULL, '?'}, {NULL, 0, NULL, 0}};
    /* "+": stop at the first command word, so arguments such as "-1" of
     * the command are not taken for options. */
    int opt;
    while ((opt = getopt_long(argc, argv, "+h:p:c:n:P:r:", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p':
            parse_count(optarg, "-p", 1, 65535);
            port = optarg;
            break;
        case 'c': lg.nconns = parse_count(optarg, "-c", 1, 100000); break;
        case 'n': lg.total = parse_count(optarg, "-n", 1, 1000000000000LL); break;
        case 'P': lg.pipeline = parse_count(optarg, "-P", 1, 100000); break;
        case 'r': lg.keyspace = (uint64_t)parse_count(optarg, "-r", 1, MAX_KEYSPACE); break;
        case 'E': allow_errors = 1; break;
        default: usage();
        }
    }
    if (optind >= argc) {
        usage();
    }
    request_build(&lg.req, argc - optind, argv + optind);
    lg.scratch = xrealloc(NULL, (size_t)lg.pipeline * lg.req.bytes.len);
    if (lg.total <= MAX_LATENCIES) {
        lg.latencies = xrealloc(NULL, (size_t)lg.total * sizeof(*lg.latencies));
    }

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        die("cannot resolve %s: %s", host, gai_strerror(rc));
    }
    lg.conns = calloc((size_t)lg.nconns, sizeof(*lg.conns));
    if (!lg.conns) {
        die("out of memory");
    }
    for (long i = 0; i < lg.nconns; i++) {
        lg.conns[i].fd = conn_open(ai, host, port);
        lg.conns[i].sent_ns = xrealloc(NULL, (size_t)lg.pipeline * sizeof(uint64_t));
    }
    freeaddrinfo(ai);

    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    uint64_t start = now_ns();
    run();
    double wall = (now_ns() - start) / 1e9;
    getrusage(RUSAGE_SELF, &ru1);
    double user = cpu_s(&ru1.ru_utime) - cpu_s(&ru0.ru_utime);
    double sys = cpu_s(&ru1.ru_stime) - cpu_s(&ru0.ru_stime);
    printf("requests=%ld seconds=%.3f rps=%.0f user=%.3f sys=%.3f cpu=%.2f", lg.completed, wall, lg.completed / wall,
           user, sys, (user + sys) / wall);
    if (lg.latencies) {
        qsort(lg.latencies, (size_t)lg.completed, sizeof(*lg.latencies), by_value);
        printf(" p50=%.3f p99=%.3f p999=%.3f max=%.3f", quantile_ms(0.50), quantile_ms(0.99), quantile_ms(0.999),
               lg.latencies[lg.completed - 1] / 1e6);
    }
    putchar('\n');
    fflush(stdout);

    for (long i = 0; i < lg.nconns; i++) {
        close(lg.conns[i].fd);
        free(lg.conns[i].in.data);
        free(lg.conns[i].out.data);
        free(lg.conns[i].sent_ns);
    }
    free(lg.conns);
    free(lg.scratch);
    free(lg.latencies);
    free(lg.req.bytes.data);
    free(lg.req.slots);
    if (lg.errors > 0) {
        fprintf(stderr, "loadgen: %ld error replies; the first: %s\n", lg.errors, lg.first_error);
        return allow_errors ? 0 : 1;
    }
    return 0;
}
