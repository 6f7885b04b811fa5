/* mod_ping.c -- XEP-0199 XMPP Ping: answer pings, and ping idle clients,
 * closing the stream of one that does not answer. */
#include <stdlib.h>
#include <ember/plugin.h>

#define NS_PING "urn:xmpp:ping"

typedef struct {
    int interval;   /* seconds of client silence before a ping; 0 = never */
    int timeout;    /* seconds to wait for the answer */
} ping_conf_t;

static const ember_option_t ping_options[] = {
    EMBER_OPT("interval", EMBER_OPT_DURATION, ping_conf_t, interval, "5m",
              0, 86400, "ping clients silent this long (0: never)"),
    EMBER_OPT("timeout", EMBER_OPT_DURATION, ping_conf_t, timeout, "30s",
              1, 3600, "close a stream whose ping is not answered in time"),
    EMBER_OPT_END
};

/* The session slot holds this marker while a ping is in flight. */
static char ping_in_flight;

static const ember_api_t *api;

static int
ping_on_iq(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    return api->iq_result(ev, NULL) < 0 ? EMBER_HOOK_PASS : EMBER_HOOK_HANDLED;
}


/* ud is the pinged session's ref: a session that took its full JID since
 * is not the one that stayed silent. */
static void
ping_answered(ember_module_t *m, ember_stanza_t *reply, void *ud)
{
    ember_session_t *s = api->session_get(*(ember_session_ref_t *) ud);
    void **slot;

    free(ud);
    if (s == NULL)
        return;
    if ((slot = api->session_slot(m, s)) != NULL)
        *slot = NULL;
    if (reply == NULL) {
        api->log(m, EMBER_LOG_INFO, "%s did not answer a ping: closing",
                 api->jid_full(api->session_jid(s)));
        api->session_end(s, EMBER_STREAM_CONNECTION_TIMEOUT, NULL);
    }
}


static void
ping_session(ember_session_t *s, void *ud)
{
    ember_module_t *m = ud;
    ping_conf_t *conf = api->module_conf(m);
    const ember_jid_t *j = api->session_jid(s);
    ember_stanza_t *iq;
    ember_session_ref_t *ref;
    void **slot;

    if (j == NULL ||
        api->session_idle_ms(s) < (uint64_t) conf->interval * 1000 ||
        (slot = api->session_slot(m, s)) == NULL || *slot == &ping_in_flight)
        return;
    if ((iq = api->stanza_new("iq", NULL)) == NULL)
        return;
    if ((ref = malloc(sizeof(*ref))) == NULL) {
        api->stanza_free(iq);
        return;
    }
    *ref = api->session_ref(s);
    api->stanza_set_attr(iq, "type", "get");
    api->stanza_set_attr(iq, "from", api->module_host(m));
    api->stanza_set_attr(iq, "to", api->jid_full(j));
    api->stanza_add_child(iq, "ping", NS_PING);
    *slot = &ping_in_flight;
    if (api->iq_send(m, iq, (unsigned) conf->timeout * 1000, ping_answered,
                     ref) < 0) {
        *slot = NULL;
        free(ref);
    }
}


static void
ping_sweep(ember_module_t *m, ember_timer_t *t, void *ud)
{
    api->host_sessions(m, ping_session, m);
}


static int
ping_load(ember_module_t *m, const ember_api_t *a)
{
    ping_conf_t *conf = a->module_conf(m);
    uint64_t every;
    int err;

    api = a;
    if ((err = api->disco_add_feature(m, NS_PING)) < 0 ||
        (err = api->hook(m, "iq-get/host/" NS_PING ":ping", ping_on_iq, 0,
                         NULL)) < 0 ||
        (err = api->hook(m, "iq-get/self/" NS_PING ":ping", ping_on_iq, 0,
                         NULL)) < 0)
        return err;
    if (conf->interval > 0) {
        /* Sweeping at a quarter of the interval pings a client at most a
         * quarter interval late, without a timer per session. */
        every = (uint64_t) conf->interval * 250;
        if (every < 250)
            every = 250;
        if (api->timer_start(m, every, every, ping_sweep, NULL) == NULL)
            return EMBER_ENOMEM;
    }
    return 0;
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "ping",
    .version = "1.0",
    .description = "XEP-0199: XMPP Ping, with pings of idle clients",
    .requires = (const char *const[]){ "hooks", "disco", "iq", "timers",
                                       "sessions", NULL },
    .conf_size = sizeof(ping_conf_t),
    .options = ping_options,
    .load = ping_load,
};
