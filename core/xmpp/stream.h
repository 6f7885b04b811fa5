/* core/xmpp/stream.h -- what a transport calls on the stream it carries
 * (xmpp/transport.h). */
#ifndef EMBER_CORE_STREAM_H
#define EMBER_CORE_STREAM_H

#include <ember/plugin.h>

#include "xmpp/transport.h"

/* A client stream on transport t; NULL on ENOMEM.  The stream sets the
 * transport's timeouts. */
ember_session_t *ember__stream_new(const ember_transport_ops_t *ops, void *t,
                                   int require_tls);
/* Bytes of the stream, decrypted. */
void ember__stream_feed(ember_session_t *s, const char *data, size_t len);
/* A transport timeout: before_auth 1 while not yet bound. */
void ember__stream_timeout(ember_session_t *s, int before_auth);
/* Refuse the stream before it starts (a limit): a stream error, then the
 * close. */
void ember__stream_refuse(ember_session_t *s, ember_stream_cond_t cond,
                          const char *text);
/* The peer went away: leave the routing tables now. */
void ember__stream_hangup(ember_session_t *s);
/* The transport is gone: the session ends and is freed. */
void ember__stream_gone(ember_session_t *s);
void ember__streams_cleanup(void);

#endif
