/* mod_private.c -- XEP-0049 Private XML Storage: each user keeps XML
 * fragments on the server, one per element name and namespace.  XEP-0048
 * bookmarks stored here are kept equal to the PEP ones
 * (private_bookmarks.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "private.h"

static const ember_option_t private_options[] = {
    EMBER_OPT("max-size", EMBER_OPT_INT, private_conf_t, max_size, "65536",
              256, 16777216, "largest fragment, in bytes of serialized XML"),
    EMBER_OPT("max-items", EMBER_OPT_INT, private_conf_t, max_items, "256",
              1, 100000, "most fragments (namespaces) kept per user"),
    EMBER_OPT_END
};

const ember_api_t *api;
/* Every instance: a deferred iq knows its host, not its module. */
static private_state_t *instances;


static private_state_t *
private_of(const ember_iq_t *iq)
{
    private_state_t *ps;

    for (ps = instances; ps != NULL; ps = ps->next)
        if (strcmp(api->module_host(ps->m), api->iq_event(iq)->host) == 0)
            break;
    return ps;
}


static const char *
private_user(const ember_iq_t *iq)
{
    return api->jid_node(api->iq_event(iq)->to);
}


/* ---- fragments ---- */

/* XEP-0049: fragments in stanza namespaces cannot be told apart from the
 * stanza itself; they are refused (not-acceptable). */
static int
reserved(const char *ns)
{
    return ns == NULL || ns[0] == '\0' || strcmp(ns, "jabber:client") == 0 ||
           strcmp(ns, "jabber:server") == 0 || strcmp(ns, NS_PRIVATE) == 0;
}


static char *
fragment_key(const ember_stanza_t *el)
{
    const char *name = api->stanza_name(el), *ns = api->stanza_xmlns(el);
    size_t n = strlen(name) + strlen(ns) + 2;
    char *k = malloc(n);

    if (k != NULL)
        snprintf(k, n, "%s %s", name, ns);
    return k;
}


static void
got_fragment(int status, json_t *value, void *ud)
{
    ember_stanza_t *q, *el, *want;
    const char *xml;

    if ((status < 0 && status != EMBER_ENOENT) ||
        (q = api->stanza_new("query", NS_PRIVATE)) == NULL) {
        api->iq_fail(ud, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    want = api->stanza_first(api->stanza_first(api->iq_event(ud)->stanza));
    /* Nothing stored: the empty element asked for comes back. */
    xml = status == 0 ? json_string_value(value) : NULL;
    el = xml != NULL ? api->stanza_parse(xml, strlen(xml)) : NULL;
    api->stanza_append(q, el != NULL ? el : want);
    api->stanza_free(el);
    api->iq_answer(ud, q);
}


static int
private_get(ember_module_t *m, const ember_event_t *ev, ember_stanza_t *q)
{
    private_state_t *ps = api->module_data(m);
    ember_stanza_t *el = api->stanza_first(q);
    ember_iq_t *iq;
    char *key;
    int err;

    if (el == NULL || api->stanza_next(el) != NULL) {
        api->stanza_error(ev, EMBER_COND_BAD_REQUEST,
                          "ask for exactly one element");
        return EMBER_HOOK_HANDLED;
    }
    if (reserved(api->stanza_xmlns(el))) {
        api->stanza_error(ev, EMBER_COND_NOT_ACCEPTABLE,
                          "reserved namespace");
        return EMBER_HOOK_HANDLED;
    }
    if ((key = fragment_key(el)) == NULL || (iq = api->iq_defer(m, ev)) ==
                                                NULL) {
        free(key);
        return EMBER_ENOMEM;
    }
    err = api->map_get(ps->store, private_user(iq), key, got_fragment, iq);
    free(key);
    if (err < 0)
        api->iq_fail(iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
    return EMBER_HOOK_HANDLED;
}


/*
 * Store the first fragment left in the handle's copy of the query, then
 * (from fragment_saved) the next: each one stored is detached from that
 * copy, so the copy says what remains.
 */
static void fragment_saved(int status, json_t *result, void *ud);

static int
store_next(ember_iq_t *iq)
{
    ember_stanza_t *el = api->stanza_first(api->stanza_first(
                                               api->iq_event(iq)->stanza));
    char *key, *xml;
    json_t *v;
    int err = EMBER_ENOMEM;

    if (el == NULL)
        return api->iq_answer(iq, NULL);
    key = fragment_key(el);
    xml = api->stanza_serialize(el, NULL);
    v = xml != NULL ? json_string(xml) : NULL;
    if (key != NULL && v != NULL)
        err = api->map_set(private_of(iq)->store, private_user(iq), key, v,
                           fragment_saved, iq);
    json_decref(v);
    api->free(xml);
    free(key);
    if (err < 0)
        api->iq_fail(iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
    return err;
}


static void
fragment_saved(int status, json_t *result, void *ud)
{
    const ember_event_t *ev = api->iq_event(ud);
    ember_stanza_t *el = api->stanza_first(api->stanza_first(ev->stanza));

    if (status < 0) {
        api->iq_fail(ud, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    if (strcmp(api->stanza_name(el), "storage") == 0 &&
        strcmp(api->stanza_xmlns(el), NS_BOOKMARKS) == 0)
        bm_private_stored(api->iq_module(ud), api->jid_bare(ev->to), el);
    api->stanza_remove(el);
    store_next(ud);
}


/* With the user's fragments in hand: check the count, then store. */
static void
got_all(int status, json_t *all, void *ud)
{
    private_conf_t *conf = api->module_conf(private_of(ud)->m);
    ember_stanza_t *q = api->stanza_first(api->iq_event(ud)->stanza), *el;
    json_t *keys;
    char *key;
    size_t n;

    if (status < 0 || !json_is_object(all) ||
        (keys = json_deep_copy(all)) == NULL) {
        api->iq_fail(ud, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    for (el = api->stanza_first(q); el != NULL; el = api->stanza_next(el)) {
        if ((key = fragment_key(el)) == NULL) {
            json_decref(keys);
            api->iq_fail(ud, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
            return;
        }
        json_object_set_new(keys, key, json_true());
        free(key);
    }
    n = json_object_size(keys);
    json_decref(keys);
    if (n > (size_t) conf->max_items)
        api->iq_fail(ud, EMBER_COND_POLICY_VIOLATION,
                     "too many private XML fragments");
    else
        store_next(ud);
}


static int
private_set(ember_module_t *m, const ember_event_t *ev, ember_stanza_t *q)
{
    private_conf_t *conf = api->module_conf(m);
    private_state_t *ps = api->module_data(m);
    ember_stanza_t *el = api->stanza_first(q);
    ember_iq_t *iq;
    size_t len;
    char *xml;

    if (el == NULL) {
        api->stanza_error(ev, EMBER_COND_NOT_ACCEPTABLE,
                          "nothing to store");
        return EMBER_HOOK_HANDLED;
    }
    for (; el != NULL; el = api->stanza_next(el)) {
        if (reserved(api->stanza_xmlns(el))) {
            api->stanza_error(ev, EMBER_COND_NOT_ACCEPTABLE,
                              "reserved namespace");
            return EMBER_HOOK_HANDLED;
        }
        if ((xml = api->stanza_serialize(el, &len)) == NULL)
            return EMBER_ENOMEM;
        api->free(xml);
        if (len > (size_t) conf->max_size) {
            api->stanza_error(ev, EMBER_COND_POLICY_VIOLATION,
                              "private XML fragment too large");
            return EMBER_HOOK_HANDLED;
        }
    }
    if ((iq = api->iq_defer(m, ev)) == NULL)
        return EMBER_ENOMEM;
    if (api->map_all(ps->store, private_user(iq), got_all, iq) < 0)
        api->iq_fail(iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
    return EMBER_HOOK_HANDLED;
}


static int
private_on_iq(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    ember_stanza_t *q = api->stanza_first(ev->stanza);
    const char *type = api->stanza_attr(ev->stanza, "type");

    /* Only an account's own resources reach its private storage. */
    if (ev->from == NULL || api->jid_node(ev->from) == NULL ||
        strcmp(api->jid_bare(ev->from), api->jid_bare(ev->to)) != 0) {
        api->stanza_error(ev, EMBER_COND_FORBIDDEN, NULL);
        return EMBER_HOOK_HANDLED;
    }
    if (strcmp(type, "get") == 0)
        return private_get(m, ev, q);
    return private_set(m, ev, q);
}


static int
private_load(ember_module_t *m, const ember_api_t *a)
{
    private_state_t *ps;
    int err;

    api = a;
    if ((ps = calloc(1, sizeof(*ps))) == NULL)
        return EMBER_ENOMEM;
    ps->m = m;
    ps->next = instances;
    instances = ps;
    api->module_set_data(m, ps);
    if ((ps->store = api->store_open(m, "private", EMBER_STORE_MAP)) == NULL)
        return EMBER_ENOMEM;
    if ((err = api->disco_add_feature(m, NS_PRIVATE)) < 0 ||
        (err = api->hook(m, "iq-get/bare/" NS_PRIVATE ":query",
                         private_on_iq, 0, NULL)) < 0 ||
        (err = api->hook(m, "iq-set/bare/" NS_PRIVATE ":query",
                         private_on_iq, 0, NULL)) < 0 ||
        (err = bm_init(m)) < 0 ||
        (err = private_migrate_init(ps)) < 0)
        return err;
    return 0;
}


static void
private_unload(ember_module_t *m)
{
    private_state_t *ps = api->module_data(m), **pp;

    if (ps == NULL)
        return;
    bm_fini(m);
    for (pp = &instances; *pp != ps; pp = &(*pp)->next)
        ;
    *pp = ps->next;
    free(ps);
    api->module_set_data(m, NULL);
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "private",
    .version = "1.1",
    .description = "XEP-0049: Private XML Storage, with XEP-0048 bookmarks "
                   "kept equal to PEP's (XEP-0411, XEP-0402)",
    .requires = (const char *const[]){ "hooks", "disco", "storage", "ifaces",
                                       "sessions", NULL },
    .conf_size = sizeof(private_conf_t),
    .options = private_options,
    .load = private_load,
    .unload = private_unload,
};
