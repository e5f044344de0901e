/* io_threads: optional helper threads for socket reads and writes
 * (`io-threads N`, Redis 6+ semantics). The main thread still runs every
 * command and owns all data; a batch hands each thread a share of the
 * clients' pure I/O step (a read into the query buffer, a write of the
 * output buffer), the main thread does its own share, then waits for the
 * rest before it goes on. With io-threads 1 (the default) nothing starts
 * and every call below is a branch on a constant. */
#ifndef KEEL_IO_THREADS_H
#define KEEL_IO_THREADS_H

/* Starts n - 1 threads (n counts the main thread; 1 starts none); they
 * live as long as the process. */
void io_threads_start(int n);

/* 1 when a batch of n items should be split across the threads: threads
 * exist and n reaches the engagement threshold (io-threads-min-clients, or
 * Redis's two per thread when that is 0). Records whether threads are
 * active for INFO's io_threads_active. */
int io_threads_engage(int n);
int io_threads_active(void);
/* 1 when helper threads exist (io-threads > 1). */
int io_threads_enabled(void);

/* Runs fn on every item, item i on thread i % N (0 being the caller), and
 * returns once all are done. fn must touch nothing shared but the
 * allocator. */
void io_threads_run(void **items, int n, void (*fn)(void *item));

#endif
