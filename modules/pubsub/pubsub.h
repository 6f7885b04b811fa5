/* pubsub.h -- the publish-subscribe engine of mod_pubsub (XEP-0060).  One
 * ps_ctx_t serves pubsub.HOST, another the PEP services of the host's
 * accounts (XEP-0163) that mod_pep reaches through the "pubsub" interface
 * (ember/pubsub.h). */
#ifndef PUBSUB_H
#define PUBSUB_H

#include <stdint.h>
#include <jansson.h>
#include <ember/plugin.h>
#include <ember/roster.h>
#include <ember/caps.h>
#include <ember/pubsub.h>

#define PS_NS "http://jabber.org/protocol/pubsub"
#define PS_NS_OWNER PS_NS "#owner"
#define PS_NS_EVENT PS_NS "#event"
#define PS_NS_ERRORS PS_NS "#errors"
#define PS_NS_NODE_CONFIG PS_NS "#node_config"
#define PS_NS_SUB_OPTIONS PS_NS "#subscribe_options"
#define PS_NS_SUB_AUTH PS_NS "#subscribe_authorization"
#define PS_NS_META PS_NS "#meta-data"
#define PS_NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define PS_NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"

extern const ember_api_t *api;

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
typedef struct ps_ctx_s ps_ctx_t;

typedef struct ps_service_s {
    ps_ctx_t *c;
    char *jid;      /* pubsub.HOST, or the owner's bare JID */
    char *owner;    /* PEP: the owner's node ("alice"); NULL otherwise */
    int state;      /* PS_UNLOADED, PS_LOADING, PS_READY */
    int busy;       /* requests holding the pointer across a callback */
    int stale;      /* changed by another node: read again once idle */
    int64_t seq;    /* next item sequence number */
    json_t *stored; /* while loading: the stored nodes */
    ps_node_t *nodes;
    ps_wait_t *waiting;
    struct ps_service_s *next;
} ps_service_t;

enum { PS_UNLOADED, PS_LOADING, PS_READY };

/* What a request does once its service (and, for PEP, the owner's
 * roster) is at hand. */
enum { PS_OP_STANZA, PS_OP_LAST, PS_OP_WIPE };

/* The writes a client's request caused: its XEP-0198 acknowledgement
 * waits until every one is stored. */
typedef struct ps_writes_s {
    ember_hold_t *hold;
    int refs;
} ps_writes_t;

typedef struct ps_write_s ps_write_t;

typedef struct ps_req_s {
    ps_ctx_t *c;
    ps_writes_t *writes;
    int op;
    ember_stanza_t *st;   /* PS_OP_STANZA: copy of the iq or message */
    char *from;           /* its sender, or the session of PS_OP_LAST */
    char *bare;           /* bare JID of from */
    ps_service_t *svc;
    ember_roster_t *roster;
    /* A call of the interface (publish, retract, items) rather than a
     * client's stanza: st is made up, the outcome goes to these. */
    int local;
    ember_pubsub_done_cb done;
    ember_pubsub_items_cb got;
    void *ud;
    struct ps_req_s *prev, *next;
} ps_req_t;

struct ps_ctx_s {
    ember_module_t *m;
    ember_store_t *st_nodes; /* MAP: user = service, key = node */
    ember_store_t *st_items; /* MAP: user = service, key = node + item id */
    int pep;
    int closing;             /* unloading: nothing waits any more */
    int create_policy;
    int max_items;           /* default pubsub#max_items */
    int max_items_limit;     /* largest accepted, 0 = no limit */
    int max_payload;         /* bytes of serialized item */
    int counter;             /* instant node and subid names */
    ps_req_t *reqs;          /* requests in flight */
    ps_writes_t *writes;     /* of the request being handled */
    ps_write_t *inflight;    /* writes not stored yet */
    ps_service_t *buckets[256];
};

#define PS_NCOMMANDS 4

/* One instance of mod_pubsub (a host). */
typedef struct pubsub_s {
    ember_pubsub_iface_t iface;
    ps_ctx_t host;           /* pubsub.HOST, unless service="false" */
    ps_ctx_t pep;            /* the accounts' services */
    char domain[1100];
    struct pubsub_s *cmd_ud[PS_NCOMMANDS]; /* one ud per command */
} pubsub_t;

/* Called when the service is loaded (svc NULL when loading failed or the
 * module unloads). */
typedef void (*ps_ready_cb)(ps_ctx_t *c, ps_service_t *svc, void *ud);

/* ---- pubsub_store.c: services, nodes, items, persistence ---- */
int ps_ctx_init(ps_ctx_t *c, ember_module_t *m, int pep);
void ps_ctx_free(ps_ctx_t *c);
/* Run cb once the service `jid` is in memory (maybe before returning). */
int ps_service_ready(ps_ctx_t *c, const char *jid, ps_ready_cb cb,
                     void *ud);
/*
 * Keep svc alive across an asynchronous step (hold), then let it go
 * (drop): a PEP service without nodes leaves memory when nobody holds it,
 * so that queries to any account do not pile services up.
 */
/* Another node changed jid's service in storage: read it again before
 * its next use. */
void ps_service_invalidate(ps_ctx_t *c, const char *jid);
void ps_service_hold(ps_service_t *svc);
void ps_service_drop(ps_service_t *svc);
void ps_writes_put(ps_writes_t *w);
/* Read jid's nodes from storage again (cb when they are there): on a
 * cluster another node may have changed them.  A service in use stays. */
void ps_service_reload(ps_ctx_t *c, const char *jid, ps_ready_cb cb);
ps_node_t *ps_node_find(ps_service_t *svc, const char *name);
ps_node_t *ps_node_add(ps_service_t *svc, const char *name,
                       const char *owner, json_t *config);
void ps_node_remove(ps_service_t *svc, ps_node_t *n);
void ps_node_save(ps_service_t *svc, ps_node_t *n);
/* Add or replace an item (kept within max_items); returns the item. */
json_t *ps_item_put(ps_service_t *svc, ps_node_t *n, const char *id,
                    const char *xml, const char *publisher);
int ps_item_delete(ps_service_t *svc, ps_node_t *n, const char *id);
void ps_items_purge(ps_service_t *svc, ps_node_t *n);
/* Drop expired items and those beyond max_items. */
void ps_items_trim(ps_service_t *svc, ps_node_t *n);
json_t *ps_item_find(ps_node_t *n, const char *id, size_t *index);
/* The newest item, NULL when none. */
json_t *ps_item_last(ps_node_t *n);

/* ---- pubsub_config.c: pubsub#node_config ---- */
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
ember_stanza_t *ps_config_form(ember_stanza_t *parent, const char *type,
                               json_t *config);
/* publish-options: 1 when every field matches the node's config. */
int ps_config_matches(ps_ctx_t *c, ps_node_t *n, const ember_stanza_t *form,
                      const char **bad);
ember_stanza_t *ps_meta_form(ember_stanza_t *parent, ps_node_t *n);

/* ---- pubsub_access.c: who may do what, and notifications ---- */
const char *ps_affiliation(ps_node_t *n, const char *bare);
/* EMBER_COND_NONE when bare may see the node's items, else the condition,
 * and *app names the pubsub#errors one (or NULL). */
ember_cond_t ps_may_access(ps_service_t *svc, ps_node_t *n,
                           ember_roster_t *roster, const char *bare,
                           const char **app);
/* 1 when ps_may_access lets bare in. */
int ps_may_see(ps_service_t *svc, ps_node_t *n, ember_roster_t *roster,
               const char *bare);
int ps_is_owner(ps_service_t *svc, ps_node_t *n, const char *bare);
int ps_may_publish(ps_service_t *svc, ps_node_t *n, const char *bare);
/*
 * Send `ev_child` (an element for <event/>, borrowed) to the node's
 * subscribers, and for PEP to the owner's and contacts' sessions that
 * want node+notify; roster is the PEP owner's (NULL: none).
 */
void ps_notify(ps_service_t *svc, ps_node_t *n, ember_roster_t *roster,
               const ember_stanza_t *ev_child);
/* ps_notify of an element <name node='...'/> and its child (taken). */
void ps_notify_node(ps_service_t *svc, ps_node_t *n, ember_roster_t *roster,
                    const char *name, ember_stanza_t *child);
/* The <items><item/></items> event element for an item. */
ember_stanza_t *ps_item_event(ps_node_t *n, json_t *item, int payload);
/* Send one <event/> message (takes ownership of the event child). */
void ps_send_event(ps_service_t *svc, ps_node_t *n, const char *to,
                   ember_stanza_t *ev_child);
/* Send the last item of every node `full` wants (+notify) and may see. */
void ps_send_last_items(ps_service_t *svc, ember_roster_t *roster,
                        const char *full);

/* ---- pubsub_iq.c: the life of a request ---- */
/* Start op on the service `jid`; ev is the request (PS_OP_STANZA), full
 * the session (PS_OP_LAST). */
int ps_start(ps_ctx_t *c, int op, const char *jid, const ember_event_t *ev,
             const char *full);
/* Run the made-up iq `st` (taken) on the service of `account` as the
 * account, for the interface's calls. */
int ps_start_local(ps_ctx_t *c, const char *account, ember_stanza_t *st,
                   ember_pubsub_done_cb done, ember_pubsub_items_cb got,
                   void *ud);
/* Forget the callbacks of pending interface calls (ember/pubsub.h). */
void ps_cancel_local(ps_ctx_t *c, ember_pubsub_items_cb got,
                     ember_pubsub_done_cb done);
/* Fire EMBER_PUBSUB_EV_ITEM for an item of a PEP service. */
void ps_fire_item(ps_req_t *r, ps_node_t *n, const char *id,
                  const ember_stanza_t *payload);
void ps_req_free(ps_req_t *r);
/* The roster a request waited for (cancelled at unload). */
void ps_on_roster(int status, ember_roster_t *roster, void *ud);
/* Answer the request with an error (app: a pubsub#errors condition). */
void ps_fail(ps_req_t *r, ember_cond_t cond, const char *app,
             const char *text);
/* Answer the request with a result holding payload (taken; may be NULL). */
void ps_answer(ps_req_t *r, ember_stanza_t *payload);
/* The jabber:x:data child of parent (may be NULL), or NULL. */
const ember_stanza_t *ps_form(const ember_stanza_t *parent);
void ps_make_id(ps_ctx_t *c, char *buf, size_t len);
/* The prepared form of jid in buf, NULL when it is malformed. */
const char *ps_prep(const char *jid, char *buf, size_t len);
/* Bare JID of a JID string (malloc'ed), NULL when malformed. */
char *ps_bare(const char *jid);
int ps_same_bare(ps_req_t *r, const char *jid);
int ps_true(const char *v);
/* A node named by e's node attribute, or NULL after answering. */
ps_node_t *ps_req_node(ps_req_t *r, const ember_stanza_t *e);

/* ---- pubsub_publish.c: publisher use cases (create, publish, retract)
 * and retrieval ---- */
void ps_publisher_dispatch(ps_req_t *r, const ember_stanza_t *ps,
                           const ember_stanza_t *e, int set);

/* ---- pubsub_sub.c: subscriber use cases ---- */
void ps_sub_dispatch(ps_req_t *r, const ember_stanza_t *ps,
                     const ember_stanza_t *e, int set);
/* An owner's answer to a subscription authorization form (8.6.2). */
void ps_sub_authorize(ps_req_t *r);
ember_stanza_t *ps_sub_element(ember_stanza_t *parent, ps_node_t *n,
                               const char *jid, json_t *sub, int with_node);
void ps_send_last(ps_req_t *r, ps_node_t *n, const char *jid);
void ps_tell_subscriber(ps_req_t *r, ps_node_t *n, const char *jid,
                        const char *state);

/* ---- pubsub_owner.c, pubsub_disco.c ---- */
void ps_owner_dispatch(ps_req_t *r, const ember_stanza_t *ps, int set);
/* disco#info or disco#items of the service or of a node. */
void ps_disco(ps_req_t *r, const ember_stanza_t *q);

/* ---- pubsub_cmd.c: admin commands ---- */
int ps_commands_register(ember_module_t *m, pubsub_t *p);

/* ---- pubsub_migrate.c: pie-export-pep, pie-import-pep ---- */
int ps_migrate_register(ember_module_t *m, pubsub_t *p);
/* The PEP context with PEP's default settings (mod_pubsub.c). */
ps_ctx_t *ps_pep_ctx(pubsub_t *p);

#endif
