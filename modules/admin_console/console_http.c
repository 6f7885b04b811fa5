/*
 * console_http.c -- JSON answers and errors, answers in progress, and the
 * routes that run a command: the REST table's handler, console_api.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "console.h"

static console_call_t *calls;


int
console_respond(ember_http_req_t *req, int status, const char *ctype,
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
    return api->http_respond(req, status, h, body, len);
}


/* Answer doc (stolen) as JSON, not cached. */
int
console_json(ember_http_req_t *req, int status, json_t *doc,
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
        return console_respond(req, 204, NULL, "", 0, h);
    }
    s = doc != NULL ? json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(doc);
    if (s == NULL)
        return console_respond(req, 500, "application/json",
                               "{\"error\":\"internal\",\"detail\":"
                               "\"out of memory\"}", 44, h);
    rc = console_respond(req, status, "application/json", s, strlen(s), h);
    free(s);
    return rc;
}


int
console_error(ember_http_req_t *req, int status, const char *code,
              const char *detail)
{
    return console_json(req, status,
                        json_pack("{s:s, s:s}", "error", code, "detail",
                                  detail != NULL ? detail : code),
                        NULL);
}


/* The HTTP status and error code for a command's EMBER_E*. */
int
console_error_status(int err, const char **code)
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
    console_call_t *c = ud;

    c->req = NULL;
}


console_call_t *
console_call_new(ember_http_req_t *req, const console_op_t *op)
{
    console_call_t *c = calloc(1, sizeof(*c));
    const char *who = api->http_principal(req);

    if (c == NULL)
        return NULL;
    c->req = req;
    c->op = op;
    snprintf(c->who, sizeof(c->who), "%s", who != NULL ? who : "anonymous");
    c->next = calls;
    if (calls != NULL)
        calls->prev = c;
    calls = c;
    api->http_on_closed(req, call_closed, c);
    return c;
}


void
console_call_free(console_call_t *c)
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
console_calls_free_all(void)
{
    while (calls != NULL)
        console_call_free(calls);
}


/*
 * The request body as a JSON object: an empty body is {}.  Answers 400
 * itself and returns EMBER_EINVAL when it is not a JSON object.
 */
static int
is_json(const char *ctype)
{
    size_t n = strlen("application/json");

    return ctype != NULL && strncasecmp(ctype, "application/json", n) == 0 &&
           (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}


int
console_body_object(ember_http_req_t *req, json_t **out)
{
    size_t len = 0;
    const char *body = api->http_body(req, &len);
    json_error_t e;
    json_t *doc;
    char msg[256];

    *out = NULL;
    if (body == NULL || len == 0) {
        *out = json_object();
        return *out != NULL ? 0 : EMBER_ENOMEM;
    }
    /* A form or text/plain body is what another site can make a browser
     * send without asking: only JSON is taken. */
    if (!is_json(api->http_header(req, "content-type"))) {
        console_error(req, 415, "unsupported_media_type",
                      "the body must be sent as Content-Type: "
                      "application/json");
        return EMBER_EINVAL;
    }
    doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
    if (doc == NULL) {
        snprintf(msg, sizeof(msg), "body is not valid JSON: %s (line %d, "
                 "column %d)", e.text, e.line, e.column);
        console_error(req, 400, "bad_request", msg);
        return EMBER_EINVAL;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        console_error(req, 400, "bad_request", "body must be a JSON object");
        return EMBER_EINVAL;
    }
    *out = doc;
    return 0;
}


int
console_command_exists(const char *name)
{
    json_t *c = api->command_info(mod, name);

    json_decref(c);
    return c != NULL;
}


static void
command_reply(int status, json_t *result, const char *message, void *ud)
{
    console_call_t *c = ud;
    const char *code;
    int http;

    if (c->req == NULL) {
        console_call_free(c);
        return;
    }
    if (status < 0) {
        http = console_error_status(status, &code);
        console_error(c->req, http, code,
                      message != NULL ? message : api->strerror(status));
    } else if (c->op->wrap) {
        console_json(c->req, c->op->status ? c->op->status : 200,
                     json_pack("{s:O?}", "result", result), NULL);
    } else {
        console_json(c->req, c->op->status ? c->op->status : 200,
                     result != NULL ? json_incref(result) : json_object(),
                     NULL);
    }
    console_call_free(c);
}


/* Run name with args (taken); the answer goes to req. */
static int
run_command(ember_http_req_t *req, const console_op_t *op, const char *name,
            json_t *args)
{
    console_call_t *c = console_call_new(req, op);

    if (c == NULL) {
        json_decref(args);
        return console_error(req, 500, "internal", "out of memory");
    }
    api->log(mod, EMBER_LOG_INFO, "%s runs %s", c->who, name);
    api->command_run_as(mod, name, args, c->who, api->http_peer_ip(req),
                        command_reply, c);
    json_decref(args);
    return 0;
}


int
console_commands(ember_http_req_t *req, const console_op_t *op)
{
    json_t *list = api->command_list(mod);

    if (list == NULL)
        return console_error(req, 500, "internal", "out of memory");
    return console_json(req, 200, list, NULL);
}


int
console_run_named(ember_http_req_t *req, const console_op_t *op)
{
    const char *name = api->http_param(req, "name");
    json_t *args;
    char msg[300];

    if (console_body_object(req, &args) < 0)
        return 0;
    if (!console_command_exists(name)) {
        json_decref(args);
        snprintf(msg, sizeof(msg), "no command '%.200s'", name);
        return console_error(req, 404, "not_found", msg);
    }
    return run_command(req, op, name, args);
}


/* A row of the table that runs its command. */
static int
command_route(ember_http_req_t *req, const console_op_t *op)
{
    json_t *args = NULL;
    const char *const *q;
    const char *v;
    char msg[300];

    if (!console_command_exists(op->command)) {
        snprintf(msg, sizeof(msg), "command '%s' is not available (its "
                 "module is not loaded)", op->command);
        return console_error(req, 503, "unavailable", msg);
    }
    if (op->body) {
        if (console_body_object(req, &args) < 0)
            return 0;
    } else if ((args = json_object()) == NULL) {
        return console_error(req, 500, "internal", "out of memory");
    }
    for (q = op->query; q != NULL && *q != NULL; q++)
        if ((v = api->http_query(req, *q)) != NULL && *v != '\0')
            json_object_set_new(args, *q, json_string(v));
    /* The path names the object: it wins over the body. */
    if (op->param != NULL &&
        (v = api->http_param(req, op->param)) != NULL)
        json_object_set_new(args, op->arg != NULL ? op->arg : op->param,
                            json_string(v));
    return run_command(req, op, op->command, args);
}


int
console_api(ember_module_t *m, ember_http_req_t *req, void *ud)
{
    const console_op_t *op = api->http_route_data(req);

    return op->handler != NULL ? op->handler(req, op)
                               : command_route(req, op);
}


int
console_not_found(ember_module_t *m, ember_http_req_t *req, void *ud)
{
    return console_error(req, 404, "not_found", "no such route");
}


/* A path of the API with a method it does not take; data: Allow. */
int
console_not_allowed(ember_module_t *m, ember_http_req_t *req, void *ud)
{
    const char *h[] = { "Allow", api->http_route_data(req), NULL };

    return console_json(req, 405, json_pack("{s:s, s:s}", "error",
                        "method_not_allowed", "detail",
                        "method not allowed on this path"), h);
}
