/* core/log.h -- levelled logging to stderr or a file. */
#ifndef EMBER_CORE_LOG_H
#define EMBER_CORE_LOG_H

#include <stdarg.h>
#include <stdint.h>
#include <jansson.h>
#include <ember/plugin.h>

/* file NULL: stderr.  Returns EMBER_EIO when the file cannot be opened. */
int ember__log_open(int level, const char *file);
void ember__log_close(void);
int ember__log_level(void);
/* Parse "error", "warn", "info", "debug"; -1 when unknown. */
int ember__log_level_parse(const char *name);

/*
 * The last lines logged (at most 2000, info and above whatever the log
 * level; debug ones only while the level is debug), oldest first: those
 * with an id above `since` and a level at least as severe as min_level,
 * at most `limit` of them, as [{"id", "time" (ms since the epoch),
 * "level", "source", "text"}].  *next is the id to pass as `since` to
 * get the following ones.
 */
json_t *ember__log_recent(uint64_t since, int min_level, size_t limit,
                          uint64_t *next);

/* prefix: "core", a module name, or "module@host". */
void ember__log(int level, const char *prefix, const char *fmt, ...)
    EMBER_PRINTF(3, 4);
void ember__vlog(int level, const char *prefix, const char *fmt, va_list ap);

#define LOG_E(...) ember__log(EMBER_LOG_ERROR, "core", __VA_ARGS__)
#define LOG_W(...) ember__log(EMBER_LOG_WARN, "core", __VA_ARGS__)
#define LOG_I(...) ember__log(EMBER_LOG_INFO, "core", __VA_ARGS__)
#define LOG_D(...)                                                           \
    do {                                                                     \
        if (ember__log_level() >= EMBER_LOG_DEBUG)                           \
            ember__log(EMBER_LOG_DEBUG, "core", __VA_ARGS__);                \
    } while (0)

const char *ember_strerror(int err);
const char *ember_err_name(int err);

#endif
