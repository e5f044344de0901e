/* digest: SHA-1 folding for dataset digests. */
#include "base/digest.h"

#include <stdio.h>
#include <string.h>

#include "base/sha1.h"
#include "base/util.h"

void digest_xor(uint8_t d[20], const void *p, size_t len)
{
    uint8_t h[20];
    sha1(p, len, h);
    for (int i = 0; i < 20; i++) {
        d[i] ^= h[i];
    }
}

void digest_mix(uint8_t d[20], const void *p, size_t len)
{
    digest_xor(d, p, len);
    uint8_t copy[20];
    memcpy(copy, d, 20);
    sha1(copy, 20, d);
}

void digest_mix_ll(uint8_t d[20], long long v)
{
    char buf[24];
    digest_mix(d, buf, (size_t)util_ll2str(buf, v));
}

void digest_mix_double(uint8_t d[20], double v)
{
    char buf[64];
    int n = snprintf(buf, sizeof(buf), "%.17g", v);
    digest_mix(d, buf, (size_t)n);
}
