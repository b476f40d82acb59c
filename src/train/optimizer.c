/* The optimizer object: Adam or SGD (the kernels are in src/ops/optim.c), its state and hyperparameters. */
#include "clvae/train/optimizer.h"

#include <stdlib.h>
#include <string.h>

#include "clvae/ops/basic.h"
#include "clvae/ops/optim.h"

struct clvae_optimizer {
    clvae_ctx_t *ctx;
    int sgd;                    /* 0 Adam, 1 SGD */
    clvae_adam_params_t adam;
    clvae_sgd_params_t sgdp;
    size_t n;
    clvae_buf_t state[CLVAE_OPTIMIZER_MAX_STATE]; /* Adam: m, v; SGD: the momentum buffer, v */
    float decay;                /* [train] ema; 0: no average */
    clvae_buf_t ema;            /* the weights' moving average (decay > 0) */
};

clvae_status_t clvae_optimizer_init(clvae_optimizer_t **out, clvae_ctx_t *ctx,
                                    const clvae_model_desc_t *d, size_t n, clvae_error_t *err)
{
    *out = NULL;
    clvae_optimizer_t *o = calloc(1, sizeof *o);
    if (!o) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    o->ctx = ctx;
    o->sgd = strcmp(d->optimizer, "sgd") == 0;
    o->adam = (clvae_adam_params_t){d->lr, d->beta1, d->beta2, d->eps, d->weight_decay};
    o->sgdp = (clvae_sgd_params_t){d->lr, d->momentum, 0.0f, d->weight_decay};
    o->n = n;
    o->decay = d->ema;
    size_t len = n ? n : 1;
    clvae_status_t s = CLVAE_OK;
    if (o->decay > 0.0f) s = clvae_buf_alloc(ctx, len, &o->ema, err);
    /* both buffers whatever the kind: checkpoints keep one layout for Adam and SGD */
    for (int k = 0; !s && k < CLVAE_OPTIMIZER_MAX_STATE; k++) {
        s = clvae_buf_alloc(ctx, len, &o->state[k], err);
        if (!s) s = clvae_fill_forward(ctx, o->state[k].mem, o->state[k].off, 0.0f, len, err);
    }
    if (s) {
        clvae_optimizer_free(o);
        return s;
    }
    *out = o;
    return CLVAE_OK;
}

void clvae_optimizer_free(clvae_optimizer_t *o)
{
    if (!o) return;
    for (int k = 0; k < CLVAE_OPTIMIZER_MAX_STATE; k++) clvae_buf_free(&o->state[k]);
    clvae_buf_free(&o->ema);
    free(o);
}

clvae_status_t clvae_optimizer_step(clvae_optimizer_t *o, clvae_buf_t params, clvae_buf_t grads,
                                    long step, clvae_buf_t skip, clvae_error_t *err)
{
    if (o->n == 0) return CLVAE_OK;
    clvae_status_t s =
        o->sgd ? clvae_sgd_step_guarded(o->ctx, params, grads, o->state[0], &o->sgdp, step, o->n,
                                        skip, err)
               : clvae_adam_step_guarded(o->ctx, params, grads, o->state[0], o->state[1],
                                         &o->adam, step, o->n, skip, err);
    /* the average's warm-up (TensorFlow's num_updates): decay min(decay, (1 + t) / (10 + t)) at
     * step t, so that a short run's average is not mostly its first weights (0.999^800 = 0.45) */
    double warm = (1.0 + (double)step) / (10.0 + (double)step);
    float decay = warm < (double)o->decay ? (float)warm : o->decay;
    if (!s && o->ema.mem) s = clvae_ema_step_guarded(o->ctx, o->ema, params, decay, o->n, skip, err);
    return s;
}

clvae_buf_t clvae_optimizer_ema(const clvae_optimizer_t *o)
{
    return o->ema;
}

clvae_status_t clvae_optimizer_ema_reset(clvae_optimizer_t *o, clvae_buf_t params,
                                         clvae_error_t *err)
{
    return o->ema.mem && o->n ? clvae_buf_copy(o->ctx, o->ema, params, o->n, err) : CLVAE_OK;
}

clvae_buf_t clvae_optimizer_state(const clvae_optimizer_t *o, int k)
{
    clvae_buf_t none = {0};
    return k >= 0 && k < CLVAE_OPTIMIZER_MAX_STATE ? o->state[k] : none;
}

size_t clvae_optimizer_device_bytes(const clvae_optimizer_t *o)
{
    return (CLVAE_OPTIMIZER_MAX_STATE + (o->ema.mem != NULL)) * (o->n ? o->n : 1) * sizeof(float);
}
