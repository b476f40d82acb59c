/* Counter-based random numbers (Philox 4x32-10): device streams and their bit-exact host twin. */
#ifndef CLVAE_RNG_H
#define CLVAE_RNG_H

#include <stdint.h>

#include "clvae/device/tensor.h"

/*
 * Stream layout. A stream is named by (seed, offset), both 64-bit. Its elements
 * come in blocks of four: element i belongs to block b = offset + i / 4 (mod 2^64)
 * and is word i % 4 of
 *
 *     philox4x32_10(counter = {lo32(b), hi32(b), tag, 0}, key = {lo32(seed), hi32(seed)})
 *
 * where tag is CLVAE_RNG_TAG_UNIFORM for uniforms and CLVAE_RNG_TAG_NORMAL for
 * normals, so the two kinds drawn with the same (seed, offset) are independent.
 * Element i therefore depends only on (seed, offset, i): not on n, not on the
 * work-group size, not on the device (uniforms are bit-exact everywhere). A call
 * for n elements consumes the blocks offset .. offset + ceil(n/4) - 1; the next
 * independent call uses offset + clvae_rng_blocks(n) (or a different seed).
 *
 * Uniform element: u = word >> 8 (24 bits), value u * 2^-24 in [0, 1), exact in
 * float. Normal elements, Box-Muller on the block's words w0..w3:
 *     u1 = ((w0 >> 8) + 1) * 2^-24 in (0, 1],  u2 = (w1 >> 8) * 2^-24 in [0, 1)
 *     r = sqrt(-2 log u1);  element 4b+0 = r cos(2 pi u2), 4b+1 = r sin(2 pi u2)
 * and the same from (w2, w3) for elements 4b+2, 4b+3. |normal| <= 5.77. The host
 * twin evaluates log/cos/sin in double; the device agrees to a few float ulps.
 *
 * No workspace is used.
 */

/* The counter's third word for uniform streams. */
#define CLVAE_RNG_TAG_UNIFORM 0u
/* The counter's third word for normal streams. */
#define CLVAE_RNG_TAG_NORMAL 1u

/* Philox 4x32 with 10 rounds (Salmon et al. 2011, Random123's philox4x32_10). */
void clvae_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* Number of counter blocks a stream of n elements consumes: ceil(n / 4). */
static inline uint64_t clvae_rng_blocks(size_t n) { return ((uint64_t)n + 3) / 4; }

/* out[i] = uniform element i of stream (seed, offset), in [0, 1), for i < n. */
clvae_status_t clvae_rng_uniform(clvae_ctx_t *ctx, clvae_buf_t out, size_t n, uint64_t seed,
                                 uint64_t offset, clvae_error_t *err);

/* out[i] = standard normal element i of stream (seed, offset), for i < n. */
clvae_status_t clvae_rng_normal(clvae_ctx_t *ctx, clvae_buf_t out, size_t n, uint64_t seed,
                                uint64_t offset, clvae_error_t *err);

/* Host twin of clvae_rng_uniform, bit-identical to the device. */
void clvae_rng_uniform_host(float *out, size_t n, uint64_t seed, uint64_t offset);

/* Host twin of clvae_rng_normal (maths in double, rounded to float once). */
void clvae_rng_normal_host(float *out, size_t n, uint64_t seed, uint64_t offset);

#endif
