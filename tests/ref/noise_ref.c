/* Host twins of cl/noise.cl: the same Philox streams (tags 3 and 4) and the same arithmetic. */
#include "ref.h"

#include <math.h>

#include "clvae/ops/rng.h"

/* The four words of block b of the stream (seed, tag), as rng.h lays it out. */
static void block_words(uint64_t seed, uint64_t b, uint32_t tag, uint32_t w[4])
{
    const uint32_t ctr[4] = {(uint32_t)b, (uint32_t)(b >> 32), tag, 0u};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    clvae_philox4x32_10(ctr, key, w);
}

/* v clamped to [0, 1] when clip is set; NaN passes through (as noise_clip). */
static float clip01(float v, int clip)
{
    if (!clip) return v;
    return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
}

void clvae_noise_gaussian_ref(float *out, const float *in, size_t n, float sigma, int clip,
                              uint64_t seed, uint64_t offset)
{
    const double two_pi = 6.283185307179586476925286766559;
    for (size_t base = 0; base < n; base += 4) {
        uint32_t w[4];
        float z[4];
        block_words(seed, offset + base / 4, CLVAE_NOISE_TAG_GAUSSIAN, w);
        for (int j = 0; j < 4; j += 2) { /* Box-Muller as clvae_rng_normal_host */
            double u1 = ((double)(w[j] >> 8) + 1.0) / 16777216.0;
            double u2 = (double)(w[j + 1] >> 8) / 16777216.0;
            double r = sqrt(-2.0 * log(u1));
            z[j] = (float)(r * cos(two_pi * u2));
            z[j + 1] = (float)(r * sin(two_pi * u2));
        }
        for (size_t j = 0; j < 4 && base + j < n; j++)
            out[base + j] = clip01(fmaf(sigma, z[j], in[base + j]), clip);
    }
}

void clvae_noise_mask_ref(float *out, const float *in, size_t n, float p, uint64_t seed,
                          uint64_t offset)
{
    for (size_t base = 0; base < n; base += 4) {
        uint32_t w[4];
        block_words(seed, offset + base / 4, CLVAE_NOISE_TAG_MASK, w);
        for (size_t j = 0; j < 4 && base + j < n; j++) {
            float u = (float)(w[j] >> 8) * (1.0f / 16777216.0f);
            out[base + j] = u < p ? 0.0f : in[base + j];
        }
    }
}

void clvae_noise_downsample_ref(double *out, const float *in, size_t n, size_t h, size_t w, int f)
{
    for (size_t i = 0; i < n; i++) {
        size_t plane = i / (h * w), y = i % (h * w) / w, x = i % w;
        size_t y0 = y / (size_t)f * (size_t)f, x0 = x / (size_t)f * (size_t)f;
        double s = 0.0;
        for (int dy = 0; dy < f; dy++)
            for (int dx = 0; dx < f; dx++)
                s += in[plane * h * w + (y0 + (size_t)dy) * w + x0 + (size_t)dx];
        out[i] = s / (double)(f * f);
    }
}
