/* Philox 4x32-10 on the host (the reference twin) and the launchers of cl/rng.cl. */
#include "clvae/ops/rng.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void clvae_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        if (r > 0) {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* The four words of block b of a stream (see the layout in rng.h). */
static void stream_block(uint64_t seed, uint64_t b, uint32_t tag, uint32_t w[4])
{
    const uint32_t ctr[4] = {(uint32_t)b, (uint32_t)(b >> 32), tag, 0u};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    clvae_philox4x32_10(ctr, key, w);
}

void clvae_rng_uniform_host(float *out, size_t n, uint64_t seed, uint64_t offset)
{
    for (size_t base = 0; base < n; base += 4) {
        uint32_t w[4];
        stream_block(seed, offset + base / 4, CLVAE_RNG_TAG_UNIFORM, w);
        for (size_t j = 0; j < 4 && base + j < n; j++)
            out[base + j] = (float)(w[j] >> 8) * (1.0f / 16777216.0f);
    }
}

void clvae_rng_normal_host(float *out, size_t n, uint64_t seed, uint64_t offset)
{
    const double two_pi = 6.283185307179586476925286766559;
    for (size_t base = 0; base < n; base += 4) {
        uint32_t w[4];
        stream_block(seed, offset + base / 4, CLVAE_RNG_TAG_NORMAL, w);
        for (size_t j = 0; j < 4 && base + j < n; j += 2) {
            double u1 = ((double)(w[j] >> 8) + 1.0) / 16777216.0;
            double u2 = (double)(w[j + 1] >> 8) / 16777216.0;
            double r = sqrt(-2.0 * log(u1));
            out[base + j] = (float)(r * cos(two_pi * u2));
            if (base + j + 1 < n) out[base + j + 1] = (float)(r * sin(two_pi * u2));
        }
    }
}

/* Shared launcher: kernel KNAME of cl/rng.cl fills n floats of out. */
static clvae_status_t launch_stream(clvae_ctx_t *ctx, const char *kname, clvae_buf_t out,
                                    size_t n, uint64_t seed, uint64_t offset, clvae_error_t *err)
{
    if (n == 0) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: n must be > 0", kname);
    clvae_status_t s = clvae_buf_check(out, n, kname, "out", err);
    if (s) return s;
    cl_kernel k;
    if ((s = clvae_kernel_get(ctx, "rng", kname, &k, err))) return s;
    cl_uint oo = (cl_uint)out.off, cnt = (cl_uint)n;
    cl_ulong sd = seed, of = offset;
    CLVAE_CL_RET(err, clSetKernelArg(k, 0, sizeof out.mem, &out.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 1, sizeof oo, &oo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 2, sizeof cnt, &cnt));
    CLVAE_CL_RET(err, clSetKernelArg(k, 3, sizeof sd, &sd));
    CLVAE_CL_RET(err, clSetKernelArg(k, 4, sizeof of, &of));
    return clvae_launch_1d(ctx, k, (size_t)clvae_rng_blocks(n), err);
}

clvae_status_t clvae_rng_uniform(clvae_ctx_t *ctx, clvae_buf_t out, size_t n, uint64_t seed,
                                 uint64_t offset, clvae_error_t *err)
{
    return launch_stream(ctx, "rng_uniform", out, n, seed, offset, err);
}

clvae_status_t clvae_rng_normal(clvae_ctx_t *ctx, clvae_buf_t out, size_t n, uint64_t seed,
                                uint64_t offset, clvae_error_t *err)
{
    return launch_stream(ctx, "rng_normal", out, n, seed, offset, err);
}
