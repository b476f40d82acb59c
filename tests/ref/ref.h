/* Plain-C references in double of the ops, for the tests only (the files in tests/ref). */
#ifndef CLVAE_TEST_REF_H
#define CLVAE_TEST_REF_H

#include "clvae/data/data.h"

/* Plain-C reference of clvae_data_gather. */
void clvae_data_gather_ref(float *out, const clvae_dataset_t *d, const uint32_t *idx, size_t B);

#include "clvae/ops/activation.h"

/* Plain-C reference of clvae_act_forward in double. */
void clvae_act_forward_ref(double *y, const double *x, clvae_act_t act, double slope, size_t n);

/* Plain-C reference of clvae_act_backward in double: reads the same operands (x for SILU,
 * y for the others; either may be NULL when not read). */
void clvae_act_backward_ref(double *dx, const double *dy, const double *x, const double *y,
                            clvae_act_t act, double slope, size_t n);

#include "clvae/ops/concat.h"

/* Reference of clvae_label_concat_forward. */
void clvae_label_concat_forward_ref(double *out, const double *in, const double *labels,
                                    size_t N, size_t C, size_t H, size_t W, size_t K);

/* Reference of clvae_label_concat_backward (accumulates). */
void clvae_label_concat_backward_ref(double *din, const double *dout, size_t N, size_t C,
                                     size_t H, size_t W, size_t K);

/* Reference of clvae_onehot. */
void clvae_onehot_ref(double *out, const double *labels, size_t N, size_t K);

/* Reference of clvae_channel_slice: dst[n, dst_c0 + c] = (or +=) src[n, src_c0 + c]. */
void clvae_channel_slice_ref(double *dst, size_t dst_C, size_t dst_c0, const double *src,
                             size_t src_C, size_t src_c0, size_t C, size_t N, size_t HW,
                             int accumulate);

#include "clvae/ops/conv.h"

/* Plain-C reference of clvae_conv2d_forward in double (b may be NULL). */
void clvae_conv2d_forward_ref(double *y, const double *x, const double *w, const double *b,
                              const clvae_conv_geom_t *g);

/* Plain-C reference of clvae_conv2d_backward in double: accumulates; NULL skips a gradient. */
void clvae_conv2d_backward_ref(double *dx, double *dw, double *db, const double *dy,
                               const double *x, const double *w, const clvae_conv_geom_t *g);

/* Plain-C reference of clvae_conv_transpose2d_forward in double, from the scatter definition. */
void clvae_conv_transpose2d_forward_ref(double *y, const double *x, const double *w,
                                        const double *b, const clvae_conv_geom_t *g);

/* Plain-C reference of clvae_conv_transpose2d_backward in double: accumulates; NULL skips. */
void clvae_conv_transpose2d_backward_ref(double *dx, double *dw, double *db, const double *dy,
                                         const double *x, const double *w,
                                         const clvae_conv_geom_t *g);

/* Plain-C reference of clvae_conv2d_mask: out = w with the taps the causal mask drops set to
 * 0 (out may be w). */
void clvae_conv2d_mask_ref(double *out, const double *w, clvae_conv_mask_t mask, size_t K,
                           size_t C, size_t kh, size_t kw);

#include "clvae/ops/dense.h"

/* C [m, n] (row stride ldc) = alpha op(A) op(B) + beta C0 in double, the layouts of clvae_gemm:
 * op(A) [m, k] is A [m, lda] or (ta) the transpose of A [k, lda]; op(B) [k, n] is B [k, ldb] or
 * (tb) the transpose of B [n, ldb]; c0 (row stride ldc) is read only when beta is not 0. */
void clvae_gemm_ref(double *c, const float *a, const float *b, const float *c0, int ta, int tb,
                    size_t m, size_t n, size_t k, size_t lda, size_t ldb, size_t ldc,
                    double alpha, double beta);

/* Plain-C reference of clvae_dense_forward in double (b may be NULL). */
void clvae_dense_forward_ref(double *y, const double *x, const double *w, const double *b,
                             size_t N, size_t in, size_t out);

/* Plain-C reference of clvae_dense_backward in double (dx, dw, db may be NULL). */
void clvae_dense_backward_ref(double *dx, double *dw, double *db, const double *dy,
                              const double *x, const double *w, size_t N, size_t in, size_t out);

#include "clvae/ops/latent.h"

/* Reference of clvae_reparam_apply in double. */
void clvae_reparam_apply_ref(double *z, const double *eps, const double *mu, const double *logvar,
                             size_t n);

/* Reference of clvae_reparam_forward: eps from clvae_rng_normal_host, then z in double. */
void clvae_reparam_forward_ref(double *z, double *eps, const double *mu, const double *logvar,
                               size_t n, uint64_t seed, uint64_t offset);

/* Reference of clvae_reparam_backward in double (dmu or dlogvar may be NULL; accumulates). */
void clvae_reparam_backward_ref(double *dmu, double *dlogvar, const double *dz, const double *eps,
                                const double *logvar, size_t n);

#include "clvae/ops/loss.h"

/* Reference of clvae_bce_forward. */
void clvae_bce_forward_ref(double *per_example, double *mean, const double *p, const double *t,
                           size_t N, size_t D);

/* Reference of clvae_bce_backward. */
void clvae_bce_backward_ref(double *dp, const double *p, const double *t, double scale, size_t N,
                            size_t D);

/* Reference of clvae_bce_logits_forward. */
void clvae_bce_logits_forward_ref(double *per_example, double *mean, const double *z,
                                  const double *t, size_t N, size_t D);

/* Reference of clvae_bce_logits_backward. */
void clvae_bce_logits_backward_ref(double *dz, const double *z, const double *t, double scale,
                                   size_t N, size_t D);

/* Reference of clvae_mse_forward. */
void clvae_mse_forward_ref(double *per_example, double *mean, const double *p, const double *t,
                           size_t N, size_t D, clvae_mse_reduction_t reduction);

/* Reference of clvae_mse_backward. */
void clvae_mse_backward_ref(double *dp, const double *p, const double *t, double scale, size_t N,
                            size_t D, clvae_mse_reduction_t reduction);

/* Reference of clvae_kl_forward. */
void clvae_kl_forward_ref(double *per_example, double *mean, const double *mu,
                          const double *logvar, double beta, size_t N, size_t J);

/* Reference of clvae_kl_backward (dmu or dlogvar may be NULL). */
void clvae_kl_backward_ref(double *dmu, double *dlogvar, const double *mu, const double *logvar,
                           double beta, double scale, size_t N, size_t J);

#include "clvae/ops/noise.h"

/* Host twin of clvae_noise_gaussian: z_i in double as clvae_rng_normal_host, rounded to float,
 * then the same fmaf and clamp. Agrees with the device to a few float ulps of sigma |z_i|
 * (the device's log/cos/sin are float). out may be in. */
void clvae_noise_gaussian_ref(float *out, const float *in, size_t n, float sigma, int clip,
                              uint64_t seed, uint64_t offset);

/* Downsampling noise in double: each value the mean of its f x f block (planes of h x w). */
void clvae_noise_downsample_ref(double *out, const float *in, size_t n, size_t h, size_t w, int f);

/* Host twin of clvae_noise_mask, bit-identical to the device. out may be in. */
void clvae_noise_mask_ref(float *out, const float *in, size_t n, float p, uint64_t seed,
                          uint64_t offset);

#include "clvae/ops/norm.h"

/* Batch normalization's forward in double: y, and the statistics used (mean, biased var; NULL
 * skips); with train those of x, updating running ([2C + 1]: mean, var, count; NULL: no update)
 * as PyTorch does, else running's. */
void clvae_batchnorm_forward_ref(double *y, double *mean, double *var, const double *x,
                                 const double *gamma, const double *beta, double *running,
                                 int train, double momentum, double eps, size_t N, size_t C,
                                 size_t HW);

/* Its backward with the forward's mean and var: ADDS to dgamma, dbeta and (not NULL) dx. */
void clvae_batchnorm_backward_ref(double *dx, double *dgamma, double *dbeta, const double *dy,
                                  const double *x, const double *gamma, const double *mean,
                                  const double *var, int train, double eps, size_t N, size_t C,
                                  size_t HW);

/* Group normalization's forward in double (PyTorch's nn.GroupNorm): y, and the statistics of each
 * (example, group) [N, G] (mean, biased var; NULL skips). */
void clvae_groupnorm_forward_ref(double *y, double *mean, double *var, const double *x,
                                 const double *gamma, const double *beta, double eps, size_t N,
                                 size_t C, size_t G, size_t HW);

/* Its backward with the forward's mean and var: ADDS to dgamma, dbeta and (not NULL) dx. */
void clvae_groupnorm_backward_ref(double *dx, double *dgamma, double *dbeta, const double *dy,
                                  const double *x, const double *gamma, const double *mean,
                                  const double *var, double eps, size_t N, size_t C, size_t G,
                                  size_t HW);

#include "clvae/ops/spatial.h"

/* Nearest upsampling by F of x [N, C, H, W] into y [N, C, F*H, F*W]. */
void clvae_upsample_forward_ref(double *y, const double *x, size_t F, size_t N, size_t C,
                                size_t H, size_t W);

/* Its backward: ADDS each F x F block's sum of dy to dx. */
void clvae_upsample_backward_ref(double *dx, const double *dy, size_t F, size_t N, size_t C,
                                 size_t H, size_t W);

/* y = x + v[n, c] over the HW pixels of each (n, c). */
void clvae_channel_add_forward_ref(double *y, const double *x, const double *v, size_t N,
                                   size_t C, size_t HW);

/* Its backward to v: ADDS the sum of dy over each (n, c)'s pixels to dv [N, C]. */
void clvae_channel_add_backward_ref(double *dv, const double *dy, size_t N, size_t C, size_t HW);

#include "clvae/ops/embed.h"

/* The sinusoidal time embedding in double: y [N, D] from t [N] (sin, then cos). */
void clvae_time_embed_forward_ref(double *y, const double *t, size_t N, size_t D,
                                  double max_period);

#include "clvae/ops/optim.h"

/* Plain-C references of the same steps in double. */
void clvae_adam_step_ref(double *p, const double *g, double *m, double *v,
                         const clvae_adam_params_t *hp, long step, size_t n);

void clvae_sgd_step_ref(double *p, const double *g, double *buf, const clvae_sgd_params_t *hp,
                        long step, size_t n);

#include "clvae/ops/reduce.h"

/* Plain-C reference of clvae_reduce_forward in double. */
void clvae_reduce_forward_ref(double *out, const double *in, clvae_reduce_op_t op, double alpha,
                              double beta, clvae_reduce_shape_t shape);

#include "clvae/ops/vq.h"

/* Reference of clvae_vq_assign: argmin_k ||z_r - E_k||^2 computed directly in double (ties to
 * the lowest index); best2 (may be NULL) gets each row's margin to the second nearest code. */
void clvae_vq_assign_ref(double *codes, double *margin, const double *z, const double *E,
                         clvae_vq_shape_t sh);

/* Reference of clvae_vq_embed (term may be NULL). */
void clvae_vq_embed_ref(double *q, double *term, const double *z, const double *codes,
                        const double *E, clvae_vq_shape_t sh);

/* Reference of clvae_vq_counts (rows taken from z [N, D, P] directly). */
void clvae_vq_counts_ref(double *counts, double *sums, const double *z, const double *codes,
                         clvae_vq_shape_t sh);

/* Reference of clvae_vq_ema (in place on E, cluster, avg). */
void clvae_vq_ema_ref(double *E, double *cluster, double *avg, const double *counts,
                      const double *sums, double decay, double eps, clvae_vq_shape_t sh);

/* Reference of clvae_vq_restart (in place; cluster and avg may be NULL), with the uniforms u
 * [K] of the stream drawn by the caller; rows from z [N, D, P]. */
void clvae_vq_restart_ref(double *E, double *cluster, double *avg, double *unused, double *flags,
                          const double *counts, const double *z, long after, const float *u,
                          clvae_vq_shape_t sh);

/* Reference of clvae_vq_stats (flags may be NULL). */
void clvae_vq_stats_ref(double out[3], const double *counts, const double *flags,
                        clvae_vq_shape_t sh);

#include "clvae/ops/xent.h"

/* Reference of clvae_xent_forward (mean may be NULL). */
void clvae_xent_forward_ref(double *per_example, double *mean, const double *logits,
                            const double *labels, size_t N, size_t K);

/* Reference of clvae_xent_backward (accumulates). */
void clvae_xent_backward_ref(double *dlogits, const double *logits, const double *labels,
                             double scale, size_t N, size_t K);

/* Reference of clvae_xent_correct. */
void clvae_xent_correct_ref(double *correct, const double *logits, const double *labels,
                            size_t N, size_t K);

/* Reference of clvae_xent_spatial_forward (mean may be NULL). */
void clvae_xent_spatial_forward_ref(double *per_example, double *mean, const double *logits,
                                    const double *labels, size_t N, size_t K, size_t P);

/* Reference of clvae_xent_spatial_backward (accumulates). */
void clvae_xent_spatial_backward_ref(double *dlogits, const double *logits, const double *labels,
                                     double scale, size_t N, size_t K, size_t P);

/* Reference of clvae_xent_spatial_correct. */
void clvae_xent_spatial_correct_ref(double *correct, const double *logits, const double *labels,
                                    size_t N, size_t K, size_t P);

/* Reference of clvae_xent_sample_position in double, u from clvae_rng_uniform_host: writes
 * codes[n, p]; margin [N] (may be NULL) gets each example's distance from u to the nearest
 * cumulative probability, where a float device may round to the other side. */
void clvae_xent_sample_position_ref(double *codes, double *margin, const double *logits,
                                    size_t p, double temperature, uint64_t seed,
                                    uint64_t offset, size_t N, size_t K, size_t P);

/* Reference of clvae_softmax_forward. */
void clvae_softmax_forward_ref(double *probs, const double *logits, size_t N, size_t K);

/* References of cl/diffusion.cl (tests/ref/diffusion_ref.c), in double. The schedule of T steps
 * from its definition: beta (linear: start + (end - start) t / (T - 1); cosine: Nichol &
 * Dhariwal's, s = 0.008, clipped at 0.999) into beta [T]. */
void clvae_schedule_beta_ref(double *beta, int cosine, size_t T, double beta_start,
                             double beta_end);

/* xt[b, i] = sqrt(abar[t_b]) x0[b, i] + sqrt(1 - abar[t_b]) eps[b, i] for the given steps t. */
void clvae_diffusion_noisy_ref(double *xt, const double *x0, const double *eps,
                               const long *t, const double *abar, size_t B, size_t D);

/* One DDPM step x_{t-1} = (x_t - beta_t / sqrt(1 - abar_t) eps) / sqrt(alpha_t) + sigma z with
 * sigma = sqrt(var) (n values); with clip > 0 the posterior mean of the clipped x0 = clamp((x_t -
 * sqrt(1 - abar_t) eps) / sqrt(abar_t), -clip, clip): beta_t sqrt(abar_prev) / (1 - abar_t) x0 +
 * (1 - abar_prev) sqrt(alpha_t) / (1 - abar_t) x_t (abar_prev unused without clip). */
void clvae_ddpm_step_ref(double *out, const double *x, const double *eps, const double *z,
                         double beta, double abar, double abar_prev, double var, double clip,
                         size_t n);

/* One DDIM step from abar_t to abar_prev with eta: x0 = (x - sqrt(1 - abar_t) eps) /
 * sqrt(abar_t), sigma = eta sqrt((1 - abar_prev) / (1 - abar_t)) sqrt(1 - abar_t / abar_prev),
 * out = sqrt(abar_prev) x0 + sqrt(1 - abar_prev - sigma^2) eps + sigma z; with clip > 0, x0
 * clamped to [-clip, clip] and eps recomputed from it, (x - sqrt(abar_t) x0) / sqrt(1 - abar_t). */
void clvae_ddim_step_ref(double *out, const double *x, const double *eps, const double *z,
                         double abar, double abar_prev, double eta, double clip, size_t n);

#endif
