/* latency: Redis's latency monitor and per-command latency histograms.
 *
 * Events ("command", "fast-command", ...) that took at least
 * latency-monitor-threshold ms are kept as a history of up to 160
 * one-second samples (the worst of each second) and their all-time
 * maximum: LATENCY LATEST / HISTORY / RESET / GRAPH / DOCTOR. Every call's
 * duration also goes to its command's histogram (latency-tracking):
 * LATENCY HISTOGRAM and INFO latencystats read them. */
#ifndef KEEL_LATENCY_H
#define KEEL_LATENCY_H

#include <stdint.h>

#include "base/str.h"
#include "server/server.h"

/* An event of ms milliseconds, recorded when over the threshold. */
void latency_add(const char *event, int64_t ms);
/* A call's duration for its command's histogram. */
void latency_track(cmd_stats *st, int64_t us);
/* INFO latencystats. */
str latency_info(str out);
/* CONFIG RESETSTAT: every histogram emptied. */
void latency_reset_histograms(void);

#endif
