/* core/web/websocket.h -- XMPP carried by HTTP: WebSocket (RFC 7395),
 * BOSH (XEP-0206) and the host-meta that announces them (XEP-0156). */
#ifndef EMBER_CORE_WEBSOCKET_H
#define EMBER_CORE_WEBSOCKET_H

/* Serve /xmpp-websocket on the client HTTP listeners. */
int ember__websocket_start(void);
/* Serve XEP-0206 BOSH at /http-bind there; stop ends every session. */
int ember__bosh_start(void);
void ember__bosh_stop(void);
/* Serve XEP-0156's /.well-known/host-meta and host-meta.json there. */
int ember__hostmeta_start(void);

#endif
