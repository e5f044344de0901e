/* intset unit test: Redis's serialized intsets (what RDB files and DUMP
 * payloads hold) as intset_blob_validate judges them: every width, empty
 * and full, lengths that disagree with the header, unsorted and duplicate
 * values; and random sets built with intset_add, whose own bytes must
 * validate with their count. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ds/intset.h"
#include "unit.h"

static size_t blob(unsigned char *out, uint32_t width, const int64_t *v, uint32_t n)
{
    for (int b = 0; b < 4; b++) {
        out[b] = (unsigned char)(width >> (8 * b));
        out[4 + b] = (unsigned char)(n >> (8 * b));
    }
    for (uint32_t i = 0; i < n; i++) {
        for (uint32_t b = 0; b < width; b++) {
            out[8 + i * width + b] = (unsigned char)((uint64_t)v[i] >> (8 * b));
        }
    }
    return 8 + (size_t)n * width;
}

static void test_blobs(void)
{
    unsigned char b[256];
    int64_t v2[] = {-32768, -1, 0, 5, 32767};
    size_t n = blob(b, 2, v2, 5);
    CHECK(intset_blob_validate(b, n) == 5);
    for (size_t i = 0; i < 5; i++) {
        CHECK(intset_blob_get(b, i) == v2[i]);
    }
    CHECK(intset_blob_validate(b, n - 1) == INTSET_BLOB_BAD); /* short */
    CHECK(intset_blob_validate(b, 7) == INTSET_BLOB_BAD);     /* no header */
    b[n] = 0;
    CHECK(intset_blob_validate(b, n + 1) == INTSET_BLOB_BAD); /* trailing byte */
    int64_t v8[] = {INT64_MIN, 0, INT64_MAX};
    n = blob(b, 8, v8, 3);
    CHECK(intset_blob_validate(b, n) == 3 && intset_blob_get(b, 0) == INT64_MIN && intset_blob_get(b, 2) == INT64_MAX);
    int64_t v4[] = {-70000, 70000};
    n = blob(b, 4, v4, 2);
    CHECK(intset_blob_validate(b, n) == 2);
    CHECK(intset_blob_validate(b, blob(b, 4, NULL, 0)) == 0);             /* empty */
    CHECK(intset_blob_validate(b, blob(b, 3, v4, 2)) == INTSET_BLOB_BAD); /* width 3 */
    CHECK(intset_blob_validate(b, blob(b, 16, v4, 0)) == INTSET_BLOB_BAD);
    int64_t unsorted[] = {1, 3, 2};
    CHECK(intset_blob_validate(b, blob(b, 2, unsorted, 3)) == INTSET_BLOB_UNSORTED);
    int64_t dup[] = {1, 1};
    CHECK(intset_blob_validate(b, blob(b, 2, dup, 2)) == INTSET_BLOB_UNSORTED);
    /* A count that would overflow 32 bits times the width. */
    blob(b, 8, NULL, 0);
    b[4] = b[5] = b[6] = b[7] = 0xff;
    CHECK(intset_blob_validate(b, 8) == INTSET_BLOB_BAD);
}

static void test_random_sets(void)
{
    srand(7);
    for (int round = 0; round < 200; round++) {
        intset *is = intset_new();
        int n = rand() % 300;
        for (int i = 0; i < n; i++) {
            int64_t v = (int64_t)rand() - RAND_MAX / 2;
            if (rand() % 8 == 0) {
                v *= 1000000007LL;
            }
            is = intset_add(is, v, NULL);
        }
        long long count = intset_blob_validate((const unsigned char *)is, intset_bytes(is));
        CHECK(count == (long long)intset_len(is));
        for (size_t i = 0; count > 0 && i < intset_len(is); i++) {
            CHECK(intset_blob_get((const unsigned char *)is, i) == intset_get(is, i));
        }
        intset_free(is);
    }
}

int main(void)
{
    test_blobs();
    test_random_sets();
    return unit_report("intset");
}
