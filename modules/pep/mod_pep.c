/* mod_pep.c -- XEP-0163 Personal Eventing Protocol: every account is a
 * pubsub service on its bare JID, run by mod_pubsub's engine through the
 * "pubsub" interface.  This module routes the accounts' requests to it and
 * tells it when a session should get the last items of its own nodes and
 * of its contacts' (once per available period, when its caps are known). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ember/plugin.h>
#include <ember/caps.h>
#include <ember/pubsub.h>
#include <ember/roster.h>

#define NS_PUBSUB "http://jabber.org/protocol/pubsub"

typedef struct {
    int max_items;
    int max_items_limit;
    int max_payload;
} pep_conf_t;

static const ember_option_t pep_options[] = {
    EMBER_OPT("max-items", EMBER_OPT_INT, pep_conf_t, max_items, "1", 1,
              1000000, "default pubsub#max_items of a new PEP node"),
    EMBER_OPT("max-items-limit", EMBER_OPT_INT, pep_conf_t, max_items_limit,
              "1000", 1, 1000000, "largest pubsub#max_items; what 'max' "
              "means"),
    EMBER_OPT("max-payload", EMBER_OPT_INT, pep_conf_t, max_payload,
              "262144", 256, 16777216, "largest item payload, in bytes"),
    EMBER_OPT_END
};

/* Above mod_presence (0, which stops presence/self) and mod_offline (5). */
#define PEP_PRESENCE_PRIO 6

static const ember_api_t *api;

/* A session waiting for its user's roster: the last items of the
 * contacts' services go to it.  Kept in a list so that unload frees what
 * the roster will no longer call back. */
typedef struct walk_s {
    ember_module_t *m;
    char *full;
    struct walk_s *next;
} walk_t;

typedef struct {
    ember_pubsub_opts_t opts;
    walk_t *walks;
} pep_t;


static const ember_pubsub_iface_t *
engine(ember_module_t *m)
{
    return api->iface_get(m, EMBER_PUBSUB_IFACE);
}


static int
pep_on_iq(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    pep_t *p = ud;
    const ember_pubsub_iface_t *pi = engine(m);
    const char *type = api->stanza_attr(ev->stanza, "type");

    if (pi == NULL || ev->to == NULL || api->jid_node(ev->to) == NULL ||
        type == NULL || (strcmp(type, "get") != 0 && strcmp(type, "set") != 0))
        return EMBER_HOOK_PASS;
    return pi->request(pi, ev, &p->opts) < 0 ? EMBER_HOOK_PASS
                                             : EMBER_HOOK_HANDLED;
}


static void
walk_free(pep_t *p, walk_t *w)
{
    walk_t **pp;

    for (pp = &p->walks; *pp != NULL && *pp != w; pp = &(*pp)->next)
        ;
    if (*pp != NULL)
        *pp = w->next;
    free(w->full);
    free(w);
}


static int
each_contact(const ember_roster_item_t *it, void *ud)
{
    walk_t *w = ud;
    pep_t *p = api->module_data(w->m);
    const ember_pubsub_iface_t *pi = engine(w->m);
    const char *at = strchr(it->jid, '@');

    if (pi != NULL && !it->hidden && (it->subscription & EMBER_SUB_TO) &&
        at != NULL && strcmp(at + 1, api->module_host(w->m)) == 0)
        pi->send_last(pi, it->jid, w->full, &p->opts);
    return 0;
}


static void
user_roster(int status, ember_roster_t *roster, void *ud)
{
    walk_t *w = ud;
    const ember_roster_iface_t *ri = api->iface_get(w->m, EMBER_ROSTER_IFACE);

    if (status == 0 && ri != NULL)
        ri->foreach(ri, roster, each_contact, w);
    walk_free(api->module_data(w->m), w);
}


/* A session of a user became available with known caps: send it the last
 * items of its own nodes and of its contacts' (XEP-0163 section 4.3). */
static void
send_last_items(ember_module_t *m, const ember_jid_t *who)
{
    pep_t *p = api->module_data(m);
    const ember_pubsub_iface_t *pi = engine(m);
    const ember_roster_iface_t *ri = api->iface_get(m, EMBER_ROSTER_IFACE);
    walk_t *w;

    if (pi == NULL)
        return;
    pi->send_last(pi, api->jid_bare(who), api->jid_full(who), &p->opts);
    if (ri == NULL || (w = calloc(1, sizeof(*w))) == NULL)
        return;
    w->m = m;
    w->next = p->walks;
    p->walks = w;
    if ((w->full = strdup(api->jid_full(who))) == NULL ||
        ri->load(ri, api->jid_node(who), user_roster, w) < 0)
        walk_free(p, w);
}


static int
pep_on_presence(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    const char *type = api->stanza_attr(ev->stanza, "type");
    const ember_caps_iface_t *ci;
    void **slot;

    if (ev->origin == NULL || ev->from == NULL ||
        (slot = api->session_slot(m, ev->origin)) == NULL)
        return EMBER_HOOK_PASS;
    if (type != NULL) {
        if (strcmp(type, "unavailable") == 0)
            *slot = NULL;
        return EMBER_HOOK_PASS;
    }
    if (*slot != NULL || (ci = api->iface_get(m, EMBER_CAPS_IFACE)) == NULL ||
        ci->known(ci, ev->origin, NULL) != 1)
        return EMBER_HOOK_PASS;
    *slot = (void *) 1;
    send_last_items(m, ev->from);
    return EMBER_HOOK_PASS;
}


static int
pep_on_caps(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    const ember_caps_event_t *ce = ev->data;
    const ember_jid_t *j;
    void **slot;
    int avail = 0;

    if (ce == NULL || ce->session == NULL ||
        (j = api->session_jid(ce->session)) == NULL)
        return EMBER_HOOK_PASS;
    api->session_priority(ce->session, &avail);
    if (!avail || (slot = api->session_slot(m, ce->session)) == NULL)
        return EMBER_HOOK_PASS;
    *slot = (void *) 1;
    send_last_items(m, j);
    return EMBER_HOOK_PASS;
}


static int
pep_on_user_deleted(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    pep_t *p = ud;
    const ember_pubsub_iface_t *pi = engine(m);
    char bare[2048];

    if (ev->data == NULL || pi == NULL)
        return EMBER_HOOK_PASS;
    snprintf(bare, sizeof(bare), "%s@%s", (const char *) ev->data,
             api->module_host(m));
    pi->remove(pi, bare, &p->opts);
    return EMBER_HOOK_PASS;
}


static void
pep_unload(ember_module_t *m);


static int
pep_load(ember_module_t *m, const ember_api_t *a)
{
    pep_conf_t *conf = a->module_conf(m);
    pep_t *p;
    int err;

    api = a;
    if ((p = calloc(1, sizeof(*p))) == NULL)
        return EMBER_ENOMEM;
    api->module_set_data(m, p);
    p->opts.size = sizeof(p->opts);
    p->opts.max_items = conf->max_items;
    p->opts.max_items_limit = conf->max_items_limit;
    p->opts.max_payload = conf->max_payload;
    if ((err = api->disco_add_feature(m, NS_PUBSUB "#pep")) < 0 ||
        (err = api->hook(m, "iq/bare/" NS_PUBSUB ":pubsub", pep_on_iq, 0,
                         p)) < 0 ||
        (err = api->hook(m, "iq/bare/" NS_PUBSUB "#owner:pubsub", pep_on_iq,
                         0, p)) < 0 ||
        (err = api->hook(m, "iq/bare/http://jabber.org/protocol/disco#info"
                         ":query", pep_on_iq, 0, p)) < 0 ||
        (err = api->hook(m, "iq/bare/http://jabber.org/protocol/disco#items"
                         ":query", pep_on_iq, 0, p)) < 0 ||
        (err = api->hook(m, "presence/self", pep_on_presence,
                         PEP_PRESENCE_PRIO, p)) < 0 ||
        (err = api->hook(m, EMBER_CAPS_EV_UPDATED, pep_on_caps, 0, p)) < 0 ||
        (err = api->hook(m, EMBER_EV_USER_DELETED, pep_on_user_deleted, 0,
                         p)) < 0) {
        pep_unload(m);
        return err;
    }
    return 0;
}


static void
pep_unload(ember_module_t *m)
{
    pep_t *p = api->module_data(m);
    const ember_roster_iface_t *ri = api->iface_get(m, EMBER_ROSTER_IFACE);

    if (p == NULL)
        return;
    if (ri != NULL && EMBER_ROSTER_HAS(ri, cancel))
        ri->cancel(ri, user_roster, NULL);
    while (p->walks != NULL)
        walk_free(p, p->walks);
    free(p);
    api->module_set_data(m, NULL);
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "pep",
    .version = "1.1",
    .description = "XEP-0163: Personal Eventing Protocol",
    .depends = (const char *const[]){ "pubsub", NULL },
    .requires = (const char *const[]){ "hooks", "stanzas", "disco", "ifaces",
                                       "sessions", NULL },
    .conf_size = sizeof(pep_conf_t),
    .options = pep_options,
    .load = pep_load,
    .unload = pep_unload,
};
