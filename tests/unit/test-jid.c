/* Unit tests: JID parsing and preparation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <stringprep.h>

#include <ember/errno.h>

#include "base/jid.h"

static void
check(const char *in, const char *node, const char *domain,
      const char *resource, const char *full)
{
    ember_jid_t *j = ember__jid_parse(in);

    if (j == NULL)
        fail_msg("'%s' did not parse", in);
    if (node == NULL)
        assert_null(j->node);
    else
        assert_string_equal(j->node, node);
    assert_string_equal(j->domain, domain);
    if (resource == NULL)
        assert_null(j->resource);
    else
        assert_string_equal(j->resource, resource);
    assert_string_equal(j->full, full);
    ember__jid_free(j);
}

static void
bad(const char *in)
{
    ember_jid_t *j = ember__jid_parse(in);

    if (j != NULL)
        fail_msg("'%s' parsed as '%s'", in, j->full);
}


static void
test_basic(void **state)
{
    ember_jid_t *j, *k;

    (void) state;
    check("example.com", NULL, "example.com", NULL, "example.com");
    check("user@example.com", "user", "example.com", NULL,
          "user@example.com");
    check("user@example.com/res", "user", "example.com", "res",
          "user@example.com/res");
    check("example.com/res", NULL, "example.com", "res", "example.com/res");
    /* Split at the first '/', and at the first '@' before it. */
    check("a@b/c@d/e", "a", "b", "c@d/e", "a@b/c@d/e");
    check("b/c@d", NULL, "b", "c@d", "b/c@d");
    j = ember__jid_parse("User@Example.COM/Res");
    assert_non_null(j);
    assert_string_equal(j->bare, "user@example.com");
    assert_string_equal(j->full, "user@example.com/Res");
    assert_string_equal(ember__jid_bare(j), "user@example.com");
    assert_string_equal(ember__jid_node(j), "user");
    assert_string_equal(ember__jid_domain(j), "example.com");
    assert_string_equal(ember__jid_resource(j), "Res");
    k = ember__jid_copy(j);
    assert_true(ember__jid_equal(j, k));
    assert_string_equal(ember__jid_full(k), "user@example.com/Res");
    ember__jid_free(k);
    k = ember__jid_parse("user@example.com/res");
    assert_false(ember__jid_equal(j, k));
    ember__jid_free(k);
    k = ember__jid_make("USER", "example.com.", "Res");
    assert_true(ember__jid_equal(j, k));
    ember__jid_free(k);
    ember__jid_free(j);
    assert_null(ember__jid_make(NULL, NULL, NULL));
    assert_true(ember__jid_equal(NULL, NULL));
}


static void
test_case_and_unicode(void **state)
{
    (void) state;
    /* nodeprep/nameprep fold case; resourceprep keeps it. */
    check("ABC@DEF.org/GHI", "abc", "def.org", "GHI", "abc@def.org/GHI");
    /* German sharp s folds to "ss" in node and domain. */
    check("Stra\xc3\x9f" "e@Stra\xc3\x9f" "e.de/Stra\xc3\x9f" "e",
          "strasse", "strasse.de", "Stra\xc3\x9f" "e",
          "strasse@strasse.de/Stra\xc3\x9f" "e");
    /* Umlauts lowercase, NFKC maps the fi ligature. */
    check("\xc3\x84\xc3\x96@\xc3\x9c.example/\xef\xac\x81",
          "\xc3\xa4\xc3\xb6", "\xc3\xbc.example", "fi",
          "\xc3\xa4\xc3\xb6@\xc3\xbc.example/fi");
    /* Soft hyphen is mapped to nothing. */
    check("a\xc2\xad" "b@example.com", "ab", "example.com", NULL,
          "ab@example.com");
    /* Resources may hold spaces and '@'. */
    check("a@b/My Phone @ home", "a", "b", "My Phone @ home",
          "a@b/My Phone @ home");
}


static void
test_bad(void **state)
{
    (void) state;
    bad("");
    bad("@example.com");
    bad("user@");
    bad("user@/res");
    bad("user@example.com/");
    bad("/res");
    bad("example.com/");
    /* Characters nodeprep prohibits. */
    bad("a b@example.com");
    bad("a\"b@example.com");
    bad("a&b@example.com");
    bad("a'b@example.com");
    bad("a:b@example.com");
    bad("a<b@example.com");
    bad("a>b@example.com");
    bad("a\x01@example.com");
    bad("a@example.com/\x01");
    bad("a@example.com/x\x7f");
    /* Domain labels. */
    bad("a@exa mple.com");
    bad("a@example..com");
    bad("a@.example.com");
    bad("a@example.com..");
    bad("a@.");
    bad("a@-example.com");
    bad("a@example-.com");
    bad("a@exa!mple.com");
    bad("a@[not-an-ip]");
    bad("a@[::1");
    /* Invalid UTF-8 and prohibited code points. */
    bad("\xff@example.com");
    bad("a@example.com/\xc3");
    bad("a\xe2\x80\x8f" "b@example.com");   /* U+200F RLM: prohibited */
    bad("\xef\xbc\xa0@example.com");        /* fullwidth @ maps to '@' */

}


static void
test_lengths(void **state)
{
    char buf[6000];
    ember_jid_t *j;

    (void) state;
    memset(buf, 'a', 1023);
    strcpy(buf + 1023, "@example.com");
    j = ember__jid_parse(buf);
    assert_non_null(j);
    assert_int_equal(strlen(j->node), 1023);
    ember__jid_free(j);
    memset(buf, 'a', 1024);
    strcpy(buf + 1024, "@example.com");
    bad(buf);
    memset(buf, 'a', 4500);
    strcpy(buf + 4500, "@example.com");
    bad(buf);
    /* 63-byte label limit, and the 1023-byte domain. */
    snprintf(buf, sizeof(buf), "%.63s.com", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    j = ember__jid_parse(buf);
    assert_non_null(j);
    ember__jid_free(j);
    snprintf(buf, sizeof(buf), "%.64s.com", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    bad(buf);
    strcpy(buf, "a@example.com/");
    memset(buf + 14, 'R', 1023);
    buf[14 + 1023] = '\0';
    j = ember__jid_parse(buf);
    assert_non_null(j);
    ember__jid_free(j);
    strcat(buf, "R");
    bad(buf);
    /* Prepared length counts: 512 x U+00DF becomes 1024 bytes "ss". */
    buf[0] = '\0';
    for (int i = 0; i < 512; i++)
        strcat(buf, "\xc3\x9f");
    strcat(buf, "@example.com");
    bad(buf);
}


static void
test_trailing_dot_and_literals(void **state)
{
    (void) state;
    check("a@example.com.", "a", "example.com", NULL, "a@example.com");
    check("example.com./r", NULL, "example.com", "r", "example.com/r");
    check("a@[::1]/r", "a", "[::1]", "r", "a@[::1]/r");
    check("[2001:DB8::1]", NULL, "[2001:db8::1]", NULL, "[2001:db8::1]");
    check("a@192.0.2.1", "a", "192.0.2.1", NULL, "a@192.0.2.1");
    check("localhost", NULL, "localhost", NULL, "localhost");
    check("conference.example.com", NULL, "conference.example.com", NULL,
          "conference.example.com");
    check("_srv.example.com", NULL, "_srv.example.com", NULL,
          "_srv.example.com");
}


static void
test_prep_parts(void **state)
{
    char out[1024];

    (void) state;
    assert_int_equal(ember__jid_prep_node("ABC", out, sizeof(out)), 0);
    assert_string_equal(out, "abc");
    assert_int_equal(ember__jid_prep_domain("Example.COM.", out,
                                            sizeof(out)), 0);
    assert_string_equal(out, "example.com");
    assert_int_equal(ember__jid_prep_resource("Res", out, sizeof(out)), 0);
    assert_string_equal(out, "Res");
    assert_int_equal(ember__jid_prep_node("a@b", out, sizeof(out)),
                     EMBER_EINVAL);
    assert_int_equal(ember__jid_prep_node("abcdef", out, 4), EMBER_EINVAL);
    assert_int_equal(ember__jid_prep_node("", out, sizeof(out)),
                     EMBER_EINVAL);
}


/* libidn directly, to compare the ASCII fast path against. */
static int
slow_prep(int which, const char *in, char *out, size_t outlen)
{
    int rc;

    snprintf(out, outlen, "%s", in);
    if (which == 0)
        rc = stringprep_xmpp_nodeprep(out, outlen);
    else if (which == 1)
        rc = stringprep_nameprep(out, outlen);
    else
        rc = stringprep_xmpp_resourceprep(out, outlen);
    return rc == STRINGPREP_OK ? 0 : -1;
}


static int
fast_prep(int which, const char *in, char *out, size_t outlen)
{
    int rc;

    if (which == 0)
        rc = ember__jid_prep_node(in, out, outlen);
    else if (which == 1)
        rc = ember__jid_prep_domain(in, out, outlen);
    else
        rc = ember__jid_prep_resource(in, out, outlen);
    return rc;
}


/* A domain the label rules accept (they run after either path). */
static int
domain_ok(const char *d)
{
    const char *p;
    size_t label = 0;

    if (*d == '\0' || *d == '.' || *d == '-')
        return 0;
    for (p = d; *p; p++) {
        if (*p == '.') {
            if (label == 0 || p[-1] == '-' || p[1] == '-')
                return 0;
            label = 0;
            continue;
        }
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
              || *p == '-' || *p == '_'))
            return 0;
        label++;
    }
    return label > 0 && p[-1] != '-';
}


static void
test_fast_path_matches_libidn(void **state)
{
    char in[16], a[64], b[64];
    int which, c, i, n, rs, rf;
    unsigned seed = 12345;

    (void) state;
    /* Every ASCII byte, alone and between letters, in every profile. */
    for (which = 0; which < 3; which++) {
        for (c = 1; c < 128; c++) {
            for (i = 0; i < 2; i++) {
                if (i == 0)
                    snprintf(in, sizeof(in), "%c", c);
                else
                    snprintf(in, sizeof(in), "Ab%cZ9", c);
                rs = slow_prep(which, in, a, sizeof(a));
                rf = fast_prep(which, in, b, sizeof(b));
                if (which == 1 && rs == 0) {
                    /* Trailing-dot removal and labels apply after prep. */
                    if (strcmp(in, ".") == 0)
                        continue;
                    if (a[strlen(a) - 1] == '.')
                        a[strlen(a) - 1] = '\0';
                    rs = domain_ok(a) ? 0 : -1;
                }
                if ((rs == 0) != (rf == 0))
                    fail_msg("profile %d, char %d: libidn %d, ember %d",
                             which, c, rs, rf);
                if (rs == 0)
                    assert_string_equal(a, b);
            }
        }
    }
    /* Random ASCII strings. */
    for (n = 0; n < 20000; n++) {
        int len = 1 + (int) ((seed = seed * 1103515245 + 12345) >> 16) % 12;

        for (i = 0; i < len; i++) {
            seed = seed * 1103515245 + 12345;
            in[i] = (char) (32 + (seed >> 16) % 95);
        }
        in[len] = '\0';
        for (which = 0; which < 3; which += 2) {
            rs = slow_prep(which, in, a, sizeof(a));
            rf = fast_prep(which, in, b, sizeof(b));
            assert_int_equal(rs == 0, rf == 0);
            if (rs == 0)
                assert_string_equal(a, b);
        }
    }
}


static void
test_idempotent(void **state)
{
    static const char *const jids[] = {
        "ABC@DEF.org/GHI", "Stra\xc3\x9f" "e@x.de/\xe2\x85\xa8",
        "\xef\xac\x81@\xef\xac\x81.com", "a@[::FFFF:192.0.2.1]/r",
        "x@y./z/z/z", "\xe2\x85\xa8@example.com/\xe2\x85\xa8"
    };
    ember_jid_t *j, *k;
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(jids) / sizeof(jids[0]); i++) {
        j = ember__jid_parse(jids[i]);
        assert_non_null(j);
        k = ember__jid_parse(j->full);
        assert_non_null(k);
        assert_true(ember__jid_equal(j, k));
        ember__jid_free(j);
        ember__jid_free(k);
    }
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_case_and_unicode),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_trailing_dot_and_literals),
        cmocka_unit_test(test_prep_parts),
        cmocka_unit_test(test_fast_path_matches_libidn),
        cmocka_unit_test(test_idempotent),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
