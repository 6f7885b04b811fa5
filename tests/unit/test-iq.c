/* Unit tests: deferred iqs (core/xmpp/iq_defer.c) and session refs
 * without a socket.  Answers are routed to a subdomain service, which
 * catches them: the one destination that needs neither a session nor a
 * configured host.  The iqs come from server-side senders (no origin), so
 * the pre-auth path is left to tests/integration/test_api3.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <ember/plugin.h>

#include "base/jid.h"
#include "base/owner.h"
#include "xmpp/iq_defer.h"
#include "xmpp/services.h"
#include "xmpp/session.h"
#include "xmpp/stanza.h"

#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"

static ember__owner_t owner_a = { "a", "x.test", "a@x.test" };
static ember__owner_t owner_b = { "b", "x.test", "b@x.test" };
#define MOD_A ((ember_module_t *) (void *) &owner_a)
#define MOD_B ((ember_module_t *) (void *) &owner_b)

#include "peer_catch.h"


/* An event as the router hands it to a handler: everything in it is
 * freed by the caller once the handler returns. */
typedef struct {
    ember_event_t ev;
    char host[32], name[64];
} event_t;


static void
event_make(event_t *e, const char *kind, const char *type, const char *from,
           const char *to, const char *id)
{
    ember_stanza_t *st = ember__stanza_new(kind, "jabber:client");

    memset(e, 0, sizeof(*e));
    if (type != NULL)
        ember__stanza_set_attr(st, "type", type);
    if (from != NULL) {
        ember__stanza_set_attr(st, "from", from);
        e->ev.from = ember__jid_parse(from);
    }
    if (to != NULL) {
        ember__stanza_set_attr(st, "to", to);
        e->ev.to = ember__jid_parse(to);
    }
    if (id != NULL)
        ember__stanza_set_attr(st, "id", id);
    ember__stanza_add_child(st, "query", "urn:q");
    snprintf(e->host, sizeof(e->host), "x.test");
    snprintf(e->name, sizeof(e->name), "%s-%s/host/urn:q:query", kind,
             type != NULL ? type : "");
    e->ev.size = sizeof(e->ev);
    e->ev.stanza = st;
    e->ev.host = e->host;
    e->ev.name = e->name;
    e->ev.data = e;
}


/* Frees and scribbles over what the handler saw. */
static void
event_drop(event_t *e)
{
    ember__stanza_free(e->ev.stanza);
    ember__jid_free((ember_jid_t *) e->ev.from);
    ember__jid_free((ember_jid_t *) e->ev.to);
    memset(e->host, 'X', sizeof(e->host) - 1);
    memset(e->name, 'X', sizeof(e->name) - 1);
    memset(&e->ev, 0, sizeof(e->ev));
}


static void
assert_attr(const ember_stanza_t *st, const char *name, const char *value)
{
    const char *v = ember__stanza_attr(st, name);

    if (value == NULL) {
        if (v != NULL)
            fail_msg("'%s' is \"%s\", expected none", name, v);
        return;
    }
    if (v == NULL)
        fail_msg("'%s' missing, expected \"%s\"", name, value);
    assert_string_equal(v, value);
}


static void
assert_cond(const ember_stanza_t *r, const char *type, const char *cond)
{
    ember_stanza_t *err = ember__stanza_child(r, "error", NULL);

    assert_attr(r, "type", "error");
    assert_non_null(err);
    assert_attr(err, "type", type);
    assert_non_null(ember__stanza_child(err, cond, NS_STANZAS));
}


static void
test_defer_refuses_non_requests(void **state)
{
    static const char *const kinds[][2] = {
        { "iq", "result" }, { "iq", "error" }, { "iq", NULL },
        { "iq", "GET" }, { "message", "chat" }, { "message", NULL },
        { "presence", NULL }, { "presence", "get" },
    };
    event_t e;
    size_t i;

    (void) state;
    assert_null(ember__iq_defer(MOD_A, NULL));
    memset(&e, 0, sizeof(e));
    assert_null(ember__iq_defer(MOD_A, &e.ev));
    for (i = 0; i < sizeof(kinds) / sizeof(*kinds); i++) {
        event_make(&e, kinds[i][0], kinds[i][1], "u@peer.test/r", "x.test",
                   "n");
        if (ember__iq_defer(MOD_A, &e.ev) != NULL)
            fail_msg("iq_defer took a %s of type %s", kinds[i][0],
                     kinds[i][1] != NULL ? kinds[i][1] : "(none)");
        event_drop(&e);
    }
    assert_int_equal(ncaught, 0);
}


static void
test_event_outlives_the_handler(void **state)
{
    event_t e;
    ember_iq_t *iq;
    const ember_event_t *c;

    (void) state;
    event_make(&e, "iq", "get", "u@peer.test/r", "x.test", "d1");
    iq = ember__iq_defer(MOD_A, &e.ev);
    assert_non_null(iq);
    event_drop(&e);
    c = ember__iq_event(iq);
    assert_int_equal(c->size, sizeof(ember_event_t));
    assert_string_equal(ember__stanza_name(c->stanza), "iq");
    assert_attr(c->stanza, "id", "d1");
    assert_attr(c->stanza, "type", "get");
    assert_non_null(ember__stanza_child(c->stanza, "query", "urn:q"));
    assert_string_equal(ember__jid_full(c->from), "u@peer.test/r");
    assert_string_equal(ember__jid_full(c->to), "x.test");
    assert_string_equal(c->host, "x.test");
    assert_string_equal(c->name, "iq-get/host/urn:q:query");
    assert_null(c->origin);
    assert_ptr_equal(c->data, &e);
    assert_true(ember__iq_origin(iq) == 0);
    assert_int_equal(ncaught, 0);

    assert_int_equal(ember__iq_answer(iq, ember__stanza_new("r", "urn:r")),
                     0);
    assert_int_equal(ncaught, 1);
    assert_string_equal(ember__stanza_name(caught[0]), "iq");
    assert_attr(caught[0], "type", "result");
    assert_attr(caught[0], "id", "d1");
    assert_attr(caught[0], "to", "u@peer.test/r");
    assert_attr(caught[0], "from", "x.test");
    assert_non_null(ember__stanza_child(caught[0], "r", "urn:r"));
    caught_clear();
}


static void
test_fail_and_no_to(void **state)
{
    event_t e;
    ember_iq_t *iq;

    (void) state;
    event_make(&e, "iq", "set", "u@peer.test/r", "x.test", "f1");
    iq = ember__iq_defer(MOD_A, &e.ev);
    event_drop(&e);
    assert_int_equal(ember__iq_fail(iq, EMBER_COND_NOT_ALLOWED, "no"), 0);
    assert_int_equal(ncaught, 1);
    assert_attr(caught[0], "id", "f1");
    assert_attr(caught[0], "to", "u@peer.test/r");
    assert_attr(caught[0], "from", "x.test");
    assert_cond(caught[0], "cancel", "not-allowed");
    caught_clear();

    /* No 'to': the answer comes from the sender's bare JID. */
    event_make(&e, "iq", "get", "u@peer.test/r", NULL, "f2");
    iq = ember__iq_defer(MOD_A, &e.ev);
    event_drop(&e);
    assert_null(ember__iq_event(iq)->to);
    assert_int_equal(ember__iq_answer(iq, NULL), 0);
    assert_int_equal(ncaught, 1);
    assert_attr(caught[0], "to", "u@peer.test/r");
    assert_attr(caught[0], "from", "u@peer.test");
    assert_null(ember__stanza_first(caught[0]));
    caught_clear();
}


static void
test_end_nothing(void **state)
{
    (void) state;
    /* The payload is taken even then (a leak would show under ASAN). */
    assert_int_equal(ember__iq_answer(NULL, ember__stanza_new("p", NULL)),
                     EMBER_EINVAL);
    assert_int_equal(ember__iq_fail(NULL, EMBER_COND_GONE, NULL),
                     EMBER_EINVAL);
    assert_int_equal(ncaught, 0);
}


static void
test_module_gone_answers_its_own(void **state)
{
    event_t e;
    ember_iq_t *b = NULL;
    char id[8];
    int i;

    (void) state;
    for (i = 0; i < 3; i++) {
        snprintf(id, sizeof(id), "g%d", i);
        event_make(&e, "iq", "get", "u@peer.test/r", "x.test", id);
        if (i == 1)
            b = ember__iq_defer(MOD_B, &e.ev);
        else
            assert_non_null(ember__iq_defer(MOD_A, &e.ev));
        event_drop(&e);
    }
    ember__iqs_module_gone(MOD_A);
    assert_int_equal(ncaught, 2);
    for (i = 0; i < 2; i++) {
        assert_attr(caught[i], "to", "u@peer.test/r");
        assert_attr(caught[i], "from", "x.test");
        assert_cond(caught[i], "cancel", "service-unavailable");
        assert_true(strcmp(ember__stanza_attr(caught[i], "id"), "g1") != 0);
    }
    caught_clear();
    ember__iqs_module_gone(MOD_A);
    assert_int_equal(ncaught, 0);
    /* The other module's handle is still open, and still its own. */
    assert_attr(ember__iq_event(b)->stanza, "id", "g1");
    assert_int_equal(ember__iq_answer(b, NULL), 0);
    assert_int_equal(ncaught, 1);
    assert_attr(caught[0], "id", "g1");
    assert_attr(caught[0], "type", "result");
    caught_clear();
    ember__iqs_module_gone(MOD_B);
    assert_int_equal(ncaught, 0);
}


static void
test_session_refs_without_sessions(void **state)
{
    (void) state;
    assert_true(ember__session_ref(NULL) == 0);
    assert_null(ember__session_get(0));
    assert_null(ember__session_get(1));
    assert_null(ember__session_get(UINT64_MAX));
    assert_null(ember__session_by_jid(NULL));
    assert_null(ember__session_by_jid("a@x.test"));
    assert_null(ember__session_by_jid("a@x.test/r"));
    assert_null(ember__session_by_jid("@@bad/r"));
    assert_null(ember__session_by_jid(""));
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defer_refuses_non_requests),
        cmocka_unit_test(test_event_outlives_the_handler),
        cmocka_unit_test(test_fail_and_no_to),
        cmocka_unit_test(test_end_nothing),
        cmocka_unit_test(test_module_gone_answers_its_own),
        cmocka_unit_test(test_session_refs_without_sessions),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
