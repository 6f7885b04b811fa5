/* groups_push.c -- a change to the groups, as the online users concerned
 * see it: what each was shown before and after, roster pushes through
 * mod_roster (the "roster-shared-changed" event) and presence both ways
 * for contacts that come and go. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groups.h"

/* One contact as a user was shown it: the group names joined by '\n',
 * "" when related only. */
typedef struct {
    char *contact, *sig;
} gsnap_t;

typedef struct {
    char *user, *bare;
    gsnap_t *s;
    size_t n, cap;
} gviewer_t;

struct gchange_s {
    groups_t *gs;
    gviewer_t *v;
    size_t n, cap;
    char *focus;
};


static void
snaps_free(gviewer_t *v)
{
    size_t i;

    for (i = 0; i < v->n; i++) {
        free(v->s[i].contact);
        free(v->s[i].sig);
    }
    free(v->s);
    v->s = NULL;
    v->n = v->cap = 0;
}


static int
snap_one(const char *contact, const char *const *names, size_t n, void *ud)
{
    gviewer_t *v = ud;
    gsnap_t *b;
    size_t i, len = 1, cap;
    char *sig;

    if (v->n >= v->cap) {
        cap = v->cap < 16 ? 16 : v->cap * 2;
        if ((b = realloc(v->s, cap * sizeof(*b))) == NULL)
            return 1;
        v->s = b;
        v->cap = cap;
    }
    for (i = 0; i < n; i++)
        len += strlen(names[i]) + 1;
    if ((sig = malloc(len)) == NULL)
        return 1;
    sig[0] = '\0';
    for (i = 0; i < n; i++) {
        if (i > 0)
            strcat(sig, "\n");
        strcat(sig, names[i]);
    }
    if ((v->s[v->n].contact = strdup(contact)) == NULL) {
        free(sig);
        return 1;
    }
    v->s[v->n++].sig = sig;
    return 0;
}


/* What `bare` is shown now: everything, or its relation to the focus
 * (a member added or removed changes nothing else for the others). */
static void
gchange_snap(gchange_t *c, const char *bare, gviewer_t *v)
{
    const char *const *names;
    size_t n;

    if (c->focus == NULL || strcmp(bare, c->focus) == 0)
        groups_related(c->gs, bare, snap_one, v);
    else if (groups_lookup(c->gs, bare, c->focus, &names, &n))
        snap_one(c->focus, names, n, v);
}


static void
count_session(ember_session_t *s, void *ud)
{
    (*(int *) ud)++;
}


/* A local account with a session now: only they see pushes at once. */
static const char *
online_node(groups_t *gs, const char *bare, char *node, size_t len)
{
    const char *at = strchr(bare, '@');
    int n = 0;

    if (at == NULL || (size_t) (at - bare) >= len ||
        strchr(at, '/') != NULL ||
        strcmp(at + 1, api->module_host(gs->m)) != 0)
        return NULL;
    memcpy(node, bare, (size_t) (at - bare));
    node[at - bare] = '\0';
    api->user_sessions(gs->m, node, count_session, &n);
    return n > 0 ? node : NULL;
}


static void
gchange_user(gchange_t *c, const char *bare)
{
    gviewer_t *b;
    size_t i, cap;
    char node[1024];

    if (c == NULL || online_node(c->gs, bare, node, sizeof(node)) == NULL)
        return;
    for (i = 0; i < c->n; i++)
        if (strcmp(c->v[i].bare, bare) == 0)
            return;
    if (c->n >= c->cap) {
        cap = c->cap < 16 ? 16 : c->cap * 2;
        if ((b = realloc(c->v, cap * sizeof(*b))) == NULL)
            return;
        c->v = b;
        c->cap = cap;
    }
    memset(&c->v[c->n], 0, sizeof(c->v[c->n]));
    if ((c->v[c->n].user = strdup(node)) == NULL ||
        (c->v[c->n].bare = strdup(bare)) == NULL) {
        free(c->v[c->n].user);
        return;
    }
    gchange_snap(c, bare, &c->v[c->n]);
    c->n++;
}


static void
gchange_members(gchange_t *c, const group_t *g)
{
    size_t i;

    for (i = 0; g != NULL && i < g->nmembers; i++)
        gchange_user(c, g->members[i]);
}


void
gchange_also(gchange_t *c, const group_t *g)
{
    gchange_members(c, g);
}


gchange_t *
gchange_begin(groups_t *gs, const group_t *g, const char *extra,
              const char *focus)
{
    gchange_t *c = calloc(1, sizeof(*c));
    size_t i, j;

    if (c == NULL)
        return NULL;
    c->gs = gs;
    if (focus != NULL && (c->focus = strdup(focus)) == NULL) {
        free(c);
        return NULL;
    }
    if (extra != NULL)
        gchange_user(c, extra);
    if (g == NULL)
        return c;
    /* Its members, whoever sees them, and whoever they see. */
    gchange_members(c, g);
    for (i = 0; i < g->nshow; i++)
        gchange_members(c, group_find(gs, g->show[i]));
    for (i = 0; i < gs->n; i++)
        for (j = 0; j < gs->g[i]->nshow; j++)
            if (strcmp(gs->g[i]->show[j], g->id) == 0)
                gchange_members(c, gs->g[i]);
    return c;
}


/* ---- presence ---- */

typedef struct {
    groups_t *gs;
    const char *from_bare, *to;
    ember_session_t *dest;   /* deliver here, else route */
} gunav_t;


static void
unavailable_from(ember_session_t *s, void *ud)
{
    gunav_t *u = ud;
    const ember_jid_t *j = api->session_jid(s);
    ember_stanza_t *st;

    if (j == NULL || (st = api->stanza_new("presence", NULL)) == NULL)
        return;
    api->stanza_set_attr(st, "type", "unavailable");
    api->stanza_set_attr(st, "from", api->jid_full(j));
    api->stanza_set_attr(st, "to", u->to);
    api->route(u->gs->m, st);
}


static void
route_simple(groups_t *gs, const char *from, const char *to,
             const char *type)
{
    ember_stanza_t *st = api->stanza_new("presence", NULL);

    if (st == NULL)
        return;
    api->stanza_set_attr(st, "from", from);
    api->stanza_set_attr(st, "to", to);
    if (type != NULL)
        api->stanza_set_attr(st, "type", type);
    api->route(gs->m, st);
}


/* The bits of the user's subscription to contact left once the groups
 * no longer relate them (his own item's, merged by mod_roster). */
static int
sub_left(groups_t *gs, const char *user, const char *contact)
{
    const ember_roster_iface_t *ri = api->iface_get(gs->m,
                                                    EMBER_ROSTER_IFACE);
    ember_roster_t *r;
    ember_roster_item_t it;

    if (ri == NULL || (r = ri->cached(ri, user)) == NULL)
        return 0;
    it.size = sizeof(it);
    if (ri->item(ri, r, contact, &it) < 0 || it.hidden)
        return 0;
    return it.subscription;
}


static int
is_local_account(groups_t *gs, const char *bare)
{
    const char *at = strchr(bare, '@');

    return at != NULL && strcmp(at + 1, api->module_host(gs->m)) == 0;
}


/*
 * Newly related: the user asks for the contact's presence (a probe from
 * his bare JID, answered to all his available resources as for a `both`
 * subscription).  A local contact online does the same from his side; a
 * contact elsewhere is sent the user's presence by a probe in his name.
 */
static void
presence_start(groups_t *gs, gviewer_t *v, const char *contact)
{
    route_simple(gs, v->bare, contact, "probe");
    if (!is_local_account(gs, contact))
        route_simple(gs, contact, v->bare, "probe");
}


/* No longer related: unavailable presence both ways, unless a
 * subscription of their own still carries it. */
static void
presence_stop(groups_t *gs, gviewer_t *v, const char *contact)
{
    int left = sub_left(gs, v->user, contact);
    gunav_t u;
    char node[1024];
    const char *at = strchr(contact, '@');

    memset(&u, 0, sizeof(u));
    u.gs = gs;
    if (!(left & EMBER_SUB_TO)) {
        u.to = v->bare;
        if (is_local_account(gs, contact) && at != NULL &&
            (size_t) (at - contact) < sizeof(node)) {
            memcpy(node, contact, (size_t) (at - contact));
            node[at - contact] = '\0';
            api->user_sessions(gs->m, node, unavailable_from, &u);
        } else {
            route_simple(gs, contact, v->bare, "unavailable");
        }
    }
    if (!(left & EMBER_SUB_FROM) && !is_local_account(gs, contact)) {
        u.to = contact;
        api->user_sessions(gs->m, v->user, unavailable_from, &u);
    }
}


/* ---- the end of a change ---- */

static void
fire_changed(groups_t *gs, const char *user, const char *contact)
{
    ember_roster_shared_event_t ev;

    memset(&ev, 0, sizeof(ev));
    ev.size = sizeof(ev);
    ev.user = user;
    ev.contact = contact;
    api->fire(gs->m, EMBER_ROSTER_EV_SHARED, NULL, &ev);
}


static void
viewer_diff(groups_t *gs, gviewer_t *v, gviewer_t *now)
{
    size_t i = 0, j = 0;
    int c;

    while (i < v->n || j < now->n) {
        if (i == v->n)
            c = 1;
        else if (j == now->n)
            c = -1;
        else
            c = strcmp(v->s[i].contact, now->s[j].contact);
        if (c < 0) {
            if (v->s[i].sig[0] != '\0')
                fire_changed(gs, v->user, v->s[i].contact);
            presence_stop(gs, v, v->s[i].contact);
            i++;
        } else if (c > 0) {
            if (now->s[j].sig[0] != '\0')
                fire_changed(gs, v->user, now->s[j].contact);
            presence_start(gs, v, now->s[j].contact);
            j++;
        } else {
            if (strcmp(v->s[i].sig, now->s[j].sig) != 0)
                fire_changed(gs, v->user, v->s[i].contact);
            i++;
            j++;
        }
    }
}


void
gchange_end(gchange_t *c)
{
    gviewer_t now;
    size_t i;

    if (c == NULL)
        return;
    for (i = 0; i < c->n; i++) {
        memset(&now, 0, sizeof(now));
        gchange_snap(c, c->v[i].bare, &now);
        viewer_diff(c->gs, &c->v[i], &now);
        snaps_free(&now);
    }
    for (i = 0; i < c->n; i++) {
        snaps_free(&c->v[i]);
        free(c->v[i].user);
        free(c->v[i].bare);
    }
    free(c->v);
    free(c->focus);
    free(c);
}


/* ---- storage ---- */

static void
stored(int status, json_t *result, void *ud)
{
    groups_t *gs = ud;

    if (status < 0)
        api->log(gs->m, EMBER_LOG_ERROR, "a group was not stored: %s",
                 api->strerror(status));
}


int
groups_store(groups_t *gs, const char *id, const group_t *g,
             ember_store_cb cb, void *ud)
{
    json_t *doc = g != NULL ? group_json(g) : NULL;
    int err;

    if (g != NULL && doc == NULL)
        return EMBER_ENOMEM;
    if (cb == NULL) {
        cb = stored;
        ud = gs;
    }
    err = api->map_set(gs->st, NULL, id, doc, cb, ud);
    json_decref(doc);
    if (err < 0)
        api->log(gs->m, EMBER_LOG_ERROR, "group %s not stored: %s", id,
                 api->strerror(err));
    return err;
}
