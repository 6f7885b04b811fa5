/* sqlite_int.h -- what the SQLite files of storage_sqlite share. */
#ifndef EMBER_SQLITE_INT_H
#define EMBER_SQLITE_INT_H

#include <sqlite3.h>

#include "sqlite_db.h"

/* Statements prepared once per connection, by index into sq_sql[]. */
enum {
    SQ_BEGIN,
    SQ_COMMIT,
    SQ_ROLLBACK,
    SQ_KV_GET,
    SQ_KV_SET,
    SQ_KV_DEL,
    SQ_MAP_GET,
    SQ_MAP_SET,
    SQ_MAP_DEL,
    SQ_MAP_ALL,
    SQ_AR_APPEND,
    SQ_AR_EXISTS,
    SQ_USERS_KV,
    SQ_USERS_MAP,
    SQ_USERS_AR,
    SQ_PURGE_KV,
    SQ_PURGE_MAP,
    SQ_PURGE_AR,
    SQ_NSTMT
};

/* Which fields of an archive query are set: one cached statement each. */
enum {
    AQ_WITH = 1 << 0,
    AQ_START = 1 << 1,
    AQ_END = 1 << 2,
    AQ_AFTER = 1 << 3,
    AQ_BEFORE = 1 << 4,
    AQ_ID = 1 << 5,
    AQ_REVERSE = 1 << 6,
    AQ_LIMIT = 1 << 7,
    AQ_NMASKS = 1 << 8
};

struct sq_db_s {
    sqlite3 *db;
    sqlite3_stmt *st[SQ_NSTMT];
    sqlite3_stmt *ar_select[AQ_NMASKS];
    sqlite3_stmt *ar_delete[AQ_NMASKS];
};

/* Set *msg (when NULL) to what failed and SQLite's message; EMBER_EIO. */
int sq_fail(sq_db_t *db, const char *what, char **msg);
/* The statement in *slot, prepared from sql the first time. */
sqlite3_stmt *sq_prepare(sq_db_t *db, sqlite3_stmt **slot, const char *sql,
                         char **msg);
sqlite3_stmt *sq_stmt(sq_db_t *db, int which, char **msg);
/* Reset a statement for its next use. */
void sq_done(sqlite3_stmt *st);
/* Step a statement that returns no row, then reset it. */
int sq_step_done(sq_db_t *db, sqlite3_stmt *st, const char *what,
                 char **msg);
/* NULL binds SQL NULL; the string must outlive the step. */
int sq_bind_text(sqlite3_stmt *st, int i, const char *s);
/* ?1 host, ?2 store, ?3 user. */
int sq_bind_owner(sqlite3_stmt *st, const ember_store_req_t *req);

int sq_archive_append(sq_db_t *db, const ember_store_req_t *req,
                      json_t **result, char **msg);
/* ARCHIVE_QUERY and ARCHIVE_DELETE. */
int sq_archive_run(sq_db_t *db, const ember_store_req_t *req,
                   json_t **result, char **msg);

#endif
