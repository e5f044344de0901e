/* digest: the building blocks of DEBUG DIGEST and DIGEST-VALUE, composed as
 * Redis composes them, so a dataset replicated or moved between Keel and
 * Redis digests the same on both. A digest is 20 bytes; "xor" folds the
 * SHA-1 of some bytes in (order-independent), "mix" folds them in and then
 * hashes the digest itself (order-dependent). */
#ifndef KEEL_DIGEST_H
#define KEEL_DIGEST_H

#include <stddef.h>
#include <stdint.h>

void digest_xor(uint8_t d[20], const void *p, size_t len);
void digest_mix(uint8_t d[20], const void *p, size_t len);
/* A number as Redis writes it into digests: integers in decimal, doubles
 * with "%.17g". */
void digest_mix_ll(uint8_t d[20], long long v);
void digest_mix_double(uint8_t d[20], double v);

#endif
