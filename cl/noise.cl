/* Input corruption for denoising autoencoders: additive Gaussian and masking noise. */

/* Work item b handles block offset + b of the stream (philox4x32_10, rng_block and
 * rng_box_muller are in cl/common.cl; layout in include/clvae/ops/rng.h) and elements
 * 4b .. 4b+3 that are < n. It reads each in[i] before it writes out[i], and no other item
 * touches i, so out may be in (in place). */

#define NOISE_TAG_GAUSSIAN 3u
#define NOISE_TAG_MASK 4u

/* v clamped to [0, 1] when clip is set; NaN passes through. */
float noise_clip(float v, uint clip)
{
    if (!clip) return v;
    return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
}

/* out[i] = clip(fma(sigma, z_i, in[i])) with z_i the normal element i of the tag-3 stream. */
__kernel void noise_gaussian(__global float *out, uint out_off, __global const float *in,
                             uint in_off, uint n, ulong seed, ulong offset, float sigma,
                             uint clip)
{
    uint b = CLVAE_GID0;
    uint base = b * 4u;
    if (b > (n - 1u) / 4u) return; /* n >= 1 */
    uint4 w = rng_block(seed, offset, b, NOISE_TAG_GAUSSIAN);
    float2 z01 = rng_box_muller(w.x, w.y);
    float2 z23 = rng_box_muller(w.z, w.w);
    float z[4] = {z01.x, z01.y, z23.x, z23.y};
    for (uint j = 0; j < 4u && base + j < n; j++)
        out[out_off + base + j] = noise_clip(fma(sigma, z[j], in[in_off + base + j]), clip);
}

/* out[i] = 0 when the uniform element i of the tag-4 stream is < p, else in[i]. */
__kernel void noise_mask(__global float *out, uint out_off, __global const float *in,
                         uint in_off, uint n, ulong seed, ulong offset, float p)
{
    uint b = CLVAE_GID0;
    uint base = b * 4u;
    if (b > (n - 1u) / 4u) return;
    uint4 w = rng_block(seed, offset, b, NOISE_TAG_MASK);
    uint words[4] = {w.x, w.y, w.z, w.w};
    for (uint j = 0; j < 4u && base + j < n; j++) {
        float u = (float)(words[j] >> 8) * RNG_INV24;
        float x = in[in_off + base + j];
        out[out_off + base + j] = u < p ? 0.0f : x;
    }
}

/* Super-resolution's corruption: out[i] = the mean of the f x f block of in holding value i, in
 * planes of H x W (H, W multiples of f); the block summed row by row in a fixed order. out and
 * in do not overlap (the launcher checks). */
__kernel void noise_downsample(__global float *out, uint out_off, __global const float *in,
                               uint in_off, uint n, uint H, uint W, uint f)
{
    uint i = CLVAE_GID0;
    if (i >= n) return;
    uint plane = i / (H * W), r = i - plane * H * W, y = r / W, x = r - y * W;
    uint base = in_off + plane * H * W + (y / f * f) * W + x / f * f;
    float s = 0.0f;
    for (uint dy = 0; dy < f; dy++)
        for (uint dx = 0; dx < f; dx++) s += in[base + dy * W + dx];
    out[out_off + i] = s / (float)(f * f);
}
