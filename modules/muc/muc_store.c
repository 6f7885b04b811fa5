/* muc_store.c -- persistent rooms: configuration, affiliations and
 * subject in the MAP store "muc_rooms" (user: the host, key: the room),
 * history in the ARCHIVE store "muc_history" (user: the room). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "muc.h"

/* One request in flight whose callback needs the room's name.  The core
 * drops the callbacks of an unloading module: unload frees these. */
typedef struct muc_req_s {
    struct muc_req_s *next, **prev;
    muc_t *mu;
    char *node;
    int64_t us;
    /* A client's XEP-0198 acknowledgement of the stanza that caused
     * this write waits for it. */
    ember_hold_t *hold;
    int room_doc;           /* the room's record: the other nodes reread it */
    /* An admin command that answers once the write is stored, with
     * result (taken). */
    ember_cmd_ctx_t *ctx;
    json_t *result;
} muc_req_t;


static muc_req_t *
req_new(muc_t *mu, const char *node, int64_t us)
{
    muc_req_t *q = calloc(1, sizeof(*q));

    if (q == NULL || (q->node = strdup(node)) == NULL) {
        free(q);
        return NULL;
    }
    q->mu = mu;
    q->us = us;
    q->next = mu->reqs;
    if (q->next != NULL)
        q->next->prev = &q->next;
    q->prev = &mu->reqs;
    mu->reqs = q;
    return q;
}


static void
req_free(muc_req_t *q)
{
    *q->prev = q->next;
    if (q->next != NULL)
        q->next->prev = q->prev;
    api->stanza_release(q->hold);
    json_decref(q->result);
    free(q->node);
    free(q);
}


void
muc_store_close(muc_t *mu)
{
    while (mu->reqs != NULL)
        req_free(mu->reqs);
}


static void
write_failed(muc_t *mu, int status)
{
    if (status < 0 && status != EMBER_ENOENT)
        api->log(mu->m, EMBER_LOG_WARN, "muc store write failed: %s",
                 api->strerror(status));
}


static void
store_done(int status, json_t *result, void *ud)
{
    muc_req_t *w = ud;
    ember_cmd_ctx_t *ctx = w->ctx;
    json_t *answer = w->result;

    write_failed(w->mu, status);
    if ((status == 0 || status == EMBER_ENOENT) && w->room_doc)
        api->cluster_notify(w->mu->m, w->node);
    w->result = NULL;
    req_free(w);
    if (ctx == NULL)
        return;
    if (status < 0 && status != EMBER_ENOENT) {
        json_decref(answer);
        api->command_done(ctx, status, NULL, "the room could not be stored");
    } else {
        api->command_done(ctx, 0, answer, NULL);
    }
}


/* map_set, or archive_delete with q, of node; ctx (when not NULL) is
 * answered with result once it is stored. */
static void
store_write(muc_t *mu, const char *node, json_t *doc,
            const ember_archive_query_t *q, ember_cmd_ctx_t *ctx,
            json_t *result)
{
    muc_req_t *w = req_new(mu, node, 0);

    if (w == NULL) {
        write_failed(mu, EMBER_ENOMEM);
        if (ctx != NULL) {
            json_decref(result);
            api->command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        }
        return;
    }
    w->hold = api->stanza_hold(mu->m);
    w->room_doc = q == NULL;
    w->ctx = ctx;
    w->result = result;
    if ((q != NULL ? api->archive_delete(mu->st_hist, node, q, store_done, w)
                   : api->map_set(mu->st_rooms, NULL, node, doc, store_done,
                                  w)) < 0)
        store_done(EMBER_EIO, NULL, w);
}


static json_t *
room_doc(muc_room_t *r)
{
    json_t *doc, *affs = json_object(), *e;
    muc_aff_t *a;

    if (affs == NULL)
        return NULL;
    for (a = r->affs; a != NULL; a = a->next) {
        e = json_pack("{s:s}", "affiliation", muc_aff_name(a->aff));
        if (e != NULL && a->reason != NULL)
            json_object_set_new(e, "reason", json_string(a->reason));
        if (e != NULL && a->nick != NULL)
            json_object_set_new(e, "nick", json_string(a->nick));
        json_object_set_new(affs, a->jid, e);
    }
    doc = json_pack("{s:o,s:o,s:s?,s:s?,s:s?}",
                    "config", muc_rconf_json(&r->c), "affiliations", affs,
                    "subject", r->subject, "subject_nick", r->subject_nick,
                    "creator", r->creator);
    return doc;
}


void
muc_store_save(muc_room_t *r)
{
    muc_store_save_then(r, NULL, NULL);
}


void
muc_store_save_then(muc_room_t *r, ember_cmd_ctx_t *ctx, json_t *result)
{
    json_t *doc;

    if (r->muc->st_rooms == NULL || !r->c.persistent || r->locked ||
        r->destroyed || (doc = room_doc(r)) == NULL) {
        if (ctx != NULL)
            api->command_done(ctx, 0, result, NULL);
        return;
    }
    store_write(r->muc, r->node, doc, NULL, ctx, result);
    json_decref(doc);
}


void
muc_store_forget(muc_room_t *r)
{
    ember_archive_query_t q;

    if (r->muc->st_rooms == NULL)
        return;
    memset(&q, 0, sizeof(q));
    q.size = sizeof(q);
    store_write(r->muc, r->node, NULL, NULL, NULL, NULL);
    store_write(r->muc, r->node, NULL, &q, NULL, NULL);
}


/* The store keeps what the ring keeps: items older than the ring's oldest
 * are deleted as new ones come. */
static void
hist_appended(int status, json_t *result, void *ud)
{
    muc_req_t *ha = ud;
    muc_room_t *r = muc_room_find(ha->mu, ha->node);
    const char *id = json_string_value(json_object_get(result, "id"));
    ember_archive_query_t q;
    muc_hist_t *old;

    if (status < 0)
        write_failed(ha->mu, status);
    else if (r != NULL && id != NULL) {
        muc_hist_set_id(r, ha->us, id);
        old = muc_hist_oldest(r);
        if (r->hist_n == r->hist_cap && old != NULL && old->id != NULL) {
            memset(&q, 0, sizeof(q));
            q.size = sizeof(q);
            q.before_id = old->id;
            store_write(ha->mu, r->node, NULL, &q, NULL, NULL);
        }
    }
    req_free(ha);
}


void
muc_store_hist_append(muc_room_t *r, const char *nick, const char *xml,
                      int64_t us)
{
    muc_req_t *ha;

    if (r->muc->st_hist == NULL || (ha = req_new(r->muc, r->node, us)) == NULL)
        return;
    ha->hold = api->stanza_hold(r->muc->m);
    if (api->archive_append(r->muc->st_hist, r->node, nick, xml,
                            hist_appended, ha) < 0)
        req_free(ha);
}


static void
loading_done(muc_t *mu)
{
    muc_pending_t *p;

    if (--mu->loading > 0)
        return;
    api->log(mu->m, EMBER_LOG_INFO, "%d persistent rooms loaded", mu->nrooms);
    /* What arrived meanwhile goes through the router again. */
    while ((p = mu->pending) != NULL) {
        mu->pending = p->next;
        api->route(mu->m, p->st);
        free(p);
    }
    mu->pending_tail = &mu->pending;
}


static void
hist_loaded(int status, json_t *result, void *ud)
{
    muc_req_t *hl = ud;
    muc_t *mu = hl->mu;
    muc_room_t *r = muc_room_find(mu, hl->node);
    json_t *items = json_object_get(result, "items"), *it;
    const char *data;
    size_t i;

    if (status == 0 && r != NULL && json_is_array(items)) {
        /* Newest first: push from the end. */
        for (i = json_array_size(items); i-- > 0;) {
            it = json_array_get(items, i);
            data = json_string_value(json_object_get(it, "data"));
            if (data != NULL)
                muc_hist_add_raw(r, data, (int64_t) json_integer_value(
                                     json_object_get(it, "time")),
                                 json_string_value(
                                     json_object_get(it, "id")));
        }
    }
    req_free(hl);
    loading_done(mu);
}


static int
room_from_doc(muc_t *mu, const char *node, json_t *doc)
{
    json_t *cfg = json_object_get(doc, "config");
    json_t *affs = json_object_get(doc, "affiliations"), *v, *e;
    const char *var, *vals[8];
    char err[256], num[32];
    muc_room_t *r;
    size_t n, i;
    int aff;

    if (muc_room_find(mu, node) != NULL ||
        (r = muc_room_new(mu, node, json_string_value(
             json_object_get(doc, "creator")))) == NULL)
        return EMBER_ENOMEM;
    json_object_foreach(cfg, var, v) {
        n = 0;
        if (json_is_array(v)) {
            json_array_foreach(v, i, e)
                if (json_is_string(e) && n < sizeof(vals) / sizeof(vals[0]))
                    vals[n++] = json_string_value(e);
            if (muc_rconf_set(r, &r->c, var, vals, n, err, sizeof(err)) < 0)
                api->log(mu->m, EMBER_LOG_WARN, "room %s: %s", node, err);
            continue;
        }
        if (json_is_string(v))
            vals[0] = json_string_value(v);
        else if (json_is_boolean(v))
            vals[0] = json_is_true(v) ? "1" : "0";
        else if (json_is_integer(v)) {
            snprintf(num, sizeof(num), "%lld",
                     (long long) json_integer_value(v));
            vals[0] = num;
        } else
            continue;
        /* A value the options no longer allow keeps the default. */
        if (muc_rconf_set(r, &r->c, var, vals, 1, err, sizeof(err)) < 0)
            api->log(mu->m, EMBER_LOG_WARN, "room %s: %s", node, err);
    }
    r->c.persistent = 1;
    muc_hist_resize(r, r->c.history_len);
    json_object_foreach(affs, var, v) {
        aff = muc_aff_parse(json_string_value(
                  json_object_get(v, "affiliation")));
        if (aff >= 0 && muc_aff_set(r, var, aff, json_string_value(
                json_object_get(v, "reason"))) == 0)
            muc_nick_reserve(r, var, json_string_value(
                                 json_object_get(v, "nick")));
    }
    muc_set(&r->subject, json_string_value(json_object_get(doc, "subject")));
    muc_set(&r->subject_nick,
            json_string_value(json_object_get(doc, "subject_nick")));
    return 0;
}


static void
hist_load(muc_room_t *r)
{
    muc_t *mu = r->muc;
    ember_archive_query_t q;
    muc_req_t *hl;

    if (r->hist_cap == 0 || (hl = req_new(mu, r->node, 0)) == NULL)
        return;
    memset(&q, 0, sizeof(q));
    q.size = sizeof(q);
    q.max = r->hist_cap;
    q.reverse = 1;
    mu->loading++;
    if (api->archive_query(mu->st_hist, r->node, &q, hist_loaded, hl) < 0) {
        mu->loading--;
        req_free(hl);
    }
}


static void
rooms_loaded(int status, json_t *result, void *ud)
{
    muc_t *mu = ud;
    const char *node;
    muc_room_t *r;
    json_t *doc;

    if (status < 0 && status != EMBER_ENOENT)
        api->log(mu->m, EMBER_LOG_ERROR, "cannot read the rooms: %s",
                 api->strerror(status));
    if (status == 0)
        json_object_foreach(result, node, doc)
            if (room_from_doc(mu, node, doc) < 0)
                api->log(mu->m, EMBER_LOG_WARN, "room %s not loaded", node);
    for (r = mu->rooms; r != NULL; r = r->next)
        hist_load(r);
    loading_done(mu);
}


static void
room_loaded(int status, json_t *doc, void *ud)
{
    muc_req_t *rl = ud;
    muc_t *mu = rl->mu;
    muc_room_t *r;

    if (status < 0 && status != EMBER_ENOENT)
        api->log(mu->m, EMBER_LOG_ERROR, "cannot read room %s: %s",
                 rl->node, api->strerror(status));
    if (status == 0 && room_from_doc(mu, rl->node, doc) == 0 &&
        (r = muc_room_find(mu, rl->node)) != NULL)
        hist_load(r);
    req_free(rl);
    loading_done(mu);
}


void
muc_store_reload(muc_t *mu, const char *node)
{
    muc_room_t *r = muc_room_find(mu, node);
    muc_req_t *rl;

    if (r != NULL && r->nocc > 0)
        return;
    if (r != NULL)
        muc_room_forget(r);
    if (mu->st_rooms == NULL || (rl = req_new(mu, node, 0)) == NULL)
        return;
    mu->loading++;
    if (api->map_get(mu->st_rooms, NULL, node, room_loaded, rl) < 0) {
        req_free(rl);
        loading_done(mu);
    }
}


int
muc_store_load(muc_t *mu)
{
    mu->st_rooms = api->store_open(mu->m, "muc_rooms", EMBER_STORE_MAP);
    mu->st_hist = api->store_open(mu->m, "muc_history", EMBER_STORE_ARCHIVE);
    if (mu->st_rooms == NULL || mu->st_hist == NULL) {
        /* No storage backend: rooms live in memory only. */
        api->log(mu->m, EMBER_LOG_WARN, "no storage: rooms are not kept");
        mu->st_rooms = mu->st_hist = NULL;
        return 0;
    }
    mu->loading = 1;
    if (api->map_all(mu->st_rooms, NULL, rooms_loaded, mu) < 0) {
        mu->loading = 0;
        api->log(mu->m, EMBER_LOG_WARN, "cannot read the rooms: rooms are "
                 "not kept");
        mu->st_rooms = mu->st_hist = NULL;
    }
    return 0;
}
