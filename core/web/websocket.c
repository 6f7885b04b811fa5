/* core/web/websocket.c -- XMPP over WebSocket (RFC 7395) at /xmpp-websocket
 * on the client HTTP listeners: a transport (xmpp/transport.h) carried by
 * http/stream.c's WebSocket.  The stream, SASL, stanza limits and the
 * login throttle are the ones TCP clients get; only the framing differs:
 * <open/> and <close/> stand for the stream's edges, one element per
 * message. */
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "http/http.h"
#include "net/conn.h"
#include "web/websocket.h"
#include "xmpp/session.h"
#include "xmpp/stanza.h"
#include "xmpp/stream.h"
#include "xmpp/xmlstream.h"

#define NS_FRAMING "urn:ietf:params:xml:ns:xmpp-framing"

typedef struct ws_s {
    ember_http_req_t *req;
    ember_session_t *s;
} ws_t;


static int
t_send(void *t, const char *data, size_t len)
{
    return ember__ws_send(((ws_t *) t)->req, EMBER_WS_TEXT, data, len);
}


static void
t_close(void *t)
{
    ember__http_ws_finish(((ws_t *) t)->req);
}


static ember_tls_t *
t_tls(void *t)
{
    return ember__http_tls_session(((ws_t *) t)->req);
}


static const char *
t_peer_ip(void *t)
{
    return ember__http_peer_ip(((ws_t *) t)->req);
}


static uint64_t
t_idle_ms(void *t)
{
    return ember__http_idle_ms(((ws_t *) t)->req);
}


static void
t_timeouts(void *t, uint64_t auth_ms, uint64_t idle_ms)
{
    ember__http_stream_timeouts(((ws_t *) t)->req, auth_ms, idle_ms);
}


static void
t_unshape(void *t)
{
    ember__http_stream_shape(((ws_t *) t)->req, 0);
}


static void
t_rebind(void *t, ember_session_t *s)
{
    ((ws_t *) t)->s = s;
}


static const ember_transport_ops_t ws_ops = {
    .name = "websocket",
    .framing = EMBER_FRAMING_MESSAGES,
    .send = t_send,
    .close = t_close,
    .tls = t_tls,
    .peer_ip = t_peer_ip,
    .idle_ms = t_idle_ms,
    .timeouts = t_timeouts,
    .unshape = t_unshape,
    .rebind = t_rebind,
};


/* Append ' name="value"' (escaped) when value is set. */
static void
attr(ember_buf_t *b, const char *name, const char *value)
{
    if (value == NULL)
        return;
    ember__buf_printf(b, " %s=\"", name);
    ember__buf_escape(b, value, strlen(value));
    ember__buf_puts(b, "\"");
}


/*
 * <open/> as the stream header it stands for, fed to the stream: from
 * there on the stream cannot tell a WebSocket from TCP.  Anything else
 * in the framing namespace but <close/> is bad framing.
 */
static void
feed_framing(ws_t *w, const char *data, size_t len)
{
    ember_stanza_t *el = ember__stanza_parse(data, len);
    const char *name = el != NULL ? ember__stanza_name(el) : NULL;
    ember_buf_t b = { 0 };

    if (name != NULL && strcmp(name, "close") == 0) {
        ember__stream_feed(w->s, "</stream:stream>", 16);
    } else if (name != NULL && strcmp(name, "open") == 0) {
        ember__buf_puts(&b, "<stream:stream xmlns='jabber:client' "
                        "xmlns:stream='http://etherx.jabber.org/streams'");
        attr(&b, "to", ember__stanza_attr(el, "to"));
        attr(&b, "from", ember__stanza_attr(el, "from"));
        attr(&b, "version", ember__stanza_attr(el, "version"));
        attr(&b, "xml:lang", ember__stanza_attr(el, "xml:lang"));
        ember__buf_puts(&b, ">");
        ember__stream_feed(w->s, b.data, b.len);
        ember__buf_free(&b);
    } else {
        ember__session_end(w->s, EMBER_STREAM_BAD_FORMAT,
                           "not an <open/> or <close/> of RFC 7395");
    }
    ember__stanza_free(el);
}


static void
on_message(ember_http_req_t *req, int type, const char *data, size_t len,
           void *ud)
{
    ws_t *w = ud;
    size_t i = 0;

    if (w->s == NULL)
        return;
    if (type != EMBER_WS_TEXT) {
        ember__session_end(w->s, EMBER_STREAM_BAD_FORMAT,
                           "RFC 7395 streams are text messages");
        return;
    }
    while (i < len && (data[i] == ' ' || data[i] == '\t' ||
                       data[i] == '\r' || data[i] == '\n'))
        i++;
    /* A message holding only whitespace is a keepalive (RFC 7395 3.4). */
    if (i == len)
        return;
    /* data is not NUL-terminated (it may lie in wslay's buffer): the
     * namespace found, the bytes compared are there. */
    if (memmem(data + i, len - i > 256 ? 256 : len - i, NS_FRAMING,
               strlen(NS_FRAMING)) != NULL &&
        (memcmp(data + i, "<open", 5) == 0 ||
         memcmp(data + i, "<close", 6) == 0))
        feed_framing(w, data + i, len - i);
    else
        ember__stream_feed(w->s, data + i, len - i);
}


static void
on_closed(ember_http_req_t *req, void *ud)
{
    ws_t *w = ud;

    if (w->s != NULL)
        ember__stream_gone(w->s);
    free(w);
}


static int
on_request(ember_module_t *m, ember_http_req_t *req, void *ud)
{
    const char *proto = ember__http_header(req, "sec-websocket-protocol");
    ws_t *w;
    int rc;

    /* RFC 7395 3.2: the xmpp subprotocol, or no XMPP at all. */
    if (proto == NULL || !ember__http_has_token(proto, "xmpp"))
        return EMBER_EINVAL;
    if (ember__http_origin_refused(req) != NULL) {
        ember__log(EMBER_LOG_INFO, "http", "%s: WebSocket from origin %s "
                   "refused (allowed-origins)", ember__http_peer_ip(req),
                   ember__http_origin_refused(req));
        return EMBER_EPERM;
    }
    if ((w = calloc(1, sizeof(*w))) == NULL)
        return EMBER_ENOMEM;
    w->req = req;
    if ((rc = ember__ws_accept(req, "xmpp", on_message, w)) < 0) {
        free(w);
        return rc;
    }
    ember__http_on_closed(req, on_closed, w);
    ember__http_stream_shape(req, 1);
    /* Passwords only where no one listens in: TLS, or a proxy here. */
    w->s = ember__stream_new(&ws_ops, w,
                             ember__http_tls_session(req) == NULL &&
                                 !ember__conn_ip_loopback(
                                     ember__http_peer_ip(req)));
    if (w->s == NULL)
        ember__http_ws_finish(req);
    return 0;
}


int
ember__websocket_start(void)
{
    static const ember_http_route_t route = {
        .size = sizeof(ember_http_route_t), .set = "client",
        .method = "GET", .path = "/xmpp-websocket",
        .flags = EMBER_HTTP_WEBSOCKET, .handler = on_request,
    };

    return ember__http_route(NULL, &route, NULL);
}
