/* PCA beside the autoencoder (the lesson's "usually better than PCA", measured): host-side, in
 * double. */
#ifndef CLVAE_PCA_H
#define CLVAE_PCA_H

#include <stddef.h>

#include "clvae/io/error.h"

/* The principal components of train [ntrain, D] (its mean removed; the covariance's
 * eigenvectors by cyclic Jacobi rotations), and for each k = ks[q] (0 to D) the test set's
 * [ntest, D] reconstruction error with the first k: the squared error summed over an example's
 * values, averaged over the examples, into out[q] (k = 0: the distance to the mean; k = D:
 * 0 up to rounding). D up to 1024. */
clvae_status_t clvae_pca_errors(const float *train, size_t ntrain, const float *test,
                                size_t ntest, size_t D, const size_t *ks, int nk, double *out,
                                clvae_error_t *err);

#endif
