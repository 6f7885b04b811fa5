/* mam_query.c -- XEP-0313 queries of an archive, an account's own or,
 * through the "mam" interface, a room's: the form (with, start, end,
 * before-id, after-id, ids), XEP-0059 paging (before, after, max),
 * flip-page, metadata; and the preferences. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mam.h"

#define MAX_IDS 100
#define MAX_ANCHORS 4           /* after-id, before-id, RSM after, before */

typedef struct {
    mam_t *mm;
    ember_iq_t *iq;
    char *user;               /* the archive's key in the store */
    char *to;                 /* the asker's full JID */
    char *from;               /* the archive's address */
    char *queryid;
    unsigned flags;           /* EMBER_MAM_* */
    int flip;
    int backward;             /* paging from the end (RSM before) */
    int max;
    ember_archive_query_t q;
    char *with;
    /* Items looked up one after another: first the query's anchors,
     * then the ids field's items, gathered into items. */
    int64_t ids[MAX_ANCHORS + MAX_IDS];
    int before[MAX_ANCHORS];  /* an anchor bounds the page from above */
    size_t nanchors, nids, next_id;
    json_t *items;
    /* The page is bounded by the store's own ids of the nearest anchors,
     * which its (archive, id) index finds without a sort. */
    int64_t after_t, before_t;
    char after_sid[24], before_sid[24];
} query_t;


static void
query_free(query_t *qr)
{
    free(qr->user);
    free(qr->to);
    free(qr->from);
    free(qr->queryid);
    free(qr->with);
    json_decref(qr->items);
    free(qr);
}


/* XEP-0313 7.1.2: who published a room's message is told only to those
 * who may know, and never as the sender claimed it. */
static void
strip_muc_user(ember_stanza_t *msg)
{
    ember_stanza_t *c, *next;

    for (c = api->stanza_first(msg); c != NULL; c = next) {
        next = api->stanza_next(c);
        if (strcmp(api->stanza_name(c), "x") == 0 &&
            api->stanza_xmlns(c) != NULL &&
            strcmp(api->stanza_xmlns(c), NS_MUC_USER) == 0)
            api->stanza_remove(c);
    }
}


/* One <message><result><forwarded><delay/>original</forwarded></result>. */
static void
send_result(query_t *qr, json_t *item)
{
    const char *data = json_string_value(json_object_get(item, "data"));
    int64_t t = json_integer_value(json_object_get(item, "time"));
    ember_stanza_t *orig = data != NULL ? api->stanza_parse(data,
                                                            strlen(data))
                                        : NULL;
    ember_stanza_t *msg, *res, *fwd, *d;
    char id[32], stamp[64];

    if (orig == NULL)
        return;
    if ((qr->flags & EMBER_MAM_ROOM) && !(qr->flags & EMBER_MAM_REAL_JIDS))
        strip_muc_user(orig);
    mam_id_format(t, id, sizeof(id));
    mam_time_format(t, stamp, sizeof(stamp));
    if ((msg = api->stanza_new("message", NULL)) == NULL) {
        api->stanza_free(orig);
        return;
    }
    api->stanza_set_attr(msg, "from", qr->from);
    api->stanza_set_attr(msg, "to", qr->to);
    if ((res = api->stanza_add_child(msg, "result", NS_MAM)) != NULL &&
        (fwd = api->stanza_add_child(res, "forwarded", NS_FORWARD)) !=
            NULL &&
        (d = api->stanza_add_child(fwd, "delay", NS_DELAY)) != NULL) {
        api->stanza_set_attr(res, "id", id);
        if (qr->queryid != NULL)
            api->stanza_set_attr(res, "queryid", qr->queryid);
        api->stanza_set_attr(d, "stamp", stamp);
        api->stanza_append(fwd, orig);
    }
    api->stanza_free(orig);
    api->route(qr->mm->m, msg);
}


static void
finish(query_t *qr, json_t *items, int complete)
{
    ember_stanza_t *fin;
    size_t n = json_array_size(items), i;
    char first[32], last[32];
    json_t *a, *b;

    /* Items come oldest first, or newest first when paging backwards:
     * a page is sent oldest first, unless flip-page asks otherwise. */
    for (i = 0; i < n; i++) {
        size_t k = (qr->backward != qr->flip) ? n - 1 - i : i;

        send_result(qr, json_array_get(items, k));
    }
    if ((fin = api->stanza_new("fin", NS_MAM)) == NULL) {
        api->iq_fail(qr->iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    if (complete)
        api->stanza_set_attr(fin, "complete", "true");
    if (n > 0) {
        a = json_array_get(items, qr->backward ? n - 1 : 0);
        b = json_array_get(items, qr->backward ? 0 : n - 1);
        mam_id_format(json_integer_value(json_object_get(a, "time")), first,
                      sizeof(first));
        mam_id_format(json_integer_value(json_object_get(b, "time")), last,
                      sizeof(last));
        api->rsm_add(fin, first, last, -1, -1);
    } else {
        api->rsm_add(fin, NULL, NULL, 0, -1);
    }
    if (qr->flip)
        api->stanza_add_child(fin, "flip-page", NULL);
    api->iq_answer(qr->iq, fin);
}


static void
queried(int status, json_t *result, void *ud)
{
    query_t *qr = ud;

    if (status < 0) {
        api->log(qr->mm->m, EMBER_LOG_WARN, "archive query failed: %s",
                 api->strerror(status));
        api->iq_fail(qr->iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
    } else {
        finish(qr, json_object_get(result, "items"),
               json_is_true(json_object_get(result, "complete")));
    }
    query_free(qr);
}


static void next_id(query_t *qr);


static void
anchor_found(query_t *qr, size_t i, json_t *it)
{
    const char *sid = json_string_value(json_object_get(it, "id"));
    int64_t t = qr->ids[i];

    if (sid == NULL || strlen(sid) >= sizeof(qr->after_sid))
        return;
    if (!qr->before[i] && (qr->after_t == 0 || t > qr->after_t)) {
        qr->after_t = t;
        snprintf(qr->after_sid, sizeof(qr->after_sid), "%s", sid);
        qr->q.after_id = qr->after_sid;
    } else if (qr->before[i] && (qr->before_t == 0 || t < qr->before_t)) {
        qr->before_t = t;
        snprintf(qr->before_sid, sizeof(qr->before_sid), "%s", sid);
        qr->q.before_id = qr->before_sid;
    }
}


static void
id_found(int status, json_t *result, void *ud)
{
    query_t *qr = ud;
    json_t *it = json_array_get(json_object_get(result, "items"), 0);

    if (status < 0 || it == NULL) {
        /* XEP-0313 4.1.2 and 4.4: every id a query names must exist. */
        api->iq_fail(qr->iq, status < 0 ? EMBER_COND_INTERNAL_SERVER_ERROR
                     : EMBER_COND_ITEM_NOT_FOUND, status < 0 ? NULL
                     : "no such item in the archive");
        query_free(qr);
        return;
    }
    if (qr->next_id > qr->nanchors)
        json_array_append(qr->items, it);
    else
        anchor_found(qr, qr->next_id - 1, it);
    next_id(qr);
}


/* The items the query names, one after another, then the query: the
 * ids field's items in the order asked, or the page. */
static void
next_id(query_t *qr)
{
    ember_archive_query_t q;
    int rc;

    if (qr->next_id == qr->nids && qr->nids > qr->nanchors) {
        finish(qr, qr->items, 1);
        query_free(qr);
        return;
    }
    if (qr->next_id == qr->nids) {
        qr->q.max = qr->max;
        qr->q.reverse = qr->backward;
        rc = api->archive_query(qr->mm->st, qr->user, &qr->q, queried, qr);
    } else {
        memset(&q, 0, sizeof(q));
        q.size = sizeof(q);
        q.start = q.end = qr->ids[qr->next_id++];
        q.max = 1;
        rc = api->archive_query(qr->mm->st, qr->user, &q, id_found, qr);
    }
    if (rc < 0) {
        api->iq_fail(qr->iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        query_free(qr);
    }
}


static int
fail(ember_iq_t *iq, query_t *qr, ember_cond_t cond, const char *text)
{
    api->iq_fail(iq, cond, text);
    if (qr != NULL)
        query_free(qr);
    return EMBER_HOOK_HANDLED;
}


static const char *
field(const ember_stanza_t *x, const char *var)
{
    return x != NULL ? api->form_value(x, var) : NULL;
}


/* XEP-0313 4.1.1: the fields a query may filter on. */
static const char *const form_fields[][2] = {
    { "with", "jid-single" }, { "start", "text-single" },
    { "end", "text-single" }, { "before-id", "text-single" },
    { "after-id", "text-single" }, { "ids", "list-multi" },
};


/* The first field of x that is not in the form, or NULL. */
static const char *
unknown_field(const ember_stanza_t *x)
{
    const ember_stanza_t *f;
    const char *var;
    size_t i;

    for (f = x != NULL ? api->stanza_first(x) : NULL; f != NULL;
         f = api->stanza_next(f)) {
        if (strcmp(api->stanza_name(f), "field") != 0 ||
            (var = api->stanza_attr(f, "var")) == NULL ||
            strcmp(var, "FORM_TYPE") == 0)
            continue;
        for (i = 0; i < sizeof(form_fields) / sizeof(form_fields[0]); i++)
            if (strcmp(var, form_fields[i][0]) == 0)
                break;
        if (i == sizeof(form_fields) / sizeof(form_fields[0]))
            return var;
    }
    return NULL;
}


static int
query(mam_t *mm, const ember_event_t *ev, const char *user, const char *jid,
      unsigned flags)
{
    ember_stanza_t *qel = api->stanza_child(ev->stanza, "query", NS_MAM);
    ember_stanza_t *x = api->stanza_child(qel, "x", "jabber:x:data");
    const char *with = field(x, "with"), *start = field(x, "start");
    const char *end = field(x, "end"), *bid = field(x, "before-id");
    const char *aid = field(x, "after-id");
    const char *ids[MAX_IDS + 1];
    ember_iq_t *iq = api->iq_defer(mm->m, ev);
    ember_jid_t *wj = NULL;
    ember_rsm_t rsm;
    query_t *qr;
    size_t nids = x != NULL ? api->form_values(x, "ids", ids, MAX_IDS + 1)
                            : 0, i;
    int64_t t;
    int rc;

    if (iq == NULL)
        return EMBER_HOOK_HANDLED;
    if (mm->st == NULL)
        return fail(iq, NULL, EMBER_COND_SERVICE_UNAVAILABLE, "no storage");
    if ((qr = calloc(1, sizeof(*qr))) == NULL)
        return fail(iq, NULL, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
    qr->mm = mm;
    qr->iq = iq;
    qr->flags = flags;
    qr->q.size = sizeof(qr->q);
    qr->flip = api->stanza_child(qel, "flip-page", NULL) != NULL;
    if ((qr->user = strdup(user)) == NULL ||
        (qr->to = strdup(api->jid_full(ev->from))) == NULL ||
        (qr->from = strdup(jid)) == NULL ||
        (api->stanza_attr(qel, "queryid") != NULL &&
         (qr->queryid = strdup(api->stanza_attr(qel, "queryid"))) == NULL))
        return fail(iq, qr, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
    if (x != NULL && (field(x, "FORM_TYPE") == NULL ||
                      strcmp(field(x, "FORM_TYPE"), NS_MAM) != 0))
        return fail(iq, qr, EMBER_COND_BAD_REQUEST, "the form's FORM_TYPE "
                    "is not " NS_MAM);
    /* XEP-0313 4.1.1: a field the server does not know is an error. */
    if (unknown_field(x) != NULL)
        return fail(iq, qr, EMBER_COND_FEATURE_NOT_IMPLEMENTED, "unknown "
                    "field in the query form");
    if (with != NULL) {
        if ((wj = api->jid_parse(with)) == NULL)
            return fail(iq, qr, EMBER_COND_BAD_REQUEST, "with: not a JID");
        /* A room's items are published by occupant JIDs: any other JID
         * matches none of them. */
        qr->with = strdup((flags & EMBER_MAM_ROOM) ? api->jid_full(wj)
                                                   : api->jid_bare(wj));
        api->jid_free(wj);
        if (qr->with == NULL)
            return fail(iq, qr, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        qr->q.with = qr->with;
    }
    if (start != NULL) {
        if ((t = mam_time_parse(start)) == 0)
            return fail(iq, qr, EMBER_COND_BAD_REQUEST, "start: not a "
                        "XEP-0082 date and time");
        qr->q.start = t;
    }
    if (end != NULL) {
        if ((t = mam_time_parse(end)) == 0)
            return fail(iq, qr, EMBER_COND_BAD_REQUEST, "end: not a XEP-0082 "
                        "date and time");
        qr->q.end = t;
    }
    if (aid != NULL) {
        if ((t = mam_id_parse(aid)) == 0)
            return fail(iq, qr, EMBER_COND_ITEM_NOT_FOUND, "after-id: no "
                        "such item");
        qr->ids[qr->nanchors++] = t;
    }
    if (bid != NULL) {
        if ((t = mam_id_parse(bid)) == 0)
            return fail(iq, qr, EMBER_COND_ITEM_NOT_FOUND, "before-id: no "
                        "such item");
        qr->before[qr->nanchors] = 1;
        qr->ids[qr->nanchors++] = t;
    }
    rc = api->rsm_parse(qel, &rsm);
    if (rc == EMBER_EINVAL)
        return fail(iq, qr, EMBER_COND_BAD_REQUEST, "malformed result set");
    qr->max = mm->conf->max_page;
    if (rc == 0 && rsm.max >= 0 && rsm.max < qr->max)
        qr->max = rsm.max;
    if (rc == 0 && rsm.after != NULL) {
        if ((t = mam_id_parse(rsm.after)) == 0)
            return fail(iq, qr, EMBER_COND_ITEM_NOT_FOUND, "after: no such "
                        "item");
        qr->ids[qr->nanchors++] = t;
    }
    if (rc == 0 && rsm.before != NULL) {
        qr->backward = 1;
        if (rsm.before[0] != '\0') {
            if ((t = mam_id_parse(rsm.before)) == 0)
                return fail(iq, qr, EMBER_COND_ITEM_NOT_FOUND, "before: no "
                            "such item");
            qr->before[qr->nanchors] = 1;
            qr->ids[qr->nanchors++] = t;
        }
    }
    if (qr->max == 0) {
        /* RSM max 0: only the count, which is not kept. */
        finish(qr, NULL, 0);
        query_free(qr);
        return EMBER_HOOK_HANDLED;
    }
    if (nids > MAX_IDS)
        return fail(iq, qr, EMBER_COND_POLICY_VIOLATION, "at most 100 ids "
                    "in one query");
    if (nids > 0 && (qr->items = json_array()) == NULL)
        return fail(iq, qr, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
    for (i = 0; i < nids; i++)
        if ((qr->ids[qr->nanchors + i] = mam_id_parse(ids[i])) == 0)
            return fail(iq, qr, EMBER_COND_ITEM_NOT_FOUND, "ids: no such "
                        "item");
    qr->nids = qr->nanchors + nids;
    next_id(qr);
    return EMBER_HOOK_HANDLED;
}


static int
form(const ember_event_t *ev)
{
    ember_stanza_t *q = api->stanza_new("query", NS_MAM), *x;
    size_t i;

    if (q == NULL) {
        api->stanza_error(ev, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return EMBER_HOOK_HANDLED;
    }
    if ((x = api->form_new(q, "form", NULL, NS_MAM)) != NULL)
        for (i = 0; i < sizeof(form_fields) / sizeof(form_fields[0]); i++)
            api->form_add_field(x, form_fields[i][0], form_fields[i][1],
                                NULL, NULL);
    api->iq_result(ev, q);
    return EMBER_HOOK_HANDLED;
}


/* ---- metadata: the first and the last item ---- */

typedef struct {
    mam_t *mm;
    ember_iq_t *iq;
    char *user;
    ember_stanza_t *md;
    int step;
} meta_t;


static void meta_next(meta_t *mt);


static void
meta_got(int status, json_t *result, void *ud)
{
    meta_t *mt = ud;
    json_t *it = json_array_get(json_object_get(result, "items"), 0);
    ember_stanza_t *e;
    char id[32], stamp[64];
    int64_t t;

    if (status < 0) {
        api->iq_fail(mt->iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        api->stanza_free(mt->md);
        free(mt->user);
        free(mt);
        return;
    }
    if (it != NULL &&
        (e = api->stanza_add_child(mt->md, mt->step == 0 ? "start" : "end",
                                   NULL)) != NULL) {
        t = json_integer_value(json_object_get(it, "time"));
        mam_id_format(t, id, sizeof(id));
        mam_time_format(t, stamp, sizeof(stamp));
        api->stanza_set_attr(e, "id", id);
        api->stanza_set_attr(e, "timestamp", stamp);
    }
    if (it == NULL || ++mt->step == 2) {
        api->iq_answer(mt->iq, mt->md);
        free(mt->user);
        free(mt);
        return;
    }
    meta_next(mt);
}


static void
meta_next(meta_t *mt)
{
    ember_archive_query_t q;

    memset(&q, 0, sizeof(q));
    q.size = sizeof(q);
    q.max = 1;
    q.reverse = mt->step == 1;
    if (api->archive_query(mt->mm->st, mt->user, &q, meta_got, mt) < 0) {
        api->iq_fail(mt->iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        api->stanza_free(mt->md);
        free(mt->user);
        free(mt);
    }
}


static int
metadata(mam_t *mm, const ember_event_t *ev, const char *user)
{
    ember_iq_t *iq = api->iq_defer(mm->m, ev);
    meta_t *mt;

    if (iq == NULL)
        return EMBER_HOOK_HANDLED;
    if (mm->st == NULL) {
        api->iq_fail(iq, EMBER_COND_SERVICE_UNAVAILABLE, "no storage");
        return EMBER_HOOK_HANDLED;
    }
    if ((mt = calloc(1, sizeof(*mt))) == NULL ||
        (mt->user = strdup(user)) == NULL ||
        (mt->md = api->stanza_new("metadata", NS_MAM)) == NULL) {
        if (mt != NULL)
            free(mt->user);
        free(mt);
        api->iq_fail(iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return EMBER_HOOK_HANDLED;
    }
    mt->mm = mm;
    mt->iq = iq;
    meta_next(mt);
    return EMBER_HOOK_HANDLED;
}


int
mam_answer(mam_t *mm, const ember_event_t *ev, const char *user,
           const char *jid, unsigned flags)
{
    const char *type = api->stanza_attr(ev->stanza, "type");
    int get = type != NULL && strcmp(type, "get") == 0;

    if (api->stanza_child(ev->stanza, "query", NS_MAM) != NULL)
        return get ? form(ev) : query(mm, ev, user, jid, flags);
    if (get && api->stanza_child(ev->stanza, "metadata", NS_MAM) != NULL)
        return metadata(mm, ev, user);
    return EMBER_EINVAL;
}


/* An account's own archive: iqs to its bare JID from its sessions. */
int
mam_on_own(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    (void) m;
    mam_answer(ud, ev, api->jid_node(ev->from), api->jid_bare(ev->from), 0);
    return EMBER_HOOK_HANDLED;
}


/* ---- preferences (XEP-0313 section 6) ---- */

mam_prefs_t *
mam_prefs_of(mam_t *mm, const char *user)
{
    mam_prefs_t *p;

    for (p = mm->prefs; p != NULL; p = p->next)
        if (strcmp(p->user, user) == 0)
            return p;
    return NULL;
}


static const char *const def_names[] = { "always", "never", "roster" };


static ember_stanza_t *
prefs_element(const mam_t *mm, const mam_prefs_t *p)
{
    ember_stanza_t *e = api->stanza_new("prefs", NS_MAM), *l;
    const char *def = p != NULL ? def_names[p->def] : mm->conf->default_pref;
    json_t *lists[2] = { p != NULL ? p->always : NULL,
                         p != NULL ? p->never : NULL };
    const char *names[2] = { "always", "never" };
    size_t i, k;

    if (e == NULL)
        return NULL;
    api->stanza_set_attr(e, "default", def);
    for (k = 0; k < 2; k++) {
        l = api->stanza_add_child(e, names[k], NULL);
        for (i = 0; l != NULL && i < json_array_size(lists[k]); i++)
            api->stanza_add_text(api->stanza_add_child(l, "jid", NULL),
                                 json_string_value(json_array_get(lists[k],
                                                                  i)));
    }
    return e;
}


static json_t *
jid_list(const ember_stanza_t *l)
{
    json_t *a = json_array();
    const ember_stanza_t *c;
    ember_jid_t *j;

    for (c = l != NULL ? api->stanza_first(l) : NULL; a != NULL && c != NULL;
         c = api->stanza_next(c)) {
        if (strcmp(api->stanza_name(c), "jid") != 0 ||
            api->stanza_text(c) == NULL ||
            (j = api->jid_parse(api->stanza_text(c))) == NULL)
            continue;
        json_array_append_new(a, json_string(api->jid_bare(j)));
        api->jid_free(j);
    }
    return a;
}


typedef struct {
    mam_t *mm;
    ember_iq_t *iq;
    char *user;
} prefs_save_t;


static void
prefs_saved(int status, json_t *result, void *ud)
{
    prefs_save_t *s = ud;

    (void) result;
    if (status < 0)
        api->iq_fail(s->iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
    else
        api->iq_answer(s->iq, prefs_element(s->mm, mam_prefs_of(s->mm,
                                                                s->user)));
    free(s->user);
    free(s);
}


int
mam_on_prefs(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    mam_t *mm = ud;
    const char *user = api->jid_node(ev->from);
    ember_stanza_t *el = api->stanza_child(ev->stanza, "prefs", NS_MAM);
    const char *def = api->stanza_attr(el, "default");
    mam_prefs_t *p = mam_prefs_of(mm, user);
    prefs_save_t *s;
    ember_iq_t *iq;
    json_t *doc;
    int d;

    if (strcmp(api->stanza_attr(ev->stanza, "type"), "get") == 0) {
        api->iq_result(ev, prefs_element(mm, p));
        return EMBER_HOOK_HANDLED;
    }
    for (d = 0; d < 3; d++)
        if (def != NULL && strcmp(def, def_names[d]) == 0)
            break;
    if (d == 3) {
        api->stanza_error(ev, EMBER_COND_BAD_REQUEST, "default: always, "
                          "never or roster");
        return EMBER_HOOK_HANDLED;
    }
    if (p == NULL) {
        if ((p = calloc(1, sizeof(*p))) == NULL ||
            (p->user = strdup(user)) == NULL) {
            free(p);
            api->stanza_error(ev, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
            return EMBER_HOOK_HANDLED;
        }
        p->next = mm->prefs;
        mm->prefs = p;
    }
    p->def = (mam_default_t) d;
    json_decref(p->always);
    json_decref(p->never);
    p->always = jid_list(api->stanza_child(el, "always", NULL));
    p->never = jid_list(api->stanza_child(el, "never", NULL));
    if (mm->st_prefs == NULL) {
        api->iq_result(ev, prefs_element(mm, p));
        return EMBER_HOOK_HANDLED;
    }
    if ((iq = api->iq_defer(m, ev)) == NULL)
        return EMBER_HOOK_HANDLED;
    if ((s = calloc(1, sizeof(*s))) == NULL ||
        (s->user = strdup(user)) == NULL ||
        (doc = json_pack("{s:s,s:O,s:O}", "default", def_names[d], "always",
                         p->always, "never", p->never)) == NULL) {
        if (s != NULL)
            free(s->user);
        free(s);
        api->iq_fail(iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return EMBER_HOOK_HANDLED;
    }
    s->mm = mm;
    s->iq = iq;
    if (api->keyval_set(mm->st_prefs, user, doc, prefs_saved, s) < 0)
        prefs_saved(EMBER_EIO, NULL, s);
    json_decref(doc);
    return EMBER_HOOK_HANDLED;
}
