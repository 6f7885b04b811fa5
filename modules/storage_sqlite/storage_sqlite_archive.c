/* storage_sqlite_archive.c -- archive items: append, query, delete. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage_sqlite.h"


static int64_t
sq_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


int
sq_archive_append(sq_db_t *db, const ember_store_req_t *req, json_t **result,
          char **msg)
{
    sqlite3_stmt *st;
    json_t *t;
    const char *data, *with;
    json_int_t time;
    char id[24];

    if (req->value == NULL
        || (data = json_string_value(json_object_get(req->value, "data")))
               == NULL)
        return EMBER_EINVAL;
    with = json_string_value(json_object_get(req->value, "with"));
    t = json_object_get(req->value, "time");
    time = json_is_integer(t) ? json_integer_value(t) : sq_now_us();
    if ((st = sq_stmt(db, SQ_AR_APPEND, msg)) == NULL)
        return EMBER_EIO;
    if (sq_bind_owner(st, req) < 0 || sq_bind_text(st, 4, with) != SQLITE_OK
        || sqlite3_bind_int64(st, 5, time) != SQLITE_OK
        || sq_bind_text(st, 6, data) != SQLITE_OK) {
        sq_done(st);
        return sq_fail(db, "append", msg);
    }
    if (sq_step_done(db, st, "append", msg) < 0)
        return EMBER_EIO;
    snprintf(id, sizeof(id), "%lld",
             (long long) sqlite3_last_insert_rowid(db->db));
    *result = json_pack("{s:s, s:I}", "id", id, "time", time);
    return 0;
}


/* Archive ids are positive decimal integers; anything else is no id. */
static int
sq_parse_id(const char *s, sqlite3_int64 *out)
{
    char *end;
    long long v;

    if (s == NULL || !isdigit((unsigned char) *s))
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v <= 0)
        return -1;
    *out = v;
    return 0;
}


/* An after/before anchor must be an item of this archive. */
static int
sq_anchor(sq_db_t *db, const ember_store_req_t *req, const char *s,
          sqlite3_int64 *id, char **msg)
{
    sqlite3_stmt *st;
    int rc;

    if (sq_parse_id(s, id) < 0)
        return EMBER_ENOENT;
    if ((st = sq_stmt(db, SQ_AR_EXISTS, msg)) == NULL)
        return EMBER_EIO;
    if (sq_bind_owner(st, req) < 0
        || sqlite3_bind_int64(st, 4, *id) != SQLITE_OK) {
        sq_done(st);
        return sq_fail(db, "archive anchor", msg);
    }
    rc = sqlite3_step(st);
    sq_done(st);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc == SQLITE_DONE)
        return EMBER_ENOENT;
    return sq_fail(db, "archive anchor", msg);
}


/*
 * The statement selecting (or deleting) what a query names.  Parameters:
 * ?1-3 owner, ?4 with, ?5 start, ?6 end, ?7 after, ?8 before, ?9 id,
 * ?10 limit.
 */
static sqlite3_stmt *
sq_archive_stmt(sq_db_t *db, int mask, int del, char **msg)
{
    char where[512], sql[1024];
    size_t n;

    n = (size_t) snprintf(where, sizeof(where), "%s",
                          "host = ?1 AND store = ?2 AND user = ?3");
    if (mask & AQ_WITH)
        n += (size_t) snprintf(where + n, sizeof(where) - n, " AND peer = ?4");
    if (mask & AQ_START)
        n += (size_t) snprintf(where + n, sizeof(where) - n,
                               " AND time >= ?5");
    if (mask & AQ_END)
        n += (size_t) snprintf(where + n, sizeof(where) - n,
                               " AND time <= ?6");
    if (mask & AQ_AFTER)
        n += (size_t) snprintf(where + n, sizeof(where) - n, " AND id > ?7");
    if (mask & AQ_BEFORE)
        n += (size_t) snprintf(where + n, sizeof(where) - n, " AND id < ?8");
    if (mask & AQ_ID)
        snprintf(where + n, sizeof(where) - n, " AND id = ?9");
    if (!del)
        snprintf(sql, sizeof(sql), "SELECT id, peer, time, data FROM archive"
                 " WHERE %s ORDER BY id%s%s", where,
                 mask & AQ_REVERSE ? " DESC" : "",
                 mask & AQ_LIMIT ? " LIMIT ?10" : "");
    else if (mask & AQ_LIMIT)
        snprintf(sql, sizeof(sql), "DELETE FROM archive WHERE id IN"
                 " (SELECT id FROM archive WHERE %s ORDER BY id%s LIMIT ?10)",
                 where, mask & AQ_REVERSE ? " DESC" : "");
    else
        snprintf(sql, sizeof(sql), "DELETE FROM archive WHERE %s", where);
    return sq_prepare(db, del ? &db->ar_delete[mask] : &db->ar_select[mask],
                      sql, msg);
}


static int
sq_archive_bind(sq_db_t *db, sqlite3_stmt *st, const ember_store_req_t *req,
                int mask, sqlite3_int64 after, sqlite3_int64 before,
                sqlite3_int64 id, sqlite3_int64 limit)
{
    const ember_archive_query_t *q = req->query;

    if (sq_bind_owner(st, req) < 0
        || ((mask & AQ_WITH) && sq_bind_text(st, 4, q->with) != SQLITE_OK)
        || ((mask & AQ_START) && sqlite3_bind_int64(st, 5, q->start))
        || ((mask & AQ_END) && sqlite3_bind_int64(st, 6, q->end))
        || ((mask & AQ_AFTER) && sqlite3_bind_int64(st, 7, after))
        || ((mask & AQ_BEFORE) && sqlite3_bind_int64(st, 8, before))
        || ((mask & AQ_ID) && sqlite3_bind_int64(st, 9, id))
        || ((mask & AQ_LIMIT) && sqlite3_bind_int64(st, 10, limit)))
        return -1;
    (void) db;
    return 0;
}


static json_t *
sq_archive_item(sqlite3_stmt *st)
{
    char id[24];
    const char *peer = (const char *) sqlite3_column_text(st, 1);

    snprintf(id, sizeof(id), "%lld", (long long) sqlite3_column_int64(st, 0));
    return json_pack("{s:s, s:s?, s:I, s:s}", "id", id, "with", peer,
                     "time", (json_int_t) sqlite3_column_int64(st, 2),
                     "data", (const char *) sqlite3_column_text(st, 3));
}


int
sq_archive_run(sq_db_t *db, const ember_store_req_t *req, json_t **result,
           char **msg)
{
    static const ember_archive_query_t none = {
        .size = sizeof(ember_archive_query_t)
    };
    const ember_archive_query_t *q = req->query != NULL ? req->query : &none;
    int del = req->op == EMBER_SOP_ARCHIVE_DELETE, mask = 0, err, rc, n = 0;
    sqlite3_int64 after = 0, before = 0, id = 0;
    ember_store_req_t r = *req;
    sqlite3_stmt *st;
    json_t *items, *it;

    r.query = q;
    if (q->with != NULL)
        mask |= AQ_WITH;
    if (q->start > 0)
        mask |= AQ_START;
    if (q->end > 0)
        mask |= AQ_END;
    if (q->reverse)
        mask |= AQ_REVERSE;
    if (q->max > 0)
        mask |= AQ_LIMIT;
    if (q->after_id != NULL) {
        if ((err = sq_anchor(db, &r, q->after_id, &after, msg)) < 0)
            return err;
        mask |= AQ_AFTER;
    }
    if (q->before_id != NULL) {
        if ((err = sq_anchor(db, &r, q->before_id, &before, msg)) < 0)
            return err;
        mask |= AQ_BEFORE;
    }
    if (q->id != NULL) {
        /* No item has a malformed id: select nothing. */
        if (sq_parse_id(q->id, &id) < 0)
            id = -1;
        mask |= AQ_ID;
    }
    if ((st = sq_archive_stmt(db, mask, del, msg)) == NULL)
        return EMBER_EIO;
    /* One row more than asked tells whether the page is the last one. */
    if (sq_archive_bind(db, st, &r, mask, after, before, id,
                        del ? q->max : (sqlite3_int64) q->max + 1) < 0) {
        sq_done(st);
        return sq_fail(db, "archive bind", msg);
    }
    if (del) {
        if (sq_step_done(db, st, "archive delete", msg) < 0)
            return EMBER_EIO;
        *result = json_pack("{s:I}", "deleted",
                            (json_int_t) sqlite3_changes(db->db));
        return 0;
    }
    if ((items = json_array()) == NULL) {
        sq_done(st);
        return EMBER_ENOMEM;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (q->max > 0 && n == q->max)
            break;
        if ((it = sq_archive_item(st)) == NULL
            || json_array_append_new(items, it) < 0) {
            sq_done(st);
            json_decref(items);
            return EMBER_ENOMEM;
        }
        n++;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        sq_fail(db, "archive query", msg);
        sq_done(st);
        json_decref(items);
        return EMBER_EIO;
    }
    sq_done(st);
    *result = json_pack("{s:o, s:b}", "items", items, "complete",
                        rc == SQLITE_DONE);
    return *result != NULL ? 0 : EMBER_ENOMEM;
}
