/* mod_push.c -- XEP-0357 push notifications: a client registers its app
 * server (a pubsub service and node); when a message reaches the account
 * while the client cannot get it (its session waits for a resume after a
 * lost connection, or no session is there), the app server is told,
 * which wakes the phone.  Summaries carry no body and no sender unless the
 * operator allows them; an app server that answers with a permanent error
 * is forgotten, a temporary one is tried again a few times. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <ember/plugin.h>

#define NS_PUSH "urn:xmpp:push:0"
#define NS_PUBSUB "http://jabber.org/protocol/pubsub"
#define NS_SUMMARY "urn:xmpp:push:summary"
#define NS_DATA "jabber:x:data"
#define NS_SM "urn:xmpp:sm:3"
#define MAX_APPS 8
/* mod_muc's event: a registered member away from a room was named. */
#define EV_MUC_MENTION "muc-mention"
#define RETRIES 3

typedef struct {
    int include_body, include_sender;
    int timeout;              /* seconds an app server has to answer */
} push_conf_t;

static const ember_option_t push_options[] = {
    EMBER_OPT("include-body", EMBER_OPT_BOOL, push_conf_t, include_body,
              "false", 0, 1, "put the message's text in notifications "
              "(app servers and phone vendors then read it)"),
    EMBER_OPT("include-sender", EMBER_OPT_BOOL, push_conf_t, include_sender,
              "false", 0, 1, "put the sender's address in notifications"),
    EMBER_OPT("timeout", EMBER_OPT_DURATION, push_conf_t, timeout, "30", 1,
              600, "how long an app server has to answer"),
    EMBER_OPT_END
};

struct note_s;
struct wake_s;

typedef struct {
    ember_module_t *m;
    const push_conf_t *conf;
    ember_store_t *st;        /* KEYVAL: {"apps": [{jid, node, options}]} */
    struct note_s *notes;     /* waiting for a retry: freed at unload */
    /* Reading the account's app servers: an unload drops the storage
     * callbacks, so the module frees these itself. */
    struct wake_s *wakes;
} push_t;

static const ember_api_t *api;


/* ---- registrations ---- */

typedef struct {
    push_t *p;
    ember_iq_t *iq;
    char *user;
    char *jid, *node, *options;   /* options: a serialized form, or NULL */
    int enable;
} change_t;


static void
change_free(change_t *c)
{
    free(c->user);
    free(c->jid);
    free(c->node);
    free(c->options);
    free(c);
}


static void
change_saved(int status, json_t *result, void *ud)
{
    change_t *c = ud;

    (void) result;
    if (status < 0)
        api->iq_fail(c->iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
    else
        api->iq_answer(c->iq, NULL);
    change_free(c);
}


static json_t *
apps_without(json_t *apps, const char *jid, const char *node)
{
    json_t *out = json_array(), *a;
    size_t i;

    json_array_foreach(apps, i, a) {
        const char *j = json_string_value(json_object_get(a, "jid"));
        const char *n = json_string_value(json_object_get(a, "node"));

        if (j != NULL && strcmp(j, jid) == 0 &&
            (node == NULL || (n != NULL && strcmp(n, node) == 0)))
            continue;
        json_array_append(out, a);
    }
    return out;
}


static void
change_loaded(int status, json_t *doc, void *ud)
{
    change_t *c = ud;
    json_t *apps, *nd;

    if (status < 0 && status != EMBER_ENOENT) {
        api->iq_fail(c->iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        change_free(c);
        return;
    }
    apps = apps_without(json_object_get(doc, "apps"), c->jid,
                        c->node);
    if (c->enable) {
        if (json_array_size(apps) >= MAX_APPS) {
            json_decref(apps);
            api->iq_fail(c->iq, EMBER_COND_RESOURCE_CONSTRAINT, "at most 8 "
                         "push registrations per account");
            change_free(c);
            return;
        }
        json_array_append_new(apps, json_pack("{s:s,s:s,s:s?}", "jid",
                                              c->jid, "node", c->node,
                                              "options", c->options));
    }
    nd = json_pack("{s:o}", "apps", apps);
    if (nd == NULL || api->keyval_set(c->p->st, c->user,
                                      json_array_size(apps) > 0 ? nd : NULL,
                                      change_saved, c) < 0) {
        api->iq_fail(c->iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        change_free(c);
    }
    json_decref(nd);
}


static int
on_registration(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    push_t *p = ud;
    ember_stanza_t *el = api->stanza_first(ev->stanza), *x;
    int enable = strcmp(api->stanza_name(el), "enable") == 0;
    const char *jid = api->stanza_attr(el, "jid");
    const char *node = api->stanza_attr(el, "node");
    ember_jid_t *j = jid != NULL ? api->jid_parse(jid) : NULL;
    ember_iq_t *iq;
    change_t *c;

    if (j == NULL || (enable && (node == NULL || node[0] == '\0'))) {
        api->jid_free(j);
        api->stanza_error(ev, EMBER_COND_BAD_REQUEST, enable
                          ? "enable needs the app server's jid and a node"
                          : "disable needs the app server's jid");
        return EMBER_HOOK_HANDLED;
    }
    if (p->st == NULL) {
        api->jid_free(j);
        api->stanza_error(ev, EMBER_COND_SERVICE_UNAVAILABLE, "no storage");
        return EMBER_HOOK_HANDLED;
    }
    if ((iq = api->iq_defer(m, ev)) == NULL) {
        api->jid_free(j);
        return EMBER_HOOK_HANDLED;
    }
    x = api->stanza_child(el, "x", NS_DATA);
    if ((c = calloc(1, sizeof(*c))) == NULL ||
        (c->user = strdup(api->jid_node(ev->from))) == NULL ||
        (c->jid = strdup(api->jid_full(j))) == NULL ||
        (node != NULL && (c->node = strdup(node)) == NULL) ||
        (x != NULL && (c->options = api->stanza_serialize(x, NULL)) ==
                          NULL)) {
        if (c != NULL)
            change_free(c);
        api->jid_free(j);
        api->iq_fail(iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return EMBER_HOOK_HANDLED;
    }
    api->jid_free(j);
    c->p = p;
    c->iq = iq;
    c->enable = enable;
    if (api->keyval_get(p->st, c->user, change_loaded, c) < 0) {
        api->iq_fail(iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        change_free(c);
    }
    return EMBER_HOOK_HANDLED;
}


/* ---- notifications ---- */

typedef struct note_s {
    struct note_s *prev, *next;   /* in p->notes while a retry waits */
    push_t *p;
    char *user;
    char *jid, *node;
    char *sender, *body;      /* when the operator allows them */
    char *options;
    int tries;
    ember_timer_t *retry;
} note_t;


static void
note_free(note_t *n)
{
    free(n->user);
    free(n->jid);
    free(n->node);
    free(n->sender);
    free(n->body);
    free(n->options);
    free(n);
}


static void note_send(note_t *n);
static void note_retry(ember_module_t *m, ember_timer_t *t, void *ud);


static void
field(ember_stanza_t *x, const char *var, const char *value)
{
    const char *v[] = { value, NULL };

    api->form_add_field(x, var, NULL, NULL, v);
}


static void
forgotten(int status, json_t *result, void *ud)
{
    (void) result;
    if (status < 0)
        api->log(((push_t *) ud)->m, EMBER_LOG_WARN, "push: cannot remove "
                 "a registration: %s", api->strerror(status));
}


/* XEP-0357 section 7: the app server refused for good: forget it. */
static void
forget(int status, json_t *doc, void *ud)
{
    note_t *n = ud;
    json_t *apps, *nd;

    if (status == 0) {
        apps = apps_without(json_object_get(doc, "apps"), n->jid, n->node);
        nd = json_array_size(apps) > 0 ? json_pack("{s:o}", "apps", apps)
                                       : (json_decref(apps), NULL);
        api->keyval_set(n->p->st, n->user, nd, forgotten, n->p);
        json_decref(nd);
    }
    note_free(n);
}


static void
note_answered(ember_module_t *m, ember_stanza_t *reply, void *ud)
{
    note_t *n = ud;
    const char *type = reply != NULL ? api->stanza_attr(reply, "type")
                                     : NULL;
    ember_stanza_t *err = reply != NULL ? api->stanza_child(reply, "error",
                                                            NULL)
                                        : NULL;
    const char *etype = err != NULL ? api->stanza_attr(err, "type") : NULL;

    (void) m;
    if (type != NULL && strcmp(type, "result") == 0) {
        note_free(n);
        return;
    }
    if (reply != NULL && (etype == NULL || (strcmp(etype, "wait") != 0 &&
                                            strcmp(etype, "continue") != 0))) {
        api->log(n->p->m, EMBER_LOG_INFO, "push: %s refused the "
                 "notification for %s: registration removed", n->jid,
                 n->user);
        if (api->keyval_get(n->p->st, n->user, forget, n) < 0)
            note_free(n);
        return;
    }
    if (++n->tries >= RETRIES) {
        api->log(n->p->m, EMBER_LOG_INFO, "push: %s did not take the "
                 "notification for %s after %d tries", n->jid, n->user,
                 RETRIES);
        note_free(n);
        return;
    }
    /* Later, from a timer: this may be the module's unload calling. */
    n->retry = api->timer_start(n->p->m, (uint64_t) n->tries * 5000, 0,
                                note_retry, n);
    if (n->retry == NULL) {
        note_free(n);
        return;
    }
    n->next = n->p->notes;
    if (n->next != NULL)
        n->next->prev = n;
    n->p->notes = n;
}


static void
note_retry(ember_module_t *m, ember_timer_t *t, void *ud)
{
    note_t *n = ud;

    (void) m;
    (void) t;
    if (n->prev != NULL)
        n->prev->next = n->next;
    else
        n->p->notes = n->next;
    if (n->next != NULL)
        n->next->prev = n->prev;
    n->prev = n->next = NULL;
    n->retry = NULL;
    note_send(n);
}


static void
note_send(note_t *n)
{
    ember_stanza_t *iq = api->stanza_new("iq", NULL), *ps, *pub, *item,
                   *nt, *x, *opts;
    char from[1100];

    if (iq == NULL) {
        note_free(n);
        return;
    }
    snprintf(from, sizeof(from), "%s@%s", n->user, api->module_host(n->p->m));
    api->stanza_set_attr(iq, "type", "set");
    api->stanza_set_attr(iq, "from", from);
    api->stanza_set_attr(iq, "to", n->jid);
    ps = api->stanza_add_child(iq, "pubsub", NS_PUBSUB);
    pub = api->stanza_add_child(ps, "publish", NULL);
    api->stanza_set_attr(pub, "node", n->node);
    item = api->stanza_add_child(pub, "item", NULL);
    nt = api->stanza_add_child(item, "notification", NS_PUSH);
    if ((x = api->form_new(nt, "submit", NULL, NS_SUMMARY)) != NULL) {
        field(x, "message-count", "1");
        if (n->sender != NULL)
            field(x, "last-message-sender", n->sender);
        if (n->body != NULL)
            field(x, "last-message-body", n->body);
    }
    if (n->options != NULL &&
        (opts = api->stanza_parse(n->options, strlen(n->options))) != NULL) {
        api->stanza_append(api->stanza_add_child(ps, "publish-options",
                                                 NULL), opts);
        api->stanza_free(opts);
    }
    if (api->iq_send(n->p->m, iq, (unsigned) n->p->conf->timeout * 1000,
                     note_answered, n) < 0)
        note_free(n);
}


typedef struct wake_s {
    push_t *p;
    char *user, *sender, *body;
    struct wake_s *prev, *next;
} wake_t;


static void
wake_free(wake_t *w)
{
    if (w->prev != NULL)
        w->prev->next = w->next;
    else if (w->p->wakes == w)
        w->p->wakes = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    free(w->user);
    free(w->sender);
    free(w->body);
    free(w);
}


static void
wake_loaded(int status, json_t *doc, void *ud)
{
    wake_t *w = ud;
    json_t *a;
    note_t *n;
    size_t i;

    json_array_foreach(status == 0 ? json_object_get(doc, "apps") : NULL,
                       i, a) {
        const char *opt = json_string_value(json_object_get(a, "options"));

        if ((n = calloc(1, sizeof(*n))) == NULL)
            break;
        n->p = w->p;
        n->user = strdup(w->user);
        n->jid = strdup(json_string_value(json_object_get(a, "jid")));
        n->node = strdup(json_string_value(json_object_get(a, "node")));
        n->sender = w->sender != NULL ? strdup(w->sender) : NULL;
        n->body = w->body != NULL ? strdup(w->body) : NULL;
        n->options = opt != NULL ? strdup(opt) : NULL;
        if (n->user == NULL || n->jid == NULL || n->node == NULL) {
            note_free(n);
            continue;
        }
        note_send(n);
    }
    wake_free(w);
}


/* A message the account's client did not get: notify its app servers. */
static void
wake(push_t *p, const char *user, const ember_stanza_t *msg)
{
    const char *body = api->stanza_text(api->stanza_child(msg, "body",
                                                          NULL));
    const char *from = api->stanza_attr(msg, "from");
    wake_t *w;

    if (p->st == NULL || (w = calloc(1, sizeof(*w))) == NULL)
        return;
    w->p = p;
    w->user = strdup(user);
    if (p->conf->include_sender && from != NULL)
        w->sender = strdup(from);
    if (p->conf->include_body && body != NULL)
        w->body = strdup(body);
    if (w->user == NULL ||
        api->keyval_get(p->st, user, wake_loaded, w) < 0) {
        wake_free(w);
        return;
    }
    w->next = p->wakes;
    if (p->wakes != NULL)
        p->wakes->prev = w;
    p->wakes = w;
}


/* Only what a person would be woken for: a message with a body (an
 * encrypted one carries its fallback body). */
static int
worth_waking(const ember_stanza_t *st)
{
    const char *type = api->stanza_attr(st, "type");

    return strcmp(api->stanza_name(st), "message") == 0 &&
           (type == NULL || strcmp(type, "error") != 0) &&
           (type == NULL || strcmp(type, "headline") != 0) &&
           api->stanza_child(st, "body", NULL) != NULL;
}


/* A message the account's client cannot get now: kept for a session
 * waiting for its resume, or about to be stored offline. */
static int
on_missed(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    (void) m;
    if (ev->to != NULL && api->jid_node(ev->to) != NULL &&
        worth_waking(ev->stanza))
        wake(ud, api->jid_node(ev->to), ev->stanza);
    return EMBER_HOOK_PASS;
}


/* A room named a member who is not there (XEP-0045 7.10 reserved
 * nickname): its phone is woken as for a message it missed. */
static int
on_mention(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    const char *bare = ev->data;
    const char *at = bare != NULL ? strchr(bare, '@') : NULL;
    char node[1024];

    if (at == NULL || strcmp(at + 1, api->module_host(m)) != 0 ||
        (size_t) (at - bare) >= sizeof(node) || !worth_waking(ev->stanza))
        return EMBER_HOOK_PASS;
    snprintf(node, sizeof(node), "%.*s", (int) (at - bare), bare);
    wake(ud, node, ev->stanza);
    return EMBER_HOOK_PASS;
}


static void
push_unload(ember_module_t *m)
{
    push_t *p = api->module_data(m);
    note_t *n;

    if (p == NULL)
        return;
    while ((n = p->notes) != NULL) {
        p->notes = n->next;
        api->timer_stop(m, n->retry);
        note_free(n);
    }
    while (p->wakes != NULL)
        wake_free(p->wakes);
    free(p);
    api->module_set_data(m, NULL);
}


static int
push_load(ember_module_t *m, const ember_api_t *a)
{
    push_t *p;
    int err;

    api = a;
    if ((p = calloc(1, sizeof(*p))) == NULL)
        return EMBER_ENOMEM;
    p->m = m;
    p->conf = api->module_conf(m);
    api->module_set_data(m, p);
    if ((p->st = api->store_open(m, "push", EMBER_STORE_KEYVAL)) == NULL)
        api->log(m, EMBER_LOG_WARN, "no storage: push notifications off");
    if ((err = api->disco_add_feature(m, NS_PUSH)) < 0 ||
        (err = api->hook(m, "iq-set/self/" NS_PUSH ":enable", on_registration, 0,
                         p)) < 0 ||
        (err = api->hook(m, "iq-set/self/" NS_PUSH ":disable", on_registration, 0,
                         p)) < 0 ||
        (err = api->hook(m, EMBER_EV_STANZA_HIBERNATED, on_missed, 0,
                         p)) < 0 ||
        /* Above offline storage, which takes the message. */
        (err = api->hook(m, EMBER_EV_MESSAGE_OFFLINE, on_missed, 10,
                         p)) < 0 ||
        (err = api->hook(m, EV_MUC_MENTION, on_mention, 0, p)) < 0) {
        push_unload(m);
        return err;
    }
    return 0;
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER_MIN(6),
    .name = "push",
    .version = "1.0",
    .description = "XEP-0357: push notifications to phones whose session "
                   "waits for a resume, or that are offline",
    .requires = (const char *const[]){ "hooks", "stanzas", "storage", "iq",
                                       "disco", "forms", NULL },
    .conf_size = sizeof(push_conf_t),
    .options = push_options,
    .load = push_load,
    .unload = push_unload,
};
