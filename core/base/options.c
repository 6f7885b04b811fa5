/* core/base/options.c -- module options from <module> attributes, and the
 * value syntax the whole config shares (integers, durations, booleans,
 * paths). */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/options.h"

/*
 * EMBER_OPT_PATH options are relative to the data directory, but
 * ember__options_apply() is not given the config: ember__config_load()
 * records the data directory of the last config it loaded successfully
 * (a private copy, replaced by the next), and options resolve against it.
 */
static char *current_data_dir;


/* An absolute copy of p, relative ones taken from base. */
char *
ember__path_abs(const char *base, const char *p)
{
    char *out;

    if (p[0] == '/' || base == NULL)
        return strdup(p);
    if (asprintf(&out, "%s%s%s", base, strcmp(base, "/") ? "/" : "", p) < 0)
        return NULL;
    return out;
}


/* Whole-string decimal integer; 0 or -1. */
int
ember__parse_int(const char *s, long long *out)
{
    char *end;

    if (*s == '\0' || (*s != '-' && (*s < '0' || *s > '9')))
        return -1;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return errno != 0 || *end != '\0' ? -1 : 0;
}


/* "90", "90s", "15m", "2h", "1d" -> seconds; 0 or -1. */
int
ember__parse_duration(const char *s, long long *out)
{
    static const char units[] = "smhd";
    static const long long mult[] = { 1, 60, 3600, 86400 };
    char buf[32];
    size_t len = strlen(s);
    const char *u;
    long long v;

    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len + 1);
    u = strchr(units, buf[len - 1]);
    if (u != NULL && *u != '\0')
        buf[--len] = '\0';
    if (buf[0] < '0' || buf[0] > '9' || ember__parse_int(buf, &v) < 0)
        return -1;
    if (u != NULL && *u != '\0') {
        if (v > LLONG_MAX / mult[u - units])
            return -1;
        v *= mult[u - units];
    }
    *out = v;
    return 0;
}


int
ember__parse_bool(const char *s)
{
    if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcmp(s, "1"))
        return 1;
    if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcmp(s, "0"))
        return 0;
    return -1;
}


void
ember__config_use_data_dir(const char *dir)
{
    char *copy;

    if (dir != NULL && (copy = strdup(dir)) != NULL) {
        free(current_data_dir);
        current_data_dir = copy;
    }
}


int
ember__verror_at(char *err, size_t errlen, const char *file, long line,
                 const char *fmt, va_list ap)
{
    int n;

    if (errlen == 0)
        return EMBER_EINVAL;
    n = snprintf(err, errlen, "%s:%ld: ", file, line);
    if (n >= 0 && (size_t) n < errlen)
        vsnprintf(err + n, errlen - (size_t) n, fmt, ap);
    return EMBER_EINVAL;
}


static int
opt_fail(const char *file, long line, char *err, size_t errlen,
         const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    ember__verror_at(err, errlen, file, line, fmt, ap);
    va_end(ap);
    return EMBER_EINVAL;
}


const char *
ember__xml_attr(xmlNodePtr node, const char *name)
{
    xmlAttrPtr a = xmlHasNsProp(node, (const xmlChar *) name, NULL);

    if (a == NULL)
        return NULL;
    if (a->children == NULL || a->children->type != XML_TEXT_NODE)
        return "";
    return (const char *) a->children->content;
}


/* One option's value v into its field; a reason in why on error. */
static int
opt_set(const ember_option_t *o, void *conf, const char *v, char *why,
        size_t whylen)
{
    char *field = (char *) conf + o->offset, *s;
    long long x, lo = o->min, hi = o->max;
    int b;

    /* min = max = 0 declares no range beyond the field's own. */
    if (lo == 0 && hi == 0) {
        lo = o->type == EMBER_OPT_INT ? INT_MIN : 0;
        hi = INT_MAX;
    }
    switch (o->type) {
    case EMBER_OPT_INT:
    case EMBER_OPT_DURATION:
        if ((o->type == EMBER_OPT_INT ? ember__parse_int(v, &x)
                                      : ember__parse_duration(v, &x)) < 0) {
            snprintf(why, whylen, o->type == EMBER_OPT_INT
                     ? "'%s' is not an integer" : "'%s' is not a duration "
                     "(90, 90s, 15m, 2h, 1d)", v);
            return EMBER_EINVAL;
        }
        if (x < lo || x > hi || x < INT_MIN || x > INT_MAX) {
            snprintf(why, whylen, "%s out of range %lld..%lld", v,
                     lo < INT_MIN ? INT_MIN : lo, hi > INT_MAX ? INT_MAX : hi);
            return EMBER_EINVAL;
        }
        *(int *) (void *) field = (int) x;
        return 0;
    case EMBER_OPT_BOOL:
        if ((b = ember__parse_bool(v)) < 0) {
            snprintf(why, whylen, "'%s' is not a boolean (true, false, yes, "
                     "no, 1, 0)", v);
            return EMBER_EINVAL;
        }
        *(int *) (void *) field = b;
        return 0;
    case EMBER_OPT_STRING:
    case EMBER_OPT_GUARDED:
    case EMBER_OPT_PATH:
        if (o->max > 0 && strlen(v) > (size_t) o->max) {
            snprintf(why, whylen, "longer than %lld characters", o->max);
            return EMBER_EINVAL;
        }
        if (o->type == EMBER_OPT_PATH && *v == '\0') {
            snprintf(why, whylen, "empty path");
            return EMBER_EINVAL;
        }
        s = o->type != EMBER_OPT_PATH ? strdup(v)
                                      : ember__path_abs(current_data_dir, v);
        if (s == NULL) {
            snprintf(why, whylen, "out of memory");
            return EMBER_ENOMEM;
        }
        free(*(char **) (void *) field);
        *(char **) (void *) field = s;
        return 0;
    }
    snprintf(why, whylen, "unknown option type %d", (int) o->type);
    return EMBER_EINVAL;
}


int
ember__options_apply(const ember_option_t *opts, void *conf,
                     xmlNodePtr node, const char *file, char *err,
                     size_t errlen)
{
    const ember_option_t *o;
    const char *mod = node != NULL ? ember__xml_attr(node, "name") : NULL;
    const char *v;
    long line = node != NULL ? xmlGetLineNo(node) : 0;
    char why[512];
    xmlAttrPtr a;
    size_t n;
    int rc;

    for (a = node != NULL ? node->properties : NULL; a != NULL;
         a = a->next) {
        if (a->ns == NULL && strcmp((const char *) a->name, "name") == 0)
            continue;
        for (o = opts; o != NULL && o->name != NULL; o++)
            if (a->ns == NULL && strcmp((const char *) a->name, o->name) == 0)
                break;
        if (o == NULL || o->name == NULL) {
            n = (size_t) snprintf(why, sizeof(why), opts && opts->name
                                  ? "valid options:" : "this module takes "
                                  "no options");
            for (o = opts; o != NULL && o->name != NULL && n < sizeof(why);
                 o++)
                n += (size_t) snprintf(why + n, sizeof(why) - n, "%s %s",
                                       o == opts ? "" : ",", o->name);
            return opt_fail(file, line, err, errlen, "module %s: option %s: "
                            "unknown option; %s", mod ? mod : "?", a->name,
                            why);
        }
    }
    for (o = opts; o != NULL && o->name != NULL; o++) {
        /* It would read the module's own name from <module name>. */
        if (strcmp(o->name, "name") == 0) {
            ember__options_free(opts, conf);
            return opt_fail(file, line, err, errlen, "module %s: an option "
                            "may not be called 'name' (the <module name> "
                            "attribute)", mod ? mod : "?");
        }
        v = node != NULL ? ember__xml_attr(node, o->name) : NULL;
        if (v == NULL && (v = o->default_value) == NULL) {
            rc = EMBER_EINVAL;
            snprintf(why, sizeof(why), "required, no default");
        } else {
            rc = opt_set(o, conf, v, why, sizeof(why));
        }
        if (rc < 0) {
            ember__options_free(opts, conf);
            opt_fail(file, line, err, errlen, "module %s: option %s: %s%s",
                     mod ? mod : "?", o->name,
                     v == o->default_value && v ? "default " : "", why);
            return rc;
        }
    }
    return 0;
}


void
ember__options_free(const ember_option_t *opts, void *conf)
{
    const ember_option_t *o;
    char **field;

    for (o = opts; o != NULL && o->name != NULL; o++)
        if (o->type == EMBER_OPT_STRING || o->type == EMBER_OPT_PATH ||
            o->type == EMBER_OPT_GUARDED) {
            field = (char **) (void *) ((char *) conf + o->offset);
            free(*field);
            *field = NULL;
        }
}


