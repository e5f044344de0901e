/* stream_group: consumer groups, consumers and pending entries. See
 * stream_group.h. The lag model follows Redis 7: a group counts the
 * entries it has read while no XDEL'd entry lies ahead of it, and
 * otherwise estimates its position from the stream's counters. */
#include "types/stream_group.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"

/* ---- sorted name arrays ---- */

static int name_cmp(sv a, const str b)
{
    size_t bl = str_len(b), n = a.len < bl ? a.len : bl;
    int c = memcmp(a.ptr, b, n);
    if (c) {
        return c;
    }
    return a.len < bl ? -1 : a.len > bl ? 1 : 0;
}

/* Index of name in a sorted array of groups or consumers (both begin with
 * their str name); *found says whether it is there, else the index is
 * where it would go. */
static int name_search(void *const *arr, int n, sv name, int *found)
{
    int lo = 0, hi = n;
    *found = 0;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        int c = name_cmp(name, *(const str *)arr[mid]);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return lo;
}

/* Inserts p at i in a growing pointer array. */
static void *ptr_insert(void *arr, int *n, int i, void *p)
{
    void **a = alloc_resize(arr, sizeof(void *) * (size_t)(*n + 1));
    memmove(&a[i + 1], &a[i], sizeof(void *) * (size_t)(*n - i));
    a[i] = p;
    (*n)++;
    return a;
}

static void ptr_remove(void **a, int *n, int i)
{
    memmove(&a[i], &a[i + 1], sizeof(void *) * (size_t)(*n - i - 1));
    (*n)--;
}

/* ---- consumers ---- */

static stream_consumer *consumer_new(sv name, int64_t now)
{
    stream_consumer *c = alloc_mem(sizeof(*c));
    c->name = str_new(name.ptr, name.len);
    c->seen_time = now;
    c->active_time = -1;
    idtree_init(&c->pel);
    return c;
}

static void consumer_free(stream_consumer *c)
{
    idtree_clear(&c->pel); /* the records belong to the group's PEL */
    str_free(c->name);
    alloc_free(c);
}

stream_consumer *stream_consumer_find(const stream_group *g, sv name)
{
    int found;
    int i = name_search((void *const *)g->consumers, g->nconsumers, name, &found);
    return found ? g->consumers[i] : NULL;
}

stream_consumer *stream_consumer_add(stream_group *g, sv name, int64_t now)
{
    int found;
    int i = name_search((void *const *)g->consumers, g->nconsumers, name, &found);
    if (found) {
        return NULL;
    }
    stream_consumer *c = consumer_new(name, now);
    g->consumers = ptr_insert(g->consumers, &g->nconsumers, i, c);
    return c;
}

long long stream_consumer_del(stream_group *g, sv name)
{
    int found;
    int i = name_search((void *const *)g->consumers, g->nconsumers, name, &found);
    if (!found) {
        return -1;
    }
    stream_consumer *c = g->consumers[i];
    long long pending = (long long)idtree_count(&c->pel);
    idtree_pos p;
    for (int ok = idtree_first(&c->pel, &p); ok; ok = idtree_next(&p)) {
        stream_id id = idtree_key(&p);
        alloc_free(idtree_remove(&g->pel, &id));
    }
    consumer_free(c);
    ptr_remove((void **)g->consumers, &g->nconsumers, i);
    return pending;
}

/* ---- groups ---- */

static void group_free(stream_group *g)
{
    idtree_pos p;
    for (int ok = idtree_first(&g->pel, &p); ok; ok = idtree_next(&p)) {
        alloc_free(idtree_val(&p));
    }
    idtree_clear(&g->pel);
    for (int i = 0; i < g->nconsumers; i++) {
        consumer_free(g->consumers[i]);
    }
    alloc_free(g->consumers);
    str_free(g->name);
    alloc_free(g);
}

stream_group *stream_group_find(const stream *s, sv name)
{
    int found;
    int i = name_search((void *const *)s->groups, s->ngroups, name, &found);
    return found ? s->groups[i] : NULL;
}

stream_group *stream_group_add(stream *s, sv name, const stream_id *last_id, long long entries_read)
{
    int found;
    int i = name_search((void *const *)s->groups, s->ngroups, name, &found);
    if (found) {
        return NULL;
    }
    stream_group *g = alloc_zero(sizeof(*g));
    g->name = str_new(name.ptr, name.len);
    g->last_id = *last_id;
    g->entries_read = entries_read;
    idtree_init(&g->pel);
    s->groups = ptr_insert(s->groups, &s->ngroups, i, g);
    return g;
}

int stream_group_del(stream *s, sv name)
{
    int found;
    int i = name_search((void *const *)s->groups, s->ngroups, name, &found);
    if (!found) {
        return 0;
    }
    group_free(s->groups[i]);
    ptr_remove((void **)s->groups, &s->ngroups, i);
    return 1;
}

void stream_groups_free(stream *s)
{
    for (int i = 0; i < s->ngroups; i++) {
        group_free(s->groups[i]);
    }
    alloc_free(s->groups);
    s->groups = NULL;
    s->ngroups = 0;
}

void stream_groups_dup(stream *dst, const stream *src)
{
    for (int i = 0; i < src->ngroups; i++) {
        const stream_group *g = src->groups[i];
        stream_group *d = stream_group_add(dst, (sv){g->name, str_len(g->name)}, &g->last_id, g->entries_read);
        for (int j = 0; j < g->nconsumers; j++) {
            stream_consumer *c = g->consumers[j];
            stream_consumer *dc = stream_consumer_add(d, (sv){c->name, str_len(c->name)}, c->seen_time);
            dc->active_time = c->active_time;
        }
        idtree_pos p;
        for (int ok = idtree_first(&g->pel, &p); ok; ok = idtree_next(&p)) {
            const stream_nack *n = idtree_val(&p);
            stream_id id = idtree_key(&p);
            stream_nack *m = alloc_mem(sizeof(*m));
            *m = *n;
            m->consumer = stream_consumer_find(d, (sv){n->consumer->name, str_len(n->consumer->name)});
            idtree_insert(&d->pel, &id, m);
            idtree_insert(&m->consumer->pel, &id, m);
        }
    }
}

size_t stream_groups_mem(const stream *s)
{
    size_t n = s->ngroups ? alloc_usable(s->groups) : 0;
    for (int i = 0; i < s->ngroups; i++) {
        const stream_group *g = s->groups[i];
        n += alloc_usable(g) + str_mem(g->name) + idtree_mem(&g->pel);
        n += idtree_count(&g->pel) * sizeof(stream_nack);
        if (g->nconsumers) {
            n += alloc_usable(g->consumers);
        }
        for (int j = 0; j < g->nconsumers; j++) {
            const stream_consumer *c = g->consumers[j];
            n += alloc_usable(c) + str_mem(c->name) + idtree_mem(&c->pel);
        }
    }
    return n;
}

/* ---- pending entries ---- */

stream_nack *stream_pel_find(const stream_group *g, const stream_id *id)
{
    return idtree_find(&g->pel, id);
}

stream_nack *stream_pel_deliver(stream_group *g, stream_consumer *c, const stream_id *id, int64_t now)
{
    stream_nack *n = idtree_find(&g->pel, id);
    if (n) {
        stream_pel_assign(g, n, id, c);
    } else {
        n = alloc_mem(sizeof(*n));
        n->consumer = c;
        idtree_insert(&g->pel, id, n);
        idtree_insert(&c->pel, id, n);
    }
    n->delivery_time = now;
    n->delivery_count = 1;
    return n;
}

void stream_pel_assign(stream_group *g, stream_nack *n, const stream_id *id, stream_consumer *c)
{
    (void)g;
    if (n->consumer == c) {
        return;
    }
    idtree_remove(&n->consumer->pel, id);
    idtree_insert(&c->pel, id, n);
    n->consumer = c;
}

int stream_pel_ack(stream_group *g, const stream_id *id)
{
    stream_nack *n = idtree_remove(&g->pel, id);
    if (!n) {
        return 0;
    }
    idtree_remove(&n->consumer->pel, id);
    alloc_free(n);
    return 1;
}

int stream_pel_any(const stream *s, const stream_id *id)
{
    for (int i = 0; i < s->ngroups; i++) {
        if (idtree_find(&s->groups[i]->pel, id)) {
            return 1;
        }
    }
    return 0;
}

/* ---- lag ---- */

int stream_range_has_tombstones(const stream *s, const stream_id *start, const stream_id *end)
{
    if (s->length == 0 || stream_id_is_zero(&s->max_deleted_id)) {
        return 0;
    }
    if (stream_id_cmp(&s->first_id, &s->max_deleted_id) > 0) {
        return 0; /* the last tombstone is before the first entry */
    }
    stream_id lo = start ? *start : (stream_id){0, 0};
    stream_id hi = end ? *end : (stream_id){UINT64_MAX, UINT64_MAX};
    return stream_id_cmp(&lo, &s->max_deleted_id) <= 0 && stream_id_cmp(&s->max_deleted_id, &hi) <= 0;
}

long long stream_estimate_distance(const stream *s, const stream_id *id)
{
    if (s->entries_added == 0) {
        return 0;
    }
    int cmp_last = stream_id_cmp(id, &s->last_id);
    if (s->length == 0 && cmp_last <= 0) {
        return (long long)s->entries_added;
    }
    if (cmp_last == 0) {
        return (long long)s->entries_added;
    }
    if (cmp_last > 0) {
        return STREAM_ENTRIES_READ_UNKNOWN; /* a future ID */
    }
    if (stream_id_is_zero(&s->max_deleted_id) || stream_id_cmp(&s->max_deleted_id, &s->first_id) < 0) {
        /* No fragmentation ahead of the first entry. */
        int cmp_first = stream_id_cmp(id, &s->first_id);
        if (cmp_first < 0) {
            return (long long)(s->entries_added - s->length);
        }
        if (cmp_first == 0) {
            return (long long)(s->entries_added - s->length + 1);
        }
    }
    return STREAM_ENTRIES_READ_UNKNOWN;
}

void stream_group_advance(stream *s, stream_group *g, const stream_id *id)
{
    if (stream_id_cmp(id, &g->last_id) <= 0) {
        return;
    }
    if (g->entries_read != STREAM_ENTRIES_READ_UNKNOWN && !stream_range_has_tombstones(s, id, NULL)) {
        if (g->entries_read < LLONG_MAX) {
            g->entries_read++; /* ENTRIESREAD may have set it to the top */
        }
    } else if (s->entries_added) {
        g->entries_read = stream_estimate_distance(s, id);
    }
    g->last_id = *id;
}

int stream_group_lag(const stream *s, const stream_group *g, long long *lag)
{
    if (s->entries_added == 0) {
        *lag = 0;
        return 1;
    }
    if (g->entries_read != STREAM_ENTRIES_READ_UNKNOWN && !stream_range_has_tombstones(s, &g->last_id, NULL)) {
        /* Counters set with XSETID / ENTRIESREAD may be anything up to
         * the top of the range: an unrepresentable lag is unknown. */
        if (s->entries_added > (uint64_t)LLONG_MAX ||
            __builtin_sub_overflow((long long)s->entries_added, g->entries_read, lag)) {
            return 0;
        }
        return 1;
    }
    long long read = stream_estimate_distance(s, &g->last_id);
    if (read == STREAM_ENTRIES_READ_UNKNOWN) {
        *lag = 0;
        return 0;
    }
    if (s->entries_added > (uint64_t)LLONG_MAX || __builtin_sub_overflow((long long)s->entries_added, read, lag)) {
        *lag = 0;
        return 0;
    }
    return 1;
}
