/* tls: OpenSSL contexts and connections on non-blocking sockets.
 *
 * Two contexts: the server one for connections accepted on tls-port, and
 * a client one for links we open (a replica to its primary), which shows
 * tls-client-cert-file when set and the server certificate otherwise, as
 * Redis does. Reconfiguring builds both anew and swaps them in only when
 * both built; OpenSSL reference-counts a context, so connections opened
 * under the old one keep working with it.
 *
 * OpenSSL is asked never to read ahead of the record it decrypts, so the
 * bytes of a later record stay in the kernel, where epoll sees them; what
 * remains inside OpenSSL is only the rest of the current record
 * (tls_pending), which readers drain before they wait. Writes may be
 * partial (SSL_MODE_ENABLE_PARTIAL_WRITE) and may be retried from a moved
 * buffer (the output buffer compacts), which is how the plain path already
 * treats write(2). */
#include "net/tls.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "base/alloc.h"

struct tls_conn {
    SSL *ssl;
    int established;
    int failed; /* a fatal error: no close_notify may follow */
    int read_wants_write, write_wants_read;
    char err[200];
};

static SSL_CTX *server_ctx, *client_ctx;

/* ---- memory ---- */

static void *ossl_malloc(size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    return alloc_mem(n);
}

static void *ossl_realloc(void *p, size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    if (n == 0) {
        alloc_free(p);
        return NULL;
    }
    return alloc_resize(p, n);
}

static void ossl_free(void *p, const char *file, int line)
{
    (void)file;
    (void)line;
    alloc_free(p);
}

void tls_init(void)
{
    CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free);
}

/* ---- contexts ---- */

static int is_set(const char *s)
{
    return s && s[0];
}

/* The oldest error OpenSSL queued, as text ("" when none). */
static void ssl_error_text(char *buf, size_t len)
{
    unsigned long e = ERR_peek_error();
    if (e) {
        ERR_error_string_n(e, buf, len);
    } else {
        snprintf(buf, len, "unknown error");
    }
    ERR_clear_error();
}

/* tls-protocols as OpenSSL's "no" options; -1 for an unknown name. Empty
 * means TLSv1.2 and TLSv1.3 (Redis's default). */
static long protocol_options(const char *spec)
{
    long all = SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 | SSL_OP_NO_TLSv1_2 | SSL_OP_NO_TLSv1_3;
    if (!is_set(spec)) {
        return SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
    }
    long no = all;
    char word[32];
    const char *p = spec;
    while (*p) {
        while (*p == ' ') {
            p++;
        }
        size_t n = strcspn(p, " ");
        if (n == 0) {
            break;
        }
        if (n >= sizeof(word)) {
            return -1;
        }
        memcpy(word, p, n);
        word[n] = '\0';
        p += n;
        if (strcasecmp(word, "TLSv1") == 0) {
            no &= ~SSL_OP_NO_TLSv1;
        } else if (strcasecmp(word, "TLSv1.1") == 0) {
            no &= ~SSL_OP_NO_TLSv1_1;
        } else if (strcasecmp(word, "TLSv1.2") == 0) {
            no &= ~SSL_OP_NO_TLSv1_2;
        } else if (strcasecmp(word, "TLSv1.3") == 0) {
            no &= ~SSL_OP_NO_TLSv1_3;
        } else {
            return -1;
        }
    }
    return no == all ? -1 : no;
}

/* The key password comes from the settings, never from a terminal
 * prompt (OpenSSL's default for an encrypted key without a callback). */
static int password_cb(char *buf, int size, int rwflag, void *userdata)
{
    (void)rwflag;
    const char *pass = userdata ? userdata : "";
    size_t n = strlen(pass);
    if (n >= (size_t)size) {
        return 0;
    }
    memcpy(buf, pass, n);
    return (int)n;
}

static int load_dh_params(SSL_CTX *ctx, const char *path, char *err, size_t errlen)
{
    BIO *bio = BIO_new_file(path, "r");
    if (!bio) {
        snprintf(err, errlen, "Failed to load %s: %s", path, strerror(errno ? errno : ENOENT));
        ERR_clear_error();
        return -1;
    }
    EVP_PKEY *dh = PEM_read_bio_Parameters(bio, NULL);
    BIO_free(bio);
    char ssl_err[160];
    if (!dh) {
        ssl_error_text(ssl_err, sizeof(ssl_err));
        snprintf(err, errlen, "Failed to load DH params file: %s", path);
        return -1;
    }
    if (SSL_CTX_set0_tmp_dh_pkey(ctx, dh) <= 0) {
        EVP_PKEY_free(dh);
        ssl_error_text(ssl_err, sizeof(ssl_err));
        snprintf(err, errlen, "Failed to load DH params file: %s: %s", path, ssl_err);
        return -1;
    }
    return 0; /* the context owns dh now */
}

/* One context from the settings; the client one verifies the peer it
 * connects to, the server one decides per connection (tls-auth-clients). */
static SSL_CTX *build_ctx(const tls_settings *s, int client, char *err, size_t errlen)
{
    const char *cert = s->cert_file, *key = s->key_file, *pass = s->key_file_pass;
    if (client && is_set(s->client_cert_file)) {
        cert = s->client_cert_file;
        key = s->client_key_file;
        pass = s->client_key_file_pass;
    }
    long no_protocols = protocol_options(s->protocols);
    if (no_protocols < 0) {
        snprintf(err, errlen,
                 "Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'.");
        return NULL;
    }
    char ssl_err[160];
    SSL_CTX *ctx = SSL_CTX_new(client ? TLS_client_method() : TLS_server_method());
    if (!ctx) {
        ssl_error_text(ssl_err, sizeof(ssl_err));
        snprintf(err, errlen, "Failed to create an SSL context: %s", ssl_err);
        return NULL;
    }
    /* TLSv1 and TLSv1.1 are off at OpenSSL 3's default security level
     * unless asked for: level 0 lets tls-protocols decide, as in Redis. */
    if (!(no_protocols & SSL_OP_NO_TLSv1) || !(no_protocols & SSL_OP_NO_TLSv1_1)) {
        SSL_CTX_set_security_level(ctx, 0);
    }
    SSL_CTX_set_options(ctx, (uint64_t)no_protocols | SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (s->prefer_server_ciphers) {
        SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    }
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(ctx, 0);
    if (!client) {
        if (s->session_caching) {
            SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
            SSL_CTX_sess_set_cache_size(ctx, (long)s->session_cache_size);
            SSL_CTX_set_timeout(ctx, (long)s->session_cache_timeout);
            /* Resumption with client certificates needs a context id. */
            SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"keel", 4);
        } else {
            SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
            SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        }
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    SSL_CTX_set_default_passwd_cb(ctx, password_cb);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)(pass ? pass : ""));
    int ok = 0;
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) <= 0) {
        ssl_error_text(ssl_err, sizeof(ssl_err));
        snprintf(err, errlen, "Failed to load certificate: %s: %s", cert, ssl_err);
    } else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) <= 0 || !SSL_CTX_check_private_key(ctx)) {
        ssl_error_text(ssl_err, sizeof(ssl_err));
        snprintf(err, errlen, "Failed to load private key: %s: %s", key, ssl_err);
    } else if ((is_set(s->ca_cert_file) || is_set(s->ca_cert_dir)) &&
               SSL_CTX_load_verify_locations(ctx, is_set(s->ca_cert_file) ? s->ca_cert_file : NULL,
                                             is_set(s->ca_cert_dir) ? s->ca_cert_dir : NULL) <= 0) {
        ssl_error_text(ssl_err, sizeof(ssl_err));
        snprintf(err, errlen, "Failed to configure CA certificate(s) file/directory: %s", ssl_err);
    } else if (!client && is_set(s->dh_params_file) && load_dh_params(ctx, s->dh_params_file, err, errlen) < 0) {
        /* err is set */
    } else if (is_set(s->ciphers) && !SSL_CTX_set_cipher_list(ctx, s->ciphers)) {
        ERR_clear_error();
        snprintf(err, errlen, "Failed to configure ciphers: %s", s->ciphers);
    } else if (is_set(s->ciphersuites) && !SSL_CTX_set_ciphersuites(ctx, s->ciphersuites)) {
        ERR_clear_error();
        snprintf(err, errlen, "Failed to configure ciphersuites: %s", s->ciphersuites);
    } else {
        ok = 1;
    }
    /* The password was needed only while the key loaded. */
    SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
    if (!ok) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (!client && !is_set(s->dh_params_file)) {
        SSL_CTX_set_dh_auto(ctx, 1);
    }
    return ctx;
}

int tls_configure(const tls_settings *s, char *err, size_t errlen)
{
    if (!is_set(s->cert_file)) {
        snprintf(err, errlen, "No tls-cert-file configured!");
        return -1;
    }
    if (!is_set(s->key_file)) {
        snprintf(err, errlen, "No tls-key-file configured!");
        return -1;
    }
    if (s->need_ca && !is_set(s->ca_cert_file) && !is_set(s->ca_cert_dir)) {
        snprintf(err, errlen,
                 "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or "
                 "tls-auth-clients are enabled!");
        return -1;
    }
    SSL_CTX *srv = build_ctx(s, 0, err, errlen);
    if (!srv) {
        return -1;
    }
    SSL_CTX *cli = build_ctx(s, 1, err, errlen);
    if (!cli) {
        SSL_CTX_free(srv);
        return -1;
    }
    SSL_CTX_free(server_ctx);
    SSL_CTX_free(client_ctx);
    server_ctx = srv;
    client_ctx = cli;
    return 0;
}

int tls_ready(void)
{
    return server_ctx != NULL;
}

void tls_cleanup(void)
{
    SSL_CTX_free(server_ctx);
    SSL_CTX_free(client_ctx);
    server_ctx = client_ctx = NULL;
}

/* ---- connections ---- */

static tls_conn *conn_new(SSL_CTX *ctx, int fd)
{
    if (!ctx) {
        return NULL;
    }
    SSL *ssl = SSL_new(ctx);
    if (!ssl) {
        ERR_clear_error();
        return NULL;
    }
    if (!SSL_set_fd(ssl, fd)) {
        ERR_clear_error();
        SSL_free(ssl);
        return NULL;
    }
    tls_conn *t = alloc_zero(sizeof(*t));
    t->ssl = ssl;
    return t;
}

tls_conn *tls_conn_accepted(int fd, int auth_clients)
{
    tls_conn *t = conn_new(server_ctx, fd);
    if (!t) {
        return NULL;
    }
    int mode = SSL_VERIFY_NONE;
    if (auth_clients == TLS_AUTH_YES) {
        mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    } else if (auth_clients == TLS_AUTH_OPTIONAL) {
        mode = SSL_VERIFY_PEER;
    }
    SSL_set_verify(t->ssl, mode, NULL);
    SSL_set_accept_state(t->ssl);
    return t;
}

tls_conn *tls_conn_connecting(int fd)
{
    tls_conn *t = conn_new(client_ctx, fd);
    if (t) {
        SSL_set_connect_state(t->ssl);
    }
    return t;
}

void tls_conn_free(tls_conn *t)
{
    if (!t) {
        return;
    }
    if (t->established && !t->failed) {
        /* One non-blocking attempt: the peer learns the close was meant,
         * and the session stays resumable. Nothing waits for its reply. */
        ERR_clear_error();
        if (SSL_shutdown(t->ssl) < 0) {
            ERR_clear_error();
        }
    }
    SSL_free(t->ssl);
    alloc_free(t);
}

void tls_conn_abandon(tls_conn *t)
{
    t->failed = 1;
}

/* Records why the connection failed, for the caller's log line. */
static void conn_failed(tls_conn *t, int ssl_error, int sys_errno)
{
    t->failed = 1;
    char text[160] = "";
    if (ssl_error == SSL_ERROR_SYSCALL) {
        unsigned long e = ERR_peek_error();
        if (e) {
            ERR_error_string_n(e, text, sizeof(text));
        } else {
            snprintf(text, sizeof(text), "%s", sys_errno ? strerror(sys_errno) : "Connection closed by peer");
        }
    } else if (ssl_error == SSL_ERROR_ZERO_RETURN) {
        snprintf(text, sizeof(text), "Connection closed by peer");
    } else {
        ssl_error_text(text, sizeof(text));
    }
    ERR_clear_error();
    long verify = SSL_get_verify_result(t->ssl);
    if (verify != X509_V_OK) {
        snprintf(t->err, sizeof(t->err), "%s (certificate: %s)", text, X509_verify_cert_error_string(verify));
    } else {
        snprintf(t->err, sizeof(t->err), "%s", text);
    }
}

int tls_handshake(tls_conn *t)
{
    if (t->established) {
        return TLS_OK;
    }
    ERR_clear_error();
    errno = 0;
    int rc = SSL_do_handshake(t->ssl);
    if (rc == 1) {
        t->established = 1;
        return TLS_OK;
    }
    int saved = errno;
    int e = SSL_get_error(t->ssl, rc);
    if (e == SSL_ERROR_WANT_READ) {
        return TLS_WANT_READ;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
        return TLS_WANT_WRITE;
    }
    conn_failed(t, e, saved);
    return TLS_ERROR;
}

int tls_peer_cn(const tls_conn *t, char *buf, size_t cap)
{
    X509 *cert = SSL_get_peer_certificate(t->ssl);
    if (!cert) {
        return -1;
    }
    int len = -1;
    X509_NAME *subject = X509_get_subject_name(cert);
    int at = subject ? X509_NAME_get_index_by_NID(subject, NID_commonName, -1) : -1;
    if (at >= 0 && SSL_get_verify_result(t->ssl) == X509_V_OK) {
        const ASN1_STRING *cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at));
        int n = ASN1_STRING_length(cn);
        if (n >= 0 && (size_t)n <= cap) {
            memcpy(buf, ASN1_STRING_get0_data(cn), (size_t)n);
            len = n;
        }
    }
    X509_free(cert);
    return len;
}

char *tls_peer_cert_pem(const tls_conn *t, size_t *len)
{
    X509 *cert = SSL_get_peer_certificate(t->ssl);
    if (!cert) {
        return NULL;
    }
    char *pem = NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio && PEM_write_bio_X509(bio, cert)) {
        char *data;
        long n = BIO_get_mem_data(bio, &data);
        if (n > 0) {
            pem = alloc_mem((size_t)n);
            memcpy(pem, data, (size_t)n);
            *len = (size_t)n;
        }
    }
    BIO_free(bio);
    X509_free(cert);
    return pem;
}

int tls_established(const tls_conn *t)
{
    return t->established;
}

const char *tls_conn_error(const tls_conn *t)
{
    return t->err[0] ? t->err : "no error";
}

/* A failed SSL_read or SSL_write as read(2)/write(2) would report it. */
static ssize_t io_result(tls_conn *t, int rc, int saved_errno, int reading)
{
    int e = SSL_get_error(t->ssl, rc);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        t->write_wants_read = !reading;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_WANT_WRITE:
        t->read_wants_write = reading;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        /* The peer's close_notify: an orderly end, like read(2)'s 0. */
        t->failed = 1;
        if (reading) {
            return 0;
        }
        errno = EPIPE;
        return -1;
    case SSL_ERROR_SYSCALL:
        conn_failed(t, e, saved_errno);
        if (reading && saved_errno == 0) {
            return 0;
        }
        errno = saved_errno ? saved_errno : ECONNRESET;
        if (errno == EAGAIN || errno == EINTR) {
            errno = EIO; /* never "try again" for a failed connection */
        }
        return -1;
    default:
        conn_failed(t, e, saved_errno);
        errno = EIO;
        return -1;
    }
}

ssize_t tls_read(tls_conn *t, void *buf, size_t len)
{
    t->read_wants_write = 0;
    ERR_clear_error();
    errno = 0;
    int n = SSL_read(t->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
    if (n > 0) {
        return n;
    }
    return io_result(t, n, errno, 1);
}

ssize_t tls_write(tls_conn *t, const void *buf, size_t len)
{
    t->write_wants_read = 0;
    if (len == 0) {
        return 0;
    }
    ERR_clear_error();
    errno = 0;
    int n = SSL_write(t->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
    if (n > 0) {
        return n;
    }
    return io_result(t, n, errno, 0);
}

size_t tls_pending(tls_conn *t)
{
    int n = SSL_pending(t->ssl);
    return n > 0 ? (size_t)n : 0;
}

int tls_read_wants_write(const tls_conn *t)
{
    return t->read_wants_write;
}

int tls_write_wants_read(const tls_conn *t)
{
    return t->write_wants_read;
}
