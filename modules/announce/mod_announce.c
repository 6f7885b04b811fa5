/* mod_announce.c -- a welcome message for new accounts, and announcements
 * to online users: the `announce` admin command and the XEP-0133 ad-hoc
 * command http://jabber.org/protocol/admin#announce (XEP-0050). */
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
#define NODE_ANNOUNCE NS_ADMIN "#announce"
#define ANNOUNCE_NAME "Send Announcement to Online Users"
#define MAX_LINES 64

typedef struct {
    char *welcome;
    char *welcome_subject;
} ann_conf_t;

static const ember_option_t ann_options[] = {
    EMBER_OPT("welcome", EMBER_OPT_STRING, ann_conf_t, welcome, "", 0, 4096,
              "message sent to each new account (empty: none)"),
    EMBER_OPT("welcome-subject", EMBER_OPT_STRING, ann_conf_t,
              welcome_subject, "", 0, 256, "subject of the welcome message"),
    EMBER_OPT_END
};

static const ember_cmd_arg_t announce_args[] = {
    { "body", EMBER_ARG_STRING, 1, "the announcement" },
    { "subject", EMBER_ARG_STRING, 0, "its subject" },
    { NULL, 0, 0, NULL }
};

static void announce_run(ember_cmd_ctx_t *ctx, json_t *args, void *ud);

static const ember_command_t announce_cmd = {
    "announce", "send a headline message to every online user of the host",
    announce_args, "admin", announce_run
};

static const ember_api_t *api;


static void
add_text(ember_stanza_t *parent, const char *name, const char *text)
{
    ember_stanza_t *c;

    if (text != NULL && text[0] != '\0' &&
        (c = api->stanza_add_child(parent, name, NULL)) != NULL)
        api->stanza_add_text(c, text);
}


static ember_stanza_t *
message_new(ember_module_t *m, const char *to, const char *type,
            const char *subject, const char *body)
{
    ember_stanza_t *msg = api->stanza_new("message", NULL);

    if (msg == NULL)
        return NULL;
    api->stanza_set_attr(msg, "from", api->module_host(m));
    api->stanza_set_attr(msg, "to", to);
    if (type != NULL)
        api->stanza_set_attr(msg, "type", type);
    add_text(msg, "subject", subject);
    add_text(msg, "body", body);
    return msg;
}


/* A normal message: mod_offline keeps it for the account's first login. */
static int
ann_user_created(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    ann_conf_t *conf = api->module_conf(m);
    ember_stanza_t *msg;
    char to[2048];

    if (conf->welcome[0] == '\0' || ev->data == NULL)
        return EMBER_HOOK_PASS;
    snprintf(to, sizeof(to), "%s@%s", (const char *) ev->data,
             api->module_host(m));
    if ((msg = message_new(m, to, NULL, conf->welcome_subject,
                           conf->welcome)) == NULL)
        return EMBER_ENOMEM;
    api->log(m, EMBER_LOG_INFO, "welcome message sent to %s", to);
    api->route(m, msg);
    return EMBER_HOOK_PASS;
}


typedef struct {
    ember_module_t *m;
    const char *subject, *body;
    int sent;
} ann_send_t;


static void
send_cb(ember_session_t *s, void *ud)
{
    ann_send_t *a = ud;
    const ember_jid_t *j = api->session_jid(s);
    ember_stanza_t *msg;
    int avail = 0;

    api->session_priority(s, &avail);
    if (!avail || j == NULL ||
        (msg = message_new(a->m, api->jid_full(j), "headline", a->subject,
                           a->body)) == NULL)
        return;
    api->route(a->m, msg);
    a->sent++;
}


/* XEP-0133 4.23: to every available resource of the host. */
static int
announce(ember_module_t *m, const char *subject, const char *body)
{
    ann_send_t a = { m, subject, body, 0 };

    api->host_sessions(m, send_cb, &a);
    api->log(m, EMBER_LOG_INFO, "announcement sent to %d resources", a.sent);
    return a.sent;
}


static void
announce_run(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    ember_module_t *m = ud;
    const char *body = json_string_value(json_object_get(args, "body"));
    const char *subject = json_string_value(json_object_get(args, "subject"));
    int n;

    if (body == NULL || body[0] == '\0') {
        api->command_done(ctx, EMBER_EINVAL, NULL, "the body is empty");
        return;
    }
    n = announce(m, subject, body);
    api->command_done(ctx, 0, json_pack("{s:i}", "sent", n), NULL);
}


/* ---- XEP-0050 ad-hoc command ---- */

static int
from_admin(ember_module_t *m, const ember_event_t *ev)
{
    return ev->from != NULL && api->jid_node(ev->from) != NULL &&
           api->is_admin(m, api->jid_bare(ev->from));
}


static const char *
query_node(const ember_event_t *ev, const char *xmlns)
{
    ember_stanza_t *q = api->stanza_child(ev->stanza, "query", xmlns);

    return q != NULL ? api->stanza_attr(q, "node") : NULL;
}


static int
ann_disco_items(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    const char *node = query_node(ev, NS_DISCO_ITEMS);
    ember_stanza_t *q, *it;

    if (node == NULL || strcmp(node, NS_COMMANDS) != 0)
        return EMBER_HOOK_PASS;
    if ((q = api->stanza_new("query", NS_DISCO_ITEMS)) == NULL)
        return EMBER_ENOMEM;
    api->stanza_set_attr(q, "node", NS_COMMANDS);
    /* XEP-0050 2.2: only the commands the requester may run. */
    if (from_admin(m, ev) &&
        (it = api->stanza_add_child(q, "item", NULL)) != NULL) {
        api->stanza_set_attr(it, "jid", api->module_host(m));
        api->stanza_set_attr(it, "node", NODE_ANNOUNCE);
        api->stanza_set_attr(it, "name", ANNOUNCE_NAME);
    }
    api->iq_result(ev, q);
    return EMBER_HOOK_HANDLED;
}


static int
ann_disco_info(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    const char *node = query_node(ev, NS_DISCO_INFO);
    ember_stanza_t *q, *c;

    if (node == NULL || strcmp(node, NODE_ANNOUNCE) != 0)
        return EMBER_HOOK_PASS;
    if (!from_admin(m, ev)) {
        api->stanza_error(ev, EMBER_COND_FORBIDDEN, NULL);
        return EMBER_HOOK_HANDLED;
    }
    if ((q = api->stanza_new("query", NS_DISCO_INFO)) == NULL)
        return EMBER_ENOMEM;
    api->stanza_set_attr(q, "node", NODE_ANNOUNCE);
    if ((c = api->stanza_add_child(q, "identity", NULL)) != NULL) {
        api->stanza_set_attr(c, "category", "automation");
        api->stanza_set_attr(c, "type", "command-node");
        api->stanza_set_attr(c, "name", ANNOUNCE_NAME);
    }
    if ((c = api->stanza_add_child(q, "feature", NULL)) != NULL)
        api->stanza_set_attr(c, "var", NS_COMMANDS);
    if ((c = api->stanza_add_child(q, "feature", NULL)) != NULL)
        api->stanza_set_attr(c, "var", NS_DATA);
    api->iq_result(ev, q);
    return EMBER_HOOK_HANDLED;
}


static ember_stanza_t *
command_reply(const char *sessionid, const char *status)
{
    ember_stanza_t *c = api->stanza_new("command", NS_COMMANDS);

    if (c == NULL)
        return NULL;
    api->stanza_set_attr(c, "node", NODE_ANNOUNCE);
    api->stanza_set_attr(c, "sessionid", sessionid);
    api->stanza_set_attr(c, "status", status);
    return c;
}


static void
command_error(ember_module_t *m, const ember_event_t *ev, ember_cond_t cond,
              const char *app)
{
    ember_stanza_t *r = api->error_reply(ev->stanza, cond, NULL), *e;

    if (r == NULL)
        return;
    if (app != NULL && (e = api->stanza_child(r, "error", NULL)) != NULL)
        api->stanza_add_child(e, app, NS_COMMANDS);
    api->route(m, r);
}


static int
ann_form(const ember_event_t *ev)
{
    ember_stanza_t *c, *x, *f, *act;
    static unsigned long n;
    char sid[64];

    snprintf(sid, sizeof(sid), "announce:%lu:%llu", ++n,
             (unsigned long long) api->uptime_ms());
    if ((c = command_reply(sid, "executing")) == NULL)
        return EMBER_ENOMEM;
    if ((act = api->stanza_add_child(c, "actions", NULL)) != NULL) {
        api->stanza_set_attr(act, "execute", "complete");
        api->stanza_add_child(act, "complete", NULL);
    }
    if ((x = api->form_new(c, "form", "Making an Announcement",
                           NS_ADMIN)) != NULL) {
        add_text(x, "instructions", "Fill out this form to make an "
                 "announcement to all active users of this service.");
        api->form_add_field(x, "subject", "text-single", "Subject", NULL);
        if ((f = api->form_add_field(x, "announcement", "text-multi",
                                     "Announcement", NULL)) != NULL)
            api->stanza_add_child(f, "required", NULL);
    }
    api->iq_result(ev, c);
    return EMBER_HOOK_HANDLED;
}


static int
ann_submit(ember_module_t *m, const ember_event_t *ev, ember_stanza_t *cmd,
           ember_stanza_t *x)
{
    const char *lines[MAX_LINES], *subject = api->form_value(x, "subject");
    const char *sid = api->stanza_attr(cmd, "sessionid");
    size_t i, n = api->form_values(x, "announcement", lines, MAX_LINES);
    size_t len = 1;
    char *body;

    if (n > MAX_LINES)
        n = MAX_LINES;
    for (i = 0; i < n; i++)
        len += strlen(lines[i]) + 1;
    if (n == 0 || (n == 1 && lines[0][0] == '\0')) {
        command_error(m, ev, EMBER_COND_BAD_REQUEST, "bad-payload");
        return EMBER_HOOK_HANDLED;
    }
    if ((body = malloc(len)) == NULL)
        return EMBER_ENOMEM;
    body[0] = '\0';
    for (i = 0; i < n; i++) {
        if (i > 0)
            strcat(body, "\n");
        strcat(body, lines[i]);
    }
    announce(m, subject, body);
    free(body);
    api->iq_result(ev, command_reply(sid != NULL ? sid : "announce",
                                     "completed"));
    return EMBER_HOOK_HANDLED;
}


static int
ann_command(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    ember_stanza_t *cmd = api->stanza_child(ev->stanza, "command",
                                            NS_COMMANDS);
    const char *node = api->stanza_attr(cmd, "node");
    const char *action = api->stanza_attr(cmd, "action");
    const char *sid = api->stanza_attr(cmd, "sessionid");
    ember_stanza_t *x;

    if (node == NULL || strcmp(node, NODE_ANNOUNCE) != 0)
        return EMBER_HOOK_PASS;
    if (!from_admin(m, ev)) {
        api->stanza_error(ev, EMBER_COND_FORBIDDEN, NULL);
        return EMBER_HOOK_HANDLED;
    }
    if (action == NULL)
        action = "execute";
    if (strcmp(action, "cancel") == 0) {
        api->iq_result(ev, command_reply(sid != NULL ? sid : "announce",
                                         "canceled"));
        return EMBER_HOOK_HANDLED;
    }
    if (strcmp(action, "execute") != 0 && strcmp(action, "complete") != 0) {
        command_error(m, ev, EMBER_COND_BAD_REQUEST, "malformed-action");
        return EMBER_HOOK_HANDLED;
    }
    x = api->stanza_child(cmd, "x", NS_DATA);
    if (x == NULL || sid == NULL) {
        if (strcmp(action, "complete") == 0) {
            command_error(m, ev, EMBER_COND_BAD_REQUEST, "bad-payload");
            return EMBER_HOOK_HANDLED;
        }
        return ann_form(ev);
    }
    if (strncmp(sid, "announce:", 9) != 0) {
        command_error(m, ev, EMBER_COND_BAD_REQUEST, "bad-sessionid");
        return EMBER_HOOK_HANDLED;
    }
    return ann_submit(m, ev, cmd, x);
}


static int
ann_load(ember_module_t *m, const ember_api_t *a)
{
    int err;

    api = a;
    if ((err = api->disco_add_feature(m, NS_COMMANDS)) < 0 ||
        (err = api->hook(m, EMBER_EV_USER_CREATED, ann_user_created, 0,
                         NULL)) < 0 ||
        (err = api->hook(m, "iq-get/host/" NS_DISCO_ITEMS ":query",
                         ann_disco_items, 10, NULL)) < 0 ||
        (err = api->hook(m, "iq-get/host/" NS_DISCO_INFO ":query",
                         ann_disco_info, 10, NULL)) < 0 ||
        (err = api->hook(m, "iq-set/host/" NS_COMMANDS ":command",
                         ann_command, 0, NULL)) < 0 ||
        (err = api->command_register(m, &announce_cmd, m)) < 0)
        return err;
    return 0;
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER_MIN(1),
    .name = "announce",
    .version = "1.0",
    .description = "Welcome message and announcements to online users "
                   "(XEP-0133 announce)",
    .requires = (const char *const[]){ "hooks", "disco", "commands",
                                       "forms", "sessions", NULL },
    .conf_size = sizeof(ann_conf_t),
    .options = ann_options,
    .load = ann_load,
};
