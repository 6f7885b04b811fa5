/* core/net/dns.c -- c-ares driven by the libuv loop: one channel, a poll
 * handle per socket c-ares opens, one timer for its retransmissions.
 * With a trust anchor, libunbound instead: it resolves and validates in
 * a thread of its own and signals answers on a pipe the loop polls;
 * c-ares still parses the answers it hands over. */
#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unbound.h>
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
    ember_dns_tlsa_cb tlsa_cb;
    void *ud;
    int cancelled;
    int starting;          /* inside ember__dns_*: deliver later */
    int status;
    ember_dns_sec_t sec;
    ember_dns_srv_t *srv;
    struct sockaddr_storage addrs[MAX_ADDRS];
    size_t n;
    int port;
    int ub_ids[2];         /* libunbound's queries still out, or 0 */
    int ub_answers;
    int sec_answers;       /* of them, those that say how secure */
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
static struct ub_ctx *ub;
static uv_poll_t ub_watch;


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

    if (!channel_on)
        return;
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


static void
ub_poll_cb(uv_poll_t *p, int status, int events)
{
    ub_process(ub);
}


/* "ip[:port],..." (c-ares' form) as libunbound forwarders "ip@port". */
static int
ub_forwarders(const char *servers, char *err, size_t errlen)
{
    char *list = strdup(servers), *item, *save = NULL;
    int rc = 0;

    if (list == NULL)
        return EMBER_ENOMEM;
    for (item = strtok_r(list, ",", &save); item != NULL && rc == 0;
         item = strtok_r(NULL, ",", &save)) {
        char addr[INET6_ADDRSTRLEN + 8], *colon = strrchr(item, ':');
        const char *host = item, *port = NULL;

        while (*host == ' ')
            host++;
        if (*host == '[' && (colon = strstr(host, "]:")) != NULL) {
            *colon = '\0';
            host++;
            port = colon + 2;
        } else if (*host == '[') {
            host++;
            item[strcspn(item, "]")] = '\0';
        } else if (colon != NULL && strchr(host, ':') == colon) {
            *colon = '\0';
            port = colon + 1;
        }
        snprintf(addr, sizeof(addr), "%s%s%s", host, port ? "@" : "",
                 port ? port : "");
        if ((rc = ub_ctx_set_fwd(ub, addr)) != 0) {
            snprintf(err, errlen, "s2s: resolver '%s': %s", servers,
                     ub_strerror(rc));
            rc = EMBER_EINVAL;
        }
    }
    free(list);
    return rc;
}


static int
ub_init(const char *servers, const char *trust_anchor, char *err,
        size_t errlen)
{
    FILE *f;
    int rc;

    if ((ub = ub_ctx_create()) == NULL) {
        snprintf(err, errlen, "libunbound: out of memory");
        return EMBER_ENOMEM;
    }
    /* A thread, not the forked process libunbound defaults to. */
    if ((rc = ub_ctx_async(ub, 1)) != 0 ||
        (rc = ub_ctx_set_option(ub, "edns-buffer-size:", "1232")) != 0) {
        snprintf(err, errlen, "libunbound: %s", ub_strerror(rc));
        goto fail;
    }
    /* libunbound reads the file at its first query only. */
    if ((f = fopen(trust_anchor, "r")) == NULL) {
        snprintf(err, errlen, "s2s: trust-anchor '%s': %s", trust_anchor,
                 strerror(errno));
        rc = EMBER_EINVAL;
        goto fail_quiet;
    }
    fclose(f);
    if ((rc = ub_ctx_add_ta_file(ub, trust_anchor)) != 0) {
        snprintf(err, errlen, "s2s: trust-anchor '%s': %s", trust_anchor,
                 ub_strerror(rc));
        rc = EMBER_EINVAL;
        goto fail_quiet;
    }
    if (servers != NULL &&
        (rc = ub_forwarders(servers, err, errlen)) < 0)
        goto fail_quiet;
    uv_poll_init(ember__loop(), &ub_watch, ub_fd(ub));
    uv_poll_start(&ub_watch, UV_READABLE, ub_poll_cb);
    uv_unref((uv_handle_t *) &ub_watch);
    return 0;
fail:
    rc = EMBER_EIO;
fail_quiet:
    ub_ctx_delete(ub);
    ub = NULL;
    return rc;
}


int
ember__dns_validating(void)
{
    return ub != NULL;
}


int
ember__dns_init(const char *servers, const char *trust_anchor, char *err,
                size_t errlen)
{
    struct ares_options opts;
    int rc;

    if (channel_on || ub != NULL)
        return 0;
    if (trust_anchor != NULL)
        return ub_init(servers, trust_anchor, err, errlen);
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

    if (ub != NULL) {
        uv_poll_stop(&ub_watch);
        uv_close((uv_handle_t *) &ub_watch, NULL);
        ub_ctx_delete(ub);
        ub = NULL;
    }
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
        req->srv_cb(req->ud, req->status, req->sec, req->srv, req->n);
    else if (!req->cancelled && req->addr_cb != NULL)
        req->addr_cb(req->ud, req->status, req->sec, req->addrs, req->n);
    else if (!req->cancelled)
        req->tlsa_cb(req->ud, req->status, req->sec, NULL, NULL, 0);
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


/* The records of an answer packet into req (c-ares or libunbound's). */
static void
srv_parse(ember_dns_req_t *req, const unsigned char *abuf, int alen)
{
    struct ares_srv_reply *reply = NULL, *r;
    int status;

    if ((status = ares_parse_srv_reply(abuf, alen, &reply)) != ARES_SUCCESS)
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
}


static void
srv_done(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    ember_dns_req_t *req = arg;

    if (status == ARES_EDESTRUCTION) {
        req->cancelled = 1;
        uv_close((uv_handle_t *) &req->defer, req_closed);
        return;
    }
    req->status = status_of(status);
    if (status == ARES_SUCCESS)
        srv_parse(req, abuf, alen);
    req_done(req);
}


/* ---- libunbound ---- */

static ember_dns_sec_t
sec_of(const struct ub_result *r)
{
    if (r->bogus)
        return EMBER_DNS_BOGUS;
    return r->secure ? EMBER_DNS_SECURE : EMBER_DNS_INSECURE;
}


static void
addrs_parse(ember_dns_req_t *req, const struct ub_result *r)
{
    struct ares_addrttl v4[MAX_ADDRS];
    struct ares_addr6ttl v6[MAX_ADDRS];
    int i, n = MAX_ADDRS;

    if (r->qtype == ns_t_a &&
        ares_parse_a_reply(r->answer_packet, r->answer_len, NULL, v4, &n) ==
            ARES_SUCCESS)
        for (i = 0; i < n && req->n < MAX_ADDRS; i++) {
            struct sockaddr_in *sin = (void *) &req->addrs[req->n++];

            sin->sin_family = AF_INET;
            sin->sin_port = htons((uint16_t) req->port);
            sin->sin_addr = v4[i].ipaddr;
        }
    if (r->qtype == ns_t_aaaa &&
        ares_parse_aaaa_reply(r->answer_packet, r->answer_len, NULL, v6,
                              &n) == ARES_SUCCESS)
        for (i = 0; i < n && req->n < MAX_ADDRS; i++) {
            struct sockaddr_in6 *sin6 = (void *) &req->addrs[req->n++];

            sin6->sin6_family = AF_INET6;
            sin6->sin6_port = htons((uint16_t) req->port);
            memcpy(&sin6->sin6_addr, &v6[i].ip6addr, sizeof(v6[i].ip6addr));
        }
}


static void
ub_answer(ember_dns_req_t *req, int slot, int err, struct ub_result *r)
{
    ember_dns_sec_t sec = r != NULL ? sec_of(r) : EMBER_DNS_INSECURE;
    int status = 0;

    req->ub_ids[slot] = 0;
    if (err != 0 || r == NULL)
        status = EMBER_EIO;
    else if (sec == EMBER_DNS_BOGUS)
        ember__log(EMBER_LOG_INFO, "dns", "%s: bogus answer (%s)", r->qname,
                   r->why_bogus != NULL ? r->why_bogus : "?");
    else if (r->nxdomain)
        status = EMBER_ENOENT;
    else if (r->rcode != 0)
        status = EMBER_EIO;
    /* Both address answers: secure only when both are.  One that failed
     * (no answer, a server error) says nothing either way, so that losing
     * it cannot turn the other's secure answer insecure. */
    if (sec == EMBER_DNS_BOGUS || status == 0 || status == EMBER_ENOENT) {
        if (req->sec_answers++ == 0)
            req->sec = sec;
        else if (sec == EMBER_DNS_BOGUS || req->sec == EMBER_DNS_BOGUS)
            req->sec = EMBER_DNS_BOGUS;
        else if (sec != EMBER_DNS_SECURE)
            req->sec = EMBER_DNS_INSECURE;
    }
    if (req->ub_answers++ == 0 || status == 0)
        req->status = status;
    if (status == 0 && sec != EMBER_DNS_BOGUS && r->havedata) {
        if (req->srv_cb != NULL)
            srv_parse(req, r->answer_packet, r->answer_len);
        else if (req->addr_cb != NULL)
            addrs_parse(req, r);
    }
    if (req->tlsa_cb != NULL) {
        size_t n = 0;

        while (status == 0 && sec != EMBER_DNS_BOGUS && r->data[n] != NULL)
            n++;
        req->tlsa_cb(req->ud, status, sec, n ? r->data : NULL,
                     n ? r->len : NULL, n);
        req->cancelled = 1;
    }
    if (r != NULL)
        ub_resolve_free(r);
    if (req->ub_ids[0] == 0 && req->ub_ids[1] == 0)
        deliver(req);
}


/* libunbound's callback names no query: one per slot of req->ub_ids. */
static void
ub_answer0(void *arg, int err, struct ub_result *r)
{
    ub_answer(arg, 0, err, r);
}


static void
ub_answer1(void *arg, int err, struct ub_result *r)
{
    ub_answer(arg, 1, err, r);
}


/* Ask libunbound for name's records of type, and of type2 too unless it
 * is 0.  Its answers come from ub_process, on the loop, later. */
static ember_dns_req_t *
ub_start(ember_dns_req_t *req, const char *name, int type, int type2)
{
    int rc = ub_resolve_async(ub, name, type, ns_c_in, req, ub_answer0,
                              &req->ub_ids[0]);

    if (rc == 0 && type2 != 0 &&
        (rc = ub_resolve_async(ub, name, type2, ns_c_in, req, ub_answer1,
                               &req->ub_ids[1])) != 0 &&
        req->ub_ids[0] != 0) {
        /* The second could not start; the first still answers. */
        req->ub_answers = 1;
        req->status = EMBER_EIO;
        rc = 0;
    }
    if (rc != 0) {
        ember__log(EMBER_LOG_WARN, "dns", "%s: %s", name, ub_strerror(rc));
        req->ub_ids[0] = req->ub_ids[1] = 0;
        req->status = EMBER_EIO;
        req_done(req);
    }
    return req_started(req);
}


ember_dns_req_t *
ember__dns_srv(const char *name, ember_dns_srv_cb cb, void *ud)
{
    ember_dns_req_t *req;

    if ((req = req_new(cb, NULL, ud)) == NULL)
        return NULL;
    if (ub != NULL)
        return ub_start(req, name, ns_t_srv, 0);
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
    if (ub != NULL) {
        req->port = port;
        return ub_start(req, host, ns_t_a, ns_t_aaaa);
    }
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


ember_dns_req_t *
ember__dns_tlsa(const char *name, ember_dns_tlsa_cb cb, void *ud)
{
    ember_dns_req_t *req;

    if ((req = req_new(NULL, NULL, ud)) == NULL)
        return NULL;
    req->tlsa_cb = cb;
    if (ub != NULL)
        return ub_start(req, name, ns_t_tlsa, 0);
    req->status = EMBER_ESTATE;
    req_done(req);
    return req_started(req);
}


void
ember__dns_cancel(ember_dns_req_t *req)
{
    int i, pending = 0;

    if (req == NULL)
        return;
    req->cancelled = 1;
    for (i = 0; i < 2; i++)
        if (req->ub_ids[i] != 0) {
            ub_cancel(ub, req->ub_ids[i]);
            req->ub_ids[i] = 0;
            pending = 1;
        }
    /* libunbound will not call back: nothing else frees it. */
    if (pending)
        uv_close((uv_handle_t *) &req->defer, req_closed);
}
