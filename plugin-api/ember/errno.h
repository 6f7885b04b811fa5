/* ember/errno.h -- program errors (negative EMBER_E*) and XMPP conditions. */
#ifndef EMBER_ERRNO_H
#define EMBER_ERRNO_H

/* Program errors.  0 is success; every error is negative.  Never reorder. */
#define EMBER_ERRNO_MAP(XX)                                                  \
    XX(EINVAL, -1, "invalid argument")                                       \
    XX(ENOMEM, -2, "out of memory")                                          \
    XX(ENOENT, -3, "no such entry")                                          \
    XX(EEXIST, -4, "already exists")                                         \
    XX(ENOTSUP, -5, "not supported")                                         \
    XX(EABI, -6, "incompatible plugin ABI")                                  \
    XX(EIO, -7, "input/output error")                                        \
    XX(EPERM, -8, "permission denied")                                       \
    XX(EBUSY, -9, "resource busy")                                           \
    XX(ELIMIT, -10, "limit reached")                                         \
    XX(EDEPEND, -11, "missing dependency")                                   \
    XX(ESTATE, -12, "wrong state")                                           \
    XX(EPROTO, -13, "protocol error")                                        \
    XX(ETIMEDOUT, -14, "timed out")                                          \
    XX(ECANCELED, -15, "canceled")                                           \
    XX(EAUTH, -16, "authentication failed")

enum {
#define EMBER_ERRNO_ENUM(name, val, msg) EMBER_##name = (val),
    EMBER_ERRNO_MAP(EMBER_ERRNO_ENUM)
#undef EMBER_ERRNO_ENUM
    EMBER_ERRNO_MIN = -16
};

/*
 * Stanza error conditions of RFC 6120 section 8.3.3.  XX(name, wire name,
 * default error type).  Never reorder: values are part of the ABI.
 */
#define EMBER_COND_MAP(XX)                                                   \
    XX(BAD_REQUEST, "bad-request", "modify")                                 \
    XX(CONFLICT, "conflict", "cancel")                                       \
    XX(FEATURE_NOT_IMPLEMENTED, "feature-not-implemented", "cancel")         \
    XX(FORBIDDEN, "forbidden", "auth")                                       \
    XX(GONE, "gone", "cancel")                                               \
    XX(INTERNAL_SERVER_ERROR, "internal-server-error", "cancel")             \
    XX(ITEM_NOT_FOUND, "item-not-found", "cancel")                           \
    XX(JID_MALFORMED, "jid-malformed", "modify")                             \
    XX(NOT_ACCEPTABLE, "not-acceptable", "modify")                           \
    XX(NOT_ALLOWED, "not-allowed", "cancel")                                 \
    XX(NOT_AUTHORIZED, "not-authorized", "auth")                             \
    XX(POLICY_VIOLATION, "policy-violation", "modify")                       \
    XX(RECIPIENT_UNAVAILABLE, "recipient-unavailable", "wait")               \
    XX(REDIRECT, "redirect", "modify")                                       \
    XX(REGISTRATION_REQUIRED, "registration-required", "auth")               \
    XX(REMOTE_SERVER_NOT_FOUND, "remote-server-not-found", "cancel")         \
    XX(REMOTE_SERVER_TIMEOUT, "remote-server-timeout", "wait")               \
    XX(RESOURCE_CONSTRAINT, "resource-constraint", "wait")                   \
    XX(SERVICE_UNAVAILABLE, "service-unavailable", "cancel")                 \
    XX(SUBSCRIPTION_REQUIRED, "subscription-required", "auth")               \
    XX(UNDEFINED_CONDITION, "undefined-condition", "cancel")                 \
    XX(UNEXPECTED_REQUEST, "unexpected-request", "wait")

typedef enum {
#define EMBER_COND_ENUM(name, wire, type) EMBER_COND_##name,
    EMBER_COND_MAP(EMBER_COND_ENUM)
#undef EMBER_COND_ENUM
    EMBER_COND_COUNT,
    /* Minor 3: "no error", for functions that return a condition. */
    EMBER_COND_NONE = -1
} ember_cond_t;

/*
 * Stream error conditions of RFC 6120 section 4.9.3 (minor 3), for
 * session_end.  XX(name, wire name).  Never reorder.
 */
#define EMBER_STREAM_COND_MAP(XX)                                            \
    XX(BAD_FORMAT, "bad-format")                                             \
    XX(BAD_NAMESPACE_PREFIX, "bad-namespace-prefix")                         \
    XX(CONFLICT, "conflict")                                                 \
    XX(CONNECTION_TIMEOUT, "connection-timeout")                             \
    XX(HOST_GONE, "host-gone")                                               \
    XX(HOST_UNKNOWN, "host-unknown")                                         \
    XX(IMPROPER_ADDRESSING, "improper-addressing")                           \
    XX(INTERNAL_SERVER_ERROR, "internal-server-error")                       \
    XX(INVALID_FROM, "invalid-from")                                         \
    XX(INVALID_NAMESPACE, "invalid-namespace")                               \
    XX(INVALID_XML, "invalid-xml")                                           \
    XX(NOT_AUTHORIZED, "not-authorized")                                     \
    XX(NOT_WELL_FORMED, "not-well-formed")                                   \
    XX(POLICY_VIOLATION, "policy-violation")                                 \
    XX(REMOTE_CONNECTION_FAILED, "remote-connection-failed")                 \
    XX(RESET, "reset")                                                       \
    XX(RESOURCE_CONSTRAINT, "resource-constraint")                           \
    XX(RESTRICTED_XML, "restricted-xml")                                     \
    XX(SEE_OTHER_HOST, "see-other-host")                                     \
    XX(SYSTEM_SHUTDOWN, "system-shutdown")                                   \
    XX(UNDEFINED_CONDITION, "undefined-condition")                           \
    XX(UNSUPPORTED_ENCODING, "unsupported-encoding")                         \
    XX(UNSUPPORTED_FEATURE, "unsupported-feature")                           \
    XX(UNSUPPORTED_STANZA_TYPE, "unsupported-stanza-type")                   \
    XX(UNSUPPORTED_VERSION, "unsupported-version")

typedef enum {
#define EMBER_STREAM_COND_ENUM(name, wire) EMBER_STREAM_##name,
    EMBER_STREAM_COND_MAP(EMBER_STREAM_COND_ENUM)
#undef EMBER_STREAM_COND_ENUM
    EMBER_STREAM_COND_COUNT,
    EMBER_STREAM_NONE = -1
} ember_stream_cond_t;

#endif
