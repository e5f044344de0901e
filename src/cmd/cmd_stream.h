/* cmd_stream: what the stream command files (cmd_stream.c, _read.c,
 * _group.c, _info.c) share: lookup, ID arguments and range replies. */
#ifndef KEEL_CMD_STREAM_H
#define KEEL_CMD_STREAM_H

#include "server/server.h"
#include "types/stream.h"
#include "types/stream_group.h"

#define XERR_INVALID_ID "ERR Invalid stream ID specified as stream command argument"

/* The stream at key (NULL if absent); WRONGTYPE replied and *bad set when
 * the key holds another type. */
stream *xlookup(client *c, sv key, int write, int *bad);
/* The stream at key for a write that needs it to exist: NULL after
 * replying WRONGTYPE or "no such key". */
stream *xlookup_existing(client *c, sv key);
/* The block limits in force (stream-node-max-bytes / -entries). */
stream_limits xlimits(void);

/* argv[i] as a strict ID ("ms" takes missing_seq); replies the invalid-ID
 * error and returns 0 otherwise. star (may be NULL) allows "ms-*". */
int xarg_id(client *c, int i, stream_id *id, uint64_t missing_seq, int *star);
/* An interval bound: "-", "+", "(id" (exclusive, Redis 6.2+) or an ID;
 * *excl says whether it was exclusive. */
int xarg_bound(client *c, int i, stream_id *id, uint64_t missing_seq, int *excl);
void xreply_id(client *c, const stream_id *id);

/* The group delivery side of a range reply (XREADGROUP with ">"). */
typedef struct xdelivery {
    sv key, group_name;
    stream_group *g;
    stream_consumer *consumer;
    int noack;
    int claim_shape; /* XREADGROUP CLAIM: entries carry idle time and count */
} xdelivery;

/* Replies the live entries in [start, end] (descending when rev), at most
 * count of them (0: all), as [[id, [f, v, ...]], ...]; with d, each is
 * delivered to d's consumer: added to the PEL and propagated as XCLAIM,
 * and the group's last ID moves forward (propagated as XGROUP SETID).
 * Returns how many were replied. */
long xreply_range(client *c, stream *s, const stream_id *start, const stream_id *end, long long count, int rev,
                  xdelivery *d);
/* The same entries without the enclosing array (the caller counts them
 * into an array of its own). */
long xreply_range_items(client *c, stream *s, const stream_id *start, const stream_id *end, long long count, int rev,
                        xdelivery *d);
/* XREADGROUP CLAIM's [id, [f, v, ...], idle, count] for a live entry;
 * replies nothing and returns 0 when it was deleted. */
int xreply_entry_claimed(client *c, stream *s, const stream_id *id, long long idle, long long count);
/* One entry [id, [f, v, ...]] (or [id, nil] when deleted, for PEL
 * history); with claim, XREADGROUP CLAIM's [id, [f, v, ...], idle ms,
 * delivery count] (claim[0], claim[1]) and nothing when deleted. Returns 1
 * if it existed. */
int xreply_entry(client *c, stream *s, const stream_id *id, const long long *claim);
/* Whether entry id is in the stream (not deleted). */
int xentry_exists(stream *s, const stream_id *id);

/* Propagation of group state, in Redis's forms. */
void xpropagate_claim(client *c, sv key, sv group, const stream_id *id, const stream_nack *n, const stream_id *last);
void xpropagate_setid(client *c, sv key, sv group, const stream_group *g);
void xpropagate_create_consumer(client *c, sv key, sv group, sv consumer);

/* The stream at argv[1] and its group named at argv[2] (XPENDING, XCLAIM,
 * XAUTOCLAIM, XACKDEL): NULL after replying WRONGTYPE or Redis's "NOGROUP
 * No such key 'k' or consumer group 'g'". */
stream_group *xlookup_group(client *c, int write, stream **sp);
/* The group named at argv[2] of s (NULL: absent), or NULL after replying
 * that NOGROUP error. */
stream_group *xfind_group(client *c, stream *s);

/* XDELEX / XACKDEL (Redis 8.2): what a deletion does to group references.
 * KEEPREF leaves pending entries alone, DELREF removes the entry from
 * every group's PEL, ACKED deletes only entries every group has read and
 * acknowledged. */
enum { XREF_KEEPREF, XREF_DELREF, XREF_ACKED };
/* The options of XDELEX / XACKDEL from argv[at]: KEEPREF|DELREF|ACKED and
 * the "IDS numids id ..." block, in any order. Returns a new array of *n
 * IDs, or NULL after replying the error. */
stream_id *xarg_delete_opts(client *c, int at, int *policy, int *n);
/* Deletes id under policy: -1 no such entry, 1 deleted, 2 kept (ACKED and
 * still referenced). */
int xdelete_with_policy(stream *s, const stream_id *id, int policy);

#endif
