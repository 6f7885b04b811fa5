/* core/web/hostmeta.c -- XEP-0156: /.well-known/host-meta (XRD) and
 * host-meta.json on the client HTTP listeners, announcing the WebSocket
 * endpoint so browser clients (Converse.js) find it from a domain alone. */
#include <stdio.h>
#include <string.h>

#include "http/http.h"
#include "web/websocket.h"

#define REL_WS "urn:xmpp:alt-connections:websocket"
#define REL_BOSH "urn:xmpp:alt-connections:xbosh"


/* The Host the browser used, if it is a plain host[:port]: the answer
 * repeats it in a URL. */
static const char *
request_host(ember_http_req_t *req)
{
    const char *h = ember__http_header(req, "host");

    if (h == NULL || *h == '\0' || strlen(h) > 255 ||
        strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "0123456789.-:[]") != strlen(h))
        return NULL;
    return h;
}


static int
answer(ember_http_req_t *req, int json)
{
    static const char *const xrd_headers[] = {
        "Content-Type", "application/xrd+xml; charset=utf-8",
        "Access-Control-Allow-Origin", "*", NULL
    };
    static const char *const json_headers[] = {
        "Content-Type", "application/json",
        "Access-Control-Allow-Origin", "*", NULL
    };
    const char *host = request_host(req);
    const char *scheme = ember__http_tls_session(req) != NULL ? "wss" : "ws";
    const char *web = ember__http_tls_session(req) != NULL ? "https" : "http";
    char body[1024];
    int n;

    if (host == NULL)
        return EMBER_EINVAL;
    if (json)
        n = snprintf(body, sizeof(body),
                     "{\"links\":[{\"rel\":\"" REL_WS "\",\"href\":"
                     "\"%s://%s/xmpp-websocket\"},{\"rel\":\"" REL_BOSH
                     "\",\"href\":\"%s://%s/http-bind\"}]}", scheme, host,
                     web, host);
    else
        n = snprintf(body, sizeof(body),
                     "<?xml version='1.0' encoding='utf-8'?>\n"
                     "<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>"
                     "\n  <Link rel='" REL_WS "' href='%s://%s/xmpp-websocket'"
                     "/>\n  <Link rel='" REL_BOSH "' href='%s://%s/http-bind'/>"
                     "\n</XRD>\n", scheme, host, web, host);
    return ember__http_respond(req, 200, json ? json_headers : xrd_headers,
                               body, (size_t) n);
}


static int
on_xrd(ember_module_t *m, ember_http_req_t *req, void *ud)
{
    return answer(req, 0);
}


static int
on_json(ember_module_t *m, ember_http_req_t *req, void *ud)
{
    return answer(req, 1);
}


int
ember__hostmeta_start(void)
{
    static const ember_http_route_t xrd = {
        .size = sizeof(ember_http_route_t), .set = "client",
        .method = "GET", .path = "/.well-known/host-meta",
        .handler = on_xrd,
    };
    static const ember_http_route_t json = {
        .size = sizeof(ember_http_route_t), .set = "client",
        .method = "GET", .path = "/.well-known/host-meta.json",
        .handler = on_json,
    };
    int rc;

    if ((rc = ember__http_route(NULL, &xrd, NULL)) < 0)
        return rc;
    return ember__http_route(NULL, &json, NULL);
}
