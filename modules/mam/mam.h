/* mam.h -- XEP-0313 Message Archive Management: what the files of the
 * module share.  mod_mam.c archives messages (XEP-0359 stanza ids,
 * preferences, retention), mam_query.c answers queries and metadata,
 * mam_cmd.c the admin commands. */
#ifndef EMBER_MOD_MAM_H
#define EMBER_MOD_MAM_H

#include <stdint.h>
#include <jansson.h>
#include <ember/plugin.h>
#include <ember/mam.h>

#define NS_MAM "urn:xmpp:mam:2"
#define NS_MAM_EXT "urn:xmpp:mam:2#extended"
#define NS_SID "urn:xmpp:sid:0"
#define NS_FORWARD "urn:xmpp:forward:0"
#define NS_DELAY "urn:xmpp:delay"
#define NS_RSM "http://jabber.org/protocol/rsm"
#define NS_MUC_USER "http://jabber.org/protocol/muc#user"

typedef enum { PREF_ALWAYS = 0, PREF_NEVER = 1, PREF_ROSTER = 2 } mam_default_t;

/* An account's preferences, when it set any. */
typedef struct mam_prefs_s {
    struct mam_prefs_s *next;
    char *user;
    mam_default_t def;
    json_t *always, *never;   /* arrays of bare JIDs */
} mam_prefs_t;

typedef struct {
    char *default_pref;
    int retention;            /* seconds; 0: kept */
    int max_page;
} mam_conf_t;

typedef struct {
    ember_mam_iface_t iface;  /* archives of other entities (rooms) */
    ember_module_t *m;
    const mam_conf_t *conf;
    ember_store_t *st;        /* ARCHIVE: user = account, with = peer */
    ember_store_t *st_prefs;  /* KEYVAL */
    mam_prefs_t *prefs;
    int64_t last_us;          /* item times are unique: they are the ids */
    ember_timer_t *purge;
    struct mam_append_s *appends;  /* writes out: freed at unload */
} mam_t;

extern const ember_api_t *api;

/* "1733400000123456" and back; 0 when s is not an id. */
int64_t mam_id_parse(const char *s);
void mam_id_format(int64_t us, char *out, size_t len);
/* XEP-0082 date-time; 0 when malformed. */
int64_t mam_time_parse(const char *s);
void mam_time_format(int64_t us, char *out, size_t len);

mam_prefs_t *mam_prefs_of(mam_t *mm, const char *user);
int mam_on_prefs(ember_module_t *m, const ember_event_t *ev, void *ud);

/* Answer a urn:xmpp:mam:2 query (set), form (get) or metadata (get) iq
 * about the archive `user` of the store, whose address is `jid`; flags:
 * EMBER_MAM_*.  EMBER_EINVAL when ev is none of these. */
int mam_answer(mam_t *mm, const ember_event_t *ev, const char *user,
               const char *jid, unsigned flags);
int mam_on_own(ember_module_t *m, const ember_event_t *ev, void *ud);
int mam_cmd_register(mam_t *mm);
/* pie-export-mam, pie-import-mam (mam_migrate.c). */
int mam_migrate_register(mam_t *mm);

#endif
