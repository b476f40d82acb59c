/* Launchers for cl/basic.cl (fill, add, affine, select) and the device self-test built on them. */
#include "clvae/ops/basic.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clvae/device/tensor.h"
#include "kargs.h"

/* The view of n floats at x_off in buffer x. */
static clvae_buf_t view(cl_mem x, size_t x_off)
{
    clvae_buf_t b = {x, x_off};
    return b;
}

clvae_status_t clvae_fill_forward(clvae_ctx_t *ctx, cl_mem x, size_t x_off, float v, size_t n,
                                  clvae_error_t *err)
{
    if (n == 0) return CLVAE_OK;
    clvae_status_t s;
    if ((s = clvae_buf_check(view(x, x_off), n, "fill", "x", err))) return s;
    cl_kernel k;
    if ((s = clvae_kernel_get(ctx, "basic", "fill_f32", &k, err))) return s;
    cl_uint off = (cl_uint)x_off, cnt = (cl_uint)n;
    CLVAE_CL_RET(err, clSetKernelArg(k, 0, sizeof x, &x));
    CLVAE_CL_RET(err, clSetKernelArg(k, 1, sizeof off, &off));
    CLVAE_CL_RET(err, clSetKernelArg(k, 2, sizeof v, &v));
    CLVAE_CL_RET(err, clSetKernelArg(k, 3, sizeof cnt, &cnt));
    return clvae_launch_1d(ctx, k, n, err);
}

clvae_status_t clvae_add_forward(clvae_ctx_t *ctx, cl_mem y, size_t y_off, cl_mem a,
                                 size_t a_off, cl_mem b, size_t b_off, size_t n,
                                 clvae_error_t *err)
{
    clvae_status_t s;
    if (n == 0) return CLVAE_OK;
    if ((s = clvae_buf_check(view(y, y_off), n, "add", "y", err)) ||
        (s = clvae_buf_check(view(a, a_off), n, "add", "a", err)) ||
        (s = clvae_buf_check(view(b, b_off), n, "add", "b", err)))
        return s;
    cl_kernel k;
    if ((s = clvae_kernel_get(ctx, "basic", "add_f32", &k, err))) return s;
    cl_uint yo = (cl_uint)y_off, ao = (cl_uint)a_off, bo = (cl_uint)b_off, cnt = (cl_uint)n;
    CLVAE_CL_RET(err, clSetKernelArg(k, 0, sizeof y, &y));
    CLVAE_CL_RET(err, clSetKernelArg(k, 1, sizeof yo, &yo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 2, sizeof a, &a));
    CLVAE_CL_RET(err, clSetKernelArg(k, 3, sizeof ao, &ao));
    CLVAE_CL_RET(err, clSetKernelArg(k, 4, sizeof b, &b));
    CLVAE_CL_RET(err, clSetKernelArg(k, 5, sizeof bo, &bo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 6, sizeof cnt, &cnt));
    return clvae_launch_1d(ctx, k, n, err);
}

clvae_status_t clvae_affine_forward(clvae_ctx_t *ctx, clvae_buf_t y, clvae_buf_t x, float a,
                                    float b, size_t n, clvae_error_t *err)
{
    clvae_status_t s;
    if (n == 0) return CLVAE_OK;
    if ((s = clvae_buf_check(y, n, "affine", "y", err)) ||
        (s = clvae_buf_check(x, n, "affine", "x", err)))
        return s;
    cl_kernel k;
    if ((s = clvae_kernel_get(ctx, "basic", "affine_f32", &k, err))) return s;
    cl_uint yo = (cl_uint)y.off, xo = (cl_uint)x.off, cnt = (cl_uint)n;
    CLVAE_CL_RET(err, clSetKernelArg(k, 0, sizeof y.mem, &y.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 1, sizeof yo, &yo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 2, sizeof x.mem, &x.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 3, sizeof xo, &xo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 4, sizeof a, &a));
    CLVAE_CL_RET(err, clSetKernelArg(k, 5, sizeof b, &b));
    CLVAE_CL_RET(err, clSetKernelArg(k, 6, sizeof cnt, &cnt));
    return clvae_launch_1d(ctx, k, n, err);
}

clvae_status_t clvae_select_forward(clvae_ctx_t *ctx, clvae_buf_t y, clvae_buf_t m, clvae_buf_t a,
                                    clvae_buf_t b, size_t n, clvae_error_t *err)
{
    clvae_status_t s;
    if (n == 0) return CLVAE_OK;
    if ((s = clvae_buf_check(y, n, "select", "y", err)) ||
        (s = clvae_buf_check(m, n, "select", "m", err)) ||
        (s = clvae_buf_check(a, n, "select", "a", err)) ||
        (s = clvae_buf_check(b, n, "select", "b", err)))
        return s;
    cl_kernel k;
    const clvae_karg_t args[] = {clvae_karg_buf(y), clvae_karg_buf(m), clvae_karg_buf(a),
                                 clvae_karg_buf(b), clvae_karg_uint(n)};
    if ((s = clvae_kernel_args(ctx, "basic", "select_f32", &k, args, 5, err))) return s;
    return clvae_launch_1d(ctx, k, n, err);
}

clvae_status_t clvae_selftest(clvae_ctx_t *ctx, size_t n, clvae_error_t *err)
{
    if (n == 0) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "selftest size must be > 0");
    clvae_status_t s = CLVAE_OK;
    float *host = malloc(3 * n * sizeof *host);
    cl_mem a = NULL, b = NULL;
    if (!host) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    float *ha = host, *hb = host + n, *hy = host + 2 * n;
    for (size_t i = 0; i < n; i++) {
        ha[i] = (float)(i % 1000) * 0.25f - 3.0f;
        hb[i] = 1.0f / (float)(1 + i % 7);
    }
    if ((s = clvae_mem_from_host(ctx, CL_MEM_READ_WRITE, ha, n * sizeof(float), &a, err)))
        goto out;
    clvae_buf_t bb;
    if ((s = clvae_buf_alloc(ctx, 2 * n, &bb, err))) goto out;
    b = bb.mem;
    /* b = [fill value | hb], then b[0..n) = a + b[n..2n) */
    clvae_buf_t upper = {b, n};
    if ((s = clvae_buf_upload(ctx, upper, hb, n, err))) goto out;
    if ((s = clvae_fill_forward(ctx, b, 0, 42.0f, n, err))) goto out;
    if ((s = clvae_buf_download(ctx, hy, bb, n, err))) goto out;
    for (size_t i = 0; i < n; i++) {
        if (hy[i] != 42.0f) {
            s = CLVAE_FAIL(err, CLVAE_ERR_CORRUPT, "fill_f32: element %zu is %g, expected 42", i,
                           (double)hy[i]);
            goto out;
        }
    }
    if ((s = clvae_add_forward(ctx, b, 0, a, 0, b, n, n, err))) goto out;
    if ((s = clvae_buf_download(ctx, hy, bb, n, err))) goto out;
    for (size_t i = 0; i < n; i++) {
        float want = ha[i] + hb[i];
        if (hy[i] != want) {
            s = CLVAE_FAIL(err, CLVAE_ERR_CORRUPT, "add_f32: element %zu is %.9g, expected %.9g",
                           i, (double)hy[i], (double)want);
            goto out;
        }
    }
out:
    if (a) clReleaseMemObject(a);
    if (b) clReleaseMemObject(b);
    free(host);
    return s;
}
