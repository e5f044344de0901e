/* alloc: counted allocation on top of jemalloc (or the libc allocator in
 * sanitizer builds, where ASan must own malloc). */
#include "base/alloc.h"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
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

/* What a request of n bytes really takes, and freeing a block whose size
 * is known. jemalloc answers the first from its size classes and, told
 * the size, frees without looking the block up; either saves one walk of
 * its page map against malloc_usable_size. Elsewhere (sanitizer builds)
 * the block itself is asked. */
#ifdef KEEL_JEMALLOC
#define BLOCK_SIZE(p, n) nallocx((n), 0)
#define FREE_SIZED(p, size) sdallocx((p), (size), 0)
#else
#define BLOCK_SIZE(p, n) malloc_usable_size(p)
#define FREE_SIZED(p, size) free(p)
#endif

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
    size_t want = n ? n : 1;
    void *p = malloc(want);
    if (!p) {
        oom(n);
    }
    account_add(BLOCK_SIZE(p, want));
    return p;
}

void *alloc_try(size_t n)
{
    size_t want = n ? n : 1;
    void *p = malloc(want);
    if (p) {
        account_add(BLOCK_SIZE(p, want));
    }
    return p;
}

void *alloc_zero(size_t n)
{
    maybe_inject_fault(n);
    size_t want = n ? n : 1;
    void *p = calloc(1, want);
    if (!p) {
        oom(n);
    }
    account_add(BLOCK_SIZE(p, want));
    return p;
}

/* A live block of `old` bytes (its real size) grown or shrunk to n. */
static void *resize_block(void *p, size_t old, size_t n)
{
    maybe_inject_fault(n);
    size_t want = n ? n : 1;
#ifdef KEEL_JEMALLOC
    /* Within the block's size class realloc would hand back the same block:
     * skip the call (a listpack growing by an entry mostly stays inside).
     * Sanitizer builds always reallocate, so a stale pointer shows. */
    if (want <= old && nallocx(want, 0) == old) {
        return p;
    }
#endif
    void *q = realloc(p, want);
    if (!q) {
        oom(n);
    }
    account_sub(old);
    account_add(BLOCK_SIZE(q, want));
    return q;
}

static void free_block(void *p, size_t size)
{
    account_sub(size);
    FREE_SIZED(p, size);
}

void *alloc_resize(void *p, size_t n)
{
    if (!p) {
        return alloc_mem(n);
    }
    return resize_block(p, malloc_usable_size(p), n);
}

void alloc_free(void *p)
{
    if (p) {
        free_block(p, malloc_usable_size(p));
    }
}

void *alloc_resize_sized(void *p, size_t old_n, size_t n)
{
    if (!p) {
        return alloc_mem(n);
    }
    return resize_block(p, BLOCK_SIZE(p, old_n ? old_n : 1), n);
}

void alloc_free_sized(void *p, size_t n)
{
    if (p) {
        free_block(p, BLOCK_SIZE(p, n ? n : 1));
    }
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

void alloc_thread_cache_flush(void)
{
#ifdef KEEL_JEMALLOC
    mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
#endif
}

#ifdef KEEL_JEMALLOC
/* One try of an integer control at one width; EINVAL when the width is
 * not the control's. */
static int ctl_int_width(const char *name, size_t w, const long long *val, long long *old, int *write_only)
{
    int64_t n64 = val ? *val : 0, o64 = 0;
    int32_t n32 = (int32_t)n64, o32 = 0;
    uint8_t n8 = (uint8_t)(n64 != 0), o8 = 0;
    void *newp = w == 8 ? (void *)&n64 : w == 4 ? (void *)&n32 : (void *)&n8;
    void *oldp = w == 8 ? (void *)&o64 : w == 4 ? (void *)&o32 : (void *)&o8;
    size_t got = w;
    int rc = mallctl(name, oldp, &got, val ? newp : NULL, val ? w : 0);
    if (rc == EPERM && val) {
        rc = mallctl(name, NULL, NULL, newp, w); /* it may only be written */
        *write_only = rc == 0;
        return rc;
    }
    if (rc == 0) {
        *old = w == 8 ? o64 : w == 4 ? o32 : o8;
    }
    return rc;
}
#endif

int alloc_ctl_int(const char *name, const long long *val, long long *old, int *write_only)
{
    *write_only = 0;
#ifdef KEEL_JEMALLOC
    static const size_t widths[] = {8, 4, 1};
    for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
        int rc = ctl_int_width(name, widths[i], val, old, write_only);
        if (rc != EINVAL) {
            return rc;
        }
    }
    return EINVAL;
#else
    (void)name, (void)val, (void)old;
    return ENOENT;
#endif
}

int alloc_ctl_str(const char *name, const char *val, const char **old, int *write_only)
{
    *write_only = 0;
    *old = NULL;
#ifdef KEEL_JEMALLOC
    /* Read first: the old value is the answer, also when writing. */
    size_t sz = sizeof(*old);
    int rc = mallctl(name, (void *)old, &sz, NULL, 0);
    if (rc != 0 && !(rc == EPERM && val)) {
        return rc;
    }
    if (val) {
        int void_ctl = strcmp(val, "VOID") == 0;
        int wrc = mallctl(name, NULL, NULL, void_ctl ? NULL : (void *)&val, void_ctl ? 0 : sizeof(val));
        if (rc != 0) {
            *write_only = wrc == 0;
            return wrc;
        }
    }
    return 0;
#else
    (void)name, (void)val;
    return ENOENT;
#endif
}

/* ---- active defragmentation ---- */

static int defrag_forced;
static long long defrag_hits, defrag_misses;

void alloc_defrag_force(int on)
{
    defrag_forced = on;
}

void alloc_defrag_counts(long long *hits, long long *misses)
{
    *hits = defrag_hits;
    *misses = defrag_misses;
}

void alloc_defrag_counts_reset(void)
{
    defrag_hits = defrag_misses = 0;
}

#ifdef KEEL_JEMALLOC
/* What experimental.utilization.query writes (jemalloc 5.2+): the bin's
 * current slab, then the queried block's slab (free and total regions,
 * bytes), then the totals of every slab of that size class. */
typedef struct slab_use {
    void *slabcur;
    size_t nfree, nregs, size;
    size_t bin_nfree, bin_nregs;
} slab_use;

static size_t util_mib[4];
static size_t util_miblen; /* 0: not looked up yet; SIZE_MAX: missing */

int alloc_defrag_supported(void)
{
    if (util_miblen == 0) {
        util_miblen = sizeof(util_mib) / sizeof(util_mib[0]);
        if (mallctlnametomib("experimental.utilization.query", util_mib, &util_miblen) != 0) {
            util_miblen = SIZE_MAX;
        }
    }
    return util_miblen != SIZE_MAX;
}

/* Worth moving: a block of a slab (not a large extent) that is neither the
 * slab jemalloc fills next nor full, and used less than the size class's
 * slabs are on average. Emptying such slabs is what returns their pages;
 * the new block comes, without the thread cache, from the fullest slab
 * with room. */
static int worth_moving(void *p)
{
    if (!alloc_defrag_supported()) {
        return 0;
    }
    slab_use u;
    size_t len = sizeof(u);
    if (mallctlbymib(util_mib, util_miblen, &u, &len, &p, sizeof(p)) != 0 || len != sizeof(u)) {
        return 0;
    }
    if (u.nregs <= 1 || u.nfree == 0 || u.bin_nregs == 0) {
        return 0;
    }
    const char *cur = u.slabcur, *c = p;
    if (cur && c >= cur && c < cur + u.size) {
        return 0;
    }
    /* used / nregs < bin_used / bin_nregs, without division. */
    return (u.nregs - u.nfree) * u.bin_nregs < (u.bin_nregs - u.bin_nfree) * u.nregs;
}

static void *move_block(void *p, size_t size)
{
    void *q = mallocx(size, MALLOCX_TCACHE_NONE);
    if (!q) {
        oom(size);
    }
    memcpy(q, p, size);
    dallocx(p, MALLOCX_TCACHE_NONE);
    return q;
}
#else
int alloc_defrag_supported(void)
{
    return 0;
}

static int worth_moving(void *p)
{
    (void)p;
    return 0;
}

static void *move_block(void *p, size_t size)
{
    void *q = malloc(size);
    if (!q) {
        oom(size);
    }
    memcpy(q, p, size);
    free(p);
    return q;
}
#endif

void *alloc_defrag(void *p)
{
    if (!p) {
        return NULL;
    }
    if (!defrag_forced && !worth_moving(p)) {
        defrag_misses++;
        return NULL;
    }
    defrag_hits++;
    /* The whole usable block moves: callers may have used its slack. */
    return move_block(p, malloc_usable_size(p));
}

void *alloc_defrag_keep(void *p)
{
    void *moved = alloc_defrag(p);
    return moved ? moved : p;
}

void alloc_fail_after(long n)
{
    fail_countdown = n;
}
