/* alloc: the one door every allocation in Keel goes through.
 * It counts the bytes in use (what INFO calls used_memory), tracks the peak,
 * and aborts with a log line on out-of-memory so callers never test for NULL.
 * A fault-injection hook lets tests fail the N-th allocation. */
#ifndef KEEL_ALLOC_H
#define KEEL_ALLOC_H

#include <stddef.h>

void *alloc_mem(size_t n);
void *alloc_zero(size_t n);
/* As alloc_mem, but NULL when the memory cannot be had instead of the
 * out-of-memory abort (modules' TryAlloc). */
void *alloc_try(size_t n);
void *alloc_resize(void *p, size_t n);
void alloc_free(void *p);
/* The same, for a caller that knows the size it asked for (Lua's
 * allocator is told it): no lookup of the block's size. */
void *alloc_resize_sized(void *p, size_t old_n, size_t n);
void alloc_free_sized(void *p, size_t n);
char *alloc_strndup(const char *s, size_t n);
char *alloc_strdup(const char *s);

/* Bytes the allocator really handed out for p (size-class rounded). */
size_t alloc_usable(const void *p);
size_t alloc_used(void);
size_t alloc_peak(void);
void alloc_reset_peak(void);
/* Resident set size of the process, from /proc (0 if unknown). */
size_t alloc_rss(void);
/* Allocator name for INFO mem_allocator. */
const char *alloc_name(void);
/* Allocator-reported totals (jemalloc stats.allocated / active / resident);
 * 0 when the allocator offers none. */
void alloc_stats(size_t *allocated, size_t *active, size_t *resident);
/* Gives the blocks the calling thread's cache holds back to the
 * allocator (jemalloc's thread.tcache.flush; nothing elsewhere). */
void alloc_thread_cache_flush(void);
/* jemalloc's control names (DEBUG MALLCTL / MALLCTL-STR). An integer one
 * is read into *old, set to *val if val is given (its width, 8, 4 or 1
 * bytes, is jemalloc's to know); *write_only is set when it can only be
 * written. A string one is read into *old; val "VOID" runs a control that
 * takes nothing (thread.tcache.flush). 0, or the errno jemalloc gave
 * (ENOENT without jemalloc). */
int alloc_ctl_int(const char *name, const long long *val, long long *old, int *write_only);
int alloc_ctl_str(const char *name, const char *val, const char **old, int *write_only);

/* Active defragmentation. Asks the allocator whether p sits in a slab that
 * is emptier than its size class's average (jemalloc's
 * experimental.utilization.query, present in the stock library since 5.2);
 * if so moves it to the fullest slab with room, frees p and returns the new
 * block (same size class, so used_memory does not change), else returns
 * NULL and p stays. Only for blocks of alloc_mem/alloc_zero/alloc_resize. */
void *alloc_defrag(void *p);
/* alloc_defrag for a caller that only stores the result back: the moved
 * block, or p itself when it stays. */
void *alloc_defrag_keep(void *p);
/* 1 when the allocator can answer (jemalloc builds). */
int alloc_defrag_supported(void);
/* Tests: when on, alloc_defrag moves every block it is given, whatever the
 * allocator (so a sanitizer build checks that every pointer is fixed up). */
void alloc_defrag_force(int on);
/* Blocks moved and blocks left in place since start (or the reset). */
void alloc_defrag_counts(long long *hits, long long *misses);
void alloc_defrag_counts_reset(void);

/* Test hook: make the n-th allocation from now fail (0 disables). A failed
 * allocation behaves like real OOM: log and abort. */
void alloc_fail_after(long n);

#endif
