/* core/web/bosh.c -- XEP-0124 BOSH with XEP-0206 XMPP at /http-bind on the
 * client HTTP listeners: a session of held HTTP requests is the transport
 * (xmpp/transport.h) of one stream, so SASL, limits and the login
 * throttle are the ones TCP and WebSocket clients get. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>

#include "base/buf.h"
#include "base/hmap.h"
#include "base/log.h"
#include "base/process.h"
#include "http/http.h"
#include "net/conn.h"
#include "web/websocket.h"
#include "xmpp/session.h"
#include "xmpp/stanza.h"
#include "xmpp/stream.h"
#include "xmpp/xmlstream.h"

#define NS_HTTPBIND "http://jabber.org/protocol/httpbind"
#define NS_XBOSH "urn:xmpp:xbosh"
#define MAX_WAIT 60          /* seconds a request may be held */
#define MAX_HOLD 2
#define INACTIVITY 60        /* seconds without a request: the session ends */
#define MAX_SESSIONS_PER_IP 100

typedef struct held_s {
    ember_http_req_t *req;
    uint64_t since;          /* ms */
    struct held_s *next;
} held_t;

typedef struct bosh_s {
    char sid[33];
    ember_session_t *s;
    uint64_t rid;            /* the last request's */
    int wait, hold;
    held_t *held;            /* oldest first */
    ember_buf_t out;         /* stream output not yet answered */
    uint64_t last, deadline; /* ms: last request; authentication deadline */
    uint64_t idle_ms;        /* the stream's idle limit, 0 none */
    char ip[64];
    int tls;
    unsigned ended : 1;      /* the stream closed: answer terminate */
    unsigned gone : 1;       /* the transport is over: free at the sweep */
} bosh_t;

static ember_hmap_t sessions;
static uv_timer_t sweep_timer;
static int sweep_on;

static const char *const cors[] = {
    "Content-Type", "text/xml; charset=utf-8",
    "Access-Control-Allow-Origin", "*",
    "Access-Control-Allow-Headers", "Content-Type",
    "Access-Control-Allow-Methods", "POST, OPTIONS",
    NULL
};


static uint64_t
now_ms(void)
{
    return ember__uptime_ms();
}


/* Answer one held request with what is queued (terminate when ended). */
static void
answer(bosh_t *b, ember_http_req_t *req, const char *extra_attrs)
{
    ember_buf_t r = { 0 };

    ember__buf_printf(&r, "<body xmlns='" NS_HTTPBIND "'%s%s>",
                      extra_attrs != NULL ? extra_attrs : "",
                      b->ended ? " type='terminate'" : "");
    ember__buf_append(&r, b->out.data, b->out.len);
    ember__buf_puts(&r, "</body>");
    ember__buf_reset(&b->out);
    ember__http_respond(req, 200, cors, r.data, r.len);
    ember__buf_free(&r);
}


static void
answer_oldest(bosh_t *b, const char *extra)
{
    held_t *h = b->held;

    if (h == NULL)
        return;
    b->held = h->next;
    answer(b, h->req, extra);
    free(h);
}


/* Output waiting and a request to carry it: send now. */
static void
flush(bosh_t *b)
{
    while (b->held != NULL && (b->out.len > 0 || b->ended)) {
        answer_oldest(b, NULL);
        if (b->ended)
            continue;
        break;
    }
}


/* ---- the transport ---- */

static int
t_send(void *t, const char *data, size_t len)
{
    bosh_t *b = t;

    /* The stream's edges are the session's own: <open/> is the session
     * creation answer, <close/> its terminate. */
    if (len >= 5 && strncmp(data, "<open", 5) == 0)
        return 0;
    if (len >= 6 && strncmp(data, "<close", 6) == 0) {
        b->ended = 1;
        return 0;
    }
    if (b->out.len + len > (1u << 20))
        return EMBER_ELIMIT;
    if (ember__buf_append(&b->out, data, len) < 0)
        return EMBER_ENOMEM;
    flush(b);
    return 0;
}


static void
t_close(void *t)
{
    bosh_t *b = t;

    b->ended = 1;
    flush(b);
    b->gone = 1;
}


static ember_tls_t *
t_tls(void *t)
{
    return NULL;
}


static const char *
t_peer_ip(void *t)
{
    return ((bosh_t *) t)->ip;
}


static uint64_t
t_idle_ms(void *t)
{
    return now_ms() - ((bosh_t *) t)->last;
}


static void
t_timeouts(void *t, uint64_t auth_ms, uint64_t idle_ms)
{
    bosh_t *b = t;

    b->deadline = auth_ms > 0 ? now_ms() + auth_ms : 0;
    b->idle_ms = idle_ms;
}


static const ember_transport_ops_t bosh_ops = {
    .name = "bosh",
    .framing = EMBER_FRAMING_MESSAGES,
    .send = t_send,
    .close = t_close,
    .tls = t_tls,
    .peer_ip = t_peer_ip,
    .idle_ms = t_idle_ms,
    .timeouts = t_timeouts,
};


/* ---- sessions ---- */

static void
bosh_free(bosh_t *b)
{
    held_t *h;

    while ((h = b->held) != NULL) {
        b->held = h->next;
        b->ended = 1;
        answer(b, h->req, NULL);
        free(h);
    }
    ember__hmap_del(&sessions, b->sid);
    ember__buf_free(&b->out);
    free(b);
}


static void
sweep(uv_timer_t *t)
{
    uint64_t now = now_ms();
    bosh_t *b;
    held_t *h;
    size_t pos = 0;

    while ((b = ember__hmap_next(&sessions, &pos, NULL)) != NULL) {
        if (b->gone) {
            if (b->s != NULL)
                ember__stream_gone(b->s);
            b->s = NULL;
            bosh_free(b);
            pos = 0;
            continue;
        }
        /* A held request answers empty after `wait`. */
        while ((h = b->held) != NULL && now - h->since >= (uint64_t) b->wait *
               1000)
            answer_oldest(b, NULL);
        if ((b->deadline > 0 && now >= b->deadline) ||
            (b->held == NULL && now - b->last >= INACTIVITY * 1000) ||
            (b->idle_ms > 0 && now - b->last >= b->idle_ms)) {
            if (b->s != NULL)
                ember__stream_timeout(b->s, b->deadline > 0);
            b->gone = 1;
        }
    }
}


static size_t
sessions_of(const char *ip)
{
    size_t pos = 0, n = 0;
    bosh_t *b;

    while ((b = ember__hmap_next(&sessions, &pos, NULL)) != NULL)
        n += strcmp(b->ip, ip) == 0;
    return n;
}


static int
fail(ember_http_req_t *req, const char *condition)
{
    char body[256];
    int n = snprintf(body, sizeof(body), "<body xmlns='" NS_HTTPBIND "' "
                     "type='terminate' condition='%s'/>", condition);

    return ember__http_respond(req, 200, cors, body, (size_t) n);
}


static void
held_gone(ember_http_req_t *req, void *ud)
{
    bosh_t *b = ud;
    held_t **p, *h;

    for (p = &b->held; (h = *p) != NULL; p = &h->next)
        if (h->req == req) {
            *p = h->next;
            free(h);
            return;
        }
}


static void
hold(bosh_t *b, ember_http_req_t *req)
{
    held_t *h = calloc(1, sizeof(*h)), **p;
    int n = 0;

    if (h == NULL) {
        fail(req, "internal-server-error");
        return;
    }
    h->req = req;
    h->since = now_ms();
    for (p = &b->held; *p != NULL; p = &(*p)->next)
        n++;
    *p = h;
    ember__http_on_closed(req, held_gone, b);
    /* XEP-0124 section 11: never more than `hold` waiting. */
    while (n-- >= b->hold)
        answer_oldest(b, NULL);
    flush(b);
}


/* The children of a request's <body/>, as stream input. */
static void
feed_children(bosh_t *b, const ember_stanza_t *body)
{
    const ember_stanza_t *c;
    ember_buf_t buf = { 0 };

    for (c = ember__stanza_first(body); c != NULL && b->s != NULL;
         c = ember__stanza_next(c)) {
        ember__buf_reset(&buf);
        /* A child of the body's namespace is the stream's default. */
        if (ember__stanza_write(c, NS_HTTPBIND, &buf) == 0)
            ember__stream_feed(b->s, buf.data, buf.len);
    }
    ember__buf_free(&buf);
}


static void
stream_header(bosh_t *b, const char *to)
{
    ember_buf_t h = { 0 };

    ember__buf_puts(&h, "<stream:stream xmlns='jabber:client' "
                    "xmlns:stream='http://etherx.jabber.org/streams' to=\"");
    ember__buf_escape(&h, to, strlen(to));
    ember__buf_puts(&h, "\" version='1.0'>");
    ember__stream_feed(b->s, h.data, h.len);
    ember__buf_free(&h);
}


static int
session_create(ember_http_req_t *req, const ember_stanza_t *body)
{
    const char *to = ember__stanza_attr(body, "to");
    const char *rid = ember__stanza_attr(body, "rid");
    const char *ip = ember__http_peer_ip(req);
    const char *w = ember__stanza_attr(body, "wait");
    const char *hd = ember__stanza_attr(body, "hold");
    unsigned char rnd[16];
    char attrs[512];
    bosh_t *b;
    size_t i;

    if (to == NULL || rid == NULL || ip == NULL)
        return fail(req, "bad-request");
    if (!ember__host_exists(to))
        return fail(req, "host-unknown");
    if (sessions_of(ip) >= MAX_SESSIONS_PER_IP)
        return fail(req, "policy-violation");
    if ((b = calloc(1, sizeof(*b))) == NULL ||
        gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof(rnd)) != 0) {
        free(b);
        return fail(req, "internal-server-error");
    }
    for (i = 0; i < sizeof(rnd); i++)
        snprintf(b->sid + 2 * i, 3, "%02x", rnd[i]);
    b->rid = strtoull(rid, NULL, 10);
    b->wait = w != NULL ? atoi(w) : MAX_WAIT;
    if (b->wait < 1 || b->wait > MAX_WAIT)
        b->wait = MAX_WAIT;
    b->hold = hd != NULL ? atoi(hd) : 1;
    if (b->hold < 1 || b->hold > MAX_HOLD)
        b->hold = 1;
    b->last = now_ms();
    snprintf(b->ip, sizeof(b->ip), "%s", ip);
    b->tls = ember__http_tls_session(req) != NULL;
    if (ember__hmap_put(&sessions, b->sid, b) < 0) {
        free(b);
        return fail(req, "internal-server-error");
    }
    b->s = ember__stream_new(&bosh_ops, b,
                             !b->tls && !ember__conn_ip_loopback(ip));
    if (b->s == NULL) {
        bosh_free(b);
        return fail(req, "internal-server-error");
    }
    stream_header(b, to);
    snprintf(attrs, sizeof(attrs), " xmlns:xmpp='" NS_XBOSH "' xmlns:stream="
             "'http://etherx.jabber.org/streams' sid='%s' wait='%d' "
             "requests='%d' hold='%d' inactivity='%d' polling='2' "
             "ver='1.11' from='%s' xmpp:version='1.0' "
             "xmpp:restartlogic='true'", b->sid, b->wait, b->hold + 1,
             b->hold, INACTIVITY, to);
    answer(b, req, attrs);
    return 0;
}


static int
on_post(ember_module_t *m, ember_http_req_t *req, void *ud)
{
    size_t len = 0;
    const char *data = ember__http_body(req, &len);
    ember_stanza_t *body = data != NULL ? ember__stanza_parse(data, len)
                                        : NULL;
    const char *sid, *rid, *type, *restart, *ns;
    bosh_t *b;
    uint64_t r;
    int rc = 0;

    if (ember__http_origin_refused(req) != NULL) {
        ember__stanza_free(body);
        return EMBER_EPERM;
    }
    ns = body != NULL ? ember__stanza_xmlns(body) : NULL;
    if (body == NULL || strcmp(ember__stanza_name(body), "body") != 0 ||
        ns == NULL || strcmp(ns, NS_HTTPBIND) != 0) {
        ember__stanza_free(body);
        return fail(req, "bad-request");
    }
    if ((sid = ember__stanza_attr(body, "sid")) == NULL) {
        rc = session_create(req, body);
        ember__stanza_free(body);
        return rc;
    }
    rid = ember__stanza_attr(body, "rid");
    if ((b = ember__hmap_get(&sessions, sid)) == NULL || b->gone) {
        ember__stanza_free(body);
        return fail(req, "item-not-found");
    }
    r = rid != NULL ? strtoull(rid, NULL, 10) : 0;
    /* XEP-0124 section 14: requests in order; anything else ends it. */
    if (r != b->rid + 1) {
        ember__stanza_free(body);
        if (b->s != NULL)
            ember__session_end(b->s, EMBER_STREAM_NONE, NULL);
        b->gone = 1;
        return fail(req, "item-not-found");
    }
    b->rid = r;
    b->last = now_ms();
    type = ember__stanza_attr(body, "type");
    restart = ember__stanza_attr(body, "xmpp:restart");
    if (restart == NULL)
        restart = ember__stanza_attr(body, "restart");
    if (restart != NULL && strcmp(restart, "true") == 0 && b->s != NULL)
        stream_header(b, ember__stanza_attr(body, "to") != NULL
                         ? ember__stanza_attr(body, "to") : "");
    feed_children(b, body);
    if (type != NULL && strcmp(type, "terminate") == 0 && b->s != NULL)
        ember__stream_feed(b->s, "</stream:stream>", 16);
    ember__stanza_free(body);
    if (b->gone || b->ended) {
        b->ended = 1;
        answer(b, req, NULL);
        b->gone = 1;
        return 0;
    }
    hold(b, req);
    return 0;
}


static int
on_options(ember_module_t *m, ember_http_req_t *req, void *ud)
{
    return ember__http_respond(req, 200, cors, NULL, 0);
}


int
ember__bosh_start(void)
{
    static const ember_http_route_t post = {
        .size = sizeof(ember_http_route_t), .set = "client",
        .method = "POST", .path = "/http-bind", .handler = on_post,
    };
    static const ember_http_route_t options = {
        .size = sizeof(ember_http_route_t), .set = "client",
        .method = "OPTIONS", .path = "/http-bind", .handler = on_options,
    };
    int rc;

    if ((rc = ember__http_route(NULL, &post, NULL)) < 0 ||
        (rc = ember__http_route(NULL, &options, NULL)) < 0)
        return rc;
    if (!sweep_on) {
        uv_timer_init(ember__loop(), &sweep_timer);
        uv_timer_start(&sweep_timer, sweep, 1000, 1000);
        uv_unref((uv_handle_t *) &sweep_timer);
        sweep_on = 1;
    }
    return 0;
}


void
ember__bosh_stop(void)
{
    size_t pos = 0;
    bosh_t *b;

    while ((b = ember__hmap_next(&sessions, &pos, NULL)) != NULL) {
        if (b->s != NULL)
            ember__stream_gone(b->s);
        b->s = NULL;
        bosh_free(b);
        pos = 0;
    }
    ember__hmap_free(&sessions);
    if (sweep_on) {
        uv_timer_stop(&sweep_timer);
        uv_close((uv_handle_t *) &sweep_timer, NULL);
        sweep_on = 0;
    }
}
