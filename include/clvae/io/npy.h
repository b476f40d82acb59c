/* NumPy .npy arrays: parsing a file's bytes (uint8 and float32, C order) and writing uint8. */
#ifndef CLVAE_NPY_H
#define CLVAE_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "clvae/io/error.h"

/* Most dimensions an array may have. */
#define CLVAE_NPY_MAX_DIMS 8

/* The element types clvae reads (little-endian). */
typedef enum clvae_npy_dtype {
    CLVAE_NPY_U8 = 1,  /* |u1 */
    CLVAE_NPY_F32,     /* <f4 */
    CLVAE_NPY_I32,     /* <i4 (labels) */
    CLVAE_NPY_I64      /* <i8 (labels: NumPy's default integers) */
} clvae_npy_dtype_t;

/* An array found in a buffer: its shape and where its data starts (not a copy). */
typedef struct clvae_npy {
    clvae_npy_dtype_t dtype;
    size_t itemsize;         /* bytes per element: 1, 4 or 8 */
    int ndim;
    size_t shape[CLVAE_NPY_MAX_DIMS];
    size_t count;            /* elements: the product of the shape */
    const unsigned char *data; /* count * itemsize bytes, little-endian, C order */
} clvae_npy_t;

/* Parses the n bytes of a .npy file (versions 1, 2 and 3): dtype uint8, or little-endian
 * float32, int32 or int64, C order, a shape of up to CLVAE_NPY_MAX_DIMS dimensions whose data the buffer
 * holds. Anything else is CLVAE_ERR_INVALID naming what (origin names the file). */
clvae_status_t clvae_npy_parse(const void *buf, size_t n, const char *origin, clvae_npy_t *out,
                               clvae_error_t *err);

/* Writes a uint8 array of the given shape to path with the atomic writer. */
clvae_status_t clvae_npy_write_u8(const char *path, const size_t *shape, int ndim,
                                  const uint8_t *data, clvae_error_t *err);

/* The same for float32 ('<f4', little-endian; CLVAE_ERR_INVALID on a big-endian host). */
clvae_status_t clvae_npy_write_f32(const char *path, const size_t *shape, int ndim,
                                   const float *data, clvae_error_t *err);

#endif
