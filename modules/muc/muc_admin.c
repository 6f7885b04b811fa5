/* muc_admin.c -- moderator, admin and owner use cases (XEP-0045 8, 9,
 * 10.3-10.8): roles, affiliations and their lists, invitations (7.8) and
 * voice requests (8.6). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "muc.h"


/* Set jid's affiliation (a bare JID, or a whole domain) and bring the
 * occupants it covers in line with it. */
void
muc_apply_aff(muc_room_t *r, const char *jid, int aff, const char *actor,
              const char *reason)
{
    int domain = strchr(jid, '@') == NULL, now, role;
    muc_occ_t *o, *next;
    const char *at;
    muc_pinfo_t pi;

    muc_aff_set(r, jid, aff, reason);
    muc_register_forget(r, jid);
    if (r->c.persistent)
        muc_store_save(r);
    for (o = r->occs; o != NULL; o = next) {
        next = o->next;
        at = strchr(o->bare, '@');
        if (strcmp(o->bare, jid) != 0 &&
            !(domain && at != NULL && strcmp(at + 1, jid) == 0))
            continue;
        now = muc_aff_get(r, o->bare);
        memset(&pi, 0, sizeof(pi));
        pi.actor = actor;
        pi.reason = reason;
        if (now == AFF_OUTCAST || (r->c.members_only && now < AFF_MEMBER)) {
            pi.all[pi.nall++] = now == AFF_OUTCAST ? 301 : 321;
            muc_occ_remove(r, o, &pi);
            continue;
        }
        role = muc_default_role(r, now);
        if (role < o->role && now >= AFF_MEMBER &&
            o->role != ROLE_MODERATOR)
            role = o->role;     /* a granted voice stays */
        o->role = role;
        muc_pres_broadcast(r, o, &pi);
    }
}


static int
list_get(muc_t *mu, const ember_event_t *ev, muc_room_t *r,
         ember_stanza_t *item, muc_occ_t *me, int my_aff)
{
    const char *as = api->stanza_attr(item, "affiliation");
    const char *rs = api->stanza_attr(item, "role");
    ember_stanza_t *q, *it;
    muc_aff_t *a;
    muc_occ_t *o;
    int aff = muc_aff_parse(as), role = muc_role_parse(rs);

    if ((as != NULL && (aff < 0 || aff == AFF_NONE)) ||
        (rs != NULL && (role < 0 || role == ROLE_NONE)) ||
        (as == NULL) == (rs == NULL)) {
        api->stanza_error(ev, EMBER_COND_BAD_REQUEST,
                          "ask for one affiliation or one role");
        return EMBER_HOOK_HANDLED;
    }
    /* 9.5: in a non-anonymous room members may read who else belongs,
     * in the room or not (not who is banned). */
    if ((as != NULL && my_aff < AFF_ADMIN &&
         !(r->c.whois_anyone && my_aff >= AFF_MEMBER && aff != AFF_OUTCAST)) ||
        (rs != NULL && (me == NULL || me->role != ROLE_MODERATOR))) {
        api->stanza_error(ev, EMBER_COND_FORBIDDEN, NULL);
        return EMBER_HOOK_HANDLED;
    }
    if ((q = api->stanza_new("query", NS_MUC_ADMIN)) == NULL)
        return EMBER_HOOK_HANDLED;
    if (as != NULL) {
        for (a = r->affs; a != NULL; a = a->next)
            if (a->aff == aff &&
                (it = api->stanza_add_child(q, "item", NULL)) != NULL) {
                api->stanza_set_attr(it, "affiliation", as);
                api->stanza_set_attr(it, "jid", a->jid);
                o = muc_occ_by_bare(r, a->jid);
                if (a->nick != NULL)
                    api->stanza_set_attr(it, "nick", a->nick);
                else if (o != NULL)
                    api->stanza_set_attr(it, "nick", o->nick);
                if (a->reason != NULL)
                    muc_add_text(it, "reason", a->reason);
            }
    } else {
        for (o = r->occs; o != NULL; o = o->next)
            if (o->role == role &&
                (it = api->stanza_add_child(q, "item", NULL)) != NULL) {
                api->stanza_set_attr(it, "role", rs);
                api->stanza_set_attr(it, "nick", o->nick);
                api->stanza_set_attr(it, "affiliation",
                                     muc_aff_name(muc_aff_get(r, o->bare)));
                if (o->sessions != NULL)
                    api->stanza_set_attr(it, "jid", o->sessions->jid);
            }
    }
    api->iq_result(ev, q);
    return EMBER_HOOK_HANDLED;
}


/* May `me` (affiliation my_aff) apply this item?  0 or a condition. */
static int
item_check(muc_room_t *r, ember_stanza_t *item, muc_occ_t *me, int my_aff,
           const char *my_bare, const char **why)
{
    const char *nick = api->stanza_attr(item, "nick");
    const char *jid = api->stanza_attr(item, "jid");
    const char *rs = api->stanza_attr(item, "role");
    const char *as = api->stanza_attr(item, "affiliation");
    int role = muc_role_parse(rs), aff = muc_aff_parse(as), t_aff, taken;
    int reserves = jid != NULL && nick != NULL;
    muc_occ_t *t;
    ember_jid_t *j;
    char *n;

    *why = NULL;
    if ((rs != NULL) == (as != NULL) || (rs != NULL && role < 0) ||
        (as != NULL && aff < 0)) {
        *why = "an item changes one role or one affiliation";
        return EMBER_COND_BAD_REQUEST + 1;
    }
    if (rs != NULL) {
        if (nick == NULL) {
            *why = "a role change names the occupant's nick";
            return EMBER_COND_BAD_REQUEST + 1;
        }
        if (me == NULL || me->role != ROLE_MODERATOR)
            return EMBER_COND_FORBIDDEN + 1;
        if ((t = muc_occ_by_nick(r, nick)) == NULL) {
            *why = "no such occupant";
            return EMBER_COND_ITEM_NOT_FOUND + 1;
        }
        t_aff = muc_aff_get(r, t->bare);
        if (role == ROLE_MODERATOR ||
            (t->role == ROLE_MODERATOR && t != me))
            if (my_aff < AFF_ADMIN)
                return EMBER_COND_FORBIDDEN + 1;
        if (role < ROLE_MODERATOR && t_aff >= AFF_ADMIN &&
            (t_aff >= my_aff || role == ROLE_NONE || t_aff == AFF_OWNER)) {
            *why = "an admin or owner keeps the moderator role";
            return EMBER_COND_NOT_ALLOWED + 1;
        }
        return 0;
    }
    if (jid == NULL && nick != NULL &&
        (t = muc_occ_by_nick(r, nick)) != NULL)
        jid = t->bare;
    if (jid == NULL || (j = api->jid_parse(jid)) == NULL ||
        api->jid_resource(j) != NULL) {
        if (jid != NULL)
            api->jid_free(j);
        *why = "an affiliation change names a bare JID";
        return EMBER_COND_BAD_REQUEST + 1;
    }
    t_aff = muc_aff_get(r, api->jid_bare(j));
    /* 9.1: an admin or owner banning itself is a conflict, not a ban. */
    if (aff == AFF_OUTCAST && my_aff >= AFF_ADMIN &&
        strcmp(api->jid_bare(j), my_bare) == 0) {
        api->jid_free(j);
        *why = "you cannot ban yourself";
        return EMBER_COND_CONFLICT + 1;
    }
    if (my_aff < AFF_ADMIN) {
        api->jid_free(j);
        return EMBER_COND_FORBIDDEN + 1;
    }
    if ((aff >= AFF_ADMIN || t_aff >= AFF_ADMIN) && my_aff < AFF_OWNER) {
        api->jid_free(j);
        *why = "only owners change admins and owners";
        return (t_aff >= AFF_ADMIN ? EMBER_COND_NOT_ALLOWED :
                EMBER_COND_FORBIDDEN) + 1;
    }
    /* 9.3, 9.5: with a jid, a nick is the one reserved for it. */
    if (reserves && nick[0] != '\0' && aff >= AFF_MEMBER &&
        strchr(api->jid_bare(j), '@') != NULL) {
        if ((n = muc_nick_prep(r, nick)) == NULL) {
            api->jid_free(j);
            *why = "not a valid nickname";
            return EMBER_COND_BAD_REQUEST + 1;
        }
        taken = muc_nick_taken(r, n, api->jid_bare(j));
        free(n);
        if (taken) {
            api->jid_free(j);
            *why = "that nickname is reserved";
            return EMBER_COND_CONFLICT + 1;
        }
    }
    api->jid_free(j);
    return 0;
}


static void
item_apply(muc_room_t *r, ember_stanza_t *item, const char *actor)
{
    const char *nick = api->stanza_attr(item, "nick");
    const char *jid = api->stanza_attr(item, "jid");
    const char *rs = api->stanza_attr(item, "role");
    ember_stanza_t *re = api->stanza_child(item, "reason", NULL);
    const char *reason = re != NULL ? api->stanza_text(re) : NULL;
    muc_occ_t *t;
    muc_pinfo_t pi;
    ember_jid_t *j;
    int reserve = 0, aff;
    char *n;

    memset(&pi, 0, sizeof(pi));
    pi.actor = actor;
    pi.reason = reason;
    if (rs != NULL) {
        t = muc_occ_by_nick(r, nick);
        if (t == NULL)
            return;
        t->role = muc_role_parse(rs);
        if (t->role == ROLE_NONE) {
            pi.all[pi.nall++] = 307;
            muc_occ_remove(r, t, &pi);
        } else {
            muc_pres_broadcast(r, t, &pi);
        }
        return;
    }
    if (jid == NULL && (t = muc_occ_by_nick(r, nick)) != NULL)
        jid = t->bare;
    else if (jid != NULL && nick != NULL)
        reserve = 1;
    if (jid == NULL || (j = api->jid_parse(jid)) == NULL)
        return;
    aff = muc_aff_parse(api->stanza_attr(item, "affiliation"));
    if (reserve && aff >= AFF_MEMBER &&
        strchr(api->jid_bare(j), '@') != NULL) {
        n = nick[0] != '\0' ? muc_nick_prep(r, nick) : NULL;
        muc_aff_set(r, api->jid_bare(j), aff, reason);
        /* Two items of one request may ask for the same nickname. */
        if (n == NULL || !muc_nick_taken(r, n, api->jid_bare(j)))
            muc_nick_reserve(r, api->jid_bare(j), n);
        free(n);
    }
    muc_apply_aff(r, api->jid_bare(j), aff, actor, reason);
    api->jid_free(j);
}


int
muc_admin_iq(muc_t *mu, const ember_event_t *ev, muc_room_t *r)
{
    const char *type = api->stanza_attr(ev->stanza, "type");
    ember_stanza_t *q = api->stanza_first(ev->stanza), *it;
    muc_occ_t *me = muc_occ_by_jid(r, api->jid_full(ev->from));
    int my_aff = muc_aff_get(r, api->jid_bare(ev->from)), cond, owners;
    const char *why, *as;
    char actor[1024];

    it = api->stanza_child(q, "item", NULL);
    if (it == NULL) {
        api->stanza_error(ev, EMBER_COND_BAD_REQUEST, "no item");
        return EMBER_HOOK_HANDLED;
    }
    if (strcmp(type, "get") == 0)
        return list_get(mu, ev, r, it, me, my_aff);
    /* All or nothing: every item is checked before any applies. */
    owners = muc_owner_count(r);
    for (; it != NULL; it = api->stanza_next(it)) {
        if (strcmp(api->stanza_name(it), "item") != 0)
            continue;
        if ((cond = item_check(r, it, me, my_aff, api->jid_bare(ev->from),
                               &why)) != 0) {
            api->stanza_error(ev, (ember_cond_t) (cond - 1), why);
            return EMBER_HOOK_HANDLED;
        }
        as = api->stanza_attr(it, "affiliation");
        if (as != NULL && strcmp(as, "owner") != 0) {
            const char *jid = api->stanza_attr(it, "jid");
            muc_occ_t *t;

            if (jid == NULL && (t = muc_occ_by_nick(
                    r, api->stanza_attr(it, "nick"))) != NULL)
                jid = t->bare;
            if (jid != NULL && muc_aff_get(r, jid) == AFF_OWNER &&
                --owners < 1) {
                api->stanza_error(ev, EMBER_COND_CONFLICT,
                                  "the room would have no owner");
                return EMBER_HOOK_HANDLED;
            }
        }
    }
    /* An item may remove the actor itself: keep its nick. */
    if (me != NULL)
        snprintf(actor, sizeof(actor), "%s", me->nick);
    for (it = api->stanza_child(q, "item", NULL); it != NULL;
         it = api->stanza_next(it))
        if (strcmp(api->stanza_name(it), "item") == 0)
            item_apply(r, it, me != NULL ? actor : NULL);
    api->iq_result(ev, NULL);
    muc_room_maybe_gc(r);
    return EMBER_HOOK_HANDLED;
}


static void
send_invite(muc_room_t *r, const char *inviter, const char *to,
            ember_stanza_t *inv)
{
    ember_stanza_t *m = muc_stanza("message", r->jid, to, NULL);
    ember_stanza_t *x, *i, *re;
    char body[4096];

    if (m == NULL)
        return;
    re = api->stanza_child(inv, "reason", NULL);
    snprintf(body, sizeof(body), "%s invites you to the room %s%s%s",
             inviter, r->jid, re != NULL ? ": " : "",
             re != NULL ? api->stanza_text(re) : "");
    if ((x = api->stanza_add_child(m, "x", NS_MUC_USER)) != NULL &&
        (i = api->stanza_add_child(x, "invite", NULL)) != NULL) {
        api->stanza_set_attr(i, "from", inviter);
        if (re != NULL)
            muc_add_text(i, "reason", api->stanza_text(re));
        if (r->c.password_protected)
            muc_add_text(x, "password", r->c.password);
    }
    muc_add_text(m, "body", body);
    muc_send(r->muc, m);
}


/* An invitation to an account of this server, held until the account
 * is known to exist (7.8.2: else item-not-found to the inviter). */
typedef struct muc_invchk_s {
    struct muc_invchk_s *next, **prev;
    muc_t *mu;
    char *node;             /* the room's */
    char *inviter;          /* bare JID */
    char *to, *bare;        /* the invitee, prepared */
    ember_stanza_t *inv;    /* the <invite/> */
    ember_stanza_t *req;    /* the inviter's message, for the error */
} muc_invchk_t;


static void
invchk_free(muc_invchk_t *q)
{
    if (q->prev != NULL) {
        *q->prev = q->next;
        if (q->next != NULL)
            q->next->prev = q->prev;
    }
    free(q->node);
    free(q->inviter);
    free(q->to);
    free(q->bare);
    api->stanza_free(q->inv);
    api->stanza_free(q->req);
    free(q);
}


void
muc_invite_cleanup(muc_t *mu)
{
    while (mu->invchks != NULL)
        invchk_free(mu->invchks);
}


static void
invite_to(muc_room_t *r, const char *inviter, const char *bare,
          const char *to, ember_stanza_t *inv)
{
    /* The invitee of a members-only room becomes a member (7.8.2). */
    if (r->c.members_only && muc_aff_get(r, bare) == AFF_NONE)
        muc_apply_aff(r, bare, AFF_MEMBER, NULL, NULL);
    send_invite(r, inviter, to, inv);
}


static void
invchk_done(int status, json_t *result, void *ud)
{
    muc_invchk_t *q = ud;
    muc_room_t *r = muc_room_find(q->mu, q->node);
    ember_stanza_t *e;

    if (status == EMBER_ENOENT) {
        if ((e = api->error_reply(q->req, EMBER_COND_ITEM_NOT_FOUND,
                                  "no such user")) != NULL)
            muc_send(q->mu, e);
    } else if (r != NULL && !r->destroyed) {
        invite_to(r, q->inviter, q->bare, q->to, q->inv);
    }
    invchk_free(q);
}


/* 0 when the check is under way; <0: invite at once. */
static int
invite_checked(muc_t *mu, const ember_event_t *ev, muc_room_t *r,
               const char *inviter, const ember_jid_t *j,
               const ember_stanza_t *inv)
{
    muc_invchk_t *q;

    if (api->jid_node(j) == NULL ||
        strcmp(api->jid_domain(j), api->module_host(mu->m)) != 0)
        return -1;
    if ((q = calloc(1, sizeof(*q))) == NULL)
        return -1;
    q->mu = mu;
    if ((q->node = muc_strdup(r->node)) == NULL ||
        (q->inviter = muc_strdup(inviter)) == NULL ||
        (q->to = muc_strdup(api->jid_full(j))) == NULL ||
        (q->bare = muc_strdup(api->jid_bare(j))) == NULL ||
        (q->inv = api->stanza_copy(inv)) == NULL ||
        (q->req = api->stanza_copy(ev->stanza)) == NULL) {
        invchk_free(q);
        return -1;
    }
    q->next = mu->invchks;
    if (q->next != NULL)
        q->next->prev = &q->next;
    q->prev = &mu->invchks;
    mu->invchks = q;
    if (api->user_exists(mu->m, api->jid_node(j), invchk_done, q) < 0) {
        invchk_free(q);
        return -1;
    }
    return 0;
}


/* XEP-0045 7.8.2: mediated invitations, and their declines. */
int
muc_invite(muc_t *mu, const ember_event_t *ev, muc_room_t *r,
           muc_occ_t *from, ember_stanza_t *x)
{
    ember_stanza_t *c, *m, *mx, *d, *re;
    const char *to, *bare = api->jid_bare(ev->from);
    ember_jid_t *j;
    int aff = muc_aff_get(r, bare);

    if ((c = api->stanza_child(x, "decline", NULL)) != NULL) {
        if ((to = api->stanza_attr(c, "to")) == NULL ||
            (j = api->jid_parse(to)) == NULL) {
            api->stanza_error(ev, EMBER_COND_JID_MALFORMED, NULL);
            return EMBER_HOOK_HANDLED;
        }
        if ((m = muc_stanza("message", r->jid, api->jid_full(j), NULL)) &&
            (mx = api->stanza_add_child(m, "x", NS_MUC_USER)) != NULL &&
            (d = api->stanza_add_child(mx, "decline", NULL)) != NULL) {
            api->stanza_set_attr(d, "from", bare);
            if ((re = api->stanza_child(c, "reason", NULL)) != NULL)
                muc_add_text(d, "reason", api->stanza_text(re));
        }
        api->jid_free(j);
        muc_send(mu, m);
        return EMBER_HOOK_HANDLED;
    }
    if (from == NULL) {
        api->stanza_error(ev, EMBER_COND_NOT_ACCEPTABLE,
                          "only occupants may invite");
        return EMBER_HOOK_HANDLED;
    }
    if (r->c.members_only && !r->c.allow_invites && aff < AFF_ADMIN) {
        api->stanza_error(ev, EMBER_COND_FORBIDDEN,
                          "only admins may invite to this room");
        return EMBER_HOOK_HANDLED;
    }
    for (c = api->stanza_first(x); c != NULL; c = api->stanza_next(c)) {
        if (strcmp(api->stanza_name(c), "invite") != 0)
            continue;
        if ((to = api->stanza_attr(c, "to")) == NULL ||
            (j = api->jid_parse(to)) == NULL) {
            api->stanza_error(ev, EMBER_COND_JID_MALFORMED,
                              "an invitation needs a valid 'to'");
            return EMBER_HOOK_HANDLED;
        }
        if (invite_checked(mu, ev, r, bare, j, c) < 0)
            invite_to(r, bare, api->jid_bare(j), api->jid_full(j), c);
        api->jid_free(j);
    }
    return EMBER_HOOK_HANDLED;
}


static void
request_form(muc_room_t *r, muc_occ_t *o, const char *to)
{
    ember_stanza_t *m = muc_stanza("message", r->jid, to, NULL), *x;
    const char *v[2] = { NULL, NULL };

    if (m == NULL)
        return;
    if ((x = api->form_new(m, "form", "Voice request", NS_MUC_REQUEST))) {
        v[0] = "participant";
        api->form_add_field(x, "muc#role", "list-single", "Requested role", v);
        v[0] = o->bare;
        api->form_add_field(x, "muc#jid", "jid-single", "User ID", v);
        v[0] = o->nick;
        api->form_add_field(x, "muc#roomnick", "text-single", "Room nickname",
                            v);
        v[0] = "false";
        api->form_add_field(x, "muc#request_allow", "boolean",
                            "Grant voice to this person?", v);
    }
    muc_send(r->muc, m);
}


/* XEP-0045 8.6: a visitor asks for voice; a moderator answers the form. */
int
muc_voice_request(muc_t *mu, const ember_event_t *ev, muc_room_t *r,
                  muc_occ_t *from, ember_stanza_t *form)
{
    const char *allow = api->form_value(form, "muc#request_allow");
    const char *nick = api->form_value(form, "muc#roomnick");
    const char *ftype = api->stanza_attr(form, "type");
    muc_occ_t *o, *t;
    muc_sess_t *s;
    int yes = 0;

    if (from == NULL) {
        api->stanza_error(ev, EMBER_COND_NOT_ACCEPTABLE,
                          "only occupants may ask for voice");
        return EMBER_HOOK_HANDLED;
    }
    if (from->role == ROLE_MODERATOR && allow != NULL && ftype != NULL &&
        strcmp(ftype, "submit") == 0) {
        if (muc_bool(allow, &yes) < 0 || nick == NULL) {
            api->stanza_error(ev, EMBER_COND_BAD_REQUEST,
                              "muc#request_allow and muc#roomnick are "
                              "required");
            return EMBER_HOOK_HANDLED;
        }
        if ((t = muc_occ_by_nick(r, nick)) == NULL) {
            api->stanza_error(ev, EMBER_COND_ITEM_NOT_FOUND,
                              "no such occupant");
            return EMBER_HOOK_HANDLED;
        }
        if (yes && t->role == ROLE_VISITOR) {
            t->role = ROLE_PARTICIPANT;
            muc_pres_broadcast(r, t, NULL);
        }
        return EMBER_HOOK_HANDLED;
    }
    if (from->role != ROLE_VISITOR) {
        api->stanza_error(ev, EMBER_COND_NOT_ALLOWED,
                          "you already have voice");
        return EMBER_HOOK_HANDLED;
    }
    if (!muc_rate_ok(mu, from)) {
        api->stanza_error(ev, EMBER_COND_RESOURCE_CONSTRAINT,
                          "you are sending requests too fast");
        return EMBER_HOOK_HANDLED;
    }
    for (o = r->occs; o != NULL; o = o->next)
        if (o->role == ROLE_MODERATOR)
            for (s = o->sessions; s != NULL; s = s->next)
                request_form(r, from, s->jid);
    return EMBER_HOOK_HANDLED;
}
