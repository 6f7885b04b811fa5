/* ps_req.h -- one pubsub request in flight, and the helpers the request
 * handlers (ps_iq.c, ps_owner.c, ps_disco.c) share.  Internal to the
 * engine. */
#ifndef PS_REQ_H
#define PS_REQ_H

#include "ps.h"

typedef struct {
    ps_ctx_t *c;
    ember_stanza_t *st;   /* copy of the request */
    char *from;           /* full JID of the sender */
    char *bare;
    ps_service_t *svc;
    ember_roster_t *roster;
} req_t;

#define A (r->c->api)

/* Answer the request with an error (app: a pubsub#errors condition). */
void ps_req_fail(req_t *r, ember_cond_t cond, const char *app,
                 const char *text);
/* Answer the request with a result holding payload (taken; may be NULL). */
void ps_req_result(req_t *r, ember_stanza_t *payload);
ember_stanza_t *ps_req_pubsub(req_t *r, const char *ns);
/* The jabber:x:data child of parent, or NULL. */
const ember_stanza_t *ps_req_form(req_t *r, const ember_stanza_t *parent);
void ps_make_id(ps_ctx_t *c, char *buf, size_t len);
ember_stanza_t *ps_req_sub_element(req_t *r, ember_stanza_t *parent,
                                   ps_node_t *n, const char *jid,
                                   json_t *sub, int with_node);
int ps_req_same_bare(req_t *r, const char *jid);
const char *ps_req_prep(req_t *r, const char *jid, char *buf, size_t len);
void ps_req_send_last(req_t *r, ps_node_t *n, const char *jid);
void ps_req_tell_subscriber(req_t *r, ps_node_t *n, const char *jid,
                            const char *state);

void ps_owner_dispatch(req_t *r, const ember_stanza_t *ps, int set);
void ps_disco_info(req_t *r, const ember_stanza_t *q);
void ps_disco_items(req_t *r, const ember_stanza_t *q);

#endif
