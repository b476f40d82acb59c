/* Philox 4x32-10 counter-based random streams: uniform floats and Box-Muller normals. */

/* Stream layout (see include/clvae/ops/rng.h): work item b computes block offset + b,
 * counter {lo32, hi32, tag, 0}, key {lo32(seed), hi32(seed)}, and writes elements
 * 4b .. 4b+3 that are < n. An element's value depends only on (seed, offset, i). */

/* philox4x32_10, rng_block, rng_box_muller and the tags RNG_TAG_UNIFORM and RNG_TAG_NORMAL are
 * in cl/common.cl (cl/noise.cl and cl/xent.cl use them too). */

/* out[i] = (word_i >> 8) * 2^-24 for i < n: uniforms in [0, 1), one block per work item. */
__kernel void rng_uniform(__global float *out, uint out_off, uint n, ulong seed, ulong offset)
{
    uint b = CLVAE_GID0;
    uint base = b * 4u;
    if (b > (n - 1u) / 4u) return; /* n >= 1; no overflow of b * 4 for the rounded-up tail */
    uint4 w = rng_block(seed, offset, b, RNG_TAG_UNIFORM);
    uint o = out_off + base;
    out[o] = (float)(w.x >> 8) * RNG_INV24;
    if (base + 1u < n) out[o + 1u] = (float)(w.y >> 8) * RNG_INV24;
    if (base + 2u < n) out[o + 2u] = (float)(w.z >> 8) * RNG_INV24;
    if (base + 3u < n) out[o + 3u] = (float)(w.w >> 8) * RNG_INV24;
}

/* out[i] = standard normal element i of the stream, for i < n: four per work item. */
__kernel void rng_normal(__global float *out, uint out_off, uint n, ulong seed, ulong offset)
{
    uint b = CLVAE_GID0;
    uint base = b * 4u;
    if (b > (n - 1u) / 4u) return;
    uint4 w = rng_block(seed, offset, b, RNG_TAG_NORMAL);
    float2 z01 = rng_box_muller(w.x, w.y);
    float2 z23 = rng_box_muller(w.z, w.w);
    uint o = out_off + base;
    out[o] = z01.x;
    if (base + 1u < n) out[o + 1u] = z01.y;
    if (base + 2u < n) out[o + 2u] = z23.x;
    if (base + 3u < n) out[o + 3u] = z23.y;
}
