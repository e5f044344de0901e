/* rdb_format: the constants of Redis's RDB format that the writer and the
 * loader share (opcodes, value types, length and string encodings). */
#ifndef KEEL_RDB_FORMAT_H
#define KEEL_RDB_FORMAT_H

/* Length encoding: the two top bits of the first byte. */
#define RDB_LEN_6BIT 0
#define RDB_LEN_14BIT 1
#define RDB_LEN_32BIT 0x80
#define RDB_LEN_64BIT 0x81
#define RDB_LEN_ENCVAL 3 /* a special string encoding follows in the low 6 bits */

/* Special string encodings (first byte 0xC0 | n). */
#define RDB_ENC_INT8 0xC0
#define RDB_ENC_INT16 0xC1
#define RDB_ENC_INT32 0xC2
#define RDB_ENC_LZF 0xC3

/* Value types. */
#define RDB_TYPE_STRING 0
#define RDB_TYPE_LIST 1
#define RDB_TYPE_SET 2
#define RDB_TYPE_ZSET 3
#define RDB_TYPE_HASH 4
#define RDB_TYPE_ZSET_2 5
#define RDB_TYPE_MODULE_2 7
#define RDB_TYPE_HASH_ZIPMAP 9   /* Redis 2.x-6.2 files (persist/rdb_legacy.h) */
#define RDB_TYPE_LIST_ZIPLIST 10 /* " */
#define RDB_TYPE_SET_INTSET 11
#define RDB_TYPE_ZSET_ZIPLIST 12   /* " */
#define RDB_TYPE_HASH_ZIPLIST 13   /* " */
#define RDB_TYPE_LIST_QUICKLIST 14 /* " */
#define RDB_TYPE_HASH_LISTPACK 16
#define RDB_TYPE_ZSET_LISTPACK 17
#define RDB_TYPE_LIST_QUICKLIST_2 18
#define RDB_TYPE_STREAM_LISTPACKS_2 19
#define RDB_TYPE_SET_LISTPACK 20
#define RDB_TYPE_STREAM_LISTPACKS_3 21
#define RDB_TYPE_HASH_METADATA 24
#define RDB_TYPE_STREAM_LISTPACKS_4 26 /* Redis 8.6: with idempotent producers */

/* Quicklist node containers. */
#define RDB_QUICKLIST_PLAIN 1
#define RDB_QUICKLIST_PACKED 2

/* Opcodes. */
#define RDB_OPCODE_FUNCTION2 245
#define RDB_OPCODE_MODULE_AUX 247
#define RDB_OPCODE_IDLE 248
#define RDB_OPCODE_FREQ 249
#define RDB_OPCODE_AUX 250
#define RDB_OPCODE_RESIZEDB 251
#define RDB_OPCODE_EXPIRETIME_MS 252
#define RDB_OPCODE_EXPIRETIME 253
#define RDB_OPCODE_SELECTDB 254
#define RDB_OPCODE_EOF 255

#endif
