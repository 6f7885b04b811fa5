/* mod_muc.c -- XEP-0045 Multi-User Chat on a subdomain (conference.HOST):
 * the service, its options and the dispatch of stanzas to rooms. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "muc.h"

const ember_api_t *api;

static const ember_option_t muc_options[] = {
    EMBER_OPT("domain", EMBER_OPT_STRING, muc_opts_t, domain, "", 0, 1023,
              "the service's domain (empty: conference.HOST)"),
    EMBER_OPT("create-rooms", EMBER_OPT_STRING, muc_opts_t, create_rooms,
              "local", 0, 16, "who may create rooms: anyone, admins, local"),
    EMBER_OPT("max-rooms-per-user", EMBER_OPT_INT, muc_opts_t,
              max_rooms_per_user, "50", 0, 1000000,
              "rooms one user may have created (0: no limit)"),
    EMBER_OPT("max-occupants", EMBER_OPT_INT, muc_opts_t, max_occupants,
              "1000", 1, 1000000, "cap of a room's maximum of occupants"),
    EMBER_OPT("max-history", EMBER_OPT_INT, muc_opts_t, max_history, "200",
              0, 100000, "cap of a room's history length"),
    EMBER_OPT("default-history", EMBER_OPT_INT, muc_opts_t,
              default_history, "20", 0, 100000,
              "history length of new rooms"),
    EMBER_OPT("message-rate", EMBER_OPT_INT, muc_opts_t, message_rate, "10",
              0, 100000, "messages per second per occupant (0: no limit)"),
    EMBER_OPT("message-burst", EMBER_OPT_INT, muc_opts_t, message_burst,
              "20", 1, 100000, "messages an occupant may send at once"),
    EMBER_OPT("default-persistent", EMBER_OPT_BOOL, muc_opts_t,
              default_persistent, "false", 0, 1, "new rooms are persistent"),
    EMBER_OPT("default-public", EMBER_OPT_BOOL, muc_opts_t, default_public,
              "true", 0, 1, "new rooms are listed"),
    EMBER_OPT("default-members-only", EMBER_OPT_BOOL, muc_opts_t,
              default_members_only, "false", 0, 1,
              "new rooms are members-only"),
    EMBER_OPT("default-moderated", EMBER_OPT_BOOL, muc_opts_t,
              default_moderated, "false", 0, 1, "new rooms are moderated"),
    EMBER_OPT("default-whois-anyone", EMBER_OPT_BOOL, muc_opts_t,
              default_whois_anyone, "false", 0, 1,
              "new rooms are non-anonymous"),
    EMBER_OPT("default-max-users", EMBER_OPT_INT, muc_opts_t,
              default_max_users, "200", 1, 1000000,
              "maximum of occupants of new rooms"),
    EMBER_OPT("default-archiving", EMBER_OPT_BOOL, muc_opts_t,
              default_archiving, "true", 0, 1, "new rooms keep a XEP-0313 "
              "archive (with mod_mam on the host)"),
    EMBER_OPT("archive-retention", EMBER_OPT_DURATION, muc_opts_t,
              archive_retention, "365d", 0, 315360000, "archived room "
              "messages are deleted this long after they were sent; 0: "
              "kept"),
    EMBER_OPT_END
};


char *
muc_strdup(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}


void
muc_set(char **dst, const char *s)
{
    char *n = muc_strdup(s);

    free(*dst);
    *dst = n;
}


ember_stanza_t *
muc_stanza(const char *name, const char *from, const char *to,
           const char *type)
{
    ember_stanza_t *st = api->stanza_new(name, NULL);

    if (st == NULL)
        return NULL;
    if (from != NULL)
        api->stanza_set_attr(st, "from", from);
    if (to != NULL)
        api->stanza_set_attr(st, "to", to);
    if (type != NULL)
        api->stanza_set_attr(st, "type", type);
    return st;
}


void
muc_add_text(ember_stanza_t *parent, const char *name, const char *text)
{
    ember_stanza_t *c;

    if (text != NULL &&
        (c = api->stanza_add_child(parent, name, NULL)) != NULL)
        api->stanza_add_text(c, text);
}


void
muc_send(muc_t *mu, ember_stanza_t *st)
{
    if (st != NULL)
        api->route(mu->m, st);
}


int
muc_bool(const char *v, int *out)
{
    if (v == NULL)
        return EMBER_EINVAL;
    if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0)
        *out = 1;
    else if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0)
        *out = 0;
    else
        return EMBER_EINVAL;
    return 0;
}


static void
disco_service_info(muc_t *mu, const ember_event_t *ev)
{
    static const char *const feats[] = {
        NS_MUC, NS_DISCO_INFO, NS_DISCO_ITEMS, NS_CONFERENCE, NS_PING,
        NS_MUC "#self-ping-optimization", NS_MUC "#stable_id", NULL
    };
    ember_stanza_t *q = api->stanza_new("query", NS_DISCO_INFO), *c;
    size_t i;

    (void) mu;
    if (q == NULL)
        return;
    if ((c = api->stanza_add_child(q, "identity", NULL)) != NULL) {
        api->stanza_set_attr(c, "category", "conference");
        api->stanza_set_attr(c, "type", "text");
        api->stanza_set_attr(c, "name", "Chatrooms");
    }
    for (i = 0; feats[i] != NULL; i++)
        if ((c = api->stanza_add_child(q, "feature", NULL)) != NULL)
            api->stanza_set_attr(c, "var", feats[i]);
    api->iq_result(ev, q);
}


static void
disco_service_items(muc_t *mu, const ember_event_t *ev)
{
    ember_stanza_t *q = api->stanza_new("query", NS_DISCO_ITEMS), *c;
    muc_room_t *r;

    if (q == NULL)
        return;
    for (r = mu->rooms; r != NULL; r = r->next) {
        if (!r->c.public_ || r->locked)
            continue;
        if ((c = api->stanza_add_child(q, "item", NULL)) != NULL) {
            api->stanza_set_attr(c, "jid", r->jid);
            api->stanza_set_attr(c, "name",
                                 r->c.name[0] != '\0' ? r->c.name : r->node);
        }
    }
    api->iq_result(ev, q);
}


/* An iq to the service itself or to a room. */
static int
muc_on_iq(muc_t *mu, const ember_event_t *ev, muc_room_t *r)
{
    const char *type = api->stanza_attr(ev->stanza, "type");
    const char *node = api->jid_node(ev->to);
    ember_stanza_t *p = api->stanza_first(ev->stanza);
    const char *ns, *name;
    muc_occ_t *o, *t;

    if (strcmp(type, "get") != 0 && strcmp(type, "set") != 0) {
        /* Results and errors: nothing owed, unless one answers an iq
         * forwarded to an occupant. */
        if (node != NULL && api->jid_resource(ev->to) != NULL)
            muc_iq_answer(mu, ev);
        return EMBER_HOOK_HANDLED;
    }
    if (p == NULL) {
        api->stanza_error(ev, EMBER_COND_BAD_REQUEST, NULL);
        return EMBER_HOOK_HANDLED;
    }
    ns = api->stanza_xmlns(p);
    name = api->stanza_name(p);
    if (node == NULL) {
        if (strcmp(type, "get") == 0 && strcmp(ns, NS_DISCO_INFO) == 0) {
            if (api->stanza_attr(p, "node") != NULL)
                api->stanza_error(ev, EMBER_COND_ITEM_NOT_FOUND, NULL);
            else
                disco_service_info(mu, ev);
        } else if (strcmp(type, "get") == 0 &&
                   strcmp(ns, NS_DISCO_ITEMS) == 0) {
            disco_service_items(mu, ev);
        } else if (strcmp(type, "get") == 0 && strcmp(ns, NS_PING) == 0) {
            api->iq_result(ev, NULL);
        } else {
            api->stanza_error(ev, EMBER_COND_SERVICE_UNAVAILABLE, NULL);
        }
        return EMBER_HOOK_HANDLED;
    }
    if (r == NULL) {
        api->stanza_error(ev, EMBER_COND_ITEM_NOT_FOUND, "no such room");
        return EMBER_HOOK_HANDLED;
    }
    if (api->jid_resource(ev->to) != NULL) {
        /* XEP-0410: the room answers a self-ping of a joined occupant. */
        o = muc_occ_by_jid(r, api->jid_full(ev->from));
        /* XEP-0045 6.6 for disco; XEP-0410 reads not-acceptable as "you
         * left the room" for everything else. */
        if (o == NULL && (strcmp(ns, NS_DISCO_INFO) == 0 ||
                          strcmp(ns, NS_DISCO_ITEMS) == 0))
            api->stanza_error(ev, EMBER_COND_BAD_REQUEST,
                      "only occupants may query occupants");
        else if (o == NULL)
            api->stanza_error(ev, EMBER_COND_NOT_ACCEPTABLE,
                      "you are not in this room");
        else if ((t = muc_occ_by_nick(r, api->jid_resource(ev->to))) == NULL)
            api->stanza_error(ev, EMBER_COND_ITEM_NOT_FOUND, NULL);
        else if (strcmp(ns, NS_PING) == 0 && strcmp(name, "ping") == 0)
            api->iq_result(ev, NULL);
        else
            return muc_iq_forward(mu, ev, r, o, t);    /* 17.4 */
        return EMBER_HOOK_HANDLED;
    }
    if (strcmp(ns, NS_MUC_ADMIN) == 0)
        return muc_admin_iq(mu, ev, r);
    if (strcmp(ns, NS_MUC_OWNER) == 0)
        return muc_owner_iq(mu, ev, r);
    if (strcmp(ns, NS_REGISTER) == 0)
        return muc_register_iq(mu, ev, r);
    if (strcmp(ns, "urn:xmpp:mam:2") == 0)
        return muc_mam_iq(mu, ev, r);
    if (strcmp(type, "get") == 0 && (strcmp(ns, NS_DISCO_INFO) == 0 ||
                                     strcmp(ns, NS_DISCO_ITEMS) == 0)) {
        muc_disco_room(mu, ev, r);
        return EMBER_HOOK_HANDLED;
    }
    if (strcmp(type, "get") == 0 && strcmp(ns, NS_PING) == 0) {
        api->iq_result(ev, NULL);
        return EMBER_HOOK_HANDLED;
    }
    api->stanza_error(ev, EMBER_COND_SERVICE_UNAVAILABLE, NULL);
    return EMBER_HOOK_HANDLED;
}


static int
muc_dispatch(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    muc_t *mu = ud;
    const char *kind = api->stanza_name(ev->stanza);
    const char *node = api->jid_node(ev->to);
    muc_room_t *r;
    ember_stanza_t *cp;
    muc_pending_t *p;

    (void) m;
    if (mu->loading) {
        /* The rooms are still being read: answer once they are here. */
        if ((cp = api->stanza_copy(ev->stanza)) == NULL ||
            (p = calloc(1, sizeof(*p))) == NULL) {
            api->stanza_free(cp);
            api->stanza_error(ev, EMBER_COND_RESOURCE_CONSTRAINT, NULL);
            return EMBER_HOOK_HANDLED;
        }
        p->st = cp;
        *mu->pending_tail = p;
        mu->pending_tail = &p->next;
        return EMBER_HOOK_HANDLED;
    }
    r = node != NULL ? muc_room_find(mu, node) : NULL;
    if (strcmp(kind, "iq") == 0)
        return muc_on_iq(mu, ev, r);
    if (strcmp(kind, "presence") == 0) {
        if (node == NULL)
            return EMBER_HOOK_HANDLED;
        return muc_on_presence(mu, ev, r);
    }
    if (strcmp(kind, "message") == 0) {
        if (node == NULL)
            return EMBER_HOOK_PASS;
        return muc_on_message(mu, ev, r);
    }
    return EMBER_HOOK_PASS;
}


/* On a cluster this node now serves the room jid (doc/cluster.md). */
static void
muc_on_claim(ember_module_t *m, const char *jid, void *ud)
{
    muc_t *mu = ud;
    const char *at = strchr(jid, '@');
    char node[1024];

    if (at == NULL || (size_t) (at - jid) >= sizeof(node))
        return;
    memcpy(node, jid, (size_t) (at - jid));
    node[at - jid] = '\0';
    muc_store_reload(mu, node);
}


/* Another node stored a room's record (made, configured, destroyed): the
 * copy here, which the service's disco items list, is read again. */
static int
muc_on_notice(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    muc_store_reload(ud, ev->data);
    return EMBER_HOOK_PASS;
}


static int
muc_on_stopping(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    muc_shutdown_notice(ud);
    return EMBER_HOOK_PASS;
}


static void
muc_unload(ember_module_t *m)
{
    muc_t *mu = api->module_data(m);
    muc_room_t *r;
    muc_pending_t *p;

    if (mu == NULL)
        return;
    while ((r = mu->rooms) != NULL) {
        mu->rooms = r->next;
        /* A temporary room ends here: a room of its name made later must
         * not show what was said in it. */
        if (!r->c.persistent || r->locked)
            muc_mam_forget(r);
        muc_room_free(r);
    }
    while ((p = mu->pending) != NULL) {
        mu->pending = p->next;
        api->stanza_free(p->st);
        free(p);
    }
    muc_invite_cleanup(mu);
    muc_iq_cleanup(mu);
    muc_store_close(mu);
    free(mu->domain);
    free(mu);
    api->module_set_data(m, NULL);
}


static int
muc_load(ember_module_t *m, const ember_api_t *a)
{
    muc_opts_t *o;
    muc_t *mu;
    char buf[1100];
    int err;

    api = a;
    o = api->module_conf(m);
    if (strcmp(o->create_rooms, "anyone") != 0 &&
        strcmp(o->create_rooms, "admins") != 0 &&
        strcmp(o->create_rooms, "local") != 0) {
        api->log(m, EMBER_LOG_ERROR, "create-rooms must be anyone, admins "
                 "or local, not '%s'", o->create_rooms);
        return EMBER_EINVAL;
    }
    if ((mu = calloc(1, sizeof(*mu))) == NULL)
        return EMBER_ENOMEM;
    mu->m = m;
    mu->o = o;
    mu->pending_tail = &mu->pending;
    api->module_set_data(m, mu);
    if (o->domain[0] != '\0')
        snprintf(buf, sizeof(buf), "%s", o->domain);
    else
        snprintf(buf, sizeof(buf), "conference.%s", api->module_host(m));
    if ((mu->domain = strdup(buf)) == NULL) {
        err = EMBER_ENOMEM;
        goto fail;
    }
    if ((err = api->service_add(m, mu->domain, muc_dispatch, mu)) < 0) {
        api->log(m, EMBER_LOG_ERROR, "cannot serve %s: %s", mu->domain,
                 api->strerror(err));
        goto fail;
    }
    if ((err = api->service_on_claim(m, mu->domain, muc_on_claim, mu)) < 0 ||
        (err = api->hook(m, EMBER_EV_CLUSTER_NOTICE "muc", muc_on_notice, 0,
                         mu)) < 0 ||
        (err = api->disco_add_item(m, mu->domain, "Chatrooms")) < 0 ||
        (err = api->hook(m, EMBER_EV_SERVER_STOPPING, muc_on_stopping, 0,
                         mu)) < 0 ||
        (err = muc_commands_register(mu)) < 0 ||
        (err = muc_migrate_register(mu)) < 0 ||
        (err = muc_mam_start(mu)) < 0 ||
        (err = muc_store_load(mu)) < 0)
        goto fail;
    return 0;

fail:
    muc_unload(m);
    return err;
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "muc",
    .version = "1.0",
    .description = "XEP-0045: Multi-User Chat",
    .requires = (const char *const[]){ "services", "storage", "forms",
                                       "commands", "timers", "ifaces",
                                       NULL },
    .conf_size = sizeof(muc_opts_t),
    .options = muc_options,
    .load = muc_load,
    .unload = muc_unload,
};
