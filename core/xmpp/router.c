/* core/router.c -- stanza events and the default delivery rules. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/accounts.h"
#include "base/hooks.h"
#include "base/jid.h"
#include "base/log.h"
#include "xmpp/errors.h"
#include "xmpp/router.h"
#include "base/process.h"
#include "xmpp/s2s.h"
#include "xmpp/services.h"
#include "base/tasks.h"
#include "xmpp/component.h"
#include "xmpp/disco.h"
#include "xmpp/iq_track.h"
#include "xmpp/session.h"
#include "xmpp/stanza.h"

#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"

/* Where the stanza being routed came from, as for the cluster. */
enum { VIA_HERE, VIA_NODE, VIA_LOCAL_ONLY };

static const ember_route_cluster_t *cluster;   /* NULL: one node */
static ember_route_cmd_runner command_runner;
static int next_via;
static uint32_t next_flags;     /* ev.flags of the next route_stanza */

typedef enum { TO_HOST, TO_BARE, TO_FULL } target_t;

typedef struct offline_ctx_s {
    ember_stanza_t *st;
    ember_jid_t *from, *to;
    ember_hold_t *hold;     /* the sender's ack waits for the storage */
} offline_ctx_t;


/*
 * to/from/id of a reply to st.  A stanza without 'to' went to the sender's
 * own account (RFC 6120 10.3): the reply comes from that bare JID.
 */
static void
reply_addresses(ember_stanza_t *r, const ember_stanza_t *st)
{
    const char *from = ember__stanza_attr(st, "from");
    const char *to = ember__stanza_attr(st, "to");
    const char *id = ember__stanza_attr(st, "id");
    ember_jid_t *sender;

    if (from != NULL)
        ember__stanza_set_attr(r, "to", from);
    if (to != NULL) {
        ember__stanza_set_attr(r, "from", to);
    } else if (from != NULL && (sender = ember__jid_parse(from)) != NULL) {
        ember__stanza_set_attr(r, "from", sender->bare);
        ember__jid_free(sender);
    }
    if (id != NULL)
        ember__stanza_set_attr(r, "id", id);
}


ember_stanza_t *
ember__error_reply(const ember_stanza_t *st, ember_cond_t cond,
                   const char *text)
{
    ember_stanza_t *r, *err, *t;
    const char *code = ember__cond_legacy_code(cond);

    if ((r = ember__stanza_new(ember__stanza_name(st), NULL)) == NULL)
        return NULL;
    reply_addresses(r, st);
    ember__stanza_set_attr(r, "type", "error");
    err = ember__stanza_add_child(r, "error", NULL);
    if (err == NULL ||
        (code != NULL && ember__stanza_set_attr(err, "code", code) < 0) ||
        ember__stanza_set_attr(err, "type", ember__cond_type(cond)) < 0 ||
        ember__stanza_add_child(err, ember__cond_name(cond), NS_STANZAS) ==
            NULL)
        goto fail;
    if (text != NULL) {
        if ((t = ember__stanza_add_child(err, "text", NS_STANZAS)) == NULL ||
            ember__stanza_add_text(t, text) < 0)
            goto fail;
    }
    return r;
fail:
    ember__stanza_free(r);
    return NULL;
}


static int
is_error(const ember_stanza_t *st)
{
    const char *type = ember__stanza_attr(st, "type");

    return type != NULL && strcmp(type, "error") == 0;
}


void
ember__bounce(const ember_stanza_t *st, ember_cond_t cond, const char *text)
{
    const char *to = ember__stanza_attr(st, "to");
    const char *from = ember__stanza_attr(st, "from");
    ember_jid_t *to_jid = NULL, *sender;
    ember_stanza_t *r;

    if (is_error(st) || from == NULL)
        return;
    if ((r = ember__error_reply(st, cond, text)) == NULL)
        return;
    /* A malformed 'to' cannot be the reply's sender: the sender's server
     * answers instead. */
    if (to != NULL && (to_jid = ember__jid_parse(to)) == NULL) {
        if ((sender = ember__jid_parse(from)) == NULL) {
            ember__stanza_free(r);
            return;
        }
        ember__stanza_set_attr(r, "from", sender->domain);
        ember__jid_free(sender);
    }
    ember__jid_free(to_jid);
    ember__route_stanza(r, NULL);
}


static int
is_preauth(const ember_event_t *ev)
{
    return ev->origin != NULL && ember__session_jid(ev->origin) == NULL;
}


/* The sender has no address yet: the reply carries neither 'to' nor
 * 'from' and goes straight onto its stream. */
static int
preauth_reply(ember_session_t *s, ember_stanza_t *r)
{
    ember__stanza_set_attr(r, "to", NULL);
    ember__stanza_set_attr(r, "from", NULL);
    return ember__session_deliver(s, r);
}


ember_stanza_t *
ember__iq_result_of(const ember_stanza_t *iq, ember_stanza_t *payload)
{
    ember_stanza_t *r;
    int rc = 0;

    if ((r = ember__stanza_new("iq", NULL)) != NULL) {
        reply_addresses(r, iq);
        ember__stanza_set_attr(r, "type", "result");
        if (payload != NULL)
            rc = ember__stanza_append(r, payload);
    }
    ember__stanza_free(payload);
    if (rc < 0) {
        ember__stanza_free(r);
        return NULL;
    }
    return r;
}


int
ember__reply_send(ember_stanza_t *r, ember_session_t *preauth_origin)
{
    int rc;

    if (preauth_origin == NULL)
        return ember__route_stanza(r, NULL);
    rc = preauth_reply(preauth_origin, r);
    ember__stanza_free(r);
    return rc;
}


static int fire_named(const char *host, ember_event_t *ev, const char *fmt,
                      const char *a, const char *b, const char *c);

int
ember__iq_result(const ember_event_t *ev, ember_stanza_t *payload)
{
    ember_stanza_t *r;

    if (ev == NULL || ev->stanza == NULL) {
        ember__stanza_free(payload);
        return EMBER_EINVAL;
    }
    if ((r = ember__iq_result_of(ev->stanza, payload)) == NULL)
        return EMBER_ENOMEM;
    return ember__reply_send(r, is_preauth(ev) ? ev->origin : NULL);
}


int
ember__stanza_error(const ember_event_t *ev, ember_cond_t cond,
                    const char *text)
{
    ember_stanza_t *r;

    if (ev == NULL || ev->stanza == NULL)
        return EMBER_EINVAL;
    if (is_preauth(ev)) {
        if ((r = ember__error_reply(ev->stanza, cond, text)) == NULL)
            return EMBER_ENOMEM;
        return ember__reply_send(r, ev->origin);
    }
    ember__bounce(ev->stanza, cond, text);
    return 0;
}


/*
 * An iq of a stream not yet authenticated (secure already): only modules
 * that serve such streams (in-band registration) answer it, on the
 * session itself since the sender has no address yet.
 */
int
ember__route_preauth_iq(ember_stanza_t *st, ember_session_t *origin)
{
    const char *type = ember__stanza_attr(st, "type");
    const char *host = ember__session_host(origin);
    ember_stanza_t *payload = ember__stanza_first(st);
    ember_event_t ev;
    char pl[512];

    if (type == NULL || ember__stanza_attr(st, "id") == NULL ||
        (strcmp(type, "get") != 0 && strcmp(type, "set") != 0) ||
        payload == NULL || ember__stanza_next(payload) != NULL)
        return EMBER_HOOK_PASS;
    memset(&ev, 0, sizeof(ev));
    ev.stanza = st;
    ev.origin = origin;
    snprintf(pl, sizeof(pl), "%s:%s", ember__stanza_xmlns(payload),
             ember__stanza_name(payload));
    if (fire_named(host, &ev, "iq/unauth/%s%s%s", pl, "", "") ==
            EMBER_HOOK_HANDLED ||
        fire_named(host, &ev, "iq-%s/unauth/%s%s", type, pl, "") ==
            EMBER_HOOK_HANDLED)
        return EMBER_HOOK_HANDLED;
    return EMBER_HOOK_PASS;
}


/* ---- delivery ---- */

void
ember__router_set_cluster(const ember_route_cluster_t *ops)
{
    cluster = ops;
}


int
ember__route_remote_sessions(const char *bare)
{
    return cluster != NULL && bare != NULL ? cluster->count(bare) : 0;
}


int
ember__route_remote_walk(const char *bare, const char *host,
                         const char *mark,
                         void (*cb)(const char *full, int available,
                                    int priority, void *ud),
                         void *ud)
{
    return cluster != NULL ? cluster->walk(bare, host, mark, cb, ud) : 0;
}


int
ember__route_remote_deliver(const char *full, const ember_stanza_t *st)
{
    return cluster != NULL && full != NULL ? cluster->deliver_to(full, st)
                                           : 0;
}


void
ember__route_set_command_runner(ember_route_cmd_runner run)
{
    command_runner = run;
}


void
ember__route_run_command(json_t *req, ember_route_cmd_reply_cb reply,
                         void *ud)
{
    if (command_runner == NULL)
        reply(EMBER_ENOTSUP, NULL, "this node runs no commands", ud);
    else
        command_runner(req, reply, ud);
}


void
ember__route_locate(const char *entity, ember_route_locate_cb cb, void *ud)
{
    if (cluster != NULL)
        cluster->locate(entity, cb, ud);
    else
        cb(0, NULL, ud);
}


int
ember__route_command(const char *node, json_t *req,
                     ember_route_cmd_reply_cb reply, void *ud)
{
    return cluster != NULL ? cluster->command(node, req, reply, ud)
                           : EMBER_ENOTSUP;
}


void
ember__route_notice(const char *host, const char *module, const char *key)
{
    if (cluster != NULL)
        cluster->notice(host, module, key);
}


void
ember__route_resume_failed(const char *bare, const char *previd)
{
    if (cluster != NULL)
        cluster->resume_failed(bare, previd);
}


int
ember__route_close_remote(const char *jid, ember_stream_cond_t cond)
{
    return cluster != NULL ? cluster->close(jid, cond) : 0;
}


#define NS_CARBONS "urn:xmpp:carbons:2"

int
ember__route_undelivered(ember_stanza_t *st)
{
    const char *to = ember__stanza_attr(st, "to");
    const char *type = ember__stanza_attr(st, "type");
    ember_jid_t *j = to != NULL ? ember__jid_parse(to) : NULL;
    int others;

    if (j == NULL || j->node == NULL ||
        strcmp(ember__stanza_name(st), "message") != 0 ||
        (type != NULL && (strcmp(type, "error") == 0 ||
                          strcmp(type, "groupchat") == 0 ||
                          strcmp(type, "headline") == 0)) ||
        ember__stanza_child(st, "sent", NS_CARBONS) != NULL ||
        ember__stanza_child(st, "received", NS_CARBONS) != NULL ||
        ember__stanza_child(st, "body", NULL) == NULL) {
        ember__jid_free(j);
        ember__stanza_free(st);
        return 0;
    }
    others = ember__session_first_of(j->bare) != NULL ||
             ember__route_remote_sessions(j->bare) > 0;
    if (j->resource == NULL && others) {
        ember__jid_free(j);
        ember__stanza_free(st);
        return 0;
    }
    ember__stanza_set_attr(st, "to", j->bare);
    ember__jid_free(j);
    next_flags = EMBER_EV_AGAIN;
    ember__route_stanza(st, NULL);
    return 1;
}


int
ember__route_from_node(ember_stanza_t *st, int local_only)
{
    next_via = local_only ? VIA_LOCAL_ONLY : VIA_NODE;
    return ember__route_stanza(st, NULL);
}


static int
deliver_full(ember_stanza_t *st, const ember_jid_t *to)
{
    ember_session_t *s = ember__session_by_full(to->full);

    if (s == NULL)
        return 0;
    ember__session_deliver(s, st);
    return 1;
}


/* To the available resources of the highest non-negative priority (all
 * non-negative ones when `all`); returns how many got it. */
static int
deliver_bare(ember_stanza_t *st, const char *bare, int all, int remote)
{
    ember_session_t *s;
    int best = -1, prio, n = 0;

    for (s = ember__session_first_of(bare); s != NULL;
         s = ember__session_next_of(s))
        if (ember__session_available(s, &prio) && prio > best)
            best = prio;
    /* The same rule over every node's sessions. */
    if (remote && (prio = cluster->best(bare)) > best)
        best = prio;
    if (best < 0)
        return 0;
    for (s = ember__session_first_of(bare); s != NULL;
         s = ember__session_next_of(s))
        if (ember__session_available(s, &prio) && prio >= 0 &&
            (all || prio == best)) {
            ember__session_deliver(s, st);
            n++;
        }
    if (remote)
        n += cluster->deliver(bare, st, all ? 0 : best, all ? 127 : best);
    return n;
}


static void
offline_done(int status, json_t *doc, void *ud)
{
    offline_ctx_t *c = ud;
    const char *type = ember__stanza_attr(c->st, "type");
    ember_hold_ctx_t saved;
    ember_event_t ev;

    ember__hold_enter(c->hold, &saved);
    if (status == 0) {
        /* The user may have come online while we looked. */
        if (deliver_bare(c->st, c->to->bare, 0, cluster != NULL) == 0) {
            memset(&ev, 0, sizeof(ev));
            ev.stanza = c->st;
            ev.from = c->from;
            ev.to = c->to;
            if (ember__fire(c->to->domain, EMBER_EV_MESSAGE_OFFLINE, &ev) !=
                    EMBER_HOOK_HANDLED &&
                (type == NULL || strcmp(type, "headline") != 0))
                ember__bounce(c->st, EMBER_COND_SERVICE_UNAVAILABLE, NULL);
        }
    } else if (type == NULL || strcmp(type, "headline") != 0) {
        ember__bounce(c->st, EMBER_COND_SERVICE_UNAVAILABLE, NULL);
    }
    ember__hold_leave(&saved);
    ember__hold_release(c->hold);
    ember__stanza_free(c->st);
    ember__jid_free(c->from);
    ember__jid_free(c->to);
    free(c);
}


/* A message to a bare JID with no available resource. */
static void
message_offline(ember_stanza_t *st, const ember_jid_t *from,
                const ember_jid_t *to)
{
    offline_ctx_t *c = calloc(1, sizeof(*c));

    if (c != NULL)
        c->hold = ember__hold_take();
    if (c == NULL || (c->st = ember__stanza_copy(st)) == NULL ||
        (c->from = ember__jid_copy(from)) == NULL ||
        (c->to = ember__jid_make(to->node, to->domain, NULL)) == NULL ||
        ember__account_get(to->domain, to->node, offline_done, c) < 0) {
        if (c != NULL) {
            ember__hold_release(c->hold);
            ember__stanza_free(c->st);
            ember__jid_free(c->from);
            ember__jid_free(c->to);
            free(c);
        }
        ember__bounce(st, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
    }
}


static int
is_chat(const char *type)
{
    return type != NULL && strcmp(type, "chat") == 0;
}


static void
default_message(ember_stanza_t *st, const ember_jid_t *from,
                const ember_jid_t *to, target_t target, int remote)
{
    const char *type = ember__stanza_attr(st, "type");
    int groupchat = type != NULL && strcmp(type, "groupchat") == 0;
    int headline = type != NULL && strcmp(type, "headline") == 0;

    if (is_error(st) && target == TO_HOST)
        return;
    if (target == TO_HOST) {
        if (!headline)
            ember__bounce(st, EMBER_COND_SERVICE_UNAVAILABLE, NULL);
        return;
    }
    if (target == TO_FULL && deliver_full(st, to))
        return;
    if (is_error(st))
        return;
    /* RFC 6121 8.5.3.2.1: only chat to a missing resource falls back to
     * the bare JID; normal and groupchat are refused, headline dropped. */
    if (groupchat || (target == TO_FULL && !is_chat(type))) {
        if (!headline)
            ember__bounce(st, EMBER_COND_SERVICE_UNAVAILABLE, NULL);
        return;
    }
    if (deliver_bare(st, to->bare, headline, remote) > 0)
        return;
    message_offline(st, from, to);
}


static void
default_presence(ember_stanza_t *st, const ember_jid_t *to, target_t target,
                 int remote)
{
    const char *type = ember__stanza_attr(st, "type");
    ember_session_t *s;

    if (target == TO_FULL) {
        deliver_full(st, to);
        return;
    }
    if (target != TO_BARE)
        return;
    /* Directed presence and probes to an account go to all its available
     * resources; subscription handling belongs to the presence module. */
    if (type == NULL || strcmp(type, "unavailable") == 0 ||
        strcmp(type, "error") == 0) {
        for (s = ember__session_first_of(to->bare); s != NULL;
             s = ember__session_next_of(s))
            if (ember__session_available(s, NULL))
                ember__session_deliver(s, st);
        if (remote)
            cluster->deliver(to->bare, st, -128, 127);
    }
}


static void
default_iq(ember_stanza_t *st, const ember_jid_t *to, target_t target,
           int request)
{
    if (target == TO_FULL && deliver_full(st, to))
        return;
    if (request)
        ember__bounce(st, EMBER_COND_SERVICE_UNAVAILABLE, NULL);
}


/* Nothing in a subdomain service took the stanza. */
static void
default_service(ember_stanza_t *st, int is_iq, int request, const char *kind)
{
    if ((is_iq && request) ||
        (strcmp(kind, "message") == 0 && !is_error(st)))
        ember__bounce(st, EMBER_COND_SERVICE_UNAVAILABLE, NULL);
}


/* ---- events ---- */

static int
fire_named(const char *host, ember_event_t *ev, const char *fmt,
           const char *a, const char *b, const char *c)
{
    char name[512];
    int n = snprintf(name, sizeof(name), fmt, a, b, c);

    if (n < 0 || (size_t) n >= sizeof(name))
        return EMBER_HOOK_PASS;
    return ember__fire(host, name, ev);
}


static void
presence_from_client(ember_stanza_t *st, ember_session_t *origin)
{
    const char *type = ember__stanza_attr(st, "type");
    ember_stanza_t *p;
    int prio = 0;

    if (type == NULL) {
        if ((p = ember__stanza_child(st, "priority", NULL)) != NULL)
            prio = atoi(ember__stanza_text(p));
        if (prio < -128)
            prio = -128;
        if (prio > 127)
            prio = 127;
        ember__session_set_presence(origin, 1, prio);
    } else if (strcmp(type, "unavailable") == 0) {
        ember__session_set_presence(origin, 0, 0);
    }
}


int
ember__route_stanza(ember_stanza_t *st, ember_session_t *origin)
{
    const char *kind = ember__stanza_name(st);
    const char *type = ember__stanza_attr(st, "type");
    const char *from_s = ember__stanza_attr(st, "from");
    const char *to_s = ember__stanza_attr(st, "to");
    const char *cls, *host;
    ember_jid_t *from = NULL, *to = NULL;
    ember_stanza_t *payload = NULL;
    ember_event_t ev;
    target_t target;
    int is_iq, request = 0, self, handled, via = next_via, remote;
    uint32_t flags = next_flags;
    char pl[512];

    next_via = VIA_HERE;
    next_flags = 0;
    remote = cluster != NULL && via != VIA_LOCAL_ONLY;
    is_iq = strcmp(kind, "iq") == 0;
    if (from_s == NULL || (from = ember__jid_parse(from_s)) == NULL) {
        ember__log(EMBER_LOG_WARN, "router", "dropped a %s without a valid "
                   "'from'", kind);
        goto done;
    }
    if (to_s == NULL) {
        /* RFC 6120 10.3: no 'to' means the sender's own account.  A
         * presence without 'to' is a broadcast: "presence/self". */
        to = ember__jid_make(from->node, from->domain, NULL);
    } else if ((to = ember__jid_parse(to_s)) == NULL) {
        ember__bounce(st, EMBER_COND_JID_MALFORMED, NULL);
        goto done;
    }
    if (to == NULL) {
        ember__bounce(st, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        goto done;
    }
    if (is_iq) {
        if (type == NULL || ember__stanza_attr(st, "id") == NULL) {
            ember__bounce(st, EMBER_COND_BAD_REQUEST, "iq needs id and type");
            goto done;
        }
        request = strcmp(type, "get") == 0 || strcmp(type, "set") == 0;
        if (!request && strcmp(type, "result") != 0 &&
            strcmp(type, "error") != 0) {
            ember__bounce(st, EMBER_COND_BAD_REQUEST, "bad iq type");
            goto done;
        }
        if (request) {
            payload = ember__stanza_first(st);
            if (payload == NULL || ember__stanza_next(payload) != NULL) {
                ember__bounce(st, EMBER_COND_BAD_REQUEST,
                              "an iq get or set carries exactly one "
                              "element");
                goto done;
            }
        } else if (ember__iq_response(st, from)) {
            goto done;
        }
    }
    host = to->domain;
    if (to->node == NULL)
        target = TO_HOST, cls = "host";
    else if (to->resource == NULL)
        target = TO_BARE, cls = "bare";
    else
        target = TO_FULL, cls = "full";
    self = target == TO_BARE && from->node != NULL &&
           strcmp(from->bare, to->bare) == 0;
    if (origin != NULL && !is_iq && strcmp(kind, "presence") == 0 &&
        (to_s == NULL || self))
        presence_from_client(st, origin);

    memset(&ev, 0, sizeof(ev));
    ev.stanza = st;
    ev.origin = origin;
    ev.from = from;
    ev.to = to;
    /* Outbound filters belong to the sender's host, wherever the stanza
     * goes. */
    if (origin != NULL &&
        fire_named(ember__session_host(origin), &ev, "pre-%s/%s%s", kind,
                   self ? "self" : cls, "") == EMBER_HOOK_HANDLED)
        goto done;
    memset(&ev, 0, sizeof(ev));
    ev.stanza = st;
    ev.origin = origin;
    ev.from = from;
    ev.to = to;
    ev.flags = flags;
    /* A room (any entity of a service) lives on one node at a time. */
    if (remote && via == VIA_HERE && ember__service_exists(host) &&
        cluster->to_service(to->bare, st))
        goto done;
    if ((handled = ember__service_dispatch(host, &ev)) != EMBER_ENOENT) {
        if (handled != EMBER_HOOK_HANDLED)
            default_service(st, is_iq, request, kind);
        goto done;
    }
    /* XEP-0114: a domain an external component owns. */
    if (ember__component_route(host, st))
        goto done;
    if (!ember__host_exists(host)) {
        ember__s2s_send(st, from->domain, host);
        goto done;
    }
    /* An account whose sessions are on another node: that node routes
     * it, so that its modules see their own sessions. */
    if (remote && via == VIA_HERE && to->node != NULL &&
        (target == TO_FULL
             ? ember__session_by_full(to->full) == NULL &&
                   cluster->to_full(to->full, st)
             : ember__session_first_of(to->bare) == NULL &&
                   cluster->to_bare(to->bare, st)))
        goto done;
    if (payload != NULL) {
        snprintf(pl, sizeof(pl), "%s:%s", ember__stanza_xmlns(payload),
                 ember__stanza_name(payload));
        /* The generic name first, so that filters (blocking) see every
         * iq to an account before the payload's handler does. */
        handled = fire_named(host, &ev, "iq/%s%s%s", cls, "", "") ==
                      EMBER_HOOK_HANDLED ||
                  (self &&
                   (fire_named(host, &ev, "iq/self/%s%s%s", pl, "", "") ==
                        EMBER_HOOK_HANDLED ||
                    fire_named(host, &ev, "iq-%s/self/%s%s", type, pl, "") ==
                        EMBER_HOOK_HANDLED)) ||
                  fire_named(host, &ev, "iq/%s/%s%s", cls, pl, "") ==
                      EMBER_HOOK_HANDLED ||
                  fire_named(host, &ev, "iq-%s/%s/%s", type, cls, pl) ==
                      EMBER_HOOK_HANDLED;
    } else if (is_iq) {
        handled = fire_named(host, &ev, "iq/%s%s%s", cls, "", "") ==
                      EMBER_HOOK_HANDLED ||
                  fire_named(host, &ev, "iq-%s/%s%s", type, cls, "") ==
                      EMBER_HOOK_HANDLED;
    } else {
        handled = (self && fire_named(host, &ev, "%s/self%s%s", kind, "",
                                      "") == EMBER_HOOK_HANDLED) ||
                  fire_named(host, &ev, "%s/%s%s", kind, cls, "") ==
                      EMBER_HOOK_HANDLED;
    }
    if (handled)
        goto done;
    if (is_iq)
        default_iq(st, to, target, request);
    else if (strcmp(kind, "message") == 0)
        default_message(st, from, to, target, remote);
    else if (!(origin != NULL && to_s == NULL))
        default_presence(st, to, target, remote);
done:
    ember__jid_free(from);
    ember__jid_free(to);
    ember__stanza_free(st);
    return 0;
}
