/* mod_groups.c -- shared roster groups (Openfire's groups, ejabberd's
 * shared roster): members shown in other members' rosters (RFC 6121
 * items, subscription both) under the group's name, to the group itself
 * or to other groups, kept in the MAP store "groups" and offered to
 * mod_roster as the "roster-shared" interface (ember/roster.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groups.h"

const ember_api_t *api;


static void
groups_loaded(int status, json_t *result, void *ud)
{
    groups_t *gs = ud;
    const char *key;
    json_t *v;
    group_t *g;

    if (status < 0 && status != EMBER_ENOENT) {
        api->log(gs->m, EMBER_LOG_ERROR, "groups not loaded: %s",
                 api->strerror(status));
        return;
    }
    json_object_foreach(result, key, v) {
        if ((g = group_parse(key, v)) == NULL) {
            api->log(gs->m, EMBER_LOG_WARN, "unreadable group %s skipped",
                     key);
            continue;
        }
        if (groups_insert(gs, g) < 0)
            group_free(g);
    }
    gs->loaded = 1;
}


/* A deleted account leaves every group it was in. */
static int
groups_on_user_deleted(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    groups_t *gs = groups_of(m);
    gchange_t *c;
    group_t *g;
    size_t i;
    char bare[1100];

    if (ev->data == NULL)
        return EMBER_HOOK_PASS;
    snprintf(bare, sizeof(bare), "%s@%s", (const char *) ev->data,
             api->module_host(m));
    for (i = 0; i < gs->n; i++) {
        g = gs->g[i];
        if (!group_is_member(g, bare))
            continue;
        c = gchange_begin(gs, g, NULL, bare);
        strset_del(g->members, &g->nmembers, bare);
        g->gen++;
        gchange_end(c);
        groups_store(gs, g->id, g, NULL, NULL);
    }
    return EMBER_HOOK_PASS;
}


static void
groups_unload(ember_module_t *m)
{
    groups_t *gs = groups_of(m);
    size_t i;

    if (gs == NULL)
        return;
    for (i = 0; i < gs->n; i++)
        group_free(gs->g[i]);
    free(gs->g);
    free(gs->scratch);
    free(gs);
    api->module_set_data(m, NULL);
}


static int
groups_load(ember_module_t *m, const ember_api_t *a)
{
    groups_t *gs;
    int err;

    api = a;
    if ((gs = calloc(1, sizeof(*gs))) == NULL)
        return EMBER_ENOMEM;
    api->module_set_data(m, gs);
    gs->m = m;
    groups_iface_init(gs);
    if ((gs->st = api->store_open(m, "groups", EMBER_STORE_MAP)) == NULL)
        return EMBER_EIO;
    if ((err = api->map_all(gs->st, NULL, groups_loaded, gs)) < 0 ||
        (err = api->hook(m, EMBER_EV_USER_DELETED, groups_on_user_deleted,
                         0, NULL)) < 0 ||
        (err = groups_cmd_init(gs)) < 0 ||
        (err = api->iface_provide(m, EMBER_ROSTER_SHARED_IFACE,
                                  &gs->iface)) < 0)
        return err;
    return 0;
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "groups",
    .version = "1.0",
    .description = "Shared roster groups",
    .depends = (const char *const[]){ "roster", NULL },
    .requires = (const char *const[]){ "hooks", "stanzas", "storage",
                                       "sessions", "commands", "ifaces",
                                       "accounts", NULL },
    .load = groups_load,
    .unload = groups_unload,
};
