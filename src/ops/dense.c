/* Launchers of the dense layer: CLBlast GEMMs, a bias kernel (cl/dense.cl), fixed-order sums. */
#include "clvae/ops/dense.h"

#include "clvae/ops/basic.h"
#include "clvae/device/blas.h"
#include "clvae/ops/reduce.h"

/* Key: N batch, I = in, O = out; x [N, I], y [N, O], w [O, I], b [O]. */

/* CLBlast's kernels index with int: every offset + extent must stay below 2^31. */
#define DENSE_MAX_INDEX 2147483647.0

/* clvae_buf_check of operand name, then CLBlast's limit: its kernels index with int, so the
 * view's offset + extent must stay below 2^31. */
static clvae_status_t check_operand(clvae_buf_t v, size_t n, const char *name, clvae_error_t *err)
{
    clvae_status_t s = clvae_buf_check(v, n, "dense", name, err);
    if (s) return s;
    if ((double)v.off + (double)n > DENSE_MAX_INDEX)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "dense: %s (offset %zu + %zu floats) exceeds the 2^31 index limit",
                          name, v.off, n);
    return CLVAE_OK;
}

/* 1 when the n-float view a and the m-float view b share memory. */
static int overlap(clvae_buf_t a, size_t n, clvae_buf_t b, size_t m)
{
    return a.mem && a.mem == b.mem && a.off < b.off + m && b.off < a.off + n;
}

/* Rejects zero sizes and products beyond the index limit. */
static clvae_status_t check_sizes(size_t N, size_t in, size_t out, clvae_error_t *err)
{
    if (N == 0 || in == 0 || out == 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "dense: zero size (N=%zu in=%zu out=%zu)", N,
                          in, out);
    if ((double)N * (double)in > DENSE_MAX_INDEX || (double)N * (double)out > DENSE_MAX_INDEX ||
        (double)in * (double)out > DENSE_MAX_INDEX)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "dense: N=%zu in=%zu out=%zu exceeds the 2^31 index limit", N, in, out);
    return CLVAE_OK;
}

clvae_status_t clvae_dense_forward(clvae_ctx_t *ctx, clvae_buf_t y, clvae_buf_t x, clvae_buf_t w,
                                   clvae_buf_t b, size_t N, size_t in, size_t out,
                                   clvae_error_t *err)
{
    clvae_status_t s;
    if (!ctx) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "dense: no context");
    if ((s = check_sizes(N, in, out, err)) || (s = check_operand(y, N * out, "y", err)) ||
        (s = check_operand(x, N * in, "x", err)) || (s = check_operand(w, out * in, "w", err)) ||
        (b.mem && (s = check_operand(b, out, "b", err))))
        return s;
    if (overlap(y, N * out, x, N * in) || overlap(y, N * out, w, out * in) ||
        overlap(y, N * out, b, out))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "dense: y overlaps an input");
    /* y = b (or 0), then y += x W^T: GEMM with beta = 1 never sees stale NaN in y */
    if (b.mem) {
        cl_kernel k;
        if ((s = clvae_kernel_get(ctx, "dense", "dense_bias_fill", &k, err))) return s;
        cl_uint yo = (cl_uint)y.off, bo = (cl_uint)b.off, o = (cl_uint)out;
        cl_uint n = (cl_uint)(N * out);
        CLVAE_CL_RET(err, clSetKernelArg(k, 0, sizeof y.mem, &y.mem));
        CLVAE_CL_RET(err, clSetKernelArg(k, 1, sizeof yo, &yo));
        CLVAE_CL_RET(err, clSetKernelArg(k, 2, sizeof b.mem, &b.mem));
        CLVAE_CL_RET(err, clSetKernelArg(k, 3, sizeof bo, &bo));
        CLVAE_CL_RET(err, clSetKernelArg(k, 4, sizeof o, &o));
        CLVAE_CL_RET(err, clSetKernelArg(k, 5, sizeof n, &n));
        if ((s = clvae_launch_1d(ctx, k, N * out, err))) return s;
    } else if ((s = clvae_fill_forward(ctx, y.mem, y.off, 0.0f, N * out, err))) {
        return s;
    }
    /* y[N, O] += x[N, I] (w[O, I])^T */
    return clvae_gemm(ctx, 0, 1, N, out, in, 1.0f, x, in, w, in, 1.0f, y, out, err);
}

clvae_status_t clvae_dense_backward(clvae_ctx_t *ctx, clvae_buf_t dx, clvae_buf_t dw,
                                    clvae_buf_t db, clvae_buf_t dy, clvae_buf_t x,
                                    clvae_buf_t w, size_t N, size_t in, size_t out,
                                    clvae_error_t *err)
{
    return clvae_dense_backward_dx_set(ctx, dx, 0, dw, db, dy, x, w, N, in, out, err);
}

clvae_status_t clvae_dense_backward_dx_set(clvae_ctx_t *ctx, clvae_buf_t dx, int dx_set,
                                           clvae_buf_t dw, clvae_buf_t db, clvae_buf_t dy,
                                           clvae_buf_t x, clvae_buf_t w, size_t N, size_t in,
                                           size_t out, clvae_error_t *err)
{
    clvae_status_t s;
    if (!ctx) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "dense: no context");
    if ((s = check_sizes(N, in, out, err)) || (s = check_operand(dy, N * out, "dy", err)) ||
        (dx.mem && ((s = check_operand(dx, N * in, "dx", err)) ||
                    (s = check_operand(w, out * in, "w", err)))) ||
        (dw.mem && ((s = check_operand(dw, out * in, "dw", err)) ||
                    (s = check_operand(x, N * in, "x", err)))) ||
        (db.mem && (s = check_operand(db, out, "db", err))))
        return s;
    /* no gradient may share memory with another one or with an input (even one not read) */
    const clvae_buf_t g[3] = {dx, dw, db};
    const size_t gn[3] = {N * in, out * in, out};
    const char *gname[3] = {"dx", "dw", "db"};
    for (int i = 0; i < 3; i++) {
        if (!g[i].mem) continue;
        if (overlap(g[i], gn[i], dy, N * out) || overlap(g[i], gn[i], w, out * in) ||
            overlap(g[i], gn[i], x, N * in))
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "dense: %s overlaps an input", gname[i]);
        for (int j = i + 1; j < 3; j++)
            if (overlap(g[i], gn[i], g[j], gn[j]))
                return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "dense: %s overlaps %s", gname[i],
                                  gname[j]);
    }
    /* dx[N, I] += dy[N, O] w[O, I] (=, dx_set) */
    if (dx.mem && (s = clvae_gemm(ctx, 0, 0, N, in, out, 1.0f, dy, out, w, in,
                                  dx_set ? 0.0f : 1.0f, dx, in, err)))
        return s;
    /* dw[O, I] += (dy[N, O])^T x[N, I] */
    if (dw.mem && (s = clvae_gemm(ctx, 1, 0, out, in, N, 1.0f, dy, out, x, in, 1.0f, dw, in, err)))
        return s;
    /* db[o] += sum_n dy[n, o]: column sums of [N, O] */
    if (db.mem) {
        clvae_reduce_shape_t sh = {out, N, 1, out, 1};
        if ((s = clvae_reduce_forward(ctx, db, dy, CLVAE_REDUCE_SUM, 1.0f, 1.0f, sh, err)))
            return s;
    }
    return CLVAE_OK;
}
