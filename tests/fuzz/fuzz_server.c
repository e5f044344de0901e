/* fuzz_server: the server state, helpers and standalone driver the loader
 * fuzz targets share. See fuzz_server.h. */
#include "fuzz_server.h"
#include "fuzz_read.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "cmd/cmd.h"
#include "db/db.h"
#include "persist/rdb.h"
#include "script/lua.h"

/* In main.c (which provides the server state too). */
void types_init(void);
void features_init(void);

static int started;
static char dir[256];
static client *fake;
static size_t alloc_base;

static void remove_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        return;
    }
    struct dirent *e;
    char p[512];
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            remove_dir(p);
        } else {
            unlink(p);
        }
    }
    closedir(d);
    rmdir(path);
}

void fuzz_clear_dir(const char *path)
{
    remove_dir(path);
}

static void remove_fuzz_dir(void)
{
    if (dir[0]) {
        remove_dir(dir);
    }
}

const char *fuzz_dir(void)
{
    if (!dir[0]) {
        /* Memory-backed when possible: saves and the AOF sync their files. */
        const char *tmp = getenv("TMPDIR");
        if (!tmp || !tmp[0]) {
            tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        }
        snprintf(dir, sizeof(dir), "%s/keel-fuzz-XXXXXX", tmp);
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            abort();
        }
        atexit(remove_fuzz_dir);
    }
    return dir;
}

const char *fuzz_path(int slot, const char *name)
{
    static char paths[4][512];
    snprintf(paths[slot & 3], sizeof(paths[0]), "%s/%s", fuzz_dir(), name);
    return paths[slot & 3];
}

void fuzz_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

void fuzz_server_init(void)
{
    if (started) {
        return;
    }
    started = 1;
    util_rand_seed(12345);
    uint8_t seed[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    util_hash_seed(seed);
    config_defaults();
    log_set_level(getenv("FUZZ_VERBOSE") ? LOG_NOTICE : LOG_NOTHING);
    /* Nothing saves behind the harness's back (FLUSHALL with save points). */
    char err[256];
    if (config_set("save", "", err, sizeof(err), 1) != 0) {
        fprintf(stderr, "config: %s\n", err);
        abort();
    }
    server.loop = ev_new(128);
    server_update_time();
    server.start_ms = server.now_ms;
    server.dbs = alloc_zero(sizeof(db) * (size_t)server.cfg.databases);
    for (int i = 0; i < server.cfg.databases; i++) {
        db_init(&server.dbs[i], i);
    }
    cmd_table_init();
    types_init();
    features_init();
    fake = client_new(-1, CLIENT_FAKE);
    fake->authenticated = 1;
    fuzz_dir();
}

size_t fuzz_key_count(void)
{
    size_t n = 0;
    for (int i = 0; i < server.cfg.databases; i++) {
        n += db_size(&server.dbs[i]);
    }
    return n;
}

void fuzz_server_reset(void)
{
    for (int i = 0; i < server.cfg.databases; i++) {
        if (db_size(&server.dbs[i])) {
            db_clear(&server.dbs[i]);
        }
    }
    if (script_libraries_count()) {
        script_functions_clear();
    }
    if (fake && fake->db != &server.dbs[0]) {
        client_select_db(fake, 0);
    }
}

void fuzz_save_reload(void)
{
    char err[512];
    size_t volatile_keys = 0, n = fuzz_key_count();
    for (int i = 0; i < server.cfg.databases; i++) {
        volatile_keys += server.dbs[i].expires;
    }
    const char *out = fuzz_path(3, "saved.rdb");
    /* The snapshot's temporary file goes to the working directory, to be
     * renamed over out: the same filesystem. */
    int cwd = open(".", O_RDONLY | O_DIRECTORY);
    if (cwd < 0 || chdir(fuzz_dir()) != 0) {
        perror("chdir");
        abort();
    }
    int saved = rdb_save_file(out, RDB_FORM_RDB, err, sizeof(err));
    if (fchdir(cwd) != 0) {
        perror("fchdir");
        abort();
    }
    close(cwd);
    if (saved != 0) {
        fprintf(stderr, "%s\n", err);
        fuzz_die("a loaded dataset does not save");
    }
    fuzz_server_reset();
    server.loading = 1;
    int rc = rdb_load_file(out, err, sizeof(err));
    server.loading = 0;
    if (rc != 0) {
        fprintf(stderr, "%s\n", err);
        fuzz_die("a saved dataset does not load back");
    }
    /* Keys with a TTL may expire in between. */
    if (volatile_keys == 0 && fuzz_key_count() != n) {
        fuzz_die("a saved dataset loads back with a different number of keys");
    }
}

client *fuzz_client(void)
{
    return fake;
}

void fuzz_call(client *c, int argc, const sv *argv)
{
    command *cmd = cmd_lookup(argv[0].ptr, argv[0].len);
    if (!cmd) {
        fprintf(stderr, "fuzz_call: unknown command %.*s\n", (int)argv[0].len, argv[0].ptr);
        abort();
    }
    if (argc > c->argv_cap) {
        c->argv_cap = argc;
        c->argv = alloc_resize(c->argv, sizeof(sv) * (size_t)argc);
    }
    for (int i = 0; i < argc; i++) {
        c->argv[i] = argv[i];
    }
    c->argc = argc;
    server_update_time();
    db_set_time(server.now_ms);
    dispatch_call(c, cmd);
    client_end_command(c);
    c->out.len = 0;
    c->out.sent = 0;
}

void fuzz_alloc_start(void)
{
    alloc_base = alloc_used();
    alloc_reset_peak();
}

void fuzz_alloc_check(size_t input_len, size_t factor, size_t slack)
{
    size_t peak = alloc_peak();
    if (peak > alloc_base && peak - alloc_base > input_len * factor + slack) {
        char msg[160];
        snprintf(msg, sizeof(msg), "allocated %zu bytes for a %zu-byte input (limit %zu)", peak - alloc_base, input_len,
                 input_len * factor + slack);
        fuzz_die(msg);
    }
}

#ifdef FUZZ_STANDALONE
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>

/* The input being run is kept in crash-<prog> in the working directory
 * until the run ends cleanly, so whatever stops the process (a sanitizer,
 * an abort, a kill) leaves it there to replay. */
static const char *prog = "fuzz";
static char crash_path[1024];
static int crash_fd = -1;

static void keep_input(const uint8_t *data, size_t len)
{
    if (crash_fd >= 0 && (pwrite(crash_fd, data, len, 0) != (ssize_t)len || ftruncate(crash_fd, (off_t)len) != 0)) {
        perror(crash_path);
    }
}

static void report_input(void)
{
    if (crash_fd >= 0) {
        fprintf(stderr, "%s: the input is in %s\n", prog, crash_path);
    }
}

void fuzz_die(const char *what)
{
    fprintf(stderr, "%s: invariant broken: %s\n", prog, what);
    report_input();
    abort();
}

#define FUZZ_MAX_SEEDS 256
#define FUZZ_MAX_INPUT 65536
static uint8_t *seeds[FUZZ_MAX_SEEDS];
static size_t seed_len[FUZZ_MAX_SEEDS];
static int nseeds;

static void add_seed(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        char p[1024];
        while (d && (e = readdir(d))) {
            if (e->d_name[0] != '.') {
                snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
                add_seed(p);
            }
        }
        if (d) {
            closedir(d);
        }
        return;
    }
    if (nseeds < FUZZ_MAX_SEEDS && (seeds[nseeds] = fuzz_read_file(path, &seed_len[nseeds]))) {
        if (seed_len[nseeds] > FUZZ_MAX_INPUT) {
            seed_len[nseeds] = FUZZ_MAX_INPUT;
        }
        nseeds++;
    }
}

static void run_one(const uint8_t *data, size_t len)
{
    keep_input(data, len);
    size_t before = alloc_used();
    LLVMFuzzerTestOneInput(data, len);
    /* Keel's allocator counts every byte: memory kept after an input that
     * was reset is either a cache or a leak, which LeakSanitizer tells. */
    if (alloc_used() > before && __lsan_do_recoverable_leak_check()) {
        fuzz_die("memory leaked while running this input");
    }
}

/* Values that sit on the boundaries RDB and RESP lengths use. */
static const uint64_t interesting[] = {0,          1,          0x3f,       0x40,       0x7f,   0x80,
                                       0xff,       0x3fff,     0x4000,     0x7fff,     0xffff, 0x7fffffff,
                                       0xffffffff, 0x80000000, 1ULL << 32, ~0ULL >> 1, ~0ULL};
static const uint8_t interesting_bytes[] = {0,    1,    2,    0x0f, 0x10, 0x3f, 0x40, 0x7f, 0x80, 0x81, 0xbf,
                                            0xc0, 0xc1, 0xc2, 0xc3, 0xf0, 0xfe, 0xff, '\r', '\n', '$',  '*',
                                            '-',  '0',  '9',  0xe0, 0xf1, 0xf2, 0xf3, 0xf4, 0xfa, 0xfb, 0xfc};

static size_t mutate(uint8_t *buf, size_t len)
{
    int muts = 1 + (int)(util_rand64() % 6);
    for (int m = 0; m < muts; m++) {
        uint64_t r = util_rand64();
        /* The first byte picks the target's mode: rarely touched. */
        size_t lo = len > 1 && r % 64 ? 1 : 0;
        size_t at = len > lo ? lo + (size_t)((r >> 8) % (len - lo)) : len;
        switch ((r >> 4) % 9) {
        case 0: /* flip a bit */
            if (at < len) {
                buf[at] ^= (uint8_t)(1u << ((r >> 40) % 8));
            }
            break;
        case 1: /* an interesting byte */
            if (at < len) {
                buf[at] = interesting_bytes[(r >> 40) % sizeof(interesting_bytes)];
            }
            break;
        case 2: /* a random byte */
            if (at < len) {
                buf[at] = (uint8_t)(r >> 48);
            }
            break;
        case 3: { /* an interesting number, little or big endian */
            uint64_t v = interesting[(r >> 40) % (sizeof(interesting) / sizeof(interesting[0]))];
            size_t w = (size_t)1 << ((r >> 50) % 4);
            for (size_t i = 0; i < w && at + i < len; i++) {
                buf[at + i] = (uint8_t)(r >> 52 & 1 ? v >> (8 * (w - 1 - i)) : v >> (8 * i));
            }
            break;
        }
        case 4: { /* insert bytes */
            size_t n = 1 + (size_t)((r >> 40) % 8);
            if (len + n <= FUZZ_MAX_INPUT) {
                memmove(buf + at + n, buf + at, len - at);
                for (size_t i = 0; i < n; i++) {
                    buf[at + i] = (uint8_t)util_rand64();
                }
                len += n;
            }
            break;
        }
        case 5: { /* delete a range */
            size_t n = 1 + (size_t)((r >> 40) % 16);
            if (at < len) {
                n = n < len - at ? n : len - at;
                memmove(buf + at, buf + at + n, len - at - n);
                len -= n;
            }
            break;
        }
        case 6: { /* copy a range of the input over another place */
            if (len > lo + 1) {
                size_t from = lo + (size_t)((r >> 40) % (len - lo));
                size_t n = 1 + (size_t)(util_rand64() % 32);
                n = n < len - from ? n : len - from;
                n = n < len - at ? n : len - at;
                memmove(buf + at, buf + from, n);
            }
            break;
        }
        case 7: /* truncate */
            if (at > lo) {
                len = at;
            }
            break;
        default: { /* splice in a slice of another seed */
            int s = (int)(util_rand64() % (uint64_t)nseeds);
            if (seed_len[s] > 1) {
                size_t from = 1 + (size_t)(util_rand64() % (seed_len[s] - 1));
                size_t n = 1 + (size_t)(util_rand64() % 64);
                n = n < seed_len[s] - from ? n : seed_len[s] - from;
                if (len + n <= FUZZ_MAX_INPUT) {
                    memmove(buf + at + n, buf + at, len - at);
                    memcpy(buf + at, seeds[s] + from, n);
                    len += n;
                }
            }
            break;
        }
        }
    }
    return len;
}

/* Runs the seeds (files or directories given), then random mutations of
 * them: FUZZ_ITERATIONS inputs, or fewer when FUZZ_SECONDS runs out. */
int main(int argc, char **argv)
{
    prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    long iterations = getenv("FUZZ_ITERATIONS") ? atol(getenv("FUZZ_ITERATIONS")) : 100000;
    double seconds = getenv("FUZZ_SECONDS") ? atof(getenv("FUZZ_SECONDS")) : 0;
    fuzz_server_init();
    for (int i = 1; i < argc; i++) {
        add_seed(argv[i]);
    }
    /* After the seeds are read: one of them may be this very file. */
    snprintf(crash_path, sizeof(crash_path), "crash-%s", prog);
    crash_fd = open(crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    __sanitizer_set_death_callback(report_input);
    if (nseeds == 0) {
        seeds[nseeds] = calloc(1, 1);
        seed_len[nseeds++] = 1;
    }
    for (int i = 0; i < nseeds; i++) {
        run_one(seeds[i], seed_len[i]);
    }
    static uint8_t buf[FUZZ_MAX_INPUT];
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long it = 0;
    for (; it < iterations; it++) {
        if (seconds > 0 && (it & 63) == 0) {
            clock_gettime(CLOCK_MONOTONIC, &t);
            if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 >= seconds) {
                break;
            }
        }
        int s = (int)(util_rand64() % (uint64_t)nseeds);
        size_t len = seed_len[s];
        memcpy(buf, seeds[s], len);
        len = mutate(buf, len);
        run_one(buf, len);
    }
    printf("%s: %ld random inputs and %d seeds, no invariant broken\n", prog, it, nseeds);
    for (int i = 0; i < nseeds; i++) {
        free(seeds[i]);
    }
    if (crash_fd >= 0) {
        close(crash_fd);
        unlink(crash_path);
    }
    return 0;
}
#else
void fuzz_die(const char *what)
{
    fprintf(stderr, "fuzz: invariant broken: %s\n", what);
    abort();
}
#endif
