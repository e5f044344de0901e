/* tls_server: maps the tls-* directives onto net/tls.c's settings. Redis
 * configures TLS only when something uses it (a tls-port, tls-replication
 * or tls-cluster), so a server with the files unset starts as before. */
#include "server/tls_server.h"

#include <stdio.h>
#include <unistd.h>

#include "acl/acl.h"
#include "base/log.h"
#include "module/module.h"
#include "net/tls.h"
#include "server/server.h"

int tls_server_wanted(void)
{
    return server.cfg.tls_port != 0 || server.cfg.tls_replication || server.cfg.tls_cluster;
}

int tls_server_configure(char *err, size_t errlen)
{
    server_config *c = &server.cfg;
    tls_settings s = {
        .cert_file = c->tls_cert_file,
        .key_file = c->tls_key_file,
        .key_file_pass = c->tls_key_file_pass,
        .client_cert_file = c->tls_client_cert_file,
        .client_key_file = c->tls_client_key_file,
        .client_key_file_pass = c->tls_client_key_file_pass,
        .dh_params_file = c->tls_dh_params_file,
        .ca_cert_file = c->tls_ca_cert_file,
        .ca_cert_dir = c->tls_ca_cert_dir,
        .protocols = c->tls_protocols,
        .ciphers = c->tls_ciphers,
        .ciphersuites = c->tls_ciphersuites,
        .prefer_server_ciphers = c->tls_prefer_server_ciphers,
        .session_caching = c->tls_session_caching,
        .session_cache_size = c->tls_session_cache_size,
        .session_cache_timeout = c->tls_session_cache_timeout,
        .need_ca = c->tls_auth_clients != TLS_AUTH_NO || c->tls_replication || c->tls_cluster,
    };
    return tls_configure(&s, err, errlen);
}

int tls_server_start(void)
{
    if (!tls_server_wanted()) {
        return 0;
    }
    char err[512];
    if (tls_server_configure(err, sizeof(err)) < 0) {
        log_msg(LOG_WARNING, "%s", err);
        log_msg(LOG_WARNING, "Failed to configure TLS. Check logs for more info.");
        return -1;
    }
    return 0;
}

int tls_server_set_port(int port, char *err, size_t errlen)
{
    if (port == server.cfg.tls_port) {
        return 0;
    }
    /* A server that had no use for TLS builds its contexts now. */
    if (port != 0 && !tls_ready()) {
        char why[512];
        if (tls_server_configure(why, sizeof(why)) < 0) {
            log_msg(LOG_WARNING, "%s", why);
            snprintf(err, errlen, "Unable to update TLS configuration. Check server logs.");
            return -1;
        }
    }
    int fds[16], count = 0;
    if (port != 0 && server_listen_tcp(port, fds, &count) < 0) {
        snprintf(err, errlen, "Unable to listen on this port. Check server logs.");
        return -1;
    }
    for (int i = 0; i < server.tls_listen_count; i++) {
        ev_del(server.loop, server.tls_listen_fds[i], EV_READABLE);
        close(server.tls_listen_fds[i]);
    }
    for (int i = 0; i < count; i++) {
        server.tls_listen_fds[i] = fds[i];
        ev_add(server.loop, fds[i], EV_READABLE, client_accept_tls, NULL);
    }
    server.tls_listen_count = count;
    server.cfg.tls_port = port;
    return 0;
}

void tls_server_cert_login(client *c)
{
    char cn[256];
    int n = tls_peer_cn(c->tls, cn, sizeof(cn));
    if (n < 0) {
        return; /* no certificate (tls-auth-clients optional or no) */
    }
    acl_user *u = acl_user_find(cn, (size_t)n);
    if (!u || !(u->flags & ACL_USER_ON)) {
        server.stats.acl_denied_tls_cert++;
        log_msg(LOG_VERBOSE, "TLS client %s: certificate CN '%.*s' names no enabled ACL user", c->addr, n, cn);
        return;
    }
    module_user_changed(c);
    c->user = u;
    c->authenticated = 1;
}
