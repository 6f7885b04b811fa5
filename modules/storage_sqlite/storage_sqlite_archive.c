/* storage_sqlite_archive.c -- archive items: append, query, delete.
 *
 * An archive (host, store, user) is a row of archive_owner; its items are
 * rows of archive keyed by the owner's integer oid, in id order.  Three
 * indexes serve every query shape as a range: (oid) = (oid, id) for id
 * bounds, (oid, peer) = (oid, peer, id) for `with`, (oid, time) = (oid,
 * time, id) for time bounds.  A time bound becomes an id bound when the
 * archive is "ordered" (its times never decrease in id order, which
 * mod_mam's unique, increasing times guarantee): the first item at or
 * after `start` and the last at or before `end` are found in the time
 * index, and the page is read from the id indexes between them, without a
 * sort.  An archive that ever got an older time than one before it keeps
 * its time bounds as filters instead. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_sqlite.h"

/* Archives whose oid and state are kept in memory; past this many the
 * cache starts over. */
#define SQ_OWNERS_MAX 65536


/* ---- owners: (host, store, user) -> oid ---- */

static uint64_t
sq_hash_str(uint64_t h, const char *s)
{
    /* FNV-1a, the NUL included as a separator. */
    do {
        h ^= (unsigned char) *s;
        h *= 0x100000001b3ULL;
    } while (*s++ != '\0');
    return h;
}


static const char *
sq_user(const ember_store_req_t *req)
{
    return req->user != NULL ? req->user : "";
}


static uint64_t
sq_owner_hash(const ember_store_req_t *req)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    h = sq_hash_str(h, req->host);
    h = sq_hash_str(h, req->store);
    return sq_hash_str(h, sq_user(req));
}


static int
sq_owner_is(const sq_owner_t *o, uint64_t h, const ember_store_req_t *req)
{
    const char *k = o->key;
    size_t n;

    if (o->hash != h)
        return 0;
    n = strlen(req->host) + 1;
    if (memcmp(k, req->host, n) != 0)
        return 0;
    k += n;
    n = strlen(req->store) + 1;
    if (memcmp(k, req->store, n) != 0)
        return 0;
    k += n;
    return strcmp(k, sq_user(req)) == 0;
}


void
sq_owners_clear(sq_db_t *db)
{
    sq_owner_t *o, *next;
    size_t i;

    for (i = 0; i < db->owner_cap && db->owner_count > 0; i++) {
        for (o = db->owners[i]; o != NULL; o = next) {
            next = o->next;
            free(o);
            db->owner_count--;
        }
        db->owners[i] = NULL;
    }
    db->owner_count = 0;
}


static void
sq_owner_forget(sq_db_t *db, sq_owner_t *ow)
{
    sq_owner_t **p;

    for (p = &db->owners[ow->hash & (db->owner_cap - 1)]; *p != NULL;
         p = &(*p)->next)
        if (*p == ow) {
            *p = ow->next;
            free(ow);
            db->owner_count--;
            return;
        }
}


/* Room for one more entry: the table grows up to SQ_OWNERS_MAX buckets,
 * then starts over empty. */
static int
sq_owners_make_room(sq_db_t *db)
{
    sq_owner_t **nb, *o, *next;
    size_t cap, i;

    if (db->owner_count >= SQ_OWNERS_MAX)
        sq_owners_clear(db);
    if (db->owner_cap != 0 && db->owner_count < db->owner_cap)
        return 0;
    cap = db->owner_cap == 0 ? 256 : db->owner_cap * 2;
    if (cap > SQ_OWNERS_MAX)
        return 0;
    if ((nb = calloc(cap, sizeof(*nb))) == NULL)
        return db->owner_cap != 0 ? 0 : EMBER_ENOMEM;
    for (i = 0; i < db->owner_cap; i++)
        for (o = db->owners[i]; o != NULL; o = next) {
            next = o->next;
            o->next = nb[o->hash & (cap - 1)];
            nb[o->hash & (cap - 1)] = o;
        }
    free(db->owners);
    db->owners = nb;
    db->owner_cap = cap;
    return 0;
}


/* Step a statement expected to give at most one integer row. */
static int
sq_one_int(sq_db_t *db, sqlite3_stmt *st, const char *what,
           sqlite3_int64 *out, int *isnull, char **msg)
{
    int rc = sqlite3_step(st);

    if (rc == SQLITE_ROW) {
        *isnull = sqlite3_column_type(st, 0) == SQLITE_NULL;
        *out = sqlite3_column_int64(st, 0);
    } else if (rc == SQLITE_DONE) {
        *isnull = 1;
        *out = 0;
    } else {
        sq_fail(db, what, msg);
        sq_done(st);
        return EMBER_EIO;
    }
    sq_done(st);
    return 0;
}


/*
 * The archive req names, from the cache or the table; a new one is added
 * when `create`.  EMBER_ENOENT when there is none (and !create).
 */
static int
sq_owner_get(sq_db_t *db, const ember_store_req_t *req, int create,
             sq_owner_t **out, char **msg)
{
    uint64_t h = sq_owner_hash(req);
    sqlite3_int64 oid, max_time;
    sqlite3_stmt *st;
    sq_owner_t *o;
    size_t lh, ls, lu;
    int rc, ordered = 1, isnull;

    for (o = db->owner_cap != 0 ? db->owners[h & (db->owner_cap - 1)]
                                : NULL;
         o != NULL; o = o->next)
        if (sq_owner_is(o, h, req)) {
            *out = o;
            return 0;
        }
    if ((st = sq_stmt(db, SQ_AR_OWNER_GET, msg)) == NULL)
        return EMBER_EIO;
    if (sq_bind_owner(st, req) < 0) {
        sq_done(st);
        return sq_fail(db, "archive owner", msg);
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        oid = sqlite3_column_int64(st, 0);
        ordered = sqlite3_column_int(st, 1) != 0;
        sq_done(st);
        if ((st = sq_stmt(db, SQ_AR_MAX_TIME, msg)) == NULL)
            return EMBER_EIO;
        if (sqlite3_bind_int64(st, 1, oid) != SQLITE_OK) {
            sq_done(st);
            return sq_fail(db, "archive owner", msg);
        }
        if ((rc = sq_one_int(db, st, "archive owner", &max_time, &isnull,
                             msg)) < 0)
            return rc;
    } else if (rc == SQLITE_DONE) {
        sq_done(st);
        if (!create)
            return EMBER_ENOENT;
        if ((st = sq_stmt(db, SQ_AR_OWNER_ADD, msg)) == NULL)
            return EMBER_EIO;
        if (sq_bind_owner(st, req) < 0) {
            sq_done(st);
            return sq_fail(db, "archive owner", msg);
        }
        if (sq_step_done(db, st, "archive owner", msg) < 0)
            return EMBER_EIO;
        oid = sqlite3_last_insert_rowid(db->db);
        max_time = 0;
    } else {
        sq_fail(db, "archive owner", msg);
        sq_done(st);
        return EMBER_EIO;
    }
    if ((rc = sq_owners_make_room(db)) < 0)
        return rc;
    lh = strlen(req->host) + 1;
    ls = strlen(req->store) + 1;
    lu = strlen(sq_user(req)) + 1;
    if ((o = malloc(sizeof(*o) + lh + ls + lu)) == NULL)
        return EMBER_ENOMEM;
    o->hash = h;
    o->oid = oid;
    o->max_time = max_time;
    o->ordered = ordered;
    memcpy(o->key, req->host, lh);
    memcpy(o->key + lh, req->store, ls);
    memcpy(o->key + lh + ls, sq_user(req), lu);
    o->next = db->owners[h & (db->owner_cap - 1)];
    db->owners[h & (db->owner_cap - 1)] = o;
    db->owner_count++;
    *out = o;
    return 0;
}


/* An id (positive) in decimal, without printf's parsing: two per item. */
static void
sq_id_string(sqlite3_int64 v, char out[24])
{
    char tmp[24];
    size_t n = 0, i;

    do {
        tmp[n++] = (char) ('0' + v % 10);
        v /= 10;
    } while (v > 0 && n < sizeof(tmp) - 1);
    for (i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}


/* ---- append ---- */

/* {"id": id, "time": time}, built without json_pack's format parsing. */
static int
sq_append_result(const char *id, json_int_t time, json_t **result)
{
    json_t *o = json_object();

    if (o == NULL || json_object_set_new_nocheck(o, "id", json_string(id))
        || json_object_set_new_nocheck(o, "time", json_integer(time))) {
        json_decref(o);
        return EMBER_ENOMEM;
    }
    *result = o;
    return 0;
}

int
sq_archive_insert(sq_db_t *db, const ember_store_req_t *req,
                  sqlite3_int64 id, sqlite3_int64 time, const char *with,
                  const char *data, char **msg)
{
    sqlite3_stmt *st;
    sq_owner_t *ow;
    int rc;

    if ((rc = sq_owner_get(db, req, 1, &ow, msg)) < 0)
        return rc;
    if (ow->ordered && time < ow->max_time) {
        /* For good: time bounds of this archive are filters from now on. */
        if ((st = sq_stmt(db, SQ_AR_UNORDERED, msg)) == NULL)
            return EMBER_EIO;
        if (sqlite3_bind_int64(st, 1, ow->oid) != SQLITE_OK) {
            sq_done(st);
            return sq_fail(db, "append", msg);
        }
        if (sq_step_done(db, st, "append", msg) < 0)
            return EMBER_EIO;
        ow->ordered = 0;
    }
    if (time > ow->max_time)
        ow->max_time = time;
    if ((st = sq_stmt(db, SQ_AR_APPEND, msg)) == NULL)
        return EMBER_EIO;
    if (sqlite3_bind_int64(st, 1, ow->oid) != SQLITE_OK
        || sqlite3_bind_int64(st, 2, time) != SQLITE_OK
        || sq_bind_text(st, 3, with) != SQLITE_OK
        || sq_bind_text(st, 4, data) != SQLITE_OK
        || sqlite3_bind_int64(st, 5, id) != SQLITE_OK) {
        sq_done(st);
        return sq_fail(db, "append", msg);
    }
    return sq_step_done(db, st, "append", msg);
}


int
sq_archive_append(sq_db_t *db, const ember_store_req_t *req, json_t **result,
          char **msg)
{
    const char *data, *with;
    json_int_t time;
    char id[24];
    int rc;

    if ((rc = ember_append_value(req, &data, &with, &time)) < 0)
        return rc;
    if ((rc = sq_archive_insert(db, req, db->ar_next, time, with, data,
                                msg)) < 0)
        return rc;
    sq_id_string(db->ar_next++, id);
    return sq_append_result(id, time, result);
}


/* ---- queries and deletes ---- */

/* An after/before anchor must be an item of this archive. */
static int
sq_anchor(sq_db_t *db, sqlite3_int64 oid, const char *s, sqlite3_int64 *id,
          char **msg)
{
    sqlite3_stmt *st;
    int rc;

    if (ember_archive_id_parse(s, id) < 0)
        return EMBER_ENOENT;
    if ((st = sq_stmt(db, SQ_AR_EXISTS, msg)) == NULL)
        return EMBER_EIO;
    if (sqlite3_bind_int64(st, 1, oid) != SQLITE_OK
        || sqlite3_bind_int64(st, 2, *id) != SQLITE_OK) {
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
 * A statement's plan, checked once when it is prepared: every shape of an
 * ordered archive must read index ranges, never a whole table, never sort.
 * What is wrong goes to db->note (logged as a warning); the plan itself
 * to db->plan (logged at debug level).
 */
static void
sq_check_plan(sq_db_t *db, sqlite3_stmt *stmt, int mask)
{
    char sql[1300], plan[1024];
    sqlite3_stmt *ex;
    size_t n = 0;
    int bad = 0;

    snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", sqlite3_sql(stmt));
    if (sqlite3_prepare_v2(db->db, sql, -1, &ex, NULL) != SQLITE_OK)
        return;
    plan[0] = '\0';
    while (sqlite3_step(ex) == SQLITE_ROW) {
        const char *d = (const char *) sqlite3_column_text(ex, 3);

        if (d == NULL)
            continue;
        if (strncmp(d, "SCAN ", 5) == 0 || strstr(d, "TEMP B-TREE") != NULL)
            bad = 1;
        if (n < sizeof(plan))
            n += (size_t) snprintf(plan + n, sizeof(plan) - n, "%s%s",
                                   n ? "; " : "", d);
    }
    sqlite3_finalize(ex);
    free(db->plan);
    db->plan = NULL;
    if (asprintf(&db->plan, "archive statement %#x: %s: %s", (unsigned) mask,
                 sqlite3_sql(stmt), plan) < 0)
        db->plan = NULL;
    if (bad && (mask & EMBER_AQ_ORDERED)) {
        free(db->note);
        if (asprintf(&db->note, "archive query reads a whole table or "
                     "sorts (an index is missing for it): %s: %s",
                     sqlite3_sql(stmt), plan) < 0)
            db->note = NULL;
    }
}


/*
 * The statement selecting (or deleting) what a query names, on
 * ember_archive_where's parameters and ?10 the limit.  In an ordered
 * archive, a start or end with no item beyond it is a NULL id bound:
 * then nothing matches.
 */
static sqlite3_stmt *
sq_archive_stmt(sq_db_t *db, int mask, int del, char **msg)
{
    char where[768], sql[1200];
    const char *from;
    sqlite3_stmt **slot = del ? &db->ar_delete[mask] : &db->ar_select[mask];
    sqlite3_stmt *st;

    if (*slot != NULL)
        return *slot;
    ember_archive_where(where, sizeof(where), mask, '?');
    /* Without statistics, SQLite may prefer the (oid, id) range to the
     * (oid, peer, id) one when both ends of an id range are known, and
     * filter `with` row by row: named, the peer index is read instead. */
    from = mask & EMBER_AQ_WITH ? "archive INDEXED BY archive_owner_peer"
                          : "archive";
    if (!del)
        snprintf(sql, sizeof(sql), "SELECT id, peer, time, data FROM %s"
                 " WHERE %s ORDER BY id%s%s", from, where,
                 mask & EMBER_AQ_REVERSE ? " DESC" : "",
                 mask & EMBER_AQ_LIMIT ? " LIMIT ?10" : "");
    else if (mask & EMBER_AQ_LIMIT)
        snprintf(sql, sizeof(sql), "DELETE FROM archive WHERE id IN"
                 " (SELECT id FROM %s WHERE %s ORDER BY id%s LIMIT ?10)",
                 from, where, mask & EMBER_AQ_REVERSE ? " DESC" : "");
    else
        snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE %s", from, where);
    if ((st = sq_prepare(db, slot, sql, msg)) != NULL)
        sq_check_plan(db, st, mask | (del ? EMBER_AQ_NMASKS : 0));
    return st;
}


static int
sq_archive_bind(sqlite3_stmt *st, const ember_archive_query_t *q,
                sqlite3_int64 oid, int mask, sqlite3_int64 after,
                sqlite3_int64 before, sqlite3_int64 id, sqlite3_int64 limit)
{
    if (sqlite3_bind_int64(st, 1, oid) != SQLITE_OK
        || ((mask & EMBER_AQ_WITH) && sq_bind_text(st, 4, q->with) != SQLITE_OK)
        || ((mask & EMBER_AQ_START) && sqlite3_bind_int64(st, 5, q->start))
        || ((mask & EMBER_AQ_END) && sqlite3_bind_int64(st, 6, q->end))
        || ((mask & EMBER_AQ_AFTER) && sqlite3_bind_int64(st, 7, after))
        || ((mask & EMBER_AQ_BEFORE) && sqlite3_bind_int64(st, 8, before))
        || ((mask & EMBER_AQ_ID) && sqlite3_bind_int64(st, 9, id))
        || ((mask & EMBER_AQ_LIMIT) && sqlite3_bind_int64(st, 10, limit)))
        return -1;
    return 0;
}


static json_t *
sq_archive_item(sqlite3_stmt *st)
{
    char id[24];
    const char *peer = (const char *) sqlite3_column_text(st, 1);

    sq_id_string(sqlite3_column_int64(st, 0), id);
    return json_pack("{s:s, s:s?, s:I, s:s}", "id", id, "with", peer,
                     "time", (json_int_t) sqlite3_column_int64(st, 2),
                     "data", (const char *) sqlite3_column_text(st, 3));
}


static int
sq_archive_delete(sq_db_t *db, sq_owner_t *ow, sqlite3_stmt *st, int mask,
                  json_t **result, char **msg)
{
    json_int_t deleted;
    sqlite3_stmt *od;

    if (sq_step_done(db, st, "archive delete", msg) < 0)
        return EMBER_EIO;
    deleted = (json_int_t) sqlite3_changes(db->db);
    if ((mask & ~(EMBER_AQ_ORDERED | EMBER_AQ_REVERSE)) == 0) {
        /* The whole archive went (a room destroyed): so does its row. */
        if ((od = sq_stmt(db, SQ_AR_OWNER_DEL, msg)) == NULL)
            return EMBER_EIO;
        if (sqlite3_bind_int64(od, 1, ow->oid) != SQLITE_OK) {
            sq_done(od);
            return sq_fail(db, "archive delete", msg);
        }
        if (sq_step_done(db, od, "archive delete", msg) < 0)
            return EMBER_EIO;
    }
    /* Its newest time may have gone: read again at the next append. */
    sq_owner_forget(db, ow);
    *result = json_pack("{s:I}", "deleted", deleted);
    return *result != NULL ? 0 : EMBER_ENOMEM;
}


int
sq_archive_run(sq_db_t *db, const ember_store_req_t *req, json_t **result,
           char **msg)
{
    static const ember_archive_query_t none = {
        .size = sizeof(ember_archive_query_t)
    };
    const ember_archive_query_t *q = req->query != NULL ? req->query : &none;
    int del = req->op == EMBER_SOP_ARCHIVE_DELETE, mask, err, rc, n = 0;
    sqlite3_int64 after = 0, before = 0, id = 0;
    sqlite3_stmt *st;
    sq_owner_t *ow;
    json_t *items, *it;

    if ((err = sq_owner_get(db, req, 0, &ow, msg)) == EMBER_ENOENT)
        return ember_archive_none(del, q, result);
    if (err < 0)
        return err;
    mask = ember_archive_mask(q, ow->ordered);
    if (q->after_id != NULL
        && (err = sq_anchor(db, ow->oid, q->after_id, &after, msg)) < 0)
        return err;
    if (q->before_id != NULL
        && (err = sq_anchor(db, ow->oid, q->before_id, &before, msg)) < 0)
        return err;
    /* No item has a malformed id: select nothing. */
    if (q->id != NULL && ember_archive_id_parse(q->id, &id) < 0)
        id = -1;
    if ((st = sq_archive_stmt(db, mask, del, msg)) == NULL)
        return EMBER_EIO;
    /* One row more than asked tells whether the page is the last one. */
    if (sq_archive_bind(st, q, ow->oid, mask, after, before, id,
                        del ? q->max : (sqlite3_int64) q->max + 1) < 0) {
        sq_done(st);
        return sq_fail(db, "archive bind", msg);
    }
    if (del)
        return sq_archive_delete(db, ow, st, mask, result, msg);
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
