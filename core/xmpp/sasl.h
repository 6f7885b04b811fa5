/* core/sasl.h -- SASL through libgsasl against stored SCRAM secrets. */
#ifndef EMBER_CORE_SASL_H
#define EMBER_CORE_SASL_H

#include <stddef.h>

typedef struct ember_sasl_s ember_sasl_t;

typedef enum {
    EMBER_SASL_CHALLENGE = 1, /* data: base64 challenge ("" = empty) */
    EMBER_SASL_SUCCESS = 2,   /* data: base64 additional data or NULL */
    /* Wrong credentials (or no such account: the client cannot tell).
     * data: RFC 6120 SASL failure condition. */
    EMBER_SASL_FAILURE = 3,
    /* Refused for another reason (malformed, a channel binding the
     * server cannot provide, throttled, locked): no password was
     * guessed.  data: the condition, text: why, for the client. */
    EMBER_SASL_REFUSED = 4
} ember_sasl_status_t;

/* Runs on the core thread, possibly after the call that caused it.
 * text is NULL except with EMBER_SASL_REFUSED. */
typedef void (*ember_sasl_cb)(void *ud, ember_sasl_status_t status,
                              const char *data, const char *text);

int ember__sasl_init(void);
void ember__sasl_cleanup(void);

/*
 * Mechanisms to offer on host: PLAIN only when `secure` (TLS, or a
 * loopback listener an operator allowed without TLS); -PLUS only when
 * channel binding data is available; PLAIN alone when an authentication
 * provider (ember/auth.h) owns the host's passwords.
 */
size_t ember__sasl_mechanisms(const char *host, int secure, int have_cb,
                              const char **out, size_t max);

/*
 * peer: the client's address, door: the transport ("c2s"), both for the
 * login throttle (store/throttle.h) and its log line.  cb_type
 * "tls-exporter" or "tls-unique" with its base64 data, or NULL.  Returns
 * NULL on ENOMEM.
 */
ember_sasl_t *ember__sasl_new(const char *host, const char *peer,
                              const char *door, const char *cb_type,
                              const char *cb_data, ember_sasl_cb cb,
                              void *ud);
/* An <auth/>: mech must be one ember__sasl_mechanisms offered. */
void ember__sasl_start(ember_sasl_t *s, const char *mech,
                       const char *initial);
/* A <response/>. */
void ember__sasl_step(ember_sasl_t *s, const char *data);
/* Authenticated user (nodeprep'ed) after success. */
const char *ember__sasl_user(const ember_sasl_t *s);
const char *ember__sasl_mechanism(const ember_sasl_t *s);
/* Safe with work in flight: no callback runs after this. */
void ember__sasl_free(ember_sasl_t *s);

#endif
