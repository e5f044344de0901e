/* uring: batched non-blocking socket I/O over one io_uring. */
#include "net/uring.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/log.h"

/* Ops per submission; a bigger batch goes in several. */
#define RING_ENTRIES 1024

static struct io_uring ring;
static int ready;

int uring_open(void)
{
    if (ready) {
        return 0;
    }
    /* One thread submits, and completions are reaped only when we ask:
     * the kernel then skips the cross-thread wake-ups it would otherwise
     * arrange. Older kernels lack some flags: plain setup does too. */
    unsigned flags = 0;
#if defined(IORING_SETUP_SINGLE_ISSUER) && defined(IORING_SETUP_DEFER_TASKRUN)
    flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
#endif
#ifdef IORING_SETUP_SUBMIT_ALL
    /* An op the kernel refuses at submission gets its error as a
     * completion, and the rest of the batch still goes. */
    flags |= IORING_SETUP_SUBMIT_ALL;
#endif
    int rc = io_uring_queue_init(RING_ENTRIES, &ring, flags);
#ifdef IORING_SETUP_SUBMIT_ALL
    if (rc == -EINVAL) { /* a kernel before 6.1: keep what it has */
        rc = io_uring_queue_init(RING_ENTRIES, &ring, IORING_SETUP_SUBMIT_ALL);
    }
#endif
    if (rc == -EINVAL) { /* before 5.18 */
        rc = io_uring_queue_init(RING_ENTRIES, &ring, 0);
    }
    if (rc < 0) {
        return rc;
    }
    ready = 1;
    return 0;
}

void uring_close(void)
{
    if (ready) {
        io_uring_queue_exit(&ring);
        ready = 0;
    }
}

int uring_ready(void)
{
    return ready;
}

/* Files each completion's result under its op; returns how many. */
static unsigned reap(uring_op *ops)
{
    unsigned head, seen = 0;
    struct io_uring_cqe *cqe;
    io_uring_for_each_cqe(&ring, head, cqe)
    {
        ops[io_uring_cqe_get_data64(cqe)].res = cqe->res;
        seen++;
    }
    io_uring_cq_advance(&ring, seen);
    return seen;
}

static void run(uring_op *ops, int n, int send)
{
    for (int base = 0; base < n; base += RING_ENTRIES) {
        int k = n - base < RING_ENTRIES ? n - base : RING_ENTRIES;
        for (int i = 0; i < k; i++) {
            uring_op *op = &ops[base + i];
            struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
            if (send) {
                io_uring_prep_send(sqe, op->fd, op->buf, op->len, MSG_DONTWAIT | MSG_NOSIGNAL);
            } else {
                io_uring_prep_recv(sqe, op->fd, op->buf, op->len, MSG_DONTWAIT);
            }
            io_uring_sqe_set_data64(sqe, (unsigned long long)(base + i));
            op->res = -EAGAIN;
        }
        /* Non-blocking socket ops complete during the submission itself,
         * so waiting for all k costs no sleep. Every op must have been
         * handed over before this returns: one left in the ring would go
         * out with the next batch, its buffer long reused. So a short or
         * refused submission (the kernel short of memory: EAGAIN; EBUSY
         * until completions are reaped) is retried. */
        unsigned seen = 0;
        for (;;) {
            int rc = io_uring_submit_and_wait(&ring, (unsigned)k - seen);
            if (rc >= 0 && io_uring_sq_ready(&ring) == 0) {
                break;
            }
            if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
                log_msg(LOG_WARNING, "io_uring submission failed: %s", strerror(-rc));
                abort(); /* (EINVAL, EFAULT...: a bug here, not a client's doing) */
            }
            seen += reap(ops);
        }
        seen += reap(ops);
        while ((int)seen < k) {
            struct io_uring_cqe *cqe;
            int rc = io_uring_wait_cqe(&ring, &cqe);
            if (rc < 0) {
                if (rc == -EINTR || rc == -EAGAIN) {
                    continue;
                }
                log_msg(LOG_WARNING, "io_uring wait failed: %s", strerror(-rc));
                abort();
            }
            seen += reap(ops);
        }
    }
}

void uring_recv_all(uring_op *ops, int n)
{
    run(ops, n, 0);
}

void uring_send_all(uring_op *ops, int n)
{
    run(ops, n, 1);
}
