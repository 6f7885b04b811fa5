/* auth_ldap_pool.c -- the directory threads: each owns one LDAP connection
 * and runs one job at a time with libldap's synchronous calls, bounded by
 * the timeout, so a directory that hangs holds a thread, never the loop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <time.h>
#include <ldap.h>

#include "auth_ldap.h"

struct al_pool_s {
    al_state_t *st;             /* NULL once stopped */
    ember_module_t *m;
    const al_conf_t *conf;
    char *bind_password;
    int use_ca;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_cond_t tick;        /* the watchdog's, or stopping */
    al_job_t *head, **tail;
    int pending;
    int stopping;
    int posted;                 /* answers on their way to the core */
    int nthreads;
    int started;                /* threads that registered their conn */
    pthread_t *threads;
    struct al_conn_s **conns;   /* each thread's, for the watchdog */
    pthread_t watchdog;
    int watching;
    int watch_stop;             /* set once the threads are joined */
};

/* One thread's connection.  fd and deadline are shared with the
 * watchdog, under the pool's lock. */
typedef struct al_conn_s {
    LDAP *ld;
    al_pool_t *pool;
    int fd;                     /* during a TLS handshake, else -1 */
    time_t deadline;            /* of the connection being made, or 0 */
    char why[256];              /* the last failure, for the log */
} al_conn_t;


static void
wipe_free(char *s)
{
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}


void
al_job_free(al_job_t *job)
{
    if (job == NULL)
        return;
    free(job->user);
    wipe_free(job->password);
    free(job->why);
    free(job);
}


al_state_t *
al_pool_state(al_pool_t *p)
{
    return p->st;
}


/* Errors that say nothing of the password: the directory is away. */
static int
transient(int rc)
{
    return rc == LDAP_SERVER_DOWN || rc == LDAP_TIMEOUT ||
           rc == LDAP_CONNECT_ERROR || rc == LDAP_BUSY ||
           rc == LDAP_UNAVAILABLE || rc == LDAP_TIMELIMIT_EXCEEDED ||
           rc == LDAP_LOCAL_ERROR || rc == LDAP_NO_MEMORY ||
           rc == LDAP_OTHER;
}


static void
conn_watch(al_conn_t *c, time_t deadline)
{
    pthread_mutex_lock(&c->pool->lock);
    c->deadline = deadline;
    if (deadline == 0)
        c->fd = -1;
    pthread_mutex_unlock(&c->pool->lock);
}


static void
conn_drop(al_conn_t *c)
{
    /* The watchdog must never shut down a descriptor number reused. */
    conn_watch(c, 0);
    if (c->ld != NULL)
        ldap_unbind_ext_s(c->ld, NULL, NULL);
    c->ld = NULL;
}


/* A failure of the directory: forget the connection (its state after a
 * timeout is unknown) and say why. */
static int
conn_fail(al_conn_t *c, const char *what, int rc)
{
    snprintf(c->why, sizeof(c->why), "%s: %s", what, ldap_err2string(rc));
    conn_drop(c);
    return rc == LDAP_TIMEOUT || rc == LDAP_TIMELIMIT_EXCEEDED
           ? EMBER_ETIMEDOUT : EMBER_EIO;
}


/*
 * Just before a TLS handshake (ldaps, StartTLS): the socket, for the
 * watchdog.  libldap's timeouts do not cover the handshake: a server that
 * accepted the connection and then hangs would hold the thread in it for
 * ever (and the module's unload with it).
 */
static int
tls_connecting(LDAP *ld, void *session, void *ctx, void *arg)
{
    al_conn_t *c = arg;
    int fd = -1;

    if (ldap_get_option(ld, LDAP_OPT_DESC, &fd) == LDAP_OPT_SUCCESS) {
        pthread_mutex_lock(&c->pool->lock);
        c->fd = fd;
        pthread_mutex_unlock(&c->pool->lock);
    }
    return 0;
}


/* Once a second: a connection still being made past its deadline has its
 * socket shut down, which ends the handshake with an error. */
static void *
watchdog(void *arg)
{
    al_pool_t *p = arg;
    struct timespec ts;
    int i;

    pthread_mutex_lock(&p->lock);
    while (!p->watch_stop) {
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&p->tick, &p->lock, &ts);
        for (i = 0; i < p->nthreads; i++) {
            al_conn_t *c = p->conns[i];

            if (c != NULL && c->deadline != 0 && time(NULL) > c->deadline
                && c->fd >= 0) {
                shutdown(c->fd, SHUT_RDWR);
                c->deadline = 0;
            }
        }
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}


static int
conn_open(al_pool_t *p, al_conn_t *c)
{
    struct timeval tv = { p->conf->timeout, 0 };
    int v3 = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND, zero = 0, rc;

    if (c->ld != NULL)
        return 0;
    if ((rc = ldap_initialize(&c->ld, p->conf->uri)) != LDAP_SUCCESS) {
        c->ld = NULL;
        return conn_fail(c, "ldap_initialize", rc);
    }
    ldap_set_option(c->ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
    ldap_set_option(c->ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    ldap_set_option(c->ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
    ldap_set_option(c->ld, LDAP_OPT_TIMEOUT, &tv);
    ldap_set_option(c->ld, LDAP_OPT_X_TLS_CONNECT_CB,
                    (void *) tls_connecting);
    ldap_set_option(c->ld, LDAP_OPT_X_TLS_CONNECT_ARG, c);
    ldap_set_option(c->ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
    if (p->use_ca)
        ldap_set_option(c->ld, LDAP_OPT_X_TLS_CACERTFILE, p->conf->ca_file);
    /* The handle's own TLS context, built from the options above. */
    if ((rc = ldap_set_option(c->ld, LDAP_OPT_X_TLS_NEWCTX, &zero))
        != LDAP_OPT_SUCCESS)
        return conn_fail(c, "TLS context", rc);
    /* Connect now (with ldaps, the handshake too), under the watchdog. */
    conn_watch(c, time(NULL) + p->conf->timeout);
    if ((rc = ldap_connect(c->ld)) != LDAP_SUCCESS)
        return conn_fail(c, "connect", rc);
    if (p->conf->starttls &&
        (rc = ldap_start_tls_s(c->ld, NULL, NULL)) != LDAP_SUCCESS)
        return conn_fail(c, "StartTLS", rc);
    conn_watch(c, 0);
    return 0;
}


static int
simple_bind(LDAP *ld, const char *dn, const char *password)
{
    struct berval cred;

    cred.bv_val = (char *) (password != NULL ? password : "");
    cred.bv_len = strlen(cred.bv_val);
    return ldap_sasl_bind_s(ld, dn != NULL ? dn : "", LDAP_SASL_SIMPLE,
                            &cred, NULL, NULL, NULL);
}


/* Become the searching identity again (bind-dn, or anonymous). */
static int
service_bind(al_pool_t *p, al_conn_t *c)
{
    const char *dn = p->conf->bind_dn;
    int rc, err;

    if ((err = conn_open(p, c)) < 0)
        return err;
    rc = simple_bind(c->ld, dn[0] != '\0' ? dn : NULL,
                     dn[0] != '\0' ? p->bind_password : NULL);
    if (rc == LDAP_SUCCESS)
        return 0;
    if (transient(rc))
        return conn_fail(c, "bind as bind-dn", rc);
    snprintf(c->why, sizeof(c->why), "bind as %s refused: %s",
             dn[0] != '\0' ? dn : "anonymous", ldap_err2string(rc));
    return EMBER_EIO;
}


/* tmpl with every %u replaced by user escaped for a filter (RFC 4515). */
static char *
filter_for(const char *tmpl, const char *user)
{
    struct berval in, esc = { 0, NULL };
    const char *s, *u;
    size_t n = 0, count = 0;
    char *out, *o;

    in.bv_val = (char *) user;
    in.bv_len = strlen(user);
    if (ldap_bv2escaped_filter_value(&in, &esc) != 0)
        return NULL;
    for (s = tmpl; (u = strstr(s, "%u")) != NULL; s = u + 2)
        count++;
    n = strlen(tmpl) + count * esc.bv_len + 1;
    if ((out = malloc(n)) != NULL) {
        for (s = tmpl, o = out; (u = strstr(s, "%u")) != NULL; s = u + 2) {
            memcpy(o, s, (size_t) (u - s));
            o += u - s;
            memcpy(o, esc.bv_val, esc.bv_len);
            o += esc.bv_len;
        }
        strcpy(o, s);
    }
    ber_memfree(esc.bv_val);
    return out;
}


/* user-dn "ATTR=%u,REST": the first RDN built and escaped by libldap
 * (RFC 4514), then REST. */
static char *
dn_for(const char *tmpl, const char *user)
{
    const char *eq = strchr(tmpl, '='), *rest = eq + 3;
    LDAPAVA ava, *rdn[2] = { &ava, NULL };
    char *first = NULL, *out;
    size_t n;

    memset(&ava, 0, sizeof(ava));
    ava.la_attr.bv_val = (char *) tmpl;
    ava.la_attr.bv_len = (ber_len_t) (eq - tmpl);
    ava.la_value.bv_val = (char *) user;
    ava.la_value.bv_len = strlen(user);
    ava.la_flags = LDAP_AVA_STRING;
    if (ldap_rdn2str(rdn, &first, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS)
        return NULL;
    n = strlen(first) + strlen(rest) + 1;
    if ((out = malloc(n)) != NULL)
        snprintf(out, n, "%s%s", first, rest);
    ldap_memfree(first);
    return out;
}


/*
 * The DN of user: from user-dn, or the one entry the filter finds under
 * base.  EMBER_ENOENT when there is none (or, ambiguous, more than one).
 * Search mode leaves the connection bound as the service.
 */
static int
find_dn(al_pool_t *p, al_conn_t *c, const char *user, int must_exist,
        char **dn)
{
    const al_conf_t *cf = p->conf;
    char *attrs[] = { LDAP_NO_ATTRS, NULL }, *filter, *base;
    struct timeval tv = { cf->timeout, 0 };
    LDAPMessage *res = NULL;
    int rc, err, n, scope;

    *dn = NULL;
    if (cf->user_dn[0] != '\0' && !must_exist)
        return (*dn = dn_for(cf->user_dn, user)) != NULL ? 0 : EMBER_ENOMEM;
    if ((err = service_bind(p, c)) < 0)
        return err;
    if (cf->user_dn[0] != '\0') {
        /* The entry itself, read as the service. */
        if ((base = dn_for(cf->user_dn, user)) == NULL)
            return EMBER_ENOMEM;
        filter = strdup("(objectClass=*)");
        scope = LDAP_SCOPE_BASE;
    } else {
        base = strdup(cf->base);
        filter = filter_for(cf->filter, user);
        scope = strcmp(cf->scope, "one") == 0 ? LDAP_SCOPE_ONELEVEL
                                              : LDAP_SCOPE_SUBTREE;
    }
    if (base == NULL || filter == NULL) {
        free(base);
        free(filter);
        return EMBER_ENOMEM;
    }
    rc = ldap_search_ext_s(c->ld, base, scope, filter, attrs, 0, NULL, NULL,
                           &tv, 2, &res);
    free(filter);
    if (rc == LDAP_NO_SUCH_OBJECT || rc == LDAP_SIZELIMIT_EXCEEDED) {
        if (rc == LDAP_SIZELIMIT_EXCEEDED)
            snprintf(c->why, sizeof(c->why), "%s matches several entries",
                     user);
        ldap_msgfree(res);
        free(base);
        return EMBER_ENOENT;
    }
    if (rc != LDAP_SUCCESS) {
        ldap_msgfree(res);
        free(base);
        if (transient(rc))
            return conn_fail(c, "search", rc);
        snprintf(c->why, sizeof(c->why), "search: %s", ldap_err2string(rc));
        return EMBER_EIO;
    }
    n = ldap_count_entries(c->ld, res);
    if (n == 1) {
        char *d = ldap_get_dn(c->ld, ldap_first_entry(c->ld, res));

        if (d != NULL) {
            *dn = strdup(d);
            ldap_memfree(d);
        }
    } else if (n > 1) {
        snprintf(c->why, sizeof(c->why), "%s matches several entries", user);
    }
    ldap_msgfree(res);
    free(base);
    if (n == 1)
        return *dn != NULL ? 0 : EMBER_ENOMEM;
    return EMBER_ENOENT;
}


/* -1 when the directory could not say. */
static int
in_admin_group(al_pool_t *p, al_conn_t *c, const char *dn)
{
    struct berval v;
    int rc;

    if (p->conf->bind_dn[0] != '\0' && service_bind(p, c) < 0)
        return -1;
    v.bv_val = (char *) dn;
    v.bv_len = strlen(dn);
    rc = ldap_compare_ext_s(c->ld, p->conf->admin_group,
                            p->conf->admin_attribute, &v, NULL, NULL);
    if (rc == LDAP_COMPARE_TRUE)
        return 1;
    if (rc == LDAP_COMPARE_FALSE || rc == LDAP_NO_SUCH_OBJECT ||
        rc == LDAP_NO_SUCH_ATTRIBUTE)
        return 0;
    if (transient(rc))
        conn_fail(c, "admin group", rc);
    else
        snprintf(c->why, sizeof(c->why), "admin group: %s",
                 ldap_err2string(rc));
    return -1;
}


static int
run_check(al_pool_t *p, al_conn_t *c, al_job_t *job)
{
    char *dn = NULL;
    int rc, err;

    if ((err = conn_open(p, c)) < 0)
        return err;
    if ((err = find_dn(p, c, job->user, 0, &dn)) < 0)
        return err == EMBER_ENOENT ? EMBER_EAUTH : err;
    rc = simple_bind(c->ld, dn, job->password);
    wipe_free(job->password);
    job->password = NULL;
    if (rc == LDAP_SUCCESS) {
        if (p->conf->admin_group[0] != '\0')
            job->admin = in_admin_group(p, c, dn);
        free(dn);
        return 0;
    }
    free(dn);
    if (transient(rc))
        return conn_fail(c, "bind", rc);
    /* Wrong password, no such entry, a DN the directory will not take:
     * all one answer. */
    return EMBER_EAUTH;
}


static void
run_job(al_pool_t *p, al_conn_t *c, al_job_t *job)
{
    char *dn = NULL;
    int err;

    c->why[0] = '\0';
    switch (job->op) {
    case AL_CHECK:
        job->status = run_check(p, c, job);
        break;
    case AL_EXISTS:
        if ((err = conn_open(p, c)) == 0)
            err = find_dn(p, c, job->user, 1, &dn);
        job->status = err;
        break;
    case AL_ADMIN:
        if ((err = conn_open(p, c)) == 0 &&
            (err = find_dn(p, c, job->user, 1, &dn)) == 0)
            job->admin = in_admin_group(p, c, dn);
        else if (err == EMBER_ENOENT)
            job->admin = 0;
        job->status = 0;
        break;
    }
    free(dn);
    if (c->why[0] != '\0')
        job->why = strdup(c->why);
}


/* Core thread. */
static void
job_arrived(void *ud)
{
    al_job_t *job = ud;
    al_pool_t *p = job->pool;
    int last;

    pthread_mutex_lock(&p->lock);
    last = --p->posted == 0 && p->st == NULL;
    pthread_mutex_unlock(&p->lock);
    if (p->st != NULL)
        al_job_answered(p->st, job);
    al_job_free(job);
    if (last) {
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->wake);
        pthread_cond_destroy(&p->tick);
        free(p);
    }
}


static void *
worker(void *arg)
{
    al_pool_t *p = arg;
    al_conn_t c;
    al_job_t *job;
    int mine;

    memset(&c, 0, sizeof(c));
    c.pool = p;
    c.fd = -1;
    pthread_mutex_lock(&p->lock);
    mine = p->started++;
    p->conns[mine] = &c;
    for (;;) {
        while (!p->stopping && p->head == NULL)
            pthread_cond_wait(&p->wake, &p->lock);
        if (p->stopping) {
            p->conns[mine] = NULL;
            break;
        }
        job = p->head;
        if ((p->head = job->next) == NULL)
            p->tail = &p->head;
        p->pending--;
        pthread_mutex_unlock(&p->lock);
        job->next = NULL;
        run_job(p, &c, job);
        pthread_mutex_lock(&p->lock);
        p->posted++;
        pthread_mutex_unlock(&p->lock);
        if (api->call_on_core(p->m, job_arrived, job) < 0) {
            pthread_mutex_lock(&p->lock);
            p->posted--;
            pthread_mutex_unlock(&p->lock);
            al_job_free(job);
        }
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    conn_drop(&c);
    return NULL;
}


int
al_pool_start(al_state_t *st, const char *bind_password, al_pool_t **out)
{
    al_pool_t *p;
    int i;

    if ((p = calloc(1, sizeof(*p))) == NULL)
        return EMBER_ENOMEM;
    p->st = st;
    p->m = st->m;
    p->conf = st->conf;
    p->tail = &p->head;
    p->use_ca = p->conf->ca_file != NULL &&
                access(p->conf->ca_file, R_OK) == 0;
    if ((bind_password != NULL &&
         (p->bind_password = strdup(bind_password)) == NULL) ||
        (p->threads = calloc((size_t) p->conf->connections,
                             sizeof(pthread_t))) == NULL ||
        (p->conns = calloc((size_t) p->conf->connections,
                           sizeof(*p->conns))) == NULL) {
        free(p->threads);
        free(p->bind_password);
        free(p);
        return EMBER_ENOMEM;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->tick, NULL);
    *out = p;
    if (pthread_create(&p->watchdog, NULL, watchdog, p) != 0)
        return EMBER_EIO;
    p->watching = 1;
    for (i = 0; i < p->conf->connections; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0)
            return EMBER_EIO;   /* al_pool_stop joins those started */
        p->nthreads++;
    }
    return 0;
}


int
al_pool_submit(al_pool_t *p, al_job_t *job)
{
    job->pool = p;
    job->next = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->stopping || p->pending >= p->conf->max_pending) {
        pthread_mutex_unlock(&p->lock);
        al_job_free(job);
        return EMBER_EBUSY;
    }
    *p->tail = job;
    p->tail = &job->next;
    p->pending++;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    return 0;
}


void
al_pool_stop(al_pool_t *p)
{
    al_job_t *job;
    int i, last;

    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    /* The watchdog goes on ending stuck handshakes until every thread is
     * back. */
    for (i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_lock(&p->lock);
    p->watch_stop = 1;
    pthread_cond_broadcast(&p->tick);
    pthread_mutex_unlock(&p->lock);
    if (p->watching)
        pthread_join(p->watchdog, NULL);
    free(p->threads);
    free(p->conns);
    wipe_free(p->bind_password);
    /* Never run: the core ends their calls when the provider goes. */
    while ((job = p->head) != NULL) {
        p->head = job->next;
        al_job_free(job);
    }
    pthread_mutex_lock(&p->lock);
    p->st = NULL;
    last = p->posted == 0;
    pthread_mutex_unlock(&p->lock);
    if (last) {
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->wake);
        pthread_cond_destroy(&p->tick);
        free(p);
    }
}
