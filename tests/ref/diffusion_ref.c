/* Plain-C references in double of the diffusion schedule and of cl/diffusion.cl's kernels. */
#include <math.h>

#include "ref.h"

void clvae_schedule_beta_ref(double *beta, int cosine, size_t T, double beta_start,
                             double beta_end)
{
    const double s = 0.008, pi = 3.14159265358979323846;
    for (size_t t = 0; t < T; t++) {
        if (!cosine) {
            beta[t] = beta_start + (beta_end - beta_start) * (double)t / (double)(T - 1);
            continue;
        }
        double f1 = pow(cos(((double)(t + 1) / (double)T + s) / (1 + s) * pi / 2), 2);
        double f0 = pow(cos(((double)t / (double)T + s) / (1 + s) * pi / 2), 2);
        beta[t] = fmin(1.0 - f1 / f0, 0.999);
    }
}

void clvae_diffusion_noisy_ref(double *xt, const double *x0, const double *eps,
                               const long *t, const double *abar, size_t B, size_t D)
{
    for (size_t b = 0; b < B; b++)
        for (size_t i = 0; i < D; i++)
            xt[b * D + i] = sqrt(abar[t[b]]) * x0[b * D + i] +
                            sqrt(1.0 - abar[t[b]]) * eps[b * D + i];
}

static double clip_to(double v, double c)
{
    return c > 0.0 ? (v < -c ? -c : v > c ? c : v) : v;
}

void clvae_ddpm_step_ref(double *out, const double *x, const double *eps, const double *z,
                         double beta, double abar, double abar_prev, double var, double clip,
                         size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double mean;
        if (clip > 0.0) {
            double x0 = clip_to((x[i] - sqrt(1.0 - abar) * eps[i]) / sqrt(abar), clip);
            mean = beta * sqrt(abar_prev) / (1.0 - abar) * x0 +
                   (1.0 - abar_prev) * sqrt(1.0 - beta) / (1.0 - abar) * x[i];
        } else {
            mean = (x[i] - beta / sqrt(1.0 - abar) * eps[i]) / sqrt(1.0 - beta);
        }
        out[i] = mean + sqrt(var) * z[i];
    }
}

void clvae_ddim_step_ref(double *out, const double *x, const double *eps, const double *z,
                         double abar, double abar_prev, double eta, double clip, size_t n)
{
    double sigma = eta * sqrt((1.0 - abar_prev) / (1.0 - abar)) * sqrt(1.0 - abar / abar_prev);
    for (size_t i = 0; i < n; i++) {
        double x0 = clip_to((x[i] - sqrt(1.0 - abar) * eps[i]) / sqrt(abar), clip);
        double e = clip > 0.0 ? (x[i] - sqrt(abar) * x0) / sqrt(1.0 - abar) : eps[i];
        out[i] = sqrt(abar_prev) * x0 + sqrt(1.0 - abar_prev - sigma * sigma) * e + sigma * z[i];
    }
}
