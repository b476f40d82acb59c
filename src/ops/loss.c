/* Launchers for cl/loss.cl: argument checks, per-example sums, batch means, gradients. */
#include "clvae/ops/loss.h"

#include <math.h>
#include <stdint.h>

#include "clvae/ops/reduce.h"

/* Loss kinds as cl/loss.cl numbers them. */
enum { LOSS_BCE = 0, LOSS_BCE_LOGITS = 1, LOSS_SQERR = 2, LOSS_KL = 3 };

/* N examples of D values each: both non-zero and N*D within uint. */
static clvae_status_t check_shape(size_t N, size_t D, const char *op, const char *dname,
                                  clvae_error_t *err)
{
    if (N == 0 || D == 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: zero size (N=%zu %s=%zu)", op, N, dname,
                          D);
    if (N > UINT32_MAX / D)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: N*%s = %zu*%zu exceeds 2^32-1", op, dname,
                          N, D);
    return CLVAE_OK;
}

/* per_example[n] = c * sum_d term(kind, a, b), then mean = average of per_example. */
static clvae_status_t rows_forward(clvae_ctx_t *ctx, const char *op, cl_uint kind, float c,
                                   clvae_buf_t per_example, clvae_buf_t mean, clvae_buf_t a,
                                   const char *aname, clvae_buf_t b, const char *bname, size_t N,
                                   size_t D, const char *dname, clvae_error_t *err)
{
    clvae_status_t s;
    if ((s = check_shape(N, D, op, dname, err)) ||
        (s = clvae_buf_check(per_example, N, op, "per_example", err)) ||
        (s = clvae_buf_check(a, N * D, op, aname, err)) ||
        (s = clvae_buf_check(b, N * D, op, bname, err)))
        return s;
    if (mean.mem && (s = clvae_buf_check(mean, 1, op, "mean", err))) return s;
    cl_kernel k;
    if ((s = clvae_kernel_get(ctx, "loss", "loss_rows", &k, err))) return s;
    cl_uint oo = (cl_uint)per_example.off, ao = (cl_uint)a.off, bo = (cl_uint)b.off;
    cl_uint dd = (cl_uint)D;
    CLVAE_CL_RET(err, clSetKernelArg(k, 0, sizeof per_example.mem, &per_example.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 1, sizeof oo, &oo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 2, sizeof a.mem, &a.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 3, sizeof ao, &ao));
    CLVAE_CL_RET(err, clSetKernelArg(k, 4, sizeof b.mem, &b.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 5, sizeof bo, &bo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 6, sizeof dd, &dd));
    CLVAE_CL_RET(err, clSetKernelArg(k, 7, sizeof kind, &kind));
    CLVAE_CL_RET(err, clSetKernelArg(k, 8, sizeof c, &c));
    if ((s = clvae_launch_groups(ctx, k, N, err))) return s;
    if (!mean.mem) return CLVAE_OK;
    return clvae_reduce_all(ctx, mean, per_example, CLVAE_REDUCE_SUM, 1.0f / (float)N, N, err);
}

/* g += c * dterm(kind)/da elementwise over N*D values; skipped when g.mem is NULL. */
static clvae_status_t elem_backward(clvae_ctx_t *ctx, const char *op, cl_uint kind, float c,
                                    float scale, clvae_buf_t g, clvae_buf_t a, const char *aname,
                                    clvae_buf_t b, const char *bname, size_t N, size_t D,
                                    clvae_error_t *err)
{
    clvae_status_t s;
    if ((s = check_shape(N, D, op, "D", err)) || (s = clvae_buf_check(a, N * D, op, aname, err)) ||
        (s = clvae_buf_check(b, N * D, op, bname, err)))
        return s;
    if (!isfinite(scale))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: scale %g is not finite", op,
                          (double)scale);
    if (!g.mem) return CLVAE_OK;
    if ((s = clvae_buf_check(g, N * D, op, "gradient", err))) return s;
    cl_kernel k;
    if ((s = clvae_kernel_get(ctx, "loss", "loss_grad", &k, err))) return s;
    cl_uint go = (cl_uint)g.off, ao = (cl_uint)a.off, bo = (cl_uint)b.off, n = (cl_uint)(N * D);
    CLVAE_CL_RET(err, clSetKernelArg(k, 0, sizeof g.mem, &g.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 1, sizeof go, &go));
    CLVAE_CL_RET(err, clSetKernelArg(k, 2, sizeof a.mem, &a.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 3, sizeof ao, &ao));
    CLVAE_CL_RET(err, clSetKernelArg(k, 4, sizeof b.mem, &b.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 5, sizeof bo, &bo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 6, sizeof n, &n));
    CLVAE_CL_RET(err, clSetKernelArg(k, 7, sizeof kind, &kind));
    CLVAE_CL_RET(err, clSetKernelArg(k, 8, sizeof c, &c));
    return clvae_launch_1d(ctx, k, N * D, err);
}

clvae_status_t clvae_bce_forward(clvae_ctx_t *ctx, clvae_buf_t per_example, clvae_buf_t mean,
                                 clvae_buf_t p, clvae_buf_t t, size_t N, size_t D,
                                 clvae_error_t *err)
{
    return rows_forward(ctx, "bce_forward", LOSS_BCE, 1.0f, per_example, mean, p, "p", t, "t", N,
                        D, "D", err);
}

clvae_status_t clvae_bce_backward(clvae_ctx_t *ctx, clvae_buf_t dp, clvae_buf_t p, clvae_buf_t t,
                                  float scale, size_t N, size_t D, clvae_error_t *err)
{
    return elem_backward(ctx, "bce_backward", LOSS_BCE, scale, scale, dp, p, "p", t, "t", N, D,
                         err);
}

clvae_status_t clvae_bce_logits_forward(clvae_ctx_t *ctx, clvae_buf_t per_example,
                                        clvae_buf_t mean, clvae_buf_t z, clvae_buf_t t, size_t N,
                                        size_t D, clvae_error_t *err)
{
    return rows_forward(ctx, "bce_logits_forward", LOSS_BCE_LOGITS, 1.0f, per_example, mean, z,
                        "z", t, "t", N, D, "D", err);
}

clvae_status_t clvae_bce_logits_backward(clvae_ctx_t *ctx, clvae_buf_t dz, clvae_buf_t z,
                                         clvae_buf_t t, float scale, size_t N, size_t D,
                                         clvae_error_t *err)
{
    return elem_backward(ctx, "bce_logits_backward", LOSS_BCE_LOGITS, scale, scale, dz, z, "z",
                         t, "t", N, D, err);
}

/* Refuses a reduction that is neither SUM nor MEAN. */
static clvae_status_t check_reduction(clvae_mse_reduction_t r, const char *op,
                                      clvae_error_t *err)
{
    if (r != CLVAE_MSE_SUM && r != CLVAE_MSE_MEAN)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: unknown reduction %d", op, (int)r);
    return CLVAE_OK;
}

clvae_status_t clvae_mse_forward(clvae_ctx_t *ctx, clvae_buf_t per_example, clvae_buf_t mean,
                                 clvae_buf_t p, clvae_buf_t t, size_t N, size_t D,
                                 clvae_mse_reduction_t reduction, clvae_error_t *err)
{
    clvae_status_t s = check_reduction(reduction, "mse_forward", err);
    if (s) return s;
    float c = reduction == CLVAE_MSE_MEAN && D ? (float)(1.0 / (double)D) : 1.0f;
    return rows_forward(ctx, "mse_forward", LOSS_SQERR, c, per_example, mean, p, "p", t, "t", N,
                        D, "D", err);
}

clvae_status_t clvae_mse_backward(clvae_ctx_t *ctx, clvae_buf_t dp, clvae_buf_t p, clvae_buf_t t,
                                  float scale, size_t N, size_t D,
                                  clvae_mse_reduction_t reduction, clvae_error_t *err)
{
    clvae_status_t s = check_reduction(reduction, "mse_backward", err);
    if (s) return s;
    double k = reduction == CLVAE_MSE_MEAN && D ? 2.0 / (double)D : 2.0;
    return elem_backward(ctx, "mse_backward", LOSS_SQERR, (float)(k * scale), scale, dp, p, "p",
                         t, "t", N, D, err);
}

/* beta must be a finite weight >= 0. */
static clvae_status_t check_beta(float beta, const char *op, clvae_error_t *err)
{
    if (!(isfinite(beta) && beta >= 0.0f))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: beta %g must be finite and >= 0", op,
                          (double)beta);
    return CLVAE_OK;
}

clvae_status_t clvae_kl_forward(clvae_ctx_t *ctx, clvae_buf_t per_example, clvae_buf_t mean,
                                clvae_buf_t mu, clvae_buf_t logvar, float beta, size_t N,
                                size_t J, clvae_error_t *err)
{
    clvae_status_t s = check_beta(beta, "kl_forward", err);
    if (s) return s;
    return rows_forward(ctx, "kl_forward", LOSS_KL, -0.5f * beta, per_example, mean, mu, "mu",
                        logvar, "logvar", N, J, "J", err);
}

clvae_status_t clvae_kl_backward(clvae_ctx_t *ctx, clvae_buf_t dmu, clvae_buf_t dlogvar,
                                 clvae_buf_t mu, clvae_buf_t logvar, float beta, float scale,
                                 size_t N, size_t J, clvae_error_t *err)
{
    const char *op = "kl_backward";
    clvae_status_t s;
    if ((s = check_beta(beta, op, err)) || (s = check_shape(N, J, op, "J", err)) ||
        (s = clvae_buf_check(mu, N * J, op, "mu", err)) ||
        (s = clvae_buf_check(logvar, N * J, op, "logvar", err)))
        return s;
    if (!isfinite(scale))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: scale %g is not finite", op,
                          (double)scale);
    cl_uint mask = (dmu.mem ? 1u : 0u) | (dlogvar.mem ? 2u : 0u);
    if (!mask) return CLVAE_OK;
    if ((dmu.mem && (s = clvae_buf_check(dmu, N * J, op, "dmu", err))) ||
        (dlogvar.mem && (s = clvae_buf_check(dlogvar, N * J, op, "dlogvar", err))))
        return s;
    /* a skipped output is never touched by the kernel; pass mu in its place */
    cl_mem gm = dmu.mem ? dmu.mem : mu.mem, gl = dlogvar.mem ? dlogvar.mem : mu.mem;
    cl_kernel k;
    if ((s = clvae_kernel_get(ctx, "loss", "kl_grad", &k, err))) return s;
    cl_uint gmo = (cl_uint)dmu.off, glo = (cl_uint)dlogvar.off, mo = (cl_uint)mu.off;
    cl_uint lo = (cl_uint)logvar.off, n = (cl_uint)(N * J);
    float c = scale * beta;
    CLVAE_CL_RET(err, clSetKernelArg(k, 0, sizeof gm, &gm));
    CLVAE_CL_RET(err, clSetKernelArg(k, 1, sizeof gmo, &gmo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 2, sizeof gl, &gl));
    CLVAE_CL_RET(err, clSetKernelArg(k, 3, sizeof glo, &glo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 4, sizeof mu.mem, &mu.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 5, sizeof mo, &mo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 6, sizeof logvar.mem, &logvar.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 7, sizeof lo, &lo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 8, sizeof n, &n));
    CLVAE_CL_RET(err, clSetKernelArg(k, 9, sizeof c, &c));
    CLVAE_CL_RET(err, clSetKernelArg(k, 10, sizeof mask, &mask));
    return clvae_launch_1d(ctx, k, N * J, err);
}
