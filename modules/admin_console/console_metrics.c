/*
 * console_metrics.c -- /metrics (OpenMetrics text made from the status and
 * modules commands) and the event streams /api/v1/stats/stream (every 2 s)
 * and /api/v1/logs/stream (the logs command polled every 500 ms).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"

#define MAX_STREAMS 32
#define STATS_EVERY 2000
#define LOGS_EVERY 500

/* Figures of the status command with a fixed name in /metrics. */
static const struct {
    const char *key, *metric, *type, *help;
    long long scale;
} known[] = {
    { "uptime_s", "ember_uptime_seconds", "gauge",
      "Seconds since emberd started", 1 },
    { "sessions", "ember_sessions", "gauge", "Bound client sessions", 1 },
    { "connections", "ember_connections", "gauge",
      "Open client connections", 1 },
    { "stanzas_in", "ember_stanzas_in", "counter", "Stanzas received", 1 },
    { "stanzas_in_total", "ember_stanzas_in", "counter",
      "Stanzas received", 1 },
    { "stanzas_out", "ember_stanzas_out", "counter", "Stanzas sent", 1 },
    { "stanzas_out_total", "ember_stanzas_out", "counter", "Stanzas sent",
      1 },
    { "memory_rss", "ember_memory_rss", "gauge",
      "Resident memory of emberd in bytes", 1 },
    { "rss_kib", "ember_memory_rss", "gauge",
      "Resident memory of emberd in bytes", 1024 },
    { "rss_bytes", "ember_memory_rss", "gauge",
      "Resident memory of emberd in bytes", 1 },
    { "storage_bytes", "ember_storage", "gauge",
      "Size of the storage in bytes", 1 },
    { "storage_pending", "ember_storage_pending", "gauge",
      "Storage requests waiting", 1 },
    { "modules_loaded", "ember_modules_loaded", "gauge",
      "Module instances loaded", 1 },
    { "modules_failed", "ember_modules_failed", "gauge",
      "Module instances that failed to load", 1 },
    /* The same figure as uptime_s: not written twice. */
    { "uptime_ms", NULL, NULL, NULL, 0 },
    { NULL, NULL, NULL, NULL, 0 }
};

typedef struct stream_s {
    ember_http_req_t *req;
    ember_timer_t *timer;
    int logs;
    int busy;
    json_int_t since;
    int have_since;
    char level[16];
    struct stream_s *prev, *next;
} stream_t;

static stream_t *streams;
static int nstreams;


static const char *
suffix(const char *metric, const char *type)
{
    size_t l = strlen(metric);

    if (strcmp(type, "counter") == 0)
        return "_total";
    if (l > 6 && strcmp(metric + l - 6, "_bytes") == 0)
        return "";
    if (strstr(metric, "memory") != NULL || strcmp(metric, "ember_storage")
        == 0)
        return "_bytes";
    return "";
}


static void
metrics_text(FILE *out, json_t *status, json_t *modules)
{
    const char *key, *v;
    json_t *val;
    size_t i, j;
    int done;
    char name[128], *p;

    v = json_string_value(json_object_get(status, "version"));
    fprintf(out, "# TYPE ember_build info\n# HELP ember_build emberd version\n"
        "ember_build_info{version=\"%s\"} 1\n", v != NULL ? v : "");
    for (i = 0; known[i].key != NULL; i++) {
        val = json_object_get(status, known[i].key);
        if (!json_is_integer(val) || known[i].metric == NULL)
            continue;
        /* Two spellings of one figure: the first one found is written. */
        for (j = 0, done = 0; j < i; j++)
            if (known[j].metric != NULL &&
                strcmp(known[j].metric, known[i].metric) == 0 &&
                json_is_integer(json_object_get(status, known[j].key)))
                done = 1;
        if (done)
            continue;
        snprintf(name, sizeof(name), "%s%s", known[i].metric,
                 strcmp(known[i].type, "counter") == 0
                     ? "" : suffix(known[i].metric, known[i].type));
        fprintf(out, "# TYPE %s %s\n# HELP %s %s\n%s%s %lld\n", name,
            known[i].type, name, known[i].help, name,
            strcmp(known[i].type, "counter") == 0 ? "_total" : "",
            (long long) json_integer_value(val) * known[i].scale);
    }
    fprintf(out, "# TYPE ember_hosts gauge\n# HELP ember_hosts Virtual hosts\n"
        "ember_hosts %zu\n",
        json_array_size(json_object_get(status, "hosts")));
    if (json_is_array(modules) &&
        !json_is_integer(json_object_get(status, "modules_loaded")))
        fprintf(out, "# TYPE ember_modules_loaded gauge\n# HELP "
            "ember_modules_loaded Module instances loaded\n"
            "ember_modules_loaded %zu\n", json_array_size(modules));
    /* Figures the status command grows later still reach Prometheus. */
    json_object_foreach(status, key, val) {
        if (!json_is_integer(val))
            continue;
        for (i = 0, done = 0; known[i].key != NULL; i++)
            if (strcmp(known[i].key, key) == 0)
                done = 1;
        if (done || strlen(key) > 100)
            continue;
        snprintf(name, sizeof(name), "ember_%s", key);
        for (p = name; *p != '\0'; p++)
            if (!isalnum((unsigned char) *p) && *p != '_')
                *p = '_';
        fprintf(out, "# TYPE %s gauge\n%s %lld\n", name, name,
            (long long) json_integer_value(val));
    }
    fprintf(out, "# EOF\n");
}


static void
metrics_modules(int status, json_t *result, const char *message, void *ud)
{
    console_call_t *c = ud;
    char *text = NULL;
    size_t len = 0;
    FILE *out;

    if (c->req != NULL) {
        if ((out = open_memstream(&text, &len)) == NULL) {
            console_error(c->req, 500, "internal", "out of memory");
        } else {
            metrics_text(out, c->doc, status == 0 ? result : NULL);
            fclose(out);
            console_respond(c->req, 200, "application/openmetrics-text; "
                            "version=1.0.0; charset=utf-8", text, len,
                            (const char *const[]){ "Cache-Control", "no-store",
                            NULL });
        }
    }
    free(text);
    console_call_free(c);
}


static void
metrics_status(int status, json_t *result, const char *message, void *ud)
{
    console_call_t *c = ud;

    if (c->req == NULL || status < 0) {
        if (c->req != NULL)
            console_error(c->req, 500, "internal", message);
        console_call_free(c);
        return;
    }
    c->doc = json_incref(result);
    api->command_run(mod, "modules", NULL, metrics_modules, c);
}


int
console_metrics(ember_http_req_t *req, const console_op_t *op)
{
    console_call_t *c = console_call_new(req, op);

    if (c == NULL)
        return console_error(req, 500, "internal", "out of memory");
    api->command_run(mod, "status", NULL, metrics_status, c);
    return 0;
}


/* ---- event streams ---- */

static void
stream_free(stream_t *s)
{
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        streams = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    if (s->timer != NULL)
        api->timer_stop(mod, s->timer);
    nstreams--;
    free(s);
}


void
console_streams_free_all(void)
{
    while (streams != NULL)
        stream_free(streams);
}


static void
stream_closed(ember_http_req_t *req, void *ud)
{
    stream_t *s = ud;

    s->req = NULL;
    if (s->timer != NULL) {
        api->timer_stop(mod, s->timer);
        s->timer = NULL;
    }
    if (!s->busy)
        stream_free(s);
}


/* Sends one event; 0, or -1 when the stream is gone (s freed). */
static int
stream_send(stream_t *s, const char *event, json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
    int rc = text != NULL ? api->http_sse_send(s->req, event, text)
                          : EMBER_ENOMEM;

    free(text);
    if (rc < 0) {
        api->http_close(s->req);
        s->req = NULL;
        stream_free(s);
        return -1;
    }
    return 0;
}


static void
stats_reply(int status, json_t *result, const char *message, void *ud)
{
    stream_t *s = ud;

    s->busy = 0;
    if (s->req == NULL) {
        stream_free(s);
        return;
    }
    if (status == 0)
        stream_send(s, "stats", result);
}


static void
logs_reply(int status, json_t *result, const char *message, void *ud)
{
    stream_t *s = ud;
    json_t *lines = result, *line, *next;
    size_t i;

    s->busy = 0;
    if (s->req == NULL) {
        stream_free(s);
        return;
    }
    if (status < 0)
        return;
    if (json_is_object(result)) {
        lines = json_object_get(result, "lines");
        if (lines == NULL)
            lines = json_object_get(result, "items");
        next = json_object_get(result, "next");
        if (json_is_integer(next)) {
            s->since = json_integer_value(next);
            s->have_since = 1;
        }
    }
    json_array_foreach(lines, i, line) {
        json_t *id = json_object_get(line, "id");

        if (json_is_integer(id) && (!s->have_since ||
                                    json_integer_value(id) > s->since)) {
            s->since = json_integer_value(id);
            s->have_since = 1;
        }
        if (stream_send(s, "log", line) < 0)
            return;
    }
    if (!s->have_since) {
        s->since = 0;
        s->have_since = 1;
    }
}


static void
stream_tick(ember_module_t *m, ember_timer_t *t, void *ud)
{
    stream_t *s = ud;
    json_t *args;

    if (s->busy || s->req == NULL)
        return;
    s->busy = 1;
    if (!s->logs) {
        api->command_run(mod, "status", NULL, stats_reply, s);
        return;
    }
    args = s->have_since ? json_pack("{s:I}", "since", s->since)
                         : json_pack("{s:i}", "limit", 100);
    if (s->level[0] != '\0')
        json_object_set_new(args, "level", json_string(s->level));
    api->command_run(mod, "logs", args, logs_reply, s);
    json_decref(args);
}


static int
stream_start(ember_http_req_t *req, int logs)
{
    const char *level = api->http_query(req, "level");
    stream_t *s;
    int rc;

    if (logs && !console_command_exists("logs"))
        return console_error(req, 503, "unavailable",
                             "command 'logs' is not available");
    if (nstreams >= MAX_STREAMS)
        return console_error(req, 503, "unavailable",
                             "too many event streams");
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return console_error(req, 500, "internal", "out of memory");
    s->logs = logs;
    if (level != NULL)
        snprintf(s->level, sizeof(s->level), "%s", level);
    if ((rc = api->http_sse_start(req)) < 0) {
        free(s);
        return 0;
    }
    s->req = req;
    s->next = streams;
    if (streams != NULL)
        streams->prev = s;
    streams = s;
    nstreams++;
    api->http_on_closed(req, stream_closed, s);
    s->timer = api->timer_start(mod, 1,
                                logs ? LOGS_EVERY : STATS_EVERY,
                                stream_tick, s);
    if (s->timer == NULL) {
        api->http_close(req);
        s->req = NULL;
        stream_free(s);
    }
    return 0;
}


int
console_stats_stream(ember_http_req_t *req, const console_op_t *op)
{
    return stream_start(req, 0);
}


int
console_logs_stream(ember_http_req_t *req, const console_op_t *op)
{
    return stream_start(req, 1);
}
