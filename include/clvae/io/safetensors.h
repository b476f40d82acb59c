/* safetensors files: write atomically with metadata, read and validate every byte of the header. */
#ifndef CLVAE_SAFETENSORS_H
#define CLVAE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "clvae/io/error.h"

/* Element types clvae stores. */
typedef enum clvae_st_dtype {
    CLVAE_ST_F32 = 0,  /* "F32" */
    CLVAE_ST_U8,       /* "U8" */
    CLVAE_ST_I32,      /* "I32" */
    CLVAE_ST_U32,      /* "U32" */
    CLVAE_ST_I64,      /* "I64" */
    CLVAE_ST_U64       /* "U64" */
} clvae_st_dtype_t;

/* One tensor, for writing (data points at the caller's bytes) or as read (points into the
 * loaded file). Data are little-endian in the file; this is a little-endian host. As read,
 * data is aligned to the element size only when the tensor's offset in the file is (clvae's
 * writer puts tensors back to back, so a U8 tensor can shift those after it): memcpy it. */
typedef struct clvae_st_tensor {
    char name[128];         /* e.g. "encoder.0.weight" */
    clvae_st_dtype_t dtype;
    int ndim;               /* 0..8 (0 = scalar, one element) */
    uint64_t shape[8];
    const void *data;       /* nbytes bytes */
    size_t nbytes;          /* product(shape) * element size */
} clvae_st_tensor_t;

/* Writes tensors (in the given order, data laid out back to back) and string metadata
 * (key/value pairs stored in "__metadata__"; values are arbitrary text: JSON-escaped) to path,
 * atomically: temp file in the same folder, fsync, rename, fsync the folder. The previous file
 * at path is untouched on any failure. Rejects duplicate or empty names, nbytes that do not
 * match the shape, a name or key that is not valid UTF-8 text without control characters.
 * The header is padded with spaces so that the data starts at a multiple of 8 bytes, as the
 * reference implementation does. Bad arguments are CLVAE_ERR_INVALID, a failed write
 * CLVAE_ERR_IO.
 * Fault injection for tests: when the environment variable CLVAE_FAULT_WRITE_AFTER is set to
 * a byte count k, the write fails as if the disk were full (ENOSPC) once k bytes of the temp
 * file are written (-k: k bytes before the end of the whole file, e.g. -1 fails one byte
 * short); the temp file is removed and CLVAE_ERR_IO returned. The variable is read only when
 * set; a value that is not a decimal count (with an optional leading '-') is
 * CLVAE_ERR_INVALID. */
clvae_status_t clvae_st_write(const char *path, const clvae_st_tensor_t *tensors, size_t ntensors,
                              const char *const *meta_keys, const char *const *meta_values,
                              size_t nmeta, clvae_error_t *err);

/* A loaded safetensors file (opaque). */
typedef struct clvae_st_file clvae_st_file_t;

/* Reads and validates a whole file: header length (8 bytes LE) within the file and at most
 * 100 MiB; the header is one JSON object, parsed strictly (no trailing garbage, no duplicate
 * keys, depth limit); each entry has a known dtype, a shape of at most 8 non-negative dims
 * whose byte size does not overflow, and data_offsets [begin, end] with end - begin equal to
 * that size; the offsets lie within the data, do not overlap, and cover it without holes;
 * __metadata__ (optional) maps strings to strings. Any violation: CLVAE_ERR_CORRUPT with a
 * message naming the file and what is wrong (e.g. "x.safetensors: tensor 'a.weight' ends at
 * byte 900 but the data is 800 bytes"). A missing file is CLVAE_ERR_NOT_FOUND.
 * Also rejected as CLVAE_ERR_CORRUPT: a header that does not start with '{' or is padded
 * with anything but spaces, a tensor entry with fields other than dtype, shape and
 * data_offsets, sizes and offsets not written as plain non-negative integers ("1.5", "1e3",
 * "-1"), a tensor name that is empty, holds a NUL or is longer than 127 bytes, and metadata
 * holding a NUL. A read failure is CLVAE_ERR_IO. */
clvae_status_t clvae_st_read(const char *path, clvae_st_file_t **out, clvae_error_t *err);

/* Number of tensors in the file. */
size_t clvae_st_count(const clvae_st_file_t *f);

/* Tensor i (0 <= i < count), in file order of data offsets. */
const clvae_st_tensor_t *clvae_st_get(const clvae_st_file_t *f, size_t i);

/* The tensor with this name, or NULL. */
const clvae_st_tensor_t *clvae_st_find(const clvae_st_file_t *f, const char *name);

/* The metadata value for key (unescaped, NUL-terminated), or NULL. */
const char *clvae_st_meta(const clvae_st_file_t *f, const char *key);

/* Number of metadata entries (added to the contract). */
size_t clvae_st_meta_count(const clvae_st_file_t *f);

/* The key of metadata entry i (0 <= i < clvae_st_meta_count), in file order, or NULL. */
const char *clvae_st_meta_key(const clvae_st_file_t *f, size_t i);

/* Frees the file (NULL is fine). */
void clvae_st_free(clvae_st_file_t *f);

/* The dtype's name ("F32") and element size in bytes ("?" and 0 for an unknown value). */
const char *clvae_st_dtype_name(clvae_st_dtype_t t);
size_t clvae_st_dtype_size(clvae_st_dtype_t t);

#endif
