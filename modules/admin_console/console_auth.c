/*
 * console_auth.c -- who sends a request (API key, or session cookie and
 * CSRF token), console sessions, the login rate limit, login, logout, and
 * the first-run setup.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "console.h"

#define COOKIE "ember_session"
#define MAX_SESSIONS 1000

typedef struct session_s session_t;

struct session_s {
    char token[65];
    char csrf[33];
    char *jid;
    uint64_t created, last;
    session_t *next;
};

static session_t *sessions;
static int nsessions;
static int setup_busy;
/* Proves the first admin is created by whoever reads the server's log or
 * runs emberctl, not by a page a browser on this machine happens to load.
 * A new one after each setup and each load. */
static char setup_token[33];


static void
session_free(session_t *s)
{
    explicit_bzero(s->token, sizeof(s->token));
    free(s->jid);
    free(s);
}


static void
session_remove(session_t *s)
{
    session_t **ps;

    for (ps = &sessions; *ps != NULL; ps = &(*ps)->next)
        if (*ps == s) {
            *ps = s->next;
            nsessions--;
            session_free(s);
            return;
        }
}


void
console_auth_done(void)
{
    session_t *s;

    while ((s = sessions) != NULL) {
        sessions = s->next;
        session_free(s);
    }
    nsessions = 0;
    setup_busy = 0;
    explicit_bzero(setup_token, sizeof(setup_token));
}


static int
session_expired(const session_t *s, uint64_t now)
{
    return now - s->last >= (uint64_t) conf->session_timeout ||
           now - s->created >= (uint64_t) conf->session_lifetime;
}


static void
sessions_purge(uint64_t now)
{
    session_t **ps = &sessions, *s;

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
session_expires(const session_t *s)
{
    uint64_t idle = s->last + (uint64_t) conf->session_timeout;
    uint64_t hard = s->created + (uint64_t) conf->session_lifetime;

    return (json_int_t) time(NULL) +
           (json_int_t) ((idle < hard ? idle : hard) - console_now_s());
}


static json_t *
session_doc(const session_t *s)
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


/* Who sends a request. */
typedef struct auth_s {
    enum { AUTH_NONE = 0, AUTH_COOKIE, AUTH_KEY } kind;
    session_t *session;      /* AUTH_COOKIE */
    char who[80];            /* a JID or "key <id> (<name>)" */
} auth_t;

/* The session console_check found for the request it let through. */
static struct {
    ember_http_req_t *req;
    session_t *session;
} checked;


/*
 * The credentials of req: 0 (kind AUTH_NONE without any, *detail saying
 * why), -1 with *detail for a 401: an Authorization header that is not a
 * valid API key, or 1 for a 503: the keys are not read yet.
 */
static int
credentials(ember_http_req_t *req, auth_t *auth, const char **detail)
{
    const char *h = api->http_header(req, "Authorization");
    uint64_t now = console_now_s();
    session_t *s, *hit = NULL;
    char token[128];

    memset(auth, 0, sizeof(*auth));
    *detail = "authentication required";
    if (h != NULL) {
        if (strncasecmp(h, "Bearer ", 7) != 0) {
            *detail = "only Bearer API keys are accepted";
            return -1;
        }
        for (h += 7; *h == ' '; h++)
            ;
        switch (console_key_check(h, auth->who, sizeof(auth->who))) {
        case 0:
            break;
        case 1:
            *detail = "starting up: the API keys are being read, try again "
                      "in a moment";
            return 1;
        default:
            *detail = "invalid API key";
            return -1;
        }
        auth->kind = AUTH_KEY;
        return 0;
    }
    h = api->http_header(req, "Cookie");
    if (h == NULL || cookie_get(h, COOKIE, token, sizeof(token)) < 0)
        return 0;
    sessions_purge(now);
    /* Compare with every session so timing tells nothing. */
    for (s = sessions; s != NULL; s = s->next)
        if (console_ct_equal(s->token, token))
            hit = s;
    explicit_bzero(token, sizeof(token));
    if (hit == NULL) {
        *detail = "session expired or unknown";
        return 0;
    }
    hit->last = now;
    auth->kind = AUTH_COOKIE;
    auth->session = hit;
    snprintf(auth->who, sizeof(auth->who), "%s", hit->jid);
    return 0;
}


static int
keys_not_read(ember_http_req_t *req, const char *detail)
{
    static const char *const retry_soon[] = { "Retry-After", "1", NULL };

    return console_json(req, 503, json_pack("{s:s, s:s}", "error",
                        "unavailable", "detail", detail), retry_soon);
}


/*
 * The REST table's auth hook and the admin set's gate: an API key, or a
 * session with, on a change, its CSRF token.  0 with the principal set,
 * or 1 after answering 401, 403, or 503 while the keys are read at start.
 */
int
console_check(ember_module_t *m, ember_http_req_t *req, void *ud)
{
    const char *method = api->http_method(req), *detail, *csrf;
    auth_t auth;

    checked.req = NULL;
    switch (credentials(req, &auth, &detail)) {
    case 0:
        if (auth.kind != AUTH_NONE)
            break;
        /* fall through */
    case -1:
        console_error(req, 401, "unauthorized", detail);
        return 1;
    default:
        keys_not_read(req, detail);
        return 1;
    }
    csrf = api->http_header(req, "X-CSRF-Token");
    if (auth.kind == AUTH_COOKIE && strcmp(method, "GET") != 0 &&
        strcmp(method, "HEAD") != 0 &&
        (csrf == NULL || !console_ct_equal(auth.session->csrf, csrf))) {
        console_error(req, 403, "csrf",
                      "missing or wrong X-CSRF-Token header");
        return 1;
    }
    if (api->http_set_principal(req, auth.who) < 0) {
        console_error(req, 500, "internal", "out of memory");
        return 1;
    }
    checked.req = req;
    checked.session = auth.session;
    return 0;
}


/* n bytes as 2 * n lowercase hex digits and a NUL. */
void
console_hex(char *out, const unsigned char *in, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}


/* bytes random bytes as 2 * bytes hex digits (out holds 2 * bytes + 1). */
void
console_random_hex(char *out, size_t bytes)
{
    unsigned char buf[64];

    if (bytes > sizeof(buf))
        bytes = sizeof(buf);
    if (gnutls_rnd(GNUTLS_RND_KEY, buf, bytes) != 0)
        abort();    /* no randomness: no token may be handed out */
    console_hex(out, buf, bytes);
    explicit_bzero(buf, sizeof(buf));
}


/* Equal strings, in a time that does not depend on where they differ. */
int
console_ct_equal(const char *a, const char *b)
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
console_now_s(void)
{
    return api->uptime_ms() / 1000;
}


/* 1 for 127.0.0.0/8, ::1 and ::ffff:127.x.x.x. */
static int
is_loopback(const char *ip)
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


/* ---- login rate limit: the server's login throttle (account_login) ---- */

static int
too_many(ember_http_req_t *req, int secs)
{
    char retry[32];
    const char *h[] = { "Retry-After", retry, NULL };

    snprintf(retry, sizeof(retry), "%d", secs);
    return console_json(req, 429, json_pack("{s:s, s:s, s:i}", "error",
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
    if (console_body_object(req, body) < 0)
        return -1;
    jid = json_string_value(json_object_get(*body, "jid"));
    *password = json_string_value(json_object_get(*body, "password"));
    if (jid == NULL || *password == NULL) {
        console_error(req, 400, "bad_request",
                      "\"jid\" and \"password\" (strings) are required");
        goto fail;
    }
    j = api->jid_parse(jid);
    if (j == NULL || api->jid_node(j) == NULL ||
        api->jid_resource(j) != NULL) {
        api->jid_free(j);
        console_error(req, 400, "bad_request", "\"jid\" must be a bare JID "
                      "user@host");
        goto fail;
    }
    *bare = strdup(api->jid_bare(j));
    api->jid_free(j);
    if (*bare == NULL) {
        console_error(req, 500, "internal", "out of memory");
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
                    "Path=/%s%s", COOKIE, token,
                    token[0] == '\0' ? "; Max-Age=0" : "",
                    api->http_is_tls(req) ? "; Secure" : "");
}


static void
login_verified(int status, json_t *result, void *ud)
{
    console_call_t *c = ud;
    session_t *s, **ps;
    char cookie[256];
    uint64_t now = console_now_s();

    if (c->req == NULL)
        goto done;
    if (status == 0 && api->is_admin(mod, c->jid)) {
        sessions_purge(now);
        if (nsessions >= MAX_SESSIONS) {
            /* The oldest session makes room. */
            for (ps = &sessions; (*ps)->next != NULL; ps = &(*ps)->next)
                ;
            session_remove(*ps);
        }
        if ((s = calloc(1, sizeof(*s))) == NULL ||
            (s->jid = strdup(c->jid)) == NULL) {
            free(s);
            console_error(c->req, 500, "internal", "out of memory");
            goto done;
        }
        console_random_hex(s->token, 32);
        console_random_hex(s->csrf, 16);
        s->created = s->last = now;
        s->next = sessions;
        sessions = s;
        nsessions++;
        session_cookie(c->req, s->token, cookie, sizeof(cookie));
        api->audit(mod, c->jid, c->ip, "console-login", NULL, 0);
        console_json(c->req, 200, session_doc(s),
                     (const char *const[]){ "Set-Cookie", cookie, NULL });
        goto done;
    }
    if (status == EMBER_EPERM) {
        console_error(c->req, 403, "locked", "this account is locked");
        goto done;
    }
    if (status == EMBER_ELIMIT) {
        too_many(c->req, (int) json_integer_value(json_object_get(
                              result, "retry_after")));
        goto done;
    }
    if (status != 0 && status != EMBER_EAUTH) {
        console_error(c->req, 500, "internal", api->strerror(status));
        goto done;
    }
    console_error(c->req, 401, "unauthorized", "wrong JID or password");
    if (status == 0)
        /* The password was right: an account that is not an admin. */
        api->audit(mod, c->jid, c->ip, "console-login", NULL, EMBER_EPERM);

done:
    console_call_free(c);
}


int
console_login(ember_http_req_t *req, const console_op_t *op)
{
    const char *ip = api->http_peer_ip(req), *password;
    json_t *body;
    char *bare;
    console_call_t *c;
    int rc;

    if (body_credentials(req, &body, &bare, &password) < 0)
        return 0;
    if ((c = console_call_new(req, op)) == NULL ||
        (c->ip = strdup(ip)) == NULL) {
        console_call_free(c);
        free(bare);
        json_decref(body);
        return console_error(req, 500, "internal", "out of memory");
    }
    c->jid = bare;
    c->doc = body;
    rc = api->account_login(mod, bare, password, ip, login_verified, c);
    if (rc < 0) {
        console_call_free(c);
        return console_error(req, 500, "internal", api->strerror(rc));
    }
    return 0;
}


int
console_logout(ember_http_req_t *req, const console_op_t *op)
{
    session_t *s = checked.req == req ? checked.session : NULL;
    char cookie[256];

    checked.req = NULL;
    if (s != NULL) {
        api->log(mod, EMBER_LOG_INFO, "console logout of %s", s->jid);
        session_remove(s);
    }
    session_cookie(req, "", cookie, sizeof(cookie));
    return console_json(req, 204, NULL,
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
    console_call_t *c = ud;
    json_t *doc;

    if (c->req != NULL) {
        doc = json_pack("{s:s, s:s}", "error", "unauthorized", "detail",
                        "not logged in");
        if (status == 0 && admins_count(result) >= 0)
            json_object_set_new(doc, "setup_needed",
                                json_boolean(admins_count(result) == 0));
        console_json(c->req, 401, doc, NULL);
    }
    console_call_free(c);
}


/* Public: reports the credentials of the request, if any. */
int
console_session(ember_http_req_t *req, const console_op_t *op)
{
    const char *detail;
    console_call_t *c;
    auth_t auth;

    switch (credentials(req, &auth, &detail)) {
    case -1:
        return console_error(req, 401, "unauthorized", detail);
    case 1:
        return keys_not_read(req, detail);
    }
    if (auth.kind == AUTH_COOKIE)
        return console_json(req, 200, session_doc(auth.session), NULL);
    if (auth.kind == AUTH_KEY)
        return console_json(req, 200, json_pack("{s:s, s:n, s:n}", "jid",
                            auth.who, "csrf", "expires"), NULL);
    if (!console_command_exists("admins") ||
        (c = console_call_new(req, op)) == NULL)
        return console_error(req, 401, "unauthorized", "not logged in");
    api->command_run(mod, "admins", NULL, session_admins, c);
    return 0;
}


/* ---- first run ---- */

static void
setup_host_reply(int status, json_t *result, const char *message, void *ud)
{
    console_call_t *c = ud;
    json_t *hosts = json_object_get(result, "hosts");
    const char *host = json_string_value(json_array_get(hosts, 0));

    (void) message;
    if (c->req != NULL) {
        json_t *doc = json_pack("{s:b}", "needed", 1);

        if (status == 0 && host != NULL)
            json_object_set_new(doc, "host", json_string(host));
        console_json(c->req, 200, doc, NULL);
    }
    console_call_free(c);
}


static void
setup_needed_reply(int status, json_t *result, const char *message,
                   void *ud)
{
    console_call_t *c = ud;
    const char *code = "internal";

    if (c->req == NULL)
        goto done;
    if (status < 0 || admins_count(result) < 0) {
        console_error(c->req,
                      status < 0 ? console_error_status(status, &code) : 500,
                      status < 0 ? code : "internal",
                      message != NULL ? message : "unexpected admins result");
        goto done;
    }
    if (admins_count(result) > 0) {
        console_json(c->req, 200, json_pack("{s:b}", "needed", 0), NULL);
        goto done;
    }
    /* The setup page suggests an admin JID on the server's first host. */
    if (console_command_exists("status")) {
        api->command_run(mod, "status", NULL, setup_host_reply, c);
        return;
    }
    console_json(c->req, 200, json_pack("{s:b}", "needed", 1), NULL);
done:
    console_call_free(c);
}


int
console_setup_get(ember_http_req_t *req, const console_op_t *op)
{
    console_call_t *c;

    if (!console_command_exists("admins"))
        return console_error(req, 503, "unavailable",
                             "the admins command is not available");
    if ((c = console_call_new(req, op)) == NULL)
        return console_error(req, 500, "internal", "out of memory");
    api->command_run(mod, "admins", NULL, setup_needed_reply, c);
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
    console_call_t *c = ud;
    const char *code;
    json_t *args;
    int http, rc;

    if (c->req == NULL)
        goto done;
    switch (c->step) {
    case SETUP_ADMINS:
        if (status == 0 && admins_count(result) != 0) {
            console_error(c->req, 409, "conflict", "an admin exists");
            goto done;
        }
        break;
    case SETUP_ADDUSER:
        if (status == EMBER_EEXIST) {
            c->step = SETUP_VERIFY;
            rc = api->account_verify(mod, c->jid, c->password,
                                     setup_verified, c);
            if (rc == 0)
                return;
            status = rc;
        }
        break;
    case SETUP_VERIFY:
        if (status == EMBER_EAUTH) {
            console_error(c->req, 401, "unauthorized", "the account exists "
                          "and the password does not match");
            goto done;
        }
        break;
    case SETUP_ADMIN_ADD:
        if (status == 0) {
            api->log(mod, EMBER_LOG_WARN, "console setup: %s is now "
                     "an admin (from %s)", c->jid, c->ip);
            console_random_hex(setup_token, 16);
            console_json(c->req, 201, json_pack("{s:s}", "jid", c->jid), NULL);
            goto done;
        }
        break;
    }
    if (status < 0) {
        http = console_error_status(status, &code);
        console_error(c->req, http, code,
                      message != NULL ? message : api->strerror(status));
        goto done;
    }
    if (c->step == SETUP_ADMINS) {
        c->step = SETUP_ADDUSER;
        args = json_pack("{s:s, s:s}", "jid", c->jid, "password",
                         c->password);
        api->command_run(mod, "adduser", args, setup_step, c);
    } else {
        c->step = SETUP_ADMIN_ADD;
        args = json_pack("{s:s}", "jid", c->jid);
        api->command_run(mod, "admin-add", args, setup_step, c);
    }
    json_decref(args);
    return;

done:
    setup_busy = 0;
    console_call_free(c);
}


int
console_setup_post(ember_http_req_t *req, const console_op_t *op)
{
    const char *ip = api->http_peer_ip(req), *password, *token;
    json_t *body;
    char *bare;
    console_call_t *c;

    if (!is_loopback(ip))
        return console_error(req, 403, "forbidden",
                             "setup is only available from localhost");
    if (body_credentials(req, &body, &bare, &password) < 0)
        return 0;
    token = json_string_value(json_object_get(body, "token"));
    if (token == NULL || setup_token[0] == '\0' ||
        !console_ct_equal(token, setup_token)) {
        free(bare);
        json_decref(body);
        api->log(mod, EMBER_LOG_WARN, "console setup refused from %s: %s "
                 "setup token", ip, token == NULL ? "no" : "wrong");
        return console_error(req, 403, "forbidden", token == NULL
                             ? "\"token\" is required: the setup token is in "
                               "the server's log, or run emberctl "
                               "console-setup-token"
                             : "wrong setup token");
    }
    if (setup_busy || !console_command_exists("admins") ||
        !console_command_exists("admin-add")) {
        free(bare);
        json_decref(body);
        if (setup_busy)
            return console_error(req, 409, "conflict",
                                 "a setup is in progress");
        return console_error(req, 503, "unavailable", "the admins and "
                             "admin-add commands are not available");
    }
    if ((c = console_call_new(req, op)) == NULL ||
        (c->ip = strdup(ip)) == NULL ||
        (c->password = strdup(password)) == NULL) {
        console_call_free(c);
        free(bare);
        json_decref(body);
        return console_error(req, 500, "internal", "out of memory");
    }
    c->jid = bare;
    json_decref(body);
    setup_busy = 1;
    c->step = SETUP_ADMINS;
    api->command_run(mod, "admins", NULL, setup_step, c);
    return 0;
}


static void
setup_token_announce(int status, json_t *result, const char *message,
                     void *ud)
{
    (void) message;
    (void) ud;
    if (status == 0 && admins_count(result) == 0)
        api->log(mod, EMBER_LOG_WARN, "no admin yet: create one on the "
                 "console's setup page with the setup token %s (emberctl "
                 "console-setup-token prints it again)", setup_token);
}


/* Only a running server has a setup page to announce (emberctl loads the
 * global modules too, and fails "status"). */
static void
setup_token_online(int status, json_t *result, const char *message,
                   void *ud)
{
    (void) result;
    (void) message;
    (void) ud;
    if (status == 0 && console_command_exists("admins"))
        api->command_run(mod, "admins", NULL, setup_token_announce, NULL);
}


static void
setup_token_cmd(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    (void) args;
    (void) ud;
    api->command_done(ctx, 0, json_pack("{s:s}", "token", setup_token),
                      NULL);
}


static const ember_command_t setup_token_command = {
    "console-setup-token",
    "The one-time token the console's first-run setup asks for", NULL,
    "admin", setup_token_cmd
};


int
console_setup_init(void)
{
    int err;

    console_random_hex(setup_token, 16);
    if ((err = api->command_register(mod, &setup_token_command, NULL)) < 0)
        return err;
    if (console_command_exists("status"))
        api->command_run(mod, "status", NULL, setup_token_online, NULL);
    return 0;
}
