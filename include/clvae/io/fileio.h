/* File helpers shared by the library: whole-file reads, folder creation, the one atomic writer. */
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

/* Makes folder dir (and its missing parents) and proves that files can be written there by
 * creating and removing a probe file, before any work. created (size bytes) gets the top-most
 * folder this call made, "" when dir was there already, so that a failed start can remove
 * what it made (clvae_dir_unmake). CLVAE_ERR_INVALID with the real reason: a part of the
 * path that is a file ("not a folder"), permission denied, a read-only file system; nothing
 * made is left behind then. */
clvae_status_t clvae_dir_prepare(const char *dir, char *created, size_t size, clvae_error_t *err);

/* Removes the empty folders a clvae_dir_prepare made: dir, then its parents up to and
 * including created (nothing when created is ""); a folder that holds anything stays. */
void clvae_dir_unmake(const char *dir, const char *created);

/* Removes dir and everything under it, at most depth folders deep (symbolic links are
 * removed, never followed); 0 on success (also when dir is not there), -1 with errno. */
int clvae_dir_remove_tree(const char *dir, int depth);

/* Checks, before any work, that a file can be written at path: its folder exists and takes a
 * probe file, and path is not a folder (CLVAE_ERR_INVALID with the reason). */
clvae_status_t clvae_file_check_writable(const char *path, clvae_error_t *err);

/* A file being written in pieces and put in place atomically: the bytes go to a temp file
 * beside the target, "PATH.tmp.PID.N" (the first N from 0 that is free), which commit syncs
 * and renames over the target. Readers see the old file or the whole new one, never a part;
 * a failure leaves the old file as it was and no temp file. */
typedef struct clvae_atomic_file {
    char *path; /* the target (owned copy) */
    char *tmp;  /* the temp file's name (owned) */
    int fd;     /* the temp file, -1 when none is open */
} clvae_atomic_file_t;

/* Creates the temp file beside path; CLVAE_ERR_IO (naming path and the temp file) when it
 * cannot be made, and then f holds nothing to commit or abort. */
clvae_status_t clvae_atomic_open(clvae_atomic_file_t *f, const char *path, clvae_error_t *err);

/* Appends n bytes to the temp file (through short writes and EINTR); on a failure the temp
 * file is removed and f closed (commit then fails, abort does nothing). */
clvae_status_t clvae_atomic_write(clvae_atomic_file_t *f, const void *data, size_t n,
                                  clvae_error_t *err);

/* Syncs and closes the temp file, renames it over the target, then syncs the target's folder
 * so that the rename is durable (a folder that cannot be synced, EINVAL or ENOTSUP, is let be).
 * A failure before the rename removes the temp file and leaves the target as it was; a failed
 * folder sync is an error with the new file in place. f is released either way. */
clvae_status_t clvae_atomic_commit(clvae_atomic_file_t *f, clvae_error_t *err);

/* Gives up: closes and removes the temp file and releases f (a released or zeroed f is fine). */
void clvae_atomic_abort(clvae_atomic_file_t *f);

/* Writes len bytes to path atomically: clvae_atomic_open, one write, clvae_atomic_commit. */
clvae_status_t clvae_write_file_atomic(const char *path, const void *data, size_t len,
                                       clvae_error_t *err);

#endif
