/* module_dict: the API's Dict, a map a module owns whose keys are kept in
 * byte order (shorter first on a common prefix) for ordered iteration.
 * The order is an ordtree of the keys (all with score 0, so the member
 * bytes alone decide), the values a hash map beside it; a seek is a
 * descent of the tree, a step a move along its leaves. As with Redis's, an
 * iterator must be reseeked after the dict changes. */
#include <string.h>

#include "base/alloc.h"
#include "base/dict.h"
#include "ds/ordtree.h"
#include "module/module_int.h"

struct km_dict {
    ordtree order;
    dict values; /* dict_entry: key -> value */
};

/* The iterator's current key is pos; right after a seek the first step
 * returns it without moving (as a radix tree iterator does), later steps
 * move first. */
struct km_dict_iter {
    km_dict *d;
    ordtree_pos pos; /* leaf NULL: past either end */
    int just_seeked;
};

static km_dict *api_create_dict(km_ctx *ctx)
{
    (void)ctx;
    km_dict *d = alloc_zero(sizeof(*d));
    ordtree_init(&d->order);
    dict_init(&d->values, &dict_type_entry);
    return d;
}

static void api_free_dict(km_ctx *ctx, km_dict *d)
{
    (void)ctx;
    if (!d) {
        return;
    }
    ordtree_destroy(&d->order);
    dict_entry_clear(&d->values, NULL);
    alloc_free(d);
}

static uint64_t api_dict_size(km_dict *d)
{
    return d->order.length;
}

/* The bytes the dict holds (its tree and map; not what the values point
 * to): MallocSizeDict. */
static size_t api_malloc_size_dict(km_dict *d)
{
    size_t n = sizeof(*d) + ordtree_node_bytes(&d->order) + dict_slots(&d->values) * sizeof(void *);
    dict_iter it;
    dict_iter_init(&it, &d->values);
    dnode *node;
    while ((node = dict_iter_next(&it))) {
        size_t klen = ((dict_entry *)node)->keylen;
        n += ordtree_elem_size(klen) + sizeof(dict_entry) + klen;
    }
    dict_iter_done(&it);
    return n;
}

/* Sets key: OK for a new key; for an existing one ERR, after storing the
 * value only with replace (Redis answers so for Replace too). */
static int put(km_dict *d, const void *key, size_t len, void *val, int replace)
{
    int created;
    dict_entry *e = dict_entry_upsert(&d->values, key, len, &created);
    if (!created && !replace) {
        return KM_ERR;
    }
    e->val = val;
    if (!created) {
        return KM_ERR;
    }
    ordtree_insert(&d->order, 0, (sv){key, len});
    return KM_OK;
}

static int api_dict_set_c(km_dict *d, void *key, size_t len, void *val)
{
    return put(d, key, len, val, 0);
}

static int api_dict_replace_c(km_dict *d, void *key, size_t len, void *val)
{
    return put(d, key, len, val, 1);
}

static int api_dict_set(km_dict *d, km_string *key, void *val)
{
    return put(d, key->s, str_len(key->s), val, 0);
}

static int api_dict_replace(km_dict *d, km_string *key, void *val)
{
    return put(d, key->s, str_len(key->s), val, 1);
}

static void *api_dict_get_c(km_dict *d, void *key, size_t len, int *nokey)
{
    dict_entry *e = dict_entry_find(&d->values, key, len);
    if (nokey) {
        *nokey = e == NULL;
    }
    return e ? e->val : NULL;
}

static void *api_dict_get(km_dict *d, km_string *key, int *nokey)
{
    return api_dict_get_c(d, key->s, str_len(key->s), nokey);
}

/* Keys below `key` (or at most equal, with inclusive): a prefix of the
 * order, so the rank of a bound is one descent. */
typedef struct bound {
    sv key;
    int inclusive;
} bound;

static int below(double score, sv member, const void *ctx)
{
    (void)score;
    const bound *b = ctx;
    int c = ordtree_cmp(0, member, 0, b->key);
    return b->inclusive ? c <= 0 : c < 0;
}

static size_t count_below(km_dict *d, sv key, int inclusive)
{
    bound b = {key, inclusive};
    return ordtree_prefix_count(&d->order, below, &b);
}

static int api_dict_del_c(km_dict *d, void *key, size_t len, void *oldval)
{
    int found;
    void *v = dict_entry_remove(&d->values, key, len, &found);
    if (!found) {
        return KM_ERR;
    }
    if (oldval) {
        memcpy(oldval, &v, sizeof(v));
    }
    ordtree_pos p = ordtree_at(&d->order, count_below(d, (sv){key, len}, 0));
    ordtree_elem *e = ordtree_pos_elem(p);
    ordtree_unlink(&d->order, e);
    alloc_free(e);
    return KM_OK;
}

static int api_dict_del(km_dict *d, km_string *key, void *oldval)
{
    return api_dict_del_c(d, key->s, str_len(key->s), oldval);
}

/* ---- iteration ---- */

/* Places it at the first key satisfying op against key ("^" first, "$"
 * last, ">" ">=" "<" "<=" "=="): 0, or -1 for an unknown op. */
static int seek(km_dict_iter *it, const char *op, sv key)
{
    km_dict *d = it->d;
    size_t n = d->order.length;
    size_t rank;
    if (strcmp(op, "^") == 0) {
        rank = 0;
    } else if (strcmp(op, "$") == 0) {
        rank = n ? n - 1 : n;
    } else if (strcmp(op, ">") == 0) {
        rank = count_below(d, key, 1);
    } else if (strcmp(op, ">=") == 0) {
        rank = count_below(d, key, 0);
    } else if (strcmp(op, "<") == 0) {
        size_t k = count_below(d, key, 0);
        rank = k ? k - 1 : n;
    } else if (strcmp(op, "<=") == 0) {
        size_t k = count_below(d, key, 1);
        rank = k ? k - 1 : n;
    } else if (strcmp(op, "==") == 0) {
        size_t k = count_below(d, key, 0);
        rank = dict_entry_find(&d->values, key.ptr, key.len) ? k : n;
    } else {
        return -1;
    }
    it->pos = ordtree_at(&d->order, rank); /* leaf NULL when rank >= n */
    it->just_seeked = 1;
    return 0;
}

static km_dict_iter *iter_start(km_dict *d, const char *op, sv key)
{
    km_dict_iter *it = alloc_zero(sizeof(*it));
    it->d = d;
    if (seek(it, op, key) < 0) {
        alloc_free(it);
        return NULL;
    }
    return it;
}

static km_dict_iter *api_dict_iterator_start_c(km_dict *d, const char *op, void *key, size_t len)
{
    return iter_start(d, op, (sv){key, len});
}

static km_dict_iter *api_dict_iterator_start(km_dict *d, const char *op, km_string *key)
{
    return iter_start(d, op, key ? (sv){key->s, str_len(key->s)} : (sv){"", 0});
}

static void api_dict_iterator_stop(km_dict_iter *it)
{
    alloc_free(it);
}

/* Redis answers 1 for any known op (found or not) and 0 for another: its
 * radix tree's seek result, passed on as is. */
static int api_dict_iterator_reseek_c(km_dict_iter *it, const char *op, void *key, size_t len)
{
    return seek(it, op, (sv){key, len}) < 0 ? 0 : 1;
}

static int api_dict_iterator_reseek(km_dict_iter *it, const char *op, km_string *key)
{
    return seek(it, op, (sv){key->s, str_len(key->s)}) < 0 ? 0 : 1;
}

/* A step (none right after a seek), then the key there: its bytes (valid
 * until the dict changes) and its value in *data; NULL past the end. */
static void *step(km_dict_iter *it, size_t *len, void **data, int forward)
{
    if (!it->pos.leaf) {
        return NULL;
    }
    if (!it->just_seeked) {
        it->pos = forward ? ordtree_pos_next(it->pos) : ordtree_pos_prev(it->pos);
        if (!it->pos.leaf) {
            return NULL;
        }
    }
    it->just_seeked = 0;
    ordtree_elem *e = ordtree_pos_elem(it->pos);
    sv k = ordtree_member(e);
    if (len) {
        *len = k.len;
    }
    if (data) {
        dict_entry *de = dict_entry_find(&it->d->values, k.ptr, k.len);
        *data = de ? de->val : NULL;
    }
    return (void *)k.ptr;
}

static void *api_dict_next_c(km_dict_iter *it, size_t *len, void **data)
{
    return step(it, len, data, 1);
}

static void *api_dict_prev_c(km_dict_iter *it, size_t *len, void **data)
{
    return step(it, len, data, 0);
}

static km_string *api_dict_next(km_ctx *ctx, km_dict_iter *it, void **data)
{
    size_t len;
    void *k = step(it, &len, data, 1);
    return k ? km_string_new(ctx, k, len) : NULL;
}

static km_string *api_dict_prev(km_ctx *ctx, km_dict_iter *it, void **data)
{
    size_t len;
    void *k = step(it, &len, data, 0);
    return k ? km_string_new(ctx, k, len) : NULL;
}

/* Whether the iterator's current key satisfies op against key: OK or ERR
 * (ERR too past the end, or for an op that is not a comparison). */
static int compare(km_dict_iter *it, const char *op, sv key)
{
    if (!it->pos.leaf) {
        return KM_ERR;
    }
    sv cur = ordtree_member(ordtree_pos_elem(it->pos));
    int c = ordtree_cmp(0, cur, 0, key);
    int ok;
    if (strcmp(op, ">") == 0) {
        ok = c > 0;
    } else if (strcmp(op, ">=") == 0) {
        ok = c >= 0;
    } else if (strcmp(op, "<") == 0) {
        ok = c < 0;
    } else if (strcmp(op, "<=") == 0) {
        ok = c <= 0;
    } else if (strcmp(op, "==") == 0) {
        ok = c == 0;
    } else {
        ok = 0;
    }
    return ok ? KM_OK : KM_ERR;
}

static int api_dict_compare_c(km_dict_iter *it, const char *op, void *key, size_t len)
{
    return compare(it, op, (sv){key, len});
}

static int api_dict_compare(km_dict_iter *it, const char *op, km_string *key)
{
    return compare(it, op, (sv){key->s, str_len(key->s)});
}

const km_api_entry km_api_dict[] = {{"CreateDict", api_create_dict},
                                    {"FreeDict", api_free_dict},
                                    {"DictSize", api_dict_size},
                                    {"MallocSizeDict", api_malloc_size_dict},
                                    {"DictSetC", api_dict_set_c},
                                    {"DictReplaceC", api_dict_replace_c},
                                    {"DictSet", api_dict_set},
                                    {"DictReplace", api_dict_replace},
                                    {"DictGetC", api_dict_get_c},
                                    {"DictGet", api_dict_get},
                                    {"DictDelC", api_dict_del_c},
                                    {"DictDel", api_dict_del},
                                    {"DictIteratorStartC", api_dict_iterator_start_c},
                                    {"DictIteratorStart", api_dict_iterator_start},
                                    {"DictIteratorStop", api_dict_iterator_stop},
                                    {"DictIteratorReseekC", api_dict_iterator_reseek_c},
                                    {"DictIteratorReseek", api_dict_iterator_reseek},
                                    {"DictNextC", api_dict_next_c},
                                    {"DictPrevC", api_dict_prev_c},
                                    {"DictNext", api_dict_next},
                                    {"DictPrev", api_dict_prev},
                                    {"DictCompareC", api_dict_compare_c},
                                    {"DictCompare", api_dict_compare},
                                    {NULL, NULL}};
