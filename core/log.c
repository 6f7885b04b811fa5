/* core/log.c -- levelled logging and the error-name table. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/time.h>

#include "log.h"

static FILE *log_out;
static int log_threshold = EMBER_LOG_INFO;
static const char *const level_names[] = { "error", "warn", "info", "debug" };


int
ember__log_open(int level, const char *file)
{
    FILE *f = stderr;

    if (file != NULL && (f = fopen(file, "a")) == NULL)
        return EMBER_EIO;
    ember__log_close();
    if (f != stderr)
        setvbuf(f, NULL, _IOLBF, 0);
    log_out = f;
    log_threshold = level;
    return 0;
}


void
ember__log_close(void)
{
    if (log_out != NULL && log_out != stderr)
        fclose(log_out);
    log_out = NULL;
}


int
ember__log_level(void)
{
    return log_threshold;
}


int
ember__log_level_parse(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
        if (strcasecmp(name, level_names[i]) == 0)
            return (int) i;
    return -1;
}


void
ember__vlog(int level, const char *prefix, const char *fmt, va_list ap)
{
    FILE *out = log_out != NULL ? log_out : stderr;
    struct timeval tv;
    struct tm tm;
    char stamp[32];

    if (level > log_threshold)
        return;
    if (level < 0)
        level = 0;
    if (level > EMBER_LOG_DEBUG)
        level = EMBER_LOG_DEBUG;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(out, "%s.%03dZ %-5s [%s] ", stamp, (int) (tv.tv_usec / 1000),
            level_names[level], prefix != NULL ? prefix : "core");
    vfprintf(out, fmt, ap);
    fputc('\n', out);
}


void
ember__log(int level, const char *prefix, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    ember__vlog(level, prefix, fmt, ap);
    va_end(ap);
}


const char *
ember_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define EMBER_STRERROR_CASE(name, val, msg)                                  \
    case val:                                                                \
        return msg;
        EMBER_ERRNO_MAP(EMBER_STRERROR_CASE)
#undef EMBER_STRERROR_CASE
    }
    return "unknown error";
}


const char *
ember_err_name(int err)
{
    switch (err) {
    case 0:
        return "OK";
#define EMBER_ERRNAME_CASE(name, val, msg)                                   \
    case val:                                                                \
        return #name;
        EMBER_ERRNO_MAP(EMBER_ERRNAME_CASE)
#undef EMBER_ERRNAME_CASE
    }
    return "EUNKNOWN";
}
