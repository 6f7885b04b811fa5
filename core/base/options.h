/* core/base/options.h -- module options, and the value syntax the whole
 * config shares. */
#ifndef EMBER_CORE_OPTIONS_H
#define EMBER_CORE_OPTIONS_H

#include <stdarg.h>
#include <stddef.h>
#include <libxml/tree.h>
#include <ember/plugin.h>

/*
 * Fill `conf` (already zeroed, conf_size bytes) from the attributes of a
 * <module> element according to `opts`: defaults for missing ones, unknown
 * attributes and bad values refused with "FILE:LINE: module NAME: option
 * OPT: reason" in err.  node may be NULL (defaults only).
 */
int ember__options_apply(const ember_option_t *opts, void *conf,
                         xmlNodePtr node, const char *file, char *err,
                         size_t errlen);
/* Free the strings ember__options_apply stored in conf. */
void ember__options_free(const ember_option_t *opts, void *conf);

/*
 * Resolve EMBER_OPT_PATH options against dir from now on (a check of
 * another config text must not leave its data directory in use).
 */
void ember__config_use_data_dir(const char *dir);

/* An attribute's text without a namespace, "" when it has no text. */
const char *ember__xml_attr(xmlNodePtr node, const char *name);
/* "FILE:LINE: " and the message into err; returns EMBER_EINVAL. */
int ember__verror_at(char *err, size_t errlen, const char *file, long line,
                     const char *fmt, va_list ap);

/* Whole-string decimal integer; 0 or -1. */
int ember__parse_int(const char *s, long long *out);
/* "90", "90s", "15m", "2h", "1d" -> seconds; 0 or -1. */
int ember__parse_duration(const char *s, long long *out);
/* true/yes/1 -> 1, false/no/0 -> 0, else -1. */
int ember__parse_bool(const char *s);
/* An absolute copy of p, relative ones taken from base (NULL: as is). */
char *ember__path_abs(const char *base, const char *p);

#endif
