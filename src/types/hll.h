/* hll: HyperLogLog values in Redis's exact byte format, so a value written
 * by Redis reads the same here and back (an HLL is a plain string).
 *
 *   +------+---+-----+----------+----------------------------------+
 *   | HYLL | E | N/U | Cardin.  | registers                        |
 *   +------+---+-----+----------+----------------------------------+
 *    4 bytes magic, 1 byte encoding (0 dense, 1 sparse), 3 unused bytes,
 *    8 bytes cached cardinality (little endian; the top bit of the last
 *    byte set means "stale"), then the registers.
 *
 * Dense: 16384 registers of 6 bits, packed least significant bit first
 * (register i is bits 6i..6i+5 of the byte stream), 12288 bytes.
 * Sparse: a run-length code of opcodes that must cover exactly 16384
 * registers:
 *   ZERO  00xxxxxx           1..64 registers at zero
 *   XZERO 01xxxxxx yyyyyyyy  1..16384 registers at zero (14-bit length)
 *   VAL   1vvvvvxx           1..4 registers at value 1..32
 * A sparse value becomes dense when an update would make it longer than
 * hll-sparse-max-bytes or needs a value above 32.
 *
 * An element hashes with MurmurHash64A (seed 0xadc83b19): the low 14 bits
 * pick the register, and the position of the first set bit in the rest
 * (counting from 1, capped at 51) is the value it offers. The estimate is
 * the one of Ertl's "New cardinality estimation algorithms for
 * HyperLogLog sketches" (arXiv:1702.01284) over the register histogram.
 *
 * Values come from users (SET, RESTORE): once hll_header_ok accepted the
 * header, every function below takes any bytes. Those that read the sparse
 * opcodes check them as they go and return -1 (NULL) for a corrupt value,
 * touching nothing outside it. */
#ifndef KEEL_HLL_H
#define KEEL_HLL_H

#include <stddef.h>
#include <stdint.h>

#include "base/str.h"

#define HLL_P 14
#define HLL_Q (64 - HLL_P)
#define HLL_REGISTERS (1 << HLL_P)
#define HLL_BITS 6
#define HLL_REGISTER_MAX 63
#define HLL_HDR_SIZE 16
#define HLL_DENSE_SIZE (HLL_HDR_SIZE + (HLL_REGISTERS * HLL_BITS + 7) / 8)
#define HLL_SPARSE_VAL_MAX 32
#define HLL_SEED 0xadc83b19ULL

enum { HLL_DENSE = 0, HLL_SPARSE = 1 };

/* MurmurHash64A, reading 8-byte blocks as little-endian words. */
uint64_t hll_murmur64a(const void *key, size_t len, uint32_t seed);
/* The register an element goes to (*index) and the value it offers. */
int hll_pattern(const void *ele, size_t len, long *index);

/* The header checks Redis makes before it treats a string as an HLL: at
 * least a header, the magic, a known encoding, and the exact dense size.
 * A value failing them is "not a valid HyperLogLog string value". */
int hll_header_ok(const char *p, size_t len);
/* hll_header_ok and, for a sparse value, opcodes that cover exactly 16384
 * registers with nothing left over. A value failing only this is corrupt. */
int hll_valid(const char *p, size_t len);
int hll_encoding(const char *p);

/* An empty sparse HLL (one XZERO opcode) with a valid cached 0. */
str hll_new(void);

/* The cached cardinality: 1 and *card when it is valid. */
int hll_cache_get(const char *p, uint64_t *card);
void hll_cache_set(char *p, uint64_t card);
void hll_cache_invalidate(char *p);

/* Adds an element to *s (which may be reallocated or turn dense): 1 if a
 * register changed, 0 if not, -1 if the sparse value turned out corrupt
 * (as in Redis, only what the update walks over is looked at, so earlier
 * additions of the same command may have been made). */
int hll_add(str *s, const void *ele, size_t len, size_t sparse_max);
/* Raises register index to count if it is lower; returns as hll_add. */
int hll_set(str *s, long index, int count, size_t sparse_max);
/* The dense form of s (s itself when already dense; s is freed when it
 * was converted), or NULL with s untouched when s is corrupt. */
str hll_to_dense(str s);

/* regs[i] = max(regs[i], register i of p): 0, or -1 when p is corrupt
 * (regs may then be partly updated). */
int hll_merge(uint8_t *regs, const char *p, size_t len);
/* The estimate of a value (0, or -1 when it is corrupt), and of an array of
 * 16384 registers. */
int hll_count(const char *p, size_t len, uint64_t *card);
uint64_t hll_count_regs(const uint8_t *regs);

/* Registers of a dense value (the bytes after the header). */
int hll_dense_get(const uint8_t *regs, long i);
void hll_dense_set(uint8_t *regs, long i, int val);

/* PFDEBUG DECODE: "z:len", "Z:len" and "v:value,len" for each opcode of a
 * sparse value (any bytes: no validity is assumed), space separated. */
str hll_decode(str out, const char *p, size_t len);

/* PFSELFTEST: checks register access and the estimate's error in both
 * encodings; 0, or -1 with a message in err. */
int hll_selftest(char *err, size_t errlen);

#endif
