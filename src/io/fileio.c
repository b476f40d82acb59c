/* Small file helpers shared by the library: whole-file reads, folder creation. */
#include "clvae/io/fileio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
