/* core/xmpp/component.h -- external components (XEP-0114): a process that
 * connects to the component port, proves the shared secret of its domain
 * and from then on serves that domain like a local service. */
#ifndef EMBER_CORE_COMPONENT_H
#define EMBER_CORE_COMPONENT_H

#include <jansson.h>
#include <stddef.h>
#include <uv.h>

#include <ember/plugin.h>

#include "base/config.h"

/* Accept one connection on a component listener. */
int ember__component_accept(uv_stream_t *server,
                            const ember_listener_conf_t *lc);

/*
 * The router's part: 1 when domain (prepared) is a configured component's,
 * and st went to it or, when it is not connected, was bounced with
 * service-unavailable; 0 when the domain is none of theirs.  st stays the
 * caller's.
 */
int ember__component_route(const char *domain, const ember_stanza_t *st);

/* Connected components shown in host's disco#items: cb(domain, name or
 * NULL, NULL, ud), the shape of ember__disco_foreach's items. */
void ember__components_items(const char *host,
                             void (*cb)(const char *a, const char *b,
                                        const char *c, void *ud),
                             void *ud);

/* After a reload: close the streams of components no longer configured. */
int ember__components_sync(void);
void ember__components_close_all(ember_stream_cond_t cond);
/* The last call, once every connection is gone. */
void ember__components_cleanup(void);
/* Component connections still open, authenticated or not. */
size_t ember__components_count(void);
/* [{"domain","name","connected","address","since","stanzas_in",
 * "stanzas_out"}] of every configured component. */
json_t *ember__components_describe(void);

#endif
