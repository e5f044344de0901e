/* reply: RESP2 / RESP3 encoding into an output buffer. Commands call these
 * and never know which protocol the client speaks: maps, sets, doubles,
 * nulls and booleans are written in the RESP2 fallback shape when resp=2. */
#ifndef KEEL_REPLY_H
#define KEEL_REPLY_H

#include <stddef.h>
#include <stdint.h>

typedef struct rbuf {
    char *data;
    size_t len; /* bytes written */
    size_t cap;
    size_t sent; /* bytes already handed to the socket */
    int resp;    /* 2 or 3 */
} rbuf;

void rbuf_init(rbuf *r, int resp);
void rbuf_free(rbuf *r);
/* Bytes not yet sent. */
size_t rbuf_pending(const rbuf *r);
/* Drop what was sent; shrink a large idle buffer. */
void rbuf_compact(rbuf *r);
/* How many times reply buffers grew, and grown ones were given back
 * (INFO reply_buffer_expands / reply_buffer_shrinks). */
void rbuf_resizes(long long *grown, long long *shrunk);
void rbuf_resizes_reset(void);

void reply_raw(rbuf *r, const char *p, size_t len);
void reply_ok(rbuf *r);
void reply_status(rbuf *r, const char *s);
void reply_status_len(rbuf *r, const char *s, size_t len);
/* msg is the whole error text including its code, e.g. "ERR syntax error".
 * Newlines in msg are replaced by spaces so the frame stays valid. */
void reply_error(rbuf *r, const char *msg);
void reply_errorf(rbuf *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void reply_int(rbuf *r, long long v);
void reply_bulk(rbuf *r, const char *p, size_t len);
void reply_bulk_cstr(rbuf *r, const char *s);
void reply_bulk_ll(rbuf *r, long long v);
/* A double as a bulk string (RESP2) or ',' double (RESP3). */
void reply_double(rbuf *r, double d);
/* A double already written out (a long double's text, inf, nan). */
void reply_double_text(rbuf *r, const char *text, size_t len);
/* A double always written as bulk text (e.g. INCRBYFLOAT's reply). */
void reply_bulk_double(rbuf *r, double d);
void reply_null(rbuf *r);        /* $-1 or _ */
void reply_null_array(rbuf *r);  /* *-1 or _ */
void reply_bool(rbuf *r, int b); /* :0/:1 or #f/#t */
void reply_array(rbuf *r, long long n);
void reply_map(rbuf *r, long long n);  /* n pairs: *2n in RESP2 */
void reply_set(rbuf *r, long long n);  /* ~n, or *n */
void reply_push(rbuf *r, long long n); /* >n, or *n */
/* RESP3's attribute (n pairs of metadata before the reply they describe).
 * RESP2 has no such frame: callers write it only to RESP3 clients. */
void reply_attribute(rbuf *r, long long n);
/* A big number: RESP3's '(' type, a bulk string in RESP2. */
void reply_big_number(rbuf *r, const char *p, size_t len);
void reply_verbatim(rbuf *r, const char *p, size_t len, const char *fmt3);
void reply_empty_array(rbuf *r);

/* Deferred aggregate lengths, for replies whose size is known only after
 * they are written. reply_defer returns a handle; set it once. */
size_t reply_defer(rbuf *r);
void reply_defer_array(rbuf *r, size_t handle, long long n);
void reply_defer_map(rbuf *r, size_t handle, long long n);
void reply_defer_set(rbuf *r, size_t handle, long long n);
void reply_defer_attribute(rbuf *r, size_t handle, long long n); /* RESP3 only */

#endif
