/* Dense (fully connected) layers: y = x W^T + b with PyTorch's [out, in] weight layout. */
#ifndef CLVAE_DENSE_H
#define CLVAE_DENSE_H

#include "clvae/device/tensor.h"

/* Shapes: N batch, in input features, out output features.
 *   x [N, in], y [N, out], w [out, in], b [out]
 * GEMM goes through clvae_gemm (CLBlast) and the bias gradient through
 * clvae_reduce_forward; no workspace slot is used. */

/* y = x W^T + b (overwrites y, even NaN); b.mem NULL means no bias. */
clvae_status_t clvae_dense_forward(clvae_ctx_t *ctx, clvae_buf_t y, clvae_buf_t x, clvae_buf_t w,
                                   clvae_buf_t b, size_t N, size_t in, size_t out,
                                   clvae_error_t *err);

/* dx += dy W, dw += dy^T x, db += column sums of dy; a gradient whose .mem is
 * NULL is skipped (x is read only for dw, w only for dx). */
clvae_status_t clvae_dense_backward(clvae_ctx_t *ctx, clvae_buf_t dx, clvae_buf_t dw,
                                    clvae_buf_t db, clvae_buf_t dy, clvae_buf_t x,
                                    clvae_buf_t w, size_t N, size_t in, size_t out,
                                    clvae_error_t *err);

/* clvae_dense_backward with dx = dy w written, not added, when dx_set (dx is not read). */
clvae_status_t clvae_dense_backward_dx_set(clvae_ctx_t *ctx, clvae_buf_t dx, int dx_set,
                                           clvae_buf_t dw, clvae_buf_t db, clvae_buf_t dy,
                                           clvae_buf_t x, clvae_buf_t w, size_t N, size_t in,
                                           size_t out, clvae_error_t *err);

#endif
