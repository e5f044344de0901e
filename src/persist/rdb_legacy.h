/* rdb_legacy: the packed encodings of RDB files from Redis 6.2 and older,
 * converted to Redis's listpack (the form Redis 7 writes) so the loaders
 * read them as they read 7.0's. A dump.rdb of Redis 6 (RDB version 9)
 * carries small lists, hashes and sorted sets as ziplists, lists as
 * quicklists of ziplists, and Redis 2.x hashes as zipmaps.
 *
 *   ziplist = [u32 total bytes LE][u32 offset of the last entry LE]
 *             [u16 entry count LE, 65535: "count them"] entry... [0xFF]
 *   entry   = [prevlen: 1 byte < 254, or 0xFE + u32 LE][encoding][data]
 *     00pppppp                  string of 0..63 bytes
 *     01pppppp qqqqqqqq         string of 14-bit length (big endian)
 *     10000000 + u32 BE         string of 32-bit length
 *     11000000 / 11010000 / 11100000 / 11110000 / 11111110
 *                               int16 / int32 / int64 / int24 / int8, LE
 *     1111xxxx (0001..1101)     the integer xxxx - 1 (0..12)
 *
 *   zipmap  = [u8 pair count, 254: "count them"] pair... [0xFF]
 *   pair    = [len][field][len][u8 free][value][free unused bytes]
 *   len     = 1 byte < 254, or 254 + u32 LE
 *
 * The input is untrusted: every length and offset is checked, and a blob
 * that does not hold exactly what its header says is refused. */
#ifndef KEEL_RDB_LEGACY_H
#define KEEL_RDB_LEGACY_H

#include <stddef.h>

/* A listpack blob (alloc_mem'd, *out_len bytes, *count entries) with the
 * ziplist's entries in order, or NULL when the ziplist is malformed. */
unsigned char *ziplist_to_listpack(const unsigned char *zl, size_t len, size_t *out_len, size_t *count);
/* The same for a zipmap: field, value, field, value... */
unsigned char *zipmap_to_listpack(const unsigned char *zm, size_t len, size_t *out_len, size_t *count);

#endif
