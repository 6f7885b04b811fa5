/* core/xmpp/session_int.h -- a client session, shared by the stream state
 * machine (stream.c) and the session registry (sessions.c) only. */
#ifndef EMBER_CORE_SESSION_INT_H
#define EMBER_CORE_SESSION_INT_H

#include <stdint.h>

#include "base/buf.h"
#include "base/jid.h"
#include "xmpp/sasl.h"
#include "xmpp/session.h"
#include "xmpp/transport.h"
#include "xmpp/xmlstream.h"

typedef enum {
    ST_CONNECTED,   /* waiting for the stream header */
    ST_OPEN,        /* features sent: STARTTLS or SASL */
    ST_AUTHED,      /* restarted after SASL: bind */
    ST_BOUND,
    ST_CLOSING
} session_state_t;

typedef struct session_slot_s {
    ember_module_t *m;
    void *value;
    struct session_slot_s *next;
} session_slot_t;

typedef struct ember_sm_s ember_sm_t;
typedef struct ember_csi_s ember_csi_t;

struct ember_session_s {
    const ember_transport_ops_t *tops;
    void *t;                 /* NULL once the transport is gone */
    session_state_t state;
    unsigned require_tls : 1;
    unsigned header_sent : 1;
    unsigned available : 1;
    unsigned in_sasl : 1;
    unsigned hibernating : 1;  /* resumable, its connection lost (sm.c) */
    unsigned merged : 1;       /* resumed another session: a shell */
    int priority;
    int sasl_failures;
    int sasl_refusals;
    ember_xml_t *xml;
    ember_sasl_t *sasl;
    char *host;
    ember_jid_t *jid;
    const char *mechanism;
    char *client;            /* software, from XEP-0092, when known */
    /* Names modules set for the cluster's other nodes to see, each
     * followed by ',' (",carbons,"), or NULL. */
    char *marks;
    char id[24];
    /* The xml:lang of the client's stream header, "" when it had none
     * or not a usable language tag: added to stanzas without one. */
    char lang[36];
    char refkey[24];         /* the ember_session_ref_t, in decimal */
    uint64_t stanzas_in, stanzas_out;
    /* stanzas_out when the client's last element, and the one before,
     * arrived: what crossed a client's <enable/> in flight (sm.c). */
    uint32_t out_mark, out_mark_prev;
    session_slot_t *slots;
    ember_sm_t *sm;          /* XEP-0198, once the client enabled it */
    ember_csi_t *csi;        /* XEP-0352, once the client said its state */
    struct ember_session_s *prev, *next;          /* every session */
    struct ember_session_s *user_prev, *user_next; /* same bare JID */
};

/* The registry's side of a session's life (sessions.c). */
void ember__sessions_add(ember_session_t *s);
int ember__sessions_bind(ember_session_t *s);
void ember__sessions_unbind(ember_session_t *s);
/* Leaves the ref table: session_get stops finding it. */
void ember__sessions_forget_ref(ember_session_t *s);
/* Off every list; frees the modules' slots.  The caller frees s. */
void ember__sessions_remove(ember_session_t *s);
ember_session_t *ember__sessions_first(void);
/* Secure: TLS under it, or a listener that does not require TLS. */
int ember__session_secure(const ember_session_t *s);
int ember__session_write_stanza(ember_session_t *s, const ember_stanza_t *st);
size_t ember__session_standalone(const ember_stanza_t *st,
                                 const ember_buf_t *w, char *out);
int ember__session_write_kept(ember_session_t *s, const char *xml,
                              size_t len);
void ember__sessions_count_in(ember_session_t *s);
void ember__sessions_count_out(ember_session_t *s);
/* Leave the routing tables and free s, whose transport is gone. */
void ember__stream_finish(ember_session_t *s);

/* Stream management (sm.c). */
void ember__sm_features(ember_session_t *s, ember_stanza_t *features);
/* An element of urn:xmpp:sm:3 from the client: 0, or a negative error
 * that ends the stream. */
int ember__sm_nonza(ember_session_t *s, const ember_stanza_t *el);
void ember__sm_count_in(ember_session_t *s);
/* A stanza is written as wire (or kept for a hibernating session): queue
 * a copy until acknowledged; EMBER_ELIMIT past <limits max-unacked>. */
int ember__sm_sent(ember_session_t *s, const ember_stanza_t *st,
                   const ember_buf_t *wire);
/* After a batch of stanzas: ask for an acknowledgement. */
void ember__sm_after_send(ember_session_t *s);
int ember__sm_resumable(const ember_session_t *s);
/* The transport is gone: 1 when the session waits for a resume instead of
 * ending. */
int ember__sm_hibernate(ember_session_t *s);
void ember__sm_end_hibernating(ember_session_t *s);
void ember__sm_free(ember_session_t *s);
void ember__sm_cleanup(void);
/* The client stanza of s is being routed now (NULL: none). */
void ember__sm_routing(ember_session_t *s);

/* Client state indication (csi.c). */
void ember__csi_features(ember_session_t *s, ember_stanza_t *features);
/* <active/> or <inactive/>: 0, or a negative error that ends the stream. */
int ember__csi_nonza(ember_session_t *s, const ember_stanza_t *el);
/* 1 when st waits (copied) for the client to be active again. */
int ember__csi_hold(ember_session_t *s, const ember_stanza_t *st);
int ember__csi_inactive(const ember_session_t *s);
void ember__csi_free(ember_session_t *s);

#endif
