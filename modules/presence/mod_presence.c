/* mod_presence.c -- presence (RFC 6121 sections 3 and 4): broadcast to
 * subscribers, probes at initial presence, directed presence, unavailable
 * for sessions that end, and the subscription stanzas (presence_sub.c),
 * on the rosters of mod_roster. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "presence.h"

const ember_api_t *api;

static pres_inst_t *pres_instances;

static const ember_option_t pres_options[] = {
    EMBER_OPT("max-directed", EMBER_OPT_INT, pres_conf_t, max_directed,
              "100", 0, 100000, "directed presence targets remembered per "
              "session (they get unavailable when it goes)"),
    EMBER_OPT_END
};

/* An inbound presence waiting for the recipient's roster. */
typedef struct {
    ppend_t pend;         /* first: released through it at unload */
    pres_inst_t *pi;
    char *user, *sender, *reply_to;
    ember_stanza_t *st;
} pin_t;


void
pres_pending_add(pres_inst_t *pi, ppend_t *p, void (*release)(void *p))
{
    p->release = release;
    p->prev = NULL;
    p->next = pi->pending;
    if (pi->pending != NULL)
        pi->pending->prev = p;
    pi->pending = p;
    p->linked = 1;
}


void
pres_pending_remove(pres_inst_t *pi, ppend_t *p)
{
    if (!p->linked)
        return;
    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        pi->pending = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    p->linked = 0;
}


pres_inst_t *
pres_inst_of(const char *host)
{
    pres_inst_t *pi;

    for (pi = pres_instances; host != NULL && pi != NULL; pi = pi->next)
        if (strcmp(pi->host, host) == 0)
            return pi;
    return NULL;
}


const ember_roster_iface_t *
pres_roster(pres_inst_t *pi)
{
    const ember_roster_iface_t *ri = api->iface_get(pi->m,
                                                    EMBER_ROSTER_IFACE);

    if (ri == NULL || !EMBER_ROSTER_HAS(ri, interested))
        return NULL;
    return ri;
}


/* ---- hooks ---- */

static pres_inst_t *
pres_self(ember_module_t *m)
{
    return api->module_data(m);
}


/* Presence a local client broadcasts (no 'to', or its own bare JID). */
static int
pres_on_self(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    pres_inst_t *pi = pres_self(m);
    const char *type = api->stanza_attr(ev->stanza, "type");
    psess_t *ps;

    if (ev->origin == NULL || api->session_jid(ev->origin) == NULL)
        return EMBER_HOOK_PASS;
    if (type == NULL) {
        pres_broadcast(pi, ev->origin, ev->stanza, 1, 0);
    } else if (strcmp(type, "unavailable") == 0) {
        ps = pres_sess_peek(pi, ev->origin);
        if (ps != NULL && (ps->last != NULL || ps->directed != NULL))
            pres_broadcast(pi, ev->origin, ev->stanza, 0, 0);
    } else if (strcmp(type, "probe") == 0) {
        pres_answer_probe(pi, api->jid_node(ev->from), ev->origin);
    }
    /* Subscriptions to oneself and errors go nowhere. */
    return EMBER_HOOK_HANDLED;
}


static void
directed_track(pres_inst_t *pi, ember_session_t *s, const char *to,
               int available)
{
    pres_conf_t *conf = api->module_conf(pi->m);
    psess_t *ps = pres_sess(pi, s);
    ptarget_t **pp, *t;
    size_t len;

    if (ps == NULL)
        return;
    for (pp = &ps->directed; (t = *pp) != NULL; pp = &t->next)
        if (strcmp(t->jid, to) == 0)
            break;
    if (!available) {
        if (t != NULL) {
            *pp = t->next;
            free(t);
            ps->ndirected--;
        }
        return;
    }
    if (t != NULL || ps->ndirected >= (size_t) conf->max_directed)
        return;
    len = strlen(to) + 1;
    if ((t = malloc(sizeof(*t) + len)) == NULL)
        return;
    memcpy(t->jid, to, len);
    t->next = ps->directed;
    ps->directed = t;
    ps->ndirected++;
}


/* A local client's presence with a 'to' (RFC 6121 3.x outbound, 4.6). */
static int
pres_on_outbound(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    const char *type = api->stanza_attr(ev->stanza, "type");
    pres_inst_t *spi;
    int sub;

    if (ev->origin == NULL || ev->from == NULL || ev->to == NULL ||
        api->jid_node(ev->from) == NULL ||
        (spi = pres_inst_of(api->jid_domain(ev->from))) == NULL)
        return EMBER_HOOK_PASS;
    if ((sub = pres_sub_type(type)) != 0) {
        /* No subscription to oneself. */
        if (strcmp(api->jid_bare(ev->from), api->jid_bare(ev->to)) == 0)
            return EMBER_HOOK_HANDLED;
        if (pres_sub_process(spi, api->jid_node(ev->from),
                             api->jid_bare(ev->to), sub, 0,
                             ev->stanza) < 0)
            api->stanza_error(ev, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return EMBER_HOOK_HANDLED;
    }
    if (type == NULL || strcmp(type, "unavailable") == 0)
        directed_track(spi, ev->origin, api->jid_full(ev->to), type == NULL);
    return EMBER_HOOK_PASS;
}


static void
pin_free(void *p)
{
    pin_t *in = p;

    if (in->pi != NULL)
        pres_pending_remove(in->pi, &in->pend);
    api->stanza_free(in->st);
    free(in->user);
    free(in->sender);
    free(in->reply_to);
    free(in);
}


static pin_t *
pin_new(pres_inst_t *pi, const ember_event_t *ev)
{
    pin_t *in = calloc(1, sizeof(*in));

    if (in == NULL || (in->user = strdup(api->jid_node(ev->to))) == NULL ||
        (in->sender = strdup(api->jid_bare(ev->from))) == NULL ||
        (in->reply_to = strdup(api->jid_full(ev->from))) == NULL ||
        (in->st = api->stanza_copy(ev->stanza)) == NULL) {
        if (in != NULL)
            pin_free(in);
        return NULL;
    }
    in->pi = pi;
    pres_pending_add(pi, &in->pend, pin_free);
    return in;
}


static int
subscribed_to(const ember_roster_iface_t *ri, ember_roster_t *roster,
              const char *contact, ember_sub_t bit)
{
    ember_roster_item_t it;

    it.size = sizeof(it);
    return ri != NULL && roster != NULL &&
           ri->item(ri, roster, contact, &it) == 0 && !it.hidden &&
           (it.subscription & bit);
}


/*
 * RFC 6121 8.5.2.1.2: available or unavailable presence to a bare JID
 * reaches every available resource, whether the sender is a contact or
 * not.  It still waits for the roster load so that it cannot overtake a
 * subscription stanza from the same sender that is being processed
 * (3.1.5: the approval comes before the contact's presence).
 */
static void
inbound_loaded(int status, ember_roster_t *roster, void *ud)
{
    pin_t *in = ud;

    (void) roster;
    if (status == 0)
        pres_deliver_available(in->pi, in->user, in->st, NULL);
    pin_free(in);
}


/*
 * 4.3.2: a probe is answered with the current presence, for subscribers;
 * anyone else gets "unsubscribed" from the user's bare JID (a full JID
 * would leak presence), which cancels a subscription the prober believes
 * it has.
 */
static void
probe_loaded(int status, ember_roster_t *roster, void *ud)
{
    pin_t *in = ud;
    char bare[1100];

    snprintf(bare, sizeof(bare), "%s@%s", in->user,
             api->module_host(in->pi->m));
    if (status == 0 && subscribed_to(pres_roster(in->pi), roster,
                                     in->sender, EMBER_SUB_FROM)) {
        /* Nobody online: say so, from the bare JID (4.3.2, case 3). */
        if (pres_send_current(in->pi, in->user, in->reply_to, 0) == 0)
            pres_route_simple(in->pi, bare, in->reply_to, "unavailable");
    } else if (status == 0) {
        pres_route_simple(in->pi, bare, in->sender, "unsubscribed");
    }
    pin_free(in);
}


static void
count_available(ember_session_t *s, void *ud)
{
    int available = 0;

    api->session_priority(s, &available);
    *(int *) ud += available != 0;
}


static int
pres_on_inbound(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    pres_inst_t *pi = pres_self(m);
    const ember_roster_iface_t *ri = pres_roster(pi);
    const char *type = api->stanza_attr(ev->stanza, "type");
    const char *user;
    int sub, n = 0, probe;
    pin_t *in;

    if (ev->from == NULL || ev->to == NULL ||
        (user = api->jid_node(ev->to)) == NULL || ri == NULL)
        return EMBER_HOOK_PASS;
    /* Between the user's own resources presence goes as addressed. */
    if (strcmp(api->jid_bare(ev->from), api->jid_bare(ev->to)) == 0)
        return pres_sub_type(type) != 0 ? EMBER_HOOK_HANDLED
                                        : EMBER_HOOK_PASS;
    if ((sub = pres_sub_type(type)) != 0) {
        pres_sub_process(pi, user, api->jid_bare(ev->from), sub, 1,
                         ev->stanza);
        return EMBER_HOOK_HANDLED;
    }
    probe = type != NULL && strcmp(type, "probe") == 0;
    if (!probe) {
        /* Errors follow the core's rules; directed presence to a full
         * JID is delivered as it is (4.6). */
        if ((type != NULL && strcmp(type, "unavailable") != 0) ||
            api->jid_resource(ev->to) != NULL)
            return EMBER_HOOK_PASS;
        api->user_sessions(m, user, count_available, &n);
        if (n == 0)
            return EMBER_HOOK_HANDLED;
    }
    if ((in = pin_new(pi, ev)) == NULL)
        return EMBER_HOOK_HANDLED;
    if (ri->load(ri, user, probe ? probe_loaded : inbound_loaded, in) < 0)
        pin_free(in);
    return EMBER_HOOK_HANDLED;
}


/* Every session that ends unavailable-less is announced (4.5.2). */
static int
pres_on_closed(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    pres_inst_t *pi = pres_self(m);
    psess_t *ps = pres_sess_peek(pi, ev->origin);

    if (ps != NULL && (ps->last != NULL || ps->directed != NULL))
        pres_broadcast(pi, ev->origin, NULL, 0, 1);
    return EMBER_HOOK_PASS;
}


/* RFC 6121 3.4: pre-approvals are supported. */
static int
pres_on_features(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    if (ev->data != NULL)
        api->stanza_add_child(ev->data, "sub",
                              "urn:xmpp:features:pre-approval");
    return EMBER_HOOK_PASS;
}


static void
pres_unload(ember_module_t *m)
{
    const ember_roster_iface_t *ri = api->iface_get(m, EMBER_ROSTER_IFACE);
    pres_inst_t **pp, *pi;

    /* Pending roster loads must not call back into an unloaded module. */
    if (ri != NULL && EMBER_ROSTER_HAS(ri, cancel)) {
        pres_send_cancel(ri);
        ri->cancel(ri, probe_loaded, NULL);
        ri->cancel(ri, inbound_loaded, NULL);
        pres_sub_cancel(ri);
    }
    if ((pi = pres_self(m)) != NULL)
        while (pi->pending != NULL)
            pi->pending->release(pi->pending);
    for (pp = &pres_instances; (pi = *pp) != NULL; pp = &pi->next)
        if (pi->m == m) {
            *pp = pi->next;
            free(pi);
            break;
        }
    api->module_set_data(m, NULL);
}


static const struct {
    const char *event;
    ember_hook_cb cb;
} pres_hooks[] = {
    { "presence/self", pres_on_self },
    { "presence/bare", pres_on_inbound },
    { "presence/full", pres_on_inbound },
    { "pre-presence/bare", pres_on_outbound },
    { "pre-presence/full", pres_on_outbound },
    { EMBER_EV_SESSION_CLOSED, pres_on_closed },
    { EMBER_EV_STREAM_FEATURES, pres_on_features },
    { EMBER_ROSTER_EV_REMOVING, pres_sub_on_removing },
};


static int
pres_load(ember_module_t *m, const ember_api_t *a)
{
    pres_inst_t *pi;
    size_t i;
    int err;

    api = a;
    if ((pi = calloc(1, sizeof(*pi))) == NULL)
        return EMBER_ENOMEM;
    pi->m = m;
    pi->host = api->module_host(m);
    pi->next = pres_instances;
    pres_instances = pi;
    api->module_set_data(m, pi);
    if ((err = api->session_slot_destructor(m, psess_free)) < 0)
        return err;
    for (i = 0; i < sizeof(pres_hooks) / sizeof(pres_hooks[0]); i++)
        if ((err = api->hook(m, pres_hooks[i].event, pres_hooks[i].cb, 0,
                             NULL)) < 0)
            return err;
    return 0;
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "presence",
    .version = "1.0",
    .description = "Presence and subscriptions (RFC 6121)",
    .depends = (const char *const[]){ "roster", NULL },
    .requires = (const char *const[]){ "hooks", "stanzas", "sessions",
                                       "accounts", "ifaces", NULL },
    .conf_size = sizeof(pres_conf_t),
    .options = pres_options,
    .load = pres_load,
    .unload = pres_unload,
};

