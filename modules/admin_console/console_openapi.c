/*
 * console_openapi.c -- GET /api/v1/openapi.json: an OpenAPI 3.0 document
 * made from the REST table (mod_admin_console.c) and the command registry,
 * so that every route and every command, including those of modules
 * loaded later, is in it.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"

static json_t *
arg_schema(const char *type, const char *help)
{
    json_t *s;

    if (strcmp(type, "int") == 0)
        s = json_pack("{s:s}", "type", "integer");
    else if (strcmp(type, "bool") == 0)
        s = json_pack("{s:s}", "type", "boolean");
    else if (strcmp(type, "json") == 0)
        s = json_pack("{s:[{s:s},{s:s}]}", "oneOf", "type", "object",
                      "type", "array");
    else if (strcmp(type, "jid") == 0)
        s = json_pack("{s:s, s:s}", "type", "string", "format", "jid");
    else if (strcmp(type, "secret") == 0)
        s = json_pack("{s:s, s:s}", "type", "string", "format", "password");
    else
        s = json_pack("{s:s}", "type", "string");
    if (s != NULL && help != NULL && help[0] != '\0')
        json_object_set_new(s, "description", json_string(help));
    return s;
}


static json_t *
command_find(json_t *list, const char *name)
{
    json_t *c;
    size_t i;

    json_array_foreach(list, i, c)
        if (strcmp(json_string_value(json_object_get(c, "name")) != NULL
                       ? json_string_value(json_object_get(c, "name")) : "",
                   name) == 0)
            return c;
    return NULL;
}


static int
in_list(const char *const *l, const char *s)
{
    for (; l != NULL && *l != NULL; l++)
        if (strcmp(*l, s) == 0)
            return 1;
    return 0;
}


/* The body schema of a command's args, leaving out path and query ones. */
static json_t *
args_schema(json_t *cmd, const console_op_t *op)
{
    json_t *props = json_object(), *req = json_array(), *a;
    json_t *schema;
    const char *name;
    size_t i;

    json_array_foreach(json_object_get(cmd, "args"), i, a) {
        name = json_string_value(json_object_get(a, "name"));
        if (name == NULL)
            continue;
        if (op != NULL && ((op->param != NULL &&
                            strcmp(op->arg != NULL ? op->arg : op->param,
                                   name) == 0) ||
                           in_list(op->query, name)))
            continue;
        json_object_set_new(props, name, arg_schema(
            json_string_value(json_object_get(a, "type")),
            json_string_value(json_object_get(a, "help"))));
        if (json_is_true(json_object_get(a, "required")))
            json_array_append_new(req, json_string(name));
    }
    schema = json_pack("{s:s, s:o, s:b}", "type", "object", "properties",
                       props, "additionalProperties", 0);
    if (json_array_size(req) > 0)
        json_object_set_new(schema, "required", req);
    else
        json_decref(req);
    return schema;
}


static json_t *
body_of(json_t *schema)
{
    return json_pack("{s:b, s:{s:{s:o}}}", "required", 0, "content",
                     "application/json", "schema", schema);
}


/* Hand-written bodies of the routes that run no command. */
static json_t *
handler_body(const ember_http_route_t *r)
{
    if (strcmp(r->path, "/api/v1/login") == 0 ||
        strcmp(r->path, "/api/v1/setup") == 0)
        return json_pack("{s:s, s:[s,s], s:{s:{s:s, s:s}, s:{s:s, s:s}}}",
                         "type", "object", "required", "jid", "password",
                         "properties", "jid", "type", "string", "format",
                         "jid", "password", "type", "string", "format",
                         "password");
    if (strcmp(r->path, "/api/v1/keys") == 0)
        return json_pack("{s:s, s:[s], s:{s:{s:s, s:i}}}", "type", "object",
                         "required", "name", "properties", "name", "type",
                         "string", "maxLength", 100);
    return json_pack("{s:s, s:s}", "type", "object", "description",
                     "the command's arguments");
}


static json_t *
error_responses(json_t *resp)
{
    static const char *const codes[] = { "400", "401", "403", "404", "405",
                                         "409", "429", "500", "503", NULL };
    size_t i;

    for (i = 0; codes[i] != NULL; i++)
        json_object_set_new(resp, codes[i], json_pack("{s:s}", "$ref",
                            "#/components/responses/Error"));
    return resp;
}


static void
add_op(json_t *paths, const char *path, const char *method, json_t *op)
{
    json_t *item = json_object_get(paths, path);
    char m[16];
    size_t i;

    for (i = 0; method[i] != '\0' && i + 1 < sizeof(m); i++)
        m[i] = (char) tolower((unsigned char) method[i]);
    m[i] = '\0';
    if (item == NULL) {
        item = json_object();
        json_object_set_new(paths, path, item);
    }
    json_object_set_new(item, m, op);
}


static json_t *
route_op(const ember_http_route_t *r, json_t *cmds, char *oapath,
         size_t oalen)
{
    const console_op_t *op = r->data;
    json_t *o, *params = json_array(), *resp = json_object(), *cmd;
    const char *const *q;
    const char *p;
    char id[200], status[8];
    size_t n = 0, i;
    int public = (r->flags & EMBER_HTTP_PUBLIC) != 0;

    /* "{jid*}" is written "{jid}" in OpenAPI. */
    for (p = r->path; *p != '\0' && n + 1 < oalen; p++)
        if (*p != '*')
            oapath[n++] = *p;
    oapath[n] = '\0';
    if (op->param != NULL)
        json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:{s:s}}",
                              "name", op->param, "in", "path", "required", 1,
                              "schema", "type", "string"));
    for (q = op->query; q != NULL && *q != NULL; q++)
        json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:{s:s}}",
                              "name", *q, "in", "query", "required", 0,
                              "schema", "type", "string"));
    if (strcmp(r->method, "GET") != 0 && !public)
        json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:s, "
                              "s:{s:s}}", "name", "X-CSRF-Token", "in",
                              "header", "required", 0, "description",
                              "required with a session cookie, not with "
                              "an API key", "schema", "type", "string"));
    snprintf(id, sizeof(id), "%s%s", r->method, r->path);
    for (i = 0; id[i] != '\0'; i++)
        if (!isalnum((unsigned char) id[i]))
            id[i] = '_';
    snprintf(status, sizeof(status), "%d", op->status ? op->status : 200);
    json_object_set_new(resp, status, op->status == 204
        ? json_pack("{s:s}", "description", "done")
        : json_pack("{s:s, s:{s:{s:{}}}}", "description", "success",
                    "content", strcmp(r->path, "/metrics") == 0
                        ? "application/openmetrics-text"
                        : strstr(r->path, "/stream") != NULL
                              ? "text/event-stream" : "application/json",
                    "schema"));
    o = json_pack("{s:s, s:s, s:o, s:o}", "summary", op->summary,
                  "operationId", id, "parameters", params, "responses",
                  error_responses(resp));
    if (public)
        json_object_set_new(o, "security", json_array());
    if (op->command != NULL) {
        json_object_set_new(o, "x-ember-command", json_string(op->command));
        cmd = command_find(cmds, op->command);
        if (cmd == NULL)
            json_object_set_new(o, "x-ember-unavailable", json_true());
        if (op->body)
            json_object_set_new(o, "requestBody", body_of(cmd != NULL
                ? args_schema(cmd, op)
                : json_pack("{s:s}", "type", "object")));
    } else if (op->body) {
        json_object_set_new(o, "requestBody", body_of(handler_body(r)));
    }
    return o;
}


static json_t *
command_op(json_t *cmd)
{
    const char *name = json_string_value(json_object_get(cmd, "name"));
    const char *summary = json_string_value(json_object_get(cmd, "summary"));
    json_t *module = json_object_get(cmd, "module");
    char id[160];
    size_t i;

    snprintf(id, sizeof(id), "command_%s", name);
    for (i = 0; id[i] != '\0'; i++)
        if (!isalnum((unsigned char) id[i]))
            id[i] = '_';
    return json_pack("{s:s, s:s, s:[s], s:o, s:o, s:O, s:[{s:s, s:s, s:b, "
                     "s:s, s:{s:s}}]}",
                     "summary", summary != NULL ? summary : "",
                     "operationId", id, "tags", "commands",
                     "requestBody", body_of(args_schema(cmd, NULL)),
                     "responses", error_responses(json_pack(
                         "{s:{s:s, s:{s:{s:{s:s, s:{s:{}}}}}}}", "200",
                         "description", "{\"result\": the command's result}",
                         "content", "application/json", "schema", "type",
                         "object", "properties", "result")),
                     "x-ember-module", module != NULL ? module : json_null(),
                     "parameters", "name", "X-CSRF-Token", "in", "header",
                     "required", 0, "description", "required with a "
                     "session cookie", "schema", "type", "string");
}


int
console_openapi(ember_http_req_t *req, const console_op_t *op)
{
    json_t *cmds = api->command_list(mod), *doc, *paths, *c;
    const char *name, *perm;
    char oapath[300];
    size_t i;

    paths = json_object();
    for (i = 0; i < console_nroutes; i++) {
        c = route_op(&console_routes[i], cmds, oapath, sizeof(oapath));
        add_op(paths, oapath, console_routes[i].method, c);
    }
    json_array_foreach(cmds, i, c) {
        name = json_string_value(json_object_get(c, "name"));
        perm = json_string_value(json_object_get(c, "permission"));
        /* "local" commands only run through the control socket. */
        if (name == NULL || (perm != NULL && strcmp(perm, "admin") != 0))
            continue;
        snprintf(oapath, sizeof(oapath), "/api/v1/commands/%s", name);
        add_op(paths, oapath, "POST", command_op(c));
    }
    doc = json_pack("{s:s, s:{s:s, s:s, s:s}, s:[{s:s}], s:o, s:[{s:[]}, "
                    "{s:[]}], s:{s:{s:{s:s, s:s}, s:{s:s, s:s, s:s}}, "
                    "s:{s:{s:s, s:[s], s:{s:{s:s}, s:{s:s}}}}, "
                    "s:{s:{s:s, s:{s:{s:{s:s}}}}}}}",
                    "openapi", "3.0.3",
                    "info", "title", "Ember admin API", "version",
                    api->core_version, "description",
                    "The REST API of the Ember admin console: every admin "
                    "command, with the permissions it has for emberctl. "
                    "Errors are {\"error\": code, \"detail\": text}.",
                    "servers", "url", "/",
                    "paths", paths,
                    "security", "apiKey", "session",
                    "components", "securitySchemes", "apiKey", "type",
                    "http", "scheme", "bearer", "session", "type", "apiKey",
                    "in", "cookie", "name", "ember_session",
                    "schemas", "Error", "type", "object", "required",
                    "error", "properties", "error", "type", "string",
                    "detail", "type", "string",
                    "responses", "Error", "description",
                    "an error", "content", "application/json", "schema",
                    "$ref", "#/components/schemas/Error");
    json_decref(cmds);
    if (doc == NULL)
        return console_error(req, 500, "internal",
                             "cannot build the document");
    return console_json(req, 200, doc, NULL);
}
