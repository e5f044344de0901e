/* aof_commands: a key as the commands that rebuild it, for an AOF base
 * written without the RDB preamble (aof-use-rdb-preamble no). The forms
 * are Redis 7.0's: collections in commands of up to 64 elements, an
 * expiry as PEXPIREAT, a stream as its XADDs, then XSETID, its groups,
 * their consumers and pending entries as XCLAIM ... FORCE. Hash field
 * TTLs (a Redis 7.4 feature) follow as HPEXPIREAT, a stream's idempotent
 * producers (Redis 8.6) as XCFGSET and XIDMPRECORD. A vector set is a
 * RESTORE of its serialized form (Redis 8 writes none: it relies on the
 * preamble).
 *
 * As in Redis, a pending entry whose stream entry was deleted cannot be
 * rebuilt (XCLAIM drops it); unlike Redis, every consumer is created
 * first, so one whose entries are all gone is still there. */
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "module/module.h"
#include "persist/aof.h"
#include "persist/rdb.h"
#include "proto/resp_parse.h"
#include "server/server.h"
#include "types/hash.h"
#include "types/list.h"
#include "types/set.h"
#include "types/stream.h"
#include "types/stream_group.h"
#include "types/stream_idmp.h"
#include "types/zset.h"

/* Elements per command, as Redis's rewrite: long enough to amortize the
 * command, short enough that replay never builds a huge argv. */
#define ITEMS_PER_CMD 64

/* A command being built: a fixed prefix (name, key) and up to
 * ITEMS_PER_CMD elements of one or two arguments. Iterators hand out
 * slices that may point into their own number buffers, valid only until
 * the next element, so arguments are copied into hold. */
typedef struct batch {
    sv argv[2 + ITEMS_PER_CMD * 2];
    size_t lens[ITEMS_PER_CMD * 2];
    str hold;
    int argc, items;
    str *out;
} batch;

static void batch_init(batch *b, str *out, const char *cmd, sv key)
{
    b->argv[0] = (sv){cmd, strlen(cmd)};
    b->argv[1] = key;
    b->argc = 2;
    b->items = 0;
    b->hold = str_empty(256);
    b->out = out;
}

static void batch_flush(batch *b)
{
    if (b->items > 0) {
        size_t off = 0;
        for (int i = 2; i < b->argc; i++) {
            b->argv[i] = (sv){b->hold + off, b->lens[i - 2]};
            off += b->lens[i - 2];
        }
        *b->out = resp_append_command(*b->out, b->argv, b->argc);
    }
    str_clear(b->hold);
    b->argc = 2;
    b->items = 0;
}

static void batch_arg(batch *b, sv a)
{
    b->lens[b->argc++ - 2] = a.len;
    b->hold = str_append(b->hold, a.ptr, a.len);
}

/* Adds one element (one or two arguments); flushes a full command. */
static void batch_add(batch *b, sv a, const sv *second)
{
    batch_arg(b, a);
    if (second) {
        batch_arg(b, *second);
    }
    if (++b->items == ITEMS_PER_CMD) {
        batch_flush(b);
    }
}

static void batch_done(batch *b)
{
    batch_flush(b);
    str_free(b->hold);
}

static sv num_ll(char *buf, long long v)
{
    return (sv){buf, (size_t)util_ll2str(buf, v)};
}

static sv num_id(char *buf, const stream_id *id)
{
    return (sv){buf, (size_t)stream_id_format(buf, id)};
}

static void emit(str *out, const sv *argv, int argc)
{
    *out = resp_append_command(*out, argv, argc);
}

static void list_commands(str *out, sv key, list *l)
{
    batch b;
    batch_init(&b, out, "RPUSH", key);
    list_iter it;
    sv v;
    list_iter_init(&it, l, 0, LIST_TAIL);
    while (list_iter_next(&it, &v)) {
        batch_add(&b, v, NULL);
    }
    batch_done(&b);
}

static void set_commands(str *out, sv key, set *s)
{
    batch b;
    batch_init(&b, out, "SADD", key);
    set_iter it;
    sv m;
    set_iter_init(&it, s);
    while (set_iter_next(&it, &m)) {
        batch_add(&b, m, NULL);
    }
    set_iter_done(&it);
    batch_done(&b);
}

static void zset_commands(str *out, sv key, zset *z)
{
    batch b;
    batch_init(&b, out, "ZADD", key);
    zset_iter it;
    sv m;
    double score;
    zset_iter_at(&it, z, 0, 0);
    while (zset_iter_next(&it, &m, &score)) {
        char buf[64];
        sv sc = {buf, (size_t)util_d2str(buf, score)};
        batch_add(&b, sc, &m);
    }
    batch_done(&b);
}

static void hash_commands(str *out, sv key, hash *h)
{
    batch b;
    batch_init(&b, out, "HMSET", key);
    hash_iter it;
    sv f, v;
    hash_iter_init(&it, h);
    while (hash_iter_next(&it, &f, &v)) {
        batch_add(&b, f, &v);
    }
    hash_iter_done(&it);
    batch_done(&b);
    if (hash_ttl_count(h) == 0) {
        return;
    }
    hash_iter_init(&it, h);
    while (hash_iter_next(&it, &f, &v)) {
        int64_t at = hash_iter_expire(&it);
        if (at > 0) {
            char tbuf[32];
            sv argv[6] = {SV("HPEXPIREAT"), key, num_ll(tbuf, at), SV("FIELDS"), SV("1"), f};
            emit(out, argv, 6);
        }
    }
    hash_iter_done(&it);
}

/* The entries as XADDs; returns how many. An entry without fields (a
 * module's StreamAdd makes one) has no XADD: it is left out, as Redis
 * 7.0's rewrite leaves it (its XADD fails on replay). */
static size_t stream_entries(str *out, sv key, stream *s)
{
    stream_iter it;
    stream_id lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX}, id;
    size_t nf, cap = 0;
    sv *argv = NULL;
    size_t *lens = NULL;
    /* A pair's slices may point into the iterator's number buffers, valid
     * only until the next pair, so each entry's pairs are copied to hold. */
    str hold = str_empty(256);
    stream_iter_init(&it, s, &lo, &hi, 0);
    size_t n = 0;
    while (stream_iter_next(&it, &id, &nf)) {
        if (nf == 0) {
            continue;
        }
        if (3 + 2 * nf > cap) {
            cap = 3 + 2 * nf;
            argv = alloc_resize(argv, cap * sizeof(*argv));
            lens = alloc_resize(lens, cap * sizeof(*lens));
        }
        str_clear(hold);
        for (size_t i = 0; i < nf; i++) {
            sv f, v;
            stream_iter_field(&it, &f, &v);
            lens[2 * i] = f.len;
            lens[2 * i + 1] = v.len;
            hold = str_append(hold, f.ptr, f.len);
            hold = str_append(hold, v.ptr, v.len);
        }
        char idbuf[48];
        argv[0] = SV("XADD");
        argv[1] = key;
        argv[2] = num_id(idbuf, &id);
        for (size_t i = 0, off = 0; i < 2 * nf; off += lens[i], i++) {
            argv[3 + i] = (sv){hold + off, lens[i]};
        }
        emit(out, argv, (int)(3 + 2 * nf));
        n++;
    }
    stream_iter_done(&it);
    str_free(hold);
    alloc_free(argv);
    alloc_free(lens);
    return n;
}

static void stream_groups(str *out, sv key, stream *s)
{
    for (int i = 0; i < s->ngroups; i++) {
        const stream_group *g = s->groups[i];
        sv gname = {g->name, str_len(g->name)};
        char idbuf[48], nbuf[32];
        sv create[7] = {SV("XGROUP"),
                        SV("CREATE"),
                        key,
                        gname,
                        num_id(idbuf, &g->last_id),
                        SV("ENTRIESREAD"),
                        num_ll(nbuf, g->entries_read)};
        emit(out, create, 7);
        for (int j = 0; j < g->nconsumers; j++) {
            const stream_consumer *c = g->consumers[j];
            sv cname = {c->name, str_len(c->name)};
            sv argv[5] = {SV("XGROUP"), SV("CREATECONSUMER"), key, gname, cname};
            emit(out, argv, 5);
            idtree_pos p;
            for (int ok = idtree_first(&c->pel, &p); ok; ok = idtree_next(&p)) {
                stream_id id = idtree_key(&p);
                const stream_nack *n = stream_pel_find(g, &id);
                char ibuf[48], tbuf[32], cbuf[32];
                sv argv[12] = {SV("XCLAIM"),
                               key,
                               gname,
                               cname,
                               SV("0"),
                               num_id(ibuf, &id),
                               SV("TIME"),
                               num_ll(tbuf, n->delivery_time),
                               SV("RETRYCOUNT"),
                               num_ll(cbuf, (long long)n->delivery_count),
                               SV("JUSTID"),
                               SV("FORCE")};
                emit(out, argv, 12);
            }
        }
    }
}

typedef struct idmp_emit {
    str *out;
    sv key, pid;
} idmp_emit;

static void idmp_producer(void *ctx, sv pid, size_t n)
{
    (void)n;
    ((idmp_emit *)ctx)->pid = pid;
}

static void idmp_iid(void *ctx, sv iid, const stream_id *id)
{
    idmp_emit *e = ctx;
    char buf[48];
    sv argv[5] = {SV("XIDMPRECORD"), e->key, e->pid, iid, num_id(buf, id)};
    emit(e->out, argv, 5);
}

/* Idempotent production (Redis 8.6): the settings first (a change clears
 * the remembered iids), then each remembered iid. The lifetime counters
 * have no command and start again from 0. */
static void stream_idmp_commands(str *out, sv key, stream *s)
{
    if (!stream_idmp_in_use(s)) {
        return;
    }
    char d[32], m[32];
    sv cfg[6] = {SV("XCFGSET"),       key,
                 SV("IDMP-DURATION"), num_ll(d, s->idmp_duration),
                 SV("IDMP-MAXSIZE"),  num_ll(m, s->idmp_maxsize)};
    emit(out, cfg, 6);
    static const stream_idmp_visitor v = {idmp_producer, idmp_iid};
    idmp_emit e = {out, key, {NULL, 0}};
    stream_idmp_walk(s, &v, &e);
}

static void stream_commands(str *out, sv key, stream *s)
{
    char a[48], b[48], c[32];
    if (s->length == 0 || stream_entries(out, key, s) == 0) {
        /* An empty stream (or one of entries without fields) must still
         * exist: one entry trimmed away at once; XSETID then restores the
         * real last ID. */
        sv argv[7] = {SV("XADD"), key, SV("MAXLEN"), SV("0"), SV("0-1"), SV("x"), SV("y")};
        emit(out, argv, 7);
    }
    sv setid[7] = {SV("XSETID"),
                   key,
                   num_id(a, &s->last_id),
                   SV("ENTRIESADDED"),
                   num_ll(c, (long long)s->entries_added),
                   SV("MAXDELETEDID"),
                   num_id(b, &s->max_deleted_id)};
    emit(out, setid, 7);
    stream_groups(out, key, s);
    stream_idmp_commands(out, key, s);
}

str aof_key_commands(str out, kobj *o, int dbid)
{
    sv key = kobj_key(o);
    switch (o->type) {
    case OBJ_STRING: {
        char buf[32];
        sv argv[3] = {SV("SET"), key, kobj_str(o, buf)};
        emit(&out, argv, 3);
        break;
    }
    case OBJ_LIST: list_commands(&out, key, kobj_ptr(o)); break;
    case OBJ_SET: set_commands(&out, key, kobj_ptr(o)); break;
    case OBJ_ZSET: zset_commands(&out, key, kobj_ptr(o)); break;
    case OBJ_HASH: hash_commands(&out, key, kobj_ptr(o)); break;
    case OBJ_MODULE: out = module_aof_rewrite(out, o, dbid); break;
    case OBJ_VSET: {
        /* No command rebuilds a graph (nor a projected vector) exactly:
         * the set is restored from its serialized form, as DUMP gives it. */
        str payload = rdb_dump_value(o, dbid);
        sv argv[4] = {SV("RESTORE"), key, SV("0"), {payload, str_len(payload)}};
        emit(&out, argv, 4);
        str_free(payload);
        break;
    }
    default: stream_commands(&out, key, kobj_ptr(o)); break;
    }
    int64_t expire = kobj_expire(o);
    if (expire >= 0) {
        char tbuf[32];
        sv argv[3] = {SV("PEXPIREAT"), key, num_ll(tbuf, expire)};
        emit(&out, argv, 3);
    }
    return out;
}
