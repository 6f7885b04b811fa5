/* storage_pgsql.h -- what the files of storage_pgsql share.  A connection
 * (pg_conn_*, pg_*) belongs to one worker thread; the pool (pg_pool_*) is
 * started and stopped by the core thread. */
#ifndef MOD_STORAGE_PGSQL_H
#define MOD_STORAGE_PGSQL_H

#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>
#include <jansson.h>
#include <ember/plugin.h>
#include <ember/store_backend.h>

extern const ember_api_t *api;

typedef struct pg_conn_s pg_conn_t;

/* Schema version the code migrates to. */
int pg_schema_version(void);

/*
 * Connect to conninfo and prepare every fixed statement; with `migrate`,
 * bring the schema up to date first (in one transaction).  On failure
 * returns an error and, in err, a line for the operator.
 */
int pg_conn_open(pg_conn_t **out, const char *conninfo, int migrate,
                 char *err, size_t errlen);
void pg_conn_close(pg_conn_t *c);
/* 1 while the server can be reached through c (as far as libpq knows). */
int pg_conn_ok(const pg_conn_t *c);
/* Reconnect a broken connection and prepare again; 0 or EMBER_EIO. */
int pg_conn_reset(pg_conn_t *c, char **msg);

/*
 * Transactions and requests.  Every failure of PostgreSQL is EMBER_EIO
 * with a malloc'ed message in *msg; other statuses (EMBER_ENOENT,
 * EMBER_EINVAL) mean the request wrote nothing.
 */
int pg_begin(pg_conn_t *c, char **msg);
int pg_commit(pg_conn_t *c, char **msg);
void pg_rollback(pg_conn_t *c);
int pg_run(pg_conn_t *c, const ember_store_req_t *req, json_t **result,
           char **msg);

/* ---- the pool (storage_pgsql_pool.c) ---- */

int pg_pool_running(void);
/* Start n workers on conns[0..n-1] (taken) and become the storage;
 * requests fail after retry_ms of lost connection. */
int pg_pool_start(ember_module_t *m, pg_conn_t **conns, int n, int retry_ms);
/* Drain the queues, stop the workers, close the connections, and finish
 * on the core thread what was never delivered. */
void pg_pool_stop(void);

/* ---- the connection's internals ---- */

enum {
    PG_BEGIN,
    PG_COMMIT,
    PG_ROLLBACK,
    PG_KV_GET,
    PG_KV_SET,
    PG_KV_DEL,
    PG_MAP_GET,
    PG_MAP_SET,
    PG_MAP_DEL,
    PG_MAP_ALL,
    PG_AR_APPEND,
    PG_AR_EXISTS,
    PG_AR_OWNER_GET,
    PG_AR_OWNER_DEL,
    PG_USERS_KV,
    PG_USERS_MAP,
    PG_USERS_AR,
    PG_PURGE_KV,
    PG_PURGE_MAP,
    PG_PURGE_AR,
    PG_PURGE_AR_OWNER,
    PG_DUMP_KV,
    PG_DUMP_MAP,
    PG_DUMP_AR,
    PG_AR_LOAD,
    PG_AR_SEQ_GET,
    PG_AR_SEQ_RAISE,
    PG_CLEAR_KV,
    PG_CLEAR_MAP,
    PG_CLEAR_AR,
    PG_CLEAR_AR_OWNER,
    PG_NSTMT
};

/* Archive statements take ten parameters: $1 oid, $4 with, $5 start,
 * $6 end, $7 after, $8 before, $9 id, $10 limit ($2, $3 unused). */
#define PG_AQ_NPARAMS 10

struct pg_conn_s {
    PGconn *pc;
    char *conninfo;
    /* Archive statements prepared on this session, by mask (deletes at
     * EMBER_AQ_NMASKS + mask). */
    unsigned char aq_ready[2 * EMBER_AQ_NMASKS];
};

/* Set *msg (when NULL) to what failed and the server's message; EMBER_EIO. */
int pg_fail(pg_conn_t *c, const char *what, const PGresult *res, char **msg);
/* Run prepared statement `name` with text parameters (NULL is SQL NULL).
 * The result, or NULL after setting *msg when it is not `expect`. */
PGresult *pg_exec(pg_conn_t *c, const char *name, int n,
                  const char *const *params, ExecStatusType expect,
                  const char *what, char **msg);
PGresult *pg_exec_stmt(pg_conn_t *c, int which, int n,
                       const char *const *params, ExecStatusType expect,
                       char **msg);
/* Prepare sql as `name` (n parameters, types as oids). */
int pg_prepare(pg_conn_t *c, const char *name, const char *sql, int n,
               const Oid *types, char **msg);

int pg_archive_append(pg_conn_t *c, const ember_store_req_t *req,
                      json_t **result, char **msg);
/* DUMP, LOAD and CLEAR (storage_pgsql_copy.c). */
int pg_copy_run(pg_conn_t *c, const ember_store_req_t *req, json_t **result,
                char **msg);
/* ARCHIVE_QUERY and ARCHIVE_DELETE. */
int pg_archive_run(pg_conn_t *c, const ember_store_req_t *req,
                   json_t **result, char **msg);

#endif
