/* storage_sqlite_ops.c -- keyval, map, users and purge requests; dispatch. */
#include <stdlib.h>
#include <string.h>

#include "storage_sqlite.h"


static json_t *
sq_json_column(sqlite3_stmt *st, int col)
{
    const char *s = (const char *) sqlite3_column_text(st, col);

    if (s == NULL)
        return NULL;
    return json_loads(s, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
}


/* KEYVAL_GET and MAP_GET: one JSON value or EMBER_ENOENT. */
static int
sq_get(sq_db_t *db, int which, const ember_store_req_t *req, json_t **result,
       char **msg)
{
    sqlite3_stmt *st;
    int rc, status;

    if ((st = sq_stmt(db, which, msg)) == NULL)
        return EMBER_EIO;
    if (sq_bind_owner(st, req) < 0
        || (which == SQ_MAP_GET && sq_bind_text(st, 4, req->key) != SQLITE_OK))
        goto fail;
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        status = EMBER_ENOENT;
    } else if (rc == SQLITE_ROW) {
        *result = sq_json_column(st, 0);
        status = 0;
        if (*result == NULL) {
            status = EMBER_EIO;
            if ((*msg = strdup("stored value is not JSON")) == NULL)
                status = EMBER_ENOMEM;
        }
    } else {
        goto fail;
    }
    sq_done(st);
    return status;

fail:
    sq_fail(db, "get", msg);
    sq_done(st);
    return EMBER_EIO;
}


/* KEYVAL_SET and MAP_SET: a NULL value deletes. */
static int
sq_set(sq_db_t *db, const ember_store_req_t *req, char **msg)
{
    int is_map = req->op == EMBER_SOP_MAP_SET, which, vi;
    sqlite3_stmt *st;
    char *text = NULL;

    if (req->value == NULL)
        which = is_map ? SQ_MAP_DEL : SQ_KV_DEL;
    else
        which = is_map ? SQ_MAP_SET : SQ_KV_SET;
    if (req->value != NULL
        && (text = json_dumps(req->value, JSON_COMPACT | JSON_ENCODE_ANY))
               == NULL)
        return EMBER_ENOMEM;
    if ((st = sq_stmt(db, which, msg)) == NULL) {
        free(text);
        return EMBER_EIO;
    }
    vi = is_map ? 5 : 4;
    /* SQLite owns text from here, and frees it even when binding fails. */
    if ((text != NULL
         && sqlite3_bind_text(st, vi, text, -1, free) != SQLITE_OK)
        || sq_bind_owner(st, req) < 0
        || (is_map && sq_bind_text(st, 4, req->key) != SQLITE_OK)) {
        sq_done(st);
        return sq_fail(db, "set", msg);
    }
    return sq_step_done(db, st, "set", msg);
}


static int
sq_map_all(sq_db_t *db, const ember_store_req_t *req, json_t **result,
           char **msg)
{
    sqlite3_stmt *st;
    json_t *obj, *v;
    int rc;

    if ((st = sq_stmt(db, SQ_MAP_ALL, msg)) == NULL)
        return EMBER_EIO;
    if ((obj = json_object()) == NULL)
        return EMBER_ENOMEM;
    if (sq_bind_owner(st, req) < 0)
        goto fail;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((v = sq_json_column(st, 1)) == NULL) {
            *msg = strdup("stored value is not JSON");
            goto fail_value;
        }
        if (json_object_set_new(obj, (const char *) sqlite3_column_text(st, 0),
                                v) < 0)
            goto fail_value;
    }
    if (rc != SQLITE_DONE)
        goto fail;
    sq_done(st);
    *result = obj;
    return 0;

fail:
    sq_fail(db, "map_all", msg);
fail_value:
    sq_done(st);
    json_decref(obj);
    return EMBER_EIO;
}


static int
sq_users(sq_db_t *db, const ember_store_req_t *req, json_t **result,
         char **msg)
{
    sqlite3_stmt *st;
    json_t *arr;
    int which, rc;

    switch (req->kind) {
    case EMBER_STORE_KEYVAL: which = SQ_USERS_KV; break;
    case EMBER_STORE_MAP: which = SQ_USERS_MAP; break;
    case EMBER_STORE_ARCHIVE: which = SQ_USERS_AR; break;
    default: return EMBER_EINVAL;
    }
    if ((st = sq_stmt(db, which, msg)) == NULL)
        return EMBER_EIO;
    if ((arr = json_array()) == NULL)
        return EMBER_ENOMEM;
    if (sq_bind_text(st, 1, req->host) != SQLITE_OK
        || sq_bind_text(st, 2, req->store) != SQLITE_OK)
        goto fail;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (json_array_append_new(arr, json_string((const char *)
                                  sqlite3_column_text(st, 0))) < 0) {
            sq_done(st);
            json_decref(arr);
            return EMBER_ENOMEM;
        }
    if (rc != SQLITE_DONE)
        goto fail;
    sq_done(st);
    *result = arr;
    return 0;

fail:
    sq_fail(db, "users", msg);
    sq_done(st);
    json_decref(arr);
    return EMBER_EIO;
}


static int
sq_purge(sq_db_t *db, const ember_store_req_t *req, json_t **result,
         char **msg)
{
    /* Items, then the archives they were in (not counted). */
    static const int which[] = { SQ_PURGE_KV, SQ_PURGE_MAP, SQ_PURGE_AR,
                                 SQ_PURGE_AR_OWNER };
    sqlite3_stmt *st;
    json_int_t deleted = 0;
    size_t i;

    for (i = 0; i < sizeof(which) / sizeof(which[0]); i++) {
        if ((st = sq_stmt(db, which[i], msg)) == NULL)
            return EMBER_EIO;
        if (sq_bind_text(st, 1, req->host) != SQLITE_OK
            || sq_bind_text(st, 2, req->user) != SQLITE_OK) {
            sq_done(st);
            return sq_fail(db, "purge", msg);
        }
        if (sq_step_done(db, st, "purge", msg) < 0)
            return EMBER_EIO;
        if (which[i] != SQ_PURGE_AR_OWNER)
            deleted += sqlite3_changes(db->db);
    }
    sq_owners_clear(db);
    *result = json_pack("{s:I}", "deleted", deleted);
    return 0;
}


int
sq_db_run(sq_db_t *db, const ember_store_req_t *req, json_t **result,
          char **msg)
{
    *result = NULL;
    if (ember_store_req_check(req) < 0)
        return EMBER_EINVAL;
    switch (req->op) {
    case EMBER_SOP_KEYVAL_GET:
        return sq_get(db, SQ_KV_GET, req, result, msg);
    case EMBER_SOP_KEYVAL_SET:
        return sq_set(db, req, msg);
    case EMBER_SOP_MAP_GET:
        return sq_get(db, SQ_MAP_GET, req, result, msg);
    case EMBER_SOP_MAP_SET:
        return sq_set(db, req, msg);
    case EMBER_SOP_MAP_ALL:
        return sq_map_all(db, req, result, msg);
    case EMBER_SOP_ARCHIVE_APPEND:
        return sq_archive_append(db, req, result, msg);
    case EMBER_SOP_ARCHIVE_QUERY:
    case EMBER_SOP_ARCHIVE_DELETE:
        return sq_archive_run(db, req, result, msg);
    case EMBER_SOP_USERS:
        return sq_users(db, req, result, msg);
    case EMBER_SOP_PURGE_USER:
        return sq_purge(db, req, result, msg);
    case EMBER_SOP_DUMP:
    case EMBER_SOP_LOAD:
    case EMBER_SOP_CLEAR:
        return sq_copy_run(db, req, result, msg);
    default:
        return EMBER_ENOTSUP;
    }
}
