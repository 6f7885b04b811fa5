/* mod_roster.c -- rosters (RFC 6121 section 2) with versioning (XEP-0237),
 * kept in the MAP store "roster" with an in-memory cache for users that
 * have sessions, published to other modules as the "roster" interface
 * (ember/roster.h). */
#include <stdlib.h>

#include "roster.h"

const ember_api_t *api;

static const ember_option_t roster_options[] = {
    EMBER_OPT("versioning", EMBER_OPT_BOOL, roster_conf_t, versioning,
              "true", 0, 1, "XEP-0237 roster versioning"),
    EMBER_OPT("max-items", EMBER_OPT_INT, roster_conf_t, max_items, "10000",
              0, 1000000, "items per roster (0: no limit)"),
    EMBER_OPT("max-name-length", EMBER_OPT_INT, roster_conf_t, max_name,
              "1023", 1, 65535, "bytes of an item name or a group name"),
    EMBER_OPT("max-groups", EMBER_OPT_INT, roster_conf_t, max_groups, "64",
              1, 10000, "groups per item"),
    EMBER_OPT_END
};


static int
roster_on_closed(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    roster_inst_t *ri = roster_inst(m);
    const ember_jid_t *j = api->session_jid(ev->origin);
    roster_t *r;

    if (j == NULL || api->jid_node(j) == NULL)
        return EMBER_HOOK_PASS;
    r = (roster_t *) rhash_get(&ri->rosters, api->jid_node(j));
    if (r != NULL)
        roster_maybe_evict(ri, r, ev->origin);
    return EMBER_HOOK_PASS;
}


/* The core purges the user's stores; forget the cached copy too. */
static int
roster_on_user_deleted(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    roster_inst_t *ri = roster_inst(m);
    roster_t *r;

    if (ev->data == NULL)
        return EMBER_HOOK_PASS;
    r = (roster_t *) rhash_get(&ri->rosters, ev->data);
    if (r != NULL && r->loaded && r->busy == 0 && r->waiters == NULL) {
        rhash_del(&ri->rosters, r->user);
        roster_free(r);
    }
    return EMBER_HOOK_PASS;
}


static void
roster_unload(ember_module_t *m)
{
    roster_inst_t *ri = roster_inst(m);
    size_t i;
    rnode_t *n, *next;

    if (ri == NULL)
        return;
    roster_ops_free(ri);
    for (i = 0; i < ri->rosters.nb; i++)
        for (n = ri->rosters.b[i]; n != NULL; n = next) {
            next = n->next;
            roster_free((roster_t *) n);
        }
    free(ri->rosters.b);
    free(ri);
    api->module_set_data(m, NULL);
}


static const struct {
    const char *event;
    ember_hook_cb cb;
    int priority;
} roster_hooks[] = {
    { "iq-get/self/" NS_ROSTER ":query", roster_on_get, 0 },
    { "iq-set/self/" NS_ROSTER ":query", roster_on_set, 0 },
    { "iq/bare/" NS_ROSTER ":query", roster_on_other, 0 },
    { "iq/host/" NS_ROSTER ":query", roster_on_other, 0 },
    { EMBER_EV_STREAM_FEATURES, roster_on_features, 0 },
    /* Last, so that every other module still sees the roster. */
    { EMBER_EV_SESSION_CLOSED, roster_on_closed, -100 },
    { EMBER_EV_USER_DELETED, roster_on_user_deleted, 0 },
    { EMBER_ROSTER_EV_SHARED, roster_on_shared, 0 },
};


static int
roster_load_module(ember_module_t *m, const ember_api_t *a)
{
    roster_inst_t *ri;
    size_t i;
    int err;

    api = a;
    if ((ri = calloc(1, sizeof(*ri))) == NULL)
        return EMBER_ENOMEM;
    api->module_set_data(m, ri);
    ri->m = m;
    roster_iface_init(ri);
    if ((ri->store = api->store_open(m, "roster", EMBER_STORE_MAP)) == NULL)
        return EMBER_EIO;
    for (i = 0; i < sizeof(roster_hooks) / sizeof(roster_hooks[0]); i++)
        if ((err = api->hook(m, roster_hooks[i].event, roster_hooks[i].cb,
                             roster_hooks[i].priority, NULL)) < 0)
            return err;
    if ((err = roster_cmd_init(ri)) < 0 ||
        (err = roster_migrate_init(ri)) < 0 ||
        (err = api->iface_provide(m, EMBER_ROSTER_IFACE, &ri->iface)) < 0)
        return err;
    return 0;
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "roster",
    .version = "1.0",
    .description = "Rosters (RFC 6121) with versioning (XEP-0237)",
    .requires = (const char *const[]){ "hooks", "stanzas", "storage",
                                       "sessions", "commands", "ifaces",
                                       NULL },
    .conf_size = sizeof(roster_conf_t),
    .options = roster_options,
    .load = roster_load_module,
    .unload = roster_unload,
};
