/* storage_pgsql_archive.c -- archive items: append, query, delete.
 *
 * The shapes are storage_sqlite's: three indexes, (oid, id) (the primary
 * key), (oid, peer, id) for `with` and (oid, time, id) for time bounds,
 * serve every query as a range.  In an "ordered" archive (times never
 * decrease in id order) a time bound becomes the id of the first item at
 * or after `start` (last at or before `end`), found in the time index, and
 * the page is read between ids without a sort; other archives keep their
 * time bounds as filters. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_pgsql.h"

#define OID_INT8 20
#define OID_TEXT 25


static const char *
pg_user(const ember_store_req_t *req)
{
    return req->user != NULL ? req->user : "";
}


int
pg_archive_append(pg_conn_t *c, const ember_store_req_t *req,
                  json_t **result, char **msg)
{
    const char *p[6];
    const char *data, *with;
    char tbuf[24];
    json_int_t time;
    PGresult *res;
    json_t *o;
    int rc;

    if ((rc = ember_append_value(req, &data, &with, &time)) < 0)
        return rc;
    snprintf(tbuf, sizeof(tbuf), "%" JSON_INTEGER_FORMAT, time);
    p[0] = req->host;
    p[1] = req->store;
    p[2] = pg_user(req);
    p[3] = tbuf;
    p[4] = with;
    p[5] = data;
    if ((res = pg_exec_stmt(c, PG_AR_APPEND, 6, p, PGRES_TUPLES_OK, msg))
        == NULL)
        return EMBER_EIO;
    /* The owner row came from another connection after the statement's
     * snapshot (PG_AR_OWNER): a second run sees it. */
    if (PQntuples(res) == 0) {
        PQclear(res);
        if ((res = pg_exec_stmt(c, PG_AR_APPEND, 6, p, PGRES_TUPLES_OK,
                                msg)) == NULL)
            return EMBER_EIO;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return pg_fail(c, "append: no id", NULL, msg);
    }
    o = json_object();
    if (o == NULL
        || json_object_set_new_nocheck(o, "id",
                                       json_string(PQgetvalue(res, 0, 0)))
        || json_object_set_new_nocheck(o, "time", json_integer(time))) {
        PQclear(res);
        json_decref(o);
        return EMBER_ENOMEM;
    }
    PQclear(res);
    *result = o;
    return 0;
}


/* An after/before anchor must be an item of this archive. */
static int
pg_anchor(pg_conn_t *c, const char *oid, const char *s, long long *id,
          char **msg)
{
    const char *p[2];
    char ibuf[24];
    PGresult *res;
    int found;

    if (ember_archive_id_parse(s, id) < 0)
        return EMBER_ENOENT;
    snprintf(ibuf, sizeof(ibuf), "%lld", *id);
    p[0] = oid;
    p[1] = ibuf;
    if ((res = pg_exec_stmt(c, PG_AR_EXISTS, 2, p, PGRES_TUPLES_OK, msg))
        == NULL)
        return EMBER_EIO;
    found = PQntuples(res) > 0;
    PQclear(res);
    return found ? 0 : EMBER_ENOENT;
}


/* The statement (prepared on this session the first time) selecting or
 * deleting what a query with these fields names; its name in `name`. */
static int
pg_archive_stmt(pg_conn_t *c, int mask, int del, char name[16], char **msg)
{
    static const Oid types[PG_AQ_NPARAMS] = {
        OID_INT8, OID_TEXT, OID_TEXT, OID_TEXT, OID_INT8, OID_INT8,
        OID_INT8, OID_INT8, OID_INT8, OID_INT8
    };
    char where[768], sql[1200];
    int slot = (del ? EMBER_AQ_NMASKS : 0) + mask;

    snprintf(name, 16, "%s%x", del ? "ar_del_" : "ar_sel_", (unsigned) mask);
    if (c->aq_ready[slot])
        return 0;
    ember_archive_where(where, sizeof(where), mask, '$');
    /* With `with`, the order is (peer, id) so that the (oid, peer, id)
     * index gives it as it stands: peer is fixed by the WHERE. */
    if (!del)
        snprintf(sql, sizeof(sql), "SELECT id, peer, time, data FROM archive"
                 " WHERE %s ORDER BY %sid%s%s", where,
                 mask & EMBER_AQ_WITH ? (mask & EMBER_AQ_REVERSE ? "peer DESC, "
                                                     : "peer, ") : "",
                 mask & EMBER_AQ_REVERSE ? " DESC" : "",
                 mask & EMBER_AQ_LIMIT ? " LIMIT $10" : "");
    else if (mask & EMBER_AQ_LIMIT)
        snprintf(sql, sizeof(sql), "DELETE FROM archive WHERE oid = $1"
                 " AND id IN (SELECT id FROM archive WHERE %s"
                 " ORDER BY id%s LIMIT $10)", where,
                 mask & EMBER_AQ_REVERSE ? " DESC" : "");
    else
        snprintf(sql, sizeof(sql), "DELETE FROM archive WHERE %s", where);
    if (pg_prepare(c, name, sql, PG_AQ_NPARAMS, types, msg) < 0)
        return EMBER_EIO;
    c->aq_ready[slot] = 1;
    return 0;
}


static int
pg_archive_delete(pg_conn_t *c, const char *name, const char *const *p,
                  int mask, json_t **result, char **msg)
{
    json_int_t deleted;
    PGresult *res;

    if ((res = pg_exec(c, name, PG_AQ_NPARAMS, p, PGRES_COMMAND_OK,
                       "archive delete", msg)) == NULL)
        return EMBER_EIO;
    deleted = (json_int_t) strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    if ((mask & ~(EMBER_AQ_ORDERED | EMBER_AQ_REVERSE)) == 0) {
        /* The whole archive went (a room destroyed): so does its row. */
        if ((res = pg_exec_stmt(c, PG_AR_OWNER_DEL, 1, p, PGRES_COMMAND_OK,
                                msg)) == NULL)
            return EMBER_EIO;
        PQclear(res);
    }
    *result = json_pack("{s:I}", "deleted", deleted);
    return *result != NULL ? 0 : EMBER_ENOMEM;
}


static int
pg_archive_items(PGresult *res, int max, json_t **result)
{
    json_t *items, *it;
    int i, n = PQntuples(res), complete = 1;

    if ((items = json_array()) == NULL)
        return EMBER_ENOMEM;
    /* One row more than asked tells whether the page is the last one. */
    if (max > 0 && n > max) {
        n = max;
        complete = 0;
    }
    for (i = 0; i < n; i++) {
        it = json_pack("{s:s, s:s?, s:I, s:s}", "id", PQgetvalue(res, i, 0),
                       "with", PQgetisnull(res, i, 1) ? NULL
                                                      : PQgetvalue(res, i, 1),
                       "time", (json_int_t) strtoll(PQgetvalue(res, i, 2),
                                                    NULL, 10),
                       "data", PQgetvalue(res, i, 3));
        if (it == NULL || json_array_append_new(items, it) < 0) {
            json_decref(items);
            return EMBER_ENOMEM;
        }
    }
    *result = json_pack("{s:o, s:b}", "items", items, "complete", complete);
    return *result != NULL ? 0 : EMBER_ENOMEM;
}


int
pg_archive_run(pg_conn_t *c, const ember_store_req_t *req, json_t **result,
               char **msg)
{
    static const ember_archive_query_t none = {
        .size = sizeof(ember_archive_query_t)
    };
    const ember_archive_query_t *q = req->query != NULL ? req->query : &none;
    const char *p[PG_AQ_NPARAMS] = { NULL };
    const char *op[3] = { req->host, req->store, pg_user(req) };
    char oid[24], start[24], end[24], after[24], before[24], id[24];
    char limit[24], name[16];
    int del = req->op == EMBER_SOP_ARCHIVE_DELETE, mask, err;
    long long v;
    PGresult *res;

    if ((res = pg_exec_stmt(c, PG_AR_OWNER_GET, 3, op, PGRES_TUPLES_OK, msg))
        == NULL)
        return EMBER_EIO;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return ember_archive_none(del, q, result);
    }
    snprintf(oid, sizeof(oid), "%s", PQgetvalue(res, 0, 0));
    mask = ember_archive_mask(q, PQgetvalue(res, 0, 1)[0] == 't');
    PQclear(res);
    p[0] = oid;
    if (mask & EMBER_AQ_WITH)
        p[3] = q->with;
    if (mask & EMBER_AQ_START) {
        snprintf(start, sizeof(start), "%" PRId64, q->start);
        p[4] = start;
    }
    if (mask & EMBER_AQ_END) {
        snprintf(end, sizeof(end), "%" PRId64, q->end);
        p[5] = end;
    }
    if (mask & EMBER_AQ_LIMIT) {
        snprintf(limit, sizeof(limit), "%lld",
                 del ? (long long) q->max : (long long) q->max + 1);
        p[9] = limit;
    }
    if (mask & EMBER_AQ_AFTER) {
        if ((err = pg_anchor(c, oid, q->after_id, &v, msg)) < 0)
            return err;
        snprintf(after, sizeof(after), "%lld", v);
        p[6] = after;
    }
    if (mask & EMBER_AQ_BEFORE) {
        if ((err = pg_anchor(c, oid, q->before_id, &v, msg)) < 0)
            return err;
        snprintf(before, sizeof(before), "%lld", v);
        p[7] = before;
    }
    if (mask & EMBER_AQ_ID) {
        /* No item has a malformed id: select nothing. */
        if (ember_archive_id_parse(q->id, &v) < 0)
            v = -1;
        snprintf(id, sizeof(id), "%lld", v);
        p[8] = id;
    }
    if ((err = pg_archive_stmt(c, mask, del, name, msg)) < 0)
        return err;
    if (del)
        return pg_archive_delete(c, name, p, mask, result, msg);
    if ((res = pg_exec(c, name, PG_AQ_NPARAMS, p, PGRES_TUPLES_OK,
                       "archive query", msg)) == NULL)
        return EMBER_EIO;
    err = pg_archive_items(res, q->max, result);
    PQclear(res);
    return err;
}
