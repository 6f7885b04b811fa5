/* core/xmpp/sasl_parse.h -- the parsers of sasl.c that read what a client
 * sent before any account is looked at; shared with tests/fuzz. */
#ifndef EMBER_CORE_SASL_PARSE_H
#define EMBER_CORE_SASL_PARSE_H

#include <stddef.h>

/*
 * The user named by a decoded SCRAM client-first-message (gs2 header,
 * then "n=" saslname with "=2C" and "=3D" unescaped), nodeprep'ed into
 * out.  0, or EMBER_EINVAL when it names none.
 */
int ember__sasl_scram_username(const char *msg, size_t len, char *out,
                               size_t outlen);

/* The authcid of a decoded PLAIN message, nodeprep'ed into out. */
int ember__sasl_plain_username(const char *msg, size_t len, char *out,
                               size_t outlen);

/*
 * SCRAM's gs2 channel-binding flag against what the connection offers
 * (cb_type NULL: no binding data) with mechanism mech: NULL when the flag
 * is acceptable, else the reason for the client.
 */
const char *ember__sasl_binding_refusal(const char *mech, const char *cb_type,
                                        const char *msg, size_t len);

#endif
