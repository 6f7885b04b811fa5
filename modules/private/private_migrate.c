/* private_migrate.c -- pie-export-private and pie-import-private: a
 * user's fragments as the XEP-0227 <query xmlns='jabber:iq:private'/>,
 * for `emberctl export` and `import` (doc/migration.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <ember/pie.h>
#include "private.h"

/* One command on one user's fragments. */
typedef struct pmig_s {
    private_state_t *ps;
    ember_cmd_ctx_t *ctx;
    char *user;
    json_t *frags;         /* import: key -> XML, written one by one */
    json_t *taken;
    void *iter;
} pmig_t;


static void
pmig_end(pmig_t *p, int status, json_t *result, const char *message)
{
    api->command_done(p->ctx, status, result, message);
    json_decref(p->frags);
    json_decref(p->taken);
    free(p->user);
    free(p);
}


static pmig_t *
pmig_new(ember_cmd_ctx_t *ctx, json_t *args, private_state_t *ps)
{
    ember_jid_t *j = ember_pie_account(api, ps->m, json_string_value(
                                           json_object_get(args, "jid")));
    pmig_t *p = NULL;

    if (j == NULL)
        api->command_done(ctx, EMBER_EINVAL, NULL, "jid: not an account of "
                          "this host");
    else if ((p = calloc(1, sizeof(*p))) == NULL ||
             (p->user = strdup(api->jid_node(j))) == NULL) {
        free(p);
        p = NULL;
        api->command_done(ctx, EMBER_ENOMEM, NULL, NULL);
    } else {
        p->ps = ps;
        p->ctx = ctx;
        p->frags = json_object();
        p->taken = json_array();
    }
    api->jid_free(j);
    return p;
}


static void
export_all(int status, json_t *all, void *ud)
{
    pmig_t *p = ud;
    ember_stanza_t *q, *el;
    json_t *v, *els;
    const char *key, *xml;
    char *out;

    if (status < 0 && status != EMBER_ENOENT) {
        pmig_end(p, status, NULL, api->strerror(status));
        return;
    }
    els = json_array();
    if (json_object_size(all) > 0 &&
        (q = api->stanza_new("query", NS_PRIVATE)) != NULL) {
        json_object_foreach(all, key, v) {
            xml = json_string_value(v);
            el = xml != NULL ? api->stanza_parse(xml, strlen(xml)) : NULL;
            if (el != NULL)
                api->stanza_append(q, el);
            api->stanza_free(el);
        }
        if ((out = api->stanza_serialize(q, NULL)) != NULL)
            json_array_append_new(els, json_string(out));
        api->free(out);
        api->stanza_free(q);
    }
    pmig_end(p, 0, json_pack("{s:o}", "elements", els), NULL);
}


static void
private_pie_export(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    pmig_t *p = pmig_new(ctx, args, ud);
    int err;

    if (p != NULL && (err = api->map_all(p->ps->store, p->user, export_all,
                                         p)) < 0)
        pmig_end(p, err, NULL, api->strerror(err));
}


/* Same rules as a client's set (mod_private.c): no stanza namespaces,
 * fragments within max-size and max-items. */
static const char *
take_fragments(pmig_t *p, const ember_stanza_t *q, size_t max_size,
               size_t max_items)
{
    const ember_stanza_t *el;
    const char *ns;
    char *xml, key[2048];
    size_t len;

    for (el = api->stanza_first(q); el != NULL; el = api->stanza_next(el)) {
        ns = api->stanza_xmlns(el);
        if (ns == NULL || ns[0] == '\0' || strcmp(ns, "jabber:client") == 0 ||
            strcmp(ns, "jabber:server") == 0 || strcmp(ns, NS_PRIVATE) == 0)
            return "a fragment in a reserved namespace";
        snprintf(key, sizeof(key), "%s %s", api->stanza_name(el), ns);
        if ((xml = api->stanza_serialize(el, &len)) == NULL)
            return "out of memory";
        if (len > max_size) {
            api->free(xml);
            return "a fragment larger than the private module's max-size";
        }
        json_object_set_new(p->frags, key, json_string(xml));
        api->free(xml);
        if (json_object_size(p->frags) > max_items)
            return "more fragments than the private module's max-items";
    }
    return NULL;
}


static void store_next(pmig_t *p);

static void
stored(int status, json_t *result, void *ud)
{
    pmig_t *p = ud;

    if (status < 0) {
        pmig_end(p, status, NULL, "storing private XML failed");
        return;
    }
    p->iter = json_object_iter_next(p->frags, p->iter);
    store_next(p);
}


static void
store_next(pmig_t *p)
{
    int err;

    if (p->iter == NULL) {
        pmig_end(p, 0, json_pack("{s:O}", "taken", p->taken), NULL);
        return;
    }
    if ((err = api->map_set(p->ps->store, p->user,
                            json_object_iter_key(p->iter),
                            json_object_iter_value(p->iter), stored, p)) < 0)
        pmig_end(p, err, NULL, api->strerror(err));
}


static void
private_pie_import(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    private_state_t *ps = ud;
    private_conf_t *conf = api->module_conf(ps->m);
    pmig_t *p = pmig_new(ctx, args, ps);
    ember_stanza_t *st;
    const char *xml, *why;
    char msg[256];
    json_t *v;
    size_t i;

    if (p == NULL)
        return;
    json_array_foreach(json_object_get(args, "elements"), i, v) {
        xml = json_string_value(v);
        st = xml != NULL ? api->stanza_parse(xml, strlen(xml)) : NULL;
        if (st == NULL || strcmp(api->stanza_name(st), "query") != 0 ||
            strcmp(api->stanza_xmlns(st), NS_PRIVATE) != 0) {
            api->stanza_free(st);
            continue;
        }
        why = take_fragments(p, st, (size_t) conf->max_size,
                             (size_t) conf->max_items);
        api->stanza_free(st);
        if (why != NULL) {
            snprintf(msg, sizeof(msg), "element %zu: private: %s", i, why);
            pmig_end(p, EMBER_EINVAL, NULL, msg);
            return;
        }
        json_array_append_new(p->taken, json_integer((json_int_t) i));
    }
    if (json_is_true(json_object_get(args, "check"))) {
        pmig_end(p, 0, json_pack("{s:O}", "taken", p->taken), NULL);
        return;
    }
    p->iter = json_object_iter(p->frags);
    store_next(p);
}


static const ember_cmd_arg_t export_args[] = { EMBER_PIE_EXPORT_ARGS };

static const ember_cmd_arg_t import_args[] = { EMBER_PIE_IMPORT_ARGS };

static const ember_command_t pie_commands[] = {
    { "pie-export-private", "a user's private XML as a XEP-0227 element",
      export_args, "local-read", private_pie_export },
    { "pie-import-private", "import a user's XEP-0227 private XML",
      import_args, "local", private_pie_import },
};


int
private_migrate_init(private_state_t *ps)
{
    size_t i;
    int err;

    for (i = 0; i < sizeof(pie_commands) / sizeof(pie_commands[0]); i++)
        if ((err = api->command_register(ps->m, &pie_commands[i], ps)) < 0)
            return err;
    return 0;
}
