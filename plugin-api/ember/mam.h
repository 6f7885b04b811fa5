/*
 * ember/mam.h -- the "mam" interface published by mod_mam.
 *
 * mod_mam keeps XEP-0313 archives in its store and answers the queries
 * of accounts.  Through this interface it keeps and serves the archives
 * of other entities of its host too, a MUC room's (conference.HOST) for
 * one: the caller decides what goes in and who may read, mod_mam stores,
 * names the items and answers the queries (form, query, paging,
 * flip-page, metadata).  It publishes, on each host it is enabled on
 * with a store:
 *
 *     api->iface_provide(m, EMBER_MAM_IFACE, &iface)
 *
 * A consumer looks the interface up each time it needs it, never keeping
 * the pointer past the current callback (it is withdrawn when mod_mam
 * unloads); without it, the consumer has no archives to offer:
 *
 *     const ember_mam_iface_t *mi = api->iface_get(m, EMBER_MAM_IFACE);
 *     if (mi != NULL && mi->append(mi, "room@conference.example.org",
 *                                  "room@conference.example.org/nick",
 *                                  msg, id, sizeof(id)) == 0) ...
 *
 * An archive is named by the bare JID it belongs to, which is also the
 * address its query results come from.  Item ids are opaque strings of
 * at most EMBER_MAM_ID_MAX bytes, unique on the host and never reused.
 *
 * Every function runs on the core thread.  The struct is append-only:
 * check `size` (EMBER_MAM_HAS) before calling a field newer than
 * EMBER_MAM_IFACE_V1.
 */
#ifndef EMBER_MAM_H
#define EMBER_MAM_H

#include <stddef.h>
#include <stdint.h>

#include <ember/types.h>

#define EMBER_MAM_IFACE "mam"

#define EMBER_MAM_ID_MAX 32

/* answer() flags. */
/* A room's archive (XEP-0313 section 7.1.2): 'with' names a publisher,
 * the occupant JID (room@service/nick) an item was appended with. */
#define EMBER_MAM_ROOM 0x1u
/* The asker may see who published: keep the <x
 * xmlns='http://jabber.org/protocol/muc#user'/> an item was stored with;
 * without this flag every such element is removed from the results. */
#define EMBER_MAM_REAL_JIDS 0x2u

typedef struct ember_mam_iface_s ember_mam_iface_t;

struct ember_mam_iface_s {
    uint32_t size; /* sizeof in the provider */

    /* ---- V1 ---- */

    /*
     * Store msg (serialized as it is; borrowed) in the archive of bare
     * JID `archive`, published by `with`, and write the item's id into id
     * (idlen >= EMBER_MAM_ID_MAX) for the XEP-0359 stanza-id the caller
     * adds.  The id is valid at once; the write completes later, and the
     * acknowledgement (XEP-0198) of the client stanza being handled waits
     * for it.  0, or a negative EMBER_E* (nothing stored).
     */
    int (*append)(const ember_mam_iface_t *self, const char *archive,
                  const char *with, const ember_stanza_t *msg, char *id,
                  size_t idlen);

    /*
     * Answer ev, an iq addressed to `archive` whose payload is a
     * urn:xmpp:mam:2 <query/> (get: the form, set: a query) or a
     * <metadata/> get.  The caller has checked that the sender may read
     * the archive.  flags: EMBER_MAM_*.  0 (answered, now or later), or a
     * negative EMBER_E* when it will not be answered (the caller answers).
     */
    int (*answer)(const ember_mam_iface_t *self, const ember_event_t *ev,
                  const char *archive, unsigned flags);

    /*
     * Delete the items of `archive` older than before_us (microseconds
     * since 1970), every item when before_us is 0: a destroyed room, a
     * retention period.  0 or a negative EMBER_E*.
     */
    int (*remove)(const ember_mam_iface_t *self, const char *archive,
                  int64_t before_us);

    uintptr_t reserved[4]; /* zero */
};

#define EMBER_MAM_IFACE_V1 offsetof(ember_mam_iface_t, reserved)

/* True when the provider's struct has field `fn` and it is set. */
#define EMBER_MAM_HAS(mi, fn)                                                \
    (offsetof(ember_mam_iface_t, fn) + sizeof((mi)->fn) <= (mi)->size &&     \
     (mi)->fn != NULL)

#endif
