/* object: the keyspace entry. One allocation per key holds a 4-byte
 * header, the expiry time (only when the key has one), the key with its
 * length (one byte below 255 bytes, else eight) and the value: inline for
 * small strings (one length byte) and integers, a pointer for big strings
 * and collections. The keyspace table (base/ktable) points at entries, so
 * an entry carries no link.
 *
 *   [type:3 enc:2 lru:24 has_expire:1 snap:1 long_key:1][expire?][keylen][key][value]
 *
 * Entries change size when a TTL is added or a string value changes form;
 * such changes build a new entry and the keyspace swaps it in
 * (db_swap_entry), so code never holds an entry across a write. */
#ifndef KEEL_OBJECT_H
#define KEEL_OBJECT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/str.h"

/* Type numbers match Redis's so DEBUG OBJECT and tools read the same.
 * Vector sets (a module type in Redis 8) take the one number left. */
enum {
    OBJ_STRING = 0,
    OBJ_LIST = 1,
    OBJ_SET = 2,
    OBJ_ZSET = 3,
    OBJ_HASH = 4,
    OBJ_STREAM = 6,
    OBJ_VSET = 7,
    OBJ_TYPES = 8
};

/* String encodings (collections report theirs through type_ops). */
enum { ENC_RAW = 0, ENC_INT = 1, ENC_EMBSTR = 2, ENC_PTR = 3 };

/* Strings up to this length are stored inline ("embstr"), as in Redis. */
#define OBJ_EMBSTR_MAX 44 /* its length must fit the one byte it has */

typedef struct kobj {
    uint32_t type : 3;
    uint32_t enc : 2;
    uint32_t lru : 24; /* LRU clock (seconds) or LFU (16-bit time, 8-bit log counter) */
    uint32_t has_expire : 1;
    /* Forkless snapshots: the entry is saved (or was made after the
     * snapshot began) when this equals kobj_snap_parity. */
    uint32_t snap : 1;
    uint32_t long_key : 1; /* the key length takes 8 bytes, not 1 */
    char data[];
} kobj;

/* Keys shorter than this have a one-byte length. */
#define OBJ_SHORT_KEY 255

/* Per-type operations the keyspace needs without knowing the type. */
typedef struct type_ops {
    const char *name; /* TYPE reply */
    void (*free)(void *v);
    void *(*dup)(const void *v);
    size_t (*mem)(const void *v); /* bytes, for MEMORY USAGE */
    const char *(*encoding)(const void *v);
    /* Folds the value's content into a digest as Redis does (base/digest.h).
     * The key and its database are for module types, as for defrag. */
    void (*digest)(const void *v, sv key, int dbid, uint8_t d[20]);
    size_t (*length)(const void *v); /* element count, for lazy-free sizing */
    /* Active defragmentation (server/defrag.h): moves the value's blocks
     * that alloc_defrag advises, about `budget` elements from *cursor on
     * (0: the start), and fixes every pointer to them. Sets *cursor to where
     * the next call goes on, 0 when the value is done; between two calls
     * the value may be written, so a cursor is a position (rank, ID, scan
     * cursor), never a pointer. Returns the value's handle, moved or not.
     * The key and its database are for module types, whose callbacks are
     * told them. NULL: the value is left as it is. */
    void *(*defrag)(void *v, sv key, int dbid, unsigned long *cursor, size_t budget);
    /* Optional; module types give them, as their callbacks want to know
     * the key and its database (-1: none). */
    /* MEMORY USAGE's bytes for the value in place of mem, with the
     * number of elements it may sample. */
    size_t (*mem_of_key)(const void *v, sv key, int dbid, size_t samples);
    /* The work freeing the value takes, which decides lazy freeing, in
     * place of length. */
    size_t (*free_effort)(const void *v, sv key, int dbid);
    /* The value leaves the keyspace under key: deleted, expired, evicted,
     * overwritten, or renamed or moved away (not by a flush, SWAPDB or a
     * replaced dataset), as Redis 7.0 tells modules. */
    void (*unlink)(const void *v, sv key, int dbid);
} type_ops;

/* Defines `static const type_ops var`, named tname, whose callbacks forward
 * to prefix##_free, _dup, _mem, _encoding, _digest, _len and _defrag: the typed
 * functions of a types/ module (they take their own pointer type, so each
 * needs a void * adapter, and the adapters are the same for every family). */
#define TYPE_OPS_DEFINE(var, tname, prefix)                                                                            \
    static void prefix##_ops_free(void *v)                                                                             \
    {                                                                                                                  \
        prefix##_free(v);                                                                                              \
    }                                                                                                                  \
    static void *prefix##_ops_dup(const void *v)                                                                       \
    {                                                                                                                  \
        return prefix##_dup(v);                                                                                        \
    }                                                                                                                  \
    static size_t prefix##_ops_mem(const void *v)                                                                      \
    {                                                                                                                  \
        return prefix##_mem(v);                                                                                        \
    }                                                                                                                  \
    static const char *prefix##_ops_encoding(const void *v)                                                            \
    {                                                                                                                  \
        return prefix##_encoding(v);                                                                                   \
    }                                                                                                                  \
    static void prefix##_ops_digest(const void *v, sv key, int dbid, uint8_t d[20])                                    \
    {                                                                                                                  \
        (void)key;                                                                                                     \
        (void)dbid;                                                                                                    \
        prefix##_digest(v, d);                                                                                         \
    }                                                                                                                  \
    static size_t prefix##_ops_length(const void *v)                                                                   \
    {                                                                                                                  \
        return prefix##_len(v);                                                                                        \
    }                                                                                                                  \
    static void *prefix##_ops_defrag(void *v, sv key, int dbid, unsigned long *cursor, size_t budget)                  \
    {                                                                                                                  \
        (void)key;                                                                                                     \
        (void)dbid;                                                                                                    \
        return prefix##_defrag(v, cursor, budget);                                                                     \
    }                                                                                                                  \
    static const type_ops var = {tname,                                                                                \
                                 prefix##_ops_free,                                                                    \
                                 prefix##_ops_dup,                                                                     \
                                 prefix##_ops_mem,                                                                     \
                                 prefix##_ops_encoding,                                                                \
                                 prefix##_ops_digest,                                                                  \
                                 prefix##_ops_length,                                                                  \
                                 prefix##_ops_defrag}

/* Flipped when a snapshot begins, so every existing entry reads as "not
 * yet saved"; new entries take the current value ("nothing to save"). */
extern unsigned kobj_snap_parity;

/* types/ modules register at start-up (collections come later). */
void obj_register_type(int type, const type_ops *ops);
const type_ops *obj_type_ops(int type);
/* "string", "list", ... or "none". */
const char *obj_type_name(int type);

/* Inline: it runs for every key comparison in the keyspace. */
static inline sv kobj_key(const kobj *o)
{
    const char *p = o->data + (o->has_expire ? sizeof(int64_t) : 0);
    if (!o->long_key) {
        return (sv){p + 1, (unsigned char)p[0]};
    }
    uint64_t len;
    memcpy(&len, p, sizeof(len));
    return (sv){p + sizeof(len), (size_t)len};
}
int64_t kobj_expire(const kobj *o); /* -1 when none */

/* Strings: inline (int or embstr) or raw (pointer to a str). */
kobj *kobj_new_string(sv key, sv val, int64_t expire);
kobj *kobj_new_int(sv key, long long v, int64_t expire);
/* Takes ownership of s; keeps it as raw (used by APPEND/SETRANGE). */
kobj *kobj_new_raw(sv key, str s, int64_t expire);
/* The value as bytes; buf (32 bytes) is used for integers. */
sv kobj_str(const kobj *o, char *buf);
int kobj_get_int(const kobj *o, long long *v); /* 1 if int-encoded */
void kobj_set_int(kobj *o, long long v);       /* in place; o is ENC_INT */
/* The str of a raw string (mutable in place; reassign with kobj_set_raw). */
str kobj_raw(const kobj *o);
void kobj_set_raw(kobj *o, str s);
const char *kobj_encoding(const kobj *o);

/* Collections: a pointer to the type's structure. */
kobj *kobj_new_ptr(sv key, int type, void *ptr, int64_t expire);
void *kobj_ptr(const kobj *o);
void kobj_set_ptr(kobj *o, void *ptr);

/* The same key and value with another expiry (or -1 for none): a new
 * entry sharing o's value; free o with kobj_free_shell once unlinked. */
kobj *kobj_with_expire(kobj *o, int64_t expire);
/* A new entry with another key holding a deep copy of o's value. */
kobj *kobj_dup_as(const kobj *o, sv newkey, int64_t expire);
/* A new entry with another key taking over o's value; o is freed shallowly. */
kobj *kobj_rekey(kobj *o, sv newkey, int64_t expire);
void kobj_free(kobj *o);
/* Frees only the entry, not a pointed-to value. */
void kobj_free_shell(kobj *o);
/* Active defragmentation of the entry itself and of a raw string's bytes
 * (collections go through their type_ops): returns the moved entry, which
 * the caller puts in o's place (db_move_entry), or NULL when o stays. */
kobj *kobj_defrag(kobj *o);
/* Bytes used by the entry and its value (in database dbid, for module
 * types' callbacks); kobj_mem_sampled with MEMORY USAGE's SAMPLES count
 * (kobj_mem: Redis's default, OBJ_MEM_SAMPLES). */
#define OBJ_MEM_SAMPLES 5
size_t kobj_mem(const kobj *o, int dbid);
size_t kobj_mem_sampled(const kobj *o, int dbid, size_t samples);

#endif
