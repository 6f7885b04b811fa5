/* mod_pubsub.c -- XEP-0060 Publish-Subscribe: a generic service on
 * pubsub.HOST, and the same engine for every account's PEP service
 * (XEP-0163) through the "pubsub" interface that mod_pep uses. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pubsub.h"

typedef struct {
    int service;
    char *domain;
    char *create_nodes;
    int max_items;
    int max_items_limit;
    int max_payload;
} pubsub_conf_t;

static const ember_option_t pubsub_options[] = {
    EMBER_OPT("service", EMBER_OPT_BOOL, pubsub_conf_t, service, "true", 0,
              1, "serve pubsub.HOST; false: only the engine for PEP"),
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

const ember_api_t *api;


static int
pubsub_on_stanza(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    pubsub_t *p = ud;
    const char *kind = api->stanza_name(ev->stanza);
    const char *type = api->stanza_attr(ev->stanza, "type");
    int error = type != NULL && strcmp(type, "error") == 0;

    if (strcmp(kind, "iq") == 0) {
        if (error || (type != NULL && strcmp(type, "result") == 0))
            return EMBER_HOOK_HANDLED;
        if (api->jid_node(ev->to) != NULL ||
            api->jid_resource(ev->to) != NULL)
            return EMBER_HOOK_PASS;
    } else if (strcmp(kind, "message") != 0 || error ||
               api->stanza_child(ev->stanza, "x", "jabber:x:data") == NULL) {
        return strcmp(kind, "presence") == 0 || error ? EMBER_HOOK_HANDLED
                                                      : EMBER_HOOK_PASS;
    }
    return ps_start(&p->host, PS_OP_STANZA, p->domain, ev, NULL) < 0
               ? EMBER_HOOK_PASS : EMBER_HOOK_HANDLED;
}


/* ---- the "pubsub" interface: PEP services ---- */

/* The PEP context with the caller's settings (PEP's defaults for zero or
 * missing fields). */
static ps_ctx_t *
pep_of(const ember_pubsub_iface_t *self)
{
    pubsub_t *p = (pubsub_t *) (void *) ((char *) self -
                                         offsetof(pubsub_t, iface));

    return &p->pep;
}


static ps_ctx_t *
pep_ctx(const ember_pubsub_iface_t *self, const ember_pubsub_opts_t *o)
{
    ps_ctx_t *c = pep_of(self);
    size_t have = o != NULL ? o->size : 0;

#define PS_OPT(f, def)                                                       \
    c->f = have >= offsetof(ember_pubsub_opts_t, f) + sizeof(o->f) &&        \
           o->f > 0 ? o->f : (def)
    PS_OPT(max_items, 1);
    PS_OPT(max_items_limit, 1000);
    PS_OPT(max_payload, 262144);
#undef PS_OPT
    return c;
}


ps_ctx_t *
ps_pep_ctx(pubsub_t *p)
{
    return pep_ctx(&p->iface, NULL);
}


static int
pep_request(const ember_pubsub_iface_t *self, const ember_event_t *ev,
            const ember_pubsub_opts_t *o)
{
    if (ev == NULL || ev->to == NULL || api->jid_node(ev->to) == NULL)
        return EMBER_EINVAL;
    return ps_start(pep_ctx(self, o), PS_OP_STANZA, api->jid_bare(ev->to),
                    ev, NULL);
}


static int
pep_send_last(const ember_pubsub_iface_t *self, const char *account,
              const char *full_jid, const ember_pubsub_opts_t *o)
{
    if (account == NULL || full_jid == NULL)
        return EMBER_EINVAL;
    return ps_start(pep_ctx(self, o), PS_OP_LAST, account, NULL, full_jid);
}


static int
pep_remove(const ember_pubsub_iface_t *self, const char *account,
           const ember_pubsub_opts_t *o)
{
    if (account == NULL)
        return EMBER_EINVAL;
    return ps_start(pep_ctx(self, o), PS_OP_WIPE, account, NULL, NULL);
}


/* An <iq type='...'><pubsub><NAME node='...'/></pubsub></iq> for a call
 * of the interface; *el is NAME. */
static ember_stanza_t *
local_iq(const char *type, const char *name, const char *node,
         ember_stanza_t **el)
{
    ember_stanza_t *iq = api->stanza_new("iq", NULL), *ps;

    if (iq == NULL || api->stanza_set_attr(iq, "type", type) < 0 ||
        (ps = api->stanza_add_child(iq, "pubsub", PS_NS)) == NULL ||
        (*el = api->stanza_add_child(ps, name, NULL)) == NULL ||
        api->stanza_set_attr(*el, "node", node) < 0) {
        api->stanza_free(iq);
        return NULL;
    }
    return iq;
}


static int
pep_items(const ember_pubsub_iface_t *self, const char *account,
          const char *node, int max, ember_pubsub_items_cb cb, void *ud,
          const ember_pubsub_opts_t *o)
{
    ember_stanza_t *iq, *el;
    char n[16];

    if (account == NULL || node == NULL || cb == NULL)
        return EMBER_EINVAL;
    if ((iq = local_iq("get", "items", node, &el)) == NULL)
        return EMBER_ENOMEM;
    snprintf(n, sizeof(n), "%d", max);
    if (max > 0 && api->stanza_set_attr(el, "max_items", n) < 0) {
        api->stanza_free(iq);
        return EMBER_ENOMEM;
    }
    return ps_start_local(pep_ctx(self, o), account, iq, NULL, cb, ud);
}


static int
pep_publish(const ember_pubsub_iface_t *self, const char *account,
            const char *node, const char *id, const ember_stanza_t *payload,
            const ember_stanza_t *options, ember_pubsub_done_cb done,
            void *ud, const ember_pubsub_opts_t *o)
{
    ember_stanza_t *iq, *el, *item, *po;

    if (account == NULL || node == NULL || payload == NULL)
        return EMBER_EINVAL;
    if ((iq = local_iq("set", "publish", node, &el)) == NULL)
        return EMBER_ENOMEM;
    if ((item = api->stanza_add_child(el, "item", NULL)) == NULL ||
        (id != NULL && api->stanza_set_attr(item, "id", id) < 0) ||
        api->stanza_append(item, payload) < 0 ||
        (options != NULL &&
         ((po = api->stanza_add_child(api->stanza_first(iq),
                                      "publish-options", NULL)) == NULL ||
          api->stanza_append(po, options) < 0))) {
        api->stanza_free(iq);
        return EMBER_ENOMEM;
    }
    return ps_start_local(pep_ctx(self, o), account, iq, done, NULL, ud);
}


static int
pep_retract(const ember_pubsub_iface_t *self, const char *account,
            const char *node, const char *id, ember_pubsub_done_cb done,
            void *ud, const ember_pubsub_opts_t *o)
{
    ember_stanza_t *iq, *el, *item;

    if (account == NULL || node == NULL || id == NULL)
        return EMBER_EINVAL;
    if ((iq = local_iq("set", "retract", node, &el)) == NULL)
        return EMBER_ENOMEM;
    if (api->stanza_set_attr(el, "notify", "true") < 0 ||
        (item = api->stanza_add_child(el, "item", NULL)) == NULL ||
        api->stanza_set_attr(item, "id", id) < 0) {
        api->stanza_free(iq);
        return EMBER_ENOMEM;
    }
    return ps_start_local(pep_ctx(self, o), account, iq, done, NULL, ud);
}


static void
pep_cancel(const ember_pubsub_iface_t *self, ember_pubsub_items_cb cb,
           ember_pubsub_done_cb done)
{
    ps_cancel_local(pep_of(self), cb, done);
}


/* ---- load ---- */

static void
preloaded(ps_ctx_t *c, ps_service_t *svc, void *ud)
{
}


/* On a cluster this node now serves pubsub.HOST (doc/cluster.md). */
static void
pubsub_on_claim(ember_module_t *m, const char *jid, void *ud)
{
    pubsub_t *p = ud;

    ps_service_reload(&p->host, p->domain, preloaded);
}


static int
serve(ember_module_t *m, pubsub_t *p, const pubsub_conf_t *conf)
{
    static const char *const policies[] = { "anyone", "admins", "local" };
    int err, i;

    for (i = 0; i < 3 && strcmp(conf->create_nodes, policies[i]) != 0; i++)
        ;
    if (i == 3) {
        api->log(m, EMBER_LOG_ERROR, "create-nodes: anyone, admins or "
                 "local, not '%s'", conf->create_nodes);
        return EMBER_EINVAL;
    }
    p->host.create_policy = PS_CREATE_ANYONE + i;
    p->host.max_items = conf->max_items;
    p->host.max_items_limit = conf->max_items_limit;
    p->host.max_payload = conf->max_payload;
    if (conf->domain != NULL && conf->domain[0] != '\0')
        snprintf(p->domain, sizeof(p->domain), "%s", conf->domain);
    else
        snprintf(p->domain, sizeof(p->domain), "pubsub.%s",
                 api->module_host(m));
    if ((err = ps_ctx_init(&p->host, m, 0)) < 0)
        return err;
    if ((err = api->service_add(m, p->domain, pubsub_on_stanza, p)) < 0) {
        api->log(m, EMBER_LOG_ERROR, "cannot serve %s: %s", p->domain,
                 api->strerror(err));
        return err;
    }
    if ((err = api->service_on_claim(m, p->domain, pubsub_on_claim, p)) < 0 ||
        (err = api->disco_add_item(m, p->domain, "Publish-Subscribe")) < 0 ||
        (err = ps_commands_register(m, p)) < 0)
        return err;
    /* Nodes are read in the background so the first request finds them. */
    ps_service_ready(&p->host, p->domain, preloaded, NULL);
    return 0;
}


static void
pubsub_unload(ember_module_t *m);


/* Another node stored a change to an account's PEP service: what this
 * node keeps of it is old. */
static int
pep_changed(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    pubsub_t *p = ud;

    ps_service_invalidate(&p->pep, ev->data);
    return EMBER_HOOK_PASS;
}


static int
pubsub_load(ember_module_t *m, const ember_api_t *a)
{
    pubsub_conf_t *conf = a->module_conf(m);
    pubsub_t *p;
    int err;

    api = a;
    if ((p = calloc(1, sizeof(*p))) == NULL)
        return EMBER_ENOMEM;
    api->module_set_data(m, p);
    p->iface.size = sizeof(p->iface);
    p->iface.request = pep_request;
    p->iface.send_last = pep_send_last;
    p->iface.remove = pep_remove;
    p->iface.items = pep_items;
    p->iface.publish = pep_publish;
    p->iface.retract = pep_retract;
    p->iface.cancel = pep_cancel;
    p->pep.create_policy = PS_CREATE_OWNER;
    if ((err = ps_ctx_init(&p->pep, m, 1)) < 0 ||
        (err = api->hook(m, EMBER_EV_CLUSTER_NOTICE "pubsub", pep_changed, 0,
                         p)) < 0 ||
        (conf->service && (err = serve(m, p, conf)) < 0) ||
        (err = ps_migrate_register(m, p)) < 0 ||
        (err = api->iface_provide(m, EMBER_PUBSUB_IFACE, &p->iface)) < 0) {
        pubsub_unload(m);
        return err;
    }
    return 0;
}


static void
pubsub_unload(ember_module_t *m)
{
    pubsub_t *p = api->module_data(m);

    if (p == NULL)
        return;
    if (p->host.m != NULL)
        ps_ctx_free(&p->host);
    if (p->pep.m != NULL)
        ps_ctx_free(&p->pep);
    free(p);
    api->module_set_data(m, NULL);
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "pubsub",
    .version = "1.2",
    .description = "XEP-0060: Publish-Subscribe service on pubsub.HOST, "
                   "and the engine of PEP",
    .requires = (const char *const[]){ "hooks", "stanzas", "storage",
                                       "disco", "commands", "forms", "rsm",
                                       "services", "ifaces", "sessions",
                                       NULL },
    .conf_size = sizeof(pubsub_conf_t),
    .options = pubsub_options,
    .load = pubsub_load,
    .unload = pubsub_unload,
};
