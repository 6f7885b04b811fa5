/* core/web/websocket.h -- XMPP over WebSocket (RFC 7395), a transport
 * bridging http/ and xmpp/. */
#ifndef EMBER_CORE_WEBSOCKET_H
#define EMBER_CORE_WEBSOCKET_H

/* Serve /xmpp-websocket on the client HTTP listeners. */
int ember__websocket_start(void);
/* Serve XEP-0156's /.well-known/host-meta and host-meta.json there. */
int ember__hostmeta_start(void);

#endif
