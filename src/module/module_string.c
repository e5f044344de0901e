/* module_string: the API's strings (RedisModuleString): reference counted
 * byte strings, made by the module or handed to it as arguments. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "module/module_int.h"

km_string *km_string_new(km_ctx *ctx, const char *p, size_t len)
{
    km_string *s = alloc_mem(sizeof(*s));
    s->s = str_new(p, len);
    s->refs = 1;
    km_auto_add(ctx, KAUTO_STRING, s);
    return s;
}

void km_string_release(km_ctx *ctx, km_string *s)
{
    if (!s) {
        return;
    }
    km_auto_forget(ctx, s);
    if (--s->refs == 0) {
        str_free(s->s);
        alloc_free(s);
    }
}

static km_string *api_create_string(km_ctx *ctx, const char *p, size_t len)
{
    return km_string_new(ctx, p, len);
}

static km_string *api_create_string_from_long_long(km_ctx *ctx, long long v)
{
    char buf[32];
    int n = util_ll2str(buf, v);
    return km_string_new(ctx, buf, (size_t)n);
}

static km_string *api_create_string_from_double(km_ctx *ctx, double v)
{
    char buf[64];
    int n = util_d2str(buf, v);
    return km_string_new(ctx, buf, (size_t)n);
}

static km_string *api_create_string_from_ulong_long(km_ctx *ctx, unsigned long long v)
{
    char buf[32];
    int n = util_ull2str(buf, v);
    return km_string_new(ctx, buf, (size_t)n);
}

/* As INCRBYFLOAT writes it (humanfriendly), or %.17Lg; "inf"/"-inf". */
static km_string *api_create_string_from_long_double(km_ctx *ctx, long double v, int humanfriendly)
{
    char buf[5200];
    int n;
    if (isinf(v)) {
        n = snprintf(buf, sizeof(buf), "%s", v > 0 ? "inf" : "-inf");
    } else if (humanfriendly) {
        n = util_ld2str(buf, sizeof(buf), v);
    } else {
        n = snprintf(buf, sizeof(buf), "%.17Lg", v);
    }
    return km_string_new(ctx, buf, n > 0 && (size_t)n < sizeof(buf) ? (size_t)n : 0);
}

static km_string *api_create_string_from_string(km_ctx *ctx, const km_string *s)
{
    return km_string_new(ctx, s->s, str_len(s->s));
}

static km_string *api_create_string_printf(km_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    km_string *s;
    if (n < 0) {
        s = km_string_new(ctx, "", 0);
    } else if ((size_t)n < sizeof(small)) {
        s = km_string_new(ctx, small, (size_t)n);
    } else {
        char *big = alloc_mem((size_t)n + 1);
        vsnprintf(big, (size_t)n + 1, fmt, ap2);
        s = km_string_new(ctx, big, (size_t)n);
        alloc_free(big);
    }
    va_end(ap2);
    return s;
}

static void api_free_string(km_ctx *ctx, km_string *s)
{
    km_string_release(ctx, s);
}

/* The module keeps s beyond its context: one more reference, and an
 * auto-memory context no longer frees it. */
static void api_retain_string(km_ctx *ctx, km_string *s)
{
    if (!s) {
        return;
    }
    /* One the context would free at its end becomes the module's; any
     * other gets a reference more. */
    if (!km_auto_forget(ctx, s)) {
        s->refs++;
    }
}

/* One more reference, which an auto-memory context drops at its end (the
 * caller may free it sooner), as in Redis. */
static km_string *api_hold_string(km_ctx *ctx, km_string *s)
{
    if (!s) {
        return NULL;
    }
    s->refs++;
    km_auto_add(ctx, KAUTO_STRING, s);
    return s;
}

static const char *api_string_ptr_len(const km_string *s, size_t *len)
{
    static const char null_text[] = "(NULL string reply referenced in module)";
    if (!s) {
        if (len) {
            *len = sizeof(null_text) - 1;
        }
        return null_text;
    }
    if (len) {
        *len = str_len(s->s);
    }
    return s->s;
}

static int api_string_to_long_long(const km_string *s, long long *out)
{
    return s && util_parse_ll(s->s, str_len(s->s), out) ? KM_OK : KM_ERR;
}

/* As Redis reads a double argument: all of strtod's syntax (hex, a leading
 * '+', leading zeros), but no space first, nothing after, no NaN, and no
 * overflow or underflow. */
static int api_string_to_double(const km_string *s, double *out)
{
    size_t len = s ? str_len(s->s) : 0;
    if (len == 0 || isspace((unsigned char)s->s[0])) {
        return KM_ERR;
    }
    char *end;
    errno = 0;
    double v = strtod(s->s, &end);
    if ((size_t)(end - s->s) != len || isnan(v) ||
        (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || fpclassify(v) == FP_ZERO))) {
        return KM_ERR;
    }
    *out = v;
    return KM_OK;
}

/* A decimal in unsigned long long's range, read as Redis reads it
 * (strtoull's syntax: leading spaces, a '+', "-0"), except that a
 * negative number is refused rather than wrapped around. */
static int api_string_to_ulong_long(const km_string *s, unsigned long long *out)
{
    size_t len = s ? str_len(s->s) : 0;
    long long ll;
    if (len && util_parse_ll(s->s, len, &ll)) {
        if (ll < 0) {
            return KM_ERR;
        }
        *out = (unsigned long long)ll;
        return KM_OK;
    }
    if (len == 0 || memchr(s->s, '\0', len)) {
        return KM_ERR;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s->s, &end, 10);
    const char *first = s->s + strspn(s->s, " \t\n\v\f\r");
    if (errno || (size_t)(end - s->s) != len || end == first || (*first == '-' && v != 0)) {
        return KM_ERR;
    }
    *out = v;
    return KM_OK;
}

static int api_string_to_long_double(const km_string *s, long double *out)
{
    return s && util_parse_long_double(s->s, str_len(s->s), out) ? KM_OK : KM_ERR;
}

static int api_string_compare(const km_string *a, const km_string *b)
{
    return sv_cmp((sv){a->s, str_len(a->s)}, (sv){b->s, str_len(b->s)});
}

static int api_string_append_buffer(km_ctx *ctx, km_string *s, const char *buf, size_t len)
{
    (void)ctx;
    s->s = str_append(s->s, buf, len);
    return KM_OK;
}

static void api_trim_string_allocation(km_string *s)
{
    (void)s;
}

const km_api_entry km_api_string[] = {{"CreateString", api_create_string},
                                      {"CreateStringFromLongLong", api_create_string_from_long_long},
                                      {"CreateStringFromDouble", api_create_string_from_double},
                                      {"CreateStringFromULongLong", api_create_string_from_ulong_long},
                                      {"CreateStringFromLongDouble", api_create_string_from_long_double},
                                      {"StringToULongLong", api_string_to_ulong_long},
                                      {"StringToLongDouble", api_string_to_long_double},
                                      {"CreateStringFromString", api_create_string_from_string},
                                      {"CreateStringPrintf", api_create_string_printf},
                                      {"FreeString", api_free_string},
                                      {"RetainString", api_retain_string},
                                      {"HoldString", api_hold_string},
                                      {"StringPtrLen", api_string_ptr_len},
                                      {"StringToLongLong", api_string_to_long_long},
                                      {"StringToDouble", api_string_to_double},
                                      {"StringCompare", api_string_compare},
                                      {"StringAppendBuffer", api_string_append_buffer},
                                      {"TrimStringAllocation", api_trim_string_allocation},
                                      {NULL, NULL}};
