/* libFuzzer target: XEP-0004 data forms and XEP-0059 result sets
 * (core/xmpp/forms.c) read from arbitrary XML, parsed as modules get it
 * (api->stanza_parse: libxml2 without DTDs, entities or network).
 * Checked: form_value and form_values agree with the first <field> of
 * each var, a form rebuilt from what they return and sent through the
 * serializer and parser reads back the same, and rsm_parse either fills
 * every member from well-formed children or leaves them all unset. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ember/errno.h>

#include "xmpp/stanza.h"
#include "xmpp/xmlstream.h"

#define NS_DATA "jabber:x:data"
#define MAX_FIELDS 64
#define MAX_VALUES 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static int
is_data_form(const ember_stanza_t *st)
{
    const char *ns = ember__stanza_xmlns(st);

    return strcmp(ember__stanza_name(st), "x") == 0 && ns != NULL
        && strcmp(ns, NS_DATA) == 0;
}


/* Where XEP-0004 puts the form: the element itself or its first
 * jabber:x:data <x/> child. */
static const ember_stanza_t *
find_form(const ember_stanza_t *st)
{
    const ember_stanza_t *c;

    if (is_data_form(st))
        return st;
    for (c = ember__stanza_first(st); c != NULL; c = ember__stanza_next(c))
        if (is_data_form(c))
            return c;
    return NULL;
}


static const ember_stanza_t *
first_field(const ember_stanza_t *form, const char *var)
{
    const ember_stanza_t *f;
    const char *v;

    for (f = ember__stanza_first(form); f != NULL; f = ember__stanza_next(f)) {
        v = ember__stanza_attr(f, "var");
        if (strcmp(ember__stanza_name(f), "field") == 0 && v != NULL
            && strcmp(v, var) == 0)
            return f;
    }
    return NULL;
}


/* The <value/> texts of field f, in order; how many there are. */
static size_t
field_values(const ember_stanza_t *f, const char **out, size_t max)
{
    const ember_stanza_t *v;
    size_t n = 0;

    for (v = ember__stanza_first(f); v != NULL; v = ember__stanza_next(v)) {
        if (strcmp(ember__stanza_name(v), "value") != 0)
            continue;
        if (n < max)
            out[n] = ember__stanza_text(v);
        n++;
    }
    return n;
}


/* What the accessors say about var in st is what field f holds. */
static void
check_field(const ember_stanza_t *st, const char *var,
            const ember_stanza_t *f)
{
    const char *got[MAX_VALUES], *want[MAX_VALUES], *first;
    size_t n, m, i;

    first = ember__form_value(st, var);
    n = ember__form_values(st, var, got, MAX_VALUES);
    if (f == NULL) {
        if (first != NULL || n != 0)
            abort();
        return;
    }
    m = field_values(f, want, MAX_VALUES);
    if (first == NULL || n != m || ember__form_values(st, var, NULL, 0) != m)
        abort();
    for (i = 0; i < n && i < MAX_VALUES; i++)
        if (got[i] == NULL || want[i] == NULL || strcmp(got[i], want[i]) != 0)
            abort();
    if (strcmp(first, n > 0 ? want[0] : "") != 0)
        abort();
}


/* A form built from what the accessors returned; every field of it must
 * read back the same from `copy` and, once serialized and parsed, from
 * what the parser makes of it. */
static void
rebuild(const ember_stanza_t *st, const ember_stanza_t *form)
{
    static const ember_xml_limits_t roomy = { 64 << 20, 0, 0 };
    const char *vals[MAX_VALUES + 1], *var;
    const ember_stanza_t *f, *title;
    ember_stanza_t *copy, *back;
    size_t n, k = 0, len;
    char *xml;

    title = ember__stanza_child(form, "title", NULL);
    copy = ember__form_new(NULL, ember__stanza_attr(form, "type"),
                           title != NULL ? ember__stanza_text(title) : NULL,
                           NULL);
    if (copy == NULL)
        return;
    for (f = ember__stanza_first(form); f != NULL && k < MAX_FIELDS;
         f = ember__stanza_next(f), k++) {
        if (strcmp(ember__stanza_name(f), "field") != 0
            || (var = ember__stanza_attr(f, "var")) == NULL
            || first_field(form, var) != f)
            continue;
        n = ember__form_values(st, var, vals, MAX_VALUES);
        vals[n < MAX_VALUES ? n : MAX_VALUES] = NULL;
        if (ember__form_add_field(copy, var, ember__stanza_attr(f, "type"),
                                  ember__stanza_attr(f, "label"),
                                  vals) == NULL)
            abort();
    }
    xml = ember__stanza_serialize(copy, &len);
    if (xml == NULL)
        abort();
    /* Escaping may make the text longer than the input was. */
    back = ember__xml_parse_element(xml, len, &roomy);
    if (back == NULL || !is_data_form(back))
        abort();
    for (f = ember__stanza_first(copy); f != NULL; f = ember__stanza_next(f))
        if ((var = ember__stanza_attr(f, "var")) != NULL) {
            check_field(copy, var, first_field(copy, var));
            check_field(back, var, first_field(copy, var));
        }
    if (strcmp(ember__stanza_attr(back, "type"),
               ember__stanza_attr(copy, "type")) != 0)
        abort();
    ember__stanza_free(back);
    free(xml);
    ember__stanza_free(copy);
}


/* A count rsm_parse took: decimal digits only, and that value. */
static void
check_count(const ember_stanza_t *set, const char *name, int v)
{
    const ember_stanza_t *c = ember__stanza_child(set, name, NULL);
    const char *s, *p;

    if (v == -1)
        return;
    if (v < 0 || c == NULL || (s = ember__stanza_text(c)) == NULL || !*s)
        abort();
    for (p = s; *p != '\0'; p++)
        if (*p < '0' || *p > '9')
            abort();
    if (strtol(s, NULL, 10) != v)
        abort();
}


static void
check_rsm(ember_stanza_t *st)
{
    ember_rsm_t r;
    ember_stanza_t *set;
    int rc;

    memset(&r, 0x55, sizeof(r));
    rc = ember__rsm_parse(st, &r);
    if (r.size != sizeof(r))
        abort();
    if (rc != 0) {
        if ((rc != EMBER_ENOENT && rc != EMBER_EINVAL) || r.max != -1
            || r.index != -1 || r.after != NULL || r.before != NULL)
            abort();
        return;
    }
    set = ember__stanza_child(st, "set", "http://jabber.org/protocol/rsm");
    if (set == NULL || (r.after != NULL && r.after[0] == '\0'))
        abort();
    check_count(set, "max", r.max);
    check_count(set, "index", r.index);
    if (ember__rsm_add(st, r.after, r.before, r.max, r.index) == NULL)
        abort();
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const ember_stanza_t *form, *f;
    ember_stanza_t *st, *added;
    const char *var, *form_type;
    size_t k = 0;

    st = ember__stanza_parse((const char *) data, size);
    if (st == NULL)
        return 0;
    check_field(st, "\x01 no such var", NULL);
    if ((form = find_form(st)) != NULL) {
        for (f = ember__stanza_first(form); f != NULL && k < MAX_FIELDS;
             f = ember__stanza_next(f), k++)
            if (strcmp(ember__stanza_name(f), "field") == 0
                && (var = ember__stanza_attr(f, "var")) != NULL)
                check_field(st, var, first_field(form, var));
        rebuild(st, form);
        /* A FORM_TYPE the form had, given to a new form under the
         * element, is what that one reads back. */
        form_type = ember__form_value(st, "FORM_TYPE");
        if (form_type != NULL) {
            added = ember__form_new(st, "result", NULL, form_type);
            if (added == NULL
                || strcmp(ember__form_value(added, "FORM_TYPE"),
                          form_type) != 0)
                abort();
        }
    }
    check_rsm(st);
    ember__stanza_free(st);
    return 0;
}
