/* The CLBlast wrapper: row-major SGEMM with checked arguments and named errors. */
#include "clvae/blas.h"

#include <clblast_c.h>

const char *clvae_clblast_status_name(int code)
{
    switch (code) {
    case CLBlastNotImplemented: return "CLBlastNotImplemented";
    case CLBlastInvalidMatrixA: return "CLBlastInvalidMatrixA";
    case CLBlastInvalidMatrixB: return "CLBlastInvalidMatrixB";
    case CLBlastInvalidMatrixC: return "CLBlastInvalidMatrixC";
    case CLBlastInvalidDimension: return "CLBlastInvalidDimension";
    case CLBlastInvalidLeadDimA: return "CLBlastInvalidLeadDimA";
    case CLBlastInvalidLeadDimB: return "CLBlastInvalidLeadDimB";
    case CLBlastInvalidLeadDimC: return "CLBlastInvalidLeadDimC";
    case CLBlastInsufficientMemoryA: return "CLBlastInsufficientMemoryA";
    case CLBlastInsufficientMemoryB: return "CLBlastInsufficientMemoryB";
    case CLBlastInsufficientMemoryC: return "CLBlastInsufficientMemoryC";
    case CLBlastInsufficientMemoryTemp: return "CLBlastInsufficientMemoryTemp";
    case CLBlastInvalidOverrideKernel: return "CLBlastInvalidOverrideKernel";
    case CLBlastMissingOverrideParameter: return "CLBlastMissingOverrideParameter";
    case CLBlastInvalidLocalMemUsage: return "CLBlastInvalidLocalMemUsage";
    case CLBlastDatabaseError: return "CLBlastDatabaseError";
    case CLBlastUnknownError: return "CLBlastUnknownError";
    case CLBlastUnexpectedError: return "CLBlastUnexpectedError";
    default: return clvae_cl_error_name(code);
    }
}

clvae_status_t clvae_gemm(clvae_ctx_t *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                          float alpha, clvae_buf_t a, size_t lda, clvae_buf_t b, size_t ldb,
                          float beta, clvae_buf_t c, size_t ldc, clvae_error_t *err)
{
    if (m == 0 || n == 0 || k == 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "gemm with a zero size (m=%zu n=%zu k=%zu)", m,
                          n, k);
    cl_command_queue q = clvae_ctx_queue(ctx);
    CLBlastStatusCode st = CLBlastSgemm(
        CLBlastLayoutRowMajor, trans_a ? CLBlastTransposeYes : CLBlastTransposeNo,
        trans_b ? CLBlastTransposeYes : CLBlastTransposeNo, m, n, k, alpha, a.mem, a.off, lda,
        b.mem, b.off, ldb, beta, c.mem, c.off, ldc, &q, NULL);
    if (st != CLBlastSuccess)
        return CLVAE_FAIL(err, CLVAE_ERR_OPENCL,
                          "CLBlastSgemm(%s%s m=%zu n=%zu k=%zu) failed: %s (%d)",
                          trans_a ? "A^T " : "", trans_b ? "B^T" : "", m, n, k,
                          clvae_clblast_status_name(st), (int)st);
    return CLVAE_OK;
}
