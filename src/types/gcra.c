/* gcra: the arithmetic of CL.THROTTLE (see gcra.h for the algorithm). Every
 * product and sum is checked, because the arguments are the user's and any
 * 64-bit integer may arrive: an overflow is an error reply, never a wrong
 * answer or undefined behaviour. */
#include "types/gcra.h"

#include <stddef.h>

int gcra_limit_init(gcra_limit *l, long long max_burst, long long count, long long period, long long quantity)
{
    if (max_burst < 0) {
        return GCRA_ERR_BURST;
    }
    if (count <= 0) {
        return GCRA_ERR_COUNT;
    }
    if (period <= 0) {
        return GCRA_ERR_PERIOD;
    }
    if (quantity < 0) {
        return GCRA_ERR_QUANTITY;
    }
    int64_t period_ns;
    if (__builtin_mul_overflow((int64_t)period, GCRA_NS_PER_SEC, &period_ns)) {
        return GCRA_ERR_RANGE;
    }
    /* Integer division: T is at most 1 ns short, so the rate is at most one
     * part in T too generous; redis-cell divides in floating point, which
     * loses more for periods of years. */
    l->interval = period_ns / count;
    if (l->interval == 0) {
        return GCRA_ERR_ZERO_RATE;
    }
    if (__builtin_add_overflow((int64_t)max_burst, 1, &l->limit) ||
        __builtin_mul_overflow(l->interval, l->limit, &l->capacity) ||
        __builtin_mul_overflow(l->interval, (int64_t)quantity, &l->increment)) {
        return GCRA_ERR_RANGE;
    }
    return GCRA_OK;
}

int gcra_step(const gcra_limit *l, int has_tat, int64_t tat, int64_t now, gcra_result *out)
{
    /* A TAT in the past is the same state as none: the subject is idle. */
    int64_t base = has_tat && tat > now ? tat : now;
    int64_t new_tat, lead;
    if (__builtin_add_overflow(base, l->increment, &new_tat) || __builtin_sub_overflow(new_tat, now, &lead)) {
        return GCRA_ERR_RANGE;
    }
    /* lead: how far the TAT would run ahead of now. base >= now, so
     * base - now cannot overflow once lead did not. */
    out->limit = l->limit;
    out->limited = lead > l->capacity;
    out->changed = !out->limited && l->increment > 0;
    out->tat = out->changed ? new_tat : base;
    out->retry_after = -GCRA_NS_PER_SEC;
    if (out->limited && l->increment <= l->capacity) {
        /* Allowed once lead has shrunk to capacity; a request bigger than
         * the whole burst never is, and keeps the -1 (as redis-cell). */
        out->retry_after = lead - l->capacity;
    }
    /* Until full again: the lead of the state as it now stands. */
    out->reset_after = out->tat - now;
    /* Whole unit requests that fit in what is left of the capacity. */
    int64_t room = l->capacity - out->reset_after;
    out->remaining = room > 0 ? room / l->interval : 0;
    return GCRA_OK;
}

long long gcra_seconds(int64_t ns)
{
    long long s = ns / GCRA_NS_PER_SEC;
    if (ns % GCRA_NS_PER_SEC >= 1000000) {
        s++;
    }
    return s;
}

const char *gcra_strerror(int err)
{
    switch (err) {
    case GCRA_ERR_BURST: return "ERR max_burst can't be negative";
    case GCRA_ERR_COUNT: return "ERR count_per_period must be positive";
    case GCRA_ERR_PERIOD: return "ERR period must be positive";
    case GCRA_ERR_QUANTITY: return "ERR quantity can't be negative";
    case GCRA_ERR_ZERO_RATE: return "ERR zero rates are not supported";
    default: return "ERR value is not an integer or out of range";
    }
}
