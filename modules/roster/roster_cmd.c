/* roster_cmd.c -- admin commands: roster-add, roster-remove, roster-list. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "roster.h"

typedef struct {
    roster_inst_t *ri;
    ember_cmd_ctx_t *ctx;
    char *user, *contact;
    json_t *args;
} rcmd_t;

static const ember_cmd_arg_t add_args[] = {
    { "user", EMBER_ARG_JID, 1, "the account (user@host) whose roster" },
    { "contact", EMBER_ARG_JID, 1, "the contact's bare JID" },
    { "name", EMBER_ARG_STRING, 0, "the contact's name (\"\" clears it)" },
    { "group", EMBER_ARG_STRING, 0,
      "groups, separated by commas (\"\" clears them)" },
    { "subscription", EMBER_ARG_STRING, 0, "none, to, from or both "
      "(default: unchanged, none for a new item)" },
    { NULL, 0, 0, NULL }
};

static const ember_cmd_arg_t remove_args[] = {
    { "user", EMBER_ARG_JID, 1, "the account (user@host)" },
    { "contact", EMBER_ARG_JID, 1, "the contact's bare JID" },
    { NULL, 0, 0, NULL }
};

static const ember_cmd_arg_t list_args[] = {
    { "user", EMBER_ARG_JID, 1, "the account (user@host)" },
    { NULL, 0, 0, NULL }
};


static void
rcmd_free(rcmd_t *c)
{
    free(c->user);
    free(c->contact);
    json_decref(c->args);
    free(c);
}


/* End the command with an error (message NULL: the error's own text). */
static void
rcmd_fail(rcmd_t *c, int status, const char *message)
{
    api->command_done(c->ctx, status, NULL,
                      message != NULL ? message : api->strerror(status));
    rcmd_free(c);
}


/* Check the arguments, then call `loaded` with the user's roster. */
static void
rcmd_start(ember_cmd_ctx_t *ctx, json_t *args, void *ud, int with_contact,
           ember_roster_cb loaded)
{
    roster_inst_t *ri = ud;
    const char *user = json_string_value(json_object_get(args, "user"));
    const char *contact = json_string_value(json_object_get(args,
                                                            "contact"));
    ember_jid_t *u = user != NULL ? api->jid_parse(user) : NULL;
    ember_jid_t *c = contact != NULL ? api->jid_parse(contact) : NULL;
    rcmd_t *cmd = NULL;
    int err;

    if (u == NULL || api->jid_node(u) == NULL ||
        api->jid_resource(u) != NULL ||
        strcmp(api->jid_domain(u), api->module_host(ri->m)) != 0) {
        api->command_done(ctx, EMBER_EINVAL, NULL, "user must be the bare "
                          "JID of an account of this host");
        goto done;
    }
    if (with_contact && (c == NULL || api->jid_resource(c) != NULL ||
                         strcmp(api->jid_bare(c), api->jid_bare(u)) == 0)) {
        api->command_done(ctx, EMBER_EINVAL, NULL,
                          "contact must be a bare JID other than the user");
        goto done;
    }
    if ((cmd = calloc(1, sizeof(*cmd))) == NULL) {
        api->command_done(ctx, EMBER_ENOMEM, NULL, "out of memory");
        goto done;
    }
    cmd->ctx = ctx;
    if ((cmd->user = strdup(api->jid_node(u))) == NULL ||
        (with_contact &&
         (cmd->contact = strdup(api->jid_bare(c))) == NULL)) {
        rcmd_fail(cmd, EMBER_ENOMEM, "out of memory");
        goto done;
    }
    cmd->ri = ri;
    cmd->ctx = ctx;
    cmd->args = json_incref(args);
    if ((err = roster_load(ri, cmd->user, loaded, cmd)) < 0)
        rcmd_fail(cmd, err, NULL);
done:
    api->jid_free(u);
    api->jid_free(c);
}


static json_t *
item_json(const ritem_t *it)
{
    json_t *o = json_pack("{s:s, s:s, s:b, s:b, s:b}", "jid", it->jid,
                          "subscription", ember_sub_name(it->sub),
                          "ask", it->ask, "pending_in", it->pending_in,
                          "approved", it->approved);
    json_t *g = json_array();
    size_t i;

    if (o == NULL || g == NULL) {
        json_decref(o);
        json_decref(g);
        return NULL;
    }
    if (it->name != NULL)
        json_object_set_new(o, "name", json_string(it->name));
    for (i = 0; i < it->ngroups; i++)
        json_array_append_new(g, json_string(it->groups[i]));
    json_object_set_new(o, "groups", g);
    if (it->hidden)
        json_object_set_new(o, "hidden", json_true());
    return o;
}


static void
cmd_stored(int status, void *ud)
{
    rcmd_t *c = ud;

    if (status < 0) {
        rcmd_fail(c, status, status == EMBER_ENOENT ? "no such roster item"
                                                    : NULL);
        return;
    }
    api->command_done(c->ctx, 0, json_pack("{s:s, s:s}", "user", c->user,
                                           "contact", c->contact), NULL);
    rcmd_free(c);
}


/* Comma-separated groups, trimmed, without duplicates. */
static int
set_groups(ritem_t *it, const char *list)
{
    const char *p = list, *e;
    size_t n = 1, i, len;
    char *g;

    for (i = 0; list[i] != '\0'; i++)
        n += list[i] == ',';
    for (i = 0; i < it->ngroups; i++)
        free(it->groups[i]);
    free(it->groups);
    it->ngroups = 0;
    if ((it->groups = calloc(n, sizeof(char *))) == NULL)
        return EMBER_ENOMEM;
    while (*p != '\0') {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '\0')
            break;
        for (e = p; *e != '\0' && *e != ','; e++)
            ;
        for (len = (size_t) (e - p); len > 0 && p[len - 1] == ' '; len--)
            ;
        if ((g = strndup(p, len)) == NULL)
            return EMBER_ENOMEM;
        for (i = 0; i < it->ngroups; i++)
            if (strcmp(it->groups[i], g) == 0)
                break;
        if (i < it->ngroups)
            free(g);
        else
            it->groups[it->ngroups++] = g;
        p = e;
    }
    return 0;
}


static void
add_loaded(int status, ember_roster_t *roster, void *ud)
{
    rcmd_t *c = ud;
    roster_t *r = (roster_t *) roster;
    const char *name = json_string_value(json_object_get(c->args, "name"));
    const char *groups = json_string_value(json_object_get(c->args,
                                                           "group"));
    const char *sub = json_string_value(json_object_get(c->args,
                                                        "subscription"));
    ritem_t *old, *it;
    int s = roster_sub_parse(sub), err;

    if (status < 0) {
        rcmd_fail(c, status, NULL);
        return;
    }
    if (sub != NULL && s < 0) {
        rcmd_fail(c, EMBER_EINVAL, "subscription: none, to, from or both");
        return;
    }
    old = (ritem_t *) rhash_get(&r->items, c->contact);
    if (roster_full(c->ri, r, old)) {
        rcmd_fail(c, EMBER_ELIMIT, "the roster is full");
        return;
    }
    it = old != NULL ? ritem_dup(old) : calloc(1, sizeof(*it));
    if (it == NULL || (it->jid == NULL &&
                       (it->jid = strdup(c->contact)) == NULL)) {
        ritem_free(it);
        rcmd_fail(c, EMBER_ENOMEM, "out of memory");
        return;
    }
    it->hidden = 0;
    if (name != NULL) {
        free(it->name);
        it->name = name[0] != '\0' ? strdup(name) : NULL;
    }
    if (groups != NULL && set_groups(it, groups) < 0) {
        ritem_free(it);
        rcmd_fail(c, EMBER_ENOMEM, "out of memory");
        return;
    }
    if (sub != NULL) {
        it->sub = (ember_sub_t) s;
        /* A provisioned state settles what was pending. */
        if (s & EMBER_SUB_TO)
            it->ask = 0;
        if (s & EMBER_SUB_FROM) {
            it->pending_in = 0;
            it->approved = 0;
            free(it->pending_stanza);
            it->pending_stanza = NULL;
        }
    }
    if ((err = roster_apply(c->ri, c->user, c->contact, it, 0, cmd_stored,
                            c)) < 0)
        rcmd_fail(c, err, NULL);
}


static void
remove_loaded(int status, ember_roster_t *roster, void *ud)
{
    rcmd_t *c = ud;
    roster_t *r = (roster_t *) roster;
    ritem_t *old;
    int err;

    if (status < 0) {
        rcmd_fail(c, status, NULL);
        return;
    }
    if ((old = (ritem_t *) rhash_get(&r->items, c->contact)) == NULL) {
        rcmd_fail(c, EMBER_ENOENT, "no such roster item");
        return;
    }
    roster_removing(c->ri, c->user, old, NULL);
    if ((err = roster_apply(c->ri, c->user, c->contact, NULL, 0, cmd_stored,
                            c)) < 0)
        rcmd_fail(c, err, NULL);
}


static void
list_loaded(int status, ember_roster_t *roster, void *ud)
{
    rcmd_t *c = ud;
    roster_t *r = (roster_t *) roster;
    json_t *items, *res;
    rnode_t *n;
    size_t i;

    if (status < 0) {
        rcmd_fail(c, status, NULL);
        return;
    }
    items = json_array();
    for (i = 0; items != NULL && i < r->items.nb; i++)
        for (n = r->items.b[i]; n != NULL; n = n->next)
            json_array_append_new(items, item_json((ritem_t *) n));
    res = json_pack("{s:s, s:o}", "ver", r->verstr, "items", items);
    if (res == NULL)
        api->command_done(c->ctx, EMBER_ENOMEM, NULL, "out of memory");
    else
        api->command_done(c->ctx, 0, res, NULL);
    rcmd_free(c);
}


static void
roster_add_run(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    rcmd_start(ctx, args, ud, 1, add_loaded);
}


static void
roster_remove_run(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    rcmd_start(ctx, args, ud, 1, remove_loaded);
}


static void
roster_list_run(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    rcmd_start(ctx, args, ud, 0, list_loaded);
}


static const ember_command_t roster_commands[] = {
    { "roster-add", "add or change a roster item (no presence is sent)",
      add_args, "admin", roster_add_run },
    { "roster-remove", "remove a roster item, cancelling its subscriptions",
      remove_args, "admin", roster_remove_run },
    { "roster-list", "the items of a user's roster", list_args, "read",
      roster_list_run },
};


int
roster_cmd_init(roster_inst_t *ri)
{
    size_t i;
    int err;

    for (i = 0; i < sizeof(roster_commands) / sizeof(roster_commands[0]);
         i++)
        if ((err = api->command_register(ri->m, &roster_commands[i],
                                         ri)) < 0)
            return err;
    return 0;
}
