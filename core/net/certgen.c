/* core/certgen.c -- self-signed certificates with GnuTLS. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "net/certgen.h"
#include "base/log.h"

#define CERT_SERIAL_LEN 16


/* mkdir -p of the directory part of path, new directories mode 0700. */
static int
make_parents(const char *path)
{
    char buf[PATH_MAX];
    char *p;
    size_t len = strlen(path);

    if (len >= sizeof(buf))
        return EMBER_EINVAL;
    memcpy(buf, path, len + 1);
    for (p = buf + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) < 0 && errno != EEXIST) {
            ember__log(EMBER_LOG_ERROR, "core", "mkdir %s: %s", buf,
                       strerror(errno));
            return EMBER_EIO;
        }
        *p = '/';
    }
    return 0;
}


/* Write data to path.tmp with mode, fsync; the caller renames. */
static int
write_tmp(const char *path, const gnutls_datum_t *d, mode_t mode,
          char *tmp, size_t tmplen)
{
    ssize_t n;
    size_t off = 0;
    int fd;

    if ((size_t) snprintf(tmp, tmplen, "%s.tmp", path) >= tmplen)
        return EMBER_EINVAL;
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)) < 0)
        goto fail;
    /* An earlier file of that name may have had a wider mode. */
    if (fchmod(fd, mode) < 0)
        goto fail_fd;
    while (off < d->size) {
        n = write(fd, d->data + off, d->size - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto fail_fd;
        off += (size_t) n;
    }
    if (fsync(fd) < 0)
        goto fail_fd;
    if (close(fd) < 0)
        goto fail;
    return 0;

fail_fd:
    close(fd);
fail:
    ember__log(EMBER_LOG_ERROR, "core", "writing %s: %s", tmp,
               strerror(errno));
    unlink(tmp);
    return EMBER_EIO;
}


static int
gnutls_fail(const char *what, int rc)
{
    ember__log(EMBER_LOG_ERROR, "core", "certificate: %s: %s", what,
               gnutls_strerror(rc));
    return rc == GNUTLS_E_MEMORY_ERROR ? EMBER_ENOMEM : EMBER_EIO;
}


int
ember__cert_generate(const char *cert_path, const char *key_path,
                     const char *const *names, unsigned days)
{
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t cert_pem = { NULL, 0 }, key_pem = { NULL, 0 };
    unsigned char serial[CERT_SERIAL_LEN], keyid[64];
    char cert_tmp[PATH_MAX], key_tmp[PATH_MAX];
    size_t keyid_len = sizeof(keyid);
    time_t now = time(NULL);
    size_t i;
    int rc, err = EMBER_EIO;

    if (cert_path == NULL || key_path == NULL || names == NULL ||
        names[0] == NULL || names[0][0] == '\0' || days == 0)
        return EMBER_EINVAL;
    cert_tmp[0] = key_tmp[0] = '\0';

    if ((rc = gnutls_x509_privkey_init(&key)) < 0 ||
        (rc = gnutls_x509_privkey_generate(
             key, GNUTLS_PK_ECDSA,
             GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0)) < 0) {
        err = gnutls_fail("key generation", rc);
        goto fail;
    }
    if ((rc = gnutls_x509_crt_init(&crt)) < 0) {
        err = gnutls_fail("init", rc);
        goto fail;
    }
    /* RFC 5280: a positive serial of at most 20 octets, unpredictable. */
    if ((rc = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial))) < 0) {
        err = gnutls_fail("serial", rc);
        goto fail;
    }
    serial[0] = (unsigned char) ((serial[0] & 0x7f) | 0x40);
    if ((rc = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
        (rc = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) < 0 ||
        (rc = gnutls_x509_crt_set_activation_time(crt, now - 60)) < 0 ||
        (rc = gnutls_x509_crt_set_expiration_time(
             crt, now + (time_t) days * 86400)) < 0 ||
        (rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME,
                                            0, names[0],
                                            strlen(names[0]))) < 0 ||
        (rc = gnutls_x509_crt_set_key(crt, key)) < 0 ||
        (rc = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
        (rc = gnutls_x509_crt_set_key_usage(
             crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
        (rc = gnutls_x509_crt_set_key_purpose_oid(
             crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0 ||
        /* s2s peers present the same certificate as clients. */
        (rc = gnutls_x509_crt_set_key_purpose_oid(
             crt, GNUTLS_KP_TLS_WWW_CLIENT, 0)) < 0) {
        err = gnutls_fail("fields", rc);
        goto fail;
    }
    for (i = 0; names[i] != NULL; i++)
        if ((rc = gnutls_x509_crt_set_subject_alt_name(
                 crt, GNUTLS_SAN_DNSNAME, names[i],
                 (unsigned) strlen(names[i]), GNUTLS_FSAN_APPEND)) < 0) {
            err = gnutls_fail("subjectAltName", rc);
            goto fail;
        }
    if (gnutls_x509_crt_get_key_id(crt, 0, keyid, &keyid_len) >= 0)
        gnutls_x509_crt_set_subject_key_id(crt, keyid, keyid_len);
    if ((rc = gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256,
                                    0)) < 0 ||
        (rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM,
                                      &cert_pem)) < 0 ||
        (rc = gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM,
                                                NULL, GNUTLS_PKCS_PLAIN,
                                                &key_pem)) < 0) {
        err = gnutls_fail("signing", rc);
        goto fail;
    }

    if ((err = make_parents(cert_path)) < 0 ||
        (err = make_parents(key_path)) < 0 ||
        (err = write_tmp(key_path, &key_pem, 0600, key_tmp,
                         sizeof(key_tmp))) < 0 ||
        (err = write_tmp(cert_path, &cert_pem, 0644, cert_tmp,
                         sizeof(cert_tmp))) < 0)
        goto fail;
    /* The key first: a new certificate must never meet an old key. */
    if (rename(key_tmp, key_path) < 0 || rename(cert_tmp, cert_path) < 0) {
        ember__log(EMBER_LOG_ERROR, "core", "installing %s: %s", cert_path,
                   strerror(errno));
        err = EMBER_EIO;
        goto fail;
    }
    gnutls_free(cert_pem.data);
    gnutls_memset(key_pem.data, 0, key_pem.size);
    gnutls_free(key_pem.data);
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_privkey_deinit(key);
    return 0;

fail:
    if (cert_tmp[0] != '\0')
        unlink(cert_tmp);
    if (key_tmp[0] != '\0')
        unlink(key_tmp);
    gnutls_free(cert_pem.data);
    if (key_pem.data != NULL) {
        gnutls_memset(key_pem.data, 0, key_pem.size);
        gnutls_free(key_pem.data);
    }
    if (crt != NULL)
        gnutls_x509_crt_deinit(crt);
    if (key != NULL)
        gnutls_x509_privkey_deinit(key);
    return err;
}


int
ember__cert_request(const char *key_path, const char *const *names,
                    char **csr_pem)
{
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crq_t crq = NULL;
    gnutls_datum_t csr = { NULL, 0 }, key_pem = { NULL, 0 };
    char key_tmp[PATH_MAX];
    size_t i;
    int rc, err = EMBER_EIO;

    *csr_pem = NULL;
    if (key_path == NULL || names == NULL || names[0] == NULL ||
        names[0][0] == '\0')
        return EMBER_EINVAL;
    key_tmp[0] = '\0';
    if ((rc = gnutls_x509_privkey_init(&key)) < 0 ||
        (rc = gnutls_x509_privkey_generate(
             key, GNUTLS_PK_ECDSA,
             GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0)) < 0 ||
        (rc = gnutls_x509_crq_init(&crq)) < 0 ||
        (rc = gnutls_x509_crq_set_version(crq, 1)) < 0 ||
        (rc = gnutls_x509_crq_set_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME,
                                            0, names[0],
                                            strlen(names[0]))) < 0 ||
        (rc = gnutls_x509_crq_set_key(crq, key)) < 0 ||
        (rc = gnutls_x509_crq_set_key_usage(
             crq, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
        (rc = gnutls_x509_crq_set_key_purpose_oid(
             crq, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0 ||
        (rc = gnutls_x509_crq_set_key_purpose_oid(
             crq, GNUTLS_KP_TLS_WWW_CLIENT, 0)) < 0) {
        err = gnutls_fail("request", rc);
        goto out;
    }
    for (i = 0; names[i] != NULL; i++)
        if ((rc = gnutls_x509_crq_set_subject_alt_name(
                 crq, GNUTLS_SAN_DNSNAME, names[i],
                 (unsigned) strlen(names[i]), GNUTLS_FSAN_APPEND)) < 0) {
            err = gnutls_fail("subjectAltName", rc);
            goto out;
        }
    if ((rc = gnutls_x509_crq_sign2(crq, key, GNUTLS_DIG_SHA256, 0)) < 0 ||
        (rc = gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_PEM, &csr)) < 0 ||
        (rc = gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM,
                                                NULL, GNUTLS_PKCS_PLAIN,
                                                &key_pem)) < 0) {
        err = gnutls_fail("signing the request", rc);
        goto out;
    }
    if ((err = make_parents(key_path)) < 0 ||
        (err = write_tmp(key_path, &key_pem, 0600, key_tmp,
                         sizeof(key_tmp))) < 0)
        goto out;
    if (rename(key_tmp, key_path) < 0) {
        ember__log(EMBER_LOG_ERROR, "core", "installing %s: %s", key_path,
                   strerror(errno));
        unlink(key_tmp);
        err = EMBER_EIO;
        goto out;
    }
    if ((*csr_pem = strndup((const char *) csr.data, csr.size)) == NULL)
        err = EMBER_ENOMEM;
    else
        err = 0;
out:
    gnutls_free(csr.data);
    if (key_pem.data != NULL) {
        gnutls_memset(key_pem.data, 0, key_pem.size);
        gnutls_free(key_pem.data);
    }
    if (crq != NULL)
        gnutls_x509_crq_deinit(crq);
    if (key != NULL)
        gnutls_x509_privkey_deinit(key);
    return err;
}


static json_t *
iso_time(time_t t)
{
    struct tm tm;
    char buf[32];

    if (t == (time_t) -1 || gmtime_r(&t, &tm) == NULL)
        return json_null();
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}


static json_t *
dn_string(gnutls_x509_crt_t crt, int issuer)
{
    gnutls_datum_t d = { NULL, 0 };
    json_t *v;

    if ((issuer ? gnutls_x509_crt_get_issuer_dn3(crt, &d, 0)
                : gnutls_x509_crt_get_dn3(crt, &d, 0)) < 0)
        return json_null();
    v = json_stringn((const char *) d.data, d.size);
    gnutls_free(d.data);
    return v != NULL ? v : json_null();
}


int
ember__cert_info(const char *cert_path, json_t **out)
{
    gnutls_datum_t file = { NULL, 0 };
    gnutls_x509_crt_t crt = NULL;
    unsigned char fp[32];
    char hex[3 * sizeof(fp) + 1], san[1024];
    size_t fplen = sizeof(fp), sanlen;
    unsigned i, type;
    time_t not_after;
    json_t *info = NULL, *names;
    int rc, err = EMBER_EIO;

    *out = NULL;
    if ((rc = gnutls_load_file(cert_path, &file)) < 0)
        return EMBER_ENOENT;
    if ((rc = gnutls_x509_crt_init(&crt)) < 0 ||
        (rc = gnutls_x509_crt_import(crt, &file, GNUTLS_X509_FMT_PEM)) < 0) {
        err = EMBER_EINVAL;
        goto fail;
    }
    if ((names = json_array()) == NULL) {
        err = EMBER_ENOMEM;
        goto fail;
    }
    for (i = 0;; i++) {
        sanlen = sizeof(san) - 1;
        rc = gnutls_x509_crt_get_subject_alt_name2(crt, i, san, &sanlen,
                                                   &type, NULL);
        if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
            break;
        if (rc < 0)
            continue;
        if (type == GNUTLS_SAN_DNSNAME)
            json_array_append_new(names, json_stringn(san, sanlen));
    }
    hex[0] = '\0';
    if (gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, fp,
                                        &fplen) >= 0)
        for (i = 0; i < fplen; i++)
            snprintf(hex + 3 * i, sizeof(hex) - 3 * i,
                     i + 1 < fplen ? "%02X:" : "%02X", fp[i]);
    not_after = gnutls_x509_crt_get_expiration_time(crt);
    info = json_pack("{s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:b, s:s}",
                     "subject", dn_string(crt, 0),
                     "issuer", dn_string(crt, 1),
                     "names", names,
                     "not_before",
                     iso_time(gnutls_x509_crt_get_activation_time(crt)),
                     "not_after", iso_time(not_after),
                     "expires_in_days",
                     (json_int_t) ((not_after - time(NULL)) / 86400),
                     "days_left",
                     (json_int_t) ((not_after - time(NULL)) / 86400),
                     "self_signed",
                     gnutls_x509_crt_check_issuer(crt, crt) != 0,
                     "sha256", hex);
    if (info == NULL) {
        err = EMBER_ENOMEM;
        goto fail;
    }
    gnutls_x509_crt_deinit(crt);
    gnutls_free(file.data);
    *out = info;
    return 0;

fail:
    if (crt != NULL)
        gnutls_x509_crt_deinit(crt);
    gnutls_free(file.data);
    return err;
}


int
ember__cert_check_pair(const char *cert_pem, const char *key_pem,
                       const char *host, json_t *warnings, json_t **not_after,
                       char *err, size_t errlen)
{
    gnutls_datum_t cd = { (unsigned char *) cert_pem,
                          (unsigned) strlen(cert_pem) };
    gnutls_datum_t kd = { (unsigned char *) key_pem,
                          (unsigned) strlen(key_pem) };
    gnutls_x509_crt_t *chain = NULL;
    gnutls_x509_privkey_t key = NULL;
    unsigned char cid[64], kid[64];
    size_t cidlen = sizeof(cid), kidlen = sizeof(kid);
    unsigned n = 0, i;
    time_t expires;
    char msg[512];
    int rc, err_rc = EMBER_EINVAL;

    *not_after = NULL;
    rc = gnutls_x509_crt_list_import2(&chain, &n, &cd, GNUTLS_X509_FMT_PEM,
                                      0);
    if (rc < 0 || n == 0) {
        snprintf(err, errlen, "cert: not a PEM certificate (chain): %s",
                 rc < 0 ? gnutls_strerror(rc) : "no certificate");
        goto fail;
    }
    if ((rc = gnutls_x509_privkey_init(&key)) < 0 ||
        (rc = gnutls_x509_privkey_import2(key, &kd, GNUTLS_X509_FMT_PEM, NULL,
                                          GNUTLS_PKCS_PLAIN)) < 0) {
        snprintf(err, errlen, "key: not an unencrypted PEM private key: %s",
                 gnutls_strerror(rc));
        goto fail;
    }
    if (gnutls_x509_crt_get_key_id(chain[0], 0, cid, &cidlen) < 0 ||
        gnutls_x509_privkey_get_key_id(key, 0, kid, &kidlen) < 0 ||
        cidlen != kidlen || memcmp(cid, kid, cidlen) != 0) {
        snprintf(err, errlen, "key: does not match the certificate's public "
                 "key");
        goto fail;
    }
    if (!gnutls_x509_crt_check_hostname(chain[0], host)) {
        snprintf(msg, sizeof(msg), "the certificate does not name %s", host);
        json_array_append_new(warnings, json_string(msg));
    }
    expires = gnutls_x509_crt_get_expiration_time(chain[0]);
    if (expires != (time_t) -1 && expires < time(NULL)) {
        snprintf(msg, sizeof(msg), "the certificate has expired");
        json_array_append_new(warnings, json_string(msg));
    }
    for (i = 1; i < n; i++)
        if (!gnutls_x509_crt_check_issuer(chain[i - 1], chain[i])) {
            snprintf(msg, sizeof(msg), "certificate %u of the chain did not "
                     "issue certificate %u", i + 1, i);
            json_array_append_new(warnings, json_string(msg));
            break;
        }
    *not_after = iso_time(expires);
    err_rc = 0;
fail:
    if (key != NULL)
        gnutls_x509_privkey_deinit(key);
    for (i = 0; i < n; i++)
        gnutls_x509_crt_deinit(chain[i]);
    gnutls_free(chain);
    return err_rc;
}
