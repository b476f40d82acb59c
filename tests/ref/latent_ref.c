/* Plain-C reference in double of the reparameterization in cl/latent.cl. */
#include "ref.h"

#include <math.h>

#include "clvae/ops/rng.h"

void clvae_reparam_apply_ref(double *z, const double *eps, const double *mu, const double *logvar,
                             size_t n)
{
    for (size_t i = 0; i < n; i++) z[i] = mu[i] + exp(0.5 * logvar[i]) * eps[i];
}

void clvae_reparam_forward_ref(double *z, double *eps, const double *mu, const double *logvar,
                               size_t n, uint64_t seed, uint64_t offset)
{
    /* element i is word i % 4 of block offset + i / 4 (rng.h): draw block by block */
    for (size_t base = 0; base < n; base += 4) {
        float e[4];
        size_t m = n - base < 4 ? n - base : 4;
        clvae_rng_normal_host(e, m, seed, offset + base / 4);
        for (size_t j = 0; j < m; j++) eps[base + j] = e[j];
    }
    clvae_reparam_apply_ref(z, eps, mu, logvar, n);
}

void clvae_reparam_backward_ref(double *dmu, double *dlogvar, const double *dz, const double *eps,
                                const double *logvar, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (dmu) dmu[i] += dz[i];
        if (dlogvar) dlogvar[i] += dz[i] * eps[i] * 0.5 * exp(0.5 * logvar[i]);
    }
}
