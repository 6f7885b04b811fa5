/* mod_disco.c -- XEP-0030 Service Discovery: the server's disco#info and
 * disco#items, built from what every module registered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ember/plugin.h>

#define NS_INFO  "http://jabber.org/protocol/disco#info"
#define NS_ITEMS "http://jabber.org/protocol/disco#items"

#define NS_SERVERINFO "http://jabber.org/network/serverinfo"

/* XEP-0157 fields, in the order of disco_conf_t's addresses. */
static const char *const address_kinds[] = {
    "abuse", "admin", "feedback", "sales", "security", "support",
};
#define NKINDS (sizeof(address_kinds) / sizeof(address_kinds[0]))

typedef struct {
    char *name;
    char *addresses[NKINDS];
} disco_conf_t;

#define ADDRESSES(kind, i)                                                 \
    EMBER_OPT(kind "-addresses", EMBER_OPT_STRING, disco_conf_t,           \
              addresses[i], "", 0, 4096, "XEP-0157: " kind " contacts, "   \
              "URIs separated by spaces (mailto:, xmpp:, https:)")

static const ember_option_t disco_options[] = {
    EMBER_OPT("server-name", EMBER_OPT_STRING, disco_conf_t, name, "Ember",
              0, 256, "the server's name in its disco identity, which "
              "clients show when they browse services"),
    ADDRESSES("abuse", 0), ADDRESSES("admin", 1), ADDRESSES("feedback", 2),
    ADDRESSES("sales", 3), ADDRESSES("security", 4), ADDRESSES("support", 5),
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


static void
add_form(const char *xml, const char *form_type, const char *c, void *ud)
{
    ember_stanza_t *x = api->stanza_parse(xml, strlen(xml));

    if (x != NULL)
        api->stanza_append(ud, x);
    api->stanza_free(x);
}


/* XEP-0157: the contact addresses of the options, when any is set. */
static int
add_addresses(ember_module_t *m, const disco_conf_t *conf)
{
    const char *vals[64];
    char *copy, *tok, *save, field[64];
    ember_stanza_t *x;
    size_t i, n, set = 0;
    int rc;

    for (i = 0; i < NKINDS; i++)
        set += conf->addresses[i][0] != '\0';
    if (set == 0)
        return 0;
    if ((x = api->stanza_new("x", "jabber:x:data")) == NULL)
        return EMBER_ENOMEM;
    api->stanza_set_attr(x, "type", "result");
    vals[0] = NS_SERVERINFO;
    vals[1] = NULL;
    api->form_add_field(x, "FORM_TYPE", "hidden", NULL, vals);
    for (i = 0; i < NKINDS; i++) {
        if (conf->addresses[i][0] == '\0')
            continue;
        if ((copy = strdup(conf->addresses[i])) == NULL) {
            api->stanza_free(x);
            return EMBER_ENOMEM;
        }
        n = 0;
        for (tok = strtok_r(copy, " \t\n", &save); tok != NULL && n < 63;
             tok = strtok_r(NULL, " \t\n", &save))
            vals[n++] = tok;
        vals[n] = NULL;
        snprintf(field, sizeof(field), "%s-addresses", address_kinds[i]);
        api->form_add_field(x, field, "list-multi", NULL, vals);
        free(copy);
    }
    rc = api->disco_add_form(m, x);
    api->stanza_free(x);
    return rc;
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
    api->disco_foreach(m, 'x', add_form, r);
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
        (err = add_addresses(m, conf)) < 0 ||
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
