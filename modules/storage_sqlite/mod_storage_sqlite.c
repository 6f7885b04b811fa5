/* mod_storage_sqlite.c -- default storage backend: SQLite on its own
 * thread (storage_sqlite_queue.c), WAL journal, group commit. */
#include <stdlib.h>
#include <strings.h>

#include "storage_sqlite.h"

typedef struct sqlite_conf_s {
    char *path;
    char *synchronous;
    int cache_kb;
} sqlite_conf_t;

const ember_api_t *api;

static const ember_option_t sq_options[] = {
    EMBER_OPT("path", EMBER_OPT_PATH, sqlite_conf_t, path, "ember.db", 0,
              4096, "database file, relative to the data directory"),
    EMBER_OPT("synchronous", EMBER_OPT_STRING, sqlite_conf_t, synchronous,
              "normal", 0, 16, "normal: survives a crash of emberd; "
              "full: also survives a power loss"),
    EMBER_OPT("cache-kb", EMBER_OPT_INT, sqlite_conf_t, cache_kb, "8192", 64,
              4194304, "page cache size in KiB"),
    EMBER_OPT_END
};


static int
sq_load(ember_module_t *m, const ember_api_t *a)
{
    const sqlite_conf_t *conf;
    sq_db_t *db;
    sq_opts_t o;
    char err[512];
    int rc;

    api = a;
    conf = api->module_conf(m);
    if (sq_queue_running()) {
        api->log(m, EMBER_LOG_ERROR, "already loaded");
        return EMBER_EBUSY;
    }
    o.path = conf->path;
    o.cache_kb = conf->cache_kb;
    if (conf->synchronous == NULL
        || strcasecmp(conf->synchronous, "normal") == 0) {
        o.sync_full = 0;
    } else if (strcasecmp(conf->synchronous, "full") == 0) {
        o.sync_full = 1;
    } else {
        api->log(m, EMBER_LOG_ERROR, "synchronous: \"%s\" is neither "
                 "\"normal\" nor \"full\"", conf->synchronous);
        return EMBER_EINVAL;
    }
    err[0] = '\0';
    if ((rc = sq_db_open(&db, &o, err, sizeof(err))) < 0) {
        api->log(m, EMBER_LOG_ERROR, "%s", err);
        return rc;
    }
    if ((rc = sq_queue_start(m, db)) < 0)
        return rc;
    api->log(m, EMBER_LOG_INFO, "%s (schema %d, synchronous=%s)", o.path,
             sq_db_schema_version(), o.sync_full ? "full" : "normal");
    return 0;
}


static void
sq_unload(ember_module_t *m)
{
    (void) m;
    sq_queue_stop();
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "storage_sqlite",
    .version = "1.0",
    .description = "SQLite storage (WAL, group commit)",
    .requires = (const char *const[]){ "storage-backend", "threads", NULL },
    .conf_size = sizeof(sqlite_conf_t),
    .options = sq_options,
    .load = sq_load,
    .unload = sq_unload,
    .flags = EMBER_MODULE_GLOBAL,
};
