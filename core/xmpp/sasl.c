/* core/sasl.c -- SASL through libgsasl: SCRAM against stored secrets (no
 * PBKDF2 per login), PLAIN validated on the thread pool. */
#include <gsasl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "store/accounts.h"
#include "store/throttle.h"
#include "base/jid.h"
#include "base/log.h"
#include "xmpp/sasl.h"
#include "xmpp/sasl_parse.h"
#include "base/process.h"

struct ember_sasl_s {
    Gsasl_session *gs;
    char *host;
    char *peer;
    const char *door;
    char *mech;
    char user[1024];
    char bare[2048];    /* user@host, once the client named the user */
    int decoy;          /* no such account: fail as a wrong password would */
    int locked;         /* told only to whoever proves the password */
    int scram_final;    /* the client-first message was answered */
    char *cb_type, *cb_data;
    json_t *account;
    ember_sasl_cb cb;
    void *ud;
    int pending;        /* storage or pool work in flight */
    int dead;           /* freed by the session while pending */
    int plain_ok;       /* set on the pool thread */
    char *pending_data; /* the response waiting for the account */
    int external;       /* the host's passwords are a provider's */
    char *ext_password; /* PLAIN's password, for the provider */
    int ext_authzid_bad;
    uv_work_t work;
};

static Gsasl *gsasl_ctx;

static const char *const mech_table[] = {
    "SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1",
    "PLAIN", NULL
};


static int
is_plus(const char *mech)
{
    size_t n = strlen(mech);

    return n > 5 && strcmp(mech + n - 5, "-PLUS") == 0;
}


size_t
ember__sasl_mechanisms(const char *host, int secure, int have_cb,
                       const char **out, size_t max)
{
    size_t i, n = 0;

    /* A provider's host has no SCRAM secrets: PLAIN or nothing. */
    if (ember__auth_external(host) != NULL) {
        if (secure && max > 0)
            out[n++] = "PLAIN";
        return n;
    }
    for (i = 0; mech_table[i] != NULL && n < max; i++) {
        if (is_plus(mech_table[i]) && !have_cb)
            continue;
        if (strcmp(mech_table[i], "PLAIN") == 0 && !secure)
            continue;
        out[n++] = mech_table[i];
    }
    return n;
}


static const char *
secret(const ember_sasl_t *s, const char *which)
{
    json_t *h;

    h = json_object_get(s->account,
                        strstr(s->mech, "SHA-256") != NULL ? "sha256"
                                                           : "sha1");
    return json_string_value(json_object_get(h, which));
}


/* PLAIN for a provider, on the loop: libgsasl parsed the message; keep
 * the password for the provider, which answers later. */
static int
external_plain(ember_sasl_t *s, Gsasl_session *gs)
{
    const char *authzid = gsasl_property_fast(gs, GSASL_AUTHZID);
    const char *password = gsasl_property_fast(gs, GSASL_PASSWORD);
    char bare[2048];

    snprintf(bare, sizeof(bare), "%s@%s", s->user, s->host);
    if (authzid != NULL && authzid[0] != '\0' &&
        strcmp(authzid, bare) != 0 && strcmp(authzid, s->user) != 0) {
        s->ext_authzid_bad = 1;
        return GSASL_AUTHENTICATION_ERROR;
    }
    if (password == NULL || (s->ext_password = strdup(password)) == NULL)
        return GSASL_AUTHENTICATION_ERROR;
    return GSASL_OK;
}


static int
sasl_callback(Gsasl *ctx, Gsasl_session *gs, Gsasl_property prop)
{
    ember_sasl_t *s = gsasl_session_hook_get(gs);
    char iter[32];
    const char *v = NULL;

    if (s != NULL && s->external && prop == GSASL_VALIDATE_SIMPLE)
        return external_plain(s, gs);
    if (s == NULL || s->account == NULL)
        return GSASL_NO_CALLBACK;
    switch (prop) {
    case GSASL_SCRAM_ITER:
        snprintf(iter, sizeof(iter), "%lld",
                 json_integer_value(json_object_get(s->account,
                                                    "iterations")));
        gsasl_property_set(gs, prop, iter);
        return GSASL_OK;
    case GSASL_SCRAM_SALT:
        v = json_string_value(json_object_get(s->account, "salt"));
        break;
    case GSASL_SCRAM_STOREDKEY:
        v = secret(s, "stored_key");
        break;
    case GSASL_SCRAM_SERVERKEY:
        v = secret(s, "server_key");
        break;
    case GSASL_VALIDATE_SIMPLE: {
        /* Runs on a pool thread: only reads the account document. */
        const char *authzid = gsasl_property_fast(gs, GSASL_AUTHZID);
        const char *password = gsasl_property_fast(gs, GSASL_PASSWORD);

        if (authzid != NULL && authzid[0] != '\0') {
            char bare[2048];

            /* An authzid may name the account itself, as a bare JID or
             * (as libgsasl fills it in) the bare user name. */
            snprintf(bare, sizeof(bare), "%s@%s", s->user, s->host);
            if (strcmp(authzid, bare) != 0 && strcmp(authzid, s->user) != 0)
                return GSASL_AUTHENTICATION_ERROR;
        }
        if (password == NULL ||
            ember__account_check_password(s->account, password) != 0)
            return GSASL_AUTHENTICATION_ERROR;
        s->plain_ok = 1;
        return GSASL_OK;
    }
    default:
        return GSASL_NO_CALLBACK;
    }
    if (v == NULL)
        return GSASL_NO_CALLBACK;
    gsasl_property_set(gs, prop, v);
    return GSASL_OK;
}


int
ember__sasl_init(void)
{
    if (gsasl_ctx != NULL)
        return 0;
    if (gsasl_init(&gsasl_ctx) != GSASL_OK)
        return EMBER_EIO;
    gsasl_callback_set(gsasl_ctx, sasl_callback);
    return 0;
}


void
ember__sasl_cleanup(void)
{
    if (gsasl_ctx != NULL)
        gsasl_done(gsasl_ctx);
    gsasl_ctx = NULL;
}


ember_sasl_t *
ember__sasl_new(const char *host, const char *peer, const char *door,
                const char *cb_type, const char *cb_data, ember_sasl_cb cb,
                void *ud)
{
    ember_sasl_t *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->host = strdup(host);
    s->peer = strdup(peer != NULL ? peer : "");
    s->door = door;
    s->cb = cb;
    s->ud = ud;
    s->external = ember__auth_external(host) != NULL;
    if (cb_type != NULL) {
        s->cb_type = strdup(cb_type);
        s->cb_data = strdup(cb_data);
    }
    if (s->host == NULL || s->peer == NULL ||
        (cb_type != NULL && (s->cb_type == NULL || s->cb_data == NULL))) {
        ember__sasl_free(s);
        return NULL;
    }
    return s;
}


static void
sasl_release(ember_sasl_t *s)
{
    if (s->gs != NULL)
        gsasl_finish(s->gs);
    json_decref(s->account);
    free(s->host);
    free(s->peer);
    free(s->mech);
    free(s->cb_type);
    free(s->cb_data);
    free(s->pending_data);
    if (s->ext_password != NULL) {
        explicit_bzero(s->ext_password, strlen(s->ext_password));
        free(s->ext_password);
    }
    free(s);
}


void
ember__sasl_free(ember_sasl_t *s)
{
    if (s == NULL)
        return;
    if (s->pending) {
        s->dead = 1;
        return;
    }
    sasl_release(s);
}


static void
sasl_refuse(ember_sasl_t *s, const char *condition, const char *text)
{
    s->cb(s->ud, EMBER_SASL_REFUSED, condition, text);
}


/* A password guess that failed: counted by the throttle and logged. */
static void
sasl_wrong(ember_sasl_t *s)
{
    char door[64];

    snprintf(door, sizeof(door), "%s %s", s->door, s->mech);
    ember__throttle_failed(s->peer, s->bare[0] != '\0' ? s->bare : NULL,
                           door);
    s->cb(s->ud, EMBER_SASL_FAILURE, "not-authorized", NULL);
}


/* The password is proven: only now may the client learn of a lock. */
static void
sasl_proven(ember_sasl_t *s, const char *additional)
{
    if (s->decoy) {
        sasl_wrong(s);
        return;
    }
    ember__throttle_succeeded(s->bare);
    if (s->locked) {
        sasl_refuse(s, "account-disabled", "this account is locked");
        return;
    }
    s->cb(s->ud, EMBER_SASL_SUCCESS, additional, NULL);
}


/* One gsasl step on the loop thread (SCRAM: no hashing happens here). */
static void
sasl_run_step(ember_sasl_t *s, const char *data)
{
    char *out = NULL;
    int rc = gsasl_step64(s->gs, data != NULL ? data : "", &out);

    if (rc == GSASL_NEEDS_MORE) {
        s->scram_final = 1;
        s->cb(s->ud, EMBER_SASL_CHALLENGE, out != NULL ? out : "", NULL);
    } else if (rc == GSASL_OK) {
        sasl_proven(s, out != NULL && out[0] != '\0' ? out : NULL);
    } else if (rc == GSASL_BASE64_ERROR) {
        sasl_refuse(s, "incorrect-encoding", NULL);
    } else if (rc == GSASL_MECHANISM_PARSE_ERROR || !s->scram_final) {
        /* Before the proof, nothing was guessed. */
        sasl_refuse(s, "malformed-request", gsasl_strerror_name(rc));
    } else {
        sasl_wrong(s);
    }
    gsasl_free(out);
}


static void
plain_work(uv_work_t *w)
{
    ember_sasl_t *s = w->data;
    char *out = NULL;

    if (gsasl_step64(s->gs, s->pending_data, &out) != GSASL_OK)
        s->plain_ok = 0;
    gsasl_free(out);
}


static void
plain_after(uv_work_t *w, int status)
{
    ember_sasl_t *s = w->data;

    s->pending = 0;
    if (s->dead) {
        sasl_release(s);
        return;
    }
    if (status == 0 && s->plain_ok)
        sasl_proven(s, NULL);
    else if (status == 0)
        sasl_wrong(s);
    else
        sasl_refuse(s, "temporary-auth-failure", NULL);
}


static void
account_loaded(int status, json_t *doc, void *ud)
{
    ember_sasl_t *s = ud;

    s->pending = 0;
    if (s->dead) {
        sasl_release(s);
        return;
    }
    if (status == EMBER_ENOENT) {
        s->decoy = 1;
        doc = ember__account_decoy(s->host, s->user);
    } else if (status != 0) {
        ember__log(EMBER_LOG_WARN, "sasl", "account lookup of %s: %s",
                   s->bare, ember_strerror(status));
        doc = NULL;
    } else {
        s->locked = json_is_true(json_object_get(doc, "locked"));
        json_incref(doc);
    }
    if (doc == NULL) {
        sasl_refuse(s, "temporary-auth-failure", NULL);
        return;
    }
    s->account = doc;
    if (strcmp(s->mech, "PLAIN") == 0) {
        s->work.data = s;
        s->pending = 1;
        if (uv_queue_work(ember__loop(), &s->work, plain_work,
                          plain_after) < 0) {
            s->pending = 0;
            sasl_refuse(s, "temporary-auth-failure", NULL);
        }
        return;
    }
    sasl_run_step(s, s->pending_data);
}


static void
external_checked(int status, void *ud)
{
    ember_sasl_t *s = ud;

    s->pending = 0;
    explicit_bzero(s->ext_password, strlen(s->ext_password));
    free(s->ext_password);
    s->ext_password = NULL;
    if (s->dead) {
        sasl_release(s);
        return;
    }
    if (status == 0 || status == EMBER_EPERM) {
        s->locked = status == EMBER_EPERM;
        sasl_proven(s, NULL);
    } else if (status == EMBER_EAUTH) {
        sasl_wrong(s);
    } else {
        /* The directory did not answer: no guess was judged. */
        ember__log(EMBER_LOG_WARN, "sasl", "%s: %s could not check the "
                   "password: %s", s->bare, ember__auth_external(s->host)
                   != NULL ? ember__auth_external(s->host) : "provider",
                   ember_strerror(status));
        sasl_refuse(s, "temporary-auth-failure",
                    "the account directory is not answering");
    }
}


/* PLAIN against the host's provider: libgsasl parses, the provider
 * judges. */
static void
external_begin(ember_sasl_t *s, const char *data)
{
    char *out = NULL;
    int rc = gsasl_step64(s->gs, data, &out), err;

    gsasl_free(out);
    if (rc != GSASL_OK || s->ext_password == NULL) {
        if (s->ext_authzid_bad)
            sasl_refuse(s, "invalid-authzid", NULL);
        else
            sasl_refuse(s, "malformed-request", gsasl_strerror_name(rc));
        return;
    }
    s->pending = 1;
    if ((err = ember__auth_check(s->host, s->user, s->ext_password,
                                 external_checked, s)) < 0) {
        s->pending = 0;
        if (err == EMBER_EINVAL) {
            sasl_wrong(s);  /* empty or over-long: no account has it */
        } else {
            sasl_refuse(s, "temporary-auth-failure", NULL);
        }
    }
}


/* SCRAM's client-first-message: gs2-header "n=" saslname ",r=" ...  */
int
ember__sasl_scram_username(const char *msg, size_t len, char *out,
                           size_t outlen)
{
    const char *p = msg, *end = msg + len, *q;
    char raw[1024];
    size_t n = 0;
    int commas = 0;

    while (p < end && commas < 2)
        if (*p++ == ',')
            commas++;
    if (commas < 2 || end - p < 3 || p[0] != 'n' || p[1] != '=')
        return EMBER_EINVAL;
    for (q = p + 2; q < end && *q != ','; q++) {
        if (n + 1 >= sizeof(raw))
            return EMBER_EINVAL;
        if (*q == '=') {
            if (end - q >= 3 && q[1] == '2' && q[2] == 'C')
                raw[n++] = ',';
            else if (end - q >= 3 && q[1] == '3' && q[2] == 'D')
                raw[n++] = '=';
            else
                return EMBER_EINVAL;
            q += 2;
        } else {
            raw[n++] = *q;
        }
    }
    raw[n] = '\0';
    return ember__jid_prep_node(raw, out, outlen);
}


/* PLAIN's message: [authzid] NUL authcid NUL passwd. */
int
ember__sasl_plain_username(const char *msg, size_t len, char *out,
                           size_t outlen)
{
    const char *a = memchr(msg, '\0', len), *b;
    char raw[1024];

    if (a == NULL)
        return EMBER_EINVAL;
    a++;
    b = memchr(a, '\0', len - (size_t) (a - msg));
    if (b == NULL || (size_t) (b - a) >= sizeof(raw) || b == a)
        return EMBER_EINVAL;
    memcpy(raw, a, (size_t) (b - a));
    raw[b - a] = '\0';
    return ember__jid_prep_node(raw, out, outlen);
}


/*
 * SCRAM's gs2 channel-binding flag, checked before any account is looked
 * at: a binding this server cannot provide, or a "y" that detects a
 * downgrade (we offered -PLUS), is refused without counting as a guess,
 * so a client that tries its mechanisms in turn reaches one that works.
 * NULL when the flag is acceptable, else the reason.
 */
static const char downgrade[] = "channel binding downgrade: this server "
                                "offers -PLUS mechanisms";

const char *
ember__sasl_binding_refusal(const char *mech, const char *cb_type,
                            const char *msg, size_t len)
{
    const char *comma = memchr(msg, ',', len);
    size_t n;

    if (comma == NULL)
        return "malformed gs2 header";
    n = (size_t) (comma - msg);
    if (n == 1 && msg[0] == 'n')
        return NULL;
    if (n == 1 && msg[0] == 'y')
        return cb_type != NULL ? downgrade : NULL;
    if (n < 3 || msg[0] != 'p' || msg[1] != '=')
        return "malformed gs2 header";
    if (!is_plus(mech))
        return "channel binding requested with a mechanism without -PLUS";
    if (cb_type == NULL || strlen(cb_type) != n - 2
        || memcmp(cb_type, msg + 2, n - 2) != 0)
        return "unsupported channel binding type (this connection offers "
               "the one in <sasl-channel-binding/>)";
    return NULL;
}


static int
throttled(ember_sasl_t *s)
{
    char text[96];
    int wait = ember__throttle_wait(s->peer, s->bare[0] != '\0' ? s->bare
                                                                : NULL);

    if (wait <= 0)
        return 0;
    snprintf(text, sizeof(text), "too many failed logins; try again in %d "
             "seconds", wait);
    sasl_refuse(s, "temporary-auth-failure", text);
    return 1;
}


static void
sasl_begin(ember_sasl_t *s, const char *data)
{
    const char *refusal = NULL;
    char *raw = NULL;
    size_t rawlen = 0;
    int rc;

    if (gsasl_base64_from(data, strlen(data), &raw, &rawlen) != GSASL_OK) {
        sasl_refuse(s, "incorrect-encoding", NULL);
        return;
    }
    if (strcmp(s->mech, "PLAIN") == 0) {
        rc = ember__sasl_plain_username(raw, rawlen, s->user,
                                        sizeof(s->user));
    } else {
        rc = ember__sasl_scram_username(raw, rawlen, s->user,
                                        sizeof(s->user));
        if (rc == 0)
            refusal = ember__sasl_binding_refusal(s->mech, s->cb_type, raw,
                                                  rawlen);
    }
    gsasl_free(raw);
    if (rc < 0 || refusal != NULL) {
        sasl_refuse(s, refusal == downgrade ? "not-authorized"
                                            : "malformed-request", refusal);
        return;
    }
    snprintf(s->bare, sizeof(s->bare), "%s@%s", s->user, s->host);
    if (throttled(s))
        return;
    if (s->external) {
        external_begin(s, data);
        return;
    }
    free(s->pending_data);
    if ((s->pending_data = strdup(data)) == NULL) {
        sasl_refuse(s, "temporary-auth-failure", NULL);
        return;
    }
    s->pending = 1;
    if (ember__account_get(s->host, s->user, account_loaded, s) < 0) {
        s->pending = 0;
        sasl_refuse(s, "temporary-auth-failure", NULL);
    }
}


void
ember__sasl_start(ember_sasl_t *s, const char *mech, const char *initial)
{
    if (s->gs != NULL || s->pending) {
        sasl_refuse(s, "aborted", NULL);
        return;
    }
    if ((s->mech = strdup(mech)) == NULL ||
        (s->external && strcmp(mech, "PLAIN") != 0) ||
        gsasl_server_start(gsasl_ctx, mech, &s->gs) != GSASL_OK) {
        sasl_refuse(s, "invalid-mechanism", NULL);
        return;
    }
    if (throttled(s))
        return;
    gsasl_session_hook_set(s->gs, s);
    /* With binding data set, libgsasl also fails a client that says "y":
     * RFC 5802's downgrade detection (ember__sasl_binding_refusal
     * says why). */
    if (s->cb_type != NULL)
        gsasl_property_set(s->gs,
                           strcmp(s->cb_type, "tls-exporter") == 0
                               ? GSASL_CB_TLS_EXPORTER
                               : GSASL_CB_TLS_UNIQUE,
                           s->cb_data);
    /* "=" is an empty initial response; absent means the client waits
     * for an empty challenge. */
    if (initial == NULL || initial[0] == '\0') {
        s->cb(s->ud, EMBER_SASL_CHALLENGE, "", NULL);
        return;
    }
    sasl_begin(s, strcmp(initial, "=") == 0 ? "" : initial);
}


void
ember__sasl_step(ember_sasl_t *s, const char *data)
{
    if (s->gs == NULL || s->pending) {
        sasl_refuse(s, "malformed-request", NULL);
        return;
    }
    if (s->account == NULL) {
        sasl_begin(s, data != NULL ? data : "");
        return;
    }
    sasl_run_step(s, data);
}


const char *
ember__sasl_user(const ember_sasl_t *s)
{
    return s->user;
}


/* The table's own string: it outlives s, which the stream frees once the
 * client is in. */
const char *
ember__sasl_mechanism(const ember_sasl_t *s)
{
    size_t i;

    for (i = 0; mech_table[i] != NULL; i++)
        if (strcmp(mech_table[i], s->mech) == 0)
            return mech_table[i];
    return "?";
}
