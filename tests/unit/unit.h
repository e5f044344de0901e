/* unit: the tiny assertion helper the C unit tests share. Each test binary
 * ends with unit_report(), which prints "N passed, N failed". */
#ifndef KEEL_UNIT_H
#define KEEL_UNIT_H

#include <stdio.h>

static long unit_passed, unit_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            unit_passed++;                                                                         \
        } else {                                                                                   \
            unit_failed++;                                                                         \
            if (unit_failed < 20) {                                                                \
                fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);           \
            }                                                                                      \
        }                                                                                          \
    } while (0)

static inline int unit_report(const char *name)
{
    printf("%s: %ld checks passed, %ld failed\n", name, unit_passed, unit_failed);
    return unit_failed ? 1 : 0;
}

#endif
