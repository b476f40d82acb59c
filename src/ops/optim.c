/* Launchers for cl/optim.cl: Adam and SGD steps over a flat parameter array. */
#include "clvae/ops/optim.h"

#include <math.h>
#include <stdint.h>

clvae_adam_params_t clvae_adam_defaults(void)
{
    clvae_adam_params_t p = {1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f};
    return p;
}

/* n > 0, each of the count views (named names[i]) holds n floats, a skip view (if any) 1. */
static clvae_status_t check_views(const char *op, size_t n, const clvae_buf_t *v,
                                  const char *const *names, int count, clvae_buf_t skip,
                                  clvae_error_t *err)
{
    if (n == 0) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s over 0 parameters", op);
    clvae_status_t s;
    for (int i = 0; i < count; i++)
        if ((s = clvae_buf_check(v[i], n, op, names[i], err))) return s;
    return clvae_buf_check_opt(skip, 1, op, "skip", err);
}

/* Sets the skip arguments at index i, i+1, i+2: a NULL skip view passes p and use_skip 0. */
static clvae_status_t set_skip(cl_kernel k, cl_uint i, clvae_buf_t skip, clvae_buf_t p,
                               clvae_error_t *err)
{
    cl_uint use = skip.mem != NULL, off = use ? (cl_uint)skip.off : 0; /* checked: check_views */
    cl_mem mem = use ? skip.mem : p.mem;
    CLVAE_CL_RET(err, clSetKernelArg(k, i, sizeof mem, &mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, i + 1, sizeof off, &off));
    CLVAE_CL_RET(err, clSetKernelArg(k, i + 2, sizeof use, &use));
    return CLVAE_OK;
}

clvae_status_t clvae_adam_step(clvae_ctx_t *ctx, clvae_buf_t p, clvae_buf_t g, clvae_buf_t m,
                               clvae_buf_t v, const clvae_adam_params_t *hp, long step, size_t n,
                               clvae_error_t *err)
{
    clvae_buf_t none = {0};
    return clvae_adam_step_guarded(ctx, p, g, m, v, hp, step, n, none, err);
}

clvae_status_t clvae_adam_step_guarded(clvae_ctx_t *ctx, clvae_buf_t p, clvae_buf_t g,
                                       clvae_buf_t m, clvae_buf_t v, const clvae_adam_params_t *hp,
                                       long step, size_t n, clvae_buf_t skip, clvae_error_t *err)
{
    const clvae_buf_t views[4] = {p, g, m, v};
    static const char *const names[4] = {"p", "g", "m", "v"};
    clvae_status_t s = check_views("Adam step", n, views, names, 4, skip, err);
    if (s) return s;
    if (step < 1) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "Adam step %ld (steps count from 1)", step);
    if (!(hp->lr >= 0.0f) || !(hp->beta1 >= 0.0f && hp->beta1 < 1.0f) ||
        !(hp->beta2 >= 0.0f && hp->beta2 < 1.0f) || !(hp->eps >= 0.0f) ||
        !(hp->weight_decay >= 0.0f) || !isfinite(hp->lr))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "Adam: lr %g, betas %g/%g, eps %g, weight decay %g: want lr, eps and "
                          "weight decay >= 0 and betas in [0, 1)",
                          (double)hp->lr, (double)hp->beta1, (double)hp->beta2, (double)hp->eps,
                          (double)hp->weight_decay);
    /* Bias corrections on the host in double, as PyTorch computes them in Python floats. */
    float step_size = (float)((double)hp->lr / (1.0 - pow((double)hp->beta1, (double)step)));
    float bc2_sqrt = (float)sqrt(1.0 - pow((double)hp->beta2, (double)step));
    cl_kernel k;
    if ((s = clvae_kernel_get(ctx, "optim", "adam_step", &k, err))) return s;
    cl_uint po = (cl_uint)p.off, go = (cl_uint)g.off, mo = (cl_uint)m.off, vo = (cl_uint)v.off;
    cl_uint cnt = (cl_uint)n;
    CLVAE_CL_RET(err, clSetKernelArg(k, 0, sizeof p.mem, &p.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 1, sizeof po, &po));
    CLVAE_CL_RET(err, clSetKernelArg(k, 2, sizeof g.mem, &g.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 3, sizeof go, &go));
    CLVAE_CL_RET(err, clSetKernelArg(k, 4, sizeof m.mem, &m.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 5, sizeof mo, &mo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 6, sizeof v.mem, &v.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 7, sizeof vo, &vo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 8, sizeof hp->beta1, &hp->beta1));
    CLVAE_CL_RET(err, clSetKernelArg(k, 9, sizeof hp->beta2, &hp->beta2));
    CLVAE_CL_RET(err, clSetKernelArg(k, 10, sizeof hp->eps, &hp->eps));
    CLVAE_CL_RET(err, clSetKernelArg(k, 11, sizeof hp->weight_decay, &hp->weight_decay));
    CLVAE_CL_RET(err, clSetKernelArg(k, 12, sizeof step_size, &step_size));
    CLVAE_CL_RET(err, clSetKernelArg(k, 13, sizeof bc2_sqrt, &bc2_sqrt));
    CLVAE_CL_RET(err, clSetKernelArg(k, 14, sizeof cnt, &cnt));
    if ((s = set_skip(k, 15, skip, p, err))) return s;
    return clvae_launch_1d(ctx, k, n, err);
}

clvae_status_t clvae_sgd_step(clvae_ctx_t *ctx, clvae_buf_t p, clvae_buf_t g, clvae_buf_t buf,
                              const clvae_sgd_params_t *hp, long step, size_t n,
                              clvae_error_t *err)
{
    clvae_buf_t none = {0};
    return clvae_sgd_step_guarded(ctx, p, g, buf, hp, step, n, none, err);
}

clvae_status_t clvae_sgd_step_guarded(clvae_ctx_t *ctx, clvae_buf_t p, clvae_buf_t g,
                                      clvae_buf_t buf, const clvae_sgd_params_t *hp, long step,
                                      size_t n, clvae_buf_t skip, clvae_error_t *err)
{
    int with_buf = hp->momentum != 0.0f;
    const clvae_buf_t views[3] = {p, g, buf};
    static const char *const names[3] = {"p", "g", "buf (momentum)"};
    clvae_status_t s = check_views("SGD step", n, views, names, with_buf ? 3 : 2, skip, err);
    if (s) return s;
    if (step < 1) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "SGD step %ld (steps count from 1)", step);
    if (!(hp->lr >= 0.0f) || !isfinite(hp->lr) || !(hp->momentum >= 0.0f) ||
        !(hp->dampening >= 0.0f) || !(hp->weight_decay >= 0.0f))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "SGD: lr %g, momentum %g, dampening %g, weight decay %g: each must be "
                          ">= 0 and finite",
                          (double)hp->lr, (double)hp->momentum, (double)hp->dampening,
                          (double)hp->weight_decay);
    if (!with_buf) buf = p; /* never written when momentum is 0 */
    cl_kernel k;
    if ((s = clvae_kernel_get(ctx, "optim", "sgd_step", &k, err))) return s;
    cl_uint po = (cl_uint)p.off, go = (cl_uint)g.off, bo = (cl_uint)buf.off, cnt = (cl_uint)n;
    cl_uint first = step == 1;
    CLVAE_CL_RET(err, clSetKernelArg(k, 0, sizeof p.mem, &p.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 1, sizeof po, &po));
    CLVAE_CL_RET(err, clSetKernelArg(k, 2, sizeof g.mem, &g.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 3, sizeof go, &go));
    CLVAE_CL_RET(err, clSetKernelArg(k, 4, sizeof buf.mem, &buf.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 5, sizeof bo, &bo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 6, sizeof hp->lr, &hp->lr));
    CLVAE_CL_RET(err, clSetKernelArg(k, 7, sizeof hp->momentum, &hp->momentum));
    CLVAE_CL_RET(err, clSetKernelArg(k, 8, sizeof hp->dampening, &hp->dampening));
    CLVAE_CL_RET(err, clSetKernelArg(k, 9, sizeof hp->weight_decay, &hp->weight_decay));
    CLVAE_CL_RET(err, clSetKernelArg(k, 10, sizeof first, &first));
    CLVAE_CL_RET(err, clSetKernelArg(k, 11, sizeof cnt, &cnt));
    if ((s = set_skip(k, 12, skip, p, err))) return s;
    return clvae_launch_1d(ctx, k, n, err);
}

clvae_status_t clvae_ema_step_guarded(clvae_ctx_t *ctx, clvae_buf_t e, clvae_buf_t p, float decay,
                                      size_t n, clvae_buf_t skip, clvae_error_t *err)
{
    const clvae_buf_t views[2] = {e, p};
    static const char *const names[2] = {"e (average)", "p"};
    clvae_status_t s = check_views("weight average", n, views, names, 2, skip, err);
    if (s) return s;
    if (!(decay >= 0.0f && decay < 1.0f))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "weight average: decay %g: want 0 to below 1",
                          (double)decay);
    cl_kernel k;
    if ((s = clvae_kernel_get(ctx, "optim", "ema_step", &k, err))) return s;
    cl_uint eo = (cl_uint)e.off, po = (cl_uint)p.off, cnt = (cl_uint)n;
    CLVAE_CL_RET(err, clSetKernelArg(k, 0, sizeof e.mem, &e.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 1, sizeof eo, &eo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 2, sizeof p.mem, &p.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 3, sizeof po, &po));
    CLVAE_CL_RET(err, clSetKernelArg(k, 4, sizeof decay, &decay));
    CLVAE_CL_RET(err, clSetKernelArg(k, 5, sizeof cnt, &cnt));
    if ((s = set_skip(k, 6, skip, p, err))) return s;
    return clvae_launch_1d(ctx, k, n, err);
}
