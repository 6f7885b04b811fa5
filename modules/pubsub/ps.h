/* ps.h -- the publish-subscribe engine (XEP-0060) shared by mod_pubsub
 * (a service on pubsub.HOST) and mod_pep (one service per account, on its
 * bare JID, XEP-0163).  Each .so links its own copy of the engine; all the
 * state of one module instance hangs off its ps_ctx_t. */
#ifndef PS_H
#define PS_H

#include <stdint.h>
#include <jansson.h>
#include <ember/plugin.h>
#include <ember/roster.h>
#include <ember/caps.h>

#define PS_NS "http://jabber.org/protocol/pubsub"
#define PS_NS_OWNER PS_NS "#owner"
#define PS_NS_EVENT PS_NS "#event"
#define PS_NS_ERRORS PS_NS "#errors"
#define PS_NS_NODE_CONFIG PS_NS "#node_config"
#define PS_NS_PUBLISH_OPTIONS PS_NS "#publish-options"
#define PS_NS_SUB_OPTIONS PS_NS "#subscribe_options"
#define PS_NS_SUB_AUTH PS_NS "#subscribe_authorization"
#define PS_NS_META PS_NS "#meta-data"
#define PS_NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define PS_NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"

enum { PS_CREATE_ANYONE, PS_CREATE_ADMINS, PS_CREATE_LOCAL, PS_CREATE_OWNER };

typedef struct ps_node_s {
    char *name;
    json_t *config; /* var -> string, or array of strings (list-multi) */
    json_t *aff;    /* bare JID -> owner | publisher | member | outcast */
    json_t *subs;   /* JID -> {"sub", "subid", "deliver"} */
    json_t *items;  /* oldest first: {"id","xml","publisher","seq","time"} */
    struct ps_node_s *next;
} ps_node_t;

typedef struct ps_wait_s ps_wait_t;

typedef struct ps_service_s {
    char *jid;      /* pubsub.HOST, or the owner's bare JID */
    char *owner;    /* PEP: the owner's node ("alice"); NULL otherwise */
    int state;      /* PS_UNLOADED, PS_LOADING, PS_READY */
    int busy;       /* requests holding the pointer across a callback */
    int64_t seq;    /* next item sequence number */
    ps_node_t *nodes;
    ps_wait_t *waiting;
    struct ps_service_s *next;
} ps_service_t;

enum { PS_UNLOADED, PS_LOADING, PS_READY };

typedef struct ps_ctx_s {
    const ember_api_t *api;
    ember_module_t *m;
    ember_store_t *st_nodes; /* MAP: user = service, key = node */
    ember_store_t *st_items; /* MAP: user = service, key = node + item id */
    int pep;
    int create_policy;
    int max_items;           /* default pubsub#max_items */
    int max_items_limit;     /* largest accepted, 0 = no limit */
    int max_payload;         /* bytes of serialized item */
    int counter;             /* instant node and subid names */
    ps_service_t *buckets[256];
} ps_ctx_t;

/* Called when the service is loaded (svc NULL when loading failed). */
typedef void (*ps_ready_cb)(ps_ctx_t *c, ps_service_t *svc, void *ud);

/* ---- ps_store.c: services, nodes, items, persistence ---- */
int ps_ctx_init(ps_ctx_t *c, ember_module_t *m, const ember_api_t *api,
                int pep);
void ps_ctx_free(ps_ctx_t *c);
/* Run cb once the service `jid` is in memory (maybe before returning). */
int ps_service_ready(ps_ctx_t *c, const char *jid, ps_ready_cb cb,
                     void *ud);
/*
 * Keep svc alive across an asynchronous step (hold), then let it go
 * (drop): a PEP service without nodes leaves memory when nobody holds it,
 * so that queries to any account do not pile services up.
 */
void ps_service_hold(ps_service_t *svc);
void ps_service_drop(ps_ctx_t *c, ps_service_t *svc);
ps_node_t *ps_node_find(ps_service_t *svc, const char *name);
ps_node_t *ps_node_add(ps_ctx_t *c, ps_service_t *svc, const char *name,
                       const char *owner);
void ps_node_remove(ps_ctx_t *c, ps_service_t *svc, ps_node_t *n);
void ps_node_save(ps_ctx_t *c, ps_service_t *svc, ps_node_t *n);
/* Add or replace an item (kept within max_items); returns the item. */
json_t *ps_item_put(ps_ctx_t *c, ps_service_t *svc, ps_node_t *n,
                    const char *id, const char *xml, const char *publisher);
int ps_item_delete(ps_ctx_t *c, ps_service_t *svc, ps_node_t *n,
                   const char *id);
void ps_items_purge(ps_ctx_t *c, ps_service_t *svc, ps_node_t *n);
/* Drop expired items and those beyond max_items. */
void ps_items_trim(ps_ctx_t *c, ps_service_t *svc, ps_node_t *n);
json_t *ps_item_find(ps_node_t *n, const char *id, size_t *index);
size_t ps_node_count(ps_service_t *svc);

/* ---- ps_config.c: pubsub#node_config ---- */
void ps_config_defaults(ps_ctx_t *c, json_t *config);
const char *ps_config_str(ps_node_t *n, const char *var);
int ps_config_bool(ps_node_t *n, const char *var);
/* max items kept, 0 for unlimited */
long ps_config_max_items(ps_ctx_t *c, ps_node_t *n);
/*
 * Check and apply the fields of a submitted form (or a JSON object of
 * var -> value when json is not NULL) onto config.  On error returns
 * EMBER_EINVAL and sets *bad to the offending var.
 */
int ps_config_apply(ps_ctx_t *c, json_t *config, const ember_stanza_t *form,
                    json_t *json, const char **bad);
/* The config as a form of type `type` appended to parent. */
ember_stanza_t *ps_config_form(ps_ctx_t *c, ember_stanza_t *parent,
                               const char *type, json_t *config);
/* publish-options: 1 when every field matches the node's config. */
int ps_config_matches(ps_ctx_t *c, ps_node_t *n, const ember_stanza_t *form,
                      const char **bad);
ember_stanza_t *ps_meta_form(ps_ctx_t *c, ember_stanza_t *parent,
                             ps_node_t *n);

/* ---- ps_access.c: who may do what ---- */
const char *ps_affiliation(ps_node_t *n, const char *bare);
/* Roster subscription (EMBER_SUB_*) and group check of bare in roster;
 * -1 when there is no roster. */
int ps_roster_sub(ps_ctx_t *c, ember_roster_t *roster, const char *bare);
/* 0 when bare may see the node's items, else an EMBER_COND_*+1 and
 * *app names the pubsub#errors condition. */
int ps_may_access(ps_ctx_t *c, ps_service_t *svc, ps_node_t *n,
                  ember_roster_t *roster, const char *bare,
                  const char **app);
int ps_is_owner(ps_ctx_t *c, ps_service_t *svc, ps_node_t *n,
                const char *bare);
int ps_may_publish(ps_ctx_t *c, ps_service_t *svc, ps_node_t *n,
                   const char *bare);

/* ---- ps_notify.c ---- */
/*
 * Send `ev_child` (an element for <event/>, borrowed) to the node's
 * subscribers, and for PEP to the owner's and contacts' sessions that
 * want node+notify; roster is the PEP owner's (NULL: none).  Returns how
 * many notifications went out.
 */
size_t ps_notify(ps_ctx_t *c, ps_service_t *svc, ps_node_t *n,
                 ember_roster_t *roster, const ember_stanza_t *ev_child);
/* The <items><item/></items> event element for an item. */
ember_stanza_t *ps_item_event(ps_ctx_t *c, ps_node_t *n, json_t *item,
                              int payload);
/* Send one <event/> message (takes ownership of the event child). */
void ps_send_event(ps_ctx_t *c, ps_service_t *svc, ps_node_t *n,
                   const char *to, ember_stanza_t *ev_child);
/* Send the last item of every node `full` wants (+notify) and may see. */
void ps_send_last_items(ps_ctx_t *c, ps_service_t *svc,
                        ember_roster_t *roster, const char *full,
                        ember_session_t *s);

/* ---- ps_iq.c: requests ---- */
/* Handle a pubsub / pubsub#owner / disco iq addressed to service `jid`. */
int ps_handle_iq(ps_ctx_t *c, const ember_event_t *ev, const char *jid);
/* Owner's answer to a subscription authorization form (message). */
int ps_handle_message(ps_ctx_t *c, const ember_event_t *ev,
                      const char *jid);

/* ---- small helpers ---- */
char *ps_strdup(const char *s);
int ps_true(const char *v);
ember_stanza_t *ps_error(ps_ctx_t *c, const ember_stanza_t *iq,
                         ember_cond_t cond, const char *app,
                         const char *text);
const ember_roster_iface_t *ps_roster_iface(ps_ctx_t *c);
const ember_caps_iface_t *ps_caps_iface(ps_ctx_t *c);
/* Bare JID of a JID string (malloc'ed), NULL when malformed. */
char *ps_bare(ps_ctx_t *c, const char *jid);

#endif
