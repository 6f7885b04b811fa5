/* core/storage.h -- the store API front; backends are modules. */
#ifndef EMBER_CORE_STORAGE_H
#define EMBER_CORE_STORAGE_H

#include <ember/plugin.h>

/*
 * Store handles are scoped by virtual host: two modules opening "roster"
 * on the same host share it.  The core itself opens stores with m == NULL
 * (accounts).  Requests made before a driver is provided are refused with
 * EMBER_ENOTSUP.
 */
ember_store_t *ember__store_open(ember_module_t *m, const char *host,
                                 const char *name, ember_store_kind_t kind);

/* The api table's storage entries (same signatures as in ember_api_t). */
ember_store_t *ember__api_store_open(ember_module_t *m, const char *name,
                                     ember_store_kind_t kind);
int ember__keyval_get(ember_store_t *st, const char *user, ember_store_cb cb,
                      void *ud);
int ember__keyval_set(ember_store_t *st, const char *user, json_t *doc,
                      ember_store_cb cb, void *ud);
int ember__map_get(ember_store_t *st, const char *user, const char *key,
                   ember_store_cb cb, void *ud);
int ember__map_set(ember_store_t *st, const char *user, const char *key,
                   json_t *value, ember_store_cb cb, void *ud);
int ember__map_all(ember_store_t *st, const char *user, ember_store_cb cb,
                   void *ud);
/* archive_append with the item's time chosen by the caller (API 1.6). */
int ember__archive_append_at(ember_store_t *st, const char *user,
                             const char *with, const char *data,
                             int64_t time_us, ember_store_cb cb, void *ud);
int ember__archive_append(ember_store_t *st, const char *user,
                          const char *with, const char *data,
                          ember_store_cb cb, void *ud);
int ember__archive_query(ember_store_t *st, const char *user,
                         const ember_archive_query_t *q, ember_store_cb cb,
                         void *ud);
int ember__archive_delete(ember_store_t *st, const char *user,
                          const ember_archive_query_t *q, ember_store_cb cb,
                          void *ud);
int ember__store_users(ember_store_t *st, ember_store_cb cb, void *ud);
/* Remove every record of user@host from every store. */
int ember__store_purge_user(const char *host, const char *user,
                            ember_store_cb cb, void *ud);

/*
 * Every record of the backend, for emberctl migrate-storage (the
 * EMBER_SOP_DUMP, LOAD and CLEAR of ember/types.h): a page of at most max
 * rows of kind after cursor `after` (NULL: from the start); rows written
 * as given, with the archive id sequence raised to seq; everything
 * removed.
 */
int ember__store_dump(ember_store_kind_t kind, json_t *after, int max,
                      ember_store_cb cb, void *ud);
int ember__store_load(ember_store_kind_t kind, json_t *rows, int64_t seq,
                      ember_store_cb cb, void *ud);
int ember__store_clear(ember_store_cb cb, void *ud);

int ember__storage_provide(ember_module_t *m,
                           const ember_storage_driver_t *driver);
void ember__store_done(ember_store_req_t *req, int status, json_t *result);

/*
 * Module m is going away: its stores are closed, callbacks of its pending
 * requests will not run, and if it provided the driver, the driver is
 * flushed and removed.
 */
void ember__storage_module_gone(ember_module_t *m);
/* Block until every submitted request is durable. */
void ember__storage_flush(void);
/* Requests submitted and not yet completed. */
size_t ember__storage_pending(void);
/* Call done once the storage requests made so far, and those their
 * callbacks make, have completed (now, when there are none). */
void ember__storage_when_started(void (*done)(void));

#endif
