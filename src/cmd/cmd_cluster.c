/* cmd_cluster: the cluster commands of a standalone server. Keel has no
 * cluster mode (sharding is done by proxies, docs/SCALING.md), and Redis
 * without cluster-enabled answers these with one error; clients that probe
 * for a cluster (CLUSTER SLOTS, CLUSTER INFO) read that answer. CLUSTER's
 * subcommands are in the table (table_cluster.def), so an unknown one or a
 * wrong arity gets dispatch's error first, as in Redis. */
#include "server/server.h"

void cmd_cluster(client *c)
{
    reply_err(c, "ERR This instance has cluster support disabled");
}
