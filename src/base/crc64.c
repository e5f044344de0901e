/* crc64: table-driven CRC-64/Jones, written from the parameters alone
 * (see the header). Eight bytes a step with "slicing-by-8": table k holds
 * the CRC contribution of a byte followed by k zero bytes, so one 64-bit
 * load and eight lookups replace eight dependent byte steps. RDB writing
 * and loading run every byte of a snapshot through here, so the speed is
 * worth the 16 KB of tables. */
#include "base/crc64.h"

#include <pthread.h>

/* 0xad93d23594c935a9 with its bits reversed: the reflected algorithm
 * shifts right, so it works with the mirrored polynomial. */
#define CRC64_POLY_REFLECTED 0x95ac9329ac4bc9b5ULL

static uint64_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_build(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint64_t c = i;
        for (int bit = 0; bit < 8; bit++) {
            c = (c & 1) ? (c >> 1) ^ CRC64_POLY_REFLECTED : c >> 1;
        }
        table[0][i] = c;
    }
    /* Feeding one more zero byte through the CRC: table[k] from table[k-1]. */
    for (unsigned i = 0; i < 256; i++) {
        uint64_t c = table[0][i];
        for (int k = 1; k < 8; k++) {
            c = table[0][c & 0xFF] ^ (c >> 8);
            table[k][i] = c;
        }
    }
}

/* Little-endian load, assembled byte by byte so it is right on any host
 * and never an unaligned access (compilers turn it into one load). */
static uint64_t load64_le(const unsigned char *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 |
           (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

uint64_t crc64(uint64_t crc, const void *p, size_t len)
{
    pthread_once(&table_once, table_build);
    const unsigned char *s = p;
    while (len >= 8) {
        /* In the reflected CRC the register's low byte meets the first
         * input byte, so xoring a little-endian load lines all eight up. */
        uint64_t c = crc ^ load64_le(s);
        crc = table[7][c & 0xFF] ^ table[6][(c >> 8) & 0xFF] ^ table[5][(c >> 16) & 0xFF] ^ table[4][(c >> 24) & 0xFF] ^
              table[3][(c >> 32) & 0xFF] ^ table[2][(c >> 40) & 0xFF] ^ table[1][(c >> 48) & 0xFF] ^ table[0][c >> 56];
        s += 8;
        len -= 8;
    }
    while (len--) {
        crc = table[0][(crc ^ *s++) & 0xFF] ^ (crc >> 8);
    }
    return crc;
}
