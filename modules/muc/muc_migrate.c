/* muc_migrate.c -- pie-host-export-muc and pie-host-import-muc: the
 * persistent rooms of the host's MUC service for `emberctl export` and
 * `import`.  XEP-0227 has no rooms; they travel as an extension under
 * <host/> (its section 4 lets a file carry other namespaces):
 *
 *   <room xmlns='urn:ember:pie:muc:0' jid='lobby@conference.HOST'>
 *     <x xmlns='jabber:x:data' type='submit'>  muc#roomconfig fields
 *     <query xmlns='http://jabber.org/protocol/muc#admin'>
 *       <item jid affiliation [nick]><reason/></item> ...
 *     <subject [nick]>text</subject>
 *   </room>
 *
 * History stays behind (doc/migration.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ember/pie.h>

#include "muc.h"

#define NS_PIE_MUC "urn:ember:pie:muc:0"

static const ember_cmd_arg_t export_args[] = { EMBER_PIE_HOST_EXPORT_ARGS };
static const ember_cmd_arg_t import_args[] = { EMBER_PIE_HOST_IMPORT_ARGS };


/* ---- export ---- */

static ember_stanza_t *
room_element(muc_room_t *r)
{
    ember_stanza_t *room = api->stanza_new("room", NS_PIE_MUC), *q, *it, *s;
    ember_stanza_t *owner = muc_config_form(r), *x;
    muc_aff_t *a;

    x = owner != NULL ? api->stanza_child(owner, "x", NS_DATA) : NULL;
    if (room == NULL || x == NULL) {
        api->stanza_free(room);
        api->stanza_free(owner);
        return NULL;
    }
    /* The owner's form, as the owner would send it back. */
    api->stanza_set_attr(x, "type", "submit");
    api->stanza_set_attr(room, "jid", r->jid);
    api->stanza_append(room, x);
    api->stanza_free(owner);
    if ((q = api->stanza_add_child(room, "query", NS_MUC_ADMIN)) != NULL)
        for (a = r->affs; a != NULL; a = a->next) {
            if ((it = api->stanza_add_child(q, "item", NULL)) == NULL)
                break;
            api->stanza_set_attr(it, "jid", a->jid);
            api->stanza_set_attr(it, "affiliation", muc_aff_name(a->aff));
            if (a->nick != NULL)
                api->stanza_set_attr(it, "nick", a->nick);
            if (a->reason != NULL)
                muc_add_text(it, "reason", a->reason);
        }
    if (r->subject != NULL &&
        (s = api->stanza_add_child(room, "subject", NULL)) != NULL) {
        api->stanza_add_text(s, r->subject);
        if (r->subject_nick != NULL)
            api->stanza_set_attr(s, "nick", r->subject_nick);
    }
    return room;
}


static void
muc_pie_export(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    muc_t *mu = ud;
    json_t *els = json_array();
    ember_stanza_t *st;
    muc_room_t *r;
    char *xml;

    (void) args;
    /* What the store keeps is what moves: persistent, configured rooms. */
    for (r = mu->rooms; els != NULL && r != NULL; r = r->next) {
        if (!r->c.persistent || r->locked || r->destroyed)
            continue;
        if ((st = room_element(r)) != NULL &&
            (xml = api->stanza_serialize(st, NULL)) != NULL) {
            json_array_append_new(els, json_string(xml));
            api->free(xml);
        }
        api->stanza_free(st);
    }
    api->command_done(ctx, els != NULL ? 0 : EMBER_ENOMEM,
                      els != NULL ? json_pack("{s:o}", "elements", els)
                                  : NULL, NULL);
}


/* ---- import ---- */

/*
 * Check one <room/> (create 0), or create it in the service.  NULL, or
 * why it is refused (in buf).  seen holds the rooms of the file so far.
 */
static const char *
take_room(muc_t *mu, const ember_stanza_t *st, int create, json_t *seen,
          char *buf, size_t len)
{
    const char *jid = api->stanza_attr(st, "jid");
    ember_jid_t *j = jid != NULL ? api->jid_parse(jid) : NULL;
    const ember_stanza_t *q, *it, *s;
    ember_stanza_t *x;
    muc_room_t scratch, *r = NULL;
    const char *why = NULL, *ij, *aff;
    char err[256];

    memset(&scratch, 0, sizeof(scratch));
    if (j == NULL || api->jid_node(j) == NULL ||
        api->jid_resource(j) != NULL ||
        strcmp(api->jid_domain(j), mu->domain) != 0) {
        snprintf(buf, len, "room %s: not a room of %s", jid != NULL ? jid
                 : "(no jid)", mu->domain);
        why = buf;
        goto out;
    }
    if (muc_room_find(mu, api->jid_node(j)) != NULL ||
        json_object_get(seen, api->jid_bare(j)) != NULL) {
        snprintf(buf, len, "room %s exists already", jid);
        why = buf;
        goto out;
    }
    json_object_set_new(seen, api->jid_bare(j), json_true());
    x = api->stanza_child(st, "x", NS_DATA);
    /* The room's own settings first, on a room of no one, so that a bad
     * value stops the import before anything exists. */
    r = &scratch;
    r->muc = mu;
    /* Locked: applying settings neither announces nor stores it. */
    r->locked = 1;
    muc_rconf_defaults(mu, &r->c);
    if (create && (r = muc_room_new(mu, api->jid_node(j), NULL)) == NULL) {
        why = "out of memory";
        goto out;
    }
    if (x != NULL && muc_config_submit(r, x, err, sizeof(err)) < 0) {
        snprintf(buf, len, "room %s: %s", jid, err);
        why = buf;
        goto out;
    }
    r->c.persistent = 1;
    q = api->stanza_child(st, "query", NS_MUC_ADMIN);
    for (it = q != NULL ? api->stanza_first(q) : NULL; it != NULL;
         it = api->stanza_next(it)) {
        ij = api->stanza_attr(it, "jid");
        aff = api->stanza_attr(it, "affiliation");
        if (ij == NULL || aff == NULL || muc_aff_parse(aff) < 0) {
            snprintf(buf, len, "room %s: an item needs a jid and an "
                     "affiliation", jid);
            why = buf;
            goto out;
        }
        if (create &&
            muc_aff_set(r, ij, muc_aff_parse(aff),
                        (s = api->stanza_child(it, "reason", NULL)) != NULL
                            ? api->stanza_text(s) : NULL) == 0)
            muc_nick_reserve(r, ij, api->stanza_attr(it, "nick"));
    }
    if (create) {
        muc_hist_resize(r, r->c.history_len);
        if ((s = api->stanza_child(st, "subject", NULL)) != NULL) {
            muc_set(&r->subject, api->stanza_text(s));
            muc_set(&r->subject_nick, api->stanza_attr(s, "nick"));
        }
        muc_store_save(r);
    }
out:
    /* A room refused half way goes again, never stored. */
    if (why != NULL && r != &scratch && r != NULL) {
        r->c.persistent = 0;
        muc_room_maybe_gc(r);
    }
    /* Applying the settings sized the scratch room's history ring. */
    muc_hist_resize(&scratch, 0);
    muc_rconf_free(&scratch.c);
    api->jid_free(j);
    return why;
}


static void
muc_pie_import(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    muc_t *mu = ud;
    json_t *elements = json_object_get(args, "elements"), *v, *taken;
    json_t *seen = json_object();
    int create = !json_is_true(json_object_get(args, "check"));
    ember_stanza_t *st;
    const char *xml, *why = NULL;
    char buf[512], msg[600];
    size_t i;

    if ((taken = json_array()) == NULL || seen == NULL) {
        json_decref(taken);
        json_decref(seen);
        api->command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        return;
    }
    json_array_foreach(elements, i, v) {
        xml = json_string_value(v);
        st = xml != NULL ? api->stanza_parse(xml, strlen(xml)) : NULL;
        if (st == NULL || strcmp(api->stanza_name(st), "room") != 0 ||
            strcmp(api->stanza_xmlns(st), NS_PIE_MUC) != 0) {
            api->stanza_free(st);
            continue;
        }
        why = take_room(mu, st, create, seen, buf, sizeof(buf));
        api->stanza_free(st);
        if (why != NULL) {
            snprintf(msg, sizeof(msg), "element %zu: muc: %s", i, why);
            json_decref(taken);
            json_decref(seen);
            api->command_done(ctx, EMBER_EINVAL, NULL, msg);
            return;
        }
        json_array_append_new(taken, json_integer((json_int_t) i));
    }
    json_decref(seen);
    api->command_done(ctx, 0, json_pack("{s:o}", "taken", taken), NULL);
}


static const ember_command_t pie_commands[] = {
    { "pie-host-export-muc", "the persistent rooms, for emberctl export",
      export_args, "local-read", muc_pie_export },
    { "pie-host-import-muc", "create rooms from an emberctl export",
      import_args, "local", muc_pie_import },
};


int
muc_migrate_register(muc_t *mu)
{
    size_t i;
    int err;

    for (i = 0; i < sizeof(pie_commands) / sizeof(pie_commands[0]); i++)
        if ((err = api->command_register(mu->m, &pie_commands[i], mu)) < 0)
            return err;
    return 0;
}
