/* The latent (reparameterization) op of a VAE: z = mu + exp(logvar / 2) * eps. */
#ifndef CLVAE_LATENT_H
#define CLVAE_LATENT_H

#include <stdint.h>

#include "clvae/device/tensor.h"

/*
 * All operands are n = N * J floats, element-wise:
 *   z, eps, mu, logvar, dz, dmu, dlogvar   [N, J]
 * eps ~ N(0, I) is element i of the Philox normal stream (seed, offset) (see rng.h),
 * drawn on the device into the caller's eps buffer; forward keeps eps there for
 * backward. A deterministic encoder output is just z = mu (no op needed). The
 * next independent draw uses offset + clvae_rng_blocks(n). No workspace is used.
 */

/* eps = normal stream (seed, offset); z = mu + exp(0.5 logvar) * eps. */
clvae_status_t clvae_reparam_forward(clvae_ctx_t *ctx, clvae_buf_t z, clvae_buf_t eps,
                                     clvae_buf_t mu, clvae_buf_t logvar, size_t n, uint64_t seed,
                                     uint64_t offset, clvae_error_t *err);

/* z = mu + exp(0.5 logvar) * eps with the caller's eps (tests, IWAE, fixed noise). */
clvae_status_t clvae_reparam_apply(clvae_ctx_t *ctx, clvae_buf_t z, clvae_buf_t eps,
                                   clvae_buf_t mu, clvae_buf_t logvar, size_t n,
                                   clvae_error_t *err);

/* dmu += dz; dlogvar += dz * eps * 0.5 exp(0.5 logvar); a NULL gradient view is skipped. */
clvae_status_t clvae_reparam_backward(clvae_ctx_t *ctx, clvae_buf_t dmu, clvae_buf_t dlogvar,
                                      clvae_buf_t dz, clvae_buf_t eps, clvae_buf_t logvar,
                                      size_t n, clvae_error_t *err);

#endif
