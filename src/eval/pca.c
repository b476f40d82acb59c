/* PCA beside the autoencoder: principal components of a training set (host, double; cyclic
 * Jacobi on the covariance) and the test set's reconstruction error with the first k. */
#include "clvae/eval/pca.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Eigen-decomposition of the symmetric D x D matrix a (destroyed): eigenvalues into w, the
 * eigenvectors into the columns of v (row-major, v[i * D + j]: component i of vector j). */
static void jacobi(double *a, size_t D, double *w, double *v)
{
    for (size_t i = 0; i < D; i++)
        for (size_t j = 0; j < D; j++) v[i * D + j] = i == j;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0.0;
        for (size_t p = 0; p < D; p++)
            for (size_t q = p + 1; q < D; q++) off += a[p * D + q] * a[p * D + q];
        if (off < 1e-22) break;
        for (size_t p = 0; p < D; p++)
            for (size_t q = p + 1; q < D; q++) {
                double apq = a[p * D + q];
                if (fabs(apq) < 1e-300) continue;
                double theta = (a[q * D + q] - a[p * D + p]) / (2.0 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
                double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                for (size_t k = 0; k < D; k++) { /* columns p, q */
                    double akp = a[k * D + p], akq = a[k * D + q];
                    a[k * D + p] = c * akp - s * akq;
                    a[k * D + q] = s * akp + c * akq;
                }
                for (size_t k = 0; k < D; k++) { /* rows p, q */
                    double apk = a[p * D + k], aqk = a[q * D + k];
                    a[p * D + k] = c * apk - s * aqk;
                    a[q * D + k] = s * apk + c * aqk;
                }
                for (size_t k = 0; k < D; k++) {
                    double vkp = v[k * D + p], vkq = v[k * D + q];
                    v[k * D + p] = c * vkp - s * vkq;
                    v[k * D + q] = s * vkp + c * vkq;
                }
            }
    }
    for (size_t i = 0; i < D; i++) w[i] = a[i * D + i];
}

clvae_status_t clvae_pca_errors(const float *train, size_t ntrain, const float *test,
                                size_t ntest, size_t D, const size_t *ks, int nk, double *out,
                                clvae_error_t *err)
{
    if (ntrain < 2 || ntest < 1 || D == 0 || D > 1024)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "PCA of %zu training and %zu test examples of "
                          "%zu values (want 2 or more, 1 or more, 1 to 1024)", ntrain, ntest, D);
    for (int q = 0; q < nk; q++)
        if (ks[q] > D)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "PCA with %zu components of %zu values",
                              ks[q], D);
    double *mean = calloc(D, sizeof *mean), *cov = calloc(D * D, sizeof *cov);
    double *w = malloc(D * sizeof *w), *v = malloc(D * D * sizeof *v), *x = malloc(D * sizeof *x);
    size_t *order = malloc(D * sizeof *order);
    double *cum = calloc(D + 1, sizeof *cum);
    clvae_status_t s = CLVAE_OK;
    if (!mean || !cov || !w || !v || !x || !order || !cum) {
        s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        goto out;
    }
    for (size_t n = 0; n < ntrain; n++)
        for (size_t i = 0; i < D; i++) mean[i] += train[n * D + i];
    for (size_t i = 0; i < D; i++) mean[i] /= (double)ntrain;
    for (size_t n = 0; n < ntrain; n++) {
        for (size_t i = 0; i < D; i++) x[i] = train[n * D + i] - mean[i];
        for (size_t i = 0; i < D; i++)
            for (size_t j = i; j < D; j++) cov[i * D + j] += x[i] * x[j];
    }
    for (size_t i = 0; i < D; i++)
        for (size_t j = i; j < D; j++) cov[j * D + i] = cov[i * D + j] /= (double)(ntrain - 1);
    jacobi(cov, D, w, v);
    /* the components by falling eigenvalue (ties: index order) */
    for (size_t i = 0; i < D; i++) order[i] = i;
    for (size_t i = 1; i < D; i++)
        for (size_t j = i; j > 0 && w[order[j]] > w[order[j - 1]]; j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    /* the error with k components: |x - mean|^2 less the squares of its first k projections,
     * summed per example and averaged over the test set */
    for (size_t n = 0; n < ntest; n++) {
        double all = 0.0;
        for (size_t i = 0; i < D; i++) {
            x[i] = test[n * D + i] - mean[i];
            all += x[i] * x[i];
        }
        cum[0] += all;
        double kept = 0.0;
        for (size_t k = 0; k < D; k++) {
            double p = 0.0;
            for (size_t i = 0; i < D; i++) p += v[i * D + order[k]] * x[i];
            kept += p * p;
            double e = all - kept;
            cum[k + 1] += e > 0.0 ? e : 0.0;
        }
    }
    for (int q = 0; q < nk; q++) out[q] = cum[ks[q]] / (double)ntest;
out:
    free(mean);
    free(cov);
    free(w);
    free(v);
    free(x);
    free(order);
    free(cum);
    return s;
}
