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
 * A full-JID query is not answered by the server: once authorized it is
 * routed again to reach the client.  A copy waits for the roster, kept
 * listed so that an unload frees it (the roster forgets our callbacks).
 */
typedef struct last_fwd_s {
    ember_module_t *m;
    ember_stanza_t *iq;
    struct last_fwd_s *prev, *next;
} last_fwd_t;

typedef struct last_state_s {
    ember_store_t *store;
    last_fwd_t *fwds;
    const ember_stanza_t *passing; /* the query being routed again */
} last_state_t;

static const ember_api_t *api;


static void
fwd_free(last_fwd_t *f)
{
    last_state_t *ls = api->module_data(f->m);

    if (f->prev != NULL)
        f->prev->next = f->next;
    else
        ls->fwds = f->next;
    if (f->next != NULL)
        f->next->prev = f->prev;
    api->stanza_free(f->iq);
    free(f);
}


static void
last_answer(ember_iq_t *iq, long long seconds, const char *status)
{
    ember_stanza_t *q = api->stanza_new("query", NS_LAST);
    char buf[32];

    if (q == NULL) {
        api->iq_fail(iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    snprintf(buf, sizeof(buf), "%lld", seconds < 0 ? 0 : seconds);
    api->stanza_set_attr(q, "seconds", buf);
    if (status != NULL && status[0] != '\0')
        api->stanza_add_text(q, status);
    api->iq_answer(iq, q);
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
    json_t *t = doc != NULL ? json_object_get(doc, "time") : NULL;

    if (status == EMBER_ENOENT || (status == 0 && !json_is_integer(t)))
        api->iq_fail(ud, EMBER_COND_ITEM_NOT_FOUND,
                     "no logout recorded for this account");
    else if (status < 0)
        api->iq_fail(ud, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
    else
        last_answer(ud, (long long) time(NULL) - json_integer_value(t),
                    json_string_value(json_object_get(doc, "status")));
}


/* Authorized: the user's last logout, or 0 while a resource is online. */
static void
last_lookup(ember_iq_t *iq)
{
    ember_module_t *m = api->iq_module(iq);
    last_state_t *ls = api->module_data(m);
    const char *user = api->jid_node(api->iq_event(iq)->to);

    if (user_online(m, user))
        last_answer(iq, 0, NULL);
    else if (api->keyval_get(ls->store, user, stored, iq) < 0)
        api->iq_fail(iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
}


/* EMBER_COND_NONE when `from` may see the presence of the roster's owner. */
static ember_cond_t
last_allowed(ember_module_t *m, int status, ember_roster_t *roster,
             const char *from)
{
    const ember_roster_iface_t *ri = api->iface_get(m, EMBER_ROSTER_IFACE);
    ember_jid_t *j = api->jid_parse(from);
    ember_roster_item_t it;
    int ok;

    memset(&it, 0, sizeof(it));
    it.size = sizeof(it);
    ok = status == 0 && ri != NULL && j != NULL &&
         ri->item(ri, roster, api->jid_bare(j), &it) == 0 && !it.hidden &&
         (it.subscription & EMBER_SUB_FROM) != 0;
    api->jid_free(j);
    if (ok)
        return EMBER_COND_NONE;
    return status < 0 && status != EMBER_ENOENT
               ? EMBER_COND_INTERNAL_SERVER_ERROR : EMBER_COND_FORBIDDEN;
}


static void
roster_loaded(int status, ember_roster_t *roster, void *ud)
{
    ember_cond_t cond = last_allowed(api->iq_module(ud), status, roster,
                                     api->stanza_attr(api->iq_event(ud)->stanza,
                                                      "from"));

    if (cond != EMBER_COND_NONE)
        api->iq_fail(ud, cond, NULL);
    else
        last_lookup(ud);
}


/* Let an authorized full-JID query through; the marker lives until its
 * second pass, which happens inside api->route. */
static void
fwd_roster_loaded(int status, ember_roster_t *roster, void *ud)
{
    last_fwd_t *f = ud;
    last_state_t *ls = api->module_data(f->m);
    ember_cond_t cond = last_allowed(f->m, status, roster,
                                     api->stanza_attr(f->iq, "from"));
    ember_stanza_t *out;

    if (cond != EMBER_COND_NONE)
        out = api->error_reply(f->iq, cond, NULL);
    else if ((out = api->stanza_copy(f->iq)) != NULL)
        ls->passing = f->iq;
    if (out != NULL)
        api->route(f->m, out);
    ls->passing = NULL;
    fwd_free(f);
}


/*
 * RFC 6120/6121: a query to an account is answered by the server; it
 * shows presence information, so only the user and contacts with a
 * subscription to the user's presence (from or both) may have it.
 */
static int
last_query(ember_module_t *m, const ember_event_t *ev, int full)
{
    last_state_t *ls = api->module_data(m);
    const ember_roster_iface_t *ri;
    const char *user = api->jid_node(ev->to);
    ember_iq_t *iq;
    last_fwd_t *f;
    int self = ev->from != NULL && api->jid_node(ev->from) != NULL &&
               strcmp(api->jid_bare(ev->from), api->jid_bare(ev->to)) == 0;

    if (self && full)
        return EMBER_HOOK_PASS;
    ri = api->iface_get(m, EMBER_ROSTER_IFACE);
    if (!self && (ri == NULL || api->jid_node(ev->from) == NULL)) {
        api->stanza_error(ev, EMBER_COND_FORBIDDEN, NULL);
        return EMBER_HOOK_HANDLED;
    }
    if (full) {
        if ((f = calloc(1, sizeof(*f))) == NULL ||
            (f->iq = api->stanza_copy(ev->stanza)) == NULL) {
            free(f);
            return EMBER_ENOMEM;
        }
        f->m = m;
        if ((f->next = ls->fwds) != NULL)
            f->next->prev = f;
        ls->fwds = f;
        if (ri->load(ri, user, fwd_roster_loaded, f) < 0)
            fwd_roster_loaded(EMBER_EIO, NULL, f);
        return EMBER_HOOK_HANDLED;
    }
    if ((iq = api->iq_defer(m, ev)) == NULL)
        return EMBER_ENOMEM;
    if (self)
        last_lookup(iq);
    else if (ri->load(ri, user, roster_loaded, iq) < 0)
        api->iq_fail(iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
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

    if (ls->passing != NULL &&
        strcmp(api->stanza_attr(ls->passing, "id"),
               api->stanza_attr(ev->stanza, "id")) == 0 &&
        strcmp(api->stanza_attr(ls->passing, "from"),
               api->stanza_attr(ev->stanza, "from")) == 0)
        return EMBER_HOOK_PASS;
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


static const struct {
    const char *event;
    ember_hook_cb cb;
    int priority;
} last_hooks[] = {
    { "iq-get/host/" NS_LAST ":query", last_on_host, 0 },
    { "iq-get/bare/" NS_LAST ":query", last_on_bare, 0 },
    { "iq-get/full/" NS_LAST ":query", last_on_full, 100 },
    { "iq-set/host/" NS_LAST ":query", last_on_set, 0 },
    { "iq-set/bare/" NS_LAST ":query", last_on_set, 0 },
    { "pre-presence/self", last_on_presence, 50 },
    { EMBER_EV_SESSION_CLOSED, last_on_closed, 0 },
};


static int
last_load(ember_module_t *m, const ember_api_t *a)
{
    last_state_t *ls;
    size_t i;
    int err;

    api = a;
    if ((ls = calloc(1, sizeof(*ls))) == NULL)
        return EMBER_ENOMEM;
    api->module_set_data(m, ls);
    if ((ls->store = api->store_open(m, "last", EMBER_STORE_KEYVAL)) == NULL)
        return EMBER_ENOMEM;
    if ((err = api->session_slot_destructor(m, free)) < 0 ||
        (err = api->disco_add_feature(m, NS_LAST)) < 0)
        return err;
    for (i = 0; i < sizeof(last_hooks) / sizeof(last_hooks[0]); i++)
        if ((err = api->hook(m, last_hooks[i].event, last_hooks[i].cb,
                             last_hooks[i].priority, NULL)) < 0)
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
    if (ri != NULL && EMBER_ROSTER_HAS(ri, cancel)) {
        ri->cancel(ri, roster_loaded, NULL);
        ri->cancel(ri, fwd_roster_loaded, NULL);
    }
    while (ls->fwds != NULL)
        fwd_free(ls->fwds);
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
