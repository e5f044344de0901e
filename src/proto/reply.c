/* reply: writes RESP frames into a flat, growable buffer. */
#include "proto/reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"

#define RBUF_IDLE_MAX (64 * 1024)
/* Placeholder written by reply_defer; long enough for any header. */
#define DEFER_MARK_LEN 1

void rbuf_init(rbuf *r, int resp)
{
    memset(r, 0, sizeof(*r));
    r->resp = resp;
}

/* INFO reply_buffer_expands / _shrinks: reallocations to a larger buffer,
 * and buffers that had grown past their first size given back. Only
 * resizes count, so the hot path never touches these. */
#define RBUF_FIRST (16 * 1024)
static _Atomic long long expands, shrinks;

void rbuf_resizes(long long *grown, long long *shrunk)
{
    *grown = expands;
    *shrunk = shrinks;
}

void rbuf_resizes_reset(void)
{
    expands = shrinks = 0;
}

void rbuf_free(rbuf *r)
{
    if (r->cap > RBUF_FIRST) {
        shrinks++;
    }
    alloc_free(r->data);
    r->data = NULL;
    r->len = r->cap = r->sent = 0;
}

size_t rbuf_pending(const rbuf *r)
{
    return r->len - r->sent;
}

void rbuf_compact(rbuf *r)
{
    if (r->sent == r->len) {
        r->sent = r->len = 0;
        if (r->cap > RBUF_IDLE_MAX) {
            shrinks++;
            alloc_free(r->data);
            r->data = NULL;
            r->cap = 0;
        }
    } else if (r->sent > r->len / 2) {
        memmove(r->data, r->data + r->sent, r->len - r->sent);
        r->len -= r->sent;
        r->sent = 0;
    }
}

static void reserve(rbuf *r, size_t n)
{
    if (r->cap - r->len >= n) {
        return;
    }
    size_t need = r->len + n;
    size_t cap = r->cap ? r->cap : RBUF_FIRST;
    while (cap < need) {
        cap = cap < (64u << 20) ? cap * 2 : cap + (64u << 20);
    }
    if (cap > RBUF_FIRST) {
        expands++; /* past the size every buffer starts with */
    }
    r->data = alloc_resize(r->data, cap);
    r->cap = cap;
}

void reply_raw(rbuf *r, const char *p, size_t len)
{
    reserve(r, len);
    memcpy(r->data + r->len, p, len);
    r->len += len;
}

/* Room for "<c><n>\r\n" with n of up to 20 characters, and the NUL that
 * util_ll2str writes after it. */
#define HEADER_MAX 24

/* Writes "<c><n>\r\n" at d, which has HEADER_MAX bytes of room; returns
 * the end. */
static char *put_header(char *d, char c, long long n)
{
    *d++ = c;
    d += util_ll2str(d, n);
    *d++ = '\r';
    *d++ = '\n';
    return d;
}

static void header(rbuf *r, char c, long long n)
{
    reserve(r, HEADER_MAX);
    r->len = (size_t)(put_header(r->data + r->len, c, n) - r->data);
}

void reply_ok(rbuf *r)
{
    reply_raw(r, "+OK\r\n", 5);
}

/* s with CR and LF as spaces: in a line they would end it early. */
static char *put_clean(char *d, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        *d++ = (c == '\r' || c == '\n') ? ' ' : c;
    }
    *d++ = '\r';
    *d++ = '\n';
    return d;
}

/* A one-line reply: its type, then the cleaned line. */
static void put_line(rbuf *r, char type, const char *s, size_t len)
{
    reserve(r, len + 3);
    r->data[r->len++] = type;
    r->len = (size_t)(put_clean(r->data + r->len, s, len) - r->data);
}

void reply_status_len(rbuf *r, const char *s, size_t len)
{
    put_line(r, '+', s, len);
}

void reply_status(rbuf *r, const char *s)
{
    reply_status_len(r, s, strlen(s));
}

void reply_error(rbuf *r, const char *msg)
{
    size_t len = strlen(msg);
    if (len && msg[0] == '-') {
        msg++;
        len--;
    }
    put_line(r, '-', msg, len);
}

void reply_errorf(rbuf *r, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    reply_error(r, buf);
}

void reply_int(rbuf *r, long long v)
{
    header(r, ':', v);
}

void reply_bulk(rbuf *r, const char *p, size_t len)
{
    /* One reservation for the header, the bytes and their CRLF. */
    reserve(r, HEADER_MAX + len + 2);
    char *d = put_header(r->data + r->len, '$', (long long)len);
    memcpy(d, p, len);
    d += len;
    *d++ = '\r';
    *d++ = '\n';
    r->len = (size_t)(d - r->data);
}

void reply_bulk_cstr(rbuf *r, const char *s)
{
    if (!s) {
        reply_null(r);
    } else {
        reply_bulk(r, s, strlen(s));
    }
}

void reply_bulk_ll(rbuf *r, long long v)
{
    char buf[32];
    int n = util_ll2str(buf, v);
    reply_bulk(r, buf, (size_t)n);
}

void reply_double_text(rbuf *r, const char *text, size_t len)
{
    if (r->resp == 3) {
        reply_raw(r, ",", 1);
        reply_raw(r, text, len);
        reply_raw(r, "\r\n", 2);
    } else {
        reply_bulk(r, text, len);
    }
}

void reply_double(rbuf *r, double d)
{
    char buf[64];
    int n = util_d2str(buf, d);
    reply_double_text(r, buf, (size_t)n);
}

void reply_bulk_double(rbuf *r, double d)
{
    char buf[64];
    int n = util_d2str(buf, d);
    reply_bulk(r, buf, (size_t)n);
}

void reply_null(rbuf *r)
{
    if (r->resp == 3) {
        reply_raw(r, "_\r\n", 3);
    } else {
        reply_raw(r, "$-1\r\n", 5);
    }
}

void reply_null_array(rbuf *r)
{
    if (r->resp == 3) {
        reply_raw(r, "_\r\n", 3);
    } else {
        reply_raw(r, "*-1\r\n", 5);
    }
}

void reply_bool(rbuf *r, int b)
{
    if (r->resp == 3) {
        reply_raw(r, b ? "#t\r\n" : "#f\r\n", 4);
    } else {
        reply_raw(r, b ? ":1\r\n" : ":0\r\n", 4);
    }
}

void reply_array(rbuf *r, long long n)
{
    header(r, '*', n);
}

void reply_empty_array(rbuf *r)
{
    reply_raw(r, "*0\r\n", 4);
}

void reply_map(rbuf *r, long long n)
{
    if (r->resp == 3) {
        header(r, '%', n);
    } else {
        header(r, '*', n * 2);
    }
}

void reply_set(rbuf *r, long long n)
{
    header(r, r->resp == 3 ? '~' : '*', n);
}

void reply_push(rbuf *r, long long n)
{
    header(r, r->resp == 3 ? '>' : '*', n);
}

void reply_attribute(rbuf *r, long long n)
{
    header(r, '|', n);
}

void reply_big_number(rbuf *r, const char *p, size_t len)
{
    if (r->resp == 3) {
        put_line(r, '(', p, len);
        return;
    }
    /* The same digits as RESP3 would carry. */
    reserve(r, HEADER_MAX + len + 2);
    char *d = put_header(r->data + r->len, '$', (long long)len);
    r->len = (size_t)(put_clean(d, p, len) - r->data);
}

void reply_verbatim(rbuf *r, const char *p, size_t len, const char *fmt3)
{
    if (r->resp != 3) {
        reply_bulk(r, p, len);
        return;
    }
    header(r, '=', (long long)len + 4);
    reply_raw(r, fmt3, 3);
    reply_raw(r, ":", 1);
    reply_raw(r, p, len);
    reply_raw(r, "\r\n", 2);
}

size_t reply_defer(rbuf *r)
{
    reserve(r, DEFER_MARK_LEN);
    size_t at = r->len;
    r->data[r->len++] = '?';
    return at;
}

/* Replace the one-byte mark at `at` with the real header, moving what
 * follows. Done once per deferred reply, so the move is amortised. */
static void defer_fill(rbuf *r, size_t at, char c, long long n)
{
    char buf[32];
    buf[0] = c;
    int l = util_ll2str(buf + 1, n);
    buf[l + 1] = '\r';
    buf[l + 2] = '\n';
    size_t hl = (size_t)l + 3;
    reserve(r, hl - DEFER_MARK_LEN);
    memmove(r->data + at + hl, r->data + at + DEFER_MARK_LEN, r->len - at - DEFER_MARK_LEN);
    memcpy(r->data + at, buf, hl);
    r->len += hl - DEFER_MARK_LEN;
}

void reply_defer_array(rbuf *r, size_t h, long long n)
{
    defer_fill(r, h, '*', n);
}

void reply_defer_map(rbuf *r, size_t h, long long n)
{
    if (r->resp == 3) {
        defer_fill(r, h, '%', n);
    } else {
        defer_fill(r, h, '*', n * 2);
    }
}

void reply_defer_set(rbuf *r, size_t h, long long n)
{
    defer_fill(r, h, r->resp == 3 ? '~' : '*', n);
}

void reply_defer_attribute(rbuf *r, size_t h, long long n)
{
    defer_fill(r, h, '|', n);
}
