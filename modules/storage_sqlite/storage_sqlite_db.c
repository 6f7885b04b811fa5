/* storage_sqlite_db.c -- the connection: schema, migrations, transactions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_sqlite.h"

/*
 * Migrations, applied in order inside one transaction at open; entry i
 * takes the schema from version i to i + 1.  Never edit a released entry:
 * append a new one.
 */
static const char *const sq_migrations[] = {
    /* 1: the three kinds of store. */
    "CREATE TABLE keyval ("
    " host TEXT NOT NULL, store TEXT NOT NULL, user TEXT NOT NULL,"
    " value TEXT NOT NULL,"
    " PRIMARY KEY (host, store, user)) WITHOUT ROWID;"
    "CREATE INDEX keyval_user ON keyval (host, user);"
    "CREATE TABLE map ("
    " host TEXT NOT NULL, store TEXT NOT NULL, user TEXT NOT NULL,"
    " key TEXT NOT NULL, value TEXT NOT NULL,"
    " PRIMARY KEY (host, store, user, key)) WITHOUT ROWID;"
    "CREATE INDEX map_user ON map (host, user);"
    /* AUTOINCREMENT: an id is never handed out twice, even after the
     * newest items were deleted, so ids a client saw stay unambiguous. */
    "CREATE TABLE archive ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " host TEXT NOT NULL, store TEXT NOT NULL, user TEXT NOT NULL,"
    " peer TEXT, time INTEGER NOT NULL, data TEXT NOT NULL);"
    "CREATE INDEX archive_user ON archive (host, user, store, id);"
    "CREATE INDEX archive_peer ON archive (host, store, user, peer, id);"
    "CREATE INDEX archive_time ON archive (host, store, user, time);",
    /*
     * 2: archives by integer key.  An archive (host, store, user) is a
     * row of archive_owner; its items carry the owner's oid instead of
     * three strings, which every index repeated.  Ids stay, and so does
     * their sequence.  `ordered` says that the archive's times never
     * decrease in id order, which lets a time bound become an id bound:
     * set for every archive whose items already are, cleared for good by
     * an item appended with an older time than one before it.
     */
    "CREATE TABLE archive_owner ("
    " oid INTEGER PRIMARY KEY,"
    " host TEXT NOT NULL, store TEXT NOT NULL, user TEXT NOT NULL,"
    " ordered INTEGER NOT NULL DEFAULT 1,"
    " UNIQUE (host, store, user));"
    "CREATE INDEX archive_owner_user ON archive_owner (host, user);"
    "INSERT INTO archive_owner (host, store, user)"
    " SELECT DISTINCT host, store, user FROM archive"
    " ORDER BY host, store, user;"
    "CREATE TABLE archive_v2 ("
    " id INTEGER PRIMARY KEY,"
    " oid INTEGER NOT NULL,"
    " time INTEGER NOT NULL,"
    " peer TEXT,"
    " data TEXT NOT NULL);"
    "INSERT INTO archive_v2 (id, oid, time, peer, data)"
    " SELECT a.id, o.oid, a.time, a.peer, a.data FROM archive a"
    " JOIN archive_owner o ON o.host = a.host AND o.store = a.store"
    " AND o.user = a.user ORDER BY a.id;"
    /* Ids come from archive_seq, the newest id ever handed out, kept by
     * the module (AUTOINCREMENT's own sequence cost each insert a write
     * of sqlite_sequence); it goes on from the old table's, which may be
     * ahead of the newest id left. */
    "CREATE TABLE archive_seq (seq INTEGER NOT NULL);"
    "INSERT INTO archive_seq SELECT max("
    " coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'archive'), 0),"
    " coalesce((SELECT max(id) FROM archive_v2), 0));"
    "DROP TABLE archive;"
    "ALTER TABLE archive_v2 RENAME TO archive;"
    "CREATE INDEX archive_owner_id ON archive (oid);"
    "CREATE INDEX archive_owner_time ON archive (oid, time);"
    "CREATE INDEX archive_owner_peer ON archive (oid, peer);"
    "UPDATE archive_owner SET ordered = 0 WHERE oid IN"
    " (SELECT oid FROM (SELECT oid, time < lag(time)"
    " OVER (PARTITION BY oid ORDER BY id) AS back FROM archive)"
    " WHERE back);",
};

#define SQ_NMIGRATIONS (sizeof(sq_migrations) / sizeof(sq_migrations[0]))


static const char *const sq_sql[SQ_NSTMT] = {
    [SQ_BEGIN] = "BEGIN IMMEDIATE",
    [SQ_COMMIT] = "COMMIT",
    [SQ_ROLLBACK] = "ROLLBACK",
    [SQ_KV_GET] = "SELECT value FROM keyval"
                  " WHERE host = ?1 AND store = ?2 AND user = ?3",
    [SQ_KV_SET] = "INSERT OR REPLACE INTO keyval (host, store, user, value)"
                  " VALUES (?1, ?2, ?3, ?4)",
    [SQ_KV_DEL] = "DELETE FROM keyval"
                  " WHERE host = ?1 AND store = ?2 AND user = ?3",
    [SQ_MAP_GET] = "SELECT value FROM map WHERE host = ?1 AND store = ?2"
                   " AND user = ?3 AND key = ?4",
    [SQ_MAP_SET] = "INSERT OR REPLACE INTO map (host, store, user, key,"
                   " value) VALUES (?1, ?2, ?3, ?4, ?5)",
    [SQ_MAP_DEL] = "DELETE FROM map WHERE host = ?1 AND store = ?2"
                   " AND user = ?3 AND key = ?4",
    [SQ_MAP_ALL] = "SELECT key, value FROM map"
                   " WHERE host = ?1 AND store = ?2 AND user = ?3",
    [SQ_AR_APPEND] = "INSERT INTO archive (id, oid, time, peer, data)"
                     " VALUES (?5, ?1, ?2, ?3, ?4)",
    [SQ_AR_SEQ_GET] = "SELECT max(seq, coalesce((SELECT max(id)"
                      " FROM archive), 0)) FROM archive_seq",
    [SQ_AR_SEQ_SET] = "UPDATE archive_seq SET seq = ?1",
    [SQ_DATA_VERSION] = "PRAGMA data_version",
    [SQ_AR_EXISTS] = "SELECT 1 FROM archive WHERE id = ?2 AND oid = ?1",
    [SQ_AR_OWNER_GET] = "SELECT oid, ordered FROM archive_owner"
                        " WHERE host = ?1 AND store = ?2 AND user = ?3",
    [SQ_AR_OWNER_ADD] = "INSERT INTO archive_owner (host, store, user)"
                        " VALUES (?1, ?2, ?3)",
    [SQ_AR_OWNER_DEL] = "DELETE FROM archive_owner WHERE oid = ?1",
    [SQ_AR_MAX_TIME] = "SELECT max(time) FROM archive WHERE oid = ?1",
    [SQ_AR_UNORDERED] = "UPDATE archive_owner SET ordered = 0"
                        " WHERE oid = ?1",
    [SQ_USERS_KV] = "SELECT user FROM keyval WHERE host = ?1 AND store = ?2"
                    " ORDER BY user",
    [SQ_USERS_MAP] = "SELECT DISTINCT user FROM map"
                     " WHERE host = ?1 AND store = ?2 ORDER BY user",
    [SQ_USERS_AR] = "SELECT user FROM archive_owner o"
                    " WHERE host = ?1 AND store = ?2 AND EXISTS"
                    " (SELECT 1 FROM archive a WHERE a.oid = o.oid)"
                    " ORDER BY user",
    [SQ_PURGE_KV] = "DELETE FROM keyval WHERE host = ?1 AND user = ?2",
    [SQ_PURGE_MAP] = "DELETE FROM map WHERE host = ?1 AND user = ?2",
    [SQ_PURGE_AR] = "DELETE FROM archive WHERE oid IN"
                    " (SELECT oid FROM archive_owner"
                    " WHERE host = ?1 AND user = ?2)",
    [SQ_PURGE_AR_OWNER] = "DELETE FROM archive_owner"
                          " WHERE host = ?1 AND user = ?2",
    /* Keyset pages: every page an index range after the last key. */
    [SQ_DUMP_KV] = "SELECT host, store, user, value FROM keyval"
                   " WHERE (host, store, user) > (?1, ?2, ?3)"
                   " ORDER BY host, store, user LIMIT ?4",
    [SQ_DUMP_MAP] = "SELECT host, store, user, key, value FROM map"
                    " WHERE (host, store, user, key) > (?1, ?2, ?3, ?4)"
                    " ORDER BY host, store, user, key LIMIT ?5",
    [SQ_DUMP_AR] = "SELECT o.host, o.store, o.user, a.id, a.time, a.peer,"
                   " a.data, a.oid FROM archive a"
                   " JOIN archive_owner o ON o.oid = a.oid"
                   " WHERE (a.oid, a.id) > (?1, ?2)"
                   " ORDER BY a.oid, a.id LIMIT ?3",
    [SQ_CLEAR_KV] = "DELETE FROM keyval",
    [SQ_CLEAR_MAP] = "DELETE FROM map",
    [SQ_CLEAR_AR] = "DELETE FROM archive",
    [SQ_CLEAR_AR_OWNER] = "DELETE FROM archive_owner",
};



static char *
sq_msg(sq_db_t *db, const char *what)
{
    char *s;

    if (asprintf(&s, "%s: %s (%d)", what, sqlite3_errmsg(db->db),
                 sqlite3_extended_errcode(db->db)) < 0)
        return NULL;
    return s;
}


int
sq_fail(sq_db_t *db, const char *what, char **msg)
{
    if (msg != NULL && *msg == NULL)
        *msg = sq_msg(db, what);
    return EMBER_EIO;
}


/* Prepared once, kept for the life of the connection. */
sqlite3_stmt *
sq_prepare(sq_db_t *db, sqlite3_stmt **slot, const char *sql, char **msg)
{
    if (*slot == NULL
        && sqlite3_prepare_v3(db->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                              slot, NULL) != SQLITE_OK) {
        sq_fail(db, "prepare", msg);
        *slot = NULL;
    }
    return *slot;
}


sqlite3_stmt *
sq_stmt(sq_db_t *db, int which, char **msg)
{
    return sq_prepare(db, &db->st[which], sq_sql[which], msg);
}


void
sq_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}


/* Run a statement that returns no rows. */
int
sq_step_done(sq_db_t *db, sqlite3_stmt *st, const char *what, char **msg)
{
    int rc = sqlite3_step(st);

    if (rc != SQLITE_DONE) {
        sq_fail(db, what, msg);
        sq_done(st);
        return EMBER_EIO;
    }
    sq_done(st);
    return 0;
}


int
sq_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s == NULL)
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}


int
sq_bind_owner(sqlite3_stmt *st, const ember_store_req_t *req)
{
    if (sq_bind_text(st, 1, req->host) != SQLITE_OK
        || sq_bind_text(st, 2, req->store) != SQLITE_OK
        || sq_bind_text(st, 3, req->user != NULL ? req->user : "")
               != SQLITE_OK)
        return -1;
    return 0;
}


static int
sq_exec(sq_db_t *db, const char *sql, const char *what, char *err,
        size_t errlen)
{
    char *e = NULL;

    if (sqlite3_exec(db->db, sql, NULL, NULL, &e) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", what,
                 e != NULL ? e : sqlite3_errmsg(db->db));
        sqlite3_free(e);
        return EMBER_EIO;
    }
    return 0;
}


int
sq_db_schema_version(void)
{
    return (int) SQ_NMIGRATIONS;
}


static int
sq_migrate(sq_db_t *db, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    char sql[96];
    int version = 0, rc;
    size_t i;

    if (sq_exec(db, "BEGIN IMMEDIATE", "begin migration", err, errlen) < 0)
        return EMBER_EIO;
    if (sq_exec(db, "CREATE TABLE IF NOT EXISTS schema_version"
                    " (version INTEGER NOT NULL)", "schema_version",
                err, errlen) < 0)
        goto fail;
    if (sqlite3_prepare_v2(db->db, "SELECT max(version) FROM schema_version",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail_db;
    if ((rc = sqlite3_step(st)) != SQLITE_ROW)
        goto fail_db;
    version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (version > (int) SQ_NMIGRATIONS) {
        snprintf(err, errlen, "database schema version %d is newer than "
                 "this module's (%d)", version, (int) SQ_NMIGRATIONS);
        sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
        return EMBER_ESTATE;
    }
    for (i = (size_t) version; i < SQ_NMIGRATIONS; i++) {
        snprintf(sql, sizeof(sql), "migration %zu", i + 1);
        if (sq_exec(db, sq_migrations[i], sql, err, errlen) < 0)
            goto fail;
    }
    if (version < (int) SQ_NMIGRATIONS) {
        snprintf(sql, sizeof(sql), "DELETE FROM schema_version;"
                 "INSERT INTO schema_version VALUES (%d)",
                 (int) SQ_NMIGRATIONS);
        if (sq_exec(db, sql, "schema_version", err, errlen) < 0)
            goto fail;
    }
    if (sq_exec(db, "COMMIT", "commit migration", err, errlen) < 0)
        goto fail;
    return 0;

fail_db:
    snprintf(err, errlen, "schema_version: %s", sqlite3_errmsg(db->db));
fail:
    sqlite3_finalize(st);
    sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
    return EMBER_EIO;
}


int
sq_db_open(sq_db_t **out, const sq_opts_t *o, char *err, size_t errlen)
{
    sq_db_t *db;
    sqlite3_stmt *st = NULL;
    char sql[128];
    int wal, rc = EMBER_EIO;

    *out = NULL;
    if ((db = calloc(1, sizeof(*db))) == NULL)
        return EMBER_ENOMEM;
    /* One thread owns the connection: no SQLite mutexes needed. */
    if (sqlite3_open_v2(o->path, &db->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                            | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", o->path,
                 db->db != NULL ? sqlite3_errmsg(db->db) : "out of memory");
        goto fail;
    }
    sqlite3_extended_result_codes(db->db, 1);
    /* emberctl may open the file while another process holds it. */
    sqlite3_busy_timeout(db->db, 5000);
    if (sqlite3_prepare_v2(db->db, "PRAGMA journal_mode=WAL", -1, &st,
                           NULL) != SQLITE_OK
        || sqlite3_step(st) != SQLITE_ROW) {
        snprintf(err, errlen, "%s: journal_mode: %s", o->path,
                 sqlite3_errmsg(db->db));
        goto fail;
    }
    wal = sqlite3_stricmp((const char *) sqlite3_column_text(st, 0),
                          "wal") == 0;
    sqlite3_finalize(st);
    st = NULL;
    if (!wal) {
        snprintf(err, errlen, "%s: cannot use WAL journal mode", o->path);
        goto fail;
    }
    /* The WAL is folded back into the file every 4,000 pages (16 MiB)
     * rather than SQLite's 1,000: a page that changes again before then
     * (an archive's last index pages, appended to all the time) is
     * copied, and synced, once. */
    snprintf(sql, sizeof(sql), "PRAGMA synchronous=%s; PRAGMA cache_size=%d;"
             " PRAGMA wal_autocheckpoint=4000",
             o->sync_full ? "FULL" : "NORMAL", -o->cache_kb);
    if (sq_exec(db, sql, o->path, err, errlen) < 0)
        goto fail;
    if ((rc = sq_migrate(db, err, errlen)) < 0)
        goto fail;
    /* Read at the first transaction. */
    db->data_version = -1;
    *out = db;
    return 0;

fail:
    sqlite3_finalize(st);
    sqlite3_close(db->db);
    free(db);
    return rc;
}


void
sq_db_close(sq_db_t *db)
{
    size_t i;

    if (db == NULL)
        return;
    for (i = 0; i < SQ_NSTMT; i++)
        sqlite3_finalize(db->st[i]);
    for (i = 0; i < EMBER_AQ_NMASKS; i++) {
        sqlite3_finalize(db->ar_select[i]);
        sqlite3_finalize(db->ar_delete[i]);
    }
    sq_owners_clear(db);
    free(db->owners);
    free(db->plan);
    free(db->note);
    /* The last connection to close checkpoints the WAL into the file. */
    sqlite3_close(db->db);
    free(db);
}


static int
sq_simple(sq_db_t *db, int which, const char *what, char **msg)
{
    sqlite3_stmt *st;

    if ((st = sq_stmt(db, which, msg)) == NULL)
        return EMBER_EIO;
    return sq_step_done(db, st, what, msg);
}


/* The newest archive id ever handed out, from the file. */
static int
sq_load_seq(sq_db_t *db, char **msg)
{
    sqlite3_stmt *st;

    if ((st = sq_stmt(db, SQ_AR_SEQ_GET, msg)) == NULL)
        return EMBER_EIO;
    if (sqlite3_step(st) != SQLITE_ROW) {
        sq_fail(db, "archive sequence", msg);
        sq_done(st);
        return EMBER_EIO;
    }
    db->ar_saved = sqlite3_column_int64(st, 0);
    db->ar_next = db->ar_saved + 1;
    sq_done(st);
    return 0;
}


int
sq_db_begin(sq_db_t *db, char **msg)
{
    sqlite3_stmt *st;
    sqlite3_int64 v;

    if (sq_simple(db, SQ_BEGIN, "begin", msg) < 0)
        return EMBER_EIO;
    /*
     * What this connection keeps of the file (archive owners, the id
     * sequence) holds while nobody else writes it.  Somebody did (an
     * offline emberctl, say) when the data version moved: read again.
     */
    if ((st = sq_stmt(db, SQ_DATA_VERSION, msg)) == NULL)
        goto fail;
    if (sqlite3_step(st) != SQLITE_ROW) {
        sq_fail(db, "data_version", msg);
        sq_done(st);
        goto fail;
    }
    v = sqlite3_column_int64(st, 0);
    sq_done(st);
    if (v != db->data_version) {
        sq_owners_clear(db);
        if (sq_load_seq(db, msg) < 0)
            goto fail;
        db->data_version = v;
    }
    return 0;

fail:
    sq_db_rollback(db);
    return EMBER_EIO;
}


int
sq_db_commit(sq_db_t *db, char **msg)
{
    sqlite3_stmt *st;

    /* The ids handed out in the transaction, remembered with it. */
    if (db->ar_next - 1 > db->ar_saved) {
        if ((st = sq_stmt(db, SQ_AR_SEQ_SET, msg)) == NULL)
            return EMBER_EIO;
        if (sqlite3_bind_int64(st, 1, db->ar_next - 1) != SQLITE_OK) {
            sq_done(st);
            return sq_fail(db, "archive sequence", msg);
        }
        if (sq_step_done(db, st, "archive sequence", msg) < 0)
            return EMBER_EIO;
    }
    if (sq_simple(db, SQ_COMMIT, "commit", msg) < 0)
        return EMBER_EIO;
    db->ar_saved = db->ar_next - 1;
    return 0;
}


void
sq_db_rollback(sq_db_t *db)
{
    /* What the cache learnt in the transaction may be gone with it, and
     * so are the ids it handed out. */
    sq_owners_clear(db);
    db->ar_next = db->ar_saved + 1;
    /* Fails harmlessly when SQLite already rolled back on its own. */
    if (sqlite3_get_autocommit(db->db) == 0)
        sq_simple(db, SQ_ROLLBACK, "rollback", NULL);
}
