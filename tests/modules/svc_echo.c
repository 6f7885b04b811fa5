/*
 * Test-only module: a subdomain service (api->service_add) driven by
 * tests/integration/test_services.py.  On the domain of option `domain`:
 *   iq get urn:xmpp:ping           result from the address it was sent to
 *   message                        echoed back from that address
 *   presence                       remembered per sender (available) or
 *                                  forgotten (unavailable)
 *   anything else                  left to the core's default
 * Command svc-present: the full JIDs whose last presence was available.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include <ember/plugin.h>

typedef struct {
    char *domain;
} svc_conf_t;

static const ember_api_t *api;
static json_t *present;

static const ember_option_t svc_options[] = {
    EMBER_OPT("domain", EMBER_OPT_STRING, svc_conf_t, domain, "", 0, 1023,
              "the service's domain (empty: echo.HOST)"),
    EMBER_OPT_END
};


static int
svc_message(ember_module_t *m, const ember_event_t *ev)
{
    const char *type = api->stanza_attr(ev->stanza, "type");
    ember_stanza_t *r;

    if (type != NULL && strcmp(type, "error") == 0)
        return EMBER_HOOK_HANDLED;
    if ((r = api->stanza_copy(ev->stanza)) == NULL)
        return EMBER_ENOMEM;
    api->stanza_set_attr(r, "from", api->jid_full(ev->to));
    api->stanza_set_attr(r, "to", api->jid_full(ev->from));
    api->route(m, r);
    return EMBER_HOOK_HANDLED;
}


static int
svc_stanza(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    const char *kind = api->stanza_name(ev->stanza);
    const char *type = api->stanza_attr(ev->stanza, "type");
    const char *from = api->jid_full(ev->from);

    if (strcmp(kind, "message") == 0)
        return svc_message(m, ev);
    if (strcmp(kind, "presence") == 0) {
        if (type == NULL)
            json_object_set_new(present, from, json_true());
        else if (strcmp(type, "unavailable") == 0)
            json_object_del(present, from);
        return EMBER_HOOK_HANDLED;
    }
    if (strcmp(kind, "iq") == 0 && type != NULL &&
        strcmp(type, "get") == 0 &&
        api->stanza_child(ev->stanza, "ping", "urn:xmpp:ping") != NULL) {
        api->iq_result(ev, NULL);
        return EMBER_HOOK_HANDLED;
    }
    return EMBER_HOOK_PASS;
}


static void
cmd_present(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    json_t *list = json_array();
    const char *jid;
    json_t *v;

    json_object_foreach(present, jid, v)
        json_array_append_new(list, json_string(jid));
    api->command_done(ctx, 0, list, NULL);
}


static const ember_command_t svc_commands[] = {
    { "svc-present", "Full JIDs with available presence at the service",
      NULL, "admin", cmd_present },
};


static int
svc_load(ember_module_t *m, const ember_api_t *a)
{
    svc_conf_t *conf;
    char domain[1100];
    int err;

    api = a;
    conf = api->module_conf(m);
    if (conf->domain[0] != '\0')
        snprintf(domain, sizeof(domain), "%s", conf->domain);
    else
        snprintf(domain, sizeof(domain), "echo.%s", api->module_host(m));
    if (present == NULL && (present = json_object()) == NULL)
        return EMBER_ENOMEM;
    if ((err = api->service_add(m, domain, svc_stanza, NULL)) < 0 ||
        (err = api->disco_add_item(m, domain, "Echo service")) < 0 ||
        (err = api->command_register(m, &svc_commands[0], NULL)) < 0)
        return err;
    return 0;
}


static void
svc_unload(ember_module_t *m)
{
    json_decref(present);
    present = NULL;
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "svc_echo",
    .version = "1.0",
    .description = "test: an echo service on a subdomain",
    .conf_size = sizeof(svc_conf_t),
    .options = svc_options,
    .load = svc_load,
    .unload = svc_unload,
};
