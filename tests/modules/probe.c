/*
 * Test-only module: registers one of each thing the core must release on
 * unload (an iq hook, a repeating timer, a disco feature, session slots
 * with a destructor) and answers
 *   <iq type='get'><query xmlns='urn:ember:test:probe'/></iq>
 * with <query ticks='N' sessions='M' greeting='...'/>.  Were anything left
 * behind after an unload, its callback would run in an unmapped library.
 * The command probe-greeting answers {"host", "greeting"} of the instance
 * that ran it (per-host commands).
 */
#include <stdio.h>
#include <stdlib.h>
#include <jansson.h>

#include <ember/plugin.h>

#define PROBE_NS "urn:ember:test:probe"

typedef struct {
    int tick_ms;
    char *greeting;
} probe_conf_t;

static const ember_api_t *probe_api;

typedef struct {
    const ember_api_t *api;
    unsigned long ticks;
    unsigned long slots;
} probe_state_t;

static const ember_option_t probe_options[] = {
    EMBER_OPT("tick", EMBER_OPT_INT, probe_conf_t, tick_ms, "20", 1, 60000,
              "timer period in milliseconds"),
    EMBER_OPT("greeting", EMBER_OPT_STRING, probe_conf_t, greeting, "hello",
              0, 64, "echoed in every answer"),
    EMBER_OPT_END
};

static void
probe_tick(ember_module_t *m, ember_timer_t *t, void *ud)
{
    probe_state_t *st = ud;

    st->ticks++;
}


static void
probe_slot_free(void *p)
{
    free(p);
}


static int
probe_on_query(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    probe_state_t *st = ud;
    const ember_api_t *api = st->api;
    probe_conf_t *conf = api->module_conf(m);
    ember_stanza_t *q;
    void **slot;
    char buf[32];

    if (ev->origin != NULL) {
        slot = api->session_slot(m, ev->origin);
        if (slot != NULL && *slot == NULL &&
            (*slot = malloc(16)) != NULL)
            st->slots++;
    }
    if ((q = api->stanza_new("query", PROBE_NS)) == NULL)
        return EMBER_ENOMEM;
    snprintf(buf, sizeof(buf), "%lu", st->ticks);
    api->stanza_set_attr(q, "ticks", buf);
    snprintf(buf, sizeof(buf), "%lu", st->slots);
    api->stanza_set_attr(q, "sessions", buf);
    api->stanza_set_attr(q, "greeting", conf->greeting);
    api->iq_result(ev, q);
    return EMBER_HOOK_HANDLED;
}


static void
probe_greeting_run(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    ember_module_t *m = ud;
    probe_conf_t *conf = probe_api->module_conf(m);

    probe_api->command_done(ctx, 0, json_pack("{s:s, s:s}", "host",
                                              probe_api->module_host(m),
                                              "greeting", conf->greeting),
                            NULL);
}


static const ember_cmd_arg_t probe_greeting_args[] = {
    { NULL, 0, 0, NULL }
};

static const ember_command_t probe_greeting_cmd = {
    "probe-greeting", "the greeting of this host's probe",
    probe_greeting_args, "admin", probe_greeting_run
};


static int
probe_load(ember_module_t *m, const ember_api_t *api)
{
    probe_conf_t *conf = api->module_conf(m);
    probe_state_t *st = calloc(1, sizeof(*st));
    int err;

    if (st == NULL)
        return EMBER_ENOMEM;
    probe_api = api;
    st->api = api;
    api->module_set_data(m, st);
    if ((err = api->hook(m, "iq-get/host/" PROBE_NS ":query", probe_on_query,
                         0, st)) < 0 ||
        (err = api->disco_add_feature(m, PROBE_NS)) < 0 ||
        (err = api->session_slot_destructor(m, probe_slot_free)) < 0 ||
        (err = api->command_register(m, &probe_greeting_cmd, m)) < 0)
        goto fail;
    if (api->timer_start(m, (uint64_t)conf->tick_ms, (uint64_t)conf->tick_ms,
                         probe_tick, st) == NULL) {
        err = EMBER_ENOMEM;
        goto fail;
    }
    return 0;

fail:
    /* The core drops what was registered; unload is not called. */
    api->module_set_data(m, NULL);
    free(st);
    return err;
}


static void
probe_unload(ember_module_t *m)
{
    free(probe_api->module_data(m));
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "probe",
    .version = "1.0",
    .description = "Test: one of each registration, to prove unload",
    .conf_size = sizeof(probe_conf_t),
    .options = probe_options,
    .load = probe_load,
    .unload = probe_unload,
};
