/* hash: the hash type. Three encodings, as in Redis 7.4:
 *   listpack    field,value pairs in one listpack while there are at most
 *               hash-max-listpack-entries pairs and every field and value
 *               is at most hash-max-listpack-value bytes;
 *   listpackex  the same limits, once a field has a TTL (HEXPIRE):
 *               field,value,expiry triples, with the fields' count of TTLs
 *               and their exact minimum beside the listpack;
 *   hashtable   a dict whose nodes hold chain link, field, value and (only
 *               when the field has one) its expiry time in one allocation.
 * Hashes never go back to a smaller encoding.
 *
 * A hash is a tagged pointer (low bits: encoding), so a small hash costs
 * just its listpack. Functions that may move the structure return the new
 * handle: callers always reassign and store it back in the key.
 *
 * Field TTLs are absolute unix times in ms. The type never reads a clock:
 * callers pass `now` where expiry matters. */
#ifndef KEEL_HASH_H
#define KEEL_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "base/dict.h"
#include "base/str.h"

typedef struct hash hash;

enum { HASH_ENC_LISTPACK = 0, HASH_ENC_HT = 1, HASH_ENC_LPEX = 2 };

typedef struct hash_limits {
    long long max_listpack_entries;
    long long max_listpack_value;
} hash_limits;

/* hash_set flags. */
#define HASH_KEEP_TTL 1 /* an overwritten field keeps its TTL (HINCRBY) */

hash *hash_new(void);
void hash_free(hash *h);
hash *hash_dup(const hash *h);
size_t hash_len(const hash *h);
/* Active defragmentation: type_ops.defrag's contract (db/object.h). */
hash *hash_defrag(hash *v, unsigned long *cursor, size_t budget);
int hash_enc(const hash *h);
const char *hash_encoding(const hash *h);
size_t hash_mem(const hash *h);
hash *hash_convert_ht(hash *h);

/* The value of field; valid until the hash changes. */
int hash_get(hash *h, sv field, sv *val);
hash *hash_set(hash *h, sv field, sv val, int flags, const hash_limits *lim, int *added);
hash *hash_del(hash *h, sv field, int *deleted);

/* ---- field TTLs ---- */
/* The field's expiry (-1: none); *found is 0 when the field is absent. */
int64_t hash_field_expire(hash *h, sv field, int *found);
/* Sets (when >= 0) or clears (-1) the TTL of an existing field. */
hash *hash_set_field_expire(hash *h, sv field, int64_t when);
/* Fields that have a TTL. */
size_t hash_ttl_count(const hash *h);
/* A lower bound of the earliest field expiry; INT64_MAX when none. */
int64_t hash_min_expire(const hash *h);
/* Deletes the fields whose expiry is before now, calling fn(field) for
 * each just before it goes. max_visit 0 walks the whole hash (and makes
 * hash_min_expire exact); otherwise it visits about max_visit fields from
 * where the last bounded call stopped. Returns the fields deleted. */
size_t hash_expire_fields(hash *h, int64_t now, size_t max_visit, void (*fn)(sv field, void *ctx), void *ctx);

/* ---- iteration and sampling ---- */
/* The hash must not change during an iteration. */
typedef struct hash_iter {
    hash *h;
    int enc;
    unsigned char *p;
    int64_t expire; /* of the pair last returned */
    dict_iter di;
} hash_iter;
void hash_iter_init(hash_iter *it, hash *h);
int hash_iter_next(hash_iter *it, sv *field, sv *val);
/* The TTL (-1: none) of the pair hash_iter_next returned last. */
int64_t hash_iter_expire(const hash_iter *it);
void hash_iter_done(hash_iter *it);

void hash_random(hash *h, sv *field, sv *val);
/* Calls fn for `count` random pairs: distinct (at most the hash's size)
 * when distinct, else with repetitions. */
void hash_sample(hash *h, size_t count, int distinct, void (*fn)(sv f, sv v, void *ctx), void *ctx);
/* One HSCAN step: the listpack encodings are returned whole (cursor 0). */
unsigned long hash_scan(hash *h, unsigned long cursor, void (*fn)(sv f, sv v, void *ctx), void *ctx);
/* Order-independent digest of the pairs. */
void hash_digest(const hash *h, uint8_t d[20]);

#endif
