/* metrics_streams: consumer-group figures (lag, pending entries,
 * consumers) of every stream, for the metrics endpoint, gathered without
 * ever scanning the keyspace in one go: each publish walks a bounded
 * number of keyspace buckets from where the previous one stopped, and the
 * figures of the last complete pass are what gets published. On a small
 * keyspace a pass ends within one publish (figures at most a second old);
 * on a big one a pass takes many publishes, and the pass's duration is
 * published with the figures. The step runs half a second away from the
 * snapshot's publish, so the loop never pays for both at once. */
#ifndef KEEL_METRICS_STREAMS_H
#define KEEL_METRICS_STREAMS_H

#include "base/str.h"

/* Loop time one publish may spend on the pass: each visited key costs a
 * cache miss to read its type (about 0.1 us), so a step budget alone would
 * not bound the time on a big keyspace; measured 4,096 steps cost 2-3 ms
 * with 1M keys. */
#define METRICS_STREAM_BUDGET_US 250
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
    int64_t pass_ms; /* how long the pass took, start to end */
    stream_group_figures *g;
} stream_figures;

/* On the event loop, once a second: one bounded step of the current pass. */
void metrics_streams_step(void);
/* A new reference to the last complete pass's figures (NULL before the
 * first pass ends). */
stream_figures *metrics_streams_last(void);
void metrics_streams_release(stream_figures *f);
/* Drops the pass in progress and the last complete one (shutdown). */
void metrics_streams_reset(void);

#endif
