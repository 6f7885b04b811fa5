/* ps_disco.c -- service discovery of a pubsub service and its nodes
 * (XEP-0060 section 5): identities, features, node lists, meta-data. */
#include <stdio.h>
#include <string.h>
#include "ps_req.h"

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
add_feature(req_t *r, ember_stanza_t *q, const char *var)
{
    ember_stanza_t *f = A->stanza_add_child(q, "feature", NULL);

    if (f != NULL)
        A->stanza_set_attr(f, "var", var);
}


static void
add_identity(req_t *r, ember_stanza_t *q, const char *cat, const char *type,
             const char *name)
{
    ember_stanza_t *i = A->stanza_add_child(q, "identity", NULL);

    if (i == NULL)
        return;
    A->stanza_set_attr(i, "category", cat);
    A->stanza_set_attr(i, "type", type);
    if (name != NULL)
        A->stanza_set_attr(i, "name", name);
}


void
ps_disco_info(req_t *r, const ember_stanza_t *q)
{
    const char *name = A->stanza_attr(q, "node");
    const char *const *f;
    ember_stanza_t *out;
    const char *app;
    ps_node_t *n = NULL;
    char var[128];

    if (name != NULL &&
        ((n = ps_node_find(r->svc, name)) == NULL ||
         ps_may_access(r->c, r->svc, n, r->roster, r->bare, &app) != 0)) {
        ps_req_fail(r, EMBER_COND_ITEM_NOT_FOUND, NULL, NULL);
        return;
    }
    if ((out = A->stanza_new("query", PS_NS_DISCO_INFO)) == NULL)
        return;
    if (n != NULL) {
        A->stanza_set_attr(out, "node", n->name);
        add_identity(r, out, "pubsub", "leaf", NULL);
        add_feature(r, out, PS_NS);
        add_feature(r, out, PS_NS_DISCO_INFO);
        ps_meta_form(r->c, out, n);
        ps_req_result(r, out);
        return;
    }
    if (r->c->pep) {
        add_identity(r, out, "account", "registered", NULL);
        add_identity(r, out, "pubsub", "pep", NULL);
    } else {
        add_identity(r, out, "pubsub", "service", "Publish-Subscribe");
    }
    add_feature(r, out, PS_NS_DISCO_INFO);
    add_feature(r, out, PS_NS_DISCO_ITEMS);
    add_feature(r, out, PS_NS);
    for (f = features; *f != NULL; f++) {
        snprintf(var, sizeof(var), "%s#%s", PS_NS, *f);
        add_feature(r, out, var);
    }
    for (f = pep_features; r->c->pep && *f != NULL; f++) {
        snprintf(var, sizeof(var), "%s#%s", PS_NS, *f);
        add_feature(r, out, var);
    }
    ps_req_result(r, out);
}


void
ps_disco_items(req_t *r, const ember_stanza_t *q)
{
    const char *name = A->stanza_attr(q, "node");
    ember_stanza_t *out, *e;
    const char *app;
    ps_node_t *n = NULL;
    size_t i;

    if (name != NULL &&
        ((n = ps_node_find(r->svc, name)) == NULL ||
         ps_may_access(r->c, r->svc, n, r->roster, r->bare, &app) != 0)) {
        ps_req_fail(r, EMBER_COND_ITEM_NOT_FOUND, NULL, NULL);
        return;
    }
    if ((out = A->stanza_new("query", PS_NS_DISCO_ITEMS)) == NULL)
        return;
    if (n != NULL) {
        A->stanza_set_attr(out, "node", n->name);
        for (i = json_array_size(n->items); i-- > 0;)
            if ((e = A->stanza_add_child(out, "item", NULL)) != NULL) {
                A->stanza_set_attr(e, "jid", r->svc->jid);
                A->stanza_set_attr(e, "name", json_string_value(
                    json_object_get(json_array_get(n->items, i), "id")));
            }
        ps_req_result(r, out);
        return;
    }
    for (n = r->svc->nodes; n != NULL; n = n->next) {
        const char *title = ps_config_str(n, "pubsub#title");

        if (ps_may_access(r->c, r->svc, n, r->roster, r->bare, &app) != 0 ||
            (e = A->stanza_add_child(out, "item", NULL)) == NULL)
            continue;
        A->stanza_set_attr(e, "jid", r->svc->jid);
        A->stanza_set_attr(e, "node", n->name);
        if (title != NULL && title[0] != '\0')
            A->stanza_set_attr(e, "name", title);
    }
    ps_req_result(r, out);
}
