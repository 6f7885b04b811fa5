/* mod_version.c -- XEP-0092 Software Version of the server. */
#include <sys/utsname.h>
#include <ember/plugin.h>

#define NS_VERSION "jabber:iq:version"

typedef struct {
    int show_os;
} version_conf_t;

static const ember_option_t version_options[] = {
    EMBER_OPT("show_os", EMBER_OPT_BOOL, version_conf_t, show_os, "false",
              0, 1, "include the operating system in answers"),
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


static int
version_load(ember_module_t *m, const ember_api_t *a)
{
    int err;

    api = a;
    if ((err = api->disco_add_feature(m, NS_VERSION)) < 0)
        return err;
    return api->hook(m, "iq-get/host/" NS_VERSION ":query", version_on_iq, 0,
                     NULL);
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "version",
    .version = "1.0",
    .description = "XEP-0092: Software Version",
    .requires = (const char *const[]){ "hooks", "disco", NULL },
    .conf_size = sizeof(version_conf_t),
    .options = version_options,
    .load = version_load,
};
