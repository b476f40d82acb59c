/* Launchers for cl/embed.cl: the sinusoidal time embedding. */
#include "clvae/ops/embed.h"

#include <math.h>

#include "ops/kargs.h"

clvae_status_t clvae_time_embed_forward(clvae_ctx_t *ctx, clvae_buf_t y, clvae_buf_t t, size_t N,
                                        size_t D, float max_period, clvae_error_t *err)
{
    clvae_buf_t none = {0};
    return clvae_time_embed_label_forward(ctx, y, t, none, N, D, 0, max_period, err);
}

clvae_status_t clvae_time_embed_label_forward(clvae_ctx_t *ctx, clvae_buf_t y, clvae_buf_t t,
                                              clvae_buf_t labels, size_t N, size_t D, size_t K,
                                              float max_period, clvae_error_t *err)
{
    const char *op = "time_embed_forward";
    clvae_status_t s;
    if (N == 0 || D < 2 || D % 2 != 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: N=%zu, D=%zu (D must be even and at "
                          "least 2)", op, N, D);
    if (!(max_period > 1.0f) || !isfinite(max_period))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: max_period %g must be above 1", op,
                          (double)max_period);
    if ((double)N * (double)(D + K) >= 4294967295.0 || K > (1u << 24))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: indices exceed 2^32", op);
    size_t R = D + K;
    if ((s = clvae_buf_check(y, N * R, op, "y", err)) || (s = clvae_buf_check(t, N, op, "t", err)) ||
        (K && (s = clvae_buf_check(labels, N, op, "labels", err))))
        return s;
    size_t half = D / 2;
    float c = (float)(-log((double)max_period) / (double)half);
    clvae_karg_t a[] = {clvae_karg_buf(y),     clvae_karg_buf(t),    clvae_karg_buf(K ? labels : t),
                        clvae_karg_uint(half), clvae_karg_uint(K),   clvae_karg_float(c),
                        clvae_karg_uint(N * R)};
    cl_kernel k;
    if ((s = clvae_kernel_args(ctx, "embed", "time_embed", &k, a, (int)(sizeof a / sizeof *a),
                               err)))
        return s;
    return clvae_launch_1d(ctx, k, N * R, err);
}
