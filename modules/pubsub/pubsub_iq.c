/* pubsub_iq.c -- the life of a request: it waits for its service to be
 * loaded and, for PEP, for the owner's roster, then runs to completion;
 * its dispatch, its answers, and the helpers the use cases share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "pubsub.h"

/*
 * The answers go through these two functions only.  A request is not an
 * api->iq_defer handle: iq_fail cannot carry XEP-0060's application
 * conditions (<nodeid-required xmlns='...#errors'/> ...), so the request
 * keeps its own copy and the core builds the replies from it.
 */
void
ps_fail(ps_req_t *r, ember_cond_t cond, const char *app, const char *text)
{
    ember_stanza_t *e, *err;
    int status = r->c->closing ? EMBER_ECANCELED : EMBER_EPROTO;

    if (r->local) {
        if (r->done != NULL)
            r->done(status, cond, app, r->ud);
        else if (r->got != NULL)
            r->got(status, cond, NULL, NULL, r->ud);
        r->done = NULL;
        r->got = NULL;
        return;
    }
    if (r->st == NULL || strcmp(api->stanza_name(r->st), "iq") != 0 ||
        (e = api->error_reply(r->st, cond, text)) == NULL)
        return;
    if (app != NULL && (err = api->stanza_child(e, "error", NULL)) != NULL)
        api->stanza_add_child(err, app, PS_NS_ERRORS);
    api->route(r->c->m, e);
}


void
ps_answer(ps_req_t *r, ember_stanza_t *payload)
{
    ember_event_t ev;

    if (r->local) {
        if (r->done != NULL)
            r->done(0, EMBER_COND_NONE, NULL, r->ud);
        else if (r->got != NULL)
            r->got(0, EMBER_COND_NONE,
                   api->stanza_child(payload, "items", NULL),
                   api->stanza_child(payload, "x", "jabber:x:data"), r->ud);
        r->done = NULL;
        r->got = NULL;
        api->stanza_free(payload);
        return;
    }
    memset(&ev, 0, sizeof(ev));
    ev.size = sizeof(ev);
    ev.stanza = r->st;
    api->iq_result(&ev, payload);
}


const ember_stanza_t *
ps_form(const ember_stanza_t *parent)
{
    return parent != NULL ? api->stanza_child(parent, "x", "jabber:x:data")
                          : NULL;
}


void
ps_make_id(ps_ctx_t *c, char *buf, size_t len)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(buf, len, "%llx%05lx%x", (unsigned long long) ts.tv_sec,
             (unsigned long) (ts.tv_nsec / 10000), ++c->counter);
}


const char *
ps_prep(const char *jid, char *buf, size_t len)
{
    ember_jid_t *j = jid != NULL ? api->jid_parse(jid) : NULL;

    if (j == NULL)
        return NULL;
    snprintf(buf, len, "%s", api->jid_full(j));
    api->jid_free(j);
    return buf;
}


char *
ps_bare(const char *jid)
{
    ember_jid_t *j = jid != NULL ? api->jid_parse(jid) : NULL;
    char *b;

    if (j == NULL)
        return NULL;
    b = strdup(api->jid_bare(j));
    api->jid_free(j);
    return b;
}


int
ps_same_bare(ps_req_t *r, const char *jid)
{
    char *b = ps_bare(jid);
    int same = b != NULL && strcmp(b, r->bare) == 0;

    free(b);
    return same;
}


ps_node_t *
ps_req_node(ps_req_t *r, const ember_stanza_t *e)
{
    const char *name = api->stanza_attr(e, "node");
    ps_node_t *n;

    if (name == NULL)
        ps_fail(r, EMBER_COND_BAD_REQUEST, "nodeid-required", NULL);
    else if ((n = ps_node_find(r->svc, name)) == NULL)
        ps_fail(r, EMBER_COND_ITEM_NOT_FOUND, NULL, NULL);
    else
        return n;
    return NULL;
}


static void
dispatch(ps_req_t *r)
{
    const ember_stanza_t *q = api->stanza_first(r->st);
    const ember_stanza_t *e = q != NULL ? api->stanza_first(q) : NULL;
    const char *type = api->stanza_attr(r->st, "type");
    const char *ns = q != NULL ? api->stanza_xmlns(q) : "";
    int set = type != NULL && strcmp(type, "set") == 0;

    if (strcmp(api->stanza_name(r->st), "message") == 0)
        ps_sub_authorize(r);
    else if (strcmp(ns, PS_NS) == 0 && e == NULL)
        ps_fail(r, EMBER_COND_BAD_REQUEST, NULL, NULL);
    else if (strcmp(ns, PS_NS) == 0)
        ps_publisher_dispatch(r, q, e, set);
    else if (strcmp(ns, PS_NS_OWNER) == 0)
        ps_owner_dispatch(r, q, set);
    else if (!set && (strcmp(ns, PS_NS_DISCO_INFO) == 0 ||
                      strcmp(ns, PS_NS_DISCO_ITEMS) == 0))
        ps_disco(r, q);
    else
        ps_fail(r, EMBER_COND_SERVICE_UNAVAILABLE, NULL, NULL);
}


void
ps_req_free(ps_req_t *r)
{
    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        r->c->reqs = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    if (r->svc != NULL)
        ps_service_drop(r->svc);
    ps_writes_put(r->writes);
    api->stanza_free(r->st);
    free(r->from);
    free(r->bare);
    free(r);
}


static void
finish(ps_req_t *r)
{
    ps_service_t *svc = r->svc;

    if (r->op == PS_OP_STANZA) {
        r->c->writes = r->writes;
        dispatch(r);
        r->c->writes = NULL;
    } else if (r->op == PS_OP_LAST) {
        ps_send_last_items(svc, r->roster, r->from);
    } else {
        while (svc->nodes != NULL)
            ps_node_remove(svc, svc->nodes);
    }
    ps_req_free(r);
}


void
ps_on_roster(int status, ember_roster_t *roster, void *ud)
{
    ps_req_t *r = ud;

    r->roster = status == 0 ? roster : NULL;
    finish(r);
}


static int
has_items(ps_service_t *svc)
{
    ps_node_t *n;

    for (n = svc->nodes; n != NULL; n = n->next)
        if (json_array_size(n->items) > 0)
            return 1;
    return 0;
}


static void
on_ready(ps_ctx_t *c, ps_service_t *svc, void *ud)
{
    ps_req_t *r = ud;
    const ember_roster_iface_t *ri;

    if (svc == NULL) {
        ps_fail(r, c->closing ? EMBER_COND_SERVICE_UNAVAILABLE
                              : EMBER_COND_INTERNAL_SERVER_ERROR, NULL,
                c->closing ? NULL : "storage failed");
        ps_req_free(r);
        return;
    }
    r->svc = svc;
    ps_service_hold(svc);
    /* Access checks on PEP nodes read the owner's roster. */
    if (c->pep && svc->owner != NULL && r->op != PS_OP_WIPE &&
        (r->op != PS_OP_LAST || has_items(svc)) &&
        (ri = api->iface_get(c->m, EMBER_ROSTER_IFACE)) != NULL &&
        ri->load(ri, svc->owner, ps_on_roster, r) == 0)
        return;
    finish(r);
}


int
ps_start(ps_ctx_t *c, int op, const char *jid, const ember_event_t *ev,
         const char *full)
{
    ps_req_t *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return EMBER_ENOMEM;
    r->c = c;
    r->op = op;
    if ((r->next = c->reqs) != NULL)
        r->next->prev = r;
    c->reqs = r;
    if (ev != NULL) {
        ember_hold_t *h = api->stanza_hold(c->m);

        if (h != NULL && (r->writes = calloc(1, sizeof(*r->writes))) ==
                NULL) {
            api->stanza_release(h);
        } else if (h != NULL) {
            r->writes->hold = h;
            r->writes->refs = 1;
        }
        r->st = api->stanza_copy(ev->stanza);
        full = ev->from != NULL ? api->jid_full(ev->from) : NULL;
        if (r->st == NULL || full == NULL) {
            ps_req_free(r);
            return EMBER_ENOMEM;
        }
    }
    if (full != NULL &&
        ((r->from = strdup(full)) == NULL || (r->bare = ps_bare(full)) ==
         NULL)) {
        ps_req_free(r);
        return EMBER_ENOMEM;
    }
    if (ps_service_ready(c, jid, on_ready, r) < 0) {
        ps_fail(r, EMBER_COND_INTERNAL_SERVER_ERROR, NULL, NULL);
        ps_req_free(r);
    }
    return 0;
}


int
ps_start_local(ps_ctx_t *c, const char *account, ember_stanza_t *st,
               ember_pubsub_done_cb done, ember_pubsub_items_cb got,
               void *ud)
{
    ps_req_t *r = calloc(1, sizeof(*r));

    if (r == NULL || (r->from = strdup(account)) == NULL ||
        (r->bare = strdup(account)) == NULL) {
        if (r != NULL)
            free(r->from);
        free(r);
        api->stanza_free(st);
        return EMBER_ENOMEM;
    }
    r->c = c;
    r->op = PS_OP_STANZA;
    r->st = st;
    r->local = 1;
    r->done = done;
    r->got = got;
    r->ud = ud;
    if ((r->next = c->reqs) != NULL)
        r->next->prev = r;
    c->reqs = r;
    if (ps_service_ready(c, account, on_ready, r) < 0) {
        r->done = NULL;
        r->got = NULL;
        ps_req_free(r);
        return EMBER_EIO;
    }
    return 0;
}


void
ps_cancel_local(ps_ctx_t *c, ember_pubsub_items_cb got,
                ember_pubsub_done_cb done)
{
    ps_req_t *r;

    for (r = c->reqs; r != NULL; r = r->next) {
        if (!r->local)
            continue;
        if (got != NULL && r->got == got)
            r->got = NULL;
        if (done != NULL && r->done == done)
            r->done = NULL;
    }
}


void
ps_fire_item(ps_req_t *r, ps_node_t *n, const char *id,
             const ember_stanza_t *payload)
{
    ember_pubsub_event_t pe;

    if (!r->c->pep)
        return;
    memset(&pe, 0, sizeof(pe));
    pe.size = sizeof(pe);
    pe.account = r->svc->jid;
    pe.node = n->name;
    pe.id = id;
    pe.payload = payload;
    pe.retracted = payload == NULL;
    pe.by_module = r->local;
    pe.access_model = ps_config_str(n, "pubsub#access_model");
    api->fire(r->c->m, EMBER_PUBSUB_EV_ITEM, NULL, &pe);
}
