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
 * V2 lets a module act on an account's service as the account itself:
 * read the newest items of a node (items), publish an item (publish, the
 * node created with the given publish-options when absent) and retract one
 * (retract), with the same checks and notifications as the account's own
 * client would get.  The engine fires EMBER_PUBSUB_EV_ITEM on the host
 * after every item published or retracted on an account's service, so a
 * module can follow what clients store there (XEP-0398, XEP-0402 compat).
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
#include <ember/errno.h>

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

/*
 * How a V2 call ended: status 0, or a negative EMBER_E* with the stanza
 * condition a client would have got (cond; app names the pubsub#errors
 * one, "precondition-not-met" say, or NULL): EMBER_EPROTO when the engine
 * refused, EMBER_ECANCELED when mod_pubsub unloaded first.  For items(),
 * `items` is the <items node='...'/> element of a client's answer (its
 * <item id='...'/> children newest first) and `config` the node's
 * configuration, a jabber:x:data form of type result
 * (pubsub#node_config, read it with api->form_value); both borrowed for
 * the call, NULL on error.
 */
typedef void (*ember_pubsub_done_cb)(int status, ember_cond_t cond,
                                     const char *app, void *ud);
typedef void (*ember_pubsub_items_cb)(int status, ember_cond_t cond,
                                      ember_stanza_t *items,
                                      const ember_stanza_t *config,
                                      void *ud);

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

    /* ---- V2 (in place of the four reserved slots) ---- */

    /*
     * The newest `max` items (0: all) of `node` on the service of
     * `account` (a bare JID of the host), as read by the account.  cb is
     * called once, maybe before items() returns; not when items() returns
     * an error.  EMBER_EPROTO with item-not-found when there is no node.
     */
    int (*items)(const ember_pubsub_iface_t *self, const char *account,
                 const char *node, int max, ember_pubsub_items_cb cb,
                 void *ud, const ember_pubsub_opts_t *opts);

    /*
     * Publish `payload` (copied) as item `id` (NULL: the engine names it)
     * of `node` on the service of `account`, as the account: the node is
     * created when absent, configured by `options` (a jabber:x:data
     * submit form of pubsub#publish-options, copied; NULL: the defaults),
     * and when it exists `options` are preconditions (XEP-0060 7.1.5:
     * conflict, precondition-not-met).  The item is stored, notified to
     * subscribers and contacts as a client's publish would be, and fires
     * EMBER_PUBSUB_EV_ITEM with `by_module` set.  done may be NULL.
     */
    int (*publish)(const ember_pubsub_iface_t *self, const char *account,
                   const char *node, const char *id,
                   const ember_stanza_t *payload,
                   const ember_stanza_t *options, ember_pubsub_done_cb done,
                   void *ud, const ember_pubsub_opts_t *opts);

    /* Retract item `id` of `node` (notify='true'), as the account. */
    int (*retract)(const ember_pubsub_iface_t *self, const char *account,
                   const char *node, const char *id,
                   ember_pubsub_done_cb done, void *ud,
                   const ember_pubsub_opts_t *opts);

    /*
     * Forget every pending call that would call back cb or done (either
     * may be NULL).  A consumer calls it from unload() with each of its
     * callbacks; what their ud pointed to is the consumer's to free.
     */
    void (*cancel)(const ember_pubsub_iface_t *self,
                   ember_pubsub_items_cb cb, ember_pubsub_done_cb done);

    uintptr_t reserved[4]; /* zero */
};

#define EMBER_PUBSUB_IFACE_V1 offsetof(ember_pubsub_iface_t, items)
#define EMBER_PUBSUB_IFACE_V2 offsetof(ember_pubsub_iface_t, reserved)

/*
 * Fired by mod_pubsub on the host (api->fire, ev->data an
 * ember_pubsub_event_t) once an item of an account's service is stored
 * and notified, or retracted: by the account's clients, or through
 * publish()/retract() (by_module 1).  `payload` is the item's payload
 * (NULL when retracted), `access_model` the node's pubsub#access_model.
 */
#define EMBER_PUBSUB_EV_ITEM "pubsub-item"

typedef struct ember_pubsub_event_s {
    uint32_t size;
    const char *account; /* bare JID */
    const char *node;
    const char *id;
    const ember_stanza_t *payload;
    int retracted;
    int by_module;
    const char *access_model;
} ember_pubsub_event_t;

/* True when the provider's struct has field `fn` and it is set. */
#define EMBER_PUBSUB_HAS(pi, fn)                                             \
    (offsetof(ember_pubsub_iface_t, fn) + sizeof((pi)->fn) <= (pi)->size &&  \
     (pi)->fn != NULL)

#endif
