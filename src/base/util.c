/* util: small, dependency-free helpers shared by every layer. */
#include "base/util.h"

#include "base/alloc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* ---- numbers ---- */

int util_parse_ll(const char *s, size_t len, long long *out)
{
    if (len == 0 || len > 20) {
        return 0;
    }
    size_t i = 0;
    int neg = 0;
    if (s[0] == '-') {
        neg = 1;
        i = 1;
        if (len == 1) {
            return 0;
        }
    }
    if (s[i] == '0' && len > i + 1) {
        return 0; /* no leading zeros, so the text round-trips */
    }
    if (neg && s[i] == '0') {
        return 0; /* "-0" is not an integer Redis accepts */
    }
    unsigned long long v = 0;
    /* 19 digits cannot overflow 64 bits: check for overflow only past that. */
    size_t safe = len - i <= 19 ? len : i + 19;
    for (; i < safe; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10) {
            return 0;
        }
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1) {
            return 0;
        }
        *out = (long long)(0 - v);
    } else {
        if (v > (unsigned long long)LLONG_MAX) {
            return 0;
        }
        *out = (long long)v;
    }
    return 1;
}

int util_parse_double(const char *s, size_t len, double *out)
{
    /* strtod needs a terminated copy; DBL_MAX written out in full with
     * decimals ("1797...368.00000") is over 300 bytes, so long inputs get a
     * heap copy rather than a refusal. */
    char small[256];
    if (len == 0 || isspace((unsigned char)s[0]) || memchr(s, '\0', len)) {
        return 0;
    }
    /* Plain integers of up to 15 digits (scores, timestamps) are exact in
     * a double: no need for strtod. */
    size_t i = s[0] == '-';
    if (len - i >= 1 && len - i <= 15) {
        long long v = 0;
        size_t j = i;
        while (j < len && s[j] >= '0' && s[j] <= '9') {
            v = v * 10 + (s[j++] - '0');
        }
        if (j == len) {
            *out = i ? -(double)v : (double)v;
            return 1;
        }
    }
    char *buf = len < sizeof(small) ? small : alloc_mem(len + 1);
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    int ok = end == buf + len && !isnan(v) && !(errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || v == 0));
    if (buf != small) {
        alloc_free(buf);
    }
    if (ok) {
        *out = v;
    }
    return ok;
}

int util_parse_long_double(const char *s, size_t len, long double *out)
{
    char buf[5 * 1024];
    if (len == 0 || len >= sizeof(buf) || isspace((unsigned char)s[0]) || memchr(s, '\0', len)) {
        return 0;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    long double v = strtold(buf, &end);
    if (end != buf + len || isnan(v) || errno == ERANGE) {
        return 0;
    }
    *out = v;
    return 1;
}

/* "00".."99": two digits per division, which halves the divisions of the
 * plain loop (reply headers and integer replies format one per element). */
static const char digit_pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                  "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                  "8081828384858687888990919293949596979899";

static int digits10(unsigned long long u)
{
    int n = 1;
    for (;;) {
        if (u < 10) {
            return n;
        }
        if (u < 100) {
            return n + 1;
        }
        if (u < 1000) {
            return n + 2;
        }
        if (u < 10000) {
            return n + 3;
        }
        u /= 10000;
        n += 4;
    }
}

int util_ull2str(char *buf, unsigned long long u)
{
    int len = digits10(u);
    char *p = buf + len;
    *p = '\0';
    while (u >= 100) {
        unsigned i = (unsigned)(u % 100) * 2;
        u /= 100;
        *--p = digit_pairs[i + 1];
        *--p = digit_pairs[i];
    }
    if (u >= 10) {
        unsigned i = (unsigned)u * 2;
        *--p = digit_pairs[i + 1];
        *--p = digit_pairs[i];
    } else {
        *--p = (char)('0' + u);
    }
    return len;
}

int util_ll2str(char *buf, long long v)
{
    if (v < 0) {
        buf[0] = '-';
        return 1 + util_ull2str(buf + 1, 0 - (unsigned long long)v);
    }
    return util_ull2str(buf, (unsigned long long)v);
}

/* Fast path for values that are a short decimal n / 10^k (integers,
 * prices, millisecond timestamps, most scores): finds the smallest k whose
 * n reads back as v, checked exactly (n < 2^53 and 10^k <= 10^19 are exact,
 * and IEEE division rounds like strtod does). Within these bounds the
 * digits are those of the slow path, only 10x cheaper. Writes |v|'s
 * significant digits and returns their count, with *exp10 the power of ten
 * of the last one; -1 when it does not apply. */
static int d2digits_short(double v, char *digits, int *exp10)
{
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,
                                   1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19};
    double a = fabs(v);
    if (!(a >= 1e-4 && a < 1e15)) {
        return -1;
    }
    for (int k = 0; k < 20; k++) {
        double m = a * pow10[k];
        if (m >= 1e15) {
            return -1; /* more than 15 significant digits */
        }
        long long n = llround(m);
        if ((double)n / pow10[k] != a) {
            continue;
        }
        int nd = util_ll2str(digits, n);
        *exp10 = -k;
        while (nd > 1 && digits[nd - 1] == '0') {
            nd--;
            (*exp10)++;
        }
        return nd;
    }
    return -1;
}

/* The same for any finite nonzero v: the shortest of %.15e..%.17e that
 * reads back exactly (any text of at most 15 significant digits survives
 * a round trip through a double, DBL_DIG; subnormals carry fewer digits,
 * so their search starts at 1). */
static int d2digits(double v, char *digits, int *exp10)
{
    char buf[40];
    for (int prec = fabs(v) < DBL_MIN ? 1 : 15;; prec++) {
        snprintf(buf, sizeof(buf), "%.*e", prec - 1, fabs(v));
        if (strtod(buf, NULL) == fabs(v) || prec == 17) {
            break;
        }
    }
    int nd = 0;
    const char *p = buf;
    for (; *p != 'e'; p++) {
        if (*p != '.') {
            digits[nd++] = *p;
        }
    }
    int e = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') {
        nd--;
    }
    *exp10 = e - (nd - 1);
    return nd;
}

/* Redis 7.2's layout of the digits d[0..nd) times 10^k (as its fpconv
 * lays them out):
 * a plain integer up to 7 zeros past the digits; a plain decimal when the
 * fraction has fewer than 7 digits or the point sits within the first 4
 * places; otherwise d.ddde+X, the exponent without padding. */
static int d2str_layout(char *buf, int neg, const char *d, int nd, int k)
{
    int len = 0, e = k + nd - 1, ae = e < 0 ? -e : e;
    if (neg) {
        buf[len++] = '-';
    }
    if (k >= 0 && ae < nd + 7) {
        memcpy(buf + len, d, (size_t)nd);
        len += nd;
        memset(buf + len, '0', (size_t)k);
        len += k;
    } else if (k < 0 && (k > -7 || ae < 4)) {
        int point = nd + k; /* digits before the point */
        if (point <= 0) {
            buf[len++] = '0';
            buf[len++] = '.';
            memset(buf + len, '0', (size_t)-point);
            len += -point;
            memcpy(buf + len, d, (size_t)nd);
            len += nd;
        } else {
            memcpy(buf + len, d, (size_t)point);
            len += point;
            buf[len++] = '.';
            memcpy(buf + len, d + point, (size_t)(nd - point));
            len += nd - point;
        }
    } else {
        buf[len++] = d[0];
        if (nd > 1) {
            buf[len++] = '.';
            memcpy(buf + len, d + 1, (size_t)(nd - 1));
            len += nd - 1;
        }
        len += sprintf(buf + len, "e%c%d", e < 0 ? '-' : '+', ae);
    }
    buf[len] = '\0';
    return len;
}

int util_d2str(char *buf, double v)
{
    if (isinf(v)) {
        return sprintf(buf, v > 0 ? "inf" : "-inf");
    }
    if (isnan(v)) {
        return sprintf(buf, "nan");
    }
    if (v == 0) {
        return sprintf(buf, signbit(v) ? "-0" : "0");
    }
    /* Integers within half of long long's range print as integers (as
     * Redis 7.2+ does: 100000000, not 1e+8). */
    if (v >= (double)(-LLONG_MAX / 2) && v <= (double)(LLONG_MAX / 2) && v == (double)(long long)v) {
        return util_ll2str(buf, (long long)v);
    }
    char digits[24];
    int k, nd = d2digits_short(v, digits, &k);
    if (nd < 0) {
        nd = d2digits(v, digits, &k);
    }
    return d2str_layout(buf, v < 0, digits, nd, k);
}

int util_ld2str(char *buf, size_t cap, long double v)
{
    if (isinf(v) || isnan(v)) {
        return -1;
    }
    int n = snprintf(buf, cap, "%.17Lf", v);
    if (n < 0 || (size_t)n >= cap) {
        return -1;
    }
    /* Trim trailing zeros and a bare trailing dot. */
    if (strchr(buf, '.')) {
        while (n > 0 && buf[n - 1] == '0') {
            n--;
        }
        if (n > 0 && buf[n - 1] == '.') {
            n--;
        }
        buf[n] = '\0';
    }
    if (n == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        buf[1] = '\0';
        n = 1;
    }
    return n;
}

/* ---- glob ---- */

static int lower_if(int c, int nocase)
{
    return nocase ? tolower(c) : c;
}

/* Matches a [...] class at pat (just past '['); advances *pp past ']'. */
static int match_class(const char **pp, const char *pend, int c, int nocase)
{
    const char *p = *pp;
    int neg = 0, hit = 0;
    if (p < pend && *p == '^') {
        neg = 1;
        p++;
    }
    while (p < pend && *p != ']') {
        if (*p == '\\' && p + 1 < pend) {
            p++;
            if (lower_if((unsigned char)*p, nocase) == lower_if(c, nocase)) {
                hit = 1;
            }
            p++;
        } else if (p + 2 < pend && p[1] == '-') { /* as Redis: "[0-]" is '0' to ']' */
            int a = lower_if((unsigned char)p[0], nocase), b = lower_if((unsigned char)p[2], nocase);
            int x = lower_if(c, nocase);
            if (a > b) {
                int t = a;
                a = b;
                b = t;
            }
            if (x >= a && x <= b) {
                hit = 1;
            }
            p += 3;
        } else {
            if (lower_if((unsigned char)*p, nocase) == lower_if(c, nocase)) {
                hit = 1;
            }
            p++;
        }
    }
    if (p < pend) {
        p++; /* skip ']' */
    }
    *pp = p;
    return neg ? !hit : hit;
}

/* Iterative matcher with single-star backtracking: on mismatch we resume
 * after the most recent '*', which keeps the work O(len(p) * len(s)) even
 * for patterns built to be slow. */
int util_glob_match(const char *pat, size_t plen, const char *s, size_t slen, int nocase)
{
    const char *p = pat, *pend = pat + plen;
    const char *str = s, *send = s + slen;
    const char *star_p = NULL, *star_s = NULL;
    if (slen == 0) {
        /* Redis's matcher matches an empty string with the empty pattern
         * only, not even with "*": PSUBSCRIBE * gets nothing PUBLISHed to
         * "". KEYS and the SCANs treat a lone "*" as match-all before
         * matching, as Redis does. */
        return plen == 0;
    }
    while (str < send) {
        if (p < pend && *p == '*') {
            while (p < pend && *p == '*') {
                p++;
            }
            if (p == pend) {
                return 1;
            }
            star_p = p;
            star_s = str;
            continue;
        }
        if (p < pend) {
            int ok;
            const char *next = p;
            if (*p == '?') {
                ok = 1;
                next = p + 1;
            } else if (*p == '[') {
                next = p + 1;
                ok = match_class(&next, pend, (unsigned char)*str, nocase);
            } else if (*p == '\\' && p + 1 < pend) {
                ok = lower_if((unsigned char)p[1], nocase) == lower_if((unsigned char)*str, nocase);
                next = p + 2;
            } else {
                ok = lower_if((unsigned char)*p, nocase) == lower_if((unsigned char)*str, nocase);
                next = p + 1;
            }
            if (ok) {
                p = next;
                str++;
                continue;
            }
        }
        if (!star_p) {
            return 0;
        }
        p = star_p;
        str = ++star_s;
    }
    while (p < pend && *p == '*') {
        p++;
    }
    return p == pend;
}

/* ---- clocks ---- */

int64_t util_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

int64_t util_ms(void)
{
    return util_us() / 1000;
}

int64_t util_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- SipHash-1-3 ---- */

static uint8_t hash_key[16];

void util_hash_seed(const uint8_t key[16])
{
    memcpy(hash_key, key, 16);
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                                       \
    do {                                                                                                               \
        v0 += v1;                                                                                                      \
        v1 = ROTL(v1, 13);                                                                                             \
        v1 ^= v0;                                                                                                      \
        v0 = ROTL(v0, 32);                                                                                             \
        v2 += v3;                                                                                                      \
        v3 = ROTL(v3, 16);                                                                                             \
        v3 ^= v2;                                                                                                      \
        v0 += v3;                                                                                                      \
        v3 = ROTL(v3, 21);                                                                                             \
        v3 ^= v0;                                                                                                      \
        v2 += v1;                                                                                                      \
        v1 = ROTL(v1, 17);                                                                                             \
        v1 ^= v2;                                                                                                      \
        v2 = ROTL(v2, 32);                                                                                             \
    } while (0)

/* ASCII A-Z to a-z in all eight bytes at once: a byte is upper case when
 * adding 0x3f to its low 7 bits carries into bit 7 (>= 'A') and adding
 * 0x25 does not (<= 'Z'), and its own bit 7 is clear. */
static uint64_t lower64(uint64_t x)
{
    uint64_t low7 = x & 0x7f7f7f7f7f7f7f7fULL;
    uint64_t ge_a = low7 + 0x3f3f3f3f3f3f3f3fULL;
    uint64_t gt_z = low7 + 0x2525252525252525ULL;
    uint64_t upper = ge_a & ~gt_z & ~x & 0x8080808080808080ULL;
    return x | (upper >> 2);
}

/* Eight bytes, little endian, lower-cased for the nocase hash. */
static uint64_t load64(const uint8_t *p, int nocase)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return nocase ? lower64(v) : v;
}

static uint64_t siphash(const uint8_t *in, size_t len, int nocase)
{
    uint64_t k0 = load64(hash_key, 0), k1 = load64(hash_key + 8, 0);
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
    uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
    uint64_t v3 = 0x7465646279746573ULL ^ k1;
    uint64_t b = (uint64_t)len << 56;
    const uint8_t *end = in + (len & ~(size_t)7);
    for (; in != end; in += 8) {
        uint64_t m = load64(in, nocase);
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t t = 0;
    for (int i = (int)(len & 7) - 1; i >= 0; i--) {
        t = (t << 8) | (uint64_t)(nocase ? tolower(in[i]) : in[i]);
    }
    b |= t;
    v3 ^= b;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t util_hash(const void *p, size_t len)
{
    return siphash(p, len, 0);
}

uint64_t util_hash_nocase(const void *p, size_t len)
{
    return siphash(p, len, 1);
}

uint64_t util_hash_stable(const void *p, size_t len, uint64_t seed)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ s[i]) * 1099511628211ULL;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

/* ---- random ---- */

static uint64_t rand_state = 0x9E3779B97F4A7C15ULL;

void util_rand_seed(uint64_t seed)
{
    rand_state = seed ? seed : 0x9E3779B97F4A7C15ULL;
}

/* splitmix64: tiny, fast, good enough for sampling and SPOP. */
uint64_t util_rand64(void)
{
    uint64_t z = (rand_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void util_os_random(void *buf, size_t len)
{
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    size_t got = 0;
    if (fd >= 0) {
        while (got < len) {
            ssize_t n = read(fd, (char *)buf + got, len - got);
            if (n <= 0) {
                break;
            }
            got += (size_t)n;
        }
        close(fd);
    }
    for (; got < len; got++) {
        ((uint8_t *)buf)[got] = (uint8_t)(util_rand64() ^ (uint64_t)util_us());
    }
}

void util_bytes_human(char *buf, size_t cap, unsigned long long n)
{
    double d = (double)n;
    if (n < 1024) {
        snprintf(buf, cap, "%lluB", n);
    } else if (n < 1024ULL * 1024) {
        snprintf(buf, cap, "%.2fK", d / 1024);
    } else if (n < 1024ULL * 1024 * 1024) {
        snprintf(buf, cap, "%.2fM", d / (1024.0 * 1024));
    } else if (n < 1024ULL * 1024 * 1024 * 1024) {
        snprintf(buf, cap, "%.2fG", d / (1024.0 * 1024 * 1024));
    } else {
        snprintf(buf, cap, "%.2fT", d / (1024.0 * 1024 * 1024 * 1024));
    }
}

int util_parse_memory(const char *s, long long *out)
{
    size_t len = strlen(s);
    size_t digits = len;
    long long mul = 1;
    static const struct {
        const char *suffix;
        long long mul;
    } units[] = {{"kb", 1024},       {"k", 1000},       {"mb", 1024LL * 1024},
                 {"m", 1000 * 1000}, {"gb", 1LL << 30}, {"g", 1000LL * 1000 * 1000},
                 {"b", 1},           {NULL, 0}};
    for (int i = 0; units[i].suffix; i++) {
        size_t sl = strlen(units[i].suffix);
        if (len > sl && strcasecmp(s + len - sl, units[i].suffix) == 0 && isdigit((unsigned char)s[len - sl - 1])) {
            digits = len - sl;
            mul = units[i].mul;
            break;
        }
    }
    long long v;
    if (!util_parse_ll(s, digits, &v) || v < 0) {
        return 0;
    }
    if (v > LLONG_MAX / mul) {
        return 0;
    }
    *out = v * mul;
    return 1;
}
