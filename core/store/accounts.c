/* core/accounts.c -- accounts as SCRAM-SHA-1/-256 secrets in "accounts". */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include <jansson.h>
#include <gsasl.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "store/accounts.h"
#include "base/hooks.h"
#include "base/jid.h"
#include "base/log.h"
#include "base/process.h"
#include "store/storage.h"
#include "store/throttle.h"

static ember_account_revoke_cb revoke_streams;


void
ember__accounts_on_revoke(ember_account_revoke_cb cb)
{
    revoke_streams = cb;
}


static void
revoke_access(const char *host, const char *user)
{
    if (revoke_streams != NULL)
        revoke_streams(host, user);
}

typedef struct auth_prov_s {
    ember_module_t *m;
    char *host;                      /* NULL: every host */
    const ember_auth_provider_t *p;
    struct auth_prov_s *next;
} auth_prov_t;

static auth_prov_t *providers;


static const auth_prov_t *
provider_for(const char *host)
{
    const auth_prov_t *e, *global = NULL;

    for (e = providers; e != NULL && host != NULL; e = e->next) {
        if (e->host == NULL)
            global = e;
        else if (strcmp(e->host, host) == 0)
            return e;
    }
    return global;
}


const char *
ember__auth_external(const char *host)
{
    const auth_prov_t *e = provider_for(host);

    return e == NULL ? NULL : e->p->name != NULL ? e->p->name : "external";
}

#define ACC_SALT_LEN 16
#define ACC_NAME_MAX 1024
#define ACC_PASSWORD_MAX 1024
/* What check_password accepts of a stored document. */
#define ACC_ITER_MAX 10000000
#define ACC_SALT_MAX 256

typedef enum {
    ACC_CREATE = 1,
    ACC_PASSWD,
    ACC_DELETE,
    ACC_LOCK,
    ACC_INFO,
    ACC_IMPORT
} acc_op_t;

/* Raw SCRAM secrets of one hash, as computed on a worker thread. */
typedef struct acc_keys_s {
    char stored[GSASL_HASH_MAX_SIZE];
    char server[GSASL_HASH_MAX_SIZE];
    size_t len;
} acc_keys_t;

typedef struct acc_req_s {
    uv_work_t work;
    acc_op_t op;
    char host[ACC_NAME_MAX];
    char user[ACC_NAME_MAX];
    char *password;          /* wiped and freed once hashed */
    int locked;
    json_t *fields;          /* set in the document (lock_reason, name,
                                email); a null one is removed */
    int status;              /* of the hashing */
    char salt[ACC_SALT_LEN];
    acc_keys_t sha1, sha256;
    json_t *doc;             /* the document being written */
    ember_store_t *st;
    ember_store_cb cb;
    void *ud;
    struct acc_req_s *next;
} acc_req_t;

/*
 * Every change runs as read, (hash), write: two store round trips during
 * which the loop serves other requests.  Two changes of one account at
 * once (two creates, or a delete racing a password change) could both see
 * the same state and the last write would win, resurrecting a deleted
 * account or overwriting a fresh one.  So one change per account at a
 * time: the next is refused with EMBER_EBUSY.
 */
static acc_req_t *busy;


static acc_req_t *
busy_find(const char *host, const char *user)
{
    acc_req_t *r;

    for (r = busy; r != NULL; r = r->next)
        if (strcmp(r->host, host) == 0 && strcmp(r->user, user) == 0)
            return r;
    return NULL;
}


static void
busy_remove(acc_req_t *req)
{
    acc_req_t **p;

    for (p = &busy; *p != NULL; p = &(*p)->next)
        if (*p == req) {
            *p = req->next;
            return;
        }
}


static void
wipe_password(acc_req_t *req)
{
    if (req->password != NULL) {
        explicit_bzero(req->password, strlen(req->password));
        free(req->password);
        req->password = NULL;
    }
}


static void
req_free(acc_req_t *req)
{
    wipe_password(req);
    json_decref(req->fields);
    explicit_bzero(&req->sha1, sizeof(req->sha1));
    explicit_bzero(&req->sha256, sizeof(req->sha256));
    json_decref(req->doc);
    free(req);
}


static void
req_finish(acc_req_t *req, int status)
{
    busy_remove(req);
    if (req->cb != NULL)
        req->cb(status, NULL, req->ud);
    req_free(req);
}


/* Prepare host and user into req; EMBER_EINVAL when either is malformed. */
static int
prep_names(const char *host, const char *user, char *host_out,
           char *user_out)
{
    if (host == NULL || user == NULL || user[0] == '\0')
        return EMBER_EINVAL;
    if (ember__jid_prep_domain(host, host_out, ACC_NAME_MAX) < 0 ||
        ember__jid_prep_node(user, user_out, ACC_NAME_MAX) < 0 ||
        user_out[0] == '\0')
        return EMBER_EINVAL;
    return 0;
}


static ember_store_t *
accounts_store(const char *host)
{
    return ember__store_open(NULL, host, "accounts", EMBER_STORE_KEYVAL);
}


static acc_req_t *
req_new(acc_op_t op, const char *host, const char *user,
        const char *password, ember_store_cb cb, void *ud, int *err)
{
    acc_req_t *req;

    if ((req = calloc(1, sizeof(*req))) == NULL) {
        *err = EMBER_ENOMEM;
        return NULL;
    }
    if ((*err = prep_names(host, user, req->host, req->user)) < 0)
        goto fail;
    if (password != NULL) {
        if (password[0] == '\0' || strlen(password) > ACC_PASSWORD_MAX) {
            *err = EMBER_EINVAL;
            goto fail;
        }
        if ((req->password = strdup(password)) == NULL) {
            *err = EMBER_ENOMEM;
            goto fail;
        }
    }
    if (busy_find(req->host, req->user) != NULL) {
        *err = EMBER_EBUSY;
        goto fail;
    }
    if ((req->st = accounts_store(req->host)) == NULL) {
        *err = EMBER_ENOMEM;
        goto fail;
    }
    req->op = op;
    req->cb = cb;
    req->ud = ud;
    req->next = busy;
    busy = req;
    return req;

fail:
    req_free(req);
    return NULL;
}


static int
scram_keys(Gsasl_hash hash, const char *password, unsigned iterations,
           const char *salt, size_t saltlen, acc_keys_t *out)
{
    char salted[GSASL_HASH_MAX_SIZE], client[GSASL_HASH_MAX_SIZE];
    int rc;

    rc = gsasl_scram_secrets_from_password(hash, password, iterations, salt,
                                           saltlen, salted, client,
                                           out->server, out->stored);
    explicit_bzero(salted, sizeof(salted));
    explicit_bzero(client, sizeof(client));
    if (rc != GSASL_OK)
        return rc == GSASL_MALLOC_ERROR ? EMBER_ENOMEM : EMBER_EINVAL;
    out->len = hash == GSASL_HASH_SHA1 ? GSASL_HASH_SHA1_SIZE
                                       : GSASL_HASH_SHA256_SIZE;
    return 0;
}


/* Worker thread: only req's own memory is touched here. */
static void
hash_work(uv_work_t *w)
{
    acc_req_t *req = w->data;

    if (gnutls_rnd(GNUTLS_RND_RANDOM, req->salt, sizeof(req->salt)) < 0) {
        req->status = EMBER_EIO;
        return;
    }
    req->status = scram_keys(GSASL_HASH_SHA1, req->password,
                             EMBER_SCRAM_ITERATIONS, req->salt,
                             sizeof(req->salt), &req->sha1);
    if (req->status == 0)
        req->status = scram_keys(GSASL_HASH_SHA256, req->password,
                                 EMBER_SCRAM_ITERATIONS, req->salt,
                                 sizeof(req->salt), &req->sha256);
}


static json_t *
b64_json(const char *data, size_t len)
{
    char *out;
    size_t outlen;
    json_t *v;

    if (gsasl_base64_to(data, len, &out, &outlen) != GSASL_OK)
        return NULL;
    v = json_stringn(out, outlen);
    gsasl_free(out);
    return v;
}


static json_t *
keys_json(const acc_keys_t *k)
{
    json_t *o, *stored, *server;

    stored = b64_json(k->stored, k->len);
    server = b64_json(k->server, k->len);
    if (stored == NULL || server == NULL ||
        (o = json_object()) == NULL) {
        json_decref(stored);
        json_decref(server);
        return NULL;
    }
    json_object_set_new(o, "stored_key", stored);
    json_object_set_new(o, "server_key", server);
    return o;
}


static int doc_set_secrets(acc_req_t *req);


/*
 * The secret decoys derive from: random, made once, kept in the data
 * directory so an unknown user's salt stays the same across restarts (a
 * salt that changed while real ones do not would tell them apart).
 */
static int
decoy_secret(unsigned char out[32])
{
    static unsigned char secret[32];
    static int loaded;
    const ember_config_t *cfg = ember__config();
    char path[4096];
    ssize_t n = 0;
    int fd;

    if (loaded) {
        memcpy(out, secret, sizeof(secret));
        return 0;
    }
    if (cfg == NULL || cfg->data_dir == NULL)
        return EMBER_EIO;
    snprintf(path, sizeof(path), "%s/decoy.key", cfg->data_dir);
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        n = read(fd, secret, sizeof(secret));
        close(fd);
    } else if (errno == ENOENT
               && gnutls_rnd(GNUTLS_RND_KEY, secret, sizeof(secret)) == 0
               && (fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW
                             | O_CLOEXEC, 0600)) >= 0) {
        n = ember__write_all(fd, (const char *) secret, sizeof(secret)) == 0
            && fsync(fd) == 0 ? (ssize_t) sizeof(secret) : -1;
        close(fd);
    }
    if (n != (ssize_t) sizeof(secret)) {
        ember__log(EMBER_LOG_ERROR, "accounts", "cannot read or create %s",
                   path);
        return EMBER_EIO;
    }
    loaded = 1;
    memcpy(out, secret, sizeof(secret));
    return 0;
}


static void
decoy_bytes(const unsigned char secret[32], const char *what,
            const char *host, const char *user, char *out, size_t len)
{
    unsigned char mac[32];
    gnutls_hmac_hd_t h;

    gnutls_hmac_init(&h, GNUTLS_MAC_SHA256, secret, 32);
    gnutls_hmac(h, what, strlen(what) + 1);
    gnutls_hmac(h, host, strlen(host) + 1);
    gnutls_hmac(h, user, strlen(user) + 1);
    gnutls_hmac_deinit(h, mac);
    memcpy(out, mac, len < sizeof(mac) ? len : sizeof(mac));
    explicit_bzero(mac, sizeof(mac));
}


json_t *
ember__account_decoy(const char *host, const char *user)
{
    unsigned char secret[32];
    acc_req_t *req;
    json_t *doc = NULL;

    if (decoy_secret(secret) < 0 || (req = calloc(1, sizeof(*req))) == NULL)
        return NULL;
    decoy_bytes(secret, "salt", host, user, req->salt, sizeof(req->salt));
    req->sha1.len = GSASL_HASH_SHA1_SIZE;
    req->sha256.len = GSASL_HASH_SHA256_SIZE;
    decoy_bytes(secret, "sha1-stored", host, user, req->sha1.stored,
                req->sha1.len);
    decoy_bytes(secret, "sha1-server", host, user, req->sha1.server,
                req->sha1.len);
    decoy_bytes(secret, "sha256-stored", host, user, req->sha256.stored,
                req->sha256.len);
    decoy_bytes(secret, "sha256-server", host, user, req->sha256.server,
                req->sha256.len);
    if (doc_set_secrets(req) == 0) {
        doc = req->doc;
        json_object_set_new(doc, "decoy", json_true());
    } else {
        json_decref(req->doc);
    }
    explicit_bzero(secret, sizeof(secret));
    explicit_bzero(req, sizeof(*req));
    free(req);
    return doc;
}


/* Put the freshly computed secrets into req->doc (created if NULL). */
static int
doc_set_secrets(acc_req_t *req)
{
    json_t *salt, *k1, *k256;

    if (req->doc == NULL) {
        req->doc = json_pack("{s:I, s:b}", "created",
                             (json_int_t) time(NULL), "locked", 0);
        if (req->doc == NULL)
            return EMBER_ENOMEM;
    }
    salt = b64_json(req->salt, sizeof(req->salt));
    k1 = keys_json(&req->sha1);
    k256 = keys_json(&req->sha256);
    if (salt == NULL || k1 == NULL || k256 == NULL) {
        json_decref(salt);
        json_decref(k1);
        json_decref(k256);
        return EMBER_ENOMEM;
    }
    json_object_set_new(req->doc, "iterations",
                        json_integer(EMBER_SCRAM_ITERATIONS));
    json_object_set_new(req->doc, "salt", salt);
    json_object_set_new(req->doc, "sha1", k1);
    json_object_set_new(req->doc, "sha256", k256);
    return 0;
}


static void
written(int status, json_t *result, void *ud)
{
    acc_req_t *req = ud;

    if (status == 0 && (req->op == ACC_CREATE || req->op == ACC_IMPORT))
        ember__fire_simple(req->host, EMBER_EV_USER_CREATED, NULL,
                           (void *) req->user);
    req_finish(req, status);
}


static void
write_doc(acc_req_t *req)
{
    int err;

    if ((err = ember__keyval_set(req->st, req->user, req->doc, written,
                                 req)) < 0)
        req_finish(req, err);
}


static void
hash_done(uv_work_t *w, int status)
{
    acc_req_t *req = w->data;
    int err;

    wipe_password(req);
    if (status == UV_ECANCELED) {
        req_finish(req, EMBER_ECANCELED);
        return;
    }
    if (req->status < 0) {
        req_finish(req, req->status);
        return;
    }
    if ((err = doc_set_secrets(req)) < 0) {
        req_finish(req, err);
        return;
    }
    write_doc(req);
}


static void
start_hash(acc_req_t *req)
{
    req->work.data = req;
    if (uv_queue_work(ember__loop(), &req->work, hash_work, hash_done) < 0)
        req_finish(req, EMBER_EIO);
}


static void
purged(int status, json_t *result, void *ud)
{
    acc_req_t *req = ud;

    /* The account is gone even when some module's data could not be. */
    if (status < 0 && status != EMBER_ENOENT)
        ember__log(EMBER_LOG_WARN, "core", "deleting %s@%s: purge: %s",
                   req->user, req->host, ember_strerror(status));
    ember__fire_simple(req->host, EMBER_EV_USER_DELETED, NULL,
                       (void *) req->user);
    req_finish(req, 0);
}


static void
account_removed(int status, json_t *result, void *ud)
{
    acc_req_t *req = ud;
    int err;

    if (status < 0 && status != EMBER_ENOENT) {
        req_finish(req, status);
        return;
    }
    if ((err = ember__store_purge_user(req->host, req->user, purged,
                                       req)) < 0)
        purged(err, NULL, req);
}


/* The current document arrived: go on according to the operation. */
/* req->fields into the document: a null or empty value removes it. */
static void
set_fields(acc_req_t *req)
{
    const char *k;
    json_t *v;

    json_object_foreach(req->fields, k, v) {
        if (json_is_null(v) || (json_is_string(v) &&
                                json_string_length(v) == 0))
            json_object_del(req->doc, k);
        else
            json_object_set(req->doc, k, v);
    }
}


static void
got_doc(int status, json_t *result, void *ud)
{
    acc_req_t *req = ud;
    int err;

    if (status < 0 && status != EMBER_ENOENT) {
        req_finish(req, status);
        return;
    }
    if (req->op == ACC_CREATE || req->op == ACC_IMPORT) {
        if (status == 0)
            req_finish(req, EMBER_EEXIST);
        else if (req->op == ACC_IMPORT)
            write_doc(req);
        else
            start_hash(req);
        return;
    }
    if (status == EMBER_ENOENT || !json_is_object(result)) {
        req_finish(req, EMBER_ENOENT);
        return;
    }
    if ((req->doc = json_deep_copy(result)) == NULL) {
        req_finish(req, EMBER_ENOMEM);
        return;
    }
    switch (req->op) {
    case ACC_PASSWD:
        start_hash(req);
        break;
    case ACC_LOCK:
        json_object_set_new(req->doc, "locked", json_boolean(req->locked));
        json_object_del(req->doc, "lock_reason");
        json_object_del(req->doc, "locked_at");
        if (req->locked) {
            json_object_set_new(req->doc, "locked_at",
                                json_integer((json_int_t) time(NULL)));
            set_fields(req);
        }
        /* A lock that let open streams go on would not lock anything. */
        if (req->locked)
            revoke_access(req->host, req->user);
        write_doc(req);
        break;
    case ACC_INFO:
        set_fields(req);
        write_doc(req);
        break;
    case ACC_DELETE:
        /* Streams first, so nothing logged in writes after the purge. */
        revoke_access(req->host, req->user);
        if ((err = ember__keyval_set(req->st, req->user, NULL,
                                     account_removed, req)) < 0)
            req_finish(req, err);
        break;
    default:
        req_finish(req, EMBER_EINVAL);
        break;
    }
}


static int
start(acc_op_t op, const char *host, const char *user, const char *password,
      int locked, json_t *fields, ember_store_cb cb, void *ud)
{
    acc_req_t *req;
    int err;

    if ((op == ACC_CREATE || op == ACC_PASSWD) && password == NULL)
        return EMBER_EINVAL;
    /* The provider's directory owns the passwords: one we stored here
     * would never be asked for. */
    if ((op == ACC_CREATE || op == ACC_PASSWD) && host != NULL) {
        char h[ACC_NAME_MAX];

        if (ember__jid_prep_domain(host, h, sizeof(h)) == 0 &&
            ember__auth_external(h) != NULL)
            return EMBER_EPERM;
    }
    if ((req = req_new(op, host, user, password, cb, ud, &err)) == NULL)
        return err;
    req->locked = locked;
    req->fields = json_incref(fields);
    if ((err = ember__keyval_get(req->st, req->user, got_doc, req)) < 0) {
        /* The caller hears of it through the return value only. */
        req->cb = NULL;
        req_finish(req, err);
        return err;
    }
    return 0;
}


/* Decoded length of base64 text, -1 when it is not base64. */
static long
b64_len(const char *in)
{
    char *raw;
    size_t len;

    if (in == NULL || in[0] == '\0' ||
        gsasl_base64_from(in, strlen(in), &raw, &len) != GSASL_OK)
        return -1;
    explicit_bzero(raw, len);
    gsasl_free(raw);
    return (long) len;
}


/* The secrets of one hash: both keys, base64 of the hash's size. */
static json_t *
import_keys(json_t *in, long size)
{
    json_t *k = json_object_get(in, "stored_key");
    json_t *s = json_object_get(in, "server_key");

    if (!json_is_object(in) || b64_len(json_string_value(k)) != size ||
        b64_len(json_string_value(s)) != size)
        return NULL;
    return json_pack("{s:O, s:O}", "stored_key", k, "server_key", s);
}


int
ember__account_import(const char *host, const char *user, json_t *secrets,
                      ember_store_cb cb, void *ud)
{
    json_t *it = json_object_get(secrets, "iterations");
    json_t *salt = json_object_get(secrets, "salt");
    json_t *created = json_object_get(secrets, "created");
    json_t *doc, *k1 = NULL, *k256 = NULL;
    long saltlen = b64_len(json_string_value(salt));
    acc_req_t *req;
    int err;

    if (!json_is_integer(it) || json_integer_value(it) <= 0 ||
        json_integer_value(it) > ACC_ITER_MAX || saltlen <= 0 ||
        saltlen > ACC_SALT_MAX)
        return EMBER_EINVAL;
    if (json_object_get(secrets, "sha1") != NULL &&
        (k1 = import_keys(json_object_get(secrets, "sha1"),
                          GSASL_HASH_SHA1_SIZE)) == NULL)
        return EMBER_EINVAL;
    if (json_object_get(secrets, "sha256") != NULL &&
        (k256 = import_keys(json_object_get(secrets, "sha256"),
                            GSASL_HASH_SHA256_SIZE)) == NULL) {
        json_decref(k1);
        return EMBER_EINVAL;
    }
    if (k1 == NULL && k256 == NULL)
        return EMBER_EINVAL;
    doc = json_pack("{s:O, s:O, s:I, s:b}", "iterations", it, "salt", salt,
                    "created", json_is_integer(created)
                                   ? json_integer_value(created)
                                   : (json_int_t) time(NULL),
                    "locked", json_is_true(json_object_get(secrets,
                                                           "locked")));
    if (doc == NULL) {
        json_decref(k1);
        json_decref(k256);
        return EMBER_ENOMEM;
    }
    if (k1 != NULL)
        json_object_set_new(doc, "sha1", k1);
    if (k256 != NULL)
        json_object_set_new(doc, "sha256", k256);
    if ((req = req_new(ACC_IMPORT, host, user, NULL, cb, ud, &err)) == NULL) {
        json_decref(doc);
        return err;
    }
    req->doc = doc;
    if ((err = ember__keyval_get(req->st, req->user, got_doc, req)) < 0) {
        req->cb = NULL;
        req_finish(req, err);
        return err;
    }
    return 0;
}


int
ember__account_create(const char *host, const char *user,
                      const char *password, ember_store_cb cb, void *ud)
{
    return start(ACC_CREATE, host, user, password, 0, NULL, cb, ud);
}


int
ember__account_set_password(const char *host, const char *user,
                            const char *password, ember_store_cb cb,
                            void *ud)
{
    return start(ACC_PASSWD, host, user, password, 0, NULL, cb, ud);
}


int
ember__account_delete(const char *host, const char *user, ember_store_cb cb,
                      void *ud)
{
    return start(ACC_DELETE, host, user, NULL, 0, NULL, cb, ud);
}


int
ember__account_lock(const char *host, const char *user, int locked,
                    const char *reason, ember_store_cb cb, void *ud)
{
    json_t *f = locked && reason != NULL && *reason != '\0'
                ? json_pack("{s:s}", "lock_reason", reason) : NULL;
    int rc = start(ACC_LOCK, host, user, NULL, locked != 0, f, cb, ud);

    json_decref(f);
    return rc;
}


int
ember__account_set_info(const char *host, const char *user, json_t *fields,
                        ember_store_cb cb, void *ud)
{
    return start(ACC_INFO, host, user, NULL, 0, fields, cb, ud);
}


static int provider_exists(const char *host, const char *user,
                           ember_store_cb cb, void *ud);


int
ember__account_get(const char *host, const char *user, ember_store_cb cb,
                   void *ud)
{
    char h[ACC_NAME_MAX], u[ACC_NAME_MAX];
    ember_store_t *st;
    int err;

    if ((err = prep_names(host, user, h, u)) < 0)
        return err;
    if (ember__auth_external(h) != NULL)
        return provider_exists(h, u, cb, ud);
    if ((st = accounts_store(h)) == NULL)
        return EMBER_ENOMEM;
    return ember__keyval_get(st, u, cb, ud);
}


int
ember__account_list(const char *host, ember_store_cb cb, void *ud)
{
    char h[ACC_NAME_MAX];
    ember_store_t *st;

    if (host == NULL || ember__jid_prep_domain(host, h, sizeof(h)) < 0)
        return EMBER_EINVAL;
    if ((st = accounts_store(h)) == NULL)
        return EMBER_ENOMEM;
    return ember__store_users(st, cb, ud);
}


/* Decode base64 into out (at most outlen bytes); length or -1. */
static long
b64_decode(const char *in, char *out, size_t outlen)
{
    char *raw;
    size_t len;

    if (in == NULL ||
        gsasl_base64_from(in, strlen(in), &raw, &len) != GSASL_OK)
        return -1;
    if (len > outlen) {
        gsasl_free(raw);
        return -1;
    }
    memcpy(out, raw, len);
    gsasl_free(raw);
    return (long) len;
}


int
ember__account_check_password(json_t *doc, const char *password)
{
    char salt[256], want[GSASL_HASH_MAX_SIZE];
    acc_keys_t got;
    json_t *keys;
    json_int_t iter;
    Gsasl_hash hash = GSASL_HASH_SHA256;
    long saltlen, wantlen;
    unsigned char diff = 0;
    size_t i;
    int err;

    if (!json_is_object(doc) || password == NULL)
        return EMBER_EINVAL;
    if ((keys = json_object_get(doc, "sha256")) == NULL) {
        keys = json_object_get(doc, "sha1");
        hash = GSASL_HASH_SHA1;
    }
    iter = json_integer_value(json_object_get(doc, "iterations"));
    saltlen = b64_decode(json_string_value(json_object_get(doc, "salt")),
                         salt, sizeof(salt));
    wantlen = b64_decode(json_string_value(json_object_get(keys,
                                                           "stored_key")),
                         want, sizeof(want));
    if (iter <= 0 || iter > 10000000 || saltlen <= 0 || wantlen <= 0)
        return EMBER_EINVAL;
    if ((err = scram_keys(hash, password, (unsigned) iter, salt,
                          (size_t) saltlen, &got)) < 0)
        return err == EMBER_ENOMEM ? err : EMBER_EAUTH;
    if ((size_t) wantlen != got.len) {
        explicit_bzero(&got, sizeof(got));
        return EMBER_EINVAL;
    }
    /* Constant time: the loop never leaves early on a mismatch. */
    for (i = 0; i < got.len; i++)
        diff |= (unsigned char) (got.stored[i] ^ want[i]);
    explicit_bzero(&got, sizeof(got));
    return diff == 0 ? 0 : EMBER_EAUTH;
}


/* ---- password checks for other doors than SASL (the console) ---- */

typedef struct acc_verify_s {
    uv_work_t work;
    char host[ACC_NAME_MAX];
    char user[ACC_NAME_MAX];
    char bare[2 * ACC_NAME_MAX + 1];
    char *peer;              /* NULL: the door does not know it */
    char door[64];
    json_t *doc;
    char *password;          /* NULL: longer than any password can be */
    int status;
    int wait;                /* seconds the throttle asked for */
    ember_store_cb cb;
    void *ud;
} acc_verify_t;


static void
verify_finish(acc_verify_t *v, int status)
{
    json_t *result = NULL;

    if (status == EMBER_EAUTH)
        ember__throttle_failed(v->peer, v->bare, v->door);
    else if (status == 0 || status == EMBER_EPERM)
        ember__throttle_succeeded(v->bare);
    if (status == EMBER_ELIMIT)
        result = json_pack("{s:i}", "retry_after", v->wait);
    v->cb(status, result, v->ud);
    json_decref(result);
    if (v->password != NULL) {
        explicit_bzero(v->password, strlen(v->password));
        free(v->password);
    }
    json_decref(v->doc);
    free(v->peer);
    free(v);
}


static void
verify_work(uv_work_t *w)
{
    acc_verify_t *v = w->data;

    v->status = ember__account_check_password(v->doc, v->password);
}


static void
verify_done(uv_work_t *w, int status)
{
    acc_verify_t *v = w->data;

    if (status == UV_ECANCELED)
        verify_finish(v, EMBER_ECANCELED);
    else if (v->status != 0 || json_is_true(json_object_get(v->doc, "decoy")))
        verify_finish(v, EMBER_EAUTH);
    else if (json_is_true(json_object_get(v->doc, "locked")))
        verify_finish(v, EMBER_EPERM);
    else
        verify_finish(v, 0);
}


static void
verify_external(int status, void *ud)
{
    verify_finish(ud, status);
}


static void
verify_got_doc(int status, json_t *result, void *ud)
{
    acc_verify_t *v = ud;

    if (v->wait > 0) {
        verify_finish(v, EMBER_ELIMIT);
        return;
    }
    if (v->password == NULL) {
        verify_finish(v, EMBER_EAUTH);
        return;
    }
    if (ember__auth_external(v->host) != NULL) {
        if ((status = ember__auth_check(v->host, v->user, v->password,
                                        verify_external, v)) < 0)
            verify_finish(v, status);
        return;
    }
    /* A missing account looks like a wrong password to the caller, and
     * takes as long to find out. */
    if (status == EMBER_ENOENT || (status == 0 && !json_is_object(result)))
        v->doc = ember__account_decoy(v->host, v->user);
    else if (status < 0) {
        verify_finish(v, status);
        return;
    } else
        v->doc = json_deep_copy(result);
    if (v->doc == NULL) {
        verify_finish(v, EMBER_ENOMEM);
        return;
    }
    v->work.data = v;
    if (uv_queue_work(ember__loop(), &v->work, verify_work, verify_done) < 0)
        verify_finish(v, EMBER_EIO);
}


int
ember__account_verify(const char *host, const char *user,
                      const char *password, const char *peer,
                      const char *door, ember_store_cb cb, void *ud)
{
    char h[ACC_NAME_MAX], u[ACC_NAME_MAX];
    ember_store_t *st;
    acc_verify_t *v;
    int err;

    if (cb == NULL || password == NULL || door == NULL)
        return EMBER_EINVAL;
    if ((err = prep_names(host, user, h, u)) < 0)
        return err;
    if ((st = accounts_store(h)) == NULL ||
        (v = calloc(1, sizeof(*v))) == NULL)
        return EMBER_ENOMEM;
    if ((peer != NULL && (v->peer = strdup(peer)) == NULL) ||
        (strlen(password) <= ACC_PASSWORD_MAX
         && (v->password = strdup(password)) == NULL)) {
        free(v->peer);
        free(v);
        return EMBER_ENOMEM;
    }
    v->cb = cb;
    v->ud = ud;
    memcpy(v->host, h, sizeof(h));
    memcpy(v->user, u, sizeof(u));
    snprintf(v->bare, sizeof(v->bare), "%s@%s", u, h);
    snprintf(v->door, sizeof(v->door), "%s", door);
    v->wait = ember__throttle_wait(peer, v->bare);
    /* Throttled or not, the answer comes after a store round trip. */
    if ((err = ember__keyval_get(st, u, verify_got_doc, v)) < 0) {
        if (v->password != NULL) {
            explicit_bzero(v->password, strlen(v->password));
            free(v->password);
        }
        free(v->peer);
        free(v);
        return err;
    }
    return 0;
}


/* ---- authentication providers ---- */

typedef struct auth_call_s {
    ember_auth_call_t id;
    ember_module_t *m;
    ember_auth_result_cb cb;
    void *ud;
    struct auth_call_s *next;
} auth_call_t;

static auth_call_t *auth_calls;
static ember_auth_call_t auth_next_id;


int
ember__auth_provide(ember_module_t *m, const char *host,
                    const ember_auth_provider_t *p)
{
    auth_prov_t *e;

    if (m == NULL || p == NULL || p->size < EMBER_AUTH_PROVIDER_V1 ||
        p->check == NULL || p->exists == NULL)
        return EMBER_EINVAL;
    for (e = providers; e != NULL; e = e->next)
        if (e->host == NULL || host == NULL || strcmp(e->host, host) == 0)
            return EMBER_EEXIST;
    if ((e = calloc(1, sizeof(*e))) == NULL ||
        (host != NULL && (e->host = strdup(host)) == NULL)) {
        free(e);
        return EMBER_ENOMEM;
    }
    e->m = m;
    e->p = p;
    e->next = providers;
    providers = e;
    ember__log(EMBER_LOG_INFO, "accounts", "%s: passwords checked by %s",
               host != NULL ? host : "every host",
               p->name != NULL ? p->name : "a module");
    return 0;
}


/* Unlink and return the pending call `id` (or, id 0, any call of m). */
static auth_call_t *
auth_call_take(ember_auth_call_t id, ember_module_t *m)
{
    auth_call_t **pp, *c;

    for (pp = &auth_calls; (c = *pp) != NULL; pp = &c->next)
        if (id != 0 ? c->id == id : c->m == m) {
            *pp = c->next;
            return c;
        }
    return NULL;
}


void
ember__auth_done(ember_auth_call_t call, int status)
{
    auth_call_t *c = call != 0 ? auth_call_take(call, NULL) : NULL;

    if (c == NULL)
        return;
    c->cb(status, c->ud);
    free(c);
}


void
ember__auth_module_gone(ember_module_t *m)
{
    auth_prov_t **pe, *e;
    auth_call_t *c;

    for (pe = &providers; (e = *pe) != NULL;) {
        if (e->m == m) {
            *pe = e->next;
            free(e->host);
            free(e);
        } else {
            pe = &e->next;
        }
    }
    while ((c = auth_call_take(0, m)) != NULL) {
        c->cb(EMBER_ECANCELED, c->ud);
        free(c);
    }
}


/* One question to host's provider: which 'c' (check) or 'e' (exists). */
static int
auth_ask(int which, const char *host, const char *user,
         const char *password, ember_auth_result_cb cb, void *ud)
{
    const auth_prov_t *e = provider_for(host);
    auth_call_t *c;
    ember_auth_call_t id;
    int rc;

    if (e == NULL)
        return EMBER_ENOENT;
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return EMBER_ENOMEM;
    id = c->id = ++auth_next_id;
    c->m = e->m;
    c->cb = cb;
    c->ud = ud;
    c->next = auth_calls;
    auth_calls = c;
    rc = which == 'c' ? e->p->check(e->m, user, password, id)
                      : e->p->exists(e->m, user, id);
    if (rc < 0 && (c = auth_call_take(id, NULL)) != NULL) {
        free(c);
        return rc;
    }
    /* Answered within the call, or to come. */
    return 0;
}


int
ember__auth_check(const char *host, const char *user, const char *password,
                  ember_auth_result_cb cb, void *ud)
{
    if (host == NULL || user == NULL || password == NULL ||
        password[0] == '\0' || strlen(password) > ACC_PASSWORD_MAX ||
        cb == NULL)
        return EMBER_EINVAL;
    return auth_ask('c', host, user, password, cb, ud);
}


typedef struct auth_exists_s {
    char host[ACC_NAME_MAX];
    ember_store_cb cb;
    void *ud;
} auth_exists_t;


static void
provider_exists_done(int status, void *ud)
{
    auth_exists_t *x = ud;
    json_t *doc = NULL;

    /* Shaped like the store's answer: callers read only "locked". */
    if (status == 0)
        doc = json_pack("{s:s, s:b}", "provider",
                        ember__auth_external(x->host) != NULL
                            ? ember__auth_external(x->host) : "external",
                        "locked", 0);
    x->cb(status == 0 && doc == NULL ? EMBER_ENOMEM : status, doc, x->ud);
    json_decref(doc);
    free(x);
}


static int
provider_exists(const char *host, const char *user, ember_store_cb cb,
                void *ud)
{
    auth_exists_t *x = calloc(1, sizeof(*x));
    int rc;

    if (x == NULL)
        return EMBER_ENOMEM;
    snprintf(x->host, sizeof(x->host), "%s", host);
    x->cb = cb;
    x->ud = ud;
    if ((rc = auth_ask('e', host, user, NULL, provider_exists_done, x)) < 0)
        free(x);
    return rc;
}


int
ember__auth_is_admin(const char *bare)
{
    const char *at = bare != NULL ? strchr(bare, '@') : NULL;
    const auth_prov_t *e;
    char user[ACC_NAME_MAX];

    if (at == NULL || (size_t) (at - bare) >= sizeof(user) ||
        strchr(at, '/') != NULL || (e = provider_for(at + 1)) == NULL ||
        e->p->is_admin == NULL)
        return 0;
    memcpy(user, bare, (size_t) (at - bare));
    user[at - bare] = '\0';
    return e->p->is_admin(e->m, user) == 1;
}
