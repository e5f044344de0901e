/* alloc unit test: the used-memory count stays exact, block by block,
 * whether a size comes from the allocator's size classes or from the block
 * itself: every size from 1 byte to 4 MB (small, large and huge classes),
 * grown and shrunk in place and by moving, freed with and without the
 * size, and back to the starting count at the end. Then a block grown and
 * shrunk a byte at a time, as a listpack is: the count stays exact and the
 * bytes survive, whether or not a step leaves the size class. */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "unit.h"

static size_t next_size(size_t n)
{
    return n < 64 ? n + 1 : n + n / 7 + (size_t)(util_rand64() % 17);
}

static void test_byte_steps(void)
{
    size_t base = alloc_used();
    size_t top = 20000;
    unsigned char *p = alloc_mem(1);
    p[0] = 0;
    int exact = 1, intact = 1, stayed = 0, moved = 0;
    for (size_t n = 2; n <= top; n++) {
        unsigned char *q = alloc_resize(p, n);
        q[n - 1] = (unsigned char)(n - 1);
        exact &= alloc_used() - base == malloc_usable_size(q);
        stayed += q == p;
        moved += q != p;
        p = q;
    }
    for (size_t i = 0; i < top; i++) {
        intact &= p[i] == (unsigned char)i;
    }
    for (size_t n = top - 1; n >= 1; n--) {
        p = alloc_resize(p, n);
        exact &= alloc_used() - base == malloc_usable_size(p);
        intact &= p[n - 1] == (unsigned char)(n - 1) && p[0] == 0;
    }
    CHECK(exact);
    CHECK(intact);
    CHECK(moved > 0);
#ifdef KEEL_JEMALLOC
    /* Size classes are at most a quarter apart: most steps stay put. */
    CHECK(stayed > (int)top * 9 / 10);
#else
    (void)stayed;
#endif
    alloc_free(p);
    CHECK(alloc_used() == base);
}

int main(void)
{
    test_byte_steps();
    size_t base = alloc_used();
    int exact = 0, checks = 0;
    for (size_t n = 1; n <= ((size_t)4 << 20); n = next_size(n)) {
        size_t before = alloc_used();
        void *p = (n & 1) ? alloc_mem(n) : alloc_zero(n);
        exact += alloc_used() - before == malloc_usable_size(p);
        /* Grow (often moving), then shrink (often in place). */
        size_t grown = n * 3 + 5;
        p = alloc_resize(p, grown);
        exact += alloc_used() - before == malloc_usable_size(p);
        p = alloc_resize_sized(p, grown, n / 2 + 1);
        exact += alloc_used() - before == malloc_usable_size(p);
        if (n % 3 == 0) {
            alloc_free(p);
        } else {
            alloc_free_sized(p, n / 2 + 1);
        }
        exact += alloc_used() == before;
        checks += 4;
    }
    CHECK(exact == checks);
    CHECK(alloc_used() == base);
    printf("alloc: %d size steps checked\n", checks / 4);
    return unit_report("alloc");
}
