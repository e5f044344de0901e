/* stream: entries in compact blocks under an idtree. See stream.h.
 *
 * Block bytes: [master fields][entry]...
 *   master fields = varint n, then n values
 *   entry = varint H, varint S, [varint n, n field/value pairs], values
 *     H = ms_delta << 2 | deleted << 1 | same_fields
 *     ms_delta = ms - previous entry's ms (0 for the block's first entry)
 *     S = seq - previous seq - 1 when ms_delta is 0, else seq; 0 for the
 *         block's first entry, whose ID is the block's key
 *     same_fields: the entry has exactly the master fields, in order, and
 *         stores only its values; otherwise its own count and pairs follow
 *   value = varint V: V odd: the integer unzigzag(V >> 1) (only for strings
 *         that are canonical integers, so they read back byte for byte);
 *         V even: V >> 1 bytes follow
 * Entries carry no back-pointers: a reverse walk decodes a block forward
 * once and steps back through the offsets it recorded. The deleted flag
 * sits in the first byte of H, so XDEL flips one bit in place. */
#include "types/stream.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/digest.h"
#include "base/util.h"
#include "ds/varint.h"
#include "types/stream_group.h"
#include "types/stream_idmp.h"

typedef struct stream_block {
    uint32_t used;        /* bytes of data in use */
    uint32_t cap;         /* bytes of data allocated */
    uint32_t live;        /* entries not deleted */
    uint32_t total;       /* entries, deleted ones included */
    uint32_t entries_off; /* where the first entry starts */
    uint32_t nmaster;     /* master field count */
    stream_id last;       /* the last entry's ID, deleted or not */
    unsigned char data[];
} stream_block;

/* A block never grows past this, whatever the configuration says, so that
 * a reverse walk's forward decode of one block stays cheap. */
#define BLOCK_HARD_MAX (1u << 20)
/* ms deltas above this start a new block (H must fit in 64 bits). */
#define MAX_MS_DELTA (1ull << 60)

/* ---- values ---- */

/* A canonical integer ("12", "-7", not "012", "+1", "-0") that fits the
 * zigzag varint with its tag bit. */
static int value_as_int(sv v, long long *x)
{
    if (v.len == 0 || v.len > 20) {
        return 0;
    }
    char buf[32];
    if (!util_parse_ll(v.ptr, v.len, x) || *x >= (1ll << 61) || *x <= -(1ll << 61)) {
        return 0;
    }
    return util_ll2str(buf, *x) == (int)v.len && memcmp(buf, v.ptr, v.len) == 0;
}

static uint64_t zigzag(long long x)
{
    return ((uint64_t)x << 1) ^ (uint64_t)(x >> 63);
}

static long long unzigzag(uint64_t z)
{
    return (long long)(z >> 1) ^ -(long long)(z & 1);
}

static size_t value_size(sv v)
{
    long long x;
    if (value_as_int(v, &x)) {
        return varint_size(zigzag(x) << 1 | 1);
    }
    return varint_size((uint64_t)v.len << 1) + v.len;
}

static size_t value_put(unsigned char *p, sv v)
{
    long long x;
    if (value_as_int(v, &x)) {
        return varint_put(p, zigzag(x) << 1 | 1);
    }
    size_t n = varint_put(p, (uint64_t)v.len << 1);
    memcpy(p + n, v.ptr, v.len);
    return n + v.len;
}

/* Reads the value at *p (advancing it); integers are written into buf. */
static sv value_get(const unsigned char **p, char *buf)
{
    size_t n;
    uint64_t v = varint_get(*p, &n);
    *p += n;
    if (v & 1) {
        return (sv){buf, (size_t)util_ll2str(buf, unzigzag(v >> 1))};
    }
    sv out = {(const char *)*p, (size_t)(v >> 1)};
    *p += out.len;
    return out;
}

static const unsigned char *value_skip(const unsigned char *p, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        size_t n;
        uint64_t v = varint_get(p, &n);
        p += n + ((v & 1) ? 0 : (size_t)(v >> 1));
    }
    return p;
}

/* Whether value p (encoded) equals v. */
static int value_eq(const unsigned char **p, sv v)
{
    char buf[24];
    sv have = value_get(p, buf);
    return have.len == v.len && memcmp(have.ptr, v.ptr, v.len) == 0;
}

/* ---- entries ---- */

typedef struct entry_view {
    stream_id id;
    int deleted;
    int same;
    size_t nfields;
    const unsigned char *pairs;  /* own field/value pairs (same == 0) */
    const unsigned char *values; /* values only (same == 1) */
    size_t next;                 /* offset of the following entry */
} entry_view;

/* Decodes the entry at off. *prev / *have_prev carry the previous entry's
 * ID through a forward walk. */
static void entry_decode(const stream_block *b, const stream_id *first, size_t off, stream_id *prev, int *have_prev,
                         entry_view *e)
{
    const unsigned char *p = b->data + off;
    size_t n;
    uint64_t h = varint_get(p, &n);
    p += n;
    uint64_t s = varint_get(p, &n);
    p += n;
    uint64_t delta = h >> 2;
    if (!*have_prev) {
        e->id = *first;
    } else if (delta == 0) {
        e->id.ms = prev->ms;
        e->id.seq = prev->seq + 1 + s;
    } else {
        e->id.ms = prev->ms + delta;
        e->id.seq = s;
    }
    *prev = e->id;
    *have_prev = 1;
    e->deleted = (h & 2) != 0;
    e->same = (h & 1) != 0;
    if (e->same) {
        e->nfields = b->nmaster;
        e->values = p;
        e->pairs = NULL;
        p = value_skip(p, e->nfields);
    } else {
        e->nfields = (size_t)varint_get(p, &n);
        p += n;
        e->pairs = p;
        e->values = NULL;
        p = value_skip(p, e->nfields * 2);
    }
    e->next = (size_t)(p - b->data);
}

/* Encodes an entry after prev (NULL: the block's first) into out, or only
 * measures it when out is NULL. */
static size_t entry_encode(unsigned char *out, const stream_id *prev, const stream_id *id, const sv *fv, size_t nf,
                           int same)
{
    uint64_t delta = 0, s = 0;
    if (prev) {
        delta = id->ms - prev->ms;
        s = delta == 0 ? id->seq - prev->seq - 1 : id->seq;
    }
    uint64_t h = delta << 2 | (uint64_t)(same ? 1 : 0);
    size_t n = 0;
    if (!out) {
        n = varint_size(h) + varint_size(s);
        if (same) {
            for (size_t i = 0; i < nf; i++) {
                n += value_size(fv[2 * i + 1]);
            }
        } else {
            n += varint_size(nf);
            for (size_t i = 0; i < 2 * nf; i++) {
                n += value_size(fv[i]);
            }
        }
        return n;
    }
    n += varint_put(out + n, h);
    n += varint_put(out + n, s);
    if (same) {
        for (size_t i = 0; i < nf; i++) {
            n += value_put(out + n, fv[2 * i + 1]);
        }
    } else {
        n += varint_put(out + n, nf);
        for (size_t i = 0; i < 2 * nf; i++) {
            n += value_put(out + n, fv[i]);
        }
    }
    return n;
}

/* ---- blocks ---- */

static stream_block *block_new(const sv *fv, size_t nf, size_t entry_bytes)
{
    size_t mbytes = varint_size(nf);
    for (size_t i = 0; i < nf; i++) {
        mbytes += value_size(fv[2 * i]);
    }
    size_t cap = mbytes + entry_bytes;
    cap = cap < 256 ? 256 : cap;
    stream_block *b = alloc_mem(sizeof(*b) + cap);
    b->cap = (uint32_t)(alloc_usable(b) - sizeof(*b));
    size_t n = varint_put(b->data, nf);
    for (size_t i = 0; i < nf; i++) {
        n += value_put(b->data + n, fv[2 * i]);
    }
    b->used = b->entries_off = (uint32_t)n;
    b->nmaster = (uint32_t)nf;
    b->live = b->total = 0;
    b->last = (stream_id){0, 0};
    return b;
}

static size_t block_mem(const stream_block *b)
{
    return alloc_usable(b);
}

/* Whether the entry's fields are the block's master fields, in order. */
static int fields_match(const stream_block *b, const sv *fv, size_t nf)
{
    if (nf != b->nmaster) {
        return 0;
    }
    const unsigned char *p = b->data;
    size_t n;
    varint_get(p, &n);
    p += n;
    for (size_t i = 0; i < nf; i++) {
        if (!value_eq(&p, fv[2 * i])) {
            return 0;
        }
    }
    return 1;
}

/* The block at pos, shrunk to its contents: it will not grow again. */
static void block_seal(idtree_pos *pos)
{
    stream_block *b = idtree_val(pos);
    if (b->cap > b->used) {
        b = alloc_resize(b, sizeof(*b) + b->used);
        b->cap = (uint32_t)(alloc_usable(b) - sizeof(*b));
        idtree_set_val(pos, b);
    }
}

static void block_remove(stream *s, const stream_id *first)
{
    stream_block *b = idtree_remove(&s->blocks, first);
    alloc_free(b);
}

/* ---- IDs ---- */

int stream_id_format(char *buf, const stream_id *id)
{
    return snprintf(buf, 42, "%llu-%llu", (unsigned long long)id->ms, (unsigned long long)id->seq);
}

/* An unsigned 64-bit decimal as Redis's stream parser accepts it: leading
 * spaces and a '+' are allowed, nothing after the digits, no overflow. */
static int parse_u64(const char *p, size_t len, uint64_t *out)
{
    size_t i = 0;
    while (i < len && isspace((unsigned char)p[i])) {
        i++;
    }
    if (i < len && p[i] == '+') {
        i++;
    }
    if (i == len) {
        return 0;
    }
    uint64_t v = 0;
    for (; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return 0;
        }
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return 0;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

int stream_id_parse(sv s, stream_id *id, uint64_t missing_seq, int *star)
{
    if (star) {
        *star = 0;
    }
    if (s.len == 0 || s.len > 127) {
        return 0;
    }
    const char *dash = memchr(s.ptr, '-', s.len);
    if (!dash) {
        id->seq = missing_seq;
        return parse_u64(s.ptr, s.len, &id->ms);
    }
    size_t mslen = (size_t)(dash - s.ptr), seqlen = s.len - mslen - 1;
    if (!parse_u64(s.ptr, mslen, &id->ms)) {
        return 0;
    }
    if (star && seqlen == 1 && dash[1] == '*') {
        *star = 1;
        id->seq = 0;
        return 1;
    }
    return parse_u64(dash + 1, seqlen, &id->seq);
}

int stream_id_incr(stream_id *id)
{
    if (id->seq == UINT64_MAX) {
        if (id->ms == UINT64_MAX) {
            return 0;
        }
        id->ms++;
        id->seq = 0;
    } else {
        id->seq++;
    }
    return 1;
}

int stream_auto_id(const stream_id *last, uint64_t now_ms, stream_id *out)
{
    if (now_ms > last->ms) {
        *out = (stream_id){now_ms, 0};
        return 1;
    }
    *out = *last;
    return stream_id_incr(out);
}

int stream_id_decr(stream_id *id)
{
    if (id->seq == 0) {
        if (id->ms == 0) {
            return 0;
        }
        id->ms--;
        id->seq = UINT64_MAX;
    } else {
        id->seq--;
    }
    return 1;
}

/* ---- lifecycle ---- */

stream *stream_new(void)
{
    stream *s = alloc_zero(sizeof(*s));
    idtree_init(&s->blocks);
    s->idmp_duration = stream_idmp_default_duration;
    s->idmp_maxsize = stream_idmp_default_maxsize;
    return s;
}

void stream_free(stream *s)
{
    if (!s) {
        return;
    }
    idtree_pos p;
    for (int ok = idtree_first(&s->blocks, &p); ok; ok = idtree_next(&p)) {
        alloc_free(idtree_val(&p));
    }
    idtree_clear(&s->blocks);
    stream_groups_free(s);
    stream_idmp_clear(s);
    alloc_free(s);
}

stream *stream_dup(const stream *s)
{
    stream *d = stream_new();
    d->length = s->length;
    d->entries_added = s->entries_added;
    d->last_id = s->last_id;
    d->first_id = s->first_id;
    d->max_deleted_id = s->max_deleted_id;
    idtree_pos p;
    for (int ok = idtree_first(&s->blocks, &p); ok; ok = idtree_next(&p)) {
        stream_block *b = idtree_val(&p);
        stream_block *c = alloc_mem(sizeof(*b) + b->used);
        memcpy(c, b, sizeof(*b) + b->used);
        c->cap = (uint32_t)(alloc_usable(c) - sizeof(*c));
        stream_id k = idtree_key(&p);
        idtree_insert(&d->blocks, &k, c);
    }
    stream_groups_dup(d, s);
    stream_idmp_dup(d, s);
    return d;
}

size_t stream_len(const stream *s)
{
    return (size_t)s->length;
}

size_t stream_mem(const stream *s)
{
    size_t n = alloc_usable(s) + idtree_mem(&s->blocks);
    idtree_pos p;
    for (int ok = idtree_first(&s->blocks, &p); ok; ok = idtree_next(&p)) {
        n += block_mem(idtree_val(&p));
    }
    return n + stream_groups_mem(s) + stream_idmp_mem(s);
}

const char *stream_encoding(const stream *s)
{
    (void)s;
    return "stream";
}

size_t stream_block_count(const stream *s)
{
    return idtree_count(&s->blocks);
}

size_t stream_index_nodes(const stream *s)
{
    return s->blocks.nodes;
}

void stream_digest(const stream *s, uint8_t d[20])
{
    /* Entries only, as Redis: "ms.seq", then each field and value. */
    stream_iter it;
    stream_id lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX}, id;
    size_t nf;
    stream_iter_init(&it, (stream *)s, &lo, &hi, 0);
    while (stream_iter_next(&it, &id, &nf)) {
        char buf[48];
        int n = snprintf(buf, sizeof(buf), "%llu.%llu", (unsigned long long)id.ms, (unsigned long long)id.seq);
        digest_mix(d, buf, (size_t)n);
        for (size_t i = 0; i < nf; i++) {
            sv f, v;
            stream_iter_field(&it, &f, &v);
            digest_mix(d, f.ptr, f.len);
            digest_mix(d, v.ptr, v.len);
        }
    }
    stream_iter_done(&it);
}

/* ---- entries ---- */

int stream_entry_too_large(const sv *fv, size_t nfv)
{
    size_t bytes = 0;
    for (size_t i = 0; i < nfv; i++) {
        bytes += fv[i].len;
        if (bytes > STREAM_ENTRY_MAX_BYTES) {
            return 1;
        }
    }
    return 0;
}

void stream_append(stream *s, const stream_id *id, const sv *fv, size_t nfv, const stream_limits *lim)
{
    size_t nf = nfv / 2;
    idtree_pos pos;
    stream_block *b = idtree_last(&s->blocks, &pos) ? idtree_val(&pos) : NULL;
    int same = 0;
    size_t need = 0;
    if (b) {
        same = fields_match(b, fv, nf);
        need = entry_encode(NULL, &b->last, id, fv, nf, same);
        int full = id->ms - b->last.ms >= MAX_MS_DELTA || (size_t)b->used + need > BLOCK_HARD_MAX ||
                   (lim->node_max_entries > 0 && b->total >= (uint64_t)lim->node_max_entries) ||
                   (lim->node_max_bytes > 0 && (size_t)b->used + need > (size_t)lim->node_max_bytes);
        if (full) {
            block_seal(&pos);
            b = NULL;
        }
    }
    if (!b) {
        same = 1;
        need = entry_encode(NULL, NULL, id, fv, nf, 1);
        b = block_new(fv, nf, need);
        idtree_insert(&s->blocks, id, b);
        idtree_last(&s->blocks, &pos);
    }
    if (b->used + need > b->cap) {
        size_t cap = (size_t)b->cap * 2;
        if (cap < b->used + need) {
            cap = b->used + need;
        }
        if (lim->node_max_bytes > 0 && cap > (size_t)lim->node_max_bytes &&
            b->used + need <= (size_t)lim->node_max_bytes) {
            cap = (size_t)lim->node_max_bytes;
        }
        b = alloc_resize(b, sizeof(*b) + cap);
        b->cap = (uint32_t)(alloc_usable(b) - sizeof(*b));
        idtree_set_val(&pos, b);
    }
    b->used += (uint32_t)entry_encode(b->data + b->used, b->total ? &b->last : NULL, id, fv, nf, same);
    b->total++;
    b->live++;
    b->last = *id;
    s->length++;
    s->entries_added++;
    s->last_id = *id;
    if (s->length == 1) {
        s->first_id = *id;
    }
}

/* Finds the entry id: its block (and key) and offset. Returns 1 if it is
 * there, deleted or not. */
static int locate(const stream *s, const stream_id *id, stream_block **bp, stream_id *first, size_t *off, int *deleted)
{
    idtree_pos pos;
    if (!idtree_seek_le(&s->blocks, id, &pos)) {
        return 0;
    }
    stream_block *b = idtree_val(&pos);
    *first = idtree_key(&pos);
    if (stream_id_cmp(id, &b->last) > 0) {
        return 0;
    }
    stream_id prev;
    int have = 0;
    entry_view e;
    for (size_t o = b->entries_off; o < b->used; o = e.next) {
        entry_decode(b, first, o, &prev, &have, &e);
        int c = stream_id_cmp(&e.id, id);
        if (c == 0) {
            *bp = b;
            *off = o;
            *deleted = e.deleted;
            return 1;
        }
        if (c > 0) {
            return 0;
        }
    }
    return 0;
}

int stream_has(const stream *s, const stream_id *id)
{
    stream_block *b;
    stream_id first;
    size_t off;
    int deleted;
    return locate(s, id, &b, &first, &off, &deleted) && !deleted;
}

/* Flags the entry at off deleted; frees the block when it empties. */
static void mark_deleted(stream *s, stream_block *b, const stream_id *first, size_t off)
{
    b->data[off] |= 2;
    b->live--;
    s->length--;
    if (b->live == 0) {
        block_remove(s, first);
    }
}

int stream_edge_id(const stream *s, int first, stream_id *out)
{
    idtree_pos pos;
    int ok = first ? idtree_first(&s->blocks, &pos) : idtree_last(&s->blocks, &pos);
    if (!ok) {
        return 0;
    }
    /* Empty blocks are freed, so this block has a live entry. */
    stream_block *b = idtree_val(&pos);
    stream_id key = idtree_key(&pos), prev;
    int have = 0, found = 0;
    entry_view e;
    for (size_t o = b->entries_off; o < b->used; o = e.next) {
        entry_decode(b, &key, o, &prev, &have, &e);
        if (!e.deleted) {
            *out = e.id;
            found = 1;
            if (first) {
                break;
            }
        }
    }
    return found;
}

static void refresh_first_id(stream *s)
{
    if (s->length == 0 || !stream_edge_id(s, 1, &s->first_id)) {
        s->first_id = (stream_id){0, 0};
    }
}

int stream_delete(stream *s, const stream_id *id)
{
    stream_block *b;
    stream_id first;
    size_t off;
    int deleted;
    if (!locate(s, id, &b, &first, &off, &deleted) || deleted) {
        return 0;
    }
    mark_deleted(s, b, &first, off);
    if (stream_id_cmp(id, &s->max_deleted_id) > 0) {
        s->max_deleted_id = *id;
    }
    if (s->length == 0 || stream_id_cmp(id, &s->first_id) == 0) {
        refresh_first_id(s);
    }
    return 1;
}

/* Whether entry id must go under t (the stream's length as it is now). */
static int trim_wants(const stream *s, const stream_trim *t, const stream_id *id)
{
    if (t->strategy == STREAM_TRIM_MAXLEN) {
        return s->length > (uint64_t)t->maxlen;
    }
    return stream_id_cmp(id, &t->minid) < 0;
}

int stream_entry_referenced(const stream *s, const stream_id *id)
{
    for (int i = 0; i < s->ngroups; i++) {
        const stream_group *g = s->groups[i];
        if (stream_id_cmp(id, &g->last_id) > 0 || stream_pel_find(g, id)) {
            return 1;
        }
    }
    return 0;
}

/* A trim entry by entry, from the front: what is left of an exact trim
 * once whole blocks went, and all of a DELREF or ACKED one (with groups
 * present). ACKED steps over entries a group still needs, so a stream may
 * stay longer than MAXLEN; entries past the least last-delivered ID of the
 * groups are all still needed, so its walk ends there. `~` cannot take
 * whole blocks under DELREF or ACKED; its LIMIT bounds the entries
 * examined instead. */
static long long trim_by_entry(stream *s, stream_trim *t)
{
    stream_id horizon = {UINT64_MAX, UINT64_MAX};
    for (int i = 0; t->refs == STREAM_REFS_ACKED && i < s->ngroups; i++) {
        if (stream_id_cmp(&s->groups[i]->last_id, &horizon) < 0) {
            horizon = s->groups[i]->last_id;
        }
    }
    long long removed = 0, examined = 0;
    stream_id from = {0, 0};
    idtree_pos pos;
    t->next = (stream_id){UINT64_MAX, UINT64_MAX};
    while (idtree_seek_ge(&s->blocks, &from, &pos)) {
        stream_block *b = idtree_val(&pos);
        stream_id first = idtree_key(&pos), prev;
        from = b->last;
        int have = 0;
        entry_view e;
        for (size_t o = b->entries_off; o < b->used; o = e.next) {
            entry_decode(b, &first, o, &prev, &have, &e);
            if (e.deleted) {
                continue;
            }
            if (!trim_wants(s, t, &e.id) || (t->limit && examined >= t->limit) || stream_id_cmp(&e.id, &horizon) > 0) {
                t->next = e.id;
                return removed;
            }
            examined++;
            if (t->refs == STREAM_REFS_ACKED && stream_entry_referenced(s, &e.id)) {
                continue;
            }
            for (int i = 0; t->refs == STREAM_REFS_DELETE && i < s->ngroups; i++) {
                stream_pel_ack(s->groups[i], &e.id);
            }
            removed++;
            int last = b->live == 1;
            mark_deleted(s, b, &first, o);
            if (last) {
                break; /* b is freed */
            }
        }
        /* On past this block's last ID. */
        if (from.seq == UINT64_MAX) {
            if (from.ms == UINT64_MAX) {
                break;
            }
            from.ms++;
            from.seq = 0;
        } else {
            from.seq++;
        }
    }
    return removed;
}

long long stream_trim_run(stream *s, stream_trim *t)
{
    t->by_entry = t->refs != STREAM_REFS_KEEP && s->ngroups > 0;
    long long removed = 0;
    idtree_pos pos;
    while (!t->by_entry && idtree_first(&s->blocks, &pos)) {
        if (t->strategy == STREAM_TRIM_MAXLEN && s->length <= (uint64_t)t->maxlen) {
            break;
        }
        stream_block *b = idtree_val(&pos);
        stream_id first = idtree_key(&pos);
        if (t->limit && removed + b->live > t->limit) {
            break;
        }
        int whole = t->strategy == STREAM_TRIM_MAXLEN ? s->length - b->live >= (uint64_t)t->maxlen
                                                      : stream_id_cmp(&b->last, &t->minid) < 0;
        if (!whole) {
            break;
        }
        s->length -= b->live;
        removed += b->live;
        block_remove(s, &first);
    }
    /* What whole blocks did not cover (all of it for DELREF and ACKED),
     * entry by entry; `~` stops at whole blocks. */
    if (t->by_entry || !t->approx) {
        removed += trim_by_entry(s, t);
    }
    if (removed) {
        refresh_first_id(s);
    }
    return removed;
}

/* ---- iteration ---- */

void stream_iter_init(stream_iter *it, stream *s, const stream_id *start, const stream_id *end, int rev)
{
    memset(it, 0, sizeof(*it));
    it->s = s;
    it->start = *start;
    it->end = *end;
    it->rev = rev;
    int ok;
    if (stream_id_cmp(start, end) > 0) {
        ok = 0;
    } else if (rev) {
        ok = idtree_seek_le(&s->blocks, end, &it->pos);
    } else {
        ok = idtree_seek_le(&s->blocks, start, &it->pos) || idtree_first(&s->blocks, &it->pos);
    }
    it->in_block = ok ? 0 : -1; /* -1: exhausted */
}

static void enter_block(stream_iter *it)
{
    stream_block *b = idtree_val(&it->pos);
    it->base = b->data;
    it->master = b->data + varint_size(b->nmaster);
    it->master_n = b->nmaster;
    it->off = b->entries_off;
    it->used = b->used;
    it->have_prev = 0;
    it->in_block = 1;
    if (!it->rev) {
        return;
    }
    /* Record the live entries' offsets and IDs for the backward steps. */
    stream_id first = idtree_key(&it->pos);
    if (it->rcap < b->live) {
        it->rcap = b->live;
        it->roff = alloc_resize(it->roff, sizeof(size_t) * it->rcap);
        it->rid = alloc_resize(it->rid, sizeof(stream_id) * it->rcap);
    }
    long n = 0;
    entry_view e;
    for (size_t o = b->entries_off; o < b->used; o = e.next) {
        entry_decode(b, &first, o, &it->prev, &it->have_prev, &e);
        if (!e.deleted) {
            it->roff[n] = o;
            it->rid[n] = e.id;
            n++;
        }
    }
    it->ri = n - 1;
}

static void set_current(stream_iter *it, const entry_view *e)
{
    it->nfields = e->nfields;
    it->fi = 0;
    if (e->same) {
        it->fp = it->master;
        it->vp = e->values;
        it->fields = NULL;
    } else {
        it->fp = NULL;
        it->vp = e->pairs;
        it->fields = e->pairs;
    }
}

int stream_iter_next(stream_iter *it, stream_id *id, size_t *nfields)
{
    for (;;) {
        if (it->in_block < 0) {
            return 0;
        }
        if (it->in_block == 0) {
            enter_block(it);
        }
        stream_block *b = idtree_val(&it->pos);
        stream_id first = idtree_key(&it->pos);
        entry_view e;
        if (it->rev) {
            if (it->ri < 0) {
                it->in_block = idtree_prev(&it->pos) ? 0 : -1;
                continue;
            }
            size_t o = it->roff[it->ri];
            stream_id want = it->rid[it->ri];
            it->ri--;
            if (stream_id_cmp(&want, &it->end) > 0) {
                continue;
            }
            if (stream_id_cmp(&want, &it->start) < 0) {
                it->in_block = -1;
                return 0;
            }
            stream_id prev = {want.ms, want.seq};
            int have = 0;
            /* Decoding one entry alone: its ID is already known. */
            entry_decode(b, &want, o, &prev, &have, &e);
            (void)first;
        } else {
            if (it->off >= it->used) {
                it->in_block = idtree_next(&it->pos) ? 0 : -1;
                continue;
            }
            entry_decode(b, &first, it->off, &it->prev, &it->have_prev, &e);
            it->off = e.next;
            if (e.deleted || stream_id_cmp(&e.id, &it->start) < 0) {
                continue;
            }
            if (stream_id_cmp(&e.id, &it->end) > 0) {
                it->in_block = -1;
                return 0;
            }
        }
        set_current(it, &e);
        *id = e.id;
        *nfields = e.nfields;
        return 1;
    }
}

void stream_iter_field(stream_iter *it, sv *field, sv *value)
{
    if (it->fields) {
        *field = value_get(&it->vp, it->fbuf);
    } else {
        *field = value_get(&it->fp, it->fbuf);
    }
    *value = value_get(&it->vp, it->vbuf);
    it->fi++;
}

void stream_iter_done(stream_iter *it)
{
    alloc_free(it->roff);
    alloc_free(it->rid);
    it->roff = NULL;
    it->rid = NULL;
}
