/* uring unit test: batches of receives and sends over socket pairs, more
 * than one ring's worth at once; what each op must report: its bytes,
 * -EAGAIN when there is nothing to do, 0 at end of stream, a short count
 * when the socket buffer fills, -EPIPE (and no SIGPIPE) towards a closed
 * peer, -EBADF for a bad descriptor. Skips when the kernel refuses
 * io_uring. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/uring.h"
#include "unit.h"

/* More than the ring's 1024 entries, so a batch goes in several parts. */
#define WANT_PAIRS 1500

static int pairs[WANT_PAIRS][2];
static uring_op ops[WANT_PAIRS];
static char bufs[WANT_PAIRS][64];

static int open_pairs(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int n = 0;
    while (n < WANT_PAIRS && socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pairs[n]) == 0) {
        n++;
    }
    return n;
}

static void test_recv(int n)
{
    for (int i = 0; i < n; i++) {
        ops[i] = (uring_op){pairs[i][0], bufs[i], sizeof(bufs[i]), 0};
    }
    uring_recv_all(ops, n);
    int again = 0;
    for (int i = 0; i < n; i++) {
        again += ops[i].res == -EAGAIN;
    }
    CHECK(again == n); /* nothing sent yet: no op waits, each says so */

    for (int i = 0; i < n; i += 2) {
        char msg[32];
        int len = snprintf(msg, sizeof(msg), "request %d", i);
        CHECK(write(pairs[i][1], msg, (size_t)len) == len);
    }
    memset(bufs, 0, sizeof(bufs));
    uring_recv_all(ops, n);
    int right = 0;
    for (int i = 0; i < n; i++) {
        char msg[32];
        int len = snprintf(msg, sizeof(msg), "request %d", i);
        if (i % 2 == 0) {
            right += ops[i].res == len && memcmp(bufs[i], msg, (size_t)len) == 0;
        } else {
            right += ops[i].res == -EAGAIN;
        }
    }
    CHECK(right == n);
}

static void test_send(int n)
{
    for (int i = 0; i < n; i++) {
        int len = snprintf(bufs[i], sizeof(bufs[i]), "+reply %d\r\n", i);
        ops[i] = (uring_op){pairs[i][0], bufs[i], (size_t)len, 0};
    }
    uring_send_all(ops, n);
    int right = 0;
    for (int i = 0; i < n; i++) {
        char got[64], want[64];
        int len = snprintf(want, sizeof(want), "+reply %d\r\n", i);
        ssize_t r = read(pairs[i][1], got, sizeof(got));
        right += ops[i].res == len && r == len && memcmp(got, want, (size_t)len) == 0;
    }
    CHECK(right == n);
}

/* A send bigger than the socket buffer moves part of it, and the ops
 * after it in the batch still run. */
static void test_short_send(void)
{
    size_t big = 16u << 20;
    char *data = malloc(big);
    memset(data, 'x', big);
    ops[0] = (uring_op){pairs[0][0], data, big, 0};
    ops[1] = (uring_op){pairs[1][0], "+OK\r\n", 5, 0};
    uring_send_all(ops, 2);
    CHECK(ops[0].res > 0 && (size_t)ops[0].res < big);
    CHECK(ops[1].res == 5);
    char got[8];
    CHECK(read(pairs[1][1], got, sizeof(got)) == 5);
    /* The buffer is full now: the next send has nothing to do. */
    uring_send_all(ops, 1);
    CHECK(ops[0].res == -EAGAIN);
    free(data);
}

static void test_closed_and_bad(void)
{
    int a[2], b[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b) == 0);
    close(a[1]);
    close(b[1]);
    char buf[16];
    uring_op r[2] = {{a[0], buf, sizeof(buf), 0}, {-1, buf, sizeof(buf), 0}};
    uring_recv_all(r, 2);
    CHECK(r[0].res == 0); /* end of stream */
    CHECK(r[1].res == -EBADF);
    uring_op s[1] = {{b[0], "+OK\r\n", 5, 0}};
    uring_send_all(s, 1); /* would raise SIGPIPE without MSG_NOSIGNAL */
    CHECK(s[0].res == -EPIPE);
    close(a[0]);
    close(b[0]);
}

int main(void)
{
    int rc = uring_open();
    if (rc < 0) {
        printf("uring: skipped, the kernel refuses io_uring (%s)\n", strerror(-rc));
        return 0;
    }
    CHECK(uring_ready());
    CHECK(uring_open() == 0); /* a second call keeps the ring */
    int n = open_pairs();
    CHECK(n >= 2);
    if (n < 1100) {
        fprintf(stderr, "uring: only %d socket pairs: the batch fits one ring\n", n);
    }
    test_recv(n);
    test_send(n);
    test_short_send();
    test_closed_and_bad();
    return unit_report("uring");
}
