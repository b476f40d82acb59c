/* Reparameterization z = mu + exp(logvar / 2) * eps and its gradients, element-wise. */

/* z[i] = mu[i] + exp(0.5 logvar[i]) * eps[i] for i < n. */
__kernel void reparam_apply(__global float *z, uint z_off, __global const float *eps,
                            uint eps_off, __global const float *mu, uint mu_off,
                            __global const float *lv, uint lv_off, uint n)
{
    uint i = CLVAE_GID0;
    if (i >= n) return;
    z[z_off + i] = mu[mu_off + i] + exp(0.5f * lv[lv_off + i]) * eps[eps_off + i];
}

/* dmu += dz (mask & 1); dlogvar += dz * eps * 0.5 exp(0.5 logvar) (mask & 2); i < n. */
__kernel void reparam_backward(__global float *dmu, uint dmu_off, __global float *dlv,
                               uint dlv_off, __global const float *dz, uint dz_off,
                               __global const float *eps, uint eps_off,
                               __global const float *lv, uint lv_off, uint n, uint mask)
{
    uint i = CLVAE_GID0;
    if (i >= n) return;
    float g = dz[dz_off + i];
    if (mask & 1u) dmu[dmu_off + i] += g;
    if (mask & 2u) dlv[dlv_off + i] += g * eps[eps_off + i] * 0.5f * exp(0.5f * lv[lv_off + i]);
}
