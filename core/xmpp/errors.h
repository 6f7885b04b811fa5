/* core/xmpp/errors.h -- the wire names of RFC 6120 stanza and stream
 * error conditions. */
#ifndef EMBER_CORE_ERRORS_H
#define EMBER_CORE_ERRORS_H

#include <ember/plugin.h>

/* Out of range (EMBER_COND_NONE included): undefined-condition. */
const char *ember__cond_name(ember_cond_t cond);
/* The error type that goes with cond: "cancel", "modify" ... */
const char *ember__cond_type(ember_cond_t cond);
/* XEP-0086's legacy "code" for cond, or NULL (policy-violation). */
const char *ember__cond_legacy_code(ember_cond_t cond);
/* Out of range: undefined-condition. */
const char *ember__stream_cond_name(ember_stream_cond_t cond);
/* What the API answers: NULL when out of range. */
const char *ember__cond_name_or_null(ember_cond_t cond);
const char *ember__stream_cond_name_or_null(ember_stream_cond_t cond);
/* A wire name back to its condition: undefined-condition if unknown. */
ember_stream_cond_t ember__stream_cond_parse(const char *name);

#endif
