/* auth_ldap.h -- what the files of auth_ldap share.  The directory work
 * (al_pool_*) runs on the module's own threads, one LDAP connection each;
 * its answers come back to the core thread through api->call_on_core. */
#ifndef MOD_AUTH_LDAP_H
#define MOD_AUTH_LDAP_H

#include <pthread.h>
#include <time.h>
#include <ember/plugin.h>

extern const ember_api_t *api;

typedef struct al_conf_s {
    char *uri;
    int starttls;
    char *ca_file;          /* used when the file exists */
    char *user_dn;          /* "uid=%u,ou=people,dc=example,dc=org": bind */
    char *base;             /* search then bind */
    char *filter;
    char *scope;            /* "sub" or "one" */
    char *bind_dn;          /* who searches; "" anonymous */
    char *bind_password_file;
    char *admin_group;      /* DN of the group whose members are admins */
    char *admin_attribute;  /* the group's attribute naming member DNs */
    int timeout;            /* seconds, every directory operation */
    int connections;
    int max_pending;
    int admin_refresh;      /* seconds an admin answer is trusted */
} al_conf_t;

typedef enum {
    AL_CHECK = 1,   /* bind as the user; then the admin group */
    AL_EXISTS,
    AL_ADMIN        /* the admin group alone (a refresh) */
} al_op_t;

typedef struct al_pool_s al_pool_t;

typedef struct al_job_s {
    al_op_t op;
    ember_auth_call_t call;     /* 0 for AL_ADMIN */
    char *user;
    char *password;             /* AL_CHECK; wiped once used */
    int status;                 /* EMBER_E* for auth_done */
    int admin;                  /* -1 unknown, 0, 1 */
    char *why;                  /* what the directory said, for the log */
    al_pool_t *pool;
    struct al_job_s *next;
} al_job_t;

/* One admin answer, kept per instance. */
typedef struct al_admin_s {
    char *user;
    int admin;
    time_t checked;
    int refreshing;
    struct al_admin_s *next;
} al_admin_t;

typedef struct al_state_s {
    ember_module_t *m;
    const al_conf_t *conf;
    al_pool_t *pool;
    al_admin_t *admins;
} al_state_t;

/* Start conf->connections threads; bind_password may be NULL. */
int al_pool_start(al_state_t *st, const char *bind_password,
                  al_pool_t **out);
/* Queue a job (taken, even on error): EMBER_EBUSY past max-pending. */
int al_pool_submit(al_pool_t *p, al_job_t *job);
/* Stop the threads (each finishes its operation, at most the timeout)
 * and free what is queued; answers already on their way to the core
 * thread still arrive there, and free the pool after the last. */
void al_pool_stop(al_pool_t *p);

/* Core thread: an answer arrived (st NULL once the instance is gone). */
void al_job_answered(al_state_t *st, al_job_t *job);
void al_job_free(al_job_t *job);
al_state_t *al_pool_state(al_pool_t *p);

#endif
