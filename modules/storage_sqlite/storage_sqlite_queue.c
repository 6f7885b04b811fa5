/* storage_sqlite_queue.c -- the request queue and the storage thread:
 * group commit, a request completes after its COMMIT. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage_sqlite.h"

/* A queued request, then its outcome on the way back to the core. */
typedef struct sq_item_s {
    struct sq_item_s *next;
    ember_store_req_t *req;
    int status;
    json_t *result;
    char *msg; /* logged on the core thread: api->log is not thread-safe */
    char *note; /* a warning to log there too */
    char *plan; /* and a debug line */
} sq_item_t;

typedef struct sq_list_s {
    sq_item_t *head;
    sq_item_t **tail;
} sq_list_t;

/*
 * One instance (the module is GLOBAL).  Static rather than allocated: a
 * completion posted with call_on_core may run after unload, and the core
 * may flush the driver after unload; both then find a stopped, empty state
 * instead of freed memory.
 */
static struct {
    ember_module_t *m;
    sq_db_t *db;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;   /* work queued, or stopping */
    pthread_cond_t idle;   /* queue empty and nothing in flight */
    sq_list_t queue;
    sq_list_t done;
    int accepting;
    int running;
    int stopping;
    int busy;
    int posted;
} sq = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .idle = PTHREAD_COND_INITIALIZER,
};

static void
sq_list_init(sq_list_t *l)
{
    l->head = NULL;
    l->tail = &l->head;
}


static void
sq_list_splice(sq_list_t *to, sq_list_t *from)
{
    if (from->head == NULL)
        return;
    *to->tail = from->head;
    to->tail = from->tail;
    sq_list_init(from);
}


static void
sq_item_reset(sq_item_t *it)
{
    json_decref(it->result);
    it->result = NULL;
    free(it->msg);
    it->msg = NULL;
    it->status = 0;
}


/* Run a request; what the connection has to say about it goes with it. */
static int
sq_run(sq_item_t *it)
{
    int rc = sq_db_run(sq.db, it->req, &it->result, &it->msg);

    if (sq.db->note != NULL && it->note == NULL) {
        it->note = sq.db->note;
        sq.db->note = NULL;
    }
    if (sq.db->plan != NULL && it->plan == NULL) {
        it->plan = sq.db->plan;
        sq.db->plan = NULL;
    }
    return rc;
}


/* One request in a transaction of its own. */
static void
sq_run_alone(sq_item_t *it)
{
    if ((it->status = sq_db_begin(sq.db, &it->msg)) < 0)
        return;
    it->status = sq_run(it);
    if (it->status != EMBER_EIO
        && (it->status = sq_db_commit(sq.db, &it->msg)) == 0) {
        return;
    }
    /* Whatever the request wrote is gone with the rollback. */
    sq_db_rollback(sq.db);
    json_decref(it->result);
    it->result = NULL;
    it->status = EMBER_EIO;
}


/*
 * Group commit: the whole batch in one transaction, so one fsync (or one
 * WAL append) pays for every request.  When anything fails, nothing of the
 * batch stays written, and each request is run again alone, so that only
 * the bad one reports an error.
 */
static void
sq_run_batch(sq_item_t *batch)
{
    sq_item_t *it;
    char *msg = NULL;
    int failed = 0;

    if (sq_db_begin(sq.db, &msg) < 0) {
        failed = 1;
    } else {
        for (it = batch; it != NULL && !failed; it = it->next) {
            it->status = sq_run(it);
            failed = it->status == EMBER_EIO;
        }
        if (!failed && sq_db_commit(sq.db, &msg) < 0)
            failed = 1;
    }
    free(msg);
    if (!failed)
        return;
    sq_db_rollback(sq.db);
    for (it = batch; it != NULL; it = it->next) {
        sq_item_reset(it);
        sq_run_alone(it);
    }
}


/* On the core thread: finish what the storage thread committed. */
static void
sq_deliver(void *ud)
{
    sq_item_t *it, *next;

    (void) ud;
    pthread_mutex_lock(&sq.lock);
    it = sq.done.head;
    sq_list_init(&sq.done);
    sq.posted = 0;
    pthread_mutex_unlock(&sq.lock);
    for (; it != NULL; it = next) {
        next = it->next;
        if (it->msg != NULL)
            api->log(sq.m, EMBER_LOG_ERROR, "%s", it->msg);
        if (it->note != NULL)
            api->log(sq.m, EMBER_LOG_WARN, "%s", it->note);
        if (it->plan != NULL)
            api->log(sq.m, EMBER_LOG_DEBUG, "%s", it->plan);
        api->store_done(it->req, it->status, it->result);
        json_decref(it->result);
        free(it->msg);
        free(it->note);
        free(it->plan);
        free(it);
    }
}


static void
sq_wait_ms(pthread_cond_t *c, int ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long) ms * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(c, &sq.lock, &ts);
}


static void *
sq_thread(void *arg)
{
    sq_list_t batch;
    int err;

    (void) arg;
    pthread_mutex_lock(&sq.lock);
    for (;;) {
        if (sq.done.head != NULL && !sq.posted) {
            sq.posted = 1;
            pthread_mutex_unlock(&sq.lock);
            err = api->call_on_core(sq.m, sq_deliver, NULL);
            pthread_mutex_lock(&sq.lock);
            if (err < 0) {
                /* Retried shortly; unload delivers whatever is left. */
                sq.posted = 0;
                if (sq.queue.head == NULL) {
                    if (sq.stopping)
                        break;
                    sq_wait_ms(&sq.wake, 10);
                    continue;
                }
            }
        }
        if (sq.queue.head == NULL) {
            if (sq.stopping)
                break;
            pthread_cond_wait(&sq.wake, &sq.lock);
            continue;
        }
        batch = sq.queue;
        sq_list_init(&sq.queue);
        sq.busy = 1;
        pthread_mutex_unlock(&sq.lock);

        sq_run_batch(batch.head);

        pthread_mutex_lock(&sq.lock);
        sq_list_splice(&sq.done, &batch);
        sq.busy = 0;
        if (sq.queue.head == NULL)
            pthread_cond_broadcast(&sq.idle);
    }
    sq.running = 0;
    pthread_cond_broadcast(&sq.idle);
    pthread_mutex_unlock(&sq.lock);
    return NULL;
}


static int
sq_submit(void *ud, ember_store_req_t *req)
{
    sq_item_t *it;

    (void) ud;
    if ((it = calloc(1, sizeof(*it))) == NULL)
        return EMBER_ENOMEM;
    it->req = req;
    pthread_mutex_lock(&sq.lock);
    if (!sq.accepting) {
        pthread_mutex_unlock(&sq.lock);
        free(it);
        return EMBER_ESTATE;
    }
    *sq.queue.tail = it;
    sq.queue.tail = &it->next;
    pthread_cond_signal(&sq.wake);
    pthread_mutex_unlock(&sq.lock);
    return 0;
}


static void
sq_flush(void *ud)
{
    (void) ud;
    pthread_mutex_lock(&sq.lock);
    while (sq.running && (sq.queue.head != NULL || sq.busy))
        pthread_cond_wait(&sq.idle, &sq.lock);
    pthread_mutex_unlock(&sq.lock);
}


static const ember_storage_driver_t sq_driver = {
    .size = sizeof(ember_storage_driver_t),
    .name = "sqlite",
    .submit = sq_submit,
    .flush = sq_flush,
};


static int
sq_start_thread(void)
{
    sigset_t all, old;
    int rc;

    /* Signals belong to the core's loop, never to the storage thread. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&sq.thread, NULL, sq_thread, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc == 0 ? 0 : EMBER_ENOMEM;
}


static void
sq_stop(void)
{
    pthread_mutex_lock(&sq.lock);
    sq.accepting = 0;
    sq.stopping = 1;
    pthread_cond_signal(&sq.wake);
    pthread_mutex_unlock(&sq.lock);
    pthread_join(sq.thread, NULL);
}


int
sq_queue_running(void)
{
    return sq.running || sq.db != NULL;
}


int
sq_queue_start(ember_module_t *m, sq_db_t *db)
{
    int rc;

    sq.db = db;
    sq.m = m;
    sq_list_init(&sq.queue);
    sq_list_init(&sq.done);
    sq.stopping = sq.busy = sq.posted = 0;
    sq.accepting = sq.running = 1;
    if ((rc = sq_start_thread()) < 0) {
        sq.accepting = sq.running = 0;
        goto fail;
    }
    if ((rc = api->storage_provide(m, &sq_driver)) < 0) {
        api->log(m, EMBER_LOG_ERROR, "cannot become the storage: %s",
                 api->strerror(rc));
        sq_stop();
        goto fail;
    }
    return 0;

fail:
    sq_db_close(sq.db);
    sq.db = NULL;
    return rc;
}


void
sq_queue_stop(void)
{
    if (sq.db == NULL)
        return;
    /* The thread drains the queue before it leaves. */
    sq_stop();
    sq_db_close(sq.db);
    sq.db = NULL;
    /* On the core thread already: finish what was never delivered. */
    sq_deliver(NULL);
}
