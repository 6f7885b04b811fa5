/* muc_cmd.c -- admin commands (emberctl, control socket, REST API):
 * muc-rooms, muc-room, muc-create, muc-configure, muc-affiliation,
 * muc-kick, muc-destroy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "muc.h"

static void cmd_rooms(ember_cmd_ctx_t *ctx, json_t *args, void *ud);
static void cmd_room(ember_cmd_ctx_t *ctx, json_t *args, void *ud);
static void cmd_configure(ember_cmd_ctx_t *ctx, json_t *args, void *ud);
static void cmd_destroy(ember_cmd_ctx_t *ctx, json_t *args, void *ud);
static void cmd_create(ember_cmd_ctx_t *ctx, json_t *args, void *ud);
static void cmd_affiliation(ember_cmd_ctx_t *ctx, json_t *args, void *ud);
static void cmd_kick(ember_cmd_ctx_t *ctx, json_t *args, void *ud);
static void at_room(ember_cmd_ctx_t *ctx, json_t *args, void *ud);

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

static const ember_cmd_arg_t create_args[] = {
    { "room", EMBER_ARG_JID, 1, "the new room's JID, name@conference.HOST" },
    { "owner", EMBER_ARG_JID, 1, "its first owner (a bare JID)" },
    { "config", EMBER_ARG_JSON, 0,
      "JSON object {muc#roomconfig field: value}; the service's defaults "
      "otherwise, persistent" },
    { NULL, 0, 0, NULL }
};

static const ember_cmd_arg_t aff_args[] = {
    { "room", EMBER_ARG_JID, 1, "the room's JID" },
    { "jid", EMBER_ARG_JID, 1, "a bare JID, or a domain" },
    { "affiliation", EMBER_ARG_STRING, 1,
      "owner, admin, member, outcast (banned) or none" },
    { "reason", EMBER_ARG_STRING, 0, "kept with it, told to occupants" },
    { NULL, 0, 0, NULL }
};

static const ember_cmd_arg_t kick_args[] = {
    { "room", EMBER_ARG_JID, 1, "the room's JID" },
    { "nick", EMBER_ARG_STRING, 1, "the occupant's nickname" },
    { "reason", EMBER_ARG_STRING, 0, "told to the occupants" },
    { NULL, 0, 0, NULL }
};

static const ember_cmd_arg_t destroy_args[] = {
    { "room", EMBER_ARG_JID, 1, "the room's JID" },
    { "reason", EMBER_ARG_STRING, 0, "told to the occupants" },
    { "alternate", EMBER_ARG_JID, 0, "a room to go to instead" },
    { NULL, 0, 0, NULL }
};

static const ember_command_t muc_cmds[MUC_NCOMMANDS] = {
    { "muc-rooms", "list the chat rooms", no_args, "read", at_room },
    { "muc-room", "show a chat room: configuration, occupants, "
      "affiliations", room_args, "read", at_room },
    { "muc-create", "create a chat room with an owner (and a "
      "configuration)", create_args, "admin", at_room },
    { "muc-configure", "change a chat room's configuration",
      configure_args, "admin", at_room },
    { "muc-affiliation", "make a JID owner, admin, member, outcast "
      "(banned) or none of a room", aff_args, "admin", at_room },
    { "muc-kick", "remove an occupant from a room (it may come back)",
      kick_args, "admin", at_room },
    { "muc-destroy", "destroy a chat room", destroy_args, "admin",
      at_room },
};


/* What each command does, where its room is (muc_cmds' order). */
static void (*const here[])(ember_cmd_ctx_t *ctx, json_t *args, void *ud) = {
    cmd_rooms, cmd_room, cmd_create, cmd_configure, cmd_affiliation,
    cmd_kick, cmd_destroy,
};


/* On a cluster a room lives on one node: a command for it runs there
 * (muc-rooms, for none, here).  ud is one of mu->cmd_ud[], which tells
 * the command. */
static void
at_room(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    muc_t **slot = ud, *mu = *slot;

    api->command_at_owner(ctx, json_string_value(json_object_get(args,
                                                                 "room")),
                          here[slot - mu->cmd_ud], mu);
}


/* The room's data form as JSON: [{var, type, label, values, options}]. */
static json_t *
form_json(ember_stanza_t *q)
{
    ember_stanza_t *x = q != NULL ? api->stanza_child(q, "x", NULL) : NULL;
    ember_stanza_t *f, *c, *v;
    json_t *fields = json_array(), *e;

    for (f = x != NULL ? api->stanza_first(x) : NULL; f != NULL;
         f = api->stanza_next(f)) {
        if (strcmp(api->stanza_name(f), "field") != 0 ||
            api->stanza_attr(f, "var") == NULL)
            continue;
        e = json_pack("{s:s, s:s, s:s, s:[], s:[]}", "var",
                      api->stanza_attr(f, "var"), "type",
                      api->stanza_attr(f, "type") != NULL
                          ? api->stanza_attr(f, "type") : "text-single",
                      "label", api->stanza_attr(f, "label") != NULL
                          ? api->stanza_attr(f, "label") : "",
                      "values", "options");
        for (c = api->stanza_first(f); e != NULL && c != NULL;
             c = api->stanza_next(c)) {
            if (strcmp(api->stanza_name(c), "value") == 0)
                json_array_append_new(json_object_get(e, "values"),
                                      json_string(api->stanza_text(c)));
            else if (strcmp(api->stanza_name(c), "option") == 0 &&
                     (v = api->stanza_child(c, "value", NULL)) != NULL)
                json_array_append_new(json_object_get(e, "options"),
                    json_pack("{s:s, s:s}", "value", api->stanza_text(v),
                              "label", api->stanza_attr(c, "label") != NULL
                                  ? api->stanza_attr(c, "label")
                                  : api->stanza_text(v)));
        }
        if (e != NULL)
            json_array_append_new(fields, e);
    }
    return fields;
}


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
    json_t *occs, *affs, *res, *reasons;
    ember_stanza_t *form;
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
    reasons = json_object();
    for (i = AFF_OWNER; affs != NULL && i >= AFF_OUTCAST; i--)
        for (a = r->affs; a != NULL; a = a->next)
            if (a->aff == i) {
                json_array_append_new(json_object_get(affs,
                                      muc_aff_name(i)), json_string(a->jid));
                if (a->reason != NULL && a->reason[0] != '\0')
                    json_object_set_new(reasons, a->jid,
                                        json_string(a->reason));
            }
    form = muc_config_form(r);
    res = json_pack("{s:s,s:o,s:o,s:s,s:o*,s:o*,s:o*,s:b}", "jid", r->jid,
                    "config", muc_rconf_json(&r->c), "form", form_json(form),
                    "subject", r->subject != NULL ? r->subject : "",
                    "occupants", occs, "affiliations", affs,
                    "reasons", reasons, "locked", r->locked);
    if (form != NULL)
        api->stanza_free(form);
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


static void
cmd_create(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    muc_t *mu = ud;
    const char *room = json_string_value(json_object_get(args, "room"));
    const char *owner = json_string_value(json_object_get(args, "owner"));
    json_t *cfg = json_object_get(args, "config");
    ember_jid_t *j = api->jid_parse(room), *o = api->jid_parse(owner);
    muc_room_t *r = NULL;
    char err[512], *node = NULL;
    int rc = 0;

    if (j == NULL || api->jid_node(j) == NULL ||
        api->jid_resource(j) != NULL ||
        strcmp(api->jid_domain(j), mu->domain) != 0) {
        rc = EMBER_EINVAL;
        snprintf(err, sizeof(err), "room: a JID name@%s", mu->domain);
    } else if (o == NULL || api->jid_node(o) == NULL ||
               api->jid_resource(o) != NULL) {
        rc = EMBER_EINVAL;
        snprintf(err, sizeof(err), "owner: a bare JID user@host");
    } else if (cfg != NULL && !json_is_object(cfg)) {
        rc = EMBER_EINVAL;
        snprintf(err, sizeof(err), "config: a JSON object {field: value}");
    } else if (muc_room_find(mu, api->jid_node(j)) != NULL) {
        rc = EMBER_EEXIST;
        snprintf(err, sizeof(err), "%s exists already", room);
    } else if ((node = strdup(api->jid_node(j))) == NULL ||
               (r = muc_room_new(mu, node, api->jid_bare(o))) == NULL) {
        rc = EMBER_ENOMEM;
        snprintf(err, sizeof(err), "out of memory");
    }
    if (rc == 0) {
        /* Nobody is in it: only a persistent room outlives this call. */
        r->c.persistent = 1;
        muc_aff_set(r, api->jid_bare(o), AFF_OWNER, NULL);
        if (cfg != NULL &&
            (rc = muc_rconf_from_json(r, cfg, 0, err, sizeof(err))) < 0) {
            ;
        } else if (!r->c.persistent) {
            rc = EMBER_EINVAL;
            snprintf(err, sizeof(err), "a room made with nobody in it must "
                     "be persistent");
        }
        if (rc < 0)
            muc_room_destroy(r, NULL, NULL);
        else
            r->locked = 0;
    }
    api->jid_free(j);
    api->jid_free(o);
    free(node);
    if (rc < 0)
        api->command_done(ctx, rc, NULL, err);
    else
        muc_store_save_then(r, ctx, json_pack("{s:b, s:s}", "ok", 1, "jid",
                                              r->jid));
}


static void
cmd_affiliation(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    muc_room_t *r = room_arg(ud, ctx, args);
    const char *jid = json_string_value(json_object_get(args, "jid"));
    const char *reason = json_string_value(json_object_get(args, "reason"));
    int aff = muc_aff_parse(json_string_value(json_object_get(
                  args, "affiliation")));
    ember_jid_t *j;

    if (r == NULL)
        return;
    if (aff < 0) {
        api->command_done(ctx, EMBER_EINVAL, NULL, "affiliation: owner, "
                          "admin, member, outcast or none");
        return;
    }
    if ((j = api->jid_parse(jid)) == NULL || api->jid_resource(j) != NULL) {
        api->jid_free(j);
        api->command_done(ctx, EMBER_EINVAL, NULL,
                          "jid: a bare JID or a domain");
        return;
    }
    /* XEP-0045 10.7: a room keeps at least one owner. */
    if (aff != AFF_OWNER && muc_aff_get(r, api->jid_bare(j)) == AFF_OWNER &&
        muc_owner_count(r) == 1) {
        api->jid_free(j);
        api->command_done(ctx, EMBER_EEXIST, NULL, "that is the room's last "
                          "owner: make another owner first");
        return;
    }
    muc_apply_aff(r, api->jid_bare(j), aff, NULL, reason);
    api->jid_free(j);
    api->command_done(ctx, 0, json_pack("{s:b}", "ok", 1), NULL);
}


static void
cmd_kick(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    muc_room_t *r = room_arg(ud, ctx, args);
    const char *nick = json_string_value(json_object_get(args, "nick"));
    muc_occ_t *o;
    muc_pinfo_t pi;

    if (r == NULL)
        return;
    if ((o = muc_occ_by_nick(r, nick)) == NULL) {
        api->command_done(ctx, EMBER_ENOENT, NULL, "no occupant has that "
                          "nickname");
        return;
    }
    memset(&pi, 0, sizeof(pi));
    pi.reason = json_string_value(json_object_get(args, "reason"));
    pi.all[pi.nall++] = 307;
    o->role = ROLE_NONE;
    muc_occ_remove(r, o, &pi);
    api->command_done(ctx, 0, json_pack("{s:b}", "ok", 1), NULL);
}


int
muc_commands_register(muc_t *mu)
{
    size_t i;
    int err;

    for (i = 0; i < MUC_NCOMMANDS; i++) {
        mu->cmd_ud[i] = mu;
        if ((err = api->command_register(mu->m, &muc_cmds[i],
                                         &mu->cmd_ud[i])) < 0)
            return err;
    }
    return 0;
}
