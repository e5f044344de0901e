/* sha1: a thin wrapper over OpenSSL's EVP interface. */
#include "base/sha1.h"

#include <openssl/evp.h>
#include <stdio.h>

#include "base/log.h"

struct sha1_ctx {
    EVP_MD_CTX *md;
};

/* EVP contexts come from OpenSSL's allocator (outside our accounting
 * unless TLS routed it through base/alloc); they live only for one
 * digest. */
static struct sha1_ctx slot;

sha1_ctx *sha1_new(void)
{
    sha1_ctx *c = &slot;
    if (c->md) {
        PANIC("nested sha1 contexts");
    }
    c->md = EVP_MD_CTX_new();
    if (!c->md || EVP_DigestInit_ex(c->md, EVP_sha1(), NULL) != 1) {
        PANIC("SHA1 init failed");
    }
    return c;
}

void sha1_update(sha1_ctx *c, const void *p, size_t len)
{
    EVP_DigestUpdate(c->md, p, len);
}

void sha1_final(sha1_ctx *c, uint8_t out[20])
{
    unsigned int n = 20;
    EVP_DigestFinal_ex(c->md, out, &n);
    EVP_MD_CTX_free(c->md);
    c->md = NULL;
}

void sha1(const void *p, size_t len, uint8_t out[20])
{
    unsigned int n = 20;
    EVP_Digest(p, len, out, &n, EVP_sha1(), NULL);
}

void sha1_hex(const uint8_t d[20], char out[41])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 20; i++) {
        out[i * 2] = hex[d[i] >> 4];
        out[i * 2 + 1] = hex[d[i] & 15];
    }
    out[40] = '\0';
}
