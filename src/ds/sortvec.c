/* sortvec: SORT's order over item arrays (see sortvec.h). */
#include "ds/sortvec.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

size_t sortvec_clen(sv v)
{
    const char *z = memchr(v.ptr, '\0', v.len);
    return z ? (size_t)(z - v.ptr) : v.len;
}

/* ---- weights ---- */

/* Short plain integers take a direct path. */
int sortvec_weight(sv v, double *out)
{
    if (v.len > 0 && v.len <= 16) {
        size_t i = v.ptr[0] == '-' ? 1 : 0;
        if (i < v.len) {
            long long n = 0;
            size_t k = i;
            while (k < v.len && v.ptr[k] >= '0' && v.ptr[k] <= '9') {
                n = n * 10 + (v.ptr[k] - '0');
                k++;
            }
            if (k == v.len) {
                *out = (double)(i ? -n : n);
                return 1;
            }
        }
    }
    size_t n = sortvec_clen(v);
    char stack[128];
    char *z = n < sizeof(stack) ? stack : alloc_mem(n + 1);
    memcpy(z, v.ptr, n);
    z[n] = '\0';
    char *end;
    errno = 0;
    double d = strtod(z, &end);
    int ok = *end == '\0' && errno != ERANGE && !isnan(d);
    if (z != stack) {
        alloc_free(z);
    }
    *out = d;
    return ok;
}

/* ---- comparison sort (ALPHA, and short arrays) ---- */

static inline int bytes_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int r = memcmp(a, b, al < bl ? al : bl);
    if (r) {
        return r;
    }
    return al < bl ? -1 : al > bl;
}

static inline int item_cmp(const sortvec_item *a, const sortvec_item *b, int alpha, int desc)
{
    int r;
    if (!alpha) {
        if (a->u.score < b->u.score) {
            r = -1;
        } else if (a->u.score > b->u.score) {
            r = 1;
        } else {
            r = bytes_cmp(a->ele, a->elen, b->ele, b->elen);
        }
    } else if (!a->u.by.p || !b->u.by.p) {
        r = (a->u.by.p != NULL) - (b->u.by.p != NULL);
    } else {
        r = bytes_cmp(a->u.by.p, a->u.by.len, b->u.by.p, b->u.by.len);
    }
    return desc ? -r : r;
}

/* A stable merge sort: insertion-sorted runs, then merges between v and a
 * scratch array. */
#define SORT_RUN 16
static void items_sort(sortvec_item *v, size_t n, int alpha, int desc)
{
    for (size_t lo = 0; lo < n; lo += SORT_RUN) {
        size_t hi = lo + SORT_RUN < n ? lo + SORT_RUN : n;
        for (size_t i = lo + 1; i < hi; i++) {
            sortvec_item t = v[i];
            size_t j = i;
            while (j > lo && item_cmp(&v[j - 1], &t, alpha, desc) > 0) {
                v[j] = v[j - 1];
                j--;
            }
            v[j] = t;
        }
    }
    if (n <= SORT_RUN) {
        return;
    }
    sortvec_item *tmp = alloc_mem(sizeof(sortvec_item) * n);
    sortvec_item *src = v, *dst = tmp;
    for (size_t w = SORT_RUN; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n;
            size_t hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                dst[k++] = item_cmp(&src[j], &src[i], alpha, desc) < 0 ? src[j++] : src[i++];
            }
            while (i < mid) {
                dst[k++] = src[i++];
            }
            while (j < hi) {
                dst[k++] = src[j++];
            }
        }
        sortvec_item *t = src;
        src = dst;
        dst = t;
    }
    if (src != v) {
        memcpy(v, src, sizeof(sortvec_item) * n);
    }
    alloc_free(tmp);
}

/* ---- radix sort (numeric weights) ----
 *
 * Numeric weights are sorted by radix: each weight becomes an unsigned key
 * in the same order (sign bit flipped, negatives inverted; DESC inverts
 * all), sorted with byte-wise LSD passes (a pass whose byte is the same
 * for every key is skipped, so small integers take two or three), then
 * each run of equal weights is ordered by the members' bytes as the
 * comparison above would. No comparisons of random doubles, so no
 * mispredicted branches: several times faster than the merge sort. */
typedef struct radix_key {
    uint64_t k;
    size_t i;
} radix_key;

static uint64_t weight_key(double d, int desc)
{
    uint64_t u;
    if (d == 0) {
        d = 0; /* -0 and 0 are equal weights */
    }
    memcpy(&u, &d, sizeof(u));
    u = (u >> 63) ? ~u : u | (1ull << 63);
    return desc ? ~u : u;
}

static void radix_sort(sortvec_item *v, size_t n, int desc)
{
    radix_key *a = alloc_mem(sizeof(radix_key) * n * 2);
    radix_key *b = a + n;
    size_t(*count)[256] = alloc_zero(sizeof(size_t) * 256 * 8);
    for (size_t i = 0; i < n; i++) {
        uint64_t k = weight_key(v[i].u.score, desc);
        a[i].k = k;
        a[i].i = i;
        for (int d = 0; d < 8; d++) {
            count[d][(k >> (8 * d)) & 0xff]++;
        }
    }
    for (int d = 0; d < 8; d++) {
        if (count[d][(a[0].k >> (8 * d)) & 0xff] == n) {
            continue; /* every key has this byte */
        }
        size_t sum = 0;
        for (int j = 0; j < 256; j++) {
            size_t t = count[d][j];
            count[d][j] = sum;
            sum += t;
        }
        for (size_t i = 0; i < n; i++) {
            b[count[d][(a[i].k >> (8 * d)) & 0xff]++] = a[i];
        }
        radix_key *t = a;
        a = b;
        b = t;
    }
    sortvec_item *out = alloc_mem(sizeof(sortvec_item) * n);
    for (size_t i = 0; i < n; i++) {
        out[i] = v[a[i].i];
    }
    /* Equal weights: by the members' bytes (reversed for DESC). */
    for (size_t lo = 0; lo < n;) {
        size_t hi = lo + 1;
        while (hi < n && a[hi].k == a[lo].k) {
            hi++;
        }
        if (hi - lo > 1) {
            items_sort(out + lo, hi - lo, 0, desc);
        }
        lo = hi;
    }
    memcpy(v, out, sizeof(sortvec_item) * n);
    alloc_free(out);
    alloc_free(count);
    alloc_free(a < b ? a : b);
}

void sortvec_sort(sortvec_item *v, size_t n, int alpha, int desc)
{
    if (!alpha && n > SORT_RUN) {
        radix_sort(v, n, desc);
    } else {
        items_sort(v, n, alpha, desc);
    }
}
