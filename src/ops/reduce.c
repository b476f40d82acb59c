/* Launchers for cl/reduce.cl and the plain-C reference of the same sums. */
#include "clvae/ops/reduce.h"

#include <math.h>
#include <stdint.h>

clvae_status_t clvae_reduce_forward(clvae_ctx_t *ctx, clvae_buf_t out, clvae_buf_t in,
                                    clvae_reduce_op_t op, float alpha, float beta,
                                    clvae_reduce_shape_t sh, clvae_error_t *err)
{
    if (sh.R == 0 || sh.A == 0 || sh.B == 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "reduce: zero size (R=%zu A=%zu B=%zu)", sh.R,
                          sh.A, sh.B);
    if (op != CLVAE_REDUCE_SUM && op != CLVAE_REDUCE_SUMSQ && op != CLVAE_REDUCE_NONFINITE)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "reduce: unknown op %d", (int)op);
    /* A*B must fit the kernel's uint arithmetic, and in's extent (its largest index + 1)
     * the view check */
    double extent = (double)(sh.A - 1) * (double)sh.sa + (double)(sh.R - 1) * (double)sh.sr +
                    (double)sh.B;
    if (extent >= 4294967295.0 || (double)sh.A * (double)sh.B >= 4294967295.0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "reduce: indices exceed 2^32");
    clvae_status_t s;
    if ((s = clvae_buf_check(out, sh.R, "reduce", "out", err)) ||
        (s = clvae_buf_check(in, (size_t)extent, "reduce", "in", err)))
        return s;
    cl_kernel k;
    if ((s = clvae_kernel_get(ctx, "reduce", "reduce_rows", &k, err))) return s;
    cl_uint oo = (cl_uint)out.off, io = (cl_uint)in.off, A = (cl_uint)sh.A, B = (cl_uint)sh.B;
    cl_uint sa = (cl_uint)sh.sa, sr = (cl_uint)sh.sr, o = (cl_uint)op;
    CLVAE_CL_RET(err, clSetKernelArg(k, 0, sizeof out.mem, &out.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 1, sizeof oo, &oo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 2, sizeof in.mem, &in.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 3, sizeof io, &io));
    CLVAE_CL_RET(err, clSetKernelArg(k, 4, sizeof A, &A));
    CLVAE_CL_RET(err, clSetKernelArg(k, 5, sizeof B, &B));
    CLVAE_CL_RET(err, clSetKernelArg(k, 6, sizeof sa, &sa));
    CLVAE_CL_RET(err, clSetKernelArg(k, 7, sizeof sr, &sr));
    CLVAE_CL_RET(err, clSetKernelArg(k, 8, sizeof alpha, &alpha));
    CLVAE_CL_RET(err, clSetKernelArg(k, 9, sizeof beta, &beta));
    CLVAE_CL_RET(err, clSetKernelArg(k, 10, sizeof o, &o));
    return clvae_launch_groups(ctx, k, sh.R, err);
}

clvae_status_t clvae_reduce_all(clvae_ctx_t *ctx, clvae_buf_t out, clvae_buf_t in,
                                clvae_reduce_op_t op, float alpha, size_t n, clvae_error_t *err)
{
    clvae_reduce_shape_t sh = {1, 1, n, 0, 0};
    return clvae_reduce_forward(ctx, out, in, op, alpha, 0.0f, sh, err);
}
