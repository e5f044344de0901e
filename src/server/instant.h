/* instant: INFO's instantaneous_* rates (ops/s, network KB/s), as Redis
 * computes them: a sample of each counter's rate every 100 ms, the mean of
 * the last 16 samples reported. */
#ifndef KEEL_INSTANT_H
#define KEEL_INSTANT_H

enum {
    INSTANT_OPS,
    INSTANT_NET_INPUT,
    INSTANT_NET_OUTPUT,
    INSTANT_NET_REPL_INPUT,
    INSTANT_NET_REPL_OUTPUT,
    INSTANT_METRICS
};

/* From the cron: takes a sample when 100 ms have passed since the last. */
void instant_sample(void);
/* The metric's rate per second over the last samples. */
double instant_rate(int metric);

#endif
