/* private_bookmarks.c -- one set of bookmarks in three places, kept equal
 * by the server:
 *
 *   - XEP-0048 <storage xmlns='storage:bookmarks'/> in private storage
 *     (XEP-0049), what most older clients use;
 *   - the same element as item 'current' of the PEP node
 *     'storage:bookmarks' (XEP-0048 1.1; XEP-0411 converts it);
 *   - XEP-0402 PEP native bookmarks, node 'urn:xmpp:bookmarks:1', one
 *     item per room with the room's JID as id (section 6.3, "compat" and
 *     "compat-pep").
 *
 * A client's write to any of them is copied to the other two; the copies
 * go through the "pubsub" interface, so they are notified as a client's
 * publish would be and are marked by_module (never copied back).  The
 * PEP nodes are created whitelist, the owner alone reading them; a node
 * the user opened to others is left alone (XEP-0411 section 5). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "private.h"

#define NS_BM2 "urn:xmpp:bookmarks:1"
#define NS_CONVERSION "urn:xmpp:bookmarks-conversion:0"
#define NS_PS_OPTIONS "http://jabber.org/protocol/pubsub#publish-options"

/*
 * What one step in flight needs: the account, and for a publish its node,
 * item id and payload (stage 0 with the full publish-options, 1 with the
 * access model alone), for a rebuild of the private copy the
 * <storage/> being built.
 */
struct bm_op_s {
    ember_module_t *m;
    char *account;  /* bare JID */
    char *node;
    char *id;
    ember_stanza_t *st;
    int stage;
    bm_op_t *prev, *next;
};

/* XEP-0402 section 3.3's publish-options, and XEP-0048 section 3's. */
static const char bm2_options[] =
    "<x xmlns='jabber:x:data' type='submit'>"
    "<field var='FORM_TYPE' type='hidden'><value>" NS_PS_OPTIONS
    "</value></field>"
    "<field var='pubsub#persist_items'><value>true</value></field>"
    "<field var='pubsub#max_items'><value>max</value></field>"
    "<field var='pubsub#send_last_published_item'><value>never</value>"
    "</field>"
    "<field var='pubsub#access_model'><value>whitelist</value></field></x>";
static const char bm1_options[] =
    "<x xmlns='jabber:x:data' type='submit'>"
    "<field var='FORM_TYPE' type='hidden'><value>" NS_PS_OPTIONS
    "</value></field>"
    "<field var='pubsub#persist_items'><value>true</value></field>"
    "<field var='pubsub#access_model'><value>whitelist</value></field></x>";
/* For a node that exists: only the precondition that matters. */
static const char whitelist_only[] =
    "<x xmlns='jabber:x:data' type='submit'>"
    "<field var='FORM_TYPE' type='hidden'><value>" NS_PS_OPTIONS
    "</value></field>"
    "<field var='pubsub#access_model'><value>whitelist</value></field></x>";


static const ember_pubsub_iface_t *
engine(ember_module_t *m)
{
    const ember_pubsub_iface_t *pi = api->iface_get(m, EMBER_PUBSUB_IFACE);

    return pi != NULL && EMBER_PUBSUB_HAS(pi, publish) ? pi : NULL;
}


static void
op_free(bm_op_t *o)
{
    private_state_t *ps = api->module_data(o->m);

    if (o->prev != NULL)
        o->prev->next = o->next;
    else
        ps->ops = o->next;
    if (o->next != NULL)
        o->next->prev = o->prev;
    free(o->account);
    free(o->node);
    free(o->id);
    api->stanza_free(o->st);
    free(o);
}


/* A step for `account`; st is taken (freed on failure too). */
static bm_op_t *
op_new(ember_module_t *m, const char *account, const char *node,
       const char *id, ember_stanza_t *st)
{
    private_state_t *ps = api->module_data(m);
    bm_op_t *o = calloc(1, sizeof(*o));

    if (o == NULL) {
        api->stanza_free(st);
        return NULL;
    }
    o->m = m;
    o->st = st;
    if ((o->next = ps->ops) != NULL)
        o->next->prev = o;
    ps->ops = o;
    if ((o->account = strdup(account)) == NULL ||
        (node != NULL && (o->node = strdup(node)) == NULL) ||
        (id != NULL && (o->id = strdup(id)) == NULL)) {
        op_free(o);
        return NULL;
    }
    return o;
}


/* ---- the two forms of a bookmark ---- */

static int
is_true(const char *v)
{
    return v != NULL && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}


static int
copy_text_child(ember_stanza_t *to, const ember_stanza_t *from,
                const char *name)
{
    ember_stanza_t *c = api->stanza_child(from, name, NULL), *n;

    if (c == NULL)
        return 0;
    if ((n = api->stanza_add_child(to, name, NULL)) == NULL)
        return EMBER_ENOMEM;
    return api->stanza_add_text(n, api->stanza_text(c));
}


static int
copy_head(ember_stanza_t *to, const ember_stanza_t *from)
{
    const char *name = api->stanza_attr(from, "name");

    if ((name != NULL && api->stanza_set_attr(to, "name", name) < 0) ||
        (is_true(api->stanza_attr(from, "autojoin")) &&
         api->stanza_set_attr(to, "autojoin", "true") < 0) ||
        copy_text_child(to, from, "nick") < 0 ||
        copy_text_child(to, from, "password") < 0)
        return EMBER_ENOMEM;
    return 0;
}


static int
is_head(const ember_stanza_t *e)
{
    const char *n = api->stanza_name(e);

    return strcmp(n, "nick") == 0 || strcmp(n, "password") == 0;
}


/* XEP-0048 <conference jid=.../> as XEP-0402's payload (a new root);
 * other children go into <extensions/>, which clients preserve. */
static ember_stanza_t *
to_bm2(const ember_stanza_t *c48)
{
    ember_stanza_t *c = api->stanza_new("conference", NS_BM2), *e,
                   *ext = NULL;

    if (c == NULL || copy_head(c, c48) < 0)
        goto fail;
    for (e = api->stanza_first(c48); e != NULL; e = api->stanza_next(e)) {
        if (strcmp(api->stanza_xmlns(e), NS_BOOKMARKS) == 0 && is_head(e))
            continue;
        if ((ext == NULL &&
             (ext = api->stanza_add_child(c, "extensions", NULL)) == NULL) ||
            api->stanza_append(ext, e) < 0)
            goto fail;
    }
    return c;
fail:
    api->stanza_free(c);
    return NULL;
}


/* XEP-0402 item (room jid, payload) appended to a XEP-0048 <storage/>. */
static int
add_bm1(ember_stanza_t *storage, const char *jid, const ember_stanza_t *c2)
{
    ember_stanza_t *c = api->stanza_add_child(storage, "conference", NULL);
    ember_stanza_t *ext = api->stanza_child(c2, "extensions", NULL), *e;

    if (c == NULL || api->stanza_set_attr(c, "jid", jid) < 0 ||
        copy_head(c, c2) < 0)
        return EMBER_ENOMEM;
    for (e = ext != NULL ? api->stanza_first(ext) : NULL; e != NULL;
         e = api->stanza_next(e))
        if (api->stanza_append(c, e) < 0)
            return EMBER_ENOMEM;
    return 0;
}


/* Are two XEP-0402 payloads the same bookmark?  Compared in the form
 * to_bm2 writes, so that attribute order or "1" for "true" do not count
 * as a change (section 6.3.2: no notification for unchanged items). */
static int
same_bm2(const ember_stanza_t *a, const ember_stanza_t *b)
{
    ember_stanza_t *sa = api->stanza_new("storage", NS_BOOKMARKS);
    ember_stanza_t *sb = api->stanza_new("storage", NS_BOOKMARKS);
    ember_stanza_t *ca = NULL, *cb = NULL;
    char *xa = NULL, *xb = NULL;
    int same = 0;

    if (sa != NULL && sb != NULL && add_bm1(sa, "x", a) == 0 &&
        add_bm1(sb, "x", b) == 0 &&
        (ca = to_bm2(api->stanza_first(sa))) != NULL &&
        (cb = to_bm2(api->stanza_first(sb))) != NULL &&
        (xa = api->stanza_serialize(ca, NULL)) != NULL &&
        (xb = api->stanza_serialize(cb, NULL)) != NULL)
        same = strcmp(xa, xb) == 0;
    api->free(xa);
    api->free(xb);
    api->stanza_free(ca);
    api->stanza_free(cb);
    api->stanza_free(sa);
    api->stanza_free(sb);
    return same;
}


/* ---- publishing the copies ---- */

static void publish_step(bm_op_t *o);

static void
published(int status, ember_cond_t cond, const char *app, void *ud)
{
    bm_op_t *o = ud;

    (void) app;
    if (status == EMBER_EPROTO && cond == EMBER_COND_CONFLICT &&
        o->stage == 0) {
        o->stage = 1;
        publish_step(o);
        return;
    }
    if (status < 0 && status != EMBER_ECANCELED)
        api->log(o->m, EMBER_LOG_INFO, "bookmarks of %s not copied to %s: "
                 "%s", o->account, o->node, api->cond_name(cond));
    op_free(o);
}


static void
publish_step(bm_op_t *o)
{
    private_state_t *ps = api->module_data(o->m);
    const ember_pubsub_iface_t *pi = engine(o->m);
    const char *form = o->stage == 1 ? whitelist_only
                       : strcmp(o->node, NS_BM2) == 0 ? bm2_options
                                                       : bm1_options;
    ember_stanza_t *opts = api->stanza_parse(form, strlen(form));

    if (pi == NULL || opts == NULL ||
        pi->publish(pi, o->account, o->node, o->id, o->st, opts, published,
                    o, &ps->opts) < 0)
        op_free(o);
    api->stanza_free(opts);
}


/* Publish payload (taken) as item id of node, whitelist. */
static void
publish_copy(ember_module_t *m, const char *account, const char *node,
             const char *id, ember_stanza_t *payload)
{
    bm_op_t *o = op_new(m, account, node, id, payload);

    if (o != NULL && payload != NULL)
        publish_step(o);
    else if (o != NULL)
        op_free(o);
}


/* ---- private storage or storage:bookmarks -> urn:xmpp:bookmarks:1 ---- */

/*
 * With the native bookmarks at hand: publish each room of the XEP-0048
 * storage (o->st) whose bookmark is new or changed, retract the rooms it
 * no longer has.
 */
static void
sync_bm2(int status, ember_cond_t cond, ember_stanza_t *items,
         const ember_stanza_t *config, void *ud)
{
    bm_op_t *o = ud;
    const ember_pubsub_iface_t *pi = engine(o->m);
    private_state_t *ps = api->module_data(o->m);
    const char *model = config != NULL
        ? api->form_value(config, "pubsub#access_model") : NULL;
    ember_stanza_t *c, *it;
    const char *jid, *id;
    ember_stanza_t *want;
    int found;

    /* No node yet is no bookmark yet; a node others may read is not
     * touched (XEP-0411 section 5). */
    if (pi == NULL || (status < 0 && cond != EMBER_COND_ITEM_NOT_FOUND) ||
        (status == 0 && (model == NULL || strcmp(model, "whitelist") != 0))) {
        if (status == 0 && pi != NULL)
            api->log(o->m, EMBER_LOG_INFO, "bookmarks of %s not copied to "
                     "%s: its access model is not whitelist", o->account,
                     NS_BM2);
        op_free(o);
        return;
    }
    for (c = api->stanza_first(o->st); c != NULL; c = api->stanza_next(c)) {
        if (strcmp(api->stanza_name(c), "conference") != 0 ||
            (jid = api->stanza_attr(c, "jid")) == NULL || jid[0] == '\0' ||
            (want = to_bm2(c)) == NULL)
            continue;
        found = 0;
        for (it = status == 0 ? api->stanza_first(items) : NULL;
             it != NULL && !found; it = api->stanza_next(it))
            found = (id = api->stanza_attr(it, "id")) != NULL &&
                    strcmp(id, jid) == 0 &&
                    same_bm2(api->stanza_first(it), want);
        if (found)
            api->stanza_free(want);
        else
            publish_copy(o->m, o->account, NS_BM2, jid, want);
    }
    for (it = status == 0 ? api->stanza_first(items) : NULL; it != NULL;
         it = api->stanza_next(it)) {
        id = api->stanza_attr(it, "id");
        found = 0;
        for (c = api->stanza_first(o->st); id != NULL && c != NULL && !found;
             c = api->stanza_next(c))
            found = strcmp(api->stanza_name(c), "conference") == 0 &&
                    (jid = api->stanza_attr(c, "jid")) != NULL &&
                    strcmp(jid, id) == 0;
        if (id != NULL && !found)
            pi->retract(pi, o->account, NS_BM2, id, NULL, NULL, &ps->opts);
    }
    op_free(o);
}


static void
copy_to_bm2(ember_module_t *m, const char *account,
            const ember_stanza_t *storage)
{
    private_state_t *ps = api->module_data(m);
    const ember_pubsub_iface_t *pi = engine(m);
    bm_op_t *o;

    if (pi == NULL ||
        (o = op_new(m, account, NULL, NULL, api->stanza_copy(storage))) ==
            NULL)
        return;
    if (o->st == NULL ||
        pi->items(pi, account, NS_BM2, 0, sync_bm2, o, &ps->opts) < 0)
        op_free(o);
}


/* ---- into private storage ---- */

static void
private_written(int status, json_t *result, void *ud)
{
    bm_op_t *o = ud;

    (void) result;
    if (status < 0)
        api->log(o->m, EMBER_LOG_WARN, "bookmarks of %s not copied to "
                 "private storage: %s", o->account, api->strerror(status));
    op_free(o);
}


static char *
user_of(const char *account)
{
    char *u = strdup(account), *at;

    if (u != NULL && (at = strchr(u, '@')) != NULL)
        *at = '\0';
    return u;
}


static void
write_private(ember_module_t *m, const char *account,
              const ember_stanza_t *storage)
{
    private_state_t *ps = api->module_data(m);
    char *xml = api->stanza_serialize(storage, NULL), *user = NULL;
    json_t *v = xml != NULL ? json_string(xml) : NULL;
    bm_op_t *o = NULL;

    if (v != NULL && (user = user_of(account)) != NULL &&
        (o = op_new(m, account, NULL, NULL, NULL)) != NULL &&
        api->map_set(ps->store, user, BM_PRIVATE_KEY, v, private_written,
                     o) < 0)
        op_free(o);
    free(user);
    json_decref(v);
    api->free(xml);
}


/*
 * The native bookmarks changed: the XEP-0048 storage is rebuilt from
 * them, keeping what XEP-0402 has no place for (<url/> bookmarks) from
 * the private copy, then stored there and published as storage:bookmarks.
 */
static void
old_private(int status, json_t *value, void *ud)
{
    bm_op_t *o = ud;
    const char *xml = status == 0 ? json_string_value(value) : NULL;
    ember_stanza_t *old = xml != NULL ? api->stanza_parse(xml, strlen(xml))
                                      : NULL;
    ember_stanza_t *e, *storage = o->st;

    for (e = old != NULL ? api->stanza_first(old) : NULL; e != NULL;
         e = api->stanza_next(e))
        if (strcmp(api->stanza_name(e), "conference") != 0)
            api->stanza_append(storage, e);
    api->stanza_free(old);
    if (status == 0 || status == EMBER_ENOENT) {
        write_private(o->m, o->account, storage);
        publish_copy(o->m, o->account, NS_BOOKMARKS, "current",
                     api->stanza_copy(storage));
    }
    op_free(o);
}


static void
rebuild_from_bm2(int status, ember_cond_t cond, ember_stanza_t *items,
                 const ember_stanza_t *config, void *ud)
{
    bm_op_t *o = ud;
    private_state_t *ps = api->module_data(o->m);
    ember_stanza_t *it, *c2;
    const char *id;
    char *user;

    if (status < 0 && cond != EMBER_COND_ITEM_NOT_FOUND) {
        op_free(o);
        return;
    }
    for (it = status == 0 ? api->stanza_first(items) : NULL; it != NULL;
         it = api->stanza_next(it))
        if ((id = api->stanza_attr(it, "id")) != NULL &&
            (c2 = api->stanza_child(it, "conference", NS_BM2)) != NULL &&
            add_bm1(o->st, id, c2) < 0) {
            op_free(o);
            return;
        }
    if ((user = user_of(o->account)) == NULL ||
        api->map_get(ps->store, user, BM_PRIVATE_KEY, old_private, o) < 0)
        op_free(o);
    free(user);
}


/* ---- what triggers a conversion ---- */

void
bm_private_stored(ember_module_t *m, const char *account,
                  const ember_stanza_t *storage)
{
    ember_stanza_t *copy = api->stanza_copy(storage);

    if (engine(m) == NULL || copy == NULL) {
        api->stanza_free(copy);
        return;
    }
    /* XEP-0411 section 4: "the service MUST send out notification
     * messages to all subscribers of the 'storage:bookmarks' node". */
    publish_copy(m, account, NS_BOOKMARKS, "current", copy);
    copy_to_bm2(m, account, storage);
}


static int
bm_on_pep_item(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    const ember_pubsub_event_t *pe = ev->data;
    private_state_t *ps = api->module_data(m);
    const ember_pubsub_iface_t *pi = engine(m);
    bm_op_t *o;

    (void) ud;
    if (pe == NULL || pi == NULL || pe->by_module ||
        strchr(pe->account, '@') == NULL)
        return EMBER_HOOK_PASS;
    if (strcmp(pe->node, NS_BOOKMARKS) == 0 && pe->payload != NULL &&
        strcmp(api->stanza_name(pe->payload), "storage") == 0 &&
        strcmp(api->stanza_xmlns(pe->payload), NS_BOOKMARKS) == 0) {
        write_private(m, pe->account, pe->payload);
        copy_to_bm2(m, pe->account, pe->payload);
    } else if (strcmp(pe->node, NS_BM2) == 0 &&
               (o = op_new(m, pe->account, NULL, NULL,
                           api->stanza_new("storage", NS_BOOKMARKS))) !=
                   NULL) {
        if (o->st == NULL ||
            pi->items(pi, pe->account, NS_BM2, 0, rebuild_from_bm2, o,
                      &ps->opts) < 0)
            op_free(o);
    }
    return EMBER_HOOK_PASS;
}


/*
 * XEP-0411 section 5 (implementation note): bookmarks stored in private
 * storage before there were PEP copies are copied when a session of the
 * user binds, before its client asks PEP for them.  Only while the native
 * node does not exist: once it does, the copies follow every write.
 */
static void
migrate_bm2(int status, ember_cond_t cond, ember_stanza_t *items,
            const ember_stanza_t *config, void *ud)
{
    bm_op_t *o = ud;

    if (status == EMBER_EPROTO && cond == EMBER_COND_ITEM_NOT_FOUND) {
        publish_copy(o->m, o->account, NS_BOOKMARKS, "current",
                     api->stanza_copy(o->st));
        sync_bm2(status, cond, items, config, o);
        return;
    }
    op_free(o);
}


static void
login_private(int status, json_t *value, void *ud)
{
    bm_op_t *o = ud;
    private_state_t *ps = api->module_data(o->m);
    const ember_pubsub_iface_t *pi = engine(o->m);
    const char *xml = status == 0 ? json_string_value(value) : NULL;

    if (xml == NULL || pi == NULL ||
        (o->st = api->stanza_parse(xml, strlen(xml))) == NULL ||
        pi->items(pi, o->account, NS_BM2, 1, migrate_bm2, o, &ps->opts) < 0)
        op_free(o);
}


static int
bm_on_bound(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    private_state_t *ps = api->module_data(m);
    const ember_jid_t *j = ev->origin != NULL ? api->session_jid(ev->origin)
                                              : NULL;
    bm_op_t *o;

    (void) ud;
    if (j == NULL || api->jid_node(j) == NULL || engine(m) == NULL ||
        (o = op_new(m, api->jid_bare(j), NULL, NULL, NULL)) == NULL)
        return EMBER_HOOK_PASS;
    if (api->map_get(ps->store, api->jid_node(j), BM_PRIVATE_KEY,
                     login_private, o) < 0)
        op_free(o);
    return EMBER_HOOK_PASS;
}


static int
bm_on_account_info(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    static const char *const features[] = {
        NS_CONVERSION, NS_BM2 "#compat", NS_BM2 "#compat-pep"
    };
    size_t i;

    (void) ud;
    for (i = 0; engine(m) != NULL && i < 3; i++)
        api->stanza_set_attr(api->stanza_add_child(ev->stanza, "feature",
                                                   NULL), "var",
                             features[i]);
    return EMBER_HOOK_PASS;
}


int
bm_init(ember_module_t *m)
{
    private_state_t *ps = api->module_data(m);
    int err;

    ps->opts.size = sizeof(ps->opts);
    if ((err = api->hook(m, EMBER_PUBSUB_EV_ITEM, bm_on_pep_item, 0,
                         NULL)) < 0 ||
        (err = api->hook(m, EMBER_EV_ACCOUNT_DISCO_INFO, bm_on_account_info,
                         0, NULL)) < 0 ||
        (err = api->hook(m, EMBER_EV_SESSION_BOUND, bm_on_bound, 0,
                         NULL)) < 0)
        return err;
    return 0;
}


void
bm_fini(ember_module_t *m)
{
    private_state_t *ps = api->module_data(m);
    const ember_pubsub_iface_t *pi = engine(m);

    if (pi != NULL) {
        pi->cancel(pi, sync_bm2, published);
        pi->cancel(pi, rebuild_from_bm2, NULL);
        pi->cancel(pi, migrate_bm2, NULL);
    }
    while (ps->ops != NULL)
        op_free(ps->ops);
}
