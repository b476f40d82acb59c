/* Matrix products on the device through CLBlast (row-major SGEMM). */
#ifndef CLVAE_BLAS_H
#define CLVAE_BLAS_H

#include "clvae/device/tensor.h"

/* C[m,n] = alpha * op(A) op(B) + beta * C, row-major, where op(A) is [m,k]
 * (A itself, or A^T when trans_a) and op(B) is [k,n]; lda, ldb, ldc are the
 * row strides of the stored matrices. Enqueued on the context's queue. */
clvae_status_t clvae_gemm(clvae_ctx_t *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                          float alpha, clvae_buf_t a, size_t lda, clvae_buf_t b, size_t ldb,
                          float beta, clvae_buf_t c, size_t ldc, clvae_error_t *err);

/* The name of a CLBlast status code, e.g. "CLBlastInvalidLeadDimA". */
const char *clvae_clblast_status_name(int code);

#endif
