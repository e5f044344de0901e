/* rdb_io: the RDB writer and reader as code outside src/persist/ sees
 * them: module types (src/module/) and vector sets (rdb_vset.c) write and
 * read their values through these.
 *
 * A module-type value (RDB_TYPE_MODULE_2) is its type's 64-bit id (nine
 * letters of a 64-character alphabet, 6 bits each, then a 10-bit encoding
 * version), then items each after an opcode, then RDB_MOD_EOF. */
#ifndef KEEL_RDB_IO_H
#define KEEL_RDB_IO_H

#include <stddef.h>
#include <stdint.h>

#include "base/str.h"

typedef struct rdb_out rdb_out;
typedef struct rdb_in rdb_in;

void rdb_out_len(rdb_out *w, uint64_t v);
void rdb_out_string(rdb_out *w, const char *p, size_t len);
void rdb_out_bytes(rdb_out *w, const void *p, size_t len);
void rdb_out_opcode(rdb_out *w, int opcode); /* one byte, as RDB opcodes are written */
int rdb_in_len(rdb_in *r, uint64_t *v);
str rdb_in_string(rdb_in *r); /* NULL on error */
int rdb_in_bytes(rdb_in *r, void *buf, size_t len);
/* Fails the load with msg (formatted with what). */
int rdb_in_fail(rdb_in *r, const char *msg, const char *what);

/* A writer into memory (compressing as rdbcompression says), and its
 * bytes once done (the writer is freed). */
rdb_out *rdb_out_mem_new(void);
str rdb_out_mem_take(rdb_out *w);
/* A reader of len bytes at p (kept by the caller until it is freed). */
rdb_in *rdb_in_mem_new(const char *p, size_t len);
void rdb_in_mem_free(rdb_in *r);

/* Opcodes before each item of a module-type value. */
enum { RDB_MOD_EOF = 0, RDB_MOD_SINT = 1, RDB_MOD_UINT = 2, RDB_MOD_FLOAT = 3, RDB_MOD_DOUBLE = 4, RDB_MOD_STRING = 5 };

/* The id of module type name (9 letters of A-Z a-z 0-9 - _) at encver. */
uint64_t rdb_module_type_id(const char *name, int encver);
/* 1 when name is nine letters of the id alphabet. */
int rdb_module_type_name_ok(const char *name);
/* The nine letters an id stands for, and a NUL. */
void rdb_module_type_name(uint64_t id, char out[10]);
void rdb_out_mod_uint(rdb_out *w, uint64_t v);
void rdb_out_mod_string(rdb_out *w, const char *p, size_t len);
/* -1 when the next item is not of this kind or cannot be read. */
int rdb_in_mod_uint(rdb_in *r, uint64_t *v);
str rdb_in_mod_string(rdb_in *r); /* NULL likewise */

#endif
