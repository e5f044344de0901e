/* alloc unit test: the used-memory count stays exact, block by block,
 * whether a size comes from the allocator's size classes or from the block
 * itself: every size from 1 byte to 4 MB (small, large and huge classes),
 * grown and shrunk in place and by moving, freed with and without the
 * size, and back to the starting count at the end. */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>

#include "base/alloc.h"
#include "base/util.h"
#include "unit.h"

static size_t next_size(size_t n)
{
    return n < 64 ? n + 1 : n + n / 7 + (size_t)(util_rand64() % 17);
}

int main(void)
{
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
