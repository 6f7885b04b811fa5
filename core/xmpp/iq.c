/* core/xmpp/iq.c -- an iq a module answers after an async step.  The
 * handle keeps what the reply needs, so every module addresses its late
 * replies the one way the router addresses immediate ones. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hmap.h"
#include "base/jid.h"
#include "base/process.h"
#include "xmpp/iq.h"
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

typedef struct pending_iq_s {
    char id[32];
    char *to;               /* full JID string the iq went to */
    ember_module_t *m;
    ember_iq_cb cb;
    void *ud;
    uv_timer_t timer;
} pending_iq_t;

static ember_hmap_t pending_iqs;
static unsigned long iq_counter;


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
    int rc;

    if (iq == NULL)
        return EMBER_EINVAL;
    rc = iq_reply(iq, ember__error_reply(iq->ev.stanza, cond, text));
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


static void
pending_closed(uv_handle_t *h)
{
    pending_iq_t *p = h->data;

    free(p->to);
    free(p);
}


static void
pending_finish(pending_iq_t *p, ember_stanza_t *reply)
{
    ember__hmap_del(&pending_iqs, p->id);
    uv_timer_stop(&p->timer);
    if (p->cb != NULL)
        p->cb(p->m, reply, p->ud);
    uv_close((uv_handle_t *) &p->timer, pending_closed);
}


static void
pending_timeout(uv_timer_t *t)
{
    pending_finish(t->data, NULL);
}


int
ember__iq_send(ember_module_t *m, ember_stanza_t *root, unsigned timeout_ms,
               ember_iq_cb cb, void *ud)
{
    pending_iq_t *p;
    const char *to = ember__stanza_attr(root, "to");
    const char *type = ember__stanza_attr(root, "type");

    if (to == NULL || type == NULL ||
        (strcmp(type, "get") != 0 && strcmp(type, "set") != 0)) {
        ember__stanza_free(root);
        return EMBER_EINVAL;
    }
    if ((p = calloc(1, sizeof(*p))) == NULL ||
        (p->to = strdup(to)) == NULL) {
        free(p);
        ember__stanza_free(root);
        return EMBER_ENOMEM;
    }
    snprintf(p->id, sizeof(p->id), "ember-%lx", ++iq_counter);
    p->m = m;
    p->cb = cb;
    p->ud = ud;
    if (ember__stanza_set_attr(root, "id", p->id) < 0 ||
        ember__hmap_put(&pending_iqs, p->id, p) < 0) {
        free(p->to);
        free(p);
        ember__stanza_free(root);
        return EMBER_ENOMEM;
    }
    uv_timer_init(ember__loop(), &p->timer);
    p->timer.data = p;
    uv_timer_start(&p->timer, pending_timeout,
                   timeout_ms > 0 ? timeout_ms : 30000, 0);
    return ember__route_stanza(root, NULL);
}


int
ember__iq_response(const ember_stanza_t *st, const ember_jid_t *from)
{
    const char *id = ember__stanza_attr(st, "id");
    pending_iq_t *p;
    ember_jid_t *to;
    int match;

    if (id == NULL || (p = ember__hmap_get(&pending_iqs, id)) == NULL)
        return 0;
    /* Only the addressee may answer: a guessed id from elsewhere is not a
     * reply. */
    if (from == NULL || (to = ember__jid_parse(p->to)) == NULL)
        return 0;
    match = strcmp(to->full, from->full) == 0 ||
            (to->resource == NULL && strcmp(to->bare, from->bare) == 0);
    ember__jid_free(to);
    if (!match)
        return 0;
    pending_finish(p, (ember_stanza_t *) st);
    return 1;
}


void
ember__iq_sent_module_gone(ember_module_t *m)
{
    pending_iq_t *p;
    size_t pos;

    for (pos = 0; (p = ember__hmap_next(&pending_iqs, &pos, NULL)) != NULL;)
        if (p->m == m) {
            p->cb = NULL;
            pending_finish(p, NULL);
            pos = 0;
        }
}
