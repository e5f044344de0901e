/* module_scan: the Scan API. Scan walks the selected db's keyspace a step
 * at a time (a step is one or more hash ranges, until some keys were
 * found), calling the module for each live key with the key open for
 * reading; ScanKey walks a hash, set or sorted set the same way. Both
 * answer 1 while more remains and 0 at the end, with the cursor's
 * guarantees: an element there for the whole walk is seen exactly once. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "module/module_int.h"
#include "types/hash.h"
#include "types/set.h"
#include "types/zset.h"

typedef struct km_scan_cursor {
    unsigned long cursor;
    int done;
} km_scan_cursor;

typedef void (*km_scan_fn)(km_ctx *ctx, km_string *keyname, km_key *key, void *privdata);
typedef void (*km_scan_key_fn)(km_key *key, km_string *field, km_string *value, void *privdata);

static km_scan_cursor *api_scan_cursor_create(void)
{
    return alloc_zero(sizeof(km_scan_cursor));
}

static void api_scan_cursor_restart(km_scan_cursor *c)
{
    c->cursor = 0;
    c->done = 0;
}

static void api_scan_cursor_destroy(km_scan_cursor *c)
{
    alloc_free(c);
}

/* Key names seen by one step, copied: the module may change the keyspace
 * from its callback, which the walk itself must not see happen. */
typedef struct names {
    str *v;
    size_t n, cap;
} names;

static void collect_key(void *node, void *ctx)
{
    names *ns = ctx;
    kobj *o = node;
    if (db_is_expired(o)) {
        return;
    }
    if (ns->n == ns->cap) {
        ns->cap = ns->cap ? ns->cap * 2 : 16;
        ns->v = alloc_resize(ns->v, sizeof(str) * ns->cap);
    }
    sv k = kobj_key(o);
    ns->v[ns->n++] = str_new(k.ptr, k.len);
}

static int api_scan(km_ctx *ctx, km_scan_cursor *cur, km_scan_fn fn, void *privdata)
{
    if (!cur || cur->done) {
        errno = ENOENT;
        return 0;
    }
    db *d = ctx->c ? ctx->c->db : &server.dbs[0];
    names ns = {NULL, 0, 0};
    /* Ranges until something was found, or the end. */
    do {
        cur->cursor = ktable_scan(&d->keys, cur->cursor, collect_key, &ns);
    } while (cur->cursor && ns.n == 0);
    for (size_t i = 0; i < ns.n; i++) {
        km_string *name = km_string_new(NULL, ns.v[i], str_len(ns.v[i]));
        km_key *k = NULL;
        if (db_find_raw(d, (sv){ns.v[i], str_len(ns.v[i])})) {
            k = km_open_key(ctx, name, KM_READ | KM_OPEN_KEY_NOTOUCH);
            km_auto_forget(ctx, k); /* the walk closes it itself */
        }
        fn(ctx, name, k, privdata);
        km_key_close(k);
        km_string_release(NULL, name);
        str_free(ns.v[i]);
    }
    alloc_free(ns.v);
    if (cur->cursor == 0) {
        cur->done = 1;
        return 0;
    }
    return 1;
}

/* ---- one key's elements ---- */

typedef struct pairs {
    str *f, *v; /* v[i] NULL: a set member (no value) */
    size_t n, cap;
} pairs;

static void pair_add(pairs *p, sv f, const char *v, size_t vlen, int has_v)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->f = alloc_resize(p->f, sizeof(str) * p->cap);
        p->v = alloc_resize(p->v, sizeof(str) * p->cap);
    }
    p->f[p->n] = str_new(f.ptr, f.len);
    p->v[p->n++] = has_v ? str_new(v, vlen) : NULL;
}

static void hash_pair(sv f, sv v, void *ctx)
{
    pair_add(ctx, f, v.ptr, v.len, 1);
}

static void set_member(sv m, void *ctx)
{
    pair_add(ctx, m, NULL, 0, 0);
}

static void zset_pair(sv m, double score, void *ctx)
{
    char buf[64];
    int n = util_d2str(buf, score);
    pair_add(ctx, m, buf, (size_t)n, 1);
}

static int api_scan_key(km_key *k, km_scan_cursor *cur, km_scan_key_fn fn, void *privdata)
{
    kobj *o = k ? db_lookup(k->d, k->name, LOOKUP_NOTOUCH) : NULL;
    if (!cur || !o || (o->type != OBJ_HASH && o->type != OBJ_SET && o->type != OBJ_ZSET)) {
        errno = EINVAL;
        return 0;
    }
    if (cur->done) {
        errno = ENOENT;
        return 0;
    }
    pairs p = {NULL, NULL, 0, 0};
    do {
        if (o->type == OBJ_HASH) {
            cur->cursor = hash_scan(kobj_ptr(o), cur->cursor, hash_pair, &p);
        } else if (o->type == OBJ_SET) {
            cur->cursor = set_scan(kobj_ptr(o), cur->cursor, set_member, &p);
        } else {
            cur->cursor = zset_scan(kobj_ptr(o), cur->cursor, zset_pair, &p);
        }
    } while (cur->cursor && p.n == 0);
    for (size_t i = 0; i < p.n; i++) {
        km_string *f = km_string_new(NULL, p.f[i], str_len(p.f[i]));
        km_string *v = p.v[i] ? km_string_new(NULL, p.v[i], str_len(p.v[i])) : NULL;
        fn(k, f, v, privdata);
        km_string_release(NULL, f);
        km_string_release(NULL, v);
        str_free(p.f[i]);
        str_free(p.v[i]);
    }
    alloc_free(p.f);
    alloc_free(p.v);
    if (cur->cursor == 0) {
        cur->done = 1;
        return 0;
    }
    return 1;
}

const km_api_entry km_api_scan[] = {{"ScanCursorCreate", api_scan_cursor_create},
                                    {"ScanCursorRestart", api_scan_cursor_restart},
                                    {"ScanCursorDestroy", api_scan_cursor_destroy},
                                    {"Scan", api_scan},
                                    {"ScanKey", api_scan_key},
                                    {NULL, NULL}};
