/* presence_sub.c -- the subscription state machine of RFC 6121 section 3
 * and appendix A, on the roster items of mod_roster. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "presence.h"

/* What to do once the roster change is stored and pushed. */
enum {
    A_SEND_UNAVAIL = 1,     /* user's resources -> contact: unavailable */
    A_ROUTE = 2,            /* route the (outbound) stanza */
    A_REPLY_SUBSCRIBED = 4, /* answer a request on the user's behalf */
    A_DELIVER = 8,          /* deliver the (inbound) stanza to the user */
    A_SEND_PRESENCE = 16,   /* user's current presence -> contact */
    A_PULL_PRESENCE = 32    /* a local contact's current presence -> user */
};

typedef struct {
    ppend_t pend;     /* first: released through it at unload */
    pres_inst_t *pi;
    char *user;       /* the roster's owner, a node of pi->host */
    char *user_bare;
    char *contact;    /* the other party, bare */
    sub_type_t type;
    int inbound;
    ember_stanza_t *st;
    char *req;        /* a request to keep until answered */
    unsigned actions;
} ptx_t;


int
pres_sub_type(const char *type)
{
    if (type == NULL)
        return 0;
    if (strcmp(type, "subscribe") == 0)
        return SUB_SUBSCRIBE;
    if (strcmp(type, "subscribed") == 0)
        return SUB_SUBSCRIBED;
    if (strcmp(type, "unsubscribe") == 0)
        return SUB_UNSUBSCRIBE;
    if (strcmp(type, "unsubscribed") == 0)
        return SUB_UNSUBSCRIBED;
    return 0;
}


static void
ptx_free(void *p)
{
    ptx_t *tx = p;

    if (tx->pi != NULL)
        pres_pending_remove(tx->pi, &tx->pend);
    api->stanza_free(tx->st);
    free(tx->user);
    free(tx->user_bare);
    free(tx->contact);
    free(tx->req);
    free(tx);
}


/* The contact's presence instance when the contact is an account here. */
static pres_inst_t *
local_contact(const ptx_t *tx, ember_jid_t **j)
{
    pres_inst_t *cpi;

    if ((*j = api->jid_parse(tx->contact)) == NULL)
        return NULL;
    if (api->jid_node(*j) == NULL ||
        (cpi = pres_inst_of(api->jid_domain(*j))) == NULL) {
        api->jid_free(*j);
        *j = NULL;
        return NULL;
    }
    return cpi;
}


static int
contact_is_local(const ptx_t *tx)
{
    ember_jid_t *j;
    int local = local_contact(tx, &j) != NULL;

    api->jid_free(j);
    return local;
}


static void
pull_presence(const ptx_t *tx)
{
    ember_jid_t *j;
    pres_inst_t *cpi = local_contact(tx, &j);

    if (cpi != NULL)
        pres_send_current(cpi, api->jid_node(j), tx->user_bare, 0);
    /* Sessions on a cluster's other nodes: asked there (RFC 6121 4.3). */
    if (cpi != NULL && EMBER_API_HAS(api, user_remote_sessions) &&
        api->user_remote_sessions(cpi->m, api->jid_node(j)) > 0)
        pres_route_simple(tx->pi, tx->user_bare, tx->contact, "probe");
    api->jid_free(j);
}


static void
ptx_stored(int status, void *ud)
{
    ptx_t *tx = ud;
    ember_stanza_t *copy;

    if (status < 0 && status != EMBER_ENOENT) {
        api->log(tx->pi->m, EMBER_LOG_ERROR, "%s: subscription state of %s "
                 "not stored: %s", tx->user, tx->contact,
                 api->strerror(status));
        ptx_free(tx);
        return;
    }
    if (tx->actions & A_SEND_UNAVAIL)
        pres_send_current(tx->pi, tx->user, tx->contact, 1);
    if ((tx->actions & A_ROUTE) && (copy = api->stanza_copy(tx->st)) != NULL)
        api->route(tx->pi->m, copy);
    if (tx->actions & A_REPLY_SUBSCRIBED)
        pres_route_simple(tx->pi, tx->user_bare, tx->contact, "subscribed");
    if (tx->actions & A_DELIVER)
        pres_deliver_available(tx->pi, tx->user, tx->st, NULL);
    /* RFC 6121 3.1.5: the approval, then the approver's presence.  A
     * local contact's server side is still storing the approval when this
     * runs, so the presence waits for it: its A_PULL_PRESENCE sends it. */
    if ((tx->actions & A_SEND_PRESENCE) && !contact_is_local(tx))
        pres_send_current(tx->pi, tx->user, tx->contact, 0);
    if (tx->actions & A_PULL_PRESENCE)
        pull_presence(tx);
    ptx_free(tx);
}


/* Outbound: the user sent `type` to the contact (RFC 6121 3.1.2, 3.1.5,
 * 3.2.2, 3.3.2, 3.4).  Returns 1 when the item changed. */
static int
outbound(ptx_t *tx, ember_roster_item_t *it, int exists, int *remove)
{
    switch (tx->type) {
    case SUB_SUBSCRIBE:
        tx->actions = A_ROUTE;
        if (it->subscription & EMBER_SUB_TO)
            return 0;
        it->ask = 1;
        it->hidden = 0;
        return 1;
    case SUB_SUBSCRIBED:
        if (it->subscription & EMBER_SUB_FROM)
            return 0;
        if (it->pending_in) {
            tx->actions = A_ROUTE | A_SEND_PRESENCE;
            it->subscription |= EMBER_SUB_FROM;
            it->pending_in = 0;
            it->pending_stanza = NULL;
            it->approved = 0;
            it->hidden = 0;
            return 1;
        }
        /* 3.4: pre-approval, kept until the contact asks. */
        if (it->approved && exists)
            return 0;
        it->approved = 1;
        it->hidden = 0;
        return 1;
    case SUB_UNSUBSCRIBE:
        tx->actions = A_ROUTE;
        if (!(it->subscription & EMBER_SUB_TO) && !it->ask)
            return 0;
        it->subscription &= ~EMBER_SUB_TO;
        it->ask = 0;
        return 1;
    case SUB_UNSUBSCRIBED:
        tx->actions = A_ROUTE;
        if (it->subscription & EMBER_SUB_FROM)
            tx->actions |= A_SEND_UNAVAIL;
        if (!(it->subscription & EMBER_SUB_FROM) && !it->pending_in &&
            !it->approved)
            return 0;
        it->subscription &= ~EMBER_SUB_FROM;
        it->pending_in = 0;
        it->pending_stanza = NULL;
        it->approved = 0;
        *remove = it->hidden;
        return 1;
    }
    return 0;
}


/* Inbound: the contact sent `type` to the user (RFC 6121 3.1.3, 3.1.6,
 * 3.2.3, 3.3.3). */
static int
inbound(ptx_t *tx, ember_roster_item_t *it, int exists, int *remove)
{
    switch (tx->type) {
    case SUB_SUBSCRIBE:
        if (it->subscription & EMBER_SUB_FROM) {
            tx->actions = A_REPLY_SUBSCRIBED;
            return 0;
        }
        if (it->approved) {
            tx->actions = A_REPLY_SUBSCRIBED | A_SEND_PRESENCE;
            it->subscription |= EMBER_SUB_FROM;
            it->approved = 0;
            it->pending_in = 0;
            it->pending_stanza = NULL;
            return 1;
        }
        /* Kept (hidden when the user has no item for the contact) and
         * delivered now, or at the user's next available presence. */
        tx->actions = A_DELIVER;
        if (!exists)
            it->hidden = 1;
        it->pending_in = 1;
        it->pending_stanza = tx->req;
        return 1;
    case SUB_SUBSCRIBED:
        if (!it->ask)
            return 0;
        tx->actions = A_DELIVER | A_PULL_PRESENCE;
        it->subscription |= EMBER_SUB_TO;
        it->ask = 0;
        return 1;
    case SUB_UNSUBSCRIBE:
        if (!(it->subscription & EMBER_SUB_FROM) && !it->pending_in)
            return 0;
        tx->actions = A_DELIVER;
        if (it->subscription & EMBER_SUB_FROM)
            tx->actions |= A_SEND_UNAVAIL;
        it->subscription &= ~EMBER_SUB_FROM;
        it->pending_in = 0;
        it->pending_stanza = NULL;
        it->approved = 0;
        *remove = it->hidden;
        return 1;
    case SUB_UNSUBSCRIBED:
        if (!(it->subscription & EMBER_SUB_TO) && !it->ask)
            return 0;
        tx->actions = A_DELIVER;
        it->subscription &= ~EMBER_SUB_TO;
        it->ask = 0;
        return 1;
    }
    return 0;
}


static void
ptx_loaded(int status, ember_roster_t *roster, void *ud)
{
    ptx_t *tx = ud;
    const ember_roster_iface_t *ri = pres_roster(tx->pi);
    ember_roster_item_t it;
    int exists, changed, remove = 0, err;

    if (status < 0 || ri == NULL) {
        ptx_free(tx);
        return;
    }
    it.size = sizeof(it);
    exists = ri->item(ri, roster, tx->contact, &it) == 0;
    if (!exists) {
        memset(&it, 0, sizeof(it));
        it.size = sizeof(it);
        it.jid = tx->contact;
    }
    changed = tx->inbound ? inbound(tx, &it, exists, &remove)
                          : outbound(tx, &it, exists, &remove);
    if (!changed || (remove && !exists)) {
        ptx_stored(0, tx);
        return;
    }
    if (remove)
        err = ri->item_remove(ri, tx->user, tx->contact, ptx_stored, tx);
    else
        err = ri->item_set(ri, tx->user, &it, ptx_stored, tx);
    if (err < 0)
        ptx_free(tx);
}


static void
ptx_user_checked(int status, json_t *result, void *ud)
{
    ptx_t *tx = ud;
    const ember_roster_iface_t *ri = pres_roster(tx->pi);

    if (status == EMBER_ENOENT) {
        /* RFC 6121 3.1.3: no such account. */
        pres_route_simple(tx->pi, tx->user_bare, tx->contact,
                          "unsubscribed");
        ptx_free(tx);
        return;
    }
    if (status < 0 || ri == NULL ||
        ri->load(ri, tx->user, ptx_loaded, tx) < 0)
        ptx_free(tx);
}


int
pres_sub_process(pres_inst_t *pi, const char *user, const char *contact,
                 sub_type_t type, int inbound, const ember_stanza_t *st)
{
    const ember_roster_iface_t *ri = pres_roster(pi);
    ptx_t *tx;
    char bare[1100];
    int err;

    if (ri == NULL)
        return EMBER_EDEPEND;
    snprintf(bare, sizeof(bare), "%s@%s", user, pi->host);
    if ((tx = calloc(1, sizeof(*tx))) == NULL ||
        (tx->user = strdup(user)) == NULL ||
        (tx->user_bare = strdup(bare)) == NULL ||
        (tx->contact = strdup(contact)) == NULL ||
        (tx->st = api->stanza_copy(st)) == NULL)
        goto nomem;
    tx->pi = pi;
    pres_pending_add(pi, &tx->pend, ptx_free);
    tx->type = type;
    tx->inbound = inbound;
    /* Subscription stanzas travel between bare JIDs (RFC 6121 3.1.1). */
    api->stanza_set_attr(tx->st, "from", inbound ? contact : bare);
    api->stanza_set_attr(tx->st, "to", inbound ? bare : contact);
    if (inbound && type == SUB_SUBSCRIBE) {
        if ((tx->req = api->stanza_serialize(tx->st, NULL)) == NULL)
            goto nomem;
        if ((err = api->user_exists(pi->m, user, ptx_user_checked,
                                    tx)) < 0) {
            ptx_free(tx);
            return err;
        }
        return 0;
    }
    if ((err = ri->load(ri, user, ptx_loaded, tx)) < 0)
        ptx_free(tx);
    return err;
nomem:
    if (tx != NULL)
        ptx_free(tx);
    return EMBER_ENOMEM;
}


typedef struct {
    ember_session_t *s;
} redeliver_t;


static int
redeliver_one(const ember_roster_item_t *it, void *ud)
{
    redeliver_t *r = ud;
    ember_stanza_t *st;

    if (!it->pending_in || it->pending_stanza == NULL)
        return 0;
    st = api->stanza_parse(it->pending_stanza, strlen(it->pending_stanza));
    if (st != NULL) {
        api->session_send(r->s, st);
        api->stanza_free(st);
    }
    return 0;
}


void
pres_sub_redeliver(pres_inst_t *pi, ember_roster_t *roster,
                   ember_session_t *s)
{
    const ember_roster_iface_t *ri = pres_roster(pi);
    redeliver_t r = { s };

    if (ri != NULL && roster != NULL)
        ri->foreach(ri, roster, redeliver_one, &r);
}


/* RFC 6121 2.5.2: removing an item cancels both subscriptions. */
int
pres_sub_on_removing(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    pres_inst_t *pi = pres_inst_of(api->module_host(m));
    const ember_roster_event_t *re = ev->data;
    const ember_roster_item_t *it;
    char bare[1100];

    if (pi == NULL || re == NULL || (it = re->item) == NULL ||
        re->user == NULL)
        return EMBER_HOOK_PASS;
    snprintf(bare, sizeof(bare), "%s@%s", re->user, pi->host);
    if ((it->subscription & EMBER_SUB_TO) || it->ask)
        pres_route_simple(pi, bare, it->jid, "unsubscribe");
    if (it->subscription & EMBER_SUB_FROM)
        pres_send_current(pi, re->user, it->jid, 1);
    if ((it->subscription & EMBER_SUB_FROM) || it->pending_in)
        pres_route_simple(pi, bare, it->jid, "unsubscribed");
    return EMBER_HOOK_PASS;
}


void
pres_sub_cancel(const ember_roster_iface_t *ri)
{
    if (EMBER_ROSTER_HAS(ri, cancel))
        ri->cancel(ri, ptx_loaded, ptx_stored);
}
