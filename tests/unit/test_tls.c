/* tls unit test: contexts from files made here (a self-signed P-256
 * certificate that is its own CA, and a key of another certificate), the
 * error texts of a bad configuration, and two connections over a
 * non-blocking socketpair: the handshake driven only by WANT_READ and
 * WANT_WRITE, reads smaller than a record (the rest shows in tls_pending),
 * writes that fill the socket and are retried from a moved buffer, and the
 * peer's close read as end of stream. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "base/alloc.h"
#include "base/util.h"
#include "net/tls.h"
#include "unit.h"

static char dir[64], cert[128], key[128], other_key[128];

/* A key (and with cert_path a self-signed certificate for it) as PEM. */
static void make_files(const char *cert_path, const char *key_path)
{
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    FILE *f = fopen(key_path, "w");
    PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    if (cert_path) {
        X509 *x = X509_new();
        X509_set_version(x, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
        X509_gmtime_adj(X509_getm_notBefore(x), -60);
        X509_gmtime_adj(X509_getm_notAfter(x), 3600);
        X509_set_pubkey(x, pkey);
        X509_NAME *name = X509_get_subject_name(x);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0);
        X509_set_issuer_name(x, name);
        X509_sign(x, pkey, EVP_sha256());
        f = fopen(cert_path, "w");
        PEM_write_X509(f, x);
        fclose(f);
        X509_free(x);
    }
    EVP_PKEY_free(pkey);
}

static tls_settings base_settings(void)
{
    tls_settings s = {0};
    s.cert_file = cert;
    s.key_file = key;
    s.ca_cert_file = cert; /* self-signed: its own CA */
    s.session_caching = 1;
    s.session_cache_size = 100;
    s.session_cache_timeout = 60;
    s.need_ca = 1;
    return s;
}

static int configure_error(tls_settings s, const char *prefix)
{
    char err[512] = "";
    int rc = tls_configure(&s, err, sizeof(err));
    if (rc == 0 || strncmp(err, prefix, strlen(prefix)) != 0) {
        fprintf(stderr, "expected error \"%s\", got rc=%d \"%s\"\n", prefix, rc, err);
        return 0;
    }
    return 1;
}

static void test_configure(void)
{
    tls_settings s = base_settings();
    s.cert_file = "";
    CHECK(configure_error(s, "No tls-cert-file configured!"));
    CHECK(!tls_ready()); /* nothing configured yet */
    s = base_settings();
    s.ca_cert_file = NULL;
    CHECK(configure_error(s, "Either tls-ca-cert-file or tls-ca-cert-dir must be specified"));
    s = base_settings();
    s.protocols = "TLSv1.2 TLSv9";
    CHECK(configure_error(s, "Invalid tls-protocols specified."));
    s.protocols = "   ";
    CHECK(configure_error(s, "Invalid tls-protocols specified."));
    s = base_settings();
    s.cert_file = "/nonexistent/x.crt";
    CHECK(configure_error(s, "Failed to load certificate: /nonexistent/x.crt: "));
    s = base_settings();
    s.key_file = other_key;
    CHECK(configure_error(s, "Failed to load private key: "));
    s = base_settings();
    s.ca_cert_file = "/nonexistent/ca.crt";
    CHECK(configure_error(s, "Failed to configure CA certificate(s) file/directory: "));
    s = base_settings();
    s.ciphersuites = "NOPE";
    CHECK(configure_error(s, "Failed to configure ciphersuites: NOPE"));
    s = base_settings();
    s.dh_params_file = "/nonexistent/dh.pem";
    CHECK(configure_error(s, "Failed to load /nonexistent/dh.pem: No such file or directory"));
    CHECK(!tls_ready());
    s = base_settings();
    s.protocols = "tlsv1.3";
    char err[512];
    CHECK(tls_configure(&s, err, sizeof(err)) == 0);
    CHECK(tls_ready());
    /* A failed reconfiguration keeps the contexts it would have replaced. */
    s.cert_file = "/nonexistent/x.crt";
    CHECK(tls_configure(&s, err, sizeof(err)) < 0);
    CHECK(tls_ready());
}

/* Drives both handshakes until done; counts the waits each side reported. */
static int handshake(tls_conn *a, tls_conn *b, int *waits)
{
    int ra = TLS_WANT_READ, rb = TLS_WANT_READ;
    for (int i = 0; i < 100 && (ra != TLS_OK || rb != TLS_OK); i++) {
        if (ra != TLS_OK) {
            ra = tls_handshake(a);
            *waits += ra == TLS_WANT_READ || ra == TLS_WANT_WRITE;
        }
        if (rb != TLS_OK) {
            rb = tls_handshake(b);
            *waits += rb == TLS_WANT_READ || rb == TLS_WANT_WRITE;
        }
        if (ra == TLS_ERROR || rb == TLS_ERROR) {
            fprintf(stderr, "handshake failed: %s / %s\n", tls_conn_error(a), tls_conn_error(b));
            return 0;
        }
    }
    return ra == TLS_OK && rb == TLS_OK;
}

static void set_nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void test_connection(void)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    set_nonblock(sv[0]);
    set_nonblock(sv[1]);
    tls_conn *srv = tls_conn_accepted(sv[0], TLS_AUTH_YES);
    tls_conn *cli = tls_conn_connecting(sv[1]);
    CHECK(srv && cli);
    CHECK(!tls_established(srv) && !tls_established(cli));
    /* Nothing has arrived: the server waits to read. */
    CHECK(tls_handshake(srv) == TLS_WANT_READ);
    int waits = 0;
    CHECK(handshake(srv, cli, &waits));
    CHECK(waits > 0);
    CHECK(tls_established(srv) && tls_established(cli));

    /* Nothing to read yet: EAGAIN, not an error. */
    char buf[64];
    errno = 0;
    CHECK(tls_read(srv, buf, sizeof(buf)) == -1 && errno == EAGAIN);
    CHECK(!tls_read_wants_write(srv));

    /* A read smaller than the record: the rest waits in tls_pending. */
    CHECK(tls_write(cli, "hello world", 11) == 11);
    CHECK(tls_read(srv, buf, 4) == 4);
    CHECK(memcmp(buf, "hell", 4) == 0);
    CHECK(tls_pending(srv) == 7);
    CHECK(tls_read(srv, buf, 7) == 7);
    CHECK(memcmp(buf, "o world", 7) == 0);
    CHECK(tls_pending(srv) == 0);

    /* Writes until the socket is full, then the rest from a moved copy of
     * the same bytes; the reader gets every byte in order. */
    size_t total = 4u << 20;
    unsigned char *data = alloc_mem(total);
    for (size_t i = 0; i < total; i++) {
        data[i] = (unsigned char)(util_rand64() & 0xff);
    }
    unsigned char *got = alloc_mem(total);
    size_t sent = 0, recvd = 0;
    int blocked = 0, moved = 0;
    unsigned char *src = data;
    while (recvd < total) {
        while (sent < total) {
            ssize_t n = tls_write(cli, src + sent, total - sent);
            if (n < 0) {
                CHECK(errno == EAGAIN);
                blocked++;
                break;
            }
            CHECK(n > 0 && (size_t)n <= total - sent);
            sent += (size_t)n;
        }
        if (blocked && !moved && sent < total) {
            /* The retry comes from elsewhere (the output buffer compacts). */
            src = alloc_mem(total);
            memcpy(src, data, total);
            moved = 1;
        }
        for (;;) {
            ssize_t n = tls_read(srv, got + recvd, total - recvd);
            if (n < 0) {
                CHECK(errno == EAGAIN);
                break;
            }
            CHECK(n > 0);
            recvd += (size_t)n;
            CHECK(tls_pending(srv) == 0); /* a big buffer takes whole records */
        }
    }
    CHECK(blocked > 0);
    CHECK(moved);
    CHECK(recvd == total && memcmp(got, data, total) == 0);
    if (src != data) {
        alloc_free(src);
    }
    alloc_free(data);
    alloc_free(got);

    /* The client closes (close_notify): the server reads end of stream. */
    tls_conn_free(cli);
    close(sv[1]);
    CHECK(tls_read(srv, buf, sizeof(buf)) == 0);
    tls_conn_free(srv);
    close(sv[0]);
}

/* A client certificate the server does not trust fails the handshake, and
 * so does plain text sent to a TLS server. */
static void test_refusals(void)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    set_nonblock(sv[0]);
    set_nonblock(sv[1]);
    tls_conn *srv = tls_conn_accepted(sv[0], TLS_AUTH_YES);
    CHECK(write(sv[1], "PING\r\n", 6) == 6);
    CHECK(tls_handshake(srv) == TLS_ERROR);
    CHECK(strcmp(tls_conn_error(srv), "no error") != 0);
    tls_conn_free(srv);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    tls_init();
    snprintf(dir, sizeof(dir), "/tmp/keel-tls-unit-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    snprintf(other_key, sizeof(other_key), "%s/other.pem", dir);
    make_files(cert, key);
    make_files(NULL, other_key);
    test_configure();
    test_connection();
    test_refusals();
    tls_cleanup();
    unlink(cert);
    unlink(key);
    unlink(other_key);
    rmdir(dir);
    return unit_report("tls");
}
