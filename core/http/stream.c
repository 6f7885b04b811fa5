/* core/http/stream.c -- server-sent events and WebSockets (RFC 6455,
 * framing by wslay) on a connection a module took over; http_close. */
#include <errno.h>
#include <iconv.h>
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


/* A close frame (frames go out in order: nothing waits in a queue), then
 * the end of the connection. */
static void
ws_end_after_data(conn_t *c)
{
    c->close_after = 1;
    if (c->mode == M_WS)
        ember__http_ws_end(c, 1000);
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


/* ---- WebSocket (RFC 6455) through wslay's frame layer ---- */

/*
 * Between messages a WebSocket holds nothing here: 10,000 idle XMPP
 * sessions would otherwise keep 10,000 wslay contexts, each with a 4 KiB
 * input buffer inside.  A connection takes a ws_in_t when bytes arrive
 * and gives it back once wslay returned all it was handed and no frame or
 * fragmented message is open; a few wait for the next connection.  Frames
 * go out through one wslay context for the loop: its send callback
 * collects header and payload, written in one piece.
 */
struct ws_in_s {
    wslay_frame_context_ptr fr;  /* its user data is this ws_in_t */
    const char *src;             /* input ws_recv hands fr */
    size_t left;
    uint64_t fed;                /* bytes handed to fr since taken */
    uint64_t used;               /* of them, frame headers and payload
                                    fr returned */
    uint64_t frame_len, frame_off;
    uint8_t frame_op;
    uint8_t frame_fin;
    uint8_t in_frame;            /* a header read, not all its payload */
    uint8_t msg_op;              /* text or binary message open, or 0 */
    ember_buf_t msg;             /* its fragments so far */
    uint8_t ctl[125];            /* a control frame's payload so far */
};

/* Connections idle between messages reuse these. */
#define WS_SPARE 4
/* The output buffer is kept for the next frame up to this size. */
#define WS_OUT_KEEP 65536

static ws_in_t *ws_spare[WS_SPARE];
static size_t ws_nspare;
static wslay_frame_context_ptr ws_out_fr;
static ember_buf_t ws_out;
static iconv_t ws_utf8 = (iconv_t) -1;


static ssize_t
ws_recv(uint8_t *buf, size_t len, int flags, void *ud)
{
    ws_in_t *in = ud;
    size_t n = in->left < len ? in->left : len;

    if (n == 0)
        return 0;
    memcpy(buf, in->src, n);
    in->src += n;
    in->left -= n;
    in->fed += n;
    return (ssize_t) n;
}


static ssize_t
ws_collect(const uint8_t *data, size_t len, int flags, void *ud)
{
    return ember__buf_append(&ws_out, (const char *) data, len) < 0
               ? 0 : (ssize_t) len;
}


static const struct wslay_frame_callbacks ws_in_callbacks = {
    NULL, ws_recv, NULL
};
/* Servers never mask (RFC 6455 5.1): no mask callback. */
static const struct wslay_frame_callbacks ws_out_callbacks = {
    ws_collect, NULL, NULL
};


static ws_in_t *
ws_take(void)
{
    ws_in_t *in;

    if (ws_nspare > 0)
        return ws_spare[--ws_nspare];
    if ((in = calloc(1, sizeof(*in))) == NULL)
        return NULL;
    if (wslay_frame_context_init(&in->fr, &ws_in_callbacks, in) != 0) {
        free(in);
        return NULL;
    }
    return in;
}


static void
ws_drop(ws_in_t *in)
{
    wslay_frame_context_free(in->fr);
    ember__buf_free(&in->msg);
    free(in);
}


/* Nothing read ahead, no frame open: fr is as its init left it. */
static int
ws_idle(const ws_in_t *in)
{
    return !in->in_frame && in->msg_op == 0 && in->fed == in->used;
}


static void
ws_give(ws_in_t *in)
{
    ember__buf_free(&in->msg);
    in->fed = in->used = 0;
    in->src = NULL;
    in->left = 0;
    if (ws_nspare < WS_SPARE)
        ws_spare[ws_nspare++] = in;
    else
        ws_drop(in);
}


/* One unmasked frame (fin set) to c. */
static int
ws_write(conn_t *c, uint8_t opcode, const uint8_t *data, size_t len)
{
    struct wslay_frame_iocb io;
    int rc;

    if (c->closing)
        return EMBER_ECANCELED;
    if (ws_out_fr == NULL &&
        wslay_frame_context_init(&ws_out_fr, &ws_out_callbacks, NULL) != 0) {
        ws_out_fr = NULL;
        return EMBER_ENOMEM;
    }
    memset(&io, 0, sizeof(io));
    io.fin = 1;
    io.opcode = opcode;
    io.payload_length = len;
    io.data = data;
    io.data_length = len;
    ember__buf_reset(&ws_out);
    if (wslay_frame_send(ws_out_fr, &io) != (ssize_t) len) {
        /* Out of memory part way: the next frame starts afresh. */
        wslay_frame_context_free(ws_out_fr);
        ws_out_fr = NULL;
        rc = EMBER_ENOMEM;
    } else {
        rc = ember__http_write(c, ws_out.data, ws_out.len);
    }
    if (ws_out.cap > WS_OUT_KEEP)
        ember__buf_free(&ws_out);
    return rc;
}


void
ember__http_ws_end(conn_t *c, uint16_t code)
{
    uint8_t p[2] = { (uint8_t) (code >> 8), (uint8_t) code };

    ws_write(c, WSLAY_CONNECTION_CLOSE, p, 2);
}


/* RFC 6455 8.1: text is UTF-8, and a text message that is not fails the
 * connection.  glibc's converter refuses overlong forms, surrogates and
 * code points past U+10FFFF. */
static int
ws_utf8_ok(const uint8_t *p, size_t n)
{
    char out[1024], *in, *o;
    size_t i, ol;

    for (i = 0; i < n && p[i] < 0x80; i++)
        ;
    if (i == n)
        return 1;
    if (ws_utf8 == (iconv_t) -1 &&
        (ws_utf8 = iconv_open("UTF-32LE", "UTF-8")) == (iconv_t) -1) {
        ember__log(EMBER_LOG_WARN, "http", "no UTF-8 converter: WebSocket "
                   "text is not checked");
        return 1;
    }
    iconv(ws_utf8, NULL, NULL, NULL, NULL);
    in = (char *) p + i;
    n -= i;
    while (n > 0) {
        o = out;
        ol = sizeof(out);
        if (iconv(ws_utf8, &in, &n, &o, &ol) == (size_t) -1 &&
            errno != E2BIG)
            return 0;
    }
    return 1;
}


/* RFC 6455 7.4: the codes a close frame may carry (wslay's list). */
static int
ws_code_valid(unsigned code)
{
    return (code >= 1000 && code <= 1011 && code != 1004 && code != 1005 &&
            code != 1006) || (code >= 3000 && code <= 4999);
}


/* A whole message: 0, or the code the connection fails with. */
static uint16_t
ws_message(conn_t *c, uint8_t opcode, const uint8_t *data, size_t len)
{
    ember_http_req_t *r = c->req;

    if (opcode == WSLAY_TEXT_FRAME && !ws_utf8_ok(data, len))
        return 1007;
    if (r != NULL && r->on_message != NULL)
        r->on_message(r, opcode == WSLAY_TEXT_FRAME ? EMBER_WS_TEXT
                                                    : EMBER_WS_BINARY,
                      (const char *) data, len, r->msg_ud);
    return 0;
}


/* A whole control frame: 0, or the code the connection fails with. */
static uint16_t
ws_control(conn_t *c, uint8_t opcode, const uint8_t *p, size_t len)
{
    if (opcode == WSLAY_PING)
        ws_write(c, WSLAY_PONG, p, len);
    if (opcode != WSLAY_CONNECTION_CLOSE)
        return 0;
    if (len == 1 || (len >= 2 && !ws_code_valid((unsigned) p[0] << 8 |
                                                 p[1])))
        return 1002;
    if (len > 2 && !ws_utf8_ok(p + 2, len - 2))
        return 1007;
    /* RFC 6455 5.5.1: answered with its own status code, then the end. */
    ws_write(c, WSLAY_CONNECTION_CLOSE, p, len);
    ember__http_conn_close(c);
    return 0;
}


/* wslay refuses a length not in its shortest form (RFC 6455 5.2), so the
 * header's size follows from the frame.  (Were it ever wrong, fed and used
 * would differ: the context would stay with its connection, no worse.) */
static size_t
ws_head_len(const struct wslay_frame_iocb *io)
{
    return 2 + (io->payload_length < 126 ? 0
                : io->payload_length < 65536 ? 2 : 8) + (io->mask ? 4 : 0);
}


/* A frame's header, as wslay returns it with the first of its payload. */
static uint16_t
ws_frame_start(ws_in_t *in, const struct wslay_frame_iocb *io)
{
    const ember_config_t *cfg = ember__config();
    uint64_t limit = cfg != NULL ? cfg->limits.http_max_body : 1 << 20;

    in->used += ws_head_len(io);
    /* No extension was agreed (no RSV bit), and clients mask (5.1). */
    if (io->rsv != 0 || !io->mask)
        return 1002;
    switch (io->opcode) {
    case WSLAY_TEXT_FRAME:
    case WSLAY_BINARY_FRAME:
        if (in->msg_op != 0)
            return 1002;     /* 5.4: a message's fragments are not mixed */
        break;
    case WSLAY_CONTINUATION_FRAME:
        if (in->msg_op == 0)
            return 1002;
        break;
    case WSLAY_CONNECTION_CLOSE:
    case WSLAY_PING:
    case WSLAY_PONG:
        break;
    default:
        return 1002;
    }
    if (!wslay_is_ctrl_frame(io->opcode)) {
        if (io->payload_length > limit ||
            in->msg.len > limit - io->payload_length)
            return 1009;
        if (io->opcode != WSLAY_CONTINUATION_FRAME)
            in->msg_op = io->opcode;
    }
    in->in_frame = 1;
    in->frame_op = io->opcode;
    in->frame_fin = io->fin;
    in->frame_len = io->payload_length;
    in->frame_off = 0;
    return 0;
}


/* A piece of a frame's payload from wslay (unmasked in its buffer). */
static uint16_t
ws_chunk(conn_t *c, ws_in_t *in, const struct wslay_frame_iocb *io)
{
    uint64_t off;
    uint16_t code;
    uint8_t op;
    int whole;

    if (!in->in_frame && (code = ws_frame_start(in, io)) != 0)
        return code;
    off = in->frame_off;
    in->used += io->data_length;
    in->frame_off += io->data_length;
    /* The frame in one piece: no copy. */
    whole = off == 0 && in->frame_off == in->frame_len;
    if (in->frame_off < in->frame_len) {
        if (wslay_is_ctrl_frame(in->frame_op))
            memcpy(in->ctl + off, io->data, io->data_length);
        else if (ember__buf_append(&in->msg, (const char *) io->data,
                                   io->data_length) < 0)
            return 1011;
        return 0;
    }
    in->in_frame = 0;
    if (wslay_is_ctrl_frame(in->frame_op)) {
        if (!whole)
            memcpy(in->ctl + off, io->data, io->data_length);
        return ws_control(c, in->frame_op, whole ? io->data : in->ctl,
                          (size_t) in->frame_len);
    }
    op = in->msg_op;
    if (whole && in->frame_fin && in->msg.len == 0) {
        in->msg_op = 0;
        return ws_message(c, op, io->data, io->data_length);
    }
    if (ember__buf_append(&in->msg, (const char *) io->data,
                          io->data_length) < 0)
        return 1011;
    if (!in->frame_fin)
        return 0;
    code = ws_message(c, op, (const uint8_t *) in->msg.data, in->msg.len);
    in->msg_op = 0;
    ember__buf_free(&in->msg);
    return code;
}


int
ember__http_ws_feed(conn_t *c)
{
    struct wslay_frame_iocb io;
    ws_in_t *in = c->ws;
    uint16_t code = 0;
    ssize_t r;

    if (c->inbuf.len == 0)
        return 0;
    if (in == NULL && (in = c->ws = ws_take()) == NULL) {
        ember__http_conn_close(c);
        return 0;
    }
    in->src = c->inbuf.data;
    in->left = c->inbuf.len;
    while (!c->closing && code == 0) {
        memset(&io, 0, sizeof(io));
        r = wslay_frame_recv(in->fr, &io);
        if (r == WSLAY_ERR_WANT_READ)
            break;
        /* A control frame fragmented or over 125 bytes, a length not in
         * its shortest form (5.5, 5.2). */
        code = r < 0 ? 1002 : ws_chunk(c, in, &io);
    }
    if (c->closing)
        return 0;
    /* All of it went to wslay; the next read starts a new buffer. */
    ember__buf_free(&c->inbuf);
    if (code != 0) {
        ember__log(EMBER_LOG_INFO, "http", "%s: WebSocket failed with "
                   "close code %u", ember__http_ip(c), (unsigned) code);
        ember__http_ws_end(c, code);
        ember__http_conn_close(c);
    } else if (ws_idle(in)) {
        c->ws = NULL;
        ws_give(in);
    }
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
    /* The upgrade request is read and no other follows: a long-lived
     * WebSocket (10,000 XMPP sessions) keeps neither its head nor the
     * listener's lists for requests. */
    ember__buf_free(&c->in.msg.url);
    ember__buf_free(&c->in.msg.heads);
    ember__buf_free(&c->in.msg.body);
    ember__buf_free(&c->in.msg.params);
    c->in.msg.nheaders = 0;
    c->in.msg.query = NULL;
    free(c->host_names);
    c->host_names = NULL;
    free(c->allowed_origins);
    c->allowed_origins = NULL;
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
    conn_t *c;
    int rc;

    if (req == NULL || (data == NULL && len > 0) ||
        (type != EMBER_WS_TEXT && type != EMBER_WS_BINARY))
        return EMBER_EINVAL;
    if (req->kind != RQ_WS)
        return EMBER_ESTATE;
    if ((c = req->c) == NULL || c->closing)
        return EMBER_ECANCELED;
    rc = ws_write(c, type == EMBER_WS_TEXT ? WSLAY_TEXT_FRAME
                                           : WSLAY_BINARY_FRAME,
                  (const uint8_t *) data, len);
    if (rc < 0) {
        ember__http_conn_close(c);
        return EMBER_EIO;
    }
    return 0;
}


void
ember__http_ws_free(conn_t *c)
{
    if (c->ws != NULL)
        ws_drop(c->ws);
    c->ws = NULL;
}
