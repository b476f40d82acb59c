/* Per-device tuned parameters: CLBlast's GEMM parameters and the tile / work-group sizes of
 * clvae's own kernels, read from a cache keyed by device and driver. */
#ifndef CLVAE_TUNING_H
#define CLVAE_TUNING_H

#include "clvae/device.h"

/* The tuned value of an integer parameter of clvae's own kernels for the context's device
 * (e.g. "conv_direct.wg"), or dflt when the device has no tuned value for it or tuning is
 * turned off. Never fails: a bad tuning cache means defaults. */
int clvae_tuning_int(clvae_ctx_t *ctx, const char *key, int dflt);

#endif
