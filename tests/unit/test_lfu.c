/* lfu unit test: the logarithmic counter and its decay (db/lfu.h) with a
 * clock the test moves, then the same through the keyspace (db_touch,
 * OBJECT FREQ's db_lfu_counter, overwrites and RESTORE's FREQ), where a
 * real server would need minutes of sleep to show decay. */
#include <stdint.h>

#include "base/util.h"
#include "db/db.h"
#include "db/lfu.h"
#include "unit.h"

/* ---- the increment ---- */

static void test_increment_thresholds(void)
{
    /* At or below LFU_INIT_VAL every access counts. */
    CHECK(lfu_log_incr(0, 10, UINT32_MAX) == 1);
    CHECK(lfu_log_incr(LFU_INIT_VAL, 10, UINT32_MAX) == LFU_INIT_VAL + 1);
    /* At 6 with factor 10 the chance is 1/11: r below 2^32/11 increments. */
    uint32_t edge = (uint32_t)((1ull << 32) / 11);
    CHECK(lfu_log_incr(6, 10, edge) == 7);
    CHECK(lfu_log_incr(6, 10, edge + 1) == 6);
    CHECK(lfu_log_incr(6, 10, 0) == 7);
    /* Factor 0: a plain counter. */
    CHECK(lfu_log_incr(200, 0, UINT32_MAX) == 201);
    /* Saturation, and a factor so large the product would overflow. */
    CHECK(lfu_log_incr(LFU_COUNTER_MAX, 0, 0) == LFU_COUNTER_MAX);
    CHECK(lfu_log_incr(254, 0x7FFFFFFF, 0) == 254);
    CHECK(lfu_log_incr(254, 0x7FFFFFFF, UINT32_MAX) == 254);
}

/* The mean counter after n accesses from LFU_INIT_VAL. */
static double mean_after(int n, uint32_t factor)
{
    const int trials = 400;
    double sum = 0;
    for (int t = 0; t < trials; t++) {
        uint32_t c = LFU_INIT_VAL;
        for (int i = 0; i < n; i++) {
            c = lfu_log_incr(c, factor, (uint32_t)(util_rand64() >> 32));
        }
        sum += c;
    }
    return sum / trials;
}

static void test_increment_is_logarithmic(void)
{
    /* Expected accesses from 5 to c at factor f: sum of (f*(k-5)+1) for k
     * in 5..c-1, so c grows like 5 + sqrt(2n/f): about 10 after 100 hits
     * and 19 after 1000 at factor 10 (Redis's documented table: 10, 18). */
    double m100 = mean_after(100, 10), m1000 = mean_after(1000, 10);
    CHECK(m100 > 9.0 && m100 < 10.5);
    CHECK(m1000 > 17.5 && m1000 < 21.0);
    double m1000_f100 = mean_after(1000, 100);
    CHECK(m1000_f100 > 8.5 && m1000_f100 < 10.5);
    CHECK(mean_after(100, 0) == 105.0);
    CHECK(mean_after(1000, 0) == 255.0);
}

/* ---- decay ---- */

static void test_decay(void)
{
    uint32_t bits = lfu_pack(100, 20);
    CHECK(lfu_decayed(bits, 100, 1) == 20);
    CHECK(lfu_decayed(bits, 105, 1) == 15);
    CHECK(lfu_decayed(bits, 105, 2) == 18); /* two whole periods of 2 minutes */
    CHECK(lfu_decayed(bits, 105, 0) == 20); /* 0: no decay */
    CHECK(lfu_decayed(bits, 119, 1) == 1);
    CHECK(lfu_decayed(bits, 120, 1) == 0);
    CHECK(lfu_decayed(bits, 5000, 1) == 0);
    CHECK(lfu_decayed(bits, 5000, 1000000) == 20);
    /* The 16-bit minute clock wraps between two accesses. */
    bits = lfu_pack(65530, 20);
    CHECK(lfu_idle_minutes(bits, 65536 + 2) == 8);
    CHECK(lfu_decayed(bits, 65536 + 2, 1) == 12);
    CHECK(lfu_decayed(bits, 2, 1) == 12);
    /* An access decays first, then increments, and records the time. */
    bits = lfu_access(lfu_pack(100, 20), 110, 10, 1, UINT32_MAX);
    CHECK(lfu_counter_bits(bits) == 10);
    CHECK(lfu_idle_minutes(bits, 110) == 0);
    bits = lfu_access(lfu_pack(100, 3), 110, 10, 1, UINT32_MAX);
    CHECK(lfu_counter_bits(bits) == 1); /* decayed to 0, then +1 (below 5) */
}

/* ---- through the keyspace ---- */

#define MINUTE 60000LL

static void test_keyspace(void)
{
    int64_t t0 = 1700000000000LL;
    db d;
    db_init(&d, 0);
    db_set_lfu(1, 10, 1);
    db_set_time(t0);
    db_add(&d, kobj_new_string(SV("k"), SV("v"), -1));
    kobj *o = db_lookup(&d, SV("k"), LOOKUP_NOTOUCH);
    CHECK(db_lfu_counter(o) == LFU_INIT_VAL);
    for (int i = 0; i < 100; i++) {
        db_lookup(&d, SV("k"), LOOKUP_NONE);
    }
    int c = db_lfu_counter(o);
    CHECK(c >= 7 && c <= 13); /* 100 accesses: about 10, far below 100 */
    /* Three idle minutes: three less; reading does not write the entry. */
    db_set_time(t0 + 3 * MINUTE + 5000);
    CHECK(db_lfu_counter(o) == c - 3);
    CHECK(db_lfu_counter(o) == c - 3);
    CHECK(db_lfu_idle_minutes(o) == 3);
    /* lfu-decay-time 2: one period in three minutes. */
    db_set_lfu(1, 10, 2);
    CHECK(db_lfu_counter(o) == c - 1);
    db_set_lfu(1, 10, 1);
    /* An overwrite keeps the (decayed) counter and counts as an access. */
    db_set(&d, kobj_new_string(SV("k"), SV("w"), -1));
    o = db_lookup(&d, SV("k"), LOOKUP_NOTOUCH);
    CHECK(db_lfu_counter(o) >= c - 3 && db_lfu_counter(o) <= c - 2);
    CHECK(db_lfu_idle_minutes(o) == 0);
    /* A restored key starts fresh, or at RESTORE's FREQ. */
    db_restore_access(o, -1, -1);
    CHECK(db_lfu_counter(o) == LFU_INIT_VAL);
    db_restore_access(o, 1000, 77);
    CHECK(db_lfu_counter(o) == 77);
    /* Long idle decays to 0, and a new key ranks above it. */
    db_set_time(t0 + 200 * MINUTE);
    CHECK(db_lfu_counter(o) == 0);
    db_add(&d, kobj_new_string(SV("n"), SV("v"), -1));
    CHECK(db_lfu_counter(db_lookup(&d, SV("n"), LOOKUP_NOTOUCH)) == LFU_INIT_VAL);
    db_clear(&d);
    db_set_lfu(0, 10, 1);
}

int main(void)
{
    util_rand_seed(15);
    test_increment_thresholds();
    test_increment_is_logarithmic();
    test_decay();
    test_keyspace();
    return unit_report("lfu");
}
