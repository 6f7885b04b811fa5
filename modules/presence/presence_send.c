/* presence_send.c -- what presence sends: broadcasts to subscribers and
 * the user's resources (RFC 6121 4.2, 4.4, 4.5), probes and their
 * answers, directed presence when a session goes, and the delivery
 * helpers the subscription code shares. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "presence.h"

/* A broadcast waiting for the sender's roster. */
typedef struct {
    ppend_t pend;         /* first: released through it at unload */
    pres_inst_t *pi;
    char *user, *full;
    ember_stanza_t *st;   /* the presence, from the full JID, no 'to' */
    ptarget_t *directed;  /* unavailable: the targets to tell too */
    int available, initial, closing;
} pbcast_t;


static void
ptargets_free(ptarget_t *t)
{
    ptarget_t *n;

    for (; t != NULL; t = n) {
        n = t->next;
        free(t);
    }
}


void
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


psess_t *
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
    int n, unavailable;
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


int
pres_deliver_available(pres_inst_t *pi, const char *user,
                       const ember_stanza_t *st, const char *except)
{
    pwalk_t w;

    memset(&w, 0, sizeof(w));
    w.pi = pi;
    w.st = st;
    w.except = except;
    api->user_sessions(pi->m, user, deliver_one, &w);
    return w.n;
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
        pres_deliver_available(tpi, api->jid_node(j), st, NULL);
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
    w->n++;
    if (w->unavailable)
        deliver_to_bare(w->pi, w->to, st);
    else
        api->route(w->pi->m, st);
}


int
pres_send_current(pres_inst_t *pi, const char *user, const char *to,
                  int unavailable)
{
    pwalk_t w;

    memset(&w, 0, sizeof(w));
    w.pi = pi;
    w.to = to;
    w.unavailable = unavailable;
    api->user_sessions(pi->m, user, current_one, &w);
    return w.n;
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


/* ---- broadcast (RFC 6121 4.2, 4.4, 4.5) ---- */

typedef struct {
    pbcast_t *b;
    const ember_roster_iface_t *ri;
    ember_roster_t *roster;
    ember_session_t *origin;
    char bare[1100];      /* the user's */
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


void
pres_answer_probe(pres_inst_t *pi, const char *user, ember_session_t *origin)
{
    pprobe_t p = { origin, api->jid_full(api->session_jid(origin)) };

    api->user_sessions(pi->m, user, probe_answer_one, &p);
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

    if (it->hidden || !(it->subscription & EMBER_SUB_TO))
        return 0;
    if ((j = api->jid_parse(it->jid)) == NULL)
        return 0;
    if (api->jid_node(j) == NULL ||
        (cpi = pres_inst_of(api->jid_domain(j))) == NULL) {
        pres_route_simple(w->b->pi, w->bare, it->jid, "probe");
        api->jid_free(j);
        return 0;
    }
    /* The contact's own roster has the last word when it is at hand. */
    if ((cri = pres_roster(cpi)) != NULL &&
        (croster = cri->cached(cri, api->jid_node(j))) != NULL) {
        back.size = sizeof(back);
        if (cri->item(cri, croster, w->bare, &back) < 0 ||
            !(back.subscription & EMBER_SUB_FROM)) {
            api->jid_free(j);
            return 0;
        }
    }
    pres_answer_probe(cpi, api->jid_node(j), w->origin);
    /* The contact's sessions on other nodes of a cluster answer a probe
     * there. */
    if (EMBER_API_HAS(api, user_remote_sessions) &&
        api->user_remote_sessions(cpi->m, api->jid_node(j)) > 0)
        pres_route_simple(w->b->pi, w->bare, it->jid, "probe");
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


static void
pbcast_free(void *p)
{
    pbcast_t *b = p;

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
    int avail;

    memset(&w, 0, sizeof(w));
    snprintf(w.bare, sizeof(w.bare), "%s@%s", b->user, pi->host);
    w.b = b;
    w.ri = ri;
    w.roster = status == 0 ? roster : NULL;
    w.origin = b->closing ? NULL : api->session_by_jid(b->full);
    if (ri != NULL && w.roster != NULL)
        ri->foreach(ri, roster, bcast_contact, &w);
    /* The user's own available resources see it too (4.2.2, 4.4.2,
     * 4.5.2), and so does a client's own unavailable presence: "as well
     * as ... the resource that generated the unavailable notification"
     * (4.5.2), no longer available itself by now. */
    if ((st = api->stanza_copy(b->st)) != NULL) {
        api->stanza_set_attr(st, "to", w.bare);
        pres_deliver_available(pi, b->user, st, b->closing ? b->full : NULL);
        if (!b->available && w.origin != NULL) {
            avail = 0;
            api->session_priority(w.origin, &avail);
            if (!avail) {
                api->stanza_set_attr(st, "to", b->full);
                api->session_send(w.origin, st);
            }
        }
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
        pres_answer_probe(pi, b->user, w.origin);
        pres_sub_redeliver(pi, w.roster, w.origin);
    }
    pbcast_free(b);
}


void
pres_broadcast(pres_inst_t *pi, ember_session_t *s, const ember_stanza_t *in,
          int available, int closing)
{
    const ember_roster_iface_t *ri = pres_roster(pi);
    const ember_jid_t *j = api->session_jid(s);
    psess_t *ps = pres_sess(pi, s);
    pbcast_t *b;

    if (j == NULL || ps == NULL || (b = calloc(1, sizeof(*b))) == NULL)
        return;
    b->pi = pi;
    pres_pending_add(pi, &b->pend, pbcast_free);
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


void
pres_send_cancel(const ember_roster_iface_t *ri)
{
    ri->cancel(ri, bcast_loaded, NULL);
}
