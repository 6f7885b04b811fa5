/*
 * console.h -- shared declarations of mod_admin_console: the admin web
 * console's back end and its JSON REST API (doc/console.md,
 * doc/rest-api.md).  Files: mod_admin_console.c (the route tables, load),
 * console_http.c (answers, calls, command routes), console_auth.c
 * (credentials, sessions, CSRF, login rate limit, setup), console_keys.c
 * (API keys), console_openapi.c, console_metrics.c (OpenMetrics and event
 * streams), console_static.c (files of web-root).
 */
#ifndef CONSOLE_H
#define CONSOLE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include <ember/plugin.h>

typedef struct console_conf_s {
    char *web_root;
    int session_timeout;     /* seconds idle */
    int session_lifetime;    /* seconds absolute */
} console_conf_t;

typedef struct console_op_s console_op_t;

typedef int (*console_handler_t)(ember_http_req_t *req,
                                 const console_op_t *op);

/*
 * What a REST route does (its `data`): run `command` with arguments made
 * of the path parameter, the listed query parameters and, with body, the
 * members of the JSON body; or call `handler`.
 */
struct console_op_s {
    const char *command;
    console_handler_t handler;
    const char *param;          /* the path parameter, or NULL */
    const char *arg;            /* the argument it fills; NULL: param */
    const char *const *query;
    int status;                 /* of a success; 0: 200 */
    unsigned body : 1;          /* takes a JSON object */
    unsigned wrap : 1;          /* answered as {"result": ...} */
    const char *summary;
};

/* One asynchronous answer in progress; req is NULL once the client left. */
typedef struct console_call_s {
    ember_http_req_t *req;
    const console_op_t *op;
    char who[80];
    json_t *doc;
    char *jid;
    char *password;
    char *ip;
    int step;
    struct console_call_s *prev, *next;
} console_call_t;

extern const ember_api_t *api;
extern ember_module_t *mod;
extern console_conf_t *conf;
extern const ember_http_route_t console_routes[];
extern const size_t console_nroutes;

/* console_http.c */
int console_respond(ember_http_req_t *req, int status, const char *ctype,
                    const char *body, size_t len, const char *const *extra);
int console_json(ember_http_req_t *req, int status, json_t *doc,
                 const char *const *extra);
int console_error(ember_http_req_t *req, int status, const char *code,
                  const char *detail);
int console_error_status(int err, const char **code);
console_call_t *console_call_new(ember_http_req_t *req,
                                 const console_op_t *op);
void console_call_free(console_call_t *c);
void console_calls_free_all(void);
int console_body_object(ember_http_req_t *req, json_t **out);
int console_command_exists(const char *name);
int console_api(ember_module_t *m, ember_http_req_t *req, void *ud);
int console_not_found(ember_module_t *m, ember_http_req_t *req, void *ud);
int console_not_allowed(ember_module_t *m, ember_http_req_t *req,
                        void *ud);
int console_commands(ember_http_req_t *req, const console_op_t *op);
int console_run_named(ember_http_req_t *req, const console_op_t *op);

/* console_auth.c */
int console_check(ember_module_t *m, ember_http_req_t *req, void *ud);
void console_auth_done(void);
void console_hex(char *out, const unsigned char *in, size_t n);
void console_random_hex(char *out, size_t bytes);
int console_ct_equal(const char *a, const char *b);
uint64_t console_now_s(void);
int console_login(ember_http_req_t *req, const console_op_t *op);
int console_logout(ember_http_req_t *req, const console_op_t *op);
int console_session(ember_http_req_t *req, const console_op_t *op);
int console_setup_get(ember_http_req_t *req, const console_op_t *op);
int console_setup_post(ember_http_req_t *req, const console_op_t *op);
/* The setup token, its command, and its log line when no admin exists. */
int console_setup_init(void);

/* console_keys.c */
int console_keys_init(void);
void console_keys_done(void);
int console_key_check(const char *key, char *who, size_t wholen);
int console_keys_list(ember_http_req_t *req, const console_op_t *op);
int console_keys_create(ember_http_req_t *req, const console_op_t *op);
int console_keys_delete(ember_http_req_t *req, const console_op_t *op);

/* console_openapi.c */
int console_openapi(ember_http_req_t *req, const console_op_t *op);

/* console_metrics.c */
int console_metrics(ember_http_req_t *req, const console_op_t *op);
int console_stats_stream(ember_http_req_t *req, const console_op_t *op);
int console_logs_stream(ember_http_req_t *req, const console_op_t *op);
void console_streams_free_all(void);

/* console_static.c */
int console_static_init(void);
void console_static_done(void);

#endif
