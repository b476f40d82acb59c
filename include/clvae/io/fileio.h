/* Small file helpers shared by the library: whole-file reads, folder creation. */
#ifndef CLVAE_FILEIO_H
#define CLVAE_FILEIO_H

#include <stddef.h>

#include "clvae/io/error.h"

/* Reads a whole file into a new NUL-terminated buffer (free it); *len (may be NULL) gets its
 * size. A file larger than max bytes is CLVAE_ERR_INVALID ("larger than ... : not a WHAT");
 * a missing one CLVAE_ERR_NOT_FOUND. */
clvae_status_t clvae_file_read(const char *path, size_t max, const char *what, char **out,
                               size_t *len, clvae_error_t *err);

/* Creates a folder and its missing parents (like mkdir -p); 0 on success, -1 with errno. */
int clvae_mkdirs(const char *dir);

#endif
