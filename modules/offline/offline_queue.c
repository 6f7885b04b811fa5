/* offline_queue.c -- per-user offline work: store, deliver, count, clear.
 *
 * Everything one user's messages go through is queued on that user and done
 * in order, so a delivery query always sees the appends queued before it,
 * and only what was written to a session is deleted. */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "offline.h"

/* Messages per delivery query: bounds the memory of one page. */
#define OFF_PAGE 100


static size_t
off_hash(const char *s)
{
    size_t h = 2166136261u;

    while (*s != '\0')
        h = (h ^ (unsigned char) *s++) * 16777619u;
    return h;
}


static int
off_grow(off_inst_t *in)
{
    size_t n = in->tab_size != 0 ? in->tab_size * 2 : 64, i;
    off_user_t **t = calloc(n, sizeof(*t)), *u, *next;

    if (t == NULL)
        return EMBER_ENOMEM;
    for (i = 0; i < in->tab_size; i++)
        for (u = in->tab[i]; u != NULL; u = next) {
            next = u->next;
            u->next = t[off_hash(u->name) & (n - 1)];
            t[off_hash(u->name) & (n - 1)] = u;
        }
    free(in->tab);
    in->tab = t;
    in->tab_size = n;
    return 0;
}


off_user_t *
off_user_get(off_inst_t *in, const char *name, int create)
{
    off_user_t *u;
    size_t b;

    if (in->tab_size != 0) {
        for (u = in->tab[off_hash(name) & (in->tab_size - 1)]; u != NULL;
             u = u->next)
            if (strcmp(u->name, name) == 0)
                return u;
    }
    if (!create)
        return NULL;
    if (in->n_users >= in->tab_size && off_grow(in) < 0)
        return NULL;
    if ((u = calloc(1, sizeof(*u))) == NULL)
        return NULL;
    if ((u->name = strdup(name)) == NULL) {
        free(u);
        return NULL;
    }
    u->inst = in;
    u->stored = -1;
    u->ops_tail = &u->ops;
    b = off_hash(name) & (in->tab_size - 1);
    u->next = in->tab[b];
    in->tab[b] = u;
    in->n_users++;
    return u;
}


/* Forget a user with nothing in flight and nothing worth caching. */
void
off_user_maybe_free(off_user_t *u)
{
    off_inst_t *in = u->inst;
    off_user_t **pp;

    if (u->busy || u->counting || u->ops != NULL || u->inflight > 0 ||
        u->stored > 0)
        return;
    for (pp = &in->tab[off_hash(u->name) & (in->tab_size - 1)]; *pp != NULL;
         pp = &(*pp)->next)
        if (*pp == u) {
            *pp = u->next;
            break;
        }
    in->n_users--;
    free(u->name);
    free(u);
}


static void
off_op_free(off_op_t *op)
{
    api->stanza_release(op->hold);
    api->stanza_free(op->st);
    free(op);
}


int
off_enqueue(off_user_t *u, off_op_kind_t kind, ember_stanza_t *st,
            ember_session_ref_t sess, ember_cmd_ctx_t *ctx,
            ember_hold_t *hold)
{
    off_op_t *op = calloc(1, sizeof(*op));

    if (op == NULL)
        return EMBER_ENOMEM;
    op->kind = kind;
    op->st = st;
    op->sess = sess;
    op->ctx = ctx;
    op->hold = hold;
    *u->ops_tail = op;
    u->ops_tail = &op->next;
    return 0;
}


static void
off_bounce(off_user_t *u, const ember_stanza_t *st, ember_cond_t cond,
           const char *text)
{
    ember_stanza_t *r = api->error_reply(st, cond, text);

    if (r != NULL)
        api->route(u->inst->m, r);
}


/* ---- counting ---- */

/* The other nodes of a cluster count again (the store is shared). */
static void
off_changed(off_user_t *u)
{
    api->cluster_notify(u->inst->m, u->name);
}


void
off_changed_elsewhere(off_inst_t *in, const char *name)
{
    off_user_t *u = off_user_get(in, name, 0);

    if (u == NULL)
        return;
    if (u->ops == NULL && u->inflight == 0 && !u->busy && !u->counting) {
        u->stored = -1;
        off_user_maybe_free(u);
    } else {
        u->stale = 1;
    }
}

static void
off_counted(int status, json_t *res, void *ud)
{
    off_user_t *u = ud;

    u->counting = 0;
    if (status == 0 || status == EMBER_ENOENT) {
        u->stored = (long) json_array_size(json_object_get(res, "items"));
    } else {
        api->log(u->inst->m, EMBER_LOG_ERROR, "cannot count the "
                     "offline messages of %s: %s", u->name,
                     api->strerror(status));
        /* Counting failed: what waits on it can only fail too. */
        u->stored = -2;
    }
    off_pump(u);
    off_user_maybe_free(u);
}


static int
off_count_start(off_user_t *u)
{
    int err;

    if (u->counting)
        return 0;
    u->counting = 1;
    err = api->archive_query(u->inst->store, u->name, NULL, off_counted,
                                 u);
    if (err < 0)
        u->counting = 0;
    return err;
}


/* ---- storing ---- */

static void
off_appended(int status, json_t *res, void *ud)
{
    off_append_t *a = ud;
    off_user_t *u = a->u;

    (void) res;
    if (a->prev != NULL)
        a->prev->next = a->next;
    else
        u->inst->appends = a->next;
    if (a->next != NULL)
        a->next->prev = a->prev;
    u->inflight--;
    if (status == 0) {
        if (u->stored >= 0)
            u->stored++;
        off_changed(u);
    } else {
        api->log(u->inst->m, EMBER_LOG_ERROR, "cannot store an offline "
                     "message for %s: %s", u->name,
                     api->strerror(status));
        off_bounce(u, a->st, EMBER_COND_SERVICE_UNAVAILABLE, NULL);
    }
    api->stanza_release(a->hold);
    api->stanza_free(a->st);
    free(a);
    off_user_maybe_free(u);
}


static void
off_store(off_user_t *u, off_op_t *op)
{
    const char *from = api->stanza_attr(op->st, "from");
    ember_jid_t *j = from != NULL ? api->jid_parse(from) : NULL;
    off_append_t *a = NULL;
    char *xml = NULL;
    int err = EMBER_ENOMEM;

    if (u->stored < 0) {
        off_bounce(u, op->st, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        goto done;
    }
    if (u->stored + u->inflight >= u->inst->max_messages) {
        off_bounce(u, op->st, EMBER_COND_SERVICE_UNAVAILABLE,
                   "the recipient's offline storage is full");
        goto done;
    }
    if ((a = calloc(1, sizeof(*a))) == NULL ||
        (xml = api->stanza_serialize(op->st, NULL)) == NULL)
        goto fail;
    a->u = u;
    a->st = op->st;
    err = api->archive_append(u->inst->store, u->name,
                                  j != NULL ? api->jid_bare(j) : NULL,
                                  xml, off_appended, a);
    if (err < 0)
        goto fail;
    op->st = NULL;
    a->hold = op->hold;
    op->hold = NULL;
    u->inflight++;
    a->next = u->inst->appends;
    if (a->next != NULL)
        a->next->prev = a;
    u->inst->appends = a;
    goto done;

fail:
    off_bounce(u, op->st, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
    free(a);
done:
    api->free(xml);
    api->jid_free(j);
}


/* ---- delivering ---- */

static int off_deliver_next(off_user_t *u);


static void
off_deliver_end(off_user_t *u)
{
    u->deliv = 0;
    u->busy = 0;
    u->more = 0;
    off_pump(u);
    off_user_maybe_free(u);
}


static void
off_deleted(int status, json_t *res, void *ud)
{
    off_user_t *u = ud;
    json_int_t n;

    if (status == 0) {
        n = json_integer_value(json_object_get(res, "deleted"));
        if (u->stored >= 0)
            u->stored = u->stored > n ? u->stored - (long) n : 0;
        if (n > 0)
            off_changed(u);
    } else {
        /* Written but still stored: they come again next time rather than
         * being lost. */
        api->log(u->inst->m, EMBER_LOG_ERROR, "cannot delete delivered "
                     "offline messages of %s: %s", u->name,
                     api->strerror(status));
        u->more = 0;
    }
    if (!u->more || api->session_get(u->deliv) == NULL ||
        off_deliver_next(u) < 0)
        off_deliver_end(u);
}


static void
off_page(int status, json_t *res, void *ud)
{
    off_user_t *u = ud;
    ember_session_t *s;
    json_t *items = json_object_get(res, "items"), *it;
    ember_archive_query_t q;
    ember_stanza_t *st;
    const char *data;
    size_t i, n = 0;

    if (status != 0) {
        if (status != EMBER_ENOENT)
            api->log(u->inst->m, EMBER_LOG_ERROR, "cannot read the "
                         "offline messages of %s: %s", u->name,
                         api->strerror(status));
        off_deliver_end(u);
        return;
    }
    json_array_foreach(items, i, it) {
        if ((s = api->session_get(u->deliv)) == NULL)
            break;
        data = json_string_value(json_object_get(it, "data"));
        st = data != NULL ? api->stanza_parse(data, strlen(data)) : NULL;
        if (st == NULL) {
            api->log(u->inst->m, EMBER_LOG_WARN, "dropping an unreadable "
                         "offline message of %s", u->name);
        } else if (api->session_send(s, st) < 0) {
            api->stanza_free(st);
            break;
        } else {
            api->stanza_free(st);
        }
        n++;
    }
    if (n == 0) {
        off_deliver_end(u);
        return;
    }
    u->more = n == json_array_size(items) &&
              !json_is_true(json_object_get(res, "complete"));
    /* Items come oldest first and only this queue deletes from the front:
     * the n oldest are the n just written. */
    memset(&q, 0, sizeof(q));
    q.size = sizeof(q);
    q.max = (int) n;
    if (api->archive_delete(u->inst->store, u->name, &q, off_deleted,
                                u) < 0)
        off_deliver_end(u);
}


static int
off_deliver_next(off_user_t *u)
{
    ember_archive_query_t q;

    memset(&q, 0, sizeof(q));
    q.size = sizeof(q);
    q.max = OFF_PAGE;
    return api->archive_query(u->inst->store, u->name, &q, off_page, u);
}


/* ---- clearing ---- */

static void
off_cleared(int status, json_t *res, void *ud)
{
    off_user_t *u = ud;
    ember_cmd_ctx_t *ctx = u->clearing;
    json_int_t n = json_integer_value(json_object_get(res, "deleted"));

    u->clearing = NULL;
    if (status == 0 || status == EMBER_ENOENT) {
        /* Appends queued before the clear were confirmed before this: only
         * later ones are left, and they count themselves when confirmed. */
        u->stored = 0;
        off_changed(u);
        api->command_done(ctx, 0, json_pack("{s:I}", "deleted",
                                                 status == 0 ? n : 0), NULL);
    } else {
        api->command_done(ctx, status, NULL, "cannot clear the offline "
                              "messages");
    }
    u->busy = 0;
    off_pump(u);
    off_user_maybe_free(u);
}


/* ---- the queue ---- */

static void
off_count_answer(off_user_t *u, ember_cmd_ctx_t *ctx)
{
    if (u->stored < 0)
        api->command_done(ctx, EMBER_EIO, NULL,
                              "cannot count the offline messages");
    else
        api->command_done(ctx, 0, json_pack("{s:I}", "count",
                                                 (json_int_t) u->stored),
                              NULL);
}


/* Start what can start.  Stores and counts need the count; deliveries and
 * clears take the user's store for themselves, one at a time.  Nothing
 * passes an op that waits for the count, so a delivery sees every store
 * queued before it. */
void
off_pump(off_user_t *u)
{
    off_op_t **pp = &u->ops, *op;
    int exclusive_blocked = 0, err;

    while ((op = *pp) != NULL) {
        if (op->kind == OP_STORE || op->kind == OP_COUNT) {
            if (u->stale && u->inflight == 0 && !u->counting) {
                u->stale = 0;
                u->stored = -1;
            }
            if (u->stored == -1) {
                if (off_count_start(u) < 0)
                    u->stored = -2;
                else
                    break;
            }
            if (op->kind == OP_STORE)
                off_store(u, op);
            else
                off_count_answer(u, op->ctx);
        } else if (u->busy || exclusive_blocked) {
            exclusive_blocked = 1;
            pp = &op->next;
            continue;
        } else if (op->kind == OP_DELIVER) {
            if (api->session_get(op->sess) == NULL ||
                (u->stored == 0 && u->inflight == 0)) {
                /* Gone already, or known to have nothing waiting. */
            } else if (off_deliver_next(u) == 0) {
                u->busy = 1;
                u->deliv = op->sess;
            }
        } else {
            err = api->archive_delete(u->inst->store, u->name, NULL,
                                          off_cleared, u);
            if (err < 0) {
                api->command_done(op->ctx, err, NULL,
                                      "cannot clear the offline messages");
            } else {
                u->busy = 1;
                u->clearing = op->ctx;
            }
        }
        /* The op is done with: unlink it (its successors stay). */
        *pp = op->next;
        if (u->ops_tail == &op->next)
            u->ops_tail = pp;
        off_op_free(op);
    }
    /* A count that could not even start failed only the ops it met. */
    if (u->stored == -2)
        u->stored = -1;
}


void
off_inst_free(off_inst_t *in)
{
    off_user_t *u, *next;
    off_append_t *a;
    off_op_t *op;
    size_t i;

    for (i = 0; i < in->tab_size; i++)
        for (u = in->tab[i]; u != NULL; u = next) {
            next = u->next;
            while ((op = u->ops) != NULL) {
                u->ops = op->next;
                off_op_free(op);
            }
            /* Storage callbacks never come after an unload; a running
             * clear's command is answered by the core. */
            free(u->name);
            free(u);
        }
    free(in->tab);
    in->tab = NULL;
    in->tab_size = in->n_users = 0;
    while ((a = in->appends) != NULL) {
        in->appends = a->next;
        api->stanza_release(a->hold);
        api->stanza_free(a->st);
        free(a);
    }
}
