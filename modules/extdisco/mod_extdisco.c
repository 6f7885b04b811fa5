/* mod_extdisco.c -- XEP-0215 External Service Discovery: the STUN and TURN
 * servers clients use for calls, with time-limited TURN credentials made
 * from a secret shared with the TURN server (the "REST API" scheme coturn
 * implements as use-auth-secret / static-auth-secret). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <ember/plugin.h>

#define NS_EXTDISCO "urn:xmpp:extdisco:2"

typedef struct {
    char *stun, *turn, *turns;   /* "host:port ..." */
    char *secret;
    int ttl;                     /* seconds a TURN credential lasts */
} ext_conf_t;

static const ember_option_t ext_options[] = {
    EMBER_OPT("stun", EMBER_OPT_STRING, ext_conf_t, stun, "", 0, 4096,
              "STUN servers, host:port separated by spaces (UDP)"),
    EMBER_OPT("turn", EMBER_OPT_STRING, ext_conf_t, turn, "", 0, 4096,
              "TURN servers, host:port separated by spaces (UDP and TCP)"),
    EMBER_OPT("turns", EMBER_OPT_STRING, ext_conf_t, turns, "", 0, 4096,
              "TURN servers over TLS, host:port separated by spaces"),
    EMBER_OPT("turn-secret", EMBER_OPT_STRING, ext_conf_t, secret, "", 0,
              1024, "the TURN server's static-auth-secret: each client "
              "gets its own credentials, valid for credentials-ttl"),
    EMBER_OPT("credentials-ttl", EMBER_OPT_DURATION, ext_conf_t, ttl, "1d",
              60, 604800, "how long a TURN credential is valid"),
    EMBER_OPT_END
};

static const ember_api_t *api;


/*
 * username "EXPIRY:user@host", password base64(HMAC-SHA1(secret,
 * username)): what a TURN server with a shared secret recomputes.
 */
static int
credentials(const ext_conf_t *c, const char *bare, time_t expires,
            char *user, size_t ulen, char *pass, size_t plen)
{
    unsigned char mac[20];
    gnutls_datum_t in = { mac, sizeof(mac) }, out = { NULL, 0 };

    if ((size_t) snprintf(user, ulen, "%lld:%s", (long long) expires, bare)
        >= ulen)
        return EMBER_EINVAL;
    if (gnutls_hmac_fast(GNUTLS_MAC_SHA1, c->secret, strlen(c->secret),
                         user, strlen(user), mac) < 0 ||
        gnutls_base64_encode2(&in, &out) < 0)
        return EMBER_EIO;
    snprintf(pass, plen, "%.*s", (int) out.size, (const char *) out.data);
    gnutls_free(out.data);
    return 0;
}


typedef struct {
    ember_stanza_t *services;
    const char *want;            /* the type asked for, or NULL */
    const char *bare;
    const ext_conf_t *conf;
    int err;
} ext_walk_t;


static void
add_service(ext_walk_t *w, const char *type, const char *hostport,
            const char *transport)
{
    char host[512], port[8], user[1200], pass[64], when[32];
    const char *colon = strrchr(hostport, ':');
    time_t expires = time(NULL) + w->conf->ttl;
    ember_stanza_t *s;
    struct tm tm;

    if (w->want != NULL && strcmp(w->want, type) != 0)
        return;
    if (colon == NULL || colon == hostport ||
        (size_t) (colon - hostport) >= sizeof(host) ||
        strlen(colon + 1) >= sizeof(port))
        return;
    snprintf(host, sizeof(host), "%.*s", (int) (colon - hostport), hostport);
    snprintf(port, sizeof(port), "%s", colon + 1);
    if ((s = api->stanza_add_child(w->services, "service", NULL)) == NULL) {
        w->err = EMBER_ENOMEM;
        return;
    }
    api->stanza_set_attr(s, "type", type);
    api->stanza_set_attr(s, "host", host);
    api->stanza_set_attr(s, "port", port);
    api->stanza_set_attr(s, "transport", transport);
    if (strncmp(type, "turn", 4) != 0 || w->conf->secret[0] == '\0')
        return;
    if (credentials(w->conf, w->bare, expires, user, sizeof(user), pass,
                    sizeof(pass)) < 0) {
        w->err = EMBER_EIO;
        return;
    }
    gmtime_r(&expires, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    api->stanza_set_attr(s, "username", user);
    api->stanza_set_attr(s, "password", pass);
    api->stanza_set_attr(s, "expires", when);
    api->stanza_set_attr(s, "restricted", "1");
}


static void
add_list(ext_walk_t *w, const char *list, const char *type,
         const char *const *transports)
{
    char *copy = strdup(list), *tok, *save;
    size_t i;

    if (copy == NULL) {
        w->err = EMBER_ENOMEM;
        return;
    }
    for (tok = strtok_r(copy, " \t\n", &save); tok != NULL;
         tok = strtok_r(NULL, " \t\n", &save))
        for (i = 0; transports[i] != NULL; i++)
            add_service(w, type, tok, transports[i]);
    free(copy);
}


static int
ext_on_services(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    static const char *const udp[] = { "udp", NULL };
    static const char *const both[] = { "udp", "tcp", NULL };
    static const char *const tcp[] = { "tcp", NULL };
    const ext_conf_t *conf = api->module_conf(m);
    ember_stanza_t *q = api->stanza_child(ev->stanza, "services",
                                          NS_EXTDISCO);
    ext_walk_t w = { NULL, api->stanza_attr(q, "type"), NULL, conf, 0 };

    if (ev->from == NULL || api->jid_node(ev->from) == NULL) {
        api->stanza_error(ev, EMBER_COND_FORBIDDEN, NULL);
        return EMBER_HOOK_HANDLED;
    }
    w.bare = api->jid_bare(ev->from);
    if ((w.services = api->stanza_new("services", NS_EXTDISCO)) == NULL)
        return EMBER_ENOMEM;
    if (w.want != NULL)
        api->stanza_set_attr(w.services, "type", w.want);
    add_list(&w, conf->stun, "stun", udp);
    add_list(&w, conf->turn, "turn", both);
    add_list(&w, conf->turns, "turns", tcp);
    if (w.err < 0) {
        api->stanza_free(w.services);
        api->stanza_error(ev, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return EMBER_HOOK_HANDLED;
    }
    api->iq_result(ev, w.services);
    return EMBER_HOOK_HANDLED;
}


static int
ext_load(ember_module_t *m, const ember_api_t *a)
{
    int err;

    api = a;
    if ((err = api->disco_add_feature(m, NS_EXTDISCO)) < 0 ||
        (err = api->hook(m, "iq-get/host/" NS_EXTDISCO ":services",
                         ext_on_services, 0, NULL)) < 0)
        return err;
    return 0;
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER_MIN(1),
    .name = "extdisco",
    .version = "1.0",
    .description = "XEP-0215: STUN and TURN servers for calls, with "
                   "time-limited TURN credentials",
    .requires = (const char *const[]){ "hooks", "disco", "iq", NULL },
    .conf_size = sizeof(ext_conf_t),
    .options = ext_options,
    .load = ext_load,
};
