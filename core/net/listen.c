/* core/net/listen.c -- TCP listeners: c2s (STARTTLS), c2s direct TLS, the
 * HTTP server's http, https, admin and admin-tls, and external components. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <uv.h>

#include "base/log.h"
#include "base/process.h"
#include "net/listen.h"

typedef struct listener_s {
    uv_tcp_t tcp;
    ember_listener_conf_t conf;     /* copied: configs are replaced */
    char address[64];
    struct listener_s *next;
} listener_t;

static listener_t *listeners;
static ember_accept_cb acceptor;


void
ember__listeners_set_acceptor(ember_accept_cb cb)
{
    acceptor = cb;
}


static int
is_http(ember_listen_type_t t)
{
    return t == EMBER_LISTEN_HTTP || t == EMBER_LISTEN_HTTPS ||
           t == EMBER_LISTEN_ADMIN || t == EMBER_LISTEN_ADMIN_TLS;
}


static void
on_connection(uv_stream_t *server, int status)
{
    listener_t *l = server->data;

    if (status < 0) {
        ember__log(EMBER_LOG_WARN, "listen", "accept on %s:%d: %s",
                   l->address, l->conf.port, uv_strerror(status));
        return;
    }
    if (acceptor != NULL)
        acceptor(server, &l->conf);
}


static const char *
type_name(ember_listen_type_t t)
{
    return ember__listen_type_name(t);
}


static const char *
tls_mode(const ember_listener_conf_t *lc)
{
    switch (lc->type) {
    case EMBER_LISTEN_C2S:
        return lc->require_tls ? "starttls-required" : "starttls-optional";
    case EMBER_LISTEN_S2S:
        return ember__config()->s2s.require_tls ? "starttls-required"
                                                : "starttls-optional";
    case EMBER_LISTEN_HTTP:
    case EMBER_LISTEN_ADMIN:
    case EMBER_LISTEN_COMPONENT:
        return "none";
    default:
        return "direct";
    }
}


static int
reuse_port(uv_tcp_t *tcp)
{
    uv_os_fd_t fd;
    int one = 1;

    if (uv_fileno((uv_handle_t *) tcp, &fd) < 0)
        return UV_EINVAL;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        return uv_translate_sys_error(errno);
    return 0;
}


/* Bind and listen on one configured address; logged on success. */
static int
listener_open(const ember_config_t *cfg, const ember_listener_conf_t *lc,
              char *err, size_t errlen)
{
    struct sockaddr_storage addr;
    listener_t *l;
    int rc;

    if ((l = calloc(1, sizeof(*l))) == NULL)
        return EMBER_ENOMEM;
    l->conf = *lc;
    l->conf.next = NULL;
    snprintf(l->address, sizeof(l->address), "%s", lc->address);
    l->conf.address = l->address;
    if (strchr(lc->address, ':') != NULL)
        rc = uv_ip6_addr(lc->address, lc->port,
                         (struct sockaddr_in6 *) &addr);
    else
        rc = uv_ip4_addr(lc->address, lc->port,
                         (struct sockaddr_in *) &addr);
    uv_tcp_init_ex(ember__loop(), &l->tcp,
                   rc == 0 ? addr.ss_family : AF_UNSPEC);
    l->tcp.data = l;
    l->next = listeners;
    listeners = l;
    /* Nodes of a cluster on one machine share the ports: the kernel
     * spreads the connections among them. */
    if (rc == 0 && cfg->cluster.redis_host != NULL)
        rc = reuse_port(&l->tcp);
    if (rc == 0)
        rc = uv_tcp_bind(&l->tcp, (struct sockaddr *) &addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *) &l->tcp, 1024, on_connection);
    if (rc < 0) {
        snprintf(err, errlen, "%s:%d: cannot listen on %s:%d (%s): %s",
                 cfg->path, lc->line, lc->address, lc->port,
                 type_name(lc->type), uv_strerror(rc));
        return EMBER_EIO;
    }
    ember__log(EMBER_LOG_INFO, "listen", "%s on %s:%d%s%s%s",
               type_name(lc->type), lc->address, lc->port,
               lc->type == EMBER_LISTEN_C2S && !lc->require_tls
                   ? " (TLS optional: loopback only)" : "",
               is_http(lc->type) ? " (HTTP routes " : "",
               is_http(lc->type)
                   ? (lc->type == EMBER_LISTEN_ADMIN ||
                      lc->type == EMBER_LISTEN_ADMIN_TLS
                          ? "\"admin\")" : "\"client\")") : "");
    return 0;
}


int
ember__listeners_start(const ember_config_t *cfg, char *err, size_t errlen)
{
    const ember_listener_conf_t *lc;
    int rc;

    for (lc = cfg->listeners; lc != NULL; lc = lc->next)
        if ((rc = listener_open(cfg, lc, err, errlen)) < 0)
            return rc;
    return 0;
}


static void listener_closed(uv_handle_t *h);


static int
same_socket(const ember_listener_conf_t *a, const ember_listener_conf_t *b)
{
    return a->type == b->type && a->port == b->port &&
           strcmp(a->address, b->address) == 0;
}


int
ember__listeners_sync(const ember_config_t *cfg, char *err, size_t errlen)
{
    const ember_listener_conf_t *lc;
    listener_t **pl, *l;
    char why[512];
    int rc = 0;

    /* Close what the new config no longer has, first: a port may move
     * from one type of listener to another. */
    for (pl = &listeners; (l = *pl) != NULL;) {
        for (lc = cfg->listeners; lc != NULL; lc = lc->next)
            if (same_socket(&l->conf, lc))
                break;
        if (lc != NULL) {
            /* Kept: settings that are not the socket apply at once. */
            l->conf.require_tls = lc->require_tls;
            l->conf.public = lc->public;
            l->conf.line = lc->line;
            pl = &l->next;
            continue;
        }
        *pl = l->next;
        ember__log(EMBER_LOG_INFO, "listen", "%s on %s:%d closed",
                   type_name(l->conf.type), l->address, l->conf.port);
        uv_close((uv_handle_t *) &l->tcp, listener_closed);
    }
    for (lc = cfg->listeners; lc != NULL; lc = lc->next) {
        for (l = listeners; l != NULL; l = l->next)
            if (same_socket(&l->conf, lc))
                break;
        if (l != NULL)
            continue;
        if (listener_open(cfg, lc, why, sizeof(why)) < 0) {
            ember__log(EMBER_LOG_ERROR, "listen", "%s", why);
            /* Not kept half open: a later reload tries again. */
            l = listeners;
            listeners = l->next;
            uv_close((uv_handle_t *) &l->tcp, listener_closed);
            if (rc == 0)
                snprintf(err, errlen, "%s", why);
            rc = EMBER_EIO;
        }
    }
    return rc;
}


static void
listener_closed(uv_handle_t *h)
{
    free(h->data);
}


void
ember__listeners_stop(void)
{
    listener_t *l;

    while ((l = listeners) != NULL) {
        listeners = l->next;
        uv_close((uv_handle_t *) &l->tcp, listener_closed);
    }
}


json_t *
ember__listeners_describe(void)
{
    json_t *arr = json_array();
    listener_t *l;

    for (l = listeners; l != NULL; l = l->next)
        json_array_append_new(arr, json_pack("{s:s, s:s, s:i, s:s}",
            "type", type_name(l->conf.type), "address", l->address,
            "port", l->conf.port, "tls", tls_mode(&l->conf)));
    return arr;
}
