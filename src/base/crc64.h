/* crc64: the CRC-64 that Redis appends to RDB files and DUMP payloads
 * (CRC-64/Jones: reflected, polynomial 0xad93d23594c935a9, initial value 0,
 * no final xor). Check value: crc64(0, "123456789", 9) == 0xe9c6d914c4b8d9ca.
 *
 * Incremental: pass the previous result as crc to continue over more bytes,
 * so crc64(crc64(0, a, n), b, m) equals the CRC of a followed by b. Thread
 * safe (the lookup tables are built once, under pthread_once). */
#ifndef KEEL_CRC64_H
#define KEEL_CRC64_H

#include <stddef.h>
#include <stdint.h>

uint64_t crc64(uint64_t crc, const void *p, size_t len);

#endif
