/* muc_cmd.c -- admin commands (emberctl, control socket, REST API):
 * muc-rooms, muc-room, muc-configure, muc-destroy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "muc.h"

static void cmd_rooms(ember_cmd_ctx_t *ctx, json_t *args, void *ud);
static void cmd_room(ember_cmd_ctx_t *ctx, json_t *args, void *ud);
static void cmd_configure(ember_cmd_ctx_t *ctx, json_t *args, void *ud);
static void cmd_destroy(ember_cmd_ctx_t *ctx, json_t *args, void *ud);

static const ember_cmd_arg_t no_args[] = { { NULL, 0, 0, NULL } };

static const ember_cmd_arg_t room_args[] = {
    { "room", EMBER_ARG_JID, 1, "the room's JID" },
    { NULL, 0, 0, NULL }
};

static const ember_cmd_arg_t configure_args[] = {
    { "room", EMBER_ARG_JID, 1, "the room's JID" },
    { "config", EMBER_ARG_JSON, 1,
      "JSON object {muc#roomconfig field: value}" },
    { NULL, 0, 0, NULL }
};

static const ember_cmd_arg_t destroy_args[] = {
    { "room", EMBER_ARG_JID, 1, "the room's JID" },
    { "reason", EMBER_ARG_STRING, 0, "told to the occupants" },
    { "alternate", EMBER_ARG_JID, 0, "a room to go to instead" },
    { NULL, 0, 0, NULL }
};

static const ember_command_t muc_cmds[] = {
    { "muc-rooms", "list the chat rooms", no_args, "read", cmd_rooms },
    { "muc-room", "show a chat room: configuration, occupants, "
      "affiliations", room_args, "read", cmd_room },
    { "muc-configure", "change a chat room's configuration",
      configure_args, "admin", cmd_configure },
    { "muc-destroy", "destroy a chat room", destroy_args, "admin",
      cmd_destroy },
};


static muc_room_t *
room_arg(muc_t *mu, ember_cmd_ctx_t *ctx, json_t *args)
{
    const char *s = json_string_value(json_object_get(args, "room"));
    ember_jid_t *j = s != NULL ? api->jid_parse(s) : NULL;
    muc_room_t *r = NULL;

    if (j != NULL && api->jid_node(j) != NULL &&
        api->jid_resource(j) == NULL &&
        strcmp(api->jid_domain(j), mu->domain) == 0)
        r = muc_room_find(mu, api->jid_node(j));
    api->jid_free(j);
    if (r == NULL)
        api->command_done(ctx, EMBER_ENOENT, NULL, "no such room");
    return r;
}


static void
cmd_rooms(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    muc_t *mu = ud;
    json_t *list = json_array();
    muc_room_t *r;

    (void) args;
    for (r = mu->rooms; list != NULL && r != NULL; r = r->next)
        json_array_append_new(list, json_pack(
            "{s:s,s:s,s:b,s:b,s:i,s:b,s:b}", "jid", r->jid,
            "name", r->c.name, "public", r->c.public_,
            "persistent", r->c.persistent, "occupants", r->nocc,
            "members_only", r->c.members_only,
            "password_protected", r->c.password_protected));
    api->command_done(ctx, list != NULL ? 0 : EMBER_ENOMEM, list, NULL);
}


static void
cmd_room(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    muc_room_t *r = room_arg(ud, ctx, args);
    json_t *occs, *affs, *res;
    muc_occ_t *o;
    muc_aff_t *a;
    int i;

    if (r == NULL)
        return;
    occs = json_array();
    affs = json_pack("{s:[],s:[],s:[],s:[]}", "owner", "admin", "member",
                     "outcast");
    for (o = r->occs; occs != NULL && o != NULL; o = o->next)
        json_array_append_new(occs, json_pack(
            "{s:s,s:s,s:s,s:s}", "nick", o->nick, "jid",
            o->sessions != NULL ? o->sessions->jid : o->bare,
            "role", muc_role_name(o->role),
            "affiliation", muc_aff_name(muc_aff_get(r, o->bare))));
    for (i = AFF_OWNER; affs != NULL && i >= AFF_OUTCAST; i--)
        for (a = r->affs; a != NULL; a = a->next)
            if (a->aff == i)
                json_array_append_new(json_object_get(affs,
                                      muc_aff_name(i)), json_string(a->jid));
    res = json_pack("{s:s,s:o,s:s,s:o*,s:o*,s:b}", "jid", r->jid,
                    "config", muc_rconf_json(&r->c),
                    "subject", r->subject != NULL ? r->subject : "",
                    "occupants", occs, "affiliations", affs,
                    "locked", r->locked);
    api->command_done(ctx, res != NULL ? 0 : EMBER_ENOMEM, res, NULL);
}


static void
cmd_configure(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    muc_room_t *r = room_arg(ud, ctx, args);
    json_t *cfg = json_object_get(args, "config");
    char err[512];
    int rc;

    if (r == NULL)
        return;
    if (!json_is_object(cfg)) {
        api->command_done(ctx, EMBER_EINVAL, NULL,
                          "config: a JSON object {field: value}");
        return;
    }
    rc = muc_rconf_from_json(r, cfg, 0, err, sizeof(err));
    if (rc < 0) {
        api->command_done(ctx, rc, NULL, rc == EMBER_EINVAL ? err : NULL);
        return;
    }
    if (r->locked) {
        r->locked = 0;
        muc_store_save(r);
    }
    muc_room_maybe_gc(r);
    api->command_done(ctx, 0, json_pack("{s:b}", "ok", 1), NULL);
}


static void
cmd_destroy(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    muc_room_t *r = room_arg(ud, ctx, args);

    if (r == NULL)
        return;
    muc_room_destroy(r, json_string_value(json_object_get(args,
                     "alternate")), json_string_value(json_object_get(args,
                     "reason")));
    api->command_done(ctx, 0, json_pack("{s:b}", "ok", 1), NULL);
}


int
muc_commands_register(muc_t *mu)
{
    size_t i;
    int err;

    for (i = 0; i < sizeof(muc_cmds) / sizeof(muc_cmds[0]); i++)
        if ((err = api->command_register(mu->m, &muc_cmds[i], mu)) < 0)
            return err;
    return 0;
}
