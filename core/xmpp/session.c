/* core/session.c -- client streams (RFC 6120): TLS, SASL, bind, routing. */
#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hmap.h"
#include "base/hooks.h"
#include "base/jid.h"
#include "base/log.h"
#include "base/owner.h"
#include "xmpp/errors.h"
#include "xmpp/router.h"
#include "xmpp/sasl.h"
#include "base/process.h"
#include "xmpp/session.h"
#include "xmpp/stanza.h"
#include "net/tls.h"
#include "xmpp/xmlstream.h"

#define NS_CLIENT  "jabber:client"
#define NS_STREAMS "http://etherx.jabber.org/streams"
#define NS_XSTREAM "urn:ietf:params:xml:ns:xmpp-streams"
#define NS_TLS     "urn:ietf:params:xml:ns:xmpp-tls"
#define NS_SASL    "urn:ietf:params:xml:ns:xmpp-sasl"
#define NS_BIND    "urn:ietf:params:xml:ns:xmpp-bind"
#define NS_SESSION "urn:ietf:params:xml:ns:xmpp-session"
#define NS_SASL_CB "urn:xmpp:sasl-cb:0"

/* A client that does not read its stream is cut off past this backlog. */
#define MAX_WRITE_BACKLOG (4u << 20)
#define MAX_SASL_FAILURES 3

typedef enum {
    ST_CONNECTED,   /* waiting for the stream header */
    ST_OPEN,        /* features sent: STARTTLS or SASL */
    ST_AUTHED,      /* restarted after SASL: bind */
    ST_BOUND,
    ST_CLOSING
} session_state_t;

typedef struct session_slot_s {
    ember_module_t *m;
    void *value;
    struct session_slot_s *next;
} session_slot_t;

typedef struct slot_dtor_s {
    ember_module_t *m;
    void (*dtor)(void *);
    struct slot_dtor_s *next;
} slot_dtor_t;

struct ember_session_s {
    uv_tcp_t tcp;
    session_state_t state;
    unsigned direct_tls : 1;
    unsigned require_tls : 1;
    unsigned header_sent : 1;
    unsigned available : 1;
    unsigned in_sasl : 1;
    unsigned counted_ip : 1;
    int priority;
    int sasl_failures;
    ember_xml_t *xml;
    ember_tls_t *tls;
    ember_sasl_t *sasl;
    char *host;
    ember_jid_t *jid;
    const char *mechanism;
    char *client;            /* software, from XEP-0092, when known */
    char id[24];
    char refkey[24];         /* the ember_session_ref_t, in decimal */
    char ip[48];
    uint64_t connected_at, last_rx;
    uint64_t stanzas_in, stanzas_out;
    session_slot_t *slots;
    struct ember_session_s *prev, *next;          /* every session */
    struct ember_session_s *user_prev, *user_next; /* same bare JID */
};

typedef struct ip_count_s {
    size_t n;
    char ip[48];
} ip_count_t;

typedef struct write_req_s {
    uv_write_t req;
    char data[];
} write_req_t;

static ember_session_t *sessions;
static size_t session_count, bound_count;
static uint64_t total_in, total_out;     /* stanzas since the start */
static ember_hmap_t by_full, by_bare, per_ip, by_ref;
static ember_session_ref_t last_ref;
static slot_dtor_t *slot_dtors;
static uv_timer_t sweep_timer;
static int sweep_running;
static ember_buf_t scratch;
static char read_buf[65536];

static void session_error(ember_session_t *s, const char *condition,
                          const char *text);
static void session_begin_close(ember_session_t *s);


/* ---- output ---- */

static void
write_done(uv_write_t *req, int status)
{
    free(req);
}


static int
sock_write(ember_session_t *s, const char *data, size_t len)
{
    uv_buf_t buf;
    write_req_t *w;
    int n = 0;

    if (uv_is_closing((uv_handle_t *) &s->tcp))
        return EMBER_ESTATE;
    if (uv_stream_get_write_queue_size((uv_stream_t *) &s->tcp) == 0) {
        buf = uv_buf_init((char *) data, (unsigned) len);
        n = uv_try_write((uv_stream_t *) &s->tcp, &buf, 1);
        if (n == (int) len)
            return 0;
        if (n < 0 && n != UV_EAGAIN)
            return EMBER_EIO;
        if (n < 0)
            n = 0;
    }
    if (uv_stream_get_write_queue_size((uv_stream_t *) &s->tcp) + len >
        MAX_WRITE_BACKLOG) {
        ember__log(EMBER_LOG_INFO, "c2s", "%s: write backlog over %u bytes, "
                   "closing", s->ip, MAX_WRITE_BACKLOG);
        session_begin_close(s);
        return EMBER_ELIMIT;
    }
    if ((w = malloc(sizeof(*w) + len - (size_t) n)) == NULL)
        return EMBER_ENOMEM;
    memcpy(w->data, data + n, len - (size_t) n);
    buf = uv_buf_init(w->data, (unsigned) (len - (size_t) n));
    if (uv_write(&w->req, (uv_stream_t *) &s->tcp, &buf, 1, write_done) < 0) {
        free(w);
        return EMBER_EIO;
    }
    return 0;
}


static int
session_write(ember_session_t *s, const char *data, size_t len)
{
    if (s->tls != NULL && ember__tls_ready(s->tls))
        return ember__tls_send(s->tls, data, len);
    return sock_write(s, data, len);
}


static int
session_puts(ember_session_t *s, const char *text)
{
    return session_write(s, text, strlen(text));
}


static int session_secure(const ember_session_t *s);

static int
session_write_stanza(ember_session_t *s, const ember_stanza_t *st)
{
    int rc;

    ember__buf_reset(&scratch);
    if ((rc = ember__stanza_write(st, NS_CLIENT, &scratch)) < 0)
        return rc;
    return session_write(s, scratch.data, scratch.len);
}


/* Bound sessions take any stanza; a stream not yet authenticated only the
 * answers of pre-auth modules (in-band registration), once it is secure. */
int
ember__session_deliver(ember_session_t *s, const ember_stanza_t *st)
{
    if (s->state != ST_BOUND &&
        !(s->state == ST_OPEN && session_secure(s)))
        return EMBER_ESTATE;
    s->stanzas_out++;
    total_out++;
    return session_write_stanza(s, st);
}


/* ---- lookup ---- */

ember_session_t *
ember__session_by_full(const char *full)
{
    return ember__hmap_get(&by_full, full);
}


ember_session_t *
ember__session_first_of(const char *bare)
{
    return ember__hmap_get(&by_bare, bare);
}


ember_session_t *
ember__session_next_of(ember_session_t *s)
{
    return s->user_next;
}


const ember_jid_t *
ember__session_jid(ember_session_t *s)
{
    return s->state == ST_BOUND ? s->jid : NULL;
}


void
ember__session_set_presence(ember_session_t *s, int available, int priority)
{
    s->available = available != 0;
    s->priority = priority;
}


int
ember__session_available(ember_session_t *s, int *priority)
{
    if (priority != NULL)
        *priority = s->priority;
    return s->state == ST_BOUND && s->available;
}


int
ember__session_priority(ember_session_t *s, int *available)
{
    if (available != NULL)
        *available = s->available;
    return s->priority;
}


const char *
ember__session_host(ember_session_t *s)
{
    return s->host;
}


const char *
ember__session_ip(ember_session_t *s)
{
    return s != NULL ? s->ip : NULL;
}


uint64_t
ember__session_idle_ms(ember_session_t *s)
{
    return uv_now(ember__loop()) - s->last_rx;
}


/* ---- routing tables ---- */

static void
session_unbind(ember_session_t *s)
{
    ember_session_t *head;

    if (s->state != ST_BOUND)
        return;
    if (ember__hmap_get(&by_full, s->jid->full) == s)
        ember__hmap_del(&by_full, s->jid->full);
    if (s->user_prev != NULL) {
        s->user_prev->user_next = s->user_next;
    } else {
        head = s->user_next;
        if (head != NULL)
            ember__hmap_put(&by_bare, head->jid->bare, head);
        else
            ember__hmap_del(&by_bare, s->jid->bare);
    }
    if (s->user_next != NULL)
        s->user_next->user_prev = s->user_prev;
    s->user_prev = s->user_next = NULL;
    bound_count--;
}


static int
session_bind_tables(ember_session_t *s)
{
    ember_session_t *head = ember__hmap_get(&by_bare, s->jid->bare), *t;

    if (ember__hmap_put(&by_full, s->jid->full, s) < 0)
        return EMBER_ENOMEM;
    if (head == NULL) {
        if (ember__hmap_put(&by_bare, s->jid->bare, s) < 0) {
            ember__hmap_del(&by_full, s->jid->full);
            return EMBER_ENOMEM;
        }
    } else {
        for (t = head; t->user_next != NULL; t = t->user_next)
            ;
        t->user_next = s;
        s->user_prev = t;
    }
    bound_count++;
    return 0;
}


/* ---- closing ---- */

static void
slots_free(ember_session_t *s)
{
    session_slot_t *sl;
    slot_dtor_t *d;

    while ((sl = s->slots) != NULL) {
        s->slots = sl->next;
        for (d = slot_dtors; d != NULL; d = d->next)
            if (d->m == sl->m && sl->value != NULL)
                d->dtor(sl->value);
        free(sl);
    }
}


static void
forget_ref(ember_session_t *s)
{
    if (s->refkey[0] != '\0' && ember__hmap_get(&by_ref, s->refkey) == s)
        ember__hmap_del(&by_ref, s->refkey);
}


static void
session_closed_cb(uv_handle_t *h)
{
    ember_session_t *s = h->data;
    ip_count_t *c;

    forget_ref(s);
    if (s->counted_ip &&
        (c = ember__hmap_get(&per_ip, s->ip)) != NULL && --c->n == 0) {
        ember__hmap_del(&per_ip, s->ip);
        free(c);
    }
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        sessions = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    session_count--;
    slots_free(s);
    ember__sasl_free(s->sasl);
    ember__tls_free(s->tls);
    ember__xml_free(s->xml);
    ember__jid_free(s->jid);
    free(s->client);
    free(s->host);
    free(s);
}


static void
shutdown_done(uv_shutdown_t *req, int status)
{
    ember_session_t *s = req->data;

    free(req);
    if (!uv_is_closing((uv_handle_t *) &s->tcp))
        uv_close((uv_handle_t *) &s->tcp, session_closed_cb);
}


/* Leave the routing tables now; the socket closes once writes drain. */
static void
session_begin_close(ember_session_t *s)
{
    uv_shutdown_t *req;

    if (s->state == ST_CLOSING)
        return;
    if (s->state == ST_BOUND) {
        ember__fire_simple(s->jid->domain, EMBER_EV_SESSION_CLOSED, s, NULL);
        ember__log(EMBER_LOG_INFO, "c2s", "%s: %s closed", s->ip,
                   s->jid->full);
        session_unbind(s);
    }
    s->state = ST_CLOSING;
    forget_ref(s);
    if (s->xml != NULL)
        ember__xml_stop(s->xml);
    uv_read_stop((uv_stream_t *) &s->tcp);
    if (uv_is_closing((uv_handle_t *) &s->tcp))
        return;
    if ((req = malloc(sizeof(*req))) != NULL) {
        req->data = s;
        if (uv_shutdown(req, (uv_stream_t *) &s->tcp, shutdown_done) == 0)
            return;
        free(req);
    }
    uv_close((uv_handle_t *) &s->tcp, session_closed_cb);
}


static void
send_header(ember_session_t *s)
{
    char buf[512];

    if (s->header_sent)
        return;
    snprintf(buf, sizeof(buf),
             "<?xml version='1.0'?><stream:stream xmlns='" NS_CLIENT "' "
             "xmlns:stream='" NS_STREAMS "' id='%s'%s%s%s version='1.0' "
             "xml:lang='en'>",
             s->id, s->host != NULL ? " from='" : "",
             s->host != NULL ? s->host : "", s->host != NULL ? "'" : "");
    session_puts(s, buf);
    s->header_sent = 1;
}


static void
session_error(ember_session_t *s, const char *condition, const char *text)
{
    ember_buf_t b = { 0 };

    if (s->state == ST_CLOSING)
        return;
    send_header(s);
    ember__buf_printf(&b, "<stream:error><%s xmlns='" NS_XSTREAM "'/>",
                      condition);
    if (text != NULL) {
        ember__buf_puts(&b, "<text xmlns='" NS_XSTREAM "'>");
        ember__buf_escape(&b, text, strlen(text));
        ember__buf_puts(&b, "</text>");
    }
    ember__buf_puts(&b, "</stream:error></stream:stream>");
    if (b.data != NULL)
        session_write(s, b.data, b.len);
    ember__buf_free(&b);
    ember__log(EMBER_LOG_INFO, "c2s", "%s: stream error %s%s%s", s->ip,
               condition, text != NULL ? ": " : "", text != NULL ? text : "");
    if (s->tls != NULL)
        ember__tls_bye(s->tls);
    session_begin_close(s);
}


void
ember__session_close(ember_session_t *s, const char *condition)
{
    if (condition != NULL) {
        session_error(s, condition, NULL);
        return;
    }
    if (s->state != ST_CLOSING) {
        session_puts(s, "</stream:stream>");
        if (s->tls != NULL)
            ember__tls_bye(s->tls);
    }
    session_begin_close(s);
}


/* ---- features ---- */

static int
session_secure(const ember_session_t *s)
{
    return s->tls != NULL || !s->require_tls;
}


static void
send_features(ember_session_t *s)
{
    ember_stanza_t *f = ember__stanza_new("features", NS_STREAMS), *c;
    const char *mechs[8], *cb_type = NULL;
    char *cb_data = NULL;
    size_t i, n;

    if (f == NULL) {
        session_error(s, "internal-server-error", NULL);
        return;
    }
    if (s->state == ST_OPEN && s->tls == NULL) {
        c = ember__stanza_add_child(f, "starttls", NS_TLS);
        if (s->require_tls)
            ember__stanza_add_child(c, "required", NULL);
    }
    if (s->state == ST_OPEN && session_secure(s)) {
        ember__fire_simple(s->host, EMBER_EV_STREAM_FEATURES_UNAUTH, s, f);
        if (s->tls != NULL &&
            ember__tls_channel_binding(s->tls, &cb_type, &cb_data) == 0) {
            c = ember__stanza_add_child(f, "sasl-channel-binding",
                                        NS_SASL_CB);
            c = ember__stanza_add_child(c, "channel-binding", NULL);
            ember__stanza_set_attr(c, "type", cb_type);
        }
        n = ember__sasl_mechanisms(s->tls != NULL || !s->require_tls,
                                   cb_data != NULL, mechs, 8);
        c = ember__stanza_add_child(f, "mechanisms", NS_SASL);
        for (i = 0; i < n; i++)
            ember__stanza_add_text(ember__stanza_add_child(c, "mechanism",
                                                           NULL), mechs[i]);
        free(cb_data);
    }
    if (s->state == ST_AUTHED) {
        ember__stanza_add_child(f, "bind", NS_BIND);
        c = ember__stanza_add_child(f, "session", NS_SESSION);
        ember__stanza_add_child(c, "optional", NULL);
        ember__fire_simple(s->host, EMBER_EV_STREAM_FEATURES, s, f);
    }
    /* The features element lives in the stream namespace: written with the
     * stream: prefix the header declared. */
    ember__buf_reset(&scratch);
    ember__buf_puts(&scratch, "<stream:features>");
    for (c = ember__stanza_first(f); c != NULL; c = ember__stanza_next(c))
        ember__stanza_write(c, NS_STREAMS, &scratch);
    ember__buf_puts(&scratch, "</stream:features>");
    session_write(s, scratch.data, scratch.len);
    ember__stanza_free(f);
}


/* ---- TLS ---- */

static int
tls_write(void *ud, const char *data, size_t len)
{
    return sock_write(ud, data, len);
}


static void session_plain(void *ud, const char *data, size_t len);

static void
tls_ready(void *ud)
{
    ember_session_t *s = ud;

    ember__log(EMBER_LOG_DEBUG, "c2s", "%s: %s established", s->ip,
               ember__tls_version(s->tls));
}


static const ember_tls_io_t tls_io = { tls_write, session_plain, tls_ready };


static void
start_tls(ember_session_t *s, const ember_stanza_t *st)
{
    if (s->tls != NULL || s->state != ST_OPEN) {
        session_error(s, "policy-violation", "STARTTLS now is not allowed");
        return;
    }
    session_puts(s, "<proceed xmlns='" NS_TLS "'/>");
    if ((s->tls = ember__tls_new(&tls_io, s, 0)) == NULL) {
        session_begin_close(s);
        return;
    }
    s->state = ST_CONNECTED;
    s->header_sent = 0;
    ember__xml_restart(s->xml);
}


/* ---- SASL ---- */

static void
sasl_reply(void *ud, ember_sasl_status_t status, const char *data)
{
    ember_session_t *s = ud;
    char buf[1024];

    if (s->state == ST_CLOSING)
        return;
    switch (status) {
    case EMBER_SASL_CHALLENGE:
        ember__buf_reset(&scratch);
        ember__buf_printf(&scratch, "<challenge xmlns='" NS_SASL "'>%s"
                          "</challenge>", data);
        session_write(s, scratch.data, scratch.len);
        return;
    case EMBER_SASL_SUCCESS:
        ember__buf_reset(&scratch);
        ember__buf_printf(&scratch, "<success xmlns='" NS_SASL "'>%s"
                          "</success>", data != NULL ? data : "");
        session_write(s, scratch.data, scratch.len);
        s->jid = ember__jid_make(ember__sasl_user(s->sasl), s->host, NULL);
        s->mechanism = ember__sasl_mechanism(s->sasl);
        s->in_sasl = 0;
        if (s->jid == NULL) {
            session_error(s, "internal-server-error", NULL);
            return;
        }
        ember__log(EMBER_LOG_INFO, "c2s", "%s: %s authenticated (%s)", s->ip,
                   s->jid->bare, s->mechanism);
        s->state = ST_AUTHED;
        s->header_sent = 0;
        ember__xml_restart(s->xml);
        return;
    case EMBER_SASL_FAILURE:
        snprintf(buf, sizeof(buf), "<failure xmlns='" NS_SASL "'><%s/>"
                 "</failure>", data);
        session_puts(s, buf);
        s->in_sasl = 0;
        ember__sasl_free(s->sasl);
        s->sasl = NULL;
        if (++s->sasl_failures >= MAX_SASL_FAILURES)
            session_error(s, "policy-violation",
                          "too many failed authentication attempts");
        return;
    }
}


static int
mechanism_offered(ember_session_t *s, const char *mech, int have_cb)
{
    const char *mechs[8];
    size_t i, n = ember__sasl_mechanisms(s->tls != NULL || !s->require_tls,
                                         have_cb, mechs, 8);

    for (i = 0; i < n; i++)
        if (strcmp(mechs[i], mech) == 0)
            return 1;
    return 0;
}


static void
sasl_failure(ember_session_t *s, const char *condition)
{
    char buf[256];

    snprintf(buf, sizeof(buf), "<failure xmlns='" NS_SASL "'><%s/></failure>",
             condition);
    session_puts(s, buf);
}


static void
handle_sasl(ember_session_t *s, ember_stanza_t *st)
{
    const char *name = ember__stanza_name(st);
    const char *mech, *cb_type = NULL;
    char *cb_data = NULL;

    if (strcmp(name, "auth") == 0) {
        if (s->in_sasl) {
            sasl_failure(s, "aborted");
            ember__sasl_free(s->sasl);
            s->sasl = NULL;
            s->in_sasl = 0;
            return;
        }
        if (!session_secure(s)) {
            /* RFC 6120 6.5.3: TLS is mandatory-to-negotiate here and
             * the client tried to authenticate without it. */
            sasl_failure(s, "encryption-required");
            return;
        }
        if (s->tls != NULL)
            ember__tls_channel_binding(s->tls, &cb_type, &cb_data);
        mech = ember__stanza_attr(st, "mechanism");
        if (mech == NULL || !mechanism_offered(s, mech, cb_data != NULL)) {
            free(cb_data);
            sasl_failure(s, "invalid-mechanism");
            return;
        }
        s->sasl = ember__sasl_new(s->host, cb_type, cb_data, sasl_reply, s);
        free(cb_data);
        if (s->sasl == NULL) {
            sasl_failure(s, "temporary-auth-failure");
            return;
        }
        s->in_sasl = 1;
        ember__sasl_start(s->sasl, mech, ember__stanza_text(st));
    } else if (strcmp(name, "response") == 0 && s->in_sasl) {
        ember__sasl_step(s->sasl, ember__stanza_text(st));
    } else if (strcmp(name, "abort") == 0 && s->in_sasl) {
        ember__sasl_free(s->sasl);
        s->sasl = NULL;
        s->in_sasl = 0;
        sasl_failure(s, "aborted");
    } else {
        session_error(s, "policy-violation", "unexpected SASL element");
    }
}


/* ---- bind ---- */

static void
iq_reply_raw(ember_session_t *s, const ember_stanza_t *iq,
             ember_stanza_t *payload, ember_cond_t cond)
{
    ember_stanza_t *r;

    if (payload == NULL && cond != EMBER_COND_COUNT) {
        r = ember__error_reply(iq, cond, NULL);
    } else {
        r = ember__stanza_new("iq", NULL);
        if (r != NULL) {
            ember__stanza_set_attr(r, "type", "result");
            if (ember__stanza_attr(iq, "id") != NULL)
                ember__stanza_set_attr(r, "id", ember__stanza_attr(iq, "id"));
            if (payload != NULL)
                ember__stanza_append(r, payload);
        }
    }
    if (r != NULL) {
        session_write_stanza(s, r);
        ember__stanza_free(r);
    }
}


static void
handle_bind(ember_session_t *s, ember_stanza_t *iq, ember_stanza_t *bind)
{
    ember_stanza_t *res = ember__stanza_child(bind, "resource", NULL), *r;
    ember_session_t *old;
    const char *want = res != NULL ? ember__stanza_text(res) : "";
    char generated[32];
    unsigned char rnd[8];
    ember_jid_t *full;
    size_t i;

    if (s->state == ST_BOUND) {
        iq_reply_raw(s, iq, NULL, EMBER_COND_NOT_ALLOWED);
        return;
    }
    if (want[0] == '\0') {
        gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof(rnd));
        for (i = 0; i < sizeof(rnd); i++)
            snprintf(generated + 2 * i, 3, "%02x", rnd[i]);
        want = generated;
    }
    full = ember__jid_make(s->jid->node, s->jid->domain, want);
    if (full == NULL) {
        iq_reply_raw(s, iq, NULL, EMBER_COND_BAD_REQUEST);
        return;
    }
    if ((old = ember__session_by_full(full->full)) != NULL) {
        ember__log(EMBER_LOG_INFO, "c2s", "%s: %s replaces the older "
                   "session", s->ip, full->full);
        session_error(old, "conflict", "Replaced by new connection");
    }
    ember__jid_free(s->jid);
    s->jid = full;
    s->state = ST_BOUND;
    if (session_bind_tables(s) < 0) {
        s->state = ST_AUTHED;
        iq_reply_raw(s, iq, NULL, EMBER_COND_INTERNAL_SERVER_ERROR);
        return;
    }
    r = ember__stanza_new("bind", NS_BIND);
    ember__stanza_add_text(ember__stanza_add_child(r, "jid", NULL),
                           full->full);
    iq_reply_raw(s, iq, r, EMBER_COND_COUNT);
    ember__stanza_free(r);
    ember__log(EMBER_LOG_INFO, "c2s", "%s: bound %s", s->ip, full->full);
    ember__fire_simple(full->domain, EMBER_EV_SESSION_BOUND, s, NULL);
}


/* ---- stanzas ---- */

static int
from_ok(ember_session_t *s, const char *from)
{
    ember_jid_t *j;
    int ok;

    /* Clients almost always send 'from', if at all, exactly as bound:
     * only other spellings need preparing. */
    if (from == NULL || strcmp(from, s->jid->full) == 0 ||
        strcmp(from, s->jid->bare) == 0)
        return 1;
    if ((j = ember__jid_parse(from)) == NULL)
        return 0;
    ok = strcmp(j->full, s->jid->full) == 0 ||
         strcmp(j->full, s->jid->bare) == 0;
    ember__jid_free(j);
    return ok;
}


static void
handle_client_stanza(ember_session_t *s, ember_stanza_t *st)
{
    const char *name = ember__stanza_name(st);
    const char *ns = ember__stanza_xmlns(st);
    ember_stanza_t *child;

    if (ns == NULL || strcmp(ns, NS_CLIENT) != 0 ||
        (strcmp(name, "message") != 0 && strcmp(name, "presence") != 0 &&
         strcmp(name, "iq") != 0)) {
        session_error(s, "unsupported-stanza-type", NULL);
        goto done;
    }
    if (strcmp(name, "iq") == 0 &&
        (child = ember__stanza_first(st)) != NULL &&
        ember__stanza_attr(st, "to") == NULL) {
        const char *type = ember__stanza_attr(st, "type");
        const char *cns = ember__stanza_xmlns(child);

        if (type != NULL && strcmp(type, "set") == 0 &&
            strcmp(cns, NS_BIND) == 0) {
            handle_bind(s, st, child);
            goto done;
        }
        if (type != NULL && strcmp(type, "set") == 0 &&
            strcmp(cns, NS_SESSION) == 0 && s->state == ST_BOUND) {
            iq_reply_raw(s, st, NULL, EMBER_COND_COUNT);
            goto done;
        }
    }
    if (s->state != ST_BOUND) {
        session_error(s, "not-authorized", "bind a resource first");
        goto done;
    }
    if (!from_ok(s, ember__stanza_attr(st, "from"))) {
        session_error(s, "invalid-from", NULL);
        goto done;
    }
    ember__stanza_set_attr(st, "from", s->jid->full);
    s->stanzas_in++;
    total_in++;
    ember__route_stanza(st, s);
    return;
done:
    ember__stanza_free(st);
}


/* ---- parser callbacks ---- */

static void
xml_stream_open(void *ud, ember_stanza_t *header, const char *name,
                const char *ns)
{
    ember_session_t *s = ud;
    const char *to = ember__stanza_attr(header, "to");
    const char *version = ember__stanza_attr(header, "version");
    char host[1024];

    if (s->host == NULL && to != NULL &&
        ember__jid_prep_domain(to, host, sizeof(host)) == 0 &&
        ember__host_exists(host))
        s->host = strdup(host);
    if (strcmp(name, "stream") != 0 || ns == NULL ||
        strcmp(ns, NS_STREAMS) != 0) {
        session_error(s, "invalid-namespace", NULL);
    } else if (ember__stanza_xmlns(header) == NULL ||
               strcmp(ember__stanza_xmlns(header), NS_CLIENT) != 0) {
        session_error(s, "invalid-namespace", "this port serves "
                      "jabber:client");
    } else if (s->host == NULL) {
        session_error(s, "host-unknown", NULL);
    } else if (to != NULL &&
               (ember__jid_prep_domain(to, host, sizeof(host)) != 0 ||
                strcmp(host, s->host) != 0)) {
        session_error(s, "host-unknown", "the stream restarted for "
                      "another host");
    } else if (version == NULL || atoi(version) < 1) {
        session_error(s, "unsupported-version", NULL);
    } else {
        send_header(s);
        if (s->state == ST_CONNECTED)
            s->state = ST_OPEN;
        send_features(s);
    }
    ember__stanza_free(header);
}


static void
xml_stanza(void *ud, ember_stanza_t *st)
{
    ember_session_t *s = ud;
    const char *ns = ember__stanza_xmlns(st);
    const char *name = ember__stanza_name(st);

    if (s->state == ST_CLOSING) {
        ember__stanza_free(st);
        return;
    }
    if (s->state == ST_OPEN) {
        if (ns != NULL && strcmp(ns, NS_TLS) == 0 &&
            strcmp(name, "starttls") == 0)
            start_tls(s, st);
        else if (ns != NULL && strcmp(ns, NS_SASL) == 0)
            handle_sasl(s, st);
        else if (!session_secure(s))
            session_error(s, "policy-violation", "STARTTLS is required");
        else if (ns == NULL || strcmp(ns, NS_CLIENT) != 0 ||
                 strcmp(name, "iq") != 0 ||
                 ember__route_preauth_iq(st, s) != EMBER_HOOK_HANDLED)
            session_error(s, "not-authorized", NULL);
        ember__stanza_free(st);
        return;
    }
    handle_client_stanza(s, st);
}


static void
xml_stream_close(void *ud)
{
    ember_session_t *s = ud;

    ember__session_close(s, NULL);
}


static void
xml_error(void *ud, const char *condition, const char *text)
{
    session_error(ud, condition, text);
}


static const ember_xml_cbs_t xml_cbs = {
    xml_stream_open, xml_stanza, xml_stream_close, xml_error
};


static void
session_plain(void *ud, const char *data, size_t len)
{
    ember_session_t *s = ud;

    if (s->state == ST_CLOSING)
        return;
    ember__xml_feed(s->xml, data, len);
}


/* ---- socket ---- */

static void
alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    /* One loop thread: every read is consumed before the next. */
    *buf = uv_buf_init(read_buf, sizeof(read_buf));
}


static void
read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    ember_session_t *s = stream->data;

    if (nread == 0)
        return;
    if (nread < 0) {
        session_begin_close(s);
        return;
    }
    s->last_rx = uv_now(ember__loop());
    if (s->tls != NULL) {
        if (ember__tls_feed(s->tls, buf->base, (size_t) nread) < 0)
            session_begin_close(s);
    } else {
        ember__xml_feed(s->xml, buf->base, (size_t) nread);
    }
    if (s->state != ST_CLOSING && s->xml != NULL)
        ember__xml_idle(s->xml);
}


static void
sweep(uv_timer_t *t)
{
    const ember_config_t *cfg = ember__config();
    uint64_t now = uv_now(ember__loop());
    uint64_t idle = (uint64_t) cfg->limits.idle_timeout * 1000;
    uint64_t auth = (uint64_t) cfg->limits.auth_timeout * 1000;
    ember_session_t *s, *n;

    for (s = sessions; s != NULL; s = n) {
        n = s->next;
        if (s->state == ST_CLOSING)
            continue;
        if (s->state != ST_BOUND && auth > 0 && now - s->connected_at > auth)
            session_error(s, "connection-timeout", "authentication took "
                          "too long");
        else if (idle > 0 && now - s->last_rx > idle)
            session_error(s, "connection-timeout", NULL);
    }
}


int
ember__session_accept(uv_stream_t *server, const ember_listener_conf_t *lc)
{
    const ember_config_t *cfg = ember__config();
    ember_session_t *s = calloc(1, sizeof(*s));
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    ember_xml_limits_t lim;
    unsigned char rnd[8];
    ip_count_t *c;
    size_t i;

    if (s == NULL)
        return EMBER_ENOMEM;
    uv_tcp_init(ember__loop(), &s->tcp);
    s->tcp.data = s;
    s->state = ST_CONNECTED;
    s->next = sessions;
    if (sessions != NULL)
        sessions->prev = s;
    sessions = s;
    session_count++;
    snprintf(s->refkey, sizeof(s->refkey), "%llu",
             (unsigned long long) ++last_ref);
    if (ember__hmap_put(&by_ref, s->refkey, s) < 0)
        s->refkey[0] = '\0';
    if (uv_accept(server, (uv_stream_t *) &s->tcp) < 0) {
        s->state = ST_CLOSING;
        uv_close((uv_handle_t *) &s->tcp, session_closed_cb);
        return EMBER_EIO;
    }
    uv_tcp_nodelay(&s->tcp, 1);
    if (uv_tcp_getpeername(&s->tcp, (struct sockaddr *) &ss, &len) == 0) {
        if (ss.ss_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *) &ss, s->ip, sizeof(s->ip));
        else
            uv_ip4_name((struct sockaddr_in *) &ss, s->ip, sizeof(s->ip));
    }
    s->connected_at = s->last_rx = uv_now(ember__loop());
    gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof(rnd));
    for (i = 0; i < sizeof(rnd); i++)
        snprintf(s->id + 2 * i, 3, "%02x", rnd[i]);
    s->require_tls = lc->type == EMBER_LISTEN_C2S_TLS || lc->require_tls;
    lim.max_stanza_size = cfg->limits.max_stanza_size;
    lim.max_depth = cfg->limits.max_depth;
    lim.max_attributes = cfg->limits.max_attributes;
    s->xml = ember__xml_new(&xml_cbs, s, &lim);
    if (s->xml == NULL) {
        session_begin_close(s);
        return EMBER_ENOMEM;
    }
    c = ember__hmap_get(&per_ip, s->ip);
    if (c != NULL && cfg->limits.max_connections_per_ip > 0 &&
        c->n >= (size_t) cfg->limits.max_connections_per_ip) {
        ember__log(EMBER_LOG_WARN, "c2s", "%s: over %d connections from "
                   "one address", s->ip, cfg->limits.max_connections_per_ip);
        session_error(s, "policy-violation", "too many connections from "
                      "your address");
        return EMBER_ELIMIT;
    }
    if (c == NULL) {
        if ((c = calloc(1, sizeof(*c))) == NULL) {
            session_begin_close(s);
            return EMBER_ENOMEM;
        }
        memcpy(c->ip, s->ip, sizeof(c->ip));
        if (ember__hmap_put(&per_ip, c->ip, c) < 0) {
            free(c);
            session_begin_close(s);
            return EMBER_ENOMEM;
        }
    }
    c->n++;
    s->counted_ip = 1;
    if (lc->type == EMBER_LISTEN_C2S_TLS) {
        s->direct_tls = 1;
        if ((s->tls = ember__tls_new(&tls_io, s, 1)) == NULL) {
            session_begin_close(s);
            return EMBER_ENOMEM;
        }
    }
    uv_read_start((uv_stream_t *) &s->tcp, alloc_cb, read_cb);
    return 0;
}


/* ---- module-facing ---- */

ember_session_ref_t
ember__session_ref(ember_session_t *s)
{
    return s != NULL && s->refkey[0] != '\0'
               ? (ember_session_ref_t) strtoull(s->refkey, NULL, 10) : 0;
}


ember_session_t *
ember__session_get(ember_session_ref_t ref)
{
    char key[24];

    if (ref == 0)
        return NULL;
    snprintf(key, sizeof(key), "%llu", (unsigned long long) ref);
    return ember__hmap_get(&by_ref, key);
}


ember_session_t *
ember__session_by_jid(const char *full_jid)
{
    ember_jid_t *j;
    ember_session_t *s = NULL;

    if (full_jid == NULL || (j = ember__jid_parse(full_jid)) == NULL)
        return NULL;
    if (j->resource != NULL)
        s = ember__hmap_get(&by_full, j->full);
    ember__jid_free(j);
    return s;
}


void
ember__session_end(ember_session_t *s, ember_stream_cond_t cond,
                   const char *text)
{
    if (s == NULL)
        return;
    if (cond == EMBER_STREAM_NONE) {
        ember__session_close(s, NULL);
        return;
    }
    session_error(s, ember__stream_cond_name(cond), text);
}


void **
ember__session_slot(ember_module_t *m, ember_session_t *s)
{
    session_slot_t *sl;

    for (sl = s->slots; sl != NULL; sl = sl->next)
        if (sl->m == m)
            return &sl->value;
    if ((sl = calloc(1, sizeof(*sl))) == NULL)
        return NULL;
    sl->m = m;
    sl->next = s->slots;
    s->slots = sl;
    return &sl->value;
}


int
ember__session_slot_destructor(ember_module_t *m, void (*dtor)(void *))
{
    slot_dtor_t *d;

    for (d = slot_dtors; d != NULL; d = d->next)
        if (d->m == m) {
            d->dtor = dtor;
            return 0;
        }
    if ((d = calloc(1, sizeof(*d))) == NULL)
        return EMBER_ENOMEM;
    d->m = m;
    d->dtor = dtor;
    d->next = slot_dtors;
    slot_dtors = d;
    return 0;
}


void
ember__sessions_module_gone(ember_module_t *m)
{
    ember_session_t *s;
    session_slot_t **pp, *sl;
    slot_dtor_t **dp, *d, *mine = NULL;

    for (dp = &slot_dtors; (d = *dp) != NULL; dp = &d->next)
        if (d->m == m) {
            *dp = d->next;
            mine = d;
            break;
        }
    for (s = sessions; s != NULL; s = s->next)
        for (pp = &s->slots; (sl = *pp) != NULL;) {
            if (sl->m == m) {
                *pp = sl->next;
                if (mine != NULL && sl->value != NULL)
                    mine->dtor(sl->value);
                free(sl);
            } else {
                pp = &sl->next;
            }
        }
    free(mine);
}


int
ember__user_sessions(ember_module_t *m, const char *user,
                     ember_session_cb cb, void *ud)
{
    const char *host = ember__module_host(m);
    ember_session_t *s, *n;
    char bare[2048];

    if (host == NULL || user == NULL)
        return EMBER_EINVAL;
    snprintf(bare, sizeof(bare), "%s@%s", user, host);
    for (s = ember__session_first_of(bare); s != NULL; s = n) {
        n = s->user_next;
        cb(s, ud);
    }
    return 0;
}


int
ember__host_sessions(ember_module_t *m, ember_session_cb cb, void *ud)
{
    const char *host = ember__module_host(m);
    ember_session_t *s, *n;

    for (s = sessions; s != NULL; s = n) {
        n = s->next;
        if (s->state == ST_BOUND &&
            (host == NULL || strcmp(s->jid->domain, host) == 0))
            cb(s, ud);
    }
    return 0;
}


int
ember__sessions_close_user(const char *host, const char *user,
                           const char *condition)
{
    char bare[2048];
    ember_session_t *s;
    int n = 0;

    snprintf(bare, sizeof(bare), "%s@%s", user, host);
    while ((s = ember__session_first_of(bare)) != NULL) {
        session_error(s, condition, NULL);
        n++;
    }
    return n;
}


int
ember__sessions_close_gone_hosts(void)
{
    ember_session_t *s;
    int n = 0;

    for (s = sessions; s != NULL; s = s->next)
        if (s->state != ST_CLOSING && s->host != NULL &&
            !ember__host_exists(s->host)) {
            session_error(s, "host-gone", NULL);
            n++;
        }
    return n;
}


void
ember__sessions_close_all(const char *condition)
{
    ember_session_t *s;

    for (s = sessions; s != NULL; s = s->next)
        if (s->state != ST_CLOSING)
            session_error(s, condition, NULL);
}


size_t
ember__sessions_count(size_t *bound)
{
    if (bound != NULL)
        *bound = bound_count;
    return session_count;
}


void
ember__sessions_stanza_totals(uint64_t *in, uint64_t *out)
{
    *in = total_in;
    *out = total_out;
}


int
ember__session_set_client(ember_session_t *s, const char *software)
{
    char *copy;

    if (s == NULL || software == NULL)
        return EMBER_EINVAL;
    if ((copy = strdup(software)) == NULL)
        return EMBER_ENOMEM;
    free(s->client);
    s->client = copy;
    return 0;
}


json_t *
ember__sessions_describe(const char *host)
{
    json_t *arr = json_array(), *o;
    uint64_t now = uv_now(ember__loop());
    ember_session_t *s;

    for (s = sessions; s != NULL; s = s->next) {
        if (s->state != ST_BOUND ||
            (host != NULL && strcmp(s->jid->domain, host) != 0))
            continue;
        o = json_pack("{s:s, s:s, s:s?, s:s, s:s?, s:I, s:I, s:I, s:b, "
                      "s:i}",
                      "jid", s->jid->full, "ip", s->ip,
                      "client", s->client,
                      "tls", s->tls != NULL ? ember__tls_version(s->tls)
                                            : "none",
                      "mechanism", s->mechanism,
                      "idle_ms", (json_int_t) (now - s->last_rx),
                      "in", (json_int_t) s->stanzas_in,
                      "out", (json_int_t) s->stanzas_out,
                      "available", (int) s->available,
                      "priority", s->priority);
        if (o != NULL)
            json_array_append_new(arr, o);
    }
    return arr;
}


int
ember__sessions_init(void)
{
    uv_timer_init(ember__loop(), &sweep_timer);
    uv_timer_start(&sweep_timer, sweep, 1000, 1000);
    sweep_running = 1;
    return 0;
}


void
ember__sessions_cleanup(void)
{
    size_t pos = 0;
    ip_count_t *c;

    if (sweep_running) {
        uv_timer_stop(&sweep_timer);
        uv_close((uv_handle_t *) &sweep_timer, NULL);
        sweep_running = 0;
    }
    while ((c = ember__hmap_next(&per_ip, &pos, NULL)) != NULL)
        free(c);
    ember__hmap_free(&per_ip);
    ember__hmap_free(&by_full);
    ember__hmap_free(&by_bare);
    ember__buf_free(&scratch);
}
