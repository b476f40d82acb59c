/* Philox 4x32-10 counter-based random streams: uniform floats and Box-Muller normals. */

/* Stream layout (see include/clvae/rng.h): work item b computes block offset + b,
 * counter {lo32, hi32, tag, 0}, key {lo32(seed), hi32(seed)}, and writes elements
 * 4b .. 4b+3 that are < n. An element's value depends only on (seed, offset, i). */

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u
#define RNG_TAG_UNIFORM 0u
#define RNG_TAG_NORMAL 1u
#define RNG_INV24 (1.0f / 16777216.0f)

/* Ten Philox rounds, the key bumped by the Weyl constants before each round but the first. */
uint4 philox4x32_10(uint4 c, uint2 k)
{
    for (int r = 0; r < 10; r++) {
        if (r > 0) {
            k.x += PHILOX_W0;
            k.y += PHILOX_W1;
        }
        uint hi0 = mul_hi(PHILOX_M0, c.x), lo0 = PHILOX_M0 * c.x;
        uint hi1 = mul_hi(PHILOX_M1, c.z), lo1 = PHILOX_M1 * c.z;
        c = (uint4)(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    }
    return c;
}

/* The four words of block `offset + b` of the stream (seed, tag). */
uint4 rng_block(ulong seed, ulong offset, uint b, uint tag)
{
    ulong blk = offset + (ulong)b;
    uint4 ctr = (uint4)((uint)blk, (uint)(blk >> 32), tag, 0u);
    uint2 key = (uint2)((uint)seed, (uint)(seed >> 32));
    return philox4x32_10(ctr, key);
}

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

/* Box-Muller on one pair of words: u1 in (0, 1] so that log never sees 0. */
float2 rng_box_muller(uint a, uint c)
{
    float u1 = ((float)(a >> 8) + 1.0f) * RNG_INV24;
    float u2 = (float)(c >> 8) * RNG_INV24;
    float r = sqrt(-2.0f * log(u1));
    float t = 2.0f * u2; /* exact: angle 2 pi u2 in units of pi */
    return (float2)(r * cospi(t), r * sinpi(t));
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
