/* core/store/audit.c -- the audit log in an archive store of the core:
 * one item per action, its data a JSON object, its `with` the action so
 * that a query can ask for one kind. */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "store/audit.h"
#include "store/storage.h"

#define AUDIT_STORE "audit"
#define AUDIT_OWNER "server"

typedef struct {
    ember_store_cb cb;
    void *ud;
} audit_query_t;


static ember_store_t *
audit_store(void)
{
    return ember__store_open(NULL, "", AUDIT_STORE, EMBER_STORE_ARCHIVE);
}


static void
recorded(int status, json_t *result, void *ud)
{
    char *action = ud;

    if (status < 0)
        LOG_W("audit: '%s' not stored: %s", action, ember_strerror(status));
    free(action);
}


void
ember__audit_record(const char *actor, const char *origin,
                    const char *action, json_t *detail, int status,
                    const char *message)
{
    ember_store_t *st = audit_store();
    json_t *e;
    char *text, *name;

    LOG_I("audit: %s from %s: %s%s%s", actor, origin, action,
          status < 0 ? ": " : "",
          status < 0 ? (message != NULL ? message : ember_strerror(status))
                     : "");
    e = json_pack("{s:s, s:s, s:s, s:O?, s:s, s:s?}", "actor", actor,
                  "origin", origin, "action", action, "detail", detail,
                  "result", status < 0 ? "error" : "ok",
                  "message", status < 0 ? (message != NULL ? message
                                           : ember_strerror(status)) : NULL);
    if (e == NULL || st == NULL)
        goto out;
    text = json_dumps(e, JSON_COMPACT);
    name = strdup(action);
    if (text == NULL || name == NULL ||
        ember__archive_append(st, AUDIT_OWNER, action, text, recorded,
                              name) < 0) {
        LOG_W("audit: '%s' not stored", action);
        free(name);
    }
    free(text);
out:
    json_decref(e);
}


static void
queried(int status, json_t *result, void *ud)
{
    audit_query_t *aq = ud;
    json_t *items = json_object_get(result, "items"), *it, *out, *e;
    size_t i;

    if (status < 0) {
        aq->cb(status, NULL, aq->ud);
        free(aq);
        return;
    }
    out = json_array();
    json_array_foreach(items, i, it) {
        e = json_loads(json_string_value(json_object_get(it, "data")), 0,
                       NULL);
        if (!json_is_object(e)) {
            json_decref(e);
            continue;
        }
        json_object_set(e, "id", json_object_get(it, "id"));
        json_object_set_new(e, "at", json_integer(json_integer_value(
                                json_object_get(it, "time")) / 1000000));
        json_array_append_new(out, e);
    }
    e = json_pack("{s:o, s:b}", "entries", out, "more",
                  !json_is_true(json_object_get(result, "complete")));
    aq->cb(0, e, aq->ud);
    json_decref(e);
    free(aq);
}


int
ember__audit_query(int max, const char *before, const char *action,
                   ember_store_cb cb, void *ud)
{
    ember_store_t *st = audit_store();
    ember_archive_query_t q = { .size = sizeof(q) };
    audit_query_t *aq;
    int rc;

    if (st == NULL)
        return EMBER_ENOMEM;
    if ((aq = calloc(1, sizeof(*aq))) == NULL)
        return EMBER_ENOMEM;
    aq->cb = cb;
    aq->ud = ud;
    q.with = action;
    q.before_id = before;
    q.reverse = 1;
    q.max = max;
    if ((rc = ember__archive_query(st, AUDIT_OWNER, &q, queried, aq)) < 0)
        free(aq);
    return rc;
}
