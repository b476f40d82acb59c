/* Launchers for cl/latent.cl: the reparameterization with device noise from rng.h. */
#include "clvae/ops/latent.h"

#include <stdint.h>

#include "clvae/ops/rng.h"

/* Checks of apply, shared with forward so that forward fails before drawing noise. */
static clvae_status_t check_apply(const char *op, clvae_buf_t z, clvae_buf_t eps, clvae_buf_t mu,
                                  clvae_buf_t logvar, size_t n, clvae_error_t *err)
{
    clvae_status_t s;
    if (n == 0) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: n must be > 0", op);
    if ((s = clvae_buf_check(z, n, op, "z", err)) || (s = clvae_buf_check(eps, n, op, "eps", err)) ||
        (s = clvae_buf_check(mu, n, op, "mu", err)) ||
        (s = clvae_buf_check(logvar, n, op, "logvar", err)))
        return s;
    return CLVAE_OK;
}

clvae_status_t clvae_reparam_apply(clvae_ctx_t *ctx, clvae_buf_t z, clvae_buf_t eps,
                                   clvae_buf_t mu, clvae_buf_t logvar, size_t n,
                                   clvae_error_t *err)
{
    clvae_status_t s = check_apply("reparam_apply", z, eps, mu, logvar, n, err);
    if (s) return s;
    cl_kernel k;
    if ((s = clvae_kernel_get(ctx, "latent", "reparam_apply", &k, err))) return s;
    cl_uint zo = (cl_uint)z.off, eo = (cl_uint)eps.off, mo = (cl_uint)mu.off;
    cl_uint lo = (cl_uint)logvar.off, cnt = (cl_uint)n;
    CLVAE_CL_RET(err, clSetKernelArg(k, 0, sizeof z.mem, &z.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 1, sizeof zo, &zo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 2, sizeof eps.mem, &eps.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 3, sizeof eo, &eo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 4, sizeof mu.mem, &mu.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 5, sizeof mo, &mo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 6, sizeof logvar.mem, &logvar.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 7, sizeof lo, &lo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 8, sizeof cnt, &cnt));
    return clvae_launch_1d(ctx, k, n, err);
}

clvae_status_t clvae_reparam_forward(clvae_ctx_t *ctx, clvae_buf_t z, clvae_buf_t eps,
                                     clvae_buf_t mu, clvae_buf_t logvar, size_t n, uint64_t seed,
                                     uint64_t offset, clvae_error_t *err)
{
    clvae_status_t s = check_apply("reparam_forward", z, eps, mu, logvar, n, err);
    if (s) return s;
    if ((s = clvae_rng_normal(ctx, eps, n, seed, offset, err))) return s;
    return clvae_reparam_apply(ctx, z, eps, mu, logvar, n, err);
}

clvae_status_t clvae_reparam_backward(clvae_ctx_t *ctx, clvae_buf_t dmu, clvae_buf_t dlogvar,
                                      clvae_buf_t dz, clvae_buf_t eps, clvae_buf_t logvar,
                                      size_t n, clvae_error_t *err)
{
    const char *op = "reparam_backward";
    clvae_status_t s;
    if (n == 0) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: n must be > 0", op);
    if ((s = clvae_buf_check(dz, n, op, "dz", err)) ||
        (s = clvae_buf_check(eps, n, op, "eps", err)) ||
        (s = clvae_buf_check(logvar, n, op, "logvar", err)))
        return s;
    cl_uint mask = (dmu.mem ? 1u : 0u) | (dlogvar.mem ? 2u : 0u);
    if (!mask) return CLVAE_OK;
    if ((dmu.mem && (s = clvae_buf_check(dmu, n, op, "dmu", err))) ||
        (dlogvar.mem && (s = clvae_buf_check(dlogvar, n, op, "dlogvar", err))))
        return s;
    /* a skipped output is never touched by the kernel; pass dz in its place */
    cl_mem gm = dmu.mem ? dmu.mem : dz.mem, gl = dlogvar.mem ? dlogvar.mem : dz.mem;
    cl_kernel k;
    if ((s = clvae_kernel_get(ctx, "latent", "reparam_backward", &k, err))) return s;
    cl_uint gmo = (cl_uint)dmu.off, glo = (cl_uint)dlogvar.off, zo = (cl_uint)dz.off;
    cl_uint eo = (cl_uint)eps.off, lo = (cl_uint)logvar.off, cnt = (cl_uint)n;
    CLVAE_CL_RET(err, clSetKernelArg(k, 0, sizeof gm, &gm));
    CLVAE_CL_RET(err, clSetKernelArg(k, 1, sizeof gmo, &gmo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 2, sizeof gl, &gl));
    CLVAE_CL_RET(err, clSetKernelArg(k, 3, sizeof glo, &glo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 4, sizeof dz.mem, &dz.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 5, sizeof zo, &zo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 6, sizeof eps.mem, &eps.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 7, sizeof eo, &eo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 8, sizeof logvar.mem, &logvar.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 9, sizeof lo, &lo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 10, sizeof cnt, &cnt));
    CLVAE_CL_RET(err, clSetKernelArg(k, 11, sizeof mask, &mask));
    return clvae_launch_1d(ctx, k, n, err);
}
