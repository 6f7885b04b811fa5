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
/* Login and setup bodies: refused from Content-Length before reading. */
#define CONSOLE_PUBLIC_MAX_BODY (16u << 10)

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
static const char *const q_nodes[] = { "host", "service", NULL };
static const char *const q_uploads[] = { "host", "user", NULL };
static const char *const q_archive[] = { "with", "before", "max", NULL };
static const char *const q_users[] = { "host", "q", "offset", "limit",
                                       NULL };
static const char *const q_logs[] = { "since", "level", "limit", NULL };
static const char *const q_audit[] = { "max", "before", "action", NULL };

#define ROUTE(meth, p, fl, fn, ...)                                       \
    { .size = sizeof(ember_http_route_t), .method = meth, .path = p,     \
      .flags = fl, .handler = console_api,                               \
      .max_body = (fl) & EMBER_HTTP_PUBLIC ? CONSOLE_PUBLIC_MAX_BODY     \
                                           : CONSOLE_MAX_BODY,           \
      .data = &(const console_op_t){ fn, .summary = __VA_ARGS__ } }
/* A route that runs a command; one with a handler; a public one. */
#define CMD(meth, p, cmd, ...) ROUTE(meth, p, 0, .command = cmd, __VA_ARGS__)
#define FN(meth, p, h, ...) ROUTE(meth, p, 0, .handler = h, __VA_ARGS__)
#define PUB(meth, p, h, ...) \
    ROUTE(meth, p, EMBER_HTTP_PUBLIC, .handler = h, __VA_ARGS__)

/* The REST API; console_openapi.c describes it from this table. */
const ember_http_route_t console_routes[] = {
    PUB("GET", "/api/v1/openapi.json", console_openapi,
        "This description (OpenAPI 3.0)"),
    PUB("POST", "/api/v1/login", console_login,
        "Log in to the console: {jid, password}; sets the session cookie",
        .body = 1),
    PUB("GET", "/api/v1/session", console_session,
        "The current console session"),
    PUB("GET", "/api/v1/setup", console_setup_get,
        "Whether the first admin must still be created"),
    PUB("POST", "/api/v1/setup", console_setup_post,
        "Create the first admin (from localhost, once)", .body = 1,
        .status = 201),
    FN("POST", "/api/v1/logout", console_logout, "End the console session",
       .status = 204),
    FN("GET", "/api/v1/keys", console_keys_list,
       "API keys (never the keys themselves)"),
    FN("POST", "/api/v1/keys", console_keys_create,
       "Create an API key: {name}; the key is shown once", .body = 1,
       .status = 201),
    FN("DELETE", "/api/v1/keys/{id}", console_keys_delete, "Revoke an API key",
       .param = "id", .status = 204),
    FN("GET", "/api/v1/commands", console_commands,
       "Every admin command, with its arguments"),
    FN("POST", "/api/v1/commands/{name}", console_run_named,
       "Run any admin command; the body is its arguments", .param = "name",
       .body = 1, .wrap = 1),
    CMD("GET", "/api/v1/stats", "status", "Server status"),
    FN("GET", "/api/v1/stats/stream", console_stats_stream,
       "Server-sent events: \"stats\" every 2 s"),
    CMD("GET", "/api/v1/users", "user-search", "Search accounts",
        .query = q_users),
    CMD("POST", "/api/v1/users", "adduser", "Create an account", .body = 1,
        .status = 201),
    CMD("POST", "/api/v1/users/import-csv", "users-import-csv",
        "Create accounts from CSV: {csv}; a result per row", .body = 1),
    CMD("GET", "/api/v1/users/{jid}", "user-info", "An account",
        .param = "jid"),
    CMD("PUT", "/api/v1/users/{jid}/info", "user-set",
        "An account's name and email", .param = "jid", .body = 1),
    CMD("PUT", "/api/v1/users/{jid}/password", "passwd",
        "Set an account's password", .param = "jid", .body = 1),
    CMD("DELETE", "/api/v1/users/{jid}", "deluser",
        "Delete an account and its data", .param = "jid", .status = 204),
    CMD("POST", "/api/v1/users/{jid}/lock", "lock",
        "Lock an account, with a reason kept for the admins",
        .param = "jid", .body = 1),
    CMD("POST", "/api/v1/users/{jid}/unlock", "unlock", "Unlock an account",
        .param = "jid"),
    CMD("GET", "/api/v1/users/{jid}/roster", "roster-list",
        "An account's roster", .param = "jid", .arg = "user"),
    CMD("POST", "/api/v1/users/{jid}/roster", "roster-add",
        "Add or change a contact of an account's roster", .param = "jid",
        .arg = "user", .body = 1),
    CMD("DELETE", "/api/v1/users/{jid}/roster", "roster-remove",
        "Remove a contact from an account's roster", .param = "jid",
        .arg = "user", .body = 1, .status = 204),
    CMD("GET", "/api/v1/users/{jid}/vcard", "vcard-get", "An account's vCard",
        .param = "jid"),
    CMD("GET", "/api/v1/sessions", "sessions", "Connected client sessions",
        .query = q_host),
    CMD("GET", "/api/v1/components", "components",
        "External components (XEP-0114)"),
    CMD("DELETE", "/api/v1/sessions/{jid*}", "kick-session",
        "Close one session (full JID)", .param = "jid", .status = 204),
    CMD("POST", "/api/v1/client-version", "client-version",
        "Ask one session's client its software (XEP-0092): {jid}",
        .body = 1),
    CMD("POST", "/api/v1/messages", "message",
        "Send a message from the server", .body = 1),
    CMD("POST", "/api/v1/announce", "announce",
        "Announce to every online user", .body = 1),
    CMD("GET", "/api/v1/modules", "modules", "Loaded modules"),
    CMD("GET", "/api/v1/plugins", "plugins", "Plugins found, loaded or not"),
    CMD("POST", "/api/v1/modules/{module}/enable", "module-enable",
        "Enable a module", .param = "module", .arg = "name", .body = 1),
    CMD("POST", "/api/v1/modules/{module}/disable", "module-disable",
        "Disable a module", .param = "module", .arg = "name", .body = 1),
    CMD("POST", "/api/v1/modules/{module}/reload", "module-reload",
        "Reload a module", .param = "module", .arg = "name", .body = 1),
    CMD("GET", "/api/v1/modules/{module}/options", "module-options",
        "A module's options", .param = "module", .arg = "name",
        .query = q_host),
    CMD("PUT", "/api/v1/modules/{module}/options", "module-configure",
        "Change a module's options", .param = "module", .arg = "name",
        .body = 1),
    CMD("GET", "/api/v1/rooms", "muc-rooms", "Chat rooms", .query = q_host),
    CMD("GET", "/api/v1/rooms/{jid}", "muc-room", "A chat room",
        .param = "jid", .arg = "room"),
    CMD("PUT", "/api/v1/rooms/{jid}/config", "muc-configure",
        "Configure a chat room", .param = "jid", .arg = "room", .body = 1),
    CMD("POST", "/api/v1/rooms", "muc-create",
        "Create a chat room with an owner and a configuration", .body = 1,
        .status = 201),
    CMD("POST", "/api/v1/rooms/{jid}/affiliations", "muc-affiliation",
        "Make a JID owner, admin, member, outcast or none of a room",
        .param = "jid", .arg = "room", .body = 1),
    CMD("POST", "/api/v1/rooms/{jid}/kick", "muc-kick",
        "Remove an occupant from a room", .param = "jid", .arg = "room",
        .body = 1),
    CMD("DELETE", "/api/v1/rooms/{jid}", "muc-destroy", "Destroy a chat room",
        .param = "jid", .arg = "room", .body = 1, .status = 204),
    CMD("GET", "/api/v1/groups", "groups", "Shared roster groups",
        .query = q_host),
    CMD("POST", "/api/v1/groups", "group-create",
        "Create a shared roster group: {id, name}", .body = 1,
        .status = 201),
    CMD("GET", "/api/v1/groups/{id}", "group-info",
        "A shared roster group: members, who sees it", .param = "id",
        .query = q_host),
    CMD("PUT", "/api/v1/groups/{id}/name", "group-rename",
        "Rename a shared roster group: {name}", .param = "id", .body = 1),
    CMD("DELETE", "/api/v1/groups/{id}", "group-delete",
        "Delete a shared roster group", .param = "id", .body = 1,
        .status = 204),
    CMD("POST", "/api/v1/groups/{id}/members", "group-add-member",
        "Add a member: {jid}", .param = "id", .body = 1),
    CMD("DELETE", "/api/v1/groups/{id}/members", "group-remove-member",
        "Remove a member: {jid}", .param = "id", .body = 1),
    CMD("POST", "/api/v1/groups/{id}/show", "group-show-to",
        "Show the group to {to}: a group id, @members or @nobody",
        .param = "id", .body = 1),
    CMD("POST", "/api/v1/groups/{id}/hide", "group-hide-from",
        "Stop showing the group to {to}: a group id or @members",
        .param = "id", .body = 1),
    CMD("GET", "/api/v1/nodes", "pubsub-nodes", "Publish-subscribe nodes",
        .query = q_nodes),
    CMD("GET", "/api/v1/nodes/{node}", "pubsub-node",
        "A publish-subscribe node", .param = "node", .query = q_nodes),
    CMD("PUT", "/api/v1/nodes/{node}/config", "pubsub-configure",
        "Configure a node", .param = "node", .query = q_nodes, .body = 1),
    CMD("DELETE", "/api/v1/nodes/{node}", "pubsub-delete", "Delete a node",
        .param = "node", .query = q_nodes, .status = 204),
    CMD("GET", "/api/v1/uploads", "upload-list",
        "Uploaded files and open slots (XEP-0363)", .query = q_uploads),
    CMD("GET", "/api/v1/uploads/usage", "upload-usage",
        "Bytes kept per account, and the quotas", .query = q_host),
    CMD("DELETE", "/api/v1/uploads/{id}", "upload-delete",
        "Delete an uploaded file", .param = "id", .query = q_host,
        .status = 204),
    CMD("GET", "/api/v1/archives/{jid}", "mam-browse",
        "A page of an account's message archive, newest first",
        .param = "jid", .arg = "user", .query = q_archive),
    CMD("GET", "/api/v1/config", "config-get", "The config file"),
    CMD("POST", "/api/v1/config/check", "config-check", "Check a config text",
        .body = 1),
    CMD("PUT", "/api/v1/config", "config-set",
        "Replace the config file and apply it", .body = 1),
    CMD("GET", "/api/v1/admins", "admins", "Server admins"),
    CMD("GET", "/api/v1/settings", "settings",
        "The settings of <limits> and <s2s> with types, ranges and help"),
    CMD("PUT", "/api/v1/settings", "settings-set",
        "Change settings (dry_run: the new config text only)", .body = 1),
    CMD("GET", "/api/v1/certs", "certs", "TLS certificates"),
    CMD("POST", "/api/v1/certs", "cert-upload",
        "Install a certificate and key for a host", .body = 1),
    CMD("POST", "/api/v1/certs/generate", "cert-generate",
        "Generate a self-signed certificate for a host", .body = 1),
    CMD("POST", "/api/v1/certs/request", "cert-request",
        "A new key and a certificate signing request for a host",
        .body = 1),
    CMD("GET", "/api/v1/logs", "logs", "Recent log lines", .query = q_logs),
    CMD("GET", "/api/v1/audit", "audit",
        "What admins did: who, what, when, from where, newest first",
        .query = q_audit),
    FN("GET", "/api/v1/logs/stream", console_logs_stream,
       "Server-sent events: \"log\", one per line"),
    FN("GET", "/metrics", console_metrics, "OpenMetrics text for Prometheus"),
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
    r->max_body = flags & EMBER_HTTP_PUBLIC ? CONSOLE_PUBLIC_MAX_BODY
                                            : CONSOLE_MAX_BODY;
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
        (err = console_static_init()) < 0 ||
        (err = console_setup_init()) < 0)
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
