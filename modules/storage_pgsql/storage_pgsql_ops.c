/* storage_pgsql_ops.c -- keyval, map, users and purge requests; dispatch. */
#include <stdlib.h>
#include <string.h>

#include "storage_pgsql.h"


static const char *
pg_user(const ember_store_req_t *req)
{
    return req->user != NULL ? req->user : "";
}


static int
pg_not_json(char **msg)
{
    if ((*msg = strdup("stored value is not JSON")) == NULL)
        return EMBER_ENOMEM;
    return EMBER_EIO;
}


/* KEYVAL_GET and MAP_GET: one JSON value or EMBER_ENOENT. */
static int
pg_get(pg_conn_t *c, int which, const ember_store_req_t *req,
       json_t **result, char **msg)
{
    const char *p[4] = { req->host, req->store, pg_user(req), req->key };
    PGresult *res;
    int status = 0;

    if ((res = pg_exec_stmt(c, which, which == PG_MAP_GET ? 4 : 3, p,
                            PGRES_TUPLES_OK, msg)) == NULL)
        return EMBER_EIO;
    if (PQntuples(res) == 0)
        status = EMBER_ENOENT;
    else if ((*result = json_loads(PQgetvalue(res, 0, 0),
                                   JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL))
             == NULL)
        status = pg_not_json(msg);
    PQclear(res);
    return status;
}


/* KEYVAL_SET and MAP_SET: a NULL value deletes. */
static int
pg_set(pg_conn_t *c, const ember_store_req_t *req, char **msg)
{
    int is_map = req->op == EMBER_SOP_MAP_SET, which, n;
    const char *p[5] = { req->host, req->store, pg_user(req), NULL, NULL };
    char *text = NULL;
    PGresult *res;

    if (req->value == NULL) {
        which = is_map ? PG_MAP_DEL : PG_KV_DEL;
    } else {
        which = is_map ? PG_MAP_SET : PG_KV_SET;
        if ((text = json_dumps(req->value, JSON_COMPACT | JSON_ENCODE_ANY))
            == NULL)
            return EMBER_ENOMEM;
    }
    n = 3;
    if (is_map)
        p[n++] = req->key;
    if (text != NULL)
        p[n++] = text;
    res = pg_exec_stmt(c, which, n, p, PGRES_COMMAND_OK, msg);
    free(text);
    if (res == NULL)
        return EMBER_EIO;
    PQclear(res);
    return 0;
}


static int
pg_map_all(pg_conn_t *c, const ember_store_req_t *req, json_t **result,
           char **msg)
{
    const char *p[3] = { req->host, req->store, pg_user(req) };
    PGresult *res;
    json_t *obj, *v;
    int i, status = 0;

    if ((res = pg_exec_stmt(c, PG_MAP_ALL, 3, p, PGRES_TUPLES_OK, msg))
        == NULL)
        return EMBER_EIO;
    if ((obj = json_object()) == NULL) {
        PQclear(res);
        return EMBER_ENOMEM;
    }
    for (i = 0; i < PQntuples(res) && status == 0; i++) {
        if ((v = json_loads(PQgetvalue(res, i, 1),
                            JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL)) == NULL)
            status = pg_not_json(msg);
        else if (json_object_set_new(obj, PQgetvalue(res, i, 0), v) < 0)
            status = EMBER_ENOMEM;
    }
    PQclear(res);
    if (status < 0) {
        json_decref(obj);
        return status;
    }
    *result = obj;
    return 0;
}


static int
pg_users(pg_conn_t *c, const ember_store_req_t *req, json_t **result,
         char **msg)
{
    const char *p[2] = { req->host, req->store };
    PGresult *res;
    json_t *arr;
    int which, i;

    switch (req->kind) {
    case EMBER_STORE_KEYVAL: which = PG_USERS_KV; break;
    case EMBER_STORE_MAP: which = PG_USERS_MAP; break;
    case EMBER_STORE_ARCHIVE: which = PG_USERS_AR; break;
    default: return EMBER_EINVAL;
    }
    if ((res = pg_exec_stmt(c, which, 2, p, PGRES_TUPLES_OK, msg)) == NULL)
        return EMBER_EIO;
    if ((arr = json_array()) == NULL) {
        PQclear(res);
        return EMBER_ENOMEM;
    }
    for (i = 0; i < PQntuples(res); i++)
        if (json_array_append_new(arr, json_string(PQgetvalue(res, i, 0)))
            < 0) {
            PQclear(res);
            json_decref(arr);
            return EMBER_ENOMEM;
        }
    PQclear(res);
    *result = arr;
    return 0;
}


static int
pg_purge(pg_conn_t *c, const ember_store_req_t *req, json_t **result,
         char **msg)
{
    /* Items, then the archives they were in (not counted). */
    static const int which[] = { PG_PURGE_KV, PG_PURGE_MAP, PG_PURGE_AR,
                                 PG_PURGE_AR_OWNER };
    const char *p[2] = { req->host, req->user };
    json_int_t deleted = 0;
    PGresult *res;
    size_t i;

    for (i = 0; i < sizeof(which) / sizeof(which[0]); i++) {
        if ((res = pg_exec_stmt(c, which[i], 2, p, PGRES_COMMAND_OK, msg))
            == NULL)
            return EMBER_EIO;
        if (which[i] != PG_PURGE_AR_OWNER)
            deleted += strtoll(PQcmdTuples(res), NULL, 10);
        PQclear(res);
    }
    *result = json_pack("{s:I}", "deleted", deleted);
    return *result != NULL ? 0 : EMBER_ENOMEM;
}


int
pg_run(pg_conn_t *c, const ember_store_req_t *req, json_t **result,
       char **msg)
{
    *result = NULL;
    if (ember_store_req_check(req) < 0)
        return EMBER_EINVAL;
    switch (req->op) {
    case EMBER_SOP_KEYVAL_GET:
        return pg_get(c, PG_KV_GET, req, result, msg);
    case EMBER_SOP_KEYVAL_SET:
        return pg_set(c, req, msg);
    case EMBER_SOP_MAP_GET:
        return pg_get(c, PG_MAP_GET, req, result, msg);
    case EMBER_SOP_MAP_SET:
        return pg_set(c, req, msg);
    case EMBER_SOP_MAP_ALL:
        return pg_map_all(c, req, result, msg);
    case EMBER_SOP_ARCHIVE_APPEND:
        return pg_archive_append(c, req, result, msg);
    case EMBER_SOP_ARCHIVE_QUERY:
    case EMBER_SOP_ARCHIVE_DELETE:
        return pg_archive_run(c, req, result, msg);
    case EMBER_SOP_USERS:
        return pg_users(c, req, result, msg);
    case EMBER_SOP_PURGE_USER:
        return pg_purge(c, req, result, msg);
    case EMBER_SOP_DUMP:
    case EMBER_SOP_LOAD:
    case EMBER_SOP_CLEAR:
        return pg_copy_run(c, req, result, msg);
    default:
        return EMBER_ENOTSUP;
    }
}
