/* stream: the stream type. An append-mostly log of entries, each an ID
 * (ms-seq, strictly increasing) and a list of field/value pairs, plus the
 * consumer groups that read it (types/stream_group.h).
 *
 * Entries live in blocks of a compact byte format of our own, indexed by
 * each block's first ID in an idtree (B+tree). A block stores its first
 * entry's field names once ("master fields"); an entry with the same
 * fields stores only its values. IDs are deltas from the previous entry,
 * and values that are canonical integers are stored as varints. XDEL only
 * flags an entry as deleted; a block is freed when its last entry goes.
 * Block size follows stream-node-max-bytes / stream-node-max-entries as
 * in Redis. */
#ifndef KEEL_STREAM_H
#define KEEL_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "base/str.h"
#include "ds/idtree.h"

typedef struct stream_group stream_group;

typedef struct stream {
    idtree blocks;            /* first ID of a block -> stream_block */
    uint64_t length;          /* live entries */
    uint64_t entries_added;   /* every entry ever added (XADD, XSETID) */
    stream_id last_id;        /* the greatest ID ever added (or set) */
    stream_id first_id;       /* the first live entry, 0-0 when empty */
    stream_id max_deleted_id; /* the greatest ID removed by XDEL */
    stream_group **groups;    /* sorted by name */
    int ngroups;
    /* Idempotent production (types/stream_idmp.h). */
    struct stream_idmp *idmp; /* remembered producer iids, NULL when none */
    uint32_t idmp_duration;   /* seconds an iid is remembered */
    uint32_t idmp_maxsize;    /* iids remembered per producer */
    uint64_t iids_added;      /* IDMP entries ever added */
    uint64_t iids_duplicates; /* IDMP retries answered without adding */
    /* Where an unfinished defragmentation walk goes on in the tree its
     * cursor names (types/stream_defrag.c). */
    stream_id defrag_at;
} stream;

typedef struct stream_limits {
    long long node_max_bytes;   /* 0: no limit */
    long long node_max_entries; /* 0: no limit */
} stream_limits;

stream *stream_new(void);
void stream_free(stream *s);
stream *stream_dup(const stream *s);
size_t stream_len(const stream *s);
/* Active defragmentation: type_ops.defrag's contract (db/object.h). */
stream *stream_defrag(stream *v, unsigned long *cursor, size_t budget);
size_t stream_mem(const stream *s);
const char *stream_encoding(const stream *s);
void stream_digest(const stream *s, uint8_t d[20]);
/* Blocks in the index (XINFO radix-tree-keys) and index nodes. */
size_t stream_block_count(const stream *s);
size_t stream_index_nodes(const stream *s);

/* ---- IDs ---- */

static inline int stream_id_is_zero(const stream_id *id)
{
    return id->ms == 0 && id->seq == 0;
}
/* "ms-seq" into buf (at least 42 bytes); returns the length. */
int stream_id_format(char *buf, const stream_id *id);
/* Parses "ms", "ms-seq" or, when star is not NULL, "ms-*" (*star = 1).
 * A bare "ms" takes missing_seq as its sequence. Returns 0 when malformed. */
int stream_id_parse(sv s, stream_id *id, uint64_t missing_seq, int *star);
/* id + 1 / id - 1; return 0 at the ends of the ID space. */
int stream_id_incr(stream_id *id);
int stream_id_decr(stream_id *id);
/* The ID "*" gives a new entry after last at time now_ms: now_ms-0 when
 * the clock is ahead of last, else last + 1. Returns 0 when last is the
 * greatest ID (none is left). */
int stream_auto_id(const stream_id *last, uint64_t now_ms, stream_id *out);

/* ---- entries ---- */

/* The most bytes the strings of one entry may add up to, as in Redis
 * (STREAM_LISTPACK_MAX_SIZE): a Redis stream node is a listpack, whose
 * lengths are 32 bits, so a bigger entry could be neither saved in an RDB
 * nor kept in a block (whose offsets are 32 bits too). */
#define STREAM_ENTRY_MAX_BYTES ((size_t)1 << 30)
/* 1 when the entry fv (nfv strings) is over STREAM_ENTRY_MAX_BYTES: XADD
 * then answers "Elements are too large to be stored". */
int stream_entry_too_large(const sv *fv, size_t nfv);
/* Appends an entry with id > last_id; fv holds nfv (even, >= 2) strings
 * alternating field and value, within STREAM_ENTRY_MAX_BYTES. */
void stream_append(stream *s, const stream_id *id, const sv *fv, size_t nfv, const stream_limits *lim);
/* Deletes the live entry id; returns 1 if there was one. Updates first_id
 * and max_deleted_id as XDEL does. */
int stream_delete(stream *s, const stream_id *id);
/* 1 if id is a live entry. */
int stream_has(const stream *s, const stream_id *id);
/* The first (last: 0) live entry's ID; returns 0 when empty. */
int stream_edge_id(const stream *s, int first, stream_id *out);

enum { STREAM_TRIM_MAXLEN = 1, STREAM_TRIM_MINID = 2 };
/* What a trim does with consumer groups' references (Redis 8.2): KEEPREF
 * leaves their PEL entries, DELREF drops them with the entries, ACKED
 * removes only entries every group has read and acknowledged. */
enum { STREAM_REFS_KEEP, STREAM_REFS_DELETE, STREAM_REFS_ACKED };
typedef struct stream_trim {
    int strategy;     /* STREAM_TRIM_* */
    int approx;       /* `~`: whole blocks only */
    long long maxlen; /* MAXLEN threshold */
    stream_id minid;  /* MINID threshold */
    long long limit;  /* most entries to remove with `~` (0: no limit) */
    int refs;         /* STREAM_REFS_* */
    /* Out: set when the trim looked at entries one by one (DELREF or ACKED
     * with groups present); next is the first entry it did not examine
     * ({UINT64_MAX, UINT64_MAX}: none), the exact MINID a replay needs. */
    int by_entry;
    stream_id next;
} stream_trim;
/* 1 if a consumer group still needs the entry: it is in a PEL, or a group
 * has not been served it yet. */
int stream_entry_referenced(const stream *s, const stream_id *id);
/* Removes entries from the front per t; returns how many. */
long long stream_trim_run(stream *s, stream_trim *t);

/* Range iteration over live entries with start <= id <= end, ascending or
 * (rev) descending. The stream must not change during the iteration. */
typedef struct stream_iter {
    stream *s;
    stream_id start, end;
    int rev;
    idtree_pos pos;
    int in_block;
    const unsigned char *base;   /* the current block's bytes */
    const unsigned char *master; /* its master fields */
    size_t master_n;
    /* forward walk state */
    size_t off, used;
    stream_id prev;
    int have_prev;
    /* reverse walk: offsets and IDs of the block's entries */
    size_t *roff;
    stream_id *rid;
    size_t rcap;
    long ri;
    /* the current entry */
    const unsigned char *fields; /* its own field names, or NULL (master's) */
    const unsigned char *vp;     /* next value to read */
    const unsigned char *fp;     /* next field to read */
    size_t nfields, fi;
    char fbuf[24], vbuf[24];
} stream_iter;
void stream_iter_init(stream_iter *it, stream *s, const stream_id *start, const stream_id *end, int rev);
/* The next entry: its ID and number of field/value pairs; 0 at the end. */
int stream_iter_next(stream_iter *it, stream_id *id, size_t *nfields);
/* The current entry's next pair (valid until the next call). */
void stream_iter_field(stream_iter *it, sv *field, sv *value);
void stream_iter_done(stream_iter *it);

#endif
