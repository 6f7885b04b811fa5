/*
 * mod_hello.c -- an example plugin: greets users who ask, counts their
 * visits in the server's storage, and gives operators two commands.
 *
 *   <iq type='get' to='example.org'><hello xmlns='urn:example:hello'/></iq>
 *   -> <hello xmlns='urn:example:hello'>
 *        <greeting>Hello, alice@example.org!</greeting><visits>3</visits>
 *      </hello>
 *
 *   emberctl hello-send alice@example.org "Maintenance at 6pm"
 *   emberctl hello-stats
 *
 * A global module (one instance for the whole server, seeing every host's
 * events), because admin command names are server-wide.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <ember/plugin.h>

#define NS_HELLO "urn:example:hello"

typedef struct {
    char *greeting;
} hello_conf_t;

static const ember_option_t hello_options[] = {
    EMBER_OPT("greeting", EMBER_OPT_STRING, hello_conf_t, greeting, "Hello",
              1, 200, "first word of every greeting"),
    EMBER_OPT_END
};

static const ember_api_t *api;
static ember_module_t *hello_mod;
static ember_store_t *hello_store;
static long long hello_pending;
static long long hello_served;


/*
 * A handler that needs storage defers its iq: api->iq_defer keeps a copy
 * of the event and the handle is the storage calls' `ud`.  Exactly one of
 * api->iq_answer or api->iq_fail ends it, and the core addresses the
 * reply.  The core drops the completions of a module that unloads and
 * answers its open handles itself, so nothing here needs freeing then.
 */
static void
hello_end(ember_iq_t *iq, ember_stanza_t *payload, int status)
{
    hello_pending--;
    if (status < 0) {
        api->log(hello_mod, EMBER_LOG_WARN, "storage: %s",
                 api->strerror(status));
        api->stanza_free(payload);
        api->iq_fail(iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    hello_served++;
    api->iq_answer(iq, payload);        /* takes the payload */
}


static const char *
hello_user(ember_iq_t *iq)
{
    return api->jid_bare(api->iq_event(iq)->from);
}


/* Third step: answer with what the store now holds. */
static void
hello_reread(int status, json_t *result, void *ud)
{
    hello_conf_t *conf = api->module_conf(hello_mod);
    ember_stanza_t *hello = NULL, *g, *v;
    char greeting[512], visits[32];

    if (status < 0) {
        hello_end(ud, NULL, status);
        return;
    }
    snprintf(greeting, sizeof(greeting), "%s, %s!", conf->greeting,
             hello_user(ud));
    snprintf(visits, sizeof(visits), "%lld", (long long) json_integer_value(
                                                 json_object_get(result,
                                                                 "visits")));
    if ((hello = api->stanza_new("hello", NS_HELLO)) == NULL ||
        (g = api->stanza_add_child(hello, "greeting", NULL)) == NULL ||
        api->stanza_add_text(g, greeting) < 0 ||
        (v = api->stanza_add_child(hello, "visits", NULL)) == NULL ||
        api->stanza_add_text(v, visits) < 0)
        status = EMBER_ENOMEM;
    hello_end(ud, hello, status);
}


static void
hello_saved(int status, json_t *result, void *ud)
{
    if (status < 0 ||
        (status = api->keyval_get(hello_store, hello_user(ud), hello_reread,
                                  ud)) < 0)
        hello_end(ud, NULL, status);
}


static void
hello_got_visits(int status, json_t *result, void *ud)
{
    json_int_t visits;
    json_t *doc;

    if (status < 0 && status != EMBER_ENOENT) {
        hello_end(ud, NULL, status);
        return;
    }
    visits = 1 + (status == 0 ? json_integer_value(json_object_get(
                                    result, "visits")) : 0);
    if ((doc = json_pack("{s:I}", "visits", visits)) == NULL) {
        hello_end(ud, NULL, EMBER_ENOMEM);
        return;
    }
    status = api->keyval_set(hello_store, hello_user(ud), doc, hello_saved,
                             ud);
    json_decref(doc);                   /* keyval_set borrows it */
    if (status < 0)
        hello_end(ud, NULL, status);
}


static int
hello_on_iq(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    ember_iq_t *iq;
    int err;

    if (ev->from == NULL || api->jid_node(ev->from) == NULL)
        return EMBER_HOOK_PASS;         /* only accounts have visits */
    if ((iq = api->iq_defer(m, ev)) == NULL) {
        api->stanza_error(ev, EMBER_COND_RESOURCE_CONSTRAINT, NULL);
        return EMBER_HOOK_HANDLED;
    }
    hello_pending++;
    if ((err = api->keyval_get(hello_store, hello_user(iq), hello_got_visits,
                               iq)) < 0)
        hello_end(iq, NULL, err);
    return EMBER_HOOK_HANDLED;
}


static void
hello_send_run(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    hello_conf_t *conf = api->module_conf(hello_mod);
    const char *to = json_string_value(json_object_get(args, "to"));
    const char *text = json_string_value(json_object_get(args, "text"));
    ember_jid_t *jid = api->jid_parse(to);  /* already checked by the core */
    ember_stanza_t *msg, *body;

    if (jid == NULL || (msg = api->stanza_new("message", NULL)) == NULL) {
        api->jid_free(jid);
        api->command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        return;
    }
    api->stanza_set_attr(msg, "type", "chat");
    api->stanza_set_attr(msg, "from", api->jid_domain(jid));
    api->stanza_set_attr(msg, "to", to);
    if ((body = api->stanza_add_child(msg, "body", NULL)) == NULL ||
        api->stanza_add_text(body, text != NULL ? text : conf->greeting) < 0) {
        api->stanza_free(msg);
        api->jid_free(jid);
        api->command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        return;
    }
    api->jid_free(jid);
    api->route(hello_mod, msg);
    api->command_done(ctx, 0, json_pack("{s:s}", "sent", to), NULL);
}


static void
hello_stats_run(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    api->command_done(ctx, 0, json_pack("{s:I, s:I}",
                                        "greetings", (json_int_t) hello_served,
                                        "pending", (json_int_t) hello_pending),
                      NULL);
}


static const ember_cmd_arg_t hello_send_args[] = {
    { "to", EMBER_ARG_JID, 1, "account or resource to send to" },
    { "text", EMBER_ARG_STRING, 0, "the message (default: the greeting)" },
    { NULL, 0, 0, NULL }
};

static const ember_command_t hello_cmds[] = {
    { "hello-send", "send a chat message from the server", hello_send_args,
      "admin", hello_send_run },
    { "hello-stats", "greetings served since the module loaded", NULL,
      "admin", hello_stats_run },
};


static int
hello_load(ember_module_t *m, const ember_api_t *a)
{
    size_t i;
    int err;

    api = a;
    hello_mod = m;
    hello_served = hello_pending = 0;
    if ((hello_store = api->store_open(m, "visits",
                                       EMBER_STORE_KEYVAL)) == NULL)
        return EMBER_ENOMEM;
    if ((err = api->disco_add_feature(m, NS_HELLO)) < 0 ||
        (err = api->hook(m, "iq-get/host/" NS_HELLO ":hello", hello_on_iq, 0,
                         NULL)) < 0)
        return err;
    for (i = 0; i < sizeof(hello_cmds) / sizeof(hello_cmds[0]); i++)
        if ((err = api->command_register(m, &hello_cmds[i], NULL)) < 0)
            return err;
    return 0;
}


static void
hello_unload(ember_module_t *m)
{
    hello_pending = 0;
    hello_store = NULL;
    hello_mod = NULL;
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "hello",
    .version = "1.0.0",
    .description = "Example: greets users, counts visits, admin commands",
    .requires = (const char *const[]){ "hooks", "storage", "commands",
                                       "disco", NULL },
    .conf_size = sizeof(hello_conf_t),
    .options = hello_options,
    .load = hello_load,
    .unload = hello_unload,
    .flags = EMBER_MODULE_GLOBAL,
};
