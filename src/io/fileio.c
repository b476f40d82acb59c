/* File helpers shared by the library: whole-file reads, folder creation, the one atomic writer. */
#include "clvae/io/fileio.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How many temp names ("PATH.tmp.PID.0" ...) are tried before giving up. */
#define ATOMIC_TRIES 100

clvae_status_t clvae_file_read(const char *path, size_t max, const char *what, char **out,
                               size_t *len, clvae_error_t *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return CLVAE_FAIL(err, errno == ENOENT ? CLVAE_ERR_NOT_FOUND : CLVAE_ERR_IO,
                          "cannot open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        if (cap >= max) {
            free(buf);
            fclose(f);
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: larger than %zu MiB: not a %s", path,
                              max >> 20, what);
        }
        char *grown = realloc(buf, cap * 2 + 1);
        if (!grown) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = grown;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory reading %s", path);
    if (bad) {
        free(buf);
        return CLVAE_FAIL(err, CLVAE_ERR_IO, "cannot read %s", path);
    }
    buf[n] = 0;
    *out = buf;
    if (len) *len = n;
    return CLVAE_OK;
}

int clvae_mkdirs(const char *dir)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return (mkdir(tmp, 0755) != 0 && errno != EEXIST) ? -1 : 0;
}

/* The first part of dir's path that exists but is not a folder, into buf; 0 when none. */
static int file_in_path(const char *dir, char *buf, size_t size)
{
    snprintf(buf, size, "%s", dir);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p) continue;
        char c = *p;
        *p = 0;
        struct stat sb;
        if (stat(buf, &sb) == 0 && !S_ISDIR(sb.st_mode)) return 1;
        if (!c) return 0;
        *p = c;
    }
}

/* Writes and removes a probe file in folder dir; 0, or -1 with errno. */
static int probe_dir(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/.clvae-probe.%ld", dir, (long)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) return -1;
    int bad = write(fd, "x", 1) != 1;
    int e = errno;
    close(fd);
    unlink(path);
    errno = e;
    return bad ? -1 : 0;
}

clvae_status_t clvae_dir_prepare(const char *dir, char *created, size_t size, clvae_error_t *err)
{
    char tmp[4096];
    if (size) created[0] = 0;
    if (!*dir || snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "cannot use '%.200s' as a folder: %s", dir,
                          *dir ? "the name is too long" : "the name is empty");
    if (file_in_path(dir, tmp, sizeof tmp))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "cannot use %s as a folder: %s is a file, not a "
                          "folder", dir, tmp);
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1;; p++) {
        if (*p != '/' && *p) continue;
        char c = *p;
        *p = 0;
        if (mkdir(tmp, 0755) == 0) {
            if (size && !created[0]) snprintf(created, size, "%s", tmp);
        } else if (errno != EEXIST) {
            int e = errno;
            char made[4096];
            snprintf(made, sizeof made, "%s", size ? created : "");
            clvae_dir_unmake(dir, made);
            if (size) created[0] = 0;
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "cannot create the folder %s: %s", tmp,
                              strerror(e));
        }
        if (!c) break;
        *p = c;
    }
    if (probe_dir(dir) != 0) {
        int e = errno;
        char made[4096];
        snprintf(made, sizeof made, "%s", size ? created : "");
        clvae_dir_unmake(dir, made);
        if (size) created[0] = 0;
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "cannot write into the folder %s: %s", dir,
                          strerror(e));
    }
    return CLVAE_OK;
}

void clvae_dir_unmake(const char *dir, const char *created)
{
    if (!created || !*created) return;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", dir);
    size_t stop = strlen(created);
    for (;;) {
        size_t n = strlen(tmp);
        while (n > 1 && tmp[n - 1] == '/') tmp[--n] = 0;
        if (n < stop || rmdir(tmp) != 0 || n == stop) return;
        char *slash = strrchr(tmp, '/');
        if (!slash) return;
        *slash = 0;
    }
}

int clvae_dir_remove_tree(const char *dir, int depth)
{
    struct stat sb;
    if (lstat(dir, &sb) != 0) return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(sb.st_mode)) return unlink(dir);
    if (depth <= 0) return -1;
    DIR *d = opendir(dir);
    if (!d) return -1;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path ||
            clvae_dir_remove_tree(path, depth - 1) != 0)
            rc = -1;
    }
    closedir(d);
    return rc ? rc : rmdir(dir);
}

clvae_status_t clvae_file_check_writable(const char *path, clvae_error_t *err)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "cannot write %s: it is a folder, not a file",
                          path);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    char part[4096];
    if (file_in_path(dir, part, sizeof part))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "cannot write %s: %s is a file, not a folder",
                          path, part);
    if (stat(dir, &sb) != 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "cannot write %s: the folder %s: %s", path, dir,
                          strerror(errno));
    if (probe_dir(dir) != 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "cannot write %s: the folder %s: %s", path, dir,
                          strerror(errno));
    return CLVAE_OK;
}

/* ---- the atomic writer ----------------------------------------------------------------- */

/* Closes and (remove_tmp) removes the temp file and frees the names. A released or zeroed f
 * holds no names, and then its fd means nothing. */
static void atomic_release(clvae_atomic_file_t *f, int remove_tmp)
{
    if (f->path || f->tmp) {
        if (f->fd >= 0) close(f->fd);
        if (remove_tmp && f->tmp) unlink(f->tmp);
    }
    free(f->path);
    free(f->tmp);
    f->path = f->tmp = NULL;
    f->fd = -1;
}

/* The folder part of path ("." when there is none, "/" for a file in the root), in a new
 * string; NULL when out of memory. */
static char *folder_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = 0;
    }
    return d;
}

clvae_status_t clvae_atomic_open(clvae_atomic_file_t *f, const char *path, clvae_error_t *err)
{
    f->path = f->tmp = NULL;
    f->fd = -1;
    if (!path || !*path) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "no file name to write to");
    size_t cap = strlen(path) + 48;
    f->path = strdup(path);
    f->tmp = malloc(cap);
    if (!f->path || !f->tmp) {
        atomic_release(f, 0);
        return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "%s: out of host memory", path);
    }
    /* a name of our own next to the target: the pid, then a counter past leftovers */
    int e = 0;
    for (int n = 0; n < ATOMIC_TRIES && f->fd < 0; n++) {
        snprintf(f->tmp, cap, "%s.tmp.%ld.%d", path, (long)getpid(), n);
        f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        e = errno;
        if (f->fd < 0 && e != EEXIST) break;
    }
    if (f->fd < 0) {
        clvae_status_t s = CLVAE_FAIL(err, CLVAE_ERR_IO, "%s: cannot create the temp file %s: %s",
                                      path, f->tmp, strerror(e));
        atomic_release(f, 0);
        return s;
    }
    return CLVAE_OK;
}

/* Fails f at step with errno value e: removes the temp file, releases f. */
static clvae_status_t atomic_fail(clvae_atomic_file_t *f, const char *step, int e,
                                  clvae_error_t *err)
{
    clvae_status_t s = CLVAE_FAIL(err, CLVAE_ERR_IO, "%s: cannot %s the temp file %s: %s",
                                  f->path, step, f->tmp, strerror(e));
    atomic_release(f, 1);
    return s;
}

clvae_status_t clvae_atomic_write(clvae_atomic_file_t *f, const void *data, size_t n,
                                  clvae_error_t *err)
{
    if (!f->path || f->fd < 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "write to an atomic file that is not open");
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(f->fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return atomic_fail(f, "write", w < 0 ? errno : EIO, err);
        p += w;
        n -= (size_t)w;
    }
    return CLVAE_OK;
}

clvae_status_t clvae_atomic_commit(clvae_atomic_file_t *f, clvae_error_t *err)
{
    if (!f->path || f->fd < 0) {
        atomic_release(f, 1);
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "commit of an atomic file that is not open");
    }
    if (fsync(f->fd) != 0) return atomic_fail(f, "sync", errno, err);
    int rc = close(f->fd);
    f->fd = -1;
    if (rc != 0) return atomic_fail(f, "close", errno, err);
    if (rename(f->tmp, f->path) != 0) return atomic_fail(f, "rename", errno, err);
    /* the new file is in place; make the rename itself durable */
    clvae_status_t s = CLVAE_OK;
    char *dir = folder_of(f->path);
    if (!dir) {
        s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "%s: out of host memory", f->path);
    } else {
        int dfd = open(dir, O_RDONLY | O_CLOEXEC);
        if (dfd < 0) {
            s = CLVAE_FAIL(err, CLVAE_ERR_IO, "%s: written, but cannot open its folder %s: %s",
                           f->path, dir, strerror(errno));
        } else {
            if (fsync(dfd) != 0 && errno != EINVAL && errno != ENOTSUP)
                s = CLVAE_FAIL(err, CLVAE_ERR_IO, "%s: written, but cannot sync its folder %s: "
                               "%s", f->path, dir, strerror(errno));
            close(dfd);
        }
        free(dir);
    }
    atomic_release(f, 0);
    return s;
}

void clvae_atomic_abort(clvae_atomic_file_t *f)
{
    if (f) atomic_release(f, 1);
}

clvae_status_t clvae_write_file_atomic(const char *path, const void *data, size_t len,
                                       clvae_error_t *err)
{
    clvae_atomic_file_t f;
    clvae_status_t s = clvae_atomic_open(&f, path, err);
    if (!s) s = clvae_atomic_write(&f, data, len, err);
    if (!s) return clvae_atomic_commit(&f, err);
    clvae_atomic_abort(&f);
    return s;
}
