/* subcount: a pub/sub subscriber for the benchmark that counts delivered
 * messages at the subscribers.
 *
 * Usage: subcount PORT NSUB NPSUB CHANNEL PATTERN
 * Opens NSUB connections that SUBSCRIBE to CHANNEL and NPSUB connections
 * that PSUBSCRIBE to PATTERN, prints "ready" once every subscription is
 * confirmed, then counts messages. When a line arrives on stdin (the
 * publisher has finished), it waits until the sockets have been quiet for
 * QUIET_MS and prints one line:
 *   messages=N pmessages=M seconds=S closed=C
 * where S is the time from the first to the last delivered message.
 *
 * It is written in C rather than Python so that counting costs little CPU
 * on a small machine: the subscriber must never be what limits fan-out.
 * Messages are counted by finding the RESP frame headers
 * "$7\r\nmessage\r\n" and "$8\r\npmessage\r\n" in the byte stream; the
 * benchmark's channel names and payloads cannot contain them. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define QUIET_MS 300
#define MAX_WAIT_MS 300000
#define BUF_SIZE (256 * 1024)

static const char PAT_MSG[] = "$7\r\nmessage\r\n";
static const char PAT_PMSG[] = "$8\r\npmessage\r\n";
static const char PAT_SUB[] = "subscribe\r\n"; /* also matches psubscribe */
#define CARRY (sizeof(PAT_PMSG) - 2)           /* longest pattern - 1 */

typedef struct conn {
    int fd;
    size_t carry_len;
    char buf[CARRY + BUF_SIZE];
} conn;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Counts occurrences of pat in buf[0, n) that end after byte `old`: those
 * lying wholly inside the carried-over tail were counted by the last read. */
static long count_pat(const char *buf, size_t n, size_t old, const char *pat, size_t plen)
{
    long k = 0;
    const char *p = buf, *end = buf + n;
    while (p < end) {
        const char *m = memmem(p, (size_t)(end - p), pat, plen);
        if (m == NULL) {
            break;
        }
        if ((size_t)(m - buf) + plen > old) {
            k++;
        }
        p = m + plen;
    }
    return k;
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        perror("socket");
        exit(2);
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("connect");
        exit(2);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void send_cmd(int fd, const char *cmd, const char *arg)
{
    char out[512];
    int n = snprintf(out, sizeof(out), "*2\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n", strlen(cmd), cmd, strlen(arg), arg);
    if (write(fd, out, (size_t)n) != n) {
        perror("write");
        exit(2);
    }
}

/* Reads one subscription confirmation (blocking) before the counting
 * starts, so that no message can be published before everyone listens. */
static void wait_confirm(int fd)
{
    char b[512];
    size_t len = 0;
    while (len < sizeof(b) - 1) {
        ssize_t r = read(fd, b + len, sizeof(b) - 1 - len);
        if (r <= 0) {
            fprintf(stderr, "subscription failed\n");
            exit(2);
        }
        len += (size_t)r;
        b[len] = 0;
        if (b[0] == '-') {
            fprintf(stderr, "subscription error: %s\n", b);
            exit(2);
        }
        /* The reply is *3, kind, channel, :count; done at the count line. */
        const char *s = strstr(b, PAT_SUB);
        if (s && strchr(s, ':') && strstr(strchr(s, ':'), "\r\n")) {
            return;
        }
    }
    fprintf(stderr, "unexpected subscription reply\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: subcount PORT NSUB NPSUB CHANNEL PATTERN\n");
        return 2;
    }
    int port = atoi(argv[1]);
    int nsub = atoi(argv[2]);
    int npsub = atoi(argv[3]);
    int total = nsub + npsub;
    conn *conns = calloc((size_t)total, sizeof(conn));
    if (conns == NULL) {
        return 2;
    }
    int ep = epoll_create1(0);
    for (int i = 0; i < total; i++) {
        conns[i].fd = connect_to(port);
        if (i < nsub) {
            send_cmd(conns[i].fd, "SUBSCRIBE", argv[4]);
        } else {
            send_cmd(conns[i].fd, "PSUBSCRIBE", argv[5]);
        }
        wait_confirm(conns[i].fd);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
    }
    struct epoll_event sev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, 0, &sev);
    printf("ready\n");
    fflush(stdout);

    long msgs = 0, pmsgs = 0;
    int closed = 0, done = 0;
    double first = 0, last = 0, start = now_s(), last_activity = start;
    struct epoll_event evs[128];
    for (;;) {
        int n = epoll_wait(ep, evs, 128, 50);
        double t = now_s();
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (c == NULL) {
                /* Any input or EOF on stdin: the publisher has finished. */
                char line[64];
                ssize_t ignored = read(0, line, sizeof(line));
                (void)ignored;
                done = 1;
                epoll_ctl(ep, EPOLL_CTL_DEL, 0, NULL);
                continue;
            }
            ssize_t r = read(c->fd, c->buf + c->carry_len, BUF_SIZE);
            if (r <= 0) {
                closed++;
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                continue;
            }
            size_t len = c->carry_len + (size_t)r;
            long m = count_pat(c->buf, len, c->carry_len, PAT_MSG, sizeof(PAT_MSG) - 1);
            long pm = count_pat(c->buf, len, c->carry_len, PAT_PMSG, sizeof(PAT_PMSG) - 1);
            if (m + pm > 0) {
                if (first == 0) {
                    first = t;
                }
                last = t;
            }
            msgs += m;
            pmsgs += pm;
            last_activity = t;
            /* Keep a tail so that a header split across two reads is
             * found next time. */
            size_t keep = len < CARRY ? len : CARRY;
            memmove(c->buf, c->buf + len - keep, keep);
            c->carry_len = keep;
        }
        if (done && (t - last_activity) * 1000 >= QUIET_MS) {
            break;
        }
        if ((t - start) * 1000 >= MAX_WAIT_MS || closed == total) {
            break;
        }
    }
    printf("messages=%ld pmessages=%ld seconds=%.6f closed=%d\n", msgs, pmsgs, last > first ? last - first : 0.0,
           closed);
    fflush(stdout);
    return 0;
}
