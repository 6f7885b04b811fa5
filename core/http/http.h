/* core/http/http.h -- the HTTP/1.1 server as the rest of the core sees
 * it: request parsing (parse.c), connections (server.c), routes and gates
 * (route.c), requests (request.c), files (files.c), event streams and
 * WebSockets (stream.c). */
#ifndef EMBER_CORE_HTTP_H
#define EMBER_CORE_HTTP_H

#include <stddef.h>
#include <http_parser.h>
#include <jansson.h>
#include <uv.h>
#include <ember/plugin.h>

#include "base/buf.h"
#include "base/config.h"
#include "net/tls.h"

/* Limits of one request head, fixed: only the body limit is configured. */
#define EMBER_HTTP_MAX_URL 8192
#define EMBER_HTTP_MAX_HEAD (16 * 1024)
#define EMBER_HTTP_MAX_HEADERS 100

/* ---- parsing (parse.c): no I/O, fed by the connection ---- */

typedef struct ember_http_msg_s {
    const char *method;        /* static string of http-parser */
    ember_buf_t url;           /* raw request target */
    ember_buf_t heads;         /* "name\0value\0" ..., names lowercased */
    size_t nheaders;
    ember_buf_t body;
    ember_buf_t params;        /* "name\0value\0" ... of the route's path */
    char *path;                /* normalised (after on_head), malloc'ed */
    const char *query;         /* into url, after '?', or NULL */
    size_t max_body;           /* set by on_head */
    int status;                /* non-zero: answer this error, ignore body */
    int keep_alive, upgrade, expect_continue;
    int stream_body;           /* set by on_head: the body is not kept */
    unsigned short http_major, http_minor;
} ember_http_msg_t;

/*
 * Called once the head of a request is parsed: route it (set max_body,
 * status), no I/O.  Returns 0, or an HTTP status that ends the connection
 * at once (413 for a Content-Length over max_body, say).
 */
typedef int (*ember_http_head_cb)(void *ud, ember_http_msg_t *msg);
/* Bytes of a streamed body; non-zero asks the parser to pause after
 * them (the sink is full), until ember__http_in_feed is called again. */
typedef int (*ember_http_sink_cb)(void *ud, const char *data, size_t len);

typedef struct ember_http_in_s {
    http_parser p;
    ember_http_msg_t msg;
    ember_http_head_cb on_head;
    void *ud;
    size_t head_bytes;
    int last_was_value;
    int fail;                  /* HTTP status of a limit crossed */
    int done;                  /* msg complete, parser paused */
    int head_done;
    int head_ready;            /* of a stream_body request: paused */
    uint64_t body_bytes;
    ember_http_sink_cb sink;   /* of a stream_body request, once known */
    void *sink_ud;
} ember_http_in_t;

/* What ember__http_in_feed found, when no limit was crossed. */
enum {
    EMBER_HTTP_IN_MORE = 0,    /* every byte used, more needed */
    EMBER_HTTP_IN_DONE = 1,    /* the request is complete */
    EMBER_HTTP_IN_HEAD = 2,    /* a stream_body head: set a sink */
    EMBER_HTTP_IN_FULL = 3     /* the sink asked for a pause */
};

void ember__http_in_init(ember_http_in_t *in, ember_http_head_cb on_head,
                         void *ud);
/*
 * Parse from data, *used bytes of it consumed.  Returns one of
 * EMBER_HTTP_IN_* (on DONE the rest of data belongs to the next request),
 * or a negative HTTP status (-400, -413, -414, -431) when the connection
 * must answer it and close.
 */
int ember__http_in_feed(ember_http_in_t *in, const char *data, size_t len,
                        size_t *used);
/* Forget the finished request and expect the next one. */
void ember__http_in_next(ember_http_in_t *in);
void ember__http_in_free(ember_http_in_t *in);

/* A header of msg by lowercase name, or NULL. */
const char *ember__http_msg_header(const ember_http_msg_t *msg,
                                   const char *name);
/*
 * Percent-decode the path of a request target once and check it: 0 with
 * a malloc'ed path in *out, or 400 (encoded '/' or '\\', NUL, control
 * characters, "." or ".." segments, a '%' still encoding something after
 * decoding, not starting with '/').  Repeated slashes become one.
 */
int ember__http_normalize(const char *path, size_t len, char **out);
/* Decoded value of `name` in a query string (malloc'ed), or NULL. */
char *ember__http_query_get(const char *query, const char *name);
/* True when a comma-separated header value lists token (any case). */
int ember__http_has_token(const char *value, const char *token);

/* ---- the server ---- */

/* Accept one connection on an http, https, admin or admin-tls listener. */
int ember__http_accept(uv_stream_t *server, const ember_listener_conf_t *lc);
/* Close every connection (shutdown): closed callbacks run. */
void ember__http_close_all(void);
/* Connections open (for the shutdown wait and status). */
size_t ember__http_count(void);
/* After the last module unloaded: free what is left. */
void ember__http_cleanup(void);
/* Drop module m's routes; its pending requests get 503, its streams
 * close, without calling back into it. */
int ember__http_gate(ember_module_t *m, const char *set, ember_http_cb cb,
                     void *ud);
int ember__http_set_headers(ember_module_t *m, const char *set,
                            const char *const *headers);
void ember__http_module_gone(ember_module_t *m);
/* "client" or "admin", the route set a listener type serves. */
const char *ember__http_set_of(ember_listen_type_t type);

/* The api table entries. */
int ember__http_route(ember_module_t *m, const ember_http_route_t *route,
                      void *ud);
const char *ember__http_method(ember_http_req_t *req);
const char *ember__http_path(ember_http_req_t *req);
const char *ember__http_query(ember_http_req_t *req, const char *name);
const char *ember__http_header(ember_http_req_t *req, const char *name);
const char *ember__http_body(ember_http_req_t *req, size_t *len);
const char *ember__http_peer_ip(ember_http_req_t *req);
int ember__http_is_tls(ember_http_req_t *req);
int ember__http_respond(ember_http_req_t *req, int status,
                        const char *const *headers, const char *body,
                        size_t len);
int ember__http_send_file(ember_http_req_t *req, const char *dir,
                          const char *relpath, const char *cache_control);
void ember__http_on_closed(ember_http_req_t *req, ember_http_closed_cb cb,
                           void *ud);
int ember__http_body_to_fd(ember_http_req_t *req, int fd,
                           ember_http_body_cb done, void *ud);
int ember__http_respond_fd(ember_http_req_t *req, int status,
                           const char *const *headers, int fd,
                           uint64_t offset, uint64_t length);
int ember__http_sse_start(ember_http_req_t *req);
int ember__http_sse_send(ember_http_req_t *req, const char *event,
                         const char *data);
int ember__ws_accept(ember_http_req_t *req, const char *protocol,
                     ember_ws_message_cb on_message, void *ud);
int ember__ws_send(ember_http_req_t *req, int type, const char *data,
                   size_t len);
void ember__http_close(ember_http_req_t *req);
/* For a stream carried by a WebSocket (web/): a close frame, then the
 * connection ends and req's closed callback runs (unlike http_close). */
void ember__http_ws_finish(ember_http_req_t *req);
/* The Origin of a browser request when its listener's allowed-origins
 * does not list it, else NULL (no list, no Origin, or listed). */
const char *ember__http_origin_refused(ember_http_req_t *req);
/* The TLS session under req, or NULL on plain HTTP. */
ember_tls_t *ember__http_tls_session(ember_http_req_t *req);
uint64_t ember__http_idle_ms(ember_http_req_t *req);
/* A stream's own timeouts once the request became one (0: none); expiry
 * closes the connection. */
void ember__http_stream_timeouts(ember_http_req_t *req, uint64_t deadline_ms,
                                 uint64_t idle_ms);
/* Shape what the client sends as its listener's rate says for streams
 * (on = 1), or lift it (a server admin logged in). */
void ember__http_stream_shape(ember_http_req_t *req, int on);
int ember__http_routes(ember_module_t *m, const ember_http_table_t *table,
                       void *ud);
const char *ember__http_param(ember_http_req_t *req, const char *name);
int ember__http_set_principal(ember_http_req_t *req, const char *principal);
const char *ember__http_principal(ember_http_req_t *req);
const void *ember__http_route_data(ember_http_req_t *req);

#endif
