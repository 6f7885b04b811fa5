/* core/net/conn.c -- accepted TCP connections under every protocol. */
#include <stdio.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/hmap.h"
#include "base/log.h"
#include "base/process.h"
#include "net/conn.h"

/* A peer that reads slower than this much queued output is dropped,
 * unless its protocol sets another limit. */
#define DEFAULT_MAX_BACKLOG (4u << 20)
#define SWEEP_MS 250
/* A close waits this long for queued output to drain, then drops it: a
 * peer that stopped reading must not hold its connection forever. */
#define CLOSE_GRACE_MS 5000
/* Small writes of one loop turn go out together, in one system call
 * (and one TLS record's worth of TCP segments), just before the loop
 * waits; a stanza and the <r/> after it, or a room's fan-out to one
 * occupant, cost one write instead of several.  Larger output is not
 * held back. */
#define CORK_MAX (64u << 10)
/* New connections an address may open in a burst: twice its rate. */
#define CONNECT_BURST_FACTOR 2
/* How often addresses that connect no more are forgotten. */
#define CONNECT_PRUNE_MS 10000

struct ember_conn_s {
    uv_tcp_t tcp;
    ember_tls_t *tls;
    const ember_conn_events_t *ev;
    void *owner;
    ember_conn_pool_t pool;
    unsigned counted : 1;
    unsigned closing : 1;
    unsigned reading : 1;
    unsigned shaped_out : 1; /* reading paused until the bucket refills */
    unsigned held_back : 1;  /* reading paused by the owner */
    unsigned direct_tls : 1; /* outbound: TLS from the first byte */
    size_t drain_below;      /* tell the owner when output falls under
                                this many bytes; 0: not asked */
    size_t max_backlog;
    /* Token bucket of bytes the peer may send: rate per second, up to
     * burst; `tokens` as of `refilled` (ms).  rate 0: not shaped. */
    uint64_t rate, burst, refilled;
    double tokens;
    uint64_t last_active, idle_ms, deadline;
    size_t held;             /* input bytes its owner buffers (conn_hold) */
    ember_tls_opts_t tls_opts;
    char *server_name;
    char ip[48];
    struct ember_conn_s *prev, *next;
    ember_buf_t corked;      /* written this turn, not yet sent */
    struct ember_conn_s *corked_prev, *corked_next; /* in `corked` list */
    unsigned corked_listed : 1;
};

typedef struct ip_count_s {
    size_t n;
    size_t held;             /* sum of its connections' held bytes */
    char ip[48];
} ip_count_t;

/* New connections per address: a token bucket, like the shaper. */
typedef struct connect_rate_s {
    double tokens;
    uint64_t refilled;
    char ip[48];
} connect_rate_t;

typedef struct write_req_s {
    uv_write_t req;
    char data[];
} write_req_t;

static const ember_conn_events_t no_events;
static ember_conn_t *conns;
static size_t pool_count[EMBER_CONN_POOL_COUNT];
static ember_hmap_t per_ip[EMBER_CONN_POOL_COUNT];
static size_t pool_held[EMBER_CONN_POOL_COUNT];
static ember_hmap_t connect_rates;
static uint64_t connect_pruned;
static uv_timer_t sweep_timer;
static int sweep_on;
static char read_buf[65536];
static uv_prepare_t uncork_handle;
static ember_conn_t *corked;  /* connections with corked output */


/* The peer went away or cannot keep up: drop = 1 discards what is still
 * queued for it (nobody will read it). */
static void
conn_fail(ember_conn_t *c, int drop)
{
    if (c->closing)
        return;
    if (c->ev->hangup != NULL)
        c->ev->hangup(c->owner);
    if (drop)
        ember__conn_abort(c);
    else
        ember__conn_close(c);
}


/* ---- output ---- */

static void
write_done(uv_write_t *req, int status)
{
    ember_conn_t *c = req->handle->data;
    uv_stream_t *st = req->handle;

    free(req);
    if (status == 0 && c->drain_below != 0 && !c->closing &&
        uv_stream_get_write_queue_size(st) < c->drain_below) {
        c->drain_below = 0;
        if (c->ev->drained != NULL)
            c->ev->drained(c->owner);
    }
}


static int uncork(ember_conn_t *c);


int
ember__conn_when_drained(ember_conn_t *c, size_t below)
{
    int rc;

    if (c->closing)
        return EMBER_ESTATE;
    if ((rc = uncork(c)) < 0)
        return rc;
    if (uv_stream_get_write_queue_size((uv_stream_t *) &c->tcp) < below)
        return 1;
    c->drain_below = below;
    return 0;
}


static int
send_now(ember_conn_t *c, const char *data, size_t len)
{
    uv_stream_t *st = (uv_stream_t *) &c->tcp;
    uv_buf_t buf;
    write_req_t *w;
    int n = 0;

    if (uv_is_closing((uv_handle_t *) &c->tcp))
        return EMBER_ESTATE;
    if (uv_stream_get_write_queue_size(st) == 0) {
        buf = uv_buf_init((char *) data, (unsigned) len);
        n = uv_try_write(st, &buf, 1);
        if (n == (int) len)
            return 0;
        if (n < 0 && n != UV_EAGAIN)
            return EMBER_EIO;
        if (n < 0)
            n = 0;
    }
    if (uv_stream_get_write_queue_size(st) + len > c->max_backlog) {
        ember__log(EMBER_LOG_INFO, "net", "%s: write backlog over %zu "
                   "bytes, closing", c->ip, c->max_backlog);
        conn_fail(c, 1);
        return EMBER_ELIMIT;
    }
    if ((w = malloc(sizeof(*w) + len - (size_t) n)) == NULL)
        return EMBER_ENOMEM;
    memcpy(w->data, data + n, len - (size_t) n);
    buf = uv_buf_init(w->data, (unsigned) (len - (size_t) n));
    if (uv_write(&w->req, st, &buf, 1, write_done) < 0) {
        free(w);
        return EMBER_EIO;
    }
    return 0;
}


static void
unlist_corked(ember_conn_t *c)
{
    if (!c->corked_listed)
        return;
    c->corked_listed = 0;
    if (c->corked_prev != NULL)
        c->corked_prev->corked_next = c->corked_next;
    else
        corked = c->corked_next;
    if (c->corked_next != NULL)
        c->corked_next->corked_prev = c->corked_prev;
    c->corked_prev = c->corked_next = NULL;
}


/* Send what this turn corked. */
static int
uncork(ember_conn_t *c)
{
    size_t n = c->corked.len;
    int rc;

    unlist_corked(c);
    if (n == 0)
        return 0;
    /* An abort inside send_now (backlog over the limit) must not send
     * the same bytes again. */
    c->corked.len = 0;
    rc = send_now(c, c->corked.data, n);
    ember__buf_reset(&c->corked);
    return rc;
}


/* Before the loop waits.  A failed write drops the peer, as it always
 * did, only now from outside its owner's call. */
static void
uncork_all(uv_prepare_t *h)
{
    ember_conn_t *c;

    while ((c = corked) != NULL)
        if (uncork(c) == EMBER_EIO)
            conn_fail(c, 1);
    uv_prepare_stop(h);
}


static int
sock_write(ember_conn_t *c, const char *data, size_t len)
{
    int rc;

    if (uv_is_closing((uv_handle_t *) &c->tcp))
        return EMBER_ESTATE;
    if (!sweep_on || c->corked.len + len > CORK_MAX) {
        if ((rc = uncork(c)) < 0)
            return rc;
        return send_now(c, data, len);
    }
    if (ember__buf_append(&c->corked, data, len) < 0)
        return EMBER_ENOMEM;
    if (!c->corked_listed) {
        c->corked_listed = 1;
        c->corked_prev = NULL;
        c->corked_next = corked;
        if (corked != NULL)
            corked->corked_prev = c;
        else
            uv_prepare_start(&uncork_handle, uncork_all);
        corked = c;
    }
    return 0;
}


int
ember__conn_write(ember_conn_t *c, const char *data, size_t len)
{
    if (c->tls != NULL && ember__tls_ready(c->tls))
        return ember__tls_send(c->tls, data, len);
    return sock_write(c, data, len);
}


/* ---- TLS ---- */

static int
tls_write(void *ud, const char *data, size_t len)
{
    return sock_write(ud, data, len);
}


static void
tls_read(void *ud, const char *data, size_t len)
{
    ember_conn_t *c = ud;

    if (!c->closing)
        c->ev->data(c->owner, data, len);
}


static void
tls_ready(void *ud)
{
    ember_conn_t *c = ud;

    ember__log(EMBER_LOG_DEBUG, "net", "%s: %s established", c->ip,
               ember__tls_version(c->tls));
    if (c->ev->secure != NULL)
        c->ev->secure(c->owner);
}


static const ember_tls_io_t tls_io = { tls_write, tls_read, tls_ready };


int
ember__conn_start_tls(ember_conn_t *c)
{
    if (c->tls != NULL)
        return EMBER_ESTATE;
    if ((c->tls = ember__tls_new(&tls_io, c, &c->tls_opts)) == NULL)
        return EMBER_ENOMEM;
    /* A client speaks first: the ClientHello goes out now. */
    if (c->server_name != NULL && ember__tls_feed(c->tls, "", 0) < 0)
        return EMBER_EIO;
    return 0;
}


/* ---- closing ---- */

static void
uncount(ember_conn_t *c)
{
    ip_count_t *n;

    if (!c->counted)
        return;
    c->counted = 0;
    pool_held[c->pool] -= c->held;
    n = ember__hmap_get(&per_ip[c->pool], c->ip);
    if (n != NULL)
        n->held -= c->held;
    c->held = 0;
    if (n != NULL && --n->n == 0) {
        ember__hmap_del(&per_ip[c->pool], c->ip);
        free(n);
    }
}


static void
closed_cb(uv_handle_t *h)
{
    ember_conn_t *c = h->data;

    uncount(c);
    unlist_corked(c);
    ember__buf_free(&c->corked);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    pool_count[c->pool]--;
    if (c->ev->closed != NULL)
        c->ev->closed(c->owner);
    ember__tls_free(c->tls);
    free(c->server_name);
    free(c);
}


static void
shutdown_done(uv_shutdown_t *req, int status)
{
    ember_conn_t *c = req->data;

    free(req);
    if (!uv_is_closing((uv_handle_t *) &c->tcp))
        uv_close((uv_handle_t *) &c->tcp, closed_cb);
}


/* Reads stop now; the socket closes once queued writes drain. */
void
ember__conn_close(ember_conn_t *c)
{
    uv_shutdown_t *req;

    if (c->closing)
        return;
    c->closing = 1;
    c->deadline = uv_now(ember__loop()) + CLOSE_GRACE_MS;
    if (c->tls != NULL && ember__tls_ready(c->tls))
        ember__tls_bye(c->tls);
    uncork(c);
    uv_read_stop((uv_stream_t *) &c->tcp);
    if (uv_is_closing((uv_handle_t *) &c->tcp))
        return;
    if ((req = malloc(sizeof(*req))) != NULL) {
        req->data = c;
        if (uv_shutdown(req, (uv_stream_t *) &c->tcp, shutdown_done) == 0)
            return;
        free(req);
    }
    uv_close((uv_handle_t *) &c->tcp, closed_cb);
}


void
ember__conn_abort(ember_conn_t *c)
{
    uv_buf_t b;

    /* What was written before the abort (a stream error) goes if the
     * socket takes it now, as it did when writes were not corked. */
    if (c->corked.len > 0 && !uv_is_closing((uv_handle_t *) &c->tcp)) {
        b = uv_buf_init(c->corked.data, (unsigned) c->corked.len);
        (void) uv_try_write((uv_stream_t *) &c->tcp, &b, 1);
    }
    unlist_corked(c);
    ember__buf_free(&c->corked);
    c->closing = 1;
    if (!uv_is_closing((uv_handle_t *) &c->tcp))
        uv_close((uv_handle_t *) &c->tcp, closed_cb);
}


int
ember__conn_closing(const ember_conn_t *c)
{
    return c->closing;
}


/* ---- input ---- */

static void refill(ember_conn_t *c, uint64_t now);


static void
alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    ember_conn_t *c = h->data;
    size_t n = sizeof(read_buf);

    /* A shaped connection reads no more than its bucket holds, so one
     * read cannot overdraw it by a whole buffer. */
    if (c->rate != 0) {
        refill(c, uv_now(ember__loop()));
        n = c->tokens < 1024 ? 1024
          : c->tokens < (double) n ? (size_t) c->tokens : n;
    }
    /* One loop thread: every read is consumed before the next. */
    *buf = uv_buf_init(read_buf, (unsigned) n);
}


static void
refill(ember_conn_t *c, uint64_t now)
{
    c->tokens += (double) (now - c->refilled) * (double) c->rate / 1000.0;
    if (c->tokens > (double) c->burst)
        c->tokens = (double) c->burst;
    c->refilled = now;
}


/* Past its rate, a connection is not read until it is back within it:
 * the kernel's buffers, then TCP flow control, hold the sender back. */
static void
shape(ember_conn_t *c, size_t n)
{
    if (c->rate == 0)
        return;
    refill(c, uv_now(ember__loop()));
    c->tokens -= (double) n;
    if (c->tokens < 0 && c->reading && !c->closing) {
        uv_read_stop((uv_stream_t *) &c->tcp);
        c->reading = 0;
        c->shaped_out = 1;
    }
}


static void start_reading(ember_conn_t *c);


static void
unshape_if_refilled(ember_conn_t *c, uint64_t now)
{
    if (!c->shaped_out)
        return;
    if (c->rate != 0) {
        refill(c, now);
        /* A quarter second's worth at least: resuming for a sliver would
         * pause again at once and waste the sweep's interval. */
        if (c->tokens < (double) (c->rate / 4 < c->burst ? c->rate / 4
                                                          : c->burst))
            return;
    }
    c->shaped_out = 0;
    start_reading(c);
}


void
ember__conn_set_rate(ember_conn_t *c, uint64_t rate, uint64_t burst)
{
    c->rate = rate;
    c->burst = burst;
    c->tokens = (double) burst;
    c->refilled = uv_now(ember__loop());
    unshape_if_refilled(c, c->refilled);
}


static void
read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    ember_conn_t *c = stream->data;

    if (nread == 0)
        return;
    if (nread < 0) {
        conn_fail(c, 0);
        return;
    }
    c->last_active = uv_now(ember__loop());
    shape(c, (size_t) nread);
    if (c->tls != NULL) {
        if (ember__tls_feed(c->tls, buf->base, (size_t) nread) < 0)
            conn_fail(c, 0);
    } else {
        c->ev->data(c->owner, buf->base, (size_t) nread);
    }
}





static void
start_reading(ember_conn_t *c)
{
    if (!c->reading && !c->closing && !c->shaped_out && !c->held_back &&
        uv_read_start((uv_stream_t *) &c->tcp, alloc_cb, read_cb) == 0)
        c->reading = 1;
}


void
ember__conn_hold_back(ember_conn_t *c, int on)
{
    if (on && !c->held_back) {
        c->held_back = 1;
        if (c->reading && !c->closing) {
            uv_read_stop((uv_stream_t *) &c->tcp);
            c->reading = 0;
        }
    } else if (!on && c->held_back) {
        c->held_back = 0;
        start_reading(c);
    }
}


/* ---- timeouts ---- */

void
ember__conn_set_idle(ember_conn_t *c, uint64_t ms)
{
    c->idle_ms = ms;
}


void
ember__conn_set_deadline(ember_conn_t *c, uint64_t ms_from_now)
{
    c->deadline = ms_from_now > 0 ? uv_now(ember__loop()) + ms_from_now : 0;
}


void
ember__conn_touch(ember_conn_t *c)
{
    c->last_active = uv_now(ember__loop());
}


uint64_t
ember__conn_idle_ms(const ember_conn_t *c)
{
    return uv_now(ember__loop()) - c->last_active;
}


static void
expire(ember_conn_t *c, ember_conn_timeout_t what)
{
    if (what == EMBER_CONN_DEADLINE)
        c->deadline = 0;
    if (c->ev->timeout != NULL)
        c->ev->timeout(c->owner, what);
    else
        ember__conn_close(c);
}


static void connect_rates_prune(uint64_t now);


static void
sweep(uv_timer_t *t)
{
    uint64_t now = uv_now(ember__loop());
    ember_conn_t *c, *n;

    if (now - connect_pruned >= CONNECT_PRUNE_MS)
        connect_rates_prune(now);
    for (c = conns; c != NULL; c = n) {
        n = c->next;
        if (c->closing) {
            if (now >= c->deadline)
                ember__conn_abort(c);
            continue;
        }
        unshape_if_refilled(c, now);
        /* An idle connection keeps no output buffer: a session's memory
         * is what it holds, not what it once sent. */
        if (c->corked.len == 0 && c->corked.data != NULL &&
            now - c->last_active > SWEEP_MS)
            ember__buf_free(&c->corked);
        if (c->deadline != 0 && now >= c->deadline)
            expire(c, EMBER_CONN_DEADLINE);
        else if (c->idle_ms != 0 && now - c->last_active > c->idle_ms)
            expire(c, EMBER_CONN_IDLE);
    }
}


/* ---- accept ---- */

static double
connect_refill(connect_rate_t *r, uint64_t now, int per_second)
{
    double cap = (double) per_second * CONNECT_BURST_FACTOR;

    r->tokens += (double) (now - r->refilled) * per_second / 1000.0;
    if (r->tokens > cap)
        r->tokens = cap;
    r->refilled = now;
    return cap;
}


/* EMBER_ELIMIT when ip opened more than per_second connections a second
 * (bursts of twice that); the record is forgotten once it refills. */
static int
count_connect(const char *ip, int per_second)
{
    uint64_t now = uv_now(ember__loop());
    connect_rate_t *r;

    if (per_second <= 0)
        return 0;
    if ((r = ember__hmap_get(&connect_rates, ip)) == NULL) {
        if ((r = calloc(1, sizeof(*r))) == NULL)
            return EMBER_ENOMEM;
        snprintf(r->ip, sizeof(r->ip), "%s", ip);
        r->tokens = (double) per_second * CONNECT_BURST_FACTOR;
        r->refilled = now;
        if (ember__hmap_put(&connect_rates, r->ip, r) < 0) {
            free(r);
            return EMBER_ENOMEM;
        }
    }
    connect_refill(r, now, per_second);
    if (r->tokens < 1)
        return EMBER_ELIMIT;
    r->tokens -= 1;
    return 0;
}


static void
connect_rates_prune(uint64_t now)
{
    const ember_config_t *cfg = ember__config();
    int per_second = cfg != NULL
                     ? cfg->limits.connections_per_second_per_ip : 0;
    connect_rate_t *r;
    size_t pos = 0;

    connect_pruned = now;
    while ((r = ember__hmap_next(&connect_rates, &pos, NULL)) != NULL)
        if (per_second <= 0
            || connect_refill(r, now, per_second) <= r->tokens) {
            ember__hmap_del(&connect_rates, r->ip);
            free(r);
        }
}


static int
count_ip(ember_conn_t *c, int max_per_ip)
{
    ip_count_t *n = ember__hmap_get(&per_ip[c->pool], c->ip);

    if (n != NULL && max_per_ip > 0 && n->n >= (size_t) max_per_ip)
        return EMBER_ELIMIT;
    if (n == NULL) {
        if ((n = calloc(1, sizeof(*n))) == NULL)
            return EMBER_ENOMEM;
        memcpy(n->ip, c->ip, sizeof(n->ip));
        if (ember__hmap_put(&per_ip[c->pool], n->ip, n) < 0) {
            free(n);
            return EMBER_ENOMEM;
        }
    }
    n->n++;
    c->counted = 1;
    return 0;
}


int
ember__conn_hold(ember_conn_t *c, size_t bytes, size_t per_ip_cap,
                 size_t pool_cap)
{
    ip_count_t *n = c->counted ? ember__hmap_get(&per_ip[c->pool], c->ip)
                               : NULL;

    if (n == NULL)
        return bytes == 0 ? 0 : EMBER_ELIMIT;
    if (bytes > c->held &&
        ((per_ip_cap > 0 && n->held - c->held + bytes > per_ip_cap) ||
         (pool_cap > 0 &&
          pool_held[c->pool] - c->held + bytes > pool_cap)))
        return EMBER_ELIMIT;
    n->held = n->held - c->held + bytes;
    pool_held[c->pool] = pool_held[c->pool] - c->held + bytes;
    c->held = bytes;
    return 0;
}


size_t
ember__conns_held(ember_conn_pool_t pool)
{
    return pool_held[pool];
}


static ember_conn_t *
conn_new(const ember_conn_opts_t *opts, const ember_conn_events_t *ev,
         void *owner)
{
    ember_conn_t *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    if (opts->server_name != NULL &&
        (c->server_name = strdup(opts->server_name)) == NULL) {
        free(c);
        return NULL;
    }
    uv_tcp_init(ember__loop(), &c->tcp);
    c->tcp.data = c;
    c->ev = ev;
    c->owner = owner;
    c->pool = opts->pool;
    c->max_backlog = opts->max_backlog > 0 ? opts->max_backlog
                                           : DEFAULT_MAX_BACKLOG;
    c->tls_opts.server_name = c->server_name;
    c->tls_opts.alpn = opts->alpn;
    c->tls_opts.peer_cert = opts->peer_cert;
    c->direct_tls = opts->direct_tls;
    c->next = conns;
    if (conns != NULL)
        conns->prev = c;
    conns = c;
    pool_count[c->pool]++;
    return c;
}


static void
name_peer(ember_conn_t *c, const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET6)
        uv_ip6_name((const struct sockaddr_in6 *) sa, c->ip, sizeof(c->ip));
    else
        uv_ip4_name((const struct sockaddr_in *) sa, c->ip, sizeof(c->ip));
}


static void
connect_done(uv_connect_t *req, int status)
{
    ember_conn_t *c = req->data;

    free(req);
    if (c->closing)
        return;
    if (status < 0) {
        ember__log(EMBER_LOG_INFO, "net", "%s: cannot connect: %s", c->ip,
                   uv_strerror(status));
        if (c->ev->connected != NULL)
            c->ev->connected(c->owner, EMBER_EIO);
        ember__conn_abort(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    c->last_active = uv_now(ember__loop());
    if (c->direct_tls &&
        (c->tls = ember__tls_new(&tls_io, c, &c->tls_opts)) == NULL) {
        if (c->ev->connected != NULL)
            c->ev->connected(c->owner, EMBER_ENOMEM);
        ember__conn_abort(c);
        return;
    }
    start_reading(c);
    if (c->ev->connected != NULL)
        c->ev->connected(c->owner, 0);
    if (c->tls != NULL && !c->closing && ember__tls_feed(c->tls, "", 0) < 0)
        conn_fail(c, 0);
}


int
ember__conn_connect(const struct sockaddr *addr,
                    const ember_conn_opts_t *opts,
                    const ember_conn_events_t *ev, void *owner,
                    ember_conn_t **out)
{
    ember_conn_t *c;
    uv_connect_t *req;

    *out = NULL;
    if ((req = malloc(sizeof(*req))) == NULL)
        return EMBER_ENOMEM;
    if ((c = conn_new(opts, ev, owner)) == NULL) {
        free(req);
        return EMBER_ENOMEM;
    }
    name_peer(c, addr);
    c->last_active = uv_now(ember__loop());
    req->data = c;
    if (uv_tcp_connect(req, &c->tcp, addr, connect_done) < 0) {
        free(req);
        c->ev = &no_events;
        ember__conn_abort(c);
        return EMBER_EIO;
    }
    *out = c;
    return 0;
}


int
ember__conn_accept(uv_stream_t *server, const ember_conn_opts_t *opts,
                   const ember_conn_events_t *ev, void *owner,
                   ember_conn_t **out)
{
    ember_conn_t *c = conn_new(opts, ev, owner);
    struct sockaddr_storage ss;
    int len = sizeof(ss), rc;

    *out = NULL;
    if (c == NULL)
        return EMBER_ENOMEM;
    if (uv_accept(server, (uv_stream_t *) &c->tcp) < 0) {
        /* The owner never hears of it: no closed callback. */
        c->ev = &no_events;
        ember__conn_abort(c);
        return EMBER_EIO;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *) &ss, &len) == 0)
        name_peer(c, (struct sockaddr *) &ss);
    c->last_active = uv_now(ember__loop());
    ember__conn_set_rate(c, opts->rate, opts->burst);
    *out = c;
    if ((rc = count_connect(c->ip, opts->connects_per_second)) < 0) {
        if (rc == EMBER_ELIMIT)
            ember__log(EMBER_LOG_WARN, "net", "%s: over %d new connections "
                       "a second from one address", c->ip,
                       opts->connects_per_second);
        return rc;
    }
    if ((rc = count_ip(c, opts->max_per_ip)) < 0) {
        if (rc == EMBER_ELIMIT)
            ember__log(EMBER_LOG_WARN, "net", "%s: over %d connections from "
                       "one address", c->ip, opts->max_per_ip);
        return rc;
    }
    if (opts->direct_tls &&
        (c->tls = ember__tls_new(&tls_io, c, &c->tls_opts)) == NULL)
        return EMBER_ENOMEM;
    start_reading(c);
    return 0;
}


/* ---- the rest ---- */

int
ember__conn_ip_loopback(const char *ip)
{
    unsigned char a[16];

    if (ip == NULL)
        return 0;
    if (inet_pton(AF_INET, ip, a) == 1)
        return a[0] == 127;
    return inet_pton(AF_INET6, ip, a) == 1 &&
           (memcmp(a, in6addr_loopback.s6_addr, 16) == 0 ||
            (memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0 &&
             a[12] == 127));
}


const char *
ember__conn_ip(const ember_conn_t *c)
{
    return c->ip;
}


ember_tls_t *
ember__conn_tls(const ember_conn_t *c)
{
    return c->tls;
}


int
ember__conn_secure(const ember_conn_t *c)
{
    return c->tls != NULL && ember__tls_ready(c->tls);
}


size_t
ember__conns_count(ember_conn_pool_t pool)
{
    return (unsigned) pool < EMBER_CONN_POOL_COUNT ? pool_count[pool] : 0;
}


int
ember__conns_init(void)
{
    if (sweep_on)
        return 0;
    uv_timer_init(ember__loop(), &sweep_timer);
    uv_timer_start(&sweep_timer, sweep, SWEEP_MS, SWEEP_MS);
    uv_unref((uv_handle_t *) &sweep_timer);
    uv_prepare_init(ember__loop(), &uncork_handle);
    uv_unref((uv_handle_t *) &uncork_handle);
    sweep_on = 1;
    return 0;
}


void
ember__conns_cleanup(void)
{
    connect_rate_t *r;
    ip_count_t *n;
    size_t pos;
    int p;

    if (sweep_on) {
        uv_timer_stop(&sweep_timer);
        uv_close((uv_handle_t *) &sweep_timer, NULL);
        uv_prepare_stop(&uncork_handle);
        uv_close((uv_handle_t *) &uncork_handle, NULL);
        sweep_on = 0;
    }
    pos = 0;
    while ((r = ember__hmap_next(&connect_rates, &pos, NULL)) != NULL)
        free(r);
    ember__hmap_free(&connect_rates);
    for (p = 0; p < EMBER_CONN_POOL_COUNT; p++) {
        pos = 0;
        while ((n = ember__hmap_next(&per_ip[p], &pos, NULL)) != NULL)
            free(n);
        ember__hmap_free(&per_ip[p]);
    }
}
