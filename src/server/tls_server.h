/* tls_server: the server's TLS set-up from its tls-* directives: the
 * contexts at start-up and on CONFIG SET, and which port a replica
 * announces. The connections themselves are net/tls.c's. */
#ifndef KEEL_TLS_SERVER_H
#define KEEL_TLS_SERVER_H

#include <stddef.h>

/* Whether TLS is in use: a tls-port, or replication (or cluster) over TLS. */
int tls_server_wanted(void);
/* (Re)builds the contexts from the configuration; -1 with Redis's message
 * in err, the running contexts unchanged. */
int tls_server_configure(char *err, size_t errlen);
/* Start-up: configures when wanted; logs and returns -1 on failure. */
int tls_server_start(void);
/* CONFIG SET tls-port: listens on the new port (0: none) before closing
 * the old listeners, so a failure changes nothing; -1 with err. */
int tls_server_set_port(int port, char *err, size_t errlen);
/* After a client's handshake, with tls-auth-clients-user CN: the client is
 * logged in as the ACL user its certificate's Common Name names (when that
 * user exists and is on), or counted in acl_access_denied_tls_cert. */
typedef struct client client;
void tls_server_cert_login(client *c);

#endif
