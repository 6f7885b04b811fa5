/* mam_cmd.c -- admin commands (emberctl, REST API, console): mam-browse
 * an account's archive, or a room's on a subdomain of the host, newest
 * first, page by page; mam-delete part or all of it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mam.h"

static const ember_cmd_arg_t browse_args[] = {
    { "user", EMBER_ARG_JID, 1, "the account, or a room "
      "(room@conference.HOST)" },
    { "with", EMBER_ARG_JID, 0, "only messages with this contact" },
    { "before", EMBER_ARG_STRING, 0, "the page before this item id" },
    { "max", EMBER_ARG_INT, 0, "messages in the page (default 50)" },
    { NULL, 0, 0, NULL }
};

static const ember_cmd_arg_t delete_args[] = {
    { "user", EMBER_ARG_JID, 1, "the account, or a room "
      "(room@conference.HOST)" },
    { "before", EMBER_ARG_STRING, 0, "only messages older than this "
      "XEP-0082 date (default: all)" },
    { NULL, 0, 0, NULL }
};


typedef struct {
    ember_cmd_ctx_t *ctx;
    char *with;
} browse_t;


static void
browsed(int status, json_t *result, void *ud)
{
    browse_t *b = ud;
    json_t *items = json_object_get(result, "items"), *out, *it;
    char id[32], stamp[64];
    size_t i;
    int64_t t;

    if (status < 0) {
        api->command_done(b->ctx, status, NULL, "cannot read the archive");
        goto done;
    }
    out = json_array();
    json_array_foreach(items, i, it) {
        t = json_integer_value(json_object_get(it, "time"));
        mam_id_format(t, id, sizeof(id));
        mam_time_format(t, stamp, sizeof(stamp));
        json_array_append_new(out, json_pack(
            "{s:s,s:s,s:s?,s:s?}", "id", id, "time", stamp,
            "with", json_string_value(json_object_get(it, "with")),
            "xml", json_string_value(json_object_get(it, "data"))));
    }
    api->command_done(b->ctx, 0, json_pack("{s:o,s:b}", "messages", out,
                                           "complete", json_is_true(
                                               json_object_get(result,
                                                               "complete"))),
                      NULL);
done:
    free(b->with);
    free(b);
}


static const char *
node_of(mam_t *mm, ember_cmd_ctx_t *ctx, json_t *args, char *buf,
        size_t len)
{
    const char *user = json_string_value(json_object_get(args, "user"));
    const char *at = user != NULL ? strchr(user, '@') : NULL;
    const char *host = api->module_host(mm->m);
    size_t dl = at != NULL ? strlen(at + 1) : 0, hl = strlen(host);

    /* Rooms (the "mam" interface) keep theirs under their bare JID. */
    if (at != NULL && strchr(at, '/') == NULL && dl > hl + 1 &&
        strcmp(at + 1 + dl - hl, host) == 0 && at[dl - hl] == '.' &&
        strlen(user) < len) {
        snprintf(buf, len, "%s", user);
        return buf;
    }
    if (at == NULL || strcmp(at + 1, host) != 0 ||
        (size_t) (at - user) >= len) {
        api->command_done(ctx, EMBER_EINVAL, NULL, "user: an account of "
                          "this host, or a room of one of its services");
        return NULL;
    }
    snprintf(buf, len, "%.*s", (int) (at - user), user);
    return buf;
}


static void
cmd_browse(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    mam_t *mm = ud;
    const char *before = json_string_value(json_object_get(args, "before"));
    json_t *max = json_object_get(args, "max");
    ember_archive_query_t q;
    char node[1024];
    browse_t *b;
    int64_t t;

    if (node_of(mm, ctx, args, node, sizeof(node)) == NULL)
        return;
    if (mm->st == NULL) {
        api->command_done(ctx, EMBER_ENOTSUP, NULL, "no storage");
        return;
    }
    memset(&q, 0, sizeof(q));
    q.size = sizeof(q);
    q.reverse = 1;
    q.max = max != NULL ? (int) json_integer_value(max) : 50;
    if (q.max < 1 || q.max > 1000) {
        api->command_done(ctx, EMBER_EINVAL, NULL, "max: 1 to 1000");
        return;
    }
    if (before != NULL) {
        if ((t = mam_id_parse(before)) == 0) {
            api->command_done(ctx, EMBER_EINVAL, NULL, "before: an item id");
            return;
        }
        q.end = t - 1;
    }
    if ((b = calloc(1, sizeof(*b))) == NULL) {
        api->command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        return;
    }
    b->ctx = ctx;
    if (json_string_value(json_object_get(args, "with")) != NULL &&
        (b->with = strdup(json_string_value(json_object_get(args,
                                                            "with")))) ==
            NULL) {
        free(b);
        api->command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        return;
    }
    q.with = b->with;
    if (api->archive_query(mm->st, node, &q, browsed, b) < 0)
        browsed(EMBER_EIO, NULL, b);
}


static void
deleted(int status, json_t *result, void *ud)
{
    if (status < 0)
        api->command_done(ud, status, NULL, "cannot delete");
    else
        api->command_done(ud, 0, json_pack("{s:O}", "deleted",
                                           json_object_get(result,
                                                           "deleted")),
                          NULL);
}


static void
cmd_delete(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    mam_t *mm = ud;
    const char *before = json_string_value(json_object_get(args, "before"));
    ember_archive_query_t q;
    char node[1024];

    if (node_of(mm, ctx, args, node, sizeof(node)) == NULL)
        return;
    if (mm->st == NULL) {
        api->command_done(ctx, EMBER_ENOTSUP, NULL, "no storage");
        return;
    }
    memset(&q, 0, sizeof(q));
    q.size = sizeof(q);
    if (before != NULL && (q.end = mam_time_parse(before) - 1) <= 0) {
        api->command_done(ctx, EMBER_EINVAL, NULL, "before: a XEP-0082 "
                          "date and time");
        return;
    }
    if (api->archive_delete(mm->st, node, &q, deleted, ctx) < 0)
        api->command_done(ctx, EMBER_EIO, NULL, "cannot delete");
}


static const ember_command_t mam_cmds[] = {
    { "mam-browse", "an account's message archive, newest first",
      browse_args, "read", cmd_browse },
    { "mam-delete", "delete an account's archived messages", delete_args,
      "admin", cmd_delete },
};


int
mam_cmd_register(mam_t *mm)
{
    size_t i;
    int rc;

    for (i = 0; i < sizeof(mam_cmds) / sizeof(mam_cmds[0]); i++)
        if ((rc = api->command_register(mm->m, &mam_cmds[i], mm)) < 0)
            return rc;
    return 0;
}
