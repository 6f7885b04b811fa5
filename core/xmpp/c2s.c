/* core/xmpp/c2s.c -- client streams over TCP (5222 with STARTTLS, 5223
 * with direct TLS): the first transport under xmpp/stream.c. */
#include <stdlib.h>

#include "base/process.h"
#include "net/conn.h"
#include "xmpp/c2s.h"
#include "xmpp/stream.h"

typedef struct c2s_s {
    ember_conn_t *conn;
    ember_session_t *s;
    unsigned authed : 1;
} c2s_t;


static int
t_send(void *t, const char *data, size_t len)
{
    return ember__conn_write(((c2s_t *) t)->conn, data, len);
}


static void
t_close(void *t)
{
    ember__conn_close(((c2s_t *) t)->conn);
}


static int
t_start_tls(void *t)
{
    return ember__conn_start_tls(((c2s_t *) t)->conn);
}


static ember_tls_t *
t_tls(void *t)
{
    return ember__conn_tls(((c2s_t *) t)->conn);
}


static const char *
t_peer_ip(void *t)
{
    return ember__conn_ip(((c2s_t *) t)->conn);
}


static uint64_t
t_idle_ms(void *t)
{
    return ember__conn_idle_ms(((c2s_t *) t)->conn);
}


static void
t_timeouts(void *t, uint64_t auth_ms, uint64_t idle_ms)
{
    c2s_t *c = t;

    c->authed = auth_ms == 0;
    ember__conn_set_deadline(c->conn, auth_ms);
    ember__conn_set_idle(c->conn, idle_ms);
}


static void
t_unshape(void *t)
{
    ember__conn_set_rate(((c2s_t *) t)->conn, 0, 0);
}


static void
t_rebind(void *t, ember_session_t *s)
{
    ((c2s_t *) t)->s = s;
}


static const ember_transport_ops_t tcp_ops = {
    .name = "c2s",
    .framing = EMBER_FRAMING_STREAM,
    .send = t_send,
    .close = t_close,
    .start_tls = t_start_tls,
    .tls = t_tls,
    .peer_ip = t_peer_ip,
    .idle_ms = t_idle_ms,
    .timeouts = t_timeouts,
    .unshape = t_unshape,
    .rebind = t_rebind,
};


static void
on_data(void *owner, const char *data, size_t len)
{
    c2s_t *c = owner;

    if (c->s != NULL)
        ember__stream_feed(c->s, data, len);
}


static void
on_timeout(void *owner, ember_conn_timeout_t what)
{
    c2s_t *c = owner;

    if (c->s != NULL)
        ember__stream_timeout(c->s, !c->authed);
    else
        ember__conn_close(c->conn);
}


static void
on_hangup(void *owner)
{
    c2s_t *c = owner;

    if (c->s != NULL)
        ember__stream_hangup(c->s);
}


static void
on_closed(void *owner)
{
    c2s_t *c = owner;

    if (c->s != NULL)
        ember__stream_gone(c->s);
    free(c);
}


static const ember_conn_events_t conn_events = {
    .data = on_data,
    .timeout = on_timeout,
    .hangup = on_hangup,
    .closed = on_closed,
};


int
ember__c2s_accept(uv_stream_t *server, const ember_listener_conf_t *lc)
{
    const ember_config_t *cfg = ember__config();
    ember_conn_opts_t opts = {
        .pool = EMBER_CONN_POOL_C2S,
        .max_per_ip = cfg->limits.max_connections_per_ip,
        .direct_tls = lc->type == EMBER_LISTEN_C2S_TLS,
        .alpn = lc->type == EMBER_LISTEN_C2S_TLS ? "xmpp-client" : NULL,
        .rate = lc->rate,
        .burst = lc->burst,
        .connects_per_second = cfg->limits.connections_per_second_per_ip,
    };
    c2s_t *c = calloc(1, sizeof(*c));
    int rc;

    if (c == NULL)
        return EMBER_ENOMEM;
    rc = ember__conn_accept(server, &opts, &conn_events, c, &c->conn);
    if (c->conn == NULL) {
        free(c);
        return rc;
    }
    c->s = ember__stream_new(&tcp_ops, c, lc->type == EMBER_LISTEN_C2S_TLS ||
                                              lc->require_tls);
    if (c->s == NULL) {
        ember__conn_close(c->conn);
        return EMBER_ENOMEM;
    }
    if (rc == EMBER_ELIMIT)
        ember__stream_refuse(c->s, EMBER_STREAM_POLICY_VIOLATION,
                             "too many connections from your address");
    else if (rc < 0)
        ember__conn_close(c->conn);
    return rc;
}
