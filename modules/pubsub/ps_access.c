/* ps_access.c -- affiliations and access models (XEP-0060 sections 4.1,
 * 4.5), and the delivery of notifications (section 7.1.2, XEP-0163
 * section 4: implicit subscriptions through presence and +notify). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ps.h"


const ember_roster_iface_t *
ps_roster_iface(ps_ctx_t *c)
{
    const ember_roster_iface_t *ri;

    if (!EMBER_API_HAS(c->api, iface_get))
        return NULL;
    ri = c->api->iface_get(c->m, EMBER_ROSTER_IFACE);
    return ri != NULL && EMBER_ROSTER_HAS(ri, foreach) ? ri : NULL;
}


const ember_caps_iface_t *
ps_caps_iface(ps_ctx_t *c)
{
    const ember_caps_iface_t *ci;

    if (!EMBER_API_HAS(c->api, iface_get))
        return NULL;
    ci = c->api->iface_get(c->m, EMBER_CAPS_IFACE);
    return ci != NULL && EMBER_CAPS_HAS(ci, has_feature) ? ci : NULL;
}


const char *
ps_affiliation(ps_node_t *n, const char *bare)
{
    const char *a = json_string_value(json_object_get(n->aff, bare));

    return a != NULL ? a : "none";
}


int
ps_roster_sub(ps_ctx_t *c, ember_roster_t *roster, const char *bare)
{
    const ember_roster_iface_t *ri = ps_roster_iface(c);
    ember_roster_item_t it;

    if (ri == NULL || roster == NULL)
        return -1;
    memset(&it, 0, sizeof(it));
    it.size = sizeof(it);
    if (ri->item(ri, roster, bare, &it) < 0 || it.hidden)
        return EMBER_SUB_NONE;
    return (int) it.subscription;
}


static int
in_groups(ps_ctx_t *c, ps_node_t *n, ember_roster_t *roster,
          const char *bare)
{
    const ember_roster_iface_t *ri = ps_roster_iface(c);
    json_t *allowed = json_object_get(n->config,
                                      "pubsub#roster_groups_allowed");
    ember_roster_item_t it;
    size_t i, g;

    if (ri == NULL || roster == NULL)
        return 0;
    memset(&it, 0, sizeof(it));
    it.size = sizeof(it);
    if (ri->item(ri, roster, bare, &it) < 0 || it.hidden)
        return 0;
    for (i = 0; i < json_array_size(allowed); i++)
        for (g = 0; g < it.ngroups; g++)
            if (strcmp(it.groups[g],
                       json_string_value(json_array_get(allowed, i))) == 0)
                return 1;
    return 0;
}


int
ps_is_owner(ps_ctx_t *c, ps_service_t *svc, ps_node_t *n, const char *bare)
{
    if (c->pep && strcmp(bare, svc->jid) == 0)
        return 1;
    return n != NULL && strcmp(ps_affiliation(n, bare), "owner") == 0;
}


static int
subscribed(ps_ctx_t *c, ps_node_t *n, const char *bare)
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


int
ps_may_access(ps_ctx_t *c, ps_service_t *svc, ps_node_t *n,
              ember_roster_t *roster, const char *bare, const char **app)
{
    const char *aff = ps_affiliation(n, bare);
    const char *model = ps_config_str(n, "pubsub#access_model");
    int sub;

    *app = NULL;
    if (ps_is_owner(c, svc, n, bare) || strcmp(aff, "publisher") == 0)
        return 0;
    if (strcmp(aff, "outcast") == 0)
        return EMBER_COND_FORBIDDEN + 1;
    if (model == NULL || strcmp(model, "open") == 0)
        return 0;
    if (strcmp(model, "presence") == 0) {
        sub = ps_roster_sub(c, roster, bare);
        if (sub == EMBER_SUB_FROM || sub == EMBER_SUB_BOTH)
            return 0;
        *app = "presence-subscription-required";
        return EMBER_COND_NOT_AUTHORIZED + 1;
    }
    if (strcmp(model, "roster") == 0) {
        if (in_groups(c, n, roster, bare))
            return 0;
        *app = "not-in-roster-group";
        return EMBER_COND_NOT_AUTHORIZED + 1;
    }
    if (strcmp(model, "whitelist") == 0) {
        if (strcmp(aff, "member") == 0)
            return 0;
        *app = "closed-node";
        return EMBER_COND_NOT_ALLOWED + 1;
    }
    if (strcmp(aff, "member") == 0 || subscribed(c, n, bare))
        return 0;
    *app = "not-subscribed";
    return EMBER_COND_NOT_AUTHORIZED + 1;
}


int
ps_may_publish(ps_ctx_t *c, ps_service_t *svc, ps_node_t *n,
               const char *bare)
{
    const char *aff = ps_affiliation(n, bare);
    const char *model = ps_config_str(n, "pubsub#publish_model");

    if (ps_is_owner(c, svc, n, bare) || strcmp(aff, "publisher") == 0)
        return 1;
    if (strcmp(aff, "outcast") == 0 || model == NULL)
        return 0;
    if (strcmp(model, "open") == 0)
        return 1;
    return strcmp(model, "subscribers") == 0 && subscribed(c, n, bare);
}


/* ---- notifications ---- */

ember_stanza_t *
ps_item_event(ps_ctx_t *c, ps_node_t *n, json_t *item, int payload)
{
    const ember_api_t *api = c->api;
    ember_stanza_t *items = api->stanza_new("items", NULL);
    ember_stanza_t *it, *p;
    const char *xml = json_string_value(json_object_get(item, "xml"));
    const char *pub = json_string_value(json_object_get(item, "publisher"));

    if (items == NULL)
        return NULL;
    api->stanza_set_attr(items, "node", n->name);
    if ((it = api->stanza_add_child(items, "item", NULL)) == NULL)
        goto fail;
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
fail:
    api->stanza_free(items);
    return NULL;
}


static ember_stanza_t *
event_message(ps_ctx_t *c, ps_service_t *svc, ps_node_t *n,
              const ember_stanza_t *ev_child)
{
    const ember_api_t *api = c->api;
    ember_stanza_t *msg = api->stanza_new("message", "jabber:client");
    ember_stanza_t *ev;
    const char *type = n != NULL ?
        ps_config_str(n, "pubsub#notification_type") : NULL;
    char id[32];

    if (msg == NULL)
        return NULL;
    snprintf(id, sizeof(id), "ps%d", ++c->counter);
    api->stanza_set_attr(msg, "from", svc->jid);
    api->stanza_set_attr(msg, "id", id);
    if (type == NULL || strcmp(type, "headline") == 0)
        api->stanza_set_attr(msg, "type", "headline");
    if ((ev = api->stanza_add_child(msg, "event", PS_NS_EVENT)) == NULL ||
        api->stanza_append(ev, ev_child) < 0) {
        api->stanza_free(msg);
        return NULL;
    }
    return msg;
}


void
ps_send_event(ps_ctx_t *c, ps_service_t *svc, ps_node_t *n, const char *to,
              ember_stanza_t *ev_child)
{
    ember_stanza_t *msg;

    if (ev_child == NULL)
        return;
    msg = event_message(c, svc, n, ev_child);
    c->api->stanza_free(ev_child);
    if (msg == NULL)
        return;
    c->api->stanza_set_attr(msg, "to", to);
    c->api->route(c->m, msg);
}


typedef struct {
    ps_ctx_t *c;
    ps_service_t *svc;
    ps_node_t *n;
    ember_roster_t *roster;
    const ember_stanza_t *ev_child;
    ember_stanza_t *tmpl;
    json_t *sent;
    char feature[1100];
    const ember_caps_iface_t *ci;
    size_t count;
} notify_t;


static void
deliver(notify_t *nt, const char *to)
{
    ember_stanza_t *msg = nt->c->api->stanza_copy(nt->tmpl);

    if (msg == NULL)
        return;
    nt->c->api->stanza_set_attr(msg, "to", to);
    nt->c->api->route(nt->c->m, msg);
    /* Only PEP adds recipients that may repeat a subscriber. */
    if (nt->c->pep)
        json_object_set_new(nt->sent, to, json_true());
    nt->count++;
}


static void
notify_session(ember_session_t *s, void *ud)
{
    notify_t *nt = ud;
    const ember_api_t *api = nt->c->api;
    const ember_jid_t *j = api->session_jid(s);
    int avail = 0;

    if (j == NULL)
        return;
    api->session_priority(s, &avail);
    if (!avail || json_object_get(nt->sent, api->jid_full(j)) != NULL ||
        json_object_get(nt->sent, api->jid_bare(j)) != NULL)
        return;
    if (nt->ci == NULL ||
        nt->ci->has_feature(nt->ci, s, NULL, nt->feature) != 1)
        return;
    deliver(nt, api->jid_full(j));
}


static int
notify_contact(const ember_roster_item_t *it, void *ud)
{
    notify_t *nt = ud;
    const char *app, *at = strchr(it->jid, '@');
    const char *host = nt->c->api->module_host(nt->c->m);
    char user[1024];

    if (it->hidden || !(it->subscription & EMBER_SUB_FROM) || at == NULL ||
        host == NULL || strcmp(at + 1, host) != 0 ||
        ps_may_access(nt->c, nt->svc, nt->n, nt->roster, it->jid, &app) != 0)
        return 0;
    snprintf(user, sizeof(user), "%.*s", (int) (at - it->jid), it->jid);
    nt->c->api->user_sessions(nt->c->m, user, notify_session, nt);
    return 0;
}


size_t
ps_notify(ps_ctx_t *c, ps_service_t *svc, ps_node_t *n,
          ember_roster_t *roster, const ember_stanza_t *ev_child)
{
    const ember_roster_iface_t *ri;
    notify_t nt;
    const char *jid, *app;
    json_t *v;

    if (!ps_config_bool(n, "pubsub#deliver_notifications"))
        return 0;
    memset(&nt, 0, sizeof(nt));
    nt.c = c;
    nt.svc = svc;
    nt.n = n;
    nt.roster = roster;
    nt.ev_child = ev_child;
    if ((nt.tmpl = event_message(c, svc, n, ev_child)) == NULL ||
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
        if (ps_may_access(c, svc, n, roster, bare, &app) == 0)
            deliver(&nt, jid);
    }
    if (c->pep && svc->owner != NULL) {
        snprintf(nt.feature, sizeof(nt.feature), "%s+notify", n->name);
        nt.ci = ps_caps_iface(c);
        c->api->user_sessions(c->m, svc->owner, notify_session, &nt);
        if ((ri = ps_roster_iface(c)) != NULL && roster != NULL)
            ri->foreach(ri, roster, notify_contact, &nt);
    }
done:
    c->api->stanza_free(nt.tmpl);
    json_decref(nt.sent);
    return nt.count;
}


void
ps_send_last_items(ps_ctx_t *c, ps_service_t *svc, ember_roster_t *roster,
                   const char *full, ember_session_t *s)
{
    const ember_caps_iface_t *ci = ps_caps_iface(c);
    ps_node_t *n;
    char *bare = ps_bare(c, full);
    char feature[1100];
    const char *app, *when;

    if (bare == NULL)
        return;
    for (n = svc->nodes; n != NULL; n = n->next) {
        json_t *last = json_array_get(n->items,
                                      json_array_size(n->items) - 1);

        when = ps_config_str(n, "pubsub#send_last_published_item");
        if (last == NULL || when == NULL ||
            strcmp(when, "on_sub_and_presence") != 0 ||
            !ps_config_bool(n, "pubsub#deliver_notifications"))
            continue;
        snprintf(feature, sizeof(feature), "%s+notify", n->name);
        if (ci == NULL || ci->has_feature(ci, s, s != NULL ? NULL : full,
                                          feature) != 1)
            continue;
        if (ps_may_access(c, svc, n, roster, bare, &app) != 0)
            continue;
        ps_send_event(c, svc, n, full,
                      ps_item_event(c, n, last, ps_config_bool(
                          n, "pubsub#deliver_payloads")));
    }
    free(bare);
}
