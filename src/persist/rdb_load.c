/* rdb_load: reading a snapshot (RDB versions 1 to 12) into the keyspace.
 * See rdb.h.
 *
 * The file is untrusted: every length is checked against the bytes the file
 * still holds before anything is allocated for it (an element takes at
 * least one byte, so a count larger than the rest of the file is corrupt),
 * every compact encoding is validated before it is read, and duplicate
 * members, keys or out-of-order stream IDs are errors. The first error
 * stops the load with a message naming what was being read and where. */
#include <errno.h>
#include <liblzf/lzf.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "base/crc64.h"
#include "base/log.h"
#include "base/util.h"
#include "ds/intset.h"
#include "ds/redis_listpack.h"
#include "module/module.h"
#include "persist/rdb.h"
#include "persist/rdb_format.h"
#include "persist/rdb_legacy.h"
#include "persist/rdb_vset.h"
#include "script/lua.h"
#include "server/persistence.h"
#include "server/server.h"
#include "types/hash.h"
#include "types/list.h"
#include "types/set.h"
#include "types/stream.h"
#include "types/stream_group.h"
#include "types/stream_idmp.h"
#include "types/zset.h"

#define RDB_TYPE_STREAM_LISTPACKS 15
#define RDB_MAX_VERSION 12

/* Input comes from a file (snapshots), from memory (RESTORE payloads) or
 * from a source pulled on demand (a replica's diskless load). A source's
 * size is only a claim, or unknown (UNKNOWN_SIZE): nothing is allocated
 * ahead of the bytes that back it. */
#define UNKNOWN_SIZE UINT64_MAX
/* From a source, reads grow a value by at most this much at once. */
#define STREAM_STEP (1u << 20)

typedef struct reader {
    FILE *f;
    const unsigned char *mem;
    const rdb_source *src;
    const rdb_target *to; /* where keys and libraries go (NULL: the server's) */
    uint64_t pos, size;
    uint64_t crc;
    char *err;
    size_t errlen;
    int failed;
} reader;

static int fail(reader *r, const char *fmt, const char *what)
{
    if (!r->failed) {
        char msg[256];
        snprintf(msg, sizeof(msg), fmt, what);
        if (r->size == UNKNOWN_SIZE) {
            snprintf(r->err, r->errlen, "%s (at byte %llu)", msg, (unsigned long long)r->pos);
        } else {
            snprintf(r->err, r->errlen, "%s (at byte %llu of %llu)", msg, (unsigned long long)r->pos,
                     (unsigned long long)r->size);
        }
        r->failed = 1;
    }
    return -1;
}

/* The reader as module values see it (src/module/). */
static int r_len(reader *r, uint64_t *len);
static str r_string(reader *r);
static int r_bytes(reader *r, void *buf, size_t n);

int rdb_in_len(rdb_in *r, uint64_t *v)
{
    return r_len((reader *)r, v);
}

str rdb_in_string(rdb_in *r)
{
    return r_string((reader *)r);
}

int rdb_in_bytes(rdb_in *r, void *buf, size_t len)
{
    return r_bytes((reader *)r, buf, len);
}

int rdb_in_fail(rdb_in *r, const char *msg, const char *what)
{
    return fail((reader *)r, msg, what);
}

/* A reader over bytes in memory, with room for its error text. */
typedef struct mem_reader {
    reader r;
    char err[256];
} mem_reader;

rdb_in *rdb_in_mem_new(const char *p, size_t len)
{
    mem_reader *m = alloc_zero(sizeof(*m));
    m->r.mem = (const unsigned char *)p;
    m->r.size = len;
    m->r.err = m->err;
    m->r.errlen = sizeof(m->err);
    return (rdb_in *)m;
}

void rdb_in_mem_free(rdb_in *r)
{
    alloc_free(r);
}

static uint64_t remaining(const reader *r)
{
    return r->size - r->pos;
}

static int r_bytes(reader *r, void *buf, size_t n)
{
    if (r->failed) {
        return -1;
    }
    if (n > remaining(r)) {
        return fail(r, "Unexpected end of file reading %s", "data");
    }
    if (r->src) {
        for (size_t got = 0; got < n;) {
            ssize_t k = r->src->read(r->src->ctx, (char *)buf + got, n - got);
            if (k <= 0) {
                return fail(r, "Short read: %s", k == 0 ? "end of stream" : "I/O error or timeout");
            }
            got += (size_t)k;
        }
    } else if (!r->f) {
        memcpy(buf, r->mem + r->pos, n);
    } else if (n && fread(buf, 1, n, r->f) != n) {
        return fail(r, "Short read: %s", strerror(errno));
    }
    r->crc = crc64(r->crc, buf, n);
    r->pos += n;
    return 0;
}

static int r_byte(reader *r, unsigned char *b)
{
    return r_bytes(r, b, 1);
}

static int r_le64(reader *r, uint64_t *v)
{
    unsigned char b[8];
    if (r_bytes(r, b, 8) < 0) {
        return -1;
    }
    *v = 0;
    for (int i = 7; i >= 0; i--) {
        *v = *v << 8 | b[i];
    }
    return 0;
}

/* A length; *enc is set (and the length is the encoding number) when the
 * first byte announces a special string encoding. */
static int r_len_enc(reader *r, uint64_t *len, int *enc)
{
    unsigned char b[8];
    if (enc) {
        *enc = 0;
    }
    if (r_byte(r, b) < 0) {
        return -1;
    }
    int type = b[0] >> 6;
    if (type == RDB_LEN_6BIT) {
        *len = b[0] & 0x3F;
    } else if (type == RDB_LEN_14BIT) {
        unsigned char lo;
        if (r_byte(r, &lo) < 0) {
            return -1;
        }
        *len = (uint64_t)(b[0] & 0x3F) << 8 | lo;
    } else if (b[0] == RDB_LEN_32BIT || b[0] == RDB_LEN_64BIT) {
        int n = b[0] == RDB_LEN_32BIT ? 4 : 8;
        if (r_bytes(r, b, (size_t)n) < 0) {
            return -1;
        }
        *len = 0;
        for (int i = 0; i < n; i++) {
            *len = *len << 8 | b[i];
        }
    } else if (type == RDB_LEN_ENCVAL && enc) {
        *enc = 1;
        *len = b[0] & 0x3F;
    } else {
        return fail(r, "Unknown length encoding %s", "in a length");
    }
    return 0;
}

static int r_len(reader *r, uint64_t *len)
{
    return r_len_enc(r, len, NULL);
}

/* A count of elements that each take at least min_bytes of the file. */
static int r_count(reader *r, uint64_t *n, uint64_t min_bytes, const char *what)
{
    if (r_len(r, n) < 0) {
        return -1;
    }
    if (*n > remaining(r) / min_bytes) {
        return fail(r, "Corrupt RDB: %s count larger than the file", what);
    }
    return 0;
}

/* len bytes as a string (owned; NULL after an error). From a source the
 * string grows with the bytes that arrive, so a corrupt length costs no
 * more memory than the stream really sends. */
static str r_blob(reader *r, uint64_t len)
{
    size_t first = r->src && len > STREAM_STEP ? STREAM_STEP : (size_t)len;
    str s = str_empty(first);
    for (uint64_t have = 0; have < len;) {
        size_t step = r->src && len - have > STREAM_STEP ? STREAM_STEP : (size_t)(len - have);
        s = str_reserve(s, step);
        if (r_bytes(r, s + have, step) < 0) {
            str_free(s);
            return NULL;
        }
        have += step;
        str_set_len(s, (size_t)have);
    }
    return s;
}

/* How many elements to make room for ahead of reading them: a count the
 * file's size vouches for (r_count), at most 64k from a source. */
static size_t room_for(const reader *r, uint64_t n)
{
    return r->src && n > 65536 ? 65536 : (size_t)n;
}

/* A string (owned; NULL after an error). */
static str r_string(reader *r)
{
    uint64_t len;
    int enc;
    if (r_len_enc(r, &len, &enc) < 0) {
        return NULL;
    }
    if (enc) {
        unsigned char b[4];
        long long v;
        switch (len) {
        case 0:
            if (r_bytes(r, b, 1) < 0) {
                return NULL;
            }
            v = (int8_t)b[0];
            return str_from_ll(v);
        case 1:
            if (r_bytes(r, b, 2) < 0) {
                return NULL;
            }
            v = (int16_t)(b[0] | b[1] << 8);
            return str_from_ll(v);
        case 2:
            if (r_bytes(r, b, 4) < 0) {
                return NULL;
            }
            v = (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
            return str_from_ll(v);
        case 3: {
            uint64_t clen, ulen;
            if (r_len(r, &clen) < 0 || r_len(r, &ulen) < 0) {
                return NULL;
            }
            /* LZF expands at most ~100x; a claim beyond that is corrupt and
             * must not make us allocate it. */
            if (clen > remaining(r) || ulen == 0 || ulen / 128 > clen) {
                fail(r, "Corrupt RDB: %s", "bad LZF lengths");
                return NULL;
            }
            str c = r_blob(r, clen);
            if (!c) {
                return NULL;
            }
            str s = str_empty(ulen);
            str_set_len(s, ulen);
            unsigned int got = lzf_decompress(c, (unsigned int)clen, s, (unsigned int)ulen);
            str_free(c);
            if (got != ulen) {
                str_free(s);
                fail(r, "Corrupt RDB: %s", "invalid LZF compressed string");
                return NULL;
            }
            return s;
        }
        default: fail(r, "Unknown RDB string encoding type %s", ""); return NULL;
        }
    }
    if (len > remaining(r)) {
        fail(r, "Corrupt RDB: %s longer than the file", "string");
        return NULL;
    }
    return r_blob(r, len);
}

static sv S_(str s)
{
    return (sv){s, str_len(s)};
}

/* A double in the old text form (ZSET type 3): a length byte (253 nan,
 * 254 +inf, 255 -inf) and the digits. */
static int r_text_double(reader *r, double *d)
{
    unsigned char len;
    char buf[256];
    if (r_byte(r, &len) < 0) {
        return -1;
    }
    if (len >= 253) {
        *d = len == 253 ? NAN : len == 254 ? INFINITY : -INFINITY;
        return 0;
    }
    if (r_bytes(r, buf, len) < 0) {
        return -1;
    }
    if (!util_parse_double(buf, len, d)) {
        return fail(r, "Corrupt RDB: %s", "bad score");
    }
    return 0;
}

static int r_binary_double(reader *r, double *d)
{
    uint64_t bits;
    if (r_le64(r, &bits) < 0) {
        return -1;
    }
    memcpy(d, &bits, 8);
    return 0;
}

/* A listpack blob, validated; NULL after an error, which names what as
 * Redis does ("Stream listpack integrity check failed"). */
static str r_listpack(reader *r, const char *what, size_t *count)
{
    str blob = r_string(r);
    if (!blob) {
        return NULL;
    }
    if (!rlp_validate((unsigned char *)blob, str_len(blob), count)) {
        str_free(blob);
        fail(r, "Corrupt RDB: %s integrity check failed", what);
        return NULL;
    }
    return blob;
}

/* A Redis 6.2 ziplist (or, with zipmap, a Redis 2.x zipmap) blob, read
 * and converted to a listpack blob; NULL after an error (naming what). */
static str r_legacy_packed(reader *r, int zipmap, const char *what, size_t *count)
{
    str blob = r_string(r);
    if (!blob) {
        return NULL;
    }
    size_t len, n;
    unsigned char *lp = zipmap ? zipmap_to_listpack((unsigned char *)blob, str_len(blob), &len, &n)
                               : ziplist_to_listpack((unsigned char *)blob, str_len(blob), &len, &n);
    str_free(blob);
    if (lp && zipmap && n == 0) {
        /* Redis's check refuses an empty zipmap (an empty ziplist is
         * only an empty key, skipped). */
        alloc_free(lp);
        lp = NULL;
    }
    if (!lp) {
        fail(r, "Corrupt RDB: %s integrity check failed", what);
        return NULL;
    }
    str out = str_new((const char *)lp, len);
    alloc_free(lp);
    if (count) {
        *count = n;
    }
    return out;
}

/* The next listpack element as bytes (integers formatted into buf). */
static int lp_next_sv(rlp_iter *it, sv *out, char *buf)
{
    const unsigned char *p;
    size_t len;
    long long v;
    int is_int;
    if (!rlp_iter_next(it, &p, &len, &v, &is_int)) {
        return 0;
    }
    if (is_int) {
        *out = (sv){buf, (size_t)util_ll2str(buf, v)};
    } else {
        *out = (sv){(const char *)p, len};
    }
    return 1;
}

/* The next listpack element as an integer (stream metadata). */
static int lp_next_int(rlp_iter *it, long long *v)
{
    const unsigned char *p;
    size_t len;
    int is_int;
    if (!rlp_iter_next(it, &p, &len, v, &is_int)) {
        return 0;
    }
    return is_int || util_parse_ll((const char *)p, len, v);
}

/* ---- collections ---- */

static void *load_list(reader *r, int type)
{
    uint64_t n;
    list *l = list_new();
    if (type == RDB_TYPE_LIST) {
        if (r_count(r, &n, 1, "list") < 0) {
            goto bad;
        }
        for (uint64_t i = 0; i < n; i++) {
            str s = r_string(r);
            if (!s) {
                goto bad;
            }
            list_push(l, S_(s), LIST_TAIL, server_list_limits());
            str_free(s);
        }
        return l;
    }
    if (type == RDB_TYPE_LIST_ZIPLIST) {
        n = 1;
    } else if (r_count(r, &n, type == RDB_TYPE_LIST_QUICKLIST ? 1 : 2, "quicklist node") < 0) {
        goto bad;
    }
    for (uint64_t i = 0; i < n; i++) {
        uint64_t container = RDB_QUICKLIST_PACKED; /* Redis 6.2's nodes are all ziplists */
        int legacy = type != RDB_TYPE_LIST_QUICKLIST_2;
        if (!legacy && r_len(r, &container) < 0) {
            goto bad;
        }
        if (container == RDB_QUICKLIST_PLAIN) {
            str s = r_string(r);
            if (s && str_len(s) == 0) {
                /* Never written (a plain node holds a large element): as
                 * Redis, a corrupt payload. */
                str_free(s);
                s = NULL;
                fail(r, "Corrupt RDB: %s", "quicklist plain node is empty");
            }
            if (!s) {
                goto bad;
            }
            list_append_plain(l, S_(s), server_list_limits());
            str_free(s);
            continue;
        }
        if (container != RDB_QUICKLIST_PACKED) {
            fail(r, "Corrupt RDB: %s", "quicklist integrity check failed");
            goto bad;
        }
        str blob = legacy ? r_legacy_packed(r, 0, type == RDB_TYPE_LIST_ZIPLIST ? "List ziplist" : "Ziplist", NULL)
                          : r_listpack(r, "Listpack", NULL);
        if (!blob) {
            goto bad;
        }
        rlp_iter it;
        rlp_iter_init(&it, (unsigned char *)blob, str_len(blob));
        sv v;
        char buf[32];
        while (lp_next_sv(&it, &v, buf)) {
            list_push(l, v, LIST_TAIL, server_list_limits());
        }
        str_free(blob);
    }
    return l;
bad:
    list_free(l);
    return NULL;
}

static set_limits set_lim(void)
{
    return (set_limits){server.cfg.set_max_intset_entries, server.cfg.set_max_listpack_entries,
                        server.cfg.set_max_listpack_value};
}

/* dup: the error a duplicate member is, in Redis's words for the
 * encoding read (a compact one fails its integrity check). */
static set *set_add_checked(reader *r, set *s, sv m, size_t hint, const char *dup)
{
    set_limits lim = set_lim();
    if (!s) {
        s = set_new(m, hint, &lim);
    }
    int added;
    s = set_add(s, m, &lim, &added);
    if (!added) {
        fail(r, "Corrupt RDB: %s", dup);
    }
    return s;
}

static void *load_set(reader *r, int type)
{
    set *s = NULL;
    if (type == RDB_TYPE_SET) {
        uint64_t n;
        if (r_count(r, &n, 1, "set") < 0) {
            return NULL;
        }
        for (uint64_t i = 0; i < n && !r->failed; i++) {
            str m = r_string(r);
            if (!m) {
                break;
            }
            s = set_add_checked(r, s, S_(m), room_for(r, n), "Duplicate set members detected");
            str_free(m);
        }
    } else if (type == RDB_TYPE_SET_INTSET) {
        str blob = r_string(r);
        if (!blob) {
            return NULL;
        }
        const unsigned char *p = (const unsigned char *)blob;
        long long count = intset_blob_validate(p, str_len(blob));
        if (count < 0) {
            str_free(blob);
            fail(r, "Corrupt RDB: %s",
                 count == INTSET_BLOB_UNSORTED ? "Intset integrity check failed (not sorted)"
                                               : "Intset integrity check failed");
            return NULL;
        }
        for (long long i = 0; i < count && !r->failed; i++) {
            int64_t v = intset_blob_get(p, (size_t)i);
            char buf[32];
            s = set_add_checked(r, s, (sv){buf, (size_t)util_ll2str(buf, v)}, count, "Intset integrity check failed");
        }
        str_free(blob);
    } else {
        size_t count;
        str blob = r_listpack(r, "Set listpack", &count);
        if (!blob) {
            return NULL;
        }
        rlp_iter it;
        rlp_iter_init(&it, (unsigned char *)blob, str_len(blob));
        sv m;
        char buf[32];
        while (!r->failed && lp_next_sv(&it, &m, buf)) {
            s = set_add_checked(r, s, m, count, "Set listpack integrity check failed");
        }
        str_free(blob);
    }
    if (r->failed) {
        set_free(s);
        return NULL;
    }
    return s;
}

static zset *zset_add_checked(reader *r, zset *z, sv m, double score, const char *dup)
{
    if (isnan(score)) {
        fail(r, "Corrupt RDB: %s", "NaN score");
        return z;
    }
    int out = 0;
    z = zset_add(z, score, m, 0, &out, NULL);
    if (!(out & ZADD_OUT_ADDED)) {
        fail(r, "Corrupt RDB: %s", dup);
    }
    return z;
}

static void *load_zset(reader *r, int type)
{
    zset *z = NULL;
    if (type == RDB_TYPE_ZSET || type == RDB_TYPE_ZSET_2) {
        uint64_t n;
        if (r_count(r, &n, 2, "sorted set") < 0) {
            return NULL;
        }
        z = zset_new(room_for(r, n), 0);
        for (uint64_t i = 0; i < n && !r->failed; i++) {
            str m = r_string(r);
            double score;
            if (!m) {
                break;
            }
            if ((type == RDB_TYPE_ZSET ? r_text_double(r, &score) : r_binary_double(r, &score)) == 0) {
                z = zset_add_checked(r, z, S_(m), score, "Duplicate zset fields detected");
            }
            str_free(m);
        }
    } else {
        size_t count;
        int zl = type == RDB_TYPE_ZSET_ZIPLIST;
        const char *broken = zl ? "Zset ziplist integrity check failed" : "Zset listpack integrity check failed";
        str blob = zl ? r_legacy_packed(r, 0, "Zset ziplist", &count) : r_listpack(r, "Zset listpack", &count);
        if (!blob) {
            return NULL;
        }
        if (count % 2) {
            str_free(blob);
            fail(r, "Corrupt RDB: %s (odd count)", broken);
            return NULL;
        }
        z = zset_new(count / 2, 0);
        rlp_iter it;
        rlp_iter_init(&it, (unsigned char *)blob, str_len(blob));
        sv m, sc;
        char mbuf[32], sbuf[32];
        while (!r->failed && lp_next_sv(&it, &m, mbuf) && lp_next_sv(&it, &sc, sbuf)) {
            double score;
            if (!util_parse_double(sc.ptr, sc.len, &score)) {
                fail(r, "Corrupt RDB: %s", "bad score in a listpack");
                break;
            }
            z = zset_add_checked(r, z, m, score, broken);
        }
        str_free(blob);
    }
    if (r->failed) {
        zset_free(z);
        return NULL;
    }
    return z;
}

static hash *hash_add_checked(reader *r, hash *h, sv f, sv v, int64_t expire, const char *dup)
{
    hash_limits lim = {server.cfg.hash_max_listpack_entries, server.cfg.hash_max_listpack_value};
    int added;
    h = hash_set(h, f, v, 0, &lim, &added);
    if (!added) {
        fail(r, "Corrupt RDB: %s", dup);
    } else if (expire > 0) {
        h = hash_set_field_expire(h, f, expire);
    }
    return h;
}

static void *load_hash(reader *r, int type)
{
    hash *h = hash_new();
    if (type == RDB_TYPE_HASH || type == RDB_TYPE_HASH_METADATA) {
        uint64_t min = 0, n;
        if (type == RDB_TYPE_HASH_METADATA && r_le64(r, &min) < 0) {
            goto bad;
        }
        if (r_count(r, &n, type == RDB_TYPE_HASH ? 2 : 3, "hash") < 0) {
            goto bad;
        }
        for (uint64_t i = 0; i < n && !r->failed; i++) {
            uint64_t ttl = 0;
            if (type == RDB_TYPE_HASH_METADATA && r_len(r, &ttl) < 0) {
                break;
            }
            str f = r_string(r);
            str v = f ? r_string(r) : NULL;
            if (v) {
                int64_t at = ttl ? (int64_t)(ttl + min - 1) : 0;
                h = hash_add_checked(r, h, S_(f), S_(v), at, "Duplicate hash fields detected");
            }
            str_free(f);
            str_free(v);
        }
    } else {
        size_t count;
        int zipmap = type == RDB_TYPE_HASH_ZIPMAP;
        const char *label = zipmap ? "Zipmap" : type == RDB_TYPE_HASH_LISTPACK ? "Hash listpack" : "Hash ziplist";
        char broken[64];
        snprintf(broken, sizeof(broken), "%s integrity check failed", label);
        str blob =
            type == RDB_TYPE_HASH_LISTPACK ? r_listpack(r, label, &count) : r_legacy_packed(r, zipmap, label, &count);
        if (!blob) {
            goto bad;
        }
        if (count % 2) {
            str_free(blob);
            fail(r, "Corrupt RDB: %s (odd count)", broken);
            goto bad;
        }
        rlp_iter it;
        rlp_iter_init(&it, (unsigned char *)blob, str_len(blob));
        sv f, v;
        char fbuf[32], vbuf[32];
        while (!r->failed && lp_next_sv(&it, &f, fbuf) && lp_next_sv(&it, &v, vbuf)) {
            h = hash_add_checked(r, h, f, v, 0, broken);
        }
        str_free(blob);
    }
    if (!r->failed) {
        return h;
    }
bad:
    hash_free(h);
    return NULL;
}

/* ---- streams ---- */

static stream_id id_from_be(const unsigned char *b)
{
    stream_id id = {0, 0};
    for (int i = 0; i < 8; i++) {
        id.ms = id.ms << 8 | b[i];
        id.seq = id.seq << 8 | b[8 + i];
    }
    return id;
}

#define STREAM_FLAG_DELETED 1
#define STREAM_FLAG_SAMEFIELDS 2

/* One Redis stream node: its live entries are appended to s in order. */
static int load_stream_node(reader *r, stream *s, const stream_id *master, const str blob, int *have_last,
                            stream_id *last)
{
    rlp_iter it;
    rlp_iter_init(&it, (unsigned char *)blob, str_len(blob));
    long long count, deleted, nmaster, zero;
    if (!lp_next_int(&it, &count) || !lp_next_int(&it, &deleted) || !lp_next_int(&it, &nmaster) || nmaster < 0 ||
        (size_t)nmaster > str_len(blob)) {
        return fail(r, "Corrupt RDB: %s", "stream node master entry");
    }
    /* Master field names, then the terminating 0. */
    str *mf = alloc_mem(sizeof(str) * (size_t)(nmaster ? nmaster : 1));
    long long got = 0;
    sv v;
    char buf[32];
    for (; got < nmaster && lp_next_sv(&it, &v, buf); got++) {
        mf[got] = str_new(v.ptr, v.len);
    }
    int rc = 0;
    if (got < nmaster || !lp_next_int(&it, &zero) || zero != 0) {
        rc = fail(r, "Corrupt RDB: %s", "stream node master fields");
    }
    stream_limits lim = {server.cfg.stream_node_max_bytes, server.cfg.stream_node_max_entries};
    /* Fields and values point into the blob, or into ibuf for integers;
     * both grow with the widest entry, not per entry. */
    sv *fv = NULL;
    char(*ibuf)[32] = NULL;
    size_t fvcap = 0;
    long long live = 0;
    long long flags;
    while (rc == 0 && lp_next_int(&it, &flags)) {
        long long msd, seqd, nf, lpcount;
        if (!lp_next_int(&it, &msd) || !lp_next_int(&it, &seqd)) {
            rc = fail(r, "Corrupt RDB: %s", "stream entry ID");
            break;
        }
        stream_id id = {master->ms + (uint64_t)msd, master->seq + (uint64_t)seqd};
        int same = (flags & STREAM_FLAG_SAMEFIELDS) != 0;
        if (same) {
            nf = nmaster;
        } else if (!lp_next_int(&it, &nf) || nf < 0 || (size_t)nf > str_len(blob)) {
            rc = fail(r, "Corrupt RDB: %s", "stream entry field count");
            break;
        }
        if ((size_t)(2 * nf) > fvcap) {
            fvcap = (size_t)(2 * nf);
            fv = alloc_resize(fv, sizeof(sv) * fvcap);
            ibuf = alloc_resize(ibuf, 32 * fvcap);
        }
        int ok = 1;
        for (long long i = 0; i < nf && ok; i++) {
            if (same) {
                fv[2 * i] = (sv){mf[i], str_len(mf[i])};
            } else {
                ok = lp_next_sv(&it, &fv[2 * i], ibuf[2 * i]);
            }
            ok = ok && lp_next_sv(&it, &fv[2 * i + 1], ibuf[2 * i + 1]);
        }
        if (!ok || !lp_next_int(&it, &lpcount) || lpcount != (same ? nf + 3 : 2 * nf + 4)) {
            rc = fail(r, "Corrupt RDB: %s", "stream entry");
            break;
        }
        if (!(flags & STREAM_FLAG_DELETED)) {
            /* An entry without fields is valid: a module's StreamAdd makes one. */
            if (*have_last && stream_id_cmp(&id, last) <= 0) {
                rc = fail(r, "Corrupt RDB: %s", "stream entries out of order");
                break;
            }
            stream_append(s, &id, fv, (size_t)(2 * nf), &lim);
            *last = id;
            *have_last = 1;
            live++;
        }
    }
    if (rc == 0 && live != count) {
        rc = fail(r, "Corrupt RDB: %s", "stream node entry count");
    }
    for (long long i = 0; i < got; i++) {
        str_free(mf[i]);
    }
    alloc_free(mf);
    alloc_free(fv);
    alloc_free(ibuf);
    return rc;
}

static int r_id(reader *r, stream_id *id)
{
    return r_len(r, &id->ms) < 0 || r_len(r, &id->seq) < 0 ? -1 : 0;
}

static int r_raw_id(reader *r, stream_id *id)
{
    unsigned char b[16];
    if (r_bytes(r, b, 16) < 0) {
        return -1;
    }
    *id = id_from_be(b);
    return 0;
}

typedef struct loaded_nack {
    uint64_t time, count;
    int owned;
} loaded_nack;

/* Stream counters and times are signed 64-bit in memory, and XINFO and
 * XPENDING subtract them (lag, idle time): a value above INT64_MAX, which
 * no command can set (it is negative once signed), would overflow there.
 * Only -1 is allowed where it means unknown (entries read) or never. */
static int r_signed(reader *r, uint64_t v, int minus_one_ok, const char *what)
{
    if (v > (uint64_t)INT64_MAX && !(minus_one_ok && v == UINT64_MAX)) {
        return fail(r, "Corrupt RDB: %s out of range", what);
    }
    return 0;
}

static int load_groups(reader *r, stream *s, int type)
{
    uint64_t ngroups;
    if (r_count(r, &ngroups, 3, "consumer group") < 0) {
        return -1;
    }
    for (uint64_t gi = 0; gi < ngroups; gi++) {
        str name = r_string(r);
        stream_id last;
        uint64_t entries_read = (uint64_t)STREAM_ENTRIES_READ_UNKNOWN;
        if (!name || r_id(r, &last) < 0 || (type != RDB_TYPE_STREAM_LISTPACKS && r_len(r, &entries_read) < 0) ||
            r_signed(r, entries_read, 1, "consumer group entries read") < 0) {
            str_free(name);
            return -1;
        }
        /* Redis 6.2 and older did not count the reads: estimated from the
         * group's last ID, as Redis 7 does when it loads such a stream. */
        long long read =
            type == RDB_TYPE_STREAM_LISTPACKS ? stream_estimate_distance(s, &last) : (long long)entries_read;
        stream_group *g = stream_group_add(s, S_(name), &last, read);
        str_free(name);
        if (!g) {
            return fail(r, "Corrupt RDB: %s", "duplicate consumer group");
        }
        /* The group's PEL first (owners come with the consumers). */
        uint64_t npel;
        if (r_count(r, &npel, 17, "pending entry") < 0) {
            return -1;
        }
        idtree pending;
        idtree_init(&pending);
        int rc = 0;
        for (uint64_t i = 0; i < npel && rc == 0; i++) {
            stream_id id;
            loaded_nack *n = alloc_zero(sizeof(*n));
            if (r_raw_id(r, &id) < 0 || r_le64(r, &n->time) < 0 || r_len(r, &n->count) < 0 ||
                r_signed(r, n->time, 1, "pending entry delivery time") < 0) {
                alloc_free(n);
                rc = -1;
            } else if (!idtree_insert(&pending, &id, n)) {
                alloc_free(n);
                rc = fail(r, "Corrupt RDB: %s", "duplicate pending entry");
            }
        }
        uint64_t nconsumers = 0;
        if (rc == 0 && r_count(r, &nconsumers, 10, "consumer") < 0) {
            rc = -1;
        }
        for (uint64_t ci = 0; ci < nconsumers && rc == 0; ci++) {
            str cname = r_string(r);
            uint64_t seen, active, cpel;
            if (!cname || r_le64(r, &seen) < 0 ||
                (type >= RDB_TYPE_STREAM_LISTPACKS_3 ? r_le64(r, &active) : (active = seen, 0)) < 0 ||
                r_signed(r, seen, 1, "consumer seen time") < 0 || r_signed(r, active, 1, "consumer active time") < 0 ||
                r_count(r, &cpel, 16, "consumer pending entry") < 0) {
                str_free(cname);
                rc = -1;
                break;
            }
            stream_consumer *c = stream_consumer_add(g, S_(cname), (int64_t)seen);
            str_free(cname);
            if (!c) {
                rc = fail(r, "Corrupt RDB: %s", "Duplicate stream consumer detected");
                break;
            }
            c->active_time = (int64_t)active;
            for (uint64_t i = 0; i < cpel && rc == 0; i++) {
                stream_id id;
                if (r_raw_id(r, &id) < 0) {
                    rc = -1;
                    break;
                }
                loaded_nack *n = idtree_find(&pending, &id);
                if (!n || n->owned) {
                    rc = fail(r, "Corrupt RDB: %s", "consumer pending entry not in its group");
                    break;
                }
                n->owned = 1;
                stream_nack *k = stream_pel_deliver(g, c, &id, (int64_t)n->time);
                k->delivery_count = n->count;
            }
        }
        idtree_pos p;
        for (int ok = idtree_first(&pending, &p); ok; ok = idtree_next(&p)) {
            loaded_nack *n = idtree_val(&p);
            if (rc == 0 && !n->owned) {
                rc = fail(r, "Corrupt RDB: %s", "pending entry without a consumer");
            }
            alloc_free(n);
        }
        idtree_clear(&pending);
        if (rc < 0) {
            return -1;
        }
    }
    return 0;
}

/* STREAM_LISTPACKS_4's tail (Redis 8.6): IDMP settings, producers with
 * their iids oldest first, lifetime counters. */
static int load_stream_idmp(reader *r, stream *s)
{
    uint64_t duration, maxsize, npids;
    if (r_len(r, &duration) < 0 || r_len(r, &maxsize) < 0) {
        return -1;
    }
    if (duration < 1 || duration > IDMP_DURATION_MAX || maxsize < 1 || maxsize > IDMP_MAXSIZE_MAX) {
        return fail(r, "Corrupt RDB: %s", "stream IDMP settings out of range");
    }
    s->idmp_duration = (uint32_t)duration;
    s->idmp_maxsize = (uint32_t)maxsize;
    if (r_count(r, &npids, 2, "stream IDMP producer") < 0) {
        return -1;
    }
    for (uint64_t i = 0; i < npids; i++) {
        uint64_t niids;
        str pid = r_string(r);
        if (!pid || r_count(r, &niids, 3, "stream IDMP iid") < 0) {
            str_free(pid);
            return -1;
        }
        int rc = str_len(pid) ? 0 : fail(r, "Corrupt RDB: %s", "empty stream IDMP producer");
        for (uint64_t j = 0; j < niids && rc == 0; j++) {
            stream_id id;
            str iid = r_string(r);
            if (!iid || r_id(r, &id) < 0) {
                rc = -1;
            } else if (str_len(iid) == 0 || stream_id_cmp(&id, &s->last_id) > 0) {
                rc = fail(r, "Corrupt RDB: %s", "stream IDMP iid");
            } else {
                stream_idmp_record(s, S_(pid), S_(iid), &id, 0);
            }
            str_free(iid);
        }
        str_free(pid);
        if (rc < 0) {
            return -1;
        }
    }
    if (r_len(r, &s->iids_added) < 0 || r_len(r, &s->iids_duplicates) < 0) {
        return -1;
    }
    return 0;
}

static void *load_stream(reader *r, int type)
{
    stream *s = stream_new();
    uint64_t nodes;
    int have_last = 0;
    stream_id last = {0, 0};
    if (r_count(r, &nodes, 2, "stream node") < 0) {
        goto bad;
    }
    for (uint64_t i = 0; i < nodes; i++) {
        str key = r_string(r);
        if (!key) {
            goto bad;
        }
        if (str_len(key) != 16) {
            str_free(key);
            fail(r, "Corrupt RDB: %s", "stream node key");
            goto bad;
        }
        stream_id master = id_from_be((unsigned char *)key);
        str_free(key);
        str blob = r_listpack(r, "Stream listpack", NULL);
        if (!blob) {
            goto bad;
        }
        int rc = load_stream_node(r, s, &master, blob, &have_last, &last);
        str_free(blob);
        if (rc < 0) {
            goto bad;
        }
    }
    uint64_t length;
    stream_id last_id, first_id = s->first_id, max_deleted = {0, 0};
    uint64_t added = s->entries_added;
    if (r_len(r, &length) < 0 || r_id(r, &last_id) < 0) {
        goto bad;
    }
    if (type != RDB_TYPE_STREAM_LISTPACKS &&
        (r_id(r, &first_id) < 0 || r_id(r, &max_deleted) < 0 || r_len(r, &added) < 0)) {
        goto bad;
    }
    if (length != s->length || (have_last && stream_id_cmp(&last_id, &last) < 0)) {
        fail(r, "Corrupt RDB: %s", "stream length or last ID");
        goto bad;
    }
    if (r_signed(r, added, 0, "stream entries added") < 0) {
        goto bad;
    }
    s->last_id = last_id;
    s->first_id = first_id;
    s->max_deleted_id = max_deleted;
    s->entries_added = added;
    if (load_groups(r, s, type) < 0) {
        goto bad;
    }
    if (type == RDB_TYPE_STREAM_LISTPACKS_4 && load_stream_idmp(r, s) < 0) {
        goto bad;
    }
    return s;
bad:
    stream_free(s);
    return NULL;
}

/* ---- keys ---- */

/* The value of a key of type `type`, as a new keyspace entry; NULL after
 * an error, or with *skip set for an empty collection (which old files may
 * hold, and which does not exist in the keyspace). */
static kobj *load_value(reader *r, int type, sv key, int dbid, int64_t expire, int *skip)
{
    *skip = 0;
    void *v = NULL;
    int otype;
    switch (type) {
    case RDB_TYPE_STRING: {
        str s = r_string(r);
        if (!s) {
            return NULL;
        }
        if (str_len(s) > OBJ_EMBSTR_MAX) {
            return kobj_new_raw(key, s, expire); /* the loaded bytes become the value: no copy */
        }
        kobj *o = kobj_new_string(key, S_(s), expire);
        str_free(s);
        return o;
    }
    case RDB_TYPE_LIST:
    case RDB_TYPE_LIST_ZIPLIST:
    case RDB_TYPE_LIST_QUICKLIST:
    case RDB_TYPE_LIST_QUICKLIST_2:
        v = load_list(r, type);
        otype = OBJ_LIST;
        break;
    case RDB_TYPE_SET:
    case RDB_TYPE_SET_INTSET:
    case RDB_TYPE_SET_LISTPACK:
        v = load_set(r, type);
        otype = OBJ_SET;
        break;
    case RDB_TYPE_ZSET:
    case RDB_TYPE_ZSET_2:
    case RDB_TYPE_ZSET_ZIPLIST:
    case RDB_TYPE_ZSET_LISTPACK:
        v = load_zset(r, type);
        otype = OBJ_ZSET;
        break;
    case RDB_TYPE_HASH:
    case RDB_TYPE_HASH_ZIPMAP:
    case RDB_TYPE_HASH_ZIPLIST:
    case RDB_TYPE_HASH_LISTPACK:
    case RDB_TYPE_HASH_METADATA:
        v = load_hash(r, type);
        otype = OBJ_HASH;
        break;
    case RDB_TYPE_STREAM_LISTPACKS:
    case RDB_TYPE_STREAM_LISTPACKS_2:
    case RDB_TYPE_STREAM_LISTPACKS_3:
    case RDB_TYPE_STREAM_LISTPACKS_4:
        v = load_stream(r, type);
        otype = OBJ_STREAM;
        break;
    case RDB_TYPE_MODULE_2: {
        uint64_t id;
        if (r_len(r, &id) < 0) {
            return NULL;
        }
        if (vset_rdb_is_type(id)) {
            v = vset_rdb_load((rdb_in *)r, (int)(id & 1023));
            otype = OBJ_VSET;
        } else {
            v = module_rdb_load_value((rdb_in *)r, key, id, dbid);
            otype = OBJ_MODULE;
        }
        break;
    }
    default: {
        char t[16];
        snprintf(t, sizeof(t), "%d", type);
        fail(r, "Unknown RDB value type %s (not supported by Keel)", t);
        return NULL;
    }
    }
    if (!v) {
        *skip = !r->failed; /* an empty set: no value and no error */
        return NULL;
    }
    kobj *o = kobj_new_ptr(key, otype, v, expire);
    if (otype != OBJ_STREAM && otype != OBJ_MODULE && obj_type_ops(otype)->length(v) == 0) {
        kobj_free(o);
        *skip = 1;
        return NULL;
    }
    return o;
}

/* ---- the replication history an RDB records ---- */

static struct {
    char id[41];
    long long offset;
    int stream_db;
} loaded_repl;

void (*rdb_expired_on_load)(int dbid, sv key);

/* Keys and libraries already in memory give way to the file's. */
static int merge_existing;
/* keel-check-aof: the file is walked, each value read and freed, nothing
 * kept (no database, no function library is touched). */
static int check_only;

void rdb_load_merge(int on)
{
    merge_existing = on;
}

static void note_repl_aux(sv k, sv v)
{
    long long n;
    if (sv_eq_ci(k, "repl-id") && v.len == 40) {
        memcpy(loaded_repl.id, v.ptr, 40);
        loaded_repl.id[40] = '\0';
    } else if (sv_eq_ci(k, "repl-offset") && util_parse_ll(v.ptr, v.len, &n) && n >= 0) {
        loaded_repl.offset = n;
    } else if (sv_eq_ci(k, "repl-stream-db") && util_parse_ll(v.ptr, v.len, &n) && n >= 0 && n < server.cfg.databases) {
        loaded_repl.stream_db = (int)n;
    }
}

int rdb_loaded_repl_info(char id[41], long long *offset, int *stream_db)
{
    if (!loaded_repl.id[0] || loaded_repl.offset < 0 || loaded_repl.stream_db < 0) {
        return 0;
    }
    memcpy(id, loaded_repl.id, 41);
    *offset = loaded_repl.offset;
    *stream_db = loaded_repl.stream_db;
    return 1;
}

static int load_all(reader *r)
{
    loaded_repl.id[0] = '\0';
    loaded_repl.offset = loaded_repl.stream_db = -1;
    uint64_t reported = 0; /* where the last progress report was */
    char magic[10] = {0};
    if (r_bytes(r, magic, 9) < 0 || memcmp(magic, "REDIS", 5) != 0) {
        return fail(r, "Wrong signature trying to load DB from file%s", "");
    }
    int version = 0;
    for (int i = 5; i < 9; i++) {
        if (magic[i] < '0' || magic[i] > '9') {
            return fail(r, "Wrong signature trying to load DB from file%s", "");
        }
        version = version * 10 + (magic[i] - '0');
    }
    if (version < 1 || version > RDB_MAX_VERSION) {
        return fail(r, "Can't handle RDB format version %s", magic + 5);
    }
    db *dbs = r->to ? r->to->dbs : server.dbs;
    db *d = &dbs[0];
    int dbid = 0; /* d's number (also when checking only, without dbs) */
    int64_t expire = -1, now = server_ms();
    long long keys = 0, empty_skipped = 0;
    /* INFO rdb_last_load_keys_*: this load's, from its start. */
    server.stats.rdb_last_load_keys_loaded = server.stats.rdb_last_load_keys_expired = 0;
    for (;;) {
        unsigned char type;
        if (r_byte(r, &type) < 0) {
            return -1;
        }
        if (type == RDB_OPCODE_EXPIRETIME_MS) {
            uint64_t ms;
            if (r_le64(r, &ms) < 0) {
                return -1;
            }
            expire = (int64_t)ms;
            continue;
        }
        if (type == RDB_OPCODE_EXPIRETIME) {
            unsigned char b[4];
            if (r_bytes(r, b, 4) < 0) {
                return -1;
            }
            expire =
                (int64_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24) * 1000;
            continue;
        }
        if (type == RDB_OPCODE_IDLE) {
            uint64_t idle;
            if (r_len(r, &idle) < 0) {
                return -1;
            }
            continue;
        }
        if (type == RDB_OPCODE_FREQ) {
            unsigned char f;
            if (r_byte(r, &f) < 0) {
                return -1;
            }
            continue;
        }
        if (type == RDB_OPCODE_SELECTDB) {
            uint64_t id;
            if (r_len(r, &id) < 0) {
                return -1;
            }
            dbid = id < (uint64_t)INT_MAX ? (int)id : -1;
            if (check_only) {
                continue;
            }
            if (id >= (uint64_t)server.cfg.databases) {
                char n[32];
                snprintf(n, sizeof(n), "%d", server.cfg.databases);
                return fail(r,
                            "FATAL: Data file was created with a server configured to handle more than %s "
                            "databases",
                            n);
            }
            d = &dbs[id];
            continue;
        }
        if (type == RDB_OPCODE_RESIZEDB) {
            uint64_t a, b;
            if (r_len(r, &a) < 0 || r_len(r, &b) < 0) {
                return -1;
            }
            /* Size the table once, as Redis does; a count beyond what the
             * file could hold (a key takes 3 bytes at least) is not trusted. */
            if (!check_only && a <= remaining(r) / 3 && db_size(d) == 0) {
                ktable_reserve(&d->keys, r->src && a > (1u << 20) ? (1u << 20) : (size_t)a);
            }
            continue;
        }
        if (type == RDB_OPCODE_AUX) {
            str k = r_string(r);
            str v = k ? r_string(r) : NULL;
            if (v && str_len(k) == 9 && memcmp(k, "redis-ver", 9) == 0) {
                log_msg(LOG_NOTICE, "Loading RDB produced by version %.*s", (int)str_len(v), v);
            }
            if (v) {
                note_repl_aux(S_(k), S_(v));
            }
            str_free(k);
            str_free(v);
            if (!v) {
                return -1;
            }
            continue;
        }
        if (type == RDB_OPCODE_FUNCTION2) {
            str code = r_string(r);
            if (!code) {
                return -1;
            }
            if (check_only) {
                str_free(code);
                continue;
            }
            if (r->to) {
                r->to->library(code, r->to->ctx);
                continue;
            }
            str err = NULL;
            int rc = script_functions_load_code(code, str_len(code), merge_existing, &err);
            str_free(code);
            if (rc < 0) {
                fail(r, "Failed loading a function library: %s", err ? err : "");
                str_free(err);
                return -1;
            }
            continue;
        }
        if (type == RDB_OPCODE_EOF) {
            break;
        }
        if (type == RDB_OPCODE_MODULE_AUX) {
            if (module_rdb_load_aux((rdb_in *)r) < 0) {
                return -1;
            }
            continue;
        }
        if (type == 246) {
            return fail(r, "The RDB holds pre-release function data, which Keel cannot load%s", "");
        }
        /* Every 1024 keys or loading-process-events-interval-bytes,
         * whichever comes first. */
        if ((r->f || r->src) &&
            ((++keys & 1023) == 0 || r->pos - reported >= (uint64_t)server.cfg.loading_events_interval)) {
            reported = r->pos;
            persistence_loading_progress((long long)r->pos, r->size == UNKNOWN_SIZE ? 0 : (long long)r->size, 0);
        }
        str key = r_string(r);
        if (!key) {
            return -1;
        }
        int skip;
        kobj *o = load_value(r, type, S_(key), dbid, expire, &skip);
        int expired = expire >= 0 && expire <= now;
        expire = -1;
        if (!o && !skip) {
            str_free(key);
            return fail(r, "Corrupt RDB: %s", "bad value"); /* (keeps the first error's text) */
        }
        if (skip && !check_only && empty_skipped++ < 10) {
            /* Older servers could write empty collections: dropped, as
             * Redis drops them, in its words. */
            log_msg(LOG_NOTICE, "rdbLoadObject skipping empty key: %.*s", (int)str_len(key), key);
        }
        if (o && check_only) {
            kobj_free(o);
        } else if (o) {
            if (db_find_raw(d, S_(key))) {
                if (!merge_existing) {
                    kobj_free(o);
                    str_free(key);
                    return fail(r, "Corrupt RDB: %s", "duplicated key");
                }
                db_delete(d, S_(key)); /* DEBUG RELOAD NOFLUSH MERGE: the file's wins */
            }
            if (expired) {
                if (rdb_expired_on_load) {
                    rdb_expired_on_load(d->id, kobj_key(o));
                }
                kobj_free(o); /* expired while the server was down */
                server.stats.rdb_last_load_keys_expired++;
            } else {
                db_add_loaded(d, o);
                server.stats.rdb_last_load_keys_loaded++;
                /* For modules only (clients never get it), as Redis. */
                notify_event(NOTIFY_LOADED, "loaded", kobj_key(o), d->id);
            }
        }
        str_free(key);
        if (server.cfg.key_load_delay && !check_only) {
            rdb_debug_delay(server.cfg.key_load_delay);
        }
    }
    /* RDB 5 and later end with a CRC64 of everything before it (0: none). */
    if (version >= 5) {
        uint64_t computed = r->crc, stored;
        if (r_le64(r, &stored) < 0) {
            return -1;
        }
        if (stored != 0 && server.cfg.rdbchecksum && !server.skip_checksum_validation && stored != computed) {
            /* Redis's words (tools and tests look for "RDB CRC error"). */
            log_msg(LOG_WARNING, "Wrong RDB checksum expected: (%llx) got (%llx). Aborting now.",
                    (unsigned long long)stored, (unsigned long long)computed);
            return fail(r, "Wrong RDB checksum (RDB CRC error)%s", "");
        }
    }
    if (!check_only) {
        char skipped[64] = "";
        if (empty_skipped) {
            snprintf(skipped, sizeof(skipped), ", empty keys skipped: %lld", empty_skipped);
        }
        log_msg(LOG_NOTICE, "Done loading RDB, keys loaded: %lld, keys expired: %lld%s.",
                server.stats.rdb_last_load_keys_loaded, server.stats.rdb_last_load_keys_expired, skipped);
    }
    return 0;
}

/* A failed load of a snapshot is logged in Redis's words too, which
 * tools and tests look for. */
static int load_result(const reader *r, int rc)
{
    if (rc >= 0) {
        return 0;
    }
    if (!check_only) {
        log_msg(LOG_WARNING, "Internal error in RDB reading offset %llu -> %s", (unsigned long long)r->pos, r->err);
    }
    return -1;
}

int rdb_load_file(const char *path, char *err, size_t errlen)
{
    uint64_t end;
    return rdb_load_file_end(path, &end, err, errlen);
}

int rdb_load_file_end(const char *path, uint64_t *end, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) {
            return 1;
        }
        snprintf(err, errlen, "Can't open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        snprintf(err, errlen, "Can't stat %s: %s", path, strerror(errno));
        fclose(f);
        return -1;
    }
    reader r = {f, NULL, NULL, NULL, 0, (uint64_t)st.st_size, 0, err, errlen, 0};
    int rc = load_all(&r);
    fclose(f);
    *end = r.pos;
    return load_result(&r, rc);
}

int rdb_load_source(const rdb_source *src, uint64_t size, const rdb_target *to, char *err, size_t errlen)
{
    reader r = {NULL, NULL, src, to, 0, size ? size : UNKNOWN_SIZE, 0, err, errlen, 0};
    return load_result(&r, load_all(&r));
}

int rdb_check_file(const char *path, uint64_t *end, char *err, size_t errlen)
{
    check_only = 1;
    int rc = rdb_load_file_end(path, end, err, errlen);
    check_only = 0;
    if (rc == 1) {
        snprintf(err, errlen, "Can't open %s: %s", path, strerror(ENOENT));
        return -1;
    }
    return rc;
}

/* A DUMP payload's trailer: the version it was written with and the
 * CRC64 of what comes before. Unlike an RDB file's, it is always checked
 * (Redis has no "not computed" 0 here). Versions up to RDB_MAX_VERSION
 * (Redis 7.4's 12) are read, so newer servers' payloads restore too. */
static int payload_ok(const unsigned char *p, size_t len, char *err, size_t errlen)
{
    if (len >= 10) {
        unsigned ver = p[len - 10] | (unsigned)p[len - 9] << 8;
        uint64_t stored = 0;
        for (int i = 7; i >= 0; i--) {
            stored = stored << 8 | p[len - 8 + i];
        }
        if (ver <= RDB_MAX_VERSION && (server.skip_checksum_validation || crc64(0, p, len - 8) == stored)) {
            return 1;
        }
    }
    snprintf(err, errlen, "ERR DUMP payload version or checksum are wrong");
    return 0;
}

int rdb_parse_functions(const char *payload, size_t len, void (*fn)(const char *code, size_t len, void *ctx), void *ctx,
                        char *err, size_t errlen)
{
    const unsigned char *p = (const unsigned char *)payload;
    if (!payload_ok(p, len, err, errlen)) {
        return -1;
    }
    char why[256];
    reader r = {NULL, p, NULL, NULL, 0, len - 10, 0, why, sizeof(why), 0};
    while (r.pos < r.size) {
        unsigned char op;
        if (r_byte(&r, &op) < 0 || op != RDB_OPCODE_FUNCTION2) {
            snprintf(err, errlen, "ERR given type is not a function");
            return -1;
        }
        str code = r_string(&r);
        if (!code) {
            snprintf(err, errlen, "ERR payload is corrupted");
            return -1;
        }
        fn(code, str_len(code), ctx);
        str_free(code);
    }
    return 0;
}

kobj *rdb_restore_value(const char *payload, size_t len, sv key, int dbid, int64_t expire, char *err, size_t errlen)
{
    const unsigned char *p = (const unsigned char *)payload;
    if (!payload_ok(p, len, err, errlen)) {
        return NULL;
    }
    char why[256] = "";
    reader r = {NULL, p, NULL, NULL, 0, len - 10, 0, why, sizeof(why), 0};
    unsigned char type;
    int skip = 0;
    kobj *o = NULL;
    if (r_byte(&r, &type) == 0) {
        o = load_value(&r, type, key, dbid, expire, &skip);
    }
    if (o && r.pos != r.size) {
        kobj_free(o);
        o = NULL;
    }
    if (!o) {
        snprintf(err, errlen, "ERR Bad data format");
        /* Why, for whoever reads the log (Redis logs it at verbose). */
        if (why[0]) {
            log_msg(LOG_VERBOSE, "Internal error in RDB reading offset %llu -> %s", (unsigned long long)r.pos, why);
        }
    }
    return o;
}
