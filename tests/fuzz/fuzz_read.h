/* fuzz_read: a whole file into memory, for the standalone drivers' seeds. */
#ifndef KEEL_FUZZ_READ_H
#define KEEL_FUZZ_READ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static inline uint8_t *fuzz_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    uint8_t *d = NULL;
    size_t cap = 0;
    *len = 0;
    for (;;) {
        if (*len == cap) {
            cap = cap ? cap * 2 : 4096;
            d = realloc(d, cap);
        }
        size_t n = fread(d + *len, 1, cap - *len, f);
        if (n == 0) {
            break;
        }
        *len += n;
    }
    fclose(f);
    return d;
}

#endif
