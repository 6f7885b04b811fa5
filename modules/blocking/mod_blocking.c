/* mod_blocking.c -- XEP-0191 Blocking Command: per-user blocklists, their
 * pushes, and their enforcement on stanzas in both directions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <ember/plugin.h>
#include <ember/roster.h>

#define NS_BLOCKING "urn:xmpp:blocking"
#define NS_BLOCKING_ERRORS "urn:xmpp:blocking:errors"
#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"

/* Above the modules that deliver, store or answer stanzas. */
#define BLK_PRIORITY 1000

/* A request that arrived while the blocklists were still being read. */
typedef struct blk_wait_s {
    ember_iq_t *iq;
    struct blk_wait_s *next;
} blk_wait_t;

/* One blocklist read at start-up. */
typedef struct blk_read_s {
    struct blk_state_s *st;
    char *user;
    struct blk_read_s *prev, *next;
} blk_read_t;

typedef struct blk_state_s {
    ember_module_t *m;
    ember_store_t *store;
    json_t *lists;          /* user -> object: prepared JID -> true */
    int loading;            /* reads in flight at start-up */
    blk_read_t *reads;
    blk_wait_t *waiting, **waiting_tail;
    struct blk_state_s *next;
} blk_state_t;

/* Per session: asked for the blocklist (gets pushes); last presence. */
typedef struct {
    int requested;
    ember_stanza_t *presence;
} blk_sess_t;

static const ember_api_t *api;
/* Every instance, so a stanza between two hosts sees both lists. */
static blk_state_t *states;
/* Set while this module routes its own stanzas (errors, presence). */
static int bypass;

static void blk_process(blk_state_t *st, ember_iq_t *iq);


static blk_state_t *
state_of(const char *host)
{
    blk_state_t *st;

    for (st = states; st != NULL; st = st->next)
        if (strcmp(api->module_host(st->m), host) == 0)
            return st;
    return NULL;
}


/* The blocklist of account `node` of `st`'s host, or NULL when empty. */
static json_t *
list_of(blk_state_t *st, const char *node)
{
    json_t *l = json_object_get(st->lists, node);

    return l != NULL && json_object_size(l) > 0 ? l : NULL;
}


/* Does list l block `j`?  XEP-0191 section 5: full JID, bare JID,
 * domain/resource, domain. */
static int
list_matches(json_t *l, const ember_jid_t *j)
{
    const char *node = api->jid_node(j), *res = api->jid_resource(j);
    const char *domain = api->jid_domain(j);
    char buf[3072];

    if (json_object_get(l, api->jid_full(j)) != NULL ||
        json_object_get(l, domain) != NULL)
        return 1;
    if (res != NULL && node != NULL) {
        if (json_object_get(l, api->jid_bare(j)) != NULL)
            return 1;
        snprintf(buf, sizeof(buf), "%s/%s", domain, res);
        if (json_object_get(l, buf) != NULL)
            return 1;
    }
    return 0;
}


/* Does account `who` (any JID of it) block `other`? */
static int
blocks(const ember_jid_t *who, const ember_jid_t *other)
{
    blk_state_t *st;
    json_t *l;

    if (who == NULL || other == NULL || api->jid_node(who) == NULL ||
        (st = state_of(api->jid_domain(who))) == NULL ||
        (l = list_of(st, api->jid_node(who))) == NULL)
        return 0;
    return list_matches(l, other);
}


static blk_sess_t *
sess_state(ember_module_t *m, ember_session_t *s, int create)
{
    void **slot = api->session_slot(m, s);

    if (slot == NULL)
        return NULL;
    if (*slot == NULL && create)
        *slot = calloc(1, sizeof(blk_sess_t));
    return *slot;
}


static void
sess_dtor(void *p)
{
    blk_sess_t *bs = p;

    api->stanza_free(bs->presence);
    free(bs);
}


static void
route_own(ember_module_t *m, ember_stanza_t *st)
{
    bypass++;
    api->route(m, st);
    bypass--;
}


/* An error reply to st, routed past the blocklists. */
static void
bounce(ember_module_t *m, const ember_stanza_t *st, ember_cond_t cond,
       int blocked)
{
    ember_stanza_t *r, *e;

    if ((r = api->error_reply(st, cond, NULL)) == NULL)
        return;
    if (blocked && (e = api->stanza_child(r, "error", NULL)) != NULL) {
        /* XEP-0191 3.3, its example's type. */
        api->stanza_set_attr(e, "type", "cancel");
        api->stanza_add_child(e, "blocked", NS_BLOCKING_ERRORS);
    }
    route_own(m, r);
}


static int
is_type(const ember_stanza_t *st, const char *type)
{
    const char *t = api->stanza_attr(st, "type");

    return t != NULL && strcmp(t, type) == 0;
}


/* XEP-0191 3.3: what a blocked sender's stanza gets. */
static int
refuse_inbound(ember_module_t *m, const ember_event_t *ev)
{
    const char *kind = api->stanza_name(ev->stanza);

    if (strcmp(kind, "presence") == 0 || is_type(ev->stanza, "error") ||
        is_type(ev->stanza, "result"))
        return EMBER_HOOK_HANDLED;
    bounce(m, ev->stanza, EMBER_COND_SERVICE_UNAVAILABLE, 0);
    return EMBER_HOOK_HANDLED;
}


static int
same_account(const ember_event_t *ev)
{
    return api->jid_node(ev->from) != NULL && api->jid_node(ev->to) != NULL &&
           strcmp(api->jid_bare(ev->from), api->jid_bare(ev->to)) == 0;
}


/* Stanzas of local clients, before routing: both directions. */
static int
blk_pre(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    if (bypass || ev->from == NULL || ev->to == NULL || same_account(ev))
        return EMBER_HOOK_PASS;
    if (blocks(ev->from, ev->to)) {
        if (!is_type(ev->stanza, "error") && !is_type(ev->stanza, "result"))
            bounce(m, ev->stanza, EMBER_COND_NOT_ACCEPTABLE, 1);
        return EMBER_HOOK_HANDLED;
    }
    if (blocks(ev->to, ev->from))
        return refuse_inbound(m, ev);
    return EMBER_HOOK_PASS;
}


/* Stanzas the server routes (presence broadcasts, module messages). */
static int
blk_routed(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    if (bypass || ev->origin != NULL || ev->from == NULL || ev->to == NULL ||
        same_account(ev))
        return EMBER_HOOK_PASS;
    if (blocks(ev->from, ev->to))
        return EMBER_HOOK_HANDLED;
    if (blocks(ev->to, ev->from))
        return refuse_inbound(m, ev);
    return EMBER_HOOK_PASS;
}


/* Keep the last available presence of a user with a blocklist: it is
 * what an unblocked contact gets (XEP-0191 3.4). */
static int
blk_presence_self(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    blk_state_t *st = api->module_data(m);
    const char *type = api->stanza_attr(ev->stanza, "type");
    blk_sess_t *bs;

    if (ev->origin == NULL || api->stanza_attr(ev->stanza, "to") != NULL)
        return EMBER_HOOK_PASS;
    if (type == NULL && list_of(st, api->jid_node(ev->from)) != NULL) {
        if ((bs = sess_state(m, ev->origin, 1)) != NULL) {
            api->stanza_free(bs->presence);
            bs->presence = api->stanza_copy(ev->stanza);
        }
    } else if (type != NULL && strcmp(type, "unavailable") == 0 &&
               (bs = sess_state(m, ev->origin, 0)) != NULL) {
        api->stanza_free(bs->presence);
        bs->presence = NULL;
    }
    return EMBER_HOOK_PASS;
}


/* ---- the protocol ---- */

typedef struct {
    ember_module_t *m;
    const ember_stanza_t *push;
} blk_push_t;


static void
push_cb(ember_session_t *s, void *ud)
{
    blk_push_t *p = ud;
    blk_sess_t *bs = sess_state(p->m, s, 0);
    const ember_jid_t *j = api->session_jid(s);
    ember_stanza_t *iq;
    static unsigned long n;
    char id[32];

    if (bs == NULL || !bs->requested || j == NULL ||
        (iq = api->stanza_copy(p->push)) == NULL)
        return;
    snprintf(id, sizeof(id), "blockpush%lu", ++n);
    api->stanza_set_attr(iq, "id", id);
    api->stanza_set_attr(iq, "to", api->jid_full(j));
    api->session_send(s, iq);
    api->stanza_free(iq);
}


/* XEP-0191 3.3/3.4: tell every resource that asked for the list. */
static void
push(ember_module_t *m, const ember_jid_t *user, const char *what,
     json_t *jids)
{
    ember_stanza_t *iq = api->stanza_new("iq", NULL), *c, *it;
    blk_push_t p = { m, iq };
    size_t i;

    if (iq == NULL)
        return;
    api->stanza_set_attr(iq, "type", "set");
    api->stanza_set_attr(iq, "from", api->jid_bare(user));
    if ((c = api->stanza_add_child(iq, what, NS_BLOCKING)) != NULL)
        for (i = 0; jids != NULL && i < json_array_size(jids); i++)
            if ((it = api->stanza_add_child(c, "item", NULL)) != NULL)
                api->stanza_set_attr(it, "jid", json_string_value(
                                         json_array_get(jids, i)));
    api->user_sessions(m, api->jid_node(user), push_cb, &p);
    api->stanza_free(iq);
}


typedef struct {
    ember_module_t *m;
    const ember_jid_t *user;
    json_t *changed;        /* JIDs blocked or unblocked */
    int unblock;
    const char *to;         /* the contact presence_cb writes to */
} blk_pres_t;


static void
presence_cb(ember_session_t *s, void *ud)
{
    blk_pres_t *bp = ud;
    blk_sess_t *bs = sess_state(bp->m, s, 0);
    const ember_jid_t *j = api->session_jid(s);
    ember_stanza_t *p, *c;
    char prio[16];
    int avail = 0, pr;

    pr = api->session_priority(s, &avail);
    if (!avail || j == NULL)
        return;
    if (bp->unblock && bs != NULL && bs->presence != NULL) {
        p = api->stanza_copy(bs->presence);
    } else if ((p = api->stanza_new("presence", NULL)) != NULL) {
        if (!bp->unblock) {
            api->stanza_set_attr(p, "type", "unavailable");
        } else if ((c = api->stanza_add_child(p, "priority", NULL)) != NULL) {
            snprintf(prio, sizeof(prio), "%d", pr);
            api->stanza_add_text(c, prio);
        }
    }
    if (p == NULL)
        return;
    api->stanza_set_attr(p, "from", api->jid_full(j));
    api->stanza_set_attr(p, "to", bp->to);
    route_own(bp->m, p);
}


/* Contacts with a subscription from the user that a changed item
 * matches get the user's presence: unavailable when blocked, current when
 * unblocked (XEP-0191 3.3, 3.4). */
static int
roster_item_cb(const ember_roster_item_t *item, void *ud)
{
    blk_pres_t *bp = ud;
    ember_jid_t *contact, *blocked;
    size_t i;

    if (!(item->subscription & EMBER_SUB_FROM) || item->hidden ||
        (contact = api->jid_parse(item->jid)) == NULL)
        return 0;
    for (i = 0; i < json_array_size(bp->changed); i++) {
        const char *b = json_string_value(json_array_get(bp->changed, i));
        const char *target = NULL;

        if ((blocked = api->jid_parse(b)) == NULL)
            continue;
        if (api->jid_node(blocked) == NULL && api->jid_resource(blocked) ==
            NULL && strcmp(api->jid_domain(blocked),
                           api->jid_domain(contact)) == 0)
            target = item->jid;
        else if (api->jid_node(blocked) != NULL &&
                 strcmp(api->jid_bare(blocked), item->jid) == 0)
            target = b;
        if (target != NULL) {
            api->log(bp->m, EMBER_LOG_DEBUG, "%s presence of %s to %s",
                     bp->unblock ? "current" : "unavailable",
                     api->jid_bare(bp->user), target);
            bp->to = target;
            api->user_sessions(bp->m, api->jid_node(bp->user), presence_cb,
                               bp);
        }
        api->jid_free(blocked);
    }
    api->jid_free(contact);
    return 0;
}


static void
tell_contacts(ember_module_t *m, const ember_jid_t *user, json_t *changed,
              int unblock)
{
    const ember_roster_iface_t *ri = api->iface_get(m, EMBER_ROSTER_IFACE);
    blk_pres_t bp = { m, user, changed, unblock, NULL };
    ember_roster_t *r;

    if (ri == NULL || !EMBER_ROSTER_HAS(ri, foreach) ||
        json_array_size(changed) == 0)
        return;
    if ((r = ri->cached(ri, api->jid_node(user))) == NULL) {
        api->log(m, EMBER_LOG_DEBUG, "roster of %s not in memory: its "
                 "contacts are not told", api->jid_bare(user));
        return;
    }
    ri->foreach(ri, r, roster_item_cb, &bp);
}


static void
stored(int status, json_t *result, void *ud)
{
    blk_state_t *st = ud;

    if (status < 0)
        api->log(st->m, EMBER_LOG_WARN, "storing a blocklist: %s",
                 api->strerror(status));
}


static int
save(blk_state_t *st, const char *user)
{
    json_t *l = json_object_get(st->lists, user), *doc, *items;
    const char *k;
    json_t *v;
    int err;

    if (l == NULL || json_object_size(l) == 0)
        return api->keyval_set(st->store, user, NULL, stored, st);
    if ((items = json_array()) == NULL ||
        (doc = json_pack("{s:o}", "items", items)) == NULL)
        return EMBER_ENOMEM;
    json_object_foreach(l, k, v)
        json_array_append_new(items, json_string(k));
    err = api->keyval_set(st->store, user, doc, stored, st);
    json_decref(doc);
    return err;
}


static void
do_get(blk_state_t *st, ember_iq_t *iq, const ember_jid_t *from)
{
    ember_stanza_t *q = api->stanza_new("blocklist", NS_BLOCKING), *it;
    json_t *l = list_of(st, api->jid_node(from));
    ember_session_t *s = api->session_get(api->iq_origin(iq));
    blk_sess_t *bs;
    const char *k;
    json_t *v;

    if (q == NULL) {
        api->iq_fail(iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    if (l != NULL)
        json_object_foreach(l, k, v)
            if ((it = api->stanza_add_child(q, "item", NULL)) != NULL)
                api->stanza_set_attr(it, "jid", k);
    if (s != NULL && (bs = sess_state(st->m, s, 1)) != NULL)
        bs->requested = 1;
    api->iq_answer(iq, q);
}


/* The prepared JIDs of the items of c; NULL with *cond set when one is
 * invalid. */
static json_t *
items_of(const ember_stanza_t *c, ember_cond_t *cond)
{
    json_t *a = json_array();
    ember_stanza_t *it;
    ember_jid_t *j;
    const char *s;

    for (it = api->stanza_first(c); a != NULL && it != NULL;
         it = api->stanza_next(it)) {
        if (strcmp(api->stanza_name(it), "item") != 0)
            continue;
        if ((s = api->stanza_attr(it, "jid")) == NULL) {
            *cond = EMBER_COND_BAD_REQUEST;
            goto fail;
        }
        if ((j = api->jid_parse(s)) == NULL) {
            *cond = EMBER_COND_JID_MALFORMED;
            goto fail;
        }
        json_array_append_new(a, json_string(api->jid_full(j)));
        api->jid_free(j);
    }
    if (a == NULL)
        *cond = EMBER_COND_INTERNAL_SERVER_ERROR;
    return a;
fail:
    json_decref(a);
    return NULL;
}


static void
do_set(blk_state_t *st, ember_iq_t *iq, const ember_jid_t *from,
       const ember_stanza_t *c)
{
    const char *node = api->jid_node(from);
    int unblock = strcmp(api->stanza_name(c), "unblock") == 0;
    ember_cond_t cond = EMBER_COND_NONE;
    json_t *items, *l, *changed;
    ember_jid_t *who;
    const char *k;
    json_t *v;
    size_t i;

    if ((items = items_of(c, &cond)) == NULL) {
        api->iq_fail(iq, cond, NULL);
        return;
    }
    if (!unblock && json_array_size(items) == 0) {
        json_decref(items);
        api->iq_fail(iq, EMBER_COND_BAD_REQUEST, NULL);
        return;
    }
    if ((l = json_object_get(st->lists, node)) == NULL) {
        l = json_object();
        json_object_set_new(st->lists, node, l);
    }
    changed = json_array();
    if (l == NULL || changed == NULL) {
        json_decref(items);
        json_decref(changed);
        api->iq_fail(iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    if (unblock && json_array_size(items) == 0) {
        json_object_foreach(l, k, v)
            json_array_append_new(changed, json_string(k));
        json_object_clear(l);
    }
    for (i = 0; i < json_array_size(items); i++) {
        const char *jid = json_string_value(json_array_get(items, i));
        int had = json_object_get(l, jid) != NULL;

        if (unblock && had) {
            json_object_del(l, jid);
            json_array_append_new(changed, json_string(jid));
        } else if (!unblock && !had) {
            json_object_set_new(l, jid, json_true());
            json_array_append_new(changed, json_string(jid));
        }
    }
    if (json_array_size(changed) > 0 && save(st, node) < 0) {
        api->iq_fail(iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
    } else if ((who = api->jid_copy(from)) == NULL) {
        api->iq_fail(iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
    } else {
        /* The answer ends the handle, and `from` and `c` with it. */
        api->iq_answer(iq, NULL);
        push(st->m, who, unblock ? "unblock" : "block", items);
        tell_contacts(st->m, who, changed, unblock);
        api->jid_free(who);
    }
    json_decref(items);
    json_decref(changed);
}


/* The handle keeps the request for as long as the blocklists load. */
static void
blk_process(blk_state_t *st, ember_iq_t *iq)
{
    const ember_event_t *ev = api->iq_event(iq);
    ember_stanza_t *c = api->stanza_first(ev->stanza);

    if (ev->from == NULL || c == NULL || api->jid_node(ev->from) == NULL)
        api->iq_fail(iq, EMBER_COND_BAD_REQUEST, NULL);
    else if (is_type(ev->stanza, "get"))
        do_get(st, iq, ev->from);
    else
        do_set(st, iq, ev->from, c);
}


static int
blk_on_iq(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    blk_state_t *st = api->module_data(m);
    ember_iq_t *iq = api->iq_defer(m, ev);
    blk_wait_t *w;

    if (iq == NULL)
        return EMBER_ENOMEM;
    if (st->loading == 0) {
        blk_process(st, iq);
        return EMBER_HOOK_HANDLED;
    }
    if ((w = calloc(1, sizeof(*w))) == NULL) {
        api->iq_fail(iq, EMBER_COND_RESOURCE_CONSTRAINT, NULL);
        return EMBER_HOOK_HANDLED;
    }
    w->iq = iq;
    *st->waiting_tail = w;
    st->waiting_tail = &w->next;
    return EMBER_HOOK_HANDLED;
}


/* ---- start-up: every blocklist in memory ---- */

static void
load_step_done(blk_state_t *st)
{
    blk_wait_t *w;

    if (--st->loading > 0)
        return;
    while ((w = st->waiting) != NULL) {
        st->waiting = w->next;
        blk_process(st, w->iq);
        free(w);
    }
    st->waiting_tail = &st->waiting;
}


static void
read_free(blk_read_t *r)
{
    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        r->st->reads = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    free(r->user);
    free(r);
}


static void
list_read(int status, json_t *result, void *ud)
{
    blk_read_t *r = ud;
    blk_state_t *st = r->st;
    json_t *items = json_object_get(result, "items"), *l;
    size_t i;

    /* A request that came first already wrote the newer list. */
    if (status == 0 && json_object_get(st->lists, r->user) == NULL &&
        (l = json_object()) != NULL) {
        for (i = 0; i < json_array_size(items); i++)
            if (json_is_string(json_array_get(items, i)))
                json_object_set_new(l, json_string_value(
                                        json_array_get(items, i)),
                                    json_true());
        json_object_set_new(st->lists, r->user, l);
    } else if (status < 0 && status != EMBER_ENOENT) {
        api->log(st->m, EMBER_LOG_WARN, "reading the blocklist of %s: %s",
                 r->user, api->strerror(status));
    }
    read_free(r);
    load_step_done(st);
}


static void
users_read(int status, json_t *result, void *ud)
{
    blk_state_t *st = ud;
    blk_read_t *r;
    size_t i;

    for (i = 0; status == 0 && i < json_array_size(result); i++) {
        const char *u = json_string_value(json_array_get(result, i));

        if (u == NULL || (r = calloc(1, sizeof(*r))) == NULL)
            continue;
        r->st = st;
        if ((r->user = strdup(u)) == NULL) {
            free(r);
            continue;
        }
        r->next = st->reads;
        if (st->reads != NULL)
            st->reads->prev = r;
        st->reads = r;
        st->loading++;
        if (api->keyval_get(st->store, u, list_read, r) < 0) {
            st->loading--;
            read_free(r);
        }
    }
    if (status < 0 && status != EMBER_ENOENT)
        api->log(st->m, EMBER_LOG_WARN, "listing blocklists: %s",
                 api->strerror(status));
    load_step_done(st);
}


static int
blk_user_deleted(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    blk_state_t *st = api->module_data(m);

    if (ev->data != NULL)
        json_object_del(st->lists, ev->data);
    return EMBER_HOOK_PASS;
}


static void
blk_unload(ember_module_t *m)
{
    blk_state_t *st = api->module_data(m), **pp;
    blk_wait_t *w;

    if (st == NULL)
        return;
    for (pp = &states; *pp != NULL; pp = &(*pp)->next)
        if (*pp == st) {
            *pp = st->next;
            break;
        }
    while (st->reads != NULL)
        read_free(st->reads);
    /* The core answers their iqs as the module goes. */
    while ((w = st->waiting) != NULL) {
        st->waiting = w->next;
        free(w);
    }
    json_decref(st->lists);
    free(st);
    api->module_set_data(m, NULL);
}


static int
blk_load(ember_module_t *m, const ember_api_t *a)
{
    static const char *const kinds[] = { "message", "presence", "iq" };
    static const char *const targets[] = { "bare", "full", "host" };
    blk_state_t *st;
    char ev[64];
    size_t i, j;
    int err;

    api = a;
    if ((st = calloc(1, sizeof(*st))) == NULL ||
        (st->lists = json_object()) == NULL) {
        free(st);
        return EMBER_ENOMEM;
    }
    st->m = m;
    st->waiting_tail = &st->waiting;
    st->next = states;
    states = st;
    api->module_set_data(m, st);
    if ((st->store = api->store_open(m, "blocklist", EMBER_STORE_KEYVAL)) ==
        NULL)
        return EMBER_EIO;
    if ((err = api->session_slot_destructor(m, sess_dtor)) < 0 ||
        (err = api->disco_add_feature(m, NS_BLOCKING)) < 0 ||
        (err = api->hook(m, "iq-get/self/" NS_BLOCKING ":blocklist",
                         blk_on_iq, 0, NULL)) < 0 ||
        (err = api->hook(m, "iq-set/self/" NS_BLOCKING ":block", blk_on_iq,
                         0, NULL)) < 0 ||
        (err = api->hook(m, "iq-set/self/" NS_BLOCKING ":unblock",
                         blk_on_iq, 0, NULL)) < 0 ||
        (err = api->hook(m, "presence/self", blk_presence_self,
                         BLK_PRIORITY, NULL)) < 0 ||
        (err = api->hook(m, EMBER_EV_USER_DELETED, blk_user_deleted, 0,
                         NULL)) < 0)
        return err;
    for (i = 0; i < 3; i++)
        for (j = 0; j < 3; j++) {
            snprintf(ev, sizeof(ev), "pre-%s/%s", kinds[i], targets[j]);
            if ((err = api->hook(m, ev, blk_pre, BLK_PRIORITY, NULL)) < 0)
                return err;
            if (j == 2)
                continue;
            snprintf(ev, sizeof(ev), "%s/%s", kinds[i], targets[j]);
            if ((err = api->hook(m, ev, blk_routed, BLK_PRIORITY, NULL)) < 0)
                return err;
        }
    st->loading = 1;
    if ((err = api->store_users(st->store, users_read, st)) < 0)
        st->loading = 0;
    return 0;
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER_MIN(1),
    .name = "blocking",
    .version = "1.0",
    .description = "XEP-0191: Blocking Command",
    .requires = (const char *const[]){ "hooks", "disco", "storage",
                                       "sessions", NULL },
    .load = blk_load,
    .unload = blk_unload,
};
