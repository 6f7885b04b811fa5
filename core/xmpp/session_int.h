/* core/xmpp/session_int.h -- a client session, shared by the stream state
 * machine (stream.c) and the session registry (sessions.c) only. */
#ifndef EMBER_CORE_SESSION_INT_H
#define EMBER_CORE_SESSION_INT_H

#include <stdint.h>

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

struct ember_session_s {
    const ember_transport_ops_t *tops;
    void *t;                 /* NULL once the transport is gone */
    session_state_t state;
    unsigned require_tls : 1;
    unsigned header_sent : 1;
    unsigned available : 1;
    unsigned in_sasl : 1;
    int priority;
    int sasl_failures;
    int sasl_refusals;
    ember_xml_t *xml;
    ember_sasl_t *sasl;
    char *host;
    ember_jid_t *jid;
    const char *mechanism;
    char *client;            /* software, from XEP-0092, when known */
    char id[24];
    char refkey[24];         /* the ember_session_ref_t, in decimal */
    uint64_t stanzas_in, stanzas_out;
    session_slot_t *slots;
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
void ember__sessions_count_in(ember_session_t *s);
void ember__sessions_count_out(ember_session_t *s);

#endif
