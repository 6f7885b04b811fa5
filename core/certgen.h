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
 * The first certificate of a PEM file: {"subject", "issuer", "names":
 * [SAN dNSNames], "not_before", "not_after" (ISO 8601 UTC), "expires_in_days",
 * "self_signed", "sha256" (hex fingerprint)}.
 */
int ember__cert_info(const char *cert_path, json_t **out);

#endif
