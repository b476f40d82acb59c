/* Frechet distance of two Gaussians (the FID formula) via a Jacobi symmetric eigen solver. */
#include "clvae/eval/frechet.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

clvae_status_t clvae_gauss_fit(const float *x, size_t n, size_t d, double *mu, double *cov,
                               clvae_error_t *err)
{
    if (n < 2 || d == 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "a Gaussian fit needs at least 2 rows of at "
                          "least 1 feature (got %zu x %zu)", n, d);
    double *c = malloc(d * sizeof *c);
    if (!c) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    memset(mu, 0, d * sizeof *mu);
    memset(cov, 0, d * d * sizeof *cov);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) {
            if (!isfinite(x[i * d + j])) {
                free(c);
                return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "feature %zu of row %zu is %g", j, i,
                                  (double)x[i * d + j]);
            }
            mu[j] += x[i * d + j];
        }
    for (size_t j = 0; j < d; j++) mu[j] /= (double)n;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++) c[j] = (double)x[i * d + j] - mu[j];
        for (size_t j = 0; j < d; j++)
            for (size_t k = j; k < d; k++) cov[j * d + k] += c[j] * c[k];
    }
    for (size_t j = 0; j < d; j++)
        for (size_t k = j; k < d; k++) {
            cov[j * d + k] /= (double)(n - 1);
            cov[k * d + j] = cov[j * d + k];
        }
    free(c);
    return CLVAE_OK;
}

clvae_status_t clvae_sym_eigen(double *a, size_t d, double *w, double *v, clvae_error_t *err)
{
    double norm = 0;
    for (size_t i = 0; i < d * d; i++) {
        if (!isfinite(a[i]))
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "eigen decomposition of a matrix holding %g",
                              a[i]);
        norm += a[i] * a[i];
    }
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) v[i * d + j] = i == j ? 1.0 : 0.0;
    int converged = 0;
    for (int sweep = 0; sweep < 100 && !converged; sweep++) {
        double off = 0;
        for (size_t p = 0; p < d; p++)
            for (size_t q = p + 1; q < d; q++) off += a[p * d + q] * a[p * d + q];
        if (off <= 1e-30 * norm || off == 0) {
            converged = 1;
            break;
        }
        for (size_t p = 0; p < d; p++)
            for (size_t q = p + 1; q < d; q++) {
                double apq = a[p * d + q];
                if (apq == 0) continue;
                /* the rotation in the (p, q) plane that zeroes a_pq */
                double theta = (a[q * d + q] - a[p * d + p]) / (2.0 * apq);
                double t = 1.0 / (fabs(theta) + sqrt(theta * theta + 1.0));
                if (theta < 0) t = -t;
                double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                for (size_t r = 0; r < d; r++) {
                    if (r == p || r == q) continue;
                    double g = a[r * d + p], h = a[r * d + q];
                    a[r * d + p] = a[p * d + r] = c * g - s * h;
                    a[r * d + q] = a[q * d + r] = s * g + c * h;
                }
                a[p * d + p] -= t * apq;
                a[q * d + q] += t * apq;
                a[p * d + q] = a[q * d + p] = 0.0;
                for (size_t r = 0; r < d; r++) {
                    double g = v[r * d + p], h = v[r * d + q];
                    v[r * d + p] = c * g - s * h;
                    v[r * d + q] = s * g + c * h;
                }
            }
    }
    if (!converged)
        return CLVAE_FAIL(err, CLVAE_ERR_CORRUPT, "the Jacobi eigen solver did not converge in "
                          "100 sweeps (d = %zu)", d);
    /* ascending eigenvalues, columns of v in the same order (selection sort: d is small) */
    for (size_t i = 0; i < d; i++) w[i] = a[i * d + i];
    for (size_t i = 0; i < d; i++) {
        size_t m = i;
        for (size_t j = i + 1; j < d; j++)
            if (w[j] < w[m]) m = j;
        if (m == i) continue;
        double t = w[i];
        w[i] = w[m];
        w[m] = t;
        for (size_t r = 0; r < d; r++) {
            t = v[r * d + i];
            v[r * d + i] = v[r * d + m];
            v[r * d + m] = t;
        }
    }
    return CLVAE_OK;
}

clvae_status_t clvae_frechet_distance(const double *mu1, const double *s1, const double *mu2,
                                      const double *s2, size_t d, double *out, clvae_error_t *err)
{
    *out = NAN;
    if (d == 0) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "Frechet distance of 0 features");
    size_t dd = d * d;
    double *a = malloc(dd * sizeof *a), *v = malloc(dd * sizeof *v), *r = malloc(dd * sizeof *r);
    double *t = malloc(dd * sizeof *t), *w = malloc(d * sizeof *w);
    clvae_status_t s = CLVAE_OK;
    if (!a || !v || !r || !t || !w) {
        s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        goto out;
    }
    double dist = 0, tr = 0;
    for (size_t i = 0; i < d; i++) {
        double dm = mu1[i] - mu2[i];
        if (!isfinite(dm)) {
            s = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "a mean holds a NaN or infinity (feature %zu)",
                           i);
            goto out;
        }
        dist += dm * dm;
        tr += s1[i * d + i] + s2[i * d + i];
    }
    /* r = s1^{1/2} = v diag(sqrt(max(w, 0))) v^T */
    memcpy(a, s1, dd * sizeof *a);
    if ((s = clvae_sym_eigen(a, d, w, v, err))) goto out;
    for (size_t i = 0; i < d; i++) w[i] = sqrt(w[i] > 0 ? w[i] : 0.0);
    for (size_t i = 0; i < d; i++)
        for (size_t j = i; j < d; j++) {
            double acc = 0;
            for (size_t k = 0; k < d; k++) acc += v[i * d + k] * w[k] * v[j * d + k];
            r[i * d + j] = r[j * d + i] = acc;
        }
    /* a = r s2 r (symmetric): t = s2 r, then a = r t, symmetrized against round-off */
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) {
            double acc = 0;
            for (size_t k = 0; k < d; k++) acc += s2[i * d + k] * r[k * d + j];
            t[i * d + j] = acc;
        }
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) {
            double acc = 0;
            for (size_t k = 0; k < d; k++) acc += r[i * d + k] * t[k * d + j];
            a[i * d + j] = acc;
        }
    for (size_t i = 0; i < d; i++)
        for (size_t j = i + 1; j < d; j++)
            a[i * d + j] = a[j * d + i] = 0.5 * (a[i * d + j] + a[j * d + i]);
    if ((s = clvae_sym_eigen(a, d, w, v, err))) goto out;
    double trsqrt = 0;
    for (size_t i = 0; i < d; i++) trsqrt += sqrt(w[i] > 0 ? w[i] : 0.0);
    *out = dist + tr - 2.0 * trsqrt;
out:
    free(a);
    free(v);
    free(r);
    free(t);
    free(w);
    return s;
}
