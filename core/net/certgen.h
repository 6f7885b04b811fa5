/* core/certgen.h -- self-signed certificates, and what a certificate says. */
#ifndef EMBER_CORE_CERTGEN_H
#define EMBER_CORE_CERTGEN_H

#include <jansson.h>

/*
 * Write a self-signed ECDSA P-256 certificate (PEM) to cert_path and its
 * key (PKCS#8 PEM, mode 0600) to key_path, creating missing parent
 * directories with mode 0700.  names: NULL-terminated, at least one; the
 * first is the subject CN, each is a dNSName in subjectAltName.  Valid from
 * now (minus a minute of clock skew) for `days` days.  Both files are
 * written to temporaries and renamed, so a failure leaves no half file.
 */
int ember__cert_generate(const char *cert_path, const char *key_path,
                         const char *const *names, unsigned days);

/*
 * A new ECDSA P-256 key, written to key_path (PKCS#8 PEM, mode 0600, by
 * rename), and a PKCS#10 certificate signing request for it in *csr_pem
 * (malloc'd): subject CN names[0], every name a subjectAltName dNSName,
 * key purposes server and client (s2s presents it both ways).
 */
int ember__cert_request(const char *key_path, const char *const *names,
                        char **csr_pem);

/*
 * The first certificate of a PEM file: {"subject", "issuer", "names":
 * [SAN dNSNames], "not_before", "not_after" (ISO 8601 UTC), "expires_in_days",
 * "self_signed", "sha256" (hex fingerprint)}.
 */
int ember__cert_info(const char *cert_path, json_t **out);

/*
 * Check PEM texts before installing them: cert (a chain, leaf first) and
 * an unencrypted key must parse and the key must belong to the leaf
 * (EMBER_EINVAL, message in err).  A leaf that does not cover host, an
 * expired one or a chain out of order only add strings to warnings.
 * *not_after: the leaf's expiry, ISO 8601 (a new JSON string).
 */
int ember__cert_check_pair(const char *cert_pem, const char *key_pem,
                           const char *host, json_t *warnings,
                           json_t **not_after, char *err, size_t errlen);

#endif
