/*
 * console.h -- shared declarations of mod_admin_console: the admin web
 * console's back end and its JSON REST API (doc/console.md,
 * doc/rest-api.md).  Files: mod_admin_console.c (load, answers, the gate),
 * routes.c (the REST table), auth.c (sessions, CSRF, rate limit, setup),
 * keys.c (API keys), openapi.c, metrics.c (OpenMetrics and event streams),
 * static.c (files of web-root).
 */
#ifndef AC_CONSOLE_H
#define AC_CONSOLE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include <ember/plugin.h>

#define AC_PREFIX "/api/v1/"

typedef struct ac_conf_s {
    char *web_root;
    int session_timeout;     /* seconds idle */
    int session_lifetime;    /* seconds absolute */
    int login_attempts;
    int lockout;             /* seconds */
} ac_conf_t;

/* Who made a request. */
typedef enum {
    AC_AUTH_NONE = 0,
    AC_AUTH_COOKIE = 1,
    AC_AUTH_KEY = 2
} ac_auth_kind_t;

typedef struct ac_session_s ac_session_t;

typedef struct ac_auth_s {
    ac_auth_kind_t kind;
    ac_session_t *session;   /* AC_AUTH_COOKIE */
    char who[64];            /* a JID or "key:<id>", for logs */
} ac_auth_t;

/* Route flags. */
#define AC_PUBLIC 0x1u    /* on the allow-list: reached without auth */
#define AC_WRAP 0x2u      /* result answered as {"result": ...} */

#define AC_MAX_PARAMS 4

typedef struct ac_route_s ac_route_t;

/* Path parameters of a matched route. */
typedef struct ac_match_s {
    int n;
    const char *name[AC_MAX_PARAMS];
    char *value[AC_MAX_PARAMS];
} ac_match_t;

typedef int (*ac_handler_t)(ember_http_req_t *req, const ac_route_t *r,
                            ac_match_t *mt, ac_auth_t *auth);

/*
 * One row of the REST table.  A row with a command runs it with args made
 * of the path parameters ({name} is one segment, {name*} the rest of the
 * path), the listed query parameters and, for AC_BODY_ARGS, the members of
 * the JSON body; a row with a handler does its own work.
 */
typedef enum {
    AC_BODY_NONE = 0,
    AC_BODY_ARGS = 1
} ac_body_t;

struct ac_route_s {
    const char *method;
    const char *path;
    const char *command;
    const char *const *query;
    ac_body_t body;
    int status;
    unsigned flags;
    ac_handler_t handler;
    const char *summary;
};

/* One asynchronous answer in progress; req is NULL once the client left. */
typedef struct ac_call_s {
    ember_http_req_t *req;
    const ac_route_t *route;
    ac_auth_t auth;
    json_t *doc;
    char *jid;
    char *password;
    char *ip;
    int step;
    struct ac_call_s *prev, *next;
} ac_call_t;

extern const ember_api_t *ac_api;
extern ember_module_t *ac_mod;
extern ac_conf_t *ac_conf;

/* mod_admin_console.c */
int ac_respond(ember_http_req_t *req, int status, const char *ctype,
               const char *body, size_t len, const char *const *extra);
int ac_json(ember_http_req_t *req, int status, json_t *doc,
            const char *const *extra);
int ac_error(ember_http_req_t *req, int status, const char *code,
             const char *detail);
int ac_error_status(int err, const char **code);
ac_call_t *ac_call_new(ember_http_req_t *req, const ac_route_t *r,
                       const ac_auth_t *auth);
void ac_call_free(ac_call_t *c);
void ac_calls_free_all(void);
int ac_body_object(ember_http_req_t *req, json_t **out);
int ac_is_loopback(const char *ip);
int ac_command_exists(const char *name);
json_t *ac_command_info(const char *name);
void ac_random_hex(char *out, size_t bytes);
void ac_sha256_hex(const char *data, size_t len, char out[65]);
int ac_ct_equal(const char *a, const char *b);
uint64_t ac_now_s(void);

/* routes.c */
extern const ac_route_t ac_routes[];
int ac_dispatch(ember_http_req_t *req, ac_auth_t *auth);
int ac_api_public(const char *path);
const char *ac_match_get(const ac_match_t *mt, const char *name);
void ac_param_parse(const char *open, const char *close, const char **url,
                    size_t *nl, int *rest, const char **arg, size_t *al);
int ac_path_has_arg(const ac_route_t *r, const char *arg);
void ac_command_reply(int status, json_t *result, const char *message,
                      void *ud);
int ac_run_command(ac_call_t *c, const char *name, json_t *args);

/* auth.c */
void ac_auth_done(void);
int ac_authenticate(ember_http_req_t *req, ac_auth_t *auth, int *status,
                    const char **code, const char **detail);
int ac_check_csrf(ember_http_req_t *req, const ac_auth_t *auth);
int ac_h_login(ember_http_req_t *req, const ac_route_t *r, ac_match_t *mt,
               ac_auth_t *auth);
int ac_h_logout(ember_http_req_t *req, const ac_route_t *r, ac_match_t *mt,
                ac_auth_t *auth);
int ac_h_session(ember_http_req_t *req, const ac_route_t *r,
                 ac_match_t *mt, ac_auth_t *auth);
int ac_h_setup_get(ember_http_req_t *req, const ac_route_t *r,
                   ac_match_t *mt, ac_auth_t *auth);
int ac_h_setup_post(ember_http_req_t *req, const ac_route_t *r,
                    ac_match_t *mt, ac_auth_t *auth);

/* keys.c */
int ac_keys_init(void);
void ac_keys_done(void);
int ac_key_check(const char *key, ac_auth_t *auth);
int ac_h_keys_list(ember_http_req_t *req, const ac_route_t *r,
                   ac_match_t *mt, ac_auth_t *auth);
int ac_h_keys_create(ember_http_req_t *req, const ac_route_t *r,
                     ac_match_t *mt, ac_auth_t *auth);
int ac_h_keys_delete(ember_http_req_t *req, const ac_route_t *r,
                     ac_match_t *mt, ac_auth_t *auth);

/* openapi.c */
int ac_h_openapi(ember_http_req_t *req, const ac_route_t *r, ac_match_t *mt,
                 ac_auth_t *auth);

/* metrics.c */
int ac_h_metrics(ember_http_req_t *req, const ac_route_t *r, ac_match_t *mt,
                 ac_auth_t *auth);
int ac_h_stats_stream(ember_http_req_t *req, const ac_route_t *r,
                      ac_match_t *mt, ac_auth_t *auth);
int ac_h_logs_stream(ember_http_req_t *req, const ac_route_t *r,
                     ac_match_t *mt, ac_auth_t *auth);
void ac_streams_free_all(void);

/* static.c */
int ac_static_init(void);
void ac_static_done(void);
int ac_static_allowed(const char *path);

#endif
