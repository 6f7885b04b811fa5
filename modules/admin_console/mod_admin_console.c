/*
 * mod_admin_console.c -- the admin web console and its REST API on the
 * "admin" route set (listeners admin and admin-tls): the route tables and
 * the module's life.
 *
 * The core routes every request.  The REST table's auth hook,
 * console_check, authenticates each request of a route not flagged
 * public (session cookie and CSRF token, or API key); the same function
 * guards the whole set as its gate, so other modules' admin routes and
 * paths no route serves answer 401 as well.  Static files are exact
 * public routes made from the files found in web-root at load.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"

#ifndef EMBER_WEB_DIR
#define EMBER_WEB_DIR "/usr/local/share/ember/web"
#endif

#define CONSOLE_MAX_BODY (4u << 20)

const ember_api_t *api;
ember_module_t *mod;
console_conf_t *conf;

static const ember_option_t console_options[] = {
    EMBER_OPT("web-root", EMBER_OPT_PATH, console_conf_t, web_root,
              EMBER_WEB_DIR, 0, 4096,
              "directory of the console's files (flat)"),
    EMBER_OPT("session-timeout", EMBER_OPT_DURATION, console_conf_t,
              session_timeout, "30m", 1, 86400,
              "a console session ends after this long idle"),
    EMBER_OPT("session-lifetime", EMBER_OPT_DURATION, console_conf_t,
              session_lifetime, "12h", 300, 604800,
              "a console session ends this long after login, used or not"),
    EMBER_OPT("login-attempts", EMBER_OPT_INT, console_conf_t,
              login_attempts, "5", 1, 1000,
              "failed logins per address (and per JID) before a lockout"),
    EMBER_OPT("lockout", EMBER_OPT_DURATION, console_conf_t, lockout, "5m",
              1, 86400,
              "how long logins stay refused after too many failures"),
    EMBER_OPT_END
};

/* On every answer of the admin listeners, the core's own included. */
static const char *const security_headers[] = {
    "Content-Security-Policy",
    "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options", "nosniff",
    "Referrer-Policy", "no-referrer",
    "X-Frame-Options", "DENY",
    NULL
};

static const char *const q_host[] = { "host", NULL };
static const char *const q_users[] = { "host", "q", "offset", "limit",
                                       NULL };
static const char *const q_logs[] = { "since", "level", "limit", NULL };

#define PUBLIC EMBER_HTTP_PUBLIC
#define ROUTE(meth, p, fl, ...)                                          \
    { .size = sizeof(ember_http_route_t), .method = meth, .path = p,    \
      .flags = fl, .max_body = CONSOLE_MAX_BODY, .handler = console_api, \
      .data = &(const console_op_t){ __VA_ARGS__ } }

/* The REST API; console_openapi.c describes it from this table. */
const ember_http_route_t console_routes[] = {
    ROUTE("GET", "/api/v1/openapi.json", PUBLIC,
          .handler = console_openapi,
          .summary = "This description (OpenAPI 3.0)"),
    ROUTE("POST", "/api/v1/login", PUBLIC, .handler = console_login,
          .body = 1, .summary = "Log in to the console: {jid, password}; "
          "sets the session cookie"),
    ROUTE("GET", "/api/v1/session", PUBLIC, .handler = console_session,
          .summary = "The current console session"),
    ROUTE("GET", "/api/v1/setup", PUBLIC, .handler = console_setup_get,
          .summary = "Whether the first admin must still be created"),
    ROUTE("POST", "/api/v1/setup", PUBLIC, .handler = console_setup_post,
          .body = 1, .status = 201,
          .summary = "Create the first admin (from localhost, once)"),
    ROUTE("POST", "/api/v1/logout", 0, .handler = console_logout,
          .status = 204, .summary = "End the console session"),
    ROUTE("GET", "/api/v1/keys", 0, .handler = console_keys_list,
          .summary = "API keys (never the keys themselves)"),
    ROUTE("POST", "/api/v1/keys", 0, .handler = console_keys_create,
          .body = 1, .status = 201,
          .summary = "Create an API key: {name}; the key is shown once"),
    ROUTE("DELETE", "/api/v1/keys/{id}", 0, .handler = console_keys_delete,
          .param = "id", .status = 204, .summary = "Revoke an API key"),
    ROUTE("GET", "/api/v1/commands", 0, .handler = console_commands,
          .summary = "Every admin command, with its arguments"),
    ROUTE("POST", "/api/v1/commands/{name}", 0,
          .handler = console_run_named, .param = "name", .body = 1,
          .wrap = 1,
          .summary = "Run any admin command; the body is its arguments"),
    ROUTE("GET", "/api/v1/stats", 0, .command = "status",
          .summary = "Server status"),
    ROUTE("GET", "/api/v1/stats/stream", 0,
          .handler = console_stats_stream,
          .summary = "Server-sent events: \"stats\" every 2 s"),
    ROUTE("GET", "/api/v1/users", 0, .command = "user-search",
          .query = q_users, .summary = "Search accounts"),
    ROUTE("POST", "/api/v1/users", 0, .command = "adduser", .body = 1,
          .status = 201, .summary = "Create an account"),
    ROUTE("GET", "/api/v1/users/{jid}", 0, .command = "user-info",
          .param = "jid", .summary = "An account"),
    ROUTE("PUT", "/api/v1/users/{jid}/password", 0, .command = "passwd",
          .param = "jid", .body = 1, .summary = "Set an account's password"),
    ROUTE("DELETE", "/api/v1/users/{jid}", 0, .command = "deluser",
          .param = "jid", .status = 204,
          .summary = "Delete an account and its data"),
    ROUTE("POST", "/api/v1/users/{jid}/lock", 0, .command = "lock",
          .param = "jid", .summary = "Lock an account"),
    ROUTE("POST", "/api/v1/users/{jid}/unlock", 0, .command = "unlock",
          .param = "jid", .summary = "Unlock an account"),
    ROUTE("GET", "/api/v1/users/{jid}/roster", 0, .command = "roster-list",
          .param = "jid", .arg = "user", .summary = "An account's roster"),
    ROUTE("GET", "/api/v1/users/{jid}/vcard", 0, .command = "vcard-get",
          .param = "jid", .summary = "An account's vCard"),
    ROUTE("GET", "/api/v1/sessions", 0, .command = "sessions",
          .query = q_host, .summary = "Connected client sessions"),
    ROUTE("DELETE", "/api/v1/sessions/{jid*}", 0, .command = "kick-session",
          .param = "jid", .status = 204,
          .summary = "Close one session (full JID)"),
    ROUTE("POST", "/api/v1/messages", 0, .command = "message", .body = 1,
          .summary = "Send a message from the server"),
    ROUTE("POST", "/api/v1/announce", 0, .command = "announce", .body = 1,
          .summary = "Announce to every online user"),
    ROUTE("GET", "/api/v1/modules", 0, .command = "modules",
          .summary = "Loaded modules"),
    ROUTE("GET", "/api/v1/plugins", 0, .command = "plugins",
          .summary = "Plugins found, loaded or not"),
    ROUTE("POST", "/api/v1/modules/{module}/enable", 0,
          .command = "module-enable", .param = "module", .arg = "name",
          .body = 1, .summary = "Enable a module"),
    ROUTE("POST", "/api/v1/modules/{module}/disable", 0,
          .command = "module-disable", .param = "module", .arg = "name",
          .body = 1, .summary = "Disable a module"),
    ROUTE("POST", "/api/v1/modules/{module}/reload", 0,
          .command = "module-reload", .param = "module", .arg = "name",
          .body = 1, .summary = "Reload a module"),
    ROUTE("GET", "/api/v1/modules/{module}/options", 0,
          .command = "module-options", .param = "module", .arg = "name",
          .query = q_host, .summary = "A module's options"),
    ROUTE("PUT", "/api/v1/modules/{module}/options", 0,
          .command = "module-configure", .param = "module", .arg = "name",
          .body = 1, .summary = "Change a module's options"),
    ROUTE("GET", "/api/v1/rooms", 0, .command = "muc-rooms",
          .query = q_host, .summary = "Chat rooms"),
    ROUTE("GET", "/api/v1/rooms/{jid}", 0, .command = "muc-room",
          .param = "jid", .arg = "room", .summary = "A chat room"),
    ROUTE("PUT", "/api/v1/rooms/{jid}/config", 0, .command = "muc-configure",
          .param = "jid", .arg = "room", .body = 1,
          .summary = "Configure a chat room"),
    ROUTE("DELETE", "/api/v1/rooms/{jid}", 0, .command = "muc-destroy",
          .param = "jid", .arg = "room", .body = 1, .status = 204,
          .summary = "Destroy a chat room"),
    ROUTE("GET", "/api/v1/nodes", 0, .command = "pubsub-nodes",
          .query = q_host, .summary = "Publish-subscribe nodes"),
    ROUTE("GET", "/api/v1/nodes/{node}", 0, .command = "pubsub-node",
          .param = "node", .query = q_host,
          .summary = "A publish-subscribe node"),
    ROUTE("PUT", "/api/v1/nodes/{node}/config", 0,
          .command = "pubsub-configure", .param = "node", .query = q_host,
          .body = 1, .summary = "Configure a node"),
    ROUTE("DELETE", "/api/v1/nodes/{node}", 0, .command = "pubsub-delete",
          .param = "node", .query = q_host, .status = 204,
          .summary = "Delete a node"),
    ROUTE("GET", "/api/v1/config", 0, .command = "config-get",
          .summary = "The config file"),
    ROUTE("POST", "/api/v1/config/check", 0, .command = "config-check",
          .body = 1, .summary = "Check a config text"),
    ROUTE("PUT", "/api/v1/config", 0, .command = "config-set", .body = 1,
          .summary = "Replace the config file and apply it"),
    ROUTE("GET", "/api/v1/admins", 0, .command = "admins",
          .summary = "Server admins"),
    ROUTE("GET", "/api/v1/certs", 0, .command = "certs",
          .summary = "TLS certificates"),
    ROUTE("POST", "/api/v1/certs", 0, .command = "cert-upload", .body = 1,
          .summary = "Install a certificate and key for a host"),
    ROUTE("POST", "/api/v1/certs/generate", 0, .command = "cert-generate",
          .body = 1,
          .summary = "Generate a self-signed certificate for a host"),
    ROUTE("GET", "/api/v1/logs", 0, .command = "logs", .query = q_logs,
          .summary = "Recent log lines"),
    ROUTE("GET", "/api/v1/logs/stream", 0, .handler = console_logs_stream,
          .summary = "Server-sent events: \"log\", one per line"),
    ROUTE("GET", "/metrics", 0, .handler = console_metrics,
          .summary = "OpenMetrics text for Prometheus"),
};

const size_t console_nroutes = sizeof(console_routes) /
                               sizeof(console_routes[0]);

static const char *const methods[] = { "GET", "POST", "PUT", "PATCH",
                                       "DELETE", NULL };

/* JSON 404 and 405 (with Allow) for what the API does not serve. */
static ember_http_route_t *others;
static char **allows;


static void
others_free(void)
{
    size_t i;

    for (i = 0; allows != NULL && allows[i] != NULL; i++)
        free(allows[i]);
    free(allows);
    free(others);
    allows = NULL;
    others = NULL;
}


static void
other(ember_http_route_t *r, const char *method, const char *path,
      unsigned flags, ember_http_cb handler, const void *data)
{
    memset(r, 0, sizeof(*r));
    r->size = sizeof(*r);
    r->method = method;
    r->path = path;
    r->flags = flags;
    r->max_body = CONSOLE_MAX_BODY;
    r->handler = handler;
    r->data = data;
}


/*
 * The table of the API's own 404 and 405 answers: "/api/" for any other
 * path, and for each path of the API the methods it does not take, with
 * its Allow list as data.  A path is public when one of its routes is.
 */
static int
others_add(ember_http_table_t *t)
{
    size_t i, j, k, n = 0, na = 0, len;
    unsigned flags;
    char allow[64];
    const char *path;

    others = calloc(console_nroutes * 5 + 5, sizeof(*others));
    allows = calloc(console_nroutes + 1, sizeof(*allows));
    if (others == NULL || allows == NULL)
        return EMBER_ENOMEM;
    for (k = 0; methods[k] != NULL; k++)
        other(&others[n++], methods[k], "/api/", EMBER_HTTP_PREFIX,
              console_not_found, NULL);
    for (i = 0; i < console_nroutes; i++) {
        path = console_routes[i].path;
        for (j = 0; j < i && strcmp(console_routes[j].path, path) != 0; j++)
            ;
        if (j < i || strncmp(path, "/api/", 5) != 0)
            continue;
        allow[0] = '\0';
        flags = 0;
        for (j = i; j < console_nroutes; j++) {
            if (strcmp(console_routes[j].path, path) != 0)
                continue;
            len = strlen(allow);
            snprintf(allow + len, sizeof(allow) - len, "%s%s",
                     len > 0 ? ", " : "", console_routes[j].method);
            flags |= console_routes[j].flags & EMBER_HTTP_PUBLIC;
        }
        if ((allows[na] = strdup(allow)) == NULL)
            return EMBER_ENOMEM;
        for (k = 0; methods[k] != NULL; k++) {
            for (j = i; j < console_nroutes; j++)
                if (strcmp(console_routes[j].path, path) == 0 &&
                    strcmp(console_routes[j].method, methods[k]) == 0)
                    break;
            if (j == console_nroutes)
                other(&others[n++], methods[k], path, flags,
                      console_not_allowed, allows[na]);
        }
        na++;
    }
    t->routes = others;
    t->nroutes = n;
    return api->http_routes(mod, t, NULL);
}


static int
console_load(ember_module_t *m, const ember_api_t *a)
{
    ember_http_table_t t = { .size = sizeof(t), .set = "admin",
                             .auth = console_check,
                             .routes = console_routes,
                             .nroutes = console_nroutes };
    int err;

    api = a;
    mod = m;
    conf = a->module_conf(m);
    if ((err = a->http_routes(m, &t, NULL)) < 0 ||
        (err = others_add(&t)) < 0 ||
        (err = a->http_gate(m, "admin", console_check, NULL)) < 0 ||
        (err = a->http_set_headers(m, "admin", security_headers)) < 0 ||
        (err = console_keys_init()) < 0 ||
        (err = console_static_init()) < 0)
        goto fail;
    return 0;

fail:
    a->log(m, EMBER_LOG_ERROR, "cannot start: %s", a->strerror(err));
    console_static_done();
    console_keys_done();
    console_auth_done();
    others_free();
    return err;
}


static void
console_unload(ember_module_t *m)
{
    console_streams_free_all();
    console_calls_free_all();
    console_static_done();
    console_keys_done();
    console_auth_done();
    others_free();
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "admin_console",
    .version = "1.0",
    .description = "Admin web console and JSON REST API (/api/v1/), "
                   "OpenMetrics at /metrics",
    .requires = (const char *const[]){ "http", "commands", "storage",
                                       "timers", NULL },
    .conf_size = sizeof(console_conf_t),
    .options = console_options,
    .load = console_load,
    .unload = console_unload,
    .flags = EMBER_MODULE_GLOBAL,
};
