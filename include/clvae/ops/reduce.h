/* Reductions in a fixed order: row sums, sums of squares, non-finite counts. */
#ifndef CLVAE_REDUCE_H
#define CLVAE_REDUCE_H

#include "clvae/device/tensor.h"

/* What a reduction adds up. */
typedef enum clvae_reduce_op {
    CLVAE_REDUCE_SUM = 0,       /* x */
    CLVAE_REDUCE_SUMSQ = 1,     /* x * x */
    CLVAE_REDUCE_NONFINITE = 2  /* 1 when x is NaN or infinite, else 0 */
} clvae_reduce_op_t;

/* Shape of a strided reduction: out[r] sums in[a*sa + r*sr + b] over a < A, b < B,
 * for r < R. Per-example sums of [N, D]: R=N, A=1, B=D, sr=D. Per-channel sums
 * of NCHW: R=C, A=N, B=H*W, sa=C*H*W, sr=H*W. Column sums of [N, D]: R=D, A=N,
 * B=1, sa=D, sr=1. */
typedef struct clvae_reduce_shape {
    size_t R, A, B;  /* outputs, outer count, inner (contiguous) count */
    size_t sa, sr;   /* strides of a and r, in floats */
} clvae_reduce_shape_t;

/* out[r] = beta * out[r] + alpha * sum f(in ...) for each r (beta == 0 overwrites,
 * even NaN). Bit-identical between runs on one device. No workspace. */
clvae_status_t clvae_reduce_forward(clvae_ctx_t *ctx, clvae_buf_t out, clvae_buf_t in,
                                    clvae_reduce_op_t op, float alpha, float beta,
                                    clvae_reduce_shape_t shape, clvae_error_t *err);

/* out[0] = sum of n floats of in (mean: alpha = 1/n; see clvae_reduce_forward). */
clvae_status_t clvae_reduce_all(clvae_ctx_t *ctx, clvae_buf_t out, clvae_buf_t in,
                                clvae_reduce_op_t op, float alpha, size_t n, clvae_error_t *err);

#endif
