/* pubsub_access.c -- affiliations and access models (XEP-0060 sections
 * 4.1, 4.5), and the delivery of notifications (section 7.1.2, XEP-0163
 * section 4: implicit subscriptions through presence and +notify). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pubsub.h"


/* The roster item of bare in the PEP owner's roster, hidden ones aside:
 * 0 or EMBER_ENOENT. */
static int
roster_item(ps_service_t *svc, ember_roster_t *roster, const char *bare,
            ember_roster_item_t *it)
{
    const ember_roster_iface_t *ri = api->iface_get(svc->c->m,
                                                    EMBER_ROSTER_IFACE);

    memset(it, 0, sizeof(*it));
    it->size = sizeof(*it);
    if (ri == NULL || roster == NULL || ri->item(ri, roster, bare, it) < 0 ||
        it->hidden)
        return EMBER_ENOENT;
    return 0;
}


const char *
ps_affiliation(ps_node_t *n, const char *bare)
{
    const char *a = json_string_value(json_object_get(n->aff, bare));

    return a != NULL ? a : "none";
}


static int
in_groups(ps_service_t *svc, ps_node_t *n, ember_roster_t *roster,
          const char *bare)
{
    json_t *allowed = json_object_get(n->config,
                                      "pubsub#roster_groups_allowed");
    ember_roster_item_t it;
    size_t i, g;

    if (roster_item(svc, roster, bare, &it) < 0)
        return 0;
    for (i = 0; i < json_array_size(allowed); i++)
        for (g = 0; g < it.ngroups; g++)
            if (strcmp(it.groups[g],
                       json_string_value(json_array_get(allowed, i))) == 0)
                return 1;
    return 0;
}


int
ps_is_owner(ps_service_t *svc, ps_node_t *n, const char *bare)
{
    if (svc->c->pep && strcmp(bare, svc->jid) == 0)
        return 1;
    return n != NULL && strcmp(ps_affiliation(n, bare), "owner") == 0;
}


static int
subscribed(ps_node_t *n, const char *bare)
{
    const char *jid;
    json_t *v;
    size_t len = strlen(bare);

    json_object_foreach(n->subs, jid, v) {
        const char *s = json_string_value(json_object_get(v, "sub"));

        if (strncmp(jid, bare, len) == 0 &&
            (jid[len] == '\0' || jid[len] == '/') && s != NULL &&
            strcmp(s, "subscribed") == 0)
            return 1;
    }
    return 0;
}


ember_cond_t
ps_may_access(ps_service_t *svc, ps_node_t *n, ember_roster_t *roster,
              const char *bare, const char **app)
{
    const char *aff = ps_affiliation(n, bare);
    const char *model = ps_config_str(n, "pubsub#access_model");
    ember_roster_item_t it;

    *app = NULL;
    if (ps_is_owner(svc, n, bare) || strcmp(aff, "publisher") == 0)
        return EMBER_COND_NONE;
    if (strcmp(aff, "outcast") == 0)
        return EMBER_COND_FORBIDDEN;
    if (model == NULL || strcmp(model, "open") == 0)
        return EMBER_COND_NONE;
    if (strcmp(model, "presence") == 0) {
        if (roster_item(svc, roster, bare, &it) == 0 &&
            (it.subscription & EMBER_SUB_FROM))
            return EMBER_COND_NONE;
        *app = "presence-subscription-required";
        return EMBER_COND_NOT_AUTHORIZED;
    }
    if (strcmp(model, "roster") == 0) {
        if (in_groups(svc, n, roster, bare))
            return EMBER_COND_NONE;
        *app = "not-in-roster-group";
        return EMBER_COND_NOT_AUTHORIZED;
    }
    if (strcmp(model, "whitelist") == 0) {
        if (strcmp(aff, "member") == 0)
            return EMBER_COND_NONE;
        *app = "closed-node";
        return EMBER_COND_NOT_ALLOWED;
    }
    if (strcmp(aff, "member") == 0 || subscribed(n, bare))
        return EMBER_COND_NONE;
    *app = "not-subscribed";
    return EMBER_COND_NOT_AUTHORIZED;
}


int
ps_may_see(ps_service_t *svc, ps_node_t *n, ember_roster_t *roster,
           const char *bare)
{
    const char *app;

    return ps_may_access(svc, n, roster, bare, &app) == EMBER_COND_NONE;
}


int
ps_may_publish(ps_service_t *svc, ps_node_t *n, const char *bare)
{
    const char *aff = ps_affiliation(n, bare);
    const char *model = ps_config_str(n, "pubsub#publish_model");

    if (ps_is_owner(svc, n, bare) || strcmp(aff, "publisher") == 0)
        return 1;
    if (strcmp(aff, "outcast") == 0 || model == NULL)
        return 0;
    if (strcmp(model, "open") == 0)
        return 1;
    return strcmp(model, "subscribers") == 0 && subscribed(n, bare);
}


/* ---- notifications ---- */

ember_stanza_t *
ps_item_event(ps_node_t *n, json_t *item, int payload)
{
    ember_stanza_t *items = api->stanza_new("items", NULL);
    ember_stanza_t *it, *p;
    const char *xml = json_string_value(json_object_get(item, "xml"));
    const char *pub = json_string_value(json_object_get(item, "publisher"));

    if (items == NULL)
        return NULL;
    api->stanza_set_attr(items, "node", n->name);
    if ((it = api->stanza_add_child(items, "item", NULL)) == NULL) {
        api->stanza_free(items);
        return NULL;
    }
    api->stanza_set_attr(it, "id",
                         json_string_value(json_object_get(item, "id")));
    if (pub != NULL && pub[0] != '\0')
        api->stanza_set_attr(it, "publisher", pub);
    if (payload && xml != NULL && xml[0] != '\0' &&
        (p = api->stanza_parse(xml, strlen(xml))) != NULL) {
        api->stanza_append(it, p);
        api->stanza_free(p);
    }
    return items;
}


static ember_stanza_t *
event_message(ps_service_t *svc, ps_node_t *n, const ember_stanza_t *child)
{
    ember_stanza_t *msg = api->stanza_new("message", "jabber:client");
    ember_stanza_t *ev;
    const char *type = ps_config_str(n, "pubsub#notification_type");
    char id[32];

    if (msg == NULL)
        return NULL;
    snprintf(id, sizeof(id), "ps%d", ++svc->c->counter);
    api->stanza_set_attr(msg, "from", svc->jid);
    api->stanza_set_attr(msg, "id", id);
    if (type == NULL || strcmp(type, "headline") == 0)
        api->stanza_set_attr(msg, "type", "headline");
    if ((ev = api->stanza_add_child(msg, "event", PS_NS_EVENT)) == NULL ||
        api->stanza_append(ev, child) < 0) {
        api->stanza_free(msg);
        return NULL;
    }
    return msg;
}


void
ps_send_event(ps_service_t *svc, ps_node_t *n, const char *to,
              ember_stanza_t *ev_child)
{
    ember_stanza_t *msg;

    if (ev_child == NULL)
        return;
    msg = event_message(svc, n, ev_child);
    api->stanza_free(ev_child);
    if (msg == NULL)
        return;
    api->stanza_set_attr(msg, "to", to);
    api->route(svc->c->m, msg);
}


typedef struct {
    ps_service_t *svc;
    ps_node_t *n;
    ember_roster_t *roster;
    ember_stanza_t *tmpl;
    json_t *sent;
    char feature[1100];
    const ember_caps_iface_t *ci;
} notify_t;


static void
deliver(notify_t *nt, const char *to)
{
    ember_stanza_t *msg = api->stanza_copy(nt->tmpl);

    if (msg == NULL)
        return;
    api->stanza_set_attr(msg, "to", to);
    api->route(nt->svc->c->m, msg);
    /* Only PEP adds recipients that may repeat a subscriber. */
    if (nt->svc->c->pep)
        json_object_set_new(nt->sent, to, json_true());
}


static void
notify_session(ember_session_t *s, void *ud)
{
    notify_t *nt = ud;
    const ember_jid_t *j = api->session_jid(s);
    int avail = 0;

    if (j == NULL)
        return;
    api->session_priority(s, &avail);
    if (avail && json_object_get(nt->sent, api->jid_full(j)) == NULL &&
        json_object_get(nt->sent, api->jid_bare(j)) == NULL &&
        nt->ci != NULL && nt->ci->has_feature(nt->ci, s, NULL,
                                              nt->feature) == 1)
        deliver(nt, api->jid_full(j));
}


static int
notify_contact(const ember_roster_item_t *it, void *ud)
{
    notify_t *nt = ud;
    const char *at = strchr(it->jid, '@');
    const char *host = api->module_host(nt->svc->c->m);
    char user[1024];

    if (it->hidden || !(it->subscription & EMBER_SUB_FROM) || at == NULL ||
        host == NULL || strcmp(at + 1, host) != 0 ||
        !ps_may_see(nt->svc, nt->n, nt->roster, it->jid))
        return 0;
    snprintf(user, sizeof(user), "%.*s", (int) (at - it->jid), it->jid);
    api->user_sessions(nt->svc->c->m, user, notify_session, nt);
    return 0;
}


void
ps_notify(ps_service_t *svc, ps_node_t *n, ember_roster_t *roster,
          const ember_stanza_t *ev_child)
{
    ember_module_t *m = svc->c->m;
    const ember_roster_iface_t *ri;
    notify_t nt;
    const char *jid;
    json_t *v;

    if (!ps_config_bool(n, "pubsub#deliver_notifications"))
        return;
    memset(&nt, 0, sizeof(nt));
    nt.svc = svc;
    nt.n = n;
    nt.roster = roster;
    if ((nt.tmpl = event_message(svc, n, ev_child)) == NULL ||
        (nt.sent = json_object()) == NULL)
        goto done;
    json_object_foreach(n->subs, jid, v) {
        const char *s = json_string_value(json_object_get(v, "sub"));
        const char *slash = strchr(jid, '/');
        char bare[3100];

        if (s == NULL || strcmp(s, "subscribed") != 0 ||
            json_is_false(json_object_get(v, "deliver")))
            continue;
        /* Keys are prepared JIDs: the bare JID is what precedes '/'. */
        snprintf(bare, sizeof(bare), "%.*s",
                 (int) (slash != NULL ? (size_t) (slash - jid)
                                      : strlen(jid)), jid);
        if (ps_may_see(svc, n, roster, bare))
            deliver(&nt, jid);
    }
    if (svc->owner != NULL) {
        snprintf(nt.feature, sizeof(nt.feature), "%s+notify", n->name);
        nt.ci = api->iface_get(m, EMBER_CAPS_IFACE);
        api->user_sessions(m, svc->owner, notify_session, &nt);
        if ((ri = api->iface_get(m, EMBER_ROSTER_IFACE)) != NULL &&
            roster != NULL)
            ri->foreach(ri, roster, notify_contact, &nt);
    }
done:
    api->stanza_free(nt.tmpl);
    json_decref(nt.sent);
}


void
ps_notify_node(ps_service_t *svc, ps_node_t *n, ember_roster_t *roster,
               const char *name, ember_stanza_t *child)
{
    ember_stanza_t *ev = api->stanza_new(name, NULL);

    if (ev != NULL) {
        api->stanza_set_attr(ev, "node", n->name);
        if (child != NULL)
            api->stanza_append(ev, child);
        ps_notify(svc, n, roster, ev);
    }
    api->stanza_free(child);
    api->stanza_free(ev);
}


void
ps_send_last_items(ps_service_t *svc, ember_roster_t *roster,
                   const char *full)
{
    const ember_caps_iface_t *ci = api->iface_get(svc->c->m,
                                                  EMBER_CAPS_IFACE);
    char *bare = ps_bare(full);
    char feature[1100];
    const char *when;
    ps_node_t *n;
    json_t *last;

    for (n = svc->nodes; bare != NULL && ci != NULL && n != NULL;
         n = n->next) {
        when = ps_config_str(n, "pubsub#send_last_published_item");
        if ((last = ps_item_last(n)) == NULL || when == NULL ||
            strcmp(when, "on_sub_and_presence") != 0 ||
            !ps_config_bool(n, "pubsub#deliver_notifications"))
            continue;
        snprintf(feature, sizeof(feature), "%s+notify", n->name);
        if (ci->has_feature(ci, NULL, full, feature) == 1 &&
            ps_may_see(svc, n, roster, bare))
            ps_send_event(svc, n, full, ps_item_event(n, last,
                ps_config_bool(n, "pubsub#deliver_payloads")));
    }
    free(bare);
}
