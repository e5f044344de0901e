/* dict: chained hash table, two tables during incremental rehash.
 *
 * Invariants: while rehashing, buckets below rehash_idx of table 0 are
 * empty; new nodes go to table 1. Tables are powers of two, so the scan
 * cursor can walk a small and a large table consistently by reversing the
 * bits of the cursor (the classic technique: a bucket of the small table
 * expands to the buckets sharing its low bits in the large one). */
#include "base/dict.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"

#define DICT_MIN_SIZE 4
/* Buckets visited per incremental step are capped so one step stays short
 * even on a table full of emptied buckets. */
#define DICT_EMPTY_VISITS 10

void dict_init(dict *d, const dict_type *type)
{
    memset(d, 0, sizeof(*d));
    d->type = type;
    d->rehash_idx = -1;
}

static int is_rehashing(const dict *d)
{
    return d->rehash_idx >= 0;
}

static int keys_equal(const dict *d, sv a, sv b)
{
    return d->type->key_eq ? d->type->key_eq(a, b) : sv_eq(a, b);
}

size_t dict_size(const dict *d)
{
    return d->used[0] + d->used[1];
}

size_t dict_slots(const dict *d)
{
    return d->size[0] + d->size[1];
}

static uint64_t node_hash(const dict *d, const dnode *n)
{
    sv k = d->type->node_key(n);
    return d->type->hash(k.ptr, k.len);
}

static void start_resize(dict *d, size_t want)
{
    size_t size = DICT_MIN_SIZE;
    while (size < want) {
        size <<= 1;
    }
    if (d->size[0] == size && !is_rehashing(d)) {
        return;
    }
    dnode **t = alloc_zero(size * sizeof(dnode *));
    if (d->size[0] == 0) {
        d->table[0] = t;
        d->size[0] = size;
        return;
    }
    d->table[1] = t;
    d->size[1] = size;
    d->used[1] = 0;
    d->rehash_idx = 0;
}

int dict_rehash(dict *d, int n)
{
    if (!is_rehashing(d)) {
        return 0;
    }
    int empty_visits = n * DICT_EMPTY_VISITS;
    while (n-- && d->used[0] != 0) {
        while (d->table[0][d->rehash_idx] == NULL) {
            d->rehash_idx++;
            if (--empty_visits == 0) {
                return 1;
            }
        }
        dnode *e = d->table[0][d->rehash_idx];
        while (e) {
            dnode *next = e->next;
            size_t h = node_hash(d, e) & (d->size[1] - 1);
            e->next = d->table[1][h];
            d->table[1][h] = e;
            d->used[0]--;
            d->used[1]++;
            e = next;
        }
        d->table[0][d->rehash_idx] = NULL;
        d->rehash_idx++;
    }
    if (d->used[0] == 0) {
        alloc_free(d->table[0]);
        d->table[0] = d->table[1];
        d->size[0] = d->size[1];
        d->used[0] = d->used[1];
        d->table[1] = NULL;
        d->size[1] = 0;
        d->used[1] = 0;
        d->rehash_idx = -1;
        return 0;
    }
    return 1;
}

int dict_rehash_ms(dict *d, int ms)
{
    int64_t start = util_mono_us();
    int done = 0;
    while (dict_rehash(d, 100)) {
        done += 100;
        if (util_mono_us() - start > (int64_t)ms * 1000) {
            break;
        }
    }
    return done;
}

static void step(dict *d)
{
    if (d->pause_rehash == 0 && is_rehashing(d)) {
        dict_rehash(d, 1);
    }
}

static void maybe_expand(dict *d)
{
    if (is_rehashing(d) || d->no_resize) {
        return;
    }
    if (d->size[0] == 0) {
        start_resize(d, DICT_MIN_SIZE);
    } else if (d->used[0] >= d->size[0]) {
        start_resize(d, d->used[0] + 1);
    }
}

void dict_reserve(dict *d, size_t n)
{
    if (is_rehashing(d) || d->no_resize || n <= d->size[0]) {
        return;
    }
    start_resize(d, n);
    /* With nodes already in place the new table fills by rehashing; an
     * empty dict has it ready now. */
}

void dict_resize_to_fit(dict *d)
{
    if (is_rehashing(d) || d->no_resize || d->size[0] <= DICT_MIN_SIZE) {
        return;
    }
    /* Shrink below 1/8 fill: keeps the table small after mass deletes
     * without flapping around the growth threshold. */
    if (d->used[0] * 8 < d->size[0]) {
        start_resize(d, d->used[0]);
    }
}

dnode *dict_find(dict *d, const char *key, size_t len)
{
    if (dict_size(d) == 0) {
        return NULL;
    }
    step(d);
    uint64_t h = d->type->hash(key, len);
    sv k = {key, len};
    for (int t = 0; t <= 1; t++) {
        if (d->size[t] == 0) {
            break;
        }
        size_t idx = h & (d->size[t] - 1);
        if (t == 0 && is_rehashing(d) && (long)idx < d->rehash_idx) {
            continue;
        }
        for (dnode *n = d->table[t][idx]; n; n = n->next) {
            if (keys_equal(d, d->type->node_key(n), k)) {
                return n;
            }
        }
        if (!is_rehashing(d)) {
            break;
        }
    }
    return NULL;
}

void dict_insert(dict *d, dnode *n)
{
    step(d);
    maybe_expand(d);
    int t = is_rehashing(d) ? 1 : 0;
    size_t idx = node_hash(d, n) & (d->size[t] - 1);
    n->next = d->table[t][idx];
    d->table[t][idx] = n;
    d->used[t]++;
}

/* Finds the link that points at the node with this key. */
static dnode **find_link(dict *d, const char *key, size_t len, int *table)
{
    if (dict_size(d) == 0) {
        return NULL;
    }
    uint64_t h = d->type->hash(key, len);
    sv k = {key, len};
    for (int t = 0; t <= 1; t++) {
        if (d->size[t] == 0) {
            break;
        }
        size_t idx = h & (d->size[t] - 1);
        if (t == 0 && is_rehashing(d) && (long)idx < d->rehash_idx) {
            continue;
        }
        for (dnode **pp = &d->table[t][idx]; *pp; pp = &(*pp)->next) {
            if (keys_equal(d, d->type->node_key(*pp), k)) {
                *table = t;
                return pp;
            }
        }
        if (!is_rehashing(d)) {
            break;
        }
    }
    return NULL;
}

dnode *dict_unlink(dict *d, const char *key, size_t len)
{
    step(d);
    int t;
    dnode **pp = find_link(d, key, len, &t);
    if (!pp) {
        return NULL;
    }
    dnode *n = *pp;
    *pp = n->next;
    n->next = NULL;
    d->used[t]--;
    return n;
}

void dict_replace(dict *d, dnode *old, dnode *repl)
{
    sv k = d->type->node_key(repl);
    int t;
    dnode **pp = find_link(d, k.ptr, k.len, &t);
    if (!pp || *pp != old) {
        /* The key was found but at another node: a caller bug. */
        abort();
    }
    repl->next = old->next;
    *pp = repl;
}

void dict_relink_moved(dict *d, const dnode *old, dnode *repl)
{
    sv k = d->type->node_key(repl);
    uint64_t h = d->type->hash(k.ptr, k.len);
    for (int t = 0; t <= 1 && d->size[t]; t++) {
        /* Compared by address only: old's memory is gone. */
        for (dnode **pp = &d->table[t][h & (d->size[t] - 1)]; *pp; pp = &(*pp)->next) {
            if (*pp == old) {
                *pp = repl;
                return;
            }
        }
    }
    abort(); /* a caller bug: old was not in the dict */
}

dnode *dict_random(dict *d)
{
    if (dict_size(d) == 0) {
        return NULL;
    }
    step(d);
    /* Uniform over the entries, not the buckets: a random bucket and a
     * random place in [0, slots); a place past the chain's end is a miss
     * and we draw again. Every entry in a chain of at most `slots` then has
     * the same chance (picking a bucket first and then one of its entries
     * would favour entries that are alone in their bucket: HRANDFIELD,
     * SRANDMEMBER and RANDOMKEY were measurably biased). slots is the
     * longest chain met so far, remembered in the dict (a chain met for
     * the first time makes that one draw a miss, so after the first few
     * calls every entry has the same chance); with the table at least 1/8
     * full and chains short, a few draws suffice. */
    size_t slots = d->rand_chain ? d->rand_chain : 4;
    for (;;) {
        dnode *bucket;
        if (is_rehashing(d)) {
            size_t span = d->size[0] + d->size[1] - (size_t)d->rehash_idx;
            size_t i = (size_t)d->rehash_idx + util_rand64() % span;
            bucket = i >= d->size[0] ? d->table[1][i - d->size[0]] : d->table[0][i];
        } else {
            bucket = d->table[0][util_rand64() & (d->size[0] - 1)];
        }
        size_t len = 0;
        for (dnode *n = bucket; n; n = n->next) {
            len++;
        }
        if (len > slots) {
            slots = len;
            d->rand_chain = (unsigned char)(len < 255 ? len : 255);
            continue;
        }
        size_t pick = util_rand64() % slots;
        if (pick >= len) {
            continue;
        }
        while (pick--) {
            bucket = bucket->next;
        }
        return bucket;
    }
}

void dict_clear(dict *d, dict_node_fn free_fn, void *ctx)
{
    for (int t = 0; t <= 1; t++) {
        for (size_t i = 0; i < d->size[t]; i++) {
            dnode *n = d->table[t][i];
            while (n) {
                dnode *next = n->next;
                if (free_fn) {
                    free_fn(n, ctx);
                }
                n = next;
            }
        }
        alloc_free(d->table[t]);
        d->table[t] = NULL;
        d->size[t] = 0;
        d->used[t] = 0;
    }
    d->rehash_idx = -1;
}

static unsigned long rev(unsigned long v)
{
    unsigned long s = 8 * sizeof(v), mask = ~0UL;
    while ((s >>= 1) > 0) {
        mask ^= (mask << s);
        v = ((v >> s) & mask) | ((v << s) & ~mask);
    }
    return v;
}

/* A scan's per-bucket work: visit calls f->visit on each node; defrag
 * moves nodes with f->move and relinks them in place. */
typedef struct scan_fns {
    dict_node_fn visit;
    dict_move_fn move;
} scan_fns;
typedef void (*bucket_fn)(dnode **head, const scan_fns *f, void *ctx);

static void visit_bucket(dnode **head, const scan_fns *f, void *ctx)
{
    dnode *n = *head;
    while (n) {
        dnode *next = n->next; /* visit may delete n */
        f->visit(n, ctx);
        n = next;
    }
}

static void defrag_bucket(dnode **head, const scan_fns *f, void *ctx)
{
    for (dnode **pp = head; *pp; pp = &(*pp)->next) {
        dnode *moved = f->move(*pp, ctx);
        if (moved) {
            *pp = moved; /* its next was copied with it */
        }
    }
}

static unsigned long scan(dict *d, unsigned long v, bucket_fn bucket, const scan_fns *fn, void *ctx)
{
    if (dict_size(d) == 0) {
        return 0;
    }
    d->pause_rehash++;
    if (!is_rehashing(d)) {
        unsigned long m0 = d->size[0] - 1;
        bucket(&d->table[0][v & m0], fn, ctx);
        v |= ~m0;
        v = rev(v);
        v++;
        v = rev(v);
    } else {
        int small = d->size[0] <= d->size[1] ? 0 : 1, large = 1 - small;
        unsigned long m0 = d->size[small] - 1, m1 = d->size[large] - 1;
        bucket(&d->table[small][v & m0], fn, ctx);
        /* Every bucket of the larger table that expands this one. */
        do {
            bucket(&d->table[large][v & m1], fn, ctx);
            v |= ~m1;
            v = rev(v);
            v++;
            v = rev(v);
        } while (v & (m0 ^ m1));
    }
    d->pause_rehash--;
    return v;
}

unsigned long dict_scan(dict *d, unsigned long v, dict_node_fn fn, void *ctx)
{
    scan_fns f = {.visit = fn};
    return scan(d, v, visit_bucket, &f, ctx);
}

unsigned long dict_defrag_scan(dict *d, unsigned long v, dict_move_fn fn, void *ctx)
{
    scan_fns f = {.move = fn};
    return scan(d, v, defrag_bucket, &f, ctx);
}

typedef struct node_budget {
    size_t visited;
} node_budget;

static dnode *move_whole_node(dnode *n, void *ctx)
{
    ((node_budget *)ctx)->visited++;
    return alloc_defrag(n);
}

unsigned long dict_defrag_nodes(dict *d, unsigned long cursor, size_t budget)
{
    if (cursor == 0) {
        dict_defrag_tables(d);
    }
    node_budget b = {0};
    do {
        cursor = dict_defrag_scan(d, cursor, move_whole_node, &b);
    } while (cursor != 0 && b.visited < budget);
    return cursor;
}

void dict_defrag_tables(dict *d)
{
    for (int t = 0; t < 2; t++) {
        d->table[t] = alloc_defrag_keep(d->table[t]);
    }
}

void dict_iter_init(dict_iter *it, dict *d)
{
    memset(it, 0, sizeof(*it));
    it->d = d;
    d->pause_rehash++;
}

dnode *dict_iter_next(dict_iter *it)
{
    dict *d = it->d;
    for (;;) {
        if (it->next) {
            dnode *n = it->next;
            it->next = n->next;
            return n;
        }
        if (it->started) {
            it->idx++;
        }
        it->started = 1;
        if (it->idx >= d->size[it->table]) {
            if (it->table == 0 && is_rehashing(d)) {
                it->table = 1;
                it->idx = 0;
            } else {
                return NULL;
            }
        }
        if (it->idx < d->size[it->table]) {
            it->next = d->table[it->table][it->idx];
        }
    }
}

void dict_iter_done(dict_iter *it)
{
    if (it->d) {
        it->d->pause_rehash--;
        it->d = NULL;
    }
}

/* ---- string-keyed entries ---- */

static sv entry_key(const dnode *n)
{
    const dict_entry *e = (const dict_entry *)n;
    return (sv){e->key, e->keylen};
}

static int eq_nocase(sv a, sv b)
{
    if (a.len != b.len) {
        return 0;
    }
    for (size_t i = 0; i < a.len; i++) {
        char x = a.ptr[i], y = b.ptr[i];
        if (x >= 'A' && x <= 'Z') {
            x = (char)(x + 32);
        }
        if (y >= 'A' && y <= 'Z') {
            y = (char)(y + 32);
        }
        if (x != y) {
            return 0;
        }
    }
    return 1;
}

const dict_type dict_type_entry = {util_hash, entry_key, NULL};
const dict_type dict_type_entry_nocase = {util_hash_nocase, entry_key, eq_nocase};

dict_entry *dict_entry_new(const char *key, size_t len, void *val)
{
    dict_entry *e = alloc_mem(sizeof(*e) + len + 1);
    e->node.next = NULL;
    e->val = val;
    e->keylen = len;
    memcpy(e->key, key, len);
    e->key[len] = '\0';
    return e;
}

dict_entry *dict_entry_find(dict *d, const char *key, size_t len)
{
    return (dict_entry *)dict_find(d, key, len);
}

dict_entry *dict_entry_upsert(dict *d, const char *key, size_t len, int *created)
{
    dict_entry *e = dict_entry_find(d, key, len);
    if (e) {
        if (created) {
            *created = 0;
        }
        return e;
    }
    e = dict_entry_new(key, len, NULL);
    dict_insert(d, &e->node);
    if (created) {
        *created = 1;
    }
    return e;
}

void *dict_entry_remove(dict *d, const char *key, size_t len, int *found)
{
    dict_entry *e = (dict_entry *)dict_unlink(d, key, len);
    if (found) {
        *found = e != NULL;
    }
    if (!e) {
        return NULL;
    }
    void *v = e->val;
    alloc_free(e);
    return v;
}

static void free_entry(dnode *n, void *ctx)
{
    void (*val_free)(void *) = (void (*)(void *))ctx;
    dict_entry *e = (dict_entry *)n;
    if (val_free) {
        val_free(e->val);
    }
    alloc_free(e);
}

void dict_entry_clear(dict *d, void (*val_free)(void *))
{
    dict_clear(d, free_entry, (void *)val_free);
}
