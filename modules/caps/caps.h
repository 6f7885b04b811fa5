/* caps.h -- shared by the files of mod_caps (not an installed header). */
#ifndef MOD_CAPS_H
#define MOD_CAPS_H

#include <jansson.h>
#include <ember/plugin.h>
#include <ember/caps.h>

#define NS_CAPS "http://jabber.org/protocol/caps"
#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NS_XDATA "jabber:x:data"

typedef struct {
    char *node;
    int query_timeout;
    int max_queries;
    int max_cache;
} caps_conf_t;

/* What a session announced, and what it came to. */
typedef struct {
    char *key;       /* "<hash> <ver>" */
    char *node, *hash, *ver;
    json_t *entry;   /* {"identities", "features", "set"} once known */
    int queries;
} caps_sess_t;

/*
 * A verification string being resolved: from the store first, then by
 * asking the sessions that announced it, one at a time, until one answers
 * with matching features.  `key` NULL: a hash function we cannot check,
 * asked of one session for that session only.
 */
typedef struct caps_pend_s {
    ember_module_t *m;
    char *key, *node, *hash, *ver;
    json_t *waiters;  /* full JIDs not asked yet */
    json_t *tried;    /* full JIDs whose answer did not match */
    char *asking;     /* full JID the query went to */
    struct caps_pend_s *prev, *next;
} caps_pend_t;

typedef struct {
    ember_caps_iface_t iface;   /* first: the interface is the state */
    ember_module_t *m;
    ember_store_t *store;
    json_t *cache;              /* key -> entry */
    caps_pend_t *pending;
} caps_state_t;

extern const ember_api_t *api;

/*
 * Read a disco#info <query/> the XEP-0115 way.  *entry gets
 * {"identities": [[category, type, lang, name], ...], "features": [...]}
 * (features sorted).  When `hash` names a supported function, *ver gets
 * the verification string (malloc'ed), else NULL.  EMBER_EPROTO when the
 * answer is ill-formed by section 5.4 (duplicate identities, features or
 * forms), EMBER_ENOMEM.
 */
int caps_read_info(const ember_stanza_t *query, const char *hash, char **ver,
                   json_t **entry);

/* 1 when `hash` is a hash function name this module verifies. */
int caps_hash_supported(const char *hash);

/*
 * The host's own disco#info as a <query/> (identities and features of
 * every module, duplicates dropped), with its verification string.
 */
int caps_host_info(ember_module_t *m, ember_stanza_t **query, char **ver);

/* ---- caps_client.c: clients' caps ---- */

/* The bound session of the module's host with this full JID, or NULL. */
ember_session_t *caps_session_by_jid(ember_module_t *m, const char *full);
/* The session's record, created when `create` (NULL on ENOMEM). */
caps_sess_t *caps_sess_get(ember_module_t *m, ember_session_t *s,
                           int create);
void caps_sess_free(void *p);
void caps_pend_free(caps_pend_t *p);
/* pre-presence/self: read the session's <c/>. */
int caps_on_presence(ember_module_t *m, const ember_event_t *ev, void *ud);

#endif
