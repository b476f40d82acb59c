/* Optimizers over one flat parameter array: Adam and SGD with momentum (PyTorch's maths). */
#ifndef CLVAE_OPTIM_H
#define CLVAE_OPTIM_H

#include "clvae/device/tensor.h"

/* Adam's hyperparameters. */
typedef struct clvae_adam_params {
    float lr;            /* learning rate (PyTorch default 1e-3) */
    float beta1, beta2;  /* moment decays (0.9, 0.999) */
    float eps;           /* denominator guard (1e-8) */
    float weight_decay;  /* L2 term added to the gradient, as torch.optim.Adam (0) */
} clvae_adam_params_t;

/* PyTorch's defaults: lr 1e-3, betas 0.9/0.999, eps 1e-8, no weight decay. */
clvae_adam_params_t clvae_adam_defaults(void);

/* One Adam step over n parameters: p, grad g, first and second moments m, v
 * (zero before step 1). step is the 1-based step number, for bias correction. */
clvae_status_t clvae_adam_step(clvae_ctx_t *ctx, clvae_buf_t p, clvae_buf_t g, clvae_buf_t m,
                               clvae_buf_t v, const clvae_adam_params_t *hp, long step, size_t n,
                               clvae_error_t *err);

/* clvae_adam_step that does nothing (p, m, v untouched) when the device float skip is not 0,
 * e.g. a count of non-finite values in the loss and gradients; a NULL skip.mem never skips.
 * The host need not read skip back: a bad step is dropped on the device. */
clvae_status_t clvae_adam_step_guarded(clvae_ctx_t *ctx, clvae_buf_t p, clvae_buf_t g,
                                       clvae_buf_t m, clvae_buf_t v, const clvae_adam_params_t *hp,
                                       long step, size_t n, clvae_buf_t skip, clvae_error_t *err);

/* SGD's hyperparameters. */
typedef struct clvae_sgd_params {
    float lr;            /* learning rate */
    float momentum;      /* 0: plain SGD (no buffer used) */
    float dampening;     /* PyTorch's dampening (0) */
    float weight_decay;  /* L2 term added to the gradient (0) */
} clvae_sgd_params_t;

/* One SGD step over n parameters; buf is the momentum buffer (unused, .mem may be
 * NULL, when momentum is 0). step is 1-based: step 1 sets buf = gradient. */
clvae_status_t clvae_sgd_step(clvae_ctx_t *ctx, clvae_buf_t p, clvae_buf_t g, clvae_buf_t buf,
                              const clvae_sgd_params_t *hp, long step, size_t n,
                              clvae_error_t *err);

/* clvae_sgd_step that does nothing (p, buf untouched) when the device float skip is not 0; a
 * NULL skip.mem never skips. */
clvae_status_t clvae_sgd_step_guarded(clvae_ctx_t *ctx, clvae_buf_t p, clvae_buf_t g,
                                      clvae_buf_t buf, const clvae_sgd_params_t *hp, long step,
                                      size_t n, clvae_buf_t skip, clvae_error_t *err);

/* The moving average of the weights after a step: e = e + (1 - decay) (p - e) over n floats
 * (decay in [0, 1)); nothing when the device float skip is not 0 (a NULL skip.mem never
 * skips), so a dropped step leaves the average too. */
clvae_status_t clvae_ema_step_guarded(clvae_ctx_t *ctx, clvae_buf_t e, clvae_buf_t p, float decay,
                                      size_t n, clvae_buf_t skip, clvae_error_t *err);

#endif
