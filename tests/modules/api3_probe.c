/*
 * Test-only module: the minor-3 primitives of plugin.h, driven by
 * tests/integration/test_api3.py.
 *
 * <iq type='get|set'><defer xmlns='urn:ember:test:api3' .../></iq>, sent
 * to the host, to a bare JID, without 'to', or before authentication, is
 * deferred with iq_defer.  Attributes of <defer/>:
 *   ms='N'         answer after N ms (a timer whose ud is the handle)
 *   ask='1'        send the asker an iq of the module's own (iq_send) whose
 *                  callback logs how it ended and frees its ud; the
 *                  deferred iq stays open
 *   hold='1'       never answer: the core must, when the module unloads
 *   now='1'        answer inside the handler, before it returns
 *   fail='COND'    iq_fail with this ember_cond_t (text='...' optional);
 *                  with app='NAME' iq_fail_app and <NAME xmlns=NS/>
 * The answer echoes what iq_event still holds when it is sent:
 *   <defer id= from= to= host= name= origin='alive|gone'/>
 * A message to the host carrying <defer/> gets a message back whose body
 * says what iq_defer returned for it ("null" or "handle").
 *
 * Commands (answers in JSON):
 *   api3-ref JID      keep session_ref(session_by_jid(JID))
 *   api3-get          {"alive", "jid"}: session_get of the kept ref
 *   api3-lookup JID   {"found", "jid"}: session_by_jid
 *   api3-end JID COND [TEXT]   session_end; {"alive_after": session_get
 *                     of the session's ref right after}
 *   api3-conds        cond_name / stream_cond_name over and off the tables
 *   api3-info NAME    {"info": command_info, "listed": its command_list row}
 *   api3-state        {"answered", "last_rc", "last_origin"}
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include <ember/plugin.h>

#define NS "urn:ember:test:api3"

typedef struct {
    ember_session_ref_t ref;
    int answered;
    int last_rc;
    const char *last_origin;
} probe_t;

static const ember_api_t *api;


static const ember_stanza_t *
defer_el(const ember_event_t *ev)
{
    return api->stanza_child(ev->stanza, "defer", NS);
}


static void
set_jid(ember_stanza_t *el, const char *attr, const ember_jid_t *j)
{
    if (j != NULL)
        api->stanza_set_attr(el, attr, api->jid_full(j));
}


/* Ends the handle; everything echoed is read from iq_event now, long
 * after the router freed the stanza the handler saw. */
static void
finish(ember_module_t *m, ember_iq_t *iq)
{
    probe_t *p = api->module_data(m);
    const ember_event_t *ev = api->iq_event(iq);
    const ember_stanza_t *d = defer_el(ev);
    const char *fail = api->stanza_attr(d, "fail");
    ember_stanza_t *r;

    p->last_origin = api->session_get(api->iq_origin(iq)) != NULL ? "alive"
                                                                  : "gone";
    p->answered++;
    if (fail != NULL && api->stanza_attr(d, "app") != NULL) {
        r = api->stanza_new(api->stanza_attr(d, "app"), NS);
        p->last_rc = api->iq_fail_app(iq, (ember_cond_t) atoi(fail),
                                      api->stanza_attr(d, "text"), r);
        api->stanza_free(r);
        return;
    }
    if (fail != NULL) {
        p->last_rc = api->iq_fail(iq, (ember_cond_t) atoi(fail),
                                  api->stanza_attr(d, "text"));
        return;
    }
    if ((r = api->stanza_new("defer", NS)) != NULL) {
        api->stanza_set_attr(r, "id", api->stanza_attr(ev->stanza, "id"));
        set_jid(r, "from", ev->from);
        set_jid(r, "to", ev->to);
        api->stanza_set_attr(r, "host", ev->host);
        api->stanza_set_attr(r, "name", ev->name);
        api->stanza_set_attr(r, "origin", p->last_origin);
        api->stanza_set_attr(r, "module",
                             api->iq_module(iq) == m ? "same" : "other");
    }
    p->last_rc = api->iq_answer(iq, r);
}


static void
on_timer(ember_module_t *m, ember_timer_t *t, void *ud)
{
    finish(m, ud);
}


static void
on_asked(ember_module_t *m, ember_stanza_t *reply, void *ud)
{
    api->log(m, EMBER_LOG_INFO, "api3: iq_send %s ended: %s", (char *) ud,
             reply != NULL ? api->stanza_attr(reply, "type") : "no reply");
    free(ud);
}


static void
ask(ember_module_t *m, const ember_event_t *ev)
{
    ember_stanza_t *q = api->stanza_new("iq", NULL);
    char *tag = strdup("ask");

    api->stanza_set_attr(q, "type", "get");
    api->stanza_set_attr(q, "from", api->module_host(m));
    api->stanza_set_attr(q, "to", api->jid_full(ev->from));
    api->stanza_add_child(q, "query", "urn:ember:test:unanswered");
    if (api->iq_send(m, q, 600000, on_asked, tag) < 0)
        free(tag);
}


static int
on_defer(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    const ember_stanza_t *d = defer_el(ev);
    const char *ms = api->stanza_attr(d, "ms");
    ember_iq_t *iq;

    if ((iq = api->iq_defer(m, ev)) == NULL)
        return EMBER_ENOMEM;
    if (api->stanza_attr(d, "ask") != NULL)
        ask(m, ev);
    if (api->stanza_attr(d, "hold") != NULL || api->stanza_attr(d, "ask"))
        return EMBER_HOOK_HANDLED;
    if (api->stanza_attr(d, "now") != NULL)
        finish(m, iq);
    else if (api->timer_start(m, ms != NULL ? strtoull(ms, NULL, 10) : 0, 0,
                              on_timer, iq) == NULL)
        api->iq_fail(iq, EMBER_COND_RESOURCE_CONSTRAINT, NULL);
    return EMBER_HOOK_HANDLED;
}


static int
on_message(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    ember_iq_t *iq;
    ember_stanza_t *r, *body;

    if (defer_el(ev) == NULL)
        return EMBER_HOOK_PASS;
    iq = api->iq_defer(m, ev);
    if ((r = api->stanza_new("message", NULL)) == NULL ||
        (body = api->stanza_add_child(r, "body", NULL)) == NULL) {
        api->stanza_free(r);
        return EMBER_ENOMEM;
    }
    api->stanza_set_attr(r, "from", api->jid_full(ev->to));
    api->stanza_set_attr(r, "to", api->jid_full(ev->from));
    api->stanza_add_text(body, iq == NULL ? "null" : "handle");
    if (iq != NULL)
        api->iq_fail(iq, EMBER_COND_BAD_REQUEST, NULL);
    api->route(m, r);
    return EMBER_HOOK_HANDLED;
}


/* ---- commands ---- */

static const char *
arg_str(json_t *args, const char *name)
{
    return json_string_value(json_object_get(args, name));
}


static json_t *
jid_or_null(ember_session_t *s)
{
    const ember_jid_t *j = s != NULL ? api->session_jid(s) : NULL;

    return j != NULL ? json_string(api->jid_full(j)) : json_null();
}


static void
cmd_ref(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    probe_t *p = api->module_data(ud);
    ember_session_t *s = api->session_by_jid(arg_str(args, "jid"));

    if (s == NULL) {
        api->command_done(ctx, EMBER_ENOENT, NULL, "no such session");
        return;
    }
    p->ref = api->session_ref(s);
    api->command_done(ctx, 0, json_pack("{s:I}", "ref", (json_int_t) p->ref),
                      NULL);
}


static void
cmd_get(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    probe_t *p = api->module_data(ud);
    ember_session_t *s = api->session_get(p->ref);

    api->command_done(ctx, 0, json_pack("{s:b, s:o}", "alive", s != NULL,
                                        "jid", jid_or_null(s)), NULL);
}


static void
cmd_lookup(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    ember_session_t *s = api->session_by_jid(arg_str(args, "jid"));

    api->command_done(ctx, 0, json_pack("{s:b, s:o}", "found", s != NULL,
                                        "jid", jid_or_null(s)), NULL);
}


static void
cmd_end(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    ember_session_t *s = api->session_by_jid(arg_str(args, "jid"));
    json_int_t cond = json_integer_value(json_object_get(args, "cond"));
    ember_session_ref_t ref;

    if (s == NULL) {
        api->command_done(ctx, EMBER_ENOENT, NULL, "no such session");
        return;
    }
    ref = api->session_ref(s);
    api->session_end(s, (ember_stream_cond_t) cond, arg_str(args, "text"));
    api->command_done(ctx, 0, json_pack("{s:b}", "alive_after",
                                        api->session_get(ref) != NULL),
                      NULL);
}


static json_t *
name_or_null(const char *name)
{
    return name != NULL ? json_string(name) : json_null();
}


/* Names of every value from one below NONE to one past the table, and
 * of INT_MIN and INT_MAX, keyed by the value. */
static json_t *
names(const char *(*fn)(int), int count)
{
    json_t *o = json_object();
    int probes[] = { INT_MIN, INT_MAX };
    char key[16];
    size_t i;
    int v;

    for (v = -2; v <= count; v++) {
        snprintf(key, sizeof(key), "%d", v);
        json_object_set_new(o, key, name_or_null(fn(v)));
    }
    for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        snprintf(key, sizeof(key), "%d", probes[i]);
        json_object_set_new(o, key, name_or_null(fn(probes[i])));
    }
    return o;
}


static const char *
cond_name(int c)
{
    return api->cond_name((ember_cond_t) c);
}


static const char *
stream_cond_name(int c)
{
    return api->stream_cond_name((ember_stream_cond_t) c);
}


static void
cmd_conds(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    api->command_done(ctx, 0, json_pack(
        "{s:o, s:o, s:i, s:i, s:i, s:i}",
        "cond", names(cond_name, EMBER_COND_COUNT),
        "stream", names(stream_cond_name, EMBER_STREAM_COND_COUNT),
        "cond_count", EMBER_COND_COUNT, "cond_none", EMBER_COND_NONE,
        "stream_count", EMBER_STREAM_COND_COUNT,
        "stream_none", EMBER_STREAM_NONE), NULL);
}


static void
cmd_info(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const char *name = arg_str(args, "name");
    json_t *info = api->command_info(ud, name);
    json_t *list = api->command_list(ud), *row, *listed = json_null();
    size_t i;

    json_array_foreach(list, i, row)
        if (strcmp(json_string_value(json_object_get(row, "name")),
                   name) == 0) {
            json_decref(listed);
            listed = json_incref(row);
            break;
        }
    json_decref(list);
    api->command_done(ctx, 0, json_pack("{s:o, s:o}", "info",
                                        info != NULL ? info : json_null(),
                                        "listed", listed), NULL);
}


static void
cmd_state(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    probe_t *p = api->module_data(ud);

    api->command_done(ctx, 0, json_pack(
        "{s:i, s:i, s:s?}", "answered", p->answered, "last_rc", p->last_rc,
        "last_origin", p->last_origin), NULL);
}


static const ember_cmd_arg_t args_none[] = { { NULL, 0, 0, NULL } };
static const ember_cmd_arg_t args_jid[] = {
    { "jid", EMBER_ARG_STRING, 1, "a JID, passed as is" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_end[] = {
    { "jid", EMBER_ARG_STRING, 1, "full JID of the session" },
    { "cond", EMBER_ARG_INT, 1, "an ember_stream_cond_t" },
    { "text", EMBER_ARG_STRING, 0, "the stream error's text" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_name[] = {
    { "name", EMBER_ARG_STRING, 1, "a command name" },
    { NULL, 0, 0, NULL }
};

static const ember_command_t commands[] = {
    { "api3-ref", "keep a ref to a session", args_jid, "admin", cmd_ref },
    { "api3-get", "session_get of the kept ref", args_none, "admin",
      cmd_get },
    { "api3-lookup", "session_by_jid", args_jid, "admin", cmd_lookup },
    { "api3-end", "session_end", args_end, "admin", cmd_end },
    { "api3-conds", "condition names", args_none, "admin", cmd_conds },
    { "api3-info", "command_info", args_name, "admin", cmd_info },
    { "api3-state", "deferred iqs answered", args_none, "admin",
      cmd_state },
};


static const char *const defer_events[] = {
    "iq-get/host/" NS ":defer", "iq-set/host/" NS ":defer",
    "iq-get/self/" NS ":defer", "iq-get/bare/" NS ":defer",
    "iq-get/unauth/" NS ":defer",
};


static int
probe_load(ember_module_t *m, const ember_api_t *a)
{
    probe_t *p = calloc(1, sizeof(*p));
    size_t i;
    int err = 0;

    if (p == NULL)
        return EMBER_ENOMEM;
    api = a;
    api->module_set_data(m, p);
    for (i = 0; err == 0 && i < sizeof(defer_events) / sizeof(*defer_events);
         i++)
        err = api->hook(m, defer_events[i], on_defer, 0, NULL);
    if (err == 0)
        err = api->hook(m, "message/host", on_message, 0, NULL);
    for (i = 0; err == 0 && i < sizeof(commands) / sizeof(*commands); i++)
        err = api->command_register(m, &commands[i], m);
    if (err < 0) {
        api->module_set_data(m, NULL);
        free(p);
    }
    return err;
}


static void
probe_unload(ember_module_t *m)
{
    free(api->module_data(m));
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "api3_probe",
    .version = "1.0",
    .description = "Test: the minor-3 primitives of plugin.h",
    .requires = (const char *const[]){ "preauth", NULL },
    .load = probe_load,
    .unload = probe_unload,
};
