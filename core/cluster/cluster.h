/* core/cluster/cluster.h -- several emberd nodes behind one address:
 * the session registry and the routing bus in Redis (doc/cluster.md). */
#ifndef EMBER_CORE_CLUSTER_H
#define EMBER_CORE_CLUSTER_H

#include <jansson.h>

#include "base/config.h"

/* Nothing without <cluster>; otherwise connects (on the loop, retried
 * with backoff: Redis may come later) and hands the router its calls. */
int ember__cluster_start(const ember_config_t *cfg);
/* Leave the cluster: this node's lease and sessions are withdrawn. */
void ember__cluster_stop(void);
/* Free the Redis connections (before the loop's handles are closed). */
void ember__cluster_cleanup(void);
/* {"node","redis","connected","nodes":[{"name","sessions"}]}, or NULL
 * when not clustered. */
json_t *ember__cluster_describe(void);
/* [{"jid","node","available","priority"}] of the other nodes' sessions
 * (host NULL: every host). */
json_t *ember__cluster_sessions(const char *host);

#endif
