/* storage_pgsql_pool.c -- the workers: one connection each, group commit,
 * a request completes after its COMMIT.  Requests for one user of a host
 * always go to the same worker, so they keep their order; different users
 * are written in parallel. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage_pgsql.h"

#define PG_WORKERS_MAX 64
/* Between two attempts to reach a server that went away. */
#define PG_RETRY_PAUSE_MS 200

typedef struct pg_item_s {
    struct pg_item_s *next;
    ember_store_req_t *req;
    int status;
    json_t *result;
    char *msg; /* logged on the core thread: api->log is not thread-safe */
} pg_item_t;

typedef struct pg_list_s {
    pg_item_t *head;
    pg_item_t **tail;
} pg_list_t;

typedef struct pg_worker_s {
    pthread_t thread;
    pg_conn_t *conn;
    pg_list_t queue;
    pthread_cond_t wake;
    int busy;
    int started;
    /* When the connection was found broken (0: it works), for the bound
     * on how long a request waits for it. */
    int64_t down_since;
} pg_worker_t;

/*
 * One instance (the module is GLOBAL).  Static rather than allocated, as
 * in storage_sqlite: a completion posted with call_on_core may run after
 * unload, and the core may flush the driver after unload.
 */
static struct {
    ember_module_t *m;
    pg_worker_t w[PG_WORKERS_MAX];
    int n;
    int retry_ms;
    pthread_mutex_t lock;
    pthread_cond_t idle;   /* a worker went idle */
    pg_list_t done;
    int accepting;
    int running;           /* workers still in their loop */
    int stopping;
    int posted;
} pg = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .idle = PTHREAD_COND_INITIALIZER,
};


static void
pg_list_init(pg_list_t *l)
{
    l->head = NULL;
    l->tail = &l->head;
}


static void
pg_list_splice(pg_list_t *to, pg_list_t *from)
{
    if (from->head == NULL)
        return;
    *to->tail = from->head;
    to->tail = from->tail;
    pg_list_init(from);
}


static int64_t
pg_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static void
pg_item_reset(pg_item_t *it)
{
    json_decref(it->result);
    it->result = NULL;
    free(it->msg);
    it->msg = NULL;
    it->status = 0;
}


static void
pg_fail_all(pg_item_t *batch, const char *why)
{
    pg_item_t *it;

    for (it = batch; it != NULL; it = it->next) {
        pg_item_reset(it);
        it->status = EMBER_EIO;
        if (asprintf(&it->msg, "PostgreSQL unreachable, request failed: %s",
                     why) < 0)
            it->msg = NULL;
    }
}


/* One request in a transaction of its own. */
static void
pg_run_alone(pg_conn_t *c, pg_item_t *it)
{
    if ((it->status = pg_begin(c, &it->msg)) < 0)
        return;
    it->status = pg_run(c, it->req, &it->result, &it->msg);
    if (it->status != EMBER_EIO && (it->status = pg_commit(c, &it->msg)) == 0)
        return;
    pg_rollback(c);
    json_decref(it->result);
    it->result = NULL;
    it->status = EMBER_EIO;
}


/*
 * Group commit: the batch in one transaction.  When a request fails,
 * nothing of the batch stays written and each request runs again alone,
 * so that only the bad one reports an error.  Returns -1 when the
 * connection broke on the way (then the outcome of the batch is unknown
 * to nobody but the server: the caller runs it again).
 */
static int
pg_run_batch(pg_conn_t *c, pg_item_t *batch)
{
    pg_item_t *it;
    char *msg = NULL;
    int failed = 0;

    if (pg_begin(c, &msg) < 0) {
        failed = 1;
    } else {
        for (it = batch; it != NULL && !failed; it = it->next) {
            it->status = pg_run(c, it->req, &it->result, &it->msg);
            failed = it->status == EMBER_EIO;
        }
        if (!failed && pg_commit(c, &msg) < 0)
            failed = 1;
    }
    free(msg);
    if (!failed)
        return 0;
    if (!pg_conn_ok(c))
        return -1;
    pg_rollback(c);
    for (it = batch; it != NULL; it = it->next) {
        pg_item_reset(it);
        pg_run_alone(c, it);
    }
    return pg_conn_ok(c) ? 0 : -1;
}


/*
 * Run the batch until it went through on a working connection, or the
 * connection stayed down longer than the bound: then every request of it
 * fails with EMBER_EIO (and a message).  A batch cut by a lost connection
 * is run again whole: its transaction rolled back, unless the COMMIT
 * itself got through and only its answer was lost (then its items are
 * written twice rather than lost).
 */
static void
pg_work(pg_worker_t *w, pg_item_t *batch)
{
    char *msg = NULL;
    pg_item_t *it;

    for (;;) {
        if (pg_conn_ok(w->conn) && pg_run_batch(w->conn, batch) == 0) {
            w->down_since = 0;
            return;
        }
        if (w->down_since == 0)
            w->down_since = pg_mono_ms();
        for (it = batch; it != NULL; it = it->next)
            pg_item_reset(it);
        free(msg);
        msg = NULL;
        if (pg_conn_reset(w->conn, &msg) == 0)
            continue;
        if (pg_mono_ms() - w->down_since >= pg.retry_ms) {
            pg_fail_all(batch, msg != NULL ? msg : "connection lost");
            free(msg);
            return;
        }
        nanosleep(&(struct timespec){ 0, PG_RETRY_PAUSE_MS * 1000000L },
                  NULL);
    }
}


/* On the core thread: finish what the workers committed. */
static void
pg_deliver(void *ud)
{
    pg_item_t *it, *next;

    (void) ud;
    pthread_mutex_lock(&pg.lock);
    it = pg.done.head;
    pg_list_init(&pg.done);
    pg.posted = 0;
    pthread_mutex_unlock(&pg.lock);
    for (; it != NULL; it = next) {
        next = it->next;
        if (it->msg != NULL)
            api->log(pg.m, EMBER_LOG_ERROR, "%s", it->msg);
        api->store_done(it->req, it->status, it->result);
        json_decref(it->result);
        free(it->msg);
        free(it);
    }
}


/* With the lock held: have pg_deliver run on the core thread soon.  0 when
 * it is posted (or there is nothing to post). */
static int
pg_post_locked(void)
{
    int err;

    if (pg.done.head == NULL || pg.posted)
        return 0;
    pg.posted = 1;
    pthread_mutex_unlock(&pg.lock);
    err = api->call_on_core(pg.m, pg_deliver, NULL);
    pthread_mutex_lock(&pg.lock);
    if (err < 0)
        pg.posted = 0;
    return err;
}


static void
pg_wait_ms(pthread_cond_t *cv, int ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long) ms * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(cv, &pg.lock, &ts);
}


static void *
pg_thread(void *arg)
{
    pg_worker_t *w = arg;
    pg_list_t batch;

    pthread_mutex_lock(&pg.lock);
    for (;;) {
        if (pg_post_locked() < 0 && w->queue.head == NULL) {
            /* Retried shortly; unload delivers whatever is left. */
            if (pg.stopping)
                break;
            pg_wait_ms(&w->wake, 10);
            continue;
        }
        if (w->queue.head == NULL) {
            if (pg.stopping)
                break;
            pthread_cond_wait(&w->wake, &pg.lock);
            continue;
        }
        batch = w->queue;
        pg_list_init(&w->queue);
        w->busy = 1;
        pthread_mutex_unlock(&pg.lock);

        pg_work(w, batch.head);

        pthread_mutex_lock(&pg.lock);
        pg_list_splice(&pg.done, &batch);
        w->busy = 0;
        pthread_cond_broadcast(&pg.idle);
    }
    pg.running--;
    pthread_cond_broadcast(&pg.idle);
    pthread_mutex_unlock(&pg.lock);
    return NULL;
}


static uint64_t
pg_hash_str(uint64_t h, const char *s)
{
    /* FNV-1a, the NUL included as a separator. */
    do {
        h ^= (unsigned char) *s;
        h *= 0x100000001b3ULL;
    } while (*s++ != '\0');
    return h;
}


/* The worker of req's (host, user): a purge and every store of the user
 * see that user's requests in the order they came. */
static pg_worker_t *
pg_worker_of(const ember_store_req_t *req)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    h = pg_hash_str(h, req->host != NULL ? req->host : "");
    h = pg_hash_str(h, req->user != NULL ? req->user : "");
    return &pg.w[h % (uint64_t) pg.n];
}


static int
pg_submit(void *ud, ember_store_req_t *req)
{
    pg_worker_t *w;
    pg_item_t *it;

    (void) ud;
    if ((it = calloc(1, sizeof(*it))) == NULL)
        return EMBER_ENOMEM;
    it->req = req;
    pthread_mutex_lock(&pg.lock);
    if (!pg.accepting) {
        pthread_mutex_unlock(&pg.lock);
        free(it);
        return EMBER_ESTATE;
    }
    w = pg_worker_of(req);
    *w->queue.tail = it;
    w->queue.tail = &it->next;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&pg.lock);
    return 0;
}


static int
pg_all_idle_locked(void)
{
    int i;

    for (i = 0; i < pg.n; i++)
        if (pg.w[i].started
            && (pg.w[i].queue.head != NULL || pg.w[i].busy))
            return 0;
    return 1;
}


static void
pg_flush(void *ud)
{
    (void) ud;
    pthread_mutex_lock(&pg.lock);
    while (pg.running > 0 && !pg_all_idle_locked())
        pthread_cond_wait(&pg.idle, &pg.lock);
    pthread_mutex_unlock(&pg.lock);
}


static const ember_storage_driver_t pg_driver = {
    .size = sizeof(ember_storage_driver_t),
    .name = "pgsql",
    .submit = pg_submit,
    .flush = pg_flush,
};


static void
pg_stop_workers(void)
{
    int i;

    pthread_mutex_lock(&pg.lock);
    pg.accepting = 0;
    pg.stopping = 1;
    for (i = 0; i < pg.n; i++)
        pthread_cond_signal(&pg.w[i].wake);
    pthread_mutex_unlock(&pg.lock);
    for (i = 0; i < pg.n; i++)
        if (pg.w[i].started) {
            pthread_join(pg.w[i].thread, NULL);
            pg.w[i].started = 0;
        }
}


static void
pg_close_all(void)
{
    int i;

    for (i = 0; i < pg.n; i++) {
        pg_conn_close(pg.w[i].conn);
        pg.w[i].conn = NULL;
        pthread_cond_destroy(&pg.w[i].wake);
    }
    pg.n = 0;
}


int
pg_pool_running(void)
{
    return pg.n > 0;
}


int
pg_pool_start(ember_module_t *m, pg_conn_t **conns, int n, int retry_ms)
{
    sigset_t all, old;
    int i, rc = 0;

    if (n > PG_WORKERS_MAX)
        n = PG_WORKERS_MAX;
    pg.m = m;
    pg.n = n;
    pg.retry_ms = retry_ms;
    pg_list_init(&pg.done);
    pg.stopping = pg.posted = 0;
    pg.accepting = 1;
    pg.running = 0;
    for (i = 0; i < n; i++) {
        memset(&pg.w[i], 0, sizeof(pg.w[i]));
        pg.w[i].conn = conns[i];
        pg_list_init(&pg.w[i].queue);
        pthread_cond_init(&pg.w[i].wake, NULL);
    }
    /* Signals belong to the core's loop, never to the workers. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (i = 0; i < n && rc == 0; i++) {
        pthread_mutex_lock(&pg.lock);
        if (pthread_create(&pg.w[i].thread, NULL, pg_thread, &pg.w[i]) == 0) {
            pg.w[i].started = 1;
            pg.running++;
        } else {
            rc = EMBER_ENOMEM;
        }
        pthread_mutex_unlock(&pg.lock);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0 && (rc = api->storage_provide(m, &pg_driver)) < 0)
        api->log(m, EMBER_LOG_ERROR, "cannot become the storage: %s",
                 api->strerror(rc));
    if (rc < 0) {
        pg_stop_workers();
        pg_close_all();
    }
    return rc;
}


void
pg_pool_stop(void)
{
    if (pg.n == 0)
        return;
    /* The workers drain their queues before they leave. */
    pg_stop_workers();
    pg_close_all();
    /* On the core thread already: finish what was never delivered. */
    pg_deliver(NULL);
}
