/* mod_register.c -- XEP-0077 In-Band Registration: account creation before
 * authentication (off unless allowed), password change and account removal
 * after it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
    int tombstone;      /* tombstone-ttl, seconds; 0 = none */
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
    EMBER_OPT("tombstone-ttl", EMBER_OPT_DURATION, reg_conf_t, tombstone,
              "30d", 0, 3650 * 86400, "a deleted account's name cannot be "
              "registered again for this long (someone else would get its "
              "contacts' trust); 0: at once"),
    EMBER_OPT_END
};

/* Session slot of an unauthenticated stream that spoke
 * jabber:iq:register. */
typedef struct {
    int registered;     /* this stream already created an account */
    int busy;           /* a creation is in flight */
} reg_sess_t;

/* A creation in flight: the address it counts against when it succeeds,
 * even if its stream has gone meanwhile. */
typedef struct {
    ember_iq_t *iq;
    ember_module_t *m;
    char ip[64];
    char *node, *password;  /* until the tombstone is checked */
} reg_create_t;

typedef struct reg_state_s {
    ember_module_t *m;
    json_t *per_ip;     /* ip -> array of registration times (ms) */
    ember_store_t *tombstones; /* "" -> {name: deletion time, s} */
    struct reg_state_s *next;
} reg_state_t;

static const ember_api_t *api;
/* Every instance: a deferred iq knows its host, not its module. */
static reg_state_t *instances;


static reg_state_t *
reg_of(const char *host)
{
    reg_state_t *st;

    for (st = instances; st != NULL; st = st->next)
        if (strcmp(api->module_host(st->m), host) == 0)
            break;
    return st;
}


static reg_sess_t *
sess_state(ember_module_t *m, ember_session_t *s)
{
    void **slot = s != NULL ? api->session_slot(m, s) : NULL;

    if (slot == NULL)
        return NULL;
    if (*slot == NULL)
        *slot = calloc(1, sizeof(reg_sess_t));
    return *slot;
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
create_free(reg_create_t *c)
{
    free(c->node);
    if (c->password != NULL)
        explicit_bzero(c->password, strlen(c->password));
    free(c->password);
    free(c);
}


static void created(int status, json_t *result, void *ud);


/* The name is free unless an account had it within tombstone-ttl. */
static void
tombstone_checked(int status, json_t *result, void *ud)
{
    reg_create_t *c = ud;
    reg_conf_t *conf = api->module_conf(c->m);
    reg_sess_t *rs = sess_state(c->m, api->session_get(
                                          api->iq_origin(c->iq)));
    json_int_t when = json_integer_value(result);
    int err;

    if (status == 0 && when > 0 &&
        (json_int_t) time(NULL) - when < (json_int_t) conf->tombstone) {
        if (rs != NULL)
            rs->busy = 0;
        api->iq_fail(c->iq, EMBER_COND_CONFLICT, "this username belonged "
                     "to an account deleted recently");
        create_free(c);
        return;
    }
    err = api->user_create(c->m, c->node, c->password, created, c);
    if (err < 0) {
        if (rs != NULL)
            rs->busy = 0;
        api->iq_fail(c->iq, err == EMBER_EBUSY ? EMBER_COND_CONFLICT :
                     EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        create_free(c);
    }
}


static void
tombstone_stored(int status, json_t *result, void *ud)
{
}


/* An account went (deleted by its user or an admin): keep its name. */
static int
reg_on_deleted(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    reg_conf_t *conf = api->module_conf(m);
    reg_state_t *st = api->module_data(m);
    const char *user = ev->data;    /* the node, after its data went */
    json_t *when;

    if (conf->tombstone <= 0 || st->tombstones == NULL || user == NULL)
        return EMBER_HOOK_PASS;
    if ((when = json_integer((json_int_t) time(NULL))) != NULL)
        api->map_set(st->tombstones, "", user, when, tombstone_stored, NULL);
    json_decref(when);
    return EMBER_HOOK_PASS;
}


static void
created(int status, json_t *result, void *ud)
{
    reg_create_t *c = ud;
    reg_state_t *st = reg_of(api->iq_event(c->iq)->host);
    reg_sess_t *rs = sess_state(st->m, api->session_get(
                                           api->iq_origin(c->iq)));
    json_t *times;

    if (rs != NULL) {
        rs->busy = 0;
        rs->registered = status == 0;
    }
    if (status == 0) {
        if (c->ip[0] != '\0' &&
            (times = ip_times(st, api->module_conf(st->m), c->ip)) != NULL)
            json_array_append_new(times,
                                  json_integer((json_int_t) api->uptime_ms()));
        api->log(st->m, EMBER_LOG_INFO, "account registered in-band from %s",
                 c->ip[0] != '\0' ? c->ip : "?");
        api->iq_answer(c->iq, NULL);
    } else {
        api->iq_fail(c->iq, status == EMBER_EEXIST || status == EMBER_EBUSY
                     ? EMBER_COND_CONFLICT : status == EMBER_EINVAL
                     ? EMBER_COND_NOT_ACCEPTABLE
                     : EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
    }
    create_free(c);
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
    ember_stanza_t *r, *e;
    reg_create_t *c;
    reg_sess_t *rs;
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
            /* Sent by hand for its error type, "wait" rather than the
             * condition's default; the stream has no address yet. */
            if ((r = api->error_reply(ev->stanza, EMBER_COND_POLICY_VIOLATION,
                                      "too many registrations from your "
                                      "address; try again later")) == NULL)
                return EMBER_ENOMEM;
            api->stanza_set_attr(r, "to", NULL);
            api->stanza_set_attr(r, "from", NULL);
            if ((e = api->stanza_child(r, "error", NULL)) != NULL)
                api->stanza_set_attr(e, "type", "wait");
            api->session_send(ev->origin, r);
            api->stanza_free(r);
            return EMBER_HOOK_HANDLED;
        }
    }
    if ((c = calloc(1, sizeof(*c))) == NULL ||
        (c->iq = api->iq_defer(m, ev)) == NULL) {
        free(c);
        free(node);
        return EMBER_ENOMEM;
    }
    snprintf(c->ip, sizeof(c->ip), "%s", ip != NULL ? ip : "");
    c->m = m;
    c->node = node;
    if ((c->password = strdup(password)) == NULL) {
        api->iq_fail(c->iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        create_free(c);
        return EMBER_HOOK_HANDLED;
    }
    rs->busy = 1;
    if (st->tombstones != NULL && conf->tombstone > 0)
        err = api->map_get(st->tombstones, "", node, tombstone_checked, c);
    else
        err = (tombstone_checked(EMBER_ENOENT, NULL, c), 0);
    if (err < 0) {
        rs->busy = 0;
        api->iq_fail(c->iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        create_free(c);
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
    api->iq_result(ev, q);
    return EMBER_HOOK_HANDLED;
}


static void
password_set(int status, json_t *result, void *ud)
{
    const ember_event_t *ev = api->iq_event(ud);

    if (status == 0)
        api->log(reg_of(ev->host)->m, EMBER_LOG_INFO,
                 "%s changed its password in-band", api->jid_full(ev->from));
    if (status == 0)
        api->iq_answer(ud, NULL);
    else
        api->iq_fail(ud, status == EMBER_EBUSY ? EMBER_COND_CONFLICT
                     : EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
}


/* ud: the bare JID of the account, malloc'ed. */
static void
removed(int status, json_t *result, void *ud)
{
    reg_state_t *st = reg_of(strchr(ud, '@') + 1);

    if (status < 0)
        api->log(st->m, EMBER_LOG_WARN, "removing %s: %s", (char *) ud,
                 api->strerror(status));
    else
        api->log(st->m, EMBER_LOG_INFO, "%s removed its account in-band",
                 (char *) ud);
    free(ud);
}


static int
reg_remove(ember_module_t *m, const ember_event_t *ev, ember_stanza_t *q)
{
    ember_stanza_t *c;
    char *jid;
    int err;

    for (c = api->stanza_first(q); c != NULL; c = api->stanza_next(c))
        if (strcmp(api->stanza_name(c), "remove") != 0) {
            api->stanza_error(ev, EMBER_COND_BAD_REQUEST,
                              "<remove/> must be alone");
            return EMBER_HOOK_HANDLED;
        }
    if ((jid = strdup(api->jid_bare(ev->from))) == NULL)
        return EMBER_ENOMEM;
    /* XEP-0077 3.2: the result, then not-authorized on every stream of
     * the account; the core closes them as it deletes the account, so the
     * result goes first. */
    api->iq_result(ev, NULL);
    if ((err = api->user_delete(m, api->jid_node(ev->from), removed,
                                jid)) < 0)
        removed(err, NULL, jid);
    return EMBER_HOOK_HANDLED;
}


static int
reg_auth_set(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    reg_conf_t *conf = api->module_conf(m);
    ember_stanza_t *q = api->stanza_first(ev->stanza);
    const char *user, *password;
    ember_iq_t *iq;
    char *node;
    int err;

    if (!own_account(m, ev)) {
        api->stanza_error(ev, EMBER_COND_NOT_ALLOWED, NULL);
        return EMBER_HOOK_HANDLED;
    }
    if (api->stanza_child(q, "remove", NS_REGISTER) != NULL)
        return reg_remove(m, ev, q);
    user = child_text(q, "username");
    password = child_text(q, "password");
    if (user == NULL || password == NULL || password[0] == '\0') {
        /* XEP-0077 3.3: never an empty password; keep the current one. */
        api->stanza_error(ev, EMBER_COND_BAD_REQUEST,
                          "a username and a new password are required");
        return EMBER_HOOK_HANDLED;
    }
    node = prepared_node(m, user);
    if (node == NULL || strcmp(node, api->jid_node(ev->from)) != 0) {
        free(node);
        api->stanza_error(ev, EMBER_COND_NOT_ALLOWED,
                          "only the account's own password can be changed");
        return EMBER_HOOK_HANDLED;
    }
    free(node);
    if (strlen(password) < (size_t) conf->min_password) {
        api->stanza_error(ev, EMBER_COND_NOT_ACCEPTABLE,
                          "the password is too short");
        return EMBER_HOOK_HANDLED;
    }
    if ((iq = api->iq_defer(m, ev)) == NULL)
        return EMBER_ENOMEM;
    if ((err = api->user_set_password(m, api->jid_node(ev->from), password,
                                      password_set, iq)) < 0)
        password_set(err, NULL, iq);
    return EMBER_HOOK_HANDLED;
}


static void
reg_unload(ember_module_t *m)
{
    reg_state_t *st = api->module_data(m), **pp;

    if (st == NULL)
        return;
    for (pp = &instances; *pp != st; pp = &(*pp)->next)
        ;
    *pp = st->next;
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
    st->m = m;
    st->next = instances;
    instances = st;
    api->module_set_data(m, st);
    st->tombstones = api->store_open(m, "tombstones", EMBER_STORE_MAP);
    if ((err = api->session_slot_destructor(m, free)) < 0 ||
        (err = api->hook(m, EMBER_EV_USER_DELETED, reg_on_deleted, 0,
                         NULL)) < 0 ||
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
    EMBER_MODULE_HEADER,
    .name = "register",
    .version = "1.0",
    .description = "XEP-0077: In-Band Registration",
    .requires = (const char *const[]){ "hooks", "disco", "accounts",
                                       "sessions", "storage", NULL },
    .conf_size = sizeof(reg_conf_t),
    .options = reg_options,
    .load = reg_load,
    .unload = reg_unload,
};
