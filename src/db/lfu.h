/* lfu: the arithmetic of the LFU policies' per-key state, as Redis
 * documents it (maxmemory-policy allkeys-lfu / volatile-lfu).
 *
 * The 24 access bits of an entry hold, under LFU,
 *
 *   [16-bit time of the last access, in minutes][8-bit logarithmic counter]
 *
 * The counter is a Morris-style approximate count: an access increments it
 * with probability 1 / ((counter - LFU_INIT_VAL) * lfu-log-factor + 1), so
 * with the default factor 10 about a hundred accesses bring a new key from
 * 5 to 10, a thousand to about 19, and it reaches 255 only after about
 * 300,000 (Redis's documentation tabulates the same curve). New keys
 * start at LFU_INIT_VAL, so they rank above keys that were used once long
 * ago and are not the first to go. The counter decays by one for every
 * lfu-decay-time minutes since the last access (0 turns decay off); the
 * decay is applied when the key is next accessed and whenever it is read
 * (OBJECT FREQ, eviction sampling), without writing the entry.
 *
 * Everything here is pure integer arithmetic on the packed bits, inline
 * because db_touch runs on every key access, and free of server state so
 * tests/unit/test_lfu.c can drive the clock. */
#ifndef KEEL_LFU_H
#define KEEL_LFU_H

#include <stdint.h>

#define LFU_INIT_VAL 5
#define LFU_COUNTER_MAX 255
/* The minute clock wraps after 2^16 minutes (about 45 days). */
#define LFU_MINUTES_MASK 0xFFFFu

static inline uint32_t lfu_pack(uint32_t minutes, uint32_t counter)
{
    return ((minutes & LFU_MINUTES_MASK) << 8) | (counter & 0xFFu);
}

static inline uint32_t lfu_counter_bits(uint32_t bits)
{
    return bits & 0xFFu;
}

/* Minutes since the access recorded in bits; modular, so the clock's wrap
 * between two accesses is harmless (idleness beyond 45 days is not). */
static inline uint32_t lfu_idle_minutes(uint32_t bits, uint32_t now_minutes)
{
    return (now_minutes - (bits >> 8)) & LFU_MINUTES_MASK;
}

/* The counter after decay: one less per decay_time minutes idle. */
static inline uint32_t lfu_decayed(uint32_t bits, uint32_t now_minutes, uint32_t decay_time)
{
    uint32_t counter = lfu_counter_bits(bits);
    uint32_t idle = lfu_idle_minutes(bits, now_minutes);
    /* The common case (used within the period) skips the division. */
    if (decay_time == 0 || idle < decay_time) {
        return counter;
    }
    uint32_t periods = idle / decay_time;
    return periods >= counter ? 0 : counter - periods;
}

/* One access's logarithmic increment; r is a uniform random 32-bit number.
 * The test "r < 2^32 / d" is done as "r * d < 2^32" in 64 bits, so the hot
 * path has no division and no floating point. */
static inline uint32_t lfu_log_incr(uint32_t counter, uint32_t log_factor, uint32_t r)
{
    if (counter >= LFU_COUNTER_MAX) {
        return LFU_COUNTER_MAX;
    }
    uint64_t base = counter > LFU_INIT_VAL ? counter - LFU_INIT_VAL : 0;
    uint64_t d = base * log_factor + 1;
    if (d > UINT32_MAX) {
        return counter; /* probability below 2^-32 */
    }
    return (uint64_t)r * d < (1ull << 32) ? counter + 1 : counter;
}

/* The bits after one access at now_minutes: decay, then increment. */
static inline uint32_t lfu_access(uint32_t bits, uint32_t now_minutes, uint32_t log_factor, uint32_t decay_time,
                                  uint32_t r)
{
    uint32_t counter = lfu_decayed(bits, now_minutes, decay_time);
    return lfu_pack(now_minutes, lfu_log_incr(counter, log_factor, r));
}

#endif
