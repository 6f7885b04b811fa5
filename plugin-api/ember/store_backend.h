/*
 * ember/store_backend.h -- what storage backends (modules that call
 * api->storage_provide) share beyond the driver contract of ember/types.h:
 * the shapes of archive queries, and the rows of EMBER_SOP_DUMP and
 * EMBER_SOP_LOAD (doc/storage.md).  Inline only: no entry of the API
 * table, nothing a module must link.
 */
#ifndef EMBER_STORE_BACKEND_H
#define EMBER_STORE_BACKEND_H

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <ember/plugin.h>

/* ---- archive queries ---- */

/* Which fields of an archive query are set, and whether the archive's
 * times follow its ids ("ordered": a time bound is then an id bound):
 * one prepared statement per mask. */
enum {
    EMBER_AQ_WITH = 1 << 0,
    EMBER_AQ_START = 1 << 1,
    EMBER_AQ_END = 1 << 2,
    EMBER_AQ_AFTER = 1 << 3,
    EMBER_AQ_BEFORE = 1 << 4,
    EMBER_AQ_ID = 1 << 5,
    EMBER_AQ_REVERSE = 1 << 6,
    EMBER_AQ_LIMIT = 1 << 7,
    EMBER_AQ_ORDERED = 1 << 8,
    EMBER_AQ_NMASKS = 1 << 9
};


static inline int
ember_archive_mask(const ember_archive_query_t *q, int ordered)
{
    return (ordered ? EMBER_AQ_ORDERED : 0)
           | (q->with != NULL ? EMBER_AQ_WITH : 0)
           | (q->start > 0 ? EMBER_AQ_START : 0)
           | (q->end > 0 ? EMBER_AQ_END : 0)
           | (q->reverse ? EMBER_AQ_REVERSE : 0)
           | (q->max > 0 ? EMBER_AQ_LIMIT : 0)
           | (q->after_id != NULL ? EMBER_AQ_AFTER : 0)
           | (q->before_id != NULL ? EMBER_AQ_BEFORE : 0)
           | (q->id != NULL ? EMBER_AQ_ID : 0);
}


/*
 * An ARCHIVE_APPEND's value {"with", "data", "time"}: data required,
 * with NULL when absent; time as the front stamped it (now, should a
 * caller other than the front leave it out).  0 or EMBER_EINVAL.
 */
static inline int
ember_append_value(const ember_store_req_t *req, const char **data,
                   const char **with, json_int_t *time_us)
{
    json_t *t = json_object_get(req->value, "time");
    struct timespec ts;

    if ((*data = json_string_value(json_object_get(req->value, "data")))
        == NULL)
        return EMBER_EINVAL;
    *with = json_string_value(json_object_get(req->value, "with"));
    if (json_is_integer(t)) {
        *time_us = json_integer_value(t);
    } else {
        clock_gettime(CLOCK_REALTIME, &ts);
        *time_us = (json_int_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    }
    return 0;
}


/* Archive ids are positive decimal integers; anything else (-1) is no
 * id. */
static inline int
ember_archive_id_parse(const char *s, long long *out)
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


/*
 * The WHERE clause selecting what a query of this mask names, from the
 * table `archive` (id, oid, time, peer, data) with indexes on (oid, id),
 * (oid, time, id) and (oid, peer, id).  Parameters, written ph N (ph '?'
 * for SQLite, '$' for PostgreSQL): 1 oid, 4 with, 5 start, 6 end,
 * 7 after, 8 before, 9 id (10 is the statement's limit).  In an ordered
 * archive, start and end become the ids of the first item at or after
 * start and of the last at or before end, two seeks in the time index,
 * and the page is an id range.
 */
static inline void
ember_archive_where(char *where, size_t len, int mask, char ph)
{
    size_t n;

#define EMBER_AQ_ADD(...) \
    (n += (size_t) snprintf(where + n, n < len ? len - n : 0, __VA_ARGS__))
    n = 0;
    EMBER_AQ_ADD("oid = %c1", ph);
    if (mask & EMBER_AQ_WITH)
        EMBER_AQ_ADD(" AND peer = %c4", ph);
    if ((mask & EMBER_AQ_START) && (mask & EMBER_AQ_ORDERED))
        EMBER_AQ_ADD(" AND id >= (SELECT id FROM archive WHERE oid = %c1"
                     " AND time >= %c5 ORDER BY time, id LIMIT 1)", ph, ph);
    else if (mask & EMBER_AQ_START)
        EMBER_AQ_ADD(" AND time >= %c5", ph);
    if ((mask & EMBER_AQ_END) && (mask & EMBER_AQ_ORDERED))
        EMBER_AQ_ADD(" AND id <= (SELECT id FROM archive WHERE oid = %c1"
                     " AND time <= %c6 ORDER BY time DESC, id DESC LIMIT 1)",
                     ph, ph);
    else if (mask & EMBER_AQ_END)
        EMBER_AQ_ADD(" AND time <= %c6", ph);
    if (mask & EMBER_AQ_AFTER)
        EMBER_AQ_ADD(" AND id > %c7", ph);
    if (mask & EMBER_AQ_BEFORE)
        EMBER_AQ_ADD(" AND id < %c8", ph);
    if (mask & EMBER_AQ_ID)
        EMBER_AQ_ADD(" AND id = %c9", ph);
#undef EMBER_AQ_ADD
}


/* What a query of an archive that does not exist gives: an anchor is
 * not found, a delete removes nothing, a query finds nothing. */
static inline int
ember_archive_none(int del, const ember_archive_query_t *q, json_t **result)
{
    if (q->after_id != NULL || q->before_id != NULL)
        return EMBER_ENOENT;
    if (del)
        *result = json_pack("{s:I}", "deleted", (json_int_t) 0);
    else
        *result = json_pack("{s:[], s:b}", "items", "complete", 1);
    return *result != NULL ? 0 : EMBER_ENOMEM;
}


/*
 * A request that names what its operation needs (host; store, except for
 * a purge; user, except for USERS; key for a map get or set): 0, or
 * EMBER_EINVAL.  DUMP, LOAD and CLEAR name none of them.
 */
static inline int
ember_store_req_check(const ember_store_req_t *req)
{
    if (req->op == EMBER_SOP_DUMP || req->op == EMBER_SOP_LOAD
        || req->op == EMBER_SOP_CLEAR)
        return 0;
    if (req->host == NULL
        || (req->op != EMBER_SOP_PURGE_USER && req->store == NULL)
        || (req->op != EMBER_SOP_USERS && req->user == NULL)
        || ((req->op == EMBER_SOP_MAP_GET || req->op == EMBER_SOP_MAP_SET)
            && req->key == NULL))
        return EMBER_EINVAL;
    return 0;
}


/* ---- every record: DUMP and LOAD ---- */

/*
 * One record as DUMP gives it and LOAD takes it, a JSON array:
 *   keyval   [host, store, user, value]
 *   map      [host, store, user, key, value]
 *   archive  [host, store, user, id, time, with, data]
 * value is the stored JSON text, id and time are integers, with a string
 * or null.
 */
#define EMBER_ROW_ID 3      /* archive: the item's id, then time, with, data */

static inline int
ember_row_cols(ember_store_kind_t kind)
{
    switch (kind) {
    case EMBER_STORE_KEYVAL: return 4;
    case EMBER_STORE_MAP: return 5;
    case EMBER_STORE_ARCHIVE: return 7;
    default: return 0;
    }
}


/* 1 when row is a well-formed record of kind (store never empty). */
static inline int
ember_row_ok(json_t *row, ember_store_kind_t kind)
{
    int i, cols = ember_row_cols(kind);
    json_t *v;

    if (cols == 0 || !json_is_array(row) || (int) json_array_size(row) != cols)
        return 0;
    for (i = 0; i < cols; i++) {
        v = json_array_get(row, (size_t) i);
        if (kind == EMBER_STORE_ARCHIVE
            && (i == EMBER_ROW_ID || i == EMBER_ROW_ID + 1)) {
            if (!json_is_integer(v) || json_integer_value(v) <= 0)
                return 0;
        } else if (kind == EMBER_STORE_ARCHIVE && i == EMBER_ROW_ID + 2) {
            if (!json_is_string(v) && !json_is_null(v))
                return 0;
        } else if (!json_is_string(v)) {
            return 0;
        }
    }
    return json_string_length(json_array_get(row, 1)) > 0;
}


/* Column i of row as text (NULL when it is not a string). */
static inline const char *
ember_row_text(json_t *row, int i)
{
    return json_string_value(json_array_get(row, (size_t) i));
}


/*
 * LOAD's rows, each checked and then written, in order, by
 * write_row(ctx, row, kind, msg).  A malformed row is EMBER_EINVAL with
 * "row N of the batch is malformed" in *msg (malloc'ed).  Returns the
 * number of rows written, or the first error.
 */
static inline int
ember_load_each(const ember_store_req_t *req,
                int (*write_row)(void *ctx, json_t *row,
                                 ember_store_kind_t kind, char **msg),
                void *ctx, char **msg)
{
    json_t *rows = json_object_get(req->value, "rows"), *row;
    char line[64];
    size_t i;
    int rc;

    if (ember_row_cols(req->kind) == 0 || !json_is_array(rows))
        return EMBER_EINVAL;
    json_array_foreach(rows, i, row) {
        if (!ember_row_ok(row, req->kind)) {
            snprintf(line, sizeof(line), "row %zu of the batch is malformed",
                     i + 1);
            *msg = strdup(line);
            return EMBER_EINVAL;
        }
        if ((rc = write_row(ctx, row, req->kind, msg)) < 0)
            return rc;
    }
    return (int) json_array_size(rows);
}


/* A result {name: n}: 0, or EMBER_ENOMEM. */
static inline int
ember_count_result(const char *name, long long n, json_t **result)
{
    *result = json_pack("{s:I}", name, (json_int_t) n);
    return *result != NULL ? 0 : EMBER_ENOMEM;
}

#endif
