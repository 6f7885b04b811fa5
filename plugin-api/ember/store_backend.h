/*
 * ember/store_backend.h -- what storage backends (modules that call
 * api->storage_provide) share beyond the driver contract of ember/types.h:
 * the rows of EMBER_SOP_DUMP and EMBER_SOP_LOAD (doc/storage.md).  Inline
 * only: no entry of the API table, nothing a module must link.
 */
#ifndef EMBER_STORE_BACKEND_H
#define EMBER_STORE_BACKEND_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <ember/plugin.h>

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
