/* upload_cmd.c -- admin commands (emberctl, control socket, REST API,
 * console): upload-list, upload-delete, upload-usage. */
#include <stdlib.h>
#include <string.h>

#include "upload.h"

static const ember_cmd_arg_t list_args[] = {
    { "user", EMBER_ARG_JID, 0, "only this account's files" },
    { NULL, 0, 0, NULL }
};

static const ember_cmd_arg_t delete_args[] = {
    { "id", EMBER_ARG_STRING, 1, "the file's id (in its URL)" },
    { NULL, 0, 0, NULL }
};

static const ember_cmd_arg_t no_args[] = { { NULL, 0, 0, NULL } };


static const char *
state_name(up_state_t s)
{
    return s == UP_STORED ? "stored" : s == UP_WRITING ? "uploading"
                                                       : "slot";
}


static void
cmd_list(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    up_t *u = ud;
    const char *user = json_string_value(json_object_get(args, "user"));
    json_t *list = json_array();
    up_file_t *f;
    char *url;

    for (f = u->all; list != NULL && f != NULL; f = f->next) {
        if (user != NULL && strcmp(user, f->owner) != 0)
            continue;
        url = up_url(u, f);
        json_array_append_new(list, json_pack(
            "{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:s,s:s?}", "id", f->id,
            "owner", f->owner, "name", f->name, "type", f->type,
            "size", (json_int_t) f->size, "created", (json_int_t) f->created,
            "stored", (json_int_t) f->stored, "state", state_name(f->state),
            "url", url));
        free(url);
    }
    api->command_done(ctx, list != NULL ? 0 : EMBER_ENOMEM, list, NULL);
}


static void
cmd_delete(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    up_t *u = ud;
    const char *id = json_string_value(json_object_get(args, "id"));
    up_file_t *f = id != NULL ? up_find(u, id) : NULL;

    if (f == NULL) {
        api->command_done(ctx, EMBER_ENOENT, NULL, "no such upload");
        return;
    }
    if (f->put != NULL) {
        api->command_done(ctx, EMBER_EBUSY, NULL, "the file is being "
                          "uploaded: try again when it is done");
        return;
    }
    api->log(u->m, EMBER_LOG_INFO, "upload %s of %s deleted by an admin",
             f->id, f->owner);
    up_remove(u, f);
    api->command_done(ctx, 0, json_pack("{s:s}", "deleted", id), NULL);
}


static void
cmd_usage(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    up_t *u = ud;
    json_t *users = json_object(), *res;
    up_user_t *p;
    size_t i;

    (void) args;
    for (i = 0; users != NULL && i < 256; i++)
        for (p = u->users[i]; p != NULL; p = p->hnext)
            json_object_set_new(users, p->owner, json_pack(
                "{s:I,s:i}", "bytes", (json_int_t) p->bytes,
                "files", (int) p->files));
    res = json_pack("{s:o*,s:I,s:I,s:I,s:I,s:I,s:s}", "users", users,
                    "total", (json_int_t) u->total,
                    "files", (json_int_t) u->nfiles,
                    "quota_per_user", (json_int_t) u->quota_user,
                    "quota_total", (json_int_t) u->quota_total,
                    "max_file_size", (json_int_t) u->max_size,
                    "service", u->domain);
    api->command_done(ctx, res != NULL ? 0 : EMBER_ENOMEM, res, NULL);
}


static const ember_command_t up_cmds[] = {
    { "upload-list", "list the uploaded files (and open slots)", list_args,
      "read", cmd_list },
    { "upload-delete", "delete an uploaded file", delete_args, "admin",
      cmd_delete },
    { "upload-usage", "bytes and files kept per account, quotas",
      no_args, "read", cmd_usage },
};


int
up_cmd_register(up_t *u)
{
    size_t i;
    int rc;

    for (i = 0; i < sizeof(up_cmds) / sizeof(up_cmds[0]); i++)
        if ((rc = api->command_register(u->m, &up_cmds[i], u)) < 0)
            return rc;
    return 0;
}
