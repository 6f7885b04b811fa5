/* core/xmpp/csi.c -- XEP-0352 client state indication: while a client
 * says it is inactive (a phone in a pocket), what it need not see at once
 * waits: presence updates (only the latest of each sender), chat states
 * and other messages without a body, pubsub notifications.  A message
 * with a body, an iq, a subscription request or an error goes at once,
 * after what waited, in order; so does everything when the client becomes
 * active again, or when the wait holds CSI_MAX_HELD stanzas. */
#include <stdlib.h>
#include <string.h>

#include "xmpp/session_int.h"
#include "xmpp/stanza.h"

#define NS_CSI "urn:xmpp:csi:0"
#define CSI_MAX_HELD 100

typedef struct held_s {
    struct held_s *next;
    ember_stanza_t *st;
} held_t;

struct ember_csi_s {
    unsigned inactive : 1;
    unsigned flushing : 1;
    held_t *head, **tail;
    size_t n;
};


static int
urgent(const ember_stanza_t *st)
{
    const char *name = ember__stanza_name(st);
    const char *type = ember__stanza_attr(st, "type");

    if (strcmp(name, "iq") == 0 || (type != NULL &&
                                     strcmp(type, "error") == 0))
        return 1;
    if (strcmp(name, "presence") == 0)
        return type != NULL && strcmp(type, "unavailable") != 0 &&
               strcmp(type, "probe") != 0;
    /* A message: one a person reads, or a carbon of one. */
    if (ember__stanza_child(st, "body", NULL) != NULL)
        return 1;
    for (st = ember__stanza_first(st); st != NULL;
         st = ember__stanza_next(st)) {
        const char *ns = ember__stanza_xmlns(st);

        if (ns != NULL && (strcmp(ns, "urn:xmpp:carbons:2") == 0 ||
                           strcmp(ns, "urn:xmpp:forward:0") == 0 ||
                           strcmp(ns, "jabber:x:conference") == 0 ||
                           strcmp(ns, "http://jabber.org/protocol/muc#user")
                               == 0 ||
                           strcmp(ns, "eu.siacs.conversations.axolotl")
                               == 0 ||
                           strcmp(ns, "urn:xmpp:jingle-message:0") == 0))
            return 1;
    }
    return 0;
}


static void
flush(ember_session_t *s)
{
    ember_csi_t *c = s->csi;
    held_t *h;

    c->flushing = 1;
    while ((h = c->head) != NULL) {
        c->head = h->next;
        ember__session_write_stanza(s, h->st);
        ember__stanza_free(h->st);
        free(h);
    }
    c->tail = &c->head;
    c->n = 0;
    c->flushing = 0;
}


/* A presence from the same sender replaces the one that waits. */
static int
replace_presence(ember_csi_t *c, const ember_stanza_t *st)
{
    const char *from = ember__stanza_attr(st, "from");
    ember_stanza_t *cp;
    held_t *h;

    if (from == NULL || strcmp(ember__stanza_name(st), "presence") != 0)
        return 0;
    for (h = c->head; h != NULL; h = h->next) {
        const char *f = ember__stanza_attr(h->st, "from");

        if (strcmp(ember__stanza_name(h->st), "presence") == 0 &&
            f != NULL && strcmp(f, from) == 0) {
            if ((cp = ember__stanza_copy(st)) == NULL)
                return 0;
            ember__stanza_free(h->st);
            h->st = cp;
            return 1;
        }
    }
    return 0;
}


int
ember__csi_hold(ember_session_t *s, const ember_stanza_t *st)
{
    ember_csi_t *c = s->csi;
    held_t *h;

    if (c == NULL || !c->inactive || c->flushing)
        return 0;
    if (urgent(st)) {
        flush(s);
        return 0;
    }
    if (replace_presence(c, st))
        return 1;
    if (c->n >= CSI_MAX_HELD)
        flush(s);
    if ((h = malloc(sizeof(*h))) == NULL ||
        (h->st = ember__stanza_copy(st)) == NULL) {
        free(h);
        return 0;
    }
    h->next = NULL;
    *c->tail = h;
    c->tail = &h->next;
    c->n++;
    return 1;
}


void
ember__csi_features(ember_session_t *s, ember_stanza_t *features)
{
    (void) s;
    ember__stanza_add_child(features, "csi", NS_CSI);
}


int
ember__csi_nonza(ember_session_t *s, const ember_stanza_t *el)
{
    const char *name = ember__stanza_name(el);

    if (s->state != ST_BOUND)
        return EMBER_ESTATE;
    if (s->csi == NULL) {
        if ((s->csi = calloc(1, sizeof(*s->csi))) == NULL)
            return EMBER_ENOMEM;
        s->csi->tail = &s->csi->head;
    }
    if (strcmp(name, "inactive") == 0) {
        s->csi->inactive = 1;
    } else if (strcmp(name, "active") == 0) {
        s->csi->inactive = 0;
        flush(s);
    } else {
        return EMBER_EPROTO;
    }
    return 0;
}


int
ember__csi_inactive(const ember_session_t *s)
{
    return s->csi != NULL && s->csi->inactive;
}


void
ember__csi_free(ember_session_t *s)
{
    held_t *h;

    if (s->csi == NULL)
        return;
    while ((h = s->csi->head) != NULL) {
        s->csi->head = h->next;
        ember__stanza_free(h->st);
        free(h);
    }
    free(s->csi);
    s->csi = NULL;
}
