/* mod_caps.c -- XEP-0115 Entity Capabilities: the server's own caps in
 * stream features, and the verified features of each client session,
 * learnt from its presence and published as the "caps" interface. */
#include <stdlib.h>
#include <string.h>
#include "caps.h"

static const ember_option_t caps_options[] = {
    EMBER_OPT("node", EMBER_OPT_STRING, caps_conf_t, node, "urn:ember:caps",
              1, 1024, "caps node of the server (names the software)"),
    EMBER_OPT("query-timeout", EMBER_OPT_DURATION, caps_conf_t,
              query_timeout, "10s", 1, 600,
              "how long a client has to answer the disco#info query"),
    EMBER_OPT("max-queries", EMBER_OPT_INT, caps_conf_t, max_queries, "10",
              1, 1000, "disco#info queries sent to one session at most"),
    EMBER_OPT("max-cache", EMBER_OPT_INT, caps_conf_t, max_cache, "4096",
              16, 1000000, "verification strings kept in memory"),
    EMBER_OPT_END
};

const ember_api_t *api;


/* ---- the server's own caps ---- */

static int
caps_on_features(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    caps_conf_t *conf = api->module_conf(m);
    ember_stanza_t *query, *c;
    char *ver;

    if (ev->data == NULL || caps_host_info(m, &query, &ver) < 0)
        return EMBER_HOOK_PASS;
    if ((c = api->stanza_add_child(ev->data, "c", NS_CAPS)) != NULL) {
        api->stanza_set_attr(c, "hash", "sha-1");
        api->stanza_set_attr(c, "node", conf->node);
        api->stanza_set_attr(c, "ver", ver);
    }
    api->stanza_free(query);
    free(ver);
    return EMBER_HOOK_PASS;
}


/* disco#info on "<node>#<ver>" answers what the string was made of. */
static int
caps_on_disco(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    caps_conf_t *conf = api->module_conf(m);
    ember_stanza_t *q = api->stanza_first(ev->stanza), *query;
    const char *node = api->stanza_attr(q, "node");
    size_t n = strlen(conf->node);
    char *ver;

    if (node == NULL || strncmp(node, conf->node, n) != 0 || node[n] != '#')
        return EMBER_HOOK_PASS;
    if (caps_host_info(m, &query, &ver) < 0)
        return EMBER_ENOMEM;
    if (strcmp(node + n + 1, ver) != 0) {
        api->stanza_free(query);
        free(ver);
        return EMBER_HOOK_PASS;
    }
    free(ver);
    api->stanza_set_attr(query, "node", node);
    api->iq_result(ev, query);
    return EMBER_HOOK_HANDLED;
}


/* ---- the "caps" interface ---- */

static caps_sess_t *
iface_sess(const ember_caps_iface_t *self, ember_session_t *s,
           const char *full, int *found)
{
    const caps_state_t *cst = (const caps_state_t *) self;

    if (s == NULL)
        s = caps_session_by_jid(cst->m, full);
    *found = s != NULL && api->session_jid(s) != NULL;
    return *found ? caps_sess_get(cst->m, s, 0) : NULL;
}


static int
iface_known(const ember_caps_iface_t *self, ember_session_t *s,
            const char *full_jid)
{
    int found;
    caps_sess_t *cs = iface_sess(self, s, full_jid, &found);

    if (!found)
        return EMBER_ENOENT;
    return cs != NULL && cs->entry != NULL;
}


static int
iface_has(const ember_caps_iface_t *self, ember_session_t *s,
          const char *full_jid, const char *feature)
{
    int found;
    caps_sess_t *cs = iface_sess(self, s, full_jid, &found);

    return cs != NULL && cs->entry != NULL && feature != NULL &&
           json_object_get(json_object_get(cs->entry, "set"), feature) !=
               NULL;
}


static int
iface_foreach(const ember_caps_iface_t *self, ember_session_t *s,
              const char *full_jid, ember_caps_feature_cb cb, void *ud)
{
    int found, n = 0;
    caps_sess_t *cs = iface_sess(self, s, full_jid, &found);
    json_t *feats, *f;
    size_t i;

    if (cs == NULL || cs->entry == NULL)
        return EMBER_ENOENT;
    /* Hold the entry: the callback may make the session change it. */
    feats = json_incref(json_object_get(cs->entry, "features"));
    json_array_foreach(feats, i, f) {
        n++;
        if (cb(json_string_value(f), ud) != 0)
            break;
    }
    json_decref(feats);
    return n;
}


static int
iface_announced(const ember_caps_iface_t *self, ember_session_t *s,
                const char *full_jid, const char **node, const char **hash,
                const char **ver)
{
    int found;
    caps_sess_t *cs = iface_sess(self, s, full_jid, &found);

    if (cs == NULL || cs->ver == NULL)
        return EMBER_ENOENT;
    if (node != NULL)
        *node = cs->node;
    if (hash != NULL)
        *hash = cs->hash;
    if (ver != NULL)
        *ver = cs->ver;
    return 0;
}


/* ---- admin command: what the server knows of a session ---- */

static const ember_cmd_arg_t show_args[] = {
    { "jid", EMBER_ARG_JID, 1, "full JID of a client session" },
    { NULL, 0, 0, NULL }
};


static void
caps_show(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    ember_module_t *m = ud;
    const char *jid = json_string_value(json_object_get(args, "jid"));
    ember_session_t *s = caps_session_by_jid(m, jid);
    caps_sess_t *cs = s != NULL ? caps_sess_get(m, s, 0) : NULL;
    json_t *r;

    if (s == NULL) {
        api->command_done(ctx, EMBER_ENOENT, NULL, "no such session");
        return;
    }
    r = json_pack("{s:s, s:s?, s:s?, s:s?, s:b}", "jid", jid,
                  "node", cs != NULL ? cs->node : NULL,
                  "hash", cs != NULL ? cs->hash : NULL,
                  "ver", cs != NULL ? cs->ver : NULL,
                  "known", cs != NULL && cs->entry != NULL);
    if (r != NULL && cs != NULL && cs->entry != NULL) {
        json_object_set(r, "features",
                        json_object_get(cs->entry, "features"));
        json_object_set(r, "identities",
                        json_object_get(cs->entry, "identities"));
    }
    api->command_done(ctx, r != NULL ? 0 : EMBER_ENOMEM, r, NULL);
}


static const ember_command_t show_cmd = {
    "caps", "features a client session announced (XEP-0115)", show_args,
    "read", caps_show
};


static int
caps_load(ember_module_t *m, const ember_api_t *a)
{
    caps_state_t *cst;
    int err;

    api = a;
    if ((cst = calloc(1, sizeof(*cst))) == NULL)
        return EMBER_ENOMEM;
    api->module_set_data(m, cst);
    cst->m = m;
    cst->iface.size = sizeof(cst->iface);
    cst->iface.known = iface_known;
    cst->iface.has_feature = iface_has;
    cst->iface.foreach_feature = iface_foreach;
    cst->iface.announced = iface_announced;
    if ((cst->cache = json_object()) == NULL ||
        (cst->store = api->store_open(m, "caps", EMBER_STORE_MAP)) == NULL)
        return EMBER_ENOMEM;
    if ((err = api->session_slot_destructor(m, caps_sess_free)) < 0 ||
        (err = api->disco_add_feature(m, NS_CAPS)) < 0 ||
        (err = api->hook(m, "pre-presence/self", caps_on_presence, 50,
                         NULL)) < 0 ||
        (err = api->hook(m, EMBER_EV_STREAM_FEATURES, caps_on_features, 0,
                         NULL)) < 0 ||
        (err = api->hook(m, "iq-get/host/" NS_DISCO_INFO ":query",
                         caps_on_disco, 10, NULL)) < 0 ||
        (err = api->iface_provide(m, EMBER_CAPS_IFACE, &cst->iface)) < 0)
        return err;
    /* The command is a convenience: a core that refuses a second host's
     * registration leaves the module working without it. */
    if ((err = api->command_register(m, &show_cmd, m)) < 0)
        api->log(m, EMBER_LOG_INFO, "command 'caps' not registered: %s",
                 api->strerror(err));
    return 0;
}


static void
caps_unload(ember_module_t *m)
{
    caps_state_t *cst = api->module_data(m);

    if (cst == NULL)
        return;
    while (cst->pending != NULL)
        caps_pend_free(cst->pending);
    json_decref(cst->cache);
    free(cst);
    api->module_set_data(m, NULL);
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "caps",
    .version = "1.0",
    .description = "XEP-0115: Entity Capabilities",
    .requires = (const char *const[]){ "hooks", "disco", "storage", "iq",
                                       "sessions", "commands", "ifaces",
                                       NULL },
    .conf_size = sizeof(caps_conf_t),
    .options = caps_options,
    .load = caps_load,
    .unload = caps_unload,
};
