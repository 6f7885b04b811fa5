/*
 * ember/caps.h -- the "caps" interface published by mod_caps.
 *
 * mod_caps learns the features of each client session from the XEP-0115
 * <c/> of its broadcast presence (querying the client once per new
 * verification string, checking the hash, caching the answer for every
 * later session with the same string) and publishes, on each host it is
 * enabled on:
 *
 *     api->iface_provide(m, EMBER_CAPS_IFACE, &iface)
 *
 * A consumer (PEP's +notify, say) looks it up each time it needs it, never
 * keeping the pointer past the current callback (it is withdrawn when
 * mod_caps unloads):
 *
 *     const ember_caps_iface_t *ci = api->iface_get(m, EMBER_CAPS_IFACE);
 *     if (ci != NULL && ci->has_feature(ci, NULL, "juliet@example.org/a",
 *                                       "urn:xmpp:mood+notify") == 1) ...
 *
 * Every function takes a session or, when `s` is NULL, the session's full
 * JID in prepared form (as api->jid_full() gives it).  Only bound client
 * sessions of the interface's host have features.  Every function runs on
 * the core thread.  The struct is append-only: check `size`
 * (EMBER_CAPS_HAS) before calling a field newer than EMBER_CAPS_IFACE_V1.
 */
#ifndef EMBER_CAPS_H
#define EMBER_CAPS_H

#include <stddef.h>
#include <stdint.h>

#include <ember/types.h>

#define EMBER_CAPS_IFACE "caps"

/* Module event fired by mod_caps on its host; ev->data is an
 * ember_caps_event_t. */
#define EMBER_CAPS_EV_UPDATED "caps-updated"

/* Called for each feature by foreach_feature(); non-zero stops. */
typedef int (*ember_caps_feature_cb)(const char *feature, void *ud);

typedef struct ember_caps_iface_s ember_caps_iface_t;

struct ember_caps_iface_s {
    uint32_t size; /* sizeof in the provider */

    /* ---- V1 ---- */

    /*
     * 1 when the session's features are known, 0 when they are not (no
     * caps in its presence, legacy caps, still being asked, or the client
     * answered with features that do not match its hash), EMBER_ENOENT
     * when there is no such bound session.
     */
    int (*known)(const ember_caps_iface_t *self, ember_session_t *s,
                 const char *full_jid);

    /* 1 when the session's known features include `feature`, else 0
     * (unknown features included). */
    int (*has_feature)(const ember_caps_iface_t *self, ember_session_t *s,
                       const char *full_jid, const char *feature);

    /*
     * Call cb with each feature, in "i;octet" order.  Returns how many
     * were visited, or EMBER_ENOENT when the features are not known.
     */
    int (*foreach_feature)(const ember_caps_iface_t *self,
                           ember_session_t *s, const char *full_jid,
                           ember_caps_feature_cb cb, void *ud);

    /*
     * The node, hash name and verification string the session announced
     * last (any may be NULL).  The strings live until its next presence.
     * 0, or EMBER_ENOENT when the session announced no caps.
     */
    int (*announced)(const ember_caps_iface_t *self, ember_session_t *s,
                     const char *full_jid, const char **node,
                     const char **hash, const char **ver);

    uintptr_t reserved[4]; /* zero */
};

/*
 * ev->data of "caps-updated": the features of `session` became known (or
 * changed, when it announced another verification string that was already
 * known).  Every pointer is valid during the event only.
 */
typedef struct ember_caps_event_s {
    uint32_t size;
    ember_session_t *session;
    const char *jid;  /* its full JID */
    const char *node;
    const char *hash;
    const char *ver;
} ember_caps_event_t;

#define EMBER_CAPS_IFACE_V1 offsetof(ember_caps_iface_t, reserved)

/* True when the provider's struct has field `fn` and it is set. */
#define EMBER_CAPS_HAS(ci, fn)                                               \
    (offsetof(ember_caps_iface_t, fn) + sizeof((ci)->fn) <= (ci)->size &&    \
     (ci)->fn != NULL)

#endif
