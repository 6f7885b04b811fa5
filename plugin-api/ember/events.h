/*
 * ember/events.h -- event names.  Events are strings, not ids: a new event
 * needs no ABI change.  doc/events.md lists each with its ev->data.
 *
 * Stanza events, fired by the router for every stanza it routes:
 *
 *   <kind>[-<type>]/<to>[/<xmlns>:<local>]
 *
 *   kind   message | presence | iq
 *   type   iq only: get, set, result, error; the type-less name is fired
 *          first, then the typed one ("iq/host/...", then "iq-get/host/...")
 *   to     host  addressed to the server's domain (no node)
 *          bare  addressed to an account's bare JID (and iq to self)
 *          full  addressed to a full JID
 *          self  from an account to its own bare JID (fired before bare)
 *   xmlns:local  iq only: the namespace and name of the iq payload
 *
 *   iq-get/host/urn:xmpp:ping:ping      a ping to the server
 *   iq-set/self/jabber:iq:roster:query  a roster set from its owner
 *   message/bare  presence/full  presence/host  presence/bare
 *
 * "pre-" events (pre-message/bare, pre-presence/host ...) fire for stanzas
 * coming from a local client before the router stamps delivery; a handler
 * that returns EMBER_HOOK_HANDLED stops the stanza there.
 *
 * When nothing handles a stanza event the core does the default: deliver
 * to local sessions by the rules of RFC 6121 section 8, or answer an
 * unhandled iq get/set with service-unavailable.
 */
#ifndef EMBER_EVENTS_H
#define EMBER_EVENTS_H

/* ev->origin is the session; ev->data NULL. */
#define EMBER_EV_SESSION_BOUND "session-bound"
/* ev->origin is the session, still addressable; ev->data NULL. */
#define EMBER_EV_SESSION_CLOSED "session-closed"
/* ev->origin asks for features; ev->data is the <stream:features/> element
 * (an ember_stanza_t *) to append to.  Fired after authentication. */
#define EMBER_EV_STREAM_FEATURES "stream-features"
/* A message to an existing account without an available resource;
 * ev->stanza is the message.  Unhandled: the RFC 6121 default applies. */
#define EMBER_EV_MESSAGE_OFFLINE "message/offline"
/* ev->data is the user name (const char *). */
#define EMBER_EV_USER_CREATED "user-created"
#define EMBER_EV_USER_DELETED "user-deleted"
/* Minor 6: fired (api->fire) by the module answering disco#info for an
 * account's bare JID (mod_pep); ev->stanza is the <query/> being built:
 * modules add <feature/> elements for what they serve on accounts
 * (XEP-0313's urn:xmpp:mam:2, say). */
#define EMBER_EV_ACCOUNT_DISCO_INFO "disco-info/account"
/* Minor 6: a stanza was kept for a session whose connection is lost and
 * that waits for its client to resume it (XEP-0198); ev->origin is that
 * session, ev->stanza the stanza.  Push notifications (XEP-0357) wake
 * the client. */
#define EMBER_EV_STANZA_HIBERNATED "stanza/hibernated"
/* Before authentication, once the stream is secure (minor 1): ev->origin
 * is the session, ev->data the <stream:features/> element to append to.
 * Iq stanzas of such a session fire "iq[-type]/unauth[/xmlns:local]" with
 * ev->from and ev->to NULL; api->iq_result and api->stanza_error answer
 * on the session.  Unhandled, they end the stream with not-authorized. */
#define EMBER_EV_STREAM_FEATURES_UNAUTH "stream-features-unauth"
/* ev->data NULL: the host's modules are loaded. */
#define EMBER_EV_HOST_ACTIVATED "host-activated"
/* Minor 7: the server is stopping; fired on each host before its
 * client streams end with system-shutdown, so that what modules send
 * now still reaches them (XEP-0045 11.2: rooms say 332).  ev->data NULL.
 * A core before minor 7 never fires it. */
#define EMBER_EV_SERVER_STOPPING "server-stopping"
/* Minor 10, in ev->flags: the message was delivered before, to a session
 * that is gone without acknowledging it (its stream management wait
 * ended, its cluster node died), and is routed again to the account's
 * other resources or offline storage.  What was done once for it (an
 * archive row, its XEP-0359 stanza-id) is not done again. */
#define EMBER_EV_AGAIN 0x1u
/* Minor 10, followed by a module's name: another node of the cluster
 * said (api->cluster_notify) that ev->data, a key (const char *), changed
 * in shared storage.  ev->host is NULL. */
#define EMBER_EV_CLUSTER_NOTICE "cluster-notice/"

#endif
