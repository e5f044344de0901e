/* fuzz_aof_load: the AOF loader (src/persist/aof.c) under arbitrary files,
 * inside a whole server (see fuzz_server.h): the manifest parser, the base
 * (RDB or commands), the replay of the incremental files through the
 * command table, the truncated-tail rule, and the checker behind
 * keel-server --check-aof [--fix].
 *
 * An input is a flags byte, then sections separated by "\n---\n":
 *   0  the manifest text (used when flags bit 0 is set; otherwise the
 *      harness writes one naming the files below),
 *   1  the base file (none when empty and the manifest is generated),
 *   2+ the incremental files, in order (at most 4).
 * Section 1 is written as appendonly.aof.1.base.rdb, section k >= 2 as
 * appendonly.aof.<k-1>.incr.aof, in appendonlydir under a private
 * directory. Flags: bit 1 aof-load-truncated, bit 2 run the checker first,
 * bit 3 the checker fixes. A load that succeeds must leave a dataset that
 * saves and loads back.
 *
 * aof.c keeps its state in statics, and aof_start is meant to run once per
 * process: this file includes aof.c to reset that state between inputs (it
 * is linked instead of aof.o). It touches aof.buf, aof.old_incrs,
 * aof.nold_incrs, aof.base_seq and aof.incr_seq only.
 *
 * Replay runs only the data commands (read or write, not admin, not
 * scripting): a log may hold anything, but SHUTDOWN or CONFIG SET dir would
 * stop or escape the harness.
 *
 * It found replay() calling commands with any number of arguments and a
 * 19-digit count overflowing read_line_ll() (both fixed, with tests in
 * test_aof.py).
 *
 * Seeds: tests/fuzz/corpus_aof (from redis-server 7.0, see
 * tests/fuzz/gen_corpus.py). By hand:
 *   make build/fuzz/fuzz_aof_load
 *   mkdir -p build/fuzz/corpus_aof
 *   build/fuzz/fuzz_aof_load -max_total_time=60 build/fuzz/corpus_aof tests/fuzz/corpus_aof */
#include "persist/aof.c"

#include "cmd/cmd.h"
#include "fuzz_server.h"

#define SEP "\n---\n"
#define MAX_SECTIONS 6
#define MAX_COMMANDS 1024

static cmd_fn original[MAX_COMMANDS];
static unsigned char allowed[MAX_COMMANDS];

static void guarded(client *c)
{
    command *cmd = c->cmd;
    int i = (int)(cmd - cmd_at(0));
    if (!allowed[i]) {
        reply_err(c, "ERR not replayed by the fuzz harness");
        return;
    }
    original[i](c);
}

static void guard_commands(void)
{
    static const char *const extra[] = {"select", "ping", "echo", "exec", "discard", "watch", "unwatch"};
    int n = cmd_count();
    if (n > MAX_COMMANDS) {
        fprintf(stderr, "fuzz_aof_load: more than %d commands\n", MAX_COMMANDS);
        abort();
    }
    for (int i = 0; i < n; i++) {
        command *cmd = cmd_at(i);
        uint32_t f = cmd->flags;
        allowed[i] = (f & (CMD_WRITE | CMD_READONLY)) && !(f & (CMD_ADMIN | CMD_PROTECTED | CMD_NOSCRIPT));
        for (size_t j = 0; j < sizeof(extra) / sizeof(extra[0]); j++) {
            allowed[i] |= strcmp(cmd->name, extra[j]) == 0;
        }
        original[i] = cmd->fn;
        cmd->fn = guarded;
    }
}

/* aof_start after aof_start: what a fresh process would have. */
static void reset_aof_state(void)
{
    str_free(aof.buf);
    aof.buf = NULL;
    alloc_free(aof.old_incrs);
    aof.old_incrs = NULL;
    aof.nold_incrs = 0;
    aof.base_seq = 0;
    aof.incr_seq = 0;
}

static void section_name(char *out, size_t cap, int k)
{
    if (k == 1) {
        snprintf(out, cap, "appendonly.aof.1.base.rdb");
    } else {
        snprintf(out, cap, "appendonly.aof.%d.incr.aof", k - 1);
    }
}

static void quiet_check(const char *manifest, int fix, size_t size)
{
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, STDOUT_FILENO);
    close(null);
    fuzz_alloc_start();
    aof_check(manifest, fix);
    fuzz_alloc_check(size, 16, 1 << 20);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int guarded_once;
    fuzz_server_init();
    if (!guarded_once) {
        guard_commands();
        guarded_once = 1;
        /* The files live in the private directory, not the working one. */
        char err[256];
        if (config_set("appenddirname", fuzz_path(0, "appendonlydir"), err, sizeof(err), 1) != 0) {
            fprintf(stderr, "config: %s\n", err);
            abort();
        }
    }
    if (size == 0) {
        return 0;
    }
    int flags = data[0];
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    const char *sec[MAX_SECTIONS];
    size_t sec_len[MAX_SECTIONS];
    int nsec = 0;
    while (nsec < MAX_SECTIONS) {
        const char *sep = nsec < MAX_SECTIONS - 1 ? memmem(p, (size_t)(end - p), SEP, strlen(SEP)) : NULL;
        sec[nsec] = p;
        sec_len[nsec++] = (size_t)((sep ? sep : end) - p);
        if (!sep) {
            break;
        }
        p = sep + strlen(SEP);
    }

    const char *dirname = dirname_cfg();
    fuzz_clear_dir(dirname);
    if (mkdir(dirname, 0755) != 0) {
        perror("mkdir");
        abort();
    }
    char name[64], path[PATH_MAX];
    str manifest = str_empty(256);
    if (flags & 1) {
        manifest = str_append(manifest, sec[0], sec_len[0]);
    }
    for (int k = 1; k < nsec; k++) {
        section_name(name, sizeof(name), k);
        path_in_dir(path, sizeof(path), name);
        fuzz_write_file(path, sec[k], sec_len[k]);
        if (!(flags & 1) && (k > 1 || sec_len[k] > 0)) {
            manifest = str_printf(manifest, "file %s seq %d type %c\n", name, k > 1 ? k - 1 : 1, k > 1 ? 'i' : 'b');
        }
    }
    char mname[300];
    snprintf(mname, sizeof(mname), "%s.manifest", basename_cfg());
    path_in_dir(path, sizeof(path), mname);
    fuzz_write_file(path, manifest, str_len(manifest));
    str_free(manifest);

    if (flags & 4) {
        quiet_check(path, (flags & 8) != 0, size);
    }

    server.cfg.aof_load_truncated = (flags & 2) != 0;
    /* Commands may build values far larger than themselves (SETRANGE,
     * COPY): only a gross blow-up is a finding here. */
    fuzz_alloc_start();
    server.loading = 1;
    int rc = aof_start();
    server.loading = 0;
    fuzz_alloc_check(size, 4096, 64 << 20);
    if (getenv("FUZZ_VERBOSE")) {
        fprintf(stderr, "aof_start: %s (%zu keys)\n", rc == 0 ? "ok" : "failed", fuzz_key_count());
    }
    if (rc == 0) {
        aof_disable();
    }
    reset_aof_state();
    if (rc == 0) {
        fuzz_save_reload();
    }
    fuzz_server_reset();
    return 0;
}
