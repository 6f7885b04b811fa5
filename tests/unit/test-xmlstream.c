/* Unit tests: the hardened XML stream parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/xmlmemory.h>

#include <ember/errno.h>

#include "base/buf.h"
#include "xmpp/errors.h"
#include "xmpp/stanza.h"
#include "xmpp/xmlstream.h"

/* libxml2's allocations, counted (installed before xmlInitParser). */
static size_t xml_in_use, xml_peak;

typedef struct { size_t size; size_t pad; } memhdr_t;

static void *
count_malloc(size_t n)
{
    memhdr_t *h = malloc(sizeof(*h) + n);

    if (h == NULL)
        return NULL;
    h->size = n;
    xml_in_use += n;
    if (xml_in_use > xml_peak)
        xml_peak = xml_in_use;
    return h + 1;
}

static void
count_free(void *p)
{
    memhdr_t *h;

    if (p == NULL)
        return;
    h = (memhdr_t *) p - 1;
    xml_in_use -= h->size;
    free(h);
}

static void *
count_realloc(void *p, size_t n)
{
    memhdr_t *h;

    if (p == NULL)
        return count_malloc(n);
    h = (memhdr_t *) p - 1;
    xml_in_use -= h->size;
    h = realloc(h, sizeof(*h) + n);
    if (h == NULL)
        return NULL;
    h->size = n;
    xml_in_use += n;
    if (xml_in_use > xml_peak)
        xml_peak = xml_in_use;
    return h + 1;
}

static char *
count_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = count_malloc(n);

    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

/* What the callbacks saw, as text. */
typedef struct rec_s {
    ember_buf_t log;
    char ns[64];
    int opens, stanzas, closes, errors;
    char cond[64];
    ember_xml_t *x;
    const char *restart_on; /* stanza name that triggers a restart */
    const char *stop_on;
} rec_t;

static void
rec_open(void *ud, ember_stanza_t *hdr, const char *name, const char *ns)
{
    rec_t *r = ud;
    char *s = ember__stanza_serialize(hdr, NULL);

    ember__buf_printf(&r->log, "open %s %s %s\n", name, ns ? ns : "-", s);
    snprintf(r->ns, sizeof(r->ns), "%s",
             ember__stanza_xmlns(hdr) ? ember__stanza_xmlns(hdr) : "");
    free(s);
    ember__stanza_free(hdr);
    r->opens++;
}

static void
rec_stanza(void *ud, ember_stanza_t *st)
{
    rec_t *r = ud;

    ember__stanza_write(st, r->ns, &r->log);
    ember__buf_puts(&r->log, "\n");
    r->stanzas++;
    if (r->restart_on && strcmp(ember__stanza_name(st), r->restart_on) == 0)
        ember__xml_restart(r->x);
    if (r->stop_on && strcmp(ember__stanza_name(st), r->stop_on) == 0)
        ember__xml_stop(r->x);
    ember__stanza_free(st);
}

static void
rec_close(void *ud)
{
    rec_t *r = ud;

    ember__buf_puts(&r->log, "close\n");
    r->closes++;
}

static void
rec_error(void *ud, ember_stream_cond_t code, const char *text)
{
    rec_t *r = ud;
    const char *cond = ember__stream_cond_name(code);

    ember__buf_printf(&r->log, "error %s\n", cond);
    snprintf(r->cond, sizeof(r->cond), "%s", cond);
    r->errors++;
}

static const ember_xml_cbs_t cbs = {
    rec_open, rec_stanza, rec_close, rec_error
};

static ember_xml_t *
rec_new(rec_t *r, size_t max_size, int depth, int attrs)
{
    ember_xml_limits_t lim = { max_size, depth, attrs };

    memset(r, 0, sizeof(*r));
    r->x = ember__xml_new(&cbs, r, &lim);
    assert_non_null(r->x);
    return r->x;
}

static void
rec_free(rec_t *r)
{
    ember__xml_free(r->x);
    ember__buf_free(&r->log);
}

#define ROOT "<stream:stream xmlns='jabber:client' "                     \
             "xmlns:stream='http://etherx.jabber.org/streams' "         \
             "to='example.com' version='1.0' xml:lang='en'>"
#define HDR "<?xml version='1.0'?>" ROOT

static const char stream_doc[] =
    HDR
    "<message to='a@b' type='chat' id='m1'><body>hi &amp; &lt;there&gt; "
    "&#x263A;\n</body><x xmlns='urn:x' a='1&amp;2&lt;3'><y/></x></message>"
    " \n "
    "<iq type='get' id='i1' xmlns:f='urn:f' f:attr='v'><query "
    "xmlns='jabber:iq:roster'/></iq>"
    "<presence><status><![CDATA[a<b]]></status></presence>"
    "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
    "</stream:features>"
    "<message xmlns=''><body>nons</body></message>"
    "<p>mixed<b>bold</b>tail</p>"
    "</stream:stream>";

static const char stream_log[] =
    "open stream http://etherx.jabber.org/streams <stream xmlns=\"jabber:"
    "client\" to=\"example.com\" version=\"1.0\" xml:lang=\"en\"/>\n"
    "<message to=\"a@b\" type=\"chat\" id=\"m1\"><body>hi &amp; &lt;there"
    "&gt; \xe2\x98\xba\n</body><x xmlns=\"urn:x\" a=\"1&amp;2&lt;3\"><y/>"
    "</x></message>\n"
    "<iq type=\"get\" id=\"i1\" xmlns:f=\"urn:f\" f:attr=\"v\"><query "
    "xmlns=\"jabber:iq:roster\"/></iq>\n"
    "<presence><status>a&lt;b</status></presence>\n"
    "<features xmlns=\"http://etherx.jabber.org/streams\"><bind xmlns=\"urn:"
    "ietf:params:xml:ns:xmpp-bind\"/></features>\n"
    "<message xmlns=\"\"><body>nons</body></message>\n"
    "<p>mixed<b>bold</b>tail</p>\n"
    "close\n";

static void
feed_split(rec_t *r, const char *doc, size_t len, size_t step, int idle)
{
    size_t i, n;

    for (i = 0; i < len; i += n) {
        n = len - i < step ? len - i : step;
        if (ember__xml_feed(r->x, doc + i, n) < 0)
            break;
        if (idle)
            ember__xml_idle(r->x);
    }
}


static void
test_stream(void **state)
{
    rec_t r;

    (void) state;
    rec_new(&r, 4096, 16, 16);
    assert_int_equal(ember__xml_feed(r.x, stream_doc, strlen(stream_doc)), 0);
    assert_string_equal(r.log.data, stream_log);
    assert_int_equal(r.opens, 1);
    assert_int_equal(r.closes, 1);
    assert_string_equal(r.ns, "jabber:client");
    rec_free(&r);
}


static void
test_stanza_namespaces(void **state)
{
    rec_t r;
    ember_stanza_t *st;
    const char *s;
    static const char doc[] =
        "<stream:stream xmlns='jabber:server' xmlns:db='jabber:server:"
        "dialback' xmlns:stream='http://etherx.jabber.org/streams'>"
        "<db:result from='a' to='b'>key</db:result>";

    (void) state;
    rec_new(&r, 4096, 16, 16);
    assert_int_equal(ember__xml_feed(r.x, doc, strlen(doc)), 0);
    assert_non_null(strstr(r.log.data,
                           "<result xmlns=\"jabber:server:dialback\" "
                           "from=\"a\" to=\"b\">key</result>\n"));
    rec_free(&r);

    /* '&' in namespace names survives, pooled or not. */
    rec_new(&r, 4096, 16, 16);
    s = "<s:s xmlns='urn:a&amp;b' xmlns:s='urn:s&#38;' xmlns:p='urn:&amp;p'>"
        "<m p:x='1'><p:c xmlns:q='urn:&amp;q'/></m>";
    feed_split(&r, s, strlen(s), 1, 1);
    assert_string_equal(r.ns, "urn:a&b");
    assert_non_null(strstr(r.log.data, "open s urn:s& "));
    assert_non_null(strstr(r.log.data,
                           "<m xmlns:p=\"urn:&amp;p\" p:x=\"1\"><c xmlns="
                           "\"urn:&amp;p\"/></m>\n"));
    rec_free(&r);

    /* xmlns() of parsed elements: resolved, inherited, explicit none. */
    s = "<a xmlns='urn:a'><b/><c xmlns=''/><p:d xmlns:p='urn:p'/></a>";
    st = ember__stanza_parse(s, strlen(s));
    assert_non_null(st);
    assert_string_equal(ember__stanza_xmlns(st), "urn:a");
    assert_string_equal(ember__stanza_xmlns(ember__stanza_first(st)),
                        "urn:a");
    assert_string_equal(ember__stanza_xmlns(ember__stanza_child(st, "c",
                                                                NULL)), "");
    assert_string_equal(ember__stanza_xmlns(ember__stanza_child(st, "d",
                                                                NULL)),
                        "urn:p");
    ember__stanza_free(st);
}


/* Every split into two feeds, and byte by byte, gives the same events. */
static void
test_feed_boundaries(void **state)
{
    rec_t r;
    size_t len = strlen(stream_doc), cut, step;

    (void) state;
    for (cut = 1; cut < len; cut++) {
        rec_new(&r, 4096, 16, 16);
        assert_int_equal(ember__xml_feed(r.x, stream_doc, cut), 0);
        assert_int_equal(ember__xml_feed(r.x, stream_doc + cut, len - cut),
                         0);
        assert_string_equal(r.log.data, stream_log);
        rec_free(&r);
    }
    for (step = 1; step < 8; step++) {
        rec_new(&r, 4096, 16, 16);
        feed_split(&r, stream_doc, len, step, 0);
        assert_string_equal(r.log.data, stream_log);
        rec_free(&r);
    }
}


/* Giving the context back while idle and priming another is invisible. */
static void
test_pool_equivalence(void **state)
{
    rec_t r;
    size_t len = strlen(stream_doc), step;
    static const char s2s[] =
        "<stream:stream xmlns='jabber:server' xmlns:db='jabber:server:"
        "dialback' xmlns:stream='http://etherx.jabber.org/streams'>"
        "<db:result from='a' to='b'>key</db:result> "
        "<message from='a@a' to='b@b'/>\n\n"
        "<db:verify id='1'>k</db:verify>"
        "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-"
        "streams'/></stream:error></stream:stream>";
    char *expected;

    (void) state;
    for (step = 1; step < 40; step++) {
        rec_new(&r, 4096, 16, 16);
        feed_split(&r, stream_doc, len, step, 1);
        assert_string_equal(r.log.data, stream_log);
        rec_free(&r);
    }
    rec_new(&r, 4096, 16, 16);
    feed_split(&r, s2s, strlen(s2s), 100000, 0);
    expected = strdup(r.log.data);
    rec_free(&r);
    for (step = 1; step < 40; step++) {
        rec_new(&r, 4096, 16, 16);
        feed_split(&r, s2s, strlen(s2s), step, 1);
        assert_string_equal(r.log.data, expected);
        rec_free(&r);
    }
    free(expected);
}


/* Idle parsers hold no libxml2 context beyond the bounded pool. */
static void
test_pool_releases_memory(void **state)
{
    enum { N = 200 };
    rec_t *r = calloc(N, sizeof(*r));
    size_t before, busy, idle;
    static const char stanza[] = "<message to='x@y'><body>b</body></message>";
    static const char ws[] = " ";
    int i;

    (void) state;
    before = xml_in_use;
    for (i = 0; i < N; i++) {
        rec_new(&r[i], 4096, 16, 16);
        assert_int_equal(ember__xml_feed(r[i].x, HDR, strlen(HDR)), 0);
        assert_int_equal(ember__xml_feed(r[i].x, stanza, strlen(stanza)), 0);
    }
    busy = xml_in_use - before;
    for (i = 0; i < N; i++) {
        /* A whitespace keepalive left buffered does not prevent it. */
        assert_int_equal(ember__xml_feed(r[i].x, ws, 1), 0);
        ember__xml_idle(r[i].x);
    }
    idle = xml_in_use - before;
    print_message("libxml2 bytes for %d parsers: busy %zu, idle %zu\n", N,
                  busy, idle);
    /* At most the pool (64 contexts) stays allocated. */
    assert_true(idle < busy / 2);
    for (i = 0; i < N; i++) {
        assert_int_equal(ember__xml_feed(r[i].x, stanza, strlen(stanza)), 0);
        assert_int_equal(r[i].stanzas, 2);
        assert_int_equal(r[i].opens, 1);
        assert_int_equal(r[i].errors, 0);
        rec_free(&r[i]);
    }
    free(r);
}


static void
expect_error(const char *doc, const char *cond, size_t max, int depth,
             int attrs)
{
    rec_t r;
    size_t step;

    /* One feed, and byte by byte: the same condition either way. */
    for (step = 0; step < 2; step++) {
        rec_new(&r, max, depth, attrs);
        if (step == 0)
            assert_true(ember__xml_feed(r.x, doc, strlen(doc)) < 0);
        else
            feed_split(&r, doc, strlen(doc), 1, 1);
        if (r.errors != 1 || strcmp(r.cond, cond) != 0)
            fail_msg("%s: expected %s, got %d errors (%s); log:\n%s", doc,
                     cond, r.errors, r.cond, r.log.data ? r.log.data : "");
        /* Nothing after the error, and the parser stays dead. */
        assert_null(strstr(strstr(r.log.data, "error "), "\n<"));
        assert_int_equal(ember__xml_feed(r.x, "<a/>", 4), EMBER_ESTATE);
        assert_int_equal(r.errors, 1);
        rec_free(&r);
    }
}

#define S ROOT


static void
test_refusals(void **state)
{
    (void) state;
    expect_error("<!DOCTYPE stream>" S, "restricted-xml", 4096, 16, 16);
    expect_error("<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]>" S,
                 "restricted-xml", 4096, 16, 16);
    expect_error("<!DOCTYPE x SYSTEM 'http://example.com/x.dtd'>" S,
                 "restricted-xml", 4096, 16, 16);
    expect_error(S "<message>&foo;</message>", "restricted-xml", 4096, 16,
                 16);
    expect_error(S "<message a='&foo;'/>", "restricted-xml", 4096, 16, 16);
    expect_error(S "<message><body>x&ent;y</body></message>",
                 "restricted-xml", 4096, 16, 16);
    expect_error(S "<!-- hi --><message/>", "restricted-xml", 4096, 16, 16);
    expect_error(S "<message><!-- hi --></message>", "restricted-xml", 4096,
                 16, 16);
    expect_error(S "<?pi data?>", "restricted-xml", 4096, 16, 16);
    expect_error("<?pi data?>" S, "restricted-xml", 4096, 16, 16);
    expect_error(S "<message></presence>", "not-well-formed", 4096, 16, 16);
    expect_error(S "<message a='1' a='2'/>", "not-well-formed", 4096, 16,
                 16);
    expect_error(S "<p:message/>", "not-well-formed", 4096, 16, 16);
    expect_error(S "<message>\x01</message>", "not-well-formed", 4096, 16,
                 16);
    expect_error(S "<message>\xff\xfe</message>", "not-well-formed", 4096,
                 16, 16);
    expect_error(S "</stream:stream><message/>", "not-well-formed", 4096,
                 16, 16);
    expect_error("<?xml version='1.0' encoding='ISO-8859-1'?>" S "<a/>",
                 "unsupported-encoding", 4096, 16, 16);
    expect_error("<?xml version='1.0' encoding='x-nonsense'?>" S,
                 "unsupported-encoding", 4096, 16, 16);
    /* Depth: the root is 0, a stanza 1, its child 2. */
    expect_error(S "<a><b><c/></b></a>", "policy-violation", 4096, 2, 16);
    expect_error(S "<a x='1' y='2' z='3'/>", "policy-violation", 4096, 16,
                 2);
    expect_error(S "<a xmlns:p='urn:p' p:x='1' y='2'/>", "policy-violation",
                 4096, 16, 2);
    expect_error(S "<a>0123456789012345678901234567890123456789</a>",
                 "policy-violation", 40, 16, 16);
}


static void
test_utf16_refused(void **state)
{
    /* "<s xmlns='j'>" in UTF-16LE with a byte order mark. */
    static const char doc[] = "\xff\xfe<\0s\0 \0x\0m\0l\0n\0s\0=\0'\0j\0'\0"
                              ">\0<\0a\0/\0>\0";
    rec_t r;

    static const char bom8[] = "\xef\xbb\xbf" HDR "<a/>";
    int i;

    (void) state;
    /* Twice: with a new context, then with one from the pool. */
    for (i = 0; i < 2; i++) {
        rec_new(&r, 4096, 16, 16);
        assert_true(ember__xml_feed(r.x, doc, sizeof(doc) - 1) < 0);
        assert_int_equal(r.errors, 1);
        assert_string_equal(r.cond, "unsupported-encoding");
        assert_int_equal(r.opens, 0);
        rec_free(&r);
        /* A UTF-8 byte order mark is accepted. */
        rec_new(&r, 4096, 16, 16);
        feed_split(&r, bom8, strlen(bom8), 1 + (size_t) i, i);
        assert_int_equal(r.errors, 0);
        assert_int_equal(r.stanzas, 1);
        rec_free(&r);
    }
}


static void
test_limits_exact(void **state)
{
    char doc[1024], st[128];
    rec_t r;
    size_t step;

    (void) state;
    /* A stanza of exactly the limit passes, one byte more fails. */
    memset(st, 'x', 100);
    memcpy(st, "<m>", 3);
    memcpy(st + 96, "</m>", 5);
    assert_int_equal(strlen(st), 100);
    /* The header counts against the limit too: keep it short. */
    snprintf(doc, sizeof(doc), "%s%s  \n%s%s",
             "<stream:stream xmlns='jabber:client' "
             "xmlns:stream='http://etherx.jabber.org/streams'>", st, st, st);
    for (step = 1; step < 200; step += 13) {
        rec_new(&r, 100, 16, 16);
        feed_split(&r, doc, strlen(doc), step, step % 2);
        assert_int_equal(r.errors, 0);
        assert_int_equal(r.stanzas, 3);
        rec_free(&r);
        rec_new(&r, 99, 16, 16);
        feed_split(&r, doc, strlen(doc), step, step % 2);
        assert_int_equal(r.errors, 1);
        assert_string_equal(r.cond, "policy-violation");
        assert_int_equal(r.stanzas, 0);
        rec_free(&r);
    }
    /* Limits apply to the header too. */
    rec_new(&r, 50, 16, 16);
    assert_true(ember__xml_feed(r.x, HDR, strlen(HDR)) < 0);
    assert_string_equal(r.cond, "policy-violation");
    rec_free(&r);
}


/*
 * The header comes before authentication: it is refused past 4 KiB or
 * max_attributes, whatever the stanza size limit, and before libxml2
 * has buffered more of it.
 */
static void
test_header_caps(void **state)
{
    ember_buf_t doc = { NULL, 0, 0 };
    rec_t r;
    int i;

    (void) state;
    ember__buf_puts(&doc, "<stream:stream xmlns='jabber:client' "
                    "xmlns:stream='http://etherx.jabber.org/streams'");
    for (i = 0; i < 15; i++)
        ember__buf_printf(&doc, " xmlns:p%d='urn:x'", i);
    ember__buf_puts(&doc, ">");
    rec_new(&r, 1 << 20, 16, 16);
    assert_true(ember__xml_feed(r.x, doc.data, doc.len) < 0);
    assert_string_equal(r.cond, "policy-violation");
    assert_int_equal(r.opens, 0);
    rec_free(&r);
    ember__buf_reset(&doc);

    ember__buf_puts(&doc, "<stream:stream xmlns='jabber:client' "
                    "xmlns:stream='http://etherx.jabber.org/streams' a='");
    for (i = 0; i < 4100; i++)
        ember__buf_puts(&doc, "x");
    rec_new(&r, 1 << 20, 16, 16);
    assert_true(ember__xml_feed(r.x, doc.data, doc.len) < 0);
    assert_string_equal(r.cond, "policy-violation");
    rec_free(&r);
    ember__buf_free(&doc);
}


/* An open stanza over the limit fails at once, without being buffered. */
static void
test_oversized_not_buffered(void **state)
{
    enum { BIG = 8 * 1024 * 1024 };
    char *big = malloc(BIG);
    size_t peak;
    rec_t r;

    (void) state;
    memset(big, 'x', BIG);
    memcpy(big, "<m>", 3);
    rec_new(&r, 4096, 16, 16);
    assert_int_equal(ember__xml_feed(r.x, HDR, strlen(HDR)), 0);
    xml_peak = xml_in_use;
    peak = xml_in_use;
    assert_int_equal(ember__xml_feed(r.x, big, BIG), EMBER_ELIMIT);
    assert_string_equal(r.cond, "policy-violation");
    print_message("libxml2 peak growth for an 8 MiB stanza: %zu bytes\n",
                  xml_peak - peak);
    assert_true(xml_peak - peak < 64 * 1024);
    rec_free(&r);
    free(big);
}


/* The classic billion laughs: refused at the DOCTYPE, nothing expands. */
static void
test_billion_laughs(void **state)
{
    char doc[2048], *p;
    int i, k;
    rec_t r;
    size_t peak, step;

    (void) state;
    p = doc + sprintf(doc, "<?xml version='1.0'?>\n<!DOCTYPE lolz [\n"
                           " <!ENTITY lol \"lol\">\n");
    for (i = 1; i <= 9; i++) {
        p += sprintf(p, " <!ENTITY lol%d \"", i);
        for (k = 0; k < 10; k++)
            p += i == 1 ? sprintf(p, "&lol;") : sprintf(p, "&lol%d;", i - 1);
        p += sprintf(p, "\">\n");
    }
    sprintf(p, "]>\n<stream:stream xmlns='jabber:client' xmlns:stream="
               "'http://etherx.jabber.org/streams'><message><body>&lol9;"
               "</body></message>");
    for (step = 1; step <= strlen(doc); step *= 7) {
        rec_new(&r, 1 << 20, 16, 16);
        peak = xml_in_use;
        xml_peak = xml_in_use;
        feed_split(&r, doc, strlen(doc), step, 0);
        assert_int_equal(r.errors, 1);
        assert_string_equal(r.cond, "restricted-xml");
        assert_int_equal(r.opens, 0);
        assert_int_equal(r.stanzas, 0);
        assert_true(xml_peak - peak < 64 * 1024);
        rec_free(&r);
    }
    /* Without a DTD the reference itself is refused. */
    rec_new(&r, 1 << 20, 16, 16);
    feed_split(&r, strstr(doc, "<stream:"), strlen(strstr(doc, "<stream:")),
               1000, 0);
    assert_string_equal(r.cond, "restricted-xml");
    assert_int_equal(r.stanzas, 0);
    rec_free(&r);
}


static void
test_restart(void **state)
{
    rec_t r;
    static const char part1[] =
        HDR "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
        "<message>dropped</message>";
    static const char part2[] =
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
        "xmlns:stream='http://etherx.jabber.org/streams' to='b'>"
        "<message>after</message>";

    (void) state;
    rec_new(&r, 4096, 16, 16);
    r.restart_on = "starttls";
    assert_int_equal(ember__xml_feed(r.x, part1, strlen(part1)), 0);
    assert_int_equal(r.stanzas, 1);
    assert_null(strstr(r.log.data, "dropped"));
    assert_int_equal(ember__xml_feed(r.x, part2, strlen(part2)), 0);
    assert_int_equal(r.opens, 2);
    assert_int_equal(r.stanzas, 2);
    assert_non_null(strstr(r.log.data, "<message>after</message>"));
    assert_int_equal(r.errors, 0);

    /* From outside a callback, and after an error. */
    ember__xml_restart(r.x);
    assert_int_equal(ember__xml_feed(r.x, "garbage<", 8), EMBER_EPROTO);
    assert_int_equal(r.errors, 1);
    ember__xml_restart(r.x);
    assert_int_equal(ember__xml_feed(r.x, part2, strlen(part2)), 0);
    assert_int_equal(r.opens, 3);
    assert_int_equal(r.stanzas, 3);
    rec_free(&r);

    /* Restart while the context sits in the pool. */
    rec_new(&r, 4096, 16, 16);
    assert_int_equal(ember__xml_feed(r.x, HDR, strlen(HDR)), 0);
    ember__xml_idle(r.x);
    ember__xml_restart(r.x);
    assert_int_equal(ember__xml_feed(r.x, part2, strlen(part2)), 0);
    assert_int_equal(r.opens, 2);
    assert_int_equal(r.stanzas, 1);
    rec_free(&r);
}


static void
test_stop(void **state)
{
    rec_t r;
    static const char doc[] = HDR "<a/><b/><c/>";

    (void) state;
    rec_new(&r, 4096, 16, 16);
    r.stop_on = "b";
    assert_int_equal(ember__xml_feed(r.x, doc, strlen(doc)), 0);
    assert_int_equal(r.stanzas, 2);
    assert_int_equal(ember__xml_feed(r.x, "<d/>", 4), EMBER_ESTATE);
    assert_int_equal(r.stanzas, 2);
    rec_free(&r);
}


static void
test_parse_element(void **state)
{
    ember_stanza_t *st;
    ember_xml_limits_t lim = { 64, 3, 4 };
    static const char *const bad[] = {
        "", "<a>", "<a></b>", "<a/><b/>", "<a/>trailing", "text",
        "<!DOCTYPE a><a/>", "<a>&x;</a>", "<a><!--c--></a>", "<?p?><a/>",
        "<a xmlns:p='u'><q:b/></a>",
    };
    size_t i;
    const char *s;
    char *o;

    (void) state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if ((st = ember__stanza_parse(bad[i], strlen(bad[i]))) != NULL)
            fail_msg("parsed: %s", bad[i]);
    s = "<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>";
    st = ember__stanza_parse(s, strlen(s));
    assert_non_null(st);
    /* No namespace in scope: it inherits the stream's when written. */
    assert_null(ember__stanza_xmlns(st));
    o = ember__stanza_serialize(st, NULL);
    assert_string_equal(o, "<iq type=\"get\"><ping xmlns=\"urn:xmpp:ping\"/>"
                           "</iq>");
    free(o);
    ember__stanza_free(st);
    s = "<?xml version='1.0'?>\n<a xmlns='u'>x</a>";
    st = ember__stanza_parse(s, strlen(s));
    assert_non_null(st);
    assert_string_equal(ember__stanza_text(st), "x");
    ember__stanza_free(st);
    assert_null(ember__xml_parse_element("<a><b><c><d/></c></b></a>", 25,
                                         &lim));
    assert_null(ember__xml_parse_element("<a b='' c='' d='' e='' f=''/>",
                                         29, &lim));
    st = ember__xml_parse_element("<a><b><c/></b></a>", 18, &lim);
    assert_non_null(st);
    ember__stanza_free(st);
    o = calloc(1, 100);
    memset(o, 'x', 80);
    memcpy(o, "<a>", 3);
    memcpy(o + 76, "</a>", 4);
    assert_null(ember__xml_parse_element(o, 80, &lim));
    free(o);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_stanza_namespaces),
        cmocka_unit_test(test_feed_boundaries),
        cmocka_unit_test(test_pool_equivalence),
        cmocka_unit_test(test_pool_releases_memory),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_utf16_refused),
        cmocka_unit_test(test_limits_exact),
        cmocka_unit_test(test_header_caps),
        cmocka_unit_test(test_oversized_not_buffered),
        cmocka_unit_test(test_billion_laughs),
        cmocka_unit_test(test_restart),
        cmocka_unit_test(test_stop),
        cmocka_unit_test(test_parse_element),
    };

    xmlMemSetup(count_free, count_malloc, count_realloc, count_strdup);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
