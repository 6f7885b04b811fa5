/* mod_version.c -- XEP-0092 Software Version: the server's, and each
 * client's (asked once bound, shown by `emberctl sessions`). */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
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
              "true", 0, 1, "ask each client its software version once "
              "bound (shown in the session list)"),
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
static void
version_on_client_reply(ember_module_t *m, ember_stanza_t *reply, void *ud)
{
    const char *type, *name, *ver, *os;
    ember_session_t *s;
    ember_stanza_t *q;
    char software[3 * CLIENT_FIELD_MAX + 8];

    if (reply == NULL || (type = api->stanza_attr(reply, "type")) == NULL ||
        strcmp(type, "result") != 0 ||
        (q = api->stanza_child(reply, "query", NS_VERSION)) == NULL ||
        (name = child_text(q, "name")) == NULL ||
        (s = api->session_by_jid(api->stanza_attr(reply, "from"))) == NULL)
        return;
    ver = child_text(q, "version");
    os = child_text(q, "os");
    snprintf(software, sizeof(software), "%.*s%s%.*s%s%.*s%s",
             CLIENT_FIELD_MAX, name, ver != NULL ? " " : "",
             CLIENT_FIELD_MAX, ver != NULL ? ver : "",
             os != NULL ? " (" : "", CLIENT_FIELD_MAX, os != NULL ? os : "",
             os != NULL ? ")" : "");
    api->session_set_client(s, software);
}


static int
version_on_bound(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    version_conf_t *conf = api->module_conf(m);
    const ember_jid_t *j = ev->origin != NULL ? api->session_jid(ev->origin)
                                              : NULL;
    ember_stanza_t *iq;

    if (!conf->query_clients || j == NULL)
        return EMBER_HOOK_PASS;
    if ((iq = api->stanza_new("iq", NULL)) == NULL ||
        api->stanza_set_attr(iq, "type", "get") < 0 ||
        api->stanza_set_attr(iq, "from", api->module_host(m)) < 0 ||
        api->stanza_set_attr(iq, "to", api->jid_full(j)) < 0 ||
        api->stanza_add_child(iq, "query", NS_VERSION) == NULL) {
        api->stanza_free(iq);
        return EMBER_HOOK_PASS;
    }
    api->iq_send(m, iq, CLIENT_QUERY_TIMEOUT_MS, version_on_client_reply,
                 NULL);
    return EMBER_HOOK_PASS;
}


static int
version_load(ember_module_t *m, const ember_api_t *a)
{
    int err;

    api = a;
    if ((err = api->disco_add_feature(m, NS_VERSION)) < 0 ||
        (err = api->hook(m, "iq-get/host/" NS_VERSION ":query",
                         version_on_iq, 0, NULL)) < 0)
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
                                       NULL },
    .conf_size = sizeof(version_conf_t),
    .options = version_options,
    .load = version_load,
};
