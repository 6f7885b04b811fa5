/* core/router.h -- RFC 6120 section 10 / RFC 6121 section 8 delivery. */
#ifndef EMBER_CORE_ROUTER_H
#define EMBER_CORE_ROUTER_H

#include <ember/plugin.h>

/*
 * Route one stanza (message, presence, iq) whose 'from' is stamped and
 * trusted.  origin is the local session it came from, NULL when the server
 * or a module sends it.  Fires the stanza events, then applies the
 * default delivery rules.  Takes ownership of root.
 */
int ember__route_stanza(ember_stanza_t *root, ember_session_t *origin);
/* An iq of a secure stream not yet authenticated: fires the iq/unauth
 * events; EMBER_HOOK_HANDLED when a module took it.  st stays the
 * caller's. */
int ember__route_preauth_iq(ember_stanza_t *st, ember_session_t *origin);

ember_stanza_t *ember__error_reply(const ember_stanza_t *st,
                                   ember_cond_t cond, const char *text);
/* Route an error reply to st (nothing when st is itself an error). */
void ember__bounce(const ember_stanza_t *st, ember_cond_t cond,
                   const char *text);
int ember__iq_result(const ember_event_t *ev, ember_stanza_t *payload);
/* A result to iq (payload taken, may be NULL), addressed as every reply. */
ember_stanza_t *ember__iq_result_of(const ember_stanza_t *iq,
                                    ember_stanza_t *payload);
/* Send a reply (taken): routed, or onto preauth_origin's stream without
 * addresses when the sender is not authenticated yet. */
int ember__reply_send(ember_stanza_t *r, ember_session_t *preauth_origin);
int ember__stanza_error(const ember_event_t *ev, ember_cond_t cond,
                        const char *text);

#endif
