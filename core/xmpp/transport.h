/* core/xmpp/transport.h -- what an XMPP stream needs of whatever carries
 * it.  TCP with STARTTLS or direct TLS (xmpp/c2s.c) is the first kind;
 * a WebSocket, a BOSH session or a resumed session's new connection are
 * others: the stream state machine (xmpp/stream.c) never sees a socket. */
#ifndef EMBER_CORE_TRANSPORT_H
#define EMBER_CORE_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include <ember/plugin.h>

#include "net/tls.h"

/* How stream headers and stanzas are framed on the wire. */
typedef enum {
    EMBER_FRAMING_STREAM = 0,  /* RFC 6120: one <stream:stream> document */
    EMBER_FRAMING_MESSAGES = 1 /* RFC 7395: <open/>, <close/>, and each
                                  element whole, namespaces declared */
} ember_framing_t;

typedef struct ember_transport_ops_s {
    const char *name;          /* in log lines: "c2s" */
    ember_framing_t framing;
    int (*send)(void *t, const char *data, size_t len);
    /* Flush what was sent, then end; the transport reports the end with
     * ember__stream_gone. */
    void (*close)(void *t);
    /* NULL: the transport offers no STARTTLS. */
    int (*start_tls)(void *t);
    /* The TLS session under the stream (channel binding, the version
     * shown to admins), or NULL. */
    ember_tls_t *(*tls)(void *t);
    const char *(*peer_ip)(void *t);
    /* Milliseconds since the peer last sent anything. */
    uint64_t (*idle_ms)(void *t);
    /* How long the peer may take to authenticate, and stay silent once
     * it has; 0 for none.  Expiry: ember__stream_timeout. */
    void (*timeouts)(void *t, uint64_t auth_ms, uint64_t idle_ms);
    /* Lift the listener's rate limit (a server admin logged in); may be
     * NULL when the transport has none. */
    void (*unshape)(void *t);
    /* Carry session s from now on (a resumed one, XEP-0198), or no
     * session (NULL: the transport closes without telling anyone); NULL
     * when the transport cannot. */
    void (*rebind)(void *t, ember_session_t *s);
} ember_transport_ops_t;

#endif
