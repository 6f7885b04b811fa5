/* core/tls.h -- GnuTLS over libuv buffers. */
#ifndef EMBER_CORE_TLS_H
#define EMBER_CORE_TLS_H

#include <stddef.h>
#include <sys/types.h>

#include "base/config.h"

typedef struct ember_tls_s ember_tls_t;

typedef struct ember_tls_io_s {
    /* Ciphertext to the socket. */
    int (*write)(void *ud, const char *data, size_t len);
    /* Plaintext from the peer. */
    void (*read)(void *ud, const char *data, size_t len);
    /* Handshake finished. */
    void (*ready)(void *ud);
} ember_tls_io_t;

/*
 * Load the certificates of every host (GnuTLS picks one by SNI); the
 * global certificate is generated self-signed when its files are missing.
 */
int ember__tls_init(const ember_config_t *cfg, char *err, size_t errlen);
void ember__tls_cleanup(void);
/* Load the certificates of cfg again (reload); the old ones stay in use
 * when this fails. */
int ember__tls_reload(const ember_config_t *cfg, char *err, size_t errlen);

typedef struct ember_tls_opts_s {
    const char *server_name;   /* set: we are the client, sending this SNI */
    const char *alpn;          /* "xmpp-client", "xmpp-server" or NULL */
    int peer_cert;             /* server: ask the peer for a certificate
                                  (s2s, XEP-0178) */
} ember_tls_opts_t;

ember_tls_t *ember__tls_new(const ember_tls_io_t *io, void *ud,
                            const ember_tls_opts_t *opts);
/* Ciphertext arrived.  0, or a negative error (the stream must close). */
int ember__tls_feed(ember_tls_t *t, const char *data, size_t len);
int ember__tls_send(ember_tls_t *t, const char *data, size_t len);
/* Send close_notify (best effort). */
void ember__tls_bye(ember_tls_t *t);
void ember__tls_free(ember_tls_t *t);
int ember__tls_ready(const ember_tls_t *t);
/* "TLS1.3" ... */
const char *ember__tls_version(const ember_tls_t *t);
/* tls-exporter (TLS 1.3) or tls-unique (1.2), base64; 0 or error. */
int ember__tls_channel_binding(ember_tls_t *t, const char **type,
                               char **b64);

/*
 * Whether the peer's certificate proves `domain` (RFC 6125 as RFC 9525
 * updates it, XEP-0178): a chain to a trust anchor (the system's and
 * <s2s ca-file>), valid now, and a subjectAltName dNSName (a wildcard
 * only as the whole leftmost label) or XmppAddr equal to domain.  The
 * subject's CN is never looked at, and no key purpose is required: a
 * certificate issued for server authentication only proves a server's
 * name when it connects as a client.  1 yes; 0 no, with the reason in
 * why.
 */
int ember__tls_peer_proves(ember_tls_t *t, const char *domain, char *why,
                           size_t whylen);
/* TLSA records taken into account for one endpoint. */
#define EMBER_TLSA_MAX 16

/* A TLSA RDATA whose usage, selector and matching type are known (RFC
 * 6698 2.1): the others are "unusable" (RFC 7671 4.1). */
int ember__tls_tlsa_usable(const char *rdata, int len);

/*
 * RFC 6698 as RFC 7671 updates it, for a target found as RFC 7673 says:
 * whether the peer's chain matches one of the usable TLSA records
 * (RDATA as in the DNS).  DANE-EE(3): the leaf's certificate or key,
 * nothing else checked (RFC 7671 5.1).  DANE-TA(2): a certificate of the
 * chain matches and the chain below it verifies against it alone, and
 * the leaf names one of names (the service domain, the SRV target).
 * PKIX-EE(1) and PKIX-TA(0): a match, and ember__tls_peer_proves for
 * names[0].  The usage matched (0-3), or -1 with the reason in why.
 */
int ember__tls_peer_dane(ember_tls_t *t, char *const *rdata, const int *len,
                         size_t n, const char *const *names, size_t nnames,
                         char *why, size_t whylen);
/* nbytes random bytes as lowercase hex into out (2 * nbytes + 1 chars):
 * stream ids, resumption ids, generated resources. */
void ember__nonce_hex(char *out, size_t nbytes);

/* The peer sent a certificate at all. */
int ember__tls_peer_has_cert(ember_tls_t *t);

#endif
