/* fuzz_config: the config-file parser (src/server/config.c) under
 * arbitrary text, inside a whole server (see fuzz_server.h), read as at
 * start-up (no event loop yet, so nothing is applied beyond the settings).
 *
 * Whatever the text, loading must end with a value or an error. Then, for
 * the settings it left:
 *  - every directive's value as CONFIG GET renders it must set again
 *    (CONFIG SET at start-up) and render the same;
 *  - CONFIG REWRITE into an empty file, read back over the defaults, must
 *    give every directive the same value (the rewrite's quoting holds).
 * Texts naming `include`, `aclfile`, `rename-command` or with a `user`
 * line are skipped: the first two read other files (/dev/zero never ends),
 * the others change the command table or the ACL users for every later
 * input. Memory must stay within a bounded multiple of
 * the input.
 *
 * Built with clang -fsanitize=fuzzer this is a libFuzzer target; built
 * with -DFUZZ_STANDALONE it runs fuzz_server.c's driver. By hand:
 *   make build/fuzz/fuzz_config
 *   build/fuzz/fuzz_config -max_total_time=60 build/fuzz/corpus_config tests/fuzz/corpus_config */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/log.h"
#include "fuzz_server.h"

#define ALLOC_FACTOR 64
#define ALLOC_SLACK (1 << 20)
#define MAX_DEFS 512

static int mentions(const uint8_t *data, size_t size, const char *word)
{
    size_t wl = strlen(word);
    for (size_t i = 0; i + wl <= size; i++) {
        if (strncasecmp((const char *)data + i, word, wl) == 0) {
            return 1;
        }
    }
    return 0;
}

static str values[MAX_DEFS];

/* config_defaults sets loglevel notice again: back to the harness's. */
static void quiet(void)
{
    log_set_level(getenv("FUZZ_VERBOSE") ? LOG_NOTICE : LOG_NOTHING);
}

static int snapshot(void)
{
    int n = 0;
    for (const char *name; (name = config_name_at(n)) && n < MAX_DEFS; n++) {
        int found;
        values[n] = config_get_value(name, &found);
        if (!found) {
            fuzz_die("a directive CONFIG GET does not find");
        }
    }
    return n;
}

static void drop_snapshot(int n)
{
    for (int i = 0; i < n; i++) {
        str_free(values[i]);
        values[i] = NULL;
    }
}

/* The words of a value, single-spaced: directives that take a list of
 * words (bind, replicaof...) are written one argument per word, so an
 * empty word ("bind a \"\"") does not survive a rewrite, by design. */
static str words(const char *v)
{
    str out = str_empty(64);
    for (const char *p = v; *p;) {
        while (*p == ' ') {
            p++;
        }
        const char *e = strchr(p, ' ');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n) {
            out = str_append(out, " ", str_len(out) ? 1 : 0);
            out = str_append(out, p, n);
        }
        p += n;
    }
    return out;
}

static int list_valued(const char *name)
{
    return strcmp(name, "bind") == 0 || strcmp(name, "replicaof") == 0 ||
           strcmp(name, "client-output-buffer-limit") == 0 || strcmp(name, "save") == 0;
}

static int same_as_snapshot(int i)
{
    int found;
    str v = config_get_value(config_name_at(i), &found);
    int same = str_len(v) == str_len(values[i]) && memcmp(v, values[i], str_len(v)) == 0;
    if (!same && list_valued(config_name_at(i))) {
        str a = words(v), b = words(values[i]);
        same = strcmp(a, b) == 0;
        str_free(a);
        str_free(b);
    }
    if (!same) {
        fprintf(stderr, "%s: was '%s', now '%s'\n", config_name_at(i), values[i], v);
    }
    str_free(v);
    return same;
}

/* A line whose directive is word ("user" lines make ACL users, which no
 * reset between inputs removes; "aclfile" reads another file). */
static int has_directive(const uint8_t *data, size_t size, const char *word)
{
    size_t wl = strlen(word);
    for (size_t i = 0; i < size;) {
        while (i < size && (data[i] == ' ' || data[i] == '\t')) {
            i++;
        }
        if (size - i > wl && strncasecmp((const char *)data + i, word, wl) == 0 &&
            (data[i + wl] == ' ' || data[i + wl] == '\t')) {
            return 1;
        }
        const uint8_t *nl = memchr(data + i, '\n', size - i);
        i = nl ? (size_t)(nl - data) + 1 : size;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_server_init();
    if (mentions(data, size, "include") || mentions(data, size, "rename-command") ||
        has_directive(data, size, "user") || mentions(data, size, "aclfile")) {
        return 0;
    }
    ev_loop *loop = server.loop;
    server.loop = NULL; /* start-up: settings are stored, not acted on */
    config_defaults();
    quiet();
    char err[2048];
    fuzz_alloc_start();
    int rc = config_load_string((const char *)data, size, err, sizeof(err));
    fuzz_alloc_check(size, ALLOC_FACTOR, ALLOC_SLACK);
    if (getenv("FUZZ_VERBOSE")) {
        fprintf(stderr, "load: %s\n", rc == 0 ? "ok" : err);
    }
    int n = snapshot();
    /* GET then SET of the same value is the identity. */
    for (int i = 0; i < n; i++) {
        char e[512];
        if (config_set(config_name_at(i), values[i], e, sizeof(e), 1) != 0) {
            fprintf(stderr, "%s '%s': %s\n", config_name_at(i), values[i], e);
            fuzz_die("a value CONFIG GET rendered does not set again");
        }
        if (!same_as_snapshot(i)) {
            fuzz_die("setting a rendered value changed it");
        }
    }
    /* The rewrite, read back over the defaults, gives the same settings;
     * so does one of every directive (DEBUG CONFIG-REWRITE-FORCE-ALL), for
     * inputs of odd length. */
    const char *path = fuzz_path(0, "rewrite.conf");
    fuzz_write_file(path, "", 0);
    if (config_rewrite(path, (int)(size & 1), err, sizeof(err)) != 0) {
        fprintf(stderr, "rewrite: %s\n", err);
        fuzz_die("CONFIG REWRITE failed");
    }
    config_defaults();
    quiet();
    if (config_load_file(path, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        fuzz_die("the rewritten file does not load");
    }
    for (int i = 0; i < n; i++) {
        if (!same_as_snapshot(i)) {
            fuzz_die("the rewritten file loads to other settings");
        }
    }
    drop_snapshot(n);
    config_defaults();
    quiet();
    /* fuzz_server_init's settings again (no save points, quiet logs). */
    config_set("save", "", err, sizeof(err), 1);
    server.loop = loop;
    return 0;
}
