/* core/http/route.c -- the routes modules serve, matched per request;
 * gates and headers of a route set; dispatch to the handler, and the
 * core's own answers (404, 405 with Allow, 426, a failed handler). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http_int.h"
#include "base/log.h"

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


int
ember__http_headers_valid(const char *const *h)
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


void
ember__http_add_set_headers(ember_buf_t *b, const char *set,
                            const char *const *headers,
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



void
ember__http_answer_error(conn_t *c, int status, int close)
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
    snprintf(body, sizeof(body), "%d %s\n", status,
             ember__http_reason(status));
    ember__http_write_answer(c, status, NULL, extra, body, strlen(body));
    ember__http_answer_done(c);
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

route_t *
ember__http_route_match(const char *set, const char *method,
                        const char *path, int *status)
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


static gate_t *
gate_of(const char *set)
{
    gate_t *g;

    for (g = gates; g != NULL; g = g->next)
        if (strcmp(g->set, set) == 0)
            return g;
    return NULL;
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
    if ((r = ember__http_req_start(c, g->m)) == NULL) {
        ember__http_answer_error(c, 500, 1);
        return 1;
    }
    rc = g->cb(g->m, r, g->ud);
    if (c->req != r || r->kind != RQ_PENDING)
        return 1;
    ember__http_req_detach(r);
    ember__http_req_free(r);
    if (rc == 0)
        return 0;
    ember__log(EMBER_LOG_INFO, "http", "%s: %s %s: gate failed: %s",
               ember__http_ip(c), msg->method, msg->path,
               rc < 0 ? ember_strerror(rc) : "no answer");
    ember__http_answer_error(c, rc < 0 ? status_of_error(rc) : 500, 0);
    return 1;
}


void
ember__http_dispatch(conn_t *c)
{
    ember_http_msg_t *msg = &c->in.msg;
    route_t *rt;
    ember_http_req_t *r;
    int rc;

    ember__http_handed_over(c);
    /* After an Upgrade the parser reads no further request: whatever the
     * answer other than a 101, the connection ends with it. */
    c->close_after = !msg->keep_alive || msg->upgrade;
    if (run_gate(c, msg))
        return;
    rt = c->route;
    if (msg->status != 0) {
        ember__http_answer_error(c, msg->status, msg->upgrade);
        return;
    }
    if (rt == NULL) {           /* its module went while the body came */
        ember__http_answer_error(c, 404, 0);
        return;
    }
    if ((rt->flags & EMBER_HTTP_WEBSOCKET) &&
        !ember__http_ws_handshake_ok(msg)) {
        ember__http_answer_error(c, 400, 1);
        return;
    }
    if ((r = ember__http_req_start(c, rt->m)) == NULL) {
        ember__http_answer_error(c, 500, 1);
        return;
    }
    rc = rt->handler(rt->m, r, rt->ud);
    if (rc < 0 && c->req == r && r->kind == RQ_PENDING) {
        ember__log(EMBER_LOG_INFO, "http", "%s: %s %s: handler failed: %s",
                   ember__http_ip(c), msg->method, msg->path,
                   ember_strerror(rc));
        ember__http_req_detach(r);
        ember__http_req_free(r);
        ember__http_answer_error(c, status_of_error(rc), 0);
    }
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
    ember__http_req_free_all();
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
        !ember__http_headers_valid(headers))
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
    ember__http_forget_routes(m);
    ember__http_req_module_gone(m);
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

