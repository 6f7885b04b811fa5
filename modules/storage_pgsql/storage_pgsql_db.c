/* storage_pgsql_db.c -- a connection: schema, migrations, prepared
 * statements, transactions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_pgsql.h"

#define OID_INT8 20
#define OID_TEXT 25

/*
 * Migrations, applied in order inside one transaction at start; entry i
 * takes the schema from version i to i + 1.  Never edit a released entry:
 * append a new one.  The layout is storage_sqlite's schema 2: an archive
 * (host, store, user) is a row of archive_owner, its items carry the
 * owner's oid; `ordered` says that the archive's times never decrease in
 * id order (a time bound is then an id bound).
 */
static const char *const pg_migrations[] = {
    "CREATE TABLE keyval ("
    " host text NOT NULL, store text NOT NULL, usr text NOT NULL,"
    " value text NOT NULL,"
    " PRIMARY KEY (host, store, usr));"
    "CREATE INDEX keyval_user ON keyval (host, usr);"
    "CREATE TABLE map ("
    " host text NOT NULL, store text NOT NULL, usr text NOT NULL,"
    " key text NOT NULL, value text NOT NULL,"
    " PRIMARY KEY (host, store, usr, key));"
    "CREATE INDEX map_user ON map (host, usr);"
    "CREATE TABLE archive_owner ("
    " oid bigserial PRIMARY KEY,"
    " host text NOT NULL, store text NOT NULL, usr text NOT NULL,"
    " ordered boolean NOT NULL DEFAULT true,"
    " UNIQUE (host, store, usr));"
    "CREATE INDEX archive_owner_user ON archive_owner (host, usr);"
    /* A sequence: ids are never handed out twice, whatever is deleted. */
    "CREATE TABLE archive ("
    " id bigserial NOT NULL,"
    " oid bigint NOT NULL,"
    " time bigint NOT NULL,"
    " peer text,"
    " data text NOT NULL,"
    " PRIMARY KEY (oid, id));"
    "CREATE INDEX archive_owner_time ON archive (oid, time, id);"
    "CREATE INDEX archive_owner_peer ON archive (oid, peer, id);",
};

#define PG_NMIGRATIONS (sizeof(pg_migrations) / sizeof(pg_migrations[0]))

/* Any value: the key of the advisory lock two servers starting on one
 * database take to migrate one after the other. */
#define PG_MIGRATE_LOCK "4242010019"

/*
 * The owner row of ($1, $2, $3) as `o`, created when new; an item at time
 * $4 older than one already there clears `ordered` for good (the (oid,
 * time, id) index answers that with one probe).  The row is written only
 * then: an upsert that updates it for every item leaves PostgreSQL a dead
 * version per item to step over within a transaction (measured: 40
 * items/s after 240,000 items of one archive).  An owner row another
 * connection committed after this statement's snapshot is in neither
 * branch of `o`: the statement then inserts nothing, and the caller runs
 * it again with a new snapshot.
 */
#define PG_AR_OWNER \
    "WITH n AS (INSERT INTO archive_owner (host, store, usr)" \
    " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING oid)," \
    " o AS (SELECT oid FROM n UNION ALL SELECT oid" \
    " FROM archive_owner WHERE host = $1 AND store = $2 AND usr = $3)," \
    " u AS (UPDATE archive_owner w SET ordered = false" \
    " WHERE w.oid IN (SELECT oid FROM o) AND w.ordered" \
    " AND EXISTS (SELECT 1 FROM archive a" \
    " WHERE a.oid = w.oid AND a.time > $4))"

static const struct {
    const char *name, *sql;
    int n;
    Oid types[7];
} pg_sql[PG_NSTMT] = {
    [PG_BEGIN] = { "begin", "BEGIN", 0, { 0 } },
    [PG_COMMIT] = { "commit", "COMMIT", 0, { 0 } },
    [PG_ROLLBACK] = { "rollback", "ROLLBACK", 0, { 0 } },
    [PG_KV_GET] = { "kv_get", "SELECT value FROM keyval"
                    " WHERE host = $1 AND store = $2 AND usr = $3", 3,
                    { OID_TEXT, OID_TEXT, OID_TEXT } },
    [PG_KV_SET] = { "kv_set", "INSERT INTO keyval (host, store, usr, value)"
                    " VALUES ($1, $2, $3, $4) ON CONFLICT (host, store, usr)"
                    " DO UPDATE SET value = EXCLUDED.value", 4,
                    { OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT } },
    [PG_KV_DEL] = { "kv_del", "DELETE FROM keyval"
                    " WHERE host = $1 AND store = $2 AND usr = $3", 3,
                    { OID_TEXT, OID_TEXT, OID_TEXT } },
    [PG_MAP_GET] = { "map_get", "SELECT value FROM map WHERE host = $1"
                     " AND store = $2 AND usr = $3 AND key = $4", 4,
                     { OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT } },
    [PG_MAP_SET] = { "map_set", "INSERT INTO map (host, store, usr, key,"
                     " value) VALUES ($1, $2, $3, $4, $5)"
                     " ON CONFLICT (host, store, usr, key)"
                     " DO UPDATE SET value = EXCLUDED.value", 5,
                     { OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT } },
    [PG_MAP_DEL] = { "map_del", "DELETE FROM map WHERE host = $1"
                     " AND store = $2 AND usr = $3 AND key = $4", 4,
                     { OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT } },
    [PG_MAP_ALL] = { "map_all", "SELECT key, value FROM map"
                     " WHERE host = $1 AND store = $2 AND usr = $3", 3,
                     { OID_TEXT, OID_TEXT, OID_TEXT } },
    /* The owner row and the item in one round trip. */
    [PG_AR_APPEND] = { "ar_append", PG_AR_OWNER
                       " INSERT INTO archive (oid, time, peer, data)"
                       " SELECT oid, $4, $5, $6 FROM o RETURNING id", 6,
                       { OID_TEXT, OID_TEXT, OID_TEXT, OID_INT8, OID_TEXT,
                         OID_TEXT } },
    [PG_AR_EXISTS] = { "ar_exists", "SELECT 1 FROM archive"
                       " WHERE oid = $1 AND id = $2", 2,
                       { OID_INT8, OID_INT8 } },
    [PG_AR_OWNER_GET] = { "ar_owner_get", "SELECT oid, ordered"
                          " FROM archive_owner WHERE host = $1"
                          " AND store = $2 AND usr = $3", 3,
                          { OID_TEXT, OID_TEXT, OID_TEXT } },
    [PG_AR_OWNER_DEL] = { "ar_owner_del", "DELETE FROM archive_owner"
                          " WHERE oid = $1", 1, { OID_INT8 } },
    [PG_USERS_KV] = { "users_kv", "SELECT usr FROM keyval"
                      " WHERE host = $1 AND store = $2 ORDER BY usr", 2,
                      { OID_TEXT, OID_TEXT } },
    [PG_USERS_MAP] = { "users_map", "SELECT DISTINCT usr FROM map"
                       " WHERE host = $1 AND store = $2 ORDER BY usr", 2,
                       { OID_TEXT, OID_TEXT } },
    [PG_USERS_AR] = { "users_ar", "SELECT usr FROM archive_owner o"
                      " WHERE host = $1 AND store = $2 AND EXISTS"
                      " (SELECT 1 FROM archive a WHERE a.oid = o.oid)"
                      " ORDER BY usr", 2, { OID_TEXT, OID_TEXT } },
    [PG_PURGE_KV] = { "purge_kv", "DELETE FROM keyval"
                      " WHERE host = $1 AND usr = $2", 2,
                      { OID_TEXT, OID_TEXT } },
    [PG_PURGE_MAP] = { "purge_map", "DELETE FROM map"
                       " WHERE host = $1 AND usr = $2", 2,
                       { OID_TEXT, OID_TEXT } },
    [PG_PURGE_AR] = { "purge_ar", "DELETE FROM archive WHERE oid IN"
                      " (SELECT oid FROM archive_owner"
                      " WHERE host = $1 AND usr = $2)", 2,
                      { OID_TEXT, OID_TEXT } },
    [PG_PURGE_AR_OWNER] = { "purge_ar_owner", "DELETE FROM archive_owner"
                            " WHERE host = $1 AND usr = $2", 2,
                            { OID_TEXT, OID_TEXT } },
    /* Keyset pages: every page an index range after the last key. */
    [PG_DUMP_KV] = { "dump_kv", "SELECT host, store, usr, value FROM keyval"
                     " WHERE (host, store, usr) > ($1, $2, $3)"
                     " ORDER BY host, store, usr LIMIT $4", 4,
                     { OID_TEXT, OID_TEXT, OID_TEXT, OID_INT8 } },
    [PG_DUMP_MAP] = { "dump_map", "SELECT host, store, usr, key, value"
                      " FROM map WHERE (host, store, usr, key)"
                      " > ($1, $2, $3, $4)"
                      " ORDER BY host, store, usr, key LIMIT $5", 5,
                      { OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT, OID_INT8 } },
    [PG_DUMP_AR] = { "dump_ar", "SELECT o.host, o.store, o.usr, a.id,"
                     " a.time, a.peer, a.data, a.oid FROM archive a"
                     " JOIN archive_owner o ON o.oid = a.oid"
                     " WHERE (a.oid, a.id) > ($1, $2)"
                     " ORDER BY a.oid, a.id LIMIT $3", 3,
                     { OID_INT8, OID_INT8, OID_INT8 } },
    /* An item with its id given ($7). */
    [PG_AR_LOAD] = { "ar_load", PG_AR_OWNER
                     " INSERT INTO archive (id, oid, time, peer, data)"
                     " SELECT $7, oid, $4, $5, $6 FROM o", 7,
                     { OID_TEXT, OID_TEXT, OID_TEXT, OID_INT8, OID_TEXT,
                       OID_TEXT, OID_INT8 } },
    /* The newest id handed out (0 before the first). */
    [PG_AR_SEQ_GET] = { "ar_seq_get", "SELECT CASE WHEN is_called"
                        " THEN last_value ELSE 0 END FROM archive_id_seq",
                        0, { 0 } },
    [PG_AR_SEQ_RAISE] = { "ar_seq_raise", "SELECT setval('archive_id_seq',"
                          " greatest($1, (SELECT CASE WHEN is_called"
                          " THEN last_value ELSE 0 END"
                          " FROM archive_id_seq)))", 1, { OID_INT8 } },
    [PG_CLEAR_KV] = { "clear_kv", "DELETE FROM keyval", 0, { 0 } },
    [PG_CLEAR_MAP] = { "clear_map", "DELETE FROM map", 0, { 0 } },
    [PG_CLEAR_AR] = { "clear_ar", "DELETE FROM archive", 0, { 0 } },
    [PG_CLEAR_AR_OWNER] = { "clear_ar_owner", "DELETE FROM archive_owner",
                            0, { 0 } },
};


int
pg_schema_version(void)
{
    return (int) PG_NMIGRATIONS;
}


/* The server's message without libpq's trailing newline. */
static void
pg_message(const pg_conn_t *c, const PGresult *res, char *out, size_t len)
{
    const char *e = res != NULL ? PQresultErrorMessage(res) : "";
    size_t n;

    if (e == NULL || e[0] == '\0')
        e = PQerrorMessage(c->pc);
    snprintf(out, len, "%s", e != NULL && e[0] != '\0' ? e : "no reply");
    n = strlen(out);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
        out[--n] = '\0';
}


int
pg_fail(pg_conn_t *c, const char *what, const PGresult *res, char **msg)
{
    char e[512];

    if (msg != NULL && *msg == NULL) {
        pg_message(c, res, e, sizeof(e));
        if (asprintf(msg, "%s: %s", what, e) < 0)
            *msg = NULL;
    }
    return EMBER_EIO;
}


PGresult *
pg_exec(pg_conn_t *c, const char *name, int n, const char *const *params,
        ExecStatusType expect, const char *what, char **msg)
{
    PGresult *res = PQexecPrepared(c->pc, name, n, params, NULL, NULL, 0);

    if (res == NULL || PQresultStatus(res) != expect) {
        pg_fail(c, what, res, msg);
        PQclear(res);
        return NULL;
    }
    return res;
}


PGresult *
pg_exec_stmt(pg_conn_t *c, int which, int n, const char *const *params,
             ExecStatusType expect, char **msg)
{
    return pg_exec(c, pg_sql[which].name, n, params, expect,
                   pg_sql[which].name, msg);
}


int
pg_prepare(pg_conn_t *c, const char *name, const char *sql, int n,
           const Oid *types, char **msg)
{
    PGresult *res = PQprepare(c->pc, name, sql, n, types);

    if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
        pg_fail(c, name, res, msg);
        PQclear(res);
        return EMBER_EIO;
    }
    PQclear(res);
    return 0;
}


/* One statement without parameters or rows, as a line for the operator. */
static int
pg_simple(pg_conn_t *c, const char *sql, const char *what, char *err,
          size_t errlen)
{
    PGresult *res = PQexec(c->pc, sql);
    char e[512];

    if (res == NULL || (PQresultStatus(res) != PGRES_COMMAND_OK
                        && PQresultStatus(res) != PGRES_TUPLES_OK)) {
        pg_message(c, res, e, sizeof(e));
        snprintf(err, errlen, "%s: %s", what, e);
        PQclear(res);
        return EMBER_EIO;
    }
    PQclear(res);
    return 0;
}


static int
pg_migrate(pg_conn_t *c, char *err, size_t errlen)
{
    PGresult *res;
    char sql[128], what[64];
    int version;
    size_t i;

    if (pg_simple(c, "BEGIN", "begin migration", err, errlen) < 0)
        return EMBER_EIO;
    if (pg_simple(c, "SELECT pg_advisory_xact_lock(" PG_MIGRATE_LOCK ")",
                  "migration lock", err, errlen) < 0
        || pg_simple(c, "SET LOCAL client_min_messages = warning;"
                     "CREATE TABLE IF NOT EXISTS schema_version"
                     " (version integer NOT NULL)", "schema_version",
                     err, errlen) < 0)
        goto fail;
    res = PQexec(c->pc, "SELECT coalesce(max(version), 0)"
                 " FROM schema_version");
    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
        pg_message(c, res, what, sizeof(what));
        snprintf(err, errlen, "schema_version: %s", what);
        PQclear(res);
        goto fail;
    }
    version = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (version > (int) PG_NMIGRATIONS) {
        snprintf(err, errlen, "database schema version %d is newer than "
                 "this module's (%d)", version, (int) PG_NMIGRATIONS);
        PQclear(PQexec(c->pc, "ROLLBACK"));
        return EMBER_ESTATE;
    }
    for (i = (size_t) version; i < PG_NMIGRATIONS; i++) {
        snprintf(what, sizeof(what), "migration %zu", i + 1);
        if (pg_simple(c, pg_migrations[i], what, err, errlen) < 0)
            goto fail;
    }
    if (version < (int) PG_NMIGRATIONS) {
        snprintf(sql, sizeof(sql), "DELETE FROM schema_version;"
                 "INSERT INTO schema_version VALUES (%d)",
                 (int) PG_NMIGRATIONS);
        if (pg_simple(c, sql, "schema_version", err, errlen) < 0)
            goto fail;
    }
    if (pg_simple(c, "COMMIT", "commit migration", err, errlen) < 0)
        goto fail;
    return 0;

fail:
    PQclear(PQexec(c->pc, "ROLLBACK"));
    return EMBER_EIO;
}


/* The fixed statements, on a fresh session. */
static int
pg_prepare_all(pg_conn_t *c, char **msg)
{
    size_t i;

    memset(c->aq_ready, 0, sizeof(c->aq_ready));
    for (i = 0; i < PG_NSTMT; i++)
        if (pg_prepare(c, pg_sql[i].name, pg_sql[i].sql, pg_sql[i].n,
                       pg_sql[i].types, msg) < 0)
            return EMBER_EIO;
    return 0;
}


/* Items are UTF-8 whatever the server's locale. */
static int
pg_session_setup(pg_conn_t *c, char **msg)
{
    if (PQsetClientEncoding(c->pc, "UTF8") != 0)
        return pg_fail(c, "client encoding", NULL, msg);
    return pg_prepare_all(c, msg);
}


int
pg_conn_open(pg_conn_t **out, const char *conninfo, int migrate, char *err,
             size_t errlen)
{
    pg_conn_t *c;
    char *msg = NULL;
    char e[512];
    int rc = EMBER_EIO;

    *out = NULL;
    if ((c = calloc(1, sizeof(*c))) == NULL
        || (c->conninfo = strdup(conninfo)) == NULL) {
        free(c);
        return EMBER_ENOMEM;
    }
    c->pc = PQconnectdb(conninfo);
    if (c->pc == NULL || PQstatus(c->pc) != CONNECTION_OK) {
        if (c->pc == NULL)
            snprintf(e, sizeof(e), "out of memory");
        else
            pg_message(c, NULL, e, sizeof(e));
        snprintf(err, errlen, "cannot connect to PostgreSQL: %s", e);
        goto fail;
    }
    if (migrate && (rc = pg_migrate(c, err, errlen)) < 0)
        goto fail;
    if (pg_session_setup(c, &msg) < 0) {
        snprintf(err, errlen, "%s", msg != NULL ? msg : "out of memory");
        free(msg);
        rc = EMBER_EIO;
        goto fail;
    }
    *out = c;
    return 0;

fail:
    pg_conn_close(c);
    return rc;
}


void
pg_conn_close(pg_conn_t *c)
{
    if (c == NULL)
        return;
    PQfinish(c->pc);
    free(c->conninfo);
    free(c);
}


int
pg_conn_ok(const pg_conn_t *c)
{
    return PQstatus(c->pc) == CONNECTION_OK;
}


int
pg_conn_reset(pg_conn_t *c, char **msg)
{
    PQreset(c->pc);
    if (PQstatus(c->pc) != CONNECTION_OK)
        return pg_fail(c, "reconnect", NULL, msg);
    return pg_session_setup(c, msg);
}


static int
pg_tx(pg_conn_t *c, int which, char **msg)
{
    PGresult *res = pg_exec_stmt(c, which, 0, NULL, PGRES_COMMAND_OK, msg);

    if (res == NULL)
        return EMBER_EIO;
    PQclear(res);
    return 0;
}


int
pg_begin(pg_conn_t *c, char **msg)
{
    return pg_tx(c, PG_BEGIN, msg);
}


int
pg_commit(pg_conn_t *c, char **msg)
{
    return pg_tx(c, PG_COMMIT, msg);
}


void
pg_rollback(pg_conn_t *c)
{
    if (PQtransactionStatus(c->pc) != PQTRANS_IDLE
        && PQtransactionStatus(c->pc) != PQTRANS_UNKNOWN)
        pg_tx(c, PG_ROLLBACK, NULL);
}
