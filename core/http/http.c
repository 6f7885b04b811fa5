/* core/http.c -- the HTTP/1.1 server of the http, https, admin and
 * admin-tls listeners: connections on libuv (TLS through tls.c), routes
 * owned by modules, answers, static files, event streams and WebSockets
 * (wslay).  Parsing is in http_parse.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <wslay/wslay.h>

#include "http/http.h"
#include "base/log.h"
#include "base/process.h"
#include "net/conn.h"
#include "net/tls.h"

/* A slow reader may hold this much of our output before it is dropped. */
#define HTTP_MAX_BACKLOG (48u << 20)
/* Largest file http_send_file serves (it is read into memory). */
#define HTTP_MAX_FILE (32 << 20)
/* Bytes a client may send ahead while its request is being answered. */
#define HTTP_MAX_AHEAD (256 * 1024)
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

typedef enum { M_HTTP = 0, M_SSE = 1, M_WS = 2 } conn_mode_t;
typedef enum { RQ_PENDING = 0, RQ_SSE = 1, RQ_WS = 2 } req_kind_t;

typedef struct route_s {
    ember_module_t *m;
    char *set, *method, *path;
    size_t plen;
    unsigned flags;
    size_t max_body;
    ember_http_cb handler;
    void *ud;
    struct route_s *next;
} route_t;

typedef struct conn_s conn_t;

typedef struct qcache_s {
    char *name, *value;
    struct qcache_s *next;
} qcache_t;

struct ember_http_req_s {
    conn_t *c;                 /* NULL once the connection is gone */
    ember_module_t *m;
    req_kind_t kind;
    ember_http_closed_cb closed;
    void *closed_ud;
    ember_ws_message_cb on_message;
    void *msg_ud;
    qcache_t *qcache;
    struct ember_http_req_s *prev, *next;
};

struct conn_s {
    ember_conn_t *conn;
    ember_http_in_t in;
    ember_buf_t inbuf;
    const char *set;
    conn_mode_t mode;
    unsigned closing : 1;
    unsigned close_after : 1;
    unsigned sent_continue : 1;
    unsigned processing : 1;
    unsigned ws_busy : 1;
    unsigned in_request : 1;   /* bytes of a request not yet answered */
    route_t *route;            /* of the request being parsed */
    ember_http_req_t *req;     /* handed to a module, not yet answered */
    wslay_event_context_ptr ws;
    conn_t *prev, *next;
};

static route_t *routes;

/* At most one per route set: it sees every request of the set first. */
typedef struct gate_s {
    ember_module_t *m;
    char *set;
    ember_http_cb cb;
    void *ud;
    struct gate_s *next;
} gate_t;

static gate_t *gates;

/* Headers every answer of a set carries unless it names them itself. */
typedef struct set_headers_s {
    ember_module_t *m;
    char *set;
    char **h;               /* name, value, ..., NULL */
    struct set_headers_s *next;
} set_headers_t;

static set_headers_t *set_headers;
static conn_t *conns;
static size_t conn_count;
static ember_http_req_t *reqs;     /* every request a module holds */

static void conn_process(conn_t *c);
static void conn_begin_close(conn_t *c);
static void req_free(ember_http_req_t *r);


/* ---- output ---- */

static int
conn_write(conn_t *c, const char *data, size_t len)
{
    if (c->closing)
        return EMBER_ESTATE;
    return ember__conn_write(c->conn, data, len);
}


static const char *
conn_ip(const conn_t *c)
{
    return ember__conn_ip(c->conn);
}


/* Waiting for the next request: it may take keep-alive seconds to come. */
static void
conn_wait_request(conn_t *c)
{
    const ember_config_t *cfg = ember__config();

    c->in_request = 0;
    ember__conn_set_deadline(c->conn, 0);
    ember__conn_set_idle(c->conn,
                         (uint64_t) cfg->limits.http_keepalive_timeout * 1000);
}


/* A module holds the request, or the connection became a stream: no
 * request timeout runs. */
static void
conn_handed_over(conn_t *c)
{
    c->in_request = 0;
    ember__conn_set_deadline(c->conn, 0);
    ember__conn_set_idle(c->conn, 0);
}


static void
http_date(time_t t, char *out, size_t len)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}


static const char *
reason(int status)
{
    const char *r = http_status_str((enum http_status) status);

    return r != NULL && strcmp(r, "<unknown>") != 0 ? r : "Status";
}


/* Header names the core writes itself: a module may not set them. */
static int
header_reserved(const char *name)
{
    static const char *const own[] = {
        "content-length", "connection", "date", "transfer-encoding",
        "upgrade", NULL
    };
    size_t i;

    for (i = 0; own[i] != NULL; i++)
        if (strcasecmp(name, own[i]) == 0)
            return 1;
    return 0;
}


static int
headers_valid(const char *const *h)
{
    size_t i;

    for (i = 0; h != NULL && h[i] != NULL; i += 2) {
        if (h[i + 1] == NULL || h[i][0] == '\0' ||
            strpbrk(h[i], "\r\n: \t") != NULL ||
            strpbrk(h[i + 1], "\r\n") != NULL || header_reserved(h[i]))
            return 0;
    }
    return 1;
}


static int
header_given(const char *const *h, const char *name)
{
    size_t i;

    for (i = 0; h != NULL && h[i] != NULL; i += 2)
        if (strcasecmp(h[i], name) == 0)
            return 1;
    return 0;
}


/* The set's own headers that the answer does not name itself. */
static void
add_set_headers(ember_buf_t *b, const char *set, const char *const *headers,
                const char *const *extra)
{
    set_headers_t *sh;
    size_t i;

    for (sh = set_headers; sh != NULL; sh = sh->next)
        if (strcmp(sh->set, set) == 0)
            break;
    for (i = 0; sh != NULL && sh->h[i] != NULL; i += 2)
        if (!header_given(headers, sh->h[i]) &&
            !header_given(extra, sh->h[i]))
            ember__buf_printf(b, "%s: %s\r\n", sh->h[i], sh->h[i + 1]);
}


/* Write a whole answer; the body is left out for HEAD, 204 and 304. */
static int
write_answer(conn_t *c, int status, const char *const *headers,
             const char *const *extra, const char *body, size_t len)
{
    ember_buf_t b = { 0 };
    const char *method = c->in.msg.method;
    char date[64];
    size_t i;
    int rc, bodyless = status == 204 || status == 304 || status < 200;

    http_date(time(NULL), date, sizeof(date));
    ember__buf_printf(&b, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status,
                      reason(status), date);
    if (!bodyless)
        ember__buf_printf(&b, "Content-Length: %zu\r\n", len);
    for (i = 0; headers != NULL && headers[i] != NULL; i += 2)
        ember__buf_printf(&b, "%s: %s\r\n", headers[i], headers[i + 1]);
    for (i = 0; extra != NULL && extra[i] != NULL; i += 2)
        ember__buf_printf(&b, "%s: %s\r\n", extra[i], extra[i + 1]);
    add_set_headers(&b, c->set, headers, extra);
    if (c->close_after)
        ember__buf_puts(&b, "Connection: close\r\n");
    else if (c->in.msg.http_major == 1 && c->in.msg.http_minor == 0)
        ember__buf_puts(&b, "Connection: keep-alive\r\n");
    rc = ember__buf_puts(&b, "\r\n");
    if (rc == 0 && !bodyless && len > 0 &&
        (method == NULL || strcmp(method, "HEAD") != 0))
        rc = ember__buf_append(&b, body, len);
    if (rc == 0)
        rc = conn_write(c, b.data, b.len);
    ember__log(EMBER_LOG_DEBUG, "http", "%s: %s %s -> %d", conn_ip(c),
               method != NULL ? method : "-",
               c->in.msg.path != NULL ? c->in.msg.path : "-", status);
    ember__buf_free(&b);
    return rc;
}


/* A request is over: the next one, or the end of the connection. */
static void
answer_done(conn_t *c)
{
    if (c->closing)
        return;
    if (c->close_after) {
        conn_begin_close(c);
        return;
    }
    ember__http_in_next(&c->in);
    c->route = NULL;
    c->sent_continue = 0;
    ember__conn_touch(c->conn);
    conn_wait_request(c);
    if (!c->processing)
        conn_process(c);
}


/* An answer of the core itself: text body naming the status. */
static void
answer_error(conn_t *c, int status, int close)
{
    const char *extra[8] = { "Content-Type", "text/plain; charset=utf-8",
                             NULL };
    char body[128], allow[128];
    const route_t *r;
    const char *path = c->in.msg.path;
    size_t n = 2, alen = 0;

    if (close)
        c->close_after = 1;
    if (status == 405 && path != NULL) {
        allow[0] = '\0';
        for (r = routes; r != NULL; r = r->next) {
            if (strcmp(r->set, c->set) != 0 ||
                (r->flags & EMBER_HTTP_PREFIX
                     ? strncmp(path, r->path, r->plen) != 0
                     : strcmp(path, r->path) != 0) ||
                strstr(allow, r->method) != NULL)
                continue;
            alen += (size_t) snprintf(allow + alen, sizeof(allow) - alen,
                                      "%s%s", alen ? ", " : "", r->method);
            if (alen >= sizeof(allow))
                break;
            if (strcmp(r->method, "GET") == 0 && strstr(allow, "HEAD") == NULL)
                alen += (size_t) snprintf(allow + alen, sizeof(allow) - alen,
                                          ", HEAD");
            if (alen >= sizeof(allow))
                break;
        }
        extra[n++] = "Allow";
        extra[n++] = allow;
    }
    if (status == 426) {
        extra[n++] = "Upgrade";
        extra[n++] = "websocket";
    }
    extra[n] = NULL;
    snprintf(body, sizeof(body), "%d %s\n", status, reason(status));
    write_answer(c, status, NULL, extra, body, strlen(body));
    answer_done(c);
}


/* ---- requests handed to modules ---- */

static void
req_unlink(ember_http_req_t *r)
{
    if (r->prev != NULL)
        r->prev->next = r->next;
    else if (reqs == r)
        reqs = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
}


static void
req_free(ember_http_req_t *r)
{
    qcache_t *q;

    if (r == NULL)
        return;
    req_unlink(r);
    while ((q = r->qcache) != NULL) {
        r->qcache = q->next;
        free(q->name);
        free(q->value);
        free(q);
    }
    free(r);
}


/* Take the request from its connection (still open). */
static conn_t *
req_detach(ember_http_req_t *r)
{
    conn_t *c = r->c;

    if (c != NULL && c->req == r)
        c->req = NULL;
    r->c = NULL;
    return c;
}


static int
status_of_error(int err)
{
    switch (err) {
    case EMBER_EINVAL: return 400;
    case EMBER_EPERM: return 403;
    case EMBER_ENOENT: return 404;
    case EMBER_EBUSY: return 503;
    default: return 500;
    }
}


/* ---- routes ---- */

/* The route for msg on set, or NULL with *status 404 or 405. */
static route_t *
route_match(const char *set, const char *method, const char *path,
            int *status)
{
    route_t *r, *best = NULL;
    int path_seen = 0, head = strcmp(method, "HEAD") == 0;
    size_t best_len = 0;

    for (r = routes; r != NULL; r = r->next) {
        int exact = !(r->flags & EMBER_HTTP_PREFIX);

        if (strcmp(r->set, set) != 0)
            continue;
        if (exact ? strcmp(path, r->path) != 0
                  : strncmp(path, r->path, r->plen) != 0)
            continue;
        path_seen = 1;
        if (strcmp(r->method, method) != 0 &&
            !(head && strcmp(r->method, "GET") == 0))
            continue;
        if (exact && strcmp(r->method, method) == 0)
            return r;
        if (best == NULL || (exact ? SIZE_MAX : r->plen) > best_len) {
            best = r;
            best_len = exact ? SIZE_MAX : r->plen;
        }
    }
    if (best == NULL)
        *status = path_seen ? 405 : 404;
    return best;
}


int
ember__http_route(ember_module_t *m, const ember_http_route_t *route,
                  void *ud)
{
    route_t *r, *x;
    char *norm = NULL;
    const char *p;
    int prefix;

    if (route == NULL ||
        route->size < offsetof(ember_http_route_t, handler) +
                      sizeof(route->handler) ||
        route->handler == NULL || route->set == NULL ||
        route->method == NULL || route->path == NULL ||
        (strcmp(route->set, "client") != 0 &&
         strcmp(route->set, "admin") != 0) ||
        route->method[0] == '\0' ||
        (route->flags & ~(EMBER_HTTP_PREFIX | EMBER_HTTP_WEBSOCKET)))
        return EMBER_EINVAL;
    for (p = route->method; *p != '\0'; p++)
        if (*p < 'A' || *p > 'Z')
            return EMBER_EINVAL;
    prefix = (route->flags & EMBER_HTTP_PREFIX) != 0;
    if ((route->flags & EMBER_HTTP_WEBSOCKET) &&
        strcmp(route->method, "GET") != 0)
        return EMBER_EINVAL;
    /* Routes are written in the form requests are compared in. */
    if (ember__http_normalize(route->path, strlen(route->path), &norm) != 0)
        return EMBER_EINVAL;
    if (strcmp(norm, route->path) != 0 ||
        (prefix && norm[strlen(norm) - 1] != '/')) {
        free(norm);
        return EMBER_EINVAL;
    }
    for (x = routes; x != NULL; x = x->next)
        if (strcmp(x->set, route->set) == 0 &&
            strcmp(x->method, route->method) == 0 &&
            strcmp(x->path, norm) == 0 &&
            (x->flags & EMBER_HTTP_PREFIX) == (unsigned) prefix) {
            free(norm);
            return EMBER_EEXIST;
        }
    if ((r = calloc(1, sizeof(*r))) == NULL ||
        (r->set = strdup(route->set)) == NULL ||
        (r->method = strdup(route->method)) == NULL) {
        if (r != NULL)
            free(r->set);
        free(r);
        free(norm);
        return EMBER_ENOMEM;
    }
    r->m = m;
    r->path = norm;
    r->plen = strlen(norm);
    r->flags = route->flags;
    r->max_body = route->max_body;
    r->handler = route->handler;
    r->ud = ud;
    r->next = routes;
    routes = r;
    return 0;
}


const char *
ember__http_set_of(ember_listen_type_t type)
{
    return type == EMBER_LISTEN_ADMIN || type == EMBER_LISTEN_ADMIN_TLS
           ? "admin" : "client";
}


/* ---- parsing and dispatch ---- */

static int
conn_on_head(void *ud, ember_http_msg_t *msg)
{
    conn_t *c = ud;
    const ember_config_t *cfg = ember__config();
    int status = 0;

    msg->max_body = cfg != NULL ? cfg->limits.http_max_body : 1 << 20;
    c->route = NULL;
    if (msg->status != 0)
        return 0;
    c->route = route_match(c->set, msg->method, msg->path, &status);
    if (c->route == NULL) {
        msg->status = status;
        return 0;
    }
    if (c->route->max_body > 0)
        msg->max_body = c->route->max_body;
    if ((c->route->flags & EMBER_HTTP_WEBSOCKET) && !msg->upgrade)
        msg->status = 426;
    return 0;
}


/* RFC 6455 section 4.2.1: what the opening handshake must carry. */
static int
ws_handshake_ok(const ember_http_msg_t *msg)
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


static gate_t *
gate_of(const char *set)
{
    gate_t *g;

    for (g = gates; g != NULL; g = g->next)
        if (strcmp(g->set, set) == 0)
            return g;
    return NULL;
}


static ember_http_req_t *
req_start(conn_t *c, ember_module_t *m)
{
    ember_http_req_t *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->c = c;
    r->m = m;
    r->kind = RQ_PENDING;
    r->next = reqs;
    if (reqs != NULL)
        reqs->prev = r;
    reqs = r;
    c->req = r;
    return r;
}


/*
 * The set's gate, for requests that would reach a route or get 404/405:
 * 1 when it answered (or the request is over), 0 to go on.
 */
static int
run_gate(conn_t *c, ember_http_msg_t *msg)
{
    gate_t *g = gate_of(c->set);
    ember_http_req_t *r;
    int rc;

    if (g == NULL ||
        (msg->status != 0 && msg->status != 404 && msg->status != 405))
        return 0;
    if ((r = req_start(c, g->m)) == NULL) {
        answer_error(c, 500, 1);
        return 1;
    }
    rc = g->cb(g->m, r, g->ud);
    if (c->req != r || r->kind != RQ_PENDING)
        return 1;
    req_detach(r);
    req_free(r);
    if (rc == 0)
        return 0;
    ember__log(EMBER_LOG_INFO, "http", "%s: %s %s: gate failed: %s",
               conn_ip(c), msg->method, msg->path,
               rc < 0 ? ember_strerror(rc) : "no answer");
    answer_error(c, rc < 0 ? status_of_error(rc) : 500, 0);
    return 1;
}


static void
dispatch(conn_t *c)
{
    ember_http_msg_t *msg = &c->in.msg;
    route_t *rt;
    ember_http_req_t *r;
    int rc;

    conn_handed_over(c);
    /* After an Upgrade the parser reads no further request: whatever the
     * answer other than a 101, the connection ends with it. */
    c->close_after = !msg->keep_alive || msg->upgrade;
    if (run_gate(c, msg))
        return;
    rt = c->route;
    if (msg->status != 0) {
        answer_error(c, msg->status, msg->upgrade);
        return;
    }
    if (rt == NULL) {           /* its module went while the body came */
        answer_error(c, 404, 0);
        return;
    }
    if ((rt->flags & EMBER_HTTP_WEBSOCKET) && !ws_handshake_ok(msg)) {
        answer_error(c, 400, 1);
        return;
    }
    if ((r = req_start(c, rt->m)) == NULL) {
        answer_error(c, 500, 1);
        return;
    }
    rc = rt->handler(rt->m, r, rt->ud);
    if (rc < 0 && c->req == r && r->kind == RQ_PENDING) {
        ember__log(EMBER_LOG_INFO, "http", "%s: %s %s: handler failed: %s",
                   conn_ip(c), msg->method, msg->path, ember_strerror(rc));
        req_detach(r);
        req_free(r);
        answer_error(c, status_of_error(rc), 0);
    }
}


static int ws_feed(conn_t *c);

static void
conn_process(conn_t *c)
{
    const char *cont = "HTTP/1.1 100 Continue\r\n\r\n";
    size_t used;
    int rc;

    c->processing = 1;
    while (!c->closing) {
        if (c->mode == M_SSE) {
            ember__buf_reset(&c->inbuf);
            break;
        }
        if (c->mode == M_WS) {
            ws_feed(c);
            break;
        }
        if (c->req != NULL || c->inbuf.len == 0)
            break;
        if (!c->in_request) {
            const ember_config_t *cfg = ember__config();

            c->in_request = 1;
            ember__conn_set_idle(c->conn, 0);
            ember__conn_set_deadline(c->conn, (uint64_t)
                                     cfg->limits.http_request_timeout * 1000);
        }
        rc = ember__http_in_feed(&c->in, c->inbuf.data, c->inbuf.len, &used);
        ember__buf_consume(&c->inbuf, used);
        if (rc < 0) {
            answer_error(c, -rc, 1);
            break;
        }
        if (rc == 0) {
            if (c->in.head_done && c->in.msg.expect_continue &&
                c->in.msg.status == 0 && !c->sent_continue) {
                c->sent_continue = 1;
                conn_write(c, cont, strlen(cont));
            }
            break;
        }
        dispatch(c);
    }
    c->processing = 0;
}


/* ---- connections ---- */

static void
on_closed(void *owner)
{
    conn_t *c = owner;
    ember_http_req_t *r = c->req;

    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    conn_count--;
    if (r != NULL) {
        req_detach(r);
        /* Without a closed callback the module still holds r: it learns
         * from the EMBER_ECANCELED of its next call, which releases it. */
        if (r->closed != NULL) {
            r->closed(r, r->closed_ud);
            req_free(r);
        }
    }
    if (c->ws != NULL)
        wslay_event_context_free(c->ws);
    ember__http_in_free(&c->in);
    ember__buf_free(&c->inbuf);
    free(c);
}


static void
on_hangup(void *owner)
{
    ((conn_t *) owner)->closing = 1;
}


static void
conn_begin_close(conn_t *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    ember__conn_close(c->conn);
}


static void
on_data(void *owner, const char *data, size_t len)
{
    conn_t *c = owner;
    const ember_config_t *cfg = ember__config();
    size_t cap = HTTP_MAX_AHEAD + EMBER_HTTP_MAX_HEAD +
                 (cfg != NULL ? cfg->limits.http_max_body : 0);

    if (c->closing)
        return;
    if (c->mode == M_SSE)
        return;
    if (c->inbuf.len + len > cap) {
        ember__log(EMBER_LOG_INFO, "http", "%s: too much input ahead of "
                   "the answer, closing", conn_ip(c));
        conn_begin_close(c);
        return;
    }
    if (ember__buf_append(&c->inbuf, data, len) < 0) {
        conn_begin_close(c);
        return;
    }
    if (!c->processing)
        conn_process(c);
}


static void
on_timeout(void *owner, ember_conn_timeout_t what)
{
    conn_t *c = owner;

    if (what == EMBER_CONN_DEADLINE && c->mode == M_HTTP && c->req == NULL)
        answer_error(c, 408, 1);
    else
        conn_begin_close(c);
}


static const ember_conn_events_t conn_events = {
    .data = on_data,
    .timeout = on_timeout,
    .hangup = on_hangup,
    .closed = on_closed,
};


int
ember__http_accept(uv_stream_t *server, const ember_listener_conf_t *lc)
{
    const ember_config_t *cfg = ember__config();
    ember_conn_opts_t opts = {
        .pool = EMBER_CONN_POOL_HTTP,
        .max_per_ip = cfg->limits.max_connections_per_ip,
        .direct_tls = lc->type == EMBER_LISTEN_HTTPS ||
                      lc->type == EMBER_LISTEN_ADMIN_TLS,
        .max_backlog = HTTP_MAX_BACKLOG,
    };
    conn_t *c = calloc(1, sizeof(*c));
    int rc;
    static const char busy[] =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
        "Connection: close\r\n\r\n";

    if (c == NULL)
        return EMBER_ENOMEM;
    c->set = ember__http_set_of(lc->type);
    ember__http_in_init(&c->in, conn_on_head, c);
    rc = ember__conn_accept(server, &opts, &conn_events, c, &c->conn);
    if (c->conn == NULL) {
        ember__http_in_free(&c->in);
        free(c);
        return rc;
    }
    c->next = conns;
    if (conns != NULL)
        conns->prev = c;
    conns = c;
    conn_count++;
    if (rc == EMBER_ELIMIT && !opts.direct_tls)
        ember__conn_write(c->conn, busy, sizeof(busy) - 1);
    if (rc < 0) {
        conn_begin_close(c);
        return rc;
    }
    conn_wait_request(c);
    return 0;
}


void
ember__http_close_all(void)
{
    conn_t *c, *n;

    for (c = conns; c != NULL; c = n) {
        n = c->next;
        if (c->ws != NULL && !c->closing) {
            wslay_event_queue_close(c->ws, 1001, NULL, 0);
            wslay_event_send(c->ws);
        }
        conn_begin_close(c);
    }
}


size_t
ember__http_count(void)
{
    return conn_count;
}


void
ember__http_cleanup(void)
{
    route_t *r;

    while ((r = routes) != NULL) {
        routes = r->next;
        free(r->set);
        free(r->method);
        free(r->path);
        free(r);
    }
    while (reqs != NULL) {
        req_detach(reqs);
        req_free(reqs);
    }
}


int
ember__http_gate(ember_module_t *m, const char *set, ember_http_cb cb,
                 void *ud)
{
    gate_t *g;

    if (m == NULL || set == NULL || cb == NULL ||
        (strcmp(set, "client") != 0 && strcmp(set, "admin") != 0))
        return EMBER_EINVAL;
    if (gate_of(set) != NULL)
        return EMBER_EEXIST;
    if ((g = calloc(1, sizeof(*g))) == NULL ||
        (g->set = strdup(set)) == NULL) {
        free(g);
        return EMBER_ENOMEM;
    }
    g->m = m;
    g->cb = cb;
    g->ud = ud;
    g->next = gates;
    gates = g;
    return 0;
}


static void
set_headers_free(set_headers_t *sh)
{
    size_t i;

    for (i = 0; sh->h != NULL && sh->h[i] != NULL; i++)
        free(sh->h[i]);
    free(sh->h);
    free(sh->set);
    free(sh);
}


int
ember__http_set_headers(ember_module_t *m, const char *set,
                        const char *const *headers)
{
    set_headers_t *sh;
    size_t i, n = 0;

    if (m == NULL || set == NULL || headers == NULL ||
        (strcmp(set, "client") != 0 && strcmp(set, "admin") != 0) ||
        !headers_valid(headers))
        return EMBER_EINVAL;
    for (sh = set_headers; sh != NULL; sh = sh->next)
        if (strcmp(sh->set, set) == 0)
            return EMBER_EEXIST;
    while (headers[n] != NULL)
        n++;
    if ((sh = calloc(1, sizeof(*sh))) == NULL ||
        (sh->h = calloc(n + 1, sizeof(*sh->h))) == NULL ||
        (sh->set = strdup(set)) == NULL)
        goto nomem;
    for (i = 0; i < n; i++)
        if ((sh->h[i] = strdup(headers[i])) == NULL)
            goto nomem;
    sh->m = m;
    sh->next = set_headers;
    set_headers = sh;
    return 0;

nomem:
    if (sh != NULL)
        set_headers_free(sh);
    return EMBER_ENOMEM;
}


void
ember__http_module_gone(ember_module_t *m)
{
    route_t **pr = &routes, *r;
    gate_t **pg = &gates, *g;
    set_headers_t **ph = &set_headers, *sh;

    while ((sh = *ph) != NULL) {
        if (sh->m == m) {
            *ph = sh->next;
            set_headers_free(sh);
        } else {
            ph = &sh->next;
        }
    }
    while ((g = *pg) != NULL) {
        if (g->m == m) {
            *pg = g->next;
            free(g->set);
            free(g);
        } else {
            pg = &g->next;
        }
    }
    ember_http_req_t *q, *n;
    conn_t *c;

    for (c = conns; c != NULL; c = c->next)
        if (c->route != NULL && c->route->m == m)
            c->route = NULL;
    for (q = reqs; q != NULL; q = n) {
        n = q->next;
        if (q->m != m)
            continue;
        c = req_detach(q);
        req_free(q);
        if (c == NULL || c->closing)
            continue;
        if (c->mode == M_HTTP)
            answer_error(c, 503, 0);
        else
            conn_begin_close(c);
    }
    while ((r = *pr) != NULL) {
        if (r->m != m) {
            pr = &r->next;
            continue;
        }
        *pr = r->next;
        free(r->set);
        free(r->method);
        free(r->path);
        free(r);
    }
}


/* ---- the api: reading a request ---- */

static ember_http_msg_t *
req_msg(ember_http_req_t *r)
{
    return r != NULL && r->c != NULL ? &r->c->in.msg : NULL;
}


const char *
ember__http_method(ember_http_req_t *req)
{
    ember_http_msg_t *msg = req_msg(req);

    return msg != NULL ? msg->method : NULL;
}


const char *
ember__http_path(ember_http_req_t *req)
{
    ember_http_msg_t *msg = req_msg(req);

    return msg != NULL ? msg->path : NULL;
}


const char *
ember__http_query(ember_http_req_t *req, const char *name)
{
    ember_http_msg_t *msg = req_msg(req);
    qcache_t *q;
    char *v;

    if (msg == NULL || name == NULL || msg->query == NULL)
        return NULL;
    for (q = req->qcache; q != NULL; q = q->next)
        if (strcmp(q->name, name) == 0)
            return q->value;
    if ((v = ember__http_query_get(msg->query, name)) == NULL)
        return NULL;
    if ((q = calloc(1, sizeof(*q))) == NULL ||
        (q->name = strdup(name)) == NULL) {
        free(q);
        free(v);
        return NULL;
    }
    q->value = v;
    q->next = req->qcache;
    req->qcache = q;
    return v;
}


const char *
ember__http_header(ember_http_req_t *req, const char *name)
{
    ember_http_msg_t *msg = req_msg(req);

    return msg != NULL && name != NULL ? ember__http_msg_header(msg, name)
                                       : NULL;
}


const char *
ember__http_body(ember_http_req_t *req, size_t *len)
{
    ember_http_msg_t *msg = req_msg(req);

    if (len != NULL)
        *len = msg != NULL ? msg->body.len : 0;
    if (msg == NULL)
        return NULL;
    return msg->body.data != NULL ? msg->body.data : "";
}


const char *
ember__http_peer_ip(ember_http_req_t *req)
{
    return req != NULL && req->c != NULL ? conn_ip(req->c) : NULL;
}


int
ember__http_is_tls(ember_http_req_t *req)
{
    return req != NULL && req->c != NULL &&
           ember__conn_tls(req->c->conn) != NULL;
}


void
ember__http_on_closed(ember_http_req_t *req, ember_http_closed_cb cb,
                      void *ud)
{
    if (req == NULL)
        return;
    req->closed = cb;
    req->closed_ud = ud;
}


/* ---- the api: answers ---- */

int
ember__http_respond(ember_http_req_t *req, int status,
                    const char *const *headers, const char *body, size_t len)
{
    conn_t *c;

    if (req == NULL || status < 200 || status > 599 ||
        (body == NULL && len > 0) || !headers_valid(headers))
        return EMBER_EINVAL;
    if (req->kind != RQ_PENDING)
        return EMBER_ESTATE;
    c = req_detach(req);
    req_free(req);
    if (c == NULL || c->closing)
        return EMBER_ECANCELED;
    write_answer(c, status, headers, NULL, body, len);
    answer_done(c);
    return 0;
}


static const char *
content_type(const char *path)
{
    static const char *const types[][2] = {
        { "html", "text/html; charset=utf-8" },
        { "htm", "text/html; charset=utf-8" },
        { "css", "text/css; charset=utf-8" },
        { "js", "text/javascript; charset=utf-8" },
        { "mjs", "text/javascript; charset=utf-8" },
        { "json", "application/json" },
        { "map", "application/json" },
        { "svg", "image/svg+xml" },
        { "png", "image/png" },
        { "jpg", "image/jpeg" },
        { "jpeg", "image/jpeg" },
        { "gif", "image/gif" },
        { "webp", "image/webp" },
        { "ico", "image/x-icon" },
        { "woff2", "font/woff2" },
        { "woff", "font/woff" },
        { "txt", "text/plain; charset=utf-8" },
        { "xml", "application/xml" },
        { "wasm", "application/wasm" },
    };
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash != NULL ? slash : path, '.');
    size_t i;

    if (dot != NULL)
        for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            if (strcasecmp(dot + 1, types[i][0]) == 0)
                return types[i][1];
    return "application/octet-stream";
}


/* relpath as given by a module: no "." or ".." segment, NUL or '\\'. */
static int
relpath_ok(const char *p)
{
    const char *s = p;

    if (strchr(p, '\\') != NULL)
        return 0;
    for (;;) {
        size_t n = strcspn(s, "/");

        if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return 0;
        if (s[n] == '\0')
            return 1;
        s += n + 1;
    }
}


static int
etag_matches(const char *inm, const char *etag)
{
    const char *p = inm;
    size_t elen = strlen(etag);

    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return 1;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        if (strncmp(p, etag, elen) == 0 &&
            (p[elen] == '\0' || p[elen] == ',' || p[elen] == ' '))
            return 1;
        p += strcspn(p, ",");
    }
    return 0;
}


int
ember__http_send_file(ember_http_req_t *req, const char *dir,
                      const char *relpath, const char *cache_control)
{
    const char *inm, *ims, *hdr[10];
    char etag[64], lm[64], *path = NULL, *data = NULL;
    struct stat st;
    int fd = -1, status = 404, rc;
    size_t got = 0;
    ssize_t n;

    if (req == NULL || dir == NULL || relpath == NULL)
        return EMBER_EINVAL;
    if (req->c == NULL || req->kind != RQ_PENDING)
        return ember__http_respond(req, 404, NULL, NULL, 0);
    while (*relpath == '/')
        relpath++;
    if (!relpath_ok(relpath))
        goto answer;
    if (asprintf(&path, "%s/%s%s", dir, relpath,
                 relpath[0] == '\0' || relpath[strlen(relpath) - 1] == '/'
                 ? "index.html" : "") < 0) {
        path = NULL;
        status = 500;
        goto answer;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        goto answer;
    if (st.st_size > HTTP_MAX_FILE) {
        ember__log(EMBER_LOG_WARN, "http", "%s: larger than %d bytes, not "
                   "served", path, HTTP_MAX_FILE);
        status = 500;
        goto answer;
    }
    snprintf(etag, sizeof(etag), "\"%llx-%llx\"",
             (unsigned long long) st.st_size,
             (unsigned long long) st.st_mtim.tv_sec * 1000000000ull +
             (unsigned long long) st.st_mtim.tv_nsec);
    http_date(st.st_mtim.tv_sec, lm, sizeof(lm));
    hdr[0] = "ETag", hdr[1] = etag;
    hdr[2] = "Last-Modified", hdr[3] = lm;
    hdr[4] = "Cache-Control";
    hdr[5] = cache_control != NULL ? cache_control : "no-cache";
    hdr[6] = "Content-Type", hdr[7] = content_type(path);
    hdr[8] = NULL;
    inm = ember__http_header(req, "if-none-match");
    ims = ember__http_header(req, "if-modified-since");
    if ((inm != NULL && etag_matches(inm, etag)) ||
        (inm == NULL && ims != NULL && strcmp(ims, lm) == 0)) {
        hdr[6] = NULL;
        close(fd);
        free(path);
        return ember__http_respond(req, 304, hdr, NULL, 0);
    }
    if ((data = malloc((size_t) st.st_size + 1)) == NULL) {
        status = 500;
        goto answer;
    }
    while (got < (size_t) st.st_size) {
        n = pread(fd, data + got, (size_t) st.st_size - got, (off_t) got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t) n;
    }
    close(fd);
    free(path);
    rc = ember__http_respond(req, 200, hdr, data, got);
    free(data);
    return rc;
answer:
    if (fd >= 0)
        close(fd);
    free(path);
    {
        const char *th[] = { "Content-Type", "text/plain; charset=utf-8",
                             NULL };
        char body[64];

        snprintf(body, sizeof(body), "%d %s\n", status, reason(status));
        return ember__http_respond(req, status, th, body, strlen(body));
    }
}


void
ember__http_close(ember_http_req_t *req)
{
    conn_t *c;

    if (req == NULL)
        return;
    c = req_detach(req);
    req_free(req);
    if (c == NULL || c->closing)
        return;
    c->close_after = 1;
    if (c->ws != NULL) {
        wslay_event_queue_close(c->ws, 1000, NULL, 0);
        /* Inside a message callback: ws_feed sends it, then closes. */
        if (c->ws_busy)
            return;
        wslay_event_send(c->ws);
    }
    conn_begin_close(c);
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
        req_detach(req);
        req_free(req);
        return EMBER_ECANCELED;
    }
    /* No length: the stream lasts as long as the connection. */
    http_date(time(NULL), date, sizeof(date));
    ember__buf_printf(&b, "HTTP/1.1 200 OK\r\nDate: %s\r\n", date);
    for (i = 0; h[i] != NULL; i += 2)
        ember__buf_printf(&b, "%s: %s\r\n", h[i], h[i + 1]);
    add_set_headers(&b, c->set, h, NULL);
    rc = ember__buf_puts(&b, "Connection: close\r\n\r\n");
    if (rc == 0)
        rc = conn_write(c, b.data, b.len);
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
        rc = conn_write(req->c, b.data, b.len);
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

    if (c->closing || conn_write(c, (const char *) data, len) < 0) {
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


static int
ws_feed(conn_t *c)
{
    int rc;

    c->ws_busy = 1;
    rc = wslay_event_recv(c->ws);
    c->ws_busy = 0;
    if (c->closing)
        return 0;
    if (rc == 0)
        rc = wslay_event_send(c->ws);
    if (rc != 0 || c->close_after ||
        (!wslay_event_want_read(c->ws) && !wslay_event_want_write(c->ws)))
        conn_begin_close(c);
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
        req_detach(req);
        req_free(req);
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
        rc = conn_write(c, b.data, b.len);
    ember__buf_free(&b);
    if (rc < 0)
        return rc;
    req->kind = RQ_WS;
    req->on_message = on_message;
    req->msg_ud = ud;
    c->mode = M_WS;
    c->close_after = 0;
    conn_handed_over(c);
    /* Frames that came with the handshake. */
    if (!c->processing && c->inbuf.len > 0)
        conn_process(c);
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
        conn_begin_close(c);
        return EMBER_EIO;
    }
    return 0;
}
