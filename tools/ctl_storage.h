/* tools/ctl_storage.h -- emberctl migrate-storage: every record of one
 * storage backend copied into another (doc/emberctl.md). */
#ifndef EMBER_CTL_STORAGE_H
#define EMBER_CTL_STORAGE_H

#include "base/config.h"

/* What migrate-storage needs of emberctl's own machinery. */
typedef struct ctl_store_ops_s {
    /* 1 when an emberd answers on the control socket at path, 0 when
     * nobody does, -1 on an error (printed). */
    int (*server_answers)(const char *path);
    /* Start cfg's storage and global modules in this process (taken);
     * 0, or -1 with the reason printed. */
    int (*start)(ember_config_t *cfg);
    void (*stop)(void);
} ctl_store_ops_t;

/* emberctl [-c FILE] migrate-storage --to=FILE [--force] [--batch=N];
 * exit status. */
int ctl_migrate_storage(const ctl_store_ops_t *ops, const char *from_path,
                        int argc, char **argv);

#endif
