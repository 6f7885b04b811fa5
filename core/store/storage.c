/* core/storage.c -- the store API front: copies, queues and completes. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "base/log.h"
#include "base/owner.h"
#include "store/storage.h"

/*
 * One handle per (opening module, host, name, kind).  The data behind it is
 * keyed by (host, name, kind) only, so handles of different modules on the
 * same host reach the same records; the handle exists so that a module's
 * handles and callbacks can be dropped when it goes.
 */
struct ember_store_s {
    struct ember_store_s *next;
    ember_module_t *m;
    char *host;
    char *name;
    ember_store_kind_t kind;
};

/*
 * A request owns copies of everything the caller passed: the caller's
 * strings and JSON may change or vanish as soon as the call returns, and a
 * request outlives its store when the module unloads meanwhile.
 */
typedef struct store_req_s {
    ember_store_req_t req; /* first: drivers hand this pointer back */
    struct store_req_s *prev;
    struct store_req_s *next;
    ember_module_t *m;
    ember_store_cb cb;     /* NULL once the module is gone */
    void *ud;
    ember_archive_query_t q;
    int startup;           /* counted in startup_reads */
} store_req_t;

static struct ember_store_s *stores;
static store_req_t *pending;
static size_t pending_count;
static ember_storage_driver_t driver;
static ember_module_t *driver_module;
static int have_driver;

/*
 * What the modules read while the server starts, and what those reads'
 * callbacks ask for in turn: the server says it is ready once none is
 * left, so "emberd ready" means every module has its state in memory.
 */
static int startup_open = 1;
static int startup_in_callback;
static size_t startup_reads;
static void (*startup_done)(void);


static char *
str_dup(const char *s)
{
    return s == NULL ? NULL : strdup(s);
}


static int64_t
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


static void
req_free(store_req_t *r)
{
    free((char *) r->req.host);
    free((char *) r->req.store);
    free((char *) r->req.user);
    free((char *) r->req.key);
    json_decref(r->req.value);
    free((char *) r->q.with);
    free((char *) r->q.after_id);
    free((char *) r->q.before_id);
    free((char *) r->q.id);
    free(r);
}


static void
req_unlink(store_req_t *r)
{
    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        pending = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    pending_count--;
}


/*
 * A new request for op on st (or on host alone when st is NULL).  A NULL
 * user names the host itself and is stored as "".
 */
static store_req_t *
req_new(ember_store_t *st, const char *host, ember_store_op_t op,
        const char *user, ember_store_cb cb, void *ud)
{
    store_req_t *r;

    if ((r = calloc(1, sizeof(*r))) == NULL)
        return NULL;
    r->req.size = sizeof(r->req);
    r->req.op = op;
    r->m = st != NULL ? st->m : NULL;
    r->cb = cb;
    r->ud = ud;
    if (st != NULL) {
        r->req.kind = st->kind;
        host = st->host;
        if ((r->req.store = strdup(st->name)) == NULL)
            goto fail;
    }
    if ((r->req.host = strdup(host)) == NULL)
        goto fail;
    if ((r->req.user = strdup(user != NULL ? user : "")) == NULL)
        goto fail;
    return r;

fail:
    req_free(r);
    return NULL;
}


/* Hand r to the driver; on failure r is released here. */
static int
req_submit(store_req_t *r)
{
    int err;

    if (!have_driver) {
        req_free(r);
        return EMBER_ENOTSUP;
    }
    /* Linked first: the queued request must be found by module_gone. */
    r->next = pending;
    if (pending != NULL)
        pending->prev = r;
    pending = r;
    pending_count++;
    if ((err = driver.submit(driver.ud, &r->req)) < 0) {
        req_unlink(r);
        req_free(r);
        return err;
    }
    if (startup_open || startup_in_callback > 0) {
        r->startup = 1;
        startup_reads++;
    }
    return 0;
}


static void
startup_check(void)
{
    void (*done)(void) = startup_done;

    if (startup_open || startup_reads > 0 || done == NULL)
        return;
    startup_done = NULL;
    done();
}


void
ember__storage_when_started(void (*done)(void))
{
    startup_open = 0;
    startup_done = done;
    startup_check();
}


static int
store_check(const ember_store_t *st, ember_store_kind_t kind)
{
    if (st == NULL || st->kind != kind)
        return EMBER_EINVAL;
    return have_driver ? 0 : EMBER_ENOTSUP;
}


/*
 * Copy a query whose `size` tells how much of the struct the caller knows;
 * a caller that left size 0 is taken to know the current layout.
 */
static int
query_copy(store_req_t *r, const ember_archive_query_t *q)
{
    size_t n;

    memset(&r->q, 0, sizeof(r->q));
    if (q != NULL) {
        n = q->size == 0 || q->size > sizeof(*q) ? sizeof(*q) : q->size;
        memcpy(&r->q, q, n);
    }
    r->q.size = sizeof(r->q);
    r->q.with = str_dup(r->q.with);
    r->q.after_id = str_dup(r->q.after_id);
    r->q.before_id = str_dup(r->q.before_id);
    r->q.id = str_dup(r->q.id);
    r->req.query = &r->q;
    if ((q != NULL && q->with != NULL && r->q.with == NULL)
        || (q != NULL && q->after_id != NULL && r->q.after_id == NULL)
        || (q != NULL && q->before_id != NULL && r->q.before_id == NULL)
        || (q != NULL && q->id != NULL && r->q.id == NULL))
        return EMBER_ENOMEM;
    if (r->q.max < 0 || r->q.start < 0 || r->q.end < 0)
        return EMBER_EINVAL;
    return 0;
}


ember_store_t *
ember__store_open(ember_module_t *m, const char *host, const char *name,
                  ember_store_kind_t kind)
{
    struct ember_store_s *st;

    if (host == NULL)
        host = "";
    if (name == NULL || *name == '\0'
        || (kind != EMBER_STORE_KEYVAL && kind != EMBER_STORE_MAP
            && kind != EMBER_STORE_ARCHIVE))
        return NULL;
    for (st = stores; st != NULL; st = st->next)
        if (st->m == m && st->kind == kind && strcmp(st->name, name) == 0
            && strcmp(st->host, host) == 0)
            return st;
    if ((st = calloc(1, sizeof(*st))) == NULL)
        return NULL;
    st->m = m;
    st->kind = kind;
    if ((st->host = strdup(host)) == NULL
        || (st->name = strdup(name)) == NULL)
        goto fail;
    st->next = stores;
    stores = st;
    return st;

fail:
    free(st->host);
    free(st);
    LOG_E("storage: out of memory opening store %s", name);
    return NULL;
}


ember_store_t *
ember__api_store_open(ember_module_t *m, const char *name,
                      ember_store_kind_t kind)
{
    return ember__store_open(m, m != NULL ? ember__module_host(m) : NULL,
                             name, kind);
}


/*
 * The keyval and map requests: key and value copied (a deep copy: the
 * caller may keep editing its document).
 */
static int
store_request(ember_store_t *st, ember_store_kind_t kind,
              ember_store_op_t op, const char *user, const char *key,
              json_t *value, ember_store_cb cb, void *ud)
{
    store_req_t *r;
    int err;

    if ((err = store_check(st, kind)) < 0)
        return err;
    if ((r = req_new(st, NULL, op, user, cb, ud)) == NULL)
        return EMBER_ENOMEM;
    if ((key != NULL && (r->req.key = strdup(key)) == NULL) ||
        (value != NULL && (r->req.value = json_deep_copy(value)) == NULL)) {
        req_free(r);
        return EMBER_ENOMEM;
    }
    return req_submit(r);
}


int
ember__keyval_get(ember_store_t *st, const char *user, ember_store_cb cb,
                  void *ud)
{
    return store_request(st, EMBER_STORE_KEYVAL, EMBER_SOP_KEYVAL_GET, user,
                         NULL, NULL, cb, ud);
}


int
ember__keyval_set(ember_store_t *st, const char *user, json_t *doc,
                  ember_store_cb cb, void *ud)
{
    return store_request(st, EMBER_STORE_KEYVAL, EMBER_SOP_KEYVAL_SET, user,
                         NULL, doc, cb, ud);
}


int
ember__map_get(ember_store_t *st, const char *user, const char *key,
               ember_store_cb cb, void *ud)
{
    if (key == NULL)
        return EMBER_EINVAL;
    return store_request(st, EMBER_STORE_MAP, EMBER_SOP_MAP_GET, user, key,
                         NULL, cb, ud);
}


int
ember__map_set(ember_store_t *st, const char *user, const char *key,
               json_t *value, ember_store_cb cb, void *ud)
{
    if (key == NULL)
        return EMBER_EINVAL;
    return store_request(st, EMBER_STORE_MAP, EMBER_SOP_MAP_SET, user, key,
                         value, cb, ud);
}


int
ember__map_all(ember_store_t *st, const char *user, ember_store_cb cb,
               void *ud)
{
    return store_request(st, EMBER_STORE_MAP, EMBER_SOP_MAP_ALL, user, NULL,
                         NULL, cb, ud);
}


/*
 * The item's time is taken here, when the module asks, not when the
 * backend gets round to writing it: items keep the order of the requests.
 */
int
ember__archive_append(ember_store_t *st, const char *user, const char *with,
                      const char *data, ember_store_cb cb, void *ud)
{
    return ember__archive_append_at(st, user, with, data, now_us(), cb, ud);
}


int
ember__archive_append_at(ember_store_t *st, const char *user,
                         const char *with, const char *data, int64_t time_us,
                         ember_store_cb cb, void *ud)
{
    store_req_t *r;
    json_t *v;
    int err;

    if ((err = store_check(st, EMBER_STORE_ARCHIVE)) < 0)
        return err;
    if (data == NULL || time_us <= 0)
        return EMBER_EINVAL;
    r = req_new(st, NULL, EMBER_SOP_ARCHIVE_APPEND, user, cb, ud);
    if (r == NULL)
        return EMBER_ENOMEM;
    v = json_pack("{s:s?, s:s, s:I}", "with", with, "data", data,
                  "time", (json_int_t) time_us);
    if (v == NULL) {
        req_free(r);
        /* json_pack also refuses strings that are not UTF-8. */
        return EMBER_EINVAL;
    }
    r->req.value = v;
    return req_submit(r);
}


static int
archive_req(ember_store_t *st, ember_store_op_t op, const char *user,
            const ember_archive_query_t *q, ember_store_cb cb, void *ud)
{
    store_req_t *r;
    int err;

    if ((err = store_check(st, EMBER_STORE_ARCHIVE)) < 0)
        return err;
    if ((r = req_new(st, NULL, op, user, cb, ud)) == NULL)
        return EMBER_ENOMEM;
    if ((err = query_copy(r, q)) < 0) {
        req_free(r);
        return err;
    }
    return req_submit(r);
}


int
ember__archive_query(ember_store_t *st, const char *user,
                     const ember_archive_query_t *q, ember_store_cb cb,
                     void *ud)
{
    return archive_req(st, EMBER_SOP_ARCHIVE_QUERY, user, q, cb, ud);
}


int
ember__archive_delete(ember_store_t *st, const char *user,
                      const ember_archive_query_t *q, ember_store_cb cb,
                      void *ud)
{
    return archive_req(st, EMBER_SOP_ARCHIVE_DELETE, user, q, cb, ud);
}


int
ember__store_users(ember_store_t *st, ember_store_cb cb, void *ud)
{
    store_req_t *r;

    if (st == NULL)
        return EMBER_EINVAL;
    if (!have_driver)
        return EMBER_ENOTSUP;
    if ((r = req_new(st, NULL, EMBER_SOP_USERS, NULL, cb, ud)) == NULL)
        return EMBER_ENOMEM;
    /* USERS is about the whole store: no user. */
    free((char *) r->req.user);
    r->req.user = NULL;
    return req_submit(r);
}


int
ember__store_purge_user(const char *host, const char *user,
                        ember_store_cb cb, void *ud)
{
    store_req_t *r;

    if (host == NULL || user == NULL)
        return EMBER_EINVAL;
    if (!have_driver)
        return EMBER_ENOTSUP;
    r = req_new(NULL, host, EMBER_SOP_PURGE_USER, user, cb, ud);
    if (r == NULL)
        return EMBER_ENOMEM;
    return req_submit(r);
}


/* A request about the whole backend: no store, no user. */
static int
backend_request(ember_store_op_t op, ember_store_kind_t kind, json_t *value,
                ember_store_cb cb, void *ud)
{
    store_req_t *r;

    if (!have_driver) {
        json_decref(value);
        return EMBER_ENOTSUP;
    }
    if (value == NULL || (r = req_new(NULL, "", op, NULL, cb, ud)) == NULL) {
        json_decref(value);
        return EMBER_ENOMEM;
    }
    r->req.kind = kind;
    r->req.value = value;
    return req_submit(r);
}


int
ember__store_dump(ember_store_kind_t kind, json_t *after, int max,
                  ember_store_cb cb, void *ud)
{
    if (max <= 0)
        return EMBER_EINVAL;
    return backend_request(EMBER_SOP_DUMP, kind,
                           json_pack("{s:O?, s:i}", "after", after,
                                     "max", max), cb, ud);
}


int
ember__store_load(ember_store_kind_t kind, json_t *rows, int64_t seq,
                  ember_store_cb cb, void *ud)
{
    if (!json_is_array(rows))
        return EMBER_EINVAL;
    return backend_request(EMBER_SOP_LOAD, kind,
                           json_pack("{s:o, s:I}", "rows",
                                     json_deep_copy(rows), "seq",
                                     (json_int_t) seq), cb, ud);
}


int
ember__store_clear(ember_store_cb cb, void *ud)
{
    return backend_request(EMBER_SOP_CLEAR, EMBER_STORE_KEYVAL, json_object(),
                           cb, ud);
}


int
ember__storage_provide(ember_module_t *m,
                       const ember_storage_driver_t *d)
{
    size_t n;

    if (d == NULL || d->size < offsetof(ember_storage_driver_t, flush))
        return EMBER_EINVAL;
    if (have_driver)
        return EMBER_EBUSY;
    memset(&driver, 0, sizeof(driver));
    n = d->size > sizeof(driver) ? sizeof(driver) : d->size;
    memcpy(&driver, d, n);
    if (driver.submit == NULL)
        return EMBER_EINVAL;
    driver_module = m;
    have_driver = 1;
    LOG_I("storage: backend %s", driver.name != NULL ? driver.name : "?");
    return 0;
}


void
ember__store_done(ember_store_req_t *req, int status, json_t *result)
{
    store_req_t *r = (store_req_t *) req;

    if (r == NULL)
        return;
    /* Unlinked first: the callback may submit or unload anything. */
    req_unlink(r);
    startup_in_callback += r->startup;
    if (r->cb != NULL)
        r->cb(status, result, r->ud);
    startup_in_callback -= r->startup;
    if (r->startup) {
        startup_reads--;
        startup_check();
    }
    req_free(r);
}


void
ember__storage_module_gone(ember_module_t *m)
{
    struct ember_store_s **pp, *st;
    store_req_t *r;

    if (m == NULL)
        return;
    for (r = pending; r != NULL; r = r->next)
        if (r->m == m)
            r->cb = NULL;
    pp = &stores;
    while ((st = *pp) != NULL) {
        if (st->m == m) {
            *pp = st->next;
            free(st->host);
            free(st->name);
            free(st);
        } else {
            pp = &st->next;
        }
    }
    if (have_driver && driver_module == m) {
        /* What was acknowledged to the driver must reach the disk before
         * the backend disappears; late completions still find their
         * requests in the pending list. */
        if (driver.flush != NULL)
            driver.flush(driver.ud);
        have_driver = 0;
        driver_module = NULL;
        memset(&driver, 0, sizeof(driver));
        LOG_I("storage: backend removed");
    }
}


void
ember__storage_flush(void)
{
    if (have_driver && driver.flush != NULL)
        driver.flush(driver.ud);
}


size_t
ember__storage_pending(void)
{
    return pending_count;
}
