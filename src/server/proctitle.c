/* proctitle: see the header. Linux keeps argv's strings and then
 * environ's in one block, and /proc/<pid>/cmdline reads the process title
 * from it: the title is written over that block, padded with NULs, once
 * argv and environ have been copied elsewhere. */
#include "server/proctitle.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/server.h"

extern char **environ;

static char *area;      /* argv[0]'s first byte ... */
static size_t area_len; /* ... to the end of the last string after it */
static char *exec_name; /* argv[0], kept for {title} */
/* The copies, held here so they stay reachable for leak checkers even
 * when unsetenv drops an entry from environ (supervise does). */
static char **saved_argv, **saved_env, **env_array;

/* argv[0] with the working directory before it unless it starts with a
 * '/', its leading "./" dropped (Redis's getAbsolutePath, less its ".."
 * folding); NULL when out of memory. */
static char *absolute_path(const char *name)
{
    char cwd[PATH_MAX];
    if (name[0] == '/' || !getcwd(cwd, sizeof(cwd))) {
        return strdup(name);
    }
    while (name[0] == '.' && name[1] == '/') {
        name += 2;
    }
    size_t n = strlen(cwd) + 1 + strlen(name) + 1;
    char *p = malloc(n);
    if (p) {
        snprintf(p, n, "%s/%s", cwd, name);
    }
    return p;
}

void proctitle_init(int argc, char **argv)
{
    if (argc < 1 || !argv[0]) {
        return;
    }
    /* The block: argv's strings and then environ's, as long as each
     * starts where the one before ended. */
    char *start = argv[0], *end = argv[0] + strlen(argv[0]) + 1;
    for (int i = 1; i < argc; i++) {
        if (argv[i] == end) {
            end += strlen(argv[i]) + 1;
        }
    }
    size_t nenv = 0;
    while (environ && environ[nenv]) {
        nenv++;
    }
    for (size_t i = 0; i < nenv; i++) {
        if (environ[i] == end) {
            end += strlen(environ[i]) + 1;
        }
    }
    /* Plain malloc: the copies live as long as the process. environ gets
     * an array of its own, which setenv and unsetenv may change. */
    saved_env = malloc(sizeof(char *) * (nenv + 1));
    char **env = env_array = malloc(sizeof(char *) * (nenv + 1));
    saved_argv = malloc(sizeof(char *) * (size_t)argc);
    if (!saved_env || !env || !saved_argv) {
        return;
    }
    for (size_t i = 0; i < nenv; i++) {
        saved_env[i] = env[i] = strdup(environ[i]);
        if (!saved_env[i]) {
            return;
        }
    }
    saved_env[nenv] = env[nenv] = NULL;
    environ = env;
    for (int i = 0; i < argc; i++) {
        saved_argv[i] = strdup(argv[i]);
        if (!saved_argv[i]) {
            return; /* out of memory at start: keep argv, and no title */
        }
    }
    for (int i = 0; i < argc; i++) {
        argv[i] = saved_argv[i];
    }
    exec_name = saved_argv[0];
    server.executable = absolute_path(exec_name);
    area = start;
    area_len = (size_t)(end - start);
}

/* One proc-title-template variable's text, as Redis gives it; NULL for an
 * unknown name (names are case-sensitive). Keel has no cluster or
 * sentinel mode, so {server-mode} is empty. */
static str proc_title_var(const char *name, size_t len, const char *title)
{
    const char *unixsocket = server.cfg.unixsocket ? server.cfg.unixsocket : "";
    str v = str_empty(32);
#define IS(s) (len == strlen(s) && memcmp(name, s, len) == 0)
    if (IS("title")) {
        v = str_append_cstr(v, title);
    } else if (IS("listen-addr")) {
        if (server.cfg.port || server.cfg.tls_port) {
            const char *bind = server.cfg.bind && server.cfg.bind[0] ? server.cfg.bind : "*";
            v = str_printf(v, "%.*s:%d", (int)strcspn(bind, " "), bind,
                           server.cfg.port ? server.cfg.port : server.cfg.tls_port);
        } else {
            v = str_printf(v, "unixsocket:%s", unixsocket);
        }
    } else if (IS("server-mode")) {
        /* empty */
    } else if (IS("config-file")) {
        v = str_append_cstr(v, server.config_file ? server.config_file : "-");
    } else if (IS("port")) {
        v = str_printf(v, "%d", server.cfg.port);
    } else if (IS("tls-port")) {
        v = str_printf(v, "%d", server.cfg.tls_port);
    } else if (IS("unixsocket")) {
        v = str_append_cstr(v, unixsocket);
    } else {
        str_free(v);
        v = NULL;
    }
#undef IS
    return v;
}

/* A proc-title-template with its variables filled in and the spaces at
 * both ends trimmed, or NULL when it is malformed: "{name}" is a variable,
 * "{{" a literal brace; a "{" at the end or without its "}" is an error. */
str proctitle_expand(const char *tpl, const char *title)
{
    str out = str_empty(64);
    for (const char *p = tpl; *p;) {
        const char *open = strchr(p, '{');
        if (!open) {
            out = str_append_cstr(out, p);
            break;
        }
        out = str_append(out, p, (size_t)(open - p));
        if (open[1] == '{') {
            out = str_append(out, "{", 1);
            p = open + 2;
            continue;
        }
        const char *close = open[1] ? strchr(open + 1, '}') : NULL;
        str v = close ? proc_title_var(open + 1, (size_t)(close - open - 1), title) : NULL;
        if (!v) {
            str_free(out);
            return NULL;
        }
        out = str_append(out, v, str_len(v));
        str_free(v);
        p = close + 1;
    }
    size_t a = 0, b = str_len(out);
    while (a < b && out[a] == ' ') {
        a++;
    }
    while (b > a && out[b - 1] == ' ') {
        b--;
    }
    str t = str_new(out + a, b - a);
    str_free(out);
    return t;
}

static int armed; /* start-up is over: CONFIG SET may change the title */

static void write_title(void)
{
    str t = area ? proctitle_expand(server.cfg.proc_title_template, exec_name) : NULL;
    if (!t) {
        return;
    }
    size_t n = str_len(t) < area_len ? str_len(t) : area_len - 1;
    memcpy(area, t, n);
    memset(area + n, 0, area_len - n);
    str_free(t);
}

void proctitle_start(void)
{
    armed = 1;
    if (server.cfg.set_proc_title) {
        write_title();
    }
}

void proctitle_update(void)
{
    /* As Redis: a new template applies even with set-proc-title off. */
    if (armed) {
        write_title();
    }
}
