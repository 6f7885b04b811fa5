/* core/xmpp/s2s.c -- server-to-server links: streams in jabber:server on
 * the one connection layer, STARTTLS or direct TLS (XEP-0368), then SASL
 * EXTERNAL (XEP-0178) or dialback (XEP-0220, keys per XEP-0185).
 *
 * An outbound link carries stanzas from one of our domains to one remote
 * domain; an inbound link carries stanzas from the remote domains its
 * peer proved, to ours.  Dialback's verification of an inbound claim
 * travels as <db:verify/> over the outbound link to the claimed domain.
 *
 * Bidirectional links (XEP-0288) carry both ways: an inbound link whose
 * peer asked for it also takes our stanzas to the domains it proved
 * (bidi_routes), and an outbound link we asked it on also brings the
 * remote domain's stanzas to the domain we proved. */
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gsasl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/hmap.h"
#include "base/jid.h"
#include "base/log.h"
#include "base/process.h"
#include "net/conn.h"
#include "net/dns.h"
#include "xmpp/errors.h"
#include "xmpp/router.h"
#include "xmpp/s2s.h"
#include "xmpp/services.h"
#include "xmpp/stanza.h"
#include "xmpp/xmlstream.h"

#define NS_SERVER   "jabber:server"
#define NS_CLIENT   "jabber:client"
#define NS_DB       "jabber:server:dialback"
#define NS_DB_FEAT  "urn:xmpp:features:dialback"
#define NS_STREAMS  "http://etherx.jabber.org/streams"
#define NS_TLS      "urn:ietf:params:xml:ns:xmpp-tls"
#define NS_SASL     "urn:ietf:params:xml:ns:xmpp-sasl"
#define NS_ERRORS   "urn:ietf:params:xml:ns:xmpp-streams"
#define NS_BIDI     "urn:xmpp:bidi"
#define NS_BIDI_FEAT "urn:xmpp:features:bidi"
#define NS_STANZAS  "urn:ietf:params:xml:ns:xmpp-stanzas"

#define MAX_TARGETS 32
#define MAX_ADDRS 16
#define MAX_PAIRS 16
#define FAILURES_KEPT 32
#define SWEEP_MS 1000
#define TOO_MANY_LINKS "that domain holds all the links it may"

typedef enum {
    OUT_RESOLVING = 1,
    OUT_CONNECTING,
    OUT_OPENING,    /* header sent, waiting for features */
    OUT_STARTTLS,   /* <starttls/> sent */
    OUT_SASL,       /* <auth/> sent */
    OUT_SASL_DONE,  /* restarted after <success/>: next features, up */
    OUT_DIALBACK,   /* <db:result/> sent */
    OUT_UP,
    IN_OPENING,     /* waiting for the peer's header */
    IN_OPEN
} link_state_t;

typedef struct target_s {
    char host[256];
    int port, priority, weight, tls;
    int secure;             /* from a DNSSEC-secure SRV answer */
} target_t;

typedef struct link_s link_t;

struct link_s {
    link_t *prev, *next;
    ember_conn_t *conn;
    ember_xml_t *xml;
    link_state_t state;
    char *local, *remote;   /* inbound: the header's 'to' and 'from' */
    char *key;              /* outbound: "local remote", out_links' key */
    char id[128];           /* the receiving side's stream id */
    unsigned out : 1;
    unsigned tls_on : 1;    /* TLS negotiated (or direct) */
    unsigned header_sent : 1;
    unsigned sasl_tried : 1;
    unsigned closing : 1;
    unsigned peer_db : 1;   /* the peer's header declares dialback */
    unsigned bidi : 1;      /* XEP-0288 asked for on this link */
    const char *auth;       /* "SASL EXTERNAL", "dialback" */
    ember_cond_t fail_cond; /* queued stanzas bounce with it */
    char fail_text[160];
    char cert[160];         /* what we learnt of the peer's certificate */
    char *pairs[MAX_PAIRS]; /* inbound: "local remote" the peer proved */
    size_t npairs;
    ember_buf_t queue;      /* outbound stanzas waiting, wire form, each
                               followed by a NUL */
    size_t nqueue;
    ember_buf_t ctl;        /* <db:verify/> requests waiting for the
                               stream to open */
    ember_dns_req_t *dns;
    target_t targets[MAX_TARGETS];
    size_t ntargets, next_target;
    int srv_answers;
    struct sockaddr_storage addrs[MAX_ADDRS];
    size_t naddrs, next_addr;
    int direct_tls;         /* the address being tried wants TLS first */
    uint64_t deadline, since, stanzas_in, stanzas_out;
    char addr[64];
    int srv_insecure;       /* an SRV answer was not DNSSEC-secure */
    /* RFC 7673: the target's usable TLSA records, secure; the peer's
     * certificate must match one of them. */
    ember_buf_t tlsa;
    int tlsa_len[EMBER_TLSA_MAX];
    size_t ntlsa;
    int dane_usage;         /* the usage that matched, or -1 */
};

typedef struct verify_s {
    struct verify_s *next;
    link_t *in;
    char *local, *remote;
    char id[128];
} verify_t;

typedef struct failure_s {
    char local[256], remote[256], reason[160];
    int out;
    int64_t at;
} failure_t;

/* RFC 7218's names of TLSA certificate usages. */
static const char *const dane_usage_name[] = { "PKIX-TA", "PKIX-EE",
                                               "DANE-TA", "DANE-EE" };

static link_t *links;
static ember_hmap_t out_links;   /* "local remote" -> outbound link */
static ember_hmap_t bidi_routes; /* "local remote" -> inbound bidi link,
                                    keyed by its pair string */
static verify_t *verifies;
static unsigned char secret[32];
static uv_timer_t sweep_timer;
static int started;
static failure_t failures[FAILURES_KEPT];
static size_t nfailures, failure_next;

static void link_fail(link_t *l, ember_cond_t cond, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void out_next_target(link_t *l);
static void out_try_address(link_t *l);
static void out_give_up(link_t *l);


/* ---- small things ---- */

static int
is_local_domain(const char *d)
{
    return d != NULL && (ember__host_exists(d) || ember__service_exists(d) ||
                         ember__config_component(ember__config(), d) != NULL);
}


static int
is_blocked(const char *domain)
{
    const ember_config_t *cfg = ember__config();
    char **b;

    for (b = cfg->s2s.blocked; b != NULL && *b != NULL; b++)
        if (strcmp(*b, domain) == 0)
            return 1;
    return 0;
}


/* RFC 6761 6.3, 6.4: resolvers should not even be asked. */
static const ember_s2s_limit_t *
limit_for(const char *domain)
{
    const ember_s2s_conf_t *s = &ember__config()->s2s;
    size_t i;

    for (i = 0; domain != NULL && i < s->nlimits; i++)
        if (strcmp(s->limits[i].domain, domain) == 0)
            return &s->limits[i];
    return NULL;
}


static int
is_special_use(const char *domain)
{
    static const char *const names[] = { "invalid", "localhost" };
    size_t i, n = strlen(domain), k;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        k = strlen(names[i]);
        if (n >= k && strcmp(domain + n - k, names[i]) == 0 &&
            (n == k || domain[n - k - 1] == '.'))
            return 1;
    }
    return 0;
}


/* XEP-0185: HMAC-SHA256 keyed by our secret over "receiving originating
 * id", in hex. */
static void
dialback_key(const char *receiving, const char *originating, const char *id,
             char out[65])
{
    unsigned char mac[32];
    char *text;
    size_t i;

    if (asprintf(&text, "%s %s %s", receiving, originating, id) < 0) {
        out[0] = '\0';
        return;
    }
    gnutls_hmac_fast(GNUTLS_MAC_SHA256, secret, sizeof(secret), text,
                     strlen(text), mac);
    free(text);
    for (i = 0; i < sizeof(mac); i++)
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
}


static int
same_secret(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), i;
    unsigned char d = la != lb;

    for (i = 0; i < la && i < lb; i++)
        d |= (unsigned char) (a[i] ^ b[i]);
    return d == 0;
}


static void
remember_failure(const link_t *l, const char *reason)
{
    failure_t *f = &failures[failure_next];

    snprintf(f->local, sizeof(f->local), "%s", l->local ? l->local : "");
    snprintf(f->remote, sizeof(f->remote), "%s", l->remote ? l->remote : "");
    snprintf(f->reason, sizeof(f->reason), "%s", reason);
    f->out = l->out;
    f->at = ember__now_us() / 1000000;
    failure_next = (failure_next + 1) % FAILURES_KEPT;
    if (nfailures < FAILURES_KEPT)
        nfailures++;
}


static void
link_write(link_t *l, const char *data, size_t len)
{
    if (l->conn != NULL && !l->closing)
        ember__conn_write(l->conn, data, len);
}


static void
link_puts(link_t *l, const char *s)
{
    link_write(l, s, strlen(s));
}


static void
send_header(link_t *l)
{
    ember_buf_t b = { 0 };

    ember__buf_puts(&b, "<?xml version='1.0'?><stream:stream xmlns='"
                        NS_SERVER "' xmlns:stream='" NS_STREAMS
                        "' xmlns:db='" NS_DB "'");
    if (l->local != NULL) {
        ember__buf_puts(&b, " from='");
        ember__buf_escape(&b, l->local, strlen(l->local));
        ember__buf_puts(&b, "'");
    }
    if (l->remote != NULL) {
        ember__buf_puts(&b, " to='");
        ember__buf_escape(&b, l->remote, strlen(l->remote));
        ember__buf_puts(&b, "'");
    }
    if (!l->out)
        ember__buf_printf(&b, " id='%s'", l->id);
    ember__buf_puts(&b, " version='1.0'>");
    link_write(l, b.data, b.len);
    ember__buf_free(&b);
    l->header_sent = 1;
}


/* End the stream, with a stream error when cond is set. */
static void
link_close(link_t *l, ember_stream_cond_t cond, const char *text)
{
    ember_buf_t b = { 0 };

    if (l->closing || l->conn == NULL)
        return;
    if (!l->header_sent && !l->out && l->state != OUT_CONNECTING) {
        ember__nonce_hex(l->id, 8);
        send_header(l);
    }
    if (cond != EMBER_STREAM_NONE && l->header_sent) {
        ember__buf_printf(&b, "<stream:error><%s xmlns='" NS_ERRORS "'/>",
                          ember__stream_cond_name(cond));
        if (text != NULL) {
            ember__buf_puts(&b, "<text xmlns='" NS_ERRORS "'>");
            ember__buf_escape_text(&b, text, strlen(text));
            ember__buf_puts(&b, "</text>");
        }
        ember__buf_puts(&b, "</stream:error>");
        ember__log(EMBER_LOG_INFO, "s2s", "%s %s %s: stream error %s%s%s",
                   l->local ? l->local : "?", l->out ? "->" : "<-",
                   l->remote ? l->remote : l->addr,
                   ember__stream_cond_name(cond), text ? ": " : "",
                   text ? text : "");
    }
    if (l->header_sent)
        ember__buf_puts(&b, "</stream:stream>");
    if (b.len > 0)
        link_write(l, b.data, b.len);
    ember__buf_free(&b);
    l->closing = 1;
    ember__conn_close(l->conn);
}


/*
 * <db:NAME from to [id] [type]> carrying the key, or an error condition
 * (XEP-0220 2.4), or nothing.
 */
static void
db_write(ember_buf_t *b, const char *name, const char *from, const char *to,
         const char *id, const char *type, const char *key,
         const char *error_cond)
{
    ember__buf_printf(b, "<db:%s from='", name);
    ember__buf_escape(b, from, strlen(from));
    ember__buf_puts(b, "' to='");
    ember__buf_escape(b, to, strlen(to));
    ember__buf_puts(b, "'");
    if (id != NULL) {
        ember__buf_puts(b, " id='");
        ember__buf_escape(b, id, strlen(id));
        ember__buf_puts(b, "'");
    }
    if (type != NULL)
        ember__buf_printf(b, " type='%s'", type);
    if (key != NULL) {
        ember__buf_puts(b, ">");
        ember__buf_escape_text(b, key, strlen(key));
        ember__buf_printf(b, "</db:%s>", name);
    } else if (error_cond != NULL) {
        ember__buf_printf(b, "><error type='cancel'><%s xmlns='" NS_STANZAS
                          "'/></error></db:%s>", error_cond, name);
    } else {
        ember__buf_puts(b, "/>");
    }
}


/* ---- bounces ---- */

static void
bounce_queue(link_t *l)
{
    const char *p = l->queue.data, *end = p + l->queue.len;
    ember_stanza_t *st;
    ember_cond_t cond = l->fail_cond != EMBER_COND_NONE
                        ? l->fail_cond : EMBER_COND_REMOTE_SERVER_NOT_FOUND;

    while (p != NULL && p < end) {
        size_t n = strlen(p);

        if ((st = ember__stanza_parse(p, n)) != NULL) {
            ember__bounce(st, cond, l->fail_text[0] ? l->fail_text : NULL);
            ember__stanza_free(st);
        }
        p += n + 1;
    }
    ember__buf_free(&l->queue);
    l->nqueue = 0;
}


static void
answer_verifies_of(const link_t *out, const char *type, const char *cond)
{
    verify_t **pp = &verifies, *v;
    ember_buf_t b = { 0 };

    while ((v = *pp) != NULL) {
        if (strcmp(v->local, out->local) != 0 ||
            strcmp(v->remote, out->remote) != 0) {
            pp = &v->next;
            continue;
        }
        ember__buf_reset(&b);
        db_write(&b, "result", v->local, v->remote, NULL, type, NULL, cond);
        link_write(v->in, b.data, b.len);
        *pp = v->next;
        free(v->local);
        free(v->remote);
        free(v);
    }
    ember__buf_free(&b);
}


/* Stop trying: queued stanzas bounce, waiting dialback checks fail. */
static void
link_fail(link_t *l, ember_cond_t cond, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(l->fail_text, sizeof(l->fail_text), fmt, ap);
    va_end(ap);
    l->fail_cond = cond;
    ember__log(EMBER_LOG_WARN, "s2s", "%s %s %s: %s",
               l->local ? l->local : "?", l->out ? "->" : "<-",
               l->remote ? l->remote : l->addr, l->fail_text);
    remember_failure(l, l->fail_text);
    if (l->out) {
        answer_verifies_of(l, "error",
                           cond == EMBER_COND_REMOTE_SERVER_TIMEOUT
                           ? "remote-server-timeout"
                           : "remote-server-not-found");
        bounce_queue(l);
    }
}


/* ---- the registry ---- */

static link_t *
link_new(int out, const char *local, const char *remote)
{
    link_t *l = calloc(1, sizeof(*l));

    if (l == NULL)
        return NULL;
    l->out = out;
    l->fail_cond = EMBER_COND_NONE;
    l->dane_usage = -1;
    l->since = (uint64_t) (ember__now_us() / 1000000);
    if ((local != NULL && (l->local = strdup(local)) == NULL) ||
        (remote != NULL && (l->remote = strdup(remote)) == NULL)) {
        free(l->local);
        free(l);
        return NULL;
    }
    l->next = links;
    if (links != NULL)
        links->prev = l;
    links = l;
    return l;
}


static void
out_key(char *key, size_t len, const char *local, const char *remote)
{
    snprintf(key, len, "%s %s", local, remote);
}


static void
link_free(link_t *l)
{
    verify_t **pp = &verifies, *v;
    size_t i;

    if (l->prev != NULL)
        l->prev->next = l->next;
    else
        links = l->next;
    if (l->next != NULL)
        l->next->prev = l->prev;
    if (l->key != NULL) {
        if (ember__hmap_get(&out_links, l->key) == l)
            ember__hmap_del(&out_links, l->key);
        free(l->key);
    }
    for (i = 0; i < l->npairs; i++)
        if (ember__hmap_get(&bidi_routes, l->pairs[i]) == l)
            ember__hmap_del(&bidi_routes, l->pairs[i]);
    if (l->out) {
        if (l->nqueue > 0 || verifies != NULL) {
            if (l->fail_cond == EMBER_COND_NONE)
                link_fail(l, EMBER_COND_REMOTE_SERVER_NOT_FOUND,
                          "the link closed before it came up");
        }
    }
    while ((v = *pp) != NULL) {
        if (v->in == l) {
            *pp = v->next;
            free(v->local);
            free(v->remote);
            free(v);
        } else {
            pp = &v->next;
        }
    }
    ember__dns_cancel(l->dns);
    ember__buf_free(&l->tlsa);
    if (l->xml != NULL)
        ember__xml_free(l->xml);
    for (i = 0; i < l->npairs; i++)
        free(l->pairs[i]);
    ember__buf_free(&l->queue);
    ember__buf_free(&l->ctl);
    free(l->local);
    free(l->remote);
    free(l);
}


static int
pair_proved(const link_t *l, const char *local, const char *remote)
{
    char want[520];
    size_t i;

    snprintf(want, sizeof(want), "%s %s", local, remote);
    for (i = 0; i < l->npairs; i++)
        if (strcmp(l->pairs[i], want) == 0)
            return 1;
    return 0;
}


static int
holds_domain(const link_t *l, const char *remote)
{
    size_t n = strlen(remote), i;

    for (i = 0; i < l->npairs; i++) {
        const char *r = strchr(l->pairs[i], ' ') + 1;

        if (strncmp(r, remote, n) == 0 && r[n] == '\0')
            return 1;
    }
    return 0;
}


/* Our stanzas to the pairs an inbound bidi link proved may take it, once
 * the stream they would travel on is open. */
static void
offer_routes(link_t *l)
{
    size_t i;

    if (l->out || !l->bidi || l->state != IN_OPEN || l->closing)
        return;
    for (i = 0; i < l->npairs; i++)
        if (ember__hmap_get(&bidi_routes, l->pairs[i]) == NULL)
            ember__hmap_put(&bidi_routes, l->pairs[i], l);
}


/* 0, or -1 when the remote domain holds all the links it may. */
static int
pair_add(link_t *l, const char *local, const char *remote)
{
    const ember_s2s_limit_t *lim = limit_for(remote);
    int most = lim != NULL && lim->links >= 0
               ? lim->links : ember__config()->s2s.domain_links;
    int held = 0;
    link_t *o;
    char *p;

    if (pair_proved(l, local, remote))
        return 0;
    if (l->npairs == MAX_PAIRS)
        return -1;
    if (!holds_domain(l, remote)) {
        for (o = links; o != NULL; o = o->next)
            if (o != l && !o->out && !o->closing && holds_domain(o, remote))
                held++;
        if (held >= most) {
            remember_failure(l, "the domain holds all the links it may");
            return -1;
        }
    }
    if (asprintf(&p, "%s %s", local, remote) < 0)
        return -1;
    l->pairs[l->npairs++] = p;
    ember__conn_set_deadline(l->conn, 0);
    if (l->remote == NULL)
        l->remote = strdup(remote);
    if (lim != NULL && lim->rate >= 0)
        ember__conn_set_rate(l->conn, (uint64_t) lim->rate,
                             (uint64_t) lim->burst);
    ember__log(EMBER_LOG_INFO, "s2s", "%s <- %s: authenticated by %s%s%s",
               local, remote, l->auth, l->tls_on ? ", TLS" : "",
               l->bidi ? ", bidirectional" : "");
    offer_routes(l);
    return 0;
}


/* ---- the connection's events ---- */

static void xml_open(void *ud, ember_stanza_t *header, const char *name,
                     const char *ns);
static void xml_element(void *ud, ember_stanza_t *el);
static void xml_close(void *ud);
static void xml_error(void *ud, ember_stream_cond_t cond, const char *text);

static const ember_xml_cbs_t xml_cbs = {
    .stream_open = xml_open,
    .stanza = xml_element,
    .stream_close = xml_close,
    .error = xml_error,
};


static int
link_parser(link_t *l)
{
    const ember_config_t *cfg = ember__config();
    ember_xml_limits_t lim = {
        .max_stanza_size = cfg->limits.max_stanza_size,
        .max_depth = cfg->limits.max_depth,
        .max_attributes = cfg->limits.max_attributes,
    };

    if (l->xml != NULL)
        ember__xml_free(l->xml);
    l->xml = ember__xml_new(&xml_cbs, l, &lim);
    return l->xml != NULL ? 0 : EMBER_ENOMEM;
}


static void
on_data(void *owner, const char *data, size_t len)
{
    link_t *l = owner;

    if (l->xml != NULL && !l->closing)
        ember__xml_feed(l->xml, data, len);
}


static void
on_timeout(void *owner, ember_conn_timeout_t what)
{
    link_t *l = owner;

    if (what == EMBER_CONN_IDLE && (l->state == OUT_UP || l->npairs > 0)) {
        ember__log(EMBER_LOG_DEBUG, "s2s", "%s %s %s: idle, closing",
                   l->local, l->out ? "->" : "<-", l->remote);
        link_close(l, EMBER_STREAM_NONE, NULL);
        return;
    }
    if (l->out)
        link_fail(l, EMBER_COND_REMOTE_SERVER_TIMEOUT,
                  "no answer in time");
    else
        remember_failure(l, "did not authenticate in time");
    link_close(l, EMBER_STREAM_CONNECTION_TIMEOUT, NULL);
}


static void
on_hangup(void *owner)
{
    link_t *l = owner;

    l->closing = 1;
}


/* Give up on this address (or, with whole_target, on every address of
 * this target) for the reason given: the next one. */
static void
out_retry(link_t *l, int whole_target, const char *fmt, ...)
{
    char why[160];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    ember__log(EMBER_LOG_INFO, "s2s", "%s -> %s: %s", l->local, l->remote,
               why);
    remember_failure(l, why);
    snprintf(l->cert, sizeof(l->cert), "%s", why);
    if (whole_target) {
        out_next_target(l);
        return;
    }
    /* on_closed tries the next address of a link still connecting. */
    l->state = OUT_CONNECTING;
    if (l->conn != NULL) {
        l->closing = 1;
        ember__conn_close(l->conn);
    }
}


/* RFC 7673 4: the peer's certificate against the target's TLSA records;
 * the reference identities are the domain and the SRV target. */
static int
out_dane_check(link_t *l)
{
    const target_t *t = &l->targets[l->next_target - 1];
    const char *names[2] = { l->remote, t->host };
    char *rdata[EMBER_TLSA_MAX], why[160];
    size_t i, off = 0;

    for (i = 0; i < l->ntlsa; i++) {
        rdata[i] = l->tlsa.data + off;
        off += (size_t) l->tlsa_len[i];
    }
    l->dane_usage = ember__tls_peer_dane(ember__conn_tls(l->conn), rdata,
                                         l->tlsa_len, l->ntlsa, names, 2,
                                         why, sizeof(why));
    if (l->dane_usage >= 0) {
        snprintf(l->cert, sizeof(l->cert), "%s (TLSA usage %d)",
                 dane_usage_name[l->dane_usage], l->dane_usage);
        return 1;
    }
    out_retry(l, 0, "DANE: %s:%d (%s): %s", t->host, t->port, l->addr, why);
    return 0;
}


static void
on_secure(void *owner)
{
    link_t *l = owner;

    l->tls_on = 1;
    if (l->out && l->ntlsa > 0 && !out_dane_check(l))
        return;
    if (l->out) {
        /* Direct TLS or after <proceed/>: a new stream either way. */
        l->state = OUT_OPENING;
        if (link_parser(l) == 0)
            send_header(l);
    }
}


static void
on_connected(void *owner, int status)
{
    link_t *l = owner;

    if (status < 0)
        return;
    snprintf(l->addr, sizeof(l->addr), "%s", ember__conn_ip(l->conn));
    if (l->direct_tls)
        return;   /* the header follows the handshake */
    l->state = OUT_OPENING;
    if (link_parser(l) == 0)
        send_header(l);
}


static void
on_closed(void *owner)
{
    link_t *l = owner;

    l->conn = NULL;
    /* Refused, or direct TLS failed: the next address. */
    if (l->out && l->state == OUT_CONNECTING &&
        l->fail_cond == EMBER_COND_NONE) {
        l->closing = 0;
        out_try_address(l);
        return;
    }
    if (l->out && l->state != OUT_UP && l->fail_cond == EMBER_COND_NONE)
        link_fail(l, EMBER_COND_REMOTE_SERVER_NOT_FOUND,
                  "the connection closed before the link came up");
    if (!l->out && l->npairs == 0 && l->remote != NULL) {
        char why[200];

        snprintf(why, sizeof(why), "closed unauthenticated%s%s",
                 l->cert[0] ? ", certificate: " : "", l->cert);
        remember_failure(l, why);
    }
    link_free(l);
}


static const ember_conn_events_t conn_events = {
    .data = on_data,
    .timeout = on_timeout,
    .hangup = on_hangup,
    .secure = on_secure,
    .closed = on_closed,
    .connected = on_connected,
};


/* ---- outbound: finding the peer ---- */

static int
target_order(const void *a, const void *b)
{
    const target_t *x = a, *y = b;

    if (x->priority != y->priority)
        return x->priority - y->priority;
    /* XEP-0368: direct TLS first among equals. */
    if (x->tls != y->tls)
        return y->tls - x->tls;
    return y->weight - x->weight;
}


static void
on_srv(void *ud, int status, ember_dns_sec_t sec, const ember_dns_srv_t *srv,
       size_t n)
{
    link_t *l = ud;
    int tls = l->srv_answers == 0;   /* _xmpps-server is asked first */
    size_t i;

    l->dns = NULL;
    l->srv_answers++;
    /* RFC 7673 3.1: a bogus SRV answer ends the attempt. */
    if (sec == EMBER_DNS_BOGUS) {
        remember_failure(l, "DNSSEC: bogus SRV answer");
        link_fail(l, EMBER_COND_REMOTE_SERVER_NOT_FOUND,
                  "the SRV records of %s failed DNSSEC validation",
                  l->remote);
        link_free(l);
        return;
    }
    if (sec != EMBER_DNS_SECURE)
        l->srv_insecure = 1;
    if (status < 0 && status != EMBER_ENOENT)
        ember__log(EMBER_LOG_INFO, "s2s", "%s: SRV lookup failed: %s",
                   l->remote, ember_strerror(status));
    for (i = 0; i < n && l->ntargets < MAX_TARGETS; i++) {
        /* "." : the domain says it offers no such service. */
        if (strcmp(srv[i].target, ".") == 0 || srv[i].target[0] == '\0')
            continue;
        snprintf(l->targets[l->ntargets].host,
                 sizeof(l->targets[l->ntargets].host), "%s", srv[i].target);
        l->targets[l->ntargets].port = srv[i].port;
        l->targets[l->ntargets].priority = srv[i].priority;
        l->targets[l->ntargets].weight = srv[i].weight;
        l->targets[l->ntargets].tls = tls;
        l->targets[l->ntargets].secure = sec == EMBER_DNS_SECURE;
        l->ntargets++;
    }
    if (l->srv_answers == 1) {
        char name[300];

        snprintf(name, sizeof(name), "_xmpp-server._tcp.%s", l->remote);
        if ((l->dns = ember__dns_srv(name, on_srv, l)) == NULL)
            out_give_up(l);
        return;
    }
    if (l->ntargets == 0) {
        /* RFC 6120 3.2.2: no SRV records, the domain itself on 5269. */
        snprintf(l->targets[0].host, sizeof(l->targets[0].host), "%s",
                 l->remote);
        l->targets[0].port = 5269;
        /* No SRV records, proven: TLSA as RFC 6698 has them for the
         * domain itself. */
        l->targets[0].secure = !l->srv_insecure;
        l->ntargets = 1;
    } else {
        qsort(l->targets, l->ntargets, sizeof(l->targets[0]), target_order);
    }
    l->next_target = 0;
    out_next_target(l);
}


static void
on_tlsa(void *ud, int status, ember_dns_sec_t sec, char *const *rdata,
        const int *len, size_t n)
{
    link_t *l = ud;
    const target_t *t = &l->targets[l->next_target - 1];
    size_t i;

    l->dns = NULL;
    if (sec == EMBER_DNS_BOGUS) {
        out_retry(l, 1, "DANE: bogus TLSA answer for %s:%d", t->host,
                  t->port);
        return;
    }
    if (status < 0 && status != EMBER_ENOENT) {
        out_retry(l, 1, "DANE: TLSA lookup for %s:%d failed: %s", t->host,
                  t->port, ember_strerror(status));
        return;
    }
    /* Insecure, absent or all unusable (RFC 7671 4.1): as without DANE. */
    for (i = 0; sec == EMBER_DNS_SECURE && i < n &&
                l->ntlsa < EMBER_TLSA_MAX; i++) {
        if (!ember__tls_tlsa_usable(rdata[i], len[i]))
            continue;
        if (ember__buf_append(&l->tlsa, rdata[i], (size_t) len[i]) < 0) {
            out_give_up(l);
            return;
        }
        l->tlsa_len[l->ntlsa++] = len[i];
    }
    out_try_address(l);
}


static void
on_addr(void *ud, int status, ember_dns_sec_t sec,
        const struct sockaddr_storage *addrs, size_t n)
{
    link_t *l = ud;
    const target_t *t = &l->targets[l->next_target - 1];
    char name[300];

    l->dns = NULL;
    if (sec == EMBER_DNS_BOGUS) {
        out_retry(l, 1, "DNSSEC: bogus address answer for %s", t->host);
        return;
    }
    memcpy(l->addrs, addrs, n * sizeof(*addrs));
    l->naddrs = n;
    l->next_addr = 0;
    if (n == 0)
        ember__log(EMBER_LOG_INFO, "s2s", "%s: no address for %s",
                   l->remote, t->host);
    /* RFC 7673 3.2: TLSA records only under secure SRV and addresses. */
    if (n > 0 && ember__config()->s2s.dane && ember__dns_validating() &&
        t->secure && sec == EMBER_DNS_SECURE) {
        snprintf(name, sizeof(name), "_%d._tcp.%s", t->port, t->host);
        if ((l->dns = ember__dns_tlsa(name, on_tlsa, l)) == NULL)
            out_give_up(l);
        return;
    }
    out_try_address(l);
}


static void
out_give_up(link_t *l)
{
    link_fail(l, EMBER_COND_REMOTE_SERVER_NOT_FOUND, "out of memory");
    link_free(l);
}


static void
out_next_target(link_t *l)
{
    target_t *t;

    if (l->next_target >= l->ntargets) {
        link_fail(l, EMBER_COND_REMOTE_SERVER_NOT_FOUND,
                  "no server of %s could be reached", l->remote);
        link_free(l);
        return;
    }
    t = &l->targets[l->next_target++];
    l->state = OUT_RESOLVING;
    ember__buf_free(&l->tlsa);
    l->ntlsa = 0;
    if ((l->dns = ember__dns_addr(t->host, t->port, on_addr, l)) == NULL)
        out_give_up(l);
}


static void
out_try_address(link_t *l)
{
    const target_t *t = &l->targets[l->next_target - 1];
    ember_conn_opts_t opts = {
        .pool = EMBER_CONN_POOL_S2S,
        .direct_tls = t->tls,
        .alpn = t->tls ? "xmpp-server" : NULL,
        .server_name = l->remote,
    };

    if (l->next_addr >= l->naddrs) {
        out_next_target(l);
        return;
    }
    l->state = OUT_CONNECTING;
    l->direct_tls = t->tls;
    l->dane_usage = -1;
    l->tls_on = 0;
    l->header_sent = 0;
    if (ember__conn_connect((const struct sockaddr *)
                                &l->addrs[l->next_addr++],
                            &opts, &conn_events, l, &l->conn) < 0) {
        l->conn = NULL;
        out_try_address(l);
        return;
    }
    ember__conn_set_idle(l->conn,
                         (uint64_t) ember__config()->s2s.idle_timeout * 1000);
}


static link_t *
out_get(const char *local, const char *remote)
{
    const ember_config_t *cfg = ember__config();
    char key[520], name[300];
    link_t *l;

    out_key(key, sizeof(key), local, remote);
    if ((l = ember__hmap_get(&out_links, key)) != NULL)
        return l;
    if ((l = link_new(1, local, remote)) == NULL)
        return NULL;
    if ((l->key = strdup(key)) == NULL ||
        ember__hmap_put(&out_links, l->key, l) < 0) {
        link_free(l);
        return NULL;
    }
    l->state = OUT_RESOLVING;
    l->deadline = uv_now(ember__loop()) +
                  (uint64_t) cfg->s2s.connect_timeout * 1000;
    snprintf(name, sizeof(name), "_xmpps-server._tcp.%s", remote);
    if ((l->dns = ember__dns_srv(name, on_srv, l)) == NULL) {
        link_free(l);
        return NULL;
    }
    return l;
}


/* ---- outbound: the stream ---- */

static void
out_up(link_t *l)
{
    const char *p = l->queue.data, *end = p + l->queue.len;
    const ember_s2s_limit_t *lim;

    l->state = OUT_UP;
    l->deadline = 0;
    if (l->bidi && (lim = limit_for(l->remote)) != NULL && lim->rate >= 0)
        ember__conn_set_rate(l->conn, (uint64_t) lim->rate,
                             (uint64_t) lim->burst);
    if (l->conn != NULL && l->tls_on && l->dane_usage < 0) {
        char why[160];

        snprintf(l->cert, sizeof(l->cert), "%s",
                 ember__tls_peer_proves(ember__conn_tls(l->conn), l->remote,
                                        why, sizeof(why)) ? "valid" : why);
    }
    if (l->ctl.len > 0) {
        link_write(l, l->ctl.data, l->ctl.len);
        ember__buf_free(&l->ctl);
    }
    ember__log(EMBER_LOG_INFO, "s2s", "%s -> %s: authenticated by %s%s%s",
               l->local, l->remote, l->auth, l->tls_on ? ", TLS" : "",
               l->dane_usage >= 0 ? ", peer certificate matched by DANE"
                                  : "");
    while (p != NULL && p < end && !l->closing) {
        size_t n = strlen(p);

        link_write(l, p, n);
        l->stanzas_out++;
        p += n + 1;
    }
    ember__buf_free(&l->queue);
    l->nqueue = 0;
}


static void
out_dialback(link_t *l)
{
    char key[65];
    ember_buf_t b = { 0 };

    dialback_key(l->remote, l->local, l->id, key);
    db_write(&b, "result", l->local, l->remote, NULL, NULL, key, NULL);
    link_write(l, b.data, b.len);
    ember__buf_free(&b);
    l->state = OUT_DIALBACK;
    l->auth = "dialback";
}


static int
offers_mechanism(ember_stanza_t *features, const char *mech)
{
    ember_stanza_t *m = ember__stanza_child(features, "mechanisms", NS_SASL);

    for (m = m != NULL ? ember__stanza_first(m) : NULL; m != NULL;
         m = ember__stanza_next(m))
        if (strcmp(ember__stanza_name(m), "mechanism") == 0 &&
            strcmp(ember__stanza_text(m), mech) == 0)
            return 1;
    return 0;
}


static void
out_features(link_t *l, ember_stanza_t *features)
{
    const ember_config_t *cfg = ember__config();
    char *b64 = NULL;
    size_t n;
    int db;

    if (l->state == OUT_SASL_DONE) {
        out_up(l);
        return;
    }
    if (!l->tls_on && ember__stanza_child(features, "starttls", NS_TLS)) {
        link_puts(l, "<starttls xmlns='" NS_TLS "'/>");
        l->state = OUT_STARTTLS;
        return;
    }
    if (!l->tls_on && l->ntlsa > 0) {
        /* RFC 7673 4.1: usable TLSA records make TLS mandatory. */
        out_retry(l, 0, "DANE: %s offers no TLS", l->addr);
        return;
    }
    if (!l->tls_on && cfg->s2s.require_tls) {
        link_fail(l, EMBER_COND_REMOTE_SERVER_NOT_FOUND,
                  "%s offers no TLS", l->remote);
        link_close(l, EMBER_STREAM_POLICY_VIOLATION, "TLS is required");
        return;
    }
    if (l->ctl.len > 0) {
        link_write(l, l->ctl.data, l->ctl.len);
        ember__buf_free(&l->ctl);
    }
    if (cfg->s2s.bidi && !l->bidi &&
        ember__stanza_child(features, "bidi", NS_BIDI_FEAT) != NULL) {
        link_puts(l, "<bidi xmlns='" NS_BIDI "'/>");
        l->bidi = 1;
    }
    db = cfg->s2s.dialback &&
         (ember__stanza_child(features, "dialback", NS_DB_FEAT) != NULL ||
          l->peer_db);
    if (l->tls_on && !l->sasl_tried && offers_mechanism(features, "EXTERNAL")) {
        l->sasl_tried = 1;
        gsasl_base64_to(l->local, strlen(l->local), &b64, &n);
        link_puts(l, "<auth xmlns='" NS_SASL "' mechanism='EXTERNAL'>");
        link_puts(l, b64 != NULL ? b64 : "=");
        link_puts(l, "</auth>");
        gsasl_free(b64);
        l->state = OUT_SASL;
        l->auth = "SASL EXTERNAL";
        return;
    }
    if (db) {
        out_dialback(l);
        return;
    }
    link_fail(l, EMBER_COND_REMOTE_SERVER_NOT_FOUND,
              "no way to authenticate to %s (%s)", l->remote,
              cfg->s2s.dialback ? "no SASL EXTERNAL nor dialback offered"
                                : "dialback is off here");
    link_close(l, EMBER_STREAM_NONE, NULL);
}


static void verify_answer(link_t *out, ember_stanza_t *el);


static void
out_element(link_t *l, ember_stanza_t *el)
{
    const char *name = ember__stanza_name(el);
    const char *ns = ember__stanza_xmlns(el);
    const char *type = ember__stanza_attr(el, "type");
    ember_stanza_t *c;

    if (strcmp(ns, NS_STREAMS) == 0 && strcmp(name, "features") == 0) {
        out_features(l, el);
    } else if (strcmp(ns, NS_STREAMS) == 0 && strcmp(name, "error") == 0) {
        c = ember__stanza_first(el);
        link_fail(l, EMBER_COND_REMOTE_SERVER_NOT_FOUND,
                  "%s sent a stream error: %s", l->remote,
                  c != NULL ? ember__stanza_name(c) : "?");
        link_close(l, EMBER_STREAM_NONE, NULL);
    } else if (strcmp(ns, NS_TLS) == 0 && strcmp(name, "proceed") == 0 &&
               l->state == OUT_STARTTLS) {
        ember__xml_stop(l->xml);
        if (ember__conn_start_tls(l->conn) < 0)
            link_close(l, EMBER_STREAM_INTERNAL_SERVER_ERROR, NULL);
    } else if (strcmp(ns, NS_SASL) == 0 && strcmp(name, "success") == 0 &&
               l->state == OUT_SASL) {
        l->state = OUT_SASL_DONE;
        ember__xml_restart(l->xml);
        send_header(l);
    } else if (strcmp(ns, NS_SASL) == 0 && strcmp(name, "failure") == 0 &&
               l->state == OUT_SASL) {
        ember__log(EMBER_LOG_INFO, "s2s", "%s -> %s: SASL EXTERNAL refused%s",
                   l->local, l->remote,
                   ember__config()->s2s.dialback ? ", trying dialback" : "");
        if (ember__config()->s2s.dialback) {
            out_dialback(l);
        } else {
            link_fail(l, EMBER_COND_REMOTE_SERVER_NOT_FOUND,
                      "%s refused our certificate", l->remote);
            link_close(l, EMBER_STREAM_NONE, NULL);
        }
    } else if (strcmp(ns, NS_DB) == 0 && strcmp(name, "result") == 0 &&
               l->state == OUT_DIALBACK) {
        if (type != NULL && strcmp(type, "valid") == 0) {
            out_up(l);
        } else {
            link_fail(l, EMBER_COND_REMOTE_SERVER_NOT_FOUND,
                      "%s refused our dialback key (%s)", l->remote,
                      type != NULL ? type : "no type");
            link_close(l, EMBER_STREAM_NONE, NULL);
        }
    } else if (strcmp(ns, NS_DB) == 0 && strcmp(name, "verify") == 0) {
        verify_answer(l, el);
    } else if (strcmp(ns, NS_DB) == 0 && strcmp(name, "result") == 0 &&
               l->bidi && l->state == OUT_UP) {
        /* The peer would send for more of its domains (XEP-0288 4): not
         * taken; an answer without a request authorizes nothing. */
        if (type == NULL && ember__stanza_attr(el, "from") != NULL &&
            ember__stanza_attr(el, "to") != NULL) {
            ember_buf_t b = { 0 };

            db_write(&b, "result", ember__stanza_attr(el, "to"),
                     ember__stanza_attr(el, "from"), NULL, "error", NULL,
                     "feature-not-implemented");
            link_write(l, b.data, b.len);
            ember__buf_free(&b);
        }
    } else {
        /* Stanzas come this way only on a bidi link (xml_element). */
        link_close(l, EMBER_STREAM_UNSUPPORTED_STANZA_TYPE, NULL);
    }
}


/* ---- inbound ---- */

static void
in_features(link_t *l)
{
    const ember_config_t *cfg = ember__config();
    char why[160];
    ember_buf_t b = { 0 };
    ember_tls_t *tls = ember__conn_tls(l->conn);
    int external;

    ember__buf_puts(&b, "<stream:features>");
    if (!l->tls_on) {
        ember__buf_puts(&b, "<starttls xmlns='" NS_TLS "'>");
        if (cfg->s2s.require_tls)
            ember__buf_puts(&b, "<required/>");
        ember__buf_puts(&b, "</starttls>");
    }
    if (l->tls_on && l->remote != NULL && !pair_proved(l, l->local, l->remote)) {
        external = ember__tls_peer_proves(tls, l->remote, why, sizeof(why));
        snprintf(l->cert, sizeof(l->cert), "%s",
                 external ? "valid" : why);
        if (external)
            ember__buf_puts(&b, "<mechanisms xmlns='" NS_SASL "'>"
                                "<mechanism>EXTERNAL</mechanism>"
                                "</mechanisms>");
    }
    if (cfg->s2s.dialback && (l->tls_on || !cfg->s2s.require_tls))
        ember__buf_puts(&b, "<dialback xmlns='" NS_DB_FEAT "'><errors/>"
                            "</dialback>");
    if (cfg->s2s.bidi && l->npairs == 0)
        ember__buf_puts(&b, "<bidi xmlns='" NS_BIDI_FEAT "'/>");
    ember__buf_puts(&b, "</stream:features>");
    link_write(l, b.data, b.len);
    ember__buf_free(&b);
}


static void
in_open(link_t *l, ember_stanza_t *header)
{
    const char *to = ember__stanza_attr(header, "to");
    const char *from = ember__stanza_attr(header, "from");
    const char *ns = ember__stanza_xmlns(header);
    const char *version = ember__stanza_attr(header, "version");
    char domain[1024];

    ember__nonce_hex(l->id, 8);
    if (l->local == NULL && to != NULL && (l->local = strdup(to)) == NULL)
        goto refuse;
    if (from != NULL && l->remote == NULL &&
        ember__jid_prep_domain(from, domain, sizeof(domain)) == 0)
        l->remote = strdup(domain);
    send_header(l);
    if (ns == NULL || strcmp(ns, NS_SERVER) != 0) {
        link_close(l, EMBER_STREAM_INVALID_NAMESPACE, NULL);
        return;
    }
    if (to == NULL || !is_local_domain(to) ||
        (l->local != NULL && strcmp(l->local, to) != 0)) {
        link_close(l, EMBER_STREAM_HOST_UNKNOWN, NULL);
        return;
    }
    if (l->remote != NULL && is_blocked(l->remote)) {
        remember_failure(l, "blocked domain");
        link_close(l, EMBER_STREAM_POLICY_VIOLATION, NULL);
        return;
    }
    if (version == NULL || strncmp(version, "1.", 2) != 0) {
        link_close(l, EMBER_STREAM_UNSUPPORTED_VERSION, NULL);
        return;
    }
    l->state = IN_OPEN;
    in_features(l);
    offer_routes(l);
    return;
refuse:
    link_close(l, EMBER_STREAM_INTERNAL_SERVER_ERROR, NULL);
}


static void
in_auth(link_t *l, ember_stanza_t *el)
{
    const char *mech = ember__stanza_attr(el, "mechanism");
    const char *text = ember__stanza_text(el);
    char *authzid = NULL, why[160], domain[1024];
    const char *claimed = l->remote;
    size_t n = 0;

    if (mech == NULL || strcmp(mech, "EXTERNAL") != 0 || !l->tls_on) {
        link_puts(l, "<failure xmlns='" NS_SASL "'><invalid-mechanism/>"
                     "</failure>");
        return;
    }
    if (text != NULL && *text != '\0' && strcmp(text, "=") != 0 &&
        gsasl_base64_from(text, strlen(text), &authzid, &n) == GSASL_OK &&
        n > 0 && n < sizeof(why)) {
        /* Not NUL-terminated. */
        snprintf(why, sizeof(why), "%.*s", (int) n, authzid);
        if (ember__jid_prep_domain(why, domain, sizeof(domain)) == 0)
            claimed = domain;
    }
    if (claimed == NULL ||
        !ember__tls_peer_proves(ember__conn_tls(l->conn), claimed, why,
                                sizeof(why))) {
        snprintf(l->cert, sizeof(l->cert), "%s",
                 claimed == NULL ? "no domain named" : why);
        remember_failure(l, l->cert);
        link_puts(l, "<failure xmlns='" NS_SASL "'><not-authorized/>"
                     "</failure>");
        gsasl_free(authzid);
        return;
    }
    snprintf(l->cert, sizeof(l->cert), "valid");
    l->auth = "SASL EXTERNAL";
    l->state = IN_OPENING;   /* no stanzas our way until the restart */
    if (pair_add(l, l->local, claimed) < 0) {
        gsasl_free(authzid);
        link_close(l, EMBER_STREAM_POLICY_VIOLATION, TOO_MANY_LINKS);
        return;
    }
    gsasl_free(authzid);
    link_puts(l, "<success xmlns='" NS_SASL "'/>");
    ember__xml_restart(l->xml);
    l->header_sent = 0;
    l->state = IN_OPENING;
}


static void
db_result_reply(link_t *l, const char *local, const char *remote,
                const char *type)
{
    ember_buf_t b = { 0 };

    db_write(&b, "result", local, remote, NULL, type, NULL, NULL);
    link_write(l, b.data, b.len);
    ember__buf_free(&b);
}


/* The peer claims to be `from` (XEP-0220 2.1.2): ask `from`'s own
 * servers whether the key is theirs. */
static void
in_db_result(link_t *l, ember_stanza_t *el)
{
    const char *to = ember__stanza_attr(el, "to");
    const char *from = ember__stanza_attr(el, "from");
    const char *key = ember__stanza_text(el);
    char domain[1024], why[160];
    ember_buf_t b = { 0 };
    verify_t *v;
    link_t *out;

    if (to == NULL || from == NULL ||
        ember__jid_prep_domain(from, domain, sizeof(domain)) < 0) {
        link_close(l, EMBER_STREAM_IMPROPER_ADDRESSING, NULL);
        return;
    }
    if (!is_local_domain(to)) {
        link_close(l, EMBER_STREAM_HOST_UNKNOWN, NULL);
        return;
    }
    if (!ember__config()->s2s.dialback || is_local_domain(domain)) {
        db_result_reply(l, to, domain, "invalid");
        return;
    }
    if (is_blocked(domain)) {
        remember_failure(l, "blocked domain");
        db_result_reply(l, to, domain, "invalid");
        return;
    }
    l->auth = "dialback";
    /* A certificate that proves the name makes the round trip moot
     * (XEP-0344). */
    if (l->tls_on && ember__tls_peer_proves(ember__conn_tls(l->conn), domain,
                                            why, sizeof(why))) {
        snprintf(l->cert, sizeof(l->cert), "valid");
        if (pair_add(l, to, domain) < 0) {
            link_close(l, EMBER_STREAM_POLICY_VIOLATION, TOO_MANY_LINKS);
            return;
        }
        db_result_reply(l, to, domain, "valid");
        return;
    }
    if ((v = calloc(1, sizeof(*v))) == NULL ||
        (v->local = strdup(to)) == NULL ||
        (v->remote = strdup(domain)) == NULL) {
        if (v != NULL)
            free(v->local);
        free(v);
        return;
    }
    v->in = l;
    snprintf(v->id, sizeof(v->id), "%s", l->id);
    v->next = verifies;
    verifies = v;
    db_write(&b, "verify", to, domain, l->id, NULL, key != NULL ? key : "",
             NULL);
    if ((out = out_get(to, domain)) != NULL) {
        if (out->state == OUT_UP || out->state == OUT_DIALBACK)
            link_write(out, b.data, b.len);
        else
            ember__buf_append(&out->ctl, b.data, b.len);
    }
    ember__buf_free(&b);
}


/* We are the authoritative server: is this key one we made? */
static void
in_db_verify(link_t *l, ember_stanza_t *el)
{
    const char *to = ember__stanza_attr(el, "to");
    const char *from = ember__stanza_attr(el, "from");
    const char *id = ember__stanza_attr(el, "id");
    const char *key = ember__stanza_text(el);
    char expect[65];
    ember_buf_t b = { 0 };
    int ok;

    if (to == NULL || from == NULL || id == NULL) {
        link_close(l, EMBER_STREAM_IMPROPER_ADDRESSING, NULL);
        return;
    }
    /* Our outbound link to `from` sent the key over stream `id`. */
    dialback_key(from, to, id, expect);
    ok = is_local_domain(to) && key != NULL && same_secret(key, expect);
    db_write(&b, "verify", to, from, id, ok ? "valid" : "invalid", NULL,
             NULL);
    link_write(l, b.data, b.len);
    ember__buf_free(&b);
}


/* The answer to a <db:verify/> we sent, on the outbound link `out`. */
static void
verify_answer(link_t *out, ember_stanza_t *el)
{
    const char *id = ember__stanza_attr(el, "id");
    const char *type = ember__stanza_attr(el, "type");
    verify_t **pp = &verifies, *v;
    int valid = type != NULL && strcmp(type, "valid") == 0;

    if (id == NULL)
        return;
    for (; (v = *pp) != NULL; pp = &v->next)
        if (strcmp(v->id, id) == 0 && strcmp(v->remote, out->remote) == 0 &&
            strcmp(v->local, out->local) == 0)
            break;
    if (v == NULL)
        return;
    *pp = v->next;
    if (valid && pair_add(v->in, v->local, v->remote) < 0)
        link_close(v->in, EMBER_STREAM_POLICY_VIOLATION, TOO_MANY_LINKS);
    else if (!valid)
        remember_failure(v->in, "dialback key not confirmed");
    db_result_reply(v->in, v->local, v->remote, valid ? "valid" : "invalid");
    free(v->local);
    free(v->remote);
    free(v);
}


/* A stanza from the peer: inbound, or over an outbound bidi link. */
static void
in_stanza(link_t *l, ember_stanza_t *st)
{
    const char *from = ember__stanza_attr(st, "from");
    const char *to = ember__stanza_attr(st, "to");
    ember_jid_t *f, *t;
    int ok;

    if (l->out ? l->state != OUT_UP : l->npairs == 0) {
        ember__stanza_free(st);
        link_close(l, EMBER_STREAM_NOT_AUTHORIZED, NULL);
        return;
    }
    if (from == NULL || to == NULL) {
        ember__stanza_free(st);
        link_close(l, EMBER_STREAM_IMPROPER_ADDRESSING, NULL);
        return;
    }
    f = ember__jid_parse(from);
    t = ember__jid_parse(to);
    if (f == NULL || t == NULL) {
        ember__jid_free(f);
        ember__jid_free(t);
        ember__stanza_free(st);
        link_close(l, EMBER_STREAM_IMPROPER_ADDRESSING, "malformed address");
        return;
    }
    /* RFC 6120 4.9.3.9, 13.7.1.4: only from a domain this stream proved,
     * to the domain it proved it for.  On our own link, XEP-0288 allows
     * the domain we reached, to the one we authenticated as. */
    ok = l->out ? strcmp(ember__jid_domain(f), l->remote) == 0 &&
                  strcmp(ember__jid_domain(t), l->local) == 0
                : pair_proved(l, ember__jid_domain(t), ember__jid_domain(f));
    ember__jid_free(f);
    ember__jid_free(t);
    if (!ok) {
        ember__stanza_free(st);
        link_close(l, EMBER_STREAM_INVALID_FROM, NULL);
        return;
    }
    l->stanzas_in++;
    ember__stanza_rename_ns(st, NS_SERVER, NS_CLIENT);
    ember__route_stanza(st, NULL);
}


static void
in_element(link_t *l, ember_stanza_t *el)
{
    const char *name = ember__stanza_name(el);
    const char *ns = ember__stanza_xmlns(el);
    int secure_enough = l->tls_on || !ember__config()->s2s.require_tls;

    if (strcmp(ns, NS_TLS) == 0 && strcmp(name, "starttls") == 0 &&
        !l->tls_on) {
        link_puts(l, "<proceed xmlns='" NS_TLS "'/>");
        ember__xml_restart(l->xml);
        l->header_sent = 0;
        l->state = IN_OPENING;
        if (ember__conn_start_tls(l->conn) < 0)
            link_close(l, EMBER_STREAM_INTERNAL_SERVER_ERROR, NULL);
    } else if (!secure_enough) {
        link_close(l, EMBER_STREAM_POLICY_VIOLATION, "STARTTLS is required");
    } else if (strcmp(ns, NS_BIDI) == 0 && strcmp(name, "bidi") == 0 &&
               ember__config()->s2s.bidi && l->npairs == 0) {
        l->bidi = 1;
    } else if (strcmp(ns, NS_SASL) == 0 && strcmp(name, "auth") == 0) {
        in_auth(l, el);
    } else if (strcmp(ns, NS_DB) == 0 && strcmp(name, "result") == 0) {
        in_db_result(l, el);
    } else if (strcmp(ns, NS_DB) == 0 && strcmp(name, "verify") == 0) {
        in_db_verify(l, el);
    } else if (strcmp(ns, NS_SERVER) == 0 && ember__stanza_is_stanza(el)) {
        in_stanza(l, el);
        return;
    } else if (strcmp(ns, NS_STREAMS) == 0 && strcmp(name, "error") == 0) {
        link_close(l, EMBER_STREAM_NONE, NULL);
    } else {
        link_close(l, EMBER_STREAM_UNSUPPORTED_STANZA_TYPE, NULL);
    }
    ember__stanza_free(el);
}


/* ---- parser callbacks ---- */

static void
xml_open(void *ud, ember_stanza_t *header, const char *name, const char *ns)
{
    link_t *l = ud;
    const char *id = ember__stanza_attr(header, "id");

    if (l->out) {
        if (id != NULL)
            snprintf(l->id, sizeof(l->id), "%s", id);
        l->peer_db = 1;   /* the parser accepted db: elements anyway */
        if (ember__stanza_xmlns(header) == NULL ||
            strcmp(ember__stanza_xmlns(header), NS_SERVER) != 0)
            link_close(l, EMBER_STREAM_INVALID_NAMESPACE, NULL);
    } else {
        in_open(l, header);
    }
    ember__stanza_free(header);
}


static void
xml_element(void *ud, ember_stanza_t *el)
{
    link_t *l = ud;

    if (l->closing) {
        ember__stanza_free(el);
        return;
    }
    ember__log(EMBER_LOG_DEBUG, "s2s", "%s %s %s: <%s xmlns='%s'>",
               l->local ? l->local : "?", l->out ? "->" : "<-",
               l->remote ? l->remote : l->addr, ember__stanza_name(el),
               ember__stanza_xmlns(el));
    if (l->out && l->bidi && l->state == OUT_UP &&
        strcmp(ember__stanza_xmlns(el), NS_SERVER) == 0 &&
        ember__stanza_is_stanza(el)) {
        in_stanza(l, el);
    } else if (l->out) {
        out_element(l, el);
        ember__stanza_free(el);
    } else {
        in_element(l, el);
    }
}


static void
xml_close(void *ud)
{
    link_t *l = ud;

    link_close(l, EMBER_STREAM_NONE, NULL);
}


static void
xml_error(void *ud, ember_stream_cond_t cond, const char *text)
{
    link_t *l = ud;

    if (l->out && l->state != OUT_UP)
        link_fail(l, EMBER_COND_REMOTE_SERVER_NOT_FOUND,
                  "%s sent bad XML", l->remote);
    link_close(l, cond, text);
}


/* ---- the API ---- */

void
ember__s2s_send(const ember_stanza_t *st, const char *local,
                const char *remote)
{
    const ember_config_t *cfg = ember__config();
    const char *ns = ember__stanza_xmlns(st);
    const ember_s2s_limit_t *lim;
    ember_buf_t wire = { 0 };
    char key[520];
    link_t *l, *in;

    if (!started || !is_local_domain(local)) {
        ember__bounce(st, EMBER_COND_REMOTE_SERVER_NOT_FOUND, NULL);
        return;
    }
    if (is_blocked(remote)) {
        ember__bounce(st, EMBER_COND_REMOTE_SERVER_NOT_FOUND,
                      "this server does not talk to that domain");
        return;
    }
    if (is_special_use(remote)) {
        ember__bounce(st, EMBER_COND_REMOTE_SERVER_NOT_FOUND,
                      "a special-use name (RFC 6761) names no server");
        return;
    }
    if (ember__stanza_write(st, ns != NULL && strcmp(ns, NS_CLIENT) == 0
                                ? NS_CLIENT : NS_SERVER, &wire) < 0) {
        ember__bounce(st, EMBER_COND_REMOTE_SERVER_NOT_FOUND, NULL);
        return;
    }
    out_key(key, sizeof(key), local, remote);
    l = ember__hmap_get(&out_links, key);
    /* The peer's bidi link, unless stanzas already wait on ours (order). */
    if ((l == NULL || (l->state != OUT_UP && l->nqueue == 0)) &&
        (in = ember__hmap_get(&bidi_routes, key)) != NULL &&
        in->state == IN_OPEN)
        l = in;
    else if (l == NULL && (l = out_get(local, remote)) == NULL) {
        ember__buf_free(&wire);
        ember__bounce(st, EMBER_COND_REMOTE_SERVER_NOT_FOUND, NULL);
        return;
    }
    lim = limit_for(remote);
    if (l->state == OUT_UP || !l->out) {
        link_write(l, wire.data, wire.len);
        l->stanzas_out++;
    } else if (l->nqueue >= (size_t) (lim != NULL && lim->max_queue >= 0
                                      ? lim->max_queue : cfg->s2s.max_queue)) {
        ember__bounce(st, EMBER_COND_RESOURCE_CONSTRAINT,
                      "too many stanzas waiting for that server");
    } else {
        ember__buf_append(&l->queue, wire.data, wire.len);
        ember__buf_append(&l->queue, "", 1);
        l->nqueue++;
    }
    ember__buf_free(&wire);
}


int
ember__s2s_accept(uv_stream_t *server, const ember_listener_conf_t *lc)
{
    const ember_config_t *cfg = ember__config();
    ember_conn_opts_t opts = {
        .pool = EMBER_CONN_POOL_S2S,
        .max_per_ip = cfg->limits.max_connections_per_ip,
        .direct_tls = lc->type == EMBER_LISTEN_S2S_TLS,
        .alpn = lc->type == EMBER_LISTEN_S2S_TLS ? "xmpp-server" : NULL,
        .peer_cert = 1,
        .rate = lc->rate,
        .burst = lc->burst,
        .connects_per_second = cfg->limits.connections_per_second_per_ip,
    };
    link_t *l = link_new(0, NULL, NULL);
    int rc;

    if (l == NULL)
        return EMBER_ENOMEM;
    l->state = IN_OPENING;
    l->tls_on = 0;
    rc = ember__conn_accept(server, &opts, &conn_events, l, &l->conn);
    if (l->conn == NULL) {
        link_free(l);
        return rc;
    }
    snprintf(l->addr, sizeof(l->addr), "%s", ember__conn_ip(l->conn));
    if (rc < 0 || link_parser(l) < 0) {
        ember__conn_close(l->conn);
        return rc < 0 ? rc : EMBER_ENOMEM;
    }
    ember__conn_set_deadline(l->conn, (uint64_t) cfg->limits.auth_timeout *
                                          1000);
    ember__conn_set_idle(l->conn, (uint64_t) cfg->s2s.idle_timeout * 1000);
    return 0;
}


static void
sweep(uv_timer_t *t)
{
    uint64_t now = uv_now(ember__loop());
    link_t *l, *n;

    for (l = links; l != NULL; l = n) {
        n = l->next;
        if (!l->out || l->deadline == 0 || now < l->deadline ||
            l->state == OUT_UP)
            continue;
        l->deadline = 0;
        link_fail(l, EMBER_COND_REMOTE_SERVER_TIMEOUT,
                  "the link to %s did not come up in %d s", l->remote,
                  ember__config()->s2s.connect_timeout);
        if (l->conn != NULL) {
            l->fail_cond = EMBER_COND_REMOTE_SERVER_TIMEOUT;
            link_close(l, EMBER_STREAM_CONNECTION_TIMEOUT, NULL);
        } else {
            link_free(l);
        }
    }
}


int
ember__s2s_start(const ember_config_t *cfg, char *err, size_t errlen)
{
    int rc;

    if (started)
        return 0;
    if ((rc = ember__dns_init(cfg->s2s.resolver,
                              cfg->s2s.dane ? cfg->s2s.trust_anchor : NULL,
                              err, errlen)) < 0) {
        char msg[300];

        /* The trust anchor or the resolvers: where they are set. */
        snprintf(msg, sizeof(msg), "%s", err);
        if (cfg->s2s.line > 0)
            snprintf(err, errlen, "line %d: %s", cfg->s2s.line, msg);
        return rc;
    }
    gnutls_rnd(GNUTLS_RND_KEY, secret, sizeof(secret));
    uv_timer_init(ember__loop(), &sweep_timer);
    uv_timer_start(&sweep_timer, sweep, SWEEP_MS, SWEEP_MS);
    uv_unref((uv_handle_t *) &sweep_timer);
    started = 1;
    return 0;
}


void
ember__s2s_stop(void)
{
    link_t *l, *n;

    if (!started)
        return;
    for (l = links; l != NULL; l = n) {
        n = l->next;
        l->fail_cond = EMBER_COND_REMOTE_SERVER_NOT_FOUND;
        if (l->conn != NULL)
            link_close(l, EMBER_STREAM_SYSTEM_SHUTDOWN, NULL);
        else
            link_free(l);
    }
    uv_timer_stop(&sweep_timer);
    uv_close((uv_handle_t *) &sweep_timer, NULL);
    ember__dns_cleanup();
    started = 0;
}


void
ember__s2s_cleanup(void)
{
    ember__hmap_free(&out_links);
    ember__hmap_free(&bidi_routes);
}


json_t *
ember__s2s_links(void)
{
    json_t *a = json_array();
    link_t *l;

    for (l = links; l != NULL; l = l->next) {
        const char *state =
            l->state == OUT_UP || l->npairs > 0 ? "up"
            : l->state == OUT_RESOLVING ? "resolving"
            : l->state == OUT_CONNECTING ? "connecting" : "negotiating";
        ember_tls_t *tls = l->conn != NULL ? ember__conn_tls(l->conn) : NULL;

        json_array_append_new(a, json_pack(
            "{s:s?, s:s?, s:s, s:s, s:s?, s:s?, s:s, s:I, s:I, s:I, s:I, "
            "s:s, s:b, s:s?}",
            "local", l->local, "remote", l->remote,
            "direction", l->out ? "out" : "in", "state", state,
            "auth", l->auth,
            "tls", tls != NULL && l->tls_on ? ember__tls_version(tls) : NULL,
            "certificate", l->cert[0] ? l->cert : "unchecked",
            "stanzas_in", (json_int_t) l->stanzas_in,
            "stanzas_out", (json_int_t) l->stanzas_out,
            "since", (json_int_t) l->since,
            "queued", (json_int_t) l->nqueue, "address", l->addr,
            "bidi", l->bidi && (l->out ? l->state == OUT_UP
                                       : l->npairs > 0),
            "dane", l->dane_usage >= 0 ? dane_usage_name[l->dane_usage]
                                       : NULL));
    }
    return a;
}


json_t *
ember__s2s_failures(void)
{
    json_t *a = json_array();
    size_t i, k;

    for (i = 0; i < nfailures; i++) {
        k = (failure_next + FAILURES_KEPT - 1 - i) % FAILURES_KEPT;
        json_array_append_new(a, json_pack(
            "{s:s, s:s, s:s, s:s, s:I}", "local", failures[k].local,
            "remote", failures[k].remote,
            "direction", failures[k].out ? "out" : "in",
            "reason", failures[k].reason, "at", (json_int_t) failures[k].at));
    }
    return a;
}


int
ember__s2s_close_domain(const char *domain)
{
    link_t *l, *n;
    int closed = 0;

    for (l = links; l != NULL; l = n) {
        n = l->next;
        if (l->remote == NULL || strcmp(l->remote, domain) != 0)
            continue;
        closed++;
        if (l->conn != NULL) {
            l->fail_cond = EMBER_COND_REMOTE_SERVER_NOT_FOUND;
            link_close(l, EMBER_STREAM_POLICY_VIOLATION,
                       "closed by the administrator");
        } else {
            link_free(l);
        }
    }
    return closed;
}
