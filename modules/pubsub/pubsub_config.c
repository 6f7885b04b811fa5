/* pubsub_config.c -- node configuration (XEP-0060 section 16.4.3,
 * pubsub#node_config): defaults, validation, forms, publish-options. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pubsub.h"

typedef enum { F_TEXT, F_BOOL, F_LIST, F_MULTI, F_MAX, F_UINT } ftype_t;

typedef struct {
    const char *var;
    ftype_t type;
    const char *label;
    const char *const *options;
    const char *def_pubsub, *def_pep;
} field_t;

static const char *const access_models[] = {
    "open", "presence", "roster", "whitelist", "authorize", NULL
};
static const char *const publish_models[] = {
    "publishers", "subscribers", "open", NULL
};
static const char *const send_last[] = {
    "never", "on_sub", "on_sub_and_presence", NULL
};
static const char *const notif_types[] = { "normal", "headline", NULL };

static const field_t fields[] = {
    { "pubsub#title", F_TEXT, "A friendly name for the node", NULL, "", "" },
    { "pubsub#description", F_TEXT, "A description of the node", NULL, "",
      "" },
    { "pubsub#type", F_TEXT, "The type of node data (a namespace)", NULL, "",
      "" },
    { "pubsub#access_model", F_LIST, "Who may subscribe and retrieve items",
      access_models, "open", "presence" },
    { "pubsub#publish_model", F_LIST, "Who may publish items",
      publish_models, "publishers", "publishers" },
    { "pubsub#persist_items", F_BOOL, "Persist items to storage", NULL, "1",
      "1" },
    { "pubsub#max_items", F_MAX, "Max number of items to persist ('max' for "
      "no limit)", NULL, NULL, NULL },
    { "pubsub#item_expire", F_UINT, "Seconds after which items expire (0: "
      "never)", NULL, "0", "0" },
    { "pubsub#deliver_notifications", F_BOOL, "Deliver event notifications",
      NULL, "1", "1" },
    { "pubsub#deliver_payloads", F_BOOL, "Deliver payloads with event "
      "notifications", NULL, "1", "1" },
    { "pubsub#notify_retract", F_BOOL, "Notify subscribers when items are "
      "removed", NULL, "1", "1" },
    { "pubsub#notify_delete", F_BOOL, "Notify subscribers when the node is "
      "deleted", NULL, "1", "1" },
    { "pubsub#notify_config", F_BOOL, "Notify subscribers when the "
      "configuration changes", NULL, "0", "0" },
    { "pubsub#send_last_published_item", F_LIST, "When to send the last "
      "published item", send_last, "on_sub", "on_sub_and_presence" },
    { "pubsub#notification_type", F_LIST, "Message type of notifications",
      notif_types, "headline", "headline" },
    { "pubsub#roster_groups_allowed", F_MULTI, "Roster groups allowed to "
      "subscribe", NULL, NULL, NULL },
    { NULL, 0, NULL, NULL, NULL, NULL }
};


static const field_t *
field_of(const char *var)
{
    const field_t *f;

    for (f = fields; f->var != NULL; f++)
        if (strcmp(f->var, var) == 0)
            return f;
    return NULL;
}


void
ps_config_defaults(ps_ctx_t *c, json_t *config)
{
    const field_t *f;
    char buf[32];

    for (f = fields; f->var != NULL; f++) {
        if (json_object_get(config, f->var) != NULL)
            continue;
        if (f->type == F_MULTI) {
            json_object_set_new(config, f->var, json_array());
        } else if (f->type == F_MAX) {
            snprintf(buf, sizeof(buf), "%d", c->max_items);
            json_object_set_new(config, f->var, json_string(buf));
        } else {
            json_object_set_new(config, f->var,
                                json_string(c->pep ? f->def_pep
                                                   : f->def_pubsub));
        }
    }
}


int
ps_true(const char *v)
{
    return v != NULL && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
}


const char *
ps_config_str(ps_node_t *n, const char *var)
{
    return json_string_value(json_object_get(n->config, var));
}


int
ps_config_bool(ps_node_t *n, const char *var)
{
    return ps_true(ps_config_str(n, var));
}


long
ps_config_max_items(ps_ctx_t *c, ps_node_t *n)
{
    const char *v = ps_config_str(n, "pubsub#max_items");

    if (v == NULL)
        return c->max_items;
    if (strcmp(v, "max") == 0)
        return c->max_items_limit;
    return strtol(v, NULL, 10);
}


/* The normalized value of `v` for field f into out, or -1 when invalid. */
static int
normalize(ps_ctx_t *c, const field_t *f, const char *v, char *out,
          size_t len)
{
    const char *const *o;
    char *end;
    long l;

    switch (f->type) {
    case F_BOOL:
        if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0)
            v = "1";
        else if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0)
            v = "0";
        else
            return -1;
        break;
    case F_LIST:
        for (o = f->options; *o != NULL && strcmp(*o, v) != 0; o++)
            ;
        if (*o == NULL)
            return -1;
        if (!c->pep && strcmp(f->var, "pubsub#access_model") == 0 &&
            (strcmp(v, "presence") == 0 || strcmp(v, "roster") == 0))
            return -1;
        break;
    case F_MAX:
        if (strcmp(v, "max") == 0)
            break;
        /* fall through */
    case F_UINT:
        errno = 0;
        l = strtol(v, &end, 10);
        if (errno != 0 || end == v || *end != '\0' || l < 0 ||
            (f->type == F_MAX && l < 1) ||
            (f->type == F_MAX && c->max_items_limit > 0 &&
             l > c->max_items_limit))
            return -1;
        snprintf(out, len, "%ld", l);
        return 0;
    default:
        break;
    }
    snprintf(out, len, "%s", v);
    return 0;
}


/* A JSON value as a string for normalize(): NULL when not scalar. */
static const char *
json_text(json_t *v, char *buf, size_t len)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_boolean(v))
        return json_is_true(v) ? "1" : "0";
    if (json_is_integer(v)) {
        snprintf(buf, len, "%lld", (long long) json_integer_value(v));
        return buf;
    }
    return NULL;
}


int
ps_config_apply(ps_ctx_t *c, json_t *config, const ember_stanza_t *form,
                json_t *json, const char **bad)
{
    json_t *next = json_deep_copy(config), *v, *arr;
    const ember_stanza_t *fe;
    const field_t *f;
    const char *var, *vals[64];
    char buf[256], nb[64];
    size_t k, i;

    if (next == NULL)
        return EMBER_ENOMEM;
    if (form != NULL)
        for (fe = api->stanza_first(form); fe != NULL;
             fe = api->stanza_next(fe)) {
            if (strcmp(api->stanza_name(fe), "field") != 0 ||
                (var = api->stanza_attr(fe, "var")) == NULL ||
                (f = field_of(var)) == NULL)
                continue;
            k = api->form_values(form, var, vals, 64);
            if (f->type == F_MULTI) {
                arr = json_array();
                for (i = 0; i < k && i < 64; i++)
                    json_array_append_new(arr, json_string(vals[i]));
                json_object_set_new(next, var, arr);
                continue;
            }
            if (k == 0 && (f->type == F_TEXT))
                vals[0] = "", k = 1;
            if (k != 1 || normalize(c, f, vals[0], buf, sizeof(buf)) < 0)
                goto bad;
            json_object_set_new(next, var, json_string(buf));
        }
    if (json != NULL)
        json_object_foreach(json, var, v) {
            const char *s;

            if ((f = field_of(var)) == NULL)
                goto bad;
            if (f->type == F_MULTI) {
                if (!json_is_array(v))
                    goto bad;
                json_object_set(next, var, v);
                continue;
            }
            if ((s = json_text(v, nb, sizeof(nb))) == NULL ||
                normalize(c, f, s, buf, sizeof(buf)) < 0)
                goto bad;
            json_object_set_new(next, var, json_string(buf));
        }
    json_object_update(config, next);
    json_decref(next);
    return 0;
bad:
    *bad = var;
    json_decref(next);
    return EMBER_EINVAL;
}


ember_stanza_t *
ps_config_form(ember_stanza_t *parent, const char *type, json_t *config)
{
    ember_stanza_t *x = api->form_new(parent, type, NULL, PS_NS_NODE_CONFIG);
    const field_t *f;
    static const char *const types[] = {
        "text-single", "boolean", "list-single", "list-multi",
        "text-single", "text-single"
    };

    if (x == NULL)
        return NULL;
    for (f = fields; f->var != NULL; f++) {
        json_t *v = json_object_get(config, f->var);
        const char *vals[65];
        ember_stanza_t *fe;
        size_t i, k = 0;

        if (json_is_array(v)) {
            for (i = 0; i < json_array_size(v) && k < 64; i++)
                vals[k++] = json_string_value(json_array_get(v, i));
        } else if (json_is_string(v)) {
            vals[k++] = json_string_value(v);
        }
        vals[k] = NULL;
        fe = api->form_add_field(x, f->var, strcmp(type, "form") == 0 ?
                                 types[f->type] : NULL,
                                 strcmp(type, "form") == 0 ? f->label : NULL,
                                 vals);
        if (fe != NULL && f->options != NULL && strcmp(type, "form") == 0) {
            const char *const *o;

            for (o = f->options; *o != NULL; o++) {
                ember_stanza_t *opt = api->stanza_add_child(fe, "option",
                                                            NULL);
                ember_stanza_t *val = api->stanza_add_child(opt, "value",
                                                            NULL);

                if (val != NULL)
                    api->stanza_add_text(val, *o);
            }
        }
    }
    return x;
}


int
ps_config_matches(ps_ctx_t *c, ps_node_t *n, const ember_stanza_t *form,
                  const char **bad)
{
    const ember_stanza_t *fe;
    const char *var, *v, *cur;
    const field_t *f;
    char buf[256];

    for (fe = api->stanza_first(form); fe != NULL;
         fe = api->stanza_next(fe)) {
        if (strcmp(api->stanza_name(fe), "field") != 0 ||
            (var = api->stanza_attr(fe, "var")) == NULL ||
            (f = field_of(var)) == NULL || f->type == F_MULTI)
            continue;
        v = api->form_value(form, var);
        cur = ps_config_str(n, var);
        if (v == NULL || normalize(c, f, v, buf, sizeof(buf)) < 0 ||
            cur == NULL || strcmp(buf, cur) != 0) {
            /* "max" asked, the node keeps as many as the service allows */
            if (f->type == F_MAX && v != NULL && strcmp(v, "max") == 0 &&
                cur != NULL && c->max_items_limit > 0 &&
                strtol(cur, NULL, 10) >= c->max_items_limit)
                continue;
            *bad = var;
            return 0;
        }
    }
    return 1;
}


ember_stanza_t *
ps_meta_form(ember_stanza_t *parent, ps_node_t *n)
{
    ember_stanza_t *x = api->form_new(parent, "result", NULL, PS_NS_META);
    const char *owners[64], *pubs[64];
    const char *one[2] = { NULL, NULL };
    size_t no = 0, np = 0;
    const char *jid;
    json_t *v;
    static const char *const copy[] = {
        "pubsub#title", "pubsub#description", "pubsub#type",
        "pubsub#access_model", "pubsub#publish_model", "pubsub#max_items",
        "pubsub#persist_items", NULL
    };
    const char *const *cv;

    if (x == NULL)
        return NULL;
    json_object_foreach(n->aff, jid, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), "owner") == 0
            && no < 63)
            owners[no++] = jid;
        if (json_is_string(v) &&
            strcmp(json_string_value(v), "publisher") == 0 && np < 63)
            pubs[np++] = jid;
    }
    owners[no] = NULL;
    pubs[np] = NULL;
    one[0] = "leaf";
    api->form_add_field(x, "pubsub#node_type", NULL, NULL, one);
    for (cv = copy; *cv != NULL; cv++) {
        one[0] = ps_config_str(n, *cv);
        api->form_add_field(x, *cv, NULL, NULL, one);
    }
    api->form_add_field(x, "pubsub#owner", NULL, NULL, owners);
    api->form_add_field(x, "pubsub#publisher", NULL, NULL, pubs);
    return x;
}
