/* mod_offline.c -- XEP-0160 offline messages (RFC 6121 8.5.2.2): store a
 * message for an account without an available resource, deliver what was
 * stored at the account's next non-negative available presence. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "offline.h"

#define NS_DELAY "urn:xmpp:delay"
#define NS_HINTS "urn:xmpp:hints"
#define NS_CHATSTATES "http://jabber.org/protocol/chatstates"

typedef struct {
    int max_messages;
} off_conf_t;

static const ember_option_t off_options[] = {
    EMBER_OPT("max-messages", EMBER_OPT_INT, off_conf_t, max_messages,
              "1000", 1, 10000000,
              "messages stored per user; more get service-unavailable"),
    EMBER_OPT_END
};

const ember_api_t *api;


/* XEP-0082 date-time, UTC, with milliseconds. */
void
off_stamp(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    char sec[32];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03ldZ", sec, ts.tv_nsec / 1000000);
}


/* Only chat-state notifications (XEP-0160 section 4: not stored). */
static int
off_only_chatstate(const ember_stanza_t *st)
{
    const ember_stanza_t *c;
    const char *ns;
    int states = 0;

    for (c = api->stanza_first(st); c != NULL;
         c = api->stanza_next(c)) {
        ns = api->stanza_xmlns(c);
        if (ns != NULL && strcmp(ns, NS_CHATSTATES) == 0)
            states++;
        else if (strcmp(api->stanza_name(c), "thread") != 0 &&
                 (ns == NULL || strcmp(ns, NS_HINTS) != 0))
            return 0;
    }
    return states > 0;
}


static int
off_on_message(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    off_inst_t *in = ud;
    const char *type = api->stanza_attr(ev->stanza, "type");
    const char *user = ev->to != NULL ? api->jid_node(ev->to) : NULL;
    ember_stanza_t *st, *d;
    ember_hold_t *hold;
    off_user_t *u;
    char stamp[64];

    (void) m;
    if (user == NULL)
        return EMBER_HOOK_PASS;
    /* RFC 6121 8.5.2.2 and XEP-0160 section 4: headlines are dropped (the
     * core does it), groupchat and errors silently ignored. */
    if (type != NULL && strcmp(type, "headline") == 0)
        return EMBER_HOOK_PASS;
    if (type != NULL &&
        (strcmp(type, "groupchat") == 0 || strcmp(type, "error") == 0))
        return EMBER_HOOK_HANDLED;
    /* The sender asked for no storage (XEP-0334), or it is a bare chat
     * state: neither is kept, and neither is worth an error. */
    if (api->stanza_child(ev->stanza, "no-store", NS_HINTS) != NULL ||
        api->stanza_child(ev->stanza, "no-permanent-store", NS_HINTS) !=
            NULL ||
        off_only_chatstate(ev->stanza))
        return EMBER_HOOK_HANDLED;

    if ((st = api->stanza_copy(ev->stanza)) == NULL)
        goto fail;
    off_stamp(stamp, sizeof(stamp));
    if ((d = api->stanza_add_child(st, "delay", NS_DELAY)) == NULL ||
        api->stanza_set_attr(d, "from", in->m != NULL ?
                                 api->module_host(in->m) : NULL) < 0 ||
        api->stanza_set_attr(d, "stamp", stamp) < 0 ||
        api->stanza_add_text(d, "Offline Storage") < 0)
        goto fail_st;
    hold = api->stanza_hold(in->m);
    if ((u = off_user_get(in, user, 1)) == NULL ||
        off_enqueue(u, OP_STORE, st, 0, NULL, hold) < 0) {
        api->stanza_release(hold);
        goto fail_st;
    }
    off_pump(u);
    off_user_maybe_free(u);
    return EMBER_HOOK_HANDLED;

fail_st:
    api->stanza_free(st);
fail:
    api->stanza_error(ev, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
    return EMBER_HOOK_HANDLED;
}


/* The session slot holds this marker once the session's delivery is
 * queued: one delivery per session. */
static char off_queued;


static int
off_on_presence(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    off_inst_t *in = ud;
    const ember_jid_t *j;
    off_user_t *u;
    void **slot;
    int avail = 0, prio;

    if (ev->origin == NULL || (j = api->session_jid(ev->origin)) == NULL ||
        api->jid_node(j) == NULL)
        return EMBER_HOOK_PASS;
    prio = api->session_priority(ev->origin, &avail);
    /* RFC 6121 8.5.2.2 / XEP-0160: at the first available presence of
     * non-negative priority; a negative one never gets them. */
    if (!avail || prio < 0 || (slot = api->session_slot(m, ev->origin)) ==
                                  NULL)
        return EMBER_HOOK_PASS;
    if (*slot == &off_queued)
        return EMBER_HOOK_PASS;
    if ((u = off_user_get(in, api->jid_node(j), 1)) == NULL ||
        off_enqueue(u, OP_DELIVER, NULL, api->session_ref(ev->origin), NULL,
                    NULL) < 0) {
        if (u != NULL)
            off_user_maybe_free(u);
        return EMBER_HOOK_PASS;
    }
    *slot = &off_queued;
    off_pump(u);
    off_user_maybe_free(u);
    return EMBER_HOOK_PASS;
}


static int
off_on_user_deleted(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    off_inst_t *in = ud;
    off_user_t *u;

    (void) m;
    if (ev->data == NULL || (u = off_user_get(in, ev->data, 0)) == NULL)
        return EMBER_HOOK_PASS;
    /* The core purged the account's stores. */
    if (!u->busy && !u->counting && u->ops == NULL && u->inflight == 0) {
        u->stored = 0;
        off_user_maybe_free(u);
    }
    return EMBER_HOOK_PASS;
}


/* ---- admin commands ---- */

static const ember_cmd_arg_t off_user_args[] = {
    { "user", EMBER_ARG_JID, 1, "the account (user@host)" },
    { NULL, 0, 0, NULL }
};


static void
off_cmd(ember_cmd_ctx_t *ctx, json_t *args, off_inst_t *in,
        off_op_kind_t kind)
{
    const char *s = json_string_value(json_object_get(args, "user"));
    ember_jid_t *j = s != NULL ? api->jid_parse(s) : NULL;
    off_user_t *u;

    if (j == NULL || api->jid_node(j) == NULL ||
        strcmp(api->jid_domain(j), api->module_host(in->m)) != 0) {
        api->command_done(ctx, EMBER_EINVAL, NULL,
                              "'user' must be an account of this host");
        goto done;
    }
    if ((u = off_user_get(in, api->jid_node(j), 1)) != NULL &&
        kind == OP_COUNT && u->ops == NULL && u->inflight == 0 &&
        !u->busy && !u->counting)
        /* Other cluster nodes share the store: the cached count may be
         * theirs to have changed.  Nothing of ours is in flight, so the
         * store's own count is the answer. */
        u->stored = -1;
    if (u == NULL || off_enqueue(u, kind, NULL, 0, ctx, NULL) < 0) {
        api->command_done(ctx, EMBER_ENOMEM, NULL, "out of memory");
        if (u != NULL)
            off_user_maybe_free(u);
        goto done;
    }
    off_pump(u);
    off_user_maybe_free(u);
done:
    api->jid_free(j);
}


static void
off_cmd_count(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    off_cmd(ctx, args, ud, OP_COUNT);
}


static void
off_cmd_clear(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    off_cmd(ctx, args, ud, OP_CLEAR);
}


static const ember_command_t off_count_cmd = {
    "offline-count", "how many offline messages an account has stored",
    off_user_args, "read", off_cmd_count
};

static const ember_command_t off_clear_cmd = {
    "offline-clear", "delete an account's stored offline messages",
    off_user_args, "admin", off_cmd_clear
};


/* ---- module ---- */

static void
off_unload(ember_module_t *m)
{
    off_inst_t *in = api->module_data(m);

    if (in == NULL)
        return;
    off_inst_free(in);
    free(in);
    api->module_set_data(m, NULL);
}


/* Another node of a cluster stored, delivered or cleared messages of the
 * account (the store is shared): its count here is old. */
static int
off_on_notice(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    off_changed_elsewhere(ud, ev->data);
    return EMBER_HOOK_PASS;
}


static int
off_load(ember_module_t *m, const ember_api_t *a)
{
    off_conf_t *conf = a->module_conf(m);
    off_inst_t *in;
    int err;

    api = a;
    if ((in = calloc(1, sizeof(*in))) == NULL)
        return EMBER_ENOMEM;
    in->m = m;
    in->max_messages = conf->max_messages;
    api->module_set_data(m, in);
    if ((in->store = api->store_open(m, "offline", EMBER_STORE_ARCHIVE)) ==
        NULL) {
        err = EMBER_EIO;
        goto fail;
    }
    if ((err = api->disco_add_feature(m, "msgoffline")) < 0 ||
        (err = api->hook(m, EMBER_EV_MESSAGE_OFFLINE, off_on_message, 0,
                         in)) < 0 ||
        /* Above mod_presence, which takes presence/self (HANDLED): the
         * delivery waits for a storage read anyway, so the presence is
         * broadcast before any stored message is written. */
        (err = api->hook(m, "presence/self", off_on_presence, 5, in)) < 0 ||
        (err = api->hook(m, EMBER_EV_USER_DELETED, off_on_user_deleted, 0,
                         in)) < 0 ||
        (err = api->hook(m, EMBER_EV_CLUSTER_NOTICE "offline",
                         off_on_notice, 0, in)) < 0 ||
        (err = api->command_register(m, &off_count_cmd, in)) < 0 ||
        (err = api->command_register(m, &off_clear_cmd, in)) < 0 ||
        (err = off_migrate_init(in)) < 0)
        goto fail;
    return 0;

fail:
    off_unload(m);
    return err;
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "offline",
    .version = "1.0",
    .description = "XEP-0160: offline message storage and delivery",
    .requires = (const char *const[]){ "hooks", "storage", "sessions",
                                       "commands", "disco", NULL },
    .conf_size = sizeof(off_conf_t),
    .options = off_options,
    .load = off_load,
    .unload = off_unload,
};
