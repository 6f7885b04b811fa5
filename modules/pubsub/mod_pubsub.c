/* mod_pubsub.c -- XEP-0060 Publish-Subscribe: a generic service on
 * pubsub.HOST (the engine is in ps_*.c, shared with mod_pep), and the
 * admin commands the console uses to manage its nodes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ps.h"

typedef struct {
    char *domain;
    char *create_nodes;
    int max_items;
    int max_items_limit;
    int max_payload;
} pubsub_conf_t;

static const ember_option_t pubsub_options[] = {
    EMBER_OPT("domain", EMBER_OPT_STRING, pubsub_conf_t, domain, "", 0, 1023,
              "domain of the service; empty: \"pubsub.\" + host"),
    EMBER_OPT("create-nodes", EMBER_OPT_STRING, pubsub_conf_t, create_nodes,
              "local", 0, 16, "who may create nodes: anyone, admins, local"),
    EMBER_OPT("max-items", EMBER_OPT_INT, pubsub_conf_t, max_items, "64", 1,
              1000000, "default pubsub#max_items of a new node"),
    EMBER_OPT("max-items-limit", EMBER_OPT_INT, pubsub_conf_t,
              max_items_limit, "10000", 1, 10000000,
              "largest pubsub#max_items; what 'max' means"),
    EMBER_OPT("max-payload", EMBER_OPT_INT, pubsub_conf_t, max_payload,
              "262144", 256, 16777216, "largest item payload, in bytes"),
    EMBER_OPT_END
};

typedef struct {
    ps_ctx_t ps;
    char domain[1100];
} pubsub_t;

static const ember_api_t *api;


static int
pubsub_on_stanza(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    pubsub_t *p = ud;
    const char *kind = api->stanza_name(ev->stanza);
    const char *type = api->stanza_attr(ev->stanza, "type");

    if (strcmp(kind, "iq") == 0) {
        if (type != NULL && (strcmp(type, "result") == 0 ||
                             strcmp(type, "error") == 0))
            return EMBER_HOOK_HANDLED;
        if (api->jid_node(ev->to) != NULL ||
            api->jid_resource(ev->to) != NULL)
            return EMBER_HOOK_PASS;
        return ps_handle_iq(&p->ps, ev, p->domain);
    }
    if (strcmp(kind, "message") == 0 &&
        (type == NULL || strcmp(type, "error") != 0) &&
        api->stanza_child(ev->stanza, "x", "jabber:x:data") != NULL)
        return ps_handle_message(&p->ps, ev, p->domain);
    if (strcmp(kind, "presence") == 0 ||
        (type != NULL && strcmp(type, "error") == 0))
        return EMBER_HOOK_HANDLED;
    return EMBER_HOOK_PASS;
}


/* ---- admin commands ---- */

typedef struct {
    ember_cmd_ctx_t *ctx;
    json_t *args;
    int which;
} cmd_t;

enum { CMD_NODES, CMD_NODE, CMD_CONFIGURE, CMD_DELETE };


static size_t
count_subscribed(ps_node_t *n)
{
    const char *jid;
    json_t *v;
    size_t k = 0;

    json_object_foreach(n->subs, jid, v) {
        const char *s = json_string_value(json_object_get(v, "sub"));

        if (s != NULL && strcmp(s, "subscribed") == 0)
            k++;
    }
    return k;
}


static void
cmd_ready(ps_ctx_t *c, ps_service_t *svc, void *ud)
{
    cmd_t *cmd = ud;
    const char *name = json_string_value(json_object_get(cmd->args, "node"));
    json_t *res = NULL, *arr, *v, *config;
    const char *jid, *bad = NULL;
    ps_node_t *n = NULL;
    char msg[256];

    if (svc == NULL) {
        api->command_done(cmd->ctx, EMBER_EIO, NULL, "storage failed");
        goto done;
    }
    if (cmd->which != CMD_NODES &&
        (name == NULL || (n = ps_node_find(svc, name)) == NULL)) {
        snprintf(msg, sizeof(msg), "no node '%s' on %s",
                 name != NULL ? name : "", svc->jid);
        api->command_done(cmd->ctx, name == NULL ? EMBER_EINVAL
                                                 : EMBER_ENOENT, NULL, msg);
        goto done;
    }
    switch (cmd->which) {
    case CMD_NODES:
        res = json_array();
        for (n = svc->nodes; n != NULL; n = n->next)
            json_array_append_new(res, json_pack(
                "{sssssIsIss}", "node", n->name, "title",
                ps_config_str(n, "pubsub#title") ? ps_config_str(
                    n, "pubsub#title") : "",
                "items", (json_int_t) json_array_size(n->items),
                "subscribers", (json_int_t) count_subscribed(n),
                "access_model", ps_config_str(n, "pubsub#access_model")));
        break;
    case CMD_NODE:
        res = json_pack("{sssOsIs[]s[]}", "node", n->name, "config",
                        n->config, "items",
                        (json_int_t) json_array_size(n->items),
                        "subscriptions", "affiliations");
        if (res == NULL)
            break;
        arr = json_object_get(res, "subscriptions");
        json_object_foreach(n->subs, jid, v)
            json_array_append_new(arr, json_pack(
                "{ssss}", "jid", jid, "subscription",
                json_string_value(json_object_get(v, "sub"))));
        arr = json_object_get(res, "affiliations");
        json_object_foreach(n->aff, jid, v)
            json_array_append_new(arr, json_pack(
                "{ssss}", "jid", jid, "affiliation", json_string_value(v)));
        break;
    case CMD_CONFIGURE:
        config = json_object_get(cmd->args, "config");
        if (json_is_string(config)) {
            config = json_loads(json_string_value(config), 0, NULL);
        } else {
            json_incref(config);
        }
        if (!json_is_object(config)) {
            json_decref(config);
            api->command_done(cmd->ctx, EMBER_EINVAL, NULL,
                              "config: a JSON object is needed");
            goto done;
        }
        if (ps_config_apply(c, n->config, NULL, config, &bad) < 0) {
            json_decref(config);
            snprintf(msg, sizeof(msg), "config: bad value for '%s'",
                     bad != NULL ? bad : "?");
            api->command_done(cmd->ctx, EMBER_EINVAL, NULL, msg);
            goto done;
        }
        json_decref(config);
        ps_items_trim(c, svc, n);
        ps_node_save(c, svc, n);
        res = json_pack("{sb}", "ok", 1);
        break;
    case CMD_DELETE:
        if (ps_config_bool(n, "pubsub#notify_delete")) {
            ember_stanza_t *ev = api->stanza_new("delete", NULL);

            if (ev != NULL) {
                api->stanza_set_attr(ev, "node", n->name);
                ps_notify(c, svc, n, NULL, ev);
                api->stanza_free(ev);
            }
        }
        ps_node_remove(c, svc, n);
        res = json_pack("{sb}", "ok", 1);
        break;
    }
    if (res == NULL)
        api->command_done(cmd->ctx, EMBER_ENOMEM, NULL, "out of memory");
    else
        api->command_done(cmd->ctx, 0, res, NULL);
done:
    json_decref(cmd->args);
    free(cmd);
}


static void
cmd_start(ember_cmd_ctx_t *ctx, json_t *args, void *ud, int which)
{
    pubsub_t *p = ud;
    cmd_t *cmd = calloc(1, sizeof(*cmd));

    if (cmd == NULL) {
        api->command_done(ctx, EMBER_ENOMEM, NULL, "out of memory");
        return;
    }
    cmd->ctx = ctx;
    cmd->args = json_incref(args);
    cmd->which = which;
    if (ps_service_ready(&p->ps, p->domain, cmd_ready, cmd) < 0) {
        json_decref(cmd->args);
        free(cmd);
        api->command_done(ctx, EMBER_EIO, NULL, "storage failed");
    }
}


static void
cmd_nodes(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    cmd_start(ctx, args, ud, CMD_NODES);
}


static void
cmd_node(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    cmd_start(ctx, args, ud, CMD_NODE);
}


static void
cmd_configure(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    cmd_start(ctx, args, ud, CMD_CONFIGURE);
}


static void
cmd_delete(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    cmd_start(ctx, args, ud, CMD_DELETE);
}


static const ember_cmd_arg_t node_args[] = {
    { "node", EMBER_ARG_STRING, 1, "the node's name" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t configure_args[] = {
    { "node", EMBER_ARG_STRING, 1, "the node's name" },
    { "config", EMBER_ARG_JSON, 1, "{\"pubsub#var\": value, ...}" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t no_args[] = { { NULL, 0, 0, NULL } };

static const ember_command_t pubsub_commands[] = {
    { "pubsub-nodes", "List the nodes of the pubsub service", no_args,
      "admin", cmd_nodes },
    { "pubsub-node", "Show a pubsub node: config, subscriptions, "
      "affiliations", node_args, "admin", cmd_node },
    { "pubsub-configure", "Change a pubsub node's configuration",
      configure_args, "admin", cmd_configure },
    { "pubsub-delete", "Delete a pubsub node (subscribers are notified)",
      node_args, "admin", cmd_delete },
};


static void
preloaded(ps_ctx_t *c, ps_service_t *svc, void *ud)
{
}


static void
pubsub_unload(ember_module_t *m);


static int
pubsub_load(ember_module_t *m, const ember_api_t *a)
{
    pubsub_conf_t *conf = a->module_conf(m);
    pubsub_t *p;
    size_t i;
    int err;

    api = a;
    if ((p = calloc(1, sizeof(*p))) == NULL)
        return EMBER_ENOMEM;
    api->module_set_data(m, p);
    if (conf->domain != NULL && conf->domain[0] != '\0')
        snprintf(p->domain, sizeof(p->domain), "%s", conf->domain);
    else
        snprintf(p->domain, sizeof(p->domain), "pubsub.%s",
                 api->module_host(m));
    if (strcmp(conf->create_nodes, "anyone") == 0)
        p->ps.create_policy = PS_CREATE_ANYONE;
    else if (strcmp(conf->create_nodes, "admins") == 0)
        p->ps.create_policy = PS_CREATE_ADMINS;
    else if (strcmp(conf->create_nodes, "local") == 0)
        p->ps.create_policy = PS_CREATE_LOCAL;
    else {
        api->log(m, EMBER_LOG_ERROR, "create-nodes: anyone, admins or "
                 "local, not '%s'", conf->create_nodes);
        err = EMBER_EINVAL;
        goto fail;
    }
    p->ps.max_items = conf->max_items;
    p->ps.max_items_limit = conf->max_items_limit;
    p->ps.max_payload = conf->max_payload;
    if ((err = ps_ctx_init(&p->ps, m, api, 0)) < 0)
        goto fail;
    if ((err = api->service_add(m, p->domain, pubsub_on_stanza, p)) < 0) {
        api->log(m, EMBER_LOG_ERROR, "cannot serve %s: %s", p->domain,
                 api->strerror(err));
        goto fail;
    }
    if ((err = api->disco_add_item(m, p->domain, "Publish-Subscribe")) < 0)
        goto fail;
    for (i = 0; i < sizeof(pubsub_commands) / sizeof(*pubsub_commands); i++)
        if ((err = api->command_register(m, &pubsub_commands[i], p)) < 0)
            goto fail;
    /* Nodes are read in the background so the first request finds them. */
    ps_service_ready(&p->ps, p->domain, preloaded, NULL);
    return 0;
fail:
    pubsub_unload(m);
    return err;
}


static void
pubsub_unload(ember_module_t *m)
{
    pubsub_t *p = api->module_data(m);

    if (p == NULL)
        return;
    ps_ctx_free(&p->ps);
    free(p);
    api->module_set_data(m, NULL);
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "pubsub",
    .version = "1.0",
    .description = "XEP-0060: Publish-Subscribe service on pubsub.HOST",
    .requires = (const char *const[]){ "hooks", "stanzas", "storage",
                                       "disco", "commands", "forms", "rsm",
                                       "services", NULL },
    .conf_size = sizeof(pubsub_conf_t),
    .options = pubsub_options,
    .load = pubsub_load,
    .unload = pubsub_unload,
};
