/* mod_presence.c -- presence (RFC 6121 sections 3 and 4): broadcast to
 * subscribers, probes at initial presence, directed presence, unavailable
 * for sessions that end, and the subscription stanzas (presence_sub.c),
 * on the rosters of mod_roster. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "presence_int.h"

const ember_api_t *api;

static pres_inst_t *pres_instances;

static const ember_option_t pres_options[] = {
    EMBER_OPT("max-directed", EMBER_OPT_INT, pres_conf_t, max_directed,
              "100", 0, 100000, "directed presence targets remembered per "
              "session (they get unavailable when it goes)"),
    EMBER_OPT_END
};

/* A broadcast waiting for the sender's roster. */
typedef struct {
    ppend_t pend;         /* first: released through it at unload */
    pres_inst_t *pi;
    char *user, *full;
    ember_stanza_t *st;   /* the presence, from the full JID, no 'to' */
    ptarget_t *directed;  /* unavailable: the targets to tell too */
    int available, initial, closing;
} pbcast_t;

/* An inbound presence waiting for the recipient's roster. */
typedef struct {
    ppend_t pend;         /* first: released through it at unload */
    pres_inst_t *pi;
    char *user, *sender, *reply_to;
    ember_stanza_t *st;
} pin_t;


void
pres_pending_add(pres_inst_t *pi, ppend_t *p, void (*release)(ppend_t *p))
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


static void
ptargets_free(ptarget_t *t)
{
    ptarget_t *n;

    for (; t != NULL; t = n) {
        n = t->next;
        free(t);
    }
}


static void
psess_free(void *p)
{
    psess_t *ps = p;

    if (ps == NULL)
        return;
    api->stanza_free(ps->last);
    ptargets_free(ps->directed);
    free(ps);
}


psess_t *
pres_sess(pres_inst_t *pi, ember_session_t *s)
{
    void **slot = api->session_slot(pi->m, s);

    if (slot == NULL)
        return NULL;
    if (*slot == NULL)
        *slot = calloc(1, sizeof(psess_t));
    return *slot;
}


static psess_t *
pres_sess_peek(pres_inst_t *pi, ember_session_t *s)
{
    void **slot = api->session_slot(pi->m, s);

    return slot != NULL ? *slot : NULL;
}


/* ---- delivery helpers ---- */

typedef struct {
    pres_inst_t *pi;
    const ember_stanza_t *st;
    const char *except;   /* a full JID to skip */
    const char *to;
    ember_session_t *found;
    int n, unavailable, direct;
} pwalk_t;


static const char *
session_full(ember_session_t *s)
{
    const ember_jid_t *j = api->session_jid(s);

    return j != NULL ? api->jid_full(j) : NULL;
}


static void
deliver_one(ember_session_t *s, void *ud)
{
    pwalk_t *w = ud;
    const char *full = session_full(s);
    int available = 0;

    api->session_priority(s, &available);
    if (!available || full == NULL ||
        (w->except != NULL && strcmp(full, w->except) == 0))
        return;
    api->session_send(s, w->st);
    w->n++;
}


static int
deliver_except(pres_inst_t *pi, const char *user, const ember_stanza_t *st,
               const char *except)
{
    pwalk_t w;

    memset(&w, 0, sizeof(w));
    w.pi = pi;
    w.st = st;
    w.except = except;
    api->user_sessions(pi->m, user, deliver_one, &w);
    return w.n;
}


int
pres_deliver_available(pres_inst_t *pi, const char *user,
                       const ember_stanza_t *st)
{
    return deliver_except(pi, user, st, NULL);
}


/* Deliver to a bare JID's available resources without the subscription
 * check (the stanza tells of a subscription that just ended), or route
 * it when the JID is not served here. */
static void
deliver_to_bare(pres_inst_t *pi, const char *to, ember_stanza_t *st)
{
    ember_jid_t *j = api->jid_parse(to);
    pres_inst_t *tpi;

    if (j != NULL && api->jid_node(j) != NULL &&
        (tpi = pres_inst_of(api->jid_domain(j))) != NULL) {
        pres_deliver_available(tpi, api->jid_node(j), st);
        api->stanza_free(st);
    } else {
        api->route(pi->m, st);
    }
    api->jid_free(j);
}


static void
current_one(ember_session_t *s, void *ud)
{
    pwalk_t *w = ud;
    psess_t *ps = pres_sess_peek(w->pi, s);
    const char *full = session_full(s);
    ember_stanza_t *st;

    if (ps == NULL || ps->last == NULL || full == NULL)
        return;
    if (w->unavailable) {
        if ((st = api->stanza_new("presence", NULL)) == NULL)
            return;
        api->stanza_set_attr(st, "type", "unavailable");
    } else if ((st = api->stanza_copy(ps->last)) == NULL) {
        return;
    }
    api->stanza_set_attr(st, "from", full);
    api->stanza_set_attr(st, "to", w->to);
    if (w->unavailable)
        deliver_to_bare(w->pi, w->to, st);
    else
        api->route(w->pi->m, st);
}


void
pres_send_current(pres_inst_t *pi, const char *user, const char *to,
                  int unavailable)
{
    pwalk_t w;

    memset(&w, 0, sizeof(w));
    w.pi = pi;
    w.to = to;
    w.unavailable = unavailable;
    api->user_sessions(pi->m, user, current_one, &w);
}


void
pres_route_simple(pres_inst_t *pi, const char *from, const char *to,
                  const char *type)
{
    ember_stanza_t *st = api->stanza_new("presence", NULL);

    if (st == NULL)
        return;
    api->stanza_set_attr(st, "from", from);
    api->stanza_set_attr(st, "to", to);
    api->stanza_set_attr(st, "type", type);
    api->route(pi->m, st);
}


static void
find_full(ember_session_t *s, void *ud)
{
    pwalk_t *w = ud;
    const char *full = session_full(s);

    if (full != NULL && strcmp(full, w->to) == 0)
        w->found = s;
}


static ember_session_t *
session_by_full(pres_inst_t *pi, const char *user, const char *full)
{
    pwalk_t w;

    memset(&w, 0, sizeof(w));
    w.to = full;
    api->user_sessions(pi->m, user, find_full, &w);
    return w.found;
}


/* ---- broadcast (RFC 6121 4.2, 4.4, 4.5) ---- */

typedef struct {
    pbcast_t *b;
    const ember_roster_iface_t *ri;
    ember_roster_t *roster;
    ember_session_t *origin;
} pbwalk_t;


static int
bcast_contact(const ember_roster_item_t *it, void *ud)
{
    pbwalk_t *w = ud;
    ember_stanza_t *st;

    if (it->hidden || !(it->subscription & EMBER_SUB_FROM))
        return 0;
    if ((st = api->stanza_copy(w->b->st)) == NULL)
        return 0;
    api->stanza_set_attr(st, "to", it->jid);
    api->route(w->b->pi->m, st);
    return 0;
}


typedef struct {
    ember_session_t *origin;
    const char *origin_full;
} pprobe_t;


static void
probe_answer_one(ember_session_t *s, void *ud)
{
    pprobe_t *p = ud;
    pres_inst_t *pi;
    const ember_jid_t *j = api->session_jid(s);
    psess_t *ps;
    ember_stanza_t *st;

    if (j == NULL || (pi = pres_inst_of(api->jid_domain(j))) == NULL ||
        (ps = pres_sess_peek(pi, s)) == NULL || ps->last == NULL ||
        strcmp(api->jid_full(j), p->origin_full) == 0 ||
        (st = api->stanza_copy(ps->last)) == NULL)
        return;
    api->stanza_set_attr(st, "from", api->jid_full(j));
    api->stanza_set_attr(st, "to", p->origin_full);
    api->session_send(p->origin, st);
    api->stanza_free(st);
}


/* A local contact's presence is read from its sessions (4.3.2), without a
 * probe stanza; other contacts get a probe. */
static int
probe_contact(const ember_roster_item_t *it, void *ud)
{
    pbwalk_t *w = ud;
    ember_jid_t *j;
    pres_inst_t *cpi;
    const ember_roster_iface_t *cri;
    ember_roster_t *croster;
    ember_roster_item_t back;
    pprobe_t p;
    char bare[1100];

    if (it->hidden || !(it->subscription & EMBER_SUB_TO))
        return 0;
    if ((j = api->jid_parse(it->jid)) == NULL)
        return 0;
    if (api->jid_node(j) == NULL ||
        (cpi = pres_inst_of(api->jid_domain(j))) == NULL) {
        snprintf(bare, sizeof(bare), "%s@%s", w->b->user, w->b->pi->host);
        pres_route_simple(w->b->pi, bare, it->jid, "probe");
        api->jid_free(j);
        return 0;
    }
    snprintf(bare, sizeof(bare), "%s@%s", w->b->user, w->b->pi->host);
    /* The contact's own roster has the last word when it is at hand. */
    if ((cri = pres_roster(cpi)) != NULL &&
        (croster = cri->cached(cri, api->jid_node(j))) != NULL) {
        back.size = sizeof(back);
        if (cri->item(cri, croster, bare, &back) < 0 ||
            !(back.subscription & EMBER_SUB_FROM)) {
            api->jid_free(j);
            return 0;
        }
    }
    p.origin = w->origin;
    p.origin_full = w->b->full;
    api->user_sessions(cpi->m, api->jid_node(j), probe_answer_one, &p);
    api->jid_free(j);
    return 0;
}


static int
directed_covered(pbwalk_t *w, const char *target)
{
    ember_roster_item_t it;
    ember_jid_t *j = api->jid_parse(target);
    int covered = 0;

    if (j != NULL && w->roster != NULL) {
        it.size = sizeof(it);
        covered = w->ri->item(w->ri, w->roster, api->jid_bare(j), &it) == 0
                  && !it.hidden && (it.subscription & EMBER_SUB_FROM);
    }
    api->jid_free(j);
    return covered;
}


static void pbcast_free(pbcast_t *b);

static void
pbcast_release(ppend_t *p)
{
    pbcast_free((pbcast_t *) p);
}


static void
pbcast_free(pbcast_t *b)
{
    pres_pending_remove(b->pi, &b->pend);
    api->stanza_free(b->st);
    ptargets_free(b->directed);
    free(b->user);
    free(b->full);
    free(b);
}


static void
bcast_loaded(int status, ember_roster_t *roster, void *ud)
{
    pbcast_t *b = ud;
    pres_inst_t *pi = b->pi;
    const ember_roster_iface_t *ri = pres_roster(pi);
    ember_stanza_t *st;
    ptarget_t *t;
    pbwalk_t w;
    pprobe_t p;

    memset(&w, 0, sizeof(w));
    w.b = b;
    w.ri = ri;
    w.roster = status == 0 ? roster : NULL;
    w.origin = b->closing ? NULL : session_by_full(pi, b->user, b->full);
    if (ri != NULL && w.roster != NULL)
        ri->foreach(ri, roster, bcast_contact, &w);
    /* The user's own available resources see it too (4.2.2, 4.4.2). */
    if ((st = api->stanza_copy(b->st)) != NULL) {
        char bare[1100];

        snprintf(bare, sizeof(bare), "%s@%s", b->user, pi->host);
        api->stanza_set_attr(st, "to", bare);
        deliver_except(pi, b->user, st, b->closing ? b->full : NULL);
        api->stanza_free(st);
    }
    for (t = b->directed; t != NULL; t = t->next) {
        if (directed_covered(&w, t->jid) ||
            (st = api->stanza_copy(b->st)) == NULL)
            continue;
        api->stanza_set_attr(st, "to", t->jid);
        api->route(pi->m, st);
    }
    if (b->initial && w.origin != NULL) {
        if (ri != NULL && w.roster != NULL)
            ri->foreach(ri, roster, probe_contact, &w);
        /* Presence of the user's other resources (4.2.2). */
        p.origin = w.origin;
        p.origin_full = b->full;
        api->user_sessions(pi->m, b->user, probe_answer_one, &p);
        pres_sub_redeliver(pi, w.roster, w.origin);
    }
    pbcast_free(b);
}


static void
broadcast(pres_inst_t *pi, ember_session_t *s, const ember_stanza_t *in,
          int available, int closing)
{
    const ember_roster_iface_t *ri = pres_roster(pi);
    const ember_jid_t *j = api->session_jid(s);
    psess_t *ps = pres_sess(pi, s);
    pbcast_t *b;

    if (j == NULL || ps == NULL || (b = calloc(1, sizeof(*b))) == NULL)
        return;
    b->pi = pi;
    pres_pending_add(pi, &b->pend, pbcast_release);
    b->available = available;
    b->closing = closing;
    if ((b->user = strdup(api->jid_node(j))) == NULL ||
        (b->full = strdup(api->jid_full(j))) == NULL)
        goto fail;
    if (in != NULL) {
        if ((b->st = api->stanza_copy(in)) == NULL)
            goto fail;
    } else if ((b->st = api->stanza_new("presence", NULL)) == NULL) {
        goto fail;
    } else {
        api->stanza_set_attr(b->st, "type", "unavailable");
    }
    api->stanza_set_attr(b->st, "from", b->full);
    api->stanza_set_attr(b->st, "to", NULL);
    if (available) {
        b->initial = ps->last == NULL;
        api->stanza_free(ps->last);
        ps->last = api->stanza_copy(b->st);
    } else {
        /* Gone: tell whoever got directed presence (4.6.3). */
        api->stanza_free(ps->last);
        ps->last = NULL;
        b->directed = ps->directed;
        ps->directed = NULL;
        ps->ndirected = 0;
    }
    if (ri == NULL || ri->load(ri, b->user, bcast_loaded, b) < 0)
        bcast_loaded(EMBER_EDEPEND, NULL, b);
    return;
fail:
    pbcast_free(b);
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
    pprobe_t p;

    if (ev->origin == NULL || api->session_jid(ev->origin) == NULL)
        return EMBER_HOOK_PASS;
    if (type == NULL) {
        broadcast(pi, ev->origin, ev->stanza, 1, 0);
    } else if (strcmp(type, "unavailable") == 0) {
        ps = pres_sess_peek(pi, ev->origin);
        if (ps != NULL && (ps->last != NULL || ps->directed != NULL))
            broadcast(pi, ev->origin, ev->stanza, 0, 0);
    } else if (strcmp(type, "probe") == 0) {
        p.origin = ev->origin;
        p.origin_full = api->jid_full(ev->from);
        api->user_sessions(m, api->jid_node(ev->from), probe_answer_one, &p);
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
pin_free(pin_t *in)
{
    if (in->pi != NULL)
        pres_pending_remove(in->pi, &in->pend);
    api->stanza_free(in->st);
    free(in->user);
    free(in->sender);
    free(in->reply_to);
    free(in);
}


static void
pin_release(ppend_t *p)
{
    pin_free((pin_t *) p);
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
    pres_pending_add(pi, &in->pend, pin_release);
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


/* Presence to a bare JID is for subscribers only. */
static void
inbound_loaded(int status, ember_roster_t *roster, void *ud)
{
    pin_t *in = ud;

    if (status == 0 && subscribed_to(pres_roster(in->pi), roster,
                                     in->sender, EMBER_SUB_TO))
        pres_deliver_available(in->pi, in->user, in->st);
    pin_free(in);
}


/* 4.3.2: a probe is answered with the current presence, for subscribers. */
static void
probe_loaded(int status, ember_roster_t *roster, void *ud)
{
    pin_t *in = ud;

    if (status == 0 && subscribed_to(pres_roster(in->pi), roster,
                                     in->sender, EMBER_SUB_FROM))
        pres_send_current(in->pi, in->user, in->reply_to, 0);
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
        broadcast(pi, ev->origin, NULL, 0, 1);
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
        ri->cancel(ri, bcast_loaded, NULL);
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


static int
pres_load(ember_module_t *m, const ember_api_t *a)
{
    pres_inst_t *pi;
    int err;

    api = a;
    if ((pi = calloc(1, sizeof(*pi))) == NULL)
        return EMBER_ENOMEM;
    pi->m = m;
    pi->host = api->module_host(m);
    pi->next = pres_instances;
    pres_instances = pi;
    api->module_set_data(m, pi);
    if ((err = api->session_slot_destructor(m, psess_free)) < 0 ||
        (err = api->hook(m, "presence/self", pres_on_self, 0, NULL)) < 0 ||
        (err = api->hook(m, "presence/bare", pres_on_inbound, 0,
                         NULL)) < 0 ||
        (err = api->hook(m, "presence/full", pres_on_inbound, 0,
                         NULL)) < 0 ||
        (err = api->hook(m, "pre-presence/bare", pres_on_outbound, 0,
                         NULL)) < 0 ||
        (err = api->hook(m, "pre-presence/full", pres_on_outbound, 0,
                         NULL)) < 0 ||
        (err = api->hook(m, EMBER_EV_SESSION_CLOSED, pres_on_closed, 0,
                         NULL)) < 0 ||
        (err = api->hook(m, EMBER_EV_STREAM_FEATURES, pres_on_features, 0,
                         NULL)) < 0 ||
        (err = api->hook(m, EMBER_ROSTER_EV_REMOVING, pres_sub_on_removing,
                         0, NULL)) < 0)
        return err;
    return 0;
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER_MIN(1),
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
