/* pubsub_publish.c -- the publisher use cases of XEP-0060 (section 7:
 * create, publish with publish-options, retract) and item retrieval
 * (section 6.5). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pubsub.h"

static int
may_create(ps_req_t *r)
{
    ps_ctx_t *c = r->c;
    const char *at = strchr(r->bare, '@');
    const char *dom = at != NULL ? at + 1 : r->bare;

    switch (c->create_policy) {
    case PS_CREATE_OWNER:
        return strcmp(r->bare, r->svc->jid) == 0;
    case PS_CREATE_ADMINS:
        return api->is_admin(c->m, r->bare);
    case PS_CREATE_LOCAL:
        return at != NULL && api->domain_is_local(dom);
    default:
        return 1;
    }
}


/* ---- create, publish, retract ---- */

static ps_node_t *
create_node(ps_req_t *r, const char *name, const ember_stanza_t *form,
            const char **bad)
{
    json_t *cfg = json_object();
    ps_node_t *n = NULL;

    if (cfg == NULL)
        return NULL;
    ps_config_defaults(r->c, cfg);
    if (form == NULL || ps_config_apply(r->c, cfg, form, NULL, bad) == 0)
        n = ps_node_add(r->svc, name, r->bare, cfg);
    json_decref(cfg);
    return n;
}


static void
do_create(ps_req_t *r, const ember_stanza_t *ps, const ember_stanza_t *cr)
{
    const char *name = api->stanza_attr(cr, "node");
    const ember_stanza_t *form =
        ps_form(api->stanza_child(ps, "configure", NULL));
    const char *bad = NULL;
    ember_stanza_t *p, *e;
    char gen[64];
    ps_node_t *n;

    if (!may_create(r)) {
        ps_fail(r, EMBER_COND_FORBIDDEN, NULL, NULL);
        return;
    }
    if (name == NULL || name[0] == '\0') {
        ps_make_id(r->c, gen, sizeof(gen));
        name = gen;
    } else if (ps_node_find(r->svc, name) != NULL) {
        ps_fail(r, EMBER_COND_CONFLICT, NULL, "node exists");
        return;
    }
    if ((n = create_node(r, name, form, &bad)) == NULL) {
        ps_fail(r, bad != NULL ? EMBER_COND_NOT_ACCEPTABLE
                               : EMBER_COND_INTERNAL_SERVER_ERROR, NULL, bad);
        return;
    }
    p = api->stanza_new("pubsub", PS_NS);
    if (p != NULL && (e = api->stanza_add_child(p, "create", NULL)) != NULL)
        api->stanza_set_attr(e, "node", n->name);
    ps_answer(r, p);
}


/*
 * publish-options asking for more items than the service keeps (Converse
 * asks 9999 for its bookmarks) mean "as many as you keep", not a failed
 * precondition: a copy of the form says "max" instead, or NULL when the
 * form needs no change.
 */
static ember_stanza_t *
options_within_limits(ps_ctx_t *c, const ember_stanza_t *opts)
{
    const char *v = opts != NULL ? api->form_value(opts, "pubsub#max_items")
                                 : NULL;
    const char *one[2] = { "max", NULL };
    ember_stanza_t *copy, *f;
    char *end;
    long l;

    if (v == NULL || c->max_items_limit <= 0)
        return NULL;
    l = strtol(v, &end, 10);
    if (end == v || *end != '\0' || l <= c->max_items_limit)
        return NULL;
    if ((copy = api->stanza_copy(opts)) == NULL)
        return NULL;
    for (f = api->stanza_first(copy); f != NULL; f = api->stanza_next(f))
        if (strcmp(api->stanza_name(f), "field") == 0 &&
            api->stanza_attr(f, "var") != NULL &&
            strcmp(api->stanza_attr(f, "var"), "pubsub#max_items") == 0) {
            api->stanza_remove(f);
            break;
        }
    api->form_add_field(copy, "pubsub#max_items", NULL, NULL, one);
    return copy;
}


static void
publish_with(ps_req_t *r, const ember_stanza_t *pub,
             const ember_stanza_t *opts)
{
    ps_ctx_t *c = r->c;
    const char *name = api->stanza_attr(pub, "node");
    const ember_stanza_t *item = NULL, *x, *payload = NULL;
    const char *id, *bad = NULL;
    ember_stanza_t *p, *e, *ev;
    ps_node_t *n;
    char gen[64], *xml;
    size_t nitems = 0, npayload = 0, len = 0;
    json_t *it;

    if (name == NULL) {
        ps_fail(r, EMBER_COND_BAD_REQUEST, "nodeid-required", NULL);
        return;
    }
    for (x = api->stanza_first(pub); x != NULL; x = api->stanza_next(x))
        if (strcmp(api->stanza_name(x), "item") == 0 && nitems++ == 0)
            item = x;
    if (nitems == 0) {
        ps_fail(r, EMBER_COND_BAD_REQUEST, "item-required", NULL);
        return;
    }
    if (nitems > 1) {
        ps_fail(r, EMBER_COND_BAD_REQUEST, "invalid-payload", NULL);
        return;
    }
    for (x = api->stanza_first(item); x != NULL; x = api->stanza_next(x))
        if (npayload++ == 0)
            payload = x;
    if (npayload != 1) {
        ps_fail(r, EMBER_COND_BAD_REQUEST,
                npayload == 0 ? "payload-required" : "invalid-payload", NULL);
        return;
    }
    if ((n = ps_node_find(r->svc, name)) == NULL) {
        if (!may_create(r)) {
            ps_fail(r, c->pep ? EMBER_COND_FORBIDDEN
                              : EMBER_COND_ITEM_NOT_FOUND, NULL, NULL);
            return;
        }
        if ((n = create_node(r, name, opts, &bad)) == NULL) {
            ps_fail(r, bad != NULL ? EMBER_COND_CONFLICT
                                   : EMBER_COND_INTERNAL_SERVER_ERROR,
                    bad != NULL ? "precondition-not-met" : NULL, bad);
            return;
        }
    } else if (!ps_may_publish(r->svc, n, r->bare)) {
        ps_fail(r, EMBER_COND_FORBIDDEN, NULL, NULL);
        return;
    } else if (opts != NULL && !ps_config_matches(c, n, opts, &bad)) {
        ps_fail(r, EMBER_COND_CONFLICT, "precondition-not-met", bad);
        return;
    }
    if ((xml = api->stanza_serialize(payload, &len)) == NULL) {
        ps_fail(r, EMBER_COND_INTERNAL_SERVER_ERROR, NULL, NULL);
        return;
    }
    if ((long) len > c->max_payload) {
        api->free(xml);
        ps_fail(r, EMBER_COND_NOT_ACCEPTABLE, "payload-too-big", NULL);
        return;
    }
    if ((id = api->stanza_attr(item, "id")) == NULL || id[0] == '\0') {
        ps_make_id(c, gen, sizeof(gen));
        id = gen;
    }
    it = ps_item_put(r->svc, n, id, xml, r->bare);
    api->free(xml);
    if (it == NULL) {
        ps_fail(r, EMBER_COND_INTERNAL_SERVER_ERROR, NULL, NULL);
        return;
    }
    json_incref(it);
    p = api->stanza_new("pubsub", PS_NS);
    if (p != NULL && (e = api->stanza_add_child(p, "publish", NULL)) != NULL) {
        api->stanza_set_attr(e, "node", n->name);
        if ((e = api->stanza_add_child(e, "item", NULL)) != NULL)
            api->stanza_set_attr(e, "id", id);
    }
    ps_answer(r, p);
    ev = ps_item_event(n, it, ps_config_bool(n, "pubsub#deliver_payloads"));
    if (ev != NULL) {
        ps_notify(r->svc, n, r->roster, ev);
        api->stanza_free(ev);
    }
    json_decref(it);
    ps_fire_item(r, n, id, payload);
}


static void
do_publish(ps_req_t *r, const ember_stanza_t *ps, const ember_stanza_t *pub)
{
    const ember_stanza_t *opts = ps_form(api->stanza_child(
        ps, "publish-options", NULL));
    ember_stanza_t *clamped = options_within_limits(r->c, opts);

    publish_with(r, pub, clamped != NULL ? clamped : opts);
    api->stanza_free(clamped);
}


static void
do_retract(ps_req_t *r, const ember_stanza_t *ret)
{
    const char *notify = api->stanza_attr(ret, "notify");
    const ember_stanza_t *item = api->stanza_child(ret, "item", NULL);
    const char *id = item != NULL ? api->stanza_attr(item, "id") : NULL;
    ember_stanza_t *x;
    ps_node_t *n;

    if (api->stanza_attr(ret, "node") != NULL && id == NULL) {
        ps_fail(r, EMBER_COND_BAD_REQUEST, "item-required", NULL);
        return;
    }
    if ((n = ps_req_node(r, ret)) == NULL)
        return;
    if (!ps_is_owner(r->svc, n, r->bare) &&
        strcmp(ps_affiliation(n, r->bare), "publisher") != 0) {
        ps_fail(r, EMBER_COND_FORBIDDEN, NULL, NULL);
        return;
    }
    if (ps_item_delete(r->svc, n, id) < 0) {
        ps_fail(r, EMBER_COND_ITEM_NOT_FOUND, NULL, NULL);
        return;
    }
    ps_answer(r, NULL);
    if (notify != NULL ? ps_true(notify)
                       : ps_config_bool(n, "pubsub#notify_retract")) {
        if ((x = api->stanza_new("retract", NULL)) != NULL)
            api->stanza_set_attr(x, "id", id);
        ps_notify_node(r->svc, n, r->roster, "items", x);
    }
    ps_fire_item(r, n, id, NULL);
}


static void
do_items(ps_req_t *r, const ember_stanza_t *ps, const ember_stanza_t *its)
{
    const char *maxs = api->stanza_attr(its, "max_items");
    const ember_stanza_t *x;
    ember_stanza_t *p, *out;
    const char *app;
    ember_rsm_t rsm;
    ember_cond_t code;
    ps_node_t *n;
    json_t *sel;
    long max = -1, i, cnt, start = 0, end;
    int have_rsm, want_ids = 0;

    if ((n = ps_req_node(r, its)) == NULL)
        return;
    code = ps_may_access(r->svc, n, r->roster, r->bare, &app);
    if (code != EMBER_COND_NONE) {
        ps_fail(r, code, app, NULL);
        return;
    }
    memset(&rsm, 0, sizeof(rsm));
    rsm.size = sizeof(rsm);
    have_rsm = api->rsm_parse(ps, &rsm);
    if (have_rsm == EMBER_EINVAL) {
        ps_fail(r, EMBER_COND_BAD_REQUEST, NULL, "bad result set request");
        return;
    }
    if (maxs != NULL && ((max = strtol(maxs, NULL, 10)) <= 0)) {
        ps_fail(r, EMBER_COND_BAD_REQUEST, NULL, "bad max_items");
        return;
    }
    ps_items_trim(r->svc, n);
    /* Newest first: "the last N items" are the first N. */
    sel = json_array();
    for (x = api->stanza_first(its); x != NULL; x = api->stanza_next(x)) {
        const char *id = api->stanza_attr(x, "id");
        json_t *it;

        if (strcmp(api->stanza_name(x), "item") != 0 || id == NULL)
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
    p = api->stanza_new("pubsub", PS_NS);
    out = p != NULL ? api->stanza_add_child(p, "items", NULL) : NULL;
    if (out != NULL) {
        api->stanza_set_attr(out, "node", n->name);
        for (i = start; i < end; i++) {
            ember_stanza_t *one = ps_item_event(n, json_array_get(
                sel, (size_t) i), 1);
            ember_stanza_t *it = one != NULL ? api->stanza_first(one) : NULL;

            if (it != NULL)
                api->stanza_append(out, it);
            api->stanza_free(one);
        }
        if (have_rsm == 0)
            api->rsm_add(p, start < end ? json_string_value(json_object_get(
                           json_array_get(sel, (size_t) start), "id")) : NULL,
                       start < end ? json_string_value(json_object_get(
                           json_array_get(sel, (size_t) end - 1), "id"))
                                   : NULL,
                       cnt, start < end ? start : -1);
    }
    json_decref(sel);
    /* The interface's caller also gets the node's configuration. */
    if (r->local && p != NULL)
        ps_config_form(p, "result", n->config);
    ps_answer(r, p);
}


void
ps_publisher_dispatch(ps_req_t *r, const ember_stanza_t *ps,
                      const ember_stanza_t *e, int set)
{
    const char *what = api->stanza_name(e);

    if (set && strcmp(what, "create") == 0)
        do_create(r, ps, e);
    else if (set && strcmp(what, "publish") == 0)
        do_publish(r, ps, e);
    else if (set && strcmp(what, "retract") == 0)
        do_retract(r, e);
    else if (!set && strcmp(what, "items") == 0)
        do_items(r, ps, e);
    else
        ps_sub_dispatch(r, ps, e, set);
}
