/* mod_version.c -- XEP-0092 Software Version: the server's, and a
 * client's on an admin's demand (command client-version) or, when
 * query-clients is on, each client's once bound; shown by `emberctl
 * sessions` and the console. */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <jansson.h>
#include <ember/plugin.h>

#define NS_VERSION "jabber:iq:version"
#define CLIENT_QUERY_TIMEOUT_MS 10000
/* XEP-0092 fields are short; longer ones are cut in the session list. */
#define CLIENT_FIELD_MAX 64

typedef struct {
    int show_os;
    int query_clients;
} version_conf_t;

static const ember_option_t version_options[] = {
    EMBER_OPT("show-os", EMBER_OPT_BOOL, version_conf_t, show_os, "false",
              0, 1, "include the operating system in answers"),
    EMBER_OPT("query-clients", EMBER_OPT_BOOL, version_conf_t, query_clients,
              "false", 0, 1, "ask each client its software version once "
              "bound (shown in the session list); off, an admin asks one "
              "session with the command client-version"),
    EMBER_OPT_END
};

static const ember_api_t *api;


static void
add_text_child(ember_stanza_t *parent, const char *name, const char *text)
{
    ember_stanza_t *c = api->stanza_add_child(parent, name, NULL);

    if (c != NULL)
        api->stanza_add_text(c, text);
}


static int
version_on_iq(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    version_conf_t *conf = api->module_conf(m);
    ember_stanza_t *q = api->stanza_new("query", NS_VERSION);
    struct utsname u;

    if (q == NULL)
        return EMBER_ENOMEM;
    add_text_child(q, "name", "Ember");
    add_text_child(q, "version", api->core_version);
    if (conf->show_os && uname(&u) == 0)
        add_text_child(q, "os", u.sysname);
    api->iq_result(ev, q);
    return EMBER_HOOK_HANDLED;
}


/* Text of child `name` of q, or NULL when absent or empty. */
static const char *
child_text(const ember_stanza_t *q, const char *name)
{
    ember_stanza_t *c = api->stanza_child(q, name, NS_VERSION);
    const char *t = c != NULL ? api->stanza_text(c) : NULL;

    return t != NULL && *t != '\0' ? t : NULL;
}


/*
 * The client's answer.  Its session may have closed meanwhile: it is
 * looked up again by the full JID that answered (the core takes replies
 * from the addressee only), so nothing points at a session across the
 * wait.
 */
/* "name version (os)" of a jabber:iq:version result into out, or 0. */
static int
software_of(const ember_stanza_t *reply, char *out, size_t len)
{
    const char *type, *name, *ver, *os;
    ember_stanza_t *q;

    if (reply == NULL || (type = api->stanza_attr(reply, "type")) == NULL ||
        strcmp(type, "result") != 0 ||
        (q = api->stanza_child(reply, "query", NS_VERSION)) == NULL ||
        (name = child_text(q, "name")) == NULL)
        return 0;
    ver = child_text(q, "version");
    os = child_text(q, "os");
    snprintf(out, len, "%.*s%s%.*s%s%.*s%s",
             CLIENT_FIELD_MAX, name, ver != NULL ? " " : "",
             CLIENT_FIELD_MAX, ver != NULL ? ver : "",
             os != NULL ? " (" : "", CLIENT_FIELD_MAX, os != NULL ? os : "",
             os != NULL ? ")" : "");
    return 1;
}


/*
 * The client's answer.  Its session may have closed meanwhile: it is
 * looked up again by the full JID that answered (the core takes replies
 * from the addressee only), so nothing points at a session across the
 * wait.  ud: the admin command waiting for it, or NULL.
 */
static void
version_on_client_reply(ember_module_t *m, ember_stanza_t *reply, void *ud)
{
    ember_cmd_ctx_t *ctx = ud;
    char software[3 * CLIENT_FIELD_MAX + 8];
    ember_session_t *s;
    int known = software_of(reply, software, sizeof(software));

    if (known &&
        (s = api->session_by_jid(api->stanza_attr(reply, "from"))) != NULL)
        api->session_set_client(s, software);
    if (ctx == NULL)
        return;
    if (known)
        api->command_done(ctx, 0, json_pack("{s:s, s:s}", "jid",
                          api->stanza_attr(reply, "from"), "client",
                          software), NULL);
    else
        api->command_done(ctx, EMBER_ENOENT, NULL, reply == NULL
                          ? "the client did not answer in time"
                          : "the client does not tell its software");
}


static int
ask_client(ember_module_t *m, const char *full_jid, ember_cmd_ctx_t *ctx)
{
    ember_stanza_t *iq;

    if ((iq = api->stanza_new("iq", NULL)) == NULL ||
        api->stanza_set_attr(iq, "type", "get") < 0 ||
        api->stanza_set_attr(iq, "from", api->module_host(m)) < 0 ||
        api->stanza_set_attr(iq, "to", full_jid) < 0 ||
        api->stanza_add_child(iq, "query", NS_VERSION) == NULL) {
        api->stanza_free(iq);
        return EMBER_ENOMEM;
    }
    return api->iq_send(m, iq, CLIENT_QUERY_TIMEOUT_MS,
                        version_on_client_reply, ctx);
}


static const ember_cmd_arg_t client_version_args[] = {
    { "jid", EMBER_ARG_JID, 1, "a session's full JID (user@host/resource)" },
    { NULL, 0, 0, NULL }
};


static void
version_cmd_client(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    ember_module_t *m = ud;
    const char *jid = json_string_value(json_object_get(args, "jid"));
    int rc;

    if (api->session_by_jid(jid) == NULL) {
        api->command_done(ctx, EMBER_ENOENT, NULL, "no such session");
        return;
    }
    if ((rc = ask_client(m, jid, ctx)) < 0)
        api->command_done(ctx, rc, NULL, NULL);
}


static const ember_command_t client_version_cmd = {
    "client-version", "Ask one session's client its software (XEP-0092)",
    client_version_args, "read", version_cmd_client
};


static int
version_on_bound(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    version_conf_t *conf = api->module_conf(m);
    const ember_jid_t *j = ev->origin != NULL ? api->session_jid(ev->origin)
                                              : NULL;

    if (conf->query_clients && j != NULL)
        ask_client(m, api->jid_full(j), NULL);
    return EMBER_HOOK_PASS;
}


static int
version_load(ember_module_t *m, const ember_api_t *a)
{
    int err;

    api = a;
    if ((err = api->disco_add_feature(m, NS_VERSION)) < 0 ||
        (err = api->hook(m, "iq-get/host/" NS_VERSION ":query",
                         version_on_iq, 0, NULL)) < 0 ||
        (err = api->command_register(m, &client_version_cmd, m)) < 0)
        return err;
    return api->hook(m, EMBER_EV_SESSION_BOUND, version_on_bound, 0, NULL);
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "version",
    .version = "1.0",
    .description = "XEP-0092: Software Version (the server's, and "
                   "each client's for the session list)",
    .requires = (const char *const[]){ "hooks", "disco", "iq", "sessions",
                                       "commands", NULL },
    .conf_size = sizeof(version_conf_t),
    .options = version_options,
    .load = version_load,
};
