/* metrics: a Prometheus endpoint (/metrics), the same figures as JSON
 * (/json) and a self-contained live dashboard (/), served by libmicrohttpd
 * on its own thread when metrics-port is set.
 *
 * The HTTP thread never touches the server's data. Once a second the
 * event loop publishes a snapshot (the INFO text it builds anyway, the
 * ops/s it measured, the newest slow log entries and the stream groups'
 * figures of metrics_streams) as an immutable,
 * reference-counted object swapped in under a mutex; a request only takes
 * a reference to the current one, so a scrape can never block a command.
 * Turning the snapshot into Prometheus text or JSON (metrics_format)
 * happens in the HTTP thread, once per snapshot. */
#ifndef KEEL_METRICS_H
#define KEEL_METRICS_H

#include <stddef.h>

/* Concurrent HTTP connections at most: a flood of scrapers can hold no
 * more descriptors or connection buffers than this. */
#define METRICS_MAX_CONNECTIONS 256
/* Of which one client address may hold at most this many: a flood from
 * one host cannot keep scrapers on other hosts out. */
#define METRICS_MAX_PER_IP 64
/* Descriptors the metrics server may use beyond its connections (the
 * listener, epoll, its wake-up pipe, a connection accepted only to be
 * refused at the cap); main() reserves these on top of maxclients. */
#define METRICS_FD_RESERVE (METRICS_MAX_CONNECTIONS + 16)

/* Opens metrics-bind:metrics-port and starts the HTTP thread (nothing
 * when metrics-port is 0), after publishing a first snapshot. Returns -1
 * (logged) when the port cannot be opened. */
int metrics_start(void);
/* CONFIG SET metrics-port / metrics-bind at run time: moves the endpoint
 * (port 0 turns it off). On failure the old address is kept, and err
 * says why. The descriptors main() set aside for the endpoint are sized
 * at start-up only. */
int metrics_move(int port, const char *bind, char *err, size_t errlen);
/* Called by every cron tick: publishes a new snapshot once a second, and
 * advances the stream groups' pass on the other ticks. */
void metrics_cron(void);
/* Stops the HTTP thread (closing its connections) and frees the last
 * snapshot; safe when it never started. */
void metrics_stop(void);

#endif
