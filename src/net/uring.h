/* uring: a batch of socket receives or sends in one system call, through
 * io_uring. The event loop still learns readiness from epoll; what this
 * saves is the read(2) and write(2) per ready client at pipeline depth 1,
 * where a loop iteration serving N clients made 2N+1 system calls and now
 * makes three. Main thread only. */
#ifndef KEEL_URING_H
#define KEEL_URING_H

#include <stddef.h>
#include <sys/types.h>

typedef struct uring_op {
    int fd;
    void *buf;
    size_t len;
    ssize_t res; /* bytes moved, or -errno (-EAGAIN: nothing to do now) */
} uring_op;

/* Sets up the ring; 0, or -errno when the kernel refuses io_uring (too
 * old, or disabled by sysctl or a seccomp filter). */
int uring_open(void);
/* Tears the ring down (CONFIG SET io-backend epoll); safe when closed.
 * Never called while a batch is in flight: the batches run to the end
 * inside uring_recv_all and uring_send_all. */
void uring_close(void);
int uring_ready(void);
/* Every op is attempted without waiting (MSG_DONTWAIT); all have their
 * result when these return. */
void uring_recv_all(uring_op *ops, int n);
void uring_send_all(uring_op *ops, int n);

#endif
