/* One optimizer per network: Adam or SGD with its state on the device, configured from [train]. */
#ifndef CLVAE_OPTIMIZER_H
#define CLVAE_OPTIMIZER_H

#include "clvae/device/tensor.h"
#include "clvae/net/config.h"

/* Opaque optimizer: its kind, hyperparameters and state buffers. */
typedef struct clvae_optimizer clvae_optimizer_t;

/* Most state buffers an optimizer keeps (Adam: the two moments). */
#define CLVAE_OPTIMIZER_MAX_STATE 2

/* An optimizer for n parameters with desc's [train] settings (optimizer = adam | sgd, lr,
 * beta1, beta2, eps, weight_decay, momentum); its state starts at zero. */
clvae_status_t clvae_optimizer_init(clvae_optimizer_t **out, clvae_ctx_t *ctx,
                                    const clvae_model_desc_t *desc, size_t n, clvae_error_t *err);

/* Frees it (NULL is fine). */
void clvae_optimizer_free(clvae_optimizer_t *opt);

/* One step over params with grads (n floats each); step is 1-based. The step is skipped on
 * the device, parameters and state untouched, when the float at skip is not 0. With [train]
 * ema the weights' moving average follows each step taken (clvae_ema_step_guarded) with the
 * decay min(ema, (1 + step) / (10 + step)) (a warm-up: the average of a short run is not
 * mostly its first weights). */
clvae_status_t clvae_optimizer_step(clvae_optimizer_t *opt, clvae_buf_t params, clvae_buf_t grads,
                                    long step, clvae_buf_t skip, clvae_error_t *err);

/* State buffer k (n floats: Adam's exp_avg and exp_avg_sq; SGD's momentum buffer is k = 0, as
 * in today's checkpoints); a NULL view past the last. */
clvae_buf_t clvae_optimizer_state(const clvae_optimizer_t *opt, int k);

/* The moving average of the weights ([train] ema > 0; a NULL view without), and its reset to
 * params (a new run's start, or weights loaded without an average). */
clvae_buf_t clvae_optimizer_ema(const clvae_optimizer_t *opt);
clvae_status_t clvae_optimizer_ema_reset(clvae_optimizer_t *opt, clvae_buf_t params,
                                         clvae_error_t *err);

/* Bytes of device memory its state holds. */
size_t clvae_optimizer_device_bytes(const clvae_optimizer_t *opt);

#endif
