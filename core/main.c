/* core/main.c -- emberd: parse argv, load the config, run the loop. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ember_config.h"
#include "base/log.h"
#include "server.h"

#ifndef EMBER_SYSCONFDIR
#define EMBER_SYSCONFDIR "/usr/local/etc"
#endif


static void
usage(FILE *out)
{
    fprintf(out, "usage: emberd [-c FILE] [-v]\n"
            "  -c FILE   configuration (default $EMBER_CONFIG, else "
            EMBER_SYSCONFDIR "/ember/ember.xml)\n"
            "  -v        print the version and exit\n");
}


int
main(int argc, char **argv)
{
    const char *path = getenv("EMBER_CONFIG");
    ember_config_t *cfg;
    char err[2048];
    int opt, rc;

    while ((opt = getopt(argc, argv, "c:vh")) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 'v':
            printf("emberd %s (plugin ABI %d.%d)\n", EMBER_VERSION,
                   EMBER_ABI_MAJOR, EMBER_API_MINOR);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (path == NULL)
        path = EMBER_SYSCONFDIR "/ember/ember.xml";
    if (ember__config_load(path, &cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "emberd: %s\n", err);
        return 1;
    }
    if (ember__log_open(cfg->log_level, cfg->log_file) < 0) {
        fprintf(stderr, "emberd: cannot open log file %s\n", cfg->log_file);
        ember__config_free(cfg);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    if ((rc = ember__server_start(cfg, 0, err, sizeof(err))) < 0) {
        ember__log(EMBER_LOG_ERROR, "core", "cannot start: %s", err);
        ember__server_stop();
        uv_run(ember__loop(), UV_RUN_DEFAULT);
        ember__server_cleanup();
        ember__log_close();
        return 1;
    }
    uv_run(ember__loop(), UV_RUN_DEFAULT);
    ember__server_cleanup();
    ember__log(EMBER_LOG_INFO, "core", "stopped");
    ember__log_close();
    return 0;
}
