/* core/server.h -- process-wide state: the loop, the config, the hosts. */
#ifndef EMBER_CORE_SERVER_H
#define EMBER_CORE_SERVER_H

#include <uv.h>
#include <jansson.h>

#include "base/config.h"
#include "base/process.h"

/* Offline: storage, accounts and commands only (emberctl without emberd). */
#define EMBER_SERVER_OFFLINE 0x1u

/*
 * Take ownership of cfg, load global modules (storage first), then each
 * host's modules, then open listeners and the control socket (not when
 * OFFLINE).  Returns a negative EMBER_E* with a message in err.
 */
int ember__server_start(ember_config_t *cfg, unsigned flags, char *err,
                        size_t errlen);
/* Re-read the config file: modules added, removed or reconfigured. */
int ember__server_reload(char *err, size_t errlen);
/* Close every stream with system-shutdown, flush storage, stop the loop. */
void ember__server_stop(void);
/* Free what start allocated; call after the loop returned. */
void ember__server_cleanup(void);

/* version, uptime, hosts, listeners, sessions, modules, rss ... */
json_t *ember__server_status(void);

#endif
