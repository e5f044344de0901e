/* bitops: the bit-level work behind Redis's bitmap commands, on plain byte
 * arrays. Bits are numbered as Redis numbers them: bit 0 is the most
 * significant bit of byte 0. Bytes past an array's end read as zero.
 * No server headers: the commands in cmd/cmd_bitmap.c do the parsing,
 * clamping and replies; this module only computes. */
#ifndef KEEL_BITOPS_H
#define KEEL_BITOPS_H

#include <stddef.h>
#include <stdint.h>

/* Set bits in len bytes (word at a time, with the CPU's popcount when it
 * has one). */
uint64_t bitops_count(const uint8_t *p, size_t len);
/* Set bits among bits first..last (inclusive; last < 8 * the array's
 * length, first <= last). */
uint64_t bitops_count_bits(const uint8_t *p, uint64_t first, uint64_t last);

/* The first bit equal to `bit` (0 or 1) among bits first..last (inclusive,
 * inside the array), or -1 when there is none. BITPOS's rules for ranges
 * and for a missing end are the command's. */
int64_t bitops_pos(const uint8_t *p, uint64_t first, uint64_t last, int bit);

/* BITOP: AND, OR, XOR, NOT (one source), and Redis 8.2's DIFF (X and none
 * of the others), DIFF1 (one or more of the others and not X), ANDOR (X
 * and one or more of the others) and ONE (exactly one source), X being
 * the first source; DIFF, DIFF1 and ANDOR need at least two sources. */
enum { BITOP_AND, BITOP_OR, BITOP_XOR, BITOP_NOT, BITOP_DIFF, BITOP_DIFF1, BITOP_ANDOR, BITOP_ONE };
/* dst gets dlen bytes (dlen >= every source's length); a source shorter
 * than dlen (or NULL with length 0) reads as zeros past its end. */
void bitops_op(int op, uint8_t *dst, size_t dlen, const uint8_t *const *src, const size_t *lens, int n);

/* BITFIELD: fields of 1..64 bits at any bit offset, read as unsigned or as
 * two's complement signed. p holds len bytes; reads past len give zeros.
 * bitops_field_set writes the low `bits` bits of v and needs the bytes it
 * touches (up to bit off + bits - 1) to be inside the array. */
uint64_t bitops_field_get_u(const uint8_t *p, size_t len, uint64_t off, int bits);
int64_t bitops_field_get_i(const uint8_t *p, size_t len, uint64_t off, int bits);
void bitops_field_set(uint8_t *p, uint64_t off, int bits, uint64_t v);

/* OVERFLOW policies. */
enum { BITOPS_WRAP, BITOPS_SAT, BITOPS_FAIL };
/* The value a field gets from INCRBY (value + incr, value being the field's
 * current value) or SET (the new value as given, incr 0). Returns 0 when it
 * fits, else 1 (above the range) or -1 (below), with *out the wrapped or
 * saturated value (untouched under FAIL: nothing is written).
 *
 * Signed fields of bits < 64 given by SET a value so far below the range
 * that max - value does not fit in 64 bits saturate to the maximum, not the
 * minimum: Redis 7.0 computes that difference in 64 bits and does so. */
int bitops_add_signed(int64_t value, int64_t incr, int bits, int ow, int64_t *out);
/* Unsigned fields (bits <= 63): the true sum of value (a SET value is the
 * given integer read as unsigned, so -1 is above every range) and incr. */
int bitops_add_unsigned(uint64_t value, int64_t incr, int bits, int ow, uint64_t *out);

#endif
