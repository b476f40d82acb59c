/* Plain-C references of batch and group normalization in double. */
#include <math.h>

#include "ref.h"

void clvae_batchnorm_forward_ref(double *y, double *mean, double *var, const double *x,
                                 const double *gamma, const double *beta, double *running,
                                 int train, double momentum, double eps, size_t N, size_t C,
                                 size_t HW)
{
    double n = (double)(N * HW);
    for (size_t c = 0; c < C; c++) {
        double m = 0.0, v = 0.0;
        if (train) {
            for (size_t e = 0; e < N; e++)
                for (size_t s = 0; s < HW; s++) m += x[(e * C + c) * HW + s];
            m /= n;
            for (size_t e = 0; e < N; e++)
                for (size_t s = 0; s < HW; s++) {
                    double d = x[(e * C + c) * HW + s] - m;
                    v += d * d;
                }
            v /= n;
            if (running) {
                running[c] = (1.0 - momentum) * running[c] + momentum * m;
                running[C + c] = (1.0 - momentum) * running[C + c] +
                                 momentum * (n > 1.0 ? v * n / (n - 1.0) : v);
            }
        } else {
            m = running[c];
            v = running[C + c];
        }
        if (mean) mean[c] = m;
        if (var) var[c] = v;
        double inv = 1.0 / sqrt(v + eps);
        for (size_t e = 0; e < N; e++)
            for (size_t s = 0; s < HW; s++) {
                size_t i = (e * C + c) * HW + s;
                y[i] = (x[i] - m) * inv * gamma[c] + beta[c];
            }
    }
    if (train && running) running[2 * C] += 1.0;
}

void clvae_batchnorm_backward_ref(double *dx, double *dgamma, double *dbeta, const double *dy,
                                  const double *x, const double *gamma, const double *mean,
                                  const double *var, int train, double eps, size_t N, size_t C,
                                  size_t HW)
{
    double n = (double)(N * HW);
    for (size_t c = 0; c < C; c++) {
        double inv = 1.0 / sqrt(var[c] + eps), s1 = 0.0, s2 = 0.0;
        for (size_t e = 0; e < N; e++)
            for (size_t s = 0; s < HW; s++) {
                size_t i = (e * C + c) * HW + s;
                s1 += dy[i];
                s2 += dy[i] * (x[i] - mean[c]) * inv;
            }
        dgamma[c] += s2;
        dbeta[c] += s1;
        if (!dx) continue;
        for (size_t e = 0; e < N; e++)
            for (size_t s = 0; s < HW; s++) {
                size_t i = (e * C + c) * HW + s;
                double g = dy[i];
                if (train) g -= (s1 + (x[i] - mean[c]) * inv * s2) / n;
                dx[i] += gamma[c] * inv * g;
            }
    }
}

void clvae_groupnorm_forward_ref(double *y, double *mean, double *var, const double *x,
                                 const double *gamma, const double *beta, double eps, size_t N,
                                 size_t C, size_t G, size_t HW)
{
    size_t CG = C / G, M = CG * HW;
    for (size_t e = 0; e < N; e++)
        for (size_t g = 0; g < G; g++) {
            const double *xg = x + (e * C + g * CG) * HW;
            double m = 0.0, v = 0.0;
            for (size_t t = 0; t < M; t++) m += xg[t];
            m /= (double)M;
            for (size_t t = 0; t < M; t++) v += (xg[t] - m) * (xg[t] - m);
            v /= (double)M;
            if (mean) mean[e * G + g] = m;
            if (var) var[e * G + g] = v;
            double inv = 1.0 / sqrt(v + eps);
            for (size_t t = 0; t < M; t++) {
                size_t c = g * CG + t / HW;
                y[(e * C + g * CG) * HW + t] = (xg[t] - m) * inv * gamma[c] + beta[c];
            }
        }
}

void clvae_groupnorm_backward_ref(double *dx, double *dgamma, double *dbeta, const double *dy,
                                  const double *x, const double *gamma, const double *mean,
                                  const double *var, double eps, size_t N, size_t C, size_t G,
                                  size_t HW)
{
    size_t CG = C / G, M = CG * HW;
    for (size_t e = 0; e < N; e++)
        for (size_t g = 0; g < G; g++) {
            size_t base = (e * C + g * CG) * HW;
            double m = mean[e * G + g], inv = 1.0 / sqrt(var[e * G + g] + eps);
            double s1 = 0.0, s2 = 0.0; /* sums of dxhat and dxhat * xhat */
            for (size_t t = 0; t < M; t++) {
                size_t c = g * CG + t / HW;
                double xhat = (x[base + t] - m) * inv, d = dy[base + t] * gamma[c];
                dgamma[c] += dy[base + t] * xhat;
                dbeta[c] += dy[base + t];
                s1 += d;
                s2 += d * xhat;
            }
            if (!dx) continue;
            for (size_t t = 0; t < M; t++) {
                size_t c = g * CG + t / HW;
                double xhat = (x[base + t] - m) * inv;
                dx[base + t] += inv * (dy[base + t] * gamma[c] - (s1 + xhat * s2) / (double)M);
            }
        }
}
