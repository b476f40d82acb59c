/* Diffusion (DDPM, DDIM): the noise schedule on the host in double, and the kernels
 * (cl/diffusion.cl) that make x_t from x_0 and take one sampling step. */
#ifndef CLVAE_DIFFUSION_H
#define CLVAE_DIFFUSION_H

#include <stdint.h>

#include "clvae/device/tensor.h"

/* Schedules of beta_t. */
typedef enum clvae_schedule_kind {
    CLVAE_SCHEDULE_LINEAR, /* beta_t from beta_start to beta_end, linear in t (Ho et al.) */
    CLVAE_SCHEDULE_COSINE  /* abar_t = f(t) / f(0), f(t) = cos^2((t/T + s) / (1 + s) pi/2),
                              s = 0.008, beta_t = min(1 - abar_{t+1} / abar_t, 0.999) (Nichol &
                              Dhariwal) */
} clvae_schedule_kind_t;

/* A schedule of T steps, t = 0 .. T-1, in double (shape key: [T]). */
typedef struct clvae_schedule {
    size_t T;
    double *beta;     /* [T] beta_t */
    double *alpha;    /* [T] 1 - beta_t */
    double *abar;     /* [T] prod_{s <= t} alpha_s */
    double *post_var; /* [T] the posterior variance beta_t (1 - abar_{t-1}) / (1 - abar_t), with
                         abar_{-1} = 1 (0 at t = 0) */
} clvae_schedule_t;

/* Computes the schedule (CLVAE_ERR_INVALID: T < 2, or a beta_t outside (0, 1), naming t and the
 * value; beta_start and beta_end are read by the linear schedule only). */
clvae_status_t clvae_schedule_init(clvae_schedule_t *s, clvae_schedule_kind_t kind, size_t T,
                                   double beta_start, double beta_end, clvae_error_t *err);

/* Frees the arrays (a zeroed schedule is fine). */
void clvae_schedule_free(clvae_schedule_t *s);

/* One sampling step from t to t_prev, written through the predicted x_0: x0 = c0 x_t - c1 eps
 * (c0 = 1 / sqrt(abar_t), c1 = sqrt(1 - abar_t) / sqrt(abar_t)), optionally clipped to [-1, 1],
 * then x_prev = p x0 + q x_t + sigma z. Unclipped this is exactly the seed's step. */
typedef struct clvae_step_coef {
    double c0, c1, p, q, sigma;
} clvae_step_coef_t;

/* The coefficients of the step from t to t_prev (t_prev < t; -1: the last step, to x_0,
 * abar_{-1} = 1). DDIM (ancestral 0): sigma = eta sqrt((1 - abar_prev) / (1 - abar_t))
 * sqrt(1 - abar_t / abar_prev), x_prev = sqrt(abar_prev) x0 + r eps' + sigma z with r =
 * sqrt(1 - abar_prev - sigma^2) and eps' = (x_t - sqrt(abar_t) x0) / sqrt(1 - abar_t) (the eps
 * of the clipped x0; eps itself when nothing is clipped): p = sqrt(abar_prev) - r sqrt(abar_t) /
 * sqrt(1 - abar_t), q = r / sqrt(1 - abar_t). Ancestral DDPM (ancestral 1, t_prev = t - 1): the
 * posterior mean p = beta_t sqrt(abar_{t-1}) / (1 - abar_t), q = (1 - abar_{t-1}) sqrt(alpha_t) /
 * (1 - abar_t), which unclipped is the seed's (x_t - beta_t / sqrt(1 - abar_t) eps) /
 * sqrt(alpha_t); sigma^2 = beta_t (0 at t = 0). */
void clvae_schedule_step(const clvae_schedule_t *s, long t, long t_prev, double eta,
                         int ancestral, clvae_step_coef_t *c);

/* DDIM's i-th of S evenly spaced steps (i < S <= T): floor((i + 1) T / S) - 1; S = T gives i. */
long clvae_schedule_tau(size_t T, size_t S, size_t i);

/* Per example b < B: t_b = floor(u_b T) exactly, (u24 * T) >> 24 with u24 the 24 bits of the
 * uniform element b of the stream (seed, offset) (clvae_rng_uniform's: u_b = u24 2^-24), written
 * to times[b] as a float; xt[b, i] = coef[t_b, 0] x0[b, i] + coef[t_b, 1] eps[b, i] for i < D,
 * with coef [T, 2] = sqrt(abar_t), sqrt(1 - abar_t) (clvae_diffusion_coef). */
clvae_status_t clvae_diffusion_noisy(clvae_ctx_t *ctx, clvae_buf_t xt, clvae_buf_t times,
                                     clvae_buf_t x0, clvae_buf_t eps, clvae_buf_t coef, size_t B,
                                     size_t D, size_t T, uint64_t seed, uint64_t offset,
                                     clvae_error_t *err);

/* The table coef [T, 2] that clvae_diffusion_noisy reads (host floats, rounded once). */
void clvae_diffusion_coef(const clvae_schedule_t *s, float *coef);

/* One sampling step in place with the coefficients c (floats on the device): for i < n, x0 =
 * c0 x[i] - c1 eps[i], clamped to [-clip, clip] when clip > 0, then x[i] = p x0 + q x[i] +
 * sigma z_i, z_i the normal element i of the stream (seed, offset) (clvae_rng_normal's); no draw
 * when sigma is 0. */
clvae_status_t clvae_diffusion_step(clvae_ctx_t *ctx, clvae_buf_t x, clvae_buf_t eps, size_t n,
                                    const clvae_step_coef_t *c, float clip, uint64_t seed,
                                    uint64_t offset, clvae_error_t *err);

/* Classifier-free guidance's label dropout: labels[b] = K (the null class) for each b < B whose
 * uniform element b of the stream (seed, offset) (clvae_rng_uniform's, u24 2^-24) is below p;
 * the others stay. */
clvae_status_t clvae_diffusion_drop_labels(clvae_ctx_t *ctx, clvae_buf_t labels, size_t B,
                                           size_t K, float p, uint64_t seed, uint64_t offset,
                                           clvae_error_t *err);

/* Classifier-free guidance's mix in place: eps[i] = eps[i] + g (cond[i] - eps[i]) for i < n
 * (eps: the unconditional prediction, cond: the conditional one; g = 1 gives cond). */
clvae_status_t clvae_diffusion_guide(clvae_ctx_t *ctx, clvae_buf_t eps, clvae_buf_t cond, size_t n,
                                     float g, clvae_error_t *err);

#endif
