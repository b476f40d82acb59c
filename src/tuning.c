/* Per-device tuned parameters (for now: the defaults every device gets). */
#include "clvae/tuning.h"

int clvae_tuning_int(clvae_ctx_t *ctx, const char *key, int dflt)
{
    (void)ctx;
    (void)key;
    return dflt;
}
