/* mam_migrate.c -- pie-export-mam and pie-import-mam: an account's
 * message archive as XEP-0227 section 3.8 writes it, <archive
 * xmlns='urn:xmpp:pie:0#mam'> of XEP-0313 results, oldest first, for
 * `emberctl export` and `import` (doc/migration.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ember/pie.h>

#include "mam.h"

#define NS_PIE_MAM "urn:xmpp:pie:0#mam"

typedef struct {
    mam_t *mm;
    ember_cmd_ctx_t *ctx;
    char *user, *bare;
    json_t *items;           /* import: [{"with", "data", "time"}] */
    size_t at;
    json_t *taken;
} xmig_t;

static const ember_cmd_arg_t export_args[] = { EMBER_PIE_EXPORT_ARGS };
static const ember_cmd_arg_t import_args[] = { EMBER_PIE_IMPORT_ARGS };


static void
xmig_end(xmig_t *x, int status, json_t *result, const char *message)
{
    api->command_done(x->ctx, status, result, message);
    free(x->user);
    free(x->bare);
    json_decref(x->items);
    json_decref(x->taken);
    free(x);
}


static xmig_t *
xmig_new(ember_cmd_ctx_t *ctx, json_t *args, mam_t *mm)
{
    ember_jid_t *j = ember_pie_account(api, mm->m, json_string_value(
                                           json_object_get(args, "jid")));
    xmig_t *x;

    if (j == NULL) {
        api->command_done(ctx, EMBER_EINVAL, NULL, "jid: an account of this "
                          "host, user@host");
        return NULL;
    }
    if ((x = calloc(1, sizeof(*x))) == NULL ||
        (x->user = strdup(api->jid_node(j))) == NULL ||
        (x->bare = strdup(api->jid_bare(j))) == NULL ||
        (x->items = json_array()) == NULL ||
        (x->taken = json_array()) == NULL) {
        api->jid_free(j);
        if (x != NULL) {
            x->ctx = ctx;
            xmig_end(x, EMBER_ENOMEM, NULL, NULL);
        } else {
            api->command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        }
        return NULL;
    }
    api->jid_free(j);
    x->mm = mm;
    x->ctx = ctx;
    return x;
}


/* ---- export ---- */

static void
export_got(int status, json_t *res, void *ud)
{
    xmig_t *x = ud;
    ember_stanza_t *archive = NULL, *r, *fwd, *d, *orig;
    json_t *it, *els = json_array();
    const char *data;
    char id[32], stamp[64], *xml;
    size_t i;

    if (status < 0 && status != EMBER_ENOENT) {
        json_decref(els);
        xmig_end(x, status, NULL, api->strerror(status));
        return;
    }
    if (json_array_size(json_object_get(res, "items")) > 0)
        archive = api->stanza_new("archive", NS_PIE_MAM);
    json_array_foreach(json_object_get(res, "items"), i, it) {
        data = json_string_value(json_object_get(it, "data"));
        orig = data != NULL ? api->stanza_parse(data, strlen(data)) : NULL;
        if (archive == NULL || orig == NULL) {
            api->stanza_free(orig);
            continue;
        }
        mam_id_format(json_integer_value(json_object_get(it, "time")), id,
                      sizeof(id));
        mam_time_format(json_integer_value(json_object_get(it, "time")),
                        stamp, sizeof(stamp));
        /* As a query answers it: the id, the time, the message. */
        if ((r = api->stanza_add_child(archive, "result", NS_MAM)) != NULL &&
            (fwd = api->stanza_add_child(r, "forwarded", NS_FORWARD)) !=
                NULL &&
            (d = api->stanza_add_child(fwd, "delay", NS_DELAY)) != NULL) {
            api->stanza_set_attr(r, "id", id);
            api->stanza_set_attr(d, "stamp", stamp);
            ember_pie_client_copy(api, fwd, orig);
        }
        api->stanza_free(orig);
    }
    if (archive != NULL && (xml = api->stanza_serialize(archive, NULL)) !=
                               NULL) {
        json_array_append_new(els, json_string(xml));
        api->free(xml);
    }
    api->stanza_free(archive);
    xmig_end(x, 0, json_pack("{s:o}", "elements", els), NULL);
}


static void
mam_pie_export(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    xmig_t *x = xmig_new(ctx, args, ud);
    int err;

    if (x != NULL && (err = api->archive_query(x->mm->st, x->user, NULL,
                                               export_got, x)) < 0)
        xmig_end(x, err, NULL, api->strerror(err));
}


/* ---- import ---- */

/* One <result/>: the message it forwards, its time, and the peer (the
 * other party of the conversation).  NULL, or why it is refused. */
static const char *
take_result(xmig_t *x, const ember_stanza_t *r, int64_t *last)
{
    const ember_stanza_t *fwd = api->stanza_child(r, "forwarded",
                                                  NS_FORWARD);
    const ember_stanza_t *d, *m;
    const char *from, *to, *peer;
    ember_jid_t *jf, *jt;
    int64_t t;
    char *xml;

    if (strcmp(api->stanza_name(r), "result") != 0 ||
        strcmp(api->stanza_xmlns(r), NS_MAM) != 0 || fwd == NULL)
        return "an archive holds <result xmlns='urn:xmpp:mam:2'> with "
               "<forwarded/>";
    d = api->stanza_child(fwd, "delay", NS_DELAY);
    m = api->stanza_child(fwd, "message", "jabber:client");
    if (d == NULL || m == NULL ||
        (t = mam_time_parse(api->stanza_attr(d, "stamp"))) <= 0)
        return "a result needs a delay stamp and a jabber:client message";
    from = api->stanza_attr(m, "from");
    to = api->stanza_attr(m, "to");
    jf = from != NULL ? api->jid_parse(from) : NULL;
    jt = to != NULL ? api->jid_parse(to) : NULL;
    if (jf == NULL || jt == NULL) {
        api->jid_free(jf);
        api->jid_free(jt);
        return "an archived message needs a valid 'from' and 'to'";
    }
    /* Oldest first (3.8); times are the archive's ids, so they must grow:
     * one equal to the last is moved on by a microsecond. */
    if (t <= *last)
        t = *last + 1;
    *last = t;
    peer = strcmp(api->jid_bare(jf), x->bare) == 0 ? api->jid_bare(jt)
                                                   : api->jid_bare(jf);
    if ((xml = api->stanza_serialize(m, NULL)) != NULL)
        json_array_append_new(x->items,
                              json_pack("{s:s, s:s, s:I}", "with", peer,
                                        "data", xml, "time", (json_int_t) t));
    api->free(xml);
    api->jid_free(jf);
    api->jid_free(jt);
    return xml != NULL ? NULL : "out of memory";
}


static void import_next(xmig_t *x);

static void
appended(int status, json_t *res, void *ud)
{
    xmig_t *x = ud;

    (void) res;
    if (status < 0) {
        xmig_end(x, status, NULL, "storing an archived message failed");
        return;
    }
    import_next(x);
}


static void
import_next(xmig_t *x)
{
    json_t *it = json_array_get(x->items, x->at++);
    int64_t t;
    int err;

    if (it == NULL) {
        xmig_end(x, 0, json_pack("{s:O}", "taken", x->taken), NULL);
        return;
    }
    t = (int64_t) json_integer_value(json_object_get(it, "time"));
    /* Live messages archived from now on get later times than these. */
    if (t > x->mm->last_us)
        x->mm->last_us = t;
    if ((err = api->archive_append_at(
             x->mm->st, x->user,
             json_string_value(json_object_get(it, "with")),
             json_string_value(json_object_get(it, "data")), t, appended,
             x)) < 0)
        xmig_end(x, err, NULL, api->strerror(err));
}


static void
mam_pie_import(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    xmig_t *x = xmig_new(ctx, args, ud);
    ember_stanza_t *st;
    const ember_stanza_t *r;
    const char *xml, *why = NULL;
    char msg[256];
    int64_t last = 0;
    json_t *v;
    size_t i;

    if (x == NULL)
        return;
    json_array_foreach(json_object_get(args, "elements"), i, v) {
        xml = json_string_value(v);
        st = xml != NULL ? api->stanza_parse(xml, strlen(xml)) : NULL;
        if (st == NULL || strcmp(api->stanza_name(st), "archive") != 0 ||
            strcmp(api->stanza_xmlns(st), NS_PIE_MAM) != 0) {
            api->stanza_free(st);
            continue;
        }
        for (r = api->stanza_first(st); r != NULL && why == NULL;
             r = api->stanza_next(r))
            why = take_result(x, r, &last);
        api->stanza_free(st);
        if (why != NULL) {
            snprintf(msg, sizeof(msg), "element %zu: mam: %s", i, why);
            xmig_end(x, EMBER_EINVAL, NULL, msg);
            return;
        }
        json_array_append_new(x->taken, json_integer((json_int_t) i));
    }
    if (json_is_true(json_object_get(args, "check"))) {
        xmig_end(x, 0, json_pack("{s:O}", "taken", x->taken), NULL);
        return;
    }
    import_next(x);
}


static const ember_command_t pie_commands[] = {
    { "pie-export-mam", "an account's message archive as a XEP-0227 "
      "element", export_args, "local-read", mam_pie_export },
    { "pie-import-mam", "import an account's XEP-0227 message archive",
      import_args, "local", mam_pie_import },
};


int
mam_migrate_register(mam_t *mm)
{
    size_t i;
    int err;

    for (i = 0; i < sizeof(pie_commands) / sizeof(pie_commands[0]); i++)
        if ((err = api->command_register(mm->m, &pie_commands[i], mm)) < 0)
            return err;
    return 0;
}
