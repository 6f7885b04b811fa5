/* mod_auth_ldap.c -- the passwords of a host checked by an LDAP directory
 * (ember/auth.h): bind as the user, or search for the user then bind;
 * members of a group are the server's admins. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldap.h>

#include "auth_ldap.h"

#define NS_REGISTER "jabber:iq:register"

const ember_api_t *api;

static const ember_option_t al_options[] = {
    EMBER_OPT("uri", EMBER_OPT_GUARDED, al_conf_t, uri, NULL, 0, 1023,
              "ldap://HOST[:PORT] or ldaps://HOST[:PORT]"),
    EMBER_OPT("starttls", EMBER_OPT_BOOL, al_conf_t, starttls, "false", 0, 1,
              "upgrade ldap:// with StartTLS before any bind"),
    EMBER_OPT("ca-file", EMBER_OPT_PATH, al_conf_t, ca_file, "ldap-ca.pem",
              0, 4096, "CA certificates (PEM) the directory's certificate "
              "must chain to, when the file exists; else the system's"),
    EMBER_OPT("user-dn", EMBER_OPT_GUARDED, al_conf_t, user_dn, "", 0, 1023,
              "bind as ATTR=%u,REST (%u: the user); empty: search"),
    EMBER_OPT("base", EMBER_OPT_GUARDED, al_conf_t, base, "", 0, 1023,
              "where users are searched"),
    EMBER_OPT("filter", EMBER_OPT_GUARDED, al_conf_t, filter, "(uid=%u)", 0,
              1023, "search filter; %u: the user, escaped (RFC 4515)"),
    EMBER_OPT("scope", EMBER_OPT_GUARDED, al_conf_t, scope, "sub", 0, 3,
              "sub or one"),
    EMBER_OPT("bind-dn", EMBER_OPT_GUARDED, al_conf_t, bind_dn, "", 0, 1023,
              "who searches and reads groups; empty: anonymous"),
    EMBER_OPT("bind-password-file", EMBER_OPT_PATH, al_conf_t,
              bind_password_file, "ldap-bind.secret", 0, 4096,
              "file whose first line is bind-dn's password"),
    EMBER_OPT("admin-group", EMBER_OPT_GUARDED, al_conf_t, admin_group, "",
              0, 1023, "DN of the group whose members are admins"),
    EMBER_OPT("admin-attribute", EMBER_OPT_GUARDED, al_conf_t,
              admin_attribute, "member", 1, 64,
              "attribute of the group holding member DNs"),
    EMBER_OPT("timeout", EMBER_OPT_DURATION, al_conf_t, timeout, "5", 1, 300,
              "limit of each directory operation"),
    EMBER_OPT("connections", EMBER_OPT_INT, al_conf_t, connections, "4", 1,
              64, "connections to the directory (binds at once)"),
    EMBER_OPT("max-pending", EMBER_OPT_INT, al_conf_t, max_pending, "256", 1,
              100000, "questions waiting for a connection; past this, "
              "temporary-auth-failure"),
    EMBER_OPT("admin-refresh", EMBER_OPT_DURATION, al_conf_t, admin_refresh,
              "5m", 1, 86400, "age after which admin membership is read "
              "again"),
    EMBER_OPT_END
};


/* ---- admins ---- */

static al_admin_t *
admin_find(al_state_t *st, const char *user)
{
    al_admin_t *a;

    for (a = st->admins; a != NULL; a = a->next)
        if (strcmp(a->user, user) == 0)
            return a;
    return NULL;
}


static void
admin_note(al_state_t *st, const char *user, int admin)
{
    al_admin_t *a = admin_find(st, user);

    if (a == NULL) {
        if ((a = calloc(1, sizeof(*a))) == NULL ||
            (a->user = strdup(user)) == NULL) {
            free(a);
            return;
        }
        a->next = st->admins;
        st->admins = a;
    }
    if (a->admin != admin)
        api->log(st->m, EMBER_LOG_INFO, "%s is %s admin group %s", user,
                 admin ? "in the" : "no longer in the",
                 st->conf->admin_group);
    a->admin = admin;
    a->checked = time(NULL);
    a->refreshing = 0;
}


static al_job_t *
job_new(al_op_t op, const char *user, const char *password,
        ember_auth_call_t call)
{
    al_job_t *job = calloc(1, sizeof(*job));

    if (job == NULL)
        return NULL;
    job->op = op;
    job->call = call;
    job->admin = -1;
    if ((job->user = strdup(user)) == NULL ||
        (password != NULL && (job->password = strdup(password)) == NULL)) {
        al_job_free(job);
        return NULL;
    }
    return job;
}


static int
al_is_admin(ember_module_t *m, const char *user)
{
    al_state_t *st = api->module_data(m);
    al_admin_t *a;
    al_job_t *job;

    if (st == NULL || (a = admin_find(st, user)) == NULL)
        return 0;
    /* A stale answer stands until the directory gives a fresh one. */
    if (!a->refreshing && time(NULL) - a->checked >= st->conf->admin_refresh
        && (job = job_new(AL_ADMIN, user, NULL, 0)) != NULL &&
        al_pool_submit(st->pool, job) == 0)
        a->refreshing = 1;
    return a->admin;
}


void
al_job_answered(al_state_t *st, al_job_t *job)
{
    al_admin_t *a;

    if (job->why != NULL)
        api->log(st->m, job->status == EMBER_EAUTH ? EMBER_LOG_DEBUG
                                                   : EMBER_LOG_WARN,
                 "%s: %s", job->user, job->why);
    if (job->admin >= 0)
        admin_note(st, job->user, job->admin);
    else if (job->op == AL_ADMIN && (a = admin_find(st, job->user)) != NULL)
        a->refreshing = 0;
    if (job->call != 0)
        api->auth_done(job->call, job->status);
}


/* ---- the provider ---- */

static int
al_submit(ember_module_t *m, al_op_t op, const char *user,
          const char *password, ember_auth_call_t call)
{
    al_state_t *st = api->module_data(m);
    al_job_t *job;

    if (st == NULL)
        return EMBER_ESTATE;
    if ((job = job_new(op, user, password, call)) == NULL)
        return EMBER_ENOMEM;
    return al_pool_submit(st->pool, job);
}


static int
al_check(ember_module_t *m, const char *user, const char *password,
         ember_auth_call_t call)
{
    return al_submit(m, AL_CHECK, user, password, call);
}


static int
al_exists(ember_module_t *m, const char *user, ember_auth_call_t call)
{
    return al_submit(m, AL_EXISTS, user, NULL, call);
}


static const ember_auth_provider_t al_provider = {
    .size = sizeof(ember_auth_provider_t),
    .name = "ldap",
    .check = al_check,
    .exists = al_exists,
    .is_admin = al_is_admin,
};


/* ---- in-band registration and password changes (XEP-0077) ---- */

static const char *const register_events[] = {
    "iq-get/unauth/" NS_REGISTER ":query",
    "iq-set/unauth/" NS_REGISTER ":query",
    "iq-set/self/" NS_REGISTER ":query",
    "iq-set/host/" NS_REGISTER ":query",
};


/* Ahead of mod_register: its accounts would be the core's, which this
 * host does not use.  XEP-0077 3.1: a host without in-band registration
 * answers service-unavailable; 3.2, 3.3: changes it does not allow,
 * not-allowed. */
static int
al_on_register(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    api->stanza_error(ev, strstr(ev->name, "/unauth/") != NULL
                              ? EMBER_COND_SERVICE_UNAVAILABLE
                              : EMBER_COND_NOT_ALLOWED,
                      "accounts of this server are kept in its LDAP "
                      "directory: register and change passwords there");
    return EMBER_HOOK_HANDLED;
}


/* ---- load ---- */

/* The first line of path, or NULL (and a log line) when unreadable. */
static char *
read_secret(ember_module_t *m, const char *path)
{
    char line[1024];
    size_t n;
    FILE *f;

    if ((f = fopen(path, "re")) == NULL) {
        api->log(m, EMBER_LOG_ERROR, "cannot read bind-password-file %s",
                 path);
        return NULL;
    }
    if (fgets(line, sizeof(line), f) == NULL)
        line[0] = '\0';
    fclose(f);
    n = strcspn(line, "\r\n");
    line[n] = '\0';
    return strdup(line);
}


/* user-dn must be ATTR=%u,REST so that libldap builds the first RDN. */
static int
user_dn_ok(const char *t)
{
    const char *eq = strchr(t, '=');

    return eq != NULL && eq > t && strcspn(t, ",=+") == (size_t) (eq - t) &&
           strncmp(eq, "=%u", 3) == 0 && (eq[3] == ',' || eq[3] == '\0') &&
           strstr(eq + 3, "%u") == NULL;
}


static int
conf_check(ember_module_t *m, const al_conf_t *c)
{
    if (strncmp(c->uri, "ldap://", 7) != 0 &&
        strncmp(c->uri, "ldaps://", 8) != 0 &&
        strncmp(c->uri, "ldapi://", 8) != 0) {
        api->log(m, EMBER_LOG_ERROR, "uri must be ldap://, ldaps:// or "
                 "ldapi://: %s", c->uri);
        return EMBER_EINVAL;
    }
    if (c->user_dn[0] != '\0' && !user_dn_ok(c->user_dn)) {
        api->log(m, EMBER_LOG_ERROR, "user-dn must look like "
                 "uid=%%u,ou=people,dc=example,dc=org: %s", c->user_dn);
        return EMBER_EINVAL;
    }
    if (c->user_dn[0] == '\0' &&
        (c->base[0] == '\0' || strstr(c->filter, "%u") == NULL ||
         c->filter[0] != '(')) {
        api->log(m, EMBER_LOG_ERROR, "set user-dn (bind as the user), or "
                 "base and a filter with %%u (search then bind)");
        return EMBER_EINVAL;
    }
    if (strcmp(c->scope, "sub") != 0 && strcmp(c->scope, "one") != 0) {
        api->log(m, EMBER_LOG_ERROR, "scope must be sub or one: %s",
                 c->scope);
        return EMBER_EINVAL;
    }
    return 0;
}


static void
al_unload(ember_module_t *m)
{
    al_state_t *st = api->module_data(m);
    al_admin_t *a;

    if (st == NULL)
        return;
    api->module_set_data(m, NULL);
    if (st->pool != NULL)
        al_pool_stop(st->pool);
    while ((a = st->admins) != NULL) {
        st->admins = a->next;
        free(a->user);
        free(a);
    }
    free(st);
}


/*
 * libldap and liblber keep process-wide state (options, TLS context)
 * from their first use on; unmapped with this module, that state would be
 * lost (leaked) and any exit handler they set left dangling.  Keep both
 * loaded for the life of the process.
 */
static void
pin_library(const void *sym)
{
    Dl_info info;

    if (dladdr(sym, &info) != 0 && info.dli_fname != NULL)
        (void) dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}


static int
al_load(ember_module_t *m, const ember_api_t *a)
{
    al_state_t *st;
    char *secret = NULL;
    size_t i;
    int err;

    api = a;
    pin_library((const void *) ldap_initialize);
    pin_library((const void *) ber_memfree);
    if ((st = calloc(1, sizeof(*st))) == NULL)
        return EMBER_ENOMEM;
    st->m = m;
    st->conf = api->module_conf(m);
    api->module_set_data(m, st);
    if ((err = conf_check(m, st->conf)) < 0)
        return err;
    if (st->conf->bind_dn[0] != '\0' &&
        (secret = read_secret(m, st->conf->bind_password_file)) == NULL)
        return EMBER_EINVAL;
    err = al_pool_start(st, secret, &st->pool);
    if (secret != NULL) {
        explicit_bzero(secret, strlen(secret));
        free(secret);
    }
    if (err < 0)
        return err;
    for (i = 0; i < sizeof(register_events) / sizeof(register_events[0]);
         i++)
        if ((err = api->hook(m, register_events[i], al_on_register, 100,
                             NULL)) < 0)
            return err;
    if ((err = api->auth_provide(m, &al_provider)) < 0) {
        api->log(m, EMBER_LOG_ERROR, "cannot take over this host's "
                 "passwords: %s", api->strerror(err));
        return err;
    }
    api->log(m, EMBER_LOG_INFO, "passwords checked by %s (%s)",
             st->conf->uri, st->conf->user_dn[0] != '\0'
                                ? "bind as the user" : "search then bind");
    return 0;
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "auth_ldap",
    .version = "1.0",
    .description = "Passwords checked by an LDAP directory",
    .requires = (const char *const[]){ "hooks", "accounts", "threads",
                                       NULL },
    .conf_size = sizeof(al_conf_t),
    .options = al_options,
    .load = al_load,
    .unload = al_unload,
};
