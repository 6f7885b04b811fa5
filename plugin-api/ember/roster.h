/*
 * ember/roster.h -- the "roster" interface published by mod_roster.
 *
 * mod_roster keeps every user's roster (RFC 6121 section 2) and publishes,
 * on each host it is enabled on:
 *
 *     api->iface_provide(m, EMBER_ROSTER_IFACE, &iface)
 *
 * A consumer (presence, last, blocking, pep, muc ...) lists "roster" in its
 * `depends`, and looks the interface up each time it needs it (never keep
 * the pointer past the current callback: it is withdrawn when mod_roster
 * unloads):
 *
 *     const ember_roster_iface_t *ri = api->iface_get(m, EMBER_ROSTER_IFACE);
 *     if (ri == NULL || !EMBER_ROSTER_HAS(ri, item_set)) ...
 *     ri->load(ri, "alice", on_roster, ud);
 *
 * Users are named by their node ("alice") on the host of the interface.
 * Contacts are bare JIDs in prepared form ("bob@example.org"): pass what
 * api->jid_bare() gives.
 *
 * Every function runs on the core thread, as every callback it calls.
 * The struct is append-only: check `size` (EMBER_ROSTER_HAS) before calling
 * a field newer than EMBER_ROSTER_IFACE_V1.
 */
#ifndef EMBER_ROSTER_H
#define EMBER_ROSTER_H

#include <stddef.h>
#include <stdint.h>

#include <ember/types.h>

#define EMBER_ROSTER_IFACE "roster"

/* Subscription bits: BOTH is TO | FROM. */
typedef enum {
    EMBER_SUB_NONE = 0,
    EMBER_SUB_TO = 1,   /* the user receives the contact's presence */
    EMBER_SUB_FROM = 2, /* the contact receives the user's presence */
    EMBER_SUB_BOTH = 3
} ember_sub_t;

/*
 * One roster item.  Read through item() or foreach(): every pointer then
 * points into the roster and stays valid until the roster changes or the
 * current callback returns, whichever comes first.  Written through
 * item_set(): the strings are copied.
 */
typedef struct ember_roster_item_s {
    uint32_t size;              /* sizeof(ember_roster_item_t) of the caller */
    const char *jid;            /* contact bare JID */
    const char *name;           /* NULL when none */
    const char *const *groups;  /* ngroups names (no duplicates) */
    size_t ngroups;
    ember_sub_t subscription;
    int ask;        /* pending out: the user asked to subscribe (ask=
                     * 'subscribe' in the roster) and awaits an answer */
    int pending_in; /* the contact asked to subscribe to the user and the
                     * user has not answered yet */
    int approved;   /* the user pre-approved the contact's subscription
                     * (RFC 6121 section 3.4) */
    int hidden;     /* a record only, not in the user's roster: neither in
                     * roster results nor in pushes (a pending inbound
                     * request from a contact the user has not added) */
    /* The subscription request received from the contact, serialized,
     * kept while pending_in so it can be delivered again at each login;
     * opaque to mod_roster.  NULL when none. */
    const char *pending_stanza;
} ember_roster_item_t;

/* A user's loaded roster; opaque. */
typedef struct ember_roster_s ember_roster_t;

/*
 * Completion of load().  status is 0 with a roster, or a negative EMBER_E*
 * with roster NULL.  The roster may only be used during the callback (or,
 * for a user with a bound session, until the current core callback ends).
 */
typedef void (*ember_roster_cb)(int status, ember_roster_t *roster,
                                void *ud);

/* Completion of item_set() / item_remove(): 0 or a negative EMBER_E*. */
typedef void (*ember_roster_done_cb)(int status, void *ud);

/* Called for each item by foreach(); return non-zero to stop. */
typedef int (*ember_roster_item_cb)(const ember_roster_item_t *item,
                                    void *ud);

typedef struct ember_roster_iface_s ember_roster_iface_t;

struct ember_roster_iface_s {
    uint32_t size; /* sizeof in the provider */

    /* ---- V1 ---- */

    /*
     * Load `user`'s roster and call cb with it.  Rosters of users with a
     * bound session stay cached; cb then runs before load() returns.
     * Returns 0 (cb will be called exactly once) or an error (cb is never
     * called).  A user without a roster gets an empty one.
     */
    int (*load)(const ember_roster_iface_t *self, const char *user,
                ember_roster_cb cb, void *ud);

    /*
     * The cached roster of `user`, or NULL when it is not in memory (no
     * bound session yet, or still loading): use load() then.
     */
    ember_roster_t *(*cached)(const ember_roster_iface_t *self,
                              const char *user);

    /* Fill *out with the item of `contact` (hidden ones included): 0, or
     * EMBER_ENOENT when the roster has no such item.  Set out->size first. */
    int (*item)(const ember_roster_iface_t *self, ember_roster_t *roster,
                const char *contact, ember_roster_item_t *out);

    /* Walk the items (hidden ones included) in no particular order; the
     * roster must not change during the walk.  Returns how many were
     * visited. */
    size_t (*foreach)(const ember_roster_iface_t *self,
                      ember_roster_t *roster, ember_roster_item_cb cb,
                      void *ud);

    /* The roster's XEP-0237 version string. */
    const char *(*version)(const ember_roster_iface_t *self,
                           ember_roster_t *roster);

    /*
     * Create or replace the item item->jid of `user` (loading the roster
     * when needed).  The change is visible to item()/cached() at once;
     * it is stored, then, when the visible item changed, pushed to every
     * interested resource of the user (RFC 6121 section 2.1.6) and the
     * roster version moves on; then done (may be NULL) is called.
     * Fires "roster-item-changed" (see doc/modules/roster.md).
     */
    int (*item_set)(const ember_roster_iface_t *self, const char *user,
                    const ember_roster_item_t *item,
                    ember_roster_done_cb done, void *ud);

    /*
     * Remove `contact` from `user`'s roster: stored, pushed with
     * subscription='remove', then done.  EMBER_ENOENT (through done) when
     * there is no such item.  This only edits the roster: a client's
     * roster remove also makes mod_presence send unsubscribe/unsubscribed
     * (RFC 6121 section 2.5.2), through the "roster-item-removing" event.
     */
    int (*item_remove)(const ember_roster_iface_t *self, const char *user,
                       const char *contact, ember_roster_done_cb done,
                       void *ud);

    /* Is `resource` of `user` an interested resource (asked for the
     * roster on this session)?  1 or 0. */
    int (*interested)(const ember_roster_iface_t *self, const char *user,
                      const char *resource);

    /* ---- V2 (in place of two reserved slots) ---- */

    /*
     * Forget every pending load() that would call cb, and every pending
     * item_set()/item_remove() that would call done (either may be NULL).
     * A consumer calls it from unload() with each of its callbacks, so it
     * is never called back once gone; what the callbacks' ud pointed to
     * is the consumer's to free.
     */
    void (*cancel)(const ember_roster_iface_t *self, ember_roster_cb cb,
                   ember_roster_done_cb done);

    uintptr_t reserved[3]; /* zero */
};

/*
 * ev->data of the events mod_roster fires on its host:
 *
 * "roster-item-removing"  a client's roster remove (or the roster-remove
 *     command) is about to remove `item`, still intact; mod_presence
 *     answers it with unsubscribe/unsubscribed (RFC 6121 section 2.5.2).
 *     `origin` is the client's session, NULL for a command.
 * "roster-item-changed"   `item` of `user` was stored (item->jid set,
 *     the new item; removed is 1 when it was removed, item then being the
 *     old one).  Fired after the change is durable and pushed.
 */
typedef struct ember_roster_event_s {
    uint32_t size;
    const char *user;
    const ember_roster_item_t *item;
    int removed;
    ember_session_t *origin;
} ember_roster_event_t;

#define EMBER_ROSTER_EV_REMOVING "roster-item-removing"
#define EMBER_ROSTER_EV_CHANGED "roster-item-changed"

#define EMBER_ROSTER_IFACE_V1 offsetof(ember_roster_iface_t, reserved)

/* True when the provider's struct has field `fn` and it is set. */
#define EMBER_ROSTER_HAS(ri, fn)                                             \
    (offsetof(ember_roster_iface_t, fn) + sizeof((ri)->fn) <= (ri)->size &&  \
     (ri)->fn != NULL)

/*
 * The "roster-shared" interface: contacts a module puts into users'
 * rosters without the users adding them (shared roster groups, mod_groups).
 * mod_roster looks it up on its host when present and merges what it says
 * into every roster it shows: to the user's clients (roster results and
 * pushes, XEP-0237 versions) and to other modules through the "roster"
 * interface above, where a shared contact is an item with subscription
 * BOTH, the shared group names added to the user's own groups for that
 * contact, and the user's own name for it kept.
 *
 * Users are nodes of the provider's host, contacts bare JIDs, as above.
 * A contact the user is not shown but who is shown the user ("related",
 * no groups) is an item of the "roster" interface with subscription BOTH
 * and no groups (presence flows both ways) but not in the user's client
 * roster.  Every function runs on the core thread and answers at once.
 */
#define EMBER_ROSTER_SHARED_IFACE "roster-shared"

/* Called by foreach() for each contact related to the user: groups are
 * the names the contact is shown under (ngroups 0: related only). */
typedef int (*ember_roster_shared_cb)(const char *contact,
                                      const char *const *groups,
                                      size_t ngroups, void *ud);

typedef struct ember_roster_shared_iface_s ember_roster_shared_iface_t;

struct ember_roster_shared_iface_s {
    uint32_t size; /* sizeof in the provider */

    /*
     * Is `contact` related to `user`?  1 with *groups and *ngroups set
     * (the group names `user` is shown `contact` under; ngroups 0 when
     * `user` is only shown to `contact`), or 0.  *groups stays valid
     * until the next call into the provider or the end of the current
     * callback, whichever comes first.
     */
    int (*lookup)(const ember_roster_shared_iface_t *self, const char *user,
                  const char *contact, const char *const **groups,
                  size_t *ngroups);

    /* Walk every contact related to `user`; cb returns non-zero to stop.
     * The provider must not be changed during the walk.  Returns how
     * many were visited. */
    size_t (*foreach)(const ember_roster_shared_iface_t *self,
                      const char *user, ember_roster_shared_cb cb, void *ud);

    /*
     * A short string that changes whenever what `user` is shown changes
     * (mod_roster appends it to the roster's XEP-0237 version); "" when
     * the user is shown nothing.  Valid as *groups above.
     */
    const char *(*version)(const ember_roster_shared_iface_t *self,
                           const char *user);

    uintptr_t reserved[4]; /* zero */
};

/*
 * ev->data of "roster-shared-changed", fired by the provider on its host
 * after what `user` (a node) is shown of `contact` changed: mod_roster
 * pushes the merged item (or its removal) to the user's interested
 * resources (RFC 6121 section 2.1.6) with the new version.
 */
typedef struct ember_roster_shared_event_s {
    uint32_t size;
    const char *user;
    const char *contact;
} ember_roster_shared_event_t;

#define EMBER_ROSTER_EV_SHARED "roster-shared-changed"

#define EMBER_ROSTER_SHARED_HAS(si, fn)                                      \
    (offsetof(ember_roster_shared_iface_t, fn) + sizeof((si)->fn) <=         \
         (si)->size && (si)->fn != NULL)

/* Convenience: the subscription name used on the wire. */
static inline const char *
ember_sub_name(ember_sub_t sub)
{
    switch (sub) {
    case EMBER_SUB_TO: return "to";
    case EMBER_SUB_FROM: return "from";
    case EMBER_SUB_BOTH: return "both";
    default: return "none";
    }
}

#endif
