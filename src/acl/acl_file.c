/* acl_file: users from the config's `user` lines and from the aclfile
 * (at start-up and ACL LOAD), and ACL SAVE.
 *
 * A load builds the whole new set of users aside and replaces the current
 * one only when every line was valid, so a bad file changes nothing; all
 * errors are reported together, in Redis's words. The aclfile has one
 * "user <name> <rules...>" per line; blank lines are skipped (Redis 7.0
 * has no comments there). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "acl/acl.h"
#include "base/alloc.h"
#include "base/log.h"
#include "server/server.h"

#define ACL_LOAD_WARNING "WARNING: ACL errors detected, no change to the previously active ACL rules was performed"

typedef struct user_set {
    acl_user **u;
    int n;
} user_set;

static void set_free(user_set *s)
{
    for (int i = 0; i < s->n; i++) {
        acl_user_free_detached(s->u[i]);
    }
    alloc_free(s->u);
    s->u = NULL;
    s->n = 0;
}

/* One "user name rules..." line into set; errors are appended to *errors
 * (the line is skipped). */
static void parse_user(const sv *argv, int argc, const char *file, int lineno, user_set *set, str *errors,
                       int reset_existing)
{
    if (argc < 2 || argv[0].len != 4 || strncasecmp(argv[0].ptr, "user", 4) != 0) {
        *errors = str_printf(*errors, "%s:%d should start with user keyword followed by the username. ", file, lineno);
        return;
    }
    for (int i = 0; i < set->n; i++) {
        if (str_len(set->u[i]->name) == argv[1].len && memcmp(set->u[i]->name, argv[1].ptr, argv[1].len) == 0) {
            *errors = str_printf(*errors, "WARNING: Duplicate user '%.*s' found on line %d. ", (int)argv[1].len,
                                 argv[1].ptr, lineno);
            return;
        }
    }
    acl_user *u = acl_user_new_detached(argv[1].ptr, argv[1].len);
    if (reset_existing && acl_user_find(argv[1].ptr, argv[1].len)) {
        /* A config line redefines an existing user (default) from "reset",
         * as Redis does. */
        const char *why;
        acl_user_apply(u, "reset", 5, &why);
    }
    for (int i = 2; i < argc; i++) {
        const char *op = argv[i].ptr;
        size_t len = argv[i].len;
        str merged = NULL;
        if (len && op[0] == '(' && op[len - 1] != ')') {
            merged = str_new(op, len);
            int j = i + 1;
            for (; j < argc; j++) {
                merged = str_append(merged, " ", 1);
                merged = str_append(merged, argv[j].ptr, argv[j].len);
                if (argv[j].len && argv[j].ptr[argv[j].len - 1] == ')') {
                    break;
                }
            }
            if (j == argc) {
                *errors = str_printf(*errors, "%s:%d: Syntax error. ", file, lineno);
                str_free(merged);
                acl_user_free_detached(u);
                return;
            }
            i = j;
            op = merged;
            len = str_len(merged);
        }
        const char *why = "Syntax error";
        int rc = acl_user_apply(u, op, len, &why);
        if (rc < 0) {
            *errors = str_printf(*errors, "%s:%d: Error in applying operation '%.*s': %s. ", file, lineno,
                                 (int)(len > 256 ? 256 : len), op, why);
        }
        str_free(merged);
        if (rc < 0) {
            acl_user_free_detached(u);
            return;
        }
    }
    set->u = alloc_resize(set->u, sizeof(acl_user *) * (size_t)(set->n + 1));
    set->u[set->n++] = u;
}

/* Splits a line as the config and aclfile readers do and parses it. */
static void parse_line(const char *line, size_t len, const char *file, int lineno, user_set *set, str *errors,
                       int reset_existing)
{
    str args = NULL;
    size_t *off = NULL, *lens = NULL, cap = 0;
    long n = resp_split_args(line, len, &args, &off, &lens, &cap);
    if (n < 0) {
        *errors = str_printf(*errors, "%s:%d: unbalanced quotes in acl line. ", file, lineno);
    } else if (n > 0) {
        sv *argv = alloc_mem(sizeof(sv) * (size_t)n);
        for (long i = 0; i < n; i++) {
            argv[i] = (sv){args + off[i], lens[i]};
        }
        parse_user(argv, (int)n, file, lineno, set, errors, reset_existing);
        alloc_free(argv);
    }
    str_free(args);
    alloc_free(off);
    alloc_free(lens);
}

/* The config's user lines, kept until the command table exists. */
typedef struct pending {
    str line; /* "user name rules..." with the rules as read */
    str file;
    int lineno;
} pending;
static pending *pend;
static int npend;

void acl_config_user_line(const sv *args, int n, const char *file, int line)
{
    str s = str_new("user", 4);
    for (int i = 0; i < n; i++) {
        s = str_append(s, " \"", 2);
        for (size_t k = 0; k < args[i].len; k++) {
            char ch = args[i].ptr[k];
            if (ch == '"' || ch == '\\') {
                s = str_append(s, "\\", 1);
            }
            s = str_append(s, &ch, 1);
        }
        s = str_append(s, "\"", 1);
    }
    pend = alloc_resize(pend, sizeof(pending) * (size_t)(npend + 1));
    pend[npend].line = s;
    pend[npend].file = str_new(file, strlen(file));
    pend[npend].lineno = line;
    npend++;
}

static void pending_free(void)
{
    for (int i = 0; i < npend; i++) {
        str_free(pend[i].line);
        str_free(pend[i].file);
    }
    alloc_free(pend);
    pend = NULL;
    npend = 0;
}

int acl_load_startup(char *err, size_t errlen)
{
    const char *aclfile = server.cfg.aclfile;
    int has_file = aclfile && aclfile[0];
    if (npend && has_file) {
        snprintf(err, errlen,
                 "Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is "
                 "invalid. This setup is very likely to lead to configuration errors and security holes, please "
                 "define either an ACL file or declare users directly in your redis.conf, but not both.");
        pending_free();
        return -1;
    }
    if (npend) {
        user_set set = {0};
        str errors = str_empty(0);
        for (int i = 0; i < npend; i++) {
            parse_line(pend[i].line, str_len(pend[i].line), pend[i].file, pend[i].lineno, &set, &errors, 1);
        }
        pending_free();
        if (str_len(errors)) {
            snprintf(err, errlen, "%s", errors);
            str_free(errors);
            set_free(&set);
            return -1;
        }
        str_free(errors);
        /* Users not named keep existing (the default user among them). */
        for (int i = 0; i < set.n; i++) {
            acl_user_adopt(set.u[i]);
        }
        alloc_free(set.u);
    }
    if (has_file) {
        return acl_load_file(aclfile, err, errlen);
    }
    return 0;
}

int acl_load_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "Error loading ACLs, opening file '%s': %s", path, strerror(errno));
        return -1;
    }
    user_set set = {0};
    str errors = str_empty(0);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t s = 0, e = (size_t)len;
        while (s < e && (line[s] == ' ' || line[s] == '\t' || line[s] == '\r' || line[s] == '\n')) {
            s++;
        }
        while (e > s && (line[e - 1] == ' ' || line[e - 1] == '\t' || line[e - 1] == '\r' || line[e - 1] == '\n')) {
            e--;
        }
        if (e == s) {
            continue;
        }
        parse_line(line + s, e - s, path, lineno, &set, &errors, 0);
    }
    free(line);
    fclose(f);
    if (str_len(errors)) {
        snprintf(err, errlen, "%s%s", errors, ACL_LOAD_WARNING);
        str_free(errors);
        set_free(&set);
        return -1;
    }
    str_free(errors);
    acl_users_replace(set.u, set.n);
    alloc_free(set.u);
    return 0;
}

int acl_save_file(const char *path, char *err, size_t errlen)
{
    str out = str_empty(256);
    for (int i = 0; i < acl_user_count(); i++) {
        out = acl_user_describe(out, acl_user_at(i));
        out = str_append(out, "\n", 1);
    }
    str tmp = str_printf(str_empty(64), "%s.tmp-%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    int ok = f != NULL;
    if (ok) {
        ok = fwrite(out, 1, str_len(out), f) == str_len(out);
        ok = (fflush(f) == 0) && ok;
        ok = (fsync(fileno(f)) == 0) && ok;
        ok = (fclose(f) == 0) && ok;
    }
    if (ok && rename(tmp, path) < 0) {
        ok = 0;
    }
    if (!ok) {
        log_msg(LOG_WARNING, "Saving the ACL file '%s' failed: %s", path, strerror(errno));
        unlink(tmp);
        snprintf(err, errlen,
                 "There was an error trying to save the ACLs. Please check the server logs for more "
                 "information");
    }
    str_free(tmp);
    str_free(out);
    return ok ? 0 : -1;
}
