/* muc_room.c -- rooms, occupants and their presence (XEP-0045 7.1-7.6,
 * 7.2.x joins, nick changes, exits and multi-session nicks). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "muc.h"

static const char *const role_names[] = {
    "none", "visitor", "participant", "moderator"
};
static const char *const aff_names[] = {
    "outcast", "none", "member", "admin", "owner"
};


const char *
muc_role_name(int role)
{
    return role >= 0 && role <= ROLE_MODERATOR ? role_names[role] : "none";
}


const char *
muc_aff_name(int aff)
{
    return aff >= 0 && aff <= AFF_OWNER ? aff_names[aff] : "none";
}


int
muc_role_parse(const char *s)
{
    int i;

    for (i = 0; s != NULL && i <= ROLE_MODERATOR; i++)
        if (strcmp(s, role_names[i]) == 0)
            return i;
    return -1;
}


int
muc_aff_parse(const char *s)
{
    int i;

    for (i = 0; s != NULL && i <= AFF_OWNER; i++)
        if (strcmp(s, aff_names[i]) == 0)
            return i;
    return -1;
}


muc_room_t *
muc_room_find(muc_t *mu, const char *node)
{
    muc_room_t *r;

    for (r = mu->rooms; r != NULL; r = r->next)
        if (strcmp(r->node, node) == 0)
            return r;
    return NULL;
}


muc_room_t *
muc_room_new(muc_t *mu, const char *node, const char *creator)
{
    muc_room_t *r = calloc(1, sizeof(*r));
    size_t len = strlen(node) + strlen(mu->domain) + 2;

    if (r == NULL)
        return NULL;
    r->muc = mu;
    r->node = strdup(node);
    r->jid = malloc(len);
    r->creator = muc_strdup(creator);
    if (r->node == NULL || r->jid == NULL ||
        (creator != NULL && r->creator == NULL)) {
        muc_room_free(r);
        return NULL;
    }
    snprintf(r->jid, len, "%s@%s", node, mu->domain);
    muc_rconf_defaults(mu, &r->c);
    muc_hist_resize(r, r->c.history_len);
    r->next = mu->rooms;
    mu->rooms = r;
    mu->nrooms++;
    return r;
}


static void
occ_free(muc_occ_t *o)
{
    muc_sess_t *s;

    while ((s = o->sessions) != NULL) {
        o->sessions = s->next;
        free(s->jid);
        free(s);
    }
    api->stanza_free(o->pres);
    free(o->nick);
    free(o->bare);
    free(o);
}


/* Frees a room that is already out of its service's list. */
void
muc_room_free(muc_room_t *r)
{
    muc_occ_t *o;
    muc_aff_t *a;

    while ((o = r->occs) != NULL) {
        r->occs = o->next;
        occ_free(o);
    }
    while ((a = r->affs) != NULL) {
        r->affs = a->next;
        free(a->jid);
        free(a->reason);
        free(a->nick);
        free(a);
    }
    muc_register_free(r);
    muc_hist_resize(r, 0);
    muc_rconf_free(&r->c);
    free(r->subject);
    free(r->subject_nick);
    free(r->node);
    free(r->jid);
    free(r->creator);
    free(r);
}


static void
room_unlink(muc_room_t *r)
{
    muc_room_t **pp;

    for (pp = &r->muc->rooms; *pp != NULL; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            r->muc->nrooms--;
            return;
        }
}


/* A temporary room goes with its last occupant (XEP-0045 10.1.1). */
void
muc_room_maybe_gc(muc_room_t *r)
{
    if (r->nocc > 0 || (r->c.persistent && !r->locked && !r->destroyed))
        return;
    muc_mam_forget(r);
    room_unlink(r);
    muc_room_free(r);
}


void
muc_room_forget(muc_room_t *r)
{
    room_unlink(r);
    muc_room_free(r);
}


muc_occ_t *
muc_occ_by_nick(muc_room_t *r, const char *nick)
{
    muc_occ_t *o;

    for (o = r->occs; o != NULL; o = o->next)
        if (strcmp(o->nick, nick) == 0)
            return o;
    return NULL;
}


muc_occ_t *
muc_occ_by_jid(muc_room_t *r, const char *full)
{
    muc_occ_t *o;
    muc_sess_t *s;

    for (o = r->occs; o != NULL; o = o->next)
        for (s = o->sessions; s != NULL; s = s->next)
            if (strcmp(s->jid, full) == 0)
                return o;
    return NULL;
}


muc_occ_t *
muc_occ_by_bare(muc_room_t *r, const char *bare)
{
    muc_occ_t *o;

    for (o = r->occs; o != NULL; o = o->next)
        if (strcmp(o->bare, bare) == 0)
            return o;
    return NULL;
}


int
muc_aff_get(muc_room_t *r, const char *bare)
{
    const char *at = strchr(bare, '@');
    muc_aff_t *a;
    int dom = AFF_NONE;

    for (a = r->affs; a != NULL; a = a->next) {
        if (strcmp(a->jid, bare) == 0)
            return a->aff;
        /* An entry for a whole domain (XEP-0045 9.1: ban a server). */
        if (at != NULL && strcmp(a->jid, at + 1) == 0)
            dom = a->aff;
    }
    return dom;
}


int
muc_aff_set(muc_room_t *r, const char *jid, int aff, const char *reason)
{
    muc_aff_t *a, **pp;

    for (pp = &r->affs; (a = *pp) != NULL; pp = &a->next)
        if (strcmp(a->jid, jid) == 0)
            break;
    if (aff == AFF_NONE) {
        if (a != NULL) {
            *pp = a->next;
            free(a->jid);
            free(a->reason);
            free(a->nick);
            free(a);
        }
        return 0;
    }
    if (a == NULL) {
        if ((a = calloc(1, sizeof(*a))) == NULL ||
            (a->jid = strdup(jid)) == NULL) {
            free(a);
            return EMBER_ENOMEM;
        }
        *pp = a;
    }
    a->aff = aff;
    muc_set(&a->reason, reason);
    /* 9.2: outcasts have no reserved nickname. */
    if (aff == AFF_OUTCAST)
        muc_set(&a->nick, NULL);
    return 0;
}


muc_aff_t *
muc_aff_entry(muc_room_t *r, const char *jid)
{
    muc_aff_t *a;

    for (a = r->affs; a != NULL; a = a->next)
        if (strcmp(a->jid, jid) == 0)
            return a;
    return NULL;
}


muc_aff_t *
muc_nick_holder(muc_room_t *r, const char *nick)
{
    muc_aff_t *a;

    for (a = r->affs; a != NULL; a = a->next)
        if (a->nick != NULL && strcmp(a->nick, nick) == 0)
            return a;
    return NULL;
}


/* Reserve nick (NULL or "": release) for jid, which has an entry. */
int
muc_nick_reserve(muc_room_t *r, const char *jid, const char *nick)
{
    muc_aff_t *a = muc_aff_entry(r, jid);
    char *n = NULL;

    if (a == NULL || a->aff == AFF_OUTCAST)
        return EMBER_ENOENT;
    if (nick != NULL && nick[0] != '\0' && (n = strdup(nick)) == NULL)
        return EMBER_ENOMEM;
    free(a->nick);
    a->nick = n;
    return 0;
}


/* Is nick reserved by, or in use by, someone other than bare (7.2.8)? */
int
muc_nick_taken(muc_room_t *r, const char *nick, const char *bare)
{
    muc_aff_t *a = muc_nick_holder(r, nick);
    muc_occ_t *o = muc_occ_by_nick(r, nick);

    return (a != NULL && strcmp(a->jid, bare) != 0) ||
           (o != NULL && strcmp(o->bare, bare) != 0);
}


/* nick as the room compares nicks (resourceprep, as the occupant JID
 * of a join has it), malloc'ed; NULL when it is no nickname. */
char *
muc_nick_prep(muc_room_t *r, const char *nick)
{
    char buf[3072];
    ember_jid_t *j;
    const char *res;
    char *out = NULL;

    if (nick == NULL || nick[strspn(nick, " \t\r\n")] == '\0' ||
        (size_t) snprintf(buf, sizeof(buf), "%s/%s", r->jid, nick) >=
        sizeof(buf) || (j = api->jid_parse(buf)) == NULL)
        return NULL;
    if ((res = api->jid_resource(j)) != NULL)
        out = strdup(res);
    api->jid_free(j);
    return out;
}


int
muc_owner_count(muc_room_t *r)
{
    muc_aff_t *a;
    int n = 0;

    for (a = r->affs; a != NULL; a = a->next)
        n += a->aff == AFF_OWNER;
    return n;
}


int
muc_rooms_of(muc_t *mu, const char *bare)
{
    muc_room_t *r;
    int n = 0;

    for (r = mu->rooms; r != NULL; r = r->next)
        n += r->creator != NULL && strcmp(r->creator, bare) == 0;
    return n;
}


int
muc_default_role(muc_room_t *r, int aff)
{
    if (aff >= AFF_ADMIN)
        return ROLE_MODERATOR;
    if (aff == AFF_OUTCAST)
        return ROLE_NONE;
    if (r->c.moderated && aff < AFF_MEMBER)
        return ROLE_VISITOR;
    return ROLE_PARTICIPANT;
}


static int
sees_jid(muc_room_t *r, muc_occ_t *viewer)
{
    return r->c.whois_anyone ||
           (viewer != NULL && viewer->role == ROLE_MODERATOR);
}


static void
add_status(ember_stanza_t *x, int code)
{
    ember_stanza_t *s = api->stanza_add_child(x, "status", NULL);
    char buf[16];

    if (s != NULL) {
        snprintf(buf, sizeof(buf), "%d", code);
        api->stanza_set_attr(s, "code", buf);
    }
}


/* Occupant o's presence as `to` sees it. */
static ember_stanza_t *
occ_presence(muc_room_t *r, muc_occ_t *o, const char *to, int show_jid,
             int self, const muc_pinfo_t *pi)
{
    ember_stanza_t *p, *x, *item, *c, *d;
    char from[3072];
    int i, aff;

    snprintf(from, sizeof(from), "%s/%s", r->jid, o->nick);
    if (pi != NULL && pi->type != NULL)
        p = muc_stanza("presence", from, to, pi->type);
    else if (o->pres != NULL && (p = api->stanza_copy(o->pres)) != NULL) {
        api->stanza_set_attr(p, "from", from);
        api->stanza_set_attr(p, "to", to);
    } else
        p = muc_stanza("presence", from, to, NULL);
    if (p == NULL)
        return NULL;
    if (pi != NULL && pi->type != NULL && o->pres != NULL &&
        (c = api->stanza_child(o->pres, "status", NULL)) != NULL)
        api->stanza_append(p, c);
    if ((x = api->stanza_add_child(p, "x", NS_MUC_USER)) == NULL ||
        (item = api->stanza_add_child(x, "item", NULL)) == NULL) {
        api->stanza_free(p);
        return NULL;
    }
    aff = pi != NULL && pi->destroyed ? AFF_NONE : muc_aff_get(r, o->bare);
    api->stanza_set_attr(item, "affiliation", muc_aff_name(aff));
    api->stanza_set_attr(item, "role", pi != NULL && (pi->destroyed ||
                       pi->type != NULL) ? "none" : muc_role_name(o->role));
    if ((show_jid || self) && o->sessions != NULL)
        api->stanza_set_attr(item, "jid", o->sessions->jid);
    if (pi == NULL)
        return p;
    if (pi->new_nick != NULL)
        api->stanza_set_attr(item, "nick", pi->new_nick);
    if (pi->actor != NULL &&
        (c = api->stanza_add_child(item, "actor", NULL)) != NULL)
        api->stanza_set_attr(c, "nick", pi->actor);
    if (pi->reason != NULL)
        muc_add_text(item, "reason", pi->reason);
    if (pi->destroyed && (d = api->stanza_add_child(x, "destroy", NULL))) {
        if (pi->destroy_jid != NULL)
            api->stanza_set_attr(d, "jid", pi->destroy_jid);
        if (pi->destroy_reason != NULL)
            muc_add_text(d, "reason", pi->destroy_reason);
    }
    for (i = 0; i < pi->nall; i++)
        add_status(x, pi->all[i]);
    if (self) {
        for (i = 0; i < pi->nself; i++)
            add_status(x, pi->self[i]);
        add_status(x, 110);
    }
    return p;
}


/* Tell every occupant (o's own sessions too) about o. */
void
muc_pres_broadcast(muc_room_t *r, muc_occ_t *o, const muc_pinfo_t *pi)
{
    muc_occ_t *v;
    muc_sess_t *s;
    muc_pinfo_t none;
    int self, listed, shown;

    if (pi == NULL) {
        memset(&none, 0, sizeof(none));
        pi = &none;
    }
    /* XEP-0045 muc#roomconfig_presencebroadcast: others hear of o only
     * when its role is listed, and once more when it stops being. */
    listed = o->role != ROLE_NONE && (r->c.broadcast & (1u << o->role));
    shown = listed || o->announced;
    if (o->role != ROLE_NONE)
        o->announced = listed;
    for (v = r->occs; v != NULL; v = v->next) {
        self = v == o;
        /* 10.9: on destruction each occupant hears of itself only. */
        if (!self && (!shown || pi->destroyed))
            continue;
        for (s = v->sessions; s != NULL; s = s->next) {
            if (pi->only != NULL && strcmp(pi->only, s->jid) != 0)
                continue;
            muc_send(r->muc, occ_presence(r, o, s->jid, sees_jid(r, v),
                                          self, pi));
        }
    }
    /* An occupant leaving is no longer in the list: tell it too. */
    if (o->role == ROLE_NONE)
        for (s = o->sessions; s != NULL; s = s->next)
            if (pi->only == NULL || strcmp(pi->only, s->jid) == 0)
                muc_send(r->muc, occ_presence(r, o, s->jid, 1, 1, pi));
}


static void
occ_unlink(muc_room_t *r, muc_occ_t *o)
{
    muc_occ_t **pp;

    for (pp = &r->occs; *pp != NULL; pp = &(*pp)->next)
        if (*pp == o) {
            *pp = o->next;
            r->nocc--;
            return;
        }
}


/* o leaves with an unavailable broadcast (kick, ban, destroy, exit). */
void
muc_occ_remove(muc_room_t *r, muc_occ_t *o, const muc_pinfo_t *pi)
{
    muc_pinfo_t p;

    if (pi != NULL)
        p = *pi;
    else
        memset(&p, 0, sizeof(p));
    p.type = "unavailable";
    occ_unlink(r, o);
    o->role = ROLE_NONE;
    muc_pres_broadcast(r, o, &p);
    occ_free(o);
}


int
muc_rate_ok(muc_t *mu, muc_occ_t *o)
{
    uint64_t now = api->uptime_ms();
    double burst = mu->o->message_burst;

    if (mu->o->message_rate == 0)
        return 1;
    o->tokens += (double) (now - o->tokens_ms) * mu->o->message_rate / 1000.0;
    o->tokens_ms = now;
    if (o->tokens > burst)
        o->tokens = burst;
    if (o->tokens < 1.0)
        return 0;
    o->tokens -= 1.0;
    return 1;
}


/* The client's presence without its addressing and MUC payload. */
static ember_stanza_t *
pres_keep(const ember_stanza_t *st)
{
    ember_stanza_t *p = api->stanza_copy(st), *c, *n;

    if (p == NULL)
        return NULL;
    api->stanza_set_attr(p, "from", NULL);
    api->stanza_set_attr(p, "to", NULL);
    api->stanza_set_attr(p, "id", NULL);
    api->stanza_set_attr(p, "type", NULL);
    for (c = api->stanza_first(p); c != NULL; c = n) {
        n = api->stanza_next(c);
        if (strcmp(api->stanza_name(c), "x") == 0 &&
            strncmp(api->stanza_xmlns(c), NS_MUC, strlen(NS_MUC)) == 0)
            api->stanza_remove(c);
    }
    return p;
}


static void
subject_send(muc_room_t *r, const char *to)
{
    char from[3072];
    ember_stanza_t *m;

    if (r->subject_nick != NULL && r->subject_nick[0] != '\0')
        snprintf(from, sizeof(from), "%s/%s", r->jid, r->subject_nick);
    else
        snprintf(from, sizeof(from), "%s", r->jid);
    if ((m = muc_stanza("message", from, to, "groupchat")) == NULL)
        return;
    if (api->stanza_add_child(m, "subject", NULL) != NULL)
        api->stanza_add_text(api->stanza_child(m, "subject", NULL),
                             r->subject != NULL ? r->subject : "");
    muc_send(r->muc, m);
}


static int
may_create(muc_t *mu, const char *bare)
{
    const char *at = strchr(bare, '@');

    if (strcmp(mu->o->create_rooms, "anyone") == 0)
        return 1;
    if (strcmp(mu->o->create_rooms, "admins") == 0)
        return api->is_admin(mu->m, bare);
    return at != NULL && strcmp(at + 1, api->module_host(mu->m)) == 0;
}


static void
session_drop(muc_room_t *r, muc_occ_t *o, const char *full,
             const ember_stanza_t *st)
{
    muc_sess_t **pp, *s;
    muc_pinfo_t pi;

    memset(&pi, 0, sizeof(pi));
    if (o->sessions != NULL && o->sessions->next != NULL) {
        /* One of several sessions: only that one hears it left. */
        pi.type = "unavailable";
        pi.only = full;
        for (pp = &o->sessions; (s = *pp) != NULL; pp = &s->next)
            if (strcmp(s->jid, full) == 0)
                break;
        if (s == NULL)
            return;
        muc_send(r->muc, occ_presence(r, o, full, 1, 1, &pi));
        *pp = s->next;
        free(s->jid);
        free(s);
        return;
    }
    if (st != NULL) {
        api->stanza_free(o->pres);
        o->pres = pres_keep(st);
    }
    /* XEP-0045 10.1.3: an owner leaving a room it never configured
     * destroys it, and its unavailable presence says so. */
    if (r->locked && muc_aff_get(r, o->bare) == AFF_OWNER) {
        muc_room_destroy(r, NULL, NULL);
        return;
    }
    muc_occ_remove(r, o, NULL);
    muc_room_maybe_gc(r);
}


static int
nick_change(muc_t *mu, const ember_event_t *ev, muc_room_t *r,
            muc_occ_t *o, const char *nick)
{
    muc_occ_t *other = muc_occ_by_nick(r, nick);
    muc_pinfo_t pi;
    char *n;

    if (other != NULL && other != o) {
        api->stanza_error(ev, EMBER_COND_CONFLICT, "that nickname is taken");
        return EMBER_HOOK_HANDLED;
    }
    /* 7.6: nor one reserved by another user. */
    if (muc_nick_taken(r, nick, o->bare)) {
        api->stanza_error(ev, EMBER_COND_CONFLICT,
                          "that nickname is reserved");
        return EMBER_HOOK_HANDLED;
    }
    if ((n = strdup(nick)) == NULL) {
        api->stanza_error(ev, EMBER_COND_RESOURCE_CONSTRAINT, NULL);
        return EMBER_HOOK_HANDLED;
    }
    memset(&pi, 0, sizeof(pi));
    pi.type = "unavailable";
    pi.new_nick = nick;
    pi.all[pi.nall++] = 303;
    muc_pres_broadcast(r, o, &pi);
    free(o->nick);
    o->nick = n;
    api->stanza_free(o->pres);
    o->pres = pres_keep(ev->stanza);
    muc_pres_broadcast(r, o, NULL);
    return EMBER_HOOK_HANDLED;
}


/* XEP-0045 7.2: checks in the order the XEP's examples give them. */
/* The presence of every occupant others may see, to viewer's session. */
static void
occupants_to(muc_room_t *r, muc_occ_t *viewer, const char *full)
{
    muc_occ_t *v;

    for (v = r->occs; v != NULL; v = v->next)
        if (v != viewer && v->announced)
            muc_send(r->muc, occ_presence(r, v, full, sees_jid(r, viewer), 0,
                                          NULL));
}


static int
join(muc_t *mu, const ember_event_t *ev, muc_room_t *r, const char *nick)
{
    const char *full = api->jid_full(ev->from);
    const char *bare = api->jid_bare(ev->from);
    ember_stanza_t *x = api->stanza_child(ev->stanza, "x", NS_MUC), *pw;
    const char *to_raw = api->stanza_attr(ev->stanza, "to"), *slash;
    muc_occ_t *o, *same;
    muc_sess_t *s = NULL;
    muc_pinfo_t pi;
    int created = 0, aff;

    if (r == NULL) {
        if (!may_create(mu, bare)) {
            api->stanza_error(ev, EMBER_COND_NOT_ALLOWED,
                              "you may not create rooms here");
            return EMBER_HOOK_HANDLED;
        }
        if (mu->o->max_rooms_per_user > 0 &&
            muc_rooms_of(mu, bare) >= mu->o->max_rooms_per_user) {
            api->stanza_error(ev, EMBER_COND_RESOURCE_CONSTRAINT,
                              "you have created too many rooms");
            return EMBER_HOOK_HANDLED;
        }
        if ((r = muc_room_new(mu, api->jid_node(ev->to), bare)) == NULL ||
            muc_aff_set(r, bare, AFF_OWNER, NULL) < 0) {
            if (r != NULL)
                muc_room_maybe_gc(r);
            api->stanza_error(ev, EMBER_COND_RESOURCE_CONSTRAINT, NULL);
            return EMBER_HOOK_HANDLED;
        }
        created = 1;
        /* A client that speaks MUC configures (or accepts) the room; an
         * old groupchat 1.0 client gets an instant room (10.1.1). */
        r->locked = x != NULL;
        if (!r->locked)
            muc_store_save(r);
    }
    aff = muc_aff_get(r, bare);
    same = muc_occ_by_nick(r, nick);
    if (r->locked && aff != AFF_OWNER) {
        api->stanza_error(ev, EMBER_COND_ITEM_NOT_FOUND,
                          "the room is locked until its owner configures it");
        return EMBER_HOOK_HANDLED;
    }
    if (same != NULL && strcmp(same->bare, bare) != 0) {
        api->stanza_error(ev, EMBER_COND_CONFLICT, "that nickname is taken");
        return EMBER_HOOK_HANDLED;
    }
    if (aff == AFF_OUTCAST) {
        api->stanza_error(ev, EMBER_COND_FORBIDDEN, "you are banned");
        return EMBER_HOOK_HANDLED;
    }
    if (r->c.members_only && aff < AFF_MEMBER) {
        api->stanza_error(ev, EMBER_COND_REGISTRATION_REQUIRED,
                          "the room is members-only");
        return EMBER_HOOK_HANDLED;
    }
    /* After the ban and members-only checks: who may not enter does not
     * learn which nicknames are reserved. */
    if (muc_nick_taken(r, nick, bare)) {
        api->stanza_error(ev, EMBER_COND_CONFLICT,
                          "that nickname is reserved");
        return EMBER_HOOK_HANDLED;
    }
    if (same == NULL && (o = muc_occ_by_bare(r, bare)) != NULL) {
        api->stanza_error(ev, EMBER_COND_CONFLICT,
                          "join with the nickname your other session uses");
        return EMBER_HOOK_HANDLED;
    }
    if (r->c.password_protected && aff < AFF_ADMIN) {
        pw = x != NULL ? api->stanza_child(x, "password", NULL) : NULL;
        if (pw == NULL || strcmp(api->stanza_text(pw), r->c.password) != 0) {
            api->stanza_error(ev, EMBER_COND_NOT_AUTHORIZED,
                              "a password is required");
            return EMBER_HOOK_HANDLED;
        }
    }
    if (same == NULL && aff < AFF_ADMIN &&
        (r->nocc >= r->c.max_users || r->nocc >= mu->o->max_occupants)) {
        api->stanza_error(ev, EMBER_COND_SERVICE_UNAVAILABLE,
                          "the room is full");
        return EMBER_HOOK_HANDLED;
    }
    o = same;
    if ((s = calloc(1, sizeof(*s))) == NULL ||
        (s->jid = strdup(full)) == NULL)
        goto nomem;
    if (o == NULL) {
        if ((o = calloc(1, sizeof(*o))) == NULL)
            goto nomem;
        o->nick = strdup(nick);
        o->bare = strdup(bare);
        o->pres = pres_keep(ev->stanza);
        o->role = muc_default_role(r, aff);
        o->tokens = mu->o->message_burst;
        o->tokens_ms = api->uptime_ms();
        if (o->nick == NULL || o->bare == NULL || o->pres == NULL) {
            o->sessions = s;
            s = NULL;
            occ_free(o);
            goto nomem;
        }
    }
    s->next = o->sessions;
    o->sessions = s;
    /* Everyone already there, then the newcomer to all (7.2.3). */
    occupants_to(r, o, full);
    if (o != same) {
        o->next = r->occs;
        r->occs = o;
        r->nocc++;
    }
    memset(&pi, 0, sizeof(pi));
    if (r->c.whois_anyone)
        pi.self[pi.nself++] = 100;
    if (created)
        pi.self[pi.nself++] = 201;
    slash = to_raw != NULL ? strchr(to_raw, '/') : NULL;
    if (slash != NULL && strcmp(slash + 1, nick) != 0)
        pi.self[pi.nself++] = 210;
    if (o == same)
        pi.only = full;     /* a second session: the others know o */
    muc_pres_broadcast(r, o, &pi);
    /* Even a new room sends its (empty) subject: clients wait for it as
     * the end of the join (7.2.15). */
    muc_hist_send(r, full, x != NULL ?
                  api->stanza_child(x, "history", NULL) : NULL);
    subject_send(r, full);
    return EMBER_HOOK_HANDLED;

nomem:
    if (s != NULL) {
        free(s->jid);
        free(s);
    }
    muc_room_maybe_gc(r);
    api->stanza_error(ev, EMBER_COND_RESOURCE_CONSTRAINT, NULL);
    return EMBER_HOOK_HANDLED;
}


/*
 * A join from a session already in the room: the client lost its state
 * (a reconnect it did not notice), so it gets the whole room again, as
 * on a first join (XEP-0045 7.2.1 and 17.3): occupants, its own presence,
 * history, subject.  Others see a status change, if anything.
 */
static int
rejoin(muc_t *mu, const ember_event_t *ev, muc_room_t *r, muc_occ_t *o)
{
    const char *full = api->jid_full(ev->from);
    ember_stanza_t *x = api->stanza_child(ev->stanza, "x", NS_MUC);
    muc_pinfo_t pi;

    api->stanza_free(o->pres);
    o->pres = pres_keep(ev->stanza);
    occupants_to(r, o, full);
    memset(&pi, 0, sizeof(pi));
    if (r->c.whois_anyone)
        pi.self[pi.nself++] = 100;
    muc_pres_broadcast(r, o, NULL);
    pi.only = full;
    muc_pres_broadcast(r, o, &pi);
    muc_hist_send(r, full, api->stanza_child(x, "history", NULL));
    subject_send(r, full);
    return EMBER_HOOK_HANDLED;
}


/* A probe to an occupant's room JID, from an occupant: its presence. */
static int
probe(const ember_event_t *ev, muc_room_t *r, muc_occ_t *asker,
      const char *nick)
{
    muc_occ_t *t = nick != NULL ? muc_occ_by_nick(r, nick) : NULL;

    if (asker == NULL) {
        api->stanza_error(ev, EMBER_COND_NOT_ACCEPTABLE,
                          "only occupants may probe occupants");
        return EMBER_HOOK_HANDLED;
    }
    if (t == NULL || (!t->announced && t != asker)) {
        muc_send(r->muc, muc_stanza("presence", api->jid_full(ev->to),
                                    api->jid_full(ev->from), "unavailable"));
        return EMBER_HOOK_HANDLED;
    }
    muc_send(r->muc, occ_presence(r, t, api->jid_full(ev->from),
                                  sees_jid(r, asker), t == asker, NULL));
    return EMBER_HOOK_HANDLED;
}


/* An unavailable presence from `from` to `to` with role and affiliation
 * none and these status codes (110 first). */
static void
send_removal(muc_t *mu, const char *from, const char *to, const char *why,
             const int *codes, int n)
{
    ember_stanza_t *p, *x, *item;
    int i;

    if ((p = muc_stanza("presence", from, to, "unavailable")) == NULL)
        return;
    if ((x = api->stanza_add_child(p, "x", NS_MUC_USER)) == NULL ||
        (item = api->stanza_add_child(x, "item", NULL)) == NULL) {
        api->stanza_free(p);
        return;
    }
    api->stanza_set_attr(item, "affiliation", "none");
    api->stanza_set_attr(item, "role", "none");
    if (why != NULL)
        muc_add_text(item, "reason", why);
    add_status(x, 110);
    for (i = 0; i < n; i++)
        add_status(x, codes[i]);
    muc_send(mu, p);
}


/* XEP-0045 11.2: at shutdown each occupant's sessions hear they are out
 * of the room (332) while their streams can still carry it. */
void
muc_shutdown_notice(muc_t *mu)
{
    static const int code[] = { 332 };
    char from[3072];
    muc_room_t *r;
    muc_occ_t *o;
    muc_sess_t *s;

    for (r = mu->rooms; r != NULL; r = r->next)
        for (o = r->occs; o != NULL; o = o->next) {
            snprintf(from, sizeof(from), "%s/%s", r->jid, o->nick);
            for (s = o->sessions; s != NULL; s = s->next)
                send_removal(mu, from, s->jid, NULL, code, 1);
        }
}


/*
 * XEP-0045 7.2.18 (since 1.32): presence without the MUC <x/> from a
 * non-occupant is a desynchronized client rather than a groupchat 1.0
 * join; it is told it is not in the room.
 */
static int
kick_stray(muc_t *mu, const ember_event_t *ev)
{
    static const int codes[] = { 307, 333 };

    send_removal(mu, api->jid_full(ev->to), api->jid_full(ev->from),
                 "You are not in the room.", codes, 2);
    return EMBER_HOOK_HANDLED;
}


int
muc_on_presence(muc_t *mu, const ember_event_t *ev, muc_room_t *r)
{
    const char *type = api->stanza_attr(ev->stanza, "type");
    const char *nick = api->jid_resource(ev->to);
    const char *full = api->jid_full(ev->from);
    muc_occ_t *o = r != NULL ? muc_occ_by_jid(r, full) : NULL;

    if (type != NULL && (strcmp(type, "unavailable") == 0 ||
                         strcmp(type, "error") == 0)) {
        /* A bounce means the session is gone: same as leaving. */
        if (o != NULL)
            session_drop(r, o, full, strcmp(type, "error") == 0 ?
                         NULL : ev->stanza);
        return EMBER_HOOK_HANDLED;
    }
    if (type != NULL && strcmp(type, "probe") == 0 && r != NULL)
        return probe(ev, r, o, nick);
    if (type != NULL)
        return EMBER_HOOK_HANDLED;  /* subscriptions mean nothing here */
    if (nick == NULL || nick[0] == '\0') {
        api->stanza_error(ev, EMBER_COND_JID_MALFORMED,
                          "join with room@service/nick");
        return EMBER_HOOK_HANDLED;
    }
    /* XEP-0045 17.1: a nickname others cannot see is no nickname. */
    if (nick[strspn(nick, " \t\r\n")] == '\0') {
        api->stanza_error(ev, EMBER_COND_JID_MALFORMED,
                          "a nickname of only spaces is not a nickname");
        return EMBER_HOOK_HANDLED;
    }
    if (o == NULL && api->stanza_child(ev->stanza, "x", NS_MUC) == NULL)
        return kick_stray(mu, ev);
    if (o == NULL)
        return join(mu, ev, r, nick);
    if (strcmp(o->nick, nick) != 0)
        return nick_change(mu, ev, r, o, nick);
    if (api->stanza_child(ev->stanza, "x", NS_MUC) != NULL)
        return rejoin(mu, ev, r, o);
    /* A status change of an occupant (7.7). */
    api->stanza_free(o->pres);
    o->pres = pres_keep(ev->stanza);
    muc_pres_broadcast(r, o, NULL);
    return EMBER_HOOK_HANDLED;
}
