/* stream_idmp: what a stream remembers of idempotent producers (Redis
 * 8.6's XADD IDMP / IDMPAUTO). For each producer ID (pid), the iids of its
 * latest entries with the entry ID each was given, so a retried XADD
 * returns the first ID instead of adding a copy.
 *
 * A producer keeps at most the stream's idmp_maxsize iids (the oldest goes
 * first) and none older than idmp_duration seconds, measured by the entry
 * ID's milliseconds. Expiry needs no timer: a producer's old iids go when
 * it is looked up, each new iid also checks a couple of other producers in
 * turn (so idle ones go while the stream is written), and XINFO checks
 * them all. A producer with no iid left is forgotten. */
#ifndef KEEL_STREAM_IDMP_H
#define KEEL_STREAM_IDMP_H

#include <stddef.h>
#include <stdint.h>

#include "types/stream.h"

#define IDMP_DURATION_MAX 86400
#define IDMP_MAXSIZE_MAX 10000
#define IDMP_DURATION_DEFAULT 100 /* Redis's defaults for the two settings */
#define IDMP_MAXSIZE_DEFAULT 100
/* stream-idmp-duration / stream-idmp-maxsize: what a new stream starts
 * with (set by the configuration). */
extern uint32_t stream_idmp_default_duration;
extern uint32_t stream_idmp_default_maxsize;

/* IDMPAUTO's iid: 16 bytes, the XOR over the field/value pairs of XXH3-128
 * of field then value (so pair order does not matter), laid out as Redis
 * stores it (low 64 bits, then high, in host order). */
void stream_idmp_auto_iid(const sv *fv, size_t nfv, unsigned char out[16]);

/* 1 and *id when pid has iid in the stream (after dropping pid's iids
 * older than the stream's duration at now_ms). */
int stream_idmp_find(stream *s, sv pid, sv iid, int64_t now_ms, stream_id *id);
/* Remembers iid -> id for pid (replacing what pid had for iid), dropping
 * pid's oldest iids beyond the stream's maxsize. With now_ms > 0 it also
 * expires a few other producers, in turn: producers that stopped writing
 * are forgotten as the stream goes on, so the memory follows the
 * producers active within the duration. (Loaders pass 0.) */
void stream_idmp_record(stream *s, sv pid, sv iid, const stream_id *id, int64_t now_ms);
/* Drops every producer's iids older than the duration at now_ms. */
void stream_idmp_expire(stream *s, int64_t now_ms);
/* Forgets every producer (XCFGSET with new values, or the stream's end);
 * counters stay. */
void stream_idmp_clear(stream *s);
size_t stream_idmp_pids(const stream *s);
uint64_t stream_idmp_iids(const stream *s);
/* 1 if saving the stream needs Redis 8.6's form: remembered iids, used
 * counters, or settings other than Redis's defaults (whatever the
 * configuration now says, so the answer depends on the stream alone). */
int stream_idmp_in_use(const stream *s);

/* A walk for persistence: producer() once per producer with its iid count,
 * then iid() for each of its iids, oldest first. */
typedef struct stream_idmp_visitor {
    void (*producer)(void *ctx, sv pid, size_t n);
    void (*iid)(void *ctx, sv iid, const stream_id *id);
} stream_idmp_visitor;
void stream_idmp_walk(const stream *s, const stream_idmp_visitor *v, void *ctx);

void stream_idmp_dup(stream *dst, const stream *src);
size_t stream_idmp_mem(const stream *s);

/* Active defragmentation (types/stream_defrag.c). _top moves the
 * producer table itself; _step moves producers (with their rings and
 * index tables) and iids, about budget of them (at least one), from *at
 * on ({0, 0}: the start), adding what it did to *spent. Returns 1 when
 * more remain (*at says where they begin), 0 when the walk is over. */
void stream_idmp_defrag_top(stream *s);
int stream_idmp_defrag_step(stream *s, stream_id *at, size_t budget, size_t *spent);

#endif
