/* redis_listpack: Redis's listpack wire format, as RDB files and DUMP
 * payloads carry it (small hashes, sorted sets, 7.2 sets, quicklist nodes,
 * stream nodes). Not Keel's in-memory ds/listpack: this module only builds
 * such blobs for writing and validates and reads them after loading.
 *
 *   blob  = [u32 total bytes LE][u16 entry count LE, 65535: "count them"]
 *           entry... [0xFF]
 *   entry = [encoding + data][backlen]
 *
 *   0xxxxxxx                  7-bit unsigned int 0..127
 *   10xxxxxx + bytes          string of 0..63 bytes
 *   110xxxxx yyyyyyyy         13-bit signed int (x high bits, y low)
 *   1110xxxx yyyyyyyy + bytes string of 0..4095 bytes (x high bits of length)
 *   0xF0 + u32 len + bytes    string of any length
 *   0xF1 / F2 / F3 / F4       int16 / int24 / int32 / int64 follows
 *   0xFF                      terminator (F5..FE are unused)
 * All multi-byte numbers are little endian, signed ones two's complement.
 *
 * backlen is the size of encoding+data in 1-5 bytes of 7 bits, read from
 * the entry's end backwards: the last byte holds the low 7 bits, and a set
 * high bit means another, higher group sits in the byte before it. Its
 * size follows Redis's encoder exactly (see backlen_size in the .c file). */
#ifndef KEEL_REDIS_LISTPACK_H
#define KEEL_REDIS_LISTPACK_H

#include <stddef.h>
#include <stdint.h>

/* The header's count when the real count does not fit in 16 bits (65535
 * entries or more): readers must walk the blob to count. */
#define RLP_COUNT_UNKNOWN 65535
/* Header (6 bytes) plus terminator: the size of an empty listpack. */
#define RLP_EMPTY_SIZE 7

/* Builder: appends entries, choosing the smallest encoding. */
typedef struct rlp_builder {
    unsigned char *buf;
    size_t len, cap;
    uint32_t count;
} rlp_builder;
void rlp_builder_init(rlp_builder *b);
/* A string; stored as an integer when it is a canonical decimal integer that
 * fits int64 ("12", "-7"; not "012", "+1", "-0", " 1"), exactly as Redis's
 * listpack does, so it reads back byte for byte. */
void rlp_append(rlp_builder *b, const char *p, size_t len);
void rlp_append_int(rlp_builder *b, long long v);
/* The bytes an item adds to a listpack (encoding, data, backlen), as
 * rlp_append_int / rlp_append would write it. */
size_t rlp_int_size(long long v);
size_t rlp_item_size(const char *s, size_t len);
/* The finished blob (header + entries + 0xFF), allocated with alloc_mem;
 * *len its size. The builder is reset. */
unsigned char *rlp_builder_finish(rlp_builder *b, size_t *len);
/* Frees an abandoned builder's buffer. */
void rlp_builder_free(rlp_builder *b);

/* Validation of untrusted bytes (from files/payloads): 1 if well-formed:
 * header total equals len, len >= 7, every entry's encoding is known and
 * its data, and its backlen, lie inside the blob before the terminator and
 * the backlen value equals the entry's encoding+data size, the last byte is
 * 0xFF and nothing follows it, and the header count equals the number of
 * entries unless it is 65535. *count (may be NULL) receives the number of
 * entries. Never reads outside [p, p+len). O(len).
 * The backlen must also be in the form Redis writes (its bytes are compared
 * with the encoder's), so a walk from the end agrees with one from the
 * front. Any string/integer encoding is accepted, minimal or not. */
int rlp_validate(const unsigned char *p, size_t len, size_t *count);

/* Reading a validated blob front to back. */
typedef struct rlp_iter {
    const unsigned char *p, *end;
} rlp_iter;
void rlp_iter_init(rlp_iter *it, const unsigned char *blob, size_t len);
/* Next entry: 0 at the end; else 1 with either (*is_int == 0) *str and *slen
 * pointing into the blob, or (*is_int == 1) *ival. */
int rlp_iter_next(rlp_iter *it, const unsigned char **str, size_t *slen, long long *ival, int *is_int);

#endif
