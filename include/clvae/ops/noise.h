/* Input corruption for denoising autoencoders: additive Gaussian and masking noise on device. */
#ifndef CLVAE_NOISE_H
#define CLVAE_NOISE_H

#include <stdint.h>

#include "clvae/device/tensor.h"

/*
 * Operands: in, out [n], any layout (a batch [N, C, H, W] is just n = N*C*H*W floats).
 * out may be the very same view as in (in place); any other overlap is refused.
 *
 * The noise of element i is element i of a Philox stream (seed, offset) laid out as in
 * rng.h, but with its own counter tag, so that it is independent of the uniform (tag 0),
 * normal (1) and shuffle (2) streams drawn with the same seed and offset:
 *   gaussian  tag CLVAE_NOISE_TAG_GAUSSIAN, Box-Muller normals computed as clvae_rng_normal's
 *   mask      tag CLVAE_NOISE_TAG_MASK, 24-bit uniforms u in [0, 1) as clvae_rng_uniform's
 * Element i depends only on (seed, offset, i), not on n or the work-group size. A call
 * consumes the blocks offset .. offset + clvae_rng_blocks(n) - 1; the next independent draw
 * uses offset + clvae_rng_blocks(n) (or another seed).
 *
 * There is no backward: noise corrupts the data fed to the encoder, and data gets no
 * gradient (the loss compares the reconstruction with the clean input). No workspace.
 */

/* The counter's third word for Gaussian noise streams. */
#define CLVAE_NOISE_TAG_GAUSSIAN 3u
/* The counter's third word for masking noise streams. */
#define CLVAE_NOISE_TAG_MASK 4u

/* out[i] = fma(sigma, z_i, in[i]) with z_i the standard normal element i of the stream;
 * with clip = 1 the result is then clamped to [0, 1] (NaN stays NaN). sigma must be finite
 * and >= 0 (0 copies in), clip 0 or 1, n > 0. */
clvae_status_t clvae_noise_gaussian(clvae_ctx_t *ctx, clvae_buf_t out, clvae_buf_t in, size_t n,
                                    float sigma, int clip, uint64_t seed, uint64_t offset,
                                    clvae_error_t *err);

/* out[i] = 0 when u_i < p, else in[i] bit for bit, with u_i the uniform element i of the
 * stream: each element is zeroed with probability ceil(p 2^24) / 2^24, independently.
 * p in [0, 1]: 0 keeps everything, 1 zeroes everything. n > 0. */
clvae_status_t clvae_noise_mask(clvae_ctx_t *ctx, clvae_buf_t out, clvae_buf_t in, size_t n,
                                float p, uint64_t seed, uint64_t offset, clvae_error_t *err);

/* Kinds of input corruption a denoising model trains with ([noise] type in a config). */
typedef enum clvae_noise_kind {
    CLVAE_NOISE_NONE,       /* the clean input */
    CLVAE_NOISE_GAUSSIAN,   /* clvae_noise_gaussian with std and clip */
    CLVAE_NOISE_MASK,       /* clvae_noise_mask with p */
    CLVAE_NOISE_DOWNSAMPLE  /* clvae_noise_downsample with factor (super-resolution) */
} clvae_noise_kind_t;

/* One corruption setting: the kind and its parameters (the others are ignored). */
typedef struct clvae_noise_spec {
    clvae_noise_kind_t kind;
    float std;              /* Gaussian: standard deviation */
    int clip;               /* Gaussian: 1 clamps to [0, 1] */
    float p;                /* mask: the probability of zeroing a value */
    int factor;             /* downsample: the block side (2 or 4) */
    size_t h, w;            /* downsample: the image planes' height and width (the model's
                               input; set by clvae_model_resolve) */
} clvae_noise_spec_t;

/* out = in (n values) corrupted as spec says, with the stream (seed, offset); kind NONE copies
 * in (nothing to do when out is in). Consumes the blocks of one draw of n values. */
clvae_status_t clvae_noise_apply(clvae_ctx_t *ctx, const clvae_noise_spec_t *spec, clvae_buf_t out,
                                 clvae_buf_t in, size_t n, uint64_t seed, uint64_t offset,
                                 clvae_error_t *err);

/* Super-resolution's corruption: out[i] = the mean of the f x f block of in that holds value i,
 * in planes of h x w values (n a multiple of h w, h and w multiples of f): average pooling, then
 * nearest upsampling back to h x w. No random stream; out and in must not overlap. */
clvae_status_t clvae_noise_downsample(clvae_ctx_t *ctx, clvae_buf_t out, clvae_buf_t in, size_t n,
                                      size_t h, size_t w, int f, clvae_error_t *err);

/* The name of a kind: "none", "gaussian", "mask", "downsample". */
const char *clvae_noise_kind_name(clvae_noise_kind_t k);

#endif
