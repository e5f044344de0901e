/* resp_parse: the request parser. State lives in resp_parser so a command
 * split across reads resumes where it stopped. */
#include "proto/resp_parse.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"

void resp_parser_init(resp_parser *p)
{
    memset(p, 0, sizeof(*p));
    p->bulk_len = -1;
}

void resp_parser_free(resp_parser *p)
{
    alloc_free(p->off);
    alloc_free(p->len);
    str_free(p->inline_buf);
    memset(p, 0, sizeof(*p));
}

void resp_parser_reset(resp_parser *p)
{
    p->multibulk_left = 0;
    p->bulk_len = -1;
    p->is_inline = 0;
    p->argc = 0;
    if (p->inline_buf) {
        str_clear(p->inline_buf);
    }
}

void resp_parser_trim(resp_parser *p, size_t max)
{
    if (p->cap > max && p->multibulk_left == 0 && p->argc == 0) {
        alloc_free(p->off);
        alloc_free(p->len);
        p->off = p->len = NULL;
        p->cap = 0;
    }
}

void resp_parser_shift(resp_parser *p, size_t n)
{
    if (p->is_inline) {
        return;
    }
    for (size_t i = 0; i < p->argc; i++) {
        p->off[i] -= n;
    }
}

size_t resp_parser_keep_from(const resp_parser *p, size_t pos)
{
    if (p->is_inline || p->multibulk_left == 0 || p->argc == 0) {
        return pos;
    }
    return p->off[0] < pos ? p->off[0] : pos;
}

size_t resp_parser_pending_bulk(const resp_parser *p, size_t avail)
{
    if (p->multibulk_left == 0 || p->bulk_len < 0) {
        return 0;
    }
    size_t need = (size_t)p->bulk_len + 2;
    return need > avail ? need - avail : 0;
}

static void ensure_cap(size_t **off, size_t **lens, size_t *cap, size_t need)
{
    if (need <= *cap) {
        return;
    }
    size_t n = *cap ? *cap * 2 : 8;
    while (n < need) {
        n *= 2;
    }
    *off = alloc_resize(*off, n * sizeof(size_t));
    *lens = alloc_resize(*lens, n * sizeof(size_t));
    *cap = n;
}

sv resp_parser_arg(const resp_parser *p, const char *buf, size_t i)
{
    const char *base = p->is_inline ? p->inline_buf : buf;
    return (sv){base + p->off[i], p->len[i]};
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = tolower(c);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

long resp_split_args(const char *line, size_t len, str *out, size_t **off, size_t **lens, size_t *cap)
{
    const char *p = line, *end = line + len;
    long argc = 0;
    if (!*out) {
        *out = str_empty(len);
    }
    for (;;) {
        while (p < end && isspace((unsigned char)*p)) {
            p++;
        }
        if (p >= end) {
            return argc;
        }
        size_t start = str_len(*out);
        int inq = 0, insq = 0;
        for (int done = 0; !done;) {
            if (inq) {
                if (p >= end) {
                    return -1;
                }
                if (*p == '\\' && p + 3 < end && p[1] == 'x' && hexval(p[2]) >= 0 && hexval(p[3]) >= 0) {
                    char c = (char)(hexval(p[2]) * 16 + hexval(p[3]));
                    *out = str_append(*out, &c, 1);
                    p += 3;
                } else if (*p == '\\' && p + 1 < end) {
                    char c;
                    p++;
                    switch (*p) {
                    case 'n': c = '\n'; break;
                    case 'r': c = '\r'; break;
                    case 't': c = '\t'; break;
                    case 'b': c = '\b'; break;
                    case 'a': c = '\a'; break;
                    default: c = *p; break;
                    }
                    *out = str_append(*out, &c, 1);
                } else if (*p == '"') {
                    /* A closing quote must be followed by a space or the end. */
                    if (p + 1 < end && !isspace((unsigned char)p[1])) {
                        return -1;
                    }
                    done = 1;
                } else {
                    *out = str_append(*out, p, 1);
                }
            } else if (insq) {
                if (p >= end) {
                    return -1;
                }
                if (*p == '\\' && p + 1 < end && p[1] == '\'') {
                    p++;
                    *out = str_append(*out, "'", 1);
                } else if (*p == '\'') {
                    if (p + 1 < end && !isspace((unsigned char)p[1])) {
                        return -1;
                    }
                    done = 1;
                } else {
                    *out = str_append(*out, p, 1);
                }
            } else {
                if (p >= end || isspace((unsigned char)*p)) {
                    done = 1;
                    continue;
                } else if (*p == '"') {
                    inq = 1;
                } else if (*p == '\'') {
                    insq = 1;
                } else {
                    *out = str_append(*out, p, 1);
                }
            }
            if (p < end) {
                p++;
            }
        }
        ensure_cap(off, lens, cap, (size_t)argc + 1);
        (*off)[argc] = start;
        (*lens)[argc] = str_len(*out) - start;
        argc++;
    }
}

static int parse_inline(resp_parser *p, const char *buf, size_t len, size_t *pos, const resp_limits *lim, char *err,
                        size_t errlen)
{
    const char *start = buf + *pos;
    const char *nl = memchr(start, '\n', len - *pos);
    if (!nl) {
        if (len - *pos > lim->max_inline) {
            snprintf(err, errlen, "Protocol error: too big inline request");
            return RESP_ERROR;
        }
        return RESP_INCOMPLETE;
    }
    size_t linelen = (size_t)(nl - start);
    if (linelen && start[linelen - 1] == '\r') {
        linelen--;
    }
    if (p->inline_buf) {
        str_clear(p->inline_buf);
    }
    long argc = resp_split_args(start, linelen, &p->inline_buf, &p->off, &p->len, &p->cap);
    if (argc < 0) {
        snprintf(err, errlen, "Protocol error: unbalanced quotes in request");
        return RESP_ERROR;
    }
    p->is_inline = 1;
    p->argc = (size_t)argc;
    *pos = (size_t)(nl - buf) + 1;
    return RESP_DONE;
}

/* Reads "<prefix><integer>\r\n" at buf+*pos. */
static int read_header(const char *buf, size_t len, size_t *pos, const resp_limits *lim, long long *out, int *bad)
{
    const char *start = buf + *pos;
    /* The common header, 1-18 digits without a leading zero and a CRLF, is
     * read in one pass; anything else (including a header cut short by the
     * read) takes the general path below, which gives the same value. */
    const char *s = start + 1, *end = buf + len;
    if (s < end && *s >= '1' && *s <= '9') {
        long long v = *s++ - '0';
        for (int nd = 1; nd < 18 && s < end && *s >= '0' && *s <= '9'; nd++) {
            v = v * 10 + (*s++ - '0');
        }
        if (end - s >= 2 && s[0] == '\r' && s[1] == '\n') {
            *bad = 0;
            *out = v;
            *pos = (size_t)(s + 2 - buf);
            return RESP_DONE;
        }
    }
    const char *cr = memchr(start, '\r', len - *pos);
    *bad = 0;
    if (!cr || cr + 1 >= buf + len) {
        if (len - *pos > lim->max_inline) {
            *bad = 2;
            return RESP_ERROR;
        }
        return RESP_INCOMPLETE;
    }
    if (cr[1] != '\n' || !util_parse_ll(start + 1, (size_t)(cr - start - 1), out)) {
        *bad = 1;
        return RESP_ERROR;
    }
    *pos = (size_t)(cr - buf) + 2;
    return RESP_DONE;
}

/* The arguments of a command whose header was just read, when all of them
 * are already in buf with plainly written lengths (the usual case): read in
 * one pass with the state in locals. Returns 0, having changed nothing, for
 * anything else; the general loop then reads the same bytes and gives the
 * same arguments or the error. */
static int parse_args_whole(resp_parser *p, const char *buf, size_t len, size_t *pos, const resp_limits *lim)
{
    size_t n = (size_t)p->multibulk_left;
    if (n > p->cap) {
        return 0;
    }
    const char *s = buf + *pos, *end = buf + len;
    size_t *off = p->off, *lens = p->len;
    for (size_t i = 0; i < n; i++) {
        if (end - s < 4 || s[0] != '$') {
            return 0;
        }
        s++;
        size_t v;
        if (*s == '0') {
            v = 0;
            s++;
        } else if (*s >= '1' && *s <= '9') {
            v = (size_t)(*s++ - '0');
            for (int nd = 1; nd < 18 && s < end && *s >= '0' && *s <= '9'; nd++) {
                v = v * 10 + (size_t)(*s++ - '0');
            }
        } else {
            return 0;
        }
        if (end - s < 2 || s[0] != '\r' || s[1] != '\n' || v > (size_t)lim->max_bulk) {
            return 0;
        }
        s += 2;
        if ((size_t)(end - s) < v + 2 || s[v] != '\r' || s[v + 1] != '\n') {
            return 0;
        }
        off[i] = (size_t)(s - buf);
        lens[i] = v;
        s += v + 2;
    }
    p->argc = n;
    p->multibulk_left = 0;
    *pos = (size_t)(s - buf);
    return 1;
}

int resp_parse(resp_parser *p, const char *buf, size_t len, size_t *pos, const resp_limits *lim, char *err,
               size_t errlen)
{
    if (p->multibulk_left == 0) {
        if (*pos >= len) {
            return RESP_INCOMPLETE;
        }
        resp_parser_reset(p);
        if (buf[*pos] != '*') {
            return parse_inline(p, buf, len, pos, lim, err, errlen);
        }
        long long n;
        int bad;
        int rc = read_header(buf, len, pos, lim, &n, &bad);
        if (rc == RESP_INCOMPLETE) {
            return rc;
        }
        if (rc == RESP_ERROR) {
            snprintf(err, errlen,
                     bad == 2 ? "Protocol error: too big mbulk count string"
                              : "Protocol error: invalid multibulk length");
            return RESP_ERROR;
        }
        if (n > lim->max_multibulk) {
            snprintf(err, errlen,
                     lim->unauth ? "Protocol error: unauthenticated multibulk length"
                                 : "Protocol error: invalid multibulk length");
            return RESP_ERROR;
        }
        if (n <= 0) {
            return RESP_DONE; /* "*0" or "*-1": an empty command, skipped */
        }
        p->multibulk_left = n;
        /* Grow with what arrives, not with what the header promises. */
        ensure_cap(&p->off, &p->len, &p->cap, n < 1024 ? (size_t)n : 1024);
        if (parse_args_whole(p, buf, len, pos, lim)) {
            return RESP_DONE;
        }
    }
    while (p->multibulk_left > 0) {
        if (p->bulk_len < 0) {
            if (*pos >= len) {
                return RESP_INCOMPLETE;
            }
            if (buf[*pos] != '$') {
                snprintf(err, errlen, "Protocol error: expected '$', got '%c'", buf[*pos]);
                return RESP_ERROR;
            }
            long long n;
            int bad;
            int rc = read_header(buf, len, pos, lim, &n, &bad);
            if (rc == RESP_INCOMPLETE) {
                return rc;
            }
            if (rc == RESP_ERROR || n < 0) {
                snprintf(err, errlen,
                         bad == 2 ? "Protocol error: too big bulk count string"
                                  : "Protocol error: invalid bulk length");
                return RESP_ERROR;
            }
            if (n > lim->max_bulk) {
                snprintf(err, errlen,
                         lim->unauth ? "Protocol error: unauthenticated bulk length"
                                     : "Protocol error: invalid bulk length");
                return RESP_ERROR;
            }
            p->bulk_len = n;
        }
        if (len - *pos < (size_t)p->bulk_len + 2) {
            return RESP_INCOMPLETE;
        }
        if (buf[*pos + (size_t)p->bulk_len] != '\r' || buf[*pos + (size_t)p->bulk_len + 1] != '\n') {
            snprintf(err, errlen, "Protocol error: bulk string is not terminated by CRLF");
            return RESP_ERROR;
        }
        ensure_cap(&p->off, &p->len, &p->cap, p->argc + 1);
        p->off[p->argc] = *pos;
        p->len[p->argc] = (size_t)p->bulk_len;
        p->argc++;
        *pos += (size_t)p->bulk_len + 2;
        p->bulk_len = -1;
        p->multibulk_left--;
    }
    return RESP_DONE;
}

/* "<c><n>\r\n" without printf: this runs for every propagated write. */
static str append_header(str out, char c, long long n)
{
    char hdr[32];
    hdr[0] = c;
    int len = 1 + util_ll2str(hdr + 1, n);
    hdr[len++] = '\r';
    hdr[len++] = '\n';
    return str_append(out, hdr, (size_t)len);
}

str resp_append_command(str out, const sv *argv, int argc)
{
    out = append_header(out, '*', argc);
    for (int i = 0; i < argc; i++) {
        out = append_header(out, '$', (long long)argv[i].len);
        out = str_append(out, argv[i].ptr, argv[i].len);
        out = str_append(out, "\r\n", 2);
    }
    return out;
}

str resp_append_command_in_db(str out, int *seldb, int dbid, const sv *argv, int argc)
{
    if (dbid != *seldb) {
        char n[24];
        sv sel[2] = {{"SELECT", 6}, {n, (size_t)util_ll2str(n, dbid)}};
        out = resp_append_command(out, sel, 2);
        *seldb = dbid;
    }
    return resp_append_command(out, argv, argc);
}
