/* Unit tests: the stanza-level rules of core/xmpp/router.c that need no
 * socket (how a reply is addressed, what an error carries: RFC 6120 8.3
 * and 10.3) and the condition tables of core/xmpp/errors.h.  Replies that
 * get routed are caught by a subdomain service, the one destination that
 * needs neither a session nor a configured host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <ember/plugin.h>

#include "base/owner.h"
#include "xmpp/errors.h"
#include "xmpp/router.h"
#include "xmpp/services.h"
#include "xmpp/stanza.h"

#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"

static const struct {
    const char *name, *type;
} conds[] = {
#define COND_ROW(name, wire, type) { wire, type },
    EMBER_COND_MAP(COND_ROW)
#undef COND_ROW
};

#include "peer_catch.h"


static ember_stanza_t *
stanza(const char *kind, const char *type, const char *from, const char *to,
       const char *id)
{
    ember_stanza_t *st = ember__stanza_new(kind, "jabber:client");

    assert_non_null(st);
    if (type != NULL)
        ember__stanza_set_attr(st, "type", type);
    if (from != NULL)
        ember__stanza_set_attr(st, "from", from);
    if (to != NULL)
        ember__stanza_set_attr(st, "to", to);
    if (id != NULL)
        ember__stanza_set_attr(st, "id", id);
    return st;
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


/* The one <error/> of r: its type, its one condition, its text or NULL. */
static void
assert_error(const ember_stanza_t *r, const char *type, const char *cond,
             const char *text)
{
    ember_stanza_t *err = ember__stanza_child(r, "error", NULL), *c, *t;
    size_t nconds = 0;

    assert_attr(r, "type", "error");
    assert_non_null(err);
    assert_null(ember__stanza_next(err));
    assert_attr(err, "type", type);
    for (c = ember__stanza_first(err); c != NULL; c = ember__stanza_next(c)) {
        assert_string_equal(ember__stanza_xmlns(c), NS_STANZAS);
        if (strcmp(ember__stanza_name(c), "text") != 0) {
            assert_string_equal(ember__stanza_name(c), cond);
            nconds++;
        }
    }
    assert_int_equal(nconds, 1);
    t = ember__stanza_child(err, "text", NS_STANZAS);
    if (text == NULL) {
        assert_null(t);
    } else {
        assert_non_null(t);
        assert_string_equal(ember__stanza_text(t), text);
    }
}


/* ---- ember__error_reply ---- */

static void
test_error_reply_addresses(void **state)
{
    const char *kinds[] = { "iq", "message", "presence" };
    ember_stanza_t *st, *r;
    size_t i;

    (void) state;
    for (i = 0; i < 3; i++) {
        st = stanza(kinds[i], "get", "a@x.test/r", "b@y.test/s", "id1");
        r = ember__error_reply(st, EMBER_COND_ITEM_NOT_FOUND, "gone away");
        assert_non_null(r);
        assert_string_equal(ember__stanza_name(r), kinds[i]);
        assert_attr(r, "to", "a@x.test/r");
        assert_attr(r, "from", "b@y.test/s");
        assert_attr(r, "id", "id1");
        assert_error(r, "cancel", "item-not-found", "gone away");
        ember__stanza_free(r);
        ember__stanza_free(st);
    }
    /* No 'to': it went to the sender's own account (RFC 6120 10.3.3). */
    st = stanza("iq", "set", "a@x.test/r", NULL, "id2");
    r = ember__error_reply(st, EMBER_COND_FORBIDDEN, NULL);
    assert_attr(r, "to", "a@x.test/r");
    assert_attr(r, "from", "a@x.test");
    assert_error(r, "auth", "forbidden", NULL);
    ember__stanza_free(r);
    ember__stanza_free(st);
    /* No 'from' (the server's own stanza), no id. */
    st = stanza("message", NULL, NULL, "b@y.test", NULL);
    r = ember__error_reply(st, EMBER_COND_BAD_REQUEST, NULL);
    assert_attr(r, "to", NULL);
    assert_attr(r, "from", "b@y.test");
    assert_attr(r, "id", NULL);
    assert_error(r, "modify", "bad-request", NULL);
    ember__stanza_free(r);
    ember__stanza_free(st);
}


static void
test_error_reply_every_condition(void **state)
{
    ember_stanza_t *st = stanza("iq", "get", "a@x.test/r", "x.test", "c");
    ember_stanza_t *r;
    int c;

    (void) state;
    assert_int_equal(sizeof(conds) / sizeof(*conds), EMBER_COND_COUNT);
    for (c = 0; c < EMBER_COND_COUNT; c++) {
        r = ember__error_reply(st, (ember_cond_t) c, "t");
        assert_error(r, conds[c].type, conds[c].name, "t");
        ember__stanza_free(r);
    }
    /* errors.h: out of range, EMBER_COND_NONE included, is
     * undefined-condition (of its type, cancel). */
    for (c = EMBER_COND_NONE - 1; c <= EMBER_COND_COUNT; c++) {
        if (c == 0)
            c = EMBER_COND_COUNT;
        r = ember__error_reply(st, (ember_cond_t) c, NULL);
        assert_error(r, "cancel", "undefined-condition", NULL);
        ember__stanza_free(r);
    }
    ember__stanza_free(st);
}


/* ---- ember__iq_result_of ---- */

static void
test_iq_result_of(void **state)
{
    ember_stanza_t *iq, *r, *p, *c;

    (void) state;
    iq = stanza("iq", "get", "a@x.test/r", "x.test", "q1");
    p = ember__stanza_new("query", "urn:t");
    ember__stanza_add_child(p, "item", NULL);
    r = ember__iq_result_of(iq, p);         /* takes p */
    assert_non_null(r);
    assert_string_equal(ember__stanza_name(r), "iq");
    assert_attr(r, "type", "result");
    assert_attr(r, "to", "a@x.test/r");
    assert_attr(r, "from", "x.test");
    assert_attr(r, "id", "q1");
    c = ember__stanza_first(r);
    assert_non_null(c);
    assert_string_equal(ember__stanza_name(c), "query");
    assert_string_equal(ember__stanza_xmlns(c), "urn:t");
    assert_non_null(ember__stanza_child(c, "item", NULL));
    assert_null(ember__stanza_next(c));
    ember__stanza_free(r);
    ember__stanza_free(iq);

    /* No 'to': from the sender's bare JID; no payload: empty result. */
    iq = stanza("iq", "set", "a@x.test/r", NULL, "q2");
    r = ember__iq_result_of(iq, NULL);
    assert_attr(r, "to", "a@x.test/r");
    assert_attr(r, "from", "a@x.test");
    assert_attr(r, "id", "q2");
    assert_null(ember__stanza_first(r));
    ember__stanza_free(r);
    ember__stanza_free(iq);

    /* Before authentication: neither address, the id all the same. */
    iq = stanza("iq", "get", NULL, NULL, "q3");
    r = ember__iq_result_of(iq, NULL);
    assert_attr(r, "to", NULL);
    assert_attr(r, "from", NULL);
    assert_attr(r, "id", "q3");
    ember__stanza_free(r);
    ember__stanza_free(iq);
}


/* ---- routed replies ---- */

static void
test_bounce(void **state)
{
    ember_stanza_t *st;

    (void) state;
    st = stanza("message", "chat", "a@peer.test/r", "b@peer.test", "m1");
    ember__bounce(st, EMBER_COND_RECIPIENT_UNAVAILABLE, "later");
    assert_int_equal(ncaught, 1);
    assert_attr(caught[0], "to", "a@peer.test/r");
    assert_attr(caught[0], "from", "b@peer.test");
    assert_attr(caught[0], "id", "m1");
    assert_error(caught[0], "wait", "recipient-unavailable", "later");
    ember__stanza_free(st);
    caught_clear();

    /* An error is never answered with an error (RFC 6120 8.3.1). */
    st = stanza("message", "error", "a@peer.test/r", "b@peer.test", "m2");
    ember__bounce(st, EMBER_COND_BAD_REQUEST, NULL);
    ember__stanza_free(st);
    /* Nothing to answer without a sender. */
    st = stanza("iq", "get", NULL, "b@peer.test", "m3");
    ember__bounce(st, EMBER_COND_BAD_REQUEST, NULL);
    ember__stanza_free(st);
    assert_int_equal(ncaught, 0);

    /* A malformed 'to' cannot be the error's sender: the sender's domain
     * is. */
    st = stanza("iq", "get", "a@peer.test/r", "@@bad", "m4");
    ember__bounce(st, EMBER_COND_JID_MALFORMED, NULL);
    assert_int_equal(ncaught, 1);
    assert_attr(caught[0], "from", "peer.test");
    assert_attr(caught[0], "to", "a@peer.test/r");
    assert_error(caught[0], "modify", "jid-malformed", NULL);
    ember__stanza_free(st);
    caught_clear();
}


static void
test_event_replies(void **state)
{
    ember_event_t ev;

    (void) state;
    memset(&ev, 0, sizeof(ev));
    assert_int_equal(ember__iq_result(&ev, NULL), EMBER_EINVAL);
    assert_int_equal(ember__stanza_error(&ev, EMBER_COND_GONE, NULL),
                     EMBER_EINVAL);
    assert_int_equal(ember__iq_result(NULL, ember__stanza_new("x", NULL)),
                     EMBER_EINVAL);

    ev.stanza = stanza("iq", "get", "a@peer.test/r", NULL, "e1");
    assert_int_equal(ember__iq_result(&ev, ember__stanza_new("q", "urn:q")),
                     0);
    assert_int_equal(ember__stanza_error(&ev, EMBER_COND_CONFLICT, "dup"),
                     0);
    assert_int_equal(ncaught, 2);
    assert_attr(caught[0], "type", "result");
    assert_attr(caught[0], "to", "a@peer.test/r");
    assert_attr(caught[0], "from", "a@peer.test");
    assert_attr(caught[0], "id", "e1");
    assert_non_null(ember__stanza_child(caught[0], "q", "urn:q"));
    assert_attr(caught[1], "to", "a@peer.test/r");
    assert_attr(caught[1], "from", "a@peer.test");
    assert_attr(caught[1], "id", "e1");
    assert_error(caught[1], "cancel", "conflict", "dup");
    ember__stanza_free(ev.stanza);
    caught_clear();
}


/* ---- xmpp/errors.h ---- */

static void
test_condition_tables(void **state)
{
    static const char *const streams[] = {
        "bad-format", "bad-namespace-prefix", "conflict",
        "connection-timeout", "host-gone", "host-unknown",
        "improper-addressing", "internal-server-error", "invalid-from",
        "invalid-namespace", "invalid-xml", "not-authorized",
        "not-well-formed", "policy-violation", "remote-connection-failed",
        "reset", "resource-constraint", "restricted-xml", "see-other-host",
        "system-shutdown", "undefined-condition", "unsupported-encoding",
        "unsupported-feature", "unsupported-stanza-type",
        "unsupported-version",
    };
    const int out[] = { EMBER_COND_NONE, -2, EMBER_COND_COUNT, 1000,
                        -2147483647 - 1, 2147483647 };
    const int sout[] = { EMBER_STREAM_NONE, -2, EMBER_STREAM_COND_COUNT,
                         1000, -2147483647 - 1, 2147483647 };
    int c;
    size_t i;

    (void) state;
    assert_int_equal(EMBER_COND_NONE, -1);
    assert_int_equal(EMBER_STREAM_NONE, -1);
    for (c = 0; c < EMBER_COND_COUNT; c++) {
        assert_string_equal(ember__cond_name((ember_cond_t) c),
                            conds[c].name);
        assert_string_equal(ember__cond_name_or_null((ember_cond_t) c),
                            conds[c].name);
        assert_string_equal(ember__cond_type((ember_cond_t) c),
                            conds[c].type);
    }
    assert_string_equal(ember__cond_name(EMBER_COND_SERVICE_UNAVAILABLE),
                        "service-unavailable");
    assert_int_equal(sizeof(streams) / sizeof(*streams),
                     EMBER_STREAM_COND_COUNT);
    for (c = 0; c < EMBER_STREAM_COND_COUNT; c++) {
        assert_string_equal(
            ember__stream_cond_name((ember_stream_cond_t) c), streams[c]);
        assert_string_equal(
            ember__stream_cond_name_or_null((ember_stream_cond_t) c),
            streams[c]);
    }
    for (i = 0; i < sizeof(out) / sizeof(*out); i++) {
        assert_null(ember__cond_name_or_null((ember_cond_t) out[i]));
        assert_string_equal(ember__cond_name((ember_cond_t) out[i]),
                            "undefined-condition");
        assert_string_equal(ember__cond_type((ember_cond_t) out[i]),
                            "cancel");
        assert_null(
            ember__stream_cond_name_or_null((ember_stream_cond_t) sout[i]));
        assert_string_equal(
            ember__stream_cond_name((ember_stream_cond_t) sout[i]),
            "undefined-condition");
    }
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_reply_addresses),
        cmocka_unit_test(test_error_reply_every_condition),
        cmocka_unit_test(test_iq_result_of),
        cmocka_unit_test(test_bounce),
        cmocka_unit_test(test_event_replies),
        cmocka_unit_test(test_condition_tables),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
