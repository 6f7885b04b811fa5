/* core/base/files.c -- writing files so that no reader sees half of one. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "base/config.h"

int
ember__write_all(int fd, const char *data, size_t len)
{
    ssize_t n;

    while (len > 0) {
        if ((n = write(fd, data, len)) < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        data += n;
        len -= (size_t) n;
    }
    return 0;
}


/* Keep the current file as path.bak: a hard link, else a copy. */
static int
keep_backup(const char *path, const char *bak)
{
    char buf[65536];
    ssize_t n;
    int in, out, rc = -1;

    if (unlink(bak) < 0 && errno != ENOENT)
        return -1;
    if (link(path, bak) == 0)
        return 0;
    if ((in = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return errno == ENOENT ? 0 : -1;
    if ((out = open(bak, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
        goto out;
    while ((n = read(in, buf, sizeof(buf))) > 0)
        if (ember__write_all(out, buf, (size_t) n) < 0)
            break;
    rc = n == 0 && fsync(out) == 0 ? 0 : -1;
    if (close(out) < 0)
        rc = -1;
out:
    close(in);
    return rc;
}


int
ember__write_atomic(const char *path, const char *data, size_t len,
                    int mode, int backup, char *err, size_t errlen)
{
    char *tmp = NULL, *bak = NULL, *dir = NULL, *slash;
    const char *what = "create a temporary file";
    struct stat st;
    int fd = -1, dfd;

    if (mode < 0)
        mode = lstat(path, &st) == 0 && S_ISREG(st.st_mode)
               ? (int) (st.st_mode & 07777) : 0644;
    if (asprintf(&tmp, "%s.tmp-XXXXXX", path) < 0) {
        tmp = NULL;
        goto nomem;
    }
    if (backup && asprintf(&bak, "%s.bak", path) < 0) {
        bak = NULL;
        goto nomem;
    }
    if ((fd = mkostemp(tmp, O_NOFOLLOW | O_CLOEXEC)) < 0)
        goto fail;
    what = "write";
    if (fchmod(fd, (mode_t) mode) < 0 ||
        ember__write_all(fd, data, len) < 0 || fsync(fd) < 0)
        goto fail_tmp;
    if (close(fd) < 0) {
        fd = -1;
        goto fail_tmp;
    }
    fd = -1;
    what = "keep the previous file as .bak";
    if (backup && keep_backup(path, bak) < 0)
        goto fail_tmp;
    what = "rename";
    if (rename(tmp, path) < 0)
        goto fail_tmp;
    /* The rename itself must survive a crash too. */
    if ((dir = strdup(path)) != NULL && (slash = strrchr(dir, '/')) != NULL) {
        *slash = '\0';
        if ((dfd = open(*dir != '\0' ? dir : "/",
                        O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    free(dir);
    free(tmp);
    free(bak);
    return 0;

fail_tmp:
    snprintf(err, errlen, "cannot %s %s: %s", what,
             strcmp(what, "rename") == 0 ? path : tmp, strerror(errno));
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(tmp);
    free(bak);
    return EMBER_EIO;
fail:
    snprintf(err, errlen, "cannot %s next to %s: %s", what, path,
             strerror(errno));
    free(tmp);
    free(bak);
    return EMBER_EIO;
nomem:
    snprintf(err, errlen, "out of memory");
    free(tmp);
    free(bak);
    return EMBER_ENOMEM;
}
