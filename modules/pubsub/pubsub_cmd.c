/* pubsub_cmd.c -- the admin commands the console uses to manage the nodes
 * of pubsub.HOST: pubsub-nodes, pubsub-node, pubsub-configure,
 * pubsub-delete. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pubsub.h"

typedef struct {
    ember_cmd_ctx_t *ctx;
    json_t *args;
    int which;
} cmd_t;


static json_t *
node_list(ps_service_t *svc)
{
    json_t *res = json_array(), *v;
    const char *title, *jid, *s;
    json_int_t subs;
    ps_node_t *n;

    for (n = svc->nodes; res != NULL && n != NULL; n = n->next) {
        title = ps_config_str(n, "pubsub#title");
        subs = 0;
        json_object_foreach(n->subs, jid, v)
            if ((s = json_string_value(json_object_get(v, "sub"))) != NULL &&
                strcmp(s, "subscribed") == 0)
                subs++;
        json_array_append_new(res, json_pack(
            "{sssssIsIss}", "node", n->name, "title",
            title != NULL ? title : "",
            "items", (json_int_t) json_array_size(n->items),
            "subscribers", subs,
            "access_model", ps_config_str(n, "pubsub#access_model")));
    }
    return res;
}


static json_t *
node_info(ps_node_t *n)
{
    json_t *res = json_pack("{sssOsIs[]s[]}", "node", n->name, "config",
                            n->config, "items",
                            (json_int_t) json_array_size(n->items),
                            "subscriptions", "affiliations");
    const char *jid;
    json_t *v;

    if (res == NULL)
        return NULL;
    json_object_foreach(n->subs, jid, v)
        json_array_append_new(json_object_get(res, "subscriptions"),
                              json_pack("{ssss}", "jid", jid, "subscription",
                                        json_string_value(json_object_get(
                                            v, "sub"))));
    json_object_foreach(n->aff, jid, v)
        json_array_append_new(json_object_get(res, "affiliations"),
                              json_pack("{ssss}", "jid", jid, "affiliation",
                                        json_string_value(v)));
    return res;
}


/* Apply args.config (an object, or JSON text) to n; NULL after an
 * answer. */
static json_t *
node_configure(cmd_t *cmd, ps_service_t *svc, ps_node_t *n)
{
    json_t *config = json_object_get(cmd->args, "config");
    const char *bad = NULL;
    char msg[256];
    int rc;

    if (json_is_string(config))
        config = json_loads(json_string_value(config), 0, NULL);
    else
        json_incref(config);
    if (!json_is_object(config)) {
        json_decref(config);
        api->command_done(cmd->ctx, EMBER_EINVAL, NULL,
                          "config: a JSON object is needed");
        return NULL;
    }
    rc = ps_config_apply(svc->c, n->config, NULL, config, &bad);
    json_decref(config);
    if (rc < 0) {
        snprintf(msg, sizeof(msg), "config: bad value for '%s'",
                 bad != NULL ? bad : "?");
        api->command_done(cmd->ctx, EMBER_EINVAL, NULL, msg);
        return NULL;
    }
    ps_items_trim(svc, n);
    ps_node_save(svc, n);
    return json_pack("{sb}", "ok", 1);
}


static void
cmd_ready(ps_ctx_t *c, ps_service_t *svc, void *ud)
{
    cmd_t *cmd = ud;
    const char *name = json_string_value(json_object_get(cmd->args, "node"));
    ps_node_t *n = NULL;
    json_t *res = NULL;
    char msg[256];

    if (svc == NULL) {
        api->command_done(cmd->ctx, EMBER_EIO, NULL, "storage failed");
    } else if (cmd->which != 0 && (n = ps_node_find(svc, name)) == NULL) {
        snprintf(msg, sizeof(msg), "no node '%s' on %s",
                 name != NULL ? name : "", svc->jid);
        api->command_done(cmd->ctx, name == NULL ? EMBER_EINVAL
                                                 : EMBER_ENOENT, NULL, msg);
    } else {
        if (cmd->which == 0) {
            res = node_list(svc);
        } else if (cmd->which == 1) {
            res = node_info(n);
        } else if (cmd->which == 2) {
            if ((res = node_configure(cmd, svc, n)) == NULL)
                goto done;
        } else {
            if (ps_config_bool(n, "pubsub#notify_delete"))
                ps_notify_node(svc, n, NULL, "delete", NULL);
            ps_node_remove(svc, n);
            res = json_pack("{sb}", "ok", 1);
        }
        if (res == NULL)
            api->command_done(cmd->ctx, EMBER_ENOMEM, NULL, "out of memory");
        else
            api->command_done(cmd->ctx, 0, res, NULL);
    }
done:
    json_decref(cmd->args);
    free(cmd);
}


#define SERVICE_ARG \
    { "service", EMBER_ARG_STRING, 0, "pubsub.HOST (the default), or an " \
      "account's bare JID for its PEP nodes" }

static const ember_cmd_arg_t node_args[] = {
    { "node", EMBER_ARG_STRING, 1, "the node's name" },
    SERVICE_ARG,
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t configure_args[] = {
    { "node", EMBER_ARG_STRING, 1, "the node's name" },
    { "config", EMBER_ARG_JSON, 1, "{\"pubsub#var\": value, ...}" },
    SERVICE_ARG,
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t no_args[] = { SERVICE_ARG, { NULL, 0, 0, NULL } };

static void cmd_run(ember_cmd_ctx_t *ctx, json_t *args, void *ud);

/* In the order of cmd_t.which. */
static const ember_command_t commands[PS_NCOMMANDS] = {
    { "pubsub-nodes", "List the nodes of the pubsub service", no_args,
      "read", cmd_run },
    { "pubsub-node", "Show a pubsub node: config, subscriptions, "
      "affiliations", node_args, "read", cmd_run },
    { "pubsub-configure", "Change a pubsub node's configuration",
      configure_args, "admin", cmd_run },
    { "pubsub-delete", "Delete a pubsub node (subscribers are notified)",
      node_args, "admin", cmd_run },
};


/*
 * The service args.service names: pubsub.HOST, or the PEP service of an
 * account of this host (avatars, bookmarks, OMEMO keys live there).
 */
static ps_ctx_t *
service_of(pubsub_t *p, json_t *args, char *jid, size_t len,
           const char **why)
{
    const char *s = json_string_value(json_object_get(args, "service"));
    ember_jid_t *j;
    ps_ctx_t *c = NULL;

    if (s == NULL || strcmp(s, p->domain) == 0) {
        snprintf(jid, len, "%s", p->domain);
        *why = "this host has no pubsub service (service=\"false\")";
        return p->host.m != NULL ? &p->host : NULL;
    }
    *why = "service: pubsub.HOST, or the bare JID of an account of this "
           "host for its PEP nodes";
    if ((j = api->jid_parse(s)) == NULL)
        return NULL;
    if (api->jid_node(j) != NULL && api->jid_resource(j) == NULL &&
        p->pep.m != NULL &&
        strcmp(api->jid_domain(j), api->module_host(p->pep.m)) == 0) {
        snprintf(jid, len, "%s", api->jid_bare(j));
        c = &p->pep;
    }
    api->jid_free(j);
    return c;
}


/* ud is one of p->cmd_ud[], which tells the command. */
static void
cmd_here(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    pubsub_t **slot = ud;
    pubsub_t *p = *slot;
    cmd_t *cmd = calloc(1, sizeof(*cmd));
    char jid[1100];
    const char *why;
    ps_ctx_t *c;

    if (cmd == NULL) {
        api->command_done(ctx, EMBER_ENOMEM, NULL, "out of memory");
        return;
    }
    cmd->ctx = ctx;
    cmd->args = json_incref(args);
    cmd->which = (int) (slot - p->cmd_ud);
    if ((c = service_of(p, args, jid, sizeof(jid), &why)) == NULL) {
        json_decref(cmd->args);
        free(cmd);
        api->command_done(ctx, EMBER_EINVAL, NULL, why);
        return;
    }
    if (ps_service_ready(c, jid, cmd_ready, cmd) < 0) {
        json_decref(cmd->args);
        free(cmd);
        api->command_done(ctx, EMBER_EIO, NULL, "storage failed");
    }
}


/* On a cluster pubsub.HOST lives on one node: its commands run there (an
 * account's PEP service is served wherever its stanzas are routed). */
static void
cmd_run(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    pubsub_t *p = *(pubsub_t **) ud;
    const char *s = json_string_value(json_object_get(args, "service"));

    if (s == NULL || strcmp(s, p->domain) == 0)
        api->command_at_owner(ctx, p->domain, cmd_here, ud);
    else
        cmd_here(ctx, args, ud);
}


int
ps_commands_register(ember_module_t *m, pubsub_t *p)
{
    int i, err;

    for (i = 0; i < PS_NCOMMANDS; i++) {
        p->cmd_ud[i] = p;
        if ((err = api->command_register(m, &commands[i], &p->cmd_ud[i])) < 0)
            return err;
    }
    return 0;
}
