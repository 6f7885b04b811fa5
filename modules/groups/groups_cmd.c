/* groups_cmd.c -- admin commands (emberctl, REST API, console) on shared
 * roster groups: groups, group-info, group-create, group-delete,
 * group-rename, group-add-member, group-remove-member, group-show-to,
 * group-hide-from.  Each change is pushed to the online users concerned
 * at once, and answered once stored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groups.h"

#define ARG_ID { "id", EMBER_ARG_STRING, 1, "the group's id" }

static const ember_cmd_arg_t no_args[] = {
    { NULL, 0, 0, NULL }
};

static const ember_cmd_arg_t id_args[] = {
    ARG_ID,
    { NULL, 0, 0, NULL }
};

static const ember_cmd_arg_t create_args[] = {
    { "id", EMBER_ARG_STRING, 1, "the group's id: letters, digits, '-', "
      "'_', '.' (at most 64)" },
    { "name", EMBER_ARG_STRING, 1, "the roster group name members see" },
    { NULL, 0, 0, NULL }
};

static const ember_cmd_arg_t rename_args[] = {
    ARG_ID,
    { "name", EMBER_ARG_STRING, 1, "the new roster group name" },
    { NULL, 0, 0, NULL }
};

static const ember_cmd_arg_t member_args[] = {
    ARG_ID,
    { "jid", EMBER_ARG_JID, 1, "the member's bare JID (an account of this "
      "host, or anyone elsewhere)" },
    { NULL, 0, 0, NULL }
};

static const ember_cmd_arg_t show_args[] = {
    ARG_ID,
    { "to", EMBER_ARG_STRING, 1, "a group id, @members (the group's own "
      "members) or, for group-show-to, @nobody (hide the group)" },
    { NULL, 0, 0, NULL }
};

/* A command waiting for storage (or for an account check first). */
typedef struct {
    groups_t *gs;
    ember_cmd_ctx_t *ctx;
    json_t *result;
    char *id, *jid;
} gcmd_t;


static void
gcmd_free(gcmd_t *c)
{
    json_decref(c->result);
    free(c->id);
    free(c->jid);
    free(c);
}


static void
gcmd_stored(int status, json_t *res, void *ud)
{
    gcmd_t *c = ud;

    if (status < 0)
        api->command_done(c->ctx, status, NULL, "the group was not stored");
    else
        api->command_done(c->ctx, 0, json_incref(c->result), NULL);
    gcmd_free(c);
}


static json_t *
info_json(const group_t *g, int full)
{
    json_t *o = json_pack("{s:s, s:s}", "id", g->id, "name", g->name);
    json_t *show = json_array(), *mem;
    size_t i;

    if (o == NULL || show == NULL) {
        json_decref(o);
        json_decref(show);
        return NULL;
    }
    if (g->see_self)
        json_array_append_new(show, json_string("@members"));
    for (i = 0; i < g->nshow; i++)
        json_array_append_new(show, json_string(g->show[i]));
    json_object_set_new(o, "show_to", show);
    if (!full) {
        json_object_set_new(o, "members", json_integer(
                                              (json_int_t) g->nmembers));
        return o;
    }
    if ((mem = json_array()) != NULL) {
        for (i = 0; i < g->nmembers; i++)
            json_array_append_new(mem, json_string(g->members[i]));
        json_object_set_new(o, "members", mem);
    }
    return o;
}


/* Answer once g (NULL: deleted) is stored under id. */
static void
finish(groups_t *gs, ember_cmd_ctx_t *ctx, const char *id,
       const group_t *g, json_t *result)
{
    gcmd_t *c = calloc(1, sizeof(*c));
    int err;

    if (c == NULL) {
        json_decref(result);
        api->command_done(ctx, EMBER_ENOMEM, NULL, "out of memory");
        return;
    }
    c->ctx = ctx;
    c->result = result;
    if ((err = groups_store(gs, id, g, gcmd_stored, c)) < 0) {
        api->command_done(ctx, err, NULL, "the group was not stored");
        gcmd_free(c);
    }
}


/* The group named by args' "id", or NULL having answered. */
static group_t *
target(groups_t *gs, ember_cmd_ctx_t *ctx, json_t *args)
{
    const char *id = json_string_value(json_object_get(args, "id"));
    group_t *g;
    char msg[128];

    if (!gs->loaded) {
        api->command_done(ctx, EMBER_EBUSY, NULL,
                          "the groups are still being loaded");
        return NULL;
    }
    if ((g = group_find(gs, id)) == NULL) {
        snprintf(msg, sizeof(msg), "no such group: %.64s", id);
        api->command_done(ctx, EMBER_ENOENT, NULL, msg);
    }
    return g;
}


static int
name_ok(ember_cmd_ctx_t *ctx, const char *name)
{
    if (name == NULL || name[0] == '\0' || strlen(name) > GROUP_NAME_MAX) {
        api->command_done(ctx, EMBER_EINVAL, NULL, "the name must be 1 to "
                          "1023 bytes");
        return 0;
    }
    return 1;
}


/* ---- reading ---- */

static void
cmd_list(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    groups_t *gs = ud;
    json_t *a = json_array();
    size_t i;

    for (i = 0; a != NULL && i < gs->n; i++)
        json_array_append_new(a, info_json(gs->g[i], 0));
    api->command_done(ctx, 0, json_pack("{s:o}", "groups", a), NULL);
}


static void
cmd_info(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    groups_t *gs = ud;
    group_t *g;

    if ((g = target(gs, ctx, args)) != NULL)
        api->command_done(ctx, 0, info_json(g, 1), NULL);
}


/* ---- changes ---- */

static void
cmd_create(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    groups_t *gs = ud;
    const char *id = json_string_value(json_object_get(args, "id"));
    const char *name = json_string_value(json_object_get(args, "name"));
    group_t *g;
    char msg[128];

    if (!gs->loaded) {
        api->command_done(ctx, EMBER_EBUSY, NULL,
                          "the groups are still being loaded");
        return;
    }
    if (!group_id_ok(id)) {
        api->command_done(ctx, EMBER_EINVAL, NULL, "the id must be 1 to 64 "
                          "letters, digits, '-', '_' or '.'");
        return;
    }
    if (!name_ok(ctx, name))
        return;
    if (group_find(gs, id) != NULL) {
        snprintf(msg, sizeof(msg), "the group %.64s exists", id);
        api->command_done(ctx, EMBER_EEXIST, NULL, msg);
        return;
    }
    /* Shown to its own members until told otherwise. */
    if ((g = group_new(id, name)) == NULL || groups_insert(gs, g) < 0) {
        group_free(g);
        api->command_done(ctx, EMBER_ENOMEM, NULL, "out of memory");
        return;
    }
    g->see_self = 1;
    finish(gs, ctx, id, g, info_json(g, 1));
}


static void
cmd_delete(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    groups_t *gs = ud;
    group_t *g, *k;
    gchange_t *c;
    size_t i;
    char *id;

    if ((g = target(gs, ctx, args)) == NULL)
        return;
    if ((id = strdup(g->id)) == NULL) {
        api->command_done(ctx, EMBER_ENOMEM, NULL, "out of memory");
        return;
    }
    c = gchange_begin(gs, g, NULL, NULL);
    groups_remove(gs, g);
    /* Nobody sees anything through it any more. */
    for (i = 0; i < gs->n; i++) {
        k = gs->g[i];
        if (strset_del(k->show, &k->nshow, id) > 0) {
            k->gen++;
            groups_store(gs, k->id, k, NULL, NULL);
        }
    }
    gchange_end(c);
    group_free(g);
    finish(gs, ctx, id, NULL, json_pack("{s:s}", "id", id));
    free(id);
}


static void
cmd_rename(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    groups_t *gs = ud;
    const char *name = json_string_value(json_object_get(args, "name"));
    group_t *g;
    gchange_t *c;
    char *copy;

    if ((g = target(gs, ctx, args)) == NULL || !name_ok(ctx, name))
        return;
    if ((copy = strdup(name)) == NULL) {
        api->command_done(ctx, EMBER_ENOMEM, NULL, "out of memory");
        return;
    }
    c = gchange_begin(gs, g, NULL, NULL);
    free(g->name);
    g->name = copy;
    g->gen++;
    gchange_end(c);
    finish(gs, ctx, g->id, g, info_json(g, 1));
}


/* A member's JID: bare, with a node; NULL having answered. */
static const char *
member_jid(ember_cmd_ctx_t *ctx, json_t *args, ember_jid_t **out)
{
    const char *s = json_string_value(json_object_get(args, "jid"));
    ember_jid_t *j = s != NULL ? api->jid_parse(s) : NULL;

    if (j == NULL || api->jid_node(j) == NULL ||
        api->jid_resource(j) != NULL) {
        api->jid_free(j);
        api->command_done(ctx, EMBER_EINVAL, NULL, "a member is the bare "
                          "JID of an account (user@domain)");
        return NULL;
    }
    *out = j;
    return api->jid_bare(j);
}


static void
add_member_now(groups_t *gs, ember_cmd_ctx_t *ctx, group_t *g,
               const char *bare)
{
    gchange_t *c;
    int err;

    c = gchange_begin(gs, g, bare, bare);
    if ((err = strset_add(&g->members, &g->nmembers, &g->capm, bare)) > 0)
        g->gen++;
    gchange_end(c);
    if (err < 0) {
        api->command_done(ctx, err, NULL, "out of memory");
        return;
    }
    finish(gs, ctx, g->id, g, json_pack("{s:s, s:s, s:b}", "id", g->id,
                                        "jid", bare, "added", err > 0));
}


/* A local account must exist; the group may have gone meanwhile. */
static void
account_checked(int status, json_t *res, void *ud)
{
    gcmd_t *c = ud;
    group_t *g = group_find(c->gs, c->id);
    char msg[1200];

    if (status == EMBER_ENOENT) {
        snprintf(msg, sizeof(msg), "no such account: %s", c->jid);
        api->command_done(c->ctx, EMBER_ENOENT, NULL, msg);
    } else if (status < 0) {
        api->command_done(c->ctx, status, NULL, "cannot check the account");
    } else if (g == NULL) {
        snprintf(msg, sizeof(msg), "no such group: %.64s", c->id);
        api->command_done(c->ctx, EMBER_ENOENT, NULL, msg);
    } else {
        add_member_now(c->gs, c->ctx, g, c->jid);
    }
    gcmd_free(c);
}


static void
cmd_add_member(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    groups_t *gs = ud;
    ember_jid_t *j = NULL;
    const char *bare;
    group_t *g;
    gcmd_t *c;
    int err;

    if ((g = target(gs, ctx, args)) == NULL ||
        (bare = member_jid(ctx, args, &j)) == NULL)
        return;
    if (strcmp(api->jid_domain(j), api->module_host(gs->m)) != 0) {
        add_member_now(gs, ctx, g, bare);
        api->jid_free(j);
        return;
    }
    if ((c = calloc(1, sizeof(*c))) == NULL ||
        (c->id = strdup(g->id)) == NULL || (c->jid = strdup(bare)) == NULL) {
        if (c != NULL)
            gcmd_free(c);
        api->command_done(ctx, EMBER_ENOMEM, NULL, "out of memory");
        api->jid_free(j);
        return;
    }
    c->gs = gs;
    c->ctx = ctx;
    if ((err = api->user_exists(gs->m, api->jid_node(j), account_checked,
                                c)) < 0) {
        api->command_done(ctx, err, NULL, "cannot check the account");
        gcmd_free(c);
    }
    api->jid_free(j);
}


static void
cmd_remove_member(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    groups_t *gs = ud;
    ember_jid_t *j = NULL;
    const char *bare;
    group_t *g;
    gchange_t *c;
    char msg[1200];

    if ((g = target(gs, ctx, args)) == NULL ||
        (bare = member_jid(ctx, args, &j)) == NULL)
        return;
    if (!group_is_member(g, bare)) {
        snprintf(msg, sizeof(msg), "%s is not a member of %s", bare, g->id);
        api->command_done(ctx, EMBER_ENOENT, NULL, msg);
        api->jid_free(j);
        return;
    }
    c = gchange_begin(gs, g, bare, bare);
    strset_del(g->members, &g->nmembers, bare);
    g->gen++;
    gchange_end(c);
    finish(gs, ctx, g->id, g, json_pack("{s:s, s:s}", "id", g->id, "jid",
                                        bare));
    api->jid_free(j);
}


static void
show_change(ember_cmd_ctx_t *ctx, json_t *args, groups_t *gs, int show)
{
    const char *to = json_string_value(json_object_get(args, "to"));
    group_t *g, *h = NULL;
    gchange_t *c;
    size_t i, cap;
    int err = 0, nobody = 0, self = 0;
    char msg[128];

    if ((g = target(gs, ctx, args)) == NULL)
        return;
    self = strcmp(to, "@members") == 0;
    nobody = show && strcmp(to, "@nobody") == 0;
    if (!self && !nobody && (h = group_find(gs, to)) == NULL) {
        snprintf(msg, sizeof(msg), "no such group: %.64s", to);
        api->command_done(ctx, group_id_ok(to) ? EMBER_ENOENT : EMBER_EINVAL,
                          NULL, group_id_ok(to) ? msg : "'to' is a group "
                          "id, @members or @nobody");
        return;
    }
    c = gchange_begin(gs, g, NULL, NULL);
    gchange_also(c, h);
    if (nobody) {
        for (i = 0; i < g->nshow; i++)
            free(g->show[i]);
        g->nshow = 0;
        g->see_self = 0;
    } else if (self) {
        g->see_self = show;
    } else if (show) {
        cap = g->nshow;
        err = strset_add(&g->show, &g->nshow, &cap, h->id);
    } else {
        strset_del(g->show, &g->nshow, h->id);
    }
    g->gen++;
    gchange_end(c);
    if (err < 0) {
        api->command_done(ctx, err, NULL, "out of memory");
        return;
    }
    finish(gs, ctx, g->id, g, info_json(g, 1));
}


static void
cmd_show(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    show_change(ctx, args, ud, 1);
}


static void
cmd_hide(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    show_change(ctx, args, ud, 0);
}


static const ember_command_t group_commands[] = {
    { "groups", "list the shared roster groups", no_args, "read",
      cmd_list },
    { "group-info", "a shared roster group: name, members, who sees it",
      id_args, "read", cmd_info },
    { "group-create", "create a shared roster group (shown to its members)",
      create_args, "admin", cmd_create },
    { "group-delete", "delete a shared roster group", id_args, "admin",
      cmd_delete },
    { "group-rename", "change the roster group name members see",
      rename_args, "admin", cmd_rename },
    { "group-add-member", "add a member to a shared roster group",
      member_args, "admin", cmd_add_member },
    { "group-remove-member", "remove a member from a shared roster group",
      member_args, "admin", cmd_remove_member },
    { "group-show-to", "show a group's members to another group's members "
      "(or @members, or to @nobody)", show_args, "admin", cmd_show },
    { "group-hide-from", "stop showing a group to another group (or to "
      "@members)", show_args, "admin", cmd_hide },
};


int
groups_cmd_init(groups_t *gs)
{
    size_t i;
    int err;

    for (i = 0; i < sizeof(group_commands) / sizeof(group_commands[0]); i++)
        if ((err = api->command_register(gs->m, &group_commands[i], gs)) <
            0)
            return err;
    return 0;
}
