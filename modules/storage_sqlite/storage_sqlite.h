/* storage_sqlite.h -- what the files of storage_sqlite share.  The
 * connection (sq_db_*, sq_*) is used by the storage thread only; the
 * queue (sq_queue_*) by the core thread. */
#ifndef MOD_STORAGE_SQLITE_H
#define MOD_STORAGE_SQLITE_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>
#include <jansson.h>
#include <ember/plugin.h>
#include <ember/store_backend.h>

extern const ember_api_t *api;

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

/* ---- the queue and its thread (storage_sqlite_queue.c) ---- */

/* 1 while an instance runs. */
int sq_queue_running(void);
/* Start the storage thread on db (taken) and become the storage. */
int sq_queue_start(ember_module_t *m, sq_db_t *db);
/* Drain the queue, stop the thread, close the database, and finish on
 * the core thread what was never delivered. */
void sq_queue_stop(void);

/* ---- the connection's internals ---- */

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
    SQ_AR_SEQ_GET,
    SQ_AR_SEQ_SET,
    SQ_DATA_VERSION,
    SQ_AR_EXISTS,
    SQ_AR_OWNER_GET,
    SQ_AR_OWNER_ADD,
    SQ_AR_OWNER_DEL,
    SQ_AR_MAX_TIME,
    SQ_AR_UNORDERED,
    SQ_USERS_KV,
    SQ_USERS_MAP,
    SQ_USERS_AR,
    SQ_PURGE_KV,
    SQ_PURGE_MAP,
    SQ_PURGE_AR,
    SQ_PURGE_AR_OWNER,
    SQ_DUMP_KV,
    SQ_DUMP_MAP,
    SQ_DUMP_AR,
    SQ_CLEAR_KV,
    SQ_CLEAR_MAP,
    SQ_CLEAR_AR,
    SQ_CLEAR_AR_OWNER,
    SQ_NSTMT
};

/*
 * What the connection knows of an archive (host, store, user): its key
 * in the archive table, whether its items' times never decrease in id
 * order ("ordered": a time range is then an id range), and the newest
 * time appended.  A cache of the archive_owner table, emptied whenever a
 * transaction rolls back.
 */
typedef struct sq_owner_s {
    struct sq_owner_s *next;
    uint64_t hash;
    sqlite3_int64 oid;
    sqlite3_int64 max_time;
    int ordered;
    char key[]; /* host NUL store NUL user NUL */
} sq_owner_t;

struct sq_db_s {
    sqlite3 *db;
    sqlite3_stmt *st[SQ_NSTMT];
    sqlite3_stmt *ar_select[EMBER_AQ_NMASKS];
    sqlite3_stmt *ar_delete[EMBER_AQ_NMASKS];
    /* Archive ids: the next to hand out, and the newest committed (in
     * archive_seq).  Never reused, whatever is deleted. */
    sqlite3_int64 ar_next, ar_saved;
    /* PRAGMA data_version at the last transaction: another connection
     * wrote the file when it changes. */
    sqlite3_int64 data_version;
    sq_owner_t **owners;   /* hash table of owner_cap buckets */
    size_t owner_cap, owner_count;
    /* For the caller to log and free after sq_db_run: the plan of an
     * archive statement just prepared (debug), and a warning when that
     * plan reads a whole table or sorts. */
    char *plan, *note;
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
/* One item of req's archive with the id given (ids are not checked
 * against the sequence: the caller raises it). */
int sq_archive_insert(sq_db_t *db, const ember_store_req_t *req,
                      sqlite3_int64 id, sqlite3_int64 time, const char *with,
                      const char *data, char **msg);
/* DUMP, LOAD and CLEAR (storage_sqlite_copy.c). */
int sq_copy_run(sq_db_t *db, const ember_store_req_t *req, json_t **result,
                char **msg);
/* Forget every cached owner (after a rollback, or at close). */
void sq_owners_clear(sq_db_t *db);
/* ARCHIVE_QUERY and ARCHIVE_DELETE. */
int sq_archive_run(sq_db_t *db, const ember_store_req_t *req,
                   json_t **result, char **msg);

#endif
