/* core/xmpp/s2s.h -- server-to-server links (RFC 6120 with jabber:server,
 * XEP-0178 SASL EXTERNAL, XEP-0220 dialback, XEP-0368 direct TLS). */
#ifndef EMBER_CORE_S2S_H
#define EMBER_CORE_S2S_H

#include <jansson.h>
#include <uv.h>

#include <ember/plugin.h>

#include "base/config.h"

/* The resolver and the dialback secret; links come and go after. */
int ember__s2s_start(const ember_config_t *cfg, char *err, size_t errlen);
/* Close every link (queued stanzas bounce) and the resolver. */
void ember__s2s_stop(void);
/* Once the loop has closed every connection. */
void ember__s2s_cleanup(void);

/* A connection on an s2s or s2s-tls listener. */
int ember__s2s_accept(uv_stream_t *server, const ember_listener_conf_t *lc);

/*
 * Send st, whose 'to' names remote (a domain not served here), over the
 * link from local (the domain of its 'from', served here), opening the
 * link if needed; bounced with the RFC 6120 condition when it cannot go.
 * st stays the caller's.
 */
void ember__s2s_send(const ember_stanza_t *st, const char *local,
                     const char *remote);

/* [{"local","remote","direction","state","auth","tls","certificate",
 *   "stanzas_in","stanzas_out","since","queued","address"}] */
json_t *ember__s2s_links(void);
/* The last failed attempts: [{"local","remote","direction","reason",
 * "at"}], newest first. */
json_t *ember__s2s_failures(void);
/* Close every link with domain; the number closed. */
int ember__s2s_close_domain(const char *domain);

#endif
