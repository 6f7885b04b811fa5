/* muc_msg.c -- groupchat messages, subject changes and private messages
 * between occupants (XEP-0045 7.4, 7.5, 8.1). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "muc.h"


/* Send msg (its 'from' set) to every session of every occupant. */
void
muc_broadcast_msg(muc_room_t *r, ember_stanza_t *msg, int keep)
{
    muc_occ_t *o;
    muc_sess_t *s;
    ember_stanza_t *cp;

    for (o = r->occs; o != NULL; o = o->next)
        for (s = o->sessions; s != NULL; s = s->next) {
            if ((cp = api->stanza_copy(msg)) == NULL)
                continue;
            api->stanza_set_attr(cp, "to", s->jid);
            api->route(r->muc->m, cp);
        }
    if (!keep)
        api->stanza_free(msg);
}


void
muc_status_message(muc_room_t *r, const int *codes, int ncodes)
{
    ember_stanza_t *m = muc_stanza("message", r->jid, NULL, "groupchat");
    ember_stanza_t *x, *s;
    char buf[16];
    int i;

    if (m == NULL ||
        (x = api->stanza_add_child(m, "x", NS_MUC_USER)) == NULL) {
        api->stanza_free(m);
        return;
    }
    for (i = 0; i < ncodes; i++)
        if ((s = api->stanza_add_child(x, "status", NULL)) != NULL) {
            snprintf(buf, sizeof(buf), "%d", codes[i]);
            api->stanza_set_attr(s, "code", buf);
        }
    muc_broadcast_msg(r, m, 0);
}


/* The message as the room sends it on, from room/nick. */
static ember_stanza_t *
reflect(muc_room_t *r, muc_occ_t *o, const ember_stanza_t *st)
{
    ember_stanza_t *cp = api->stanza_copy(st);
    char from[3072];

    if (cp == NULL)
        return NULL;
    snprintf(from, sizeof(from), "%s/%s", r->jid, o->nick);
    api->stanza_set_attr(cp, "from", from);
    api->stanza_set_attr(cp, "to", NULL);
    return cp;
}


static int
subject_change(muc_t *mu, const ember_event_t *ev, muc_room_t *r,
               muc_occ_t *o, ember_stanza_t *subj)
{
    ember_stanza_t *m;

    if (!(o->role == ROLE_MODERATOR ||
          (r->c.change_subject && o->role >= ROLE_PARTICIPANT))) {
        api->stanza_error(ev, EMBER_COND_FORBIDDEN,
                          "you may not change the subject");
        return EMBER_HOOK_HANDLED;
    }
    muc_set(&r->subject, api->stanza_text(subj));
    muc_set(&r->subject_nick, o->nick);
    if ((m = reflect(r, o, ev->stanza)) != NULL) {
        muc_mam_stamp(r, o, api->jid_full(ev->from), m);
        muc_broadcast_msg(r, m, 0);
    }
    muc_store_save(r);
    return EMBER_HOOK_HANDLED;
}


/* nick in text as a word of its own, whatever the case. */
static int
mentions(const char *text, const char *nick)
{
    size_t n = strlen(nick);
    const char *p;

    if (n == 0)
        return 0;
    for (p = text; *p != '\0'; p++)
        if (strncasecmp(p, nick, n) == 0 &&
            (p == text || !isalnum((unsigned char) p[-1])) &&
            !isalnum((unsigned char) p[n]))
            return 1;
    return 0;
}


/* Registered members away from the room whose nickname a message names:
 * MUC_EV_MENTION lets a push service wake their phones (XEP-0357). */
static void
tell_mentions(muc_room_t *r, ember_stanza_t *m)
{
    const char *text = api->stanza_text(api->stanza_child(m, "body", NULL));
    muc_aff_t *a;

    for (a = r->affs; text != NULL && a != NULL; a = a->next)
        if (a->nick != NULL && a->aff >= AFF_MEMBER &&
            mentions(text, a->nick) && muc_occ_by_bare(r, a->jid) == NULL)
            api->fire(r->muc->m, MUC_EV_MENTION, m, a->jid);
}


static int
groupchat(muc_t *mu, const ember_event_t *ev, muc_room_t *r, muc_occ_t *o)
{
    ember_stanza_t *subj = api->stanza_child(ev->stanza, "subject", NULL);
    ember_stanza_t *body = api->stanza_child(ev->stanza, "body", NULL);
    ember_stanza_t *m;

    if (o == NULL) {
        api->stanza_error(ev, EMBER_COND_NOT_ACCEPTABLE,
                          "only occupants may send messages to the room");
        return EMBER_HOOK_HANDLED;
    }
    if (!muc_rate_ok(mu, o)) {
        api->stanza_error(ev, EMBER_COND_RESOURCE_CONSTRAINT,
                          "you are sending messages too fast");
        return EMBER_HOOK_HANDLED;
    }
    if (subj != NULL && body == NULL)
        return subject_change(mu, ev, r, o, subj);
    if (o->role < ROLE_PARTICIPANT) {
        api->stanza_error(ev, EMBER_COND_FORBIDDEN,
                          "visitors have no voice in this room");
        return EMBER_HOOK_HANDLED;
    }
    if ((m = reflect(r, o, ev->stanza)) == NULL) {
        api->stanza_error(ev, EMBER_COND_RESOURCE_CONSTRAINT, NULL);
        return EMBER_HOOK_HANDLED;
    }
    muc_mam_stamp(r, o, api->jid_full(ev->from), m);
    if (body != NULL)
        muc_hist_add(r, m, muc_now_us(), 1);
    muc_broadcast_msg(r, m, 1);
    tell_mentions(r, m);
    api->stanza_free(m);
    return EMBER_HOOK_HANDLED;
}


/* XEP-0045 7.5: private messages go to every session of the nick. */
static int
private_message(muc_t *mu, const ember_event_t *ev, muc_room_t *r,
                muc_occ_t *o, const char *nick)
{
    muc_occ_t *t = muc_occ_by_nick(r, nick);
    ember_stanza_t *m, *cp;
    muc_sess_t *s;
    int pm = r->c.allow_pm;

    if (o == NULL) {
        api->stanza_error(ev, EMBER_COND_NOT_ACCEPTABLE,
                          "only occupants may send private messages");
        return EMBER_HOOK_HANDLED;
    }
    if (t == NULL) {
        api->stanza_error(ev, EMBER_COND_ITEM_NOT_FOUND, "no such occupant");
        return EMBER_HOOK_HANDLED;
    }
    if (o->role != ROLE_MODERATOR &&
        (pm == PM_NONE || (pm == PM_MODERATORS) ||
         (pm == PM_PARTICIPANTS && o->role < ROLE_PARTICIPANT))) {
        api->stanza_error(ev, EMBER_COND_FORBIDDEN,
                          "private messages are not allowed in this room");
        return EMBER_HOOK_HANDLED;
    }
    if (!muc_rate_ok(mu, o)) {
        api->stanza_error(ev, EMBER_COND_RESOURCE_CONSTRAINT,
                          "you are sending messages too fast");
        return EMBER_HOOK_HANDLED;
    }
    if ((m = reflect(r, o, ev->stanza)) == NULL) {
        api->stanza_error(ev, EMBER_COND_RESOURCE_CONSTRAINT, NULL);
        return EMBER_HOOK_HANDLED;
    }
    if (api->stanza_child(m, "x", NS_MUC_USER) == NULL)
        api->stanza_add_child(m, "x", NS_MUC_USER);
    for (s = t->sessions; s != NULL; s = s->next)
        if ((cp = api->stanza_copy(m)) != NULL) {
            api->stanza_set_attr(cp, "to", s->jid);
            muc_send(mu, cp);
        }
    api->stanza_free(m);
    return EMBER_HOOK_HANDLED;
}


/* A data form of a given FORM_TYPE among the children of st. */
static ember_stanza_t *
form_child(const ember_stanza_t *st, const char *form_type)
{
    ember_stanza_t *c;
    const char *ft;

    for (c = api->stanza_first(st); c != NULL; c = api->stanza_next(c)) {
        if (strcmp(api->stanza_name(c), "x") != 0 ||
            strcmp(api->stanza_xmlns(c), NS_DATA) != 0)
            continue;
        ft = api->form_value(c, "FORM_TYPE");
        if (ft != NULL && strcmp(ft, form_type) == 0)
            return c;
    }
    return NULL;
}


int
muc_on_message(muc_t *mu, const ember_event_t *ev, muc_room_t *r)
{
    const char *type = api->stanza_attr(ev->stanza, "type");
    const char *nick = api->jid_resource(ev->to);
    ember_stanza_t *x, *form;
    muc_occ_t *o;

    if (type != NULL && strcmp(type, "error") == 0)
        return EMBER_HOOK_HANDLED;
    if (r == NULL || r->locked) {
        api->stanza_error(ev, EMBER_COND_ITEM_NOT_FOUND, "no such room");
        return EMBER_HOOK_HANDLED;
    }
    o = muc_occ_by_jid(r, api->jid_full(ev->from));
    if (nick != NULL) {
        if (type != NULL && strcmp(type, "groupchat") == 0) {
            api->stanza_error(ev, EMBER_COND_BAD_REQUEST,
                              "a groupchat message goes to the room's "
                              "bare JID");
            return EMBER_HOOK_HANDLED;
        }
        return private_message(mu, ev, r, o, nick);
    }
    if (type != NULL && strcmp(type, "groupchat") == 0)
        return groupchat(mu, ev, r, o);
    x = api->stanza_child(ev->stanza, "x", NS_MUC_USER);
    if (x != NULL && (api->stanza_child(x, "invite", NULL) != NULL ||
                      api->stanza_child(x, "decline", NULL) != NULL))
        return muc_invite(mu, ev, r, o, x);
    if ((form = form_child(ev->stanza, NS_MUC_REQUEST)) != NULL)
        return muc_voice_request(mu, ev, r, o, form);
    if ((form = form_child(ev->stanza, NS_MUC_REGISTER)) != NULL)
        return muc_register_answer(mu, ev, r, form);
    api->stanza_error(ev, EMBER_COND_BAD_REQUEST, "send groupchat messages, "
                      "invitations, voice requests or answers to "
                      "registration requests");
    return EMBER_HOOK_HANDLED;
}
