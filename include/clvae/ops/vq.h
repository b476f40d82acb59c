/* Vector quantization (cl/vq.cl): the nearest of K code vectors for every position of a map,
 * the quantized map, its gradients, and the codebook's moving-average update. */
#ifndef CLVAE_VQ_H
#define CLVAE_VQ_H

#include <stdint.h>

#include "clvae/device/tensor.h"

/*
 * Shape key: N examples of D channels at P positions (a [N, D, H, W] map, P = H*W), K codes.
 *   z, q, dz, dq   [N, D, P]   encoder output, quantized output, their gradients
 *   rows           [N*P, D]    z's vector at each position, row n*P + p (workspace)
 *   dots           [N*P, K]    rows . E^T (workspace)
 *   codes          [N*P]       code index of each position, as a float
 *   codebook E     [K, D]      code vectors (dE its gradient)
 *   norms          [K]         ||E_k||^2 (workspace)
 *   counts, flags  [K]         positions assigned to each code; restarted codes (1 or 0)
 *   sums           [K, D]      the sum of the rows assigned to each code
 *   term           [N]         sum over the example's positions of ||z - q||^2
 *   cluster, avg   [K], [K, D] the moving averages of counts and sums (update = ema)
 *   unused         [K]         steps since each code was last assigned
 * Every sum runs in a fixed order: results are bit-identical between runs on one device.
 */
typedef struct clvae_vq_shape {
    size_t N, D, P, K;
} clvae_vq_shape_t;

/* codes = argmin_k ||z_r - E_k||^2 for every position r, computed as ||E_k||^2 - 2 z_r.E_k with
 * the dot products from one GEMM (rows . E^T; ||z_r||^2 is the same for every k and is left
 * out). Ties (and NaN distances) go to the lowest index. Writes rows, dots and norms too. */
clvae_status_t clvae_vq_assign(clvae_ctx_t *ctx, clvae_buf_t codes, clvae_buf_t rows,
                               clvae_buf_t dots, clvae_buf_t norms, clvae_buf_t z,
                               clvae_buf_t codebook, clvae_vq_shape_t sh, clvae_error_t *err);

/* q[n, :, p] = E[codes[n*P + p]] (an invalid code: zeros); with z given (not a NULL view),
 * term[n] = sum_{d,p} (z - q)^2 too. */
clvae_status_t clvae_vq_embed(clvae_ctx_t *ctx, clvae_buf_t q, clvae_buf_t term, clvae_buf_t z,
                              clvae_buf_t codes, clvae_buf_t codebook, clvae_vq_shape_t sh,
                              clvae_error_t *err);

/* dz += dq + 2 beta scale (z - q): the straight-through gradient (q's gradient passed to z
 * unchanged) plus that of scale * beta * term (the commitment term, e held constant). */
clvae_status_t clvae_vq_backward(clvae_ctx_t *ctx, clvae_buf_t dz, clvae_buf_t dq, clvae_buf_t z,
                                 clvae_buf_t q, float beta, float scale, clvae_vq_shape_t sh,
                                 clvae_error_t *err);

/* counts and sums of the rows assigned to each code. */
clvae_status_t clvae_vq_counts(clvae_ctx_t *ctx, clvae_buf_t counts, clvae_buf_t sums,
                               clvae_buf_t rows, clvae_buf_t codes, clvae_vq_shape_t sh,
                               clvae_error_t *err);

/* dE += 2 scale (counts_k E_k - sums_k): the gradient of scale * term with z held constant (the
 * codebook term ||sg[z] - e||^2), from clvae_vq_counts. */
clvae_status_t clvae_vq_codebook_grad(clvae_ctx_t *ctx, clvae_buf_t dE, clvae_buf_t codebook,
                                      clvae_buf_t counts, clvae_buf_t sums, float scale,
                                      clvae_vq_shape_t sh, clvae_error_t *err);

/* The moving-average update: cluster = decay cluster + (1 - decay) counts, avg = decay avg +
 * (1 - decay) sums, then E_k = avg_k / ((cluster_k + eps) / (n + K eps) n) with n = sum cluster
 * (Laplace smoothing, so a rarely used code does not divide by zero). */
clvae_status_t clvae_vq_ema(clvae_ctx_t *ctx, clvae_buf_t codebook, clvae_buf_t cluster,
                            clvae_buf_t avg, clvae_buf_t counts, clvae_buf_t sums, float decay,
                            float eps, clvae_vq_shape_t sh, clvae_error_t *err);

/* Dead codes: unused_k = 0 for a code with counts_k > 0, else unused_k + 1; a code whose count
 * reaches `after` restarts from row floor(u_k N P) of this batch (u_k: uniform element k of the
 * stream (seed, offset), rng.h), with cluster_k = 1 and avg_k = that row when cluster and avg
 * are given (update = ema; NULL views otherwise), unused_k = 0 and flags_k = 1 (else 0). */
clvae_status_t clvae_vq_restart(clvae_ctx_t *ctx, clvae_buf_t codebook, clvae_buf_t cluster,
                                clvae_buf_t avg, clvae_buf_t unused, clvae_buf_t flags,
                                clvae_buf_t counts, clvae_buf_t rows, long after, uint64_t seed,
                                uint64_t offset, clvae_vq_shape_t sh, clvae_error_t *err);

/* out [3] = the perplexity exp(-sum_k p_k log p_k) of the code use p_k = counts_k / (N P), the
 * codes in use (counts_k > 0), and the sum of flags (0 when flags is a NULL view). */
clvae_status_t clvae_vq_stats(clvae_ctx_t *ctx, clvae_buf_t out, clvae_buf_t counts,
                              clvae_buf_t flags, clvae_vq_shape_t sh, clvae_error_t *err);

#endif
