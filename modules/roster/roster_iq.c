/* roster_iq.c -- jabber:iq:roster get/set (RFC 6121 section 2), roster
 * pushes, XEP-0237 versioning. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roster.h"

/* The session slot of a resource that asked for the roster. */
static char roster_interested_mark;

/* A roster set waiting for its roster, then for storage. */
typedef struct {
    ember_iq_t *iq;
    roster_inst_t *ri;
    ritem_t *it;        /* the item, prepared */
    int remove;
} rset_t;


/* The user (a node of the module's host) a deferred iq is from. */
static const char *
iq_user(ember_iq_t *iq)
{
    return api->jid_node(api->iq_event(iq)->from);
}


static ember_stanza_t *
roster_item_xml(ember_stanza_t *query, const ember_roster_item_t *it,
                int removed)
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
    api->stanza_set_attr(x, "subscription",
                         ember_sub_name(it->subscription));
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
roster_push(roster_inst_t *ri, const char *user,
            const ember_roster_item_t *it, const char *jid, const char *ver)
{
    roster_conf_t *conf = api->module_conf(ri->m);
    ember_stanza_t *iq, *q;
    ember_roster_item_t gone;
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
        gone.jid = jid;
        it = &gone;
    }
    if (roster_item_xml(q, it, it == &gone) == NULL)
        goto done;
    p.ri = ri;
    p.iq = iq;
    api->user_sessions(ri->m, user, push_to, &p);
done:
    api->stanza_free(iq);
}


int
roster_interested(roster_inst_t *ri, const char *user, const char *resource)
{
    ember_session_t *s;
    void **slot;
    char full[3100];

    if (user == NULL || resource == NULL)
        return 0;
    snprintf(full, sizeof(full), "%s@%s/%s", user, api->module_host(ri->m),
             resource);
    return (s = api->session_by_jid(full)) != NULL &&
           (slot = api->session_slot(ri->m, s)) != NULL &&
           *slot == &roster_interested_mark;
}


/* ---- get ---- */

static int
got_item(const ember_roster_item_t *v, int client, void *ud)
{
    roster_item_xml(ud, v, 0);
    return 0;
}


static void
roster_got(int status, ember_roster_t *roster, void *ud)
{
    ember_iq_t *iq = ud;
    roster_t *r = (roster_t *) roster;
    roster_conf_t *conf;
    ember_stanza_t *query;
    const char *ver, *cur;

    if (status < 0) {
        api->iq_fail(iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    conf = api->module_conf(r->ri->m);
    cur = roster_version(r->ri, r);
    ver = api->stanza_attr(api->stanza_child(api->iq_event(iq)->stanza,
                                             "query", NS_ROSTER), "ver");
    if (conf->versioning && ver != NULL && strcmp(ver, cur) == 0) {
        /* XEP-0237: the client's copy is current. */
        api->iq_answer(iq, NULL);
        return;
    }
    if ((query = api->stanza_new("query", NS_ROSTER)) == NULL) {
        api->iq_fail(iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    if (conf->versioning)
        api->stanza_set_attr(query, "ver", cur);
    roster_walk(r->ri, r, 1, got_item, query);
    api->iq_answer(iq, query);
}


int
roster_on_get(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    ember_iq_t *iq;
    void **slot;

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
    if ((iq = api->iq_defer(m, ev)) == NULL) {
        api->stanza_error(ev, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return EMBER_HOOK_HANDLED;
    }
    if (roster_load(roster_inst(m), iq_user(iq), roster_got, iq) < 0)
        api->iq_fail(iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
    return EMBER_HOOK_HANDLED;
}


/* ---- set ---- */

static void
rset_free(rset_t *q)
{
    ritem_free(q->it);
    free(q);
}


static void
set_done(int status, void *ud)
{
    rset_t *q = ud;

    if (status == EMBER_ENOENT)
        api->iq_fail(q->iq, EMBER_COND_ITEM_NOT_FOUND, NULL);
    else if (status < 0)
        api->iq_fail(q->iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
    else
        api->iq_answer(q->iq, NULL);
    rset_free(q);
}


static void
roster_set_loaded(int status, ember_roster_t *roster, void *ud)
{
    rset_t *q = ud;
    roster_t *r = (roster_t *) roster;
    const char *user = iq_user(q->iq);
    ritem_t *old, *it = q->it;
    int err;

    if (status < 0) {
        set_done(status, q);
        return;
    }
    old = (ritem_t *) rhash_get(&r->items, it->jid);
    if (q->remove && (old == NULL || old->hidden) &&
        roster_is_shared(q->ri, user, it->jid)) {
        /* The operator's groups put it there; only they take it away. */
        api->iq_fail(q->iq, EMBER_COND_NOT_ALLOWED,
                     "a contact of a shared group cannot be removed");
        rset_free(q);
        return;
    }
    if (q->remove && (old == NULL || old->hidden)) {
        set_done(EMBER_ENOENT, q);
        return;
    }
    if (q->remove) {
        /* RFC 6121 2.5.2: mod_presence cancels the subscriptions first. */
        roster_removing(q->ri, user, old,
                        api->session_get(api->iq_origin(q->iq)));
        err = roster_apply(q->ri, user, it->jid, NULL, 0, set_done, q);
    } else if (roster_full(q->ri, r, old)) {
        api->iq_fail(q->iq, EMBER_COND_NOT_ALLOWED, "the roster is full");
        rset_free(q);
        return;
    } else {
        /* The subscription state is the server's: keep it. */
        if (old != NULL) {
            it->sub = old->sub;
            it->ask = old->ask;
            it->pending_in = old->pending_in;
            it->approved = old->approved;
            if (old->pending_stanza != NULL)
                it->pending_stanza = strdup(old->pending_stanza);
        }
        it->hidden = 0;
        q->it = NULL;
        err = roster_apply(q->ri, user, it->jid, it, 0, set_done, q);
    }
    if (err < 0)
        set_done(err, q);
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


int
roster_on_set(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    rset_t *q;
    ritem_t *it;
    int remove = 0;

    if (ev->from == NULL || api->jid_node(ev->from) == NULL)
        return EMBER_HOOK_PASS;
    if ((it = parse_set_item(roster_inst(m), ev, &remove)) == NULL)
        return EMBER_HOOK_HANDLED;
    if ((q = calloc(1, sizeof(*q))) == NULL ||
        (q->iq = api->iq_defer(m, ev)) == NULL) {
        free(q);
        ritem_free(it);
        api->stanza_error(ev, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return EMBER_HOOK_HANDLED;
    }
    q->ri = roster_inst(m);
    q->it = it;
    q->remove = remove;
    if (roster_load(q->ri, iq_user(q->iq), roster_set_loaded, q) < 0)
        set_done(EMBER_EIO, q);
    return EMBER_HOOK_HANDLED;
}


/* RFC 6121 2.1.3 / 2.1.5: only the user's own account holds its roster. */
int
roster_on_other(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    api->stanza_error(ev, EMBER_COND_FORBIDDEN, NULL);
    return EMBER_HOOK_HANDLED;
}


int
roster_on_features(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    roster_conf_t *conf = api->module_conf(m);

    if (conf->versioning && ev->data != NULL)
        api->stanza_add_child(ev->data, "ver", NS_ROSTERVER);
    return EMBER_HOOK_PASS;
}
