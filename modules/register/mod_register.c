/* mod_register.c -- XEP-0077 In-Band Registration: account creation before
 * authentication (off unless allowed), password change and account removal
 * after it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <ember/plugin.h>

#define NS_REGISTER "jabber:iq:register"
#define NS_FEATURE "http://jabber.org/features/iq-register"
#define EV_UNAUTH_GET "iq-get/unauth/" NS_REGISTER ":query"
#define EV_UNAUTH_SET "iq-set/unauth/" NS_REGISTER ":query"

typedef struct {
    int allow;          /* allow-registration */
    int min_password;   /* min-password-length */
    int per_ip;         /* registrations-per-ip; 0 = no limit */
    int window;         /* registration-window, seconds */
} reg_conf_t;

static const ember_option_t reg_options[] = {
    EMBER_OPT("allow-registration", EMBER_OPT_BOOL, reg_conf_t, allow,
              "false", 0, 1, "let unauthenticated clients create accounts"),
    EMBER_OPT("min-password-length", EMBER_OPT_INT, reg_conf_t,
              min_password, "6", 1, 1024,
              "shortest password accepted at registration and change"),
    EMBER_OPT("registrations-per-ip", EMBER_OPT_INT, reg_conf_t, per_ip, "5",
              0, 1000000, "accounts one IP address may create per window "
              "(0: no limit)"),
    EMBER_OPT("registration-window", EMBER_OPT_DURATION, reg_conf_t, window,
              "10m", 1, 31 * 86400, "the period registrations-per-ip counts"),
    EMBER_OPT_END
};

/* One per unauthenticated stream that spoke jabber:iq:register. */
typedef struct reg_sess_s {
    int registered;     /* this stream already created an account */
    int busy;           /* a creation is in flight */
    int dead;           /* the stream ended while busy */
} reg_sess_t;

typedef struct reg_op_s {
    ember_module_t *m;
    reg_sess_t *rs;     /* NULL for an authenticated request */
    ember_session_t *s; /* valid while !rs->dead */
    ember_stanza_t *req;
    char *ip;
    struct reg_op_s *prev, *next;
} reg_op_t;

typedef struct {
    json_t *per_ip;     /* ip -> array of registration times (ms) */
    reg_op_t *ops;      /* account calls in flight */
} reg_state_t;

static const ember_api_t *api;


static void
op_free(reg_op_t *op)
{
    reg_state_t *st = api->module_data(op->m);

    if (op->prev != NULL)
        op->prev->next = op->next;
    else if (st != NULL)
        st->ops = op->next;
    if (op->next != NULL)
        op->next->prev = op->prev;
    if (op->rs != NULL) {
        op->rs->busy = 0;
        if (op->rs->dead)
            free(op->rs);
    }
    api->stanza_free(op->req);
    free(op->ip);
    free(op);
}


static reg_op_t *
op_new(ember_module_t *m, const ember_stanza_t *req)
{
    reg_state_t *st = api->module_data(m);
    reg_op_t *op = calloc(1, sizeof(*op));

    if (op == NULL)
        return NULL;
    op->m = m;
    if ((op->req = api->stanza_copy(req)) == NULL) {
        free(op);
        return NULL;
    }
    op->next = st->ops;
    if (st->ops != NULL)
        st->ops->prev = op;
    st->ops = op;
    return op;
}


static void
sess_dtor(void *p)
{
    reg_sess_t *rs = p;

    if (rs->busy)
        rs->dead = 1;
    else
        free(rs);
}


static reg_sess_t *
sess_state(ember_module_t *m, ember_session_t *s)
{
    void **slot = api->session_slot(m, s);

    if (slot == NULL)
        return NULL;
    if (*slot == NULL)
        *slot = calloc(1, sizeof(reg_sess_t));
    return *slot;
}


/* Answer `req` on a stream not yet authenticated (it has no address). */
static void
reply_unauth(ember_session_t *s, const ember_stanza_t *req, int cond,
             const char *text, const char *etype)
{
    ember_stanza_t *r, *e;

    if (cond < 0) {
        if ((r = api->stanza_new("iq", NULL)) == NULL)
            return;
        api->stanza_set_attr(r, "type", "result");
        api->stanza_set_attr(r, "id", api->stanza_attr(req, "id"));
    } else {
        if ((r = api->error_reply(req, (ember_cond_t) cond, text)) == NULL)
            return;
        api->stanza_set_attr(r, "to", NULL);
        api->stanza_set_attr(r, "from", NULL);
        if (etype != NULL && (e = api->stanza_child(r, "error", NULL)) != NULL)
            api->stanza_set_attr(e, "type", etype);
    }
    api->session_send(s, r);
    api->stanza_free(r);
}


/* Answer an authenticated request through the router: from where it was
 * sent (its own account when it had no 'to'), to its sender. */
static void
reply_routed(ember_module_t *m, const ember_stanza_t *req, int cond,
             const char *text, ember_stanza_t *payload)
{
    const char *from = api->stanza_attr(req, "from");
    const char *to = api->stanza_attr(req, "to");
    ember_jid_t *j = NULL;
    ember_stanza_t *r;

    if (cond < 0) {
        if ((r = api->stanza_new("iq", NULL)) == NULL) {
            api->stanza_free(payload);
            return;
        }
        api->stanza_set_attr(r, "type", "result");
        api->stanza_set_attr(r, "id", api->stanza_attr(req, "id"));
        api->stanza_set_attr(r, "to", from);
        api->stanza_set_attr(r, "from", to);
        if (payload != NULL)
            api->stanza_append(r, payload);
    } else {
        r = api->error_reply(req, (ember_cond_t) cond, text);
    }
    api->stanza_free(payload);
    if (r == NULL)
        return;
    if (to == NULL && from != NULL && (j = api->jid_parse(from)) != NULL)
        api->stanza_set_attr(r, "from", api->jid_bare(j));
    api->jid_free(j);
    api->route(m, r);
}


static ember_stanza_t *
form_query(void)
{
    ember_stanza_t *q = api->stanza_new("query", NS_REGISTER);
    ember_stanza_t *c;

    if (q == NULL)
        return NULL;
    if ((c = api->stanza_add_child(q, "instructions", NULL)) != NULL)
        api->stanza_add_text(c, "Choose a username and password to "
                             "register with this server.");
    api->stanza_add_child(q, "username", NULL);
    api->stanza_add_child(q, "password", NULL);
    return q;
}


/* Text of the direct child `name` of q, NULL when absent. */
static const char *
child_text(const ember_stanza_t *q, const char *name)
{
    ember_stanza_t *c = api->stanza_child(q, name, NS_REGISTER);

    return c != NULL ? api->stanza_text(c) : NULL;
}


/* The prepared form of `user` as the node of an account of m's host, or
 * NULL when it cannot be one. */
static char *
prepared_node(ember_module_t *m, const char *user)
{
    const char *host = api->module_host(m);
    ember_jid_t *j;
    size_t n = strlen(user) + strlen(host) + 2;
    char *s, *out = NULL;

    if (user[0] == '\0' || strpbrk(user, "@/") != NULL ||
        (s = malloc(n)) == NULL)
        return NULL;
    snprintf(s, n, "%s@%s", user, host);
    if ((j = api->jid_parse(s)) != NULL && api->jid_node(j) != NULL &&
        api->jid_resource(j) == NULL)
        out = strdup(api->jid_node(j));
    api->jid_free(j);
    free(s);
    return out;
}


/* Registration times of `ip` within the window, pruned; NULL on ENOMEM. */
static json_t *
ip_times(reg_state_t *st, const reg_conf_t *conf, const char *ip)
{
    uint64_t now = api->uptime_ms();
    uint64_t span = (uint64_t) conf->window * 1000;
    json_t *a = json_object_get(st->per_ip, ip);
    size_t i;

    if (a == NULL) {
        if ((a = json_array()) == NULL ||
            json_object_set_new(st->per_ip, ip, a) < 0)
            return NULL;
    }
    for (i = 0; i < json_array_size(a);) {
        uint64_t t = (uint64_t) json_integer_value(json_array_get(a, i));

        if (now - t >= span)
            json_array_remove(a, i);
        else
            i++;
    }
    return a;
}


static void
created(int status, json_t *result, void *ud)
{
    reg_op_t *op = ud;
    reg_state_t *st = api->module_data(op->m);
    json_t *times;
    int cond = -1;

    if (status == 0) {
        if (op->ip != NULL && st != NULL &&
            (times = ip_times(st, api->module_conf(op->m), op->ip)) != NULL)
            json_array_append_new(times,
                                  json_integer((json_int_t) api->uptime_ms()));
        api->log(op->m, EMBER_LOG_INFO, "account registered in-band from %s",
                 op->ip != NULL ? op->ip : "?");
    } else if (status == EMBER_EEXIST || status == EMBER_EBUSY) {
        cond = EMBER_COND_CONFLICT;
    } else if (status == EMBER_EINVAL) {
        cond = EMBER_COND_NOT_ACCEPTABLE;
    } else {
        cond = EMBER_COND_INTERNAL_SERVER_ERROR;
    }
    if (!op->rs->dead) {
        if (status == 0)
            op->rs->registered = 1;
        reply_unauth(op->s, op->req, cond, NULL, NULL);
    }
    op_free(op);
}


static int
reg_unauth_get(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    reg_conf_t *conf = api->module_conf(m);

    if (!conf->allow) {
        api->stanza_error(ev, EMBER_COND_SERVICE_UNAVAILABLE, NULL);
        return EMBER_HOOK_HANDLED;
    }
    api->iq_result(ev, form_query());
    return EMBER_HOOK_HANDLED;
}


static int
reg_unauth_set(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    reg_conf_t *conf = api->module_conf(m);
    reg_state_t *st = api->module_data(m);
    ember_stanza_t *q = api->stanza_first(ev->stanza);
    const char *user, *password, *ip = api->session_ip(ev->origin);
    reg_sess_t *rs;
    reg_op_t *op;
    json_t *times;
    char *node;
    int err;

    if (!conf->allow) {
        api->stanza_error(ev, EMBER_COND_SERVICE_UNAVAILABLE, NULL);
        return EMBER_HOOK_HANDLED;
    }
    if (api->stanza_child(q, "remove", NS_REGISTER) != NULL) {
        /* XEP-0077 3.2: nothing to cancel before authenticating. */
        api->stanza_error(ev, EMBER_COND_UNEXPECTED_REQUEST, NULL);
        return EMBER_HOOK_HANDLED;
    }
    if ((rs = sess_state(m, ev->origin)) == NULL)
        return EMBER_ENOMEM;
    if (rs->busy || rs->registered) {
        /* XEP-0077 3.1.1: one account per stream. */
        api->stanza_error(ev, EMBER_COND_NOT_ACCEPTABLE,
                          "this stream already registered an account");
        return EMBER_HOOK_HANDLED;
    }
    user = child_text(q, "username");
    password = child_text(q, "password");
    if (user == NULL || password == NULL || user[0] == '\0' ||
        password[0] == '\0') {
        api->stanza_error(ev, EMBER_COND_NOT_ACCEPTABLE,
                          "a username and a password are required");
        return EMBER_HOOK_HANDLED;
    }
    if (strlen(password) < (size_t) conf->min_password) {
        api->stanza_error(ev, EMBER_COND_NOT_ACCEPTABLE,
                          "the password is too short");
        return EMBER_HOOK_HANDLED;
    }
    if ((node = prepared_node(m, user)) == NULL) {
        api->stanza_error(ev, EMBER_COND_NOT_ACCEPTABLE,
                          "the username is not valid");
        return EMBER_HOOK_HANDLED;
    }
    if (conf->per_ip > 0 && ip != NULL) {
        if ((times = ip_times(st, conf, ip)) == NULL) {
            free(node);
            return EMBER_ENOMEM;
        }
        if (json_array_size(times) >= (size_t) conf->per_ip) {
            free(node);
            reply_unauth(ev->origin, ev->stanza, EMBER_COND_POLICY_VIOLATION,
                         "too many registrations from your address; try "
                         "again later", "wait");
            return EMBER_HOOK_HANDLED;
        }
    }
    if ((op = op_new(m, ev->stanza)) == NULL ||
        (ip != NULL && (op->ip = strdup(ip)) == NULL)) {
        if (op != NULL)
            op_free(op);
        free(node);
        return EMBER_ENOMEM;
    }
    op->rs = rs;
    op->s = ev->origin;
    rs->busy = 1;
    err = api->user_create(m, node, password, created, op);
    free(node);
    if (err < 0) {
        op_free(op);
        api->stanza_error(ev, err == EMBER_EBUSY ? EMBER_COND_CONFLICT :
                          EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
    }
    return EMBER_HOOK_HANDLED;
}


static int
reg_features(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    reg_conf_t *conf = api->module_conf(m);

    if (conf->allow && ev->data != NULL)
        api->stanza_add_child(ev->data, "register", NS_FEATURE);
    return EMBER_HOOK_PASS;
}


/* The request comes from an account of this host. */
static int
own_account(ember_module_t *m, const ember_event_t *ev)
{
    return ev->from != NULL && api->jid_node(ev->from) != NULL &&
           strcmp(api->jid_domain(ev->from), api->module_host(m)) == 0;
}


static int
reg_auth_get(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    ember_stanza_t *q, *c;

    if (!own_account(m, ev)) {
        api->stanza_error(ev, EMBER_COND_NOT_ALLOWED, NULL);
        return EMBER_HOOK_HANDLED;
    }
    if ((q = api->stanza_new("query", NS_REGISTER)) == NULL)
        return EMBER_ENOMEM;
    api->stanza_add_child(q, "registered", NULL);
    if ((c = api->stanza_add_child(q, "username", NULL)) != NULL)
        api->stanza_add_text(c, api->jid_node(ev->from));
    api->stanza_add_child(q, "password", NULL);
    /* Not api->iq_result: an iq without 'to' leaves it no address to
     * answer from. */
    reply_routed(m, ev->stanza, -1, NULL, q);
    return EMBER_HOOK_HANDLED;
}


static void
password_set(int status, json_t *result, void *ud)
{
    reg_op_t *op = ud;

    reply_routed(op->m, op->req, status == 0 ? -1 :
                 status == EMBER_EBUSY ? EMBER_COND_CONFLICT :
                 EMBER_COND_INTERNAL_SERVER_ERROR, NULL, NULL);
    if (status == 0)
        api->log(op->m, EMBER_LOG_INFO, "%s changed its password in-band",
                 api->stanza_attr(op->req, "from"));
    op_free(op);
}


static void
removed(int status, json_t *result, void *ud)
{
    reg_op_t *op = ud;

    if (status < 0)
        api->log(op->m, EMBER_LOG_WARN, "removing %s: %s",
                 api->stanza_attr(op->req, "from"), api->strerror(status));
    else
        api->log(op->m, EMBER_LOG_INFO, "%s removed its account in-band",
                 api->stanza_attr(op->req, "from"));
    op_free(op);
}


static int
reg_remove(ember_module_t *m, const ember_event_t *ev, ember_stanza_t *q)
{
    ember_stanza_t *c;
    reg_op_t *op;
    int err;

    for (c = api->stanza_first(q); c != NULL; c = api->stanza_next(c))
        if (strcmp(api->stanza_name(c), "remove") != 0) {
            reply_routed(m, ev->stanza, EMBER_COND_BAD_REQUEST,
                         "<remove/> must be alone", NULL);
            return EMBER_HOOK_HANDLED;
        }
    if ((op = op_new(m, ev->stanza)) == NULL)
        return EMBER_ENOMEM;
    /* XEP-0077 3.2: the result, then not-authorized on every stream of
     * the account; the core closes them as it deletes the account, so the
     * result goes first. */
    reply_routed(m, ev->stanza, -1, NULL, NULL);
    if ((err = api->user_delete(m, api->jid_node(ev->from), removed,
                                op)) < 0) {
        api->log(m, EMBER_LOG_WARN, "removing %s: %s",
                 api->jid_bare(ev->from), api->strerror(err));
        op_free(op);
    }
    return EMBER_HOOK_HANDLED;
}


static int
reg_auth_set(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    reg_conf_t *conf = api->module_conf(m);
    ember_stanza_t *q = api->stanza_first(ev->stanza);
    const char *user, *password;
    reg_op_t *op;
    char *node;
    int err;

    if (!own_account(m, ev)) {
        reply_routed(m, ev->stanza, EMBER_COND_NOT_ALLOWED, NULL, NULL);
        return EMBER_HOOK_HANDLED;
    }
    if (api->stanza_child(q, "remove", NS_REGISTER) != NULL)
        return reg_remove(m, ev, q);
    user = child_text(q, "username");
    password = child_text(q, "password");
    if (user == NULL || password == NULL || password[0] == '\0') {
        /* XEP-0077 3.3: never an empty password; keep the current one. */
        reply_routed(m, ev->stanza, EMBER_COND_BAD_REQUEST,
                     "a username and a new password are required", NULL);
        return EMBER_HOOK_HANDLED;
    }
    node = prepared_node(m, user);
    if (node == NULL || strcmp(node, api->jid_node(ev->from)) != 0) {
        free(node);
        reply_routed(m, ev->stanza, EMBER_COND_NOT_ALLOWED,
                     "only the account's own password can be changed", NULL);
        return EMBER_HOOK_HANDLED;
    }
    free(node);
    if (strlen(password) < (size_t) conf->min_password) {
        reply_routed(m, ev->stanza, EMBER_COND_NOT_ACCEPTABLE,
                     "the password is too short", NULL);
        return EMBER_HOOK_HANDLED;
    }
    if ((op = op_new(m, ev->stanza)) == NULL)
        return EMBER_ENOMEM;
    if ((err = api->user_set_password(m, api->jid_node(ev->from), password,
                                      password_set, op)) < 0) {
        op_free(op);
        reply_routed(m, ev->stanza, err == EMBER_EBUSY ? EMBER_COND_CONFLICT
                     : EMBER_COND_INTERNAL_SERVER_ERROR, NULL, NULL);
    }
    return EMBER_HOOK_HANDLED;
}


static void
reg_unload(ember_module_t *m)
{
    reg_state_t *st = api->module_data(m);

    if (st == NULL)
        return;
    while (st->ops != NULL)
        op_free(st->ops);
    json_decref(st->per_ip);
    free(st);
    api->module_set_data(m, NULL);
}


static int
reg_load(ember_module_t *m, const ember_api_t *a)
{
    static const char *const auth_get[] = {
        "iq-get/self/" NS_REGISTER ":query",
        "iq-get/host/" NS_REGISTER ":query"
    };
    static const char *const auth_set[] = {
        "iq-set/self/" NS_REGISTER ":query",
        "iq-set/host/" NS_REGISTER ":query"
    };
    reg_state_t *st;
    size_t i;
    int err;

    api = a;
    if ((st = calloc(1, sizeof(*st))) == NULL ||
        (st->per_ip = json_object()) == NULL) {
        free(st);
        return EMBER_ENOMEM;
    }
    api->module_set_data(m, st);
    if ((err = api->session_slot_destructor(m, sess_dtor)) < 0 ||
        (err = api->disco_add_feature(m, NS_REGISTER)) < 0 ||
        (err = api->hook(m, EMBER_EV_STREAM_FEATURES_UNAUTH, reg_features, 0,
                         NULL)) < 0 ||
        (err = api->hook(m, EV_UNAUTH_GET, reg_unauth_get, 0, NULL)) < 0 ||
        (err = api->hook(m, EV_UNAUTH_SET, reg_unauth_set, 0, NULL)) < 0)
        return err;
    for (i = 0; i < 2; i++)
        if ((err = api->hook(m, auth_get[i], reg_auth_get, 0, NULL)) < 0 ||
            (err = api->hook(m, auth_set[i], reg_auth_set, 0, NULL)) < 0)
            return err;
    return 0;
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER_MIN(1),
    .name = "register",
    .version = "1.0",
    .description = "XEP-0077: In-Band Registration",
    .requires = (const char *const[]){ "hooks", "disco", "accounts",
                                       "sessions", NULL },
    .conf_size = sizeof(reg_conf_t),
    .options = reg_options,
    .load = reg_load,
    .unload = reg_unload,
};
