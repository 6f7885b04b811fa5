/* mod_last.c -- XEP-0012 Last Activity: the server's uptime, and how long
 * ago a user logged out (with the status of their last unavailable
 * presence), shown only to the user and to contacts subscribed to them. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <ember/plugin.h>
#include <ember/roster.h>

#define NS_LAST "jabber:iq:last"

/*
 * An answer that waits for the roster or the store.  `pass` marks a query
 * to a full JID that was authorized late: routed again, it must reach the
 * client.
 */
typedef struct last_req_s {
    ember_module_t *m;
    ember_stanza_t *iq;
    char *user;
    int full;
    int pass;
    struct last_req_s *prev, *next;
} last_req_t;

typedef struct {
    ember_store_t *store;
    last_req_t *pending;
} last_state_t;

static const ember_api_t *api;


/* ---- requests in flight ---- */

static last_req_t *
req_new(ember_module_t *m, const ember_event_t *ev, int full)
{
    last_state_t *ls = api->module_data(m);
    last_req_t *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->m = m;
    r->full = full;
    r->iq = api->stanza_copy(ev->stanza);
    r->user = strdup(api->jid_node(ev->to));
    if (r->iq == NULL || r->user == NULL) {
        api->stanza_free(r->iq);
        free(r->user);
        free(r);
        return NULL;
    }
    r->next = ls->pending;
    if (ls->pending != NULL)
        ls->pending->prev = r;
    ls->pending = r;
    return r;
}


static void
req_free(last_req_t *r)
{
    last_state_t *ls = api->module_data(r->m);

    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        ls->pending = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    api->stanza_free(r->iq);
    free(r->user);
    free(r);
}


static void
req_error(last_req_t *r, ember_cond_t cond, const char *text)
{
    ember_stanza_t *e = api->error_reply(r->iq, cond, text);

    if (e != NULL)
        api->route(r->m, e);
    req_free(r);
}


/* The result comes from the account the query went to. */
static void
req_result(last_req_t *r, long long seconds, const char *status)
{
    ember_stanza_t *res = api->stanza_new("iq", NULL), *q;
    char buf[1100];

    if (res == NULL || (q = api->stanza_add_child(res, "query", NS_LAST))
                       == NULL) {
        api->stanza_free(res);
        req_free(r);
        return;
    }
    api->stanza_set_attr(res, "type", "result");
    api->stanza_set_attr(res, "id", api->stanza_attr(r->iq, "id"));
    api->stanza_set_attr(res, "to", api->stanza_attr(r->iq, "from"));
    snprintf(buf, sizeof(buf), "%s@%s", r->user, api->module_host(r->m));
    api->stanza_set_attr(res, "from", buf);
    snprintf(buf, sizeof(buf), "%lld", seconds < 0 ? 0 : seconds);
    api->stanza_set_attr(q, "seconds", buf);
    if (status != NULL && status[0] != '\0')
        api->stanza_add_text(q, status);
    api->route(r->m, res);
    req_free(r);
}


/* ---- who may see a user's last activity ---- */

static void
count_session(ember_session_t *s, void *ud)
{
    (*(int *) ud)++;
}


static int
user_online(ember_module_t *m, const char *user)
{
    int n = 0;

    api->user_sessions(m, user, count_session, &n);
    return n > 0;
}


static void
stored(int status, json_t *doc, void *ud)
{
    last_req_t *r = ud;
    json_t *t = doc != NULL ? json_object_get(doc, "time") : NULL;

    if (status == EMBER_ENOENT || (status == 0 && !json_is_integer(t))) {
        req_error(r, EMBER_COND_ITEM_NOT_FOUND,
                  "no logout recorded for this account");
        return;
    }
    if (status < 0) {
        req_error(r, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    req_result(r, (long long) time(NULL) - (long long) json_integer_value(t),
               json_string_value(json_object_get(doc, "status")));
}


/* Authorized: answer a bare-JID query, or let a full-JID one through. */
static void
authorized(last_req_t *r)
{
    last_state_t *ls = api->module_data(r->m);
    ember_stanza_t *again;

    if (r->full) {
        if ((again = api->stanza_copy(r->iq)) == NULL) {
            req_error(r, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
            return;
        }
        r->pass = 1;
        api->route(r->m, again);
        req_free(r);
        return;
    }
    if (user_online(r->m, r->user)) {
        req_result(r, 0, NULL);
        return;
    }
    if (api->keyval_get(ls->store, r->user, stored, r) < 0)
        req_error(r, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
}


static int
subscribed(const ember_roster_iface_t *ri, ember_roster_t *roster,
           const char *contact)
{
    ember_roster_item_t it;

    memset(&it, 0, sizeof(it));
    it.size = sizeof(it);
    return ri->item(ri, roster, contact, &it) == 0 && !it.hidden &&
           (it.subscription & EMBER_SUB_FROM) != 0;
}


static void
roster_loaded(int status, ember_roster_t *roster, void *ud)
{
    last_req_t *r = ud;
    const ember_roster_iface_t *ri = api->iface_get(r->m, EMBER_ROSTER_IFACE);
    ember_jid_t *from = api->jid_parse(api->stanza_attr(r->iq, "from"));

    if (status == 0 && ri != NULL && from != NULL &&
        subscribed(ri, roster, api->jid_bare(from))) {
        api->jid_free(from);
        authorized(r);
        return;
    }
    api->jid_free(from);
    req_error(r, status < 0 && status != EMBER_ENOENT
                     ? EMBER_COND_INTERNAL_SERVER_ERROR
                     : EMBER_COND_FORBIDDEN, NULL);
}


/*
 * RFC 6120/6121: a query to an account is answered by the server; it
 * shows presence information, so only the user and contacts with a
 * subscription to the user's presence (from or both) may have it.
 */
static int
last_query(ember_module_t *m, const ember_event_t *ev, int full)
{
    const ember_roster_iface_t *ri;
    const char *user = api->jid_node(ev->to);
    last_req_t *r;
    int self = ev->from != NULL && api->jid_node(ev->from) != NULL &&
               strcmp(api->jid_bare(ev->from), api->jid_bare(ev->to)) == 0;

    if (self && full)
        return EMBER_HOOK_PASS;
    ri = api->iface_get(m, EMBER_ROSTER_IFACE);
    if (!self && (ri == NULL || api->jid_node(ev->from) == NULL)) {
        api->stanza_error(ev, EMBER_COND_FORBIDDEN, NULL);
        return EMBER_HOOK_HANDLED;
    }
    if ((r = req_new(m, ev, full)) == NULL)
        return EMBER_ENOMEM;
    if (self) {
        authorized(r);
        return EMBER_HOOK_HANDLED;
    }
    if (ri->load(ri, user, roster_loaded, r) < 0)
        req_error(r, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
    return EMBER_HOOK_HANDLED;
}


static int
last_on_bare(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    return last_query(m, ev, 0);
}


static int
last_on_full(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    last_state_t *ls = api->module_data(m);
    const char *id = api->stanza_attr(ev->stanza, "id");
    const char *from = api->stanza_attr(ev->stanza, "from");
    last_req_t *r;

    /* A query authorized earlier comes back once: let it reach the
     * client.  (The marker lives until that second pass.) */
    for (r = ls->pending; r != NULL; r = r->next) {
        if (r->pass && strcmp(api->stanza_attr(r->iq, "id"), id) == 0 &&
            strcmp(api->stanza_attr(r->iq, "from"), from) == 0)
            return EMBER_HOOK_PASS;
    }
    return last_query(m, ev, 1);
}


/* XEP-0012 section 4: the server's uptime. */
static int
last_on_host(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    ember_stanza_t *q = api->stanza_new("query", NS_LAST);
    char buf[32];

    if (q == NULL)
        return EMBER_ENOMEM;
    snprintf(buf, sizeof(buf), "%llu",
             (unsigned long long) (api->uptime_ms() / 1000));
    api->stanza_set_attr(q, "seconds", buf);
    api->iq_result(ev, q);
    return EMBER_HOOK_HANDLED;
}


static int
last_on_set(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    api->stanza_error(ev, EMBER_COND_BAD_REQUEST,
                      "jabber:iq:last only defines 'get'");
    return EMBER_HOOK_HANDLED;
}


/* ---- recording logouts ---- */

/* Keep the status of the session's unavailable presence for its close. */
static int
last_on_presence(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    const char *type = api->stanza_attr(ev->stanza, "type");
    ember_stanza_t *st;
    void **slot;

    if (ev->origin == NULL || type == NULL ||
        strcmp(type, "unavailable") != 0 ||
        (slot = api->session_slot(m, ev->origin)) == NULL)
        return EMBER_HOOK_PASS;
    free(*slot);
    st = api->stanza_child(ev->stanza, "status", NULL);
    *slot = st != NULL ? strdup(api->stanza_text(st)) : NULL;
    return EMBER_HOOK_PASS;
}


static void
saved(int status, json_t *result, void *ud)
{
}


static int
last_on_closed(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    last_state_t *ls = api->module_data(m);
    const ember_jid_t *j = api->session_jid(ev->origin);
    void **slot = api->session_slot(m, ev->origin);
    int n = 0;
    json_t *doc;

    if (j == NULL || api->jid_node(j) == NULL)
        return EMBER_HOOK_PASS;
    /* The closing session is still listed: it is the last one when it is
     * the only one. */
    api->user_sessions(m, api->jid_node(j), count_session, &n);
    if (n > 1)
        return EMBER_HOOK_PASS;
    doc = json_pack("{s:I, s:s?}", "time", (json_int_t) time(NULL),
                    "status", slot != NULL ? (char *) *slot : NULL);
    if (doc == NULL)
        return EMBER_ENOMEM;
    if (api->keyval_set(ls->store, api->jid_node(j), doc, saved, NULL) < 0)
        api->log(m, EMBER_LOG_WARN, "could not record the logout of %s",
                 api->jid_bare(j));
    json_decref(doc);
    return EMBER_HOOK_PASS;
}


static int
last_load(ember_module_t *m, const ember_api_t *a)
{
    last_state_t *ls;
    int err;

    api = a;
    if ((ls = calloc(1, sizeof(*ls))) == NULL)
        return EMBER_ENOMEM;
    api->module_set_data(m, ls);
    if ((ls->store = api->store_open(m, "last", EMBER_STORE_KEYVAL)) == NULL)
        return EMBER_ENOMEM;
    if ((err = api->session_slot_destructor(m, free)) < 0 ||
        (err = api->disco_add_feature(m, NS_LAST)) < 0 ||
        (err = api->hook(m, "iq-get/host/" NS_LAST ":query", last_on_host, 0,
                         NULL)) < 0 ||
        (err = api->hook(m, "iq-get/bare/" NS_LAST ":query", last_on_bare, 0,
                         NULL)) < 0 ||
        (err = api->hook(m, "iq-get/full/" NS_LAST ":query", last_on_full,
                         100, NULL)) < 0 ||
        (err = api->hook(m, "iq-set/host/" NS_LAST ":query", last_on_set, 0,
                         NULL)) < 0 ||
        (err = api->hook(m, "iq-set/bare/" NS_LAST ":query", last_on_set, 0,
                         NULL)) < 0 ||
        (err = api->hook(m, "pre-presence/self", last_on_presence, 50,
                         NULL)) < 0 ||
        (err = api->hook(m, EMBER_EV_SESSION_CLOSED, last_on_closed, 0,
                         NULL)) < 0)
        return err;
    return 0;
}


static void
last_unload(ember_module_t *m)
{
    last_state_t *ls = api->module_data(m);
    const ember_roster_iface_t *ri = api->iface_get(m, EMBER_ROSTER_IFACE);

    if (ls == NULL)
        return;
    if (ri != NULL && EMBER_ROSTER_HAS(ri, cancel))
        ri->cancel(ri, roster_loaded, NULL);
    while (ls->pending != NULL)
        req_free(ls->pending);
    free(ls);
    api->module_set_data(m, NULL);
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "last",
    .version = "1.0",
    .description = "XEP-0012: Last Activity",
    .requires = (const char *const[]){ "hooks", "disco", "storage",
                                       "sessions", "ifaces", NULL },
    .load = last_load,
    .unload = last_unload,
};
