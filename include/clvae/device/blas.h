/* Matrix products on the device (row-major SGEMM): through CLBlast, or clvae's own kernels
 * (cl/gemm.cl) for thin shapes and short inner dimensions. */
#ifndef CLVAE_BLAS_H
#define CLVAE_BLAS_H

#include "clvae/device/tensor.h"

/* C[m,n] = alpha * op(A) op(B) + beta * C, row-major, where op(A) is [m,k]
 * (A itself, or A^T when trans_a) and op(B) is [k,n]; lda, ldb, ldc are the
 * row strides of the stored matrices. Enqueued on the context's queue. */
clvae_status_t clvae_gemm(clvae_ctx_t *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                          float alpha, clvae_buf_t a, size_t lda, clvae_buf_t b, size_t ldb,
                          float beta, clvae_buf_t c, size_t ldc, clvae_error_t *err);

/* One GEMM call as clvae_gemm takes it (alpha 1), and how often it is made: what `clvae tune`
 * records from a training step and times, what `clvae bench --gemm` times and `--profile`
 * lists, so that all three name and count the same calls. */
typedef struct clvae_gemm_shape {
    int trans_a, trans_b;  /* the transposes */
    size_t m, n, k;        /* op(A) [m, k], op(B) [k, n], C [m, n] */
    size_t lda, ldb, ldc;  /* row strides of the stored A, B, C */
    int accumulate;        /* beta 1 (C += ...), else beta 0 */
    int calls;             /* calls (per training step; 0: an extra shape, not from a model) */
    int layer;             /* the network layer whose forward or backward made it (-1: none, or
                              calls from several layers counted together) */
    int backward;          /* 1: made by that layer's backward */
} clvae_gemm_shape_t;

/* A call of C[m,n] = op(A) op(B) with densely stored operands (lda = trans_a ? m : k,
 * ldb = trans_b ? k : n, ldc = n), beta 0, made calls times, by no layer. */
clvae_gemm_shape_t clvae_gemm_shape_packed(int trans_a, int trans_b, size_t m, size_t n, size_t k,
                                           int calls);

/* 1 when a and b are the same call: transposes, sizes, leading dimensions and beta (their
 * counts and layers aside). */
int clvae_gemm_shape_same(const clvae_gemm_shape_t *a, const clvae_gemm_shape_t *b);

/* The name the commands print for a call, "AB 64x25088x288": A or AT, B or BT, then m x n x k. */
void clvae_gemm_shape_name(const clvae_gemm_shape_t *s, char *buf, size_t size);

/* The FLOPs of one call: 2 m n k. */
double clvae_gemm_shape_flops(const clvae_gemm_shape_t *s);

/* The floats A, B and C of a call span from their offsets (rows times stride). */
void clvae_gemm_shape_sizes(const clvae_gemm_shape_t *s, size_t *na, size_t *nb, size_t *nc);

/* Makes the call s describes once on a, b, c (alpha 1, beta from s->accumulate). */
clvae_status_t clvae_gemm_shape_run(clvae_ctx_t *ctx, const clvae_gemm_shape_t *s, clvae_buf_t a,
                                    clvae_buf_t b, clvae_buf_t c, clvae_error_t *err);

/* Which kernel clvae_gemm gives the call s describes (its operands at offset 0) with the
 * context's tuning now: 1 clvae's thin kernel, 2 its block kernel, 3 its dot kernel, 0 CLBlast. */
int clvae_gemm_shape_own(clvae_ctx_t *ctx, const clvae_gemm_shape_t *s);

/* gemm_block.max_k's value for "every inner dimension". */
#define CLVAE_GEMM_BLOCK_ANY_K 1073741824

/* The block kernel's defaults on the context's device (an untuned one): the largest inner
 * dimension it takes whole (gemm_block.max_k; 0: none, CLVAE_GEMM_BLOCK_ANY_K: all), whether it takes a small C with a long
 * inner dimension split over k (gemm_block.split) and its block of C per work item
 * (gemm_block.m x gemm_block.n). */
void clvae_gemm_block_defaults(const clvae_ctx_t *ctx, int *max_k, int *split, int *m, int *n);

/* Starts recording the GEMM calls the context makes, by the layer running (the network says
 * which); the conv launchers note their small convs for the tuner meanwhile. */
clvae_status_t clvae_gemm_record_start(clvae_ctx_t *ctx, clvae_error_t *err);

/* Ends the recording: each distinct call of each layer and pass once in *calls, counted (*n of
 * them; free() it; NULL when none). CLVAE_ERR_NOMEM when a call could not be kept. */
clvae_status_t clvae_gemm_record_stop(clvae_ctx_t *ctx, clvae_gemm_shape_t **calls, int *n,
                                      clvae_error_t *err);

/* The name of a CLBlast status code, e.g. "CLBlastInvalidLeadDimA". */
const char *clvae_clblast_status_name(int code);

#endif
