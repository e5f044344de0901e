/* module_stream: the key API for streams (Redis 7.0's): StreamAdd,
 * StreamDelete, the entry iterator (StreamIteratorStart .. Stop, NextID,
 * NextField, Delete), StreamTrimByLength / ByID, and the conversions
 * between stream IDs and strings.
 *
 * Every call goes through types/stream.c, the code XADD, XDEL and XTRIM
 * run, and answers as Redis does: REDISMODULE_OK, or REDISMODULE_ERR (-1
 * for the trims) with errno saying why (EINVAL a bad argument, ENOTSUP
 * no stream at the key, EBADF a key not opened for writing or an
 * iterator in the wrong state, EDOM an ID out of range, EFBIG no ID
 * left, ENOENT no such entry or the end reached, ERANGE an entry too
 * big). As the rest of the key API, these emit no keyspace events and
 * propagate nothing: a module replicates its writes itself (Replicate,
 * ReplicateVerbatim); WATCH, client tracking and clients blocked on the
 * stream (XREAD BLOCK) are told of each change. */
#include <errno.h>
#include <string.h>

#include "base/alloc.h"
#include "module/module_int.h"
#include "types/stream.h"

/* An iterator on an open key. Keel's stream_iter needs a stream that does
 * not change under it, so a change made through this key (a delete of
 * the current entry, an add, a trim) ends the walk and starts it again
 * just past the last entry it gave. */
struct km_stream_walk {
    stream *s;
    stream_iter it;
    stream_id start, end; /* what is left of the range */
    int rev;
    int done;          /* the range is used up */
    stream_id last;    /* the entry NextID gave last ... */
    int have_last;     /* ... if it gave one */
    stream_id current; /* the entry IteratorDelete removes (0-0: none, as Redis) */
    long fields_left;  /* pairs NextField may still read */
};

/* The stream at k (NULL: none, errno ENOTSUP). A walk whose stream went
 * away (the key deleted or replaced by other means) is dropped. */
static stream *stream_at(km_key *k, kobj **op)
{
    kobj *o = km_key_lookup(k);
    if (op) {
        *op = o;
    }
    if (!o || o->type != OBJ_STREAM) {
        km_stream_walk_free(k);
        errno = ENOTSUP;
        return NULL;
    }
    stream *s = kobj_ptr(o);
    if (k->sw && k->sw->s != s) {
        km_stream_walk_free(k);
    }
    return s;
}

static int writable(const km_key *k)
{
    return (k->mode & KM_WRITE) != 0;
}

void km_stream_walk_free(km_key *k)
{
    if (k && k->sw) {
        stream_iter_done(&k->sw->it);
        alloc_free(k->sw);
        k->sw = NULL;
    }
}

/* Starts (again) the walk over what is left of its range: past the last
 * entry it gave, in its direction. */
static void walk_seat(struct km_stream_walk *w)
{
    stream_iter_done(&w->it);
    if (w->have_last) {
        stream_id next = w->last;
        if (!(w->rev ? stream_id_decr(&next) : stream_id_incr(&next))) {
            w->done = 1;
        } else if (w->rev) {
            w->end = next;
        } else {
            w->start = next;
        }
    }
    stream_iter_init(&w->it, w->s, &w->start, &w->end, w->rev);
}

/* Stream s at k changed through k: a walk on it must not read the old
 * blocks (a walk on a stream no longer there goes). */
static void stream_changed(km_key *k, stream *s)
{
    if (k->sw && k->sw->s != s) {
        km_stream_walk_free(k);
    } else if (k->sw) {
        walk_seat(k->sw);
        k->sw->fields_left = 0;
    }
    km_key_changed(k);
}

/* ---- adding, deleting, trimming ---- */

/* Removes entry id as Redis 7.0's module deletes do: the entry only. The
 * recorded first ID and the greatest deleted ID (XINFO STREAM's
 * recorded-first-entry-id and max-deleted-entry-id, which consumer group
 * lag reads) stay as they were, unlike after XDEL. */
static void delete_entry(stream *s, const stream_id *id)
{
    stream_id first = s->first_id, maxdel = s->max_deleted_id;
    stream_delete(s, id);
    s->first_id = first;
    s->max_deleted_id = maxdel;
}

static int api_stream_add(km_key *k, int flags, km_stream_id *id, km_string **argv, int64_t numfields)
{
    if (!k || (numfields != 0 && !argv) || numfields < 0 || (flags & ~KM_STREAM_ADD_AUTOID) ||
        (!(flags & KM_STREAM_ADD_AUTOID) && !id)) {
        errno = EINVAL;
        return KM_ERR;
    }
    kobj *o = km_key_lookup(k);
    if (o && o->type != OBJ_STREAM) {
        errno = ENOTSUP;
        return KM_ERR;
    }
    if (!writable(k)) {
        errno = EBADF;
        return KM_ERR;
    }
    if (!(flags & KM_STREAM_ADD_AUTOID) && id->ms == 0 && id->seq == 0) {
        errno = EDOM;
        return KM_ERR;
    }
    stream *s = o ? kobj_ptr(o) : NULL;
    stream_id last = s ? s->last_id : (stream_id){0, 0};
    stream_id use;
    if (flags & KM_STREAM_ADD_AUTOID) {
        if (!stream_auto_id(&last, (uint64_t)server.now_ms, &use)) {
            errno = EFBIG;
            return KM_ERR;
        }
    } else {
        if (last.ms == UINT64_MAX && last.seq == UINT64_MAX) {
            errno = EFBIG;
            return KM_ERR;
        }
        use = (stream_id){id->ms, id->seq};
        if (stream_id_cmp(&use, &last) <= 0) {
            errno = EDOM;
            return KM_ERR;
        }
    }
    size_t nfv = (size_t)numfields * 2;
    sv *fv = alloc_mem(sizeof(sv) * (nfv ? nfv : 1));
    for (size_t i = 0; i < nfv; i++) {
        fv[i] = (sv){argv[i]->s, str_len(argv[i]->s)};
    }
    if (stream_entry_too_large(fv, nfv)) {
        alloc_free(fv);
        errno = ERANGE;
        return KM_ERR;
    }
    if (o) {
        db_will_change(k->d, o);
    } else {
        s = stream_new();
        db_add(k->d, kobj_new_ptr(k->name, OBJ_STREAM, s, -1));
    }
    stream_limits lim = {server.cfg.stream_node_max_bytes, server.cfg.stream_node_max_entries};
    stream_append(s, &use, fv, nfv, &lim);
    alloc_free(fv);
    if (id) {
        id->ms = use.ms;
        id->seq = use.seq;
    }
    stream_changed(k, s);
    return KM_OK;
}

static int api_stream_delete(km_key *k, km_stream_id *id)
{
    if (!k || !id) {
        errno = EINVAL;
        return KM_ERR;
    }
    kobj *o;
    stream *s = stream_at(k, &o);
    if (!s) {
        return KM_ERR;
    }
    if (!writable(k) || k->sw) {
        errno = EBADF;
        return KM_ERR;
    }
    stream_id want = {id->ms, id->seq};
    if (!stream_has(s, &want)) {
        errno = ENOENT;
        return KM_ERR;
    }
    db_will_change(k->d, o);
    delete_entry(s, &want);
    stream_changed(k, s);
    return KM_OK;
}

/* The trims of XTRIM, with the limit Redis gives a module's approximate
 * trim: 100 blocks' worth of entries (none when blocks are unbounded). */
static long long trim(km_key *k, int flags, stream_trim *t)
{
    kobj *o;
    stream *s = stream_at(k, &o);
    if (!s) {
        return -1;
    }
    if (!writable(k)) {
        errno = EBADF;
        return -1;
    }
    t->approx = (flags & KM_STREAM_TRIM_APPROX) != 0;
    t->limit = t->approx ? 100 * server.cfg.stream_node_max_entries : 0;
    db_will_change(k->d, o);
    long long removed = stream_trim_run(s, t);
    if (removed) {
        stream_changed(k, s);
    }
    return removed;
}

static long long api_stream_trim_by_length(km_key *k, int flags, long long length)
{
    if (!k || (flags & ~KM_STREAM_TRIM_APPROX) || length < 0) {
        errno = EINVAL;
        return -1;
    }
    stream_trim t = {.strategy = STREAM_TRIM_MAXLEN, .maxlen = length};
    return trim(k, flags, &t);
}

static long long api_stream_trim_by_id(km_key *k, int flags, km_stream_id *id)
{
    if (!k || (flags & ~KM_STREAM_TRIM_APPROX) || !id) {
        errno = EINVAL;
        return -1;
    }
    stream_trim t = {.strategy = STREAM_TRIM_MINID, .minid = {id->ms, id->seq}};
    return trim(k, flags, &t);
}

/* ---- the iterator ---- */

static int api_stream_iterator_start(km_key *k, int flags, km_stream_id *startid, km_stream_id *endid)
{
    if (!k || (flags & ~(KM_STREAM_ITERATOR_EXCLUSIVE | KM_STREAM_ITERATOR_REVERSE))) {
        errno = EINVAL;
        return KM_ERR;
    }
    stream *s = stream_at(k, NULL);
    if (!s) {
        return KM_ERR;
    }
    if (k->sw) {
        errno = EBADF;
        return KM_ERR;
    }
    /* No start: from the first entry; no end: to the last. */
    stream_id lo = startid ? (stream_id){startid->ms, startid->seq} : (stream_id){0, 0};
    stream_id hi = endid ? (stream_id){endid->ms, endid->seq} : (stream_id){UINT64_MAX, UINT64_MAX};
    if (flags & KM_STREAM_ITERATOR_EXCLUSIVE) {
        if ((startid && !stream_id_incr(&lo)) || (endid && !stream_id_decr(&hi))) {
            errno = EDOM;
            return KM_ERR;
        }
    }
    struct km_stream_walk *w = alloc_zero(sizeof(*w));
    w->s = s;
    w->start = lo;
    w->end = hi;
    w->rev = (flags & KM_STREAM_ITERATOR_REVERSE) != 0;
    stream_iter_init(&w->it, s, &lo, &hi, w->rev);
    k->sw = w;
    return KM_OK;
}

/* The key's walk, or NULL with errno set (EINVAL, ENOTSUP, EBADF). */
static struct km_stream_walk *walk_of(km_key *k)
{
    if (!k) {
        errno = EINVAL;
        return NULL;
    }
    if (!stream_at(k, NULL)) {
        return NULL;
    }
    if (!k->sw) {
        errno = EBADF;
    }
    return k->sw;
}

static int api_stream_iterator_stop(km_key *k)
{
    if (!walk_of(k)) {
        return KM_ERR;
    }
    km_stream_walk_free(k);
    return KM_OK;
}

static int api_stream_iterator_next_id(km_key *k, km_stream_id *id, long *numfields)
{
    struct km_stream_walk *w = walk_of(k);
    if (!w) {
        return KM_ERR;
    }
    stream_id got;
    size_t nf;
    if (w->done || !stream_iter_next(&w->it, &got, &nf)) {
        w->done = 1;
        w->current = (stream_id){0, 0};
        w->fields_left = 0;
        errno = ENOENT;
        return KM_ERR;
    }
    w->last = w->current = got;
    w->have_last = 1;
    w->fields_left = (long)nf;
    if (id) {
        id->ms = got.ms;
        id->seq = got.seq;
    }
    if (numfields) {
        *numfields = (long)nf;
    }
    return KM_OK;
}

static int api_stream_iterator_next_field(km_key *k, km_string **field, km_string **value)
{
    struct km_stream_walk *w = walk_of(k);
    if (!w) {
        return KM_ERR;
    }
    if (w->fields_left <= 0) {
        errno = ENOENT;
        return KM_ERR;
    }
    sv f, v;
    stream_iter_field(&w->it, &f, &v);
    if (field) {
        *field = km_string_new(k->ctx, f.ptr, f.len);
    }
    if (value) {
        *value = km_string_new(k->ctx, v.ptr, v.len);
    }
    w->fields_left--;
    return KM_OK;
}

static int api_stream_iterator_delete(km_key *k)
{
    if (!k) {
        errno = EINVAL;
        return KM_ERR;
    }
    kobj *o;
    stream *s = stream_at(k, &o);
    if (!s) {
        return KM_ERR;
    }
    struct km_stream_walk *w = k->sw;
    if (!writable(k) || !w) {
        errno = EBADF;
        return KM_ERR;
    }
    if (w->current.ms == 0 && w->current.seq == 0) {
        errno = ENOENT;
        return KM_ERR;
    }
    db_will_change(k->d, o);
    delete_entry(s, &w->current);
    w->current = (stream_id){0, 0}; /* a second delete fails, as NextField does */
    stream_changed(k, s);
    return KM_OK;
}

/* ---- IDs as strings ---- */

static km_string *api_create_string_from_stream_id(km_ctx *ctx, const km_stream_id *id)
{
    char buf[48];
    stream_id sid = {id->ms, id->seq};
    return km_string_new(ctx, buf, (size_t)stream_id_format(buf, &sid));
}

/* "ms-seq", "ms" (sequence 0), and "-" / "+" for the first and the last
 * possible ID, as Redis parses IDs that are not strict. */
static int api_string_to_stream_id(const km_string *str, km_stream_id *id)
{
    sv s = {str->s, str_len(str->s)};
    stream_id got;
    if (s.len == 1 && (s.ptr[0] == '-' || s.ptr[0] == '+')) {
        got = s.ptr[0] == '-' ? (stream_id){0, 0} : (stream_id){UINT64_MAX, UINT64_MAX};
    } else if (!stream_id_parse(s, &got, 0, NULL)) {
        return KM_ERR;
    }
    id->ms = got.ms;
    id->seq = got.seq;
    return KM_OK;
}

const km_api_entry km_api_stream[] = {{"StreamAdd", api_stream_add},
                                      {"StreamDelete", api_stream_delete},
                                      {"StreamIteratorStart", api_stream_iterator_start},
                                      {"StreamIteratorStop", api_stream_iterator_stop},
                                      {"StreamIteratorNextID", api_stream_iterator_next_id},
                                      {"StreamIteratorNextField", api_stream_iterator_next_field},
                                      {"StreamIteratorDelete", api_stream_iterator_delete},
                                      {"StreamTrimByLength", api_stream_trim_by_length},
                                      {"StreamTrimByID", api_stream_trim_by_id},
                                      {"CreateStringFromStreamID", api_create_string_from_stream_id},
                                      {"StringToStreamID", api_string_to_stream_id},
                                      {NULL, NULL}};
