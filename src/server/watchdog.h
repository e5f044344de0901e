/* watchdog: Redis's software watchdog (watchdog-period): a stack trace in
 * the log when the main thread has not come back to its cron for longer
 * than the period, to find what blocks the server (see watchdog.c). */
#ifndef KEEL_WATCHDOG_H
#define KEEL_WATCHDOG_H

/* From the cron, every tick: re-arms the timer while watchdog-period is
 * set, disarms it when it is 0. */
void watchdog_cron(void);

#endif
