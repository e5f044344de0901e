/* util: number <-> string conversions with Redis's strictness, glob
 * matching, clocks, hashing and randomness. */
#ifndef KEEL_UTIL_H
#define KEEL_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Strict integer parse: optional '-', no spaces, no leading '+' or zeros,
 * must fit in long long. Returns 1 on success. */
int util_parse_ll(const char *s, size_t len, long long *out);
/* Strict double parse: no spaces, accepts inf/-inf; rejects NaN. */
/* 32-bit values at any alignment, in host order (for in-memory layouts). */
static inline uint32_t util_get_u32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static inline void util_put_u32(void *p, uint32_t v)
{
    memcpy(p, &v, sizeof(v));
}

int util_parse_double(const char *s, size_t len, double *out);
int util_parse_long_double(const char *s, size_t len, long double *out);
/* Writes a decimal integer and a NUL; returns its length (buf needs 21
 * bytes). */
int util_ll2str(char *buf, long long v);
int util_ull2str(char *buf, unsigned long long u);
/* Shortest text that reads back as the same double, laid out as Redis
 * 7.2+ replies doubles: integers plainly (up to 2^62), else the shortest
 * digits as a plain decimal or d.ddde+X by its rules ("inf", "-inf",
 * "-0" too); buf needs 32 bytes. Returns the length. */
int util_d2str(char *buf, double v);
/* Long double formatting as INCRBYFLOAT prints it: no exponent, no
 * trailing zeros. buf needs 5*1024 bytes at most; returns length or -1. */
int util_ld2str(char *buf, size_t cap, long double v);

/* Glob match with Redis's rules: * ? [abc] [^a] [a-z] and \ escapes.
 * Work is bounded: repeated stars collapse and a failed star ends early. */
int util_glob_match(const char *pat, size_t plen, const char *s, size_t slen, int nocase);

/* Wall clock in ms / us, and a monotonic clock in us. */
int64_t util_ms(void);
int64_t util_us(void);
int64_t util_mono_us(void);

/* SipHash-1-3 with the process's random key: the keyspace hash. */
uint64_t util_hash(const void *p, size_t len);
uint64_t util_hash_nocase(const void *p, size_t len);
void util_hash_seed(const uint8_t key[16]);
/* Unkeyed and deterministic (the same on every server), for DEBUG DIGEST:
 * FNV-1a from seed, then a strong mixer. */
uint64_t util_hash_stable(const void *p, size_t len, uint64_t seed);

/* Fast non-cryptographic random numbers (seeded from the OS at start). */
uint64_t util_rand64(void);
void util_rand_seed(uint64_t seed);
/* Fill with random bytes from the OS (falls back to util_rand64). */
void util_os_random(void *buf, size_t len);
/* Human-readable byte size, as INFO's *_human fields print it. */
void util_bytes_human(char *buf, size_t cap, unsigned long long n);
/* Parse a memory size like 1gb, 100mb, 512k, 10 (Redis units).
 * Returns 1 on success. */
int util_parse_memory(const char *s, long long *out);

#endif
