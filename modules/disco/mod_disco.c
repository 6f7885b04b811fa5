/* mod_disco.c -- XEP-0030 Service Discovery: the server's disco#info and
 * disco#items, built from what every module registered. */
#include <string.h>
#include <ember/plugin.h>

#define NS_INFO  "http://jabber.org/protocol/disco#info"
#define NS_ITEMS "http://jabber.org/protocol/disco#items"

typedef struct {
    char *name;
} disco_conf_t;

static const ember_option_t disco_options[] = {
    EMBER_OPT("server-name", EMBER_OPT_STRING, disco_conf_t, name, "Ember",
              0, 256, "the server's name in its disco identity, which "
              "clients show when they browse services"),
    EMBER_OPT_END
};

static const ember_api_t *api;


static void
add_feature(const char *var, const char *b, const char *c, void *ud)
{
    ember_stanza_t *f = api->stanza_add_child(ud, "feature", NULL);

    if (f != NULL)
        api->stanza_set_attr(f, "var", var);
}


static void
add_identity(const char *category, const char *type, const char *name,
             void *ud)
{
    ember_stanza_t *i = api->stanza_add_child(ud, "identity", NULL);

    if (i == NULL)
        return;
    api->stanza_set_attr(i, "category", category);
    api->stanza_set_attr(i, "type", type);
    if (name != NULL)
        api->stanza_set_attr(i, "name", name);
}


static void
add_item(const char *jid, const char *name, const char *c, void *ud)
{
    ember_stanza_t *i = api->stanza_add_child(ud, "item", NULL);

    if (i == NULL)
        return;
    api->stanza_set_attr(i, "jid", jid);
    if (name != NULL)
        api->stanza_set_attr(i, "name", name);
}


static int
disco_on_info(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    ember_stanza_t *q = api->stanza_child(ev->stanza, "query", NS_INFO);
    ember_stanza_t *r;
    const char *node = api->stanza_attr(q, "node");

    if (node != NULL) {
        api->stanza_error(ev, EMBER_COND_ITEM_NOT_FOUND, NULL);
        return EMBER_HOOK_HANDLED;
    }
    if ((r = api->stanza_new("query", NS_INFO)) == NULL)
        return EMBER_ENOMEM;
    api->disco_foreach(m, 'i', add_identity, r);
    api->disco_foreach(m, 'f', add_feature, r);
    api->iq_result(ev, r);
    return EMBER_HOOK_HANDLED;
}


static int
disco_on_items(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    ember_stanza_t *q = api->stanza_child(ev->stanza, "query", NS_ITEMS);
    ember_stanza_t *r;

    if (api->stanza_attr(q, "node") != NULL) {
        api->stanza_error(ev, EMBER_COND_ITEM_NOT_FOUND, NULL);
        return EMBER_HOOK_HANDLED;
    }
    if ((r = api->stanza_new("query", NS_ITEMS)) == NULL)
        return EMBER_ENOMEM;
    api->disco_foreach(m, 't', add_item, r);
    api->iq_result(ev, r);
    return EMBER_HOOK_HANDLED;
}


static int
disco_load(ember_module_t *m, const ember_api_t *a)
{
    disco_conf_t *conf = a->module_conf(m);
    int err;

    api = a;
    if ((err = api->disco_add_identity(m, "server", "im", conf->name)) < 0 ||
        (err = api->disco_add_feature(m, NS_INFO)) < 0 ||
        (err = api->disco_add_feature(m, NS_ITEMS)) < 0 ||
        (err = api->hook(m, "iq-get/host/" NS_INFO ":query", disco_on_info,
                         0, NULL)) < 0 ||
        (err = api->hook(m, "iq-get/host/" NS_ITEMS ":query",
                         disco_on_items, 0, NULL)) < 0)
        return err;
    return 0;
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "disco",
    .version = "1.0",
    .description = "XEP-0030: Service Discovery of the server",
    .requires = (const char *const[]){ "hooks", "disco", NULL },
    .conf_size = sizeof(disco_conf_t),
    .options = disco_options,
    .load = disco_load,
};
