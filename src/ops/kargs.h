/* Inside the ops: kernel arguments set from one list (views as buffer + offset, uints, floats,
 * ulongs), for the launchers of the newer kernel files. */
#ifndef CLVAE_OPS_KARGS_H
#define CLVAE_OPS_KARGS_H

#include <stdint.h>

#include "clvae/device/device.h"
#include "clvae/device/tensor.h"

/* One kernel argument: a view (its buffer and offset, two arguments), a uint, a float or a
 * ulong. */
typedef struct clvae_karg {
    char type; /* 'b' view, 'u' uint, 'f' float, 'l' ulong */
    clvae_buf_t b;
    cl_uint u;
    float f;
    cl_ulong l;
} clvae_karg_t;

static inline clvae_karg_t clvae_karg_buf(clvae_buf_t b)
{
    clvae_karg_t a = {'b', b, 0, 0.0f, 0};
    return a;
}
static inline clvae_karg_t clvae_karg_uint(size_t u)
{
    clvae_karg_t a = {'u', {0}, (cl_uint)u, 0.0f, 0};
    return a;
}
static inline clvae_karg_t clvae_karg_float(float f)
{
    clvae_karg_t a = {'f', {0}, 0, f, 0};
    return a;
}
static inline clvae_karg_t clvae_karg_ulong(uint64_t l)
{
    clvae_karg_t a = {'l', {0}, 0, 0.0f, (cl_ulong)l};
    return a;
}

/* Kernel `name` of cl/FILE.cl with the n arguments a set in order. */
clvae_status_t clvae_kernel_args(clvae_ctx_t *ctx, const char *file, const char *name,
                                 cl_kernel *k, const clvae_karg_t *a, int n, clvae_error_t *err);

#endif
