/* storage_sqlite_copy.c -- every record out and in, for emberctl
 * migrate-storage: DUMP pages through a table by its key, LOAD writes rows
 * as they were (archive ids included), CLEAR empties the file. */
#include <string.h>

#include "storage_sqlite.h"

#define AR_ID EMBER_ROW_ID
#define AR_OID 7   /* selected after the row's columns, for the cursor */


/* Column i of a page's row: integers as numbers, text as strings. */
static json_t *
sq_column_json(sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_NULL:
        return json_null();
    case SQLITE_INTEGER:
        return json_integer(sqlite3_column_int64(st, i));
    default:
        return json_stringn((const char *) sqlite3_column_text(st, i),
                            (size_t) sqlite3_column_bytes(st, i));
    }
}


/* Bind the cursor `after` (NULL or null: from the start) to ?1.. */
static int
sq_bind_cursor(sqlite3_stmt *st, ember_store_kind_t kind, json_t *after,
               int keys)
{
    json_t *v;
    int i, rc;

    if (after != NULL && !json_is_null(after)
        && (!json_is_array(after) || (int) json_array_size(after) != keys))
        return EMBER_EINVAL;
    for (i = 0; i < keys; i++) {
        v = json_array_get(after, (size_t) i);
        if (kind == EMBER_STORE_ARCHIVE)
            rc = sqlite3_bind_int64(st, i + 1, json_integer_value(v));
        else
            rc = sqlite3_bind_text(st, i + 1, json_string_value(v) != NULL
                                   ? json_string_value(v) : "", -1,
                                   SQLITE_TRANSIENT);
        if (rc != SQLITE_OK)
            return EMBER_EIO;
    }
    return 0;
}


/* The next page starts after the last row's key: an archive item's
 * (oid, id), another table's primary key. */
static json_t *
sq_cursor(json_t *last, ember_store_kind_t kind, int keys)
{
    json_t *c;
    int i;

    if (kind == EMBER_STORE_ARCHIVE)
        return json_pack("[O, O]", json_array_get(last, AR_OID),
                         json_array_get(last, AR_ID));
    if ((c = json_array()) == NULL)
        return NULL;
    for (i = 0; i < keys; i++)
        if (json_array_append(c, json_array_get(last, (size_t) i)) < 0) {
            json_decref(c);
            return NULL;
        }
    return c;
}


static int
sq_dump(sq_db_t *db, const ember_store_req_t *req, json_t **result,
        char **msg)
{
    static const int which[] = { [EMBER_STORE_KEYVAL] = SQ_DUMP_KV,
                                 [EMBER_STORE_MAP] = SQ_DUMP_MAP,
                                 [EMBER_STORE_ARCHIVE] = SQ_DUMP_AR };
    json_t *max = json_object_get(req->value, "max");
    json_t *rows = NULL, *row, *v, *next = NULL;
    int ar = req->kind == EMBER_STORE_ARCHIVE, cols, keys, i, rc;
    size_t k;
    sqlite3_stmt *st;

    if (ember_row_cols(req->kind) == 0 || !json_is_integer(max)
        || json_integer_value(max) <= 0)
        return EMBER_EINVAL;
    cols = ember_row_cols(req->kind) + ar;
    keys = ar ? 2 : cols - 1;
    if ((st = sq_stmt(db, which[req->kind], msg)) == NULL)
        return EMBER_EIO;
    if ((rc = sq_bind_cursor(st, req->kind,
                             json_object_get(req->value, "after"), keys)) < 0
        || sqlite3_bind_int64(st, keys + 1, json_integer_value(max))
               != SQLITE_OK) {
        sq_done(st);
        return rc == EMBER_EINVAL ? rc : sq_fail(db, "dump", msg);
    }
    if ((rows = json_array()) == NULL)
        goto nomem;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((row = json_array()) == NULL
            || json_array_append_new(rows, row) < 0)
            goto nomem;
        for (i = 0; i < cols; i++)
            if ((v = sq_column_json(st, i)) == NULL
                || json_array_append_new(row, v) < 0) {
                sq_done(st);
                json_decref(rows);
                if ((*msg = strdup("a stored text is not UTF-8")) == NULL)
                    return EMBER_ENOMEM;
                return EMBER_EIO;
            }
    }
    if (rc != SQLITE_DONE) {
        json_decref(rows);
        sq_fail(db, "dump", msg);
        sq_done(st);
        return EMBER_EIO;
    }
    sq_done(st);
    if (json_array_size(rows) == (size_t) json_integer_value(max)
        && (next = sq_cursor(json_array_get(rows, json_array_size(rows) - 1),
                             req->kind, keys)) == NULL)
        goto nomem;
    if (ar)
        json_array_foreach(rows, k, row)
            json_array_remove(row, AR_OID);
    *result = json_pack("{s:o, s:o*, s:I}", "rows", rows, "next", next,
                        "seq", (json_int_t) (db->ar_next - 1));
    return *result != NULL ? 0 : EMBER_ENOMEM;

nomem:
    sq_done(st);
    json_decref(rows);
    return EMBER_ENOMEM;
}


static int
sq_load_row(void *ctx, json_t *row, ember_store_kind_t kind, char **msg)
{
    sq_db_t *db = ctx;
    ember_store_req_t owner;
    sqlite3_stmt *st;
    json_int_t id;
    int i, cols = ember_row_cols(kind);

    if (kind == EMBER_STORE_ARCHIVE) {
        memset(&owner, 0, sizeof(owner));
        owner.size = sizeof(owner);
        owner.kind = kind;
        owner.host = ember_row_text(row, 0);
        owner.store = ember_row_text(row, 1);
        owner.user = ember_row_text(row, 2);
        id = json_integer_value(json_array_get(row, AR_ID));
        if (id >= db->ar_next)
            db->ar_next = id + 1;
        return sq_archive_insert(
            db, &owner, id, json_integer_value(json_array_get(row, AR_ID + 1)),
            ember_row_text(row, AR_ID + 2), ember_row_text(row, AR_ID + 3), msg);
    }
    if ((st = sq_stmt(db, kind == EMBER_STORE_MAP ? SQ_MAP_SET : SQ_KV_SET,
                      msg)) == NULL)
        return EMBER_EIO;
    for (i = 0; i < cols; i++)
        if (sq_bind_text(st, i + 1, ember_row_text(row, i)) != SQLITE_OK) {
            sq_done(st);
            return sq_fail(db, "load", msg);
        }
    return sq_step_done(db, st, "load", msg);
}


static int
sq_load(sq_db_t *db, const ember_store_req_t *req, json_t **result,
        char **msg)
{
    json_t *seq = json_object_get(req->value, "seq");
    int n;

    if ((n = ember_load_each(req, sq_load_row, db, msg)) < 0)
        return n;
    /* Ids handed out by the source after its newest item stay used. */
    if (json_is_integer(seq) && json_integer_value(seq) >= db->ar_next)
        db->ar_next = json_integer_value(seq) + 1;
    return ember_count_result("loaded", n, result);
}


static int
sq_clear(sq_db_t *db, json_t **result, char **msg)
{
    static const int which[] = { SQ_CLEAR_KV, SQ_CLEAR_MAP, SQ_CLEAR_AR,
                                 SQ_CLEAR_AR_OWNER };
    json_int_t deleted = 0;
    sqlite3_stmt *st;
    size_t i;

    for (i = 0; i < sizeof(which) / sizeof(which[0]); i++) {
        if ((st = sq_stmt(db, which[i], msg)) == NULL
            || sq_step_done(db, st, "clear", msg) < 0)
            return EMBER_EIO;
        if (which[i] != SQ_CLEAR_AR_OWNER)
            deleted += sqlite3_changes(db->db);
    }
    sq_owners_clear(db);
    return ember_count_result("deleted", deleted, result);
}


int
sq_copy_run(sq_db_t *db, const ember_store_req_t *req, json_t **result,
            char **msg)
{
    *result = NULL;
    switch (req->op) {
    case EMBER_SOP_DUMP:
        return sq_dump(db, req, result, msg);
    case EMBER_SOP_LOAD:
        return sq_load(db, req, result, msg);
    case EMBER_SOP_CLEAR:
        return sq_clear(db, result, msg);
    default:
        return EMBER_EINVAL;
    }
}
