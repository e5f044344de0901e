/* lockcycle: lock acquire + release cycles per second (bench/patterns.py).
 *
 * Usage: lockcycle PORT MODE NPROC CYCLES PIPELINE [SHA]
 *
 * MODE delifeq releases with DELIFEQ key token (Keel's compare-and-delete);
 * MODE evalsha with EVALSHA SHA 1 key token, SHA being the seed article's
 * release script (get, compare, del) loaded by the caller. NPROC processes
 * each open one connection, wait until all are connected, then run CYCLES
 * cycles each: SET lock:<proc>:<i> <token> NX PX 30000, then the release,
 * PIPELINE cycles (2 * PIPELINE commands) written before the replies are
 * read. Every SET must reply OK and every release 1, else exit status 1.
 * The token is 32 hex digits, the size of a 128-bit random token.
 *
 * It prints one line: cycles=N seconds=S rate=R (R cycles per second over
 * all processes, from the start signal to the last process's end). */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int child(int port, int delifeq, const char *sha, int id, long cycles, int pipeline, int go_fd, int ready_fd)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    if (!c || c->err) {
        fprintf(stderr, "connect failed\n");
        return 1;
    }
    const char *token = "5f0c2a9e8b7d4c31a6e2f90b1d3c7e48";
    char key[64], b = 1;
    if (write(ready_fd, &b, 1) != 1 || read(go_fd, &b, 1) != 1) {
        return 1;
    }
    for (long i = 0; i < cycles; i += pipeline) {
        long n = cycles - i < pipeline ? cycles - i : pipeline;
        for (long j = 0; j < n; j++) {
            snprintf(key, sizeof(key), "lock:%d:%ld", id, i + j);
            redisAppendCommand(c, "SET %s %s NX PX 30000", key, token);
            if (delifeq) {
                redisAppendCommand(c, "DELIFEQ %s %s", key, token);
            } else {
                redisAppendCommand(c, "EVALSHA %s 1 %s %s", sha, key, token);
            }
        }
        for (long j = 0; j < 2 * n; j++) {
            redisReply *r;
            if (redisGetReply(c, (void **)&r) != REDIS_OK) {
                fprintf(stderr, "connection lost\n");
                return 1;
            }
            int ok = j % 2 == 0 ? r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0
                                : r->type == REDIS_REPLY_INTEGER && r->integer == 1;
            if (!ok) {
                fprintf(stderr, "unexpected reply (type %d) %s\n", r->type, r->str ? r->str : "");
                freeReplyObject(r);
                return 1;
            }
            freeReplyObject(r);
        }
    }
    redisFree(c);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: lockcycle PORT delifeq|evalsha NPROC CYCLES PIPELINE [SHA]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    int delifeq = strcmp(argv[2], "delifeq") == 0;
    int nproc = atoi(argv[3]);
    long cycles = atol(argv[4]);
    int pipeline = atoi(argv[5]);
    const char *sha = argc > 6 ? argv[6] : "";
    int go[2], ready[2];
    if (pipe(go) || pipe(ready)) {
        perror("pipe");
        return 1;
    }
    for (int p = 0; p < nproc; p++) {
        if (fork() == 0) {
            close(go[1]);
            close(ready[0]);
            _exit(child(port, delifeq, sha, p, cycles, pipeline, go[0], ready[1]));
        }
    }
    /* Only the children hold these ends now: a child that fails before
     * signalling closes its end, and read() sees the end of the pipe. */
    close(ready[1]);
    close(go[0]);
    char b;
    for (int p = 0; p < nproc; p++) {
        if (read(ready[0], &b, 1) != 1) {
            return 1;
        }
    }
    double start = now_s();
    char gobuf[256];
    memset(gobuf, 1, sizeof(gobuf));
    if (write(go[1], gobuf, (size_t)nproc) != nproc) {
        return 1;
    }
    int failed = 0, status;
    while (wait(&status) > 0) {
        failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
    double secs = now_s() - start;
    long total = cycles * nproc;
    printf("cycles=%ld seconds=%.3f rate=%.0f\n", total, secs, total / secs);
    return failed;
}
