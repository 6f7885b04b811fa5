/*
 * mod_abi_v10.c -- a module built against the frozen 1.0 headers
 * (cc -I tests/abi/v1.0), never against plugin-api/: every later core of
 * ABI major 1 must still load it and run it.  It touches the parts of the
 * table a typical module uses: options, disco, hooks, stanza building,
 * replies, errors, JIDs, timers and a command.
 *
 * <iq type='get'><query xmlns='urn:ember:test:abi-v10'/></iq> to the host
 * answers <query greeting=... ticks=... from=... core=... table=.../>;
 * with <fail/> inside, it answers bad-request through api->stanza_error.
 */
#include <stdio.h>
#include <string.h>
#include <ember/plugin.h>

#define NS_ABI "urn:ember:test:abi-v10"

typedef struct {
    char *greeting;
    int tick_ms;
} abi_conf_t;

static const ember_option_t abi_options[] = {
    EMBER_OPT("greeting", EMBER_OPT_STRING, abi_conf_t, greeting, "hello",
              0, 64, "text echoed in every answer"),
    EMBER_OPT("tick", EMBER_OPT_INT, abi_conf_t, tick_ms, "50", 1, 10000,
              "timer period in milliseconds"),
    EMBER_OPT_END
};

static const ember_api_t *api;
static unsigned long abi_ticks;


static void
abi_tick(ember_module_t *m, ember_timer_t *t, void *ud)
{
    abi_ticks++;
}


static int
abi_on_query(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    abi_conf_t *conf = api->module_conf(m);
    ember_stanza_t *q;
    char buf[32];

    if (api->stanza_child(api->stanza_child(ev->stanza, "query", NS_ABI),
                          "fail", NULL) != NULL)
        return api->stanza_error(ev, EMBER_COND_BAD_REQUEST,
                                 "asked to fail") < 0
                   ? EMBER_HOOK_PASS : EMBER_HOOK_HANDLED;
    if ((q = api->stanza_new("query", NS_ABI)) == NULL)
        return EMBER_ENOMEM;
    api->stanza_set_attr(q, "greeting", conf->greeting);
    snprintf(buf, sizeof(buf), "%lu", abi_ticks);
    api->stanza_set_attr(q, "ticks", buf);
    api->stanza_set_attr(q, "from", ev->from != NULL
                                        ? api->jid_bare(ev->from) : "");
    api->stanza_set_attr(q, "core", api->core_version);
    /* The running core's table is at least as large as the frozen one. */
    api->stanza_set_attr(q, "table", api->size >= sizeof(ember_api_t) &&
                                     api->abi_major == EMBER_ABI_MAJOR &&
                                     EMBER_API_HAS(api, rsm_add)
                                         ? "ok" : "short");
    return api->iq_result(ev, q) < 0 ? EMBER_HOOK_PASS : EMBER_HOOK_HANDLED;
}


static void
abi_cmd_run(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    api->command_done(ctx, 0, NULL, NULL);
}


static const ember_command_t abi_cmd = {
    .name = "abi-v10-ping",
    .summary = "answers ok: proves a 1.0 module's command runs",
    .args = (const ember_cmd_arg_t[]){ { NULL, 0, 0, NULL } },
    .permission = "admin",
    .run = abi_cmd_run,
};


static int
abi_load(ember_module_t *m, const ember_api_t *a)
{
    abi_conf_t *conf = a->module_conf(m);
    int err;

    api = a;
    abi_ticks = 0;
    if ((err = api->disco_add_feature(m, NS_ABI)) < 0 ||
        (err = api->hook(m, "iq-get/host/" NS_ABI ":query", abi_on_query, 0,
                         NULL)) < 0 ||
        (err = api->command_register(m, &abi_cmd, NULL)) < 0)
        return err;
    if (api->timer_start(m, (uint64_t) conf->tick_ms,
                         (uint64_t) conf->tick_ms, abi_tick, NULL) == NULL)
        return EMBER_ENOMEM;
    api->log(m, EMBER_LOG_INFO, "built against plugin ABI %d.%d, running "
             "on core %s", EMBER_ABI_MAJOR, EMBER_API_MINOR,
             api->core_version);
    return 0;
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "abi_v10",
    .version = "1.0",
    .description = "Test: built against the frozen ABI 1.0 headers",
    .requires = (const char *const[]){ "hooks", "disco", "timers",
                                       "commands", NULL },
    .conf_size = sizeof(abi_conf_t),
    .options = abi_options,
    .load = abi_load,
};
