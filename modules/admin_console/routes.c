/*
 * routes.c -- the REST table: every route of /api/v1/ (and /metrics), the
 * command it runs and how its arguments are built.  openapi.c describes
 * the same table, so a route exists and is documented in one place.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"

static const char *const q_host[] = { "host", NULL };
static const char *const q_users[] = { "host", "q", "offset", "limit",
                                       NULL };
static const char *const q_logs[] = { "since", "level", "limit", NULL };

static int h_commands(ember_http_req_t *req, const ac_route_t *r,
                      ac_match_t *mt, ac_auth_t *auth);
static int h_run_named(ember_http_req_t *req, const ac_route_t *r,
                       ac_match_t *mt, ac_auth_t *auth);

#define AC_BODY AC_BODY_ARGS

const ac_route_t ac_routes[] = {
    /* method, path, command, query, body, status, flags, handler, summary */
    { "GET", "/api/v1/openapi.json", NULL, NULL, AC_BODY_NONE, 200,
      AC_PUBLIC, ac_h_openapi, "This description (OpenAPI 3.0)" },
    { "POST", "/api/v1/login", NULL, NULL, AC_BODY, 200, AC_PUBLIC,
      ac_h_login, "Log in to the console: {jid, password}; sets the "
      "session cookie" },
    { "GET", "/api/v1/session", NULL, NULL, AC_BODY_NONE, 200, AC_PUBLIC,
      ac_h_session, "The current console session" },
    { "GET", "/api/v1/setup", NULL, NULL, AC_BODY_NONE, 200, AC_PUBLIC,
      ac_h_setup_get, "Whether the first admin must still be created" },
    { "POST", "/api/v1/setup", NULL, NULL, AC_BODY, 201, AC_PUBLIC,
      ac_h_setup_post, "Create the first admin (from localhost, once)" },
    { "POST", "/api/v1/logout", NULL, NULL, AC_BODY_NONE, 204, 0,
      ac_h_logout, "End the console session" },
    { "GET", "/api/v1/keys", NULL, NULL, AC_BODY_NONE, 200, 0,
      ac_h_keys_list, "API keys (never the keys themselves)" },
    { "POST", "/api/v1/keys", NULL, NULL, AC_BODY, 201, 0,
      ac_h_keys_create, "Create an API key: {name}; the key is shown once" },
    { "DELETE", "/api/v1/keys/{id}", NULL, NULL, AC_BODY_NONE, 204, 0,
      ac_h_keys_delete, "Revoke an API key" },
    { "GET", "/api/v1/commands", NULL, NULL, AC_BODY_NONE, 200, 0,
      h_commands, "Every admin command, with its arguments" },
    { "POST", "/api/v1/commands/{name}", NULL, NULL, AC_BODY, 200, AC_WRAP,
      h_run_named, "Run any admin command; the body is its arguments" },
    { "GET", "/api/v1/stats", "status", NULL, AC_BODY_NONE, 200, 0, NULL,
      "Server status" },
    { "GET", "/api/v1/stats/stream", NULL, NULL, AC_BODY_NONE, 200, 0,
      ac_h_stats_stream, "Server-sent events: \"stats\" every 2 s" },
    { "GET", "/api/v1/users", "user-search", q_users, AC_BODY_NONE, 200, 0,
      NULL, "Search accounts" },
    { "POST", "/api/v1/users", "adduser", NULL, AC_BODY, 201, 0, NULL,
      "Create an account" },
    { "GET", "/api/v1/users/{jid}", "user-info", NULL, AC_BODY_NONE, 200, 0,
      NULL, "An account" },
    { "PUT", "/api/v1/users/{jid}/password", "passwd", NULL, AC_BODY, 200,
      0, NULL, "Set an account's password" },
    { "DELETE", "/api/v1/users/{jid}", "deluser", NULL, AC_BODY_NONE, 204,
      0, NULL, "Delete an account and its data" },
    { "POST", "/api/v1/users/{jid}/lock", "lock", NULL, AC_BODY_NONE, 200,
      0, NULL, "Lock an account" },
    { "POST", "/api/v1/users/{jid}/unlock", "unlock", NULL, AC_BODY_NONE,
      200, 0, NULL, "Unlock an account" },
    { "GET", "/api/v1/users/{jid:user}/roster", "roster-list", NULL,
      AC_BODY_NONE, 200, 0, NULL, "An account's roster" },
    { "GET", "/api/v1/users/{jid}/vcard", "vcard-get", NULL, AC_BODY_NONE,
      200, 0, NULL, "An account's vCard" },
    { "GET", "/api/v1/sessions", "sessions", q_host, AC_BODY_NONE, 200, 0,
      NULL, "Connected client sessions" },
    { "DELETE", "/api/v1/sessions/{jid*}", "kick-session", NULL,
      AC_BODY_NONE, 204, 0, NULL, "Close one session (full JID)" },
    { "POST", "/api/v1/messages", "message", NULL, AC_BODY, 200, 0, NULL,
      "Send a message from the server" },
    { "POST", "/api/v1/announce", "announce", NULL, AC_BODY, 200, 0, NULL,
      "Announce to every online user" },
    { "GET", "/api/v1/modules", "modules", NULL, AC_BODY_NONE, 200, 0, NULL,
      "Loaded modules" },
    { "GET", "/api/v1/plugins", "plugins", NULL, AC_BODY_NONE, 200, 0, NULL,
      "Plugins found, loaded or not" },
    { "POST", "/api/v1/modules/{module:name}/enable", "module-enable",
      NULL, AC_BODY, 200, 0, NULL, "Enable a module" },
    { "POST", "/api/v1/modules/{module:name}/disable", "module-disable",
      NULL, AC_BODY, 200, 0, NULL, "Disable a module" },
    { "POST", "/api/v1/modules/{module:name}/reload", "module-reload",
      NULL, AC_BODY, 200, 0, NULL, "Reload a module" },
    { "GET", "/api/v1/modules/{module:name}/options", "module-options",
      q_host, AC_BODY_NONE, 200, 0, NULL, "A module's options" },
    { "PUT", "/api/v1/modules/{module:name}/options", "module-configure",
      NULL, AC_BODY, 200, 0, NULL, "Change a module's options" },
    { "GET", "/api/v1/rooms", "muc-rooms", q_host, AC_BODY_NONE, 200, 0,
      NULL, "Chat rooms" },
    { "GET", "/api/v1/rooms/{jid:room}", "muc-room", NULL, AC_BODY_NONE,
      200, 0, NULL, "A chat room" },
    { "PUT", "/api/v1/rooms/{jid:room}/config", "muc-configure", NULL,
      AC_BODY, 200, 0, NULL, "Configure a chat room" },
    { "DELETE", "/api/v1/rooms/{jid:room}", "muc-destroy", NULL, AC_BODY,
      204, 0, NULL, "Destroy a chat room" },
    { "GET", "/api/v1/nodes", "pubsub-nodes", q_host, AC_BODY_NONE, 200, 0,
      NULL, "Publish-subscribe nodes" },
    { "GET", "/api/v1/nodes/{node}", "pubsub-node", q_host, AC_BODY_NONE,
      200, 0, NULL, "A publish-subscribe node" },
    { "PUT", "/api/v1/nodes/{node}/config", "pubsub-configure", q_host,
      AC_BODY, 200, 0, NULL, "Configure a node" },
    { "DELETE", "/api/v1/nodes/{node}", "pubsub-delete", q_host,
      AC_BODY_NONE, 204, 0, NULL, "Delete a node" },
    { "GET", "/api/v1/config", "config-get", NULL, AC_BODY_NONE, 200, 0,
      NULL, "The config file" },
    { "POST", "/api/v1/config/check", "config-check", NULL, AC_BODY, 200, 0,
      NULL, "Check a config text" },
    { "PUT", "/api/v1/config", "config-set", NULL, AC_BODY, 200, 0, NULL,
      "Replace the config file and apply it" },
    { "GET", "/api/v1/admins", "admins", NULL, AC_BODY_NONE, 200, 0, NULL,
      "Server admins" },
    { "GET", "/api/v1/certs", "certs", NULL, AC_BODY_NONE, 200, 0, NULL,
      "TLS certificates" },
    { "POST", "/api/v1/certs", "cert-upload", NULL, AC_BODY, 200, 0, NULL,
      "Install a certificate and key for a host" },
    { "POST", "/api/v1/certs/generate", "cert-generate", NULL, AC_BODY, 200,
      0, NULL, "Generate a self-signed certificate for a host" },
    { "GET", "/api/v1/logs", "logs", q_logs, AC_BODY_NONE, 200, 0, NULL,
      "Recent log lines" },
    { "GET", "/api/v1/logs/stream", NULL, NULL, AC_BODY_NONE, 200, 0,
      ac_h_logs_stream, "Server-sent events: \"log\", one per line" },
    { "GET", "/metrics", NULL, NULL, AC_BODY_NONE, 200, 0, ac_h_metrics,
      "OpenMetrics text for Prometheus" },
    { NULL, NULL, NULL, NULL, AC_BODY_NONE, 0, 0, NULL, NULL }
};


/* 1 when path is on the allow-list of API paths reached without auth. */
int
ac_api_public(const char *path)
{
    const ac_route_t *r;

    for (r = ac_routes; r->method != NULL; r++)
        if ((r->flags & AC_PUBLIC) && strcmp(r->path, path) == 0)
            return 1;
    return 0;
}


static void
match_clear(ac_match_t *mt)
{
    int i;

    for (i = 0; i < mt->n; i++) {
        free((char *) mt->name[i]);
        free(mt->value[i]);
    }
    mt->n = 0;
}


/*
 * A parameter of a route's path, "{url}", "{url*}" or "{url:arg}": its
 * name in the URL (nl bytes at *url), whether it takes the rest of the
 * path, and the command argument it fills (al bytes at *arg).
 */
void
ac_param_parse(const char *open, const char *close, const char **url,
               size_t *nl, int *rest, const char **arg, size_t *al)
{
    const char *colon = memchr(open, ':', (size_t) (close - open));
    const char *uend = colon != NULL ? colon : close;

    *url = open + 1;
    *rest = uend[-1] == '*';
    *nl = (size_t) (uend - *url) - (*rest ? 1 : 0);
    *arg = colon != NULL ? colon + 1 : *url;
    *al = colon != NULL ? (size_t) (close - *arg) : *nl;
}


/* 1 when the path of r fills the command argument `arg`. */
int
ac_path_has_arg(const ac_route_t *r, const char *arg)
{
    const char *p = r->path, *end, *url, *a;
    size_t nl, al;
    int rest;

    while ((p = strchr(p, '{')) != NULL && (end = strchr(p, '}')) != NULL) {
        ac_param_parse(p, end, &url, &nl, &rest, &a, &al);
        if (al == strlen(arg) && strncmp(a, arg, al) == 0)
            return 1;
        p = end;
    }
    return 0;
}


/* {name} is one non-empty segment, {name*} the non-empty rest. */
static int
route_match(const char *pat, const char *path, ac_match_t *mt)
{
    const char *end, *seg, *url, *arg;
    size_t nl, al;
    int rest;

    mt->n = 0;
    while (*pat != '\0' && *path != '\0') {
        if (*pat != '{') {
            if (*pat++ != *path++)
                goto fail;
            continue;
        }
        if ((end = strchr(pat, '}')) == NULL || mt->n == AC_MAX_PARAMS)
            goto fail;
        ac_param_parse(pat, end, &url, &nl, &rest, &arg, &al);
        seg = rest ? path + strlen(path) : strchrnul(path, '/');
        if (seg == path)
            goto fail;
        mt->name[mt->n] = strndup(arg, al);
        mt->value[mt->n] = strndup(path, (size_t) (seg - path));
        mt->n++;
        if (mt->name[mt->n - 1] == NULL || mt->value[mt->n - 1] == NULL)
            goto fail;
        path = seg;
        pat = end + 1;
    }
    if (*pat == '\0' && *path == '\0')
        return 1;

fail:
    match_clear(mt);
    return 0;
}


const char *
ac_match_get(const ac_match_t *mt, const char *name)
{
    int i;

    for (i = 0; i < mt->n; i++)
        if (strcmp(mt->name[i], name) == 0)
            return mt->value[i];
    return NULL;
}


void
ac_command_reply(int status, json_t *result, const char *message, void *ud)
{
    ac_call_t *c = ud;
    const char *code;
    int http;

    if (c->req == NULL) {
        ac_call_free(c);
        return;
    }
    if (status < 0) {
        http = ac_error_status(status, &code);
        ac_error(c->req, http, code,
                 message != NULL ? message : ac_api->strerror(status));
    } else if (c->route->flags & AC_WRAP) {
        ac_json(c->req, c->route->status,
                json_pack("{s:O?}", "result", result), NULL);
    } else {
        ac_json(c->req, c->route->status,
                result != NULL ? json_incref(result) : json_object(), NULL);
    }
    ac_call_free(c);
}


/* Run name with args (stolen); the answer goes to c->req. */
int
ac_run_command(ac_call_t *c, const char *name, json_t *args)
{
    ac_api->log(ac_mod, EMBER_LOG_INFO, "%s runs %s", c->auth.who, name);
    ac_api->command_run(ac_mod, name, args, ac_command_reply, c);
    json_decref(args);
    return 0;
}


static int
h_commands(ember_http_req_t *req, const ac_route_t *r, ac_match_t *mt,
           ac_auth_t *auth)
{
    json_t *list = ac_api->command_list(ac_mod);

    if (list == NULL)
        return ac_error(req, 500, "internal", "out of memory");
    return ac_json(req, 200, list, NULL);
}


static int
h_run_named(ember_http_req_t *req, const ac_route_t *r, ac_match_t *mt,
            ac_auth_t *auth)
{
    const char *name = ac_match_get(mt, "name");
    json_t *args;
    ac_call_t *c;
    char msg[300];

    if (ac_body_object(req, &args) < 0)
        return 0;
    if (!ac_command_exists(name)) {
        json_decref(args);
        snprintf(msg, sizeof(msg), "no command '%.200s'", name);
        return ac_error(req, 404, "not_found", msg);
    }
    if ((c = ac_call_new(req, r, auth)) == NULL) {
        json_decref(args);
        return ac_error(req, 500, "internal", "out of memory");
    }
    return ac_run_command(c, name, args);
}


static int
command_route(ember_http_req_t *req, const ac_route_t *r, ac_match_t *mt,
              ac_auth_t *auth)
{
    json_t *args = NULL;
    const char *const *q;
    const char *v;
    ac_call_t *c;
    char msg[300];
    int i;

    if (!ac_command_exists(r->command)) {
        snprintf(msg, sizeof(msg), "command '%s' is not available (its "
                 "module is not loaded)", r->command);
        return ac_error(req, 503, "unavailable", msg);
    }
    if (r->body == AC_BODY_ARGS) {
        if (ac_body_object(req, &args) < 0)
            return 0;
    } else if ((args = json_object()) == NULL) {
        return ac_error(req, 500, "internal", "out of memory");
    }
    for (q = r->query; q != NULL && *q != NULL; q++)
        if ((v = ac_api->http_query(req, *q)) != NULL && *v != '\0')
            json_object_set_new(args, *q, json_string(v));
    /* The path names the object: it wins over the body. */
    for (i = 0; i < mt->n; i++)
        json_object_set_new(args, mt->name[i], json_string(mt->value[i]));
    if ((c = ac_call_new(req, r, auth)) == NULL) {
        json_decref(args);
        return ac_error(req, 500, "internal", "out of memory");
    }
    return ac_run_command(c, r->command, args);
}


int
ac_dispatch(ember_http_req_t *req, ac_auth_t *auth)
{
    const char *path = ac_api->http_path(req);
    const char *method = ac_api->http_method(req);
    const ac_route_t *r, *found = NULL;
    ac_match_t mt;
    char allow[64] = "";
    int rc;

    if (strcmp(method, "HEAD") == 0)
        method = "GET";
    for (r = ac_routes; r->method != NULL; r++) {
        if (!route_match(r->path, path, &mt))
            continue;
        if (strcmp(r->method, method) == 0) {
            found = r;
            break;
        }
        if (strstr(allow, r->method) == NULL &&
            strlen(allow) + strlen(r->method) + 3 < sizeof(allow)) {
            if (allow[0] != '\0')
                strcat(allow, ", ");
            strcat(allow, r->method);
        }
        match_clear(&mt);
    }
    if (found == NULL) {
        if (allow[0] != '\0') {
            const char *h[] = { "Allow", allow, NULL };

            return ac_json(req, 405, json_pack("{s:s, s:s}", "error",
                           "method_not_allowed", "detail",
                           "method not allowed on this path"), h);
        }
        return ac_error(req, 404, "not_found", "no such route");
    }
    rc = found->handler != NULL ? found->handler(req, found, &mt, auth)
                                : command_route(req, found, &mt, auth);
    match_clear(&mt);
    return rc;
}
