/* pubsub_migrate.c -- pie-export-pep and pie-import-pep: an account's PEP
 * service as XEP-0227 section 3.6 writes it, one <pubsub/> of pubsub#owner
 * (node configuration, affiliations, subscriptions) and one of pubsub
 * (the items), for `emberctl export` and `import` (doc/migration.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ember/pie.h>
#include "pubsub.h"

typedef struct {
    pubsub_t *p;
    ember_cmd_ctx_t *ctx;
    json_t *args;
    char jid[1100];       /* the account's bare JID */
} pmig_t;

static const ember_cmd_arg_t export_args[] = { EMBER_PIE_EXPORT_ARGS };

static const ember_cmd_arg_t import_args[] = { EMBER_PIE_IMPORT_ARGS };


static void
pmig_end(pmig_t *j, int status, json_t *result, const char *message)
{
    api->command_done(j->ctx, status, result, message);
    json_decref(j->args);
    free(j);
}


/* ---- export ---- */

static void
export_node(ember_stanza_t *owner, ember_stanza_t *items, ps_node_t *n)
{
    ember_stanza_t *e, *c, *it, *pl;
    const char *jid, *xml, *pub;
    json_t *v;
    size_t i;

    if ((e = api->stanza_add_child(owner, "configure", NULL)) != NULL) {
        api->stanza_set_attr(e, "node", n->name);
        ps_config_form(e, "submit", n->config);
    }
    if (json_object_size(n->aff) > 0 &&
        (e = api->stanza_add_child(owner, "affiliations", NULL)) != NULL) {
        api->stanza_set_attr(e, "node", n->name);
        json_object_foreach(n->aff, jid, v)
            if ((c = api->stanza_add_child(e, "affiliation", NULL)) != NULL) {
                api->stanza_set_attr(c, "jid", jid);
                api->stanza_set_attr(c, "affiliation", json_string_value(v));
            }
    }
    if (json_object_size(n->subs) > 0 &&
        (e = api->stanza_add_child(owner, "subscriptions", NULL)) != NULL) {
        api->stanza_set_attr(e, "node", n->name);
        json_object_foreach(n->subs, jid, v)
            if ((c = api->stanza_add_child(e, "subscription", NULL)) !=
                NULL) {
                api->stanza_set_attr(c, "jid", jid);
                api->stanza_set_attr(c, "subscription", json_string_value(
                                         json_object_get(v, "sub")));
            }
    }
    if ((e = api->stanza_add_child(items, "items", NULL)) == NULL)
        return;
    api->stanza_set_attr(e, "node", n->name);
    /* Oldest first, as they were published: an import publishes them in
     * this order again. */
    json_array_foreach(n->items, i, v) {
        xml = json_string_value(json_object_get(v, "xml"));
        pub = json_string_value(json_object_get(v, "publisher"));
        if ((it = api->stanza_add_child(e, "item", NULL)) == NULL)
            return;
        api->stanza_set_attr(it, "id",
                             json_string_value(json_object_get(v, "id")));
        if (pub != NULL && pub[0] != '\0')
            api->stanza_set_attr(it, "publisher", pub);
        if (xml != NULL && (pl = api->stanza_parse(xml, strlen(xml))) !=
                               NULL) {
            api->stanza_append(it, pl);
            api->stanza_free(pl);
        }
    }
}


static void
export_ready(ps_ctx_t *c, ps_service_t *svc, void *ud)
{
    pmig_t *j = ud;
    ember_stanza_t *owner, *items;
    json_t *els = json_array();
    ps_node_t *n;
    size_t count, i;
    char *xml;

    (void) c;
    if (svc == NULL) {
        json_decref(els);
        pmig_end(j, EMBER_EIO, NULL, "reading the PEP service failed");
        return;
    }
    owner = api->stanza_new("pubsub", PS_NS_OWNER);
    items = api->stanza_new("pubsub", PS_NS);
    /* Oldest node first (the list is newest first): the import adds them
     * in file order, which gives the same list again. */
    for (count = 0, n = svc->nodes; n != NULL; n = n->next)
        count++;
    while (owner != NULL && items != NULL && count > 0) {
        for (i = 1, n = svc->nodes; i < count; i++)
            n = n->next;
        export_node(owner, items, n);
        count--;
    }
    if (svc->nodes != NULL && owner != NULL && items != NULL) {
        if ((xml = api->stanza_serialize(owner, NULL)) != NULL)
            json_array_append_new(els, json_string(xml));
        api->free(xml);
        if ((xml = api->stanza_serialize(items, NULL)) != NULL)
            json_array_append_new(els, json_string(xml));
        api->free(xml);
    }
    api->stanza_free(owner);
    api->stanza_free(items);
    ps_service_hold(svc);
    ps_service_drop(svc);
    pmig_end(j, 0, json_pack("{s:o}", "elements", els), NULL);
}


/* ---- import ---- */

/* Why a configuration was refused (the message names the field). */
static char refused[400];


/* A copy of a submitted form with only the fields that carry a value. */
static ember_stanza_t *
set_fields(const ember_stanza_t *x)
{
    const ember_stanza_t *f;
    ember_stanza_t *out;
    const char *var, *vals[65];
    size_t k;

    if (x == NULL || (out = api->form_new(NULL, "submit", NULL, NULL)) ==
                         NULL)
        return NULL;
    for (f = api->stanza_first(x); f != NULL; f = api->stanza_next(f)) {
        if (strcmp(api->stanza_name(f), "field") != 0 ||
            (var = api->stanza_attr(f, "var")) == NULL)
            continue;
        if ((k = api->form_values(x, var, vals, 64)) == 0)
            continue;
        vals[k < 64 ? k : 64] = NULL;
        api->form_add_field(out, var, api->stanza_attr(f, "type"), NULL,
                            vals);
    }
    return out;
}

/* Check (svc NULL) or apply one <configure/>, <affiliations/> or
 * <subscriptions/>.  NULL, or why it is refused. */
static const char *
owner_child(ps_ctx_t *c, ps_service_t *svc, const char *bare,
            const ember_stanza_t *e)
{
    const char *what = api->stanza_name(e);
    const char *node = api->stanza_attr(e, "node");
    const ember_stanza_t *x, *ch;
    const char *bad = NULL, *jid, *val;
    json_t *config;
    ps_node_t *n = NULL;
    char prep[1100], id[64];

    if (node == NULL || node[0] == '\0')
        return "a node attribute is needed";
    if (svc != NULL && (n = ps_node_find(svc, node)) == NULL &&
        (n = ps_node_add(svc, node, bare, NULL)) == NULL)
        return "out of memory";
    if (strcmp(what, "configure") == 0) {
        /* Unknown fields are left out (XEP-0227 3.6.1), and so are fields
         * without a value (Prosody lists every option, set or not); a
         * known one with a value this server refuses stops the import. */
        x = set_fields(api->stanza_child(e, "x", "jabber:x:data"));
        if ((config = json_object()) == NULL) {
            api->stanza_free((ember_stanza_t *) x);
            return "out of memory";
        }
        ps_config_defaults(c, config);
        if (x != NULL && ps_config_apply(c, n != NULL ? n->config : config,
                                         x, NULL, &bad) < 0) {
            snprintf(refused, sizeof(refused), "node %.200s: a value of "
                     "%.100s this server refuses", node,
                     bad != NULL ? bad : "?");
            api->stanza_free((ember_stanza_t *) x);
            json_decref(config);
            return refused;
        }
        api->stanza_free((ember_stanza_t *) x);
        json_decref(config);
    } else if (strcmp(what, "affiliations") == 0) {
        for (ch = api->stanza_first(e); ch != NULL; ch = api->stanza_next(ch)) {
            jid = api->stanza_attr(ch, "jid");
            val = api->stanza_attr(ch, "affiliation");
            if (jid == NULL || ps_prep(jid, prep, sizeof(prep)) == NULL ||
                val == NULL ||
                (strcmp(val, "owner") != 0 && strcmp(val, "publisher") != 0
                 && strcmp(val, "publish-only") != 0 &&
                 strcmp(val, "member") != 0 && strcmp(val, "outcast") != 0
                 && strcmp(val, "none") != 0))
                return "an affiliation needs a jid and a XEP-0060 "
                       "affiliation";
            if (n != NULL && strcmp(val, "none") != 0)
                json_object_set_new(n->aff, prep, json_string(val));
        }
    } else if (strcmp(what, "subscriptions") == 0) {
        for (ch = api->stanza_first(e); ch != NULL; ch = api->stanza_next(ch)) {
            jid = api->stanza_attr(ch, "jid");
            val = api->stanza_attr(ch, "subscription");
            if (val == NULL)
                val = api->stanza_attr(ch, "subscribed");
            if (jid == NULL || ps_prep(jid, prep, sizeof(prep)) == NULL)
                return "a subscription needs a jid";
            if (val == NULL || (strcmp(val, "subscribed") != 0 &&
                                strcmp(val, "pending") != 0))
                continue;   /* none, unconfigured: nothing to keep */
            if (n != NULL) {
                ps_make_id(c, id, sizeof(id));
                json_object_set_new(n->subs, prep,
                                    json_pack("{s:s, s:s}", "sub", val,
                                              "subid", id));
            }
        }
    } else {
        return "only configure, affiliations and subscriptions go in "
               "pubsub#owner";
    }
    if (n != NULL)
        ps_node_save(svc, n);
    return NULL;
}


static const char *
items_child(ps_ctx_t *c, ps_service_t *svc, const char *bare,
            const ember_stanza_t *e)
{
    const char *node = api->stanza_attr(e, "node"), *id;
    const ember_stanza_t *it, *pl;
    ps_node_t *n = NULL;
    char gen[64], *xml;
    size_t len;

    if (strcmp(api->stanza_name(e), "items") != 0)
        return "only <items/> goes in pubsub";
    if (node == NULL || node[0] == '\0')
        return "a node attribute is needed";
    /* Items of a node without a configuration: the defaults (Prosody
     * writes such nodes). */
    if (svc != NULL && (n = ps_node_find(svc, node)) == NULL &&
        (n = ps_node_add(svc, node, bare, NULL)) == NULL)
        return "out of memory";
    for (it = api->stanza_first(e); it != NULL; it = api->stanza_next(it)) {
        pl = api->stanza_first(it);
        if (strcmp(api->stanza_name(it), "item") != 0 || pl == NULL ||
            api->stanza_next(pl) != NULL)
            return "an item holds exactly one payload element";
        if ((xml = api->stanza_serialize(pl, &len)) == NULL)
            return "out of memory";
        if ((long) len > c->max_payload) {
            api->free(xml);
            return "a payload larger than PEP's max-payload";
        }
        if ((id = api->stanza_attr(it, "id")) == NULL || id[0] == '\0') {
            ps_make_id(c, gen, sizeof(gen));
            id = gen;
        }
        if (n != NULL)
            ps_item_put(svc, n, id, xml, bare);
        api->free(xml);
    }
    return NULL;
}


/* Walk the pubsub#owner elements (owner 1) or the pubsub ones (0) the
 * import carries: check them (svc NULL) or apply them to svc.  taken gets
 * the indexes of those; NULL, or why element *bad is refused. */
static const char *
walk_ns(pmig_t *j, ps_service_t *svc, int want_owner, json_t *taken,
        size_t *bad)
{
    ps_ctx_t *c = ps_pep_ctx(j->p);
    ember_stanza_t *st;
    const ember_stanza_t *e;
    const char *xml, *ns, *why = NULL;
    json_t *v;
    size_t i;
    int owner;

    json_array_foreach(json_object_get(j->args, "elements"), i, v) {
        xml = json_string_value(v);
        st = xml != NULL ? api->stanza_parse(xml, strlen(xml)) : NULL;
        ns = st != NULL ? api->stanza_xmlns(st) : "";
        if (st == NULL || strcmp(api->stanza_name(st), "pubsub") != 0 ||
            strcmp(ns, want_owner ? PS_NS_OWNER : PS_NS) != 0) {
            api->stanza_free(st);
            continue;
        }
        owner = want_owner;
        for (e = api->stanza_first(st); e != NULL && why == NULL;
             e = api->stanza_next(e))
            why = owner ? owner_child(c, svc, j->jid, e)
                        : items_child(c, svc, j->jid, e);
        api->stanza_free(st);
        if (why != NULL) {
            *bad = i;
            return why;
        }
        if (taken != NULL)
            json_array_append_new(taken, json_integer((json_int_t) i));
    }
    return NULL;
}


/* Configurations first, so that items are kept by their node's own
 * max_items, whichever element comes first in the file. */
static const char *
walk(pmig_t *j, ps_service_t *svc, json_t *taken, size_t *bad)
{
    const char *why = walk_ns(j, svc, 1, taken, bad);

    return why != NULL ? why : walk_ns(j, svc, 0, taken, bad);
}


static void
import_ready(ps_ctx_t *c, ps_service_t *svc, void *ud)
{
    pmig_t *j = ud;
    json_t *taken = json_array();
    const char *why;
    char msg[256];
    size_t bad = 0;
    ps_node_t *n;

    (void) c;
    if (svc == NULL) {
        json_decref(taken);
        pmig_end(j, EMBER_EIO, NULL, "reading the PEP service failed");
        return;
    }
    ps_service_hold(svc);
    why = walk(j, svc, taken, &bad);
    for (n = svc->nodes; n != NULL; n = n->next) {
        ps_items_trim(svc, n);
        ps_node_save(svc, n);
    }
    ps_service_drop(svc);
    if (why != NULL) {
        json_decref(taken);
        snprintf(msg, sizeof(msg), "element %zu: pep: %s", bad, why);
        pmig_end(j, EMBER_EINVAL, NULL, msg);
        return;
    }
    pmig_end(j, 0, json_pack("{s:o}", "taken", taken), NULL);
}


static pmig_t *
pmig_new(ember_cmd_ctx_t *ctx, json_t *args, pubsub_t *p)
{
    ember_jid_t *jid = p->pep.m == NULL ? NULL : ember_pie_account(
        api, p->pep.m, json_string_value(json_object_get(args, "jid")));
    pmig_t *j = NULL;

    if (jid == NULL)
        api->command_done(ctx, EMBER_EINVAL, NULL, "jid: an account of this "
                          "host, user@host");
    else if ((j = calloc(1, sizeof(*j))) == NULL)
        api->command_done(ctx, EMBER_ENOMEM, NULL, NULL);
    else {
        j->p = p;
        j->ctx = ctx;
        j->args = json_incref(args);
        snprintf(j->jid, sizeof(j->jid), "%s", api->jid_bare(jid));
    }
    api->jid_free(jid);
    return j;
}


static void
pep_pie_export(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    pmig_t *j = pmig_new(ctx, args, ud);

    if (j != NULL &&
        ps_service_ready(ps_pep_ctx(j->p), j->jid, export_ready, j) < 0)
        pmig_end(j, EMBER_EIO, NULL, "storage failed");
}


static void
pep_pie_import(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    pmig_t *j = pmig_new(ctx, args, ud);
    json_t *taken;
    const char *why;
    char msg[256];
    size_t bad = 0;

    if (j == NULL)
        return;
    /* Everything is checked before anything is written. */
    taken = json_array();
    if ((why = walk(j, NULL, taken, &bad)) != NULL) {
        json_decref(taken);
        snprintf(msg, sizeof(msg), "element %zu: pep: %s", bad, why);
        pmig_end(j, EMBER_EINVAL, NULL, msg);
        return;
    }
    if (json_is_true(json_object_get(args, "check")) ||
        json_array_size(taken) == 0) {
        pmig_end(j, 0, json_pack("{s:o}", "taken", taken), NULL);
        return;
    }
    json_decref(taken);
    if (ps_service_ready(ps_pep_ctx(j->p), j->jid, import_ready, j) < 0)
        pmig_end(j, EMBER_EIO, NULL, "storage failed");
}


static const ember_command_t pie_commands[] = {
    { "pie-export-pep", "an account's PEP nodes and items as XEP-0227 "
      "elements", export_args, "local-read", pep_pie_export },
    { "pie-import-pep", "import an account's XEP-0227 PEP nodes and items",
      import_args, "local", pep_pie_import },
};


int
ps_migrate_register(ember_module_t *m, pubsub_t *p)
{
    size_t i;
    int err;

    for (i = 0; i < sizeof(pie_commands) / sizeof(pie_commands[0]); i++)
        if ((err = api->command_register(m, &pie_commands[i], p)) < 0)
            return err;
    return 0;
}
