/* sqlite_db.h -- the storage_sqlite connection, used by its thread only. */
#ifndef EMBER_SQLITE_DB_H
#define EMBER_SQLITE_DB_H

#include <jansson.h>
#include <ember/plugin.h>

typedef struct sq_db_s sq_db_t;

typedef struct sq_opts_s {
    const char *path;
    int sync_full;  /* PRAGMA synchronous=FULL instead of NORMAL */
    int cache_kb;
} sq_opts_t;

/*
 * Open (creating when missing) and migrate the database.  On failure
 * returns an error and, in err, a line for the operator.
 */
int sq_db_open(sq_db_t **out, const sq_opts_t *o, char *err, size_t errlen);
void sq_db_close(sq_db_t *db);

/* Schema version the code migrates to. */
int sq_db_schema_version(void);

/*
 * Transactions and requests.  Every failure of SQLite is EMBER_EIO with a
 * malloc'ed message in *msg; other statuses (EMBER_ENOENT, EMBER_EINVAL)
 * mean the request wrote nothing.
 */
int sq_db_begin(sq_db_t *db, char **msg);
int sq_db_commit(sq_db_t *db, char **msg);
void sq_db_rollback(sq_db_t *db);
int sq_db_run(sq_db_t *db, const ember_store_req_t *req, json_t **result,
              char **msg);

#endif
