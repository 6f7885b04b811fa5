/* core/xmpp/component.c -- external components over TCP (XEP-0114, the
 * jabber:component:accept namespace): header, handshake, then stanzas
 * both ways.  Another kind of stream on net/conn.c and the same hardened
 * parser as client streams; the router hands it what is addressed to a
 * component's domain. */
#include <ctype.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/hmap.h"
#include "base/jid.h"
#include "base/log.h"
#include "base/process.h"
#include "net/conn.h"
#include "store/throttle.h"
#include "xmpp/component.h"
#include "xmpp/errors.h"
#include "xmpp/router.h"
#include "xmpp/services.h"
#include "xmpp/stanza.h"
#include "xmpp/xmlstream.h"

#define NS_ACCEPT  "jabber:component:accept"
#define NS_CLIENT  "jabber:client"
#define NS_STREAMS "http://etherx.jabber.org/streams"
#define NS_XSTREAM "urn:ietf:params:xml:ns:xmpp-streams"

#define SHA1_HEX 40

typedef enum {
    CS_CONNECTED = 0,   /* waiting for the stream header */
    CS_OPEN,            /* header answered, waiting for <handshake/> */
    CS_AUTHED,          /* serves its domain */
    CS_CLOSING
} comp_state_t;

typedef struct comp_s {
    ember_conn_t *conn;
    ember_xml_t *xml;
    comp_state_t state;
    unsigned header_sent : 1;
    char id[17];                /* the stream id the handshake hashes */
    char *domain;               /* from the header, prepared */
    time_t since;
    uint64_t in, out;
    struct comp_s *next;        /* every component connection */
} comp_t;

static comp_t *comps;
/* Authenticated ones by domain: routing never walks the connections that
 * have not proven anything yet. */
static ember_hmap_t by_domain;
static ember_buf_t out_buf;


static comp_t *
comp_authed(const char *domain)
{
    return ember__hmap_get(&by_domain, domain);
}


/* ---- output ---- */

static void
comp_write(comp_t *c, const char *data, size_t len)
{
    if (c->conn != NULL)
        ember__conn_write(c->conn, data, len);
}


static void
send_header(comp_t *c)
{
    if (c->header_sent)
        return;
    ember__buf_reset(&out_buf);
    ember__buf_puts(&out_buf, "<?xml version='1.0'?><stream:stream "
                    "xmlns:stream='" NS_STREAMS "' xmlns='" NS_ACCEPT "'");
    if (c->domain != NULL) {
        ember__buf_puts(&out_buf, " from='");
        ember__buf_escape(&out_buf, c->domain, strlen(c->domain));
        ember__buf_puts(&out_buf, "'");
    }
    ember__buf_printf(&out_buf, " id='%s'>", c->id);
    comp_write(c, out_buf.data, out_buf.len);
    c->header_sent = 1;
}


static void
comp_close(comp_t *c)
{
    if (c->state == CS_CLOSING)
        return;
    if (c->state == CS_AUTHED) {
        ember__hmap_del(&by_domain, c->domain);
        ember__log(EMBER_LOG_INFO, "component", "%s: %s disconnected",
                   ember__conn_ip(c->conn), c->domain);
    }
    c->state = CS_CLOSING;
    if (c->xml != NULL)
        ember__xml_stop(c->xml);
    ember__conn_close(c->conn);
}


/* RFC 6120 4.9: a header first when none went out yet (4.7.1), then the
 * error, then the end of the stream. */
static void
comp_error(comp_t *c, ember_stream_cond_t cond, const char *text)
{
    const char *name = ember__stream_cond_name(cond);

    if (c->state == CS_CLOSING)
        return;
    send_header(c);
    ember__buf_reset(&out_buf);
    ember__buf_printf(&out_buf, "<stream:error><%s xmlns='" NS_XSTREAM "'/>",
                      name);
    if (text != NULL) {
        ember__buf_puts(&out_buf, "<text xmlns='" NS_XSTREAM "'>");
        ember__buf_escape_text(&out_buf, text, strlen(text));
        ember__buf_puts(&out_buf, "</text>");
    }
    ember__buf_puts(&out_buf, "</stream:error></stream:stream>");
    comp_write(c, out_buf.data, out_buf.len);
    ember__log(EMBER_LOG_INFO, "component", "%s: %s%sstream error %s%s%s",
               ember__conn_ip(c->conn), c->domain != NULL ? c->domain : "",
               c->domain != NULL ? ": " : "", name, text != NULL ? ": " : "",
               text != NULL ? text : "");
    comp_close(c);
}


/* ---- the stream ---- */

static void
xml_stream_open(void *ud, ember_stanza_t *header, const char *name,
                const char *ns)
{
    comp_t *c = ud;
    const char *to = ember__stanza_attr(header, "to");
    const char *dns = ember__stanza_xmlns(header);
    char domain[1024];

    if (c->state != CS_CONNECTED) {
        /* Component streams never restart. */
        comp_error(c, EMBER_STREAM_POLICY_VIOLATION, "a second stream "
                   "header");
    } else if (strcmp(name, "stream") != 0 || ns == NULL ||
               strcmp(ns, NS_STREAMS) != 0 || dns == NULL ||
               strcmp(dns, NS_ACCEPT) != 0) {
        comp_error(c, EMBER_STREAM_INVALID_NAMESPACE, "this port serves "
                   NS_ACCEPT);
    } else if (to == NULL ||
               ember__jid_prep_domain(to, domain, sizeof(domain)) < 0 ||
               ember__config_component(ember__config(), domain) == NULL) {
        comp_error(c, EMBER_STREAM_HOST_UNKNOWN, "no component of that "
                   "domain is configured");
    } else if ((c->domain = strdup(domain)) == NULL) {
        comp_error(c, EMBER_STREAM_INTERNAL_SERVER_ERROR, NULL);
    } else if (comp_authed(domain) != NULL) {
        comp_error(c, EMBER_STREAM_CONFLICT, "this component is already "
                   "connected");
    } else {
        send_header(c);
        c->state = CS_OPEN;
    }
    ember__stanza_free(header);
}


/* The handshake's hex digest against SHA-1(stream id + secret), in time
 * that does not depend on where they differ. */
static int
handshake_ok(const comp_t *c, const char *secret, const char *given)
{
    unsigned char digest[20];
    char want[SHA1_HEX + 1], got[SHA1_HEX];
    ember_buf_t in = { 0 };
    size_t i;
    int ok;

    if (given == NULL || strlen(given) != SHA1_HEX)
        return 0;
    if (ember__buf_puts(&in, c->id) < 0 || ember__buf_puts(&in, secret) < 0 ||
        gnutls_hash_fast(GNUTLS_DIG_SHA1, in.data, in.len, digest) < 0) {
        ember__buf_free(&in);
        return 0;
    }
    gnutls_memset(in.data, 0, in.len);
    ember__buf_free(&in);
    for (i = 0; i < sizeof(digest); i++)
        snprintf(want + 2 * i, 3, "%02x", digest[i]);
    /* The XEP asks components for lowercase; accept either case. */
    for (i = 0; i < SHA1_HEX; i++)
        got[i] = (char) tolower((unsigned char) given[i]);
    ok = gnutls_memcmp(want, got, SHA1_HEX) == 0;
    gnutls_memset(want, 0, sizeof(want));
    return ok;
}


static void
handle_handshake(comp_t *c, const ember_stanza_t *st)
{
    const ember_component_conf_t *k =
        ember__config_component(ember__config(), c->domain);
    const char *ip = ember__conn_ip(c->conn);
    static const char done[] = "<handshake/>";
    char text[96];
    int wait;

    if (k == NULL) {
        comp_error(c, EMBER_STREAM_HOST_GONE, "the component was removed "
                   "from the configuration");
        return;
    }
    /* A guess is a password check: the one brake of every door. */
    if ((wait = ember__throttle_wait(ip, c->domain)) > 0) {
        snprintf(text, sizeof(text), "too many failed handshakes; try again "
                 "in %d seconds", wait);
        comp_error(c, EMBER_STREAM_POLICY_VIOLATION, text);
        return;
    }
    if (!handshake_ok(c, k->secret, ember__stanza_text(st))) {
        ember__throttle_failed(ip, c->domain, "component");
        comp_error(c, EMBER_STREAM_NOT_AUTHORIZED, NULL);
        return;
    }
    ember__throttle_succeeded(c->domain);
    /* Two connections may have passed the header check together. */
    if (comp_authed(c->domain) != NULL) {
        comp_error(c, EMBER_STREAM_CONFLICT, "this component is already "
                   "connected");
        return;
    }
    if (ember__service_exists(c->domain)) {
        comp_error(c, EMBER_STREAM_CONFLICT, "a module serves this domain");
        return;
    }
    if (ember__hmap_put(&by_domain, c->domain, c) < 0) {
        comp_error(c, EMBER_STREAM_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    c->state = CS_AUTHED;
    c->since = time(NULL);
    /* Served from now on: no deadline, no shaping, and no idle limit (a
     * gateway may have nothing to say for hours). */
    ember__conn_set_deadline(c->conn, 0);
    ember__conn_set_idle(c->conn, 0);
    ember__conn_set_rate(c->conn, 0, 0);
    comp_write(c, done, sizeof(done) - 1);
    ember__log(EMBER_LOG_INFO, "component", "%s: %s connected", ip,
               c->domain);
}


/* XEP-0114 section 3: 'from' at the component's own domain, and a 'to'. */
static void
handle_stanza(comp_t *c, ember_stanza_t *st)
{
    const char *from = ember__stanza_attr(st, "from");
    const char *to = ember__stanza_attr(st, "to");
    ember_jid_t *j;
    int ours;

    if (from == NULL || to == NULL) {
        comp_error(c, EMBER_STREAM_IMPROPER_ADDRESSING, "a component's "
                   "stanzas carry 'from' and 'to'");
        goto drop;
    }
    j = ember__jid_parse(from);
    ours = j != NULL && strcmp(ember__jid_domain(j), c->domain) == 0;
    ember__jid_free(j);
    if (!ours) {
        comp_error(c, EMBER_STREAM_INVALID_FROM, "'from' must be at the "
                   "component's domain");
        goto drop;
    }
    if (ember__stanza_rename_ns(st, NS_ACCEPT, NS_CLIENT) < 0) {
        comp_error(c, EMBER_STREAM_INTERNAL_SERVER_ERROR, NULL);
        goto drop;
    }
    c->in++;
    ember__route_stanza(st, NULL);
    return;
drop:
    ember__stanza_free(st);
}


static void
xml_stanza(void *ud, ember_stanza_t *st)
{
    comp_t *c = ud;
    const char *ns = ember__stanza_xmlns(st);
    const char *name = ember__stanza_name(st);
    int ours = ns != NULL && strcmp(ns, NS_ACCEPT) == 0;

    switch (c->state) {
    case CS_OPEN:
        if (ours && strcmp(name, "handshake") == 0)
            handle_handshake(c, st);
        else
            comp_error(c, EMBER_STREAM_NOT_AUTHORIZED, "handshake first");
        break;
    case CS_AUTHED:
        /* Some components write their stanzas in jabber:client: the
         * same stanzas, the same checks. */
        if ((ours || (ns != NULL && strcmp(ns, NS_CLIENT) == 0)) &&
            ember__stanza_is_stanza(st)) {
            handle_stanza(c, st);
            return;
        }
        comp_error(c, EMBER_STREAM_UNSUPPORTED_STANZA_TYPE, NULL);
        break;
    default:
        break;
    }
    ember__stanza_free(st);
}


static void
xml_stream_close(void *ud)
{
    comp_t *c = ud;
    static const char end[] = "</stream:stream>";

    if (c->state == CS_CLOSING)
        return;
    comp_write(c, end, sizeof(end) - 1);
    comp_close(c);
}


static void
xml_error(void *ud, ember_stream_cond_t cond, const char *text)
{
    comp_error(ud, cond, text);
}


static const ember_xml_cbs_t xml_cbs = {
    xml_stream_open, xml_stanza, xml_stream_close, xml_error
};


/* ---- the connection's side ---- */

static void
on_data(void *owner, const char *data, size_t len)
{
    comp_t *c = owner;

    if (c->state == CS_CLOSING)
        return;
    ember__xml_feed(c->xml, data, len);
    if (c->state != CS_CLOSING)
        ember__xml_idle(c->xml);
}


static void
on_timeout(void *owner, ember_conn_timeout_t what)
{
    comp_t *c = owner;

    comp_error(c, EMBER_STREAM_CONNECTION_TIMEOUT, c->state != CS_AUTHED
               ? "the handshake took too long" : NULL);
}


static void
on_hangup(void *owner)
{
    comp_close(owner);
}


static void
on_closed(void *owner)
{
    comp_t *c = owner, **pc;

    for (pc = &comps; *pc != NULL; pc = &(*pc)->next)
        if (*pc == c) {
            *pc = c->next;
            break;
        }
    if (c->state == CS_AUTHED)
        ember__hmap_del(&by_domain, c->domain);
    ember__xml_free(c->xml);
    free(c->domain);
    free(c);
}


static const ember_conn_events_t conn_events = {
    .data = on_data,
    .timeout = on_timeout,
    .hangup = on_hangup,
    .closed = on_closed,
};


int
ember__component_accept(uv_stream_t *server, const ember_listener_conf_t *lc)
{
    const ember_config_t *cfg = ember__config();
    ember_conn_opts_t opts = {
        .pool = EMBER_CONN_POOL_C2S,
        .max_per_ip = cfg->limits.max_connections_per_ip,
        .rate = lc->rate,
        .burst = lc->burst,
        .connects_per_second = cfg->limits.connections_per_second_per_ip,
    };
    ember_xml_limits_t lim = {
        .max_stanza_size = cfg->limits.max_stanza_size,
        .max_depth = cfg->limits.max_depth,
        .max_attributes = cfg->limits.max_attributes,
    };
    comp_t *c = calloc(1, sizeof(*c));
    int rc;

    if (c == NULL)
        return EMBER_ENOMEM;
    rc = ember__conn_accept(server, &opts, &conn_events, c, &c->conn);
    if (c->conn == NULL) {
        free(c);
        return rc;
    }
    c->next = comps;
    comps = c;
    ember__nonce_hex(c->id, 8);
    if ((c->xml = ember__xml_new(&xml_cbs, c, &lim)) == NULL) {
        comp_close(c);
        return EMBER_ENOMEM;
    }
    if (rc == EMBER_ELIMIT) {
        comp_error(c, EMBER_STREAM_POLICY_VIOLATION, "too many connections "
                   "from your address");
        return rc;
    }
    if (rc < 0) {
        comp_close(c);
        return rc;
    }
    ember__conn_set_deadline(c->conn, (uint64_t) cfg->limits.auth_timeout *
                                          1000);
    ember__conn_set_idle(c->conn, (uint64_t) cfg->limits.idle_timeout *
                                      1000);
    return 0;
}


/* ---- the router's side ---- */

/* What a component that is away would have answered: requests and
 * messages get service-unavailable (RFC 6120 8.3.3.19); results, errors,
 * headlines and presence that asks for nothing are dropped. */
static int
wants_answer(const ember_stanza_t *st)
{
    const char *kind = ember__stanza_name(st);
    const char *type = ember__stanza_attr(st, "type");

    if (type != NULL && strcmp(type, "error") == 0)
        return 0;
    if (strcmp(kind, "iq") == 0)
        return type != NULL &&
               (strcmp(type, "get") == 0 || strcmp(type, "set") == 0);
    if (strcmp(kind, "message") == 0)
        return type == NULL || strcmp(type, "headline") != 0;
    return type == NULL || strcmp(type, "subscribe") == 0 ||
           strcmp(type, "probe") == 0;
}


int
ember__component_route(const char *domain, const ember_stanza_t *st)
{
    comp_t *c;

    if (ember__config_component(ember__config(), domain) == NULL)
        return 0;
    if ((c = comp_authed(domain)) == NULL) {
        if (wants_answer(st))
            ember__bounce(st, EMBER_COND_SERVICE_UNAVAILABLE, NULL);
        return 1;
    }
    /* Written in the stream's default namespace: a jabber:client root
     * (or one without a namespace) carries no xmlns. */
    ember__buf_reset(&out_buf);
    if (ember__stanza_write(st, NS_CLIENT, &out_buf) < 0) {
        ember__bounce(st, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return 1;
    }
    c->out++;
    comp_write(c, out_buf.data, out_buf.len);
    return 1;
}


/* Shown on a host whose subdomain it is, or on every host when it is a
 * subdomain of none of them. */
static int
listed_on(const char *domain, const char *host)
{
    const ember_config_t *cfg = ember__config();
    const ember_host_conf_t *h;
    size_t dl = strlen(domain), hl;

    for (h = cfg->hosts; h != NULL; h = h->next) {
        hl = strlen(h->name);
        if (dl > hl && domain[dl - hl - 1] == '.' &&
            strcmp(domain + dl - hl, h->name) == 0)
            return strcmp(h->name, host) == 0;
    }
    return 1;
}


void
ember__components_items(const char *host,
                        void (*cb)(const char *a, const char *b,
                                   const char *c, void *ud),
                        void *ud)
{
    const ember_component_conf_t *k;

    for (k = ember__config()->components; k != NULL; k = k->next)
        if (host != NULL && comp_authed(k->domain) != NULL &&
            listed_on(k->domain, host))
            cb(k->domain, k->name, NULL, ud);
}


/* ---- many at once ---- */

int
ember__components_sync(void)
{
    comp_t *c;
    int n = 0;

    for (c = comps; c != NULL; c = c->next)
        if (c->state != CS_CLOSING && c->domain != NULL &&
            ember__config_component(ember__config(), c->domain) == NULL) {
            comp_error(c, EMBER_STREAM_HOST_GONE, "the component was "
                       "removed from the configuration");
            n++;
        }
    return n;
}


void
ember__components_close_all(ember_stream_cond_t cond)
{
    comp_t *c;

    for (c = comps; c != NULL; c = c->next)
        comp_error(c, cond, NULL);
}


void
ember__components_cleanup(void)
{
    ember__hmap_free(&by_domain);
    ember__buf_free(&out_buf);
}


size_t
ember__components_count(void)
{
    comp_t *c;
    size_t n = 0;

    for (c = comps; c != NULL; c = c->next)
        n++;
    return n;
}


json_t *
ember__components_describe(void)
{
    const ember_component_conf_t *k;
    json_t *arr = json_array(), *o;
    comp_t *c;

    for (k = ember__config()->components; arr != NULL && k != NULL;
         k = k->next) {
        c = comp_authed(k->domain);
        o = json_pack("{s:s, s:b}", "domain", k->domain, "connected",
                      c != NULL);
        if (o == NULL)
            continue;
        if (k->name != NULL)
            json_object_set_new(o, "name", json_string(k->name));
        if (c != NULL) {
            json_object_set_new(o, "address",
                                json_string(ember__conn_ip(c->conn)));
            json_object_set_new(o, "since", json_integer((json_int_t)
                                                         c->since));
            json_object_set_new(o, "stanzas_in", json_integer((json_int_t)
                                                              c->in));
            json_object_set_new(o, "stanzas_out", json_integer((json_int_t)
                                                               c->out));
        }
        json_array_append_new(arr, o);
    }
    return arr;
}
