/* Label conditioning (conditional VAE): one-hot label channels joined to a tensor; one-hot rows. */
#ifndef CLVAE_CONCAT_H
#define CLVAE_CONCAT_H

#include "clvae/device/tensor.h"

/*
 * Shapes: N examples, C channels of H x W values, K classes.
 *   in, din      [N, C, H, W]
 *   out, dout    [N, C+K, H, W]   channels 0..C-1 are in's; channel C+k is 1 everywhere in
 *                                 the H x W plane when k == y_n, else 0
 *   labels       [N]              class indices stored as floats (0.0f, 1.0f, ...)
 *   onehot       [N, K]
 * A flat vector such as z (or a dense layer's input) is H = W = 1: out [N, C+K].
 *
 * Labels follow xent.h: valid when an integer in 0..K-1 (K <= CLVAE_LABEL_MAX_CLASSES);
 * the kernels never index with an invalid label, they give that example all-zero label
 * channels (an all-zero one-hot row). Check label arrays on the host with
 * clvae_labels_check (xent.h).
 *
 * Forward only moves values, so it is bit-exact. Backward ACCUMULATES din += dout's first
 * C channels; a din view with NULL .mem is skipped; labels get no gradient. Outputs must not
 * overlap inputs. No workspace is used.
 */

/* out = in's C channels followed by the K one-hot channels of each example's label. */
clvae_status_t clvae_label_concat_forward(clvae_ctx_t *ctx, clvae_buf_t out, clvae_buf_t in,
                                          clvae_buf_t labels, size_t N, size_t C, size_t H,
                                          size_t W, size_t K, clvae_error_t *err);

/* din += dout[:, 0:C] (the label channels' gradient is dropped). */
clvae_status_t clvae_label_concat_backward(clvae_ctx_t *ctx, clvae_buf_t din, clvae_buf_t dout,
                                           size_t N, size_t C, size_t H, size_t W, size_t K,
                                           clvae_error_t *err);

/* out[n, k] = 1 when k == y_n, else 0 (e.g. the labels of digits to sample). */
clvae_status_t clvae_onehot(clvae_ctx_t *ctx, clvae_buf_t out, clvae_buf_t labels, size_t N,
                            size_t K, clvae_error_t *err);

/* Plain-C references in double of the same operations and label rules. */

/* Channel slices for [concat] layers: dst[n, dst_c0 + c, :] = src[n, src_c0 + c, :] for c < C
 * (or += when accumulate), dst [N, dst_C, H*W], src [N, src_C, H*W]; bit-exact moves. */
clvae_status_t clvae_channel_slice(clvae_ctx_t *ctx, clvae_buf_t dst, size_t dst_C, size_t dst_c0,
                                   clvae_buf_t src, size_t src_C, size_t src_c0, size_t C,
                                   size_t N, size_t HW, int accumulate, clvae_error_t *err);

#endif
