/* ps_owner.c -- the owner use cases of XEP-0060 (section 8): configure,
 * default, delete, purge, and managing subscriptions and affiliations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ps_req.h"

static ps_node_t *
owned_node(req_t *r, const ember_stanza_t *e)
{
    const char *name = A->stanza_attr(e, "node");
    ps_node_t *n;

    if (name == NULL) {
        ps_req_fail(r, EMBER_COND_BAD_REQUEST, "nodeid-required", NULL);
        return NULL;
    }
    if ((n = ps_node_find(r->svc, name)) == NULL) {
        ps_req_fail(r, EMBER_COND_ITEM_NOT_FOUND, NULL, NULL);
        return NULL;
    }
    if (!ps_is_owner(r->c, r->svc, n, r->bare)) {
        ps_req_fail(r, EMBER_COND_FORBIDDEN, NULL, NULL);
        return NULL;
    }
    return n;
}


static void
do_configure(req_t *r, const ember_stanza_t *cf, int set)
{
    ps_ctx_t *c = r->c;
    ps_node_t *n = owned_node(r, cf);
    const ember_stanza_t *form = ps_req_form(r, cf);
    ember_stanza_t *p, *e, *ev;
    const char *bad = NULL, *type;

    if (n == NULL)
        return;
    if (!set) {
        p = ps_req_pubsub(r, PS_NS_OWNER);
        if (p != NULL && (e = A->stanza_add_child(p, "configure", NULL))) {
            A->stanza_set_attr(e, "node", n->name);
            ps_config_form(c, e, "form", n->config);
        }
        ps_req_result(r, p);
        return;
    }
    type = form != NULL ? A->stanza_attr(form, "type") : NULL;
    if (type != NULL && strcmp(type, "cancel") == 0) {
        ps_req_result(r, NULL);
        return;
    }
    if (form == NULL || type == NULL || strcmp(type, "submit") != 0) {
        ps_req_fail(r, EMBER_COND_BAD_REQUEST, NULL,
                    "a submitted form is needed");
        return;
    }
    if (ps_config_apply(c, n->config, form, NULL, &bad) < 0) {
        ps_req_fail(r, EMBER_COND_NOT_ACCEPTABLE, NULL, bad);
        return;
    }
    ps_items_trim(c, r->svc, n);
    ps_node_save(c, r->svc, n);
    ps_req_result(r, NULL);
    if (!ps_config_bool(n, "pubsub#notify_config") ||
        (ev = A->stanza_new("configuration", NULL)) == NULL)
        return;
    A->stanza_set_attr(ev, "node", n->name);
    if (ps_config_bool(n, "pubsub#deliver_payloads"))
        ps_config_form(c, ev, "result", n->config);
    ps_notify(c, r->svc, n, r->roster, ev);
    A->stanza_free(ev);
}


static void
do_default(req_t *r)
{
    json_t *cfg = json_object();
    ember_stanza_t *p = ps_req_pubsub(r, PS_NS_OWNER);
    ember_stanza_t *e = p != NULL ? A->stanza_add_child(p, "default", NULL)
                                  : NULL;

    ps_config_defaults(r->c, cfg);
    if (e != NULL)
        ps_config_form(r->c, e, "form", cfg);
    json_decref(cfg);
    ps_req_result(r, p);
}


static void
do_delete(req_t *r, const ember_stanza_t *d)
{
    ps_node_t *n = owned_node(r, d);
    ember_stanza_t *ev;

    if (n == NULL)
        return;
    ps_req_result(r, NULL);
    if (ps_config_bool(n, "pubsub#notify_delete") &&
        (ev = A->stanza_new("delete", NULL)) != NULL) {
        A->stanza_set_attr(ev, "node", n->name);
        ps_notify(r->c, r->svc, n, r->roster, ev);
        A->stanza_free(ev);
    }
    ps_node_remove(r->c, r->svc, n);
}


static void
do_purge(req_t *r, const ember_stanza_t *d)
{
    ps_node_t *n = owned_node(r, d);
    ember_stanza_t *ev;

    if (n == NULL)
        return;
    ps_items_purge(r->c, r->svc, n);
    ps_req_result(r, NULL);
    if (ps_config_bool(n, "pubsub#notify_retract") &&
        (ev = A->stanza_new("purge", NULL)) != NULL) {
        A->stanza_set_attr(ev, "node", n->name);
        ps_notify(r->c, r->svc, n, r->roster, ev);
        A->stanza_free(ev);
    }
}


/* The subscriber hears of its subscription's new state (section 8.8.4). */
void
ps_req_tell_subscriber(req_t *r, ps_node_t *n, const char *jid,
                       const char *state)
{
    ember_stanza_t *ev = A->stanza_new("subscription", NULL);

    if (ev == NULL)
        return;
    A->stanza_set_attr(ev, "node", n->name);
    A->stanza_set_attr(ev, "jid", jid);
    A->stanza_set_attr(ev, "subscription", state);
    ps_send_event(r->c, r->svc, n, jid, ev);
}


static int
set_subscription(req_t *r, ps_node_t *n, const char *jid, const char *state)
{
    json_t *sub = json_object_get(n->subs, jid);
    char subid[64];
    int was_subscribed = sub != NULL && strcmp(json_string_value(
        json_object_get(sub, "sub")), "subscribed") == 0;

    if (strcmp(state, "none") == 0) {
        if (sub != NULL)
            json_object_del(n->subs, jid);
    } else if (strcmp(state, "subscribed") == 0 ||
               strcmp(state, "pending") == 0 ||
               strcmp(state, "unconfigured") == 0) {
        if (sub == NULL) {
            ps_make_id(r->c, subid, sizeof(subid));
            sub = json_pack("{sssssb}", "sub", state, "subid", subid,
                            "deliver", 1);
            if (sub == NULL)
                return EMBER_ENOMEM;
            json_object_set_new(n->subs, jid, sub);
        } else {
            json_object_set_new(sub, "sub", json_string(state));
        }
        if (!was_subscribed && strcmp(state, "subscribed") == 0)
            return 1;
    } else {
        return EMBER_EINVAL;
    }
    return 0;
}


static int
has_owner(ps_node_t *n)
{
    const char *jid;
    json_t *v;

    json_object_foreach(n->aff, jid, v)
        if (strcmp(json_string_value(v), "owner") == 0)
            return 1;
    return 0;
}


static void
do_owner_list(req_t *r, const ember_stanza_t *q, int affs, int set)
{
    ps_node_t *n = owned_node(r, q);
    const char *what = affs ? "affiliation" : "subscription";
    ember_stanza_t *p, *out, *e;
    const ember_stanza_t *x;
    const char *jid;
    json_t *v;
    int bad = 0;

    if (n == NULL)
        return;
    if (set) {
        json_t *before = affs ? json_deep_copy(n->aff) : NULL;

        for (x = A->stanza_first(q); x != NULL; x = A->stanza_next(x)) {
            const char *st = A->stanza_attr(x, what);
            char *bare, jb[3100];

            jid = A->stanza_attr(x, "jid");
            if (strcmp(A->stanza_name(x), what) != 0)
                continue;
            if (jid == NULL || st == NULL ||
                (bare = affs ? ps_bare(r->c, jid)
                             : ps_strdup(ps_req_prep(r, jid, jb,
                                                     sizeof(jb)))) == NULL) {
                bad = 1;
                continue;
            }
            if (!affs) {
                int rc = set_subscription(r, n, bare, st);

                if (rc < 0)
                    bad = 1;
                else if (rc == 1)
                    ps_req_tell_subscriber(r, n, bare, "subscribed");
            } else if (strcmp(st, "none") == 0) {
                json_object_del(n->aff, bare);
            } else if (strcmp(st, "owner") == 0 ||
                       strcmp(st, "publisher") == 0 ||
                       strcmp(st, "member") == 0 ||
                       strcmp(st, "outcast") == 0) {
                json_object_set_new(n->aff, bare, json_string(st));
                if (strcmp(st, "outcast") == 0) {
                    void *tmp;
                    const char *sj;

                    json_object_foreach_safe(n->subs, tmp, sj, v) {
                        char *sb = ps_bare(r->c, sj);

                        if (sb != NULL && strcmp(sb, bare) == 0)
                            json_object_del(n->subs, sj);
                        free(sb);
                    }
                }
            } else {
                bad = 1;
            }
            free(bare);
        }
        if (affs && !r->c->pep && !has_owner(n) && before != NULL) {
            /* A node without an owner could never be managed again. */
            json_object_clear(n->aff);
            json_object_update(n->aff, before);
            json_decref(before);
            ps_req_fail(r, EMBER_COND_NOT_ACCEPTABLE, NULL,
                 "the node would have no owner");
            return;
        }
        json_decref(before);
        ps_node_save(r->c, r->svc, n);
        if (bad)
            ps_req_fail(r, EMBER_COND_NOT_ACCEPTABLE, NULL,
                 "some entries were not valid");
        else
            ps_req_result(r, NULL);
        return;
    }
    p = ps_req_pubsub(r, PS_NS_OWNER);
    out = p != NULL ? A->stanza_add_child(p, affs ? "affiliations"
                                                  : "subscriptions", NULL)
                    : NULL;
    if (out != NULL) {
        A->stanza_set_attr(out, "node", n->name);
        if (affs) {
            json_object_foreach(n->aff, jid, v)
                if ((e = A->stanza_add_child(out, "affiliation", NULL))) {
                    A->stanza_set_attr(e, "jid", jid);
                    A->stanza_set_attr(e, "affiliation",
                                       json_string_value(v));
                }
        } else {
            json_object_foreach(n->subs, jid, v)
                ps_req_sub_element(r, out, n, jid, v, 0);
        }
    }
    ps_req_result(r, p);
}


void
ps_owner_dispatch(req_t *r, const ember_stanza_t *ps, int set)
{
    const ember_stanza_t *e = A->stanza_first(ps);
    const char *what = e != NULL ? A->stanza_name(e) : "";

    if (strcmp(what, "configure") == 0)
        do_configure(r, e, set);
    else if (!set && strcmp(what, "default") == 0)
        do_default(r);
    else if (set && strcmp(what, "delete") == 0)
        do_delete(r, e);
    else if (set && strcmp(what, "purge") == 0)
        do_purge(r, e);
    else if (strcmp(what, "subscriptions") == 0)
        do_owner_list(r, e, 0, set);
    else if (strcmp(what, "affiliations") == 0)
        do_owner_list(r, e, 1, set);
    else if (e == NULL)
        ps_req_fail(r, EMBER_COND_BAD_REQUEST, NULL, NULL);
    else
        ps_req_fail(r, EMBER_COND_FEATURE_NOT_IMPLEMENTED, NULL, NULL);
}
