/* core/http/http_int.h -- what the files of the HTTP server share: the
 * connection (server.c), routes and gates (route.c), the request handle
 * (request.c), files (files.c), event streams and WebSockets (stream.c). */
#ifndef EMBER_CORE_HTTP_INT_H
#define EMBER_CORE_HTTP_INT_H

#include <time.h>

#include "http/http.h"
#include "net/conn.h"

typedef enum { M_HTTP = 0, M_SSE = 1, M_WS = 2 } conn_mode_t;
typedef enum { RQ_PENDING = 0, RQ_SSE = 1, RQ_WS = 2 } req_kind_t;

/* Most path parameters in one route. */
#define HTTP_MAX_PARAMS 8

typedef struct route_s {
    ember_module_t *m;
    char *set, *method, *path;
    char *shape;               /* path with parameter names left out */
    size_t plen;
    unsigned nparams;
    unsigned flags;
    unsigned in_table : 1;     /* from http_routes */
    size_t max_body;
    ember_http_cb handler;
    ember_http_cb auth;        /* the table's, or NULL */
    void *ud;
    const void *data;
    struct route_s *next;
} route_t;

typedef struct conn_s conn_t;
typedef struct spool_s spool_t;
typedef struct fileout_s fileout_t;
typedef struct ws_in_s ws_in_t;

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
    char *principal;           /* set by a table's auth hook */
    const void *data;          /* the route's */
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
    unsigned in_request : 1;   /* bytes of a request not yet answered */
    unsigned admin : 1;        /* of an admin listener: Host and Origin
                                  are checked */
    char *host_names;          /* the listener's host-names, or NULL */
    uint64_t stream_rate, stream_burst; /* the listener's, for streams */
    char *allowed_origins;     /* the listener's allowed-origins, or NULL */
    route_t *route;            /* of the request being parsed */
    ember_http_req_t *req;     /* handed to a module, not yet answered */
    spool_t *spool;            /* its body, going to a file */
    fileout_t *fileout;        /* an answer coming from a file */
    ws_in_t *ws;               /* a WebSocket's frame or fragmented
                                  message partly read, else NULL */
    conn_t *prev, *next;
};

/* ---- server.c: the connection ---- */

int ember__http_write(conn_t *c, const char *data, size_t len);
/* Status line and headers of an answer whose body of content_length
 * bytes follows (none for HEAD, 204 and 304). */
int ember__http_write_head(conn_t *c, int status, const char *const *headers,
                           const char *const *extra, size_t content_length);
const char *ember__http_ip(const conn_t *c);
/* A module holds the request, or the connection became a stream: no
 * request timeout runs. */
void ember__http_handed_over(conn_t *c);
void ember__http_conn_close(conn_t *c);
/* Parse and dispatch what has arrived, unless a request is out. */
void ember__http_process(conn_t *c);
void ember__http_date(time_t t, char *out, size_t len);
const char *ember__http_reason(int status);
/* Write a whole answer; the body is left out for HEAD, 204 and 304. */
int ember__http_write_answer(conn_t *c, int status,
                             const char *const *headers,
                             const char *const *extra, const char *body,
                             size_t len);
/* A request is over: the next one, or the end of the connection. */
void ember__http_answer_done(conn_t *c);
/* Module m's routes are going: no parsed request keeps pointing there. */
void ember__http_forget_routes(ember_module_t *m);

/* ---- route.c: routes, gates, set headers, dispatch ---- */

/* The route for method and path on set, or NULL with *status 404 or
 * 405; the values of its path parameters go to params. */
route_t *ember__http_route_match(const char *set, const char *method,
                                 const char *path, int *status,
                                 ember_buf_t *params);
/* Run rt for r: its table's auth hook (unless the route is public), then
 * its handler.  0 when r was answered or is held, else a negative
 * EMBER_E* for the core to answer. */
int ember__http_route_call(const route_t *rt, ember_http_req_t *r);
/* Hand a complete request to the gate and its route. */
void ember__http_dispatch(conn_t *c);
/* An answer of the core itself: text body naming the status. */
void ember__http_answer_error(conn_t *c, int status, int close);
int ember__http_headers_valid(const char *const *h);
/* The set's own headers that the answer does not name itself. */
void ember__http_add_set_headers(ember_buf_t *b, const char *set,
                                 const char *const *headers,
                                 const char *const *extra);

/* ---- request.c: the handle a module holds ---- */

ember_http_req_t *ember__http_req_start(conn_t *c, ember_module_t *m);
void ember__http_req_free(ember_http_req_t *r);
/* Take the request from its connection (still open). */
conn_t *ember__http_req_detach(ember_http_req_t *r);
/* Module m goes: its pending requests get 503, its streams close. */
void ember__http_req_module_gone(ember_module_t *m);
void ember__http_req_free_all(void);

/* ---- body.c: bodies to and from files ---- */

/* After the parser ran on a streamed body with result rc. */
void ember__http_spool_fed(conn_t *c, int rc);
/* The parser must not run: the body ended, failed, or the disk is behind. */
int ember__http_spool_waits(const conn_t *c);
/* Read from the socket only while the disk keeps up. */
void ember__http_spool_throttle(conn_t *c);
size_t ember__http_spool_held(const conn_t *c);
/* The connection or the module goes: nobody is told any more. */
void ember__http_spool_drop(conn_t *c);
void ember__http_fileout_drained(conn_t *c);
void ember__http_fileout_drop(conn_t *c);

/* ---- stream.c ---- */

/* RFC 6455 section 4.2.1: what the opening handshake must carry. */
int ember__http_ws_handshake_ok(const ember_http_msg_t *msg);
/* Read frames from c->inbuf (all of it), answer them, close when the
 * stream ends. */
int ember__http_ws_feed(conn_t *c);
/* Send a close frame with this code (the caller ends the connection). */
void ember__http_ws_end(conn_t *c, uint16_t code);
void ember__http_ws_free(conn_t *c);

#endif
