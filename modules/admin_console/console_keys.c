/*
 * console_keys.c -- API keys: "Authorization: Bearer ek_<id>_<secret>".
 * Only the SHA-256 of a key is kept, in the MAP store "console_keys" (user
 * "keys", one entry per id), and in memory for the checks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "console.h"

#define KEYS_USER "keys"
#define MAX_KEYS 200
#define ID_BYTES 6
#define SECRET_BYTES 24
#define LAST_USED_SAVE 60    /* persist last_used at most this often */

typedef struct key_s {
    char id[2 * ID_BYTES + 1];
    char hash[65];
    char *name;
    json_int_t created, last_used, saved;
    struct key_s *next;
} key_t_;

static ember_store_t *store;
static key_t_ *keys;
static int nkeys, loaded;


static void
key_free(key_t_ *k)
{
    free(k->name);
    free(k);
}


static key_t_ *
key_find(const char *id)
{
    key_t_ *k;

    for (k = keys; k != NULL; k = k->next)
        if (strcmp(k->id, id) == 0)
            return k;
    return NULL;
}


static json_t *
key_stored(const key_t_ *k)
{
    return json_pack("{s:s, s:s, s:I, s:o}", "name", k->name, "hash",
                     k->hash, "created", k->created, "last_used",
                     k->last_used != 0 ? json_integer(k->last_used)
                                       : json_null());
}


static key_t_ *
key_add(const char *id, const char *name, const char *hash,
        json_int_t created, json_int_t last_used)
{
    key_t_ *k;

    if (strlen(id) != 2 * ID_BYTES || strlen(hash) != 64 ||
        (k = calloc(1, sizeof(*k))) == NULL)
        return NULL;
    if ((k->name = strdup(name)) == NULL) {
        free(k);
        return NULL;
    }
    memcpy(k->id, id, sizeof(k->id));
    memcpy(k->hash, hash, sizeof(k->hash));
    k->created = created;
    k->last_used = k->saved = last_used;
    k->next = keys;
    keys = k;
    nkeys++;
    return k;
}


static void
keys_loaded(int status, json_t *result, void *ud)
{
    const char *id;
    json_t *v;

    if (status < 0 && status != EMBER_ENOENT) {
        api->log(mod, EMBER_LOG_ERROR, "cannot read API keys: %s",
                 api->strerror(status));
        return;
    }
    json_object_foreach(result, id, v) {
        const char *name = json_string_value(json_object_get(v, "name"));
        const char *hash = json_string_value(json_object_get(v, "hash"));

        if (name != NULL && hash != NULL && key_find(id) == NULL)
            key_add(id, name, hash,
                    json_integer_value(json_object_get(v, "created")),
                    json_integer_value(json_object_get(v, "last_used")));
    }
    loaded = 1;
}


int
console_keys_init(void)
{
    int rc;

    store = api->store_open(mod, "console_keys", EMBER_STORE_MAP);
    if (store == NULL) {
        api->log(mod, EMBER_LOG_WARN, "no storage: API keys are "
                 "unavailable");
        return 0;
    }
    rc = api->map_all(store, KEYS_USER, keys_loaded, NULL);
    if (rc < 0)
        api->log(mod, EMBER_LOG_ERROR, "cannot read API keys: %s",
                 api->strerror(rc));
    return 0;
}


void
console_keys_done(void)
{
    key_t_ *k;

    while ((k = keys) != NULL) {
        keys = k->next;
        key_free(k);
    }
    nkeys = 0;
    loaded = 0;
    store = NULL;
}


static void
saved_ignore(int status, json_t *result, void *ud)
{
    if (status < 0)
        api->log(mod, EMBER_LOG_WARN, "cannot save an API key's use: "
                 "%s", api->strerror(status));
}


static void
sha256_hex(const char *data, size_t len, char out[65])
{
    unsigned char d[32];

    memset(d, 0, sizeof(d));
    gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, d);
    console_hex(out, d, sizeof(d));
}


/* 0 when key is a valid API key, naming it in who; 1 while the keys are
 * being read at start; else -1. */
int
console_key_check(const char *key, char *who, size_t wholen)
{
    char id[2 * ID_BYTES + 1], hash[65];
    size_t len = strlen(key);
    json_t *doc;
    key_t_ *k;

    if (store != NULL && !loaded)
        return 1;
    if (!loaded || len != 3 + 2 * ID_BYTES + 1 + 2 * SECRET_BYTES ||
        strncmp(key, "ek_", 3) != 0 || key[3 + 2 * ID_BYTES] != '_')
        return -1;
    memcpy(id, key + 3, 2 * ID_BYTES);
    id[2 * ID_BYTES] = '\0';
    if ((k = key_find(id)) == NULL)
        return -1;
    sha256_hex(key, len, hash);
    if (!console_ct_equal(hash, k->hash))
        return -1;
    k->last_used = (json_int_t) time(NULL);
    if (k->last_used - k->saved >= LAST_USED_SAVE &&
        (doc = key_stored(k)) != NULL) {
        k->saved = k->last_used;
        api->map_set(store, KEYS_USER, k->id, doc, saved_ignore, NULL);
        json_decref(doc);
    }
    snprintf(who, wholen, "key %s (%.40s)", k->id, k->name);
    return 0;
}


static int
keys_unavailable(ember_http_req_t *req)
{
    return console_error(req, 503, "unavailable", "API keys are not available "
                         "(no storage)");
}


int
console_keys_list(ember_http_req_t *req, const console_op_t *op)
{
    json_t *list;
    key_t_ *k;

    if (!loaded)
        return keys_unavailable(req);
    if ((list = json_array()) == NULL)
        return console_error(req, 500, "internal", "out of memory");
    for (k = keys; k != NULL; k = k->next)
        json_array_append_new(list, json_pack("{s:s, s:s, s:I, s:o}",
            "id", k->id, "name", k->name, "created", k->created,
            "last_used", k->last_used != 0 ? json_integer(k->last_used)
                                           : json_null()));
    return console_json(req, 200, list, NULL);
}


static void
key_created(int status, json_t *result, void *ud)
{
    console_call_t *c = ud;
    const char *name = json_string_value(json_object_get(c->doc, "name"));
    const char *hash = json_string_value(json_object_get(c->doc, "hash"));

    if (status < 0) {
        if (c->req != NULL)
            console_error(c->req, 500, "internal", api->strerror(status));
    } else if (key_add(c->jid, name, hash, (json_int_t) time(NULL), 0)
               == NULL) {
        if (c->req != NULL)
            console_error(c->req, 500, "internal", "out of memory");
    } else {
        json_t *what = json_pack("{s:s, s:s}", "id", c->jid, "name", name);

        api->audit(mod, c->who, c->ip, "api-key-create", what, 0);
        json_decref(what);
        if (c->req != NULL)
            console_json(c->req, 201, json_pack("{s:s, s:s, s:s}", "id",
                         c->jid, "name", name, "key", c->password), NULL);
    }
    console_call_free(c);
}


int
console_keys_create(ember_http_req_t *req, const console_op_t *op)
{
    char id[2 * ID_BYTES + 1], secret[2 * SECRET_BYTES + 1];
    char key[sizeof(id) + sizeof(secret) + 8], hash[65];
    const char *name;
    json_t *body;
    console_call_t *c;
    int rc;

    if (!loaded)
        return keys_unavailable(req);
    if (console_body_object(req, &body) < 0)
        return 0;
    name = json_string_value(json_object_get(body, "name"));
    if (name == NULL || name[0] == '\0' || strlen(name) > 100) {
        json_decref(body);
        return console_error(req, 400, "bad_request", "\"name\" (a string of "
                             "1 to 100 characters) is required");
    }
    if (nkeys >= MAX_KEYS) {
        json_decref(body);
        return console_error(req, 409, "conflict", "too many API keys");
    }
    do
        console_random_hex(id, ID_BYTES);
    while (key_find(id) != NULL);
    console_random_hex(secret, SECRET_BYTES);
    snprintf(key, sizeof(key), "ek_%s_%s", id, secret);
    sha256_hex(key, strlen(key), hash);
    if ((c = console_call_new(req, op)) == NULL ||
        (c->jid = strdup(id)) == NULL ||
        (c->password = strdup(key)) == NULL ||
        (c->ip = strdup(api->http_peer_ip(req))) == NULL ||
        (c->doc = json_pack("{s:s, s:s, s:I, s:n}", "name", name, "hash",
                            hash, "created", (json_int_t) time(NULL),
                            "last_used")) == NULL) {
        console_call_free(c);
        json_decref(body);
        return console_error(req, 500, "internal", "out of memory");
    }
    json_decref(body);
    explicit_bzero(key, sizeof(key));
    explicit_bzero(secret, sizeof(secret));
    rc = api->map_set(store, KEYS_USER, id, c->doc, key_created, c);
    if (rc < 0) {
        console_call_free(c);
        return console_error(req, 500, "internal", api->strerror(rc));
    }
    return 0;
}


static void
key_deleted(int status, json_t *result, void *ud)
{
    console_call_t *c = ud;

    if (c->req != NULL) {
        if (status < 0 && status != EMBER_ENOENT)
            console_error(c->req, 500, "internal", api->strerror(status));
        else
            console_json(c->req, 204, NULL, NULL);
    }
    console_call_free(c);
}


int
console_keys_delete(ember_http_req_t *req, const console_op_t *op)
{
    const char *id = api->http_param(req, "id");
    key_t_ **pk, *k;
    console_call_t *c;
    int rc;

    if (!loaded)
        return keys_unavailable(req);
    for (pk = &keys; (k = *pk) != NULL; pk = &k->next)
        if (strcmp(k->id, id) == 0)
            break;
    if (k == NULL)
        return console_error(req, 404, "not_found", "no such API key");
    /* Revoked now, whatever the store answers. */
    *pk = k->next;
    nkeys--;
    if ((c = console_call_new(req, op)) == NULL) {
        key_free(k);
        return console_error(req, 500, "internal", "out of memory");
    }
    {
        json_t *what = json_pack("{s:s, s:s}", "id", k->id, "name", k->name);

        api->audit(mod, c->who, api->http_peer_ip(req), "api-key-revoke",
                   what, 0);
        json_decref(what);
    }
    rc = api->map_set(store, KEYS_USER, k->id, NULL, key_deleted, c);
    key_free(k);
    if (rc < 0) {
        console_call_free(c);
        return console_error(req, 500, "internal", api->strerror(rc));
    }
    return 0;
}
