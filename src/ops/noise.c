/* Launchers for cl/noise.cl: argument checks for Gaussian, masking and downsampling noise. */
#include "clvae/ops/noise.h"
#include "ops/kargs.h"

#include <math.h>

#include "clvae/ops/rng.h"

/* in and out: n > 0, both views hold n floats (clvae_buf_check), the same view or disjoint. */
static clvae_status_t check_views(clvae_buf_t out, clvae_buf_t in, size_t n, const char *op,
                                  clvae_error_t *err)
{
    if (n == 0) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: n must be > 0", op);
    clvae_status_t s;
    if ((s = clvae_buf_check(out, n, op, "out", err)) ||
        (s = clvae_buf_check(in, n, op, "in", err)))
        return s;
    if (out.mem == in.mem && out.off != in.off && out.off < in.off + n && in.off < out.off + n)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s: out and in overlap without being the same view", op);
    return CLVAE_OK;
}

/* Sets the arguments every noise kernel starts with; returns the next index in *next. */
static clvae_status_t set_args(cl_kernel k, clvae_buf_t out, clvae_buf_t in, size_t n,
                               uint64_t seed, uint64_t offset, cl_uint *next,
                               clvae_error_t *err)
{
    cl_uint oo = (cl_uint)out.off, io = (cl_uint)in.off, cnt = (cl_uint)n;
    cl_ulong sd = seed, of = offset;
    CLVAE_CL_RET(err, clSetKernelArg(k, 0, sizeof out.mem, &out.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 1, sizeof oo, &oo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 2, sizeof in.mem, &in.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 3, sizeof io, &io));
    CLVAE_CL_RET(err, clSetKernelArg(k, 4, sizeof cnt, &cnt));
    CLVAE_CL_RET(err, clSetKernelArg(k, 5, sizeof sd, &sd));
    CLVAE_CL_RET(err, clSetKernelArg(k, 6, sizeof of, &of));
    *next = 7;
    return CLVAE_OK;
}

clvae_status_t clvae_noise_gaussian(clvae_ctx_t *ctx, clvae_buf_t out, clvae_buf_t in, size_t n,
                                    float sigma, int clip, uint64_t seed, uint64_t offset,
                                    clvae_error_t *err)
{
    const char *op = "noise_gaussian";
    clvae_status_t s = check_views(out, in, n, op, err);
    if (s) return s;
    if (!(isfinite(sigma) && sigma >= 0.0f))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: sigma %g must be finite and >= 0", op,
                          (double)sigma);
    if (clip != 0 && clip != 1)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: clip must be 0 or 1, not %d", op, clip);
    cl_kernel k;
    cl_uint a, c = (cl_uint)clip;
    if ((s = clvae_kernel_get(ctx, "noise", "noise_gaussian", &k, err)) ||
        (s = set_args(k, out, in, n, seed, offset, &a, err)))
        return s;
    CLVAE_CL_RET(err, clSetKernelArg(k, a, sizeof sigma, &sigma));
    CLVAE_CL_RET(err, clSetKernelArg(k, a + 1, sizeof c, &c));
    return clvae_launch_1d(ctx, k, (size_t)clvae_rng_blocks(n), err);
}

clvae_status_t clvae_noise_mask(clvae_ctx_t *ctx, clvae_buf_t out, clvae_buf_t in, size_t n,
                                float p, uint64_t seed, uint64_t offset, clvae_error_t *err)
{
    const char *op = "noise_mask";
    clvae_status_t s = check_views(out, in, n, op, err);
    if (s) return s;
    if (!(p >= 0.0f && p <= 1.0f))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: p %g must be in [0, 1]", op, (double)p);
    cl_kernel k;
    cl_uint a;
    if ((s = clvae_kernel_get(ctx, "noise", "noise_mask", &k, err)) ||
        (s = set_args(k, out, in, n, seed, offset, &a, err)))
        return s;
    CLVAE_CL_RET(err, clSetKernelArg(k, a, sizeof p, &p));
    return clvae_launch_1d(ctx, k, (size_t)clvae_rng_blocks(n), err);
}

clvae_status_t clvae_noise_downsample(clvae_ctx_t *ctx, clvae_buf_t out, clvae_buf_t in, size_t n,
                                      size_t h, size_t w, int f, clvae_error_t *err)
{
    const char *op = "noise_downsample";
    clvae_status_t s = check_views(out, in, n, op, err);
    if (s) return s;
    if (out.mem == in.mem && out.off < in.off + n && in.off < out.off + n)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: out and in overlap (a block reads its "
                          "neighbours)", op);
    if (f < 1 || h == 0 || w == 0 || h % (size_t)f || w % (size_t)f || n % (h * w) ||
        (double)n >= 4294967295.0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: n %zu, planes %zux%zu, factor %d (want "
                          "planes that the factor divides, n a multiple of them)", op, n, h, w, f);
    clvae_karg_t a[] = {clvae_karg_buf(out), clvae_karg_buf(in), clvae_karg_uint(n),
                        clvae_karg_uint(h),  clvae_karg_uint(w), clvae_karg_uint((size_t)f)};
    cl_kernel k;
    if ((s = clvae_kernel_args(ctx, "noise", "noise_downsample", &k, a, (int)(sizeof a / sizeof *a),
                               err)))
        return s;
    return clvae_launch_1d(ctx, k, n, err);
}

clvae_status_t clvae_noise_apply(clvae_ctx_t *ctx, const clvae_noise_spec_t *spec, clvae_buf_t out,
                                 clvae_buf_t in, size_t n, uint64_t seed, uint64_t offset,
                                 clvae_error_t *err)
{
    switch (spec->kind) {
    case CLVAE_NOISE_GAUSSIAN:
        return clvae_noise_gaussian(ctx, out, in, n, spec->std, spec->clip, seed, offset, err);
    case CLVAE_NOISE_MASK:
        return clvae_noise_mask(ctx, out, in, n, spec->p, seed, offset, err);
    case CLVAE_NOISE_DOWNSAMPLE:
        return clvae_noise_downsample(ctx, out, in, n, spec->h, spec->w, spec->factor, err);
    case CLVAE_NOISE_NONE:
        break;
    }
    clvae_status_t s = check_views(out, in, n, "noise_apply", err);
    if (s) return s;
    if (out.mem == in.mem && out.off == in.off) return CLVAE_OK;
    return clvae_buf_copy(ctx, out, in, n, err);
}

const char *clvae_noise_kind_name(clvae_noise_kind_t k)
{
    static const char *const names[] = {"none", "gaussian", "mask", "downsample"};
    return (unsigned)k < 4 ? names[k] : "?";
}
