/* mod_time.c -- XEP-0202 Entity Time: the server's UTC time and offset. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <ember/plugin.h>

#define NS_TIME "urn:xmpp:time"

static const ember_api_t *api;


static int
add_text_child(ember_stanza_t *parent, const char *name, const char *text)
{
    ember_stanza_t *c = api->stanza_add_child(parent, name, NULL);

    return c != NULL ? api->stanza_add_text(c, text) : EMBER_ENOMEM;
}


static int
time_on_get(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    ember_stanza_t *t;
    struct timeval tv;
    struct tm utc, local;
    char day[32], utc_s[48], tzo[8];
    long off;

    if (gettimeofday(&tv, NULL) != 0 || gmtime_r(&tv.tv_sec, &utc) == NULL ||
        localtime_r(&tv.tv_sec, &local) == NULL) {
        api->stanza_error(ev, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return EMBER_HOOK_HANDLED;
    }
    /* XEP-0082 DateTime in UTC with milliseconds; the offset as +hh:mm. */
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &utc);
    snprintf(utc_s, sizeof(utc_s), "%s.%03dZ", day,
             (int) (tv.tv_usec / 1000));
    off = local.tm_gmtoff / 60;
    snprintf(tzo, sizeof(tzo), "%c%02ld:%02ld", off < 0 ? '-' : '+',
             labs(off) / 60 % 100, labs(off) % 60);
    if ((t = api->stanza_new("time", NS_TIME)) == NULL)
        return EMBER_ENOMEM;
    if (add_text_child(t, "tzo", tzo) < 0 ||
        add_text_child(t, "utc", utc_s) < 0) {
        api->stanza_free(t);
        return EMBER_ENOMEM;
    }
    api->iq_result(ev, t);
    return EMBER_HOOK_HANDLED;
}


/* Only 'get' is defined for urn:xmpp:time. */
static int
time_on_set(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    api->stanza_error(ev, EMBER_COND_BAD_REQUEST,
                      "urn:xmpp:time only defines 'get'");
    return EMBER_HOOK_HANDLED;
}


static int
time_load(ember_module_t *m, const ember_api_t *a)
{
    int err;

    api = a;
    if ((err = api->disco_add_feature(m, NS_TIME)) < 0 ||
        (err = api->hook(m, "iq-get/host/" NS_TIME ":time", time_on_get, 0,
                         NULL)) < 0 ||
        (err = api->hook(m, "iq-set/host/" NS_TIME ":time", time_on_set, 0,
                         NULL)) < 0)
        return err;
    return 0;
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER_MIN(0),
    .name = "time",
    .version = "1.0",
    .description = "XEP-0202: Entity Time of the server",
    .requires = (const char *const[]){ "hooks", "disco", NULL },
    .load = time_load,
};
