/* mod_announce.c -- a welcome message for new accounts, and announcements
 * to online users: the `announce` admin command (mod_adhoc offers it as
 * the XEP-0133 command http://jabber.org/protocol/admin#announce). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <ember/plugin.h>


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


/* The same for a session of another node of a cluster. */
static void
send_remote_cb(const char *full, int available, int priority, void *ud)
{
    ann_send_t *a = ud;
    ember_stanza_t *msg;

    if (!available ||
        (msg = message_new(a->m, full, "headline", a->subject, a->body)) ==
            NULL)
        return;
    api->route(a->m, msg);
    a->sent++;
}


/* XEP-0133 4.23: to every available resource of the host, on every node
 * of a cluster. */
static int
announce(ember_module_t *m, const char *subject, const char *body)
{
    ann_send_t a = { m, subject, body, 0 };

    api->host_sessions(m, send_cb, &a);
    if (EMBER_API_HAS(api, user_remote_walk))
        api->user_remote_walk(m, NULL, NULL, send_remote_cb, &a);
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


static int
ann_load(ember_module_t *m, const ember_api_t *a)
{
    int err;

    api = a;
    if ((err = api->hook(m, EMBER_EV_USER_CREATED, ann_user_created, 0,
                         NULL)) < 0 ||
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
    .requires = (const char *const[]){ "hooks", "commands", "sessions",
                                       NULL },
    .conf_size = sizeof(ann_conf_t),
    .options = ann_options,
    .load = ann_load,
};
