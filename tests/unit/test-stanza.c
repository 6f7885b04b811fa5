/* Unit tests: stanza trees, the serializer, data forms and RSM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <ember/errno.h>

#include "base/buf.h"
#include "xmpp/stanza.h"
#include "xmpp/xmlstream.h"

static char *
ser(const ember_stanza_t *st, const char *ctx)
{
    ember_buf_t b = { NULL, 0, 0 };

    assert_int_equal(ember__stanza_write(st, ctx, &b), 0);
    return b.data;
}

#define assert_xml(st, ctx, expected)                                        \
    do {                                                                     \
        char *s_ = ser((st), (ctx));                                         \
        assert_string_equal(s_, (expected));                                 \
        free(s_);                                                            \
    } while (0)


static void
test_build_and_write(void **state)
{
    ember_stanza_t *m, *b, *x;

    (void) state;
    m = ember__stanza_new("message", "jabber:client");
    assert_non_null(m);
    assert_int_equal(ember__stanza_set_attr(m, "to", "a@b"), 0);
    assert_int_equal(ember__stanza_set_attr(m, "type", "chat"), 0);
    b = ember__stanza_add_child(m, "body", NULL);
    assert_int_equal(ember__stanza_add_text(b, "hi"), 0);
    x = ember__stanza_add_child(m, "x", "urn:x");
    assert_non_null(ember__stanza_add_child(x, "y", NULL));
    assert_string_equal(ember__stanza_xmlns(b), "jabber:client");
    assert_string_equal(ember__stanza_xmlns(x), "urn:x");
    assert_xml(m, "jabber:client",
               "<message to=\"a@b\" type=\"chat\"><body>hi</body>"
               "<x xmlns=\"urn:x\"><y/></x></message>");
    assert_xml(m, NULL,
               "<message xmlns=\"jabber:client\" to=\"a@b\" type=\"chat\">"
               "<body>hi</body><x xmlns=\"urn:x\"><y/></x></message>");
    assert_xml(x, "urn:x", "<x><y/></x>");
    assert_ptr_equal(ember__stanza_root(x), m);
    assert_ptr_equal(ember__stanza_parent(x), m);
    assert_ptr_equal(ember__stanza_first(m), b);
    assert_ptr_equal(ember__stanza_next(b), x);
    assert_null(ember__stanza_next(x));
    assert_ptr_equal(ember__stanza_child(m, "x", "urn:x"), x);
    assert_null(ember__stanza_child(m, "x", "urn:other"));
    assert_ptr_equal(ember__stanza_child(m, NULL, "urn:x"), x);
    /* Freeing a child is refused: only roots own memory. */
    ember__stanza_free(x);
    ember__stanza_free(m);
}


static void
test_null_namespace_inherits(void **state)
{
    ember_stanza_t *iq, *q, *c;

    (void) state;
    iq = ember__stanza_new("iq", NULL);
    assert_null(ember__stanza_xmlns(iq));
    q = ember__stanza_add_child(iq, "query", "jabber:iq:version");
    ember__stanza_add_child(q, "name", NULL);
    assert_xml(iq, "jabber:server",
               "<iq><query xmlns=\"jabber:iq:version\"><name/></query></iq>");
    /* Appended under a namespaced parent, a namespace-less tree takes it. */
    c = ember__stanza_new("message", "jabber:client");
    assert_int_equal(ember__stanza_append(c, iq), 0);
    assert_string_equal(ember__stanza_xmlns(ember__stanza_first(c)),
                        "jabber:client");
    assert_xml(c, "jabber:client",
               "<message><iq><query xmlns=\"jabber:iq:version\"><name/>"
               "</query></iq></message>");
    ember__stanza_free(c);
    ember__stanza_free(iq);
}


static void
test_escaping(void **state)
{
    ember_stanza_t *m;

    (void) state;
    m = ember__stanza_new("m", "jabber:client");
    ember__stanza_set_attr(m, "a", "<&>\"'\t\n\r");
    ember__stanza_add_text(m, "<&>\"'\t\n\r]]>");
    assert_xml(m, "jabber:client",
               "<m a=\"&lt;&amp;&gt;&quot;&apos;&#9;&#10;&#13;\">"
               "&lt;&amp;&gt;&quot;&apos;\t\n&#13;]]&gt;</m>");
    ember__stanza_free(m);

    /* Characters XML cannot carry become U+FFFD: output stays parseable. */
    m = ember__stanza_new("m", NULL);
    ember__stanza_set_attr(m, "a", "x\x01y");
    ember__stanza_add_text(m, "a\x01" "b\x1f" "c\xff" "d\xc3" "e\xed\xa0\x80"
                              "f\xef\xbf\xbe" "g\xc3\xa9\xe2\x98\xba"
                              "\xf0\x9f\x98\x80");
    assert_xml(m, NULL,
               "<m a=\"x\xef\xbf\xbdy\">a\xef\xbf\xbd" "b\xef\xbf\xbd"
               "c\xef\xbf\xbd" "d\xef\xbf\xbd" "e\xef\xbf\xbd\xef\xbf\xbd"
               "\xef\xbf\xbd" "f\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
               "g\xc3\xa9\xe2\x98\xba\xf0\x9f\x98\x80</m>");
    ember__stanza_free(m);
}


static void
test_serialize_reparse(void **state)
{
    ember_stanza_t *m, *p;
    char *s, *s2;
    size_t len;

    (void) state;
    m = ember__stanza_new("message", "jabber:client");
    ember__stanza_set_attr(m, "xml:lang", "en");
    ember__stanza_add_text(ember__stanza_add_child(m, "body", NULL),
                           "a & b < c \x02 ]]> \xc3\xa9");
    ember__stanza_set_attr(m, "id", "'\"<>&");
    s = ember__stanza_serialize(m, &len);
    assert_non_null(s);
    assert_int_equal(len, strlen(s));
    p = ember__stanza_parse(s, len);
    assert_non_null(p);
    assert_string_equal(ember__stanza_attr(p, "id"), "'\"<>&");
    assert_string_equal(ember__stanza_attr(p, "xml:lang"), "en");
    assert_string_equal(ember__stanza_text(ember__stanza_child(p, "body",
                                                               NULL)),
                        "a & b < c \xef\xbf\xbd ]]> \xc3\xa9");
    s2 = ember__stanza_serialize(p, NULL);
    ember__stanza_free(p);
    p = ember__stanza_parse(s2, strlen(s2));
    assert_non_null(p);
    free(s2);
    s2 = ember__stanza_serialize(p, NULL);
    /* Serializing is a fixed point after one round. */
    assert_non_null(strstr(s2, "a &amp; b &lt; c"));
    ember__stanza_free(p);
    free(s);
    free(s2);
    ember__stanza_free(m);
}


static void
test_mixed_text(void **state)
{
    ember_stanza_t *r, *p;
    const char *xml = "<p xmlns='urn:p'>one<b>two</b>three<i/>four</p>";

    (void) state;
    r = ember__stanza_parse(xml, strlen(xml));
    assert_non_null(r);
    assert_string_equal(ember__stanza_text(r), "onethreefour");
    /* Cached: same pointer, invalidated by add_text. */
    assert_ptr_equal(ember__stanza_text(r), ember__stanza_text(r));
    ember__stanza_add_text(r, "!");
    assert_string_equal(ember__stanza_text(r), "onethreefour!");
    assert_xml(r, NULL,
               "<p xmlns=\"urn:p\">one<b>two</b>three<i/>four!</p>");
    p = ember__stanza_new("x", NULL);
    assert_string_equal(ember__stanza_text(p), "");
    ember__stanza_free(p);
    ember__stanza_free(r);
}


static void
test_attrs(void **state)
{
    ember_stanza_t *m;

    (void) state;
    m = ember__stanza_new("m", NULL);
    ember__stanza_set_attr(m, "a", "long value");
    ember__stanza_set_attr(m, "b", "2");
    ember__stanza_set_attr(m, "a", "short");
    assert_string_equal(ember__stanza_attr(m, "a"), "short");
    ember__stanza_set_attr(m, "a", "a much longer value than before");
    assert_string_equal(ember__stanza_attr(m, "a"),
                        "a much longer value than before");
    assert_xml(m, NULL,
               "<m a=\"a much longer value than before\" b=\"2\"/>");
    ember__stanza_set_attr(m, "a", NULL);
    ember__stanza_set_attr(m, "b", NULL);
    ember__stanza_set_attr(m, "c", "3");
    assert_null(ember__stanza_attr(m, "a"));
    assert_xml(m, NULL, "<m c=\"3\"/>");
    ember__stanza_set_attr(m, "xmlns", "urn:set");
    assert_string_equal(ember__stanza_attr(m, "xmlns"), "urn:set");
    assert_xml(m, NULL, "<m xmlns=\"urn:set\" c=\"3\"/>");
    assert_int_equal(ember__stanza_set_attr(m, "", "x"), EMBER_EINVAL);
    ember__stanza_free(m);
}


static void
test_copy_append_remove(void **state)
{
    ember_stanza_t *a, *b, *c, *cp;
    const char *xml = "<iq xmlns='jabber:client' type='result'>"
                      "<query xmlns='jabber:iq:roster'><item jid='x@y'>"
                      "<group>G</group></item></query></iq>";
    char *s1, *s2;

    (void) state;
    a = ember__stanza_parse(xml, strlen(xml));
    assert_non_null(a);
    cp = ember__stanza_copy(a);
    s1 = ember__stanza_serialize(a, NULL);
    s2 = ember__stanza_serialize(cp, NULL);
    assert_string_equal(s1, s2);
    free(s2);
    ember__stanza_free(cp);

    /* Copy of a child is a root of its own. */
    cp = ember__stanza_copy(ember__stanza_first(a));
    assert_null(ember__stanza_parent(cp));
    assert_xml(cp, NULL, "<query xmlns=\"jabber:iq:roster\"><item "
                         "jid=\"x@y\"><group>G</group></item></query>");

    /* Appending a tree to itself copies it once. */
    assert_int_equal(ember__stanza_append(a, a), 0);
    b = ember__stanza_first(a);
    c = ember__stanza_next(b);
    assert_string_equal(ember__stanza_name(c), "iq");
    s2 = ember__stanza_serialize(c, NULL);
    assert_string_equal(s1, s2);
    free(s2);

    ember__stanza_remove(b);
    assert_null(ember__stanza_parent(b));
    assert_ptr_equal(ember__stanza_first(a), c);
    ember__stanza_remove(c);
    assert_null(ember__stanza_first(a));
    assert_xml(a, NULL, "<iq xmlns=\"jabber:client\" type=\"result\"/>");
    /* A detached element can still be used and re-appended. */
    ember__stanza_add_child(b, "extra", NULL);
    assert_int_equal(ember__stanza_append(a, b), 0);
    assert_int_equal(ember__stanza_append(cp, a), 0);
    assert_xml(cp, NULL,
               "<query xmlns=\"jabber:iq:roster\"><item jid=\"x@y\">"
               "<group>G</group></item><iq xmlns=\"jabber:client\" "
               "type=\"result\"><query xmlns=\"jabber:iq:roster\"><item "
               "jid=\"x@y\"><group>G</group></item><extra/></query></iq>"
               "</query>");
    free(s1);
    ember__stanza_free(cp);
    ember__stanza_free(a);
}


static void
test_arena(void **state)
{
    ember_stanza_t *r, *c;
    size_t small, big;
    int i;
    char *s;

    (void) state;
    r = ember__stanza_new("r", NULL);
    small = ember__stanza_size(r);
    assert_true(small < 1024);
    c = ember__stanza_add_child(r, "c", NULL);
    ember__stanza_add_text(c, "short");
    /* The first elements live in the inline chunk. */
    assert_int_equal(ember__stanza_size(r), small);
    for (i = 0; i < 10000; i++)
        ember__stanza_add_child(r, "child", "urn:many");
    big = ember__stanza_size(r);
    assert_true(big > small);
    /* Namespace strings shared with an equal parent cost nothing. */
    assert_true(big < 10000 * 160);
    s = calloc(1, 100000);
    memset(s, 'x', 99999);
    ember__stanza_add_text(r, s);
    assert_true(ember__stanza_size(r) >= big + 100000);
    free(s);
    ember__stanza_free(r);
}


static void
test_deep_write(void **state)
{
    ember_stanza_t *r, *c;
    ember_buf_t b = { NULL, 0, 0 };
    int i;

    (void) state;
    /* Deeper than any recursion would survive comfortably. */
    r = ember__stanza_new("r", NULL);
    for (c = r, i = 0; i < 100000; i++)
        c = ember__stanza_add_child(c, "d", NULL);
    assert_int_equal(ember__stanza_write(r, NULL, &b), 0);
    assert_int_equal(b.len, 3 + 99999 * 7 + 4 + 4);
    ember__buf_free(&b);
    ember__stanza_free(r);
}


/* A component's stanza (jabber:component:accept) as the router wants it:
 * every element of that namespace moved, others and text kept in order. */
static void
test_rename_ns(void **state)
{
    static const char in[] =
        "<message xmlns='jabber:component:accept' to='a@b'>one<body>hi</body>"
        "two<x xmlns='urn:x'><y/><z xmlns='jabber:component:accept'/></x>"
        "<thread>t</thread></message>";
    ember_stanza_t *st, *r, *c;
    int i;

    (void) state;
    st = ember__stanza_parse(in, sizeof(in) - 1);
    assert_non_null(st);
    assert_int_equal(ember__stanza_rename_ns(st, "jabber:component:accept",
                                             "jabber:client"), 0);
    assert_string_equal(ember__stanza_xmlns(st), "jabber:client");
    assert_xml(st, "jabber:client",
               "<message to=\"a@b\">one<body>hi</body>two<x xmlns=\"urn:x\">"
               "<y/><z xmlns=\"jabber:client\"/></x><thread>t</thread>"
               "</message>");
    /* Nothing of the other namespace: unchanged. */
    assert_int_equal(ember__stanza_rename_ns(st, "urn:none", "urn:x"), 0);
    assert_string_equal(ember__stanza_xmlns(ember__stanza_child(st, "x",
                                                                NULL)),
                        "urn:x");
    assert_int_equal(ember__stanza_rename_ns(NULL, "a", "b"), EMBER_EINVAL);
    ember__stanza_free(st);

    /* Deep trees are walked without recursion. */
    r = ember__stanza_new("r", "urn:a");
    for (c = r, i = 0; i < 100000; i++)
        c = ember__stanza_add_child(c, "d", NULL);
    assert_int_equal(ember__stanza_rename_ns(r, "urn:a", "urn:b"), 0);
    assert_string_equal(ember__stanza_xmlns(c), "urn:b");
    ember__stanza_free(r);
}


static void
test_buf(void **state)
{
    ember_buf_t b = { NULL, 0, 0 };

    (void) state;
    assert_int_equal(ember__buf_puts(&b, "hello"), 0);
    assert_int_equal(ember__buf_printf(&b, " %d %s", 42, "x"), 0);
    assert_string_equal(b.data, "hello 42 x");
    ember__buf_consume(&b, 6);
    assert_string_equal(b.data, "42 x");
    assert_int_equal(ember__buf_escape(&b, "<a&b>", 5), 0);
    assert_string_equal(b.data, "42 x&lt;a&amp;b&gt;");
    ember__buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    ember__buf_free(&b);
}


static void
test_forms(void **state)
{
    ember_stanza_t *iq, *cmd, *x, *parsed;
    const char *vals[] = { "a", "b", "c", NULL };
    const char *out[2];
    char *s;

    (void) state;
    iq = ember__stanza_new("iq", "jabber:client");
    cmd = ember__stanza_add_child(iq, "command",
                                  "http://jabber.org/protocol/commands");
    x = ember__form_new(cmd, "form", "Title & more", "urn:test:form");
    assert_non_null(x);
    assert_non_null(ember__form_add_field(x, "multi", "list-multi",
                                          "Pick", vals));
    assert_non_null(ember__form_add_field(x, "empty", "text-single",
                                          NULL, NULL));
    assert_xml(x, "http://jabber.org/protocol/commands",
               "<x xmlns=\"jabber:x:data\" type=\"form\">"
               "<title>Title &amp; more</title>"
               "<field var=\"FORM_TYPE\" type=\"hidden\">"
               "<value>urn:test:form</value></field>"
               "<field var=\"multi\" type=\"list-multi\" label=\"Pick\">"
               "<value>a</value><value>b</value><value>c</value></field>"
               "<field var=\"empty\" type=\"text-single\"/></x>");
    s = ember__stanza_serialize(iq, NULL);
    parsed = ember__stanza_parse(s, strlen(s));
    free(s);
    assert_non_null(parsed);
    x = ember__stanza_child(ember__stanza_first(parsed), "x",
                            "jabber:x:data");
    assert_string_equal(ember__form_value(x, "FORM_TYPE"), "urn:test:form");
    assert_string_equal(ember__form_value(x, "multi"), "a");
    assert_string_equal(ember__form_value(x, "empty"), "");
    assert_null(ember__form_value(x, "missing"));
    /* The payload holding the form is accepted too. */
    assert_string_equal(ember__form_value(ember__stanza_first(parsed),
                                          "multi"), "a");
    assert_int_equal(ember__form_values(x, "multi", out, 2), 3);
    assert_string_equal(out[0], "a");
    assert_string_equal(out[1], "b");
    assert_int_equal(ember__form_values(x, "missing", out, 2), 0);
    assert_int_equal(ember__form_values(x, "empty", NULL, 0), 0);
    ember__stanza_free(parsed);
    ember__stanza_free(iq);

    x = ember__form_new(NULL, "submit", NULL, NULL);
    assert_xml(x, NULL, "<x xmlns=\"jabber:x:data\" type=\"submit\"/>");
    ember__stanza_free(x);
}


static int
rsm_of(const char *set, ember_rsm_t *r)
{
    char xml[512];
    ember_stanza_t *q;
    int rc;

    snprintf(xml, sizeof(xml), "<query xmlns='urn:q'>%s</query>", set);
    q = ember__stanza_parse(xml, strlen(xml));
    assert_non_null(q);
    rc = ember__rsm_parse(q, r);
    /* Strings point into the tree: copy out what the test checks. */
    if (rc == 0) {
        static char after[64], before[64];

        if (r->after != NULL) {
            snprintf(after, sizeof(after), "%s", r->after);
            r->after = after;
        }
        if (r->before != NULL) {
            snprintf(before, sizeof(before), "%s", r->before);
            r->before = before;
        }
    }
    ember__stanza_free(q);
    return rc;
}

#define RSM "xmlns='http://jabber.org/protocol/rsm'"


static void
test_rsm(void **state)
{
    ember_rsm_t r;
    ember_stanza_t *q;

    (void) state;
    assert_int_equal(rsm_of("", &r), EMBER_ENOENT);
    assert_int_equal(rsm_of("<set xmlns='urn:other'/>", &r), EMBER_ENOENT);
    assert_int_equal(rsm_of("<set " RSM "/>", &r), 0);
    assert_int_equal(r.max, -1);
    assert_null(r.after);
    assert_null(r.before);
    assert_int_equal(r.index, -1);
    assert_int_equal(rsm_of("<set " RSM "><max>10</max><after>abc</after>"
                            "</set>", &r), 0);
    assert_int_equal(r.max, 10);
    assert_string_equal(r.after, "abc");
    assert_null(r.before);
    assert_int_equal(rsm_of("<set " RSM "><max>0</max><before/></set>", &r),
                     0);
    assert_int_equal(r.max, 0);
    assert_string_equal(r.before, "");
    assert_int_equal(rsm_of("<set " RSM "><before>id9</before><index>3"
                            "</index></set>", &r), 0);
    assert_string_equal(r.before, "id9");
    assert_int_equal(r.index, 3);
    assert_int_equal(rsm_of("<set " RSM "><max>-1</max></set>", &r),
                     EMBER_EINVAL);
    assert_int_equal(rsm_of("<set " RSM "><max>ten</max></set>", &r),
                     EMBER_EINVAL);
    assert_int_equal(rsm_of("<set " RSM "><max> 5</max></set>", &r),
                     EMBER_EINVAL);
    assert_int_equal(rsm_of("<set " RSM "><max>99999999999</max></set>", &r),
                     EMBER_EINVAL);
    assert_int_equal(rsm_of("<set " RSM "><max></max></set>", &r),
                     EMBER_EINVAL);
    assert_int_equal(rsm_of("<set " RSM "><after/></set>", &r),
                     EMBER_EINVAL);
    assert_int_equal(rsm_of("<set " RSM "><index>x</index></set>", &r),
                     EMBER_EINVAL);
    assert_int_equal(rsm_of("<set " RSM "><max>1</max><max>2</max></set>",
                            &r), EMBER_EINVAL);

    q = ember__stanza_new("query", "urn:q");
    assert_non_null(ember__rsm_add(q, "f", "l", 25, 0));
    assert_non_null(ember__rsm_add(q, NULL, NULL, 0, -1));
    assert_xml(q, NULL,
               "<query xmlns=\"urn:q\"><set xmlns=\"http://jabber.org/"
               "protocol/rsm\"><first index=\"0\">f</first><last>l</last>"
               "<count>25</count></set><set xmlns=\"http://jabber.org/"
               "protocol/rsm\"><count>0</count></set></query>");
    ember__stanza_free(q);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_and_write),
        cmocka_unit_test(test_null_namespace_inherits),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_serialize_reparse),
        cmocka_unit_test(test_mixed_text),
        cmocka_unit_test(test_attrs),
        cmocka_unit_test(test_copy_append_remove),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_deep_write),
        cmocka_unit_test(test_rename_ns),
        cmocka_unit_test(test_buf),
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_rsm),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
