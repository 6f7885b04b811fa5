/* muc_mam.c -- room archives (XEP-0313 on the room's bare JID): each
 * groupchat message the room broadcasts is stored once, through mod_mam's
 * "mam" interface, and carries a XEP-0359 stanza-id by the room; queries
 * to the room are answered by mod_mam once the room has checked that the
 * asker may read the archive and whether it may see real JIDs (XEP-0313
 * section 7.1.2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ember/mam.h>

#include "muc.h"

#define NS_MAM "urn:xmpp:mam:2"
#define NS_HINTS "urn:xmpp:hints"


static const ember_mam_iface_t *
mam_iface(muc_t *mu)
{
    const ember_mam_iface_t *mi = api->iface_get(mu->m, EMBER_MAM_IFACE);

    return mi != NULL && EMBER_MAM_HAS(mi, remove) ? mi : NULL;
}


int
muc_mam_available(muc_t *mu)
{
    return mam_iface(mu) != NULL;
}


int
muc_mam_enabled(muc_room_t *r)
{
    return r->c.archiving && mam_iface(r->muc) != NULL;
}


/* Children of st named name in namespace ns go. */
static void
remove_children(ember_stanza_t *st, const char *name, const char *ns,
                const char *by)
{
    ember_stanza_t *c, *next;
    const char *x, *b;

    for (c = api->stanza_first(st); c != NULL; c = next) {
        next = api->stanza_next(c);
        x = api->stanza_xmlns(c);
        b = api->stanza_attr(c, "by");
        if (strcmp(api->stanza_name(c), name) == 0 && x != NULL &&
            strcmp(x, ns) == 0 &&
            (by == NULL || (b != NULL && strcasecmp(b, by) == 0)))
            api->stanza_remove(c);
    }
}


/* XEP-0313 8.3: what people read (a body, a subject, an encrypted
 * payload) unless the sender asked for it not to be kept (XEP-0334). */
static int
archivable(const ember_stanza_t *m)
{
    const ember_stanza_t *c;
    const char *n, *ns;

    if (api->stanza_child(m, "no-store", NS_HINTS) != NULL ||
        api->stanza_child(m, "no-permanent-store", NS_HINTS) != NULL)
        return 0;
    for (c = api->stanza_first(m); c != NULL; c = api->stanza_next(c)) {
        n = api->stanza_name(c);
        ns = api->stanza_xmlns(c);
        if (strcmp(n, "body") == 0 || strcmp(n, "subject") == 0 ||
            (ns != NULL && (strcmp(ns, "eu.siacs.conversations.axolotl") == 0
                            || strcmp(ns, "urn:xmpp:omemo:2") == 0 ||
                            strcmp(ns, "urn:xmpp:openpgp:0") == 0 ||
                            (strcmp(ns, NS_HINTS) == 0 &&
                             strcmp(n, "store") == 0))))
            return 1;
    }
    return 0;
}


void
muc_mam_stamp(muc_room_t *r, muc_occ_t *o, const char *real,
              ember_stanza_t *m)
{
    const ember_mam_iface_t *mi;
    ember_stanza_t *cp, *x, *item, *sid;
    char id[EMBER_MAM_ID_MAX];

    /* XEP-0359 section 4: only the room speaks for the room. */
    remove_children(m, "stanza-id", NS_STANZA_ID, r->jid);
    if (!r->c.archiving || !archivable(m) ||
        (mi = mam_iface(r->muc)) == NULL ||
        (cp = api->stanza_copy(m)) == NULL)
        return;
    /* XEP-0313 section 10.5: the stored copy names its sender by the
     * room's own <x/>, shown only to those who may see real JIDs. */
    remove_children(cp, "x", NS_MUC_USER, NULL);
    if ((x = api->stanza_add_child(cp, "x", NS_MUC_USER)) != NULL &&
        (item = api->stanza_add_child(x, "item", NULL)) != NULL) {
        api->stanza_set_attr(item, "jid", real);
        api->stanza_set_attr(item, "affiliation",
                             muc_aff_name(muc_aff_get(r, o->bare)));
        api->stanza_set_attr(item, "role", muc_role_name(o->role));
    }
    if (mi->append(mi, r->jid, api->stanza_attr(m, "from"), cp, id,
                   sizeof(id)) == 0 &&
        (sid = api->stanza_add_child(m, "stanza-id", NS_STANZA_ID)) != NULL) {
        api->stanza_set_attr(sid, "id", id);
        api->stanza_set_attr(sid, "by", r->jid);
    }
    api->stanza_free(cp);
}


/* XEP-0313 section 7.1.2: who may enter may read, and real JIDs go to
 * those who may see them in the room. */
int
muc_mam_iq(muc_t *mu, const ember_event_t *ev, muc_room_t *r)
{
    const ember_mam_iface_t *mi = mam_iface(mu);
    int aff = muc_aff_get(r, api->jid_bare(ev->from));
    muc_occ_t *o = muc_occ_by_jid(r, api->jid_full(ev->from));
    unsigned flags = EMBER_MAM_ROOM;

    if (!r->c.archiving || mi == NULL) {
        api->stanza_error(ev, EMBER_COND_SERVICE_UNAVAILABLE,
                          "this room keeps no archive");
        return EMBER_HOOK_HANDLED;
    }
    if (r->locked) {
        api->stanza_error(ev, EMBER_COND_ITEM_NOT_FOUND, "no such room");
        return EMBER_HOOK_HANDLED;
    }
    if (aff == AFF_OUTCAST || (r->c.members_only && aff < AFF_MEMBER) ||
        (r->c.password_protected && aff < AFF_MEMBER && o == NULL)) {
        api->stanza_error(ev, EMBER_COND_FORBIDDEN,
                          aff == AFF_OUTCAST ? "you are banned from this room"
                          : r->c.members_only ? "only members may read the "
                          "archive of this room" : "enter the room first");
        return EMBER_HOOK_HANDLED;
    }
    if (r->c.whois_anyone || aff >= AFF_ADMIN ||
        (o != NULL && o->role == ROLE_MODERATOR))
        flags |= EMBER_MAM_REAL_JIDS;
    if (mi->answer(mi, ev, r->jid, flags) < 0)
        api->stanza_error(ev, EMBER_COND_BAD_REQUEST, "expected a query or "
                          "metadata request of " NS_MAM);
    return EMBER_HOOK_HANDLED;
}


void
muc_mam_features(muc_room_t *r, ember_stanza_t *q)
{
    static const char *const feats[] = {
        NS_MAM, NS_MAM "#extended", NS_STANZA_ID
    };
    ember_stanza_t *f;
    size_t i;

    if (!muc_mam_enabled(r))
        return;
    for (i = 0; i < sizeof(feats) / sizeof(feats[0]); i++)
        if ((f = api->stanza_add_child(q, "feature", NULL)) != NULL)
            api->stanza_set_attr(f, "var", feats[i]);
}


/* The room is gone: so is what it said. */
void
muc_mam_forget(muc_room_t *r)
{
    const ember_mam_iface_t *mi = mam_iface(r->muc);

    if (mi != NULL && mi->remove(mi, r->jid, 0) < 0)
        api->log(r->muc->m, EMBER_LOG_WARN, "room %s: its archive was not "
                 "deleted", r->jid);
}


static void
expire(ember_module_t *m, ember_timer_t *t, void *ud)
{
    muc_t *mu = ud;
    const ember_mam_iface_t *mi = mam_iface(mu);
    int64_t before = muc_now_us() -
                     (int64_t) mu->o->archive_retention * 1000000;
    muc_room_t *r;

    (void) m;
    (void) t;
    for (r = mu->rooms; mi != NULL && r != NULL; r = r->next)
        mi->remove(mi, r->jid, before);
}


int
muc_mam_start(muc_t *mu)
{
    uint64_t every;

    if (mu->o->archive_retention <= 0)
        return 0;
    every = (uint64_t) mu->o->archive_retention * 1000 / 10;
    if (every > 3600 * 1000)
        every = 3600 * 1000;
    if (every < 1000)
        every = 1000;
    return api->timer_start(mu->m, every, every, expire, mu) != NULL ? 0
           : EMBER_ENOMEM;
}
