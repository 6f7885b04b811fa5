/* core/xmpp/session.h -- client sessions as the rest of the core sees
 * them: the registry (sessions.c) and the stream (stream.c). */
#ifndef EMBER_CORE_SESSION_H
#define EMBER_CORE_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <ember/plugin.h>

/* Close every bound session of user@host with a stream error condition,
 * on every node of a cluster; how many. */
int ember__sessions_close_user(const char *host, const char *user,
                               ember_stream_cond_t cond);
/* Close this node's sessions of jid (bare: all of the account's). */
int ember__sessions_close_here(const char *jid, ember_stream_cond_t cond);
/* Close every session (shutdown): condition e.g. "system-shutdown". */
void ember__sessions_close_all(ember_stream_cond_t cond);
/* Streams of hosts the configuration no longer has (RFC 6120 host-gone). */
int ember__sessions_close_gone_hosts(void);
/* Connected client streams, and how many are bound. */
size_t ember__sessions_count(size_t *bound);
/* Stanzas received from and delivered to clients since the start. */
void ember__sessions_stanza_totals(uint64_t *in, uint64_t *out);
/* Told when a session is bound (bound 1), changes its presence (bound 1)
 * or leaves the routing tables (bound 0): the cluster publishes it. */
void ember__sessions_observe(void (*cb)(ember_session_t *s, int bound));
/* [{"jid","ip","tls","mechanism","idle_ms","in","out"}] of bound sessions. */
json_t *ember__sessions_describe(const char *host);
/* bare's client resumed (XEP-0198) previd on another node, which did not
 * have it: end previd's session here now, as if it had not been resumed
 * in time, rather than keep its stanzas until the timeout (sm.c). */
void ember__sm_give_up(const char *bare, const char *previd);

#endif

/* ---- holds (sm.c): a client's acknowledgement waits for storage ---- */
#ifndef EMBER_CORE_SESSION_HOLDS
#define EMBER_CORE_SESSION_HOLDS
/* A hold on the client stanza being handled now, or NULL (none, or its
 * client did not enable stream management). */
ember_hold_t *ember__hold_take(void);
void ember__hold_release(ember_hold_t *h);
/* What ember__hold_enter replaced, for ember__hold_leave. */
typedef struct ember_hold_group_s ember_hold_group_t;
typedef struct {
    ember_session_ref_t ref;
    uint32_t seq;
    ember_hold_t *hold;
    ember_hold_group_t *group;
} ember_hold_ctx_t;
/* Handle, later, what a held stanza caused: holds taken meanwhile are on
 * the same stanza. */
void ember__hold_enter(const ember_hold_t *h, ember_hold_ctx_t *saved);
void ember__hold_leave(const ember_hold_ctx_t *saved);
/* A stanza another node handed us: the holds taken while it is routed,
 * until _end, form a group, and done(ud) runs once the routing and every
 * one of them is over (at the earliest in _end), so that the other node
 * answers its client only then.  EMBER_ENOMEM: no group, done never
 * runs. */
int ember__hold_group_begin(void (*done)(void *ud), void *ud,
                            ember_hold_ctx_t *saved);
void ember__hold_group_end(const ember_hold_ctx_t *saved);
#endif

/* ---- for the router (core-internal) ---- */
#ifndef EMBER_CORE_SESSION_ROUTER
#define EMBER_CORE_SESSION_ROUTER
ember_session_t *ember__session_by_full(const char *full);
/* Bound sessions of a bare JID, in bind order. */
ember_session_t *ember__session_first_of(const char *bare);
ember_session_t *ember__session_next_of(ember_session_t *s);
/* Serialize st onto the session's stream. */
int ember__session_deliver(ember_session_t *s, const ember_stanza_t *st);
void ember__session_set_presence(ember_session_t *s, int available,
                                 int priority);
/* 1 when available (initial presence sent), with its priority. */
int ember__session_available(ember_session_t *s, int *priority);
const ember_jid_t *ember__session_jid(ember_session_t *s);
/* The virtual host the stream was opened for (NULL before the header). */
const char *ember__session_host(ember_session_t *s);
int ember__session_set_client(ember_session_t *s, const char *software);
/* Set or clear a mark (letters, digits, '-', '_'; 1 to 31 bytes) the
 * cluster publishes with the session (api->session_mark). */
int ember__session_mark(ember_session_t *s, const char *mark, int on);
/* ",a,b," or "", at most this long. */
#define EMBER__MARKS_MAX 255
const char *ember__session_marks(const ember_session_t *s);
/* ["a","b"] of ",a,b," (NULL: []). */
json_t *ember__marks_json(const char *marks);
/* Whether marks (as above) holds mark. */
int ember__marks_have(const char *marks, const char *mark);
#endif

/* ---- slots and the api (core-internal) ---- */
#ifndef EMBER_CORE_SESSION_MISC
#define EMBER_CORE_SESSION_MISC

void ember__sessions_cleanup(void);

/* api->session_close (minor 0): the condition by its wire name, NULL for
 * a plain close; unknown names give undefined-condition. */
void ember__session_close(ember_session_t *s, const char *condition);
void ember__session_end(ember_session_t *s, ember_stream_cond_t cond,
                        const char *text);
/* Refs (ember_session_ref_t): valid from accept until the close begins. */
ember_session_ref_t ember__session_ref(ember_session_t *s);
ember_session_t *ember__session_get(ember_session_ref_t ref);
/* The bound session of a full JID (prepared here), or NULL. */
ember_session_t *ember__session_by_jid(const char *full_jid);
uint64_t ember__session_idle_ms(ember_session_t *s);
const char *ember__session_ip(ember_session_t *s);
int ember__session_priority(ember_session_t *s, int *available);
void **ember__session_slot(ember_module_t *m, ember_session_t *s);
int ember__session_slot_destructor(ember_module_t *m, void (*dtor)(void *));
int ember__user_sessions(ember_module_t *m, const char *user,
                         ember_session_cb cb, void *ud);
int ember__host_sessions(ember_module_t *m, ember_session_cb cb, void *ud);
void ember__sessions_module_gone(ember_module_t *m);
#endif
