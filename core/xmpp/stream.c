/* core/xmpp/stream.c -- the client stream state machine of RFC 6120:
 * header, features, STARTTLS, SASL, bind, then stanzas to the router.  It
 * runs over any transport (xmpp/transport.h). */
#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/hooks.h"
#include "base/log.h"
#include "base/process.h"
#include "xmpp/errors.h"
#include "xmpp/router.h"
#include "xmpp/session_int.h"
#include "xmpp/stanza.h"
#include "xmpp/stream.h"

#define NS_CLIENT  "jabber:client"
#define NS_STREAMS "http://etherx.jabber.org/streams"
#define NS_XSTREAM "urn:ietf:params:xml:ns:xmpp-streams"
#define NS_TLS     "urn:ietf:params:xml:ns:xmpp-tls"
#define NS_SASL    "urn:ietf:params:xml:ns:xmpp-sasl"
#define NS_BIND    "urn:ietf:params:xml:ns:xmpp-bind"
#define NS_SESSION "urn:ietf:params:xml:ns:xmpp-session"
#define NS_SASL_CB "urn:xmpp:sasl-cb:0"
#define NS_FRAMING "urn:ietf:params:xml:ns:xmpp-framing"
#define NS_SM      "urn:xmpp:sm:3"
#define NS_CSI     "urn:xmpp:csi:0"

#define MAX_SASL_FAILURES 3
/* Refusals that guessed nothing (malformed, unsupported binding,
 * throttled) still cost a little each: bounded too. */
#define MAX_SASL_REFUSALS 10

static ember_buf_t scratch;

static void stream_error(ember_session_t *s, ember_stream_cond_t cond,
                         const char *text);
static void stream_begin_close(ember_session_t *s);


/* ---- output ---- */

static int
stream_write(ember_session_t *s, const char *data, size_t len)
{
    if (s->t == NULL)
        return EMBER_ESTATE;
    return s->tops->send(s->t, data, len);
}


/* An element of the stream namespace, written with the stream: prefix the
 * header declared (features, error). */
static void
write_stream_element(ember_session_t *s, const ember_stanza_t *el)
{
    const ember_stanza_t *c;
    const char *name = ember__stanza_name(el);

    ember__buf_reset(&scratch);
    /* A message of its own declares the prefix the header would have. */
    ember__buf_printf(&scratch, s->tops->framing == EMBER_FRAMING_MESSAGES
                      ? "<stream:%s xmlns:stream='" NS_STREAMS "'>"
                      : "<stream:%s>", name);
    for (c = ember__stanza_first(el); c != NULL; c = ember__stanza_next(c))
        ember__stanza_write(c, NS_STREAMS, &scratch);
    ember__buf_printf(&scratch, "</stream:%s>", name);
    stream_write(s, scratch.data, scratch.len);
}


/* A SASL or TLS negotiation element with optional text. */
static void
write_nonza(ember_session_t *s, const char *name, const char *ns,
            const char *child, const char *text)
{
    ember_stanza_t *el = ember__stanza_new(name, ns);

    if (el == NULL)
        return;
    if (child != NULL)
        ember__stanza_add_child(el, child, NULL);
    if (text != NULL && text[0] != '\0')
        ember__stanza_add_text(el, text);
    ember__session_write_stanza(s, el);
    ember__stanza_free(el);
}


static ember_tls_t *
stream_tls(const ember_session_t *s)
{
    return s->t != NULL ? s->tops->tls(s->t) : NULL;
}


/* ---- the stream's edges ---- */

/* A fresh stream ID: RFC 6120 4.3.3 wants a new one at each restart. */
static void
new_stream_id(ember_session_t *s)
{
    ember__nonce_hex(s->id, 8);
}


/* peer: the JID the client's header named itself by, echoed in 'to'
 * (RFC 6120 4.7.2), or NULL. */
static void
send_header(ember_session_t *s, const char *peer)
{
    ember_buf_t to = { 0 };

    if (s->header_sent)
        return;
    if (peer != NULL) {
        ember__buf_puts(&to, " to=\"");
        ember__buf_escape(&to, peer, strlen(peer));
        ember__buf_puts(&to, "\"");
    }
    ember__buf_reset(&scratch);
    if (s->tops->framing == EMBER_FRAMING_MESSAGES)
        ember__buf_printf(&scratch,
                 "<open xmlns='" NS_FRAMING "' id='%s'%s%s%s%s version='1.0' "
                 "xml:lang='en'/>",
                 s->id, s->host != NULL ? " from='" : "",
                 s->host != NULL ? s->host : "", s->host != NULL ? "'" : "",
                 to.data != NULL ? to.data : "");
    else
        ember__buf_printf(&scratch,
             "<?xml version='1.0'?><stream:stream xmlns='" NS_CLIENT "' "
             "xmlns:stream='" NS_STREAMS "' id='%s'%s%s%s%s version='1.0' "
             "xml:lang='en'>",
             s->id, s->host != NULL ? " from='" : "",
             s->host != NULL ? s->host : "", s->host != NULL ? "'" : "",
             to.data != NULL ? to.data : "");
    ember__buf_free(&to);
    stream_write(s, scratch.data, scratch.len);
    s->header_sent = 1;
}


/* The end of the stream: </stream:stream>, or RFC 7395's <close/>. */
static void
write_close(ember_session_t *s)
{
    static const char end[] = "</stream:stream>";
    static const char close_msg[] = "<close xmlns='" NS_FRAMING "'/>";

    if (s->tops->framing == EMBER_FRAMING_MESSAGES)
        stream_write(s, close_msg, sizeof(close_msg) - 1);
    else
        stream_write(s, end, sizeof(end) - 1);
}


/* Leave the routing tables now; the transport closes once it drains. */
static void
stream_begin_close(ember_session_t *s)
{
    if (s->state == ST_CLOSING)
        return;
    if (s->state == ST_BOUND) {
        ember__fire_simple(s->jid->domain, EMBER_EV_SESSION_CLOSED, s, NULL);
        ember__log(EMBER_LOG_INFO, "c2s", "%s: %s closed",
                   ember__session_ip(s), s->jid->full);
        ember__sessions_unbind(s);
    }
    s->state = ST_CLOSING;
    ember__sessions_forget_ref(s);
    if (s->xml != NULL)
        ember__xml_stop(s->xml);
    if (s->t != NULL)
        s->tops->close(s->t);
    else if (s->hibernating)
        ember__sm_end_hibernating(s);
}


static void
stream_error(ember_session_t *s, ember_stream_cond_t cond, const char *text)
{
    const char *condition = ember__stream_cond_name(cond);
    ember_stanza_t *err;

    if (s->state == ST_CLOSING)
        return;
    send_header(s, NULL);
    if ((err = ember__stanza_new("error", NS_STREAMS)) != NULL) {
        ember__stanza_add_child(err, condition, NS_XSTREAM);
        if (text != NULL)
            ember__stanza_add_text(ember__stanza_add_child(err, "text",
                                                           NS_XSTREAM),
                                   text);
        write_stream_element(s, err);
        ember__stanza_free(err);
    }
    write_close(s);
    ember__log(EMBER_LOG_INFO, "c2s", "%s: stream error %s%s%s",
               ember__session_ip(s), condition, text != NULL ? ": " : "",
               text != NULL ? text : "");
    stream_begin_close(s);
}


void
ember__session_end(ember_session_t *s, ember_stream_cond_t cond,
                   const char *text)
{
    if (s == NULL)
        return;
    if (cond != EMBER_STREAM_NONE) {
        stream_error(s, cond, text);
        return;
    }
    if (s->state != ST_CLOSING)
        write_close(s);
    stream_begin_close(s);
}


void
ember__session_close(ember_session_t *s, const char *condition)
{
    ember__session_end(s, condition != NULL
                              ? ember__stream_cond_parse(condition)
                              : EMBER_STREAM_NONE, NULL);
}


static void sasl_end(ember_session_t *s);


static void
send_features(ember_session_t *s)
{
    ember_stanza_t *f = ember__stanza_new("features", NS_STREAMS), *c;
    const char *mechs[8], *cb_type = NULL;
    char *cb_data = NULL;
    ember_tls_t *tls = stream_tls(s);
    size_t i, n;

    if (f == NULL) {
        stream_error(s, EMBER_STREAM_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    if (s->state == ST_OPEN && tls == NULL && s->tops->start_tls != NULL) {
        c = ember__stanza_add_child(f, "starttls", NS_TLS);
        if (s->require_tls)
            ember__stanza_add_child(c, "required", NULL);
    }
    if (s->state == ST_OPEN && ember__session_secure(s)) {
        ember__fire_simple(s->host, EMBER_EV_STREAM_FEATURES_UNAUTH, s, f);
        if (tls != NULL &&
            ember__tls_channel_binding(tls, &cb_type, &cb_data) == 0) {
            c = ember__stanza_add_child(f, "sasl-channel-binding",
                                        NS_SASL_CB);
            c = ember__stanza_add_child(c, "channel-binding", NULL);
            ember__stanza_set_attr(c, "type", cb_type);
        }
        n = ember__sasl_mechanisms(s->host, tls != NULL || !s->require_tls,
                                   cb_data != NULL, mechs, 8);
        c = ember__stanza_add_child(f, "mechanisms", NS_SASL);
        for (i = 0; i < n; i++)
            ember__stanza_add_text(ember__stanza_add_child(c, "mechanism",
                                                           NULL), mechs[i]);
        free(cb_data);
    }
    if (s->state == ST_AUTHED) {
        /* Authenticated: the SASL state (3.4 KiB) is no longer needed.
         * Not freed in its own success callback, which runs inside it. */
        if (s->sasl != NULL)
            sasl_end(s);
        ember__stanza_add_child(f, "bind", NS_BIND);
        c = ember__stanza_add_child(f, "session", NS_SESSION);
        ember__stanza_add_child(c, "optional", NULL);
        ember__sm_features(s, f);
        ember__csi_features(s, f);
        ember__fire_simple(s->host, EMBER_EV_STREAM_FEATURES, s, f);
    }
    write_stream_element(s, f);
    ember__stanza_free(f);
}


static void
restart(ember_session_t *s, session_state_t state)
{
    s->state = state;
    s->header_sent = 0;
    new_stream_id(s);
    ember__xml_restart(s->xml);
}


/* ---- STARTTLS ---- */

static void
start_tls(ember_session_t *s)
{
    if (stream_tls(s) != NULL || s->state != ST_OPEN ||
        s->tops->start_tls == NULL) {
        stream_error(s, EMBER_STREAM_POLICY_VIOLATION, "STARTTLS now is not allowed");
        return;
    }
    write_nonza(s, "proceed", NS_TLS, NULL, NULL);
    if (s->tops->start_tls(s->t) < 0) {
        stream_begin_close(s);
        return;
    }
    restart(s, ST_CONNECTED);
}


/* ---- SASL ---- */

static void
sasl_end(ember_session_t *s)
{
    ember__sasl_free(s->sasl);
    s->sasl = NULL;
    s->in_sasl = 0;
}


static void
sasl_failure_text(ember_session_t *s, const char *condition,
                  const char *text)
{
    ember_stanza_t *el = ember__stanza_new("failure", NS_SASL);

    if (el == NULL)
        return;
    ember__stanza_add_child(el, condition, NULL);
    if (text != NULL)
        ember__stanza_add_text(ember__stanza_add_child(el, "text", NULL),
                               text);
    ember__session_write_stanza(s, el);
    ember__stanza_free(el);
}


static void
sasl_reply(void *ud, ember_sasl_status_t status, const char *data,
           const char *text)
{
    ember_session_t *s = ud;

    if (s->state == ST_CLOSING)
        return;
    switch (status) {
    case EMBER_SASL_CHALLENGE:
        write_nonza(s, "challenge", NS_SASL, NULL, data);
        return;
    case EMBER_SASL_SUCCESS:
        write_nonza(s, "success", NS_SASL, NULL, data);
        s->jid = ember__jid_make(ember__sasl_user(s->sasl), s->host, NULL);
        s->mechanism = ember__sasl_mechanism(s->sasl);
        s->in_sasl = 0;
        if (s->jid == NULL) {
            stream_error(s, EMBER_STREAM_INTERNAL_SERVER_ERROR, NULL);
            return;
        }
        ember__log(EMBER_LOG_INFO, "c2s", "%s: %s authenticated (%s)",
                   ember__session_ip(s), s->jid->bare, s->mechanism);
        if (s->tops->unshape != NULL && ember__is_admin(s->jid->bare))
            s->tops->unshape(s->t);
        restart(s, ST_AUTHED);
        return;
    case EMBER_SASL_FAILURE:
        write_nonza(s, "failure", NS_SASL, data, NULL);
        sasl_end(s);
        if (++s->sasl_failures >= MAX_SASL_FAILURES)
            stream_error(s, EMBER_STREAM_POLICY_VIOLATION,
                         "too many failed authentication attempts");
        return;
    case EMBER_SASL_REFUSED:
        sasl_failure_text(s, data, text);
        sasl_end(s);
        if (++s->sasl_refusals >= MAX_SASL_REFUSALS)
            stream_error(s, EMBER_STREAM_POLICY_VIOLATION,
                         "too many refused authentication attempts");
        return;
    }
}


static int
mechanism_offered(ember_session_t *s, const char *mech, int have_cb)
{
    const char *mechs[8];
    size_t i, n = ember__sasl_mechanisms(s->host, stream_tls(s) != NULL ||
                                             !s->require_tls,
                                         have_cb, mechs, 8);

    for (i = 0; i < n; i++)
        if (strcmp(mechs[i], mech) == 0)
            return 1;
    return 0;
}


static void
sasl_failure(ember_session_t *s, const char *condition)
{
    write_nonza(s, "failure", NS_SASL, condition, NULL);
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
            sasl_end(s);
            return;
        }
        if (!ember__session_secure(s)) {
            /* RFC 6120 6.5.3: TLS is mandatory-to-negotiate here and
             * the client tried to authenticate without it. */
            sasl_failure(s, "encryption-required");
            return;
        }
        if (stream_tls(s) != NULL)
            ember__tls_channel_binding(stream_tls(s), &cb_type, &cb_data);
        mech = ember__stanza_attr(st, "mechanism");
        if (mech == NULL || !mechanism_offered(s, mech, cb_data != NULL)) {
            free(cb_data);
            sasl_failure(s, "invalid-mechanism");
            return;
        }
        s->sasl = ember__sasl_new(s->host, ember__session_ip(s),
                                  s->tops->name, cb_type, cb_data,
                                  sasl_reply, s);
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
        sasl_end(s);
        sasl_failure(s, "aborted");
    } else {
        stream_error(s, EMBER_STREAM_POLICY_VIOLATION, "unexpected SASL element");
    }
}


/* ---- bind ---- */

/* The session has no address the router could use yet: answers to bind
 * go straight onto the stream, without 'to'. */
static void
iq_reply_raw(ember_session_t *s, const ember_stanza_t *iq,
             ember_stanza_t *payload, ember_cond_t cond)
{
    ember_stanza_t *r;

    if (cond != EMBER_COND_NONE) {
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
        ember__session_write_stanza(s, r);
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
    ember_jid_t *full;

    if (s->state == ST_BOUND) {
        iq_reply_raw(s, iq, NULL, EMBER_COND_NOT_ALLOWED);
        return;
    }
    if (want[0] == '\0') {
        ember__nonce_hex(generated, 8);
        want = generated;
    }
    full = ember__jid_make(s->jid->node, s->jid->domain, want);
    if (full == NULL) {
        iq_reply_raw(s, iq, NULL, EMBER_COND_BAD_REQUEST);
        return;
    }
    if ((old = ember__session_by_full(full->full)) != NULL) {
        ember__log(EMBER_LOG_INFO, "c2s", "%s: %s replaces the older "
                   "session", ember__session_ip(s), full->full);
        stream_error(old, EMBER_STREAM_CONFLICT, "Replaced by new connection");
    }
    ember__jid_free(s->jid);
    s->jid = full;
    s->state = ST_BOUND;
    if (ember__sessions_bind(s) < 0) {
        s->state = ST_AUTHED;
        iq_reply_raw(s, iq, NULL, EMBER_COND_INTERNAL_SERVER_ERROR);
        return;
    }
    if (s->t != NULL)
        s->tops->timeouts(s->t, 0, (uint64_t)
                          ember__config()->limits.idle_timeout * 1000);
    r = ember__stanza_new("bind", NS_BIND);
    ember__stanza_add_text(ember__stanza_add_child(r, "jid", NULL),
                           full->full);
    iq_reply_raw(s, iq, r, EMBER_COND_NONE);
    ember__stanza_free(r);
    ember__log(EMBER_LOG_INFO, "c2s", "%s: bound %s", ember__session_ip(s),
               full->full);
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
        !ember__stanza_is_stanza(st)) {
        stream_error(s, EMBER_STREAM_UNSUPPORTED_STANZA_TYPE, NULL);
        goto done;
    }
    ember__sm_count_in(s);
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
            iq_reply_raw(s, st, NULL, EMBER_COND_NONE);
            goto done;
        }
    }
    if (s->state != ST_BOUND) {
        stream_error(s, EMBER_STREAM_NOT_AUTHORIZED, "bind a resource first");
        goto done;
    }
    if (!from_ok(s, ember__stanza_attr(st, "from"))) {
        stream_error(s, EMBER_STREAM_INVALID_FROM, NULL);
        goto done;
    }
    ember__stanza_set_attr(st, "from", s->jid->full);
    /* RFC 6120 8.1.5: a stanza without xml:lang is in the stream's. */
    if (s->lang[0] != '\0' && ember__stanza_attr(st, "xml:lang") == NULL)
        ember__stanza_set_attr(st, "xml:lang", s->lang);
    ember__sessions_count_in(s);
    ember__sm_routing(s);
    ember__route_stanza(st, s);
    ember__sm_routing(NULL);
    return;
done:
    ember__stanza_free(st);
}


/* ---- parser callbacks ---- */

/* Keeps the header's xml:lang if it is shaped like a language tag
 * (letters, digits, hyphens; RFC 5646 4.4.1's 35 characters at most). */
static void
keep_stream_lang(ember_session_t *s, const char *lang)
{
    size_t n = lang != NULL ? strspn(lang, "abcdefghijklmnopqrstuvwxyz"
                                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789-") : 0;

    if (n == 0 || lang[n] != '\0' || n >= sizeof(s->lang)) {
        s->lang[0] = '\0';
        return;
    }
    memcpy(s->lang, lang, n + 1);
}


static void
xml_stream_open(void *ud, ember_stanza_t *header, const char *name,
                const char *ns)
{
    ember_session_t *s = ud;
    const char *to = ember__stanza_attr(header, "to");
    const char *version = ember__stanza_attr(header, "version");
    const char *from = ember__stanza_attr(header, "from");
    ember_jid_t *peer = from != NULL ? ember__jid_parse(from) : NULL;
    char host[1024];

    if (s->host == NULL && to != NULL &&
        ember__jid_prep_domain(to, host, sizeof(host)) == 0 &&
        ember__host_exists(host))
        s->host = strdup(host);
    if (strcmp(name, "stream") != 0 || ns == NULL ||
        strcmp(ns, NS_STREAMS) != 0) {
        stream_error(s, EMBER_STREAM_INVALID_NAMESPACE, NULL);
    } else if (ember__stanza_xmlns(header) == NULL ||
               strcmp(ember__stanza_xmlns(header), NS_CLIENT) != 0) {
        stream_error(s, EMBER_STREAM_INVALID_NAMESPACE, "this port serves "
                     "jabber:client");
    } else if (s->host == NULL) {
        stream_error(s, EMBER_STREAM_HOST_UNKNOWN, NULL);
    } else if (to != NULL &&
               (ember__jid_prep_domain(to, host, sizeof(host)) != 0 ||
                strcmp(host, s->host) != 0)) {
        stream_error(s, EMBER_STREAM_HOST_UNKNOWN, "the stream restarted for "
                     "another host");
    } else if (version == NULL || atoi(version) < 1) {
        stream_error(s, EMBER_STREAM_UNSUPPORTED_VERSION, NULL);
    } else {
        keep_stream_lang(s, ember__stanza_attr(header, "xml:lang"));
        send_header(s, peer != NULL ? peer->full : NULL);
        if (s->state == ST_CONNECTED)
            s->state = ST_OPEN;
        send_features(s);
    }
    ember__jid_free(peer);
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
    s->out_mark_prev = s->out_mark;
    s->out_mark = (uint32_t) s->stanzas_out;
    if (s->state == ST_OPEN) {
        if (ns != NULL && strcmp(ns, NS_TLS) == 0 &&
            strcmp(name, "starttls") == 0)
            start_tls(s);
        else if (ns != NULL && strcmp(ns, NS_SASL) == 0)
            handle_sasl(s, st);
        else if (!ember__session_secure(s))
            stream_error(s, EMBER_STREAM_POLICY_VIOLATION, "STARTTLS is required");
        else if (ns == NULL || strcmp(ns, NS_CLIENT) != 0 ||
                 strcmp(name, "iq") != 0 ||
                 ember__route_preauth_iq(st, s) != EMBER_HOOK_HANDLED)
            stream_error(s, EMBER_STREAM_NOT_AUTHORIZED, NULL);
        ember__stanza_free(st);
        return;
    }
    if (ns != NULL && strcmp(ns, NS_SM) == 0) {
        int rc = ember__sm_nonza(s, st);

        ember__stanza_free(st);
        if (rc == EMBER_ELIMIT)
            stream_error(s, EMBER_STREAM_UNDEFINED_CONDITION, "the client "
                         "acknowledged more stanzas than were sent");
        else if (rc < 0)
            stream_error(s, EMBER_STREAM_UNSUPPORTED_STANZA_TYPE, NULL);
        return;
    }
    if (ns != NULL && strcmp(ns, NS_CSI) == 0) {
        int rc = ember__csi_nonza(s, st);

        ember__stanza_free(st);
        if (rc < 0)
            stream_error(s, rc == EMBER_ESTATE
                         ? EMBER_STREAM_NOT_AUTHORIZED
                         : EMBER_STREAM_UNSUPPORTED_STANZA_TYPE, NULL);
        return;
    }
    handle_client_stanza(s, st);
}


static void
xml_stream_close(void *ud)
{
    ember__session_end(ud, EMBER_STREAM_NONE, NULL);
}


static void
xml_error(void *ud, ember_stream_cond_t cond, const char *text)
{
    stream_error(ud, cond, text);
}


static const ember_xml_cbs_t xml_cbs = {
    xml_stream_open, xml_stanza, xml_stream_close, xml_error
};


/* ---- the transport's side ---- */

ember_session_t *
ember__stream_new(const ember_transport_ops_t *ops, void *t,
                  int require_tls)
{
    const ember_config_t *cfg = ember__config();
    ember_session_t *s = calloc(1, sizeof(*s));
    ember_xml_limits_t lim;

    if (s == NULL)
        return NULL;
    s->tops = ops;
    s->t = t;
    s->state = ST_CONNECTED;
    s->require_tls = require_tls != 0;
    new_stream_id(s);
    lim.max_stanza_size = cfg->limits.max_stanza_size;
    lim.max_depth = cfg->limits.max_depth;
    lim.max_attributes = cfg->limits.max_attributes;
    if ((s->xml = ember__xml_new(&xml_cbs, s, &lim)) == NULL) {
        free(s);
        return NULL;
    }
    ember__sessions_add(s);
    ops->timeouts(t, (uint64_t) cfg->limits.auth_timeout * 1000,
                  (uint64_t) cfg->limits.idle_timeout * 1000);
    return s;
}


void
ember__stream_feed(ember_session_t *s, const char *data, size_t len)
{
    if (s->state == ST_CLOSING)
        return;
    ember__xml_feed(s->xml, data, len);
    /* It resumed another session, which took its transport and parser
     * (and, through the parser, the rest of data). */
    if (s->merged) {
        ember__stream_finish(s);
        return;
    }
    if (s->state != ST_CLOSING && s->xml != NULL)
        ember__xml_idle(s->xml);
}


void
ember__stream_timeout(ember_session_t *s, int before_auth)
{
    /* A silent mobile client: the session waits for its resume. */
    if (ember__sm_resumable(s) && s->t != NULL) {
        s->tops->close(s->t);
        return;
    }
    stream_error(s, EMBER_STREAM_CONNECTION_TIMEOUT, before_auth
                 ? "authentication took too long" : NULL);
}


void
ember__stream_refuse(ember_session_t *s, ember_stream_cond_t cond,
                     const char *text)
{
    stream_error(s, cond, text);
}


void
ember__stream_hangup(ember_session_t *s)
{
    if (!ember__sm_resumable(s))
        stream_begin_close(s);
}


void
ember__stream_gone(ember_session_t *s)
{
    if (ember__sm_hibernate(s))
        return;
    ember__stream_finish(s);
}


void
ember__stream_finish(ember_session_t *s)
{
    s->t = NULL;
    stream_begin_close(s);
    ember__sessions_remove(s);
    ember__sm_free(s);
    ember__csi_free(s);
    ember__sasl_free(s->sasl);
    ember__xml_free(s->xml);
    ember__jid_free(s->jid);
    free(s->client);
    free(s->marks);
    free(s->host);
    free(s);
}


/* ---- many streams at once ---- */

int
ember__sessions_close_here(const char *jid, ember_stream_cond_t cond)
{
    ember_session_t *s;
    int n = 0;

    if (strchr(jid, '/') != NULL) {
        if ((s = ember__session_by_full(jid)) == NULL)
            return 0;
        stream_error(s, cond, NULL);
        return 1;
    }
    while ((s = ember__session_first_of(jid)) != NULL) {
        stream_error(s, cond, NULL);
        n++;
    }
    return n;
}


int
ember__sessions_close_user(const char *host, const char *user,
                           ember_stream_cond_t cond)
{
    char bare[2048];

    snprintf(bare, sizeof(bare), "%s@%s", user, host);
    return ember__sessions_close_here(bare, cond) +
           ember__route_close_remote(bare, cond);
}


int
ember__sessions_close_gone_hosts(void)
{
    ember_session_t *s;
    int n = 0;

    for (s = ember__sessions_first(); s != NULL; s = s->next)
        if (s->state != ST_CLOSING && s->host != NULL &&
            !ember__host_exists(s->host)) {
            stream_error(s, EMBER_STREAM_HOST_GONE, NULL);
            n++;
        }
    return n;
}


void
ember__sessions_close_all(ember_stream_cond_t cond)
{
    ember_session_t *s;

    for (s = ember__sessions_first(); s != NULL; s = s->next)
        if (s->state != ST_CLOSING)
            stream_error(s, cond, NULL);
}


void
ember__streams_cleanup(void)
{
    ember__sm_cleanup();
    ember__buf_free(&scratch);
}
