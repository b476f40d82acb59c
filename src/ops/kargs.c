/* Kernel arguments set from one list (src/ops/kargs.h). */
#include "ops/kargs.h"

clvae_status_t clvae_kernel_args(clvae_ctx_t *ctx, const char *file, const char *name,
                                 cl_kernel *k, const clvae_karg_t *a, int n, clvae_error_t *err)
{
    clvae_status_t s = clvae_kernel_get(ctx, file, name, k, err);
    if (s) return s;
    cl_uint i = 0;
    for (int j = 0; j < n; j++) {
        if (a[j].type == 'b') {
            cl_uint off = (cl_uint)a[j].b.off;
            CLVAE_CL_RET(err, clSetKernelArg(*k, i++, sizeof a[j].b.mem, &a[j].b.mem));
            CLVAE_CL_RET(err, clSetKernelArg(*k, i++, sizeof off, &off));
        } else if (a[j].type == 'u') {
            CLVAE_CL_RET(err, clSetKernelArg(*k, i++, sizeof a[j].u, &a[j].u));
        } else if (a[j].type == 'l') {
            CLVAE_CL_RET(err, clSetKernelArg(*k, i++, sizeof a[j].l, &a[j].l));
        } else {
            CLVAE_CL_RET(err, clSetKernelArg(*k, i++, sizeof a[j].f, &a[j].f));
        }
    }
    return CLVAE_OK;
}
