/* pubsub_disco.c -- service discovery of a pubsub service and its nodes
 * (XEP-0060 section 5): identities, features, node lists, meta-data. */
#include <stdio.h>
#include <string.h>
#include "pubsub.h"

/* XEP-0060 section 10 features of both kinds of service. */
static const char *const features[] = {
    "access-authorize", "access-open", "access-whitelist", "auto-create",
    "config-node", "create-and-configure", "create-nodes", "delete-items",
    "delete-nodes", "instant-nodes", "item-ids", "last-published",
    "manage-subscriptions", "member-affiliation", "meta-data",
    "modify-affiliations", "outcast-affiliation", "persistent-items",
    "publish", "publish-options", "publisher-affiliation", "purge-nodes",
    "retract-items", "retrieve-affiliations", "retrieve-default",
    "retrieve-items", "retrieve-subscriptions", "rsm", "subscribe",
    "subscription-notifications", "subscription-options", NULL
};
static const char *const pep_features[] = {
    "access-presence", "access-roster", "auto-subscribe",
    "filtered-notifications", "presence-notifications", NULL
};


static void
add_feature(ember_stanza_t *q, const char *var)
{
    ember_stanza_t *f = api->stanza_add_child(q, "feature", NULL);

    if (f != NULL)
        api->stanza_set_attr(f, "var", var);
}


static void
add_identity(ember_stanza_t *q, const char *cat, const char *type,
             const char *name)
{
    ember_stanza_t *i = api->stanza_add_child(q, "identity", NULL);

    if (i == NULL)
        return;
    api->stanza_set_attr(i, "category", cat);
    api->stanza_set_attr(i, "type", type);
    if (name != NULL)
        api->stanza_set_attr(i, "name", name);
}


static void
info(ps_req_t *r, ember_stanza_t *out, ps_node_t *n)
{
    const char *const *f;
    char var[128];

    if (n != NULL) {
        add_identity(out, "pubsub", "leaf", NULL);
        add_feature(out, PS_NS);
        add_feature(out, PS_NS_DISCO_INFO);
        ps_meta_form(out, n);
        return;
    }
    if (r->c->pep) {
        add_identity(out, "account", "registered", NULL);
        add_identity(out, "pubsub", "pep", NULL);
    } else {
        add_identity(out, "pubsub", "service", "Publish-Subscribe");
    }
    add_feature(out, PS_NS_DISCO_INFO);
    add_feature(out, PS_NS_DISCO_ITEMS);
    add_feature(out, PS_NS);
    for (f = features; *f != NULL; f++) {
        snprintf(var, sizeof(var), "%s#%s", PS_NS, *f);
        add_feature(out, var);
    }
    for (f = pep_features; r->c->pep && *f != NULL; f++) {
        snprintf(var, sizeof(var), "%s#%s", PS_NS, *f);
        add_feature(out, var);
    }
    if (r->c->pep)
        api->fire(r->c->m, EMBER_EV_ACCOUNT_DISCO_INFO, out, NULL);
}


/* A node's items, or the nodes the asker may see. */
static void
items(ps_req_t *r, ember_stanza_t *out, ps_node_t *n)
{
    const char *title;
    ember_stanza_t *e;
    size_t i;

    for (i = n != NULL ? json_array_size(n->items) : 0; i-- > 0;)
        if ((e = api->stanza_add_child(out, "item", NULL)) != NULL) {
            api->stanza_set_attr(e, "jid", r->svc->jid);
            api->stanza_set_attr(e, "name", json_string_value(
                json_object_get(json_array_get(n->items, i), "id")));
        }
    for (n = n == NULL ? r->svc->nodes : NULL; n != NULL; n = n->next) {
        title = ps_config_str(n, "pubsub#title");
        if (!ps_may_see(r->svc, n, r->roster, r->bare) ||
            (e = api->stanza_add_child(out, "item", NULL)) == NULL)
            continue;
        api->stanza_set_attr(e, "jid", r->svc->jid);
        api->stanza_set_attr(e, "node", n->name);
        if (title != NULL && title[0] != '\0')
            api->stanza_set_attr(e, "name", title);
    }
}


void
ps_disco(ps_req_t *r, const ember_stanza_t *q)
{
    const char *name = api->stanza_attr(q, "node");
    const char *ns = api->stanza_xmlns(q);
    ember_stanza_t *out;
    ps_node_t *n = NULL;

    if (name != NULL &&
        ((n = ps_node_find(r->svc, name)) == NULL ||
         !ps_may_see(r->svc, n, r->roster, r->bare))) {
        ps_fail(r, EMBER_COND_ITEM_NOT_FOUND, NULL, NULL);
        return;
    }
    if ((out = api->stanza_new("query", ns)) == NULL)
        return;
    if (n != NULL)
        api->stanza_set_attr(out, "node", n->name);
    if (strcmp(ns, PS_NS_DISCO_INFO) == 0)
        info(r, out, n);
    else
        items(r, out, n);
    ps_answer(r, out);
}
