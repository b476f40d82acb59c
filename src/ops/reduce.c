/* Launchers for cl/reduce.cl and the plain-C reference of the same sums. */
#include "clvae/ops/reduce.h"

#include <math.h>
#include <stdint.h>

/* Column-like shapes (B == 1) with at least this many outputs take reduce_cols. */
#define COLS_MIN_R 32

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
    cl_uint oo = (cl_uint)out.off, io = (cl_uint)in.off, A = (cl_uint)sh.A, B = (cl_uint)sh.B;
    cl_uint sa = (cl_uint)sh.sa, sr = (cl_uint)sh.sr, o = (cl_uint)op, R = (cl_uint)sh.R;
    if (sh.B == 1 && sh.R >= COLS_MIN_R) { /* column sums: a work item per output */
        if ((s = clvae_kernel_get(ctx, "reduce", "reduce_cols", &k, err))) return s;
        cl_uint u[7] = {oo, io, R, A, sa, sr, o};
        const cl_mem *mem[2] = {&out.mem, &in.mem};
        CLVAE_CL_RET(err, clSetKernelArg(k, 0, sizeof(cl_mem), mem[0]));
        CLVAE_CL_RET(err, clSetKernelArg(k, 1, sizeof u[0], &u[0]));
        CLVAE_CL_RET(err, clSetKernelArg(k, 2, sizeof(cl_mem), mem[1]));
        for (cl_uint i = 1; i < 6; i++)
            CLVAE_CL_RET(err, clSetKernelArg(k, 2 + i, sizeof u[i], &u[i]));
        CLVAE_CL_RET(err, clSetKernelArg(k, 8, sizeof alpha, &alpha));
        CLVAE_CL_RET(err, clSetKernelArg(k, 9, sizeof beta, &beta));
        CLVAE_CL_RET(err, clSetKernelArg(k, 10, sizeof u[6], &u[6]));
        return clvae_launch_1d(ctx, k, sh.R, err);
    }
    if ((s = clvae_kernel_get(ctx, "reduce", "reduce_rows", &k, err))) return s;
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
