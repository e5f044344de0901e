/* conn: the one read and write call for any connection, plain or TLS.
 * A connection is its fd plus a tls_conn (NULL for plain TCP and unix
 * sockets); the plain path is read(2)/write(2) behind one predictable
 * branch, so it costs what it cost before TLS existed. */
#ifndef KEEL_CONN_H
#define KEEL_CONN_H

#include <unistd.h>

#include "net/tls.h"

/* Both return what read(2)/write(2) return; errno EAGAIN means "wait for
 * an event" (for TLS: see tls_read_wants_write/tls_write_wants_read). */
static inline ssize_t conn_read(int fd, tls_conn *t, void *buf, size_t len)
{
    if (__builtin_expect(t == NULL, 1)) {
        return read(fd, buf, len);
    }
    return tls_read(t, buf, len);
}

static inline ssize_t conn_write(int fd, tls_conn *t, const void *buf, size_t len)
{
    if (__builtin_expect(t == NULL, 1)) {
        return write(fd, buf, len);
    }
    return tls_write(t, buf, len);
}

#endif
