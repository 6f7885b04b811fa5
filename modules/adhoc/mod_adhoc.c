/*
 * mod_adhoc.c -- the admin command registry over XMPP (XEP-0050): every
 * "admin" command an admin may run, as an ad-hoc command of the host, with
 * the XEP-0133 node and field names for the commands XEP-0133 defines.
 * The same commands, checks and results as emberctl and the REST API.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <ember/plugin.h>

#define NS_COMMANDS "http://jabber.org/protocol/commands"
#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define NS_ADMIN "http://jabber.org/protocol/admin"
#define NS_DATA "jabber:x:data"
#define NODE_PREFIX "urn:ember:command:"
#define MAX_VALUES 256

/* A XEP-0133 field and the command argument it fills (NULL: a check). */
typedef struct {
    const char *var, *arg, *type, *label;
    int required;
} xfield_t;

typedef struct {
    const char *node, *command, *name;
    xfield_t fields[4];
} xep133_t;

static const xep133_t xep133[] = {
    { NS_ADMIN "#add-user", "adduser", "Add a User", {
        { "accountjid", "jid", "jid-single", "The Jabber ID for the account "
          "to be added", 1 },
        { "password", "password", "text-private", "The password for this "
          "account", 1 },
        { "password-verify", NULL, "text-private", "Retype password", 1 } } },
    { NS_ADMIN "#delete-user", "deluser", "Delete a User", {
        { "accountjids", "jid", "jid-multi", "The Jabber ID to delete", 1 } } },
    { NS_ADMIN "#disable-user", "lock", "Disable a User", {
        { "accountjids", "jid", "jid-multi", "The Jabber ID to disable",
          1 } } },
    { NS_ADMIN "#reenable-user", "unlock", "Re-Enable a User", {
        { "accountjids", "jid", "jid-multi", "The Jabber ID to re-enable",
          1 } } },
    { NS_ADMIN "#change-user-password", "passwd", "Change User Password", {
        { "accountjid", "jid", "jid-single", "The Jabber ID", 1 },
        { "password", "password", "text-private", "The new password", 1 } } },
    { NS_ADMIN "#announce", "announce", "Send Announcement to Online Users", {
        { "subject", "subject", "text-single", "Subject", 0 },
        { "announcement", "body", "text-multi", "Announcement", 1 } } },
};

#define N_XEP133 (sizeof(xep133) / sizeof(xep133[0]))

static const ember_api_t *api;
static unsigned long session_counter;


static int
from_admin(ember_module_t *m, const ember_event_t *ev)
{
    return ev->from != NULL && api->jid_node(ev->from) != NULL &&
           api->is_admin(m, api->jid_bare(ev->from));
}


/* The XEP-0133 command of an ad-hoc node, or of a registry name. */
static const xep133_t *
xep133_find(const char *node, const char *command)
{
    size_t i;

    for (i = 0; i < N_XEP133; i++)
        if (strcmp(node != NULL ? xep133[i].node : xep133[i].command,
                   node != NULL ? node : command) == 0)
            return &xep133[i];
    return NULL;
}


/* Commands an admin may run here: "admin" permission, and either the
 * core's or served by a module of this host (or a global one). */
static int
runnable_here(ember_module_t *m, json_t *cmd)
{
    const char *perm = json_string_value(json_object_get(cmd, "permission"));
    const char *host = json_string_value(json_object_get(cmd, "host"));

    return perm != NULL && strcmp(perm, "admin") == 0 &&
           (host == NULL || strcmp(host, api->module_host(m)) == 0);
}


/* The registry entry behind an ad-hoc node (a new reference), or NULL. */
static json_t *
command_of_node(ember_module_t *m, const char *node)
{
    const xep133_t *x = xep133_find(node, NULL);
    const char *name = NULL;
    json_t *list, *c, *found;
    size_t i;

    if (x != NULL)
        name = x->command;
    else if (strncmp(node, NODE_PREFIX, strlen(NODE_PREFIX)) == 0 &&
             xep133_find(NULL, node + strlen(NODE_PREFIX)) == NULL)
        name = node + strlen(NODE_PREFIX);
    if (name == NULL)
        return NULL;
    if ((found = api->command_info(m, name)) != NULL &&
        runnable_here(m, found))
        return found;
    json_decref(found);
    /* command_info gives the first host's entry of a name that several
     * hosts register: look for this host's. */
    if ((list = api->command_list(m)) == NULL)
        return NULL;
    found = NULL;
    json_array_foreach(list, i, c)
        if (strcmp(json_string_value(json_object_get(c, "name")), name) == 0
            && runnable_here(m, c)) {
            found = json_incref(c);
            break;
        }
    json_decref(list);
    return found;
}


static void
node_and_name(json_t *cmd, char *node, size_t len, const char **label)
{
    const char *name = json_string_value(json_object_get(cmd, "name"));
    const xep133_t *x = xep133_find(NULL, name);

    if (x != NULL) {
        snprintf(node, len, "%s", x->node);
        *label = x->name;
    } else {
        snprintf(node, len, "%s%s", NODE_PREFIX, name);
        *label = json_string_value(json_object_get(cmd, "summary"));
    }
}


static const char *
query_node(const ember_event_t *ev, const char *xmlns)
{
    ember_stanza_t *q = api->stanza_child(ev->stanza, "query", xmlns);

    return q != NULL ? api->stanza_attr(q, "node") : NULL;
}


static int
adhoc_disco_items(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    const char *node = query_node(ev, NS_DISCO_ITEMS), *label;
    ember_stanza_t *q, *it;
    json_t *list, *c;
    char cnode[512];
    size_t i;

    if (node == NULL || strcmp(node, NS_COMMANDS) != 0)
        return EMBER_HOOK_PASS;
    if ((q = api->stanza_new("query", NS_DISCO_ITEMS)) == NULL)
        return EMBER_ENOMEM;
    api->stanza_set_attr(q, "node", NS_COMMANDS);
    /* XEP-0050 2.2: only the commands the requester may run. */
    if (from_admin(m, ev) && (list = api->command_list(m)) != NULL) {
        json_array_foreach(list, i, c) {
            if (!runnable_here(m, c) ||
                (it = api->stanza_add_child(q, "item", NULL)) == NULL)
                continue;
            node_and_name(c, cnode, sizeof(cnode), &label);
            api->stanza_set_attr(it, "jid", api->module_host(m));
            api->stanza_set_attr(it, "node", cnode);
            api->stanza_set_attr(it, "name", label);
        }
        json_decref(list);
    }
    api->iq_result(ev, q);
    return EMBER_HOOK_HANDLED;
}


static int
adhoc_disco_info(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    const char *node = query_node(ev, NS_DISCO_INFO), *label;
    ember_stanza_t *q, *c;
    json_t *cmd;
    char cnode[512];

    if (node == NULL || (cmd = command_of_node(m, node)) == NULL)
        return EMBER_HOOK_PASS;
    if (!from_admin(m, ev)) {
        json_decref(cmd);
        api->stanza_error(ev, EMBER_COND_FORBIDDEN, NULL);
        return EMBER_HOOK_HANDLED;
    }
    node_and_name(cmd, cnode, sizeof(cnode), &label);
    if ((q = api->stanza_new("query", NS_DISCO_INFO)) != NULL) {
        api->stanza_set_attr(q, "node", node);
        if ((c = api->stanza_add_child(q, "identity", NULL)) != NULL) {
            api->stanza_set_attr(c, "category", "automation");
            api->stanza_set_attr(c, "type", "command-node");
            api->stanza_set_attr(c, "name", label);
        }
        if ((c = api->stanza_add_child(q, "feature", NULL)) != NULL)
            api->stanza_set_attr(c, "var", NS_COMMANDS);
        if ((c = api->stanza_add_child(q, "feature", NULL)) != NULL)
            api->stanza_set_attr(c, "var", NS_DATA);
    }
    json_decref(cmd);
    if (q == NULL)
        return EMBER_ENOMEM;
    api->iq_result(ev, q);
    return EMBER_HOOK_HANDLED;
}


static ember_stanza_t *
command_reply(const char *node, const char *sid, const char *status)
{
    ember_stanza_t *c = api->stanza_new("command", NS_COMMANDS);

    if (c == NULL)
        return NULL;
    api->stanza_set_attr(c, "node", node);
    api->stanza_set_attr(c, "sessionid", sid);
    api->stanza_set_attr(c, "status", status);
    return c;
}


/* An error with XEP-0050's application condition (app may be NULL). */
static int
adhoc_fail(ember_iq_t *iq, ember_cond_t cond, const char *app,
           const char *text)
{
    ember_stanza_t *e = app != NULL ? api->stanza_new(app, NS_COMMANDS)
                                    : NULL;
    int rc = api->iq_fail_app(iq, cond, text, e);

    api->stanza_free(e);
    return rc;
}


static const char *
field_type_of(const char *arg_type)
{
    if (strcmp(arg_type, "bool") == 0)
        return "boolean";
    if (strcmp(arg_type, "jid") == 0)
        return "jid-single";
    if (strcmp(arg_type, "secret") == 0)
        return "text-private";
    if (strcmp(arg_type, "json") == 0)
        return "text-multi";
    return "text-single";
}


static void
add_field(ember_stanza_t *x, const char *var, const char *type,
          const char *label, const char *desc, int required)
{
    ember_stanza_t *f = api->form_add_field(x, var, type, label, NULL), *c;

    if (f == NULL)
        return;
    if (desc != NULL && desc[0] != '\0' &&
        (c = api->stanza_add_child(f, "desc", NULL)) != NULL)
        api->stanza_add_text(c, desc);
    if (required)
        api->stanza_add_child(f, "required", NULL);
}


/* The form of a command's first stage. */
static ember_stanza_t *
command_form(json_t *cmd, const char *node)
{
    const char *name = json_string_value(json_object_get(cmd, "name"));
    const char *summary = json_string_value(json_object_get(cmd, "summary"));
    const xep133_t *x133 = xep133_find(NULL, name);
    ember_stanza_t *c, *x, *act;
    json_t *a;
    char sid[64];
    size_t i;

    snprintf(sid, sizeof(sid), "adhoc-%lu-%llu", ++session_counter,
             (unsigned long long) api->uptime_ms());
    if ((c = command_reply(node, sid, "executing")) == NULL)
        return NULL;
    if ((act = api->stanza_add_child(c, "actions", NULL)) != NULL) {
        api->stanza_set_attr(act, "execute", "complete");
        api->stanza_add_child(act, "complete", NULL);
    }
    x = api->form_new(c, "form", x133 != NULL ? x133->name : summary,
                      x133 != NULL ? NS_ADMIN : NULL);
    if (x != NULL && x133 != NULL) {
        for (i = 0; i < 4 && x133->fields[i].var != NULL; i++)
            add_field(x, x133->fields[i].var, x133->fields[i].type,
                      x133->fields[i].label, NULL, x133->fields[i].required);
    } else if (x != NULL) {
        json_array_foreach(json_object_get(cmd, "args"), i, a) {
            const char *an = json_string_value(json_object_get(a, "name"));

            /* A module's command runs on the host it is asked on. */
            if (strcmp(an, "host") == 0 &&
                json_object_get(cmd, "host") != json_null())
                continue;
            add_field(x, an, field_type_of(json_string_value(
                          json_object_get(a, "type"))), an,
                      json_string_value(json_object_get(a, "help")),
                      json_is_true(json_object_get(a, "required")));
        }
    }
    return c;
}


/* All values of a field joined by newlines (text-multi), or the first. */
static char *
field_text(const ember_stanza_t *x, const char *var, int multi, size_t *n)
{
    const char *vals[MAX_VALUES];
    size_t i, len = 1, count = api->form_values(x, var, vals, MAX_VALUES);
    char *out;

    if (count > MAX_VALUES)
        count = MAX_VALUES;
    *n = count;
    if (count == 0)
        return NULL;
    if (!multi)
        return strdup(vals[0]);
    for (i = 0; i < count; i++)
        len += strlen(vals[i]) + 1;
    if ((out = malloc(len)) == NULL)
        return NULL;
    out[0] = '\0';
    for (i = 0; i < count; i++) {
        if (i > 0)
            strcat(out, "\n");
        strcat(out, vals[i]);
    }
    return out;
}


/* The command's arguments from a submitted form; NULL with *why set when
 * the form is not acceptable. */
static json_t *
args_from_form(json_t *cmd, const ember_stanza_t *x, const char **why)
{
    const char *name = json_string_value(json_object_get(cmd, "name"));
    const xep133_t *x133 = xep133_find(NULL, name);
    json_t *args = json_object(), *a;
    const char *password;
    char *v, *verify = NULL;
    size_t i, n;

    *why = NULL;
    if (args == NULL)
        return NULL;
    if (x133 != NULL) {
        for (i = 0; i < 4 && x133->fields[i].var != NULL; i++) {
            const xfield_t *f = &x133->fields[i];

            v = field_text(x, f->var, strcmp(f->type, "text-multi") == 0,
                           &n);
            if (n > 1 && strcmp(f->type, "jid-multi") == 0) {
                free(v);
                *why = "one account per request";
                goto fail;
            }
            if (v == NULL || v[0] == '\0') {
                free(v);
                if (f->required) {
                    *why = "a required field is empty";
                    goto fail;
                }
                continue;
            }
            if (f->arg == NULL) {
                free(verify);
                verify = v;
                continue;
            }
            json_object_set_new(args, f->arg, json_string(v));
            free(v);
        }
        password = json_string_value(json_object_get(args, "password"));
        if (verify != NULL && (password == NULL ||
                               strcmp(password, verify) != 0)) {
            *why = "the passwords differ";
            goto fail;
        }
        free(verify);
        return args;
    }
    json_array_foreach(json_object_get(cmd, "args"), i, a) {
        const char *an = json_string_value(json_object_get(a, "name"));
        const char *type = json_string_value(json_object_get(a, "type"));

        v = field_text(x, an, strcmp(type, "json") == 0, &n);
        if (v != NULL && v[0] != '\0')
            json_object_set_new(args, an, json_string(v));
        free(v);
    }
    return args;

fail:
    free(verify);
    json_decref(args);
    return NULL;
}


static ember_cond_t
cond_of(int status)
{
    switch (status) {
    case EMBER_EINVAL: return EMBER_COND_BAD_REQUEST;
    case EMBER_ENOENT: return EMBER_COND_ITEM_NOT_FOUND;
    case EMBER_EPERM: return EMBER_COND_FORBIDDEN;
    case EMBER_EEXIST: return EMBER_COND_CONFLICT;
    case EMBER_EBUSY: return EMBER_COND_RESOURCE_CONSTRAINT;
    default: return EMBER_COND_INTERNAL_SERVER_ERROR;
    }
}


/* A result value as text: JSON where it is not a plain string. */
static void
add_value(ember_stanza_t *field, json_t *val)
{
    char *text = json_is_string(val)
                     ? strdup(json_string_value(val))
                     : json_dumps(val, JSON_ENCODE_ANY | JSON_COMPACT);
    ember_stanza_t *v;

    if (text != NULL && (v = api->stanza_add_child(field, "value",
                                                   NULL)) != NULL)
        api->stanza_add_text(v, text);
    free(text);
}


/* One result field per member of an object, or one line per element of
 * an array (or the one value). */
static void
result_form(ember_stanza_t *c, json_t *result)
{
    ember_stanza_t *x, *f;
    const char *key;
    json_t *val;
    size_t i;

    if (result == NULL || json_is_null(result) ||
        (x = api->form_new(c, "result", NULL, NULL)) == NULL)
        return;
    if (json_is_object(result)) {
        json_object_foreach(result, key, val)
            if ((f = api->form_add_field(x, key, "text-single", key,
                                         NULL)) != NULL)
                add_value(f, val);
    } else if ((f = api->form_add_field(x, "result", "text-multi",
                                        "Result", NULL)) == NULL) {
        return;
    } else if (!json_is_array(result)) {
        add_value(f, result);
    } else {
        json_array_foreach(result, i, val)
            add_value(f, val);
    }
}


/* ud is the deferred iq: the request's node and sessionid are its own. */
static void
command_finished(int status, json_t *result, const char *message, void *ud)
{
    ember_iq_t *iq = ud;
    ember_stanza_t *req = api->stanza_child(api->iq_event(iq)->stanza,
                                            "command", NS_COMMANDS);
    ember_stanza_t *c, *note;

    if (status < 0) {
        adhoc_fail(iq, cond_of(status),
                   status == EMBER_EINVAL ? "bad-payload" : NULL,
                   message != NULL ? message : api->strerror(status));
        return;
    }
    c = command_reply(api->stanza_attr(req, "node"),
                      api->stanza_attr(req, "sessionid"), "completed");
    if (c != NULL && (note = api->stanza_add_child(c, "note",
                                                   NULL)) != NULL) {
        api->stanza_set_attr(note, "type", "info");
        api->stanza_add_text(note, message != NULL ? message : "Done");
    }
    if (c != NULL)
        result_form(c, result);
    api->iq_answer(iq, c);
}


static int
has_arg(json_t *cmd, const char *name)
{
    json_t *a;
    size_t i;

    json_array_foreach(json_object_get(cmd, "args"), i, a)
        if (strcmp(json_string_value(json_object_get(a, "name")), name) == 0)
            return 1;
    return 0;
}


static int
run_submitted(ember_module_t *m, ember_iq_t *iq, json_t *cmd,
              const ember_stanza_t *x, const char *from)
{
    const char *why;
    json_t *args = args_from_form(cmd, x, &why);

    if (args == NULL)
        return adhoc_fail(iq, EMBER_COND_BAD_REQUEST, "bad-payload", why);
    /* Asked on this host: a command that takes a host gets this one. */
    if (has_arg(cmd, "host") && json_object_get(args, "host") == NULL)
        json_object_set_new(args, "host",
                            json_string(api->module_host(m)));
    api->command_run_as(m, json_string_value(json_object_get(cmd, "name")),
                        args, from, "xmpp", command_finished, iq);
    json_decref(args);
    return 0;
}


/* Every answer goes through the deferred iq, now or when the command
 * ends, so that each one is addressed the one way. */
static int
adhoc_command(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    ember_stanza_t *c = api->stanza_child(ev->stanza, "command",
                                          NS_COMMANDS);
    const char *node = api->stanza_attr(c, "node");
    const char *action = api->stanza_attr(c, "action");
    const char *sid = api->stanza_attr(c, "sessionid");
    ember_stanza_t *x = api->stanza_child(c, "x", NS_DATA), *form;
    ember_iq_t *iq;
    json_t *cmd;

    if (node == NULL)
        return EMBER_HOOK_PASS;
    if ((iq = api->iq_defer(m, ev)) == NULL)
        return EMBER_ENOMEM;
    if (action == NULL)
        action = "execute";
    if ((cmd = command_of_node(m, node)) == NULL)
        api->iq_fail(iq, EMBER_COND_ITEM_NOT_FOUND, NULL);
    else if (!from_admin(m, ev))
        api->iq_fail(iq, EMBER_COND_FORBIDDEN, NULL);
    else if (strcmp(action, "cancel") == 0)
        api->iq_answer(iq, command_reply(node, sid != NULL ? sid : "adhoc",
                                         "canceled"));
    else if (strcmp(action, "execute") != 0 &&
             strcmp(action, "complete") != 0)
        adhoc_fail(iq, EMBER_COND_BAD_REQUEST, "malformed-action", NULL);
    else if ((x == NULL || sid == NULL) && strcmp(action, "complete") == 0)
        adhoc_fail(iq, EMBER_COND_BAD_REQUEST, "bad-payload", NULL);
    else if ((x == NULL || sid == NULL) &&
             (form = command_form(cmd, node)) != NULL)
        api->iq_answer(iq, form);
    else if (x == NULL || sid == NULL)
        api->iq_fail(iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
    else if (strncmp(sid, "adhoc-", 6) != 0)
        adhoc_fail(iq, EMBER_COND_BAD_REQUEST, "bad-sessionid", NULL);
    else
        run_submitted(m, iq, cmd, x, api->jid_full(ev->from));
    json_decref(cmd);
    return EMBER_HOOK_HANDLED;
}


static int
adhoc_load(ember_module_t *m, const ember_api_t *a)
{
    int err;

    api = a;
    if ((err = api->disco_add_feature(m, NS_COMMANDS)) < 0 ||
        (err = api->hook(m, "iq-get/host/" NS_DISCO_ITEMS ":query",
                         adhoc_disco_items, 10, NULL)) < 0 ||
        (err = api->hook(m, "iq-get/host/" NS_DISCO_INFO ":query",
                         adhoc_disco_info, 10, NULL)) < 0 ||
        (err = api->hook(m, "iq-set/host/" NS_COMMANDS ":command",
                         adhoc_command, 0, NULL)) < 0)
        return err;
    return 0;
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "adhoc",
    .version = "1.0",
    .description = "Admin commands as XEP-0050 ad-hoc commands, with the "
                   "XEP-0133 nodes",
    .requires = (const char *const[]){ "hooks", "disco", "commands", NULL },
    .load = adhoc_load,
};
