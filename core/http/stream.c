/* core/http/stream.c -- server-sent events and WebSockets (RFC 6455,
 * framing by wslay) on a connection a module took over; http_close. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <wslay/wslay.h>

#include "http/http_int.h"
#include "base/log.h"
#include "base/process.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


int
ember__http_ws_handshake_ok(const ember_http_msg_t *msg)
{
    const char *up = ember__http_msg_header(msg, "upgrade");
    const char *co = ember__http_msg_header(msg, "connection");
    const char *ver = ember__http_msg_header(msg, "sec-websocket-version");
    const char *key = ember__http_msg_header(msg, "sec-websocket-key");

    return strcmp(msg->method, "GET") == 0 &&
           (msg->http_major > 1 || msg->http_minor >= 1) &&
           up != NULL && ember__http_has_token(up, "websocket") &&
           co != NULL && ember__http_has_token(co, "upgrade") &&
           ver != NULL && strcmp(ver, "13") == 0 &&
           key != NULL && strlen(key) == 24;
}


/* A close frame after what is queued (or at the end of the message
 * callback running now), then the end of the connection. */
static void
ws_end_after_data(conn_t *c)
{
    c->close_after = 1;
    if (c->ws != NULL) {
        if (c->ws_busy) {
            c->ws_end = 1;
            return;
        }
        wslay_event_send(c->ws);
        wslay_event_queue_close(c->ws, 1000, NULL, 0);
        wslay_event_send(c->ws);
    }
    ember__http_conn_close(c);
}


void
ember__http_close(ember_http_req_t *req)
{
    conn_t *c;

    if (req == NULL)
        return;
    c = ember__http_req_detach(req);
    ember__http_req_free(req);
    if (c == NULL || c->closing)
        return;
    ws_end_after_data(c);
}


void
ember__http_ws_finish(ember_http_req_t *req)
{
    conn_t *c = req != NULL ? req->c : NULL;

    if (c != NULL && !c->closing)
        ws_end_after_data(c);
}


const char *
ember__http_origin_refused(ember_http_req_t *req)
{
    const char *origin, *p;
    size_t len, n;

    if (req == NULL || req->c == NULL || req->c->allowed_origins == NULL ||
        (origin = ember__http_msg_header(&req->c->in.msg, "origin")) == NULL)
        return NULL;
    len = strlen(origin);
    for (p = req->c->allowed_origins; *p != '\0'; p += n) {
        p += strspn(p, " \t\n");
        n = strcspn(p, " \t\n");
        if ((n == 1 && *p == '*') ||
            (n == len && strncasecmp(p, origin, n) == 0))
            return NULL;
    }
    return origin;
}


ember_tls_t *
ember__http_tls_session(ember_http_req_t *req)
{
    return req != NULL && req->c != NULL ? ember__conn_tls(req->c->conn)
                                         : NULL;
}


uint64_t
ember__http_idle_ms(ember_http_req_t *req)
{
    return req != NULL && req->c != NULL ? ember__conn_idle_ms(req->c->conn)
                                         : 0;
}


void
ember__http_stream_timeouts(ember_http_req_t *req, uint64_t deadline_ms,
                            uint64_t idle_ms)
{
    if (req == NULL || req->c == NULL)
        return;
    ember__conn_set_deadline(req->c->conn, deadline_ms);
    ember__conn_set_idle(req->c->conn, idle_ms);
}


void
ember__http_stream_shape(ember_http_req_t *req, int on)
{
    conn_t *c = req != NULL ? req->c : NULL;

    if (c != NULL)
        ember__conn_set_rate(c->conn, on ? c->stream_rate : 0,
                             on ? c->stream_burst : 0);
}


/* ---- server-sent events ---- */

int
ember__http_sse_start(ember_http_req_t *req)
{
    static const char *const h[] = {
        "Content-Type", "text/event-stream",
        "Cache-Control", "no-cache",
        "X-Accel-Buffering", "no",
        NULL
    };
    ember_buf_t b = { 0 };
    conn_t *c;
    char date[64];
    size_t i;
    int rc;

    if (req == NULL)
        return EMBER_EINVAL;
    if (req->kind != RQ_PENDING)
        return EMBER_ESTATE;
    if ((c = req->c) == NULL || c->closing) {
        ember__http_req_detach(req);
        ember__http_req_free(req);
        return EMBER_ECANCELED;
    }
    /* No length: the stream lasts as long as the connection. */
    ember__http_date(time(NULL), date, sizeof(date));
    ember__buf_printf(&b, "HTTP/1.1 200 OK\r\nDate: %s\r\n", date);
    for (i = 0; h[i] != NULL; i += 2)
        ember__buf_printf(&b, "%s: %s\r\n", h[i], h[i + 1]);
    ember__http_add_set_headers(&b, c->set, h, NULL);
    rc = ember__buf_puts(&b, "Connection: close\r\n\r\n");
    if (rc == 0)
        rc = ember__http_write(c, b.data, b.len);
    ember__buf_free(&b);
    if (rc < 0)
        return rc;
    req->kind = RQ_SSE;
    c->mode = M_SSE;
    c->close_after = 1;
    ember__buf_reset(&c->inbuf);
    return 0;
}


int
ember__http_sse_send(ember_http_req_t *req, const char *event,
                     const char *data)
{
    ember_buf_t b = { 0 };
    const char *p;
    size_t n;
    int rc;

    if (req == NULL || data == NULL ||
        (event != NULL && strpbrk(event, "\r\n") != NULL))
        return EMBER_EINVAL;
    if (req->kind != RQ_SSE)
        return EMBER_ESTATE;
    if (req->c == NULL || req->c->closing)
        return EMBER_ECANCELED;
    if (event != NULL)
        ember__buf_printf(&b, "event: %s\n", event);
    for (p = data;;) {
        n = strcspn(p, "\r\n");
        ember__buf_puts(&b, "data: ");
        ember__buf_append(&b, p, n);
        ember__buf_puts(&b, "\n");
        p += n;
        if (*p == '\r' && p[1] == '\n')
            p++;
        if (*p == '\0')
            break;
        p++;
    }
    rc = ember__buf_puts(&b, "\n");
    if (rc == 0)
        rc = ember__http_write(req->c, b.data, b.len);
    ember__buf_free(&b);
    return rc;
}


/* ---- WebSocket (RFC 6455) through wslay ---- */

static ssize_t
ws_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
        void *ud)
{
    conn_t *c = ud;
    size_t n = c->inbuf.len < len ? c->inbuf.len : len;

    if (n == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    memcpy(buf, c->inbuf.data, n);
    ember__buf_consume(&c->inbuf, n);
    return (ssize_t) n;
}


static ssize_t
ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
           int flags, void *ud)
{
    conn_t *c = ud;

    if (c->closing || ember__http_write(c, (const char *) data, len) < 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t) len;
}


static int
ws_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *ud)
{
    return gnutls_rnd(GNUTLS_RND_NONCE, buf, len) == 0 ? 0 : -1;
}


static void
ws_on_msg(wslay_event_context_ptr ctx,
          const struct wslay_event_on_msg_recv_arg *arg, void *ud)
{
    conn_t *c = ud;
    ember_http_req_t *r = c->req;

    if (r == NULL || r->on_message == NULL || c->closing)
        return;
    if (arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME)
        r->on_message(r, arg->opcode == WSLAY_TEXT_FRAME ? EMBER_WS_TEXT
                                                         : EMBER_WS_BINARY,
                      (const char *) arg->msg, arg->msg_length,
                      r->msg_ud);
}


static const struct wslay_event_callbacks ws_callbacks = {
    ws_recv, ws_send_cb, ws_genmask, NULL, NULL, NULL, ws_on_msg
};


int
ember__http_ws_feed(conn_t *c)
{
    int rc;

    c->ws_busy = 1;
    rc = wslay_event_recv(c->ws);
    c->ws_busy = 0;
    if (c->closing)
        return 0;
    if (rc == 0)
        rc = wslay_event_send(c->ws);
    if (rc == 0 && c->ws_end) {
        c->ws_end = 0;
        wslay_event_queue_close(c->ws, 1000, NULL, 0);
        rc = wslay_event_send(c->ws);
    }
    if (rc != 0 || c->close_after ||
        (!wslay_event_want_read(c->ws) && !wslay_event_want_write(c->ws)))
        ember__http_conn_close(c);
    return 0;
}


int
ember__ws_accept(ember_http_req_t *req, const char *protocol,
                 ember_ws_message_cb on_message, void *ud)
{
    const char *key;
    unsigned char digest[20];
    gnutls_datum_t in, out = { NULL, 0 };
    ember_buf_t b = { 0 };
    conn_t *c;
    char *cat = NULL;
    const ember_config_t *cfg = ember__config();
    int rc;

    if (req == NULL || on_message == NULL ||
        (protocol != NULL && strpbrk(protocol, "\r\n") != NULL))
        return EMBER_EINVAL;
    if (req->kind != RQ_PENDING)
        return EMBER_ESTATE;
    if ((c = req->c) == NULL || c->closing) {
        ember__http_req_detach(req);
        ember__http_req_free(req);
        return EMBER_ECANCELED;
    }
    if (c->route == NULL || !(c->route->flags & EMBER_HTTP_WEBSOCKET) ||
        !c->in.msg.upgrade ||
        (key = ember__http_msg_header(&c->in.msg, "sec-websocket-key")) ==
            NULL)
        return EMBER_ESTATE;
    if (asprintf(&cat, "%s" WS_GUID, key) < 0)
        return EMBER_ENOMEM;
    rc = gnutls_hash_fast(GNUTLS_DIG_SHA1, cat, strlen(cat), digest);
    free(cat);
    in.data = digest;
    in.size = sizeof(digest);
    if (rc < 0 || gnutls_base64_encode2(&in, &out) < 0)
        return EMBER_ENOMEM;
    if (wslay_event_context_server_init(&c->ws, &ws_callbacks, c) != 0) {
        gnutls_free(out.data);
        c->ws = NULL;
        return EMBER_ENOMEM;
    }
    wslay_event_config_set_max_recv_msg_length(c->ws,
        cfg != NULL ? cfg->limits.http_max_body : 1 << 20);
    ember__buf_printf(&b, "HTTP/1.1 101 Switching Protocols\r\n"
                      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Accept: %.*s\r\n", (int) out.size,
                      (const char *) out.data);
    gnutls_free(out.data);
    if (protocol != NULL)
        ember__buf_printf(&b, "Sec-WebSocket-Protocol: %s\r\n", protocol);
    rc = ember__buf_puts(&b, "\r\n");
    if (rc == 0)
        rc = ember__http_write(c, b.data, b.len);
    ember__buf_free(&b);
    if (rc < 0)
        return rc;
    req->kind = RQ_WS;
    req->on_message = on_message;
    req->msg_ud = ud;
    c->mode = M_WS;
    c->close_after = 0;
    ember__http_handed_over(c);
    /* The upgrade request is read: a long-lived WebSocket (10,000 XMPP
     * sessions) should not keep its head. */
    ember__buf_free(&c->in.msg.url);
    ember__buf_free(&c->in.msg.heads);
    ember__buf_free(&c->in.msg.body);
    ember__buf_free(&c->in.msg.params);
    c->in.msg.nheaders = 0;
    c->in.msg.query = NULL;
    if (c->inbuf.len == 0)
        ember__buf_free(&c->inbuf);
    /* Frames that came with the handshake. */
    if (!c->processing && c->inbuf.len > 0)
        ember__http_process(c);
    return 0;
}


int
ember__ws_send(ember_http_req_t *req, int type, const char *data,
               size_t len)
{
    struct wslay_event_msg msg;
    conn_t *c;

    if (req == NULL || (data == NULL && len > 0) ||
        (type != EMBER_WS_TEXT && type != EMBER_WS_BINARY))
        return EMBER_EINVAL;
    if (req->kind != RQ_WS)
        return EMBER_ESTATE;
    if ((c = req->c) == NULL || c->closing || c->ws == NULL)
        return EMBER_ECANCELED;
    msg.opcode = type == EMBER_WS_TEXT ? WSLAY_TEXT_FRAME
                                       : WSLAY_BINARY_FRAME;
    msg.msg = (const uint8_t *) (data != NULL ? data : "");
    msg.msg_length = len;
    if (wslay_event_queue_msg(c->ws, &msg) != 0)
        return EMBER_ESTATE;
    if (!c->ws_busy && wslay_event_send(c->ws) != 0) {
        ember__http_conn_close(c);
        return EMBER_EIO;
    }
    return 0;
}


void
ember__http_ws_end(conn_t *c, uint16_t code)
{
    wslay_event_queue_close(c->ws, code, NULL, 0);
    wslay_event_send(c->ws);
}


void
ember__http_ws_free(conn_t *c)
{
    if (c->ws != NULL)
        wslay_event_context_free(c->ws);
    c->ws = NULL;
}
