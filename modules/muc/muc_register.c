/* muc_register.c -- registering with a room (XEP-0045 7.10): the
 * jabber:iq:register form, the member and reserved nickname it makes, and
 * the admins' approval of registrations with a members-only room (9.9). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "muc.h"

#define F_FIRST "muc#register_first"
#define F_LAST "muc#register_last"
#define F_NICK "muc#register_roomnick"
#define F_URL "muc#register_url"
#define F_EMAIL "muc#register_email"
#define F_FAQ "muc#register_faqentry"
#define F_ALLOW "muc#register_allow"

/* Requests waiting for an admin are kept in memory only; a room holds
 * this many at most. */
#define MAX_REQUESTS 64

typedef struct muc_regreq_s {
    struct muc_regreq_s *next;
    char *bare;
    char *nick;
} muc_regreq_t;

static const struct {
    const char *var, *type, *label;
} fields[] = {
    { F_FIRST, "text-single", "Given Name" },
    { F_LAST, "text-single", "Family Name" },
    { F_NICK, "text-single", "Desired Nickname" },
    { F_URL, "text-single", "Your URL" },
    { F_EMAIL, "text-single", "Email Address" },
    { F_FAQ, "text-multi", "FAQ Entry" },
};

#define NFIELDS (sizeof(fields) / sizeof(fields[0]))


static void
req_free(muc_regreq_t *q)
{
    free(q->bare);
    free(q->nick);
    free(q);
}


void
muc_register_free(muc_room_t *r)
{
    muc_regreq_t *q;

    while ((q = r->regs) != NULL) {
        r->regs = q->next;
        req_free(q);
    }
}


static muc_regreq_t **
req_find(muc_room_t *r, const char *bare, const char *nick)
{
    muc_regreq_t **pp;

    for (pp = &r->regs; *pp != NULL; pp = &(*pp)->next)
        if ((bare != NULL && strcmp((*pp)->bare, bare) == 0) ||
            (nick != NULL && strcmp((*pp)->nick, nick) == 0))
            return pp;
    return NULL;
}


/* A pending request of bare is settled otherwise (an admin set its
 * affiliation, or the user cancelled). */
void
muc_register_forget(muc_room_t *r, const char *bare)
{
    muc_regreq_t **pp = req_find(r, bare, NULL), *q;

    if (pp == NULL)
        return;
    q = *pp;
    *pp = q->next;
    req_free(q);
}


static int
req_count(muc_room_t *r)
{
    muc_regreq_t *q;
    int n = 0;

    for (q = r->regs; q != NULL; q = q->next)
        n++;
    return n;
}


/* The registration form; values from `from` (a submitted form), or the
 * reserved nickname alone. */
static void
add_fields(ember_stanza_t *x, const ember_stanza_t *from, const char *nick)
{
    const char *vals[17];
    ember_stanza_t *f;
    size_t i, n;

    for (i = 0; i < NFIELDS; i++) {
        n = 0;
        if (from != NULL)
            n = api->form_values(from, fields[i].var, vals, 16);
        else if (nick != NULL && strcmp(fields[i].var, F_NICK) == 0)
            vals[n++] = nick;
        if (n > 16)
            n = 16;
        vals[n] = NULL;
        f = api->form_add_field(x, fields[i].var, fields[i].type,
                                fields[i].label, n > 0 ? vals : NULL);
        if (f != NULL && from == NULL && strcmp(fields[i].var, F_NICK) == 0)
            api->stanza_add_child(f, "required", NULL);
    }
}


static ember_stanza_t *
form_get(muc_room_t *r, const char *bare, int registered)
{
    ember_stanza_t *q = api->stanza_new("query", NS_REGISTER), *x;
    muc_aff_t *a = muc_aff_entry(r, bare);
    const char *nick = a != NULL ? a->nick : NULL;
    char title[512];

    if (q == NULL)
        return NULL;
    if (registered) {
        api->stanza_add_child(q, "registered", NULL);
        muc_add_text(q, "username", nick);
    }
    muc_add_text(q, "instructions", r->c.members_only && !registered ?
                 "The room's admins approve registrations with this room." :
                 "Choose the nickname reserved for you in this room.");
    snprintf(title, sizeof(title), "Registration with %s",
             r->c.name[0] != '\0' ? r->c.name : r->node);
    if ((x = api->form_new(q, "form", title, NS_MUC_REGISTER)) != NULL)
        add_fields(x, NULL, nick);
    return q;
}


/* 9.9: every admin and owner gets the request as a form to answer. */
static void
ask_admins(muc_room_t *r, const char *bare, const ember_stanza_t *sub)
{
    ember_stanza_t *m, *x;
    const char *vals[2] = { "0", NULL };
    const char *ft[2] = { NS_MUC_REGISTER, NULL };
    char text[2048];
    muc_aff_t *a;

    snprintf(text, sizeof(text), "%s asks to register with the room %s. "
             "To approve, set \"Allow\" and submit; to deny, submit it "
             "unset.", bare, r->jid);
    for (a = r->affs; a != NULL; a = a->next) {
        if (a->aff < AFF_ADMIN || strchr(a->jid, '@') == NULL)
            continue;
        if ((m = muc_stanza("message", r->jid, a->jid, NULL)) == NULL)
            continue;
        muc_add_text(m, "body", text);
        if ((x = api->stanza_add_child(m, "x", NS_DATA)) != NULL) {
            api->stanza_set_attr(x, "type", "form");
            muc_add_text(x, "instructions", text);
            muc_add_text(x, "title", "Registration request");
            api->form_add_field(x, "FORM_TYPE", "hidden", NULL, ft);
            add_fields(x, sub, NULL);
            api->form_add_field(x, F_ALLOW, "boolean",
                                "Allow this person to register with the "
                                "room?", vals);
        }
        muc_send(r->muc, m);
    }
}


/* bare becomes a member (unless it is more) with nick reserved. */
static int
do_register(muc_room_t *r, const char *bare, const char *nick)
{
    int aff = muc_aff_get(r, bare), err;

    muc_register_forget(r, bare);
    /* A member through its domain gets an entry of its own to hold the
     * nickname. */
    if (muc_aff_entry(r, bare) == NULL &&
        (err = muc_aff_set(r, bare, aff > AFF_MEMBER ? aff : AFF_MEMBER,
                           NULL)) < 0)
        return err;
    if ((err = muc_nick_reserve(r, bare, nick)) < 0)
        return err;
    if (aff < AFF_MEMBER)
        muc_apply_aff(r, bare, AFF_MEMBER, NULL, NULL);
    else if (r->c.persistent)
        muc_store_save(r);
    return 0;
}


static int
unregister(const ember_event_t *ev, muc_room_t *r, ember_stanza_t *q,
           const char *bare, int aff)
{
    ember_stanza_t *c;
    muc_aff_t *a;

    for (c = api->stanza_first(q); c != NULL; c = api->stanza_next(c))
        if (strcmp(api->stanza_name(c), "remove") != 0) {
            api->stanza_error(ev, EMBER_COND_BAD_REQUEST,
                              "<remove/> comes alone");
            return EMBER_HOOK_HANDLED;
        }
    if (req_find(r, bare, NULL) != NULL) {
        muc_register_forget(r, bare);
        api->iq_result(ev, NULL);
        return EMBER_HOOK_HANDLED;
    }
    if (aff < AFF_MEMBER) {
        api->stanza_error(ev, EMBER_COND_REGISTRATION_REQUIRED,
                          "you are not registered with this room");
        return EMBER_HOOK_HANDLED;
    }
    a = muc_aff_entry(r, bare);
    /* A member leaves the member list; an admin or owner keeps the
     * affiliation it was given and gives up the nickname only. */
    if (a != NULL && a->aff == AFF_MEMBER) {
        muc_apply_aff(r, bare, AFF_NONE, NULL, NULL);
    } else if (a != NULL) {
        muc_nick_reserve(r, bare, NULL);
        if (r->c.persistent)
            muc_store_save(r);
    }
    api->iq_result(ev, NULL);
    muc_room_maybe_gc(r);
    return EMBER_HOOK_HANDLED;
}


static int
submit(const ember_event_t *ev, muc_room_t *r, ember_stanza_t *x,
       const char *bare, int aff)
{
    const char *type = api->stanza_attr(x, "type");
    const char *ft = api->form_value(x, "FORM_TYPE");
    muc_regreq_t **pp, *q;
    char *nick;
    int err;

    if (type != NULL && strcmp(type, "cancel") == 0) {
        api->iq_result(ev, NULL);
        return EMBER_HOOK_HANDLED;
    }
    if (type == NULL || strcmp(type, "submit") != 0 || ft == NULL ||
        strcmp(ft, NS_MUC_REGISTER) != 0) {
        api->stanza_error(ev, EMBER_COND_BAD_REQUEST, "expected a submitted "
                          NS_MUC_REGISTER " form");
        return EMBER_HOOK_HANDLED;
    }
    if ((nick = muc_nick_prep(r, api->form_value(x, F_NICK))) == NULL) {
        api->stanza_error(ev, EMBER_COND_BAD_REQUEST,
                          F_NICK " needs a valid nickname");
        return EMBER_HOOK_HANDLED;
    }
    pp = req_find(r, NULL, nick);
    if (muc_nick_taken(r, nick, bare) ||
        (pp != NULL && strcmp((*pp)->bare, bare) != 0)) {
        free(nick);
        api->stanza_error(ev, EMBER_COND_CONFLICT,
                          "that nickname is reserved");
        return EMBER_HOOK_HANDLED;
    }
    if (aff >= AFF_MEMBER || !r->c.members_only) {
        err = do_register(r, bare, nick);
        free(nick);
        if (err < 0)
            api->stanza_error(ev, EMBER_COND_RESOURCE_CONSTRAINT, NULL);
        else
            api->iq_result(ev, NULL);
        return EMBER_HOOK_HANDLED;
    }
    /* A members-only room: the admins decide (7.10, 9.9).  A new
     * submission replaces the one waiting. */
    if ((pp = req_find(r, bare, NULL)) != NULL) {
        free((*pp)->nick);
        (*pp)->nick = nick;
    } else if (req_count(r) >= MAX_REQUESTS) {
        free(nick);
        api->stanza_error(ev, EMBER_COND_RESOURCE_CONSTRAINT,
                          "too many registrations are waiting");
        return EMBER_HOOK_HANDLED;
    } else if ((q = calloc(1, sizeof(*q))) == NULL ||
               (q->bare = strdup(bare)) == NULL) {
        free(q);
        free(nick);
        api->stanza_error(ev, EMBER_COND_RESOURCE_CONSTRAINT, NULL);
        return EMBER_HOOK_HANDLED;
    } else {
        q->nick = nick;
        q->next = r->regs;
        r->regs = q;
    }
    ask_admins(r, bare, x);
    api->iq_result(ev, NULL);
    return EMBER_HOOK_HANDLED;
}


int
muc_register_iq(muc_t *mu, const ember_event_t *ev, muc_room_t *r)
{
    const char *type = api->stanza_attr(ev->stanza, "type");
    const char *bare = api->jid_bare(ev->from);
    ember_stanza_t *q = api->stanza_first(ev->stanza), *x;
    int aff = muc_aff_get(r, bare);

    (void) mu;
    if (r->locked) {
        api->stanza_error(ev, EMBER_COND_ITEM_NOT_FOUND,
                          "the room is locked until its owner configures it");
        return EMBER_HOOK_HANDLED;
    }
    if (aff == AFF_OUTCAST) {
        api->stanza_error(ev, EMBER_COND_NOT_ALLOWED, "you are banned");
        return EMBER_HOOK_HANDLED;
    }
    if (strcmp(type, "get") == 0) {
        api->iq_result(ev, form_get(r, bare, aff >= AFF_MEMBER));
        return EMBER_HOOK_HANDLED;
    }
    if (api->stanza_child(q, "remove", NULL) != NULL)
        return unregister(ev, r, q, bare, aff);
    if ((x = api->stanza_child(q, "x", NS_DATA)) == NULL) {
        api->stanza_error(ev, EMBER_COND_BAD_REQUEST, "expected a data form");
        return EMBER_HOOK_HANDLED;
    }
    return submit(ev, r, x, bare, aff);
}


/* 9.9: an admin's answer to a registration request. */
int
muc_register_answer(muc_t *mu, const ember_event_t *ev, muc_room_t *r,
                    ember_stanza_t *form)
{
    const char *type = api->stanza_attr(form, "type");
    const char *allow = api->form_value(form, F_ALLOW);
    muc_regreq_t **pp, *q;
    char *nick;
    int yes;

    (void) mu;
    if (muc_aff_get(r, api->jid_bare(ev->from)) < AFF_ADMIN) {
        api->stanza_error(ev, EMBER_COND_FORBIDDEN,
                          "only admins answer registration requests");
        return EMBER_HOOK_HANDLED;
    }
    if (type != NULL && strcmp(type, "cancel") == 0)
        return EMBER_HOOK_HANDLED;
    nick = muc_nick_prep(r, api->form_value(form, F_NICK));
    if (type == NULL || strcmp(type, "submit") != 0 || nick == NULL ||
        muc_bool(allow, &yes) < 0) {
        free(nick);
        api->stanza_error(ev, EMBER_COND_BAD_REQUEST, F_NICK " and "
                          F_ALLOW " are required");
        return EMBER_HOOK_HANDLED;
    }
    if ((pp = req_find(r, NULL, nick)) == NULL) {
        free(nick);
        api->stanza_error(ev, EMBER_COND_ITEM_NOT_FOUND,
                          "no registration request for that nickname");
        return EMBER_HOOK_HANDLED;
    }
    free(nick);
    q = *pp;
    *pp = q->next;
    if (!yes) {
        req_free(q);
        return EMBER_HOOK_HANDLED;
    }
    if (muc_aff_get(r, q->bare) == AFF_OUTCAST)
        api->stanza_error(ev, EMBER_COND_NOT_ALLOWED, "the user is banned");
    else if (muc_nick_taken(r, q->nick, q->bare))
        api->stanza_error(ev, EMBER_COND_CONFLICT,
                          "the nickname was reserved meanwhile");
    else if (do_register(r, q->bare, q->nick) < 0)
        api->stanza_error(ev, EMBER_COND_RESOURCE_CONSTRAINT, NULL);
    req_free(q);
    return EMBER_HOOK_HANDLED;
}
