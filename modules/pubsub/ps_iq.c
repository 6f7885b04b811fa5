/* ps_iq.c -- XEP-0060 requests: their life (a request waits for its
 * service to be loaded and, for PEP, for the owner's roster, then runs to
 * completion), their dispatch, and the entity (section 6: subscribe,
 * options, items) and publisher (7: create, publish, retract) use cases.
 * The owner's are in ps_owner.c, disco in ps_disco.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ps_req.h"

ember_stanza_t *
ps_error(ps_ctx_t *c, const ember_stanza_t *iq, ember_cond_t cond,
         const char *app, const char *text)
{
    ember_stanza_t *e = c->api->error_reply(iq, cond, text);
    ember_stanza_t *err;

    if (e != NULL && app != NULL &&
        (err = c->api->stanza_child(e, "error", NULL)) != NULL)
        c->api->stanza_add_child(err, app, PS_NS_ERRORS);
    return e;
}


static void
req_free(req_t *r)
{
    A->stanza_free(r->st);
    free(r->from);
    free(r->bare);
    free(r);
}


static void
send_reply(req_t *r, ember_stanza_t *reply)
{
    if (reply == NULL)
        return;
    if (A->stanza_attr(reply, "from") == NULL)
        A->stanza_set_attr(reply, "from", r->svc != NULL ? r->svc->jid
                                                          : r->bare);
    A->route(r->c->m, reply);
}


void
ps_req_fail(req_t *r, ember_cond_t cond, const char *app, const char *text)
{
    send_reply(r, ps_error(r->c, r->st, cond, app, text));
}


void
ps_req_result(req_t *r, ember_stanza_t *payload)
{
    ember_stanza_t *res = A->stanza_new("iq", "jabber:client");

    if (res == NULL) {
        A->stanza_free(payload);
        return;
    }
    A->stanza_set_attr(res, "type", "result");
    A->stanza_set_attr(res, "id", A->stanza_attr(r->st, "id"));
    A->stanza_set_attr(res, "to", A->stanza_attr(r->st, "from"));
    A->stanza_set_attr(res, "from", A->stanza_attr(r->st, "to"));
    if (payload != NULL) {
        A->stanza_append(res, payload);
        A->stanza_free(payload);
    }
    send_reply(r, res);
}


/* ps_req_fail() for an access check result of ps_may_access. */
static void
deny(req_t *r, int code, const char *app)
{
    ps_req_fail(r, (ember_cond_t) (code - 1), app, NULL);
}


static int
may_create(req_t *r)
{
    ps_ctx_t *c = r->c;
    const char *at = strchr(r->bare, '@');
    const char *dom = at != NULL ? at + 1 : r->bare;

    switch (c->create_policy) {
    case PS_CREATE_OWNER:
        return strcmp(r->bare, r->svc->jid) == 0;
    case PS_CREATE_ADMINS:
        return EMBER_API_HAS(A, is_admin) && A->is_admin(c->m, r->bare);
    case PS_CREATE_LOCAL:
        return at != NULL && EMBER_API_HAS(A, domain_is_local) &&
               A->domain_is_local(dom);
    default:
        return 1;
    }
}


const ember_stanza_t *
ps_req_form(req_t *r, const ember_stanza_t *parent)
{
    return parent != NULL ? A->stanza_child(parent, "x", "jabber:x:data")
                          : NULL;
}


ember_stanza_t *
ps_req_pubsub(req_t *r, const char *ns)
{
    return A->stanza_new("pubsub", ns);
}


void
ps_make_id(ps_ctx_t *c, char *buf, size_t len)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(buf, len, "%llx%05lx%x", (unsigned long long) ts.tv_sec,
             (unsigned long) (ts.tv_nsec / 10000), ++c->counter);
}


/* ---- create, publish, retract ---- */

static ps_node_t *
create_node(req_t *r, const char *name, const ember_stanza_t *form,
            const char **bad)
{
    json_t *cfg = json_object();
    ps_node_t *n;

    if (cfg == NULL)
        return NULL;
    ps_config_defaults(r->c, cfg);
    if (form != NULL &&
        ps_config_apply(r->c, cfg, form, NULL, bad) < 0) {
        json_decref(cfg);
        return NULL;
    }
    if ((n = ps_node_add(r->c, r->svc, name, r->bare)) != NULL) {
        json_object_update(n->config, cfg);
        ps_node_save(r->c, r->svc, n);
    }
    json_decref(cfg);
    return n;
}


static void
do_create(req_t *r, const ember_stanza_t *ps, const ember_stanza_t *cr)
{
    const char *name = A->stanza_attr(cr, "node");
    const ember_stanza_t *form =
        ps_req_form(r, A->stanza_child(ps, "configure", NULL));
    const char *bad = NULL;
    ember_stanza_t *p, *e;
    char gen[64];
    ps_node_t *n;

    if (!may_create(r)) {
        ps_req_fail(r, EMBER_COND_FORBIDDEN, NULL, NULL);
        return;
    }
    if (name == NULL || name[0] == '\0') {
        ps_make_id(r->c, gen, sizeof(gen));
        name = gen;
    } else if (ps_node_find(r->svc, name) != NULL) {
        ps_req_fail(r, EMBER_COND_CONFLICT, NULL, "node exists");
        return;
    }
    if ((n = create_node(r, name, form, &bad)) == NULL) {
        ps_req_fail(r, bad != NULL ? EMBER_COND_NOT_ACCEPTABLE
                                   : EMBER_COND_INTERNAL_SERVER_ERROR,
                    NULL, bad);
        return;
    }
    p = ps_req_pubsub(r, PS_NS);
    if (p != NULL && (e = A->stanza_add_child(p, "create", NULL)) != NULL)
        A->stanza_set_attr(e, "node", n->name);
    ps_req_result(r, p);
}


static void
do_publish(req_t *r, const ember_stanza_t *ps, const ember_stanza_t *pub)
{
    ps_ctx_t *c = r->c;
    const char *name = A->stanza_attr(pub, "node");
    const ember_stanza_t *opts = ps_req_form(r, A->stanza_child(
        ps, "publish-options", NULL));
    const ember_stanza_t *item = NULL, *x, *payload = NULL;
    const char *id, *bad = NULL;
    ember_stanza_t *p, *e, *ev;
    ps_node_t *n;
    char gen[64], *xml;
    size_t nitems = 0, npayload = 0, len = 0;
    json_t *it;

    if (name == NULL) {
        ps_req_fail(r, EMBER_COND_BAD_REQUEST, "nodeid-required", NULL);
        return;
    }
    for (x = A->stanza_first(pub); x != NULL; x = A->stanza_next(x))
        if (strcmp(A->stanza_name(x), "item") == 0 && nitems++ == 0)
            item = x;
    if (nitems == 0) {
        ps_req_fail(r, EMBER_COND_BAD_REQUEST, "item-required", NULL);
        return;
    }
    if (nitems > 1) {
        ps_req_fail(r, EMBER_COND_BAD_REQUEST, "invalid-payload", NULL);
        return;
    }
    for (x = A->stanza_first(item); x != NULL; x = A->stanza_next(x))
        if (npayload++ == 0)
            payload = x;
    if (npayload != 1) {
        ps_req_fail(r, EMBER_COND_BAD_REQUEST,
                    npayload == 0 ? "payload-required" : "invalid-payload",
                    NULL);
        return;
    }
    if ((n = ps_node_find(r->svc, name)) == NULL) {
        if (!may_create(r)) {
            ps_req_fail(r, c->pep ? EMBER_COND_FORBIDDEN
                                  : EMBER_COND_ITEM_NOT_FOUND, NULL, NULL);
            return;
        }
        if ((n = create_node(r, name, opts, &bad)) == NULL) {
            if (bad != NULL)
                ps_req_fail(r, EMBER_COND_CONFLICT, "precondition-not-met",
                            bad);
            else
                ps_req_fail(r, EMBER_COND_INTERNAL_SERVER_ERROR, NULL, NULL);
            return;
        }
    } else if (!ps_may_publish(c, r->svc, n, r->bare)) {
        ps_req_fail(r, EMBER_COND_FORBIDDEN, NULL, NULL);
        return;
    } else if (opts != NULL && !ps_config_matches(c, n, opts, &bad)) {
        ps_req_fail(r, EMBER_COND_CONFLICT, "precondition-not-met", bad);
        return;
    }
    if ((xml = A->stanza_serialize(payload, &len)) == NULL) {
        ps_req_fail(r, EMBER_COND_INTERNAL_SERVER_ERROR, NULL, NULL);
        return;
    }
    if ((long) len > c->max_payload) {
        A->free(xml);
        ps_req_fail(r, EMBER_COND_NOT_ACCEPTABLE, "payload-too-big", NULL);
        return;
    }
    if ((id = A->stanza_attr(item, "id")) == NULL || id[0] == '\0') {
        ps_make_id(c, gen, sizeof(gen));
        id = gen;
    }
    it = ps_item_put(c, r->svc, n, id, xml, r->bare);
    A->free(xml);
    if (it == NULL) {
        ps_req_fail(r, EMBER_COND_INTERNAL_SERVER_ERROR, NULL, NULL);
        return;
    }
    json_incref(it);
    p = ps_req_pubsub(r, PS_NS);
    if (p != NULL && (e = A->stanza_add_child(p, "publish", NULL)) != NULL) {
        A->stanza_set_attr(e, "node", n->name);
        if ((e = A->stanza_add_child(e, "item", NULL)) != NULL)
            A->stanza_set_attr(e, "id", id);
    }
    ps_req_result(r, p);
    ev = ps_item_event(c, n, it, ps_config_bool(n, "pubsub#deliver_payloads"));
    if (ev != NULL) {
        ps_notify(c, r->svc, n, r->roster, ev);
        A->stanza_free(ev);
    }
    json_decref(it);
}


static void
do_retract(req_t *r, const ember_stanza_t *ret)
{
    ps_ctx_t *c = r->c;
    const char *name = A->stanza_attr(ret, "node");
    const char *notify = A->stanza_attr(ret, "notify");
    const ember_stanza_t *item = A->stanza_child(ret, "item", NULL);
    const char *id = item != NULL ? A->stanza_attr(item, "id") : NULL;
    ember_stanza_t *ev, *x;
    ps_node_t *n;

    if (name == NULL) {
        ps_req_fail(r, EMBER_COND_BAD_REQUEST, "nodeid-required", NULL);
        return;
    }
    if (id == NULL) {
        ps_req_fail(r, EMBER_COND_BAD_REQUEST, "item-required", NULL);
        return;
    }
    if ((n = ps_node_find(r->svc, name)) == NULL) {
        ps_req_fail(r, EMBER_COND_ITEM_NOT_FOUND, NULL, NULL);
        return;
    }
    if (!ps_is_owner(c, r->svc, n, r->bare) &&
        strcmp(ps_affiliation(n, r->bare), "publisher") != 0) {
        ps_req_fail(r, EMBER_COND_FORBIDDEN, NULL, NULL);
        return;
    }
    if (ps_item_delete(c, r->svc, n, id) < 0) {
        ps_req_fail(r, EMBER_COND_ITEM_NOT_FOUND, NULL, NULL);
        return;
    }
    ps_req_result(r, NULL);
    if (notify != NULL ? !ps_true(notify)
                       : !ps_config_bool(n, "pubsub#notify_retract"))
        return;
    if ((ev = A->stanza_new("items", NULL)) == NULL)
        return;
    A->stanza_set_attr(ev, "node", n->name);
    if ((x = A->stanza_add_child(ev, "retract", NULL)) != NULL)
        A->stanza_set_attr(x, "id", id);
    ps_notify(c, r->svc, n, r->roster, ev);
    A->stanza_free(ev);
}


/* ---- subscriptions ---- */

ember_stanza_t *
ps_req_sub_element(req_t *r, ember_stanza_t *parent, ps_node_t *n,
                   const char *jid, json_t *sub, int with_node)
{
    ember_stanza_t *e = A->stanza_add_child(parent, "subscription", NULL);
    const char *subid = json_string_value(json_object_get(sub, "subid"));

    if (e == NULL)
        return NULL;
    if (with_node)
        A->stanza_set_attr(e, "node", n->name);
    A->stanza_set_attr(e, "jid", jid);
    if (subid != NULL)
        A->stanza_set_attr(e, "subid", subid);
    A->stanza_set_attr(e, "subscription",
                       json_string_value(json_object_get(sub, "sub")));
    return e;
}


/* Tell the owners of n about a pending subscription (section 8.6). */
static void
ask_owners(req_t *r, ps_node_t *n, const char *jid, const char *subid)
{
    ps_ctx_t *c = r->c;
    const char *owner;
    json_t *v;

    json_object_foreach(n->aff, owner, v) {
        ember_stanza_t *msg, *x;
        const char *one[2] = { NULL, NULL };

        if (strcmp(json_string_value(v), "owner") != 0 ||
            (msg = A->stanza_new("message", "jabber:client")) == NULL)
            continue;
        A->stanza_set_attr(msg, "from", r->svc->jid);
        A->stanza_set_attr(msg, "to", owner);
        x = A->form_new(msg, "form", "PubSub subscriber request",
                        PS_NS_SUB_AUTH);
        one[0] = subid;
        A->form_add_field(x, "pubsub#subid", "hidden", NULL, one);
        one[0] = n->name;
        A->form_add_field(x, "pubsub#node", "text-single", "Node ID", one);
        one[0] = jid;
        A->form_add_field(x, "pubsub#subscriber_jid", "jid-single",
                          "Subscriber Address", one);
        one[0] = "false";
        A->form_add_field(x, "pubsub#allow", "boolean",
                          "Allow this JID to subscribe to this pubsub node?",
                          one);
        A->route(c->m, msg);
    }
}


void
ps_req_send_last(req_t *r, ps_node_t *n, const char *jid)
{
    json_t *last = json_array_get(n->items, json_array_size(n->items) - 1);
    const char *when = ps_config_str(n, "pubsub#send_last_published_item");

    if (last == NULL || when == NULL || strcmp(when, "never") == 0)
        return;
    ps_send_event(r->c, r->svc, n, jid,
                  ps_item_event(r->c, n, last,
                                ps_config_bool(n, "pubsub#deliver_payloads")));
}


static int
apply_sub_options(req_t *r, json_t *sub, const ember_stanza_t *form)
{
    const char *v;

    if (form == NULL)
        return 0;
    if ((v = A->form_value(form, "pubsub#deliver")) != NULL) {
        if (strcmp(v, "1") && strcmp(v, "0") && strcmp(v, "true") &&
            strcmp(v, "false"))
            return EMBER_EINVAL;
        json_object_set_new(sub, "deliver", json_boolean(ps_true(v)));
    }
    return 0;
}


/* The prepared form of jid in buf (subscriptions are keyed by it), or
 * NULL when it is malformed. */
const char *
ps_req_prep(req_t *r, const char *jid, char *buf, size_t len)
{
    ember_jid_t *j = jid != NULL ? A->jid_parse(jid) : NULL;

    if (j == NULL)
        return NULL;
    snprintf(buf, len, "%s", A->jid_full(j));
    A->jid_free(j);
    return buf;
}


int
ps_req_same_bare(req_t *r, const char *jid)
{
    char *b = ps_bare(r->c, jid);
    int same = b != NULL && strcmp(b, r->bare) == 0;

    free(b);
    return same;
}


static void
do_subscribe(req_t *r, const ember_stanza_t *ps, const ember_stanza_t *sb)
{
    ps_ctx_t *c = r->c;
    const char *name = A->stanza_attr(sb, "node");
    const ember_stanza_t *form = ps_req_form(r, A->stanza_child(ps, "options",
                                                            NULL));
    const char *app, *model, *jid;
    ember_stanza_t *p;
    ps_node_t *n;
    json_t *sub;
    char subid[64], jbuf[3100];
    int code, pending = 0;

    jid = ps_req_prep(r, A->stanza_attr(sb, "jid"), jbuf, sizeof(jbuf));

    if (jid == NULL || !ps_req_same_bare(r, jid)) {
        ps_req_fail(r, EMBER_COND_BAD_REQUEST, "invalid-jid", NULL);
        return;
    }
    if (name == NULL) {
        ps_req_fail(r, EMBER_COND_BAD_REQUEST, "nodeid-required", NULL);
        return;
    }
    if ((n = ps_node_find(r->svc, name)) == NULL) {
        ps_req_fail(r, EMBER_COND_ITEM_NOT_FOUND, NULL, NULL);
        return;
    }
    model = ps_config_str(n, "pubsub#access_model");
    if ((sub = json_object_get(n->subs, jid)) == NULL) {
        code = ps_may_access(c, r->svc, n, r->roster, r->bare, &app);
        if (code != 0 && model != NULL && strcmp(model, "authorize") == 0 &&
            app != NULL && strcmp(app, "not-subscribed") == 0)
            pending = 1;
        else if (code != 0) {
            deny(r, code, app);
            return;
        }
        ps_make_id(c, subid, sizeof(subid));
        sub = json_pack("{sssssb}", "sub", pending ? "pending" : "subscribed",
                        "subid", subid, "deliver", 1);
        if (sub == NULL || apply_sub_options(r, sub, form) < 0) {
            json_decref(sub);
            ps_req_fail(r, EMBER_COND_BAD_REQUEST, "invalid-options", NULL);
            return;
        }
        json_object_set_new(n->subs, jid, sub);
        ps_node_save(c, r->svc, n);
    }
    p = ps_req_pubsub(r, PS_NS);
    if (p != NULL)
        ps_req_sub_element(r, p, n, jid, sub, 1);
    ps_req_result(r, p);
    if (pending)
        ask_owners(r, n, jid, subid);
    else if (strcmp(json_string_value(json_object_get(sub, "sub")),
                    "subscribed") == 0 &&
             !json_is_false(json_object_get(sub, "deliver")))
        ps_req_send_last(r, n, jid);
}


static void
do_unsubscribe(req_t *r, const ember_stanza_t *us)
{
    const char *name = A->stanza_attr(us, "node");
    const char *subid = A->stanza_attr(us, "subid");
    const char *cur, *jid;
    char jbuf[3100];

    jid = ps_req_prep(r, A->stanza_attr(us, "jid"), jbuf, sizeof(jbuf));
    ps_node_t *n;
    json_t *sub;

    if (name == NULL) {
        ps_req_fail(r, EMBER_COND_BAD_REQUEST, "nodeid-required", NULL);
        return;
    }
    if (jid == NULL || !ps_req_same_bare(r, jid)) {
        ps_req_fail(r, EMBER_COND_FORBIDDEN, NULL, NULL);
        return;
    }
    if ((n = ps_node_find(r->svc, name)) == NULL) {
        ps_req_fail(r, EMBER_COND_ITEM_NOT_FOUND, NULL, NULL);
        return;
    }
    if ((sub = json_object_get(n->subs, jid)) == NULL) {
        ps_req_fail(r, EMBER_COND_UNEXPECTED_REQUEST, "not-subscribed", NULL);
        return;
    }
    cur = json_string_value(json_object_get(sub, "subid"));
    if (subid != NULL && (cur == NULL || strcmp(cur, subid) != 0)) {
        ps_req_fail(r, EMBER_COND_NOT_ACCEPTABLE, "invalid-subid", NULL);
        return;
    }
    json_object_del(n->subs, jid);
    ps_node_save(r->c, r->svc, n);
    ps_req_result(r, NULL);
}


static void
do_options(req_t *r, const ember_stanza_t *op, int set)
{
    const char *name = A->stanza_attr(op, "node");
    const char *one[2] = { NULL, NULL };
    const char *jid;
    char jbuf[3100];
    ember_stanza_t *p, *o, *x;
    ps_node_t *n;
    json_t *sub;

    if (name == NULL) {
        ps_req_fail(r, EMBER_COND_BAD_REQUEST, "nodeid-required", NULL);
        return;
    }
    if (A->stanza_attr(op, "jid") == NULL) {
        ps_req_fail(r, EMBER_COND_BAD_REQUEST, "jid-required", NULL);
        return;
    }
    jid = ps_req_prep(r, A->stanza_attr(op, "jid"), jbuf, sizeof(jbuf));
    if (jid == NULL) {
        ps_req_fail(r, EMBER_COND_JID_MALFORMED, NULL, NULL);
        return;
    }
    if ((n = ps_node_find(r->svc, name)) == NULL) {
        ps_req_fail(r, EMBER_COND_ITEM_NOT_FOUND, NULL, NULL);
        return;
    }
    if (!ps_req_same_bare(r, jid) && !ps_is_owner(r->c, r->svc, n, r->bare)) {
        ps_req_fail(r, EMBER_COND_FORBIDDEN, NULL, NULL);
        return;
    }
    if ((sub = json_object_get(n->subs, jid)) == NULL) {
        ps_req_fail(r, EMBER_COND_UNEXPECTED_REQUEST, "not-subscribed", NULL);
        return;
    }
    if (set) {
        if (ps_req_form(r, op) == NULL ||
            apply_sub_options(r, sub, ps_req_form(r, op)) < 0) {
            ps_req_fail(r, EMBER_COND_BAD_REQUEST, "invalid-options", NULL);
            return;
        }
        ps_node_save(r->c, r->svc, n);
        ps_req_result(r, NULL);
        return;
    }
    p = ps_req_pubsub(r, PS_NS);
    o = p != NULL ? A->stanza_add_child(p, "options", NULL) : NULL;
    if (o != NULL) {
        A->stanza_set_attr(o, "node", n->name);
        A->stanza_set_attr(o, "jid", jid);
        x = A->form_new(o, "form", NULL, PS_NS_SUB_OPTIONS);
        one[0] = json_is_false(json_object_get(sub, "deliver")) ? "0" : "1";
        A->form_add_field(x, "pubsub#deliver", "boolean",
                          "Enable delivery?", one);
    }
    ps_req_result(r, p);
}


/* ---- retrieving ---- */

static void
do_items(req_t *r, const ember_stanza_t *ps, const ember_stanza_t *its)
{
    ps_ctx_t *c = r->c;
    const char *name = A->stanza_attr(its, "node");
    const char *maxs = A->stanza_attr(its, "max_items");
    const ember_stanza_t *x;
    ember_stanza_t *p, *out;
    const char *app;
    ember_rsm_t rsm;
    ps_node_t *n;
    json_t *sel;
    long max = -1, i, cnt, start = 0, end;
    int code, have_rsm, want_ids = 0;

    if (name == NULL) {
        ps_req_fail(r, EMBER_COND_BAD_REQUEST, "nodeid-required", NULL);
        return;
    }
    if ((n = ps_node_find(r->svc, name)) == NULL) {
        ps_req_fail(r, EMBER_COND_ITEM_NOT_FOUND, NULL, NULL);
        return;
    }
    if ((code = ps_may_access(c, r->svc, n, r->roster, r->bare, &app)) != 0) {
        deny(r, code, app);
        return;
    }
    memset(&rsm, 0, sizeof(rsm));
    rsm.size = sizeof(rsm);
    have_rsm = A->rsm_parse(ps, &rsm);
    if (have_rsm == EMBER_EINVAL) {
        ps_req_fail(r, EMBER_COND_BAD_REQUEST, NULL, "bad result set request");
        return;
    }
    if (maxs != NULL && ((max = strtol(maxs, NULL, 10)) <= 0)) {
        ps_req_fail(r, EMBER_COND_BAD_REQUEST, NULL, "bad max_items");
        return;
    }
    ps_items_trim(c, r->svc, n);
    /* Newest first: "the last N items" are the first N. */
    sel = json_array();
    for (x = A->stanza_first(its); x != NULL; x = A->stanza_next(x)) {
        const char *id = A->stanza_attr(x, "id");
        json_t *it;

        if (strcmp(A->stanza_name(x), "item") != 0 || id == NULL)
            continue;
        want_ids = 1;
        if ((it = ps_item_find(n, id, NULL)) != NULL)
            json_array_append(sel, it);
    }
    if (!want_ids)
        for (i = (long) json_array_size(n->items) - 1; i >= 0; i--) {
            if (max > 0 && (long) json_array_size(sel) >= max)
                break;
            json_array_append(sel, json_array_get(n->items, (size_t) i));
        }
    cnt = (long) json_array_size(sel);
    end = cnt;
    if (have_rsm == 0) {
        for (i = 0; i < cnt; i++) {
            const char *id = json_string_value(json_object_get(
                json_array_get(sel, (size_t) i), "id"));

            if (rsm.after != NULL && strcmp(id, rsm.after) == 0)
                start = i + 1;
            if (rsm.before != NULL && rsm.before[0] != '\0' &&
                strcmp(id, rsm.before) == 0)
                end = i;
        }
        if (rsm.index >= 0)
            start = rsm.index;
        if (rsm.max >= 0) {
            if (rsm.before != NULL && rsm.after == NULL) {
                if (end - rsm.max > start)
                    start = end - rsm.max;
            } else if (start + rsm.max < end) {
                end = start + rsm.max;
            }
        }
        if (start > end)
            start = end;
    }
    p = ps_req_pubsub(r, PS_NS);
    out = p != NULL ? A->stanza_add_child(p, "items", NULL) : NULL;
    if (out != NULL) {
        int payload = 1;

        A->stanza_set_attr(out, "node", n->name);
        for (i = start; i < end; i++) {
            ember_stanza_t *one = ps_item_event(c, n, json_array_get(
                sel, (size_t) i), payload);
            ember_stanza_t *it = one != NULL ? A->stanza_first(one) : NULL;

            if (it != NULL)
                A->stanza_append(out, it);
            A->stanza_free(one);
        }
        if (have_rsm == 0)
            A->rsm_add(p, start < end ? json_string_value(json_object_get(
                           json_array_get(sel, (size_t) start), "id")) : NULL,
                       start < end ? json_string_value(json_object_get(
                           json_array_get(sel, (size_t) end - 1), "id"))
                                   : NULL,
                       cnt, start < end ? start : -1);
    }
    json_decref(sel);
    ps_req_result(r, p);
}


static void
do_my_subscriptions(req_t *r, const ember_stanza_t *q, int affs)
{
    const char *name = A->stanza_attr(q, "node");
    ember_stanza_t *p = ps_req_pubsub(r, PS_NS);
    ember_stanza_t *out = p != NULL ?
        A->stanza_add_child(p, affs ? "affiliations" : "subscriptions", NULL)
        : NULL;
    ps_node_t *n;
    const char *jid;
    json_t *v;

    if (name != NULL && ps_node_find(r->svc, name) == NULL) {
        A->stanza_free(p);
        ps_req_fail(r, EMBER_COND_ITEM_NOT_FOUND, NULL, NULL);
        return;
    }
    if (out != NULL && name != NULL)
        A->stanza_set_attr(out, "node", name);
    for (n = r->svc->nodes; out != NULL && n != NULL; n = n->next) {
        if (name != NULL && strcmp(name, n->name) != 0)
            continue;
        if (affs) {
            const char *a = ps_affiliation(n, r->bare);
            ember_stanza_t *e;

            if (ps_is_owner(r->c, r->svc, n, r->bare))
                a = "owner";
            if (strcmp(a, "none") == 0 ||
                (e = A->stanza_add_child(out, "affiliation", NULL)) == NULL)
                continue;
            A->stanza_set_attr(e, "node", n->name);
            A->stanza_set_attr(e, "affiliation", a);
            continue;
        }
        json_object_foreach(n->subs, jid, v)
            if (ps_req_same_bare(r, jid))
                ps_req_sub_element(r, out, n, jid, v, 1);
    }
    ps_req_result(r, p);
}


/* ---- dispatch ---- */

static void
dispatch_pubsub(req_t *r, const ember_stanza_t *ps, int set)
{
    const ember_stanza_t *e = A->stanza_first(ps);
    const char *what = e != NULL ? A->stanza_name(e) : "";

    if (set && strcmp(what, "create") == 0)
        do_create(r, ps, e);
    else if (set && strcmp(what, "publish") == 0)
        do_publish(r, ps, e);
    else if (set && strcmp(what, "retract") == 0)
        do_retract(r, e);
    else if (set && strcmp(what, "subscribe") == 0)
        do_subscribe(r, ps, e);
    else if (set && strcmp(what, "unsubscribe") == 0)
        do_unsubscribe(r, e);
    else if (strcmp(what, "options") == 0)
        do_options(r, e, set);
    else if (!set && strcmp(what, "items") == 0)
        do_items(r, ps, e);
    else if (!set && strcmp(what, "subscriptions") == 0)
        do_my_subscriptions(r, e, 0);
    else if (!set && strcmp(what, "affiliations") == 0)
        do_my_subscriptions(r, e, 1);
    else if (e == NULL)
        ps_req_fail(r, EMBER_COND_BAD_REQUEST, NULL, NULL);
    else
        ps_req_fail(r, EMBER_COND_FEATURE_NOT_IMPLEMENTED, NULL, NULL);
}


/* An owner's answer to a subscription authorization form (8.6.2). */
static void
dispatch_message(req_t *r)
{
    const ember_stanza_t *x = A->stanza_child(r->st, "x", "jabber:x:data");
    const char *ft = x != NULL ? A->form_value(x, "FORM_TYPE") : NULL;
    const char *node, *jid, *allow;
    ps_node_t *n;
    json_t *sub;

    if (ft == NULL || strcmp(ft, PS_NS_SUB_AUTH) != 0)
        return;
    node = A->form_value(x, "pubsub#node");
    jid = A->form_value(x, "pubsub#subscriber_jid");
    allow = A->form_value(x, "pubsub#allow");
    if (node == NULL || jid == NULL || allow == NULL ||
        (n = ps_node_find(r->svc, node)) == NULL ||
        !ps_is_owner(r->c, r->svc, n, r->bare) ||
        (sub = json_object_get(n->subs, jid)) == NULL)
        return;
    if (ps_true(allow)) {
        json_object_set_new(sub, "sub", json_string("subscribed"));
        ps_req_tell_subscriber(r, n, jid, "subscribed");
        ps_req_send_last(r, n, jid);
    } else {
        json_object_del(n->subs, jid);
        ps_req_tell_subscriber(r, n, jid, "none");
    }
    ps_node_save(r->c, r->svc, n);
}


static void
dispatch(req_t *r)
{
    const char *kind = A->stanza_name(r->st);
    const char *type = A->stanza_attr(r->st, "type");
    const ember_stanza_t *q = A->stanza_first(r->st);
    const char *ns = q != NULL ? A->stanza_xmlns(q) : "";
    int set = type != NULL && strcmp(type, "set") == 0;

    if (strcmp(kind, "message") == 0) {
        dispatch_message(r);
        return;
    }
    if (strcmp(ns, PS_NS) == 0)
        dispatch_pubsub(r, q, set);
    else if (strcmp(ns, PS_NS_OWNER) == 0)
        ps_owner_dispatch(r, q, set);
    else if (!set && strcmp(ns, PS_NS_DISCO_INFO) == 0)
        ps_disco_info(r, q);
    else if (!set && strcmp(ns, PS_NS_DISCO_ITEMS) == 0)
        ps_disco_items(r, q);
    else
        ps_req_fail(r, EMBER_COND_SERVICE_UNAVAILABLE, NULL, NULL);
}


static void
finish(req_t *r)
{
    ps_ctx_t *c = r->c;
    ps_service_t *svc = r->svc;

    dispatch(r);
    req_free(r);
    ps_service_drop(c, svc);
}


static void
on_roster(int status, ember_roster_t *roster, void *ud)
{
    req_t *r = ud;

    r->roster = status == 0 ? roster : NULL;
    finish(r);
}


static void
on_ready(ps_ctx_t *c, ps_service_t *svc, void *ud)
{
    req_t *r = ud;
    const ember_roster_iface_t *ri;

    if (svc == NULL) {
        ps_req_fail(r, EMBER_COND_INTERNAL_SERVER_ERROR, NULL,
                    "storage failed");
        req_free(r);
        return;
    }
    r->svc = svc;
    ps_service_hold(svc);
    if (c->pep && svc->owner != NULL && (ri = ps_roster_iface(c)) != NULL &&
        ri->load(ri, svc->owner, on_roster, r) == 0)
        return;
    finish(r);
}


static int
start(ps_ctx_t *c, const ember_event_t *ev, const char *jid)
{
    req_t *r = calloc(1, sizeof(*r));
    int err;

    if (r == NULL)
        return EMBER_ENOMEM;
    r->c = c;
    r->st = c->api->stanza_copy(ev->stanza);
    r->from = ev->from != NULL ? strdup(c->api->jid_full(ev->from)) : NULL;
    r->bare = ev->from != NULL ? strdup(c->api->jid_bare(ev->from)) : NULL;
    if (r->st == NULL || r->from == NULL || r->bare == NULL) {
        req_free(r);
        return EMBER_ENOMEM;
    }
    if ((err = ps_service_ready(c, jid, on_ready, r)) < 0) {
        ps_req_fail(r, EMBER_COND_INTERNAL_SERVER_ERROR, NULL, NULL);
        req_free(r);
    }
    return EMBER_HOOK_HANDLED;
}


int
ps_handle_iq(ps_ctx_t *c, const ember_event_t *ev, const char *jid)
{
    return start(c, ev, jid);
}


int
ps_handle_message(ps_ctx_t *c, const ember_event_t *ev, const char *jid)
{
    return start(c, ev, jid);
}
