/* roster_shared.c -- contacts of the "roster-shared" interface (shared
 * roster groups, ember/roster.h) merged into the rosters mod_roster shows:
 * the merged view of one contact, the client's roster and its version,
 * and the pushes when what a user is shown changes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roster.h"


const ember_roster_shared_iface_t *
roster_shared(roster_inst_t *ri)
{
    const ember_roster_shared_iface_t *si =
        api->iface_get(ri->m, EMBER_ROSTER_SHARED_IFACE);

    if (si == NULL || !EMBER_ROSTER_SHARED_HAS(si, version))
        return NULL;
    return si;
}


static int
rscratch_fit(rscratch_t *sc, size_t n)
{
    const char **g;
    size_t cap;

    if (n <= sc->cap)
        return 0;
    cap = n < 8 ? 8 : n * 2;
    if ((g = realloc(sc->g, cap * sizeof(*g))) == NULL)
        return EMBER_ENOMEM;
    sc->g = g;
    sc->cap = cap;
    return 0;
}


void
rscratch_free(rscratch_t *sc)
{
    free(sc->g);
    sc->g = NULL;
    sc->cap = 0;
}


/* Copy v into the caller's struct, as much of it as the caller knows. */
static void
view_out(const ember_roster_item_t *v, ember_roster_item_t *out)
{
    uint32_t size = out->size;

    if (size == 0 || size > sizeof(*v))
        size = sizeof(*v);
    memcpy(out, v, size);
    out->size = size;
}


/* The merged item of a related contact: the user's own name and groups
 * for it (p, may be NULL) with the shared groups added, subscription
 * both (a shared contact is never pending). */
static int
view_merged(const ritem_t *p, const char *contact, const char *const *sg,
            size_t sn, rscratch_t *sc, ember_roster_item_t *out)
{
    ember_roster_item_t v;
    size_t n = 0, i, j;

    if (rscratch_fit(sc, (p != NULL ? p->ngroups : 0) + sn) < 0)
        return EMBER_ENOMEM;
    for (i = 0; p != NULL && i < p->ngroups; i++)
        sc->g[n++] = p->groups[i];
    for (i = 0; i < sn; i++) {
        for (j = 0; j < n && strcmp(sc->g[j], sg[i]) != 0; j++)
            ;
        if (j == n)
            sc->g[n++] = sg[i];
    }
    memset(&v, 0, sizeof(v));
    v.size = sizeof(v);
    v.jid = p != NULL ? p->jid : contact;
    v.name = p != NULL ? p->name : NULL;
    v.groups = sc->g;
    v.ngroups = n;
    v.subscription = EMBER_SUB_BOTH;
    view_out(&v, out);
    return 0;
}


int
roster_view(roster_inst_t *ri, roster_t *r, const char *contact,
            rscratch_t *sc, ember_roster_item_t *out, int *client)
{
    const ember_roster_shared_iface_t *si = roster_shared(ri);
    const ritem_t *p = (const ritem_t *) rhash_get(&r->items, contact);
    const char *const *sg = NULL;
    size_t sn = 0;
    int err;

    if (si == NULL || !si->lookup(si, r->user, contact, &sg, &sn)) {
        if (p == NULL)
            return EMBER_ENOENT;
        ritem_view(p, out);
        if (client != NULL)
            *client = !p->hidden;
        return 0;
    }
    if ((err = view_merged(p, contact, sg, sn, sc, out)) < 0)
        return err;
    if (client != NULL)
        *client = sn > 0 || (p != NULL && !p->hidden);
    return 0;
}


int
roster_is_shared(roster_inst_t *ri, const char *user, const char *contact)
{
    const ember_roster_shared_iface_t *si = roster_shared(ri);
    const char *const *sg = NULL;
    size_t sn = 0;

    return si != NULL && si->lookup(si, user, contact, &sg, &sn) &&
           sn > 0;
}


/* ---- walks ---- */

typedef struct {
    roster_t *r;
    rscratch_t *sc;
    int clients_only;
    roster_view_cb cb;
    void *ud;
    size_t n;
    int stop;
} rwalk_t;


static int
walk_shared(const char *contact, const char *const *groups, size_t ngroups,
            void *ud)
{
    rwalk_t *w = ud;
    ember_roster_item_t v;

    /* Contacts with an item of their own were seen with it. */
    if (rhash_get(&w->r->items, contact) != NULL ||
        (w->clients_only && ngroups == 0))
        return 0;
    v.size = sizeof(v);
    if (view_merged(NULL, contact, groups, ngroups, w->sc, &v) < 0)
        return 0;
    w->n++;
    return w->stop = w->cb(&v, ngroups > 0, w->ud) != 0;
}


size_t
roster_walk(roster_inst_t *ri, roster_t *r, int clients_only,
            roster_view_cb cb, void *ud)
{
    const ember_roster_shared_iface_t *si = roster_shared(ri);
    ember_roster_item_t v;
    rwalk_t w;
    rnode_t *node;
    size_t i;
    int client;

    memset(&w, 0, sizeof(w));
    w.r = r;
    w.sc = &r->veach;
    w.clients_only = clients_only;
    w.cb = cb;
    w.ud = ud;
    for (i = 0; i < r->items.nb; i++)
        for (node = r->items.b[i]; node != NULL; node = node->next) {
            v.size = sizeof(v);
            if (roster_view(ri, r, node->key, w.sc, &v, &client) < 0 ||
                (clients_only && !client))
                continue;
            w.n++;
            if (cb(&v, client, ud) != 0)
                return w.n;
        }
    if (si != NULL)
        si->foreach(si, r->user, walk_shared, &w);
    return w.n;
}


const char *
roster_version(roster_inst_t *ri, roster_t *r)
{
    const ember_roster_shared_iface_t *si = roster_shared(ri);
    const char *sv = si != NULL ? si->version(si, r->user) : NULL;

    if (sv == NULL || sv[0] == '\0')
        return r->verstr;
    snprintf(r->fullver, sizeof(r->fullver), "%s-%s", r->verstr, sv);
    return r->fullver;
}


/* Push what the client now sees of one contact: its merged item, or its
 * removal when nothing of it is left to show. */
void
roster_push_contact(roster_inst_t *ri, roster_t *r, const char *contact)
{
    ember_roster_item_t v;
    int client = 0;

    v.size = sizeof(v);
    if (roster_view(ri, r, contact, &r->vitem, &v, &client) < 0)
        client = 0;
    roster_push(ri, r->user, client ? &v : NULL, contact,
                roster_version(ri, r));
}


int
roster_on_shared(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    roster_inst_t *ri = roster_inst(m);
    const ember_roster_shared_event_t *se = ev->data;
    roster_t *r;

    if (se == NULL || se->size < sizeof(*se) || se->user == NULL ||
        se->contact == NULL)
        return EMBER_HOOK_PASS;
    /* Only users with sessions have a roster in memory and anyone to
     * push to; the others read the new state at their next login. */
    r = (roster_t *) rhash_get(&ri->rosters, se->user);
    if (r != NULL && r->loaded)
        roster_push_contact(ri, r, se->contact);
    return EMBER_HOOK_PASS;
}
