/* Diffusion: x_t made from x_0 and noise at each example's drawn step, and one sampling step
 * (DDPM or DDIM) in place. Philox streams as in include/clvae/ops/rng.h (cl/common.cl). */

/* Layout: x0, eps, xt [B, D]; times [B]; coef [T, 2] = sqrt(abar_t), sqrt(1 - abar_t). */

/* One work item per value i < B*D: example b = i / D draws t_b = (u24 * T) >> 24 from the 24
 * bits of uniform element b of (seed, offset); the item with i = b*D writes times[b]. */
__kernel void diffusion_noisy(__global float *xt, uint xto, __global float *times, uint tmo,
                              __global const float *x0, uint x0o, __global const float *eps,
                              uint eo, __global const float *coef, uint co, uint D, uint T,
                              uint total, ulong seed, ulong offset)
{
    uint i = CLVAE_GID0;
    if (i >= total) return;
    uint b = i / D;
    uint j = i - b * D;
    uint4 w = rng_block(seed, offset, b / 4u, RNG_TAG_UNIFORM);
    uint words[4] = {w.x, w.y, w.z, w.w};
    uint t = (uint)(((ulong)(words[b & 3u] >> 8) * (ulong)T) >> 24);
    if (j == 0u) times[tmo + b] = (float)t;
    xt[xto + i] = coef[co + 2u * t] * x0[x0o + i] + coef[co + 2u * t + 1u] * eps[eo + i];
}

/* Work item q handles values 4q .. 4q+3 < n: x0 = c0 x - c1 eps, clamped to [-clip, clip] when
 * clip > 0, then x = p x0 + q x + sigma z, z the normal elements of block q of (seed, offset)
 * (rng_normal's; drawn only when sigma is not 0). */
__kernel void diffusion_step(__global float *x, uint xo, __global const float *eps, uint eo,
                             uint n, float c0, float c1, float p, float qc, float sigma,
                             float clip, ulong seed, ulong offset)
{
    uint q = CLVAE_GID0;
    uint base = q * 4u;
    if (q > (n - 1u) / 4u) return; /* n >= 1 */
    float z[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    if (sigma != 0.0f) {
        uint4 w = rng_block(seed, offset, q, RNG_TAG_NORMAL);
        float2 z01 = rng_box_muller(w.x, w.y);
        float2 z23 = rng_box_muller(w.z, w.w);
        z[0] = z01.x;
        z[1] = z01.y;
        z[2] = z23.x;
        z[3] = z23.y;
    }
    for (uint k = 0; k < 4u && base + k < n; k++) {
        uint i = base + k;
        float xi = x[xo + i];
        float x0 = c0 * xi - c1 * eps[eo + i];
        if (clip > 0.0f) x0 = clamp(x0, -clip, clip);
        x[xo + i] = p * x0 + qc * xi + sigma * z[k];
    }
}

/* Classifier-free guidance in training: label b (< B) becomes the null class K when its uniform,
 * the 24 bits of element b of (seed, offset) times 2^-24, is below p. */
__kernel void diffusion_drop_labels(__global float *labels, uint lo, uint B, uint K, float p,
                                    ulong seed, ulong offset)
{
    uint b = CLVAE_GID0;
    if (b >= B) return;
    uint4 w = rng_block(seed, offset, b / 4u, RNG_TAG_UNIFORM);
    uint words[4] = {w.x, w.y, w.z, w.w};
    float u = (float)(words[b & 3u] >> 8) * (1.0f / 16777216.0f);
    if (u < p) labels[lo + b] = (float)K;
}

/* Classifier-free guidance in sampling: eps = eps_u + g (eps_c - eps_u) in place of eps_u. */
__kernel void diffusion_guide(__global float *eps, uint eo, __global const float *cond, uint co,
                              uint n, float g)
{
    uint i = CLVAE_GID0;
    if (i >= n) return;
    float u = eps[eo + i];
    eps[eo + i] = u + g * (cond[co + i] - u);
}
