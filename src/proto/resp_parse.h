/* resp_parse: incremental, limit-enforcing parser for client requests in
 * RESP multibulk form ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n") and inline form
 * ("GET k\r\n"). It never copies multibulk arguments: it records their
 * offsets in the caller's buffer. It never allocates from a length prefix
 * beyond what has actually arrived. */
#ifndef KEEL_RESP_PARSE_H
#define KEEL_RESP_PARSE_H

#include <stddef.h>

#include "base/str.h"

enum {
    RESP_DONE = 0,       /* a whole command is ready */
    RESP_INCOMPLETE = 1, /* need more bytes */
    RESP_ERROR = -1      /* protocol error: reply with err and close */
};

typedef struct resp_limits {
    long long max_bulk;      /* proto-max-bulk-len */
    long long max_multibulk; /* largest argument count accepted */
    size_t max_inline;       /* longest inline line / header line */
    /* The client has not authenticated: exceeding max_bulk/max_multibulk
     * is reported as Redis does for that case ("unauthenticated ..."). */
    int unauth;
} resp_limits;

typedef struct resp_parser {
    long long multibulk_left; /* args still to read; 0 = between commands */
    long long bulk_len;       /* -1 while waiting for a $ header */
    int is_inline;
    size_t argc;
    size_t cap;
    size_t *off; /* offsets into the caller's buffer, or into inline_buf */
    size_t *len;
    str inline_buf; /* unescaped inline arguments live here */
} resp_parser;

void resp_parser_init(resp_parser *p);
void resp_parser_free(resp_parser *p);
/* Forget the finished (or abandoned) command, keeping allocations. */
void resp_parser_reset(resp_parser *p);
/* Between commands: frees argument arrays grown past max entries. */
void resp_parser_trim(resp_parser *p, size_t max);
/* The caller dropped n bytes from the front of its buffer. */
void resp_parser_shift(resp_parser *p, size_t n);
/* The first byte of buf the parser still needs (the first argument of a
 * partly parsed multibulk command, else pos): the caller may drop bytes
 * before it and then call resp_parser_shift. */
size_t resp_parser_keep_from(const resp_parser *p, size_t pos);
/* Bytes of a bulk argument still expected (0 if not inside one); lets the
 * reader size one allocation for a big value. */
size_t resp_parser_pending_bulk(const resp_parser *p, size_t avail);

/* Parse from buf+*pos; advances *pos past what was consumed. On RESP_DONE
 * the arguments are available through resp_parser_arg. An empty inline line
 * yields RESP_DONE with argc 0 (callers skip it). */
int resp_parse(resp_parser *p, const char *buf, size_t len, size_t *pos, const resp_limits *lim, char *err,
               size_t errlen);
sv resp_parser_arg(const resp_parser *p, const char *buf, size_t i);

/* Split a line into arguments with Redis's quoting rules ("..." with
 * escapes, '...'). Returns the count, or -1 on unbalanced quotes. Appends the
 * unescaped bytes to *out and records offsets/lengths (growing the arrays). */
long resp_split_args(const char *line, size_t len, str *out, size_t **off, size_t **lens, size_t *cap);

/* Appends argv as a command, an array of bulk strings (what the AOF holds,
 * replicas receive and a replica sends its primary). */
str resp_append_command(str out, const sv *argv, int argc);
/* The same for a stream of writes across databases: a SELECT first when
 * dbid is not *seldb (which then becomes dbid). */
str resp_append_command_in_db(str out, int *seldb, int dbid, const sv *argv, int argc);

#endif
