/* uring: batched non-blocking socket I/O over one io_uring. */
#include "net/uring.h"

#include <errno.h>
#include <liburing.h>
#include <sys/socket.h>

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
     * arrange. Older kernels lack these flags; plain setup does too. */
    unsigned flags = 0;
#if defined(IORING_SETUP_SINGLE_ISSUER) && defined(IORING_SETUP_DEFER_TASKRUN)
    flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
#endif
    int rc = io_uring_queue_init(RING_ENTRIES, &ring, flags);
    if (rc < 0 && flags != 0) {
        rc = io_uring_queue_init(RING_ENTRIES, &ring, 0);
    }
    if (rc < 0) {
        return rc;
    }
    ready = 1;
    return 0;
}

int uring_ready(void)
{
    return ready;
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
         * so waiting for all k costs no sleep. */
        int rc;
        do {
            rc = io_uring_submit_and_wait(&ring, (unsigned)k);
        } while (rc == -EINTR);
        unsigned head, seen = 0;
        struct io_uring_cqe *cqe;
        io_uring_for_each_cqe(&ring, head, cqe)
        {
            ops[io_uring_cqe_get_data64(cqe)].res = cqe->res;
            seen++;
        }
        io_uring_cq_advance(&ring, seen);
        while ((int)seen < k) {
            /* (Not expected: the wait above returns with all k done.) */
            if (io_uring_wait_cqe(&ring, &cqe) < 0) {
                break;
            }
            ops[io_uring_cqe_get_data64(cqe)].res = cqe->res;
            io_uring_cqe_seen(&ring, cqe);
            seen++;
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
