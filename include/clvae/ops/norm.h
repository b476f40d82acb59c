/* Batch and group normalization of [N, C, HW] (a conv map, or a dense output with HW = 1):
 * statistics, normalization and gradients (cl/norm.cl). */
#ifndef CLVAE_NORM_H
#define CLVAE_NORM_H

#include "clvae/device/tensor.h"

/* The layout: N examples of C channels of HW values; channel c's statistics cover N*HW. */
typedef struct clvae_bn_shape {
    size_t N, C, HW;
} clvae_bn_shape_t;

/* stats [2C] = the mean and 1 / sqrt(var + eps) of each channel: with train those of the
 * batch x (biased variance, two passes in a fixed order: bit-identical between runs), else
 * of running. running [2C + 1] = running_mean [C], running_var [C], num_batches_tracked (a
 * float count): with train and update, running_mean and running_var move towards the batch's
 * by momentum as PyTorch's (the variance unbiased), and the count grows by 1. running may be a
 * NULL view only with train and not update. */
clvae_status_t clvae_batchnorm_stats(clvae_ctx_t *ctx, clvae_buf_t stats, clvae_buf_t x,
                                     clvae_buf_t running, int train, int update, float momentum,
                                     float eps, clvae_bn_shape_t sh, clvae_error_t *err);

/* y = (x - mean) * invstd * gamma + beta per channel, with stats from clvae_batchnorm_stats;
 * gamma and beta [C]. */
clvae_status_t clvae_batchnorm_apply(clvae_ctx_t *ctx, clvae_buf_t y, clvae_buf_t x,
                                     clvae_buf_t stats, clvae_buf_t gamma, clvae_buf_t beta,
                                     clvae_bn_shape_t sh, clvae_error_t *err);

/* Backward of apply (with the same stats and train as the forward's): ADDS sum dy * xhat to
 * dgamma and sum dy to dbeta, keeps both sums in sums [2C] (a workspace), and ADDS the input's
 * gradient to dx (a NULL view: not wanted). With train the gradient flows through the batch's
 * mean and variance too; without, the statistics are constants. */
clvae_status_t clvae_batchnorm_backward(clvae_ctx_t *ctx, clvae_buf_t dx, clvae_buf_t dgamma,
                                        clvae_buf_t dbeta, clvae_buf_t sums, clvae_buf_t dy,
                                        clvae_buf_t x, clvae_buf_t stats, clvae_buf_t gamma,
                                        int train, clvae_bn_shape_t sh, clvae_error_t *err);

/* The layout of a group normalization: N examples of C channels of HW values, in G groups of C / G
 * consecutive channels; group (n, g)'s statistics cover its (C / G) * HW values. */
typedef struct clvae_gn_shape {
    size_t N, C, G, HW;
} clvae_gn_shape_t;

/* stats [2 N G] = the means [N, G], then the 1 / sqrt(var + eps) [N, G] of each example's groups
 * of x (biased variance, two passes in a fixed order: bit-identical between runs). */
clvae_status_t clvae_groupnorm_stats(clvae_ctx_t *ctx, clvae_buf_t stats, clvae_buf_t x,
                                     float eps, clvae_gn_shape_t sh, clvae_error_t *err);

/* y = (x - mean) * invstd * gamma_c + beta_c, the statistics of the value's (example, group)
 * from clvae_groupnorm_stats; gamma and beta [C] (PyTorch's nn.GroupNorm weight and bias). */
clvae_status_t clvae_groupnorm_apply(clvae_ctx_t *ctx, clvae_buf_t y, clvae_buf_t x,
                                     clvae_buf_t stats, clvae_buf_t gamma, clvae_buf_t beta,
                                     clvae_gn_shape_t sh, clvae_error_t *err);

/* Backward of apply (with the forward's stats): ADDS sum dy * xhat to dgamma [C] and sum dy to
 * dbeta [C] (over the examples and pixels in a fixed order), and the input's gradient, through
 * the group statistics, to dx (a NULL view: not wanted; then sums is not used either). sums
 * [2 N G] is a workspace. */
clvae_status_t clvae_groupnorm_backward(clvae_ctx_t *ctx, clvae_buf_t dx, clvae_buf_t dgamma,
                                        clvae_buf_t dbeta, clvae_buf_t sums, clvae_buf_t dy,
                                        clvae_buf_t x, clvae_buf_t stats, clvae_buf_t gamma,
                                        clvae_gn_shape_t sh, clvae_error_t *err);

#endif
