/* core/xmpp/iq_defer.c -- an iq a module answers after an async step.  The
 * handle keeps what the reply needs, so every module addresses its late
 * replies the one way the router addresses immediate ones. */
#include <stdlib.h>
#include <string.h>

#include "base/jid.h"
#include "xmpp/iq_defer.h"
#include "xmpp/router.h"
#include "xmpp/session.h"
#include "xmpp/stanza.h"

struct ember_iq_s {
    ember_module_t *m;
    ember_event_t ev;
    ember_session_ref_t origin;
    int preauth;
    struct ember_iq_s *prev, *next;
};

static ember_iq_t *pending;



static void
iq_free(ember_iq_t *iq)
{
    if (iq->prev != NULL)
        iq->prev->next = iq->next;
    else
        pending = iq->next;
    if (iq->next != NULL)
        iq->next->prev = iq->prev;
    ember__stanza_free(iq->ev.stanza);
    ember__jid_free((ember_jid_t *) iq->ev.from);
    ember__jid_free((ember_jid_t *) iq->ev.to);
    free((char *) iq->ev.host);
    free((char *) iq->ev.name);
    free(iq);
}


static int
is_request(const ember_stanza_t *st)
{
    const char *type;

    if (st == NULL || strcmp(ember__stanza_name(st), "iq") != 0)
        return 0;
    type = ember__stanza_attr(st, "type");
    return type != NULL &&
           (strcmp(type, "get") == 0 || strcmp(type, "set") == 0);
}


ember_iq_t *
ember__iq_defer(ember_module_t *m, const ember_event_t *ev)
{
    ember_iq_t *iq;

    if (ev == NULL || !is_request(ev->stanza) ||
        (iq = calloc(1, sizeof(*iq))) == NULL)
        return NULL;
    iq->m = m;
    iq->ev.size = sizeof(iq->ev);
    iq->ev.data = ev->data;
    iq->ev.stanza = ember__stanza_copy(ev->stanza);
    iq->ev.from = ev->from != NULL ? ember__jid_copy(ev->from) : NULL;
    iq->ev.to = ev->to != NULL ? ember__jid_copy(ev->to) : NULL;
    iq->ev.host = ev->host != NULL ? strdup(ev->host) : NULL;
    iq->ev.name = ev->name != NULL ? strdup(ev->name) : NULL;
    iq->origin = ember__session_ref(ev->origin);
    iq->preauth = ev->origin != NULL && ember__session_jid(ev->origin) == NULL;
    iq->next = pending;
    if (pending != NULL)
        pending->prev = iq;
    pending = iq;
    if (iq->ev.stanza == NULL || (ev->from != NULL && iq->ev.from == NULL) ||
        (ev->to != NULL && iq->ev.to == NULL) ||
        (ev->host != NULL && iq->ev.host == NULL) ||
        (ev->name != NULL && iq->ev.name == NULL)) {
        iq_free(iq);
        return NULL;
    }
    return iq;
}


const ember_event_t *
ember__iq_event(const ember_iq_t *iq)
{
    return &iq->ev;
}


ember_module_t *
ember__iq_module(const ember_iq_t *iq)
{
    return iq->m;
}


ember_session_ref_t
ember__iq_origin(const ember_iq_t *iq)
{
    return iq->origin;
}


/* A pre-auth sender gets its reply on its own stream, or nothing once
 * that stream is gone or has authenticated since. */
static int
iq_reply(ember_iq_t *iq, ember_stanza_t *r)
{
    ember_session_t *s = NULL;

    if (r == NULL)
        return EMBER_ENOMEM;
    if (iq->preauth) {
        s = ember__session_get(iq->origin);
        if (s == NULL || ember__session_jid(s) != NULL) {
            ember__stanza_free(r);
            return EMBER_ECANCELED;
        }
    }
    return ember__reply_send(r, s);
}


int
ember__iq_answer(ember_iq_t *iq, ember_stanza_t *payload)
{
    int rc;

    if (iq == NULL) {
        ember__stanza_free(payload);
        return EMBER_EINVAL;
    }
    rc = iq_reply(iq, ember__iq_result_of(iq->ev.stanza, payload));
    iq_free(iq);
    return rc;
}


int
ember__iq_fail(ember_iq_t *iq, ember_cond_t cond, const char *text)
{
    return ember__iq_fail_app(iq, cond, text, NULL);
}


int
ember__iq_fail_app(ember_iq_t *iq, ember_cond_t cond, const char *text,
                   const ember_stanza_t *app)
{
    ember_stanza_t *r, *err;
    int rc;

    if (iq == NULL)
        return EMBER_EINVAL;
    r = ember__error_reply(iq->ev.stanza, cond, text);
    if (r != NULL && app != NULL &&
        ((err = ember__stanza_child(r, "error", NULL)) == NULL ||
         ember__stanza_append(err, app) < 0)) {
        ember__stanza_free(r);
        r = NULL;
    }
    rc = iq_reply(iq, r);
    iq_free(iq);
    return rc;
}


/* From the head each time: routing one answer may end other handles. */
void
ember__iqs_module_gone(ember_module_t *m)
{
    ember_iq_t *iq;

    for (;;) {
        for (iq = pending; iq != NULL && iq->m != m; iq = iq->next)
            ;
        if (iq == NULL)
            return;
        ember__iq_fail(iq, EMBER_COND_SERVICE_UNAVAILABLE, NULL);
    }
}
