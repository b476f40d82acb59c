/* Softmax cross-entropy per row and per map position, softmax, argmax hits, labels, draws. */
#ifndef CLVAE_XENT_H
#define CLVAE_XENT_H

#include <stdint.h>

#include "clvae/device/tensor.h"

/*
 * Shapes: N examples, K classes.
 *   logits, dlogits, probs   [N, K]   z, its gradient, softmax(z)
 *   labels                   [N]      class indices stored as floats (0.0f, 1.0f, ...)
 *   per_example, correct     [N]      L_n, hit flags (1.0f or 0.0f)
 *   mean                     [1]      (1/N) sum_n L_n; a view with NULL .mem skips it
 *
 * Every row is one work group: the row maximum, the sum of exp(z - max) and the argmax
 * are reduced in a fixed order, so results are bit-identical between runs on one device.
 * Forward keeps nothing: backward recomputes max and sum from the logits. Backward
 * ACCUMULATES scale * dL_n/dz for every n (scale = 1/N gives the gradient of the mean);
 * a gradient view with NULL .mem is skipped. No workspace is used.
 *
 * Labels. A label is valid when it is an integer value in 0..K-1 (K <= CLVAE_LABEL_MAX_CLASSES,
 * so every class index is exact in float). The launchers cannot see device data, so the
 * kernels test each label and never index memory with an invalid one (negative, too large,
 * fractional, NaN or infinite); for such an example n:
 *   clvae_xent_forward   L_n = NaN (so the mean is NaN and a finiteness check catches it)
 *   clvae_xent_backward  row n of dlogits is left unchanged
 *   clvae_xent_correct   correct[n] = 0
 * (concat.h's label ops give such an example all-zero label channels.) Check label arrays on
 * the host with clvae_labels_check before uploading them.
 */

/* The largest class count of the label ops: class indices up to 2^24 - 1 are exact in float. */
#define CLVAE_LABEL_MAX_CLASSES ((size_t)1 << 24)

/* CLVAE_OK when each of the N labels is an integer in 0..K-1; otherwise CLVAE_ERR_INVALID
 * naming the first bad label (also for N == 0, K == 0, K > CLVAE_LABEL_MAX_CLASSES, NULL). */
clvae_status_t clvae_labels_check(const float *labels, size_t N, size_t K, clvae_error_t *err);

/* L_n = logsumexp(z_n) - z_n[y_n], computed as (max_k z_nk - z_n[y_n]) + log sum_k
 * exp(z_nk - max_k z_nk), finite for any finite logits; then the mean when wanted. */
clvae_status_t clvae_xent_forward(clvae_ctx_t *ctx, clvae_buf_t per_example, clvae_buf_t mean,
                                  clvae_buf_t logits, clvae_buf_t labels, size_t N, size_t K,
                                  clvae_error_t *err);

/* dlogits += scale * (softmax(z_n) - onehot(y_n)) for every row n with a valid label. */
clvae_status_t clvae_xent_backward(clvae_ctx_t *ctx, clvae_buf_t dlogits, clvae_buf_t logits,
                                   clvae_buf_t labels, float scale, size_t N, size_t K,
                                   clvae_error_t *err);

/* correct[n] = 1 when argmax_k z_nk == y_n, else 0. Ties go to the lowest index; a NaN
 * counts as larger than any number (as numpy's and PyTorch's argmax). */
clvae_status_t clvae_xent_correct(clvae_ctx_t *ctx, clvae_buf_t correct, clvae_buf_t logits,
                                  clvae_buf_t labels, size_t N, size_t K, clvae_error_t *err);

/* probs_n = softmax(z_n) = exp(z_n - max) / sum exp(z_n - max). probs may be the very same
 * view as logits (in place); any other overlap is refused. */
clvae_status_t clvae_softmax_forward(clvae_ctx_t *ctx, clvae_buf_t probs, clvae_buf_t logits,
                                     size_t N, size_t K, clvae_error_t *err);

/*
 * Spatial ops: K classes at each of P positions (a PixelCNN prior over an H x W map of codes,
 * P = H*W), channel-first as a conv layer writes them.
 *   logits, dlogits          [N, K, P]   z[n, k, p] at (n*K + k)*P + p
 *   labels, codes            [N, P]      class indices stored as floats
 *   per_example, correct     [N]         L_n summed over the positions, hit counts
 *   mean                     [1]         (1/N) sum_n L_n; a view with NULL .mem skips it
 * The label rules above hold per position: an invalid label at (n, p) makes L_n NaN, leaves
 * dlogits[n, :, p] unchanged and is no hit. Each position's classes are reduced by one work
 * item in order k = 0 .. K-1, and an example's positions through a tree of a fixed shape, so
 * results are bit-identical between runs on one device. Backward ACCUMULATES; no workspace.
 */

/* L_n = sum_p ( logsumexp_k z[n,k,p] - z[n, y[n,p], p] ), each term as clvae_xent_forward's;
 * then the mean when wanted. */
clvae_status_t clvae_xent_spatial_forward(clvae_ctx_t *ctx, clvae_buf_t per_example,
                                          clvae_buf_t mean, clvae_buf_t logits,
                                          clvae_buf_t labels, size_t N, size_t K, size_t P,
                                          clvae_error_t *err);

/* dlogits[n, :, p] += scale * (softmax(z[n, :, p]) - onehot(y[n, p])) at every position with
 * a valid label (scale = 1/N: the gradient of the mean). */
clvae_status_t clvae_xent_spatial_backward(clvae_ctx_t *ctx, clvae_buf_t dlogits,
                                           clvae_buf_t logits, clvae_buf_t labels, float scale,
                                           size_t N, size_t K, size_t P, clvae_error_t *err);

/* correct[n] = the number of positions p where argmax_k z[n,k,p] == y[n,p] (ties to the lowest
 * index, NaN above any number, as clvae_xent_correct). */
clvae_status_t clvae_xent_spatial_correct(clvae_ctx_t *ctx, clvae_buf_t correct,
                                          clvae_buf_t logits, clvae_buf_t labels, size_t N,
                                          size_t K, size_t P, clvae_error_t *err);

/* codes[n, p] = a class drawn from softmax(z[n, :, p] / temperature) for every example n, as a
 * float; the other positions of codes are left alone (a PixelCNN fills a map one position at a
 * time). The draw is the inverse CDF at u_n = uniform element n of the stream (seed, offset)
 * (rng.h; clvae_rng_uniform_host gives the same u): the first k whose cumulative sum of
 * exp((z - max) / temperature), taken in order k = 0 .. K-1, exceeds u_n times the whole sum;
 * when rounding leaves none, the last k of non-zero weight. A class whose logit is far below
 * the others (-1e30) has weight 0 and is never drawn. A NaN or +inf logit at (n, :, p) gives a
 * NaN code. The call uses clvae_rng_blocks(N) blocks of the stream. CLVAE_ERR_INVALID for
 * temperature <= 0 or not finite, p >= P, and what the other spatial ops refuse. */
clvae_status_t clvae_xent_sample_position(clvae_ctx_t *ctx, clvae_buf_t codes,
                                          clvae_buf_t logits, size_t p, float temperature,
                                          uint64_t seed, uint64_t offset, size_t N, size_t K,
                                          size_t P, clvae_error_t *err);

/* Plain-C references in double of the same maths and the same label rules. */

#endif
