/* str: growable strings with a hidden header before the bytes. */
#include "base/str.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"

typedef struct str_hdr {
    size_t len;
    size_t cap;
} str_hdr;

#define HDR(s) ((str_hdr *)((s) - sizeof(str_hdr)))

static str str_alloc(size_t cap)
{
    str_hdr *h = alloc_mem(sizeof(str_hdr) + cap + 1);
    /* Use whatever the size class gave us. */
    h->cap = alloc_usable(h) - sizeof(str_hdr) - 1;
    h->len = 0;
    str s = (char *)(h + 1);
    s[0] = '\0';
    return s;
}

str str_new(const char *p, size_t len)
{
    str s = str_alloc(len);
    if (len) {
        memcpy(s, p, len);
    }
    HDR(s)->len = len;
    s[len] = '\0';
    return s;
}

str str_empty(size_t reserve)
{
    return str_alloc(reserve);
}

str str_from_ll(long long v)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%lld", v);
    return str_new(buf, (size_t)n);
}

str str_dup(const str s)
{
    return str_new(s, str_len(s));
}

void str_free(str s)
{
    if (s) {
        alloc_free(HDR(s));
    }
}

str str_defrag(str s)
{
    if (!s) {
        return NULL;
    }
    str_hdr *h = alloc_defrag(HDR(s));
    return h ? (char *)h + sizeof(str_hdr) : NULL;
}

size_t str_len(const str s)
{
    return HDR(s)->len;
}

size_t str_cap(const str s)
{
    return HDR(s)->cap;
}

str str_reserve(str s, size_t extra)
{
    str_hdr *h = HDR(s);
    if (h->cap - h->len >= extra) {
        return s;
    }
    size_t need = h->len + extra;
    /* Double small strings, grow big ones by 1 MiB steps to bound waste. */
    size_t cap = need < (1u << 20) ? need * 2 : need + (1u << 20);
    h = alloc_resize(h, sizeof(str_hdr) + cap + 1);
    h->cap = alloc_usable(h) - sizeof(str_hdr) - 1;
    return (char *)(h + 1);
}

void str_set_len(str s, size_t len)
{
    HDR(s)->len = len;
    s[len] = '\0';
}

str str_append(str s, const char *p, size_t len)
{
    s = str_reserve(s, len);
    memcpy(s + str_len(s), p, len);
    str_set_len(s, str_len(s) + len);
    return s;
}

str str_append_cstr(str s, const char *p)
{
    return str_append(s, p, strlen(p));
}

str str_append_quoted(str s, const char *p, size_t len)
{
    s = str_append(s, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];
        switch (ch) {
        case '\\': s = str_append(s, "\\\\", 2); break;
        case '"': s = str_append(s, "\\\"", 2); break;
        case '\n': s = str_append(s, "\\n", 2); break;
        case '\r': s = str_append(s, "\\r", 2); break;
        case '\t': s = str_append(s, "\\t", 2); break;
        case '\a': s = str_append(s, "\\a", 2); break;
        case '\b': s = str_append(s, "\\b", 2); break;
        default:
            if (ch >= 0x20 && ch < 0x7f) {
                s = str_append(s, (const char *)&ch, 1);
            } else {
                s = str_printf(s, "\\x%02x", ch);
            }
        }
    }
    return str_append(s, "\"", 1);
}

str str_printf(str s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    s = str_reserve(s, (size_t)n);
    vsnprintf(s + str_len(s), (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    str_set_len(s, str_len(s) + (size_t)n);
    return s;
}

str str_grow_zero(str s, size_t len)
{
    size_t cur = str_len(s);
    if (len <= cur) {
        return s;
    }
    s = str_reserve(s, len - cur);
    memset(s + cur, 0, len - cur);
    str_set_len(s, len);
    return s;
}

size_t str_mem(const str s)
{
    return alloc_usable(HDR(s));
}

void str_clear(str s)
{
    str_set_len(s, 0);
}

str str_shrink(str s)
{
    str_hdr *h = HDR(s);
    if (h->cap == h->len) {
        return s;
    }
    h = alloc_resize(h, sizeof(str_hdr) + h->len + 1);
    h->cap = alloc_usable(h) - sizeof(str_hdr) - 1;
    return (char *)(h + 1);
}

int sv_eq(sv a, sv b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

int sv_eq_ci(sv a, const char *lit)
{
    size_t n = strlen(lit);
    return a.len == n && strncasecmp(a.ptr, lit, n) == 0;
}
