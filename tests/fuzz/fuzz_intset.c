/* fuzz_intset: the intset validator (src/ds/intset.c, for the intsets RDB
 * files and DUMP payloads hold) and Keel's intset under arbitrary bytes.
 *
 * Each input is used twice:
 *  - as a blob: intset_blob_validate on an exact-size copy; when it
 *    accepts, the values must be strictly ascending, and the intset built
 *    from them must hold the same values in the same order and find each;
 *  - as a recipe: its bytes are adds, removes and lookups of values of
 *    every width on a Keel intset, checked after each step against a
 *    sorted-array model; the intset's own bytes must then validate as a
 *    blob with the model's count.
 * The sanitizers catch any read outside the blob.
 *
 * Built with clang -fsanitize=fuzzer this is a libFuzzer target; built
 * with -DFUZZ_STANDALONE it runs fuzz_main.h's driver. By hand:
 *   make build/fuzz/fuzz_intset
 *   build/fuzz/fuzz_intset -max_total_time=60 build/fuzz/corpus_intset tests/fuzz/corpus_intset */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "ds/intset.h"

#define MODEL_MAX 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
    fprintf(stderr, "fuzz_intset: invariant broken: %s\n", what);
    abort();
}

static void check_blob(const uint8_t *data, size_t size)
{
    /* An exact-size copy: a read past the end is a sanitizer report. */
    unsigned char *p = malloc(size ? size : 1);
    memcpy(p, data, size);
    long long n = intset_blob_validate(p, size);
    if (n >= 0) {
        if ((size_t)n * 2 + 8 > size) {
            die("accepted a count the bytes cannot hold");
        }
        intset *is = intset_new();
        for (long long i = 0; i < n; i++) {
            int64_t v = intset_blob_get(p, (size_t)i);
            if (i > 0 && v <= intset_blob_get(p, (size_t)i - 1)) {
                die("accepted values out of order");
            }
            int added;
            is = intset_add(is, v, &added);
            if (!added) {
                die("accepted a duplicate");
            }
        }
        if (intset_len(is) != (size_t)n) {
            die("count differs from the values read");
        }
        for (long long i = 0; i < n; i++) {
            int64_t v = intset_blob_get(p, (size_t)i);
            if (intset_get(is, (size_t)i) != v || !intset_find(is, v)) {
                die("intset built from the blob disagrees");
            }
        }
        intset_free(is);
    }
    free(p);
}

/* A value of the width the selector asks for, from the next bytes. */
static int64_t take_value(const uint8_t *data, size_t size, size_t *pos, uint8_t sel)
{
    static const int64_t edges[] = {
        0, 1, -1, 32767, -32768, 32768, -32769, 2147483647, -2147483648LL, 2147483648LL, INT64_MAX, INT64_MIN};
    if ((sel & 3) == 3) {
        return edges[(sel >> 2) % (sizeof(edges) / sizeof(edges[0]))];
    }
    int bytes = sel & 3 ? (sel & 3) * 4 : 2; /* 2, 4 or 8 */
    uint64_t u = 0;
    for (int b = 0; b < bytes && *pos < size; b++) {
        u |= (uint64_t)data[(*pos)++] << (8 * b);
    }
    return bytes == 2 ? (int16_t)u : bytes == 4 ? (int32_t)u : (int64_t)u;
}

static size_t model_pos(const int64_t *m, size_t n, int64_t v)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m[mid] < v) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static void run_recipe(const uint8_t *data, size_t size)
{
    static int64_t model[MODEL_MAX];
    size_t n = 0, pos = 0;
    intset *is = intset_new();
    while (pos < size) {
        uint8_t op = data[pos++];
        int64_t v = take_value(data, size, &pos, op >> 2);
        size_t at = model_pos(model, n, v);
        int present = at < n && model[at] == v;
        switch (op & 3) {
        case 0:
        case 1: {
            if (!present && n == MODEL_MAX) {
                break;
            }
            int added;
            is = intset_add(is, v, &added);
            if (added == present) {
                die("add disagrees with the model");
            }
            if (!present) {
                memmove(model + at + 1, model + at, (n - at) * sizeof(int64_t));
                model[at] = v;
                n++;
            }
            break;
        }
        case 2: {
            int removed;
            is = intset_remove(is, v, &removed);
            if (removed != present) {
                die("remove disagrees with the model");
            }
            if (present) {
                memmove(model + at, model + at + 1, (n - at - 1) * sizeof(int64_t));
                n--;
            }
            break;
        }
        default:
            if (intset_find(is, v) != present) {
                die("find disagrees with the model");
            }
        }
        if (intset_len(is) != n || (n && (intset_min(is) != model[0] || intset_max(is) != model[n - 1]))) {
            die("length or bounds disagree with the model");
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (intset_get(is, i) != model[i]) {
            die("contents disagree with the model");
        }
    }
    /* Keel's intset is the serialized form itself (little endian). */
    if (intset_blob_validate((const unsigned char *)is, intset_bytes(is)) != (long long)n) {
        die("an intset's own bytes do not validate");
    }
    intset_free(is);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_blob(data, size);
    run_recipe(data, size);
    return 0;
}

#include "fuzz_main.h"
