/* Losses with per-example values, their batch mean and gradients: BCE, BCE with logits, MSE, KL. */
#ifndef CLVAE_LOSS_H
#define CLVAE_LOSS_H

#include "clvae/device/tensor.h"

/*
 * Shapes: N examples, D values per example (pixels), J latent dimensions.
 *   p, t, z, dp, dz   [N, D]   predictions (probabilities or logits), targets, gradients
 *   mu, logvar, d*    [N, J]   posterior means and log-variances, their gradients
 *   per_example       [N]      L_n
 *   mean              [1]      (1/N) sum_n L_n; a view with NULL .mem skips it
 *
 * Forward writes per_example (each L_n is a sum over d in a fixed order, one work
 * group per example, bit-identical between runs on one device) and then the mean
 * (clvae_reduce_all). Backward ACCUMULATES scale * dL_n/dx into the gradient buffer,
 * for every n (scale = 1/N gives the gradient of the mean); a gradient view with
 * NULL .mem is skipped. No workspace is used.
 */

/* How MSE turns squared errors into L_n. */
typedef enum clvae_mse_reduction {
    CLVAE_MSE_SUM = 0, /* L_n = sum_d (p - t)^2, gradient 2 (p - t) */
    CLVAE_MSE_MEAN = 1 /* L_n = (1/D) sum_d (p - t)^2, gradient 2 (p - t) / D */
} clvae_mse_reduction_t;

/* Binary cross-entropy of probabilities p against targets t, summed over d, as PyTorch's
 * binary_cross_entropy: L_n = -sum_d [t max(log p, -100) + (1-t) max(log1p(-p), -100)]. */
clvae_status_t clvae_bce_forward(clvae_ctx_t *ctx, clvae_buf_t per_example, clvae_buf_t mean,
                                 clvae_buf_t p, clvae_buf_t t, size_t N, size_t D,
                                 clvae_error_t *err);

/* dp += scale * (p - t) / max(p (1 - p), 1e-12), PyTorch's BCE gradient. */
clvae_status_t clvae_bce_backward(clvae_ctx_t *ctx, clvae_buf_t dp, clvae_buf_t p, clvae_buf_t t,
                                  float scale, size_t N, size_t D, clvae_error_t *err);

/* BCE of sigmoid(z) against t, fused and stable:
 * L_n = sum_d [max(z, 0) - z t + log1p(exp(-|z|))]. */
clvae_status_t clvae_bce_logits_forward(clvae_ctx_t *ctx, clvae_buf_t per_example,
                                        clvae_buf_t mean, clvae_buf_t z, clvae_buf_t t, size_t N,
                                        size_t D, clvae_error_t *err);

/* dz += scale * (sigmoid(z) - t), with a sigmoid that never overflows. */
clvae_status_t clvae_bce_logits_backward(clvae_ctx_t *ctx, clvae_buf_t dz, clvae_buf_t z,
                                         clvae_buf_t t, float scale, size_t N, size_t D,
                                         clvae_error_t *err);

/* Squared error of p against t, summed or averaged over d (see clvae_mse_reduction_t). */
clvae_status_t clvae_mse_forward(clvae_ctx_t *ctx, clvae_buf_t per_example, clvae_buf_t mean,
                                 clvae_buf_t p, clvae_buf_t t, size_t N, size_t D,
                                 clvae_mse_reduction_t reduction, clvae_error_t *err);

/* dp += scale * 2 (p - t) (SUM) or scale * 2 (p - t) / D (MEAN). */
clvae_status_t clvae_mse_backward(clvae_ctx_t *ctx, clvae_buf_t dp, clvae_buf_t p, clvae_buf_t t,
                                  float scale, size_t N, size_t D,
                                  clvae_mse_reduction_t reduction, clvae_error_t *err);

/* KL(N(mu, exp(logvar)) || N(0, I)) weighted by beta >= 0:
 * L_n = -0.5 beta sum_j (1 + logvar - mu^2 - exp(logvar)). */
clvae_status_t clvae_kl_forward(clvae_ctx_t *ctx, clvae_buf_t per_example, clvae_buf_t mean,
                                clvae_buf_t mu, clvae_buf_t logvar, float beta, size_t N,
                                size_t J, clvae_error_t *err);

/* dmu += scale beta mu; dlogvar += scale beta 0.5 (exp(logvar) - 1); either may be skipped. */
clvae_status_t clvae_kl_backward(clvae_ctx_t *ctx, clvae_buf_t dmu, clvae_buf_t dlogvar,
                                 clvae_buf_t mu, clvae_buf_t logvar, float beta, float scale,
                                 size_t N, size_t J, clvae_error_t *err);

/* Plain-C references in double of the same maths; mean may be NULL, backward accumulates. */

#endif
