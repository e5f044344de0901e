/* stream_group: consumer groups of a stream. A group remembers the last
 * ID it delivered, how many entries it has read (for lag), its consumers
 * and its pending entries list (PEL): entries delivered but not yet
 * acknowledged, each with its owner, last delivery time and count. The
 * group's PEL and each consumer's PEL share the same records.
 *
 * Groups and consumers are kept sorted by name (byte order), which is the
 * order XINFO lists them in Redis. */
#ifndef KEEL_STREAM_GROUP_H
#define KEEL_STREAM_GROUP_H

#include <stdint.h>

#include "base/str.h"
#include "ds/idtree.h"
#include "types/stream.h"

/* entries_read when the group cannot know it (after fragmentation). */
#define STREAM_ENTRIES_READ_UNKNOWN (-1LL)

typedef struct stream_consumer stream_consumer;

typedef struct stream_nack {
    int64_t delivery_time; /* ms */
    uint64_t delivery_count;
    stream_consumer *consumer;
} stream_nack;

struct stream_consumer {
    str name;
    int64_t seen_time;   /* last time it tried anything (idle) */
    int64_t active_time; /* last successful read or claim (-1: never) */
    idtree pel;          /* id -> stream_nack, shared with the group's */
};

struct stream_group {
    str name;
    stream_id last_id;
    long long entries_read;
    idtree pel; /* id -> stream_nack (owned here) */
    stream_consumer **consumers;
    int nconsumers;
};

/* ---- groups ---- */
stream_group *stream_group_find(const stream *s, sv name);
/* NULL if a group of that name exists. */
stream_group *stream_group_add(stream *s, sv name, const stream_id *last_id, long long entries_read);
int stream_group_del(stream *s, sv name);
void stream_groups_free(stream *s);
void stream_groups_dup(stream *dst, const stream *src);
size_t stream_groups_mem(const stream *s);

/* ---- consumers ---- */
stream_consumer *stream_consumer_find(const stream_group *g, sv name);
/* NULL if a consumer of that name exists. */
stream_consumer *stream_consumer_add(stream_group *g, sv name, int64_t now);
/* Deletes a consumer and its pending entries; returns how many it had, or
 * -1 if there was no such consumer. */
long long stream_consumer_del(stream_group *g, sv name);

/* ---- pending entries ---- */
stream_nack *stream_pel_find(const stream_group *g, const stream_id *id);
/* Records a delivery of id to c: a new pending entry, or (when id was
 * already pending) the same one moved to c with its count reset to 1. */
stream_nack *stream_pel_deliver(stream_group *g, stream_consumer *c, const stream_id *id, int64_t now);
/* Gives pending entry id to c (XCLAIM); it must be pending. */
void stream_pel_assign(stream_group *g, stream_nack *n, const stream_id *id, stream_consumer *c);
/* Acknowledges id; returns 1 if it was pending. */
int stream_pel_ack(stream_group *g, const stream_id *id);
/* Whether id is pending in any group of s. */
int stream_pel_any(const stream *s, const stream_id *id);

/* ---- reading and lag (Redis 7's model) ---- */
/* Moves the group's last ID forward to id (a newly delivered entry),
 * keeping entries_read exact when it can. */
void stream_group_advance(stream *s, stream_group *g, const stream_id *id);
/* The logical position of id counted from the first entry ever added, or
 * STREAM_ENTRIES_READ_UNKNOWN when deletions make it unknowable. */
long long stream_estimate_distance(const stream *s, const stream_id *id);
/* Whether an XDEL'd entry may lie in [start, end] (NULL: open ends). */
int stream_range_has_tombstones(const stream *s, const stream_id *start, const stream_id *end);
/* The group's lag (entries not yet delivered) into *lag; returns 0 when
 * it is unknown (XINFO replies nil). */
int stream_group_lag(const stream *s, const stream_group *g, long long *lag);

#endif
