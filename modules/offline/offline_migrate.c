/* offline_migrate.c -- pie-export-offline and pie-import-offline: a
 * user's stored messages as the XEP-0227 <offline-messages/> element,
 * oldest first, for `emberctl export` and `import` (doc/migration.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include <ember/pie.h>

#include "offline.h"

#define NS_CLIENT "jabber:client"
#define NS_DELAY "urn:xmpp:delay"

typedef struct omig_s {
    off_inst_t *in;
    ember_cmd_ctx_t *ctx;
    char *user, *bare;
    json_t *msgs;           /* import: [{"with", "data"}], in order */
    size_t at;
    json_t *taken;
} omig_t;


static void
omig_end(omig_t *o, int status, json_t *result, const char *message)
{
    api->command_done(o->ctx, status, result, message);
    free(o->user);
    free(o->bare);
    json_decref(o->msgs);
    json_decref(o->taken);
    free(o);
}


static omig_t *
omig_new(ember_cmd_ctx_t *ctx, json_t *args, off_inst_t *in)
{
    ember_jid_t *j = ember_pie_account(api, in->m, json_string_value(
                                           json_object_get(args, "jid")));
    omig_t *o = NULL;

    if (j == NULL) {
        api->command_done(ctx, EMBER_EINVAL, NULL,
                          "'jid' must be an account of this host");
    } else if ((o = calloc(1, sizeof(*o))) != NULL) {
        o->in = in;
        o->ctx = ctx;
        o->user = strdup(api->jid_node(j));
        o->bare = strdup(api->jid_bare(j));
        o->msgs = json_array();
        o->taken = json_array();
        if (o->user == NULL || o->bare == NULL || o->msgs == NULL ||
            o->taken == NULL) {
            omig_end(o, EMBER_ENOMEM, NULL, NULL);
            o = NULL;
        }
    } else {
        api->command_done(ctx, EMBER_ENOMEM, NULL, NULL);
    }
    api->jid_free(j);
    return o;
}


/* A stored message under <offline-messages/>, in jabber:client. */
static int
export_one(ember_stanza_t *list, const char *xml)
{
    ember_stanza_t *st = xml != NULL ? api->stanza_parse(xml, strlen(xml))
                                     : NULL;
    int rc;

    if (st == NULL)
        return 0;   /* unreadable: left out, as delivery would */
    rc = ember_pie_client_copy(api, list, st) != NULL ? 0 : -1;
    api->stanza_free(st);
    return rc;
}


static void
export_got(int status, json_t *res, void *ud)
{
    omig_t *o = ud;
    ember_stanza_t *list = NULL;
    json_t *it, *els = json_array();
    char *xml;
    size_t i;

    if (status < 0 && status != EMBER_ENOENT) {
        json_decref(els);
        omig_end(o, status, NULL, api->strerror(status));
        return;
    }
    if (json_array_size(json_object_get(res, "items")) > 0 &&
        (list = api->stanza_new("offline-messages", EMBER_NS_PIE)) != NULL) {
        json_array_foreach(json_object_get(res, "items"), i, it)
            if (export_one(list, json_string_value(json_object_get(it,
                                                                "data")))
                < 0)
                break;
        if ((xml = api->stanza_serialize(list, NULL)) != NULL)
            json_array_append_new(els, json_string(xml));
        api->free(xml);
        api->stanza_free(list);
    }
    omig_end(o, 0, json_pack("{s:o}", "elements", els), NULL);
}


static void
offline_pie_export(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    omig_t *o = omig_new(ctx, args, ud);
    int err;

    if (o != NULL && (err = api->archive_query(o->in->store, o->user, NULL,
                                               export_got, o)) < 0)
        omig_end(o, err, NULL, api->strerror(err));
}


/* One <message/> of the file as it will be stored: addressed to the
 * user, with a XEP-0203 delay (now, when the file has none). */
static const char *
take_message(omig_t *o, ember_stanza_t *m)
{
    const char *from = api->stanza_attr(m, "from");
    ember_jid_t *j = from != NULL ? api->jid_parse(from) : NULL;
    ember_stanza_t *d;
    char stamp[64], *xml;

    if (strcmp(api->stanza_name(m), "message") != 0 ||
        strcmp(api->stanza_xmlns(m), NS_CLIENT) != 0) {
        api->jid_free(j);
        return "only <message xmlns='jabber:client'/> goes there";
    }
    if (j == NULL)
        return "a message without a valid 'from'";
    api->stanza_set_attr(m, "to", o->bare);
    if (api->stanza_child(m, "delay", NS_DELAY) == NULL) {
        off_stamp(stamp, sizeof(stamp));
        if ((d = api->stanza_add_child(m, "delay", NS_DELAY)) != NULL) {
            api->stanza_set_attr(d, "from", api->module_host(o->in->m));
            api->stanza_set_attr(d, "stamp", stamp);
            api->stanza_add_text(d, "Offline Storage");
        }
    }
    xml = api->stanza_serialize(m, NULL);
    if (xml != NULL)
        json_array_append_new(o->msgs, json_pack("{s:s, s:s}", "with",
                                                 api->jid_bare(j), "data",
                                                 xml));
    api->free(xml);
    api->jid_free(j);
    return xml != NULL ? NULL : "out of memory";
}


static void import_next(omig_t *o);

static void
appended(int status, json_t *res, void *ud)
{
    omig_t *o = ud;
    off_user_t *u;

    (void) res;
    if (status < 0) {
        omig_end(o, status, NULL, "storing an offline message failed");
        return;
    }
    /* A count the queue already holds grows with what was added here. */
    if ((u = off_user_get(o->in, o->user, 0)) != NULL && u->stored >= 0)
        u->stored++;
    import_next(o);
}


static void
import_next(omig_t *o)
{
    json_t *m = json_array_get(o->msgs, o->at++);
    int err;

    if (m == NULL) {
        omig_end(o, 0, json_pack("{s:O}", "taken", o->taken), NULL);
        return;
    }
    if ((err = api->archive_append(o->in->store, o->user,
                                   json_string_value(json_object_get(m,
                                                                     "with")),
                                   json_string_value(json_object_get(m,
                                                                     "data")),
                                   appended, o)) < 0)
        omig_end(o, err, NULL, api->strerror(err));
}


static void
offline_pie_import(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    omig_t *o = omig_new(ctx, args, ud);
    ember_stanza_t *st, *m;
    const char *xml, *why = NULL;
    char msg[256];
    json_t *v;
    size_t i;

    if (o == NULL)
        return;
    json_array_foreach(json_object_get(args, "elements"), i, v) {
        xml = json_string_value(v);
        st = xml != NULL ? api->stanza_parse(xml, strlen(xml)) : NULL;
        if (st == NULL || strcmp(api->stanza_name(st), "offline-messages")
                              != 0 ||
            strcmp(api->stanza_xmlns(st), EMBER_NS_PIE) != 0) {
            api->stanza_free(st);
            continue;
        }
        for (m = api->stanza_first(st); m != NULL && why == NULL;
             m = api->stanza_next(m))
            why = take_message(o, m);
        api->stanza_free(st);
        if (why == NULL && json_array_size(o->msgs) >
                               (size_t) o->in->max_messages)
            why = "more messages than the offline module's max-messages";
        if (why != NULL) {
            snprintf(msg, sizeof(msg), "element %zu: offline: %s", i, why);
            omig_end(o, EMBER_EINVAL, NULL, msg);
            return;
        }
        json_array_append_new(o->taken, json_integer((json_int_t) i));
    }
    if (json_is_true(json_object_get(args, "check"))) {
        omig_end(o, 0, json_pack("{s:O}", "taken", o->taken), NULL);
        return;
    }
    import_next(o);
}


static const ember_cmd_arg_t export_args[] = { EMBER_PIE_EXPORT_ARGS };

static const ember_cmd_arg_t import_args[] = { EMBER_PIE_IMPORT_ARGS };

static const ember_command_t pie_commands[] = {
    { "pie-export-offline", "a user's offline messages as a XEP-0227 "
      "element", export_args, "local-read", offline_pie_export },
    { "pie-import-offline", "import a user's XEP-0227 offline messages",
      import_args, "local", offline_pie_import },
};


int
off_migrate_init(off_inst_t *in)
{
    size_t i;
    int err;

    for (i = 0; i < sizeof(pie_commands) / sizeof(pie_commands[0]); i++)
        if ((err = api->command_register(in->m, &pie_commands[i], in)) < 0)
            return err;
    return 0;
}
