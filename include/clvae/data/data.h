/* Datasets: IDX (raw or gzip) and the 8x8 digits CSV, by name or path; device-resident batches. */
#ifndef CLVAE_DATA_H
#define CLVAE_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "clvae/device/tensor.h"

/* A dataset in host memory: n examples of c x h x w bytes, value = byte * scale in [0, 1]. */
typedef struct clvae_dataset {
    size_t n;          /* number of examples */
    size_t c, h, w;    /* shape of one example (MNIST: 1 x 28 x 28; digits: 1 x 8 x 8) */
    uint8_t *pixels;   /* [n, c, h, w] */
    uint8_t *labels;   /* [n] class of each example, or NULL when unlabeled */
    int classes;       /* number of classes (max label + 1, at least 10 for MNIST-like), 0 if no labels */
    float scale;       /* 1/255 for IDX images, 1/16 for the digits CSV */
    char name[96];     /* e.g. "mnist:train" or the images path */
} clvae_dataset_t;

/* Loads an IDX image file (magic 0x00000803: n x h x w unsigned bytes; c = 1) and optionally
 * its IDX label file (magic 0x00000801: n bytes; labels_path NULL = unlabeled), each raw or
 * gzip (detected by the 1f 8b magic, not by the name). classes = max label + 1. Rejects, with a
 * message naming the file: wrong magic, a dimension of 0, sizes whose product overflows or
 * exceeds 2^31 bytes, a file shorter or longer than declared, gzip truncated or corrupt, a
 * label count different from the image count. Statuses: content errors CLVAE_ERR_INVALID; a
 * gzip stream cut short, failing its CRC/length check or followed by garbage
 * CLVAE_ERR_CORRUPT; a missing file CLVAE_ERR_NOT_FOUND; a failed read CLVAE_ERR_IO. Never
 * decompresses more than the header declares + 1 byte. On failure *out is zeroed. */
clvae_status_t clvae_idx_load(const char *images_path, const char *labels_path,
                              clvae_dataset_t *out, clvae_error_t *err);

/* Loads scikit-learn's digits.csv.gz (or an uncompressed copy): 1797 rows of 64 pixel values
 * 0..16 then the label 0..9, comma-separated. Rejects malformed rows (wrong field count, values
 * out of range, non-numbers) naming the file and line. Accepts LF or CRLF endings, a missing
 * final newline, trailing empty lines, blanks around values and "16.0"-style values;
 * classes = 10, scale = 1/16. On failure *out is zeroed. */
clvae_status_t clvae_digits_load(const char *path, clvae_dataset_t *out, clvae_error_t *err);

/* Loads a folder of PNG files (8-bit grey or RGB, all the same size and channels; c = 1 or 3).
 * With sub-folders, PATH/<label>/NAME.png like torchvision's ImageFolder: labels are the
 * sub-folders' ranks in name order (at most 256), classes their count; without, PATH/NAME.png
 * unlabeled. Files are taken in name order; hidden names and non-.png files are skipped.
 * A bad PNG, mixed sizes or channels, an empty folder, PNG files beside sub-folders:
 * CLVAE_ERR_INVALID naming the file; a missing folder CLVAE_ERR_NOT_FOUND. scale = 1/255. */
clvae_status_t clvae_folder_load(const char *path, clvae_dataset_t *out, clvae_error_t *err);

/* Loads NumPy arrays: images uint8 (0..255) or float32 in [0, 1] (stored as round(x * 255)),
 * [N, H, W] or [N, C, H, W] with C 1 or 3; labels (optional) [N] uint8, int32 or int64 in
 * 0..255, classes = max label + 1. Anything else, and a hostile file, is CLVAE_ERR_INVALID
 * naming the file. scale = 1/255. */
clvae_status_t clvae_npy_load(const char *images_path, const char *labels_path,
                              clvae_dataset_t *out, clvae_error_t *err);

/* The folders named datasets are looked up in, ':'-separated, into buf: $CLVAE_DATA_DIR when
 * set, else $XDG_DATA_HOME/clvae (else ~/.local/share/clvae), then data (relative to the
 * working folder). */
void clvae_data_dirs(char *buf, size_t size);

/* Opens a dataset by spec, with files looked up in the folders of data_dir (':'-separated,
 * the first that has the file; NULL or "": clvae_data_dirs):
 *   "mnist:train", "mnist:test"                 data_dir/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
 *   "fashion-mnist:train", "fashion-mnist:test" data_dir/fashion-mnist/... (same names, .gz or raw)
 *   "digits" (all 1797), "digits:train" (first 1500), "digits:test" (last 297)   data_dir/digits/digits.csv.gz
 *   "idx:IMAGES" or "idx:IMAGES,LABELS"         explicit paths (split at the first comma)
 *   "npy:IMAGES.npy" or "npy:IMAGES.npy,LABELS.npy"   (clvae_npy_load)
 *   "folder:PATH"                               PNG files (clvae_folder_load)
 * A missing file is CLVAE_ERR_NOT_FOUND with the hint "run 'make data' or set CLVAE_DATA_DIR";
 * an unknown spec is CLVAE_ERR_INVALID listing the accepted forms. The raw file name is tried
 * before the .gz one (digits: digits.csv.gz before digits.csv); the content decides the format.
 * mnist/fashion-mnist get classes >= 10; name is the spec (idx: the images path). */
clvae_status_t clvae_dataset_open(const char *spec, const char *data_dir, clvae_dataset_t *out,
                                  clvae_error_t *err);

/* Keeps only the first n examples (n >= 1 and <= d->n, else CLVAE_ERR_INVALID). */
clvae_status_t clvae_dataset_limit(clvae_dataset_t *d, size_t n, clvae_error_t *err);

/* Frees the dataset's arrays and zeroes it; a zeroed struct is fine. */
void clvae_dataset_free(clvae_dataset_t *d);

/* The example size c*h*w. */
static inline size_t clvae_dataset_dim(const clvae_dataset_t *d) { return d->c * d->h * d->w; }

/* The counter's third word for shuffle streams (uniforms use 0, normals 1; see rng.h). */
#define CLVAE_SHUFFLE_TAG 2u

/* Writes a permutation of 0..n-1 into perm: Fisher-Yates driven by the Philox host stream
 * (include/clvae/rng.h, clvae_philox4x32_10) keyed by seed, with counters starting at
 * epoch * 2^32, so the order depends only on (seed, epoch, n): bit-identical everywhere.
 * Exactly: perm[k] = k; then for i = n-1 down to 1, j = draw(i + 1), swap perm[i], perm[j].
 * draw(r) takes 32-bit words w in turn until w < floor(2^32 / r) * r and returns w mod r;
 * word d (d = 0, 1, ... over the whole call) is word d mod 4 of philox4x32_10(counter =
 * {lo32(c), hi32(c), CLVAE_SHUFFLE_TAG, 0}, key = {lo32(seed), hi32(seed)}) with
 * c = epoch * 2^32 + d / 4 (mod 2^64). n must be at most 2^32 (else perm is left as is). */
void clvae_shuffle(uint32_t *perm, size_t n, uint64_t seed, uint64_t epoch);

/* A dataset resident on the device: its bytes, uploaded once, in one buffer or, when they
 * exceed the device's maximum allocation, in chunks of whole examples. */
typedef struct clvae_data_dev {
    cl_mem *chunks;     /* [nchunks] buffers; chunk i holds examples i * per_chunk onwards */
    size_t nchunks;
    size_t per_chunk;   /* examples per chunk (the last chunk may hold fewer) */
    size_t n, dim;      /* examples, bytes per example */
    float scale;        /* as in clvae_dataset_t */
} clvae_data_dev_t;

/* Uploads d's pixels to the device: one buffer when they fit the device's maximum allocation
 * (and 2^32 bytes), else as few chunks of whole examples as fit. Refused with a message giving
 * the sizes and what to do: an example larger than one allocation, a dataset larger than the
 * device's global memory (both CLVAE_ERR_INVALID); a failed allocation is CLVAE_ERR_OPENCL. */
clvae_status_t clvae_data_upload(clvae_ctx_t *ctx, const clvae_dataset_t *d, clvae_data_dev_t *out,
                                 clvae_error_t *err);

/* out[b, :] = pixels[idx[idx_off + b], :] * scale for b < B, on the device: idx is a device
 * buffer of cl_uint example indices (e.g. an epoch's permutation uploaded once), out a float
 * view of B * dim floats. Indices >= n are a device-side no-op: the host checks them when
 * uploading a permutation (clvae_data_upload_indices). One launch per chunk. */
clvae_status_t clvae_data_gather(clvae_ctx_t *ctx, clvae_buf_t out, const clvae_data_dev_t *dd,
                                 cl_mem idx, size_t idx_off, size_t B, clvae_error_t *err);

/* Creates (or refills, when *idx is not NULL and big enough) a device buffer of n cl_uint
 * indices from host perm, rejecting any index >= limit. */
clvae_status_t clvae_data_upload_indices(clvae_ctx_t *ctx, cl_mem *idx, const uint32_t *perm,
                                         size_t n, size_t limit, clvae_error_t *err);

/* Releases the device copy (a zeroed struct is fine). */
void clvae_data_dev_free(clvae_data_dev_t *dd);

/* Writes an IDX file of unsigned bytes (MNIST's format: magic 0x0000 08 ndim, the ndim
 * dimensions as big-endian 32-bit numbers, then the bytes), atomically; ndim 1 to 4. */
clvae_status_t clvae_idx_write_u8(const char *path, const size_t *dims, int ndim,
                                  const uint8_t *data, clvae_error_t *err);

/* Floats x [n] in [0, 1] (clamped) as bytes round(255 x): how samples become images. */
void clvae_floats_to_u8(const float *x, size_t n, uint8_t *out);

#endif
