/* gcra: the generic cell rate algorithm behind CL.THROTTLE, as pure
 * arithmetic on one number of state (no keyspace, no client).
 *
 * A subject may do count_per_period actions per period seconds, and up to
 * max_burst + 1 at once after being idle. The emission interval T is
 * period / count_per_period; the state is the theoretical arrival time (TAT):
 * when the subject would next be allowed an action if it had always acted at
 * exactly the rate. A request of quantity q at time now is allowed when
 *
 *     max(TAT, now) + q*T - now <= (max_burst + 1) * T
 *
 * which is GCRA's "TAT' - now <= tolerance" with tolerance T * max_burst, the
 * last cell of the request counted at its own arrival; then TAT becomes
 * max(TAT, now) + q*T. A denied request leaves TAT alone. So memory and time
 * are O(1) per subject, and the state means nothing once TAT <= now: it may
 * expire then.
 *
 * Times are nanoseconds since the epoch, the unit redis-cell keeps in its
 * keys: T stays exact for rates of more than 1000 per second, and a key
 * moved from a Redis running redis-cell keeps its meaning. The reply fields
 * follow redis-cell (and Dragonfly, which copies it). */
#ifndef KEEL_GCRA_H
#define KEEL_GCRA_H

#include <stdint.h>

#define GCRA_NS_PER_SEC 1000000000LL

/* Why parameters or state were refused. */
enum {
    GCRA_OK = 0,
    GCRA_ERR_BURST = -1,     /* max_burst < 0 */
    GCRA_ERR_COUNT = -2,     /* count_per_period <= 0 */
    GCRA_ERR_PERIOD = -3,    /* period <= 0 */
    GCRA_ERR_QUANTITY = -4,  /* quantity < 0 */
    GCRA_ERR_ZERO_RATE = -5, /* period / count rounds to 0 ns */
    GCRA_ERR_RANGE = -6,     /* the times would not fit in 64 bits */
};

/* A limit derived from the command's arguments. */
typedef struct gcra_limit {
    int64_t interval;  /* T, ns */
    int64_t capacity;  /* (max_burst + 1) * T, ns: the most TAT may lead now by */
    int64_t increment; /* quantity * T, ns */
    int64_t limit;     /* max_burst + 1 */
} gcra_limit;

/* What one request did. Times are ns; the reply rounds them to seconds
 * with gcra_seconds. */
typedef struct gcra_result {
    int limited;
    int changed;         /* the caller must store tat (allowed with quantity > 0) */
    int64_t tat;         /* the new TAT when changed */
    int64_t limit;       /* max_burst + 1 */
    int64_t remaining;   /* whole requests of quantity 1 still allowed now */
    int64_t retry_after; /* ns until this request could be allowed; -1 s when it
                          * is allowed or could never be (quantity > limit) */
    int64_t reset_after; /* ns until the subject is back to a full burst */
} gcra_result;

/* Checks the arguments (checked in this order: burst, count, period,
 * quantity) and derives the limit; GCRA_OK or an error code. */
int gcra_limit_init(gcra_limit *l, long long max_burst, long long count, long long period, long long quantity);

/* One request at now (ns) against the stored TAT (has_tat 0: no state,
 * i.e. idle). GCRA_OK, or GCRA_ERR_RANGE when a TAT so far ahead would
 * overflow; then nothing changed. Quantity 0 only reports (redis-cell's
 * "peek"): it never changes the state. */
int gcra_step(const gcra_limit *l, int has_tat, int64_t tat, int64_t now, gcra_result *out);

/* A duration in whole seconds as redis-cell replies it: truncated, plus one
 * when a millisecond or more is left over (so a caller never retries too
 * early); a negative duration of less than a second is 0 and -1 s stays -1. */
long long gcra_seconds(int64_t ns);

/* The text of an error code, Redis style (with the "ERR " prefix). */
const char *gcra_strerror(int err);

#endif
