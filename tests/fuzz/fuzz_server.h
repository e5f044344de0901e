/* fuzz_server: what the fuzz targets of the loaders share. They link the
 * whole server (main.c compiled with main renamed), so the loaders run with
 * the real keyspace, types, config and command table; this file starts that
 * state once, empties it between inputs, watches allocations, and (built
 * with -DFUZZ_STANDALONE) is the random-mutation driver used without
 * libFuzzer: `prog [seed files or directories]` runs the seeds, then
 * FUZZ_ITERATIONS mutations of them (stopping early after FUZZ_SECONDS),
 * keeping the input being run in ./crash-<prog>, which a clean end
 * removes; a failure leaves it there to replay (`prog crash-<prog>`). */
#ifndef KEEL_FUZZ_SERVER_H
#define KEEL_FUZZ_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "server/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The server state the loaders need: config defaults (no save points, logs
 * off unless FUZZ_VERBOSE is set), databases, command table, types,
 * scripting. Idempotent. */
void fuzz_server_init(void);
/* Empties every database and drops the function libraries. */
void fuzz_server_reset(void);
/* A private directory for the files an input becomes (removed at exit). */
const char *fuzz_dir(void);
/* path inside fuzz_dir(), in a static buffer per slot (0..3). */
const char *fuzz_path(int slot, const char *name);
void fuzz_write_file(const char *path, const void *data, size_t len);
/* Removes path and everything under it. */
void fuzz_clear_dir(const char *path);
/* Keys in all databases. */
size_t fuzz_key_count(void);
/* The dataset in memory must save, and load back from what was saved
 * (with as many keys, when none has a TTL); it is reloaded in place. */
void fuzz_save_reload(void);

/* A fake client for running commands against the keyspace, and a call
 * through dispatch as AOF replay makes it (the reply is discarded). Arity
 * must be right: dispatch_call does not check it. */
client *fuzz_client(void);
void fuzz_call(client *c, int argc, const sv *argv);

/* Allocation watch: start before an input; check fails the run when the
 * peak grew past factor * input + slack bytes. */
void fuzz_alloc_start(void);
void fuzz_alloc_check(size_t input_len, size_t factor, size_t slack);

/* An invariant broke: report it and abort (the standalone driver saves the
 * input first). */
void fuzz_die(const char *what) __attribute__((noreturn));

#endif
