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

/*
 * One iq waiting for storage.  The core drops the completions of a module
 * that unloads, so the module keeps its requests and frees them itself.
 */
typedef struct hello_req_s {
    ember_stanza_t *iq;          /* a copy: the event is gone by then */
    char *user;                  /* bare JID, the storage key */
    long long visits;
    struct hello_req_s *prev, *next;
} hello_req_t;

static const ember_api_t *api;
static ember_module_t *hello_mod;
static ember_store_t *hello_store;
static hello_req_t *hello_pending;
static long long hello_served;


static void
req_free(hello_req_t *r)
{
    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        hello_pending = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    api->stanza_free(r->iq);
    free(r->user);
    free(r);
}


static void
req_fail(hello_req_t *r, int status)
{
    ember_stanza_t *err;

    api->log(hello_mod, EMBER_LOG_WARN, "storage: %s",
             api->strerror(status));
    if ((err = api->error_reply(r->iq, EMBER_COND_INTERNAL_SERVER_ERROR,
                                NULL)) != NULL)
        api->route(hello_mod, err);
    req_free(r);
}


/* Build the result by hand: api->iq_result needs the event, which only
 * lives as long as the handler. */
static void
hello_saved(int status, json_t *result, void *ud)
{
    hello_req_t *r = ud;
    hello_conf_t *conf = api->module_conf(hello_mod);
    ember_stanza_t *reply, *hello, *el;
    char text[512];

    if (status < 0) {
        req_fail(r, status);
        return;
    }
    if ((reply = api->stanza_new("iq", NULL)) == NULL) {
        req_free(r);
        return;
    }
    api->stanza_set_attr(reply, "type", "result");
    api->stanza_set_attr(reply, "id", api->stanza_attr(r->iq, "id"));
    api->stanza_set_attr(reply, "to", api->stanza_attr(r->iq, "from"));
    api->stanza_set_attr(reply, "from", api->stanza_attr(r->iq, "to"));
    hello = api->stanza_add_child(reply, "hello", NS_HELLO);
    snprintf(text, sizeof(text), "%s, %s!", conf->greeting, r->user);
    if (hello == NULL ||
        (el = api->stanza_add_child(hello, "greeting", NULL)) == NULL ||
        api->stanza_add_text(el, text) < 0 ||
        (el = api->stanza_add_child(hello, "visits", NULL)) == NULL) {
        api->stanza_free(reply);
        req_free(r);
        return;
    }
    snprintf(text, sizeof(text), "%lld", r->visits);
    api->stanza_add_text(el, text);
    hello_served++;
    api->route(hello_mod, reply);       /* takes the stanza */
    req_free(r);
}


static void
hello_got_visits(int status, json_t *result, void *ud)
{
    hello_req_t *r = ud;
    json_t *doc;
    int err;

    if (status < 0 && status != EMBER_ENOENT) {
        req_fail(r, status);
        return;
    }
    r->visits = 1 + (status == 0 ? json_integer_value(json_object_get(
                                       result, "visits")) : 0);
    if ((doc = json_pack("{s:I}", "visits", (json_int_t) r->visits)) == NULL) {
        req_fail(r, EMBER_ENOMEM);
        return;
    }
    err = api->keyval_set(hello_store, r->user, doc, hello_saved, r);
    json_decref(doc);                   /* keyval_set borrows it */
    if (err < 0)
        req_fail(r, err);
}


static int
hello_on_iq(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    hello_req_t *r;
    int err;

    if (ev->from == NULL || api->jid_node(ev->from) == NULL)
        return EMBER_HOOK_PASS;         /* only accounts have visits */
    if ((r = calloc(1, sizeof(*r))) == NULL ||
        (r->iq = api->stanza_copy(ev->stanza)) == NULL ||
        (r->user = strdup(api->jid_bare(ev->from))) == NULL) {
        if (r != NULL)
            api->stanza_free(r->iq);
        free(r);
        api->stanza_error(ev, EMBER_COND_RESOURCE_CONSTRAINT, NULL);
        return EMBER_HOOK_HANDLED;
    }
    r->next = hello_pending;
    if (hello_pending != NULL)
        hello_pending->prev = r;
    hello_pending = r;
    if ((err = api->keyval_get(hello_store, r->user, hello_got_visits,
                               r)) < 0)
        req_fail(r, err);
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
    long long pending = 0;
    hello_req_t *r;

    for (r = hello_pending; r != NULL; r = r->next)
        pending++;
    api->command_done(ctx, 0, json_pack("{s:I, s:I}",
                                        "greetings", (json_int_t) hello_served,
                                        "pending", (json_int_t) pending),
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
    hello_served = 0;
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
    while (hello_pending != NULL)
        req_free(hello_pending);
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
