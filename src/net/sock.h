/* sock: TCP and unix socket set-up, non-blocking accept, socket options. */
#ifndef KEEL_SOCK_H
#define KEEL_SOCK_H

#include <stddef.h>

/* Each returns a listening fd, or -1 with a message in err. */
int sock_listen_tcp(const char *addr, int port, int backlog, char *err, size_t errlen);
int sock_listen_unix(const char *path, int perm, int backlog, char *err, size_t errlen);
/* Returns a non-blocking fd, or -1 (EAGAIN when nothing is pending).
 * ip/port are filled for TCP peers ("" and 0 for unix). */
int sock_accept(int lfd, char *ip, size_t iplen, int *port);
int sock_set_nonblock(int fd);
void sock_set_nodelay(int fd);
void sock_set_keepalive(int fd, int interval);
/* Local address of a connected socket as "ip:port". */
void sock_local_name(int fd, char *buf, size_t len);

/* A non-blocking connect to host:port (the connection completes when the
 * fd becomes writable); -1 with a message in err. */
int sock_connect_tcp(const char *host, int port, char *err, size_t errlen);
/* The same from the local address source (NULL or "": any). */
int sock_connect_tcp_from(const char *host, int port, const char *source, char *err, size_t errlen);
/* The pending error of a completed connect (0 when it succeeded). */
int sock_connect_error(int fd);

#endif
