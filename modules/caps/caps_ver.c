/* caps_ver.c -- XEP-0115 section 5: verification strings of disco#info
 * answers, and the checks of section 5.4. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include "caps.h"

/* A growable array of owned strings. */
typedef struct {
    char **v;
    size_t n, cap;
} strv_t;

/* One extended-info form (XEP-0128), kept for sorting by FORM_TYPE. */
typedef struct {
    const char *form_type;
    const ember_stanza_t *x;
} form_t;

static const struct {
    const char *name;
    gnutls_digest_algorithm_t algo;
} hashes[] = {
    { "sha-1", GNUTLS_DIG_SHA1 },
    { "sha-224", GNUTLS_DIG_SHA224 },
    { "sha-256", GNUTLS_DIG_SHA256 },
    { "sha-384", GNUTLS_DIG_SHA384 },
    { "sha-512", GNUTLS_DIG_SHA512 },
};


static int
strv_push(strv_t *sv, const char *s)
{
    char **nv;

    if (sv->n == sv->cap) {
        size_t cap = sv->cap ? sv->cap * 2 : 16;

        if ((nv = realloc(sv->v, cap * sizeof(*nv))) == NULL)
            return EMBER_ENOMEM;
        sv->v = nv;
        sv->cap = cap;
    }
    if ((sv->v[sv->n] = strdup(s)) == NULL)
        return EMBER_ENOMEM;
    sv->n++;
    return 0;
}


static void
strv_free(strv_t *sv)
{
    size_t i;

    for (i = 0; i < sv->n; i++)
        free(sv->v[i]);
    free(sv->v);
    sv->v = NULL;
    sv->n = sv->cap = 0;
}


/* "i;octet" collation is byte order: strcmp. */
static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}


static int
cmp_form(const void *a, const void *b)
{
    return strcmp(((const form_t *) a)->form_type,
                  ((const form_t *) b)->form_type);
}


/* Sort; 1 when two entries are equal. */
static int
strv_sort_dups(strv_t *sv)
{
    size_t i;

    if (sv->n > 1)
        qsort(sv->v, sv->n, sizeof(*sv->v), cmp_str);
    for (i = 1; i < sv->n; i++)
        if (strcmp(sv->v[i - 1], sv->v[i]) == 0)
            return 1;
    return 0;
}


/* One part of the string S: the text and '<'. */
static void
sb_add(FILE *s, const char *text)
{
    fputs(text, s);
    fputc('<', s);
}


static gnutls_digest_algorithm_t
hash_algo(const char *hash)
{
    size_t i;

    for (i = 0; hash != NULL && i < sizeof(hashes) / sizeof(*hashes); i++)
        if (strcmp(hashes[i].name, hash) == 0)
            return hashes[i].algo;
    return GNUTLS_DIG_UNKNOWN;
}


int
caps_hash_supported(const char *hash)
{
    return hash_algo(hash) != GNUTLS_DIG_UNKNOWN;
}


/* Base64 of the digest of S (malloc'ed), NULL on failure. */
static char *
digest_b64(const char *hash, const char *s, size_t len)
{
    gnutls_digest_algorithm_t algo = hash_algo(hash);
    unsigned char md[64];
    gnutls_datum_t in, out = { NULL, 0 };
    char *ver = NULL;

    if (algo == GNUTLS_DIG_UNKNOWN || gnutls_hash_get_len(algo) >
                                          sizeof(md) ||
        gnutls_hash_fast(algo, s, len, md) < 0)
        return NULL;
    in.data = md;
    in.size = gnutls_hash_get_len(algo);
    if (gnutls_base64_encode2(&in, &out) < 0)
        return NULL;
    if ((ver = malloc(out.size + 1)) != NULL) {
        memcpy(ver, out.data, out.size);
        ver[out.size] = '\0';
    }
    gnutls_free(out.data);
    return ver;
}


static int
is(const ember_stanza_t *el, const char *name, const char *ns)
{
    const char *x = api->stanza_xmlns(el);

    return strcmp(api->stanza_name(el), name) == 0 && x != NULL &&
           strcmp(x, ns) == 0;
}


/* The FORM_TYPE field of a form, or NULL. */
static const ember_stanza_t *
form_type_field(const ember_stanza_t *x)
{
    const ember_stanza_t *f;
    const char *var;

    for (f = api->stanza_first(x); f != NULL; f = api->stanza_next(f))
        if (is(f, "field", NS_XDATA) &&
            (var = api->stanza_attr(f, "var")) != NULL &&
            strcmp(var, "FORM_TYPE") == 0)
            return f;
    return NULL;
}


/*
 * The FORM_TYPE of a form, "" when it has no value; NULL (ill-formed)
 * when it has values that differ.
 */
static const char *
form_type_value(const ember_stanza_t *field)
{
    const ember_stanza_t *v;
    const char *ft = NULL;

    for (v = api->stanza_first(field); v != NULL; v = api->stanza_next(v)) {
        if (!is(v, "value", NS_XDATA))
            continue;
        if (ft != NULL && strcmp(ft, api->stanza_text(v)) != 0)
            return NULL;
        ft = api->stanza_text(v);
    }
    return ft != NULL ? ft : "";
}


/* Append one form: FORM_TYPE, then each other field by var with its
 * sorted values. */
static int
add_form(FILE *s, const form_t *form)
{
    const ember_stanza_t *f, *v;
    strv_t vars = { 0 }, vals = { 0 };
    const char *var;
    size_t i, j;
    int err = 0;

    sb_add(s, form->form_type);
    for (f = api->stanza_first(form->x); f != NULL; f = api->stanza_next(f)) {
        if (!is(f, "field", NS_XDATA))
            continue;
        var = api->stanza_attr(f, "var");
        if (var != NULL && strcmp(var, "FORM_TYPE") == 0)
            continue;
        if ((err = strv_push(&vars, var != NULL ? var : "")) < 0)
            goto done;
    }
    if (vars.n > 1)
        qsort(vars.v, vars.n, sizeof(*vars.v), cmp_str);
    for (i = 0; i < vars.n; i++) {
        /* Equal vars are taken once each, in document order of fields. */
        if (i > 0 && strcmp(vars.v[i - 1], vars.v[i]) == 0)
            continue;
        for (f = api->stanza_first(form->x); f != NULL;
             f = api->stanza_next(f)) {
            var = api->stanza_attr(f, "var");
            if (!is(f, "field", NS_XDATA) ||
                strcmp(var != NULL ? var : "", vars.v[i]) != 0)
                continue;
            sb_add(s, vars.v[i]);
            for (v = api->stanza_first(f); v != NULL; v = api->stanza_next(v))
                if (is(v, "value", NS_XDATA) &&
                    (err = strv_push(&vals, api->stanza_text(v))) < 0)
                    goto done;
            if (vals.n > 1)
                qsort(vals.v, vals.n, sizeof(*vals.v), cmp_str);
            for (j = 0; j < vals.n; j++)
                sb_add(s, vals.v[j]);
            strv_free(&vals);
        }
    }
done:
    strv_free(&vars);
    strv_free(&vals);
    return err;
}


/* Forms with a hidden FORM_TYPE, in FORM_TYPE order (section 5.4). */
static int
add_forms(const ember_stanza_t *query, FILE *s)
{
    const ember_stanza_t *x, *ftf;
    form_t *forms = NULL, *nf;
    size_t n = 0, i;
    const char *ft, *type;
    int err = 0;

    for (x = api->stanza_first(query); x != NULL; x = api->stanza_next(x)) {
        if (!is(x, "x", NS_XDATA) ||
            (ftf = form_type_field(x)) == NULL)
            continue;
        if ((ft = form_type_value(ftf)) == NULL) {
            err = EMBER_EPROTO;
            goto done;
        }
        type = api->stanza_attr(ftf, "type");
        if (type == NULL || strcmp(type, "hidden") != 0)
            continue;
        if ((nf = realloc(forms, (n + 1) * sizeof(*forms))) == NULL) {
            err = EMBER_ENOMEM;
            goto done;
        }
        forms = nf;
        forms[n].form_type = ft;
        forms[n++].x = x;
    }
    if (n > 1)
        qsort(forms, n, sizeof(*forms), cmp_form);
    for (i = 0; i < n; i++) {
        if (i > 0 && strcmp(forms[i - 1].form_type, forms[i].form_type) == 0) {
            err = EMBER_EPROTO;
            goto done;
        }
        if ((err = add_form(s, &forms[i])) < 0)
            goto done;
    }
done:
    free(forms);
    return err;
}


int
caps_read_info(const ember_stanza_t *query, const char *hash, char **ver,
               json_t **entry)
{
    const ember_stanza_t *el;
    strv_t ids = { 0 }, feats = { 0 };
    char *sd = NULL, *id = NULL;
    size_t i, slen = 0;
    FILE *s = open_memstream(&sd, &slen);
    json_t *jids = json_array(), *jfeats = json_array(), *e = NULL;
    const char *cat, *type, *lang, *name, *var;
    int err = 0;

    *ver = NULL;
    *entry = NULL;
    if (s == NULL || jids == NULL || jfeats == NULL) {
        err = EMBER_ENOMEM;
        goto done;
    }
    for (el = api->stanza_first(query); el != NULL;
         el = api->stanza_next(el)) {
        if (is(el, "identity", NS_DISCO_INFO)) {
            cat = api->stanza_attr(el, "category");
            type = api->stanza_attr(el, "type");
            lang = api->stanza_attr(el, "xml:lang");
            name = api->stanza_attr(el, "name");
            if (cat == NULL || type == NULL) {
                err = EMBER_EPROTO;
                goto done;
            }
            lang = lang != NULL ? lang : "";
            name = name != NULL ? name : "";
            if (asprintf(&id, "%s/%s/%s/%s", cat, type, lang, name) < 0) {
                id = NULL;
                err = EMBER_ENOMEM;
                goto done;
            }
            if ((err = strv_push(&ids, id)) < 0 ||
                json_array_append_new(jids, json_pack("[ssss]", cat, type,
                                                      lang, name)) < 0) {
                err = err < 0 ? err : EMBER_EPROTO;
                goto done;
            }
            free(id);
            id = NULL;
        } else if (is(el, "feature", NS_DISCO_INFO)) {
            if ((var = api->stanza_attr(el, "var")) == NULL) {
                err = EMBER_EPROTO;
                goto done;
            }
            if ((err = strv_push(&feats, var)) < 0)
                goto done;
        }
    }
    if (strv_sort_dups(&ids) || strv_sort_dups(&feats)) {
        err = EMBER_EPROTO;
        goto done;
    }
    for (i = 0; i < ids.n; i++)
        sb_add(s, ids.v[i]);
    for (i = 0; i < feats.n; i++) {
        sb_add(s, feats.v[i]);
        if (json_array_append_new(jfeats, json_string(feats.v[i])) < 0) {
            err = EMBER_EPROTO;
            goto done;
        }
    }
    if ((err = add_forms(query, s)) < 0)
        goto done;
    err = fclose(s);
    s = NULL;
    if (err != 0) {
        err = EMBER_ENOMEM;
        goto done;
    }
    if (caps_hash_supported(hash) &&
        (*ver = digest_b64(hash, sd, slen)) == NULL) {
        err = EMBER_ENOMEM;
        goto done;
    }
    if ((e = json_pack("{s:O, s:O}", "identities", jids, "features",
                       jfeats)) == NULL) {
        free(*ver);
        *ver = NULL;
        err = EMBER_ENOMEM;
        goto done;
    }
    *entry = e;
done:
    free(id);
    if (s != NULL)
        fclose(s);
    free(sd);
    strv_free(&ids);
    strv_free(&feats);
    json_decref(jids);
    json_decref(jfeats);
    return err;
}


/* ---- the host's own caps ---- */

typedef struct {
    ember_stanza_t *query;
    json_t *seen;   /* identity and feature keys met so far */
    int err;
} host_walk_t;


static int
seen_before(host_walk_t *w, const char *key)
{
    if (json_object_get(w->seen, key) != NULL)
        return 1;
    if (json_object_set(w->seen, key, json_true()) < 0)
        w->err = EMBER_ENOMEM;
    return 0;
}


static void
host_identity(const char *cat, const char *type, const char *name, void *ud)
{
    host_walk_t *w = ud;
    ember_stanza_t *i;
    char key[1024];

    /* category/type/lang is what makes an identity distinct. */
    snprintf(key, sizeof(key), "i %s/%s", cat, type);
    if (w->err || seen_before(w, key))
        return;
    if ((i = api->stanza_add_child(w->query, "identity", NULL)) == NULL) {
        w->err = EMBER_ENOMEM;
        return;
    }
    api->stanza_set_attr(i, "category", cat);
    api->stanza_set_attr(i, "type", type);
    if (name != NULL)
        api->stanza_set_attr(i, "name", name);
}


static void
host_feature(const char *var, const char *b, const char *c, void *ud)
{
    host_walk_t *w = ud;
    ember_stanza_t *f;
    char key[1024];

    snprintf(key, sizeof(key), "f %s", var);
    if (w->err || seen_before(w, key))
        return;
    if ((f = api->stanza_add_child(w->query, "feature", NULL)) == NULL) {
        w->err = EMBER_ENOMEM;
        return;
    }
    api->stanza_set_attr(f, "var", var);
}


/* XEP-0128 forms (XEP-0157 addresses ...) are part of the hash too. */
static void
host_form(const char *xml, const char *form_type, const char *c, void *ud)
{
    host_walk_t *w = ud;
    ember_stanza_t *x;

    if (w->err)
        return;
    if ((x = api->stanza_parse(xml, strlen(xml))) == NULL ||
        api->stanza_append(w->query, x) < 0)
        w->err = EMBER_ENOMEM;
    api->stanza_free(x);
}


int
caps_host_info(ember_module_t *m, ember_stanza_t **query, char **ver)
{
    host_walk_t w = { NULL, json_object(), 0 };
    json_t *entry = NULL;
    int err;

    *query = NULL;
    *ver = NULL;
    if (w.seen == NULL ||
        (w.query = api->stanza_new("query", NS_DISCO_INFO)) == NULL) {
        json_decref(w.seen);
        return EMBER_ENOMEM;
    }
    api->disco_foreach(m, 'i', host_identity, &w);
    api->disco_foreach(m, 'f', host_feature, &w);
    if (EMBER_API_HAS(api, disco_add_form))
        api->disco_foreach(m, 'x', host_form, &w);
    json_decref(w.seen);
    if ((err = w.err) < 0 ||
        (err = caps_read_info(w.query, "sha-1", ver, &entry)) < 0) {
        api->stanza_free(w.query);
        return err;
    }
    json_decref(entry);
    *query = w.query;
    return 0;
}
