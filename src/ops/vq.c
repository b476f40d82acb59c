/* Launchers for cl/vq.cl: nearest codes, quantized maps, gradients, the moving averages. */
#include "clvae/ops/vq.h"

#include "clvae/device/blas.h"
#include "ops/kargs.h"

#define BUF clvae_karg_buf
#define UINT clvae_karg_uint
#define FLOAT clvae_karg_float
#define NARGS(a) ((int)(sizeof(a) / sizeof *(a)))

/* The shape's sizes: none zero, every array's index within the kernels' uint. */
static clvae_status_t check_shape(const char *op, clvae_vq_shape_t sh, clvae_error_t *err)
{
    if (sh.N == 0 || sh.D == 0 || sh.P == 0 || sh.K == 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: zero size (N=%zu D=%zu P=%zu K=%zu)", op,
                          sh.N, sh.D, sh.P, sh.K);
    double R = (double)sh.N * (double)sh.P;
    if (R * (double)sh.D >= 4294967295.0 || R * (double)sh.K >= 4294967295.0 ||
        (double)sh.K * (double)sh.D >= 4294967295.0 || sh.K > (1u << 24))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: indices exceed 2^32 (or K > 2^24)", op);
    return CLVAE_OK;
}

/* Kernel `name` of cl/vq.cl with its arguments, launched over n items. */
static clvae_status_t launch(clvae_ctx_t *ctx, const char *name, const clvae_karg_t *a, int na,
                             size_t n, clvae_error_t *err)
{
    cl_kernel k;
    clvae_status_t s = clvae_kernel_args(ctx, "vq", name, &k, a, na, err);
    return s ? s : clvae_launch_1d(ctx, k, n, err);
}

clvae_status_t clvae_vq_assign(clvae_ctx_t *ctx, clvae_buf_t codes, clvae_buf_t rows,
                               clvae_buf_t dots, clvae_buf_t norms, clvae_buf_t z,
                               clvae_buf_t codebook, clvae_vq_shape_t sh, clvae_error_t *err)
{
    const char *op = "vq_assign";
    size_t R = sh.N * sh.P;
    clvae_status_t s;
    if ((s = check_shape(op, sh, err)) || (s = clvae_buf_check(codes, R, op, "codes", err)) ||
        (s = clvae_buf_check(rows, R * sh.D, op, "rows", err)) ||
        (s = clvae_buf_check(dots, R * sh.K, op, "dots", err)) ||
        (s = clvae_buf_check(norms, sh.K, op, "norms", err)) ||
        (s = clvae_buf_check(z, R * sh.D, op, "z", err)) ||
        (s = clvae_buf_check(codebook, sh.K * sh.D, op, "codebook", err)))
        return s;
    clvae_karg_t r[] = {BUF(rows), BUF(z), UINT(sh.D), UINT(sh.P), UINT(R * sh.D)};
    clvae_karg_t nm[] = {BUF(norms), BUF(codebook), UINT(sh.D), UINT(sh.K)};
    clvae_karg_t am[] = {BUF(codes), BUF(dots), BUF(norms), UINT(sh.K), UINT(R)};
    if ((s = launch(ctx, "vq_rows", r, NARGS(r), R * sh.D, err)) ||
        (s = launch(ctx, "vq_norms", nm, NARGS(nm), sh.K, err)) ||
        (s = clvae_gemm(ctx, 0, 1, R, sh.K, sh.D, 1.0f, rows, sh.D, codebook, sh.D, 0.0f, dots,
                        sh.K, err)))
        return s;
    return launch(ctx, "vq_argmin", am, NARGS(am), R, err);
}

clvae_status_t clvae_vq_embed(clvae_ctx_t *ctx, clvae_buf_t q, clvae_buf_t term, clvae_buf_t z,
                              clvae_buf_t codes, clvae_buf_t codebook, clvae_vq_shape_t sh,
                              clvae_error_t *err)
{
    const char *op = "vq_embed";
    size_t R = sh.N * sh.P, total = R * sh.D;
    clvae_status_t s;
    if ((s = check_shape(op, sh, err)) || (s = clvae_buf_check(q, total, op, "q", err)) ||
        (s = clvae_buf_check(codes, R, op, "codes", err)) ||
        (s = clvae_buf_check(codebook, sh.K * sh.D, op, "codebook", err)) ||
        (z.mem && ((s = clvae_buf_check(z, total, op, "z", err)) ||
                   (s = clvae_buf_check(term, sh.N, op, "term", err)))))
        return s;
    clvae_karg_t e[] = {BUF(q), BUF(codes), BUF(codebook), UINT(sh.D), UINT(sh.P), UINT(sh.K),
                        UINT(total)};
    if ((s = launch(ctx, "vq_embed", e, NARGS(e), total, err)) || !z.mem) return s;
    clvae_karg_t t[] = {BUF(term), BUF(z), BUF(q), UINT(sh.D * sh.P), UINT(sh.N)};
    return launch(ctx, "vq_term", t, NARGS(t), sh.N, err);
}

clvae_status_t clvae_vq_backward(clvae_ctx_t *ctx, clvae_buf_t dz, clvae_buf_t dq, clvae_buf_t z,
                                 clvae_buf_t q, float beta, float scale, clvae_vq_shape_t sh,
                                 clvae_error_t *err)
{
    const char *op = "vq_backward";
    size_t total = sh.N * sh.P * sh.D;
    clvae_status_t s;
    if ((s = check_shape(op, sh, err)) || (s = clvae_buf_check(dz, total, op, "dz", err)) ||
        (s = clvae_buf_check(dq, total, op, "dq", err)) ||
        (s = clvae_buf_check(z, total, op, "z", err)) ||
        (s = clvae_buf_check(q, total, op, "q", err)))
        return s;
    clvae_karg_t a[] = {BUF(dz), BUF(dq), BUF(z), BUF(q), FLOAT(2.0f * beta * scale),
                        UINT(total)};
    return launch(ctx, "vq_backward", a, NARGS(a), total, err);
}

clvae_status_t clvae_vq_counts(clvae_ctx_t *ctx, clvae_buf_t counts, clvae_buf_t sums,
                               clvae_buf_t rows, clvae_buf_t codes, clvae_vq_shape_t sh,
                               clvae_error_t *err)
{
    const char *op = "vq_counts";
    size_t R = sh.N * sh.P;
    clvae_status_t s;
    if ((s = check_shape(op, sh, err)) || (s = clvae_buf_check(counts, sh.K, op, "counts", err)) ||
        (s = clvae_buf_check(sums, sh.K * sh.D, op, "sums", err)) ||
        (s = clvae_buf_check(rows, R * sh.D, op, "rows", err)) ||
        (s = clvae_buf_check(codes, R, op, "codes", err)))
        return s;
    clvae_karg_t a[] = {BUF(counts), BUF(sums), BUF(rows), BUF(codes), UINT(sh.D), UINT(sh.K),
                        UINT(R)};
    return launch(ctx, "vq_counts", a, NARGS(a), sh.K * sh.D, err);
}

clvae_status_t clvae_vq_codebook_grad(clvae_ctx_t *ctx, clvae_buf_t dE, clvae_buf_t codebook,
                                      clvae_buf_t counts, clvae_buf_t sums, float scale,
                                      clvae_vq_shape_t sh, clvae_error_t *err)
{
    const char *op = "vq_codebook_grad";
    size_t total = sh.K * sh.D;
    clvae_status_t s;
    if ((s = check_shape(op, sh, err)) || (s = clvae_buf_check(dE, total, op, "dE", err)) ||
        (s = clvae_buf_check(codebook, total, op, "codebook", err)) ||
        (s = clvae_buf_check(counts, sh.K, op, "counts", err)) ||
        (s = clvae_buf_check(sums, total, op, "sums", err)))
        return s;
    clvae_karg_t a[] = {BUF(dE), BUF(codebook), BUF(counts), BUF(sums), FLOAT(2.0f * scale),
                        UINT(sh.D), UINT(total)};
    return launch(ctx, "vq_codebook_grad", a, NARGS(a), total, err);
}

clvae_status_t clvae_vq_ema(clvae_ctx_t *ctx, clvae_buf_t codebook, clvae_buf_t cluster,
                            clvae_buf_t avg, clvae_buf_t counts, clvae_buf_t sums, float decay,
                            float eps, clvae_vq_shape_t sh, clvae_error_t *err)
{
    const char *op = "vq_ema";
    size_t total = sh.K * sh.D;
    clvae_status_t s;
    if ((s = check_shape(op, sh, err))) return s;
    if (!(decay >= 0.0f && decay < 1.0f) || !(eps > 0.0f))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: decay %g must be in [0, 1) and eps %g > 0",
                          op, (double)decay, (double)eps);
    if ((s = clvae_buf_check(codebook, total, op, "codebook", err)) ||
        (s = clvae_buf_check(cluster, sh.K, op, "cluster", err)) ||
        (s = clvae_buf_check(avg, total, op, "avg", err)) ||
        (s = clvae_buf_check(counts, sh.K, op, "counts", err)) ||
        (s = clvae_buf_check(sums, total, op, "sums", err)))
        return s;
    clvae_karg_t a[] = {BUF(cluster), BUF(avg), BUF(counts), BUF(sums), FLOAT(decay),
                        UINT(sh.D), UINT(sh.K)};
    clvae_karg_t c[] = {BUF(codebook), BUF(cluster), BUF(avg), FLOAT(eps), UINT(sh.D),
                        UINT(sh.K)};
    if ((s = launch(ctx, "vq_ema_average", a, NARGS(a), sh.K, err))) return s;
    return launch(ctx, "vq_ema_codebook", c, NARGS(c), total, err);
}

clvae_status_t clvae_vq_restart(clvae_ctx_t *ctx, clvae_buf_t codebook, clvae_buf_t cluster,
                                clvae_buf_t avg, clvae_buf_t unused, clvae_buf_t flags,
                                clvae_buf_t counts, clvae_buf_t rows, long after, uint64_t seed,
                                uint64_t offset, clvae_vq_shape_t sh, clvae_error_t *err)
{
    const char *op = "vq_restart";
    size_t R = sh.N * sh.P, total = sh.K * sh.D;
    int ema = cluster.mem != NULL;
    clvae_status_t s;
    if ((s = check_shape(op, sh, err))) return s;
    if (after < 1)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: after = %ld steps must be >= 1", op, after);
    if ((s = clvae_buf_check(codebook, total, op, "codebook", err)) ||
        (ema && ((s = clvae_buf_check(cluster, sh.K, op, "cluster", err)) ||
                 (s = clvae_buf_check(avg, total, op, "avg", err)))) ||
        (s = clvae_buf_check(unused, sh.K, op, "unused", err)) ||
        (s = clvae_buf_check(flags, sh.K, op, "flags", err)) ||
        (s = clvae_buf_check(counts, sh.K, op, "counts", err)) ||
        (s = clvae_buf_check(rows, R * sh.D, op, "rows", err)))
        return s;
    /* without ema the kernel never touches cluster and avg: the codebook stands in for them */
    clvae_buf_t cl = ema ? cluster : codebook, av = ema ? avg : codebook;
    clvae_karg_t a[] = {BUF(codebook), BUF(cl), BUF(av), BUF(unused), BUF(flags), BUF(counts),
                        BUF(rows), UINT(ema), FLOAT((float)after), clvae_karg_ulong(seed),
                        clvae_karg_ulong(offset), UINT(sh.D), UINT(sh.K), UINT(R)};
    return launch(ctx, "vq_restart", a, NARGS(a), sh.K, err);
}

clvae_status_t clvae_vq_stats(clvae_ctx_t *ctx, clvae_buf_t out, clvae_buf_t counts,
                              clvae_buf_t flags, clvae_vq_shape_t sh, clvae_error_t *err)
{
    const char *op = "vq_stats";
    clvae_status_t s;
    if ((s = check_shape(op, sh, err)) || (s = clvae_buf_check(out, 3, op, "out", err)) ||
        (s = clvae_buf_check(counts, sh.K, op, "counts", err)) ||
        (s = clvae_buf_check_opt(flags, sh.K, op, "flags", err)))
        return s;
    clvae_buf_t f = flags.mem ? flags : counts;
    clvae_karg_t a[] = {BUF(out), BUF(counts), BUF(f), UINT(flags.mem ? 1 : 0), UINT(sh.K),
                        UINT(sh.N * sh.P)};
    return launch(ctx, "vq_stats", a, NARGS(a), 1, err);
}
