/* core/net/dns.c -- c-ares driven by the libuv loop: one channel, a poll
 * handle per socket c-ares opens, one timer for its retransmissions. */
#include <ares.h>
#include <arpa/nameser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <ember/plugin.h>

#include "base/log.h"
#include "base/process.h"
#include "net/dns.h"

#define MAX_SRV 32
#define MAX_ADDRS 16

struct ember_dns_req_s {
    uv_timer_t defer;      /* delivers answers c-ares gave at once */
    ember_dns_srv_cb srv_cb;
    ember_dns_addr_cb addr_cb;
    void *ud;
    int cancelled;
    int starting;          /* inside ember__dns_*: deliver later */
    int status;
    ember_dns_srv_t *srv;
    struct sockaddr_storage addrs[MAX_ADDRS];
    size_t n;
};

typedef struct dns_sock_s {
    uv_poll_t poll;
    ares_socket_t fd;
    struct dns_sock_s *next;
} dns_sock_t;

static ares_channel channel;
static int channel_on;
static uv_timer_t timer;
static dns_sock_t *socks;


static void arm_timer(void);


static void
timer_cb(uv_timer_t *t)
{
    ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    arm_timer();
}


static void
arm_timer(void)
{
    struct timeval tv, *next;

    next = ares_timeout(channel, NULL, &tv);
    if (next == NULL) {
        uv_timer_stop(&timer);
        return;
    }
    uv_timer_start(&timer, timer_cb,
                   (uint64_t) next->tv_sec * 1000 +
                       (uint64_t) (next->tv_usec + 999) / 1000,
                   0);
}


static void
poll_cb(uv_poll_t *p, int status, int events)
{
    dns_sock_t *s = p->data;
    ares_socket_t r = ARES_SOCKET_BAD, w = ARES_SOCKET_BAD;

    /* An error on the socket: let c-ares read it and find out. */
    if (status < 0 || (events & UV_READABLE))
        r = s->fd;
    if (events & UV_WRITABLE)
        w = s->fd;
    ares_process_fd(channel, r, w);
    arm_timer();
}


static void
sock_closed(uv_handle_t *h)
{
    free(h->data);
}


static void
sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
    dns_sock_t *s, **pp;
    int events = (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0);

    for (pp = &socks; (s = *pp) != NULL; pp = &s->next)
        if (s->fd == fd)
            break;
    if (events == 0) {
        if (s != NULL) {
            *pp = s->next;
            uv_poll_stop(&s->poll);
            uv_close((uv_handle_t *) &s->poll, sock_closed);
        }
        return;
    }
    if (s == NULL) {
        if ((s = calloc(1, sizeof(*s))) == NULL)
            return;
        if (uv_poll_init_socket(ember__loop(), &s->poll, fd) < 0) {
            free(s);
            return;
        }
        s->fd = fd;
        s->poll.data = s;
        s->next = socks;
        socks = s;
    }
    uv_poll_start(&s->poll, events, poll_cb);
}


int
ember__dns_init(const char *servers, char *err, size_t errlen)
{
    struct ares_options opts;
    int rc;

    if (channel_on)
        return 0;
    if ((rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
        snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
        return EMBER_EIO;
    }
    memset(&opts, 0, sizeof(opts));
    opts.sock_state_cb = sock_state_cb;
    opts.timeout = 3000;
    opts.tries = 2;
    rc = ares_init_options(&channel, &opts,
                           ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS |
                               ARES_OPT_TRIES);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
        ares_library_cleanup();
        return EMBER_EIO;
    }
    if (servers != NULL &&
        (rc = ares_set_servers_ports_csv(channel, servers)) != ARES_SUCCESS) {
        snprintf(err, errlen, "s2s: resolver '%s': %s", servers,
                 ares_strerror(rc));
        ares_destroy(channel);
        ares_library_cleanup();
        return EMBER_EINVAL;
    }
    uv_timer_init(ember__loop(), &timer);
    uv_unref((uv_handle_t *) &timer);
    channel_on = 1;
    return 0;
}


void
ember__dns_cleanup(void)
{
    dns_sock_t *s;

    if (!channel_on)
        return;
    /* Every callback runs now with ARES_EDESTRUCTION and frees its
     * request; the sockets' state callbacks remove the polls. */
    ares_destroy(channel);
    while ((s = socks) != NULL) {
        socks = s->next;
        uv_poll_stop(&s->poll);
        uv_close((uv_handle_t *) &s->poll, sock_closed);
    }
    uv_timer_stop(&timer);
    uv_close((uv_handle_t *) &timer, NULL);
    ares_library_cleanup();
    channel_on = 0;
}


static int
status_of(int ares_status)
{
    switch (ares_status) {
    case ARES_SUCCESS:
    case ARES_ENODATA:
        return 0;
    case ARES_ENOTFOUND:
        return EMBER_ENOENT;
    case ARES_ENOMEM:
        return EMBER_ENOMEM;
    default:
        return EMBER_EIO;
    }
}


static void
req_closed(uv_handle_t *h)
{
    ember_dns_req_t *req = h->data;

    free(req->srv);
    free(req);
}


static void
deliver(ember_dns_req_t *req)
{
    if (!req->cancelled && req->srv_cb != NULL)
        req->srv_cb(req->ud, req->status, req->srv, req->n);
    else if (!req->cancelled)
        req->addr_cb(req->ud, req->status, req->addrs, req->n);
    uv_close((uv_handle_t *) &req->defer, req_closed);
}


static void
deferred(uv_timer_t *t)
{
    deliver(t->data);
}


/* The answer is in req: hand it over now, or from the loop when c-ares
 * answered before the query call returned. */
static void
req_done(ember_dns_req_t *req)
{
    if (req->starting)
        uv_timer_start(&req->defer, deferred, 0, 0);
    else
        deliver(req);
}


static ember_dns_req_t *
req_new(ember_dns_srv_cb srv_cb, ember_dns_addr_cb addr_cb, void *ud)
{
    ember_dns_req_t *req = calloc(1, sizeof(*req));

    if (req == NULL)
        return NULL;
    uv_timer_init(ember__loop(), &req->defer);
    req->defer.data = req;
    req->srv_cb = srv_cb;
    req->addr_cb = addr_cb;
    req->ud = ud;
    req->starting = 1;
    return req;
}


static ember_dns_req_t *
req_started(ember_dns_req_t *req)
{
    req->starting = 0;
    arm_timer();
    return req;
}


static int
srv_order(const void *a, const void *b)
{
    const ember_dns_srv_t *x = a, *y = b;

    if (x->priority != y->priority)
        return x->priority - y->priority;
    return y->weight - x->weight;
}


static void
srv_done(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    ember_dns_req_t *req = arg;
    struct ares_srv_reply *reply = NULL, *r;

    if (status == ARES_EDESTRUCTION) {
        req->cancelled = 1;
        uv_close((uv_handle_t *) &req->defer, req_closed);
        return;
    }
    req->status = status_of(status);
    if (status == ARES_SUCCESS &&
        (status = ares_parse_srv_reply(abuf, alen, &reply)) != ARES_SUCCESS)
        req->status = status_of(status);
    if (reply != NULL &&
        (req->srv = calloc(MAX_SRV, sizeof(*req->srv))) == NULL)
        req->status = EMBER_ENOMEM;
    for (r = reply; req->srv != NULL && r != NULL && req->n < MAX_SRV;
         r = r->next) {
        ember_dns_srv_t *o = &req->srv[req->n++];

        snprintf(o->target, sizeof(o->target), "%s", r->host);
        o->port = r->port;
        o->priority = r->priority;
        o->weight = r->weight;
    }
    if (req->n > 1)
        qsort(req->srv, req->n, sizeof(*req->srv), srv_order);
    if (reply != NULL)
        ares_free_data(reply);
    req_done(req);
}


ember_dns_req_t *
ember__dns_srv(const char *name, ember_dns_srv_cb cb, void *ud)
{
    ember_dns_req_t *req;

    if ((req = req_new(cb, NULL, ud)) == NULL)
        return NULL;
    if (!channel_on) {
        req->status = EMBER_ESTATE;
        req_done(req);
        return req_started(req);
    }
    ares_query(channel, name, ns_c_in, ns_t_srv, srv_done, req);
    return req_started(req);
}


static void
addr_done(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    ember_dns_req_t *req = arg;
    struct ares_addrinfo_node *a;

    if (status == ARES_EDESTRUCTION) {
        req->cancelled = 1;
        uv_close((uv_handle_t *) &req->defer, req_closed);
        return;
    }
    req->status = status_of(status);
    for (a = res != NULL ? res->nodes : NULL; a != NULL && req->n < MAX_ADDRS;
         a = a->ai_next)
        if (a->ai_addrlen <= sizeof(req->addrs[0]))
            memcpy(&req->addrs[req->n++], a->ai_addr, a->ai_addrlen);
    if (res != NULL)
        ares_freeaddrinfo(res);
    req_done(req);
}


ember_dns_req_t *
ember__dns_addr(const char *host, int port, ember_dns_addr_cb cb, void *ud)
{
    struct ares_addrinfo_hints hints;
    ember_dns_req_t *req;
    char service[8];

    if ((req = req_new(NULL, cb, ud)) == NULL)
        return NULL;
    if (!channel_on) {
        req->status = EMBER_ESTATE;
        req_done(req);
        return req_started(req);
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = ARES_AI_NUMERICSERV;
    snprintf(service, sizeof(service), "%d", port);
    ares_getaddrinfo(channel, host, service, &hints, addr_done, req);
    return req_started(req);
}


void
ember__dns_cancel(ember_dns_req_t *req)
{
    if (req != NULL)
        req->cancelled = 1;
}
