/* rdb_save: writing a snapshot in RDB version 10. See rdb.h.
 *
 * The writer buffers output, keeps the running CRC64 of everything written,
 * and remembers the first I/O error, so the serializers below stay simple
 * and the error is reported once at the end. */
#include <errno.h>
#include <fcntl.h>
#include <liblzf/lzf.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/crc64.h"
#include "base/util.h"
#include "ds/redis_listpack.h"
#include "ds/varint.h"
#include "module/module.h"
#include "persist/aof.h"
#include "persist/bgwriter.h"
#include "persist/rdb.h"
#include "persist/rdb_format.h"
#include "persist/rdb_vset.h"
#include "proto/resp_parse.h"
#include "repl/repl.h"
#include "script/lua.h"
#include "server/child.h"
#include "server/latency.h"
#include "server/server.h"
#include "types/hash.h"
#include "types/list.h"
#include "types/set.h"
#include "types/stream.h"
#include "types/stream_group.h"
#include "types/stream_idmp.h"
#include "types/zset.h"

/* Output goes to a file (snapshots) or to a string (DUMP payloads). */
typedef struct writer {
    FILE *f;
    str mem;
    uint64_t crc;
    int err; /* errno of the first failure */
    int compress;
    uint64_t written; /* bytes handed to the file so far */
} writer;

static void w_bytes(writer *w, const void *p, size_t n)
{
    if (w->err || n == 0) {
        return;
    }
    w->crc = crc64(w->crc, p, n);
    w->written += n;
    if (!w->f) {
        w->mem = str_append(w->mem, p, n);
    } else if (fwrite(p, 1, n, w->f) != n) {
        w->err = errno ? errno : EIO;
    }
}

static void w_byte(writer *w, unsigned char b)
{
    w_bytes(w, &b, 1);
}

static void w_len(writer *w, uint64_t len)
{
    unsigned char b[9];
    if (len < (1 << 6)) {
        b[0] = (unsigned char)len;
        w_bytes(w, b, 1);
    } else if (len < (1 << 14)) {
        b[0] = (unsigned char)(RDB_LEN_14BIT << 6 | (len >> 8));
        b[1] = (unsigned char)len;
        w_bytes(w, b, 2);
    } else if (len <= UINT32_MAX) {
        b[0] = RDB_LEN_32BIT;
        for (int i = 0; i < 4; i++) {
            b[1 + i] = (unsigned char)(len >> (24 - 8 * i)); /* big endian */
        }
        w_bytes(w, b, 5);
    } else {
        b[0] = RDB_LEN_64BIT;
        for (int i = 0; i < 8; i++) {
            b[1 + i] = (unsigned char)(len >> (56 - 8 * i));
        }
        w_bytes(w, b, 9);
    }
}

static void w_le64(writer *w, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)(v >> (8 * i));
    }
    w_bytes(w, b, 8);
}

/* A string: as an integer when it is a canonical one that fits 32 bits,
 * LZF-compressed when that saves space, else length and bytes. */
static void w_string(writer *w, const void *p, size_t len)
{
    long long v;
    char buf[32];
    if (len > 0 && len <= 11 && util_parse_ll(p, len, &v) && v >= INT32_MIN && v <= INT32_MAX &&
        util_ll2str(buf, v) == (int)len && memcmp(buf, p, len) == 0) {
        unsigned char b[5];
        if (v >= INT8_MIN && v <= INT8_MAX) {
            b[0] = RDB_ENC_INT8;
            b[1] = (unsigned char)v;
            w_bytes(w, b, 2);
        } else if (v >= INT16_MIN && v <= INT16_MAX) {
            b[0] = RDB_ENC_INT16;
            b[1] = (unsigned char)v;
            b[2] = (unsigned char)(v >> 8);
            w_bytes(w, b, 3);
        } else {
            b[0] = RDB_ENC_INT32;
            for (int i = 0; i < 4; i++) {
                b[1 + i] = (unsigned char)((uint32_t)v >> (8 * i));
            }
            w_bytes(w, b, 5);
        }
        return;
    }
    /* As Redis: only strings over 20 bytes are worth a compression try;
     * LZF's lengths are 32 bits, so a longer one is written as it is (a
     * 4 GB string cut to its low bits would be a corrupt file). */
    if (w->compress && len > 20 && len <= UINT32_MAX) {
        size_t cap = len - 4;
        unsigned char *out = alloc_mem(cap + 1);
        unsigned int clen = lzf_compress(p, (unsigned int)len, out, (unsigned int)cap);
        if (clen > 0) {
            w_byte(w, RDB_ENC_LZF);
            w_len(w, clen);
            w_len(w, len);
            w_bytes(w, out, clen);
            alloc_free(out);
            return;
        }
        alloc_free(out);
    }
    w_len(w, len);
    w_bytes(w, p, len);
}

static void w_sv(writer *w, sv s)
{
    w_string(w, s.ptr, s.len);
}

static void w_cstr(writer *w, const char *s)
{
    w_string(w, s, strlen(s));
}

/* A double as the 8 bytes of its IEEE 754 binary64, little endian. */
static void w_double(writer *w, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, 8);
    w_le64(w, bits);
}

static void w_aux(writer *w, const char *key, const char *val)
{
    w_byte(w, RDB_OPCODE_AUX);
    w_cstr(w, key);
    w_cstr(w, val);
}

/* A finished Redis listpack as an RDB string. */
static void w_listpack(writer *w, rlp_builder *b)
{
    size_t n;
    unsigned char *blob = rlp_builder_finish(b, &n);
    w_string(w, blob, n);
    alloc_free(blob);
}

/* ---- values ---- */

/* A list as a quicklist of listpacks, as Redis 7.0 keeps it; nodes of up
 * to 128 elements or about 8 KB, the sizes Redis uses by default, and each
 * element of a plain node (list.h) in a PLAIN node of its own. */
typedef struct node_split {
    size_t n, bytes;
} node_split;

/* Adds an element of len bytes; 1 when it ends its node. */
static int node_split_add(node_split *ns, size_t len)
{
    ns->bytes += len + 11; /* a listpack entry's worst-case overhead */
    if (++ns->n == 128 || ns->bytes >= 8192) {
        ns->n = ns->bytes = 0;
        return 1;
    }
    return 0;
}

static void save_list(writer *w, list *l)
{
    /* The node count comes first: a dry run of the same split. */
    size_t nodes = 0;
    node_split ns = {0, 0};
    list_iter it;
    sv v;
    list_iter_init(&it, l, 0, LIST_TAIL);
    while (list_iter_next(&it, &v)) {
        if (list_iter_in_plain(&it)) {
            nodes += (ns.n > 0) + 1; /* the packed node it ends, and its own */
            ns = (node_split){0, 0};
        } else {
            nodes += node_split_add(&ns, v.len);
        }
    }
    nodes += ns.n > 0; /* a last, partly filled node */
    w_len(w, nodes);
    rlp_builder b;
    rlp_builder_init(&b);
    ns = (node_split){0, 0};
    list_iter_init(&it, l, 0, LIST_TAIL);
    while (list_iter_next(&it, &v)) {
        if (list_iter_in_plain(&it)) {
            if (ns.n > 0) {
                w_len(w, RDB_QUICKLIST_PACKED);
                w_listpack(w, &b);
                ns = (node_split){0, 0};
            }
            w_len(w, RDB_QUICKLIST_PLAIN);
            w_string(w, v.ptr, v.len);
            continue;
        }
        rlp_append(&b, v.ptr, v.len);
        if (node_split_add(&ns, v.len)) {
            w_len(w, RDB_QUICKLIST_PACKED);
            w_listpack(w, &b);
        }
    }
    if (ns.n > 0) {
        w_len(w, RDB_QUICKLIST_PACKED);
        w_listpack(w, &b);
    }
    rlp_builder_free(&b);
}

static void save_set(writer *w, set *s)
{
    w_len(w, set_len(s));
    set_iter it;
    sv m;
    set_iter_init(&it, s);
    while (set_iter_next(&it, &m)) {
        w_sv(w, m);
    }
    set_iter_done(&it);
}

static void save_zset(writer *w, zset *z)
{
    w_len(w, zset_len(z));
    zset_iter it;
    sv m;
    double score;
    /* From the highest score down, as Redis writes, so a loader that
     * inserts at the head keeps the leaves of its tree full. */
    zset_iter_at(&it, z, zset_len(z) ? zset_len(z) - 1 : 0, 1);
    while (zset_iter_next(&it, &m, &score)) {
        w_sv(w, m);
        w_double(w, score);
    }
}

static void save_hash(writer *w, hash *h, int with_ttls)
{
    if (with_ttls) {
        /* Redis 7.4's form: the smallest field expiry, then each field's
         * expiry relative to it (+1; 0 means none). */
        int64_t min = hash_min_expire(h);
        w_le64(w, (uint64_t)min);
        w_len(w, hash_len(h));
        hash_iter it;
        sv f, v;
        hash_iter_init(&it, h);
        while (hash_iter_next(&it, &f, &v)) {
            int64_t at = hash_iter_expire(&it);
            w_len(w, at > 0 ? (uint64_t)(at - min + 1) : 0);
            w_sv(w, f);
            w_sv(w, v);
        }
        hash_iter_done(&it);
        return;
    }
    w_len(w, hash_len(h));
    hash_iter it;
    sv f, v;
    hash_iter_init(&it, h);
    while (hash_iter_next(&it, &f, &v)) {
        w_sv(w, f);
        w_sv(w, v);
    }
    hash_iter_done(&it);
}

/* ---- streams ---- */

/* 16 bytes: ms and seq, big endian (the order of Redis's radix tree keys). */
static void id_be(unsigned char *b, const stream_id *id)
{
    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)(id->ms >> (56 - 8 * i));
        b[8 + i] = (unsigned char)(id->seq >> (56 - 8 * i));
    }
}

/* One Redis stream node is a listpack: a master entry (count, deleted,
 * the fields of the node's first entry, 0), then each entry as flags, ms
 * and seq deltas from the node's key, its values (same fields) or its
 * count and pairs, and its element count for backward walks. */
#define STREAM_FLAG_SAMEFIELDS 2

/* A stream is written in the nodes Redis would have built appending the
 * same entries: a node ends before an entry whose strings would take its
 * listpack to stream-node-max-bytes (at most 1 GB: a listpack's lengths
 * are 32 bits) or once it holds stream-node-max-entries. The plan tracks
 * the current node's exact listpack size as Redis's lpBytes would. */
typedef struct stream_plan {
    size_t max_n, max_bytes;
    size_t n, bytes;  /* the current node's entries and listpack bytes */
    stream_id master; /* its first entry's ID ... */
    str fields;       /* ... and field names, each as a varint length and bytes */
    size_t nfields;
} stream_plan;

static stream_plan stream_plan_new(void)
{
    size_t max_bytes = (size_t)server.cfg.stream_node_max_bytes;
    if (max_bytes == 0 || max_bytes > STREAM_ENTRY_MAX_BYTES) {
        max_bytes = STREAM_ENTRY_MAX_BYTES;
    }
    return (stream_plan){(size_t)server.cfg.stream_node_max_entries, max_bytes, 0, 0, {0, 0}, str_empty(64), 0};
}

/* 1 when the entry's field names are the node's master fields. */
static int stream_plan_same(const stream_plan *p, const sv *fv, size_t nf)
{
    if (nf != p->nfields) {
        return 0;
    }
    const char *at = p->fields;
    for (size_t i = 0; i < nf; i++) {
        size_t n;
        uint64_t len = varint_get((const unsigned char *)at, &n);
        at += n;
        if (len != fv[2 * i].len || memcmp(at, fv[2 * i].ptr, len) != 0) {
            return 0;
        }
        at += len;
    }
    return 1;
}

/* Takes in the next entry: 1 when it starts a node. *same: it has the
 * node's master fields. */
static int stream_plan_add(stream_plan *p, const stream_id *id, const sv *fv, size_t nf, int *same)
{
    size_t strings = 0;
    for (size_t i = 0; i < 2 * nf; i++) {
        strings += fv[i].len;
    }
    int starts = p->n == 0 || p->bytes + strings >= p->max_bytes || (p->max_n && p->n >= p->max_n);
    if (starts) {
        /* The master entry: count, deleted, the field names, a 0. */
        p->n = 0;
        p->bytes = RLP_EMPTY_SIZE + rlp_int_size(1) + rlp_int_size(0) + rlp_int_size((long long)nf) + rlp_int_size(0);
        p->master = *id;
        p->nfields = nf;
        str_clear(p->fields);
        for (size_t i = 0; i < nf; i++) {
            unsigned char len[10];
            p->fields = str_append(p->fields, (const char *)len, varint_put(len, fv[2 * i].len));
            p->fields = str_append(p->fields, fv[2 * i].ptr, fv[2 * i].len);
            p->bytes += rlp_item_size(fv[2 * i].ptr, fv[2 * i].len);
        }
    }
    *same = stream_plan_same(p, fv, nf);
    /* The entry: flags, ID deltas, [count, fields], values, item count. */
    p->bytes += rlp_int_size(*same ? STREAM_FLAG_SAMEFIELDS : 0) + rlp_int_size((long long)(id->ms - p->master.ms)) +
                rlp_int_size((long long)(id->seq - p->master.seq)) +
                rlp_int_size((long long)(*same ? nf + 3 : 2 * nf + 4));
    if (!*same) {
        p->bytes += rlp_int_size((long long)nf);
    }
    for (size_t i = 0; i < nf; i++) {
        if (!*same) {
            p->bytes += rlp_item_size(fv[2 * i].ptr, fv[2 * i].len);
        }
        p->bytes += rlp_item_size(fv[2 * i + 1].ptr, fv[2 * i + 1].len);
    }
    /* The master entry's count grows with the node. */
    p->n++;
    p->bytes += rlp_int_size((long long)p->n) - rlp_int_size((long long)p->n - 1);
    return starts;
}

/* The iterator's current entry, its strings copied into buf (the
 * iterator's last only until its next call); fv points into buf. */
static sv *stream_entry_copy(stream_iter *it, size_t nf, str *buf, sv **fv, size_t *cap)
{
    if (2 * nf > *cap) {
        *cap = 2 * nf;
        *fv = alloc_resize(*fv, sizeof(sv) * *cap);
    }
    str_clear(*buf);
    for (size_t i = 0; i < nf; i++) {
        sv f, v;
        stream_iter_field(it, &f, &v);
        (*fv)[2 * i].len = f.len;
        (*fv)[2 * i + 1].len = v.len;
        *buf = str_append(*buf, f.ptr, f.len);
        *buf = str_append(*buf, v.ptr, v.len);
    }
    const char *at = *buf;
    for (size_t i = 0; i < 2 * nf; i++) {
        (*fv)[i].ptr = at;
        at += (*fv)[i].len;
    }
    return *fv;
}

static void save_stream_nodes(writer *w, stream *s)
{
    stream_id lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX}, id;
    size_t nf, cap = 0;
    str buf = str_empty(256);
    sv *fv = NULL;
    int same;
    stream_iter it;
    /* A dry run first: the node count is written before the nodes, and
     * each node's entry count before its entries. */
    size_t *counts = NULL, nodes = 0, ncap = 0;
    stream_plan plan = stream_plan_new();
    stream_iter_init(&it, s, &lo, &hi, 0);
    while (stream_iter_next(&it, &id, &nf)) {
        if (stream_plan_add(&plan, &id, stream_entry_copy(&it, nf, &buf, &fv, &cap), nf, &same)) {
            if (nodes == ncap) {
                ncap = ncap ? 2 * ncap : 16;
                counts = alloc_resize(counts, ncap * sizeof(*counts));
            }
            counts[nodes++] = 0;
        }
        counts[nodes - 1]++;
    }
    stream_iter_done(&it);
    w_len(w, nodes);
    rlp_builder b;
    rlp_builder_init(&b);
    size_t node = 0, left = 0;
    str_free(plan.fields);
    plan = stream_plan_new();
    stream_iter_init(&it, s, &lo, &hi, 0);
    while (stream_iter_next(&it, &id, &nf)) {
        stream_entry_copy(&it, nf, &buf, &fv, &cap);
        if (stream_plan_add(&plan, &id, fv, nf, &same)) {
            left = counts[node++];
            rlp_append_int(&b, (long long)left); /* live entries */
            rlp_append_int(&b, 0);               /* deleted ones */
            rlp_append_int(&b, (long long)nf);
            for (size_t i = 0; i < nf; i++) {
                rlp_append(&b, fv[2 * i].ptr, fv[2 * i].len);
            }
            rlp_append_int(&b, 0); /* the master entry's terminator */
        }
        rlp_append_int(&b, same ? STREAM_FLAG_SAMEFIELDS : 0);
        rlp_append_int(&b, (long long)(id.ms - plan.master.ms));
        rlp_append_int(&b, (long long)(id.seq - plan.master.seq));
        if (!same) {
            rlp_append_int(&b, (long long)nf);
        }
        for (size_t i = 0; i < nf; i++) {
            if (!same) {
                rlp_append(&b, fv[2 * i].ptr, fv[2 * i].len);
            }
            rlp_append(&b, fv[2 * i + 1].ptr, fv[2 * i + 1].len);
        }
        /* The entry's item count, for backward walks. */
        rlp_append_int(&b, (long long)(same ? nf + 3 : 2 * nf + 4));
        if (--left == 0) {
            unsigned char key[16];
            id_be(key, &plan.master);
            w_string(w, key, 16);
            w_listpack(w, &b);
        }
    }
    stream_iter_done(&it);
    str_free(plan.fields);
    str_free(buf);
    alloc_free(fv);
    alloc_free(counts);
    rlp_builder_free(&b);
}

static void save_pel(writer *w, const idtree *pel, int with_nacks)
{
    w_len(w, idtree_count(pel));
    idtree_pos p;
    for (int ok = idtree_first(pel, &p); ok; ok = idtree_next(&p)) {
        stream_id id = idtree_key(&p);
        unsigned char raw[16];
        id_be(raw, &id);
        w_bytes(w, raw, 16);
        if (with_nacks) {
            const stream_nack *n = idtree_val(&p);
            w_le64(w, (uint64_t)n->delivery_time);
            w_len(w, n->delivery_count);
        }
    }
}

static void save_idmp_producer(void *ctx, sv pid, size_t n)
{
    w_string(ctx, pid.ptr, pid.len);
    w_len(ctx, n);
}

static void save_idmp_iid(void *ctx, sv iid, const stream_id *id)
{
    w_string(ctx, iid.ptr, iid.len);
    w_len(ctx, id->ms);
    w_len(ctx, id->seq);
}

/* Redis 8.6's tail of a STREAM_LISTPACKS_4 value: the settings, each
 * producer's iids oldest first, and the two lifetime counters. */
static void save_stream_idmp(writer *w, const stream *s)
{
    w_len(w, s->idmp_duration);
    w_len(w, s->idmp_maxsize);
    w_len(w, stream_idmp_pids(s));
    static const stream_idmp_visitor v = {save_idmp_producer, save_idmp_iid};
    stream_idmp_walk(s, &v, w);
    w_len(w, s->iids_added);
    w_len(w, s->iids_duplicates);
}

/* STREAM_LISTPACKS_2 (what Redis 7.0 reads), or STREAM_LISTPACKS_4 when
 * the stream has idempotent-production state (consumers then carry their
 * active time, as from 7.2). */
static void save_stream(writer *w, stream *s, int type)
{
    int v4 = type == RDB_TYPE_STREAM_LISTPACKS_4;
    save_stream_nodes(w, s);
    w_len(w, s->length);
    w_len(w, s->last_id.ms);
    w_len(w, s->last_id.seq);
    w_len(w, s->first_id.ms);
    w_len(w, s->first_id.seq);
    w_len(w, s->max_deleted_id.ms);
    w_len(w, s->max_deleted_id.seq);
    w_len(w, s->entries_added);
    w_len(w, (uint64_t)s->ngroups);
    for (int i = 0; i < s->ngroups; i++) {
        const stream_group *g = s->groups[i];
        w_string(w, g->name, str_len(g->name));
        w_len(w, g->last_id.ms);
        w_len(w, g->last_id.seq);
        w_len(w, (uint64_t)g->entries_read);
        save_pel(w, &g->pel, 1);
        w_len(w, (uint64_t)g->nconsumers);
        for (int j = 0; j < g->nconsumers; j++) {
            const stream_consumer *c = g->consumers[j];
            w_string(w, c->name, str_len(c->name));
            w_le64(w, (uint64_t)c->seen_time);
            if (v4) {
                w_le64(w, (uint64_t)c->active_time);
            }
            save_pel(w, &c->pel, 0);
        }
    }
    if (v4) {
        save_stream_idmp(w, s);
    }
}

static void save_function(const char *code, size_t len, void *ctx);

/* The writer as module values see it (src/module/). */
void rdb_out_len(rdb_out *w, uint64_t v)
{
    w_len((writer *)w, v);
}

void rdb_out_string(rdb_out *w, const char *p, size_t len)
{
    w_string((writer *)w, p, len);
}

void rdb_out_bytes(rdb_out *w, const void *p, size_t len)
{
    w_bytes((writer *)w, p, len);
}

void rdb_out_opcode(rdb_out *w, int opcode)
{
    w_byte((writer *)w, (unsigned char)opcode);
}

rdb_out *rdb_out_mem_new(void)
{
    writer *w = alloc_zero(sizeof(*w));
    w->mem = str_empty(64);
    w->compress = server.cfg.rdbcompression;
    return (rdb_out *)w;
}

str rdb_out_mem_take(rdb_out *out)
{
    writer *w = (writer *)out;
    str s = w->mem;
    alloc_free(w);
    return s;
}

/* ---- keys ---- */

/* The value's RDB type byte. */
static int value_type(kobj *o)
{
    switch (o->type) {
    case OBJ_STRING: return RDB_TYPE_STRING;
    case OBJ_LIST: return RDB_TYPE_LIST_QUICKLIST_2;
    case OBJ_SET: return RDB_TYPE_SET;
    case OBJ_ZSET: return RDB_TYPE_ZSET_2;
    case OBJ_HASH: return hash_ttl_count(kobj_ptr(o)) > 0 ? RDB_TYPE_HASH_METADATA : RDB_TYPE_HASH;
    case OBJ_MODULE:
    case OBJ_VSET: return RDB_TYPE_MODULE_2;
    default: return stream_idmp_in_use(kobj_ptr(o)) ? RDB_TYPE_STREAM_LISTPACKS_4 : RDB_TYPE_STREAM_LISTPACKS_2;
    }
}

static void save_value(writer *w, kobj *o, int type, int dbid)
{
    switch (type) {
    case RDB_TYPE_STRING: {
        char buf[32];
        w_sv(w, kobj_str(o, buf));
        break;
    }
    case RDB_TYPE_LIST_QUICKLIST_2: save_list(w, kobj_ptr(o)); break;
    case RDB_TYPE_SET: save_set(w, kobj_ptr(o)); break;
    case RDB_TYPE_ZSET_2: save_zset(w, kobj_ptr(o)); break;
    case RDB_TYPE_HASH: save_hash(w, kobj_ptr(o), 0); break;
    case RDB_TYPE_HASH_METADATA: save_hash(w, kobj_ptr(o), 1); break;
    case RDB_TYPE_MODULE_2:
        if (o->type == OBJ_VSET) {
            vset_rdb_save((rdb_out *)w, kobj_ptr(o));
        } else {
            module_rdb_save_value((rdb_out *)w, o, dbid);
        }
        break;
    default: save_stream(w, kobj_ptr(o), type); break;
    }
}

static void save_key(writer *w, kobj *o, int dbid)
{
    int64_t expire = kobj_expire(o);
    if (expire >= 0) {
        w_byte(w, RDB_OPCODE_EXPIRETIME_MS);
        w_le64(w, (uint64_t)expire);
    }
    int type = value_type(o);
    w_byte(w, (unsigned char)type);
    w_sv(w, kobj_key(o));
    save_value(w, o, type, dbid);
}

/* The DUMP trailer: the RDB version (2 bytes) and a CRC64 of all before. */
static str dump_trailer(writer *w)
{
    unsigned char ver[2] = {RDB_VERSION & 0xFF, RDB_VERSION >> 8};
    w_bytes(w, ver, 2);
    w_le64(w, w->crc);
    return w->mem;
}

str rdb_dump_functions(void)
{
    writer w = {NULL, str_empty(256), 0, 0, server.cfg.rdbcompression, 0};
    script_functions_each(save_function, &w);
    return dump_trailer(&w);
}

str rdb_dump_value(kobj *o, int dbid)
{
    writer w = {NULL, str_empty(64), 0, 0, server.cfg.rdbcompression, 0};
    int type = value_type(o);
    w_byte(&w, (unsigned char)type);
    save_value(&w, o, type, dbid);
    return dump_trailer(&w);
}

/* A library in the commands form: FUNCTION LOAD, as Redis's rewrite. */
static void function_command(const char *code, size_t len, void *ctx)
{
    sv argv[3] = {SV("FUNCTION"), SV("LOAD"), {code, len}};
    str cmd = resp_append_command(str_empty(len + 64), argv, 3);
    w_bytes(ctx, cmd, str_len(cmd));
    str_free(cmd);
}

static void save_function(const char *code, size_t len, void *ctx)
{
    writer *w = ctx;
    w_byte(w, RDB_OPCODE_FUNCTION2);
    w_string(w, code, len);
}

/* ---- snapshots written a key at a time ---- */

struct rdb_stream {
    writer w;
    int db;       /* the db of the last SELECTDB written, -1 at first */
    char tmp[64]; /* the temporary file, renamed over the target at the end */
    int base_tmp; /* tmp is temp-<pid>.rdb (base_tmp_path) */
    long long keys;
    bgwriter *bg; /* a file: written by a helper thread (bgwriter.h) */
    int sink;     /* no file: the bytes go to a sink (diskless sync) */
    int commands; /* RDB_FORM_COMMANDS: no RDB framing, keys as commands */
    int no_keys;  /* header, aux fields and (unless no_functions) libraries only */
    int no_functions;
};

/* Unlinking a big temporary file can take the filesystem many
 * milliseconds: the latency monitor's "rdb-unlink-temp-file" event. */
static void unlink_temp(const char *path)
{
    int64_t start = util_mono_us();
    unlink(path);
    latency_add("rdb-unlink-temp-file", (util_mono_us() - start) / 1000);
}

static unsigned tmp_serial;
/* The first file stream open is temp-<pid>.rdb, as Redis names the one
 * its process writes (tools and Redis's tests look for it); another open
 * meanwhile gets a serial too. A signal handler may remove it. */
static char base_tmp_path[64];
static volatile sig_atomic_t base_tmp_open;

static void stream_ended(rdb_stream *s)
{
    if (s->base_tmp) {
        base_tmp_open = 0;
    }
    alloc_free(s);
}

void rdb_remove_temp_from_signal(void)
{
    if (base_tmp_open) {
        unlink(base_tmp_path);
    }
}

/* A sink's FILE: stdio buffers, the sink gets the bytes in chunks. */
typedef struct sink_cookie {
    rdb_sink_fn fn;
    void *ctx;
} sink_cookie;

static ssize_t sink_write(void *cookie, const char *p, size_t n)
{
    sink_cookie *c = cookie;
    c->fn(p, n, c->ctx);
    return (ssize_t)n;
}

static int sink_close(void *cookie)
{
    alloc_free(cookie);
    return 0;
}

static rdb_stream *open_with(FILE *f, rdb_stream *s);

static ssize_t bg_write(void *cookie, const char *p, size_t n)
{
    bgwriter_write(cookie, p, n);
    return (ssize_t)n;
}

/* A stream whose bytes go to fn; with no_keys, only what comes before the
 * keys is written (and no module aux data, which belongs with them). */
static rdb_stream *open_sink(rdb_sink_fn fn, void *ctx, int no_keys, int no_functions)
{
    rdb_stream *s = alloc_zero(sizeof(*s));
    sink_cookie *c = alloc_mem(sizeof(*c));
    c->fn = fn;
    c->ctx = ctx;
    FILE *f = fopencookie(c, "w", (cookie_io_functions_t){NULL, sink_write, NULL, sink_close});
    if (!f) {
        alloc_free(c);
        alloc_free(s);
        return NULL;
    }
    setvbuf(f, NULL, _IOFBF, 64 * 1024);
    s->sink = 1;
    s->no_keys = no_keys;
    s->no_functions = no_functions;
    return open_with(f, s);
}

rdb_stream *rdb_stream_open_sink(rdb_sink_fn fn, void *ctx)
{
    return open_sink(fn, ctx, 0, 0);
}

static void append_to_str(const char *p, size_t len, void *ctx)
{
    str *out = ctx;
    *out = str_append(*out, p, len);
}

str rdb_snapshot_no_keys(int functions)
{
    str out = str_empty(256);
    rdb_stream *s = open_sink(append_to_str, &out, 1, !functions);
    char err[128];
    if (!s || rdb_stream_close(s, NULL, err, sizeof(err)) < 0) {
        str_free(out);
        return NULL;
    }
    return out;
}

rdb_stream *rdb_stream_open(rdb_form form, char *err, size_t errlen)
{
    rdb_stream *s = alloc_zero(sizeof(*s));
    s->commands = form == RDB_FORM_COMMANDS;
    if (!base_tmp_open) {
        snprintf(base_tmp_path, sizeof(base_tmp_path), "temp-%d.rdb", (int)getpid());
        memcpy(s->tmp, base_tmp_path, sizeof(s->tmp));
        s->base_tmp = 1;
        base_tmp_open = 1;
    } else {
        snprintf(s->tmp, sizeof(s->tmp), "temp-%d-%u.rdb", (int)getpid(), tmp_serial++);
    }
    /* The bytes go through stdio's buffer to the helper thread that
     * writes the file, so the event loop never waits for the disk. */
    int fd = open(s->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    s->bg = fd >= 0 ? bgwriter_open(fd, server.cfg.rdb_save_incremental_fsync) : NULL;
    FILE *f = s->bg ? fopencookie(s->bg, "w", (cookie_io_functions_t){NULL, bg_write, NULL, NULL}) : NULL;
    if (!f) {
        int e = errno;
        if (s->bg) {
            bgwriter_abort(s->bg);
            unlink_temp(s->tmp);
        } else if (fd >= 0) {
            close(fd);
            unlink_temp(s->tmp);
        }
        errno = e ? e : EIO;
        snprintf(err, errlen, "Failed opening the temp RDB file %s (in server root dir %s) for saving: %s", s->tmp,
                 server.cfg.dir && server.cfg.dir[0] ? server.cfg.dir : ".", strerror(errno));
        stream_ended(s);
        return NULL;
    }
    return open_with(f, s);
}

static rdb_stream *open_with(FILE *f, rdb_stream *s)
{
    s->w = (writer){f, NULL, 0, 0, server.cfg.rdbcompression, 0};
    s->db = -1;
    writer *w = &s->w;
    char buf[64];
    if (s->commands) {
        if (server.cfg.aof_timestamp_enabled) {
            int n = snprintf(buf, sizeof(buf), "#TS:%lld\r\n", (long long)(server_ms() / 1000));
            w_bytes(w, buf, (size_t)n);
        }
        script_functions_each(function_command, w);
        return s;
    }
    w_bytes(w, "REDIS0010", 9);
    w_aux(w, "redis-ver", KEEL_REDIS_COMPAT_VERSION);
    w_aux(w, "redis-bits", sizeof(void *) == 8 ? "64" : "32");
    snprintf(buf, sizeof(buf), "%lld", (long long)(server_ms() / 1000));
    w_aux(w, "ctime", buf);
    snprintf(buf, sizeof(buf), "%zu", alloc_used());
    w_aux(w, "used-mem", buf);
    /* The replication history, so a restart can continue it (restart.c). */
    char replid[41];
    long long reploff;
    int stream_db;
    if (repl_rdb_info(replid, &reploff, &stream_db)) {
        snprintf(buf, sizeof(buf), "%d", stream_db);
        w_aux(w, "repl-stream-db", buf);
        w_aux(w, "repl-id", replid);
        snprintf(buf, sizeof(buf), "%lld", reploff);
        w_aux(w, "repl-offset", buf);
    }
    w_aux(w, "aof-base", "0");
    /* Modules' aux data for before the keys comes ahead of the function
     * libraries, where Redis 7.0 writes it. */
    if (!s->no_keys) {
        module_rdb_save_aux((rdb_out *)w, MODULE_AUX_BEFORE_RDB);
    }
    if (!s->no_functions) {
        script_functions_each(save_function, w);
    }
    return s;
}

/* SELECT as a command (the commands form). */
static void select_command(rdb_stream *s, int dbid)
{
    char buf[32];
    sv argv[2] = {SV("SELECT"), {buf, (size_t)util_ll2str(buf, dbid)}};
    str cmd = resp_append_command(str_empty(32), argv, 2);
    w_bytes(&s->w, cmd, str_len(cmd));
    str_free(cmd);
    s->db = dbid;
}

void rdb_stream_select(rdb_stream *s, int dbid, size_t keys, size_t expires)
{
    if (s->commands) {
        select_command(s, dbid);
        return;
    }
    w_byte(&s->w, RDB_OPCODE_SELECTDB);
    w_len(&s->w, (uint64_t)dbid);
    w_byte(&s->w, RDB_OPCODE_RESIZEDB);
    w_len(&s->w, keys);
    w_len(&s->w, expires);
    s->db = dbid;
}

void rdb_stream_key(rdb_stream *s, int dbid, kobj *o)
{
    int64_t e = kobj_expire(o);
    if (s->commands && e >= 0 && e <= server_ms()) {
        return; /* already expired: not written out as commands */
    }
    /* An RDB keeps a key that expired but is not reclaimed yet, as Redis
     * writes it: a primary loading it drops it and tells its replicas
     * (restart.c), which may still hold it. */
    if (s->commands) {
        if (dbid != s->db) {
            select_command(s, dbid);
        }
        str cmds = aof_key_commands(str_empty(64), o, dbid);
        w_bytes(&s->w, cmds, str_len(cmds));
        str_free(cmds);
    } else {
        if (dbid != s->db) {
            w_byte(&s->w, RDB_OPCODE_SELECTDB);
            w_len(&s->w, (uint64_t)dbid);
            s->db = dbid;
        }
        save_key(&s->w, o, dbid);
    }
    s->keys++;
}

void rdb_stream_keys_done(rdb_stream *s)
{
    if (!s->commands) {
        module_rdb_save_aux((rdb_out *)&s->w, MODULE_AUX_AFTER_RDB);
    }
}

void rdb_stream_abort(rdb_stream *s)
{
    if (!s) {
        return;
    }
    fclose(s->w.f);
    if (!s->sink) {
        bgwriter_abort(s->bg);
        unlink_temp(s->tmp);
    }
    stream_ended(s);
}

size_t rdb_stream_backlog(rdb_stream *s)
{
    return s->bg ? bgwriter_pending(s->bg) : 0;
}

int rdb_stream_close(rdb_stream *s, const char *path, char *err, size_t errlen)
{
    writer *w = &s->w;
    if (!s->commands) {
        w_byte(w, RDB_OPCODE_EOF);
        w_le64(w, server.cfg.rdbchecksum ? w->crc : 0);
    }
    FILE *f = w->f;
    errno = 0;
    if (s->sink) {
        int rc = fclose(f) == 0 && !w->err ? 0 : -1;
        if (rc < 0) {
            snprintf(err, errlen, "Error writing the snapshot for replicas");
        }
        alloc_free(s);
        return rc;
    }
    /* stdio hands its last bytes to the writer thread, which writes them,
     * syncs the file and closes it. */
    if (fclose(f) != 0 && !w->err) {
        w->err = errno ? errno : EIO;
    }
    int bg_err = bgwriter_close(s->bg);
    if (bg_err && !w->err) {
        w->err = bg_err;
    }
    int rc = 0;
    if (w->err) {
        snprintf(err, errlen, "Write error saving DB on disk: %s", strerror(w->err));
        unlink_temp(s->tmp);
        rc = -1;
    } else if (rename(s->tmp, path) != 0) {
        snprintf(err, errlen, "Error moving temp DB file %s on the final destination %s: %s", s->tmp, path,
                 strerror(errno));
        unlink_temp(s->tmp);
        rc = -1;
    }
    stream_ended(s);
    return rc;
}

void rdb_debug_delay(int d)
{
    static unsigned long keys;
    if (d == 0 || (d < 0 && ++keys % (unsigned long)-(long)d != 0)) {
        return;
    }
    /* A spin: a sleep this short would last the kernel's timer slack. */
    int64_t until = util_mono_us() + (d > 0 ? d : 1);
    while (util_mono_us() < until) {
    }
}

int rdb_save_file(const char *path, rdb_form form, char *err, size_t errlen)
{
    rdb_stream *s = rdb_stream_open(form, err, errlen);
    if (!s) {
        return -1;
    }
    long long total = 0, done = 0;
    for (int i = 0; i < server.cfg.databases; i++) {
        total += (long long)db_size(&server.dbs[i]);
    }
    for (int i = 0; i < server.cfg.databases && !s->w.err; i++) {
        if (db_size(&server.dbs[i]) == 0) {
            continue;
        }
        rdb_stream_select(s, i, db_size(&server.dbs[i]), server.dbs[i].expires);
        ktable_iter it;
        ktable_iter_init(&it, &server.dbs[i].keys);
        void *n;
        while ((n = ktable_iter_next(&it)) && !s->w.err) {
            rdb_stream_key(s, i, (kobj *)n);
            rdb_debug_delay(server.cfg.rdb_key_save_delay);
            if ((++done & 1023) == 0) {
                child_report_progress(done, total); /* INFO current_save_keys_* of a forked save */
            }
        }
        ktable_iter_done(&it);
    }
    rdb_stream_keys_done(s);
    return rdb_stream_close(s, path, err, errlen);
}
