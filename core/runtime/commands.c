/* core/commands.c -- the registry of admin commands and their runs. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "runtime/commands.h"
#include "base/jid.h"
#include "store/audit.h"
#include "base/log.h"
#include "runtime/modules.h"
#include "xmpp/router.h"
#include "base/process.h"

typedef struct cmd_entry_s {
    const ember_command_t *cmd;  /* owned by the registering module */
    ember_module_t *m;           /* NULL: the core */
    void *ud;
    struct cmd_entry_s *next;
} cmd_entry_t;

/*
 * A command between run() and command_done().  Pending contexts are kept
 * in a list so that unloading their module can answer the caller.
 */
struct ember_cmd_ctx_s {
    ember_cmd_reply_cb reply;
    void *ud;
    ember_module_t *m;
    json_t *args;                /* valid until command_done */
    ember_caller_t who;
    /* For the audit log, when a person runs a command that may change
     * something: who, from where, and the arguments without secrets. */
    char *actor, *origin, *name;
    json_t *audit_args;
    const ember_command_t *cmd;
    uint64_t id;                 /* finds it again after a wait */
    int from_node;               /* another node of a cluster handed it */
    struct ember_cmd_ctx_s *prev, *next;
};

static cmd_entry_t *commands;
static ember_cmd_ctx_t *pending;
static int running_from_node;   /* set while such a command starts */
static uint64_t last_ctx_id;


static int
is_local(const ember_command_t *cmd)
{
    return cmd->permission != NULL &&
           (strcmp(cmd->permission, "local") == 0 ||
            strcmp(cmd->permission, "local-read") == 0);
}


static int
is_read(const ember_command_t *cmd)
{
    return cmd->permission != NULL &&
           (strcmp(cmd->permission, "read") == 0 ||
            strcmp(cmd->permission, "local-read") == 0);
}


static cmd_entry_t *
command_find(const char *name)
{
    cmd_entry_t *e;

    for (e = commands; e != NULL; e = e->next)
        if (strcmp(e->cmd->name, name) == 0)
            return e;
    return NULL;
}


/* Registered by a module instance of one virtual host. */
static int
entry_host_bound(const cmd_entry_t *e)
{
    return e->m != NULL && ember__module_host(e->m) != NULL;
}


static int
table_has_arg(const ember_command_t *cmd, const char *name)
{
    const ember_cmd_arg_t *a;

    for (a = cmd->args; a != NULL && a->name != NULL; a++)
        if (strcmp(a->name, name) == 0)
            return 1;
    return 0;
}


/*
 * A per-host module enabled on several hosts registers its commands once
 * per host: the caller's "host" argument picks the instance, and may be
 * left out while only one host serves the command.  NULL with a message
 * for the operator when that does not name exactly one.
 */
static cmd_entry_t *
command_pick(const char *name, json_t *args, char *msg, size_t msglen)
{
    cmd_entry_t *e, *only = NULL;
    const char *host = NULL;
    ember_jid_t *jid;
    size_t n = 0;
    json_t *h;

    if ((e = command_find(name)) == NULL) {
        snprintf(msg, msglen, "unknown command '%s'", name);
        return NULL;
    }
    if (!entry_host_bound(e))
        return e;
    if (json_is_object(args) && (h = json_object_get(args, "host")) != NULL &&
        !json_is_null(h)) {
        if (!json_is_string(h)) {
            snprintf(msg, msglen, "%s: argument 'host' must be a string",
                     name);
            return NULL;
        }
        host = json_string_value(h);
    }
    /* Without "host", a JID argument names it (an account, a session). */
    if (host == NULL && json_is_object(args) &&
        (h = json_object_get(args, "jid")) != NULL && json_is_string(h) &&
        (jid = ember__jid_parse(json_string_value(h))) != NULL) {
        for (e = commands; e != NULL; e = e->next)
            if (strcmp(e->cmd->name, name) == 0 &&
                strcmp(ember__module_host(e->m), jid->domain) == 0)
                break;
        ember__jid_free(jid);
        if (e != NULL)
            return e;
    }
    for (e = commands; e != NULL; e = e->next) {
        if (strcmp(e->cmd->name, name) != 0)
            continue;
        if (host != NULL && strcmp(ember__module_host(e->m), host) == 0)
            return e;
        only = e;
        n++;
    }
    if (host != NULL)
        snprintf(msg, msglen, "%s: not served on host '%s'", name, host);
    else if (n > 1)
        snprintf(msg, msglen, "%s: served on several hosts, say which with "
                 "the argument 'host'", name);
    else
        return only;
    return NULL;
}


int
ember__command_register(ember_module_t *m, const ember_command_t *cmd,
                        void *ud)
{
    cmd_entry_t *e, **tail;
    const ember_cmd_arg_t *a;

    if (cmd == NULL || cmd->name == NULL || cmd->name[0] == '\0' ||
        cmd->run == NULL)
        return EMBER_EINVAL;
    if (cmd->permission != NULL && strcmp(cmd->permission, "admin") != 0 &&
        strcmp(cmd->permission, "read") != 0 &&
        strcmp(cmd->permission, "local") != 0 &&
        strcmp(cmd->permission, "local-read") != 0)
        return EMBER_EINVAL;
    for (a = cmd->args; a != NULL && a->name != NULL; a++)
        if (a->type < EMBER_ARG_STRING || a->type > EMBER_ARG_JSON)
            return EMBER_EINVAL;
    for (e = commands; e != NULL; e = e->next) {
        if (strcmp(e->cmd->name, cmd->name) != 0)
            continue;
        if (!entry_host_bound(e) || m == NULL ||
            ember__module_host(m) == NULL ||
            strcmp(ember__module_host(e->m), ember__module_host(m)) == 0)
            return EMBER_EEXIST;
    }
    if ((e = calloc(1, sizeof(*e))) == NULL)
        return EMBER_ENOMEM;
    e->cmd = cmd;
    e->m = m;
    e->ud = ud;
    /* Registration order is kept so that listings read like the code. */
    for (tail = &commands; *tail != NULL; tail = &(*tail)->next)
        ;
    *tail = e;
    return 0;
}


static void
ctx_unlink(ember_cmd_ctx_t *ctx)
{
    if (ctx->prev != NULL)
        ctx->prev->next = ctx->next;
    else
        pending = ctx->next;
    if (ctx->next != NULL)
        ctx->next->prev = ctx->prev;
    ctx->prev = ctx->next = NULL;
}


static void
ctx_finish(ember_cmd_ctx_t *ctx, int status, json_t *result,
           const char *message)
{
    if (status < 0 && message == NULL)
        message = ember_strerror(status);
    if (status >= 0)
        message = NULL;
    if (ctx->actor != NULL)
        ember__audit_record(ctx->actor, ctx->origin, ctx->name,
                            ctx->audit_args, status < 0 ? status : 0,
                            message);
    ctx->reply(status < 0 ? status : 0, status < 0 ? NULL : result, message,
               ctx->ud);
    json_decref(ctx->args);
    json_decref(ctx->audit_args);
    free(ctx->actor);
    free(ctx->origin);
    free(ctx->name);
    free(ctx);
}


void
ember__command_done(ember_cmd_ctx_t *ctx, int status, json_t *result,
                    const char *message)
{
    if (ctx == NULL) {
        json_decref(result);
        return;
    }
    ctx_unlink(ctx);
    ctx_finish(ctx, status, result, message);
    json_decref(result);
}


static void
reply_error(ember_cmd_reply_cb reply, void *ud, int status,
            const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    reply(status, NULL, msg, ud);
}


static const char *
arg_type_name(ember_arg_type_t t)
{
    switch (t) {
    case EMBER_ARG_STRING: return "a string";
    case EMBER_ARG_INT: return "an integer";
    case EMBER_ARG_BOOL: return "a boolean";
    case EMBER_ARG_JID: return "a JID";
    case EMBER_ARG_SECRET: return "a string";
    case EMBER_ARG_JSON: return "a JSON object or array";
    }
    return "?";
}


/* The checked value of one argument, or NULL when v does not fit t. */
static json_t *
arg_convert(ember_arg_type_t t, json_t *v)
{
    const char *s;
    char *end;
    long long n;
    ember_jid_t *j;
    json_t *out;

    switch (t) {
    case EMBER_ARG_STRING:
    case EMBER_ARG_SECRET:
        return json_is_string(v) ? json_incref(v) : NULL;
    case EMBER_ARG_INT:
        if (json_is_integer(v))
            return json_incref(v);
        if (!json_is_string(v))
            return NULL;
        s = json_string_value(v);
        errno = 0;
        n = strtoll(s, &end, 10);
        if (s[0] == '\0' || *end != '\0' || errno != 0)
            return NULL;
        return json_integer(n);
    case EMBER_ARG_BOOL:
        if (json_is_boolean(v))
            return json_incref(v);
        if (!json_is_string(v))
            return NULL;
        s = json_string_value(v);
        if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0 ||
            strcmp(s, "yes") == 0)
            return json_true();
        if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0 ||
            strcmp(s, "no") == 0)
            return json_false();
        return NULL;
    case EMBER_ARG_JID:
        if (!json_is_string(v) ||
            (j = ember__jid_parse(json_string_value(v))) == NULL)
            return NULL;
        /* Commands get the prepared form, so they compare by strcmp. */
        out = json_string(ember__jid_full(j));
        ember__jid_free(j);
        return out;
    case EMBER_ARG_JSON:
        if (json_is_object(v) || json_is_array(v))
            return json_incref(v);
        if (!json_is_string(v))
            return NULL;
        /* From a command line: the JSON text itself. */
        out = json_loads(json_string_value(v), JSON_REJECT_DUPLICATES, NULL);
        if (out != NULL && !json_is_object(out) && !json_is_array(out)) {
            json_decref(out);
            out = NULL;
        }
        return out;
    }
    return NULL;
}


/*
 * The arguments of `cmd` checked and converted from `args`, or NULL with
 * a message for the operator in msg.
 */
static json_t *
args_check(const ember_command_t *cmd, json_t *args, char *msg,
           size_t msglen)
{
    const ember_cmd_arg_t *a;
    const char *key;
    json_t *out, *v, *c;

    if (args != NULL && !json_is_null(args) && !json_is_object(args)) {
        snprintf(msg, msglen, "args must be a JSON object");
        return NULL;
    }
    if ((out = json_object()) == NULL) {
        snprintf(msg, msglen, "out of memory");
        return NULL;
    }
    if (json_is_object(args)) {
        json_object_foreach(args, key, v) {
            for (a = cmd->args; a != NULL && a->name != NULL; a++)
                if (strcmp(a->name, key) == 0)
                    break;
            if (a == NULL || a->name == NULL) {
                snprintf(msg, msglen, "%s: unknown argument '%s'",
                         cmd->name, key);
                goto fail;
            }
        }
    }
    for (a = cmd->args; a != NULL && a->name != NULL; a++) {
        v = json_is_object(args) ? json_object_get(args, a->name) : NULL;
        if (v == NULL || json_is_null(v)) {
            if (a->required) {
                snprintf(msg, msglen, "%s: missing argument '%s'",
                         cmd->name, a->name);
                goto fail;
            }
            continue;
        }
        if ((c = arg_convert(a->type, v)) == NULL) {
            snprintf(msg, msglen, "%s: argument '%s' must be %s%s",
                     cmd->name, a->name, arg_type_name(a->type),
                     a->type == EMBER_ARG_JID && json_is_string(v)
                         ? " (malformed)" : "");
            goto fail;
        }
        json_object_set_new(out, a->name, c);
    }
    return out;

fail:
    json_decref(out);
    return NULL;
}


/* args as the audit log keeps them: secrets out, long text cut. */
static json_t *
audit_args(const ember_command_t *cmd, json_t *args)
{
    json_t *out = json_object(), *v;
    const ember_cmd_arg_t *a;
    const char *key;
    size_t len;

    json_object_foreach(args, key, v) {
        for (a = cmd->args; a != NULL && a->name != NULL; a++)
            if (strcmp(a->name, key) == 0)
                break;
        len = json_is_string(v) ? json_string_length(v) : 0;
        if (a != NULL && a->name != NULL && a->type == EMBER_ARG_SECRET)
            json_object_set_new(out, key, json_string("(secret)"));
        else if (len > 200)
            json_object_set_new(out, key, json_sprintf("(%zu bytes)", len));
        else
            json_object_set(out, key, v);
    }
    return out;
}


void
ember__command_run(const char *name, json_t *args, ember_caller_t who,
                   const char *actor, const char *origin,
                   ember_cmd_reply_cb reply, void *ud)
{
    cmd_entry_t *e;
    ember_cmd_ctx_t *ctx;
    json_t *checked, *own = NULL;
    char msg[256];

    if (name == NULL) {
        reply_error(reply, ud, EMBER_ENOENT, "unknown command ''");
        return;
    }
    if ((e = command_pick(name, args, msg, sizeof(msg))) == NULL) {
        reply(EMBER_ENOENT, NULL, msg, ud);
        return;
    }
    /* The host that picked the instance is not the command's own
     * argument unless its table says so. */
    if (entry_host_bound(e) && json_is_object(args) &&
        json_object_get(args, "host") != NULL &&
        !table_has_arg(e->cmd, "host")) {
        if ((own = json_deep_copy(args)) == NULL) {
            reply(EMBER_ENOMEM, NULL, "out of memory", ud);
            return;
        }
        json_object_del(own, "host");
        args = own;
    }
    /* An unknown permission was refused at registration: NULL is admin. */
    if (is_local(e->cmd) && who != EMBER_CALLER_LOCAL) {
        json_decref(own);
        reply_error(reply, ud, EMBER_EPERM,
                    "%s: only allowed through the control socket", name);
        return;
    }
    if (who != EMBER_CALLER_LOCAL && who != EMBER_CALLER_ADMIN) {
        json_decref(own);
        reply_error(reply, ud, EMBER_EPERM, "%s: not allowed", name);
        return;
    }
    checked = args_check(e->cmd, args, msg, sizeof(msg));
    json_decref(own);
    if (checked == NULL) {
        reply(EMBER_EINVAL, NULL, msg, ud);
        return;
    }
    if ((ctx = calloc(1, sizeof(*ctx))) == NULL) {
        json_decref(checked);
        reply(EMBER_ENOMEM, NULL, "out of memory", ud);
        return;
    }
    ctx->reply = reply;
    ctx->ud = ud;
    ctx->m = e->m;
    ctx->args = checked;
    ctx->who = who;
    ctx->cmd = e->cmd;
    ctx->id = ++last_ctx_id;
    ctx->from_node = running_from_node;
    if (actor != NULL && !is_read(e->cmd)) {
        ctx->actor = strdup(actor);
        ctx->origin = strdup(origin != NULL ? origin : "");
        ctx->name = strdup(e->cmd->name);
        ctx->audit_args = audit_args(e->cmd, checked);
        if (ctx->actor == NULL || ctx->origin == NULL || ctx->name == NULL) {
            ctx_finish(ctx, EMBER_ENOMEM, NULL, "out of memory");
            return;
        }
    }
    ctx->next = pending;
    if (pending != NULL)
        pending->prev = ctx;
    pending = ctx;
    e->cmd->run(ctx, checked, e->ud);
}


/* ---- a command for a service's entity runs on the node serving it ---- */

typedef struct at_owner_s {
    uint64_t ctx_id;
    void (*run)(ember_cmd_ctx_t *ctx, json_t *args, void *ud);
    void *ud;
    char *entity;
} at_owner_t;


/* The pending command of that id: NULL once answered (its module may
 * have gone meanwhile, which answers its commands). */
static ember_cmd_ctx_t *
pending_by_id(uint64_t id)
{
    ember_cmd_ctx_t *c;

    for (c = pending; c != NULL && c->id != id; c = c->next)
        ;
    return c;
}


static void
owner_answered(int status, json_t *result, const char *message, void *ud)
{
    ember_cmd_ctx_t *ctx = pending_by_id((uint64_t) (uintptr_t) ud);

    if (ctx != NULL)
        ember__command_done(ctx, status, json_incref(result), message);
}


static void
owner_known(ember_cmd_ctx_t *ctx, at_owner_t *a, int status,
            const char *node)
{
    json_t *req, *args;
    const char *host;
    int rc;

    if (status < 0) {
        ember__command_donef(ctx, status, "%s: %s", a->entity,
                             status == EMBER_EBUSY
                                 ? "its node is down; it moves to another "
                                   "node soon"
                                 : ember_strerror(status));
    } else if (node == NULL) {
        a->run(ctx, ctx->args, a->ud);
    } else if (ctx->from_node) {
        ember__command_donef(ctx, EMBER_EBUSY, "%s moved to node %s "
                             "meanwhile: run the command again", a->entity,
                             node);
    } else {
        host = ctx->m != NULL ? ember__module_host(ctx->m) : NULL;
        args = json_deep_copy(ctx->args);
        if (args != NULL && host != NULL)
            json_object_set_new(args, "host", json_string(host));
        req = json_pack("{s:s, s:o*, s:i, s:s?, s:s?}", "name",
                        ctx->cmd->name, "args", args, "who", (int) ctx->who,
                        "actor", ctx->actor, "origin", ctx->origin);
        /* The node that runs it writes the audit log. */
        if (req != NULL &&
            (rc = ember__route_command(node, req, owner_answered,
                                       (void *) (uintptr_t) ctx->id)) == 0) {
            free(ctx->actor);
            ctx->actor = NULL;
        } else {
            ember__command_donef(ctx, req == NULL ? EMBER_ENOMEM : rc,
                                 "cannot hand the command to node %s, "
                                 "which serves %s", node, a->entity);
        }
        json_decref(req);
    }
}


static void
owner_located(int status, const char *node, void *ud)
{
    at_owner_t *a = ud;
    ember_cmd_ctx_t *ctx = pending_by_id(a->ctx_id);

    if (ctx != NULL)
        owner_known(ctx, a, status, node);
    free(a->entity);
    free(a);
}


void
ember__command_at_owner(ember_cmd_ctx_t *ctx, const char *entity,
                        void (*run)(ember_cmd_ctx_t *ctx, json_t *args,
                                    void *ud),
                        void *ud)
{
    at_owner_t *a;
    ember_jid_t *j;

    if (entity == NULL || (j = ember__jid_parse(entity)) == NULL) {
        run(ctx, ctx->args, ud);
        return;
    }
    a = calloc(1, sizeof(*a));
    if (a == NULL || (a->entity = strdup(j->bare)) == NULL) {
        ember__jid_free(j);
        free(a);
        ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        return;
    }
    ember__jid_free(j);
    a->ctx_id = ctx->id;
    a->run = run;
    a->ud = ud;
    ember__route_locate(a->entity, owner_located, a);
}


static void
run_for_node(json_t *req, ember_route_cmd_reply_cb reply, void *ud)
{
    const char *name = json_string_value(json_object_get(req, "name"));
    int who = (int) json_integer_value(json_object_get(req, "who"));

    running_from_node = 1;
    ember__command_run(name, json_object_get(req, "args"),
                       who == EMBER_CALLER_LOCAL ? EMBER_CALLER_LOCAL
                                                 : EMBER_CALLER_ADMIN,
                       json_string_value(json_object_get(req, "actor")),
                       json_string_value(json_object_get(req, "origin")),
                       reply, ud);
    running_from_node = 0;
}


void
ember__commands_serve_nodes(void)
{
    ember__route_set_command_runner(run_for_node);
}


void
ember__command_audit_args(ember_cmd_ctx_t *ctx, json_t *args)
{
    if (ctx->actor == NULL) {
        json_decref(args);
        return;
    }
    json_decref(ctx->audit_args);
    ctx->audit_args = args;
}


ember_caller_t
ember__command_caller(const ember_cmd_ctx_t *ctx)
{
    return ctx->who;
}


static const char *
arg_type_word(ember_arg_type_t t)
{
    switch (t) {
    case EMBER_ARG_STRING: return "string";
    case EMBER_ARG_INT: return "int";
    case EMBER_ARG_BOOL: return "bool";
    case EMBER_ARG_JID: return "jid";
    case EMBER_ARG_SECRET: return "secret";
    case EMBER_ARG_JSON: return "json";
    }
    return "?";
}


static json_t *
entry_describe(const cmd_entry_t *e)
{
    const ember_cmd_arg_t *a;
    json_t *args;

    if ((args = json_array()) == NULL)
        return NULL;
    for (a = e->cmd->args; a != NULL && a->name != NULL; a++)
        json_array_append_new(args, json_pack(
            "{s:s, s:s, s:b, s:s}", "name", a->name,
            "type", arg_type_word(a->type), "required", a->required != 0,
            "help", a->help != NULL ? a->help : ""));
    if (entry_host_bound(e) && !table_has_arg(e->cmd, "host"))
        json_array_append_new(args, json_pack(
            "{s:s, s:s, s:b, s:s}", "name", "host", "type", "string",
            "required", 0, "help", "the virtual host (needed when "
            "several serve this command)"));
    /* "read" is an admin command to those who list them, which also
     * learn that it changes nothing. */
    return json_pack("{s:s, s:s, s:s, s:b, s:o, s:o, s:o}",
                     "name", e->cmd->name,
                     "summary", e->cmd->summary != NULL ? e->cmd->summary
                                                        : "",
                     "permission", is_local(e->cmd) ? "local" : "admin",
                     "read_only", is_read(e->cmd),
                     "module", e->m != NULL
                                   ? json_string(ember__module_name(e->m))
                                   : json_null(),
                     "host", e->m != NULL && ember__module_host(e->m) != NULL
                                 ? json_string(ember__module_host(e->m))
                                 : json_null(),
                     "args", args);
}


json_t *
ember__command_list(void)
{
    cmd_entry_t *e;
    json_t *list, *c;

    if ((list = json_array()) == NULL)
        return NULL;
    for (e = commands; e != NULL; e = e->next)
        if ((c = entry_describe(e)) == NULL ||
            json_array_append_new(list, c) < 0) {
            json_decref(list);
            return NULL;
        }
    return list;
}


json_t *
ember__command_info(const char *name, const char *host)
{
    cmd_entry_t *e, *first = NULL;

    for (e = commands; e != NULL; e = e->next) {
        if (strcmp(e->cmd->name, name) != 0)
            continue;
        if (host == NULL || (e->m != NULL && ember__module_host(e->m) != NULL &&
                             strcmp(ember__module_host(e->m), host) == 0))
            return entry_describe(e);
        if (first == NULL)
            first = e;
    }
    return first != NULL ? entry_describe(first) : NULL;
}


const char *
ember__command_str(json_t *args, const char *name)
{
    return json_string_value(json_object_get(args, name));
}


int
ember__command_need_online(ember_cmd_ctx_t *ctx, const char *name)
{
    if (ember__config() != NULL && !ember__server_offline())
        return 0;
    ember__command_donef(ctx, EMBER_ESTATE, "%s: emberd is not running", name);
    return EMBER_ESTATE;
}


void
ember__commands_module_gone(ember_module_t *m)
{
    cmd_entry_t **pe, *e;
    ember_cmd_ctx_t *ctx, *next;

    if (m == NULL)
        return;
    for (pe = &commands; (e = *pe) != NULL;) {
        if (e->m == m) {
            *pe = e->next;
            free(e);
        } else {
            pe = &e->next;
        }
    }
    /*
     * The module's code is about to go: it can never finish these, so the
     * callers get their answer now.  Replies may start new commands, hence
     * the restart from the head after each one.
     */
    for (ctx = pending; ctx != NULL; ctx = next) {
        next = ctx->next;
        if (ctx->m != m)
            continue;
        ctx_unlink(ctx);
        ctx_finish(ctx, EMBER_ECANCELED, NULL,
                   "the module running this command was unloaded");
        next = pending;
    }
}


void
ember__command_donef(ember_cmd_ctx_t *ctx, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ember__command_done(ctx, status, NULL, msg);
}


int
ember__command_host_arg(ember_cmd_ctx_t *ctx, json_t *args, int required,
                        char *out, size_t outlen)
{
    const char *s = json_string_value(json_object_get(args, "host"));

    out[0] = '\0';
    if (s == NULL) {
        if (!required)
            return 0;
        ember__command_donef(ctx, EMBER_EINVAL, "missing argument 'host'");
        return EMBER_EINVAL;
    }
    if (ember__jid_prep_domain(s, out, outlen) < 0) {
        ember__command_donef(ctx, EMBER_EINVAL, "malformed host name '%s'",
                             s);
        return EMBER_EINVAL;
    }
    if (!ember__host_exists(out)) {
        ember__command_donef(ctx, EMBER_EINVAL, "unknown host %s", out);
        return EMBER_EINVAL;
    }
    return 0;
}
