/* tools/ctl_migrate.h -- emberctl export and import (XEP-0227, Openfire). */
#ifndef EMBER_CTL_MIGRATE_H
#define EMBER_CTL_MIGRATE_H

#include <stddef.h>
#include <jansson.h>

/* How the migration reaches emberd: one command, its result (new
 * reference) or an error: status < 0, the error's name ("ENOENT") and
 * the server's message. */
typedef struct ctl_mig_ops_s {
    int (*call)(void *ud, const char *name, json_t *args, json_t **result,
                char *errname, size_t namelen, char *msg, size_t msglen);
    void *ud;
    json_t *commands;       /* the server's command list (borrowed) */
} ctl_mig_ops_t;

/* emberctl export FILE [HOST...]; exit status. */
int ctl_export(const ctl_mig_ops_t *ops, int argc, char **argv);
/* emberctl import FILE [--force] [--skip-unknown] [--host=H]; exit
 * status. */
int ctl_import(const ctl_mig_ops_t *ops, int argc, char **argv);

#endif
