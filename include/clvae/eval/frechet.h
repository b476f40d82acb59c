/* Frechet distance between Gaussian fits of feature sets (host, double), with its eigen solver. */
#ifndef CLVAE_FRECHET_H
#define CLVAE_FRECHET_H

#include <stddef.h>

#include "clvae/io/error.h"

/*
 * Shapes: n rows of d features.
 *   x          [n, d]   feature rows (float, e.g. a classifier's penultimate activations)
 *   mu         [d]      mean
 *   cov, a, v  [d, d]   row-major; cov and a symmetric; v's columns are eigenvectors
 *   w          [d]      eigenvalues, ascending
 */

/* Mean and covariance (unbiased: divided by n - 1, as numpy.cov) of n >= 2 rows, summed in
 * double in row order; a NaN or infinite feature is CLVAE_ERR_INVALID naming the row. */
clvae_status_t clvae_gauss_fit(const float *x, size_t n, size_t d, double *mu, double *cov,
                               clvae_error_t *err);

/* Symmetric eigen decomposition by cyclic Jacobi rotations: a = v diag(w) v^T, w ascending,
 * v orthonormal. a is overwritten (its diagonal ends as the eigenvalues). Non-finite input is
 * CLVAE_ERR_INVALID; no convergence within 100 sweeps is CLVAE_ERR_CORRUPT. */
clvae_status_t clvae_sym_eigen(double *a, size_t d, double *w, double *v, clvae_error_t *err);

/* The Frechet distance between N(mu1, s1) and N(mu2, s2):
 *   ||mu1 - mu2||^2 + Tr(s1 + s2 - 2 (s1^{1/2} s2 s1^{1/2})^{1/2})
 * with both square roots from clvae_sym_eigen (eigenvalues below 0, round-off of a covariance
 * that is only positive semi-definite, count as 0). The inputs are not modified. */
clvae_status_t clvae_frechet_distance(const double *mu1, const double *s1, const double *mu2,
                                      const double *s2, size_t d, double *out, clvae_error_t *err);

#endif
