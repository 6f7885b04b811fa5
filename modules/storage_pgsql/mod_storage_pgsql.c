/* mod_storage_pgsql.c -- storage backend on PostgreSQL (libpq): a pool
 * of connections on worker threads (storage_pgsql_pool.c), prepared
 * statements, versioned schema migrations at start. */
#include <dlfcn.h>
#include <stdlib.h>

#include "storage_pgsql.h"

typedef struct pgsql_conf_s {
    char *conninfo;
    int connections;
    int retry;
} pgsql_conf_t;

const ember_api_t *api;

static const ember_option_t pg_options[] = {
    EMBER_OPT("conninfo", EMBER_OPT_GUARDED, pgsql_conf_t, conninfo, NULL,
              1, 4096, "libpq connection string or URI (it may hold a "
              "password: only the config file sets it)"),
    EMBER_OPT("connections", EMBER_OPT_INT, pgsql_conf_t, connections, "4",
              1, 64, "connections, each on its own thread"),
    EMBER_OPT("retry", EMBER_OPT_DURATION, pgsql_conf_t, retry, "10", 1,
              3600, "how long a request waits for a lost connection to "
              "come back before it fails"),
    EMBER_OPT_END
};


static int
pg_load(ember_module_t *m, const ember_api_t *a)
{
    const pgsql_conf_t *conf;
    pg_conn_t *conns[64];
    char err[512];
    int i, rc;

    api = a;
    conf = api->module_conf(m);
    /*
     * libpq (and the GSSAPI and TLS libraries it brings) keeps state
     * allocated at its first connection for the life of the process:
     * unmapped with this module when a load fails, that state would be
     * lost, and load again fresh.  libpq stays mapped instead.
     */
    dlopen("libpq.so.5", RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);
    if (pg_pool_running()) {
        api->log(m, EMBER_LOG_ERROR, "already loaded");
        return EMBER_EBUSY;
    }
    /* The first connection migrates; every one must work at start, so
     * that a server that is down or refuses us is an error now. */
    for (i = 0; i < conf->connections; i++) {
        err[0] = '\0';
        if ((rc = pg_conn_open(&conns[i], conf->conninfo, i == 0, err,
                               sizeof(err))) < 0) {
            api->log(m, EMBER_LOG_ERROR, "%s",
                     err[0] != '\0' ? err : api->strerror(rc));
            while (i-- > 0)
                pg_conn_close(conns[i]);
            return rc;
        }
    }
    if ((rc = pg_pool_start(m, conns, conf->connections,
                            conf->retry * 1000)) < 0)
        return rc;
    api->log(m, EMBER_LOG_INFO, "PostgreSQL %s (schema %d, %d connections)",
             PQdb(conns[0]->pc), pg_schema_version(), conf->connections);
    return 0;
}


static void
pg_unload(ember_module_t *m)
{
    (void) m;
    pg_pool_stop();
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "storage_pgsql",
    .version = "1.0",
    .description = "PostgreSQL storage (connection pool, group commit)",
    .requires = (const char *const[]){ "storage-backend", "threads", NULL },
    .conf_size = sizeof(pgsql_conf_t),
    .options = pg_options,
    .load = pg_load,
    .unload = pg_unload,
    .flags = EMBER_MODULE_GLOBAL,
};
