/* muc_iq.c -- iq to an occupant JID (XEP-0045 17.4): forwarded to the
 * occupant's real JID from the sender's occupant JID, under an id of the
 * service's, so that the answer finds its way back without either side
 * learning the other's real JID. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "muc.h"

/* Requests awaiting an answer, per service; the oldest one gives way. */
#define FWD_MAX 256

typedef struct muc_fwd_s {
    struct muc_fwd_s *next;
    char id[40];            /* the id the occupant sees */
    char *orig_id;
    char *sender;           /* full JID of the asking session */
    char *target;           /* full JID the request went to */
    char *target_occ;       /* the occupant JID it was addressed to */
    char *sender_occ;       /* the asker's, which the answer goes to */
} muc_fwd_t;


static void
fwd_free(muc_fwd_t *f)
{
    free(f->orig_id);
    free(f->sender);
    free(f->target);
    free(f->target_occ);
    free(f->sender_occ);
    free(f);
}


/* The sender of a request that will never be answered hears so. */
static void
fwd_give_up(muc_t *mu, muc_fwd_t *f)
{
    ember_stanza_t *req = muc_stanza("iq", f->sender, f->target_occ, "get");

    if (req == NULL)
        return;
    api->stanza_set_attr(req, "id", f->orig_id);
    muc_send(mu, api->error_reply(req, EMBER_COND_REMOTE_SERVER_TIMEOUT,
                                  "no answer from the occupant"));
    api->stanza_free(req);
}


void
muc_iq_cleanup(muc_t *mu)
{
    muc_fwd_t *f;

    while ((f = mu->fwds) != NULL) {
        mu->fwds = f->next;
        fwd_free(f);
    }
    mu->nfwd = 0;
}


int
muc_iq_forward(muc_t *mu, const ember_event_t *ev, muc_room_t *r,
               const muc_occ_t *from, const muc_occ_t *to)
{
    const char *id = api->stanza_attr(ev->stanza, "id");
    size_t occ_len = strlen(r->jid) + strlen(from->nick) + 2;
    muc_fwd_t *f, **pp;
    ember_stanza_t *st;

    if (to->sessions == NULL) {
        api->stanza_error(ev, EMBER_COND_ITEM_NOT_FOUND, NULL);
        return EMBER_HOOK_HANDLED;
    }
    if ((f = calloc(1, sizeof(*f))) == NULL ||
        (f->orig_id = muc_strdup(id != NULL ? id : "")) == NULL ||
        (f->sender = muc_strdup(api->jid_full(ev->from))) == NULL ||
        (f->target = muc_strdup(to->sessions->jid)) == NULL ||
        (f->target_occ = muc_strdup(api->jid_full(ev->to))) == NULL ||
        (f->sender_occ = malloc(occ_len)) == NULL ||
        (st = api->stanza_copy(ev->stanza)) == NULL) {
        if (f != NULL)
            fwd_free(f);
        api->stanza_error(ev, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return EMBER_HOOK_HANDLED;
    }
    snprintf(f->id, sizeof(f->id), "muc-iq-%" PRIu64, ++mu->fwd_seq);
    snprintf(f->sender_occ, occ_len, "%s/%s", r->jid, from->nick);
    api->stanza_set_attr(st, "from", f->sender_occ);
    api->stanza_set_attr(st, "to", f->target);
    api->stanza_set_attr(st, "id", f->id);
    if (mu->nfwd >= FWD_MAX) {
        for (pp = &mu->fwds; (*pp)->next != NULL; pp = &(*pp)->next)
            ;
        fwd_give_up(mu, *pp);
        fwd_free(*pp);
        *pp = NULL;
        mu->nfwd--;
    }
    f->next = mu->fwds;
    mu->fwds = f;
    mu->nfwd++;
    muc_send(mu, st);
    return EMBER_HOOK_HANDLED;
}


/* A result or error to an occupant JID: the answer to a forwarded
 * request, from the session it went to, goes back to the asker. */
void
muc_iq_answer(muc_t *mu, const ember_event_t *ev)
{
    const char *id = api->stanza_attr(ev->stanza, "id");
    muc_fwd_t *f, **pp;
    ember_stanza_t *st;

    if (id == NULL)
        return;
    for (pp = &mu->fwds; (f = *pp) != NULL; pp = &f->next)
        if (strcmp(f->id, id) == 0 &&
            strcmp(f->target, api->jid_full(ev->from)) == 0 &&
            strcmp(f->sender_occ, api->jid_full(ev->to)) == 0)
            break;
    if (f == NULL)
        return;
    *pp = f->next;
    mu->nfwd--;
    if ((st = api->stanza_copy(ev->stanza)) != NULL) {
        api->stanza_set_attr(st, "from", f->target_occ);
        api->stanza_set_attr(st, "to", f->sender);
        api->stanza_set_attr(st, "id", f->orig_id);
        muc_send(mu, st);
    }
    fwd_free(f);
}
