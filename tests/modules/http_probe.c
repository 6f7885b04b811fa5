/*
 * Test-only module: one route of each kind the HTTP server offers, driven
 * by tests/integration/test_http.py.  On the "client" set:
 *   GET|POST /probe/echo    the request as JSON (method, path, query q and
 *                           name, headers x-probe and content-type, body,
 *                           ip, tls)
 *   POST /probe/small       echo with a 16-byte body limit
 *   GET /probe/async        answered 100 ms later by a timer
 *   GET /probe/hang         never answered; counts closed callbacks
 *   GET /probe/fail, /probe/busy   handler errors (500, 503)
 *   GET /probe/stats        {"closed": N, "ws_closed": N}
 *   GET /static/...         files of the option `static` (a directory)
 *   GET /probe/sse          three events 50 ms apart, then the end
 *   GET /probe/ws           WebSocket echo ("close" closes it)
 * and GET /probe/admin on the "admin" set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include <ember/plugin.h>

typedef struct {
    char *static_dir;
} hp_conf_t;

typedef struct pending_s {
    ember_module_t *m;
    ember_http_req_t *req;
    ember_timer_t *timer;
    int n;
    struct pending_s *next;
} pending_t;

static const ember_api_t *api;
static pending_t *pendings;
static int closed_count, ws_closed_count;

static const ember_option_t hp_options[] = {
    EMBER_OPT("static", EMBER_OPT_STRING, hp_conf_t, static_dir, "", 0, 4096,
              "directory served under /static/"),
    EMBER_OPT_END
};


static pending_t *
pending_new(ember_module_t *m, ember_http_req_t *req)
{
    pending_t *p = calloc(1, sizeof(*p));

    if (p != NULL) {
        p->m = m;
        p->req = req;
        p->next = pendings;
        pendings = p;
    }
    return p;
}


static void
pending_free(pending_t *p)
{
    pending_t **pp;

    for (pp = &pendings; *pp != NULL; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    if (p->timer != NULL)
        api->timer_stop(p->m, p->timer);
    free(p);
}


static int
reply_json(ember_http_req_t *req, int status, json_t *doc)
{
    static const char *const h[] = { "Content-Type", "application/json",
                                     NULL };
    char *s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    int rc;

    json_decref(doc);
    if (s == NULL)
        return EMBER_ENOMEM;
    rc = api->http_respond(req, status, h, s, strlen(s));
    free(s);
    return rc;
}


static json_t *
str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}


static int
hp_echo(ember_module_t *m, ember_http_req_t *req, void *ud)
{
    size_t len;
    const char *body = api->http_body(req, &len);

    return reply_json(req, 200, json_pack("{s:s, s:s, s:{s:o, s:o}, "
        "s:{s:o, s:o}, s:s%, s:s, s:b}",
        "method", api->http_method(req), "path", api->http_path(req),
        "query", "q", str_or_null(api->http_query(req, "q")),
        "name", str_or_null(api->http_query(req, "name")),
        "headers", "x-probe", str_or_null(api->http_header(req, "X-Probe")),
        "content-type", str_or_null(api->http_header(req, "content-type")),
        "body", body, len, "ip", api->http_peer_ip(req),
        "tls", api->http_is_tls(req)));
}


static void
hp_async_fire(ember_module_t *m, ember_timer_t *t, void *ud)
{
    pending_t *p = ud;
    static const char *const h[] = { "Content-Type", "text/plain", NULL };

    p->timer = NULL;    /* a one-shot timer is gone once it fired */
    api->http_respond(p->req, 200, h, "async done", 10);
    pending_free(p);
}


static void
hp_closed(ember_http_req_t *req, void *ud)
{
    pending_t *p = ud;

    closed_count++;
    if (p != NULL)
        pending_free(p);
}


static int
hp_async(ember_module_t *m, ember_http_req_t *req, void *ud)
{
    pending_t *p = pending_new(m, req);

    if (p == NULL)
        return EMBER_ENOMEM;
    p->timer = api->timer_start(m, 100, 0, hp_async_fire, p);
    api->http_on_closed(req, hp_closed, p);
    return 0;
}


static int
hp_hang(ember_module_t *m, ember_http_req_t *req, void *ud)
{
    api->http_on_closed(req, hp_closed, NULL);
    return 0;
}


static int
hp_fail(ember_module_t *m, ember_http_req_t *req, void *ud)
{
    return (int) (intptr_t) ud;
}


static int
hp_stats(ember_module_t *m, ember_http_req_t *req, void *ud)
{
    return reply_json(req, 200, json_pack("{s:i, s:i}", "closed",
                                          closed_count, "ws_closed",
                                          ws_closed_count));
}


static int
hp_static(ember_module_t *m, ember_http_req_t *req, void *ud)
{
    hp_conf_t *conf = api->module_conf(m);

    if (conf->static_dir == NULL || conf->static_dir[0] == '\0')
        return EMBER_ENOENT;
    return api->http_send_file(req, conf->static_dir,
                               api->http_path(req) + strlen("/static/"),
                               "max-age=60");
}


static void
hp_sse_tick(ember_module_t *m, ember_timer_t *t, void *ud)
{
    pending_t *p = ud;
    char data[64];

    p->n++;
    snprintf(data, sizeof(data), "tick %d\nsecond line", p->n);
    if (api->http_sse_send(p->req, "tick", data) < 0 || p->n == 3) {
        if (p->n == 3)
            api->http_close(p->req);
        pending_free(p);
    }
}


static void
hp_sse_closed(ember_http_req_t *req, void *ud)
{
    closed_count++;
    pending_free(ud);
}


static int
hp_sse(ember_module_t *m, ember_http_req_t *req, void *ud)
{
    pending_t *p;
    int rc;

    if ((rc = api->http_sse_start(req)) < 0)
        return rc;
    if ((p = pending_new(m, req)) == NULL) {
        api->http_close(req);
        return 0;
    }
    api->http_on_closed(req, hp_sse_closed, p);
    p->timer = api->timer_start(m, 50, 50, hp_sse_tick, p);
    return 0;
}


static void
hp_ws_message(ember_http_req_t *req, int type, const char *data, size_t len,
              void *ud)
{
    if (type == EMBER_WS_TEXT && len == 5 && memcmp(data, "close", 5) == 0) {
        api->http_close(req);
        return;
    }
    api->ws_send(req, type, data, len);
}


static void
hp_ws_closed(ember_http_req_t *req, void *ud)
{
    ws_closed_count++;
}


static int
hp_ws(ember_module_t *m, ember_http_req_t *req, void *ud)
{
    const char *proto = api->http_header(req, "sec-websocket-protocol");
    int rc;

    if (api->http_query(req, "deny") != NULL)
        return EMBER_EPERM;
    rc = api->ws_accept(req, proto != NULL && strstr(proto, "echo") != NULL
                                 ? "echo" : NULL, hp_ws_message, NULL);
    if (rc < 0)
        return rc;
    api->http_on_closed(req, hp_ws_closed, NULL);
    return 0;
}


static int
hp_admin(ember_module_t *m, ember_http_req_t *req, void *ud)
{
    return api->http_respond(req, 200, NULL, "admin ok", 8);
}


static int
hp_load(ember_module_t *m, const ember_api_t *a)
{
    static const struct {
        const char *set, *method, *path;
        unsigned flags;
        size_t max_body;
        ember_http_cb cb;
        intptr_t ud;
    } table[] = {
        { "client", "GET", "/probe/echo", 0, 0, hp_echo, 0 },
        { "client", "POST", "/probe/echo", 0, 0, hp_echo, 0 },
        { "client", "PUT", "/probe/echo", 0, 0, hp_echo, 0 },
        { "client", "POST", "/probe/small", 0, 16, hp_echo, 0 },
        { "client", "GET", "/probe/async", 0, 0, hp_async, 0 },
        { "client", "GET", "/probe/hang", 0, 0, hp_hang, 0 },
        { "client", "GET", "/probe/fail", 0, 0, hp_fail, EMBER_EIO },
        { "client", "GET", "/probe/busy", 0, 0, hp_fail, EMBER_EBUSY },
        { "client", "GET", "/probe/stats", 0, 0, hp_stats, 0 },
        { "client", "GET", "/static/", EMBER_HTTP_PREFIX, 0, hp_static, 0 },
        { "client", "GET", "/probe/sse", 0, 0, hp_sse, 0 },
        { "client", "GET", "/probe/ws", EMBER_HTTP_WEBSOCKET, 0, hp_ws, 0 },
        { "admin", "GET", "/probe/admin", 0, 0, hp_admin, 0 },
    };
    ember_http_route_t r;
    size_t i;
    int rc;

    api = a;
    for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        memset(&r, 0, sizeof(r));
        r.size = sizeof(r);
        r.set = table[i].set;
        r.method = table[i].method;
        r.path = table[i].path;
        r.flags = table[i].flags;
        r.max_body = table[i].max_body;
        r.handler = table[i].cb;
        if ((rc = api->http_route(m, &r, (void *) table[i].ud)) < 0)
            return rc;
    }
    /* What the core must refuse. */
    r.method = "GET";
    r.path = "/probe/../x";
    r.flags = 0;
    if (api->http_route(m, &r, NULL) != EMBER_EINVAL)
        return EMBER_EPROTO;
    r.path = "/probe/echo";
    r.set = "client";
    if (api->http_route(m, &r, NULL) != EMBER_EEXIST)
        return EMBER_EPROTO;
    return 0;
}


static void
hp_unload(ember_module_t *m)
{
    /* The core closed the streams and stopped the timers without telling
     * us: only the bookkeeping is left. */
    while (pendings != NULL) {
        pending_t *p = pendings;

        pendings = p->next;
        free(p);
    }
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "http_probe",
    .version = "1.0",
    .description = "test: every kind of HTTP route",
    .requires = (const char *const[]){ "http", "timers", NULL },
    .conf_size = sizeof(hp_conf_t),
    .options = hp_options,
    .load = hp_load,
    .unload = hp_unload,
};
