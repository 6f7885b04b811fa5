/* mod_carbons.c -- XEP-0280 Message Carbons: copies of a user's chats to
 * the user's other carbons-enabled resources, on every node of a cluster
 * (the sessions that enabled it carry the mark "carbons" there). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ember/plugin.h>

#define NS_CARBONS "urn:xmpp:carbons:2"
#define NS_FORWARD "urn:xmpp:forward:0"
#define NS_CLIENT "jabber:client"
#define NS_HINTS "urn:xmpp:hints"
#define NS_MUC_USER "http://jabber.org/protocol/muc#user"
#define NS_CONFERENCE "jabber:x:conference"

/* The session slot holds this marker while carbons are enabled. */
static char carbons_on;
#define MARK "carbons"

static const ember_api_t *api;

/* Payloads that make a message an IM one (XEP-0280 6.1): receipts, chat
 * states, chat markers. */
static const char *const im_payloads[] = {
    "urn:xmpp:receipts",
    "http://jabber.org/protocol/chatstates",
    "urn:xmpp:chat-markers:0",
    NULL
};

typedef struct {
    ember_module_t *m;
    const ember_stanza_t *orig;
    const char *dir;              /* "received" or "sent" */
    ember_session_t *skip;        /* the sender's session, if any */
    ember_session_t *target;      /* that JID's session, if any */
    int best;                     /* bare delivery's priority, -1: none */
    ember_stanza_t *copy;         /* built on first use */
    const char *bare;             /* the user's */
} carbons_walk_t;


static int
has_ns_child(const ember_stanza_t *st, const char *ns)
{
    const ember_stanza_t *c;
    const char *x;

    for (c = api->stanza_first(st); c != NULL; c = api->stanza_next(c))
        if ((x = api->stanza_xmlns(c)) != NULL && strcmp(x, ns) == 0)
            return 1;
    return 0;
}


/* XEP-0280 6.1, the rules that can be judged from the stanza alone. */
static int
carbons_eligible(const ember_stanza_t *st, int inbound)
{
    const char *type = api->stanza_attr(st, "type");
    const ember_stanza_t *x;
    const char *const *ns;

    if (type == NULL)
        type = "normal";
    if (strcmp(type, "groupchat") == 0 || strcmp(type, "headline") == 0 ||
        strcmp(type, "error") == 0)
        return 0;
    /* Never copy what asks not to be copied, nor a carbon itself. */
    if (api->stanza_child(st, "private", NS_CARBONS) != NULL ||
        api->stanza_child(st, "no-copy", NS_HINTS) != NULL ||
        api->stanza_child(st, "received", NS_CARBONS) != NULL ||
        api->stanza_child(st, "sent", NS_CARBONS) != NULL)
        return 0;
    x = api->stanza_child(st, "x", NS_MUC_USER);
    if (x != NULL && api->stanza_child(x, "invite", NULL) != NULL)
        return 1;       /* a mediated invitation */
    /* A private message from a room occupant: the room already sends it
     * to each of the user's joined clients. */
    if (x != NULL && inbound)
        return 0;
    if (strcmp(type, "chat") == 0 ||
        api->stanza_child(st, "x", NS_CONFERENCE) != NULL)
        return 1;
    if (api->stanza_child(st, "body", NULL) != NULL)
        return 1;       /* normal (or an unknown type, RFC 6121 5.2.2) */
    for (ns = im_payloads; *ns != NULL; ns++)
        if (has_ns_child(st, *ns))
            return 1;
    return 0;
}


static int
carbons_enabled(ember_module_t *m, ember_session_t *s)
{
    void **slot = api->session_slot(m, s);

    return slot != NULL && *slot == &carbons_on;
}


static ember_stanza_t *
carbons_wrap(const ember_stanza_t *orig, const char *dir, const char *bare)
{
    ember_stanza_t *w, *f, *inner = NULL;
    const char *type = api->stanza_attr(orig, "type");

    if ((w = api->stanza_new("message", NULL)) == NULL)
        return NULL;
    if (api->stanza_set_attr(w, "from", bare) < 0 ||
        (type != NULL && api->stanza_set_attr(w, "type", type) < 0) ||
        (f = api->stanza_add_child(w, dir, NS_CARBONS)) == NULL ||
        (f = api->stanza_add_child(f, "forwarded", NS_FORWARD)) == NULL ||
        (inner = api->stanza_copy(orig)) == NULL ||
        /* Inside <forwarded/> the message must keep its own namespace. */
        api->stanza_set_attr(inner, "xmlns", NS_CLIENT) < 0 ||
        api->stanza_append(f, inner) < 0) {
        api->stanza_free(inner);
        api->stanza_free(w);
        return NULL;
    }
    api->stanza_free(inner);
    return w;
}


/* Would the core's delivery give the original to s?  (core/router.c: a
 * full JID's own session, else the available resources of the highest
 * non-negative priority.) */
static int
carbons_gets_original(const carbons_walk_t *w, ember_session_t *s)
{
    int avail = 0, prio;

    if (w->target != NULL)
        return s == w->target;
    if (w->best < 0)
        return 0;
    prio = api->session_priority(s, &avail);
    return avail && prio == w->best;
}


/* The copy for full, built once and readdressed for each session. */
static ember_stanza_t *
carbons_copy_for(carbons_walk_t *w, const char *full)
{
    if (w->copy == NULL &&
        (w->copy = carbons_wrap(w->orig, w->dir, w->bare)) == NULL)
        return NULL;
    return api->stanza_set_attr(w->copy, "to", full) == 0 ? w->copy : NULL;
}


static void
carbons_copy_to(ember_session_t *s, void *ud)
{
    carbons_walk_t *w = ud;
    const ember_jid_t *j = api->session_jid(s);
    ember_stanza_t *copy;

    if (j == NULL || s == w->skip || !carbons_enabled(w->m, s) ||
        carbons_gets_original(w, s))
        return;
    if ((copy = carbons_copy_for(w, api->jid_full(j))) != NULL)
        api->session_send(s, copy);
}


/* A session of another node that enabled carbons: the same rules. */
static void
carbons_copy_to_remote(const char *full, int available, int priority,
                       void *ud)
{
    carbons_walk_t *w = ud;
    ember_stanza_t *copy;

    /* A full JID's own session is here (its node routes what is sent to
     * it); bare delivery reaches every node's best. */
    if (w->target == NULL && w->best >= 0 && available &&
        priority == w->best)
        return;
    if ((copy = carbons_copy_for(w, full)) != NULL)
        api->remote_send(w->m, full, copy);
}


static void
carbons_best(ember_session_t *s, void *ud)
{
    carbons_walk_t *w = ud;
    int avail = 0, prio = api->session_priority(s, &avail);

    if (avail && prio >= 0 && prio > w->best)
        w->best = prio;
}


static void
carbons_best_remote(const char *full, int available, int priority, void *ud)
{
    carbons_walk_t *w = ud;

    if (available && priority >= 0 && priority > w->best)
        w->best = priority;
}


static void
carbons_none(const char *full, int available, int priority, void *ud)
{
}


/* Local copies, then the other nodes'. */
static void
carbons_copy_all(carbons_walk_t *w, const char *user)
{
    api->user_sessions(w->m, user, carbons_copy_to, w);
    api->user_remote_walk(w->m, user, MARK, carbons_copy_to_remote, w);
    api->stanza_free(w->copy);
}


/* ---- inbound: message/bare, message/full ---- */

typedef struct {
    ember_module_t *m;
    int n;
} carbons_count_t;


static void
carbons_count(ember_session_t *s, void *ud)
{
    carbons_count_t *c = ud;

    if (carbons_enabled(c->m, s))
        c->n++;
}


static int
carbons_user_enabled(ember_module_t *m, const char *user)
{
    carbons_count_t c = { m, 0 };

    api->user_sessions(m, user, carbons_count, &c);
    return c.n > 0 || api->user_remote_walk(m, user, MARK, carbons_none,
                                            NULL) > 0;
}


static int
carbons_on_inbound(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    const char *user = ev->to != NULL ? api->jid_node(ev->to) : NULL;
    carbons_walk_t w;

    (void) ud;
    if (user == NULL || !carbons_user_enabled(m, user) ||
        !carbons_eligible(ev->stanza, 1))
        return EMBER_HOOK_PASS;
    memset(&w, 0, sizeof(w));
    w.m = m;
    w.orig = ev->stanza;
    w.dir = "received";
    w.bare = api->jid_bare(ev->to);
    w.best = -1;
    /* A message from one resource to another of the same account: the
     * sender is not sent its own message back. */
    if (ev->origin != NULL && ev->from != NULL && api->jid_node(ev->from) &&
        strcmp(api->jid_bare(ev->from), api->jid_bare(ev->to)) == 0)
        w.skip = ev->origin;
    if (api->jid_resource(ev->to) != NULL)
        w.target = api->session_by_jid(api->jid_full(ev->to));
    if (w.target == NULL) {
        api->user_sessions(m, user, carbons_best, &w);
        api->user_remote_walk(m, user, NULL, carbons_best_remote, &w);
    }
    carbons_copy_all(&w, user);
    return EMBER_HOOK_PASS;
}


/* ---- outbound: pre-message/bare, pre-message/full ---- */

static int
carbons_on_outbound(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    const char *user = ev->from != NULL ? api->jid_node(ev->from) : NULL;
    carbons_walk_t w;

    (void) ud;
    if (ev->origin == NULL || user == NULL || ev->to == NULL ||
        !carbons_user_enabled(m, user))
        return EMBER_HOOK_PASS;
    /* To the account itself: the inbound side copies it as received. */
    if (strcmp(api->jid_bare(ev->from), api->jid_bare(ev->to)) == 0 ||
        !carbons_eligible(ev->stanza, 0))
        return EMBER_HOOK_PASS;
    memset(&w, 0, sizeof(w));
    w.m = m;
    w.orig = ev->stanza;
    w.dir = "sent";
    w.bare = api->jid_bare(ev->from);
    w.skip = ev->origin;
    w.best = -1;
    carbons_copy_all(&w, user);
    return EMBER_HOOK_PASS;
}


/* ---- enable / disable ---- */

static int
carbons_on_iq(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    const char *type = api->stanza_attr(ev->stanza, "type");
    const ember_jid_t *j;
    void **slot;

    if (type == NULL || strcmp(type, "set") != 0) {
        api->stanza_error(ev, EMBER_COND_BAD_REQUEST,
                          "enable and disable are set requests");
        return EMBER_HOOK_HANDLED;
    }
    /* Only a client of this server changes its own session. */
    if (ev->origin == NULL || (j = api->session_jid(ev->origin)) == NULL ||
        ev->from == NULL || !api->jid_equal(j, ev->from)) {
        api->stanza_error(ev, EMBER_COND_NOT_ALLOWED, NULL);
        return EMBER_HOOK_HANDLED;
    }
    if ((slot = api->session_slot(m, ev->origin)) == NULL) {
        api->stanza_error(ev, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return EMBER_HOOK_HANDLED;
    }
    *slot = ud != NULL ? &carbons_on : NULL;
    api->session_mark(m, ev->origin, MARK, ud != NULL);
    api->iq_result(ev, NULL);
    return EMBER_HOOK_HANDLED;
}


/* Addressed to someone else's account: not theirs to change. */
static int
carbons_on_iq_other(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    (void) m;
    (void) ud;
    api->stanza_error(ev, EMBER_COND_NOT_ALLOWED, NULL);
    return EMBER_HOOK_HANDLED;
}


static int
carbons_load(ember_module_t *m, const ember_api_t *a)
{
    static const char *const targets[] = { "self", "host" };
    static const char *const ops[] = { "enable", "disable" };
    char ev[128];
    size_t i, k;
    int err;

    api = a;
    if ((err = api->disco_add_feature(m, NS_CARBONS)) < 0)
        return err;
    for (i = 0; i < 2; i++)
        for (k = 0; k < 2; k++) {
            /* ud non-NULL for enable */
            snprintf(ev, sizeof(ev), "iq/%s/" NS_CARBONS ":%s", targets[i],
                     ops[k]);
            if ((err = api->hook(m, ev, carbons_on_iq, 0,
                                 k == 0 ? (void *) &carbons_on : NULL)) < 0)
                return err;
        }
    for (k = 0; k < 2; k++) {
        snprintf(ev, sizeof(ev), "iq/bare/" NS_CARBONS ":%s", ops[k]);
        if ((err = api->hook(m, ev, carbons_on_iq_other, 0, NULL)) < 0)
            return err;
    }
    /* Inbound before the core's delivery; outbound after filters (which
     * may refuse the message) had their say. */
    if ((err = api->hook(m, "message/bare", carbons_on_inbound, 10,
                         NULL)) < 0 ||
        (err = api->hook(m, "message/full", carbons_on_inbound, 10,
                         NULL)) < 0 ||
        (err = api->hook(m, "pre-message/bare", carbons_on_outbound, -100,
                         NULL)) < 0 ||
        (err = api->hook(m, "pre-message/full", carbons_on_outbound, -100,
                         NULL)) < 0)
        return err;
    return 0;
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "carbons",
    .version = "1.0",
    .description = "XEP-0280: Message Carbons",
    .requires = (const char *const[]){ "hooks", "stanzas", "sessions",
                                       "disco", "iq", NULL },
    .load = carbons_load,
};
