/* metrics_streams: consumer-group figures (lag, pending entries,
 * consumers) of every stream, for the metrics endpoint, without ever
 * scanning the keyspace in one go.
 *
 * Discovery: a pass over the keyspace, advanced on the cron ticks between
 * two publishes in slices of at most METRICS_STREAM_BUDGET_US, finds the
 * streams; on a small keyspace it ends within a second, on a big one it
 * takes many (its duration is published; measured: 74 s for 100k keys,
 * 872 s for 1M). Freshness: before each publish
 * the streams the last pass found are looked up again by key (at most
 * METRICS_STREAM_MAX_GROUPS lookups), so their figures are never more than
 * a second old, groups created on them since appear at once, and deleted
 * streams vanish at once; a stream created since the last pass appears
 * when the next pass ends. */
#ifndef KEEL_METRICS_STREAMS_H
#define KEEL_METRICS_STREAMS_H

#include "base/str.h"

/* Loop time one step may spend on the pass: each visited key costs a
 * cache miss to read its type, so a step budget alone would not bound the
 * time on a big keyspace (measured: 4,096 steps cost 2-3 ms with 1M keys).
 * At hz 10 that is 0.9 ms of loop time a second at most. */
#define METRICS_STREAM_BUDGET_US 100
/* dict_scan steps per publish at most (each visits one or two buckets and
 * their chains), and between two looks at the clock. */
#define METRICS_STREAM_SCAN_STEPS 4096
#define METRICS_STREAM_CLOCK_EVERY 16
/* Groups reported per pass at most, so the metrics' cardinality stays
 * bounded whatever the keyspace holds; the rest are counted as omitted. */
#define METRICS_STREAM_MAX_GROUPS 1000

typedef struct stream_group_figures {
    int db;
    str key, group;
    int lag_known; /* XINFO reports lag as nil when it cannot know it */
    long long lag, pending, consumers;
} stream_group_figures;

/* The figures of one complete pass; immutable and reference-counted, as
 * snapshots share them across threads. */
typedef struct stream_figures {
    int refs; /* atomic */
    int n;
    long long omitted;
    int64_t pass_ms; /* how long the last pass took, start to end */
    stream_group_figures *g;
} stream_figures;

/* On the event loop, from cron: one bounded step of the current pass. */
void metrics_streams_step(void);
/* Before a publish: the streams of the last complete pass looked up again,
 * their groups' figures taken anew. */
void metrics_streams_refresh(void);
/* A new reference to the latest figures (NULL before the first pass
 * ends). */
stream_figures *metrics_streams_last(void);
void metrics_streams_release(stream_figures *f);
/* Drops the pass in progress and the last complete one (shutdown). */
void metrics_streams_reset(void);

#endif
