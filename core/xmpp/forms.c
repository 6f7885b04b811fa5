/* core/forms.c -- XEP-0004 data forms and XEP-0059 result set helpers. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ember/errno.h>

#include "xmpp/stanza.h"

#define NS_DATA "jabber:x:data"
#define NS_RSM "http://jabber.org/protocol/rsm"


ember_stanza_t *
ember__form_new(ember_stanza_t *parent, const char *type, const char *title,
                const char *form_type)
{
    const char *values[2] = { form_type, NULL };
    ember_stanza_t *x, *t;

    if (parent != NULL)
        x = ember__stanza_add_child(parent, "x", NS_DATA);
    else
        x = ember__stanza_new("x", NS_DATA);
    if (x == NULL)
        return NULL;
    if (ember__stanza_set_attr(x, "type", type ? type : "form") < 0)
        goto fail;
    if (title != NULL) {
        if ((t = ember__stanza_add_child(x, "title", NULL)) == NULL
            || ember__stanza_add_text(t, title) < 0)
            goto fail;
    }
    if (form_type != NULL
        && ember__form_add_field(x, "FORM_TYPE", "hidden", NULL,
                                 values) == NULL)
        goto fail;
    return x;

fail:
    /* A child stays in its root's memory; only a new root is freed. */
    if (parent == NULL)
        ember__stanza_free(x);
    else
        ember__stanza_remove(x);
    return NULL;
}


ember_stanza_t *
ember__form_add_field(ember_stanza_t *form, const char *var,
                      const char *type, const char *label,
                      const char *const *values)
{
    ember_stanza_t *f, *v;
    size_t i;

    if (form == NULL)
        return NULL;
    if ((f = ember__stanza_add_child(form, "field", NULL)) == NULL)
        return NULL;
    if ((var != NULL && ember__stanza_set_attr(f, "var", var) < 0)
        || (type != NULL && ember__stanza_set_attr(f, "type", type) < 0)
        || (label != NULL && ember__stanza_set_attr(f, "label", label) < 0))
        goto fail;
    for (i = 0; values != NULL && values[i] != NULL; i++) {
        if ((v = ember__stanza_add_child(f, "value", NULL)) == NULL
            || ember__stanza_add_text(v, values[i]) < 0)
            goto fail;
    }
    return f;

fail:
    ember__stanza_remove(f);
    return NULL;
}


/* The form itself, or the jabber:x:data child of a payload holding one. */
static const ember_stanza_t *
form_of(const ember_stanza_t *st)
{
    const char *ns;

    if (st == NULL)
        return NULL;
    ns = ember__stanza_xmlns(st);
    if (strcmp(ember__stanza_name(st), "x") == 0 && ns != NULL
        && strcmp(ns, NS_DATA) == 0)
        return st;
    return ember__stanza_child(st, "x", NS_DATA);
}


static const ember_stanza_t *
field_of(const ember_stanza_t *form, const char *var)
{
    const ember_stanza_t *f;
    const char *v;

    if (var == NULL || (form = form_of(form)) == NULL)
        return NULL;
    for (f = ember__stanza_first(form); f != NULL;
         f = ember__stanza_next(f)) {
        if (strcmp(ember__stanza_name(f), "field") != 0)
            continue;
        v = ember__stanza_attr(f, "var");
        if (v != NULL && strcmp(v, var) == 0)
            return f;
    }
    return NULL;
}


const char *
ember__form_value(const ember_stanza_t *form, const char *var)
{
    const ember_stanza_t *f = field_of(form, var), *v;

    if (f == NULL)
        return NULL;
    v = ember__stanza_child(f, "value", NULL);
    return v != NULL ? ember__stanza_text(v) : "";
}


size_t
ember__form_values(const ember_stanza_t *form, const char *var,
                   const char **out, size_t max)
{
    const ember_stanza_t *f = field_of(form, var), *v;
    size_t n = 0;

    if (f == NULL)
        return 0;
    for (v = ember__stanza_first(f); v != NULL; v = ember__stanza_next(v)) {
        if (strcmp(ember__stanza_name(v), "value") != 0)
            continue;
        if (out != NULL && n < max)
            out[n] = ember__stanza_text(v);
        n++;
    }
    return n;
}


/* A non-negative decimal int with nothing around it. */
static int
parse_count(const char *s, int *out)
{
    char *end;
    long v;

    if (s == NULL || *s < '0' || *s > '9')
        return EMBER_EINVAL;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0 || v > INT_MAX)
        return EMBER_EINVAL;
    *out = (int) v;
    return 0;
}


int
ember__rsm_parse(const ember_stanza_t *parent, ember_rsm_t *out)
{
    const ember_stanza_t *set, *c;
    const char *name;
    int seen_max = 0, seen_after = 0, seen_before = 0, seen_index = 0;

    if (parent == NULL || out == NULL)
        return EMBER_EINVAL;
    out->size = sizeof(*out);
    out->max = -1;
    out->after = NULL;
    out->before = NULL;
    out->index = -1;
    if ((set = ember__stanza_child(parent, "set", NS_RSM)) == NULL)
        return EMBER_ENOENT;
    for (c = ember__stanza_first(set); c != NULL; c = ember__stanza_next(c)) {
        name = ember__stanza_name(c);
        if (strcmp(name, "max") == 0) {
            if (seen_max++ || parse_count(ember__stanza_text(c),
                                          &out->max) < 0)
                goto invalid;
        } else if (strcmp(name, "after") == 0) {
            out->after = ember__stanza_text(c);
            if (seen_after++ || out->after == NULL || *out->after == '\0')
                goto invalid;
        } else if (strcmp(name, "before") == 0) {
            /* Empty <before/> asks for the last page. */
            out->before = ember__stanza_text(c);
            if (seen_before++ || out->before == NULL)
                goto invalid;
        } else if (strcmp(name, "index") == 0) {
            if (seen_index++ || parse_count(ember__stanza_text(c),
                                            &out->index) < 0)
                goto invalid;
        }
    }
    return 0;

invalid:
    out->max = -1;
    out->after = NULL;
    out->before = NULL;
    out->index = -1;
    return EMBER_EINVAL;
}


ember_stanza_t *
ember__rsm_add(ember_stanza_t *parent, const char *first, const char *last,
               long count, long first_index)
{
    ember_stanza_t *set, *e;
    char num[32];

    if (parent == NULL)
        return NULL;
    if ((set = ember__stanza_add_child(parent, "set", NS_RSM)) == NULL)
        return NULL;
    if (first != NULL) {
        if ((e = ember__stanza_add_child(set, "first", NULL)) == NULL
            || ember__stanza_add_text(e, first) < 0)
            goto fail;
        if (first_index >= 0) {
            snprintf(num, sizeof(num), "%ld", first_index);
            if (ember__stanza_set_attr(e, "index", num) < 0)
                goto fail;
        }
    }
    if (last != NULL) {
        if ((e = ember__stanza_add_child(set, "last", NULL)) == NULL
            || ember__stanza_add_text(e, last) < 0)
            goto fail;
    }
    if (count >= 0) {
        snprintf(num, sizeof(num), "%ld", count);
        if ((e = ember__stanza_add_child(set, "count", NULL)) == NULL
            || ember__stanza_add_text(e, num) < 0)
            goto fail;
    }
    return set;

fail:
    ember__stanza_remove(set);
    return NULL;
}
