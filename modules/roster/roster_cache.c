/* roster_cache.c -- the rosters of users with sessions kept in memory,
 * loaded from and stored to the MAP store "roster" (user -> contact ->
 * item), and the "roster" interface (ember/roster.h) over them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "roster.h"

/* The key of the version record: no JID starts with '@'. */
#define VER_KEY "@ver"

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
    int removed, changed, pending, err, via_iface;
    ember_roster_done_cb done;
    void *ud;
} rop_t;



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


static int
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


void
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
    rscratch_free(&r->vitem);
    rscratch_free(&r->veach);
    free(r->user);
    free(r);
}


/* Rosters stay in memory while their user has a session. */
void
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


void
roster_ops_free(roster_inst_t *ri)
{
    while (ri->ops != NULL)
        rop_free(ri->ops);
}


int
roster_full(roster_inst_t *ri, const roster_t *r, const ritem_t *old)
{
    roster_conf_t *conf = api->module_conf(ri->m);

    return (old == NULL || old->hidden) && conf->max_items > 0 &&
           r->visible >= (size_t) conf->max_items;
}


void
roster_removing(roster_inst_t *ri, const char *user, const ritem_t *old,
                ember_session_t *origin)
{
    ember_roster_item_t view;
    ember_roster_event_t ev;

    view.size = sizeof(view);
    ritem_view(old, &view);
    memset(&ev, 0, sizeof(ev));
    ev.size = sizeof(ev);
    ev.user = user;
    ev.item = &view;
    ev.origin = origin;
    api->fire(ri->m, EMBER_ROSTER_EV_REMOVING, NULL, &ev);
}


static void
rop_finish(rop_t *op, int status)
{
    roster_inst_t *ri = op->ri;
    roster_t *r = (roster_t *) rhash_get(&ri->rosters, op->user);
    ember_roster_item_t view;
    ember_roster_event_t ev;

    /* No roster in memory: no session to push to. */
    if (status == 0 && op->changed && r != NULL && r->loaded)
        roster_push_contact(ri, r, op->jid);
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


static int
has_name(char *const *names, size_t n, const char *name)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return 1;
    return 0;
}


/*
 * A contact of shared groups: what the groups give is not stored with the
 * user's own item.  Group names of the groups the user did not give
 * himself are dropped; a write through the interface (mod_presence acting
 * on the merged item, subscription both) only takes away subscription
 * bits from the stored ones.  Returns 1 when nothing is left to write.
 */
static int
rop_shared_adjust(roster_inst_t *ri, roster_t *r, const ritem_t *old,
                  rop_t *op)
{
    const ember_roster_shared_iface_t *si = roster_shared(ri);
    const char *const *sg = NULL;
    ritem_t *it = op->it;
    size_t sn = 0, i, j, k;
    int shared;

    if (it == NULL || si == NULL ||
        !si->lookup(si, r->user, op->jid, &sg, &sn))
        return 0;
    for (i = k = 0; i < it->ngroups; i++) {
        for (shared = 0, j = 0; j < sn && !shared; j++)
            shared = strcmp(sg[j], it->groups[i]) == 0;
        if (shared && (old == NULL ||
                       !has_name(old->groups, old->ngroups, it->groups[i])))
            free(it->groups[i]);
        else
            it->groups[k++] = it->groups[i];
    }
    it->ngroups = k;
    if (!op->via_iface)
        return 0;
    it->sub &= old != NULL ? old->sub : EMBER_SUB_NONE;
    it->hidden = old != NULL ? old->hidden : 1;
    if (it->hidden && it->sub == EMBER_SUB_NONE && !it->ask &&
        !it->pending_in && !it->approved) {
        ritem_free(op->it);
        op->it = NULL;
        op->removed = 1;
        return old == NULL;
    }
    return 0;
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
    if (rop_shared_adjust(ri, r, old, op)) {
        rop_finish(op, 0);
        return;
    }
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
             ritem_t *it, int via_iface, ember_roster_done_cb done,
             void *ud)
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
    op->via_iface = via_iface;
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
    roster_t *r = (roster_t *) roster;

    if (r == NULL || contact == NULL || out == NULL)
        return EMBER_EINVAL;
    return roster_view((roster_inst_t *) self, r, contact, &r->vitem, out,
                       NULL);
}


typedef struct {
    ember_roster_item_cb cb;
    void *ud;
} ifwalk_t;


static int
if_walk_one(const ember_roster_item_t *v, int client, void *ud)
{
    ifwalk_t *w = ud;

    return w->cb(v, w->ud);
}


static size_t
if_foreach(const ember_roster_iface_t *self, ember_roster_t *roster,
           ember_roster_item_cb cb, void *ud)
{
    ifwalk_t w = { cb, ud };

    if (roster == NULL || cb == NULL)
        return 0;
    return roster_walk((roster_inst_t *) self, (roster_t *) roster, 0,
                       if_walk_one, &w);
}


static const char *
if_version(const ember_roster_iface_t *self, ember_roster_t *roster)
{
    return roster == NULL ? NULL
                          : roster_version((roster_inst_t *) self,
                                           (roster_t *) roster);
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
    it = ritem_from(item);
    /* Items are keyed by the prepared form. */
    jid = strdup(api->jid_full(j));
    api->jid_free(j);
    if (it == NULL || jid == NULL) {
        ritem_free(it);
        free(jid);
        return EMBER_ENOMEM;
    }
    free(it->jid);
    it->jid = jid;
    return roster_apply(ri, user, jid, it, 1, done, ud);
}


static int
if_item_remove(const ember_roster_iface_t *self, const char *user,
               const char *contact, ember_roster_done_cb done, void *ud)
{
    if (user == NULL || contact == NULL)
        return EMBER_EINVAL;
    return roster_apply((roster_inst_t *) self, user, contact, NULL, 1,
                        done, ud);
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


void
roster_iface_init(roster_inst_t *ri)
{
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
}
