/* Sinusoidal embeddings: the features of a per-example scalar (a diffusion model's time step). */

/* y [N, D] from t [N], D = 2 * K: y[n, k] = sin(t_n * f_k) and y[n, K + k] = cos(t_n * f_k) for
 * k < K, f_k = exp(k * c) with c = -ln(max_period) / K, for each of the total = N*D values. */
__kernel void time_embed(__global float *y, uint yo, __global const float *t, uint to, uint K,
                         float c, uint total)
{
    uint i = CLVAE_GID0;
    if (i >= total) return;
    uint D = 2 * K;
    uint n = i / D;
    uint j = i - n * D;
    uint k = j < K ? j : j - K;
    float a = t[to + n] * exp((float)k * c);
    y[yo + i] = j < K ? sin(a) : cos(a);
}
