/* The diffusion schedule in double on the host, and the launchers of cl/diffusion.cl. */
#include "clvae/ops/diffusion.h"

#include <math.h>
#include <stdlib.h>

#include "clvae/ops/rng.h"
#include "ops/kargs.h"

typedef clvae_karg_t arg_t;

/* f(t) of the cosine schedule (s = 0.008). */
static double cosine_f(double u)
{
    const double s = 0.008, half_pi = 1.5707963267948966;
    double c = cos((u + s) / (1.0 + s) * half_pi);
    return c * c;
}

void clvae_schedule_free(clvae_schedule_t *s)
{
    free(s->beta);
    free(s->alpha);
    free(s->abar);
    free(s->post_var);
    s->beta = s->alpha = s->abar = s->post_var = NULL;
    s->T = 0;
}

clvae_status_t clvae_schedule_init(clvae_schedule_t *s, clvae_schedule_kind_t kind, size_t T,
                                   double beta_start, double beta_end, clvae_error_t *err)
{
    s->T = 0;
    s->beta = s->alpha = s->abar = s->post_var = NULL;
    if (T < 2) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "a schedule of %zu steps (want 2 or more)", T);
    if (kind != CLVAE_SCHEDULE_LINEAR && kind != CLVAE_SCHEDULE_COSINE)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "unknown schedule %d", (int)kind);
    s->beta = malloc(T * sizeof *s->beta);
    s->alpha = malloc(T * sizeof *s->alpha);
    s->abar = malloc(T * sizeof *s->abar);
    s->post_var = malloc(T * sizeof *s->post_var);
    if (!s->beta || !s->alpha || !s->abar || !s->post_var) {
        clvae_schedule_free(s);
        return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    }
    s->T = T;
    for (size_t t = 0; t < T; t++) {
        double b;
        if (kind == CLVAE_SCHEDULE_LINEAR) {
            b = beta_start + (beta_end - beta_start) * (double)t / (double)(T - 1);
        } else {
            b = 1.0 - cosine_f((double)(t + 1) / (double)T) / cosine_f((double)t / (double)T);
            if (b > 0.999) b = 0.999;
        }
        if (!(b > 0.0 && b < 1.0)) {
            clvae_schedule_free(s);
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "beta_%zu = %g is outside (0, 1)", t, b);
        }
        s->beta[t] = b;
        s->alpha[t] = 1.0 - b;
        s->abar[t] = (t ? s->abar[t - 1] : 1.0) * s->alpha[t];
        double prev = t ? s->abar[t - 1] : 1.0;
        s->post_var[t] = b * (1.0 - prev) / (1.0 - s->abar[t]);
    }
    return CLVAE_OK;
}

void clvae_schedule_step(const clvae_schedule_t *s, long t, long t_prev, double eta,
                         int ancestral, clvae_step_coef_t *c)
{
    double ab = s->abar[t];
    c->c0 = 1.0 / sqrt(ab);
    c->c1 = sqrt(1.0 - ab) / sqrt(ab);
    if (ancestral) {
        double prev = t > 0 ? s->abar[t - 1] : 1.0, be = s->beta[t];
        c->p = be * sqrt(prev) / (1.0 - ab);
        c->q = (1.0 - prev) * sqrt(s->alpha[t]) / (1.0 - ab);
        c->sigma = t > 0 ? sqrt(be) : 0.0;
        return;
    }
    double ap = t_prev >= 0 ? s->abar[t_prev] : 1.0;
    double sg = eta * sqrt((1.0 - ap) / (1.0 - ab)) * sqrt(1.0 - ab / ap);
    double rest = 1.0 - ap - sg * sg;
    double r = sqrt(rest > 0.0 ? rest : 0.0);
    c->p = sqrt(ap) - r * sqrt(ab) / sqrt(1.0 - ab);
    c->q = r / sqrt(1.0 - ab);
    c->sigma = sg;
}

long clvae_schedule_tau(size_t T, size_t S, size_t i)
{
    return (long)(((uint64_t)(i + 1) * (uint64_t)T) / (uint64_t)S) - 1;
}

void clvae_diffusion_coef(const clvae_schedule_t *s, float *coef)
{
    for (size_t t = 0; t < s->T; t++) {
        coef[2 * t] = (float)sqrt(s->abar[t]);
        coef[2 * t + 1] = (float)sqrt(1.0 - s->abar[t]);
    }
}

clvae_status_t clvae_diffusion_noisy(clvae_ctx_t *ctx, clvae_buf_t xt, clvae_buf_t times,
                                     clvae_buf_t x0, clvae_buf_t eps, clvae_buf_t coef, size_t B,
                                     size_t D, size_t T, uint64_t seed, uint64_t offset,
                                     clvae_error_t *err)
{
    const char *op = "diffusion_noisy";
    if (B == 0 || D == 0 || T < 2)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: B=%zu D=%zu T=%zu (want B, D > 0, T >= 2)",
                          op, B, D, T);
    if ((double)B * (double)D >= 4294967295.0 || T > (1u << 24))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: indices exceed 2^32 or T > 2^24", op);
    size_t n = B * D;
    clvae_status_t s;
    if ((s = clvae_buf_check(xt, n, op, "xt", err)) ||
        (s = clvae_buf_check(times, B, op, "times", err)) ||
        (s = clvae_buf_check(x0, n, op, "x0", err)) ||
        (s = clvae_buf_check(eps, n, op, "eps", err)) ||
        (s = clvae_buf_check(coef, 2 * T, op, "coef", err)))
        return s;
    arg_t a[] = {clvae_karg_buf(xt),   clvae_karg_buf(times), clvae_karg_buf(x0),
                 clvae_karg_buf(eps),  clvae_karg_buf(coef),  clvae_karg_uint(D),
                 clvae_karg_uint(T),   clvae_karg_uint(n),    clvae_karg_ulong(seed),
                 clvae_karg_ulong(offset)};
    cl_kernel k;
    if ((s = clvae_kernel_args(ctx, "diffusion", "diffusion_noisy", &k, a,
                               (int)(sizeof a / sizeof *a), err)))
        return s;
    return clvae_launch_1d(ctx, k, n, err);
}

clvae_status_t clvae_diffusion_step(clvae_ctx_t *ctx, clvae_buf_t x, clvae_buf_t eps, size_t n,
                                    const clvae_step_coef_t *c, float clip, uint64_t seed,
                                    uint64_t offset, clvae_error_t *err)
{
    const char *op = "diffusion_step";
    if (n == 0 || (double)n >= 4294967295.0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: n = %zu", op, n);
    float f[5] = {(float)c->c0, (float)c->c1, (float)c->p, (float)c->q, (float)c->sigma};
    int finite = isfinite(clip) && clip >= 0.0f;
    for (int k = 0; k < 5; k++) finite &= isfinite(f[k]);
    if (!finite || f[4] < 0.0f)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: c0 %g, c1 %g, p %g, q %g, sigma %g, clip "
                          "%g (want finite, sigma and clip >= 0)", op, (double)f[0], (double)f[1],
                          (double)f[2], (double)f[3], (double)f[4], (double)clip);
    clvae_status_t s;
    if ((s = clvae_buf_check(x, n, op, "x", err)) || (s = clvae_buf_check(eps, n, op, "eps", err)))
        return s;
    if (x.mem == eps.mem && x.off < eps.off + n && eps.off < x.off + n)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: x and eps overlap", op);
    arg_t args[] = {clvae_karg_buf(x),       clvae_karg_buf(eps),     clvae_karg_uint(n),
                    clvae_karg_float(f[0]),  clvae_karg_float(f[1]),  clvae_karg_float(f[2]),
                    clvae_karg_float(f[3]),  clvae_karg_float(f[4]),  clvae_karg_float(clip),
                    clvae_karg_ulong(seed),  clvae_karg_ulong(offset)};
    cl_kernel k;
    if ((s = clvae_kernel_args(ctx, "diffusion", "diffusion_step", &k, args,
                               (int)(sizeof args / sizeof *args), err)))
        return s;
    return clvae_launch_1d(ctx, k, (size_t)clvae_rng_blocks(n), err);
}

clvae_status_t clvae_diffusion_drop_labels(clvae_ctx_t *ctx, clvae_buf_t labels, size_t B,
                                           size_t K, float p, uint64_t seed, uint64_t offset,
                                           clvae_error_t *err)
{
    const char *op = "diffusion_drop_labels";
    if (B == 0 || K == 0 || (double)B >= 4294967295.0 || K > (1u << 24) || !(p >= 0.0f && p <= 1.0f))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: B=%zu K=%zu p=%g (want B, K > 0, p in "
                          "[0, 1])", op, B, K, (double)p);
    clvae_status_t s = clvae_buf_check(labels, B, op, "labels", err);
    if (s) return s;
    arg_t a[] = {clvae_karg_buf(labels), clvae_karg_uint(B), clvae_karg_uint(K),
                 clvae_karg_float(p), clvae_karg_ulong(seed), clvae_karg_ulong(offset)};
    cl_kernel k;
    if ((s = clvae_kernel_args(ctx, "diffusion", "diffusion_drop_labels", &k, a,
                               (int)(sizeof a / sizeof *a), err)))
        return s;
    return clvae_launch_1d(ctx, k, B, err);
}

clvae_status_t clvae_diffusion_guide(clvae_ctx_t *ctx, clvae_buf_t eps, clvae_buf_t cond, size_t n,
                                     float g, clvae_error_t *err)
{
    const char *op = "diffusion_guide";
    if (n == 0 || (double)n >= 4294967295.0 || !isfinite(g))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: n = %zu, g = %g", op, n, (double)g);
    clvae_status_t s;
    if ((s = clvae_buf_check(eps, n, op, "eps", err)) ||
        (s = clvae_buf_check(cond, n, op, "cond", err)))
        return s;
    arg_t a[] = {clvae_karg_buf(eps), clvae_karg_buf(cond), clvae_karg_uint(n),
                 clvae_karg_float(g)};
    cl_kernel k;
    if ((s = clvae_kernel_args(ctx, "diffusion", "diffusion_guide", &k, a,
                               (int)(sizeof a / sizeof *a), err)))
        return s;
    return clvae_launch_1d(ctx, k, n, err);
}
