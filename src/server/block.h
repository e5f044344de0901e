/* block: the one framework for commands that wait on keys (BLPOP, BLMOVE,
 * BZPOPMIN, BLMPOP, XREAD BLOCK, ...).
 *
 * A blocking command first tries to serve itself. If it cannot, it calls
 * block_on_keys() and returns without replying. When any write touches one
 * of those keys (plain command, MULTI/EXEC, script), the key is marked
 * ready; before the event loop sleeps the framework re-runs the waiting
 * clients' commands in first-come first-served order. A re-run that still
 * finds nothing calls block_on_keys() again, which keeps the client waiting
 * (same deadline, same place in line). Timeouts reply with the command's
 * chosen timeout reply. Inside MULTI or a script block_on_keys() refuses
 * (returns 0) and the command replies its timeout reply at once. */
#ifndef KEEL_BLOCK_H
#define KEEL_BLOCK_H

#include <stdint.h>

#include "server/server.h"

/* What a timed-out command replies. */
enum { BLOCK_REPLY_NULL_ARRAY, BLOCK_REPLY_NULL };

/* Parses a timeout in seconds (float, 0 = forever) at argv[i] into an
 * absolute deadline in ms (0 = forever). Replies the error and returns 0 on
 * bad input: "ERR timeout is not a float or out of range" / "ERR timeout is
 * negative". */
int block_parse_timeout(client *c, int i, int64_t *deadline);
/* Same for a millisecond argument (XREAD BLOCK ms). */
int block_parse_timeout_ms(client *c, int i, int64_t *deadline);

/* Blocks c on keys until served or the deadline (0 = never). Returns 1 if
 * c now waits, 0 if it may not block here (MULTI, script): reply the
 * timeout reply yourself. */
int block_on_keys(client *c, sv *keys, int nkeys, int64_t deadline, int timeout_reply);

/* A waiter served by callbacks instead of by re-running its command (a
 * module's BlockClientOnKeys). Its waits are woken only by
 * block_signal_key, as Redis wakes module waiters: not by every write. */
enum { BLOCK_SERVED, BLOCK_TIMED_OUT, BLOCK_ENDED_WITH_ERROR, BLOCK_CLIENT_GONE };
typedef struct block_handler {
    /* key of c's db is ready: 1 served (c replied), 0 keep waiting. */
    int (*serve)(client *c, void *data, sv key);
    /* The deadline passed, or CLIENT UNBLOCK TIMEOUT: reply. */
    void (*timed_out)(client *c, void *data);
    /* Whether CLIENT UNBLOCK may end the wait. */
    int (*may_end_early)(client *c, void *data);
    /* The wait is over (one of the BLOCK_ reasons), after any reply. */
    void (*ended)(client *c, void *data, int why);
} block_handler;
int block_on_keys_handled(client *c, sv *keys, int nkeys, int64_t deadline, const block_handler *h, void *data);
/* Wakes every waiter on key, the handled ones included: a key of a type
 * clients wait for was created, a stream grew, a module said so. */
void block_signal_key(db *d, sv key);
/* A key was created: signalled when of a type clients wait for. */
void block_key_created(db *d, sv key);

/* True while the framework is re-running a waiting client's command. */
/* The re-run now ending served the command (it did not block again). */
int block_rerun_served(client *c);
int block_is_rerun(client *c);

/* Called by the server: serve clients whose keys became ready, time out
 * the expired ones. */
void block_handle_ready(void);
void block_check_timeouts(void);
void block_init(void);
/* Ends c's wait now, whatever it waits for: with err, or (NULL) with the
 * reply its timeout would give (CLIENT UNBLOCK). Returns 0 when c does
 * not wait, or waits in a way that cannot end early (a CLIENT PAUSE). */
int block_end_early(client *c, const char *err);
/* The other ways to wait (WAIT, WAITAOF) register how to end one early:
 * fn returns 0 when c is not one of its waiters. */
void block_register_unblocker(int (*fn)(client *c, const char *err));
/* Ends every wait with err and closes those connections once the error
 * is sent: the instance is becoming a replica, as in Redis. */
void block_end_all(const char *err);
/* Number of clients blocked right now (INFO blocked_clients). */
int block_count(void);

#endif
