/* Plain-C references in double of the losses in cl/loss.cl (BCE, BCE with logits, MSE, KL). */
#include "ref.h"

#include <math.h>

/* mean = (1/N) sum_n per_example[n], when mean is wanted. */
static void batch_mean(double *mean, const double *per_example, size_t N)
{
    if (!mean) return;
    double s = 0.0;
    for (size_t n = 0; n < N; n++) s += per_example[n];
    *mean = s / (double)N;
}

void clvae_bce_forward_ref(double *per_example, double *mean, const double *p, const double *t,
                           size_t N, size_t D)
{
    for (size_t n = 0; n < N; n++) {
        double s = 0.0;
        for (size_t d = 0; d < D; d++) {
            double pv = p[n * D + d], tv = t[n * D + d];
            s += (tv - 1.0) * fmax(log1p(-pv), -100.0) - tv * fmax(log(pv), -100.0);
        }
        per_example[n] = s;
    }
    batch_mean(mean, per_example, N);
}

void clvae_bce_backward_ref(double *dp, const double *p, const double *t, double scale, size_t N,
                            size_t D)
{
    for (size_t i = 0; i < N * D; i++)
        dp[i] += scale * (p[i] - t[i]) / fmax((1.0 - p[i]) * p[i], 1e-12);
}

void clvae_bce_logits_forward_ref(double *per_example, double *mean, const double *z,
                                  const double *t, size_t N, size_t D)
{
    for (size_t n = 0; n < N; n++) {
        double s = 0.0;
        for (size_t d = 0; d < D; d++) {
            double zv = z[n * D + d], tv = t[n * D + d];
            s += fmax(zv, 0.0) - zv * tv + log1p(exp(-fabs(zv)));
        }
        per_example[n] = s;
    }
    batch_mean(mean, per_example, N);
}

void clvae_bce_logits_backward_ref(double *dz, const double *z, const double *t, double scale,
                                   size_t N, size_t D)
{
    for (size_t i = 0; i < N * D; i++) {
        double e = exp(-fabs(z[i]));
        double sig = z[i] >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
        dz[i] += scale * (sig - t[i]);
    }
}

void clvae_mse_forward_ref(double *per_example, double *mean, const double *p, const double *t,
                           size_t N, size_t D, clvae_mse_reduction_t reduction)
{
    for (size_t n = 0; n < N; n++) {
        double s = 0.0;
        for (size_t d = 0; d < D; d++) {
            double e = p[n * D + d] - t[n * D + d];
            s += e * e;
        }
        per_example[n] = reduction == CLVAE_MSE_MEAN ? s / (double)D : s;
    }
    batch_mean(mean, per_example, N);
}

void clvae_mse_backward_ref(double *dp, const double *p, const double *t, double scale, size_t N,
                            size_t D, clvae_mse_reduction_t reduction)
{
    double k = reduction == CLVAE_MSE_MEAN ? 2.0 / (double)D : 2.0;
    for (size_t i = 0; i < N * D; i++) dp[i] += scale * k * (p[i] - t[i]);
}

void clvae_kl_forward_ref(double *per_example, double *mean, const double *mu,
                          const double *logvar, double beta, size_t N, size_t J)
{
    for (size_t n = 0; n < N; n++) {
        double s = 0.0;
        for (size_t j = 0; j < J; j++) {
            double m = mu[n * J + j], lv = logvar[n * J + j];
            s += 1.0 + lv - m * m - exp(lv);
        }
        per_example[n] = -0.5 * beta * s;
    }
    batch_mean(mean, per_example, N);
}

void clvae_kl_backward_ref(double *dmu, double *dlogvar, const double *mu, const double *logvar,
                           double beta, double scale, size_t N, size_t J)
{
    for (size_t i = 0; i < N * J; i++) {
        if (dmu) dmu[i] += scale * beta * mu[i];
        if (dlogvar) dlogvar[i] += scale * beta * 0.5 * (exp(logvar[i]) - 1.0);
    }
}
