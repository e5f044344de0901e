/* fuzz_main: the standalone driver of the fuzz targets that do not link
 * the whole server (those use fuzz_server.c's), for machines without
 * clang. Included by a target's .c after its LLVMFuzzerTestOneInput when
 * built with -DFUZZ_STANDALONE: `prog [seed files or directories]` runs
 * the seeds, then FUZZ_ITERATIONS random mutations of them (default
 * 100000), stopping early after FUZZ_SECONDS. The input being run is kept
 * in ./crash-<prog>, which a clean end removes; a failure leaves it there
 * to replay (`prog crash-<prog>`). */
#ifndef KEEL_FUZZ_MAIN_H
#define KEEL_FUZZ_MAIN_H

#ifdef FUZZ_STANDALONE
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fuzz_read.h"

#define FUZZ_MAX_SEEDS 512
#define FUZZ_MAX_LEN 8192

typedef struct fuzz_seeds {
    uint8_t *data[FUZZ_MAX_SEEDS];
    size_t len[FUZZ_MAX_SEEDS];
    int n;
} fuzz_seeds;

static void fuzz_add_seed(fuzz_seeds *s, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] != '.') {
                char p[1024];
                snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
                fuzz_add_seed(s, p);
            }
        }
        if (d) {
            closedir(d);
        }
        return;
    }
    size_t len;
    uint8_t *data = fuzz_read_file(path, &len);
    if (data && s->n < FUZZ_MAX_SEEDS) {
        s->data[s->n] = data;
        s->len[s->n++] = len;
    } else {
        free(data);
    }
}

static uint64_t fuzz_rng_state = 88172645463325252ull;

static uint64_t fuzz_rand(void)
{
    fuzz_rng_state ^= fuzz_rng_state << 13;
    fuzz_rng_state ^= fuzz_rng_state >> 7;
    fuzz_rng_state ^= fuzz_rng_state << 17;
    return fuzz_rng_state;
}

/* One mutation of buf (len bytes, room for FUZZ_MAX_LEN): flips, interesting
 * bytes, inserts, deletes and splices from another seed. */
static size_t fuzz_mutate(uint8_t *buf, size_t len, const fuzz_seeds *s)
{
    static const uint8_t interesting[] = {0, 1, 0x7f, 0x80, 0xff, '\r', '\n', ' ', '"', '\\', '%', '-', '0', '9'};
    int rounds = 1 + (int)(fuzz_rand() % 4);
    for (int r = 0; r < rounds; r++) {
        switch (fuzz_rand() % 6) {
        case 0:
            if (len) {
                buf[fuzz_rand() % len] ^= (uint8_t)(1u << (fuzz_rand() % 8));
            }
            break;
        case 1:
            if (len) {
                buf[fuzz_rand() % len] = interesting[fuzz_rand() % sizeof(interesting)];
            }
            break;
        case 2:
            if (len < FUZZ_MAX_LEN) {
                size_t at = len ? fuzz_rand() % (len + 1) : 0;
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = (uint8_t)fuzz_rand();
                len++;
            }
            break;
        case 3:
            if (len) {
                size_t at = fuzz_rand() % len, n = 1 + fuzz_rand() % (len - at);
                memmove(buf + at, buf + at + n, len - at - n);
                len -= n;
            }
            break;
        case 4:
            if (len) {
                len = fuzz_rand() % len;
            }
            break;
        default:
            if (s->n) {
                int k = (int)(fuzz_rand() % (uint64_t)s->n);
                if (s->len[k]) {
                    size_t from = fuzz_rand() % s->len[k], n = 1 + fuzz_rand() % (s->len[k] - from);
                    size_t at = len ? fuzz_rand() % (len + 1) : 0;
                    if (len + n <= FUZZ_MAX_LEN) {
                        memmove(buf + at + n, buf + at, len - at);
                        memcpy(buf + at, s->data[k] + from, n);
                        len += n;
                    }
                }
            }
        }
    }
    return len;
}

static void fuzz_keep(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        if (len) {
            fwrite(data, 1, len, f);
        }
        fclose(f);
    }
}

int main(int argc, char **argv)
{
    const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    char crash[256];
    snprintf(crash, sizeof(crash), "crash-%s", prog);
    long iterations = getenv("FUZZ_ITERATIONS") ? atol(getenv("FUZZ_ITERATIONS")) : 100000;
    long seconds = getenv("FUZZ_SECONDS") ? atol(getenv("FUZZ_SECONDS")) : 0;
    static fuzz_seeds seeds;
    for (int i = 1; i < argc; i++) {
        fuzz_add_seed(&seeds, argv[i]);
    }
    for (int i = 0; i < seeds.n; i++) {
        fuzz_keep(crash, seeds.data[i], seeds.len[i]);
        LLVMFuzzerTestOneInput(seeds.data[i], seeds.len[i]);
    }
    static uint8_t buf[FUZZ_MAX_LEN];
    time_t start = time(NULL);
    long done = 0;
    for (; done < iterations; done++) {
        if (seconds && done % 256 == 0 && time(NULL) - start >= seconds) {
            break;
        }
        size_t len = 0;
        if (seeds.n) {
            int k = (int)(fuzz_rand() % (uint64_t)seeds.n);
            len = seeds.len[k] < FUZZ_MAX_LEN ? seeds.len[k] : FUZZ_MAX_LEN;
            memcpy(buf, seeds.data[k], len);
        }
        len = fuzz_mutate(buf, len, &seeds);
        fuzz_keep(crash, buf, len);
        LLVMFuzzerTestOneInput(buf, len);
    }
    unlink(crash);
    printf("%s: %d seeds and %ld mutated inputs, no failure\n", prog, seeds.n, done);
    return 0;
}
#endif

#endif
