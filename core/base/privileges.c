/* core/base/privileges.c -- leaving root after the ports are bound. */
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE
#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ember/errno.h>

#include "base/log.h"
#include "base/privileges.h"

static uid_t owner_uid;
static gid_t owner_gid;
static int owner_failed;


static int
give(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) flag;
    (void) ftw;
    if ((st->st_uid != owner_uid || st->st_gid != owner_gid) &&
        lchown(path, owner_uid, owner_gid) < 0 && !owner_failed) {
        owner_failed = errno;
        ember__log(EMBER_LOG_ERROR, "core", "chown %s: %s", path,
                   strerror(errno));
    }
    return 0;
}


/* Files root made in this run (database, keys, certificates) and before
 * it (emberctl run as root) must stay writable by the server. */
static int
give_tree(const char *dir, uid_t uid, gid_t gid)
{
    owner_uid = uid;
    owner_gid = gid;
    owner_failed = 0;
    if (nftw(dir, give, 32, FTW_PHYS) < 0)
        return errno;
    return owner_failed;
}


/* The user and group to become, as getpwnam found them. */
static int
lookup(const char *user, const char *group, struct passwd **pw, gid_t *gid,
       char *err, size_t errlen)
{
    struct group *gr;

    if ((*pw = getpwnam(user)) == NULL) {
        snprintf(err, errlen, "run-as: user '%s' does not exist; create it "
                 "(make install does: useradd --system %s) or name another "
                 "in <run-as user>", user, user);
        return EMBER_ENOENT;
    }
    *gid = (*pw)->pw_gid;
    if (group != NULL) {
        if ((gr = getgrnam(group)) == NULL) {
            snprintf(err, errlen, "run-as: group '%s' does not exist", group);
            return EMBER_ENOENT;
        }
        *gid = gr->gr_gid;
    }
    if ((*pw)->pw_uid == 0) {
        snprintf(err, errlen, "run-as: user '%s' is root (uid 0); name "
                 "\"root\" to mean it", user);
        return EMBER_EINVAL;
    }
    return 0;
}


static int
become(const struct passwd *pw, gid_t gid, char *err, size_t errlen)
{
    if (initgroups(pw->pw_name, gid) < 0 || setgid(gid) < 0 ||
        setuid(pw->pw_uid) < 0) {
        snprintf(err, errlen, "cannot become %s: %s", pw->pw_name,
                 strerror(errno));
        return EMBER_EIO;
    }
    /* The saved set-user-ID went too: there is no way back. */
    if (setuid(0) == 0 || seteuid(0) == 0) {
        snprintf(err, errlen, "still able to regain root after becoming %s",
                 pw->pw_name);
        return EMBER_EIO;
    }
    return 0;
}


int
ember__privileges_become(const char *user, const char *group, char *err,
                         size_t errlen)
{
    struct passwd *pw;
    gid_t gid;
    int rc;

    if (geteuid() != 0)
        return 0;
    if ((rc = lookup(user, group, &pw, &gid, err, errlen)) < 0)
        return rc;
    return become(pw, gid, err, errlen);
}


int
ember__privileges_drop(const ember_config_t *cfg, char *err, size_t errlen)
{
    const char *user = cfg->run_user != NULL ? cfg->run_user : "ember";
    struct passwd *pw;
    gid_t gid;
    int e, rc;

    if (geteuid() != 0)
        return 0;
    if (strcmp(user, "root") == 0) {
        ember__log(EMBER_LOG_WARN, "core", "running as root: <run-as "
                   "user=\"root\"> keeps every privilege (admins of the "
                   "console and modules' bugs reach the whole machine)");
        return 0;
    }
    if ((rc = lookup(user, cfg->run_group, &pw, &gid, err, errlen)) < 0)
        return rc;
    if (mkdir(cfg->data_dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "mkdir %s: %s", cfg->data_dir, strerror(errno));
        return EMBER_EIO;
    }
    if ((e = give_tree(cfg->data_dir, pw->pw_uid, gid)) != 0) {
        snprintf(err, errlen, "cannot give %s to %s: %s", cfg->data_dir,
                 user, strerror(e));
        return EMBER_EIO;
    }
    if ((cfg->log_file != NULL &&
         chown(cfg->log_file, pw->pw_uid, gid) < 0 && errno != ENOENT) ||
        (chown(cfg->control_socket, pw->pw_uid, gid) < 0 && errno != ENOENT)) {
        snprintf(err, errlen, "cannot give the log file or control socket "
                 "to %s: %s", user, strerror(errno));
        return EMBER_EIO;
    }
    if ((rc = become(pw, gid, err, errlen)) < 0)
        return rc;
    if (access(cfg->data_dir, R_OK | W_OK | X_OK) < 0) {
        snprintf(err, errlen, "as %s, the data directory %s is not usable "
                 "(%s): a directory above it is closed to that user",
                 user, cfg->data_dir, strerror(errno));
        return EMBER_EIO;
    }
    ember__log(EMBER_LOG_INFO, "core", "running as %s (uid %u, gid %u)",
               user, (unsigned) pw->pw_uid, (unsigned) gid);
    return 0;
}
