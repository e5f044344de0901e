/* instant: see instant.h. */
#include "server/instant.h"

#include "server/server.h"

#define SAMPLES 16
#define PERIOD_MS 100

static struct {
    long long last_value;
    int64_t last_ms;
    double samples[SAMPLES];
    int idx, n;
} metrics[INSTANT_METRICS];

static long long counter(int metric)
{
    switch (metric) {
    case INSTANT_OPS: return server.stats.numcommands;
    case INSTANT_NET_INPUT: return server.stats.net_input_bytes;
    case INSTANT_NET_OUTPUT: return server.stats.net_output_bytes;
    case INSTANT_NET_REPL_INPUT: return server.stats.net_repl_input_bytes;
    default: return server.stats.net_repl_output_bytes;
    }
}

void instant_sample(void)
{
    int64_t now = server_ms();
    for (int m = 0; m < INSTANT_METRICS; m++) {
        long long v = counter(m);
        if (metrics[m].last_ms == 0) {
            metrics[m].last_ms = now; /* the first call only starts the clock */
            metrics[m].last_value = v;
            continue;
        }
        int64_t elapsed = now - metrics[m].last_ms;
        if (elapsed < PERIOD_MS) {
            continue;
        }
        metrics[m].samples[metrics[m].idx] = (double)(v - metrics[m].last_value) * 1000.0 / (double)elapsed;
        metrics[m].idx = (metrics[m].idx + 1) % SAMPLES;
        metrics[m].n += metrics[m].n < SAMPLES;
        metrics[m].last_ms = now;
        metrics[m].last_value = v;
    }
}

double instant_rate(int metric)
{
    if (metrics[metric].n == 0) {
        return 0;
    }
    double sum = 0;
    for (int i = 0; i < metrics[metric].n; i++) {
        sum += metrics[metric].samples[i];
    }
    return sum / metrics[metric].n;
}
