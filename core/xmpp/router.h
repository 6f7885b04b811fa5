/* core/router.h -- RFC 6120 section 10 / RFC 6121 section 8 delivery. */
#ifndef EMBER_CORE_ROUTER_H
#define EMBER_CORE_ROUTER_H

#include <ember/plugin.h>

/*
 * Route one stanza (message, presence, iq) whose 'from' is stamped and
 * trusted.  origin is the local session it came from, NULL when the server
 * or a module sends it.  Fires the stanza events, then applies the
 * default delivery rules.  Takes ownership of root.
 */
int ember__route_stanza(ember_stanza_t *root, ember_session_t *origin);
/* An iq of a secure stream not yet authenticated: fires the iq/unauth
 * events; EMBER_HOOK_HANDLED when a module took it.  st stays the
 * caller's. */
int ember__route_preauth_iq(ember_stanza_t *st, ember_session_t *origin);

/* What a command handed to another node ended with (result borrowed). */
typedef void (*ember_route_cmd_reply_cb)(int status, json_t *result,
                                         const char *message, void *ud);
/* status 0 and node NULL: this node serves the entity, or nobody does;
 * status 0 and a node: that one does; an error: its node is down. */
typedef void (*ember_route_locate_cb)(int status, const char *node,
                                      void *ud);

/*
 * What the router asks of the cluster (core/cluster/, above this layer),
 * handed at start; none on a one-node server.  Remote sessions are the
 * other nodes' bound sessions, from the cluster's mirror of the registry.
 */
typedef struct ember_route_cluster_s {
    /* 1 when full is a session of another node and st (the caller's) was
     * handed to that node, which routes it as its own. */
    int (*to_full)(const char *full, const ember_stanza_t *st);
    /* 1 when bare has sessions on other nodes only and st was handed to
     * the node of its best one. */
    int (*to_bare)(const char *bare, const ember_stanza_t *st);
    /* The highest priority of bare's available remote sessions, -129
     * when it has none. */
    int (*best)(const char *bare);
    /* Deliver st, without events, to bare's available remote sessions of
     * priority lo to hi; how many. */
    int (*deliver)(const char *bare, const ember_stanza_t *st, int lo,
                   int hi);
    /* bare's remote sessions, available or not. */
    int (*count)(const char *bare);
    /* 0: serve st here, this node owns entity (a service's bare JID).
     * 1: st (the caller's) was handed to its owner, waits for the owner
     * to be known, or was answered with an error (its owner is down). */
    int (*to_service)(const char *entity, const ember_stanza_t *st);
    /* Ask the nodes of jid's remote sessions (bare: every one of the
     * account's) to close them with cond; how many were asked. */
    int (*close)(const char *jid, ember_stream_cond_t cond);
    /* cb for each of bare's remote sessions (bare NULL: every remote
     * session of host, or of every host when host is NULL too), those
     * with mark only when mark is not NULL; how many. */
    int (*walk)(const char *bare, const char *host, const char *mark,
                void (*cb)(const char *full, int available, int priority,
                           void *ud),
                void *ud);
    /* 1 when st (the caller's) was handed to full's node, to be written
     * to that session without events, or to nobody if it is gone. */
    int (*deliver_to)(const char *full, const ember_stanza_t *st);
    /* Who serves entity (a service's bare JID); cb may run before this
     * returns.  Nothing is claimed: a command does not move a room. */
    void (*locate)(const char *entity, ember_route_locate_cb cb, void *ud);
    /* Run the command req ({"name","args","who","actor","origin"},
     * borrowed) on node; reply once with its answer, also when the node
     * dies first.  0, or an error and reply is not called. */
    int (*command)(const char *node, json_t *req,
                   ember_route_cmd_reply_cb reply, void *ud);
    /* Every other node fires "cluster-notice/<module>" on host with key
     * (api->cluster_notify). */
    void (*notice)(const char *host, const char *module, const char *key);
    /* bare's client asked here to resume previd, which this node does not
     * have: the nodes of bare's sessions end it (ember__sm_give_up). */
    void (*resume_failed)(const char *bare, const char *previd);
} ember_route_cluster_t;

/* Who runs a command another node hands over (runtime/commands.c): req
 * as for command; reply once. */
typedef void (*ember_route_cmd_runner)(json_t *req,
                                       ember_route_cmd_reply_cb reply,
                                       void *ud);
void ember__route_set_command_runner(ember_route_cmd_runner run);
void ember__route_run_command(json_t *req, ember_route_cmd_reply_cb reply,
                              void *ud);
/* The cluster's locate (one node: cb(0, NULL) at once) and command
 * (EMBER_ENOTSUP on one node). */
void ember__route_locate(const char *entity, ember_route_locate_cb cb,
                         void *ud);
int ember__route_command(const char *node, json_t *req,
                         ember_route_cmd_reply_cb reply, void *ud);
/* The cluster's notice and resume_failed (nothing on one node). */
void ember__route_notice(const char *host, const char *module,
                         const char *key);
void ember__route_resume_failed(const char *bare, const char *previd);

void ember__router_set_cluster(const ember_route_cluster_t *ops);
/* Sessions of bare on other nodes (api->user_remote_sessions). */
int ember__route_remote_sessions(const char *bare);
/* The cluster's walk and deliver_to (0 on one node). */
int ember__route_remote_walk(const char *bare, const char *host,
                             const char *mark,
                             void (*cb)(const char *full, int available,
                                        int priority, void *ud),
                             void *ud);
int ember__route_remote_deliver(const char *full, const ember_stanza_t *st);
/* The cluster's close (0 on one node). */
int ember__route_close_remote(const char *jid, ember_stream_cond_t cond);
/* Route a stanza another node handed over (taken): routed as one from a
 * module, never handed on whole.  local_only: nothing goes to other
 * nodes at all (what came for a session gone meanwhile, or what could
 * not reach its node). */
int ember__route_from_node(ember_stanza_t *st, int local_only);

/*
 * A message that reached a session which is gone without acknowledging
 * it (its stream management wait ended; its cluster node died), taken:
 * delivered again as if that session had not existed, with EMBER_EV_AGAIN
 * (archives keep their one row).  One to a full JID goes to the bare JID
 * (the other resources, or offline storage); one to the bare JID only
 * when the account has no other resource, here or on a reachable node,
 * that had it.  Stanzas other than messages with a body, errors,
 * groupchat, headlines and carbon copies are dropped: their recipients
 * had their own.  1 when routed again.
 */
int ember__route_undelivered(ember_stanza_t *st);

ember_stanza_t *ember__error_reply(const ember_stanza_t *st,
                                   ember_cond_t cond, const char *text);
/* Route an error reply to st (nothing when st is itself an error). */
void ember__bounce(const ember_stanza_t *st, ember_cond_t cond,
                   const char *text);
int ember__iq_result(const ember_event_t *ev, ember_stanza_t *payload);
/* A result to iq (payload taken, may be NULL), addressed as every reply. */
ember_stanza_t *ember__iq_result_of(const ember_stanza_t *iq,
                                    ember_stanza_t *payload);
/* Send a reply (taken): routed, or onto preauth_origin's stream without
 * addresses when the sender is not authenticated yet. */
int ember__reply_send(ember_stanza_t *r, ember_session_t *preauth_origin);
int ember__stanza_error(const ember_event_t *ev, ember_cond_t cond,
                        const char *text);

#endif
