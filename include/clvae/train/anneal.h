/* KL annealing: the weight beta of the KL term in each epoch, from a model's [loss] schedule. */
#ifndef CLVAE_ANNEAL_H
#define CLVAE_ANNEAL_H

#include "clvae/net/config.h"

/*
 * beta for the 0-based epoch e (epoch e + 1 in metrics.csv); beta holds for the whole epoch:
 *   constant   beta
 *   linear     beta_start + (beta_end - beta_start) * min(1, e / warmup_epochs):
 *              beta_start in the first epoch, beta_end from epoch warmup_epochs + 1 (1-based) on
 *   cyclical   t = (e mod cycle_epochs) / cycle_epochs (0 <= t < 1), then
 *              beta_start + (beta_end - beta_start) * min(1, t / ramp):
 *              each cycle rises from beta_start over its first ramp fraction, then stays at
 *              beta_end (Fu et al. 2019, per epoch)
 * Computed in double and rounded to float once, so it is the same everywhere.
 */
float clvae_beta_at(const clvae_model_desc_t *d, long epoch);

/* The schedule's name: "constant", "linear", "cyclical". */
const char *clvae_beta_schedule_name(clvae_beta_schedule_t s);

#endif
