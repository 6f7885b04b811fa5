/* pubsub_owner.c -- the owner use cases of XEP-0060 (section 8): configure,
 * default, delete, purge, and managing subscriptions and affiliations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pubsub.h"

static ps_node_t *
owned_node(ps_req_t *r, const ember_stanza_t *e)
{
    ps_node_t *n = ps_req_node(r, e);

    if (n == NULL)
        return NULL;
    if (!ps_is_owner(r->svc, n, r->bare)) {
        ps_fail(r, EMBER_COND_FORBIDDEN, NULL, NULL);
        return NULL;
    }
    return n;
}


static void
do_configure(ps_req_t *r, const ember_stanza_t *cf, int set)
{
    ps_ctx_t *c = r->c;
    ps_node_t *n = owned_node(r, cf);
    const ember_stanza_t *form = ps_form(cf);
    ember_stanza_t *p, *e, *x = NULL;
    const char *bad = NULL, *type;

    if (n == NULL)
        return;
    if (!set) {
        p = api->stanza_new("pubsub", PS_NS_OWNER);
        if (p != NULL && (e = api->stanza_add_child(p, "configure", NULL))) {
            api->stanza_set_attr(e, "node", n->name);
            ps_config_form(e, "form", n->config);
        }
        ps_answer(r, p);
        return;
    }
    type = form != NULL ? api->stanza_attr(form, "type") : NULL;
    if (type != NULL && strcmp(type, "cancel") == 0) {
        ps_answer(r, NULL);
        return;
    }
    if (form == NULL || type == NULL || strcmp(type, "submit") != 0) {
        ps_fail(r, EMBER_COND_BAD_REQUEST, NULL, "a submitted form is needed");
        return;
    }
    if (ps_config_apply(c, n->config, form, NULL, &bad) < 0) {
        ps_fail(r, EMBER_COND_NOT_ACCEPTABLE, NULL, bad);
        return;
    }
    ps_items_trim(r->svc, n);
    ps_node_save(r->svc, n);
    ps_answer(r, NULL);
    if (!ps_config_bool(n, "pubsub#notify_config"))
        return;
    if (ps_config_bool(n, "pubsub#deliver_payloads"))
        x = ps_config_form(NULL, "result", n->config);
    ps_notify_node(r->svc, n, r->roster, "configuration", x);
}


static void
do_default(ps_req_t *r)
{
    json_t *cfg = json_object();
    ember_stanza_t *p = api->stanza_new("pubsub", PS_NS_OWNER);
    ember_stanza_t *e = p != NULL ? api->stanza_add_child(p, "default", NULL)
                                  : NULL;

    ps_config_defaults(r->c, cfg);
    if (e != NULL)
        ps_config_form(e, "form", cfg);
    json_decref(cfg);
    ps_answer(r, p);
}


static void
do_delete(ps_req_t *r, const ember_stanza_t *d)
{
    ps_node_t *n = owned_node(r, d);

    if (n == NULL)
        return;
    ps_answer(r, NULL);
    if (ps_config_bool(n, "pubsub#notify_delete"))
        ps_notify_node(r->svc, n, r->roster, "delete", NULL);
    ps_node_remove(r->svc, n);
}


static void
do_purge(ps_req_t *r, const ember_stanza_t *d)
{
    ps_node_t *n = owned_node(r, d);

    if (n == NULL)
        return;
    ps_items_purge(r->svc, n);
    ps_answer(r, NULL);
    if (ps_config_bool(n, "pubsub#notify_retract"))
        ps_notify_node(r->svc, n, r->roster, "purge", NULL);
}


/* The subscriber hears of its subscription's new state (section 8.8.4). */
void
ps_tell_subscriber(ps_req_t *r, ps_node_t *n, const char *jid,
                   const char *state)
{
    ember_stanza_t *ev = api->stanza_new("subscription", NULL);

    if (ev == NULL)
        return;
    api->stanza_set_attr(ev, "node", n->name);
    api->stanza_set_attr(ev, "jid", jid);
    api->stanza_set_attr(ev, "subscription", state);
    ps_send_event(r->svc, n, jid, ev);
}


static int
set_subscription(ps_req_t *r, ps_node_t *n, const char *jid,
                 const char *state)
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
do_owner_list(ps_req_t *r, const ember_stanza_t *q, int affs, int set)
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

        for (x = api->stanza_first(q); x != NULL; x = api->stanza_next(x)) {
            const char *st = api->stanza_attr(x, what);
            char *bare, jb[3100];

            jid = api->stanza_attr(x, "jid");
            if (strcmp(api->stanza_name(x), what) != 0)
                continue;
            if (jid == NULL || st == NULL ||
                (bare = affs ? ps_bare(jid) : ps_prep(jid, jb, sizeof(jb)) ?
                              strdup(jb) : NULL) == NULL) {
                bad = 1;
                continue;
            }
            if (!affs) {
                int rc = set_subscription(r, n, bare, st);

                if (rc < 0)
                    bad = 1;
                else if (rc == 1)
                    ps_tell_subscriber(r, n, bare, "subscribed");
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
                        char *sb = ps_bare(sj);

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
            ps_fail(r, EMBER_COND_NOT_ACCEPTABLE, NULL,
                    "the node would have no owner");
            return;
        }
        json_decref(before);
        ps_node_save(r->svc, n);
        if (bad)
            ps_fail(r, EMBER_COND_NOT_ACCEPTABLE, NULL,
                    "some entries were not valid");
        else
            ps_answer(r, NULL);
        return;
    }
    p = api->stanza_new("pubsub", PS_NS_OWNER);
    out = p != NULL ? api->stanza_add_child(p, affs ? "affiliations"
                                                  : "subscriptions", NULL)
                    : NULL;
    if (out != NULL) {
        api->stanza_set_attr(out, "node", n->name);
        if (affs) {
            json_object_foreach(n->aff, jid, v)
                if ((e = api->stanza_add_child(out, "affiliation", NULL))) {
                    api->stanza_set_attr(e, "jid", jid);
                    api->stanza_set_attr(e, "affiliation",
                                         json_string_value(v));
                }
        } else {
            json_object_foreach(n->subs, jid, v)
                ps_sub_element(out, n, jid, v, 0);
        }
    }
    ps_answer(r, p);
}


void
ps_owner_dispatch(ps_req_t *r, const ember_stanza_t *ps, int set)
{
    const ember_stanza_t *e = api->stanza_first(ps);
    const char *what = e != NULL ? api->stanza_name(e) : "";

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
        ps_fail(r, EMBER_COND_BAD_REQUEST, NULL, NULL);
    else
        ps_fail(r, EMBER_COND_FEATURE_NOT_IMPLEMENTED, NULL, NULL);
}
