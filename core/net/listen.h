/* core/net/listen.h -- the TCP listeners of the config. */
#ifndef EMBER_CORE_LISTEN_H
#define EMBER_CORE_LISTEN_H

#include <jansson.h>
#include <uv.h>

#include "base/config.h"

/* Who takes a new connection of each listener type (set before start). */
typedef int (*ember_accept_cb)(uv_stream_t *server,
                               const ember_listener_conf_t *lc);
void ember__listeners_set_acceptor(ember_accept_cb cb);

int ember__listeners_start(const ember_config_t *cfg, char *err,
                           size_t errlen);
void ember__listeners_stop(void);
/*
 * Reload: close the listeners cfg no longer has, open its new ones, keep
 * the others (their connections stay).  A listener that cannot open is
 * logged and named in err; the rest still apply.
 */
int ember__listeners_sync(const ember_config_t *cfg, char *err,
                          size_t errlen);
/* [{"type","address","port","tls"}] */
json_t *ember__listeners_describe(void);

#endif
