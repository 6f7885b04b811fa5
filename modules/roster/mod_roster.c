/* mod_roster.c -- rosters (RFC 6121 section 2) kept in the MAP store
 * "roster" (user -> contact -> item) with an in-memory cache for users
 * that have sessions, published to other modules as the "roster"
 * interface (ember/roster.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <jansson.h>

#include "roster_int.h"

/* The key of the version record: no JID starts with '@'. */
#define VER_KEY "@ver"

const ember_api_t *api;

static const ember_option_t roster_options[] = {
    EMBER_OPT("versioning", EMBER_OPT_BOOL, roster_conf_t, versioning,
              "true", 0, 1, "XEP-0237 roster versioning"),
    EMBER_OPT("max-items", EMBER_OPT_INT, roster_conf_t, max_items, "10000",
              0, 1000000, "items per roster (0: no limit)"),
    EMBER_OPT("max-name-length", EMBER_OPT_INT, roster_conf_t, max_name,
              "1023", 1, 65535, "bytes of an item name or a group name"),
    EMBER_OPT("max-groups", EMBER_OPT_INT, roster_conf_t, max_groups, "64",
              1, 10000, "groups per item"),
    EMBER_OPT_END
};

struct rwait_s {
    rwait_t *next;
    ember_roster_cb cb;
    void *ud;
};

/* One change on its way to storage. */
typedef struct rop_s {
    struct rop_s *next, **pprev;
    roster_inst_t *ri;
    char *user, *jid;
    ritem_t *it;        /* the new item; taken by the roster when applied */
    ritem_t *snap;      /* what is pushed and announced */
    int removed, changed, pending, err;
    char ver[48];
    ember_roster_done_cb done;
    void *ud;
} rop_t;


/* ---- hash ---- */

static size_t
rhash_of(const char *s)
{
    size_t h = 2166136261u;

    while (*s != '\0')
        h = (h ^ (unsigned char) *s++) * 16777619u;
    return h;
}


rnode_t *
rhash_get(const rhash_t *h, const char *key)
{
    rnode_t *n;

    if (h->nb == 0)
        return NULL;
    for (n = h->b[rhash_of(key) & (h->nb - 1)]; n != NULL; n = n->next)
        if (strcmp(n->key, key) == 0)
            return n;
    return NULL;
}


static int
rhash_grow(rhash_t *h)
{
    size_t nb = h->nb == 0 ? 16 : h->nb * 2, i;
    rnode_t **b = calloc(nb, sizeof(*b)), *n, *next;

    if (b == NULL)
        return EMBER_ENOMEM;
    for (i = 0; i < h->nb; i++)
        for (n = h->b[i]; n != NULL; n = next) {
            next = n->next;
            n->next = b[rhash_of(n->key) & (nb - 1)];
            b[rhash_of(n->key) & (nb - 1)] = n;
        }
    free(h->b);
    h->b = b;
    h->nb = nb;
    return 0;
}


/* The key must not be there yet. */
int
rhash_put(rhash_t *h, rnode_t *node)
{
    size_t i;

    if (h->n >= h->nb && rhash_grow(h) < 0)
        return EMBER_ENOMEM;
    i = rhash_of(node->key) & (h->nb - 1);
    node->next = h->b[i];
    h->b[i] = node;
    h->n++;
    return 0;
}


rnode_t *
rhash_del(rhash_t *h, const char *key)
{
    rnode_t **pp, *n;

    if (h->nb == 0)
        return NULL;
    for (pp = &h->b[rhash_of(key) & (h->nb - 1)]; (n = *pp) != NULL;
         pp = &n->next)
        if (strcmp(n->key, key) == 0) {
            *pp = n->next;
            h->n--;
            return n;
        }
    return NULL;
}


/* ---- items ---- */

void
ritem_free(ritem_t *it)
{
    size_t i;

    if (it == NULL)
        return;
    for (i = 0; i < it->ngroups; i++)
        free(it->groups[i]);
    free(it->groups);
    free(it->jid);
    free(it->name);
    free(it->pending_stanza);
    free(it);
}


/* A copy of a caller's item; duplicate groups are dropped. */
ritem_t *
ritem_from(const ember_roster_item_t *in)
{
    ember_roster_item_t v;
    ritem_t *it;
    size_t i, j;

    memset(&v, 0, sizeof(v));
    memcpy(&v, in, in->size < sizeof(v) ? in->size : sizeof(v));
    if (v.jid == NULL || (it = calloc(1, sizeof(*it))) == NULL)
        return NULL;
    it->sub = v.subscription & EMBER_SUB_BOTH;
    it->ask = v.ask != 0;
    it->pending_in = v.pending_in != 0;
    it->approved = v.approved != 0;
    it->hidden = v.hidden != 0;
    if ((it->jid = strdup(v.jid)) == NULL ||
        (v.name != NULL && (it->name = strdup(v.name)) == NULL) ||
        (v.pending_stanza != NULL &&
         (it->pending_stanza = strdup(v.pending_stanza)) == NULL) ||
        (v.ngroups > 0 &&
         (it->groups = calloc(v.ngroups, sizeof(char *))) == NULL))
        goto fail;
    for (i = 0; i < v.ngroups; i++) {
        if (v.groups[i] == NULL)
            continue;
        for (j = 0; j < it->ngroups; j++)
            if (strcmp(it->groups[j], v.groups[i]) == 0)
                break;
        if (j < it->ngroups)
            continue;
        if ((it->groups[it->ngroups] = strdup(v.groups[i])) == NULL)
            goto fail;
        it->ngroups++;
    }
    return it;
fail:
    ritem_free(it);
    return NULL;
}


void
ritem_view(const ritem_t *it, ember_roster_item_t *out)
{
    uint32_t size = out->size;
    ember_roster_item_t v;

    memset(&v, 0, sizeof(v));
    v.size = sizeof(v);
    v.jid = it->jid;
    v.name = it->name;
    v.groups = (const char *const *) it->groups;
    v.ngroups = it->ngroups;
    v.subscription = it->sub;
    v.ask = it->ask;
    v.pending_in = it->pending_in;
    v.approved = it->approved;
    v.hidden = it->hidden;
    v.pending_stanza = it->pending_stanza;
    if (size == 0 || size > sizeof(v))
        size = sizeof(v);
    memcpy(out, &v, size);
    out->size = size;
}


ritem_t *
ritem_dup(const ritem_t *it)
{
    ember_roster_item_t v;

    v.size = sizeof(v);
    ritem_view(it, &v);
    return ritem_from(&v);
}


static int
str_differs(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a != b;
    return strcmp(a, b) != 0;
}


int
ritem_differs(const ritem_t *a, const ritem_t *b)
{
    size_t i;

    if (a->hidden != b->hidden || a->sub != b->sub || a->ask != b->ask ||
        a->approved != b->approved || str_differs(a->name, b->name) ||
        a->ngroups != b->ngroups)
        return 1;
    for (i = 0; i < a->ngroups; i++)
        if (strcmp(a->groups[i], b->groups[i]) != 0)
            return 1;
    return 0;
}


static const char *const sub_names[] = { "none", "to", "from", "both" };

static json_t *
ritem_json(const ritem_t *it)
{
    json_t *o = json_object(), *g;
    size_t i;

    if (o == NULL)
        return NULL;
    json_object_set_new(o, "sub", json_string(sub_names[it->sub]));
    if (it->name != NULL)
        json_object_set_new(o, "name", json_string(it->name));
    if (it->ngroups > 0 && (g = json_array()) != NULL) {
        for (i = 0; i < it->ngroups; i++)
            json_array_append_new(g, json_string(it->groups[i]));
        json_object_set_new(o, "groups", g);
    }
    if (it->ask)
        json_object_set_new(o, "ask", json_true());
    if (it->pending_in)
        json_object_set_new(o, "in", json_true());
    if (it->approved)
        json_object_set_new(o, "approved", json_true());
    if (it->hidden)
        json_object_set_new(o, "hidden", json_true());
    if (it->pending_stanza != NULL)
        json_object_set_new(o, "req", json_string(it->pending_stanza));
    return o;
}


static ritem_t *
ritem_parse(const char *jid, json_t *o)
{
    ritem_t *it;
    json_t *g, *v;
    const char *s;
    size_t i, n;

    if (!json_is_object(o) || (it = calloc(1, sizeof(*it))) == NULL)
        return NULL;
    if ((it->jid = strdup(jid)) == NULL)
        goto fail;
    s = json_string_value(json_object_get(o, "sub"));
    for (i = 0; s != NULL && i < 4; i++)
        if (strcmp(s, sub_names[i]) == 0)
            it->sub = (ember_sub_t) i;
    if ((s = json_string_value(json_object_get(o, "name"))) != NULL &&
        (it->name = strdup(s)) == NULL)
        goto fail;
    if ((s = json_string_value(json_object_get(o, "req"))) != NULL &&
        (it->pending_stanza = strdup(s)) == NULL)
        goto fail;
    it->ask = json_is_true(json_object_get(o, "ask"));
    it->pending_in = json_is_true(json_object_get(o, "in"));
    it->approved = json_is_true(json_object_get(o, "approved"));
    it->hidden = json_is_true(json_object_get(o, "hidden"));
    g = json_object_get(o, "groups");
    if ((n = json_array_size(g)) > 0) {
        if ((it->groups = calloc(n, sizeof(char *))) == NULL)
            goto fail;
        json_array_foreach(g, i, v) {
            if ((s = json_string_value(v)) == NULL)
                continue;
            if ((it->groups[it->ngroups] = strdup(s)) == NULL)
                goto fail;
            it->ngroups++;
        }
    }
    return it;
fail:
    ritem_free(it);
    return NULL;
}


/* ---- the cache ---- */

roster_inst_t *
roster_inst(ember_module_t *m)
{
    return api->module_data(m);
}


static void
count_session(ember_session_t *s, void *ud)
{
    void **pair = ud;

    if (s != pair[0])
        (*(int *) pair[1])++;
}


int
roster_session_count(roster_inst_t *ri, const char *user,
                     ember_session_t *except)
{
    int n = 0;
    void *pair[2] = { except, &n };

    api->user_sessions(ri->m, user, count_session, pair);
    return n;
}


static void
roster_set_verstr(roster_t *r)
{
    if (r->salt[0] == '\0')
        snprintf(r->verstr, sizeof(r->verstr), "0");
    else
        snprintf(r->verstr, sizeof(r->verstr), "%s-%llu", r->salt,
                 (unsigned long long) r->ver);
}


static void
roster_free(roster_t *r)
{
    rwait_t *w;
    size_t i;
    rnode_t *n, *next;

    while ((w = r->waiters) != NULL) {
        r->waiters = w->next;
        free(w);
    }
    for (i = 0; i < r->items.nb; i++)
        for (n = r->items.b[i]; n != NULL; n = next) {
            next = n->next;
            ritem_free((ritem_t *) n);
        }
    free(r->items.b);
    free(r->user);
    free(r);
}


/* Rosters stay in memory while their user has a session. */
static void
roster_maybe_evict(roster_inst_t *ri, roster_t *r, ember_session_t *closing)
{
    if (r->busy > 0 || !r->loaded || r->waiters != NULL ||
        roster_session_count(ri, r->user, closing) > 0)
        return;
    rhash_del(&ri->rosters, r->user);
    roster_free(r);
}


static void
roster_run_waiters(roster_t *r, int status)
{
    rwait_t *w;

    r->busy++;
    while ((w = r->waiters) != NULL) {
        r->waiters = w->next;
        w->cb(status, status == 0 ? (ember_roster_t *) r : NULL, w->ud);
        free(w);
    }
    r->wtail = &r->waiters;
    r->busy--;
}


static void
roster_loaded(int status, json_t *result, void *ud)
{
    roster_t *r = ud;
    roster_inst_t *ri = r->ri;
    const char *key, *s;
    json_t *v;
    ritem_t *it;

    if (status == EMBER_ENOENT)
        status = 0;
    if (status == 0 && json_is_object(result)) {
        json_object_foreach(result, key, v) {
            if (strcmp(key, VER_KEY) == 0) {
                if ((s = json_string_value(json_object_get(v, "salt"))) !=
                    NULL)
                    snprintf(r->salt, sizeof(r->salt), "%s", s);
                r->ver = (uint64_t) json_integer_value(
                    json_object_get(v, "n"));
                continue;
            }
            if ((it = ritem_parse(key, v)) == NULL) {
                api->log(ri->m, EMBER_LOG_WARN, "%s: unreadable roster item "
                         "%s skipped", r->user, key);
                continue;
            }
            if (rhash_put(&r->items, (rnode_t *) it) < 0) {
                ritem_free(it);
                status = EMBER_ENOMEM;
                break;
            }
            if (!it->hidden)
                r->visible++;
        }
    }
    roster_set_verstr(r);
    if (status < 0) {
        api->log(ri->m, EMBER_LOG_ERROR, "%s: roster not loaded: %s",
                 r->user, api->strerror(status));
        rhash_del(&ri->rosters, r->user);
        roster_run_waiters(r, status);
        roster_free(r);
        return;
    }
    r->loaded = 1;
    roster_run_waiters(r, 0);
    roster_maybe_evict(ri, r, NULL);
}


int
roster_load(roster_inst_t *ri, const char *user, ember_roster_cb cb,
            void *ud)
{
    roster_t *r = (roster_t *) rhash_get(&ri->rosters, user);
    rwait_t *w;
    int err;

    if (user == NULL || cb == NULL)
        return EMBER_EINVAL;
    if (r != NULL && r->loaded && r->waiters == NULL) {
        r->busy++;
        cb(0, (ember_roster_t *) r, ud);
        r->busy--;
        roster_maybe_evict(ri, r, NULL);
        return 0;
    }
    if ((w = calloc(1, sizeof(*w))) == NULL)
        return EMBER_ENOMEM;
    w->cb = cb;
    w->ud = ud;
    if (r == NULL) {
        if ((r = calloc(1, sizeof(*r))) == NULL ||
            (r->user = strdup(user)) == NULL) {
            free(r);
            free(w);
            return EMBER_ENOMEM;
        }
        r->ri = ri;
        r->wtail = &r->waiters;
        if ((err = rhash_put(&ri->rosters, (rnode_t *) r)) < 0 ||
            (err = api->map_all(ri->store, user, roster_loaded, r)) < 0) {
            rhash_del(&ri->rosters, user);
            free(r->user);
            free(r);
            free(w);
            return err;
        }
    }
    *r->wtail = w;
    r->wtail = &w->next;
    return 0;
}


/* ---- changes ---- */

static void
rop_free(rop_t *op)
{
    if (op->pprev != NULL) {
        *op->pprev = op->next;
        if (op->next != NULL)
            op->next->pprev = op->pprev;
    }
    ritem_free(op->it);
    ritem_free(op->snap);
    free(op->user);
    free(op->jid);
    free(op);
}


static void
rop_finish(rop_t *op, int status)
{
    roster_inst_t *ri = op->ri;
    ember_roster_item_t view;
    ember_roster_event_t ev;

    if (status == 0 && op->changed)
        roster_push(ri, op->user, op->removed ? NULL : op->snap, op->jid,
                    op->ver);
    if (status == 0 && op->snap != NULL) {
        view.size = sizeof(view);
        ritem_view(op->snap, &view);
        memset(&ev, 0, sizeof(ev));
        ev.size = sizeof(ev);
        ev.user = op->user;
        ev.item = &view;
        ev.removed = op->removed;
        api->fire(ri->m, EMBER_ROSTER_EV_CHANGED, NULL, &ev);
    }
    if (op->done != NULL)
        op->done(status, op->ud);
    rop_free(op);
}


static void
rop_stored(int status, json_t *result, void *ud)
{
    rop_t *op = ud;

    if (status < 0 && op->err == 0)
        op->err = status;
    if (--op->pending > 0)
        return;
    if (op->err < 0)
        api->log(op->ri->m, EMBER_LOG_ERROR, "%s: roster item %s not "
                 "stored: %s", op->user, op->jid, api->strerror(op->err));
    rop_finish(op, op->err);
}


static void
roster_new_salt(roster_t *r)
{
    unsigned char b[8];
    size_t i;

    if (getrandom(b, sizeof(b), 0) != (ssize_t) sizeof(b))
        for (i = 0; i < sizeof(b); i++)
            b[i] = (unsigned char) rand();
    for (i = 0; i < sizeof(b); i++)
        snprintf(r->salt + 2 * i, 3, "%02x", b[i]);
    r->ver = 0;
}


static void
rop_apply(int status, ember_roster_t *roster, void *ud)
{
    rop_t *op = ud;
    roster_t *r = (roster_t *) roster;
    roster_inst_t *ri = op->ri;
    ritem_t *old;
    json_t *doc = NULL, *ver = NULL;
    int vis_old, vis_new, err;

    if (status < 0) {
        rop_finish(op, status);
        return;
    }
    old = (ritem_t *) rhash_get(&r->items, op->jid);
    if (op->it == NULL && old == NULL) {
        rop_finish(op, EMBER_ENOENT);
        return;
    }
    if (op->it != NULL && (op->snap = ritem_dup(op->it)) == NULL) {
        rop_finish(op, EMBER_ENOMEM);
        return;
    }
    vis_old = old != NULL && !old->hidden;
    vis_new = op->it != NULL && !op->it->hidden;
    op->changed = vis_old != vis_new ||
                  (vis_old && vis_new && ritem_differs(old, op->it));
    if (op->it != NULL && (doc = ritem_json(op->it)) == NULL) {
        rop_finish(op, EMBER_ENOMEM);
        return;
    }
    if (old != NULL) {
        rhash_del(&r->items, op->jid);
        r->visible -= vis_old;
        if (op->it == NULL)
            op->snap = old;
        else
            ritem_free(old);
    }
    if (op->it != NULL) {
        if (rhash_put(&r->items, (rnode_t *) op->it) < 0) {
            json_decref(doc);
            rop_finish(op, EMBER_ENOMEM);
            return;
        }
        op->it = NULL;
        r->visible += vis_new;
    }
    if (op->changed) {
        if (r->salt[0] == '\0')
            roster_new_salt(r);
        r->ver++;
        roster_set_verstr(r);
        ver = json_pack("{s:s, s:I}", "salt", r->salt, "n",
                        (json_int_t) r->ver);
    }
    snprintf(op->ver, sizeof(op->ver), "%s", r->verstr);
    op->pending = 1 + (ver != NULL);
    if ((err = api->map_set(ri->store, op->user, op->jid, doc, rop_stored,
                            op)) < 0) {
        op->pending = 0;
        json_decref(doc);
        json_decref(ver);
        rop_finish(op, err);
        return;
    }
    json_decref(doc);
    op->next = ri->ops;
    if (ri->ops != NULL)
        ri->ops->pprev = &op->next;
    ri->ops = op;
    op->pprev = &ri->ops;
    if (ver != NULL) {
        if (api->map_set(ri->store, op->user, VER_KEY, ver, rop_stored,
                         op) < 0) {
            op->pending--;
            op->err = EMBER_EIO;
        }
        json_decref(ver);
    }
}


int
roster_apply(roster_inst_t *ri, const char *user, const char *jid,
             ritem_t *it, ember_roster_done_cb done, void *ud)
{
    rop_t *op = calloc(1, sizeof(*op));
    int err;

    if (op == NULL || (op->user = strdup(user)) == NULL ||
        (op->jid = strdup(jid)) == NULL) {
        if (op != NULL)
            free(op->user);
        free(op);
        ritem_free(it);
        return EMBER_ENOMEM;
    }
    op->ri = ri;
    op->it = it;
    op->removed = it == NULL;
    op->done = done;
    op->ud = ud;
    if ((err = roster_load(ri, user, rop_apply, op)) < 0) {
        op->done = NULL;
        rop_free(op);
    }
    return err;
}


/* ---- the interface ---- */

static int
if_load(const ember_roster_iface_t *self, const char *user,
        ember_roster_cb cb, void *ud)
{
    return roster_load((roster_inst_t *) self, user, cb, ud);
}


static ember_roster_t *
if_cached(const ember_roster_iface_t *self, const char *user)
{
    roster_t *r;

    if (user == NULL)
        return NULL;
    r = (roster_t *) rhash_get(&((roster_inst_t *) self)->rosters, user);
    return r != NULL && r->loaded ? (ember_roster_t *) r : NULL;
}


static int
if_item(const ember_roster_iface_t *self, ember_roster_t *roster,
        const char *contact, ember_roster_item_t *out)
{
    ritem_t *it;

    if (roster == NULL || contact == NULL || out == NULL)
        return EMBER_EINVAL;
    it = (ritem_t *) rhash_get(&((roster_t *) roster)->items, contact);
    if (it == NULL)
        return EMBER_ENOENT;
    ritem_view(it, out);
    return 0;
}


static size_t
if_foreach(const ember_roster_iface_t *self, ember_roster_t *roster,
           ember_roster_item_cb cb, void *ud)
{
    roster_t *r = (roster_t *) roster;
    ember_roster_item_t view;
    size_t i, n = 0;
    rnode_t *node;

    if (r == NULL || cb == NULL)
        return 0;
    for (i = 0; i < r->items.nb; i++)
        for (node = r->items.b[i]; node != NULL; node = node->next) {
            view.size = sizeof(view);
            ritem_view((ritem_t *) node, &view);
            n++;
            if (cb(&view, ud) != 0)
                return n;
        }
    return n;
}


static const char *
if_version(const ember_roster_iface_t *self, ember_roster_t *roster)
{
    return roster == NULL ? NULL : ((roster_t *) roster)->verstr;
}


static int
if_item_set(const ember_roster_iface_t *self, const char *user,
            const ember_roster_item_t *item, ember_roster_done_cb done,
            void *ud)
{
    roster_inst_t *ri = (roster_inst_t *) self;
    ember_jid_t *j;
    ritem_t *it;
    char *jid;

    if (user == NULL || item == NULL || item->size < sizeof(uint32_t) ||
        item->jid == NULL || (j = api->jid_parse(item->jid)) == NULL)
        return EMBER_EINVAL;
    if ((it = ritem_from(item)) == NULL) {
        api->jid_free(j);
        return EMBER_ENOMEM;
    }
    /* Items are keyed by the prepared form. */
    if ((jid = strdup(api->jid_full(j))) == NULL) {
        api->jid_free(j);
        ritem_free(it);
        return EMBER_ENOMEM;
    }
    api->jid_free(j);
    free(it->jid);
    it->jid = jid;
    return roster_apply(ri, user, jid, it, done, ud);
}


static int
if_item_remove(const ember_roster_iface_t *self, const char *user,
               const char *contact, ember_roster_done_cb done, void *ud)
{
    if (user == NULL || contact == NULL)
        return EMBER_EINVAL;
    return roster_apply((roster_inst_t *) self, user, contact, NULL, done,
                        ud);
}


static int
if_interested(const ember_roster_iface_t *self, const char *user,
              const char *resource)
{
    return roster_interested((roster_inst_t *) self, user, resource);
}


static void
if_cancel(const ember_roster_iface_t *self, ember_roster_cb cb,
          ember_roster_done_cb done)
{
    roster_inst_t *ri = (roster_inst_t *) self;
    rwait_t **pw, *w;
    roster_t *r;
    rop_t *op;
    size_t i;

    for (i = 0; cb != NULL && i < ri->rosters.nb; i++)
        for (r = (roster_t *) ri->rosters.b[i]; r != NULL;
             r = r->next) {
            for (pw = &r->waiters; (w = *pw) != NULL;) {
                if (w->cb == cb) {
                    *pw = w->next;
                    free(w);
                } else {
                    pw = &w->next;
                }
            }
            r->wtail = pw;
        }
    for (op = ri->ops; done != NULL && op != NULL; op = op->next)
        if (op->done == done)
            op->done = NULL;
}


/* ---- lifecycle ---- */

static int
roster_on_closed(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    roster_inst_t *ri = roster_inst(m);
    const ember_jid_t *j = api->session_jid(ev->origin);
    roster_t *r;

    if (j == NULL || api->jid_node(j) == NULL)
        return EMBER_HOOK_PASS;
    r = (roster_t *) rhash_get(&ri->rosters, api->jid_node(j));
    if (r != NULL)
        roster_maybe_evict(ri, r, ev->origin);
    return EMBER_HOOK_PASS;
}


/* The core purges the user's stores; forget the cached copy too. */
static int
roster_on_user_deleted(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    roster_inst_t *ri = roster_inst(m);
    roster_t *r;

    if (ev->data == NULL)
        return EMBER_HOOK_PASS;
    r = (roster_t *) rhash_get(&ri->rosters, ev->data);
    if (r != NULL && r->loaded && r->busy == 0 && r->waiters == NULL) {
        rhash_del(&ri->rosters, r->user);
        roster_free(r);
    }
    return EMBER_HOOK_PASS;
}


static void
roster_unload(ember_module_t *m)
{
    roster_inst_t *ri = roster_inst(m);
    size_t i;
    rnode_t *n, *next;

    if (ri == NULL)
        return;
    while (ri->ops != NULL)
        rop_free(ri->ops);
    for (i = 0; i < ri->rosters.nb; i++)
        for (n = ri->rosters.b[i]; n != NULL; n = next) {
            next = n->next;
            roster_free((roster_t *) n);
        }
    free(ri->rosters.b);
    free(ri);
    api->module_set_data(m, NULL);
}


static int
roster_load_module(ember_module_t *m, const ember_api_t *a)
{
    roster_inst_t *ri;
    int err;

    api = a;
    if ((ri = calloc(1, sizeof(*ri))) == NULL)
        return EMBER_ENOMEM;
    api->module_set_data(m, ri);
    ri->m = m;
    ri->iface.size = sizeof(ri->iface);
    ri->iface.load = if_load;
    ri->iface.cached = if_cached;
    ri->iface.item = if_item;
    ri->iface.foreach = if_foreach;
    ri->iface.version = if_version;
    ri->iface.item_set = if_item_set;
    ri->iface.item_remove = if_item_remove;
    ri->iface.interested = if_interested;
    ri->iface.cancel = if_cancel;
    if ((ri->store = api->store_open(m, "roster", EMBER_STORE_MAP)) == NULL)
        return EMBER_EIO;
    if ((err = api->hook(m, EMBER_EV_SESSION_CLOSED, roster_on_closed, -100,
                         NULL)) < 0 ||
        (err = api->hook(m, EMBER_EV_USER_DELETED, roster_on_user_deleted, 0,
                         NULL)) < 0 ||
        (err = roster_iq_init(ri)) < 0 ||
        (err = roster_cmd_init(ri)) < 0 ||
        (err = api->iface_provide(m, EMBER_ROSTER_IFACE, &ri->iface)) < 0)
        return err;
    return 0;
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER_MIN(1),
    .name = "roster",
    .version = "1.0",
    .description = "Rosters (RFC 6121) with versioning (XEP-0237)",
    .requires = (const char *const[]){ "hooks", "stanzas", "storage",
                                       "sessions", "commands", "ifaces",
                                       NULL },
    .conf_size = sizeof(roster_conf_t),
    .options = roster_options,
    .load = roster_load_module,
    .unload = roster_unload,
};
