/* tls: TLS on non-blocking sockets, with OpenSSL. The contexts (server
 * side for accepted connections, client side for links we open), a
 * connection's handshake as a state machine driven by the event loop, and
 * reads and writes that report what they wait for (readable or writable)
 * instead of blocking. conn.h picks plain or TLS per connection. */
#ifndef KEEL_TLS_H
#define KEEL_TLS_H

#include <stddef.h>
#include <sys/types.h>

typedef struct tls_conn tls_conn;

/* The settings a context is built from (Redis's tls-* directives). Strings
 * may be NULL or empty for "not set". */
typedef struct tls_settings {
    const char *cert_file, *key_file, *key_file_pass;
    const char *client_cert_file, *client_key_file, *client_key_file_pass;
    const char *dh_params_file;
    const char *ca_cert_file, *ca_cert_dir;
    const char *protocols; /* "TLSv1.2 TLSv1.3"; empty means those two */
    const char *ciphers, *ciphersuites;
    int prefer_server_ciphers;
    int session_caching;
    long long session_cache_size;
    long long session_cache_timeout;
    int need_ca; /* tls-auth-clients or tls-replication: peers are verified */
} tls_settings;

/* Routes OpenSSL's allocations through base/alloc, so TLS state (some
 * 55 KB per connection) counts in used_memory and maxmemory. Call before
 * anything uses OpenSSL; later calls change nothing. */
void tls_init(void);
/* Builds new contexts; only when both build do they replace the current
 * ones (connections already open keep theirs). On failure returns -1 with
 * Redis's message in err, and the current contexts stay. */
int tls_configure(const tls_settings *s, char *err, size_t errlen);
/* Whether contexts exist (tls_configure succeeded once). */
int tls_ready(void);
/* Frees the contexts (exit clean-up in sanitizer builds). */
void tls_cleanup(void);

/* Results of tls_handshake, and what a read or write waits for. */
enum { TLS_OK = 0, TLS_WANT_READ = 1, TLS_WANT_WRITE = 2, TLS_ERROR = -1 };
/* tls-auth-clients: whether an accepted peer must show a certificate. */
enum { TLS_AUTH_NO = 0, TLS_AUTH_YES = 1, TLS_AUTH_OPTIONAL = 2 };

/* A connection over a connected non-blocking fd (the fd stays the
 * caller's: tls_conn_free does not close it). NULL when no context. */
tls_conn *tls_conn_accepted(int fd, int auth_clients);
tls_conn *tls_conn_connecting(int fd);
/* Sends close_notify if the socket takes it at once, then frees. */
void tls_conn_free(tls_conn *t);
/* The session now belongs to another process (a forked debugger): free
 * it here without the close_notify that would end it there. */
void tls_conn_abandon(tls_conn *t);

/* Advances the handshake: TLS_OK once done, TLS_WANT_READ/WRITE for the
 * event to wait for, TLS_ERROR (tls_conn_error says why). */
int tls_handshake(tls_conn *t);
int tls_established(const tls_conn *t);
/* The Common Name of the certificate the peer presented and the handshake
 * verified, copied into buf (up to cap bytes); its length, or -1 when
 * there is none (no certificate, no CN, or a CN longer than cap). */
int tls_peer_cn(const tls_conn *t, char *buf, size_t cap);
const char *tls_conn_error(const tls_conn *t);
/* The certificate the peer presented, in PEM, as a new string; NULL when
 * it presented none. */
char *tls_peer_cert_pem(const tls_conn *t, size_t *len);

/* As read(2) and write(2): >0 bytes, 0 for the peer's close (reads), -1
 * with errno EAGAIN when the operation waits for an event, or another
 * errno (EIO, ECONNRESET) when the connection failed. */
ssize_t tls_read(tls_conn *t, void *buf, size_t len);
ssize_t tls_write(tls_conn *t, const void *buf, size_t len);
/* Decrypted bytes OpenSSL holds that a read has not returned yet: epoll
 * cannot report them, so readers drain them before waiting again. */
size_t tls_pending(tls_conn *t);
/* After a read that got EAGAIN: 1 when it waits for writable (TLS may
 * have to send before it can deliver). After a write: 1 when it waits for
 * readable. Rare (key updates), but a loop that ignores them stalls. */
int tls_read_wants_write(const tls_conn *t);
int tls_write_wants_read(const tls_conn *t);

#endif
