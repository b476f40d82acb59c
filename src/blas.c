/* The CLBlast wrapper: row-major SGEMM with checked arguments and named errors. */
#include "clvae/blas.h"

#include <stdlib.h>
#include <string.h>

#include <clblast_c.h>

#include "ctx_internal.h"

/* The workspace slot of CLBlast's temporary buffer (conv uses 0 and 1). */
#define WS_GEMM 4

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

/* CLBlast's parameters for a device may need work groups larger than the device
 * allows (on pocl's CPU device its Xgemm takes 128 items, its Copy 512, and
 * POCL_MAX_WORK_GROUP_SIZE=64 allows 64): the launch fails with
 * CL_INVALID_WORK_GROUP_SIZE. This gives the GEMM's kernels parameters with work
 * groups of at most 64 items (the defaults otherwise); 0 on success. */
static int gemm_small_work_groups(cl_command_queue q)
{
    cl_device_id d;
    if (clGetCommandQueueInfo(q, CL_QUEUE_DEVICE, sizeof d, &d, NULL) != CL_SUCCESS) return -1;
    static const char *xn[16] = {"GEMMK", "KREG", "KWG",   "KWI",  "MDIMA", "MDIMC",
                                 "MWG",   "NDIMB", "NDIMC", "NWG",  "SA",    "SB",
                                 "STRM",  "STRN",  "VWM",   "VWN"};
    static const size_t xv[16] = {0, 1, 32, 2, 8, 8, 64, 8, 8, 64, 0, 0, 0, 0, 4, 4};
    static const char *cn[4] = {"COPY_DIMX", "COPY_DIMY", "COPY_VW", "COPY_WPT"};
    static const size_t cv[4] = {8, 8, 4, 2};
    static const char *pn[4] = {"PAD_DIMX", "PAD_DIMY", "PAD_WPTX", "PAD_WPTY"};
    static const size_t pv[4] = {8, 8, 4, 2};
    if (CLBlastOverrideParameters(d, "Xgemm", CLBlastPrecisionSingle, 16, xn, xv) ||
        CLBlastOverrideParameters(d, "Copy", CLBlastPrecisionSingle, 4, cn, cv) ||
        CLBlastOverrideParameters(d, "Pad", CLBlastPrecisionSingle, 4, pn, pv))
        return -1;
    return 0;
}

/* Known-good Xgemm parameters for a device class, applied before the first GEMM (CLBlast's
 * own database has no entry for pocl's CPU device and its default runs at 12-20 GFLOP/s
 * there; these reach about 120 at 1024^3, see shared/DESIGN.md). Work groups of 4x4 items
 * fit every device limit. CLVAE_GEMM_DEFAULTS=1 keeps CLBlast's own parameters. */
static void gemm_tune(clvae_ctx_t *ctx)
{
    ctx->gemm_tuned = 1;
    const char *env = getenv("CLVAE_GEMM_DEFAULTS");
    if (env && strcmp(env, "1") == 0) return;
    const clvae_device_info_t *d = clvae_ctx_device(ctx);
    int pocl_cpu = (d->type & CL_DEVICE_TYPE_CPU) && strstr(d->platform_name, "Portable Computing");
    if (!pocl_cpu) return;
    static const char *xn[16] = {"GEMMK", "KREG", "KWG",   "KWI",  "MDIMA", "MDIMC",
                                 "MWG",   "NDIMB", "NDIMC", "NWG",  "SA",    "SB",
                                 "STRM",  "STRN",  "VWM",   "VWN"};
    static const size_t xv[16] = {0, 1, 32, 8, 4, 4, 64, 4, 4, 64, 0, 0, 0, 0, 16, 16};
    if (CLBlastOverrideParameters(d->device_id, "Xgemm", CLBlastPrecisionSingle, 16, xn, xv) ==
        CLBlastSuccess)
        clvae_ctx_log(ctx, CLVAE_LOG_DEBUG, "gemm: pocl CPU Xgemm parameters (64x64 tiles, 4x4 "
                                            "work groups, vectors of 16)");
}

clvae_status_t clvae_gemm(clvae_ctx_t *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                          float alpha, clvae_buf_t a, size_t lda, clvae_buf_t b, size_t ldb,
                          float beta, clvae_buf_t c, size_t ldc, clvae_error_t *err)
{
    if (m == 0 || n == 0 || k == 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "gemm with a zero size (m=%zu n=%zu k=%zu)", m,
                          n, k);
    if (!ctx->gemm_tuned) gemm_tune(ctx);
    cl_command_queue q = clvae_ctx_queue(ctx);
    CLBlastLayout lay = CLBlastLayoutRowMajor;
    CLBlastTranspose ta = trans_a ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastTranspose tb = trans_b ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastStatusCode st;
    for (int attempt = 0;; attempt++) {
        /* CLBlast's padded copies go into a workspace that is grown once and reused: left to
         * itself it allocates them on every call, and with many steps queued ahead on the
         * device those allocations pile up (gigabytes on pocl) and cost page faults */
        size_t bytes = 0;
        clvae_buf_t tmp = {0};
        st = CLBlastSGemmTempBufferSize(lay, ta, tb, m, n, k, a.off, lda, b.off, ldb, c.off, ldc,
                                        &q, &bytes);
        if (st == CLBlastSuccess && bytes > 0) {
            clvae_status_t s = clvae_workspace(ctx, WS_GEMM, (bytes + 3) / 4, &tmp, err);
            if (s) return s;
        }
        if (st == CLBlastSuccess)
            st = tmp.mem ? CLBlastSgemmWithTempBuffer(lay, ta, tb, m, n, k, alpha, a.mem, a.off,
                                                      lda, b.mem, b.off, ldb, beta, c.mem, c.off,
                                                      ldc, &q, NULL, tmp.mem)
                         : CLBlastSgemm(lay, ta, tb, m, n, k, alpha, a.mem, a.off, lda, b.mem,
                                        b.off, ldb, beta, c.mem, c.off, ldc, &q, NULL);
        /* C is written only by the last kernel of a call, so a call that failed to
         * launch left it as it was and can be repeated with smaller work groups */
        if (st != CL_INVALID_WORK_GROUP_SIZE || attempt > 0 || gemm_small_work_groups(q) != 0)
            break;
    }
    if (st != CLBlastSuccess)
        return CLVAE_FAIL(err, CLVAE_ERR_OPENCL,
                          "CLBlastSgemm(%s%s m=%zu n=%zu k=%zu) failed: %s (%d)",
                          trans_a ? "A^T " : "", trans_b ? "B^T" : "", m, n, k,
                          clvae_clblast_status_name(st), (int)st);
    return CLVAE_OK;
}
