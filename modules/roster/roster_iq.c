/* roster_iq.c -- jabber:iq:roster get/set (RFC 6121 section 2), roster
 * pushes, XEP-0237 versioning. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roster_int.h"

/* The session slot of a resource that asked for the roster. */
static char roster_interested_mark;

/* A roster iq waiting for its roster. */
typedef struct {
    roster_inst_t *ri;
    ember_stanza_t *iq;
    ember_session_t *origin;
    char *user;
    ritem_t *it;        /* the item of a set, prepared */
    int remove;
} rreq_t;


static void
rreq_free(rreq_t *q)
{
    api->stanza_free(q->iq);
    ritem_free(q->it);
    free(q->user);
    free(q);
}


/* A reply to an iq sent without 'to' comes from the user's account. */
static void
reply_from(ember_stanza_t *r, const ember_stanza_t *iq)
{
    const char *v;
    ember_jid_t *j;

    if ((v = api->stanza_attr(iq, "to")) != NULL) {
        api->stanza_set_attr(r, "from", v);
    } else if ((v = api->stanza_attr(iq, "from")) != NULL &&
               (j = api->jid_parse(v)) != NULL) {
        api->stanza_set_attr(r, "from", api->jid_bare(j));
        api->jid_free(j);
    }
}


static void
reply_error(roster_inst_t *ri, const ember_stanza_t *iq, ember_cond_t cond,
            const char *text)
{
    ember_stanza_t *r = api->error_reply(iq, cond, text);

    if (r == NULL)
        return;
    reply_from(r, iq);
    api->route(ri->m, r);
}


static void
reply_result(roster_inst_t *ri, const ember_stanza_t *iq,
             ember_stanza_t *payload)
{
    ember_stanza_t *r = api->stanza_new("iq", NULL);
    const char *v;

    if (r == NULL)
        return;
    if ((v = api->stanza_attr(iq, "from")) != NULL)
        api->stanza_set_attr(r, "to", v);
    reply_from(r, iq);
    if ((v = api->stanza_attr(iq, "id")) != NULL)
        api->stanza_set_attr(r, "id", v);
    api->stanza_set_attr(r, "type", "result");
    if (payload != NULL)
        api->stanza_append(r, payload);
    api->route(ri->m, r);
}


ember_stanza_t *
roster_item_xml(ember_stanza_t *query, const ritem_t *it, int removed)
{
    ember_stanza_t *x = api->stanza_add_child(query, "item", NULL), *g;
    size_t i;

    if (x == NULL)
        return NULL;
    api->stanza_set_attr(x, "jid", it->jid);
    if (removed) {
        api->stanza_set_attr(x, "subscription", "remove");
        return x;
    }
    if (it->name != NULL)
        api->stanza_set_attr(x, "name", it->name);
    api->stanza_set_attr(x, "subscription", ember_sub_name(it->sub));
    if (it->ask)
        api->stanza_set_attr(x, "ask", "subscribe");
    if (it->approved)
        api->stanza_set_attr(x, "approved", "true");
    for (i = 0; i < it->ngroups; i++)
        if ((g = api->stanza_add_child(x, "group", NULL)) != NULL)
            api->stanza_add_text(g, it->groups[i]);
    return x;
}


/* ---- interested resources and pushes ---- */

typedef struct {
    roster_inst_t *ri;
    const ember_stanza_t *iq;
    const char *resource;
    int found;
} rpush_t;


static void
push_to(ember_session_t *s, void *ud)
{
    rpush_t *p = ud;
    void **slot = api->session_slot(p->ri->m, s);
    const ember_jid_t *j;

    if (slot == NULL || *slot != &roster_interested_mark ||
        (j = api->session_jid(s)) == NULL)
        return;
    api->stanza_set_attr((ember_stanza_t *) p->iq, "to", api->jid_full(j));
    api->session_send(s, p->iq);
}


void
roster_push(roster_inst_t *ri, const char *user, const ritem_t *it,
            const char *jid, const char *ver)
{
    roster_conf_t *conf = api->module_conf(ri->m);
    ember_stanza_t *iq, *q;
    ritem_t gone;
    rpush_t p;
    char id[32], bare[1100];

    if ((iq = api->stanza_new("iq", NULL)) == NULL)
        return;
    snprintf(id, sizeof(id), "push%llu", (unsigned long long) ++ri->push_id);
    snprintf(bare, sizeof(bare), "%s@%s", user, api->module_host(ri->m));
    api->stanza_set_attr(iq, "type", "set");
    api->stanza_set_attr(iq, "id", id);
    api->stanza_set_attr(iq, "from", bare);
    if ((q = api->stanza_add_child(iq, "query", NS_ROSTER)) == NULL)
        goto done;
    if (conf->versioning && ver != NULL)
        api->stanza_set_attr(q, "ver", ver);
    if (it == NULL) {
        memset(&gone, 0, sizeof(gone));
        gone.jid = (char *) jid;
        it = &gone;
    }
    if (roster_item_xml(q, it, it == &gone) == NULL)
        goto done;
    memset(&p, 0, sizeof(p));
    p.ri = ri;
    p.iq = iq;
    api->user_sessions(ri->m, user, push_to, &p);
done:
    api->stanza_free(iq);
}


static void
find_interested(ember_session_t *s, void *ud)
{
    rpush_t *p = ud;
    void **slot = api->session_slot(p->ri->m, s);
    const ember_jid_t *j = api->session_jid(s);
    const char *res;

    if (j != NULL && (res = api->jid_resource(j)) != NULL &&
        strcmp(res, p->resource) == 0 && slot != NULL &&
        *slot == &roster_interested_mark)
        p->found = 1;
}


int
roster_interested(roster_inst_t *ri, const char *user, const char *resource)
{
    rpush_t p;

    if (user == NULL || resource == NULL)
        return 0;
    memset(&p, 0, sizeof(p));
    p.ri = ri;
    p.resource = resource;
    api->user_sessions(ri->m, user, find_interested, &p);
    return p.found;
}


/* ---- get ---- */

typedef struct {
    ember_stanza_t *query;
} rlist_t;


static void
roster_got(int status, ember_roster_t *roster, void *ud)
{
    rreq_t *q = ud;
    roster_conf_t *conf = api->module_conf(q->ri->m);
    roster_t *r = (roster_t *) roster;
    ember_stanza_t *query, *sent = api->stanza_child(q->iq, "query",
                                                      NS_ROSTER);
    const char *ver = api->stanza_attr(sent, "ver");
    rnode_t *n;
    size_t i;

    if (status < 0) {
        reply_error(q->ri, q->iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        goto done;
    }
    if (conf->versioning && ver != NULL && strcmp(ver, r->verstr) == 0) {
        /* XEP-0237: the client's copy is current. */
        reply_result(q->ri, q->iq, NULL);
        goto done;
    }
    if ((query = api->stanza_new("query", NS_ROSTER)) == NULL) {
        reply_error(q->ri, q->iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        goto done;
    }
    if (conf->versioning)
        api->stanza_set_attr(query, "ver", r->verstr);
    for (i = 0; i < r->items.nb; i++)
        for (n = r->items.b[i]; n != NULL; n = n->next)
            if (!((ritem_t *) n)->hidden)
                roster_item_xml(query, (ritem_t *) n, 0);
    reply_result(q->ri, q->iq, query);
    api->stanza_free(query);
done:
    rreq_free(q);
}


static rreq_t *
rreq_new(roster_inst_t *ri, const ember_event_t *ev)
{
    rreq_t *q = calloc(1, sizeof(*q));

    if (q == NULL || (q->iq = api->stanza_copy(ev->stanza)) == NULL ||
        (q->user = strdup(api->jid_node(ev->from))) == NULL) {
        if (q != NULL)
            api->stanza_free(q->iq);
        free(q);
        return NULL;
    }
    q->ri = ri;
    q->origin = ev->origin;
    return q;
}


static int
roster_on_get(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    roster_inst_t *ri = roster_inst(m);
    void **slot;
    rreq_t *q;

    if (ev->from == NULL || api->jid_node(ev->from) == NULL)
        return EMBER_HOOK_PASS;
    if (api->stanza_first(api->stanza_first(ev->stanza)) != NULL) {
        api->stanza_error(ev, EMBER_COND_BAD_REQUEST,
                          "a roster get carries an empty query");
        return EMBER_HOOK_HANDLED;
    }
    if (ev->origin != NULL &&
        (slot = api->session_slot(m, ev->origin)) != NULL)
        *slot = &roster_interested_mark;
    if ((q = rreq_new(ri, ev)) == NULL ||
        roster_load(ri, q->user, roster_got, q) < 0) {
        if (q != NULL)
            rreq_free(q);
        api->stanza_error(ev, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
    }
    return EMBER_HOOK_HANDLED;
}


/* ---- set ---- */

static void
set_done(int status, void *ud)
{
    rreq_t *q = ud;

    if (status == EMBER_ENOENT)
        reply_error(q->ri, q->iq, EMBER_COND_ITEM_NOT_FOUND, NULL);
    else if (status < 0)
        reply_error(q->ri, q->iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
    else
        reply_result(q->ri, q->iq, NULL);
    rreq_free(q);
}


static void
roster_set_loaded(int status, ember_roster_t *roster, void *ud)
{
    rreq_t *q = ud;
    roster_inst_t *ri = q->ri;
    roster_conf_t *conf = api->module_conf(ri->m);
    roster_t *r = (roster_t *) roster;
    ember_roster_event_t ev;
    ember_roster_item_t view;
    ritem_t *old;
    int err;

    if (status < 0) {
        reply_error(ri, q->iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        rreq_free(q);
        return;
    }
    old = (ritem_t *) rhash_get(&r->items, q->it->jid);
    if (q->remove) {
        if (old == NULL || old->hidden) {
            reply_error(ri, q->iq, EMBER_COND_ITEM_NOT_FOUND, NULL);
            rreq_free(q);
            return;
        }
        /* RFC 6121 2.5.2: mod_presence cancels the subscriptions first. */
        view.size = sizeof(view);
        ritem_view(old, &view);
        memset(&ev, 0, sizeof(ev));
        ev.size = sizeof(ev);
        ev.user = q->user;
        ev.item = &view;
        ev.origin = q->origin;
        api->fire(ri->m, EMBER_ROSTER_EV_REMOVING, NULL, &ev);
        err = roster_apply(ri, q->user, q->it->jid, NULL, set_done, q);
    } else {
        if ((old == NULL || old->hidden) && conf->max_items > 0 &&
            r->visible >= (size_t) conf->max_items) {
            reply_error(ri, q->iq, EMBER_COND_NOT_ALLOWED,
                        "the roster is full");
            rreq_free(q);
            return;
        }
        /* The subscription state is the server's: keep it. */
        if (old != NULL) {
            q->it->sub = old->sub;
            q->it->ask = old->ask;
            q->it->pending_in = old->pending_in;
            q->it->approved = old->approved;
            if (old->pending_stanza != NULL)
                q->it->pending_stanza = strdup(old->pending_stanza);
        }
        q->it->hidden = 0;
        err = roster_apply(ri, q->user, q->it->jid, q->it, set_done, q);
        q->it = NULL;
    }
    if (err < 0) {
        reply_error(ri, q->iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        rreq_free(q);
    }
}


/* Checks of RFC 6121 2.3.3; returns the item, or NULL having answered. */
static ritem_t *
parse_set_item(roster_inst_t *ri, const ember_event_t *ev, int *remove)
{
    roster_conf_t *conf = api->module_conf(ri->m);
    ember_stanza_t *query = api->stanza_first(ev->stanza), *item = NULL, *c;
    const char *jid_s, *sub, *name, *text;
    ember_jid_t *jid = NULL;
    ritem_t *it = NULL;
    size_t n = 0, i;

    for (c = api->stanza_first(query); c != NULL; c = api->stanza_next(c))
        if (strcmp(api->stanza_name(c), "item") == 0 &&
            strcmp(api->stanza_xmlns(c), NS_ROSTER) == 0) {
            item = c;
            n++;
        }
    if (n != 1) {
        api->stanza_error(ev, EMBER_COND_BAD_REQUEST,
                          "a roster set carries exactly one item");
        return NULL;
    }
    if ((jid_s = api->stanza_attr(item, "jid")) == NULL ||
        (jid = api->jid_parse(jid_s)) == NULL ||
        api->jid_resource(jid) != NULL) {
        api->stanza_error(ev, EMBER_COND_BAD_REQUEST,
                          "the item needs the bare JID of a contact");
        goto fail;
    }
    if (strcmp(api->jid_bare(jid), api->jid_bare(ev->from)) == 0) {
        api->stanza_error(ev, EMBER_COND_BAD_REQUEST,
                          "the user's own JID cannot be a contact");
        goto fail;
    }
    sub = api->stanza_attr(item, "subscription");
    *remove = sub != NULL && strcmp(sub, "remove") == 0;
    /* RFC 6121 2.1.2.5: other known values are ignored (clients echo the
     * state they have); anything else is not a roster set. */
    if (sub != NULL && !*remove && strcmp(sub, "none") != 0 &&
        strcmp(sub, "to") != 0 && strcmp(sub, "from") != 0 &&
        strcmp(sub, "both") != 0) {
        api->stanza_error(ev, EMBER_COND_BAD_REQUEST,
                          "subscription may only be 'remove'");
        goto fail;
    }
    if ((it = calloc(1, sizeof(*it))) == NULL ||
        (it->jid = strdup(api->jid_full(jid))) == NULL)
        goto nomem;
    if (*remove) {
        api->jid_free(jid);
        return it;
    }
    if ((name = api->stanza_attr(item, "name")) != NULL && name[0] != '\0') {
        if (strlen(name) > (size_t) conf->max_name) {
            api->stanza_error(ev, EMBER_COND_NOT_ACCEPTABLE,
                              "the name is too long");
            goto fail;
        }
        if ((it->name = strdup(name)) == NULL)
            goto nomem;
    }
    n = 0;
    for (c = api->stanza_first(item); c != NULL; c = api->stanza_next(c))
        if (strcmp(api->stanza_name(c), "group") == 0)
            n++;
    if (n > (size_t) conf->max_groups) {
        api->stanza_error(ev, EMBER_COND_NOT_ACCEPTABLE, "too many groups");
        goto fail;
    }
    if (n > 0 && (it->groups = calloc(n, sizeof(char *))) == NULL)
        goto nomem;
    for (c = api->stanza_first(item); c != NULL; c = api->stanza_next(c)) {
        if (strcmp(api->stanza_name(c), "group") != 0)
            continue;
        text = api->stanza_text(c);
        if (text[0] == '\0' || strlen(text) > (size_t) conf->max_name) {
            api->stanza_error(ev, EMBER_COND_NOT_ACCEPTABLE,
                              text[0] == '\0' ? "empty group name"
                                              : "group name too long");
            goto fail;
        }
        for (i = 0; i < it->ngroups; i++)
            if (strcmp(it->groups[i], text) == 0) {
                api->stanza_error(ev, EMBER_COND_BAD_REQUEST,
                                  "duplicate group");
                goto fail;
            }
        if ((it->groups[it->ngroups] = strdup(text)) == NULL)
            goto nomem;
        it->ngroups++;
    }
    api->jid_free(jid);
    return it;
nomem:
    api->stanza_error(ev, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
fail:
    api->jid_free(jid);
    ritem_free(it);
    return NULL;
}


static int
roster_on_set(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    roster_inst_t *ri = roster_inst(m);
    rreq_t *q;
    ritem_t *it;
    int remove = 0;

    if (ev->from == NULL || api->jid_node(ev->from) == NULL)
        return EMBER_HOOK_PASS;
    if ((it = parse_set_item(ri, ev, &remove)) == NULL)
        return EMBER_HOOK_HANDLED;
    if ((q = rreq_new(ri, ev)) == NULL) {
        ritem_free(it);
        api->stanza_error(ev, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return EMBER_HOOK_HANDLED;
    }
    q->it = it;
    q->remove = remove;
    if (roster_load(ri, q->user, roster_set_loaded, q) < 0) {
        rreq_free(q);
        api->stanza_error(ev, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
    }
    return EMBER_HOOK_HANDLED;
}


/* RFC 6121 2.1.3 / 2.1.5: only the user's own account holds its roster. */
static int
roster_on_other(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    api->stanza_error(ev, EMBER_COND_FORBIDDEN, NULL);
    return EMBER_HOOK_HANDLED;
}


static int
roster_on_features(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    roster_conf_t *conf = api->module_conf(m);

    if (conf->versioning && ev->data != NULL)
        api->stanza_add_child(ev->data, "ver", NS_ROSTERVER);
    return EMBER_HOOK_PASS;
}


int
roster_iq_init(roster_inst_t *ri)
{
    ember_module_t *m = ri->m;
    int err;

    if ((err = api->hook(m, "iq-get/self/" NS_ROSTER ":query", roster_on_get,
                         0, NULL)) < 0 ||
        (err = api->hook(m, "iq-set/self/" NS_ROSTER ":query", roster_on_set,
                         0, NULL)) < 0 ||
        (err = api->hook(m, "iq/bare/" NS_ROSTER ":query", roster_on_other,
                         0, NULL)) < 0 ||
        (err = api->hook(m, "iq/host/" NS_ROSTER ":query", roster_on_other,
                         0, NULL)) < 0 ||
        (err = api->hook(m, EMBER_EV_STREAM_FEATURES, roster_on_features, 0,
                         NULL)) < 0)
        return err;
    return 0;
}
