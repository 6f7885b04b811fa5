/* core/tls.c -- GnuTLS sessions fed from and flushed to libuv buffers. */
#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/dane.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <gnutls/x509-ext.h>
#include <gsasl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "net/certgen.h"
#include "base/log.h"
#include "net/tls.h"

#define TLS_PRIORITY \
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:%SERVER_PRECEDENCE"

struct ember_tls_s {
    gnutls_session_t gs;
    const ember_tls_io_t *io;
    void *ud;
    const char *in;         /* ciphertext not yet pulled by GnuTLS */
    size_t inlen;
    int ready;
    int failed;
    char sni[256];
};

static gnutls_certificate_credentials_t creds;
static gnutls_certificate_credentials_t *retired;   /* before reloads */
static size_t retired_n;
static gnutls_priority_t priority;
static dane_state_t dane;          /* matches TLSA records; resolves nothing */
static char plain_buf[16384 + 256];


static int
add_cert(gnutls_certificate_credentials_t c, const char *cert,
         const char *key, char *err, size_t errlen)
{
    int rc = gnutls_certificate_set_x509_key_file2(c, cert, key,
                                                   GNUTLS_X509_FMT_PEM, NULL,
                                                   0);

    if (rc < 0) {
        snprintf(err, errlen, "cannot load certificate %s / key %s: %s",
                 cert, key, gnutls_strerror(rc));
        return EMBER_EIO;
    }
    return 0;
}


/* Credentials holding every certificate the config names. */
static int
creds_build(const ember_config_t *cfg, gnutls_certificate_credentials_t *out,
            char *err, size_t errlen)
{
    gnutls_certificate_credentials_t c;
    const ember_host_conf_t *h;
    const char *names[64];
    size_t n = 0;
    int rc;

    if (gnutls_certificate_allocate_credentials(&c) < 0) {
        snprintf(err, errlen, "GnuTLS initialisation failed");
        return EMBER_EIO;
    }
    for (h = cfg->hosts; h != NULL; h = h->next)
        if (h->cert_file != NULL) {
            if ((rc = add_cert(c, h->cert_file, h->key_file, err,
                               errlen)) < 0)
                goto fail;
        } else if (n < sizeof(names) / sizeof(names[0]) - 1) {
            names[n++] = h->name;
        }
    names[n] = NULL;
    if (access(cfg->cert_file, R_OK) != 0 ||
        access(cfg->key_file, R_OK) != 0) {
        if (n == 0)
            names[n++] = "localhost", names[n] = NULL;
        ember__log(EMBER_LOG_WARN, "tls", "no certificate at %s: generating "
                   "a self-signed one for %s", cfg->cert_file, names[0]);
        if ((rc = ember__cert_generate(cfg->cert_file, cfg->key_file, names,
                                       3650)) < 0) {
            snprintf(err, errlen, "cannot generate a certificate at %s: %s",
                     cfg->cert_file, ember_strerror(rc));
            goto fail;
        }
    }
    if ((rc = add_cert(c, cfg->cert_file, cfg->key_file, err, errlen)) < 0)
        goto fail;
    /* Trust anchors only matter for peers' certificates: s2s. */
    if (gnutls_certificate_set_x509_system_trust(c) < 0)
        ember__log(EMBER_LOG_INFO, "tls", "no system trust store: only "
                   "<s2s ca-file> can vouch for peers");
    if (cfg->s2s.ca_file != NULL &&
        (rc = gnutls_certificate_set_x509_trust_file(
             c, cfg->s2s.ca_file, GNUTLS_X509_FMT_PEM)) < 0) {
        snprintf(err, errlen, "cannot load the CA file %s: %s",
                 cfg->s2s.ca_file, gnutls_strerror(rc));
        rc = EMBER_EIO;
        goto fail;
    }
    *out = c;
    return 0;

fail:
    gnutls_certificate_free_credentials(c);
    return rc;
}


int
ember__tls_init(const ember_config_t *cfg, char *err, size_t errlen)
{
    if (gnutls_priority_init(&priority, TLS_PRIORITY, NULL) < 0) {
        snprintf(err, errlen, "GnuTLS initialisation failed");
        return EMBER_EIO;
    }
    return creds_build(cfg, &creds, err, errlen);
}


int
ember__tls_reload(const ember_config_t *cfg, char *err, size_t errlen)
{
    gnutls_certificate_credentials_t c, *keep;
    int rc;

    if ((rc = creds_build(cfg, &c, err, errlen)) < 0)
        return rc;
    /*
     * Open TLS sessions point at the old credentials, and GnuTLS keeps no
     * count of them: they stay allocated until the server stops (one set
     * per reload).
     */
    keep = realloc(retired, (retired_n + 1) * sizeof(*retired));
    if (keep == NULL) {
        gnutls_certificate_free_credentials(c);
        snprintf(err, errlen, "out of memory");
        return EMBER_ENOMEM;
    }
    retired = keep;
    retired[retired_n++] = creds;
    creds = c;
    return 0;
}


void
ember__tls_cleanup(void)
{
    if (creds != NULL)
        gnutls_certificate_free_credentials(creds);
    while (retired_n > 0)
        gnutls_certificate_free_credentials(retired[--retired_n]);
    free(retired);
    retired = NULL;
    if (priority != NULL)
        gnutls_priority_deinit(priority);
    if (dane != NULL)
        dane_state_deinit(dane);
    creds = NULL;
    priority = NULL;
    dane = NULL;
}


static ssize_t
tls_pull(gnutls_transport_ptr_t p, void *buf, size_t size)
{
    ember_tls_t *t = p;
    size_t n = t->inlen < size ? t->inlen : size;

    if (n == 0) {
        gnutls_transport_set_errno(t->gs, EAGAIN);
        return -1;
    }
    memcpy(buf, t->in, n);
    t->in += n;
    t->inlen -= n;
    return (ssize_t) n;
}


static ssize_t
tls_push(gnutls_transport_ptr_t p, const void *data, size_t size)
{
    ember_tls_t *t = p;

    if (t->io->write(t->ud, data, size) < 0) {
        gnutls_transport_set_errno(t->gs, EPIPE);
        return -1;
    }
    return (ssize_t) size;
}


static ssize_t
tls_pushv(gnutls_transport_ptr_t p, const giovec_t *iov, int iovcnt)
{
    ssize_t total = 0;
    int i;

    for (i = 0; i < iovcnt; i++) {
        if (tls_push(p, iov[i].iov_base, iov[i].iov_len) < 0)
            return -1;
        total += (ssize_t) iov[i].iov_len;
    }
    return total;
}


ember_tls_t *
ember__tls_new(const ember_tls_io_t *io, void *ud,
               const ember_tls_opts_t *opts)
{
    ember_tls_t *t = calloc(1, sizeof(*t));
    int client = opts->server_name != NULL;
    gnutls_datum_t alpn;

    if (t == NULL)
        return NULL;
    if (gnutls_init(&t->gs, (client ? GNUTLS_CLIENT : GNUTLS_SERVER) |
                                GNUTLS_NONBLOCK) < 0) {
        free(t);
        return NULL;
    }
    t->io = io;
    t->ud = ud;
    gnutls_priority_set(t->gs, priority);
    gnutls_credentials_set(t->gs, GNUTLS_CRD_CERTIFICATE, creds);
    if (client)
        gnutls_server_name_set(t->gs, GNUTLS_NAME_DNS, opts->server_name,
                               strlen(opts->server_name));
    else
        gnutls_certificate_server_set_request(
            t->gs, opts->peer_cert ? GNUTLS_CERT_REQUEST
                                   : GNUTLS_CERT_IGNORE);
    gnutls_transport_set_ptr(t->gs, t);
    gnutls_transport_set_pull_function(t->gs, tls_pull);
    gnutls_transport_set_push_function(t->gs, tls_push);
    gnutls_transport_set_vec_push_function(t->gs, tls_pushv);
    if (opts->alpn != NULL) {
        alpn.data = (unsigned char *) opts->alpn;
        alpn.size = (unsigned) strlen(opts->alpn);
        gnutls_alpn_set_protocols(t->gs, &alpn, 1, 0);
    }
    return t;
}


int
ember__tls_feed(ember_tls_t *t, const char *data, size_t len)
{
    ssize_t n;
    int rc;

    if (t->failed)
        return EMBER_EPROTO;
    t->in = data;
    t->inlen = len;
    if (!t->ready) {
        rc = gnutls_handshake(t->gs);
        if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED)
            return 0;
        if (rc < 0) {
            ember__log(EMBER_LOG_INFO, "tls", "handshake failed: %s",
                       gnutls_strerror(rc));
            t->failed = 1;
            return EMBER_EPROTO;
        }
        t->ready = 1;
        t->io->ready(t->ud);
    }
    for (;;) {
        size_t before = t->inlen;

        n = gnutls_record_recv(t->gs, plain_buf, sizeof(plain_buf));
        if (n > 0) {
            t->io->read(t->ud, plain_buf, (size_t) n);
            if (t->failed)
                return EMBER_EPROTO;
            continue;
        }
        /* A post-handshake message (a TLS 1.3 session ticket) also ends
         * in AGAIN: records after it may still be waiting in `in`. */
        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
            if (t->inlen > 0 && t->inlen < before)
                continue;
            return 0;
        }
        if (n == 0)
            return EMBER_EIO;   /* close_notify */
        if (gnutls_error_is_fatal((int) n)) {
            ember__log(EMBER_LOG_INFO, "tls", "record error: %s",
                       gnutls_strerror((int) n));
            t->failed = 1;
            return EMBER_EPROTO;
        }
    }
}


int
ember__tls_send(ember_tls_t *t, const char *data, size_t len)
{
    ssize_t n;

    if (t->failed || !t->ready)
        return EMBER_ESTATE;
    while (len > 0) {
        n = gnutls_record_send(t->gs, data, len);
        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
            continue;
        if (n < 0) {
            t->failed = 1;
            return EMBER_EIO;
        }
        data += n;
        len -= (size_t) n;
    }
    return 0;
}


void
ember__tls_bye(ember_tls_t *t)
{
    if (t->ready && !t->failed)
        gnutls_bye(t->gs, GNUTLS_SHUT_WR);
}


void
ember__tls_free(ember_tls_t *t)
{
    if (t == NULL)
        return;
    gnutls_deinit(t->gs);
    free(t);
}


int
ember__tls_ready(const ember_tls_t *t)
{
    return t->ready;
}


const char *
ember__tls_version(const ember_tls_t *t)
{
    const char *v =
        gnutls_protocol_get_name(gnutls_protocol_get_version(t->gs));

    return v != NULL ? v : "?";
}


int
ember__tls_channel_binding(ember_tls_t *t, const char **type, char **b64)
{
    gnutls_datum_t cb;
    int tls13 = gnutls_protocol_get_version(t->gs) == GNUTLS_TLS1_3;
    size_t outlen;

    if (!t->ready)
        return EMBER_ESTATE;
    if (gnutls_session_channel_binding(t->gs,
                                       tls13 ? GNUTLS_CB_TLS_EXPORTER
                                             : GNUTLS_CB_TLS_UNIQUE,
                                       &cb) < 0)
        return EMBER_ENOTSUP;
    *type = tls13 ? "tls-exporter" : "tls-unique";
    if (gsasl_base64_to((const char *) cb.data, cb.size, b64, &outlen) !=
        GSASL_OK) {
        gnutls_free(cb.data);
        return EMBER_ENOMEM;
    }
    gnutls_free(cb.data);
    return 0;
}



int
ember__tls_peer_has_cert(ember_tls_t *t)
{
    unsigned n = 0;

    return t->ready && gnutls_certificate_get_peers(t->gs, &n) != NULL &&
           n > 0;
}


/* A dNSName matches exactly, or as "*.rest" for one leftmost label. */
static int
dns_name_matches(const char *san, size_t len, const char *domain)
{
    const char *dot;

    if (len == strlen(domain) && strncasecmp(san, domain, len) == 0)
        return 1;
    if (len < 3 || san[0] != '*' || san[1] != '.' ||
        (dot = strchr(domain, '.')) == NULL || dot == domain)
        return 0;
    return strlen(dot + 1) == len - 2 &&
           strncasecmp(san + 2, dot + 1, len - 2) == 0;
}


static int
cert_names_domain(gnutls_x509_crt_t crt, const char *domain)
{
    char buf[1024], oid[128];
    size_t size, oidsize;
    gnutls_datum_t other, virt;
    unsigned idx, type;
    int rc;

    for (idx = 0;; idx++) {
        size = sizeof(buf) - 1;
        rc = gnutls_x509_crt_get_subject_alt_name(crt, idx, buf, &size,
                                                  NULL);
        if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
            return 0;
        if (rc == GNUTLS_E_SHORT_MEMORY_BUFFER)
            continue;
        if (rc < 0)
            return 0;
        if (rc == GNUTLS_SAN_DNSNAME && dns_name_matches(buf, size, domain))
            return 1;
        if (rc != GNUTLS_SAN_OTHERNAME)
            continue;
        oidsize = sizeof(oid);
        if (gnutls_x509_crt_get_subject_alt_othername_oid(crt, idx, oid,
                                                          &oidsize) < 0)
            continue;
        other.data = (unsigned char *) buf;
        other.size = (unsigned) size;
        if (gnutls_x509_othername_to_virtual(oid, &other, &type, &virt) < 0)
            continue;
        rc = type == GNUTLS_SAN_OTHERNAME_XMPP &&
             virt.size == strlen(domain) &&
             strncasecmp((const char *) virt.data, domain, virt.size) == 0;
        gnutls_free(virt.data);
        if (rc)
            return 1;
    }
}


int
ember__tls_peer_proves(ember_tls_t *t, const char *domain, char *why,
                       size_t whylen)
{
    const gnutls_datum_t *certs;
    gnutls_x509_crt_t crt;
    gnutls_datum_t txt;
    unsigned n = 0, status = 0;
    int ok;

    if (!t->ready ||
        (certs = gnutls_certificate_get_peers(t->gs, &n)) == NULL || n == 0) {
        snprintf(why, whylen, "no certificate");
        return 0;
    }
    if (gnutls_certificate_verify_peers2(t->gs, &status) < 0 ||
        status != 0) {
        if (gnutls_certificate_verification_status_print(
                status, GNUTLS_CRT_X509, &txt, 0) == 0) {
            snprintf(why, whylen, "%s", txt.data);
            gnutls_free(txt.data);
        } else {
            snprintf(why, whylen, "certificate not trusted");
        }
        return 0;
    }
    if (gnutls_x509_crt_init(&crt) < 0) {
        snprintf(why, whylen, "out of memory");
        return 0;
    }
    ok = gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == 0 &&
         cert_names_domain(crt, domain);
    gnutls_x509_crt_deinit(crt);
    if (!ok)
        snprintf(why, whylen, "the certificate does not name %s", domain);
    return ok;
}


int
ember__tls_tlsa_usable(const char *rdata, int len)
{
    /* RFC 6698 2.1 / RFC 7218: usage 0-3, selector 0-1, matching 0-2. */
    return len > 3 && (unsigned char) rdata[0] <= 3 &&
           (unsigned char) rdata[1] <= 1 && (unsigned char) rdata[2] <= 2;
}


/* The records of one usage as a GnuTLS-DANE query, or NULL. */
static dane_query_t
tlsa_query(char *const *rdata, const int *len, size_t n, unsigned usage)
{
    char *data[EMBER_TLSA_MAX + 1];
    int lens[EMBER_TLSA_MAX + 1];
    dane_query_t q = NULL;
    size_t i, k = 0;

    for (i = 0; i < n && k < EMBER_TLSA_MAX; i++)
        if (ember__tls_tlsa_usable(rdata[i], len[i]) &&
            (unsigned char) rdata[i][0] == usage) {
            data[k] = rdata[i];
            lens[k++] = len[i];
        }
    data[k] = NULL;
    if (k == 0)
        return NULL;
    if (dane_raw_tlsa(dane, &q, data, lens, 1, 0) < 0) {
        if (q != NULL)
            dane_query_deinit(q);
        return NULL;
    }
    return q;
}


/* DANE-TA / PKIX-TA: certs[ta] matches a record and issued certs[ta - 1];
 * the chain below it verifies with certs[ta] as its only anchor. */
static int
chain_to_anchor(const gnutls_datum_t *certs, unsigned ta, dane_query_t q)
{
    gnutls_x509_trust_list_t list = NULL;
    gnutls_x509_crt_t crts[16], anchor = NULL;
    unsigned i, n = 0, status = 1, verify = 0;
    int ok = 0;

    if (dane_verify_crt_raw(dane, &certs[ta - 1], 2, GNUTLS_CRT_X509, q, 0,
                            DANE_VFLAG_ONLY_CHECK_CA_USAGE |
                                DANE_VFLAG_FAIL_IF_NOT_CHECKED,
                            &verify) < 0 ||
        verify != 0 || ta > 16)
        return 0;
    if (gnutls_x509_trust_list_init(&list, 0) < 0)
        return 0;
    if (gnutls_x509_crt_init(&anchor) < 0 ||
        gnutls_x509_crt_import(anchor, &certs[ta], GNUTLS_X509_FMT_DER) < 0 ||
        gnutls_x509_trust_list_add_cas(list, &anchor, 1, 0) != 1)
        goto done;
    anchor = NULL;   /* the list owns it */
    for (; n < ta; n++)
        if (gnutls_x509_crt_init(&crts[n]) < 0 ||
            gnutls_x509_crt_import(crts[n], &certs[n], GNUTLS_X509_FMT_DER) <
                0) {
            n++;
            goto done;
        }
    ok = gnutls_x509_trust_list_verify_crt(list, crts, n, 0, &status,
                                           NULL) == 0 &&
         status == 0;
done:
    for (i = 0; i < n; i++)
        gnutls_x509_crt_deinit(crts[i]);
    if (anchor != NULL)
        gnutls_x509_crt_deinit(anchor);
    gnutls_x509_trust_list_deinit(list, 1);
    return ok;
}


static int
leaf_names_one(const gnutls_datum_t *leaf, const char *const *names,
               size_t nnames)
{
    gnutls_x509_crt_t crt;
    size_t i;
    int ok = 0;

    if (gnutls_x509_crt_init(&crt) < 0)
        return 0;
    if (gnutls_x509_crt_import(crt, leaf, GNUTLS_X509_FMT_DER) == 0)
        for (i = 0; i < nnames && !ok; i++)
            ok = cert_names_domain(crt, names[i]);
    gnutls_x509_crt_deinit(crt);
    return ok;
}


int
ember__tls_peer_dane(ember_tls_t *t, char *const *rdata, const int *len,
                     size_t n, const char *const *names, size_t nnames,
                     char *why, size_t whylen)
{
    /* The strongest first: a DANE-EE match needs nothing more. */
    static const unsigned order[] = { 3, 2, 1, 0 };
    const gnutls_datum_t *certs;
    unsigned ncerts = 0, verify, ta;
    char pkix_why[160];
    size_t u;

    snprintf(why, whylen, "no TLSA record matches the certificate");
    if (!t->ready ||
        (certs = gnutls_certificate_get_peers(t->gs, &ncerts)) == NULL ||
        ncerts == 0) {
        snprintf(why, whylen, "no certificate");
        return -1;
    }
    if (dane == NULL && dane_state_init(&dane, DANE_F_IGNORE_DNSSEC |
                                               DANE_F_IGNORE_LOCAL_RESOLVER) < 0) {
        dane = NULL;
        snprintf(why, whylen, "GnuTLS-DANE failed to start");
        return -1;
    }
    for (u = 0; u < sizeof(order) / sizeof(order[0]); u++) {
        dane_query_t q = tlsa_query(rdata, len, n, order[u]);
        int match = 0;

        if (q == NULL)
            continue;
        if (order[u] == 3 || order[u] == 1) {
            match = dane_verify_crt_raw(dane, certs, ncerts, GNUTLS_CRT_X509,
                                        q, 0,
                                        DANE_VFLAG_ONLY_CHECK_EE_USAGE |
                                            DANE_VFLAG_FAIL_IF_NOT_CHECKED,
                                        &verify) == 0 &&
                    verify == 0;
        } else {
            for (ta = 1; ta < ncerts && !match; ta++)
                match = chain_to_anchor(certs, ta, q);
            /* RFC 7671 5.2, RFC 7673 4.1: a trust anchor's certificate
             * must still name the service domain or the SRV target. */
            if (match && !leaf_names_one(&certs[0], names, nnames)) {
                snprintf(why, whylen, "the certificate issued by the TLSA "
                         "trust anchor names neither %s%s%s", names[0],
                         nnames > 1 ? " nor " : "",
                         nnames > 1 ? names[1] : "");
                match = 0;
            }
        }
        dane_query_deinit(q);
        /* PKIX-TA and PKIX-EE constrain a certificate PKIX accepts. */
        if (match && order[u] <= 1 &&
            !ember__tls_peer_proves(t, names[0], pkix_why, sizeof(pkix_why))) {
            snprintf(why, whylen, "TLSA %s record matches, but %s",
                     order[u] == 0 ? "PKIX-TA" : "PKIX-EE", pkix_why);
            match = 0;
        }
        if (match)
            return (int) order[u];
    }
    return -1;
}


void
ember__nonce_hex(char *out, size_t nbytes)
{
    unsigned char rnd[32];
    size_t i;

    if (nbytes > sizeof(rnd))
        nbytes = sizeof(rnd);
    gnutls_rnd(GNUTLS_RND_NONCE, rnd, nbytes);
    for (i = 0; i < nbytes; i++)
        snprintf(out + 2 * i, 3, "%02x", rnd[i]);
    out[2 * nbytes] = '\0';
}
