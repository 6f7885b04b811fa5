/* mod_pep.c -- XEP-0163 Personal Eventing Protocol: every account is a
 * pubsub service on its bare JID (the engine is modules/pubsub/ps_*.c).
 * Contacts with a presence subscription get notifications on the nodes
 * their client's caps say +notify, and the last item of each such node
 * when they come online. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ps.h"

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

/* One contact's service whose last items go to `full`. */
typedef struct {
    ps_ctx_t *c;
    char *full;
} last_t;


static int
pep_on_iq(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    ps_ctx_t *c = ud;
    const char *type = api->stanza_attr(ev->stanza, "type");

    if (ev->to == NULL || api->jid_node(ev->to) == NULL || type == NULL ||
        (strcmp(type, "get") != 0 && strcmp(type, "set") != 0))
        return EMBER_HOOK_PASS;
    return ps_handle_iq(c, ev, api->jid_bare(ev->to));
}


static void
last_free(last_t *l)
{
    free(l->full);
    free(l);
}


typedef struct {
    ps_ctx_t *c;
    char *full;
    ps_service_t *svc;
} send_t;


static void
send_with_roster(int status, ember_roster_t *roster, void *ud)
{
    send_t *s = ud;

    ps_send_last_items(s->c, s->svc, status == 0 ? roster : NULL, s->full,
                       NULL);
    ps_service_drop(s->c, s->svc);
    free(s->full);
    free(s);
}


static void
last_service(ps_ctx_t *c, ps_service_t *svc, void *ud)
{
    last_t *l = ud;
    const ember_roster_iface_t *ri = ps_roster_iface(c);
    send_t *s;
    ps_node_t *n;
    int any = 0;

    if (svc == NULL) {
        last_free(l);
        return;
    }
    ps_service_hold(svc);
    for (n = svc->nodes; n != NULL; n = n->next)
        any |= json_array_size(n->items) > 0;
    if (!any || (s = calloc(1, sizeof(*s))) == NULL) {
        last_free(l);
        ps_service_drop(c, svc);
        return;
    }
    s->c = c;
    s->svc = svc;
    s->full = l->full;
    l->full = NULL;
    last_free(l);
    if (ri == NULL || svc->owner == NULL ||
        ri->load(ri, svc->owner, send_with_roster, s) < 0)
        send_with_roster(EMBER_ENOENT, NULL, s);
}


static void
last_from(ps_ctx_t *c, const char *service, const char *full)
{
    last_t *l = calloc(1, sizeof(*l));

    if (l == NULL || (l->full = strdup(full)) == NULL) {
        free(l);
        return;
    }
    l->c = c;
    if (ps_service_ready(c, service, last_service, l) < 0)
        last_free(l);
}


typedef struct {
    ps_ctx_t *c;
    const char *full;
    const char *host;
} walk_t;


static int
each_contact(const ember_roster_item_t *it, void *ud)
{
    walk_t *w = ud;
    const char *at = strchr(it->jid, '@');

    if (!it->hidden && (it->subscription & EMBER_SUB_TO) && at != NULL &&
        strcmp(at + 1, w->host) == 0)
        last_from(w->c, it->jid, w->full);
    return 0;
}


static void
user_roster(int status, ember_roster_t *roster, void *ud)
{
    last_t *l = ud;
    const ember_roster_iface_t *ri = ps_roster_iface(l->c);
    walk_t w;

    if (status == 0 && ri != NULL) {
        w.c = l->c;
        w.full = l->full;
        w.host = api->module_host(l->c->m);
        ri->foreach(ri, roster, each_contact, &w);
    }
    last_free(l);
}


/* A session of `user` became available with known caps: send it the last
 * items of its own nodes and of its contacts' (XEP-0163 section 4.3). */
static void
send_last_items(ps_ctx_t *c, const ember_jid_t *who)
{
    const ember_roster_iface_t *ri = ps_roster_iface(c);
    last_t *l;

    last_from(c, api->jid_bare(who), api->jid_full(who));
    if (ri == NULL || (l = calloc(1, sizeof(*l))) == NULL)
        return;
    l->c = c;
    if ((l->full = strdup(api->jid_full(who))) == NULL ||
        ri->load(ri, api->jid_node(who), user_roster, l) < 0)
        last_free(l);
}


static int
pep_on_presence(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    ps_ctx_t *c = ud;
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
    if (*slot != NULL || (ci = ps_caps_iface(c)) == NULL ||
        ci->known(ci, ev->origin, NULL) != 1)
        return EMBER_HOOK_PASS;
    *slot = (void *) 1;
    send_last_items(c, ev->from);
    return EMBER_HOOK_PASS;
}


static int
pep_on_caps(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    ps_ctx_t *c = ud;
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
    send_last_items(c, j);
    return EMBER_HOOK_PASS;
}


static void
wipe_service(ps_ctx_t *c, ps_service_t *svc, void *ud)
{
    if (svc == NULL)
        return;
    ps_service_hold(svc);
    while (svc->nodes != NULL)
        ps_node_remove(c, svc, svc->nodes);
    ps_service_drop(c, svc);
}


static int
pep_on_user_deleted(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    ps_ctx_t *c = ud;
    char bare[2048];

    if (ev->data == NULL)
        return EMBER_HOOK_PASS;
    snprintf(bare, sizeof(bare), "%s@%s", (const char *) ev->data,
             api->module_host(m));
    ps_service_ready(c, bare, wipe_service, NULL);
    return EMBER_HOOK_PASS;
}


static void
pep_unload(ember_module_t *m);


static int
pep_load(ember_module_t *m, const ember_api_t *a)
{
    pep_conf_t *conf = a->module_conf(m);
    ps_ctx_t *c;
    int err;

    api = a;
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return EMBER_ENOMEM;
    api->module_set_data(m, c);
    c->create_policy = PS_CREATE_OWNER;
    c->max_items = conf->max_items;
    c->max_items_limit = conf->max_items_limit;
    c->max_payload = conf->max_payload;
    if ((err = ps_ctx_init(c, m, api, 1)) < 0 ||
        (err = api->disco_add_feature(m, PS_NS "#pep")) < 0 ||
        (err = api->hook(m, "iq/bare/" PS_NS ":pubsub", pep_on_iq, 0,
                         c)) < 0 ||
        (err = api->hook(m, "iq/bare/" PS_NS_OWNER ":pubsub", pep_on_iq, 0,
                         c)) < 0 ||
        (err = api->hook(m, "iq/bare/" PS_NS_DISCO_INFO ":query",
                         pep_on_iq, 0, c)) < 0 ||
        (err = api->hook(m, "iq/bare/" PS_NS_DISCO_ITEMS ":query",
                         pep_on_iq, 0, c)) < 0 ||
        (err = api->hook(m, "presence/self", pep_on_presence,
                         PEP_PRESENCE_PRIO, c)) < 0 ||
        (err = api->hook(m, EMBER_CAPS_EV_UPDATED, pep_on_caps, 0, c)) < 0 ||
        (err = api->hook(m, EMBER_EV_USER_DELETED, pep_on_user_deleted, 0,
                         c)) < 0) {
        pep_unload(m);
        return err;
    }
    return 0;
}


static void
pep_unload(ember_module_t *m)
{
    ps_ctx_t *c = api->module_data(m);

    if (c == NULL)
        return;
    ps_ctx_free(c);
    free(c);
    api->module_set_data(m, NULL);
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "pep",
    .version = "1.0",
    .description = "XEP-0163: Personal Eventing Protocol",
    .requires = (const char *const[]){ "hooks", "stanzas", "storage",
                                       "disco", "forms", "rsm", "ifaces",
                                       "sessions", NULL },
    .conf_size = sizeof(pep_conf_t),
    .options = pep_options,
    .load = pep_load,
    .unload = pep_unload,
};
