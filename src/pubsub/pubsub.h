/* pubsub: channel, pattern and shard-channel subscriptions, message
 * delivery (RESP2 arrays or RESP3 pushes), and the out-of-band push path
 * that client tracking shares. */
#ifndef KEEL_PUBSUB_H
#define KEEL_PUBSUB_H

#include "base/str.h"
#include "proto/reply.h"

typedef struct client client;

/* Subscription kinds; the numbers match client_sub_count's `kind`. */
enum { PUBSUB_CHANNEL = 0, PUBSUB_PATTERN = 1, PUBSUB_SHARD = 2, PUBSUB_KINDS = 3 };

/* Registers commands' state hooks, the keyspace-event publisher, INFO
 * fields and the CLIENT LIST counts. Called once from features_init. */
void pubsub_init(void);

/* Delivers message to every subscriber of channel (and, for ordinary
 * channels, to every matching pattern). Returns the number of deliveries,
 * as PUBLISH replies. */
long long pubsub_publish(sv channel, sv message, int shard);

/* Subscriptions the client holds of one kind. */
int pubsub_count(client *c, int kind);
/* The count a (un)subscribe confirmation carries: shard subscriptions are
 * counted apart from channels and patterns, as Redis does. */
int pubsub_confirm_count(client *c, int kind);

/* Subscribe / unsubscribe one name; return 1 if it changed anything.
 * After a command's changes call pubsub_settle, which keeps CLIENT_PUBSUB
 * (and the per-client state) in step with the count. */
int pubsub_subscribe(client *c, int kind, sv name);
int pubsub_unsubscribe(client *c, int kind, sv name);
typedef void (*pubsub_name_fn)(client *c, int kind, sv name);
/* Drops every subscription of one kind, calling fn (may be NULL) after
 * each removal; returns how many there were. */
int pubsub_unsubscribe_all(client *c, int kind, pubsub_name_fn fn);
void pubsub_settle(client *c);
/* Whether pred holds for any of the client's subscriptions of a kind (ACL
 * uses it to find subscriptions a user may no longer hold). */
int pubsub_client_any(client *c, int kind, int (*pred)(sv name, void *ctx), void *ctx);

/* Subscribers of one channel (patterns not included). */
long long pubsub_numsub(int kind, sv name);
/* Visits every active channel (or pattern) name of a kind. */
void pubsub_each(int kind, void (*fn)(sv name, void *ctx), void *ctx);

/* Out-of-band frames (messages, invalidations) to a client. Frames for
 * the client whose command is running are held back until its reply is
 * complete, so a push never lands inside an aggregate reply. push_begin
 * returns where to write (NULL if the client is closing); push_end
 * schedules the write and enforces the output-buffer limit. */
rbuf *pubsub_push_begin(client *t);
void pubsub_push_end(client *t);
/* Called at the end of every top-level command: releases held frames. */
void pubsub_after_command(client *c);

/* Counts for INFO. */
size_t pubsub_total(int kind);

#endif
