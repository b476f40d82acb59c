/* Launchers for cl/norm.cl: batch and group normalization's statistics, normalization and gradients. */
#include "clvae/ops/norm.h"

#include "ops/kargs.h"

typedef clvae_karg_t arg_t;
#define arg_buf clvae_karg_buf
#define arg_uint clvae_karg_uint
#define arg_float clvae_karg_float

/* Kernel `name` of cl/norm.cl with its arguments set. */
static clvae_status_t kernel(clvae_ctx_t *ctx, const char *name, cl_kernel *k, const arg_t *a,
                             int n, clvae_error_t *err)
{
    return clvae_kernel_args(ctx, "norm", name, k, a, n, err);
}

/* The shape's sizes: none zero, N*C*HW within the kernels' uint indices. */
static clvae_status_t check_shape(const char *op, clvae_bn_shape_t sh, clvae_error_t *err)
{
    if (sh.N == 0 || sh.C == 0 || sh.HW == 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: zero size (N=%zu C=%zu HW=%zu)", op, sh.N,
                          sh.C, sh.HW);
    if ((double)sh.N * (double)sh.C * (double)sh.HW >= 4294967295.0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: indices exceed 2^32", op);
    return CLVAE_OK;
}

clvae_status_t clvae_batchnorm_stats(clvae_ctx_t *ctx, clvae_buf_t stats, clvae_buf_t x,
                                     clvae_buf_t running, int train, int update, float momentum,
                                     float eps, clvae_bn_shape_t sh, clvae_error_t *err)
{
    const char *op = "batchnorm_stats";
    size_t total = sh.N * sh.C * sh.HW;
    clvae_status_t s;
    if ((s = check_shape(op, sh, err))) return s;
    if (!(eps > 0.0f) || !(momentum >= 0.0f && momentum <= 1.0f))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: eps %g must be > 0 and momentum %g in "
                          "[0, 1]", op, (double)eps, (double)momentum);
    int needs_running = !train || update;
    if ((s = clvae_buf_check(stats, 2 * sh.C, op, "stats", err)) ||
        (train && (s = clvae_buf_check(x, total, op, "x", err))) ||
        (needs_running && (s = clvae_buf_check(running, 2 * sh.C + 1, op, "running", err))))
        return s;
    cl_kernel k;
    if (!train) {
        arg_t a[] = {arg_buf(stats), arg_buf(running), arg_uint(sh.C), arg_float(eps)};
        if ((s = kernel(ctx, "bn_running", &k, a, (int)(sizeof a / sizeof *a), err))) return s;
        return clvae_launch_1d(ctx, k, sh.C, err);
    }
    /* without update the kernel does not read running: stats stands in for it */
    clvae_buf_t r = update ? running : stats;
    arg_t a[] = {arg_buf(stats), arg_buf(x),         arg_buf(r),          arg_uint(sh.N),
                 arg_uint(sh.C), arg_uint(sh.HW),    arg_uint(update ? 1 : 0),
                 arg_float(momentum), arg_float(eps)};
    if ((s = kernel(ctx, "bn_stats", &k, a, (int)(sizeof a / sizeof *a), err))) return s;
    return clvae_launch_groups(ctx, k, sh.C, err);
}

clvae_status_t clvae_batchnorm_apply(clvae_ctx_t *ctx, clvae_buf_t y, clvae_buf_t x,
                                     clvae_buf_t stats, clvae_buf_t gamma, clvae_buf_t beta,
                                     clvae_bn_shape_t sh, clvae_error_t *err)
{
    const char *op = "batchnorm_apply";
    size_t total = sh.N * sh.C * sh.HW;
    clvae_status_t s;
    if ((s = check_shape(op, sh, err)) || (s = clvae_buf_check(y, total, op, "y", err)) ||
        (s = clvae_buf_check(x, total, op, "x", err)) ||
        (s = clvae_buf_check(stats, 2 * sh.C, op, "stats", err)) ||
        (s = clvae_buf_check(gamma, sh.C, op, "gamma", err)) ||
        (s = clvae_buf_check(beta, sh.C, op, "beta", err)))
        return s;
    arg_t a[] = {arg_buf(y),     arg_buf(x),     arg_buf(stats), arg_buf(gamma),
                 arg_buf(beta),  arg_uint(sh.N), arg_uint(sh.C), arg_uint(sh.HW)};
    cl_kernel k;
    if ((s = kernel(ctx, "bn_apply", &k, a, (int)(sizeof a / sizeof *a), err))) return s;
    return clvae_launch_rows(ctx, k, sh.HW, sh.N * sh.C, err);
}

clvae_status_t clvae_batchnorm_backward(clvae_ctx_t *ctx, clvae_buf_t dx, clvae_buf_t dgamma,
                                        clvae_buf_t dbeta, clvae_buf_t sums, clvae_buf_t dy,
                                        clvae_buf_t x, clvae_buf_t stats, clvae_buf_t gamma,
                                        int train, clvae_bn_shape_t sh, clvae_error_t *err)
{
    const char *op = "batchnorm_backward";
    size_t total = sh.N * sh.C * sh.HW;
    clvae_status_t s;
    if ((s = check_shape(op, sh, err)) || (s = clvae_buf_check(dgamma, sh.C, op, "dgamma", err)) ||
        (s = clvae_buf_check(dbeta, sh.C, op, "dbeta", err)) ||
        (s = clvae_buf_check(sums, 2 * sh.C, op, "sums", err)) ||
        (s = clvae_buf_check(dy, total, op, "dy", err)) ||
        (s = clvae_buf_check(x, total, op, "x", err)) ||
        (s = clvae_buf_check(stats, 2 * sh.C, op, "stats", err)) ||
        (s = clvae_buf_check(gamma, sh.C, op, "gamma", err)) ||
        (s = clvae_buf_check_opt(dx, total, op, "dx", err)))
        return s;
    arg_t p[] = {arg_buf(sums), arg_buf(dgamma), arg_buf(dbeta), arg_buf(dy), arg_buf(x), arg_buf(stats), arg_uint(sh.N), arg_uint(sh.C),
                 arg_uint(sh.HW)};
    cl_kernel k;
    if ((s = kernel(ctx, "bn_backward_params", &k, p, (int)(sizeof p / sizeof *p), err)) ||
        (s = clvae_launch_groups(ctx, k, sh.C, err)))
        return s;
    if (!dx.mem) return CLVAE_OK;
    arg_t d[] = {arg_buf(dx),    arg_buf(dy),    arg_buf(x),      arg_buf(stats),
                 arg_buf(sums),  arg_buf(gamma), arg_uint(sh.N),  arg_uint(sh.C),
                 arg_uint(sh.HW), arg_uint(train ? 1 : 0)};
    if ((s = kernel(ctx, "bn_backward_data", &k, d, (int)(sizeof d / sizeof *d), err))) return s;
    return clvae_launch_rows(ctx, k, sh.HW, sh.N * sh.C, err);
}

/* The shape's sizes: none zero, G dividing C, N*C*HW within the kernels' uint indices. */
static clvae_status_t check_gn_shape(const char *op, clvae_gn_shape_t sh, clvae_error_t *err)
{
    if (sh.N == 0 || sh.C == 0 || sh.G == 0 || sh.HW == 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: zero size (N=%zu C=%zu G=%zu HW=%zu)", op,
                          sh.N, sh.C, sh.G, sh.HW);
    if (sh.C % sh.G != 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: %zu channels do not split into %zu groups",
                          op, sh.C, sh.G);
    if ((double)sh.N * (double)sh.C * (double)sh.HW >= 4294967295.0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: indices exceed 2^32", op);
    return CLVAE_OK;
}

clvae_status_t clvae_groupnorm_stats(clvae_ctx_t *ctx, clvae_buf_t stats, clvae_buf_t x,
                                     float eps, clvae_gn_shape_t sh, clvae_error_t *err)
{
    const char *op = "groupnorm_stats";
    clvae_status_t s;
    if ((s = check_gn_shape(op, sh, err))) return s;
    if (!(eps > 0.0f))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: eps %g must be > 0", op, (double)eps);
    size_t NG = sh.N * sh.G, M = sh.C / sh.G * sh.HW;
    if ((s = clvae_buf_check(stats, 2 * NG, op, "stats", err)) ||
        (s = clvae_buf_check(x, sh.N * sh.C * sh.HW, op, "x", err)))
        return s;
    arg_t a[] = {arg_buf(stats), arg_buf(x), arg_uint(sh.N), arg_uint(sh.G), arg_uint(M),
                 arg_float(eps)};
    cl_kernel k;
    if ((s = kernel(ctx, "gn_stats", &k, a, (int)(sizeof a / sizeof *a), err))) return s;
    return clvae_launch_groups(ctx, k, NG, err);
}

clvae_status_t clvae_groupnorm_apply(clvae_ctx_t *ctx, clvae_buf_t y, clvae_buf_t x,
                                     clvae_buf_t stats, clvae_buf_t gamma, clvae_buf_t beta,
                                     clvae_gn_shape_t sh, clvae_error_t *err)
{
    const char *op = "groupnorm_apply";
    size_t total = sh.N * sh.C * sh.HW;
    clvae_status_t s;
    if ((s = check_gn_shape(op, sh, err)) || (s = clvae_buf_check(y, total, op, "y", err)) ||
        (s = clvae_buf_check(x, total, op, "x", err)) ||
        (s = clvae_buf_check(stats, 2 * sh.N * sh.G, op, "stats", err)) ||
        (s = clvae_buf_check(gamma, sh.C, op, "gamma", err)) ||
        (s = clvae_buf_check(beta, sh.C, op, "beta", err)))
        return s;
    arg_t a[] = {arg_buf(y),      arg_buf(x),      arg_buf(stats),  arg_buf(gamma),
                 arg_buf(beta),   arg_uint(sh.N),  arg_uint(sh.C),  arg_uint(sh.G),
                 arg_uint(sh.HW)};
    cl_kernel k;
    if ((s = kernel(ctx, "gn_apply", &k, a, (int)(sizeof a / sizeof *a), err))) return s;
    return clvae_launch_rows(ctx, k, sh.HW, sh.N * sh.C, err);
}

/* The local size of a work group that walks rows of HW blocks: the kernel's, but no more than HW
 * rounded up to a power of two (items past the row's end would only idle). */
static size_t local_for(const clvae_ctx_t *ctx, cl_kernel k, size_t HW)
{
    size_t wg = clvae_kernel_wg(ctx, k), l = 1;
    while (l < HW && l * 2 <= wg) l *= 2;
    return l;
}

clvae_status_t clvae_groupnorm_backward(clvae_ctx_t *ctx, clvae_buf_t dx, clvae_buf_t dgamma,
                                        clvae_buf_t dbeta, clvae_buf_t sums, clvae_buf_t dy,
                                        clvae_buf_t x, clvae_buf_t stats, clvae_buf_t gamma,
                                        clvae_gn_shape_t sh, clvae_error_t *err)
{
    const char *op = "groupnorm_backward";
    size_t total = sh.N * sh.C * sh.HW, NG = sh.N * sh.G;
    clvae_status_t s;
    if ((s = check_gn_shape(op, sh, err)) ||
        (s = clvae_buf_check(dgamma, sh.C, op, "dgamma", err)) ||
        (s = clvae_buf_check(dbeta, sh.C, op, "dbeta", err)) ||
        (s = clvae_buf_check(dy, total, op, "dy", err)) ||
        (s = clvae_buf_check(x, total, op, "x", err)) ||
        (s = clvae_buf_check(stats, 2 * NG, op, "stats", err)) ||
        (s = clvae_buf_check(gamma, sh.C, op, "gamma", err)) ||
        (s = clvae_buf_check_opt(dx, total, op, "dx", err)) ||
        (dx.mem && (s = clvae_buf_check(sums, 2 * NG, op, "sums", err))))
        return s;
    arg_t p[] = {arg_buf(dgamma), arg_buf(dbeta), arg_buf(dy),    arg_buf(x),     arg_buf(stats),
                 arg_uint(sh.N),  arg_uint(sh.C), arg_uint(sh.G), arg_uint(sh.HW)};
    cl_kernel k;
    if ((s = kernel(ctx, "gn_backward_params", &k, p, (int)(sizeof p / sizeof *p), err)) ||
        (s = clvae_launch_wg(ctx, k, sh.C, local_for(ctx, k, (sh.HW + 7) / 8), err)))
        return s;
    if (!dx.mem) return CLVAE_OK;
    size_t M = sh.C / sh.G * sh.HW;
    arg_t u[] = {arg_buf(sums),  arg_buf(dy),    arg_buf(x),      arg_buf(stats), arg_buf(gamma),
                 arg_uint(sh.N), arg_uint(sh.G), arg_uint(sh.HW), arg_uint(M)};
    if ((s = kernel(ctx, "gn_backward_sums", &k, u, (int)(sizeof u / sizeof *u), err)) ||
        (s = clvae_launch_groups(ctx, k, NG, err)))
        return s;
    arg_t d[] = {arg_buf(dx),    arg_buf(dy),    arg_buf(x),     arg_buf(stats),
                 arg_buf(sums),  arg_buf(gamma), arg_uint(sh.N), arg_uint(sh.C),
                 arg_uint(sh.G), arg_uint(sh.HW)};
    if ((s = kernel(ctx, "gn_backward_data", &k, d, (int)(sizeof d / sizeof *d), err))) return s;
    return clvae_launch_rows(ctx, k, sh.HW, sh.N * sh.C, err);
}
