/* Launchers for cl/spatial.cl: nearest upsampling, a per-channel vector added over the pixels, and their gradients. */
#include "clvae/ops/spatial.h"

#include "ops/kargs.h"

typedef clvae_karg_t arg_t;
#define arg_buf clvae_karg_buf
#define arg_uint clvae_karg_uint

/* Kernel `name` of cl/spatial.cl with its arguments set. */
static clvae_status_t kernel(clvae_ctx_t *ctx, const char *name, cl_kernel *k, const arg_t *a,
                             int n, clvae_error_t *err)
{
    return clvae_kernel_args(ctx, "spatial", name, k, a, n, err);
}

/* The shape's sizes and F: none zero, N*C*(F*H)*(F*W) within the kernels' uint indices. */
static clvae_status_t check_shape(const char *op, clvae_map_shape_t sh, size_t F,
                                  clvae_error_t *err)
{
    if (sh.N == 0 || sh.C == 0 || sh.H == 0 || sh.W == 0 || F == 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: zero size (N=%zu C=%zu H=%zu W=%zu F=%zu)",
                          op, sh.N, sh.C, sh.H, sh.W, F);
    if ((double)sh.N * (double)sh.C * (double)(F * sh.H) * (double)(F * sh.W) >= 4294967295.0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: indices exceed 2^32", op);
    return CLVAE_OK;
}

clvae_status_t clvae_upsample_forward(clvae_ctx_t *ctx, clvae_buf_t y, clvae_buf_t x, size_t F,
                                      clvae_map_shape_t sh, clvae_error_t *err)
{
    const char *op = "upsample_forward";
    clvae_status_t s;
    if ((s = check_shape(op, sh, F, err))) return s;
    size_t n = sh.N * sh.C * sh.H * sh.W, total = n * F * F;
    if ((s = clvae_buf_check(y, total, op, "y", err)) ||
        (s = clvae_buf_check(x, n, op, "x", err)))
        return s;
    size_t rows = sh.N * sh.C * sh.H * F;
    arg_t a[] = {arg_buf(y),  arg_buf(x),       arg_uint(sh.H), arg_uint(sh.W),
                 arg_uint(F), arg_uint(rows)};
    cl_kernel k;
    if ((s = kernel(ctx, "upsample_nearest", &k, a, (int)(sizeof a / sizeof *a), err))) return s;
    return clvae_launch_rows(ctx, k, sh.W * F, rows, err);
}

clvae_status_t clvae_upsample_backward(clvae_ctx_t *ctx, clvae_buf_t dx, clvae_buf_t dy, size_t F,
                                       clvae_map_shape_t sh, clvae_error_t *err)
{
    const char *op = "upsample_backward";
    clvae_status_t s;
    if ((s = check_shape(op, sh, F, err))) return s;
    size_t n = sh.N * sh.C * sh.H * sh.W;
    if ((s = clvae_buf_check(dx, n, op, "dx", err)) ||
        (s = clvae_buf_check(dy, n * F * F, op, "dy", err)))
        return s;
    size_t rows = sh.N * sh.C * sh.H;
    arg_t a[] = {arg_buf(dx), arg_buf(dy), arg_uint(sh.H), arg_uint(sh.W), arg_uint(F),
                 arg_uint(rows)};
    cl_kernel k;
    if ((s = kernel(ctx, "upsample_nearest_grad", &k, a, (int)(sizeof a / sizeof *a), err)))
        return s;
    return clvae_launch_rows(ctx, k, sh.W, rows, err);
}

clvae_status_t clvae_channel_add_forward(clvae_ctx_t *ctx, clvae_buf_t y, clvae_buf_t x,
                                         clvae_buf_t v, clvae_map_shape_t sh, clvae_error_t *err)
{
    const char *op = "channel_add_forward";
    clvae_status_t s;
    if ((s = check_shape(op, sh, 1, err))) return s;
    size_t HW = sh.H * sh.W, total = sh.N * sh.C * HW;
    if ((s = clvae_buf_check(y, total, op, "y", err)) ||
        (s = clvae_buf_check(x, total, op, "x", err)) ||
        (s = clvae_buf_check(v, sh.N * sh.C, op, "v", err)))
        return s;
    arg_t a[] = {arg_buf(y), arg_buf(x), arg_buf(v), arg_uint(HW), arg_uint(sh.N * sh.C)};
    cl_kernel k;
    if ((s = kernel(ctx, "channel_add", &k, a, (int)(sizeof a / sizeof *a), err))) return s;
    return clvae_launch_rows(ctx, k, HW, sh.N * sh.C, err);
}

clvae_status_t clvae_channel_add_backward(clvae_ctx_t *ctx, clvae_buf_t dv, clvae_buf_t dy,
                                          clvae_map_shape_t sh, clvae_error_t *err)
{
    const char *op = "channel_add_backward";
    clvae_status_t s;
    if ((s = check_shape(op, sh, 1, err))) return s;
    size_t HW = sh.H * sh.W, NC = sh.N * sh.C;
    if ((s = clvae_buf_check(dv, NC, op, "dv", err)) ||
        (s = clvae_buf_check(dy, NC * HW, op, "dy", err)))
        return s;
    arg_t a[] = {arg_buf(dv), arg_buf(dy), arg_uint(HW), arg_uint(NC)};
    cl_kernel k;
    if ((s = kernel(ctx, "channel_add_grad", &k, a, (int)(sizeof a / sizeof *a), err))) return s;
    return clvae_launch_1d(ctx, k, NC, err);
}
