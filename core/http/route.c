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

static int route_covers(const route_t *r, const char *path);


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
            if (strcmp(r->set, c->set) != 0 || !route_covers(r, path) ||
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

static void
route_free(route_t *r)
{
    if (r == NULL)
        return;
    free(r->set);
    free(r->method);
    free(r->path);
    free(r->shape);
    free(r);
}


static int
param_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
}


/*
 * Check the parameters of a normalised route path and write its shape:
 * the path with every "{name}" as "{}" and a last "{name*}" as "{*}", so
 * that routes differing only in names clash.  Returns the number of
 * parameters, or -1 when a brace is not a whole segment, a name is empty,
 * repeated or not [A-Za-z0-9_-], or "{name*}" is not the last segment.
 */
static int
path_shape(const char *path, char *shape)
{
    const char *seg = path, *end, *names[HTTP_MAX_PARAMS];
    size_t lens[HTTP_MAX_PARAMS], len, i;
    int n = 0, rest;

    while (*seg == '/') {
        *shape++ = *seg++;
        end = strchrnul(seg, '/');
        len = (size_t) (end - seg);
        if (memchr(seg, '{', len) == NULL && memchr(seg, '}', len) == NULL) {
            memcpy(shape, seg, len);
            shape += len;
            seg = end;
            continue;
        }
        rest = len > 3 && seg[len - 2] == '*';
        if (len < 3 || seg[0] != '{' || seg[len - 1] != '}' ||
            (rest && *end != '\0') || n == HTTP_MAX_PARAMS)
            return -1;
        names[n] = seg + 1;
        lens[n] = len - 2 - (size_t) rest;
        for (i = 0; i < lens[n]; i++)
            if (!param_char(names[n][i]))
                return -1;
        for (i = 0; i < (size_t) n; i++)
            if (lens[i] == lens[n] && memcmp(names[i], names[n], lens[n]) == 0)
                return -1;
        n++;
        shape = stpcpy(shape, rest ? "{*}" : "{}");
        seg = end;
    }
    *shape = '\0';
    return n;
}


/*
 * Match a route path with parameters; with params, append "name\0value\0"
 * for each of them.  "{name}" takes one non-empty segment, "{name*}" the
 * non-empty rest.
 */
static int
pattern_match(const char *pat, const char *path, ember_buf_t *params)
{
    size_t mark = params != NULL ? params->len : 0;
    const char *close, *end;
    int rest;

    while (*pat != '\0') {
        if (*pat != '{') {
            if (*pat++ != *path++)
                goto fail;
            continue;
        }
        close = strchr(pat, '}');
        rest = close[-1] == '*';
        end = rest ? path + strlen(path) : strchrnul(path, '/');
        if (end == path)
            goto fail;
        if (params != NULL &&
            (ember__buf_append(params, pat + 1,
                               (size_t) (close - pat - 1 - rest)) < 0 ||
             ember__buf_append(params, "", 1) < 0 ||
             ember__buf_append(params, path, (size_t) (end - path)) < 0 ||
             ember__buf_append(params, "", 1) < 0))
            goto fail;
        pat = close + 1;
        path = end;
    }
    if (*path == '\0')
        return 1;

fail:
    if (params != NULL)
        params->len = mark;
    return 0;
}


/* 1 when r serves path, with any method. */
static int
route_covers(const route_t *r, const char *path)
{
    if (r->flags & EMBER_HTTP_PREFIX)
        return strncmp(path, r->path, r->plen) == 0;
    if (r->nparams > 0)
        return pattern_match(r->path, path, NULL);
    return strcmp(path, r->path) == 0;
}


/* Kinds of route, the most specific first. */
static int
route_class(const route_t *r)
{
    return r->flags & EMBER_HTTP_PREFIX ? 2 : r->nparams > 0 ? 1 : 0;
}


/*
 * Of two parameter routes matching one path, the one whose first
 * differing segment is more literal ("x" before "{}" before "{*}"):
 * negative when a comes first.
 */
static int
shape_cmp(const char *a, const char *b)
{
    for (; *a != '\0' && *a == *b; a++, b++)
        ;
    if (*a == *b)
        return 0;
    /* '{' starts a parameter where the other has a letter, '*' a rest
     * where the other closes a one-segment parameter. */
    if (*a == '{' || *a == '*')
        return 1;
    if (*b == '{' || *b == '*')
        return -1;
    return 0;
}


/* 1 when candidate r, whose method is `exact` or GET for a HEAD, is a
 * better match than best. */
static int
route_better(const route_t *r, int exact, const route_t *best,
             int best_exact)
{
    int rc = route_class(r), bc;

    if (best == NULL)
        return 1;
    if (rc != (bc = route_class(best)))
        return rc < bc;
    if (rc == 1 && shape_cmp(r->shape, best->shape) != 0)
        return shape_cmp(r->shape, best->shape) < 0;
    if (rc == 2 && r->plen != best->plen)
        return r->plen > best->plen;
    return exact && !best_exact;
}


route_t *
ember__http_route_match(const char *set, const char *method,
                        const char *path, int *status, ember_buf_t *params)
{
    route_t *r, *best = NULL;
    int path_seen = 0, head = strcmp(method, "HEAD") == 0, exact;
    int best_exact = 0;

    for (r = routes; r != NULL; r = r->next) {
        if (strcmp(r->set, set) != 0 || !route_covers(r, path))
            continue;
        path_seen = 1;
        exact = strcmp(r->method, method) == 0;
        if (!exact && !(head && strcmp(r->method, "GET") == 0))
            continue;
        if (route_better(r, exact, best, best_exact)) {
            best = r;
            best_exact = exact;
        }
    }
    if (best == NULL)
        *status = path_seen ? 405 : 404;
    else if (best->nparams > 0 && params != NULL)
        pattern_match(best->path, path, params);
    return best;
}


/* A checked copy of route on set (a table's auth, or NULL). */
static int
route_new(ember_module_t *m, const ember_http_route_t *route,
          const char *set, ember_http_cb auth, void *ud, route_t **out)
{
    const unsigned known = EMBER_HTTP_PREFIX | EMBER_HTTP_WEBSOCKET |
                           EMBER_HTTP_PUBLIC | EMBER_HTTP_STREAM_BODY;
    route_t *r;
    const char *p;
    int prefix, n;

    *out = NULL;
    if (route->handler == NULL || set == NULL || route->method == NULL ||
        route->path == NULL ||
        (strcmp(set, "client") != 0 && strcmp(set, "admin") != 0) ||
        route->method[0] == '\0' || (route->flags & ~known))
        return EMBER_EINVAL;
    for (p = route->method; *p != '\0'; p++)
        if (*p < 'A' || *p > 'Z')
            return EMBER_EINVAL;
    prefix = (route->flags & EMBER_HTTP_PREFIX) != 0;
    if ((route->flags & EMBER_HTTP_WEBSOCKET) &&
        strcmp(route->method, "GET") != 0)
        return EMBER_EINVAL;
    if ((route->flags & EMBER_HTTP_STREAM_BODY) &&
        (route->flags & EMBER_HTTP_WEBSOCKET))
        return EMBER_EINVAL;
    if ((r = calloc(1, sizeof(*r))) == NULL)
        return EMBER_ENOMEM;
    /* Routes are written in the form requests are compared in. */
    if (ember__http_normalize(route->path, strlen(route->path),
                              &r->path) != 0 ||
        strcmp(r->path, route->path) != 0 ||
        (prefix && r->path[strlen(r->path) - 1] != '/')) {
        route_free(r);
        return EMBER_EINVAL;
    }
    if ((r->shape = malloc(strlen(r->path) + 1)) == NULL ||
        (r->set = strdup(set)) == NULL ||
        (r->method = strdup(route->method)) == NULL) {
        route_free(r);
        return EMBER_ENOMEM;
    }
    /* A prefix takes what follows it as it is: no parameters there. */
    if ((n = path_shape(r->path, r->shape)) < 0 || (prefix && n > 0)) {
        route_free(r);
        return EMBER_EINVAL;
    }
    r->m = m;
    r->nparams = (unsigned) n;
    r->plen = strlen(r->path);
    r->flags = route->flags;
    r->max_body = route->max_body;
    r->handler = route->handler;
    r->auth = auth;
    r->ud = ud;
    /* A module built before minor 3 has no `data` in its routes. */
    if (route->size >= offsetof(ember_http_route_t, data) +
                       sizeof(route->data))
        r->data = route->data;
    *out = r;
    return 0;
}


/* 1 when a route of list (up to stop) takes r's method and path. */
static int
route_taken(const route_t *list, const route_t *stop, const route_t *r)
{
    for (; list != NULL && list != stop; list = list->next)
        if (strcmp(list->set, r->set) == 0 &&
            strcmp(list->method, r->method) == 0 &&
            strcmp(list->shape, r->shape) == 0 &&
            (list->flags & EMBER_HTTP_PREFIX) ==
                (r->flags & EMBER_HTTP_PREFIX))
            return 1;
    return 0;
}


/* Serve the routes of added (a list), all or none. */
static int
routes_add(route_t *added)
{
    route_t *r, *last = NULL;

    for (r = added; r != NULL; r = r->next) {
        if (route_taken(routes, NULL, r) || route_taken(added, r, r)) {
            while ((r = added) != NULL) {
                added = r->next;
                route_free(r);
            }
            return EMBER_EEXIST;
        }
        last = r;
    }
    if (last != NULL) {
        last->next = routes;
        routes = added;
    }
    return 0;
}


int
ember__http_route(ember_module_t *m, const ember_http_route_t *route,
                  void *ud)
{
    route_t *r;
    int rc;

    if (route == NULL ||
        route->size < offsetof(ember_http_route_t, handler) +
                      sizeof(route->handler))
        return EMBER_EINVAL;
    if ((rc = route_new(m, route, route->set, NULL, ud, &r)) < 0)
        return rc;
    r->flags &= ~EMBER_HTTP_PUBLIC;
    return routes_add(r);
}


int
ember__http_routes(ember_module_t *m, const ember_http_table_t *table,
                   void *ud)
{
    const ember_http_route_t *route;
    route_t *added = NULL, **tail = &added, *r;
    size_t i, stride;
    int rc = 0;

    if (m == NULL || table == NULL ||
        table->size < offsetof(ember_http_table_t, nroutes) +
                      sizeof(table->nroutes) ||
        table->routes == NULL || table->nroutes == 0)
        return EMBER_EINVAL;
    /* The module's own sizeof(ember_http_route_t) is the array's step. */
    stride = table->routes[0].size;
    if (stride < offsetof(ember_http_route_t, handler) +
                 sizeof(table->routes[0].handler))
        return EMBER_EINVAL;
    for (i = 0; i < table->nroutes && rc == 0; i++) {
        route = (const ember_http_route_t *)
                ((const char *) table->routes + i * stride);
        if (route->size != stride)
            rc = EMBER_EINVAL;
        else if ((rc = route_new(m, route, table->set != NULL ? table->set
                                                              : route->set,
                                 table->auth, ud, &r)) == 0) {
            r->in_table = 1;
            *tail = r;
            tail = &r->next;
        }
    }
    if (rc == 0)
        return routes_add(added);
    while ((r = added) != NULL) {
        added = r->next;
        route_free(r);
    }
    return rc;
}


int
ember__http_route_call(const route_t *rt, ember_http_req_t *r)
{
    conn_t *c = r->c;
    int rc;

    r->data = rt->data;
    if (rt->auth != NULL && !(rt->flags & EMBER_HTTP_PUBLIC)) {
        rc = rt->auth(rt->m, r, rt->ud);
        if (c->req != r || r->kind != RQ_PENDING)
            return 0;
        if (rc < 0)
            return rc;
        /* Let through without saying who, or "answered" without an
         * answer: the module is wrong, and nobody gets in. */
        if (rc != 0 || r->principal == NULL) {
            ember__log(EMBER_LOG_WARN, "http", "%s: auth hook returned %d "
                       "with%s a principal and no answer",
                       c->in.msg.path != NULL ? c->in.msg.path : "-", rc,
                       r->principal == NULL ? "out" : "");
            return EMBER_ESTATE;
        }
    }
    return rt->handler(rt->m, r, rt->ud);
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
    /* The tables of the gate's own module are guarded by their auth hook
     * (or are public): the request is checked once. */
    if (msg->status == 0 && c->route != NULL && c->route->in_table &&
        c->route->m == g->m)
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
    /* A streamed body left unread ends the connection, unless the route
     * takes it (http_body_to_fd). */
    if (msg->stream_body)
        c->close_after = 1;
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
    rc = ember__http_route_call(rt, r);
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
        route_free(r);
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
        route_free(r);
    }
}

