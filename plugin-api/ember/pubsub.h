/*
 * ember/pubsub.h -- the "pubsub" interface published by mod_pubsub.
 *
 * mod_pubsub's engine (nodes, items, affiliations, subscriptions, access
 * models, forms, persistence, notifications: XEP-0060) serves pubsub.HOST
 * and, through this interface, the pubsub service of every account of its
 * host (XEP-0163, used by mod_pep).  It publishes, on each host it is
 * enabled on (also with its option service="false", which drops
 * pubsub.HOST but keeps the engine):
 *
 *     api->iface_provide(m, EMBER_PUBSUB_IFACE, &iface)
 *
 * A consumer lists "pubsub" in its `depends` and looks the interface up
 * each time it needs it, never keeping the pointer past the current
 * callback (it is withdrawn when mod_pubsub unloads):
 *
 *     const ember_pubsub_iface_t *pi = api->iface_get(m, EMBER_PUBSUB_IFACE);
 *     if (pi == NULL || pi->request(pi, ev, &opts) < 0) ...
 *
 * An account's service has the account's bare JID as address and owner:
 * only the owner creates nodes (its first publish to a node creates it),
 * nodes default to the `presence` access model, and notifications go to
 * explicit subscribers and to the available sessions of the owner and of
 * its contacts whose caps (the "caps" interface) include NODE+notify.  The
 * owner's roster comes from the "roster" interface.  The engine keeps the
 * services in memory, stores them (stores pubsub_nodes and pubsub_items,
 * user = the bare JID) and sends every reply and notification itself.
 *
 * Every function runs on the core thread.  The struct is append-only:
 * check `size` (EMBER_PUBSUB_HAS) before calling a field newer than
 * EMBER_PUBSUB_IFACE_V1.
 */
#ifndef EMBER_PUBSUB_H
#define EMBER_PUBSUB_H

#include <stddef.h>
#include <stdint.h>

#include <ember/types.h>

#define EMBER_PUBSUB_IFACE "pubsub"

/*
 * The caller's settings for its services, passed with every call so that
 * neither side has to register anything with the other (either may be
 * reloaded at any time).  Zero fields take the engine's defaults.
 */
typedef struct ember_pubsub_opts_s {
    uint32_t size;       /* sizeof(ember_pubsub_opts_t) of the caller */
    int max_items;       /* default pubsub#max_items of a new node */
    int max_items_limit; /* largest pubsub#max_items; what "max" means */
    int max_payload;     /* largest item payload, bytes of XML */
} ember_pubsub_opts_t;

typedef struct ember_pubsub_iface_s ember_pubsub_iface_t;

struct ember_pubsub_iface_s {
    uint32_t size; /* sizeof in the provider */

    /* ---- V1 ---- */

    /*
     * Serve an iq get/set (pubsub, pubsub#owner, disco#info, disco#items)
     * addressed to the bare JID ev->to, an account of the host: the engine
     * answers it, now or once the service is loaded.  0, or a negative
     * EMBER_E* when it will not be answered (the caller then lets the core
     * answer it).
     */
    int (*request)(const ember_pubsub_iface_t *self, const ember_event_t *ev,
                   const ember_pubsub_opts_t *opts);

    /*
     * Send the session full_jid the last item of every node of the
     * account's service (bare JID `account`) configured to send it
     * on_sub_and_presence, that the session wants (+notify in its caps)
     * and may access (XEP-0163 section 4.3).  0 or a negative EMBER_E*.
     */
    int (*send_last)(const ember_pubsub_iface_t *self, const char *account,
                     const char *full_jid, const ember_pubsub_opts_t *opts);

    /* Delete every node and item of the account's service. */
    int (*remove)(const ember_pubsub_iface_t *self, const char *account,
                  const ember_pubsub_opts_t *opts);

    uintptr_t reserved[4]; /* zero */
};

#define EMBER_PUBSUB_IFACE_V1 offsetof(ember_pubsub_iface_t, reserved)

/* True when the provider's struct has field `fn` and it is set. */
#define EMBER_PUBSUB_HAS(pi, fn)                                             \
    (offsetof(ember_pubsub_iface_t, fn) + sizeof((pi)->fn) <= (pi)->size &&  \
     (pi)->fn != NULL)

#endif
