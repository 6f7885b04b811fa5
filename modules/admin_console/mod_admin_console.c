/*
 * mod_admin_console.c -- the admin web console and its REST API on the
 * "admin" route set (listeners admin and admin-tls).
 *
 * Every request of /api/ and /metrics goes through one gate: unless its
 * exact path is on the allow-list it must carry a valid API key or console
 * session (and, for a session, the CSRF token on a change) before any
 * route is looked up.  Static files are served on exact routes made from
 * the files found in web-root at load, so no pattern ever reaches a file.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "console.h"

#ifndef EMBER_WEB_DIR
#define EMBER_WEB_DIR "/usr/local/share/ember/web"
#endif

const ember_api_t *ac_api;
ember_module_t *ac_mod;
ac_conf_t *ac_conf;

static ac_call_t *calls;

static const ember_option_t ac_options[] = {
    EMBER_OPT("web-root", EMBER_OPT_PATH, ac_conf_t, web_root, EMBER_WEB_DIR,
              0, 4096, "directory of the console's files (flat)"),
    EMBER_OPT("session-timeout", EMBER_OPT_DURATION, ac_conf_t,
              session_timeout, "30m", 1, 86400,
              "a console session ends after this long idle"),
    EMBER_OPT("session-lifetime", EMBER_OPT_DURATION, ac_conf_t,
              session_lifetime, "12h", 300, 604800,
              "a console session ends this long after login, used or not"),
    EMBER_OPT("login-attempts", EMBER_OPT_INT, ac_conf_t, login_attempts,
              "5", 1, 1000,
              "failed logins per address (and per JID) before a lockout"),
    EMBER_OPT("lockout", EMBER_OPT_DURATION, ac_conf_t, lockout, "5m", 1,
              86400, "how long logins stay refused after too many failures"),
    EMBER_OPT_END
};

/* On every answer of the admin listeners, the core's own included. */
static const char *const ac_security_headers[] = {
    "Content-Security-Policy",
    "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options", "nosniff",
    "Referrer-Policy", "no-referrer",
    "X-Frame-Options", "DENY",
    NULL
};


int
ac_respond(ember_http_req_t *req, int status, const char *ctype,
           const char *body, size_t len, const char *const *extra)
{
    const char *h[32];
    size_t n = 0;

    if (ctype != NULL) {
        h[n++] = "Content-Type";
        h[n++] = ctype;
    }
    for (; extra != NULL && *extra != NULL && n + 3 < 32; extra += 2) {
        h[n++] = extra[0];
        h[n++] = extra[1];
    }
    h[n] = NULL;
    return ac_api->http_respond(req, status, h, body, len);
}


/* Answer doc (stolen) as JSON, not cached. */
int
ac_json(ember_http_req_t *req, int status, json_t *doc,
        const char *const *extra)
{
    const char *h[24];
    size_t n = 0;
    char *s;
    int rc;

    h[n++] = "Cache-Control";
    h[n++] = "no-store";
    for (; extra != NULL && *extra != NULL && n + 3 < 24; extra += 2) {
        h[n++] = extra[0];
        h[n++] = extra[1];
    }
    h[n] = NULL;
    if (status == 204) {
        json_decref(doc);
        return ac_respond(req, 204, NULL, "", 0, h);
    }
    s = doc != NULL ? json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(doc);
    if (s == NULL)
        return ac_respond(req, 500, "application/json",
                          "{\"error\":\"internal\",\"detail\":"
                          "\"out of memory\"}", 44, h);
    rc = ac_respond(req, status, "application/json", s, strlen(s), h);
    free(s);
    return rc;
}


int
ac_error(ember_http_req_t *req, int status, const char *code,
         const char *detail)
{
    return ac_json(req, status,
                   json_pack("{s:s, s:s}", "error", code, "detail",
                             detail != NULL ? detail : code),
                   NULL);
}


/* The HTTP status and error code for a command's EMBER_E*. */
int
ac_error_status(int err, const char **code)
{
    switch (err) {
    case EMBER_EINVAL:
        *code = "bad_request";
        return 400;
    case EMBER_ENOENT:
        *code = "not_found";
        return 404;
    case EMBER_EEXIST:
    case EMBER_EBUSY:
    case EMBER_ESTATE:
        *code = "conflict";
        return 409;
    case EMBER_EPERM:
        *code = "forbidden";
        return 403;
    case EMBER_EAUTH:
        *code = "unauthorized";
        return 401;
    case EMBER_ELIMIT:
        *code = "too_many_requests";
        return 429;
    case EMBER_ENOTSUP:
    case EMBER_EDEPEND:
        *code = "unavailable";
        return 503;
    default:
        *code = "internal";
        return 500;
    }
}


static void
call_closed(ember_http_req_t *req, void *ud)
{
    ac_call_t *c = ud;

    c->req = NULL;
}


ac_call_t *
ac_call_new(ember_http_req_t *req, const ac_route_t *r, const ac_auth_t *auth)
{
    ac_call_t *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->req = req;
    c->route = r;
    if (auth != NULL)
        c->auth = *auth;
    c->next = calls;
    if (calls != NULL)
        calls->prev = c;
    calls = c;
    ac_api->http_on_closed(req, call_closed, c);
    return c;
}


void
ac_call_free(ac_call_t *c)
{
    if (c == NULL)
        return;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        calls = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    json_decref(c->doc);
    free(c->jid);
    if (c->password != NULL) {
        explicit_bzero(c->password, strlen(c->password));
        free(c->password);
    }
    free(c->ip);
    free(c);
}


/* At unload: the core answers the requests 503 and calls nothing back. */
void
ac_calls_free_all(void)
{
    while (calls != NULL)
        ac_call_free(calls);
}


/*
 * The request body as a JSON object: an empty body is {}.  Answers 400
 * itself and returns EMBER_EINVAL when it is not a JSON object.
 */
int
ac_body_object(ember_http_req_t *req, json_t **out)
{
    size_t len = 0;
    const char *body = ac_api->http_body(req, &len);
    json_error_t e;
    json_t *doc;
    char msg[256];

    *out = NULL;
    if (body == NULL || len == 0) {
        *out = json_object();
        return *out != NULL ? 0 : EMBER_ENOMEM;
    }
    doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
    if (doc == NULL) {
        snprintf(msg, sizeof(msg), "body is not valid JSON: %s (line %d, "
                 "column %d)", e.text, e.line, e.column);
        ac_error(req, 400, "bad_request", msg);
        return EMBER_EINVAL;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        ac_error(req, 400, "bad_request", "body must be a JSON object");
        return EMBER_EINVAL;
    }
    *out = doc;
    return 0;
}


/* 1 for 127.0.0.0/8, ::1 and ::ffff:127.x.x.x. */
int
ac_is_loopback(const char *ip)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (ip == NULL)
        return 0;
    if (inet_pton(AF_INET, ip, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, ip, &a6) != 1)
        return 0;
    if (IN6_IS_ADDR_LOOPBACK(&a6))
        return 1;
    return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
}


/* The registry's entry of a command (a new reference), or NULL. */
json_t *
ac_command_info(const char *name)
{
    json_t *list = ac_api->command_list(ac_mod), *c, *found = NULL;
    size_t i;

    json_array_foreach(list, i, c) {
        const char *n = json_string_value(json_object_get(c, "name"));

        if (n != NULL && strcmp(n, name) == 0) {
            found = json_incref(c);
            break;
        }
    }
    json_decref(list);
    return found;
}


int
ac_command_exists(const char *name)
{
    json_t *c = ac_command_info(name);

    json_decref(c);
    return c != NULL;
}


/* bytes random bytes as 2 * bytes hex digits (out holds 2 * bytes + 1). */
void
ac_random_hex(char *out, size_t bytes)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char buf[64];
    size_t i;

    if (bytes > sizeof(buf))
        bytes = sizeof(buf);
    if (gnutls_rnd(GNUTLS_RND_KEY, buf, bytes) != 0)
        abort();    /* no randomness: no token may be handed out */
    for (i = 0; i < bytes; i++) {
        out[2 * i] = hex[buf[i] >> 4];
        out[2 * i + 1] = hex[buf[i] & 15];
    }
    out[2 * bytes] = '\0';
    explicit_bzero(buf, sizeof(buf));
}


void
ac_sha256_hex(const char *data, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char d[32];
    int i;

    memset(d, 0, sizeof(d));
    gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, d);
    for (i = 0; i < 32; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[64] = '\0';
}


/* Equal strings, in a time that does not depend on where they differ. */
int
ac_ct_equal(const char *a, const char *b)
{
    size_t la = strlen(a), i;
    unsigned char d = 0;

    /* Tokens have a fixed length: only their content is secret. */
    if (la != strlen(b))
        return 0;
    for (i = 0; i < la; i++)
        d |= (unsigned char) a[i] ^ (unsigned char) b[i];
    return d == 0;
}


uint64_t
ac_now_s(void)
{
    return ac_api->uptime_ms() / 1000;
}


static int
is_change(const char *method)
{
    return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}


/* Every /api/ and /metrics request comes here first. */
static int
ac_gate(ember_module_t *m, ember_http_req_t *req, void *ud)
{
    const char *path = ac_api->http_path(req);
    const char *code = "unauthorized", *detail = "authentication required";
    ac_auth_t auth;
    int status = 401, pub = ac_api_public(path);

    if (ac_authenticate(req, &auth, &status, &code, &detail) < 0)
        return ac_error(req, status, code, detail);
    if (!pub && auth.kind == AC_AUTH_NONE) {
        status = 401;
        return ac_error(req, 401, "unauthorized", detail);
    }
    if (!pub && is_change(ac_api->http_method(req)) &&
        auth.kind == AC_AUTH_COOKIE && ac_check_csrf(req, &auth) < 0)
        return ac_error(req, 403, "csrf",
                        "missing or wrong X-CSRF-Token header");
    return ac_dispatch(req, &auth);
}


/*
 * The core runs this before any route of the "admin" set, ours or another
 * module's, and for paths no route serves: only the allow-list (exact
 * paths) passes without a session or an API key.
 */
static int
ac_set_gate(ember_module_t *m, ember_http_req_t *req, void *ud)
{
    const char *path = ac_api->http_path(req);
    const char *code = "unauthorized", *detail = "authentication required";
    ac_auth_t auth;
    int status = 401;

    if (ac_api_public(path) || ac_static_allowed(path))
        return 0;
    if (ac_authenticate(req, &auth, &status, &code, &detail) < 0) {
        ac_error(req, status, code, detail);
        return 1;
    }
    if (auth.kind == AC_AUTH_NONE) {
        ac_error(req, 401, "unauthorized", detail);
        return 1;
    }
    if (is_change(ac_api->http_method(req)) &&
        auth.kind == AC_AUTH_COOKIE && ac_check_csrf(req, &auth) < 0) {
        ac_error(req, 403, "csrf", "missing or wrong X-CSRF-Token header");
        return 1;
    }
    return 0;
}


static int
ac_load(ember_module_t *m, const ember_api_t *a)
{
    static const char *const methods[] = { "GET", "POST", "PUT", "PATCH",
                                           "DELETE", NULL };
    ember_http_route_t r;
    size_t i;
    int err;

    ac_api = a;
    ac_mod = m;
    ac_conf = a->module_conf(m);
    for (i = 0; methods[i] != NULL; i++) {
        memset(&r, 0, sizeof(r));
        r.size = sizeof(r);
        r.set = "admin";
        r.method = methods[i];
        r.path = "/api/";
        r.flags = EMBER_HTTP_PREFIX;
        r.max_body = 4u << 20;
        r.handler = ac_gate;
        if ((err = a->http_route(m, &r, NULL)) < 0)
            goto fail;
    }
    memset(&r, 0, sizeof(r));
    r.size = sizeof(r);
    r.set = "admin";
    r.method = "GET";
    r.path = "/metrics";
    r.handler = ac_gate;
    if ((err = a->http_route(m, &r, NULL)) < 0 ||
        (err = a->http_gate(m, "admin", ac_set_gate, NULL)) < 0 ||
        (err = a->http_set_headers(m, "admin", ac_security_headers)) < 0 ||
        (err = ac_keys_init()) < 0 ||
        (err = ac_static_init()) < 0)
        goto fail;
    return 0;

fail:
    a->log(m, EMBER_LOG_ERROR, "cannot start: %s", a->strerror(err));
    ac_static_done();
    ac_keys_done();
    ac_auth_done();
    return err;
}


static void
ac_unload(ember_module_t *m)
{
    ac_streams_free_all();
    ac_calls_free_all();
    ac_static_done();
    ac_keys_done();
    ac_auth_done();
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "admin_console",
    .version = "1.0",
    .description = "Admin web console and JSON REST API (/api/v1/), "
                   "OpenMetrics at /metrics",
    .requires = (const char *const[]){ "http", "commands", "storage",
                                       "timers", NULL },
    .conf_size = sizeof(ac_conf_t),
    .options = ac_options,
    .load = ac_load,
    .unload = ac_unload,
    .flags = EMBER_MODULE_GLOBAL,
};
