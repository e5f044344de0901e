/* metrics_format: the figures of one metrics snapshot (the INFO text and
 * what the event loop adds to it) written as Prometheus's text exposition
 * format and as JSON. Pure functions of their input, touching no server
 * state, so the HTTP thread runs them. */
#ifndef KEEL_METRICS_FORMAT_H
#define KEEL_METRICS_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "base/str.h"
#include "db/type_memory.h"
#include "server/metrics_streams.h"

typedef struct metrics_figures {
    const char *info; /* INFO everything */
    size_t info_len;
    int64_t time_ms; /* when the loop published them */
    double ops_per_sec;
    int64_t publish_us;       /* the loop's cost of publishing */
    const char *slowlog_json; /* a JSON array (slowlog_json) */
    size_t slowlog_len;
    const stream_figures *streams; /* may be NULL */
    const type_memory *types;      /* may be NULL */
} metrics_figures;

/* Sets *prom and *json (owned by the caller) from the same samples. */
void metrics_format(const metrics_figures *in, str *prom, str *json);
/* Appends p[0..n) as a JSON string literal (quotes included). Bytes
 * outside printable ASCII are escaped as \u00XX, so binary arguments
 * always make valid JSON. */
str metrics_json_string(str out, const char *p, size_t n);

#endif
