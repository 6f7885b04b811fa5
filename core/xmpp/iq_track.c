/* core/xmpp/iq_track.c -- iqs modules send, waiting for the response
 * (or a timeout) that only the addressee may give. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hmap.h"
#include "base/jid.h"
#include "base/process.h"
#include "xmpp/iq_track.h"
#include "xmpp/stanza.h"

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
ember__iq_track(ember_module_t *m, ember_stanza_t *root, unsigned timeout_ms,
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
    return 0;
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


static void
finish_all_of(ember_module_t *m, int call_back)
{
    pending_iq_t *p;
    size_t pos;

    for (pos = 0; (p = ember__hmap_next(&pending_iqs, &pos, NULL)) != NULL;)
        if (p->m == m) {
            if (!call_back)
                p->cb = NULL;
            pending_finish(p, NULL);
            pos = 0;
        }
}


void
ember__iq_sent_cancel(ember_module_t *m)
{
    finish_all_of(m, 1);
}


void
ember__iq_sent_module_gone(ember_module_t *m)
{
    finish_all_of(m, 0);
}
