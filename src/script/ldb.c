/* ldb: the Lua debugger behind SCRIPT DEBUG, speaking Redis's LDB protocol
 * so that redis-cli --ldb and --ldb-sync-mode work unchanged.
 *
 * A connection that ran SCRIPT DEBUG YES or SYNC debugs its next EVAL. YES
 * forks: the child runs the session on the connection while the server
 * drops it and carries on, and the child's writes vanish with it. SYNC runs
 * the session here; the server serves no one else until it ends and keeps
 * the script's writes.
 *
 * The script runs under a hook that stops at its first line, after each
 * step, at breakpoints, at the line after redis.breakpoint(), and when it
 * has run busy-reply-threshold ms without a stop. At a stop the lines
 * logged since the last one go out as one RESP array of simple strings,
 * then debugger commands (RESP arrays) are read from the socket, blocking,
 * until one resumes the script. At the end the server sends a last array
 * ending in "<endsession>", then the EVAL's reply, and closes the
 * connection. Unlike Redis, bytes after a complete command are kept for
 * the next read, and each session talks on its own connection. */
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "net/conn.h"
#include "script/script_int.h"
#include "server/child.h"

#define MAX_ARGS 1024
#define MAX_ARG_LEN 1024
#define MAX_BUFFERED (1 << 20)
#define MAX_BREAKPOINTS 64
#define MAX_DEPTH 10 /* nested tables printed before giving up */
#define DEFAULT_MAXLEN 256
#define MIN_MAXLEN 60
#define DEFAULT_TIMEOUT_MS 5000 /* a stop when busy-reply-threshold is 0 */

static struct {
    int active;
    int forked; /* this process is the session's child */
    int gone;   /* the client went away: no more stops, nothing sent */
    client *c;
    str *log; /* lines for the next frame */
    int nlog, caplog;
    str src; /* the script, and its lines (pointing into src) */
    sv *lines;
    int nlines;
    int bp[MAX_BREAKPOINTS];
    int nbp;
    int step;     /* stop at the next line */
    int luabp;    /* redis.breakpoint() was called */
    int aborting; /* abort raised: raise again at every line (pcall) */
    int currentline;
    int maxlen, maxlen_hint_sent;
    str cbuf; /* bytes read and not yet used */
    str argv[MAX_ARGS];
    int argc;
    int64_t since_ms; /* the last stop, for the timeout */
} ldb;

/* Children running fork-mode sessions: reaped by the cron, killed at
 * shutdown. */
static pid_t *children;
static int nchildren, capchildren;

/* ---- logging ---- */

static str cstr(const char *s)
{
    return str_new(s, strlen(s));
}

static void log_line(str line)
{
    if (ldb.nlog == ldb.caplog) {
        ldb.caplog = ldb.caplog ? ldb.caplog * 2 : 16;
        ldb.log = alloc_resize(ldb.log, sizeof(str) * (size_t)ldb.caplog);
    }
    ldb.log[ldb.nlog++] = line;
}

/* Values and replies are cut at maxlen, with a hint the first time (not
 * once the user has chosen a maxlen). */
static void log_trimmed(str line)
{
    if (ldb.maxlen && str_len(line) > (size_t)ldb.maxlen) {
        str_set_len(line, (size_t)ldb.maxlen);
        line = str_append(line, " ...", 4);
        log_line(line);
        if (!ldb.maxlen_hint_sent) {
            ldb.maxlen_hint_sent = 1;
            log_line(cstr("<hint> The above reply was trimmed. Use 'maxlen 0' to disable trimming."));
        }
        return;
    }
    log_line(line);
}

static void drop_logs(void)
{
    for (int i = 0; i < ldb.nlog; i++) {
        str_free(ldb.log[i]);
    }
    ldb.nlog = 0;
}

#define SEND_TIMEOUT_S 5

/* -1 once the client has taken nothing for SEND_TIMEOUT_S (the socket's
 * send timeout, set_blocking) or the connection failed. */
static int write_all(const char *p, size_t len)
{
    client *c = ldb.c;
    int64_t start = util_mono_us();
    while (len > 0) {
        ssize_t n = conn_write(c->fd, c->tls, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0 || util_mono_us() - start >= SEND_TIMEOUT_S * 1000000LL) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The logged lines as one array of simple strings (CR and LF as spaces,
 * so a line stays one line). */
static void send_logs(void)
{
    if (!ldb.gone) {
        str out = str_printf(str_empty(256), "*%d\r\n", ldb.nlog);
        for (int i = 0; i < ldb.nlog; i++) {
            str l = ldb.log[i];
            for (size_t j = 0; j < str_len(l); j++) {
                if (l[j] == '\r' || l[j] == '\n') {
                    l[j] = ' ';
                }
            }
            out = str_append(out, "+", 1);
            out = str_append(out, l, str_len(l));
            out = str_append(out, "\r\n", 2);
        }
        if (write_all(out, str_len(out)) < 0) {
            ldb.gone = 1;
        }
        str_free(out);
    }
    drop_logs();
}

/* ---- how values look ---- */

/* A Lua value as the debugger prints it: tables whose keys run 1..n as
 * {a; b}, others as {[k]=v; ...}. */
static str repr_value(str s, lua_State *L, int idx, int level)
{
    if (idx < 0) {
        idx = lua_gettop(L) + idx + 1;
    }
    if (level == MAX_DEPTH) {
        return str_append_cstr(s, "<max recursion level reached! Nested table?>");
    }
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t len;
        const char *p = lua_tolstring(L, idx, &len);
        return str_append_quoted(s, p, len);
    }
    case LUA_TNUMBER: return str_printf(s, "%g", (double)lua_tonumber(L, idx));
    case LUA_TBOOLEAN: return str_append_cstr(s, lua_toboolean(L, idx) ? "true" : "false");
    case LUA_TNIL: return str_append_cstr(s, "nil");
    case LUA_TTABLE: {
        if (!lua_checkstack(L, 4)) {
            return str_append_cstr(s, "{...}");
        }
        str keys = str_empty(64), vals = str_empty(64);
        int is_array = 1;
        long expect = 1;
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            if (is_array && !(lua_type(L, -2) == LUA_TNUMBER && lua_tonumber(L, -2) == (lua_Number)expect)) {
                is_array = 0;
            }
            expect++;
            if (str_len(vals)) {
                keys = str_append(keys, "; ", 2);
                vals = str_append(vals, "; ", 2);
            }
            keys = str_append(keys, "[", 1);
            keys = repr_value(keys, L, -2, level + 1);
            keys = str_append(keys, "]=", 2);
            keys = repr_value(keys, L, -1, level + 1);
            vals = repr_value(vals, L, -1, level + 1);
            lua_pop(L, 1);
        }
        s = str_append(s, "{", 1);
        s = is_array ? str_append(s, vals, str_len(vals)) : str_append(s, keys, str_len(keys));
        str_free(keys);
        str_free(vals);
        return str_append(s, "}", 1);
    }
    default: {
        char buf[64];
        snprintf(buf, sizeof(buf), "%s@%p", lua_typename(L, lua_type(L, idx)), lua_topointer(L, idx));
        return str_append_quoted(s, buf, strlen(buf));
    }
    }
}

static void log_value(const char *prefix, lua_State *L, int idx)
{
    log_trimmed(repr_value(cstr(prefix), L, idx, 0));
}

static const char *line_end(const char *p, const char *end)
{
    const char *q = p;
    while (q + 1 < end && !(q[0] == '\r' && q[1] == '\n')) {
        q++;
    }
    return q + 1 < end ? q : end;
}

/* One RESP reply in the debugger's notation; returns where it ends. */
static const char *human_reply(str *s, const char *p, const char *end, int depth)
{
    if (p >= end) {
        return end;
    }
    const char *e = line_end(p, end);
    const char *next = e + 2 <= end ? e + 2 : end;
    long long n = strtoll(p + 1, NULL, 10);
    if (depth > 64) {
        *s = str_append_cstr(*s, "...");
        return end;
    }
    switch (*p) {
    case '+':
    case '-': *s = str_append_quoted(*s, p, (size_t)(e - p)); return next;
    case ':':
    case '(': *s = str_append(*s, p + 1, (size_t)(e - p - 1)); return next;
    case ',':
        *s = str_append_cstr(*s, "(double) ");
        *s = str_append(*s, p + 1, (size_t)(e - p - 1));
        return next;
    case '#': *s = str_append_cstr(*s, p[1] == 't' ? "#true" : "#false"); return next;
    case '_': *s = str_append_cstr(*s, "(null)"); return next;
    case '$':
    case '=':
        if (n < 0) {
            *s = str_append_cstr(*s, "NULL");
            return next;
        }
        if (n > end - next) {
            n = end - next;
        }
        *s = str_append_quoted(*s, next, (size_t)n);
        return next + n + 2 <= end ? next + n + 2 : end;
    case '*':
    case '~':
    case '>':
    case '%': {
        if (n < 0) {
            *s = str_append_cstr(*s, "NULL");
            return next;
        }
        const char *open = *p == '%' ? "{" : *p == '~' ? "~(" : "[";
        const char *close = *p == '%' ? "}" : *p == '~' ? ")" : "]";
        *s = str_append_cstr(*s, open);
        p = next;
        for (long long i = 0; i < n && p < end; i++) {
            if (i) {
                *s = str_append(*s, ",", 1);
            }
            p = human_reply(s, p, end, depth + 1);
            if (*open == '{') {
                *s = str_append_cstr(*s, " => ");
                p = human_reply(s, p, end, depth + 1);
            }
        }
        *s = str_append_cstr(*s, close);
        return p;
    }
    default: *s = str_append(*s, p, (size_t)(e - p)); return next;
    }
}

/* ---- the script's source ---- */

static int is_breakpoint(int line)
{
    for (int i = 0; i < ldb.nbp; i++) {
        if (ldb.bp[i] == line) {
            return 1;
        }
    }
    return 0;
}

static void log_source_line(int n)
{
    const char *text = "<out of range source code line>";
    size_t len = strlen(text);
    if (n >= 1 && n <= ldb.nlines) {
        text = ldb.lines[n - 1].ptr;
        len = ldb.lines[n - 1].len;
    }
    int bp = is_breakpoint(n), here = n == ldb.currentline;
    const char *prefix = here && bp ? "->#" : here ? "-> " : bp ? "  #" : "   ";
    str l = str_printf(str_empty(len + 16), "%s%-3d ", prefix, n);
    log_line(str_append(l, text, len));
}

static void list_lines(int around, int context)
{
    for (int j = 1; j <= ldb.nlines; j++) {
        if (abs(around - j) <= context) {
            log_source_line(j);
        }
    }
}

static void load_source(sv body)
{
    ldb.src = str_new(body.ptr, body.len);
    size_t len = str_len(ldb.src);
    while (len && (ldb.src[len - 1] == '\n' || ldb.src[len - 1] == '\r')) {
        len--;
    }
    ldb.nlines = 0;
    if (len == 0) {
        return;
    }
    int cap = 16;
    ldb.lines = alloc_mem(sizeof(sv) * (size_t)cap);
    const char *p = ldb.src, *end = ldb.src + len;
    for (;;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        if (ldb.nlines == cap) {
            cap *= 2;
            ldb.lines = alloc_resize(ldb.lines, sizeof(sv) * (size_t)cap);
        }
        ldb.lines[ldb.nlines++] = (sv){p, (size_t)(e - p)};
        if (!nl) {
            break;
        }
        p = nl + 1;
    }
}

/* ---- reading debugger commands ---- */

static void free_args(void)
{
    for (int i = 0; i < ldb.argc; i++) {
        str_free(ldb.argv[i]);
    }
    ldb.argc = 0;
}

/* A number line ("*3", "$10") up to its CRLF: 1 parsed, 0 incomplete,
 * -1 not a number. */
static int header(const char **pp, const char *end, long long *out)
{
    const char *p = *pp + 1;
    const char *e = p;
    while (e + 1 < end && !(e[0] == '\r' && e[1] == '\n')) {
        e++;
    }
    if (e + 1 >= end) {
        return 0;
    }
    if (!util_parse_ll(p, (size_t)(e - p), out)) {
        return -1;
    }
    *pp = e + 2;
    return 1;
}

/* One command from the front of cbuf into argv: 1 done, 0 incomplete,
 * -1 protocol error. */
static int parse_command(void)
{
    const char *p = ldb.cbuf, *end = ldb.cbuf + str_len(ldb.cbuf);
    if (p == end) {
        return 0;
    }
    if (*p != '*') {
        return -1;
    }
    long long n;
    int rc = header(&p, end, &n);
    if (rc <= 0) {
        return rc;
    }
    if (n < 1 || n > MAX_ARGS) {
        return -1;
    }
    sv args[MAX_ARGS];
    for (long long i = 0; i < n; i++) {
        if (p == end) {
            return 0;
        }
        if (*p != '$') {
            return -1;
        }
        long long len;
        if ((rc = header(&p, end, &len)) <= 0) {
            return rc;
        }
        if (len < 1 || len > MAX_ARG_LEN) {
            return -1;
        }
        if (end - p < len + 2) {
            return 0;
        }
        if (p[len] != '\r' || p[len + 1] != '\n') {
            return -1;
        }
        args[i] = (sv){p, (size_t)len};
        p += len + 2;
    }
    free_args();
    for (long long i = 0; i < n; i++) {
        ldb.argv[i] = str_new(args[i].ptr, args[i].len);
    }
    ldb.argc = (int)n;
    size_t used = (size_t)(p - ldb.cbuf), left = str_len(ldb.cbuf) - used;
    memmove(ldb.cbuf, ldb.cbuf + used, left);
    str_set_len(ldb.cbuf, left);
    return 1;
}

/* Blocks for the next command: 1 read, 0 the client is gone, -1 a
 * protocol error (*err says which). */
static int read_command(const char **err)
{
    for (;;) {
        int rc = parse_command();
        if (rc < 0) {
            *err = "ERR protocol error";
            return -1;
        }
        if (rc > 0) {
            return 1;
        }
        if (str_len(ldb.cbuf) > MAX_BUFFERED) {
            *err = "ERR max client buffer reached";
            return -1;
        }
        char buf[16384];
        ssize_t n = conn_read(ldb.c->fd, ldb.c->tls, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return 0;
        }
        ldb.cbuf = str_append(ldb.cbuf, buf, (size_t)n);
    }
}

/* ---- debugger commands ---- */

static int is(const char *arg, const char *short_name, const char *long_name)
{
    return strcasecmp(arg, short_name) == 0 || strcasecmp(arg, long_name) == 0;
}

static void dbg_help(void)
{
    static const char *const help[] = {"Redis Lua debugger help:",
                                       "[h]elp               This list.",
                                       "[s]tep               Run the current line, then stop.",
                                       "[n]ext               The same as step.",
                                       "[c]ontinue           Run until a breakpoint (or the end).",
                                       "[l]ist               The lines around the current one.",
                                       "[l]ist [line]        The lines around <line> (0: the current one).",
                                       "[l]ist [line] [ctx]  The same, with <ctx> lines either side.",
                                       "[w]hole              Every line of the script.",
                                       "[p]rint              Every local variable and its value.",
                                       "[p]rint <var>        One variable's value (also KEYS and ARGV).",
                                       "[b]reak              The breakpoints set.",
                                       "[b]reak <line>       Stop at <line>.",
                                       "[b]reak -<line>      No longer stop at <line>.",
                                       "[b]reak 0            Remove every breakpoint.",
                                       "[t]race              The call stack.",
                                       "[e]val <code>        Run Lua code (in a new frame: no locals).",
                                       "[r]edis <cmd>        Run a command as redis.call would.",
                                       "[m]axlen [len]       Cut values and replies at <len> bytes (0: never).",
                                       "[a]bort              End the script with an error. In sync mode",
                                       "                     what it wrote is kept.",
                                       "",
                                       "In the script:",
                                       "redis.debug(...)     Log the values given to this console.",
                                       "redis.breakpoint()   Stop at the next line, as a breakpoint would.",
                                       NULL};
    for (int i = 0; help[i]; i++) {
        log_line(cstr(help[i]));
    }
}

static void dbg_list(void)
{
    int around = ldb.currentline, context = 5;
    if (ldb.argc > 1) {
        int n = atoi(ldb.argv[1]);
        if (n > 0) {
            around = n;
        }
    }
    if (ldb.argc > 2) {
        context = atoi(ldb.argv[2]);
    }
    list_lines(around, context);
}

static void dbg_print_all(lua_State *L)
{
    lua_Debug ar;
    int found = 0;
    if (lua_getstack(L, 0, &ar)) {
        const char *name;
        for (int i = 1; (name = lua_getlocal(L, &ar, i)) != NULL; i++) {
            if (name[0] != '(') { /* "(*temporary)" and the like */
                str prefix = str_printf(str_empty(64), "<value> %s = ", name);
                log_value(prefix, L, -1);
                str_free(prefix);
                found++;
            }
            lua_pop(L, 1);
        }
    }
    if (!found) {
        log_line(cstr("No local variables in the current context."));
    }
}

static void dbg_print(lua_State *L, const char *var)
{
    lua_Debug ar;
    for (int level = 0; lua_getstack(L, level, &ar); level++) {
        const char *name;
        for (int i = 1; (name = lua_getlocal(L, &ar, i)) != NULL; i++) {
            if (strcmp(name, var) == 0) {
                log_value("<value> ", L, -1);
                lua_pop(L, 1);
                return;
            }
            lua_pop(L, 1);
        }
    }
    /* Of the globals, the two a script is given (others may not exist,
     * and reading a missing one is an error in the sandbox). */
    if (strcmp(var, "KEYS") == 0 || strcmp(var, "ARGV") == 0) {
        lua_getglobal(L, var);
        log_value("<value> ", L, -1);
        lua_pop(L, 1);
        return;
    }
    log_line(cstr("No such variable."));
}

static void dbg_trace(lua_State *L)
{
    lua_Debug ar;
    int level = 0;
    for (; lua_getstack(L, level, &ar); level++) {
        lua_getinfo(L, "Snl", &ar);
        if (ar.source && strcmp(ar.source, "@user_script") == 0) {
            log_line(str_printf(str_empty(64), "%s %s:", level == 0 ? "In" : "From", ar.name ? ar.name : "top level"));
            log_source_line(ar.currentline);
        }
    }
    if (level == 0) {
        log_line(cstr("<error> Can't retrieve Lua stack."));
    }
}

static void dbg_break(void)
{
    if (ldb.argc == 1) {
        if (ldb.nbp == 0) {
            log_line(cstr("No breakpoints set. Use 'b <line>' to add one."));
            return;
        }
        log_line(str_printf(str_empty(64), "%d breakpoints set:", ldb.nbp));
        for (int i = 0; i < ldb.nbp; i++) {
            log_source_line(ldb.bp[i]);
        }
        return;
    }
    for (int j = 1; j < ldb.argc; j++) {
        long long line;
        if (!util_parse_ll(ldb.argv[j], str_len(ldb.argv[j]), &line)) {
            log_line(str_printf(str_empty(64), "Invalid argument:'%.*s'", (int)str_len(ldb.argv[j]), ldb.argv[j]));
        } else if (line == 0) {
            ldb.nbp = 0;
            log_line(cstr("All breakpoints removed."));
        } else if (line > 0) {
            if (ldb.nbp == MAX_BREAKPOINTS) {
                log_line(cstr("Too many breakpoints set."));
            } else if (line > ldb.nlines || is_breakpoint((int)line)) {
                log_line(cstr("Wrong line number."));
            } else {
                ldb.bp[ldb.nbp++] = (int)line;
                list_lines((int)line, 1);
            }
        } else {
            int found = 0;
            for (int i = 0; i < ldb.nbp; i++) {
                if (ldb.bp[i] == -line) {
                    ldb.bp[i] = ldb.bp[--ldb.nbp];
                    found = 1;
                    break;
                }
            }
            log_line(cstr(found ? "Breakpoint removed." : "No breakpoint in the specified line."));
        }
    }
}

/* The message of a failed pcall: a string, or a redis error's {err=}. */
static const char *error_of(lua_State *L)
{
    if (lua_type(L, -1) == LUA_TTABLE) {
        lua_getfield(L, -1, "err");
        lua_replace(L, -2);
    }
    const char *msg = lua_tostring(L, -1);
    return msg ? msg : "(not a string)";
}

static void dbg_eval(lua_State *L)
{
    str code = str_empty(64);
    for (int i = 1; i < ldb.argc; i++) {
        if (i > 1) {
            code = str_append(code, " ", 1);
        }
        code = str_append(code, ldb.argv[i], str_len(ldb.argv[i]));
    }
    /* An expression first (its value is shown), else a statement. */
    str expr = str_append(cstr("return "), code, str_len(code));
    int rc = svm_load_chunk(L, expr, str_len(expr), "@ldb_eval");
    if (rc != 1) {
        lua_pop(L, 2);
        rc = svm_load_chunk(L, code, str_len(code), "@ldb_eval");
    }
    str_free(expr);
    str_free(code);
    if (rc != 1) {
        log_line(str_printf(str_empty(64), "<error> %s", error_of(L)));
        lua_pop(L, 2);
        return;
    }
    if (lua_pcall(L, 0, 1, 0) != 0) {
        log_line(str_printf(str_empty(64), "<error> %s", error_of(L)));
        lua_pop(L, 1);
        return;
    }
    log_value("<retval> ", L, -1);
    lua_pop(L, 1);
}

/* A command as the script would run it: through redis.call, so the same
 * checks apply and its lines are logged. */
static void dbg_redis(lua_State *L)
{
    if (!lua_checkstack(L, ldb.argc + 4)) {
        log_line(cstr("<error> Too many arguments."));
        return;
    }
    lua_getglobal(L, "redis");
    lua_getfield(L, -1, "call");
    for (int i = 1; i < ldb.argc; i++) {
        lua_pushlstring(L, ldb.argv[i], str_len(ldb.argv[i]));
    }
    ldb.step = 1; /* so the call logs itself */
    lua_pcall(L, ldb.argc - 1, 1, 0);
    ldb.step = 0;
    lua_pop(L, 2);
}

static void dbg_maxlen(void)
{
    if (ldb.argc == 2) {
        int n = atoi(ldb.argv[1]);
        ldb.maxlen = n > 0 && n < MIN_MAXLEN ? MIN_MAXLEN : n < 0 ? 0 : n;
        ldb.maxlen_hint_sent = 1; /* the user knows now */
    }
    if (ldb.maxlen) {
        log_line(str_printf(str_empty(64), "<value> replies are truncated at %d bytes.", ldb.maxlen));
    } else {
        log_line(cstr("<value> replies are unlimited."));
    }
}

/* The prompt at a stop: sends what was logged, then serves commands until
 * one resumes the script (0). -1: the client is gone. Abort and protocol
 * errors raise a Lua error that ends the script. */
static int repl(lua_State *L)
{
    for (;;) {
        if (ldb.gone) {
            drop_logs();
            return -1;
        }
        send_logs();
        if (ldb.gone) {
            return -1;
        }
        const char *err = NULL;
        int rc = read_command(&err);
        if (rc == 0) {
            ldb.gone = 1;
            drop_logs();
            return -1;
        }
        if (rc < 0) {
            svm_raise(L, err);
        }
        const char *cmd = ldb.argv[0];
        int top = lua_gettop(L);
        if (is(cmd, "s", "step") || is(cmd, "n", "next")) {
            ldb.step = 1;
            return 0;
        } else if (is(cmd, "c", "continue")) {
            return 0;
        } else if (is(cmd, "h", "help")) {
            dbg_help();
        } else if (is(cmd, "t", "trace")) {
            dbg_trace(L);
        } else if (is(cmd, "m", "maxlen")) {
            dbg_maxlen();
        } else if (is(cmd, "b", "break")) {
            dbg_break();
        } else if (is(cmd, "e", "eval")) {
            dbg_eval(L);
        } else if (is(cmd, "a", "abort")) {
            ldb.aborting = 1;
            svm_raise(L, "ERR script aborted for user request");
        } else if (ldb.argc > 1 && is(cmd, "r", "redis")) {
            dbg_redis(L);
        } else if (is(cmd, "p", "print")) {
            if (ldb.argc == 2) {
                dbg_print(L, ldb.argv[1]);
            } else {
                dbg_print_all(L);
            }
        } else if (is(cmd, "l", "list")) {
            dbg_list();
        } else if (is(cmd, "w", "whole")) {
            list_lines(1, 1000000);
        } else {
            log_line(cstr("<error> Unknown Redis Lua debugger command or wrong number of arguments."));
        }
        lua_settop(L, top);
    }
}

/* ---- hooks and the redis API ---- */

int ldb_active(void)
{
    return ldb.active;
}

void ldb_hook(lua_State *L, lua_Debug *ar)
{
    lua_getinfo(L, "Sl", ar);
    if (!ar->source || strcmp(ar->source, "@user_script") != 0) {
        return; /* code the debugger itself runs (eval) */
    }
    ldb.currentline = ar->currentline;
    if (ldb.aborting) {
        svm_raise(L, "ERR script aborted for user request");
    }
    int bp = is_breakpoint(ldb.currentline) || ldb.luabp;
    int timeout = 0;
    if (ar->event == LUA_HOOKCOUNT && !ldb.step && !bp) {
        int64_t limit = server.cfg.busy_reply_threshold > 0 ? server.cfg.busy_reply_threshold : DEFAULT_TIMEOUT_MS;
        if (util_mono_us() / 1000 - ldb.since_ms < limit) {
            return;
        }
        timeout = 1;
    }
    if (!ldb.step && !bp && !timeout) {
        return;
    }
    const char *reason = bp        ? (ldb.luabp ? "redis.breakpoint() called" : "break point")
                         : timeout ? "timeout reached, infinite loop?"
                                   : "step over";
    ldb.step = ldb.luabp = 0;
    log_line(str_printf(str_empty(64), "* Stopped at %d, stop reason = %s", ldb.currentline, reason));
    log_source_line(ldb.currentline);
    if (repl(L) < 0 && timeout) {
        /* Nobody can stop it any more: end it rather than block forever. */
        svm_raise(L, "ERR timeout during Lua debugging with client closing connection");
    }
    ldb.since_ms = util_mono_us() / 1000;
}

int ldb_tracing(void)
{
    return ldb.active && ldb.step;
}

void ldb_log_call(const sv *argv, int argc)
{
    str l = cstr("<redis> ");
    for (int j = 0; j < argc; j++) {
        if (j == 10) {
            l = str_printf(l, "... (%d more)", argc - 10);
            break;
        }
        l = str_append(l, argv[j].ptr, argv[j].len);
        if (j != argc - 1) {
            l = str_append(l, " ", 1);
        }
    }
    log_line(l);
}

void ldb_log_call_error(const char *msg)
{
    if (strncmp(msg, "ERR ", 4) == 0) {
        msg += 4;
    }
    log_line(str_printf(str_empty(64), "<error> %s", msg));
}

void ldb_log_reply(const char *p, size_t len)
{
    if (len && p[0] == '-') {
        const char *e = line_end(p, p + len);
        log_line(str_append(cstr("<error> "), p, (size_t)(e - p)));
    }
    str s = cstr("<reply> ");
    human_reply(&s, p, p + len, 0);
    log_trimmed(s);
}

int ldb_lua_debug(lua_State *L)
{
    if (!ldb.active) {
        return 0;
    }
    str l = str_printf(str_empty(64), "<debug> line %d: ", ldb.currentline);
    int argc = lua_gettop(L);
    for (int i = 1; i <= argc; i++) {
        l = repr_value(l, L, i, 0);
        if (i != argc) {
            l = str_append(l, ", ", 2);
        }
    }
    log_line(l);
    return 0;
}

int ldb_lua_breakpoint(lua_State *L)
{
    if (ldb.active) {
        ldb.luabp = 1;
    }
    lua_pushboolean(L, ldb.active);
    return 1;
}

/* ---- sessions ---- */

/* Blocking for the session; a client that stops reading makes a write
 * give up after SEND_TIMEOUT_S (the session then goes on without it)
 * rather than hold a sync session's server forever. */
static void set_blocking(int fd, int on)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) {
        fcntl(fd, F_SETFL, on ? fl & ~O_NONBLOCK : fl | O_NONBLOCK);
    }
    struct timeval tv = {on ? SEND_TIMEOUT_S : 0, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* What the client was already owed goes first, so frames never overtake
 * an earlier reply. */
static void flush_output(client *c)
{
    if (rbuf_pending(&c->out) && write_all(c->out.data + c->out.sent, rbuf_pending(&c->out)) < 0) {
        ldb.gone = 1;
    }
    c->out.sent = c->out.len;
}

/* The child keeps only its client's socket: other connections must see
 * the server close them, and a restarted server must be able to bind. */
static void close_others(client *mine)
{
    server_close_listeners();
    for (client *c = server.clients; c; c = c->next) {
        if (c != mine && c->fd >= 0) {
            close(c->fd);
        }
    }
}

int ldb_session_start(client *c)
{
    if (!(c->flags & CLIENT_LUA_DEBUG_SYNC)) {
        pid_t pid = child_fork();
        if (pid < 0) {
            reply_errf(c, "ERR Fork() failed: can't run EVAL in debugging mode: %s", strerror(errno));
            return 0;
        }
        if (pid > 0) {
            if (nchildren == capchildren) {
                capchildren = capchildren ? capchildren * 2 : 4;
                children = alloc_resize(children, sizeof(pid_t) * (size_t)capchildren);
            }
            children[nchildren++] = pid;
            log_msg(LOG_NOTICE, "Lua debugging session of client %s forked to pid %d", c->addr, (int)pid);
            /* The child owns the connection now: close it here quietly. */
            if (c->tls) {
                tls_conn_abandon(c->tls);
            }
            c->out.len = c->out.sent = 0;
            client_close_async(c);
            return 0;
        }
        close_others(c);
        ldb.forked = 1;
    } else {
        log_msg(LOG_NOTICE, "Synchronous Lua debugging session of client %s started", c->addr);
    }
    ldb.active = 1;
    ldb.c = c;
    ldb.gone = ldb.luabp = ldb.aborting = ldb.nbp = 0;
    ldb.step = 1;
    ldb.currentline = 0;
    ldb.maxlen = DEFAULT_MAXLEN;
    ldb.maxlen_hint_sent = 0;
    ldb.cbuf = str_empty(1024);
    ldb.since_ms = util_mono_us() / 1000;
    load_source(c->argv[1]);
    set_blocking(c->fd, 1);
    flush_output(c);
    return 1;
}

void ldb_session_end(client *c)
{
    log_line(cstr("<endsession>"));
    send_logs();
    if (ldb.forked) {
        if (!ldb.gone) {
            flush_output(c);
        }
        _exit(0);
    }
    set_blocking(c->fd, 0);
    free_args();
    str_free(ldb.cbuf);
    str_free(ldb.src);
    alloc_free(ldb.lines);
    alloc_free(ldb.log);
    ldb.cbuf = ldb.src = NULL;
    ldb.lines = NULL;
    ldb.log = NULL;
    ldb.caplog = ldb.nlines = 0;
    ldb.active = 0;
    log_msg(LOG_NOTICE, "Synchronous Lua debugging session ended");
    if (ldb.gone) {
        c->out.len = c->out.sent = 0;
        client_close_async(c);
    } else {
        c->flags |= CLIENT_CLOSE_AFTER_REPLY; /* the close marks the end */
    }
}

void script_ldb_reap(void)
{
    for (int i = 0; i < nchildren;) {
        if (waitpid(children[i], NULL, WNOHANG) == children[i]) {
            children[i] = children[--nchildren];
        } else {
            i++;
        }
    }
}

void script_ldb_kill_children(void)
{
    for (int i = 0; i < nchildren; i++) {
        kill(children[i], SIGKILL);
        waitpid(children[i], NULL, 0);
    }
    nchildren = 0;
}
