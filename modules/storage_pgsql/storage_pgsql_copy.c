/* storage_pgsql_copy.c -- every record out and in, for emberctl
 * migrate-storage: DUMP pages through a table by its key, LOAD writes rows
 * as they were (archive ids included), CLEAR empties the database. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_pgsql.h"

#define OID_INT8 20
#define AR_OID 7   /* selected after the row's columns, for the cursor */


static int
pg_nomem(PGresult *res, json_t *v)
{
    PQclear(res);
    json_decref(v);
    return EMBER_ENOMEM;
}


/* Column i of row r: integers as numbers, text as strings. */
static json_t *
pg_column_json(const PGresult *res, int r, int i)
{
    if (PQgetisnull(res, r, i))
        return json_null();
    if (PQftype(res, i) == OID_INT8)
        return json_integer(strtoll(PQgetvalue(res, r, i), NULL, 10));
    return json_stringn(PQgetvalue(res, r, i),
                        (size_t) PQgetlength(res, r, i));
}


/* The newest archive id handed out, 0 before the first. */
static int
pg_seq(pg_conn_t *c, json_int_t *seq, char **msg)
{
    PGresult *res;

    if ((res = pg_exec_stmt(c, PG_AR_SEQ_GET, 0, NULL, PGRES_TUPLES_OK,
                            msg)) == NULL)
        return EMBER_EIO;
    *seq = PQntuples(res) > 0 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    return 0;
}


static int
pg_dump(pg_conn_t *c, const ember_store_req_t *req, json_t **result,
        char **msg)
{
    static const int which[] = { [EMBER_STORE_KEYVAL] = PG_DUMP_KV,
                                 [EMBER_STORE_MAP] = PG_DUMP_MAP,
                                 [EMBER_STORE_ARCHIVE] = PG_DUMP_AR };
    json_t *max = json_object_get(req->value, "max");
    json_t *after = json_object_get(req->value, "after");
    json_t *rows, *row, *v, *next = NULL;
    int ar = req->kind == EMBER_STORE_ARCHIVE, cols, keys, i, r, n;
    const char *p[6];
    char num[6][24];
    json_int_t seq = 0;
    PGresult *res;

    if (ember_row_cols(req->kind) == 0 || !json_is_integer(max)
        || json_integer_value(max) <= 0)
        return EMBER_EINVAL;
    cols = ember_row_cols(req->kind);
    keys = ar ? 2 : cols - 1;
    if (after != NULL && !json_is_null(after)
        && (!json_is_array(after) || (int) json_array_size(after) != keys))
        return EMBER_EINVAL;
    for (i = 0; i < keys; i++) {
        v = json_array_get(after, (size_t) i);
        if (ar) {
            snprintf(num[i], sizeof(num[i]), "%" JSON_INTEGER_FORMAT,
                     json_integer_value(v));
            p[i] = num[i];
        } else {
            p[i] = json_string_value(v) != NULL ? json_string_value(v) : "";
        }
    }
    snprintf(num[keys], sizeof(num[keys]), "%" JSON_INTEGER_FORMAT,
             json_integer_value(max));
    p[keys] = num[keys];
    if (ar && pg_seq(c, &seq, msg) < 0)
        return EMBER_EIO;
    if ((res = pg_exec_stmt(c, which[req->kind], keys + 1, p,
                            PGRES_TUPLES_OK, msg)) == NULL)
        return EMBER_EIO;
    if ((rows = json_array()) == NULL)
        return pg_nomem(res, NULL);
    n = PQntuples(res);
    for (r = 0; r < n; r++) {
        if ((row = json_array()) == NULL
            || json_array_append_new(rows, row) < 0)
            return pg_nomem(res, rows);
        for (i = 0; i < cols; i++)
            if ((v = pg_column_json(res, r, i)) == NULL
                || json_array_append_new(row, v) < 0) {
                PQclear(res);
                json_decref(rows);
                if ((*msg = strdup("a stored text is not UTF-8")) == NULL)
                    return EMBER_ENOMEM;
                return EMBER_EIO;
            }
    }
    if (n > 0 && n == json_integer_value(max)) {
        /* The next page starts after the last row's key: an archive
         * item's (oid, id), another table's primary key. */
        row = json_array_get(rows, (size_t) n - 1);
        next = ar ? json_pack("[I, O]", (json_int_t) strtoll(
                                  PQgetvalue(res, n - 1, AR_OID), NULL, 10),
                              json_array_get(row, EMBER_ROW_ID))
                  : json_array();
        for (i = 0; !ar && next != NULL && i < keys; i++)
            if (json_array_append(next, json_array_get(row, (size_t) i)) < 0) {
                json_decref(next);
                return pg_nomem(res, rows);
            }
        if (next == NULL)
            return pg_nomem(res, rows);
    }
    PQclear(res);
    *result = json_pack("{s:o, s:o*, s:I}", "rows", rows, "next", next,
                        "seq", seq);
    return *result != NULL ? 0 : EMBER_ENOMEM;
}


/* What LOAD's rows share: the connection, the newest id written. */
typedef struct pg_load_s {
    pg_conn_t *c;
    json_int_t max_id;
} pg_load_t;


static int
pg_load_row(void *ctx, json_t *row, ember_store_kind_t kind, char **msg)
{
    pg_load_t *l = ctx;
    const char *p[7];
    char id[24], time[24];
    PGresult *res;
    int i, n = ember_row_cols(kind), which;

    if (kind == EMBER_STORE_ARCHIVE) {
        json_int_t v = json_integer_value(json_array_get(row, EMBER_ROW_ID));

        if (v > l->max_id)
            l->max_id = v;
        snprintf(id, sizeof(id), "%" JSON_INTEGER_FORMAT, v);
        snprintf(time, sizeof(time), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_array_get(row, EMBER_ROW_ID + 1)));
        /* ar_load's order: host, store, user, time, with, data, id. */
        for (i = 0; i < 3; i++)
            p[i] = ember_row_text(row, i);
        p[3] = time;
        p[4] = ember_row_text(row, EMBER_ROW_ID + 2);
        p[5] = ember_row_text(row, EMBER_ROW_ID + 3);
        p[6] = id;
        which = PG_AR_LOAD;
    } else {
        for (i = 0; i < n; i++)
            p[i] = ember_row_text(row, i);
        which = kind == EMBER_STORE_MAP ? PG_MAP_SET : PG_KV_SET;
    }
    if ((res = pg_exec_stmt(l->c, which, n, p, PGRES_COMMAND_OK, msg))
        == NULL)
        return EMBER_EIO;
    PQclear(res);
    return 0;
}


static int
pg_load(pg_conn_t *c, const ember_store_req_t *req, json_t **result,
        char **msg)
{
    json_t *seq = json_object_get(req->value, "seq");
    pg_load_t l = { c, json_is_integer(seq) ? json_integer_value(seq) : 0 };
    const char *p[1];
    char num[24];
    PGresult *res;
    int n;

    if ((n = ember_load_each(req, pg_load_row, &l, msg)) < 0)
        return n;
    /* Ids handed out by the source, and the ones given here, stay used. */
    if (l.max_id > 0) {
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, l.max_id);
        p[0] = num;
        if ((res = pg_exec_stmt(c, PG_AR_SEQ_RAISE, 1, p, PGRES_TUPLES_OK,
                                msg)) == NULL)
            return EMBER_EIO;
        PQclear(res);
    }
    return ember_count_result("loaded", n, result);
}


static int
pg_clear(pg_conn_t *c, json_t **result, char **msg)
{
    static const int which[] = { PG_CLEAR_KV, PG_CLEAR_MAP, PG_CLEAR_AR,
                                 PG_CLEAR_AR_OWNER };
    json_int_t deleted = 0;
    PGresult *res;
    size_t i;

    for (i = 0; i < sizeof(which) / sizeof(which[0]); i++) {
        if ((res = pg_exec_stmt(c, which[i], 0, NULL, PGRES_COMMAND_OK, msg))
            == NULL)
            return EMBER_EIO;
        if (which[i] != PG_CLEAR_AR_OWNER)
            deleted += strtoll(PQcmdTuples(res), NULL, 10);
        PQclear(res);
    }
    return ember_count_result("deleted", deleted, result);
}


int
pg_copy_run(pg_conn_t *c, const ember_store_req_t *req, json_t **result,
            char **msg)
{
    *result = NULL;
    switch (req->op) {
    case EMBER_SOP_DUMP:
        return pg_dump(c, req, result, msg);
    case EMBER_SOP_LOAD:
        return pg_load(c, req, result, msg);
    case EMBER_SOP_CLEAR:
        return pg_clear(c, result, msg);
    default:
        return EMBER_EINVAL;
    }
}
