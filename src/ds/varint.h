/* varint: LEB128 unsigned integers (7 bits a byte, low bits first, 0x80
 * meaning "more follows"), shared by the compact encodings (listpack,
 * stream blocks). Header-only: these run per element. */
#ifndef KEEL_VARINT_H
#define KEEL_VARINT_H

#include <stddef.h>
#include <stdint.h>

/* At most 10 bytes for a 64-bit value. */
#define VARINT_MAX 10

static inline size_t varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline size_t varint_put(unsigned char *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

/* Reads a varint written by varint_put; *n receives its size. */
static inline uint64_t varint_get(const unsigned char *p, size_t *n)
{
    uint64_t v = 0;
    int shift = 0;
    size_t i = 0;
    for (;;) {
        unsigned char b = p[i++];
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            break;
        }
        shift += 7;
    }
    *n = i;
    return v;
}

#endif
