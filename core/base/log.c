/* core/log.c -- levelled logging and the error-name table. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/time.h>

#include "base/log.h"

/* Recent lines kept for `emberctl logs` and the console. */
#define LOG_RING_SIZE 2000
#define LOG_RING_TEXT 1024

typedef struct {
    uint64_t id;               /* 0: never written */
    int64_t time_ms;
    int level;
    char source[64];
    char text[LOG_RING_TEXT];
} log_line_t;

static FILE *log_out;
static int log_threshold = EMBER_LOG_INFO;
static const char *const level_names[] = { "error", "warn", "info", "debug" };

/*
 * Modules may log from the thread pool (storage, hashing), so the ring
 * has its own lock.  Allocated on first use: emberctl offline and the
 * unit tests never pay for it unless they log.
 */
static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;
static log_line_t *ring;
static uint64_t ring_last_id;


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


static void
ring_add(int level, const char *prefix, int64_t time_ms, const char *fmt,
         va_list ap)
{
    log_line_t *l;

    pthread_mutex_lock(&ring_lock);
    if (ring == NULL && (ring = calloc(LOG_RING_SIZE, sizeof(*ring))) == NULL)
        goto out;
    l = &ring[ring_last_id % LOG_RING_SIZE];
    l->id = ++ring_last_id;
    l->time_ms = time_ms;
    l->level = level;
    snprintf(l->source, sizeof(l->source), "%s",
             prefix != NULL ? prefix : "core");
    vsnprintf(l->text, sizeof(l->text), fmt, ap);
out:
    pthread_mutex_unlock(&ring_lock);
}


void
ember__vlog(int level, const char *prefix, const char *fmt, va_list ap)
{
    FILE *out = log_out != NULL ? log_out : stderr;
    struct timeval tv;
    struct tm tm;
    char stamp[32];
    va_list copy;

    /* The ring keeps info and above whatever the threshold: the console
     * shows them even when the file only gets warnings. */
    if (level > log_threshold && level > EMBER_LOG_INFO)
        return;
    if (level < 0)
        level = 0;
    if (level > EMBER_LOG_DEBUG)
        level = EMBER_LOG_DEBUG;
    gettimeofday(&tv, NULL);
    va_copy(copy, ap);
    ring_add(level, prefix, (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000,
             fmt, copy);
    va_end(copy);
    if (level > log_threshold)
        return;
    gmtime_r(&tv.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(out, "%s.%03dZ %-5s [%s] ", stamp, (int) (tv.tv_usec / 1000),
            level_names[level], prefix != NULL ? prefix : "core");
    vfprintf(out, fmt, ap);
    fputc('\n', out);
}


json_t *
ember__log_recent(uint64_t since, int min_level, size_t limit,
                  uint64_t *next)
{
    json_t *lines = json_array(), *o;
    uint64_t id, first, last = since;
    log_line_t *l;

    if (lines == NULL)
        return NULL;
    pthread_mutex_lock(&ring_lock);
    first = ring_last_id > LOG_RING_SIZE ? ring_last_id - LOG_RING_SIZE + 1
                                         : 1;
    if (since + 1 > first)
        first = since + 1;
    for (id = first; ring != NULL && id <= ring_last_id &&
                     json_array_size(lines) < limit; id++) {
        l = &ring[(id - 1) % LOG_RING_SIZE];
        last = id;
        if (l->level > min_level)
            continue;
        o = json_pack("{s:I, s:I, s:s, s:s, s:s}", "id", (json_int_t) l->id,
                      "time", (json_int_t) l->time_ms,
                      "level", level_names[l->level], "source", l->source,
                      "text", l->text);
        if (o != NULL)
            json_array_append_new(lines, o);
    }
    pthread_mutex_unlock(&ring_lock);
    *next = last;
    return lines;
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
