/* pubsub_sub.c -- the subscriber use cases of XEP-0060 (section 6:
 * subscribe, unsubscribe, options, one's subscriptions and affiliations)
 * and the owner's answer to a subscription authorization (8.6.2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pubsub.h"

ember_stanza_t *
ps_sub_element(ember_stanza_t *parent, ps_node_t *n, const char *jid,
               json_t *sub, int with_node)
{
    ember_stanza_t *e = api->stanza_add_child(parent, "subscription", NULL);
    const char *subid = json_string_value(json_object_get(sub, "subid"));

    if (e == NULL)
        return NULL;
    if (with_node)
        api->stanza_set_attr(e, "node", n->name);
    api->stanza_set_attr(e, "jid", jid);
    if (subid != NULL)
        api->stanza_set_attr(e, "subid", subid);
    api->stanza_set_attr(e, "subscription",
                         json_string_value(json_object_get(sub, "sub")));
    return e;
}


/* Tell the owners of n about a pending subscription (section 8.6). */
static void
ask_owners(ps_req_t *r, ps_node_t *n, const char *jid, const char *subid)
{
    const char *owner;
    json_t *v;

    json_object_foreach(n->aff, owner, v) {
        ember_stanza_t *msg, *x;
        const char *one[2] = { NULL, NULL };

        if (strcmp(json_string_value(v), "owner") != 0 ||
            (msg = api->stanza_new("message", "jabber:client")) == NULL)
            continue;
        api->stanza_set_attr(msg, "from", r->svc->jid);
        api->stanza_set_attr(msg, "to", owner);
        x = api->form_new(msg, "form", "PubSub subscriber request",
                          PS_NS_SUB_AUTH);
        one[0] = subid;
        api->form_add_field(x, "pubsub#subid", "hidden", NULL, one);
        one[0] = n->name;
        api->form_add_field(x, "pubsub#node", "text-single", "Node ID", one);
        one[0] = jid;
        api->form_add_field(x, "pubsub#subscriber_jid", "jid-single",
                            "Subscriber Address", one);
        one[0] = "false";
        api->form_add_field(x, "pubsub#allow", "boolean",
                            "Allow this JID to subscribe to this pubsub "
                            "node?", one);
        api->route(r->c->m, msg);
    }
}


void
ps_send_last(ps_req_t *r, ps_node_t *n, const char *jid)
{
    json_t *last = ps_item_last(n);
    const char *when = ps_config_str(n, "pubsub#send_last_published_item");

    if (last != NULL && when != NULL && strcmp(when, "never") != 0)
        ps_send_event(r->svc, n, jid, ps_item_event(n, last, ps_config_bool(
            n, "pubsub#deliver_payloads")));
}


static int
apply_sub_options(json_t *sub, const ember_stanza_t *form)
{
    const char *v;

    if (form == NULL)
        return 0;
    if ((v = api->form_value(form, "pubsub#deliver")) != NULL) {
        if (strcmp(v, "1") && strcmp(v, "0") && strcmp(v, "true") &&
            strcmp(v, "false"))
            return EMBER_EINVAL;
        json_object_set_new(sub, "deliver", json_boolean(ps_true(v)));
    }
    return 0;
}


static void
do_subscribe(ps_req_t *r, const ember_stanza_t *ps, const ember_stanza_t *sb)
{
    const ember_stanza_t *form = ps_form(api->stanza_child(ps, "options",
                                                           NULL));
    const char *app, *model, *jid;
    ember_stanza_t *p;
    ember_cond_t code;
    ps_node_t *n;
    json_t *sub;
    char subid[64], jbuf[3100];
    int pending = 0;

    jid = ps_prep(api->stanza_attr(sb, "jid"), jbuf, sizeof(jbuf));
    if (jid == NULL || !ps_same_bare(r, jid)) {
        ps_fail(r, EMBER_COND_BAD_REQUEST, "invalid-jid", NULL);
        return;
    }
    if ((n = ps_req_node(r, sb)) == NULL)
        return;
    model = ps_config_str(n, "pubsub#access_model");
    if ((sub = json_object_get(n->subs, jid)) == NULL) {
        code = ps_may_access(r->svc, n, r->roster, r->bare, &app);
        /* authorize: not yet subscribed means asking the owners. */
        if (code != EMBER_COND_NONE && model != NULL &&
            strcmp(model, "authorize") == 0 && app != NULL &&
            strcmp(app, "not-subscribed") == 0)
            pending = 1;
        else if (code != EMBER_COND_NONE) {
            ps_fail(r, code, app, NULL);
            return;
        }
        ps_make_id(r->c, subid, sizeof(subid));
        sub = json_pack("{sssssb}", "sub", pending ? "pending" : "subscribed",
                        "subid", subid, "deliver", 1);
        if (sub == NULL || apply_sub_options(sub, form) < 0) {
            json_decref(sub);
            ps_fail(r, EMBER_COND_BAD_REQUEST, "invalid-options", NULL);
            return;
        }
        json_object_set_new(n->subs, jid, sub);
        ps_node_save(r->svc, n);
    }
    p = api->stanza_new("pubsub", PS_NS);
    if (p != NULL)
        ps_sub_element(p, n, jid, sub, 1);
    ps_answer(r, p);
    if (pending)
        ask_owners(r, n, jid, subid);
    else if (strcmp(json_string_value(json_object_get(sub, "sub")),
                    "subscribed") == 0 &&
             !json_is_false(json_object_get(sub, "deliver")))
        ps_send_last(r, n, jid);
}


static void
do_unsubscribe(ps_req_t *r, const ember_stanza_t *us)
{
    const char *name = api->stanza_attr(us, "node");
    const char *subid = api->stanza_attr(us, "subid");
    char jbuf[3100];
    const char *cur, *jid = ps_prep(api->stanza_attr(us, "jid"), jbuf,
                                    sizeof(jbuf));
    ps_node_t *n;
    json_t *sub;

    if (name == NULL) {
        ps_fail(r, EMBER_COND_BAD_REQUEST, "nodeid-required", NULL);
        return;
    }
    if (jid == NULL || !ps_same_bare(r, jid)) {
        ps_fail(r, EMBER_COND_FORBIDDEN, NULL, NULL);
        return;
    }
    if ((n = ps_node_find(r->svc, name)) == NULL) {
        ps_fail(r, EMBER_COND_ITEM_NOT_FOUND, NULL, NULL);
        return;
    }
    if ((sub = json_object_get(n->subs, jid)) == NULL) {
        ps_fail(r, EMBER_COND_UNEXPECTED_REQUEST, "not-subscribed", NULL);
        return;
    }
    cur = json_string_value(json_object_get(sub, "subid"));
    if (subid != NULL && (cur == NULL || strcmp(cur, subid) != 0)) {
        ps_fail(r, EMBER_COND_NOT_ACCEPTABLE, "invalid-subid", NULL);
        return;
    }
    json_object_del(n->subs, jid);
    ps_node_save(r->svc, n);
    ps_answer(r, NULL);
}


static void
do_options(ps_req_t *r, const ember_stanza_t *op, int set)
{
    const char *name = api->stanza_attr(op, "node");
    const char *one[2] = { NULL, NULL };
    const char *jid;
    char jbuf[3100];
    ember_stanza_t *p, *o, *x;
    ps_node_t *n;
    json_t *sub;

    if (name == NULL) {
        ps_fail(r, EMBER_COND_BAD_REQUEST, "nodeid-required", NULL);
        return;
    }
    if (api->stanza_attr(op, "jid") == NULL) {
        ps_fail(r, EMBER_COND_BAD_REQUEST, "jid-required", NULL);
        return;
    }
    jid = ps_prep(api->stanza_attr(op, "jid"), jbuf, sizeof(jbuf));
    if (jid == NULL) {
        ps_fail(r, EMBER_COND_JID_MALFORMED, NULL, NULL);
        return;
    }
    if ((n = ps_node_find(r->svc, name)) == NULL) {
        ps_fail(r, EMBER_COND_ITEM_NOT_FOUND, NULL, NULL);
        return;
    }
    if (!ps_same_bare(r, jid) && !ps_is_owner(r->svc, n, r->bare)) {
        ps_fail(r, EMBER_COND_FORBIDDEN, NULL, NULL);
        return;
    }
    if ((sub = json_object_get(n->subs, jid)) == NULL) {
        ps_fail(r, EMBER_COND_UNEXPECTED_REQUEST, "not-subscribed", NULL);
        return;
    }
    if (set) {
        if (ps_form(op) == NULL ||
            apply_sub_options(sub, ps_form(op)) < 0) {
            ps_fail(r, EMBER_COND_BAD_REQUEST, "invalid-options", NULL);
            return;
        }
        ps_node_save(r->svc, n);
        ps_answer(r, NULL);
        return;
    }
    p = api->stanza_new("pubsub", PS_NS);
    o = p != NULL ? api->stanza_add_child(p, "options", NULL) : NULL;
    if (o != NULL) {
        api->stanza_set_attr(o, "node", n->name);
        api->stanza_set_attr(o, "jid", jid);
        x = api->form_new(o, "form", NULL, PS_NS_SUB_OPTIONS);
        one[0] = json_is_false(json_object_get(sub, "deliver")) ? "0" : "1";
        api->form_add_field(x, "pubsub#deliver", "boolean",
                            "Enable delivery?", one);
    }
    ps_answer(r, p);
}


static void
do_my_subscriptions(ps_req_t *r, const ember_stanza_t *q, int affs)
{
    const char *name = api->stanza_attr(q, "node");
    ember_stanza_t *p = api->stanza_new("pubsub", PS_NS);
    ember_stanza_t *out = p == NULL ? NULL : api->stanza_add_child(
        p, affs ? "affiliations" : "subscriptions", NULL);
    ps_node_t *n;
    const char *jid;
    json_t *v;

    if (name != NULL && ps_node_find(r->svc, name) == NULL) {
        api->stanza_free(p);
        ps_fail(r, EMBER_COND_ITEM_NOT_FOUND, NULL, NULL);
        return;
    }
    if (out != NULL && name != NULL)
        api->stanza_set_attr(out, "node", name);
    for (n = r->svc->nodes; out != NULL && n != NULL; n = n->next) {
        if (name != NULL && strcmp(name, n->name) != 0)
            continue;
        if (affs) {
            const char *a = ps_affiliation(n, r->bare);
            ember_stanza_t *e;

            if (ps_is_owner(r->svc, n, r->bare))
                a = "owner";
            if (strcmp(a, "none") == 0 ||
                (e = api->stanza_add_child(out, "affiliation", NULL)) == NULL)
                continue;
            api->stanza_set_attr(e, "node", n->name);
            api->stanza_set_attr(e, "affiliation", a);
            continue;
        }
        json_object_foreach(n->subs, jid, v)
            if (ps_same_bare(r, jid))
                ps_sub_element(out, n, jid, v, 1);
    }
    ps_answer(r, p);
}


void
ps_sub_authorize(ps_req_t *r)
{
    const ember_stanza_t *x = api->stanza_child(r->st, "x", "jabber:x:data");
    const char *ft = x != NULL ? api->form_value(x, "FORM_TYPE") : NULL;
    const char *node, *jid, *allow;
    ps_node_t *n;
    json_t *sub;

    if (ft == NULL || strcmp(ft, PS_NS_SUB_AUTH) != 0)
        return;
    node = api->form_value(x, "pubsub#node");
    jid = api->form_value(x, "pubsub#subscriber_jid");
    allow = api->form_value(x, "pubsub#allow");
    if (node == NULL || jid == NULL || allow == NULL ||
        (n = ps_node_find(r->svc, node)) == NULL ||
        !ps_is_owner(r->svc, n, r->bare) ||
        (sub = json_object_get(n->subs, jid)) == NULL)
        return;
    if (ps_true(allow)) {
        json_object_set_new(sub, "sub", json_string("subscribed"));
        ps_tell_subscriber(r, n, jid, "subscribed");
        ps_send_last(r, n, jid);
    } else {
        json_object_del(n->subs, jid);
        ps_tell_subscriber(r, n, jid, "none");
    }
    ps_node_save(r->svc, n);
}


void
ps_sub_dispatch(ps_req_t *r, const ember_stanza_t *ps,
                const ember_stanza_t *e, int set)
{
    const char *what = api->stanza_name(e);

    if (set && strcmp(what, "subscribe") == 0)
        do_subscribe(r, ps, e);
    else if (set && strcmp(what, "unsubscribe") == 0)
        do_unsubscribe(r, e);
    else if (strcmp(what, "options") == 0)
        do_options(r, e, set);
    else if (!set && strcmp(what, "subscriptions") == 0)
        do_my_subscriptions(r, e, 0);
    else if (!set && strcmp(what, "affiliations") == 0)
        do_my_subscriptions(r, e, 1);
    else
        ps_fail(r, EMBER_COND_FEATURE_NOT_IMPLEMENTED, NULL, NULL);
}
