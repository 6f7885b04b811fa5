/* libFuzzer target: what a client sends in <auth/> and <response/>: the
 * PLAIN and SCRAM first-message parsers of core/xmpp/sasl.c (user name,
 * gs2 channel-binding flag), the base64 they arrive in, and libgsasl's
 * SCRAM server as sasl.c drives it, client-final-message included.
 * Checked: a user name that passed is nodeprep'ed and fits its buffer,
 * the gs2 flag is accepted exactly when RFC 5802 and the connection's
 * binding allow it, and no forged client proof ever authenticates. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsasl.h>

#include "base/jid.h"
#include "xmpp/sasl.h"
#include "xmpp/sasl_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const mechs[] = {
    "SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1",
    "PLAIN"
};
static const char *const cb_types[] = { NULL, "tls-exporter", "tls-unique",
                                        NULL };

/* Keys of no password anyone knows: a proof that verifies against them
 * is a forgery. */
static const char salt_b64[] = "c2FsdHNhbHRzYWx0c2FsdA==";
static const char key1_b64[] = "AAECAwQFBgcICQoLDA0ODxAREhM=";
static const char key256_b64[] =
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

static Gsasl *ctx;


static int
callback(Gsasl *c, Gsasl_session *gs, Gsasl_property prop)
{
    const char *mech = gsasl_mechanism_name(gs);
    const char *key = mech != NULL && strstr(mech, "SHA-256") != NULL
                          ? key256_b64 : key1_b64;

    switch (prop) {
    case GSASL_SCRAM_ITER:
        gsasl_property_set(gs, prop, "4096");
        return GSASL_OK;
    case GSASL_SCRAM_SALT:
        gsasl_property_set(gs, prop, salt_b64);
        return GSASL_OK;
    case GSASL_SCRAM_STOREDKEY:
    case GSASL_SCRAM_SERVERKEY:
        gsasl_property_set(gs, prop, key);
        return GSASL_OK;
    default:
        return GSASL_NO_CALLBACK;
    }
}


static int
is_plus(const char *mech)
{
    size_t n = strlen(mech);

    return n > 5 && strcmp(mech + n - 5, "-PLUS") == 0;
}


static void
check_user(const char *user, size_t outlen)
{
    char again[1024];

    if (user[0] == '\0' || strlen(user) >= outlen)
        abort();
    if (ember__jid_prep_node(user, again, sizeof(again)) != 0
        || strcmp(again, user) != 0)
        abort();
}


/* The gs2 flag is everything before the first comma. */
static int
flag_acceptable(const char *mech, const char *cb, const char *msg,
                size_t len)
{
    const char *comma = memchr(msg, ',', len);
    size_t n;

    if (comma == NULL)
        return 0;
    n = (size_t) (comma - msg);
    if (n == 1 && msg[0] == 'n')
        return 1;
    if (n == 1 && msg[0] == 'y')
        return cb == NULL;
    return n > 2 && msg[0] == 'p' && msg[1] == '=' && is_plus(mech)
        && cb != NULL && strlen(cb) == n - 2
        && memcmp(cb, msg + 2, n - 2) == 0;
}


/* What sasl_begin does with a decoded first message; 0 when it would
 * look the account up. */
static int
first_message(const char *mech, const char *cb, const char *msg, size_t len)
{
    char user[1024], tiny[8];
    const char *refusal = NULL;
    int plain = strcmp(mech, "PLAIN") == 0, rc, rc_tiny;

    if (plain) {
        rc = ember__sasl_plain_username(msg, len, user, sizeof(user));
        rc_tiny = ember__sasl_plain_username(msg, len, tiny, sizeof(tiny));
        if (rc == 0 && memchr(msg, '\0', len) == NULL)
            abort();
    } else {
        rc = ember__sasl_scram_username(msg, len, user, sizeof(user));
        rc_tiny = ember__sasl_scram_username(msg, len, tiny, sizeof(tiny));
        refusal = ember__sasl_binding_refusal(mech, cb, msg, len);
        if ((refusal == NULL) != flag_acceptable(mech, cb, msg, len)
            || (refusal != NULL && refusal[0] == '\0'))
            abort();
    }
    if (rc == 0)
        check_user(user, sizeof(user));
    /* A smaller buffer changes whether the name fits, nothing else. */
    if (rc_tiny == 0) {
        check_user(tiny, sizeof(tiny));
        if (rc != 0 || strcmp(tiny, user) != 0)
            abort();
    }
    return rc == 0 && refusal == NULL ? 0 : -1;
}


/* <auth/> text: base64 of the message, "=" for an empty one. */
static void
auth_text(const char *mech, const char *cb, const char *text, size_t len)
{
    char *s, *raw = NULL, *b64 = NULL, *back = NULL;
    size_t rawlen = 0, b64len = 0, backlen = 0;

    if ((s = malloc(len + 1)) == NULL)
        return;
    memcpy(s, text, len);
    s[len] = '\0';
    if (strcmp(s, "=") == 0)
        s[0] = '\0';
    /* sasl_begin takes the element's text as a C string. */
    if (gsasl_base64_from(s, strlen(s), &raw, &rawlen) == GSASL_OK) {
        (void) first_message(mech, cb, raw, rawlen);
        if (gsasl_base64_to(raw, rawlen, &b64, &b64len) != GSASL_OK
            || gsasl_base64_from(b64, b64len, &back, &backlen) != GSASL_OK
            || backlen != rawlen || memcmp(back, raw, rawlen) != 0)
            abort();
    }
    gsasl_free(back);
    gsasl_free(b64);
    gsasl_free(raw);
    free(s);
}


/* The server nonce of a server-first-message "r=...,s=...,i=...". */
static int
server_nonce(const char *msg, size_t len, const char **nonce, size_t *n)
{
    const char *end;

    if (len < 2 || msg[0] != 'r' || msg[1] != '=')
        return -1;
    end = memchr(msg, ',', len);
    *nonce = msg + 2;
    *n = (size_t) ((end != NULL ? end : msg + len) - *nonce);
    return 0;
}


/* A client-final-message with each 0x01 byte standing for the nonce, so
 * that the fuzzer gets past the nonce check. */
static char *
final_message(const uint8_t *in, size_t len, const char *nonce, size_t n,
              size_t *outlen)
{
    size_t i, k = 0, total = 0;
    char *out;

    for (i = 0; i < len; i++)
        total += in[i] == 1 ? n : 1;
    if ((out = malloc(total + 1)) == NULL)
        return NULL;
    for (i = 0; i < len; i++) {
        if (in[i] == 1) {
            memcpy(out + k, nonce, n);
            k += n;
        } else {
            out[k++] = (char) in[i];
        }
    }
    out[k] = '\0';
    *outlen = k;
    return out;
}


/* libgsasl's SCRAM server with the properties sasl.c sets. */
static void
scram_exchange(const char *mech, const char *cb, const char *first,
               size_t flen, const uint8_t *final, size_t len)
{
    Gsasl_session *gs = NULL;
    char *out = NULL, *msg;
    const char *nonce;
    size_t outlen = 0, n, mlen;
    int rc;

    if (gsasl_server_start(ctx, mech, &gs) != GSASL_OK)
        return;
    if (cb != NULL)
        gsasl_property_set(gs, strcmp(cb, "tls-exporter") == 0
                                   ? GSASL_CB_TLS_EXPORTER
                                   : GSASL_CB_TLS_UNIQUE,
                           "Y2hhbm5lbC1iaW5kaW5nLWRhdGE=");
    rc = gsasl_step(gs, first, flen, &out, &outlen);
    if (rc == GSASL_OK)
        abort();
    if (rc == GSASL_NEEDS_MORE
        && server_nonce(out, outlen, &nonce, &n) == 0
        && (msg = final_message(final, len, nonce, n, &mlen)) != NULL) {
        char *out2 = NULL;
        size_t out2len = 0;

        if (gsasl_step(gs, msg, mlen, &out2, &out2len) == GSASL_OK)
            abort();
        gsasl_free(out2);
        free(msg);
    }
    gsasl_free(out);
    gsasl_finish(gs);
}


static void
check_offer(unsigned opts)
{
    const char *out[8];
    int secure = opts & 1, have_cb = (opts >> 1) & 1;
    size_t i, n = ember__sasl_mechanisms(NULL, secure, have_cb, out,
                                         (opts >> 2) % 8);

    if (n > (opts >> 2) % 8)
        abort();
    for (i = 0; i < n; i++)
        if ((strcmp(out[i], "PLAIN") == 0 && !secure)
            || (is_plus(out[i]) && !have_cb))
            abort();
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *piece[3] = { NULL, NULL, NULL }, *p, *end;
    size_t plen[3] = { 0, 0, 0 }, k;
    const char *mech, *cb;
    unsigned opts;

    if (ctx == NULL) {
        if (gsasl_init(&ctx) != GSASL_OK)
            abort();
        gsasl_callback_set(ctx, callback);
    }
    /* First byte: mechanism, binding and exchange; then up to three
     * pieces split at 0xff, a byte UTF-8 never has: the decoded first
     * message, an <auth/> text, a client-final-message. */
    if (size == 0)
        return 0;
    opts = data[0];
    mech = mechs[(opts & 7) % 5];
    cb = cb_types[(opts >> 3) & 3];
    check_offer(opts);
    end = data + size;
    p = data + 1;
    for (k = 0; k < 3 && p <= end; k++) {
        const uint8_t *sep = k < 2 ? memchr(p, 0xff, (size_t) (end - p))
                                   : NULL;

        piece[k] = p;
        plen[k] = (size_t) ((sep != NULL ? sep : end) - p);
        p += plen[k] + 1;
    }
    if (first_message(mech, cb, (const char *) piece[0], plen[0]) == 0
        && (opts & 0x20) && strcmp(mech, "PLAIN") != 0)
        scram_exchange(mech, cb, (const char *) piece[0], plen[0], piece[2],
                       plen[2]);
    if (piece[1] != NULL)
        auth_text(mech, cb, (const char *) piece[1], plen[1]);
    return 0;
}
