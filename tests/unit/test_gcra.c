/* gcra unit test: redis-cell's published sequence of requests, argument
 * checks and 64-bit edges, the seconds rounding, and random arrivals checked
 * against a different formulation of the same limit: the continuous-state
 * leaky bucket (a level that drains one ns per ns and fills by T per cell),
 * which the ATM standard shows equivalent to GCRA's virtual scheduling.
 * The random runs also let the state "expire" when the server would drop
 * the key (at its TAT rounded up to the ms), which must change nothing. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#include "types/gcra.h"
#include "unit.h"

#define S GCRA_NS_PER_SEC
#define MS 1000000LL

/* ---- redis-cell's table: limit 5 (max_burst 4), 1 per second ---- */

typedef struct step {
    int64_t at_ms;
    long long quantity;
    int limited;
    int64_t remaining, reset_ms, retry_ms;
} step;

static void test_published_sequence(void)
{
    static const step steps[] = {
        {0, 6, 1, 5, 0, -1000}, /* bigger than the burst: never allowed */
        {0, 1, 0, 4, 1000, -1000},    {0, 1, 0, 3, 2000, -1000},    {0, 1, 0, 2, 3000, -1000},
        {0, 1, 0, 1, 4000, -1000},    {0, 1, 0, 0, 5000, -1000},    {0, 1, 1, 0, 5000, 1000},
        {3000, 1, 0, 2, 3000, -1000}, {3100, 1, 0, 1, 3900, -1000}, {4000, 1, 0, 1, 4000, -1000},
        {8000, 1, 0, 4, 1000, -1000}, {9500, 1, 0, 4, 1000, -1000}, {9500, 0, 0, 4, 1000, -1000}, /* a peek */
        {9500, 2, 0, 2, 3000, -1000}, {9500, 5, 1, 2, 3000, 3000},
    };
    int64_t start = 1700000000LL * S, tat = 0;
    int has = 0;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        const step *st = &steps[i];
        gcra_limit l;
        CHECK(gcra_limit_init(&l, 4, 1, 1, st->quantity) == GCRA_OK);
        gcra_result r;
        CHECK(gcra_step(&l, has, tat, start + st->at_ms * MS, &r) == GCRA_OK);
        CHECK(r.limited == st->limited);
        CHECK(r.limit == 5);
        CHECK(r.remaining == st->remaining);
        CHECK(r.reset_after == st->reset_ms * MS);
        CHECK(r.retry_after == st->retry_ms * MS);
        CHECK(r.changed == (!st->limited && st->quantity > 0));
        if (r.changed) {
            tat = r.tat, has = 1;
        }
    }
}

/* ---- arguments and edges ---- */

static void test_arguments(void)
{
    gcra_limit l;
    CHECK(gcra_limit_init(&l, -1, 1, 1, 1) == GCRA_ERR_BURST);
    CHECK(gcra_limit_init(&l, 0, 0, 1, 1) == GCRA_ERR_COUNT);
    CHECK(gcra_limit_init(&l, 0, -5, 1, 1) == GCRA_ERR_COUNT);
    CHECK(gcra_limit_init(&l, 0, 1, 0, 1) == GCRA_ERR_PERIOD);
    CHECK(gcra_limit_init(&l, 0, 1, -1, 1) == GCRA_ERR_PERIOD);
    CHECK(gcra_limit_init(&l, 0, 1, 1, -1) == GCRA_ERR_QUANTITY);
    /* The order of the checks: the first bad argument is named. */
    CHECK(gcra_limit_init(&l, -1, 0, 0, -1) == GCRA_ERR_BURST);
    CHECK(gcra_limit_init(&l, 0, 0, 0, -1) == GCRA_ERR_COUNT);
    /* More than one per ns. */
    CHECK(gcra_limit_init(&l, 0, 2000000000LL, 1, 1) == GCRA_ERR_ZERO_RATE);
    CHECK(gcra_limit_init(&l, 0, 1000000000LL, 1, 1) == GCRA_OK && l.interval == 1);
    /* Rates finer than a millisecond stay exact. */
    CHECK(gcra_limit_init(&l, 9, 3, 1, 1) == GCRA_OK && l.interval == 333333333 && l.capacity == 3333333330LL);
    CHECK(gcra_limit_init(&l, 0, 5000, 1, 1) == GCRA_OK && l.interval == 200000);
    /* 64-bit overflow anywhere is a range error, not a wrong answer. */
    CHECK(gcra_limit_init(&l, 0, 1, LLONG_MAX, 1) == GCRA_ERR_RANGE);
    CHECK(gcra_limit_init(&l, LLONG_MAX, 1, 1, 1) == GCRA_ERR_RANGE);
    CHECK(gcra_limit_init(&l, 1LL << 40, 1, 1LL << 20, 1) == GCRA_ERR_RANGE);
    CHECK(gcra_limit_init(&l, 0, 1, 1000, LLONG_MAX) == GCRA_ERR_RANGE);
    CHECK(gcra_limit_init(&l, 0, 1, 9223372036LL, 1) == GCRA_OK);
    /* A TAT so far ahead that adding to it overflows. */
    CHECK(gcra_limit_init(&l, 0, 1, 60, 1) == GCRA_OK);
    gcra_result r;
    CHECK(gcra_step(&l, 1, INT64_MAX - 10, 1000, &r) == GCRA_ERR_RANGE);
    /* A stored TAT in the past, even negative, is an idle subject. */
    CHECK(gcra_step(&l, 1, -5 * S, 1000 * S, &r) == GCRA_OK && !r.limited && r.tat == 1060 * S);
    CHECK(gcra_step(&l, 1, INT64_MIN, 1000 * S, &r) == GCRA_OK && !r.limited && r.tat == 1060 * S);
}

static void test_seconds(void)
{
    CHECK(gcra_seconds(-S) == -1);
    CHECK(gcra_seconds(0) == 0);
    CHECK(gcra_seconds(1) == 0); /* less than a ms left over: not rounded */
    CHECK(gcra_seconds(MS - 1) == 0);
    CHECK(gcra_seconds(MS) == 1);
    CHECK(gcra_seconds(S) == 1);
    CHECK(gcra_seconds(S + 999999) == 1);
    CHECK(gcra_seconds(S + MS) == 2);
    CHECK(gcra_seconds(59 * S + 999 * MS) == 60);
    CHECK(gcra_seconds(-MS * 500) == 0);
}

/* One instant, many requests: exactly the burst is admitted. */
static void test_same_instant(void)
{
    gcra_limit l;
    CHECK(gcra_limit_init(&l, 9, 1000, 1, 1) == GCRA_OK);
    int64_t now = 1700000000LL * S, tat = 0;
    int has = 0, admitted = 0;
    for (int i = 0; i < 1000; i++) {
        gcra_result r;
        CHECK(gcra_step(&l, has, tat, now, &r) == GCRA_OK);
        if (!r.limited) {
            admitted++;
            tat = r.tat, has = 1;
        }
    }
    CHECK(admitted == 10);
}

/* ---- random arrivals against the leaky bucket ---- */

typedef struct bucket {
    int64_t level; /* ns of work queued; drains at 1 ns per ns */
    int64_t last;  /* time level was last computed */
} bucket;

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static long long pick(long long lo, long long hi)
{
    return lo + (long long)(rnd() % (uint64_t)(hi - lo + 1));
}

static void run_random(int round)
{
    long long burst = pick(0, round % 3 == 0 ? 3 : 50);
    long long count = pick(1, round % 2 ? 10 : 5000);
    long long period = pick(1, round % 5 == 0 ? 3600 : 10);
    gcra_limit base;
    CHECK(gcra_limit_init(&base, burst, count, period, 1) == GCRA_OK);
    int64_t T = base.interval, cap = base.capacity;
    int64_t now = 1700000000LL * S + pick(0, 999) * MS;
    int64_t tat = 0;
    int has = 0;
    bucket b = {0, now};
    for (int i = 0; i < 2000; i++) {
        /* Gaps from none (the same instant) to a few intervals, often whole
         * milliseconds as the server's clock gives. */
        switch (rnd() % 4) {
        case 0: break;
        case 1: now += pick(0, 3) * MS; break;
        case 2: now += pick(0, 3 * T); break;
        default: now += pick(0, 2 * cap + T); break;
        }
        long long q = rnd() % 8 ? pick(1, 2) : pick(0, burst + 2);
        /* The key expires at its TAT rounded up to the ms. */
        if (has && (tat / MS + (tat % MS > 0)) * MS <= now) {
            has = 0;
        }
        gcra_limit l;
        CHECK(gcra_limit_init(&l, burst, count, period, q) == GCRA_OK);
        gcra_result r;
        CHECK(gcra_step(&l, has, tat, now, &r) == GCRA_OK);

        int64_t level = b.level - (now - b.last);
        if (level < 0) {
            level = 0;
        }
        int limited = level + q * T > cap;
        int64_t after = limited ? level : level + q * T;
        if (!limited) {
            b.level = after, b.last = now;
        }
        CHECK(r.limited == limited);
        CHECK(r.reset_after == after);
        CHECK(r.remaining == (cap - after > 0 ? (cap - after) / T : 0));
        int64_t retry = limited && q * T <= cap ? level + q * T - cap : -S;
        CHECK(r.retry_after == retry);
        CHECK(r.changed == (!limited && q > 0));
        if (r.changed) {
            CHECK(r.tat == now + after);
            tat = r.tat, has = 1;
        }
    }
}

int main(void)
{
    test_published_sequence();
    test_arguments();
    test_seconds();
    test_same_instant();
    for (int round = 0; round < 200; round++) {
        run_random(round);
    }
    return unit_report("gcra");
}
