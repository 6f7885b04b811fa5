/* presence.h -- shared between the files of mod_presence. */
#ifndef MOD_PRESENCE_H
#define MOD_PRESENCE_H

#include <ember/plugin.h>
#include <ember/roster.h>

typedef struct {
    int max_directed;   /* directed presence targets remembered per session */
} pres_conf_t;

/* One instance per host; every instance of the process is listed so that
 * a stanza between two local hosts finds the sender's side. */
/* Work waiting on the roster, released at unload if still waiting. */
typedef struct ppend_s {
    struct ppend_s *next, *prev;
    void (*release)(void *p);   /* frees the struct that holds it */
    int linked;
} ppend_t;

typedef struct pres_inst_s {
    struct pres_inst_s *next;
    ember_module_t *m;
    const char *host;
    ppend_t *pending;
} pres_inst_t;

void pres_pending_add(pres_inst_t *pi, ppend_t *p, void (*release)(void *p));
void pres_pending_remove(pres_inst_t *pi, ppend_t *p);

/* Per session: what it broadcast and whom it sent directed presence. */
typedef struct ptarget_s {
    struct ptarget_s *next;
    char jid[];
} ptarget_t;

typedef struct {
    ember_stanza_t *last;  /* last available broadcast; NULL: unavailable */
    ptarget_t *directed;
    size_t ndirected;
} psess_t;

extern const ember_api_t *api;

pres_inst_t *pres_inst_of(const char *host);
const ember_roster_iface_t *pres_roster(pres_inst_t *pi);

/* what presence sends (presence_send.c) */
psess_t *pres_sess(pres_inst_t *pi, ember_session_t *s);
/* The session's record, NULL when it has none. */
psess_t *pres_sess_peek(pres_inst_t *pi, ember_session_t *s);
void psess_free(void *p);
/* The session's presence (in NULL: unavailable) to whoever should see it;
 * closing: the session is going away. */
void pres_broadcast(pres_inst_t *pi, ember_session_t *s,
                    const ember_stanza_t *in, int available, int closing);
/* The presence of user's other available resources, straight to origin. */
void pres_answer_probe(pres_inst_t *pi, const char *user,
                       ember_session_t *origin);
/* Unloading: no roster callback of the broadcast code may run later. */
void pres_send_cancel(const ember_roster_iface_t *ri);

/* Send st (not taken) to every available session of user@pi->host but
 * the one of full JID `except` (may be NULL); returns how many got it. */
int pres_deliver_available(pres_inst_t *pi, const char *user,
                           const ember_stanza_t *st, const char *except);
/* The last presence of each available session of user, from its full JID
 * to `to`, routed (direct 0) or delivered to to's available sessions
 * without the roster check (direct 1).  unavailable: send
 * <presence type='unavailable'/> instead.  Returns how many went. */
int pres_send_current(pres_inst_t *pi, const char *user, const char *to,
                      int unavailable);
/* Build and route <presence type=type from=from to=to/>. */
void pres_route_simple(pres_inst_t *pi, const char *from, const char *to,
                       const char *type);

/* subscriptions (presence_sub.c) */
typedef enum {
    SUB_SUBSCRIBE = 1,
    SUB_SUBSCRIBED,
    SUB_UNSUBSCRIBE,
    SUB_UNSUBSCRIBED
} sub_type_t;

int pres_sub_type(const char *type);
/* Unloading: no roster callback of the subscription code may run later. */
void pres_sub_cancel(const ember_roster_iface_t *ri);
/* A subscription stanza of user to contact (outbound) or of contact to
 * user (inbound).  st is copied. */
int pres_sub_process(pres_inst_t *pi, const char *user, const char *contact,
                     sub_type_t type, int inbound, const ember_stanza_t *st);
/* Pending subscription requests, delivered to a newly available session. */
void pres_sub_redeliver(pres_inst_t *pi, ember_roster_t *roster,
                        ember_session_t *s);
int pres_sub_on_removing(ember_module_t *m, const ember_event_t *ev,
                         void *ud);

#endif
