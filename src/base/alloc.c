/* alloc: counted allocation on top of jemalloc (or the libc allocator in
 * sanitizer builds, where ASan must own malloc). */
#include "base/alloc.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef KEEL_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

/* Counters are atomics because the lazy-free thread frees memory too. */
static size_t used_bytes;
static size_t peak_bytes;
static long fail_countdown;

static void account_add(size_t n)
{
    size_t now = __atomic_add_fetch(&used_bytes, n, __ATOMIC_RELAXED);
    if (now > __atomic_load_n(&peak_bytes, __ATOMIC_RELAXED)) {
        __atomic_store_n(&peak_bytes, now, __ATOMIC_RELAXED);
    }
}

static void account_sub(size_t n)
{
    __atomic_sub_fetch(&used_bytes, n, __ATOMIC_RELAXED);
}

static void oom(size_t n)
{
    fprintf(stderr, "keel: out of memory allocating %zu bytes (used %zu)\n", n, alloc_used());
    fflush(stderr);
    abort();
}

static void maybe_inject_fault(size_t n)
{
    if (fail_countdown > 0 && --fail_countdown == 0) {
        oom(n);
    }
}

void *alloc_mem(size_t n)
{
    maybe_inject_fault(n);
    void *p = malloc(n ? n : 1);
    if (!p) {
        oom(n);
    }
    account_add(malloc_usable_size(p));
    return p;
}

void *alloc_zero(size_t n)
{
    maybe_inject_fault(n);
    void *p = calloc(1, n ? n : 1);
    if (!p) {
        oom(n);
    }
    account_add(malloc_usable_size(p));
    return p;
}

void *alloc_resize(void *p, size_t n)
{
    if (!p) {
        return alloc_mem(n);
    }
    maybe_inject_fault(n);
    size_t old = malloc_usable_size(p);
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        oom(n);
    }
    account_sub(old);
    account_add(malloc_usable_size(q));
    return q;
}

void alloc_free(void *p)
{
    if (!p) {
        return;
    }
    account_sub(malloc_usable_size(p));
    free(p);
}

char *alloc_strndup(const char *s, size_t n)
{
    char *d = alloc_mem(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *alloc_strdup(const char *s)
{
    return alloc_strndup(s, strlen(s));
}

size_t alloc_usable(const void *p)
{
    return p ? malloc_usable_size((void *)p) : 0;
}

size_t alloc_used(void)
{
    return __atomic_load_n(&used_bytes, __ATOMIC_RELAXED);
}

size_t alloc_peak(void)
{
    return __atomic_load_n(&peak_bytes, __ATOMIC_RELAXED);
}

void alloc_reset_peak(void)
{
    __atomic_store_n(&peak_bytes, alloc_used(), __ATOMIC_RELAXED);
}

size_t alloc_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) {
        return 0;
    }
    unsigned long size = 0, resident = 0;
    int ok = fscanf(f, "%lu %lu", &size, &resident) == 2;
    fclose(f);
    return ok ? (size_t)resident * (size_t)sysconf(_SC_PAGESIZE) : 0;
}

const char *alloc_name(void)
{
#ifdef KEEL_JEMALLOC
    return "jemalloc";
#else
    return "libc";
#endif
}

void alloc_stats(size_t *allocated, size_t *active, size_t *resident)
{
    *allocated = *active = *resident = 0;
#ifdef KEEL_JEMALLOC
    /* jemalloc caches stats; bump the epoch so they are current. */
    uint64_t epoch = 1;
    size_t sz = sizeof(epoch);
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    sz = sizeof(size_t);
    mallctl("stats.allocated", allocated, &sz, NULL, 0);
    mallctl("stats.active", active, &sz, NULL, 0);
    mallctl("stats.resident", resident, &sz, NULL, 0);
#endif
}

void alloc_fail_after(long n)
{
    fail_countdown = n;
}
