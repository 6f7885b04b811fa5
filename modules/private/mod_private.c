/* mod_private.c -- XEP-0049 Private XML Storage: each user keeps XML
 * fragments on the server, one per element name and namespace. */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <ember/plugin.h>

#define NS_PRIVATE "jabber:iq:private"

typedef struct {
    int max_size;
    int max_items;
} private_conf_t;

static const ember_option_t private_options[] = {
    EMBER_OPT("max-size", EMBER_OPT_INT, private_conf_t, max_size, "65536",
              256, 16777216, "largest fragment, in bytes of serialized XML"),
    EMBER_OPT("max-items", EMBER_OPT_INT, private_conf_t, max_items, "256",
              1, 100000, "most fragments (namespaces) kept per user"),
    EMBER_OPT_END
};

/* A request waiting for the store. */
typedef struct private_req_s {
    ember_module_t *m;
    ember_stanza_t *iq;
    char *user;
    int waiting;    /* map_set calls still running */
    int failed;
    struct private_req_s *prev, *next;
} private_req_t;

typedef struct {
    ember_store_t *store;
    private_req_t *pending;
} private_state_t;

static const ember_api_t *api;


static private_req_t *
req_new(ember_module_t *m, const ember_event_t *ev)
{
    private_state_t *ps = api->module_data(m);
    private_req_t *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->m = m;
    r->iq = api->stanza_copy(ev->stanza);
    r->user = strdup(api->jid_node(ev->to));
    if (r->iq == NULL || r->user == NULL) {
        api->stanza_free(r->iq);
        free(r->user);
        free(r);
        return NULL;
    }
    r->next = ps->pending;
    if (ps->pending != NULL)
        ps->pending->prev = r;
    ps->pending = r;
    return r;
}


static void
req_free(private_req_t *r)
{
    private_state_t *ps = api->module_data(r->m);

    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        ps->pending = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    api->stanza_free(r->iq);
    free(r->user);
    free(r);
}


static void
req_error(private_req_t *r, ember_cond_t cond, const char *text)
{
    ember_stanza_t *e = api->error_reply(r->iq, cond, text);

    if (e != NULL)
        api->route(r->m, e);
    req_free(r);
}


/* Reply from the user's account (the request may have had no 'to'). */
static void
req_result(private_req_t *r, ember_stanza_t *payload)
{
    ember_stanza_t *res = api->stanza_new("iq", NULL);
    const char *to = api->stanza_attr(r->iq, "to");
    ember_jid_t *from = api->jid_parse(api->stanza_attr(r->iq, "from"));

    if (res == NULL || from == NULL) {
        api->stanza_free(res);
        api->stanza_free(payload);
        api->jid_free(from);
        req_free(r);
        return;
    }
    api->stanza_set_attr(res, "type", "result");
    api->stanza_set_attr(res, "id", api->stanza_attr(r->iq, "id"));
    api->stanza_set_attr(res, "to", api->jid_full(from));
    api->stanza_set_attr(res, "from", to != NULL ? to : api->jid_bare(from));
    if (payload != NULL) {
        api->stanza_append(res, payload);
        api->stanza_free(payload);
    }
    api->jid_free(from);
    api->route(r->m, res);
    req_free(r);
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
    private_req_t *r = ud;
    ember_stanza_t *q, *el, *want;
    const char *xml;

    if (status < 0 && status != EMBER_ENOENT) {
        req_error(r, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    want = api->stanza_first(api->stanza_first(r->iq));
    if ((q = api->stanza_new("query", NS_PRIVATE)) == NULL) {
        req_error(r, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    /* Nothing stored: the empty element asked for comes back. */
    xml = status == 0 ? json_string_value(value) : NULL;
    el = xml != NULL ? api->stanza_parse(xml, strlen(xml)) : NULL;
    api->stanza_append(q, el != NULL ? el : want);
    api->stanza_free(el);
    req_result(r, q);
}


static int
private_get(ember_module_t *m, const ember_event_t *ev, ember_stanza_t *q)
{
    private_state_t *ps = api->module_data(m);
    ember_stanza_t *el = api->stanza_first(q);
    private_req_t *r;
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
    if ((key = fragment_key(el)) == NULL || (r = req_new(m, ev)) == NULL) {
        free(key);
        return EMBER_ENOMEM;
    }
    err = api->map_get(ps->store, r->user, key, got_fragment, r);
    free(key);
    if (err < 0)
        req_error(r, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
    return EMBER_HOOK_HANDLED;
}


static void
fragment_saved(int status, json_t *result, void *ud)
{
    private_req_t *r = ud;

    if (status < 0)
        r->failed = 1;
    if (--r->waiting > 0)
        return;
    if (r->failed)
        req_error(r, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
    else
        req_result(r, NULL);
}


/* With the user's fragments in hand: check the count, then store. */
static void
got_all(int status, json_t *all, void *ud)
{
    private_req_t *r = ud;
    private_conf_t *conf = api->module_conf(r->m);
    private_state_t *ps = api->module_data(r->m);
    ember_stanza_t *q = api->stanza_first(r->iq), *el;
    json_t *keys;
    char *key, *xml;
    size_t i, n;

    if (status < 0 || !json_is_object(all) ||
        (keys = json_deep_copy(all)) == NULL) {
        req_error(r, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    for (el = api->stanza_first(q); el != NULL; el = api->stanza_next(el)) {
        if ((key = fragment_key(el)) == NULL) {
            json_decref(keys);
            req_error(r, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
            return;
        }
        json_object_set_new(keys, key, json_true());
        free(key);
    }
    n = json_object_size(keys);
    json_decref(keys);
    if (n > (size_t) conf->max_items) {
        req_error(r, EMBER_COND_POLICY_VIOLATION,
                  "too many private XML fragments");
        return;
    }
    /* Hold one count for the loop so that no early completion answers. */
    r->waiting = 1;
    for (el = api->stanza_first(q), i = 0; el != NULL;
         el = api->stanza_next(el), i++) {
        json_t *v;

        key = fragment_key(el);
        xml = api->stanza_serialize(el, NULL);
        v = xml != NULL ? json_string(xml) : NULL;
        r->waiting++;
        if (key == NULL || v == NULL ||
            api->map_set(ps->store, r->user, key, v, fragment_saved, r) < 0) {
            r->waiting--;
            r->failed = 1;
        }
        json_decref(v);
        api->free(xml);
        free(key);
    }
    fragment_saved(0, NULL, r);
}


static int
private_set(ember_module_t *m, const ember_event_t *ev, ember_stanza_t *q)
{
    private_conf_t *conf = api->module_conf(m);
    private_state_t *ps = api->module_data(m);
    ember_stanza_t *el = api->stanza_first(q);
    private_req_t *r;
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
    if ((r = req_new(m, ev)) == NULL)
        return EMBER_ENOMEM;
    if (api->map_all(ps->store, r->user, got_all, r) < 0)
        req_error(r, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
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
    api->module_set_data(m, ps);
    if ((ps->store = api->store_open(m, "private", EMBER_STORE_MAP)) == NULL)
        return EMBER_ENOMEM;
    if ((err = api->disco_add_feature(m, NS_PRIVATE)) < 0 ||
        (err = api->hook(m, "iq-get/bare/" NS_PRIVATE ":query",
                         private_on_iq, 0, NULL)) < 0 ||
        (err = api->hook(m, "iq-set/bare/" NS_PRIVATE ":query",
                         private_on_iq, 0, NULL)) < 0)
        return err;
    return 0;
}


static void
private_unload(ember_module_t *m)
{
    private_state_t *ps = api->module_data(m);

    if (ps == NULL)
        return;
    while (ps->pending != NULL)
        req_free(ps->pending);
    free(ps);
    api->module_set_data(m, NULL);
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER_MIN(0),
    .name = "private",
    .version = "1.0",
    .description = "XEP-0049: Private XML Storage",
    .requires = (const char *const[]){ "hooks", "disco", "storage", NULL },
    .conf_size = sizeof(private_conf_t),
    .options = private_options,
    .load = private_load,
    .unload = private_unload,
};
