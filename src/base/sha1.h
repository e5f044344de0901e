/* sha1: SHA-1 through OpenSSL's libcrypto, for script cache ids and
 * dataset digests (not for security). */
#ifndef KEEL_SHA1_H
#define KEEL_SHA1_H

#include <stddef.h>
#include <stdint.h>

typedef struct sha1_ctx sha1_ctx;

sha1_ctx *sha1_new(void);
void sha1_update(sha1_ctx *c, const void *p, size_t len);
/* Writes 20 bytes and frees the context. */
void sha1_final(sha1_ctx *c, uint8_t out[20]);
void sha1(const void *p, size_t len, uint8_t out[20]);
/* 40 lowercase hex chars plus NUL. */
void sha1_hex(const uint8_t digest[20], char out[41]);

#endif
