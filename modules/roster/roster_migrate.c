/* roster_migrate.c -- pie-export-roster and pie-import-roster: a user's
 * roster and pending subscription requests as XEP-0227 elements, for
 * `emberctl export` and `import` (doc/migration.md has the convention). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <ember/pie.h>

#include "roster.h"

#define NS_CLIENT "jabber:client"

typedef struct {
    roster_inst_t *ri;
    ember_cmd_ctx_t *ctx;
    char *user;              /* node */
    char *bare;
    ritem_t **items;         /* import: what to apply, in order */
    size_t n, at;
    json_t *taken;
} rmig_t;

static const ember_cmd_arg_t export_args[] = { EMBER_PIE_EXPORT_ARGS };

static const ember_cmd_arg_t import_args[] = { EMBER_PIE_IMPORT_ARGS };


static void
rmig_free(rmig_t *j)
{
    size_t i;

    for (i = 0; i < j->n; i++)
        ritem_free(j->items[i]);
    free(j->items);
    free(j->user);
    free(j->bare);
    json_decref(j->taken);
    free(j);
}


static void
rmig_end(rmig_t *j, int status, json_t *result, const char *message)
{
    api->command_done(j->ctx, status, result, message);
    rmig_free(j);
}


static rmig_t *
rmig_new(ember_cmd_ctx_t *ctx, json_t *args, roster_inst_t *ri)
{
    ember_jid_t *u = ember_pie_account(api, ri->m, json_string_value(
                                           json_object_get(args, "jid")));
    rmig_t *j = NULL;

    if (u == NULL) {
        api->command_done(ctx, EMBER_EINVAL, NULL, "jid must be the bare "
                          "JID of an account of this host");
    } else if ((j = calloc(1, sizeof(*j))) == NULL ||
               (j->user = strdup(api->jid_node(u))) == NULL ||
               (j->bare = strdup(api->jid_bare(u))) == NULL ||
               (j->taken = json_array()) == NULL) {
        if (j != NULL)
            rmig_free(j);
        j = NULL;
        api->command_done(ctx, EMBER_ENOMEM, NULL, "out of memory");
    } else {
        j->ri = ri;
        j->ctx = ctx;
    }
    api->jid_free(u);
    return j;
}


/* ---- export ---- */

static int
add_serialized(json_t *out, ember_stanza_t *st)
{
    char *xml = api->stanza_serialize(st, NULL);
    int rc = xml != NULL ? json_array_append_new(out, json_string(xml)) : -1;

    api->free(xml);
    return rc;
}


static int
export_item(ember_stanza_t *q, const ritem_t *it)
{
    ember_stanza_t *e = api->stanza_add_child(q, "item", NULL), *g;
    size_t i;

    if (e == NULL || api->stanza_set_attr(e, "jid", it->jid) < 0 ||
        api->stanza_set_attr(e, "subscription", ember_sub_name(it->sub)) < 0
        || (it->name != NULL && api->stanza_set_attr(e, "name",
                                                     it->name) < 0) ||
        (it->ask && api->stanza_set_attr(e, "ask", "subscribe") < 0))
        return EMBER_ENOMEM;
    for (i = 0; i < it->ngroups; i++)
        if ((g = api->stanza_add_child(e, "group", NULL)) == NULL ||
            api->stanza_add_text(g, it->groups[i]) < 0)
            return EMBER_ENOMEM;
    return 0;
}


static void
export_loaded(int status, ember_roster_t *roster, void *ud)
{
    rmig_t *j = ud;
    roster_t *r = (roster_t *) roster;
    ember_stanza_t *q = NULL, *p;
    json_t *out = NULL;
    rnode_t *n;
    size_t i;
    int err = EMBER_ENOMEM;

    if (status < 0) {
        rmig_end(j, status, NULL, NULL);
        return;
    }
    if ((out = json_array()) == NULL ||
        (q = api->stanza_new("query", NS_ROSTER)) == NULL)
        goto fail;
    for (i = 0; i < r->items.nb; i++)
        for (n = r->items.b[i]; n != NULL; n = n->next) {
            ritem_t *it = (ritem_t *) n;

            if (!it->hidden && export_item(q, it) < 0)
                goto fail;
        }
    if (api->stanza_first(q) != NULL && add_serialized(out, q) < 0)
        goto fail;
    /* XEP-0227 3.4: requests not yet answered, as the presence that
     * asked. */
    for (i = 0; i < r->items.nb; i++)
        for (n = r->items.b[i]; n != NULL; n = n->next) {
            ritem_t *it = (ritem_t *) n;

            if (!it->pending_in)
                continue;
            if ((p = api->stanza_new("presence", NS_CLIENT)) == NULL ||
                api->stanza_set_attr(p, "from", it->jid) < 0 ||
                api->stanza_set_attr(p, "to", j->bare) < 0 ||
                api->stanza_set_attr(p, "type", "subscribe") < 0 ||
                add_serialized(out, p) < 0) {
                api->stanza_free(p);
                goto fail;
            }
            api->stanza_free(p);
        }
    api->stanza_free(q);
    rmig_end(j, 0, json_pack("{s:o}", "elements", out), NULL);
    return;

fail:
    api->stanza_free(q);
    json_decref(out);
    rmig_end(j, err, NULL, "out of memory");
}


static void
roster_export_run(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    rmig_t *j = rmig_new(ctx, args, ud);
    int err;

    if (j != NULL && (err = roster_load(j->ri, j->user, export_loaded,
                                        j)) < 0)
        rmig_end(j, err, NULL, NULL);
}


/* ---- import ---- */

/* The item for contact among those gathered, or a new one. */
static ritem_t *
item_for(rmig_t *j, const char *contact)
{
    ritem_t *it, **grown;
    size_t i;

    for (i = 0; i < j->n; i++)
        if (strcmp(j->items[i]->jid, contact) == 0)
            return j->items[i];
    if ((grown = realloc(j->items, (j->n + 1) * sizeof(*grown))) == NULL)
        return NULL;
    j->items = grown;
    if ((it = calloc(1, sizeof(*it))) == NULL ||
        (it->jid = strdup(contact)) == NULL) {
        free(it);
        return NULL;
    }
    /* Until an item of the query says otherwise, a requester alone is
     * not shown (as the roster keeps an unanswered request). */
    it->hidden = 1;
    j->items[j->n++] = it;
    return it;
}


/* A contact's prepared bare JID into buf, or an error message. */
static const char *
contact_jid(rmig_t *j, const char *s, char *buf, size_t len)
{
    ember_jid_t *c = s != NULL ? api->jid_parse(s) : NULL;
    const char *why = NULL;

    if (c == NULL || api->jid_resource(c) != NULL)
        why = "not a bare JID";
    else if (strcmp(api->jid_bare(c), j->bare) == 0)
        why = "the user's own JID";
    else if (strlen(api->jid_bare(c)) >= len)
        why = "too long";
    else
        strcpy(buf, api->jid_bare(c));
    api->jid_free(c);
    return why;
}


static const char *
take_item(rmig_t *j, const ember_stanza_t *e)
{
    roster_conf_t *conf = api->module_conf(j->ri->m);
    const char *sub = api->stanza_attr(e, "subscription");
    const char *ask = api->stanza_attr(e, "ask");
    const char *name = api->stanza_attr(e, "name");
    const ember_stanza_t *g;
    char contact[3072], **groups;
    const char *why;
    ritem_t *it;
    int s;

    if (strcmp(api->stanza_name(e), "item") != 0)
        return "only <item/> goes in a roster";
    if ((why = contact_jid(j, api->stanza_attr(e, "jid"), contact,
                           sizeof(contact))) != NULL)
        return why;
    if ((s = roster_sub_parse(sub != NULL ? sub : "none")) < 0)
        return "subscription must be none, to, from or both";
    if (ask != NULL && strcmp(ask, "subscribe") != 0)
        return "ask must be subscribe";
    if (name != NULL && conf->max_name > 0 &&
        strlen(name) > (size_t) conf->max_name)
        return "name too long";
    if ((it = item_for(j, contact)) == NULL)
        return "out of memory";
    if (!it->hidden)
        return "the same contact twice";
    it->hidden = 0;
    it->sub = (ember_sub_t) s;
    it->ask = ask != NULL;
    if (name != NULL && name[0] != '\0' && (it->name = strdup(name)) == NULL)
        return "out of memory";
    for (g = api->stanza_first(e); g != NULL; g = api->stanza_next(g)) {
        const char *t = api->stanza_text(g);

        if (strcmp(api->stanza_name(g), "group") != 0 || t[0] == '\0')
            return "an item holds only non-empty <group/>s";
        if (conf->max_groups > 0 && it->ngroups >= (size_t) conf->max_groups)
            return "too many groups";
        if ((groups = realloc(it->groups, (it->ngroups + 1) *
                                              sizeof(char *))) == NULL)
            return "out of memory";
        it->groups = groups;
        if ((it->groups[it->ngroups] = strdup(t)) == NULL)
            return "out of memory";
        it->ngroups++;
    }
    return NULL;
}


/* The request presence keeps to show again at the next login, as one
 * that arrived: from the contact, in jabber:client, whatever the file's
 * element carried. */
static char *
pending_stanza(const char *contact, const char *bare)
{
    ember_stanza_t *p = api->stanza_new("presence", NULL);
    char *xml = NULL;

    if (p != NULL && api->stanza_set_attr(p, "from", contact) == 0 &&
        api->stanza_set_attr(p, "to", bare) == 0 &&
        api->stanza_set_attr(p, "type", "subscribe") == 0)
        xml = api->stanza_serialize(p, NULL);
    api->stanza_free(p);
    return xml;
}


/* Which of the user's elements are ours; every one taken is checked.
 * NULL, or why element *bad is refused. */
static const char *
gather(rmig_t *j, json_t *elements, size_t *bad)
{
    ember_stanza_t *st, *e;
    const char *xml, *why = NULL, *ns, *name;
    char contact[3072];
    size_t i;
    ritem_t *it;
    json_t *v;

    json_array_foreach(elements, i, v) {
        xml = json_string_value(v);
        *bad = i;
        /* One the parser refuses is no roster it could take. */
        if (xml == NULL || (st = api->stanza_parse(xml, strlen(xml))) ==
                               NULL)
            continue;
        name = api->stanza_name(st);
        ns = api->stanza_xmlns(st);
        if (strcmp(name, "query") == 0 && strcmp(ns, NS_ROSTER) == 0) {
            for (e = api->stanza_first(st); e != NULL && why == NULL;
                 e = api->stanza_next(e))
                why = take_item(j, e);
        } else if (strcmp(name, "presence") == 0 &&
                   (strcmp(ns, NS_CLIENT) == 0 ||
                    /* Prosody 0.12 writes it without a namespace of its
                     * own, so it falls into the file's. */
                    strcmp(ns, EMBER_NS_PIE) == 0) &&
                   api->stanza_attr(st, "type") != NULL &&
                   strcmp(api->stanza_attr(st, "type"), "subscribe") == 0) {
            if ((why = contact_jid(j, api->stanza_attr(st, "from"), contact,
                                   sizeof(contact))) == NULL) {
                if ((it = item_for(j, contact)) == NULL ||
                    (free(it->pending_stanza),
                     it->pending_stanza = pending_stanza(contact, j->bare))
                        == NULL)
                    why = "out of memory";
                else
                    it->pending_in = 1;
            }
        } else {
            api->stanza_free(st);
            continue;
        }
        api->stanza_free(st);
        if (why != NULL)
            return why;
        json_array_append_new(j->taken, json_integer((json_int_t) i));
    }
    return NULL;
}


static void import_next(rmig_t *j);

static void
import_stored(int status, void *ud)
{
    rmig_t *j = ud;

    if (status < 0) {
        rmig_end(j, status, NULL, "storing the roster failed");
        return;
    }
    import_next(j);
}


static void
import_next(rmig_t *j)
{
    ritem_t *it;
    int err;

    if (j->at == j->n) {
        rmig_end(j, 0, json_pack("{s:O}", "taken", j->taken), NULL);
        return;
    }
    it = j->items[j->at];
    j->items[j->at++] = NULL;
    if ((err = roster_apply(j->ri, j->user, it->jid, it, 0, import_stored,
                            j)) < 0)
        rmig_end(j, err, NULL, NULL);
}


static void
roster_import_run(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    rmig_t *j = rmig_new(ctx, args, ud);
    json_t *elements = json_object_get(args, "elements");
    char msg[256];
    const char *why;
    size_t bad = 0;

    if (j == NULL)
        return;
    if (!json_is_array(elements)) {
        rmig_end(j, EMBER_EINVAL, NULL, "elements must be an array");
        return;
    }
    if ((why = gather(j, elements, &bad)) != NULL) {
        snprintf(msg, sizeof(msg), "element %zu: roster: %s", bad, why);
        rmig_end(j, EMBER_EINVAL, NULL, msg);
        return;
    }
    if (json_is_true(json_object_get(args, "check"))) {
        rmig_end(j, 0, json_pack("{s:O}", "taken", j->taken), NULL);
        return;
    }
    import_next(j);
}


static const ember_command_t migrate_commands[] = {
    { "pie-export-roster", "a user's roster as XEP-0227 elements",
      export_args, "local-read", roster_export_run },
    { "pie-import-roster", "import a user's XEP-0227 roster elements",
      import_args, "local", roster_import_run },
};


int
roster_migrate_init(roster_inst_t *ri)
{
    size_t i;
    int err;

    for (i = 0; i < sizeof(migrate_commands) / sizeof(migrate_commands[0]);
         i++)
        if ((err = api->command_register(ri->m, &migrate_commands[i],
                                         ri)) < 0)
            return err;
    return 0;
}
