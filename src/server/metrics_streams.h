/* metrics_streams: consumer-group figures (lag, pending entries,
 * consumers) of every stream, for the metrics endpoint, gathered without
 * ever scanning the keyspace in one go: each publish walks a bounded
 * number of keyspace buckets from where the previous one stopped, and the
 * figures of the last complete pass are what gets published. On a small
 * keyspace a pass ends within one publish (figures at most a second old);
 * on a big one a pass takes (buckets / METRICS_STREAM_SCAN_STEPS) seconds. */
#ifndef KEEL_METRICS_STREAMS_H
#define KEEL_METRICS_STREAMS_H

#include "base/str.h"

/* dict_scan steps per publish (each visits one or two buckets and their
 * chains): a few hundred microseconds of loop time at most. */
#define METRICS_STREAM_SCAN_STEPS 4096
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
    stream_group_figures *g;
} stream_figures;

/* On the event loop: one bounded step of the current pass; returns a new
 * reference to the last complete pass's figures (NULL before the first
 * pass ends). */
stream_figures *metrics_streams_step(void);
void metrics_streams_release(stream_figures *f);
/* Drops the pass in progress and the last complete one (shutdown). */
void metrics_streams_reset(void);

#endif
