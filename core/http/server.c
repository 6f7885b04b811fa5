/* core/http/server.c -- the connections of the http, https, admin and
 * admin-tls listeners on net/conn.c: reading requests through parse.c,
 * keep-alive and request timeouts, writing answers, closing. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "http/http_int.h"
#include "base/log.h"
#include "base/process.h"
#include "net/conn.h"

/* A slow reader may hold this much of our output before it is dropped. */
#define HTTP_MAX_BACKLOG (48u << 20)
/* Bytes a client may send ahead while its request is being answered. */
#define HTTP_MAX_AHEAD (256 * 1024)

static conn_t *conns;
static size_t conn_count;

static size_t conn_held(const conn_t *c);
static int conn_hold(conn_t *c, size_t bytes);


/* ---- output ---- */

int
ember__http_write(conn_t *c, const char *data, size_t len)
{
    if (c->closing)
        return EMBER_ESTATE;
    return ember__conn_write(c->conn, data, len);
}


const char *
ember__http_ip(const conn_t *c)
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


void
ember__http_handed_over(conn_t *c)
{
    c->in_request = 0;
    ember__conn_set_deadline(c->conn, 0);
    ember__conn_set_idle(c->conn, 0);
}


void
ember__http_date(time_t t, char *out, size_t len)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}


const char *
ember__http_reason(int status)
{
    const char *r = http_status_str((enum http_status) status);

    return r != NULL && strcmp(r, "<unknown>") != 0 ? r : "Status";
}



/* The head of an answer into b. */
static int
head_text(conn_t *c, ember_buf_t *b, int status,
                      const char *const *headers, const char *const *extra,
                      size_t len)
{
    const char *method = c->in.msg.method;
    char date[64];
    size_t i;
    int bodyless = status == 204 || status == 304 || status < 200;

    ember__http_date(time(NULL), date, sizeof(date));
    ember__buf_printf(b, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status,
                      ember__http_reason(status), date);
    if (!bodyless)
        ember__buf_printf(b, "Content-Length: %zu\r\n", len);
    for (i = 0; headers != NULL && headers[i] != NULL; i += 2)
        ember__buf_printf(b, "%s: %s\r\n", headers[i], headers[i + 1]);
    for (i = 0; extra != NULL && extra[i] != NULL; i += 2)
        ember__buf_printf(b, "%s: %s\r\n", extra[i], extra[i + 1]);
    ember__http_add_set_headers(b, c->set, headers, extra);
    if (c->close_after)
        ember__buf_puts(b, "Connection: close\r\n");
    else if (c->in.msg.http_major == 1 && c->in.msg.http_minor == 0)
        ember__buf_puts(b, "Connection: keep-alive\r\n");
    ember__log(EMBER_LOG_DEBUG, "http", "%s: %s %s -> %d", ember__http_ip(c),
               method != NULL ? method : "-",
               c->in.msg.path != NULL ? c->in.msg.path : "-", status);
    return ember__buf_puts(b, "\r\n");
}


int
ember__http_write_head(conn_t *c, int status, const char *const *headers,
                       const char *const *extra, size_t content_length)
{
    ember_buf_t b = { 0 };
    int rc = head_text(c, &b, status, headers, extra,
                                   content_length);

    if (rc == 0)
        rc = ember__http_write(c, b.data, b.len);
    ember__buf_free(&b);
    return rc;
}


int
ember__http_write_answer(conn_t *c, int status, const char *const *headers,
                         const char *const *extra, const char *body,
                         size_t len)
{
    ember_buf_t b = { 0 };
    const char *method = c->in.msg.method;
    int rc = head_text(c, &b, status, headers, extra, len);

    if (rc == 0 && status != 204 && status != 304 && status >= 200 &&
        len > 0 && (method == NULL || strcmp(method, "HEAD") != 0))
        rc = ember__buf_append(&b, body, len);
    if (rc == 0)
        rc = ember__http_write(c, b.data, b.len);
    ember__buf_free(&b);
    return rc;
}


void
ember__http_answer_done(conn_t *c)
{
    if (c->closing)
        return;
    if (c->close_after) {
        ember__http_conn_close(c);
        return;
    }
    ember__http_in_next(&c->in);
    c->route = NULL;
    c->sent_continue = 0;
    conn_hold(c, conn_held(c));
    ember__conn_touch(c->conn);
    conn_wait_request(c);
    if (!c->processing)
        ember__http_process(c);
}



/* ---- parsing and dispatch ---- */

/* Whether name (lowercase, no port) is one of space-separated list. */
static int
name_listed(const char *name, const char *list)
{
    size_t len = strlen(name);
    const char *p = list;

    while (p != NULL && *p != '\0') {
        size_t n = strcspn(p, " \t\n");

        if (n == len && strncasecmp(p, name, n) == 0)
            return 1;
        p += n;
        p += strspn(p, " \t\n");
    }
    return 0;
}


/*
 * A Host an admin listener answers: an address, a loopback name, a
 * configured host or a name under it, this machine's name, or one of the
 * listener's host-names.  Anything else is a name the request was sent
 * to by someone else's DNS (rebinding), so its answer must not be read.
 */
static int
host_allowed(const conn_t *c, const char *value)
{
    const ember_config_t *cfg = ember__config();
    const ember_host_conf_t *h;
    char name[256], self[256];
    unsigned char bin[16];
    size_t len, hl;
    char *colon;

    if (value[0] == '[') {
        len = strcspn(value + 1, "]");
        if (value[1 + len] != ']' || len >= sizeof(name))
            return 0;
        memcpy(name, value + 1, len);
        name[len] = '\0';
        return inet_pton(AF_INET6, name, bin) == 1;
    }
    if ((len = strlen(value)) == 0 || len >= sizeof(name))
        return 0;
    memcpy(name, value, len + 1);
    if ((colon = strchr(name, ':')) != NULL) {
        if (colon[1] == '\0' || strspn(colon + 1, "0123456789") !=
            strlen(colon + 1))
            return 0;
        *colon = '\0';
    }
    for (len = 0; name[len] != '\0'; len++)
        if (name[len] >= 'A' && name[len] <= 'Z')
            name[len] = (char) (name[len] - 'A' + 'a');
    if (len > 0 && name[len - 1] == '.')
        name[--len] = '\0';
    if (len == 0)
        return 0;
    if (inet_pton(AF_INET, name, bin) == 1 || strcmp(name, "localhost") == 0
        || (len > 10 && strcmp(name + len - 10, ".localhost") == 0))
        return 1;
    for (h = cfg != NULL ? cfg->hosts : NULL; h != NULL; h = h->next) {
        hl = strlen(h->name);
        if (strcmp(name, h->name) == 0 ||
            (len > hl && name[len - hl - 1] == '.' &&
             strcmp(name + len - hl, h->name) == 0))
            return 1;
    }
    if (gethostname(self, sizeof(self)) == 0 &&
        (self[sizeof(self) - 1] = '\0', strcasecmp(self, name) == 0))
        return 1;
    return name_listed(name, c->host_names);
}


/*
 * A state-changing request a browser sent from another site: its Origin
 * names another host or port than its Host, or Fetch Metadata says so.
 * The scheme is not compared: a proxy in front may end TLS.  Non-browser
 * clients send neither header.
 */
static int
cross_origin(const ember_http_msg_t *msg)
{
    const char *origin = ember__http_msg_header(msg, "origin");
    const char *site = ember__http_msg_header(msg, "sec-fetch-site");
    const char *host = ember__http_msg_header(msg, "host");

    if (strcmp(msg->method, "GET") == 0 || strcmp(msg->method, "HEAD") == 0 ||
        strcmp(msg->method, "OPTIONS") == 0)
        return 0;
    if (site != NULL && strcasecmp(site, "same-origin") != 0 &&
        strcasecmp(site, "none") != 0)
        return 1;
    if (origin == NULL)
        return 0;
    if (strncasecmp(origin, "https://", 8) == 0)
        origin += 8;
    else if (strncasecmp(origin, "http://", 7) == 0)
        origin += 7;
    else
        return 1;
    return host == NULL || strcasecmp(origin, host) != 0;
}


/* Bytes of this connection's request input held in memory. */
static size_t
conn_held(const conn_t *c)
{
    const ember_http_msg_t *m = &c->in.msg;

    return c->inbuf.len + m->body.len + m->heads.len + m->url.len +
           ember__http_spool_held(c);
}


/* Hold `bytes` of input within the per-address and total caps. */
static int
conn_hold(conn_t *c, size_t bytes)
{
    const ember_config_t *cfg = ember__config();

    return ember__conn_hold(c->conn, bytes,
                            cfg != NULL ? cfg->limits.http_buffer_per_ip : 0,
                            cfg != NULL ? cfg->limits.http_buffer_total : 0);
}


/* Check the head of a request and find its route (or set its status). */
static void
route_head(conn_t *c, ember_http_msg_t *msg)
{
    const char *host = ember__http_msg_header(msg, "host");
    int status = 0;

    /* RFC 9112 section 3.2: a 1.1 request without Host is a 400. */
    if (host == NULL && msg->http_minor == 1) {
        msg->status = 400;
        return;
    }
    if (c->admin && host != NULL && !host_allowed(c, host)) {
        ember__log(EMBER_LOG_INFO, "http", "%s: %s %s refused: Host '%s' "
                   "is not a name of this console", ember__http_ip(c),
                   msg->method, msg->path, host);
        msg->status = 421;
        return;
    }
    if (c->admin && cross_origin(msg)) {
        ember__log(EMBER_LOG_INFO, "http", "%s: %s %s refused: sent from "
                   "another site (Origin %s)", ember__http_ip(c),
                   msg->method, msg->path,
                   ember__http_msg_header(msg, "origin") != NULL
                       ? ember__http_msg_header(msg, "origin") : "-");
        msg->status = 403;
        return;
    }
    c->route = ember__http_route_match(c->set, msg->method, msg->path,
                                       &status, &msg->params);
    if (c->route == NULL) {
        msg->status = status;
        return;
    }
    if (c->route->max_body > 0)
        msg->max_body = c->route->max_body;
    if ((c->route->flags & EMBER_HTTP_WEBSOCKET) && !msg->upgrade)
        msg->status = 426;
}


static int
conn_on_head(void *ud, ember_http_msg_t *msg)
{
    conn_t *c = ud;
    const ember_config_t *cfg = ember__config();
    const char *length = ember__http_msg_header(msg, "content-length");
    unsigned long long body = length != NULL ? strtoull(length, NULL, 10)
                                             : 0;

    if (msg->http_major != 1 || msg->http_minor > 1)
        return 505;
    msg->max_body = cfg != NULL ? cfg->limits.http_max_body : 1 << 20;
    c->route = NULL;
    if (msg->status == 0)
        route_head(c, msg);
    if (c->route != NULL && (c->route->flags & EMBER_HTTP_STREAM_BODY) &&
        msg->status == 0) {
        msg->stream_body = 1;
        return 0;
    }
    /* Refused before a byte of it is read, rather than once it filled
     * the memory every address shares. */
    if (body > 0 && body <= SIZE_MAX / 2 &&
        conn_hold(c, conn_held(c) + (size_t) body) < 0) {
        ember__log(EMBER_LOG_INFO, "http", "%s: a %llu-byte body is over "
                   "the request buffers' limit", ember__http_ip(c), body);
        return 503;
    }
    return 0;
}


void
ember__http_process(conn_t *c)
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
            ember__http_ws_feed(c);
            break;
        }
        if (c->fileout != NULL || c->inbuf.len == 0)
            break;
        if (c->req != NULL &&
            (c->spool == NULL || ember__http_spool_waits(c)))
            break;
        if (!c->in_request && c->req == NULL) {
            const ember_config_t *cfg = ember__config();

            c->in_request = 1;
            ember__conn_set_idle(c->conn, 0);
            ember__conn_set_deadline(c->conn, (uint64_t)
                                     cfg->limits.http_request_timeout * 1000);
        }
        rc = ember__http_in_feed(&c->in, c->inbuf.data, c->inbuf.len, &used);
        ember__buf_consume(&c->inbuf, used);
        if (rc >= 0 && conn_hold(c, conn_held(c)) < 0)
            rc = -503;
        if (rc < 0) {
            ember__http_spool_drop(c);
            ember__http_answer_error(c, -rc, 1);
            break;
        }
        if (c->spool != NULL) {
            ember__http_spool_fed(c, rc);
            continue;
        }
        if (rc == EMBER_HTTP_IN_MORE) {
            if (c->in.head_done && c->in.msg.expect_continue &&
                c->in.msg.status == 0 && !c->sent_continue) {
                c->sent_continue = 1;
                ember__http_write(c, cont, strlen(cont));
            }
            break;
        }
        ember__http_dispatch(c);
    }
    ember__http_spool_throttle(c);
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
    ember__http_spool_drop(c);
    ember__http_fileout_drop(c);
    if (r != NULL) {
        ember__http_req_detach(r);
        /* Without a closed callback the module still holds r: it learns
         * from the EMBER_ECANCELED of its next call, which releases it. */
        if (r->closed != NULL) {
            r->closed(r, r->closed_ud);
            ember__http_req_free(r);
        }
    }
    ember__http_ws_free(c);
    ember__http_in_free(&c->in);
    ember__buf_free(&c->inbuf);
    free(c->host_names);
    free(c->allowed_origins);
    free(c);
}


static void
on_hangup(void *owner)
{
    ((conn_t *) owner)->closing = 1;
}


void
ember__http_conn_close(conn_t *c)
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
                   "the answer, closing", ember__http_ip(c));
        ember__http_conn_close(c);
        return;
    }
    if (c->mode == M_HTTP && conn_hold(c, conn_held(c) + len) < 0) {
        ember__log(EMBER_LOG_INFO, "http", "%s: over the request buffers' "
                   "limit, closing", ember__http_ip(c));
        if (c->req == NULL)
            ember__http_answer_error(c, 503, 1);
        else
            ember__http_conn_close(c);
        return;
    }
    if (ember__buf_append(&c->inbuf, data, len) < 0) {
        ember__http_conn_close(c);
        return;
    }
    if (!c->processing)
        ember__http_process(c);
    else
        ember__http_spool_throttle(c);
}


static void
on_drained(void *owner)
{
    conn_t *c = owner;

    if (!c->closing)
        ember__http_fileout_drained(c);
}


static void
on_timeout(void *owner, ember_conn_timeout_t what)
{
    conn_t *c = owner;

    if (what == EMBER_CONN_DEADLINE && c->mode == M_HTTP && c->req == NULL)
        ember__http_answer_error(c, 408, 1);
    else
        ember__http_conn_close(c);
}


static const ember_conn_events_t conn_events = {
    .data = on_data,
    .timeout = on_timeout,
    .hangup = on_hangup,
    .closed = on_closed,
    .drained = on_drained,
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
    c->stream_rate = lc->rate;
    c->stream_burst = lc->burst;
    c->admin = lc->type == EMBER_LISTEN_ADMIN ||
               lc->type == EMBER_LISTEN_ADMIN_TLS;
    if ((lc->host_names != NULL &&
         (c->host_names = strdup(lc->host_names)) == NULL) ||
        (lc->allowed_origins != NULL &&
         (c->allowed_origins = strdup(lc->allowed_origins)) == NULL)) {
        free(c->host_names);
        free(c);
        return EMBER_ENOMEM;
    }
    ember__http_in_init(&c->in, conn_on_head, c);
    rc = ember__conn_accept(server, &opts, &conn_events, c, &c->conn);
    if (c->conn == NULL) {
        ember__http_in_free(&c->in);
        free(c->host_names);
        free(c->allowed_origins);
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
        ember__http_conn_close(c);
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
        if (c->mode == M_WS && !c->closing)
            ember__http_ws_end(c, 1001);
        ember__http_conn_close(c);
    }
}


size_t
ember__http_count(void)
{
    return conn_count;
}



void
ember__http_forget_routes(ember_module_t *m)
{
    conn_t *c;

    for (c = conns; c != NULL; c = c->next)
        if (c->route != NULL && c->route->m == m)
            c->route = NULL;
}
