/* KL annealing schedules: beta per epoch (constant, linear warm-up, cyclical). */
#include "clvae/train/anneal.h"

float clvae_beta_at(const clvae_model_desc_t *d, long epoch)
{
    if (epoch < 0) epoch = 0;
    double a = d->beta_start, b = d->beta_end, f = 1.0;
    switch (d->beta_schedule) {
    case CLVAE_BETA_CONSTANT:
        return d->beta;
    case CLVAE_BETA_LINEAR:
        f = d->warmup_epochs > 0 ? (double)epoch / (double)d->warmup_epochs : 1.0;
        break;
    case CLVAE_BETA_CYCLICAL: {
        long c = d->cycle_epochs > 0 ? d->cycle_epochs : 1;
        double t = (double)(epoch % c) / (double)c;
        f = d->beta_ramp > 0.0f ? t / (double)d->beta_ramp : 1.0;
        break;
    }
    }
    if (f > 1.0) f = 1.0;
    return (float)(a + (b - a) * f);
}

const char *clvae_beta_schedule_name(clvae_beta_schedule_t s)
{
    static const char *const names[] = {"constant", "linear", "cyclical"};
    return (unsigned)s < 3 ? names[s] : "?";
}
