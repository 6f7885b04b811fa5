/*
 * auth.c -- console sessions (cookie + CSRF token), the login rate limit,
 * login, logout, and the first-run setup.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "console.h"

#define AC_COOKIE "ember_session"
#define AC_FAIL_WINDOW 300      /* failures count within this many seconds */
#define AC_MAX_SESSIONS 1000
#define AC_MAX_FAILS 10000

struct ac_session_s {
    char token[65];
    char csrf[33];
    char *jid;
    uint64_t created, last;
    ac_session_t *next;
};

typedef struct fail_s {
    char *key;
    int count;
    uint64_t first, locked_until;
    struct fail_s *next;
} fail_t;

static ac_session_t *sessions;
static int nsessions;
static fail_t *fails;
static int nfails;
static int setup_busy;


static void
session_free(ac_session_t *s)
{
    explicit_bzero(s->token, sizeof(s->token));
    free(s->jid);
    free(s);
}


static void
session_remove(ac_session_t *s)
{
    ac_session_t **ps;

    for (ps = &sessions; *ps != NULL; ps = &(*ps)->next)
        if (*ps == s) {
            *ps = s->next;
            nsessions--;
            session_free(s);
            return;
        }
}


void
ac_auth_done(void)
{
    ac_session_t *s;
    fail_t *f;

    while ((s = sessions) != NULL) {
        sessions = s->next;
        session_free(s);
    }
    nsessions = 0;
    while ((f = fails) != NULL) {
        fails = f->next;
        free(f->key);
        free(f);
    }
    nfails = 0;
    setup_busy = 0;
}


static int
session_expired(const ac_session_t *s, uint64_t now)
{
    return now - s->last >= (uint64_t) ac_conf->session_timeout ||
           now - s->created >= (uint64_t) ac_conf->session_lifetime;
}


static void
sessions_purge(uint64_t now)
{
    ac_session_t **ps = &sessions, *s;

    while ((s = *ps) != NULL) {
        if (session_expired(s, now)) {
            *ps = s->next;
            nsessions--;
            session_free(s);
        } else {
            ps = &s->next;
        }
    }
}


/* When the session ends unless used again, in seconds since the epoch. */
static json_int_t
session_expires(const ac_session_t *s)
{
    uint64_t idle = s->last + (uint64_t) ac_conf->session_timeout;
    uint64_t hard = s->created + (uint64_t) ac_conf->session_lifetime;

    return (json_int_t) time(NULL) +
           (json_int_t) ((idle < hard ? idle : hard) - ac_now_s());
}


static json_t *
session_doc(const ac_session_t *s)
{
    return json_pack("{s:s, s:s, s:I}", "jid", s->jid, "csrf", s->csrf,
                     "expires", session_expires(s));
}


/* The value of cookie `name` in a Cookie header, copied into out. */
static int
cookie_get(const char *header, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name), vl;
    const char *p = header, *end;

    while (p != NULL && *p != '\0') {
        while (*p == ' ' || *p == ';')
            p++;
        end = strchrnul(p, ';');
        if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
            vl = (size_t) (end - (p + nl + 1));
            while (vl > 0 && p[nl + vl] == ' ')
                vl--;
            if (vl == 0 || vl >= outlen)
                return -1;
            memcpy(out, p + nl + 1, vl);
            out[vl] = '\0';
            return 0;
        }
        p = end;
    }
    return -1;
}


int
ac_authenticate(ember_http_req_t *req, ac_auth_t *auth, int *status,
                const char **code, const char **detail)
{
    const char *h = ac_api->http_header(req, "Authorization");
    uint64_t now = ac_now_s();
    ac_session_t *s, *hit = NULL;
    char token[128];

    memset(auth, 0, sizeof(*auth));
    snprintf(auth->who, sizeof(auth->who), "anonymous");
    if (h != NULL) {
        if (strncasecmp(h, "Bearer ", 7) != 0) {
            *status = 401;
            *code = "unauthorized";
            *detail = "only Bearer API keys are accepted";
            return -1;
        }
        h += 7;
        while (*h == ' ')
            h++;
        if (ac_key_check(h, auth) < 0) {
            *status = 401;
            *code = "unauthorized";
            *detail = "invalid API key";
            return -1;
        }
        return 0;
    }
    h = ac_api->http_header(req, "Cookie");
    if (h == NULL || cookie_get(h, AC_COOKIE, token, sizeof(token)) < 0)
        return 0;
    sessions_purge(now);
    /* Compare with every session so timing tells nothing. */
    for (s = sessions; s != NULL; s = s->next)
        if (ac_ct_equal(s->token, token))
            hit = s;
    explicit_bzero(token, sizeof(token));
    if (hit == NULL) {
        *detail = "session expired or unknown";
        return 0;
    }
    hit->last = now;
    auth->kind = AC_AUTH_COOKIE;
    auth->session = hit;
    snprintf(auth->who, sizeof(auth->who), "%s", hit->jid);
    return 0;
}


int
ac_check_csrf(ember_http_req_t *req, const ac_auth_t *auth)
{
    const char *h = ac_api->http_header(req, "X-CSRF-Token");

    if (auth->session == NULL || h == NULL ||
        !ac_ct_equal(auth->session->csrf, h))
        return -1;
    return 0;
}


/* ---- login rate limit ---- */

static fail_t *
fail_find(const char *key, int create)
{
    uint64_t now = ac_now_s();
    fail_t **pf = &fails, *f;

    while ((f = *pf) != NULL) {
        if (strcmp(f->key, key) == 0)
            return f;
        if (f->locked_until <= now && now - f->first > AC_FAIL_WINDOW) {
            *pf = f->next;
            nfails--;
            free(f->key);
            free(f);
            continue;
        }
        pf = &f->next;
    }
    if (!create || nfails >= AC_MAX_FAILS ||
        (f = calloc(1, sizeof(*f))) == NULL)
        return NULL;
    if ((f->key = strdup(key)) == NULL) {
        free(f);
        return NULL;
    }
    f->first = now;
    f->next = fails;
    fails = f;
    nfails++;
    return f;
}


/* Seconds the key stays locked out, 0 when it is not. */
static int
fail_locked(const char *kind, const char *value)
{
    char key[1100];
    fail_t *f;
    uint64_t now = ac_now_s();

    snprintf(key, sizeof(key), "%s:%s", kind, value);
    if ((f = fail_find(key, 0)) == NULL || f->locked_until <= now)
        return 0;
    return (int) (f->locked_until - now);
}


static void
fail_record(const char *kind, const char *value)
{
    char key[1100];
    fail_t *f;
    uint64_t now = ac_now_s();

    snprintf(key, sizeof(key), "%s:%s", kind, value);
    if ((f = fail_find(key, 1)) == NULL)
        return;
    if (now - f->first > AC_FAIL_WINDOW) {
        f->first = now;
        f->count = 0;
    }
    if (++f->count >= ac_conf->login_attempts) {
        f->locked_until = now + (uint64_t) ac_conf->lockout;
        f->count = 0;
        f->first = now;
        ac_api->log(ac_mod, EMBER_LOG_WARN, "console logins from %s locked "
                    "out for %d s after failures", key, ac_conf->lockout);
    }
}


static void
fail_clear(const char *kind, const char *value)
{
    char key[1100];
    fail_t *f;

    snprintf(key, sizeof(key), "%s:%s", kind, value);
    if ((f = fail_find(key, 0)) != NULL) {
        f->count = 0;
        f->locked_until = 0;
    }
}


static int
too_many(ember_http_req_t *req, int secs)
{
    char retry[32];
    const char *h[] = { "Retry-After", retry, NULL };

    snprintf(retry, sizeof(retry), "%d", secs);
    return ac_json(req, 429, json_pack("{s:s, s:s, s:i}", "error",
                   "too_many_requests", "detail", "too many failed logins; "
                   "try again later", "retry_after", secs), h);
}


/* ---- login, logout, session ---- */

/* jid and password of a body; answers 400 itself when missing. */
static int
body_credentials(ember_http_req_t *req, json_t **body, char **bare,
                 const char **password)
{
    const char *jid;
    ember_jid_t *j;

    *bare = NULL;
    if (ac_body_object(req, body) < 0)
        return -1;
    jid = json_string_value(json_object_get(*body, "jid"));
    *password = json_string_value(json_object_get(*body, "password"));
    if (jid == NULL || *password == NULL) {
        ac_error(req, 400, "bad_request",
                 "\"jid\" and \"password\" (strings) are required");
        goto fail;
    }
    j = ac_api->jid_parse(jid);
    if (j == NULL || ac_api->jid_node(j) == NULL ||
        ac_api->jid_resource(j) != NULL) {
        ac_api->jid_free(j);
        ac_error(req, 400, "bad_request", "\"jid\" must be a bare JID "
                 "user@host");
        goto fail;
    }
    *bare = strdup(ac_api->jid_bare(j));
    ac_api->jid_free(j);
    if (*bare == NULL) {
        ac_error(req, 500, "internal", "out of memory");
        goto fail;
    }
    return 0;

fail:
    json_decref(*body);
    *body = NULL;
    return -1;
}


static int
session_cookie(ember_http_req_t *req, const char *token, char *out,
               size_t outlen)
{
    return snprintf(out, outlen, "%s=%s; HttpOnly; SameSite=Strict; "
                    "Path=/%s%s", AC_COOKIE, token,
                    token[0] == '\0' ? "; Max-Age=0" : "",
                    ac_api->http_is_tls(req) ? "; Secure" : "");
}


static void
login_verified(int status, json_t *result, void *ud)
{
    ac_call_t *c = ud;
    ac_session_t *s, **ps;
    char cookie[256];
    uint64_t now = ac_now_s();

    if (c->req == NULL)
        goto done;
    if (status == 0 && ac_api->is_admin(ac_mod, c->jid)) {
        sessions_purge(now);
        if (nsessions >= AC_MAX_SESSIONS) {
            /* The oldest session makes room. */
            for (ps = &sessions; (*ps)->next != NULL; ps = &(*ps)->next)
                ;
            session_remove(*ps);
        }
        if ((s = calloc(1, sizeof(*s))) == NULL ||
            (s->jid = strdup(c->jid)) == NULL) {
            free(s);
            ac_error(c->req, 500, "internal", "out of memory");
            goto done;
        }
        ac_random_hex(s->token, 32);
        ac_random_hex(s->csrf, 16);
        s->created = s->last = now;
        s->next = sessions;
        sessions = s;
        nsessions++;
        fail_clear("jid", c->jid);
        session_cookie(c->req, s->token, cookie, sizeof(cookie));
        ac_api->log(ac_mod, EMBER_LOG_INFO, "console login of %s from %s",
                    c->jid, c->ip);
        ac_json(c->req, 200, session_doc(s),
                (const char *const[]){ "Set-Cookie", cookie, NULL });
        goto done;
    }
    if (status == EMBER_EPERM) {
        ac_error(c->req, 403, "locked", "this account is locked");
        goto done;
    }
    if (status != 0 && status != EMBER_EAUTH) {
        ac_error(c->req, 500, "internal", ac_api->strerror(status));
        goto done;
    }
    fail_record("ip", c->ip);
    fail_record("jid", c->jid);
    ac_api->log(ac_mod, EMBER_LOG_WARN, "failed console login as %s from %s",
                c->jid, c->ip);
    ac_error(c->req, 401, "unauthorized", "wrong JID or password");

done:
    ac_call_free(c);
}


int
ac_h_login(ember_http_req_t *req, const ac_route_t *r, ac_match_t *mt,
           ac_auth_t *auth)
{
    const char *ip = ac_api->http_peer_ip(req), *password;
    json_t *body;
    char *bare;
    ac_call_t *c;
    int secs, rc;

    if (body_credentials(req, &body, &bare, &password) < 0)
        return 0;
    secs = fail_locked("ip", ip);
    if (fail_locked("jid", bare) > secs)
        secs = fail_locked("jid", bare);
    if (secs > 0) {
        free(bare);
        json_decref(body);
        return too_many(req, secs);
    }
    if ((c = ac_call_new(req, r, auth)) == NULL ||
        (c->ip = strdup(ip)) == NULL) {
        ac_call_free(c);
        free(bare);
        json_decref(body);
        return ac_error(req, 500, "internal", "out of memory");
    }
    c->jid = bare;
    c->doc = body;
    rc = ac_api->account_verify(ac_mod, bare, password, login_verified, c);
    if (rc < 0) {
        ac_call_free(c);
        return ac_error(req, 500, "internal", ac_api->strerror(rc));
    }
    return 0;
}


int
ac_h_logout(ember_http_req_t *req, const ac_route_t *r, ac_match_t *mt,
            ac_auth_t *auth)
{
    char cookie[256];

    if (auth->session != NULL) {
        ac_api->log(ac_mod, EMBER_LOG_INFO, "console logout of %s",
                    auth->session->jid);
        session_remove(auth->session);
        auth->session = NULL;
    }
    session_cookie(req, "", cookie, sizeof(cookie));
    return ac_json(req, 204, NULL,
                   (const char *const[]){ "Set-Cookie", cookie, NULL });
}


/* The number of admins in the result of the admins command, or -1. */
static int
admins_count(json_t *result)
{
    json_t *a = result;

    if (json_is_object(result))
        a = json_object_get(result, "admins");
    return json_is_array(a) ? (int) json_array_size(a) : -1;
}


static void
session_admins(int status, json_t *result, const char *message, void *ud)
{
    ac_call_t *c = ud;
    json_t *doc;

    if (c->req != NULL) {
        doc = json_pack("{s:s, s:s}", "error", "unauthorized", "detail",
                        "not logged in");
        if (status == 0 && admins_count(result) >= 0)
            json_object_set_new(doc, "setup_needed",
                                json_boolean(admins_count(result) == 0));
        ac_json(c->req, 401, doc, NULL);
    }
    ac_call_free(c);
}


int
ac_h_session(ember_http_req_t *req, const ac_route_t *r, ac_match_t *mt,
             ac_auth_t *auth)
{
    ac_call_t *c;

    if (auth->session != NULL)
        return ac_json(req, 200, session_doc(auth->session), NULL);
    if (auth->kind == AC_AUTH_KEY)
        return ac_json(req, 200, json_pack("{s:s, s:n, s:n}", "jid",
                       auth->who, "csrf", "expires"), NULL);
    if (!ac_command_exists("admins") ||
        (c = ac_call_new(req, r, auth)) == NULL)
        return ac_error(req, 401, "unauthorized", "not logged in");
    ac_api->command_run(ac_mod, "admins", NULL, session_admins, c);
    return 0;
}


/* ---- first run ---- */

static void
setup_needed_reply(int status, json_t *result, const char *message,
                   void *ud)
{
    ac_call_t *c = ud;
    const char *code = "internal";

    if (c->req != NULL) {
        if (status < 0 || admins_count(result) < 0)
            ac_error(c->req, status < 0 ? ac_error_status(status, &code)
                                        : 500,
                     status < 0 ? code : "internal",
                     message != NULL ? message : "unexpected admins result");
        else
            ac_json(c->req, 200, json_pack("{s:b}", "needed",
                    admins_count(result) == 0), NULL);
    }
    ac_call_free(c);
}


int
ac_h_setup_get(ember_http_req_t *req, const ac_route_t *r, ac_match_t *mt,
               ac_auth_t *auth)
{
    ac_call_t *c;

    if (!ac_command_exists("admins"))
        return ac_error(req, 503, "unavailable",
                        "the admins command is not available");
    if ((c = ac_call_new(req, r, auth)) == NULL)
        return ac_error(req, 500, "internal", "out of memory");
    ac_api->command_run(ac_mod, "admins", NULL, setup_needed_reply, c);
    return 0;
}


enum { SETUP_ADMINS = 0, SETUP_ADDUSER, SETUP_VERIFY, SETUP_ADMIN_ADD };

static void setup_step(int status, json_t *result, const char *message,
                       void *ud);


static void
setup_verified(int status, json_t *result, void *ud)
{
    setup_step(status, result, NULL, ud);
}


static void
setup_step(int status, json_t *result, const char *message, void *ud)
{
    ac_call_t *c = ud;
    const char *code;
    json_t *args;
    int http, rc;

    if (c->req == NULL)
        goto done;
    switch (c->step) {
    case SETUP_ADMINS:
        if (status == 0 && admins_count(result) != 0) {
            ac_error(c->req, 409, "conflict", "an admin exists");
            goto done;
        }
        break;
    case SETUP_ADDUSER:
        if (status == EMBER_EEXIST) {
            c->step = SETUP_VERIFY;
            rc = ac_api->account_verify(ac_mod, c->jid, c->password,
                                        setup_verified, c);
            if (rc == 0)
                return;
            status = rc;
        }
        break;
    case SETUP_VERIFY:
        if (status == EMBER_EAUTH) {
            ac_error(c->req, 401, "unauthorized", "the account exists and "
                     "the password does not match");
            goto done;
        }
        break;
    case SETUP_ADMIN_ADD:
        if (status == 0) {
            ac_api->log(ac_mod, EMBER_LOG_WARN, "console setup: %s is now "
                        "an admin (from %s)", c->jid, c->ip);
            ac_json(c->req, 201, json_pack("{s:s}", "jid", c->jid), NULL);
            goto done;
        }
        break;
    }
    if (status < 0) {
        http = ac_error_status(status, &code);
        ac_error(c->req, http, code,
                 message != NULL ? message : ac_api->strerror(status));
        goto done;
    }
    if (c->step == SETUP_ADMINS) {
        c->step = SETUP_ADDUSER;
        args = json_pack("{s:s, s:s}", "jid", c->jid, "password",
                         c->password);
        ac_api->command_run(ac_mod, "adduser", args, setup_step, c);
    } else {
        c->step = SETUP_ADMIN_ADD;
        args = json_pack("{s:s}", "jid", c->jid);
        ac_api->command_run(ac_mod, "admin-add", args, setup_step, c);
    }
    json_decref(args);
    return;

done:
    setup_busy = 0;
    ac_call_free(c);
}


int
ac_h_setup_post(ember_http_req_t *req, const ac_route_t *r, ac_match_t *mt,
                ac_auth_t *auth)
{
    const char *ip = ac_api->http_peer_ip(req), *password;
    json_t *body;
    char *bare;
    ac_call_t *c;

    if (!ac_is_loopback(ip))
        return ac_error(req, 403, "forbidden",
                        "setup is only available from localhost");
    if (body_credentials(req, &body, &bare, &password) < 0)
        return 0;
    if (setup_busy || !ac_command_exists("admins") ||
        !ac_command_exists("admin-add")) {
        free(bare);
        json_decref(body);
        return setup_busy ? ac_error(req, 409, "conflict",
                                     "a setup is in progress")
                          : ac_error(req, 503, "unavailable",
                                     "the admins and admin-add commands are "
                                     "not available");
    }
    if ((c = ac_call_new(req, r, auth)) == NULL ||
        (c->ip = strdup(ip)) == NULL ||
        (c->password = strdup(password)) == NULL) {
        ac_call_free(c);
        free(bare);
        json_decref(body);
        return ac_error(req, 500, "internal", "out of memory");
    }
    c->jid = bare;
    json_decref(body);
    setup_busy = 1;
    c->step = SETUP_ADMINS;
    ac_api->command_run(ac_mod, "admins", NULL, setup_step, c);
    return 0;
}
