/* core/http/request.c -- the request handle a module holds: reading the
 * request, answering it, learning that its client left. */
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"
#include "net/conn.h"

static ember_http_req_t *reqs;     /* every request a module holds */


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


void
ember__http_req_free(ember_http_req_t *r)
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
    free(r->principal);
    free(r);
}


conn_t *
ember__http_req_detach(ember_http_req_t *r)
{
    conn_t *c = r->c;

    if (c != NULL && c->req == r)
        c->req = NULL;
    r->c = NULL;
    return c;
}


ember_http_req_t *
ember__http_req_start(conn_t *c, ember_module_t *m)
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
    return req != NULL && req->c != NULL ? ember__http_ip(req->c) : NULL;
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


const char *
ember__http_param(ember_http_req_t *req, const char *name)
{
    ember_http_msg_t *msg = req_msg(req);
    const char *p, *end, *value;

    if (msg == NULL || name == NULL)
        return NULL;
    p = msg->params.data;
    end = p + msg->params.len;
    while (p != NULL && p < end) {
        value = p + strlen(p) + 1;
        if (strcmp(p, name) == 0)
            return value;
        p = value + strlen(value) + 1;
    }
    return NULL;
}


int
ember__http_set_principal(ember_http_req_t *req, const char *principal)
{
    char *copy;

    if (req == NULL || principal == NULL)
        return EMBER_EINVAL;
    if (req->kind != RQ_PENDING)
        return EMBER_ESTATE;
    if ((copy = strdup(principal)) == NULL)
        return EMBER_ENOMEM;
    free(req->principal);
    req->principal = copy;
    return 0;
}


const char *
ember__http_principal(ember_http_req_t *req)
{
    return req != NULL ? req->principal : NULL;
}


const void *
ember__http_route_data(ember_http_req_t *req)
{
    return req != NULL ? req->data : NULL;
}


/* ---- the api: answers ---- */

int
ember__http_respond(ember_http_req_t *req, int status,
                    const char *const *headers, const char *body, size_t len)
{
    conn_t *c;

    if (req == NULL || status < 200 || status > 599 ||
        (body == NULL && len > 0) || !ember__http_headers_valid(headers))
        return EMBER_EINVAL;
    if (req->kind != RQ_PENDING)
        return EMBER_ESTATE;
    c = ember__http_req_detach(req);
    ember__http_req_free(req);
    if (c == NULL || c->closing)
        return EMBER_ECANCELED;
    ember__http_write_answer(c, status, headers, NULL, body, len);
    ember__http_answer_done(c);
    return 0;
}



void
ember__http_req_module_gone(ember_module_t *m)
{
    ember_http_req_t *q, *n;
    conn_t *c;

    for (q = reqs; q != NULL; q = n) {
        n = q->next;
        if (q->m != m)
            continue;
        c = ember__http_req_detach(q);
        ember__http_req_free(q);
        if (c == NULL || c->closing)
            continue;
        if (c->spool != NULL) {
            ember__http_spool_drop(c);
            ember__http_answer_error(c, 503, 1);
        } else if (c->mode == M_HTTP)
            ember__http_answer_error(c, 503, 0);
        else
            ember__http_conn_close(c);
    }
}


void
ember__http_req_free_all(void)
{
    while (reqs != NULL) {
        ember__http_req_detach(reqs);
        ember__http_req_free(reqs);
    }
}
