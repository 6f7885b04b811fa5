/* roster.h -- shared between the files of mod_roster. */
#ifndef MOD_ROSTER_H
#define MOD_ROSTER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <ember/plugin.h>
#include <ember/roster.h>

#define NS_ROSTER "jabber:iq:roster"
#define NS_ROSTERVER "urn:xmpp:features:rosterver"

typedef struct {
    int versioning;  /* XEP-0237 */
    int max_items;   /* per roster, 0 = no limit */
    int max_name;    /* bytes of a name or a group name */
    int max_groups;  /* groups per item */
} roster_conf_t;

/* One item; `jid` is the hash key (first: see rnode_t). */
typedef struct ritem_s {
    struct ritem_s *next;
    char *jid;
    char *name;
    char **groups;
    size_t ngroups;
    ember_sub_t sub;
    int ask, pending_in, approved, hidden;
    char *pending_stanza;
} ritem_t;

/* A chained hash table of objects that start with {next, key}. */
typedef struct rnode_s {
    struct rnode_s *next;
    char *key;
} rnode_t;

typedef struct {
    rnode_t **b;
    size_t nb, n;
} rhash_t;

typedef struct rwait_s rwait_t;

/* Room for the group names of merged items (roster_shared.c). */
typedef struct {
    const char **g;
    size_t cap;
} rscratch_t;

typedef struct roster_s {
    struct roster_s *next;
    char *user;
    struct roster_inst_s *ri;
    rhash_t items;
    size_t visible;      /* items that are not hidden */
    char salt[17];       /* "" until the roster first changes */
    uint64_t ver;        /* changes since salt was drawn */
    char verstr[48];     /* the XEP-0237 version: "0" or "<salt>-<ver>" */
    char fullver[96];    /* verstr with the shared contacts' version */
    rscratch_t vitem, veach; /* merged groups: item(), walks */
    int loaded;
    int busy;            /* > 0 while callbacks run: do not evict */
    rwait_t *waiters, **wtail;
} roster_t;

typedef struct roster_inst_s {
    ember_roster_iface_t iface; /* first: the interface points here */
    ember_module_t *m;
    ember_store_t *store;
    rhash_t rosters;
    struct rop_s *ops;          /* requests waiting on storage */
    uint64_t push_id;
} roster_inst_t;

extern const ember_api_t *api;

/* hash and items (roster_item.c) */
rnode_t *rhash_get(const rhash_t *h, const char *key);
int rhash_put(rhash_t *h, rnode_t *node);
rnode_t *rhash_del(rhash_t *h, const char *key);

ritem_t *ritem_from(const ember_roster_item_t *it);
void ritem_free(ritem_t *it);
void ritem_view(const ritem_t *it, ember_roster_item_t *out);
ritem_t *ritem_dup(const ritem_t *it);
/* 1 when the two differ in what a client sees of them. */
int ritem_differs(const ritem_t *a, const ritem_t *b);
/* The stored form, and back. */
json_t *ritem_json(const ritem_t *it);
ritem_t *ritem_parse(const char *jid, json_t *o);
/* "none", "to", "from", "both" as an ember_sub_t; -1 for anything else. */
int roster_sub_parse(const char *s);

/* the cache and changes (roster_cache.c) */
roster_inst_t *roster_inst(ember_module_t *m);
int roster_load(roster_inst_t *ri, const char *user,
                ember_roster_cb cb, void *ud);
/* Take `it` (NULL removes `jid`) into user's roster; done gets 0 or an
 * error once stored and pushed.  via_iface: a write of the "roster"
 * interface, made on the merged item (roster_cache.c). */
int roster_apply(roster_inst_t *ri, const char *user, const char *jid,
                 ritem_t *it, int via_iface, ember_roster_done_cb done,
                 void *ud);
/* 1 when adding a visible item in place of `old` would pass max-items. */
int roster_full(roster_inst_t *ri, const roster_t *r, const ritem_t *old);
/* Fire "roster-item-removing" for `old` (origin: the client, or NULL). */
void roster_removing(roster_inst_t *ri, const char *user, const ritem_t *old,
                     ember_session_t *origin);
void roster_free(roster_t *r);
/* Forget r when no session of its user (but `closing`) is left. */
void roster_maybe_evict(roster_inst_t *ri, roster_t *r,
                        ember_session_t *closing);
void roster_ops_free(roster_inst_t *ri);
void roster_iface_init(roster_inst_t *ri);

/* protocol (roster_iq.c) */
int roster_on_get(ember_module_t *m, const ember_event_t *ev, void *ud);
int roster_on_set(ember_module_t *m, const ember_event_t *ev, void *ud);
int roster_on_other(ember_module_t *m, const ember_event_t *ev, void *ud);
int roster_on_features(ember_module_t *m, const ember_event_t *ev,
                       void *ud);
/* Push `v` (NULL: the removal of `jid`) to user's interested resources. */
void roster_push(roster_inst_t *ri, const char *user,
                 const ember_roster_item_t *v, const char *jid,
                 const char *ver);
int roster_interested(roster_inst_t *ri, const char *user,
                      const char *resource);

/* shared contacts merged in (roster_shared.c) */
typedef int (*roster_view_cb)(const ember_roster_item_t *v, int client,
                              void *ud);
const ember_roster_shared_iface_t *roster_shared(roster_inst_t *ri);
void rscratch_free(rscratch_t *sc);
/* What user r is shown of `contact`, merged: 0 or EMBER_ENOENT; *client
 * (may be NULL): 1 when the item is in the client's roster.  Group names
 * live in sc until its next use. */
int roster_view(roster_inst_t *ri, roster_t *r, const char *contact,
                rscratch_t *sc, ember_roster_item_t *out, int *client);
/* 1 when `contact` is in shared groups shown to `user`. */
int roster_is_shared(roster_inst_t *ri, const char *user,
                     const char *contact);
/* Every merged item (clients_only: only those in the client's roster);
 * cb returns non-zero to stop.  Returns how many were visited. */
size_t roster_walk(roster_inst_t *ri, roster_t *r, int clients_only,
                   roster_view_cb cb, void *ud);
/* The XEP-0237 version of what the client sees. */
const char *roster_version(roster_inst_t *ri, roster_t *r);
void roster_push_contact(roster_inst_t *ri, roster_t *r, const char *contact);
int roster_on_shared(ember_module_t *m, const ember_event_t *ev, void *ud);

/* admin commands (roster_cmd.c) */
int roster_cmd_init(roster_inst_t *ri);
/* pie-export-roster, pie-import-roster (roster_migrate.c) */
int roster_migrate_init(roster_inst_t *ri);

#endif
